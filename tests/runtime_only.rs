//! What a build without libtorch (`--no-default-features`) must do, tested in both builds on
//! the shipped models with the native runtime: finite-difference forces and virial,
//! symmetry, periodic images against explicit ghost atoms, generation, the CLI's evaluation
//! commands, and (in that build) a cdylib that does not link libtorch.

#[path = "common/model_bytes.rs"]
mod model_bytes;

use std::path::{Path, PathBuf};
use std::process::Command;

use concord::generate::{generate, SamplerOptions};
use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::neighbors::neighbor_list;
use concord::potential::{Backend, Device, Potential};
use model_bytes::{with_metadata_key, with_tensor_value};

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipped(name: &str, precision: Precision) -> Potential {
    let path = root().join("examples/models").join(name);
    let pot = Potential::load(&path, Device::Cpu, precision).unwrap();
    assert_eq!(pot.backend(), Backend::Native);
    pot
}

fn test_molecule() -> concord::Frame {
    let frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz")).unwrap();
    frames.into_iter().nth(1).unwrap()
}

#[test]
#[allow(clippy::needless_range_loop)]
fn native_forces_and_virial_match_finite_differences() {
    let pot = shipped("concord-qm9-gfn2.concord", Precision::Float64);
    let mut f = test_molecule();
    // A periodic cell tight enough that images interact.
    f.cell = Some([[8.0, 0.0, 0.0], [0.5, 7.5, 0.0], [0.3, -0.4, 8.2]]);
    f.pbc = [true; 3];
    let p = pot.compute_frame(&f, Request::ALL).unwrap();
    let forces = p.forces.unwrap();
    let h = 1e-5;
    for i in [0, 3, f.len() - 1] {
        for a in 0..3 {
            let mut fp = f.clone();
            fp.positions[i][a] += h;
            let mut fm = f.clone();
            fm.positions[i][a] -= h;
            let ep = pot.compute_frame(&fp, Request::default()).unwrap().energy;
            let em = pot.compute_frame(&fm, Request::default()).unwrap().energy;
            let fd = -(ep - em) / (2.0 * h);
            assert!(
                (fd - forces[i][a]).abs() < 1e-6,
                "atom {i} {a}: {fd} {}",
                forces[i][a]
            );
        }
    }
    // Virial W = -dE/d(strain) (positions and cell strained together).
    let w = p.virial.unwrap();
    for (a, b) in [(0, 0), (1, 2), (2, 1)] {
        let strained = |eps: f64| {
            let mut s = f.clone();
            let m = |v: [f64; 3]| {
                let mut r = v;
                r[a] += eps * v[b];
                r
            };
            s.positions = s.positions.iter().map(|&v| m(v)).collect();
            s.cell = s.cell.map(|c| c.map(m));
            pot.compute_frame(&s, Request::default()).unwrap().energy
        };
        let fd = -(strained(h) - strained(-h)) / (2.0 * h);
        assert!(
            (fd - w[a][b]).abs() < 1e-5 * (1.0 + fd.abs()),
            "W[{a}][{b}]: {fd} {}",
            w[a][b]
        );
    }
}

#[test]
fn native_energy_is_invariant_and_forces_rotate() {
    let pot = shipped("concord-qm9-gfn2.concord", Precision::Float64);
    let f = test_molecule();
    let p = pot.compute_frame(&f, Request::ALL).unwrap();
    let (c, s) = (0.6f64.cos(), 0.6f64.sin());
    let rot = |v: [f64; 3]| {
        [
            c * v[0] - s * v[1] + 1.5,
            s * v[0] + c * v[1] - 0.7,
            v[2] + 2.0,
        ]
    };
    let mut g = f.clone();
    g.positions = f.positions.iter().map(|&v| rot(v)).collect();
    let q = pot.compute_frame(&g, Request::ALL).unwrap();
    assert!((p.energy - q.energy).abs() < 1e-9 * p.energy.abs());
    for (a, b) in p.forces.unwrap().iter().zip(q.forces.unwrap()) {
        let ra = [c * a[0] - s * a[1], s * a[0] + c * a[1], a[2]];
        for d in 0..3 {
            assert!((ra[d] - b[d]).abs() < 1e-9, "{ra:?} {b:?}");
        }
    }
}

/// Tiny molecules (as SMILES) the sanity test generates: every element and bond order the
/// shipped model knows, rings included.
const TINY: &[&str] = &[
    "O",
    "N",
    "C",
    "CO",
    "CN",
    "CC",
    "C=C",
    "C#C",
    "C=O",
    "CF",
    "CCO",
    "CC=O",
    "CC#N",
    "NC=O",
    "OC=O",
    "C1CC1",
    "C1CO1",
    "CC(C)C",
    "c1cc[nH]c1",
    "C#CC=O",
];

/// The shipped generator on tiny molecules, as a user runs it (`concord generate --relax`, the
/// native runtime):
/// every sample, generated from noise with its seed and relaxed on the model's own potential,
/// has bonds of plausible length for their orders and no clashing unbonded atoms.
#[test]
fn shipped_generator_makes_chemically_sane_tiny_molecules() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("examples/models/concord-qm9-gfn2-multitask.concord");
    let pot = Potential::load(&path, Device::Cpu, Precision::Float32).unwrap();
    let opts = concord::optimize::OptimizeOptions::default();
    let mut failures = Vec::new();
    let mut count = 0;
    for (m, smiles) in TINY.iter().enumerate() {
        let mol = concord::io::parse_smiles(smiles).unwrap().molecule;
        let sampler = SamplerOptions {
            seed: 100 + m as u64,
            ..Default::default()
        };
        let samples = generate(&pot, &mol.numbers, &mol.bonds, 3, &sampler).unwrap();
        for (k, x) in samples.iter().enumerate() {
            count += 1;
            let mut objective = concord::optimize::PotentialObjective {
                potential: &pot,
                numbers: &mol.numbers,
                cell: None,
                pbc: [false; 3],
            };
            let relaxed = concord::optimize::optimize(&mut objective, x, &opts)
                .map(|r| r.positions)
                .unwrap_or_else(|e| panic!("{smiles} sample {k}: relaxation failed: {e}"));
            let problems = concord::sanity::check(&mol.numbers, &mol.bonds, &relaxed).unwrap();
            if let Some(p) = problems.first() {
                failures.push(format!("{smiles} sample {k}: {p}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} structures are not sane:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn cli_evaluates_generates_and_optimises_with_the_shipped_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz");
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {err}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let json = run(&["eval", "--model", &s(&model), "--data", &s(&data), "--json"]);
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mae = m[s(&data)]["force_mae"].as_f64().unwrap();
    assert!(mae > 0.0 && mae < 0.5, "force MAE {mae} eV/Å");
    let gen = dir.path().join("gen.extxyz");
    let generator = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    run(&[
        "generate",
        "--model",
        &s(&generator),
        "--smiles",
        "CCO",
        "--out",
        &s(&gen),
    ]);
    let out = dir.path().join("opt.extxyz");
    run(&[
        "optimize",
        "--model",
        &s(&model),
        "--in",
        &s(&gen),
        "--out",
        &s(&out),
    ]);
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert_eq!(frames[0].info["opt_converged"], "T");
}

/// In the build without libtorch, neither the library nor the CLI links libtorch.
#[cfg(not(feature = "torch"))]
#[test]
fn the_runtime_only_build_does_not_link_libtorch() {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    // `cargo test` builds the cdylib in deps/; `cargo build` also copies it up.
    let lib = [
        deps.join("libconcord.so"),
        deps.parent().unwrap().join("libconcord.so"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("libconcord.so next to the test binary");
    for file in [lib, PathBuf::from(BIN)] {
        let bytes = std::fs::read(&file).unwrap();
        // NEEDED entries and the rpath name the libtorch libraries and their folder.
        let needle = b"libtorch_cpu";
        let linked = bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!linked, "{} mentions libtorch", file.display());
    }
}

#[test]
fn a_non_finite_result_is_an_error_naming_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(root().join("examples/models/concord-qm9-gfn2.concord")).unwrap();
    let bad = dir.path().join("overflowing.concord");
    // Changed on purpose and signed again, so that the checksum passes and the evaluation runs.
    let edited = with_tensor_value(&bytes, "energy.scale", 1e308);
    std::fs::write(&bad, concord::model::file::resign(&edited, &bad).unwrap()).unwrap();
    let f = test_molecule();
    for precision in [Precision::Float32, Precision::Float64] {
        let pot = Potential::load(&bad, Device::Cpu, precision).unwrap();
        let e = pot.compute_frame(&f, Request::ALL).unwrap_err().to_string();
        assert!(
            e.contains("overflowing.concord") && e.contains("non-finite"),
            "{e}"
        );
    }
    let data = root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz");
    let out = Command::new(BIN)
        .args([
            "eval",
            "--model",
            bad.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("non-finite energy"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    let mut child = Command::new(BIN)
        .args(["inspect", model.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

#[test]
fn generate_writes_the_molecules_that_worked_and_fails_naming_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let generator = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let out = dir.path().join("gen.extxyz");
    let run = |smiles: &[&str]| {
        let mut args = vec!["generate", "--model", generator.to_str().unwrap()];
        for s in smiles {
            args.extend(["--smiles", s]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        let o = Command::new(BIN).args(&args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Chlorine is not among the shipped generator's elements.
    let (ok, err) = run(&["CCO", "CCl", "C=O"]);
    assert!(
        !ok && err.contains("1 of 3 molecules failed") && err.contains("CCl"),
        "{err}"
    );
    let frames = concord::io::read_extxyz(&out).unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f.info["mol"].as_str()).collect();
    assert_eq!(names, ["CCO", "C=O"]);
    // Nothing succeeded: an error, and the previous output is left as it was.
    let (ok, err) = run(&["CCl"]);
    assert!(!ok && err.contains("no structure generated"), "{err}");
    assert_eq!(concord::io::read_extxyz(&out).unwrap().len(), 2);
}

#[test]
fn optimize_keeps_the_frames_that_worked_and_names_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    let good = test_molecule();
    let mut overlapping = good.clone();
    overlapping.positions[1] = overlapping.positions[0];
    overlapping.positions[1][0] += 0.1;
    let input = dir.path().join("in.extxyz");
    concord::io::write_extxyz(&input, &[good.clone(), overlapping, good]).unwrap();
    let out = dir.path().join("out.extxyz");
    let o = Command::new(BIN)
        .args(["optimize", "--model", model.to_str().unwrap()])
        .args([
            "--in",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("1 of 3 frames") && err.contains("frame 1") && err.contains("overlap"),
        "{err}"
    );
    let frames = concord::io::read_extxyz(&out).unwrap();
    let kept: Vec<&str> = frames
        .iter()
        .map(|f| f.info["input_frame"].as_str())
        .collect();
    assert_eq!(kept, ["0", "2"]);
}

/// Replaces the first occurrence of `from` by `to` (same length) in `bytes`.
fn patched(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let i = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = bytes.to_vec();
    out[i..i + to.len()].copy_from_slice(to);
    out
}

#[test]
fn edited_or_bit_flipped_model_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = root().join("examples/models/concord-qm9-gfn2.concord");
    let bytes = std::fs::read(&path).unwrap();
    let meta = concord::model::file::read_metadata(&bytes, &path).unwrap();
    assert_eq!(meta.format_version, 2);
    assert!(meta.checksum.as_deref().unwrap().starts_with("sha256:"));
    let load = |name: &str, b: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        Potential::load(&p, Device::Cpu, Precision::Float32)
            .err()
            .map(|e| e.to_string())
    };
    // F renamed to B consistently (symbol and atomic number, as the JSON sits escaped in the
    // safetensors header): only the checksum notices.
    let renamed = patched(&bytes, br#"\"F\"]"#, br#"\"B\"]"#);
    let renamed = patched(&renamed, b"[1,6,7,8,9]", b"[1,6,7,8,5]");
    let e = load("renamed.concord", renamed).unwrap();
    assert!(e.contains("checksum mismatch"), "{e}");
    // One bit of one weight flipped (still finite).
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut flipped = bytes.clone();
    flipped[8 + n + 1000] ^= 0x01;
    let e = load("flipped.concord", flipped).unwrap();
    assert!(
        e.contains("checksum mismatch") && e.contains("flipped.concord"),
        "{e}"
    );
    // The top-level cutoff edited away from the architecture's.
    let cut = patched(&bytes, br#"\"cutoff\":5.0,"#, br#"\"cutoff\":4.0,"#);
    let e = load("cutoff.concord", cut).unwrap();
    assert!(e.contains("'cutoff' 4 Å disagrees"), "{e}");
    // The shipped file itself loads.
    assert!(load("ok.concord", bytes).is_none());
}

#[test]
fn engine_pair_lists_must_be_full_and_unique() {
    let pot = shipped("concord-qm9-gfn2.concord", Precision::Float64);
    let z = [6u8, 1, 1, 8];
    let x = [[0.0; 3], [1.1, 0.0, 0.0], [-0.4, 1.0, 0.0], [0.0, 0.0, 1.4]];
    let mut full: (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for i in 0..4 {
        for j in 0..4 {
            if i != j {
                full.0.push(i);
                full.1.push(j);
            }
        }
    }
    let all = Request::ALL;
    let want = pot.compute_local(&z, &x, 4, None, all).unwrap();
    let got = pot
        .compute_local(&z, &x, 4, Some((&full.0, &full.1)), all)
        .unwrap();
    assert!((want.energy - got.energy).abs() < 1e-12);
    let half: (Vec<usize>, Vec<usize>) = full
        .0
        .iter()
        .zip(&full.1)
        .filter(|(i, j)| i < j)
        .map(|(&i, &j)| (i, j))
        .unzip();
    let e = pot
        .compute_local(&z, &x, 4, Some((&half.0, &half.1)), all)
        .unwrap_err();
    assert!(e.to_string().contains("has no reverse"), "{e}");
    let dup = ([&full.0[..], &[0]].concat(), [&full.1[..], &[1]].concat());
    let e = pot
        .compute_local(&z, &x, 4, Some((&dup.0, &dup.1)), all)
        .unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
}

#[test]
fn eval_refuses_data_without_labels() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    let mut f = test_molecule();
    f.energy = None;
    f.forces = None;
    let unlabelled = dir.path().join("unlabelled.extxyz");
    concord::io::write_extxyz(&unlabelled, &[f]).unwrap();
    let o = Command::new(BIN)
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--data",
            unlabelled.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("no frame with an energy or forces"),
        "{err}"
    );
}

#[test]
fn the_cli_refuses_the_sampler_and_optimiser_options_the_c_abi_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let generator = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let out = dir.path().join("gen.extxyz");
    let base = [
        "generate",
        "--model",
        generator.to_str().unwrap(),
        "--smiles",
        "CCO",
    ];
    for (extra, message) in [
        (
            &["--relax", "--fmax", "0"][..],
            "fmax = 0 must be positive and finite",
        ),
        (
            &["--relax", "--fmax", "nan"][..],
            "fmax = NaN must be positive and finite",
        ),
        (&["--churn", "inf"][..], "churn = inf must be finite"),
        (&["--steps", "1"][..], "steps = 1 is out of range"),
    ] {
        let o = Command::new(BIN)
            .args(base)
            .args(extra)
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(message),
            "{extra:?}: {err}"
        );
        assert!(!out.exists(), "nothing written");
    }
}

#[test]
fn generate_takes_charge_separated_sdf_molecules_and_refuses_charged_ones_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let generator = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let mut mols: Vec<concord::Molecule> = ["C[N+](=O)[O-]", "C[N+](C)(C)C", "OCC"]
        .iter()
        .map(|s| concord::io::parse_smiles(s).unwrap().molecule)
        .collect();
    mols[2].charges[0] = 1; // an O+ with two bonds; charges are written as `M  CHG` lines
    let sdf = dir.path().join("charged.sdf");
    concord::io::write_sdf(&sdf, &mols).unwrap();
    let out = dir.path().join("gen.extxyz");
    let o = Command::new(BIN)
        .args(["generate", "--model", generator.to_str().unwrap()])
        .args([
            "--graphs",
            sdf.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("molecule 1 ('C[N+](C)(C)C') failed") && err.contains("net charge +1"),
        "{err}"
    );
    assert!(
        err.contains("molecule 2 ('OCC') failed")
            && err.contains("atom 0 (O+1) has valence 2 where 3 is expected"),
        "{err}"
    );
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert_eq!(frames.len(), 1, "nitromethane is generated");
    assert_eq!(frames[0].numbers, mols[0].numbers);
}

/// A periodic box of `n_side`^3 water molecules on a cubic grid of `spacing` Å.
fn water_box(n_side: usize, spacing: f64) -> concord::Frame {
    let w = [
        [0.0, 0.0, 0.1173],
        [0.0, 0.7572, -0.4692],
        [0.0, -0.7572, -0.4692],
    ];
    let (mut numbers, mut positions) = (Vec::new(), Vec::new());
    for a in 0..n_side {
        for b in 0..n_side {
            for c in 0..n_side {
                for (k, p) in w.iter().enumerate() {
                    numbers.push(if k == 0 { 8 } else { 1 });
                    let o = [a, b, c].map(|i| i as f64 * spacing);
                    positions.push(std::array::from_fn(|d| p[d] + o[d]));
                }
            }
        }
    }
    let l = n_side as f64 * spacing;
    let mut f = concord::Frame::new(numbers, positions);
    f.cell = Some([[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]]);
    f.pbc = [true; 3];
    f
}

#[test]
fn evaluations_past_the_memory_limit_are_refused_before_allocating() {
    let mut pot = shipped("concord-qm9-gfn2.concord", Precision::Float32);
    let f = water_box(4, 2.0); // 192 atoms, about 90 neighbours each
    let need = concord::memory::estimate(Backend::Native, pot.config(), Precision::Float32, 192, 0);
    assert!(pot.compute_frame(&f, Request::ALL).is_ok());
    // Room for the atoms and 1,000 pairs: the neighbour search stops storing there.
    let per_pair =
        concord::memory::estimate(Backend::Native, pot.config(), Precision::Float32, 0, 1);
    pot.set_memory_limit(Some(need + 1000.0 * per_pair));
    let e = pot.compute_frame(&f, Request::ALL).unwrap_err();
    let all = neighbor_list(&f.positions, f.cell.as_ref(), f.pbc, pot.cutoff()).unwrap();
    let text = e.to_string();
    let want = format!(
        "192 atoms with {} neighbour pairs need about",
        all.first.len()
    );
    assert!(
        text.contains(&want) && text.contains("CONCORD_MEMORY_LIMIT_GB"),
        "{text}"
    );
    // Engine-given pairs are counted the same way.
    let x = &f.positions;
    let (first, second): (Vec<usize>, Vec<usize>) = (0..192)
        .flat_map(|i| (0..192).map(move |j| (i, j)))
        .filter(|&(i, j)| {
            i != j && {
                let d: f64 = (0..3).map(|a| (x[i][a] - x[j][a]).powi(2)).sum();
                d < 25.0
            }
        })
        .unzip();
    assert!(first.len() > 1000);
    let e = pot
        .compute_local(&f.numbers, x, 100, Some((&first, &second)), Request::ALL)
        .unwrap_err();
    assert!(matches!(e, concord::Error::MemoryLimit { .. }), "{e}");
    pot.set_memory_limit(None);
    assert!(pot.compute_frame(&f, Request::ALL).is_ok());
    // The CLI: the limit from the environment, and a bad value named.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("box.extxyz");
    let mut labelled = f.clone();
    labelled.energy = Some(0.0);
    labelled.forces = Some(vec![[0.0; 3]; 192]);
    concord::io::write_extxyz(&data, &[labelled]).unwrap();
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    for (limit, expect) in [
        ("0.001", "more than the memory limit of 0.001 GB"),
        (
            "lots",
            "CONCORD_MEMORY_LIMIT_GB = 'lots' is not a positive number",
        ),
    ] {
        let out = Command::new(BIN)
            .args(["eval", "--model", model.to_str().unwrap(), "--data"])
            .arg(&data)
            .env("CONCORD_MEMORY_LIMIT_GB", limit)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{limit}: {err}"
        );
    }
}

/// The generation pipeline: one outcome per molecule, ranks a permutation with the sane,
/// low-energy sample first; a bad molecule fails alone; the CLI writes what the library gives.
#[test]
fn the_generation_pipeline_ranks_and_the_cli_writes_it() {
    use concord::generate::{
        best, generate_structures, GraphRequest, PipelineModels, PipelineOptions,
    };
    let pot = shipped("concord-qm9-gfn2-multitask.concord", Precision::Float32);
    let smiles = ["CCO", "C=O", "CC(=O)N"];
    let mols: Vec<concord::Molecule> = smiles
        .iter()
        .map(|s| concord::io::parse_smiles(s).unwrap().molecule)
        .collect();
    let mut requests: Vec<GraphRequest> = mols
        .iter()
        .enumerate()
        .map(|(m, x)| GraphRequest::new(&x.numbers, &x.bonds, 5 + m as u64))
        .collect();
    let lone = [8u8]; // a lone O: a radical, refused by itself
    requests.insert(1, GraphRequest::new(&lone, &[], 9));
    let opts = PipelineOptions {
        samples: 3,
        sampler: SamplerOptions::default(),
        relax: Some(concord::generate::relax_defaults()),
        redraws: concord::generate::REDRAWS,
    };
    let mut seen = Vec::new();
    let models = PipelineModels::one(&pot);
    let out = generate_structures(models, &requests, &opts, &mut |d| seen.push(d)).unwrap();
    assert_eq!(seen.last(), Some(&4));
    assert!(out[1].as_ref().unwrap_err().to_string().contains("radical"));
    for outcome in [&out[0], &out[2], &out[3]] {
        let samples = outcome.as_ref().unwrap();
        let mut ranks: Vec<usize> = samples.iter().map(|s| s.rank).collect();
        ranks.sort();
        assert_eq!(ranks, vec![0, 1, 2]);
        let b = best(samples).unwrap();
        for s in samples {
            assert!(s.relaxed() && s.energy.is_some());
            assert!(b.sane() >= s.sane());
            if b.sane() == s.sane() {
                assert!(b.energy.unwrap() <= s.energy.unwrap());
            }
        }
    }
    // The CLI: every sample with its rank, the library's positions and energies.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.extxyz");
    let model = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let status = Command::new(BIN)
        .args([
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--smiles",
            "C=O",
        ])
        .args(["--samples", "3", "--seed", "6", "--relax", "--out"])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let frames = concord::io::read_extxyz(&file).unwrap();
    let samples = out[2].as_ref().unwrap();
    assert_eq!(frames.len(), 3);
    for (f, s) in frames.iter().zip(samples) {
        assert_eq!(f.info["rank"], s.rank.to_string());
        assert_eq!(f.info["sane"], if s.sane() { "T" } else { "F" });
        assert!((f.energy.unwrap() - s.energy.unwrap()).abs() < 1e-6);
        for (a, b) in f.positions.iter().zip(&s.positions) {
            assert!((0..3).all(|d| (a[d] - b[d]).abs() < 1e-6));
        }
    }
}

/// Aromatic bonds (order 4, as RDKit, OpenMM and SDF files give them) reach the generator as
/// Kekulé bonds, as in its training data: a molecule given aromatic gets the very samples of
/// its Kekulé graph (the SMILES reader's, from the same assignment), fused rings included.
#[test]
fn aromatic_graphs_are_generated_as_their_kekule_form() {
    use concord::generate::{generate_structures, GraphRequest, PipelineModels, PipelineOptions};
    use concord::structure::BondOrder;
    let generator = shipped("concord-generator.concord", Precision::Float32);
    let potential = shipped("concord-qm9-gfn2.concord", Precision::Float32);
    let models = PipelineModels {
        generator: &generator,
        potential: &potential,
    };
    let opts = PipelineOptions {
        samples: 2,
        sampler: SamplerOptions::default(),
        relax: None,
        redraws: 0,
    };
    for smiles in ["c1ccc2ccccc2c1", "Oc1ccccc1", "c1ccncc1"] {
        let kekule = concord::io::parse_smiles(smiles).unwrap().molecule;
        let mut aromatic = kekule.bonds.clone();
        for b in &mut aromatic {
            if kekule.numbers[b.i] > 1 && kekule.numbers[b.j] > 1 && kekule.numbers[b.i] != 8 {
                b.order = BondOrder::Aromatic;
            }
        }
        assert!(aromatic.iter().any(|b| b.order == BondOrder::Aromatic));
        let requests = [
            GraphRequest::new(&kekule.numbers, &kekule.bonds, 3),
            GraphRequest::new(&kekule.numbers, &aromatic, 3),
        ];
        let out = generate_structures(models, &requests, &opts, &mut |_| {}).unwrap();
        let (want, got) = (out[0].as_ref().unwrap(), out[1].as_ref().unwrap());
        for (a, b) in want.iter().zip(got) {
            assert_eq!(a.positions, b.positions, "{smiles}");
            assert_eq!(a.problems, b.problems, "{smiles}");
        }
    }
    // An aromatic ring that admits no Kekulé structure (C5H5, a radical) fails by itself.
    let numbers = [6, 6, 6, 6, 6, 1, 1, 1, 1, 1];
    let bond = |i, j, order| concord::structure::Bond { i, j, order };
    let bonds: Vec<_> = (0..5)
        .map(|i| bond(i, (i + 1) % 5, BondOrder::Aromatic))
        .chain((0..5).map(|i| bond(i, i + 5, BondOrder::Single)))
        .collect();
    let requests = [GraphRequest::new(&numbers, &bonds, 3)];
    let out = generate_structures(models, &requests, &opts, &mut |_| {}).unwrap();
    let e = out[0].as_ref().unwrap_err().to_string();
    assert!(e.contains("no Kekulé structure"), "{e}");
}

/// A generator model marked `energy_trained: false` (a structure-only training): no energies,
/// no relaxation on it; its raw samples are the unmarked model's, ranked without energies; a
/// dedicated potential relaxes and ranks them. Files with a trained head do not carry the key.
#[test]
fn an_untrained_energy_head_generates_but_gives_no_energies() {
    use concord::generate::{generate_structures, GraphRequest, PipelineModels, PipelineOptions};
    use concord::optimize::OptimizeOptions;
    let source = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let bytes = std::fs::read(&source).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("untrained.concord");
    let edited = with_metadata_key(&bytes, "energy_trained", false.into());
    std::fs::write(&path, concord::model::file::resign(&edited, &path).unwrap()).unwrap();
    let header = String::from_utf8_lossy(&bytes[..4096.min(bytes.len())]).to_string();
    assert!(!header.contains("energy_trained"));
    let trained = Potential::load(&source, Device::Cpu, Precision::Float32).unwrap();
    let untrained = Potential::load(&path, Device::Cpu, Precision::Float32).unwrap();
    assert!(trained.energy_trained() && !untrained.energy_trained());
    let potential = shipped("concord-qm9-gfn2.concord", Precision::Float32);
    let mol = concord::io::parse_smiles("CC(=O)N").unwrap().molecule;
    let request = [GraphRequest::new(&mol.numbers, &mol.bonds, 3)];
    let raw = PipelineOptions {
        samples: 3,
        sampler: SamplerOptions::default(),
        relax: None,
        redraws: 0,
    };
    let relax = PipelineOptions {
        relax: Some(OptimizeOptions::default()),
        ..raw.clone()
    };
    let run =
        |models, opts: &PipelineOptions| generate_structures(models, &request, opts, &mut |_| {});
    let err = run(PipelineModels::one(&untrained), &relax).unwrap_err();
    assert!(matches!(err, concord::Error::Unsupported(_)), "{err}");
    let plain = run(PipelineModels::one(&untrained), &raw)
        .unwrap()
        .remove(0)
        .unwrap();
    let reference = run(PipelineModels::one(&trained), &raw)
        .unwrap()
        .remove(0)
        .unwrap();
    for (a, b) in plain.iter().zip(&reference) {
        assert_eq!(a.positions, b.positions);
        assert!(a.energy.is_none() && a.forces.is_none() && b.energy.is_some());
    }
    let models = PipelineModels {
        generator: &untrained,
        potential: &potential,
    };
    let relaxed = run(models, &relax).unwrap().remove(0).unwrap();
    assert!(relaxed.iter().all(|s| s.relaxed() && s.energy.is_some()));
}

#[test]
fn a_generator_samples_with_the_settings_its_file_records() {
    let dir = tempfile::tempdir().unwrap();
    let original = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    // Start from a copy that records churn 0 (deterministic), whatever the shipped file records.
    let zero = dir.path().join("zero.concord");
    let edited = dir.path().join("six.concord");
    let set = |model: &Path, settings: &[&str], out: &Path| {
        Command::new(BIN)
            .args(["set-sampler", "--model", model.to_str().unwrap()])
            .args(settings)
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap()
    };
    assert!(set(&original, &["--churn", "0"], &zero).status.success());
    assert!(set(&zero, &["--steps", "6"], &edited).status.success());
    let load = |p: &Path| Potential::load(p, Device::Cpu, Precision::Float64).unwrap();
    let (before, after) = (load(&zero), load(&edited));
    assert_eq!(after.config().generator.unwrap().sampler_steps, Some(6));
    assert_eq!(before.config().generator.unwrap().sampler_steps, None);
    let mol = concord::io::parse_smiles("CCO").unwrap().molecule;
    let run = |pot: &Potential, steps: usize, churn: f64| {
        let opts = SamplerOptions {
            steps,
            churn,
            seed: 3,
            ..Default::default()
        };
        generate(pot, &mol.numbers, &mol.bonds, 2, &opts).unwrap()
    };
    let default = concord::generate::DEFAULT_CHURN;
    // Steps 0 is the recorded count, else DEFAULT_SAMPLER_STEPS; the parameters are untouched;
    // a file that records no churn samples deterministically by default.
    assert_eq!(run(&after, 0, default), run(&after, 6, 0.0));
    assert_eq!(run(&after, 6, 0.0), run(&before, 6, 0.0));
    let steps = concord::generate::DEFAULT_SAMPLER_STEPS;
    assert_eq!(run(&before, 0, default), run(&before, steps, 0.0));
    assert_ne!(run(&after, 0, 0.0), run(&before, 0, 0.0));
    // A recorded churn: the default churns at the recorded levels only (here the last few);
    // an explicit churn at every level, as before. Settings not given are kept.
    let churned = dir.path().join("churned.concord");
    let all_levels = dir.path().join("all-levels.concord");
    let low = ["--churn", "8", "--churn-max-sigma", "0.2"];
    assert!(set(&edited, &low, &churned).status.success());
    assert!(set(&churned, &["--churn-max-sigma", "1000"], &all_levels)
        .status
        .success());
    let (churned, all_levels) = (load(&churned), load(&all_levels));
    let g = churned.config().generator.unwrap();
    assert_eq!((g.sampler_steps, g.sampler_churn), (Some(6), Some(8.0)));
    assert_eq!(g.sampler_churn_max_sigma, Some(0.2));
    assert_eq!(run(&all_levels, 0, default), run(&after, 6, 8.0));
    assert_eq!(run(&churned, 0, 8.0), run(&after, 6, 8.0));
    let low_levels = run(&churned, 0, default);
    assert_eq!(low_levels, run(&churned, 0, default), "seeded");
    assert_ne!(low_levels, run(&after, 6, 8.0));
    assert_ne!(low_levels, run(&after, 6, 0.0));
    // The shipped generators record the settings they were measured at (docs/results.md).
    let recorded = |name: &str| {
        let path = root().join("examples/models").join(name);
        let meta = concord::model::file::read_metadata(&std::fs::read(&path).unwrap(), &path);
        let g = meta.unwrap().config.generator.unwrap();
        (g.sampler_steps, g.sampler_churn, g.sampler_churn_max_sigma)
    };
    let churn = (Some(8.0), Some(0.2));
    assert_eq!(
        recorded("concord-generator.concord"),
        (Some(24), churn.0, churn.1)
    );
    // The multi-task model samples deterministically: churn broke 2 of the 60 tiny-molecule
    // samples of `shipped_generator_makes_chemically_sane_tiny_molecules` (docs/results.md).
    assert_eq!(
        recorded("concord-qm9-gfn2-multitask.concord"),
        (None, None, None)
    );
    // Refused, nothing written: no generator, settings out of range or missing, a damaged file.
    let potential = root().join("examples/models/concord-qm9-gfn2.concord");
    let mut damaged = std::fs::read(&original).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let bad = dir.path().join("damaged.concord");
    std::fs::write(&bad, damaged).unwrap();
    let out = dir.path().join("out.concord");
    for (model, settings, message) in [
        (
            &potential,
            &["--steps", "16"][..],
            "has no structure generator",
        ),
        (
            &original,
            &["--steps", "1"][..],
            "--steps 1 is out of range",
        ),
        (
            &original,
            &["--churn", "-1"][..],
            "sampler_churn = -1 must be finite and >= 0",
        ),
        (
            &original,
            &["--churn-max-sigma", "0"][..],
            "sampler_churn_max_sigma = 0 must be positive",
        ),
        (&original, &[][..], "nothing to set"),
        (&bad, &["--steps", "16"][..], "checksum mismatch"),
    ] {
        let o = set(model, settings, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(message), "{err}");
        assert!(!out.exists());
    }
}

/// An engine's halo over one periodic domain: every ghost is an image of a local atom.
struct Images {
    /// Owner (local atom) of each ghost, `[N - n_local]`.
    owner: Vec<usize>,
    n_local: usize,
    /// Exchanges seen: (forward?, width).
    calls: Vec<(bool, usize)>,
}

impl concord::runtime::Halo for Images {
    fn forward(&mut self, width: usize, rows: &mut [f64]) -> concord::Result<()> {
        self.calls.push((true, width));
        for (g, &o) in self.owner.iter().enumerate() {
            let (head, tail) = rows.split_at_mut((self.n_local + g) * width);
            tail[..width].copy_from_slice(&head[o * width..(o + 1) * width]);
        }
        Ok(())
    }
    fn reverse(&mut self, width: usize, rows: &mut [f64]) -> concord::Result<()> {
        self.calls.push((false, width));
        for (g, &o) in self.owner.iter().enumerate() {
            let (head, tail) = rows.split_at_mut((self.n_local + g) * width);
            for (a, b) in head[o * width..(o + 1) * width]
                .iter_mut()
                .zip(&tail[..width])
            {
                *a += b;
            }
        }
        Ok(())
    }
}

#[test]
fn a_halo_exchange_between_layers_needs_ghosts_within_one_cutoff_only() {
    let f = water_box(3, 3.1); // 81 atoms in a 9.3 Å cube
    let n = f.len();
    let l = 9.3;
    for precision in [Precision::Float64, Precision::Float32] {
        let pot = shipped("concord-qm9-gfn2.concord", precision);
        let rc = pot.cutoff();
        let whole = pot.compute_frame(&f, Request::ALL).unwrap();
        // Ghosts: the images within one cutoff of the cell (not the receptive field).
        let (mut z, mut x, mut owner) = (f.numbers.clone(), f.positions.clone(), Vec::new());
        for s in (0..27).map(|k| [k % 3, (k / 3) % 3, k / 9].map(|c| c as f64 - 1.0)) {
            if s == [0.0; 3] {
                continue;
            }
            for i in 0..n {
                let p: [f64; 3] = std::array::from_fn(|a| f.positions[i][a] + s[a] * l);
                let near =
                    |q: &[f64; 3]| (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f64>() < rc * rc;
                if f.positions.iter().any(near) {
                    z.push(f.numbers[i]);
                    x.push(p);
                    owner.push(i);
                }
            }
        }
        let mut halo = Images {
            owner: owner.clone(),
            n_local: n,
            calls: Vec::new(),
        };
        let got = pot
            .compute_local_with_halo(&z, &x, n, None, Request::ALL, Some(&mut halo))
            .unwrap();
        let layers = pot.config().encoder.layers as usize;
        let width = 4 * pot.config().encoder.features as usize;
        let mut want_calls = vec![(true, width); layers - 1];
        want_calls.extend(vec![(false, width); layers - 1]);
        assert_eq!(halo.calls, want_calls);
        let tol = if precision == Precision::Float64 {
            1e-10
        } else {
            1e-4
        };
        let scale = whole.energy.abs();
        assert!(
            (got.energy - whole.energy).abs() < tol * scale,
            "{precision:?} energy {} vs {}",
            got.energy,
            whole.energy
        );
        // Forces on ghosts belong to their owners.
        let mut forces = got.forces.unwrap();
        for (g, &o) in owner.iter().enumerate() {
            let fg = forces[n + g];
            (0..3).for_each(|a| forces[o][a] += fg[a]);
        }
        let want = whole.forces.unwrap();
        let fmax = want.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..n {
            for a in 0..3 {
                assert!(
                    (forces[i][a] - want[i][a]).abs() < tol * fmax,
                    "{precision:?} atom {i}: {:?} vs {:?}",
                    forces[i],
                    want[i]
                );
            }
        }
        let (wv, gv) = (whole.virial.unwrap(), got.virial.unwrap());
        let vmax = wv.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in wv.iter().flatten().zip(gv.iter().flatten()) {
            assert!(
                (a - b).abs() < tol * vmax,
                "{precision:?} virial {wv:?} vs {gv:?}"
            );
        }
        // Without the exchange, the same ghosts are too few: the energy differs.
        let short = pot.compute_local(&z, &x, n, None, Request::ALL).unwrap();
        let off = (short.energy - whole.energy).abs();
        assert!(off > 0.1, "{precision:?}: {off} eV");
    }
}

/// A generated structure that breaks its bond graph is relaxed under a restraint toward the
/// graph first, then on the potential alone (`relax_molecule`, the generation pipeline's
/// relaxation): the result keeps the graph and is a minimum of the potential; a structure
/// that keeps its graph relaxes exactly as with `relax`.
#[test]
fn a_broken_bond_is_relaxed_back_into_the_graph() {
    use concord::optimize::{relax, relax_molecule};
    let pot = shipped("concord-qm9-gfn2.concord", Precision::Float64);
    let gen = shipped("concord-generator.concord", Precision::Float64);
    let m = concord::io::parse_smiles("CC(=O)NC").unwrap().molecule;
    let sampler = SamplerOptions {
        seed: 3,
        ..Default::default()
    };
    let x = generate(&gen, &m.numbers, &m.bonds, 1, &sampler)
        .unwrap()
        .remove(0);
    let sane = |x: &[[f64; 3]]| concord::sanity::check(&m.numbers, &m.bonds, x).unwrap();
    assert!(sane(&x).is_empty(), "{:?}", sane(&x));
    let opts = concord::generate::relax_defaults();
    let frame = concord::Frame::new(m.numbers.clone(), x.clone());
    let plain = relax(&pot, &frame, &opts).unwrap();
    assert_eq!(
        relax_molecule(&pot, &frame, &m.bonds, &opts).unwrap(),
        plain
    );
    // The amide C-N bond (atoms 1-3) broken: N's side moved 2.5 Å away along it.
    let mut side = vec![false; m.numbers.len()];
    side[3] = true;
    for _ in 0..m.numbers.len() {
        for b in &m.bonds {
            if (b.i, b.j) != (1, 3) && (side[b.i] || side[b.j]) {
                side[b.i] = true;
                side[b.j] = true;
            }
        }
    }
    assert!(!side[1] && side[4]);
    let d: Vec<f64> = (0..3).map(|a| x[3][a] - x[1][a]).collect();
    let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut broken = frame.clone();
    for (i, p) in broken.positions.iter_mut().enumerate() {
        if side[i] {
            (0..3).for_each(|a| p[a] += 2.5 * d[a] / norm);
        }
    }
    assert!(!sane(&broken.positions).is_empty());
    let plain = relax(&pot, &broken, &opts).unwrap();
    let r = relax_molecule(&pot, &broken, &m.bonds, &opts).unwrap();
    // Alone the potential leaves the two halves apart (the bond at 4.1 Å).
    assert!(!sane(&plain.positions).is_empty());
    assert!(r.converged && r.max_force < opts.fmax);
    assert!(sane(&r.positions).is_empty(), "{:?}", sane(&r.positions));
    // A minimum of the potential alone, its energy below the broken start's.
    let p = pot
        .compute(&m.numbers, &r.positions, None, [false; 3], Request::ALL)
        .unwrap();
    let f_max = p
        .forces
        .unwrap()
        .iter()
        .map(|f| f.iter().map(|v| v * v).sum::<f64>().sqrt())
        .fold(0.0, f64::max);
    assert!(f_max < opts.fmax, "{f_max}");
    assert!((p.energy - r.energy).abs() < 1e-9 && r.energy < r.initial_energy);
    let start = pot
        .compute_frame(&broken, Request::default())
        .unwrap()
        .energy;
    assert!(
        (r.initial_energy - start).abs() < 1e-9,
        "{} {start}",
        r.initial_energy
    );
}

/// The shipped potential with the ZBL core at `range` (`concord set-zbl`), in `dir`.
fn with_zbl(dir: &Path, range: &str) -> PathBuf {
    let out = dir.join(format!("zbl-{range}.concord"));
    let model = root().join("examples/models/concord-qm9-gfn2.concord");
    let run = Command::new(BIN)
        .args(["set-zbl", "--model"])
        .arg(&model)
        .args(["--range", range, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

#[test]
#[allow(clippy::needless_range_loop)]
fn the_zbl_core_repels_collapsing_atoms_and_leaves_bonds_alone() {
    let dir = tempfile::tempdir().unwrap();
    let load = |p: &Path| Potential::load(p, Device::Cpu, Precision::Float64).unwrap();
    // The shipped potential without any core, and with one at 0.6.
    let (plain, core) = (
        load(&with_zbl(dir.path(), "0")),
        load(&with_zbl(dir.path(), "0.6")),
    );
    let f = test_molecule();
    let at = |pot: &Potential, frame: &concord::Frame| {
        pot.compute_frame(frame, Request::default()).unwrap().energy
    };
    // At rest nothing changes (every bond is longer than 0.6 x the covalent-radii sum).
    assert_eq!(at(&plain, &f), at(&core, &f));
    // One bond to a hydrogen shortened step by step: with the core the energy only rises.
    let h = (0..f.len()).find(|&i| f.numbers[i] == 1).unwrap();
    let heavy = (0..f.len())
        .filter(|&i| f.numbers[i] != 1)
        .min_by(|&a, &b| {
            let d = |k: usize| {
                (0..3)
                    .map(|c| (f.positions[k][c] - f.positions[h][c]).powi(2))
                    .sum::<f64>()
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap();
    let u: Vec<f64> = (0..3)
        .map(|c| f.positions[h][c] - f.positions[heavy][c])
        .collect();
    let r0 = u.iter().map(|x| x * x).sum::<f64>().sqrt();
    let placed = |r: f64| {
        let mut g = f.clone();
        g.positions[h] = std::array::from_fn(|c| f.positions[heavy][c] + u[c] * r / r0);
        g
    };
    let energies: Vec<f64> = (0..12)
        .map(|k| at(&core, &placed(1.0 - 0.06 * k as f64)))
        .collect();
    for w in energies.windows(2) {
        assert!(
            w[1] > w[0],
            "the energy falls as the bond shortens: {energies:?}"
        );
    }
    assert!(energies[11] - energies[0] > 20.0, "{energies:?}");
    // Forces and virial of the compressed bond (0.5 Å) against finite differences.
    let mut g = placed(0.5);
    g.cell = Some([[9.0, 0.0, 0.0], [0.5, 8.5, 0.0], [0.3, -0.4, 9.2]]);
    g.pbc = [true; 3];
    let p = core.compute_frame(&g, Request::ALL).unwrap();
    let forces = p.forces.unwrap();
    let step = 1e-5;
    for i in [h, heavy] {
        for a in 0..3 {
            let shifted = |d: f64| {
                let mut s = g.clone();
                s.positions[i][a] += d;
                at(&core, &s)
            };
            let fd = -(shifted(step) - shifted(-step)) / (2.0 * step);
            assert!(
                (fd - forces[i][a]).abs() < 1e-5 * fd.abs().max(1.0),
                "atom {i} {a}: {fd} {}",
                forces[i][a]
            );
        }
    }
    let w = p.virial.unwrap();
    let strained = |eps: f64| {
        let mut s = g.clone();
        let m = |v: [f64; 3]| [v[0], v[1] + eps * v[2], v[2]];
        s.positions = s.positions.iter().map(|&v| m(v)).collect();
        s.cell = s.cell.map(|c| c.map(m));
        at(&core, &s)
    };
    let fd = -(strained(step) - strained(-step)) / (2.0 * step);
    assert!(
        (fd - w[1][2]).abs() < 1e-5 * fd.abs().max(1.0),
        "virial yz: {fd} {}",
        w[1][2]
    );
    // set-zbl refuses a range outside (0, 1] and removes the core with 0.
    let bad = Command::new(BIN)
        .args(["set-zbl", "--range", "1.5", "--model"])
        .arg(root().join("examples/models/concord-qm9-gfn2.concord"))
        .arg("--out")
        .arg(dir.path().join("bad.concord"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("must be in (0, 1]"),
        "{err}"
    );
    assert!(!dir.path().join("bad.concord").exists());
    let removed = {
        let run = Command::new(BIN)
            .args(["set-zbl", "--range", "0", "--model"])
            .arg(dir.path().join("zbl-0.6.concord"))
            .arg("--out")
            .arg(dir.path().join("none.concord"))
            .output()
            .unwrap();
        assert!(run.status.success());
        load(&dir.path().join("none.concord"))
    };
    assert_eq!(at(&removed, &placed(0.5)), at(&plain, &placed(0.5)));
}

#[test]
fn a_widened_potential_computes_what_the_narrow_one_did() {
    let dir = tempfile::tempdir().unwrap();
    let narrow = root().join("examples/models/concord-qm9-gfn2.concord");
    let wide = dir.path().join("new/wide.concord");
    let out = Command::new(BIN)
        .args(["widen", "--features", "80", "--seed", "3", "--model"])
        .arg(&narrow)
        .arg("--out")
        .arg(&wide)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = Potential::load(&narrow, Device::Cpu, Precision::Float64).unwrap();
    let b = Potential::load(&wide, Device::Cpu, Precision::Float64).unwrap();
    assert_eq!(b.config().encoder.features, 80);
    assert_eq!(b.metadata().training["widened"][0]["from"], 64);
    let mut f = test_molecule();
    f.cell = Some([[8.0, 0.0, 0.0], [0.5, 7.5, 0.0], [0.3, -0.4, 8.2]]);
    f.pbc = [true; 3];
    let (p, q) = (
        a.compute_frame(&f, Request::ALL).unwrap(),
        b.compute_frame(&f, Request::ALL).unwrap(),
    );
    assert!((p.energy - q.energy).abs() < 1e-10 * p.energy.abs());
    let close = |x: &[[f64; 3]], y: &[[f64; 3]]| {
        x.iter()
            .flatten()
            .zip(y.iter().flatten())
            .all(|(u, v)| (u - v).abs() < 1e-10)
    };
    assert!(close(&p.forces.unwrap(), &q.forces.unwrap()));
    assert!(close(&p.virial.unwrap(), &q.virial.unwrap()));
    // Not wider, and a generator: refused by name, nothing written.
    for (model, features, message) in [
        (narrow.clone(), "64", "must be more than the model's 64"),
        (
            root().join("examples/models/concord-generator.concord"),
            "96",
            "structure generator",
        ),
    ] {
        let refused = dir.path().join("refused.concord");
        let out = Command::new(BIN)
            .args(["widen", "--features", features, "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&refused)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(message),
            "{stderr}"
        );
        assert!(!refused.exists());
    }
}
