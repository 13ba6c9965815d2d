//! The Concord model. What a model is ([`config`], [`file`](mod@file), [`graph`], [`pairs`], the short-range core [`zbl`], [`widen`]ing a trained potential) needs no
//! libtorch; the libtorch network ([`Model`]: the PaiNN [`painn::Encoder`], the energy head,
//! the [`Denoiser`], autograd [`evaluate`]) is built with the `torch` feature.

pub mod config;
#[cfg(feature = "torch")]
pub mod denoiser;
pub mod evaluate;
pub mod file;
pub mod graph;
#[cfg(feature = "torch")]
mod network;
pub mod noise;
#[cfg(feature = "torch")]
pub mod painn;
pub mod pairs;
#[cfg(feature = "torch")]
pub mod radial;
pub mod widen;
pub mod zbl;

pub use config::{species_index, EncoderConfig, GeneratorConfig, ModelConfig, Precision};
#[cfg(feature = "torch")]
pub use denoiser::{Denoiser, GraphBatch};
#[cfg(feature = "torch")]
pub use network::Model;
#[cfg(feature = "torch")]
pub use painn::{EdgeInput, Encoder};
