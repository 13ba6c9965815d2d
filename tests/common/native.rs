//! Helpers of the tests that use the C ABI from outside: where the cdylib is, compiling C and
//! C++ programs against it, and the model files they read.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The build's output folder (`target/release`): the parent of the test binary's `deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// `libconcord.so` as built alongside the tests: cargo builds the lib's cdylib with the rlib
/// the tests link, into `deps/` (`cargo build` also copies it to `target/release/`, which is
/// the fallback, e.g. for the benchmark).
pub fn cdylib() -> PathBuf {
    let name = format!(
        "{}concord{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().unwrap();
    let candidates = [exe.parent().unwrap().join(&name), target_dir().join(&name)];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not found in {candidates:?}: build the library first"))
        .clone()
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles C (`cxx = false`) or C++17 sources into `out`, linked with libconcord (rpath to
/// its folder), warnings as errors. `$CC` / `$CXX` override gcc / g++.
pub fn compile(sources: &[&Path], out: &Path, cxx: bool) {
    let lib_dir = cdylib().parent().unwrap().to_path_buf();
    let (var, default, std) = if cxx {
        ("CXX", "g++", "-std=c++17")
    } else {
        ("CC", "gcc", "-std=c11")
    };
    let compiler = std::env::var(var).unwrap_or_else(|_| default.to_string());
    let mut cmd = Command::new(&compiler);
    cmd.arg(std)
        .args([
            "-O1",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-pthread",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("cpp"))
        .args(sources)
        .arg("-o")
        .arg(out)
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lconcord")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-lm");
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} failed on {sources:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a program; returns its stdout, failing the test (with both streams) on a non-zero exit.
/// `LD_LIBRARY_PATH` (which cargo points at `target/release` too, where an older
/// `libconcord.so` from `cargo build` may lie) is removed, so the program loads the library it
/// was linked with through its rpath.
pub fn run(program: &Path, args: &[&Path]) -> String {
    let output = Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "{} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        program.display(),
        output.status
    );
    stdout
}
