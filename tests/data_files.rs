//! The committed reference data, read with the project's own readers: consistent atom counts,
//! finite values, labels where promised, identical atom order across the test files, and no
//! molecule in both training and test sets.

use std::collections::HashSet;
use std::path::PathBuf;

use concord::io::{read_extxyz, read_sdf};
use concord::{Frame, Molecule};

fn dir(tiny: bool) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/qm9-gfn2");
    if tiny {
        d.join("tiny")
    } else {
        d
    }
}

fn check_labelled(frames: &[Frame], what: &str) {
    assert!(!frames.is_empty(), "{what}: no frames");
    for (i, f) in frames.iter().enumerate() {
        f.validate()
            .unwrap_or_else(|e| panic!("{what} frame {i}: {e}"));
        let e = f
            .energy
            .unwrap_or_else(|| panic!("{what} frame {i}: no energy"));
        assert!(e.is_finite() && e < 0.0, "{what} frame {i}: energy {e}");
        let forces = f
            .forces
            .as_ref()
            .unwrap_or_else(|| panic!("{what} frame {i}: no forces"));
        assert_eq!(forces.len(), f.len());
        assert!(f.info.contains_key("mol"), "{what} frame {i}: no mol id");
        assert!(
            f.numbers.iter().all(|z| [1, 6, 7, 8, 9].contains(z)),
            "{what} frame {i}: elements {:?}",
            f.numbers
        );
    }
}

fn mol_ids(frames: &[Frame]) -> HashSet<String> {
    frames.iter().map(|f| f.info["mol"].clone()).collect()
}

fn check_set(tiny: bool) {
    let d = dir(tiny);
    let train_sdf: Vec<Molecule> = read_sdf(&d.join("train_structures.sdf.gz")).unwrap();
    let train = read_extxyz(&d.join("train_forces.extxyz.gz")).unwrap();
    check_labelled(&train, "train_forces");
    let test_sdf = read_sdf(&d.join("test_structures.sdf.gz")).unwrap();
    let test_forces = read_extxyz(&d.join("test_forces.extxyz.gz")).unwrap();
    check_labelled(&test_forces, "test_forces");
    let minima: Vec<Vec<Frame>> = ["test_pm6_min", "test_gfn2_min", "test_b3lyp"]
        .iter()
        .map(|n| {
            let f = read_extxyz(&d.join(format!("{n}.extxyz.gz"))).unwrap();
            check_labelled(&f, n);
            f
        })
        .collect();
    // Graphs: every molecule has bonds within range and at least one bond per heavy atom.
    for m in train_sdf.iter().chain(&test_sdf) {
        assert!(!m.bonds.is_empty(), "{}: no bonds", m.name);
        assert!(m.bonds.iter().all(|b| b.i < m.len() && b.j < m.len()));
        for (i, _) in m.numbers.iter().enumerate() {
            assert!(
                m.bonds.iter().any(|b| b.i == i || b.j == i),
                "{}: atom {i} unbonded",
                m.name
            );
        }
    }
    // The three test minima and the test graphs list the same molecules with the same atoms.
    assert_eq!(minima[0].len(), test_sdf.len());
    for k in 0..test_sdf.len() {
        for set in &minima {
            assert_eq!(
                set[k].numbers, test_sdf[k].numbers,
                "test molecule {k}: atom order differs"
            );
            assert_eq!(set[k].info["mol"], test_sdf[k].name);
        }
    }
    // Every reference minimum (PM6 for training and test, GFN2 and B3LYP for test) passes the
    // sanity check that screens generated structures: its bounds are no tighter than the data.
    let sane = |m: &Molecule, positions: &[[f64; 3]], what: &str| {
        let problems = concord::sanity::check(&m.numbers, &m.bonds, positions).unwrap();
        assert!(problems.is_empty(), "{what} {}: {problems:?}", m.name);
    };
    for m in train_sdf.iter().chain(&test_sdf) {
        sane(m, &m.positions, "PM6 minimum");
    }
    for (set, what) in minima[1..].iter().zip(["GFN2 minimum", "B3LYP minimum"]) {
        for (m, f) in test_sdf.iter().zip(set) {
            sane(m, &f.positions, what);
        }
    }
    // Split by molecule.
    let train_ids: HashSet<String> = train_sdf.iter().map(|m| m.name.clone()).collect();
    let test_ids: HashSet<String> = test_sdf.iter().map(|m| m.name.clone()).collect();
    assert!(
        train_ids.is_disjoint(&test_ids),
        "a molecule is in both train and test"
    );
    assert!(mol_ids(&train).is_subset(&train_ids));
    assert!(mol_ids(&test_forces).is_subset(&test_ids));
    // Each training frame has the atoms of its molecule's graph.
    let by_name: std::collections::HashMap<&str, &Molecule> =
        train_sdf.iter().map(|m| (m.name.as_str(), m)).collect();
    for f in &train {
        assert_eq!(f.numbers, by_name[f.info["mol"].as_str()].numbers);
    }
}

#[test]
fn tiny_set_is_consistent() {
    check_set(true);
}

#[test]
fn full_set_is_consistent() {
    check_set(false);
}

/// The `.extxyz.gz` files of `dir` whose names start with `prefix`, sorted.
fn extxyz_files(dir: &std::path::Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".extxyz.gz")
        })
        .collect();
    v.sort();
    v
}

/// The organic set: every training file (the bundled frames and each active-learning round)
/// and every test class file (the thermal MD frames included) is labelled; training frames
/// belong to training molecules and test frames to test molecules, with their atoms.
#[test]
fn organic_set_is_consistent() {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/organic-gfn2");
    let graphs = |name: &str| -> std::collections::HashMap<String, Vec<u8>> {
        read_sdf(&d.join(name))
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.numbers))
            .collect()
    };
    let (train, test) = (
        graphs("train_structures.sdf.gz"),
        graphs("test_structures.sdf.gz"),
    );
    assert!(train.keys().all(|k| !test.contains_key(k)));
    let mut files: Vec<(PathBuf, bool)> = extxyz_files(&d, "train_")
        .into_iter()
        .map(|p| (p, true))
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for group in ["druglike", "everyday"] {
        let classes = extxyz_files(&d.join("test").join(group), "");
        assert!(classes.len() >= 7, "{group}: {classes:?}");
        files.extend(classes.into_iter().map(|p| (p, false)));
    }
    for (path, is_train) in files {
        let what = path.display().to_string();
        let frames = read_extxyz(&path).unwrap();
        check_labelled(&frames, &what);
        let graphs = if is_train { &train } else { &test };
        for f in &frames {
            let mol = &f.info["mol"];
            let numbers = graphs
                .get(mol)
                .unwrap_or_else(|| panic!("{what}: molecule {mol} is not in its split"));
            assert_eq!(&f.numbers, numbers, "{what}: {mol}");
        }
    }
}
