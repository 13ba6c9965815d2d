//! Halo exchange between message-passing layers, for an MD engine's spatial decomposition
//! (the scheme of LAMMPS's ML-IAP interface for MACE): each rank runs every layer only for
//! its local atoms, and after each layer the engine copies the features of every ghost atom
//! from the rank that owns it; in the reverse pass the adjoints that reached ghost atoms are
//! summed onto their owners. The engine then needs ghosts within one cutoff, not the whole
//! receptive field (`layers x cutoff`), and no rank repeats another's work.
//!
//! Rows are float64 `[N, 4F]` per atom: the scalar features `[F]` then the vector features
//! `[3, F]` (Cartesian component, feature), local atoms first, then ghosts.

use crate::error::{Error, Result};
use crate::runtime::real::Real;

/// The engine's side of the exchange: `rows` is `[N, width]` (row-major, local atoms first).
pub trait Halo {
    /// Overwrites each ghost atom's row with its owner's.
    fn forward(&mut self, width: usize, rows: &mut [f64]) -> Result<()>;
    /// Adds each ghost atom's row to its owner's row (ghost rows are not read afterwards).
    fn reverse(&mut self, width: usize, rows: &mut [f64]) -> Result<()>;
}

/// Exchanges a layer's outputs: the ghost rows of `s` `[N, F]` and `v` `[N, 3F]` become their
/// owners'. `buf` is scratch.
pub fn share<T: Real>(
    halo: &mut dyn Halo,
    f: usize,
    n_local: usize,
    (s, v): (&mut [T], &mut [T]),
    buf: &mut Vec<f64>,
) -> Result<()> {
    pack(f, s, v, buf);
    halo.forward(4 * f, buf)?;
    unpack(f, buf, n_local, s, v, false)
}

/// Gathers a layer's input adjoints: the ghost rows of `gs` `[N, F]` and `gv` `[N, 3F]` are
/// added onto their owners' rows, then zeroed (their owners now carry them).
pub fn gather<T: Real>(
    halo: &mut dyn Halo,
    f: usize,
    n_local: usize,
    (gs, gv): (&mut [T], &mut [T]),
    buf: &mut Vec<f64>,
) -> Result<()> {
    pack(f, gs, gv, buf);
    halo.reverse(4 * f, buf)?;
    unpack(f, buf, n_local, gs, gv, true)
}

/// Packs `s` `[N, F]` and `v` `[N, 3F]` into rows `[N, 4F]` of `buf`.
fn pack<T: Real>(f: usize, s: &[T], v: &[T], buf: &mut Vec<f64>) {
    let wide = |x: &T| x.to_f64().unwrap_or(f64::NAN);
    buf.clear();
    for (si, vi) in s.chunks_exact(f).zip(v.chunks_exact(3 * f)) {
        buf.extend(si.iter().map(wide));
        buf.extend(vi.iter().map(wide));
    }
}

/// Writes rows `[N, 4F]` of `buf` back into `s`, `v`: the ghost rows, or with `adjoint` the
/// local rows (ghost rows zeroed).
fn unpack<T: Real>(
    f: usize,
    buf: &[f64],
    n_local: usize,
    s: &mut [T],
    v: &mut [T],
    adjoint: bool,
) -> Result<()> {
    if buf.len() != s.len() + v.len() {
        return Err(Error::invalid(
            "the engine's exchange changed the buffer size",
        ));
    }
    let atoms = s.chunks_exact_mut(f).zip(v.chunks_exact_mut(3 * f));
    for (i, ((si, vi), row)) in atoms.zip(buf.chunks_exact(4 * f)).enumerate() {
        if (i < n_local) == adjoint {
            si.iter_mut()
                .zip(&row[..f])
                .for_each(|(x, &y)| *x = T::of(y));
            vi.iter_mut()
                .zip(&row[f..])
                .for_each(|(x, &y)| *x = T::of(y));
        } else if adjoint {
            si.fill(T::zero());
            vi.fill(T::zero());
        }
    }
    Ok(())
}
