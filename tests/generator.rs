//! The structure generator: equivariance of the denoiser, reproducible sampling, gradient
//! routing of the consistency losses, and clear errors for bad graphs.

#![cfg(feature = "torch")]

mod common;

use common::{
    random_generator_model, random_generator_model_with, random_rotation, rotate, tiny_molecule,
};
use concord::generate::{generate, SamplerOptions};
use concord::model::graph::{topological_edges, GraphScheme};
use concord::model::{GraphBatch, Precision};
use concord::train::generator_losses::{optimality_loss, score_loss, Optimality};
use concord::train::samples::{centred, GraphSample};
use concord::Bond;
use rand::SeedableRng;
use tch::{Kind, Tensor};

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

#[test]
fn denoiser_is_equivariant() {
    for scheme in [GraphScheme::Radius, GraphScheme::AllPairs] {
        denoiser_is_equivariant_on(scheme, false);
    }
    denoiser_is_equivariant_on(GraphScheme::AllPairs, true);
}

fn denoiser_is_equivariant_on(scheme: GraphScheme, vector_norm: bool) {
    let model = random_generator_model_with(Precision::Float64, 1, scheme, vector_norm);
    let mol = tiny_molecule();
    let species = model.species_index(&mol.numbers).unwrap();
    let edges = topological_edges(mol.len(), &mol.bonds, scheme);
    let batch = GraphBatch::new(&[(species.as_slice(), &edges)], tch::Device::Cpu).unwrap();
    let n = mol.len() as i64;
    let noisy: Vec<[f64; 3]> = mol
        .positions
        .iter()
        .enumerate()
        .map(|(i, p)| [p[0] + 0.3 * (i as f64).sin(), p[1], p[2] - 0.2])
        .collect();
    let r = random_rotation(3);
    let shift = [4.0, -1.0, 2.5];
    let moved: Vec<[f64; 3]> = noisy
        .iter()
        .map(|p| {
            let q = rotate(&r, p);
            std::array::from_fn(|a| q[a] + shift[a])
        })
        .collect();
    let t = |v: &[[f64; 3]]| {
        Tensor::from_slice(&v.iter().flatten().copied().collect::<Vec<_>>()).view([n, 3])
    };
    let sigma = Tensor::full([n], 0.4, (Kind::Double, tch::Device::Cpu));
    let d = to_vec(&model.denoise(&batch, &t(&noisy), &sigma).unwrap());
    let dm = to_vec(&model.denoise(&batch, &t(&moved), &sigma).unwrap());
    for i in 0..n as usize {
        let expected = rotate(&r, &[d[3 * i], d[3 * i + 1], d[3 * i + 2]]);
        for a in 0..3 {
            assert!(
                (expected[a] - dm[3 * i + a]).abs() < 1e-9,
                "{scheme:?} atom {i}: {expected:?} vs {:?}",
                &dm[3 * i..3 * i + 3]
            );
        }
    }
    // Output is centred.
    for a in 0..3 {
        assert!((0..n as usize).map(|i| d[3 * i + a]).sum::<f64>().abs() < 1e-9);
    }
}

#[test]
fn sampling_is_reproducible_under_a_seed() {
    let model = random_generator_model(Precision::Float32, 2);
    let mol = tiny_molecule();
    let opts = SamplerOptions {
        steps: 8,
        seed: 42,
        ..Default::default()
    };
    let a = generate(&model, &mol.numbers, &mol.bonds, 2, &opts).unwrap();
    let b = generate(&model, &mol.numbers, &mol.bonds, 2, &opts).unwrap();
    assert_eq!(a, b);
    assert_ne!(a[0], a[1], "two samples of one call differ");
    let c = generate(
        &model,
        &mol.numbers,
        &mol.bonds,
        2,
        &SamplerOptions { seed: 43, ..opts },
    )
    .unwrap();
    assert_ne!(a, c);
    let stochastic = SamplerOptions {
        churn: 20.0,
        ..opts
    };
    let s1 = generate(&model, &mol.numbers, &mol.bonds, 1, &stochastic).unwrap();
    let s2 = generate(&model, &mol.numbers, &mol.bonds, 1, &stochastic).unwrap();
    assert_eq!(s1, s2);
    assert_ne!(s1[0], a[0]);
    assert_eq!(a[0].len(), mol.len());
}

fn graph_sample(model: &concord::model::Model) -> GraphSample {
    let mol = tiny_molecule();
    GraphSample {
        species: model.species_index(&mol.numbers).unwrap(),
        positions: centred(&mol.positions),
        edges: topological_edges(mol.len(), &mol.bonds, GraphScheme::Radius),
        forces: Some(
            mol.positions
                .iter()
                .map(|p| [0.1 * p[1], -0.2 * p[0], 0.05])
                .collect(),
        ),
        molecule: mol.name.clone(),
        repeat: 1,
    }
}

/// Gradient norm of each parameter whose name starts with `prefix`.
fn grad_norm(model: &concord::model::Model, prefix: &str) -> f64 {
    model
        .vs
        .variables()
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, v)| {
            let g = v.grad();
            if g.defined() {
                g.square().sum(Kind::Double).double_value(&[])
            } else {
                0.0
            }
        })
        .sum::<f64>()
        .sqrt()
}

#[test]
fn optimality_loss_does_not_train_the_energy_model() {
    for kind in [Optimality::Energy, Optimality::Force] {
        let model = random_generator_model(Precision::Float64, 3);
        let mut frozen = random_generator_model(Precision::Float64, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let s = graph_sample(&model);
        let unfrozen = optimality_loss(&model, &frozen, &[&s], &mut rng, [0.1, 0.3], kind);
        assert!(unfrozen
            .unwrap_err()
            .to_string()
            .contains("frozen potential"));
        frozen.freeze().unwrap();
        let loss = optimality_loss(&model, &frozen, &[&s], &mut rng, [0.1, 0.3], kind).unwrap();
        loss.backward();
        assert!(
            grad_norm(&model, "denoiser.") > 0.0,
            "{kind:?}: the generator must be trained"
        );
        assert!(
            grad_norm(&model, "encoder.") > 0.0,
            "{kind:?}: the shared encoder is trained through the denoiser"
        );
        assert_eq!(
            grad_norm(&model, "energy."),
            0.0,
            "{kind:?}: the energy head must get no gradient"
        );
        assert_eq!(
            grad_norm(&frozen, ""),
            0.0,
            "{kind:?}: the frozen potential must get no gradient"
        );
    }
}

#[test]
fn score_loss_trains_only_the_generator() {
    let model = random_generator_model(Precision::Float64, 5);
    let s = graph_sample(&model);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let loss = score_loss(&model, &[&s], &mut rng, [0.01, 0.05], 0.025).unwrap();
    assert!(loss.double_value(&[]).is_finite());
    loss.backward();
    assert!(grad_norm(&model, "denoiser.") > 0.0);
    assert_eq!(grad_norm(&model, "energy."), 0.0);
}

#[test]
fn bad_graphs_are_clear_errors() {
    let model = random_generator_model(Precision::Float32, 6);
    let opts = SamplerOptions {
        steps: 4,
        ..Default::default()
    };
    let err = |z: &[u8], b: &[Bond]| generate(&model, z, b, 1, &opts).unwrap_err().to_string();
    let b = |i, j, code| Bond {
        i,
        j,
        order: concord::BondOrder::from_code(code).unwrap(),
    };
    assert!(err(&[6, 1], &[]).contains("atom 0 (C) has no bonds"));
    assert!(err(&[6, 1, 1], &[b(0, 1, 1)]).contains("atom 2 (H) has no bonds"));
    assert!(err(&[6, 14], &[b(0, 1, 1)]).contains("Si"));
    assert!(err(&[6, 1], &[b(0, 1, 2)]).contains("valence 2 > 1"));
    assert!(err(&[6, 1], &[b(0, 3, 1)]).contains("beyond the 2 atoms"));
    assert!(err(&[], &[]).contains("empty"));
    let mol = tiny_molecule();
    assert!(generate(&model, &mol.numbers, &mol.bonds, 0, &opts)
        .unwrap_err()
        .to_string()
        .contains("at least 1"));
    let pot_only = common::random_potential(Precision::Float32, 7);
    assert!(
        generate(pot_only.model(), &mol.numbers, &mol.bonds, 1, &opts)
            .unwrap_err()
            .to_string()
            .contains("no structure generator")
    );
}

#[test]
fn batched_generation_matches_one_by_one() {
    let model = random_generator_model(Precision::Float64, 8);
    let sdf = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/qm9-gfn2/tiny/test_structures.sdf.gz");
    let mols = concord::io::read_sdf(&sdf).unwrap();
    let opts = SamplerOptions {
        steps: 6,
        ..Default::default()
    };
    let batch: Vec<(&[u8], &[Bond], u64)> = mols[..3]
        .iter()
        .enumerate()
        .map(|(i, m)| (m.numbers.as_slice(), m.bonds.as_slice(), 10 + i as u64))
        .collect();
    let together = concord::generate::generate_many(&model, &batch, 2, &opts).unwrap();
    for (i, m) in mols[..3].iter().enumerate() {
        let alone = generate(
            &model,
            &m.numbers,
            &m.bonds,
            2,
            &SamplerOptions {
                seed: 10 + i as u64,
                ..opts
            },
        )
        .unwrap();
        for (a, b) in alone.iter().flatten().zip(together[i].iter().flatten()) {
            for d in 0..3 {
                assert!((a[d] - b[d]).abs() < 1e-8, "molecule {i}: {a:?} vs {b:?}");
            }
        }
    }
}
