//! Neighbour search with a cell list (binning): cost linear in the number of atoms, for open
//! systems and for periodic, possibly triclinic cells of any size relative to the cutoff.

use crate::error::{Error, Result};

/// Full neighbour list: every pair appears as (i, j, S) and (j, i, -S).
///
/// Pair `p` connects atom `first[p]` to the image of atom `second[p]` displaced by
/// `shifts[p]` cell vectors:
/// `r_ij = pos[j] - pos[i] + S[0]*cell[0] + S[1]*cell[1] + S[2]*cell[2]`.
/// Pairs are sorted by (first, second, shift).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeighborList {
    /// Central atom i of each pair, `[n_pairs]`.
    pub first: Vec<usize>,
    /// Neighbour atom j of each pair, `[n_pairs]`.
    pub second: Vec<usize>,
    /// Cell shift S of each pair in units of the cell vectors, `[n_pairs][3]`; zero along
    /// non-periodic directions.
    pub shifts: Vec<[i32; 3]>,
}

impl NeighborList {
    /// Number of (directed) pairs.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    /// Cartesian image shifts `S · cell` (Å, `[E][3]`) of the pairs for `cell` (rows = lattice
    /// vectors; `None` for an open system, where all shifts are zero).
    pub fn cartesian_shifts(&self, cell: Option<&[[f64; 3]; 3]>) -> Vec<[f64; 3]> {
        let c = cell.copied().unwrap_or_default();
        self.shifts
            .iter()
            .map(|s| std::array::from_fn(|a| (0..3).map(|k| s[k] as f64 * c[k][a]).sum()))
            .collect()
    }
}

/// Most periodic images searched per atom before the cutoff is refused as too large.
const MAX_IMAGES: f64 = 1e7;

/// All pairs (i, j, S) with |r_ij| < `cutoff` (Å), where
/// `r_ij = pos[j] - pos[i] + S[0]*cell[0] + S[1]*cell[1] + S[2]*cell[2]`, except i == j
/// with S == 0.
///
/// `positions` are Cartesian, `[n_atoms][3]` in Å, and may lie outside the cell (shifts then
/// refer to the positions as given); `cell` holds the lattice vectors as rows (Å) and is
/// required when any direction of `pbc` is periodic (it is ignored otherwise). S is nonzero
/// only along periodic directions; a cell smaller than the cutoff gives several images of
/// the same neighbour and images of an atom itself.
///
/// Errors ([`Error::InvalidInput`]): a non-positive or non-finite cutoff, a non-finite
/// position, periodicity without a cell, a non-finite or degenerate cell, positions so far
/// outside the cell that a shift overflows `i32`, or a cutoff needing more than 10^7
/// periodic images per atom.
pub fn neighbor_list(
    positions: &[[f64; 3]],
    cell: Option<&[[f64; 3]; 3]>,
    pbc: [bool; 3],
    cutoff: f64,
) -> Result<NeighborList> {
    match neighbor_list_capped(positions, cell, pbc, cutoff, usize::MAX)? {
        Capped::Within(list) => Ok(list),
        Capped::Exceeded { .. } => unreachable!("no list has more than usize::MAX pairs"),
    }
}

/// The outcome of [`neighbor_list_capped`].
#[derive(Debug)]
pub enum Capped {
    /// The list, with at most the allowed number of pairs.
    Within(NeighborList),
    /// More pairs than allowed: how many there are (counted, not stored).
    Exceeded {
        /// The number of pairs within the cutoff.
        pairs: usize,
    },
}

/// [`neighbor_list`] that stores at most `max_pairs` pairs: past that it only counts them, so a
/// caller bounding its memory never holds more than it allowed.
pub fn neighbor_list_capped(
    positions: &[[f64; 3]],
    cell: Option<&[[f64; 3]; 3]>,
    pbc: [bool; 3],
    cutoff: f64,
    max_pairs: usize,
) -> Result<Capped> {
    if !(cutoff.is_finite() && cutoff > 0.0) {
        return Err(Error::invalid(format!(
            "neighbour-list cutoff must be positive and finite, got {cutoff}"
        )));
    }
    if let Some(i) = positions
        .iter()
        .position(|p| p.iter().any(|x| !x.is_finite()))
    {
        return Err(Error::NonFinitePosition { atom: i });
    }
    let periodic = pbc.iter().any(|&p| p);
    // Basis in which atoms are binned: the cell when periodic, Cartesian axes otherwise.
    let (cell, inv) = if periodic {
        let cell =
            *cell.ok_or_else(|| Error::invalid("periodic boundary conditions without a cell"))?;
        (cell, inverse(&cell)?)
    } else {
        ([[0.0; 3]; 3], IDENTITY)
    };
    if positions.is_empty() {
        return Ok(Capped::Within(NeighborList::default()));
    }
    let (frac, offset) = fractional(positions, &inv, pbc)?;
    let bins = Bins::new(&frac, &inv, pbc, cutoff)?;
    let search = Search {
        positions,
        cell: &cell,
        offset: &offset,
        bins: &bins,
        pbc,
        cutoff2: cutoff * cutoff,
    };
    let mut list = NeighborList::default();
    let mut counted = 0usize;
    let mut local: Vec<(usize, [i32; 3])> = Vec::new();
    for i in 0..positions.len() {
        search.neighbours_of(i, &mut local)?;
        counted += local.len();
        if counted > max_pairs {
            // Past the cap only count, holding no more than was allowed.
            list = NeighborList::default();
            continue;
        }
        for &(j, s) in &local {
            list.first.push(i);
            list.second.push(j);
            list.shifts.push(s);
        }
    }
    if counted > max_pairs {
        return Ok(Capped::Exceeded { pairs: counted });
    }
    Ok(Capped::Within(list))
}

/// How far beyond the cutoff (Å) a [`VerletList`] looks, so that it stays valid while no atom
/// has moved more than half of it. LAMMPS uses 2 Å in metal units; 1 Å keeps the stored list
/// 1.7x the size of the cutoff list at a 5 Å cutoff.
pub const VERLET_SKIN: f64 = 1.0;

/// A neighbour list reused across calls (Verlet): built within `cutoff + `[`VERLET_SKIN`] at
/// reference positions and, at each call, filtered to the pairs within the cutoff at the
/// current positions. The result is the pair list [`neighbor_list_capped`] would build (same
/// pairs, same order, the same distance test), so evaluations do not depend on it.
#[derive(Debug, Default)]
pub struct VerletList {
    /// Positions the stored list was built at, Å, `[N][3]`.
    reference: Vec<[f64; 3]>,
    cell: Option<[[f64; 3]; 3]>,
    pbc: [bool; 3],
    cutoff: f64,
    /// Pairs within `cutoff + VERLET_SKIN` at `reference`.
    list: NeighborList,
}

impl VerletList {
    /// [`neighbor_list_capped`] for these arguments, from the stored list when every atom is
    /// within half a skin of where it was when the list was built (and the cell, periodicity
    /// and cutoff are unchanged); otherwise the list is rebuilt first.
    pub fn within(
        &mut self,
        positions: &[[f64; 3]],
        cell: Option<&[[f64; 3]; 3]>,
        pbc: [bool; 3],
        cutoff: f64,
        max_pairs: usize,
    ) -> Result<Capped> {
        if !self.holds(positions, cell, pbc, cutoff) {
            let wide = max_pairs.saturating_mul(3);
            match neighbor_list_capped(positions, cell, pbc, cutoff + VERLET_SKIN, wide)? {
                Capped::Within(list) => {
                    self.reference = positions.to_vec();
                    self.cell = cell.copied();
                    self.pbc = pbc;
                    self.cutoff = cutoff;
                    self.list = list;
                }
                Capped::Exceeded { .. } => {
                    *self = VerletList::default();
                    return neighbor_list_capped(positions, cell, pbc, cutoff, max_pairs);
                }
            }
        }
        Ok(self.filtered(positions, cutoff, max_pairs))
    }

    /// Whether the stored list covers every pair within `cutoff` at `positions`.
    fn holds(
        &self,
        positions: &[[f64; 3]],
        cell: Option<&[[f64; 3]; 3]>,
        pbc: [bool; 3],
        cutoff: f64,
    ) -> bool {
        let limit = (0.5 * VERLET_SKIN) * (0.5 * VERLET_SKIN);
        let periodic = pbc.iter().any(|&p| p);
        self.cutoff == cutoff
            && self.pbc == pbc
            && self.reference.len() == positions.len()
            && (!periodic || self.cell.as_ref() == cell)
            && positions.iter().zip(&self.reference).all(|(p, q)| {
                let d2: f64 = (0..3).map(|a| (p[a] - q[a]) * (p[a] - q[a])).sum();
                d2 < limit
            })
    }

    /// The stored pairs within `cutoff` at `positions`.
    fn filtered(&self, positions: &[[f64; 3]], cutoff: f64, max_pairs: usize) -> Capped {
        let cell = match self.cell {
            Some(c) if self.pbc.iter().any(|&p| p) => c,
            _ => [[0.0; 3]; 3],
        };
        let l = &self.list;
        let mut out = NeighborList::default();
        let mut counted = 0usize;
        for k in 0..l.len() {
            let (i, j, s) = (l.first[k], l.second[k], l.shifts[k]);
            if pair_distance2(positions, &cell, i, j, s) < cutoff * cutoff {
                counted += 1;
                if counted <= max_pairs {
                    out.first.push(i);
                    out.second.push(j);
                    out.shifts.push(s);
                }
            }
        }
        if counted > max_pairs {
            return Capped::Exceeded { pairs: counted };
        }
        Capped::Within(out)
    }
}

/// Fractional coordinates `[N][3]` and periodic image offsets `[N][3]` of the atoms.
type Fractional = (Vec<[f64; 3]>, Vec<[i64; 3]>);

/// Fractional coordinates in the basis `inv` (the inverse cell, or the identity); along
/// periodic directions split into an image offset and a wrapped part in [0, 1).
fn fractional(positions: &[[f64; 3]], inv: &[[f64; 3]; 3], pbc: [bool; 3]) -> Result<Fractional> {
    let mut frac: Vec<[f64; 3]> = Vec::with_capacity(positions.len());
    let mut offset: Vec<[i64; 3]> = Vec::with_capacity(positions.len());
    for p in positions {
        let mut s: [f64; 3] =
            std::array::from_fn(|d| p[0] * inv[0][d] + p[1] * inv[1][d] + p[2] * inv[2][d]);
        let mut o = [0i64; 3];
        for d in 0..3 {
            if pbc[d] {
                let f = s[d].floor();
                if f.abs() > 1e9 {
                    return Err(Error::invalid(format!(
                        "atom at {p:?} lies too far outside the cell"
                    )));
                }
                o[d] = f as i64;
                s[d] -= f;
            }
        }
        frac.push(s);
        offset.push(o);
    }
    Ok((frac, offset))
}

/// The cell list: bins at least a cutoff wide (distance between lattice planes), how many
/// bins away neighbours can be, and the atoms sorted by bin (a counting sort).
struct Bins {
    /// Lower corner of the binned region (fractional; 0 along periodic directions).
    lo: [f64; 3],
    /// Bin width per direction (fractional).
    width: [f64; 3],
    /// Bins per direction.
    n: [usize; 3],
    /// Bins to search on each side per direction.
    reach: [i64; 3],
    /// Bin of each atom.
    of_atom: Vec<[i64; 3]>,
    /// Atoms of linear bin `b`: `sorted[start[b]..start[b + 1]]`.
    start: Vec<usize>,
    sorted: Vec<usize>,
}

impl Bins {
    fn new(frac: &[[f64; 3]], inv: &[[f64; 3]; 3], pbc: [bool; 3], cutoff: f64) -> Result<Bins> {
        // Distance between lattice planes along each direction: 1 / |column d of inv|.
        let spacing: [f64; 3] = std::array::from_fn(|d| {
            1.0 / (inv[0][d] * inv[0][d] + inv[1][d] * inv[1][d] + inv[2][d] * inv[2][d]).sqrt()
        });
        let (lo, extent, n) = Self::geometry(frac, pbc, &spacing, cutoff);
        let width: [f64; 3] = std::array::from_fn(|d| extent[d] / n[d] as f64);
        let mut reach = [0i64; 3];
        for d in 0..3 {
            if !pbc[d] && n[d] == 1 {
                continue;
            }
            // Small margin so rounding at bin edges never hides a neighbour.
            let r = (cutoff * (1.0 + 1e-9) / (width[d] * spacing[d])).ceil();
            reach[d] = if pbc[d] {
                r.min(1e8) as i64
            } else {
                (r.min(1e8) as i64).min(n[d] as i64 - 1)
            };
        }
        let images: f64 = reach.iter().map(|&r| (2 * r + 1) as f64).product();
        if images > MAX_IMAGES {
            return Err(Error::invalid(format!(
                "cutoff {cutoff} needs {images:.0} periodic images per atom for this cell; too many"
            )));
        }
        let mut bins = Bins {
            lo,
            width,
            n,
            reach,
            of_atom: Vec::new(),
            start: Vec::new(),
            sorted: Vec::new(),
        };
        bins.sort(frac);
        Ok(bins)
    }

    /// The binned region's corner and extent and the bins per direction: at least one cutoff
    /// wide, and never more bins than a few per atom, so sparse systems stay cheap in memory.
    fn geometry(
        frac: &[[f64; 3]],
        pbc: [bool; 3],
        spacing: &[f64; 3],
        cutoff: f64,
    ) -> ([f64; 3], [f64; 3], [usize; 3]) {
        let mut lo = [0.0; 3];
        let mut extent = [1.0; 3];
        let mut n = [1usize; 3];
        for d in 0..3 {
            if !pbc[d] {
                let (mn, mx) = frac
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                        (a.min(s[d]), b.max(s[d]))
                    });
                lo[d] = mn;
                extent[d] = mx - mn;
            }
            let want = (extent[d] * spacing[d] / cutoff).floor();
            n[d] = if want >= 1.0 {
                want.min(1e9) as usize
            } else {
                1
            };
        }
        let max_bins = 2 * frac.len() + 64;
        while n.iter().fold(1usize, |a, &b| a.saturating_mul(b)) > max_bins {
            let d = (0..3).max_by_key(|&d| n[d]).unwrap_or(0);
            n[d] = n[d].div_ceil(2);
        }
        (lo, extent, n)
    }

    /// The bin of fractional position `s`.
    fn bin_of(&self, s: &[f64; 3]) -> [i64; 3] {
        std::array::from_fn(|d| {
            if self.n[d] == 1 {
                0
            } else {
                let b = ((s[d] - self.lo[d]) / self.width[d]).floor();
                b.clamp(0.0, (self.n[d] - 1) as f64) as i64
            }
        })
    }

    /// Linear index of bin `b`.
    fn linear(&self, b: [i64; 3]) -> usize {
        b[0] as usize + self.n[0] * (b[1] as usize + self.n[1] * b[2] as usize)
    }

    /// Counting sort of the atoms into their bins.
    fn sort(&mut self, frac: &[[f64; 3]]) {
        self.of_atom = frac.iter().map(|s| self.bin_of(s)).collect();
        let total = self.n[0] * self.n[1] * self.n[2];
        let mut start = vec![0usize; total + 1];
        for b in &self.of_atom {
            start[self.linear(*b) + 1] += 1;
        }
        for k in 0..total {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut sorted = vec![0usize; frac.len()];
        for (i, b) in self.of_atom.iter().enumerate() {
            let l = self.linear(*b);
            sorted[fill[l]] = i;
            fill[l] += 1;
        }
        self.start = start;
        self.sorted = sorted;
    }

    /// The bin at `offset` bins from bin `b`, and the periodic image it lies in; `None` past an
    /// open boundary.
    fn neighbour_bin(
        &self,
        b: [i64; 3],
        offset: [i64; 3],
        pbc: [bool; 3],
    ) -> Option<(usize, [i64; 3])> {
        let mut bin = [0i64; 3];
        let mut image = [0i64; 3];
        for d in 0..3 {
            let g = b[d] + offset[d];
            let nb = self.n[d] as i64;
            if pbc[d] {
                bin[d] = g.rem_euclid(nb);
                image[d] = g.div_euclid(nb);
            } else if (0..nb).contains(&g) {
                bin[d] = g;
            } else {
                return None;
            }
        }
        Some((self.linear(bin), image))
    }
}

/// What the pair search of one atom needs.
struct Search<'a> {
    positions: &'a [[f64; 3]],
    cell: &'a [[f64; 3]; 3],
    offset: &'a [[i64; 3]],
    bins: &'a Bins,
    pbc: [bool; 3],
    cutoff2: f64,
}

impl Search<'_> {
    /// The neighbours (j, S) of atom `i` within the cutoff, sorted, into `out`.
    fn neighbours_of(&self, i: usize, out: &mut Vec<(usize, [i32; 3])>) -> Result<()> {
        out.clear();
        let (bins, reach) = (self.bins, self.bins.reach);
        for k2 in -reach[2]..=reach[2] {
            for k1 in -reach[1]..=reach[1] {
                for k0 in -reach[0]..=reach[0] {
                    let Some((l, image)) =
                        bins.neighbour_bin(bins.of_atom[i], [k0, k1, k2], self.pbc)
                    else {
                        continue;
                    };
                    for &j in &bins.sorted[bins.start[l]..bins.start[l + 1]] {
                        let s = self.shift(i, j, image)?;
                        if i == j && s == [0; 3] {
                            continue;
                        }
                        if pair_distance2(self.positions, self.cell, i, j, s) < self.cutoff2 {
                            out.push((j, s));
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(())
    }

    /// The cell shift of atom `j` seen from atom `i` through bin image `image`.
    fn shift(&self, i: usize, j: usize, image: [i64; 3]) -> Result<[i32; 3]> {
        let mut s = [0i32; 3];
        for d in 0..3 {
            let v = image[d] + self.offset[i][d] - self.offset[j][d];
            s[d] = i32::try_from(v).map_err(|_| Error::invalid("cell shift overflows i32"))?;
        }
        Ok(s)
    }
}

/// |pos[j] - pos[i] + S·cell|², summed in a fixed order so that (i, j, S) and (j, i, -S)
/// give bit-identical results.
fn pair_distance2(
    positions: &[[f64; 3]],
    cell: &[[f64; 3]; 3],
    i: usize,
    j: usize,
    s: [i32; 3],
) -> f64 {
    let mut r2 = 0.0;
    for x in 0..3 {
        let r = (positions[j][x] - positions[i][x])
            + f64::from(s[0]) * cell[0][x]
            + f64::from(s[1]) * cell[1][x]
            + f64::from(s[2]) * cell[2][x];
        r2 += r * r;
    }
    r2
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Inverse of `cell` (rows = lattice vectors), or an error for a non-finite or degenerate
/// cell (volume below 1e-10 of the product of the vector lengths).
fn inverse(cell: &[[f64; 3]; 3]) -> Result<[[f64; 3]; 3]> {
    if cell.iter().flatten().any(|x| !x.is_finite()) {
        return Err(Error::invalid("non-finite cell vector"));
    }
    let m = nalgebra::Matrix3::from_fn(|r, c| cell[r][c]);
    let norms: f64 = (0..3).map(|r| m.row(r).norm()).product();
    let det = m.determinant();
    if det.is_nan() || det.abs() <= 1e-10 * norms {
        return Err(Error::invalid(format!(
            "degenerate cell (volume {det:.3e} Å³ for vectors {cell:?})"
        )));
    }
    let inv = m
        .try_inverse()
        .ok_or_else(|| Error::invalid("degenerate cell (not invertible)"))?;
    Ok(std::array::from_fn(|r| {
        std::array::from_fn(|c| inv[(r, c)])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(l: &NeighborList) -> Vec<(usize, usize, [i32; 3])> {
        (0..l.len())
            .map(|p| (l.first[p], l.second[p], l.shifts[p]))
            .collect()
    }

    /// A deterministic pseudo-random number in [0, 1).
    fn uniform(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn a_verlet_list_gives_the_cutoff_list_while_atoms_move() {
        let tri = [[9.0, 0.0, 0.0], [1.5, 8.5, 0.0], [-1.0, 0.7, 9.5]];
        let settings = [
            (Some(tri), [true; 3]),
            (Some(tri), [true, false, true]),
            (None, [false; 3]),
        ];
        for (cell, pbc) in settings {
            let mut state = 7u64;
            let mut pos: Vec<[f64; 3]> = (0..60)
                .map(|_| std::array::from_fn(|a| 9.0 * uniform(&mut state) + a as f64))
                .collect();
            let mut verlet = VerletList::default();
            let (mut reused, mut rebuilt) = (0, 0);
            for step in 0..60 {
                // Up to 0.1 Å per coordinate and call: reused for a few calls, then rebuilt.
                for p in pos.iter_mut() {
                    p.iter_mut()
                        .for_each(|x| *x += 0.2 * (uniform(&mut state) - 0.5));
                }
                // A cell that changes (NPT) from step 40 on.
                let scaled = cell.map(|c| c.map(|v| v.map(|x| x * (1.0 + 0.001 * step as f64))));
                let c = if step < 40 { cell } else { scaled };
                let before = verlet.reference.clone();
                let got = verlet
                    .within(&pos, c.as_ref(), pbc, 3.0, usize::MAX)
                    .unwrap();
                if verlet.reference == before {
                    reused += 1;
                } else {
                    rebuilt += 1;
                }
                let want = neighbor_list(&pos, c.as_ref(), pbc, 3.0).unwrap();
                let Capped::Within(got) = got else {
                    panic!("uncapped list refused")
                };
                assert_eq!(pairs(&got), pairs(&want), "step {step}, pbc {pbc:?}");
            }
            assert!(
                reused > 10 && rebuilt > 3,
                "{reused} reused, {rebuilt} rebuilt"
            );
            // The cap counts the pairs within the cutoff, as the plain list does.
            let c = verlet.cell;
            let Capped::Exceeded { pairs: n } =
                verlet.within(&pos, c.as_ref(), pbc, 3.0, 5).unwrap()
            else {
                panic!("cap ignored")
            };
            let want = neighbor_list(&pos, c.as_ref(), pbc, 3.0).unwrap().len();
            assert_eq!(n, want);
        }
    }

    #[test]
    fn open_dimer() {
        let pos = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [5.0, 0.0, 0.0]];
        let l = neighbor_list(&pos, None, [false; 3], 1.5).unwrap();
        assert_eq!(pairs(&l), vec![(0, 1, [0; 3]), (1, 0, [0; 3])]);
    }

    #[test]
    fn periodic_dimer_across_the_boundary() {
        let cell = [[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]];
        let pos = [[0.5, 5.0, 5.0], [9.5, 5.0, 5.0]];
        let l = neighbor_list(&pos, Some(&cell), [true; 3], 1.5).unwrap();
        assert_eq!(pairs(&l), vec![(0, 1, [-1, 0, 0]), (1, 0, [1, 0, 0])]);
        // Not periodic along x: no pair.
        let l = neighbor_list(&pos, Some(&cell), [false, true, true], 1.5).unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn single_atom_in_small_cell_sees_its_images() {
        let cell = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]];
        let l = neighbor_list(&[[0.3, 0.2, 0.1]], Some(&cell), [true; 3], 2.5).unwrap();
        // Images at distance 2 (6 of them); sqrt(8) > 2.5.
        assert_eq!(l.len(), 6);
        assert!(l.first.iter().chain(&l.second).all(|&i| i == 0));
    }

    #[test]
    fn sparse_open_system_is_cheap() {
        let pos = [[0.0; 3], [1e6, 1e6, 1e6], [1e6, 1e6, 1e6 + 1.0]];
        let l = neighbor_list(&pos, None, [false; 3], 2.0).unwrap();
        assert_eq!(pairs(&l), vec![(1, 2, [0; 3]), (2, 1, [0; 3])]);
    }

    #[test]
    fn invalid_input_is_an_error() {
        let pos = [[0.0; 3], [1.0, 0.0, 0.0]];
        let cube = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]];
        let msg = |r: Result<NeighborList>| r.unwrap_err().to_string();
        assert!(msg(neighbor_list(&pos, None, [false; 3], 0.0)).contains("cutoff"));
        assert!(msg(neighbor_list(&pos, None, [false; 3], f64::NAN)).contains("cutoff"));
        assert!(msg(neighbor_list(&pos, None, [false; 3], -1.0)).contains("cutoff"));
        let nan = [[0.0; 3], [f64::NAN, 0.0, 0.0]];
        assert!(msg(neighbor_list(&nan, None, [false; 3], 1.0)).contains("atom 1"));
        assert!(
            msg(neighbor_list(&pos, None, [true, false, false], 1.0)).contains("without a cell")
        );
        let flat = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [3.0, 3.0, 0.0]];
        assert!(msg(neighbor_list(&pos, Some(&flat), [true; 3], 1.0)).contains("degenerate"));
        let tiny = [[1e-3, 0.0, 0.0], [0.0, 1e-3, 0.0], [0.0, 0.0, 1e-3]];
        assert!(msg(neighbor_list(&pos, Some(&tiny), [true; 3], 5.0)).contains("too many"));
        // A cell is ignored when nothing is periodic, even a degenerate one.
        assert_eq!(
            neighbor_list(&pos, Some(&flat), [false; 3], 1.5)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            neighbor_list(&pos, Some(&cube), [false; 3], 1.5)
                .unwrap()
                .len(),
            2
        );
    }
}
