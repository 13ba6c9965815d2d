//! The model file: round trip, and clear errors for corrupt, truncated, foreign and
//! unknown-version files.

#![cfg(feature = "torch")]

mod common;

use common::{random_molecule, random_potential};
use concord::model::evaluate::Request;
use concord::model::{file, Precision};
use concord::potential::Potential;
use concord::Error;

fn saved_model(dir: &std::path::Path) -> (std::path::PathBuf, Potential) {
    let pot = random_potential(Precision::Float64, 21);
    let path = dir.join("m.concord");
    file::save(pot.model(), &path, serde_json::json!({"note": "test"})).unwrap();
    (path, pot)
}

#[test]
fn round_trip_gives_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pot) = saved_model(dir.path());
    let loaded =
        Potential::load(&path, concord::potential::Device::Cpu, Precision::Float64).unwrap();
    let (z, x) = random_molecule(8, 4.0, 22);
    let a = pot.compute(&z, &x, None, [false; 3], Request::ALL).unwrap();
    let b = loaded
        .compute(&z, &x, None, [false; 3], Request::ALL)
        .unwrap();
    assert_eq!(a, b);
    let m = loaded.metadata();
    assert_eq!(m.format_version, file::FORMAT_VERSION);
    assert_eq!(m.elements, vec!["H", "C", "N", "O"]);
    assert_eq!(m.cutoff, 4.0);
    assert_eq!(m.receptive_field, 8.0);
    assert_eq!(m.training["note"], "test");
}

fn load_err(path: &std::path::Path) -> String {
    match Potential::load(path, concord::potential::Device::Cpu, Precision::Float32) {
        Err(e @ Error::ModelFile { .. }) => e.to_string(),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(_) => panic!("loading {} should fail", path.display()),
    }
}

#[test]
fn truncated_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [3, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let msg = load_err(&path);
        assert!(
            msg.contains("m.concord") && (msg.contains("corrupt") || msg.contains("truncated")),
            "{msg}"
        );
    }
}

#[test]
fn foreign_and_garbage_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.concord");
    std::fs::write(&path, b"this is not a model").unwrap();
    assert!(load_err(&path).contains("not a Concord model file"));
    let empty = safetensors::serialize(
        Vec::<(String, safetensors::tensor::TensorView)>::new(),
        None,
    )
    .unwrap();
    std::fs::write(&path, empty).unwrap();
    assert!(load_err(&path).contains("no Concord metadata"));
}

#[test]
fn unknown_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pot) = saved_model(dir.path());
    let mut meta = file::metadata(pot.model(), serde_json::Value::Null);
    meta.format_version = 99;
    std::fs::write(&path, file::to_bytes(&pot.model().vs, &meta).unwrap()).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("format version 99 is not supported"), "{msg}");
}

#[test]
fn missing_file_is_an_io_error() {
    let err = Potential::load(
        std::path::Path::new("/nonexistent/x.concord"),
        concord::potential::Device::Cpu,
        Precision::Float32,
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/x.concord"));
}

#[test]
fn bad_systems_are_errors_not_panics() {
    let pot = random_potential(Precision::Float32, 23);
    let all = Request::ALL;
    let e = |r: concord::Result<concord::model::evaluate::Prediction>| {
        r.expect_err("should fail").to_string()
    };
    assert!(e(pot.compute(&[], &[], None, [false; 3], all)).contains("empty system"));
    assert!(
        e(pot.compute(&[1, 1], &[[0.0; 3]], None, [false; 3], all)).contains("1 positions for 2")
    );
    assert!(e(pot.compute(&[1], &[[f64::NAN, 0.0, 0.0]], None, [false; 3], all)).contains("NaN"));
    assert!(
        e(pot.compute(&[1, 1], &[[0.0; 3], [0.0, 0.0, 0.1]], None, [false; 3], all))
            .contains("overlap")
    );
    let msg = e(pot.compute(
        &[1, 14],
        &[[0.0; 3], [1.5, 0.0, 0.0]],
        None,
        [false; 3],
        all,
    ));
    assert!(
        msg.contains("Si") && msg.contains("not among the model's elements"),
        "{msg}"
    );
    assert!(e(pot.compute(&[1], &[[0.0; 3]], None, [true; 3], all)).contains("without a cell"));
    assert!(
        e(pot.compute_local(&[1, 1], &[[0.0; 3], [1.0, 0.0, 0.0]], 3, None, all))
            .contains("n_local")
    );
}
