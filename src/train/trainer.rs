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
use crate::io::write_atomic;
use crate::metrics::{ErrorAccumulator, ErrorMetrics};
use crate::model::{file, Model, ModelConfig};
use crate::train::adam::Adam;
use crate::train::batch_forward::{energies_and_forces, loss};
use crate::train::checkpoint::{self, LoopState};
use crate::train::config::Config;
use crate::train::config::GeneratorTrainConfig;
use crate::train::datasets::{self, Samples};
use crate::train::generator_losses::{
    batch_rng, denoising_loss, optimality_loss, score_loss, GraphSample,
};
use crate::train::plots;
use tch::Tensor;

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
    /// Mean training denoising loss (with a generator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_denoise: Option<f64>,
    /// Mean training optimality-consistency loss, eV/atom (when active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_optimality: Option<f64>,
    /// Mean training score-consistency loss (when active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_score: Option<f64>,
    /// Validation loss (potential loss + weighted denoising loss); selects the best model.
    pub validation_loss: f64,
    /// Validation denoising loss at fixed seeded noise (with a generator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_denoise: Option<f64>,
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
    /// `last.concord`: the parameters of the last epoch (differs from the best one when, e.g.,
    /// the consistency losses trade validation denoising loss for physical consistency).
    pub last: PathBuf,
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
            last: dir.join("last.concord"),
            metrics: dir.join("metrics.jsonl"),
            learning_curve: dir.join("learning_curve.png"),
            parity: dir.join("parity.png"),
        }
    }
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

/// Validation loss, error metrics, and (reference, predicted) pairs of energies per atom and
/// force components.
type Validation = (f64, ErrorMetrics, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Validation loss and error metrics of `model` on `samples`.
fn validate(model: &Model, samples: &[Sample], config: &Config) -> Result<Validation> {
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

/// Samples `i` of an epoch's shuffled order of a set of `len` items, cycling when the set
/// is shorter than the epoch.
fn cycled(order: &[usize], batch: usize, size: usize) -> Vec<usize> {
    (batch * size..(batch + 1) * size)
        .map(|k| order[k % order.len()])
        .collect()
}

fn shuffled(len: usize, seed: u64, epoch: usize, set: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let s = seed
        .wrapping_mul(1_000_003)
        .wrapping_add(epoch as u64)
        .wrapping_add(set << 40);
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(s));
    order
}

/// Mean denoising loss over the validation structures at fixed noise (seeded), or NaN.
fn validate_denoising(
    model: &Model,
    structures: &[GraphSample],
    g: &GeneratorTrainConfig,
) -> Result<f64> {
    if structures.is_empty() {
        return Ok(f64::NAN);
    }
    let mut rng = batch_rng(12345, 0, 0);
    let (mut sum, mut n) = (0.0, 0.0);
    for chunk in structures.chunks(32) {
        let refs: Vec<&GraphSample> = chunk.iter().collect();
        let l = tch::no_grad(|| {
            denoising_loss(model, &refs, &mut rng, g.log_sigma_mean, g.log_sigma_std)
        })?;
        sum += l.f_double_value(&[])?;
        n += 1.0;
    }
    Ok(sum / n)
}

/// Copies every parameter of `from` into `to` (no gradient).
fn copy_parameters(from: &Model, to: &mut Model) -> Result<()> {
    let src = from.vs.variables();
    tch::no_grad(|| -> Result<()> {
        for (name, mut v) in to.vs.variables() {
            if let Some(s) = src.get(&name) {
                v.f_copy_(s)?;
            }
        }
        Ok(())
    })
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
    let raw = datasets::read(config)?;
    let gen = config.generator.as_ref();
    let model_config = ModelConfig {
        elements: datasets::elements(&raw),
        encoder: config.model,
        generator: gen.map(GeneratorTrainConfig::model_config),
    };
    let mut model = Model::new(model_config.clone(), Device::Cpu, t.precision)?;
    let with_scores = gen.is_some_and(|g| g.score_weight > 0.0);
    let samples = datasets::samples(&raw, &model, with_scores)?;
    drop(raw);
    let (train_set, val_set) = datasets::split(samples, t.validation_fraction, t.seed);
    if train_set.potential.is_empty() && train_set.structures.is_empty() {
        return Err(Error::invalid(
            "no training samples (check the datasets' tasks)",
        ));
    }
    if val_set.potential.is_empty() && val_set.structures.is_empty() {
        return Err(Error::invalid(
            "need at least two molecules to split into training and validation",
        ));
    }
    if let Some(init) = &t.init {
        // Parameters and normalisation buffers come from the initial model.
        let bytes = std::fs::read(init).map_err(|e| Error::io(init, e))?;
        let meta = file::read_metadata(&bytes, init)?;
        if meta.config != *model.config() {
            return Err(Error::invalid(format!(
                "training.init {}: its architecture or elements differ from this config's",
                init.display()
            )));
        }
        file::load_variables(&mut model.vs, &bytes, init, false)?;
    } else {
        let (e_ref, scale) = fit_normalisation(&train_set.potential, model.config().elements.len());
        model.set_energy_normalisation(&e_ref, scale)?;
        let n_atoms: usize = train_set.potential.iter().map(Sample::n_atoms).sum();
        let n_pairs: usize = train_set.potential.iter().map(|s| s.first.len()).sum();
        if n_atoms > 0 {
            model.set_avg_neighbors(n_pairs as f64 / n_atoms as f64)?;
        }
    }
    // The optimality loss evaluates a frozen parameter copy of the potential.
    let mut frozen = match gen {
        Some(g) if g.optimality_weight > 0.0 => {
            let mut f = Model::new(model_config, Device::Cpu, t.precision)?;
            f.freeze()?;
            Some(f)
        }
        _ => None,
    };
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

    let bs = t.batch_size;
    let n_batches = train_set
        .potential
        .len()
        .div_ceil(bs)
        .max(if gen.is_some() {
            train_set.structures.len().div_ceil(bs)
        } else {
            0
        });
    let n_batches = t
        .steps_per_epoch
        .map_or(n_batches, |cap| n_batches.min(cap.max(1)));
    let total_steps = (t.epochs * n_batches) as f64;
    let kind = model.precision().kind();
    let start = Instant::now();
    let elapsed0 = state.elapsed_s;
    let mut last_checkpoint = Instant::now();
    let mut out_of_time = false;
    while !state.finished && state.epoch < t.epochs && !out_of_time {
        let pot_order = shuffled(train_set.potential.len(), t.seed, state.epoch, 0);
        let struct_order = shuffled(train_set.structures.len(), t.seed, state.epoch, 1);
        let score_order = shuffled(train_set.scores.len(), t.seed, state.epoch, 2);
        let consistency = gen.is_some_and(|g| state.epoch + 1 >= g.consistency_start_epoch);
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
        let mut sums = LossSums::default();
        let mut lr = learning_rate(
            config,
            (state.epoch * n_batches + state.batch) as f64 / total_steps,
        );
        while state.batch < n_batches {
            let mut total = Tensor::f_zeros([], (kind, model.device()))?;
            if !pot_order.is_empty() {
                let refs: Vec<&Sample> = cycled(&pot_order, state.batch, bs)
                    .into_iter()
                    .map(|i| &train_set.potential[i])
                    .collect();
                let batch = collate(&refs, kind, model.device())?;
                let (e, f) = energies_and_forces(&model, &batch, true)?;
                let (l, le, lf) = loss(&batch, &e, &f, t.energy_weight, t.force_weight)?;
                sums.potential += l.f_double_value(&[])?;
                sums.energy += le;
                sums.force += lf;
                total = total + l;
            }
            if let Some(g) = gen.filter(|_| !struct_order.is_empty()) {
                let mut rng = batch_rng(t.seed, state.epoch, state.batch);
                let refs: Vec<&GraphSample> = cycled(&struct_order, state.batch, bs)
                    .into_iter()
                    .map(|i| &train_set.structures[i])
                    .collect();
                let l = denoising_loss(&model, &refs, &mut rng, g.log_sigma_mean, g.log_sigma_std)?;
                sums.denoise += l.f_double_value(&[])?;
                total = total + l * g.denoise_weight;
                if consistency {
                    if let Some(frozen) = frozen.as_mut() {
                        copy_parameters(&model, frozen)?;
                        let l = optimality_loss(
                            &model,
                            frozen,
                            &refs,
                            &mut rng,
                            g.optimality_sigma,
                            g.optimality,
                        )?;
                        sums.optimality += l.f_double_value(&[])?;
                        total = total + l * g.optimality_weight;
                    }
                    if g.score_weight > 0.0 && !score_order.is_empty() {
                        let refs: Vec<&GraphSample> = cycled(&score_order, state.batch, bs)
                            .into_iter()
                            .map(|i| &train_set.scores[i])
                            .collect();
                        let l = score_loss(&model, &refs, &mut rng, g.score_sigma, g.kt)?;
                        sums.score += l.f_double_value(&[])?;
                        total = total + l * g.score_weight;
                    }
                }
            }
            adam.zero_grad();
            total.f_backward()?;
            lr = learning_rate(
                config,
                (state.epoch * n_batches + state.batch) as f64 / total_steps,
            );
            adam.step(lr)?;
            sums.total += total.f_double_value(&[])?;
            sums.count += 1.0;
            state.batch += 1;
            bar.set_position(state.batch as u64);
            bar.set_message(format!("loss {:.4}", sums.total / sums.count));
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
        let (pot_loss, val, _, _) = validate(&model, &val_set.potential, config)?;
        let val_denoise = match gen {
            Some(g) => validate_denoising(&model, &val_set.structures, g)?,
            None => f64::NAN,
        };
        let val_loss = [
            pot_loss,
            gen.map_or(0.0, |g| g.denoise_weight) * val_denoise,
        ]
        .iter()
        .filter(|x| x.is_finite())
        .sum::<f64>();
        state.epoch += 1;
        state.batch = 0;
        state.elapsed_s = elapsed0 + start.elapsed().as_secs_f64();
        let c = sums.count.max(1.0);
        let record = EpochRecord {
            epoch: state.epoch,
            train_loss: sums.total / c,
            train_energy_mse: sums.energy / c,
            train_force_mse: sums.force / c,
            train_denoise: gen.map(|_| sums.denoise / c),
            train_optimality: (consistency && frozen.is_some()).then(|| sums.optimality / c),
            train_score: (consistency && gen.is_some_and(|g| g.score_weight > 0.0))
                .then(|| sums.score / c),
            validation_loss: val_loss,
            validation: val,
            validation_denoise: gen.map(|_| val_denoise),
            learning_rate: lr,
            elapsed_s: state.elapsed_s,
        };
        if progress {
            let mut line = format!(
                "epoch {:>3}/{}  train loss {:.4}  val E MAE {:.1} meV/atom  val F MAE {:.1} meV/Å",
                state.epoch,
                t.epochs,
                record.train_loss,
                1000.0 * val.energy_per_atom_mae,
                1000.0 * val.force_mae,
            );
            if let Some(d) = record.validation_denoise {
                line += &format!("  val denoise {d:.4}");
            }
            if let Some(o) = record.train_optimality {
                line += &format!("  opt {o:.4}");
            }
            if let Some(s) = record.train_score {
                line += &format!("  score {s:.4}");
            }
            eprintln!("{line}  lr {lr:.2e}  {:.0} s", state.elapsed_s);
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
    finish(
        config,
        &files,
        &model,
        &state,
        &val_set,
        train_set.potential.len() + train_set.structures.len(),
        progress,
    )
}

/// Running sums of the loss terms over an epoch.
#[derive(Default)]
struct LossSums {
    total: f64,
    potential: f64,
    energy: f64,
    force: f64,
    denoise: f64,
    optimality: f64,
    score: f64,
    count: f64,
}

/// Writes the final model (the best one, with full provenance), the last epoch's model and the
/// parity plot.
fn finish(
    config: &Config,
    files: &RunFiles,
    last: &Model,
    state: &LoopState,
    val_set: &Samples,
    n_train: usize,
    progress: bool,
) -> Result<TrainSummary> {
    let best_epoch = state.best_epoch.ok_or_else(|| {
        Error::invalid(
            "training stopped before the first epoch completed; raise training.max_minutes",
        )
    })?;
    let (best, _) = file::load(&files.best, Device::Cpu, config.training.precision)?;
    let (_, val, e_pairs, f_pairs) = validate(&best, &val_set.potential, config)?;
    if !e_pairs.is_empty() || !f_pairs.is_empty() {
        plots::parity(&files.parity, &e_pairs, &f_pairs)?;
    }
    let val_denoise = match &config.generator {
        Some(g) => validate_denoising(&best, &val_set.structures, g)?,
        None => f64::NAN,
    };
    let provenance = serde_json::json!({
        "config": config,
        "datasets": config.dataset.iter().map(|d| serde_json::json!({
            "name": d.name, "path": d.path, "level": d.level, "tasks": d.tasks,
        })).collect::<Vec<_>>(),
        "n_train_frames": n_train,
        "n_validation_frames": val_set.potential.len(),
        "n_validation_structures": val_set.structures.len(),
        "validation_denoise": val_denoise,
        "epochs_run": state.epoch,
        "best_epoch": best_epoch,
        "elapsed_s": state.elapsed_s,
        "validation": val,
    });
    file::save(&best, &files.model, provenance)?;
    file::save(
        last,
        &files.last,
        serde_json::json!({"config": config, "epoch": state.epoch, "selected": "last epoch"}),
    )?;
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
