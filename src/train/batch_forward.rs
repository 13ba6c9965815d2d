//! Batched energies and forces for training and validation.

use tch::{Kind, Tensor};

use crate::error::Result;
use crate::model::{EdgeInput, Model};
use crate::train::samples::Batch;

/// Predicted energies (eV, `[B]`) of a batch, without gradients.
pub fn energies(model: &Model, batch: &Batch) -> Result<Tensor> {
    tch::no_grad(|| energies_at(model, batch, &batch.positions))
}

/// Predicted energies (eV, `[B]`) and forces (eV/Å, `[N, 3]`) of a batch. With
/// `create_graph` the forces stay differentiable with respect to the parameters (force training
/// by double backward).
pub fn energies_and_forces(
    model: &Model,
    batch: &Batch,
    create_graph: bool,
) -> Result<(Tensor, Tensor)> {
    let pos = batch.positions.f_detach()?.f_set_requires_grad(true)?;
    let energy = energies_at(model, batch, &pos)?;
    let grad = Tensor::f_run_backward(
        &[&energy.f_sum(energy.kind())?],
        &[&pos],
        true,
        create_graph,
    )?;
    let forces = -&grad[0];
    Ok((energy, forces))
}

/// The energies (eV, `[B]`) of the batch's molecules with their atoms at `pos` (`[N, 3]`, Å).
fn energies_at(model: &Model, batch: &Batch, pos: &Tensor) -> Result<Tensor> {
    let edge_vec =
        pos.f_index_select(0, &batch.second)? - pos.f_index_select(0, &batch.first)? + &batch.shift;
    let input = EdgeInput {
        species: &batch.species,
        first: &batch.first,
        second: &batch.second,
        edge_vec: &edge_vec,
        edge_attr: None,
        layer_edges: None,
    };
    let atomic = model.atomic_energies(&input)?;
    Ok(
        Tensor::f_zeros([batch.size], (atomic.kind(), atomic.device()))?.f_index_add(
            0,
            &batch.atom_sample,
            &atomic,
        )?,
    )
}

/// The potential's loss terms and their weights ([`crate::train::config::TrainingConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct PotentialLoss {
    /// Weight of the per-atom energy MSE, 1/eV².
    pub energy_weight: f64,
    /// Weight of the force term, Å²/eV².
    pub force_weight: f64,
    /// Huber threshold of the force term, eV/Å (`None`: the MSE).
    pub force_huber_delta: Option<f64>,
    /// Weight of the relative-energy MSE (per atom, over the batch's pairs of a frame and its
    /// molecule's lowest-energy frame), 1/eV².
    pub relative_energy_weight: f64,
}

impl PotentialLoss {
    /// The loss a training config asks for.
    pub fn of(t: &crate::train::config::TrainingConfig) -> PotentialLoss {
        PotentialLoss {
            energy_weight: t.energy_weight,
            force_weight: t.force_weight,
            force_huber_delta: t.force_huber_delta,
            relative_energy_weight: t.relative_energy_weight,
        }
    }

    /// The training loss `w_E * mean((dE/N)^2) + w_F * mean(h(dF)) + w_R * mean((dR/N)^2)`
    /// over labelled samples/atoms/pairs, `h(x) = x^2` (MSE) or with a Huber threshold δ
    /// `h(x) = x^2` for `|x| <= δ` and `2δ|x| - δ^2` beyond (the Huber loss scaled to equal the
    /// MSE below δ), and `dR = dE(frame) - dE(partner)` the error of a frame's energy relative
    /// to its molecule's lowest-energy frame (N: the frame's atoms); with the energy MSE and
    /// the force MSE (detached, as f64).
    pub fn loss(
        &self,
        batch: &Batch,
        energy: &Tensor,
        forces: &Tensor,
    ) -> Result<(Tensor, f64, f64)> {
        let de = (energy - &batch.energy) / &batch.n_atoms * &batch.energy_mask;
        let ne = batch
            .energy_mask
            .f_sum(Kind::Double)?
            .f_double_value(&[])?
            .max(1.0);
        let e_mse = de.f_square()?.f_sum(energy.kind())? / ne;
        let df = (forces - &batch.forces) * &batch.force_mask;
        let nf = 3.0
            * batch
                .force_mask
                .f_sum(Kind::Double)?
                .f_double_value(&[])?
                .max(1.0);
        let f_mse = df.f_square()?.f_sum(forces.kind())? / nf;
        let f_term = match self.force_huber_delta {
            None => f_mse.shallow_clone(),
            Some(delta) => {
                let a = df.f_abs()?;
                let inside = a.f_clamp_max(delta)?;
                (&inside * (a * 2.0 - &inside)).f_sum(forces.kind())? / nf
            }
        };
        let e_val = e_mse.f_double_value(&[])?;
        let f_val = f_mse.f_double_value(&[])?;
        let mut total = e_mse * self.energy_weight + f_term * self.force_weight;
        let n_pairs = batch.pair_frame.size1()?;
        if self.relative_energy_weight > 0.0 && n_pairs > 0 {
            let err = energy - &batch.energy;
            let dr = (err.f_index_select(0, &batch.pair_frame)?
                - err.f_index_select(0, &batch.pair_partner)?)
                / batch.n_atoms.f_index_select(0, &batch.pair_frame)?;
            total += dr.f_square()?.f_sum(energy.kind())?
                * (self.relative_energy_weight / n_pairs as f64);
        }
        Ok((total, e_val, f_val))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::samples::{collate, Sample, Selection};

    /// A two-atom sample without pairs whose force labels are zero and energy label is 1 eV.
    fn sample() -> Sample {
        Sample {
            species: vec![0, 0],
            positions: vec![[0.0; 3], [1.0, 0.0, 0.0]],
            first: Vec::new(),
            second: Vec::new(),
            shift: Vec::new(),
            energy: Some(1.0),
            forces: Some(vec![[0.0; 3]; 2]),
            molecule: "m".into(),
            repeat: 1,
            partner: None,
        }
    }

    #[test]
    fn the_huber_force_term_is_the_mse_below_delta_and_linear_beyond() {
        let s = sample();
        let batch = collate(&Selection::plain(&[&s]), Kind::Double, tch::Device::Cpu).unwrap();
        let errors = [0.05, -0.3, 2.0, 0.0, -0.1, 0.08];
        let forces = Tensor::from_slice(&errors).view([2, 3]);
        let energy = Tensor::from_slice(&[1.4]); // 0.2 eV/atom off
        let mse: f64 = errors.iter().map(|x| x * x).sum::<f64>() / 6.0;
        let term = |delta: Option<f64>| {
            let l = PotentialLoss {
                energy_weight: 0.0,
                force_weight: 1.0,
                force_huber_delta: delta,
                relative_energy_weight: 0.0,
            };
            let (total, e_mse, f_mse) = l.loss(&batch, &energy, &forces).unwrap();
            assert!((e_mse - 0.04).abs() < 1e-12 && (f_mse - mse).abs() < 1e-12);
            total.double_value(&[])
        };
        assert!((term(None) - mse).abs() < 1e-12);
        assert!((term(Some(10.0)) - mse).abs() < 1e-12);
        let delta = 0.1;
        let huber: f64 = errors
            .iter()
            .map(|x: &f64| {
                let a = x.abs();
                if a <= delta {
                    a * a
                } else {
                    2.0 * delta * a - delta * delta
                }
            })
            .sum::<f64>()
            / 6.0;
        assert!((term(Some(delta)) - huber).abs() < 1e-12);
        assert!(huber < mse);
    }

    #[test]
    fn the_relative_energy_term_fits_energies_relative_to_the_partner() {
        // Frame 0 (scored, 0.3 eV too high) paired with its partner 1 (not scored, 0.1 eV
        // too low): dR = (0.3 + 0.1) / 2 atoms; the energy term sees frame 0 alone.
        let mut frame = sample();
        frame.partner = Some(1);
        let mut minimum = sample();
        minimum.energy = Some(0.5);
        let set = [frame, minimum];
        let selection = Selection::with_partners(&[0], &set);
        assert_eq!(
            (selection.scored, selection.pairs.clone()),
            (1, vec![(0, 1)])
        );
        let batch = collate(&selection, Kind::Double, tch::Device::Cpu).unwrap();
        let energy = Tensor::from_slice(&[1.3, 0.4]);
        let forces = Tensor::zeros([4, 3], (Kind::Double, tch::Device::Cpu));
        let l = PotentialLoss {
            energy_weight: 2.0,
            force_weight: 1.0,
            force_huber_delta: None,
            relative_energy_weight: 10.0,
        };
        let (total, e_mse, f_mse) = l.loss(&batch, &energy, &forces).unwrap();
        assert!((e_mse - 0.15f64.powi(2)).abs() < 1e-12 && f_mse == 0.0);
        let expected = 2.0 * 0.15f64.powi(2) + 10.0 * 0.2f64.powi(2);
        assert!((total.double_value(&[]) - expected).abs() < 1e-12);
    }
}
