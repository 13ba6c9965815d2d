//! Geometry optimisation through the ABI: the options and result structs, and
//! `concord_optimize` (relaxation of given positions with the model's potential).

use std::slice;

use super::compute::{cell_and_periodicity, count, numbers, positions};
use super::model::{borrow, concord_model_t};
use super::status::{self, concord_status_t, Failure};
use super::CONCORD_MAX_ATOMS;
use crate::optimize::{Method, OptimizeOptions, OptimizeResult};
use crate::potential::Potential;
use crate::structure::Frame;

/// `concord_optimize_options_t::method`: limited-memory BFGS with a backtracking line search
/// (the default).
pub const CONCORD_OPTIMIZE_LBFGS: i32 = 0;

/// `concord_optimize_options_t::method`: FIRE (fast inertial relaxation engine, with ASE's
/// parameters).
pub const CONCORD_OPTIMIZE_FIRE: i32 = 1;

/// `concord_optimize_options_t::method`: L-BFGS preconditioned with a model Hessian (Lindh
/// et al. 1995: bonds, angles, torsions) for an isolated molecule: about half the force calls
/// from generated structures, a quarter from MMFF ones; plain L-BFGS for a periodic system. The default of generated structures'
/// relaxation (`concord_generate_relax_options_default`).
pub const CONCORD_OPTIMIZE_LBFGS_PRECON: i32 = 2;

/// Settings of a geometry optimisation (`concord_optimize`, `concord_generate_optimize`).
/// Start from `concord_optimize_options_default()` and change what you need; passing NULL
/// instead of options means the defaults.
///
/// The optimisation stops as soon as the largest per-atom force norm is below `fmax`, or after
/// `max_steps` position updates (then `converged` is 0 in the result: not an error).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct concord_optimize_options_t {
    /// Convergence threshold on the largest per-atom force norm, eV/Å; positive and finite.
    /// Default 0.01.
    pub fmax: f64,
    /// Largest number of position updates, >= 0 (0 only evaluates the start). Default 500.
    pub max_steps: i64,
    /// Largest displacement of any atom in one step, Å; positive and finite. Default 0.2.
    pub max_step: f64,
    /// The algorithm: `CONCORD_OPTIMIZE_LBFGS` (default), `CONCORD_OPTIMIZE_LBFGS_PRECON` or
    /// `CONCORD_OPTIMIZE_FIRE`.
    pub method: i32,
    /// Number of past steps L-BFGS remembers, >= 1 (ignored by FIRE). Default 20.
    pub memory: i32,
}

/// Outcome of one geometry optimisation.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct concord_optimize_result_t {
    /// `CONCORD_SUCCESS` when the optimisation ran, converged or not. Only
    /// `concord_generate_optimize` reports a sample whose relaxation failed here (the status
    /// `concord_optimize` would have returned for it); the other fields of such a sample are
    /// then NaN or 0.
    pub status: concord_status_t,
    /// 1 when the largest per-atom force norm is below `fmax`, 0 otherwise.
    pub converged: i32,
    /// Position updates taken (accepted steps).
    pub steps: i64,
    /// Energy and force evaluations, including the start and rejected trial steps.
    pub force_calls: i64,
    /// Energy at the final positions, eV.
    pub energy: f64,
    /// Energy at the starting positions, eV.
    pub initial_energy: f64,
    /// Largest per-atom force norm at the final positions, eV/Å.
    pub max_force: f64,
}

impl concord_optimize_result_t {
    pub(crate) fn from_rust(r: &OptimizeResult) -> Self {
        concord_optimize_result_t {
            status: concord_status_t::CONCORD_SUCCESS,
            converged: i32::from(r.converged),
            steps: r.steps as i64,
            force_calls: r.force_calls as i64,
            energy: r.energy,
            initial_energy: r.initial_energy,
            max_force: r.max_force,
        }
    }

    /// The result of a sample whose relaxation failed with `status`.
    pub(crate) fn failed(status: concord_status_t) -> Self {
        concord_optimize_result_t {
            status,
            converged: 0,
            steps: 0,
            force_calls: 0,
            energy: f64::NAN,
            initial_energy: f64::NAN,
            max_force: f64::NAN,
        }
    }
}

/// The C struct of the Rust API's settings (the methods it names are the three above).
fn to_c(o: &OptimizeOptions) -> concord_optimize_options_t {
    concord_optimize_options_t {
        fmax: o.fmax,
        max_steps: i64::try_from(o.max_steps).unwrap_or(i64::MAX),
        max_step: o.max_step,
        method: match (o.method, o.precondition) {
            (Method::Fire, _) => CONCORD_OPTIMIZE_FIRE,
            (Method::Lbfgs, false) => CONCORD_OPTIMIZE_LBFGS,
            (Method::Lbfgs, true) => CONCORD_OPTIMIZE_LBFGS_PRECON,
        },
        memory: i32::try_from(o.memory).unwrap_or(i32::MAX),
    }
}

/// The default optimisation settings: `fmax` 0.01 eV/Å, `max_steps` 500, `max_step` 0.2 Å,
/// L-BFGS with a memory of 20. Never fails.
#[no_mangle]
pub extern "C" fn concord_optimize_options_default() -> concord_optimize_options_t {
    to_c(&OptimizeOptions::default())
}

/// The default settings of a generated structure's relaxation (what the generate functions use
/// when given NULL options, as do LAMMPS's `concord_generate`, OpenMM and the CLI's `generate
/// --relax`): `fmax` 0.05 eV/Å, `CONCORD_OPTIMIZE_LBFGS_PRECON`, otherwise as
/// `concord_optimize_options_default()`. Never fails.
#[no_mangle]
pub extern "C" fn concord_generate_relax_options_default() -> concord_optimize_options_t {
    to_c(&crate::generate::relax_defaults())
}

/// The caller's options (NULL = `default`) as the Rust API's, each field checked.
pub(crate) unsafe fn options(
    ptr: *const concord_optimize_options_t,
    default: concord_optimize_options_t,
) -> std::result::Result<OptimizeOptions, Failure> {
    let o = if ptr.is_null() { default } else { *ptr };
    let (method, precondition) = match o.method {
        CONCORD_OPTIMIZE_LBFGS => (Method::Lbfgs, false),
        CONCORD_OPTIMIZE_LBFGS_PRECON => (Method::Lbfgs, true),
        CONCORD_OPTIMIZE_FIRE => (Method::Fire, false),
        m => {
            return Err(Failure::argument(format!(
            "options->method = {m} is none of CONCORD_OPTIMIZE_LBFGS ({CONCORD_OPTIMIZE_LBFGS}), \
                 CONCORD_OPTIMIZE_LBFGS_PRECON ({CONCORD_OPTIMIZE_LBFGS_PRECON}) and \
                 CONCORD_OPTIMIZE_FIRE ({CONCORD_OPTIMIZE_FIRE})"
        )))
        }
    };
    if o.max_steps < 0 {
        return Err(Failure::argument(format!(
            "options->max_steps = {} is negative",
            o.max_steps
        )));
    }
    if o.memory < 1 {
        return Err(Failure::argument(format!(
            "options->memory = {} must be at least 1",
            o.memory
        )));
    }
    let opts = OptimizeOptions {
        fmax: o.fmax,
        max_steps: usize::try_from(o.max_steps).unwrap_or(usize::MAX),
        max_step: o.max_step,
        method,
        memory: o.memory as usize,
        precondition,
        ..Default::default()
    };
    match opts.validate() {
        Err(crate::Error::InvalidInput(m)) => Err(Failure::argument(format!("options->{m}"))),
        _ => Ok(opts),
    }
}

/// Relaxes the atoms of `frame` with `potential` ([`crate::optimize::relax`]); a failure keeps
/// the potential's own class and names the force call.
pub(crate) fn relax(
    potential: &Potential,
    frame: &Frame,
    opts: &OptimizeOptions,
) -> std::result::Result<OptimizeResult, Failure> {
    crate::optimize::relax(potential, frame, opts).map_err(Failure::from)
}

/// Relaxes positions with the model's potential (geometry optimisation at a fixed cell): an
/// isolated molecule, or a periodic system given its cell.
///
/// `positions` is read as the start and, on success, overwritten with the final positions;
/// running out of steps is success with `result->converged = 0` (the positions are then those
/// of the last step). On failure nothing is written. With a random or poorly trained model,
/// atoms may be driven onto each other: the call then fails with `CONCORD_ERROR_INVALID_INPUT`
/// and a message naming the atoms and the force call.
///
/// @param model a loaded model.
/// @param n_atoms number of atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]`; each must be an element of the model.
/// @param positions Cartesian positions in Å, `[N][3]`, caller-owned, read and written: finite,
///   no two atoms closer than 0.25 Å (including periodic images).
/// @param cell the cell in Å, `[3][3]`, rows = lattice vectors (kept fixed); NULL for an open
///   system.
/// @param periodic periodicity along a, b, c, int32 `[3]` (nonzero = periodic); NULL means
///   periodic along all three when `cell` is given, open otherwise.
/// @param options the settings, or NULL for `concord_optimize_options_default()`.
/// @param result where to write the outcome (energies in eV, force in eV/Å, step and force-call
///   counts, converged flag), or NULL.
/// @return `CONCORD_SUCCESS` (converged or not); `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL
///   `model`, `atomic_numbers` or `positions`; invalid options),
///   `CONCORD_ERROR_INVALID_INPUT` (N out of range, NaN or infinite coordinates or cell,
///   overlapping atoms at the start or during the optimisation, periodic without a cell,
///   degenerate cell, a non-finite energy), `CONCORD_ERROR_UNKNOWN_ELEMENT`,
///   `CONCORD_ERROR_UNSUPPORTED` (a generator whose energy head was never trained) or
///   `CONCORD_ERROR_TORCH`; the message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; every non-NULL pointer must be valid for the shape given
/// above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_optimize(
    model: *const concord_model_t,
    n_atoms: i64,
    atomic_numbers: *const i32,
    positions: *mut f64,
    cell: *const f64,
    periodic: *const i32,
    options: *const concord_optimize_options_t,
    result: *mut concord_optimize_result_t,
) -> concord_status_t {
    status::status("concord_optimize", || {
        let potential = borrow(model)?;
        let n = count("n_atoms", n_atoms, 1, CONCORD_MAX_ATOMS)?;
        check_null!(atomic_numbers, positions);
        let opts = self::options(options, concord_optimize_options_default())?;
        let (cell, pbc) = cell_and_periodicity(cell, periodic);
        let frame = Frame {
            numbers: numbers(atomic_numbers, n)?,
            positions: self::positions(positions, n),
            cell,
            pbc,
            ..Default::default()
        };
        let r = relax(potential, &frame, &opts)?;
        slice::from_raw_parts_mut(positions, 3 * n).copy_from_slice(r.positions.as_flattened());
        if !result.is_null() {
            *result = concord_optimize_result_t::from_rust(&r);
        }
        Ok(())
    })
}
