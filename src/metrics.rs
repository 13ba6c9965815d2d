//! Error metrics of predicted energies and forces against reference labels.

/// Accumulates errors of energies (per molecule and per atom) and force components.
#[derive(Debug, Clone, Default)]
pub struct ErrorAccumulator {
    n_energy: usize,
    e_abs: f64,
    e_sq: f64,
    ea_abs: f64,
    ea_sq: f64,
    n_force: usize,
    f_abs: f64,
    f_sq: f64,
    n_relative: usize,
    r_abs: f64,
}

/// Summary error metrics. Units: eV, eV/atom, eV/Å.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorMetrics {
    /// Number of frames with an energy label.
    pub n_energies: usize,
    /// Energy mean absolute error, eV per molecule.
    #[serde(deserialize_with = "nan_if_null")]
    pub energy_mae: f64,
    /// Energy root-mean-square error, eV per molecule.
    #[serde(deserialize_with = "nan_if_null")]
    pub energy_rmse: f64,
    /// Energy MAE per atom, eV/atom.
    #[serde(deserialize_with = "nan_if_null")]
    pub energy_per_atom_mae: f64,
    /// Energy RMSE per atom, eV/atom.
    #[serde(deserialize_with = "nan_if_null")]
    pub energy_per_atom_rmse: f64,
    /// Number of force components compared.
    pub n_force_components: usize,
    /// Force-component MAE, eV/Å.
    #[serde(deserialize_with = "nan_if_null")]
    pub force_mae: f64,
    /// Force-component RMSE, eV/Å.
    #[serde(deserialize_with = "nan_if_null")]
    pub force_rmse: f64,
    /// Number of frames compared relative to their molecule's lowest-energy frame.
    #[serde(default)]
    pub n_relative: usize,
    /// MAE of frame energies relative to their molecule's lowest-energy frame, eV per molecule
    /// (the error of `E(frame) - E(minimum)`).
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub relative_energy_mae: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// JSON writes a NaN (a metric without data) as `null`: read it back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl ErrorAccumulator {
    /// Adds one frame's energy error (predicted and reference in eV; `n_atoms` atoms).
    pub fn add_energy(&mut self, predicted: f64, reference: f64, n_atoms: usize) {
        let d = predicted - reference;
        let da = d / n_atoms as f64;
        self.n_energy += 1;
        self.e_abs += d.abs();
        self.e_sq += d * d;
        self.ea_abs += da.abs();
        self.ea_sq += da * da;
    }

    /// Adds force errors (eV/Å, `[N][3]` each).
    pub fn add_forces(&mut self, predicted: &[[f64; 3]], reference: &[[f64; 3]]) {
        for (p, r) in predicted.iter().zip(reference) {
            for a in 0..3 {
                let d = p[a] - r[a];
                self.n_force += 1;
                self.f_abs += d.abs();
                self.f_sq += d * d;
            }
        }
    }

    /// Adds the error (eV) of one frame's energy relative to its molecule's lowest-energy
    /// frame: the frame's energy error minus the minimum's.
    pub fn add_relative_energy(&mut self, error: f64) {
        self.n_relative += 1;
        self.r_abs += error.abs();
    }

    /// The metrics so far (NaN where nothing was added).
    pub fn metrics(&self) -> ErrorMetrics {
        let ne = self.n_energy as f64;
        let nf = self.n_force as f64;
        ErrorMetrics {
            n_energies: self.n_energy,
            energy_mae: self.e_abs / ne,
            energy_rmse: (self.e_sq / ne).sqrt(),
            energy_per_atom_mae: self.ea_abs / ne,
            energy_per_atom_rmse: (self.ea_sq / ne).sqrt(),
            n_force_components: self.n_force,
            force_mae: self.f_abs / nf,
            force_rmse: (self.f_sq / nf).sqrt(),
            n_relative: self.n_relative,
            relative_energy_mae: self.r_abs / self.n_relative as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_without_data_survive_a_json_round_trip() {
        // A structure-only training run has no energy or force metrics (NaN, written as null).
        let m = ErrorAccumulator::default().metrics();
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("null"), "{json}");
        let back: ErrorMetrics = serde_json::from_str(&json).unwrap();
        assert_eq!(back.n_energies, 0);
        assert!(back.energy_mae.is_nan() && back.force_rmse.is_nan());
    }

    #[test]
    fn known_errors() {
        let mut acc = ErrorAccumulator::default();
        acc.add_energy(1.0, 0.0, 2);
        acc.add_energy(-3.0, 0.0, 2);
        acc.add_forces(&[[1.0, 0.0, 0.0]], &[[0.0, 0.0, 0.0]]);
        let m = acc.metrics();
        assert_eq!(m.energy_mae, 2.0);
        assert!((m.energy_rmse - 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.energy_per_atom_mae, 1.0);
        assert!((m.force_mae - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.force_rmse - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!(m.relative_energy_mae.is_nan());
        acc.add_relative_energy(0.3);
        acc.add_relative_energy(-0.4);
        let m = acc.metrics();
        assert_eq!(m.n_relative, 2);
        assert!((m.relative_energy_mae - 0.35).abs() < 1e-12);
    }

    #[test]
    fn records_from_before_the_relative_metric_still_read() {
        let json = r#"{"n_energies":1,"energy_mae":0.1,"energy_rmse":0.1,"energy_per_atom_mae":0.1,
            "energy_per_atom_rmse":0.1,"n_force_components":3,"force_mae":0.2,"force_rmse":0.2}"#;
        let m: ErrorMetrics = serde_json::from_str(json).unwrap();
        assert_eq!(m.n_relative, 0);
        assert!(m.relative_energy_mae.is_nan());
    }
}
