//! `concord`: train, evaluate and inspect Concord models.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use concord::api::Potential;
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
