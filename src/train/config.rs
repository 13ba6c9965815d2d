//! The training configuration (TOML). Unknown keys are rejected and every value is checked,
//! so a typo is an error naming the key rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{EncoderConfig, Precision};

/// A label a dataset provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Total energies.
    Energy,
    /// Forces.
    Forces,
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
    /// Weight of the force MSE, Å²/eV².
    pub force_weight: f64,
    /// Fraction of molecules held out for validation.
    pub validation_fraction: f64,
    /// Parameter precision during training.
    pub precision: Precision,
    /// libtorch intra-op threads (0 = libtorch's default).
    pub threads: usize,
    /// Minutes between mid-epoch checkpoints.
    pub checkpoint_minutes: f64,
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
}

impl Config {
    /// Reads, parses and validates a TOML config; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.output = base.join(&config.output);
        for d in &mut config.dataset {
            d.path = base.join(&d.path);
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
        let m = &self.model;
        let t = &self.training;
        let checks: [(bool, String); 13] = [
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
                t.energy_weight >= 0.0
                    && t.force_weight >= 0.0
                    && t.energy_weight + t.force_weight > 0.0,
                "training.energy_weight and force_weight must be >= 0 and not both 0".to_string(),
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
            (
                !self.dataset.is_empty(),
                "at least one [[dataset]] is required".to_string(),
            ),
        ];
        if let Some((_, msg)) = checks.into_iter().find(|(ok, _)| !ok) {
            return Err(msg);
        }
        for d in &self.dataset {
            if d.tasks.is_empty() {
                return Err(format!("dataset '{}' lists no tasks", d.name));
            }
        }
        Ok(())
    }
}
