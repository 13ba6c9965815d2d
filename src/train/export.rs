//! Training data for a trainer outside this process (the PyTorch trainer that runs on a GPU
//! machine, `scripts/gpu/train.py`), and the way its parameters come back into a
//! model file.
//!
//! [`export_data`] writes one safetensors file with the data of a training config as the
//! trainer here sees them: species indices of the `training.init` model; the structure data
//! (centred PM6 positions, every topological edge with its kind under that model's graph
//! scheme) and the labelled frames (positions, neighbour pairs within the cutoff, energies,
//! forces); the trainer's own validation split; the energy normalisation the trainer would fit;
//! and reference outputs of the init model in float64 (denoised positions; energies and forces),
//! so that the other implementation proves it computes the same functions before it trains.
//! [`import_parameters`] copies trained parameters (every tensor of the model, float64) into a
//! model file, which is then written and checksummed by the one writer of model files.

use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::Dtype;
use serde_json::{Map, Value};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::file::{self, TensorBytes};
use crate::model::noise::standard_normal;
use crate::model::zbl::Zbl;
use crate::model::{GraphBatch, Model, Precision};
use crate::train::batch_forward::{energies_and_forces, PotentialLoss};
use crate::train::datasets;
use crate::train::generator_losses::graph_batch;
use crate::train::planes;
use crate::train::samples::{collate, link_partners, GraphSample, Sample, Selection};
use crate::train::trainer::fit_normalisation;
use crate::train::Config;

/// What the export accumulates besides its tensors: the summary and the byte-plane
/// specifications (header metadata `concord_planes`).
#[derive(Default)]
struct Written {
    summary: ExportSummary,
    specs: Map<String, Value>,
}

/// Seed of the reference inputs' noise.
const REFERENCE_SEED: u64 = 20261204;

/// What [`export_data`] wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExportSummary {
    /// Structure-data molecules written (training + validation).
    pub molecules: usize,
    /// Of which in the validation split.
    pub validation: usize,
    /// Atoms of the molecules.
    pub atoms: usize,
    /// Directed topological edges of the molecules.
    pub edges: usize,
    /// Labelled frames written (training + validation).
    pub frames: usize,
    /// Of which in the validation split.
    pub frame_validation: usize,
    /// Atoms of the frames.
    pub frame_atoms: usize,
    /// Molecules and frames with reference outputs.
    pub reference: usize,
}

fn ints(v: &[i64], shape: Vec<usize>) -> TensorBytes {
    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    TensorBytes {
        dtype: Dtype::I64,
        shape,
        bytes,
    }
}

/// Small non-negative integers (species, edge kinds, flags) as U8.
fn bytes_u8(v: &[i64], shape: Vec<usize>) -> Result<TensorBytes> {
    let bytes = v
        .iter()
        .map(|&x| u8::try_from(x).map_err(|_| Error::invalid(format!("{x} does not fit a byte"))))
        .collect::<Result<_>>()?;
    Ok(TensorBytes {
        dtype: Dtype::U8,
        shape,
        bytes,
    })
}

/// Atom indices within a molecule as U16.
fn indices_u16(v: &[i64], shape: Vec<usize>) -> Result<TensorBytes> {
    let mut bytes = Vec::with_capacity(2 * v.len());
    for &x in v {
        let x = u16::try_from(x)
            .map_err(|_| Error::invalid(format!("a molecule of more than {} atoms", u16::MAX)))?;
        bytes.extend(x.to_le_bytes());
    }
    Ok(TensorBytes {
        dtype: Dtype::U16,
        shape,
        bytes,
    })
}

fn floats(v: &[f64], shape: Vec<usize>) -> TensorBytes {
    let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    TensorBytes {
        dtype: Dtype::F64,
        shape,
        bytes,
    }
}

/// Concatenated molecules or frames: species `[N]`, positions `[N*3]` (Å), atom offsets
/// `[M+1]`, edges (receiver, sender: atom indices within the molecule; kind, for graphs)
/// `[E]` each, edge offsets `[M+1]`, validation flags `[M]`.
#[derive(Default)]
struct Arrays {
    species: Vec<i64>,
    positions: Vec<f64>,
    atom_ptr: Vec<i64>,
    first: Vec<i64>,
    second: Vec<i64>,
    kind: Vec<i64>,
    edge_ptr: Vec<i64>,
    validation: Vec<i64>,
}

impl Arrays {
    fn push(
        &mut self,
        species: &[i64],
        positions: &[[f64; 3]],
        edges: (&[i64], &[i64]),
        val: bool,
    ) {
        if self.atom_ptr.is_empty() {
            self.atom_ptr.push(0);
            self.edge_ptr.push(0);
        }
        self.species.extend_from_slice(species);
        self.positions.extend(positions.iter().flatten());
        self.atom_ptr.push(self.species.len() as i64);
        self.first.extend_from_slice(edges.0);
        self.second.extend_from_slice(edges.1);
        self.edge_ptr.push(self.first.len() as i64);
        self.validation.push(i64::from(val));
    }

    fn push_graph(&mut self, s: &GraphSample, val: bool) {
        let to_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let (first, second) = (to_i64(&s.edges.first), to_i64(&s.edges.second));
        self.push(&s.species, &s.positions, (&first, &second), val);
        self.kind.extend(s.edges.kind.iter().map(|&k| k as i64));
    }

    /// The tensors under `prefix`; `edges` adds the edges with their kinds. Positions go into
    /// byte planes, their specification into `specs`.
    fn tensors(
        &self,
        prefix: &str,
        edges: bool,
        specs: &mut Map<String, Value>,
    ) -> Result<Vec<(String, TensorBytes)>> {
        let (n, e, m) = (self.species.len(), self.first.len(), self.validation.len());
        let name = |s: &str| format!("{prefix}{s}");
        let positions = planes::fixed_point(
            &name("positions"),
            &self.positions,
            planes::POSITION_STEP,
            vec![n, 3],
            specs,
        )?;
        let mut out = vec![
            (name("species"), bytes_u8(&self.species, vec![n])?),
            (name("positions"), positions),
            (name("atom_ptr"), ints(&self.atom_ptr, vec![m + 1])),
            (name("validation"), bytes_u8(&self.validation, vec![m])?),
        ];
        if edges {
            out.extend([
                (name("edge_first"), indices_u16(&self.first, vec![e])?),
                (name("edge_second"), indices_u16(&self.second, vec![e])?),
                (name("edge_ptr"), ints(&self.edge_ptr, vec![m + 1])),
                (name("edge_kind"), bytes_u8(&self.kind, vec![e])?),
            ]);
        }
        Ok(out)
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
    Ok([flat(&x)?, sigma, flat(&d)?])
}

fn flat(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::try_from(t.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?)
}

/// The structure data: graphs and reference denoiser outputs for the first `reference`
/// validation molecules.
fn structure_tensors(
    model: &Model,
    train: &[GraphSample],
    val: &[GraphSample],
    reference: usize,
    written: &mut Written,
) -> Result<Vec<(String, TensorBytes)>> {
    let mut arrays = Arrays::default();
    for (set, flag) in [(train, false), (val, true)] {
        set.iter().for_each(|s| arrays.push_graph(s, flag));
    }
    let refs: Vec<&GraphSample> = val.iter().take(reference).collect();
    let [x, sigma, d] = reference_outputs(model, &refs)?;
    let mols: Vec<i64> = (0..refs.len()).map(|i| (train.len() + i) as i64).collect();
    let r = sigma.len();
    let summary = &mut written.summary;
    *summary = ExportSummary {
        molecules: train.len() + val.len(),
        validation: val.len(),
        atoms: arrays.species.len(),
        edges: arrays.first.len(),
        reference: refs.len(),
        ..summary.clone()
    };
    let mut out = arrays.tensors("", true, &mut written.specs)?;
    out.extend([
        ("reference_mol".to_string(), ints(&mols, vec![mols.len()])),
        ("reference_x".into(), floats(&x, vec![r, 3])),
        ("reference_sigma".into(), floats(&sigma, vec![r])),
        ("reference_denoised".into(), floats(&d, vec![r, 3])),
    ]);
    Ok(out)
}

/// The labelled frames (molecules only: a periodic frame is an error): positions (the
/// external trainer finds the pairs within the cutoff itself: a pair beyond it adds exactly
/// zero), energies (NaN where absent), forces (zero where absent, flagged), each frame's
/// relative-energy partner (its molecule's lowest-energy frame of the same split, as the
/// trainer links them; -1: none), the fitted energy normalisation, and the init model's
/// float64 energies and forces for the first `reference` validation frames and their
/// partners (with the relative-energy MSE of those pairs) and for the frame deepest inside the
/// ZBL core, and the core's constants.
fn frame_tensors(
    model: &Model,
    train: &[Sample],
    val: &[Sample],
    reference: usize,
    written: &mut Written,
) -> Result<Vec<(String, TensorBytes)>> {
    let mut frames = FrameArrays::default();
    let (firsts, index) = collapse_repeats(train);
    for &(i, copies) in &firsts {
        let s = &train[i];
        frames.push(s, false, copies, s.partner.map_or(-1, |j| index[j] as i64))?;
    }
    let val_index = |j: usize| (firsts.len() + j) as i64;
    for s in val {
        frames.push(s, true, 1, s.partner.map_or(-1, val_index))?;
    }
    let val_frames = val.iter().enumerate().map(|(j, s)| (val_index(j), s));
    let train_frames = firsts
        .iter()
        .enumerate()
        .map(|(k, &(i, _))| (k as i64, &train[i]));
    let close = closest_contact(model, train_frames.chain(val_frames))?;
    let refs = references(model, val, firsts.len(), close, reference)?;
    let (e_ref, scale) = fit_normalisation(train, model.config().elements.len());
    let FrameArrays {
        arrays,
        energy,
        forces,
        has_forces,
        partner,
        repeat,
    } = frames;
    let (n, m) = (arrays.species.len(), energy.len());
    let summary = &mut written.summary;
    *summary = ExportSummary {
        frames: m,
        frame_validation: val.len(),
        frame_atoms: n,
        reference: summary.reference + refs.mols.len(),
        ..summary.clone()
    };
    let mut out = arrays.tensors("frame_", false, &mut written.specs)?;
    let forces = planes::rounded_f32(
        "frame_forces",
        &forces,
        planes::FORCE_MANTISSA_BITS,
        vec![n, 3],
        &mut written.specs,
    )?;
    out.extend([
        ("frame_energy".to_string(), floats(&energy, vec![m])),
        ("frame_forces".into(), forces),
        ("frame_has_forces".into(), bytes_u8(&has_forces, vec![m])?),
        ("frame_partner".into(), ints(&partner, vec![m])),
        ("frame_repeat".into(), bytes_u8(&repeat, vec![m])?),
        ("fitted_e_ref".into(), floats(&e_ref, vec![e_ref.len()])),
        ("fitted_scale".into(), floats(&[scale], vec![])),
    ]);
    out.extend(refs.tensors());
    out.extend(zbl_tensors(model)?);
    Ok(out)
}

/// The ZBL core's constants, `zbl_range` `[]`, `zbl_atomic_numbers` and `zbl_radius` (Å)
/// `[S]`, for a model with the core; nothing otherwise.
fn zbl_tensors(model: &Model) -> Result<Vec<(String, TensorBytes)>> {
    let Some(range) = model.config().encoder.zbl else {
        return Ok(Vec::new());
    };
    let zbl = Zbl::new(&model.config().elements, range)?;
    let k = zbl.radii().len();
    Ok(vec![
        ("zbl_range".into(), floats(&[range], vec![])),
        (
            "zbl_atomic_numbers".into(),
            floats(zbl.atomic_numbers(), vec![k]),
        ),
        ("zbl_radius".into(), floats(zbl.radii(), vec![k])),
    ])
}

/// The init model's float64 outputs on the reference frames, the frames' export indices and
/// the relative-energy MSE of their pairs.
struct References {
    /// Export indices of the frames, `[R]`.
    mols: Vec<i64>,
    /// Energies, eV, `[R]`.
    energy: Vec<f64>,
    /// Forces, eV/Å, flat `[atoms * 3]`.
    forces: Vec<f64>,
    /// Positions, Å, flat `[atoms * 3]` (float64, not the export's rounded ones).
    positions: Vec<f64>,
    /// The relative-energy pairs among them, as positions in `mols`, flat `[P * 2]`.
    pairs: Vec<i64>,
    /// The relative-energy MSE of those pairs ((eV/atom)^2, the trainer's loss term) and P.
    relative: Vec<f64>,
}

impl References {
    /// The `frame_reference_*` tensors.
    fn tensors(&self) -> Vec<(String, TensorBytes)> {
        let (k, r) = (self.mols.len(), self.positions.len() / 3);
        vec![
            ("frame_reference_mol".into(), ints(&self.mols, vec![k])),
            (
                "frame_reference_positions".into(),
                floats(&self.positions, vec![r, 3]),
            ),
            (
                "frame_reference_energy".into(),
                floats(&self.energy, vec![k]),
            ),
            (
                "frame_reference_forces".into(),
                floats(&self.forces, vec![r, 3]),
            ),
            (
                "frame_reference_pairs".into(),
                ints(&self.pairs, vec![self.pairs.len() / 2, 2]),
            ),
            (
                "frame_reference_relative".into(),
                floats(&self.relative, vec![2]),
            ),
        ]
    }
}

/// [`References`] for the first `reference` validation frames (`val`, exported from index
/// `val_start` on), their relative-energy partners and, when given, a frame with a pair inside
/// the ZBL core (`close`: its export index and the frame).
fn references(
    model: &Model,
    val: &[Sample],
    val_start: usize,
    close: Option<(i64, &Sample)>,
    reference: usize,
) -> Result<References> {
    let scored: Vec<usize> = (0..reference.min(val.len())).collect();
    let mut selection = Selection::with_partners(&scored, val);
    // Selections hold references into `val`: their positions are the frames' indices there.
    let position = |s: &Sample| val.iter().position(|v| std::ptr::eq(v, s));
    let mut mols: Vec<i64> = selection
        .samples
        .iter()
        .map(|s| position(s).map(|j| (val_start + j) as i64))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::invalid("a reference frame outside the validation split"))?;
    // The extra frame scores nothing and pairs with nothing: it only adds outputs.
    if let Some((index, s)) = close.filter(|(index, _)| !mols.contains(index)) {
        mols.push(index);
        selection.samples.push(s);
    }
    let batch = collate(&selection, Kind::Double, Device::Cpu)?;
    let (e, f) = energies_and_forces(model, &batch, false)?;
    // The trainer's own loss with only its relative-energy term (weight 1): that term's MSE.
    let relative_only = PotentialLoss {
        energy_weight: 0.0,
        force_weight: 0.0,
        force_huber_delta: None,
        relative_energy_weight: 1.0,
    };
    let (mse, _, _) = relative_only.loss(&batch, &e, &f)?;
    let pairs = selection.pairs.len();
    Ok(References {
        mols,
        pairs: selection
            .pairs
            .iter()
            .flat_map(|&(i, p)| [i as i64, p as i64])
            .collect(),
        relative: vec![mse.f_double_value(&[])?, pairs as f64],
        energy: flat(&e)?,
        forces: flat(&f)?,
        positions: flat(&batch.positions)?,
    })
}

/// The frame (export index, frame) whose closest pair lies deepest inside the model's ZBL
/// core (smallest distance over covalent-radii sum), if a pair of some frame is inside it;
/// `None` for a model without the core.
fn closest_contact<'a>(
    model: &Model,
    frames: impl Iterator<Item = (i64, &'a Sample)>,
) -> Result<Option<(i64, &'a Sample)>> {
    let Some(range) = model.config().encoder.zbl else {
        return Ok(None);
    };
    let zbl = Zbl::new(&model.config().elements, range)?;
    let radius = |sp: i64| zbl.radii()[sp as usize];
    let ratio = |s: &Sample| {
        let mut smallest = f64::INFINITY;
        for (i, a) in s.positions.iter().enumerate() {
            for (j, b) in s.positions.iter().enumerate().skip(i + 1) {
                let d = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt();
                smallest = smallest.min(d / (radius(s.species[i]) + radius(s.species[j])));
            }
        }
        smallest
    };
    Ok(frames
        .map(|(index, s)| (ratio(s), index, s))
        .filter(|&(q, _, _)| q < range)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, index, s)| (index, s)))
}

/// The labelled frames as exported: [`Arrays`] without edges plus the labels, each frame's
/// epoch count and relative-energy partner.
#[derive(Default)]
struct FrameArrays {
    arrays: Arrays,
    energy: Vec<f64>,
    forces: Vec<f64>,
    has_forces: Vec<i64>,
    partner: Vec<i64>,
    repeat: Vec<i64>,
}

impl FrameArrays {
    /// Appends frame `s` (of the validation split: `val`), listed `repeat` times per training
    /// epoch, whose partner is the exported frame `partner` (-1: none).
    fn push(&mut self, s: &Sample, val: bool, repeat: usize, partner: i64) -> Result<()> {
        if s.shift.iter().flatten().any(|&x| x != 0.0) {
            return Err(Error::invalid(format!(
                "frame of '{}' is periodic: the external trainer knows molecules only",
                s.molecule
            )));
        }
        self.arrays.push(&s.species, &s.positions, (&[], &[]), val);
        self.energy.push(s.energy.unwrap_or(f64::NAN));
        self.has_forces.push(i64::from(s.forces.is_some()));
        match &s.forces {
            Some(f) => self.forces.extend(f.iter().flatten()),
            None => self
                .forces
                .extend(std::iter::repeat_n(0.0, 3 * s.n_atoms())),
        }
        self.partner.push(partner);
        self.repeat.push(repeat as i64);
        Ok(())
    }
}

/// The training frames with their dataset's `repeat` collapsed: each distinct frame's first
/// copy in `train` (where the split lists a frame `repeat` times in a row) with its number of
/// copies, and for every index of `train` the position of its frame among those.
fn collapse_repeats(train: &[Sample]) -> (Vec<(usize, usize)>, Vec<usize>) {
    let (mut firsts, mut index) = (Vec::new(), Vec::with_capacity(train.len()));
    let mut i = 0;
    while i < train.len() {
        let copies = train[i].repeat.clamp(1, train.len() - i);
        index.extend(std::iter::repeat_n(firsts.len(), copies));
        firsts.push((i, copies));
        i += copies;
    }
    (firsts, index)
}

/// Writes the data of `config` (its datasets, the model of `training.init`, its validation
/// split) to `out` (gzip-compressed when it ends in `.gz`), with reference outputs for the
/// first `reference` validation molecules and frames.
///
/// Structure data (when the model has a generator and the config lists some): `species` `[N]`
/// u8, `positions` `[N, 3]` (Å; fixed point in byte planes, see [`planes`]), `atom_ptr`
/// `[M+1]` i64, `edge_first`, `edge_second` `[E]` u16 (atom indices within the molecule),
/// `edge_kind` `[E]` u8, `edge_ptr` `[M+1]` i64, `validation` `[M]` u8 (0/1), `reference_mol`
/// `[R]` i64 (molecule indices), `reference_x` `[Nr, 3]`, `reference_sigma` `[Nr]`,
/// `reference_denoised` `[Nr, 3]` f64. Labelled frames (when the config lists energy or force
/// data): `frame_species`, `frame_positions`, `frame_atom_ptr`, `frame_validation` as above (no
/// edges), `frame_energy` `[F]` f64 (eV, NaN: none), `frame_forces` `[Nf, 3]` (eV/Å; rounded
/// float32 in byte planes), `frame_has_forces` `[F]` u8, `frame_repeat` `[F]` u8 (times a
/// training frame enters an epoch: its dataset's `repeat`, written once instead of repeated;
/// 1 for validation frames), `frame_partner` `[F]` i64 (the frame index of its relative-energy
/// partner, -1: none), `frame_reference_mol` (the reference
/// frames, then their partners), `frame_reference_positions`, `frame_reference_energy`,
/// `frame_reference_forces` (f64), `frame_reference_pairs` `[P, 2]` (the relative-energy pairs
/// among them, positions in `frame_reference_mol`), `frame_reference_relative` `[2]` (their
/// relative-energy MSE, (eV/atom)^2, and P); for a model with the ZBL core
/// `zbl_range` `[]`, `zbl_atomic_numbers` and `zbl_radius` (Å) `[S]`, and among the reference
/// frames the one whose closest pair lies deepest inside the core; and
/// the normalisation the trainer fits, `fitted_e_ref` `[S]` (eV) and `fitted_scale` `[]` (eV).
/// Header metadata `concord_export`: JSON provenance; `concord_planes`: how to reassemble the
/// byte-plane tensors. Reference positions are float64, not the rounded training positions.
pub fn export_data(config: &Config, out: &Path, reference: usize) -> Result<ExportSummary> {
    let init = config.training.init.as_ref().ok_or_else(|| {
        Error::invalid(
            "export needs training.init: the model file whose elements and graph scheme the \
             exported data use, and which the external trainer continues",
        )
    })?;
    let (model, _) = file::load(init, Device::Cpu, Precision::Float64)?;
    let raw = datasets::read(config)?;
    let samples = datasets::samples(&raw, &model, false)?;
    drop(raw);
    let t = &config.training;
    let (mut train_set, mut val_set) = datasets::split(samples, t.validation_fraction, t.seed);
    link_partners(&mut train_set.potential);
    link_partners(&mut val_set.potential);
    let mut written = Written::default();
    let mut tensors = Vec::new();
    if model.denoiser().is_some() && !train_set.structures.is_empty() {
        let (train, val) = (&train_set.structures, &val_set.structures);
        tensors.extend(structure_tensors(
            &model,
            train,
            val,
            reference,
            &mut written,
        )?);
    }
    if !train_set.potential.is_empty() {
        let (train, val) = (&train_set.potential, &val_set.potential);
        tensors.extend(frame_tensors(&model, train, val, reference, &mut written)?);
    }
    let Written { summary, specs } = written;
    if tensors.is_empty() {
        return Err(Error::invalid(
            "nothing to export: the config lists no structure data for the model's generator \
             and no labelled frames",
        ));
    }
    let provenance = serde_json::json!({
        "init": init.display().to_string(),
        "datasets": config.dataset.iter().map(|d| d.path.display().to_string()).collect::<Vec<_>>(),
        "elements": model.element_symbols(),
        "edge_kinds": model.denoiser().map(|d| d.config().edges.n_kinds()),
        "validation_fraction": t.validation_fraction,
        "seed": t.seed,
        "summary": &summary,
    });
    let info = HashMap::from([
        ("concord_export".to_string(), provenance.to_string()),
        (
            planes::METADATA_KEY.to_string(),
            Value::Object(specs).to_string(),
        ),
    ]);
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
    let fitted = external_fits_energy(&external);
    let training = serde_json::json!({
        "external": external,
        "parameters": parameters.display().to_string(),
        "init": {"path": model_path.display().to_string(), "training": meta.training},
    });
    file::save_fitted(&model, out, training, fitted)
}

/// Whether the external trainer's record (`concord_training`) says it fitted the energy head:
/// labelled frames in its data (`data.summary.frames`) and a non-zero `args.energy_weight` or
/// `args.force_weight`. A record without them (a denoising-only trainer) did not.
fn external_fits_energy(record: &serde_json::Value) -> bool {
    let number = |p: &str| record.pointer(p).and_then(serde_json::Value::as_f64);
    let weighted = [number("/args/energy_weight"), number("/args/force_weight")]
        .into_iter()
        .any(|w| w.is_some_and(|w| w > 0.0));
    weighted && number("/data/summary/frames").is_some_and(|n| n > 0.0)
}
