//! Training: configuration, the samples and datasets it reads, the losses, the optimisation
//! loop with checkpoints, and the records and plots of a run.

pub mod adam;
pub mod batch_forward;
pub mod checkpoint;
pub mod config;
pub mod datasets;
pub mod export;
pub mod generator_losses;
pub mod heap;
pub mod native_gradient;
pub mod planes;
pub mod plots;
pub mod records;
pub mod reference;
pub mod samples;
pub mod trainer;

pub use config::Config;
pub use trainer::{train, TrainSummary, Trainer};
