//! The per-edge kernels of a message block, fused over the feature index: one pass over the
//! `F` features of all three channels in explicit SIMD lanes ([`Lanes`]: AVX2 registers with
//! fused multiply-add in the runtime's AVX2 copies, one scalar otherwise; the remainder of a
//! row that does not fill a register runs with scalar lanes), with the message and every
//! per-edge reduction kept in registers.
//!
//! Channel layout of the `[3F]` filter `w` and `phi`: vector gate `[0, F)`, scalar message
//! `[F, 2F)`, radial gate `[2F, 3F)`. Vector features are `[3, F]` (Cartesian component,
//! feature). The message of edge `i <- j` with unit vector `u` is `x = phi_j * w`, where `w`
//! already carries the model's `1 / avg_neighbors`: `s_i += x_s`, `v_i[a] += v_j[a] x_v +
//! u[a] x_r`.

// Kernels index several parallel arrays with one loop variable; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use crate::runtime::real::Real;
use crate::runtime::simd::Lanes;

/// What [`adjoint`] reads of an edge and its sender `j`: the filter `w` and its radial
/// derivative `dw` (`[3F]` each), `phi_j` `[3F]`, `v_j` `[3, F]` and the unit vector `u`.
pub type Sender<'a, T> = (&'a [T], &'a [T], &'a [T], &'a [T], [T; 3]);

/// The message of one edge: `s_i += x_s`, `v_i[a] += v_j[a] x_v + u[a] x_r` with
/// `x = phi_j * w` (`w`, `phi_j`: `[3F]`; `v_j`, `v_i`: `[3, F]`; `s_i`: `[F]`). With
/// `FIRST` (the first layer, whose input vector features are zero) `v_j` is not read.
///
/// # Safety
/// The CPU supports `L`'s instructions ([`Lanes`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn message<T: Real, L: Lanes<T>, const FIRST: bool>(
    f: usize,
    w: &[T],
    phi_j: &[T],
    v_j: &[T],
    u: [T; 3],
    s_i: &mut [T],
    v_i: &mut [T],
) {
    assert!(w.len() >= 3 * f && phi_j.len() >= 3 * f && s_i.len() >= f && v_i.len() >= 3 * f);
    assert!(FIRST || v_j.len() >= 3 * f);
    let rows = (w, phi_j, v_j);
    let h = L::head(f);
    message_span::<T, L, FIRST>(f, 0, h, rows, u, s_i, v_i);
    message_span::<T, T, FIRST>(f, h, f, rows, u, s_i, v_i);
}

/// [`message`] over the features `[c0, c1)` (a multiple of `L::N` long).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn message_span<T: Real, L: Lanes<T>, const FIRST: bool>(
    f: usize,
    c0: usize,
    c1: usize,
    (w, phi, v_j): (&[T], &[T], &[T]),
    u: [T; 3],
    s_i: &mut [T],
    v_i: &mut [T],
) {
    let u = [L::splat(u[0]), L::splat(u[1]), L::splat(u[2])];
    let mut c = c0;
    while c < c1 {
        let ws = L::load(w, f + c);
        let wr = L::load(w, 2 * f + c);
        L::load(phi, f + c).fma(ws, L::load(s_i, c)).store(s_i, c);
        let xr = L::load(phi, 2 * f + c).mul(wr);
        if FIRST {
            for a in 0..3 {
                let o = a * f + c;
                u[a].fma(xr, L::load(v_i, o)).store(v_i, o);
            }
        } else {
            let xv = L::load(phi, c).mul(L::load(w, c));
            for a in 0..3 {
                let o = a * f + c;
                let acc = u[a].fma(xr, L::load(v_i, o));
                L::load(v_j, o).fma(xv, acc).store(v_i, o);
            }
        }
        c += L::N;
    }
}

/// The adjoint of [`message`] for one edge, given the filter `w` and its radial derivative
/// `dw = dw/dr` (both `[3F]`) and the adjoints `g_s_i` `[F]` and `g_v_i` `[3, F]` of the
/// receiver's outputs: accumulates the adjoints of the sender's inputs into `g_v_j` `[3, F]`
/// and `g_phi_j` `[3F]`, and returns `(dE/du, dE/dr)` (unit vector and length of the edge).
/// With `FIRST` (the first layer: zero input vector features, `phi` a function of the species
/// only) `v_j`, `g_v_j` and `g_phi_j` are not touched.
///
/// # Safety
/// The CPU supports `L`'s instructions ([`Lanes`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn adjoint<T: Real, L: Lanes<T>, const FIRST: bool>(
    f: usize,
    (w, dw, phi_j, v_j, u): Sender<'_, T>,
    (g_s_i, g_v_i): (&[T], &[T]),
    g_v_j: &mut [T],
    g_phi_j: &mut [T],
) -> ([T; 3], T) {
    assert!(w.len() >= 3 * f && dw.len() >= 3 * f && phi_j.len() >= 3 * f);
    assert!(g_s_i.len() >= f && g_v_i.len() >= 3 * f);
    assert!(FIRST || (v_j.len() >= 3 * f && g_v_j.len() >= 3 * f && g_phi_j.len() >= 3 * f));
    let ins = (w, dw, phi_j, v_j, u);
    let h = L::head(f);
    let (gu, gr) = adjoint_span::<T, L, FIRST>(f, 0, h, ins, (g_s_i, g_v_i), g_v_j, g_phi_j);
    let (tu, tr) = adjoint_span::<T, T, FIRST>(f, h, f, ins, (g_s_i, g_v_i), g_v_j, g_phi_j);
    ([gu[0] + tu[0], gu[1] + tu[1], gu[2] + tu[2]], gr + tr)
}

/// [`adjoint`] over the features `[c0, c1)` (a multiple of `L::N` long).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn adjoint_span<T: Real, L: Lanes<T>, const FIRST: bool>(
    f: usize,
    c0: usize,
    c1: usize,
    (w, dw, phi, v_j, u): Sender<'_, T>,
    (g_s, g_v): (&[T], &[T]),
    g_v_j: &mut [T],
    g_phi: &mut [T],
) -> ([T; 3], T) {
    let zero = L::splat(T::zero());
    let u = [L::splat(u[0]), L::splat(u[1]), L::splat(u[2])];
    let (mut g_u, mut g_r) = ([zero; 3], zero);
    let mut c = c0;
    while c < c1 {
        let g = load3::<T, L>(g_v, f, c);
        let gxs = L::load(g_s, c);
        let gxr = g[0].fma(u[0], g[1].fma(u[1], g[2].mul(u[2])));
        let (ps, pr) = (L::load(phi, f + c), L::load(phi, 2 * f + c));
        let (ws, wr) = (L::load(w, f + c), L::load(w, 2 * f + c));
        // dE/dr through the filter: sum over channels of dE/dw * dw/dr.
        let gw_s = gxs.mul(ps);
        let gw_r = gxr.mul(pr);
        g_r = gw_s.fma(L::load(dw, f + c), gw_r.fma(L::load(dw, 2 * f + c), g_r));
        // dE/du[a] = g_v[a] . x_r.
        let xr = pr.mul(wr);
        for a in 0..3 {
            g_u[a] = g[a].fma(xr, g_u[a]);
        }
        if !FIRST {
            let v = load3::<T, L>(v_j, f, c);
            let gxv = g[0].fma(v[0], g[1].fma(v[1], g[2].mul(v[2])));
            let (pv, wv) = (L::load(phi, c), L::load(w, c));
            g_r = gxv.mul(pv).fma(L::load(dw, c), g_r);
            gxv.fma(wv, L::load(g_phi, c)).store(g_phi, c);
            gxs.fma(ws, L::load(g_phi, f + c)).store(g_phi, f + c);
            gxr.fma(wr, L::load(g_phi, 2 * f + c))
                .store(g_phi, 2 * f + c);
            let xv = pv.mul(wv);
            for a in 0..3 {
                let o = a * f + c;
                g[a].fma(xv, L::load(g_v_j, o)).store(g_v_j, o);
            }
        }
        c += L::N;
    }
    ([g_u[0].sum(), g_u[1].sum(), g_u[2].sum()], g_r.sum())
}

/// What [`parameter_adjoint`] reads of an edge and its sender `j`: the filter `w` `[3F]`,
/// `phi_j` `[3F]`, `v_j` `[3, F]` and the unit vector `u`.
pub type Inputs<'a, T> = (&'a [T], &'a [T], &'a [T], [T; 3]);

/// The parameter-side adjoint of [`message`] for one edge (training): given the adjoints
/// `g_s_i` `[F]` and `g_v_i` `[3, F]` of the receiver's outputs, accumulates `dL/dw` into
/// `g_w` `[3F]`, `dL/dphi_j` into `g_phi_j` `[3F]` and, with `VECTORS` (input vector features
/// that are not all zero), `dL/dv_j` into `g_v_j` `[3, F]`.
///
/// # Safety
/// The CPU supports `L`'s instructions ([`Lanes`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn parameter_adjoint<T: Real, L: Lanes<T>, const VECTORS: bool>(
    f: usize,
    ins: Inputs<'_, T>,
    (g_s_i, g_v_i): (&[T], &[T]),
    g_w: &mut [T],
    g_phi_j: &mut [T],
    g_v_j: &mut [T],
) {
    let (w, phi, v_j, _) = ins;
    assert!(w.len() >= 3 * f && phi.len() >= 3 * f && v_j.len() >= 3 * f);
    assert!(g_s_i.len() >= f && g_v_i.len() >= 3 * f);
    assert!(g_w.len() >= 3 * f && g_phi_j.len() >= 3 * f);
    assert!(!VECTORS || g_v_j.len() >= 3 * f);
    let outs = (g_w, g_phi_j, g_v_j);
    let h = L::head(f);
    let outs = parameter_span::<T, L, VECTORS>(f, 0, h, ins, (g_s_i, g_v_i), outs);
    parameter_span::<T, T, VECTORS>(f, h, f, ins, (g_s_i, g_v_i), outs);
}

/// [`parameter_adjoint`] over the features `[c0, c1)` (a multiple of `L::N` long); returns
/// the output slices for the next span.
#[allow(clippy::type_complexity)]
#[inline(always)]
unsafe fn parameter_span<'o, T: Real, L: Lanes<T>, const VECTORS: bool>(
    f: usize,
    c0: usize,
    c1: usize,
    (w, phi, v_j, u): Inputs<'_, T>,
    (g_s, g_v): (&[T], &[T]),
    (g_w, g_phi, g_v_j): (&'o mut [T], &'o mut [T], &'o mut [T]),
) -> (&'o mut [T], &'o mut [T], &'o mut [T]) {
    let u = [L::splat(u[0]), L::splat(u[1]), L::splat(u[2])];
    let mut c = c0;
    while c < c1 {
        let g = load3::<T, L>(g_v, f, c);
        let v = load3::<T, L>(v_j, f, c);
        let gxs = L::load(g_s, c);
        let gxr = g[0].fma(u[0], g[1].fma(u[1], g[2].mul(u[2])));
        let gxv = g[0].fma(v[0], g[1].fma(v[1], g[2].mul(v[2])));
        let (pv, ps, pr) = (
            L::load(phi, c),
            L::load(phi, f + c),
            L::load(phi, 2 * f + c),
        );
        let (wv, ws, wr) = (L::load(w, c), L::load(w, f + c), L::load(w, 2 * f + c));
        gxv.fma(pv, L::load(g_w, c)).store(g_w, c);
        gxs.fma(ps, L::load(g_w, f + c)).store(g_w, f + c);
        gxr.fma(pr, L::load(g_w, 2 * f + c)).store(g_w, 2 * f + c);
        gxv.fma(wv, L::load(g_phi, c)).store(g_phi, c);
        gxs.fma(ws, L::load(g_phi, f + c)).store(g_phi, f + c);
        gxr.fma(wr, L::load(g_phi, 2 * f + c))
            .store(g_phi, 2 * f + c);
        if VECTORS {
            let xv = pv.mul(wv);
            for a in 0..3 {
                let o = a * f + c;
                g[a].fma(xv, L::load(g_v_j, o)).store(g_v_j, o);
            }
        }
        c += L::N;
    }
    (g_w, g_phi, g_v_j)
}

/// The three rows of `s` (`[3, F]` Cartesian components, or the channels of a `[3F]` filter)
/// at feature `c`.
///
/// # Safety
/// The CPU supports `L`'s instructions, and `s` holds `2F + c + L::N` values.
#[inline(always)]
unsafe fn load3<T: Real, L: Lanes<T>>(s: &[T], f: usize, c: usize) -> [L; 3] {
    [L::load(s, c), L::load(s, f + c), L::load(s, 2 * f + c)]
}
