//! Structure generation: EDM sampling (Karras et al. 2022, Algorithm 2) from Gaussian noise
//! to positions, given a molecular graph. Deterministic (Heun, `churn = 0`) or stochastic
//! (`churn > 0`); the noise comes from a seeded ChaCha generator, so a seed reproduces a
//! structure exactly on the same machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::graph::{topological_edges, validate_graph};
use crate::model::{GraphBatch, Model};
use crate::structure::Bond;

/// Sampler settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerOptions {
    /// Number of noise levels (denoiser calls: about twice this with Heun's correction).
    pub steps: usize,
    /// Exponent of the noise schedule (EDM's rho).
    pub rho: f64,
    /// Stochasticity (EDM's S_churn); 0 for the deterministic sampler.
    pub churn: f64,
    /// Seed of the initial noise and of the churn noise.
    pub seed: u64,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            steps: 32,
            rho: 7.0,
            churn: 0.0,
            seed: 0,
        }
    }
}

/// Standard-normal samples, centred per molecule of `ranges` (zero centroid), `[N*3]`.
fn centred_normal(rng: &mut ChaCha8Rng, ranges: &[(usize, usize)]) -> Vec<f64> {
    let n = ranges.last().map_or(0, |r| r.1);
    let mut v: Vec<f64> = (0..3 * n)
        .map(|_| {
            // Box-Muller.
            let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
            let u2: f64 = rng.gen();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect();
    for &(a, b) in ranges {
        for d in 0..3 {
            let mean = (a..b).map(|i| v[3 * i + d]).sum::<f64>() / (b - a) as f64;
            for i in a..b {
                v[3 * i + d] -= mean;
            }
        }
    }
    v
}

/// The noise levels of the sampler, from `sigma_max` down to `sigma_min`, then 0.
pub fn noise_schedule(sigma_min: f64, sigma_max: f64, steps: usize, rho: f64) -> Vec<f64> {
    let (a, b) = (sigma_max.powf(1.0 / rho), sigma_min.powf(1.0 / rho));
    let mut s: Vec<f64> = (0..steps)
        .map(|i| (a + i as f64 / (steps.max(2) - 1) as f64 * (b - a)).powf(rho))
        .collect();
    s.push(0.0);
    s
}

/// Generates `k` structures (positions in Å, `[k][N][3]`, centred at the origin) of the
/// molecule with atomic numbers `numbers` `[N]` and `bonds`, seeded by `opts.seed`.
pub fn generate(
    model: &Model,
    numbers: &[u8],
    bonds: &[Bond],
    k: usize,
    opts: &SamplerOptions,
) -> Result<Vec<Vec<[f64; 3]>>> {
    let mut out = generate_many(model, &[(numbers, bonds, opts.seed)], k, opts)?;
    Ok(out.remove(0))
}

/// [`generate`] for several molecules `(numbers, bonds, seed)` sampled together in one batch
/// (much faster than one by one); each molecule's noise comes from its own seed, so results do
/// not depend on how molecules are batched (up to floating-point summation order).
/// Returns `[molecule][k][N][3]`.
pub fn generate_many(
    model: &Model,
    molecules: &[(&[u8], &[Bond], u64)],
    k: usize,
    opts: &SamplerOptions,
) -> Result<Vec<Vec<Vec<[f64; 3]>>>> {
    let den = model
        .denoiser()
        .ok_or_else(|| Error::invalid("this model has no structure generator"))?;
    if k == 0 {
        return Err(Error::invalid("number of samples must be at least 1"));
    }
    if opts.steps < 2
        || opts.rho.is_nan()
        || opts.rho <= 0.0
        || opts.churn.is_nan()
        || opts.churn < 0.0
    {
        return Err(Error::invalid(format!("invalid sampler options {opts:?}")));
    }
    if molecules.is_empty() {
        return Ok(Vec::new());
    }
    let mut species = Vec::new();
    let mut edges = Vec::new();
    for (m, (numbers, bonds, _)) in molecules.iter().enumerate() {
        validate_graph(numbers, bonds).map_err(|e| Error::invalid(format!("molecule {m}: {e}")))?;
        species.push(model.species_index(numbers)?);
        edges.push(topological_edges(numbers.len(), bonds));
    }
    let mut copies: Vec<(&[i64], &_)> = Vec::new();
    for (sp, e) in species.iter().zip(&edges) {
        copies.extend((0..k).map(|_| (sp.as_slice(), e)));
    }
    let batch = GraphBatch::new(&copies, model.device())?;
    let n = batch.ranges.last().map_or(0, |r| r.1);
    let mut rngs: Vec<ChaCha8Rng> = molecules
        .iter()
        .map(|m| ChaCha8Rng::seed_from_u64(m.2))
        .collect();
    // Noise for all atoms: molecule by molecule, each from its own generator.
    let noise = |rngs: &mut [ChaCha8Rng]| -> Vec<f64> {
        let mut v = Vec::with_capacity(3 * n);
        for (m, rng) in rngs.iter_mut().enumerate() {
            let ranges: Vec<(usize, usize)> = batch.ranges[m * k..(m + 1) * k]
                .iter()
                .map(|&(a, b)| (a - batch.ranges[m * k].0, b - batch.ranges[m * k].0))
                .collect();
            v.extend(centred_normal(rng, &ranges));
        }
        v
    };
    let g = den.config();
    let sigmas = noise_schedule(g.sigma_min, g.sigma_max, opts.steps, opts.rho);
    let kind = model.precision().kind();
    let dev = model.device();
    let tensor = |v: Vec<f64>| -> Result<Tensor> {
        Ok(Tensor::from_slice(&v)
            .f_view([n as i64, 3])?
            .f_to_kind(kind)?
            .f_to_device(dev)?)
    };
    let sig = |s: f64| -> Result<Tensor> { Ok(Tensor::f_full([n as i64], s, (kind, dev))?) };
    let positions = tch::no_grad(|| -> Result<Tensor> {
        let mut x = tensor(noise(&mut rngs))? * sigmas[0];
        for i in 0..opts.steps {
            let (s_cur, s_next) = (sigmas[i], sigmas[i + 1]);
            let gamma = (opts.churn / opts.steps as f64).min(std::f64::consts::SQRT_2 - 1.0);
            let s_hat = s_cur * (1.0 + gamma);
            if gamma > 0.0 {
                let eps = tensor(noise(&mut rngs))?;
                x = x + eps * (s_hat * s_hat - s_cur * s_cur).sqrt();
            }
            let d = (&x - model.denoise(&batch, &x, &sig(s_hat)?)?) / s_hat;
            let mut x_next = &x + &d * (s_next - s_hat);
            if s_next > 0.0 {
                let d2 = (&x_next - model.denoise(&batch, &x_next, &sig(s_next)?)?) / s_next;
                x_next = &x + (d + d2) * (0.5 * (s_next - s_hat));
            }
            x = x_next;
        }
        Ok(x)
    })?;
    let flat: Vec<f64> = Vec::try_from(positions.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
    if flat.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("sampling produced non-finite positions"));
    }
    let mut out = Vec::new();
    for m in 0..molecules.len() {
        let samples = (0..k)
            .map(|s| {
                let (a, b) = batch.ranges[m * k + s];
                (a..b)
                    .map(|i| std::array::from_fn(|d| flat[3 * i + d]))
                    .collect()
            })
            .collect();
        out.push(samples);
    }
    Ok(out)
}
