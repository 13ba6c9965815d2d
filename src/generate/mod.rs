//! Molecular graph -> 3D structures: the EDM sampler over any [`Denoise`] network
//! (`sampler`) and the pipeline every front end calls ([`pipeline`]: sample k, relax,
//! screen, rank).

pub mod assembly;
pub mod pipeline;
mod sampler;

pub use pipeline::{
    best, generate_structures, redraw_seed, relax_defaults, GraphRequest, PipelineModels,
    PipelineOptions, Sample, REDRAWS,
};
pub use sampler::{
    default_churn, default_steps, generate, generate_many, noise_schedule, Denoise, SamplerOptions,
    DEFAULT_CHURN, DEFAULT_SAMPLER_STEPS, MAX_SAMPLER_STEPS,
};
