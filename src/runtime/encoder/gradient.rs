//! Gradients of a weighted sum of atomic energies with respect to the potential's
//! parameters, for training without libtorch's autograd: the forward pass keeps a full tape,
//! and the reverse pass of [`super::backward`] also accumulates every layer's weight and bias
//! adjoints (`dW += g_y^T x`, `db += sum g_y`).
//!
//! Force-matching needs the parameter gradient of `g . dE/dx` as well; the trainer obtains it
//! as the difference of two calls of [`energy_gradient`] at `x + h g` and `x - h g`
//! (`crate::train::native_gradient`).

use super::*;

/// Adjoints of one dense layer `y = x W^T + b`.
#[derive(Debug, Clone)]
pub struct LinearGrad<T> {
    /// `dL/dW`, `[out, in]` (torch's layout).
    pub w: Vec<T>,
    /// `dL/db`, `[out]`, if the layer has a bias.
    pub b: Option<Vec<T>>,
    out: usize,
    inp: usize,
}

impl<T: Real> LinearGrad<T> {
    fn zeros(l: &Linear<T>) -> LinearGrad<T> {
        LinearGrad {
            w: vec![T::zero(); l.out * l.inp],
            b: l.b.as_ref().map(|b| vec![T::zero(); b.len()]),
            out: l.out,
            inp: l.inp,
        }
    }

    /// Accumulates the adjoints of `n` rows: outputs' adjoints `gy` `[n, out]`, inputs `x`
    /// `[n, in]` with row stride `rs_x`.
    fn add(&mut self, gy: &[T], x: &[T], rs_x: usize, n: usize) {
        let (out, inp) = (self.out, self.inp);
        // W[o, i] += sum_r gy[r, o] x[r, i]: gy read transposed.
        T::gemm(
            out,
            n,
            inp,
            T::one(),
            gy,
            (1, out),
            x,
            (rs_x, 1),
            T::one(),
            &mut self.w,
            (inp, 1),
        );
        if let Some(b) = self.b.as_mut() {
            for row in gy[..n * out].chunks_exact(out) {
                for (acc, &g) in b.iter_mut().zip(row) {
                    *acc += g;
                }
            }
        }
    }

    fn clear(&mut self) {
        self.w.iter_mut().for_each(|x| *x = T::zero());
        if let Some(b) = self.b.as_mut() {
            b.iter_mut().for_each(|x| *x = T::zero());
        }
    }
}

/// Adjoints of a potential's trainable parameters, shaped as [`Params`].
#[derive(Debug, Clone)]
pub struct ParamGrads<T> {
    /// Species embedding `[n_species, F]`.
    pub embedding: Vec<T>,
    /// Per message block: `phi1`, `phi2`, `filter`.
    pub messages: Vec<[LinearGrad<T>; 3]>,
    /// Per update block: `uv` (`[2F, F]`: the rows of `U`, then of `V`), `a1`, `a2`.
    pub updates: Vec<[LinearGrad<T>; 3]>,
    /// Energy readout, first layer.
    pub readout1: LinearGrad<T>,
    /// Energy readout, second layer.
    pub readout2: LinearGrad<T>,
}

impl<T: Real> ParamGrads<T> {
    /// Zero adjoints for the parameters `p`.
    pub fn zeros(p: &Params<T>) -> ParamGrads<T> {
        ParamGrads {
            embedding: vec![T::zero(); p.embedding.len()],
            messages: p
                .messages
                .iter()
                .map(|m| {
                    [
                        LinearGrad::zeros(&m.phi1),
                        LinearGrad::zeros(&m.phi2),
                        LinearGrad::zeros(&m.filter),
                    ]
                })
                .collect(),
            updates: p
                .updates
                .iter()
                .map(|u| {
                    [
                        LinearGrad::zeros(&u.uv),
                        LinearGrad::zeros(&u.a1),
                        LinearGrad::zeros(&u.a2),
                    ]
                })
                .collect(),
            readout1: LinearGrad::zeros(&p.readout1),
            readout2: LinearGrad::zeros(&p.readout2),
        }
    }

    /// Sets every adjoint to zero.
    pub fn clear(&mut self) {
        self.embedding.iter_mut().for_each(|x| *x = T::zero());
        for l in self.messages.iter_mut().chain(self.updates.iter_mut()) {
            l.iter_mut().for_each(LinearGrad::clear);
        }
        self.readout1.clear();
        self.readout2.clear();
    }
}

/// Accumulates into `grads` the gradient of `sum_i coeff[i] * E_i` (`E_i` the network's
/// atomic energies, eV; `coeff` `[N]`) with respect to the parameters, for the potential `p`
/// on graph `g` (all atoms local, no edge features; filters exact or from the graph's tables,
/// which then give the forward pass's filter values). The workspace keeps a full tape from
/// now on.
pub fn energy_gradient<T: Real>(
    p: &Params<T>,
    radial: &Radial,
    g: &Graph<T>,
    coeff: &[T],
    ws: &mut Workspace<T>,
    grads: &mut ParamGrads<T>,
) -> Result<()> {
    let n = g.species.len();
    if g.edge_features.is_some() || g.layer_edges.is_some() {
        return Err(crate::error::Error::invalid(
            "parameter gradients need a graph without edge features and every edge in every layer",
        ));
    }
    if coeff.len() != n {
        return Err(crate::error::Error::invalid(format!(
            "{} energy coefficients for {n} atoms",
            coeff.len()
        )));
    }
    ws.full_tape = true;
    forward(p, radial, g, None, None, ws)?;
    // The readout's pre-activations (ws.h_r) enter its adjoints; its energies are not needed.
    readout(p, g.species, ws, &mut Vec::with_capacity(n));
    parameters(p, g, coeff, ws, grads);
    Ok(())
}

/// The reverse pass with parameter adjoints; runs a copy compiled for AVX2 + FMA where the CPU
/// has them.
fn parameters<T: Real>(
    p: &Params<T>,
    g: &Graph<T>,
    coeff: &[T],
    ws: &mut Workspace<T>,
    grads: &mut ParamGrads<T>,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::runtime::real::has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
        return unsafe { parameters_avx2(p, g, coeff, ws, grads) };
    }
    parameters_impl::<T, T>(p, g, coeff, ws, grads)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn parameters_avx2<T: Real>(
    p: &Params<T>,
    g: &Graph<T>,
    coeff: &[T],
    ws: &mut Workspace<T>,
    grads: &mut ParamGrads<T>,
) {
    parameters_impl::<T, T::Wide>(p, g, coeff, ws, grads)
}

#[inline(always)]
fn parameters_impl<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    g: &Graph<T>,
    coeff: &[T],
    ws: &mut Workspace<T>,
    grads: &mut ParamGrads<T>,
) {
    readout_parameters(p, coeff, ws, grads);
    for l in (0..p.messages.len()).rev() {
        update_backward(p, l, ws);
        update_parameters(p, l, ws, &mut grads.updates[l]);
        message_parameters::<T, L>(p, l, g, ws, &mut grads.messages[l]);
    }
    let f = p.features();
    for (i, &sp) in g.species.iter().enumerate() {
        let row = &mut grads.embedding[sp * f..(sp + 1) * f];
        for (acc, &x) in row.iter_mut().zip(&ws.gs[i * f..(i + 1) * f]) {
            *acc += x;
        }
    }
}

/// The readout's adjoints: `E_i = scale (w2 . silu(h_i) + b2)`, `h = s R1^T + b1`; leaves
/// `dL/ds` in `ws.gs` and zero in `ws.gv`.
#[inline(always)]
fn readout_parameters<T: Real>(
    p: &Params<T>,
    coeff: &[T],
    ws: &mut Workspace<T>,
    grads: &mut ParamGrads<T>,
) {
    let (f, n, hid) = (p.features(), coeff.len(), p.readout1.out);
    let scale = T::of(p.scale);
    let mut g_h = vec![T::zero(); n * hid];
    let mut total = T::zero();
    for i in 0..n {
        let c = coeff[i] * scale;
        total += c;
        for h in 0..hid {
            let x = ws.h_r[i * hid + h];
            grads.readout2.w[h] += c * silu(x);
            g_h[i * hid + h] = c * p.readout2.w[h] * silu_grad(x);
        }
    }
    if let Some(b) = grads.readout2.b.as_mut() {
        b[0] += total;
    }
    grads.readout1.add(&g_h, &ws.s, f, n);
    sized(&mut ws.gs, n * f);
    linear_backward(&g_h, n, &p.readout1.w, hid, f, T::zero(), &mut ws.gs, f);
    zeroed(&mut ws.gv, n * 3 * f);
}

/// The update block's weight adjoints, from the buffers [`update_backward`] left.
#[inline(always)]
fn update_parameters<T: Real>(
    p: &Params<T>,
    l: usize,
    ws: &mut Workspace<T>,
    grads: &mut [LinearGrad<T>; 3],
) {
    let f = p.updates[l].uv.inp;
    let n = ws.active;
    let tape = &ws.tapes[l];
    sized(&mut ws.tmp, n * f);
    for (a, &y) in ws.tmp.iter_mut().zip(&tape.y) {
        *a = silu(y);
    }
    grads[2].add(&ws.g_a, &ws.tmp, f, n);
    grads[1].add(&ws.g_z, &tape.cat, 2 * f, n);
    if p.vector_norm {
        // The products read v / r: so does U's and V's adjoint.
        let mut scaled = tape.v_mid.clone();
        for (i, r) in tape.rinv.iter().enumerate() {
            scaled[i * 3 * f..(i + 1) * 3 * f]
                .iter_mut()
                .for_each(|x| *x *= *r);
        }
        grads[0].add(&ws.g_uv_vv, &scaled, f, 3 * n);
    } else {
        grads[0].add(&ws.g_uv_vv, &tape.v_mid, f, 3 * n);
    }
}

/// The message block's adjoints: from `ws.gs_mid`, `ws.gv_mid` to `ws.gs`, `ws.gv` (the
/// layer's inputs), accumulating the filter's, `phi1`'s and `phi2`'s weight adjoints.
#[inline(always)]
fn message_parameters<T: Real, L: Lanes<T>>(
    p: &Params<T>,
    l: usize,
    g: &Graph<T>,
    ws: &mut Workspace<T>,
    grads: &mut [LinearGrad<T>; 3],
) {
    let m = &p.messages[l];
    let (f, k) = (m.phi1.out, m.filter.inp);
    let n = g.species.len();
    let inv = T::of(1.0 / p.avg_neighbors);
    let tape = std::mem::take(&mut ws.tapes[l]);
    zeroed(&mut ws.g_phi, n * 3 * f);
    ws.gv.clone_from(&ws.gv_mid);
    let mut g_w = Vec::new();
    for chunk in tape.units.chunks(CHUNK) {
        chunk_filters::<T, L>(p, l, g, chunk, false, ws);
        // The basis rows of the chunk (computed with or without tables: `full_tape`).
        sized(&mut ws.rbf_c, chunk.len() * k);
        for (q, u) in chunk.iter().enumerate() {
            ws.rbf_c[q * k..(q + 1) * k].copy_from_slice(&ws.rbf[u[0] * k..(u[0] + 1) * k]);
        }
        zeroed(&mut g_w, chunk.len() * 3 * f);
        for (q, unit) in chunk.iter().enumerate() {
            let gw = &mut g_w[q * 3 * f..(q + 1) * 3 * f];
            for &e in unit.iter().filter(|&&e| e != NONE) {
                let [i, j] = ws.atoms[e];
                let u = [ws.unit[3 * e], ws.unit[3 * e + 1], ws.unit[3 * e + 2]];
                let ins = (
                    &ws.w_c[q * 3 * f..(q + 1) * 3 * f],
                    &tape.phi[j * 3 * f..(j + 1) * 3 * f],
                    &tape.v_in[j * 3 * f..(j + 1) * 3 * f],
                    u,
                );
                let outs = (
                    &ws.gs_mid[i * f..(i + 1) * f],
                    &ws.gv_mid[i * 3 * f..(i + 1) * 3 * f],
                );
                let g_phi = &mut ws.g_phi[j * 3 * f..(j + 1) * 3 * f];
                // SAFETY: L's instructions are supported (see `parameters`).
                unsafe {
                    if l > 0 {
                        let g_v = &mut ws.gv[j * 3 * f..(j + 1) * 3 * f];
                        edges::parameter_adjoint::<T, L, true>(f, ins, outs, gw, g_phi, g_v);
                    } else {
                        edges::parameter_adjoint::<T, L, false>(f, ins, outs, gw, g_phi, &mut []);
                    }
                }
            }
            // w = (rbf W^T + b) * envelope / avg_neighbors.
            let scale = ws.env[chunk[q][0]] * inv;
            gw.iter_mut().for_each(|x| *x *= scale);
        }
        grads[2].add(&g_w, &ws.rbf_c, k, chunk.len());
    }
    sized(&mut ws.tmp, n * f);
    for (a, &h) in ws.tmp.iter_mut().zip(&tape.h1) {
        *a = silu(h);
    }
    grads[1].add(&ws.g_phi, &ws.tmp, f, n);
    sized(&mut ws.g_z, n * f);
    linear_backward(&ws.g_phi, n, &m.phi2.w, 3 * f, f, T::zero(), &mut ws.g_z, f);
    for (gz, &h) in ws.g_z.iter_mut().zip(&tape.h1) {
        *gz *= silu_grad(h);
    }
    grads[0].add(&ws.g_z, &tape.s_in, f, n);
    ws.gs.clone_from(&ws.gs_mid);
    linear_backward(&ws.g_z, n, &m.phi1.w, f, f, T::one(), &mut ws.gs, f);
    ws.tapes[l] = tape;
}
