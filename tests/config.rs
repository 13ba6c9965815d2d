//! Training configs: every shipped config (configs/**/*.toml) parses and names files that
//! exist; every file in tests/configs/bad fails with the message given on its first line
//! (`# error: ...`).

#![cfg(feature = "torch")]

use std::path::Path;

use concord::train::Config;

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(dir);
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The `.toml` files under `dir`, recursively, sorted.
fn tomls(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tomls(&path));
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_shipped_config_loads_and_names_existing_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = tomls(&root.join("configs"));
    assert!(shipped.len() >= 8, "{shipped:?}");
    for path in shipped {
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for d in &config.dataset {
            assert!(
                d.path.exists(),
                "{}: dataset {}",
                path.display(),
                d.path.display()
            );
        }
        // An init model is shipped, or made by the previous step of an experiment's chain
        // (under runs/, named in the config's header).
        if let Some(init) = &config.training.init {
            let made_earlier = init.starts_with(root.join("runs"));
            assert!(
                init.exists() || made_earlier,
                "{}: init {}",
                path.display(),
                init.display()
            );
        }
    }
}

#[test]
fn bad_configs_fail_with_their_message() {
    let bad = files("bad");
    assert!(bad.len() >= 10);
    for path in bad {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# error: ")
            .expect("first line: # error: ...");
        let err = Config::parse(&text, &path)
            .err()
            .unwrap_or_else(|| panic!("{} should fail", path.display()));
        let msg = err.to_string();
        assert!(
            msg.contains(expected),
            "{}:\n  expected: {expected}\n  got: {msg}",
            path.display()
        );
        assert!(
            msg.contains(path.file_name().unwrap().to_str().unwrap()),
            "error must name the file: {msg}"
        );
    }
}

#[test]
fn a_repeated_dataset_lists_its_training_frames_repeat_times_and_validation_once() {
    use concord::model::{Model, ModelConfig, Precision};
    use concord::train::datasets;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = |repeat: usize| {
        let mut config = Config::load(&root.join("configs/tiny.toml")).unwrap();
        config.dataset[0].repeat = repeat;
        let raw = datasets::read(&config).unwrap();
        let model_config = ModelConfig {
            elements: datasets::elements(&raw),
            encoder: config.model,
            generator: None,
        };
        let model = Model::new(model_config, tch::Device::Cpu, Precision::Float32).unwrap();
        let samples = datasets::samples(&raw, &model, false).unwrap();
        let t = &config.training;
        let (train, val) = datasets::split(samples, t.validation_fraction, t.seed);
        let names = |s: &datasets::Samples| {
            let mut v: Vec<String> = s.potential.iter().map(|x| x.molecule.clone()).collect();
            v.sort();
            v
        };
        (names(&train), names(&val))
    };
    let (train1, val1) = sets(1);
    let (train3, val3) = sets(3);
    assert!(!train1.is_empty() && !val1.is_empty());
    assert_eq!(val3, val1);
    let tripled: Vec<String> = train1.iter().flat_map(|m| [m, m, m]).cloned().collect();
    assert_eq!(train3, tripled);
}

#[test]
fn a_repeated_structure_dataset_lists_its_training_molecules_repeat_times() {
    use concord::model::{Model, ModelConfig, Precision};
    use concord::train::datasets;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = |repeat: usize| {
        let mut config = Config::load(&root.join("configs/tiny-generator.toml")).unwrap();
        let d = config
            .dataset
            .iter_mut()
            .find(|d| d.tasks.contains(&concord::train::config::Task::Structure))
            .unwrap();
        d.repeat = repeat;
        let raw = datasets::read(&config).unwrap();
        let model_config = ModelConfig {
            elements: datasets::elements(&raw),
            encoder: config.model,
            generator: config
                .generator
                .as_ref()
                .map(concord::train::config::GeneratorTrainConfig::model_config),
        };
        let model = Model::new(model_config, tch::Device::Cpu, Precision::Float32).unwrap();
        let samples = datasets::samples(&raw, &model, false).unwrap();
        let t = &config.training;
        let (train, val) = datasets::split(samples, t.validation_fraction, t.seed);
        let names = |s: &datasets::Samples| {
            let mut v: Vec<String> = s.structures.iter().map(|x| x.molecule.clone()).collect();
            v.sort();
            v
        };
        (names(&train), names(&val))
    };
    let (train1, val1) = sets(1);
    let (train2, val2) = sets(2);
    assert!(!train1.is_empty() && !val1.is_empty());
    assert_eq!(val2, val1);
    let doubled: Vec<String> = train1.iter().flat_map(|m| [m, m]).cloned().collect();
    assert_eq!(train2, doubled);
}

#[test]
fn configs_select_frames_by_their_config_key() {
    use concord::train::datasets;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |configs: Option<Vec<String>>| {
        let mut config = Config::load(&root.join("configs/tiny.toml")).unwrap();
        config.dataset[0].configs = configs;
        datasets::read(&config)
    };
    let all = read(None).unwrap().frames;
    let minima = read(Some(vec!["pm6_min".into()])).unwrap().frames;
    let kind = |f: &concord::Frame| f.info.get("config").cloned().unwrap_or_default();
    let expected: Vec<_> = all.iter().filter(|f| kind(f) == "pm6_min").collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    assert_eq!(minima.len(), expected.len());
    assert!(minima.iter().zip(&expected).all(|(a, b)| a == *b));
    let both = read(Some(vec!["pm6_min".into(), "thermal".into()])).unwrap();
    assert_eq!(both.frames.len(), all.len());
    let msg = read(Some(vec!["gfn2_minimum".into()]))
        .err()
        .expect("a selection of no frame is refused")
        .to_string();
    assert!(
        msg.contains("no frame has a `config` in [\"gfn2_minimum\"]"),
        "{msg}"
    );
}

#[test]
fn groups_select_molecules_by_their_group_field() {
    use concord::train::datasets;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sdf = root.join("data/organic-gfn2/train_structures.sdf.gz");
    let read = |groups: Option<Vec<String>>| {
        let mut config = Config::load(&root.join("configs/tiny-generator.toml")).unwrap();
        config
            .dataset
            .retain(|d| d.path.to_string_lossy().ends_with(".sdf.gz"));
        config.dataset[0].path = sdf.clone();
        config.dataset[0].groups = groups;
        datasets::read(&config)
    };
    let all = concord::io::read_sdf(&sdf).unwrap();
    let druglike: Vec<_> = all
        .iter()
        .filter(|m| m.properties.get("group").map(String::as_str) == Some("druglike"))
        .collect();
    assert!(!druglike.is_empty());
    let kept = read(Some(vec!["druglike".into()])).unwrap().molecules;
    assert_eq!(kept.len(), druglike.len());
    assert!(kept.iter().zip(&druglike).all(|(a, b)| a == *b));
    assert_eq!(read(None).unwrap().molecules.len(), all.len());
    let msg = read(Some(vec!["huge".into()]))
        .err()
        .expect("a selection of no molecule is refused")
        .to_string();
    assert!(
        msg.contains("no molecule has a `group` in [\"huge\"]"),
        "{msg}"
    );
}
