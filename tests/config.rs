//! Training configs: every shipped config (configs/**/*.toml) parses and names files that
//! exist; every file in tests/configs/bad fails with the message given on its first line
//! (`# error: ...`).

#![cfg(feature = "torch")]

use std::path::Path;

use concord::train::Config;

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(dir);
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The `.toml` files under `dir`, recursively, sorted.
fn tomls(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tomls(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_config_loads_and_names_existing_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = tomls(&root.join("configs"));
    assert!(shipped.len() >= 8, "{shipped:?}");
    for path in shipped {
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for d in &config.dataset {
            assert!(
                d.path.exists(),
                "{}: dataset {}",
                path.display(),
                d.path.display()
            );
        }
        // An init model is shipped, or made by the previous step of an experiment's chain
        // (under runs/, named in the config's header).
        if let Some(init) = &config.training.init {
            let made_earlier = init.starts_with(root.join("runs"));
            assert!(
                init.exists() || made_earlier,
                "{}: init {}",
                path.display(),
                init.display()
            );
        }
    }
}

#[test]
fn bad_configs_fail_with_their_message() {
    let bad = files("bad");
    assert!(bad.len() >= 10);
    for path in bad {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# error: ")
            .expect("first line: # error: ...");
        let err = Config::parse(&text, &path)
            .err()
            .unwrap_or_else(|| panic!("{} should fail", path.display()));
        let msg = err.to_string();
        assert!(
            msg.contains(expected),
            "{}:\n  expected: {expected}\n  got: {msg}",
            path.display()
        );
        assert!(
            msg.contains(path.file_name().unwrap().to_str().unwrap()),
            "error must name the file: {msg}"
        );
    }
}
