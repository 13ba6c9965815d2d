//! What a training run writes besides models: the metric record of each epoch
//! (`metrics.jsonl`) and the paths of the run's files. The trainer writes them, the plots
//! read them.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::metrics::ErrorMetrics;

/// Metrics of one epoch, one JSON line each in `metrics.jsonl`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean training per-atom energy MSE, (eV/atom)².
    pub train_energy_mse: f64,
    /// Mean training force MSE, (eV/Å)².
    pub train_force_mse: f64,
    /// Mean training denoising loss (with a generator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_denoise: Option<f64>,
    /// Mean training optimality-consistency loss, eV/atom (when active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_optimality: Option<f64>,
    /// Mean training score-consistency loss (when active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_score: Option<f64>,
    /// Optimiser steps skipped because their loss was not finite (their gradients would have
    /// turned every parameter into NaN).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_steps: usize,
    /// Validation loss (potential loss + weighted denoising loss); selects the best model.
    pub validation_loss: f64,
    /// Validation denoising loss at fixed seeded noise (with a generator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_denoise: Option<f64>,
    /// Validation errors.
    pub validation: ErrorMetrics,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Cumulative training wall time, s.
    pub elapsed_s: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Paths inside a run's output folder.
pub struct RunFiles {
    /// `checkpoint.safetensors`: resumable state.
    pub checkpoint: PathBuf,
    /// `best.concord`: best model so far (by validation loss).
    pub best: PathBuf,
    /// `model.concord`: the final model (= best), with full provenance.
    pub model: PathBuf,
    /// `last.concord`: the parameters of the last epoch (differs from the best one when, e.g.,
    /// the consistency losses trade validation denoising loss for physical consistency).
    pub last: PathBuf,
    /// `metrics.jsonl`: one [`EpochRecord`] per line.
    pub metrics: PathBuf,
    /// `learning_curve.png`.
    pub learning_curve: PathBuf,
    /// `parity.png`.
    pub parity: PathBuf,
}

impl RunFiles {
    /// The files of a run in `dir`.
    pub fn new(dir: &Path) -> RunFiles {
        RunFiles {
            checkpoint: dir.join("checkpoint.safetensors"),
            best: dir.join("best.concord"),
            model: dir.join("model.concord"),
            last: dir.join("last.concord"),
            metrics: dir.join("metrics.jsonl"),
            learning_curve: dir.join("learning_curve.png"),
            parity: dir.join("parity.png"),
        }
    }
}

/// The records of `path`, skipping lines that do not parse (a run killed mid-write).
pub fn read_records(path: &Path) -> Vec<EpochRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Appends one metrics line.
pub fn append_record(path: &Path, record: &EpochRecord) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let line = serde_json::to_string(record).map_err(|e| Error::invalid(e.to_string()))?;
    writeln!(f, "{line}").map_err(|e| Error::io(path, e))
}
