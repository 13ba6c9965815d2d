//! Embeds an rpath to libtorch so that `concord`, the tests and the cdylib run without
//! LD_LIBRARY_PATH. `LIBTORCH` is set by `scripts/env.sh` (see the README).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
