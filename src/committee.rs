//! A committee (ensemble) of potentials and its disagreement: the uncertainty of a prediction.
//!
//! The definitions are DeePMD-kit's model deviation (`dp model-devi`, `pair_style deepmd ...
//! out_file`), so files and thresholds carry over. For K models with forces `F_i^k` on atom i:
//! `devi_f(i) = sqrt(mean_k |F_i^k - mean_k F_i^k|^2)` (eV/Å), and its max/min/mean over atoms;
//! for the virials `W^k` divided by the number of atoms N, the standard deviation of each of the
//! 9 components, and its max/min/mean (eV); and the standard deviation of the energy (eV).
//! The first member is the one whose energy and forces a caller uses (drives the dynamics).

use std::fmt::Write;

use crate::error::{Error, Result};
use crate::model::evaluate::{Prediction, Request};
use crate::potential::Potential;
use crate::structure::Frame;

/// The committee's disagreement on one structure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deviation {
    /// Standard deviation of the energy over the models, eV.
    pub energy: f64,
    /// Force deviation `devi_f(i)` of every atom, eV/Å, `[N]`.
    pub atom_forces: Vec<f64>,
    /// Largest `devi_f(i)`, eV/Å.
    pub max_devi_f: f64,
    /// Smallest `devi_f(i)`, eV/Å.
    pub min_devi_f: f64,
    /// Mean of `devi_f(i)` over atoms, eV/Å.
    pub avg_devi_f: f64,
    /// Largest standard deviation of a virial component divided by N, eV.
    pub max_devi_v: f64,
    /// Smallest standard deviation of a virial component divided by N, eV.
    pub min_devi_v: f64,
    /// Mean over the 9 components, eV.
    pub avg_devi_v: f64,
}

/// Column header of a model-deviation file, DeePMD-kit's layout.
pub const DEVIATION_HEADER: &str = "#       step         max_devi_v         min_devi_v         \
avg_devi_v         max_devi_f         min_devi_f         avg_devi_f";

impl Deviation {
    /// One row of a model-deviation file: the step and the six deviations (DeePMD-kit's
    /// `%12d` and `%19.6e` columns).
    pub fn row(&self, step: u64) -> String {
        let mut s = format!("{step:>12}");
        for v in [
            self.max_devi_v,
            self.min_devi_v,
            self.avg_devi_v,
            self.max_devi_f,
            self.min_devi_f,
            self.avg_devi_f,
        ] {
            let _ = write!(s, " {:>18}", c_exponent(v));
        }
        s
    }
}

/// `v` as C's `%.6e` writes it (`5.000000e-01`: sign and at least two exponent digits).
fn c_exponent(v: f64) -> String {
    let s = format!("{v:.6e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => match exp.parse::<i32>() {
            Ok(e) => format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()),
            Err(_) => s,
        },
        None => s, // NaN, inf
    }
}

/// The deviation of `predictions` (one per model, at least two, each with forces and virial)
/// over their first `n` atoms; `n` also normalises the virial.
pub fn deviation(predictions: &[Prediction], n: usize) -> Result<Deviation> {
    let k = predictions.len();
    if k < 2 {
        return Err(Error::invalid(format!(
            "a committee needs at least 2 models, got {k}"
        )));
    }
    let missing = || Error::invalid("committee deviation: a prediction lacks forces or virial");
    let forces: Vec<&Vec<[f64; 3]>> = predictions
        .iter()
        .map(|p| {
            p.forces
                .as_ref()
                .filter(|f| f.len() >= n)
                .ok_or_else(missing)
        })
        .collect::<Result<_>>()?;
    let virials: Vec<&[[f64; 3]; 3]> = predictions
        .iter()
        .map(|p| p.virial.as_ref().ok_or_else(missing))
        .collect::<Result<_>>()?;
    let atom_forces: Vec<f64> = (0..n)
        .map(|i| std_of(k, |m, c| forces[m][i][c], 3))
        .collect();
    let per_atom = 1.0 / n.max(1) as f64;
    let devi_v: Vec<f64> = (0..9)
        .map(|ab| std_of(k, |m, _| virials[m][ab / 3][ab % 3] * per_atom, 1))
        .collect();
    let energy = std_of(k, |m, _| predictions[m].energy, 1);
    let (max_f, min_f, avg_f) = max_min_mean(&atom_forces);
    let (max_v, min_v, avg_v) = max_min_mean(&devi_v);
    Ok(Deviation {
        energy,
        atom_forces,
        max_devi_f: max_f,
        min_devi_f: min_f,
        avg_devi_f: avg_f,
        max_devi_v: max_v,
        min_devi_v: min_v,
        avg_devi_v: avg_v,
    })
}

/// `sqrt(mean_m sum_c (x(m, c) - mean_m x(m, c))^2)` over `k` models and `dims` components.
fn std_of(k: usize, x: impl Fn(usize, usize) -> f64, dims: usize) -> f64 {
    let mut var = 0.0;
    for c in 0..dims {
        let mean = (0..k).map(|m| x(m, c)).sum::<f64>() / k as f64;
        var += (0..k).map(|m| (x(m, c) - mean).powi(2)).sum::<f64>() / k as f64;
    }
    var.sqrt()
}

fn max_min_mean(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    (max, min, v.iter().sum::<f64>() / v.len() as f64)
}

/// Several potentials evaluated on the same structures.
pub struct Committee {
    members: Vec<Potential>,
}

impl Committee {
    /// A committee of at least two potentials; the first drives (see the module docs).
    pub fn new(members: Vec<Potential>) -> Result<Committee> {
        if members.len() < 2 {
            return Err(Error::invalid(format!(
                "a committee needs at least 2 models, got {}",
                members.len()
            )));
        }
        Ok(Committee { members })
    }

    /// The members, the driving one first.
    pub fn members(&self) -> &[Potential] {
        &self.members
    }

    /// Every member's prediction (forces and virial, plus what `request` adds) on `frame`,
    /// and their deviation.
    pub fn compute_frame(
        &self,
        frame: &Frame,
        request: Request,
    ) -> Result<(Vec<Prediction>, Deviation)> {
        let members: Vec<&Potential> = self.members.iter().collect();
        compute_frame(&members, frame, request)
    }
}

/// [`Committee::compute_frame`] for borrowed members (at least two), e.g. the C ABI's handles.
pub fn compute_frame(
    members: &[&Potential],
    frame: &Frame,
    request: Request,
) -> Result<(Vec<Prediction>, Deviation)> {
    if members.len() < 2 {
        return Err(Error::invalid(format!(
            "a committee needs at least 2 models, got {}",
            members.len()
        )));
    }
    let request = Request {
        forces: true,
        virial: true,
        ..request
    };
    let predictions = members
        .iter()
        .map(|p| p.compute_frame(frame, request))
        .collect::<Result<Vec<_>>>()?;
    let dev = deviation(&predictions, frame.len())?;
    Ok((predictions, dev))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(energy: f64, forces: Vec<[f64; 3]>, w: f64) -> Prediction {
        Prediction {
            energy,
            forces: Some(forces),
            virial: Some([[w, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
            ..Default::default()
        }
    }

    #[test]
    fn deviation_by_hand() {
        // Two models: atom 0 differs by (2, 0, 0) -> devi_f = 1; atom 1 agrees -> 0.
        let a = pred(1.0, vec![[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]], 4.0);
        let b = pred(3.0, vec![[-1.0, 0.0, 0.0], [0.5, 0.5, 0.5]], 0.0);
        let d = deviation(&[a.clone(), b], 2).unwrap();
        assert!((d.energy - 1.0).abs() < 1e-12);
        assert_eq!(d.atom_forces, vec![1.0, 0.0]);
        assert_eq!((d.max_devi_f, d.min_devi_f, d.avg_devi_f), (1.0, 0.0, 0.5));
        // W_xx / N: 2 and 0 -> std 1; the other 8 components agree.
        assert!((d.max_devi_v - 1.0).abs() < 1e-12);
        assert_eq!(d.min_devi_v, 0.0);
        assert!((d.avg_devi_v - 1.0 / 9.0).abs() < 1e-12);
        let same = deviation(&[a.clone(), a], 2).unwrap();
        assert_eq!(same.max_devi_f, 0.0);
        assert_eq!(same.energy, 0.0);
    }

    #[test]
    fn one_model_or_missing_forces_is_an_error() {
        let a = pred(1.0, vec![[0.0; 3]], 0.0);
        assert!(deviation(std::slice::from_ref(&a), 1)
            .unwrap_err()
            .to_string()
            .contains("at least 2"));
        let no_forces = Prediction {
            energy: 0.0,
            ..Default::default()
        };
        assert!(deviation(&[a, no_forces], 1).is_err());
    }

    #[test]
    fn row_layout_matches_deepmd() {
        let d = Deviation {
            max_devi_f: 0.5,
            ..Default::default()
        };
        let row = d.row(10);
        assert_eq!(row.len(), 12 + 6 * 19);
        assert!(row.starts_with("          10"));
        assert!(row.contains(" 5.000000e-01"));
        assert_eq!(c_exponent(1234.5), "1.234500e+03");
        assert_eq!(DEVIATION_HEADER.split_whitespace().count(), 8);
    }
}
