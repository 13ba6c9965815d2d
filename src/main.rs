//! `concord`: train, evaluate and inspect Concord models.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use concord::generate::{
    generate_structures, GraphRequest, PipelineModels, PipelineOptions, Sample, SamplerOptions,
};
use concord::metrics::ErrorAccumulator;
use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::optimize::{optimize, Method, OptimizeOptions, OptimizeResult, PotentialObjective};
use concord::potential::{Device, Potential};
#[cfg(feature = "torch")]
use concord::train::Config;

#[derive(Parser)]
#[command(
    name = "concord",
    version,
    about = "Learned molecular potentials and structure generation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train (or resume training) a model from a TOML config (needs the `torch` feature).
    #[cfg(feature = "torch")]
    Train {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Train on this device (cpu, cuda, cuda:N) instead of the config's `training.device`.
        #[arg(long)]
        device: Option<String>,
    },
    /// Refit a trained model's per-element reference energies to labelled frames (as DeePMD-kit's
    /// change-bias): the network and so the forces are unchanged; energies lose the part of their
    /// error that is linear in the composition. Fit on training data, never on test data.
    #[cfg(feature = "torch")]
    RefitReference {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Extended-XYZ file(s) with energy labels (.gz allowed).
        #[arg(long, required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Where to write the refitted model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Export a training config's data (structure graphs and PM6 positions, labelled frames,
    /// the validation split) with reference outputs of its `training.init` model, for the
    /// PyTorch trainer on a GPU machine (scripts/gpu/train.py).
    #[cfg(feature = "torch")]
    ExportData {
        /// The training config (its datasets and `training.init`).
        #[arg(long)]
        config: PathBuf,
        /// Where to write the export (safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Validation molecules and frames with reference outputs.
        #[arg(long, default_value_t = 16)]
        reference: usize,
    },
    /// Write a model file with every parameter taken from a safetensors file written by an
    /// external trainer (scripts/gpu/train.py), checksummed and with its provenance.
    #[cfg(feature = "torch")]
    ImportParameters {
        /// The model the external trainer started from.
        #[arg(long)]
        model: PathBuf,
        /// The trained parameters (every tensor of the model, float64).
        #[arg(long)]
        parameters: PathBuf,
        /// Where to write the new model file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Energy and force errors of a model against labelled frames.
    Eval {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Extended-XYZ file(s) with energy/forces labels (.gz allowed).
        #[arg(long, required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        /// Print metrics as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        compute: ComputeArgs,
    },
    /// A committee's disagreement on every frame of a trajectory (DeePMD-kit's model deviation).
    Deviation {
        /// Two or more model files (the committee; the first is the one that drives MD).
        #[arg(long = "model", required = true, num_args = 1..)]
        models: Vec<PathBuf>,
        /// Extended-XYZ trajectory (.gz allowed); labels are ignored.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the model-deviation table (`step max_devi_v min_devi_v avg_devi_v
        /// max_devi_f min_devi_f avg_devi_f`, step = frame index).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        compute: ComputeArgs,
    },
    /// Generate 3D structures of molecules from their bond graphs with the structure generator.
    #[command(group(clap::ArgGroup::new("molecules").required(true).args(["graphs", "smiles"])))]
    Generate {
        /// The model file (with a generator).
        #[arg(long)]
        model: PathBuf,
        /// SDF/MOL V2000 file with the molecules' graphs and formal charges (`M  CHG`; the
        /// coordinates are ignored but for stereo).
        #[arg(long)]
        graphs: Option<PathBuf>,
        /// A molecule as a SMILES string (repeat for several): hydrogens are added from the
        /// default valences and aromatic rings kekulized; @, @@, / and \ set the configurations
        /// of stereocentres and double bonds; formal charges ([N+], [O-]) must sum to zero.
        #[arg(long)]
        smiles: Vec<String>,
        /// Output extended-XYZ file (all samples of all molecules).
        #[arg(long)]
        out: PathBuf,
        /// Samples per molecule.
        #[arg(long, default_value_t = 1)]
        samples: usize,
        /// Seed of the sampler; molecule m (0-based) of the file uses seed + m.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Noise levels of the sampler; 0: the generator's default (the `sampler_steps` its
        /// model file records, else 64).
        #[arg(long, default_value_t = 0)]
        steps: usize,
        /// Stochasticity of the sampler (EDM's S_churn) at every level; 0: the deterministic
        /// sampler; -1: the generator's default (the `sampler_churn` its model file records, at
        /// the levels up to its `sampler_churn_max_sigma`, else 0).
        #[arg(long, default_value_t = concord::generate::DEFAULT_CHURN, allow_negative_numbers = true)]
        churn: f64,
        /// Relax each generated structure with the model's potential (L-BFGS).
        #[arg(long)]
        relax: bool,
        /// Relax (with --relax) and rank the samples with this potential's energies instead of
        /// the generator model's own energy head (it must know the molecules' elements).
        #[arg(long)]
        potential: Option<PathBuf>,
        /// Force threshold of the relaxation, eV/Å.
        #[arg(long, default_value_t = concord::generate::relax_defaults().fmax)]
        fmax: f64,
        /// Precondition the relaxation's L-BFGS with a model Hessian (bonds, angles, torsions;
        /// about half the force calls); `--precondition false` for plain L-BFGS.
        #[arg(long, default_value_t = concord::generate::relax_defaults().precondition,
              num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
        precondition: bool,
        /// Rounds of redrawing a sample that gets a stereocentre or double bond of the input
        /// wrong or breaks its bond graph (replaced when the new draw gets fewer wrong, then
        /// has fewer sanity problems); 0: keep the first draws. A molecule of 41-80 atoms gets
        /// one more round, of structures joined from generated pieces, for samples still at
        /// fault. A molecule of more than 80 atoms, joined from generated pieces, is not
        /// redrawn whole: its pieces are.
        #[arg(long, default_value_t = concord::generate::REDRAWS)]
        redraws: usize,
        #[command(flatten)]
        compute: ComputeArgs,
    },
    /// Relax every frame of an extended-XYZ file on the model's potential energy surface.
    Optimize {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Input extended-XYZ file (.gz allowed).
        #[arg(long = "in")]
        input: PathBuf,
        /// Output extended-XYZ file: optimised frames with the model's energy and forces.
        #[arg(long)]
        out: PathBuf,
        /// Convergence threshold on the largest per-atom force, eV/Å.
        #[arg(long, default_value_t = 0.01)]
        fmax: f64,
        /// Largest number of steps per frame.
        #[arg(long, default_value_t = 500)]
        max_steps: usize,
        /// Optimisation method: lbfgs or fire.
        #[arg(long, default_value = "lbfgs")]
        method: Method,
        /// Precondition L-BFGS with a model Hessian (Lindh et al. 1995; molecules up to 300
        /// atoms): a quarter of the force calls from MMFF structures, landing a little farther
        /// from the reference minimum along soft modes (torsions).
        #[arg(long)]
        precondition: bool,
        #[command(flatten)]
        compute: ComputeArgs,
        /// Print per-frame results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a model file's metadata.
    Inspect {
        /// The model file.
        model: PathBuf,
    },
    /// Record a generator's default sampler settings (what `steps` 0 and `churn` -1 mean in
    /// every front end) in a copy of its model file: parameters unchanged, the edit appended to
    /// its provenance (`sampler_set`). Settings not given stay as they are.
    SetSampler {
        /// The model file (with a generator).
        #[arg(long)]
        model: PathBuf,
        /// Noise levels, 2 to 100000.
        #[arg(long)]
        steps: Option<usize>,
        /// Stochasticity (EDM's S_churn), finite and >= 0.
        #[arg(long, allow_negative_numbers = true)]
        churn: Option<f64>,
        /// The noise level (Å) at and below which the default churn acts.
        #[arg(long, allow_negative_numbers = true)]
        churn_max_sigma: Option<f64>,
        /// Where to write the edited model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Give a potential the ZBL core (screened nuclear repulsion below a fraction of each
    /// pair's covalent-radii sum, docs/potential.md) in a copy of its model file, or remove it:
    /// parameters unchanged, the edit appended to its provenance (`zbl_set`). With a range
    /// below every bond length of the training data, energies and forces there are unchanged.
    SetZbl {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Fraction of the covalent-radii sum below which the repulsion acts, in (0, 1]; 0
        /// removes the core.
        #[arg(long)]
        range: f64,
        /// Where to write the edited model.
        #[arg(long)]
        out: PathBuf,
    },
    /// Widen a trained potential to more features per layer (Net2Net-style): the new channels
    /// start random where they are written and at zero where they are read, so the widened
    /// model computes the same energies and forces; continue training it with `training.init`
    /// and `[model] features` set to the new width. The edit is appended to its provenance
    /// (`widened`).
    Widen {
        /// The model file (a potential without a structure generator).
        #[arg(long)]
        model: PathBuf,
        /// The new number of features per layer (more than the model's).
        #[arg(long)]
        features: usize,
        /// Seed of the new channels' random weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the widened model.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where and in which precision a command evaluates its model.
#[derive(clap::Args, Debug)]
struct ComputeArgs {
    /// Compute in float64 instead of float32.
    #[arg(long)]
    float64: bool,
    /// Device: cpu (the native runtime), cuda or cuda:N (libtorch).
    #[arg(long, default_value = "cpu")]
    device: String,
}

impl ComputeArgs {
    /// Loads `model` on this device in this precision.
    fn load(&self, model: &Path) -> concord::Result<Potential> {
        let precision = if self.float64 {
            Precision::Float64
        } else {
            Precision::Float32
        };
        Potential::load(model, self.device.parse::<Device>()?, precision)
    }
}

fn run(cli: Cli) -> concord::Result<()> {
    match cli.command {
        #[cfg(feature = "torch")]
        Command::Train {
            config,
            json,
            device,
        } => {
            concord::train::heap::keep_freed_memory();
            train_config(&config, json, device)?
        }
        #[cfg(feature = "torch")]
        Command::RefitReference { model, data, out } => refit_reference(&model, &data, &out)?,
        #[cfg(feature = "torch")]
        Command::ExportData {
            config,
            out,
            reference,
        } => {
            let config = concord::train::Config::load(&config)?;
            let s = concord::train::export::export_data(&config, &out, reference)?;
            eprintln!(
                "{} molecules ({} validation, {} edges), {} frames ({} validation, {} atoms), \
                 {} with reference outputs -> {}",
                s.molecules,
                s.validation,
                s.edges,
                s.frames,
                s.frame_validation,
                s.frame_atoms,
                s.reference,
                out.display()
            );
        }
        #[cfg(feature = "torch")]
        Command::ImportParameters {
            model,
            parameters,
            out,
        } => {
            concord::train::export::import_parameters(&model, &parameters, &out)?;
            eprintln!(
                "parameters of {} -> {}",
                parameters.display(),
                out.display()
            );
        }
        Command::Eval {
            model,
            data,
            json,
            compute,
        } => eval_files(&model, &data, json, &compute)?,
        Command::Deviation {
            models,
            data,
            out,
            compute,
        } => deviation_file(&models, &data, &out, &compute)?,
        Command::Generate {
            model,
            graphs,
            smiles,
            out,
            samples,
            seed,
            steps,
            churn,
            relax,
            potential,
            fmax,
            precondition,
            redraws,
            compute,
        } => {
            let sampler = SamplerOptions {
                steps,
                churn,
                ..Default::default()
            };
            let opts = PipelineOptions {
                samples,
                sampler,
                relax: relax.then_some(OptimizeOptions {
                    fmax,
                    precondition,
                    ..concord::generate::relax_defaults()
                }),
                redraws,
            };
            let files = GenerateFiles {
                model: &model,
                potential: potential.as_deref(),
                graphs: graphs.as_deref(),
                smiles: &smiles,
                out: &out,
            };
            generate_file(&files, seed, &opts, &compute)?;
        }
        Command::Optimize {
            model,
            input,
            out,
            fmax,
            max_steps,
            method,
            precondition,
            compute,
            json,
        } => {
            let opts = OptimizeOptions {
                fmax,
                max_steps,
                method,
                precondition,
                ..Default::default()
            };
            optimize_file(&model, &input, &out, &opts, &compute, json)?;
        }
        Command::Inspect { model } => inspect(&model)?,
        Command::SetSampler {
            model,
            steps,
            churn,
            churn_max_sigma,
            out,
        } => set_sampler(&model, steps, churn, churn_max_sigma, &out)?,
        Command::SetZbl { model, range, out } => set_zbl(&model, range, &out)?,
        Command::Widen {
            model,
            features,
            seed,
            out,
        } => widen(&model, features, seed, &out)?,
    }
    Ok(())
}

/// `concord train`: trains (or resumes) the run of a config, on `device` if given (else the
/// config's `training.device`, else the CPU); the summary as JSON with `json`.
#[cfg(feature = "torch")]
fn train_config(config: &Path, json: bool, device: Option<String>) -> concord::Result<()> {
    let mut config = Config::load(config)?;
    if let Some(device) = device {
        device.parse::<Device>()?;
        config.training.device = Some(device);
    }
    let summary = concord::train::train(&config, !json)?;
    if json {
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
        println!("{text}");
    }
    Ok(())
}

/// `concord eval`: energy and force errors of a model against each labelled file (a file
/// without any label is an error), as a table or JSON.
fn eval_files(
    model: &Path,
    data: &[PathBuf],
    json: bool,
    compute: &ComputeArgs,
) -> concord::Result<()> {
    let pot = compute.load(model)?;
    let mut results = serde_json::Map::new();
    for path in data {
        let frames = concord::io::read_extxyz(path)?;
        let m = errors(&pot, &frames, path)?;
        if !json {
            println!("{} ({} frames)", path.display(), frames.len());
            println!(
                "  energy  MAE {:9.4} eV   RMSE {:9.4} eV   per atom: MAE {:7.2} meV  RMSE {:7.2} meV",
                m.energy_mae,
                m.energy_rmse,
                1000.0 * m.energy_per_atom_mae,
                1000.0 * m.energy_per_atom_rmse
            );
            println!(
                "  forces  MAE {:7.1} meV/Å   RMSE {:7.1} meV/Å   ({} components)",
                1000.0 * m.force_mae,
                1000.0 * m.force_rmse,
                m.n_force_components
            );
        }
        let value = serde_json::to_value(m).unwrap_or_default();
        results.insert(path.display().to_string(), value);
    }
    if json {
        println!("{}", serde_json::Value::Object(results));
    }
    Ok(())
}

/// `concord refit-reference`: fits per-element offsets on `data` (float64, native runtime), adds
/// them to the reference energies of `model` and writes the result with the fit in its provenance.
#[cfg(feature = "torch")]
fn refit_reference(model: &Path, data: &[PathBuf], out: &Path) -> concord::Result<()> {
    use concord::train::reference::{
        offsets_by_symbol, reference_offsets, shift_reference_energies,
    };
    let inputs: Vec<&Path> = data.iter().map(PathBuf::as_path).chain([model]).collect();
    concord::io::files::check_not_input(out, &inputs)?;
    let pot = Potential::load(model, Device::Cpu, Precision::Float64)?;
    let mut frames = Vec::new();
    for path in data {
        frames.extend(concord::io::read_extxyz(path)?);
    }
    let elements = pot.config().elements.clone();
    let offsets = reference_offsets(&pot, &elements, &frames)?;
    let (mut m, meta) = concord::model::file::load(model, tch::Device::Cpu, Precision::Float64)?;
    shift_reference_energies(&mut m, &offsets)?;
    let fitted = offsets_by_symbol(&elements, &offsets)?;
    for (z, d) in elements.iter().zip(&offsets) {
        eprintln!("{}: {d:+.6} eV", concord::elements::symbol(*z)?);
    }
    let mut training = meta.training;
    let record = serde_json::json!({
        "data": data.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "frames": frames.iter().filter(|f| f.energy.is_some()).count(),
        "offsets_ev": fitted,
    });
    match training.as_object_mut() {
        Some(obj) => {
            obj.insert("reference_refit".into(), record);
        }
        None => training = serde_json::json!({"before": training, "reference_refit": record}),
    }
    concord::model::file::save(&m, out, training)?;
    eprintln!(
        "reference energies refitted on {} frames -> {}",
        frames.len(),
        out.display()
    );
    Ok(())
}

/// `concord deviation`: the committee of `models` on every frame of `data`, written to `out`
/// as a model-deviation table; prints the largest force deviation and where it occurs.
fn deviation_file(
    models: &[PathBuf],
    data: &Path,
    out: &Path,
    compute: &ComputeArgs,
) -> concord::Result<()> {
    use concord::committee::{Committee, DEVIATION_HEADER};
    concord::io::files::check_not_input(out, &[data])?;
    concord::io::files::prepare_output(out)?;
    let members = models
        .iter()
        .map(|m| compute.load(m))
        .collect::<concord::Result<Vec<_>>>()?;
    let committee = Committee::new(members)?;
    let frames = concord::io::read_extxyz(data)?;
    let bar = indicatif::ProgressBar::new(frames.len() as u64);
    let mut text = format!("{DEVIATION_HEADER}\n");
    let mut worst = (0.0f64, 0usize);
    for (k, frame) in frames.iter().enumerate() {
        let (_, dev) = committee.compute_frame(frame, Request::default())?;
        text.push_str(&dev.row(k as u64));
        text.push('\n');
        if dev.max_devi_f > worst.0 {
            worst = (dev.max_devi_f, k);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    concord::io::files::write_atomic(out, text.as_bytes())?;
    println!(
        "{} frames, {} models -> {}; largest max_devi_f {:.4} eV/Å at frame {}",
        frames.len(),
        models.len(),
        out.display(),
        worst.0,
        worst.1
    );
    Ok(())
}

/// The errors of `pot` on the labelled `frames` of `path`, with a progress bar.
fn errors(
    pot: &Potential,
    frames: &[concord::Frame],
    path: &Path,
) -> concord::Result<concord::metrics::ErrorMetrics> {
    if !frames
        .iter()
        .any(|f| f.energy.is_some() || f.forces.is_some())
    {
        return Err(concord::Error::invalid(format!(
            "{}: no frame with an energy or forces to compare with ({} frames)",
            path.display(),
            frames.len()
        )));
    }
    let bar = indicatif::ProgressBar::new(frames.len() as u64);
    let mut acc = ErrorAccumulator::default();
    for frame in frames {
        let want = Request {
            forces: frame.forces.is_some(),
            ..Default::default()
        };
        let p = pot.compute_frame(frame, want)?;
        if let Some(e) = frame.energy {
            acc.add_energy(p.energy, e, frame.len());
        }
        if let (Some(f), Some(pf)) = (&frame.forces, &p.forces) {
            acc.add_forces(pf, f);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(acc.metrics())
}

/// `concord inspect`: a model file's metadata as JSON.
fn inspect(model: &Path) -> concord::Result<()> {
    let bytes = std::fs::read(model).map_err(|e| concord::Error::io(model, e))?;
    let meta = concord::model::file::read_metadata(&bytes, model)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&meta).unwrap_or_default()
    );
    Ok(())
}

/// `concord set-sampler`: `model` with its generator's default sampler `steps`, `churn` and
/// `churn_max_sigma` (Å) set where given, written to `out`.
fn set_sampler(
    model: &Path,
    steps: Option<usize>,
    churn: Option<f64>,
    churn_max_sigma: Option<f64>,
    out: &Path,
) -> concord::Result<()> {
    use concord::model::config::{check_sampler_churn, check_sampler_steps};
    concord::io::files::check_not_input(out, &[model])?;
    if steps.is_none() && churn.is_none() && churn_max_sigma.is_none() {
        return Err(concord::Error::invalid(
            "nothing to set: give --steps, --churn and/or --churn-max-sigma",
        ));
    }
    if let Some(s) = steps {
        check_sampler_steps(i64::try_from(s).unwrap_or(i64::MAX))
            .map_err(|e| concord::Error::invalid(format!("--steps {e}")))?;
    }
    check_sampler_churn(churn, churn_max_sigma).map_err(concord::Error::invalid)?;
    concord::io::prepare_output(out)?;
    let bytes = std::fs::read(model).map_err(|e| concord::Error::io(model, e))?;
    let mut summary = String::new();
    let edited = concord::model::file::edit_metadata(&bytes, model, |meta| {
        let gen = meta.config.generator.as_mut().ok_or_else(|| {
            concord::Error::Unsupported(format!("{} has no structure generator", model.display()))
        })?;
        let settings = |g: &concord::model::GeneratorConfig| {
            serde_json::json!({"steps": g.sampler_steps, "churn": g.sampler_churn,
                "churn_max_sigma": g.sampler_churn_max_sigma})
        };
        let before = settings(gen);
        gen.sampler_steps = steps.map(|s| s as i64).or(gen.sampler_steps);
        gen.sampler_churn = churn.or(gen.sampler_churn);
        gen.sampler_churn_max_sigma = churn_max_sigma.or(gen.sampler_churn_max_sigma);
        let after = settings(gen);
        summary = format!("default sampler {before} -> {after}");
        let record = serde_json::json!({"before": before, "after": after});
        concord::model::file::record_edit(&mut meta.training, "sampler_set", record);
        Ok(())
    })?;
    concord::io::files::write_atomic(out, &edited)?;
    eprintln!("{summary}: {}", out.display());
    Ok(())
}

/// `concord set-zbl`: `model` with its ZBL core's `range` set (0: removed), written to `out`.
fn set_zbl(model: &Path, range: f64, out: &Path) -> concord::Result<()> {
    concord::io::files::check_not_input(out, &[model])?;
    let range = (range != 0.0).then_some(range);
    if let Some(r) = range {
        concord::model::zbl::check_range(r)
            .map_err(|e| concord::Error::invalid(format!("--range: {e}")))?;
    }
    concord::io::prepare_output(out)?;
    let bytes = std::fs::read(model).map_err(|e| concord::Error::io(model, e))?;
    let mut summary = String::new();
    let edited = concord::model::file::edit_metadata(&bytes, model, |meta| {
        let before = meta.config.encoder.zbl;
        meta.config.encoder.zbl = range;
        let show = |r: Option<f64>| r.map_or("none".to_string(), |r| r.to_string());
        summary = format!("ZBL core {} -> {}", show(before), show(range));
        concord::model::file::record_edit(
            &mut meta.training,
            "zbl_set",
            serde_json::json!({"before": before, "after": range}),
        );
        Ok(())
    })?;
    concord::io::files::write_atomic(out, &edited)?;
    eprintln!("{summary}: {}", out.display());
    Ok(())
}

/// `concord widen`: `model` widened to `features` features per layer, written to `out`.
fn widen(model: &Path, features: usize, seed: u64, out: &Path) -> concord::Result<()> {
    concord::io::files::check_not_input(out, &[model])?;
    concord::io::prepare_output(out)?;
    let bytes = std::fs::read(model).map_err(|e| concord::Error::io(model, e))?;
    let widened = concord::model::widen::widen(&bytes, model, features, seed)?;
    concord::io::files::write_atomic(out, &widened)?;
    eprintln!("widened to {features} features: {}", out.display());
    Ok(())
}

/// `concord generate`: the molecules of an SDF file or of SMILES strings through the generation
/// pipeline (molecule m gets seed + m), every sample written to `out` with what the pipeline
/// found (info keys `sample`, `rank`, `sane`, `problem`, `opt_converged`, ...). Molecules that
/// fail are named; the command fails when any did, after writing the others.
/// The inputs and output of `concord generate`.
struct GenerateFiles<'a> {
    /// The model with the generator.
    model: &'a Path,
    /// A dedicated potential that relaxes and ranks (`None`: the generator model's own).
    potential: Option<&'a Path>,
    /// SDF with the molecules' graphs (else `smiles`).
    graphs: Option<&'a Path>,
    /// SMILES strings.
    smiles: &'a [String],
    /// Output extended-XYZ file.
    out: &'a Path,
}

fn generate_file(
    files: &GenerateFiles,
    seed: u64,
    opts: &PipelineOptions,
    compute: &ComputeArgs,
) -> concord::Result<()> {
    let GenerateFiles {
        model,
        potential,
        graphs,
        smiles,
        out,
    } = *files;
    // Refuse an unusable output or options before any work is done.
    concord::io::prepare_output(out)?;
    let inputs: Vec<&Path> = [model].into_iter().chain(potential).chain(graphs).collect();
    concord::io::check_not_input(out, &inputs)?;
    opts.validate()?;
    let pot = compute.load(model)?;
    let scorer = potential.map(|p| compute.load(p)).transpose()?;
    let models = PipelineModels {
        generator: &pot,
        potential: scorer.as_ref().unwrap_or(&pot),
    };
    let mols = match graphs {
        Some(path) => concord::io::read_sdf(path)?,
        None => smiles_molecules(smiles)?,
    };
    let requests: Vec<GraphRequest> = mols
        .iter()
        .enumerate()
        .map(|(m, mol)| GraphRequest {
            numbers: &mol.numbers,
            bonds: &mol.bonds,
            charges: &mol.charges,
            stereo: &mol.stereo,
            seed: seed.wrapping_add(m as u64),
        })
        .collect();
    let bar = indicatif::ProgressBar::new(requests.len() as u64);
    let results = generate_structures(models, &requests, opts, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let (mut frames, mut failed, mut n_sane) = (Vec::new(), Vec::new(), 0);
    for (m, (mol, outcome)) in mols.iter().zip(results).enumerate() {
        match outcome {
            Ok(samples) => {
                let sane = samples.iter().filter(|s| s.sane()).count();
                if sane == 0 {
                    warn_no_sane(m, mol, &samples);
                }
                n_sane += sane;
                let s = seed.wrapping_add(m as u64);
                frames.extend(samples.into_iter().map(|x| sample_frame(mol, s, x)));
            }
            Err(e) => {
                eprintln!("error: molecule {m} ('{}') failed: {e}", mol.name);
                failed.push(mol.name.clone());
            }
        }
    }
    if frames.is_empty() {
        return Err(concord::Error::invalid(format!(
            "no structure generated: all {} molecules failed (see errors above); nothing \
             written to {}",
            mols.len(),
            out.display()
        )));
    }
    concord::io::write_extxyz(out, &frames)?;
    eprintln!(
        "{} structures of {} molecules -> {}; {n_sane} sane (bond lengths and contacts: info key \
         `sane`; `rank` 0 = the best sample of its molecule)",
        frames.len(),
        mols.len() - failed.len(),
        out.display(),
    );
    if !failed.is_empty() {
        return Err(concord::Error::invalid(format!(
            "{} of {} molecules failed and are not in {}: {}",
            failed.len(),
            mols.len(),
            out.display(),
            failed.join(", ")
        )));
    }
    Ok(())
}

/// Tells the user that molecule `m` got no sane sample, with its size and the best sample's
/// first problem: its structures are in the output (flagged `sane=F`) but none is usable.
fn warn_no_sane(m: usize, mol: &concord::Molecule, samples: &[concord::generate::Sample]) {
    let best = samples.iter().find(|s| s.rank == 0);
    let problem = best
        .and_then(|s| s.problems.first())
        .map_or(String::new(), |p| format!(" (the best sample: {p})"));
    eprintln!(
        "warning: molecule {m} ('{}', {} atoms) has no sane sample among {}{problem}; more \
         samples (--samples) may find one (docs/results.md#size: the shipped generator's \
         limits by molecule size)",
        mol.name,
        mol.numbers.len(),
        samples.len()
    );
}

/// One pipeline sample of `mol` (seeded with `seed`) as an output frame.
fn sample_frame(mol: &concord::Molecule, seed: u64, s: Sample) -> concord::Frame {
    let sane = s.sane();
    let mut f = concord::Frame::new(mol.numbers.clone(), s.positions);
    f.energy = s.energy;
    f.forces = s.forces;
    let info = [
        ("mol", mol.name.clone()),
        ("sample", s.index.to_string()),
        ("seed", seed.to_string()),
        ("rank", s.rank.to_string()),
        ("sane", if sane { "T" } else { "F" }.into()),
    ];
    f.info
        .extend(info.into_iter().map(|(k, v)| (k.to_string(), v)));
    if s.draw != s.index {
        f.info.insert("draw".into(), s.draw.to_string());
    }
    if let Some(p) = s.problems.first() {
        f.info.insert("problem".into(), p.to_string());
    }
    match s.relaxation {
        Some(Ok(r)) => {
            let converged = if r.converged { "T" } else { "F" };
            f.info.insert("opt_converged".into(), converged.into());
            f.info.insert("opt_steps".into(), r.steps.to_string());
        }
        Some(Err(e)) => {
            f.info.insert("opt_converged".into(), "F".into());
            f.info.insert("relax_error".into(), e.to_string());
        }
        None => {}
    }
    f
}

/// The molecular graphs of SMILES strings; warns about stereo marks that mark no stereocentre
/// or stereogenic double bond (they are ignored).
fn smiles_molecules(smiles: &[String]) -> concord::Result<Vec<concord::Molecule>> {
    smiles
        .iter()
        .map(|s| {
            let g = concord::io::parse_smiles(s)?;
            if g.has_stereo && g.molecule.stereo.is_empty() {
                eprintln!(
                    "warning: '{s}': its stereo marks are on no stereocentre or stereogenic \
                     double bond and are ignored"
                );
            }
            Ok(g.molecule)
        })
        .collect()
}

/// The `--json` record of input frame `k` (`atoms` atoms) optimised to `r`.
fn optimize_row(k: usize, atoms: usize, r: &OptimizeResult) -> serde_json::Value {
    serde_json::json!({
        "frame": k,
        "atoms": atoms,
        "method": r.method,
        "converged": r.converged,
        "steps": r.steps,
        "force_calls": r.force_calls,
        "initial_energy": r.initial_energy,
        "energy": r.energy,
        "max_force": r.max_force,
    })
}

/// Input frame `k` at the optimised positions of `r`, with the potential's energy and forces
/// there (no stress) and the `opt_*` and `input_frame` info keys.
fn optimized_frame(frame: &concord::Frame, k: usize, r: OptimizeResult) -> concord::Frame {
    let mut out = frame.clone();
    out.energy = Some(r.energy);
    out.forces = Some(r.gradient.iter().map(|g| g.map(|v| -v)).collect());
    out.stress = None;
    out.positions = r.positions;
    let info = [
        (
            "opt_converged",
            if r.converged { "T" } else { "F" }.to_string(),
        ),
        ("opt_steps", r.steps.to_string()),
        ("opt_force_calls", r.force_calls.to_string()),
        ("opt_method", r.method.to_string()),
        ("input_frame", k.to_string()),
    ];
    for (key, value) in info {
        out.info.insert(key.to_string(), value);
    }
    out
}

/// `concord optimize`: relaxes every frame of `input`, writes them to `out` with the model's
/// energy and forces and `opt_*` info keys, and prints a table (or JSON) row per frame.
fn optimize_file(
    model: &Path,
    input: &Path,
    out: &Path,
    opts: &OptimizeOptions,
    compute: &ComputeArgs,
    json: bool,
) -> concord::Result<()> {
    // Refuse unusable options or an unusable output before any work is done.
    opts.validate()?;
    concord::io::prepare_output(out)?;
    concord::io::check_not_input(out, &[input, model])?;
    let pot = compute.load(model)?;
    let frames = concord::io::read_extxyz(input)?;
    let bar = if frames.len() > 1 {
        indicatif::ProgressBar::new(frames.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if !json {
        println!(
            "{:>6} {:>6} {:>16} {:>16} {:>10} {:>6} {:>6} {:>9}",
            "frame",
            "atoms",
            "E_start/eV",
            "E_final/eV",
            "Fmax/eV/Å",
            "steps",
            "calls",
            "converged"
        );
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    // A frame that cannot be optimised is reported and left out; the others are written.
    let mut errors: Vec<String> = Vec::new();
    let mut done = Vec::with_capacity(frames.len());
    let n_frames = frames.len();
    for (k, frame) in frames.iter().enumerate() {
        let mut obj = PotentialObjective {
            potential: &pot,
            numbers: &frame.numbers,
            cell: frame.cell,
            pbc: frame.pbc,
        };
        let r = match optimize(&mut obj, &frame.positions, opts) {
            Ok(r) => r,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {}: frame {k}: {e}", input.display()));
                errors.push(format!("frame {k}"));
                bar.inc(1);
                continue;
            }
        };
        failed += usize::from(!r.converged);
        if !json {
            bar.suspend(|| {
                println!(
                    "{k:>6} {:>6} {:>16.6} {:>16.6} {:>10.5} {:>6} {:>6} {:>9}",
                    frame.len(),
                    r.initial_energy,
                    r.energy,
                    r.max_force,
                    r.steps,
                    r.force_calls,
                    if r.converged { "yes" } else { "NO" }
                )
            });
        }
        rows.push(optimize_row(k, frame.len(), &r));
        done.push(optimized_frame(frame, k, r));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !errors.is_empty() && errors.len() == n_frames {
        return Err(concord::Error::invalid(format!(
            "{}: no frame could be optimised (see errors above); nothing written to {}",
            input.display(),
            out.display()
        )));
    }
    concord::io::write_extxyz(out, &done)?;
    if json {
        println!("{}", serde_json::Value::Array(rows));
    }
    if failed > 0 {
        eprintln!(
            "warning: {failed} of {} frames did not converge to fmax = {} eV/Å within {} steps",
            frames.len(),
            opts.fmax,
            opts.max_steps
        );
    }
    if !errors.is_empty() {
        return Err(concord::Error::invalid(format!(
            "{} of {n_frames} frames of {} could not be optimised and are not in {}: {}",
            errors.len(),
            input.display(),
            out.display(),
            errors.join(", ")
        )));
    }
    Ok(())
}

fn main() -> ExitCode {
    // A closed stdout pipe (`concord inspect M | head -1`) ends the process like any Unix tool
    // (Rust ignores SIGPIPE by default, which turns the write error into a panic in println!).
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // One libtorch thread unless a training config asks for more: molecules are too small to
    // gain from intra-op parallelism, and spinning OpenMP threads slow down badly (10x
    // measured) when the machine is busy.
    #[cfg(feature = "torch")]
    tch::set_num_threads(1);
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
