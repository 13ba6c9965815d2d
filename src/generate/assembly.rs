//! Structures of molecules too large for the generator, joined from generated pieces.
//!
//! The shipped denoiser sums messages over every atom pair, so above ~100 atoms each atom sees
//! sums unlike any in training and its samples diverge (docs/results.md#size). The pipeline
//! therefore cuts a connected molecule of more than [`ASSEMBLE_ABOVE`] atoms at acyclic single
//! bonds between heavy atoms ([`Plan::new`]: the most even cut first, until every piece has at
//! most [`PIECE_ATOMS`] atoms or no cut leaves both sides [`MIN_PIECE`] atoms), caps each cut
//! end with a hydrogen (which stands where the atom across the cut will be), samples every
//! piece, puts each piece's share of the specified stereo right ([`Stereo::orient`]) and joins
//! them ([`Plan::generate`]): a piece is turned so that its cap's bond points back at the atom
//! across the cut, its end is put at the sum of the two covalent radii from that atom, and it
//! is rotated about the bond to the angle (one of [`TURNS`]) that overlaps least with the pieces
//! already placed, and atoms of different pieces that still clash are pushed apart, every atom
//! tethered to its place. The joined structures then go through the pipeline like any sample (stereo
//! check, the restraint-first relaxation, which mends the joints' angles and contacts, ranking)
//! except for its redraws: the pieces were drawn again already.

use nalgebra::{Rotation3, Unit, Vector3};

use crate::elements::covalent_radius;
use crate::error::Result;
use crate::generate::{generate_many, redraw_seed, SamplerOptions};
use crate::hops::Adjacency;
use crate::optimize::{optimize, Objective, OptimizeOptions};
use crate::potential::Potential;
use crate::sanity::{self, Problem};
use crate::stereo::{DoubleBond, Stereo, Tetrahedral};
use crate::structure::{Bond, BondOrder};

/// Molecules with more atoms than this are joined from pieces.
pub const ASSEMBLE_ABOVE: usize = 80;
/// Molecules with more atoms than this (and at most [`ASSEMBLE_ABOVE`]) whose whole-molecule
/// draws are still at fault after the pipeline's redraws get joined draws as a last round
/// ([`Plan::for_redraw`]: pieces of at most two thirds of the molecule).
pub const REDRAW_JOINED_ABOVE: usize = 40;
/// Pieces are cut until they have at most this many atoms (caps not counted), where cuts allow.
pub const PIECE_ATOMS: usize = 50;
/// The smallest piece a cut may leave, atoms.
pub const MIN_PIECE: usize = 4;
/// Samples drawn of each piece in a round, per structure asked for.
pub const PIECE_DRAWS: usize = 2;
/// Rounds of drawing a piece (the first included) while it has fewer than `k` faultless samples.
pub const PIECE_ROUNDS: usize = 4;
/// Rounds of pushing apart clashing atoms of different pieces after joining.
pub const APART_ROUNDS: usize = 3;
/// Rotations about a joining bond tried when a piece is placed (every 5°).
pub const TURNS: usize = 72;

/// A sample of a piece: its faults (stereo elements wrong, sanity problems) and positions
/// (Å, `[n][3]`).
type Drawn = ((usize, usize), Vec<[f64; 3]>);

/// One piece of a molecule: its atoms (molecule indices, in piece order) and, after them, one
/// capping hydrogen per cut bond that leaves the piece.
struct Piece {
    /// Molecule indices of the piece's own atoms.
    atoms: Vec<usize>,
    /// Per cap: (the piece's atom, the molecule's atom across the cut), molecule indices; the
    /// cap's piece index is `atoms.len()` + its place here.
    caps: Vec<(usize, usize)>,
}

impl Piece {
    /// Piece index of every molecule atom (`[N]`): its own atoms, and each atom across a cut
    /// as the cap that stands for it; `None` for the rest.
    fn local(&self, n: usize) -> Vec<Option<usize>> {
        let mut local = vec![None; n];
        for (l, &a) in self.atoms.iter().enumerate() {
            local[a] = Some(l);
        }
        for (c, &(_, b)) in self.caps.iter().enumerate() {
            local[b] = Some(self.atoms.len() + c);
        }
        local
    }

    /// Atoms and caps.
    fn len(&self) -> usize {
        self.atoms.len() + self.caps.len()
    }
}

/// A molecule's pieces, their graphs and stereo, and the cut bonds that join them.
pub struct Plan {
    pieces: Vec<Piece>,
    /// Per piece: atomic numbers `[n]` and bonds in piece indices.
    graphs: Vec<(Vec<u8>, Vec<Bond>)>,
    /// Per piece: the molecule's specified stereo elements that lie in it.
    stereo: Vec<Stereo>,
    /// Cut bonds (a, b), molecule indices.
    cuts: Vec<(usize, usize)>,
    /// The piece of every molecule atom, `[N]`.
    piece_of: Vec<usize>,
    /// Per piece: the piece index of every molecule atom ([`Piece::local`]), `[N]`.
    locals: Vec<Vec<Option<usize>>>,
    /// The molecule's atomic numbers.
    numbers: Vec<u8>,
    /// The molecule's bonds.
    bonds: Vec<Bond>,
}

impl Plan {
    /// The pieces of a molecule (`numbers` `[N]`, a Kekulé `bonds` list, the `stereo` it must
    /// have), or `None` when it is small enough for the generator ([`ASSEMBLE_ABOVE`]), not
    /// connected, or has no bond to cut.
    pub fn new(numbers: &[u8], bonds: &[Bond], stereo: &Stereo) -> Option<Plan> {
        Self::above(ASSEMBLE_ABOVE, PIECE_ATOMS, numbers, bonds, stereo)
    }

    /// The pieces of a molecule of more than [`REDRAW_JOINED_ABOVE`] atoms, each of at most
    /// two thirds of its atoms where cuts allow (so one even cut when the molecule has one),
    /// drawn as a last redraw round for draws of the whole molecule still at fault; otherwise
    /// as [`Self::new`].
    pub fn for_redraw(numbers: &[u8], bonds: &[Bond], stereo: &Stereo) -> Option<Plan> {
        let pieces = (2 * numbers.len() / 3).min(PIECE_ATOMS);
        Self::above(REDRAW_JOINED_ABOVE, pieces, numbers, bonds, stereo)
    }

    /// The pieces of at most `piece_atoms` atoms (where cuts allow) of a molecule of more than
    /// `limit` atoms (see [`Self::new`]).
    fn above(
        limit: usize,
        piece_atoms: usize,
        numbers: &[u8],
        bonds: &[Bond],
        stereo: &Stereo,
    ) -> Option<Plan> {
        let n = numbers.len();
        if n <= limit {
            return None;
        }
        let adj = Adjacency::new(n, bonds.iter().map(|b| (b.i, b.j)));
        if adj.hops([0], n).contains(&usize::MAX) {
            return None;
        }
        let cuts = cut(numbers, bonds, &adj, piece_atoms);
        if cuts.is_empty() {
            return None;
        }
        let (pieces, piece_of) = pieces(n, &cuts, &adj);
        let locals: Vec<Vec<Option<usize>>> = pieces.iter().map(|p| p.local(n)).collect();
        let graphs = (pieces.iter().zip(&locals))
            .map(|(p, l)| graph(p, l, numbers, bonds))
            .collect();
        let stereo = (pieces.iter().zip(&locals))
            .map(|(p, l)| share(p, l, stereo))
            .collect();
        Some(Plan {
            pieces,
            graphs,
            stereo,
            cuts,
            piece_of,
            locals,
            numbers: numbers.to_vec(),
            bonds: bonds.to_vec(),
        })
    }

    /// Number of pieces.
    fn len(&self) -> usize {
        self.pieces.len()
    }

    /// `k` joined structures of the molecule (Å, `[k][N][3]`, centred at the origin). Every
    /// piece is sampled [`PIECE_DRAWS`] × `k` times (from a seed of its own, derived from `seed`),
    /// each sample's share of the stereo put right; a piece with fewer than `k` samples without
    /// a stereo or sanity fault is drawn again, up to [`PIECE_ROUNDS`] rounds in all
    /// ([`redraw_seed`]). Structure `j` joins sample `j` of each piece when that has no fault,
    /// otherwise the piece's best samples not yet used.
    pub fn generate(
        &self,
        generator: &Potential,
        seed: u64,
        k: usize,
        sampler: &SamplerOptions,
    ) -> Result<Vec<Vec<[f64; 3]>>> {
        let mut pools: Vec<Vec<Drawn>> = vec![Vec::new(); self.len()];
        for round in 0..PIECE_ROUNDS {
            let short: Vec<usize> = (0..self.len())
                .filter(|&p| pools[p].iter().filter(|s| s.0 == (0, 0)).count() < k)
                .collect();
            if short.is_empty() {
                break;
            }
            let inputs: Vec<(&[u8], &[Bond], u64)> = (short.iter())
                .map(|&p| {
                    let (z, b) = &self.graphs[p];
                    let s = redraw_seed(piece_seed(seed, p), round);
                    (z.as_slice(), b.as_slice(), s)
                })
                .collect();
            let drawn = generate_many(generator, &inputs, PIECE_DRAWS * k, sampler)?;
            for (&p, samples) in short.iter().zip(drawn) {
                pools[p].extend(samples.into_iter().map(|x| self.oriented(p, x)));
            }
        }
        let chosen: Vec<Vec<usize>> = pools.iter().map(|pool| choose(pool, k)).collect();
        (0..k)
            .map(|j| {
                let parts: Vec<&[[f64; 3]]> = (pools.iter().zip(&chosen))
                    .map(|(pool, c)| pool[c[j]].1.as_slice())
                    .collect();
                self.join(&parts).map(|x| self.part_contacts(x))
            })
            .collect()
    }

    /// A joined structure with the atoms of different pieces that clash ([`sanity::check`])
    /// pushed apart to the clash distance + 0.1 Å, every atom tethered to where it is
    /// ([`Apart`]; L-BFGS), in up to [`APART_ROUNDS`] rounds. Atoms of one piece are left to
    /// the pipeline's relaxation; unchanged when the check or the optimiser fails.
    fn part_contacts(&self, mut x: Vec<[f64; 3]>) -> Vec<[f64; 3]> {
        let of = &self.piece_of;
        let opts = OptimizeOptions {
            fmax: 0.01,
            max_steps: 200,
            ..Default::default()
        };
        for _ in 0..APART_ROUNDS {
            let Ok(problems) = sanity::check(&self.numbers, &self.bonds, &x) else {
                return x;
            };
            let pairs: Vec<(usize, usize, f64)> = (problems.iter())
                .filter_map(|p| match *p {
                    Problem::Clash {
                        atoms: (i, j), min, ..
                    } if of[i] != of[j] => Some((i, j, min + 0.1)),
                    _ => None,
                })
                .collect();
            if pairs.is_empty() {
                break;
            }
            let start = x.clone();
            match optimize(&mut Apart { pairs, start }, &x, &opts) {
                Ok(r) => x = r.positions,
                Err(_) => return x,
            }
        }
        centred(x)
    }

    /// A sample of piece `p` with its share of the stereo put right ([`Stereo::orient`]), and
    /// its faults: (stereo elements wrong, sanity problems).
    fn oriented(&self, p: usize, mut x: Vec<[f64; 3]>) -> Drawn {
        let (numbers, bonds) = &self.graphs[p];
        let problems =
            |x: &[[f64; 3]]| sanity::check(numbers, bonds, x).map_or(usize::MAX, |q| q.len());
        self.stereo[p].orient(bonds, &mut x, problems);
        let (c, d) = self.stereo[p].check(&x);
        ((c.len() + d.len(), problems(&x)), x)
    }

    /// Joins one sample of each piece (piece positions, Å, `[n_p][3]`) into a molecule's
    /// structure (`[N][3]`, centred), placing pieces outward from the largest.
    fn join(&self, parts: &[&[[f64; 3]]]) -> Result<Vec<[f64; 3]>> {
        let n = self.numbers.len();
        let (piece_of, locals) = (&self.piece_of, &self.locals);
        let root = (0..self.len()).max_by_key(|&p| self.pieces[p].atoms.len());
        let root = root.expect("a plan has pieces");
        // Every placed piece's atoms and caps, molecule frame.
        let mut placed: Vec<Option<Vec<[f64; 3]>>> = vec![None; self.len()];
        let mut so_far = Placed {
            atoms: Vec::new(),
            positions: vec![[0.0; 3]; n],
        };
        so_far.add(&self.pieces[root].atoms, parts[root]);
        placed[root] = Some(parts[root].to_vec());
        while let Some(&(a, b)) = self
            .cuts
            .iter()
            .find(|&&(a, b)| placed[piece_of[a]].is_some() != placed[piece_of[b]].is_some())
        {
            let (a, b) = if placed[piece_of[a]].is_some() {
                (a, b)
            } else {
                (b, a)
            };
            let (pa, pb) = (piece_of[a], piece_of[b]);
            let from = placed[pa].as_ref().expect("placed");
            // The atom across the cut, where the placed piece's cap points.
            let (xa, cap) = (from[idx(&locals[pa], a)], from[idx(&locals[pa], b)]);
            let u = (v(cap) - v(xa)).normalize();
            let length = covalent_radius(self.numbers[a])? + covalent_radius(self.numbers[b])?;
            let part = parts[pb];
            let (yb, ycap) = (part[idx(&locals[pb], b)], part[idx(&locals[pb], a)]);
            let end = (v(yb), v(xa) + u * length);
            let align = rotation_onto(&(v(ycap) - v(yb)), &-u);
            let x = so_far.best_turn(&self.numbers, &self.pieces[pb].atoms, part, end, u, &align);
            so_far.add(&self.pieces[pb].atoms, &x);
            placed[pb] = Some(x);
        }
        Ok(centred(so_far.positions))
    }
}

/// The atoms placed so far while joining, and the molecule's positions (Å, `[N][3]`; those of
/// atoms not yet placed are meaningless).
struct Placed {
    atoms: Vec<usize>,
    positions: Vec<[f64; 3]>,
}

impl Placed {
    /// Places a piece's `own` atoms at the first rows of `x` (its caps follow).
    fn add(&mut self, own: &[usize], x: &[[f64; 3]]) {
        for (l, &a) in own.iter().enumerate() {
            self.positions[a] = x[l];
        }
        self.atoms.extend_from_slice(own);
    }

    /// A piece's sample `part` (its `own` atoms, then caps) moved so that its end of the cut,
    /// `end.0` in the piece's frame, lands at `end.1`, rotated by `align` and then about the
    /// bond direction `u` by the one of [`TURNS`] angles with the least [`overlap`].
    fn best_turn(
        &self,
        numbers: &[u8],
        own: &[usize],
        part: &[[f64; 3]],
        end: (Vector3<f64>, Vector3<f64>),
        u: Vector3<f64>,
        align: &Rotation3<f64>,
    ) -> Vec<[f64; 3]> {
        let axis = Unit::new_normalize(u);
        let moved = |angle: f64| -> Vec<[f64; 3]> {
            let turn = Rotation3::from_axis_angle(&axis, angle) * align;
            (part.iter())
                .map(|&y| (end.1 + turn * (v(y) - end.0)).into())
                .collect()
        };
        (0..TURNS)
            .map(|t| moved(t as f64 * std::f64::consts::TAU / TURNS as f64))
            .map(|x| (overlap(numbers, own, &x, &self.atoms, &self.positions), x))
            .min_by(|p, q| p.0.total_cmp(&q.0))
            .expect("TURNS > 0")
            .1
    }
}

/// Clashing pairs `(i, j, d0)` pushed apart to `d0` (Å) by `K/2 (d0 - d)²` each (K: the
/// sanity restraint's `RESTRAINT_K`, 40 eV/Å²), every atom tethered to `start` by
/// `1/2 |x - x0|²` (1 eV/Å²).
struct Apart {
    pairs: Vec<(usize, usize, f64)>,
    start: Vec<[f64; 3]>,
}

impl Objective for Apart {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)> {
        let mut e = 0.0;
        let mut g = vec![[0.0; 3]; x.len()];
        for (a, (p, q)) in x.iter().zip(&self.start).enumerate() {
            let d = v(*p) - v(*q);
            e += 0.5 * d.norm_squared();
            g[a] = d.into();
        }
        for &(i, j, d0) in &self.pairs {
            let r = v(x[i]) - v(x[j]);
            let d = r.norm().max(1e-9);
            if d < d0 {
                e += 0.5 * sanity::RESTRAINT_K * (d0 - d) * (d0 - d);
                let f = r * (-sanity::RESTRAINT_K * (d0 - d) / d);
                for k in 0..3 {
                    g[i][k] += f[k];
                    g[j][k] -= f[k];
                }
            }
        }
        Ok((e, g))
    }
}

/// The samples of a piece's `pool` (faults, positions) that `k` structures use: slot `j` its
/// own sample `j` when that has no fault, the other slots the pool's least faulty samples (by
/// faults, then draw order) not yet used, again from the best when all are used.
fn choose<T>(pool: &[((usize, usize), T)], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.sort_by_key(|&s| (pool[s].0, s));
    let keep = |j: usize| j < pool.len() && pool[j].0 == (0, 0);
    let taken: Vec<bool> = (0..pool.len()).map(|s| s < k && keep(s)).collect();
    let mut next = order.iter().copied().filter(|&s| !taken[s]);
    (0..k)
        .map(|j| match keep(j) {
            true => j,
            false => next.next().unwrap_or(order[j % order.len()]),
        })
        .collect()
}

/// The sampler seed of piece `p` of a molecule seeded with `seed`.
fn piece_seed(seed: u64, p: usize) -> u64 {
    seed.wrapping_add((p as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// The cut bonds: the most even cut of each part still above `piece_atoms` atoms, then of
/// the parts it leaves, and so on; a cut is an acyclic single bond between two heavy atoms that leaves at
/// least [`MIN_PIECE`] atoms on each side.
fn cut(numbers: &[u8], bonds: &[Bond], adj: &Adjacency, piece_atoms: usize) -> Vec<(usize, usize)> {
    let n = numbers.len();
    let candidates: Vec<(usize, usize)> = (bonds.iter())
        .filter(|b| b.order == BondOrder::Single && numbers[b.i] != 1 && numbers[b.j] != 1)
        .map(|b| (b.i, b.j))
        .collect();
    let mut cuts = Vec::new();
    let mut parts = vec![(0..n).collect::<Vec<usize>>()];
    while let Some(part) = parts.pop() {
        if part.len() <= piece_atoms {
            continue;
        }
        let mut inside = vec![false; n];
        for &a in &part {
            inside[a] = true;
        }
        let best = (candidates.iter())
            .filter(|&&(a, b)| inside[a] && inside[b])
            .filter_map(|&(a, b)| {
                let side = reach(adj, a, Some((a, b)), &inside, &cuts)?;
                let small = side.len().min(part.len() - side.len());
                (small >= MIN_PIECE).then_some((part.len() - small, (a, b), side))
            })
            .min_by_key(|c| c.0);
        if let Some((_, bond, side)) = best {
            cuts.push(bond);
            let mut other = inside;
            for &a in &side {
                other[a] = false;
            }
            parts.push((0..n).filter(|&a| other[a]).collect());
            parts.push(side);
        }
    }
    cuts
}

/// The atoms reachable from `a` within `inside` without crossing `bond` (if any) or any of
/// `cuts`; `None` when the bond's other end is among them (the bond lies in a ring).
fn reach(
    adj: &Adjacency,
    a: usize,
    bond: Option<(usize, usize)>,
    inside: &[bool],
    cuts: &[(usize, usize)],
) -> Option<Vec<usize>> {
    let crosses = |p: usize, q: usize| {
        (bond.iter().chain(cuts)).any(|&(x, y)| (x, y) == (p, q) || (y, x) == (p, q))
    };
    let mut seen = vec![false; inside.len()];
    seen[a] = true;
    let mut stack = vec![a];
    let mut side = Vec::new();
    while let Some(p) = stack.pop() {
        side.push(p);
        for &q in adj.neighbors(p) {
            if inside[q] && !seen[q] && !crosses(p, q) {
                seen[q] = true;
                stack.push(q);
            }
        }
    }
    match bond {
        Some((_, b)) if seen[b] => None,
        _ => Some(side),
    }
}

/// The pieces the `cuts` leave (connected parts, atoms in molecule order) with their caps,
/// and the piece of every atom (`[N]`).
fn pieces(n: usize, cuts: &[(usize, usize)], adj: &Adjacency) -> (Vec<Piece>, Vec<usize>) {
    let all = vec![true; n];
    let mut piece = vec![usize::MAX; n];
    let mut out: Vec<Piece> = Vec::new();
    for start in 0..n {
        if piece[start] != usize::MAX {
            continue;
        }
        let mut atoms = reach(adj, start, None, &all, cuts).expect("no bond to test");
        atoms.sort_unstable();
        for &a in &atoms {
            piece[a] = out.len();
        }
        out.push(Piece {
            atoms,
            caps: Vec::new(),
        });
    }
    for &(a, b) in cuts {
        out[piece[a]].caps.push((a, b));
        out[piece[b]].caps.push((b, a));
    }
    (out, piece)
}

/// A piece's atomic numbers (caps are hydrogens) and bonds, piece indices (`local`: its
/// [`Piece::local`] map).
fn graph(
    piece: &Piece,
    local: &[Option<usize>],
    numbers: &[u8],
    bonds: &[Bond],
) -> (Vec<u8>, Vec<Bond>) {
    let mut z: Vec<u8> = piece.atoms.iter().map(|&a| numbers[a]).collect();
    z.extend(std::iter::repeat_n(1, piece.caps.len()));
    let own = |a: usize| local[a].filter(|&l| l < piece.atoms.len());
    let mut out: Vec<Bond> = (bonds.iter())
        .filter_map(|b| {
            Some(Bond {
                i: own(b.i)?,
                j: own(b.j)?,
                order: b.order,
            })
        })
        .collect();
    for (c, &(a, _)) in piece.caps.iter().enumerate() {
        out.push(Bond {
            i: own(a).expect("a cap's atom is the piece's"),
            j: piece.atoms.len() + c,
            order: BondOrder::Single,
        });
    }
    debug_assert_eq!(z.len(), piece.len());
    (z, out)
}

/// The specified centres and double bonds whose atoms lie in the piece (a cap standing for
/// an atom across a cut), in piece indices (`local`: its [`Piece::local`] map).
fn share(piece: &Piece, local: &[Option<usize>], stereo: &Stereo) -> Stereo {
    let own = |a: usize| local[a].filter(|&l| l < piece.atoms.len());
    let centres = (stereo.centres.iter())
        .filter_map(|t| {
            let nb = t.neighbors.map(|a| local[a]);
            let centre = own(t.centre)?;
            Some(Tetrahedral {
                centre,
                neighbors: [nb[0]?, nb[1]?, nb[2]?, nb[3]?],
                positive: t.positive,
                // An anchor in another piece (never in practice: ring systems are not cut)
                // leaves the centre free.
                relative_to: t.relative_to.map(|a| own(a).unwrap_or(centre)),
            })
        })
        .collect();
    let double_bonds = (stereo.double_bonds.iter())
        .filter_map(|d| {
            Some(DoubleBond {
                ends: [own(d.ends[0])?, own(d.ends[1])?],
                refs: [local[d.refs[0]]?, local[d.refs[1]]?],
                cis: d.cis,
            })
        })
        .collect();
    Stereo {
        centres,
        double_bonds,
    }
}

/// The piece index of molecule atom `a` (its own, or its cap's) in a piece's `local` map.
fn idx(local: &[Option<usize>], a: usize) -> usize {
    local[a].expect("the atom or its cap is in the piece")
}

/// Overlap of a piece placed at `x` (`own` atoms in order) with the atoms placed so far:
/// sum of (r0 - d)² over pairs closer than r0 (3.0 Å between heavy atoms, 2.6 with one
/// hydrogen, 2.2 between hydrogens).
fn overlap(
    numbers: &[u8],
    own: &[usize],
    x: &[[f64; 3]],
    occupied: &[usize],
    positions: &[[f64; 3]],
) -> f64 {
    let mut sum = 0.0;
    for (l, &a) in own.iter().enumerate() {
        for &b in occupied {
            let r0 = [3.0, 2.6, 2.2][usize::from(numbers[a] == 1) + usize::from(numbers[b] == 1)];
            let d = (v(x[l]) - v(positions[b])).norm();
            if d < r0 {
                sum += (r0 - d) * (r0 - d);
            }
        }
    }
    sum
}

/// Positions `x` (Å, `[N][3]`) moved so that their mean is the origin, as the sampler's are.
fn centred(mut x: Vec<[f64; 3]>) -> Vec<[f64; 3]> {
    let c = x.iter().map(|&p| v(p)).sum::<Vector3<f64>>() / x.len() as f64;
    for p in &mut x {
        *p = (v(*p) - c).into();
    }
    x
}

/// `a` as a nalgebra vector.
fn v(a: [f64; 3]) -> Vector3<f64> {
    Vector3::from(a)
}

/// A rotation taking the direction of `from` onto that of `to`.
fn rotation_onto(from: &Vector3<f64>, to: &Vector3<f64>) -> Rotation3<f64> {
    Rotation3::rotation_between(from, to).unwrap_or_else(|| {
        // Opposite directions: half a turn about any axis normal to `from`.
        let normal = from.cross(&Vector3::x()).try_normalize(1e-6);
        let normal = normal.unwrap_or_else(|| from.cross(&Vector3::y()).normalize());
        Rotation3::from_axis_angle(&Unit::new_unchecked(normal), std::f64::consts::PI)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(i: usize, j: usize) -> Bond {
        Bond {
            i,
            j,
            order: BondOrder::Single,
        }
    }

    /// An all-trans n-alkane: carbons zig-zag in the xy plane, hydrogens beside it.
    fn alkane(n: usize) -> (Vec<u8>, Vec<Bond>, Vec<[f64; 3]>) {
        let mut z = vec![6; n];
        let mut x: Vec<[f64; 3]> = (0..n)
            .map(|i| [1.258 * i as f64, 0.889 * (i % 2) as f64, 0.0])
            .collect();
        let mut bonds: Vec<Bond> = (1..n).map(|i| single(i - 1, i)).collect();
        for i in 0..n {
            let away = if i % 2 == 1 { 0.63 } else { -0.63 };
            let mut hs = vec![[0.0, away, 0.89], [0.0, away, -0.89]];
            for (end, next) in [(0, 1), (n - 1, n - 2)] {
                if i == end {
                    hs.push(((v(x[end]) - v(x[next])).normalize() * 1.09).into());
                }
            }
            for h in hs {
                bonds.push(single(i, z.len()));
                z.push(1);
                x.push((v(x[i]) + v(h)).into());
            }
        }
        (z, bonds, x)
    }

    #[test]
    fn a_long_chain_is_cut_into_small_pieces_that_cover_it_once() {
        let (z, bonds, _) = alkane(40);
        let plan = Plan::new(&z, &bonds, &Stereo::default()).expect("122 atoms are cut");
        assert!(plan.len() >= 3, "{} pieces", plan.len());
        let mut seen = vec![0; z.len()];
        for (piece, (pz, pb)) in plan.pieces.iter().zip(&plan.graphs) {
            assert!(piece.atoms.len() <= PIECE_ATOMS && piece.atoms.len() >= MIN_PIECE);
            piece.atoms.iter().for_each(|&a| seen[a] += 1);
            assert_eq!(pz.len(), piece.len());
            crate::model::graph::check_topology(pz, pb).unwrap();
        }
        assert!(seen.iter().all(|&s| s == 1));
        assert_eq!(plan.cuts.len(), plan.len() - 1);
        for &(a, b) in &plan.cuts {
            assert!(z[a] == 6 && z[b] == 6);
        }
    }

    #[test]
    fn a_redraw_plan_cuts_a_mid_sized_molecule_once_evenly() {
        let none = Stereo::default();
        let (z, bonds, _) = alkane(16); // 50 atoms
        assert!(Plan::new(&z, &bonds, &none).is_none());
        let plan = Plan::for_redraw(&z, &bonds, &none).expect("50 atoms are cut for a redraw");
        assert_eq!(plan.len(), 2);
        let sizes: Vec<usize> = plan.pieces.iter().map(|p| p.atoms.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 50);
        assert!(sizes.iter().all(|&s| s <= 2 * 50 / 3), "{sizes:?}");
        let (z, bonds, _) = alkane(13); // 41 atoms
        assert!(Plan::for_redraw(&z, &bonds, &none).is_some());
        let (z, bonds, _) = alkane(12); // 38 atoms
        assert!(Plan::for_redraw(&z, &bonds, &none).is_none());
    }

    #[test]
    fn small_disconnected_and_ring_only_molecules_are_left_whole() {
        let none = Stereo::default();
        let (z, bonds, _) = alkane(26);
        assert_eq!(z.len(), ASSEMBLE_ABOVE);
        assert!(Plan::new(&z, &bonds, &none).is_none());
        // A 40-membered ring (120 atoms): no acyclic bond to cut.
        let n = 40;
        let mut z = vec![6; n];
        let mut ring: Vec<Bond> = (0..n).map(|i| single(i, (i + 1) % n)).collect();
        for i in 0..2 * n {
            ring.push(single(i / 2, z.len()));
            z.push(1);
        }
        assert!(Plan::new(&z, &ring, &none).is_none());
        // Two chains side by side.
        let (z1, b1, _) = alkane(20);
        let mut z2 = z1.clone();
        z2.extend(&z1);
        let shift = z1.len();
        let mut b2 = b1.clone();
        b2.extend(b1.iter().map(|b| single(b.i + shift, b.j + shift)));
        assert!(z2.len() > ASSEMBLE_ABOVE);
        assert!(Plan::new(&z2, &b2, &none).is_none());
    }

    #[test]
    fn joined_pieces_make_a_sane_molecule_with_the_cut_bonds_at_the_radii_sum() {
        let (z, bonds, x) = alkane(40);
        assert!(sanity::check(&z, &bonds, &x).unwrap().is_empty());
        let plan = Plan::new(&z, &bonds, &Stereo::default()).unwrap();
        // Each piece as the generator would give it: its atoms and caps, turned and moved.
        let parts: Vec<Vec<[f64; 3]>> = (plan.pieces.iter().enumerate())
            .map(|(p, piece)| {
                let axis = Unit::new_normalize(Vector3::new(1.0, p as f64, 2.0));
                let turn = Rotation3::from_axis_angle(&axis, 0.7 + p as f64);
                let caps = (piece.caps.iter())
                    .map(|&(a, b)| v(x[a]) + (v(x[b]) - v(x[a])).normalize() * 1.09);
                let atoms = piece.atoms.iter().map(|&a| v(x[a]));
                (atoms.chain(caps))
                    .map(|y| (turn * y + Vector3::new(3.0 * p as f64, -1.0, 5.0)).into())
                    .collect()
            })
            .collect();
        let refs: Vec<&[[f64; 3]]> = parts.iter().map(Vec::as_slice).collect();
        let joined = plan.join(&refs).unwrap();
        assert_eq!(sanity::check(&z, &bonds, &joined).unwrap(), vec![]);
        for &(a, b) in &plan.cuts {
            assert!(((v(joined[a]) - v(joined[b])).norm() - 1.52).abs() < 1e-9);
        }
        // Within a piece, distances are the piece's own.
        let piece = &plan.pieces[0].atoms;
        let d = |y: &[[f64; 3]], i: usize, j: usize| (v(y[piece[i]]) - v(y[piece[j]])).norm();
        assert!((d(&joined, 0, piece.len() - 1) - d(&x, 0, piece.len() - 1)).abs() < 1e-9);
    }

    #[test]
    fn a_centre_beside_a_cut_is_described_with_the_cap() {
        let piece = Piece {
            atoms: vec![0, 1, 2, 3],
            caps: vec![(1, 5)],
        };
        let centre = |centre, neighbors| Tetrahedral {
            centre,
            neighbors,
            positive: true,
            relative_to: None,
        };
        let stereo = Stereo {
            centres: vec![centre(1, [0, 2, 3, 5]), centre(2, [1, 7, 8, 9])],
            double_bonds: Vec::new(),
        };
        let shared = share(&piece, &piece.local(10), &stereo);
        assert_eq!(shared.centres, vec![centre(1, [0, 2, 3, 4])]);
    }

    #[test]
    fn faultless_samples_keep_their_slot_and_the_rest_take_the_best_unused() {
        let pool: Vec<((usize, usize), ())> = [(0, 1), (0, 0), (1, 0), (0, 0), (0, 0)]
            .into_iter()
            .map(|f| (f, ()))
            .collect();
        assert_eq!(choose(&pool, 3), vec![3, 1, 4]);
        let bad: Vec<((usize, usize), ())> = vec![((0, 2), ()), ((0, 1), ())];
        assert_eq!(choose(&bad, 3), vec![1, 0, 1]);
    }

    #[test]
    fn rotation_onto_takes_a_direction_onto_another_even_the_opposite_one() {
        let from = Vector3::new(0.3, -1.0, 2.0);
        for to in [Vector3::new(1.0, 1.0, 0.0), -from, from, Vector3::x()] {
            let r = rotation_onto(&from, &to);
            assert!(
                (r * from.normalize() - to.normalize()).norm() < 1e-12,
                "{to}"
            );
        }
        let x = Vector3::x();
        assert!((rotation_onto(&x, &-x) * x + x).norm() < 1e-12);
    }

    #[test]
    fn atoms_of_different_pieces_that_clash_are_pushed_apart_and_the_rest_stays() {
        let (z, bonds, mut x) = alkane(40);
        let plan = Plan::new(&z, &bonds, &Stereo::default()).unwrap();
        let (a, b) = plan.cuts[0];
        let of = &plan.piece_of;
        // A hydrogen of b's piece moved 0.6 Å from a carbon of a's piece bonded to a.
        let c = plan.pieces[of[a]].atoms.iter().copied().find(|&c| {
            z[c] == 6 && c != a && bonds.iter().any(|q| (q.i, q.j) == (c.min(a), c.max(a)))
        });
        let c = c.unwrap();
        let h = (bonds.iter())
            .find(|q| q.i == b && z[q.j] == 1)
            .map(|q| q.j)
            .unwrap();
        x[h] = (v(x[c]) + Vector3::new(0.0, 0.0, 0.6)).into();
        let clashes = |y: &[[f64; 3]]| {
            let p = sanity::check(&z, &bonds, y).unwrap();
            p.iter()
                .filter(|p| matches!(p, Problem::Clash { .. }))
                .count()
        };
        assert!(clashes(&x) > 0);
        let y = plan.part_contacts(x.clone());
        assert_eq!(clashes(&y), 0);
        let far = plan.pieces[of[a]].atoms.len() / 2;
        let (p, q) = (plan.pieces[of[a]].atoms[0], plan.pieces[of[a]].atoms[far]);
        let d = |y: &[[f64; 3]]| (v(y[p]) - v(y[q])).norm();
        assert!((d(&x) - d(&y)).abs() < 1e-3);
    }
}
