//! The cdylib tested as a foreign consumer would use it: opened with libloading, called with C
//! types only. Results must equal the Rust API's bit for bit, and concurrent calls (separate
//! handles, and one handle shared by several threads) must give the serial results exactly.

#![cfg(feature = "torch")]

mod common;
#[path = "common/dylib.rs"]
mod dylib;
#[path = "common/model_bytes.rs"]
mod model_bytes;
#[path = "common/native.rs"]
mod native;

use std::path::Path;

use common::{random_molecule, random_potential};
use concord::model::evaluate::{Prediction, Request};
use concord::model::{file, Precision};
use concord::potential::Potential;
use dylib::{Api, Handle, Out};
use model_bytes::{with_metadata_key, with_tensor_value};

fn save_model(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("m.concord");
    file::save(
        random_potential(Precision::Float64, 11).model(),
        &path,
        serde_json::json!({}),
    )
    .unwrap();
    path
}

fn flat(x: &[[f64; 3]]) -> Vec<f64> {
    x.as_flattened().to_vec()
}

fn ints(z: &[u8]) -> Vec<i32> {
    z.iter().map(|&z| i32::from(z)).collect()
}

fn from_rust(p: &Prediction) -> Out {
    Out {
        energy: p.energy,
        forces: flat(p.forces.as_ref().unwrap()),
        atom_energies: p.atom_energies.clone().unwrap(),
        virial: p.virial.unwrap().as_flattened().to_vec(),
        atom_virial: p
            .atom_virial
            .as_ref()
            .unwrap()
            .as_flattened()
            .as_flattened()
            .to_vec(),
    }
}

/// Test molecules: (atomic numbers, positions).
fn molecules() -> Vec<(Vec<u8>, Vec<[f64; 3]>)> {
    [(3, 1), (8, 2), (17, 3), (30, 4)]
        .iter()
        .map(|&(n, seed)| random_molecule(n, 2.0 * (n as f64).cbrt() + 1.0, seed))
        .collect()
}

#[test]
fn abi_version_is_checked() {
    let api = Api::open(&native::cdylib());
    let v = unsafe { (api.abi_version)() };
    assert_eq!(unsafe { (api.check_abi)(v) }, dylib::SUCCESS);
    assert_eq!(unsafe { (api.check_abi)(v + 1) }, dylib::ABI_VERSION);
    let msg = api.error();
    assert!(
        msg.contains(&format!("ABI version {}", v + 1)) && msg.contains(&format!("version {v}")),
        "{msg}"
    );
}

#[test]
fn dlopened_library_agrees_with_the_rust_api_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_model(dir.path());
    let api = Api::open(&native::cdylib());
    for (precision, c_precision) in [(Precision::Float64, 64), (Precision::Float32, 32)] {
        let pot = Potential::load(&path, concord::potential::Device::Cpu, precision).unwrap();
        let h = api.load_model(&path, c_precision);
        for (z, x) in molecules() {
            // Open system.
            let want = pot.compute(&z, &x, None, [false; 3], Request::ALL).unwrap();
            let got = api
                .compute_all(h, &ints(&z), &flat(&x), None, None)
                .unwrap();
            assert_eq!(got.bits(), from_rust(&want).bits());
            // Periodic, triclinic, partly periodic.
            let cell = [[7.0, 0.0, 0.0], [1.0, 6.5, 0.0], [0.5, 0.3, 8.0]];
            let c9: [f64; 9] = *cell.as_flattened().first_chunk().unwrap();
            for pbc in [[true; 3], [true, true, false]] {
                let want = pot.compute(&z, &x, Some(&cell), pbc, Request::ALL).unwrap();
                let flags = pbc.map(i32::from);
                let got = api
                    .compute_all(h, &ints(&z), &flat(&x), Some(&c9), Some(&flags))
                    .unwrap();
                assert_eq!(got.bits(), from_rust(&want).bits(), "pbc {pbc:?}");
            }
            // Local + ghost atoms, searched pairs and the engine's pairs.
            let n_local = z.len() / 2;
            let want = pot
                .compute_local(&z, &x, n_local, None, Request::ALL)
                .unwrap();
            let got = api
                .compute_local_all(h, n_local as i64, &ints(&z), &flat(&x), None)
                .unwrap();
            assert_eq!(got.bits(), from_rust(&want).bits());
            let nl = concord::neighbors::neighbor_list(&x, None, [false; 3], pot.cutoff()).unwrap();
            let want = pot
                .compute_local(&z, &x, n_local, Some((&nl.first, &nl.second)), Request::ALL)
                .unwrap();
            let first: Vec<i32> = nl.first.iter().map(|&i| i as i32).collect();
            let second: Vec<i32> = nl.second.iter().map(|&i| i as i32).collect();
            let got = api
                .compute_local_all(
                    h,
                    n_local as i64,
                    &ints(&z),
                    &flat(&x),
                    Some((&first, &second)),
                )
                .unwrap();
            assert_eq!(got.bits(), from_rust(&want).bits());
        }
        api.free_model(h);
    }
}

/// Runs `per_thread` on `threads` threads at once (all released together) and collects the
/// results.
fn in_parallel<T: Send>(threads: usize, per_thread: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, per_thread) = (&barrier, &per_thread);
                s.spawn(move || {
                    barrier.wait();
                    per_thread(t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_calls_on_separate_handles_and_on_one_handle_match_serial_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_model(dir.path());
    let api = Api::open(&native::cdylib());
    let mols = molecules();
    for precision in [64, 32] {
        let shared = api.load_model(&path, precision);
        let serial: Vec<Vec<u64>> = mols
            .iter()
            .map(|(z, x)| {
                api.compute_all(shared, &ints(z), &flat(x), None, None)
                    .unwrap()
                    .bits()
            })
            .collect();
        let rounds = 6;
        // Each thread runs every molecule, starting at a different one.
        let run = |h: Handle, t: usize| -> Vec<(usize, Vec<u64>)> {
            (0..rounds * mols.len())
                .map(|k| {
                    let m = (t + k) % mols.len();
                    let (z, x) = &mols[m];
                    let out = if k % 2 == 0 {
                        api.compute_all(h, &ints(z), &flat(x), None, None)
                    } else {
                        api.compute_local_all(h, z.len() as i64, &ints(z), &flat(x), None)
                    };
                    (m, out.unwrap().bits())
                })
                .collect()
        };
        let check = |results: Vec<Vec<(usize, Vec<u64>)>>, what: &str| {
            for (m, bits) in results.into_iter().flatten() {
                assert!(
                    bits == serial[m],
                    "{what} (float{precision}): molecule {m} differs"
                );
            }
        };
        // One handle, four threads.
        check(in_parallel(4, |t| run(shared, t)), "one shared handle");
        // One handle per thread, loaded and freed concurrently too.
        check(
            in_parallel(4, |t| {
                let own = api.load_model(&path, precision);
                let r = run(own, t);
                api.free_model(own);
                r
            }),
            "separate handles",
        );
        // Errors stay on the thread that made them.
        let messages = in_parallel(4, |t| {
            let z = vec![1, 1, 15 + t as i32];
            let x = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
            let err = api.compute_all(shared, &z, &x, None, None).unwrap_err();
            assert_eq!(err.0, dylib::UNKNOWN_ELEMENT);
            api.error()
        });
        for (t, m) in messages.iter().enumerate() {
            let symbol = concord::elements::symbol(15 + t as u8).unwrap();
            assert!(m.contains(&format!("{symbol} (atom 2)")), "{m}");
        }
        api.free_model(shared);
    }
}

#[test]
fn a_non_finite_result_is_a_model_file_error_through_dlopen() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/models/concord-qm9-gfn2.concord");
    let bad = dir.path().join("overflowing.concord");
    // Changed on purpose and signed again: it loads, and its energies overflow.
    let edited = with_tensor_value(&std::fs::read(shipped).unwrap(), "energy.scale", 1e308);
    std::fs::write(&bad, file::resign(&edited, &bad).unwrap()).unwrap();
    let api = Api::open(&native::cdylib());
    let z = [8, 1, 1];
    let x = [
        0.0, 0.0, 0.1173, 0.0, 0.7572, -0.4692, 0.0, -0.7572, -0.4692,
    ];
    for precision in [32, 64] {
        let h = api.load_model(&bad, precision);
        let (s, msg) = api.compute_all(h, &z, &x, None, None).unwrap_err();
        assert_eq!(s, dylib::MODEL_FILE, "{msg}");
        assert!(
            msg.contains("overflowing.concord") && msg.contains("gave non-finite"),
            "{msg}"
        );
        let (s, msg) = api.compute_local_all(h, 3, &z, &x, None).unwrap_err();
        assert_eq!(s, dylib::MODEL_FILE, "{msg}");
        api.free_model(h);
    }
}

/// A generator whose energy head was never trained (`energy_trained: false`) refuses energies
/// with CONCORD_ERROR_UNSUPPORTED, naming the file.
#[test]
fn an_untrained_energy_head_is_unsupported_through_dlopen() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/models/concord-qm9-gfn2-multitask.concord");
    let path = dir.path().join("untrained.concord");
    let edited = with_metadata_key(
        &std::fs::read(shipped).unwrap(),
        "energy_trained",
        false.into(),
    );
    std::fs::write(&path, file::resign(&edited, &path).unwrap()).unwrap();
    let api = Api::open(&native::cdylib());
    let h = api.load_model(&path, 64);
    let x = [
        0.0, 0.0, 0.1173, 0.0, 0.7572, -0.4692, 0.0, -0.7572, -0.4692,
    ];
    let (s, msg) = api.compute_all(h, &[8, 1, 1], &x, None, None).unwrap_err();
    assert_eq!(s, dylib::UNSUPPORTED, "{msg}");
    assert!(
        msg.contains("untrained.concord") && msg.contains("energy head was never trained"),
        "{msg}"
    );
    api.free_model(h);
}

#[test]
fn bad_model_files_and_arguments_through_dlopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_model(dir.path());
    let api = Api::open(&native::cdylib());
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.path().join("bad.concord");
    let load = |p: &Path, precision: i32| -> (i32, String, bool) {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        let mut h = std::ptr::dangling_mut::<std::ffi::c_void>(); // a failed load must reset it
        let s = unsafe { (api.load)(c.as_ptr(), std::ptr::null(), precision, &mut h) };
        (s, api.error(), h.is_null())
    };
    for cut in [0, 7, 100, bytes.len() / 3, bytes.len() - 8] {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let (s, msg, null) = load(&bad, 64);
        assert_eq!(s, dylib::MODEL_FILE, "cut {cut}: {msg}");
        assert!(null && msg.contains("bad.concord"), "{msg}");
    }
    // Corrupt metadata claiming a larger architecture (same length, so the header stays
    // valid): refused before anything of that size is allocated.
    let key = br#"features\":16"#;
    let i = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len() - 2;
    let mut huge = bytes.clone();
    huge[i..i + 2].copy_from_slice(b"99");
    std::fs::write(&bad, &huge).unwrap();
    let (s, msg, _) = load(&bad, 32);
    assert_eq!(s, dylib::MODEL_FILE, "{msg}");
    assert!(msg.contains("checksum mismatch"), "{msg}");
    // Signed again after the edit: the size check refuses it before allocating.
    std::fs::write(&bad, file::resign(&huge, &bad).unwrap()).unwrap();
    let (s, msg, _) = load(&bad, 32);
    assert_eq!(s, dylib::MODEL_FILE, "{msg}");
    assert!(msg.contains("needs at least"), "{msg}");
    // Wrong precision, NULL path.
    let (s, msg, _) = load(&path, 0);
    assert_eq!(s, dylib::INVALID_ARGUMENT);
    assert!(msg.contains("precision 0"), "{msg}");
    let mut h = std::ptr::null_mut();
    let s = unsafe { (api.load)(std::ptr::null(), std::ptr::null(), 64, &mut h) };
    assert_eq!(s, dylib::INVALID_ARGUMENT);
    assert!(api.error().contains("'path' is NULL"));
    // Freeing NULL is a no-op.
    assert_eq!(unsafe { (api.free)(std::ptr::null_mut()) }, dylib::SUCCESS);
}

// ---- Generation and optimisation -------------------------------------------------------------

use concord::generate::{
    generate_structures, GraphRequest, PipelineModels, PipelineOptions, SamplerOptions,
};
use concord::optimize::{optimize, OptimizeOptions, OptimizeResult, PotentialObjective};
use concord::Bond;
use dylib::{Graph, OptimizeOptions as COptions, OptimizeResult as CResult};

fn bond(i: usize, j: usize, code: i64) -> Bond {
    let order = concord::BondOrder::from_code(code).unwrap();
    Bond { i, j, order }
}

/// Test graphs over H C N O F: methane, ethanol, formaldehyde (double bond), HCN (triple), a
/// benzene ring (aromatic), and the first molecule of the bundled test set.
fn graphs() -> Vec<(Vec<u8>, Vec<Bond>)> {
    let ring: Vec<Bond> = (0..6)
        .map(|i| bond(i, (i + 1) % 6, 4))
        .chain((0..6).map(|i| bond(i, i + 6, 1)))
        .collect();
    let tiny = common::tiny_molecule();
    vec![
        (vec![6, 1, 1, 1, 1], (1..5).map(|h| bond(0, h, 1)).collect()),
        (
            vec![6, 6, 8, 1, 1, 1, 1, 1, 1],
            vec![
                bond(0, 1, 1),
                bond(1, 2, 1),
                bond(0, 3, 1),
                bond(0, 4, 1),
                bond(0, 5, 1),
                bond(1, 6, 1),
                bond(1, 7, 1),
                bond(2, 8, 1),
            ],
        ),
        (
            vec![6, 8, 1, 1],
            vec![bond(0, 1, 2), bond(0, 2, 1), bond(0, 3, 1)],
        ),
        (vec![1, 6, 7], vec![bond(0, 1, 1), bond(1, 2, 3)]),
        (vec![6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1], ring),
        (tiny.numbers, tiny.bonds),
    ]
}

fn save_generator_model(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("g.concord");
    file::save(
        &common::random_generator_model(Precision::Float64, 21),
        &path,
        serde_json::json!({}),
    )
    .unwrap();
    path
}

/// The Rust API's relaxation of an open system.
fn rust_relax(
    pot: &Potential,
    z: &[u8],
    x: &[[f64; 3]],
    opts: &OptimizeOptions,
) -> concord::Result<OptimizeResult> {
    let mut objective = PotentialObjective {
        potential: pot,
        numbers: z,
        cell: None,
        pbc: [false; 3],
    };
    optimize(&mut objective, x, opts)
}

/// The ABI's status for a failed relaxation: the Rust optimiser wraps the potential's error
/// with the step; the ABI reports the potential's own class.
fn status_of(e: &concord::Error) -> i32 {
    if e.to_string().contains(" overlap (distance ") {
        dylib::OVERLAP
    } else {
        dylib::INVALID_INPUT
    }
}

/// The ABI's result for a Rust result.
fn c_result(r: &OptimizeResult) -> CResult {
    CResult {
        status: dylib::SUCCESS,
        converged: i32::from(r.converged),
        steps: r.steps as i64,
        force_calls: r.force_calls as i64,
        energy: r.energy,
        initial_energy: r.initial_energy,
        max_force: r.max_force,
    }
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Options of the tests: few steps, so that random models finish quickly.
fn short_options(api: &dylib::Api, method: i32) -> (COptions, OptimizeOptions) {
    let mut c = unsafe { (api.options_default)() };
    c.max_steps = 25;
    c.method = method;
    let rust = OptimizeOptions {
        max_steps: 25,
        method: if method == 1 {
            concord::optimize::Method::Fire
        } else {
            concord::optimize::Method::Lbfgs
        },
        precondition: method == 2,
        ..Default::default()
    };
    (c, rust)
}

#[test]
fn generation_and_optimisation_agree_with_the_rust_api_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_generator_model(dir.path());
    let plain = save_model(dir.path());
    let api = Api::open(&native::cdylib());
    // Defaults are the Rust API's.
    let d = unsafe { (api.options_default)() };
    let rd = OptimizeOptions::default();
    assert_eq!(
        (d.fmax, d.max_steps, d.max_step, d.method, d.memory),
        (
            rd.fmax,
            rd.max_steps as i64,
            rd.max_step,
            0,
            rd.memory as i32
        )
    );
    let g = unsafe { (api.generate_relax_options_default)() };
    let rg = concord::generate::relax_defaults();
    assert!(rg.precondition);
    assert_eq!(
        (g.fmax, g.max_steps, g.max_step, g.method, g.memory),
        (
            rg.fmax,
            rg.max_steps as i64,
            rg.max_step,
            2,
            rg.memory as i32
        )
    );
    // has_generator.
    let mut flag = -1;
    let h = api.load_model(&plain, 64);
    assert_eq!(
        unsafe { (api.has_generator)(h.0, &mut flag) },
        dylib::SUCCESS
    );
    assert_eq!(flag, 0);
    let (g0, _) = &graphs()[0];
    let err = api
        .generate(h, &Graph::new(g0, &graphs()[0].1), 1, 0, 0, 0.0)
        .unwrap_err();
    assert_eq!(err.0, dylib::UNSUPPORTED, "{}", err.1);
    assert!(err.1.contains("no structure generator"), "{}", err.1);
    api.free_model(h);

    let (mut failed_samples, mut relaxed_samples) = (0, 0);
    for (precision, c_precision) in [(Precision::Float64, 64), (Precision::Float32, 32)] {
        let pot = Potential::load(&path, concord::potential::Device::Cpu, precision).unwrap();
        let h = api.load_model(&path, c_precision);
        assert_eq!(
            unsafe { (api.has_generator)(h.0, &mut flag) },
            dylib::SUCCESS
        );
        assert_eq!(flag, 1);
        for (m, (z, given)) in graphs().into_iter().enumerate() {
            let g = Graph::new(&z, &given);
            // The ABI samples the Kekulé graph (benzene is given with aromatic bonds).
            let bonds = concord::model::graph::kekule_graph(&z, &given, &[])
                .unwrap()
                .into_owned();
            for (seed, steps, churn) in [(m as u64, 6, 0.0), (1000 + m as u64, 0, 2.0)] {
                // 0: the generator's default in both.
                let sampler = SamplerOptions {
                    steps: steps as usize,
                    churn,
                    seed,
                    ..Default::default()
                };
                let k = 3;
                let want = concord::generate::generate(&pot, &z, &bonds, k, &sampler).unwrap();
                let want_flat: Vec<f64> = want.iter().flatten().flatten().copied().collect();
                let got = api.generate(h, &g, k as i64, seed, steps, churn).unwrap();
                assert_eq!(bits(&got), bits(&want_flat), "molecule {m} seed {seed}");
                // Centred.
                for x in &want {
                    for a in 0..3 {
                        let c = x.iter().map(|p| p[a]).sum::<f64>() / x.len() as f64;
                        assert!(c.abs() < 1e-4, "centroid {c}");
                    }
                }
                // Optimise each sample as the ABI's optimise does; generate-then-optimise
                // runs the generation pipeline (a broken sample is redrawn, then relaxed first
                // under a restraint toward its graph: `relax_molecule`), slot by slot.
                for method in [0, 1, 2] {
                    let (c_opts, opts) = short_options(&api, method);
                    for x in &want {
                        let got = api.optimize(h, &g.z, x.as_flattened(), Some(&c_opts));
                        match (rust_relax(&pot, &z, x, &opts), got) {
                            (Ok(r), Ok((gx, gr))) => {
                                assert_eq!(bits(&gx), bits(r.positions.as_flattened()));
                                assert_eq!(gr.bits(), c_result(&r).bits());
                            }
                            (Err(e), Err((s, msg))) => {
                                assert_eq!(s, status_of(&e), "{msg} (Rust: {e})")
                            }
                            (r, got) => panic!("Rust {r:?}, ABI {got:?}"),
                        }
                    }
                    let request = [GraphRequest::new(&z, &bonds, seed)];
                    let pipeline = PipelineOptions {
                        samples: k,
                        sampler,
                        relax: Some(opts.clone()),
                        redraws: concord::generate::REDRAWS,
                    };
                    let models = PipelineModels::one(&pot);
                    let samples = generate_structures(models, &request, &pipeline, &mut |_| {})
                        .unwrap()
                        .remove(0)
                        .unwrap();
                    let (mut want_x, mut want_r) = (Vec::new(), Vec::new());
                    for sample in &samples {
                        want_x.extend_from_slice(sample.positions.as_flattened());
                        match sample.relaxation.as_ref().unwrap() {
                            Ok(r) => {
                                want_r.push(c_result(r));
                                relaxed_samples += 1;
                            }
                            Err(f) => {
                                want_r.push(CResult {
                                    status: status_of(&f.error),
                                    energy: f64::NAN,
                                    initial_energy: f64::NAN,
                                    max_force: f64::NAN,
                                    ..Default::default()
                                });
                                failed_samples += 1;
                            }
                        }
                    }
                    let (gx, gr) = api
                        .generate_optimize(h, &g, k as i64, seed, steps, churn, Some(&c_opts))
                        .unwrap();
                    assert_eq!(bits(&gx), bits(&want_x), "molecule {m} method {method}");
                    let gr: Vec<_> = gr.iter().map(CResult::bits).collect();
                    let want_r: Vec<_> = want_r.iter().map(CResult::bits).collect();
                    assert_eq!(gr, want_r, "molecule {m} method {method}");
                }
            }
        }
        // A spread-out frame with the default options (NULL) and in a periodic cell.
        let (z, x) = random_molecule(4, 4.0, 7);
        let want = rust_relax(&pot, &z, &x, &OptimizeOptions::default()).unwrap();
        let (gx, gr) = api.optimize(h, &ints(&z), &flat(&x), None).unwrap();
        assert_eq!(bits(&gx), bits(want.positions.as_flattened()));
        assert_eq!(gr.bits(), c_result(&want).bits());
        api.free_model(h);
    }
    println!("{relaxed_samples} samples relaxed, {failed_samples} failed (random model)");
    // Both outcomes of a sample's relaxation are compared above.
    assert!(relaxed_samples > 0 && failed_samples > 0);
}

#[test]
fn concurrent_generation_and_optimisation_on_one_handle_match_serial_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = save_generator_model(dir.path());
    let api = Api::open(&native::cdylib());
    let h = api.load_model(&path, 32);
    let gs: Vec<Graph> = graphs().iter().map(|(z, b)| Graph::new(z, b)).collect();
    let (opts, _) = short_options(&api, 0);
    // Work item t: generate (churn > 0 for odd t), then generate-and-optimise.
    let work = |t: usize| -> (Vec<u64>, Vec<u64>, Vec<[u64; 7]>) {
        let g = &gs[t % gs.len()];
        let churn = if t % 2 == 1 { 1.5 } else { 0.0 };
        let x = api.generate(h, g, 2, t as u64, 6, churn).unwrap();
        let (y, r) = api
            .generate_optimize(h, g, 2, t as u64, 6, churn, Some(&opts))
            .unwrap();
        (bits(&x), bits(&y), r.iter().map(CResult::bits).collect())
    };
    let items = 2 * gs.len();
    let serial: Vec<_> = (0..items).map(work).collect();
    let results = in_parallel(4, |t| {
        (0..items)
            .map(|k| {
                let item = (t + k) % items;
                (item, work(item))
            })
            .collect::<Vec<_>>()
    });
    for (item, got) in results.into_iter().flatten() {
        assert!(
            got == serial[item],
            "work item {item} differs when run concurrently"
        );
    }
    api.free_model(h);
}
