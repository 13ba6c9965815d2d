//! SDF / MOL files, V2000 connection tables, as RDKit reads and writes them.
//!
//! A record is a 3-line header (the first line is the title), a counts line
//! (`aaabbb...V2000`), the atom block (`x y z` in fixed `%10.4f` columns, symbol, mass
//! difference, charge code), the bond block (1-based atom indices, order 1..4), a
//! properties block ending in `M  END` (`M  CHG` sets formal charges), then data fields
//! (`> <name>`, value lines, a blank line) and `$$$$`. V3000 tables are refused.

use std::collections::BTreeMap;
use std::path::Path;

use crate::elements;
use crate::error::{Error, Result};
use crate::io::files::{read_text, write_atomic};
use crate::stereo::{perceive, Stereo, Tetrahedral};
use crate::structure::{check_bonds, first_invalid_bond, Bond, BondOrder, BondProblem, Molecule};

/// Reads every record of the SDF/MOL file at `path` (gunzipped if the name ends in `.gz`).
pub fn read_sdf(path: &Path) -> Result<Vec<Molecule>> {
    let text = read_text(path)?;
    parse_sdf(&text, path)
}

/// Parses SDF `text`; `path` is only used in error messages, which name the 1-based line of
/// the problem. Records end with `$$$$`; a last record without it is accepted, and
/// whitespace after the last record is ignored.
pub fn parse_sdf(text: &str, path: &Path) -> Result<Vec<Molecule>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut mols = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        if lines[k..].iter().all(|l| l.trim().is_empty()) {
            break;
        }
        let (mol, next) = parse_record(&lines, k, path)?;
        mols.push(mol);
        k = next;
    }
    Ok(mols)
}

/// Writes `mols` to `path` atomically (gzipped if the name ends in `.gz`), in the layout of
/// [`format_sdf`]. Fails without touching the file when a molecule has arrays of inconsistent
/// lengths, more than 999 atoms or bonds, an element without a symbol, a charge outside
/// -15..=15, or an invalid bond list ([`check_bonds`]).
pub fn write_sdf(path: &Path, mols: &[Molecule]) -> Result<()> {
    for (m, mol) in mols.iter().enumerate() {
        check_molecule(mol).map_err(|e| Error::invalid(format!("molecule {m}: {e}")))?;
    }
    write_atomic(path, format_sdf(mols).as_bytes())
}

/// Checks that `mol` can be written as a V2000 record.
fn check_molecule(mol: &Molecule) -> std::result::Result<(), String> {
    let n = mol.numbers.len();
    if mol.positions.len() != n || mol.charges.len() != n {
        return Err(format!(
            "{n} atoms but {} positions and {} charges",
            mol.positions.len(),
            mol.charges.len()
        ));
    }
    if n > 999 || mol.bonds.len() > 999 {
        return Err("V2000 holds at most 999 atoms and 999 bonds".into());
    }
    for &z in &mol.numbers {
        elements::symbol(z).map_err(|e| e.to_string())?;
    }
    if let Some(q) = mol.charges.iter().find(|q| !(-15..=15).contains(*q)) {
        return Err(format!("formal charge {q} outside -15..=15"));
    }
    check_bonds(n, &mol.bonds).map_err(|e| format!("invalid bond: {e}"))
}

/// Formats `mols` as RDKit writes V2000 SDF: header (title, program line, blank comment),
/// counts line, atom lines `%10.4f%10.4f%10.4f %-3s 0%3d  0  0  0  0  0  0  0  0  0  0`,
/// bond lines `%3d%3d%3d  0`, `M  CHG` lines for charged atoms, `M  END`, the data fields
/// and `$$$$`. Coordinates are rounded to 4 decimals. Line breaks in the title become
/// spaces; blank lines inside a data value (which would end it) are dropped. Elements
/// without a symbol are written as `*`; [`write_sdf`] rejects them and other inconsistent
/// molecules.
pub fn format_sdf(mols: &[Molecule]) -> String {
    let mut out = String::new();
    for mol in mols {
        let n = mol.numbers.len().min(mol.positions.len());
        let title: String = mol
            .name
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        out.push_str(&title);
        out.push('\n');
        out.push_str(&format!("  {:<8}{:10}3D\n\n", "Concord", ""));
        let bonds: Vec<&Bond> = mol.bonds.iter().filter(|b| b.i < n && b.j < n).collect();
        out.push_str(&format!(
            "{:3}{:3}  0  0  0  0  0  0  0  0999 V2000\n",
            n,
            bonds.len()
        ));
        let charge = |i: usize| mol.charges.get(i).copied().unwrap_or(0);
        for i in 0..n {
            let [x, y, z] = mol.positions[i];
            let symbol = elements::symbol(mol.numbers[i]).unwrap_or("*");
            let q = charge(i);
            let code = if (-3..=3).contains(&q) && q != 0 {
                4 - q
            } else {
                0
            };
            out.push_str(&format!(
                "{x:10.4}{y:10.4}{z:10.4} {symbol:<3} 0{code:3}  0  0  0  0  0  0  0  0  0  0\n"
            ));
        }
        for b in &bonds {
            out.push_str(&format!(
                "{:3}{:3}{:3}  0\n",
                b.i + 1,
                b.j + 1,
                b.order.code()
            ));
        }
        let charged: Vec<(usize, i8)> = (0..n)
            .map(|i| (i, charge(i)))
            .filter(|&(_, q)| q != 0)
            .collect();
        for chunk in charged.chunks(8) {
            out.push_str(&format!("M  CHG{:3}", chunk.len()));
            for &(i, q) in chunk {
                out.push_str(&format!(" {:3} {:3}", i + 1, q));
            }
            out.push('\n');
        }
        out.push_str("M  END\n");
        for (name, value) in &mol.properties {
            out.push_str(&format!(">  <{name}>\n"));
            for line in value.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
        }
        out.push_str("$$$$\n");
    }
    out
}

/// The text of `line` in byte columns `a..b` (0-based, clipped to the line), trimmed;
/// `None` when the columns split a multi-byte character.
fn columns(line: &str, a: usize, b: usize) -> Option<&str> {
    let b = b.min(line.len());
    if a >= b {
        return Some("");
    }
    line.get(a..b).map(str::trim)
}

/// Parses the record starting at `lines[start]`; returns it and the index of the line after
/// its `$$$$` (or the end of the text).
fn parse_record(lines: &[&str], start: usize, path: &Path) -> Result<(Molecule, usize)> {
    let r = Record { lines, start, path };
    let mut mol = Molecule {
        name: r.line(start, "before the header")?.trim_end().to_string(),
        ..Default::default()
    };
    r.line(start + 1, "inside the header")?;
    r.line(start + 2, "inside the header")?;
    let c = start + 3;
    let (n_atoms, n_bonds) = r.counts(c)?;
    let mut parities = Vec::with_capacity(n_atoms);
    for a in 0..n_atoms {
        let (position, z, charge, parity) = r.atom(c + 1 + a, n_atoms)?;
        mol.positions.push(position);
        mol.numbers.push(z);
        mol.charges.push(charge);
        parities.push(parity);
    }
    let mut wedges = Vec::new();
    for b in 0..n_bonds {
        let (bond, wedge) = r.bond(c + 1 + n_atoms + b, n_atoms, n_bonds)?;
        if wedge != 0 {
            wedges.push((bond.i, bond.j, wedge));
        }
        mol.bonds.push(bond);
    }
    if let Some((b, problem)) = first_invalid_bond(n_atoms, &mol.bonds) {
        let (i, j) = (mol.bonds[b].i + 1, mol.bonds[b].j + 1);
        let message = match problem {
            BondProblem::SelfBond => format!("self-bond on atom {i}"),
            BondProblem::Duplicate => format!("duplicate bond between atoms {i} and {j}"),
            BondProblem::OutOfRange => unreachable!("Record::bond checks the range"),
        };
        return Err(r.err(c + 1 + n_atoms + b, message));
    }
    let k = r.properties(c + 1 + n_atoms + n_bonds, &mut mol.charges)?;
    let (properties, end) = r.data_fields(k)?;
    mol.properties = properties;
    mol.stereo = record_stereo(&mol, &parities, &wedges);
    Ok((mol, end))
}

/// The record's stereo configuration: from its coordinates when they are 3D (some z is not
/// 0), as RDKit reads a 3D record. A 2D depiction (z = 0, some x or y not 0) gives its double
/// bonds from the drawing (cis and trans substituents drawn on the same and on opposite sides)
/// and its centres from wedge bonds (`wedges`: (centre, neighbour, +1 wedge / -1 hash), read as
/// the neighbour lifted 1 Å towards or away from the viewer) when it has any; otherwise, and
/// for a record without coordinates, the centres come from the atom parities.
fn record_stereo(mol: &Molecule, parities: &[u8], wedges: &[(usize, usize, i8)]) -> Stereo {
    let (numbers, bonds) = (&mol.numbers, &mol.bonds);
    if mol.positions.iter().any(|p| p[2].abs() > 1e-4) {
        return Stereo::from_positions(numbers, bonds, &mol.positions);
    }
    let drawn = mol
        .positions
        .iter()
        .any(|p| p[0].abs() > 1e-4 || p[1].abs() > 1e-4);
    let mut stereo = if drawn && !wedges.is_empty() {
        let mut lifted = mol.positions.clone();
        for &(_, j, dir) in wedges {
            lifted[j][2] += f64::from(dir);
        }
        let mut s = Stereo::from_positions(numbers, bonds, &lifted);
        let wedged = |t: &Tetrahedral| wedges.iter().any(|&(i, _, _)| i == t.centre);
        let kept = s.centres.into_iter().filter(wedged).collect();
        s.centres = perceive(numbers, bonds).relate(kept);
        s
    } else {
        Stereo::from_parities(numbers, bonds, parities)
    };
    stereo.double_bonds = if drawn {
        Stereo::from_positions(numbers, bonds, &mol.positions).double_bonds
    } else {
        Vec::new()
    };
    stereo
}

/// One SDF record being read: its lines, where it starts, and the file (for errors).
struct Record<'a> {
    lines: &'a [&'a str],
    start: usize,
    path: &'a Path,
}

impl<'a> Record<'a> {
    /// A parse error at 0-based line `idx`.
    fn err(&self, idx: usize, message: String) -> Error {
        Error::parse(self.path, idx + 1, message)
    }

    /// Line `idx` of the record; an error when the file or the record ends before it.
    fn line(&self, idx: usize, what: &str) -> Result<&'a str> {
        let start = self.start + 1;
        match self.lines.get(idx) {
            Some(l) if l.trim_end() != "$$$$" => Ok(*l),
            Some(_) => Err(self.err(
                idx,
                format!("truncated record (starting at line {start}): '$$$$' {what}"),
            )),
            None => Err(Error::parse(
                self.path,
                self.lines.len().max(1),
                format!("truncated record (starting at line {start}): the file ends {what}"),
            )),
        }
    }

    /// The atom and bond counts of the counts line at `c` (V2000 only).
    fn counts(&self, c: usize) -> Result<(usize, usize)> {
        let counts = self.line(c, "before the counts line")?;
        if counts.contains("V3000") {
            let message = "unsupported V3000 connection table (only V2000 is supported)";
            return Err(self.err(c, message.into()));
        }
        if !counts.contains("V2000") {
            let message = format!("bad counts line (expected 'aaabbb...V2000'): '{counts}'");
            return Err(self.err(c, message));
        }
        let count = |a: usize, what: &str| -> Result<usize> {
            columns(counts, a, a + 3)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    let (from, to) = (a + 1, a + 3);
                    let message =
                        format!("bad counts line: no {what} count in columns {from}-{to}");
                    self.err(c, message)
                })
        };
        Ok((count(0, "atom")?, count(3, "bond")?))
    }

    /// Position (Å), atomic number and formal charge of the atom line `idx`.
    fn atom(&self, idx: usize, n_atoms: usize) -> Result<([f64; 3], u8, i8, u8)> {
        let what = format!("inside the atom block ({n_atoms} atoms declared)");
        let line = self.line(idx, &what)?;
        let coord = |col: usize, axis: &str| -> Result<f64> {
            let text = columns(line, col, col + 10).unwrap_or("");
            text.parse().map_err(|_| {
                let (from, to) = (col + 1, col + 10);
                self.err(
                    idx,
                    format!(
                        "bad atom line: {axis} coordinate in columns {from}-{to} is '{text}', \
                         not a number"
                    ),
                )
            })
        };
        let position = [coord(0, "x")?, coord(10, "y")?, coord(20, "z")?];
        let symbol = columns(line, 31, 34).unwrap_or("");
        let z = elements::atomic_number(symbol)
            .map_err(|_| self.err(idx, format!("unknown element '{symbol}'")))?;
        let code_text = columns(line, 36, 39).unwrap_or("");
        let code: i8 = if code_text.is_empty() {
            0
        } else {
            code_text.parse().map_err(|_| {
                let message = format!("bad atom line: charge code '{code_text}' is not an integer");
                self.err(idx, message)
            })?
        };
        let charge = match code {
            0 | 4 => 0,
            1..=3 | 5..=7 => 4 - code,
            _ => {
                let message = format!("bad atom line: charge code {code} outside 0..=7");
                return Err(self.err(idx, message));
            }
        };
        // Atom parity (columns 40-42): 1 or 2 mark a configuration, anything else none.
        let parity = columns(line, 39, 42)
            .and_then(|t| t.parse::<u8>().ok())
            .filter(|p| matches!(p, 1 | 2))
            .unwrap_or(0);
        Ok((position, z, charge, parity))
    }

    /// The bond of bond line `idx` (0-based atoms), its atoms and order checked.
    fn bond(&self, idx: usize, n_atoms: usize, n_bonds: usize) -> Result<(Bond, i8)> {
        let what = format!("inside the bond block ({n_bonds} bonds declared)");
        let line = self.line(idx, &what)?;
        let field = |a: usize, what: &str| -> Result<i64> {
            let text = columns(line, a, a + 3).unwrap_or("");
            text.parse().map_err(|_| {
                let (from, to) = (a + 1, a + 3);
                self.err(
                    idx,
                    format!(
                        "bad bond line: {what} in columns {from}-{to} is '{text}', not an integer"
                    ),
                )
            })
        };
        let (i, j, code) = (
            field(0, "first atom")?,
            field(3, "second atom")?,
            field(6, "bond order")?,
        );
        for atom in [i, j] {
            if atom < 1 || atom as usize > n_atoms {
                let message =
                    format!("bond to atom {atom} out of range (the record has {n_atoms} atoms)");
                return Err(self.err(idx, message));
            }
        }
        let Some(order) = BondOrder::from_code(code) else {
            let message =
                format!("bond order {code} outside 1..=4 (single, double, triple, aromatic)");
            return Err(self.err(idx, message));
        };
        // Bond stereo (columns 10-12) of a single bond: 1 = wedge (the second atom towards the
        // viewer), 6 = hash (away); anything else none.
        let wedge = match columns(line, 9, 12).and_then(|t| t.parse::<u8>().ok()) {
            Some(1) if order == BondOrder::Single => 1,
            Some(6) if order == BondOrder::Single => -1,
            _ => 0,
        };
        let bond = Bond {
            i: i as usize - 1,
            j: j as usize - 1,
            order,
        };
        Ok((bond, wedge))
    }

    /// The properties block from line `k` up to `M  END` (formal charges from `M  CHG`
    /// replace those of the atom block); returns the line after `M  END`.
    fn properties(&self, mut k: usize, charges: &mut [i8]) -> Result<usize> {
        let mut charges_reset = false;
        loop {
            let line = self.line(k, "before 'M  END'")?;
            if line.starts_with("M  END") {
                return Ok(k + 1);
            }
            if let Some(rest) = line.strip_prefix("M  CHG") {
                if !charges_reset {
                    // M  CHG supersedes every charge of the atom block.
                    charges.iter_mut().for_each(|q| *q = 0);
                    charges_reset = true;
                }
                self.charge_line(k, rest, charges)?;
            } else if line.starts_with("A  ") || line.starts_with("G  ") {
                // Atom alias / group abbreviation: the next line belongs to this entry.
                k += 1;
            }
            k += 1;
        }
    }

    /// The entries of the `M  CHG` line `k` (`rest`: after the tag) into `charges`.
    fn charge_line(&self, k: usize, rest: &str, charges: &mut [i8]) -> Result<()> {
        let bad = |m: String| self.err(k, format!("bad 'M  CHG' line: {m}"));
        let values: Vec<i64> = rest
            .split_whitespace()
            .map(|t| {
                t.parse()
                    .map_err(|_| bad(format!("'{t}' is not an integer")))
            })
            .collect::<Result<_>>()?;
        let count = values.first().copied().unwrap_or(-1);
        if count < 0 || count as usize > values.len() || values.len() != 1 + 2 * count as usize {
            return Err(bad("the entry count does not match the entries".into()));
        }
        let n_atoms = charges.len();
        for pair in values[1..].chunks(2) {
            let (atom, q) = (pair[0], pair[1]);
            if atom < 1 || atom as usize > n_atoms {
                return Err(bad(format!(
                    "atom {atom} out of range (the record has {n_atoms} atoms)"
                )));
            }
            if !(-15..=15).contains(&q) {
                return Err(bad(format!("charge {q} outside -15..=15")));
            }
            charges[atom as usize - 1] = q as i8;
        }
        Ok(())
    }

    /// The data fields from line `k` up to `$$$$` or the end of the text; returns them and
    /// the line after the record.
    fn data_fields(&self, mut k: usize) -> Result<(BTreeMap<String, String>, usize)> {
        let lines = self.lines;
        let mut props = BTreeMap::new();
        while k < lines.len() {
            let line = lines[k];
            if line.trim_end() == "$$$$" {
                k += 1;
                break;
            }
            if line.trim().is_empty() {
                k += 1;
                continue;
            }
            if !line.starts_with('>') {
                let message =
                    format!("expected a data header '> <name>' or '$$$$', found '{line}'");
                return Err(self.err(k, message));
            }
            let name = line
                .find('<')
                .and_then(|a| line[a + 1..].rfind('>').map(|b| &line[a + 1..a + 1 + b]))
                .ok_or_else(|| self.err(k, format!("data header without '<name>': '{line}'")))?;
            let mut value: Vec<&str> = Vec::new();
            k += 1;
            while k < lines.len() && !lines[k].trim().is_empty() && lines[k].trim_end() != "$$$$" {
                value.push(lines[k].trim_end_matches('\r'));
                k += 1;
            }
            props.insert(name.to_string(), value.join("\n"));
        }
        Ok((props, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_clipped() {
        assert_eq!(columns("  1  2", 0, 3), Some("1"));
        assert_eq!(columns("  1  2", 3, 6), Some("2"));
        assert_eq!(columns("  1", 3, 6), Some(""));
        assert_eq!(columns("é", 0, 1), None);
    }

    #[test]
    fn charge_codes_map_both_ways() {
        let text = "t\n\n\n  3  0  0  0  0  0  0  0  0  0999 V2000\n\
            \x20   0.0000    0.0000    0.0000 N   0  3  0  0  0  0  0  0  0  0  0  0\n\
            \x20   1.0000    0.0000    0.0000 O   0  5  0  0  0  0  0  0  0  0  0  0\n\
            \x20   2.0000    0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n\
            M  END\n$$$$\n";
        let mols = parse_sdf(text, Path::new("t.sdf")).unwrap();
        assert_eq!(mols[0].charges, vec![1, -1, 0]);
        let again = parse_sdf(&format_sdf(&mols), Path::new("u.sdf")).unwrap();
        assert_eq!(again, mols);
    }
}
