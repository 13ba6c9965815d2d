//! Training: configuration, the optimisation loop with checkpoints, metrics and plots.

pub mod adam;
pub mod batch_forward;
pub mod checkpoint;
pub mod config;
pub mod datasets;
pub mod generator_losses;

pub mod plots;
pub mod trainer;

pub use config::Config;
pub use trainer::{train, TrainSummary};
