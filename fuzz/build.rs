//! An rpath to libtorch, as the main crate's build script gives its own binaries (a dependency's
//! link arguments do not reach these).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
