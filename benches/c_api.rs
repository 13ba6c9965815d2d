//! C ABI overhead benchmark (`make bench`): the time per call of the dlopened cdylib's
//! functions against the direct Rust calls they wrap, for a trivial getter and for energy +
//! forces of molecules of several sizes. Writes a Markdown table to stdout and to
//! target/bench/c_api.md. Timings are never asserted in tests.
//!
//! Usage: cargo bench --bench c_api -- [MODEL]   (default: an untrained model of the default
//! architecture, 64 features, 3 layers, float32)

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/dylib.rs"]
mod dylib;
#[path = "../tests/common/native.rs"]
mod native;

use std::path::{Path, PathBuf};
use std::time::Instant;

use concord::model::evaluate::Request;
use concord::model::{file, EncoderConfig, Model, ModelConfig, Precision};
use concord::potential::Potential;

fn model_file(dir: &Path) -> PathBuf {
    if let Some(p) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(p);
    }
    let config = ModelConfig {
        elements: vec![1, 6, 7, 8, 9],
        encoder: EncoderConfig::default(),
        generator: None,
    };
    let model = Model::seeded(config, tch::Device::Cpu, Precision::Float32, 0).unwrap();
    let path = dir.join("bench.concord");
    file::save(&model, &path, serde_json::Value::Null).unwrap();
    path
}

/// Median over `batches` of the mean time per call (seconds) of `reps` calls; the two
/// functions are timed in alternating batches so that drift affects both alike.
fn compare(reps: usize, batches: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    for _ in 0..reps.min(20) {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..reps {
            a();
        }
        ta.push(t.elapsed().as_secs_f64() / reps as f64);
        let t = Instant::now();
        for _ in 0..reps {
            b();
        }
        tb.push(t.elapsed().as_secs_f64() / reps as f64);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(ta), median(tb))
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = model_file(dir.path());
    let pot = Potential::load(&path, concord::potential::Device::Cpu, Precision::Float32).unwrap();
    let api = dylib::Api::open(&native::cdylib());
    let h = api.load_model(&path, 32);
    let cutoff: dylib::Cutoff = unsafe {
        *libloading::Library::new(native::cdylib())
            .unwrap()
            .get(b"concord_model_cutoff\0")
            .unwrap()
    };
    let mut table = String::from(
        "| call | atoms | Rust (µs) | C ABI (µs) | overhead (µs) | overhead (%) |\n|---|---|---|---|---|---|\n",
    );
    let mut row = |call: &str, atoms: &str, (r, c): (f64, f64)| {
        table += &format!(
            "| {call} | {atoms} | {:.3} | {:.3} | {:.3} | {:.1} |\n",
            r * 1e6,
            c * 1e6,
            (c - r) * 1e6,
            100.0 * (c - r) / r
        );
    };
    row(
        "cutoff getter",
        "-",
        compare(
            200_000,
            15,
            || {
                std::hint::black_box(pot.cutoff());
            },
            || {
                let mut x = 0.0;
                assert_eq!(unsafe { cutoff(h.0, &mut x) }, 0);
                std::hint::black_box(x);
            },
        ),
    );
    let forces = Request {
        forces: true,
        ..Default::default()
    };
    for (n, reps) in [(3, 200), (30, 50), (300, 4)] {
        let (z, x) = common::random_molecule(n, 2.2 * (n as f64).cbrt() + 1.0, n as u64);
        let z32: Vec<i32> = z.iter().map(|&v| i32::from(v)).collect();
        let flat = x.as_flattened().to_vec();
        let mut e = 0.0;
        let mut f = vec![0.0; 3 * n];
        for (label, req) in [("energy", Request::default()), ("energy + forces", forces)] {
            let want_f = req.forces;
            row(
                label,
                &n.to_string(),
                compare(
                    reps,
                    9,
                    || {
                        std::hint::black_box(pot.compute(&z, &x, None, [false; 3], req).unwrap());
                    },
                    || {
                        let s = unsafe {
                            (api.compute)(
                                h.0,
                                n as i64,
                                z32.as_ptr(),
                                flat.as_ptr(),
                                std::ptr::null(),
                                std::ptr::null(),
                                &mut e,
                                if want_f {
                                    f.as_mut_ptr()
                                } else {
                                    std::ptr::null_mut()
                                },
                                std::ptr::null_mut(),
                                std::ptr::null_mut(),
                                std::ptr::null_mut(),
                            )
                        };
                        assert_eq!(s, 0);
                        std::hint::black_box(&f);
                    },
                ),
            );
        }
    }
    api.free_model(h);
    println!("C ABI overhead per call (median of alternating batches, float32, CPU)\n\n{table}");
    let out = native::target_dir().join("../bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("c_api.md"), &table).unwrap();
}
