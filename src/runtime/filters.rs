//! Tabulated radial filters (DeePMD-style compression): each layer's whole potential filter
//! `W_l(r) = (filter_l(rbf(r)) + b_l) * envelope(r) / avg_neighbors` `[3F]` (the message
//! normalisation folded in) is sampled with its exact derivative
//! on a uniform grid over `[0, cutoff]` and evaluated by cubic Hermite interpolation, which
//! replaces the `K x 3F` product per edge and its adjoint by a few multiply-adds per value.
//!
//! Error: the Hermite remainder is `h^4 / 384 max|W''''|` for values and O(h^3) for the
//! derivative. With [`INTERVALS`] intervals, measured on both shipped models at 20,000
//! distances over `(0, cutoff)`, the largest deviation from the exact filter is 1.9e-8 of the
//! filter's largest value (under float32 round-off, 6e-8) and 2.6e-6 of the largest
//! derivative; the test holds them below 1e-7 and 1e-5. The float32 runtime uses the table;
//! float64 computes filters exactly.

use crate::model::config::DISTANCE_FEATURE_FLOOR;
use crate::runtime::params::Params;
use crate::runtime::radial::Radial;
use crate::runtime::real::Real;
use crate::runtime::simd::Lanes;

/// Grid intervals per table.
pub const INTERVALS: usize = 1024;

/// How much coarser the generator's grid is beyond the cutoff ([`GeneratorTable`]): a smaller
/// table, so more of the far pairs' lookups hit the cache.
pub const FAR_COARSENING: usize = 4;

/// The filters of every layer on a grid: per layer and grid point `i`, the values `W(r_i)`
/// `[3F]` followed by `h dW/dr(r_i)` `[3F]`.
#[derive(Debug, Clone)]
pub struct FilterTable<T> {
    /// Where the grid starts, Å (distances below it read its first interval).
    start: f64,
    /// Where the grid ends, Å: the filters are 0 there and beyond.
    end: f64,
    intervals: usize,
    inv_h: f64,
    width: usize,
    layers: Vec<Vec<T>>,
}

/// The structure generator's filters on its graph edges (float32 sampling): per layer, the
/// radial filter plus the edge-feature filter of the distance Gaussians, which is also a
/// function of the distance alone, tabulated ([`FilterTable`]s: up to the cutoff on the
/// potential's grid, beyond it, where only the smooth Gaussians remain, on a grid
/// [`FAR_COARSENING`] times coarser, to where every Gaussian is below
/// [`DISTANCE_FEATURE_FLOOR`]), and the edge-feature filter's rows of the one-hot kinds. A
/// graph edge of kind `k` at distance `r` has the filter `table(r) + kinds[k]`: no product per
/// edge.
#[derive(Debug, Clone)]
pub struct GeneratorTable<T> {
    /// Radial plus Gaussian filters below the cutoff, divided by `avg_neighbors`.
    pub near: FilterTable<T>,
    /// Gaussian filters from the cutoff on, divided by `avg_neighbors`.
    pub far: FilterTable<T>,
    /// Per layer, the kinds' filter rows `[n_kinds, 3F]`, divided by `avg_neighbors`.
    pub kinds: Vec<Vec<T>>,
}

/// The generator's distance Gaussians on the grid: `exp(-(r - q step)^2 / (2 width^2))`
/// for `q < count` (the centres and width of `crate::runtime::denoiser`'s edge features).
struct Gaussians {
    count: usize,
    step: f64,
    width: f64,
}

impl Gaussians {
    /// Values and derivatives (1/Å) at `r`, each `[count]`.
    fn eval(&self, r: f64, g: &mut [f64], dg: &mut [f64]) {
        let w2 = self.width * self.width;
        for q in 0..self.count {
            let z = r - q as f64 * self.step;
            g[q] = (-0.5 * z * z / w2).exp();
            dg[q] = -z / w2 * g[q];
        }
    }

    /// The distance beyond which every Gaussian is below [`DISTANCE_FEATURE_FLOOR`].
    fn end(&self) -> f64 {
        let last = self.count.saturating_sub(1) as f64 * self.step;
        last + self.width * (-2.0 * DISTANCE_FEATURE_FLOOR.ln()).sqrt()
    }
}

/// The radial basis, its derivative and the envelope at the grid points (`INTERVALS + 1`).
struct Grid {
    /// Basis values, `[P, K]`.
    rbf: Vec<f64>,
    /// Their derivatives with respect to `r`, 1/Å, `[P, K]`.
    drbf: Vec<f64>,
    /// Envelope and its derivative, `[P]`.
    env: Vec<(f64, f64)>,
    n_basis: usize,
    /// The first point, Å.
    start: f64,
    /// The grid step, Å.
    h: f64,
}

impl Grid {
    /// The grid `start + i h`, `i` in `0..=intervals`.
    fn new(radial: &Radial, start: f64, h: f64, intervals: usize) -> Grid {
        let (k, points) = (radial.n_basis, intervals + 1);
        let (mut rbf, mut drbf) = (vec![0.0; points * k], vec![0.0; points * k]);
        let mut env = Vec::with_capacity(points);
        for i in 0..points {
            // The smallest distance the encoder sees is sqrt(1e-12) (its safe norm).
            let r = (start + i as f64 * h).max(1e-6);
            radial.basis(r, &mut rbf[i * k..][..k], &mut drbf[i * k..][..k]);
            env.push(radial.envelope(r));
        }
        Grid {
            rbf,
            drbf,
            env,
            n_basis: k,
            start,
            h,
        }
    }

    /// One layer's table: per point `inv (b + w rbf) env` `[width]`, then `h` times its
    /// derivative, for the filter weights `w` `[width, K]` and bias `b` `[width]`; with
    /// `gaussians` and their weights (`[width, A]` with row stride `A`, the Gaussians' columns
    /// from the first), plus `inv` times their edge-feature filter.
    fn table<T: Real>(
        &self,
        w: &[T],
        b: Option<&[T]>,
        width: usize,
        inv: f64,
        gaussians: Option<(&Gaussians, &[T], usize)>,
    ) -> Vec<T> {
        let (k, points, h) = (self.n_basis, self.env.len(), self.h);
        let w: Vec<f64> = w.iter().map(|x| x.to_f64().unwrap_or(0.0)).collect();
        let b: Vec<f64> = match b {
            Some(b) => b.iter().map(|x| x.to_f64().unwrap_or(0.0)).collect(),
            None => vec![0.0; width],
        };
        // pre = rbf w^T, dpre = drbf w^T, both [P, width].
        let mut pre = vec![0.0; points * width];
        let mut dpre = vec![0.0; points * width];
        for (x, out) in [(&self.rbf, &mut pre), (&self.drbf, &mut dpre)] {
            f64::gemm(
                points,
                k,
                width,
                1.0,
                x,
                (k, 1),
                &w,
                (1, k),
                0.0,
                out,
                (width, 1),
            );
        }
        let (mut gp, mut dgp) = (vec![0.0; points * width], vec![0.0; points * width]);
        if let Some((gauss, wg, a)) = gaussians {
            let d = gauss.count;
            let wg: Vec<f64> = wg.iter().map(|x| x.to_f64().unwrap_or(0.0)).collect();
            let (mut g, mut dg) = (vec![0.0; points * d], vec![0.0; points * d]);
            for i in 0..points {
                let r = self.start + i as f64 * h;
                gauss.eval(r, &mut g[i * d..][..d], &mut dg[i * d..][..d]);
            }
            for (x, out) in [(&g, &mut gp), (&dg, &mut dgp)] {
                f64::gemm(
                    points,
                    d,
                    width,
                    1.0,
                    x,
                    (d, 1),
                    &wg,
                    (1, a),
                    0.0,
                    out,
                    (width, 1),
                );
            }
        }
        let mut table = Vec::with_capacity(points * 2 * width);
        for (i, &(env, denv)) in self.env.iter().enumerate() {
            let (p, dp) = (&pre[i * width..][..width], &dpre[i * width..][..width]);
            let (q, dq) = (&gp[i * width..][..width], &dgp[i * width..][..width]);
            table.extend((0..width).map(|o| T::of(inv * ((p[o] + b[o]) * env + q[o]))));
            table.extend(
                (0..width).map(|o| T::of(inv * h * (dp[o] * env + (p[o] + b[o]) * denv + dq[o]))),
            );
        }
        table
    }
}

impl<T: Real> FilterTable<T> {
    /// Samples the filters of `params` (computed in float64 from its weights). Rebuilt at
    /// every float32 training step, so the products over the grid go through GEMM.
    pub fn new(params: &Params<T>, radial: &Radial) -> FilterTable<T> {
        let h = radial.cutoff / INTERVALS as f64;
        Self::build(params, radial, (0.0, h, INTERVALS), None)
    }

    /// The table on the grid `(start, h, intervals)` ([`Grid::new`]), with the Gaussians'
    /// filters from each layer's edge-feature weights (their columns from `gaussians.1`).
    fn build(
        params: &Params<T>,
        radial: &Radial,
        (start, h, intervals): (f64, f64, usize),
        gaussians: Option<(&Gaussians, usize)>,
    ) -> FilterTable<T> {
        let grid = Grid::new(radial, start, h, intervals);
        let inv = 1.0 / params.avg_neighbors;
        let layers = params
            .messages
            .iter()
            .map(|m| {
                let gauss = gaussians
                    .zip(m.edge_filter.as_ref())
                    .map(|((g, first), ef)| (g, &ef.w[first..], ef.inp));
                grid.table(&m.filter.w, m.filter.b.as_deref(), m.filter.out, inv, gauss)
            })
            .collect();
        FilterTable {
            start,
            end: start + intervals as f64 * h,
            intervals,
            inv_h: 1.0 / h,
            width: params.messages.first().map_or(0, |m| m.filter.out),
            layers,
        }
    }

    /// The two grid rows around `r` and the position `s` in `[0, 1)` between them.
    #[inline(always)]
    fn locate(&self, l: usize, r: f64) -> (&[T], T) {
        let t = ((r.min(self.end) - self.start) * self.inv_h).max(0.0);
        let i = (t as usize).min(self.intervals - 1);
        let w = self.width;
        (
            &self.layers[l][i * 2 * w..(i + 2) * 2 * w],
            T::of(t - i as f64),
        )
    }

    /// Where the grid starts, Å.
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Width of a filter, `3F`.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Writes layer `l`'s filter at distance `r` (Å) into `out` `[3F]`.
    pub fn eval(&self, l: usize, r: f64, out: &mut [T]) {
        // SAFETY: scalar lanes run on any CPU.
        unsafe { self.eval_lanes::<T>(l, r, None, out, None) }
    }

    /// Writes layer `l`'s filter and its derivative with respect to `r` (1/Å) into `out`,
    /// `dout` (both `[3F]`).
    pub fn eval_with_derivative(&self, l: usize, r: f64, out: &mut [T], dout: &mut [T]) {
        // SAFETY: scalar lanes run on any CPU.
        unsafe { self.eval_lanes::<T>(l, r, None, out, Some(dout)) }
    }

    /// [`Self::eval`] (and with `dout` [`Self::eval_with_derivative`]) in lanes `L`, one pass
    /// over the two grid rows; with `base` (`[3F]`) the values are `base` plus the filter.
    ///
    /// # Safety
    /// The CPU supports `L`'s instructions ([`Lanes`]).
    #[inline(always)]
    pub unsafe fn eval_lanes<L: Lanes<T>>(
        &self,
        l: usize,
        r: f64,
        base: Option<&[T]>,
        out: &mut [T],
        mut dout: Option<&mut [T]>,
    ) {
        if r >= self.end {
            // The envelope and its derivative are 0 there: what the last grid point holds,
            // without the interpolation (the generator's pairs beyond the cutoff).
            match base {
                Some(b) => out[..self.width].copy_from_slice(&b[..self.width]),
                None => out[..self.width].fill(T::zero()),
            }
            if let Some(d) = dout {
                d[..self.width].fill(T::zero());
            }
            return;
        }
        let (rows, s) = self.locate(l, r);
        let w = self.width;
        assert!(rows.len() >= 4 * w && out.len() >= w);
        assert!(dout.as_ref().is_none_or(|d| d.len() >= w));
        assert!(base.is_none_or(|b| b.len() >= w));
        let one = T::one();
        let two = one + one;
        let three = two + one;
        let (s2, s1) = (s * s, one - s);
        let hv = [
            (one + two * s) * s1 * s1,
            s * s1 * s1,
            s2 * (three - two * s),
            s2 * (s - one),
        ];
        let inv_h = T::of(self.inv_h);
        let hd = [
            T::of(6.0) * s * (s - one) * inv_h,
            (three * s * s - T::of(4.0) * s + one) * inv_h,
            (three * s * s - two * s) * inv_h,
        ];
        let head = L::head(w);
        Self::span::<L>(rows, w, 0, head, hv, hd, base, out, dout.as_deref_mut());
        Self::span::<T>(rows, w, head, w, hv, hd, base, out, dout);
    }

    /// [`Self::eval_lanes`] over the values `[c0, c1)`: Hermite weights `hv` for
    /// `(y0, m0, y1, m1)`, derivative weights `hd` for `(y0 - y1, m0, m1)`, `base` added.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn span<L: Lanes<T>>(
        rows: &[T],
        w: usize,
        c0: usize,
        c1: usize,
        hv: [T; 4],
        hd: [T; 3],
        base: Option<&[T]>,
        out: &mut [T],
        mut dout: Option<&mut [T]>,
    ) {
        let hv = hv.map(|x| L::splat(x));
        let hd = hd.map(|x| L::splat(x));
        let mut c = c0;
        while c < c1 {
            let y0 = L::load(rows, c);
            let m0 = L::load(rows, w + c);
            let y1 = L::load(rows, 2 * w + c);
            let m1 = L::load(rows, 3 * w + c);
            let v = hv[0]
                .fma(y0, hv[1].mul(m0))
                .add(hv[2].fma(y1, hv[3].mul(m1)));
            match base {
                Some(b) => v.add(L::load(b, c)).store(out, c),
                None => v.store(out, c),
            }
            if let Some(d) = dout.as_deref_mut() {
                hd[0]
                    .mul(y0.sub(y1))
                    .add(hd[1].fma(m0, hd[2].mul(m1)))
                    .store(d, c);
            }
            c += L::N;
        }
    }
}

impl<T: Real> GeneratorTable<T> {
    /// The generator table of `params`, whose edge features are `n_kinds` one-hot kinds then
    /// `distances` Gaussians of the distance centred on `linspace(0, distance_max, distances)`
    /// with width `distance_max / distances`; `None` without edge-feature weights of that width.
    pub fn new(
        params: &Params<T>,
        radial: &Radial,
        n_kinds: usize,
        distances: usize,
        distance_max: f64,
    ) -> Option<GeneratorTable<T>> {
        let widths = params
            .messages
            .iter()
            .map(|m| m.edge_filter.as_ref().map(|e| e.inp));
        if widths.clone().any(|a| a != Some(n_kinds + distances)) || distances == 0 {
            return None;
        }
        let gauss = Gaussians {
            count: distances,
            step: match distances {
                1 => 0.0,
                d => distance_max / (d - 1) as f64,
            },
            width: distance_max / distances as f64,
        };
        let (rc, gauss_columns) = (radial.cutoff, Some((&gauss, n_kinds)));
        let h = rc / INTERVALS as f64;
        let near = FilterTable::build(params, radial, (0.0, h, INTERVALS), gauss_columns);
        // Hermite's error for a Gaussian of width w is about (h / w)^4 / 128 of its height.
        let h_far = (FAR_COARSENING as f64 * h).min(gauss.width / 32.0);
        let far_intervals = ((gauss.end() - rc).max(h_far) / h_far).ceil() as usize;
        let far = FilterTable::build(params, radial, (rc, h_far, far_intervals), gauss_columns);
        let inv = T::of(1.0 / params.avg_neighbors);
        let kinds = params
            .messages
            .iter()
            .filter_map(|m| m.edge_filter.as_ref())
            .map(|ef| ef.wt[..n_kinds * ef.out].iter().map(|&x| x * inv).collect())
            .collect();
        Some(GeneratorTable { near, far, kinds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::file::read_metadata;

    /// The exact filter of layer `l` at `r` and its derivative.
    fn exact(p: &Params<f64>, radial: &Radial, l: usize, r: f64) -> (Vec<f64>, Vec<f64>) {
        let m = &p.messages[l];
        let k = radial.n_basis;
        let (mut rbf, mut drbf) = (vec![0.0; k], vec![0.0; k]);
        radial.basis(r, &mut rbf, &mut drbf);
        let (env, denv) = radial.envelope(r);
        (0..m.filter.out)
            .map(|o| {
                let row = &m.filter.w[o * k..(o + 1) * k];
                let pre = m.filter.b.as_ref().unwrap()[o]
                    + row.iter().zip(&rbf).map(|(a, x)| a * x).sum::<f64>();
                let dpre: f64 = row.iter().zip(&drbf).map(|(a, x)| a * x).sum();
                let inv = 1.0 / p.avg_neighbors;
                (inv * pre * env, inv * (dpre * env + pre * denv))
            })
            .unzip()
    }

    #[test]
    fn tabulated_filters_of_the_shipped_models_are_within_1e_7() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in [
            "concord-qm9-gfn2.concord",
            "concord-qm9-gfn2-multitask.concord",
        ] {
            let path = root.join("examples/models").join(name);
            let bytes = std::fs::read(&path).unwrap();
            let config = read_metadata(&bytes, &path).unwrap().config;
            let p = Params::<f64>::from_bytes(&bytes, &config, &path).unwrap();
            let radial = Radial {
                cutoff: config.encoder.cutoff,
                n_basis: config.encoder.radial_basis as usize,
                p: 6,
            };
            let table = FilterTable::new(&p, &radial);
            let w = p.messages[0].filter.out;
            let (mut v, mut dv) = (vec![0.0; w], vec![0.0; w]);
            for l in 0..p.messages.len() {
                let (mut err, mut derr, mut scale, mut dscale) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
                for q in 0..20_000 {
                    // A deterministic, irregular set of distances over the whole range.
                    let r = 1e-3 + (radial.cutoff - 1e-3) * ((q as f64 * 0.618_033_988_7) % 1.0);
                    let (e, de) = exact(&p, &radial, l, r);
                    table.eval_with_derivative(l, r, &mut v, &mut dv);
                    for c in 0..w {
                        err = err.max((v[c] - e[c]).abs());
                        derr = derr.max((dv[c] - de[c]).abs());
                        scale = scale.max(e[c].abs());
                        dscale = dscale.max(de[c].abs());
                    }
                }
                assert!(err < 1e-7 * scale, "{name} layer {l}: {:e}", err / scale);
                assert!(
                    derr < 1e-5 * dscale,
                    "{name} layer {l}: {:e}",
                    derr / dscale
                );
            }
        }
    }

    #[test]
    fn generator_table_of_the_shipped_generator_is_within_1e_7() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("examples/models/concord-generator.concord");
        let bytes = std::fs::read(&path).unwrap();
        let config = read_metadata(&bytes, &path).unwrap().config;
        let gen = config.generator.unwrap();
        let p = Params::<f64>::from_bytes(&bytes, &config, &path).unwrap();
        let radial = Radial {
            cutoff: config.encoder.cutoff,
            n_basis: config.encoder.radial_basis as usize,
            p: 6,
        };
        let (kinds, d) = (gen.edges.n_kinds(), gen.distance_features as usize);
        let table = GeneratorTable::new(&p, &radial, kinds, d, gen.distance_max).unwrap();
        let (step, width) = (
            gen.distance_max / (d - 1) as f64,
            gen.distance_max / d as f64,
        );
        let end = table.far.end;
        assert!(end > gen.distance_max + 7.0 * width);
        let w = p.messages[0].filter.out;
        let mut v = vec![0.0; w];
        for l in 0..p.messages.len() {
            let ef = p.messages[l].edge_filter.as_ref().unwrap();
            let (mut err, mut scale) = (0.0f64, 0.0f64);
            for q in 0..5_000 {
                let r = 1e-3 + (end + 1.0) * ((q as f64 * 0.618_033_988_7) % 1.0);
                let (radial_part, _) = exact(&p, &radial, l, r);
                let g: Vec<f64> = (0..d)
                    .map(|k| {
                        let z = r - k as f64 * step;
                        let g = (-0.5 * z * z / (width * width)).exp();
                        if g > DISTANCE_FEATURE_FLOOR {
                            g
                        } else {
                            0.0
                        }
                    })
                    .collect();
                match r < radial.cutoff {
                    true => table.near.eval(l, r, &mut v),
                    false => table.far.eval(l, r, &mut v),
                }
                for c in 0..w {
                    let row = &ef.w[c * ef.inp + kinds..(c + 1) * ef.inp];
                    let gauss: f64 = g.iter().zip(row).map(|(a, b)| a * b).sum();
                    let e = radial_part[c] + gauss / p.avg_neighbors;
                    err = err.max((v[c] - e).abs());
                    scale = scale.max(e.abs());
                }
            }
            assert!(err < 1e-7 * scale, "layer {l}: {:e}", err / scale);
            // The kinds' rows are the edge filter's columns.
            let k = kinds - 1;
            let row = &table.kinds[l][k * w..(k + 1) * w];
            assert!((0..w).all(|c| row[c] == ef.w[c * ef.inp + k] * (1.0 / p.avg_neighbors)));
        }
    }
}
