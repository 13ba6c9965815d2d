//! The C ABI (`include/concord.h`): an opaque model handle, status codes with a thread-local
//! last-error message, and caller-owned float64 buffers in eV and Å.
//!
//! Rust users never touch this module: it only wraps [`crate::potential`] and [`crate::committee`]. Every `extern "C"`
//! function runs its body through [`status::catch`], so no panic crosses the boundary; the
//! header is generated from these files by cbindgen (`make header`) and a test fails when the
//! committed header differs from the code.
//!
//! Thread safety: every function may be called from any thread. One model handle may be used
//! by several threads at once (see [`model::concord_model_t`]), for any mix of compute,
//! optimise and generate calls; the last-error message is per thread.

// Names follow the C header (`concord_model_t`, `CONCORD_SUCCESS`), not Rust conventions.
#![allow(non_camel_case_types)]
// `#[must_use]` on the functions (besides the status type) is what makes cbindgen mark them
// CONCORD_MUST_USE (warn_unused_result) in the header.
#![allow(clippy::double_must_use)]

#[macro_use]
pub(crate) mod status;
pub(crate) mod committee;
pub(crate) mod compute;
pub(crate) mod elements;
pub(crate) mod generate;
pub(crate) mod model;
pub(crate) mod optimize;
pub(crate) mod sanity;
pub(crate) mod stereo;

use std::ffi::c_char;

use status::{catch, concord_status_t, Failure};

/// Version of the C ABI described by `include/concord.h`. It changes whenever a function's
/// signature or meaning changes incompatibly; adding a function or a status code keeps it.
/// Version 2: overlapping atoms are `CONCORD_ERROR_OVERLAP` (they were
/// `CONCORD_ERROR_INVALID_INPUT`). Version 3: `concord_generate_structures_stereo` takes the
/// atoms' formal charges (`formal_charges`, after `atomic_numbers`).
pub const CONCORD_ABI_VERSION: u32 = 3;

/// Largest number of atoms (`n_atoms`, `n_total`) a call accepts: larger counts are taken as
/// corrupt arguments (`CONCORD_ERROR_INVALID_INPUT`) rather than attempted.
pub const CONCORD_MAX_ATOMS: i64 = 100_000_000;

/// Largest number of neighbour pairs `concord_compute_local` accepts.
pub const CONCORD_MAX_PAIRS: i64 = 4_000_000_000;

/// The version of the Concord library, e.g. `"0.1.0"`: compare it with `CONCORD_VERSION`
/// from the header to see which release you are running.
///
/// Returns a NUL-terminated static string owned by the library: do not free it. Never fails.
#[no_mangle]
pub extern "C" fn concord_version() -> *const c_char {
    catch("concord_version", || {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
    .unwrap_or(std::ptr::null())
}

/// The ABI version of the loaded library (`CONCORD_ABI_VERSION` of the header it was built
/// with). Never fails.
#[no_mangle]
pub extern "C" fn concord_abi_version() -> u32 {
    catch("concord_abi_version", || Ok(CONCORD_ABI_VERSION)).unwrap_or(0)
}

/// Checks that the loaded library implements the ABI the caller was compiled against: call
/// `concord_check_abi_version(CONCORD_ABI_VERSION)` once before any other function (the C++
/// wrapper does so in every `concord::Model` constructor).
///
/// @param header_abi_version `CONCORD_ABI_VERSION` as seen by the caller's compiler.
/// @return `CONCORD_SUCCESS` when the versions match, `CONCORD_ERROR_ABI_VERSION` otherwise
///   (`concord_last_error()` names both versions).
#[no_mangle]
#[must_use]
pub extern "C" fn concord_check_abi_version(header_abi_version: u32) -> concord_status_t {
    status::status("concord_check_abi_version", || {
        if header_abi_version == CONCORD_ABI_VERSION {
            Ok(())
        } else {
            Err(Failure::new(
                concord_status_t::CONCORD_ERROR_ABI_VERSION,
                format!(
                    "the caller was compiled against Concord ABI version {header_abi_version}, \
                     but the loaded library {} implements ABI version {CONCORD_ABI_VERSION}: \
                     rebuild the caller against this library's concord.h",
                    env!("CARGO_PKG_VERSION")
                ),
            ))
        }
    })
}

/// The message of the most recent failed call made by this thread (an empty string when no
/// call has failed yet). The message names the function and the problem, e.g.
/// `concord_compute: invalid input: atoms 0 and 1 overlap (distance 0.100 Å < 0.25 Å)`.
///
/// Returns a NUL-terminated UTF-8 string owned by the library, valid until the next failing
/// call on this thread: copy it to keep it. Successful calls leave it unchanged. Never fails.
#[no_mangle]
pub extern "C" fn concord_last_error() -> *const c_char {
    catch("concord_last_error", || Ok(status::last_error_ptr())).unwrap_or(std::ptr::null())
}

/// The atoms the most recent failed call on this thread was about, so that an engine can name
/// them by its own atom IDs: the two atoms of `CONCORD_ERROR_OVERLAP`, the atom with a
/// non-finite coordinate; none for other errors.
///
/// @param atoms Where to write the atoms: 0-based indices into the arrays of the failed call
///   (for `concord_compute_local`, into its local + ghost atoms), `[capacity]`; may be NULL
///   when `capacity` is 0.
/// @param capacity Length of `atoms`; at most `capacity` indices are written.
/// @return The number of atoms the error is about (which may exceed `capacity`), or -1 when
///   `atoms` is NULL with a positive `capacity`. Never changes the last error.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_last_error_atoms(atoms: *mut i64, capacity: i64) -> i64 {
    catch("concord_last_error_atoms", || {
        let found = status::last_error_atoms();
        if capacity > 0 && atoms.is_null() {
            return Ok(-1);
        }
        let n = found.len().min(usize::try_from(capacity).unwrap_or(0));
        for (k, &a) in found.iter().take(n).enumerate() {
            // SAFETY: the caller guarantees `atoms` holds `capacity` values, and k < capacity.
            unsafe { *atoms.add(k) = a as i64 };
        }
        Ok(found.len() as i64)
    })
    .unwrap_or(-1)
}
