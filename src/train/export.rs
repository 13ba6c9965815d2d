//! The generator's training data for a trainer outside this process (the PyTorch trainer that
//! runs on a GPU machine, `scripts/gpu/train_generator.py`), and the way its parameters come
//! back into a model file.
//!
//! [`export_structures`] writes one safetensors file with the structure data of a training
//! config as the trainer here sees them: species indices of the `training.init` model, centred
//! PM6 positions, every topological edge with its kind (the graph scheme of that model), the
//! trainer's own validation split, and reference denoiser outputs of the init model (float64)
//! so that the other implementation can prove it computes the same function before it trains.
//! [`import_parameters`] copies trained parameters (every tensor of the model, float64) into a
//! model file, which is then written and checksummed by the one writer of model files.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, View};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::file;
use crate::model::noise::standard_normal;
use crate::model::{GraphBatch, Model, Precision};
use crate::train::datasets;
use crate::train::generator_losses::graph_batch;
use crate::train::samples::GraphSample;
use crate::train::Config;

/// Seed of the reference inputs' noise.
const REFERENCE_SEED: u64 = 20261204;

/// What [`export_structures`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    /// Molecules written (training + validation).
    pub molecules: usize,
    /// Of which in the validation split.
    pub validation: usize,
    /// Atoms written.
    pub atoms: usize,
    /// Directed topological edges written.
    pub edges: usize,
    /// Molecules with reference denoiser outputs.
    pub reference: usize,
}

/// A little-endian tensor for `safetensors::serialize`.
struct RawView {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for RawView {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn ints(v: &[i64], shape: Vec<usize>) -> RawView {
    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    RawView {
        dtype: Dtype::I64,
        shape,
        bytes,
    }
}

/// Small non-negative integers (species, edge kinds, flags) as U8.
fn bytes_u8(v: &[i64], shape: Vec<usize>) -> Result<RawView> {
    let bytes = v
        .iter()
        .map(|&x| u8::try_from(x).map_err(|_| Error::invalid(format!("{x} does not fit a byte"))))
        .collect::<Result<_>>()?;
    Ok(RawView {
        dtype: Dtype::U8,
        shape,
        bytes,
    })
}

/// Atom indices within a molecule as U16.
fn indices_u16(v: &[i64], shape: Vec<usize>) -> Result<RawView> {
    let mut bytes = Vec::with_capacity(2 * v.len());
    for &x in v {
        let x = u16::try_from(x)
            .map_err(|_| Error::invalid(format!("a molecule of more than {} atoms", u16::MAX)))?;
        bytes.extend(x.to_le_bytes());
    }
    Ok(RawView {
        dtype: Dtype::U16,
        shape,
        bytes,
    })
}

fn floats(v: &[f64], shape: Vec<usize>) -> RawView {
    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    RawView {
        dtype: Dtype::F64,
        shape,
        bytes,
    }
}

/// Values rounded to float32 (training positions: 1e-7 relative is far below PM6's accuracy).
fn floats_f32(v: &[f64], shape: Vec<usize>) -> RawView {
    let bytes = v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect();
    RawView {
        dtype: Dtype::F32,
        shape,
        bytes,
    }
}

/// The concatenated molecules: species `[N]`, positions `[N*3]` (Å), atom offsets `[M+1]`,
/// edges (receiver, sender: atom indices within the molecule; kind) `[E]` each, edge offsets
/// `[M+1]`.
#[derive(Default)]
struct Arrays {
    species: Vec<i64>,
    positions: Vec<f64>,
    atom_ptr: Vec<i64>,
    first: Vec<i64>,
    second: Vec<i64>,
    kind: Vec<i64>,
    edge_ptr: Vec<i64>,
}

impl Arrays {
    fn push(&mut self, s: &GraphSample) {
        if self.atom_ptr.is_empty() {
            self.atom_ptr.push(0);
            self.edge_ptr.push(0);
        }
        self.species.extend_from_slice(&s.species);
        self.positions.extend(s.positions.iter().flatten());
        self.atom_ptr.push(self.species.len() as i64);
        self.first.extend(s.edges.first.iter().map(|&i| i as i64));
        self.second.extend(s.edges.second.iter().map(|&j| j as i64));
        self.kind.extend(s.edges.kind.iter().map(|&k| k as i64));
        self.edge_ptr.push(self.first.len() as i64);
    }
}

/// Noisy inputs and the denoised outputs `D(x, sigma)` of `model` (float64) for `samples`:
/// noise levels log-spaced from 0.01 to 10 Å over the molecules, centred standard-normal noise.
/// Returns (x `[N*3]`, sigma `[N]`, D `[N*3]`).
fn reference_outputs(model: &Model, samples: &[&GraphSample]) -> Result<[Vec<f64>; 3]> {
    let (batch, x0): (GraphBatch, Tensor) = graph_batch(model, samples)?;
    let mut rng = ChaCha8Rng::seed_from_u64(REFERENCE_SEED);
    let m = samples.len().max(2) as f64;
    let mut sigma = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let level = 0.01 * 1000f64.powf(i as f64 / (m - 1.0));
        sigma.extend(std::iter::repeat_n(level, s.species.len()));
    }
    let n = sigma.len();
    let noise: Vec<f64> = (0..3 * n).map(|_| standard_normal(&mut rng)).collect();
    let noise = batch.center(&Tensor::from_slice(&noise).f_view([n as i64, 3])?)?;
    let sig = Tensor::from_slice(&sigma);
    let x = &x0 + noise * sig.f_unsqueeze(-1)?;
    let d = tch::no_grad(|| model.denoise(&batch, &x, &sig))?;
    let flat = |t: &Tensor| -> Result<Vec<f64>> {
        Ok(Vec::try_from(t.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?)
    };
    Ok([flat(&x)?, sigma, flat(&d)?])
}

/// Writes the structure data of `config` (its structure datasets, the model of
/// `training.init`, its validation split) to `out`, with reference denoiser outputs for the
/// first `reference` validation molecules (gzip-compressed when `out` ends in `.gz`).
/// Tensors: `species` `[N]` u8, `positions` `[N, 3]` f32 (Å), `atom_ptr` `[M+1]` i64,
/// `edge_first`, `edge_second` `[E]` u16 (atom indices within the molecule), `edge_kind` `[E]`
/// u8, `edge_ptr` `[M+1]` i64, `validation` `[M]` u8 (0/1), `reference_mol` `[R]` i64 (molecule
/// indices), `reference_x` `[Nr, 3]`, `reference_sigma` `[Nr]`, `reference_denoised` `[Nr, 3]`
/// f64 (Å, the reference positions are float64, not the rounded training positions); header
/// metadata `concord_export`: JSON provenance.
pub fn export_structures(config: &Config, out: &Path, reference: usize) -> Result<ExportSummary> {
    let init = config.training.init.as_ref().ok_or_else(|| {
        Error::invalid(
            "export needs training.init: the model file whose elements and graph scheme the \
             exported data use, and which the external trainer continues",
        )
    })?;
    let (model, _) = file::load(init, Device::Cpu, Precision::Float64)?;
    let Some(denoiser) = model.denoiser() else {
        return Err(Error::invalid(format!(
            "{} has no structure generator (denoiser) to train",
            init.display()
        )));
    };
    let raw = datasets::read(config)?;
    let samples = datasets::samples(&raw, &model, false)?;
    drop(raw);
    if samples.structures.is_empty() {
        return Err(Error::invalid(
            "the config lists no structure data (a dataset with tasks = [\"structure\"])",
        ));
    }
    let t = &config.training;
    let (train_set, val_set) = datasets::split(samples, t.validation_fraction, t.seed);
    let mut arrays = Arrays::default();
    let mut validation = Vec::new();
    for (set, flag) in [(&train_set.structures, 0), (&val_set.structures, 1)] {
        for s in set {
            arrays.push(s);
            validation.push(flag);
        }
    }
    let reference = reference.min(val_set.structures.len());
    let refs: Vec<&GraphSample> = val_set.structures.iter().take(reference).collect();
    let [rx, rsigma, rd] = reference_outputs(&model, &refs)?;
    let first_val = train_set.structures.len() as i64;
    let reference_mol: Vec<i64> = (0..reference as i64).map(|i| first_val + i).collect();
    let summary = ExportSummary {
        molecules: validation.len(),
        validation: val_set.structures.len(),
        atoms: arrays.species.len(),
        edges: arrays.first.len(),
        reference,
    };
    let provenance = serde_json::json!({
        "init": init.display().to_string(),
        "datasets": config.dataset.iter().map(|d| d.path.display().to_string()).collect::<Vec<_>>(),
        "elements": model.element_symbols(),
        "edge_kinds": denoiser.config().edges.n_kinds(),
        "validation_fraction": t.validation_fraction,
        "seed": t.seed,
        "summary": &summary,
    });
    let (n, e, m, r) = (
        summary.atoms,
        summary.edges,
        summary.molecules,
        rsigma.len(),
    );
    let tensors = vec![
        ("species".to_string(), bytes_u8(&arrays.species, vec![n])?),
        (
            "positions".into(),
            floats_f32(&arrays.positions, vec![n, 3]),
        ),
        ("atom_ptr".into(), ints(&arrays.atom_ptr, vec![m + 1])),
        ("edge_first".into(), indices_u16(&arrays.first, vec![e])?),
        ("edge_second".into(), indices_u16(&arrays.second, vec![e])?),
        ("edge_kind".into(), bytes_u8(&arrays.kind, vec![e])?),
        ("edge_ptr".into(), ints(&arrays.edge_ptr, vec![m + 1])),
        ("validation".into(), bytes_u8(&validation, vec![m])?),
        (
            "reference_mol".into(),
            ints(&reference_mol, vec![reference]),
        ),
        ("reference_x".into(), floats(&rx, vec![r, 3])),
        ("reference_sigma".into(), floats(&rsigma, vec![r])),
        ("reference_denoised".into(), floats(&rd, vec![r, 3])),
    ];
    let info = HashMap::from([("concord_export".to_string(), provenance.to_string())]);
    let bytes = safetensors::serialize(tensors, Some(info))
        .map_err(|e| Error::invalid(format!("serialising the export: {e}")))?;
    crate::io::write_atomic(out, &bytes)?;
    Ok(summary)
}

/// Writes to `out` the model of `model_path` with every parameter replaced by the tensor of
/// the same name in the safetensors file `parameters` (all of them, float64, same shapes; as
/// the external trainer writes them). The training provenance becomes the JSON under the
/// parameters file's `concord_training` metadata key, with the starting model's record kept
/// under `init`.
pub fn import_parameters(model_path: &Path, parameters: &Path, out: &Path) -> Result<()> {
    crate::io::files::check_not_input(out, &[model_path, parameters])?;
    let (mut model, meta) = file::load(model_path, Device::Cpu, Precision::Float64)?;
    let bytes = std::fs::read(parameters).map_err(|e| Error::io(parameters, e))?;
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::ModelFile {
            path: parameters.to_path_buf(),
            message: format!("corrupt or truncated tensor data: {e}"),
        })?;
    let external = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("concord_training"))
        .map(|s| serde_json::from_str::<serde_json::Value>(s))
        .transpose()
        .map_err(|e| Error::ModelFile {
            path: parameters.to_path_buf(),
            message: format!("its concord_training metadata is not JSON: {e}"),
        })?
        .unwrap_or(serde_json::Value::Null);
    file::load_variables(&mut model.vs, &bytes, parameters, false)?;
    let training = serde_json::json!({
        "external": external,
        "parameters": parameters.display().to_string(),
        "init": {"path": model_path.display().to_string(), "training": meta.training},
    });
    file::save(&model, out, training)
}
