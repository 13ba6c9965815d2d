//! Bounded, seeded random-mutation fuzzing on the stable toolchain, over the same entry points
//! as the cargo-fuzz targets in fuzz/: the model-file reader, the extxyz and SDF parsers, and
//! the C ABI's compute calls (through the dlopened cdylib). Every input must give `Ok` or an
//! error, never a panic, and the ABI must never report an internal error. Findings are printed
//! with the input that caused them; the run is reproducible (fixed seeds).

#![cfg(feature = "torch")]

mod common;
#[path = "common/dylib.rs"]
mod dylib;
#[path = "common/native.rs"]
mod native;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::{random_molecule, random_potential};
use concord::model::evaluate::{Prediction, Request};
use concord::model::{file, Precision};
use concord::potential::{Backend, Device, Potential};
use concord::{Bond, Frame, Molecule};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tokens that stress number parsing, counts, keys and record structure.
const INTERESTING: &[&str] = &[
    "",
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "3",
    "999",
    "1000",
    "99999999999",
    "18446744073709551616",
    "-9223372036854775809",
    "1e308",
    "1e309",
    "-1e308",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "1.5",
    "T",
    "F",
    "\"",
    "\"\"",
    "=",
    "==",
    ":",
    "::",
    "species:S:1",
    "pos:R:3",
    "forces:R:3",
    "Z:I:1",
    "Properties=",
    "Lattice=\"1 0 0 0 1 0 0 0 1\"",
    "pbc=\"T T T\"",
    "stress=\"1 2 3\"",
    "energy=",
    "V2000",
    "V3000",
    "M  END",
    "M  CHG",
    "$$$$",
    "> <",
    ">",
    "<>",
    "H",
    "C",
    "Xx",
    "Og",
    "\t",
    " ",
    "\n",
    "\r\n",
    "é",
    "\u{0}",
];

/// Applies 1-4 random mutations to `seed` text.
fn mutate(seed: &str, rng: &mut ChaCha8Rng) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = b.len();
        match rng.gen_range(0..7) {
            // Replace a byte.
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                const BYTES: &[u8] = b"0123456789-+.eE \n\"=:TFx$>";
                b[i] = BYTES[rng.gen_range(0..BYTES.len())];
            }
            // Delete a range.
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = (i + rng.gen_range(1..40)).min(len);
                b.drain(i..j);
            }
            // Duplicate a range.
            2 if len > 0 => {
                let i = rng.gen_range(0..len);
                let j = (i + rng.gen_range(1..200)).min(len);
                let piece = b[i..j].to_vec();
                let at = rng.gen_range(0..=len);
                b.splice(at..at, piece);
            }
            // Truncate.
            3 => b.truncate(rng.gen_range(0..=len)),
            // Swap two lines.
            4 => {
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (i, j) = (rng.gen_range(0..lines.len()), rng.gen_range(0..lines.len()));
                lines.swap(i, j);
                b = lines.join("\n").into_bytes();
            }
            // Replace a whitespace-separated token, or insert one.
            _ => {
                let text = String::from_utf8_lossy(&b).into_owned();
                let token = INTERESTING[rng.gen_range(0..INTERESTING.len())];
                let starts: Vec<usize> = text
                    .char_indices()
                    .filter(|&(i, c)| {
                        !c.is_whitespace()
                            && (i == 0 || text[..i].ends_with(|p: char| p.is_whitespace()))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if starts.is_empty() {
                    b = format!("{text}{token}").into_bytes();
                } else {
                    let s = starts[rng.gen_range(0..starts.len())];
                    let e = text[s..]
                        .find(char::is_whitespace)
                        .map_or(text.len(), |k| s + k);
                    let e = if rng.gen_bool(0.3) { s } else { e };
                    b = format!("{}{token}{}", &text[..s], &text[e..]).into_bytes();
                }
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Runs `check` on `iterations` mutants of the seeds; returns the number of panics, printing
/// each with its input.
fn fuzz(name: &str, seeds: &[String], iterations: usize, seed: u64, check: impl Fn(&str)) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut findings = 0;
    for it in 0..iterations {
        let input = mutate(&seeds[it % seeds.len()], &mut rng);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            findings += 1;
            eprintln!("FINDING {name} #{it}: panic on input {input:?}");
        }
    }
    println!("fuzz {name}: {iterations} iterations, {findings} findings");
    findings
}

fn extxyz_seeds() -> Vec<String> {
    let mut seeds = Vec::new();
    for (k, n) in [1, 3, 6].into_iter().enumerate() {
        let (z, x) = random_molecule(n, 4.0, k as u64);
        let mut f = Frame::new(z, x);
        f.energy = Some(-12.5);
        f.forces = Some(vec![[0.1, -0.2, 0.3]; n]);
        if k == 1 {
            f.cell = Some([[6.0, 0.0, 0.0], [0.5, 6.0, 0.0], [0.0, 0.0, 6.0]]);
            f.pbc = [true, true, false];
            f.stress = Some([[0.01, 0.0, 0.0], [0.0, 0.02, 0.0], [0.0, 0.0, 0.03]]);
        }
        seeds.push(concord::io::format_extxyz(&[f]));
    }
    let bundled =
        concord::io::read_text(&native::root().join("data/qm9-gfn2/tiny/test_forces.extxyz.gz"))
            .unwrap();
    seeds.push(bundled.lines().take(60).collect::<Vec<_>>().join("\n"));
    seeds
        .push("2\nProperties=Z:I:1:pos:R:3 energy=1 pbc=\"F F F\" note\n1 0 0 0\n8 0 0 1\n".into());
    seeds
}

fn sdf_seeds() -> Vec<String> {
    let mol = Molecule {
        name: "fuzz".into(),
        numbers: vec![6, 8, 1, 1, 7],
        positions: vec![
            [0.0, 0.0, 0.0],
            [1.2, 0.0, 0.0],
            [-0.5, 0.9, 0.0],
            [-0.5, -0.9, 0.0],
            [2.0, 1.0, 0.5],
        ],
        charges: vec![0, -1, 0, 0, 1],
        bonds: vec![
            Bond {
                i: 0,
                j: 1,
                order: concord::BondOrder::Double,
            },
            Bond {
                i: 0,
                j: 2,
                order: concord::BondOrder::Single,
            },
            Bond {
                i: 0,
                j: 3,
                order: concord::BondOrder::Single,
            },
            Bond {
                i: 1,
                j: 4,
                order: concord::BondOrder::Single,
            },
        ],
        properties: [("energy".to_string(), "-1.5".to_string())].into(),
        stereo: Default::default(),
    };
    let bundled =
        concord::io::read_text(&native::root().join("data/qm9-gfn2/tiny/test_structures.sdf.gz"))
            .unwrap();
    let first_records: String = bundled.split_inclusive("$$$$\n").take(3).collect();
    vec![concord::io::format_sdf(&[mol.clone(), mol]), first_records]
}

#[test]
fn extxyz_parser_never_panics() {
    let findings = fuzz("extxyz", &extxyz_seeds(), 6000, 1, |text| {
        let _ = concord::io::parse_extxyz(text, Path::new("fuzz.extxyz"));
    });
    assert_eq!(findings, 0);
}

#[test]
fn sdf_parser_never_panics() {
    let findings = fuzz("sdf", &sdf_seeds(), 6000, 2, |text| {
        let _ = concord::io::parse_sdf(text, Path::new("fuzz.sdf"));
    });
    assert_eq!(findings, 0);
}

/// Energy and forces of a fixed molecule with each backend of the model in `bytes` (written
/// to `path`), or `None` when the file does not load.
fn energies_of(bytes: &[u8], path: &Path, frame: &Frame) -> Option<Vec<Prediction>> {
    std::fs::write(path, bytes).unwrap();
    let mut pot = Potential::load(path, Device::Cpu, Precision::Float64).ok()?;
    let request = Request {
        forces: true,
        ..Request::default()
    };
    let mut out = Vec::new();
    for backend in [Backend::Native, Backend::Torch] {
        pot.set_backend(backend).unwrap();
        out.push(pot.compute_frame(frame, request).ok()?);
    }
    Some(out)
}

/// Header edits, bit flips, truncations and NaN bytes: the reader never panics, and a mutated
/// file either fails to load or computes exactly what the original does (the checksum leaves
/// no silent change).
#[test]
fn model_file_reader_never_panics_or_changes_silently() {
    let pot = random_potential(Precision::Float64, 3);
    let bytes = file::to_bytes(
        &pot.model().vs,
        &file::metadata(pot.model(), serde_json::json!({"k": [1, 2]})),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.concord");
    let (z, x) = random_molecule(6, 5.0, 1);
    let frame = Frame::new(z, x);
    let original = energies_of(&bytes, &path, &frame).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut findings, mut loaded, iterations) = (0, 0, 1500);
    let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for it in 0..iterations {
        let mut b = bytes.clone();
        // Mutate the JSON header (most of the structure) or the tensor data.
        for _ in 0..rng.gen_range(1..=3) {
            let len = b.len();
            match rng.gen_range(0..5) {
                0 if len > header_len => {
                    const BYTES: &[u8] = b"0123456789-.e\"{}[],:";
                    b[rng.gen_range(8..header_len)] = BYTES[rng.gen_range(0..BYTES.len())];
                }
                1 if len > 0 => b[rng.gen_range(0..len)] ^= 1 << rng.gen_range(0..8),
                2 if len > 0 => b.truncate(rng.gen_range(0..len)),
                3 if len > 8 => b[rng.gen_range(0..8)] = rng.gen(),
                // All-ones bytes in the tensor data: NaN parameters.
                4 if len > header_len => b[rng.gen_range(header_len..len)] = 0xff,
                _ => {}
            }
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let _ = file::read_metadata(&b, &path);
            let _ = file::from_bytes(&b, &path, tch::Device::Cpu, Precision::Float32);
            energies_of(&b, &path, &frame)
        }));
        match result {
            Ok(None) => {}
            Ok(Some(energies)) if energies == original => loaded += 1,
            Ok(Some(energies)) => {
                findings += 1;
                eprintln!("FINDING model file #{it}: loads and computes {energies:?}");
            }
            Err(_) => {
                findings += 1;
                eprintln!("FINDING model file #{it}: panic on {} bytes", b.len());
            }
        }
    }
    println!(
        "fuzz model file: {iterations} iterations ({loaded} still loadable, all unchanged), \
         {findings} findings"
    );
    assert_eq!(findings, 0);
}

#[test]
fn abi_compute_never_panics_or_reports_internal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.concord");
    file::save(
        random_potential(Precision::Float64, 8).model(),
        &path,
        serde_json::json!({}),
    )
    .unwrap();
    let api = dylib::Api::open(&native::cdylib());
    let h = api.load_model(&path, 32);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let iterations = 3000;
    let mut statuses = std::collections::BTreeMap::<i32, usize>::new();
    for it in 0..iterations {
        let n = rng.gen_range(1..12usize);
        let (z, x) = random_molecule(n, 3.0 + n as f64, it as u64);
        let mut z: Vec<i32> = z.into_iter().map(i32::from).collect();
        let mut x: Vec<f64> = x.as_flattened().to_vec();
        // Corrupt some inputs.
        for _ in 0..rng.gen_range(0..3) {
            match rng.gen_range(0..6) {
                0 => z[rng.gen_range(0..n)] = rng.gen_range(-5..300),
                1 => {
                    x[rng.gen_range(0..3 * n)] =
                        [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300, -0.0][rng.gen_range(0..5)]
                }
                2 if n > 1 => {
                    let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..n));
                    for a in 0..3 {
                        x[3 * j + a] = x[3 * i + a] + rng.gen::<f64>() * 0.3;
                    }
                }
                _ => x[rng.gen_range(0..3 * n)] += rng.gen_range(-5.0..5.0),
            }
        }
        // Claimed counts: mostly right, sometimes wrong on the safe side (never more than the
        // buffers hold: that would be the caller's undefined behaviour, not ours to test).
        let n_claim: i64 = match rng.gen_range(0..10) {
            0 => -rng.gen_range(0..1_000_000_000_000i64),
            1 => 0,
            2 => 1_000_000_000 + rng.gen_range(0..10i64),
            3 => rng.gen_range(1..=n as i64),
            _ => n as i64,
        };
        let status = if rng.gen_bool(0.5) {
            let cell: [f64; 9] = std::array::from_fn(|k| {
                if k % 4 == 0 {
                    rng.gen_range(-1.0..12.0)
                } else {
                    rng.gen_range(-3.0..3.0)
                }
            });
            let periodic: [i32; 3] = std::array::from_fn(|_| rng.gen_range(0..2));
            let mut o = dylib::Out::new(n);
            unsafe {
                (api.compute)(
                    h.0,
                    n_claim,
                    z.as_ptr(),
                    x.as_ptr(),
                    if rng.gen_bool(0.7) {
                        cell.as_ptr()
                    } else {
                        std::ptr::null()
                    },
                    if rng.gen_bool(0.7) {
                        periodic.as_ptr()
                    } else {
                        std::ptr::null()
                    },
                    &mut o.energy,
                    if rng.gen_bool(0.5) {
                        o.forces.as_mut_ptr()
                    } else {
                        std::ptr::null_mut()
                    },
                    o.atom_energies.as_mut_ptr(),
                    if rng.gen_bool(0.5) {
                        o.virial.as_mut_ptr()
                    } else {
                        std::ptr::null_mut()
                    },
                    o.atom_virial.as_mut_ptr(),
                )
            }
        } else {
            let n_pairs = rng.gen_range(0..40usize);
            let first: Vec<i32> = (0..n_pairs)
                .map(|_| rng.gen_range(-2..n as i32 + 2))
                .collect();
            let second: Vec<i32> = (0..n_pairs)
                .map(|_| rng.gen_range(-2..n as i32 + 2))
                .collect();
            let pairs_claim = match rng.gen_range(0..6) {
                0 => -1,
                1 => 0,
                _ => rng.gen_range(0..=n_pairs as i64),
            };
            let (f, s) = match rng.gen_range(0..4) {
                0 => (std::ptr::null(), std::ptr::null()),
                1 => (first.as_ptr(), std::ptr::null()),
                _ => (first.as_ptr(), second.as_ptr()),
            };
            let mut o = dylib::Out::new(n);
            unsafe {
                (api.compute_local)(
                    h.0,
                    rng.gen_range(-1..=n as i64 + 1),
                    n_claim,
                    z.as_ptr(),
                    x.as_ptr(),
                    pairs_claim,
                    f,
                    s,
                    &mut o.energy,
                    o.forces.as_mut_ptr(),
                    o.atom_energies.as_mut_ptr(),
                    o.virial.as_mut_ptr(),
                    o.atom_virial.as_mut_ptr(),
                )
            }
        };
        if status != dylib::SUCCESS {
            let msg = api.error();
            assert!(
                status != dylib::INTERNAL && !msg.is_empty(),
                "iteration {it}: status {status}: {msg}"
            );
        }
        *statuses.entry(status).or_default() += 1;
    }
    api.free_model(h);
    println!("fuzz ABI compute: {iterations} iterations, 0 findings; statuses {statuses:?}");
    assert!(
        statuses.len() >= 3,
        "the mutations should reach several outcomes: {statuses:?}"
    );
}

/// A random molecular graph over H C N O F, as the ABI takes it: a tree grown from a carbon,
/// hydrogens and fluorines as leaves, mostly single bonds (mostly valid).
fn random_graph(rng: &mut ChaCha8Rng) -> dylib::Graph {
    let n = rng.gen_range(1..9usize);
    let mut g = dylib::Graph {
        z: vec![6],
        ..Default::default()
    };
    let mut free = vec![4]; // remaining valence of each atom
    for i in 1..n {
        let z = [1, 1, 6, 7, 8, 9][rng.gen_range(0..6)];
        let valence = match z {
            1 | 9 => 1,
            6 => 4,
            7 => 3,
            _ => 2,
        };
        let open: Vec<usize> = (0..i).filter(|&p| free[p] > 0).collect();
        if open.is_empty() {
            break;
        }
        let parent = open[rng.gen_range(0..open.len())];
        let order = if rng.gen_bool(0.85) {
            1
        } else {
            rng.gen_range(2..=3).min(free[parent]).min(valence)
        };
        free[parent] -= order;
        free.push(valence - order);
        g.z.push(z);
        g.first.push(parent as i32);
        g.second.push(i as i32);
        g.order.push(order);
    }
    g
}

#[test]
fn abi_generate_and_optimize_never_panic_or_report_internal_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.concord");
    file::save(
        &common::random_generator_model(Precision::Float64, 12),
        &path,
        serde_json::json!({}),
    )
    .unwrap();
    let api = dylib::Api::open(&native::cdylib());
    let h = api.load_model(&path, 32);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let iterations = 1500;
    let mut statuses = std::collections::BTreeMap::<(&str, i32), usize>::new();
    for it in 0..iterations {
        let mut g = random_graph(&mut rng);
        let n = g.z.len();
        // Corrupt the graph.
        for _ in 0..rng.gen_range(0..3) {
            let b = g.first.len();
            match rng.gen_range(0..6) {
                0 => g.z[rng.gen_range(0..n)] = rng.gen_range(-3..300),
                1 if b > 0 => g.first[rng.gen_range(0..b)] = rng.gen_range(-2..n as i32 + 2),
                2 if b > 0 => g.order[rng.gen_range(0..b)] = rng.gen_range(-1..7),
                3 if b > 0 => {
                    // Drop a bond (a disconnected atom) or repeat one.
                    if rng.gen_bool(0.5) {
                        g.first.pop();
                        g.second.pop();
                        g.order.pop();
                    } else {
                        let k = rng.gen_range(0..b);
                        g.first.push(g.second[k]);
                        g.second.push(g.first[k]);
                        g.order.push(1);
                    }
                }
                _ => {
                    // A bond to itself or an extra bond.
                    let i = rng.gen_range(0..n) as i32;
                    g.first.push(i);
                    g.second.push(if rng.gen_bool(0.5) { i } else { 0 });
                    g.order.push(1);
                }
            }
        }
        let b = g.first.len();
        // Claimed counts: mostly right, sometimes wrong on the safe side.
        let n_claim: i64 = match rng.gen_range(0..12) {
            0 => -rng.gen_range(1..1_000_000_000_000i64),
            1 => 0,
            2 => rng.gen_range(1..=n as i64),
            _ => n as i64,
        };
        let b_claim: i64 = match rng.gen_range(0..10) {
            0 => -1,
            1 => 0,
            2 => rng.gen_range(0..=b as i64),
            _ => b as i64,
        };
        let k_claim: i64 = match rng.gen_range(0..10) {
            0 => -1,
            1 => 0,
            2 => 1_000_000_000_000,
            _ => rng.gen_range(1..3),
        };
        let k = k_claim.clamp(0, 3) as usize;
        // Each setting: a valid value (the first), or with probability 1/8 any of the others.
        fn pick<T: Copy>(rng: &mut ChaCha8Rng, values: &[T]) -> T {
            if rng.gen_bool(0.875) {
                values[0]
            } else {
                values[rng.gen_range(0..values.len())]
            }
        }
        // Default steps (64) are slow here: 3 is the valid value, 0 (the default) a rare one.
        let steps = pick(&mut rng, &[3, 2, 0, -1, 1, 20_000]);
        let churn = pick(&mut rng, &[0.0, 0.5, 3.0, -1.0, f64::NAN, f64::INFINITY]);
        let options = dylib::OptimizeOptions {
            fmax: pick(&mut rng, &[0.01, 0.0, -1.0, f64::NAN, 1e3]),
            max_steps: pick(&mut rng, &[5, 0, -1]),
            max_step: pick(&mut rng, &[0.2, 0.0, f64::INFINITY, 5.0]),
            method: pick(&mut rng, &[0, 1, -1, 2]),
            memory: pick(&mut rng, &[20, 1, 0, -1]),
        };
        let null_bonds = rng.gen_bool(0.05);
        let ptr = |v: &Vec<i32>| {
            if null_bonds {
                std::ptr::null()
            } else {
                v.as_ptr()
            }
        };
        let mut x = vec![0.0; 3 * n * k.max(1)];
        let mut results = vec![dylib::OptimizeResult::default(); k.max(1)];
        // A claimed sample count larger than the buffers would be the caller's undefined
        // behaviour: only counts the buffers hold, or ones the library refuses.
        let k_claim = if k_claim > 0 && k_claim as usize > k.max(1) {
            1_000_000_000_000
        } else {
            k_claim
        };
        let (name, status) = match rng.gen_range(0..3) {
            0 => ("generate", unsafe {
                (api.generate)(
                    h.0,
                    n_claim,
                    g.z.as_ptr(),
                    b_claim,
                    ptr(&g.first),
                    ptr(&g.second),
                    ptr(&g.order),
                    k_claim,
                    it as u64,
                    steps,
                    churn,
                    x.as_mut_ptr(),
                )
            }),
            1 => ("generate_optimize", unsafe {
                (api.generate_optimize)(
                    h.0,
                    n_claim,
                    g.z.as_ptr(),
                    b_claim,
                    ptr(&g.first),
                    ptr(&g.second),
                    ptr(&g.order),
                    k_claim,
                    it as u64,
                    steps,
                    churn,
                    &options,
                    x.as_mut_ptr(),
                    results.as_mut_ptr(),
                )
            }),
            _ => {
                // Optimise a random (possibly corrupted) frame.
                let (z, p) = random_molecule(n, 2.0 + n as f64, it as u64);
                let z: Vec<i32> =
                    g.z.iter()
                        .zip(z)
                        .map(|(&a, b)| if rng.gen_bool(0.8) { i32::from(b) } else { a })
                        .collect();
                let mut p: Vec<f64> = p.as_flattened().to_vec();
                if rng.gen_bool(0.2) {
                    p[rng.gen_range(0..3 * n)] =
                        [f64::NAN, f64::INFINITY, 1e300][rng.gen_range(0..3)];
                }
                let options = dylib::OptimizeOptions {
                    max_steps: options.max_steps.min(8),
                    ..options
                };
                ("optimize", unsafe {
                    (api.optimize)(
                        h.0,
                        n_claim,
                        z.as_ptr(),
                        p.as_mut_ptr(),
                        std::ptr::null(),
                        std::ptr::null(),
                        if rng.gen_bool(0.8) {
                            &options
                        } else {
                            std::ptr::null()
                        },
                        results.as_mut_ptr(),
                    )
                })
            }
        };
        if status != dylib::SUCCESS {
            let msg = api.error();
            assert!(
                status != dylib::INTERNAL && !msg.is_empty(),
                "iteration {it}: {name}: status {status}: {msg}"
            );
        }
        assert!(
            results.iter().all(|r| r.status != dylib::INTERNAL),
            "iteration {it}: a sample reported an internal error"
        );
        *statuses.entry((name, status)).or_default() += 1;
    }
    api.free_model(h);
    println!(
        "fuzz ABI generate/optimize: {iterations} iterations, 0 findings; statuses {statuses:?}"
    );
    for name in ["generate", "generate_optimize", "optimize"] {
        assert!(
            statuses.contains_key(&(name, dylib::SUCCESS)),
            "{name} should succeed sometimes: {statuses:?}"
        );
    }
}
