//! `--device` on the CLI's evaluation commands: cpu is the default, an unknown or missing
//! device is a clear error before any work.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_concord");
const MODEL: &str = "examples/models/concord-qm9-gfn2.concord";
const DATA: &str = "data/qm9-gfn2/tiny/test_gfn2_min.extxyz.gz";

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn cpu_is_the_default_and_bad_devices_are_named() {
    let (ok, default) = run(&["eval", "--json", "--model", MODEL, "--data", DATA]);
    assert!(ok, "{default}");
    let (ok, cpu) = run(&[
        "eval", "--json", "--model", MODEL, "--data", DATA, "--device", "cpu",
    ]);
    assert!(ok && cpu == default, "{cpu}");
    let (ok, text) = run(&["eval", "--model", MODEL, "--data", DATA, "--device", "tpu"]);
    assert!(
        !ok && text.contains("device 'tpu' is not supported"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.extxyz");
    let out = out.to_str().unwrap();
    for cmd in [
        vec!["optimize", "--model", MODEL, "--in", DATA, "--out", out],
        vec![
            "deviation",
            "--model",
            MODEL,
            "--model",
            MODEL,
            "--data",
            DATA,
            "--out",
            out,
        ],
    ] {
        let (ok, text) = run(&[cmd.as_slice(), &["--device", "cuda:7"]].concat());
        assert!(!ok && text.contains("device 'cuda:7'"), "{text}");
    }
}
