//! hone's hyperparameter search engine.
//!
//! - [`space`]: search spaces (float, int, categorical, fixed, conditional) from Rust or TOML.
//! - [`trial`]: trials, their states and objective directions.
//! - [`sampler`]: the [`Sampler`](sampler::Sampler) trait with grid, random, Sobol, TPE, GP and
//!   NSGA-II implementations.
//! - [`pruner`]: the [`Pruner`](pruner::Pruner) trait with median, percentile, successive
//!   halving, Hyperband, patient and Wilcoxon pruners.
//! - [`pareto`]: Pareto fronts, non-dominated sorting and exact hypervolume.
//! - [`importance`]: PED-ANOVA hyperparameter importances.
//! - [`study`]: the ask/tell [`Study`](study::Study) over a pluggable
//!   [`TrialStore`](study::TrialStore) (in memory here; the tracking store in `hone-train`).

pub mod error;
pub mod importance;
pub mod pareto;
pub mod pruner;
pub mod sampler;
pub mod space;
pub mod study;
pub mod trial;

pub use error::{Result, TuneError};
