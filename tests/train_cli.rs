//! Training end to end on the tiny bundled dataset: train, eval, inspect, a deterministic
//! interruption that resumes to the same model, resume after `kill -9`, and overfitting a
//! handful of frames.

#![cfg(feature = "torch")]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_concord");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The run folder of [`tiny_config`] inside `dir`: two levels that do not exist yet, so every
/// training test also checks that the trainer creates missing output folders.
fn run_dir(dir: &Path) -> PathBuf {
    dir.join("not-yet/run")
}

/// The tiny config with its output in [`run_dir`] and the given overrides (`key = value` lines
/// replacing the same key).
fn tiny_config(dir: &Path, overrides: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    text = text.replace(
        "output = \"../runs/tiny\"",
        &format!("output = \"{}\"", run_dir(dir).display()),
    );
    text = text.replace("\"../data/", &format!("\"{}/data/", root().display()));
    for (k, v) in overrides {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{k} =")))
            .unwrap()
            .to_string();
        text = text.replace(&line, &format!("{k} = {v}"));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn metric_epochs(run_dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn train_eval_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), &[]);
    let (ok, stdout, stderr) = run(&["train", "--config", config.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["epochs"], 3);
    let run_dir = run_dir(dir.path());
    for f in [
        "model.concord",
        "best.concord",
        "last.concord",
        "checkpoint.safetensors",
        "learning_curve.png",
        "parity.png",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing");
    }
    assert_eq!(metric_epochs(&run_dir), vec![1, 2, 3]);
    let model = run_dir.join("model.concord");
    let test = root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz");
    let (ok, stdout, stderr) = run(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--data",
        test.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let m: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let m = &m[test.to_str().unwrap()];
    assert!(
        m["force_mae"].as_f64().unwrap().is_finite()
            && m["n_force_components"].as_u64().unwrap() > 0
    );
    let (ok, stdout, _) = run(&["inspect", model.to_str().unwrap()]);
    assert!(ok);
    let meta: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(meta["format"], "concord-model");
    assert_eq!(meta["receptive_field"], 8.0);
    assert_eq!(meta["training"]["epochs_run"], 3);
    // Re-running a finished training does not train again.
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok && stderr.contains("resuming"), "{stderr}");
    assert_eq!(metric_epochs(&run_dir), vec![1, 2, 3]);
}

/// Energy and forces of a test molecule with the model at `path` (native runtime, float64).
fn predict(path: &Path) -> (f64, Vec<[f64; 3]>) {
    use concord::model::{evaluate::Request, Precision};
    use concord::potential::{Device, Potential};
    let pot = Potential::load(path, Device::Cpu, Precision::Float64).unwrap();
    let data = root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz");
    let frame = concord::io::read_extxyz(&data).unwrap().remove(0);
    let request = Request {
        forces: true,
        ..Request::default()
    };
    let p = pot.compute_frame(&frame, request).unwrap();
    (p.energy, p.forces.unwrap())
}

/// A run stopped after a given optimiser step (as an interruption would stop it) resumes
/// from its checkpoint and ends with exactly the model of an uninterrupted run.
#[test]
fn an_interrupted_run_resumes_to_the_same_model() {
    interrupted_run_resumes_to_the_same_model(&[("epochs", "3")]);
}

/// The same with an EMA of the parameters (its averages are checkpointed too), and the EMA
/// model differs from the plain one.
#[test]
fn an_interrupted_run_with_ema_resumes_to_the_same_model() {
    let ema = [
        ("epochs", "3"),
        ("checkpoint_minutes", "0.05\nema_decay = 0.9"),
    ];
    let with = interrupted_run_resumes_to_the_same_model(&ema);
    let without = interrupted_run_resumes_to_the_same_model(&[("epochs", "3")]);
    assert_ne!(with, without);
}

/// The same with the native gradient (its state is the optimiser's, checkpointed as before).
#[test]
fn an_interrupted_native_gradient_run_resumes_to_the_same_model() {
    let native = [
        ("epochs", "3"),
        ("checkpoint_minutes", "0.05\ngradient = \"native\""),
    ];
    interrupted_run_resumes_to_the_same_model(&native);
}

/// Trains the tiny config with `overrides` whole and interrupted mid-epoch; both end with the
/// same model, whose prediction is returned.
fn interrupted_run_resumes_to_the_same_model(overrides: &[(&str, &str)]) -> (f64, Vec<[f64; 3]>) {
    use concord::train::{train, Config, Trainer};
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole = Config::load(&tiny_config(a.path(), overrides)).unwrap();
    let parts = Config::load(&tiny_config(b.path(), overrides)).unwrap();
    train(&whole, false).unwrap();
    let mut trainer = Trainer::new(&parts, false).unwrap();
    let n = trainer.batches_per_epoch();
    assert!(n >= 2, "{n} batches per epoch");
    // Stop in the middle of epoch 2.
    assert!(!trainer.run_batches(n + n / 2).unwrap());
    drop(trainer);
    let dir = run_dir(b.path());
    assert_eq!(metric_epochs(&dir), vec![1]);
    assert!(dir.join("checkpoint.safetensors").exists() && !dir.join("model.concord").exists());
    train(&parts, false).unwrap();
    assert_eq!(metric_epochs(&dir), vec![1, 2, 3]);
    let want = predict(&run_dir(a.path()).join("model.concord"));
    assert_eq!(predict(&dir.join("model.concord")), want);
    assert_eq!(
        predict(&dir.join("last.concord")),
        predict(&run_dir(a.path()).join("last.concord"))
    );
    want
}

/// The CLI after `kill -9` (wherever it lands): the next run resumes and completes.
#[test]
fn resumes_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), &[("epochs", "4")]);
    let run_dir = run_dir(dir.path());
    let mut child = Command::new(BIN)
        .args(["train", "--config", config.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the first epoch's checkpoint exists; the kill may land anywhere after it.
    let t0 = std::time::Instant::now();
    while metric_epochs(&run_dir).is_empty() && t0.elapsed().as_secs() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(metric_epochs(&run_dir), (1..=4).collect::<Vec<_>>());
    assert!(run_dir.join("model.concord").exists());
}

/// A run stopped by its time limit goes on when rerun with a larger `max_minutes` (the time
/// budget is not part of what a run computes), as a long training does across sessions.
#[test]
fn a_run_out_of_time_goes_on_with_a_larger_budget() {
    let dir = tempfile::tempdir().unwrap();
    let short = tiny_config(dir.path(), &[("epochs", "2"), ("max_minutes", "0.0001")]);
    let (ok, _, stderr) = run(&["train", "--config", short.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains("raise training.max_minutes"),
        "{stderr}"
    );
    let run_dir = run_dir(dir.path());
    assert!(run_dir.join("checkpoint.safetensors").exists());
    assert!(metric_epochs(&run_dir).is_empty());
    // The same budget again: still out of time, nothing more is trained.
    assert!(!run(&["train", "--config", short.to_str().unwrap()]).0);
    assert!(metric_epochs(&run_dir).is_empty());
    let long = tiny_config(dir.path(), &[("epochs", "2"), ("max_minutes", "30.0")]);
    let (ok, _, stderr) = run(&["train", "--config", long.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(metric_epochs(&run_dir), vec![1, 2]);
}

#[test]
fn changed_config_does_not_silently_resume() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), &[("epochs", "1")]);
    assert!(run(&["train", "--config", config.to_str().unwrap()]).0);
    let config = tiny_config(dir.path(), &[("epochs", "1"), ("learning_rate", "2e-3")]);
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(!ok && stderr.contains("different config"), "{stderr}");
}

#[test]
fn overfits_a_few_frames() {
    // Four frames of one molecule, many epochs: the training loss must collapse.
    let dir = tempfile::tempdir().unwrap();
    let frames =
        concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/train_forces.extxyz.gz"))
            .unwrap();
    let mol = frames[0].info.get("mol").cloned();
    let few: Vec<_> = frames
        .iter()
        .filter(|f| f.info.get("mol") == mol.as_ref())
        .cloned()
        .collect();
    let other: Vec<_> = frames
        .iter()
        .filter(|f| f.info.get("mol") != mol.as_ref())
        .take(1)
        .cloned()
        .collect();
    let data = dir.path().join("few.extxyz");
    concord::io::write_extxyz(&data, &[few, other].concat()).unwrap();
    let config = tiny_config(
        dir.path(),
        &[
            ("epochs", "150"),
            ("batch_size", "8"),
            ("validation_fraction", "0.4"),
            ("learning_rate", "5e-3"),
            ("final_learning_rate", "5e-4"),
        ],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        &format!(
            "{}/data/qm9-gfn2/tiny/train_forces.extxyz.gz",
            root().display()
        ),
        data.to_str().unwrap(),
    );
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(run_dir(dir.path()).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let first = lines[0]["train_force_mse"].as_f64().unwrap();
    let last = lines.last().unwrap()["train_force_mse"].as_f64().unwrap();
    assert!(last < 0.05 * first, "force MSE {first} -> {last}");
}

/// The tiny generator config with its output in `dir/name` and `extra` lines appended to
/// `[training]`.
fn tiny_generator_config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("configs/tiny-generator.toml")).unwrap();
    text = text.replace(
        "output = \"../runs/tiny-generator\"",
        &format!("output = \"{}\"", dir.join(name).display()),
    );
    text = text.replace("\"../data/", &format!("\"{}/data/", root().display()));
    text = text.replace(
        "checkpoint_minutes = 0.05",
        &format!("checkpoint_minutes = 0.05\n{extra}"),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// An all-pair generator trains from structure data that holds a QM9 zwitterion of the bundled
/// training SDF (net charge 0: kept) and a copy of it with one formal charge removed (net charge
/// +-1: left out by name, not fatal).
#[test]
fn all_pair_generator_trains_and_leaves_charged_molecules_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut mols =
        concord::io::read_sdf(&root().join("data/qm9-gfn2/tiny/train_structures.sdf.gz")).unwrap();
    let full =
        concord::io::read_sdf(&root().join("data/qm9-gfn2/train_structures.sdf.gz")).unwrap();
    let charged = full
        .into_iter()
        .find(|m| m.charges.iter().any(|&q| q != 0))
        .unwrap();
    let zwitterion = charged.name.clone();
    let mut net = charged.clone();
    net.name = format!("{zwitterion}-net-charged");
    let q = net.charges.iter().position(|&q| q != 0).unwrap();
    net.charges[q] = 0;
    let name = net.name.clone();
    mols.push(charged);
    mols.push(net);
    let sdf = dir.path().join("structures.sdf");
    concord::io::write_sdf(&sdf, &mols).unwrap();
    let config = tiny_generator_config(dir.path(), "allpairs", "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[generator]\n", "[generator]\nedges = \"all_pairs\"\n")
        .replace(
            &format!(
                "{}/data/qm9-gfn2/tiny/train_structures.sdf.gz",
                root().display()
            ),
            sdf.to_str().unwrap(),
        );
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("1 charged molecules left out") && stderr.contains(&name),
        "{stderr}"
    );
    assert!(!stderr.contains(&format!("{zwitterion} ")), "{stderr}");
    let model = dir.path().join("allpairs/model.concord");
    let pot = concord::potential::Potential::load(
        &model,
        concord::potential::Device::Cpu,
        concord::model::Precision::Float32,
    )
    .unwrap();
    let gen = pot.config().generator.unwrap();
    assert_eq!(gen.edges, concord::model::graph::GraphScheme::AllPairs);
    assert!(
        pot.energy_trained(),
        "a multi-task run fits the energy head"
    );
}

/// A run on structure data only leaves the energy head untrained, and its model file says so:
/// the model generates but gives no energies (and the pipeline does not relax on it).
#[test]
fn a_structure_only_run_marks_its_energy_head_untrained() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_generator_config(dir.path(), "structures", "");
    let text = std::fs::read_to_string(&config).unwrap();
    let frames = text.find("[[dataset]]\nname = \"gfn2//pm6 tiny\"").unwrap();
    let structures = text
        .find("[[dataset]]\nname = \"pm6 structures tiny\"")
        .unwrap();
    let text = format!("{}{}", &text[..frames], &text[structures..])
        .replace("optimality_weight = 0.1", "optimality_weight = 0.0")
        .replace("score_weight = 0.1", "score_weight = 0.0");
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let model = dir.path().join("structures/model.concord");
    let pot = concord::potential::Potential::load(
        &model,
        concord::potential::Device::Cpu,
        concord::model::Precision::Float32,
    )
    .unwrap();
    assert!(!pot.energy_trained());
    let water = [[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]];
    let err = pot
        .compute(&[8, 1, 1], &water, None, [false; 3], Default::default())
        .unwrap_err();
    assert!(matches!(err, concord::Error::Unsupported(_)), "{err}");
    assert!(
        err.to_string().contains("energy head was never trained"),
        "{err}"
    );
    let (ok, _, stderr) = run(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--smiles",
        "CO",
        "--relax",
        "--out",
        dir.path().join("gen.extxyz").to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("never trained"), "{stderr}");
}

/// A run that blows up (learning rate 0.9) stops with "training diverged" instead of saving a
/// broken model as its best.
#[test]
fn a_diverged_run_stops_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), &[("learning_rate", "0.9")]);
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains("training diverged in epoch"),
        "{stderr}"
    );
    assert!(!run_dir(dir.path()).join("model.concord").exists());
}

#[test]
fn generator_training_then_consistency_from_init_then_generate() {
    let dir = tempfile::tempdir().unwrap();
    // Phase 1: multi-task (potential + denoiser), consistency from epoch 3 of 4.
    let c1 = tiny_generator_config(dir.path(), "phase1", "");
    let (ok, _, stderr) = run(&["train", "--config", c1.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("val denoise") && stderr.contains("opt ") && stderr.contains("score "),
        "{stderr}"
    );
    let m1 = dir.path().join("phase1/model.concord");
    // Phase 2 from phase 1's model, with default sampler settings recorded in it (they are
    // not part of the network: the config need not repeat them).
    let m1s = dir.path().join("phase1-sampler.concord");
    let (ok, _, stderr) = run(&[
        "set-sampler",
        "--model",
        m1.to_str().unwrap(),
        "--churn",
        "3",
        "--churn-max-sigma",
        "0.2",
        "--out",
        m1s.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let c2 = tiny_generator_config(
        dir.path(),
        "phase2",
        &format!("init = \"{}\"", m1s.display()),
    );
    let (ok, _, stderr) = run(&["train", "--config", c2.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // An init model of another architecture is refused.
    let pot = dir.path().join("pot");
    let c3 = tiny_config(dir.path(), &[]);
    let text = std::fs::read_to_string(&c3).unwrap().replace(
        &run_dir(dir.path()).display().to_string(),
        &pot.display().to_string(),
    );
    std::fs::write(&c3, text).unwrap();
    assert!(run(&["train", "--config", c3.to_str().unwrap()]).0);
    let c4 = tiny_generator_config(
        dir.path(),
        "phase2b",
        &format!("init = \"{}\"", pot.join("model.concord").display()),
    );
    let (ok, _, stderr) = run(&["train", "--config", c4.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains("architecture or elements differ"),
        "{stderr}"
    );
    // Generate from the phase-2 model: every test molecule of the tiny set (H C N O only).
    let out = dir.path().join("gen.extxyz");
    let graphs = root().join("data/qm9-gfn2/tiny/test_structures.sdf.gz");
    let model = dir.path().join("phase2/model.concord");
    let (ok, _, stderr) = run(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--graphs",
        graphs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--samples",
        "2",
        "--seed",
        "3",
    ]);
    // Molecules with an element the model lacks are skipped and named, the others written;
    // the exit status says whether every molecule succeeded.
    let frames = concord::io::read_extxyz(&out).unwrap();
    let mols = concord::io::read_sdf(&graphs).unwrap();
    let usable = mols.iter().filter(|m| !m.numbers.contains(&9)).count();
    assert_eq!(frames.len(), 2 * usable, "{stderr}");
    assert_eq!(ok, usable == mols.len(), "{stderr}");
    assert_eq!(stderr.contains("skipped"), usable < mols.len(), "{stderr}");
    if !ok {
        assert!(stderr.contains("failed and are not in"), "{stderr}");
    }
}

/// `training.refit_reference`: the final model is the best one with its per-element reference
/// energies shifted by the recorded offsets (energies move by `n . d`, forces stay).
#[test]
fn refit_reference_shifts_the_best_model_by_the_recorded_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(
        dir.path(),
        &[
            ("epochs", "1"),
            ("checkpoint_minutes", "0.05\nrefit_reference = true"),
        ],
    );
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("reference energies refitted"), "{stderr}");
    let run_dir = run_dir(dir.path());
    let model = run_dir.join("model.concord");
    let bytes = std::fs::read(&model).unwrap();
    let meta = concord::model::file::read_metadata(&bytes, &model).unwrap();
    let offsets = &meta.training["reference_refit"]["offsets_ev"];
    let (e_best, f_best) = predict(&run_dir.join("best.concord"));
    let (e_final, f_final) = predict(&model);
    assert_eq!(f_best, f_final, "the network is unchanged");
    let frame = concord::io::read_extxyz(&root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz"))
        .unwrap()
        .remove(0);
    let shift: f64 = frame
        .numbers
        .iter()
        .map(|&z| {
            let symbol = concord::elements::symbol(z).unwrap();
            offsets[symbol].as_f64().unwrap()
        })
        .sum();
    assert!(shift.abs() > 1e-6, "offsets {offsets}");
    assert!(
        (e_final - e_best - shift).abs() < 1e-9,
        "{e_final} - {e_best} != {shift}"
    );
}

#[test]
fn a_model_continues_training_with_the_zbl_core() {
    let dir = tempfile::tempdir().unwrap();
    let first = tiny_config(dir.path(), &[("epochs", "1")]);
    assert!(run(&["train", "--config", first.to_str().unwrap()]).0);
    let init = dir.path().join("plain.concord");
    std::fs::rename(run_dir(dir.path()).join("model.concord"), &init).unwrap();
    std::fs::remove_dir_all(run_dir(dir.path())).unwrap();
    // The same network with `[model] zbl`: the init file's parameters fit (the core has none).
    let config = tiny_config(dir.path(), &[("epochs", "1")]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[model]\n", "[model]\nzbl = 0.6\n");
    let text = text.replace(
        "[training]\n",
        &format!("[training]\ninit = \"{}\"\n", init.display()),
    );
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = run(&[
        "inspect",
        run_dir(dir.path()).join("model.concord").to_str().unwrap(),
    ]);
    assert!(ok);
    let meta: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(meta["config"]["encoder"]["zbl"], 0.6, "{meta}");
    // An out-of-range core is refused before training.
    std::fs::remove_dir_all(run_dir(dir.path())).unwrap();
    let bad = std::fs::read_to_string(&config)
        .unwrap()
        .replace("zbl = 0.6", "zbl = 2.0");
    std::fs::write(&config, bad).unwrap();
    let (ok, _, stderr) = run(&["train", "--config", config.to_str().unwrap()]);
    assert!(!ok && stderr.contains("must be in (0, 1]"), "{stderr}");
}

/// `gradient = "native"` trains the same model as libtorch's double backward (float64: the
/// gradients agree to ~1e-8, tests/native_gradient.rs), and its validation (native too)
/// reports the same errors.
#[test]
fn native_and_libtorch_gradients_train_the_same_model() {
    use concord::train::{train, Config};
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let f64 = ("precision", "\"float64\"");
    let torch = Config::load(&tiny_config(a.path(), &[f64])).unwrap();
    let native_lines = ("checkpoint_minutes", "0.05\ngradient = \"native\"");
    let native = Config::load(&tiny_config(b.path(), &[f64, native_lines])).unwrap();
    let (t, n) = (
        train(&torch, false).unwrap(),
        train(&native, false).unwrap(),
    );
    let (et, ft) = predict(&run_dir(a.path()).join("model.concord"));
    let (en, fn_) = predict(&run_dir(b.path()).join("model.concord"));
    assert!((et - en).abs() < 1e-6 * et.abs(), "energy {et} vs {en}");
    let scale = ft.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
    for (p, q) in ft.iter().flatten().zip(fn_.iter().flatten()) {
        assert!((p - q).abs() < 1e-5 * scale, "force {p} vs {q}");
    }
    let (vt, vn) = (t.validation, n.validation);
    assert_eq!(
        (t.best_epoch, vt.n_force_components),
        (n.best_epoch, vn.n_force_components)
    );
    assert!(
        (vt.force_mae - vn.force_mae).abs() < 1e-6 * vt.force_mae,
        "{vt:?} vs {vn:?}"
    );
    assert!(
        (vt.energy_mae - vn.energy_mae).abs() < 1e-5 * vt.energy_mae,
        "{vt:?} vs {vn:?}"
    );
}
