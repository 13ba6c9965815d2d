//! A committee's disagreement through the ABI (`concord_model_deviation`), the uncertainty of
//! a structure in DeePMD-kit's model-deviation definitions ([`crate::committee`]).

use std::slice;

use super::compute::{cell_and_periodicity, count, numbers, positions};
use super::model::{borrow, concord_model_t};
use super::status::{self, concord_status_t, Failure};
use super::CONCORD_MAX_ATOMS;
use crate::committee::{compute_frame, Deviation};
use crate::model::evaluate::Request;
use crate::potential::Potential;
use crate::structure::Frame;

/// Most models a committee call accepts (a larger count is taken as a corrupt argument).
pub const CONCORD_MAX_COMMITTEE: i64 = 64;

/// The disagreement of a committee of models on one structure (DeePMD-kit's model deviation).
/// Forces: `devi_f(i) = sqrt(mean_k |F_i^k - mean_k F_i^k|^2)` per atom; virial: the standard
/// deviation of each component of `W^k / N`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct concord_deviation_t {
    /// Standard deviation of the energy over the models, eV.
    pub energy: f64,
    /// Largest per-atom force deviation, eV/Å.
    pub max_devi_f: f64,
    /// Smallest per-atom force deviation, eV/Å.
    pub min_devi_f: f64,
    /// Mean per-atom force deviation, eV/Å.
    pub avg_devi_f: f64,
    /// Largest deviation of a virial component divided by the number of atoms, eV.
    pub max_devi_v: f64,
    /// Smallest such deviation, eV.
    pub min_devi_v: f64,
    /// Mean over the 9 components, eV.
    pub avg_devi_v: f64,
}

impl From<&Deviation> for concord_deviation_t {
    fn from(d: &Deviation) -> Self {
        concord_deviation_t {
            energy: d.energy,
            max_devi_f: d.max_devi_f,
            min_devi_f: d.min_devi_f,
            avg_devi_f: d.avg_devi_f,
            max_devi_v: d.max_devi_v,
            min_devi_v: d.min_devi_v,
            avg_devi_v: d.avg_devi_v,
        }
    }
}

/// Computes how much a committee of models disagrees on a whole system (an isolated molecule,
/// or a periodic system given its cell): the uncertainty of the first model's prediction.
///
/// @param models `n_models` loaded models, `[n_models]`; the first is the one a caller drives
///   dynamics with. Each must know every element of the system.
/// @param n_models number of models K, 2 <= K <= `CONCORD_MAX_COMMITTEE`.
/// @param n_atoms number of atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]`.
/// @param positions Cartesian positions in Å, `[N][3]`.
/// @param cell the cell in Å, `[3][3]` (rows = lattice vectors), or NULL for an open system.
/// @param periodic periodicity along a, b, c, int32 `[3]`, or NULL (as in `concord_compute`).
/// @param deviation where to write the deviation (required).
/// @param atom_deviation where to write the per-atom force deviation in eV/Å, `[N]`, or NULL.
/// @return `CONCORD_SUCCESS`, or the errors of `concord_compute` (from any member);
///   `CONCORD_ERROR_INVALID_ARGUMENT` for a NULL `models`, member, `deviation` or input array;
///   `CONCORD_ERROR_INVALID_INPUT` for K or N out of range.
///
/// # Safety
/// `models` must point to `n_models` live handles; every non-NULL pointer must be valid for
/// the shape given above.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_deviation(
    models: *const *const concord_model_t,
    n_models: i64,
    n_atoms: i64,
    atomic_numbers: *const i32,
    positions: *const f64,
    cell: *const f64,
    periodic: *const i32,
    deviation: *mut concord_deviation_t,
    atom_deviation: *mut f64,
) -> concord_status_t {
    status::status("concord_model_deviation", || {
        check_null!(models, atomic_numbers, positions, deviation);
        let k = count("n_models", n_models, 0, CONCORD_MAX_COMMITTEE)?;
        if k < 2 {
            return Err(Failure::input(format!(
                "n_models = {k}: a committee needs at least 2 models"
            )));
        }
        let members = slice::from_raw_parts(models, k)
            .iter()
            .map(|&m| borrow(m))
            .collect::<Result<Vec<&Potential>, Failure>>()?;
        let n = count("n_atoms", n_atoms, 1, CONCORD_MAX_ATOMS)?;
        let (cell, pbc) = cell_and_periodicity(cell, periodic);
        let frame = Frame {
            numbers: numbers(atomic_numbers, n)?,
            positions: self::positions(positions, n),
            cell,
            pbc,
            ..Default::default()
        };
        let (_, dev) = compute_frame(&members, &frame, Request::default())?;
        *deviation = concord_deviation_t::from(&dev);
        if !atom_deviation.is_null() {
            slice::from_raw_parts_mut(atom_deviation, n).copy_from_slice(&dev.atom_forces);
        }
        Ok(())
    })
}
