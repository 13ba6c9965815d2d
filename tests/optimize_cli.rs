//! `concord optimize` end to end with a model file saved from a random potential.

#![cfg(feature = "torch")]

mod common;

use std::path::Path;
use std::process::Command;

use common::{random_molecule, random_potential};
use concord::model::{file, Precision};
use concord::Frame;

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A saved random model and an input file of two small molecules (the second with an info key).
fn setup(dir: &Path) -> (String, String) {
    let pot = random_potential(Precision::Float32, 5);
    let model = dir.join("model.concord");
    file::save(pot.model(), &model, serde_json::Value::Null).unwrap();
    let frames: Vec<Frame> = (0..2)
        .map(|seed| {
            // Spread out (5 Å box) so the untrained model relaxes them without collapse.
            let (numbers, positions) = random_molecule(4, 5.0, 10 + seed);
            let mut f = Frame::new(numbers, positions);
            f.info.insert("name".into(), format!("mol{seed}"));
            f
        })
        .collect();
    let input = dir.join("in.extxyz");
    concord::io::write_extxyz(&input, &frames).unwrap();
    (
        model.to_str().unwrap().to_string(),
        input.to_str().unwrap().to_string(),
    )
}

#[test]
fn optimize_writes_relaxed_frames_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (model, input) = setup(dir.path());
    for method in ["lbfgs", "fire"] {
        let out = dir.path().join(format!("out-{method}.extxyz"));
        let (ok, stdout, stderr) = run(&[
            "optimize",
            "--model",
            &model,
            "--in",
            &input,
            "--out",
            out.to_str().unwrap(),
            "--fmax",
            "0.02",
            // FIRE needs ~400 steps on the second molecule: the untrained model makes a stiff
            // 1.09 Å C-C bond.
            "--max-steps",
            "2000",
            "--method",
            method,
            "--float64",
            "--json",
        ]);
        assert!(ok, "{stderr}");
        let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
        let frames = concord::io::read_extxyz(&out).unwrap();
        assert_eq!((rows.len(), frames.len()), (2, 2));
        let pot = concord::potential::Potential::load(
            Path::new(&model),
            concord::potential::Device::Cpu,
            Precision::Float64,
        )
        .unwrap();
        for (k, (row, frame)) in rows.iter().zip(&frames).enumerate() {
            eprintln!("cli {method} frame {k}: {row}");
            assert_eq!(row["method"], method);
            assert_eq!(row["converged"], true, "{row}");
            assert!(row["energy"].as_f64().unwrap() < row["initial_energy"].as_f64().unwrap());
            assert_eq!(frame.info["opt_converged"], "T");
            assert_eq!(frame.info["opt_method"], method);
            assert_eq!(frame.info["opt_steps"], row["steps"].to_string());
            assert_eq!(
                frame.info["opt_force_calls"],
                row["force_calls"].to_string()
            );
            assert_eq!(frame.info["name"], format!("mol{k}"));
            // The written energy and forces are the model's at the written positions (10
            // decimals in the file).
            let p = pot
                .compute_frame(
                    frame,
                    concord::model::evaluate::Request {
                        forces: true,
                        ..Default::default()
                    },
                )
                .unwrap();
            assert!((p.energy - frame.energy.unwrap()).abs() < 1e-6);
            let written = frame.forces.as_ref().unwrap();
            for (a, b) in p.forces.unwrap().iter().zip(written) {
                for c in 0..3 {
                    assert!((a[c] - b[c]).abs() < 1e-6);
                }
            }
            let fmax = written
                .iter()
                .map(|f| f.iter().map(|x| x * x).sum::<f64>().sqrt())
                .fold(0.0, f64::max);
            assert!(fmax < 0.02);
        }
    }

    // Table output, float32, and a step limit too small to converge: exit 0 with a warning.
    let out = dir.path().join("out.extxyz");
    let (ok, stdout, stderr) = run(&[
        "optimize",
        "--model",
        &model,
        "--in",
        &input,
        "--out",
        out.to_str().unwrap(),
        "--fmax",
        "1e-9",
        "--max-steps",
        "2",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("converged"), "{stdout}");
    assert_eq!(stdout.matches(" NO").count(), 2, "{stdout}");
    assert!(
        stderr.contains("2 of 2 frames did not converge"),
        "{stderr}"
    );
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert!(frames
        .iter()
        .all(|f| f.info["opt_converged"] == "F" && f.info["opt_steps"] == "2"));
}

#[test]
fn optimize_rejects_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (model, input) = setup(dir.path());
    let out = dir.path().join("out.extxyz");
    let out = out.to_str().unwrap();
    let base = ["optimize", "--model", &model, "--in", &input, "--out", out];
    let (ok, _, stderr) = run(&[&base[..], &["--method", "bfgs"]].concat());
    assert!(!ok);
    assert!(
        stderr.contains("unknown optimisation method 'bfgs'"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&[&base[..], &["--fmax", "0"]].concat());
    assert!(!ok);
    assert!(stderr.contains("fmax = 0 must be positive"), "{stderr}");
    assert!(!Path::new(out).exists(), "nothing written on error");
    let (ok, _, stderr) = run(&[
        "optimize",
        "--model",
        &model,
        "--in",
        "missing.xyz",
        "--out",
        out,
    ]);
    assert!(!ok);
    assert!(stderr.contains("missing.xyz"), "{stderr}");
}

#[test]
fn optimize_creates_output_folders_and_refuses_unsafe_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (model, input) = setup(dir.path());
    let nested = dir.path().join("new/folder/out.extxyz");
    let args = |out: &str| {
        let v: Vec<String> = ["optimize", "--model", &model, "--in", &input, "--out", out]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v
    };
    let call = |out: &Path| {
        let a = args(out.to_str().unwrap());
        run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (ok, _, stderr) = call(&nested);
    assert!(ok, "{stderr}");
    assert_eq!(concord::io::read_extxyz(&nested).unwrap().len(), 2);
    // The input itself, under another spelling: refused, input untouched.
    let before = std::fs::read(&input).unwrap();
    let same = dir.path().join(".").join("in.extxyz");
    let (ok, _, stderr) = call(&same);
    assert!(!ok && stderr.contains("overwrite the input"), "{stderr}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // A device is not replaced by a regular file.
    let (ok, _, stderr) = call(Path::new("/dev/null"));
    assert!(!ok && stderr.contains("not a regular file"), "{stderr}");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
}
