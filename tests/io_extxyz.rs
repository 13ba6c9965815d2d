//! Extended XYZ: round trips, the exact layout ASE writes, and one test per malformed input.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use concord::io::{format_extxyz, parse_extxyz, read_extxyz, read_text, write_extxyz};
use concord::Frame;

/// A periodic water-like frame with every label set; values have at most 10 decimals, so
/// they survive the 10-decimal position/force columns exactly.
fn labelled_frame() -> Frame {
    let mut info = BTreeMap::new();
    info.insert("config_type".to_string(), "bulk water".to_string());
    info.insert("temperature".to_string(), "300".to_string());
    info.insert("is_md".to_string(), "T".to_string());
    info.insert("quoted".to_string(), "say \"hi\" = ok".to_string());
    Frame {
        numbers: vec![8, 1, 1],
        positions: vec![
            [0.0, 0.0, 0.119262],
            [0.0, 0.763239, -0.477047],
            [-1.25, -0.763239, -0.477047],
        ],
        cell: Some([
            [5.0, 0.0, 0.0],
            [0.3, 6.0, 0.0],
            [0.1, 0.2, 7.123456789012345],
        ]),
        pbc: [true, true, false],
        energy: Some(-476.68210964126877),
        forces: Some(vec![
            [0.1, -0.2, 0.3],
            [-0.0123456789, 0.5, -0.25],
            [1e-10, -0.3, -0.05],
        ]),
        stress: Some([
            [0.01, 0.002, 0.003],
            [0.002, -0.02, 0.004],
            [0.003, 0.004, 1.234567890123e-5],
        ]),
        info,
    }
}

fn open_frame() -> Frame {
    Frame::new(vec![6, 17], vec![[0.0, 0.0, 0.0], [1.7654321, -2.0, 3.5]])
}

#[test]
fn round_trip_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let frames = vec![labelled_frame(), open_frame(), labelled_frame()];
    for name in ["frames.xyz", "frames.extxyz.gz"] {
        let path = dir.path().join(name);
        write_extxyz(&path, &frames).unwrap();
        assert_eq!(read_extxyz(&path).unwrap(), frames, "{name}");
    }
    // The string formatter and parser agree too.
    let text = format_extxyz(&frames);
    assert_eq!(parse_extxyz(&text, Path::new("x.xyz")).unwrap(), frames);
}

#[test]
fn round_trip_random_values_to_written_precision() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = 40;
    let frame = Frame {
        numbers: (0..n).map(|_| rng.gen_range(1..=18)).collect(),
        positions: (0..n)
            .map(|_| std::array::from_fn(|_| rng.gen_range(-50.0..50.0)))
            .collect(),
        energy: Some(rng.gen_range(-1e4..1e4)),
        forces: Some(
            (0..n)
                .map(|_| std::array::from_fn(|_| rng.gen_range(-5.0..5.0)))
                .collect(),
        ),
        ..Default::default()
    };
    let back = parse_extxyz(
        &format_extxyz(std::slice::from_ref(&frame)),
        Path::new("r.xyz"),
    )
    .unwrap();
    let back = &back[0];
    assert_eq!(back.numbers, frame.numbers);
    assert_eq!(
        back.energy, frame.energy,
        "energy is written at full precision"
    );
    let pairs = back.positions.iter().zip(&frame.positions).chain(
        back.forces
            .as_ref()
            .unwrap()
            .iter()
            .zip(frame.forces.as_ref().unwrap()),
    );
    for (a, b) in pairs {
        for d in 0..3 {
            assert!((a[d] - b[d]).abs() <= 5.1e-11, "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn writer_layout_matches_ase() {
    let text = format_extxyz(&[labelled_frame()]);
    let comment = text.lines().nth(1).unwrap();
    assert!(
        comment.starts_with(
            "Lattice=\"5.0 0.0 0.0 0.3 6.0 0.0 0.1 0.2 7.123456789012345\" \
             Properties=species:S:1:pos:R:3:forces:R:3 energy=-476.68210964126877 stress=\""
        ),
        "{comment}"
    );
    assert!(comment.ends_with(" pbc=\"T T F\""), "{comment}");
    assert!(
        comment.contains(" config_type=\"bulk water\" "),
        "{comment}"
    );
    assert!(
        comment.contains(r#" quoted="say \"hi\" = ok" "#),
        "{comment}"
    );
    let atom = text.lines().nth(2).unwrap();
    let cols: Vec<&str> = atom.split_whitespace().collect();
    assert_eq!(cols.len(), 7);
    assert_eq!(cols[0], "O");
    assert_eq!(cols[3], "0.1192620000");
    // An open frame: no Lattice, no forces column, pbc F F F.
    let text = format_extxyz(&[open_frame()]);
    assert_eq!(
        text.lines().nth(1).unwrap(),
        "Properties=species:S:1:pos:R:3 pbc=\"F F F\""
    );
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn parses_what_ase_writes() {
    // Layout of ase.io.write(..., format="extxyz") for a periodic frame with a
    // SinglePointCalculator (energy, forces, stress) and an info entry.
    let text = r#"2
Lattice="5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0" Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.5 stress="0.1 0.0 0.0 0.0 0.2 0.0 0.0 0.0 0.3" config_type=dimer pbc="T T T"
H        0.00000000       0.00000000       0.00000000       0.10000000       0.00000000       0.00000000
H        0.74000000       0.00000000       0.00000000      -0.10000000       0.00000000       0.00000000
"#;
    let frames = parse_extxyz(text, Path::new("ase.xyz")).unwrap();
    assert_eq!(frames.len(), 1);
    let f = &frames[0];
    assert_eq!(f.numbers, vec![1, 1]);
    assert_eq!(f.positions[1], [0.74, 0.0, 0.0]);
    assert_eq!(
        f.cell,
        Some([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    );
    assert_eq!(f.pbc, [true; 3]);
    assert_eq!(f.energy, Some(-1.5));
    assert_eq!(f.forces.as_ref().unwrap()[1], [-0.1, 0.0, 0.0]);
    assert_eq!(
        f.stress,
        Some([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, 0.3]])
    );
    assert_eq!(f.info.len(), 1);
    assert_eq!(f.info["config_type"], "dimer");
}

#[test]
fn plain_xyz_and_ase_variants() {
    // No Properties: species and positions; a free-text comment becomes bare keys (True).
    let text = "3\nwater molecule\nO 0 0 0\nH 0.76 0.59 0\nH -0.76 0.59 0\n\n\
                1\n\n8 1 2 3\n";
    let frames = parse_extxyz(text, Path::new("plain.xyz")).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].numbers, vec![8, 1, 1]);
    assert_eq!(frames[0].cell, None);
    assert_eq!(frames[0].pbc, [false; 3]);
    assert_eq!(frames[0].info["water"], "T");
    assert_eq!(frames[0].info["molecule"], "T");
    assert_eq!(frames[1].numbers, vec![8], "integer species");
    assert_eq!(frames[1].positions, vec![[1.0, 2.0, 3.0]]);

    // Lattice without pbc means periodic; Voigt stress; `force` alias; extra columns skipped;
    // spaces around '='; upper-case symbols capitalised as ASE does.
    let text = "2\n\
        Lattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:magmoms:R:1:force:R:3:tags:I:1 \
        stress=\"1 2 3 4 5 6\" energy = -3.25 free_energy=-3.3\n\
        CL 0 0 0 0.5 1 2 3 0\n\
        na 1 1 1 -0.5 -1 -2 -3 1\n";
    let f = &parse_extxyz(text, Path::new("v.xyz")).unwrap()[0];
    assert_eq!(f.numbers, vec![17, 11]);
    assert_eq!(f.pbc, [true; 3]);
    assert_eq!(f.energy, Some(-3.25));
    assert_eq!(
        f.stress,
        Some([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])
    );
    assert_eq!(f.forces.as_ref().unwrap()[1], [-1.0, -2.0, -3.0]);
    assert_eq!(f.info["free_energy"], "-3.3");
    assert_eq!(f.info.len(), 1);

    // CRLF line endings and `Z` in place of species.
    let text = "1\r\nProperties=Z:I:1:pos:R:3 pbc=\"F F F\"\r\n6 0 0 0\r\n";
    let f = &parse_extxyz(text, Path::new("z.xyz")).unwrap()[0];
    assert_eq!(f.numbers, vec![6]);
}

#[test]
fn gzip_files_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h2.xyz.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"2\n\nH 0 0 0\nH 0.74 0 0\n").unwrap();
    std::fs::write(&path, enc.finish().unwrap()).unwrap();
    let frames = read_extxyz(&path).unwrap();
    assert_eq!(frames[0].positions[1], [0.74, 0.0, 0.0]);
}

#[test]
fn truncated_gzip_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.xyz.gz");
    let text = format_extxyz(&vec![labelled_frame(); 50]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let bytes = enc.finish().unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let msg = read_text(&path).unwrap_err().to_string();
    assert!(
        msg.contains("cut.xyz.gz") && msg.contains("truncated gzip"),
        "{msg}"
    );
    // Garbage that is not gzip at all.
    std::fs::write(&path, b"not gzip at all").unwrap();
    let msg = read_extxyz(&path).unwrap_err().to_string();
    assert!(msg.contains("cut.xyz.gz") && msg.contains("gzip"), "{msg}");
}

/// Parses `text` as `bad.xyz` and checks the error names the file, `line` and `problem`.
fn assert_error(text: &str, line: usize, problem: &str) {
    let msg = parse_extxyz(text, Path::new("data/bad.xyz"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("data/bad.xyz:{line}: ")),
        "expected line {line}: {msg}"
    );
    assert!(msg.contains(problem), "expected '{problem}': {msg}");
}

#[test]
fn error_wrong_atom_count_line() {
    assert_error("two\n\nH 0 0 0\n", 1, "number of atoms");
    assert_error("2\n\nH 0 0 0\nH 1 0 0\n-1\n\n", 5, "found '-1'");
}

#[test]
fn error_truncated_frame() {
    assert_error(
        "1\n\nH 0 0 0\n3\n\nH 0 0 0\nH 1 0 0\n",
        4,
        "truncated frame",
    );
    assert_error("3\n\nH 0 0 0\n", 1, "only 1 atom lines");
    assert_error("2\n", 1, "no comment line");
}

#[test]
fn error_wrong_column_count() {
    let text = "2\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0 0 0 0\nH 1 0 0 0 0\n";
    assert_error(text, 4, "expected 7 columns");
    assert_error("1\n\nH 0 0\n", 3, "found 3");
}

#[test]
fn error_non_numeric_values() {
    assert_error(
        "1\n\nH 0 abc 0\n",
        3,
        "non-numeric value 'abc' in column pos",
    );
    let text = "1\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0 0 x 0\n";
    assert_error(text, 3, "'x' in column forces");
    assert_error(
        "1\nenergy=low\nH 0 0 0\n",
        2,
        "non-numeric value 'low' in energy",
    );
    assert_error(
        "1\nLattice=\"1 0 0 0 1 0 0 0\"\nH 0 0 0\n",
        2,
        "Lattice needs 9 numbers",
    );
    assert_error(
        "1\nstress=\"1 2 3 4\"\nH 0 0 0\n",
        2,
        "stress needs 9 or 6 numbers",
    );
}

#[test]
fn error_unknown_element() {
    assert_error("2\n\nH 0 0 0\nXx 1 0 0\n", 4, "unknown element 'Xx'");
    assert_error("1\n\n0 1 0 0\n", 3, "unknown element");
}

#[test]
fn error_unbalanced_quote() {
    assert_error(
        "1\nLattice=\"5 0 0 0 5 0 0 0 5 pbc=T\nH 0 0 0\n",
        2,
        "unbalanced quote",
    );
}

#[test]
fn error_bad_header_values() {
    assert_error("1\npbc=\"T T\"\nH 0 0 0\n", 2, "pbc must be three of T/F");
    assert_error("1\npbc=\"T T T\"\nH 0 0 0\n", 2, "no Lattice");
    assert_error(
        "1\nProperties=species:S:1:pos:X:3\nH 0 0 0\n",
        2,
        "unknown type 'X'",
    );
    assert_error("1\nProperties=species:S:1\nH\n", 2, "no pos column");
    assert_error("1\nProperties=pos:R:3\n0 0 0\n", 2, "no species column");
    assert_error(
        "1\nProperties=species:S:1:pos:R:2\nH 0 0\n",
        2,
        "must be R:3",
    );
}

#[test]
fn write_rejects_inconsistent_frames_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xyz");
    write_extxyz(&path, &[open_frame()]).unwrap();
    let mut bad = open_frame();
    bad.forces = Some(vec![[0.0; 3]]);
    let msg = write_extxyz(&path, &[bad]).unwrap_err().to_string();
    assert!(msg.contains("1 forces for 2 atoms"), "{msg}");
    let mut bad = open_frame();
    bad.pbc = [true; 3];
    assert!(write_extxyz(&path, &[bad]).is_err());
    assert_eq!(read_extxyz(&path).unwrap(), vec![open_frame()]);
}
