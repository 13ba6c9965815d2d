//! Adam with global-norm gradient clipping, written on tensors so that its state can be
//! checkpointed and restored exactly (libtorch's optimizer state is not reachable from tch).

use std::collections::HashMap;

use tch::Tensor;

use crate::error::{Error, Result};

/// Adam optimiser state for a fixed list of named parameters.
pub struct Adam {
    names: Vec<String>,
    params: Vec<Tensor>,
    /// First moments, one per parameter.
    m: Vec<Tensor>,
    /// Second moments, one per parameter.
    v: Vec<Tensor>,
    /// Exponential moving averages of the parameters (empty without EMA).
    ema: Vec<Tensor>,
    /// EMA decay per step (0 without EMA).
    ema_decay: f64,
    /// Number of steps taken.
    pub step: i64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    max_grad_norm: f64,
}

impl Adam {
    /// Adam over the trainable variables of `vs` (sorted by name for a stable order).
    pub fn new(vs: &tch::nn::VarStore, max_grad_norm: f64) -> Result<Adam> {
        let mut vars: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars
            .iter()
            .map(|(_, t)| t.f_zeros_like())
            .collect::<std::result::Result<_, _>>()?;
        let v = vars
            .iter()
            .map(|(_, t)| t.f_zeros_like())
            .collect::<std::result::Result<_, _>>()?;
        let (names, params) = vars.into_iter().unzip();
        Ok(Adam {
            names,
            params,
            m,
            v,
            ema: Vec::new(),
            ema_decay: 0.0,
            step: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            max_grad_norm,
        })
    }

    /// Keeps an exponential moving average of the parameters with `decay` per step (warmed up
    /// as `min(decay, (1 + step) / (10 + step))`), starting from their current values.
    pub fn with_ema(mut self, decay: f64) -> Result<Adam> {
        self.ema = self.params.iter().map(copy_of).collect::<Result<_>>()?;
        self.ema_decay = decay;
        Ok(self)
    }

    /// Whether an EMA is kept.
    pub fn has_ema(&self) -> bool {
        !self.ema.is_empty()
    }

    /// Exchanges the parameters' values with their EMA (call twice to restore).
    pub fn swap_ema(&mut self) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for (p, e) in self.params.iter_mut().zip(&mut self.ema) {
                let current = copy_of(p)?;
                p.f_copy_(e)?;
                *e = current;
            }
            Ok(())
        })
    }

    /// Clears the gradients of all parameters.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update with learning rate `lr` from the parameters' gradients; returns the
    /// gradient norm before clipping.
    pub fn step(&mut self, lr: f64) -> Result<f64> {
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.grad()).collect();
        self.update(&grads, lr)
    }

    /// One update from gradients given by parameter name (float64 values in each parameter's
    /// layout, e.g. the native runtime's, [`crate::train::native_gradient::named`]); a
    /// parameter without one is an error.
    pub fn step_named(&mut self, grads: &HashMap<String, Vec<f64>>, lr: f64) -> Result<f64> {
        let tensors = self
            .names
            .iter()
            .zip(&self.params)
            .map(|(name, p)| {
                let g = grads
                    .get(name)
                    .ok_or_else(|| Error::invalid(format!("no gradient for parameter '{name}'")))?;
                Ok(Tensor::from_slice(g)
                    .f_view(p.size().as_slice())?
                    .f_to_kind(p.kind())?)
            })
            .collect::<Result<Vec<_>>>()?;
        self.update(&tensors, lr)
    }

    fn update(&mut self, grads: &[Tensor], lr: f64) -> Result<f64> {
        tch::no_grad(|| -> Result<f64> {
            let mut sq = 0.0;
            for g in grads.iter().filter(|g| g.defined()) {
                sq += g
                    .f_square()?
                    .f_sum(tch::Kind::Double)?
                    .f_double_value(&[])?;
            }
            let norm = sq.sqrt();
            if !norm.is_finite() {
                return Ok(norm); // skip a non-finite step entirely
            }
            let clip = if norm > self.max_grad_norm {
                self.max_grad_norm / norm
            } else {
                1.0
            };
            self.step += 1;
            let bc1 = 1.0 - self.beta1.powi(self.step as i32);
            let bc2 = 1.0 - self.beta2.powi(self.step as i32);
            for (i, g) in grads.iter().enumerate() {
                if !g.defined() {
                    continue;
                }
                let g = g * clip;
                self.m[i] = &self.m[i] * self.beta1 + &g * (1.0 - self.beta1);
                self.v[i] = &self.v[i] * self.beta2 + g.f_square()? * (1.0 - self.beta2);
                let update = (&self.m[i] / bc1) / ((&self.v[i] / bc2).f_sqrt()? + self.eps);
                let _ = self.params[i].f_sub_(&(update * lr))?;
            }
            let t = self.step as f64;
            let d = self.ema_decay.min((1.0 + t) / (10.0 + t));
            for (e, p) in self.ema.iter_mut().zip(&self.params) {
                *e = &*e * d + p.f_detach()? * (1.0 - d);
            }
            Ok(norm)
        })
    }

    /// The state tensors, named `adam.m.<param>`, `adam.v.<param>` (and `adam.ema.<param>`),
    /// for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            out.push((format!("adam.m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("adam.v.{name}"), self.v[i].shallow_clone()));
            if let Some(e) = self.ema.get(i) {
                out.push((format!("adam.ema.{name}"), e.shallow_clone()));
            }
        }
        out
    }

    /// Restores state saved by [`Adam::state`] through `get(name)`.
    pub fn restore(
        &mut self,
        step: i64,
        mut get: impl FnMut(&str) -> Result<Tensor>,
    ) -> Result<()> {
        for (i, name) in self.names.iter().enumerate() {
            self.m[i] = get(&format!("adam.m.{name}"))?.f_to_kind(self.m[i].kind())?;
            self.v[i] = get(&format!("adam.v.{name}"))?.f_to_kind(self.v[i].kind())?;
            if let Some(kind) = self.ema.get(i).map(Tensor::kind) {
                self.ema[i] = get(&format!("adam.ema.{name}"))?.f_to_kind(kind)?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// A detached copy of `p` with its own storage.
fn copy_of(p: &Tensor) -> Result<Tensor> {
    tch::no_grad(|| {
        let mut t = p.f_zeros_like()?;
        t.f_copy_(p)?;
        Ok(t)
    })
}
