//! Status codes, the thread-local last error, the one `catch_unwind` helper every `extern "C"`
//! body runs through, and the null-pointer check.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

/// Status returned by every fallible Concord function: `CONCORD_SUCCESS` (0) or the class of
/// the error. `concord_last_error()` gives the message of the most recent failure on the
/// calling thread.
#[repr(i32)]
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum concord_status_t {
    /// The call succeeded.
    CONCORD_SUCCESS = 0,
    /// An argument is unusable on its face: a NULL pointer that must not be NULL, an unknown
    /// device or precision, a string that is not UTF-8, invalid optimisation or sampler
    /// settings.
    CONCORD_ERROR_INVALID_ARGUMENT = 1,
    /// The system is invalid: no atoms, an absurd or negative count, NaN or infinite
    /// coordinates, overlapping atoms, periodicity without a cell, a degenerate cell,
    /// inconsistent neighbour-pair arrays or indices out of range, an invalid molecular graph
    /// (an atom without bonds, a valence too high, a bond repeated or to itself).
    CONCORD_ERROR_INVALID_INPUT = 2,
    /// An atomic number that is not an element or that the model was not trained on.
    CONCORD_ERROR_UNKNOWN_ELEMENT = 3,
    /// Reading a file failed at the OS level (missing file, permissions).
    CONCORD_ERROR_IO = 4,
    /// A model file is corrupt, truncated, not a Concord model or of an unknown version.
    CONCORD_ERROR_MODEL_FILE = 5,
    /// libtorch reported an error (e.g. out of memory on the device).
    #[cfg_attr(not(feature = "torch"), allow(dead_code))]
    CONCORD_ERROR_TORCH = 6,
    /// A caller buffer is too small; the required size was written where the function says.
    CONCORD_ERROR_BUFFER_SIZE = 7,
    /// The caller was compiled against another ABI version (`concord_check_abi_version`).
    CONCORD_ERROR_ABI_VERSION = 8,
    /// The model cannot do what was asked: structure generation with a model that has no
    /// structure generator (see `concord_model_has_generator`), energies or forces from a
    /// generator whose energy head was never trained.
    CONCORD_ERROR_UNSUPPORTED = 9,
    /// Two atoms are closer than 0.25 Å: the system cannot be evaluated. Minimisers may
    /// treat it as an infinitely high energy and step back; `concord_last_error_atoms` gives
    /// the two atoms.
    CONCORD_ERROR_OVERLAP = 10,
    /// The evaluation would need more memory than the limit (`CONCORD_MEMORY_LIMIT_GB`, by
    /// default 80 % of physical memory); refused before the large buffers are allocated.
    CONCORD_ERROR_MEMORY_LIMIT = 11,
    /// A bug in Concord (a panic caught at the boundary): please report the message.
    CONCORD_ERROR_INTERNAL = 255,
}

/// A failed call: its status and message (without the function name).
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: concord_status_t,
    pub message: String,
    /// Atoms the failure is about (0-based indices into the caller's arrays).
    pub atoms: Vec<usize>,
}

impl Failure {
    pub fn new(status: concord_status_t, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            atoms: Vec::new(),
        }
    }

    pub fn argument(message: impl Into<String>) -> Failure {
        Failure::new(concord_status_t::CONCORD_ERROR_INVALID_ARGUMENT, message)
    }

    pub fn input(message: impl Into<String>) -> Failure {
        Failure::new(
            concord_status_t::CONCORD_ERROR_INVALID_INPUT,
            format!("invalid input: {}", message.into()),
        )
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::from(&e)
    }
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Failure {
        use concord_status_t::*;
        let status = match e {
            Error::Io { .. } => CONCORD_ERROR_IO,
            // Data files and configs are not read through the ABI; malformed ones are
            // invalid input should that change.
            Error::Parse { .. } | Error::InvalidInput(_) | Error::Config { .. } => {
                CONCORD_ERROR_INVALID_INPUT
            }
            Error::Overlap { .. } => CONCORD_ERROR_OVERLAP,
            Error::NonFinitePosition { .. } => CONCORD_ERROR_INVALID_INPUT,
            Error::UnknownElement(_) => CONCORD_ERROR_UNKNOWN_ELEMENT,
            Error::ModelFile { .. } => CONCORD_ERROR_MODEL_FILE,
            Error::Unsupported(_) => CONCORD_ERROR_UNSUPPORTED,
            Error::MemoryLimit { .. } => CONCORD_ERROR_MEMORY_LIMIT,
            #[cfg(feature = "torch")]
            Error::Torch(_) => CONCORD_ERROR_TORCH,
        };
        Failure {
            atoms: e.atoms(),
            ..Failure::new(status, e.to_string())
        }
    }
}

impl From<crate::optimize::RelaxFailure> for Failure {
    fn from(r: crate::optimize::RelaxFailure) -> Failure {
        let inner = Failure::from(&r.error);
        Failure {
            message: r.to_string(),
            ..inner
        }
    }
}

/// Returns `Err(Failure)` naming the argument when any of the given pointers is NULL.
macro_rules! check_null {
    ($($ptr:ident),+ $(,)?) => {
        $(
            if $ptr.is_null() {
                return Err($crate::c_api::status::Failure::argument(concat!(
                    "argument '", stringify!($ptr), "' is NULL"
                )));
            }
        )+
    };
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_ERROR_ATOMS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn set_last_error(message: String, atoms: Vec<usize>) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
    LAST_ERROR_ATOMS.with(|a| *a.borrow_mut() = atoms);
}

/// The atoms this thread's last error is about (see [`Failure::atoms`]).
pub(crate) fn last_error_atoms() -> Vec<usize> {
    LAST_ERROR_ATOMS.with(|a| a.borrow().clone())
}

/// Pointer to this thread's last error message (valid until it is replaced).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Runs the body of the `extern "C"` function `function`: an `Err` or a panic is recorded as
/// this thread's last error (prefixed with the function name) and returned as a status. This is
/// the only `catch_unwind` of the ABI.
pub(crate) fn catch<T>(
    function: &str,
    body: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, concord_status_t> {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(failure)) => failure,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Failure::new(
                concord_status_t::CONCORD_ERROR_INTERNAL,
                format!("internal error (a bug in Concord, please report it): {what}"),
            )
        }
    };
    // Recording the message must not unwind either (it only allocates).
    let Failure {
        status,
        message,
        atoms,
    } = failure;
    let _ = catch_unwind(move || set_last_error(format!("{function}: {message}"), atoms));
    Err(status)
}

/// [`catch`] for the functions that return only a status.
pub(crate) fn status(
    function: &str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> concord_status_t {
    match catch(function, body) {
        Ok(()) => concord_status_t::CONCORD_SUCCESS,
        Err(status) => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_panic_becomes_the_internal_error_status() {
        let s = status("concord_test", || panic!("boom {}", 42));
        assert_eq!(s, concord_status_t::CONCORD_ERROR_INTERNAL);
        assert!(
            last().starts_with("concord_test: internal error"),
            "{}",
            last()
        );
        assert!(last().contains("boom 42"));
        let s = status("concord_test", || std::panic::panic_any(7_i32));
        assert_eq!(s, concord_status_t::CONCORD_ERROR_INTERNAL);
        assert!(last().contains("unknown panic"));
    }

    #[test]
    fn errors_map_to_their_class_and_success_keeps_the_message() {
        let s = status("f", || Err(Error::UnknownElement("Xx".into()).into()));
        assert_eq!(s, concord_status_t::CONCORD_ERROR_UNKNOWN_ELEMENT);
        assert_eq!(last(), "f: unknown element: Xx");
        assert_eq!(status("g", || Ok(())), concord_status_t::CONCORD_SUCCESS);
        assert_eq!(last(), "f: unknown element: Xx");
        let too_big = Error::MemoryLimit {
            atoms: 1,
            pairs: 2,
            needed_gb: 3.0,
            limit_gb: 1.0,
        };
        let s = status("h", || Err(too_big.into()));
        assert_eq!(s, concord_status_t::CONCORD_ERROR_MEMORY_LIMIT);
        let overlap = Error::Overlap {
            first: 4,
            second: 7,
            distance: 0.1,
        };
        assert_eq!(
            status("o", || Err(overlap.into())),
            concord_status_t::CONCORD_ERROR_OVERLAP
        );
        assert_eq!(last_error_atoms(), vec![4, 7]);
        assert!(last().starts_with("o: invalid input: atoms 4 and 7 overlap"));
    }

    #[test]
    fn null_check_names_the_argument() {
        fn f(positions: *const f64) -> Result<(), Failure> {
            check_null!(positions);
            Ok(())
        }
        let e = f(std::ptr::null()).unwrap_err();
        assert_eq!(e.status, concord_status_t::CONCORD_ERROR_INVALID_ARGUMENT);
        assert_eq!(e.message, "argument 'positions' is NULL");
        assert!(f(&1.0).is_ok());
    }

    #[test]
    fn the_last_error_is_per_thread() {
        let _ = status("here", || Err(Failure::argument("mine")));
        std::thread::spawn(|| {
            let _ = status("there", || Err(Failure::argument("theirs")));
            assert_eq!(last(), "there: theirs");
        })
        .join()
        .unwrap();
        assert_eq!(last(), "here: mine");
    }
}
