//! FIRE and L-BFGS: convergence on an anisotropic quadratic (exact minimum), on Lennard-Jones
//! clusters near their known global minima, on a molecule's elastic network (preconditioned
//! L-BFGS needs fewer force calls) and on molecules with a random Concord potential;
//! step capping, step/force-call accounting, non-convergence and input errors.

#![cfg(feature = "torch")]

mod common;

use common::{lj_cluster, lj_energy_gradient, random_molecule, random_potential};
use concord::model::Precision;
use concord::optimize::{
    optimize, Method, Objective, OptimizeOptions, OptimizeResult, PotentialObjective,
};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};

const METHODS: [Method; 2] = [Method::Fire, Method::Lbfgs];

/// `E = E0 + (x - x*)^T H (x - x*) / 2` over 3 atoms with a dense, anisotropic Hessian
/// (eigenvalues 0.5 to 20 eV/Å²); records every point it is called at.
struct Quadratic {
    hessian: DMatrix<f64>,
    x_min: DVector<f64>,
    e_min: f64,
    calls: Vec<Vec<[f64; 3]>>,
}

impl Quadratic {
    fn new(seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a = DMatrix::from_fn(9, 9, |_, _| rng.gen::<f64>() - 0.5);
        let q = a.qr().q();
        let k = DVector::from_vec(vec![0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0]);
        Quadratic {
            hessian: &q * DMatrix::from_diagonal(&k) * q.transpose(),
            x_min: DVector::from_fn(9, |i, _| i as f64 * 0.7 - 2.0),
            e_min: -3.25,
            calls: Vec::new(),
        }
    }

    fn minimum(&self) -> Vec<[f64; 3]> {
        flat_to_atoms(&self.x_min)
    }
}

impl Objective for Quadratic {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
        self.calls.push(x.to_vec());
        let d = DVector::from_iterator(9, x.iter().flatten().copied()) - &self.x_min;
        let g = &self.hessian * &d;
        Ok((self.e_min + 0.5 * d.dot(&g), flat_to_atoms(&g)))
    }
}

fn flat_to_atoms(v: &DVector<f64>) -> Vec<[f64; 3]> {
    v.as_slice().chunks(3).map(|c| [c[0], c[1], c[2]]).collect()
}

/// The Lennard-Jones cluster energy (ε = σ = 1), counting calls.
#[derive(Default)]
struct LennardJones {
    calls: usize,
}

impl Objective for LennardJones {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
        self.calls += 1;
        Ok(lj_energy_gradient(x))
    }
}

fn max_norm(v: &[[f64; 3]]) -> f64 {
    v.iter()
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .fold(0.0, f64::max)
}

fn max_displacement(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| common::dist(p, q))
        .fold(0.0, f64::max)
}

fn opts(method: Method, fmax: f64) -> OptimizeOptions {
    OptimizeOptions {
        method,
        fmax,
        ..Default::default()
    }
}

/// Checks the bookkeeping every result must satisfy: the reported max force and energy
/// belong to the reported gradient, `converged` matches, FIRE calls once per step and
/// L-BFGS at least once per step.
fn check_accounting(r: &OptimizeResult, fmax: f64, calls: usize) {
    assert_eq!(r.force_calls, calls, "force calls miscounted");
    assert!((r.max_force - max_norm(&r.gradient)).abs() < 1e-15);
    assert_eq!(r.converged, r.max_force < fmax);
    match r.method {
        Method::Fire => assert_eq!(r.force_calls, r.steps + 1),
        Method::Lbfgs => assert!(r.force_calls > r.steps),
    }
}

#[test]
fn quadratic_converges_to_exact_minimum() {
    for method in METHODS {
        let mut q = Quadratic::new(1);
        let x0 = vec![[0.3, -0.2, 0.1], [1.0, 0.5, -0.4], [0.0, 2.0, 1.0]];
        let fmax = 1e-6;
        let r = optimize(&mut q, &x0, &opts(method, fmax)).unwrap();
        eprintln!(
            "quadratic {method}: {} steps, {} force calls, max force {:.2e}",
            r.steps, r.force_calls, r.max_force
        );
        assert!(r.converged, "{method}: {r:?}");
        check_accounting(&r, fmax, q.calls.len());
        assert!(r.max_force < fmax);
        // |g| >= k_min |x - x*| with k_min = 0.5 eV/Å² and |g| < sqrt(3) fmax.
        let err = max_displacement(&r.positions, &q.minimum());
        assert!(err < 2.0 * 3f64.sqrt() * fmax, "{method}: off by {err} Å");
        assert!((r.energy - q.e_min).abs() < 1e-10);
        assert_eq!(&r.positions, q.calls.last().unwrap());
        assert!(r.initial_energy > r.energy);
        let max_steps = match method {
            Method::Fire => 300,
            Method::Lbfgs => 40,
        };
        assert!(
            r.steps > 0 && r.steps < max_steps,
            "{method}: {} steps",
            r.steps
        );
    }
}

#[test]
fn steps_are_capped_at_max_step() {
    for method in METHODS {
        let mut q = Quadratic::new(2);
        // 10 Å and more from the minimum: the cap is what limits the first steps.
        let x0 = vec![[10.0, 0.0, 0.0], [0.0, -10.0, 0.0], [5.0, 5.0, 5.0]];
        let o = OptimizeOptions {
            max_step: 0.15,
            ..opts(method, 1e-4)
        };
        let r = optimize(&mut q, &x0, &o).unwrap();
        eprintln!(
            "far quadratic {method}: {} steps, {} force calls",
            r.steps, r.force_calls
        );
        assert!(r.converged);
        check_accounting(&r, o.fmax, q.calls.len());
        // Every trial point lies within max_step (per atom) of an earlier evaluated point.
        for k in 1..q.calls.len() {
            let nearest = q.calls[..k]
                .iter()
                .map(|p| max_displacement(p, &q.calls[k]))
                .fold(f64::INFINITY, f64::min);
            assert!(nearest <= o.max_step * (1.0 + 1e-12), "{method} call {k}");
        }
        let dist0 = max_displacement(&x0, &q.minimum());
        assert!(r.steps as f64 >= dist0 / o.max_step);
    }
}

#[test]
fn lennard_jones_clusters_reach_known_global_minima() {
    // Cambridge Cluster Database, ε units.
    for (n, e_min) in [(7, -16.505384), (13, -44.326801)] {
        for method in METHODS {
            let mut lj = LennardJones::default();
            let x0 = lj_cluster(n, 0.05, 7);
            let fmax = 1e-5;
            let r = optimize(&mut lj, &x0, &opts(method, fmax)).unwrap();
            eprintln!(
                "LJ{n} {method}: {} steps, {} force calls, E {:.6} (from {:.6})",
                r.steps, r.force_calls, r.energy, r.initial_energy
            );
            assert!(r.converged, "LJ{n} {method}: {r:?}");
            check_accounting(&r, fmax, lj.calls);
            assert!(
                (r.energy - e_min).abs() < 1e-6,
                "LJ{n} {method}: E = {}",
                r.energy
            );
        }
    }
}

/// A Concord potential plus a pair repulsion `sum_{i<j} (1 Å / r)^12` eV: an untrained model
/// has no repulsive core, so alone it may pull atoms onto each other.
struct Repelled<'a> {
    potential: PotentialObjective<'a>,
    calls: usize,
}

impl Repelled<'_> {
    fn repulsion(x: &[[f64; 3]]) -> (f64, Vec<[f64; 3]>) {
        let mut e = 0.0;
        let mut g = vec![[0.0; 3]; x.len()];
        for i in 0..x.len() {
            for j in i + 1..x.len() {
                let d: [f64; 3] = std::array::from_fn(|a| x[j][a] - x[i][a]);
                let r2 = d.iter().map(|v| v * v).sum::<f64>();
                e += r2.powi(-6);
                let c = -12.0 * r2.powi(-7);
                for a in 0..3 {
                    g[j][a] += c * d[a];
                    g[i][a] -= c * d[a];
                }
            }
        }
        (e, g)
    }
}

impl Objective for Repelled<'_> {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
        self.calls += 1;
        let (e, mut g) = self.potential.energy_and_gradient(x)?;
        let (er, gr) = Self::repulsion(x);
        for (a, b) in g.iter_mut().zip(&gr) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
        Ok((e + er, g))
    }

    fn energy_tolerance(&self, energy: f64) -> f64 {
        self.potential.energy_tolerance(energy)
    }

    fn open_system_numbers(&self) -> Option<&[u8]> {
        self.potential.open_system_numbers()
    }
}

/// Propan-1-ol (MMFF geometry, Å): `C C C O` and eight hydrogens.
const PROPANOL: [(u8, [f64; 3]); 12] = [
    (6, [1.355, 0.517, 0.231]),
    (6, [0.394, -0.623, 0.536]),
    (6, [-1.016, -0.343, 0.033]),
    (8, [-1.559, 0.779, 0.714]),
    (1, [2.360, 0.268, 0.584]),
    (1, [1.411, 0.705, -0.846]),
    (1, [1.045, 1.443, 0.726]),
    (1, [0.768, -1.543, 0.075]),
    (1, [0.373, -0.777, 1.621]),
    (1, [-1.660, -1.206, 0.224]),
    (1, [-1.014, -0.137, -1.042]),
    (1, [-2.456, 0.917, 0.365]),
];

/// A valence-like elastic network of a molecule: springs between the atom pairs of a
/// reference geometry, stiff (30 eV/Å²) for bonds (closer than 1.6 Å), soft (2 eV/Å²) for
/// pairs two bonds apart (closer than 2.6 Å). Its minimum is the reference; an open system.
struct Springs {
    numbers: Vec<u8>,
    pairs: Vec<(usize, usize, f64, f64)>,
    calls: usize,
}

impl Springs {
    fn new(molecule: &[(u8, [f64; 3])]) -> Self {
        let mut pairs = Vec::new();
        for i in 0..molecule.len() {
            for j in 0..i {
                let r0 = common::dist(&molecule[i].1, &molecule[j].1);
                if r0 < 2.6 {
                    pairs.push((i, j, r0, if r0 < 1.6 { 30.0 } else { 2.0 }));
                }
            }
        }
        let numbers = molecule.iter().map(|a| a.0).collect();
        Springs {
            numbers,
            pairs,
            calls: 0,
        }
    }
}

impl Objective for Springs {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
        self.calls += 1;
        let mut e = 0.0;
        let mut g = vec![[0.0; 3]; x.len()];
        for &(i, j, r0, k) in &self.pairs {
            let r = common::dist(&x[i], &x[j]);
            e += 0.5 * k * (r - r0).powi(2);
            for a in 0..3 {
                let d = k * (r - r0) * (x[i][a] - x[j][a]) / r;
                g[i][a] += d;
                g[j][a] -= d;
            }
        }
        Ok((e, g))
    }

    fn open_system_numbers(&self) -> Option<&[u8]> {
        Some(&self.numbers)
    }
}

#[test]
fn model_hessian_preconditioning_saves_force_calls_on_a_molecule() {
    let reference: Vec<[f64; 3]> = PROPANOL.iter().map(|a| a.1).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let start: Vec<[f64; 3]> = reference
        .iter()
        .map(|p| p.map(|v| v + 0.3 * (rng.gen::<f64>() - 0.5)))
        .collect();
    let mut calls = Vec::new();
    for precondition in [false, true] {
        let mut obj = Springs::new(&PROPANOL);
        let o = OptimizeOptions {
            precondition,
            ..opts(Method::Lbfgs, 1e-4)
        };
        let r = optimize(&mut obj, &start, &o).unwrap();
        eprintln!(
            "preconditioned {precondition}: {} force calls",
            r.force_calls
        );
        assert!(r.converged, "{r:?}");
        check_accounting(&r, 1e-4, obj.calls);
        // The network's minimum is the reference, up to a rigid motion: compare distances.
        for &(i, j, r0, _) in &obj.pairs {
            assert!((common::dist(&r.positions[i], &r.positions[j]) - r0).abs() < 1e-4);
        }
        calls.push(r.force_calls);
    }
    assert!(
        2 * calls[1] < calls[0],
        "force calls plain / preconditioned: {calls:?}"
    );
}

#[test]
fn random_potential_molecules_relax() {
    for precision in [Precision::Float64, Precision::Float32] {
        let pot = random_potential(precision, 3);
        // (Seed 0 collapses by 35 eV; FIRE then needs ~1100 steps: too slow for a test.)
        {
            let (numbers, x0) = random_molecule(8, 3.5, 1);
            let runs = METHODS
                .iter()
                .map(|&m| (m, false))
                .chain([(Method::Lbfgs, true)]);
            for (method, precondition) in runs {
                let mut obj = Repelled {
                    potential: PotentialObjective {
                        potential: &pot,
                        numbers: &numbers,
                        cell: None,
                        pbc: [false; 3],
                    },
                    calls: 0,
                };
                let fmax = 0.01;
                let o = OptimizeOptions {
                    precondition,
                    ..opts(method, fmax)
                };
                let r = optimize(&mut obj, &x0, &o).unwrap();
                eprintln!(
                    "molecule {precision:?} {method} (preconditioned: {precondition}): {} steps, {} force calls, \
                     E {:.4} -> {:.4}, max force {:.4}",
                    r.steps, r.force_calls, r.initial_energy, r.energy, r.max_force
                );
                assert!(r.converged, "{precision:?} {method}: {r:?}");
                check_accounting(&r, fmax, obj.calls);
                assert!(r.energy < r.initial_energy);
                // Independent check with the potential itself.
                let p = pot
                    .compute(
                        &numbers,
                        &r.positions,
                        None,
                        [false; 3],
                        concord::model::evaluate::Request {
                            forces: true,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                let (er, gr) = Repelled::repulsion(&r.positions);
                let f: Vec<[f64; 3]> = p
                    .forces
                    .unwrap()
                    .iter()
                    .zip(&gr)
                    .map(|(f, g)| std::array::from_fn(|k| f[k] - g[k]))
                    .collect();
                assert!(max_norm(&f) < fmax);
                assert_eq!(p.energy + er, r.energy);
            }
        }
    }
}

#[test]
fn periodic_system_relaxes_in_fixed_cell() {
    // The test repulsion ignores periodic images; the model sees them.
    let pot = random_potential(Precision::Float64, 4);
    let (numbers, x0) = random_molecule(6, 4.5, 3);
    let cell = [[4.5, 0.0, 0.0], [0.0, 4.5, 0.0], [0.0, 0.0, 4.5]];
    for method in METHODS {
        let mut obj = Repelled {
            potential: PotentialObjective {
                potential: &pot,
                numbers: &numbers,
                cell: Some(cell),
                pbc: [true; 3],
            },
            calls: 0,
        };
        let r = optimize(&mut obj, &x0, &opts(method, 0.01)).unwrap();
        eprintln!(
            "periodic {method}: {} steps, {} force calls, E {:.4} -> {:.4}",
            r.steps, r.force_calls, r.initial_energy, r.energy
        );
        assert!(r.converged, "{method}: {r:?}");
        assert!(r.energy < r.initial_energy);
        check_accounting(&r, 0.01, obj.calls);
    }
}

#[test]
fn running_out_of_steps_is_not_an_error() {
    for method in METHODS {
        let mut lj = LennardJones::default();
        let x0 = lj_cluster(13, 0.1, 1);
        let o = OptimizeOptions {
            max_steps: 3,
            ..opts(method, 1e-8)
        };
        let r = optimize(&mut lj, &x0, &o).unwrap();
        assert!(!r.converged);
        assert_eq!(r.steps, 3);
        check_accounting(&r, o.fmax, lj.calls);
        assert!(r.energy < r.initial_energy);

        // max_steps = 0 only evaluates the start.
        let mut lj = LennardJones::default();
        let o = OptimizeOptions { max_steps: 0, ..o };
        let r = optimize(&mut lj, &x0, &o).unwrap();
        assert!(!r.converged);
        assert_eq!((r.steps, r.force_calls, lj.calls), (0, 1, 1));
        assert_eq!(r.positions, x0);
    }
}

#[test]
fn converged_start_takes_no_step() {
    for method in METHODS {
        let mut q = Quadratic::new(3);
        let x0 = q.minimum();
        let r = optimize(&mut q, &x0, &opts(method, 1e-3)).unwrap();
        assert!(r.converged);
        assert_eq!((r.steps, r.force_calls), (0, 1));
    }
}

/// An objective that turns NaN after `good` calls, or returns the wrong number of rows.
struct Broken {
    good: usize,
    calls: usize,
    rows: usize,
}

impl Objective for Broken {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
        self.calls += 1;
        let (e, mut g) = lj_energy_gradient(x);
        g.truncate(self.rows);
        if self.calls > self.good {
            return Ok((f64::NAN, g));
        }
        Ok((e, g))
    }
}

fn err(r: concord::Result<OptimizeResult>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    let x0 = lj_cluster(7, 0.05, 2);
    for method in METHODS {
        let o = opts(method, 0.01);
        let mut lj = LennardJones::default();
        assert!(err(optimize(&mut lj, &[], &o)).contains("empty system"));
        let mut bad = x0.clone();
        bad[4][1] = f64::NAN;
        assert!(err(optimize(&mut lj, &bad, &o))
            .contains("non-finite coordinate (NaN or inf) on atom 4"));
        bad[4][1] = f64::INFINITY;
        assert!(err(optimize(&mut lj, &bad, &o)).contains("atom 4"));
        for fmax in [0.0, -1.0, f64::NAN] {
            let o = OptimizeOptions { fmax, ..o.clone() };
            let msg = err(optimize(&mut lj, &x0, &o));
            assert!(
                msg.contains(&format!("fmax = {fmax} must be positive")),
                "{msg}"
            );
        }
        let o2 = OptimizeOptions {
            max_step: 0.0,
            ..o.clone()
        };
        assert!(err(optimize(&mut lj, &x0, &o2))
            .contains("max_step = 0 must be positive and finite (Å)"));
        assert_eq!(lj.calls, 0, "no evaluation before the inputs are checked");

        let mut broken = Broken {
            good: 4,
            calls: 0,
            rows: 7,
        };
        let msg = err(optimize(&mut broken, &x0, &o));
        assert!(msg.contains("non-finite energy (NaN) at step"), "{msg}");
        if method == Method::Fire {
            assert!(msg.contains("at step 4"), "{msg}");
        }
        let mut short = Broken {
            good: 100,
            calls: 0,
            rows: 6,
        };
        let msg = err(optimize(&mut short, &x0, &o));
        assert!(
            msg.contains("6 gradient rows for 7 atoms at step 0"),
            "{msg}"
        );
    }
    let o = OptimizeOptions {
        memory: 0,
        ..opts(Method::Lbfgs, 0.01)
    };
    let msg = err(optimize(&mut LennardJones::default(), &x0, &o));
    assert!(msg.contains("memory = 0 must be at least 1"), "{msg}");
}

#[test]
fn potential_errors_name_the_step() {
    let pot = random_potential(Precision::Float64, 1);
    let numbers = vec![6, 6, 118];
    let mut obj = PotentialObjective {
        potential: &pot,
        numbers: &numbers,
        cell: None,
        pbc: [false; 3],
    };
    let x0 = vec![[0.0; 3], [1.5, 0.0, 0.0], [0.0, 1.5, 0.0]];
    let msg = err(optimize(&mut obj, &x0, &OptimizeOptions::default()));
    assert!(msg.contains("objective failed at step 0"), "{msg}");
}

#[test]
fn method_names_parse() {
    assert_eq!("fire".parse::<Method>().unwrap(), Method::Fire);
    assert_eq!("LBFGS".parse::<Method>().unwrap(), Method::Lbfgs);
    assert_eq!("l-bfgs".parse::<Method>().unwrap(), Method::Lbfgs);
    assert_eq!(Method::Fire.to_string(), "fire");
    assert!("bfgs"
        .parse::<Method>()
        .unwrap_err()
        .to_string()
        .contains("unknown optimisation method 'bfgs'"));
}
