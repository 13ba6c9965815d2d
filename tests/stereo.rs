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

/// RDKit's assigned centres of a fixture record: R/S, and r/s (pseudo-asymmetric ring
/// centres, which Concord perceives as ring centres relative to one another).
fn rdkit_centres(m: &Molecule) -> BTreeSet<usize> {
    m.properties["rdkit_centres"]
        .split_whitespace()
        .map(|c| c[..c.len() - 1].parse().unwrap())
        .collect()
}

/// The number of centres of `s` that count on their own (a mirror image inverts them).
fn absolute_centres(s: &Stereo) -> usize {
    s.centres.iter().filter(|t| t.relative_to.is_none()).count()
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
        // The mirror image inverts every centre that counts on its own and keeps every
        // double bond and every relative configuration of ring centres.
        let (mc, mb) = g.stereo.check(&mirrored(&rec.positions));
        assert_eq!(mc.len(), absolute_centres(&g.stereo), "{}", rec.name);
        assert!(mb.is_empty(), "{}", rec.name);
        centres += g.stereo.centres.len();
        bonds += g.stereo.double_bonds.len();
    }
    assert_eq!((centres, bonds), (36, 7));
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
            // RDKit writes no parity for some ring centres a cage fixes (e.g. a bridgehead
            // C(OH) of an azabicyclo[1.1.1]pentane), which coordinates give.
            let absolute = |s: &Stereo| -> BTreeSet<usize> {
                let t = s.centres.iter().filter(|t| t.relative_to.is_none());
                t.map(|t| t.centre).collect()
            };
            assert_eq!(
                absolute(&a.stereo),
                absolute(&b.stereo),
                "{path} {}",
                a.name
            );
            assert!(
                centre_atoms(&b.stereo).is_subset(&centre_atoms(&a.stereo)),
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
    assert_eq!((centres, bonds), (36, 7));
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

/// Which face of ring `ring` (atoms in ring order) each ring centre of `centres` turns its
/// first exocyclic neighbour (by index) to, relative to its second, at `x`: +1 or -1 each. The
/// face at a ring atom is the normal `(x_next - x_c) x (x_prev - x_c)`, taken in ring order,
/// so it is the same face all round the ring (up to one common sign).
fn ring_sides(m: &Molecule, ring: &[usize], centres: &[usize], x: &[[f64; 3]]) -> Vec<f64> {
    use nalgebra::Vector3;
    let v = |a: usize| Vector3::from(x[a]);
    let exocyclic = |a: usize| -> Vec<usize> {
        let mut out: Vec<usize> = (m.bonds.iter())
            .filter_map(|b| (b.i == a).then_some(b.j).or((b.j == a).then_some(b.i)))
            .filter(|n| !ring.contains(n))
            .collect();
        out.sort_unstable();
        out
    };
    centres
        .iter()
        .map(|&c| {
            let k = ring.iter().position(|&a| a == c).unwrap();
            let (prev, next) = (
                ring[(k + ring.len() - 1) % ring.len()],
                ring[(k + 1) % ring.len()],
            );
            let face = (v(next) - v(c)).cross(&(v(prev) - v(c)));
            let [p, q] = exocyclic(c)[..] else {
                panic!("centre {c} has no two exocyclic neighbours")
            };
            (v(p) - v(q)).dot(&face).signum()
        })
        .collect()
}

/// Ring cis/trans (1,4- and 1,3-disubstituted rings, 1,3,5-trimethylcyclohexane): generated
/// samples have the relative configuration of RDKit's embedding of the same SMILES, judged by
/// which face of the ring each substituent takes (an independent referee), and Concord's own
/// check agrees with the referee on every sample.
#[test]
fn ring_cis_trans_substituents_are_generated_as_specified() {
    use concord::generate::{generate_structures, PipelineModels, PipelineOptions, SamplerOptions};
    use concord::model::Precision;
    use concord::potential::{Device, Potential};
    // (SMILES of a fixture record, its ring atoms in ring order, its ring centres)
    let cases: [(&str, &[usize], &[usize]); 5] = [
        ("O[C@@H]1CC[C@H](C)CC1", &[1, 2, 3, 4, 6, 7], &[1, 4]),
        ("C[C@H]1CC[C@H](C)CC1", &[1, 2, 3, 4, 6, 7], &[1, 4]),
        ("C[C@H]1CC[C@@H](C)CC1", &[1, 2, 3, 4, 6, 7], &[1, 4]),
        ("C#C[C@]1(C)C[C@H](C=O)C1", &[2, 4, 5, 8], &[2, 5]),
        (
            "C[C@H]1C[C@@H](C)C[C@@H](C)C1",
            &[1, 2, 3, 5, 6, 8],
            &[1, 3, 6],
        ),
    ];
    let fixture = fixture();
    let model = root().join("examples/models/concord-generator.concord");
    let pot = Potential::load(&model, Device::Cpu, Precision::Float32).unwrap();
    let mols = molecules(&cases.map(|c| c.0));
    let requests = stereo_requests(&mols, 5);
    let opts = PipelineOptions {
        samples: 6,
        sampler: SamplerOptions::default(),
        relax: None,
        redraws: concord::generate::REDRAWS,
    };
    let out = generate_structures(PipelineModels::one(&pot), &requests, &opts, &mut |_| {});
    let (mut right, mut total) = (0, 0);
    for ((mol, outcome), (smiles, ring, centres)) in mols.iter().zip(out.unwrap()).zip(cases) {
        let rec = fixture.iter().find(|r| r.name == smiles).unwrap();
        assert_eq!(mol.stereo.centres.len(), centres.len(), "{smiles}");
        let reference = ring_sides(mol, ring, centres, &rec.positions);
        let relation = |s: &[f64]| s.iter().map(|v| v * s[0]).collect::<Vec<f64>>();
        for x in outcome.unwrap() {
            let ok =
                relation(&ring_sides(mol, ring, centres, &x.positions)) == relation(&reference);
            assert_eq!(
                ok,
                mol.stereo.check(&x.positions).0.is_empty(),
                "{smiles} {}",
                x.index
            );
            (right, total) = (right + ok as usize, total + 1);
        }
    }
    eprintln!("ring cis/trans right in {right} of {total} samples");
    assert!(right * 10 >= total * 9, "{right} of {total}");
}
