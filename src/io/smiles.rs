//! Molecular graphs from SMILES strings, as the structure generator needs them: every atom
//! explicit (implicit hydrogens added from the default valences, as OpenSMILES defines them)
//! and aromatic rings kekulized into single and double bonds ([`crate::kekule`]), because the
//! generator was trained on Kekulé graphs (bond orders 1 to 3).
//!
//! Parsing is done by the `purr` crate (an OpenSMILES reader); this module turns its
//! adjacency into a [`Molecule`] and kekulizes. Formal charges (`[N+]`, `[O-]`) become the
//! molecule's charges (which charges a model takes is the graph check's business:
//! [`crate::model::graph::validate_graph`]); stereo marks (`@`, `@@`, `/`, `\`) on stereogenic centres
//! and double bonds become the molecule's [`Stereo`], which generation honours.

use purr::feature::{AtomKind, BondKind, BracketSymbol, Configuration};
use purr::graph::{Atom, Builder};

use crate::elements;
use crate::error::{Error, Result};
use crate::hops::Adjacency;
use crate::kekule;
use crate::stereo::{self, DoubleBond, Stereo, Tetrahedral};
use crate::structure::{Bond, BondOrder, Molecule};

/// A molecule read from SMILES, with the facts its string carried that the graph does not.
#[derive(Debug, Clone, PartialEq)]
pub struct SmilesGraph {
    /// The molecule: heavy atoms in the order of the string, then the hydrogens (each after
    /// the heavy atoms, in the order of the atoms they are bonded to); positions all zero,
    /// Kekulé bond orders 1-3; named by the SMILES string.
    pub molecule: Molecule,
    /// True when the string had tetrahedral (`@`) or double-bond (`/`, `\`) stereo marks.
    pub has_stereo: bool,
}

/// Parses one SMILES string into a molecular graph with explicit hydrogens and Kekulé bonds.
///
/// Errors ([`Error::InvalidInput`], naming the problem and the 0-based character position
/// where the parser gives one): syntax errors, dot-disconnected fragments, wildcard `*`
/// atoms, aromatic systems that admit no Kekulé structure; unknown element
/// symbols give [`Error::UnknownElement`].
pub fn parse_smiles(smiles: &str) -> Result<SmilesGraph> {
    let invalid = |message: String| Error::InvalidInput(format!("SMILES '{smiles}': {message}"));
    let mut builder = Builder::new();
    purr::read::read(smiles, &mut builder, None)
        .map_err(|e| invalid(format!("syntax error ({})", describe_read_error(&e))))?;
    let atoms = builder.build().map_err(|e| {
        invalid(match e {
            purr::graph::Error::Rnum(c) => {
                format!("ring bond opened at position {c} is never closed")
            }
            purr::graph::Error::Join(a, b) => {
                format!("ring closure joins atoms {a} and {b} with conflicting bond kinds")
            }
        })
    })?;
    if atoms.is_empty() {
        return Err(invalid("no atoms".into()));
    }
    let mut heavy = Vec::with_capacity(atoms.len());
    let mut charges: Vec<i8> = atoms.iter().map(formal_charge).collect();
    let mut has_stereo = smiles.contains(['/', '\\']);
    for (i, atom) in atoms.iter().enumerate() {
        heavy.push(element_of(atom).map_err(|e| match e {
            Error::UnknownElement(s) => {
                Error::UnknownElement(format!("{s} (atom {i} of SMILES '{smiles}')"))
            }
            Error::InvalidInput(m) => invalid(format!("atom {i}: {m}")),
            other => other,
        })?);
        if let AtomKind::Bracket {
            configuration: Some(_),
            ..
        } = &atom.kind
        {
            has_stereo = true;
        }
    }

    let mut bonds = Vec::new();
    for (i, atom) in atoms.iter().enumerate() {
        for b in atom.bonds.iter().filter(|b| b.tid > i) {
            let order = match b.kind {
                BondKind::Double => BondOrder::Double,
                BondKind::Triple => BondOrder::Triple,
                BondKind::Quadruple => {
                    return Err(invalid("quadruple bonds are not supported".into()))
                }
                // An elided bond between two aromatic atoms is aromatic (OpenSMILES).
                BondKind::Aromatic => BondOrder::Aromatic,
                BondKind::Elided if atom.is_aromatic() && atoms[b.tid].is_aromatic() => {
                    BondOrder::Aromatic
                }
                _ => BondOrder::Single,
            };
            bonds.push(Bond { i, j: b.tid, order });
        }
    }
    let mut numbers = heavy;
    let mut hydrogens = vec![Vec::new(); atoms.len()];
    for (i, atom) in atoms.iter().enumerate() {
        for _ in 0..atom.suppressed_hydrogens() {
            hydrogens[i].push(numbers.len());
            bonds.push(Bond {
                i,
                j: numbers.len(),
                order: BondOrder::Single,
            });
            numbers.push(1);
        }
    }
    let hops =
        Adjacency::new(numbers.len(), bonds.iter().map(|b| (b.i, b.j))).hops([0], usize::MAX);
    if hops.contains(&usize::MAX) {
        return Err(invalid(
            "more than one fragment ('.'); give each molecule its own SMILES".into(),
        ));
    }
    let n = numbers.len();
    charges.resize(n, 0);
    let bonds = match kekule::kekulize(&numbers, &bonds, &charges) {
        Ok(kekule) => kekule.into_owned(),
        Err(Error::InvalidInput(m)) => return Err(invalid(m)),
        Err(e) => return Err(e),
    };
    let stereo = marked_stereo(&atoms, &hydrogens, &numbers, &bonds);
    Ok(SmilesGraph {
        molecule: Molecule {
            name: smiles.to_string(),
            numbers,
            positions: vec![[0.0; 3]; n],
            charges,
            bonds,
            properties: Default::default(),
            stereo,
        },
        has_stereo,
    })
}

/// The configurations the string's marks give to the graph's stereogenic centres and double
/// bonds ([`crate::stereo::perceive`]; marks elsewhere carry no stereo and are dropped).
///
/// A centre's neighbours in the order of the string are its implicit hydrogen (first, as
/// `purr` orders them, having already inverted `@` for a bracket hydrogen that follows the
/// preceding atom) and then its bonds; `@` means the last three run anticlockwise seen from the
/// first, i.e. a negative [`stereo::signed_volume`]. A double bond's two ends each need a substituent bond
/// marked `/` or `\`; the same direction on both (as seen from each end) means cis.
fn marked_stereo(
    atoms: &[Atom],
    hydrogens: &[Vec<usize>],
    numbers: &[u8],
    bonds: &[Bond],
) -> Stereo {
    let found = stereo::perceive(numbers, bonds);
    let mut out = Stereo::default();
    let mut centres = Vec::new();
    let stereogenic = found.centres.iter().chain(&found.relative);
    for &o in stereogenic.filter(|&&o| o < atoms.len()) {
        let AtomKind::Bracket {
            configuration: Some(config),
            ..
        } = &atoms[o].kind
        else {
            continue;
        };
        let positive = match config {
            Configuration::TH1 => false,
            Configuration::TH2 => true,
            _ => continue,
        };
        let order: Vec<usize> = hydrogens[o]
            .iter()
            .copied()
            .chain(atoms[o].bonds.iter().map(|b| b.tid))
            .collect();
        if let [f, a, b, c] = order[..] {
            centres.push(Tetrahedral {
                centre: o,
                neighbors: [f, a, b, c],
                positive,
                relative_to: None,
            });
        }
    }
    centres.sort_by_key(|t| t.centre);
    out.centres = found.relate(centres);
    // The first substituent of `p` (other than `q`) whose bond is marked, with its direction.
    let marked = |p: usize, q: usize| {
        atoms.get(p)?.bonds.iter().find_map(|b| match b.kind {
            BondKind::Up | BondKind::Down if b.tid != q => Some((b.tid, b.kind.clone())),
            _ => None,
        })
    };
    for &[p, q] in &found.double_bonds {
        if let (Some((s, dp)), Some((t, dq))) = (marked(p, q), marked(q, p)) {
            out.double_bonds.push(DoubleBond {
                ends: [p, q],
                refs: [s, t],
                cis: dp == dq,
            });
        }
    }
    out
}

/// The formal charge of a parsed atom (0 outside brackets).
fn formal_charge(atom: &Atom) -> i8 {
    match &atom.kind {
        AtomKind::Bracket {
            charge: Some(c), ..
        } => c.into(),
        _ => 0,
    }
}

/// Atomic number of a parsed atom; refuses wildcards.
fn element_of(atom: &Atom) -> Result<u8> {
    let symbol = match &atom.kind {
        AtomKind::Star => return Err(Error::InvalidInput("wildcard atom '*'".into())),
        AtomKind::Aliphatic(a) => a.to_string(),
        AtomKind::Aromatic(a) => a.to_string(),
        AtomKind::Bracket { symbol, .. } => match symbol {
            BracketSymbol::Star => return Err(Error::InvalidInput("wildcard atom '*'".into())),
            s => s.to_string(),
        },
    };
    // Aromatic atoms are written in lower case ("c", "n", "se").
    let mut chars = symbol.chars();
    let symbol: String = match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    };
    elements::atomic_number(&symbol)
}

/// A readable description of a `purr` read error (they carry the 0-based cursor).
fn describe_read_error(e: &purr::read::Error) -> String {
    match e {
        purr::read::Error::EndOfLine => "unexpected end of string".into(),
        purr::read::Error::Character(c) => format!("unexpected character at position {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(m: &Molecule) -> (usize, usize, Vec<u8>) {
        let heavy = m.numbers.iter().filter(|&&z| z > 1).count();
        let h = m.numbers.len() - heavy;
        let mut orders: Vec<u8> = m.bonds.iter().map(|b| b.order.code()).collect();
        orders.sort();
        (heavy, h, orders)
    }

    #[test]
    fn implicit_hydrogens_and_orders() {
        let g = parse_smiles("CC(=O)N").unwrap().molecule;
        assert_eq!(g.numbers[..4], [6, 6, 8, 7]);
        let (heavy, h, orders) = counts(&g);
        assert_eq!((heavy, h), (4, 5)); // acetamide C2H5NO
        assert_eq!(orders.iter().filter(|&&o| o == 2).count(), 1);
        assert!(g.numbers[4..].iter().all(|&z| z == 1));
    }

    #[test]
    fn benzene_is_kekulized() {
        let g = parse_smiles("c1ccccc1").unwrap().molecule;
        let (heavy, h, _) = counts(&g);
        assert_eq!((heavy, h), (6, 6));
        let ring: Vec<u8> = g
            .bonds
            .iter()
            .filter(|b| b.j < 6)
            .map(|b| b.order.code())
            .collect();
        assert_eq!(ring.iter().filter(|&&o| o == 2).count(), 3);
        assert_eq!(ring.iter().filter(|&&o| o == 1).count(), 3);
        // every ring carbon has exactly one double bond
        for a in 0..6 {
            let d = g
                .bonds
                .iter()
                .filter(|b| (b.i == a || b.j == a) && b.order == BondOrder::Double);
            assert_eq!(d.count(), 1, "atom {a}");
        }
    }

    #[test]
    fn heteroaromatics() {
        // pyrrole: [nH] keeps its hydrogen and has no double bond
        let g = parse_smiles("c1cc[nH]c1").unwrap().molecule;
        assert_eq!(counts(&g).1, 5);
        assert_eq!(counts(&g).2.iter().filter(|&&o| o == 2).count(), 2);
        // furan, pyridine, naphthalene
        assert_eq!(counts(&parse_smiles("c1ccoc1").unwrap().molecule).1, 4);
        assert_eq!(counts(&parse_smiles("c1ccncc1").unwrap().molecule).1, 5);
        let n = parse_smiles("c1ccc2ccccc2c1").unwrap().molecule;
        assert_eq!(counts(&n).1, 8);
        assert_eq!(counts(&n).2.iter().filter(|&&o| o == 2).count(), 5);
    }

    #[test]
    fn stereo_is_reported() {
        assert!(parse_smiles("C[C@H](O)F").unwrap().has_stereo);
        assert!(parse_smiles("F/C=C/F").unwrap().has_stereo);
        assert!(!parse_smiles("CC(O)F").unwrap().has_stereo);
    }

    #[test]
    fn bad_smiles_name_the_problem() {
        let msg = |s: &str| parse_smiles(s).unwrap_err().to_string();
        assert!(msg("C1CC").contains("never closed"), "{}", msg("C1CC"));
        assert!(msg("CC(").contains("syntax"));
        assert!(msg("CXC").contains("position 1"));
        assert!(msg("C.C").contains("fragment"));
        assert!(msg("C*").contains("wildcard"));
        assert!(msg("c1cccc1").contains("Kekulé"));
        // Every element is known to the parser; whether a model knows it is checked later.
        assert_eq!(parse_smiles("[Xe]").unwrap().molecule.numbers, vec![54]);
        assert!(msg("").contains("SMILES"));
    }

    /// The graph check's message for SMILES `s`, None when it passes.
    fn check(s: &str) -> Option<String> {
        let g = parse_smiles(s).unwrap().molecule;
        crate::model::graph::validate_graph(&g.numbers, &g.bonds, &g.charges)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn radicals_and_lone_aromatic_atoms_are_refused_by_the_graph_check() {
        for s in ["[CH3]", "C[O]", "[C]", "c", "[NH2]"] {
            let e = check(s).unwrap_or_else(|| panic!("{s} accepted"));
            assert!(e.contains("radical"), "{s}: {e}");
        }
        for s in [
            "C",
            "CCO",
            "c1ccccc1",
            "c1cc[nH]c1",
            "[H][H]",
            "O=C=O",
            "C#N",
        ] {
            assert_eq!(check(s), None, "{s}");
        }
    }

    #[test]
    fn charge_separated_neutral_molecules_pass_and_net_charges_do_not() {
        let nitro = parse_smiles("O=[N+]([O-])c1ccccc1").unwrap().molecule;
        assert_eq!(&nitro.charges[..3], &[0, 1, -1]);
        assert!(nitro.charges[3..].iter().all(|&q| q == 0));
        assert_eq!(nitro.numbers.len(), 14);
        for s in [
            "O=[N+]([O-])c1ccccc1",
            "[O-][n+]1ccccc1",
            "CN=[N+]=[N-]",
            "[C-]#[N+]c1ccccc1",
            "[NH3+]CC(=O)[O-]",
        ] {
            assert_eq!(check(s), None, "{s}");
        }
        let e = check("C[N+](C)(C)C").unwrap();
        assert!(e.contains("net charge +1"), "{e}");
        let e = check("CC(=O)[O-]").unwrap();
        assert!(e.contains("net charge -1"), "{e}");
        let e = check("C[S+](C)C").unwrap();
        assert!(e.contains("formal charge +1"), "{e}");
    }
}
