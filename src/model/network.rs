//! The libtorch network (training, CUDA, and the reference the native runtime is tested
//! against): a shared [`Encoder`] and an energy head; forces and virials by autograd (see
//! [`crate::model::evaluate`]).

use std::sync::Mutex;

use tch::{nn, Device, Kind, Tensor};

use crate::elements;
use crate::error::{Error, Result};
use crate::model::config::species_index;
use crate::model::radial::{safe_norm, RadialBasis};
use crate::model::zbl::{self, Zbl};
use crate::model::{Denoiser, EdgeInput, Encoder, GraphBatch, ModelConfig, Precision};

impl Precision {
    /// The libtorch dtype.
    pub fn kind(self) -> Kind {
        match self {
            Precision::Float32 => Kind::Float,
            Precision::Float64 => Kind::Double,
        }
    }
}

/// An energy model: encoder + readout. `E = sum_i (scale * MLP(s_i) + e_ref[Z_i])` in eV,
/// plus the ZBL core ([`crate::model::zbl`]) where the architecture has one.
pub struct Model {
    /// All parameters (trainable and buffers); names are the model-file format.
    pub vs: nn::VarStore,
    config: ModelConfig,
    precision: Precision,
    encoder: Encoder,
    readout1: nn::Linear,
    readout2: nn::Linear,
    /// Per-element reference energies in eV, `[n_species]` (fitted, not trained).
    e_ref: Tensor,
    denoiser: Option<Denoiser>,
    /// Energy scale in eV multiplying the network's atomic outputs, `[]` (fitted, not trained).
    scale: Tensor,
    /// The ZBL core's constants (no parameters), if the architecture has one.
    zbl: Option<ZblTensors>,
}

/// The ZBL core's per-species constants on the model's device: atomic numbers and covalent
/// radii (Å), each `[n_species]`, and the range.
struct ZblTensors {
    z: Tensor,
    radius: Tensor,
    range: f64,
}

impl ZblTensors {
    fn new(elements: &[u8], range: f64, device: Device, kind: Kind) -> Result<Self> {
        let zbl = Zbl::new(elements, range)?;
        let on = |v: &[f64]| -> Result<Tensor> {
            Ok(Tensor::from_slice(v).f_to_kind(kind)?.f_to_device(device)?)
        };
        Ok(ZblTensors {
            z: on(zbl.atomic_numbers())?,
            radius: on(zbl.radii())?,
            range,
        })
    }

    /// Half of each edge's pair energy summed on its first atom, eV, `[n_atoms]`: the formula
    /// of [`Zbl::pair`] in tensor operations (differentiable to any order).
    fn atomic(&self, input: &EdgeInput, n_atoms: i64) -> Result<Tensor> {
        let r = safe_norm(input.edge_vec, 1e-12)?;
        let of = |t: &Tensor, atoms: &Tensor| -> Result<Tensor> {
            Ok(t.f_index_select(0, &input.species.f_index_select(0, atoms)?)?)
        };
        let (zi, zj) = (of(&self.z, input.first)?, of(&self.z, input.second)?);
        let rs = (of(&self.radius, input.first)? + of(&self.radius, input.second)?) * self.range;
        let screen = (zi.f_pow_tensor_scalar(zbl::SCREENING_EXPONENT)?
            + zj.f_pow_tensor_scalar(zbl::SCREENING_EXPONENT)?)
        .f_reciprocal()?
            * zbl::SCREENING_LENGTH;
        let mut s = r.f_zeros_like()?;
        for (c, d) in zbl::COEFFICIENTS.iter().zip(zbl::DECAYS) {
            s += (&r * (-d) / &screen).f_exp()? * *c;
        }
        // The encoder's envelope of x = r / rs (a unit cutoff), as the scalar core uses it.
        let unit = RadialBasis {
            cutoff: 1.0,
            n_basis: 0,
            envelope_p: 6,
        };
        let f = unit.envelope(&(&r / rs))?;
        let phi = zi * zj / &r * s * f * (0.5 * zbl::COULOMB);
        Ok(Tensor::f_zeros(n_atoms, (r.kind(), r.device()))?.f_index_add(0, input.first, &phi)?)
    }
}

/// Held while a model's parameters are drawn from libtorch's global random generator.
static INIT_LOCK: Mutex<()> = Mutex::new(());

impl Model {
    /// A freshly initialised model, its parameters drawn from libtorch's global random
    /// generator ([`Model::seeded`] for a reproducible one).
    pub fn new(config: ModelConfig, device: Device, precision: Precision) -> Result<Self> {
        let _drawing = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Self::build(config, device, precision)
    }

    /// A freshly initialised model whose parameters depend on `seed` only: libtorch's generator
    /// is seeded and drawn from under a process-wide lock, so models initialised (or loaded) at
    /// the same time on other threads cannot take draws from between (two trainings in one
    /// process, as the tests run them, start from the same parameters as in separate runs).
    pub fn seeded(
        config: ModelConfig,
        device: Device,
        precision: Precision,
        seed: i64,
    ) -> Result<Self> {
        let _drawing = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(seed);
        Self::build(config, device, precision)
    }

    /// [`Model::new`] without the lock.
    fn build(mut config: ModelConfig, device: Device, precision: Precision) -> Result<Self> {
        if config.elements.is_empty() {
            return Err(Error::invalid("a model needs at least one element"));
        }
        for &z in &config.elements {
            elements::symbol(z)?;
        }
        config.encoder.edge_features = config.generator.map_or(0, |g| g.edge_features());
        if let Some(g) = &config.generator {
            if !(g.sigma_data > 0.0
                && g.sigma_min > 0.0
                && g.sigma_max > g.sigma_min
                && g.distance_features >= 1
                && g.distance_max > 0.0)
            {
                return Err(Error::invalid(format!("invalid generator settings {g:?}")));
            }
        }
        let c = config.encoder;
        if c.features < 1
            || c.layers < 1
            || c.radial_basis < 1
            || c.cutoff.is_nan()
            || c.cutoff <= 0.0
        {
            return Err(Error::invalid(format!(
                "invalid encoder architecture {c:?}"
            )));
        }
        let mut vs = nn::VarStore::new(device);
        let root = vs.root();
        let n_species = config.elements.len() as i64;
        let encoder = Encoder::new(&(&root / "encoder"), c, n_species);
        let head = &root / "energy";
        let readout1 = nn::linear(
            &head / "readout1",
            c.features,
            c.features / 2 + 1,
            Default::default(),
        );
        let readout2 = nn::linear(
            &head / "readout2",
            c.features / 2 + 1,
            1,
            Default::default(),
        );
        let e_ref = head.zeros_no_train("e_ref", &[n_species]);
        let scale = head.ones_no_train("scale", &[]);
        let denoiser = config
            .generator
            .map(|g| Denoiser::new(&(&root / "denoiser"), g, c.features, c.cutoff));
        if precision == Precision::Float64 {
            vs.double();
        }
        let zbl = c
            .zbl
            .map(|range| ZblTensors::new(&config.elements, range, device, precision.kind()))
            .transpose()?;
        Ok(Model {
            vs,
            config,
            precision,
            encoder,
            readout1,
            readout2,
            e_ref,
            scale,
            denoiser,
            zbl,
        })
    }

    /// The architecture and elements.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The precision of parameters and computations.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The shared encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The structure generator's denoiser, if the model has one.
    pub fn denoiser(&self) -> Option<&Denoiser> {
        self.denoiser.as_ref()
    }

    /// Denoised positions `[N, 3]` (Å) of noisy positions `x` `[N, 3]` at per-atom noise levels
    /// `sigma` `[N]` (Å) for the molecules of `batch`; an error for a potential-only model.
    pub fn denoise(&self, batch: &GraphBatch, x: &Tensor, sigma: &Tensor) -> Result<Tensor> {
        let d = self
            .denoiser
            .as_ref()
            .ok_or_else(|| Error::invalid("this model has no structure generator"))?;
        d.forward(&self.encoder, batch, x, sigma)
    }

    /// Stops every parameter from taking gradients (for a frozen copy of the potential).
    pub fn freeze(&mut self) -> Result<()> {
        for (_, mut v) in self.vs.variables() {
            let _ = v.f_requires_grad_(false)?;
        }
        self.vs.freeze();
        Ok(())
    }

    /// True if no parameter takes gradients.
    pub fn is_frozen(&self) -> bool {
        self.vs.variables().values().all(|v| !v.requires_grad())
    }

    /// Cutoff radius of one message-passing layer, Å.
    pub fn cutoff(&self) -> f64 {
        self.config.encoder.cutoff
    }

    /// Receptive field in Å (layers x cutoff).
    pub fn receptive_field(&self) -> f64 {
        self.config.encoder.receptive_field()
    }

    /// Maps atomic numbers `[N]` to the model's species indices `[N]`; an element the model
    /// was not trained on is an [`Error::UnknownElement`].
    pub fn species_index(&self, numbers: &[u8]) -> Result<Vec<i64>> {
        Ok(species_index(&self.config.elements, numbers)?
            .into_iter()
            .map(|s| s as i64)
            .collect())
    }

    /// The model's element symbols, in species order.
    pub fn element_symbols(&self) -> Vec<String> {
        self.config
            .elements
            .iter()
            .map(|&z| elements::symbol(z).map(str::to_string).unwrap_or_default())
            .collect()
    }

    /// Sets the encoder's message normalisation (mean neighbour count within the cutoff).
    pub fn set_avg_neighbors(&mut self, value: f64) -> Result<()> {
        self.encoder.set_avg_neighbors(value)
    }

    /// Sets the per-element reference energies (eV, `[n_species]`) and the energy scale (eV).
    pub fn set_energy_normalisation(&mut self, e_ref: &[f64], scale: f64) -> Result<()> {
        if e_ref.len() != self.config.elements.len() {
            return Err(Error::invalid("one reference energy per element expected"));
        }
        tch::no_grad(|| -> Result<()> {
            let k = self.precision.kind();
            self.e_ref.f_copy_(
                &Tensor::from_slice(e_ref)
                    .f_to_kind(k)?
                    .f_to_device(self.device())?,
            )?;
            let _ = self.scale.f_fill_(scale)?;
            Ok(())
        })
    }

    /// The energy scale in eV multiplying the network's atomic outputs.
    pub fn energy_scale(&self) -> Result<f64> {
        Ok(self.scale.f_double_value(&[])?)
    }

    /// Per-element reference energies in eV, `[n_species]`.
    pub fn reference_energies(&self) -> Result<Vec<f64>> {
        Ok(Vec::<f64>::try_from(self.e_ref.f_to_kind(Kind::Double)?)?)
    }

    /// Atomic energies in eV, `[N]`, for the atoms and edges of `input` (the ZBL core's half
    /// of each edge's pair energy on its first atom included).
    pub fn atomic_energies(&self, input: &EdgeInput) -> Result<Tensor> {
        let (s, _v) = self.encoder.forward(input, None)?;
        let h = s
            .f_linear(&self.readout1.ws, self.readout1.bs.as_ref())?
            .f_silu()?;
        let e = h
            .f_linear(&self.readout2.ws, self.readout2.bs.as_ref())?
            .f_squeeze_dim(-1)?;
        let e = e * &self.scale + self.e_ref.f_index_select(0, input.species)?;
        match &self.zbl {
            Some(z) => Ok(&e + z.atomic(input, e.size()[0])?),
            None => Ok(e),
        }
    }
}
