//! Training samples and batches: frames with labels turned into model inputs (species
//! indices, neighbour pairs within the cutoff) and concatenated into batches of tensors, and
//! the molecular graphs with structures the generator's losses read ([`GraphSample`]).

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::graph::GraphEdges;
use crate::model::Model;
use crate::neighbors::neighbor_list;
use crate::structure::Frame;

/// One labelled configuration, ready for batching. Units: Å, eV, eV/Å.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Species indices, `[N]`.
    pub species: Vec<i64>,
    /// Positions, Å, `[N][3]`.
    pub positions: Vec<[f64; 3]>,
    /// Receiving atom of each neighbour pair, `[E]`.
    pub first: Vec<i64>,
    /// Sending atom of each neighbour pair, `[E]`.
    pub second: Vec<i64>,
    /// Cartesian image shift of each pair, Å, `[E][3]`.
    pub shift: Vec<[f64; 3]>,
    /// Energy label, eV.
    pub energy: Option<f64>,
    /// Force labels, eV/Å, `[N][3]`.
    pub forces: Option<Vec<[f64; 3]>>,
    /// Molecule identifier (the `mol` info key, else the frame's index), used to split by molecule.
    pub molecule: String,
    /// Times it is listed in a training epoch (its dataset's `repeat`).
    pub repeat: usize,
}

impl Sample {
    /// Builds a sample from `frame` (validated) for `model`'s elements and cutoff.
    pub fn from_frame(frame: &Frame, model: &Model, index: usize) -> Result<Sample> {
        frame.validate()?;
        let species = model.species_index(&frame.numbers)?;
        let nl = neighbor_list(
            &frame.positions,
            frame.cell.as_ref(),
            frame.pbc,
            model.cutoff(),
        )?;
        let shift = nl.cartesian_shifts(frame.cell.as_ref());
        Ok(Sample {
            species,
            positions: frame.positions.clone(),
            first: nl.first.iter().map(|&i| i as i64).collect(),
            second: nl.second.iter().map(|&i| i as i64).collect(),
            shift,
            energy: frame.energy,
            forces: frame.forces.clone(),
            molecule: frame
                .info
                .get("mol")
                .cloned()
                .unwrap_or_else(|| format!("frame{index}")),
            repeat: 1,
        })
    }

    /// Number of atoms.
    pub fn n_atoms(&self) -> usize {
        self.species.len()
    }
}

/// A batch of samples as tensors; atoms and pairs of all samples are concatenated.
#[derive(Debug)]
pub struct Batch {
    /// Species indices, `[N]` int64.
    pub species: Tensor,
    /// Positions, Å, `[N, 3]`.
    pub positions: Tensor,
    /// Receiving atoms, `[E]` int64 (batch-global indices).
    pub first: Tensor,
    /// Sending atoms, `[E]` int64.
    pub second: Tensor,
    /// Cartesian image shifts, Å, `[E, 3]`.
    pub shift: Tensor,
    /// Sample index of each atom, `[N]` int64.
    pub atom_sample: Tensor,
    /// Atom count of each sample, `[B]`.
    pub n_atoms: Tensor,
    /// Energy labels, eV, `[B]` (0 where missing).
    pub energy: Tensor,
    /// 1 where a sample has an energy label, `[B]`.
    pub energy_mask: Tensor,
    /// Force labels, eV/Å, `[N, 3]` (0 where missing).
    pub forces: Tensor,
    /// 1 for atoms with force labels, `[N, 1]`.
    pub force_mask: Tensor,
    /// Number of samples B.
    pub size: i64,
}

/// Concatenates `samples` into a [`Batch`] of dtype `kind` on `device`.
pub fn collate(samples: &[&Sample], kind: Kind, device: Device) -> Result<Batch> {
    if samples.is_empty() {
        return Err(Error::invalid("empty batch"));
    }
    let (mut species, mut pos, mut first, mut second, mut shift) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut atom_sample, mut n_atoms, mut energy, mut emask, mut forces, mut fmask) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut offset = 0i64;
    for (b, s) in samples.iter().enumerate() {
        let n = s.n_atoms();
        species.extend_from_slice(&s.species);
        pos.extend(s.positions.iter().flatten());
        first.extend(s.first.iter().map(|i| i + offset));
        second.extend(s.second.iter().map(|i| i + offset));
        shift.extend(s.shift.iter().flatten());
        atom_sample.extend(std::iter::repeat_n(b as i64, n));
        n_atoms.push(n as f64);
        energy.push(s.energy.unwrap_or(0.0));
        emask.push(if s.energy.is_some() { 1.0 } else { 0.0 });
        match &s.forces {
            Some(f) => {
                forces.extend(f.iter().flatten());
                fmask.extend(std::iter::repeat_n(1.0, n));
            }
            None => {
                forces.extend(std::iter::repeat_n(0.0, 3 * n));
                fmask.extend(std::iter::repeat_n(0.0, n));
            }
        }
        offset += n as i64;
    }
    let float = |v: &[f64], shape: &[i64]| -> Result<Tensor> {
        Ok(Tensor::from_slice(v)
            .f_view(shape)?
            .f_to_kind(kind)?
            .f_to_device(device)?)
    };
    let int = |v: &[i64]| -> Result<Tensor> { Ok(Tensor::from_slice(v).f_to_device(device)?) };
    let n = offset;
    let e = first.len() as i64;
    Ok(Batch {
        species: int(&species)?,
        positions: float(&pos, &[n, 3])?,
        first: int(&first)?,
        second: int(&second)?,
        shift: float(&shift, &[e, 3])?,
        atom_sample: int(&atom_sample)?,
        n_atoms: float(&n_atoms, &[samples.len() as i64])?,
        energy: float(&energy, &[samples.len() as i64])?,
        energy_mask: float(&emask, &[samples.len() as i64])?,
        forces: float(&forces, &[n, 3])?,
        force_mask: float(&fmask, &[n, 1])?,
        size: samples.len() as i64,
    })
}

/// A molecule with its graph and one structure (and optionally force labels), for the
/// generator's losses. Units: Å, eV/Å.
#[derive(Debug, Clone)]
pub struct GraphSample {
    /// Species indices, `[N]`.
    pub species: Vec<i64>,
    /// Positions centred at the origin, Å, `[N][3]`.
    pub positions: Vec<[f64; 3]>,
    /// Topological edges of the graph.
    pub edges: GraphEdges,
    /// Force labels, eV/Å, `[N][3]` (score consistency).
    pub forces: Option<Vec<[f64; 3]>>,
    /// Molecule identifier.
    pub molecule: String,
    /// Times it is listed in a training epoch (its structure dataset's `repeat`; 1 for score
    /// samples).
    pub repeat: usize,
}

/// Centres `positions` (Å, `[N][3]`) at their centroid.
pub fn centred(positions: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let n = positions.len() as f64;
    let c: [f64; 3] = std::array::from_fn(|d| positions.iter().map(|p| p[d]).sum::<f64>() / n);
    positions
        .iter()
        .map(|p| std::array::from_fn(|d| p[d] - c[d]))
        .collect()
}
