//! Widening a trained potential (Net2Net-style, function-preserving): a model file with `F`
//! features per layer becomes one with `G > F` that computes the same energies and forces.
//!
//! Every weight that *reads* a new channel (a new scalar or vector feature, a new hidden unit)
//! starts at zero, so the old outputs are unchanged; every weight that *writes* a new channel
//! starts random (uniform, ±1/sqrt(fan-in)), so the new channels carry signal and receive
//! gradients from the first step of a continued training (`training.init`). The `[3F]`
//! outputs of the message and update blocks are three `F` chunks, each widened on its own.
//! Needs no libtorch: the file's tensors are rewritten directly.

use std::path::Path;

use rand::{Rng, SeedableRng};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::model::file::{self, TensorBytes};

/// How one axis of a parameter maps from the old width to the new.
#[derive(Clone, Copy)]
enum Axis {
    /// Unchanged (species, radial basis, the scalar output).
    Same,
    /// `k` chunks of `old` entries become `k` chunks of `new` (k = 1: one axis of features;
    /// 3: the `[3F]` split into gates); entries `old..new` of each chunk are new.
    Chunks { k: usize, old: usize, new: usize },
}

impl Axis {
    /// The new length, from the old one.
    fn len(self, old_len: usize) -> usize {
        match self {
            Axis::Same => old_len,
            Axis::Chunks { k, new, .. } => k * new,
        }
    }

    /// Whether an old axis of `len` entries is what this map widens.
    fn fits(self, len: usize) -> bool {
        match self {
            Axis::Same => true,
            Axis::Chunks { k, old, .. } => len == k * old,
        }
    }

    /// The old index of new index `j`, or `None` for a new entry.
    fn old_index(self, j: usize) -> Option<usize> {
        match self {
            Axis::Same => Some(j),
            Axis::Chunks { old, new, .. } => (j % new < old).then_some(j / new * old + j % new),
        }
    }
}

/// The plan for one parameter: its row and column axes (a vector is one row axis), and the
/// value of a new row's entries (`row_scale`: uniform ±scale; a new column in an old row is
/// always zero, except in the embedding, whose columns are the features it writes).
struct Plan {
    rows: Axis,
    cols: Axis,
    row_scale: f64,
    col_scale: f64,
}

/// The plan for parameter `name` (widening `f` features to `g`; the readout's hidden layer
/// `f/2 + 1` to `g/2 + 1`; `basis` radial functions), or an error for a parameter it does not
/// know (a generator's).
fn plan(name: &str, f: usize, g: usize, basis: usize) -> Result<Plan> {
    let features = |k| Axis::Chunks { k, old: f, new: g };
    let (plain, both, chunks) = (features(1), features(2), features(3));
    let hidden = Axis::Chunks {
        k: 1,
        old: f / 2 + 1,
        new: g / 2 + 1,
    };
    let writes = |rows, cols, fan_in: usize| Plan {
        rows,
        cols,
        row_scale: 1.0 / (fan_in as f64).sqrt(),
        col_scale: 0.0,
    };
    // New bias entries start at zero.
    let bias = |rows| Plan {
        rows,
        cols: Axis::Same,
        row_scale: 0.0,
        col_scale: 0.0,
    };
    // The per-layer blocks' parameters by their role: "message.phi1.weight", ...
    let key = match name.split('.').collect::<Vec<_>>()[..] {
        ["encoder", block, param, leaf] if block.starts_with("message") => {
            format!("message.{param}.{leaf}")
        }
        ["encoder", block, param, leaf] if block.starts_with("update") => {
            format!("update.{param}.{leaf}")
        }
        _ => name.to_string(),
    };
    let p = match key.as_str() {
        "encoder.avg_neighbors" | "energy.e_ref" | "energy.scale" | "energy.readout2.bias" => {
            bias(Axis::Same)
        }
        "encoder.embedding" => Plan {
            rows: Axis::Same,
            cols: plain,
            row_scale: 0.0,
            // Uniform with unit variance, as the embedding's own initialisation (randn).
            col_scale: 3f64.sqrt(),
        },
        "energy.readout1.weight" => writes(hidden, plain, g),
        "energy.readout1.bias" => bias(hidden),
        "energy.readout2.weight" => writes(Axis::Same, hidden, g / 2 + 1),
        "message.filter.weight" => writes(chunks, Axis::Same, basis),
        "message.phi1.weight" | "update.u.weight" | "update.v.weight" => writes(plain, plain, g),
        "message.phi2.weight" | "update.a2.weight" => writes(chunks, plain, g),
        "update.a1.weight" => writes(plain, both, 2 * g),
        "message.phi1.bias" | "update.a1.bias" => bias(plain),
        "message.filter.bias" | "message.phi2.bias" | "update.a2.bias" => bias(chunks),
        _ => {
            return Err(Error::invalid(format!(
                "cannot widen parameter '{name}' (only potentials without a structure \
                 generator can be widened)"
            )))
        }
    };
    Ok(p)
}

/// `old` (shape `shape`, row-major; a vector is `[n]`) widened by `plan`, new entries drawn
/// from `rng`; `None` when its shape is not the one `plan` widens.
fn widen_tensor(
    old: &[f64],
    shape: &[usize],
    plan: &Plan,
    rng: &mut impl Rng,
) -> Option<(Vec<f64>, Vec<usize>)> {
    let (r0, c0) = match *shape {
        [] => (1, 1),
        [n] => (n, 1),
        [r, c] => (r, c),
        _ => return None,
    };
    // A vector or scalar has one column, which stays.
    let cols = if shape.len() == 2 {
        plan.cols
    } else {
        Axis::Same
    };
    if !plan.rows.fits(r0) || !cols.fits(c0) {
        return None;
    }
    let (r1, c1) = (plan.rows.len(r0), cols.len(c0));
    let mut out = Vec::with_capacity(r1 * c1);
    for i in 0..r1 {
        let oi = plan.rows.old_index(i);
        for j in 0..c1 {
            let oj = cols.old_index(j);
            let value = match (oi, oj) {
                (Some(a), Some(b)) => old[a * c0 + b],
                (None, _) => uniform(rng, plan.row_scale),
                (Some(_), None) => uniform(rng, plan.col_scale),
            };
            out.push(value);
        }
    }
    let mut new_shape = vec![r1, c1];
    new_shape.truncate(shape.len());
    Some((out, new_shape))
}

/// Uniform on `[-scale, scale]` (exactly 0 for scale 0, without drawing).
fn uniform(rng: &mut impl Rng, scale: f64) -> f64 {
    if scale == 0.0 {
        0.0
    } else {
        rng.gen_range(-scale..=scale)
    }
}

/// The model file `bytes` (read from `path`, named in errors) widened to `features` features
/// per layer, new channels drawn from `seed`: a verified, checksummed model file whose
/// provenance records the change (`widened`). Refuses generators, vector-normalised encoders
/// (their normalisation divides by the width) and a width that is not larger.
pub fn widen(bytes: &[u8], path: &Path, features: usize, seed: u64) -> Result<Vec<u8>> {
    let mut meta = file::read_metadata(bytes, path)?;
    let enc = meta.config.encoder;
    let f = enc.features as usize;
    if meta.config.generator.is_some() {
        return Err(Error::invalid(format!(
            "{}: only a potential can be widened; this model has a structure generator",
            path.display()
        )));
    }
    if enc.vector_norm {
        return Err(Error::invalid(format!(
            "{}: a vector-normalised encoder cannot be widened without changing its function",
            path.display()
        )));
    }
    if features <= f {
        return Err(Error::invalid(format!(
            "--features {features}: must be more than the model's {f}"
        )));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::ModelFile {
        path: path.to_path_buf(),
        message: format!("corrupt or truncated tensor data: {e}"),
    })?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut names = st.names();
    names.sort();
    let mut tensors = Vec::new();
    for name in names {
        let view = st.tensor(name).map_err(|e| Error::invalid(e.to_string()))?;
        if view.dtype() != Dtype::F64 {
            return Err(Error::invalid(format!(
                "{name}: parameters must be float64"
            )));
        }
        let old: Vec<f64> = view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let p = plan(name, f, features, enc.radial_basis as usize)?;
        let (values, shape) = widen_tensor(&old, view.shape(), &p, &mut rng).ok_or_else(|| {
            Error::invalid(format!(
                "{}: parameter '{name}' has shape {:?}, not what {f} features give",
                path.display(),
                view.shape()
            ))
        })?;
        let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        tensors.push((
            name.to_string(),
            TensorBytes {
                dtype: Dtype::F64,
                shape,
                bytes,
            },
        ));
    }
    meta.config.encoder.features = features as i64;
    let record = serde_json::json!({"from": f, "to": features, "seed": seed});
    file::record_edit(&mut meta.training, "widened", record);
    meta.checksum = None;
    let json = serde_json::to_string(&meta).map_err(|e| Error::invalid(e.to_string()))?;
    let info = std::collections::HashMap::from([("concord".to_string(), json)]);
    let unsigned = safetensors::serialize(tensors, Some(info))
        .map_err(|e| Error::invalid(format!("serialising model: {e}")))?;
    file::resign(&unsigned, path)
}
