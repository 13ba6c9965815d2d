//! Gaussian noise of the diffusion model, drawn the one way both the sampler
//! ([`crate::generate`]) and the generator's training losses draw it, so that seeds mean the
//! same thing in both.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One standard-normal sample (Box-Muller, cosine branch) from `rng`.
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mean_zero_variance_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let v: Vec<f64> = (0..200_000).map(|_| standard_normal(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
    }
}
