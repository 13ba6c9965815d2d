//! Molecular graphs for the structure generator: validation of a bond graph and the
//! topological edges the denoiser attends to whatever the current (noisy) distances: bonds and
//! atoms two or three bonds apart ([`GraphScheme::Radius`], the first generators, which add the
//! pairs within the cutoff at the current positions), or every pair of atoms of the molecule
//! with its bond order or topological distance ([`GraphScheme::AllPairs`]).

use std::borrow::Cow;

use crate::elements;
use crate::error::{Error, Result};
use crate::hops::Adjacency;
use crate::kekule::kekulize;
use crate::structure::{check_bonds, Bond, BondOrder};

/// Bond kinds (orders 1, 2, 3, aromatic): the first edge kinds of every scheme.
const BOND_KINDS: usize = 4;

/// Farthest topological distance (in bonds) with an edge kind of its own under
/// [`GraphScheme::AllPairs`]; pairs farther apart (or in different fragments) share one kind.
pub const MAX_HOP_KIND: usize = 8;

/// Which atom pairs the denoiser connects, and so the meaning of the edge kinds; stored in the
/// model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphScheme {
    /// Bonds (kinds 0-3 by order) and atoms two (kind 4) or three (kind 5) bonds apart, united
    /// at each step with the pairs closer than the encoder's cutoff at the current positions
    /// (no kind). The scheme of the first generators (and of files that name none).
    #[default]
    Radius,
    /// Every pair of atoms of a molecule: bonds (kinds 0-3), atoms `d` = 2..=[`MAX_HOP_KIND`]
    /// bonds apart (kind `d + 2`), farther or unconnected pairs (the last kind). The generator
    /// always has the whole molecule; only the potential needs a radius cut.
    AllPairs,
}

impl GraphScheme {
    /// Number of edge kinds (width of the one-hot kind feature).
    pub fn n_kinds(self) -> usize {
        match self {
            GraphScheme::Radius => BOND_KINDS + 2,
            GraphScheme::AllPairs => BOND_KINDS + MAX_HOP_KIND,
        }
    }

    /// True for [`GraphScheme::Radius`] (the default, not written to model files).
    pub fn is_radius(&self) -> bool {
        *self == GraphScheme::Radius
    }
}

/// Directed topological edges of a molecule (both directions listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphEdges {
    /// Receiving atom, `[E]`.
    pub first: Vec<usize>,
    /// Sending atom, `[E]`.
    pub second: Vec<usize>,
    /// Edge kind in `0..GraphScheme::n_kinds()`, `[E]`.
    pub kind: Vec<usize>,
}

/// Checks the structure of a molecular graph: known elements, bonds within range and not
/// repeated, Kekulé bond orders 1..=3 (aromatic bonds are [`kekule_graph`]'s to replace), no
/// atom without bonds (in molecules of two or more atoms), no valence above the element's
/// maximum (that of its singly charged form: N 4, O 3). What the sampler needs;
/// [`validate_graph`] checks the chemistry too.
pub fn check_topology(numbers: &[u8], bonds: &[Bond]) -> Result<()> {
    topology_valences(numbers, bonds).map(|_| ())
}

/// [`check_topology`], giving each atom's valence (sum of bond orders), `[N]`.
fn topology_valences(numbers: &[u8], bonds: &[Bond]) -> Result<Vec<f64>> {
    let n = numbers.len();
    if n == 0 {
        return Err(Error::invalid("empty molecular graph (0 atoms)"));
    }
    for (i, &z) in numbers.iter().enumerate() {
        elements::symbol(z)
            .map_err(|_| Error::UnknownElement(format!("atomic number {z} (atom {i})")))?;
    }
    check_bonds(n, bonds)?;
    if let Some(b) = bonds.iter().find(|b| b.order == BondOrder::Aromatic) {
        return Err(Error::invalid(format!(
            "bond {}-{} is aromatic: the generator takes Kekulé graphs (bond orders 1-3; \
             `kekule_graph` and the generation pipeline kekulize aromatic bonds)",
            b.i, b.j
        )));
    }
    let (valence, degree) = valences(n, bonds);
    for i in 0..n {
        if n > 1 && degree[i] == 0 {
            return Err(Error::invalid(format!(
                "atom {i} ({}) has no bonds: a disconnected atom cannot be placed",
                elements::symbol(numbers[i])?
            )));
        }
        if let Some(max) = elements::max_valence(numbers[i]) {
            if valence[i] > max + 1e-9 {
                return Err(Error::invalid(format!(
                    "atom {i} ({}) has valence {} > {max}",
                    elements::symbol(numbers[i])?,
                    valence[i]
                )));
            }
        }
    }
    Ok(valence)
}

/// Sum of bond orders and number of bonds of each atom, `[N]` each.
fn valences(n: usize, bonds: &[Bond]) -> (Vec<f64>, Vec<usize>) {
    let mut valence = vec![0.0; n];
    let mut degree = vec![0usize; n];
    for b in bonds {
        for a in [b.i, b.j] {
            valence[a] += b.order.valence();
            degree[a] += 1;
        }
    }
    (valence, degree)
}

/// Checks a molecule: [`check_topology`], then the chemistry of its formal `charges` (`[N]`,
/// or empty for a neutral graph): a closed shell (no atom below its neutral valence: radicals
/// and graphs with missing hydrogens are refused), each charged atom with the valence of its
/// charge ([`elements::charged_valence`]: N+, N-, O+, O-, C-), and a net charge of zero (the potentials
/// know neutral molecules; charge-separated groups such as nitro are neutral).
pub fn validate_graph(numbers: &[u8], bonds: &[Bond], charges: &[i8]) -> Result<()> {
    let valence = topology_valences(numbers, bonds)?;
    let n = numbers.len();
    if !charges.is_empty() && charges.len() != n {
        return Err(Error::invalid(format!(
            "{} formal charges for {n} atoms",
            charges.len()
        )));
    }
    let charge = |i: usize| charges.get(i).copied().unwrap_or(0);
    for i in (0..n).filter(|&i| charge(i) != 0) {
        let (z, q) = (numbers[i], charge(i));
        let symbol = elements::symbol(z)?;
        let want = elements::charged_valence(z, q).ok_or_else(|| {
            Error::invalid(format!(
                "atom {i} ({symbol}) has formal charge {q:+}: the models know the charges of \
                 charge-separated neutral groups only (N+, N-, O+, O-, C-)"
            ))
        })?;
        if (valence[i] - want).abs() > 1e-9 {
            return Err(Error::invalid(format!(
                "atom {i} ({symbol}{q:+}) has valence {} where {want} is expected",
                valence[i]
            )));
        }
    }
    let net: i32 = (0..n).map(|i| i32::from(charge(i))).sum();
    if net != 0 {
        return Err(Error::invalid(format!(
            "net charge {net:+}: the models know neutral molecules (formal charges that sum to \
             zero, as in nitro groups, are supported)"
        )));
    }
    // Under-valent atoms last, so that the more specific problems above are named first.
    for i in (0..n).filter(|&i| charge(i) == 0) {
        if let Some(min) = elements::neutral_valence(numbers[i]) {
            if valence[i] + 1e-9 < min {
                return Err(Error::invalid(format!(
                    "atom {i} ({}) has valence {} < {min}: a radical or missing hydrogens \
                     (the models know closed-shell molecules with every hydrogen explicit)",
                    elements::symbol(numbers[i])?,
                    valence[i]
                )));
            }
        }
    }
    Ok(())
}

/// The graph the generator sees: `bonds` kekulized ([`crate::kekule::kekulize`]: aromatic
/// bonds made single or double, as in its training data), then checked ([`validate_graph`]).
/// The one preparation of a molecule's graph of the generation pipeline, the C ABI and the
/// training data.
pub fn kekule_graph<'a>(
    numbers: &[u8],
    bonds: &'a [Bond],
    charges: &[i8],
) -> Result<Cow<'a, [Bond]>> {
    let kekule = kekulize(numbers, bonds, charges)?;
    validate_graph(numbers, &kekule, charges)?;
    Ok(kekule)
}

/// Topological edges of a validated graph under `scheme`, in both directions, sorted by
/// (receiver, sender): each bond (kind = order index) and the pairs of atoms further apart
/// that the scheme connects, with their kind (see [`GraphScheme`]).
pub fn topological_edges(n_atoms: usize, bonds: &[Bond], scheme: GraphScheme) -> GraphEdges {
    let mut kinds = std::collections::BTreeMap::new();
    for b in bonds {
        kinds.insert((b.i, b.j), b.order.index());
        kinds.insert((b.j, b.i), b.order.index());
    }
    let adjacency = Adjacency::new(n_atoms, bonds.iter().map(|b| (b.i, b.j)));
    let max_hops = match scheme {
        GraphScheme::Radius => 3,
        GraphScheme::AllPairs => MAX_HOP_KIND,
    };
    let far = scheme.n_kinds() - 1;
    for s in 0..n_atoms {
        let dist = adjacency.hops([s], max_hops);
        for (v, &d) in dist.iter().enumerate() {
            let kind = match (scheme, d) {
                (_, 0 | 1) => continue,
                (_, d) if d <= max_hops => d + 2,
                (GraphScheme::AllPairs, _) => far,
                (GraphScheme::Radius, _) => continue,
            };
            kinds.entry((s, v)).or_insert(kind);
        }
    }
    let mut edges = GraphEdges::default();
    for ((i, j), k) in kinds {
        edges.first.push(i);
        edges.second.push(j);
        edges.kind.push(k);
    }
    edges
}

/// The molecules of a denoising batch without tensors: atoms of all molecules concatenated.
#[derive(Debug, Clone, Default)]
pub struct MoleculeBatch {
    /// Species index of each atom, `[N]`.
    pub species: Vec<usize>,
    /// Atom ranges `(start, end)` of the molecules.
    pub ranges: Vec<(usize, usize)>,
    /// Topological edges with batch-global atom indices.
    pub graph: GraphEdges,
}

impl MoleculeBatch {
    /// Concatenates molecules given as (species indices `[n]`, topological edges).
    pub fn new<'a>(mols: impl IntoIterator<Item = (&'a [usize], &'a GraphEdges)>) -> MoleculeBatch {
        let mut batch = MoleculeBatch::default();
        for (sp, g) in mols {
            let offset = batch.species.len();
            batch.species.extend_from_slice(sp);
            batch.graph.first.extend(g.first.iter().map(|i| i + offset));
            batch
                .graph
                .second
                .extend(g.second.iter().map(|i| i + offset));
            batch.graph.kind.extend_from_slice(&g.kind);
            batch.ranges.push((offset, offset + sp.len()));
        }
        batch
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.species.len()
    }

    /// True when the batch has no atoms.
    pub fn is_empty(&self) -> bool {
        self.species.is_empty()
    }
}

/// The denoiser's edges at flat positions `x` (`[N*3]`, Å): the topological edges of `graph`
/// (with their kind) united, when `cutoff` is given ([`GraphScheme::Radius`]), with the pairs
/// of each molecule of `ranges` closer than `cutoff` Å (kind `None`); sorted by (receiver,
/// sender). Non-finite positions are an error.
pub fn denoiser_pairs(
    ranges: &[(usize, usize)],
    graph: &GraphEdges,
    x: &[f64],
    cutoff: Option<f64>,
) -> Result<Vec<(usize, usize, Option<usize>)>> {
    let mut pairs: Vec<(usize, usize, Option<usize>)> = graph
        .kind
        .iter()
        .enumerate()
        .map(|(e, &k)| (graph.first[e], graph.second[e], Some(k)))
        .collect();
    for &(a, b) in ranges {
        let pos: Vec<[f64; 3]> = (a..b)
            .map(|i| [x[3 * i], x[3 * i + 1], x[3 * i + 2]])
            .collect();
        if pos.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::invalid("non-finite positions during denoising"));
        }
        let Some(cutoff) = cutoff else { continue };
        let nl = crate::neighbors::neighbor_list(&pos, None, [false; 3], cutoff)?;
        pairs.extend(
            nl.first
                .iter()
                .zip(&nl.second)
                .map(|(i, j)| (a + i, a + j, None)),
        );
    }
    if cutoff.is_none() {
        // Only the topological edges: already sorted and unique.
        return Ok(pairs);
    }
    // Sorted by (receiver, sender) with a topological edge (`Some`, which sorts after
    // `None`) kept over a radius-only duplicate of the same pair.
    pairs.sort_unstable();
    pairs.dedup_by(|later, earlier| {
        let same = (later.0, later.1) == (earlier.0, earlier.1);
        if same && later.2.is_some() {
            earlier.2 = later.2;
        }
        same
    });
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(i: usize, j: usize, order: u8) -> Bond {
        let order = crate::structure::BondOrder::from_code(order.into()).unwrap();
        Bond { i, j, order }
    }

    #[test]
    fn methane_and_a_kekulized_benzene_ring_are_valid() {
        validate_graph(
            &[6, 1, 1, 1, 1],
            &[b(0, 1, 1), b(0, 2, 1), b(0, 3, 1), b(0, 4, 1)],
            &[],
        )
        .unwrap();
        let ring: Vec<Bond> = (0..6)
            .map(|i| b(i, (i + 1) % 6, 4))
            .chain((0..6).map(|i| b(i, i + 6, 1)))
            .collect();
        let z: Vec<u8> = [6; 6].into_iter().chain([1; 6]).collect();
        // Aromatic bonds reach the generator kekulized; given as they are, they are refused.
        let e = validate_graph(&z, &ring, &[]).unwrap_err().to_string();
        assert!(e.contains("bond 0-1 is aromatic"), "{e}");
        let kekule = kekule_graph(&z, &ring, &[]).unwrap();
        assert_eq!(kekule.iter().filter(|b| b.order.code() == 2).count(), 3);
    }

    #[test]
    fn edges_by_topological_distance() {
        let bonds = [b(0, 1, 2), b(1, 2, 1), b(2, 3, 1)];
        let e = topological_edges(4, &bonds, GraphScheme::Radius);
        let kind = |i, j| {
            e.first
                .iter()
                .zip(&e.second)
                .position(|(&a, &c)| (a, c) == (i, j))
                .map(|p| e.kind[p])
        };
        assert_eq!(kind(0, 1), Some(1));
        assert_eq!(kind(1, 0), Some(1));
        assert_eq!(kind(0, 2), Some(4));
        assert_eq!(kind(0, 3), Some(5));
        assert_eq!(kind(3, 0), Some(5));
        assert_eq!(e.first.len(), 12);
    }

    #[test]
    fn all_pairs_by_topological_distance() {
        // A chain of 11 atoms (two fragments would also share the far kind).
        let bonds: Vec<Bond> = (0..10).map(|i| b(i, i + 1, 1)).collect();
        let e = topological_edges(11, &bonds, GraphScheme::AllPairs);
        assert_eq!(e.first.len(), 11 * 10);
        let kind = |i, j| {
            let p = e
                .first
                .iter()
                .zip(&e.second)
                .position(|(&a, &c)| (a, c) == (i, j));
            e.kind[p.unwrap()]
        };
        assert_eq!(kind(0, 1), 0);
        assert_eq!(kind(0, 2), 4);
        assert_eq!(kind(7, 0), 9);
        assert_eq!(kind(0, 8), MAX_HOP_KIND + 2);
        assert_eq!(kind(0, 9), GraphScheme::AllPairs.n_kinds() - 1);
        assert_eq!(kind(10, 0), GraphScheme::AllPairs.n_kinds() - 1);
        let pairs = denoiser_pairs(&[(0, 11)], &e, &[0.0; 33], None).unwrap();
        assert_eq!(pairs.len(), 110);
        assert!(pairs.iter().all(|p| p.2.is_some()));
    }

    #[test]
    fn bad_graphs_are_named() {
        let msg = |z: &[u8], bonds: &[Bond]| validate_graph(z, bonds, &[]).unwrap_err().to_string();
        assert!(msg(&[6, 1], &[]).contains("has no bonds"));
        assert!(msg(&[1, 1, 1], &[b(0, 1, 1), b(0, 2, 1)]).contains("valence 2 > 1"));
        assert!(msg(&[6, 6], &[b(0, 2, 1)]).contains("beyond the 2 atoms"));
        assert!(msg(&[6, 6], &[b(0, 1, 1), b(1, 0, 2)]).contains("listed twice"));
        assert!(msg(&[6, 6], &[b(1, 1, 1)]).contains("bonded to itself"));
        assert!(msg(&[6, 200], &[b(0, 1, 1)]).contains("atomic number 200"));
        assert!(msg(&[], &[]).contains("empty"));
    }

    #[test]
    fn formal_charges_must_fit_valence_and_sum_to_zero() {
        // Nitromethane: C0 (3 H), N1+ =O2, -O3-.
        let z = [6, 7, 8, 8, 1, 1, 1];
        let bonds = [
            b(0, 1, 1),
            b(1, 2, 2),
            b(1, 3, 1),
            b(0, 4, 1),
            b(0, 5, 1),
            b(0, 6, 1),
        ];
        validate_graph(&z, &bonds, &[0, 1, 0, -1, 0, 0, 0]).unwrap();
        let msg = |q: &[i8]| validate_graph(&z, &bonds, q).unwrap_err().to_string();
        // Without charges the O- is an under-valent (radical) oxygen.
        assert!(msg(&[]).contains("radical"));
        assert!(msg(&[0, 1, 0, 0, 0, 0, 0]).contains("net charge +1"));
        assert!(msg(&[0, 1, -1, 0, 0, 0, 0]).contains("atom 2 (O-1) has valence 2"));
        assert!(msg(&[0, 2, 0, -1, 0, 0, -1]).contains("atom 1 (N) has formal charge +2"));
        assert!(msg(&[0, 1, 0]).contains("3 formal charges for 7 atoms"));
    }
}
