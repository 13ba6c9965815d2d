//! Geometry optimisation: FIRE and L-BFGS minimisers of any [`Objective`] (energy and gradient
//! of `N` atoms' positions), converging on the largest per-atom force.
//!
//! Units are those of the objective; for [`PotentialObjective`] eV and Å. Both methods cap the
//! displacement of every atom at [`OptimizeOptions::max_step`] per step and stop as soon as
//! `max_i |F_i| < fmax` at an evaluated point, or after `max_steps` position updates; running
//! out of steps is reported as `converged = false`, not as an error.
//!
//! ```
//! use concord::optimize::{optimize, Objective, OptimizeOptions, Method};
//! // E = |x - (1, 2, 3)|^2 for one atom.
//! struct Well;
//! impl Objective for Well {
//!     fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> concord::Result<(f64, Vec<[f64; 3]>)> {
//!         let d: [f64; 3] = std::array::from_fn(|a| x[0][a] - [1.0, 2.0, 3.0][a]);
//!         Ok((d.iter().map(|v| v * v).sum(), vec![d.map(|v| 2.0 * v)]))
//!     }
//! }
//! let opts = OptimizeOptions { fmax: 1e-6, method: Method::Lbfgs, ..Default::default() };
//! let r = optimize(&mut Well, &[[0.0; 3]], &opts).unwrap();
//! assert!(r.converged && (r.positions[0][2] - 3.0).abs() < 1e-6);
//! ```

mod fire;
mod lbfgs;
mod lindh;
mod precon;
mod relax;

pub use relax::{relax, relax_molecule, RelaxFailure};

use std::fmt;
use std::str::FromStr;

use nalgebra::DVector;

use crate::error::{Error, Result};
use crate::model::evaluate::Request;
use crate::model::Precision;
use crate::potential::Potential;

pub use fire::FireParams;

/// A function of `N` atomic positions to minimise.
pub trait Objective {
    /// Energy (eV) and its gradient `dE/dx` (eV/Å, `[N][3]`, i.e. minus the forces) at positions
    /// `x` (Å, `[N][3]`).
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)>;

    /// Energy difference (eV) below which two energies near `energy` cannot be told apart
    /// (the objective's rounding noise). L-BFGS accepts a step whose energy rises by no more
    /// than this. Default 0 (exact arithmetic).
    fn energy_tolerance(&self, energy: f64) -> f64 {
        let _ = energy;
        0.0
    }

    /// The atomic numbers (`[N]`) where the coordinates are those of an open system of atoms
    /// (no periodic images), which L-BFGS may then precondition with a model of its Hessian
    /// ([`OptimizeOptions::precondition`], up to 300 atoms). Default `None`: a plain L-BFGS
    /// for any other function.
    fn open_system_numbers(&self) -> Option<&[u8]> {
        None
    }
}

/// The minimisation algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Fast inertial relaxation engine (Bitzek et al., PRL 97, 170201 (2006)), as in ASE.
    Fire,
    /// Limited-memory BFGS with a backtracking (Armijo) line search.
    #[default]
    Lbfgs,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Fire => "fire",
            Method::Lbfgs => "lbfgs",
        })
    }
}

impl FromStr for Method {
    type Err = Error;

    /// `"fire"` or `"lbfgs"` (case-insensitive; `"l-bfgs"` too).
    fn from_str(s: &str) -> Result<Method> {
        match s.to_ascii_lowercase().as_str() {
            "fire" => Ok(Method::Fire),
            "lbfgs" | "l-bfgs" => Ok(Method::Lbfgs),
            _ => Err(Error::invalid(format!(
                "unknown optimisation method '{s}' (expected 'fire' or 'lbfgs')"
            ))),
        }
    }
}

/// Settings of [`optimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeOptions {
    /// Convergence threshold on the largest per-atom force norm, eV/Å (> 0). Default 0.01.
    pub fmax: f64,
    /// Largest number of position updates (steps); 0 only evaluates the start. Default 500.
    pub max_steps: usize,
    /// Largest displacement of any atom in one step, Å (> 0). Default 0.2 (ASE's `maxstep`).
    pub max_step: f64,
    /// The algorithm. Default L-BFGS.
    pub method: Method,
    /// Number of (s, y) pairs L-BFGS remembers (>= 1). Default 20.
    pub memory: usize,
    /// L-BFGS is preconditioned with the model Hessian of Lindh et al. (1995; stretches, bends,
    /// torsions) where the objective is an open system of atoms
    /// ([`Objective::open_system_numbers`]). Relaxing generated structures of QM9 and drug-sized
    /// molecules it needs about half the force calls of the Exp preconditioner (Packwood et al.
    /// 2016) used before, from MMFF structures a quarter of plain L-BFGS's; from MMFF structures
    /// it lands a little farther from the GFN2 minimum (docs/runtime.md). Default false.
    pub precondition: bool,
    /// FIRE parameters. Default: ASE's.
    pub fire: FireParams,
}

impl OptimizeOptions {
    /// Checks the settings (the one validation of the CLI, the library and the C ABI): `fmax`
    /// and `max_step` positive and finite, L-BFGS memory at least 1. The message names the
    /// setting as `name = value`.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, v: f64, unit: &str| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "{name} = {v} must be positive and finite ({unit})"
                )))
            }
        };
        positive("fmax", self.fmax, "eV/Å")?;
        positive("max_step", self.max_step, "Å")?;
        if self.method == Method::Lbfgs && self.memory == 0 {
            return Err(Error::invalid("memory = 0 must be at least 1 (L-BFGS)"));
        }
        Ok(())
    }
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            fmax: 0.01,
            max_steps: 500,
            max_step: 0.2,
            method: Method::Lbfgs,
            memory: 20,
            precondition: false,
            fire: FireParams::default(),
        }
    }
}

/// Outcome of [`optimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeResult {
    /// Final positions (the last accepted point), Å, `[N][3]`.
    pub positions: Vec<[f64; 3]>,
    /// Energy at `positions`, eV.
    pub energy: f64,
    /// Gradient at `positions` (minus the forces), eV/Å, `[N][3]`.
    pub gradient: Vec<[f64; 3]>,
    /// Energy at the start, eV.
    pub initial_energy: f64,
    /// Largest per-atom force norm at `positions`, eV/Å.
    pub max_force: f64,
    /// Position updates taken (accepted steps).
    pub steps: usize,
    /// Calls of [`Objective::energy_and_gradient`], including the start and rejected trials.
    pub force_calls: usize,
    /// Whether `max_force < fmax`.
    pub converged: bool,
    /// The algorithm used.
    pub method: Method,
}

/// Minimises `obj` from positions `x0` (Å, `[N][3]`). Errors on an empty or non-finite `x0`,
/// invalid options, or when the objective fails or returns a non-finite energy or gradient
/// (the message names the step); not converging within `opts.max_steps` is not an error.
pub fn optimize(
    obj: &mut impl Objective,
    x0: &[[f64; 3]],
    opts: &OptimizeOptions,
) -> Result<OptimizeResult> {
    if x0.is_empty() {
        return Err(Error::invalid("optimize: empty system (0 atoms)"));
    }
    if let Some(i) = x0.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        return Err(Error::invalid(format!(
            "optimize: non-finite coordinate (NaN or inf) on atom {i}"
        )));
    }
    if let Err(Error::InvalidInput(m)) = opts.validate() {
        return Err(Error::invalid(format!("optimize: {m}")));
    }
    let mut f = Counted {
        obj,
        n: x0.len(),
        calls: 0,
    };
    let x = DVector::from_iterator(3 * x0.len(), x0.iter().flatten().copied());
    let (e0, g0) = f.eval(&x, 0)?;
    let start = Point { x, e: e0, g: g0 };
    let (end, steps) = match opts.method {
        Method::Fire => fire::run(&mut f, start, opts)?,
        Method::Lbfgs => lbfgs::run(&mut f, start, opts)?,
    };
    let max_force = max_atom_norm(&end.g);
    Ok(OptimizeResult {
        positions: to_atoms(&end.x),
        energy: end.e,
        gradient: to_atoms(&end.g),
        initial_energy: e0,
        max_force,
        steps,
        force_calls: f.calls,
        converged: max_force < opts.fmax,
        method: opts.method,
    })
}

/// An [`Objective`] of a [`Potential`]: the energy of atoms `numbers` (`[N]`) in an optional
/// cell (rows = lattice vectors, Å) with periodicity `pbc`; the cell stays fixed.
pub struct PotentialObjective<'a> {
    /// The potential.
    pub potential: &'a Potential,
    /// Atomic numbers, `[N]`.
    pub numbers: &'a [u8],
    /// Cell vectors as rows, Å; `None` for an open system.
    pub cell: Option<[[f64; 3]; 3]>,
    /// Periodicity along each cell vector.
    pub pbc: [bool; 3],
}

impl Objective for PotentialObjective<'_> {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)> {
        let request = Request {
            forces: true,
            ..Default::default()
        };
        let p = self
            .potential
            .compute(self.numbers, x, self.cell.as_ref(), self.pbc, request)?;
        let forces = p.forces.unwrap_or_default();
        Ok((p.energy, forces.iter().map(|f| f.map(|v| -v)).collect()))
    }

    /// Open systems (no cell, or no periodic direction) are preconditioned.
    fn open_system_numbers(&self) -> Option<&[u8]> {
        (self.cell.is_none() || self.pbc == [false; 3]).then_some(self.numbers)
    }

    /// In float32 the atomic energies carry ~1e-7 relative rounding: 1e-6 |E| (at least
    /// 1e-6 eV); in float64 1e-12 |E|.
    fn energy_tolerance(&self, energy: f64) -> f64 {
        match self.potential.precision() {
            Precision::Float32 => 1e-6 * energy.abs().max(1.0),
            Precision::Float64 => 1e-12 * energy.abs().max(1.0),
        }
    }
}

/// A point of the search: flat positions `[3N]`, energy and flat gradient `[3N]`.
#[derive(Debug, Clone)]
struct Point {
    x: DVector<f64>,
    e: f64,
    g: DVector<f64>,
}

/// The objective with a call counter and checks of what it returns.
struct Counted<'a, O: ?Sized> {
    obj: &'a mut O,
    n: usize,
    calls: usize,
}

impl<O: Objective + ?Sized> Counted<'_, O> {
    /// Energy and flat gradient at flat positions `x`; `step` is named in errors.
    fn eval(&mut self, x: &DVector<f64>, step: usize) -> Result<(f64, DVector<f64>)> {
        self.calls += 1;
        let (e, g) = self.obj.energy_and_gradient(&to_atoms(x)).map_err(|e| {
            Error::invalid(format!("optimize: objective failed at step {step}: {e}"))
        })?;
        if g.len() != self.n {
            return Err(Error::invalid(format!(
                "optimize: objective returned {} gradient rows for {} atoms at step {step}",
                g.len(),
                self.n
            )));
        }
        if !e.is_finite() {
            return Err(Error::invalid(format!(
                "optimize: non-finite energy ({e}) at step {step}"
            )));
        }
        if let Some(i) = g.iter().position(|r| r.iter().any(|v| !v.is_finite())) {
            return Err(Error::invalid(format!(
                "optimize: non-finite gradient on atom {i} at step {step}"
            )));
        }
        Ok((
            e,
            DVector::from_iterator(3 * self.n, g.into_iter().flatten()),
        ))
    }

    /// [`Objective::energy_tolerance`].
    fn energy_tolerance(&self, energy: f64) -> f64 {
        self.obj.energy_tolerance(energy)
    }

    /// [`Objective::open_system_numbers`].
    fn open_system_numbers(&self) -> Option<&[u8]> {
        self.obj.open_system_numbers()
    }
}

/// `[3N]` -> `[N][3]`.
fn to_atoms(v: &DVector<f64>) -> Vec<[f64; 3]> {
    v.as_slice()
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

/// Largest norm of the 3-vectors of a flat `[3N]` vector.
fn max_atom_norm(v: &DVector<f64>) -> f64 {
    v.as_slice()
        .chunks_exact(3)
        .map(|c| (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt())
        .fold(0.0, f64::max)
}

/// Scales a flat displacement `[3N]` down so that no atom moves more than `max_step`.
fn cap_step(dx: &mut DVector<f64>, max_step: f64) {
    let longest = max_atom_norm(dx);
    if longest > max_step {
        *dx *= max_step / longest;
    }
}
