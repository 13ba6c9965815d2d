//! The Exp preconditioner of Packwood et al. (J. Chem. Phys. 144, 164109 (2016); ASE's
//! `PreconLBFGS`) for open systems: a sparse "Laplacian" over atom pairs closer than twice the
//! nearest-neighbour distance `r_nn`, weighted `exp(-A (r / r_nn - 1))`, plus `C_STAB` on the
//! diagonal. It models the Hessian's connectivity (stiff bonds, soft collective motions), so
//! L-BFGS started from it (`H0 = gamma P^-1`) needs fewer steps on molecules than from a
//! multiple of the identity.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// Decay of the pair weights with distance (ASE's `A`).
const A: f64 = 3.0;
/// Diagonal stabilisation (ASE's `c_stab`), in units of a nearest-neighbour pair's weight.
const C_STAB: f64 = 0.1;
/// Largest system preconditioned (the factorisation is dense, O(N^3)).
pub const MAX_ATOMS: usize = 300;

/// A factorised preconditioner `P` (`[N, N]`, acting on each Cartesian component alike).
pub(super) struct Precon {
    chol: Cholesky<f64, Dyn>,
    n: usize,
}

impl Precon {
    /// `P` at flat positions `x` (`[3N]`, Å); `None` for fewer than 2 or more than
    /// [`MAX_ATOMS`] atoms, or overlapping atoms.
    pub(super) fn new(x: &DVector<f64>) -> Option<Precon> {
        let n = x.len() / 3;
        if !(2..=MAX_ATOMS).contains(&n) {
            return None;
        }
        // Distances of the pairs (i, j < i), row by row.
        let mut pairs = Vec::with_capacity(n * (n - 1) / 2);
        let mut nearest = vec![f64::INFINITY; n];
        for i in 0..n {
            for j in 0..i {
                let r = (0..3)
                    .map(|a| (x[3 * i + a] - x[3 * j + a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                nearest[i] = nearest[i].min(r);
                nearest[j] = nearest[j].min(r);
                pairs.push((i, j, r));
            }
        }
        nearest.sort_by(f64::total_cmp);
        let r_nn = nearest[n / 2];
        if !(r_nn > 1e-3 && r_nn.is_finite()) {
            return None;
        }
        let mut p = DMatrix::<f64>::identity(n, n) * C_STAB;
        for &(i, j, r) in pairs.iter().filter(|p| p.2 < 2.0 * r_nn) {
            let w = (-A * (r / r_nn - 1.0)).exp();
            p[(i, j)] -= w;
            p[(j, i)] -= w;
            p[(i, i)] += w;
            p[(j, j)] += w;
        }
        Some(Precon {
            chol: Cholesky::new(p)?,
            n,
        })
    }

    /// `P^-1 q` for a flat `q` (`[3N]`).
    pub(super) fn solve(&self, q: &DVector<f64>) -> DVector<f64> {
        let m = DMatrix::from_row_slice(self.n, 3, q.as_slice());
        // `[N, 3]` column-major: its transpose's storage is the flat `[3N]` order.
        DVector::from_column_slice(self.chol.solve(&m).transpose().as_slice())
    }

    /// `q . P^-1 q`.
    pub(super) fn norm2(&self, q: &DVector<f64>) -> f64 {
        q.dot(&self.solve(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precon_is_symmetric_positive_definite_and_solves() {
        // A bent triatomic and a far atom (outside every cutoff: only the stabiliser).
        let x = DVector::from_vec(vec![
            0.0, 0.0, 0.0, 0.96, 0.0, 0.0, -0.24, 0.93, 0.0, 9.0, 9.0, 9.0,
        ]);
        let p = Precon::new(&x).expect("a preconditioner");
        let q = DVector::from_vec((0..12).map(|k| (k as f64 * 0.7).sin()).collect());
        let s = p.solve(&q);
        assert!(p.norm2(&q) > 0.0);
        // P s = q, rebuilt from the factor.
        let m = DMatrix::from_row_slice(4, 3, s.as_slice());
        let back = p.chol.l() * p.chol.l().transpose() * m;
        let q_m = DMatrix::from_row_slice(4, 3, q.as_slice());
        assert!((back - q_m).amax() < 1e-10);
        // The far atom is only stabilised: P^-1 scales its rows by 1 / C_STAB.
        assert!((s[9] - q[9] / C_STAB).abs() < 1e-10);
    }

    #[test]
    fn too_small_too_large_or_overlapping_systems_have_none() {
        assert!(Precon::new(&DVector::zeros(3)).is_none());
        assert!(Precon::new(&DVector::zeros(3 * (MAX_ATOMS + 1))).is_none());
        assert!(Precon::new(&DVector::zeros(6)).is_none());
    }
}
