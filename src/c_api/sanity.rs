//! The structure sanity check through the ABI (`concord_check_structure`): engines screen
//! generated samples with the same rule as `concord generate` and the tests.

use std::ffi::c_char;

use super::compute::{count, numbers, positions as read_positions};
use super::generate::bonds;
use super::status::{self, concord_status_t};
use super::{CONCORD_MAX_ATOMS, CONCORD_MAX_PAIRS};
use crate::sanity::check;

/// Checks that a 3D structure is chemically sane for its bond graph: every bond has a
/// plausible length for its order and no two unbonded atoms clash (lengths relative to
/// covalent radii, with bounds that all reference minima of the training data satisfy). Use it
/// to screen generated structures, e.g. to keep the best sane sample of several.
///
/// @param n_atoms number of atoms N, 1 <= N <= `CONCORD_MAX_ATOMS`.
/// @param atomic_numbers atomic numbers, int32 `[N]` (elements with a covalent radius: H, B, C,
///   N, O, F, Si, P, S, Cl, Br, I).
/// @param n_bonds number of bonds B >= 0.
/// @param bond_first first atom of each bond (0-based), int32 `[B]`.
/// @param bond_second second atom of each bond, int32 `[B]`.
/// @param bond_order order of each bond, int32 `[B]`: 1, 2, 3 or 4 (aromatic). The three bond
///   arrays may be NULL when B = 0.
/// @param positions Cartesian positions in Å, `[N][3]` (NaN coordinates count as problems).
/// @param n_problems where to write the number of problems found (0 = sane).
/// @param message caller-owned buffer of `capacity` bytes receiving a NUL-terminated
///   description of the first problem (empty when sane), truncated to fit; or NULL.
/// @param capacity size of `message` in bytes.
/// @return `CONCORD_SUCCESS` (whether or not the structure is sane);
///   `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL `atomic_numbers`, `positions`, `n_problems`, or
///   bond array while B > 0), `CONCORD_ERROR_INVALID_INPUT` (a count out of range, a bond index
///   out of range or order not 1-4), `CONCORD_ERROR_UNKNOWN_ELEMENT`; the message is in
///   `concord_last_error()`.
///
/// # Safety
/// Every non-NULL pointer must be valid for the shape given above; `message` for `capacity`
/// bytes.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_check_structure(
    n_atoms: i64,
    atomic_numbers: *const i32,
    n_bonds: i64,
    bond_first: *const i32,
    bond_second: *const i32,
    bond_order: *const i32,
    positions: *const f64,
    n_problems: *mut i64,
    message: *mut c_char,
    capacity: usize,
) -> concord_status_t {
    status::status("concord_check_structure", || {
        let n = count("n_atoms", n_atoms, 1, CONCORD_MAX_ATOMS)?;
        let n_bonds = count("n_bonds", n_bonds, 0, CONCORD_MAX_PAIRS)?;
        check_null!(atomic_numbers, positions, n_problems);
        if n_bonds > 0 {
            check_null!(bond_first, bond_second, bond_order);
        }
        let numbers = numbers(atomic_numbers, n)?;
        let bonds = bonds(n, n_bonds, bond_first, bond_second, bond_order)?;
        let problems = check(&numbers, &bonds, &read_positions(positions, n))?;
        *n_problems = problems.len() as i64;
        if !message.is_null() && capacity > 0 {
            let text = problems.first().map(|p| p.to_string()).unwrap_or_default();
            // Truncate on a character boundary so the text stays valid UTF-8.
            let mut end = text.len().min(capacity - 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            std::ptr::copy_nonoverlapping(text.as_ptr(), message.cast::<u8>(), end);
            *message.add(end) = 0;
        }
        Ok(())
    })
}
