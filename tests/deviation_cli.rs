//! `concord deviation` end to end: the shipped potential and the candidate as a committee on
//! the tiny test frames, checked against the members' own forces.

#[cfg(feature = "torch")]
mod common;

use std::path::Path;
use std::process::Command;

use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::potential::{Device, Potential};

const BIN: &str = env!("CARGO_BIN_EXE_concord");
const A: &str = "examples/models/concord-qm9-gfn2.concord";
const B: &str = "examples/models/candidates/concord-qm9-gfn2-long.concord";
const DATA: &str = "data/qm9-gfn2/tiny/test_forces.extxyz.gz";

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn rows(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "#",
            "step",
            "max_devi_v",
            "min_devi_v",
            "avg_devi_v",
            "max_devi_f",
            "min_devi_f",
            "avg_devi_f"
        ]
    );
    lines
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn deviation_matches_the_members_forces() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/folder/model_devi.out");
    let (ok, text) = run(&[
        "deviation",
        "--model",
        A,
        "--model",
        B,
        "--data",
        DATA,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let table = rows(&out);
    let frames = concord::io::read_extxyz(Path::new(DATA)).unwrap();
    assert_eq!(table.len(), frames.len());
    let load = |p: &str| Potential::load(Path::new(p), Device::Cpu, Precision::Float32).unwrap();
    let (a, b) = (load(A), load(B));
    let want = Request {
        forces: true,
        ..Default::default()
    };
    for (k, (row, frame)) in table.iter().zip(&frames).enumerate() {
        assert_eq!(row[0], k as f64);
        let fa = a.compute_frame(frame, want).unwrap().forces.unwrap();
        let fb = b.compute_frame(frame, want).unwrap().forces.unwrap();
        // Two members: each deviates from the mean by half the difference.
        let devi: Vec<f64> = fa
            .iter()
            .zip(&fb)
            .map(|(x, y)| {
                (0..3)
                    .map(|c| (0.5 * (x[c] - y[c])).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let max = devi.iter().copied().fold(0.0, f64::max);
        let avg = devi.iter().sum::<f64>() / devi.len() as f64;
        assert!(
            (row[4] - max).abs() <= 1e-6 * max.max(1.0),
            "frame {k}: {} vs {max}",
            row[4]
        );
        assert!(
            (row[6] - avg).abs() <= 1e-6 * avg.max(1.0),
            "frame {k}: {} vs {avg}",
            row[6]
        );
        assert!(row[4] > 0.0 && row[4] >= row[6] && row[6] >= row[5]);
        assert!(row[1] >= row[3] && row[3] >= row[2] && row[2] >= 0.0);
    }
}

#[test]
fn identical_members_agree_and_one_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("devi.out");
    let (ok, text) = run(&[
        "deviation",
        "--model",
        A,
        "--model",
        A,
        "--data",
        DATA,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(rows(&out).iter().all(|r| r[1..].iter().all(|&v| v == 0.0)));
    let (ok, text) = run(&[
        "deviation",
        "--model",
        A,
        "--data",
        DATA,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(text.contains("at least 2 models"), "{text}");
    let (ok, text) = run(&[
        "deviation",
        "--model",
        A,
        "--model",
        A,
        "--data",
        DATA,
        "--out",
        DATA,
    ]);
    assert!(!ok && text.contains("test_forces"), "{text}");
}

/// Members with different element sets and cutoffs: an element one member lacks is an error
/// naming it; different cutoffs are fine (each member searches its own neighbours).
#[cfg(feature = "torch")]
#[test]
fn members_with_other_elements_or_cutoffs() {
    use concord::committee::Committee;
    let shipped = Potential::load(Path::new(A), Device::Cpu, Precision::Float64).unwrap();
    let small = common::random_potential(Precision::Float64, 3); // H C N O, cutoff 4 Å
    let committee = Committee::new(vec![shipped, small]).unwrap();
    let water = concord::Frame::new(
        vec![8, 1, 1],
        vec![[0.0, 0.0, 0.12], [0.0, 0.76, -0.47], [0.0, -0.76, -0.47]],
    );
    let (_, dev) = committee.compute_frame(&water, Request::default()).unwrap();
    assert!(dev.max_devi_f > 0.0 && dev.atom_forces.len() == 3);
    let hf = concord::Frame::new(vec![9, 1], vec![[0.0, 0.0, 0.0], [0.0, 0.0, 0.92]]);
    let err = committee
        .compute_frame(&hf, Request::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains('9') || err.contains('F'), "{err}");
}
