//! Radial features of an edge: a Bessel basis multiplied by a smooth polynomial envelope
//! that goes to zero, with its first and second derivatives, at the cutoff.

use tch::Tensor;

use crate::error::Result;

/// Bessel radial basis `sqrt(2/rc) sin(n pi r / rc) / r`, `n = 1..=n_basis`, times the
/// polynomial envelope of order `p` (DimeNet), which makes energies and forces smooth at the cutoff.
#[derive(Debug, Clone, Copy)]
pub struct RadialBasis {
    /// Cutoff radius in Å.
    pub cutoff: f64,
    /// Number of basis functions.
    pub n_basis: i64,
    /// Order of the polynomial envelope.
    pub envelope_p: i64,
}

impl RadialBasis {
    /// The envelope `u(r)` for distances `r` in Å, `[E]` -> `[E]`; zero at and beyond the cutoff.
    pub fn envelope(&self, r: &Tensor) -> Result<Tensor> {
        let p = self.envelope_p as f64;
        let d = (r / self.cutoff).f_clamp_max(1.0)?;
        let dp = d.f_pow_tensor_scalar(p)?;
        let u = 1.0 - (p + 1.0) * (p + 2.0) / 2.0 * &dp + p * (p + 2.0) * (&dp * &d)
            - p * (p + 1.0) / 2.0 * (&dp * &d * &d);
        Ok(u)
    }

    /// Basis values for distances `r` in Å, `[E]` -> `[E, n_basis]`, without the envelope
    /// (multiply the filter built from them by [`RadialBasis::envelope`], so that learned
    /// biases vanish at the cutoff too).
    pub fn forward(&self, r: &Tensor) -> Result<Tensor> {
        let n = Tensor::f_arange_start(1, self.n_basis + 1, (r.kind(), r.device()))?;
        let arg = r.f_unsqueeze(-1)? * (&n * (std::f64::consts::PI / self.cutoff));
        let bessel = arg.f_sin()? / r.f_unsqueeze(-1)? * (2.0 / self.cutoff).sqrt();
        Ok(bessel)
    }
}

/// Zero-safe Euclidean norm over the last dimension, `[..., 3]` -> `[...]`: finite gradients
/// (and second derivatives) even for zero vectors.
pub fn safe_norm(x: &Tensor, eps: f64) -> Result<Tensor> {
    Ok((x.f_square()?.f_sum_dim_intlist(-1, false, x.kind())? + eps).f_sqrt()?)
}
