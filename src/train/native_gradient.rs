//! The potential's training loss and its parameter gradient from the native runtime, in place
//! of libtorch's double backward (`[training] gradient = "native"`).
//!
//! The loss is [`PotentialLoss`]'s. Its energy term's gradient is a reverse pass with one
//! weight per atom, `c = dL/dE` of the atom's molecule. The force term's gradient,
//! `sum_i g_i . dF_i/dθ` with `g = dL/dF`, is `-d/dθ (g . dE/dx)`: the parameter gradient of a
//! directional derivative, which a central difference along `g` gives to `O(h^2)`. So after
//! one evaluation at `x` (energies, forces, hence the loss, `c` and `g`), two reverse passes
//! at `x + h g` and `x - h g` with atom weights `c/2 - 1/2h` and `c/2 + 1/2h` give the whole
//! gradient. `h` displaces the atom with the largest `|g|` by [`Displacement`] Å, so the
//! difference stays far above round-off and far inside the energy's curvature. Partners that
//! only the relative-energy term reads (no force term) get an energy-only evaluation and one
//! reverse pass with weights `c` (no force evaluation, no displaced passes).

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::model::file::to_bytes_tensors;
use crate::model::pairs::{Pairs, Request};
use crate::model::{Model, ModelConfig, Precision};
use crate::runtime::encoder::gradient::{LinearGrad, ParamGrads};
use crate::runtime::{NativeModel, Params, Real, Workspace};
use crate::train::batch_forward::PotentialLoss;
use crate::train::samples::{Sample, Selection};

/// The largest atom displacement of the central difference, Å, by precision. Against
/// libtorch's double backward (`tests/native_gradient.rs`) the gradient's error scales as the
/// displacement squared in float64 (1e-4 Å: 2e-7 to 2e-6 relative; 1e-5 Å: 2e-9 to 2e-8), and
/// in float32 round-off takes over below ~1e-3 Å (relative error 3e-4 at 1e-3 Å, 5e-4 at
/// 3e-4 Å, 2e-3 at 1e-4 Å on the force term alone).
pub trait Displacement {
    /// Å.
    const DISPLACEMENT: f64;
    /// Whether training in this precision evaluates the filters from tables.
    const TABULATE: bool;
}

impl Displacement for f64 {
    const DISPLACEMENT: f64 = 1e-5;
    const TABULATE: bool = false;
}

impl Displacement for f32 {
    const DISPLACEMENT: f64 = 1e-3;
    const TABULATE: bool = true;
}

/// The loss of one batch (as [`PotentialLoss::loss`] reports it).
#[derive(Debug, Clone, Copy)]
pub struct BatchLoss {
    /// The weighted loss.
    pub total: f64,
    /// Mean squared per-atom energy error, (eV/atom)².
    pub energy_mse: f64,
    /// Mean squared force component error, (eV/Å)².
    pub force_mse: f64,
}

/// A batch of samples as one system of disjoint molecules.
struct Batch {
    species: Vec<usize>,
    positions: Vec<[f64; 3]>,
    first: Vec<usize>,
    second: Vec<usize>,
    shift: Vec<[f64; 3]>,
    /// Sample of each atom.
    sample: Vec<usize>,
}

impl Batch {
    fn of(samples: &[&Sample]) -> Batch {
        let mut b = Batch {
            species: Vec::new(),
            positions: Vec::new(),
            first: Vec::new(),
            second: Vec::new(),
            shift: Vec::new(),
            sample: Vec::new(),
        };
        for (k, s) in samples.iter().enumerate() {
            let offset = b.species.len();
            b.species.extend(s.species.iter().map(|&x| x as usize));
            b.positions.extend_from_slice(&s.positions);
            b.first.extend(s.first.iter().map(|&i| i as usize + offset));
            b.second
                .extend(s.second.iter().map(|&i| i as usize + offset));
            b.shift.extend_from_slice(&s.shift);
            b.sample.extend(std::iter::repeat_n(k, s.species.len()));
        }
        b
    }

    fn pairs(&self) -> Pairs<'_> {
        Pairs {
            first: &self.first,
            second: &self.second,
            shift: &self.shift,
        }
    }
}

/// Energies (eV, `[B]`: reference energies and ZBL core included) and, with `forces`, forces
/// (eV/Å, `[N]`; else empty) of a batch of `n_samples` molecules.
fn predict<T: Real>(
    model: &NativeModel<T>,
    b: &Batch,
    n_samples: usize,
    forces: bool,
) -> Result<(Vec<f64>, Vec<[f64; 3]>)> {
    let request = Request {
        forces,
        atom_energies: true,
        ..Default::default()
    };
    let n = b.species.len();
    let pred = model.evaluate(&b.species, &b.positions, &b.pairs(), n, request, None)?;
    let mut energy = vec![0.0; n_samples];
    for (e, &k) in pred.atom_energies.unwrap_or_default().iter().zip(&b.sample) {
        energy[k] += e;
    }
    Ok((energy, pred.forces.unwrap_or_default()))
}

/// A selection's scored samples and its extra partners as two batches.
fn batches(selection: &Selection) -> (Batch, Batch) {
    let (scored, partners) = selection.samples.split_at(selection.scored);
    (Batch::of(scored), Batch::of(partners))
}

/// Energies of all samples of a selection (eV, `[B]`) and forces on the scored samples' atoms
/// (eV/Å): the extra partners need energies only.
fn predict_selection<T: Real>(
    model: &NativeModel<T>,
    selection: &Selection,
    scored: &Batch,
    partners: &Batch,
) -> Result<(Vec<f64>, Vec<[f64; 3]>)> {
    let (mut energy, forces) = predict(model, scored, selection.scored, true)?;
    let n_partners = selection.samples.len() - selection.scored;
    if n_partners > 0 {
        energy.extend(predict(model, partners, n_partners, false)?.0);
    }
    Ok((energy, forces))
}

/// Reusable state of `loss_and_gradient`: scratch space and the gradient.
#[derive(Debug)]
pub struct NativeGradient<T: Real> {
    ws: Workspace<T>,
    /// The gradient of the last batch's loss.
    pub grads: ParamGrads<T>,
}

impl<T: Real + Displacement> NativeGradient<T> {
    /// State for the parameters of `model`.
    pub fn new(model: &NativeModel<T>) -> NativeGradient<T> {
        NativeGradient {
            ws: Workspace::default(),
            grads: ParamGrads::zeros(model.params()),
        }
    }

    /// The loss of `selection` under `loss` and its gradient with respect to the parameters
    /// of `model` (a potential), left in `self.grads`.
    pub fn loss_and_gradient(
        &mut self,
        model: &NativeModel<T>,
        selection: &Selection,
        loss: &PotentialLoss,
    ) -> Result<BatchLoss> {
        let (b, partners) = batches(selection);
        let (energy, forces) = predict_selection(model, selection, &b, &partners)?;
        let (value, c, g) = loss_terms(selection, &b, &energy, &forces, loss);
        let g_max = g.iter().map(norm).fold(0.0, f64::max);
        // Passes (step along g, weight of dL/dE, weight of the force term's difference).
        let passes = if g_max == 0.0 {
            vec![(0.0, 1.0, 0.0)]
        } else {
            let h = T::DISPLACEMENT / g_max;
            vec![(h, 0.5, -0.5 / h), (-h, 0.5, 0.5 / h)]
        };
        self.grads.clear();
        for (step, w_e, w_f) in passes {
            let x: Vec<[f64; 3]> = b
                .positions
                .iter()
                .zip(&g)
                .map(|(p, gi)| std::array::from_fn(|a| p[a] + step * gi[a]))
                .collect();
            let coeff: Vec<T> = b.sample.iter().map(|&k| T::of(w_e * c[k] + w_f)).collect();
            let pairs = b.pairs();
            model.energy_gradient(
                &b.species,
                &x,
                &pairs,
                &coeff,
                &mut self.ws,
                &mut self.grads,
            )?;
        }
        if !partners.species.is_empty() {
            let c_partners = &c[selection.scored..];
            let coeff: Vec<T> = partners
                .sample
                .iter()
                .map(|&k| T::of(c_partners[k]))
                .collect();
            model.energy_gradient(
                &partners.species,
                &partners.positions,
                &partners.pairs(),
                &coeff,
                &mut self.ws,
                &mut self.grads,
            )?;
        }
        Ok(value)
    }
}

fn norm(v: &[f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// The loss and its derivatives with respect to each sample's energy (`c`, 1/eV, `[B]`, the
/// extra partners included) and each scored atom's force (`g`, Å/eV, `[N]` of the scored
/// batch `b`), as [`PotentialLoss::loss`] defines the loss.
fn loss_terms(
    selection: &Selection,
    b: &Batch,
    energy: &[f64],
    forces: &[[f64; 3]],
    loss: &PotentialLoss,
) -> (BatchLoss, Vec<f64>, Vec<[f64; 3]>) {
    let all = &selection.samples;
    let samples = &all[..selection.scored];
    let ne = samples.iter().filter(|s| s.energy.is_some()).count().max(1) as f64;
    let labelled = |s: &Sample| s.forces.as_ref().map_or(0, |_| s.species.len());
    let nf = 3.0 * samples.iter().map(|s| labelled(s)).sum::<usize>().max(1) as f64;
    let mut c = vec![0.0; all.len()];
    let mut e_sum = 0.0;
    for (k, s) in samples.iter().enumerate() {
        if let Some(label) = s.energy {
            let n = s.species.len() as f64;
            let de = (energy[k] - label) / n;
            e_sum += de * de;
            c[k] = loss.energy_weight * 2.0 * de / (n * ne);
        }
    }
    let mut g = vec![[0.0; 3]; b.species.len()];
    let (mut f_sum, mut f_term) = (0.0, 0.0);
    let mut atom = 0;
    for s in samples {
        let n = s.species.len();
        if let Some(labels) = &s.forces {
            for (i, label) in labels.iter().enumerate() {
                for a in 0..3 {
                    let d = forces[atom + i][a] - label[a];
                    f_sum += d * d;
                    let (h, dh) = match loss.force_huber_delta {
                        Some(delta) if d.abs() > delta => (
                            2.0 * delta * d.abs() - delta * delta,
                            2.0 * delta * d.signum(),
                        ),
                        _ => (d * d, 2.0 * d),
                    };
                    f_term += h;
                    g[atom + i][a] = loss.force_weight * dh / nf;
                }
            }
        }
        atom += n;
    }
    let (e_mse, f_mse) = (e_sum / ne, f_sum / nf);
    let mut total = loss.energy_weight * e_mse + loss.force_weight * f_term / nf;
    if loss.relative_energy_weight > 0.0 && !selection.pairs.is_empty() {
        let np = selection.pairs.len() as f64;
        for ((i, p), d) in selection.relative_errors(energy) {
            let n = all[i].species.len() as f64;
            let dr = d / n;
            total += loss.relative_energy_weight * dr * dr / np;
            let dc = loss.relative_energy_weight * 2.0 * dr / (n * np);
            c[i] += dc;
            c[p] -= dc;
        }
    }
    (
        BatchLoss {
            total,
            energy_mse: e_mse,
            force_mse: f_mse,
        },
        c,
        g,
    )
}

/// The gradient as (variable name, values in the variable's layout) pairs, with the names of
/// the model's libtorch variables (`encoder.message0.phi1.weight`, ...).
pub fn named<T: Real>(grads: &ParamGrads<T>) -> Vec<(String, Vec<f64>)> {
    let mut out = vec![("encoder.embedding".to_string(), wide(&grads.embedding))];
    for (i, [phi1, phi2, filter]) in grads.messages.iter().enumerate() {
        push_layer(&mut out, format!("encoder.message{i}.phi1"), phi1);
        push_layer(&mut out, format!("encoder.message{i}.phi2"), phi2);
        push_layer(&mut out, format!("encoder.message{i}.filter"), filter);
    }
    for (i, [uv, a1, a2]) in grads.updates.iter().enumerate() {
        let half = uv.w.len() / 2;
        out.push((format!("encoder.update{i}.u.weight"), wide(&uv.w[..half])));
        out.push((format!("encoder.update{i}.v.weight"), wide(&uv.w[half..])));
        push_layer(&mut out, format!("encoder.update{i}.a1"), a1);
        push_layer(&mut out, format!("encoder.update{i}.a2"), a2);
    }
    push_layer(&mut out, "energy.readout1".to_string(), &grads.readout1);
    push_layer(&mut out, "energy.readout2".to_string(), &grads.readout2);
    out
}

fn push_layer<T: Real>(out: &mut Vec<(String, Vec<f64>)>, prefix: String, l: &LinearGrad<T>) {
    out.push((format!("{prefix}.weight"), wide(&l.w)));
    if let Some(b) = &l.b {
        out.push((format!("{prefix}.bias"), wide(b)));
    }
}

fn wide<T: Real>(x: &[T]) -> Vec<f64> {
    x.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect()
}

/// A libtorch model's current parameters as a native model in its precision (a copy of
/// ~0.1 MB, negligible beside a batch's passes).
#[derive(Debug)]
pub enum Snapshot {
    /// float32 (filters from tables, as the float32 runtime evaluates them).
    F32(NativeModel<f32>),
    /// float64.
    F64(NativeModel<f64>),
}

impl Snapshot {
    /// The current parameters of `model` (a potential).
    pub fn of(model: &Model) -> Result<Snapshot> {
        let bytes = to_bytes_tensors(model.vs.variables(), HashMap::new())?;
        Ok(match model.precision() {
            Precision::Float32 => Snapshot::F32(native(&bytes, model.config())?),
            Precision::Float64 => Snapshot::F64(native(&bytes, model.config())?),
        })
    }

    /// The loss of `selection` under `loss`, its samples' energies (eV, `[B]`) and the
    /// forces on its scored samples' atoms (eV/Å, in order).
    pub fn evaluate(
        &self,
        selection: &Selection,
        loss: &PotentialLoss,
    ) -> Result<(BatchLoss, Vec<f64>, Vec<[f64; 3]>)> {
        let (b, partners) = batches(selection);
        let (energy, forces) = match self {
            Snapshot::F32(m) => predict_selection(m, selection, &b, &partners)?,
            Snapshot::F64(m) => predict_selection(m, selection, &b, &partners)?,
        };
        let (value, _, _) = loss_terms(selection, &b, &energy, &forces, loss);
        Ok((value, energy, forces))
    }
}

fn native<T: Real + Displacement>(bytes: &[u8], config: &ModelConfig) -> Result<NativeModel<T>> {
    let params = Params::<T>::from_bytes(bytes, config, Path::new("<parameters in training>"))?;
    NativeModel::from_params(params, config.clone(), T::TABULATE)
}

/// [`NativeGradient`] for a libtorch model in training, in the model's precision.
#[derive(Debug, Default)]
pub struct ModelGradient {
    f32: Option<NativeGradient<f32>>,
    f64: Option<NativeGradient<f64>>,
}

impl ModelGradient {
    /// The loss of `selection` under `loss` and its gradient by variable name for the
    /// current parameters of `model` (a potential).
    pub fn loss_and_gradient(
        &mut self,
        model: &Model,
        selection: &Selection,
        loss: &PotentialLoss,
    ) -> Result<(BatchLoss, HashMap<String, Vec<f64>>)> {
        match Snapshot::of(model)? {
            Snapshot::F32(m) => run(&mut self.f32, &m, selection, loss),
            Snapshot::F64(m) => run(&mut self.f64, &m, selection, loss),
        }
    }
}

fn run<T: Real + Displacement>(
    state: &mut Option<NativeGradient<T>>,
    model: &NativeModel<T>,
    selection: &Selection,
    loss: &PotentialLoss,
) -> Result<(BatchLoss, HashMap<String, Vec<f64>>)> {
    let state = state.get_or_insert_with(|| NativeGradient::new(model));
    let value = state.loss_and_gradient(model, selection, loss)?;
    Ok((value, named(&state.grads).into_iter().collect()))
}
