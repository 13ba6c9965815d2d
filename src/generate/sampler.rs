//! EDM sampling (Karras et al. 2022, Algorithm 2) from Gaussian noise
//! to positions, given a molecular graph. Deterministic (Heun, `churn = 0`) or stochastic
//! (`churn > 0`; [`DEFAULT_CHURN`]: the generator's recorded default); the noise comes from a
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
    /// Number of noise levels (denoiser calls: about twice this with Heun's correction); 0:
    /// the generator's default ([`default_steps`]).
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

/// The number of noise levels of a generator whose model file records none (EDM's 32). The
/// multi-task model's samples relaxed on its own head land farther from the reference with 16
/// (heavy-atom best of 4 0.272 Å against 0.243 Å; docs/results.md), while the all-pair
/// generator is as good with 16 and records it (`sampler_steps` in its file).
pub const DEFAULT_SAMPLER_STEPS: usize = 32;

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
    let step = |x: &[f64], d: &[f64], h: f64| -> Vec<f64> {
        x.iter().zip(d).map(|(a, b)| a + b * h).collect()
    };
    for i in 0..opts.steps {
        let (s_cur, s_next) = (sigmas[i], sigmas[i + 1]);
        let gamma = if s_cur <= churn_max_sigma {
            (opts.churn / opts.steps as f64).min(std::f64::consts::SQRT_2 - 1.0)
        } else {
            0.0
        };
        let s_hat = s_cur * (1.0 + gamma);
        if gamma > 0.0 {
            let eps = noise(rngs);
            x = step(&x, &eps, (s_hat * s_hat - s_cur * s_cur).sqrt());
        }
        let den = model.denoise(batch, &x, s_hat)?;
        let d: Vec<f64> = x.iter().zip(&den).map(|(a, b)| (a - b) / s_hat).collect();
        let mut x_next = step(&x, &d, s_next - s_hat);
        if s_next > 0.0 {
            let den2 = model.denoise(batch, &x_next, s_next)?;
            let avg: Vec<f64> = d
                .iter()
                .zip(x_next.iter().zip(&den2))
                .map(|(d1, (a, b))| 0.5 * (d1 + (a - b) / s_next))
                .collect();
            x_next = step(&x, &avg, s_next - s_hat);
        }
        x = x_next;
    }
    Ok(x)
}
