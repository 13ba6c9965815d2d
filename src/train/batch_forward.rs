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

/// The training loss `w_E * mean((dE/N)^2) + w_F * mean(dF^2)` over labelled samples/atoms,
/// with its two parts (detached, as f64).
pub fn loss(
    batch: &Batch,
    energy: &Tensor,
    forces: &Tensor,
    energy_weight: f64,
    force_weight: f64,
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
    let e_val = e_mse.f_double_value(&[])?;
    let f_val = f_mse.f_double_value(&[])?;
    Ok((e_mse * energy_weight + f_mse * force_weight, e_val, f_val))
}
