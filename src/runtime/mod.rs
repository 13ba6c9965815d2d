//! The native runtime: a pure-Rust evaluator of a model file (no libtorch), with the
//! encoder's forward pass and a hand-written reverse pass for forces and virials
//! ([`encoder`]), the way ML-PACE or Symmetrix evaluate what a framework trained.
//!
//! It agrees with the libtorch path ([`crate::model::evaluate`]) on the same file to float64
//! round-off (tested in `tests/native_runtime.rs`). Precision: the network runs in `T`
//! (`f32` or `f64`); edge geometry is computed in `f64`, and the energy, forces and virials
//! are accumulated in `f64` whatever `T` is. The float32 runtime evaluates the radial filters
//! from tables ([`filters`]: values within 2e-8, derivatives within 3e-6 of the exact ones,
//! relative); float64 computes them exactly. The ZBL core ([`crate::model::zbl`]), where a
//! model has one, is evaluated in `f64`.

pub mod denoiser;
pub mod edges;
pub mod encoder;
pub mod filters;
pub mod halo;
pub mod params;
pub mod radial;
pub mod real;
pub mod simd;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::model::file::{check_size, read_metadata, Metadata};
use crate::model::pairs::{add_derivatives, edge_vectors, layer_edges, Pairs, Prediction, Request};
use crate::model::zbl::Zbl;
use crate::model::{ModelConfig, Precision};
pub use encoder::{Graph, Workspace};
use filters::{FilterTable, GeneratorTable};
pub use halo::Halo;
pub use params::Params;
use radial::Radial;
pub use real::Real;

/// A model file's network in precision `T`, with reusable scratch space.
#[derive(Debug)]
pub struct NativeModel<T: Real> {
    params: Params<T>,
    config: ModelConfig,
    radial: Radial,
    table: Option<FilterTable<T>>,
    /// The generator's table, built on the first sampling call when filters are tabulated.
    generator_table: OnceLock<Option<GeneratorTable<T>>>,
    zbl: Option<Zbl>,
    workspace: Mutex<Workspace<T>>,
}

impl<T: Real> NativeModel<T> {
    /// Reads the network of model-file `bytes` (`path` names the file in errors); with
    /// `tabulate`, radial filters are evaluated from [`FilterTable`]s.
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        tabulate: bool,
    ) -> Result<(NativeModel<T>, Metadata)> {
        let meta = read_metadata(bytes, path)?;
        check_size(&meta.config, bytes, path)?;
        let config = meta.config.clone();
        let params = Params::from_bytes(bytes, &config, path)?;
        let model = NativeModel::from_params(params, config, tabulate)?;
        Ok((model, meta))
    }

    /// The architecture and elements.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The parameters.
    pub fn params(&self) -> &Params<T> {
        &self.params
    }

    /// A model of `params` with the architecture `config` (e.g. parameters in training); with
    /// `tabulate`, radial filters are evaluated from [`FilterTable`]s built for them.
    pub fn from_params(
        params: Params<T>,
        config: ModelConfig,
        tabulate: bool,
    ) -> Result<NativeModel<T>> {
        let c = &config.encoder;
        let radial = Radial {
            cutoff: c.cutoff,
            n_basis: c.radial_basis as usize,
            p: 6,
        };
        let zbl = c
            .zbl
            .map(|range| Zbl::new(&config.elements, range))
            .transpose()?;
        let table = tabulate.then(|| FilterTable::new(&params, &radial));
        Ok(NativeModel {
            params,
            config,
            radial,
            table,
            generator_table: OnceLock::new(),
            zbl,
            workspace: Mutex::new(Workspace::default()),
        })
    }

    /// The potential's graph of atoms `species` with `pairs` and their edge `vectors` (Å),
    /// running `layer_edges` (`None`: every edge in every layer).
    fn graph<'a>(
        &'a self,
        species: &'a [usize],
        pairs: &'a Pairs,
        vectors: &'a [[f64; 3]],
        layer_edges: Option<&'a [Vec<usize>]>,
    ) -> Graph<'a, T> {
        Graph {
            species,
            first: pairs.first,
            second: pairs.second,
            vectors,
            edge_features: None,
            layer_edges,
            table: self.table.as_ref(),
        }
    }

    /// Adds to `grads` the gradient of `sum_i coeff[i] E_i` with respect to the parameters,
    /// `E_i` the network's atomic energies of atoms `species` (`[N]`) at `positions` (Å,
    /// `[N][3]`) with `pairs` (every atom local; the reference energies and the ZBL core do
    /// not depend on the parameters). See [`encoder::gradient`].
    #[cfg(feature = "torch")]
    pub fn energy_gradient(
        &self,
        species: &[usize],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        coeff: &[T],
        ws: &mut Workspace<T>,
        grads: &mut encoder::gradient::ParamGrads<T>,
    ) -> Result<()> {
        let n = species.len();
        let vectors = edge_vectors(n, positions, pairs, n)?;
        let graph = self.graph(species, pairs, &vectors, None);
        encoder::gradient::energy_gradient(&self.params, &self.radial, &graph, coeff, ws, grads)
    }

    /// Energy of the first `n_local` atoms and the requested derivatives for atoms of species
    /// indices `species` (`[N]`) at `positions` (Å, `[N][3]`) with neighbour `pairs` (both
    /// directions). Forces cover all `N` atoms. Same contract as
    /// [`crate::model::evaluate::evaluate`]. With a `halo`, every layer runs only for the
    /// local atoms and the ghost atoms take their owners' features between layers
    /// ([`halo`]): the pairs then need only reach one cutoff beyond the local atoms.
    pub fn evaluate(
        &self,
        species: &[usize],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
        mut halo: Option<&mut dyn Halo>,
    ) -> Result<Prediction> {
        let n = species.len();
        if let Some(&bad) = species.iter().find(|&&s| s >= self.config.elements.len()) {
            return Err(Error::invalid(format!("species index {bad} out of range")));
        }
        // With a halo every layer runs the edges into local atoms only: drop the others.
        let kept = halo.is_some().then(|| local_pairs(pairs, n_local));
        let pairs = match &kept {
            Some((first, second, shift)) => Pairs {
                first,
                second,
                shift,
            },
            None => *pairs,
        };
        let pairs = &pairs;
        let vectors = edge_vectors(n, positions, pairs, n_local)?;
        let layers = self.params.messages.len();
        let sets = match halo {
            Some(_) => None,
            None => layer_edges(layers, n_local, n, pairs),
        };
        let graph = self.graph(species, pairs, &vectors, sets.as_deref());
        // One workspace per model; a concurrent caller gets a fresh one instead of waiting.
        let mut guard = self.workspace.try_lock().ok();
        let mut local = Workspace::default();
        let ws = guard.as_deref_mut().unwrap_or(&mut local);
        let forward_halo: Option<(&mut dyn Halo, usize)> = match halo.as_mut() {
            Some(h) => Some((&mut **h, n_local)),
            None => None,
        };
        encoder::forward(&self.params, &self.radial, &graph, None, forward_halo, ws)?;
        let mut atomic = Vec::with_capacity(n);
        encoder::readout(&self.params, species, ws, &mut atomic);
        let mut grad = Vec::new();
        if request.needs_gradient() {
            encoder::backward(&self.params, &graph, n_local, halo, ws, &mut grad)?;
        }
        if let Some(zbl) = &self.zbl {
            let g = request.needs_gradient().then_some(&mut grad[..]);
            zbl.add(species, pairs, &vectors, n_local, &mut atomic, g);
        }
        let mut out = Prediction {
            energy: atomic[..n_local].iter().sum(),
            ..Default::default()
        };
        if request.needs_gradient() {
            add_derivatives(&mut out, request, n, pairs, &vectors, &grad);
        }
        if request.atom_energies {
            out.atom_energies = Some(atomic);
        }
        Ok(out)
    }
}

/// The pairs of `pairs` whose first (receiving) atom is local (`< n_local`): first atoms,
/// second atoms and shifts.
fn local_pairs(pairs: &Pairs, n_local: usize) -> (Vec<usize>, Vec<usize>, Vec<[f64; 3]>) {
    let kept: Vec<usize> = (0..pairs.first.len())
        .filter(|&e| pairs.first[e] < n_local)
        .collect();
    (
        kept.iter().map(|&e| pairs.first[e]).collect(),
        kept.iter().map(|&e| pairs.second[e]).collect(),
        kept.iter().map(|&e| pairs.shift[e]).collect(),
    )
}

/// A native model in the precision chosen at load time.
#[derive(Debug)]
pub enum Native {
    /// float32 arithmetic with tabulated filters, float64 accumulation.
    F32(NativeModel<f32>),
    /// float64 throughout.
    F64(NativeModel<f64>),
}

impl Native {
    /// Reads a model file's bytes in `precision`.
    pub fn from_bytes(
        bytes: &[u8],
        path: &Path,
        precision: Precision,
    ) -> Result<(Native, Metadata)> {
        Ok(match precision {
            Precision::Float32 => {
                let (m, meta) = NativeModel::from_bytes(bytes, path, true)?;
                (Native::F32(m), meta)
            }
            Precision::Float64 => {
                let (m, meta) = NativeModel::from_bytes(bytes, path, false)?;
                (Native::F64(m), meta)
            }
        })
    }

    /// [`NativeModel::evaluate`] in the loaded precision.
    pub fn evaluate(
        &self,
        species: &[usize],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
        halo: Option<&mut dyn Halo>,
    ) -> Result<Prediction> {
        match self {
            Native::F32(m) => m.evaluate(species, positions, pairs, n_local, request, halo),
            Native::F64(m) => m.evaluate(species, positions, pairs, n_local, request, halo),
        }
    }
}
