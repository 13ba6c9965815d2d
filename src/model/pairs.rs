//! What both evaluators of a model (libtorch in [`crate::model::evaluate`], native in
//! [`crate::runtime`]) share around the network: the neighbour-pair input and its checks,
//! the request and prediction types, the per-layer pruning of an engine's ghost atoms, and
//! forces and virials from the gradient of the energy with respect to the edge vectors.
//!
//! With edge vectors `R_e = x[second] - x[first] + shift_e` and `g_e = dE/dR_e`:
//! `F_k = sum_{e: first=k} g_e - sum_{e: second=k} g_e`, the virial `W = -sum_e R_e (x) g_e`,
//! and each edge's `-R_e (x) g_e` is split equally between its two atoms for per-atom virials.
//! This holds for open and periodic systems and for an engine's local + ghost atoms alike.

use crate::error::{Error, Result};

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

    /// True when anything needs the gradient of the energy.
    pub fn needs_gradient(&self) -> bool {
        self.forces || self.virial || self.atom_virial
    }
}

/// Results of an evaluation. Units: eV, eV/Å; virials in eV (`W = sum r (x) f`, the quantity
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

/// Checks the sizes of an evaluation's input and returns the edge vectors `[E]` (Å); pairs
/// out of range, overlapping atoms (closer than [`OVERLAP_DISTANCE`]) and NaN are errors.
pub fn edge_vectors(
    n: usize,
    positions: &[[f64; 3]],
    pairs: &Pairs,
    n_local: usize,
) -> Result<Vec<[f64; 3]>> {
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
    let mut vectors = Vec::with_capacity(n_edges);
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
        if d.is_nan() {
            let finite = |k: usize| positions[k].iter().all(|x| x.is_finite());
            let atom = if finite(i) { j } else { i };
            return Err(Error::NonFinitePosition { atom });
        }
        if d < OVERLAP_DISTANCE {
            return Err(Error::Overlap {
                first: i,
                second: j,
                distance: d,
            });
        }
        vectors.push(r);
    }
    Ok(vectors)
}

/// The edges each of `layers` message-passing layers needs when only the first `n_local` of
/// `n` atoms contribute energy: layer l (0-based) only updates atoms within `layers - 1 - l`
/// neighbour hops of a local atom, since nothing farther can reach a local atom in the
/// remaining layers. `None` when every edge is needed in every layer (no ghosts). Dropping
/// the other messages changes no local energy and no force: they have no path to a local atom.
pub fn layer_edges(
    layers: usize,
    n_local: usize,
    n: usize,
    pairs: &Pairs,
) -> Option<Vec<Vec<usize>>> {
    if n_local == n || layers == 0 {
        return None;
    }
    let edges = pairs
        .first
        .iter()
        .copied()
        .zip(pairs.second.iter().copied());
    let hops = crate::hops::Adjacency::new(n, edges).hops(0..n_local, layers - 1);
    let sets: Vec<Vec<usize>> = (0..layers)
        .map(|l| {
            let reach = layers - 1 - l;
            (0..pairs.first.len())
                .filter(|&e| hops[pairs.first[e]] <= reach)
                .collect()
        })
        .collect();
    if sets.iter().all(|s| s.len() == pairs.first.len()) {
        return None;
    }
    Some(sets)
}

/// Fills the requested forces and virials of `out` from the energy gradient `grad` with
/// respect to each edge vector `vectors` (both `[E]`) of `pairs` over `n` atoms.
pub fn add_derivatives(
    out: &mut Prediction,
    request: Request,
    n: usize,
    pairs: &Pairs,
    vectors: &[[f64; 3]],
    grad: &[[f64; 3]],
) {
    if request.forces {
        let mut f = vec![[0.0; 3]; n];
        for (e, g) in grad.iter().enumerate() {
            for a in 0..3 {
                f[pairs.first[e]][a] += g[a];
                f[pairs.second[e]][a] -= g[a];
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
        for (e, g) in grad.iter().enumerate() {
            for a in 0..3 {
                for b in 0..3 {
                    let c = -vectors[e][a] * g[b];
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
}
