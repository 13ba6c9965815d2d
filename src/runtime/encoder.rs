//! The PaiNN encoder's forward pass and its hand-written reverse pass (adjoints of every
//! layer, Symmetrix-style), over plain arrays.
//!
//! Layout: scalars `s` `[N, F]`, vectors `v` `[N, 3, F]` (atom, Cartesian component,
//! feature), per-edge filters `[3F]` in the order (vector gate, scalar message, radial gate),
//! as in [`crate::model::painn`]. Edges are processed in chunks of [`CHUNK`] so that per-edge
//! intermediates never grow with the number of edges; their radial filters are recomputed
//! in the reverse pass instead of stored.
// Kernels index several parallel arrays with one loop variable; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use crate::runtime::params::{Linear, Params};
use crate::runtime::radial::Radial;
use crate::runtime::real::{linear, linear_backward, silu, silu_grad, Real};

/// Edges per chunk of the filter products.
pub const CHUNK: usize = 256;

/// `safe_norm`'s epsilon: `r = sqrt(|R|^2 + 1e-12)`, as in the training code.
const NORM_EPS: f64 = 1e-12;

/// The edges and atoms the encoder runs on.
#[derive(Debug, Clone, Copy)]
pub struct Graph<'a, T> {
    /// Species index of each atom, `[N]`.
    pub species: &'a [usize],
    /// Receiving atom of each edge, `[E]`.
    pub first: &'a [usize],
    /// Sending atom of each edge, `[E]`.
    pub second: &'a [usize],
    /// Edge vectors `x[second] - x[first] + shift`, Å, `[E]`.
    pub vectors: &'a [[f64; 3]],
    /// Extra edge features `[E, A]` (the generator's graph edges), added to the filter
    /// without envelope; `None` for the potential.
    pub edge_attr: Option<&'a [T]>,
    /// For each layer, the edges whose messages can still reach an atom whose output
    /// matters (see [`crate::model::evaluate`]); `None`: every edge in every layer.
    pub layer_edges: Option<&'a [Vec<usize>]>,
}

/// What the forward pass keeps of one layer for the reverse pass.
#[derive(Debug, Default, Clone)]
struct Tape<T> {
    s_in: Vec<T>,
    v_in: Vec<T>,
    h1: Vec<T>,
    phi: Vec<T>,
    /// `[s_mid, |V v_mid|]`, `[N, 2F]`.
    cat: Vec<T>,
    v_mid: Vec<T>,
    uv: Vec<T>,
    vv: Vec<T>,
    y: Vec<T>,
    a: Vec<T>,
    /// Edges this layer runs.
    active: Vec<usize>,
}

/// Scratch buffers, sized on first use and reused by later calls (no per-call allocation
/// once they have grown to the largest system seen).
#[derive(Debug, Default)]
pub struct Workspace<T> {
    /// Edge lengths (with the epsilon), Å, `[E]`.
    dist: Vec<f64>,
    /// Unit edge vectors `[E, 3]`.
    unit: Vec<T>,
    rbf: Vec<T>,
    drbf: Vec<f64>,
    env: Vec<T>,
    denv: Vec<f64>,
    tapes: Vec<Tape<T>>,
    /// Final scalar features `[N, F]`.
    pub s: Vec<T>,
    /// Final vector features `[N, 3, F]`.
    pub v: Vec<T>,
    /// Readout pre-activation `[N, H]`.
    h_r: Vec<T>,
    // Chunk buffers.
    rbf_c: Vec<T>,
    attr_c: Vec<T>,
    pre_c: Vec<T>,
    extra_c: Vec<T>,
    gpre_c: Vec<T>,
    grbf_c: Vec<T>,
    // Reverse-pass buffers.
    gs: Vec<T>,
    gv: Vec<T>,
    gs_mid: Vec<T>,
    gv_mid: Vec<T>,
    g_phi: Vec<T>,
    g_a: Vec<T>,
    g_uv: Vec<T>,
    g_vv: Vec<T>,
    g_z: Vec<T>,
    g_cat: Vec<T>,
    tmp: Vec<T>,
    /// dE/dr per edge, `[E]`.
    g_dist: Vec<f64>,
    /// dE/d(unit vector) per edge, `[E, 3]`.
    g_unit: Vec<f64>,
}

/// Resizes `v` to `n` zeros, reusing its capacity.
fn zeroed<T: Real>(v: &mut Vec<T>, n: usize) {
    v.clear();
    v.resize(n, T::zero());
}

fn lin<T: Real>(x: &[T], rs: usize, n: usize, l: &Linear<T>, out: &mut Vec<T>) {
    zeroed(out, n * l.out);
    linear(x, rs, n, &l.w, l.b.as_deref(), l.out, l.inp, out);
}

/// Energy readout and the model's constants needed around the encoder.
impl<T: Real> Params<T> {
    fn features(&self) -> usize {
        self.embedding.len() / self.e_ref.len().max(1)
    }
}

/// Runs the encoder: fills `ws.s`, `ws.v` and the tape. `atom_bias` `[N, F]` is added to
/// the initial scalars (the generator's noise embedding).
pub fn forward<T: Real>(
    p: &Params<T>,
    radial: &Radial,
    g: &Graph<T>,
    atom_bias: Option<&[T]>,
    ws: &mut Workspace<T>,
) {
    let f = p.features();
    let n = g.species.len();
    geometry(radial, g, ws);
    zeroed(&mut ws.s, n * f);
    for (i, &sp) in g.species.iter().enumerate() {
        ws.s[i * f..(i + 1) * f].copy_from_slice(&p.embedding[sp * f..(sp + 1) * f]);
    }
    if let Some(b) = atom_bias {
        for (x, &y) in ws.s.iter_mut().zip(b) {
            *x += y;
        }
    }
    zeroed(&mut ws.v, n * 3 * f);
    ws.tapes.resize_with(p.messages.len(), Tape::default);
    for l in 0..p.messages.len() {
        active_edges(radial, g, l, &ws.dist, &mut ws.tapes[l].active);
        message_forward(p, l, g, ws);
        update_forward(p, l, ws);
    }
}

/// Per-edge distances, unit vectors, basis values and envelope with derivatives.
fn geometry<T: Real>(radial: &Radial, g: &Graph<T>, ws: &mut Workspace<T>) {
    let e_n = g.vectors.len();
    let k = radial.n_basis;
    ws.dist.clear();
    zeroed(&mut ws.unit, 3 * e_n);
    zeroed(&mut ws.rbf, k * e_n);
    ws.drbf.clear();
    ws.drbf.resize(k * e_n, 0.0);
    zeroed(&mut ws.env, e_n);
    ws.denv.clear();
    ws.denv.resize(e_n, 0.0);
    let (mut vals, mut ders) = (vec![0.0; k], vec![0.0; k]);
    for (e, r) in g.vectors.iter().enumerate() {
        let d = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + NORM_EPS).sqrt();
        ws.dist.push(d);
        for a in 0..3 {
            ws.unit[3 * e + a] = T::of(r[a] / d);
        }
        radial.basis(d, &mut vals, &mut ders);
        for q in 0..k {
            ws.rbf[e * k + q] = T::of(vals[q]);
        }
        ws.drbf[e * k..(e + 1) * k].copy_from_slice(&ders);
        let (u, du) = radial.envelope(d);
        ws.env[e] = T::of(u);
        ws.denv[e] = du;
    }
}

/// The edges layer `l` runs: its pruning set, minus (for the potential, which has no edge
/// features) edges at or beyond the cutoff, whose filter is exactly zero.
fn active_edges<T: Real>(
    radial: &Radial,
    g: &Graph<T>,
    l: usize,
    dist: &[f64],
    out: &mut Vec<usize>,
) {
    out.clear();
    let keep = |e: usize| g.edge_attr.is_some() || dist[e] < radial.cutoff;
    match g.layer_edges {
        Some(sets) => out.extend(sets[l].iter().copied().filter(|&e| keep(e))),
        None => out.extend((0..g.vectors.len()).filter(|&e| keep(e))),
    }
}

/// The filters `[c, 3F]` of a chunk of edges: `pre` = basis filter before the envelope, and
/// for the generator `extra` = the edge-feature filter (no envelope).
fn chunk_filters<T: Real>(
    p: &Params<T>,
    l: usize,
    g: &Graph<T>,
    chunk: &[usize],
    ws: &mut Workspace<T>,
) {
    let m = &p.messages[l];
    let k = m.filter.inp;
    let c = chunk.len();
    zeroed(&mut ws.rbf_c, c * k);
    for (q, &e) in chunk.iter().enumerate() {
        ws.rbf_c[q * k..(q + 1) * k].copy_from_slice(&ws.rbf[e * k..(e + 1) * k]);
    }
    lin(&ws.rbf_c, k, c, &m.filter, &mut ws.pre_c);
    if let (Some(attr), Some(ef)) = (g.edge_attr, &m.edge_filter) {
        let a = ef.inp;
        zeroed(&mut ws.attr_c, c * a);
        for (q, &e) in chunk.iter().enumerate() {
            ws.attr_c[q * a..(q + 1) * a].copy_from_slice(&attr[e * a..(e + 1) * a]);
        }
        lin(&ws.attr_c, a, c, ef, &mut ws.extra_c);
    }
}

fn message_forward<T: Real>(p: &Params<T>, l: usize, g: &Graph<T>, ws: &mut Workspace<T>) {
    let m = &p.messages[l];
    let f = m.phi1.out;
    let n = g.species.len();
    let mut tape = std::mem::take(&mut ws.tapes[l]);
    tape.s_in.clone_from(&ws.s);
    tape.v_in.clone_from(&ws.v);
    lin(&tape.s_in, f, n, &m.phi1, &mut tape.h1);
    zeroed(&mut ws.tmp, n * f);
    for (z, &h) in ws.tmp.iter_mut().zip(&tape.h1) {
        *z = silu(h);
    }
    lin(&ws.tmp, f, n, &m.phi2, &mut tape.phi);
    let inv = T::of(1.0 / p.avg_neighbors);
    let has_extra = g.edge_attr.is_some() && m.edge_filter.is_some();
    for chunk in tape.active.chunks(CHUNK) {
        chunk_filters(p, l, g, chunk, ws);
        for (q, &e) in chunk.iter().enumerate() {
            let (i, j) = (g.first[e], g.second[e]);
            let env = ws.env[e];
            let pre = &ws.pre_c[q * 3 * f..(q + 1) * 3 * f];
            let phi_j = &tape.phi[j * 3 * f..(j + 1) * 3 * f];
            let u = [ws.unit[3 * e], ws.unit[3 * e + 1], ws.unit[3 * e + 2]];
            for c in 0..f {
                let w = |o: usize| {
                    let base = pre[o + c] * env;
                    if has_extra {
                        base + ws.extra_c[q * 3 * f + o + c]
                    } else {
                        base
                    }
                };
                let gate_v = phi_j[c] * w(0) * inv;
                let ds = phi_j[f + c] * w(f) * inv;
                let gate_r = phi_j[2 * f + c] * w(2 * f) * inv;
                ws.s[i * f + c] += ds;
                for a in 0..3 {
                    ws.v[(i * 3 + a) * f + c] +=
                        tape.v_in[(j * 3 + a) * f + c] * gate_v + u[a] * gate_r;
                }
            }
        }
    }
    ws.tapes[l] = tape;
}

fn update_forward<T: Real>(p: &Params<T>, l: usize, ws: &mut Workspace<T>) {
    let up = &p.updates[l];
    let f = up.u.out;
    let n = ws.s.len() / f;
    let tape = &mut ws.tapes[l];
    tape.v_mid.clone_from(&ws.v);
    lin(&tape.v_mid, f, 3 * n, &up.u, &mut tape.uv);
    lin(&tape.v_mid, f, 3 * n, &up.v, &mut tape.vv);
    zeroed(&mut tape.cat, n * 2 * f);
    for i in 0..n {
        for c in 0..f {
            tape.cat[i * 2 * f + c] = ws.s[i * f + c];
            let mut sq = T::of(1e-8);
            for a in 0..3 {
                let x = tape.vv[(i * 3 + a) * f + c];
                sq += x * x;
            }
            tape.cat[i * 2 * f + f + c] = sq.sqrt();
        }
    }
    lin(&tape.cat, 2 * f, n, &up.a1, &mut tape.y);
    zeroed(&mut ws.tmp, n * f);
    for (z, &y) in ws.tmp.iter_mut().zip(&tape.y) {
        *z = silu(y);
    }
    lin(&ws.tmp, f, n, &up.a2, &mut tape.a);
    for i in 0..n {
        let a = &tape.a[i * 3 * f..(i + 1) * 3 * f];
        for c in 0..f {
            let mut dot = T::zero();
            for k in 0..3 {
                let idx = (i * 3 + k) * f + c;
                dot += tape.uv[idx] * tape.vv[idx];
                ws.v[idx] += a[c] * tape.uv[idx];
            }
            ws.s[i * f + c] += a[f + c] * dot + a[2 * f + c];
        }
    }
}

/// Atomic energies (eV, `[N]`) from the final scalars in `ws.s`.
pub fn readout<T: Real>(
    p: &Params<T>,
    species: &[usize],
    ws: &mut Workspace<T>,
    out: &mut Vec<f64>,
) {
    let f = p.features();
    let n = species.len();
    lin(&ws.s, f, n, &p.readout1, &mut ws.h_r);
    let hid = p.readout1.out;
    let w2 = &p.readout2.w;
    let b2 = p.readout2.b.as_ref().map_or(T::zero(), |b| b[0]);
    let scale = T::of(p.scale);
    out.clear();
    for (i, &sp) in species.iter().enumerate() {
        let mut e = b2;
        for h in 0..hid {
            e += w2[h] * silu(ws.h_r[i * hid + h]);
        }
        // As in the training code: scale and reference in the model's precision.
        out.push(
            (e * scale + T::of(p.e_ref[sp]))
                .to_f64()
                .unwrap_or(f64::NAN),
        );
    }
}

/// The reverse pass of [`forward`] + [`readout`] for `E = sum of the first n_local atomic
/// energies`: returns `dE/dR_e` for every edge vector (eV/Å, `[E]`, zero for edges no layer
/// ran) in `grad`.
pub fn backward<T: Real>(
    p: &Params<T>,
    g: &Graph<T>,
    n_local: usize,
    ws: &mut Workspace<T>,
    grad: &mut Vec<[f64; 3]>,
) {
    let f = p.features();
    let n = g.species.len();
    let e_n = g.vectors.len();
    let hid = p.readout1.out;
    // Readout: g_h = scale * w2 * silu'(h) on local atoms; gs = g_h R1.
    zeroed(&mut ws.tmp, n * hid);
    let scale = T::of(p.scale);
    for i in 0..n_local {
        for h in 0..hid {
            ws.tmp[i * hid + h] = scale * p.readout2.w[h] * silu_grad(ws.h_r[i * hid + h]);
        }
    }
    zeroed(&mut ws.gs, n * f);
    linear_backward(&ws.tmp, n, &p.readout1.w, hid, f, T::zero(), &mut ws.gs, f);
    zeroed(&mut ws.gv, n * 3 * f);
    ws.g_dist.clear();
    ws.g_dist.resize(e_n, 0.0);
    ws.g_unit.clear();
    ws.g_unit.resize(3 * e_n, 0.0);
    for l in (0..p.messages.len()).rev() {
        update_backward(p, l, ws);
        message_backward(p, l, g, ws);
    }
    grad.clear();
    for (e, r) in g.vectors.iter().enumerate() {
        let d = ws.dist[e];
        let gu = [ws.g_unit[3 * e], ws.g_unit[3 * e + 1], ws.g_unit[3 * e + 2]];
        let u = [r[0] / d, r[1] / d, r[2] / d];
        let gu_u = gu[0] * u[0] + gu[1] * u[1] + gu[2] * u[2];
        grad.push(std::array::from_fn(|a| {
            ws.g_dist[e] * u[a] + (gu[a] - u[a] * gu_u) / d
        }));
    }
}

/// Update block adjoint: from `ws.gs`, `ws.gv` (w.r.t. the layer's outputs) to `ws.gs_mid`,
/// `ws.gv_mid` (w.r.t. the message outputs).
fn update_backward<T: Real>(p: &Params<T>, l: usize, ws: &mut Workspace<T>) {
    let up = &p.updates[l];
    let f = up.u.out;
    let n = ws.gs.len() / f;
    let tape = &ws.tapes[l];
    zeroed(&mut ws.g_a, n * 3 * f);
    zeroed(&mut ws.g_uv, n * 3 * f);
    zeroed(&mut ws.g_vv, n * 3 * f);
    for i in 0..n {
        let a = &tape.a[i * 3 * f..(i + 1) * 3 * f];
        for c in 0..f {
            let gs = ws.gs[i * f + c];
            let (mut g_a0, mut dot) = (T::zero(), T::zero());
            for k in 0..3 {
                let idx = (i * 3 + k) * f + c;
                let (uv, vv, gv) = (tape.uv[idx], tape.vv[idx], ws.gv[idx]);
                g_a0 += gv * uv;
                dot += uv * vv;
                ws.g_uv[idx] = gv * a[c] + gs * a[f + c] * vv;
                ws.g_vv[idx] = gs * a[f + c] * uv;
            }
            ws.g_a[i * 3 * f + c] = g_a0;
            ws.g_a[i * 3 * f + f + c] = gs * dot;
            ws.g_a[i * 3 * f + 2 * f + c] = gs;
        }
    }
    zeroed(&mut ws.g_z, n * f);
    linear_backward(&ws.g_a, n, &up.a2.w, 3 * f, f, T::zero(), &mut ws.g_z, f);
    for (gz, &y) in ws.g_z.iter_mut().zip(&tape.y) {
        *gz *= silu_grad(y);
    }
    zeroed(&mut ws.g_cat, n * 2 * f);
    linear_backward(
        &ws.g_z,
        n,
        &up.a1.w,
        f,
        2 * f,
        T::zero(),
        &mut ws.g_cat,
        2 * f,
    );
    for i in 0..n {
        for c in 0..f {
            let g_norm = ws.g_cat[i * 2 * f + f + c] / tape.cat[i * 2 * f + f + c];
            for k in 0..3 {
                let idx = (i * 3 + k) * f + c;
                ws.g_vv[idx] += g_norm * tape.vv[idx];
            }
        }
    }
    ws.gv_mid.clone_from(&ws.gv);
    linear_backward(&ws.g_uv, 3 * n, &up.u.w, f, f, T::one(), &mut ws.gv_mid, f);
    linear_backward(&ws.g_vv, 3 * n, &up.v.w, f, f, T::one(), &mut ws.gv_mid, f);
    zeroed(&mut ws.gs_mid, n * f);
    for i in 0..n {
        for c in 0..f {
            ws.gs_mid[i * f + c] = ws.gs[i * f + c] + ws.g_cat[i * 2 * f + c];
        }
    }
}

/// Message block adjoint: from `ws.gs_mid`, `ws.gv_mid` to `ws.gs`, `ws.gv` (w.r.t. the
/// layer's inputs), accumulating the edge-geometry adjoints.
fn message_backward<T: Real>(p: &Params<T>, l: usize, g: &Graph<T>, ws: &mut Workspace<T>) {
    let m = &p.messages[l];
    let f = m.phi1.out;
    let n = g.species.len();
    let k = m.filter.inp;
    let tape = std::mem::take(&mut ws.tapes[l]);
    let inv = T::of(1.0 / p.avg_neighbors);
    zeroed(&mut ws.g_phi, n * 3 * f);
    ws.gv.clone_from(&ws.gv_mid);
    for chunk in tape.active.chunks(CHUNK) {
        chunk_filters(p, l, g, chunk, ws);
        zeroed(&mut ws.gpre_c, chunk.len() * 3 * f);
        for (q, &e) in chunk.iter().enumerate() {
            let (i, j) = (g.first[e], g.second[e]);
            let env = ws.env[e];
            let pre = &ws.pre_c[q * 3 * f..(q + 1) * 3 * f];
            let gpre = &mut ws.gpre_c[q * 3 * f..(q + 1) * 3 * f];
            let u = [ws.unit[3 * e], ws.unit[3 * e + 1], ws.unit[3 * e + 2]];
            let (mut g_env, mut g_u) = (T::zero(), [T::zero(); 3]);
            for c in 0..f {
                let (pv, ps, pr) = (pre[c], pre[f + c], pre[2 * f + c]);
                let (wv, wsc, wr) = (pv * env, ps * env, pr * env);
                let phi = &tape.phi[j * 3 * f..(j + 1) * 3 * f];
                let (phv, phs, phr) = (phi[c], phi[f + c], phi[2 * f + c]);
                let gds = ws.gs_mid[i * f + c] * inv;
                let (mut gxv, mut gxr) = (T::zero(), T::zero());
                for a in 0..3 {
                    let gdv = ws.gv_mid[(i * 3 + a) * f + c] * inv;
                    gxv += gdv * tape.v_in[(j * 3 + a) * f + c];
                    gxr += gdv * u[a];
                    ws.gv[(j * 3 + a) * f + c] += gdv * phv * wv;
                    g_u[a] += gdv * phr * wr;
                }
                let gp = &mut ws.g_phi[j * 3 * f..(j + 1) * 3 * f];
                gp[c] += gxv * wv;
                gp[f + c] += gds * wsc;
                gp[2 * f + c] += gxr * wr;
                let (gwv, gws, gwr) = (gxv * phv, gds * phs, gxr * phr);
                gpre[c] = gwv * env;
                gpre[f + c] = gws * env;
                gpre[2 * f + c] = gwr * env;
                g_env += gwv * pv + gws * ps + gwr * pr;
            }
            ws.g_dist[e] += to64(g_env) * ws.denv[e];
            for a in 0..3 {
                ws.g_unit[3 * e + a] += to64(g_u[a]);
            }
        }
        zeroed(&mut ws.grbf_c, chunk.len() * k);
        linear_backward(
            &ws.gpre_c,
            chunk.len(),
            &m.filter.w,
            3 * f,
            k,
            T::zero(),
            &mut ws.grbf_c,
            k,
        );
        for (q, &e) in chunk.iter().enumerate() {
            let mut gd = 0.0;
            for b in 0..k {
                gd += to64(ws.grbf_c[q * k + b]) * ws.drbf[e * k + b];
            }
            ws.g_dist[e] += gd;
        }
    }
    // phi = phi2(silu(phi1(s_in))): gs_in = gs_mid + (g_phi W2 * silu'(h1)) W1.
    zeroed(&mut ws.g_z, n * f);
    linear_backward(&ws.g_phi, n, &m.phi2.w, 3 * f, f, T::zero(), &mut ws.g_z, f);
    for (gz, &h) in ws.g_z.iter_mut().zip(&tape.h1) {
        *gz *= silu_grad(h);
    }
    ws.gs.clone_from(&ws.gs_mid);
    linear_backward(&ws.g_z, n, &m.phi1.w, f, f, T::one(), &mut ws.gs, f);
    ws.tapes[l] = tape;
}

#[inline]
fn to64<T: Real>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}
