//! Training configs: every file in tests/configs/good parses; every file in
//! tests/configs/bad fails with the message given on its first line (`# error: ...`).

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

#[test]
fn good_configs_parse() {
    let good = files("good");
    assert!(!good.is_empty());
    for path in good {
        let text = std::fs::read_to_string(&path).unwrap();
        Config::parse(&text, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
