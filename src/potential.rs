//! The potential: a loaded [`Potential`] computes energies, forces and virials of whole
//! systems (open or periodic) or of an MD engine's local + ghost atoms. The C ABI wraps this.

use std::path::Path;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::memory;
#[cfg(feature = "torch")]
use crate::model::evaluate::evaluate;
use crate::model::evaluate::{Pairs, Prediction, Request};
#[cfg(feature = "torch")]
use crate::model::file;
use crate::model::file::Metadata;
#[cfg(feature = "torch")]
use crate::model::Model;
use crate::model::{ModelConfig, Precision};
use crate::neighbors::{neighbor_list_capped, Capped, NeighborList, VerletList};
use crate::runtime::{Halo, Native};
use crate::structure::Frame;

pub use crate::device::Device;

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
    /// The libtorch network (CUDA, training-side use, the reference evaluator).
    #[cfg(feature = "torch")]
    model: Option<Model>,
    /// The native evaluator of the same parameters (CPU models).
    native: Option<Native>,
    backend: Backend,
    precision: Precision,
    metadata: Metadata,
    /// The model file (named in errors about the model's results).
    path: std::path::PathBuf,
    /// Memory limit in bytes replacing the process default ([`memory::limit`]).
    memory_limit: Option<f64>,
    /// The neighbour list kept between calls (an MD step or an optimiser step moves atoms
    /// less than its skin); a concurrent caller builds its own.
    verlet: Mutex<VerletList>,
}

impl Potential {
    /// Loads a model file onto `device` with parameters in `precision`; on the CPU it is
    /// evaluated by the native runtime (and, in a build with libtorch, also held as a libtorch
    /// model so that [`Backend::Torch`] can be chosen).
    pub fn load(path: &Path, device: Device, precision: Precision) -> Result<Potential> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let native = match device {
            Device::Cpu => Some(Native::from_bytes(&bytes, path, precision)?),
            Device::Cuda(_) => None,
        };
        #[cfg(feature = "torch")]
        {
            let (model, metadata) = file::from_bytes(&bytes, path, device.into(), precision)?;
            let native = native.map(|n| n.0);
            let mut pot = Potential::assemble(Some(model), native, metadata, precision);
            pot.path = path.to_path_buf();
            Ok(pot)
        }
        #[cfg(not(feature = "torch"))]
        match native {
            Some((native, metadata)) => Ok(Potential {
                native: Some(native),
                backend: Backend::Native,
                precision,
                metadata,
                path: path.to_path_buf(),
                memory_limit: None,
                verlet: Mutex::default(),
            }),
            None => Err(Error::invalid(
                "CUDA devices need a build with libtorch (the `torch` feature)",
            )),
        }
    }

    /// Wraps an in-memory model (e.g. right after training) with its metadata; a CPU model
    /// gets a native evaluator of its current parameters.
    #[cfg(feature = "torch")]
    pub fn from_model(model: Model, metadata: Metadata) -> Potential {
        let precision = model.precision();
        let native = (model.device() == tch::Device::Cpu)
            .then(|| {
                let bytes = file::to_bytes(&model.vs, &metadata).ok()?;
                let path = Path::new("<in-memory model>");
                Native::from_bytes(&bytes, path, precision).ok()
            })
            .flatten()
            .map(|(n, _)| n);
        Potential::assemble(Some(model), native, metadata, precision)
    }

    #[cfg(feature = "torch")]
    fn assemble(
        model: Option<Model>,
        native: Option<Native>,
        metadata: Metadata,
        precision: Precision,
    ) -> Potential {
        let backend = if native.is_some() {
            Backend::Native
        } else {
            Backend::Torch
        };
        Potential {
            model,
            native,
            backend,
            precision,
            metadata,
            path: "<in-memory model>".into(),
            memory_limit: None,
            verlet: Mutex::default(),
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

    /// Chooses the evaluator; the native one exists for CPU models only, libtorch only in a
    /// build with the `torch` feature.
    pub fn set_backend(&mut self, backend: Backend) -> Result<()> {
        let available = match backend {
            Backend::Native => self.native.is_some(),
            #[cfg(feature = "torch")]
            Backend::Torch => self.model.is_some(),
            #[cfg(not(feature = "torch"))]
            Backend::Torch => false,
        };
        if !available {
            return Err(Error::invalid(format!(
                "the {backend:?} evaluator is not available for this model in this build"
            )));
        }
        self.backend = backend;
        Ok(())
    }

    /// Replaces this model's memory limit (bytes; see [`crate::memory`]); `None` restores the
    /// process default.
    pub fn set_memory_limit(&mut self, bytes: Option<f64>) {
        self.memory_limit = bytes;
    }

    /// The memory limit in bytes that applies to this model's evaluations (`None`: none).
    pub fn memory_limit(&self) -> Result<Option<f64>> {
        match self.memory_limit {
            Some(bytes) => Ok(Some(bytes)),
            None => memory::limit(),
        }
    }

    /// The neighbour list within the cutoff, refused with [`Error::MemoryLimit`] when its pairs
    /// would take the evaluation past the memory limit (counted, never stored past it).
    fn neighbors(
        &self,
        positions: &[[f64; 3]],
        cell: Option<&[[f64; 3]; 3]>,
        pbc: [bool; 3],
    ) -> Result<NeighborList> {
        let limit = self.memory_limit()?;
        let (config, n) = (self.config(), positions.len());
        let max = limit.map_or(usize::MAX, |l| {
            memory::max_pairs(self.backend, config, self.precision, n, l)
        });
        let built = match self.verlet.try_lock() {
            Ok(mut verlet) => verlet.within(positions, cell, pbc, self.cutoff(), max)?,
            Err(_) => neighbor_list_capped(positions, cell, pbc, self.cutoff(), max)?,
        };
        match built {
            Capped::Within(list) => Ok(list),
            Capped::Exceeded { pairs } => Err(memory::refusal(
                self.backend,
                config,
                self.precision,
                n,
                pairs,
                limit.unwrap_or(0.0),
            )),
        }
    }

    /// Evaluates with the chosen backend; a non-finite result is an error naming the model
    /// (finite inputs giving NaN or infinity mean corrupt or diverging parameters), never a
    /// result.
    fn evaluate(
        &self,
        species: &[usize],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
        halo: Option<&mut dyn Halo>,
    ) -> Result<Prediction> {
        self.check_energy_trained()?;
        memory::check(
            self.backend,
            self.config(),
            self.precision,
            species.len(),
            pairs.first.len(),
            self.memory_limit()?,
        )?;
        let p = self.evaluate_unchecked(species, positions, pairs, n_local, request, halo)?;
        fn all_finite<'a>(mut v: impl Iterator<Item = &'a f64>) -> bool {
            v.all(|x| x.is_finite())
        }
        let bad = if !p.energy.is_finite() {
            Some("energy")
        } else if !p
            .forces
            .as_ref()
            .is_none_or(|f| all_finite(f.iter().flatten()))
        {
            Some("forces")
        } else if !p
            .virial
            .as_ref()
            .is_none_or(|w| all_finite(w.iter().flatten()))
        {
            Some("virial")
        } else if !p
            .atom_energies
            .as_ref()
            .is_none_or(|e| all_finite(e.iter()))
        {
            Some("atomic energies")
        } else {
            None
        };
        match bad {
            None => Ok(p),
            Some(what) => Err(Error::ModelFile {
                path: self.path.clone(),
                message: format!(
                    "the model gave non-finite {what} for finite input ({} atoms): its \
                     parameters are corrupt or the structure is far outside what it knows",
                    species.len()
                ),
            }),
        }
    }

    fn evaluate_unchecked(
        &self,
        species: &[usize],
        positions: &[[f64; 3]],
        pairs: &Pairs,
        n_local: usize,
        request: Request,
        halo: Option<&mut dyn Halo>,
    ) -> Result<Prediction> {
        if let (Some(native), Backend::Native) = (&self.native, self.backend) {
            return native.evaluate(species, positions, pairs, n_local, request, halo);
        }
        if halo.is_some() {
            return Err(Error::invalid(
                "the halo exchange between layers needs the native runtime (device cpu)",
            ));
        }
        #[cfg(feature = "torch")]
        if let Some(model) = &self.model {
            let sp: Vec<i64> = species.iter().map(|&s| s as i64).collect();
            return evaluate(model, &sp, positions, pairs, n_local, request);
        }
        Err(Error::invalid("no evaluator for this model"))
    }

    /// The model-file metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The architecture and elements.
    pub fn config(&self) -> &ModelConfig {
        &self.metadata.config
    }

    /// The precision computations run in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// False for a structure generator whose energy head was never trained (see
    /// [`Metadata::energy_trained`]): it gives no energies or forces.
    pub fn energy_trained(&self) -> bool {
        self.metadata.energy_trained
    }

    /// [`Error::Unsupported`] naming the model file when its energy head was never trained.
    pub fn check_energy_trained(&self) -> Result<()> {
        match self.metadata.energy_trained {
            true => Ok(()),
            false => Err(Error::Unsupported(format!(
                "model file {}: its energy head was never trained (a structure generator \
                 trained on structures only), so it gives no energies or forces; relax and \
                 rank its structures on a potential, e.g. examples/models/concord-qm9-gfn2.concord \
                 (concord generate --potential, LAMMPS concord_generate ... potential FILE, \
                 OpenMM potential_path, concord_generate_structures_with_potential)",
                self.path.display()
            ))),
        }
    }

    /// True when the model has a structure generator.
    pub fn has_generator(&self) -> bool {
        self.config().generator.is_some()
    }

    /// Maps atomic numbers `[N]` to the model's species indices `[N]` (an unknown element is
    /// an [`Error::UnknownElement`]).
    pub fn species_index(&self, numbers: &[u8]) -> Result<Vec<usize>> {
        crate::model::species_index(&self.config().elements, numbers)
    }

    /// The libtorch network.
    #[cfg(feature = "torch")]
    pub fn model(&self) -> &Model {
        self.model
            .as_ref()
            .expect("a Potential built with libtorch holds its libtorch model")
    }

    /// Cutoff of one layer, Å.
    pub fn cutoff(&self) -> f64 {
        self.config().encoder.cutoff
    }

    /// Receptive field (ghost cutoff an engine must provide), Å.
    pub fn receptive_field(&self) -> f64 {
        self.config().encoder.receptive_field()
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
        let species = self.species_index(&frame.numbers)?;
        let nl = self.neighbors(&frame.positions, frame.cell.as_ref(), frame.pbc)?;
        let shift = nl.cartesian_shifts(frame.cell.as_ref());
        let pairs = Pairs {
            first: &nl.first,
            second: &nl.second,
            shift: &shift,
        };
        self.evaluate(
            &species,
            &frame.positions,
            &pairs,
            frame.len(),
            request,
            None,
        )
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
        self.compute_local_with_halo(numbers, positions, n_local, pairs, request, None)
    }

    /// [`Potential::compute_local`] with the engine's `halo` exchange between layers
    /// ([`crate::runtime::halo`]; native runtime only): every layer runs for the local atoms
    /// only and ghosts take their owners' features, so ghosts (and `pairs`) need only reach one
    /// cutoff beyond the local atoms instead of the receptive field.
    pub fn compute_local_with_halo(
        &self,
        numbers: &[u8],
        positions: &[[f64; 3]],
        n_local: usize,
        pairs: Option<(&[usize], &[usize])>,
        request: Request,
        halo: Option<&mut dyn Halo>,
    ) -> Result<Prediction> {
        let frame = Frame::new(numbers.to_vec(), positions.to_vec());
        frame.validate()?;
        if n_local > frame.len() {
            return Err(Error::invalid(format!(
                "n_local = {n_local} exceeds the {} atoms",
                frame.len()
            )));
        }
        let species = self.species_index(numbers)?;
        let (first, second) = match pairs {
            Some((f, s)) => {
                check_full_list(f, s, frame.len())?;
                (f.to_vec(), s.to_vec())
            }
            None => {
                let nl = self.neighbors(positions, None, [false; 3])?;
                (nl.first, nl.second)
            }
        };
        let shift = vec![[0.0; 3]; first.len()];
        let pairs = Pairs {
            first: &first,
            second: &second,
            shift: &shift,
        };
        self.evaluate(&species, positions, &pairs, n_local, request, halo)
    }
}

/// Checks that engine-given pairs form a full neighbour list: each pair listed once, with its
/// reverse, and no atom paired with itself (a half list or duplicated pairs would silently give
/// a wrong energy).
fn check_full_list(first: &[usize], second: &[usize], n: usize) -> Result<()> {
    if first.len() != second.len() {
        return Err(Error::invalid(format!(
            "{} first and {} second pair indices",
            first.len(),
            second.len()
        )));
    }
    let mut pairs: Vec<(usize, usize)> =
        first.iter().copied().zip(second.iter().copied()).collect();
    if let Some(&(i, j)) = pairs.iter().find(|&&(i, j)| i >= n || j >= n) {
        return Err(Error::invalid(format!(
            "neighbour pair ({i}, {j}) out of range for {n} atoms"
        )));
    }
    if let Some(&(i, _)) = pairs.iter().find(|&&(i, j)| i == j) {
        return Err(Error::invalid(format!(
            "neighbour pair ({i}, {i}) pairs an atom with itself"
        )));
    }
    pairs.sort_unstable();
    if let Some(w) = pairs.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!(
            "neighbour pair ({}, {}) is listed twice (a full list has each pair once per \
             direction)",
            w[0].0, w[0].1
        )));
    }
    if let Some(&(i, j)) = pairs
        .iter()
        .find(|&&(i, j)| pairs.binary_search(&(j, i)).is_err())
    {
        return Err(Error::invalid(format!(
            "neighbour pair ({i}, {j}) has no reverse ({j}, {i}): a full neighbour list (both \
             directions) is required"
        )));
    }
    Ok(())
}
