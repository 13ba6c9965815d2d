//! The exchange with the external (PyTorch, GPU) trainer: `concord export-data` writes the
//! trainer's data (structures and labelled frames) with reference outputs of the init model, and
//! `concord import-parameters` turns trained parameters back into a checksummed model file.

#![cfg(feature = "torch")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use concord::model::graph::GraphScheme;
use concord::model::{file, Precision};
use safetensors::{Dtype, SafeTensors};

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A random all-pair generator model saved in `dir`, and a config whose structure data are the
/// tiny bundled SDF and whose `training.init` is that model.
fn model_and_config(dir: &Path) -> (PathBuf, PathBuf) {
    let model = common::seeded_generator_model(
        Precision::Float64,
        5,
        GraphScheme::AllPairs,
        true,
        Some(0.6),
    );
    let model_path = dir.join("init.concord");
    file::save(&model, &model_path, serde_json::json!({"test": true})).unwrap();
    let text = std::fs::read_to_string(root().join("configs/tiny-generator.toml"))
        .unwrap()
        .replace("\"../data/", &format!("\"{}/data/", root().display()))
        .replace(
            "checkpoint_minutes = 0.05",
            &format!(
                "checkpoint_minutes = 0.05\ninit = \"{}\"",
                model_path.display()
            ),
        );
    // Training frames listed twice per epoch: the export writes them once with their count.
    let text = text.replace(
        "tasks = [\"energy\", \"forces\"]",
        "tasks = [\"energy\", \"forces\"]\nrepeat = 2",
    );
    let text = format!(
        "{text}\n[[dataset]]\nname = \"compressed\"\npath = \"{}\"\nlevel = \"GFN2-xTB\"\n\
         tasks = [\"energy\", \"forces\"]\n",
        compressed_frame(dir).display()
    );
    let config = dir.join("config.toml");
    std::fs::write(&config, text).unwrap();
    (model_path, config)
}

/// The first tiny training frame shrunk to 35 % (its pairs inside the ZBL core; labels kept:
/// only the model's outputs on it are compared), as a one-frame file in `dir`.
fn compressed_frame(dir: &Path) -> PathBuf {
    let frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/train_forces.extxyz.gz"))
            .unwrap();
    let mut frame = frames[0].clone();
    frame
        .positions
        .iter_mut()
        .flatten()
        .for_each(|x| *x *= 0.35);
    frame.info.insert("mol".into(), "compressed".into());
    let path = dir.join("compressed.extxyz");
    concord::io::write_extxyz(&path, &[frame]).unwrap();
    path
}

fn read_gz(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn ints(st: &SafeTensors, name: &str) -> Vec<i64> {
    let t = st.tensor(name).unwrap();
    match t.dtype() {
        Dtype::U8 => t.data().iter().map(|&b| b as i64).collect(),
        Dtype::U16 => t
            .data()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as i64)
            .collect(),
        Dtype::I64 => t
            .data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        d => panic!("{name}: unexpected dtype {d:?}"),
    }
}

fn f64s(st: &SafeTensors, name: &str) -> Vec<f64> {
    let t = st.tensor(name).unwrap();
    assert_eq!(t.dtype(), Dtype::F64, "{name}");
    t.data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// A byte-plane tensor decoded with its `concord_planes` specification, and its logical shape.
fn planes(bytes: &[u8], st: &SafeTensors, name: &str) -> (Vec<f64>, Vec<usize>) {
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let specs: serde_json::Value =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["concord_planes"]).unwrap();
    let spec = &specs[name];
    let t = st.tensor(name).unwrap();
    assert_eq!(t.dtype(), Dtype::U8, "{name}");
    let n = t.shape()[1];
    let word = |i: usize| std::array::from_fn(|k| t.data()[k * n + i]);
    let values = (0..n)
        .map(|i| match spec["dtype"].as_str().unwrap() {
            "I32" => f64::from(i32::from_le_bytes(word(i))) * spec["scale"].as_f64().unwrap(),
            "F32" => f64::from(f32::from_le_bytes(word(i))),
            d => panic!("{name}: unexpected plane dtype {d}"),
        })
        .collect();
    let shape = serde_json::from_value(spec["shape"].clone()).unwrap();
    (values, shape)
}

#[test]
fn export_holds_every_pair_the_split_and_reference_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, config) = model_and_config(dir.path());
    // A folder that does not exist yet.
    let out = dir.path().join("new/export.safetensors.gz");
    let (ok, stderr) = run(&[
        "export-data",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--reference",
        "3",
    ]);
    assert!(ok, "{stderr}");
    let bytes = read_gz(&out);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mols = concord::io::read_sdf(&root().join("data/qm9-gfn2/tiny/train_structures.sdf.gz"))
        .unwrap()
        .into_iter()
        .filter(|m| m.charges.iter().all(|&q| q == 0))
        .count();
    let atom_ptr = ints(&st, "atom_ptr");
    let edge_ptr = ints(&st, "edge_ptr");
    let validation = ints(&st, "validation");
    assert_eq!(atom_ptr.len(), mols + 1);
    assert_eq!(validation.len(), mols);
    // The tiny config's validation fraction 0.2, by molecule, after the training molecules.
    let n_val = validation.iter().filter(|&&v| v == 1).count();
    assert_eq!(n_val, (mols as f64 * 0.2).round() as usize);
    assert!(validation[..mols - n_val].iter().all(|&v| v == 0));
    // All pairs: n (n - 1) directed edges per molecule, atom indices within the molecule.
    let (first, second, kind) = (
        ints(&st, "edge_first"),
        ints(&st, "edge_second"),
        ints(&st, "edge_kind"),
    );
    for m in 0..mols {
        let n = atom_ptr[m + 1] - atom_ptr[m];
        let (a, b) = (edge_ptr[m] as usize, edge_ptr[m + 1] as usize);
        assert_eq!((b - a) as i64, n * (n - 1), "molecule {m}");
        assert!((a..b).all(|e| first[e] < n && second[e] < n && first[e] != second[e]));
    }
    assert!(kind
        .iter()
        .all(|&k| k < GraphScheme::AllPairs.n_kinds() as i64));
    assert_eq!(ints(&st, "species").len() as i64, atom_ptr[mols]);
    // Positions in byte planes (fixed point, 1e-5 Å): centred molecules.
    let (pos, shape) = planes(&bytes, &st, "positions");
    assert_eq!(shape, vec![atom_ptr[mols] as usize, 3]);
    for m in 0..mols {
        let (a, b) = (atom_ptr[m] as usize, atom_ptr[m + 1] as usize);
        for k in 0..3 {
            let mean = (a..b).map(|i| pos[3 * i + k]).sum::<f64>() / (b - a) as f64;
            assert!(mean.abs() < 1e-4, "molecule {m} not centred: {mean}");
        }
    }
    // Reference outputs: three validation molecules, finite, and not the identity.
    let refs = ints(&st, "reference_mol");
    assert_eq!(refs.len(), 3);
    assert!(refs.iter().all(|&m| validation[m as usize] == 1));
    let n_ref: i64 = refs
        .iter()
        .map(|&m| atom_ptr[m as usize + 1] - atom_ptr[m as usize])
        .sum();
    let (x, d) = (f64s(&st, "reference_x"), f64s(&st, "reference_denoised"));
    assert_eq!(x.len() as i64, 3 * n_ref);
    assert_eq!(f64s(&st, "reference_sigma").len() as i64, n_ref);
    assert!(d.iter().all(|v| v.is_finite()));
    assert!(x.iter().zip(&d).any(|(a, b)| (a - b).abs() > 1e-3));
    // The labelled frames: every frame of the tiny force file, energies, forces, the fitted
    // normalisation, and the init model's energies and forces for three validation frames.
    let frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/train_forces.extxyz.gz"))
            .unwrap();
    let n_frames = frames.len() + 1; // and the compressed one
    let frame_ptr = ints(&st, "frame_atom_ptr");
    assert_eq!(frame_ptr.len(), n_frames + 1);
    let atoms: usize =
        frames.iter().map(|f| f.numbers.len()).sum::<usize>() + frames[0].numbers.len();
    assert_eq!(frame_ptr[n_frames] as usize, atoms);
    let energy = f64s(&st, "frame_energy");
    assert!(energy.iter().all(|e| e.is_finite() && *e < 0.0));
    // Forces rounded to 12 mantissa bits: their total within 2^-13 of the file's.
    let (forces, shape) = planes(&bytes, &st, "frame_forces");
    assert_eq!(shape, vec![atoms, 3]);
    let total = |v: &mut dyn Iterator<Item = f64>| v.map(f64::abs).sum::<f64>();
    let want = total(
        &mut frames
            .iter()
            .chain(&frames[..1])
            .flat_map(|f| f.forces.as_ref().unwrap().iter().flatten().copied()),
    );
    assert!((total(&mut forces.iter().copied()) - want).abs() <= want * 2f64.powi(-13));
    assert_eq!(f64s(&st, "fitted_e_ref").len(), 5);
    assert!(f64s(&st, "fitted_scale")[0] > 0.0);
    let frame_val = ints(&st, "frame_validation");
    let frame_refs = ints(&st, "frame_reference_mol");
    let n_train = frame_val.iter().filter(|&&v| v == 0).count() as i64;
    assert_eq!(frame_refs[..3], [n_train, n_train + 1, n_train + 2]);
    // Then their partners (validation frames), then the frame deepest inside the ZBL core:
    // the compressed one, with its constants.
    let (zbl_ref, val_refs) = frame_refs.split_last().unwrap();
    assert!(val_refs.iter().all(|&m| frame_val[m as usize] == 1));
    let (last, _) = frame_ptr[*zbl_ref as usize..].split_at(2);
    assert_eq!((last[1] - last[0]) as usize, frames[0].numbers.len());
    assert_eq!(f64s(&st, "zbl_range"), [0.6]);
    assert_eq!(f64s(&st, "zbl_atomic_numbers"), [1.0, 6.0, 7.0, 8.0, 9.0]);
    assert_eq!(f64s(&st, "zbl_radius")[..2], [0.31, 0.76]);
    partners_are_lowest_frames_of_the_same_split(&st);
    // Training frames twice per epoch (the compressed one once), validation frames once.
    let repeat = ints(&st, "frame_repeat");
    let (val_frames, train_frames): (Vec<usize>, Vec<usize>) =
        (0..n_frames).partition(|&k| frame_val[k] == 1);
    assert!(val_frames.iter().all(|&k| repeat[k] == 1));
    assert!(train_frames.iter().filter(|&&k| repeat[k] != 2).count() <= 1);
    // The reference frames' partners are reference frames too, and the exported relative
    // MSE is that of the reference energies over those pairs.
    let partner = ints(&st, "frame_partner");
    let ref_energy = f64s(&st, "frame_reference_energy");
    let (mut sum, mut pairs) = (0.0, 0.0);
    for (k, &m) in frame_refs.iter().enumerate() {
        let p = partner[m as usize];
        if p < 0 {
            continue;
        }
        let q = frame_refs
            .iter()
            .position(|&r| r == p)
            .expect("partner among the references");
        let n = (frame_ptr[m as usize + 1] - frame_ptr[m as usize]) as f64;
        let d = (ref_energy[k] - energy[m as usize]) - (ref_energy[q] - energy[p as usize]);
        sum += (d / n).powi(2);
        pairs += 1.0;
    }
    let relative = f64s(&st, "frame_reference_relative");
    assert!(pairs >= 1.0);
    assert_eq!(relative[1], pairs);
    assert_eq!(ints(&st, "frame_reference_pairs").len() as f64, 2.0 * pairs);
    assert!(
        (relative[0] - sum / pairs).abs() <= 1e-12 * relative[0],
        "{relative:?}"
    );
    assert!(f64s(&st, "frame_reference_energy")
        .iter()
        .all(|e| e.is_finite()));
    // The exported positions of the reference frames are their float64 positions to 5e-6 Å.
    let (frame_pos, _) = planes(&bytes, &st, "frame_positions");
    let exact = f64s(&st, "frame_reference_positions");
    let mut at = 0;
    for &m in &frame_refs {
        let (a, b) = (
            frame_ptr[m as usize] as usize,
            frame_ptr[m as usize + 1] as usize,
        );
        for (x, y) in frame_pos[3 * a..3 * b]
            .iter()
            .zip(&exact[at..at + 3 * (b - a)])
        {
            assert!((x - y).abs() <= 5.0001e-6, "{x} vs {y}");
        }
        at += 3 * (b - a);
    }
    assert_eq!(at, exact.len());
    let n = frames[0].numbers.len();
    let close: Vec<[f64; 3]> = exact[exact.len() - 3 * n..]
        .chunks(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    assert!(close
        .iter()
        .enumerate()
        .any(|(i, a)| close[i + 1..].iter().any(|b| common::dist(a, b) < 0.4)));
    assert!(
        st.tensor("frame_edge_ptr").is_err(),
        "frames carry no edges"
    );
}

/// Every frame's `frame_partner` is a frame of the same split with the same atoms, no
/// higher in energy, that is itself a lowest frame (no partner); some frames have one.
fn partners_are_lowest_frames_of_the_same_split(st: &SafeTensors) {
    let partner = ints(st, "frame_partner");
    let val = ints(st, "frame_validation");
    let energy = f64s(st, "frame_energy");
    let ptr = ints(st, "frame_atom_ptr");
    let species = ints(st, "frame_species");
    let atoms = |k: usize| &species[ptr[k] as usize..ptr[k + 1] as usize];
    assert_eq!(partner.len(), val.len());
    for (k, &p) in partner.iter().enumerate().filter(|(_, &p)| p >= 0) {
        let p = p as usize;
        assert!(
            p != k && val[p] == val[k] && atoms(p) == atoms(k),
            "frame {k}: {p}"
        );
        assert!(energy[p] <= energy[k] && partner[p] < 0, "frame {k}: {p}");
    }
    assert!(partner.iter().any(|&p| p >= 0) && partner.iter().any(|&p| p < 0));
}

#[test]
fn export_needs_an_init_model() {
    let dir = tempfile::tempdir().unwrap();
    let (_, config) = model_and_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("init = "))
        .unwrap()
        .to_string();
    std::fs::write(&config, text.replace(&line, "")).unwrap();
    let out = dir.path().join("export.safetensors");
    let (ok, stderr) = run(&[
        "export-data",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !ok && stderr.contains("export needs training.init"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Writes the variables of the model at `model` with `denoiser.out.weight` shifted by `shift`
/// (and without `drop`, if given) as an external trainer's parameters file.
fn parameters_file(model: &Path, out: &Path, shift: f64, drop: Option<&str>) {
    parameters_file_with(
        model,
        out,
        shift,
        drop,
        r#"{"trainer": "test", "steps": 7}"#,
    );
}

/// [`parameters_file`] with the trainer's record `record` (JSON).
fn parameters_file_with(model: &Path, out: &Path, shift: f64, drop: Option<&str>, record: &str) {
    let (m, _) = file::load(model, tch::Device::Cpu, Precision::Float64).unwrap();
    let tensors: Vec<(String, tch::Tensor)> =
        m.vs.variables()
            .into_iter()
            .filter(|(name, _)| Some(name.as_str()) != drop)
            .map(|(name, t)| {
                let t = if name == "denoiser.out.weight" {
                    t + shift
                } else {
                    t
                };
                (name, t)
            })
            .collect();
    let info = HashMap::from([("concord_training".to_string(), record.to_string())]);
    std::fs::write(out, file::to_bytes_tensors(tensors, info).unwrap()).unwrap();
}

fn parameter(model: &Path, name: &str) -> Vec<f64> {
    let (m, meta) = file::load(model, tch::Device::Cpu, Precision::Float64).unwrap();
    assert!(meta.checksum.is_some());
    let t = m.vs.variables()[name].flatten(0, -1);
    Vec::try_from(t).unwrap()
}

/// `concord import-parameters --model init --parameters params --out out`, which must succeed.
fn import(init: &Path, params: &Path, out: &Path) {
    let (ok, stderr) = run(&[
        "import-parameters",
        "--model",
        init.to_str().unwrap(),
        "--parameters",
        params.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
}

#[test]
fn imported_parameters_replace_the_models_with_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let (init, _) = model_and_config(dir.path());
    let params = dir.path().join("trained.safetensors");
    parameters_file(&init, &params, 0.25, None);
    let out = dir.path().join("trained.concord");
    import(&init, &params, &out);
    let before = parameter(&init, "denoiser.out.weight");
    let after = parameter(&out, "denoiser.out.weight");
    assert!(before
        .iter()
        .zip(&after)
        .all(|(a, b)| (b - a - 0.25).abs() < 1e-12));
    assert_eq!(
        parameter(&init, "encoder.embedding"),
        parameter(&out, "encoder.embedding")
    );
    let meta = file::read_metadata(&std::fs::read(&out).unwrap(), &out).unwrap();
    assert_eq!(meta.training["external"]["trainer"], "test");
    assert_eq!(meta.training["init"]["training"]["test"], true);
    // The record names no energy fit: the energy head is marked untrained.
    assert!(!meta.energy_trained);
    let fitted = r#"{"args": {"energy_weight": 1000, "force_weight": 10},
                     "data": {"summary": {"frames": 12}}}"#;
    parameters_file_with(&init, &params, 0.0, None, fitted);
    let again = dir.path().join("fitted.concord");
    import(&init, &params, &again);
    assert!(
        file::read_metadata(&std::fs::read(&again).unwrap(), &again)
            .unwrap()
            .energy_trained
    );
}

#[test]
fn incomplete_parameters_or_overwriting_an_input_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (init, _) = model_and_config(dir.path());
    let params = dir.path().join("partial.safetensors");
    parameters_file(&init, &params, 0.0, Some("encoder.embedding"));
    let out = dir.path().join("out.concord");
    let args = |out: &Path| {
        vec![
            "import-parameters".to_string(),
            "--model".into(),
            init.display().to_string(),
            "--parameters".into(),
            params.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let a = args(&out);
    let (ok, stderr) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !ok && stderr.contains("'encoder.embedding' is missing"),
        "{stderr}"
    );
    assert!(!out.exists());
    let a = args(&init);
    let (ok, stderr) = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok, "{stderr}");
    file::load(&init, tch::Device::Cpu, Precision::Float64).unwrap();
}
