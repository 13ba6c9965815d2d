//! The per-edge kernels of a message block, fused over the feature index: each loop runs over
//! the `F` features of all three channels at once, on slices cut to exactly `F` (no bounds
//! checks, no float reductions inside), so the compiler vectorises it, and keeps the message
//! `x = phi * w` in registers instead of writing a `[3F]` scratch row per edge.
//!
//! Channel layout of the `[3F]` filter `w` and `phi`: vector gate `[0, F)`, scalar message
//! `[F, 2F)`, radial gate `[2F, 3F)`. Vector features are `[3, F]` (Cartesian component,
//! feature). The message of edge `i <- j` with unit vector `u` is `x = phi_j * w / avg`:
//! `s_i += x_s`, `v_i[a] += v_j[a] x_v + u[a] x_r`.
// Kernels index several parallel arrays with one loop variable; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use crate::runtime::real::Real;

/// The three channels of a `[3F]` row (or the components of a `[3, F]` one), each `[F]`.
#[inline(always)]
fn channels<T>(x: &[T], f: usize) -> [&[T]; 3] {
    let x = &x[..3 * f];
    [&x[..f], &x[f..2 * f], &x[2 * f..]]
}

/// The same for a mutable row.
#[inline(always)]
fn channels_mut<T>(x: &mut [T], f: usize) -> [&mut [T]; 3] {
    let (a, rest) = x[..3 * f].split_at_mut(f);
    let (b, c) = rest.split_at_mut(f);
    [a, b, c]
}

/// `sum_c a[c] b[c]` over `[F]` with eight independent partial sums (vectorisable; float
/// addition is not reassociated by the compiler otherwise).
#[inline(always)]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for q in 0..8 {
            acc[q] += x[q] * y[q];
        }
    }
    let mut s = T::zero();
    for (x, y) in ra.iter().zip(rb) {
        s += *x * *y;
    }
    acc.iter().fold(s, |t, &x| t + x)
}

/// The message of one edge: `s_i += x_s`, `v_i[a] += v_j[a] x_v + u[a] x_r` with
/// `x = phi_j * w * inv` (`w`, `phi_j`: `[3F]`; `v_j`, `v_i`: `[3, F]`; `s_i`: `[F]`). With
/// `FIRST` (the first layer, whose input vector features are zero) `v_j` is not read.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn message<T: Real, const FIRST: bool>(
    f: usize,
    inv: T,
    w: &[T],
    phi_j: &[T],
    v_j: &[T],
    u: [T; 3],
    s_i: &mut [T],
    v_i: &mut [T],
) {
    let [wv, ws, wr] = channels(w, f);
    let [pv, ps, pr] = channels(phi_j, f);
    let s_i = &mut s_i[..f];
    for c in 0..f {
        s_i[c] += ps[c] * ws[c] * inv;
    }
    if FIRST {
        for (a, vi) in channels_mut(v_i, f).into_iter().enumerate() {
            for c in 0..f {
                vi[c] += u[a] * (pr[c] * wr[c] * inv);
            }
        }
    } else {
        let vj = channels(v_j, f);
        for (a, vi) in channels_mut(v_i, f).into_iter().enumerate() {
            let vja = vj[a];
            for c in 0..f {
                vi[c] += vja[c] * (pv[c] * wv[c] * inv) + u[a] * (pr[c] * wr[c] * inv);
            }
        }
    }
}

/// The adjoint of [`message`] for one edge, given the adjoints `g_s_i` `[F]` and `g_v_i`
/// `[3, F]` of the receiver's outputs: writes `g_w = dE/dw` `[3F]`, accumulates the adjoints
/// of the sender's inputs into `g_v_j` `[3, F]` and `g_phi_j` `[3F]`, and returns `dE/du`
/// (the unit vector's adjoint). `x_r` `[F]` is scratch. With `FIRST` (the first layer: zero
/// input vector features, `phi` a function of the species only) `v_j`, `g_v_j` and `g_phi_j`
/// are not touched.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn adjoint<T: Real, const FIRST: bool>(
    f: usize,
    inv: T,
    (w, phi_j, v_j, u): (&[T], &[T], &[T], [T; 3]),
    (g_s_i, g_v_i): (&[T], &[T]),
    g_w: &mut [T],
    g_v_j: &mut [T],
    g_phi_j: &mut [T],
    x_r: &mut [T],
) -> [T; 3] {
    let [wv, ws, wr] = channels(w, f);
    let [pv, ps, pr] = channels(phi_j, f);
    let [g0, g1, g2] = channels(g_v_i, f);
    let gs = &g_s_i[..f];
    let x_r = &mut x_r[..f];
    let [gwv, gws, gwr] = channels_mut(g_w, f);
    // dE/dx_r, dE/dx_s (x = phi * w * inv) times phi: the filter's adjoint; x_r for dE/du.
    for c in 0..f {
        let gxr = (g0[c] * u[0] + g1[c] * u[1] + g2[c] * u[2]) * inv;
        gwr[c] = gxr * pr[c];
        gws[c] = gs[c] * inv * ps[c];
        x_r[c] = pr[c] * wr[c] * inv;
    }
    let g_u = [dot(g0, x_r), dot(g1, x_r), dot(g2, x_r)];
    if FIRST {
        gwv.fill(T::zero());
        return g_u;
    }
    let [v0, v1, v2] = channels(v_j, f);
    let [gpv, gps, gpr] = channels_mut(g_phi_j, f);
    for c in 0..f {
        let gxv = (g0[c] * v0[c] + g1[c] * v1[c] + g2[c] * v2[c]) * inv;
        let gxr = (g0[c] * u[0] + g1[c] * u[1] + g2[c] * u[2]) * inv;
        gwv[c] = gxv * pv[c];
        gpv[c] += gxv * wv[c];
        gps[c] += gs[c] * inv * ws[c];
        gpr[c] += gxr * wr[c];
    }
    let [gj0, gj1, gj2] = channels_mut(g_v_j, f);
    for c in 0..f {
        let xv = pv[c] * wv[c] * inv;
        gj0[c] += g0[c] * xv;
        gj1[c] += g1[c] * xv;
        gj2[c] += g2[c] * xv;
    }
    g_u
}
