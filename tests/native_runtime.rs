//! The native runtime against libtorch on the same model: energies, forces, virials and
//! per-atom quantities agree to 1e-10 (relative) in float64 and to float32 round-off in
//! float32, for molecules, periodic triclinic boxes and an engine's local + ghost atoms, on
//! random models of several sizes (with and without the ZBL core) and on the shipped models.

#![cfg(feature = "torch")]

mod common;

use std::path::PathBuf;

use common::{random_molecule, random_potential_with};
use concord::model::evaluate::{Prediction, Request};
use concord::model::{EncoderConfig, Precision};
use concord::potential::{Backend, Potential};

const ALL: Request = Request::ALL;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Largest |a - b| over all values of two predictions, relative to the largest |a| of each
/// kind (energy, forces, atomic energies, virial, per-atom virial).
fn max_relative_difference(a: &Prediction, b: &Prediction) -> f64 {
    fn rel(x: &[f64], y: &[f64]) -> f64 {
        assert_eq!(x.len(), y.len());
        let scale = x.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
        x.iter()
            .zip(y)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs() / scale))
    }
    let flat3 = |v: &Option<Vec<[f64; 3]>>| {
        v.as_ref()
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    let flat33 = |v: &Option<Vec<[[f64; 3]; 3]>>| {
        v.as_ref()
            .unwrap()
            .iter()
            .flatten()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    let vir = |p: &Prediction| {
        p.virial
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
    };
    [
        rel(&[a.energy], &[b.energy]),
        rel(&flat3(&a.forces), &flat3(&b.forces)),
        rel(
            a.atom_energies.as_ref().unwrap(),
            b.atom_energies.as_ref().unwrap(),
        ),
        rel(&vir(a), &vir(b)),
        rel(&flat33(&a.atom_virial), &flat33(&b.atom_virial)),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

/// Evaluates `f` with both backends of `pot` and returns (native, torch).
fn both(pot: &mut Potential, f: impl Fn(&Potential) -> Prediction) -> (Prediction, Prediction) {
    pot.set_backend(Backend::Native).unwrap();
    let native = f(pot);
    pot.set_backend(Backend::Torch).unwrap();
    let torch = f(pot);
    pot.set_backend(Backend::Native).unwrap();
    (native, torch)
}

/// Molecule, triclinic periodic box and local + ghost input, each compared with `tol`.
fn check_agreement(pot: &mut Potential, tol: f64, what: &str) {
    let (z, x) = random_molecule(14, 5.0, 3);
    let (a, b) = both(pot, |p| p.compute(&z, &x, None, [false; 3], ALL).unwrap());
    let d = max_relative_difference(&a, &b);
    assert!(d < tol, "{what}, molecule: {d:e}");
    // Triclinic periodic box.
    let cell = [[7.0, 0.0, 0.0], [1.2, 6.5, 0.0], [-0.8, 0.9, 6.8]];
    let (a, b) = both(pot, |p| {
        p.compute(&z, &x, Some(&cell), [true; 3], ALL).unwrap()
    });
    let d = max_relative_difference(&a, &b);
    assert!(d < tol, "{what}, periodic: {d:e}");
    // An engine's local + ghost atoms: the last 6 atoms are ghosts (pruned layers).
    let (z2, x2) = random_molecule(30, 8.0, 4);
    let (a, b) = both(pot, |p| p.compute_local(&z2, &x2, 24, None, ALL).unwrap());
    let d = max_relative_difference(&a, &b);
    assert!(d < tol, "{what}, local + ghost: {d:e}");
}

#[test]
fn random_models_of_several_sizes_agree_with_libtorch() {
    // The last two with the ZBL core: the random molecules' atoms (0.9 Å apart at least) are
    // within its range 1.0 (the covalent-radii sum) of each other in many pairs.
    let sizes = [
        (8, 1, 3.0, 4, false, None),
        (16, 2, 4.0, 8, false, None),
        (64, 3, 5.0, 16, false, None),
        (33, 4, 3.5, 5, false, None),
        (16, 2, 4.0, 8, true, None),
        (33, 4, 3.5, 5, true, None),
        (16, 2, 4.0, 8, false, Some(1.0)),
        (33, 4, 3.5, 5, true, Some(1.0)),
    ];
    for (k, &(features, layers, cutoff, radial_basis, vector_norm, zbl)) in sizes.iter().enumerate()
    {
        let encoder = EncoderConfig {
            features,
            layers,
            cutoff,
            radial_basis,
            edge_features: 0,
            vector_norm,
            zbl,
        };
        let what = format!("{encoder:?}");
        let mut p64 = random_potential_with(Precision::Float64, 20 + k as i64, encoder);
        check_agreement(&mut p64, 1e-10, &format!("float64 {what}"));
        let mut p32 = random_potential_with(Precision::Float32, 20 + k as i64, encoder);
        check_agreement(&mut p32, 1e-4, &format!("float32 {what}"));
    }
}

#[test]
fn shipped_models_agree_with_libtorch() {
    for name in [
        "concord-qm9-gfn2.concord",
        "concord-qm9-gfn2-multitask.concord",
    ] {
        let path = root().join("examples/models").join(name);
        for (precision, tol) in [(Precision::Float64, 1e-10), (Precision::Float32, 1e-4)] {
            let mut pot =
                Potential::load(&path, concord::potential::Device::Cpu, precision).unwrap();
            assert_eq!(pot.backend(), Backend::Native, "CPU models run natively");
            check_agreement(&mut pot, tol, &format!("{name} {precision:?}"));
            // A real molecule of the test split, with its energy and forces.
            let frames =
                concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz"))
                    .unwrap();
            for frame in frames.iter().take(3) {
                let (a, b) = both(&mut pot, |p| p.compute_frame(frame, ALL).unwrap());
                let d = max_relative_difference(&a, &b);
                assert!(d < tol, "{name} {precision:?} test frame: {d:e}");
            }
        }
    }
}

#[test]
fn native_refuses_what_libtorch_refuses() {
    let path = root().join("examples/models/concord-qm9-gfn2.concord");
    let mut pot =
        Potential::load(&path, concord::potential::Device::Cpu, Precision::Float64).unwrap();
    let z = [6u8, 1, 1];
    let cases: Vec<(Vec<u8>, Vec<[f64; 3]>)> = vec![
        (z.to_vec(), vec![[0.0; 3], [1.0, 0.0, 0.0], [0.1, 0.0, 0.0]]),
        (
            z.to_vec(),
            vec![[0.0; 3], [f64::NAN, 0.0, 0.0], [0.0, 1.0, 0.0]],
        ),
        (
            vec![6, 1, 14],
            vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        ),
        (z.to_vec(), vec![[0.0; 3], [1.0, 0.0, 0.0]]),
    ];
    for (numbers, positions) in &cases {
        pot.set_backend(Backend::Native).unwrap();
        let a = pot
            .compute(numbers, positions, None, [false; 3], ALL)
            .unwrap_err();
        pot.set_backend(Backend::Torch).unwrap();
        let b = pot
            .compute(numbers, positions, None, [false; 3], ALL)
            .unwrap_err();
        assert_eq!(a.to_string(), b.to_string());
    }
}

#[test]
fn generated_structures_agree_with_libtorch_from_the_same_seed() {
    use concord::generate::{generate_many, SamplerOptions};
    let path = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let mols =
        concord::io::read_sdf(&root().join("data/qm9-gfn2/tiny/test_structures.sdf.gz")).unwrap();
    let batch: Vec<(&[u8], &[concord::Bond], u64)> = mols
        .iter()
        .enumerate()
        .map(|(m, mol)| (mol.numbers.as_slice(), mol.bonds.as_slice(), 7 + m as u64))
        .collect();
    for (precision, churn, tol) in [
        (Precision::Float64, 0.0, 1e-8),
        (Precision::Float64, 0.5, 1e-8),
        (Precision::Float32, 0.0, 1e-4),
    ] {
        let mut pot = Potential::load(&path, concord::potential::Device::Cpu, precision).unwrap();
        let opts = SamplerOptions {
            churn,
            ..Default::default()
        };
        let native = generate_many(&pot, &batch, 2, &opts).unwrap();
        pot.set_backend(Backend::Torch).unwrap();
        let torch = generate_many(&pot, &batch, 2, &opts).unwrap();
        let mut worst = 0.0f64;
        for (a, b) in native.iter().flatten().zip(torch.iter().flatten()) {
            for (p, q) in a.iter().zip(b) {
                for d in 0..3 {
                    worst = worst.max((p[d] - q[d]).abs());
                }
            }
        }
        assert!(worst < tol, "{precision:?} churn {churn}: {worst:e} Å");
    }
}

/// The all-pair denoiser, one call at a time: an untrained model's samples fly apart (hundreds of
/// Å), where 32 sampler levels amplify round-off, so generation itself is compared on the
/// shipped generator above and the denoiser calls are compared here.
#[test]
fn all_pair_denoisers_agree_with_libtorch() {
    use concord::generate::Denoise;
    use concord::model::graph::{topological_edges, GraphScheme, MoleculeBatch};
    let dir = tempfile::tempdir().unwrap();
    let mols =
        concord::io::read_sdf(&root().join("data/qm9-gfn2/tiny/test_structures.sdf.gz")).unwrap();
    let edges: Vec<_> = mols
        .iter()
        .map(|m| topological_edges(m.len(), &m.bonds, GraphScheme::AllPairs))
        .collect();
    let x: Vec<f64> = mols
        .iter()
        .flat_map(|m| m.positions.iter().flatten().copied())
        .enumerate()
        .map(|(i, v)| v + 0.3 * (i as f64).sin())
        .collect();
    let cases = [
        (Precision::Float64, 1e-12, false),
        (Precision::Float32, 1e-5, false),
        (Precision::Float64, 1e-12, true),
        (Precision::Float32, 1e-5, true),
    ];
    // The float64 outputs at sigma 3 Å without and with vector_norm (they must differ).
    let mut by_norm = Vec::new();
    for (precision, tol, norm) in cases {
        let path = dir
            .path()
            .join(format!("all-pairs-{precision:?}-{norm}.concord"));
        let model = common::random_generator_model_with(precision, 31, GraphScheme::AllPairs, norm);
        concord::model::file::save(&model, &path, serde_json::json!({})).unwrap();
        let mut pot = Potential::load(&path, concord::potential::Device::Cpu, precision).unwrap();
        let species: Vec<Vec<usize>> = mols
            .iter()
            .map(|m| pot.species(&m.numbers).unwrap())
            .collect();
        let batch = MoleculeBatch::new(species.iter().map(|s| s.as_slice()).zip(&edges));
        for sigma in [0.01, 0.3, 3.0, 10.0] {
            pot.set_backend(Backend::Native).unwrap();
            let a = pot.denoise(&batch, &x, sigma).unwrap();
            pot.set_backend(Backend::Torch).unwrap();
            let b = pot.denoise(&batch, &x, sigma).unwrap();
            let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let worst = a
                .iter()
                .zip(&b)
                .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
            assert!(
                worst < tol * scale,
                "{precision:?} vector_norm {norm} sigma {sigma}: {worst:e} Å of {scale} Å"
            );
            if precision == Precision::Float64 && sigma == 3.0 {
                by_norm.push(b);
            }
        }
    }
    let change = by_norm[0]
        .iter()
        .zip(&by_norm[1])
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    assert!(
        change > 1e-3,
        "vector_norm changed the output by {change:e} Å only"
    );
}
