//! SDF / MOL V2000: round trips, the exact layout RDKit writes, and one test per malformed
//! input.

use std::collections::BTreeMap;
use std::path::Path;

use concord::io::{format_sdf, parse_sdf, read_sdf, write_sdf};
use concord::{Bond, Molecule};

/// Ethanol with hydrogens and a data field, in the layout of RDKit's `Chem.SDWriter`
/// (`Chem.AddHs(Chem.MolFromSmiles("CCO"))`, embedded, `_Name` and `energy` set), followed
/// by methylammonium (formal charge in the atom block and in `M  CHG`) without `$$$$`.
const RDKIT_SDF: &str = "ethanol
     RDKit          3D

  9  8  0  0  0  0  0  0  0  0999 V2000
   -0.8883    0.1670   -0.0273 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.4658   -0.4526   -0.0273 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.4101    0.5766    0.0227 O   0  0  0  0  0  0  0  0  0  0  0  0
   -1.6526   -0.6183    0.0351 H   0  0  0  0  0  0  0  0  0  0  0  0
   -1.0379    0.7690   -0.9388 H   0  0  0  0  0  0  0  0  0  0  0  0
   -0.9810    0.8364    0.8425 H   0  0  0  0  0  0  0  0  0  0  0  0
    0.6090   -1.0807   -0.9326 H   0  0  0  0  0  0  0  0  0  0  0  0
    0.5513   -1.1189    0.8559 H   0  0  0  0  0  0  0  0  0  0  0  0
    2.2948    0.1529    0.0206 H   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  2  3  1  0
  1  4  1  0
  1  5  1  0
  1  6  1  0
  2  7  1  0
  2  8  1  0
  3  9  1  0
M  END
>  <energy>  (1) 
-154.123

>  <smiles>  (1) 
CCO

$$$$
methylammonium
     RDKit          3D

  2  1  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.4900    0.0000    0.0000 N   0  3  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
M  CHG  1   2   1
M  END
";

fn ethanol_like() -> Molecule {
    let mut properties = BTreeMap::new();
    properties.insert("energy".to_string(), "-154.123".to_string());
    properties.insert("note".to_string(), "line one\nline two".to_string());
    properties.insert("empty".to_string(), String::new());
    Molecule {
        name: "ethanol (test)".to_string(),
        numbers: vec![6, 6, 8, 1],
        positions: vec![
            [-0.8883, 0.167, -0.0273],
            [0.4658, -0.4526, -0.0273],
            [1.4101, 0.5766, 0.0227],
            [-12.3456, 100.0, -999.9999],
        ],
        charges: vec![0, 1, -2, 0],
        bonds: vec![
            Bond {
                i: 0,
                j: 1,
                order: concord::BondOrder::Single,
            },
            Bond {
                i: 1,
                j: 2,
                order: concord::BondOrder::Double,
            },
            Bond {
                i: 3,
                j: 0,
                order: concord::BondOrder::Aromatic,
            },
        ],
        properties,
        stereo: Default::default(),
    }
}

fn charged_many() -> Molecule {
    // More than 8 charged atoms (two `M  CHG` lines) and a charge outside the atom-block
    // codes.
    let n = 11;
    Molecule {
        name: String::new(),
        numbers: vec![7; n],
        positions: (0..n).map(|i| [i as f64, 0.5, -0.25]).collect(),
        charges: (0..n).map(|i| if i == 10 { 5 } else { -1 }).collect(),
        bonds: vec![],
        properties: BTreeMap::new(),
        stereo: Default::default(),
    }
}

#[test]
fn round_trip_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mols = vec![ethanol_like(), charged_many(), ethanol_like()];
    for name in ["mols.sdf", "mols.sdf.gz"] {
        let path = dir.path().join(name);
        write_sdf(&path, &mols).unwrap();
        assert_eq!(read_sdf(&path).unwrap(), mols, "{name}");
    }
    assert_eq!(
        parse_sdf(&format_sdf(&mols), Path::new("m.sdf")).unwrap(),
        mols
    );
}

#[test]
fn parses_what_rdkit_writes() {
    let mols = parse_sdf(RDKIT_SDF, Path::new("rdkit.sdf")).unwrap();
    assert_eq!(mols.len(), 2);
    let m = &mols[0];
    assert_eq!(m.name, "ethanol");
    assert_eq!(m.numbers, vec![6, 6, 8, 1, 1, 1, 1, 1, 1]);
    assert_eq!(m.positions[2], [1.4101, 0.5766, 0.0227]);
    assert_eq!(m.charges, vec![0; 9]);
    assert_eq!(m.bonds.len(), 8);
    assert_eq!(
        m.bonds[1],
        Bond {
            i: 1,
            j: 2,
            order: concord::BondOrder::Single
        }
    );
    assert_eq!(
        m.bonds[7],
        Bond {
            i: 2,
            j: 8,
            order: concord::BondOrder::Single
        }
    );
    assert_eq!(m.properties["energy"], "-154.123");
    assert_eq!(m.properties["smiles"], "CCO");
    let m = &mols[1];
    assert_eq!(m.name, "methylammonium");
    assert_eq!(m.charges, vec![0, 1]);
    assert!(m.properties.is_empty());
}

#[test]
fn writer_layout_matches_rdkit() {
    let mols = parse_sdf(RDKIT_SDF, Path::new("rdkit.sdf")).unwrap();
    let text = format_sdf(&mols);
    let ours: Vec<&str> = text.lines().collect();
    let theirs: Vec<&str> = RDKIT_SDF.lines().collect();
    // Everything but the program lines, the data headers' "(1)" suffix and the final `$$$$`
    // (absent in the input) is byte-identical.
    assert_eq!(ours[1], "  Concord           3D");
    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if k == 1 || k == 30 {
            continue;
        }
        let b = if b.starts_with(">  <") {
            b.split("  (").next().unwrap().to_string()
        } else {
            b.to_string()
        };
        assert_eq!(*a, b, "line {}", k + 1);
    }
    assert_eq!(ours.len(), theirs.len() + 1);
    assert_eq!(ours.last(), Some(&"$$$$"));
}

#[test]
fn m_chg_overrides_the_atom_block() {
    // Atom block says +1 on both atoms; M  CHG sets atom 1 to -1 and resets atom 2.
    let text = "x\n\n\n  2  0  0  0  0  0  0  0  0  0999 V2000\n\
        \x20   0.0000    0.0000    0.0000 O   0  3  0  0  0  0  0  0  0  0  0  0\n\
        \x20   1.0000    0.0000    0.0000 O   0  3  0  0  0  0  0  0  0  0  0  0\n\
        M  CHG  1   1  -1\nM  ISO  1   2  18\nM  END\n";
    let m = &parse_sdf(text, Path::new("x.sdf")).unwrap()[0];
    assert_eq!(m.charges, vec![-1, 0]);
}

#[test]
fn trailing_whitespace_and_crlf() {
    let text = RDKIT_SDF.replace('\n', "\r\n") + "\r\n\r\n";
    let mols = parse_sdf(&text, Path::new("crlf.sdf")).unwrap();
    assert_eq!(mols, parse_sdf(RDKIT_SDF, Path::new("rdkit.sdf")).unwrap());
    assert!(parse_sdf("", Path::new("e.sdf")).unwrap().is_empty());
}

/// Parses `text` as `bad.sdf` and checks the error names the file, `line` and `problem`.
fn assert_error(text: &str, line: usize, problem: &str) {
    let msg = parse_sdf(text, Path::new("in/bad.sdf"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("in/bad.sdf:{line}: ")),
        "expected line {line}: {msg}"
    );
    assert!(msg.contains(problem), "expected '{problem}': {msg}");
}

/// A 3-atom record (O, H, H) with the given bond lines.
fn with_bonds(bonds: &[&str]) -> String {
    let mut s = format!(
        "water\n\n\n  3{:3}  0  0  0  0  0  0  0  0999 V2000\n",
        bonds.len()
    );
    s += "    0.0000    0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n";
    s += "    0.9600    0.0000    0.0000 H   0  0  0  0  0  0  0  0  0  0  0  0\n";
    s += "   -0.2400    0.9300    0.0000 H   0  0  0  0  0  0  0  0  0  0  0  0\n";
    for b in bonds {
        s += b;
        s += "\n";
    }
    s + "M  END\n$$$$\n"
}

#[test]
fn valid_helper_record_parses() {
    let m = &parse_sdf(
        &with_bonds(&["  1  2  1  0", "  1  3  1  0"]),
        Path::new("w.sdf"),
    )
    .unwrap()[0];
    assert_eq!(m.bonds.len(), 2);
}

#[test]
fn error_bond_index_out_of_range() {
    assert_error(
        &with_bonds(&["  1  2  1  0", "  1  4  1  0"]),
        9,
        "bond to atom 4 out of range",
    );
    assert_error(
        &with_bonds(&["  0  2  1  0"]),
        8,
        "bond to atom 0 out of range",
    );
}

#[test]
fn error_self_bond() {
    assert_error(&with_bonds(&["  2  2  1  0"]), 8, "self-bond on atom 2");
}

#[test]
fn error_duplicate_bond() {
    assert_error(
        &with_bonds(&["  1  2  1  0", "  2  1  2  0"]),
        9,
        "duplicate bond between atoms 2 and 1",
    );
}

#[test]
fn error_bond_order() {
    assert_error(
        &with_bonds(&["  1  2  5  0"]),
        8,
        "bond order 5 outside 1..=4",
    );
    assert_error(&with_bonds(&["  1  2  x  0"]), 8, "bond order");
}

#[test]
fn error_unknown_element() {
    let text = with_bonds(&[]).replacen(" H   0", " Xx  0", 1);
    assert_error(&text, 6, "unknown element 'Xx'");
}

#[test]
fn error_bad_coordinate() {
    let text = with_bonds(&[]).replacen("    0.9600", "    0.9a00", 1);
    assert_error(&text, 6, "x coordinate");
}

#[test]
fn error_truncated_record() {
    let full = with_bonds(&["  1  2  1  0"]);
    let cut: String = full.lines().take(6).map(|l| format!("{l}\n")).collect();
    assert_error(&cut, 6, "truncated record");
    assert_error(
        &format!("{full}next\n\n"),
        12,
        "truncated record (starting at line 11)",
    );
    let no_end = full.replace("M  END\n", "");
    assert_error(&no_end, 9, "'$$$$' before 'M  END'");
}

#[test]
fn error_bad_counts_line() {
    let text = with_bonds(&[]).replacen("  3  0  0", " x3  0  0", 1);
    assert_error(&text, 4, "no atom count");
    let text = with_bonds(&[]).replacen("V2000", "     ", 1);
    assert_error(&text, 4, "bad counts line");
    let v3000 = "m\n  RDKit 3D\n\n  0  0  0  0  0  0  0  0  0  0999 V3000\nM  V30 BEGIN CTAB\n";
    assert_error(v3000, 4, "unsupported V3000");
}

#[test]
fn error_bad_data_and_properties() {
    let text = with_bonds(&[]).replace("M  END\n", "M  END\nstray text\n");
    assert_error(&text, 9, "expected a data header");
    let text = with_bonds(&[]).replace("M  END\n", "M  END\n> energy\n1\n\n");
    assert_error(&text, 9, "without '<name>'");
    let text = with_bonds(&[]).replace("M  END\n", "M  CHG  2   1  -1\nM  END\n");
    assert_error(&text, 8, "bad 'M  CHG' line");
    let text = with_bonds(&[]).replace("M  END\n", "M  CHG  1   7  -1\nM  END\n");
    assert_error(&text, 8, "atom 7 out of range");
}

#[test]
fn write_rejects_invalid_molecules_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.sdf");
    write_sdf(&path, &[ethanol_like()]).unwrap();
    let mut bad = ethanol_like();
    bad.bonds.push(Bond {
        i: 0,
        j: 9,
        order: concord::BondOrder::Single,
    });
    assert!(write_sdf(&path, &[bad])
        .unwrap_err()
        .to_string()
        .contains("invalid bond"));
    let mut bad = ethanol_like();
    bad.numbers[0] = 200; // not an element
    assert!(write_sdf(&path, &[bad]).is_err());
    let mut bad = ethanol_like();
    bad.charges.pop();
    assert!(write_sdf(&path, &[bad]).is_err());
    assert_eq!(read_sdf(&path).unwrap(), vec![ethanol_like()]);
}
