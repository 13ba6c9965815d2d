//! Energy, forces and virials of one system from a libtorch `Model`, by automatic
//! differentiation with respect to the edge vectors (see [`crate::model::pairs`] for the
//! formulas shared with the native runtime).

pub use crate::model::pairs::{Pairs, Prediction, Request, OVERLAP_DISTANCE};
#[cfg(feature = "torch")]
pub use torch::evaluate;

#[cfg(feature = "torch")]
mod torch {
    use tch::{Kind, Tensor};

    use crate::error::Result;
    use crate::model::pairs::{add_derivatives, edge_vectors, Pairs, Prediction, Request};
    use crate::model::{EdgeInput, Model};

    /// Evaluates `model` on atoms with species indices `species` (`[N]`, from
    /// [`Model::species_index`]) at `positions` (Å, `[N][3]`) with neighbour `pairs`. The energy
    /// sums the atomic energies of the first `n_local` atoms; forces cover all `N` atoms.
    pub fn evaluate(
        model: &Model,
        species: &[i64],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
    ) -> Result<Prediction> {
        let n = species.len();
        let n_edges = pairs.first.len();
        let vectors = edge_vectors(n, positions, pairs, n_local)?;
        let edge_vec: Vec<f64> = vectors.iter().flatten().copied().collect();

        let device = model.device();
        let kind = model.precision().kind();
        let to_i64 =
            |v: &[usize]| Tensor::from_slice(&v.iter().map(|&x| x as i64).collect::<Vec<_>>());
        let species_t = Tensor::from_slice(species).f_to_device(device)?;
        let first_t = to_i64(pairs.first).f_to_device(device)?;
        let second_t = to_i64(pairs.second).f_to_device(device)?;
        let edge_t = Tensor::from_slice(&edge_vec)
            .f_view([n_edges as i64, 3])?
            .f_to_kind(kind)?
            .f_to_device(device)?
            .f_set_requires_grad(true)?;
        let layer_edges = layer_edges(
            model.encoder().config().layers as usize,
            n_local,
            n,
            pairs,
            device,
        )?;
        let input = EdgeInput {
            species: &species_t,
            first: &first_t,
            second: &second_t,
            edge_vec: &edge_t,
            edge_attr: None,
            layer_edges: layer_edges.as_deref(),
        };
        let need_grad = request.needs_gradient();
        let atomic = if need_grad {
            model.atomic_energies(&input)?
        } else {
            tch::no_grad(|| model.atomic_energies(&input))?
        };
        let energy_t = atomic.f_narrow(0, 0, n_local as i64)?.f_sum(Kind::Double)?;
        let mut out = Prediction {
            energy: energy_t.f_double_value(&[])?,
            ..Default::default()
        };
        if request.atom_energies {
            out.atom_energies = Some(Vec::<f64>::try_from(
                atomic.f_to_kind(Kind::Double)?.f_detach()?,
            )?);
        }
        if !need_grad {
            return Ok(out);
        }
        let g: Vec<f64> = if n_edges == 0 || n_local == 0 {
            vec![0.0; 3 * n_edges]
        } else {
            let grads = Tensor::f_run_backward(&[&energy_t], &[&edge_t], false, false)?;
            Vec::<f64>::try_from(grads[0].f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?
        };
        let grad: Vec<[f64; 3]> = g.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        add_derivatives(&mut out, request, n, pairs, &vectors, &grad);
        Ok(out)
    }

    /// [`crate::model::pairs::layer_edges`] as index tensors on `device`.
    fn layer_edges(
        layers: usize,
        n_local: usize,
        n: usize,
        pairs: &Pairs,
        device: tch::Device,
    ) -> Result<Option<Vec<Tensor>>> {
        let Some(sets) = crate::model::pairs::layer_edges(layers, n_local, n, pairs) else {
            return Ok(None);
        };
        let tensors: Result<Vec<Tensor>> = sets
            .iter()
            .map(|s| {
                let idx: Vec<i64> = s.iter().map(|&e| e as i64).collect();
                Ok(Tensor::from_slice(&idx).f_to_device(device)?)
            })
            .collect();
        Ok(Some(tensors?))
    }
}
