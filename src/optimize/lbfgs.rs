//! L-BFGS (Nocedal & Wright, *Numerical Optimization*, algorithm 7.4) with a backtracking
//! line search, optionally preconditioned for open systems of atoms ([`super::precon`]).
//!
//! The direction `d = -H g` comes from the two-loop recursion over the last `memory` pairs
//! `s = x_{k+1} - x_k`, `y = g_{k+1} - g_k` (pairs with `s.y <= 0` are skipped, keeping `H`
//! positive definite), with `H0 = (s.y / y.y) I` from the latest pair, or `I / 70` (ASE's
//! initial curvature of 70 eV/Å²) when there is none; preconditioned, `H0 = P^-1`. `d` is
//! scaled so that no atom moves more than `max_step`. The step `alpha d` starts at
//! `alpha = 1` and backtracks (quadratic interpolation, `alpha` shrinks by 2 to 10 per try)
//! until the Armijo condition
//! `E(x + alpha d) <= E(x) + 1e-4 alpha g.d + tol` holds, `tol` being the objective's
//! [`energy tolerance`](super::Objective::energy_tolerance). After 10 failed tries the memory
//! is cleared and the step retried along `-g`; if that fails too, the search stops
//! (`converged = false`). Only accepted steps count as steps; every trial is a force call.

use std::collections::VecDeque;

use nalgebra::DVector;

use super::precon::{Precon, REBUILD_DISTANCE};
use super::{cap_step, max_atom_norm, Counted, Objective, OptimizeOptions, Point};
use crate::error::Result;

/// Armijo sufficient-decrease constant.
const C1: f64 = 1e-4;
/// Line-search trials before giving up on a direction.
const MAX_TRIES: usize = 10;
/// Initial inverse-Hessian guess without history, Å²/eV (ASE's `1/alpha`, alpha = 70 eV/Å²).
const H0: f64 = 1.0 / 70.0;

/// Runs L-BFGS from `p`; returns the last accepted point and the number of accepted steps.
pub(super) fn run<O: Objective + ?Sized>(
    f: &mut Counted<'_, O>,
    mut p: Point,
    opts: &OptimizeOptions,
) -> Result<(Point, usize)> {
    let mut hist: VecDeque<(DVector<f64>, DVector<f64>, f64)> = VecDeque::new();
    let mut steps = 0;
    let numbers = f
        .open_system_numbers()
        .filter(|_| opts.precondition)
        .map(<[u8]>::to_vec);
    // The preconditioner and the positions it was built at.
    let mut precon: Option<(Precon, DVector<f64>)> = None;
    while steps < opts.max_steps && max_atom_norm(&p.g) >= opts.fmax {
        let stale = precon
            .as_ref()
            .is_none_or(|(_, at)| max_atom_norm(&(&p.x - at)) > REBUILD_DISTANCE);
        if stale {
            precon = numbers
                .as_deref()
                .and_then(|z| Precon::new(&p.x, z))
                .map(|q| (q, p.x.clone()));
        }
        let mut d = direction(&p.g, &hist, precon.as_ref().map(|p| &p.0));
        if d.dot(&p.g) >= 0.0 {
            hist.clear();
            d = -&p.g * H0;
        }
        cap_step(&mut d, opts.max_step);
        let slope = d.dot(&p.g);
        let tol = f.energy_tolerance(p.e);
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_TRIES {
            let x = &p.x + &d * alpha;
            let (e, g) = f.eval(&x, steps + 1)?;
            if e <= p.e + C1 * alpha * slope + tol {
                accepted = Some(Point { x, e, g });
                break;
            }
            // Minimum of the quadratic through E(0), E'(0) and E(alpha), kept in [0.1, 0.5] alpha.
            let curv = e - p.e - slope * alpha;
            let next = -slope * alpha * alpha / (2.0 * curv);
            alpha = next.clamp(0.1 * alpha, 0.5 * alpha);
        }
        match accepted {
            Some(q) => {
                let s = &q.x - &p.x;
                let y = &q.g - &p.g;
                let sy = s.dot(&y);
                if sy > 1e-12 * s.norm() * y.norm() {
                    if hist.len() == opts.memory {
                        hist.pop_front();
                    }
                    hist.push_back((s, y, 1.0 / sy));
                }
                p = q;
                steps += 1;
            }
            None if hist.is_empty() => break,
            None => hist.clear(),
        }
    }
    Ok((p, steps))
}

/// `-H g` by the two-loop recursion over `hist` (oldest first) of `(s, y, 1 / s.y)`, from
/// `H0 = gamma I` (`gamma = s.y / y.y` of the latest pair; without one, [`H0`]) or, with a
/// preconditioner, `H0 = P^-1` (a model Hessian in eV/Å², needing no scale).
fn direction(
    g: &DVector<f64>,
    hist: &VecDeque<(DVector<f64>, DVector<f64>, f64)>,
    precon: Option<&Precon>,
) -> DVector<f64> {
    let mut q = g.clone();
    let mut alphas = Vec::with_capacity(hist.len());
    for (s, y, rho) in hist.iter().rev() {
        let a = rho * s.dot(&q);
        q.axpy(-a, y, 1.0);
        alphas.push(a);
    }
    match precon {
        Some(p) => q = p.solve(&q),
        None => {
            let h0 = match hist.back() {
                Some((s, y, _)) => s.dot(y) / y.dot(y),
                None => H0,
            };
            q *= h0;
        }
    }
    for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
        let b = rho * y.dot(&q);
        q.axpy(a - b, s, 1.0);
    }
    -q
}
