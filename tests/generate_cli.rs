//! `concord generate --smiles` end to end with the shipped generator model.

#[path = "common/native.rs"]
mod native;

use std::process::Command;

use native::root;

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn generator_model() -> String {
    root()
        .join("examples/models/concord-qm9-gfn2-multitask.concord")
        .display()
        .to_string()
}

#[test]
fn smiles_molecules_are_generated_with_all_hydrogens() {
    let dir = tempfile::tempdir().unwrap();
    // Into folders that do not exist yet: generate creates them.
    let out = dir.path().join("new/folder/gen.extxyz");
    let model = generator_model();
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        &model,
        "--smiles",
        "CCO",
        "--smiles",
        "c1ccncc1",
        "--smiles",
        "C[C@H](N)O",
        "--out",
        out.to_str().unwrap(),
        "--samples",
        "2",
    ]);
    assert!(ok, "{stderr}");
    // The mark of C[C@H](N)O is on a stereocentre: honoured, no warning.
    assert!(!stderr.contains("ignored"), "{stderr}");
    let centre = concord::io::parse_smiles("C[C@H](N)O")
        .unwrap()
        .molecule
        .stereo;
    assert_eq!(centre.centres.len(), 1);
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert_eq!(frames.len(), 6);
    let formula = |f: &concord::Frame| {
        let count = |z: u8| f.numbers.iter().filter(|&&x| x == z).count();
        (count(6), count(7), count(8), count(1))
    };
    assert_eq!(formula(&frames[0]), (2, 0, 1, 6)); // ethanol C2H6O
    assert_eq!(formula(&frames[2]), (5, 1, 0, 5)); // pyridine C5H5N
    assert_eq!(formula(&frames[4]), (2, 1, 1, 7)); // 1-aminoethanol C2H7NO
    assert_eq!(frames[0].info["mol"], "CCO");
    for f in &frames[4..] {
        assert!(centre.check(&f.positions).0.is_empty());
    }
    // A mark on an atom that is no stereocentre (two equal methyls) is named and ignored.
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        &model,
        "--smiles",
        "C[C@H](C)O",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        ok && stderr.contains("stereo marks are on no stereocentre"),
        "{stderr}"
    );
    for f in &frames {
        assert!(f.positions.iter().flatten().all(|x| x.is_finite()));
    }
}

#[test]
fn bad_smiles_and_conflicting_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen.extxyz");
    let out = out.to_str().unwrap();
    let model = generator_model();
    let (ok, stderr) = run(&[
        "generate", "--model", &model, "--smiles", "C1CC", "--out", out,
    ]);
    assert!(
        !ok && stderr.contains("'C1CC'") && stderr.contains("never closed"),
        "{stderr}"
    );
    let (ok, stderr) = run(&[
        "generate", "--model", &model, "--smiles", "C[Se]C", "--out", out,
    ]);
    assert!(!ok && stderr.contains("unknown element"), "{stderr}");
    let (ok, stderr) = run(&["generate", "--model", &model, "--out", out]);
    assert!(!ok && stderr.contains("--smiles"), "{stderr}");
    let sdf = root().join("data/qm9-gfn2/tiny/test_structures.sdf.gz");
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        &model,
        "--smiles",
        "C",
        "--graphs",
        sdf.to_str().unwrap(),
        "--out",
        out,
    ]);
    assert!(!ok && stderr.contains("cannot be used with"), "{stderr}");
    assert!(!std::path::Path::new(out).exists());
}

/// `--potential`: a dedicated potential relaxes and ranks the generator's samples; each
/// sample's energy is that potential's at the sample's positions, not the generator model's.
#[test]
fn a_dedicated_potential_relaxes_and_ranks() {
    use concord::model::evaluate::Request;
    use concord::model::Precision;
    use concord::potential::{Device, Potential};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen.extxyz");
    let potential = root().join("examples/models/concord-qm9-gfn2.concord");
    let model = generator_model();
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        &model,
        "--potential",
        potential.to_str().unwrap(),
        "--relax",
        "--smiles",
        "OCC(=O)N",
        "--samples",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert_eq!(frames.len(), 3);
    let load = |p: &std::path::Path| Potential::load(p, Device::Cpu, Precision::Float32).unwrap();
    let (pot, own) = (load(&potential), load(std::path::Path::new(&model)));
    let energy =
        |p: &Potential, f: &concord::Frame| p.compute_frame(f, Request::default()).unwrap().energy;
    for f in &frames {
        let e = f.energy.unwrap();
        assert!(
            (e - energy(&pot, f)).abs() < 1e-3,
            "{e} {}",
            energy(&pot, f)
        );
        assert!((e - energy(&own, f)).abs() > 0.1);
        assert_eq!(f.info["opt_converged"], "T");
    }
    // Rank 0 is the sane sample of lowest energy.
    let best = frames.iter().find(|f| f.info["rank"] == "0").unwrap();
    let lowest = frames
        .iter()
        .filter(|f| f.info["sane"] == "T")
        .map(|f| f.energy.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.energy.unwrap(), lowest);
    // The potential is an input: writing over it is refused.
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        &model,
        "--potential",
        potential.to_str().unwrap(),
        "--smiles",
        "CCO",
        "--out",
        potential.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("input"), "{stderr}");
}

/// The shipped generator (structure-only, `energy_trained: false`) with the shipped potential:
/// QM9-sized and larger everyday molecules (paracetamol, aspirin) come out sane at rank 0.
/// Without a potential it refuses to relax, saying what to do, and its raw samples carry no
/// energies.
#[test]
fn the_shipped_generator_relaxes_on_the_shipped_potential() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("examples/models/concord-generator.concord");
    let potential = root().join("examples/models/concord-qm9-gfn2.concord");
    let out = dir.path().join("gen.extxyz");
    let smiles = [
        "OCC(=O)N",
        "c1ccoc1",
        "CC(=O)Nc1ccc(O)cc1",
        "CC(=O)Oc1ccccc1C(=O)O",
    ];
    let mut args = vec!["generate", "--model", model.to_str().unwrap()];
    args.extend(["--potential", potential.to_str().unwrap(), "--relax"]);
    args.extend([
        "--samples",
        "4",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    for s in smiles {
        args.extend(["--smiles", s]);
    }
    let (ok, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let frames = concord::io::read_extxyz(&out).unwrap();
    let best: Vec<_> = frames.iter().filter(|f| f.info["rank"] == "0").collect();
    assert_eq!(best.len(), smiles.len());
    for f in best {
        assert_eq!(f.info["sane"], "T", "{:?}", f.info);
        assert!(f.energy.is_some());
    }
    let relax_alone = ["generate", "--model", model.to_str().unwrap(), "--relax"];
    let (ok, stderr) = run(&[
        &relax_alone[..],
        &["--smiles", "CCO", "--out"],
        &[out.to_str().unwrap()],
    ]
    .concat());
    assert!(
        !ok && stderr.contains("never trained") && stderr.contains("--potential"),
        "{stderr}"
    );
    let raw = dir.path().join("raw.extxyz");
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--smiles",
        "CCO",
        "--out",
        raw.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let frames = concord::io::read_extxyz(&raw).unwrap();
    assert!(frames.iter().all(|f| f.energy.is_none()));
}

#[test]
fn a_molecule_without_a_sane_sample_is_named_in_a_warning() {
    // The shipped generator breaks the samples of molecules above ~100 atoms
    // (docs/results.md#size); the pipeline joins such a molecule from generated pieces, cut at
    // acyclic bonds (a 122-atom chain comes out sane), but a 40-membered ring has no such bond.
    // The CLI still writes its samples, flagged, and names the molecule. Checked both ways: a
    // molecule is named exactly when none of its samples is sane.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen.extxyz");
    let model = root().join("examples/models/concord-generator.concord");
    let chain = "C".repeat(40);
    let ring = format!("C1{}C1", "C".repeat(38));
    let (ok, stderr) = run(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--smiles",
        "CCO",
        "--smiles",
        &chain,
        "--smiles",
        &ring,
        "--samples",
        "2",
        "--redraws",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let frames = concord::io::read_extxyz(&out).unwrap();
    assert_eq!(frames.len(), 6);
    let mut named = Vec::new();
    for (m, pair) in frames.chunks(2).enumerate() {
        let none_sane = pair.iter().all(|f| f.info["sane"] == "F");
        named.push(stderr.contains(&format!("warning: molecule {m} (")));
        assert_eq!(named[m], none_sane, "molecule {m}: {stderr}");
    }
    assert_eq!(named, [false, false, true], "{stderr}");
    assert!(stderr.contains("has no sane sample among 2"), "{stderr}");
}

/// A molecule of 41-80 atoms whose whole-molecule draws are still broken after the redraws gets
/// a last round joined from pieces (docs/results.md#joined-redraw): a 65-atom steroid ester
/// (organic test molecule chembl_drugs_0106) that the shipped generator breaks whole.
#[test]
fn broken_mid_sized_molecules_get_a_joined_redraw_round() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("examples/models/concord-generator.concord");
    let smiles = "C[C@]12CC[C@@H]3c4ccc(O)cc4CC[C@H]3[C@@H]1CC[C@@H]2OC(=O)CCC1CCCC1";
    let generate = |redraws: &str| {
        let out = dir.path().join(format!("gen-{redraws}.extxyz"));
        let (ok, stderr) = run(&[
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--smiles",
            smiles,
            "--samples",
            "4",
            "--seed",
            "2",
            "--redraws",
            redraws,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        concord::io::read_extxyz(&out).unwrap()
    };
    let sane = |frames: &[concord::Frame]| frames.iter().filter(|f| f.info["sane"] == "T").count();
    let (first, redrawn) = (generate("0"), generate("2"));
    assert_eq!(first[0].numbers.len(), 65);
    // Round 3 (after two whole-molecule rounds) numbers its draws from 3 k = 12.
    let joined: Vec<&concord::Frame> = (redrawn.iter())
        .filter(|f| f.info["draw"].parse::<usize>().unwrap() >= 12)
        .collect();
    assert!(!joined.is_empty(), "no joined draw kept");
    assert!(joined.iter().all(|f| f.info["sane"] == "T"));
    assert!(
        sane(&redrawn) > sane(&first),
        "{} vs {}",
        sane(&redrawn),
        sane(&first)
    );
}
