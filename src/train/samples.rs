//! Training samples and batches: frames with labels turned into model inputs (species
//! indices, neighbour pairs within the cutoff) and concatenated into batches of tensors, and
//! the molecular graphs with structures the generator's losses read ([`GraphSample`]).

use std::collections::HashMap;

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
    /// Index, in its sample set, of its molecule's lowest-energy frame ([`link_partners`]),
    /// the other end of its relative-energy pair; `None` for that frame itself, for frames
    /// without an energy label and before linking.
    pub partner: Option<usize>,
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
            partner: None,
        })
    }

    /// Number of atoms.
    pub fn n_atoms(&self) -> usize {
        self.species.len()
    }
}

/// Links every energy-labelled sample of `set` to its molecule's lowest-energy frame in `set`
/// (same `molecule` name and species; the first of equal ones), which becomes its
/// [`Sample::partner`]. A frame's energy relative to that minimum is what the relative-energy
/// loss fits ([`crate::train::batch_forward::PotentialLoss`]).
pub fn link_partners(set: &mut [Sample]) {
    let mut lowest: HashMap<(&str, &[i64]), usize> = HashMap::new();
    for (i, s) in set.iter().enumerate() {
        let Some(e) = s.energy else { continue };
        let key = (s.molecule.as_str(), s.species.as_slice());
        match lowest.get(&key) {
            Some(&j) if set[j].energy.is_some_and(|m| m <= e) => {}
            _ => {
                lowest.insert(key, i);
            }
        }
    }
    let partner: Vec<Option<usize>> = set
        .iter()
        .map(|s| {
            s.energy?;
            let j = lowest[&(s.molecule.as_str(), s.species.as_slice())];
            let copy = set[j].energy == s.energy && set[j].positions == s.positions;
            (!copy).then_some(j)
        })
        .collect();
    for (s, p) in set.iter_mut().zip(partner) {
        s.partner = p;
    }
}

/// Samples evaluated together: the first `scored` enter the energy and force terms of the
/// loss; `pairs` (frame, partner) index the relative-energy term; partners that are not
/// among the scored samples follow them, evaluated for that term only.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// The scored samples, then the extra partners.
    pub samples: Vec<&'a Sample>,
    /// How many leading samples are scored.
    pub scored: usize,
    /// (frame, its partner) as indices into `samples`.
    pub pairs: Vec<(usize, usize)>,
}

impl<'a> Selection<'a> {
    /// `samples`, all scored, without pairs.
    pub fn plain(samples: &[&'a Sample]) -> Selection<'a> {
        Selection {
            samples: samples.to_vec(),
            scored: samples.len(),
            pairs: Vec::new(),
        }
    }

    /// The samples of `set` at `indices`, all scored, with the pair of each one that has a
    /// [`Sample::partner`]; a partner already among them is not added twice.
    pub fn with_partners(indices: &[usize], set: &'a [Sample]) -> Selection<'a> {
        let mut sel = Selection {
            samples: indices.iter().map(|&i| &set[i]).collect(),
            scored: indices.len(),
            pairs: Vec::new(),
        };
        let mut position: HashMap<usize, usize> =
            indices.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        for (k, &i) in indices.iter().enumerate() {
            let Some(p) = set[i].partner else { continue };
            let j = *position.entry(p).or_insert_with(|| {
                sel.samples.push(&set[p]);
                sel.samples.len() - 1
            });
            sel.pairs.push((k, j));
        }
        sel
    }

    /// Each pair with the error of its frame's energy relative to its partner's, eV:
    /// `(E_frame − label) − (E_partner − label)` for the predicted energies `energy` (eV, one
    /// per sample). Paired samples have energy labels ([`link_partners`]).
    pub fn relative_errors<'s>(
        &'s self,
        energy: &'s [f64],
    ) -> impl Iterator<Item = ((usize, usize), f64)> + 's {
        let error = move |k: usize| energy[k] - self.samples[k].energy.unwrap_or(f64::NAN);
        self.pairs
            .iter()
            .map(move |&(i, p)| ((i, p), error(i) - error(p)))
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
    /// Frame of each relative-energy pair, `[P]` int64 (sample indices).
    pub pair_frame: Tensor,
    /// Partner of each relative-energy pair, `[P]` int64.
    pub pair_partner: Tensor,
    /// Number of samples B.
    pub size: i64,
}

/// Concatenates the samples of `selection` into a [`Batch`] of dtype `kind` on `device`; the
/// extra partners get no energy or force mask.
pub fn collate(selection: &Selection, kind: Kind, device: Device) -> Result<Batch> {
    let samples = &selection.samples;
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
        let scored = b < selection.scored;
        energy.push(s.energy.unwrap_or(0.0));
        emask.push(if scored && s.energy.is_some() {
            1.0
        } else {
            0.0
        });
        match &s.forces {
            Some(f) if scored => {
                forces.extend(f.iter().flatten());
                fmask.extend(std::iter::repeat_n(1.0, n));
            }
            _ => {
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
    let pairs = &selection.pairs;
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
        pair_frame: int(&pairs.iter().map(|p| p.0 as i64).collect::<Vec<_>>())?,
        pair_partner: int(&pairs.iter().map(|p| p.1 as i64).collect::<Vec<_>>())?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(molecule: &str, species: Vec<i64>, energy: Option<f64>, x: f64) -> Sample {
        Sample {
            positions: vec![[x, 0.0, 0.0]; species.len()],
            species,
            first: Vec::new(),
            second: Vec::new(),
            shift: Vec::new(),
            energy,
            forces: None,
            molecule: molecule.into(),
            repeat: 1,
            partner: None,
        }
    }

    #[test]
    fn frames_are_linked_to_their_molecules_lowest_energy_frame() {
        let mut set = vec![
            frame("a", vec![0, 1], Some(-1.0), 0.0),
            frame("a", vec![0, 1], Some(-3.0), 0.1), // a's minimum
            frame("a", vec![0, 1], Some(-3.0), 0.1), // a repeat of it: no pair
            frame("a", vec![0, 0], Some(-9.0), 0.2), // same name, other atoms
            frame("a", vec![0, 1], None, 0.3),       // no energy: no pair
            frame("b", vec![1, 1], Some(-2.0), 0.4),
        ];
        link_partners(&mut set);
        let partners: Vec<Option<usize>> = set.iter().map(|s| s.partner).collect();
        assert_eq!(partners, [Some(1), None, None, None, None, None]);
        // A partner already in the batch is not added again; a missing one is appended.
        let sel = Selection::with_partners(&[0, 1, 5], &set);
        assert_eq!(
            (sel.samples.len(), sel.scored, sel.pairs),
            (3, 3, vec![(0, 1)])
        );
        let sel = Selection::with_partners(&[5, 0], &set);
        assert_eq!(
            (sel.samples.len(), sel.scored, sel.pairs),
            (3, 2, vec![(1, 2)])
        );
        assert_eq!(sel.samples[2].energy, Some(-3.0));
    }
}
