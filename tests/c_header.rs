//! The committed header `include/concord.h` is exactly what cbindgen makes of `src/c_api/`
//! today, so it can never drift from the library. `make header` (this test with
//! CONCORD_BLESS_HEADER=1) rewrites it.

use std::path::Path;

/// Generates the header text from `src/c_api/` and `cbindgen.toml`.
fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let [major, minor, patch] = [
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ];
    config.after_includes = Some(format!(
        "\n/** Version of the Concord release this header belongs to (see concord_version()). */\n\
         #define CONCORD_VERSION \"{version}\"\n\
         #define CONCORD_VERSION_MAJOR {major}\n\
         #define CONCORD_VERSION_MINOR {minor}\n\
         #define CONCORD_VERSION_PATCH {patch}\n\
         \n\
         /* Functions whose status must be checked warn when it is ignored (GCC, Clang). */\n\
         #if defined(__GNUC__) || defined(__clang__)\n\
         #define CONCORD_MUST_USE __attribute__((warn_unused_result))\n\
         #else\n\
         #define CONCORD_MUST_USE\n\
         #endif\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/c_api/mod.rs"))
        .generate()
        .expect("cbindgen fails on src/c_api");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn committed_header_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/concord.h");
    let fresh = generate();
    if std::env::var_os("CONCORD_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/concord.h differs from what cbindgen generates from src/c_api/ (first at \
             line {}): run `make header` and commit the result.\ncommitted: {:?}\ngenerated: {:?}",
            line + 1,
            committed.lines().nth(line),
            fresh.lines().nth(line)
        );
    }
}
