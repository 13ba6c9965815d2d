//! The C and C++ test programs (tests/c, tests/cpp) and the examples (examples/c, examples/cpp),
//! compiled with the system compilers against include/concord.h, cpp/concord.hpp and the
//! cdylib, and run here so that `cargo test` covers every language. Their printed results must
//! equal the Rust API's bit for bit.

#![cfg(feature = "torch")]

mod common;
#[path = "common/native.rs"]
mod native;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::random_potential;
use concord::generate::{generate, SamplerOptions};
use concord::model::evaluate::{Prediction, Request};
use concord::model::{file, Precision};
use concord::optimize::{optimize, Method, OptimizeOptions, OptimizeResult, PotentialObjective};
use concord::potential::Potential;
use concord::Bond;

struct Files {
    _dir: tempfile::TempDir,
    model: PathBuf,
    /// A random model with a structure generator.
    generator: PathBuf,
    corrupt: PathBuf,
    truncated: PathBuf,
    missing: PathBuf,
    dir: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.concord");
    file::save(
        random_potential(Precision::Float64, 5).model(),
        &model,
        serde_json::json!({}),
    )
    .unwrap();
    let generator = dir.path().join("generator.concord");
    file::save(
        &common::random_generator_model(Precision::Float64, 6),
        &generator,
        serde_json::json!({}),
    )
    .unwrap();
    let corrupt = dir.path().join("corrupt.concord");
    std::fs::write(&corrupt, b"this is not a model file at all").unwrap();
    let truncated = dir.path().join("truncated.concord");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    Files {
        model,
        generator,
        corrupt,
        truncated,
        missing: dir.path().join("missing.concord"),
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

/// "name v1 v2 ..." lines of a test program's output.
/// The C programs run with the C ABI's default of one libtorch thread; bit-for-bit agreement
/// needs the same reduction order here.
fn same_threads_as_the_c_api() {
    tch::set_num_threads(1);
}

fn values(stdout: &str) -> HashMap<String, Vec<f64>> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.to_string();
            let v: Result<Vec<f64>, _> = words.map(str::parse).collect();
            v.ok().filter(|v| !v.is_empty()).map(|v| (name, v))
        })
        .collect()
}

const CH4_Z: [u8; 5] = [6, 1, 1, 1, 1];
const CH4_X: [[f64; 3]; 5] = [
    [0.0, 0.0, 0.0],
    [0.629, 0.629, 0.629],
    [-0.629, -0.629, 0.629],
    [-0.629, 0.629, -0.629],
    [0.629, -0.629, -0.629],
];
const H2O_Z: [u8; 3] = [8, 1, 1];
const H2O_X: [[f64; 3]; 3] = [
    [0.0, 0.0, 0.117],
    [0.0, 0.757, -0.467],
    [0.0, -0.757, -0.467],
];

/// Methane's bonds (C-H x 4).
fn ch4_bonds() -> Vec<Bond> {
    (1..5)
        .map(|j| Bond {
            i: 0,
            j,
            order: concord::BondOrder::Single,
        })
        .collect()
}

/// The fields of an optimisation result as the test programs print them: status, converged,
/// steps, force calls, energy, initial energy, max force.
fn result_fields(r: &OptimizeResult) -> Vec<f64> {
    vec![
        0.0,
        f64::from(u8::from(r.converged)),
        r.steps as f64,
        r.force_calls as f64,
        r.energy,
        r.initial_energy,
        r.max_force,
    ]
}

/// The Rust API's relaxation.
fn relax(
    pot: &Potential,
    z: &[u8],
    x: &[[f64; 3]],
    cell: Option<[[f64; 3]; 3]>,
    opts: &OptimizeOptions,
) -> concord::Result<OptimizeResult> {
    let mut objective = PotentialObjective {
        potential: pot,
        numbers: z,
        cell,
        pbc: [cell.is_some(); 3],
    };
    optimize(&mut objective, x, opts)
}

/// What the test programs print about optimisation and generation, computed with the Rust API
/// (10 steps at most; methane generated with seed 7, 8 sampler steps, 2 samples).
fn expected_optimize_generate(model: &Path, generator: &Path) -> HashMap<String, Vec<f64>> {
    same_threads_as_the_c_api();
    let pot = Potential::load(model, concord::potential::Device::Cpu, Precision::Float64).unwrap();
    let mut out = HashMap::new();
    let opts = OptimizeOptions {
        max_steps: 10,
        ..Default::default()
    };
    let r = relax(&pot, &CH4_Z, &CH4_X, None, &opts).unwrap();
    out.insert(
        "optimize_methane_positions".into(),
        r.positions.as_flattened().to_vec(),
    );
    out.insert("optimize_methane_result".into(), result_fields(&r));
    let precon = OptimizeOptions {
        precondition: true,
        ..opts.clone()
    };
    let r = relax(&pot, &CH4_Z, &CH4_X, None, &precon).unwrap();
    out.insert(
        "optimize_precon_methane_positions".into(),
        r.positions.as_flattened().to_vec(),
    );
    let fire = OptimizeOptions {
        method: Method::Fire,
        ..opts.clone()
    };
    let r = relax(&pot, &CH4_Z, &CH4_X, None, &fire).unwrap();
    out.insert(
        "optimize_fire_methane_positions".into(),
        r.positions.as_flattened().to_vec(),
    );
    let cell = [[6.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]];
    let r = relax(&pot, &H2O_Z, &H2O_X, Some(cell), &opts).unwrap();
    out.insert(
        "optimize_water_periodic_positions".into(),
        r.positions.as_flattened().to_vec(),
    );
    out.insert("optimize_water_periodic_result".into(), result_fields(&r));

    let gen = Potential::load(
        generator,
        concord::potential::Device::Cpu,
        Precision::Float64,
    )
    .unwrap();
    let sampler = SamplerOptions {
        steps: 8,
        seed: 7,
        ..Default::default()
    };
    let samples = generate(&gen, &CH4_Z, &ch4_bonds(), 2, &sampler).unwrap();
    out.insert(
        "generate_methane".into(),
        samples.iter().flatten().flatten().copied().collect(),
    );
    let (mut positions, mut results) = (Vec::new(), Vec::new());
    for x in &samples {
        // As the pipeline relaxes a generated sample (under a restraint first if it is broken).
        let frame = concord::Frame::new(CH4_Z.to_vec(), x.clone());
        match concord::optimize::relax_molecule(&gen, &frame, &ch4_bonds(), &opts) {
            Ok(r) => {
                positions.extend_from_slice(r.positions.as_flattened());
                results.extend(result_fields(&r));
            }
            Err(f) => {
                // A failed relaxation: the generated positions and the status of the error.
                let e = f.error;
                assert!(matches!(e, concord::Error::InvalidInput(_)), "{e}");
                positions.extend_from_slice(x.as_flattened());
                results.extend([2.0, 0.0, 0.0, 0.0, f64::NAN, f64::NAN, f64::NAN]);
            }
        }
    }
    out.insert("generate_optimize_methane_positions".into(), positions);
    out.insert("generate_optimize_methane_results".into(), results);
    out
}

/// What the test programs print, computed with the Rust API.
fn expected(model: &Path) -> HashMap<String, Vec<f64>> {
    same_threads_as_the_c_api();
    let pot = Potential::load(model, concord::potential::Device::Cpu, Precision::Float64).unwrap();
    let mut out = HashMap::new();
    let mut put = |prefix: &str, p: &Prediction| {
        out.insert(format!("{prefix}_energy"), vec![p.energy]);
        if let Some(f) = &p.forces {
            out.insert(format!("{prefix}_forces"), f.as_flattened().to_vec());
        }
        if let Some(e) = &p.atom_energies {
            out.insert(format!("{prefix}_atom_energies"), e.clone());
        }
        if let Some(w) = &p.virial {
            out.insert(format!("{prefix}_virial"), w.as_flattened().to_vec());
        }
        if let Some(w) = &p.atom_virial {
            out.insert(
                format!("{prefix}_atom_virial"),
                w.as_flattened().as_flattened().to_vec(),
            );
        }
    };
    let methane = pot
        .compute(&CH4_Z, &CH4_X, None, [false; 3], Request::ALL)
        .unwrap();
    put("methane", &methane);
    let cell = [[6.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]];
    let fv = Request {
        forces: true,
        virial: true,
        ..Default::default()
    };
    let water = pot
        .compute(&H2O_Z, &H2O_X, Some(&cell), [true; 3], fv)
        .unwrap();
    put("water_periodic", &water);
    let forces = Request {
        forces: true,
        ..Default::default()
    };
    let local = pot.compute_local(&CH4_Z, &CH4_X, 3, None, forces).unwrap();
    put("local", &local);
    let (first, second): (Vec<usize>, Vec<usize>) = (0..5)
        .flat_map(|i| (0..5).filter(move |&j| j != i).map(move |j| (i, j)))
        .unzip();
    let pairs = pot
        .compute_local(&CH4_Z, &CH4_X, 3, Some((&first, &second)), forces)
        .unwrap();
    put("local_pairs", &pairs);
    out
}

/// Every expected value is printed, and equal bit for bit.
fn assert_same(printed: &HashMap<String, Vec<f64>>, expected: &HashMap<String, Vec<f64>>) {
    for (name, want) in expected {
        let got = printed
            .get(name)
            .unwrap_or_else(|| panic!("{name} not printed"));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(got), bits(want), "{name}: {got:?} vs Rust {want:?}");
    }
}

#[test]
fn c_program_agrees_with_rust_and_rejects_bad_input() {
    let f = files();
    let exe = f.dir.join("test_c");
    native::compile(&[&native::root().join("tests/c/test_api.c")], &exe, false);
    let stdout = native::run(
        &exe,
        &[&f.model, &f.corrupt, &f.truncated, &f.missing, &f.generator],
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    println!("C: {}", stdout.lines().last().unwrap_or_default());
    let mut want = expected(&f.model);
    want.extend(expected_optimize_generate(&f.model, &f.generator));
    assert_same(&values(&stdout), &want);
}

#[test]
fn cpp_program_agrees_with_rust_and_throws_on_bad_input() {
    let f = files();
    let exe = f.dir.join("test_cpp");
    native::compile(
        &[&native::root().join("tests/cpp/test_api.cpp")],
        &exe,
        true,
    );
    let stdout = native::run(&exe, &[&f.model, &f.corrupt, &f.generator]);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    println!("C++: {}", stdout.lines().last().unwrap_or_default());
    let mut want = expected(&f.model);
    want.extend(expected_optimize_generate(&f.model, &f.generator));
    // The C++ program does not print these.
    want.retain(|k, _| {
        !k.starts_with("water_periodic_atom")
            && !k.starts_with("optimize_fire")
            && k != "optimize_water_periodic_result"
    });
    assert_same(&values(&stdout), &want);
}

/// The energy printed by an example ("energy: X eV").
fn example_energy(stdout: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("energy: "))
        .and_then(|l| l.trim_end_matches(" eV").parse().ok())
        .unwrap_or_else(|| panic!("no energy line in:\n{stdout}"))
}

#[test]
fn examples_build_and_print_the_rust_energies() {
    let f = files();
    let pot = Potential::load(
        &f.model,
        concord::potential::Device::Cpu,
        Precision::Float64,
    )
    .unwrap();
    let req = Request {
        forces: true,
        ..Default::default()
    };
    for (source, cxx, z, x) in [
        ("examples/c/compute.c", false, &H2O_Z[..], &H2O_X[..]),
        ("examples/cpp/compute.cpp", true, &CH4_Z[..], &CH4_X[..]),
    ] {
        let exe = f.dir.join(if cxx { "compute_cpp" } else { "compute_c" });
        native::compile(&[&native::root().join(source)], &exe, cxx);
        let stdout = native::run(&exe, &[&f.model]);
        let want = pot.compute(z, x, None, [false; 3], req).unwrap();
        assert!(
            (example_energy(&stdout) - want.energy).abs() < 1e-9,
            "{source}: {stdout} vs {}",
            want.energy
        );
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("  ")).count(),
            z.len()
        );
        // Bad arguments: a clear message and a non-zero exit, no crash.
        let out = std::process::Command::new(&exe)
            .arg(&f.corrupt)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{source}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a Concord model file"));
        // Optimisation always; generation only with a generator.
        assert!(stdout.contains("\noptimised: energy "), "{stdout}");
        assert!(
            stdout.contains("this model has no structure generator: skipping generation"),
            "{stdout}"
        );
        let stdout = native::run(&exe, &[&f.generator]);
        assert!(
            stdout.contains("\ngenerated methane, 3 samples:\n"),
            "{stdout}"
        );
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("sample ")).count(),
            3,
            "{stdout}"
        );
        println!("{source} with a generator model:\n{stdout}");
    }
}
