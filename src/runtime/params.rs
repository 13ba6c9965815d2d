//! The parameters of a model file as plain arrays in the runtime's precision, read straight
//! from the safetensors container (no libtorch). Names and shapes are those of
//! [`crate::model`]'s variables; weights keep torch's `[out, in]` layout.

use std::collections::HashSet;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::runtime::real::{linear, silu, Real};

/// A dense layer `y = x W^T + b`.
#[derive(Debug, Clone)]
pub struct Linear<T> {
    /// Weight `[out, in]`, row-major (the right operand of the input adjoint `g_y W`).
    pub w: Vec<T>,
    /// Its transpose `[in, out]`, row-major (the right operand of the forward `x W^T`): both
    /// products then read a contiguous row-major weight, which the GEMM kernel consumes
    /// without repacking.
    pub wt: Vec<T>,
    /// Bias `[out]`, if the layer has one.
    pub b: Option<Vec<T>>,
    /// Output width.
    pub out: usize,
    /// Input width.
    pub inp: usize,
}

impl<T: Real> Linear<T> {
    /// The layer `[A; B]` computing the outputs of `a` then those of `b` from the same input
    /// (neither with a bias).
    fn stack(a: Linear<T>, b: Linear<T>) -> Linear<T> {
        debug_assert!(a.inp == b.inp && a.b.is_none() && b.b.is_none());
        let (out, inp) = (a.out + b.out, a.inp);
        let w = [a.w, b.w].concat();
        let wt = (0..inp * out)
            .map(|q| w[(q % out) * inp + q / out])
            .collect();
        Linear {
            w,
            wt,
            b: None,
            out,
            inp,
        }
    }
}

/// One message block: `phi = phi2(silu(phi1(s)))`, filter `filter(rbf) * envelope
/// (+ edge_filter(edge_attr))`.
#[derive(Debug, Clone)]
pub struct Message<T> {
    /// `[F, F]` with bias.
    pub phi1: Linear<T>,
    /// `[3F, F]` with bias.
    pub phi2: Linear<T>,
    /// `[3F, K]` with bias.
    pub filter: Linear<T>,
    /// `[3F, A]` without bias (generator edge features only).
    pub edge_filter: Option<Linear<T>>,
    /// The generator's whole filter as one weight `[K + 1 + A, 3F]`, row-major: the rows
    /// of `filter`'s `W^T`, its bias, then `edge_filter`'s `W^T` (`[3F, A]` without bias),
    /// so that `[rbf * envelope, envelope, edge_attr]` times it is
    /// `filter(rbf) * envelope + edge_filter(edge_attr)`. `None` without edge features.
    pub generator_filter: Option<Vec<T>>,
}

impl<T: Real> Message<T> {
    /// [`Message::generator_filter`] from `filter` and `edge_filter`.
    fn generator_filter(filter: &Linear<T>, edge_filter: &Linear<T>) -> Vec<T> {
        let zero = vec![T::zero(); filter.out];
        let bias = filter.b.as_deref().unwrap_or(&zero);
        [&filter.wt[..], bias, &edge_filter.wt[..]].concat()
    }
}

/// One update block.
#[derive(Debug, Clone)]
pub struct Update<T> {
    /// The products `U` and `V` of the vector features as one layer `[2F, F]` (rows of `U`,
    /// then of `V`; no bias): one matrix product per block instead of two.
    pub uv: Linear<T>,
    /// `[F, 2F]` with bias.
    pub a1: Linear<T>,
    /// `[3F, F]` with bias.
    pub a2: Linear<T>,
}

/// The denoiser's own layers.
#[derive(Debug, Clone)]
pub struct DenoiserParams<T> {
    /// Noise-level embedding `[F, 16]` with bias.
    pub noise1: Linear<T>,
    /// `[F, F]` with bias.
    pub noise2: Linear<T>,
    /// Displacement readout from the vector features, `[1, F]`, no bias.
    pub out: Linear<T>,
}

/// Every parameter of a model.
#[derive(Debug, Clone)]
pub struct Params<T> {
    /// Species embedding `[n_species, F]`.
    pub embedding: Vec<T>,
    /// Message normalisation (mean neighbour count).
    pub avg_neighbors: f64,
    /// Message blocks, one per layer.
    pub messages: Vec<Message<T>>,
    /// Update blocks, one per layer.
    pub updates: Vec<Update<T>>,
    /// Energy readout `[F/2+1, F]` with bias.
    pub readout1: Linear<T>,
    /// `[1, F/2+1]` with bias.
    pub readout2: Linear<T>,
    /// Per-element reference energies, eV, `[n_species]`.
    pub e_ref: Vec<f64>,
    /// Energy scale, eV.
    pub scale: f64,
    /// The generator's layers, if the model has one.
    pub denoiser: Option<DenoiserParams<T>>,
    /// Whether update blocks read softly normalised vector features
    /// ([`crate::model::EncoderConfig::vector_norm`]).
    pub vector_norm: bool,
    /// The first message block's `phi` of each species, `phi2(silu(phi1(embedding)))`
    /// `[n_species, 3F]`: without a noise embedding the first layer's scalars are the species
    /// embeddings, so its `phi` is a per-species constant.
    pub species_phi: Vec<T>,
}

/// `phi2(silu(phi1(embedding)))` of message block `m` for every species, `[n_species, 3F]`.
fn species_phi<T: Real>(embedding: &[T], n_species: usize, m: &Message<T>) -> Vec<T> {
    let f = m.phi1.inp;
    let mut h = vec![T::zero(); n_species * f];
    let l1 = &m.phi1;
    linear(
        embedding,
        f,
        n_species,
        &l1.wt,
        l1.b.as_deref(),
        l1.out,
        f,
        &mut h,
    );
    h.iter_mut().for_each(|x| *x = silu(*x));
    let l2 = &m.phi2;
    let mut phi = vec![T::zero(); n_species * l2.out];
    linear(
        &h,
        f,
        n_species,
        &l2.wt,
        l2.b.as_deref(),
        l2.out,
        f,
        &mut phi,
    );
    phi
}

/// Reads named float64 tensors with the expected shapes out of a safetensors file.
struct Reader<'a> {
    st: SafeTensors<'a>,
    path: &'a Path,
    used: HashSet<String>,
}

impl Reader<'_> {
    fn bad(&self, message: String) -> Error {
        Error::ModelFile {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| self.bad(format!("parameter '{name}' is missing")))?;
        if view.dtype() != Dtype::F64 || view.shape() != shape {
            return Err(self.bad(format!(
                "parameter '{name}' has shape {:?} {:?}, expected {shape:?} F64",
                view.shape(),
                view.dtype()
            )));
        }
        let values: Vec<f64> = view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        if values.iter().any(|x| !x.is_finite()) {
            return Err(self.bad(format!("parameter '{name}' holds non-finite values")));
        }
        self.used.insert(name.to_string());
        Ok(values)
    }

    fn real<T: Real>(&mut self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        Ok(self.tensor(name, shape)?.into_iter().map(T::of).collect())
    }

    fn linear<T: Real>(
        &mut self,
        name: &str,
        out: usize,
        inp: usize,
        bias: bool,
    ) -> Result<Linear<T>> {
        let w: Vec<T> = self.real(&format!("{name}.weight"), &[out, inp])?;
        let wt = (0..inp * out)
            .map(|q| w[(q % out) * inp + q / out])
            .collect();
        Ok(Linear {
            w,
            wt,
            b: if bias {
                Some(self.real(&format!("{name}.bias"), &[out])?)
            } else {
                None
            },
            out,
            inp,
        })
    }
}

/// Number of Fourier features of the denoiser's noise-level embedding (sin and cos of 8
/// frequencies).
pub const NOISE_FEATURES: usize = 16;

impl<T: Real> Params<T> {
    /// Reads the parameters of `config` from model-file `bytes` (`path` names the file in
    /// errors): every tensor present, float64, of the right shape, finite, none left over.
    pub fn from_bytes(bytes: &[u8], config: &ModelConfig, path: &Path) -> Result<Params<T>> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::ModelFile {
            path: path.to_path_buf(),
            message: format!("corrupt or truncated tensor data: {e}"),
        })?;
        let mut r = Reader {
            st,
            path,
            used: HashSet::new(),
        };
        let c = &config.encoder;
        let (f, k, a) = (
            c.features as usize,
            c.radial_basis as usize,
            c.edge_features as usize,
        );
        let n_species = config.elements.len();
        let embedding = r.real("encoder.embedding", &[n_species, f])?;
        let avg_neighbors = r.tensor("encoder.avg_neighbors", &[])?[0];
        let mut messages = Vec::new();
        let mut updates = Vec::new();
        for l in 0..c.layers {
            let m = format!("encoder.message{l}");
            let filter = r.linear(&format!("{m}.filter"), 3 * f, k, true)?;
            let edge_filter = match a {
                0 => None,
                _ => Some(r.linear(&format!("{m}.edge_filter"), 3 * f, a, false)?),
            };
            let generator_filter = edge_filter
                .as_ref()
                .map(|edge| Message::generator_filter(&filter, edge));
            messages.push(Message {
                phi1: r.linear(&format!("{m}.phi1"), f, f, true)?,
                phi2: r.linear(&format!("{m}.phi2"), 3 * f, f, true)?,
                filter,
                edge_filter,
                generator_filter,
            });
            let u = format!("encoder.update{l}");
            updates.push(Update {
                uv: Linear::stack(
                    r.linear(&format!("{u}.u"), f, f, false)?,
                    r.linear(&format!("{u}.v"), f, f, false)?,
                ),
                a1: r.linear(&format!("{u}.a1"), f, 2 * f, true)?,
                a2: r.linear(&format!("{u}.a2"), 3 * f, f, true)?,
            });
        }
        let hidden = f / 2 + 1;
        let readout1 = r.linear("energy.readout1", hidden, f, true)?;
        let readout2 = r.linear("energy.readout2", 1, hidden, true)?;
        let e_ref = r.tensor("energy.e_ref", &[n_species])?;
        let scale = r.tensor("energy.scale", &[])?[0];
        let denoiser = match config.generator {
            Some(_) => Some(DenoiserParams {
                noise1: r.linear("denoiser.noise1", f, NOISE_FEATURES, true)?,
                noise2: r.linear("denoiser.noise2", f, f, true)?,
                out: r.linear("denoiser.out", 1, f, false)?,
            }),
            None => None,
        };
        if r.used.len() != r.st.len() {
            let extra: Vec<String> =
                r.st.names()
                    .into_iter()
                    .filter(|n| !r.used.contains(*n))
                    .map(|n| n.to_string())
                    .collect();
            return Err(r.bad(format!(
                "{} tensors in the file, the architecture has {} (unexpected: {})",
                r.st.len(),
                r.used.len(),
                extra.join(", ")
            )));
        }
        let species_phi = match messages.first() {
            Some(m) => species_phi(&embedding, n_species, m),
            None => Vec::new(),
        };
        Ok(Params {
            species_phi,
            embedding,
            avg_neighbors,
            messages,
            updates,
            readout1,
            readout2,
            e_ref,
            scale,
            denoiser,
            vector_norm: c.vector_norm,
        })
    }
}
