//! Embeds an rpath to libtorch so that `concord`, the tests and the cdylib run without
//! LD_LIBRARY_PATH. `LIBTORCH` is set by `scripts/env.sh` (see the README).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    // Only builds with libtorch (the `torch` feature) link it.
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
