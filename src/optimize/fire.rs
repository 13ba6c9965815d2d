//! FIRE (Bitzek, Koskinen, Gähler, Moseler, Gumbsch, PRL 97, 170201 (2006)) in ASE's form:
//! unit masses and ASE's time unit, so `v += dt F` and `dx = dt v` (`dt^2` in Å²/eV).
//!
//! Each step: if `P = F.v > 0`, mix `v <- (1 - a) v + a |v| F/|F|` and, after more than `n_min`
//! such steps in a row, grow `dt` (by `f_inc`, up to `dt_max`) and shrink `a` (by `f_a`);
//! otherwise stop (`v = 0`), reset `a = a_start` and shrink `dt` (by `f_dec`). Then
//! `v += dt F`, `dx = dt v`, capped so that no atom moves more than `max_step` (ASE caps the
//! norm of the whole `dx` instead). One force call per step.

use super::{cap_step, Counted, Objective, OptimizeOptions, Point};
use crate::error::Result;

/// FIRE parameters; the defaults are ASE's (`ase.optimize.FIRE`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FireParams {
    /// Initial time step, ASE time units (Å (amu/eV)^½ with unit mass). Default 0.1.
    pub dt: f64,
    /// Largest time step, same units. Default 1.0.
    pub dt_max: f64,
    /// Uphill-free steps before `dt` may grow. Default 5.
    pub n_min: usize,
    /// Time-step growth factor. Default 1.1.
    pub f_inc: f64,
    /// Time-step shrink factor after an uphill step. Default 0.5.
    pub f_dec: f64,
    /// Initial (and reset) velocity-mixing parameter. Default 0.1.
    pub a_start: f64,
    /// Mixing-parameter decay factor. Default 0.99.
    pub f_a: f64,
}

impl Default for FireParams {
    fn default() -> Self {
        FireParams {
            dt: 0.1,
            dt_max: 1.0,
            n_min: 5,
            f_inc: 1.1,
            f_dec: 0.5,
            a_start: 0.1,
            f_a: 0.99,
        }
    }
}

/// Runs FIRE from `p`; returns the last point and the number of steps.
pub(super) fn run<O: Objective + ?Sized>(
    f: &mut Counted<'_, O>,
    mut p: Point,
    opts: &OptimizeOptions,
) -> Result<(Point, usize)> {
    let par = &opts.fire;
    let mut v = p.g.clone() * 0.0;
    let mut dt = par.dt;
    let mut a = par.a_start;
    let mut n_pos = 0;
    for step in 1..=opts.max_steps {
        if super::max_atom_norm(&p.g) < opts.fmax {
            return Ok((p, step - 1));
        }
        let force = -&p.g;
        if step > 1 {
            let power = force.dot(&v);
            if power > 0.0 {
                let scale = v.norm() / force.norm();
                v = v * (1.0 - a) + &force * (a * scale);
                if n_pos > par.n_min {
                    dt = (dt * par.f_inc).min(par.dt_max);
                    a *= par.f_a;
                }
                n_pos += 1;
            } else {
                v.fill(0.0);
                a = par.a_start;
                dt *= par.f_dec;
                n_pos = 0;
            }
        }
        v += &force * dt;
        let mut dx = &v * dt;
        cap_step(&mut dx, opts.max_step);
        let x = &p.x + dx;
        let (e, g) = f.eval(&x, step)?;
        p = Point { x, e, g };
    }
    Ok((p, opts.max_steps))
}
