//! Stereochemistry of a molecular graph: tetrahedral centres and double-bond configurations.
//!
//! Which atoms and bonds are stereogenic is perceived from the graph alone ([`perceive`]: an
//! atom with four neighbours in four different symmetry classes; a ring atom whose two ring
//! neighbours are alike, when its ring system holds another stereocentre (cis/trans ring
//! substituents, e.g. 1,4-disubstituted cyclohexanes, whose configuration only counts relative
//! to the other centre: [`Tetrahedral::relative_to`]); a double bond outside small rings whose
//! ends each carry distinguishable substituents). Their configurations come from
//! SMILES marks ([`crate::io::parse_smiles`]), from SDF atom parities or from 3D coordinates
//! ([`Stereo::from_positions`]), and are checked on generated structures ([`Stereo::check`]).
//!
//! Geometry conventions: a centre is described by its four neighbours `[f, a, b, c]` and the
//! sign of the signed volume of their tetrahedron, `(x_a - x_f) . ((x_b - x_f) x (x_c - x_f))`
//! (negative when `a, b, c` run anticlockwise seen from `f`, SMILES's `@`; unlike a volume
//! around the centre, it keeps its sign when a strained cage puts the centre off-side);
//! a double bond `p=q` by one substituent on each end `[s, t]` and whether `s` and `t` lie on
//! the same side (cis: positive cosine of the dihedral `s-p-q-t`). A structure and its mirror
//! image have opposite centres and the same double bonds.

use crate::hops::Adjacency;
use crate::structure::{Bond, BondOrder};

/// A tetrahedral stereocentre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tetrahedral {
    /// The centre atom (0-based).
    pub centre: usize,
    /// Its four neighbours `[f, a, b, c]`.
    pub neighbors: [usize; 4],
    /// Whether their signed volume ([`signed_volume`]) is positive.
    pub positive: bool,
    /// `None` for a centre whose configuration counts on its own. `Some(anchor)` for a ring
    /// centre ([`Stereogenic::relative`]) whose configuration counts only relative to that of
    /// the centre on atom `anchor` of its ring system: it is right when both are right or both
    /// wrong (a mirror image, or the ring numbered the other way round, inverts both).
    /// `Some(centre)` marks the anchor of ring centres that are all relative (it is always right).
    pub relative_to: Option<usize>,
}

/// The configuration of a stereogenic double bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoubleBond {
    /// The two doubly bonded atoms `[p, q]`.
    pub ends: [usize; 2],
    /// A substituent of `p` and one of `q` (`[s, t]`).
    pub refs: [usize; 2],
    /// Whether `s` and `t` are on the same side of the bond.
    pub cis: bool,
}

/// The stereo configuration a molecule must have; empty when none is specified (then any
/// stereoisomer is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stereo {
    /// Specified tetrahedral centres.
    pub centres: Vec<Tetrahedral>,
    /// Specified double bonds.
    pub double_bonds: Vec<DoubleBond>,
}

/// The atoms and bonds of a graph that can carry stereo (see [`perceive`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stereogenic {
    /// Atoms with four neighbours of four different symmetry classes.
    pub centres: Vec<usize>,
    /// Ring atoms with four neighbours, two of them alike and bonded in the ring, the other two
    /// different from those and from each other, whose ring system holds another centre of
    /// either kind: cis/trans ring substituents (RDKit's ring stereo; CIP r/s or relative).
    pub relative: Vec<usize>,
    /// The ring system of each atom ([`Adjacency::ring_systems`]), `[N]`.
    pub ring_system: Vec<Option<usize>>,
    /// Double bonds `[p, q]` outside rings of fewer than [`MIN_RING_FOR_TRANS`] atoms, each end
    /// bonded to one or two other atoms, of different symmetry classes when two.
    pub double_bonds: Vec<[usize; 2]>,
}

/// Smallest ring in which a double bond can be trans (smaller rings force cis; RDKit's rule).
pub const MIN_RING_FOR_TRANS: usize = 8;

/// Smallest |signed volume| (Å^3) from which a centre's configuration is read from coordinates;
/// the neighbours of a tetrahedral carbon give 4-10 Å^3.
pub const MIN_VOLUME: f64 = 0.2;

/// Smallest |cos dihedral| from which a double bond's configuration is read from coordinates.
pub const MIN_COS: f64 = 0.2;

/// Signed volume `(x_a - x_f) . ((x_b - x_f) x (x_c - x_f))` of atoms `[f, a, b, c]`, Å^3.
pub fn signed_volume(x: &[[f64; 3]], [f, a, b, c]: [usize; 4]) -> f64 {
    dot(sub(x[a], x[f]), cross(sub(x[b], x[f]), sub(x[c], x[f])))
}

/// Cosine of the dihedral `s-p-q-t` (1 for cis, -1 for trans; NaN for degenerate input).
pub fn cos_dihedral(x: &[[f64; 3]], [p, q]: [usize; 2], [s, t]: [usize; 2]) -> f64 {
    let axis = sub(x[q], x[p]);
    let aa = dot(axis, axis);
    // The substituent directions with their components along the bond removed.
    let perp = |v: [f64; 3]| {
        let k = dot(v, axis) / aa;
        std::array::from_fn::<f64, 3, _>(|i| v[i] - k * axis[i])
    };
    let (u, w) = (perp(sub(x[s], x[p])), perp(sub(x[t], x[q])));
    dot(u, w) / (dot(u, u) * dot(w, w)).sqrt()
}

/// The stereogenic atoms and double bonds of the graph (`numbers` `[N]`, `bonds`).
pub fn perceive(numbers: &[u8], bonds: &[Bond]) -> Stereogenic {
    let class = symmetry_classes(numbers, bonds);
    let n = class.len();
    let adj = Adjacency::new(n, bonds.iter().map(|b| (b.i, b.j)));
    let distinct = |atoms: &[usize]| {
        let mut c: Vec<usize> = atoms.iter().map(|&a| class[a]).collect();
        c.sort_unstable();
        c.windows(2).all(|w| w[0] != w[1])
    };
    let doubles_at = |a: usize| {
        bonds
            .iter()
            .filter(|b| b.order == BondOrder::Double && (b.i == a || b.j == a))
            .count()
    };
    let centres: Vec<usize> = (0..n)
        .filter(|&a| adj.neighbors(a).len() == 4 && distinct(adj.neighbors(a)))
        .collect();
    let ring_system = adj.ring_systems();
    let candidates: Vec<usize> = (0..n)
        .filter(|&a| ring_pair_centre(&adj, &class, &ring_system, a))
        .collect();
    let system_of = |a: &usize| ring_system[*a];
    let relative = (candidates.iter().copied())
        .filter(|&a| {
            let others = centres.iter().chain(&candidates).filter(|&&b| b != a);
            others.map(system_of).any(|s| s == ring_system[a])
        })
        .collect();
    let ok_end = |a: usize, other: usize| {
        let rest = substituents(&adj, a, other);
        (rest.len() == 1 || (rest.len() == 2 && distinct(&rest))) && doubles_at(a) == 1
    };
    let double_bonds = bonds
        .iter()
        .filter(|b| b.order == BondOrder::Double)
        .map(|b| [b.i, b.j])
        .filter(|&[p, q]| {
            ok_end(p, q) && ok_end(q, p) && ring_size(&adj, p, q) >= MIN_RING_FOR_TRANS
        })
        .collect();
    Stereogenic {
        centres,
        relative,
        ring_system,
        double_bonds,
    }
}

/// Whether ring atom `a` has four neighbours of which exactly two share a symmetry class
/// (`class`), both in its ring system (`system`), the other two of other, different classes.
fn ring_pair_centre(adj: &Adjacency, class: &[usize], system: &[Option<usize>], a: usize) -> bool {
    let nb = adj.neighbors(a);
    if nb.len() != 4 || system[a].is_none() {
        return false;
    }
    let pairs: Vec<(usize, usize)> = (0..4)
        .flat_map(|p| (p + 1..4).map(move |q| (p, q)))
        .filter(|&(p, q)| class[nb[p]] == class[nb[q]])
        .collect();
    match pairs[..] {
        [(p, q)] => system[nb[p]] == system[a] && system[nb[q]] == system[a],
        _ => false,
    }
}

impl Stereogenic {
    /// The configured centres `centres` with [`Tetrahedral::relative_to`] set from the graph:
    /// a ring centre ([`Self::relative`]) becomes relative to the anchor of its ring system
    /// (the configured ordinary centre of lowest index in the system, else its configured ring
    /// centre of lowest index, which is marked as the anchor); a ring centre alone in its
    /// system carries no configuration and is dropped. Other centres count on their own.
    pub fn relate(&self, centres: Vec<Tetrahedral>) -> Vec<Tetrahedral> {
        let is_relative = |a: usize| self.relative.contains(&a);
        let system = |a: usize| self.ring_system.get(a).copied().flatten();
        let anchor = |s: usize| {
            let in_s = centres
                .iter()
                .map(|t| t.centre)
                .filter(|&a| system(a) == Some(s));
            let (ring, ordinary): (Vec<usize>, Vec<usize>) = in_s
                .filter(|&a| is_relative(a) || self.centres.contains(&a))
                .partition(|&a| is_relative(a));
            ordinary.into_iter().min().or(ring.iter().copied().min())
        };
        (centres.iter())
            .filter_map(|t| {
                let relative_to = match system(t.centre) {
                    Some(s) if is_relative(t.centre) => {
                        let a = anchor(s)?;
                        let alone = a == t.centre
                            && !centres.iter().any(|u| {
                                u.centre != a
                                    && is_relative(u.centre)
                                    && system(u.centre) == Some(s)
                            });
                        if alone {
                            return None;
                        }
                        Some(a)
                    }
                    _ => None,
                };
                Some(Tetrahedral { relative_to, ..*t })
            })
            .collect()
    }
}

/// The number of atoms in the smallest ring through bond `p-q` (`usize::MAX` if none): one
/// more than the hop distance from `p` to `q` without that bond.
fn ring_size(adj: &Adjacency, p: usize, q: usize) -> usize {
    let n = adj.len();
    let mut dist = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::from([p]);
    dist[p] = 0;
    while let Some(a) = queue.pop_front() {
        for &b in adj.neighbors(a) {
            if (a == p && b == q) || dist[b] != usize::MAX {
                continue;
            }
            dist[b] = dist[a] + 1;
            queue.push_back(b);
        }
    }
    dist[q].saturating_add(1)
}

/// Symmetry classes of the atoms of the graph (`numbers` `[N]`, `bonds`): equal classes are
/// not distinguishable by the graph. Classes by element, refined by the multiset of (bond
/// order, neighbour class) until stable (Morgan / Weininger refinement); one index per atom.
pub fn symmetry_classes(numbers: &[u8], bonds: &[Bond]) -> Vec<usize> {
    let n = numbers.len();
    let mut edges = vec![Vec::new(); n];
    for b in bonds {
        edges[b.i].push((b.order.code(), b.j));
        edges[b.j].push((b.order.code(), b.i));
    }
    let mut class = rank(
        &numbers
            .iter()
            .map(|&z| vec![z as usize])
            .collect::<Vec<_>>(),
    );
    loop {
        let keys: Vec<Vec<usize>> = (0..n)
            .map(|a| {
                let mut env: Vec<usize> = edges[a]
                    .iter()
                    .map(|&(o, b)| (o as usize) * n + class[b])
                    .collect();
                env.sort_unstable();
                std::iter::once(class[a]).chain(env).collect()
            })
            .collect();
        let next = rank(&keys);
        let count = |c: &[usize]| c.iter().max().map_or(0, |m| m + 1);
        if count(&next) == count(&class) {
            return next;
        }
        class = next;
    }
}

/// Dense ranks of `keys` (equal keys, equal rank; ordered by key).
fn rank(keys: &[Vec<usize>]) -> Vec<usize> {
    let mut sorted: Vec<&Vec<usize>> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    keys.iter()
        .map(|k| sorted.binary_search(&k).expect("key is in the list"))
        .collect()
}

impl Stereo {
    /// True when nothing is specified.
    pub fn is_empty(&self) -> bool {
        self.centres.is_empty() && self.double_bonds.is_empty()
    }

    /// The configurations of every stereogenic centre and double bond of the graph
    /// (`numbers` `[N]`, `bonds`) at `positions` (Å, `[N][3]`), skipping those the geometry
    /// does not decide (|volume| < [`MIN_VOLUME`], |cos dihedral| < [`MIN_COS`]).
    pub fn from_positions(numbers: &[u8], bonds: &[Bond], positions: &[[f64; 3]]) -> Stereo {
        let found = perceive(numbers, bonds);
        let adj = Adjacency::new(numbers.len(), bonds.iter().map(|b| (b.i, b.j)));
        let mut out = Stereo::default();
        let mut centres = Vec::new();
        for &o in found.centres.iter().chain(&found.relative) {
            let nb = adj.neighbors(o);
            let neighbors = [nb[0], nb[1], nb[2], nb[3]];
            let v = signed_volume(positions, neighbors);
            if v.abs() >= MIN_VOLUME {
                centres.push(Tetrahedral {
                    centre: o,
                    neighbors,
                    positive: v > 0.0,
                    relative_to: None,
                });
            }
        }
        centres.sort_by_key(|t| t.centre);
        out.centres = found.relate(centres);
        for &[p, q] in &found.double_bonds {
            let refs = [substituents(&adj, p, q)[0], substituents(&adj, q, p)[0]];
            let c = cos_dihedral(positions, [p, q], refs);
            if c.abs() >= MIN_COS {
                out.double_bonds.push(DoubleBond {
                    ends: [p, q],
                    refs,
                    cis: c > 0.0,
                });
            }
        }
        out
    }

    /// The configurations of the stereogenic centres given MDL atom parities (`parities`
    /// `[N]`: 1 = clockwise, 2 = anticlockwise, other values none): neighbours numbered by
    /// atom index with hydrogens last, viewed with the last one behind, the first three run
    /// clockwise for parity 1 (a negative volume seen from the last).
    pub fn from_parities(numbers: &[u8], bonds: &[Bond], parities: &[u8]) -> Stereo {
        let found = perceive(numbers, bonds);
        let adj = Adjacency::new(numbers.len(), bonds.iter().map(|b| (b.i, b.j)));
        let mut centres: Vec<Tetrahedral> = (found.centres.iter().chain(&found.relative))
            .filter(|&&o| matches!(parities.get(o), Some(1 | 2)))
            .map(|&o| {
                let mut nb = adj.neighbors(o).to_vec();
                nb.sort_by_key(|&a| (numbers[a] == 1, a));
                Tetrahedral {
                    centre: o,
                    neighbors: [nb[3], nb[0], nb[1], nb[2]],
                    positive: parities[o] == 2,
                    relative_to: None,
                }
            })
            .collect();
        centres.sort_by_key(|t| t.centre);
        Stereo {
            centres: found.relate(centres),
            double_bonds: Vec::new(),
        }
    }

    /// Whether centre `t` has its own configuration at `positions`, ignoring
    /// [`Tetrahedral::relative_to`].
    fn centre_right(t: &Tetrahedral, positions: &[[f64; 3]]) -> bool {
        (signed_volume(positions, t.neighbors) > 0.0) == t.positive
    }

    /// `t` as a centre that counts on its own and that `positions` (Å, `[N][3]`) get wrong,
    /// or `None` when they get it right: a relative centre ([`Tetrahedral::relative_to`]) is
    /// right when its anchor is right as well or wrong as well (or is not specified).
    fn wrong_target(&self, t: &Tetrahedral, positions: &[[f64; 3]]) -> Option<Tetrahedral> {
        let own = Self::centre_right(t, positions);
        let right = match t.relative_to {
            None => own,
            Some(a) => match self.centres.iter().find(|u| u.centre == a) {
                Some(u) if a != t.centre => own == Self::centre_right(u, positions),
                _ => true,
            },
        };
        (!right).then_some(Tetrahedral {
            positive: signed_volume(positions, t.neighbors) <= 0.0,
            relative_to: None,
            ..*t
        })
    }

    /// Whether double bond `d` has its configuration at `positions`.
    fn bond_right(d: &DoubleBond, positions: &[[f64; 3]]) -> bool {
        (cos_dihedral(positions, d.ends, d.refs) > 0.0) == d.cis
    }

    /// The specified centres and double bonds that `positions` (Å, `[N][3]`) get wrong.
    pub fn check(&self, positions: &[[f64; 3]]) -> (Vec<Tetrahedral>, Vec<DoubleBond>) {
        let centres = self
            .centres
            .iter()
            .filter(|t| self.wrong_target(t, positions).is_some())
            .copied()
            .collect();
        let bonds = self
            .double_bonds
            .iter()
            .filter(|d| !Self::bond_right(d, positions))
            .copied()
            .collect();
        (centres, bonds)
    }

    /// Puts the specified centres of a structure right where geometry allows, for a graph with
    /// `bonds` at `positions` (Å, `[N][3]`, changed in place): first mirrors the whole structure
    /// (x -> -x, which inverts every centre and keeps every double bond and every relative
    /// configuration) when that puts more of the centres that count on their own right than
    /// wrong, then inverts each centre still wrong that has a terminal
    /// neighbour (a hydrogen or halogen) like an umbrella: the centre and that atom are
    /// reflected through the plane of the other three neighbours, which keeps every bond
    /// length; then swaps two acyclic substituents of each centre still wrong
    /// (`swap_branches`, e.g. at a ring carbon); and puts each wrong double bond right by
    /// flipping an end's terminal substituents or turning one side half a turn about the bond
    /// (`flip_double_bonds`). A wrong relative centre is inverted itself, its anchor left as
    /// it is. A change is kept only when `problems` (the number of geometric problems of a
    /// structure, e.g. from [`crate::sanity::check`]) does not grow. Returns the number of
    /// centres still wrong. An E(3)-equivariant generator draws both images alike, so the
    /// mirror costs nothing.
    pub fn orient(
        &self,
        bonds: &[Bond],
        positions: &mut [[f64; 3]],
        problems: impl Fn(&[[f64; 3]]) -> usize,
    ) -> usize {
        let absolute = self.centres.iter().filter(|t| t.relative_to.is_none());
        let wrong = absolute
            .clone()
            .filter(|t| !Self::centre_right(t, positions));
        if 2 * wrong.count() > absolute.count() {
            for p in positions.iter_mut() {
                p[0] = -p[0];
            }
        }
        let adj = Adjacency::new(positions.len(), bonds.iter().map(|b| (b.i, b.j)));
        let terminal = |a: usize| adj.neighbors(a).len() == 1;
        let mut count = None;
        for t in &self.centres {
            let Some(t) = self.wrong_target(t, positions) else {
                continue;
            };
            let Some(k) = (0..4).find(|&k| terminal(t.neighbors[k])) else {
                continue;
            };
            let plane: Vec<usize> = (0..4).filter(|&q| q != k).map(|q| t.neighbors[q]).collect();
            let reflect = reflection(
                positions[plane[0]],
                positions[plane[1]],
                positions[plane[2]],
            );
            let moved = [t.centre, t.neighbors[k]];
            reflect_unless_worse(positions, &moved, reflect, &problems, &mut count);
        }
        for t in &self.centres {
            if let Some(t) = self.wrong_target(t, positions) {
                self.swap_branches(&t, &adj, positions, &problems, &mut count);
            }
        }
        self.flip_double_bonds(&adj, positions, &problems, &mut count);
        self.check(positions).0.len()
    }

    /// Puts a wrong centre `t` right by swapping two of its substituents that hang on bonds in
    /// no ring (e.g. the H and the exocyclic group of a ring CH, which the umbrella of
    /// [`Self::orient`] cannot invert without moving the ring): both branches are reflected
    /// through the plane of the centre and its other two neighbours, which keeps every bond
    /// length. Pairs are tried smallest first; a swap is kept only when `problems` does not
    /// grow and fewer specified centres are wrong (a reflected branch mirrors its own centres).
    fn swap_branches(
        &self,
        t: &Tetrahedral,
        adj: &Adjacency,
        positions: &mut [[f64; 3]],
        problems: &impl Fn(&[[f64; 3]]) -> usize,
        count: &mut Option<usize>,
    ) {
        let branches: Vec<Option<Vec<usize>>> = t
            .neighbors
            .iter()
            .map(|&k| branch(adj, t.centre, k))
            .collect();
        let mut pairs: Vec<(usize, usize)> = (0..4)
            .flat_map(|p| (p + 1..4).map(move |q| (p, q)))
            .filter(|&(p, q)| branches[p].is_some() && branches[q].is_some())
            .collect();
        let size = |k: usize| branches[k].as_ref().map_or(0, Vec::len);
        pairs.sort_by_key(|&(p, q)| size(p) + size(q));
        let wrong = |x: &[[f64; 3]]| self.check(x).0.len();
        let before = (
            *count.get_or_insert_with(|| problems(positions)),
            wrong(positions),
        );
        for (p, q) in pairs {
            let rest: Vec<usize> = (0..4).filter(|&k| k != p && k != q).collect();
            let reflect = reflection(
                positions[t.centre],
                positions[t.neighbors[rest[0]]],
                positions[t.neighbors[rest[1]]],
            );
            let moved: Vec<usize> = branches[p]
                .iter()
                .chain(&branches[q])
                .flatten()
                .copied()
                .collect();
            let old: Vec<[f64; 3]> = moved.iter().map(|&a| positions[a]).collect();
            for &a in &moved {
                positions[a] = reflect(positions[a]);
            }
            let after = problems(positions);
            if after <= before.0 && wrong(positions) < before.1 {
                *count = Some(after);
                return;
            }
            for (&a, &x) in moved.iter().zip(&old) {
                positions[a] = x;
            }
        }
    }

    /// Puts each specified double bond that `positions` get wrong right: when one of its ends
    /// carries only terminal substituents (e.g. the H of an imine), they are reflected through
    /// the plane that holds the bond and is normal to the double bond's plane, which keeps their
    /// bond lengths; otherwise, when the bond is in no ring, the smaller side beyond one end is
    /// turned half a turn about the bond's axis, which keeps every bond length and the
    /// configuration of every centre it moves. Each change is kept only when `problems` does not
    /// grow (`count`: its value now, if known).
    fn flip_double_bonds(
        &self,
        adj: &Adjacency,
        positions: &mut [[f64; 3]],
        problems: &impl Fn(&[[f64; 3]]) -> usize,
        count: &mut Option<usize>,
    ) {
        for d in &self.double_bonds {
            for (end, other) in [(1, 0), (0, 1)] {
                if Self::bond_right(d, positions) {
                    break;
                }
                let (e, f) = (d.ends[end], d.ends[other]);
                let subs = substituents(adj, e, f);
                if subs.iter().any(|&a| adj.neighbors(a).len() != 1) {
                    continue;
                }
                let (pe, pf, ps) = (positions[e], positions[f], positions[d.refs[other]]);
                let normal = cross(sub(pe, pf), sub(ps, pf));
                let reflect = reflection(pf, pe, std::array::from_fn(|i| pf[i] + normal[i]));
                reflect_unless_worse(positions, &subs, reflect, problems, count);
            }
            if Self::bond_right(d, positions) {
                continue;
            }
            let [p, q] = d.ends;
            let sides = [(q, p), (p, q)].map(|(e, f)| (e, f, branch(adj, f, e)));
            let smaller = sides.into_iter().filter(|s| s.2.is_some());
            if let Some((e, f, Some(side))) = smaller.min_by_key(|s| s.2.as_ref().map(Vec::len)) {
                let turn = half_turn(positions[f], positions[e]);
                reflect_unless_worse(positions, &side[1..], turn, problems, count);
            }
        }
    }
}

/// Half a turn about the axis through points `a` and `b`.
fn half_turn(a: [f64; 3], b: [f64; 3]) -> impl Fn([f64; 3]) -> [f64; 3] {
    let axis = sub(b, a);
    let n = dot(axis, axis).sqrt();
    let u: [f64; 3] = std::array::from_fn(|i| axis[i] / n);
    move |x| {
        let r = sub(x, a);
        let along = dot(u, r);
        std::array::from_fn(|i| a[i] + 2.0 * along * u[i] - r[i])
    }
}

/// Reflects `atoms` of `positions` with `reflect`, and undoes it when `problems` of the result
/// exceed those before (`count`: the number before, computed on first use and kept current).
fn reflect_unless_worse(
    positions: &mut [[f64; 3]],
    atoms: &[usize],
    reflect: impl Fn([f64; 3]) -> [f64; 3],
    problems: &impl Fn(&[[f64; 3]]) -> usize,
    count: &mut Option<usize>,
) {
    let before = *count.get_or_insert_with(|| problems(positions));
    let old: Vec<[f64; 3]> = atoms.iter().map(|&a| positions[a]).collect();
    for &a in atoms {
        positions[a] = reflect(positions[a]);
    }
    let after = problems(positions);
    if after > before {
        for (&a, &x) in atoms.iter().zip(&old) {
            positions[a] = x;
        }
    } else {
        *count = Some(after);
    }
}

/// The atoms on `k`'s side of the bond `c-k`, `k` first, when that bond is in no ring (so
/// removing it separates them from `c`); `None` for a ring bond.
fn branch(adj: &Adjacency, c: usize, k: usize) -> Option<Vec<usize>> {
    let mut seen = vec![false; adj.len()];
    seen[c] = true;
    seen[k] = true;
    let (mut stack, mut out) = (vec![k], vec![k]);
    while let Some(a) = stack.pop() {
        for &b in adj.neighbors(a) {
            if b == c && a != k {
                return None;
            }
            if !seen[b] {
                seen[b] = true;
                stack.push(b);
                out.push(b);
            }
        }
    }
    Some(out)
}

/// The neighbours of atom `a` other than `other` (its substituents on the bond to `other`).
fn substituents(adj: &Adjacency, a: usize, other: usize) -> Vec<usize> {
    adj.neighbors(a)
        .iter()
        .copied()
        .filter(|&x| x != other)
        .collect()
}

/// `a - b`.
fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| a[i] - b[i])
}

/// `u . v`.
fn dot(u: [f64; 3], v: [f64; 3]) -> f64 {
    u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
}

/// `u x v`.
fn cross(u: [f64; 3], v: [f64; 3]) -> [f64; 3] {
    [
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ]
}

/// Reflection through the plane of three points (identity when they are collinear).
fn reflection(p: [f64; 3], q: [f64; 3], r: [f64; 3]) -> impl Fn([f64; 3]) -> [f64; 3] {
    let n = cross(sub(q, p), sub(r, p));
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    let n = if len > 0.0 {
        n.map(|c| c / len)
    } else {
        [0.0; 3]
    };
    move |x: [f64; 3]| {
        let d = dot(sub(x, p), n);
        std::array::from_fn(|i| x[i] - 2.0 * d * n[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::parse_smiles;

    /// The distance of atoms `a` and `b` at positions `y`, Å.
    fn distance(y: &[[f64; 3]], a: usize, b: usize) -> f64 {
        (0..3)
            .map(|i| (y[a][i] - y[b][i]).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    fn found(smiles: &str) -> Stereogenic {
        let m = parse_smiles(smiles).unwrap().molecule;
        perceive(&m.numbers, &m.bonds)
    }

    #[test]
    fn stereogenic_atoms_and_bonds_are_perceived_from_the_graph() {
        assert_eq!(found("CC(O)F").centres, vec![1]);
        assert!(found("CC(C)O").centres.is_empty()); // two equal methyls
        assert!(found("CC(C)(C)C").centres.is_empty());
        assert_eq!(found("CC(O)CC").centres, vec![1]); // methyl vs ethyl
        assert_eq!(found("FC=CF").double_bonds.len(), 1);
        assert_eq!(found("CC=NO").double_bonds.len(), 1); // an oxime: N has one substituent
        assert!(found("C=CF").double_bonds.is_empty()); // =CH2
        assert!(found("CC(C)=CF").double_bonds.is_empty()); // two methyls on one end
        assert!(found("C1CCC=CC1").double_bonds.is_empty()); // cis forced in a 6-ring
        assert!(found("C=O").double_bonds.is_empty());
        assert!(found("C=C=CF").double_bonds.is_empty()); // allene ends
    }

    #[test]
    fn ring_centres_need_a_partner_in_their_ring_system() {
        let relative = |smiles| found(smiles).relative;
        assert_eq!(relative("CC1CCC(C)CC1"), vec![1, 4]); // 1,4-dimethylcyclohexane
        assert_eq!(relative("OC1CC(C)C1"), vec![1, 3]); // 1,3 on a cyclobutane
        assert_eq!(relative("C1CCC2CCCCC2C1"), vec![3, 8]); // decalin's ring fusion
        assert!(relative("CC1CCCCC1").is_empty()); // one substituent
        assert!(relative("CC1(C)CCC(C)CC1").is_empty()); // C1 carries two methyls
        assert!(found("CC1CCC(C)CC1").centres.is_empty());
        // A pseudo-asymmetric C1 between two ordinary centres of its ring.
        let f = found("CC1(O)C(O)C1O");
        assert_eq!((f.centres, f.relative), (vec![3, 5], vec![1]));
    }

    #[test]
    fn ring_centres_are_relative_to_one_anchor_or_dropped_alone() {
        let stereo = |smiles| parse_smiles(smiles).unwrap().molecule.stereo;
        let anchors = |smiles| -> Vec<(usize, Option<usize>)> {
            let s = stereo(smiles);
            s.centres
                .iter()
                .map(|t| (t.centre, t.relative_to))
                .collect()
        };
        assert_eq!(
            anchors("C[C@H]1CC[C@@H](C)CC1"),
            vec![(1, Some(1)), (4, Some(1))]
        );
        // An ordinary centre of the ring system is the anchor.
        assert_eq!(
            anchors("C[C@]1(O)[C@H](O)[C@@H]1O"),
            vec![(1, Some(3)), (3, None), (5, None)]
        );
        // A mark on one ring centre alone says nothing.
        assert!(stereo("C[C@H]1CCC(C)CC1").is_empty());
    }

    #[test]
    fn volume_and_dihedral_signs() {
        // f above, a, b, c anticlockwise seen from f (SMILES '@'): negative volume.
        let c3 = 3f64.sqrt() / 2.0;
        let x = [
            [0.0, 0.0, 1.0],
            [1.0, 0.0, -0.3],
            [-0.5, c3, -0.3],
            [-0.5, -c3, -0.3],
        ];
        assert!(signed_volume(&x, [0, 1, 2, 3]) < 0.0);
        assert!(signed_volume(&x, [0, 2, 1, 3]) > 0.0);
        // s-p=q-t cis and trans.
        let cis = [
            [0.0, 0.0, 0.0],
            [1.3, 0.0, 0.0],
            [-0.5, 1.0, 0.0],
            [1.8, 1.0, 0.0],
        ];
        assert!(cos_dihedral(&cis, [0, 1], [2, 3]) > 0.99);
        let trans = [
            [0.0, 0.0, 0.0],
            [1.3, 0.0, 0.0],
            [-0.5, 1.0, 0.0],
            [1.8, -1.0, 0.0],
        ];
        assert!(cos_dihedral(&trans, [0, 1], [2, 3]) < -0.99);
    }

    #[test]
    fn orient_puts_centres_right() {
        let m = parse_smiles("C[C@H](O)F").unwrap().molecule;
        let c3 = 3f64.sqrt() / 2.0;
        // Centre 1 with neighbours 0 (above) and 2, 3 (F) and 7 (its H) below; the rest far
        // away. Both images: one is right, the other is mirrored.
        let mut x = vec![[0.0; 3]; m.len()];
        for (k, p) in x.iter_mut().enumerate() {
            *p = [0.0, 3.0 * k as f64, 5.0];
        }
        x[1] = [0.0; 3];
        x[0] = [0.0, 0.0, 1.5];
        x[2] = [1.4, 0.0, -0.5];
        x[3] = [-0.7, 1.4 * c3, -0.5];
        x[7] = [-0.7, -1.4 * c3, -0.5];
        for image in [x.clone(), x.iter().map(|p| [-p[0], p[1], p[2]]).collect()] {
            let mut y = image;
            assert_eq!(m.stereo.orient(&m.bonds, &mut y, |_| 0), 0);
            assert!(m.stereo.check(&y).0.is_empty());
        }
        // A wrong centre that mirroring cannot fix (one of two wrong) is inverted through the
        // plane of its other neighbours, bond lengths kept.
        let two = Stereo {
            centres: vec![m.stereo.centres[0], m.stereo.centres[0]],
            double_bonds: Vec::new(),
        };
        let mut wrong = two.clone();
        wrong.centres[1].positive = !wrong.centres[1].positive;
        let mut y = x.clone();
        let before: Vec<f64> = [0, 2, 3, 7].iter().map(|&a| distance(&x, 1, a)).collect();
        assert_eq!(wrong.orient(&m.bonds, &mut y, |_| 0), 1); // both cannot be right
        let after: Vec<f64> = [0, 2, 3, 7].iter().map(|&a| distance(&y, 1, a)).collect();
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-12);
        }
        assert_eq!(two.check(&y).0.len() + two.check(&x).0.len(), 2);
        // An inversion that adds a geometric problem is undone.
        let mut y = x.clone();
        assert_eq!(
            wrong.orient(&m.bonds, &mut y, |p| usize::from(p != x.as_slice())),
            1
        );
        assert_eq!(y, x);
        // Right already: nothing moves.
        let mut y: Vec<[f64; 3]> = if m.stereo.check(&x).0.is_empty() {
            x.clone()
        } else {
            x.iter().map(|p| [-p[0], p[1], p[2]]).collect()
        };
        let z = y.clone();
        assert_eq!(m.stereo.orient(&m.bonds, &mut y, |_| 0), 0);
        assert_eq!(y, z);
    }

    #[test]
    fn a_wrong_ring_centre_without_terminal_neighbours_swaps_two_branches() {
        // 1,2-dimethylcyclopentanol (an MMFF structure, RDKit's atom order = ours): centre 1
        // carries a methyl, the OH and two ring atoms, so no umbrella can invert it.
        let m = parse_smiles("CC1(O)CCCC1C").unwrap().molecule;
        let x: Vec<[f64; 3]> = vec![
            [1.582, -1.420, -0.053],
            [0.591, -0.312, -0.383],
            [0.089, -0.519, -1.703],
            [1.232, 1.077, -0.332],
            [0.058, 2.046, -0.169],
            [-1.128, 1.214, 0.321],
            [-0.555, -0.174, 0.632],
            [-1.623, -1.258, 0.575],
            [1.107, -2.405, -0.113],
            [2.004, -1.302, 0.951],
            [2.407, -1.428, -0.775],
            [-0.262, -1.424, -1.755],
            [1.807, 1.312, -1.234],
            [1.897, 1.170, 0.535],
            [-0.188, 2.525, -1.124],
            [0.309, 2.842, 0.540],
            [-1.890, 1.163, -0.466],
            [-1.599, 1.661, 1.203],
            [-0.136, -0.154, 1.648],
            [-2.119, -1.295, -0.401],
            [-1.190, -2.244, 0.773],
            [-2.394, -1.073, 1.330],
        ];
        let problems = |p: &[[f64; 3]]| {
            crate::sanity::check(&m.numbers, &m.bonds, p).map_or(usize::MAX, |v| v.len())
        };
        assert_eq!(problems(&x), 0);
        let mut wanted = Stereo::from_positions(&m.numbers, &m.bonds, &x);
        assert_eq!(wanted.centres.len(), 2);
        // Ask for the other diastereomer: centre 1 inverted, centre 6 as it is (so mirroring
        // the whole structure cannot help).
        let c = wanted.centres.iter_mut().find(|t| t.centre == 1).unwrap();
        c.positive = !c.positive;
        let mut y = x.clone();
        assert_eq!(wanted.orient(&m.bonds, &mut y, problems), 0);
        assert!(wanted.check(&y).0.is_empty());
        assert_eq!(problems(&y), 0);
        for b in &m.bonds {
            assert!((distance(&x, b.i, b.j) - distance(&y, b.i, b.j)).abs() < 1e-12);
        }
        // The ring did not move; the methyl and OH branches swapped sides.
        for a in [1, 3, 4, 5, 6] {
            assert_eq!(x[a], y[a]);
        }
        let apart =
            |p: [f64; 3], q: [f64; 3]| (0..3).map(|i| (p[i] - q[i]).powi(2)).sum::<f64>().sqrt();
        assert!(apart(x[0], x[2]) > 2.0);
        assert!(apart(y[0], x[2]) < 0.5 && apart(y[2], x[0]) < 0.5);
    }

    #[test]
    fn a_wrong_double_bond_with_terminal_substituents_is_flipped() {
        let m = parse_smiles("F/C=C\\F").unwrap().molecule; // cis
        assert!(m.stereo.double_bonds[0].cis);
        // Atoms F0 C1 C2 F3 H4 (on C1) H5 (on C2), planar trans.
        let x = vec![
            [-0.7, 1.1, 0.0],
            [0.0, 0.0, 0.0],
            [1.33, 0.0, 0.0],
            [2.03, -1.1, 0.0],
            [-0.55, -0.95, 0.0],
            [1.88, 0.95, 0.0],
        ];
        assert_eq!(m.stereo.check(&x).1.len(), 1);
        let mut y = x.clone();
        m.stereo.orient(&m.bonds, &mut y, |_| 0);
        assert!(m.stereo.check(&y).1.is_empty());
        for (a, b) in [(0, 1), (1, 4), (2, 3), (2, 5), (1, 2)] {
            assert!((distance(&x, a, b) - distance(&y, a, b)).abs() < 1e-12);
        }
    }

    #[test]
    fn a_wrong_double_bond_between_branches_turns_the_smaller_side() {
        let m = parse_smiles("C/C=C/CO").unwrap().molecule; // trans
        assert!(!m.stereo.double_bonds[0].cis);
        // C0 C1 C2 C3 O4, then H5-7 (C0), H8 (C1), H9 (C2), H10-11 (C3), H12 (O4); built cis,
        // planar about the double bond.
        let x = vec![
            [-0.75, 1.3, 0.0],
            [0.0, 0.0, 0.0],
            [1.33, 0.0, 0.0],
            [2.08, 1.3, 0.0],
            [3.5, 1.3, 0.1],
            [-1.8, 1.0, 0.0],
            [-0.5, 1.9, 0.9],
            [-0.5, 1.9, -0.9],
            [-0.55, -0.95, 0.0],
            [1.88, -0.95, 0.0],
            [1.7, 1.8, 0.9],
            [1.7, 1.8, -0.9],
            [3.9, 2.2, 0.1],
        ];
        assert_eq!(m.stereo.check(&x).1.len(), 1);
        let mut y = x.clone();
        m.stereo.orient(&m.bonds, &mut y, |_| 0);
        assert!(m.stereo.check(&y).1.is_empty());
        for b in &m.bonds {
            assert!((distance(&x, b.i, b.j) - distance(&y, b.i, b.j)).abs() < 1e-12);
        }
        // The smaller side (C1's: C0 and four H) turned; C2's side stayed.
        for a in [1, 2, 3, 4, 9, 10, 11, 12] {
            assert_eq!(x[a], y[a]);
        }
        assert!(y[0][1] < 0.0);
        // Not when the turn adds a geometric problem.
        let mut y = x.clone();
        m.stereo
            .orient(&m.bonds, &mut y, |p| usize::from(p != x.as_slice()));
        assert_eq!(y, x);
    }
}
