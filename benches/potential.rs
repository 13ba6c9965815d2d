//! Potential benchmark (`make bench`): energy+forces time per QM9 test molecule, per-atom cost
//! from ~10 to ~10,000 atoms (periodic boxes of molecules), the share of time spent inside
//! libtorch, and GFN2-xTB (the reference method) on the same molecules. Writes a Markdown
//! table to stdout and to target/bench/potential.md. Timings are never asserted in tests.
//!
//! Usage: cargo bench --bench potential -- [MODEL] [--threads N] [--xtb-molecules K]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use concord::api::Potential;
use concord::io::read_extxyz;
use concord::model::evaluate::Request;
use concord::model::{file, EdgeInput, EncoderConfig, Model, ModelConfig, Precision};
use concord::neighbors::neighbor_list;
use concord::Frame;
use tch::{Kind, Tensor};

fn default_potential(model: Option<&Path>) -> Potential {
    if let Some(p) = model {
        return Potential::load(p, tch::Device::Cpu, Precision::Float32).expect("loading model");
    }
    tch::manual_seed(0);
    let config = ModelConfig {
        elements: vec![1, 6, 7, 8, 9],
        encoder: EncoderConfig::default(),
        generator: None,
    };
    let model = Model::new(config, tch::Device::Cpu, Precision::Float32).unwrap();
    let meta = file::metadata(&model, serde_json::Value::Null);
    Potential::from_model(model, meta)
}

/// Median wall time of `f` in seconds over enough repetitions to take ~`budget` s.
fn time_it(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().as_secs_f64().max(1e-6);
    let reps = ((budget / once) as usize).clamp(3, 1000);
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

/// Time inside libtorch only: forward + backward on prebuilt tensors.
fn torch_time(pot: &Potential, frame: &Frame, budget: f64) -> f64 {
    let model = pot.model();
    let nl = neighbor_list(
        &frame.positions,
        frame.cell.as_ref(),
        frame.pbc,
        model.cutoff(),
    )
    .unwrap();
    let shifts = nl.cartesian_shifts(frame.cell.as_ref());
    let ev: Vec<f64> = (0..nl.first.len())
        .flat_map(|e| {
            let (i, j, s) = (nl.first[e], nl.second[e], shifts[e]);
            (0..3).map(move |a| frame.positions[j][a] - frame.positions[i][a] + s[a])
        })
        .collect();
    let species = Tensor::from_slice(&model.species_index(&frame.numbers).unwrap());
    let first = Tensor::from_slice(&nl.first.iter().map(|&x| x as i64).collect::<Vec<_>>());
    let second = Tensor::from_slice(&nl.second.iter().map(|&x| x as i64).collect::<Vec<_>>());
    let edge = Tensor::from_slice(&ev)
        .view([-1, 3])
        .to_kind(Kind::Float)
        .set_requires_grad(true);
    time_it(budget, || {
        let input = EdgeInput {
            species: &species,
            first: &first,
            second: &second,
            edge_vec: &edge,
            edge_attr: None,
            layer_edges: None,
        };
        let e = model.atomic_energies(&input).unwrap().sum(Kind::Float);
        let _ = Tensor::run_backward(&[&e], &[&edge], false, false);
    })
}

fn xtb_time(frame: &Frame, dir: &Path) -> Option<f64> {
    let xyz = dir.join("mol.xyz");
    let mut s = format!("{}\n\n", frame.len());
    for (z, p) in frame.numbers.iter().zip(&frame.positions) {
        s += &format!(
            "{} {:.8} {:.8} {:.8}\n",
            concord::elements::symbol(*z).ok()?,
            p[0],
            p[1],
            p[2]
        );
    }
    std::fs::write(&xyz, s).ok()?;
    let t = Instant::now();
    let out = Command::new("xtb")
        .args(["mol.xyz", "--gfn", "2", "--grad"])
        .current_dir(dir)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .ok()?;
    out.status.success().then(|| t.elapsed().as_secs_f64())
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

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut model: Option<PathBuf> = None;
    let mut threads = 1;
    let mut n_xtb = 20;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => threads = it.next().and_then(|v| v.parse().ok()).expect("--threads N"),
            "--xtb-molecules" => {
                n_xtb = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--xtb-molecules K")
            }
            p => model = Some(PathBuf::from(p)),
        }
    }
    tch::set_num_threads(threads);
    let pot = default_potential(model.as_deref());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mols = read_extxyz(&root.join("data/qm9-gfn2/test_pm6_min.extxyz.gz"))
        .expect("bundled test molecules");
    let mut out = String::new();
    out += &format!(
        "Concord potential benchmark: model {} (F={}, layers={}, cutoff={} Å), float32, {} libtorch thread(s)\n\n",
        model.as_ref().map_or("random (default architecture)".into(), |p| p.display().to_string()),
        pot.model().config().encoder.features,
        pot.model().config().encoder.layers,
        pot.cutoff(),
        threads
    );

    // 1. QM9 test molecules: Concord vs GFN2-xTB per evaluation.
    let sample: Vec<&Frame> = mols.iter().take(n_xtb).collect();
    let (mut t_concord, mut t_torch, mut t_xtb, mut n_ok) = (0.0, 0.0, 0.0, 0);
    let dir = tempfile::tempdir().unwrap();
    for m in &sample {
        t_concord += time_it(0.05, || {
            pot.compute_frame(
                m,
                Request {
                    forces: true,
                    ..Default::default()
                },
            )
            .unwrap();
        });
        t_torch += torch_time(&pot, m, 0.05);
        if let Some(t) = xtb_time(m, dir.path()) {
            t_xtb += t;
            n_ok += 1;
        }
    }
    let n = sample.len() as f64;
    let atoms = sample.iter().map(|m| m.len()).sum::<usize>() as f64 / n;
    out += "| QM9 test molecules (energy + forces) | value |\n|---|---|\n";
    out += &format!(
        "| molecules / mean atoms | {} / {:.1} |\n",
        sample.len(),
        atoms
    );
    out += &format!("| Concord per molecule | {:.3} ms |\n", 1e3 * t_concord / n);
    out += &format!(
        "| of which inside libtorch | {:.0} % |\n",
        100.0 * t_torch / t_concord
    );
    if n_ok > 0 {
        out += &format!("| GFN2-xTB per molecule (`xtb --gfn 2 --grad`, 1 thread, incl. process start) | {:.1} ms |\n", 1e3 * t_xtb / n_ok as f64);
        out += &format!(
            "| speed-up over GFN2-xTB | {:.0}x |\n",
            (t_xtb / n_ok as f64) / (t_concord / n)
        );
    } else {
        out += "| GFN2-xTB | xtb not found on PATH |\n";
    }

    // 2. Scaling with system size.
    out += "\n| system | atoms | pairs | ms / evaluation | µs / atom | libtorch share |\n|---|---|---|---|---|---|\n";
    let small = mols
        .iter()
        .find(|m| m.len() >= 9 && m.len() <= 11)
        .unwrap_or(&mols[0])
        .clone();
    let mut systems = vec![("one molecule (open)".to_string(), small)];
    // Grid spacing: the largest molecular diameter plus 2 Å, so no two molecules overlap.
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
    for target in [100, 1000, 3000, 10000] {
        systems.push((
            format!("periodic box of molecules (~{target})"),
            box_of_molecules(&mols, target, spacing),
        ));
    }
    for (name, f) in &systems {
        let budget = 1.0;
        let t = time_it(budget, || {
            pot.compute_frame(
                f,
                Request {
                    forces: true,
                    ..Default::default()
                },
            )
            .unwrap();
        });
        let tt = torch_time(&pot, f, budget);
        let nl = neighbor_list(&f.positions, f.cell.as_ref(), f.pbc, pot.cutoff()).unwrap();
        out += &format!(
            "| {name} | {} | {} | {:.2} | {:.1} | {:.0} % |\n",
            f.len(),
            nl.first.len(),
            1e3 * t,
            1e6 * t / f.len() as f64,
            100.0 * tt / t
        );
    }
    print!("{out}");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("potential.md"), &out).unwrap();
}
