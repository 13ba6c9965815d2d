//! EDM sampling (Karras et al. 2022: noise schedule, churn) from Gaussian noise to positions,
//! given a molecular graph, integrating the probability-flow ODE with DPM-Solver++(2M) (Lu et
//! al. 2022): one denoiser call per noise level, second order from the previous level's call.
//! Deterministic (`churn = 0`) or stochastic (`churn > 0`; [`DEFAULT_CHURN`]: the generator's
//! recorded default); the noise comes from a
//! seeded ChaCha generator, so a seed reproduces a structure exactly on the same machine. The
//! sampler runs on plain float64 arrays and asks a [`Denoise`] implementation (libtorch
//! [`Model`], the native runtime, or a [`Potential`] choosing between them) for each denoising
//! step.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::model::graph::{check_topology, topological_edges, MoleculeBatch};
use crate::model::noise::standard_normal;
use crate::model::GeneratorConfig;
#[cfg(feature = "torch")]
use crate::model::{GraphBatch, Model};
use crate::potential::{Backend, Potential};
use crate::runtime::{Native, NativeModel, Real};
use crate::structure::Bond;

/// A structure generator's denoiser.
pub trait Denoise {
    /// The generator settings, or `None` for a potential-only model.
    fn generator(&self) -> Option<GeneratorConfig>;
    /// Species indices `[N]` of atomic numbers `[N]` (an unknown element is an error).
    fn species(&self, numbers: &[u8]) -> Result<Vec<usize>>;
    /// Denoised positions `D(x, sigma)` (flat `[N*3]`, Å) of the molecules of `batch` at noisy
    /// positions `x` (flat `[N*3]`, Å), all at noise level `sigma` (Å).
    fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>>;
}

#[cfg(feature = "torch")]
impl Denoise for Model {
    fn generator(&self) -> Option<GeneratorConfig> {
        self.denoiser().map(|d| *d.config())
    }

    fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        crate::model::species_index(&self.config().elements, numbers)
    }

    fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
        let n = batch.len() as i64;
        let (kind, dev) = (self.precision().kind(), self.device());
        let gb = GraphBatch::from_batch(batch, dev)?;
        tch::no_grad(|| {
            use tch::{Kind, Tensor};
            let xt = Tensor::from_slice(x)
                .f_view([n, 3])?
                .f_to_kind(kind)?
                .f_to_device(dev)?;
            let sig = Tensor::f_full([n], sigma, (kind, dev))?;
            let d = Model::denoise(self, &gb, &xt, &sig)?;
            Ok(Vec::try_from(d.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?)
        })
    }
}

impl<T: Real> Denoise for NativeModel<T> {
    fn generator(&self) -> Option<GeneratorConfig> {
        self.config().generator
    }

    fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        crate::model::species_index(&self.config().elements, numbers)
    }

    fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
        NativeModel::denoise(self, batch, x, sigma)
    }
}

impl Denoise for Native {
    fn generator(&self) -> Option<GeneratorConfig> {
        match self {
            Native::F32(m) => m.generator(),
            Native::F64(m) => m.generator(),
        }
    }

    fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        match self {
            Native::F32(m) => Denoise::species(m, numbers),
            Native::F64(m) => Denoise::species(m, numbers),
        }
    }

    fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
        match self {
            Native::F32(m) => m.denoise(batch, x, sigma),
            Native::F64(m) => m.denoise(batch, x, sigma),
        }
    }
}

impl Denoise for Potential {
    fn generator(&self) -> Option<GeneratorConfig> {
        self.config().generator
    }

    fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        self.species_index(numbers)
    }

    fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
        if let (Some(native), Backend::Native) = (self.native(), self.backend()) {
            return native.denoise(batch, x, sigma);
        }
        #[cfg(feature = "torch")]
        return Denoise::denoise(self.model(), batch, x, sigma);
        #[cfg(not(feature = "torch"))]
        Err(Error::invalid("no evaluator for this model"))
    }
}

/// Sampler settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerOptions {
    /// Number of noise levels (one denoiser call each); 0: the generator's default
    /// ([`default_steps`]).
    pub steps: usize,
    /// Exponent of the noise schedule (EDM's rho).
    pub rho: f64,
    /// Stochasticity (EDM's S_churn) at every noise level; 0 for the deterministic sampler;
    /// [`DEFAULT_CHURN`] for the generator's default ([`default_churn`]).
    pub churn: f64,
    /// Seed of the initial noise and of the churn noise.
    pub seed: u64,
}

pub use crate::model::config::MAX_SAMPLER_STEPS;

impl SamplerOptions {
    /// Checks the settings (the one validation of the CLI, the library and the C ABI):
    /// `steps` 0 (the generator's default) or in 2..=[`MAX_SAMPLER_STEPS`], `rho` positive and
    /// finite, `churn` finite and >= 0 or [`DEFAULT_CHURN`].
    /// The message names the setting as `name = value`.
    pub fn validate(&self) -> Result<()> {
        if self.steps != 0 && !(2..=MAX_SAMPLER_STEPS).contains(&self.steps) {
            return Err(Error::invalid(format!(
                "steps = {} is out of range: 0 (the generator's default) or 2 to \
                 {MAX_SAMPLER_STEPS} noise levels",
                self.steps
            )));
        }
        if !(self.rho > 0.0 && self.rho.is_finite()) {
            return Err(Error::invalid(format!(
                "rho = {} must be positive and finite",
                self.rho
            )));
        }
        if !(self.churn >= 0.0 && self.churn.is_finite() || self.churn == DEFAULT_CHURN) {
            return Err(Error::invalid(format!(
                "churn = {} must be finite and >= 0 (0: deterministic sampler), or \
                 {DEFAULT_CHURN} for the generator's default",
                self.churn
            )));
        }
        Ok(())
    }
}

/// The number of noise levels of a generator whose model file records none: 64, the network
/// calls of EDM's 32 Heun levels. With 32 levels of this sampler the multi-task model breaks one
/// of 60 tiny-molecule samples (`tests/runtime_only.rs`), with 48 or 64 none; with Heun's 16
/// its relaxed samples landed farther from the reference than with 32 (docs/results.md). The
/// shipped all-pair generator records 24 (`sampler_steps` in its file).
pub const DEFAULT_SAMPLER_STEPS: usize = 64;

/// The noise levels of a sampler asked for `steps` (0: the generator's default, its file's
/// `sampler_steps`, checked when the file is read, or else [`DEFAULT_SAMPLER_STEPS`]) with
/// generator `gen`.
pub fn default_steps(steps: usize, gen: &GeneratorConfig) -> usize {
    match (steps, gen.sampler_steps) {
        (0, Some(s)) => usize::try_from(s).unwrap_or(DEFAULT_SAMPLER_STEPS),
        (0, None) => DEFAULT_SAMPLER_STEPS,
        (s, _) => s,
    }
}

/// The `churn` that asks for the generator's default ([`default_churn`]), as `steps` 0 asks
/// for its default levels.
pub const DEFAULT_CHURN: f64 = -1.0;

/// The churn of a sampler asked for `churn` with generator `gen`, and the noise level (Å) at
/// and below which it acts: [`DEFAULT_CHURN`] gives the file's `sampler_churn` (else 0) within
/// its `sampler_churn_max_sigma` (else every level); any other value acts at every level.
pub fn default_churn(churn: f64, gen: &GeneratorConfig) -> (f64, f64) {
    if churn == DEFAULT_CHURN {
        (
            gen.sampler_churn.unwrap_or(0.0),
            gen.sampler_churn_max_sigma.unwrap_or(f64::INFINITY),
        )
    } else {
        (churn, f64::INFINITY)
    }
}

impl Default for SamplerOptions {
    /// The generator's defaults (`steps` 0, [`DEFAULT_CHURN`]), EDM's `rho` 7, seed 0.
    fn default() -> Self {
        SamplerOptions {
            steps: 0,
            rho: 7.0,
            churn: DEFAULT_CHURN,
            seed: 0,
        }
    }
}

/// Standard-normal samples, centred per molecule of `ranges` (zero centroid), `[N*3]`.
fn centred_normal(rng: &mut ChaCha8Rng, ranges: &[(usize, usize)]) -> Vec<f64> {
    let n = ranges.last().map_or(0, |r| r.1);
    let mut v: Vec<f64> = (0..3 * n).map(|_| standard_normal(rng)).collect();
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
/// The graph is checked for its structure only ([`check_topology`]); its chemistry (radicals,
/// formal charges) is the caller's check, [`crate::model::graph::validate_graph`], which the
/// pipeline and the C ABI run first.
pub fn generate<D: Denoise + ?Sized>(
    model: &D,
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
pub fn generate_many<D: Denoise + ?Sized>(
    model: &D,
    molecules: &[(&[u8], &[Bond], u64)],
    k: usize,
    opts: &SamplerOptions,
) -> Result<Vec<Vec<Vec<[f64; 3]>>>> {
    let gen = model
        .generator()
        .ok_or_else(|| Error::invalid("this model has no structure generator"))?;
    if k == 0 {
        return Err(Error::invalid("number of samples must be at least 1"));
    }
    opts.validate()?;
    let (churn, churn_max_sigma) = default_churn(opts.churn, &gen);
    let opts = &SamplerOptions {
        steps: default_steps(opts.steps, &gen),
        churn,
        ..*opts
    };
    if molecules.is_empty() {
        return Ok(Vec::new());
    }
    let mut species = Vec::new();
    let mut edges = Vec::new();
    for (m, (numbers, bonds, _)) in molecules.iter().enumerate() {
        // An element the model lacks is named before any graph problem.
        species.push(model.species(numbers)?);
        check_topology(numbers, bonds).map_err(|e| Error::invalid(format!("molecule {m}: {e}")))?;
        edges.push(topological_edges(numbers.len(), bonds, gen.edges));
    }
    let batch = MoleculeBatch::new(
        species
            .iter()
            .zip(&edges)
            .flat_map(|(sp, e)| (0..k).map(move |_| (sp.as_slice(), e))),
    );
    let mut rngs: Vec<ChaCha8Rng> = molecules
        .iter()
        .map(|m| ChaCha8Rng::seed_from_u64(m.2))
        .collect();
    let flat = sample(model, &batch, k, &mut rngs, &gen, opts, churn_max_sigma)?;
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

/// The largest weight of the previous level in DPM-Solver++(2M)'s extrapolation of the denoised
/// positions: half the ratio of this level's log-sigma step to the previous one's, large where
/// churn raised this level's sigma close to the previous level's (3.8 at most at 24 levels
/// with the shipped generator's churn).
const MAX_EXTRAPOLATION: f64 = 4.0;

/// The EDM sampler over all atoms of `batch` (molecule m's `k` copies draw their noise from
/// `rngs[m]`), churning at the levels at or below `churn_max_sigma` (Å): returns the final
/// positions, flat `[N*3]`.
fn sample<D: Denoise + ?Sized>(
    model: &D,
    batch: &MoleculeBatch,
    k: usize,
    rngs: &mut [ChaCha8Rng],
    gen: &GeneratorConfig,
    opts: &SamplerOptions,
    churn_max_sigma: f64,
) -> Result<Vec<f64>> {
    let n = batch.len();
    // Noise for all atoms: molecule by molecule, each from its own generator.
    let noise = |rngs: &mut [ChaCha8Rng]| -> Vec<f64> {
        let mut v = Vec::with_capacity(3 * n);
        for (m, rng) in rngs.iter_mut().enumerate() {
            let start = batch.ranges[m * k].0;
            let ranges: Vec<(usize, usize)> = batch.ranges[m * k..(m + 1) * k]
                .iter()
                .map(|&(a, b)| (a - start, b - start))
                .collect();
            v.extend(centred_normal(rng, &ranges));
        }
        v
    };
    let sigmas = noise_schedule(gen.sigma_min, gen.sigma_max, opts.steps, opts.rho);
    let mut x: Vec<f64> = noise(rngs).iter().map(|e| e * sigmas[0]).collect();
    // The previous level's denoised positions and the noise level they were denoised at.
    let mut last: Option<(Vec<f64>, f64)> = None;
    for i in 0..opts.steps {
        let (s_cur, s_next) = (sigmas[i], sigmas[i + 1]);
        let gamma = if s_cur <= churn_max_sigma {
            (opts.churn / opts.steps as f64).min(std::f64::consts::SQRT_2 - 1.0)
        } else {
            0.0
        };
        let s_hat = s_cur * (1.0 + gamma);
        if gamma > 0.0 {
            let h = (s_hat * s_hat - s_cur * s_cur).sqrt();
            for (a, e) in x.iter_mut().zip(noise(rngs)) {
                *a += e * h;
            }
        }
        let den = model.denoise(batch, &x, s_hat)?;
        // x <- (s'/s) x + (1 - s'/s) D, D extrapolated linearly in log(sigma) from the
        // previous level's denoised positions (weight w, at most MAX_EXTRAPOLATION); first
        // order at the first and last level, and where churn lifted sigma to the previous
        // level's or above.
        let w = match &last {
            Some((_, s_last)) if s_next > 0.0 && *s_last > s_hat => {
                (0.5 * (s_hat / s_next).ln() / (s_last / s_hat).ln()).min(MAX_EXTRAPOLATION)
            }
            _ => 0.0,
        };
        let ratio = s_next / s_hat;
        for (k, a) in x.iter_mut().enumerate() {
            let old = last.as_ref().map_or(0.0, |(d, _)| d[k]);
            let d = (1.0 + w) * den[k] - w * old;
            *a = ratio * *a + (1.0 - ratio) * d;
        }
        last = Some((den, s_hat));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact denoiser of data drawn coordinate by coordinate from `N(0, s^2)`
    /// (`D = x s^2 / (s^2 + sigma^2)`), or with `s` infinite the identity.
    struct Gaussian(f64);

    impl Denoise for Gaussian {
        fn generator(&self) -> Option<GeneratorConfig> {
            Some(GeneratorConfig {
                sigma_data: 1.5,
                sigma_min: 0.005,
                sigma_max: 12.0,
                distance_features: 16,
                distance_max: 10.0,
                edges: Default::default(),
                sampler_steps: None,
                sampler_churn: None,
                sampler_churn_max_sigma: None,
            })
        }
        fn species(&self, numbers: &[u8]) -> Result<Vec<usize>> {
            Ok(vec![0; numbers.len()])
        }
        fn denoise(&self, _: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
            let s2 = self.0 * self.0;
            Ok(x.iter()
                .map(|v| {
                    if s2.is_finite() {
                        v * s2 / (s2 + sigma * sigma)
                    } else {
                        *v
                    }
                })
                .collect())
        }
    }

    /// Largest error of deterministic sampling with `steps` levels against the exact flow,
    /// relative to the largest coordinate.
    fn flow_error(steps: usize) -> f64 {
        let numbers = [6, 6, 8, 1, 1];
        let bonds: Vec<Bond> = [(0, 1), (1, 2), (0, 3), (0, 4)]
            .iter()
            .map(|&(i, j)| Bond {
                i,
                j,
                order: crate::structure::BondOrder::Single,
            })
            .collect();
        let opts = SamplerOptions {
            steps,
            churn: 0.0,
            seed: 5,
            ..Default::default()
        };
        let run = |model: &Gaussian| generate(model, &numbers, &bonds, 2, &opts).unwrap();
        // The identity denoiser leaves the starting noise; the exact flow scales it by
        // s / sqrt(s^2 + sigma_max^2).
        let (start, end) = (run(&Gaussian(f64::INFINITY)), run(&Gaussian(1.5)));
        let scale = 1.5 / (1.5f64 * 1.5 + 144.0).sqrt();
        let flat =
            |v: &Vec<Vec<[f64; 3]>>| v.iter().flatten().flatten().copied().collect::<Vec<_>>();
        let (start, end) = (flat(&start), flat(&end));
        let largest = end.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        start
            .iter()
            .zip(&end)
            .map(|(a, b)| (a * scale - b).abs() / largest)
            .fold(0.0, f64::max)
    }

    #[test]
    fn the_sampler_follows_the_exact_flow_to_second_order() {
        let (e16, e32) = (flow_error(16), flow_error(32));
        eprintln!("relative error: 16 levels {e16:.2e}, 32 levels {e32:.2e}");
        assert!(e16 < 5e-2, "{e16}");
        // Halving the step divides a second-order method's error by about 4.
        assert!(e32 < e16 / 3.0, "{e16} -> {e32}");
    }
}
