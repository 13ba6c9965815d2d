//! The denoising structure decoder: given a molecular graph, noisy positions and the noise
//! level, estimate the clean positions. It runs the shared [`Encoder`] on the union of radius
//! edges (current noisy distances within the cutoff) and topological graph edges (bonds and
//! atoms up to three bonds apart, with bond-kind and distance features), conditioned on the
//! noise level, and reads an equivariant displacement from the vector features.
//!
//! EDM preconditioning (Karras et al. 2022) without input scaling, positions in Å:
//! `D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(x, sigma)`, `c_skip = sd^2 / (sigma^2 + sd^2)`,
//! `c_out = sigma sd / sqrt(sigma^2 + sd^2)`, `sd = sigma_data`. The centre of each molecule is
//! removed from the output, so generated structures are centred at the origin.

use tch::{nn, Kind, Tensor};

use crate::error::Result;
use crate::model::config::{GeneratorConfig, DISTANCE_FEATURE_FLOOR};
use crate::model::graph::{denoiser_pairs, GraphEdges, MoleculeBatch};
use crate::model::painn::{EdgeInput, Encoder};

const NOISE_FREQUENCIES: i64 = 8;

/// The molecules of a denoising batch: atoms of all molecules concatenated.
#[derive(Debug)]
pub struct GraphBatch {
    /// Species indices, `[N]` int64.
    pub species: Tensor,
    /// Molecule index of each atom, `[N]` int64.
    pub atom_mol: Tensor,
    /// Atom ranges of the molecules (start, end).
    pub ranges: Vec<(usize, usize)>,
    /// Topological edges with batch-global atom indices.
    pub graph: GraphEdges,
}

impl GraphBatch {
    /// The tensors of a [`MoleculeBatch`] on `device`.
    pub fn from_batch(batch: &MoleculeBatch, device: tch::Device) -> Result<GraphBatch> {
        let species: Vec<i64> = batch.species.iter().map(|&s| s as i64).collect();
        let mut atom_mol = Vec::with_capacity(species.len());
        for (m, &(a, b)) in batch.ranges.iter().enumerate() {
            atom_mol.extend(std::iter::repeat_n(m as i64, b - a));
        }
        Ok(GraphBatch {
            species: Tensor::from_slice(&species).f_to_device(device)?,
            atom_mol: Tensor::from_slice(&atom_mol).f_to_device(device)?,
            ranges: batch.ranges.clone(),
            graph: batch.graph.clone(),
        })
    }

    /// Concatenates molecules given as (species indices `[n]`, topological edges).
    pub fn new(mols: &[(&[i64], &GraphEdges)], device: tch::Device) -> Result<GraphBatch> {
        let (mut species, mut atom_mol, mut ranges) = (Vec::new(), Vec::new(), Vec::new());
        let mut graph = GraphEdges::default();
        let mut offset = 0;
        for (m, (sp, g)) in mols.iter().enumerate() {
            species.extend_from_slice(sp);
            atom_mol.extend(std::iter::repeat_n(m as i64, sp.len()));
            graph.first.extend(g.first.iter().map(|i| i + offset));
            graph.second.extend(g.second.iter().map(|i| i + offset));
            graph.kind.extend_from_slice(&g.kind);
            ranges.push((offset, offset + sp.len()));
            offset += sp.len();
        }
        Ok(GraphBatch {
            species: Tensor::from_slice(&species).f_to_device(device)?,
            atom_mol: Tensor::from_slice(&atom_mol).f_to_device(device)?,
            ranges,
            graph,
        })
    }

    /// Number of molecules.
    pub fn n_mols(&self) -> i64 {
        self.ranges.len() as i64
    }

    /// Subtracts each molecule's centroid from `x` (`[N, 3]`).
    pub fn center(&self, x: &Tensor) -> Result<Tensor> {
        let n = self.n_mols();
        let kind = x.kind();
        let sums =
            Tensor::f_zeros([n, 3], (kind, x.device()))?.f_index_add(0, &self.atom_mol, x)?;
        let counts: Vec<f64> = self.ranges.iter().map(|(a, b)| (b - a) as f64).collect();
        let counts = Tensor::from_slice(&counts)
            .f_to_kind(kind)?
            .f_to_device(x.device())?
            .f_unsqueeze(-1)?;
        Ok(x - (sums / counts).f_index_select(0, &self.atom_mol)?)
    }
}

/// The denoiser's own parameters (the encoder is shared with the potential).
pub struct Denoiser {
    config: GeneratorConfig,
    cutoff: f64,
    noise1: nn::Linear,
    noise2: nn::Linear,
    out: nn::Linear,
}

fn lin(x: &Tensor, l: &nn::Linear) -> Result<Tensor> {
    Ok(x.f_linear(&l.ws, l.bs.as_ref())?)
}

impl Denoiser {
    /// Creates the parameters under `path` for an encoder of width `features` and `cutoff` Å.
    pub fn new(path: &nn::Path, config: GeneratorConfig, features: i64, cutoff: f64) -> Self {
        let nobias = nn::LinearConfig {
            bias: false,
            ..Default::default()
        };
        Denoiser {
            config,
            cutoff,
            noise1: nn::linear(
                path / "noise1",
                2 * NOISE_FREQUENCIES,
                features,
                Default::default(),
            ),
            noise2: nn::linear(path / "noise2", features, features, Default::default()),
            // Zero at initialisation, as diffusion models' output layers: a fresh denoiser
            // returns the EDM skip term alone, so its first losses are O(1), not the 1e11-1e20
            // a random read-out of the random encoder gave (docs/results.md).
            out: nn::linear(
                path / "out",
                features,
                1,
                nn::LinearConfig {
                    ws_init: nn::Init::Const(0.0),
                    ..nobias
                },
            ),
        }
    }

    /// The generator settings.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// EDM preconditioning factors `(c_skip, c_out)` for noise levels `sigma` (any shape).
    pub fn preconditioning(&self, sigma: &Tensor) -> Result<(Tensor, Tensor)> {
        let sd = self.config.sigma_data;
        let s2 = sigma.f_square()? + sd * sd;
        Ok((s2.f_reciprocal()? * (sd * sd), sigma * sd / s2.f_sqrt()?))
    }

    /// Radius edges (within the cutoff, per molecule, on detached `x`) united with the graph
    /// edges; returns (first, second, edge features) for the encoder.
    fn edges(&self, batch: &GraphBatch, x: &Tensor) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
        let flat: Vec<f64> =
            Vec::try_from(x.f_detach()?.f_to_kind(Kind::Double)?.f_flatten(0, -1)?)?;
        let radius = self.config.radius_edges(self.cutoff);
        let pairs = denoiser_pairs(&batch.ranges, &batch.graph, &flat, radius)?;
        let n_kinds = self.config.edges.n_kinds();
        let n_e = pairs.len() as i64;
        let (mut first, mut second, mut onehot) = (Vec::new(), Vec::new(), Vec::new());
        let mut is_graph = Vec::new();
        for &(i, j, k) in &pairs {
            first.push(i as i64);
            second.push(j as i64);
            let mut oh = vec![0.0f64; n_kinds];
            if let Some(k) = k {
                oh[k] = 1.0;
            }
            onehot.extend_from_slice(&oh);
            is_graph.push(if k.is_some() { 1.0 } else { 0.0 });
        }
        let dev = x.device();
        let kind = x.kind();
        let first = Tensor::from_slice(&first).f_to_device(dev)?;
        let second = Tensor::from_slice(&second).f_to_device(dev)?;
        let edge_vec = x.f_index_select(0, &second)? - x.f_index_select(0, &first)?;
        let r = crate::model::radial::safe_norm(&edge_vec, 1e-12)?;
        let d = self.config.distance_features;
        let centres = Tensor::f_linspace(0.0, self.config.distance_max, d, (kind, dev))?;
        let width = self.config.distance_max / d as f64;
        let gauss = (r.f_unsqueeze(-1)? - centres)
            .f_square()?
            .f_mul_scalar(-0.5 / (width * width))?
            .f_exp()?
            .f_threshold(DISTANCE_FEATURE_FLOOR, 0.0)?;
        let is_graph = Tensor::from_slice(&is_graph)
            .f_to_kind(kind)?
            .f_to_device(dev)?
            .f_unsqueeze(-1)?;
        let onehot = Tensor::from_slice(&onehot)
            .f_view([n_e, n_kinds as i64])?
            .f_to_kind(kind)?
            .f_to_device(dev)?;
        let attr = Tensor::f_cat(&[onehot, gauss * is_graph], -1)?;
        Ok((first, second, edge_vec, attr))
    }

    /// The denoised positions `D(x, sigma)` `[N, 3]` (Å) of noisy positions `x` `[N, 3]` at
    /// per-atom noise levels `sigma` `[N]` (Å), with the shared `encoder`.
    pub fn forward(
        &self,
        encoder: &Encoder,
        batch: &GraphBatch,
        x: &Tensor,
        sigma: &Tensor,
    ) -> Result<Tensor> {
        let (first, second, edge_vec, attr) = self.edges(batch, x)?;
        let kind = x.kind();
        let c_noise = sigma.f_log()? / 4.0;
        let freqs = Tensor::f_arange(NOISE_FREQUENCIES, (kind, x.device()))?.f_exp2()?;
        let arg = c_noise.f_unsqueeze(-1)? * freqs;
        let fourier = Tensor::f_cat(&[arg.f_sin()?, arg.f_cos()?], -1)?;
        let bias = lin(&lin(&fourier, &self.noise1)?.f_silu()?, &self.noise2)?;
        let input = EdgeInput {
            species: &batch.species,
            first: &first,
            second: &second,
            edge_vec: &edge_vec,
            edge_attr: Some(&attr),
            layer_edges: None,
        };
        let (_s, v) = encoder.forward(&input, Some(&bias))?;
        let f = lin(&v, &self.out)?.f_squeeze_dim(-1)?; // [N, 3]
        let (c_skip, c_out) = self.preconditioning(&sigma.f_unsqueeze(-1)?)?;
        batch.center(&(c_skip * x + c_out * f))
    }
}
