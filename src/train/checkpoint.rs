//! Training checkpoints: model parameters, optimiser state and loop position in one
//! safetensors file, written atomically so that a killed run resumes from the last one.

use std::collections::HashMap;
use std::path::Path;

use safetensors::SafeTensors;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::model::file::{load_variables, metadata, to_bytes_tensors};
use crate::model::Model;
use crate::train::adam::Adam;
use crate::train::config::Config;

/// Where the loop stands; stored in the checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoopState {
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Batches of the current epoch already done.
    pub batch: usize,
    /// Best validation loss so far (infinite until the first epoch ends; JSON writes that as
    /// null, read back as infinity, so a checkpoint from the first epoch resumes).
    #[serde(deserialize_with = "infinity_if_null")]
    pub best_validation: f64,
    /// Epoch of the best validation loss.
    pub best_epoch: Option<usize>,
    /// Wall time spent training so far, s (summed over interrupted runs).
    pub elapsed_s: f64,
    /// True once training has finished.
    pub finished: bool,
}

fn infinity_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    config: Config,
    state: LoopState,
    adam_step: i64,
}

/// Writes a checkpoint of `model`, `adam` and `state` for `config` to `path`.
pub fn save(
    path: &Path,
    config: &Config,
    model: &Model,
    adam: &Adam,
    state: &LoopState,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = model.vs.variables().into_iter().collect();
    tensors.extend(adam.state());
    let header = Header {
        config: config.clone(),
        state: state.clone(),
        adam_step: adam.step,
    };
    let json = serde_json::to_string(&header).map_err(|e| Error::invalid(e.to_string()))?;
    let meta = serde_json::to_string(&metadata(model, serde_json::Value::Null))
        .map_err(|e| Error::invalid(e.to_string()))?;
    let info = HashMap::from([
        ("concord_checkpoint".to_string(), json),
        ("concord".to_string(), meta),
    ]);
    write_atomic(path, &to_bytes_tensors(tensors, info)?)
}

/// Restores a checkpoint into `model` and `adam`; fails if it was written for another config.
pub fn load(path: &Path, config: &Config, model: &mut Model, adam: &mut Adam) -> Result<LoopState> {
    let bad = |message: String| Error::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("corrupt or truncated checkpoint: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("concord_checkpoint"))
        .ok_or_else(|| bad("not a Concord checkpoint".into()))?;
    let header: Header =
        serde_json::from_str(json).map_err(|e| bad(format!("invalid checkpoint header: {e}")))?;
    // Where and how long a run computes is not what it computes: resuming on another device,
    // with other threads, checkpoint interval or time budget (raised to continue a run in a
    // later session) is fine.
    let identity = |c: &Config| Config {
        training: crate::train::config::TrainingConfig {
            device: None,
            threads: 0,
            max_minutes: 0.0,
            checkpoint_minutes: 0.0,
            gradient: Default::default(),
            ..c.training.clone()
        },
        ..c.clone()
    };
    if identity(&header.config) != identity(config) {
        return Err(bad(
            "the checkpoint was written for a different config; delete the output folder or choose another `output` to start afresh".into(),
        ));
    }
    load_variables(&mut model.vs, &bytes, path, true)?;
    let st =
        SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("corrupt checkpoint: {e}")))?;
    adam.restore(header.adam_step, |name| {
        let view = st
            .tensor(name)
            .map_err(|_| bad(format!("optimiser state '{name}' is missing")))?;
        let values: Vec<f64> = view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8")))
            .collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&values)
            .f_view(shape.as_slice())?
            .f_to_kind(Kind::Double)?
            .f_to_device(model.device())?)
    })?;
    Ok(header.state)
}
