//! Gzip-friendly encodings of the export's large float arrays (positions and forces), which
//! as plain float32 barely compress: on the 2.85 million frame atoms of
//! `configs/experiments/potential-gpu-3.toml`, 34.2 MB each, 31.8 (positions) and 32.2 MB
//! (forces) gzipped. Each array is stored as byte planes, a `U8` tensor `[4, count]` (byte 0 of
//! every value, then byte 1, ...), so that the nearly constant high bytes compress; the header
//! metadata `concord_planes` (JSON: name → `{"dtype", "shape", "scale"}`) tells a reader how to
//! reassemble them (`scripts/gpu/safetensors_io.py`). Measured on the same data: 19.3 and
//! 18.1 MB.
//! - Positions: fixed point, `round(x / POSITION_STEP)` as i32 (error at most 5e-6 Å).
//! - Forces: float32 rounded to [`FORCE_MANTISSA_BITS`] mantissa bits (relative error at most
//!   2^-13 = 1.2e-4, 0.12 meV/Å at 1 eV/Å, far below any potential's error).

use safetensors::Dtype;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::model::file::TensorBytes;

/// Step of the fixed-point positions (Å).
pub const POSITION_STEP: f64 = 1e-5;

/// Mantissa bits kept of the float32 forces (of 23).
pub const FORCE_MANTISSA_BITS: u32 = 12;

/// Header metadata key of the plane specifications.
pub const METADATA_KEY: &str = "concord_planes";

/// `values` `[count]` as fixed point (`round(x / step)`, i32) in byte planes, recording its
/// specification under `name` in `specs` (`shape`: the array's logical shape).
pub fn fixed_point(
    name: &str,
    values: &[f64],
    step: f64,
    shape: Vec<usize>,
    specs: &mut Map<String, Value>,
) -> Result<TensorBytes> {
    let tensor = planes(values, |x| {
        let q = (x / step).round();
        if !q.is_finite() || q.abs() > f64::from(i32::MAX) {
            let msg = format!("{name}: {x} does not fit the export's fixed point (step {step})");
            return Err(Error::invalid(msg));
        }
        Ok((q as i32).to_le_bytes())
    })?;
    specs.insert(
        name.into(),
        json!({"dtype": "I32", "shape": shape, "scale": step}),
    );
    Ok(tensor)
}

/// `values` `[count]` as float32 rounded to `bits` mantissa bits (to nearest, ties away from
/// zero) in byte planes, recording its specification under `name` in `specs`.
pub fn rounded_f32(
    name: &str,
    values: &[f64],
    bits: u32,
    shape: Vec<usize>,
    specs: &mut Map<String, Value>,
) -> Result<TensorBytes> {
    let drop = 23 - bits.min(23);
    let mask = if drop == 0 { 0 } else { (1u32 << drop) - 1 };
    let half = if drop == 0 { 0 } else { 1u32 << (drop - 1) };
    let tensor = planes(values, |x| {
        let v = x as f32;
        if !v.is_finite() {
            let msg = format!("{name}: {x} is not a finite float32");
            return Err(Error::invalid(msg));
        }
        Ok(((v.to_bits() + half) & !mask).to_le_bytes())
    })?;
    specs.insert(name.into(), json!({"dtype": "F32", "shape": shape}));
    Ok(tensor)
}

/// `values` `[count]`, each encoded as a little-endian word by `word`, as byte planes
/// `[4, count]`.
fn planes(values: &[f64], word: impl Fn(f64) -> Result<[u8; 4]>) -> Result<TensorBytes> {
    let words = values
        .iter()
        .map(|&x| word(x))
        .collect::<Result<Vec<_>>>()?;
    let mut bytes = Vec::with_capacity(4 * words.len());
    for k in 0..4 {
        bytes.extend(words.iter().map(|w| w[k]));
    }
    Ok(TensorBytes {
        dtype: Dtype::U8,
        shape: vec![4, words.len()],
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &TensorBytes) -> Vec<[u8; 4]> {
        let n = t.shape[1];
        (0..n)
            .map(|i| std::array::from_fn(|k| t.bytes[k * n + i]))
            .collect()
    }

    #[test]
    fn fixed_point_round_trips_within_half_a_step() {
        let x = [0.0, -12.345678912, 3.000004, 1e-7, 20.0];
        let mut specs = Map::new();
        let t = fixed_point("p", &x, POSITION_STEP, vec![5], &mut specs).unwrap();
        assert_eq!(t.shape, vec![4, 5]);
        for (w, x) in words(&t).iter().zip(x) {
            let back = f64::from(i32::from_le_bytes(*w)) * POSITION_STEP;
            assert!(
                (back - x).abs() <= 0.5 * POSITION_STEP + 1e-12,
                "{x} -> {back}"
            );
        }
        assert_eq!(specs["p"]["dtype"], "I32");
        assert!(fixed_point("p", &[f64::NAN], 1e-5, vec![1], &mut specs).is_err());
        assert!(fixed_point("p", &[1e5], 1e-5, vec![1], &mut specs).is_err());
    }

    #[test]
    fn rounded_floats_keep_the_requested_precision() {
        let x = [0.0, 1.0, -0.123456789, 298.88342, 1e-6, -3.5e-3];
        let mut specs = Map::new();
        let t = rounded_f32("f", &x, FORCE_MANTISSA_BITS, vec![2, 3], &mut specs).unwrap();
        let bound = 2f64.powi(-(FORCE_MANTISSA_BITS as i32) - 1);
        for (w, x) in words(&t).iter().zip(x) {
            let back = f64::from(f32::from_le_bytes(*w));
            assert!(
                (back - x).abs() <= bound * x.abs() * 1.0001,
                "{x} -> {back}"
            );
            assert_eq!(f32::from_le_bytes(*w).to_bits() & 0x7ff, 0);
        }
        assert_eq!(specs["f"]["shape"], json!([2, 3]));
        assert!(rounded_f32("f", &[f64::INFINITY], 12, vec![1], &mut specs).is_err());
    }
}
