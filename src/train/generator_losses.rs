//! Losses of the structure generator: denoising (EDM), and the two physical-consistency losses
//! that let accurate energy/force data correct the generator (DESIGN.md §1):
//!
//! - optimality: the denoiser's clean estimate `x0_hat = D(x0 + sigma eps, sigma)` should be a
//!   minimum of the energy: `E(x0_hat) - E(x0)` per atom (or `|grad E(x0_hat)|^2`), evaluated with
//!   a frozen copy of the potential, so gradients reach only the generator;
//! - score: at small noise the denoiser's score `(D(x, sigma) - x) / sigma^2` should equal
//!   `F(x) / kT`, with `F` the accurate force labels of (off-)equilibrium frames.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use crate::error::Result;
use crate::model::graph::GraphEdges;
use crate::model::noise::standard_normal;
use crate::model::{EdgeInput, GraphBatch, Model};
use crate::neighbors::neighbor_list;
use crate::train::samples::GraphSample;

/// Which quantity the optimality loss drives to its minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimality {
    /// `E(x0_hat) - E(x0)` per atom.
    Energy,
    /// `|grad E(x0_hat)|^2` per atom.
    Force,
}

/// Standard-normal noise `[N, 3]` centred per molecule.
fn centred_noise(batch: &GraphBatch, rng: &mut ChaCha8Rng, like: &Tensor) -> Result<Tensor> {
    let n = batch.ranges.last().map_or(0, |r| r.1);
    let v: Vec<f64> = (0..3 * n).map(|_| standard_normal(rng)).collect();
    let t = Tensor::from_slice(&v)
        .f_view([n as i64, 3])?
        .f_to_kind(like.kind())?
        .f_to_device(like.device())?;
    batch.center(&t)
}

/// One noise level per molecule, broadcast to its atoms: `[N]`.
fn per_atom(batch: &GraphBatch, per_mol: &[f64], like: &Tensor) -> Result<Tensor> {
    let v: Vec<f64> = batch
        .ranges
        .iter()
        .zip(per_mol)
        .flat_map(|(&(a, b), &s)| std::iter::repeat_n(s, b - a))
        .collect();
    Ok(Tensor::from_slice(&v)
        .f_to_kind(like.kind())?
        .f_to_device(like.device())?)
}

/// The batch (graphs and clean positions `[N, 3]`) of `samples` for `model`.
pub fn graph_batch(model: &Model, samples: &[&GraphSample]) -> Result<(GraphBatch, Tensor)> {
    let mols: Vec<(&[i64], &GraphEdges)> = samples
        .iter()
        .map(|s| (s.species.as_slice(), &s.edges))
        .collect();
    let batch = GraphBatch::new(&mols, model.device())?;
    let pos: Vec<f64> = samples
        .iter()
        .flat_map(|s| s.positions.iter().flatten().copied())
        .collect();
    let n = (pos.len() / 3) as i64;
    let x = Tensor::from_slice(&pos)
        .f_view([n, 3])?
        .f_to_kind(model.precision().kind())?
        .f_to_device(model.device())?;
    Ok((batch, x))
}

/// EDM denoising loss `mean_atoms |D(x0 + sigma eps, sigma) - x0|^2 / c_out(sigma)^2` with
/// `ln sigma ~ N(log_mean, log_std)`.
pub fn denoising_loss(
    model: &Model,
    samples: &[&GraphSample],
    rng: &mut ChaCha8Rng,
    log_mean: f64,
    log_std: f64,
) -> Result<Tensor> {
    let (batch, x0) = graph_batch(model, samples)?;
    let sig: Vec<f64> = (0..samples.len())
        .map(|_| (log_mean + log_std * standard_normal(rng)).exp())
        .collect();
    let sigma = per_atom(&batch, &sig, &x0)?;
    let xn = &x0 + centred_noise(&batch, rng, &x0)? * sigma.f_unsqueeze(-1)?;
    let d = model.denoise(&batch, &xn, &sigma)?;
    let (_, c_out) = model
        .denoiser()
        .expect("denoise succeeded, so the model has a denoiser")
        .preconditioning(&sigma)?;
    let err = (d - &x0)
        .f_square()?
        .f_sum_dim_intlist(-1, false, x0.kind())?
        / c_out.f_square()?;
    Ok(err.f_mean(x0.kind())?)
}

/// Energies `[B]` (eV) of the molecules of `batch` at positions `x` `[N, 3]` under `model`,
/// differentiable with respect to `x` (neighbours searched per molecule on the detached values).
pub fn batch_energies(model: &Model, batch: &GraphBatch, x: &Tensor) -> Result<Tensor> {
    let flat: Vec<f64> = Vec::try_from(x.f_detach()?.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for &(a, b) in &batch.ranges {
        let pos: Vec<[f64; 3]> = (a..b)
            .map(|i| [flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]])
            .collect();
        let nl = neighbor_list(&pos, None, [false; 3], model.cutoff())?;
        first.extend(nl.first.iter().map(|&i| (a + i) as i64));
        second.extend(nl.second.iter().map(|&j| (a + j) as i64));
    }
    let first = Tensor::from_slice(&first).f_to_device(x.device())?;
    let second = Tensor::from_slice(&second).f_to_device(x.device())?;
    let edge_vec = x.f_index_select(0, &second)? - x.f_index_select(0, &first)?;
    let input = EdgeInput {
        species: &batch.species,
        first: &first,
        second: &second,
        edge_vec: &edge_vec,
        edge_attr: None,
        layer_edges: None,
    };
    let atomic = model.atomic_energies(&input)?;
    Ok(
        Tensor::f_zeros([batch.n_mols()], (x.kind(), x.device()))?.f_index_add(
            0,
            &batch.atom_mol,
            &atomic,
        )?,
    )
}

/// Optimality consistency with `frozen` (a parameter copy of the potential, frozen with
/// [`Model::freeze`], else an error): noise levels log-uniform in `sigma_range` (Å). Returns
/// a per-atom mean.
pub fn optimality_loss(
    model: &Model,
    frozen: &Model,
    samples: &[&GraphSample],
    rng: &mut ChaCha8Rng,
    sigma_range: [f64; 2],
    kind: Optimality,
) -> Result<Tensor> {
    if !frozen.is_frozen() {
        return Err(crate::error::Error::invalid(
            "the optimality loss needs a frozen potential (Model::freeze)",
        ));
    }
    let (batch, x0) = graph_batch(model, samples)?;
    let (lo, hi) = (sigma_range[0].ln(), sigma_range[1].ln());
    let sig: Vec<f64> = (0..samples.len())
        .map(|_| rng.gen_range(lo..=hi).exp())
        .collect();
    let sigma = per_atom(&batch, &sig, &x0)?;
    let xn = &x0 + centred_noise(&batch, rng, &x0)? * sigma.f_unsqueeze(-1)?;
    let x_hat = model.denoise(&batch, &xn, &sigma)?;
    let n_atoms = x0.size()[0] as f64;
    match kind {
        Optimality::Energy => {
            let e_hat = batch_energies(frozen, &batch, &x_hat)?;
            let e_ref = tch::no_grad(|| batch_energies(frozen, &batch, &x0))?;
            Ok((e_hat - e_ref).f_sum(x0.kind())? / n_atoms)
        }
        Optimality::Force => {
            let e_hat = batch_energies(frozen, &batch, &x_hat)?;
            let g = Tensor::f_run_backward(&[&e_hat.f_sum(x0.kind())?], &[&x_hat], true, true)?;
            Ok(g[0].f_square()?.f_sum(x0.kind())? / n_atoms)
        }
    }
}

/// Score consistency on force-labelled samples: `mean |(D(x, sigma) - x)/sigma - sigma F/kT|^2`
/// per atom, noise levels log-uniform in `sigma_range` (Å), `kt` in eV.
pub fn score_loss(
    model: &Model,
    samples: &[&GraphSample],
    rng: &mut ChaCha8Rng,
    sigma_range: [f64; 2],
    kt: f64,
) -> Result<Tensor> {
    let (batch, x) = graph_batch(model, samples)?;
    let f: Vec<f64> = samples
        .iter()
        .flat_map(|s| {
            let n = s.positions.len();
            s.forces
                .clone()
                .unwrap_or_else(|| vec![[0.0; 3]; n])
                .into_iter()
                .flatten()
        })
        .collect();
    let f = Tensor::from_slice(&f).f_view_as(&x)?.f_to_kind(x.kind())?;
    let f = batch.center(&f)?; // remove any net force (translations are not scored)
    let (lo, hi) = (sigma_range[0].ln(), sigma_range[1].ln());
    let sig: Vec<f64> = (0..samples.len())
        .map(|_| rng.gen_range(lo..=hi).exp())
        .collect();
    let sigma = per_atom(&batch, &sig, &x)?.f_unsqueeze(-1)?;
    let d = model.denoise(&batch, &x, &sigma.f_squeeze_dim(-1)?)?;
    let err = (d - &x) / &sigma - &sigma * f / kt;
    Ok(err
        .f_square()?
        .f_sum_dim_intlist(-1, false, x.kind())?
        .f_mean(x.kind())?)
}

/// A seeded generator for batch `batch` of epoch `epoch` (reproducible across resumes).
pub fn batch_rng(seed: u64, epoch: usize, batch: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        seed ^ ((epoch as u64) << 32) ^ (batch as u64).wrapping_mul(0x9E37_79B9),
    )
}
