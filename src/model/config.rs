//! What a model file says a model is, independent of any evaluator: the architecture
//! ([`EncoderConfig`], [`GeneratorConfig`], [`ModelConfig`]), the precision, and the map from
//! atomic numbers to the model's species.

use crate::elements;
use crate::error::{Error, Result};
use crate::model::graph::GraphScheme;

/// Architecture of the encoder; stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Feature width F.
    pub features: i64,
    /// Number of message-passing layers.
    pub layers: i64,
    /// Cutoff radius of each layer's neighbourhood, Å.
    pub cutoff: f64,
    /// Number of radial basis functions.
    pub radial_basis: i64,
    /// Width of optional extra edge features (bond kinds, distances) that only the structure
    /// generator passes; 0 for a potential-only model. Set by the model, not by users.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edge_features: i64,
    /// Whether each update block reads the vector features softly normalised per atom,
    /// `v / sqrt(1 + sum_{k,c} v_kc^2 / F)`: identity for small features, unit scale for large
    /// ones, which bounds the block's quadratic term `a (U v).(V v)` (without it, crowded noisy
    /// structures of the generator overflow float32 in deep, wide encoders). Absent in files
    /// of earlier models: `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub vector_norm: bool,
    /// The energy's short-range core ([`crate::model::zbl`]): ZBL screened nuclear repulsion of
    /// every pair closer than this fraction of its covalent-radii sum, in (0, 1]; 0.6 acts
    /// below any bond of a molecule at rest, where training data are few. Absent (earlier
    /// models, the generator's denoiser): none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zbl: Option<f64>,
}

fn is_zero(x: &i64) -> bool {
    *x == 0
}

fn is_false(x: &bool) -> bool {
    !*x
}

impl Default for EncoderConfig {
    /// The architecture of the shipped potential (configs/default.toml): F = 64, 3 layers,
    /// cutoff 5 Å, 16 radial functions.
    fn default() -> Self {
        EncoderConfig {
            features: 64,
            layers: 3,
            cutoff: 5.0,
            radial_basis: 16,
            edge_features: 0,
            vector_norm: false,
            zbl: None,
        }
    }
}

impl EncoderConfig {
    /// Receptive field in Å: `layers * cutoff`, the distance beyond which atoms cannot influence
    /// an atom's features (the ghost-atom cutoff an MD engine must provide).
    pub fn receptive_field(&self) -> f64 {
        self.layers as f64 * self.cutoff
    }
}

/// Most noise levels a sampler may use (beyond it a run is almost surely a corrupt argument).
pub const MAX_SAMPLER_STEPS: usize = 100_000;

/// Checks a generator's count of sampler noise levels: 2 to [`MAX_SAMPLER_STEPS`]. The error
/// reads "`steps` is out of range: ..." for the caller to prefix with the setting's name.
pub fn check_sampler_steps(steps: i64) -> std::result::Result<(), String> {
    if (2..=MAX_SAMPLER_STEPS as i64).contains(&steps) {
        Ok(())
    } else {
        Err(format!(
            "{steps} is out of range: 2 to {MAX_SAMPLER_STEPS} noise levels"
        ))
    }
}

/// Checks a generator's recorded default churn (finite, >= 0) and its noise window (positive;
/// infinite allowed: every level). The error names the setting.
pub fn check_sampler_churn(
    churn: Option<f64>,
    max_sigma: Option<f64>,
) -> std::result::Result<(), String> {
    if let Some(c) = churn.filter(|c| !(c.is_finite() && *c >= 0.0)) {
        return Err(format!("sampler_churn = {c} must be finite and >= 0"));
    }
    if let Some(s) = max_sigma.filter(|s| s.is_nan() || *s <= 0.0) {
        return Err(format!(
            "sampler_churn_max_sigma = {s} must be positive (Å)"
        ));
    }
    Ok(())
}

/// Settings of the generator; stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Typical spread of atom positions about the molecular centre, Å (EDM's sigma_data).
    pub sigma_data: f64,
    /// Smallest noise level of sampling, Å.
    pub sigma_min: f64,
    /// Largest noise level of sampling (start of generation), Å.
    pub sigma_max: f64,
    /// Number of Gaussian distance features on graph edges.
    pub distance_features: i64,
    /// Range of the distance features, Å.
    pub distance_max: f64,
    /// Which atom pairs the denoiser connects (absent in files of the first generators:
    /// [`GraphScheme::Radius`]).
    #[serde(default, skip_serializing_if = "GraphScheme::is_radius")]
    pub edges: GraphScheme,
    /// Noise levels the sampler uses when a caller asks for the default (`steps` 0): the
    /// count this generator was measured at. Absent (files before 2026-12-04 and generators
    /// that record none): [`crate::generate::DEFAULT_SAMPLER_STEPS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_steps: Option<i64>,
    /// Stochasticity (EDM's S_churn) the sampler uses when a caller asks for the default
    /// (`churn` [`crate::generate::DEFAULT_CHURN`]); absent: 0 (the deterministic sampler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_churn: Option<f64>,
    /// With the default churn, the noise level (Å) at and below which it acts (EDM's S_tmax):
    /// churn at the last, low levels only refines local geometry without moving the
    /// conformer the early levels chose. Absent: every level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_churn_max_sigma: Option<f64>,
}

/// Gaussian distance features ([`GeneratorConfig::distance_features`]) up to this are 0 in
/// both the native and the libtorch denoiser. In float32 a value under ~1.2e-38 is subnormal,
/// and a multiply-add that reads one takes a slow microcode path: matrix products with
/// subnormal inputs ran ~70x slower on this project's machine (an Intel Xeon). A centre 8.3-9 Å
/// from a pair's distance gives one, so nearly every pair of a molecule carried one; flushing
/// them made native generation ~1.5x faster (docs/runtime.md). The features dropped are
/// below 1e-30 of the largest (1).
pub const DISTANCE_FEATURE_FLOOR: f64 = 1e-30;

impl GeneratorConfig {
    /// Width of the edge features the encoder must accept: the one-hot edge kind and the
    /// distance features.
    pub fn edge_features(&self) -> i64 {
        self.edges.n_kinds() as i64 + self.distance_features
    }

    /// The radius (Å) within which the denoiser adds pairs at the current positions to the
    /// graph's edges for an encoder of `cutoff` Å: `None` when the graph has every pair.
    pub fn radius_edges(&self, cutoff: f64) -> Option<f64> {
        match self.edges {
            GraphScheme::Radius => Some(cutoff),
            GraphScheme::AllPairs => None,
        }
    }
}

/// Architecture and element list of a model; stored in the model file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Atomic numbers the model knows, in the order of its species index.
    pub elements: Vec<u8>,
    /// Encoder architecture.
    pub encoder: EncoderConfig,
    /// Structure-generator settings; `None` for a potential-only model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorConfig>,
}

impl ModelConfig {
    /// Whether `other` has the same elements and network, whatever default sampler settings
    /// either records (they configure sampling, not the parameters); the ZBL core counts.
    pub fn same_network(&self, other: &ModelConfig) -> bool {
        let network = |c: &ModelConfig| {
            let mut c = c.clone();
            if let Some(g) = c.generator.as_mut() {
                g.sampler_steps = None;
                g.sampler_churn = None;
                g.sampler_churn_max_sigma = None;
            }
            c
        };
        network(self) == network(other)
    }

    /// Whether `other`'s parameters fit this network: [`ModelConfig::same_network`] but for
    /// the ZBL core, which has no parameters (a model may continue training with or without it).
    pub fn same_parameters(&self, other: &ModelConfig) -> bool {
        let mut other = other.clone();
        other.encoder.zbl = self.encoder.zbl;
        self.same_network(&other)
    }
}

/// Maps atomic numbers `[N]` to indices into a model's `elements` `[N]`; an element the model
/// was not trained on is an [`Error::UnknownElement`] naming it, the atom and the model's
/// elements.
pub fn species_index(elements: &[u8], numbers: &[u8]) -> Result<Vec<usize>> {
    numbers
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            elements.iter().position(|&e| e == z).ok_or_else(|| {
                let Ok(name) = elements::symbol(z) else {
                    return Error::UnknownElement(format!(
                        "atomic number {z} (atom {i}) is not a known element"
                    ));
                };
                let known: Vec<&str> = elements
                    .iter()
                    .map(|&e| elements::symbol(e).unwrap_or_default())
                    .collect();
                Error::UnknownElement(format!(
                    "{name} (atom {i}) is not among the model's elements {}",
                    known.join(" ")
                ))
            })
        })
        .collect()
}

/// Floating-point precision of a model's parameters and computations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats (fast; training and MD).
    Float32,
    /// 64-bit floats (finite-difference checks, high-precision work).
    Float64,
}
