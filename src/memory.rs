//! The memory an evaluation needs, and the limit past which it is refused before the large
//! buffers are allocated (rather than exhausting the machine).
//!
//! The estimate is linear in atoms and neighbour pairs, with coefficients measured on periodic
//! water boxes of 2,001 atoms at 0.1–1.6 million pairs (peak RSS growth of one evaluation with
//! forces and virials; docs/runtime.md, "Memory"): the native runtime needs about 190 bytes per
//! pair (indices, shifts, edge vectors, per-layer edge sets, edge gradients), libtorch about
//! 16 KiB per pair at F = 64, 3 layers, float32 (the autograd graph keeps `[pairs, 3F]` tensors
//! of every layer).
//!
//! The limit is `CONCORD_MEMORY_LIMIT_GB` (decimal gigabytes) when set, otherwise 80 % of the
//! machine's physical memory (`/proc/meminfo`); no limit where neither is known.

use crate::error::{Error, Result};
use crate::model::{ModelConfig, Precision};
use crate::potential::Backend;

/// Environment variable that sets the memory limit, in decimal gigabytes (e.g. `8` or `0.5`).
pub const LIMIT_VARIABLE: &str = "CONCORD_MEMORY_LIMIT_GB";

/// Fraction of physical memory used as the default limit.
const DEFAULT_FRACTION: f64 = 0.8;

/// Native runtime: bytes per neighbour pair (measured, rounded up).
const NATIVE_BYTES_PER_PAIR: f64 = 200.0;
/// libtorch: bytes per neighbour pair per feature per layer per byte of the float type
/// (16.4 KiB per pair measured at F = 64, 3 layers, float32: 16,800 / (64 * 3 * 4) ≈ 22).
const TORCH_BYTES_PER_PAIR_FEATURE_LAYER_BYTE: f64 = 22.0;

/// Estimated peak bytes of one evaluation (energy and all derivatives) of `atoms` atoms with
/// `pairs` directed neighbour pairs.
pub fn estimate(
    backend: Backend,
    config: &ModelConfig,
    precision: Precision,
    atoms: usize,
    pairs: usize,
) -> f64 {
    let f = config.encoder.features as f64;
    let layers = config.encoder.layers as f64;
    let float = match precision {
        Precision::Float32 => 4.0,
        Precision::Float64 => 8.0,
    };
    // Per atom: scalar + vector states of every layer, forward and reverse.
    let per_atom = 2.0 * 4.0 * f * (layers + 1.0) * float + 256.0;
    let per_pair = match backend {
        Backend::Native => NATIVE_BYTES_PER_PAIR,
        Backend::Torch => TORCH_BYTES_PER_PAIR_FEATURE_LAYER_BYTE * f * layers * float,
    };
    per_atom * atoms as f64 + per_pair * pairs as f64
}

/// The process's default limit in bytes, read once: [`LIMIT_VARIABLE`] when set (an
/// unparsable value is an error naming it), else 80 % of physical memory, else `None` (no
/// limit).
pub fn limit() -> Result<Option<f64>> {
    static LIMIT: std::sync::OnceLock<std::result::Result<Option<f64>, String>> =
        std::sync::OnceLock::new();
    LIMIT
        .get_or_init(|| read_limit().map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::InvalidInput)
}

fn read_limit() -> Result<Option<f64>> {
    if let Ok(text) = std::env::var(LIMIT_VARIABLE) {
        return match text.trim().parse::<f64>() {
            Ok(gb) if gb > 0.0 && gb.is_finite() => Ok(Some(gb * 1e9)),
            _ => Err(Error::invalid(format!(
                "environment variable {LIMIT_VARIABLE} = '{text}' is not a positive number of \
                 gigabytes"
            ))),
        };
    }
    Ok(physical_memory().map(|b| DEFAULT_FRACTION * b))
}

/// Physical memory in bytes (Linux `MemTotal`), if known.
fn physical_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// The most neighbour pairs an evaluation of `atoms` atoms may have within `limit` bytes.
pub fn max_pairs(
    backend: Backend,
    config: &ModelConfig,
    precision: Precision,
    atoms: usize,
    limit: f64,
) -> usize {
    let base = estimate(backend, config, precision, atoms, 0);
    let per_pair = estimate(backend, config, precision, 0, 1);
    ((limit - base).max(0.0) / per_pair)
        .floor()
        .min(usize::MAX as f64) as usize
}

/// Refuses an evaluation whose estimate exceeds `limit`: an [`Error::MemoryLimit`] with both.
pub fn check(
    backend: Backend,
    config: &ModelConfig,
    precision: Precision,
    atoms: usize,
    pairs: usize,
    limit: Option<f64>,
) -> Result<()> {
    let Some(limit) = limit else { return Ok(()) };
    if estimate(backend, config, precision, atoms, pairs) > limit {
        return Err(refusal(backend, config, precision, atoms, pairs, limit));
    }
    Ok(())
}

/// The [`Error::MemoryLimit`] for an evaluation of `atoms` atoms and `pairs` pairs.
pub fn refusal(
    backend: Backend,
    config: &ModelConfig,
    precision: Precision,
    atoms: usize,
    pairs: usize,
    limit: f64,
) -> Error {
    Error::MemoryLimit {
        atoms,
        pairs,
        needed_gb: estimate(backend, config, precision, atoms, pairs) / 1e9,
        limit_gb: limit / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::EncoderConfig;

    fn config() -> ModelConfig {
        ModelConfig {
            elements: vec![1, 6],
            encoder: EncoderConfig::default(),
            generator: None,
        }
    }

    #[test]
    fn the_estimate_matches_the_measured_coefficients() {
        let c = config();
        let native = estimate(Backend::Native, &c, Precision::Float32, 0, 1_000_000);
        assert_eq!(native, 2e8);
        let torch = estimate(Backend::Torch, &c, Precision::Float32, 0, 1);
        assert!((torch - 16_896.0).abs() < 1.0, "{torch}");
        let atoms = estimate(Backend::Native, &c, Precision::Float64, 1000, 0);
        assert_eq!(atoms, 1000.0 * (2.0 * 4.0 * 64.0 * 4.0 * 8.0 + 256.0));
    }

    #[test]
    fn past_the_limit_is_an_error_naming_both() {
        let c = config();
        let lim = estimate(Backend::Native, &c, Precision::Float32, 10, 100);
        assert!(check(Backend::Native, &c, Precision::Float32, 10, 100, Some(lim)).is_ok());
        let e = check(Backend::Native, &c, Precision::Float32, 10, 101, Some(lim)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("10 atoms") && text.contains("101 neighbour pairs"),
            "{text}"
        );
        assert!(text.contains(LIMIT_VARIABLE), "{text}");
        assert_eq!(
            max_pairs(Backend::Native, &c, Precision::Float32, 10, lim),
            100
        );
        assert!(check(Backend::Native, &c, Precision::Float32, 10, 1 << 40, None).is_ok());
    }
}
