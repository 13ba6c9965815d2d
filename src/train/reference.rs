//! Refitting a trained model's per-element reference energies (DeePMD-kit's `change-bias`):
//! the offsets `d` (eV, one per element) that minimise `sum_frames (E_label - E_model - n . d)^2`,
//! with `n` each frame's element counts, are added to the model's reference energies. The
//! network is unchanged, so forces are unchanged; energies lose the part of their error that is
//! linear in the composition.

use crate::error::{Error, Result};
use crate::model::evaluate::Request;
use crate::model::Model;
use crate::potential::Potential;
use crate::structure::Frame;

/// Least-squares per-element offsets (eV, `[n_elements]`, in the order of `elements`) of the
/// energy labels of `frames` over the energies `pot` predicts. Frames without an energy label
/// are skipped; an element in no frame gets 0; fewer labelled frames than elements present is
/// an error.
pub fn reference_offsets(pot: &Potential, elements: &[u8], frames: &[Frame]) -> Result<Vec<f64>> {
    let mut residuals = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let Some(label) = f.energy else { continue };
        let e = pot
            .compute_frame(f, Request::default())
            .map_err(|err| Error::invalid(format!("frame {i}: {err}")))?
            .energy;
        let n: Vec<f64> = elements
            .iter()
            .map(|z| f.numbers.iter().filter(|&&x| x == *z).count() as f64)
            .collect();
        residuals.push((n, label - e));
    }
    fit_offsets(elements.len(), &residuals)
}

/// Least-squares per-element offsets `d` (eV, `[k]`) minimising `sum (r - n . d)^2` over
/// `residuals` of (element counts `n` `[k]`, energy residual `r` = label − prediction, eV). An
/// element in no frame gets 0; fewer frames than elements present is an error.
pub fn fit_offsets(k: usize, residuals: &[(Vec<f64>, f64)]) -> Result<Vec<f64>> {
    // Normal equations A d = b with A = sum n n^T, b = sum n r.
    let (mut a, mut b) = (vec![0.0; k * k], vec![0.0; k]);
    for (n, r) in residuals {
        for p in 0..k {
            b[p] += n[p] * r;
            for q in 0..k {
                a[p * k + q] += n[p] * n[q];
            }
        }
    }
    let used = residuals.len();
    let present: Vec<usize> = (0..k).filter(|&p| a[p * k + p] > 0.0).collect();
    if used < present.len().max(1) {
        return Err(Error::invalid(format!(
            "{used} frames with an energy label for {} elements: too few to fit reference energies",
            present.len()
        )));
    }
    let m = present.len();
    let mut sys: Vec<f64> = Vec::with_capacity(m * (m + 1));
    for &p in &present {
        sys.extend(present.iter().map(|&q| a[p * k + q]));
        sys.push(b[p]);
    }
    let solved = solve(&mut sys, m)?;
    let mut d = vec![0.0; k];
    for (&p, v) in present.iter().zip(solved) {
        d[p] = v;
    }
    Ok(d)
}

/// Solves the `m x m` system stored row-major with its right-hand side as column `m` of `sys`
/// (`[m][m + 1]`) by Gaussian elimination with partial pivoting.
fn solve(sys: &mut [f64], m: usize) -> Result<Vec<f64>> {
    let w = m + 1;
    for c in 0..m {
        let p = (c..m)
            .max_by(|&i, &j| sys[i * w + c].abs().total_cmp(&sys[j * w + c].abs()))
            .unwrap_or(c);
        if sys[p * w + c].abs() < 1e-12 {
            return Err(Error::invalid(
                "element counts are linearly dependent (e.g. every frame has the same composition): \
                 reference energies cannot be fitted",
            ));
        }
        for j in 0..w {
            sys.swap(c * w + j, p * w + j);
        }
        for i in 0..m {
            if i != c {
                let f = sys[i * w + c] / sys[c * w + c];
                for j in c..w {
                    sys[i * w + j] -= f * sys[c * w + j];
                }
            }
        }
    }
    Ok((0..m).map(|i| sys[i * w + m] / sys[i * w + i]).collect())
}

/// The offsets (eV, `[n_elements]`) of `elements` as a JSON object keyed by element symbol, for
/// a model's provenance.
pub fn offsets_by_symbol(
    elements: &[u8],
    offsets: &[f64],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut fitted = serde_json::Map::new();
    for (z, d) in elements.iter().zip(offsets) {
        fitted.insert(
            crate::elements::symbol(*z)?.to_string(),
            serde_json::json!(d),
        );
    }
    Ok(fitted)
}

/// Adds `offsets` (eV, `[n_elements]`) to `model`'s reference energies.
pub fn shift_reference_energies(model: &mut Model, offsets: &[f64]) -> Result<()> {
    let e_ref: Vec<f64> = model
        .reference_energies()?
        .iter()
        .zip(offsets)
        .map(|(e, d)| e + d)
        .collect();
    let scale = model.energy_scale()?;
    model.set_energy_normalisation(&e_ref, scale)
}
