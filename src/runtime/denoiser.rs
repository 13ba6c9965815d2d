//! The structure generator's denoiser, natively (forward only: sampling needs no gradient).
//! Same function as [`crate::model::Denoiser`]: the shared encoder on the graph edges united
//! with radius edges, with bond-kind and distance features, conditioned on the noise level by
//! a Fourier embedding, and an equivariant displacement read from the vector features, with
//! EDM preconditioning and the molecular centre removed.

use crate::error::{Error, Result};
use crate::model::config::DISTANCE_FEATURE_FLOOR;
use crate::model::graph::{denoiser_pairs, MoleculeBatch};
use crate::runtime::encoder::{self, EdgeFeatures, Graph, NONE};
use crate::runtime::filters::GeneratorTable;
use crate::runtime::real::{linear, silu, Real};
use crate::runtime::{NativeModel, Workspace};

/// Frequencies `2^0 .. 2^7` of the noise-level embedding.
const NOISE_FREQUENCIES: usize = 8;

impl<T: Real> NativeModel<T> {
    /// The denoised positions `D(x, sigma)` (flat `[N*3]`, Å) of noisy positions `x` (flat
    /// `[N*3]`, Å) of the molecules of `batch`, all at noise level `sigma` (Å).
    pub fn denoise(&self, batch: &MoleculeBatch, x: &[f64], sigma: f64) -> Result<Vec<f64>> {
        let gen = self
            .config
            .generator
            .ok_or_else(|| Error::invalid("this model has no structure generator"))?;
        let den = self
            .params
            .denoiser
            .as_ref()
            .ok_or_else(|| Error::invalid("this model has no structure generator"))?;
        if self
            .params
            .messages
            .iter()
            .any(|m| m.generator_filter.is_none())
        {
            return Err(Error::invalid(
                "this model's encoder has no edge-feature weights: it is not a structure generator",
            ));
        }
        let n = batch.len();
        if x.len() != 3 * n {
            return Err(Error::invalid(format!(
                "{} coordinates for {n} atoms",
                x.len()
            )));
        }
        let radius = gen.radius_edges(self.radial.cutoff);
        let pairs = denoiser_pairs(&batch.ranges, &batch.graph, x, radius)?;
        let (first, second): (Vec<usize>, Vec<usize>) = pairs.iter().map(|p| (p.0, p.1)).unzip();
        let vectors: Vec<[f64; 3]> = pairs
            .iter()
            .map(|&(i, j, _)| std::array::from_fn(|a| x[3 * j + a] - x[3 * i + a]))
            .collect();
        let (kinds, attr): (Vec<usize>, Vec<T>);
        let features = match self.generator_table(&gen) {
            Some(table) => {
                kinds = pairs.iter().map(|p| p.2.unwrap_or(NONE)).collect();
                EdgeFeatures::Kinds(&kinds, table)
            }
            None => {
                attr = edge_features(
                    &pairs,
                    &vectors,
                    gen.edges.n_kinds(),
                    gen.distance_features as usize,
                    gen.distance_max,
                );
                EdgeFeatures::Dense(&attr)
            }
        };
        let bias = noise_embedding(den, sigma);
        let f = bias.len();
        let atom_bias: Vec<T> = (0..n).flat_map(|_| bias.iter().copied()).collect();
        let graph = Graph {
            species: &batch.species,
            first: &first,
            second: &second,
            vectors: &vectors,
            edge_features: Some(features),
            layer_edges: None,
            table: self.table.as_ref(),
        };
        let mut guard = self.workspace.try_lock().ok();
        let mut local = Workspace::default();
        let ws = guard.as_deref_mut().unwrap_or(&mut local);
        encoder::forward(
            &self.params,
            &self.radial,
            &graph,
            Some(&atom_bias),
            None,
            ws,
        )?;
        let v = &ws.v;
        let sd = gen.sigma_data;
        let s2 = sigma * sigma + sd * sd;
        let (c_skip, c_out) = (sd * sd / s2, sigma * sd / s2.sqrt());
        let w = &den.out.w;
        let mut out = vec![0.0; 3 * n];
        for i in 0..n {
            for a in 0..3 {
                let row = &v[(i * 3 + a) * f..(i * 3 + a + 1) * f];
                let disp: T = row.iter().zip(w).fold(T::zero(), |s, (&p, &q)| s + p * q);
                out[3 * i + a] = c_skip * x[3 * i + a] + c_out * disp.to_f64().unwrap_or(f64::NAN);
            }
        }
        for &(a, b) in &batch.ranges {
            for d in 0..3 {
                let mean = (a..b).map(|i| out[3 * i + d]).sum::<f64>() / (b - a) as f64;
                for i in a..b {
                    out[3 * i + d] -= mean;
                }
            }
        }
        Ok(out)
    }

    /// The generator's filter table ([`GeneratorTable`]), built on first use, when this model
    /// tabulates its filters (float32); `None` computes them exactly.
    fn generator_table(&self, gen: &crate::model::GeneratorConfig) -> Option<&GeneratorTable<T>> {
        self.table.as_ref()?;
        self.generator_table
            .get_or_init(|| {
                GeneratorTable::new(
                    &self.params,
                    &self.radial,
                    gen.edges.n_kinds(),
                    gen.distance_features as usize,
                    gen.distance_max,
                )
            })
            .as_ref()
    }
}

/// Edge features `[E, n_kinds + D]`: the one-hot edge kind (zeros for radius-only edges),
/// then for graph edges `D` Gaussians of the distance centred on `linspace(0, dmax, D)` with
/// width `dmax / D`.
fn edge_features<T: Real>(
    pairs: &[(usize, usize, Option<usize>)],
    vectors: &[[f64; 3]],
    n_kinds: usize,
    d: usize,
    dmax: f64,
) -> Vec<T> {
    let width = dmax / d as f64;
    let step = if d > 1 { dmax / (d - 1) as f64 } else { 0.0 };
    let mut attr = Vec::with_capacity(pairs.len() * (n_kinds + d));
    for (&(_, _, kind), r) in pairs.iter().zip(vectors) {
        let start = attr.len();
        attr.resize(start + n_kinds, T::zero());
        if let Some(k) = kind {
            attr[start + k] = T::one();
        }
        attr.resize(start + n_kinds + d, T::zero());
        if kind.is_some() {
            let dist = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + 1e-12).sqrt();
            gaussians(dist, step, width, &mut attr[start + n_kinds..]);
        }
    }
    attr
}

/// `out[q] = exp(-(dist - q step)^2 / (2 width^2))` for `q` in `0..out.len()`, with two `exp`
/// calls instead of one per centre: from the centre nearest `dist` outwards, each value is its
/// neighbour's times a ratio that itself changes by the constant factor
/// `exp(-step^2 / width^2)` (relative error a few float64 ulps); values at or below
/// [`DISTANCE_FEATURE_FLOOR`] are 0.
fn gaussians<T: Real>(dist: f64, step: f64, width: f64, out: &mut [T]) {
    let stored = |g: f64| {
        if g > DISTANCE_FEATURE_FLOOR {
            T::of(g)
        } else {
            T::zero()
        }
    };
    let d = out.len();
    let inv = 0.5 / (width * width);
    if d <= 1 || step == 0.0 {
        out.iter_mut()
            .for_each(|g| *g = stored((-inv * dist * dist).exp()));
        return;
    }
    let near = ((dist / step).round().max(0.0) as usize).min(d - 1);
    let z = dist - near as f64 * step;
    let peak = (-inv * z * z).exp();
    out[near] = stored(peak);
    // g(q + 1) / g(q) = exp(inv (2 z_q step - step^2)), z_q = dist - q step; each further step
    // multiplies that ratio by c = exp(-2 inv step^2).
    let c = (-2.0 * inv * step * step).exp();
    let (mut g, mut ratio) = (peak, (inv * (2.0 * z * step - step * step)).exp());
    for value in &mut out[near + 1..] {
        g *= ratio;
        ratio *= c;
        *value = stored(g);
    }
    // Downwards: g(q - 1) / g(q) = exp(-inv (2 z_q step + step^2)).
    let (mut g, mut ratio) = (peak, (-inv * (2.0 * z * step + step * step)).exp());
    for value in out[..near].iter_mut().rev() {
        g *= ratio;
        ratio *= c;
        *value = stored(g);
    }
}

/// The noise-level embedding `noise2(silu(noise1([sin, cos](ln(sigma)/4 * 2^k))))` `[F]`.
fn noise_embedding<T: Real>(den: &crate::runtime::params::DenoiserParams<T>, sigma: f64) -> Vec<T> {
    let c = sigma.ln() / 4.0;
    let arg: Vec<f64> = (0..NOISE_FREQUENCIES)
        .map(|k| c * (1u32 << k) as f64)
        .collect();
    let fourier: Vec<T> = arg
        .iter()
        .map(|a| T::of(a.sin()))
        .chain(arg.iter().map(|a| T::of(a.cos())))
        .collect();
    let f = den.noise1.out;
    let mut h = vec![T::zero(); f];
    linear(
        &fourier,
        fourier.len(),
        1,
        &den.noise1.wt,
        den.noise1.b.as_deref(),
        f,
        fourier.len(),
        &mut h,
    );
    for x in h.iter_mut() {
        *x = silu(*x);
    }
    let mut out = vec![T::zero(); f];
    linear(
        &h,
        f,
        1,
        &den.noise2.wt,
        den.noise2.b.as_deref(),
        f,
        f,
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::gaussians;
    use crate::model::config::DISTANCE_FEATURE_FLOOR;

    #[test]
    fn gaussian_recurrence_matches_the_direct_formula() {
        let (d, dmax) = (16usize, 10.0f64);
        let (step, width) = (dmax / (d - 1) as f64, dmax / d as f64);
        let mut out = vec![0.0f64; d];
        for k in 0..4000 {
            let dist = k as f64 * 0.0137;
            gaussians(dist, step, width, &mut out);
            for (q, &g) in out.iter().enumerate() {
                let z = dist - q as f64 * step;
                let exact = (-0.5 * z * z / (width * width)).exp();
                // Near the floor the recurrence's relative error may put a value on either side.
                let floored = exact < DISTANCE_FEATURE_FLOOR * (1.0 + 1e-9) && g == 0.0;
                assert!(
                    floored || (g - exact).abs() <= 1e-11 * exact,
                    "{dist} {q}: {g} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn float32_gaussians_hold_no_subnormal_values() {
        let (d, dmax) = (16usize, 10.0f64);
        let (step, width) = (dmax / (d - 1) as f64, dmax / d as f64);
        let mut out = vec![0.0f32; d];
        let mut zeros = 0;
        for k in 0..4000 {
            gaussians(k as f64 * 0.0137, step, width, &mut out);
            assert!(out.iter().all(|g| !g.is_subnormal()), "{out:?}");
            zeros += out.iter().filter(|&&g| g == 0.0).count();
        }
        // Far centres are dropped, not kept as subnormals.
        assert!(zeros > 0);
    }
}
