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
type HasGenerator = unsafe extern "C" fn(*const c_void, *mut i32) -> i32;
type Generate = unsafe extern "C" fn(
    *const c_void,
    i64,
    *const i32,
    i64,
    *const i32,
    *const i32,
    *const i32,
    i64,
    u64,
    i32,
    f64,
    *mut f64,
) -> i32;
type OptionsDefault = unsafe extern "C" fn() -> OptimizeOptions;
type Optimize = unsafe extern "C" fn(
    *const c_void,
    i64,
    *const i32,
    *mut f64,
    *const f64,
    *const i32,
    *const OptimizeOptions,
    *mut OptimizeResult,
) -> i32;
type GenerateOptimize = unsafe extern "C" fn(
    *const c_void,
    i64,
    *const i32,
    i64,
    *const i32,
    *const i32,
    *const i32,
    i64,
    u64,
    i32,
    f64,
    *const OptimizeOptions,
    *mut f64,
    *mut OptimizeResult,
) -> i32;
/// `concord_model_cutoff`.
pub type Cutoff = unsafe extern "C" fn(*const c_void, *mut f64) -> i32;

/// Status codes of include/concord.h.
pub const SUCCESS: i32 = 0;
pub const INVALID_ARGUMENT: i32 = 1;
pub const INVALID_INPUT: i32 = 2;
pub const UNKNOWN_ELEMENT: i32 = 3;
pub const MODEL_FILE: i32 = 5;
pub const ABI_VERSION: i32 = 8;
pub const UNSUPPORTED: i32 = 9;
pub const OVERLAP: i32 = 10;
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
    pub has_generator: HasGenerator,
    pub generate: Generate,
    pub options_default: OptionsDefault,
    pub generate_relax_options_default: OptionsDefault,
    pub optimize: Optimize,
    pub generate_optimize: GenerateOptimize,
    _lib: Library,
}

/// `concord_optimize_options_t`, declared here from the header's layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizeOptions {
    pub fmax: f64,
    pub max_steps: i64,
    pub max_step: f64,
    pub method: i32,
    pub memory: i32,
}

/// `concord_optimize_result_t`, declared here from the header's layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OptimizeResult {
    pub status: i32,
    pub converged: i32,
    pub steps: i64,
    pub force_calls: i64,
    pub energy: f64,
    pub initial_energy: f64,
    pub max_force: f64,
}

impl OptimizeResult {
    /// Every field as bits, for exact comparison (NaN-safe).
    pub fn bits(&self) -> [u64; 7] {
        [
            self.status as u64,
            self.converged as u64,
            self.steps as u64,
            self.force_calls as u64,
            self.energy.to_bits(),
            self.initial_energy.to_bits(),
            self.max_force.to_bits(),
        ]
    }
}

/// A molecular graph as the ABI takes it.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub z: Vec<i32>,
    pub first: Vec<i32>,
    pub second: Vec<i32>,
    pub order: Vec<i32>,
}

impl Graph {
    pub fn new(z: &[u8], bonds: &[concord::Bond]) -> Graph {
        Graph {
            z: z.iter().map(|&z| i32::from(z)).collect(),
            first: bonds.iter().map(|b| b.i as i32).collect(),
            second: bonds.iter().map(|b| b.j as i32).collect(),
            order: bonds.iter().map(|b| i32::from(b.order.code())).collect(),
        }
    }
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
                has_generator: *lib.get(b"concord_model_has_generator\0").unwrap(),
                generate: *lib.get(b"concord_generate\0").unwrap(),
                options_default: *lib.get(b"concord_optimize_options_default\0").unwrap(),
                generate_relax_options_default: *lib
                    .get(b"concord_generate_relax_options_default\0")
                    .unwrap(),
                optimize: *lib.get(b"concord_optimize\0").unwrap(),
                generate_optimize: *lib.get(b"concord_generate_optimize\0").unwrap(),
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

    /// `concord_generate`: positions `[k*N*3]`.
    pub fn generate(
        &self,
        h: Handle,
        g: &Graph,
        k: i64,
        seed: u64,
        steps: i32,
        churn: f64,
    ) -> Result<Vec<f64>, (i32, String)> {
        let mut x = vec![f64::NAN; 3 * g.z.len() * k.max(0) as usize];
        let s = unsafe {
            (self.generate)(
                h.0,
                g.z.len() as i64,
                g.z.as_ptr(),
                g.first.len() as i64,
                g.first.as_ptr(),
                g.second.as_ptr(),
                g.order.as_ptr(),
                k,
                seed,
                steps,
                churn,
                x.as_mut_ptr(),
            )
        };
        if s == SUCCESS {
            Ok(x)
        } else {
            Err((s, self.error()))
        }
    }

    /// `concord_optimize` of an open system: final positions and result.
    pub fn optimize(
        &self,
        h: Handle,
        z: &[i32],
        x: &[f64],
        options: Option<&OptimizeOptions>,
    ) -> Result<(Vec<f64>, OptimizeResult), (i32, String)> {
        let mut x = x.to_vec();
        let mut r = OptimizeResult::default();
        let s = unsafe {
            (self.optimize)(
                h.0,
                z.len() as i64,
                z.as_ptr(),
                x.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                options.map_or(std::ptr::null(), |o| o as *const _),
                &mut r,
            )
        };
        if s == SUCCESS {
            Ok((x, r))
        } else {
            Err((s, self.error()))
        }
    }

    /// `concord_generate_optimize`: positions `[k*N*3]` and results `[k]`.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_optimize(
        &self,
        h: Handle,
        g: &Graph,
        k: i64,
        seed: u64,
        steps: i32,
        churn: f64,
        options: Option<&OptimizeOptions>,
    ) -> Result<(Vec<f64>, Vec<OptimizeResult>), (i32, String)> {
        let mut x = vec![f64::NAN; 3 * g.z.len() * k.max(0) as usize];
        let mut r = vec![OptimizeResult::default(); k.max(0) as usize];
        let s = unsafe {
            (self.generate_optimize)(
                h.0,
                g.z.len() as i64,
                g.z.as_ptr(),
                g.first.len() as i64,
                g.first.as_ptr(),
                g.second.as_ptr(),
                g.order.as_ptr(),
                k,
                seed,
                steps,
                churn,
                options.map_or(std::ptr::null(), |o| o as *const _),
                x.as_mut_ptr(),
                r.as_mut_ptr(),
            )
        };
        if s == SUCCESS {
            Ok((x, r))
        } else {
            Err((s, self.error()))
        }
    }
}
