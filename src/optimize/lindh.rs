//! The model Hessian of Lindh et al. (Chem. Phys. Lett. 241, 423 (1995)) in Cartesian
//! coordinates: every bond stretch, angle bend and torsion of a molecule, each weighted by how
//! bonded its atom pairs look, `rho_ij = exp(alpha_ij (r_ref,ij^2 - r_ij^2))` (bohr), with
//! the force constants 0.45 Eh/bohr^2, 0.15 and 0.005 Eh/rad^2 and `alpha`, `r_ref` by the
//! rows of the periodic table of the two atoms. No bond graph is needed: the weights decide.
//!
//! `H = sum_t k_t (prod rho) b_t b_t^T`, where `b_t` is the Cartesian gradient of the internal
//! coordinate `t` (Wilson's B-matrix row). Returned in eV/Å^2, `[3N, 3N]` in the flat atom-major
//! order of the positions.

use nalgebra::{DMatrix, Vector3};

/// Hartree in eV (CODATA 2018).
const HARTREE_EV: f64 = 27.211_386_245_988;
/// Bohr in Å (CODATA 2018).
const BOHR_A: f64 = 0.529_177_210_903;
/// Stretch, bend and torsion force constants, Eh/bohr^2 and Eh/rad^2.
const K_STRETCH: f64 = 0.45;
const K_BEND: f64 = 0.15;
const K_TORSION: f64 = 0.005;
/// `alpha_ij` (bohr^-2) and `r_ref,ij` (bohr) by the periodic-table rows of i and j (H-He,
/// Li-Ne, Na and beyond).
const ALPHA: [[f64; 3]; 3] = [
    [1.0, 0.3949, 0.3949],
    [0.3949, 0.28, 0.28],
    [0.3949, 0.28, 0.28],
];
const R_REF: [[f64; 3]; 3] = [[1.35, 2.10, 2.53], [2.10, 2.87, 3.40], [2.53, 3.40, 3.40]];
/// Pairs, bends and torsions whose product of weights is below this are left out (a C-C pair
/// at 3 Å has 1e-3).
const RHO_MIN: f64 = 1e-3;
/// Bends and torsions through an angle whose sine is below this (near-linear) are left out:
/// their coordinates' gradients are singular there.
const SIN_MIN: f64 = 0.1;

/// Periodic-table row index (0, 1, 2) of atomic number `z`.
fn row(z: u8) -> usize {
    match z {
        0..=2 => 0,
        3..=10 => 1,
        _ => 2,
    }
}

type V3 = Vector3<f64>;

/// Gradient (1/Å) of the distance `|x_i - x_j|` with respect to `[x_i, x_j]`.
fn stretch_gradient(xi: &V3, xj: &V3) -> [V3; 2] {
    let u = (xi - xj).normalize();
    [u, -u]
}

/// Gradient (rad/Å) of the angle i-j-k with respect to `[x_i, x_j, x_k]`; `None` when the
/// angle is near-linear ([`SIN_MIN`]).
fn bend_gradient(xi: &V3, xj: &V3, xk: &V3) -> Option<[V3; 3]> {
    let (u, v) = (xi - xj, xk - xj);
    let (lu, lv) = (u.norm(), v.norm());
    let (u, v) = (u / lu, v / lv);
    let cos = u.dot(&v);
    let sin = (1.0 - cos * cos).max(0.0).sqrt();
    if sin < SIN_MIN {
        return None;
    }
    let gi = (u * cos - v) / (lu * sin);
    let gk = (v * cos - u) / (lv * sin);
    Some([gi, -(gi + gk), gk])
}

/// Gradient (rad/Å) of the dihedral i-j-k-l with respect to `[x_i, x_j, x_k, x_l]` (Blondel
/// & Karplus, J. Comput. Chem. 17, 1132 (1996)); `None` when i-j-k or j-k-l is near-linear.
fn torsion_gradient(xi: &V3, xj: &V3, xk: &V3, xl: &V3) -> Option<[V3; 4]> {
    let (f, g, h) = (xi - xj, xj - xk, xl - xk);
    let (a, b) = (f.cross(&g), h.cross(&g));
    let (aa, bb, lg) = (a.norm_squared(), b.norm_squared(), g.norm());
    // |a| = |f| |g| sin(i-j-k), |b| = |h| |g| sin(j-k-l).
    let min = (SIN_MIN * lg).powi(2);
    if aa < min * f.norm_squared() || bb < min * h.norm_squared() {
        return None;
    }
    let df = a * (-lg / aa);
    let dh = b * (lg / bb);
    let dg = a * (f.dot(&g) / (aa * lg)) - b * (h.dot(&g) / (bb * lg));
    Some([df, dg - df, -(dg + dh), dh])
}

/// Adds `w b b^T` to `p` for a coordinate of atoms `atoms` with gradient rows `b`.
fn add_term(p: &mut DMatrix<f64>, atoms: &[usize], b: &[V3], w: f64) {
    for (&i, bi) in atoms.iter().zip(b) {
        for (&j, bj) in atoms.iter().zip(b) {
            let mut block = p.fixed_view_mut::<3, 3>(3 * i, 3 * j);
            block += bi * bj.transpose() * w;
        }
    }
}

/// The model Hessian (eV/Å^2, `[3N, 3N]`) of atoms `numbers` (`[N]`) at positions `x`
/// (Å, `[N]`).
pub(super) fn hessian(numbers: &[u8], x: &[V3]) -> DMatrix<f64> {
    let n = x.len();
    let mut p = DMatrix::<f64>::zeros(3 * n, 3 * n);
    // rho of every pair above RHO_MIN, as neighbour lists.
    let mut nbrs: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..i {
            let r2 = (x[i] - x[j]).norm_squared() / (BOHR_A * BOHR_A);
            let (ri, rj) = (row(numbers[i]), row(numbers[j]));
            let rho = (ALPHA[ri][rj] * (R_REF[ri][rj].powi(2) - r2)).exp();
            if rho > RHO_MIN && r2 > 0.0 {
                nbrs[i].push((j, rho));
                nbrs[j].push((i, rho));
            }
        }
    }
    let k_stretch = K_STRETCH * HARTREE_EV / (BOHR_A * BOHR_A);
    let (k_bend, k_torsion) = (K_BEND * HARTREE_EV, K_TORSION * HARTREE_EV);
    for i in 0..n {
        for &(j, rho) in nbrs[i].iter().filter(|&&(j, _)| j < i) {
            add_term(
                &mut p,
                &[i, j],
                &stretch_gradient(&x[i], &x[j]),
                k_stretch * rho,
            );
        }
    }
    // Bends i-j-k (i < k) around every centre j.
    for j in 0..n {
        for (a, &(i, rij)) in nbrs[j].iter().enumerate() {
            for &(k, rjk) in &nbrs[j][a + 1..] {
                let w = rij * rjk;
                if w < RHO_MIN {
                    continue;
                }
                if let Some(b) = bend_gradient(&x[i], &x[j], &x[k]) {
                    add_term(&mut p, &[i, j, k], &b, k_bend * w);
                }
            }
        }
    }
    // Torsions i-j-k-l around every central pair j-k (j < k).
    for j in 0..n {
        for &(k, rjk) in nbrs[j].iter().filter(|&&(k, _)| j < k) {
            for &(i, rij) in nbrs[j].iter().filter(|&&(i, _)| i != k) {
                if rij * rjk < RHO_MIN {
                    continue;
                }
                for &(l, rkl) in nbrs[k].iter().filter(|&&(l, _)| l != j && l != i) {
                    let w = rij * rjk * rkl;
                    if w < RHO_MIN {
                        continue;
                    }
                    if let Some(b) = torsion_gradient(&x[i], &x[j], &x[k], &x[l]) {
                        add_term(&mut p, &[i, j, k, l], &b, k_torsion * w);
                    }
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of `f` at the atoms' positions, against `grad`.
    fn check_gradient(f: impl Fn(&[V3]) -> f64, x: &[V3], grad: &[V3]) {
        let h = 1e-6;
        for (atom, g) in grad.iter().enumerate() {
            for a in 0..3 {
                let mut xp = x.to_vec();
                let mut xm = x.to_vec();
                xp[atom][a] += h;
                xm[atom][a] -= h;
                let fd = (f(&xp) - f(&xm)) / (2.0 * h);
                assert!(
                    (fd - g[a]).abs() < 1e-6,
                    "atom {atom} axis {a}: {fd} vs {}",
                    g[a]
                );
            }
        }
    }

    fn angle(x: &[V3]) -> f64 {
        (x[0] - x[1]).angle(&(x[2] - x[1]))
    }

    fn dihedral(x: &[V3]) -> f64 {
        let (f, g, h) = (x[0] - x[1], x[1] - x[2], x[3] - x[2]);
        let (a, b) = (f.cross(&g), h.cross(&g));
        (b.cross(&a).dot(&g) / g.norm()).atan2(a.dot(&b))
    }

    fn atoms(rows: &[[f64; 3]]) -> Vec<V3> {
        rows.iter().map(|&r| V3::from(r)).collect()
    }

    #[test]
    fn internal_coordinate_gradients_match_finite_differences() {
        let x = atoms(&[
            [0.1, 1.2, -0.3],
            [0.0, 0.0, 0.0],
            [1.5, 0.1, 0.2],
            [2.0, 1.0, 1.1],
        ]);
        let dist = |x: &[V3]| (x[0] - x[1]).norm();
        check_gradient(dist, &x[..2], &stretch_gradient(&x[0], &x[1]));
        let bend = bend_gradient(&x[0], &x[1], &x[2]).unwrap();
        check_gradient(angle, &x[..3], &bend);
        let torsion = torsion_gradient(&x[0], &x[1], &x[2], &x[3]).unwrap();
        check_gradient(dihedral, &x, &torsion);
        // Near-linear bends have none.
        let line = atoms(&[[-1.0, 0.0, 0.0], [0.0; 3], [1.0, 0.01, 0.0]]);
        assert!(bend_gradient(&line[0], &line[1], &line[2]).is_none());
    }

    #[test]
    fn hessian_is_symmetric_positive_semidefinite_and_invariant() {
        // Ethanol-like: C C O H H H H H H.
        let numbers = [6, 6, 8, 1, 1, 1, 1, 1, 1];
        let x = atoms(&[
            [0.0, 0.0, 0.0],
            [1.52, 0.0, 0.0],
            [2.0, 1.35, 0.0],
            [-0.36, -1.03, 0.0],
            [-0.36, 0.51, 0.89],
            [-0.36, 0.51, -0.89],
            [1.89, -0.51, 0.89],
            [1.89, -0.51, -0.89],
            [2.96, 1.33, 0.0],
        ]);
        let p = hessian(&numbers, &x);
        assert!((&p - p.transpose()).amax() < 1e-12);
        let eig = p.clone().symmetric_eigenvalues();
        assert!(eig.min() > -1e-9, "{eig}");
        // Translations are zero modes.
        let t = nalgebra::DVector::from_fn(27, |k, _| if k % 3 == 0 { 1.0 } else { 0.0 });
        assert!((&p * t).amax() < 1e-9);
        // The C-C stretch is stiff (tens of eV/Å^2), a torsion soft.
        assert!(eig.max() > 20.0);
    }
}
