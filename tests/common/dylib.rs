//! The C ABI as a foreign consumer sees it: `libconcord.so` opened with libloading and its
//! functions looked up by name, with C types only (no Rust linkage to the library's code).
#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;

use libloading::Library;

type Load = unsafe extern "C" fn(*const c_char, *const c_char, i32, *mut *mut c_void) -> i32;
type Free = unsafe extern "C" fn(*mut c_void) -> i32;
type Compute = unsafe extern "C" fn(
    *const c_void,
    i64,
    *const i32,
    *const f64,
    *const f64,
    *const i32,
    *mut f64,
    *mut f64,
    *mut f64,
    *mut f64,
    *mut f64,
) -> i32;
type ComputeLocal = unsafe extern "C" fn(
    *const c_void,
    i64,
    i64,
    *const i32,
    *const f64,
    i64,
    *const i32,
    *const i32,
    *mut f64,
    *mut f64,
    *mut f64,
    *mut f64,
    *mut f64,
) -> i32;
type LastError = unsafe extern "C" fn() -> *const c_char;
type CheckAbi = unsafe extern "C" fn(u32) -> i32;
type AbiVersion = unsafe extern "C" fn() -> u32;
/// `concord_model_cutoff`.
pub type Cutoff = unsafe extern "C" fn(*const c_void, *mut f64) -> i32;

/// Status codes of include/concord.h.
pub const SUCCESS: i32 = 0;
pub const INVALID_ARGUMENT: i32 = 1;
pub const INVALID_INPUT: i32 = 2;
pub const UNKNOWN_ELEMENT: i32 = 3;
pub const MODEL_FILE: i32 = 5;
pub const ABI_VERSION: i32 = 8;
pub const INTERNAL: i32 = 255;

/// The library and the functions the tests call.
pub struct Api {
    pub load: Load,
    pub free: Free,
    pub compute: Compute,
    pub compute_local: ComputeLocal,
    pub last_error: LastError,
    pub check_abi: CheckAbi,
    pub abi_version: AbiVersion,
    _lib: Library,
}

/// A model handle that may be shared between threads (the header says it may).
#[derive(Clone, Copy)]
pub struct Handle(pub *mut c_void);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// Outputs of one compute call, `None` when not requested.
#[derive(Debug, Clone, PartialEq)]
pub struct Out {
    pub energy: f64,
    pub forces: Vec<f64>,
    pub atom_energies: Vec<f64>,
    pub virial: Vec<f64>,
    pub atom_virial: Vec<f64>,
}

impl Out {
    pub fn new(n: usize) -> Out {
        Out {
            energy: f64::NAN,
            forces: vec![0.0; 3 * n],
            atom_energies: vec![0.0; n],
            virial: vec![0.0; 9],
            atom_virial: vec![0.0; 9 * n],
        }
    }

    /// Bit patterns, for exact comparison (NaN-safe).
    pub fn bits(&self) -> Vec<u64> {
        std::iter::once(self.energy)
            .chain(self.forces.iter().copied())
            .chain(self.atom_energies.iter().copied())
            .chain(self.virial.iter().copied())
            .chain(self.atom_virial.iter().copied())
            .map(f64::to_bits)
            .collect()
    }
}

impl Api {
    pub fn open(path: &Path) -> Api {
        unsafe {
            let lib = Library::new(path).unwrap();
            Api {
                load: *lib.get(b"concord_model_load\0").unwrap(),
                free: *lib.get(b"concord_model_free\0").unwrap(),
                compute: *lib.get(b"concord_compute\0").unwrap(),
                compute_local: *lib.get(b"concord_compute_local\0").unwrap(),
                last_error: *lib.get(b"concord_last_error\0").unwrap(),
                check_abi: *lib.get(b"concord_check_abi_version\0").unwrap(),
                abi_version: *lib.get(b"concord_abi_version\0").unwrap(),
                _lib: lib,
            }
        }
    }

    pub fn error(&self) -> String {
        unsafe { CStr::from_ptr((self.last_error)()) }
            .to_string_lossy()
            .into_owned()
    }

    pub fn load_model(&self, path: &Path, precision: i32) -> Handle {
        let c = CString::new(path.to_str().unwrap()).unwrap();
        let mut h = std::ptr::null_mut();
        let s = unsafe { (self.load)(c.as_ptr(), c"cpu".as_ptr(), precision, &mut h) };
        assert_eq!(s, SUCCESS, "{}", self.error());
        Handle(h)
    }

    pub fn free_model(&self, h: Handle) {
        assert_eq!(unsafe { (self.free)(h.0) }, SUCCESS);
    }

    /// `concord_compute` with every output requested.
    pub fn compute_all(
        &self,
        h: Handle,
        z: &[i32],
        x: &[f64],
        cell: Option<&[f64; 9]>,
        periodic: Option<&[i32; 3]>,
    ) -> Result<Out, (i32, String)> {
        let n = z.len();
        let mut o = Out::new(n);
        let s = unsafe {
            (self.compute)(
                h.0,
                n as i64,
                z.as_ptr(),
                x.as_ptr(),
                cell.map_or(std::ptr::null(), |c| c.as_ptr()),
                periodic.map_or(std::ptr::null(), |p| p.as_ptr()),
                &mut o.energy,
                o.forces.as_mut_ptr(),
                o.atom_energies.as_mut_ptr(),
                o.virial.as_mut_ptr(),
                o.atom_virial.as_mut_ptr(),
            )
        };
        if s == SUCCESS {
            Ok(o)
        } else {
            Err((s, self.error()))
        }
    }

    /// `concord_compute_local` with every output requested.
    pub fn compute_local_all(
        &self,
        h: Handle,
        n_local: i64,
        z: &[i32],
        x: &[f64],
        pairs: Option<(&[i32], &[i32])>,
    ) -> Result<Out, (i32, String)> {
        let n = z.len();
        let mut o = Out::new(n);
        let (np, f, s) = match pairs {
            Some((f, s)) => (f.len().min(s.len()) as i64, f.as_ptr(), s.as_ptr()),
            None => (0, std::ptr::null(), std::ptr::null()),
        };
        let status = unsafe {
            (self.compute_local)(
                h.0,
                n_local,
                n as i64,
                z.as_ptr(),
                x.as_ptr(),
                np,
                f,
                s,
                &mut o.energy,
                o.forces.as_mut_ptr(),
                o.atom_energies.as_mut_ptr(),
                o.virial.as_mut_ptr(),
                o.atom_virial.as_mut_ptr(),
            )
        };
        if status == SUCCESS {
            Ok(o)
        } else {
            Err((status, self.error()))
        }
    }
}
