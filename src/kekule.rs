//! Kekulé structures: aromatic bonds (SDF bond order 4) replaced by single and double bonds.
//!
//! The structure generator was trained on Kekulé graphs (bond orders 1-3, as RDKit writes SDF
//! files), so every graph reaches it kekulized: the generation pipeline (and with it every
//! front end: the CLI, the C ABI, LAMMPS, OpenMM, Python), the SMILES reader and the training
//! data all run [`kekulize`].
//!
//! An aromatic atom needs one double bond when its closed-shell valence (C 4, N 3, N+ 4, O 2:
//! [`elements::neutral_valence`], [`elements::charged_valence`]) exceeds the sum of its bond
//! orders counting each aromatic bond as single: benzene's C and pyridine's N do, pyrrole's NH,
//! furan's O and pyridone's C=O carbon do not. The double bonds are a perfect matching of those
//! atoms over the aromatic bonds, found by backtracking from the atom with the fewest choices.

use std::borrow::Cow;

use crate::elements;
use crate::error::{Error, Result};
use crate::structure::{check_bonds, Bond, BondOrder};

/// Backtracking steps after which the search gives up (no molecule needs more than a few per
/// atom; a huge fused system without a Kekulé structure could otherwise take exponential time).
const MAX_STEPS: usize = 200_000;

/// `bonds` of the molecule with atomic numbers `numbers` (`[N]`) and formal `charges` (`[N]`,
/// or empty for a neutral graph) with each aromatic bond made single or double, so that every
/// aromatic atom that needs a double bond has exactly one (see the module documentation);
/// `bonds` itself (borrowed) when none is aromatic. Errors: an invalid bond list
/// ([`check_bonds`]), or aromatic bonds that admit no Kekulé structure (an atom with a wrong
/// hydrogen count or charge), naming the atoms that need a double bond.
pub fn kekulize<'a>(numbers: &[u8], bonds: &'a [Bond], charges: &[i8]) -> Result<Cow<'a, [Bond]>> {
    if bonds.iter().all(|b| b.order != BondOrder::Aromatic) {
        return Ok(Cow::Borrowed(bonds));
    }
    let n = numbers.len();
    check_bonds(n, bonds)?;
    let needs = needs_double_bond(numbers, bonds, charges);
    let mut search = Matching::new(n, bonds, needs);
    // An odd group of atoms that can only pair among themselves fails at once (the common case:
    // a hydrogen too many or too few), without a search.
    let odd = search.groups().into_iter().find(|g| g.len() % 2 == 1);
    let unpaired: Option<Vec<usize>> = match odd {
        Some(group) => Some(group),
        None => (!search.solve()?).then(|| (0..n).filter(|&a| search.needs[a]).collect()),
    };
    if let Some(atoms) = unpaired {
        let atoms: Vec<String> = atoms.iter().map(usize::to_string).collect();
        return Err(Error::invalid(format!(
            "the aromatic bonds admit no Kekulé structure: the aromatic atoms that need a \
             double bond ({}: {}) cannot be paired along aromatic bonds (check their hydrogens \
             and formal charges: pyrrole's N carries an H, pyridine's does not)",
            atoms.len(),
            atoms.join(", ")
        )));
    }
    let mut out = bonds.to_vec();
    for (b, bond) in out.iter_mut().enumerate() {
        if bond.order == BondOrder::Aromatic {
            bond.order = if search.double[b] {
                BondOrder::Double
            } else {
                BondOrder::Single
            };
        }
    }
    Ok(Cow::Owned(out))
}

/// Whether each atom (`[N]`) is aromatic and short of its closed-shell valence when its
/// aromatic bonds count as single.
fn needs_double_bond(numbers: &[u8], bonds: &[Bond], charges: &[i8]) -> Vec<bool> {
    let n = numbers.len();
    let mut valence = vec![0.0; n];
    let mut aromatic = vec![false; n];
    for b in bonds {
        let is_aromatic = b.order == BondOrder::Aromatic;
        for a in [b.i, b.j] {
            valence[a] += if is_aromatic { 1.0 } else { b.order.valence() };
            aromatic[a] |= is_aromatic;
        }
    }
    (0..n)
        .map(|a| {
            let q = charges.get(a).copied().unwrap_or(0);
            let target = if q == 0 {
                elements::neutral_valence(numbers[a])
            } else {
                elements::charged_valence(numbers[a], q)
            };
            aromatic[a] && target.is_some_and(|t| t - valence[a] > 0.5)
        })
        .collect()
}

/// The backtracking search for a perfect matching of the atoms that need a double bond.
struct Matching<'a> {
    bonds: &'a [Bond],
    /// Aromatic bonds of each atom, in bond order, `[N][..]`.
    incident: Vec<Vec<usize>>,
    /// Atoms that need a double bond, `[N]`.
    needs: Vec<bool>,
    /// Atoms given their double bond so far, `[N]`.
    matched: Vec<bool>,
    /// Aromatic bonds made double so far, `[B]`.
    double: Vec<bool>,
}

impl<'a> Matching<'a> {
    fn new(n: usize, bonds: &'a [Bond], needs: Vec<bool>) -> Matching<'a> {
        let mut incident = vec![Vec::new(); n];
        for (k, b) in bonds.iter().enumerate() {
            if b.order == BondOrder::Aromatic {
                incident[b.i].push(k);
                incident[b.j].push(k);
            }
        }
        Matching {
            bonds,
            incident,
            needs,
            matched: vec![false; n],
            double: vec![false; bonds.len()],
        }
    }

    /// The atoms that need a double bond, grouped by connection along aromatic bonds between
    /// such atoms (each group must pair within itself), `[group][atom]`.
    fn groups(&self) -> Vec<Vec<usize>> {
        let n = self.needs.len();
        let mut seen = vec![false; n];
        let mut out = Vec::new();
        for start in (0..n).filter(|&a| self.needs[a]) {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let (mut group, mut todo) = (Vec::new(), vec![start]);
            while let Some(a) = todo.pop() {
                group.push(a);
                for k in self.options(a) {
                    let b = self.partner(k, a);
                    if !seen[b] {
                        seen[b] = true;
                        todo.push(b);
                    }
                }
            }
            group.sort_unstable();
            out.push(group);
        }
        out
    }

    fn free(&self, a: usize) -> bool {
        self.needs[a] && !self.matched[a]
    }

    /// The other atom of bond `k`, one of whose atoms is `a`.
    fn partner(&self, k: usize, a: usize) -> usize {
        self.bonds[k].i + self.bonds[k].j - a
    }

    /// The aromatic bonds of `a` to atoms still free.
    fn options(&self, a: usize) -> Vec<usize> {
        (self.incident[a].iter().copied())
            .filter(|&k| self.free(self.partner(k, a)))
            .collect()
    }

    /// Makes bond `k` double (`on`) or takes that back.
    fn set(&mut self, k: usize, on: bool) {
        let (i, j) = (self.bonds[k].i, self.bonds[k].j);
        self.matched[i] = on;
        self.matched[j] = on;
        self.double[k] = on;
    }

    /// Depth-first search, iterative (no recursion depth limit): each level pairs the free atom
    /// with the fewest options through one of them, in turn. True when every atom is paired.
    fn solve(&mut self) -> Result<bool> {
        let mut stack: Vec<(Vec<usize>, usize)> = Vec::new();
        for _ in 0..MAX_STEPS {
            let next = (0..self.needs.len())
                .filter(|&a| self.free(a))
                .min_by_key(|&a| self.options(a).len());
            match next {
                None => return Ok(true),
                Some(a) => stack.push((self.options(a), 0)),
            }
            // Take the next option at the deepest level that has one, undoing the one before.
            loop {
                let Some((options, tried)) = stack.last_mut() else {
                    return Ok(false);
                };
                let (previous, next) = (
                    tried.checked_sub(1).map(|t| options[t]),
                    options.get(*tried).copied(),
                );
                *tried += 1;
                if let Some(k) = previous {
                    self.set(k, false);
                }
                match next {
                    Some(k) => {
                        self.set(k, true);
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
        Err(Error::invalid(format!(
            "no Kekulé structure found for the aromatic bonds within {MAX_STEPS} search steps; \
             give the molecule with Kekulé bond orders (1-3)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of `ring` atoms (aromatic bonds), each with one hydrogen unless listed in `bare`.
    fn ring(numbers: &[u8], bare: &[usize]) -> (Vec<u8>, Vec<Bond>) {
        let n = numbers.len();
        let mut z = numbers.to_vec();
        let mut bonds: Vec<Bond> = (0..n)
            .map(|i| Bond {
                i,
                j: (i + 1) % n,
                order: BondOrder::Aromatic,
            })
            .collect();
        for i in (0..n).filter(|i| !bare.contains(i)) {
            bonds.push(Bond {
                i,
                j: z.len(),
                order: BondOrder::Single,
            });
            z.push(1);
        }
        (z, bonds)
    }

    fn doubles(bonds: &[Bond]) -> usize {
        bonds
            .iter()
            .filter(|b| b.order == BondOrder::Double)
            .count()
    }

    #[test]
    fn benzene_pyridine_pyrrole() {
        let (z, b) = ring(&[6; 6], &[]);
        let k = kekulize(&z, &b, &[]).unwrap();
        assert_eq!(doubles(&k), 3);
        for a in 0..6 {
            let n = k
                .iter()
                .filter(|b| (b.i == a || b.j == a) && b.order == BondOrder::Double);
            assert_eq!(n.count(), 1, "atom {a}");
        }
        let (z, b) = ring(&[7, 6, 6, 6, 6, 6], &[0]);
        assert_eq!(doubles(&kekulize(&z, &b, &[]).unwrap()), 3);
        // pyrrole: the NH has no double bond, the four carbons two
        let (z, b) = ring(&[7, 6, 6, 6, 6], &[]);
        let k = kekulize(&z, &b, &[]).unwrap();
        assert_eq!(doubles(&k), 2);
        assert!(k
            .iter()
            .all(|b| b.order != BondOrder::Double || (b.i != 0 && b.j != 0)));
    }

    #[test]
    fn naphthalene_fusion_carbons_take_one_double_bond() {
        // two rings sharing atoms 0 and 5; the fusion carbons carry no hydrogen
        let (mut z, mut b) = ring(&[6; 6], &[0, 5]);
        let extra = [6u8; 4];
        let first = z.len();
        z.extend(extra);
        let path = [5, first, first + 1, first + 2, first + 3, 0];
        for w in path.windows(2) {
            b.push(Bond {
                i: w[0],
                j: w[1],
                order: BondOrder::Aromatic,
            });
        }
        for a in first..first + 4 {
            b.push(Bond {
                i: a,
                j: z.len(),
                order: BondOrder::Single,
            });
            z.push(1);
        }
        let k = kekulize(&z, &b, &[]).unwrap();
        assert_eq!(doubles(&k), 5);
        crate::model::graph::validate_graph(&z, &k, &[]).unwrap();
    }

    #[test]
    fn kekule_graphs_are_borrowed_and_impossible_ones_refused() {
        let b = [Bond {
            i: 0,
            j: 1,
            order: BondOrder::Double,
        }];
        assert!(matches!(
            kekulize(&[8, 8], &b, &[]).unwrap(),
            Cow::Borrowed(_)
        ));
        // a five-membered all-carbon ring with five hydrogens (a radical) has no Kekulé structure
        let (z, b) = ring(&[6; 5], &[]);
        let e = kekulize(&z, &b, &[]).unwrap_err().to_string();
        assert!(
            e.contains("no Kekulé structure") && e.contains("(5: 0, 1, 2, 3, 4)"),
            "{e}"
        );
        // an even group without a perfect matching fails in the search: a carbon with three
        // aromatic CH2 neighbours (each needs the centre's one double bond)
        let mut z = vec![6u8; 4];
        let mut b: Vec<Bond> = (1..4)
            .map(|j| Bond {
                i: 0,
                j,
                order: BondOrder::Aromatic,
            })
            .collect();
        for leaf in 1..4 {
            for _ in 0..2 {
                b.push(Bond {
                    i: leaf,
                    j: z.len(),
                    order: BondOrder::Single,
                });
                z.push(1);
            }
        }
        let e = kekulize(&z, &b, &[]).unwrap_err().to_string();
        assert!(e.contains("(4: 0, 1, 2, 3)"), "{e}");
        // a bond list the graph check would refuse is refused the same way
        let bad = [Bond {
            i: 0,
            j: 7,
            order: BondOrder::Aromatic,
        }];
        let e = kekulize(&[6, 6], &bad, &[]).unwrap_err().to_string();
        assert!(e.contains("beyond"), "{e}");
    }

    #[test]
    fn charged_ring_atoms_count_their_charge() {
        // pyridine N-oxide: the N+ carries the oxide and still needs its ring double bond
        let (mut z, mut b) = ring(&[7, 6, 6, 6, 6, 6], &[0]);
        b.push(Bond {
            i: 0,
            j: z.len(),
            order: BondOrder::Single,
        });
        z.push(8);
        let mut q = vec![0i8; z.len()];
        q[0] = 1;
        *q.last_mut().unwrap() = -1;
        let k = kekulize(&z, &b, &q).unwrap();
        assert_eq!(doubles(&k), 3);
        crate::model::graph::validate_graph(&z, &k, &q).unwrap();
    }
}
