//! Potential benchmark (`make bench`): energy + forces per call on QM9 test molecules with the
//! native runtime and libtorch (float32 and float64), GFN2-xTB through tblite in process on
//! the same molecules in the same run, the achieved GFLOP/s against the model's arithmetic,
//! and the cost per atom of periodic boxes from ~100 to ~10,000 atoms with peak memory.
//! Writes a Markdown table to stdout and to target/bench/potential.md. Timings are never
//! asserted in tests.
//!
//! Usage: cargo bench --bench potential -- [MODEL] [--molecules K]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use concord::io::read_extxyz;
use concord::model::evaluate::Request;
use concord::model::{EncoderConfig, Precision};
use concord::neighbors::neighbor_list;
use concord::potential::{Backend, Potential};
use concord::Frame;

const FORCES: Request = Request {
    forces: true,
    atom_energies: false,
    virial: false,
    atom_virial: false,
};

/// Median wall time of `f` in seconds over enough repetitions to take ~`budget` s.
fn time_it(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().as_secs_f64().max(1e-7);
    let reps = ((budget / once) as usize).clamp(3, 2000);
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Floating-point operations of one energy + forces call (multiply-add = 2) for `n` atoms
/// and `e` directed edges within the cutoff, counted from the layers' shapes: per layer the
/// forward pass does 30 N F^2 (dense layers) + 6 E K F (radial filter) + 19 E F (messages);
/// the reverse pass twice the dense and message work and twice the filter (recomputed, then
/// its adjoint). The readout adds 2 N F H (x3 with its adjoint).
fn flops(c: &EncoderConfig, n: usize, e: usize) -> f64 {
    let (f, k, l) = (c.features as f64, c.radial_basis as f64, c.layers as f64);
    let (n, e) = (n as f64, e as f64);
    let h = (f / 2.0 + 1.0).floor();
    l * (60.0 * n * f * f + 18.0 * e * k * f + 59.0 * e * f) + 6.0 * n * f * h
}

/// Per-molecule GFN2-xTB seconds from tblite in a Python subprocess (in-process timing there),
/// or the reason it could not run.
fn tblite_times(frames: &[Frame], dir: &Path) -> Result<Vec<f64>, String> {
    let xyz = dir.join("molecules.extxyz");
    concord::io::write_extxyz(&xyz, frames).map_err(|e| e.to_string())?;
    let python = std::env::var("CONCORD_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tblite_time.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&xyz)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "tblite failed: {}",
            err.lines().last().unwrap_or("")
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// A periodic box holding copies of `mols` on a cubic grid with `spacing` Å between centres.
fn box_of_molecules(mols: &[Frame], target_atoms: usize, spacing: f64) -> Frame {
    let per = mols.iter().map(Frame::len).sum::<usize>() as f64 / mols.len() as f64;
    let n_mol = ((target_atoms as f64 / per).round() as usize).max(1);
    let side = (n_mol as f64).cbrt().ceil() as usize;
    let l = side as f64 * spacing;
    let mut f = Frame {
        cell: Some([[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]]),
        pbc: [true; 3],
        ..Default::default()
    };
    for k in 0..n_mol {
        let m = &mols[k % mols.len()];
        let c: [f64; 3] =
            std::array::from_fn(|a| m.positions.iter().map(|p| p[a]).sum::<f64>() / m.len() as f64);
        let g = [k % side, (k / side) % side, k / (side * side)];
        for (z, p) in m.numbers.iter().zip(&m.positions) {
            f.numbers.push(*z);
            f.positions.push(std::array::from_fn(|a| {
                p[a] - c[a] + (g[a] as f64 + 0.5) * spacing
            }));
        }
    }
    f
}

/// Peak resident memory of this process so far, MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Structures per second on QM9 test graphs (4 samples each, 32 noise levels (the default,
/// issue #12's setting) and 16, molecules batched as `concord generate` does: one QM9
/// molecule's 4 samples per native call (`NATIVE_BATCH_ATOMS`), 32 molecules per libtorch
/// call), raw and relaxed (plain L-BFGS to 0.01 eV/Å, and the pipeline's default for generated
/// structures, [`concord::generate::relax_defaults`]), float32: the shipped generator relaxed on
/// the shipped potential, and the multi-task model on its own head (native and libtorch); each
/// row after one untimed warm-up call.
fn generation(root: &Path) -> String {
    let models = root.join("examples/models");
    let load = |name: &str| {
        Potential::load(
            &models.join(name),
            concord::potential::Device::Cpu,
            Precision::Float32,
        )
        .unwrap()
    };
    let potential = load("concord-qm9-gfn2.concord");
    let generator = load("concord-generator.concord");
    let mut multitask = load("concord-qm9-gfn2-multitask.concord");
    let mols = concord::io::read_sdf(&root.join("data/qm9-gfn2/test_structures.sdf.gz")).unwrap();
    let mols = &mols[..48];
    let mut out = format!(
        "\n| generation ({} QM9 test molecules x 4 samples, float32) | relaxed on | sampler levels | raw structures/s | relaxed (L-BFGS, 0.01 eV/Å) structures/s | relaxed (generation default: preconditioned, 0.05 eV/Å) structures/s |\n|---|---|---|---|---|---|\n",
        mols.len()
    );
    for steps in [32, 16] {
        let label = "concord-generator Native";
        out += &generation_row(label, &generator, &potential, mols, steps);
    }
    for (backend, steps) in [
        (Backend::Native, 32),
        (Backend::Native, 16),
        (Backend::Torch, 32),
    ] {
        multitask.set_backend(backend).unwrap();
        let label = format!("concord-qm9-gfn2-multitask {backend:?}");
        out += &generation_row(&label, &multitask, &multitask, mols, steps);
    }
    out
}

/// One row of [`generation`]: `generator` samples, `relax_on` relaxes.
fn generation_row(
    label: &str,
    generator: &Potential,
    relax_on: &Potential,
    mols: &[concord::Molecule],
    steps: usize,
) -> String {
    use concord::generate::{generate_many, SamplerOptions};
    let sampler = SamplerOptions {
        steps,
        ..Default::default()
    };
    // Warm-up (untimed): the first call builds the generator's filter table and sizes the
    // work buffers, once per loaded model.
    let first = [(mols[0].numbers.as_slice(), mols[0].bonds.as_slice(), 0)];
    generate_many(generator, &first, 4, &sampler).unwrap();
    let t = Instant::now();
    let mut samples = Vec::new();
    let per = match generator.backend() {
        Backend::Native => 1,
        _ => concord::generate::pipeline::BATCH,
    };
    for chunk in mols.chunks(per) {
        let batch: Vec<(&[u8], &[concord::Bond], u64)> = chunk
            .iter()
            .enumerate()
            .map(|(m, mol)| (mol.numbers.as_slice(), mol.bonds.as_slice(), m as u64))
            .collect();
        let s = generate_many(generator, &batch, 4, &sampler).unwrap();
        samples.extend(chunk.iter().zip(s));
    }
    let raw = t.elapsed().as_secs_f64();
    let mut relax = [0.0; 2];
    let settings = [
        concord::optimize::OptimizeOptions::default(),
        concord::generate::relax_defaults(),
    ];
    for (k, opts) in settings.iter().enumerate() {
        let t = Instant::now();
        for (mol, xs) in &samples {
            for x in xs {
                let mut objective = concord::optimize::PotentialObjective {
                    potential: relax_on,
                    numbers: &mol.numbers,
                    cell: None,
                    pbc: [false; 3],
                };
                let _ = concord::optimize::optimize(&mut objective, x, opts);
            }
        }
        relax[k] = t.elapsed().as_secs_f64();
    }
    let n = (4 * mols.len()) as f64;
    let on = match std::ptr::eq(generator, relax_on) {
        true => "its own head",
        false => "concord-qm9-gfn2",
    };
    format!(
        "| {label} | {on} | {steps} | {:.1} | {:.1} | {:.1} |\n",
        n / raw,
        n / (raw + relax[0]),
        n / (raw + relax[1])
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut model = root.join("examples/models/concord-qm9-gfn2.concord");
    let mut n_mol = 65;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--molecules" => {
                n_mol = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--molecules K")
            }
            p => model = PathBuf::from(p),
        }
    }
    tch::set_num_threads(1);
    let mut pots: Vec<(Precision, Potential)> = [Precision::Float32, Precision::Float64]
        .into_iter()
        .map(|p| {
            (
                p,
                Potential::load(&model, concord::potential::Device::Cpu, p).expect("loading model"),
            )
        })
        .collect();
    let config = pots[0].1.model().config().encoder;
    let mols =
        read_extxyz(&root.join("data/qm9-gfn2/test_pm6_min.extxyz.gz")).expect("test molecules");
    let sample: Vec<Frame> = mols.iter().take(n_mol).cloned().collect();
    let mut out = format!(
        "Concord potential benchmark: {} (F={}, layers={}, cutoff={} Å, K={}), one thread\n\n",
        model.display(),
        config.features,
        config.layers,
        config.cutoff,
        config.radial_basis
    );

    // 1. QM9 test molecules, energy + forces per call.
    let mut rows = Vec::new();
    let mut flop = Vec::new();
    for m in &sample {
        let nl = neighbor_list(&m.positions, None, [false; 3], config.cutoff).unwrap();
        flop.push(flops(&config, m.len(), nl.first.len()));
    }
    for (precision, pot) in pots.iter_mut() {
        for backend in [Backend::Native, Backend::Torch] {
            pot.set_backend(backend).unwrap();
            let t: Vec<f64> = sample
                .iter()
                .map(|m| time_it(0.02, || drop(pot.compute_frame(m, FORCES).unwrap())))
                .collect();
            let gflops: Vec<f64> = t.iter().zip(&flop).map(|(t, f)| f / t / 1e9).collect();
            rows.push((
                format!("Concord {backend:?} {precision:?}"),
                median(t),
                median(gflops),
            ));
        }
        pot.set_backend(Backend::Native).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let xtb = tblite_times(&sample, dir.path());
    let atoms = median(sample.iter().map(|m| m.len() as f64).collect());
    out += &format!(
        "{} QM9 test molecules (median {atoms} atoms), median {:.1} MFLOP per call\n\n",
        sample.len(),
        median(flop.clone()) / 1e6
    );
    out += "| method (energy + forces) | median ms / call | GFLOP/s | speed vs GFN2-xTB | speed vs libtorch (same precision) |\n|---|---|---|---|---|\n";
    let xtb_ms = xtb.as_ref().ok().map(|t| 1e3 * median(t.clone()));
    for (name, t, g) in &rows {
        let torch = rows
            .iter()
            .find(|(n, _, _)| n == &name.replace("Native", "Torch"))
            .map_or(f64::NAN, |r| r.1);
        out += &format!(
            "| {name} | {:.3} | {g:.2} | {} | {:.1}x |\n",
            1e3 * t,
            xtb_ms.map_or("—".into(), |x| format!("{:.1}x", x / (1e3 * t))),
            torch / t
        );
    }
    match &xtb {
        Ok(_) => {
            let x = xtb_ms.unwrap_or(f64::NAN);
            out += &format!("| GFN2-xTB (tblite 0.8.0, in process) | {x:.3} | — | 1x | — |\n");
        }
        Err(e) => out += &format!("| GFN2-xTB | not measured: {e} | | | |\n"),
    }

    // 2. Cost per atom of periodic boxes of molecules (native, float32).
    let radius = mols
        .iter()
        .map(|m| {
            let c: [f64; 3] = std::array::from_fn(|a| {
                m.positions.iter().map(|p| p[a]).sum::<f64>() / m.len() as f64
            });
            m.positions
                .iter()
                .map(|p| {
                    ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt()
                })
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
    let spacing = 2.0 * radius + 2.0;
    out += "\n| periodic box of molecules (native float32) | atoms | pairs | ms / call | µs / atom | GFLOP/s | peak RSS so far (MiB) | its growth per atom (KiB) | concord::memory estimate (MiB) |\n|---|---|---|---|---|---|---|---|---|\n";
    let pot = &pots[0].1;
    for target in [100, 1000, 3000, 10000] {
        let f = box_of_molecules(&mols, target, spacing);
        let before = peak_rss_mib();
        let t = time_it(1.0, || drop(pot.compute_frame(&f, FORCES).unwrap()));
        let after = peak_rss_mib();
        let nl = neighbor_list(&f.positions, f.cell.as_ref(), f.pbc, pot.cutoff()).unwrap();
        let g = flops(&config, f.len(), nl.first.len()) / t / 1e9;
        let estimate = concord::memory::estimate(
            pot.backend(),
            pot.config(),
            pot.precision(),
            f.len(),
            nl.first.len(),
        );
        out += &format!(
            "| ~{target} | {} | {} | {:.2} | {:.1} | {g:.2} | {after:.0} | {:.1} | {:.0} |\n",
            f.len(),
            nl.first.len(),
            1e3 * t,
            1e6 * t / f.len() as f64,
            1024.0 * (after - before) / f.len() as f64,
            estimate / (1024.0 * 1024.0)
        );
    }
    out += &generation(root);
    print!("{out}");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("potential.md"), &out).unwrap();
}
