//! Relaxation of a system with a [`Potential`], keeping the potential's own error when it
//! fails mid-way (an overlap stays an overlap, not an optimiser error), with the force call it
//! happened at. The C ABI, the generation pipeline and the CLI all relax through here; the
//! pipeline relaxes a generated molecule that breaks its bond graph first under a restraint
//! toward it ([`relax_molecule`]).

use std::fmt;

use crate::error::{Error, Result};
use crate::optimize::{optimize, Objective, OptimizeOptions, OptimizeResult, PotentialObjective};
use crate::potential::Potential;
use crate::sanity;
use crate::structure::{Bond, Frame};

/// Why a relaxation failed.
#[derive(Debug)]
pub struct RelaxFailure {
    /// The error: the potential's own when it failed during the optimisation, otherwise the
    /// optimiser's or the starting system's.
    pub error: Error,
    /// The force call (1-based) at which the potential failed, if it did.
    pub force_call: Option<usize>,
}

impl fmt::Display for RelaxFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.force_call {
            Some(call) => write!(
                f,
                "{}, at force call {call} of the optimisation",
                self.error
            ),
            None => write!(f, "{}", self.error),
        }
    }
}

/// The potential as an objective that keeps its first failure and the call it happened at.
struct Recorded<'a> {
    inner: PotentialObjective<'a>,
    calls: usize,
    failure: Option<(usize, Error)>,
}

impl Objective for Recorded<'_> {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)> {
        self.calls += 1;
        match self.inner.energy_and_gradient(x) {
            Ok(out) => Ok(out),
            Err(e) => {
                // The optimiser gets a copy of the message; the error itself is kept.
                let message = e.to_string();
                self.failure.get_or_insert((self.calls, e));
                Err(Error::invalid(message))
            }
        }
    }

    fn energy_tolerance(&self, energy: f64) -> f64 {
        self.inner.energy_tolerance(energy)
    }

    fn open_system_numbers(&self) -> Option<&[u8]> {
        self.inner.open_system_numbers()
    }
}

/// An objective plus a [`sanity::Restraint`] toward a molecule's bond graph.
struct Restrained<'a> {
    inner: &'a mut dyn Objective,
    restraint: &'a sanity::Restraint,
}

impl Objective for Restrained<'_> {
    fn energy_and_gradient(&mut self, x: &[[f64; 3]]) -> Result<(f64, Vec<[f64; 3]>)> {
        let (e, mut g) = self.inner.energy_and_gradient(x)?;
        let (er, gr) = self.restraint.energy_and_gradient(x)?;
        for (g, gr) in g.iter_mut().zip(&gr) {
            for a in 0..3 {
                g[a] += gr[a];
            }
        }
        Ok((e + er, g))
    }

    fn energy_tolerance(&self, energy: f64) -> f64 {
        self.inner.energy_tolerance(energy)
    }

    fn open_system_numbers(&self) -> Option<&[u8]> {
        self.inner.open_system_numbers()
    }
}

/// Relaxes the atoms of `frame` from its positions with `potential` at its fixed cell. The
/// starting system is checked first, so its problems come with their own class and message.
pub fn relax(
    potential: &Potential,
    frame: &Frame,
    opts: &OptimizeOptions,
) -> std::result::Result<OptimizeResult, RelaxFailure> {
    run(potential, frame, None, opts)
}

/// Relaxes a structure of the molecule with bond graph `bonds` (a generated one): when it
/// breaks the graph ([`sanity::check`] finds a bond too long or too short, or a clash), first
/// on `potential` plus a [`sanity::Restraint`] toward it, then on `potential` alone from there, so that
/// the result is the potential's own minimum; otherwise exactly as [`relax`].
/// Steps and force calls count both stages (a failure's force call is its stage's);
/// `initial_energy` is the potential's at the start.
pub fn relax_molecule(
    potential: &Potential,
    frame: &Frame,
    bonds: &[Bond],
    opts: &OptimizeOptions,
) -> std::result::Result<OptimizeResult, RelaxFailure> {
    let broken = sanity::check(&frame.numbers, bonds, &frame.positions)
        .is_ok_and(|problems| !problems.is_empty());
    let restraint = match broken.then(|| sanity::Restraint::new(&frame.numbers, bonds)) {
        Some(Ok(r)) => r,
        _ => return relax(potential, frame, opts),
    };
    let at_start = restraint
        .energy_and_gradient(&frame.positions)
        .map_or(0.0, |(e, _)| e);
    let first = run(potential, frame, Some(&restraint), opts)?;
    let mut start = frame.clone();
    start.positions = first.positions;
    let mut second = relax(potential, &start, opts)?;
    second.steps += first.steps;
    second.force_calls += first.force_calls;
    second.initial_energy = first.initial_energy - at_start;
    Ok(second)
}

/// [`relax`], with `restraint` added to the potential when given.
fn run(
    potential: &Potential,
    frame: &Frame,
    restraint: Option<&sanity::Restraint>,
    opts: &OptimizeOptions,
) -> std::result::Result<OptimizeResult, RelaxFailure> {
    let start = frame
        .validate()
        .and_then(|_| potential.species_index(&frame.numbers));
    if let Err(error) = start {
        return Err(RelaxFailure {
            error,
            force_call: None,
        });
    }
    let mut objective = Recorded {
        inner: PotentialObjective {
            potential,
            numbers: &frame.numbers,
            cell: frame.cell,
            pbc: frame.pbc,
        },
        calls: 0,
        failure: None,
    };
    let outcome = match restraint {
        None => optimize(&mut objective, &frame.positions, opts),
        Some(restraint) => {
            let mut restrained = Restrained {
                inner: &mut objective,
                restraint,
            };
            optimize(&mut restrained, &frame.positions, opts)
        }
    };
    outcome.map_err(|e| match objective.failure.take() {
        Some((call, error)) => RelaxFailure {
            error,
            force_call: Some(call),
        },
        None => RelaxFailure {
            error: e,
            force_call: None,
        },
    })
}
