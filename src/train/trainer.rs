//! The training loop: loads the datasets, splits molecules into training and validation,
//! fits per-element reference energies, then runs Adam on energy + force losses with
//! per-epoch validation, keeps the best model, checkpoints regularly and resumes after an
//! interruption.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Device;

use crate::data::{collate, Sample};
use crate::error::{Error, Result};
use crate::io::{read_extxyz, write_atomic};
use crate::model::{file, Model, ModelConfig};
use crate::train::adam::Adam;
use crate::train::batch_forward::{energies_and_forces, loss};
use crate::train::checkpoint::{self, LoopState};
use crate::train::config::{Config, Task};
use crate::train::metrics::{ErrorAccumulator, ErrorMetrics};
use crate::train::plots;

/// Metrics of one epoch, one JSON line each in `metrics.jsonl`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean training per-atom energy MSE, (eV/atom)².
    pub train_energy_mse: f64,
    /// Mean training force MSE, (eV/Å)².
    pub train_force_mse: f64,
    /// Validation loss (same weights as the training loss).
    pub validation_loss: f64,
    /// Validation errors.
    pub validation: ErrorMetrics,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Cumulative training wall time, s.
    pub elapsed_s: f64,
}

/// What a finished training run produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainSummary {
    /// The best model file.
    pub model: PathBuf,
    /// Epochs run.
    pub epochs: usize,
    /// Best epoch (1-based).
    pub best_epoch: usize,
    /// Validation errors of the best model.
    pub validation: ErrorMetrics,
    /// Training wall time, s.
    pub elapsed_s: f64,
}

/// Paths inside a run's output folder.
pub struct RunFiles {
    /// `checkpoint.safetensors`: resumable state.
    pub checkpoint: PathBuf,
    /// `best.concord`: best model so far (by validation loss).
    pub best: PathBuf,
    /// `model.concord`: the final model (= best), with full provenance.
    pub model: PathBuf,
    /// `metrics.jsonl`: one [`EpochRecord`] per line.
    pub metrics: PathBuf,
    /// `learning_curve.png`.
    pub learning_curve: PathBuf,
    /// `parity.png`.
    pub parity: PathBuf,
}

impl RunFiles {
    /// The files of a run in `dir`.
    pub fn new(dir: &Path) -> RunFiles {
        RunFiles {
            checkpoint: dir.join("checkpoint.safetensors"),
            best: dir.join("best.concord"),
            model: dir.join("model.concord"),
            metrics: dir.join("metrics.jsonl"),
            learning_curve: dir.join("learning_curve.png"),
            parity: dir.join("parity.png"),
        }
    }
}

/// Loads every dataset of `config` as samples for `model`, keeping only the labels each
/// dataset declares.
fn load_samples(config: &Config, model: &Model) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for d in &config.dataset {
        let frames = read_extxyz(&d.path)?;
        for (i, mut frame) in frames.into_iter().enumerate() {
            if !d.tasks.contains(&Task::Energy) {
                frame.energy = None;
            }
            if !d.tasks.contains(&Task::Forces) {
                frame.forces = None;
            }
            let sample = Sample::from_frame(&frame, model, i)
                .map_err(|e| Error::invalid(format!("{} frame {i}: {e}", d.path.display())))?;
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// Elements present in the datasets, sorted by atomic number.
fn dataset_elements(config: &Config) -> Result<Vec<u8>> {
    let mut zs = std::collections::BTreeSet::new();
    for d in &config.dataset {
        for f in read_extxyz(&d.path)? {
            zs.extend(f.numbers);
        }
    }
    Ok(zs.into_iter().collect())
}

/// Splits samples by molecule: a seeded `fraction` of the molecules goes to validation.
fn split(samples: Vec<Sample>, fraction: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    let mut mols: Vec<String> = samples.iter().map(|s| s.molecule.clone()).collect();
    mols.sort();
    mols.dedup();
    mols.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = ((mols.len() as f64 * fraction).round() as usize)
        .clamp(1, mols.len().saturating_sub(1).max(1));
    let val: std::collections::HashSet<String> = mols.into_iter().take(n_val).collect();
    samples
        .into_iter()
        .partition(|s| !val.contains(&s.molecule))
}

/// Least-squares per-element reference energies (eV) and the RMS force label (eV/Å) used as
/// the energy scale.
fn fit_normalisation(samples: &[Sample], n_species: usize) -> (Vec<f64>, f64) {
    let rows: Vec<&Sample> = samples.iter().filter(|s| s.energy.is_some()).collect();
    let mut ata = nalgebra::DMatrix::<f64>::zeros(n_species, n_species);
    let mut atb = nalgebra::DVector::<f64>::zeros(n_species);
    for s in &rows {
        let mut counts = vec![0.0; n_species];
        for &z in &s.species {
            counts[z as usize] += 1.0;
        }
        for a in 0..n_species {
            atb[a] += counts[a] * s.energy.unwrap_or(0.0);
            for b in 0..n_species {
                ata[(a, b)] += counts[a] * counts[b];
            }
        }
    }
    for a in 0..n_species {
        ata[(a, a)] += 1e-6 * (1.0 + ata[(a, a)]);
    }
    let e_ref = ata
        .lu()
        .solve(&atb)
        .map(|v| v.iter().copied().collect())
        .unwrap_or_else(|| vec![0.0; n_species]);
    let (mut sq, mut n) = (0.0, 0usize);
    for f in samples.iter().filter_map(|s| s.forces.as_ref()) {
        for x in f.iter().flatten() {
            sq += x * x;
            n += 1;
        }
    }
    let scale = if n > 0 {
        (sq / n as f64).sqrt().max(1e-3)
    } else {
        1.0
    };
    (e_ref, scale)
}

/// Validation loss and error metrics of `model` on `samples`.
fn validate(
    model: &Model,
    samples: &[Sample],
    config: &Config,
) -> Result<(f64, ErrorMetrics, Vec<(f64, f64)>, Vec<(f64, f64)>)> {
    let t = &config.training;
    let kind = model.precision().kind();
    let e_ref = model.reference_energies()?;
    let mut acc = ErrorAccumulator::default();
    let mut total_loss = 0.0;
    let mut n_batches = 0.0f64;
    let (mut e_pairs, mut f_pairs) = (Vec::new(), Vec::new());
    for chunk in samples.chunks(t.batch_size.max(16)) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let batch = collate(&refs, kind, model.device())?;
        let (e, f) = energies_and_forces(model, &batch, false)?;
        let (l, _, _) = loss(
            &batch,
            &e.f_detach()?,
            &f.f_detach()?,
            t.energy_weight,
            t.force_weight,
        )?;
        total_loss += l.f_double_value(&[])?;
        n_batches += 1.0;
        let e: Vec<f64> = Vec::try_from(e.f_to_kind(tch::Kind::Double)?)?;
        let f: Vec<f64> = Vec::try_from(f.f_to_kind(tch::Kind::Double)?.f_flatten(0, -1)?)?;
        let mut offset = 0;
        for (k, s) in chunk.iter().enumerate() {
            let n = s.n_atoms();
            if let Some(re) = s.energy {
                acc.add_energy(e[k], re, n);
                // Parity in energy per atom above the per-element reference energies, so that
                // the plot shows what the network learned rather than the composition.
                let base: f64 = s.species.iter().map(|&z| e_ref[z as usize]).sum();
                e_pairs.push(((re - base) / n as f64, (e[k] - base) / n as f64));
            }
            if let Some(rf) = &s.forces {
                let pf: Vec<[f64; 3]> = (0..n)
                    .map(|i| std::array::from_fn(|a| f[3 * (offset + i) + a]))
                    .collect();
                acc.add_forces(&pf, rf);
                for (p, r) in pf.iter().zip(rf) {
                    f_pairs.extend((0..3).map(|a| (r[a], p[a])));
                }
            }
            offset += n;
        }
    }
    Ok((
        total_loss / n_batches.max(1.0),
        acc.metrics(),
        e_pairs,
        f_pairs,
    ))
}

fn learning_rate(config: &Config, progress: f64) -> f64 {
    let t = &config.training;
    t.learning_rate * (t.final_learning_rate / t.learning_rate).powf(progress.clamp(0.0, 1.0))
}

fn read_records(path: &Path) -> Vec<EpochRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs (or resumes) the training described by `config`. With `progress`, draws a progress
/// bar and prints one line per epoch on stderr.
pub fn train(config: &Config, progress: bool) -> Result<TrainSummary> {
    let t = &config.training;
    std::fs::create_dir_all(&config.output).map_err(|e| Error::io(&config.output, e))?;
    let files = RunFiles::new(&config.output);
    if t.threads > 0 {
        tch::set_num_threads(t.threads as i32);
    }
    tch::manual_seed(t.seed as i64);
    let model_config = ModelConfig {
        elements: dataset_elements(config)?,
        encoder: config.model,
        generator: None,
    };
    let mut model = Model::new(model_config, Device::Cpu, t.precision)?;
    let samples = load_samples(config, &model)?;
    let (train_set, val_set) = split(samples, t.validation_fraction, t.seed);
    if train_set.is_empty() || val_set.is_empty() {
        return Err(Error::invalid(
            "need at least two molecules to split into training and validation",
        ));
    }
    let (e_ref, scale) = fit_normalisation(&train_set, model.config().elements.len());
    model.set_energy_normalisation(&e_ref, scale)?;
    let n_atoms: usize = train_set.iter().map(Sample::n_atoms).sum();
    let n_pairs: usize = train_set.iter().map(|s| s.first.len()).sum();
    model.set_avg_neighbors(n_pairs as f64 / n_atoms.max(1) as f64)?;
    let mut adam = Adam::new(&model.vs, 100.0)?;
    let mut state = LoopState {
        epoch: 0,
        batch: 0,
        best_validation: f64::INFINITY,
        best_epoch: None,
        elapsed_s: 0.0,
        finished: false,
    };
    if files.checkpoint.exists() {
        state = checkpoint::load(&files.checkpoint, config, &mut model, &mut adam)?;
        if progress {
            eprintln!(
                "resuming from {} at epoch {} batch {}",
                files.checkpoint.display(),
                state.epoch + 1,
                state.batch
            );
        }
    }
    // Keep only the metric lines of completed epochs (a killed run may have written more).
    let mut records = read_records(&files.metrics);
    records.truncate(state.epoch);
    let lines: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
        .collect();
    write_atomic(&files.metrics, lines.as_bytes())?;

    let n_batches = train_set.len().div_ceil(t.batch_size);
    let total_steps = (t.epochs * n_batches) as f64;
    let kind = model.precision().kind();
    let start = Instant::now();
    let elapsed0 = state.elapsed_s;
    let mut last_checkpoint = Instant::now();
    let mut out_of_time = false;
    while !state.finished && state.epoch < t.epochs && !out_of_time {
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            t.seed
                .wrapping_mul(1_000_003)
                .wrapping_add(state.epoch as u64),
        ));
        let bar = if progress {
            ProgressBar::new(n_batches as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
                .map_err(|e| Error::invalid(e.to_string()))?
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", state.epoch + 1, t.epochs));
        bar.set_position(state.batch as u64);
        let (mut sum_loss, mut sum_e, mut sum_f, mut count) = (0.0, 0.0, 0.0, 0.0);
        let mut lr = learning_rate(
            config,
            (state.epoch * n_batches + state.batch) as f64 / total_steps,
        );
        while state.batch < n_batches {
            let idx = &order
                [state.batch * t.batch_size..((state.batch + 1) * t.batch_size).min(order.len())];
            let refs: Vec<&Sample> = idx.iter().map(|&i| &train_set[i]).collect();
            let batch = collate(&refs, kind, model.device())?;
            let (e, f) = energies_and_forces(&model, &batch, true)?;
            let (l, le, lf) = loss(&batch, &e, &f, t.energy_weight, t.force_weight)?;
            adam.zero_grad();
            l.f_backward()?;
            lr = learning_rate(
                config,
                (state.epoch * n_batches + state.batch) as f64 / total_steps,
            );
            adam.step(lr)?;
            let lv = l.f_double_value(&[])?;
            sum_loss += lv;
            sum_e += le;
            sum_f += lf;
            count += 1.0;
            state.batch += 1;
            bar.set_position(state.batch as u64);
            bar.set_message(format!("loss {:.4}", sum_loss / count));
            state.elapsed_s = elapsed0 + start.elapsed().as_secs_f64();
            if state.elapsed_s > t.max_minutes * 60.0 {
                out_of_time = true;
                break;
            }
            if last_checkpoint.elapsed().as_secs_f64() > t.checkpoint_minutes * 60.0 {
                checkpoint::save(&files.checkpoint, config, &model, &adam, &state)?;
                last_checkpoint = Instant::now();
            }
        }
        bar.finish_and_clear();
        if out_of_time && state.batch < n_batches {
            if progress {
                eprintln!(
                    "time limit of {} min reached during epoch {}",
                    t.max_minutes,
                    state.epoch + 1
                );
            }
            break;
        }
        let (val_loss, val, _, _) = validate(&model, &val_set, config)?;
        state.epoch += 1;
        state.batch = 0;
        state.elapsed_s = elapsed0 + start.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: state.epoch,
            train_loss: sum_loss / count.max(1.0),
            train_energy_mse: sum_e / count.max(1.0),
            train_force_mse: sum_f / count.max(1.0),
            validation_loss: val_loss,
            validation: val,
            learning_rate: lr,
            elapsed_s: state.elapsed_s,
        };
        if progress {
            eprintln!(
                "epoch {:>3}/{}  train loss {:.4}  val E MAE {:.1} meV/atom  val F MAE {:.1} meV/Å  lr {:.2e}  {:.0} s",
                state.epoch,
                t.epochs,
                record.train_loss,
                1000.0 * val.energy_per_atom_mae,
                1000.0 * val.force_mae,
                lr,
                state.elapsed_s
            );
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&files.metrics)
            .map_err(|e| Error::io(&files.metrics, e))?;
        writeln!(
            f,
            "{}",
            serde_json::to_string(&record).map_err(|e| Error::invalid(e.to_string()))?
        )
        .map_err(|e| Error::io(&files.metrics, e))?;
        if val_loss < state.best_validation {
            state.best_validation = val_loss;
            state.best_epoch = Some(state.epoch);
            file::save(
                &model,
                &files.best,
                serde_json::json!({"epoch": state.epoch}),
            )?;
        }
        if state.epoch == t.epochs {
            state.finished = true;
        }
        checkpoint::save(&files.checkpoint, config, &model, &adam, &state)?;
        last_checkpoint = Instant::now();
        records.push(record);
        plots::learning_curve(&files.learning_curve, &records)?;
    }
    state.finished = true;
    checkpoint::save(&files.checkpoint, config, &model, &adam, &state)?;
    finish(config, &files, &state, &val_set, train_set.len(), progress)
}

/// Writes the final model (the best one, with full provenance) and the parity plot.
fn finish(
    config: &Config,
    files: &RunFiles,
    state: &LoopState,
    val_set: &[Sample],
    n_train: usize,
    progress: bool,
) -> Result<TrainSummary> {
    let best_epoch = state.best_epoch.ok_or_else(|| {
        Error::invalid(
            "training stopped before the first epoch completed; raise training.max_minutes",
        )
    })?;
    let (best, _) = file::load(&files.best, Device::Cpu, config.training.precision)?;
    let (_, val, e_pairs, f_pairs) = validate(&best, val_set, config)?;
    plots::parity(&files.parity, &e_pairs, &f_pairs)?;
    let provenance = serde_json::json!({
        "config": config,
        "datasets": config.dataset.iter().map(|d| serde_json::json!({
            "name": d.name, "path": d.path, "level": d.level, "tasks": d.tasks,
        })).collect::<Vec<_>>(),
        "n_train_frames": n_train,
        "n_validation_frames": val_set.len(),
        "epochs_run": state.epoch,
        "best_epoch": best_epoch,
        "elapsed_s": state.elapsed_s,
        "validation": val,
    });
    file::save(&best, &files.model, provenance)?;
    if progress {
        eprintln!(
            "best epoch {best_epoch}: val E MAE {:.1} meV/atom, F MAE {:.1} meV/Å -> {}",
            1000.0 * val.energy_per_atom_mae,
            1000.0 * val.force_mae,
            files.model.display()
        );
    }
    Ok(TrainSummary {
        model: files.model.clone(),
        epochs: state.epoch,
        best_epoch,
        validation: val,
        elapsed_s: state.elapsed_s,
    })
}
