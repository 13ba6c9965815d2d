//! The model file: one safetensors file holding every parameter (float64) and, in its header
//! metadata under the key `concord`, a JSON [`Metadata`] record (format version, elements,
//! cutoff, receptive field, units, architecture, training provenance, code version).
//!
//! Files are written atomically. Loading checks the format name and version, the presence and
//! shape of every parameter, and reports corrupt or truncated files as [`Error::ModelFile`].
//!
//! Integrity (format version 2): the metadata carries `checksum`, the SHA-256 of every tensor
//! (name, shape, dtype, bytes, in name order) and of the metadata itself (serialised without the
//! checksum); loading recomputes it and refuses a file whose tensors or metadata were changed.
//! Version-1 files (written before checksums) are still read, unverified.

use std::path::Path;

use safetensors::SafeTensors;

use crate::error::{Error, Result};
use crate::model::ModelConfig;
#[cfg(feature = "torch")]
pub use torch::*;

/// The format name recorded in every model file.
pub const FORMAT_NAME: &str = "concord-model";
/// The model-file format version this build writes (it also reads version 1, which has no
/// checksum).
pub const FORMAT_VERSION: u32 = 2;

/// One tensor's little-endian bytes with its dtype and shape, for `safetensors::serialize`
/// (model files here; the external trainer's data in `crate::train::export`).
pub struct TensorBytes {
    /// Element type.
    pub dtype: safetensors::Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// The elements, little-endian.
    pub bytes: Vec<u8>,
}

impl safetensors::View for TensorBytes {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Units of a model's inputs and outputs (always eV and Å inside Concord).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Units {
    /// Energy unit ("eV").
    pub energy: String,
    /// Length unit ("angstrom").
    pub length: String,
}

/// Everything a model file says about itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Model-file format version.
    pub format_version: u32,
    /// Version of Concord that wrote the file.
    pub code_version: String,
    /// Element symbols in species order.
    pub elements: Vec<String>,
    /// Cutoff of one message-passing layer, Å.
    pub cutoff: f64,
    /// Receptive field (layers x cutoff), Å: the ghost cutoff an engine must provide.
    pub receptive_field: f64,
    /// Units.
    pub units: Units,
    /// Architecture.
    pub config: ModelConfig,
    /// Training provenance (config, data files, epochs, metrics); free-form JSON.
    pub training: serde_json::Value,
    /// False when the training that produced these parameters fitted no energies or forces
    /// (a structure generator trained on structures only): such a model gives no energies
    /// or forces ([`crate::Error::Unsupported`]). Written only when false; older files: true.
    #[serde(
        default = "energy_trained_default",
        skip_serializing_if = "Clone::clone"
    )]
    pub energy_trained: bool,
    /// `sha256:<hex>` of the tensors and of this record without the checksum (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Files without the `energy_trained` key had their energy heads trained.
fn energy_trained_default() -> bool {
    true
}

/// The checksum of a model file's tensors (`st`) and metadata (`meta`, whose own `checksum`
/// is left out): `sha256:<hex>`.
pub fn checksum(st: &SafeTensors, meta: &Metadata) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut names = st.names();
    names.sort();
    for name in names {
        let Ok(view) = st.tensor(name) else { continue };
        h.update(name.as_bytes());
        h.update([0u8]);
        for &d in view.shape() {
            h.update((d as u64).to_le_bytes());
        }
        h.update(format!("{:?}", view.dtype()).as_bytes());
        h.update(view.data());
    }
    let unsigned = Metadata {
        checksum: None,
        ..meta.clone()
    };
    h.update(serde_json::to_vec(&unsigned).unwrap_or_default());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Rewrites model-file `bytes` as format [`FORMAT_VERSION`] with a fresh checksum over its
/// current tensors and metadata (for tools that edit a file on purpose, e.g. to upgrade a
/// version-1 file); the metadata must otherwise be valid. `path` names the file in errors.
pub fn resign(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    rewrite(bytes, path, |_| Ok(()))
}

/// Model-file `bytes` with its metadata changed by `edit`, re-signed; the file must be intact
/// (its checksum is verified first) and the edited metadata valid. `path` names the file in
/// errors.
pub fn edit_metadata(
    bytes: &[u8],
    path: &Path,
    edit: impl FnOnce(&mut Metadata) -> Result<()>,
) -> Result<Vec<u8>> {
    read_metadata(bytes, path)?;
    rewrite(bytes, path, edit)
}

/// [`resign`] after `edit`.
fn rewrite(
    bytes: &[u8],
    path: &Path,
    edit: impl FnOnce(&mut Metadata) -> Result<()>,
) -> Result<Vec<u8>> {
    let bad = |message: String| Error::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("corrupt or truncated tensor data: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a Concord model file: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("concord"))
        .ok_or_else(|| bad("no Concord metadata (not a Concord model file)".into()))?;
    let mut meta: Metadata =
        serde_json::from_str(json).map_err(|e| bad(format!("invalid metadata: {e}")))?;
    edit(&mut meta)?;
    check_consistent(&meta).map_err(bad)?;
    meta.format_version = FORMAT_VERSION;
    meta.checksum = Some(checksum(&st, &meta));
    let json = serde_json::to_string(&meta).map_err(|e| bad(e.to_string()))?;
    let info = std::collections::HashMap::from([("concord".to_string(), json)]);
    let mut tensors: Vec<(String, safetensors::tensor::TensorView)> = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors::serialize(tensors, Some(info)).map_err(|e| bad(format!("serialising: {e}")))
}

/// Appends `record` to the list under `key` of a model file's provenance `training`.
pub fn record_edit(training: &mut serde_json::Value, key: &str, record: serde_json::Value) {
    if !training.is_object() {
        *training = serde_json::json!({"before": training.clone()});
    }
    let edits = training.as_object_mut().expect("an object").entry(key);
    match edits.or_insert_with(|| serde_json::json!([])) {
        serde_json::Value::Array(list) => list.push(record),
        other => *other = serde_json::json!([other.clone(), record]),
    }
}

/// Parses and checks the metadata of model-file bytes (`path` names the file in errors).
pub fn read_metadata(bytes: &[u8], path: &Path) -> Result<Metadata> {
    let bad = |message: String| Error::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| {
        bad(format!(
            "not a Concord model file (corrupt or truncated): {e}"
        ))
    })?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("concord"))
        .ok_or_else(|| bad("no Concord metadata (not a Concord model file)".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(format!("metadata is not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(bad(format!("metadata 'format' is not '{FORMAT_NAME}'")));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if !matches!(version, Some(1) | Some(2)) {
        return Err(bad(format!(
            "format version {} is not supported (this build reads versions 1 and \
             {FORMAT_VERSION})",
            version.map_or("missing".to_string(), |v| v.to_string())
        )));
    }
    let meta: Metadata =
        serde_json::from_value(value).map_err(|e| bad(format!("invalid metadata: {e}")))?;
    check_consistent(&meta).map_err(bad)?;
    if meta.format_version >= 2 {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("corrupt or truncated tensor data: {e}")))?;
        let stored = meta
            .checksum
            .as_deref()
            .ok_or_else(|| bad("format version 2 without a checksum".into()))?;
        if checksum(&st, &meta) != stored {
            return Err(bad(
                "checksum mismatch: the parameters or the metadata were changed after the \
                 file was written (or the file is corrupt)"
                    .into(),
            ));
        }
    }
    Ok(meta)
}

/// The top-level `elements`, `cutoff`, `receptive_field` and `units` repeat what `config`
/// says (for readers of the JSON); the computation uses `config`, so any disagreement means an
/// edited or corrupt file and is refused.
fn check_consistent(meta: &Metadata) -> std::result::Result<(), String> {
    let c = &meta.config;
    let symbols: Vec<String> = c
        .elements
        .iter()
        .map(|&z| crate::elements::symbol(z).map(str::to_string))
        .collect::<Result<_>>()
        .map_err(|e| format!("config.elements: {e}"))?;
    if symbols != meta.elements {
        return Err(format!(
            "metadata 'elements' [{}] disagrees with the architecture's elements [{}]",
            meta.elements.join(" "),
            symbols.join(" ")
        ));
    }
    if meta.cutoff != c.encoder.cutoff {
        return Err(format!(
            "metadata 'cutoff' {} Å disagrees with the architecture's {} Å",
            meta.cutoff, c.encoder.cutoff
        ));
    }
    if meta.receptive_field != c.encoder.receptive_field() {
        return Err(format!(
            "metadata 'receptive_field' {} Å disagrees with layers x cutoff = {} Å",
            meta.receptive_field,
            c.encoder.receptive_field()
        ));
    }
    if meta.units.energy != "eV" || meta.units.length != "angstrom" {
        return Err(format!(
            "units {} / {} are not supported (Concord models are in eV and angstrom)",
            meta.units.energy, meta.units.length
        ));
    }
    if let Some(s) = c.generator.and_then(|g| g.sampler_steps) {
        crate::model::config::check_sampler_steps(s)
            .map_err(|e| format!("generator.sampler_steps = {e}"))?;
    }
    if let Some(g) = c.generator {
        crate::model::config::check_sampler_churn(g.sampler_churn, g.sampler_churn_max_sigma)
            .map_err(|e| format!("generator.{e}"))?;
    }
    if let Some(range) = c.encoder.zbl {
        crate::model::zbl::Zbl::new(&c.elements, range).map_err(|e| format!("encoder.zbl: {e}"))?;
    }
    Ok(())
}

/// Refuses an architecture that needs more parameters than the file holds (corrupt metadata),
/// before anything of that size is allocated: every layer holds at least `F x F` and
/// `radial_basis x 3F` weights, and the embedding `n_elements x F`.
pub(crate) fn check_size(config: &ModelConfig, bytes: &[u8], path: &Path) -> Result<()> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| Error::ModelFile {
        path: path.to_path_buf(),
        message: format!("not a Concord model file (corrupt or truncated): {e}"),
    })?;
    let stored = header
        .tensors()
        .values()
        .map(|t| t.shape.iter().product::<usize>())
        .fold(0usize, usize::saturating_add);
    let c = &config.encoder;
    let (f, l, rb) = (
        c.features.max(0) as u128,
        c.layers.max(0) as u128,
        c.radial_basis.max(0) as u128,
    );
    let per_layer = (f * f).saturating_add((3 * f).saturating_mul(rb));
    let needed = l
        .saturating_mul(per_layer)
        .saturating_add(config.elements.len() as u128 * f);
    if needed > stored as u128 {
        return Err(Error::ModelFile {
            path: path.to_path_buf(),
            message: format!(
                "the architecture in the metadata ({} features, {} layers, {} radial basis \
                 functions) needs at least {needed} parameters but the file holds {stored}",
                c.features, c.layers, c.radial_basis
            ),
        });
    }
    Ok(())
}

/// Writing and loading libtorch models.
#[cfg(feature = "torch")]
mod torch {
    use std::collections::HashMap;
    use std::path::Path;

    use safetensors::{Dtype, SafeTensors};
    use tch::{Device, Kind, Tensor};

    use super::{
        check_size, read_metadata, Metadata, TensorBytes, Units, FORMAT_NAME, FORMAT_VERSION,
    };
    use crate::error::{Error, Result};
    use crate::io::write_atomic;
    use crate::model::{Model, Precision};

    /// Builds the metadata record of `model` with the given training provenance.
    pub fn metadata(model: &Model, training: serde_json::Value) -> Metadata {
        Metadata {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            code_version: env!("CARGO_PKG_VERSION").to_string(),
            elements: model.element_symbols(),
            cutoff: model.cutoff(),
            receptive_field: model.receptive_field(),
            units: Units {
                energy: "eV".into(),
                length: "angstrom".into(),
            },
            config: model.config().clone(),
            training,
            energy_trained: true,
            checksum: None,
        }
    }

    /// Serialises every variable of `vs` (float64) with `meta` into safetensors bytes.
    /// Metadata of format 2 or later is written with its [`super::checksum`].
    pub fn to_bytes(vs: &tch::nn::VarStore, meta: &Metadata) -> Result<Vec<u8>> {
        let encode = |m: &Metadata| -> Result<Vec<u8>> {
            let json = serde_json::to_string(m).map_err(|e| Error::invalid(e.to_string()))?;
            let info = HashMap::from([("concord".to_string(), json)]);
            to_bytes_tensors(vs.variables(), info)
        };
        let mut meta = Metadata {
            checksum: None,
            ..meta.clone()
        };
        let unsigned = encode(&meta)?;
        if meta.format_version < 2 {
            return Ok(unsigned);
        }
        let st = SafeTensors::deserialize(&unsigned)
            .map_err(|e| Error::invalid(format!("serialising model: {e}")))?;
        meta.checksum = Some(super::checksum(&st, &meta));
        encode(&meta)
    }

    /// Serialises named tensors (as float64) with header metadata `info` into safetensors bytes.
    pub fn to_bytes_tensors(
        tensors: impl IntoIterator<Item = (String, Tensor)>,
        info: HashMap<String, String>,
    ) -> Result<Vec<u8>> {
        let mut views = Vec::new();
        for (name, t) in tensors {
            let t = t
                .f_to_kind(Kind::Double)?
                .f_to_device(Device::Cpu)?
                .f_contiguous()?;
            let values = Vec::<f64>::try_from(t.f_flatten(0, -1)?)?;
            let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
            let shape = t.size().iter().map(|&d| d as usize).collect();
            views.push((
                name,
                TensorBytes {
                    dtype: Dtype::F64,
                    shape,
                    bytes,
                },
            ));
        }
        safetensors::serialize(views, Some(info))
            .map_err(|e| Error::invalid(format!("serialising model: {e}")))
    }

    /// Writes `model` with `training` provenance to `path` atomically, its energy head marked
    /// as trained.
    pub fn save(model: &Model, path: &Path, training: serde_json::Value) -> Result<()> {
        save_fitted(model, path, training, true)
    }

    /// [`save`], with `energy_trained`: whether the training fitted energies or forces
    /// ([`Metadata::energy_trained`]).
    pub fn save_fitted(
        model: &Model,
        path: &Path,
        training: serde_json::Value,
        energy_trained: bool,
    ) -> Result<()> {
        let meta = Metadata {
            energy_trained,
            ..metadata(model, training)
        };
        write_atomic(path, &to_bytes(&model.vs, &meta)?)
    }

    /// Copies the tensors of model-file `bytes` into the variables of `vs` (every variable must be
    /// present with the right shape). With `allow_extra`, tensors that are not variables (optimiser
    /// state in a checkpoint) are ignored; otherwise they are an error.
    pub fn load_variables(
        vs: &mut tch::nn::VarStore,
        bytes: &[u8],
        path: &Path,
        allow_extra: bool,
    ) -> Result<()> {
        let bad = |message: String| Error::ModelFile {
            path: path.to_path_buf(),
            message,
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("corrupt or truncated tensor data: {e}")))?;
        let vars = vs.variables();
        for (name, var) in &vars {
            let view = st
                .tensor(name)
                .map_err(|_| bad(format!("parameter '{name}' is missing")))?;
            let expected: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
            if view.dtype() != Dtype::F64 || view.shape() != expected.as_slice() {
                return Err(bad(format!(
                    "parameter '{name}' has shape {:?} {:?}, expected {expected:?} F64",
                    view.shape(),
                    view.dtype()
                )));
            }
            let values: Vec<f64> = view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8")))
                .collect();
            if values.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("parameter '{name}' holds non-finite values")));
            }
            let t = Tensor::from_slice(&values)
                .f_view(var.size().as_slice())?
                .f_to_kind(var.kind())?
                .f_to_device(var.device())?;
            let mut var = var.shallow_clone();
            tch::no_grad(|| var.f_copy_(&t))?;
        }
        if !allow_extra && st.len() != vars.len() {
            return Err(bad(format!(
                "{} tensors in the file, the architecture has {}",
                st.len(),
                vars.len()
            )));
        }
        Ok(())
    }

    /// Loads a model file onto `device` in `precision`.
    pub fn load(path: &Path, device: Device, precision: Precision) -> Result<(Model, Metadata)> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        from_bytes(&bytes, path, device, precision)
    }

    /// Loads a model from the bytes of a model file (`path` names the file in errors) onto
    /// `device` in `precision`.
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        device: Device,
        precision: Precision,
    ) -> Result<(Model, Metadata)> {
        let meta = read_metadata(bytes, path)?;
        check_size(&meta.config, bytes, path)?;
        let mut model = Model::new(meta.config.clone(), device, precision)?;
        load_variables(&mut model.vs, bytes, path, false)?;
        Ok((model, meta))
    }
}
