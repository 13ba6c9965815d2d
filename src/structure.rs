//! In-memory atomic systems: [`Frame`] (positions with optional labels, as in extended XYZ)
//! and [`Molecule`] (a bond graph with coordinates, as in SDF).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::stereo::Stereo;

/// One atomic configuration with optional reference labels. Units: Å, eV, eV/Å, eV/Å³.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// Atomic numbers, `[n_atoms]`.
    pub numbers: Vec<u8>,
    /// Cartesian positions in Å, `[n_atoms][3]`.
    pub positions: Vec<[f64; 3]>,
    /// Cell vectors as rows (`cell[0]` is the first lattice vector) in Å; `None` for an open system.
    pub cell: Option<[[f64; 3]; 3]>,
    /// Periodicity along each cell vector.
    pub pbc: [bool; 3],
    /// Total energy in eV.
    pub energy: Option<f64>,
    /// Forces in eV/Å, `[n_atoms][3]`.
    pub forces: Option<Vec<[f64; 3]>>,
    /// Stress tensor in eV/Å³ (ASE sign convention: positive = tensile).
    pub stress: Option<[[f64; 3]; 3]>,
    /// Other `key=value` pairs of the extended-XYZ comment line, verbatim.
    pub info: BTreeMap<String, String>,
}

impl Frame {
    /// An open (non-periodic) frame without labels.
    pub fn new(numbers: Vec<u8>, positions: Vec<[f64; 3]>) -> Self {
        Frame {
            numbers,
            positions,
            ..Default::default()
        }
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// True when the frame has no atoms.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Checks sizes and finiteness of everything the frame holds: at least one atom,
    /// `positions`/`forces` as long as `numbers`, finite coordinates, labels and cell, and a
    /// non-degenerate cell wherever a direction is periodic.
    pub fn validate(&self) -> Result<()> {
        let n = self.numbers.len();
        if n == 0 {
            return Err(Error::invalid("empty system (0 atoms)"));
        }
        if self.positions.len() != n {
            return Err(Error::invalid(format!(
                "{} positions for {n} atomic numbers",
                self.positions.len()
            )));
        }
        if let Some((i, _)) = self
            .positions
            .iter()
            .enumerate()
            .find(|(_, p)| p.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::NonFinitePosition { atom: i });
        }
        if let Some(f) = &self.forces {
            if f.len() != n {
                return Err(Error::invalid(format!("{} forces for {n} atoms", f.len())));
            }
            if f.iter().flatten().any(|x| !x.is_finite()) {
                return Err(Error::invalid("non-finite force label"));
            }
        }
        if let Some(e) = self.energy {
            if !e.is_finite() {
                return Err(Error::invalid("non-finite energy label"));
            }
        }
        if self.pbc.iter().any(|&p| p) {
            let cell = self
                .cell
                .ok_or_else(|| Error::invalid("periodic boundary conditions without a cell"))?;
            if cell.iter().flatten().any(|x| !x.is_finite()) {
                return Err(Error::invalid("non-finite cell vector"));
            }
            let m = nalgebra::Matrix3::from_fn(|r, c| cell[r][c]);
            if m.determinant().abs() < 1e-6 {
                return Err(Error::invalid("degenerate cell (volume ~ 0)"));
            }
        }
        Ok(())
    }
}

/// The order of a bond. Files and the C ABI carry it as SDF V2000's code: 1 single,
/// 2 double, 3 triple, 4 aromatic ([`BondOrder::from_code`], [`BondOrder::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BondOrder {
    /// A single bond (code 1).
    Single,
    /// A double bond (code 2).
    Double,
    /// A triple bond (code 3).
    Triple,
    /// An aromatic bond (code 4), of valence 1.5.
    Aromatic,
}

impl BondOrder {
    /// Every order, in code order.
    pub const ALL: [BondOrder; 4] = [
        BondOrder::Single,
        BondOrder::Double,
        BondOrder::Triple,
        BondOrder::Aromatic,
    ];

    /// The order of SDF code `code` (1-4), or `None`.
    pub fn from_code(code: i64) -> Option<BondOrder> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|k| Self::ALL.get(k))
            .copied()
    }

    /// The SDF code: 1 single, 2 double, 3 triple, 4 aromatic.
    pub fn code(self) -> u8 {
        self.index() as u8 + 1
    }

    /// 0-based index (single 0 ... aromatic 3), e.g. of the generator's bond-kind features.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Contribution to each atom's valence: 1, 2, 3, or 1.5 for aromatic.
    pub fn valence(self) -> f64 {
        match self {
            BondOrder::Aromatic => 1.5,
            o => f64::from(o.code()),
        }
    }
}

/// The SDF code ("2" for a double bond), as messages name orders.
impl std::fmt::Display for BondOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// A chemical bond between atoms `i` and `j` (0-based) of a [`Molecule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bond {
    /// First atom (0-based).
    pub i: usize,
    /// Second atom (0-based).
    pub j: usize,
    /// Bond order.
    pub order: BondOrder,
}

/// The one check of a bond list for a graph of `n` atoms (every reader, the graph validation
/// and the C ABI run it): atoms in range, no bond of an atom to itself, no pair listed twice.
pub fn check_bonds(n: usize, bonds: &[Bond]) -> Result<()> {
    let Some((k, problem)) = first_invalid_bond(n, bonds) else {
        return Ok(());
    };
    let (i, j) = (bonds[k].i, bonds[k].j);
    Err(Error::invalid(match problem {
        BondProblem::OutOfRange => format!("bond {i}-{j} refers to an atom beyond the {n} atoms"),
        BondProblem::SelfBond => format!("atom {i} is bonded to itself"),
        BondProblem::Duplicate => format!("bond {i}-{j} is listed twice"),
    }))
}

/// What is wrong with a bond (see [`first_invalid_bond`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondProblem {
    /// An atom index is not below the number of atoms.
    OutOfRange,
    /// Both ends are the same atom.
    SelfBond,
    /// The pair was listed before (in either direction).
    Duplicate,
}

/// The rule behind [`check_bonds`]: the index into `bonds` of the first invalid bond and its
/// problem, or `None` if the list is valid. Readers use it to name the bond their own way
/// (the SDF reader by its line).
pub fn first_invalid_bond(n: usize, bonds: &[Bond]) -> Option<(usize, BondProblem)> {
    let mut seen = std::collections::HashSet::new();
    for (k, b) in bonds.iter().enumerate() {
        let problem = if b.i >= n || b.j >= n {
            BondProblem::OutOfRange
        } else if b.i == b.j {
            BondProblem::SelfBond
        } else if !seen.insert((b.i.min(b.j), b.i.max(b.j))) {
            BondProblem::Duplicate
        } else {
            continue;
        };
        return Some((k, problem));
    }
    None
}

/// A molecular graph with coordinates, as read from an SDF/MOL V2000 record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Molecule {
    /// The record's title line.
    pub name: String,
    /// Atomic numbers, `[n_atoms]`.
    pub numbers: Vec<u8>,
    /// Cartesian positions in Å, `[n_atoms][3]`.
    pub positions: Vec<[f64; 3]>,
    /// Formal charges, `[n_atoms]`.
    pub charges: Vec<i8>,
    /// Bonds.
    pub bonds: Vec<Bond>,
    /// Data fields (`> <name>` blocks) of the record.
    pub properties: BTreeMap<String, String>,
    /// The stereo configuration generated structures must have (empty: any stereoisomer).
    pub stereo: Stereo,
}

impl Molecule {
    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// True when the molecule has no atoms.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// The coordinates as an open [`Frame`] without labels.
    pub fn to_frame(&self) -> Frame {
        Frame::new(self.numbers.clone(), self.positions.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let ok = Frame::new(vec![1, 1], vec![[0.0; 3], [0.74, 0.0, 0.0]]);
        ok.validate().unwrap();
        let empty = Frame::default();
        assert!(empty.validate().unwrap_err().to_string().contains("empty"));
        let nan = Frame::new(vec![1], vec![[f64::NAN, 0.0, 0.0]]);
        assert!(nan.validate().unwrap_err().to_string().contains("NaN"));
        let short = Frame::new(vec![1, 1], vec![[0.0; 3]]);
        assert!(short
            .validate()
            .unwrap_err()
            .to_string()
            .contains("1 positions"));
        let mut pbc = ok.clone();
        pbc.pbc = [true; 3];
        assert!(pbc
            .validate()
            .unwrap_err()
            .to_string()
            .contains("without a cell"));
    }
}
