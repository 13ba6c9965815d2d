//! `concord refit-reference`: per-element offsets recovered exactly from labels built as a
//! model's energies plus known offsets; forces unchanged; the fit recorded in the provenance;
//! bad input named.

#![cfg(feature = "torch")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::random_potential;
use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::potential::{Device, Potential};

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `concord refit-reference` on one data file.
fn refit(model: &Path, data: &Path, out: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("refit-reference")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn known_offsets_are_recovered_and_forces_kept() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.concord");
    let pot = random_potential(Precision::Float64, 41);
    concord::model::file::save(pot.model(), &model, serde_json::json!({"note": "random"})).unwrap();
    let pot = Potential::load(&model, Device::Cpu, Precision::Float64).unwrap();
    // Offsets in eV per element of the model (H C N O F).
    let shift = [0.11, -0.23, 0.05, 0.31, 0.0];
    let elements = pot.config().elements.clone();
    let mut frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/train_forces.extxyz.gz"))
            .unwrap();
    for f in frames.iter_mut() {
        let e = pot.compute_frame(f, Request::default()).unwrap().energy;
        let d: f64 = f
            .numbers
            .iter()
            .map(|z| shift[elements.iter().position(|e| e == z).unwrap()])
            .sum();
        f.energy = Some(e + d);
    }
    let data = dir.path().join("labels.extxyz");
    concord::io::write_extxyz(&data, &frames).unwrap();
    let out = dir.path().join("new/refit.concord");
    let status = refit(&model, &data, &out);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let new = Potential::load(&out, Device::Cpu, Precision::Float64).unwrap();
    for f in &frames {
        let a = new
            .compute_frame(
                f,
                Request {
                    forces: true,
                    ..Request::default()
                },
            )
            .unwrap();
        let b = pot
            .compute_frame(
                f,
                Request {
                    forces: true,
                    ..Request::default()
                },
            )
            .unwrap();
        assert!(
            (a.energy - f.energy.unwrap()).abs() < 1e-8,
            "{} vs {:?}",
            a.energy,
            f.energy
        );
        assert_eq!(a.forces, b.forces);
    }
    let (_, meta) = concord::model::file::load(&out, tch::Device::Cpu, Precision::Float64).unwrap();
    assert_eq!(meta.training["note"], "random");
    let c = meta.training["reference_refit"]["offsets_ev"]["C"]
        .as_f64()
        .unwrap();
    assert!((c + 0.23).abs() < 1e-8, "C offset {c}");
}

#[test]
fn frames_without_energies_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.concord");
    let pot = random_potential(Precision::Float64, 42);
    concord::model::file::save(pot.model(), &model, serde_json::json!({})).unwrap();
    let mut frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/train_forces.extxyz.gz"))
            .unwrap();
    for f in frames.iter_mut() {
        f.energy = None;
    }
    let data = dir.path().join("unlabelled.extxyz");
    concord::io::write_extxyz(&data, &frames).unwrap();
    let out = dir.path().join("refit.concord");
    let status = refit(&model, &data, &out);
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        !status.status.success() && stderr.contains("too few to fit"),
        "{stderr}"
    );
    assert!(!out.exists());
}
