//! Energy, forces and virials of one system from a [`Model`], by automatic differentiation
//! with respect to the edge vectors.
//!
//! With edge vectors `R_e = x[second] - x[first] + shift_e` and `g_e = dE/dR_e`:
//! `F_k = sum_{e: first=k} g_e - sum_{e: second=k} g_e`, the virial `W = -sum_e R_e (x) g_e`,
//! and each edge's `-R_e (x) g_e` is split equally between its two atoms for per-atom virials.
//! This holds for open and periodic systems and for an engine's local + ghost atoms alike.

use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::{EdgeInput, Model};

/// Distance in Å below which two atoms are considered overlapping (an input error).
pub const OVERLAP_DISTANCE: f64 = 0.25;

/// The neighbour pairs of a system within the model cutoff, both directions listed.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a> {
    /// Receiving atom of each pair, `[E]`.
    pub first: &'a [usize],
    /// Sending atom of each pair, `[E]`.
    pub second: &'a [usize],
    /// Cartesian shift added to `x[second] - x[first]` (periodic images), Å, `[E][3]`.
    pub shift: &'a [[f64; 3]],
}

/// What to compute besides the energy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// Forces on every atom.
    pub forces: bool,
    /// Atomic energies.
    pub atom_energies: bool,
    /// The global virial.
    pub virial: bool,
    /// Per-atom virials.
    pub atom_virial: bool,
}

impl Request {
    /// Everything.
    pub const ALL: Request = Request {
        forces: true,
        atom_energies: true,
        virial: true,
        atom_virial: true,
    };
}

/// Results of [`evaluate`]. Units: eV, eV/Å; virials in eV (`W = sum r (x) f`, the quantity
/// LAMMPS accumulates; stress = -W / volume).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prediction {
    /// Energy of the local atoms, eV.
    pub energy: f64,
    /// Forces on all atoms (local and ghost), eV/Å, `[N][3]`.
    pub forces: Option<Vec<[f64; 3]>>,
    /// Atomic energies of all atoms, eV, `[N]` (those of ghost atoms are not meaningful).
    pub atom_energies: Option<Vec<f64>>,
    /// Virial, eV, `[3][3]`.
    pub virial: Option<[[f64; 3]; 3]>,
    /// Per-atom virials of all atoms, eV, `[N][3][3]`.
    pub atom_virial: Option<Vec<[[f64; 3]; 3]>>,
}

/// Evaluates `model` on atoms with species indices `species` (`[N]`, from
/// [`Model::species_index`]) at `positions` (Å, `[N][3]`) with neighbour `pairs`. The energy
/// sums the atomic energies of the first `n_local` atoms; forces cover all `N` atoms.
pub fn evaluate(
    model: &Model,
    species: &[i64],
    positions: &[[f64; 3]],
    pairs: &Pairs,
    n_local: usize,
    request: Request,
) -> Result<Prediction> {
    let n = species.len();
    let n_edges = pairs.first.len();
    if positions.len() != n {
        return Err(Error::invalid(format!(
            "{} positions for {n} atoms",
            positions.len()
        )));
    }
    if pairs.second.len() != n_edges || pairs.shift.len() != n_edges {
        return Err(Error::invalid("neighbour pair arrays differ in length"));
    }
    if n_local > n {
        return Err(Error::invalid(format!(
            "n_local = {n_local} exceeds the {n} atoms"
        )));
    }
    let mut edge_vec = Vec::with_capacity(3 * n_edges);
    for e in 0..n_edges {
        let (i, j) = (pairs.first[e], pairs.second[e]);
        if i >= n || j >= n {
            return Err(Error::invalid(format!(
                "neighbour pair ({i}, {j}) out of range for {n} atoms"
            )));
        }
        let r: [f64; 3] =
            std::array::from_fn(|a| positions[j][a] - positions[i][a] + pairs.shift[e][a]);
        let d = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
        if d.is_nan() || d < OVERLAP_DISTANCE {
            return Err(Error::invalid(format!(
                "atoms {i} and {j} overlap (distance {d:.3} Å < {OVERLAP_DISTANCE} Å)"
            )));
        }
        edge_vec.extend_from_slice(&r);
    }
    let device = model.device();
    let kind = model.precision().kind();
    let to_i64 = |v: &[usize]| Tensor::from_slice(&v.iter().map(|&x| x as i64).collect::<Vec<_>>());
    let species_t = Tensor::from_slice(species).f_to_device(device)?;
    let first_t = to_i64(pairs.first).f_to_device(device)?;
    let second_t = to_i64(pairs.second).f_to_device(device)?;
    let edge_t = Tensor::from_slice(&edge_vec)
        .f_view([n_edges as i64, 3])?
        .f_to_kind(kind)?
        .f_to_device(device)?
        .f_set_requires_grad(true)?;
    let layer_edges = layer_edges(
        model.encoder().config().layers as usize,
        n_local,
        n,
        pairs,
        device,
    )?;
    let input = EdgeInput {
        species: &species_t,
        first: &first_t,
        second: &second_t,
        edge_vec: &edge_t,
        edge_attr: None,
        layer_edges: layer_edges.as_deref(),
    };
    let need_grad = request.forces || request.virial || request.atom_virial;
    let atomic = if need_grad {
        model.atomic_energies(&input)?
    } else {
        tch::no_grad(|| model.atomic_energies(&input))?
    };
    let energy_t = atomic.f_narrow(0, 0, n_local as i64)?.f_sum(Kind::Double)?;
    let mut out = Prediction {
        energy: energy_t.f_double_value(&[])?,
        ..Default::default()
    };
    if request.atom_energies {
        out.atom_energies = Some(Vec::<f64>::try_from(
            atomic.f_to_kind(Kind::Double)?.f_detach()?,
        )?);
    }
    if !need_grad {
        return Ok(out);
    }
    let g: Vec<f64> = if n_edges == 0 || n_local == 0 {
        vec![0.0; 3 * n_edges]
    } else {
        let grads = Tensor::f_run_backward(&[&energy_t], &[&edge_t], false, false)?;
        Vec::<f64>::try_from(grads[0].f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?
    };
    if request.forces {
        let mut f = vec![[0.0; 3]; n];
        for e in 0..n_edges {
            for a in 0..3 {
                f[pairs.first[e]][a] += g[3 * e + a];
                f[pairs.second[e]][a] -= g[3 * e + a];
            }
        }
        out.forces = Some(f);
    }
    if request.virial || request.atom_virial {
        let mut w = [[0.0; 3]; 3];
        let mut wa = if request.atom_virial {
            vec![[[0.0; 3]; 3]; n]
        } else {
            Vec::new()
        };
        for e in 0..n_edges {
            for a in 0..3 {
                for b in 0..3 {
                    let c = -edge_vec[3 * e + a] * g[3 * e + b];
                    w[a][b] += c;
                    if request.atom_virial {
                        wa[pairs.first[e]][a][b] += 0.5 * c;
                        wa[pairs.second[e]][a][b] += 0.5 * c;
                    }
                }
            }
        }
        if request.virial {
            out.virial = Some(w);
        }
        if request.atom_virial {
            out.atom_virial = Some(wa);
        }
    }
    Ok(out)
}

/// The edges each of `layers` message-passing layers needs when only the first `n_local` of
/// `n` atoms contribute energy: layer l (0-based) only updates atoms within `layers - 1 - l`
/// neighbour hops of a local atom, since nothing farther can reach a local atom in the
/// remaining layers (index tensors on `device`). `None` when every edge is needed in every layer (no ghosts). Dropping the
/// other messages changes no local energy and no force: they have no path to a local atom.
fn layer_edges(
    layers: usize,
    n_local: usize,
    n: usize,
    pairs: &Pairs,
    device: tch::Device,
) -> Result<Option<Vec<Tensor>>> {
    if n_local == n || layers == 0 {
        return Ok(None);
    }
    let edges = pairs
        .first
        .iter()
        .copied()
        .zip(pairs.second.iter().copied());
    let hops = crate::hops::Adjacency::new(n, edges).hops(0..n_local, layers - 1);
    let sets: Vec<Vec<i64>> = (0..layers)
        .map(|l| {
            let reach = layers - 1 - l;
            (0..pairs.first.len())
                .filter(|&e| hops[pairs.first[e]] <= reach)
                .map(|e| e as i64)
                .collect()
        })
        .collect();
    if sets.iter().all(|s| s.len() == pairs.first.len()) {
        return Ok(None);
    }
    let tensors: Result<Vec<Tensor>> = sets
        .iter()
        .map(|s| Ok(Tensor::from_slice(s).f_to_device(device)?))
        .collect();
    Ok(Some(tensors?))
}
