//! Concord: a learned molecular potential and structure generator trained on heterogeneous
//! data with physical-consistency losses, exposed to LAMMPS and OpenMM through a C ABI.
//!
//! Data flows one way: [`io`] (files) -> [`model`] (architecture, libtorch network) -> `train`
//! (samples, losses, the loop) -> model file -> [`runtime`] (native evaluator) ->
//! [`potential`] ([`potential::Potential`]; [`committee`] of several) -> [`generate`],
//! [`optimize`] -> C ABI -> plugins. [`elements`],
//! [`units`], [`device`], [`neighbors`], [`structure`], [`stereo`] and [`error`] are shared by all. Internal units are
//! eV, Å and fs. Training and the libtorch evaluator need the `torch` feature (default);
//! running a model does not.
#![warn(missing_docs)]
// `a = a + b` on tensors is deliberate: `a += b` is an in-place libtorch op, which breaks
// autograd when `a` is needed for a backward pass.
#![allow(clippy::assign_op_pattern)]

mod c_api;
pub mod committee;
pub mod device;
pub mod elements;
pub mod error;
pub mod generate;
pub mod hops;
pub mod io;
pub mod kekule;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod neighbors;
pub mod optimize;
pub mod potential;
pub mod runtime;
pub mod sanity;
pub mod stereo;
pub mod structure;
#[cfg(feature = "torch")]
pub mod train;
pub mod units;

pub use error::{Error, Result};
pub use structure::{Bond, BondOrder, Frame, Molecule};
