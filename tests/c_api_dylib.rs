//! The cdylib tested as a foreign consumer would use it: opened with libloading, called with C
//! types only. Results must equal the Rust API's bit for bit, and concurrent calls (separate
//! handles, and one handle shared by several threads) must give the serial results exactly.

mod common;
#[path = "common/dylib.rs"]
mod dylib;
#[path = "common/native.rs"]
mod native;

use std::path::Path;

use common::{random_molecule, random_potential};
use concord::api::Potential;
use concord::model::evaluate::{Prediction, Request};
use concord::model::{file, Precision};
use dylib::{Api, Handle, Out};

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
        let pot = Potential::load(&path, tch::Device::Cpu, precision).unwrap();
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
