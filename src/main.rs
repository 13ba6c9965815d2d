//! `concord`: train, evaluate and inspect Concord models.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use concord::api::Potential;
use concord::generate::SamplerOptions;
use concord::model::evaluate::Request;
use concord::model::Precision;
use concord::train::metrics::ErrorAccumulator;
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
    /// Train (or resume training) a model from a TOML config.
    Train {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
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
        /// Compute in float64 instead of float32.
        #[arg(long)]
        float64: bool,
    },
    /// Generate 3D structures of molecules from their bond graphs with the structure generator.
    Generate {
        /// The model file (with a generator).
        #[arg(long)]
        model: PathBuf,
        /// SDF/MOL V2000 file with the molecules' graphs (coordinates are ignored).
        #[arg(long)]
        graphs: PathBuf,
        /// Output extended-XYZ file (all samples of all molecules).
        #[arg(long)]
        out: PathBuf,
        /// Samples per molecule.
        #[arg(long, default_value_t = 1)]
        samples: usize,
        /// Seed of the sampler; molecule m (0-based) of the file uses seed + m.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Noise levels of the sampler.
        #[arg(long, default_value_t = 32)]
        steps: usize,
        /// Stochasticity of the sampler (0 = deterministic Heun sampler).
        #[arg(long, default_value_t = 0.0)]
        churn: f64,
    },
    /// Print a model file's metadata.
    Inspect {
        /// The model file.
        model: PathBuf,
    },
}

fn run(cli: Cli) -> concord::Result<()> {
    match cli.command {
        Command::Train { config, json } => {
            let config = Config::load(&config)?;
            let summary = concord::train::train(&config, !json)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).unwrap_or_default()
                );
            }
        }
        Command::Eval {
            model,
            data,
            json,
            float64,
        } => {
            let precision = if float64 {
                Precision::Float64
            } else {
                Precision::Float32
            };
            let pot = Potential::load(&model, tch::Device::Cpu, precision)?;
            let mut results = serde_json::Map::new();
            for path in &data {
                let frames = concord::io::read_extxyz(path)?;
                let bar = indicatif::ProgressBar::new(frames.len() as u64);
                let mut acc = ErrorAccumulator::default();
                for frame in &frames {
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
                let m = acc.metrics();
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
                results.insert(
                    path.display().to_string(),
                    serde_json::to_value(m).unwrap_or_default(),
                );
            }
            if json {
                println!("{}", serde_json::Value::Object(results));
            }
        }
        Command::Generate {
            model,
            graphs,
            out,
            samples,
            seed,
            steps,
            churn,
        } => {
            let (model, _) =
                concord::model::file::load(&model, tch::Device::Cpu, Precision::Float32)?;
            let mols = concord::io::read_sdf(&graphs)?;
            let bar = indicatif::ProgressBar::new(mols.len() as u64);
            let mut frames = Vec::new();
            for (m, mol) in mols.iter().enumerate() {
                let opts = SamplerOptions {
                    steps,
                    churn,
                    seed: seed.wrapping_add(m as u64),
                    ..Default::default()
                };
                let structures =
                    concord::generate::generate(&model, &mol.numbers, &mol.bonds, samples, &opts)
                        .map_err(|e| {
                        concord::Error::invalid(format!("molecule {m} ('{}'): {e}", mol.name))
                    })?;
                for (k, positions) in structures.into_iter().enumerate() {
                    let mut f = concord::Frame::new(mol.numbers.clone(), positions);
                    f.info.insert("mol".into(), mol.name.clone());
                    f.info.insert("sample".into(), k.to_string());
                    f.info.insert("seed".into(), opts.seed.to_string());
                    frames.push(f);
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            concord::io::write_extxyz(&out, &frames)?;
            eprintln!(
                "{} structures of {} molecules -> {}",
                frames.len(),
                mols.len(),
                out.display()
            );
        }
        Command::Inspect { model } => {
            let bytes = std::fs::read(&model).map_err(|e| concord::Error::io(&model, e))?;
            let meta = concord::model::file::read_metadata(&bytes, &model)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&meta).unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
