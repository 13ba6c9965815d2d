//! The C ABI's compute calls, as a C caller would make them: the fuzz input decides the
//! counts (possibly negative, zero or absurd), atomic numbers, coordinates (NaN, inf, overlaps),
//! cell, periodic flags and neighbour pairs, within buffers that really hold that much. A call
//! must return a status other than CONCORD_ERROR_INTERNAL, never crash.
//!
//! The functions are looked up in the process (the fuzz binary links the concord rlib, which
//! exports the `#[no_mangle]` symbols).
#![no_main]

use std::ffi::c_void;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

extern "C" {
    fn concord_model_load(
        path: *const std::ffi::c_char,
        device: *const std::ffi::c_char,
        precision: i32,
        model: *mut *mut c_void,
    ) -> i32;
    fn concord_compute(
        model: *const c_void,
        n: i64,
        z: *const i32,
        x: *const f64,
        cell: *const f64,
        periodic: *const i32,
        energy: *mut f64,
        forces: *mut f64,
        atom_energies: *mut f64,
        virial: *mut f64,
        atom_virial: *mut f64,
    ) -> i32;
    fn concord_compute_local(
        model: *const c_void,
        n_local: i64,
        n_total: i64,
        z: *const i32,
        x: *const f64,
        n_pairs: i64,
        first: *const i32,
        second: *const i32,
        energy: *mut f64,
        forces: *mut f64,
        atom_energies: *mut f64,
        virial: *mut f64,
        atom_virial: *mut f64,
    ) -> i32;
}

struct Handle(*mut c_void);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// A small untrained model over H C N O, saved once and loaded through the ABI.
fn model() -> *mut c_void {
    static MODEL: OnceLock<Handle> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            use concord::model::{file, EncoderConfig, Model, ModelConfig, Precision};
            tch::manual_seed(0);
            let config = ModelConfig {
                elements: vec![1, 6, 7, 8],
                encoder: EncoderConfig { features: 8, layers: 2, cutoff: 3.0, radial_basis: 4, edge_features: 0 },
                generator: None,
            };
            let m = Model::new(config, tch::Device::Cpu, Precision::Float32).unwrap();
            let path = std::env::temp_dir().join("concord-fuzz-abi.concord");
            file::save(&m, &path, serde_json::Value::Null).unwrap();
            let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            let mut h = std::ptr::null_mut();
            assert_eq!(unsafe { concord_model_load(c.as_ptr(), std::ptr::null(), 32, &mut h) }, 0);
            Handle(h)
        })
        .0
}

/// Reads little-endian values off the fuzz input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }
    fn f64(&mut self) -> f64 {
        // Mostly ordinary coordinates, sometimes raw bits (NaN, inf, huge).
        if self.byte() < 230 {
            (self.byte() as f64 - 128.0) / 16.0
        } else {
            f64::from_le_bytes(std::array::from_fn(|_| self.byte()))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader(data);
    let n = (r.byte() % 16) as usize;
    let claim: i64 = match r.byte() % 8 {
        0 => -(r.i32() as i64).abs(),
        1 => 1_000_000_000,
        _ => n as i64,
    };
    let z: Vec<i32> = (0..n).map(|_| if r.byte() < 200 { [1, 6, 7, 8][r.byte() as usize % 4] } else { r.i32() }).collect();
    let x: Vec<f64> = (0..3 * n).map(|_| r.f64()).collect();
    let mut out = vec![0.0; 9 * n + 16];
    let mut energy = 0.0;
    let mut virial = [0.0; 9];
    let status = if r.byte() % 2 == 0 {
        let cell: [f64; 9] = std::array::from_fn(|_| r.f64());
        let periodic: [i32; 3] = std::array::from_fn(|_| (r.byte() % 2) as i32);
        let flags = r.byte();
        unsafe {
            concord_compute(
                model(),
                claim,
                z.as_ptr(),
                x.as_ptr(),
                if flags & 1 != 0 { cell.as_ptr() } else { std::ptr::null() },
                if flags & 2 != 0 { periodic.as_ptr() } else { std::ptr::null() },
                &mut energy,
                if flags & 4 != 0 { out.as_mut_ptr() } else { std::ptr::null_mut() },
                std::ptr::null_mut(),
                if flags & 8 != 0 { virial.as_mut_ptr() } else { std::ptr::null_mut() },
                std::ptr::null_mut(),
            )
        }
    } else {
        let n_pairs = (r.byte() % 64) as usize;
        let first: Vec<i32> = (0..n_pairs).map(|_| r.byte() as i32 % (n as i32 + 2) - 1).collect();
        let second: Vec<i32> = (0..n_pairs).map(|_| r.byte() as i32 % (n as i32 + 2) - 1).collect();
        let flags = r.byte();
        let pairs_claim = if flags & 1 != 0 { -1 } else { n_pairs as i64 };
        unsafe {
            concord_compute_local(
                model(),
                (r.byte() % 20) as i64 - 2,
                claim,
                z.as_ptr(),
                x.as_ptr(),
                if flags & 2 != 0 { 0 } else { pairs_claim },
                if flags & 4 != 0 { std::ptr::null() } else { first.as_ptr() },
                if flags & 8 != 0 { std::ptr::null() } else { second.as_ptr() },
                &mut energy,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
                virial.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        }
    };
    assert_ne!(status, 255, "internal error");
});
