//! The Rust API: a loaded [`Potential`] computes energies, forces and virials of whole
//! systems (open or periodic) or of an MD engine's local + ghost atoms. The C ABI wraps this.

use std::path::Path;

use tch::Device;

use crate::error::{Error, Result};
use crate::model::evaluate::{evaluate, Pairs, Prediction, Request};
use crate::model::file::{self, Metadata};
use crate::model::{Model, Precision};
use crate::neighbors::neighbor_list;
use crate::runtime::Native;
use crate::structure::Frame;

/// Which evaluator computes energies and forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The native runtime ([`crate::runtime`]): the default on the CPU.
    Native,
    /// libtorch with autograd: CUDA devices, and the reference the native runtime is tested
    /// against.
    Torch,
}

/// A trained energy model loaded from a model file.
pub struct Potential {
    model: Model,
    /// The native evaluator of the same parameters (CPU models only).
    native: Option<Native>,
    backend: Backend,
    metadata: Metadata,
}

impl Potential {
    /// Loads a model file onto `device` with parameters in `precision`; on the CPU it is
    /// evaluated by the native runtime.
    pub fn load(path: &Path, device: Device, precision: Precision) -> Result<Potential> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (model, metadata) = file::from_bytes(&bytes, path, device, precision)?;
        let native = match device {
            Device::Cpu => Some(Native::from_bytes(&bytes, path, precision)?.0),
            _ => None,
        };
        Ok(Potential::assemble(model, native, metadata))
    }

    /// Wraps an in-memory model (e.g. right after training) with its metadata; a CPU model
    /// gets a native evaluator of its current parameters.
    pub fn from_model(model: Model, metadata: Metadata) -> Potential {
        let native = (model.device() == Device::Cpu)
            .then(|| {
                let bytes = file::to_bytes(&model.vs, &metadata).ok()?;
                let path = Path::new("<in-memory model>");
                Native::from_bytes(&bytes, path, model.precision()).ok()
            })
            .flatten()
            .map(|(n, _)| n);
        Potential::assemble(model, native, metadata)
    }

    fn assemble(model: Model, native: Option<Native>, metadata: Metadata) -> Potential {
        let backend = if native.is_some() {
            Backend::Native
        } else {
            Backend::Torch
        };
        Potential {
            model,
            native,
            backend,
            metadata,
        }
    }

    /// The native evaluator, if the model is on the CPU.
    pub fn native(&self) -> Option<&Native> {
        self.native.as_ref()
    }

    /// The evaluator in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Chooses the evaluator; the native one exists for CPU models only.
    pub fn set_backend(&mut self, backend: Backend) -> Result<()> {
        if backend == Backend::Native && self.native.is_none() {
            return Err(Error::invalid(
                "the native runtime evaluates CPU models only",
            ));
        }
        self.backend = backend;
        Ok(())
    }

    /// Evaluates with the chosen backend (species from [`Model::species_index`]).
    fn evaluate(
        &self,
        species: &[i64],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
    ) -> Result<Prediction> {
        match (&self.native, self.backend) {
            (Some(native), Backend::Native) => {
                let sp: Vec<usize> = species.iter().map(|&s| s as usize).collect();
                native.evaluate(&sp, positions, pairs, n_local, request)
            }
            _ => evaluate(&self.model, species, positions, pairs, n_local, request),
        }
    }

    /// The model-file metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The underlying network.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Cutoff of one layer, Å.
    pub fn cutoff(&self) -> f64 {
        self.model.cutoff()
    }

    /// Receptive field (ghost cutoff an engine must provide), Å.
    pub fn receptive_field(&self) -> f64 {
        self.model.receptive_field()
    }

    /// Energy (eV) and the requested derivatives of a whole system: atomic numbers `[N]`,
    /// positions in Å `[N][3]`, optional cell (rows = lattice vectors, Å) and periodicity.
    pub fn compute(
        &self,
        numbers: &[u8],
        positions: &[[f64; 3]],
        cell: Option<&[[f64; 3]; 3]>,
        pbc: [bool; 3],
        request: Request,
    ) -> Result<Prediction> {
        let frame = Frame {
            numbers: numbers.to_vec(),
            positions: positions.to_vec(),
            cell: cell.copied(),
            pbc,
            ..Default::default()
        };
        self.compute_frame(&frame, request)
    }

    /// [`Potential::compute`] for a [`Frame`] (its labels are ignored).
    pub fn compute_frame(&self, frame: &Frame, request: Request) -> Result<Prediction> {
        frame.validate()?;
        let species = self.model.species_index(&frame.numbers)?;
        let nl = neighbor_list(
            &frame.positions,
            frame.cell.as_ref(),
            frame.pbc,
            self.cutoff(),
        )?;
        let shift = nl.cartesian_shifts(frame.cell.as_ref());
        let pairs = Pairs {
            first: &nl.first,
            second: &nl.second,
            shift: &shift,
        };
        self.evaluate(&species, &frame.positions, &pairs, frame.len(), request)
    }

    /// Energy of an engine's first `n_local` atoms and forces on all `N` (local + ghost) atoms.
    /// Ghost atoms are periodic images or atoms of other domains already placed by the engine,
    /// so no cell is involved. `pairs` (both directions, zero shifts) may come from the engine;
    /// when `None`, Concord searches neighbours itself within the cutoff.
    pub fn compute_local(
        &self,
        numbers: &[u8],
        positions: &[[f64; 3]],
        n_local: usize,
        pairs: Option<(&[usize], &[usize])>,
        request: Request,
    ) -> Result<Prediction> {
        let frame = Frame::new(numbers.to_vec(), positions.to_vec());
        frame.validate()?;
        if n_local > frame.len() {
            return Err(Error::invalid(format!(
                "n_local = {n_local} exceeds the {} atoms",
                frame.len()
            )));
        }
        let species = self.model.species_index(numbers)?;
        let (first, second) = match pairs {
            Some((f, s)) => (f.to_vec(), s.to_vec()),
            None => {
                let nl = neighbor_list(positions, None, [false; 3], self.cutoff())?;
                (nl.first, nl.second)
            }
        };
        let shift = vec![[0.0; 3]; first.len()];
        let pairs = Pairs {
            first: &first,
            second: &second,
            shift: &shift,
        };
        self.evaluate(&species, positions, &pairs, n_local, request)
    }
}
