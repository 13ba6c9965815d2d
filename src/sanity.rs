//! Chemical sanity of a 3D structure given its bond graph: every bond has a plausible length
//! for its order, and no two unbonded atoms clash. This is how generated structures are
//! screened (`concord generate` marks each one) and what the generator's tests assert. The
//! generation pipeline adds the stereo problems ([`Problem::Chirality`],
//! [`Problem::DoubleBond`]) of a molecule given with a stereo configuration.
//!
//! Lengths are judged relative to the sum of the two atoms' single-bond covalent radii
//! (Cordero et al., Dalton Trans. 2008, 2832), with bounds per bond order that every PM6 and
//! GFN2 and B3LYP minimum of the bundled data satisfies with a margin (tests/data_files.rs).

use crate::elements::covalent_radius;
use crate::error::{Error, Result};
use crate::structure::{check_bonds, Bond, BondOrder};

/// Bounds on distance / (r_i + r_j) of a bond of order 1, 2, 3 and 4 (aromatic). The 3,893
/// reference minima of the bundled data span 0.855-1.180 (single; the long end is strained
/// cages), 0.828-0.977 (double) and 0.776-0.800 (triple).
const BOND_RATIO: [(f64, f64); 4] = [(0.83, 1.25), (0.76, 1.05), (0.70, 0.90), (0.76, 1.10)];

/// Unbonded atoms closer than this times (r_i + r_j) clash: for two heavy atoms, a hydrogen
/// and a heavy atom, and two hydrogens. The closest unbonded pairs of the reference minima are
/// at 1.169 (1-3 pairs of small rings), 1.738 and 2.331 (1.445 Å).
const CLASH_RATIO: [f64; 3] = [1.10, 1.50, 1.90];

/// What is wrong with a structure.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A bond whose length is outside the bounds for its order.
    BondLength {
        /// The two atoms (0-based).
        atoms: (usize, usize),
        /// Bond order.
        order: BondOrder,
        /// The distance in Å.
        distance: f64,
        /// The allowed range in Å.
        range: (f64, f64),
    },
    /// Two unbonded atoms closer than allowed.
    Clash {
        /// The two atoms (0-based).
        atoms: (usize, usize),
        /// The distance in Å.
        distance: f64,
        /// The smallest allowed distance in Å.
        min: f64,
    },
    /// A specified stereocentre with the opposite configuration (see [`crate::stereo`]).
    Chirality {
        /// The centre atom (0-based).
        atom: usize,
    },
    /// A specified double bond with the opposite configuration.
    DoubleBond {
        /// The two doubly bonded atoms (0-based).
        atoms: (usize, usize),
        /// Whether the specified configuration is cis (then the structure's is trans).
        cis: bool,
    },
}

impl Problem {
    /// True for a wrong stereo configuration ([`Problem::Chirality`], [`Problem::DoubleBond`]),
    /// false for a geometric problem.
    pub fn is_stereo(&self) -> bool {
        matches!(self, Problem::Chirality { .. } | Problem::DoubleBond { .. })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Problem::BondLength {
                atoms,
                order,
                distance,
                range,
            } => write!(
                f,
                "bond {}-{} (order {order}) is {distance:.3} Å, outside [{:.3}, {:.3}] Å",
                atoms.0, atoms.1, range.0, range.1
            ),
            Problem::Clash {
                atoms,
                distance,
                min,
            } => write!(
                f,
                "unbonded atoms {} and {} are {distance:.3} Å apart (< {min:.3} Å)",
                atoms.0, atoms.1
            ),
            Problem::Chirality { atom } => write!(
                f,
                "stereocentre {atom} has the opposite configuration of the input's"
            ),
            Problem::DoubleBond { atoms, cis } => write!(
                f,
                "double bond {}-{} is {} but the input's is {}",
                atoms.0,
                atoms.1,
                if *cis { "trans" } else { "cis" },
                if *cis { "cis" } else { "trans" }
            ),
        }
    }
}

/// Checks the bonds and unbonded contacts of one structure.
///
/// `numbers` are atomic numbers `[N]`, `bonds` the graph, `positions` in Å `[N][3]`. Returns
/// every problem found (empty = sane). Errors: mismatched lengths, an invalid bond list
/// ([`check_bonds`]), an element without a covalent radius.
pub fn check(numbers: &[u8], bonds: &[Bond], positions: &[[f64; 3]]) -> Result<Vec<Problem>> {
    let n = numbers.len();
    if positions.len() != n {
        return Err(Error::InvalidInput(format!(
            "{} positions for {n} atoms",
            positions.len()
        )));
    }
    check_bonds(n, bonds)?;
    let radii: Vec<f64> = numbers
        .iter()
        .map(|&z| covalent_radius(z))
        .collect::<Result<_>>()?;
    let dist = |i: usize, j: usize| {
        let d: f64 = (0..3)
            .map(|a| (positions[i][a] - positions[j][a]).powi(2))
            .sum();
        d.sqrt()
    };
    let mut bonded = vec![false; n * n];
    let mut problems = Vec::new();
    for b in bonds {
        bonded[b.i * n + b.j] = true;
        bonded[b.j * n + b.i] = true;
        let (lo, hi) = BOND_RATIO[b.order.index()];
        let sum = radii[b.i] + radii[b.j];
        let d = dist(b.i, b.j);
        if !(d >= lo * sum && d <= hi * sum) {
            problems.push(Problem::BondLength {
                atoms: (b.i, b.j),
                order: b.order,
                distance: d,
                range: (lo * sum, hi * sum),
            });
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let hydrogens = usize::from(numbers[i] == 1) + usize::from(numbers[j] == 1);
            let min = CLASH_RATIO[hydrogens] * (radii[i] + radii[j]);
            let d = dist(i, j);
            // NaN distances count as clashes.
            if !bonded[i * n + j] && (d < min || d.is_nan()) {
                problems.push(Problem::Clash {
                    atoms: (i, j),
                    distance: d,
                    min,
                });
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn water(oh: f64, hh: f64) -> Vec<[f64; 3]> {
        let y = (oh * oh - hh * hh / 4.0).max(0.0).sqrt();
        vec![[0.0, 0.0, 0.0], [hh / 2.0, y, 0.0], [-hh / 2.0, y, 0.0]]
    }

    #[test]
    fn water_is_judged_by_its_bonds_and_contacts() {
        let z = [8, 1, 1];
        let bonds = [
            Bond {
                i: 0,
                j: 1,
                order: BondOrder::Single,
            },
            Bond {
                i: 0,
                j: 2,
                order: BondOrder::Single,
            },
        ];
        assert!(check(&z, &bonds, &water(0.96, 1.52)).unwrap().is_empty());
        let p = check(&z, &bonds, &water(1.4, 1.52)).unwrap();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].to_string().contains("bond 0-1 (order 1) is 1.400 Å"));
        // H-H squeezed to 0.5 Å: a clash of the unbonded hydrogens
        let p = check(&z, &bonds, &water(0.96, 0.5)).unwrap();
        assert!(
            matches!(p[..], [Problem::Clash { atoms: (1, 2), .. }]),
            "{p:?}"
        );
        // NaN positions are never sane
        let mut nan = water(0.96, 1.52);
        nan[1][0] = f64::NAN;
        assert!(!check(&z, &bonds, &nan).unwrap().is_empty());
    }

    #[test]
    fn bad_arguments_are_errors() {
        let bonds = [Bond {
            i: 0,
            j: 3,
            order: BondOrder::Single,
        }];
        assert!(check(&[8, 1, 1], &bonds, &water(1.0, 1.5)).is_err());
        assert!(check(&[8, 1], &[], &water(1.0, 1.5)).is_err());
        assert!(check(&[92, 1, 1], &[], &water(1.0, 1.5)).is_err());
    }
}
