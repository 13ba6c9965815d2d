//! The shared E(3)-equivariant encoder: PaiNN (Schütt et al., ICML 2021) message passing over
//! scalar features `s` `[N, F]` and vector features `v` `[N, 3, F]`.
//!
//! Scalars are invariant and vectors rotate with the input under rotations and reflections;
//! translations do not enter (only edge vectors do); permuting atoms permutes the outputs.

use tch::{nn, Tensor};

use crate::error::Result;
use crate::model::config::EncoderConfig;
use crate::model::radial::{safe_norm, RadialBasis};

/// Graph inputs of the encoder; all atoms of a batch are concatenated.
#[derive(Debug)]
pub struct EdgeInput<'a> {
    /// Element index of each atom (into the model's element list), `[N]` int64.
    pub species: &'a Tensor,
    /// Receiving atom of each edge, `[E]` int64.
    pub first: &'a Tensor,
    /// Sending atom of each edge, `[E]` int64.
    pub second: &'a Tensor,
    /// Edge vectors `x[second] - x[first] + shift` in Å, `[E, 3]`.
    pub edge_vec: &'a Tensor,
    /// Extra edge features `[E, edge_features]` (the generator's graph edges), added to the
    /// radial filter without envelope; `None` for the potential.
    pub edge_attr: Option<&'a Tensor>,
    /// For each layer, the edges (int64 indices into the edge arrays) whose messages can still
    /// reach an atom whose output matters; `None` runs every edge in every layer. An MD
    /// engine's ghost atoms far from its local atoms only need their first layers.
    pub layer_edges: Option<&'a [Tensor]>,
}

fn linear(x: &Tensor, l: &nn::Linear) -> Result<Tensor> {
    Ok(x.f_linear(&l.ws, l.bs.as_ref())?)
}

struct MessageBlock {
    phi1: nn::Linear,
    phi2: nn::Linear,
    filter: nn::Linear,
    edge_filter: Option<nn::Linear>,
}

struct UpdateBlock {
    u: nn::Linear,
    v: nn::Linear,
    a1: nn::Linear,
    a2: nn::Linear,
}

/// The PaiNN encoder. Parameter names (`embedding`, `message{l}.*`, `update{l}.*`) are part of
/// the model-file format.
pub struct Encoder {
    config: EncoderConfig,
    radial: RadialBasis,
    embedding: Tensor,
    /// Mean number of neighbours within the cutoff in the training data, `[]` (fitted, not
    /// trained): aggregated messages are divided by it so feature magnitudes stay O(1).
    avg_neighbors: Tensor,
    messages: Vec<MessageBlock>,
    updates: Vec<UpdateBlock>,
}

impl Encoder {
    /// Creates the encoder's parameters under `path` for `n_species` elements.
    pub fn new(path: &nn::Path, config: EncoderConfig, n_species: i64) -> Self {
        let f = config.features;
        let nobias = nn::LinearConfig {
            bias: false,
            ..Default::default()
        };
        let embedding = path.var(
            "embedding",
            &[n_species, f],
            nn::Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        );
        let mut avg_neighbors = path.ones_no_train("avg_neighbors", &[]);
        tch::no_grad(|| {
            let _ = avg_neighbors.fill_(10.0);
        });
        let mut messages = Vec::new();
        let mut updates = Vec::new();
        for l in 0..config.layers {
            let m = path / format!("message{l}");
            messages.push(MessageBlock {
                phi1: nn::linear(&m / "phi1", f, f, Default::default()),
                phi2: nn::linear(&m / "phi2", f, 3 * f, Default::default()),
                filter: nn::linear(
                    &m / "filter",
                    config.radial_basis,
                    3 * f,
                    Default::default(),
                ),
                edge_filter: (config.edge_features > 0)
                    .then(|| nn::linear(&m / "edge_filter", config.edge_features, 3 * f, nobias)),
            });
            let u = path / format!("update{l}");
            updates.push(UpdateBlock {
                u: nn::linear(&u / "u", f, f, nobias),
                v: nn::linear(&u / "v", f, f, nobias),
                a1: nn::linear(&u / "a1", 2 * f, f, Default::default()),
                a2: nn::linear(&u / "a2", f, 3 * f, Default::default()),
            });
        }
        Encoder {
            config,
            radial: RadialBasis {
                cutoff: config.cutoff,
                n_basis: config.radial_basis,
                envelope_p: 6,
            },
            embedding,
            avg_neighbors,
            messages,
            updates,
        }
    }

    /// Sets the message normalisation: the mean number of neighbours within the cutoff.
    pub fn set_avg_neighbors(&mut self, value: f64) -> Result<()> {
        let _ = tch::no_grad(|| self.avg_neighbors.f_fill_(value.max(1.0)))?;
        Ok(())
    }

    /// The architecture.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Runs message passing. `atom_bias` (`[N, F]`, optional) is added to the initial scalar
    /// features (e.g. a noise-level embedding). Returns the scalar features `[N, F]` and the
    /// vector features `[N, 3, F]`.
    pub fn forward(
        &self,
        input: &EdgeInput,
        atom_bias: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let f = self.config.features;
        let n = input.species.size()[0];
        let kind = input.edge_vec.kind();
        let device = input.edge_vec.device();
        let mut s = self.embedding.f_index_select(0, input.species)?;
        if let Some(b) = atom_bias {
            s = s + b;
        }
        let mut v = Tensor::f_zeros([n, 3, f], (kind, device))?;
        let r = safe_norm(input.edge_vec, 1e-12)?;
        let unit = (input.edge_vec / r.f_unsqueeze(-1)?).f_unsqueeze(-1)?; // [E, 3, 1]
        let rbf = self.radial.forward(&r)?; // [E, K]
        let env = self.radial.envelope(&r)?.f_unsqueeze(-1)?; // [E, 1]
        for (layer, (msg, upd)) in self.messages.iter().zip(&self.updates).enumerate() {
            // This layer's edges: all, or the subset that still matters.
            let subset = input.layer_edges.map(|sets| &sets[layer]);
            let pick = |t: &Tensor| -> Result<Tensor> {
                Ok(match subset {
                    Some(idx) => t.f_index_select(0, idx)?,
                    None => t.shallow_clone(),
                })
            };
            let (first, second) = (pick(input.first)?, pick(input.second)?);
            // Message: filter the sender's scalars by the edge's radial features.
            let phi = linear(&linear(&s, &msg.phi1)?.f_silu()?, &msg.phi2)?;
            let mut w = linear(&pick(&rbf)?, &msg.filter)? * pick(&env)?;
            if let (Some(attr), Some(ef)) = (input.edge_attr, &msg.edge_filter) {
                w = w + linear(&pick(attr)?, ef)?;
            }
            let x = phi.f_index_select(0, &second)? * w; // [E, 3F]
            let parts = x.f_split(f, -1)?;
            let (gate_v, ds_e, gate_r) = (&parts[0], &parts[1], &parts[2]);
            let v_j = v.f_index_select(0, &second)?;
            let dv_e = v_j * gate_v.f_unsqueeze(1)? + pick(&unit)? * gate_r.f_unsqueeze(1)?;
            let ds = Tensor::f_zeros_like(&s)?.f_index_add(0, &first, ds_e)?;
            let dv = Tensor::f_zeros_like(&v)?.f_index_add(0, &first, &dv_e)?;
            s = s + ds / &self.avg_neighbors;
            v = v + dv / &self.avg_neighbors;
            // Update: mix scalars and vector norms, rotate nothing.
            let v_in = if self.config.vector_norm {
                let sq = v
                    .f_square()?
                    .f_sum_dim_intlist([1i64, 2].as_slice(), true, kind)?;
                &v / (sq / f as f64 + 1.0).f_sqrt()?
            } else {
                v.shallow_clone()
            };
            let uv = linear(&v_in, &upd.u)?;
            let vv = linear(&v_in, &upd.v)?;
            let vnorm = (vv.f_square()?.f_sum_dim_intlist(1, false, kind)? + 1e-8).f_sqrt()?;
            let a = linear(
                &linear(&Tensor::f_cat(&[&s, &vnorm], -1)?, &upd.a1)?.f_silu()?,
                &upd.a2,
            )?;
            let a = a.f_split(f, -1)?;
            let dot = (&uv * &vv).f_sum_dim_intlist(1, false, kind)?;
            v = v + a[0].f_unsqueeze(1)? * &uv;
            s = s + &a[1] * dot + &a[2];
        }
        Ok((s, v))
    }
}
