//! The L-BFGS preconditioner of open systems of atoms: the model Hessian of Lindh et al.
//! ([`super::lindh`]) plus [`C_STAB`] on the diagonal, factorised. It knows which atoms are
//! bonded and that bonds are stiff, angles softer and torsions softest, so L-BFGS started from
//! it (`H0 = P^-1`) needs about half the force calls of the Exp preconditioner (Packwood et
//! al. 2016, which weights pairs by distance alone) on generated molecules, and a quarter of
//! plain L-BFGS's from MMFF structures (docs/runtime.md, "Relaxation from a model Hessian").

use nalgebra::{Cholesky, DMatrix, DVector, Dyn, Vector3};

/// Diagonal stabilisation, eV/Å²: the model Hessian is singular along rigid motions and
/// nearly so between parts that no term ties together. A torsion's stiffness is ~0.1 eV/Å²,
/// a bond's ~40.
const C_STAB: f64 = 0.5;
/// Largest system preconditioned (the factorisation is dense, O(N^3) in `3N`).
pub const MAX_ATOMS: usize = 300;
/// L-BFGS rebuilds the preconditioner once an atom has moved this far since its last build,
/// Å (building it every step gives the same number of force calls and costs ~15 % of the
/// time on drug-sized molecules).
pub(super) const REBUILD_DISTANCE: f64 = 0.2;

/// A factorised preconditioner `P` (`[3N, 3N]`, eV/Å²).
pub(super) struct Precon {
    chol: Cholesky<f64, Dyn>,
}

impl Precon {
    /// `P` for atoms `numbers` (`[N]`) at flat positions `x` (`[3N]`, Å); `None` for fewer
    /// than 2 or more than [`MAX_ATOMS`] atoms, or when it cannot be factorised (non-finite
    /// positions).
    pub(super) fn new(x: &DVector<f64>, numbers: &[u8]) -> Option<Precon> {
        let n = numbers.len();
        if !(2..=MAX_ATOMS).contains(&n) || x.len() != 3 * n {
            return None;
        }
        let atoms: Vec<Vector3<f64>> = x
            .as_slice()
            .chunks_exact(3)
            .map(Vector3::from_column_slice)
            .collect();
        let p = super::lindh::hessian(numbers, &atoms)
            + DMatrix::<f64>::identity(3 * n, 3 * n) * C_STAB;
        Some(Precon {
            chol: Cholesky::new(p)?,
        })
    }

    /// `P^-1 q` for a flat `q` (`[3N]`).
    pub(super) fn solve(&self, q: &DVector<f64>) -> DVector<f64> {
        self.chol.solve(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precon_is_symmetric_positive_definite_and_solves() {
        // A bent water and a far hydrogen atom (no term: only the stabiliser).
        let x = DVector::from_vec(vec![
            0.0, 0.0, 0.0, 0.96, 0.0, 0.0, -0.24, 0.93, 0.0, 9.0, 9.0, 9.0,
        ]);
        let p = Precon::new(&x, &[8, 1, 1, 1]).expect("a preconditioner");
        let q = DVector::from_vec((0..12).map(|k| (k as f64 * 0.7).sin()).collect());
        let s = p.solve(&q);
        assert!(q.dot(&s) > 0.0);
        let back = p.chol.l() * p.chol.l().transpose() * &s;
        assert!((back - &q).amax() < 1e-10);
        // The far atom is only stabilised: P^-1 scales its components by 1 / C_STAB.
        assert!((s[9] - q[9] / C_STAB).abs() < 1e-10);
        // The O-H bonds are stiff: a stretch moves less than a free atom would.
        assert!(s[3].abs() < (q[3] / C_STAB).abs());
    }

    #[test]
    fn too_small_too_large_or_mismatched_systems_have_none() {
        assert!(Precon::new(&DVector::zeros(3), &[1]).is_none());
        let many = [1; MAX_ATOMS + 1];
        assert!(Precon::new(&DVector::zeros(3 * many.len()), &many).is_none());
        assert!(Precon::new(&DVector::zeros(9), &[1, 1]).is_none());
    }
}
