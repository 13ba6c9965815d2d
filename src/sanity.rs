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

/// Errors unless `positions` has one row for each of `n` atoms.
fn fits(n: usize, positions: &[[f64; 3]]) -> Result<()> {
    if positions.len() == n {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "{} positions for {n} atoms",
        positions.len()
    )))
}

/// The windows a structure of one molecule must keep: per bond its length range, per pair of
/// unbonded atoms the smallest distance (both Å).
struct Limits {
    bonds: Vec<Bond>,
    radii: Vec<f64>,
    hydrogen: Vec<bool>,
    bonded: Vec<bool>,
}

impl Limits {
    /// Errors: an invalid bond list ([`check_bonds`]), an element without a covalent radius.
    fn new(numbers: &[u8], bonds: &[Bond]) -> Result<Limits> {
        let n = numbers.len();
        check_bonds(n, bonds)?;
        let radii = numbers
            .iter()
            .map(|&z| covalent_radius(z))
            .collect::<Result<_>>()?;
        let mut bonded = vec![false; n * n];
        for b in bonds {
            bonded[b.i * n + b.j] = true;
            bonded[b.j * n + b.i] = true;
        }
        Ok(Limits {
            bonds: bonds.to_vec(),
            radii,
            hydrogen: numbers.iter().map(|&z| z == 1).collect(),
            bonded,
        })
    }

    fn n(&self) -> usize {
        self.radii.len()
    }

    /// The allowed length range of bond `b`, Å.
    fn bond(&self, b: &Bond) -> (f64, f64) {
        let (lo, hi) = BOND_RATIO[b.order.index()];
        let sum = self.radii[b.i] + self.radii[b.j];
        (lo * sum, hi * sum)
    }

    /// The smallest allowed distance of atoms `i` and `j` (Å), `None` when they are bonded.
    fn contact(&self, i: usize, j: usize) -> Option<f64> {
        let hydrogens = usize::from(self.hydrogen[i]) + usize::from(self.hydrogen[j]);
        (!self.bonded[i * self.n() + j])
            .then(|| CLASH_RATIO[hydrogens] * (self.radii[i] + self.radii[j]))
    }
}

fn distance(positions: &[[f64; 3]], i: usize, j: usize) -> f64 {
    let d: f64 = (0..3)
        .map(|a| (positions[i][a] - positions[j][a]).powi(2))
        .sum();
    d.sqrt()
}

/// Checks the bonds and unbonded contacts of one structure.
///
/// `numbers` are atomic numbers `[N]`, `bonds` the graph, `positions` in Å `[N][3]`. Returns
/// every problem found (empty = sane). Errors: mismatched lengths, an invalid bond list
/// ([`check_bonds`]), an element without a covalent radius.
pub fn check(numbers: &[u8], bonds: &[Bond], positions: &[[f64; 3]]) -> Result<Vec<Problem>> {
    fits(numbers.len(), positions)?;
    let limits = Limits::new(numbers, bonds)?;
    let mut problems = Vec::new();
    for b in bonds {
        let range = limits.bond(b);
        let d = distance(positions, b.i, b.j);
        if !(d >= range.0 && d <= range.1) {
            problems.push(Problem::BondLength {
                atoms: (b.i, b.j),
                order: b.order,
                distance: d,
                range,
            });
        }
    }
    for i in 0..limits.n() {
        for j in i + 1..limits.n() {
            let Some(min) = limits.contact(i, j) else {
                continue;
            };
            let d = distance(positions, i, j);
            // NaN distances count as clashes.
            if d < min || d.is_nan() {
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

/// How far inside the check's windows the restraint's lie, Å: a structure the restraint
/// leaves at rest passes [`check`] with this margin.
const RESTRAINT_MARGIN: f64 = 0.05;
/// Force constant of the restraint, eV/Å².
pub(crate) const RESTRAINT_K: f64 = 40.0;

/// A flat-bottom harmonic restraint toward a sane structure of one molecule: zero while every
/// bond length and unbonded contact is `RESTRAINT_MARGIN` inside the windows of [`check`],
/// else `K/2 (d - d_window)²` per bond or contact outside (K = 40 eV/Å²). Added to a
/// potential, it pulls a generated structure's broken bonds together and pushes clashing atoms
/// apart. Built once per molecule, evaluated at every step of a relaxation.
pub struct Restraint {
    limits: Limits,
}

impl Restraint {
    /// The restraint of the molecule with atomic numbers `numbers` (`[N]`) and bond graph
    /// `bonds`. Errors: an invalid bond list, an element without a covalent radius.
    pub fn new(numbers: &[u8], bonds: &[Bond]) -> Result<Restraint> {
        Ok(Restraint {
            limits: Limits::new(numbers, bonds)?,
        })
    }

    /// Energy (eV) and its gradient (eV/Å, `[N][3]`) at `positions` (Å, `[N][3]`); errors
    /// when the number of positions is not N.
    pub fn energy_and_gradient(&self, positions: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)> {
        let limits = &self.limits;
        fits(limits.n(), positions)?;
        let mut energy = 0.0;
        let mut gradient = vec![[0.0; 3]; limits.n()];
        let mut pull = |i: usize, j: usize, excess: f64| {
            // excess = d - d_window (> 0: too long, < 0: too short); dE/dd = K excess.
            let d = distance(positions, i, j).max(1e-9);
            energy += 0.5 * RESTRAINT_K * excess * excess;
            for a in 0..3 {
                let g = RESTRAINT_K * excess * (positions[i][a] - positions[j][a]) / d;
                gradient[i][a] += g;
                gradient[j][a] -= g;
            }
        };
        for b in &limits.bonds {
            let (lo, hi) = limits.bond(b);
            let d = distance(positions, b.i, b.j);
            if d > hi - RESTRAINT_MARGIN {
                pull(b.i, b.j, d - (hi - RESTRAINT_MARGIN));
            } else if d < lo + RESTRAINT_MARGIN {
                pull(b.i, b.j, d - (lo + RESTRAINT_MARGIN));
            }
        }
        for i in 0..limits.n() {
            for j in i + 1..limits.n() {
                if let Some(min) = limits.contact(i, j) {
                    let d = distance(positions, i, j);
                    if d < min + RESTRAINT_MARGIN {
                        pull(i, j, d - (min + RESTRAINT_MARGIN));
                    }
                }
            }
        }
        Ok((energy, gradient))
    }
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

    fn water_bonds() -> [Bond; 2] {
        [(0, 1), (0, 2)].map(|(i, j)| Bond {
            i,
            j,
            order: BondOrder::Single,
        })
    }

    #[test]
    fn the_restraint_is_zero_inside_the_windows_and_its_gradient_is_exact_outside() {
        let (z, bonds) = ([8, 1, 1], water_bonds());
        let restraint = Restraint::new(&z, &bonds).unwrap();
        let (e, g) = restraint.energy_and_gradient(&water(0.96, 1.52)).unwrap();
        assert_eq!(e, 0.0);
        assert!(g.iter().flatten().all(|&v| v == 0.0));
        // One bond stretched, the hydrogens clashing: positive, gradient by central differences.
        let mut x = water(0.96, 0.9);
        x[1] = [x[1][0] * 1.6, x[1][1] * 1.6, 0.1];
        let (e, g) = restraint.energy_and_gradient(&x).unwrap();
        assert!(e > 0.1, "{e}");
        assert!(!check(&z, &bonds, &x).unwrap().is_empty());
        let h = 1e-6;
        for i in 0..3 {
            for a in 0..3 {
                let mut xp = x.clone();
                xp[i][a] += h;
                let mut xm = x.clone();
                xm[i][a] -= h;
                let energy = |x: &[[f64; 3]]| restraint.energy_and_gradient(x).unwrap().0;
                let fd = (energy(&xp) - energy(&xm)) / (2.0 * h);
                assert!(
                    (fd - g[i][a]).abs() < 1e-6,
                    "atom {i} axis {a}: {fd} vs {}",
                    g[i][a]
                );
            }
        }
        // Errors as the check's.
        assert!(restraint.energy_and_gradient(&x[..2]).is_err());
        assert!(Restraint::new(&[92, 1, 1], &bonds).is_err());
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
