//! Physics of the potential, checked the way trusted codes check it: finite-difference forces
//! and virial in float64, rotation/translation/permutation symmetry, periodic images versus
//! explicit ghost atoms.

#![cfg(feature = "torch")]

mod common;

use common::{random_molecule, random_potential, random_rotation, rotate};
use concord::model::evaluate::Request;
use concord::model::Precision;

const ALL: Request = Request::ALL;

#[test]
fn forces_match_finite_differences() {
    let pot = random_potential(Precision::Float64, 1);
    let (z, x) = random_molecule(10, 4.0, 2);
    let p = pot.compute(&z, &x, None, [false; 3], ALL).unwrap();
    let f = p.forces.unwrap();
    let h = 1e-5;
    let mut max_err: f64 = 0.0;
    for i in 0..z.len() {
        for a in 0..3 {
            let mut xp = x.clone();
            xp[i][a] += h;
            let mut xm = x.clone();
            xm[i][a] -= h;
            let ep = pot
                .compute(&z, &xp, None, [false; 3], Request::default())
                .unwrap()
                .energy;
            let em = pot
                .compute(&z, &xm, None, [false; 3], Request::default())
                .unwrap()
                .energy;
            let fd = -(ep - em) / (2.0 * h);
            max_err = max_err.max((fd - f[i][a]).abs());
        }
    }
    let fmax = f.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(fmax > 1e-3, "forces should not vanish ({fmax})");
    assert!(max_err < 1e-6 * (1.0 + fmax), "max |F - F_fd| = {max_err}");
}

fn strained(
    x: &[[f64; 3]],
    cell: &[[f64; 3]; 3],
    eps: &[[f64; 3]; 3],
) -> (Vec<[f64; 3]>, [[f64; 3]; 3]) {
    let apply = |v: &[f64; 3]| -> [f64; 3] {
        std::array::from_fn(|a| v[a] + (0..3).map(|b| eps[a][b] * v[b]).sum::<f64>())
    };
    (
        x.iter().map(apply).collect(),
        [apply(&cell[0]), apply(&cell[1]), apply(&cell[2])],
    )
}

#[test]
fn virial_matches_finite_strain_derivative() {
    let pot = random_potential(Precision::Float64, 3);
    let (z, x) = random_molecule(12, 5.0, 4);
    let cell = [[5.5, 0.0, 0.0], [0.8, 5.2, 0.0], [-0.4, 0.6, 5.8]];
    let p = pot.compute(&z, &x, Some(&cell), [true; 3], ALL).unwrap();
    let w = p.virial.unwrap();
    let h = 1e-5;
    for a in 0..3 {
        for b in 0..3 {
            let mut e = [[0.0; 3]; 3];
            e[a][b] = h;
            let (xp, cp) = strained(&x, &cell, &e);
            e[a][b] = -h;
            let (xm, cm) = strained(&x, &cell, &e);
            let ep = pot
                .compute(&z, &xp, Some(&cp), [true; 3], Request::default())
                .unwrap()
                .energy;
            let em = pot
                .compute(&z, &xm, Some(&cm), [true; 3], Request::default())
                .unwrap()
                .energy;
            let fd = -(ep - em) / (2.0 * h);
            assert!(
                (fd - w[a][b]).abs() < 1e-5 * (1.0 + w[a][b].abs()),
                "W[{a}][{b}] = {} vs fd {fd}",
                w[a][b]
            );
        }
    }
    // Per-atom virials sum to the global virial; per-atom energies sum to the energy.
    let wa = p.atom_virial.unwrap();
    for a in 0..3 {
        for b in 0..3 {
            let s: f64 = wa.iter().map(|m| m[a][b]).sum();
            assert!((s - w[a][b]).abs() < 1e-9 * (1.0 + w[a][b].abs()));
        }
    }
    let es: f64 = p.atom_energies.unwrap().iter().sum();
    assert!((es - p.energy).abs() < 1e-9 * p.energy.abs());
}

#[test]
fn energy_invariant_and_forces_equivariant_under_rotation_and_translation() {
    let pot = random_potential(Precision::Float64, 5);
    let (z, x) = random_molecule(14, 5.0, 6);
    let p = pot.compute(&z, &x, None, [false; 3], ALL).unwrap();
    let r = random_rotation(7);
    let shift = [3.3, -12.0, 0.7];
    let xr: Vec<[f64; 3]> = x
        .iter()
        .map(|v| {
            let y = rotate(&r, v);
            std::array::from_fn(|a| y[a] + shift[a])
        })
        .collect();
    let q = pot.compute(&z, &xr, None, [false; 3], ALL).unwrap();
    assert!(
        (p.energy - q.energy).abs() < 1e-9 * p.energy.abs(),
        "{} vs {}",
        p.energy,
        q.energy
    );
    for (f, g) in p.forces.unwrap().iter().zip(q.forces.unwrap()) {
        let fr = rotate(&r, f);
        for a in 0..3 {
            assert!(
                (fr[a] - g[a]).abs() < 1e-8,
                "force not equivariant: {fr:?} vs {g:?}"
            );
        }
    }
    // A reflection (improper rotation) also leaves the energy unchanged (E(3) symmetry).
    let xm: Vec<[f64; 3]> = x.iter().map(|v| [-v[0], v[1], v[2]]).collect();
    let m = pot
        .compute(&z, &xm, None, [false; 3], Request::default())
        .unwrap();
    assert!((p.energy - m.energy).abs() < 1e-9 * p.energy.abs());
}

#[test]
fn permuting_atoms_permutes_forces() {
    let pot = random_potential(Precision::Float64, 8);
    let (z, x) = random_molecule(9, 4.0, 9);
    let perm = [3usize, 0, 8, 5, 1, 7, 2, 6, 4];
    let zp: Vec<u8> = perm.iter().map(|&i| z[i]).collect();
    let xp: Vec<[f64; 3]> = perm.iter().map(|&i| x[i]).collect();
    let p = pot.compute(&z, &x, None, [false; 3], ALL).unwrap();
    let q = pot.compute(&zp, &xp, None, [false; 3], ALL).unwrap();
    assert!((p.energy - q.energy).abs() < 1e-9 * p.energy.abs());
    let (fp, fq) = (p.forces.unwrap(), q.forces.unwrap());
    for (k, &i) in perm.iter().enumerate() {
        for a in 0..3 {
            assert!((fp[i][a] - fq[k][a]).abs() < 1e-9);
        }
    }
}

#[test]
fn periodic_images_equal_explicit_ghost_atoms() {
    // A periodic box computed with the cell must equal an engine-style computation with
    // explicit ghost images within the receptive field, energy summed over local atoms only.
    let pot = random_potential(Precision::Float64, 10);
    let (z, x) = random_molecule(16, 6.0, 11);
    let l = 6.5;
    let cell = [[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]];
    let p = pot.compute(&z, &x, Some(&cell), [true; 3], ALL).unwrap();
    let rc = pot.receptive_field();
    let (mut zz, mut xx, mut owner) = (z.clone(), x.clone(), (0..z.len()).collect::<Vec<_>>());
    let n = (rc / l).ceil() as i32 + 1;
    for i in -n..=n {
        for j in -n..=n {
            for k in -n..=n {
                if (i, j, k) == (0, 0, 0) {
                    continue;
                }
                for (a, v) in x.iter().enumerate() {
                    let y = [
                        v[0] + i as f64 * l,
                        v[1] + j as f64 * l,
                        v[2] + k as f64 * l,
                    ];
                    let inside = (0..3).all(|d| y[d] > -rc && y[d] < l + rc);
                    if inside {
                        zz.push(z[a]);
                        xx.push(y);
                        owner.push(a);
                    }
                }
            }
        }
    }
    let q = pot.compute_local(&zz, &xx, z.len(), None, ALL).unwrap();
    assert!(
        (p.energy - q.energy).abs() < 1e-9 * p.energy.abs(),
        "{} vs {}",
        p.energy,
        q.energy
    );
    let mut folded = vec![[0.0; 3]; z.len()];
    for (g, f) in q.forces.unwrap().iter().enumerate() {
        for a in 0..3 {
            folded[owner[g]][a] += f[a];
        }
    }
    for (f, g) in p.forces.unwrap().iter().zip(&folded) {
        for a in 0..3 {
            assert!((f[a] - g[a]).abs() < 1e-8, "{f:?} vs {g:?}");
        }
    }
    let (wp, wq) = (p.virial.unwrap(), q.virial.unwrap());
    for a in 0..3 {
        for b in 0..3 {
            assert!((wp[a][b] - wq[a][b]).abs() < 1e-8 * (1.0 + wp[a][b].abs()));
        }
    }
}

#[test]
fn float32_agrees_with_float64() {
    let p64 = random_potential(Precision::Float64, 12);
    let p32 = random_potential(Precision::Float32, 12);
    let (z, x) = random_molecule(10, 4.0, 13);
    let a = p64.compute(&z, &x, None, [false; 3], ALL).unwrap();
    let b = p32.compute(&z, &x, None, [false; 3], ALL).unwrap();
    assert!((a.energy - b.energy).abs() < 1e-5 * a.energy.abs());
    for (f, g) in a.forces.unwrap().iter().zip(b.forces.unwrap()) {
        for k in 0..3 {
            assert!((f[k] - g[k]).abs() < 1e-3 * (1.0 + f[k].abs()));
        }
    }
}

#[test]
fn energy_and_forces_are_continuous_at_the_cutoff() {
    // An atom crossing the cutoff of another: energy and forces change smoothly.
    let pot = random_potential(Precision::Float64, 14);
    let rc = pot.cutoff();
    let z = [6u8, 8];
    let at = |r: f64| {
        let p = pot
            .compute(&z, &[[0.0; 3], [r, 0.0, 0.0]], None, [false; 3], ALL)
            .unwrap();
        (p.energy, p.forces.unwrap()[1][0])
    };
    let (e_in, f_in) = at(rc - 1e-7);
    let (e_out, f_out) = at(rc + 1e-7);
    assert!(
        (e_in - e_out).abs() < 1e-9,
        "energy jumps by {}",
        e_in - e_out
    );
    assert!(
        (f_in - f_out).abs() < 1e-7,
        "force jumps by {}",
        f_in - f_out
    );
    assert_eq!(f_out, 0.0);
}
