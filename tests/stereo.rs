//! Stereochemistry against RDKit, an independent reader: SMILES marks, SDF 3D coordinates and
//! SDF atom parities give the configurations RDKit embedded (tests/data/stereo_rdkit.sdf,
//! written by scripts/data/stereo_fixture.py), and generation honours them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use concord::io::{parse_sdf, parse_smiles, read_sdf, read_text};
use concord::stereo::Stereo;
use concord::Molecule;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> Vec<Molecule> {
    read_sdf(&root().join("tests/data/stereo_rdkit.sdf")).unwrap()
}

fn mirrored(x: &[[f64; 3]]) -> Vec<[f64; 3]> {
    x.iter().map(|p| [-p[0], p[1], p[2]]).collect()
}

/// The molecules of SMILES strings.
fn molecules(smiles: &[&str]) -> Vec<Molecule> {
    smiles
        .iter()
        .map(|s| parse_smiles(s).unwrap().molecule)
        .collect()
}

/// Pipeline requests for `mols` with their stereo, molecule m seeded `seed + m`.
fn stereo_requests(mols: &[Molecule], seed: u64) -> Vec<concord::generate::GraphRequest<'_>> {
    (mols.iter().enumerate())
        .map(|(m, x)| concord::generate::GraphRequest {
            numbers: &x.numbers,
            bonds: &x.bonds,
            charges: &x.charges,
            stereo: &x.stereo,
            seed: seed + m as u64,
        })
        .collect()
}

fn pairs(m: &Molecule) -> BTreeSet<(usize, usize)> {
    m.bonds
        .iter()
        .map(|b| (b.i.min(b.j), b.i.max(b.j)))
        .collect()
}

/// RDKit's assigned (R/S) centres of a fixture record; lower-case (pseudo-asymmetric ring)
/// centres are not perceived by Concord.
fn rdkit_centres(m: &Molecule) -> BTreeSet<usize> {
    m.properties["rdkit_centres"]
        .split_whitespace()
        .filter(|c| c.ends_with(['R', 'S']))
        .map(|c| c[..c.len() - 1].parse().unwrap())
        .collect()
}

fn centre_atoms(s: &Stereo) -> BTreeSet<usize> {
    s.centres.iter().map(|t| t.centre).collect()
}

#[test]
fn smiles_marks_give_rdkits_configurations() {
    let (mut centres, mut bonds) = (0, 0);
    for rec in fixture() {
        let g = parse_smiles(&rec.name).unwrap().molecule;
        assert_eq!(g.numbers, rec.numbers, "{}", rec.name);
        assert_eq!(pairs(&g), pairs(&rec), "{}", rec.name);
        assert_eq!(centre_atoms(&g.stereo), rdkit_centres(&rec), "{}", rec.name);
        let (wc, wb) = g.stereo.check(&rec.positions);
        assert!(
            wc.is_empty() && wb.is_empty(),
            "{}: {wc:?} {wb:?}",
            rec.name
        );
        // The mirror image inverts every centre and keeps every double bond.
        let (mc, mb) = g.stereo.check(&mirrored(&rec.positions));
        assert_eq!(mc.len(), g.stereo.centres.len(), "{}", rec.name);
        assert!(mb.is_empty(), "{}", rec.name);
        centres += g.stereo.centres.len();
        bonds += g.stereo.double_bonds.len();
    }
    assert_eq!((centres, bonds), (18, 7));
}

#[test]
fn sdf_coordinates_and_parities_give_the_same_configurations() {
    for rec in fixture() {
        let smiles = parse_smiles(&rec.name).unwrap().molecule.stereo;
        assert_eq!(
            centre_atoms(&rec.stereo),
            centre_atoms(&smiles),
            "{}",
            rec.name
        );
        assert_eq!(rec.stereo.double_bonds.len(), smiles.double_bonds.len());
        let (wc, wb) = rec.stereo.check(&rec.positions);
        assert!(wc.is_empty() && wb.is_empty());
    }
    // Without coordinates (all zero), the reader takes RDKit's atom parities.
    for path in [
        "tests/data/stereo_rdkit.sdf",
        "data/qm9-gfn2/test_structures.sdf.gz",
    ] {
        let text = read_text(&root().join(path)).unwrap();
        let three_d = parse_sdf(&text, Path::new(path)).unwrap();
        let flat = parse_sdf(&zero_coordinates(&text), Path::new(path)).unwrap();
        let mut n = 0;
        for (a, b) in three_d.iter().zip(&flat) {
            assert_eq!(
                centre_atoms(&a.stereo),
                centre_atoms(&b.stereo),
                "{path} {}",
                a.name
            );
            assert!(b.stereo.double_bonds.is_empty());
            let (wrong, _) = b.stereo.check(&a.positions);
            assert!(wrong.is_empty(), "{path} {}: {wrong:?}", a.name);
            n += b.stereo.centres.len();
        }
        assert!(n >= 18, "{path}: {n} centres");
    }
}

/// A 2D depiction (RDKit's, z = 0): centres from its wedge bonds, double bonds from the drawing.
#[test]
fn a_2d_record_gives_centres_by_wedges_and_double_bonds_by_drawing() {
    let text = read_text(&root().join("tests/data/stereo_rdkit_2d.sdf")).unwrap();
    let flat = parse_sdf(&text, Path::new("2d")).unwrap();
    let three_d = fixture();
    assert_eq!(flat.len(), three_d.len());
    let (mut centres, mut bonds) = (0, 0);
    for (a, b) in three_d.iter().zip(&flat) {
        assert!(b.positions.iter().all(|p| p[2] == 0.0));
        assert_eq!(
            centre_atoms(&a.stereo),
            centre_atoms(&b.stereo),
            "{}",
            a.name
        );
        assert_eq!(
            a.stereo.double_bonds.len(),
            b.stereo.double_bonds.len(),
            "{}",
            a.name
        );
        let (wc, wb) = b.stereo.check(&a.positions);
        assert!(wc.is_empty() && wb.is_empty(), "{}: {wc:?} {wb:?}", a.name);
        centres += b.stereo.centres.len();
        bonds += b.stereo.double_bonds.len();
    }
    assert_eq!((centres, bonds), (18, 7));
}

/// The SDF text with every atom line's coordinates replaced by zeros.
fn zero_coordinates(text: &str) -> String {
    let mut out = String::new();
    let mut atoms_left = 0usize;
    let mut line_in_record = 0usize;
    for line in text.lines() {
        if line_in_record == 3 {
            atoms_left = line[..3].trim().parse().unwrap();
            out.push_str(line);
        } else if line_in_record > 3 && atoms_left > 0 {
            out.push_str(&format!(
                "{:10.4}{:10.4}{:10.4}{}",
                0.0,
                0.0,
                0.0,
                &line[30..]
            ));
            atoms_left -= 1;
        } else {
            out.push_str(line);
        }
        out.push('\n');
        line_in_record = if line == "$$$$" {
            0
        } else {
            line_in_record + 1
        };
    }
    out
}

/// Generation honours a molecule's stereo: every sample of a one-centre molecule comes out with
/// the specified configuration (mirrored when drawn as the other image), a wrong double bond
/// is a problem that ranks the sample last, and the CLI writes the configured structures.
#[test]
fn generated_structures_have_the_specified_configuration() {
    use concord::generate::SamplerOptions;
    use concord::generate::{best, generate_structures, PipelineModels, PipelineOptions};
    use concord::model::Precision;
    use concord::potential::{Device, Potential};
    let model = root().join("examples/models/concord-qm9-gfn2-multitask.concord");
    let pot = Potential::load(&model, Device::Cpu, Precision::Float32).unwrap();
    let smiles = [
        "C[C@H](N)C(=O)O",
        "N[C@H](C)C(=O)O",
        "C[C@@H](O)CC",
        "C/C=C/C(=O)O",
        "F/C=C\\F",
    ];
    let mols = molecules(&smiles);
    let requests = stereo_requests(&mols, 11);
    let opts = PipelineOptions {
        samples: 6,
        sampler: SamplerOptions::default(),
        relax: None,
        redraws: 0,
    };
    let out =
        generate_structures(PipelineModels::one(&pot), &requests, &opts, &mut |_| {}).unwrap();
    for ((mol, outcome), s) in mols.iter().zip(&out).zip(smiles) {
        let samples = outcome.as_ref().unwrap();
        for x in samples {
            let (centres, bonds) = mol.stereo.check(&x.positions);
            assert!(centres.is_empty(), "{s}: sample {} {centres:?}", x.index);
            let stereo_problems = x
                .problems
                .iter()
                .filter(|p| matches!(p, concord::sanity::Problem::DoubleBond { .. }))
                .count();
            assert_eq!(stereo_problems, bonds.len(), "{s}");
        }
        // A sample without problems (so with the right double bonds), if one was drawn, ranks
        // first.
        if samples.iter().any(|x| x.sane()) {
            let b = best(samples).unwrap();
            assert!(
                b.sane() && mol.stereo.check(&b.positions).1.is_empty(),
                "{s}"
            );
        }
    }
    // The CLI reads the marks and writes structures with the specified centre.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gen.extxyz");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_concord"))
        .args(["generate", "--model", model.to_str().unwrap()])
        .args([
            "--smiles",
            smiles[0],
            "--smiles",
            smiles[1],
            "--samples",
            "3",
            "--out",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let frames = concord::io::read_extxyz(&file).unwrap();
    assert_eq!(frames.len(), 6);
    for (f, mol) in frames
        .iter()
        .zip([&mols[0], &mols[0], &mols[0], &mols[1], &mols[1], &mols[1]])
    {
        assert!(mol.stereo.check(&f.positions).0.is_empty());
    }
}

/// Redrawing: a sample that gets a specified stereo element wrong after orientation is drawn
/// again and replaced only by a draw that gets fewer wrong; samples that were right are the
/// first draws, untouched; a replacement keeps its slot and carries its draw index (>= k).
#[test]
fn wrong_stereoisomers_are_redrawn() {
    use concord::generate::{generate_structures, PipelineModels, PipelineOptions};
    use concord::generate::{SamplerOptions, REDRAWS};
    use concord::model::Precision;
    use concord::potential::{Device, Potential};
    let model = root().join("examples/models/concord-generator.concord");
    let pot = Potential::load(&model, Device::Cpu, Precision::Float32).unwrap();
    let smiles = [
        "C[C@H]1C[C@@H](O)C[C@H](C)C1",
        "O[C@@H]1CC[C@H](N)CC1",
        "C/C=C/C=C\\C",
        "C[C@@H]1OC[C@H](C)O1",
        // A double bond in a ring, which orientation cannot turn: a trans draw is redrawn.
        "C1CCC/C=C\\CC1",
    ];
    let mols = molecules(&smiles);
    let requests = stereo_requests(&mols, 21);
    let k = 6;
    let run = |redraws| {
        let opts = PipelineOptions {
            samples: k,
            sampler: SamplerOptions::default(),
            relax: None,
            redraws,
        };
        generate_structures(PipelineModels::one(&pot), &requests, &opts, &mut |_| {}).unwrap()
    };
    let (first, redrawn) = (run(0), run(REDRAWS));
    let wrong = |m: &Molecule, x: &[[f64; 3]]| {
        let (c, b) = m.stereo.check(x);
        c.len() + b.len()
    };
    let (mut before, mut after, mut replaced) = (0, 0, 0);
    for (m, (a, b)) in mols.iter().zip(first.iter().zip(&redrawn)) {
        for (s, t) in a.as_ref().unwrap().iter().zip(b.as_ref().unwrap()) {
            let (w0, w1) = (wrong(m, &s.positions), wrong(m, &t.positions));
            (before, after) = (before + w0, after + w1);
            assert_eq!((s.index, s.draw), (t.index, s.index));
            if t.draw == t.index {
                assert_eq!(s.positions, t.positions);
            } else {
                assert!(
                    t.draw >= k && w0 > 0 && w1 < w0,
                    "{} -> {}",
                    s.index,
                    t.draw
                );
                replaced += 1;
            }
        }
    }
    eprintln!("wrong stereo elements: {before} -> {after}, {replaced} samples replaced");
    assert!(replaced > 0 && after < before);
}
