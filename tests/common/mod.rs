//! Shared helpers of the integration tests: a seeded random model and random molecules.
#![allow(dead_code)]

use concord::model::graph::GraphScheme;
use concord::model::{file, EncoderConfig, Model, ModelConfig, Precision};
use concord::potential::Potential;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An untrained, seeded model over H C N O with a small architecture, as a Potential.
pub fn random_potential(precision: Precision, seed: i64) -> Potential {
    let encoder = EncoderConfig {
        features: 16,
        layers: 2,
        cutoff: 4.0,
        radial_basis: 8,
        edge_features: 0,
        vector_norm: false,
        zbl: None,
    };
    random_potential_with(precision, seed, encoder)
}

/// An untrained, seeded model over H C N O with the given encoder, as a Potential.
pub fn random_potential_with(precision: Precision, seed: i64, encoder: EncoderConfig) -> Potential {
    let config = ModelConfig {
        elements: vec![1, 6, 7, 8],
        encoder,
        generator: None,
    };
    let mut model = Model::seeded(config, tch::Device::Cpu, precision, seed).unwrap();
    model
        .set_energy_normalisation(&[-13.6, -1030.0, -1480.0, -2040.0], 0.8)
        .unwrap();
    let meta = file::metadata(&model, serde_json::Value::Null);
    Potential::from_model(model, meta)
}

/// `n` random H/C/N/O atoms in a cube of side `box_len` Å, no two closer than 0.9 Å.
pub fn random_molecule(n: usize, box_len: f64, seed: u64) -> (Vec<u8>, Vec<[f64; 3]>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let choices = [1u8, 1, 6, 6, 7, 8];
    let mut numbers = Vec::new();
    let mut positions: Vec<[f64; 3]> = Vec::new();
    while positions.len() < n {
        let p: [f64; 3] = std::array::from_fn(|_| rng.gen::<f64>() * box_len);
        if positions.iter().all(|q| dist(&p, q) > 0.9) {
            positions.push(p);
            numbers.push(choices[rng.gen_range(0..choices.len())]);
        }
    }
    (numbers, positions)
}

/// Euclidean distance, Å.
pub fn dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// A random proper rotation matrix (from a random unit quaternion).
pub fn random_rotation(seed: u64) -> [[f64; 3]; 3] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let q: [f64; 4] = std::array::from_fn(|_| rng.gen::<f64>() - 0.5);
    let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - z * w),
            2.0 * (x * z + y * w),
        ],
        [
            2.0 * (x * y + z * w),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - x * w),
        ],
        [
            2.0 * (x * z - y * w),
            2.0 * (y * z + x * w),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// `m v`.
pub fn rotate(m: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|a| (0..3).map(|b| m[a][b] * v[b]).sum())
}

/// An untrained, seeded model over H C N O F with a structure generator (radius edges).
pub fn random_generator_model(precision: Precision, seed: i64) -> Model {
    random_generator_model_with(precision, seed, GraphScheme::Radius, false)
}

/// An untrained, seeded model over H C N O F with a structure generator on `edges`, its
/// update blocks reading normalised vector features with `vector_norm`.
pub fn random_generator_model_with(
    precision: Precision,
    seed: i64,
    edges: GraphScheme,
    vector_norm: bool,
) -> Model {
    seeded_generator_model(precision, seed, edges, vector_norm, None)
}

/// [`random_generator_model_with`] whose energy has the ZBL core acting below `zbl` times each
/// pair's covalent-radii sum.
pub fn seeded_generator_model(
    precision: Precision,
    seed: i64,
    edges: GraphScheme,
    vector_norm: bool,
    zbl: Option<f64>,
) -> Model {
    let config = ModelConfig {
        elements: vec![1, 6, 7, 8, 9],
        encoder: EncoderConfig {
            features: 16,
            layers: 2,
            cutoff: 4.0,
            radial_basis: 8,
            edge_features: 0,
            vector_norm,
            zbl,
        },
        generator: Some(concord::model::GeneratorConfig {
            sigma_data: 1.5,
            sigma_min: 0.005,
            sigma_max: 10.0,
            distance_features: 8,
            distance_max: 6.0,
            edges,
            sampler_steps: None,
            sampler_churn: None,
            sampler_churn_max_sigma: None,
        }),
    };
    let model = Model::seeded(config, tch::Device::Cpu, precision, seed).unwrap();
    // A fresh denoiser's read-out is zero (it returns the EDM skip term alone); random weights
    // make the tests exercise the whole network. They come from a generator seeded here, not
    // from libtorch's global one, which tests on other threads seed and draw from meanwhile.
    let mut rng = ChaCha8Rng::seed_from_u64(seed as u64);
    let mut randomised = 0;
    tch::no_grad(|| {
        for (name, mut t) in model.vs.variables() {
            if name == "denoiser.out.weight" {
                let values: Vec<f64> = (0..t.numel())
                    .map(|_| 0.3 * concord::model::noise::standard_normal(&mut rng))
                    .collect();
                let random = tch::Tensor::from_slice(&values)
                    .view_as(&t)
                    .to_kind(t.kind());
                t.copy_(&random);
                randomised += 1;
            }
        }
    });
    assert_eq!(
        randomised, 1,
        "the denoiser's read-out variable was not found"
    );
    model
}

/// The first molecule of the tiny bundled test set (graph and PM6 structure).
pub fn tiny_molecule() -> concord::Molecule {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/qm9-gfn2/tiny/test_structures.sdf.gz");
    concord::io::read_sdf(&path).unwrap().remove(0)
}

/// Positions of a Lennard-Jones cluster near a known global minimum (σ = 1): `7` gives a
/// pentagonal bipyramid, `13` a centred icosahedron, with nearest neighbours at 2^(1/6) σ,
/// each coordinate displaced by up to `jitter` (uniform, seeded).
pub fn lj_cluster(n: usize, jitter: f64, seed: u64) -> Vec<[f64; 3]> {
    let r0 = 2f64.powf(1.0 / 6.0);
    let mut x: Vec<[f64; 3]> = match n {
        7 => {
            // Ring of 5 with edge r0 (circumradius r0 / (2 sin 36°)), apexes at distance r0
            // from the ring atoms.
            let rr = r0 / (2.0 * (std::f64::consts::PI / 5.0).sin());
            let h = (r0 * r0 - rr * rr).sqrt();
            let mut x: Vec<[f64; 3]> = (0..5)
                .map(|k| {
                    let t = 2.0 * std::f64::consts::PI * k as f64 / 5.0;
                    [rr * t.cos(), rr * t.sin(), 0.0]
                })
                .collect();
            x.push([0.0, 0.0, h]);
            x.push([0.0, 0.0, -h]);
            x
        }
        13 => {
            // Icosahedron vertices (0, ±1, ±φ) and cyclic permutations, scaled so that the
            // centre-vertex distance is r0.
            let phi = (1.0 + 5f64.sqrt()) / 2.0;
            let s = r0 / (1.0 + phi * phi).sqrt();
            let mut x = vec![[0.0; 3]];
            for a in [-1.0, 1.0] {
                for b in [-phi, phi] {
                    x.push([0.0, a * s, b * s]);
                    x.push([a * s, b * s, 0.0]);
                    x.push([b * s, 0.0, a * s]);
                }
            }
            x
        }
        _ => panic!("no LJ{n} template"),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for p in &mut x {
        for v in p.iter_mut() {
            *v += jitter * (2.0 * rng.gen::<f64>() - 1.0);
        }
    }
    x
}

/// Lennard-Jones energy `sum_{i<j} 4 (r^-12 - r^-6)` (ε = σ = 1) and its gradient `[N][3]`.
pub fn lj_energy_gradient(x: &[[f64; 3]]) -> (f64, Vec<[f64; 3]>) {
    let mut e = 0.0;
    let mut g = vec![[0.0; 3]; x.len()];
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let d: [f64; 3] = std::array::from_fn(|a| x[j][a] - x[i][a]);
            let r2 = d.iter().map(|v| v * v).sum::<f64>();
            let inv6 = r2.powi(-3);
            e += 4.0 * (inv6 * inv6 - inv6);
            // dE/dr * (1/r) = (-48 r^-14 + 24 r^-8)
            let c = (-48.0 * inv6 * inv6 + 24.0 * inv6) / r2;
            for a in 0..3 {
                g[j][a] += c * d[a];
                g[i][a] -= c * d[a];
            }
        }
    }
    (e, g)
}
