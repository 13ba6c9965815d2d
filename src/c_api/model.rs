//! The model handle: loading, freeing and metadata.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use crate::potential::Device;

use super::status::{self, concord_status_t, Failure};
use crate::model::Precision;
use crate::potential::Potential;

/// An opaque handle to a loaded model (`concord_model_load`, `concord_model_free`).
///
/// One handle may be used by several threads at once, without locking: a loaded model is
/// read-only, and every compute call builds its own autograd graph and takes the gradient
/// with respect to its own inputs only, so nothing is written into the shared parameters
/// (libtorch supports concurrent forward and backward passes over shared parameters). The
/// same holds for optimisation (a sequence of compute calls) and generation (forward passes
/// without gradients, with the random numbers drawn from the call's own seeded generator, not
/// libtorch's global one), so concurrent calls give exactly the results of serial ones.
pub struct concord_model_t {
    pub(crate) potential: Potential,
}

// SAFETY: `Potential` is `Send` but not `Sync` only because tch's `Tensor` is not: the
// parameters are only read after loading (no in-place operation runs outside `&mut self`
// methods, which the ABI never calls), libtorch's tensor reads, autograd graph construction and
// `run_backward` over separate graphs are thread-safe, and reference counts are atomic.
// Tested by `tests/c_api_dylib.rs` (concurrent calls on one handle, results bit for bit).
unsafe impl Sync for concord_model_t {}

/// Borrows the model behind a handle.
///
/// # Safety
/// `model` must be NULL or a handle from `concord_model_load` not yet freed.
pub(crate) unsafe fn borrow<'a>(model: *const concord_model_t) -> Result<&'a Potential, Failure> {
    check_null!(model);
    Ok(&(*model).potential)
}

/// A NUL-terminated C string argument as a Rust string.
unsafe fn utf8<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|_| Failure::argument(format!("argument '{name}' is not valid UTF-8")))
}

fn parse_device(device: &str) -> Result<Device, Failure> {
    device.parse::<Device>().map_err(|e| match e {
        crate::Error::InvalidInput(m) => Failure::argument(m),
        other => other.into(),
    })
}

/// Loads a model file. The first load in a process sets libtorch's intra-op threads to
/// `CONCORD_NUM_THREADS` (default 1: molecules gain nothing from more, and spinning threads
/// slow down badly on shared cores).
///
/// @param path NUL-terminated path of a Concord model file (`.concord`).
/// @param device NUL-terminated device name: `"cpu"`, `"cuda"` or `"cuda:N"`; NULL means
///   `"cpu"`.
/// @param precision floating-point precision of the computation: 32 (float32, fast; for MD)
///   or 64 (float64). Inputs and outputs are float64 in either case.
/// @param model where to write the new handle (on failure, NULL is written there). The caller
///   owns the handle and must release it with `concord_model_free`.
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (NULL `path` or `model`, unknown
///   device or precision), `CONCORD_ERROR_IO` (the file cannot be read),
///   `CONCORD_ERROR_MODEL_FILE` (corrupt, truncated, foreign or unknown-version file) or
///   `CONCORD_ERROR_TORCH`; the message is in `concord_last_error()`.
///
/// # Safety
/// `path` and `device` must be NULL or NUL-terminated strings; `model` must be NULL or point to
/// writable storage for one pointer.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_load(
    path: *const c_char,
    device: *const c_char,
    precision: i32,
    model: *mut *mut concord_model_t,
) -> concord_status_t {
    status::status("concord_model_load", || {
        check_null!(model);
        *model = std::ptr::null_mut();
        check_null!(path);
        let path = PathBuf::from(utf8(path, "path")?);
        let device = if device.is_null() {
            Device::Cpu
        } else {
            parse_device(utf8(device, "device")?)?
        };
        let precision = match precision {
            32 => Precision::Float32,
            64 => Precision::Float64,
            p => {
                return Err(Failure::argument(format!(
                    "precision {p} is not supported: use 32 or 64"
                )))
            }
        };
        set_torch_threads();
        let potential = Potential::load(&path, device, precision)?;
        *model = Box::into_raw(Box::new(concord_model_t { potential }));
        Ok(())
    })
}

/// Releases a model handle and everything it holds. `concord_model_free(NULL)` does nothing.
///
/// @param model a handle from `concord_model_load`, or NULL. It must not be used afterwards,
///   and no other thread may be using it during this call.
/// @return `CONCORD_SUCCESS` (freeing cannot fail in practice; `CONCORD_ERROR_INTERNAL` would
///   report a bug).
///
/// # Safety
/// `model` must be NULL or a handle from `concord_model_load` that is not freed yet.
#[no_mangle]
pub unsafe extern "C" fn concord_model_free(model: *mut concord_model_t) -> concord_status_t {
    status::status("concord_model_free", || {
        if !model.is_null() {
            drop(Box::from_raw(model));
        }
        Ok(())
    })
}

/// Copies `value` into a caller buffer of `capacity` elements after writing the required
/// count to `count`; a NULL buffer only queries the count.
unsafe fn copy_out<T: Copy>(
    value: &[T],
    buffer: *mut T,
    capacity: usize,
    count: *mut usize,
    what: &str,
) -> Result<(), Failure> {
    if !count.is_null() {
        *count = value.len();
    }
    if buffer.is_null() {
        return Ok(());
    }
    if capacity < value.len() {
        return Err(Failure::new(
            concord_status_t::CONCORD_ERROR_BUFFER_SIZE,
            format!(
                "the buffer for {what} holds {capacity} but {} are needed",
                value.len()
            ),
        ));
    }
    std::ptr::copy_nonoverlapping(value.as_ptr(), buffer, value.len());
    Ok(())
}

/// The elements the model knows, as atomic numbers in the model's species order.
///
/// Call it once with `atomic_numbers = NULL` to learn the count, then with a buffer.
///
/// @param model a loaded model.
/// @param atomic_numbers caller-owned buffer of `capacity` int32 receiving the atomic
///   numbers, or NULL to only query the count.
/// @param capacity number of int32 `atomic_numbers` can hold.
/// @param n_elements where to write the number of elements (may be NULL).
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (NULL `model`),
///   `CONCORD_ERROR_BUFFER_SIZE` (`capacity` too small; `*n_elements` holds the count needed);
///   the message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; `atomic_numbers` must be NULL or valid for `capacity` writes;
/// `n_elements` must be NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_elements(
    model: *const concord_model_t,
    atomic_numbers: *mut i32,
    capacity: usize,
    n_elements: *mut usize,
) -> concord_status_t {
    status::status("concord_model_elements", || {
        let potential = borrow(model)?;
        let z: Vec<i32> = potential
            .config()
            .elements
            .iter()
            .map(|&z| i32::from(z))
            .collect();
        copy_out(&z, atomic_numbers, capacity, n_elements, "atomic numbers")
    })
}

/// Whether the model has a structure generator, i.e. whether `concord_generate` and
/// `concord_generate_optimize` can be used with it (every model can compute and optimise).
///
/// @param model a loaded model.
/// @param has_generator where to write 1 (the model has a generator) or 0 (int32 `[1]`).
/// @return `CONCORD_SUCCESS` or `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL argument); the
///   message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle and `has_generator` writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_has_generator(
    model: *const concord_model_t,
    has_generator: *mut i32,
) -> concord_status_t {
    status::status("concord_model_has_generator", || {
        let potential = borrow(model)?;
        check_null!(has_generator);
        *has_generator = i32::from(potential.has_generator());
        Ok(())
    })
}

/// The cutoff radius of one message-passing layer, in Å: pairs further apart do not interact
/// directly. Neighbour pairs given to `concord_compute_local` need cover this distance.
///
/// @param model a loaded model.
/// @param cutoff where to write the cutoff (Å).
/// @return `CONCORD_SUCCESS` or `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL argument); the
///   message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle and `cutoff` writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_cutoff(
    model: *const concord_model_t,
    cutoff: *mut f64,
) -> concord_status_t {
    status::status("concord_model_cutoff", || {
        let potential = borrow(model)?;
        check_null!(cutoff);
        *cutoff = potential.cutoff();
        Ok(())
    })
}

/// The receptive field in Å (layers x cutoff): an atom's energy depends on atoms up to this
/// distance, so it is the ghost-atom cutoff an MD engine must provide to
/// `concord_compute_local` (`concord_compute_local_exchange` needs one cutoff).
///
/// @param model a loaded model.
/// @param receptive_field where to write the receptive field (Å).
/// @return `CONCORD_SUCCESS` or `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL argument); the
///   message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle and `receptive_field` writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_receptive_field(
    model: *const concord_model_t,
    receptive_field: *mut f64,
) -> concord_status_t {
    status::status("concord_model_receptive_field", || {
        let potential = borrow(model)?;
        check_null!(receptive_field);
        *receptive_field = potential.receptive_field();
        Ok(())
    })
}

/// The shape of the halo exchange of `concord_compute_local_exchange`: the doubles per atom
/// in each exchanged row (4 x the model's features) and the number of exchanges in each
/// direction per call (layers - 1; the reverse ones only when forces or virials are asked for).
///
/// @param model a loaded model.
/// @param width where to write the row width.
/// @param rounds where to write the number of exchanges per direction.
/// @return `CONCORD_SUCCESS` or `CONCORD_ERROR_INVALID_ARGUMENT` (a NULL argument); the
///   message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; `width` and `rounds` writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_exchange_shape(
    model: *const concord_model_t,
    width: *mut i64,
    rounds: *mut i32,
) -> concord_status_t {
    status::status("concord_model_exchange_shape", || {
        let potential = borrow(model)?;
        check_null!(width, rounds);
        let encoder = &potential.config().encoder;
        *width = 4 * encoder.features;
        *rounds = encoder.layers.saturating_sub(1) as i32;
        Ok(())
    })
}

/// The model file's metadata as a JSON object (format and version, code version, elements,
/// cutoff, receptive field, units, architecture, training provenance).
///
/// Call it once with `buffer = NULL` to learn the size, then with a buffer that large.
///
/// @param model a loaded model.
/// @param buffer caller-owned buffer of `capacity` bytes receiving the NUL-terminated UTF-8
///   JSON text, or NULL to only query the size.
/// @param capacity size of `buffer` in bytes.
/// @param required where to write the size needed in bytes, NUL included (may be NULL).
/// @return `CONCORD_SUCCESS`; `CONCORD_ERROR_INVALID_ARGUMENT` (NULL `model`),
///   `CONCORD_ERROR_BUFFER_SIZE` (`capacity` too small: nothing is written to `buffer`,
///   `*required` holds the size); the message is in `concord_last_error()`.
///
/// # Safety
/// `model` must be a live handle; `buffer` must be NULL or valid for `capacity` bytes;
/// `required` must be NULL or writable.
#[no_mangle]
#[must_use]
pub unsafe extern "C" fn concord_model_metadata_json(
    model: *const concord_model_t,
    buffer: *mut c_char,
    capacity: usize,
    required: *mut usize,
) -> concord_status_t {
    status::status("concord_model_metadata_json", || {
        let potential = borrow(model)?;
        let json = serde_json::to_string(potential.metadata())
            .map_err(|e| Failure::argument(format!("metadata cannot be written as JSON: {e}")))?;
        let mut bytes = json.into_bytes();
        bytes.push(0);
        copy_out(
            &bytes,
            buffer.cast::<u8>(),
            capacity,
            required,
            "the JSON text",
        )
    })
}

/// Sets libtorch's intra-op threads once per process: `CONCORD_NUM_THREADS` if set to a positive
/// integer, else 1. Molecules are too small to gain from intra-op parallelism, and spinning
/// OpenMP threads slow down ~10x when an MD engine's ranks or other processes share the cores.
fn set_torch_threads() {
    #[cfg(feature = "torch")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let n = std::env::var("CONCORD_NUM_THREADS")
                .ok()
                .and_then(|v| v.parse::<i32>().ok())
                .filter(|&n| n > 0)
                .unwrap_or(1);
            tch::set_num_threads(n);
        });
    }
}
