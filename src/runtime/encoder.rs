//! The PaiNN encoder's forward pass and its hand-written reverse pass (adjoints of every
//! layer, Symmetrix-style), over plain arrays.
//!
//! Layout: scalars `s` `[N, F]`, vectors `v` `[N, 3, F]` (atom, Cartesian component,
//! feature), per-edge filters `[3F]` in the order (vector gate, scalar message, radial gate),
//! as in [`crate::model::painn`]. The two directions of a pair (`i <- j` and its twin `j <- i`,
//! same distance bit for bit) share one evaluation of the radial filter and its derivative.
//! Pairs are processed in chunks of [`CHUNK`] so that per-edge intermediates never grow with
//! the number of edges; their filters are recomputed in the reverse pass instead of stored.
// Kernels index several parallel arrays with one loop variable; iterators would hide that.
#![allow(clippy::needless_range_loop)]

use crate::error::{Error, Result};
use crate::runtime::edges;
use crate::runtime::filters::{FilterTable, GeneratorTable};
use crate::runtime::halo::{self, Halo};
use crate::runtime::params::{Linear, Params};
use crate::runtime::radial::Radial;
use crate::runtime::real::{linear, linear_backward, silu, silu_grad, Real};
use crate::runtime::simd::Lanes;

#[cfg(feature = "torch")]
pub mod gradient;

/// Pairs per chunk of the filter products.
pub const CHUNK: usize = 256;

/// An absent index: no twin edge, no edge kind.
pub const NONE: usize = usize::MAX;

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
    /// The generator's edge features, added to the filter without envelope; `None` for
    /// the potential. Forward pass only.
    pub edge_features: Option<EdgeFeatures<'a, T>>,
    /// For each layer, the edges whose messages can still reach an atom whose output
    /// matters (see [`crate::model::evaluate`]); `None`: every edge in every layer.
    pub layer_edges: Option<&'a [Vec<usize>]>,
    /// Tabulated radial filters ([`FilterTable`]); `None` computes them exactly.
    pub table: Option<&'a FilterTable<T>>,
}

/// The generator's edge features.
#[derive(Debug, Clone, Copy)]
pub enum EdgeFeatures<'a, T> {
    /// Dense features `[E, A]`, filters computed exactly (float64).
    Dense(&'a [T]),
    /// Each edge's kind (`NONE`: a radius-only edge, without features), filters from the
    /// generator's table (graph edges) and [`Graph::table`] (radius-only edges).
    Kinds(&'a [usize], &'a GeneratorTable<T>),
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
    /// `[U v_mid | V v_mid]`, `[3N, 2F]` (of the normalised `v_mid` with `vector_norm`).
    uv_vv: Vec<T>,
    /// With `vector_norm`, `1 / sqrt(1 + sum v_mid^2 / F)` per atom, `[N]`.
    rinv: Vec<T>,
    y: Vec<T>,
    a: Vec<T>,
    /// The edges this layer runs, as pairs `[e, twin]` sharing one filter (`twin` is
    /// [`NONE`] when the reverse edge does not exist or is not run in this layer).
    units: Vec<[usize; 2]>,
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
    drbf: Vec<T>,
    env: Vec<T>,
    denv: Vec<T>,
    /// Reverse edge of each edge (same atoms swapped, negated vector), or [`NONE`], `[E]`.
    twin: Vec<usize>,
    /// The edge in each slot, `[E]`: every per-edge array here is indexed by slot, and the
    /// two directions of a pair occupy neighbouring slots (both read and written together).
    order: Vec<usize>,
    /// The other direction's slot of each slot, or [`NONE`], `[E]`.
    partner: Vec<usize>,
    /// Receiving and sending atom of each slot, `[E]`.
    atoms: Vec<[usize; 2]>,
    /// Edges grouped by receiving atom (`by_first[start[i]..start[i + 1]]`).
    by_first: Vec<usize>,
    start: Vec<usize>,
    /// Whether each edge (by edge index) runs in the current layer, `[E]`.
    runs: Vec<bool>,
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
    w_c: Vec<T>,
    dw_c: Vec<T>,
    /// Basis values and derivatives of one edge, `[2K]`, float64.
    basis: Vec<f64>,
    // Reverse-pass buffers.
    gs: Vec<T>,
    gv: Vec<T>,
    gs_mid: Vec<T>,
    gv_mid: Vec<T>,
    g_phi: Vec<T>,
    g_a: Vec<T>,
    g_uv_vv: Vec<T>,
    g_z: Vec<T>,
    g_cat: Vec<T>,
    tmp: Vec<T>,
    /// dE/dr per edge, `[E]`.
    g_dist: Vec<f64>,
    /// dE/d(unit vector) per edge, `[E, 3]`.
    g_unit: Vec<f64>,
    /// Rows exchanged with an engine's halo, `[N, 4F]`.
    halo_rows: Vec<f64>,
    /// Atoms whose update blocks run (the first ones): all, or with a halo the local atoms
    /// (ghost rows are overwritten by the exchange and their adjoints are zero).
    active: usize,
    /// Whether the first layer computes `phi` from the embeddings and keeps it on the tape
    /// (set by [`gradient`], whose parameter adjoints reach the first layer's weights)
    /// instead of gathering [`Params::species_phi`].
    full_tape: bool,
}

/// Resizes `v` to `n` zeros, reusing its capacity.
#[inline(always)]
fn zeroed<T: Copy + Default>(v: &mut Vec<T>, n: usize) {
    v.clear();
    v.resize(n, T::default());
}

/// Resizes `v` to length `n` for a buffer that will be overwritten entirely (no fill when
/// the length is unchanged).
#[inline(always)]
fn sized<T: Real>(v: &mut Vec<T>, n: usize) {
    if v.len() != n {
        v.resize(n, T::zero());
    }
}

#[inline(always)]
fn lin<T: Real>(x: &[T], rs: usize, n: usize, l: &Linear<T>, out: &mut Vec<T>) {
    sized(out, n * l.out);
    linear(x, rs, n, &l.wt, l.b.as_deref(), l.out, l.inp, out);
}

/// Energy readout and the model's constants needed around the encoder.
impl<T: Real> Params<T> {
    fn features(&self) -> usize {
        self.embedding.len() / self.e_ref.len().max(1)
    }
}

/// Runs the encoder: fills `ws.s`, `ws.v` and the tape. `atom_bias` `[N, F]` is added to
/// the initial scalars (the generator's noise embedding). With a `halo`, the ghost atoms
/// (from `n_local` on) take their owners' features after every layer but the last.
#[inline(always)]
fn forward_impl<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    radial: &Radial,
    g: &Graph<T>,
    atom_bias: Option<&[T]>,
    mut halo: Option<(&mut dyn Halo, usize)>,
    ws: &mut Workspace<T>,
) -> Result<()> {
    let f = p.features();
    let n = g.species.len();
    twins(g, ws);
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
    ws.active = halo.as_ref().map_or(n, |&(_, n_local)| n_local.min(n));
    ws.tapes.resize_with(p.messages.len(), Tape::default);
    for l in 0..p.messages.len() {
        layer_units(radial, g, l, ws);
        let species_phi = l == 0 && atom_bias.is_none() && !ws.full_tape;
        message_forward::<T, L>(p, radial, l, g, species_phi, ws);
        update_forward(p, l, ws);
        if let Some((h, n_local)) = halo.as_mut().filter(|_| l + 1 < p.messages.len()) {
            halo::share(*h, f, *n_local, (&mut ws.s, &mut ws.v), &mut ws.halo_rows)?;
        }
    }
    Ok(())
}

/// Per-slot distances, unit vectors, basis values and envelope with derivatives.
#[inline(always)]
fn geometry<T: Real>(radial: &Radial, g: &Graph<T>, ws: &mut Workspace<T>) {
    let e_n = g.vectors.len();
    // With tables the forward pass needs no basis, nor does the generator's (its filters
    // compute their own, [`generator_filters`]); parameter adjoints always do.
    let exact = (g.table.is_none() && g.edge_features.is_none()) || ws.full_tape;
    let k = if exact { radial.n_basis } else { 0 };
    ws.dist.clear();
    zeroed(&mut ws.unit, 3 * e_n);
    zeroed(&mut ws.rbf, k * e_n);
    zeroed(&mut ws.drbf, k * e_n);
    zeroed(&mut ws.env, e_n);
    zeroed(&mut ws.denv, e_n);
    let (mut vals, mut ders) = (vec![0.0; k], vec![0.0; k]);
    for (e, &edge) in ws.order.iter().enumerate() {
        let r = g.vectors[edge];
        let d = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + NORM_EPS).sqrt();
        ws.dist.push(d);
        for a in 0..3 {
            ws.unit[3 * e + a] = T::of(r[a] / d);
        }
        if !exact {
            continue;
        }
        radial.basis(d, &mut vals, &mut ders);
        for q in 0..k {
            ws.rbf[e * k + q] = T::of(vals[q]);
            ws.drbf[e * k + q] = T::of(ders[q]);
        }
        let (u, du) = radial.envelope(d);
        ws.env[e] = T::of(u);
        ws.denv[e] = T::of(du);
    }
}

/// The reverse edge of every edge (`ws.twin`): `j <- i` with the negated vector (so the same
/// distance, bit for bit) and, for the generator, the same edge features; [`NONE`] if absent.
/// Then the slots (`ws.order`, `ws.partner`, `ws.atoms`), pairs side by side.
#[inline(always)]
fn twins<T: Real>(g: &Graph<T>, ws: &mut Workspace<T>) {
    let (n, e_n) = (g.species.len(), g.vectors.len());
    // Edges grouped by receiving atom (a counting sort).
    zeroed(&mut ws.start, n + 1);
    for &i in g.first {
        ws.start[i + 1] += 1;
    }
    for i in 0..n {
        ws.start[i + 1] += ws.start[i];
    }
    ws.by_first.clear();
    ws.by_first.resize(e_n, 0);
    // Place each edge at its atom's cursor (start[i], advanced), then shift the advanced
    // cursors (now each atom's end) back into starts.
    for (e, &i) in g.first.iter().enumerate() {
        ws.by_first[ws.start[i]] = e;
        ws.start[i] += 1;
    }
    ws.start.copy_within(0..n, 1);
    ws.start[0] = 0;
    ws.twin.clear();
    ws.twin.resize(e_n, NONE);
    let same_attr = |a: usize, b: usize| match g.edge_features {
        None => true,
        Some(EdgeFeatures::Dense(attr)) => {
            let w = attr.len() / e_n.max(1);
            attr[a * w..(a + 1) * w] == attr[b * w..(b + 1) * w]
        }
        Some(EdgeFeatures::Kinds(kinds, _)) => kinds[a] == kinds[b],
    };
    for e in 0..e_n {
        if ws.twin[e] != NONE {
            continue;
        }
        let (i, j, r) = (g.first[e], g.second[e], g.vectors[e]);
        let found = ws.by_first[ws.start[j]..ws.start[j + 1]]
            .iter()
            .copied()
            .find(|&t| {
                t != e
                    && ws.twin[t] == NONE
                    && g.second[t] == i
                    && (0..3).all(|a| g.vectors[t][a] == -r[a])
                    && same_attr(e, t)
            });
        if let Some(t) = found {
            ws.twin[e] = t;
            ws.twin[t] = e;
        }
    }
    ws.order.clear();
    ws.partner.clear();
    for e in 0..e_n {
        let t = ws.twin[e];
        if t == NONE {
            ws.order.push(e);
            ws.partner.push(NONE);
        } else if e < t {
            let s = ws.order.len();
            ws.order.extend([e, t]);
            ws.partner.extend([s + 1, s]);
        }
    }
    ws.atoms.clear();
    ws.atoms
        .extend(ws.order.iter().map(|&e| [g.first[e], g.second[e]]));
}

/// The slots layer `l` runs (its pruning set, minus, for the potential, which has no edge
/// features, edges at or beyond the cutoff, whose filter is exactly zero), grouped into
/// units of an edge and its twin when both run: `ws.tapes[l].units`.
#[inline(always)]
fn layer_units<T: Real>(radial: &Radial, g: &Graph<T>, l: usize, ws: &mut Workspace<T>) {
    let e_n = g.vectors.len();
    ws.runs.clear();
    match g.layer_edges {
        Some(sets) => {
            ws.runs.resize(e_n, false);
            sets[l].iter().for_each(|&e| ws.runs[e] = true);
        }
        None => ws.runs.resize(e_n, true),
    }
    let run = |s: usize| {
        ws.runs[ws.order[s]] && (g.edge_features.is_some() || ws.dist[s] < radial.cutoff)
    };
    let units = &mut ws.tapes[l].units;
    units.clear();
    for s in (0..e_n).filter(|&s| run(s)) {
        let t = ws.partner[s];
        if t == NONE || !run(t) {
            units.push([s, NONE]);
        } else if s < t {
            units.push([s, t]);
        }
    }
}

/// The filters `ws.w_c` `[c, 3F]` of a chunk of units (at each unit's first slot) and, with
/// `derivative`, their radial derivatives `ws.dw_c` `[c, 3F]` (1/Å), both divided by the
/// model's `avg_neighbors` (the message normalisation): from the table, or exactly as
/// `pre = filter(rbf)`, `w = pre * envelope` and
/// `dw = filter'(rbf) drbf * envelope + pre * envelope'` (the potential's filters; the
/// generator's: [`generator_filters`], [`tabulated_generator_filters`]).
#[inline(always)]
fn chunk_filters<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    l: usize,
    g: &Graph<T>,
    chunk: &[[usize; 2]],
    derivative: bool,
    ws: &mut Workspace<T>,
) {
    let m = &p.messages[l];
    let (k, f3) = (m.filter.inp, m.filter.out);
    let c = chunk.len();
    let reps = || chunk.iter().map(|u| u[0]).enumerate();
    let inv = T::of(1.0 / p.avg_neighbors);
    sized(&mut ws.w_c, c * f3);
    if derivative {
        sized(&mut ws.dw_c, c * f3);
    }
    if let Some(table) = g.table {
        for (q, e) in reps() {
            let w = &mut ws.w_c[q * f3..(q + 1) * f3];
            let dw = derivative.then(|| &mut ws.dw_c[q * f3..(q + 1) * f3]);
            // SAFETY: L's instructions are supported (see `forward` and `backward`).
            unsafe { table.eval_lanes::<L>(l, ws.dist[e], None, w, dw) };
        }
    } else {
        sized(&mut ws.rbf_c, c * k);
        for (q, e) in reps() {
            ws.rbf_c[q * k..(q + 1) * k].copy_from_slice(&ws.rbf[e * k..(e + 1) * k]);
        }
        lin(&ws.rbf_c, k, c, &m.filter, &mut ws.pre_c);
        if derivative {
            for (q, e) in reps() {
                ws.rbf_c[q * k..(q + 1) * k].copy_from_slice(&ws.drbf[e * k..(e + 1) * k]);
            }
            // filter'(rbf) drbf: the same product without the bias.
            linear(&ws.rbf_c, k, c, &m.filter.wt, None, f3, k, &mut ws.dw_c);
        }
        for (q, e) in reps() {
            let (env, denv) = (ws.env[e] * inv, ws.denv[e] * inv);
            let rows = q * f3..(q + 1) * f3;
            for (w, &x) in ws.w_c[rows.clone()].iter_mut().zip(&ws.pre_c[rows.clone()]) {
                *w = x * env;
            }
            if derivative {
                for (dw, &x) in ws.dw_c[rows.clone()].iter_mut().zip(&ws.pre_c[rows]) {
                    *dw = *dw * env + x * denv;
                }
            }
        }
    }
}

/// The generator's filters `ws.w_c` `[c, 3F]` of a chunk of units (at each unit's first
/// slot), exactly and in one product: the rows `[rbf * envelope, envelope, edge_attr]`
/// (`[c, K + 1 + A]`, basis and envelope in float64) times [`Message::generator_filter`],
/// divided by `avg_neighbors`: the float64 generator's filters (float32 reads a
/// [`GeneratorTable`]). The generator only samples, so no filter derivatives.
#[inline(always)]
fn generator_filters<T: Real>(
    p: &Params<T>,
    radial: &Radial,
    l: usize,
    attr: &[T],
    chunk: &[[usize; 2]],
    ws: &mut Workspace<T>,
) {
    let m = &p.messages[l];
    let stacked = m.generator_filter.as_deref().expect("a generator's layer");
    let (k, f3) = (radial.n_basis, m.filter.out);
    let width = stacked.len() / f3;
    let a = width - k - 1;
    let c = chunk.len();
    sized(&mut ws.attr_c, c * width);
    ws.basis.resize(2 * k, 0.0);
    let (vals, ders) = ws.basis.split_at_mut(k);
    for (row, u) in ws.attr_c.chunks_exact_mut(width).zip(chunk) {
        let d = ws.dist[u[0]];
        radial.basis(d, vals, ders);
        let env = radial.envelope(d).0;
        for (x, &b) in row.iter_mut().zip(vals.iter()) {
            *x = T::of(b * env);
        }
        row[k] = T::of(env);
        let e = ws.order[u[0]];
        row[k + 1..].copy_from_slice(&attr[e * a..(e + 1) * a]);
    }
    sized(&mut ws.w_c, c * f3);
    let inv = T::of(1.0 / p.avg_neighbors);
    let (z, x) = (T::zero(), &ws.attr_c);
    T::gemm(
        c,
        width,
        f3,
        inv,
        x,
        (width, 1),
        stacked,
        (f3, 1),
        z,
        &mut ws.w_c,
        (f3, 1),
    );
}

/// The generator's filters `ws.w_c` `[c, 3F]` of a chunk of units from its tables: a graph
/// edge's the generator table's plus its kind's row, a radius-only edge's (kind `NONE`) the
/// potential's table ([`Graph::table`], which the generator then needs).
#[inline(always)]
fn tabulated_generator_filters<T: Real, L: Lanes<T>>(
    l: usize,
    g: &Graph<T>,
    kinds: &[usize],
    gen: &GeneratorTable<T>,
    chunk: &[[usize; 2]],
    ws: &mut Workspace<T>,
) {
    let f3 = gen.near.width();
    sized(&mut ws.w_c, chunk.len() * f3);
    for (w, u) in ws.w_c.chunks_exact_mut(f3).zip(chunk) {
        let (d, kind) = (ws.dist[u[0]], kinds[ws.order[u[0]]]);
        // SAFETY: L's instructions are supported (see `forward`).
        if kind == NONE {
            let table = g
                .table
                .expect("a radius-only edge's filter needs the potential table");
            unsafe { table.eval_lanes::<L>(l, d, None, w, None) };
            continue;
        }
        let table = if d < gen.far.start() {
            &gen.near
        } else {
            &gen.far
        };
        let row = &gen.kinds[l][kind * f3..(kind + 1) * f3];
        unsafe { table.eval_lanes::<L>(l, d, Some(row), w, None) };
    }
}

/// Message block `l` forward. With `species_phi` (the first layer without a noise embedding)
/// `phi` is gathered from [`Params::species_phi`] instead of computed, and the first layer's
/// tape keeps no `h1` (its reverse pass does not propagate into the constant inputs).
#[inline(always)]
fn message_forward<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    radial: &Radial,
    l: usize,
    g: &Graph<T>,
    species_phi: bool,
    ws: &mut Workspace<T>,
) {
    let m = &p.messages[l];
    let f = m.phi1.out;
    let n = g.species.len();
    let mut tape = std::mem::take(&mut ws.tapes[l]);
    tape.s_in.clone_from(&ws.s);
    tape.v_in.clone_from(&ws.v);
    if species_phi {
        sized(&mut tape.phi, n * 3 * f);
        for (i, &sp) in g.species.iter().enumerate() {
            tape.phi[i * 3 * f..(i + 1) * 3 * f]
                .copy_from_slice(&p.species_phi[sp * 3 * f..(sp + 1) * 3 * f]);
        }
    } else {
        lin(&tape.s_in, f, n, &m.phi1, &mut tape.h1);
        sized(&mut ws.tmp, n * f);
        for (z, &h) in ws.tmp.iter_mut().zip(&tape.h1) {
            *z = silu(h);
        }
        lin(&ws.tmp, f, n, &m.phi2, &mut tape.phi);
    }
    for chunk in tape.units.chunks(CHUNK) {
        match g.edge_features {
            Some(EdgeFeatures::Dense(attr)) => generator_filters(p, radial, l, attr, chunk, ws),
            Some(EdgeFeatures::Kinds(kinds, table)) => {
                tabulated_generator_filters::<T, L>(l, g, kinds, table, chunk, ws)
            }
            None => chunk_filters::<T, L>(p, l, g, chunk, false, ws),
        }
        for (q, unit) in chunk.iter().enumerate() {
            let w = &ws.w_c[q * 3 * f..(q + 1) * 3 * f];
            for &e in unit.iter().filter(|&&e| e != NONE) {
                let [i, j] = ws.atoms[e];
                let phi_j = &tape.phi[j * 3 * f..(j + 1) * 3 * f];
                let v_j = &tape.v_in[j * 3 * f..(j + 1) * 3 * f];
                let u = [ws.unit[3 * e], ws.unit[3 * e + 1], ws.unit[3 * e + 2]];
                let s_i = &mut ws.s[i * f..(i + 1) * f];
                let v_i = &mut ws.v[i * 3 * f..(i + 1) * 3 * f];
                // SAFETY: L's instructions are supported (see `forward`).
                unsafe {
                    if l == 0 {
                        edges::message::<T, L, true>(f, w, phi_j, v_j, u, s_i, v_i);
                    } else {
                        edges::message::<T, L, false>(f, w, phi_j, v_j, u, s_i, v_i);
                    }
                }
            }
        }
    }
    ws.tapes[l] = tape;
}

#[inline(always)]
fn update_forward<T: Real>(p: &Params<T>, l: usize, ws: &mut Workspace<T>) {
    let up = &p.updates[l];
    let f = up.uv.inp;
    let n = ws.active;
    let tape = &mut ws.tapes[l];
    tape.v_mid.clear();
    tape.v_mid.extend_from_slice(&ws.v[..n * 3 * f]);
    lin(&tape.v_mid, f, 3 * n, &up.uv, &mut tape.uv_vv);
    if p.vector_norm {
        // U and V have no bias: the products of v / r are those of v, divided by r.
        tape.rinv.clear();
        let inv_f = T::of(1.0 / f as f64);
        for i in 0..n {
            let v = &tape.v_mid[i * 3 * f..(i + 1) * 3 * f];
            let sq = sum_squares(v);
            let rinv = T::one() / (T::one() + sq * inv_f).sqrt();
            tape.rinv.push(rinv);
            for x in &mut tape.uv_vv[i * 6 * f..(i + 1) * 6 * f] {
                *x *= rinv;
            }
        }
    }
    sized(&mut tape.cat, n * 2 * f);
    let rows = tape.cat.chunks_exact_mut(2 * f).zip(ws.s.chunks_exact(f));
    for ((cat, s), uv_vv) in rows.zip(tape.uv_vv.chunks_exact(6 * f)) {
        let (cat_s, cat_norm) = cat.split_at_mut(f);
        cat_s.copy_from_slice(s);
        vector_norms(split_uv_vv(uv_vv, f).1, cat_norm);
    }
    lin(&tape.cat, 2 * f, n, &up.a1, &mut tape.y);
    sized(&mut ws.tmp, n * f);
    for (z, &y) in ws.tmp.iter_mut().zip(&tape.y) {
        *z = silu(y);
    }
    lin(&ws.tmp, f, n, &up.a2, &mut tape.a);
    let rows = tape
        .a
        .chunks_exact(3 * f)
        .zip(tape.uv_vv.chunks_exact(6 * f));
    let outs = ws.s.chunks_exact_mut(f).zip(ws.v.chunks_exact_mut(3 * f));
    for ((a, uv_vv), (s, v)) in rows.zip(outs) {
        update_atom(f, a, split_uv_vv(uv_vv, f), s, v);
    }
}

/// `sum x^2` in eight partial sums (so that it vectorises).
#[inline(always)]
fn sum_squares<T: Real>(x: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut chunks = x.chunks_exact(8);
    for ch in &mut chunks {
        for (a, &y) in acc.iter_mut().zip(ch) {
            *a += y * y;
        }
    }
    let tail = chunks.remainder().iter().fold(T::zero(), |a, &y| a + y * y);
    acc.iter().fold(tail, |a, &b| a + b)
}

/// One atom's rows of the update block's `[3, 2F]` products (per Cartesian component `U v`
/// `[F]`, then `V v` `[F]`), as `([U v; 3], [V v; 3])`.
#[inline(always)]
fn split_uv_vv<T>(uv_vv: &[T], f: usize) -> ([&[T]; 3], [&[T]; 3]) {
    let row = |k: usize| &uv_vv[k * f..(k + 1) * f];
    ([row(0), row(2), row(4)], [row(1), row(3), row(5)])
}

/// `out[c] = sqrt(1e-8 + sum_k vv[k][c]^2)` (`[F]`): the norms of the `V v` features.
#[inline(always)]
fn vector_norms<T: Real>([x0, x1, x2]: [&[T]; 3], out: &mut [T]) {
    for (((o, &a), &b), &c) in out.iter_mut().zip(x0).zip(x1).zip(x2) {
        let mut sq = T::of(1e-8);
        sq += a * a;
        sq += b * b;
        sq += c * c;
        *o = sq.sqrt();
    }
}

/// One atom's update: with `a = [a_vv, a_sv, a_ss]` (`[3F]`), `v[k] += a_vv * (U v)[k]` and
/// `s += a_sv * sum_k (U v)[k] (V v)[k] + a_ss` (`s`: `[F]`, `v`: `[3, F]`).
#[inline(always)]
fn update_atom<T: Real>(
    f: usize,
    a: &[T],
    ([u0, u1, u2], [w0, w1, w2]): ([&[T]; 3], [&[T]; 3]),
    s: &mut [T],
    v: &mut [T],
) {
    let (a0, a1, a2) = (&a[..f], &a[f..2 * f], &a[2 * f..3 * f]);
    let (u0, u1, u2, w0, w1, w2) = (&u0[..f], &u1[..f], &u2[..f], &w0[..f], &w1[..f], &w2[..f]);
    let s = &mut s[..f];
    for c in 0..f {
        let mut dot = T::zero();
        dot += u0[c] * w0[c];
        dot += u1[c] * w1[c];
        dot += u2[c] * w2[c];
        s[c] += a1[c] * dot + a2[c];
    }
    for (vk, uk) in v.chunks_exact_mut(f).zip([u0, u1, u2]) {
        for ((x, &a), &u) in vk.iter_mut().zip(a0).zip(uk) {
            *x += a * u;
        }
    }
}

/// Atomic energies (eV, `[N]`) from the final scalars in `ws.s`.
#[inline(always)]
fn readout_impl<T: Real>(
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
        // The species reference (tens of eV) is added in float64: in float32 its round-off
        // (~4e-6 eV per atom) would swamp the energy differences a minimiser compares.
        out.push((e * scale).to_f64().unwrap_or(f64::NAN) + p.e_ref[sp]);
    }
}

/// The reverse pass of [`forward`] + [`readout`] for `E = sum of the first n_local atomic
/// energies`: returns `dE/dR_e` for every edge vector (eV/Å, `[E]`, zero for edges no layer
/// ran) in `grad`.
#[inline(always)]
fn backward_impl<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    g: &Graph<T>,
    n_local: usize,
    mut halo: Option<&mut dyn Halo>,
    ws: &mut Workspace<T>,
    grad: &mut Vec<[f64; 3]>,
) -> Result<()> {
    if g.edge_features.is_some() {
        return Err(Error::invalid(
            "the native reverse pass takes no edge features (the generator only samples)",
        ));
    }
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
    sized(&mut ws.gs, n * f);
    linear_backward(&ws.tmp, n, &p.readout1.w, hid, f, T::zero(), &mut ws.gs, f);
    zeroed(&mut ws.gv, n * 3 * f);
    ws.g_dist.clear();
    ws.g_dist.resize(e_n, 0.0);
    ws.g_unit.clear();
    ws.g_unit.resize(3 * e_n, 0.0);
    for l in (0..p.messages.len()).rev() {
        update_backward(p, l, ws);
        message_backward::<T, L>(p, l, g, ws);
        if let Some(h) = halo.as_deref_mut().filter(|_| l > 0) {
            halo::gather(h, f, n_local, (&mut ws.gs, &mut ws.gv), &mut ws.halo_rows)?;
        }
    }
    grad.clear();
    grad.resize(e_n, [0.0; 3]);
    for (e, &edge) in ws.order.iter().enumerate() {
        let (r, d) = (g.vectors[edge], ws.dist[e]);
        let gu = [ws.g_unit[3 * e], ws.g_unit[3 * e + 1], ws.g_unit[3 * e + 2]];
        let u = [r[0] / d, r[1] / d, r[2] / d];
        let gu_u = gu[0] * u[0] + gu[1] * u[1] + gu[2] * u[2];
        grad[edge] = std::array::from_fn(|a| ws.g_dist[e] * u[a] + (gu[a] - u[a] * gu_u) / d);
    }
    Ok(())
}

/// Update block adjoint: from `ws.gs`, `ws.gv` (w.r.t. the layer's outputs) to `ws.gs_mid`,
/// `ws.gv_mid` (w.r.t. the message outputs).
#[inline(always)]
fn update_backward<T: Real>(p: &Params<T>, l: usize, ws: &mut Workspace<T>) {
    let up = &p.updates[l];
    let f = up.uv.inp;
    let n = ws.active;
    let tape = &ws.tapes[l];
    sized(&mut ws.g_a, n * 3 * f);
    sized(&mut ws.g_uv_vv, n * 6 * f);
    let ins = tape
        .a
        .chunks_exact(3 * f)
        .zip(tape.uv_vv.chunks_exact(6 * f));
    let grads = ws.gs.chunks_exact(f).zip(ws.gv.chunks_exact(3 * f));
    let outs = ws
        .g_a
        .chunks_exact_mut(3 * f)
        .zip(ws.g_uv_vv.chunks_exact_mut(6 * f));
    for (((a, uv_vv), (gs, gv)), (g_a, g_uv_vv)) in ins.zip(grads).zip(outs) {
        update_atom_adjoint(f, a, split_uv_vv(uv_vv, f), (gs, gv), g_a, g_uv_vv);
    }
    sized(&mut ws.g_z, n * f);
    linear_backward(&ws.g_a, n, &up.a2.w, 3 * f, f, T::zero(), &mut ws.g_z, f);
    for (gz, &y) in ws.g_z.iter_mut().zip(&tape.y) {
        *gz *= silu_grad(y);
    }
    sized(&mut ws.g_cat, n * 2 * f);
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
    // Through the norms: g_vv[k] += (g_norm / norm) vv[k].
    let ins = ws
        .g_cat
        .chunks_exact(2 * f)
        .zip(tape.cat.chunks_exact(2 * f));
    for ((g_cat, cat), (g_uv_vv, uv_vv)) in ins.zip(
        ws.g_uv_vv
            .chunks_exact_mut(6 * f)
            .zip(tape.uv_vv.chunks_exact(6 * f)),
    ) {
        let (g_norm, norm) = (&g_cat[f..2 * f], &cat[f..2 * f]);
        for (g_vv, vv) in g_uv_vv
            .chunks_exact_mut(f)
            .zip(uv_vv.chunks_exact(f))
            .skip(1)
            .step_by(2)
        {
            for (((g, &x), &gn), &nm) in g_vv.iter_mut().zip(vv).zip(g_norm).zip(norm) {
                *g += gn / nm * x;
            }
        }
    }
    ws.gv_mid.clone_from(&ws.gv);
    if p.vector_norm {
        // g_v = g_vn / r - v (g_vn . v) / (F r^3), per atom, with g_vn the adjoint of v / r.
        sized(&mut ws.tmp, n * 3 * f);
        linear_backward(
            &ws.g_uv_vv,
            3 * n,
            &up.uv.w,
            2 * f,
            f,
            T::zero(),
            &mut ws.tmp,
            f,
        );
        let inv_f = T::of(1.0 / f as f64);
        for i in 0..n {
            let rows = i * 3 * f..(i + 1) * 3 * f;
            let (g, v) = (&ws.tmp[rows.clone()], &tape.v_mid[rows.clone()]);
            let dot = g.iter().zip(v).fold(T::zero(), |acc, (&a, &b)| acc + a * b);
            let rinv = tape.rinv[i];
            let c = dot * rinv * rinv * rinv * inv_f;
            for ((out, &g), &v) in ws.gv_mid[rows].iter_mut().zip(g).zip(v) {
                *out += g * rinv - v * c;
            }
        }
    } else {
        linear_backward(
            &ws.g_uv_vv,
            3 * n,
            &up.uv.w,
            2 * f,
            f,
            T::one(),
            &mut ws.gv_mid,
            f,
        );
    }
    ws.gs_mid.clone_from(&ws.gs);
    for (gs, g_cat) in ws
        .gs_mid
        .chunks_exact_mut(f)
        .zip(ws.g_cat.chunks_exact(2 * f))
    {
        for (g, &x) in gs.iter_mut().zip(&g_cat[..f]) {
            *g += x;
        }
    }
}

/// The adjoint of [`update_atom`] for one atom: from the adjoints `gs` `[F]` and `gv` `[3, F]`
/// of its outputs, writes `g_a` `[3F]` and `g_uv_vv` `[3, 2F]` (the layout of `uv_vv`).
#[inline(always)]
fn update_atom_adjoint<T: Real>(
    f: usize,
    a: &[T],
    (u, w): ([&[T]; 3], [&[T]; 3]),
    (gs, gv): (&[T], &[T]),
    g_a: &mut [T],
    g_uv_vv: &mut [T],
) {
    let (a0, a1, gs) = (&a[..f], &a[f..2 * f], &gs[..f]);
    let (u, w) = (u.map(|x| &x[..f]), w.map(|x| &x[..f]));
    let gv = [&gv[..f], &gv[f..2 * f], &gv[2 * f..3 * f]];
    let mut rows = g_uv_vv.chunks_exact_mut(f);
    let mut g: [&mut [T]; 6] = std::array::from_fn(|_| rows.next().expect("[3, 2F] rows"));
    let [g_u0, g_w0, g_u1, g_w1, g_u2, g_w2] = &mut g;
    let (g_u, g_w) = ([g_u0, g_u1, g_u2], [g_w0, g_w1, g_w2]);
    let mut out = g_a.chunks_exact_mut(f);
    let g_a: [&mut [T]; 3] = std::array::from_fn(|_| out.next().expect("[3F] row"));
    for c in 0..f {
        let (gsc, a0c, a1c) = (gs[c], a0[c], a1[c]);
        let (mut g_a0, mut dot) = (T::zero(), T::zero());
        for k in 0..3 {
            let (uv, vv, gvk) = (u[k][c], w[k][c], gv[k][c]);
            g_a0 += gvk * uv;
            dot += uv * vv;
            g_u[k][c] = gvk * a0c + gsc * a1c * vv;
            g_w[k][c] = gsc * a1c * uv;
        }
        g_a[0][c] = g_a0;
        g_a[1][c] = gsc * dot;
        g_a[2][c] = gsc;
    }
}

/// Message block adjoint: from `ws.gs_mid`, `ws.gv_mid` to `ws.gs`, `ws.gv` (w.r.t. the
/// layer's inputs), accumulating the edge-geometry adjoints. The first layer's inputs are
/// constants (species embeddings, zero vectors): it only accumulates the edge adjoints.
#[inline(always)]
fn message_backward<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    l: usize,
    g: &Graph<T>,
    ws: &mut Workspace<T>,
) {
    let m = &p.messages[l];
    let f = m.phi1.out;
    let n = g.species.len();
    let first = l == 0;
    let tape = std::mem::take(&mut ws.tapes[l]);
    if !first {
        zeroed(&mut ws.g_phi, n * 3 * f);
        ws.gv.clone_from(&ws.gv_mid);
    }
    for chunk in tape.units.chunks(CHUNK) {
        chunk_filters::<T, L>(p, l, g, chunk, true, ws);
        for (q, unit) in chunk.iter().enumerate() {
            let rows = q * 3 * f..(q + 1) * 3 * f;
            let (w, dw) = (&ws.w_c[rows.clone()], &ws.dw_c[rows]);
            for &e in unit.iter().filter(|&&e| e != NONE) {
                let [i, j] = ws.atoms[e];
                let u = [ws.unit[3 * e], ws.unit[3 * e + 1], ws.unit[3 * e + 2]];
                let sender = (
                    w,
                    dw,
                    &tape.phi[j * 3 * f..(j + 1) * 3 * f],
                    &tape.v_in[j * 3 * f..(j + 1) * 3 * f],
                    u,
                );
                let receiver = (
                    &ws.gs_mid[i * f..(i + 1) * f],
                    &ws.gv_mid[i * 3 * f..(i + 1) * 3 * f],
                );
                // SAFETY: L's instructions are supported (see `backward`).
                let (g_u, g_r) = unsafe {
                    if first {
                        edges::adjoint::<T, L, true>(f, sender, receiver, &mut [], &mut [])
                    } else {
                        let g_v_j = &mut ws.gv[j * 3 * f..(j + 1) * 3 * f];
                        let g_phi_j = &mut ws.g_phi[j * 3 * f..(j + 1) * 3 * f];
                        edges::adjoint::<T, L, false>(f, sender, receiver, g_v_j, g_phi_j)
                    }
                };
                for a in 0..3 {
                    ws.g_unit[3 * e + a] += to64(g_u[a]);
                }
                ws.g_dist[e] += to64(g_r);
            }
        }
    }
    if !first {
        // phi = phi2(silu(phi1(s_in))): gs_in = gs_mid + (g_phi W2 * silu'(h1)) W1.
        sized(&mut ws.g_z, n * f);
        linear_backward(&ws.g_phi, n, &m.phi2.w, 3 * f, f, T::zero(), &mut ws.g_z, f);
        for (gz, &h) in ws.g_z.iter_mut().zip(&tape.h1) {
            *gz *= silu_grad(h);
        }
        ws.gs.clone_from(&ws.gs_mid);
        linear_backward(&ws.g_z, n, &m.phi1.w, f, f, T::one(), &mut ws.gs, f);
    }
    ws.tapes[l] = tape;
}

#[inline(always)]
fn to64<T: Real>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// See `forward_impl`; runs a copy compiled for AVX2 + FMA where the CPU has them. Fails
/// only when the `halo` exchange does.
pub fn forward<T: Real>(
    p: &Params<T>,
    radial: &Radial,
    g: &Graph<T>,
    atom_bias: Option<&[T]>,
    halo: Option<(&mut dyn Halo, usize)>,
    ws: &mut Workspace<T>,
) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if crate::runtime::real::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { forward_avx2(p, radial, g, atom_bias, halo, ws) };
    }
    forward_impl::<T, T>(p, radial, g, atom_bias, halo, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2<T: Real>(
    p: &Params<T>,
    radial: &Radial,
    g: &Graph<T>,
    atom_bias: Option<&[T]>,
    halo: Option<(&mut dyn Halo, usize)>,
    ws: &mut Workspace<T>,
) -> Result<()> {
    forward_impl::<T, T::Wide>(p, radial, g, atom_bias, halo, ws)
}

/// See `backward_impl`; runs a copy compiled for AVX2 + FMA where the CPU has them. Fails
/// only when the `halo` exchange does.
pub fn backward<T: Real>(
    p: &Params<T>,
    g: &Graph<T>,
    n_local: usize,
    halo: Option<&mut dyn Halo>,
    ws: &mut Workspace<T>,
    grad: &mut Vec<[f64; 3]>,
) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if crate::runtime::real::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { backward_avx2(p, g, n_local, halo, ws, grad) };
    }
    backward_impl::<T, T>(p, g, n_local, halo, ws, grad)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_avx2<T: Real>(
    p: &Params<T>,
    g: &Graph<T>,
    n_local: usize,
    halo: Option<&mut dyn Halo>,
    ws: &mut Workspace<T>,
    grad: &mut Vec<[f64; 3]>,
) -> Result<()> {
    backward_impl::<T, T::Wide>(p, g, n_local, halo, ws, grad)
}

/// See `readout_impl`; runs a copy compiled for AVX2 + FMA where the CPU has them.
pub fn readout<T: Real>(
    p: &Params<T>,
    species: &[usize],
    ws: &mut Workspace<T>,
    out: &mut Vec<f64>,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::runtime::real::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { readout_avx2(p, species, ws, out) };
    }
    readout_impl(p, species, ws, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn readout_avx2<T: Real>(
    p: &Params<T>,
    species: &[usize],
    ws: &mut Workspace<T>,
    out: &mut Vec<f64>,
) {
    readout_impl(p, species, ws, out)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::model::file::read_metadata;
    use crate::neighbors::neighbor_list;

    /// Energy and edge gradients of the shipped potential on a periodic box of 40 random
    /// atoms with local + ghost pruning, with lanes `L`.
    fn run<T: Real, L: Lanes<T>>(table: bool) -> (f64, Vec<[f64; 3]>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("examples/models/concord-qm9-gfn2.concord");
        let bytes = std::fs::read(&path).unwrap();
        let config = read_metadata(&bytes, &path).unwrap().config;
        let p = Params::<T>::from_bytes(&bytes, &config, &path).unwrap();
        let radial = Radial {
            cutoff: config.encoder.cutoff,
            n_basis: config.encoder.radial_basis as usize,
            p: 6,
        };
        let tab = table.then(|| FilterTable::new(&p, &radial));
        let n = 40;
        // A deterministic scatter of atoms at least 0.9 Å apart in an 8 Å cube.
        let mut x: Vec<[f64; 3]> = Vec::new();
        let mut q = 0.5f64;
        while x.len() < n {
            let c = std::array::from_fn(|_| {
                q = (q * 7.31 + 0.377) % 1.0;
                8.0 * q
            });
            if x.iter()
                .all(|y| (0..3).map(|a| (y[a] - c[a]).powi(2)).sum::<f64>() > 0.81)
            {
                x.push(c);
            }
        }
        let cell = [[8.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 8.0]];
        let nl = neighbor_list(&x, Some(&cell), [true; 3], radial.cutoff).unwrap();
        let shifts = nl.cartesian_shifts(Some(&cell));
        let vectors: Vec<[f64; 3]> = (0..nl.len())
            .map(|e| std::array::from_fn(|a| x[nl.second[e]][a] - x[nl.first[e]][a] + shifts[e][a]))
            .collect();
        let species: Vec<usize> = (0..n).map(|i| i % config.elements.len()).collect();
        // Prune as for 25 local atoms: edges into atoms 25.. only in the first layer.
        let sets: Vec<Vec<usize>> = (0..p.messages.len())
            .map(|l| {
                (0..nl.len())
                    .filter(|&e| l == 0 || nl.first[e] < 25)
                    .collect()
            })
            .collect();
        let g = Graph {
            species: &species,
            first: &nl.first,
            second: &nl.second,
            vectors: &vectors,
            edge_features: None,
            layer_edges: Some(&sets),
            table: tab.as_ref(),
        };
        let mut ws = Workspace::default();
        let mut atomic = Vec::new();
        let mut grad = Vec::new();
        // SAFETY: the caller checked AVX2 + FMA.
        unsafe { lanes_pass::<T, L>(&p, &radial, &g, &mut ws, &mut atomic, &mut grad) };
        (atomic[..25].iter().sum(), grad)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn lanes_pass<T: Real, L: Lanes<T>>(
        p: &Params<T>,
        radial: &Radial,
        g: &Graph<T>,
        ws: &mut Workspace<T>,
        atomic: &mut Vec<f64>,
        grad: &mut Vec<[f64; 3]>,
    ) {
        forward_impl::<T, L>(p, radial, g, None, None, ws).unwrap();
        readout_impl(p, g.species, ws, atomic);
        backward_impl::<T, L>(p, g, 25, None, ws, grad).unwrap();
    }

    fn close(a: (f64, Vec<[f64; 3]>), b: (f64, Vec<[f64; 3]>), tol: f64) {
        assert!((a.0 - b.0).abs() <= tol * a.0.abs(), "{} vs {}", a.0, b.0);
        let scale = a.1.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(scale > 0.0 && a.1.len() > 100, "a graph with forces");
        for (x, y) in a.1.iter().flatten().zip(b.1.iter().flatten()) {
            assert!((x - y).abs() <= tol * scale, "{x} vs {y}");
        }
    }

    #[test]
    fn avx2_and_portable_lanes_agree() {
        if !crate::runtime::real::has_avx2_fma() {
            return;
        }
        use crate::runtime::simd::{F32x8, F64x4};
        close(run::<f64, f64>(false), run::<f64, F64x4>(false), 1e-12);
        close(run::<f32, f32>(true), run::<f32, F32x8>(true), 1e-5);
    }
}
