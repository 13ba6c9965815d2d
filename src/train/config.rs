//! The training configuration (TOML). Unknown keys are rejected and every value is checked,
//! so a typo is an error naming the key rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::graph::GraphScheme;
use crate::model::{EncoderConfig, GeneratorConfig, Precision};
use crate::train::generator_losses::Optimality;

/// A label a dataset provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Total energies.
    Energy,
    /// Forces.
    Forces,
    /// Equilibrium structures with bond graphs (SDF files), for the structure generator.
    Structure,
}

/// One dataset: a file, the labels it provides and their level of theory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// Short name used in logs.
    pub name: String,
    /// Extended-XYZ file (optionally .gz); relative paths are relative to the config file.
    pub path: PathBuf,
    /// Level of theory of the labels (provenance only), e.g. "GFN2-xTB".
    pub level: String,
    /// Which labels to train on.
    pub tasks: Vec<Task>,
    /// Times each of its training frames or structures is listed per epoch (oversampling a
    /// small, important set such as active-learning frames, or the larger molecules among
    /// many small ones); validation ones count once. Default 1.
    #[serde(default = "one")]
    pub repeat: usize,
    /// Only the frames whose `config` info key is one of these (e.g. `["gfn2_min"]`: the
    /// minima of a file that also holds distorted frames); absent: every frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configs: Option<Vec<String>>,
    /// Only the molecules whose `group` data field is one of these (structure datasets, e.g.
    /// `["large"]`: the organic set's molecules of 26-50 heavy atoms); absent: every molecule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

fn one() -> usize {
    1
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Seed of parameter initialisation, the validation split and shuffling.
    pub seed: u64,
    /// Number of passes over the training set.
    pub epochs: usize,
    /// Stop early (keeping the best model) after this many minutes of wall time.
    pub max_minutes: f64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Initial learning rate (Adam).
    pub learning_rate: f64,
    /// Learning rate reached at the last epoch (exponential decay per step).
    pub final_learning_rate: f64,
    /// Weight of the per-atom energy MSE, 1/eV².
    pub energy_weight: f64,
    /// Weight of the force term (the MSE, or the Huber loss of `force_huber_delta`), Å²/eV².
    pub force_weight: f64,
    /// Huber threshold δ of the force term, eV/Å: per force component the squared error up
    /// to δ and `2δ|error| - δ²` beyond, so that strongly distorted frames with large forces
    /// (and large errors) weigh less against minima and thermal frames than under the MSE
    /// (MACE's `huber` loss). Absent: the MSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_huber_delta: Option<f64>,
    /// Weight of the relative-energy term, 1/eV²: the MSE per atom of each frame's energy
    /// relative to its molecule's lowest-energy frame in the same split (same `mol` name and
    /// atoms), over the batch's frames that have one; the partner frames are evaluated with the
    /// batch (up to twice the cost per step). Fits within-molecule energy differences (strain,
    /// conformers) that the per-frame energy MSE leaves to the forces. Default 0 (off).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relative_energy_weight: f64,
    /// Fraction of molecules held out for validation.
    pub validation_fraction: f64,
    /// Parameter precision during training.
    pub precision: Precision,
    /// libtorch intra-op threads (0 = libtorch's default).
    pub threads: usize,
    /// Minutes between mid-epoch checkpoints.
    pub checkpoint_minutes: f64,
    /// Where to train: "cpu" (the default when absent), "cuda" or "cuda:N".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Cap on the batches of one epoch (the smaller datasets cycle anyway); a fixed step budget
    /// for comparing training variants. `None`: one pass over the largest dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_epoch: Option<usize>,
    /// Start from the parameters of this model file (same architecture and elements) instead
    /// of a random initialisation, e.g. to add the consistency losses to a multi-task model;
    /// relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// After training, refit the best model's per-element reference energies to its residuals
    /// on the training frames (as `concord refit-reference`; forces unchanged), before the
    /// final validation. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refit_reference: bool,
    /// Decay per step of an exponential moving average of the parameters (e.g. 0.999, as
    /// diffusion models use); validation, the best and last models and the final model use the
    /// averaged parameters. Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// How the potential's loss gradient is computed: `"libtorch"` (double backward, the
    /// default) or `"native"` (the native runtime's reverse pass and a central difference for
    /// the force term, [`crate::train::native_gradient`]; CPU, potential-only).
    #[serde(default, skip_serializing_if = "Gradient::is_libtorch")]
    pub gradient: Gradient,
}

/// Where the potential's loss gradient comes from ([`TrainingConfig::gradient`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gradient {
    /// libtorch's autograd (double backward through the forces).
    #[default]
    Libtorch,
    /// The native runtime ([`crate::train::native_gradient`]).
    Native,
}

impl Gradient {
    fn is_libtorch(&self) -> bool {
        *self == Gradient::Libtorch
    }
}

/// A whole training run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output directory (checkpoint, model, metrics, plots); relative to the config file.
    pub output: PathBuf,
    /// Network architecture.
    pub model: EncoderConfig,
    /// Optimisation.
    pub training: TrainingConfig,
    /// Training data.
    pub dataset: Vec<DatasetConfig>,
    /// Structure generator and consistency losses; absent for a potential-only model.
    pub generator: Option<GeneratorTrainConfig>,
}

impl GeneratorTrainConfig {
    /// The part stored in the model file.
    pub fn model_config(&self) -> GeneratorConfig {
        GeneratorConfig {
            sigma_data: self.sigma_data,
            sigma_min: self.sigma_min,
            sigma_max: self.sigma_max,
            distance_features: self.distance_features,
            distance_max: self.distance_max,
            edges: self.edges,
            sampler_steps: self.sampler_steps,
            // Measured on the trained model and recorded with `concord set-sampler`.
            sampler_churn: None,
            sampler_churn_max_sigma: None,
        }
    }
}

/// The structure generator's architecture and training losses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorTrainConfig {
    /// Typical spread of atoms about the molecular centre, Å (EDM's sigma_data).
    pub sigma_data: f64,
    /// Smallest noise level of sampling, Å.
    pub sigma_min: f64,
    /// Largest noise level of sampling, Å.
    pub sigma_max: f64,
    /// Gaussian distance features on graph edges.
    pub distance_features: i64,
    /// Range of the distance features, Å.
    pub distance_max: f64,
    /// Which atom pairs the denoiser connects: "radius" (bonds, 1-3 and 1-4 pairs and the pairs
    /// within the cutoff; the default) or "all_pairs" (every pair, by bond order or topological
    /// distance).
    #[serde(default)]
    pub edges: GraphScheme,
    /// Noise levels the sampler uses by default with the trained model (stored in its file);
    /// absent: [`crate::generate::DEFAULT_SAMPLER_STEPS`].
    #[serde(default)]
    pub sampler_steps: Option<i64>,
    /// Mean of ln(sigma / Å) of the denoising loss's noise levels.
    pub log_sigma_mean: f64,
    /// Standard deviation of ln(sigma / Å) of the denoising loss's noise levels.
    pub log_sigma_std: f64,
    /// Weight of the denoising loss.
    pub denoise_weight: f64,
    /// First epoch (1-based) with consistency losses; before it, plain multi-task training.
    pub consistency_start_epoch: usize,
    /// Weight of the optimality-consistency loss (0 = off).
    pub optimality_weight: f64,
    /// Quantity minimised by the optimality loss.
    pub optimality: Optimality,
    /// Range of noise levels (Å) of the optimality loss.
    pub optimality_sigma: [f64; 2],
    /// Weight of the score-consistency loss (0 = off).
    pub score_weight: f64,
    /// Range of noise levels (Å) of the score-consistency loss.
    pub score_sigma: [f64; 2],
    /// Thermal energy kT (eV) relating forces to the score: score = F / kT.
    pub kt: f64,
}

/// Removes `.` and `dir/..` components lexically, so that one path has one spelling (a
/// checkpoint remembers the config it was written for).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

impl Config {
    /// Reads, parses and validates a TOML config; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.output = normalize(&base.join(&config.output));
        if let Some(init) = &mut config.training.init {
            *init = normalize(&base.join(&*init));
        }
        for d in &mut config.dataset {
            d.path = normalize(&base.join(&d.path));
        }
        Ok(config)
    }

    /// Parses and validates TOML text (`path` names the file in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let bad = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let config: Config =
            toml::from_str(text).map_err(|e| bad(e.to_string().trim().to_string()))?;
        config.validate().map_err(bad)?;
        Ok(config)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(device) = &self.training.device {
            device
                .parse::<crate::device::Device>()
                .map_err(|e| format!("training.device: {e}"))?;
        }
        first_failure(self.model_checks())?;
        first_failure(self.training_checks())?;
        if self.dataset.is_empty() {
            return Err("at least one [[dataset]] is required".to_string());
        }
        for d in &self.dataset {
            d.validate()?;
        }
        self.validate_generator()
    }

    /// The `[model]` section's checks: (passes, message).
    fn model_checks(&self) -> [(bool, String); 4] {
        let m = &self.model;
        [
            (
                m.features >= 2,
                format!("model.features must be >= 2, got {}", m.features),
            ),
            (
                m.layers >= 1,
                format!("model.layers must be >= 1, got {}", m.layers),
            ),
            (
                m.cutoff > 0.5 && m.cutoff <= 20.0,
                format!("model.cutoff must be in (0.5, 20] Å, got {}", m.cutoff),
            ),
            (
                m.radial_basis >= 1,
                format!("model.radial_basis must be >= 1, got {}", m.radial_basis),
            ),
        ]
    }

    /// The `[training]` section's checks: (passes, message).
    fn training_checks(&self) -> [(bool, String); 12] {
        let t = &self.training;
        [
            (
                t.epochs >= 1,
                format!("training.epochs must be >= 1, got {}", t.epochs),
            ),
            (
                t.max_minutes > 0.0,
                format!("training.max_minutes must be > 0, got {}", t.max_minutes),
            ),
            (
                t.batch_size >= 1,
                format!("training.batch_size must be >= 1, got {}", t.batch_size),
            ),
            (
                t.learning_rate > 0.0 && t.learning_rate < 1.0,
                format!(
                    "training.learning_rate must be in (0, 1), got {}",
                    t.learning_rate
                ),
            ),
            (
                t.final_learning_rate > 0.0 && t.final_learning_rate <= t.learning_rate,
                format!(
                    "training.final_learning_rate must be in (0, learning_rate], got {}",
                    t.final_learning_rate
                ),
            ),
            (
                t.ema_decay.is_none_or(|d| d > 0.0 && d < 1.0),
                format!(
                    "training.ema_decay must be in (0, 1), got {}",
                    t.ema_decay.unwrap_or(0.0)
                ),
            ),
            (
                t.energy_weight >= 0.0
                    && t.force_weight >= 0.0
                    && t.energy_weight + t.force_weight > 0.0,
                "training.energy_weight and force_weight must be >= 0 and not both 0".to_string(),
            ),
            (
                t.relative_energy_weight >= 0.0 && t.relative_energy_weight.is_finite(),
                format!(
                    "training.relative_energy_weight must be >= 0, got {}",
                    t.relative_energy_weight
                ),
            ),
            (
                t.force_huber_delta.is_none_or(|d| d > 0.0 && d.is_finite()),
                format!(
                    "training.force_huber_delta must be > 0 eV/Å, got {}",
                    t.force_huber_delta.unwrap_or(0.0)
                ),
            ),
            (
                t.gradient == Gradient::Libtorch
                    || (self.generator.is_none() && t.device.as_deref().is_none_or(|d| d == "cpu")),
                "training.gradient = \"native\" trains a potential (no [generator]) on the cpu"
                    .to_string(),
            ),
            (
                t.validation_fraction > 0.0 && t.validation_fraction < 0.5,
                format!(
                    "training.validation_fraction must be in (0, 0.5), got {}",
                    t.validation_fraction
                ),
            ),
            (
                t.checkpoint_minutes > 0.0,
                format!(
                    "training.checkpoint_minutes must be > 0, got {}",
                    t.checkpoint_minutes
                ),
            ),
        ]
    }

    /// The `[generator]` section against the datasets: present exactly when a dataset has
    /// structures, with valid settings.
    fn validate_generator(&self) -> std::result::Result<(), String> {
        let has_structures = self
            .dataset
            .iter()
            .any(|d| d.tasks.contains(&Task::Structure));
        match &self.generator {
            None if has_structures => {
                return Err("a 'structure' dataset needs a [generator] section".into());
            }
            Some(_) if !has_structures => {
                return Err(
                    "[generator] needs at least one dataset with tasks = [\"structure\"]".into(),
                );
            }
            Some(g) => {
                let ok_range = |r: [f64; 2]| r[0] > 0.0 && r[1] >= r[0];
                let checks = [
                    (g.sigma_data > 0.0, "generator.sigma_data must be > 0"),
                    (
                        g.sigma_min > 0.0 && g.sigma_max > g.sigma_min,
                        "generator.sigma_min must be > 0 and < sigma_max",
                    ),
                    (
                        g.distance_features >= 1 && g.distance_max > 0.0,
                        "generator.distance_features must be >= 1 and distance_max > 0",
                    ),
                    (g.log_sigma_std > 0.0, "generator.log_sigma_std must be > 0"),
                    (
                        g.denoise_weight > 0.0,
                        "generator.denoise_weight must be > 0",
                    ),
                    (
                        g.consistency_start_epoch >= 1,
                        "generator.consistency_start_epoch must be >= 1",
                    ),
                    (
                        g.optimality_weight >= 0.0 && g.score_weight >= 0.0,
                        "generator.optimality_weight and score_weight must be >= 0",
                    ),
                    (
                        ok_range(g.optimality_sigma),
                        "generator.optimality_sigma must be [lo, hi] with 0 < lo <= hi",
                    ),
                    (
                        ok_range(g.score_sigma),
                        "generator.score_sigma must be [lo, hi] with 0 < lo <= hi",
                    ),
                    (g.kt > 0.0, "generator.kt must be > 0 eV"),
                ];
                first_failure(checks.map(|(ok, msg)| (ok, msg.to_string())))?;
                if let Some(s) = g.sampler_steps {
                    crate::model::config::check_sampler_steps(s)
                        .map_err(|e| format!("generator.sampler_steps = {e}"))?;
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// The message of the first failed check, if any.
fn first_failure(
    checks: impl IntoIterator<Item = (bool, String)>,
) -> std::result::Result<(), String> {
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, msg)) => Err(msg),
        None => Ok(()),
    }
}

impl DatasetConfig {
    /// Checks a `[[dataset]]` entry: tasks, repeat, and selections that fit its file type.
    fn validate(&self) -> std::result::Result<(), String> {
        if self.tasks.is_empty() {
            return Err(format!("dataset '{}' lists no tasks", self.name));
        }
        if !(1..=100).contains(&self.repeat) {
            return Err(format!("dataset '{}': repeat must be 1..=100", self.name));
        }
        if self.configs.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!(
                "dataset '{}': configs is empty (leave it out to keep every frame)",
                self.name
            ));
        }
        if self.tasks.contains(&Task::Structure) && self.configs.is_some() {
            return Err(format!(
                "dataset '{}': configs selects frames of an extended-XYZ file, not SDF molecules",
                self.name
            ));
        }
        if self.groups.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!(
                "dataset '{}': groups is empty (leave it out to keep every molecule)",
                self.name
            ));
        }
        if !self.tasks.contains(&Task::Structure) && self.groups.is_some() {
            return Err(format!(
                "dataset '{}': groups selects molecules of an SDF file (task 'structure'), not frames",
                self.name
            ));
        }
        if self.tasks.contains(&Task::Structure) && self.tasks.len() > 1 {
            return Err(format!(
                "dataset '{}': 'structure' (an SDF file) cannot be combined with other tasks",
                self.name
            ));
        }
        Ok(())
    }
}

/// Whether a weight is zero (left out of the written config, so that configs and checkpoints
/// from before the key compare equal).
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
