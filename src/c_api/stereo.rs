//! Stereo configurations through the ABI: the tetrahedral centres and double bonds a caller
//! specifies for `concord_generate_structures_stereo`, read and checked against the graph.

use std::collections::BTreeSet;
use std::slice;

use super::compute::count;
use super::status::Failure;
use crate::stereo::{perceive, DoubleBond, Stereo, Tetrahedral};
use crate::structure::{Bond, BondOrder};

/// A specified tetrahedral stereocentre.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct concord_stereocentre_t {
    /// The centre atom (0-based); it must have exactly four bonded neighbours.
    pub centre: i32,
    /// Its four bonded neighbours, each once, in the order `anticlockwise` refers to.
    pub neighbors: [i32; 4],
    /// 1 when, seen from `neighbors[0]` towards the centre, `neighbors[1]`, `neighbors[2]`,
    /// `neighbors[3]` run anticlockwise (SMILES `@` with the neighbours in the string's order;
    /// RDKit's `CHI_TETRAHEDRAL_CCW` with the atom's bonds in order); 0 when they run clockwise
    /// (`@@`, `CHI_TETRAHEDRAL_CW`).
    pub anticlockwise: i32,
}

/// A specified double-bond configuration.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct concord_double_bond_t {
    /// The two atoms of the double bond (a bond of order 2 in the graph).
    pub atoms: [i32; 2],
    /// A neighbour of `atoms[0]` and a neighbour of `atoms[1]` (neither the other end).
    pub refs: [i32; 2],
    /// 1 when the two `refs` are on the same side of the bond (cis), 0 when on opposite sides.
    pub cis: i32,
}

/// The stereo configuration given by the `centres` `[n_centres]` and `double_bonds`
/// `[n_double_bonds]` arrays (NULL allowed when the count is 0) of a graph of atoms `numbers`
/// `[N]` with `bonds`, each entry checked against the graph; an error names the entry and the
/// problem. Ring centres become relative to their ring system's anchor ([`crate::stereo::Stereogenic::relate`]).
pub(crate) unsafe fn read_stereo(
    numbers: &[u8],
    bonds: &[Bond],
    n_centres: i64,
    centres: *const concord_stereocentre_t,
    n_double_bonds: i64,
    double_bonds: *const concord_double_bond_t,
) -> Result<Stereo, Failure> {
    let n = numbers.len();
    let n_centres = count("n_centres", n_centres, 0, n as i64)?;
    let n_double_bonds = count("n_double_bonds", n_double_bonds, 0, bonds.len() as i64)?;
    if n_centres > 0 {
        check_null!(centres);
    }
    if n_double_bonds > 0 {
        check_null!(double_bonds);
    }
    let mut neighbors = vec![BTreeSet::new(); n];
    for b in bonds {
        neighbors[b.i].insert(b.j);
        neighbors[b.j].insert(b.i);
    }
    let mut stereo = Stereo::default();
    if n_centres > 0 {
        for (k, c) in slice::from_raw_parts(centres, n_centres).iter().enumerate() {
            stereo
                .centres
                .push(centre(k, c, &neighbors, &stereo.centres)?);
        }
    }
    if n_double_bonds > 0 {
        let given = slice::from_raw_parts(double_bonds, n_double_bonds);
        for (k, d) in given.iter().enumerate() {
            let read = double_bond(k, d, bonds, &neighbors, &stereo.double_bonds)?;
            stereo.double_bonds.push(read);
        }
    }
    stereo.centres = perceive(numbers, bonds).relate(stereo.centres);
    Ok(stereo)
}

/// An atom index of entry `what`, range-checked.
fn atom(what: &str, i: i32, n: usize) -> Result<usize, Failure> {
    usize::try_from(i)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| Failure::input(format!("{what} = {i} is out of range for {n} atoms")))
}

/// A 0/1 flag of entry `what`.
fn flag(what: &str, v: i32) -> Result<bool, Failure> {
    match v {
        0 | 1 => Ok(v == 1),
        _ => Err(Failure::input(format!("{what} = {v} must be 0 or 1"))),
    }
}

/// Centre `k`, checked: its neighbours are exactly its four bonded atoms; listed once.
fn centre(
    k: usize,
    c: &concord_stereocentre_t,
    neighbors: &[BTreeSet<usize>],
    earlier: &[Tetrahedral],
) -> Result<Tetrahedral, Failure> {
    let n = neighbors.len();
    let centre = atom(&format!("centres[{k}].centre"), c.centre, n)?;
    let mut given = [0; 4];
    for (q, &i) in c.neighbors.iter().enumerate() {
        given[q] = atom(&format!("centres[{k}].neighbors[{q}]"), i, n)?;
    }
    if given.iter().copied().collect::<BTreeSet<_>>() != neighbors[centre] {
        return Err(Failure::input(format!(
            "centres[{k}]: atoms {given:?} are not the four bonded neighbours of atom \
             {centre} (it is bonded to {:?})",
            neighbors[centre]
        )));
    }
    if earlier.iter().any(|t| t.centre == centre) {
        return Err(Failure::input(format!(
            "centres[{k}]: atom {centre} is specified twice"
        )));
    }
    let anticlockwise = flag(&format!("centres[{k}].anticlockwise"), c.anticlockwise)?;
    // Anticlockwise seen from the first neighbour is a negative signed volume (as SMILES `@`).
    Ok(Tetrahedral {
        centre,
        neighbors: given,
        positive: !anticlockwise,
        relative_to: None,
    })
}

/// Double bond `k`, checked: its atoms share a bond of order 2, each reference is bonded to
/// its end and is not the other end; listed once.
fn double_bond(
    k: usize,
    d: &concord_double_bond_t,
    bonds: &[Bond],
    neighbors: &[BTreeSet<usize>],
    earlier: &[DoubleBond],
) -> Result<DoubleBond, Failure> {
    let n = neighbors.len();
    let p = atom(&format!("double_bonds[{k}].atoms[0]"), d.atoms[0], n)?;
    let q = atom(&format!("double_bonds[{k}].atoms[1]"), d.atoms[1], n)?;
    let double = bonds
        .iter()
        .any(|b| ([b.i, b.j] == [p, q] || [b.i, b.j] == [q, p]) && b.order == BondOrder::Double);
    if !double {
        return Err(Failure::input(format!(
            "double_bonds[{k}]: atoms {p} and {q} share no bond of order 2"
        )));
    }
    let mut refs = [0; 2];
    for (e, (&end, other)) in [p, q].iter().zip([q, p]).enumerate() {
        let r = atom(&format!("double_bonds[{k}].refs[{e}]"), d.refs[e], n)?;
        if r == other || !neighbors[end].contains(&r) {
            return Err(Failure::input(format!(
                "double_bonds[{k}].refs[{e}] = {r} is not a substituent of atom {end}"
            )));
        }
        refs[e] = r;
    }
    if earlier.iter().any(|b| b.ends == [p, q] || b.ends == [q, p]) {
        return Err(Failure::input(format!(
            "double_bonds[{k}]: the bond {p}-{q} is specified twice"
        )));
    }
    Ok(DoubleBond {
        ends: [p, q],
        refs,
        cis: flag(&format!("double_bonds[{k}].cis"), d.cis)?,
    })
}
