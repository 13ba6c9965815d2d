//! Radial features of an edge with their derivatives, in float64: the Bessel basis
//! `sqrt(2/rc) sin(n pi r / rc) / r` (n = 1..=K) and the polynomial envelope of order p
//! (the same functions as [`crate::model::radial`], written out with their derivatives).
// Kernels index several parallel arrays with one loop variable; iterators would hide that.
#![allow(clippy::needless_range_loop)]

/// Bessel basis and envelope of one cutoff.
#[derive(Debug, Clone, Copy)]
pub struct Radial {
    /// Cutoff, Å.
    pub cutoff: f64,
    /// Number of basis functions K.
    pub n_basis: usize,
    /// Envelope order p.
    pub p: i32,
}

impl Radial {
    /// The envelope `u(r)` and `du/dr` (1/Å); both zero at and beyond the cutoff.
    pub fn envelope(&self, r: f64) -> (f64, f64) {
        let t = r / self.cutoff;
        if t >= 1.0 {
            return (0.0, 0.0);
        }
        let p = f64::from(self.p);
        let (a, b, c) = (
            (p + 1.0) * (p + 2.0) / 2.0,
            p * (p + 2.0),
            p * (p + 1.0) / 2.0,
        );
        let tp1 = t.powi(self.p - 1);
        let tp = tp1 * t;
        let u = 1.0 - a * tp + b * tp * t - c * tp * t * t;
        let du = -a * p * tp1 + b * (p + 1.0) * tp - c * (p + 2.0) * tp * t;
        (u, du / self.cutoff)
    }

    /// Writes the basis values `[K]` and their derivatives with respect to `r` `[K]` (1/Å²)
    /// for a distance `r` > 0 (Å). `sin(n x)`, `cos(n x)` come from the Chebyshev recurrence
    /// (two transcendental calls per edge instead of 2K; error ~K ulp).
    pub fn basis(&self, r: f64, values: &mut [f64], derivs: &mut [f64]) {
        let w = std::f64::consts::PI / self.cutoff;
        let norm = (2.0 / self.cutoff).sqrt();
        let (s1, c1) = (w * r).sin_cos();
        let (mut s_prev, mut c_prev) = (0.0, 1.0);
        let (mut s, mut c) = (s1, c1);
        let inv_r = 1.0 / r;
        for n in 0..self.n_basis {
            let k = (n + 1) as f64 * w;
            values[n] = norm * s * inv_r;
            derivs[n] = norm * (k * c - s * inv_r) * inv_r;
            let (s_next, c_next) = (2.0 * c1 * s - s_prev, 2.0 * c1 * c - c_prev);
            (s_prev, c_prev, s, c) = (s, c, s_next, c_next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let rad = Radial {
            cutoff: 5.0,
            n_basis: 16,
            p: 6,
        };
        let (mut v0, mut d0) = (vec![0.0; 16], vec![0.0; 16]);
        let (mut vp, mut vm, mut scratch) = (vec![0.0; 16], vec![0.0; 16], vec![0.0; 16]);
        for &r in &[0.3, 1.1, 2.7, 4.9] {
            let h = 1e-6;
            rad.basis(r, &mut v0, &mut d0);
            rad.basis(r + h, &mut vp, &mut scratch);
            rad.basis(r - h, &mut vm, &mut scratch);
            for n in 0..16 {
                let exact = (2.0f64 / 5.0).sqrt()
                    * ((n + 1) as f64 * std::f64::consts::PI * r / 5.0).sin()
                    / r;
                assert!((v0[n] - exact).abs() < 1e-13, "{n} {r}");
                let fd = (vp[n] - vm[n]) / (2.0 * h);
                assert!(
                    (d0[n] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{n} {r}: {} {fd}",
                    d0[n]
                );
            }
            let (u, du) = rad.envelope(r);
            let fd = (rad.envelope(r + h).0 - rad.envelope(r - h).0) / (2.0 * h);
            assert!((du - fd).abs() < 1e-7, "{r}: {du} {fd}");
            assert!((0.0..=1.0).contains(&u));
        }
        assert_eq!(rad.envelope(5.0), (0.0, 0.0));
    }
}
