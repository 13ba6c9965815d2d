//! The training loop: loads the datasets, splits molecules into training and validation,
//! fits per-element reference energies, then runs Adam on energy + force losses with
//! per-epoch validation, keeps the best model, checkpoints regularly and resumes after an
//! interruption.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Device;

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::metrics::{ErrorAccumulator, ErrorMetrics};
use crate::model::{file, Model, ModelConfig};
use crate::train::adam::Adam;
use crate::train::batch_forward::{energies, energies_and_forces, PotentialLoss};
use crate::train::checkpoint::{self, LoopState};
use crate::train::config::{Config, GeneratorTrainConfig, Gradient, TrainingConfig};
use crate::train::datasets::{self, Samples};
use crate::train::generator_losses::{batch_rng, denoising_loss, optimality_loss, score_loss};
use crate::train::native_gradient::{ModelGradient, Snapshot};
use crate::train::plots;
use crate::train::records::{append_record, read_records, EpochRecord, RunFiles};
use crate::train::samples::{collate, link_partners, GraphSample, Sample, Selection};
use tch::Tensor;

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

/// Least-squares per-element reference energies (eV) and the RMS force label (eV/Å) used as
/// the energy scale.
pub(crate) fn fit_normalisation(samples: &[Sample], n_species: usize) -> (Vec<f64>, f64) {
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
    let e_ref = model.reference_energies()?;
    let mut acc = ErrorAccumulator::default();
    let mut total_loss = 0.0;
    let mut n_batches = 0.0f64;
    let (mut e_pairs, mut f_pairs) = (Vec::new(), Vec::new());
    let native = match t.gradient {
        Gradient::Native => Some(Snapshot::of(model)?),
        Gradient::Libtorch => None,
    };
    let size = t.batch_size.max(16);
    for (c, chunk) in samples.chunks(size).enumerate() {
        let indices: Vec<usize> = (c * size..c * size + chunk.len()).collect();
        // Partners always, for the relative-energy metric (the loss weighs them only with
        // the relative-energy term).
        let selection = Selection::with_partners(&indices, samples);
        let (l, e, f) = match &native {
            Some(m) => {
                let (l, e, f) = m.evaluate(&selection, &PotentialLoss::of(t))?;
                (l.total, e, f.into_iter().flatten().collect())
            }
            None => torch_batch(model, &selection, t)?,
        };
        total_loss += l;
        n_batches += 1.0;
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
        for (_, d) in selection.relative_errors(&e) {
            acc.add_relative_energy(d);
        }
    }
    Ok((
        total_loss / n_batches.max(1.0),
        acc.metrics(),
        e_pairs,
        f_pairs,
    ))
}

/// The samples of `set` at `indices`, with their relative-energy partners when the loss has
/// that term.
fn selection<'a>(indices: &[usize], set: &'a [Sample], t: &TrainingConfig) -> Selection<'a> {
    if t.relative_energy_weight > 0.0 {
        Selection::with_partners(indices, set)
    } else {
        Selection::plain(&indices.iter().map(|&i| &set[i]).collect::<Vec<_>>())
    }
}

/// A validation batch through libtorch: loss, energies (eV, `[B]`), forces (eV/Å, flat).
fn torch_batch(
    model: &Model,
    selection: &Selection,
    t: &TrainingConfig,
) -> Result<(f64, Vec<f64>, Vec<f64>)> {
    let batch = collate(selection, model.precision().kind(), model.device())?;
    let (e, f) = energies_and_forces(model, &batch, false)?;
    let (l, _, _) = PotentialLoss::of(t).loss(&batch, &e.f_detach()?, &f.f_detach()?)?;
    let e: Vec<f64> = Vec::try_from(e.f_to_kind(tch::Kind::Double)?)?;
    let f: Vec<f64> = Vec::try_from(f.f_to_kind(tch::Kind::Double)?.f_flatten(0, -1)?)?;
    Ok((l.f_double_value(&[])?, e, f))
}

fn learning_rate(config: &Config, progress: f64) -> f64 {
    let t = &config.training;
    t.learning_rate * (t.final_learning_rate / t.learning_rate).powf(progress.clamp(0.0, 1.0))
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
    Trainer::new(config, progress)?.run()
}

/// A training run of one config: its data, model, optimiser and loop state. [`train`] is
/// `Trainer::new(..)?.run()`; [`Trainer::run_batches`] stops part-way as an interruption
/// would (a later run of the same config resumes from the checkpoint).
pub struct Trainer<'a> {
    config: &'a Config,
    progress: bool,
    files: RunFiles,
    model: Model,
    /// The frozen parameter copy the optimality loss evaluates.
    frozen: Option<Model>,
    adam: Adam,
    state: LoopState,
    train_set: Samples,
    val_set: Samples,
    /// Metric records of the completed epochs.
    records: Vec<EpochRecord>,
    /// Batches per epoch.
    n_batches: usize,
    /// When this process started training, and the elapsed time of earlier runs, s.
    started: Instant,
    elapsed0: f64,
    last_checkpoint: Instant,
    /// The native loss gradient's state (`[training] gradient = "native"`).
    native: ModelGradient,
}

/// The shuffled sample orders of one epoch and its loss sums so far.
struct Epoch {
    potential: Vec<usize>,
    structures: Vec<usize>,
    scores: Vec<usize>,
    consistency: bool,
    sums: LossSums,
    lr: f64,
    bar: ProgressBar,
}

impl<'a> Trainer<'a> {
    /// Reads the data, builds (or initialises) the model and resumes from the run's checkpoint
    /// when there is one; the metrics file keeps the completed epochs only.
    pub fn new(config: &'a Config, progress: bool) -> Result<Trainer<'a>> {
        let t = &config.training;
        std::fs::create_dir_all(&config.output).map_err(|e| Error::io(&config.output, e))?;
        let files = RunFiles::new(&config.output);
        if t.threads > 0 {
            tch::set_num_threads(t.threads as i32);
        }
        let raw = datasets::read(config)?;
        let gen = config.generator.as_ref();
        let model_config = ModelConfig {
            elements: datasets::elements(&raw),
            encoder: config.model,
            generator: gen.map(GeneratorTrainConfig::model_config),
        };
        let device: Device = match &t.device {
            Some(name) => name.parse::<crate::device::Device>()?.into(),
            None => Device::Cpu,
        };
        let mut model = Model::seeded(model_config.clone(), device, t.precision, t.seed as i64)?;
        let with_scores = gen.is_some_and(|g| g.score_weight > 0.0);
        let samples = datasets::samples(&raw, &model, with_scores)?;
        drop(raw);
        if progress && !samples.charged.is_empty() {
            let mut names = samples.charged.clone();
            names.sort();
            names.dedup();
            eprintln!(
                "{} charged molecules left out of the structure data (net charge, or formal \
                 charges the graph check refuses): {}",
                names.len(),
                names.join(" ")
            );
        }
        let (mut train_set, mut val_set) = datasets::split(samples, t.validation_fraction, t.seed);
        link_partners(&mut train_set.potential);
        link_partners(&mut val_set.potential);
        check_sets(&train_set, &val_set)?;
        initialise(config, &mut model, &train_set)?;
        let frozen = match gen {
            Some(g) if g.optimality_weight > 0.0 => {
                let mut f = Model::new(model_config, device, t.precision)?;
                f.freeze()?;
                Some(f)
            }
            _ => None,
        };
        let mut adam = Adam::new(&model.vs, 100.0)?;
        if let Some(decay) = t.ema_decay {
            adam = adam.with_ema(decay)?;
        }
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
        let n_batches = batches_per_epoch(config, &train_set);
        let elapsed0 = state.elapsed_s;
        Ok(Trainer {
            config,
            progress,
            files,
            model,
            frozen,
            adam,
            state,
            train_set,
            val_set,
            records,
            n_batches,
            started: Instant::now(),
            elapsed0,
            last_checkpoint: Instant::now(),
            native: ModelGradient::default(),
        })
    }

    /// Optimiser steps per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.n_batches
    }

    /// Trains to the end (all epochs, or the time limit) and writes the final files. A run
    /// stopped by the time limit is not finished: rerun with a larger `max_minutes` to go on.
    pub fn run(mut self) -> Result<TrainSummary> {
        self.run_batches(usize::MAX)?;
        self.state.finished = self.state.epoch >= self.config.training.epochs;
        self.checkpoint()?;
        self.finish()
    }

    /// Runs at most `limit` optimiser steps (validating at each epoch's end), then writes the
    /// checkpoint. Returns whether training is complete (all epochs, or out of time).
    pub fn run_batches(&mut self, limit: usize) -> Result<bool> {
        let mut steps = 0;
        while !self.state.finished && self.state.epoch < self.config.training.epochs {
            let mut epoch = self.begin_epoch()?;
            while self.state.batch < self.n_batches {
                if self.out_of_time() {
                    epoch.bar.finish_and_clear();
                    if self.state.batch > 0 && self.progress {
                        eprintln!(
                            "time limit of {} min reached during epoch {}",
                            self.config.training.max_minutes,
                            self.state.epoch + 1
                        );
                    }
                    return Ok(true);
                }
                if steps == limit {
                    epoch.bar.finish_and_clear();
                    self.checkpoint()?;
                    return Ok(false);
                }
                self.step(&mut epoch)?;
                steps += 1;
                self.checkpoint_if_due()?;
            }
            epoch.bar.finish_and_clear();
            self.end_epoch(epoch)?;
        }
        Ok(true)
    }

    /// The sample orders, progress bar and starting learning rate of the current epoch.
    fn begin_epoch(&self) -> Result<Epoch> {
        let (t, state) = (&self.config.training, &self.state);
        let gen = self.config.generator.as_ref();
        let bar = if self.progress {
            ProgressBar::new(self.n_batches as u64)
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
        Ok(Epoch {
            potential: shuffled(self.train_set.potential.len(), t.seed, state.epoch, 0),
            structures: shuffled(self.train_set.structures.len(), t.seed, state.epoch, 1),
            scores: shuffled(self.train_set.scores.len(), t.seed, state.epoch, 2),
            consistency: gen.is_some_and(|g| state.epoch + 1 >= g.consistency_start_epoch),
            sums: LossSums::default(),
            lr: self.learning_rate(),
            bar,
        })
    }

    /// The learning rate at the current step.
    fn learning_rate(&self) -> f64 {
        let total_steps = (self.config.training.epochs * self.n_batches) as f64;
        let step = self.state.epoch * self.n_batches + self.state.batch;
        learning_rate(self.config, step as f64 / total_steps)
    }

    /// One optimiser step on the current batch of every task.
    fn step(&mut self, epoch: &mut Epoch) -> Result<()> {
        let t = &self.config.training;
        let (bs, batch_index) = (t.batch_size, self.state.batch);
        let kind = self.model.precision().kind();
        let before = epoch.sums.clone();
        let mut total = Tensor::f_zeros([], (kind, self.model.device()))?;
        let mut native_grads = None;
        if !epoch.potential.is_empty() {
            let indices = cycled(&epoch.potential, batch_index, bs);
            let selection = selection(&indices, &self.train_set.potential, t);
            let loss = PotentialLoss::of(t);
            let (value, le, lf) = if t.gradient == Gradient::Native {
                let (l, grads) = self
                    .native
                    .loss_and_gradient(&self.model, &selection, &loss)?;
                native_grads = Some(grads);
                total = total + l.total;
                (l.total, l.energy_mse, l.force_mse)
            } else {
                let batch = collate(&selection, kind, self.model.device())?;
                let (e, f) = energies_and_forces(&self.model, &batch, true)?;
                let (l, le, lf) = loss.loss(&batch, &e, &f)?;
                let value = l.f_double_value(&[])?;
                total = total + l;
                (value, le, lf)
            };
            epoch.sums.potential += value;
            epoch.sums.energy += le;
            epoch.sums.force += lf;
        }
        if let Some(g) = self.config.generator.as_ref() {
            if !epoch.structures.is_empty() {
                total = total + self.generator_losses(g, epoch)?;
            }
        }
        self.adam.zero_grad();
        epoch.lr = self.learning_rate();
        let value = total.f_double_value(&[])?;
        if value.is_finite() {
            match &native_grads {
                Some(grads) => self.adam.step_named(grads, epoch.lr)?,
                None => {
                    total.f_backward()?;
                    self.adam.step(epoch.lr)?
                }
            };
            epoch.sums.total += value;
            epoch.sums.count += 1.0;
        } else {
            // One bad batch must not poison every parameter with NaN: skip it, count it.
            epoch.sums = LossSums {
                skipped: before.skipped + 1,
                ..before
            };
        }
        self.state.batch += 1;
        epoch.bar.set_position(self.state.batch as u64);
        epoch
            .bar
            .set_message(format!("loss {:.4}", epoch.sums.total / epoch.sums.count));
        self.state.elapsed_s = self.elapsed0 + self.started.elapsed().as_secs_f64();
        Ok(())
    }

    /// The denoising loss and, from `consistency_start_epoch` on, the consistency losses of
    /// the current batch, weighted.
    fn generator_losses(&mut self, g: &GeneratorTrainConfig, epoch: &mut Epoch) -> Result<Tensor> {
        let t = &self.config.training;
        let (bs, b) = (t.batch_size, self.state.batch);
        let mut rng = batch_rng(t.seed, self.state.epoch, b);
        let refs: Vec<&GraphSample> = cycled(&epoch.structures, b, bs)
            .into_iter()
            .map(|i| &self.train_set.structures[i])
            .collect();
        let l = denoising_loss(
            &self.model,
            &refs,
            &mut rng,
            g.log_sigma_mean,
            g.log_sigma_std,
        )?;
        epoch.sums.denoise += l.f_double_value(&[])?;
        let mut total = l * g.denoise_weight;
        if !epoch.consistency {
            return Ok(total);
        }
        if let Some(frozen) = self.frozen.as_mut() {
            copy_parameters(&self.model, frozen)?;
            let l = optimality_loss(
                &self.model,
                frozen,
                &refs,
                &mut rng,
                g.optimality_sigma,
                g.optimality,
            )?;
            epoch.sums.optimality += l.f_double_value(&[])?;
            total = total + l * g.optimality_weight;
        }
        if g.score_weight > 0.0 && !epoch.scores.is_empty() {
            let refs: Vec<&GraphSample> = cycled(&epoch.scores, b, bs)
                .into_iter()
                .map(|i| &self.train_set.scores[i])
                .collect();
            let l = score_loss(&self.model, &refs, &mut rng, g.score_sigma, g.kt)?;
            epoch.sums.score += l.f_double_value(&[])?;
            total = total + l * g.score_weight;
        }
        Ok(total)
    }

    fn out_of_time(&self) -> bool {
        self.state.elapsed_s > self.config.training.max_minutes * 60.0
    }

    fn checkpoint_if_due(&mut self) -> Result<()> {
        let due = self.config.training.checkpoint_minutes * 60.0;
        if self.last_checkpoint.elapsed().as_secs_f64() > due {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Writes the resumable state now.
    pub fn checkpoint(&mut self) -> Result<()> {
        let (c, m, a, s) = (self.config, &self.model, &self.adam, &self.state);
        checkpoint::save(&self.files.checkpoint, c, m, a, s)?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Validates after an epoch: the metrics line, the best model, the checkpoint and the
    /// learning curve.
    fn end_epoch(&mut self, epoch: Epoch) -> Result<()> {
        // With an EMA, the averaged parameters are validated and saved, then swapped back.
        if self.adam.has_ema() {
            self.adam.swap_ema()?;
        }
        self.validate_and_save(epoch)?;
        if self.adam.has_ema() {
            self.adam.swap_ema()?;
        }
        if self.state.epoch == self.config.training.epochs {
            self.state.finished = true;
        }
        self.checkpoint()
    }

    /// Validates the model in `self.model`, records the epoch and saves the best model.
    fn validate_and_save(&mut self, epoch: Epoch) -> Result<()> {
        let gen = self.config.generator.as_ref();
        let (pot_loss, val, _, _) = validate(&self.model, &self.val_set.potential, self.config)?;
        let val_denoise = match gen {
            Some(g) => validate_denoising(&self.model, &self.val_set.structures, g)?,
            None => f64::NAN,
        };
        // The terms the run has (NaN marks an absent one); a present term that is not finite
        // means the model diverged, which must not be saved or reported as the best model.
        let terms = [
            (!self.val_set.potential.is_empty(), pot_loss),
            (
                gen.is_some() && !self.val_set.structures.is_empty(),
                gen.map_or(0.0, |g| g.denoise_weight) * val_denoise,
            ),
        ];
        let all_skipped = epoch.sums.count == 0.0 && epoch.sums.skipped > 0;
        if all_skipped || terms.iter().any(|&(present, x)| present && !x.is_finite()) {
            return Err(Error::invalid(format!(
                "training diverged in epoch {}: {} of its steps had a non-finite loss, validation \
                 loss potential {pot_loss}, denoising {val_denoise}; lower \
                 training.learning_rate or start from an earlier model (training.init)",
                self.state.epoch + 1,
                epoch.sums.skipped
            )));
        }
        let val_loss: f64 = terms.iter().filter(|t| t.0).map(|t| t.1).sum();
        self.state.epoch += 1;
        self.state.batch = 0;
        self.state.elapsed_s = self.elapsed0 + self.started.elapsed().as_secs_f64();
        let (sums, c) = (&epoch.sums, epoch.sums.count.max(1.0));
        let record = EpochRecord {
            epoch: self.state.epoch,
            train_loss: sums.total / c,
            train_energy_mse: sums.energy / c,
            train_force_mse: sums.force / c,
            train_denoise: gen.map(|_| sums.denoise / c),
            train_optimality: (epoch.consistency && self.frozen.is_some())
                .then(|| sums.optimality / c),
            train_score: (epoch.consistency && gen.is_some_and(|g| g.score_weight > 0.0))
                .then(|| sums.score / c),
            skipped_steps: sums.skipped,
            validation_loss: val_loss,
            validation: val,
            validation_denoise: gen.map(|_| val_denoise),
            learning_rate: epoch.lr,
            elapsed_s: self.state.elapsed_s,
        };
        if self.progress {
            eprintln!("{}", epoch_line(&record, self.config.training.epochs));
        }
        append_record(&self.files.metrics, &record)?;
        if val_loss < self.state.best_validation {
            self.state.best_validation = val_loss;
            self.state.best_epoch = Some(self.state.epoch);
            let note = serde_json::json!({"epoch": self.state.epoch});
            let fitted = fits_energy(self.config, &self.train_set);
            file::save_fitted(&self.model, &self.files.best, note, fitted)?;
        }
        self.records.push(record);
        plots::learning_curve(&self.files.learning_curve, &self.records)
    }

    /// Writes the final files ([`finish`]); the last model is the averaged one with an EMA.
    fn finish(mut self) -> Result<TrainSummary> {
        if self.adam.has_ema() {
            self.adam.swap_ema()?;
        }
        let n_train = self.train_set.potential.len() + self.train_set.structures.len();
        finish(
            self.config,
            &self.files,
            &self.model,
            &self.state,
            (&self.train_set, &self.val_set),
            n_train,
            self.progress,
        )
    }
}

/// Refits `model`'s per-element reference energies to its energy residuals on the labelled
/// `samples` ([`crate::train::reference::fit_offsets`]); returns the offsets (eV) by element.
fn refit_reference(
    model: &mut Model,
    samples: &[Sample],
    config: &Config,
    progress: bool,
) -> Result<serde_json::Value> {
    let elements = model.config().elements.clone();
    let kind = model.precision().kind();
    let mut residuals = Vec::new();
    for chunk in samples.chunks(config.training.batch_size.max(16)) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let batch = collate(&Selection::plain(&refs), kind, model.device())?;
        let e: Vec<f64> = Vec::try_from(energies(model, &batch)?.f_to_kind(tch::Kind::Double)?)?;
        for (s, e) in chunk.iter().zip(e) {
            let Some(label) = s.energy else { continue };
            let mut n = vec![0.0; elements.len()];
            s.species.iter().for_each(|&z| n[z as usize] += 1.0);
            residuals.push((n, label - e));
        }
    }
    let offsets = crate::train::reference::fit_offsets(elements.len(), &residuals)?;
    crate::train::reference::shift_reference_energies(model, &offsets)?;
    let fitted = crate::train::reference::offsets_by_symbol(&elements, &offsets)?;
    if progress {
        eprintln!(
            "reference energies refitted on {} training frames",
            residuals.len()
        );
    }
    Ok(serde_json::json!({"frames": residuals.len(), "offsets_ev": fitted}))
}

/// Refuses splits without training or validation samples.
fn check_sets(train_set: &Samples, val_set: &Samples) -> Result<()> {
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
    Ok(())
}

/// Parameters and normalisation from `training.init`, or the energy normalisation and mean
/// neighbour count fitted to the training set.
fn initialise(config: &Config, model: &mut Model, train_set: &Samples) -> Result<()> {
    if let Some(init) = &config.training.init {
        let bytes = std::fs::read(init).map_err(|e| Error::io(init, e))?;
        let meta = file::read_metadata(&bytes, init)?;
        if !meta.config.same_parameters(model.config()) {
            return Err(Error::invalid(format!(
                "training.init {}: its architecture or elements differ from this config's",
                init.display()
            )));
        }
        return file::load_variables(&mut model.vs, &bytes, init, false);
    }
    let (e_ref, scale) = fit_normalisation(&train_set.potential, model.config().elements.len());
    model.set_energy_normalisation(&e_ref, scale)?;
    let n_atoms: usize = train_set.potential.iter().map(Sample::n_atoms).sum();
    let n_pairs: usize = train_set.potential.iter().map(|s| s.first.len()).sum();
    if n_atoms > 0 {
        model.set_avg_neighbors(n_pairs as f64 / n_atoms as f64)?;
    }
    Ok(())
}

/// Batches per epoch: enough for the larger task, capped by `steps_per_epoch`.
fn batches_per_epoch(config: &Config, train_set: &Samples) -> usize {
    let bs = config.training.batch_size;
    let structures = if config.generator.is_some() {
        train_set.structures.len().div_ceil(bs)
    } else {
        0
    };
    let n = train_set.potential.len().div_ceil(bs).max(structures);
    config
        .training
        .steps_per_epoch
        .map_or(n, |cap| n.min(cap.max(1)))
}

/// "val E MAE .. meV/atom  val F MAE .. meV/Å" (and "val rel E MAE .. meV" where the
/// validation frames have partners), or `None` for a run without potential data (a
/// structure-only generator run, whose errors are NaN).
fn potential_errors(v: &ErrorMetrics) -> Option<String> {
    (!v.energy_per_atom_mae.is_nan()).then(|| {
        let mut line = format!(
            "val E MAE {:.1} meV/atom  val F MAE {:.1} meV/Å",
            1000.0 * v.energy_per_atom_mae,
            1000.0 * v.force_mae
        );
        if v.n_relative > 0 {
            line += &format!("  val rel E MAE {:.0} meV", 1000.0 * v.relative_energy_mae);
        }
        line
    })
}

/// The progress line of an epoch.
fn epoch_line(record: &EpochRecord, epochs: usize) -> String {
    let mut line = format!(
        "epoch {:>3}/{}  train loss {:.4}",
        record.epoch, epochs, record.train_loss
    );
    if let Some(errors) = potential_errors(&record.validation) {
        line += &format!("  {errors}");
    }
    if let Some(d) = record.validation_denoise {
        line += &format!("  val denoise {d:.4}");
    }
    if record.skipped_steps > 0 {
        line += &format!("  ({} non-finite steps skipped)", record.skipped_steps);
    }
    if let Some(o) = record.train_optimality {
        line += &format!("  opt {o:.4}");
    }
    if let Some(s) = record.train_score {
        line += &format!("  score {s:.4}");
    }
    line + &format!(
        "  lr {:.2e}  {:.0} s",
        record.learning_rate, record.elapsed_s
    )
}

/// Running sums of the loss terms over an epoch.
#[derive(Default, Clone)]
struct LossSums {
    total: f64,
    potential: f64,
    energy: f64,
    force: f64,
    denoise: f64,
    optimality: f64,
    score: f64,
    count: f64,
    skipped: usize,
}

/// Whether a run fits the energy head: labelled frames with a non-zero energy or force weight
/// (a structure-only run leaves it untrained: [`file::Metadata::energy_trained`]).
fn fits_energy(config: &Config, train_set: &Samples) -> bool {
    let t = &config.training;
    !train_set.potential.is_empty() && (t.energy_weight > 0.0 || t.force_weight > 0.0)
}

/// Writes the final model (the best one, with full provenance), the last epoch's model and the
/// parity plot.
fn finish(
    config: &Config,
    files: &RunFiles,
    last: &Model,
    state: &LoopState,
    (train_set, val_set): (&Samples, &Samples),
    n_train: usize,
    progress: bool,
) -> Result<TrainSummary> {
    let best_epoch = state.best_epoch.ok_or_else(|| {
        Error::invalid(
            "training stopped before the first epoch completed; raise training.max_minutes",
        )
    })?;
    // A refit adds offsets to reference energies of tens of eV: in float64, so that the file
    // keeps them exactly (float32 would round each by ~1e-6 eV).
    let precision = match config.training.refit_reference {
        true => crate::model::Precision::Float64,
        false => config.training.precision,
    };
    let (mut best, _) = file::load(&files.best, Device::Cpu, precision)?;
    let refit = match config.training.refit_reference {
        true => Some(refit_reference(
            &mut best,
            &train_set.potential,
            config,
            progress,
        )?),
        false => None,
    };
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
        "reference_refit": refit,
    });
    let fitted = fits_energy(config, train_set);
    file::save_fitted(&best, &files.model, provenance, fitted)?;
    file::save_fitted(
        last,
        &files.last,
        serde_json::json!({"config": config, "epoch": state.epoch, "selected": "last epoch"}),
        fitted,
    )?;
    if progress {
        let errors = potential_errors(&val).map_or(String::new(), |e| format!(": {e}"));
        eprintln!(
            "best epoch {best_epoch}{errors} -> {}",
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
