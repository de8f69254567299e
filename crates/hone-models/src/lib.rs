//! Estimators, preprocessing and fitted pipelines for hone.
//!
//! - [`Matrix`]: the column-major `f64` feature matrix every step consumes.
//! - [`preprocess`]: imputers, scalers and feature selectors behind the [`Transformer`] trait,
//!   with scikit-learn's semantics. They are fitted on training rows only.
//! - [`gbm`]: LightGBM (gradient boosting, random forests) through its C API, with early stopping
//!   on a validation slice and model files in LightGBM's own text format.
//! - [`lgbm_text`]: a Rust-side check of LightGBM's text model format, run before LightGBM's
//!   parser (which crashes on malformed text) sees a model file.
//! - [`linear`]: linear, ridge, lasso, elastic-net and logistic regression.
//! - [`estimator`]: the model seam ([`Estimator`] → [`Fitted`]), and [`observer`]: what a fit
//!   reports per step and how a caller stops it.
//! - [`families`]: the registered model families (one file each) that implement the seam.
//! - [`suggest`]: "did you mean" hints.
//! - [`pipeline`]: a [`PipelineSpec`] fitted into a [`FittedPipeline`] (transforms + model) that is
//!   saved and loaded as one directory.
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

/// The LightGBM release that `lightgbm3-sys` (pinned in the workspace's `Cargo.toml`) builds
/// from source and links: recorded with every trained model for its lineage.
pub const LIGHTGBM_VERSION: &str = "4.7.0";
/// The `lightgbm3-sys` crate that provides it.
pub const LIGHTGBM_SYS_VERSION: &str = "1.0.11";

pub mod error;
pub mod estimator;
pub mod families;
pub mod gbm;
pub mod lgbm_text;
pub mod linear;
pub mod matrix;
pub mod model;
pub mod nn;
pub mod observer;
pub mod pipeline;
pub mod preprocess;
pub mod suggest;

pub use error::ModelError;
pub use estimator::{Estimator, Fitted, TrainingSet};
pub use matrix::Matrix;
pub use model::{Complexity, FitReport, FittedModel, ModelSpec};
pub use observer::{Flow, StepReport, TrainObserver};
pub use pipeline::{FittedPipeline, PipelineSpec};
pub use preprocess::Transformer;

#[cfg(test)]
mod version_tests {
    /// The recorded versions follow the lock file: bumping the crate without updating the
    /// constants would record a wrong lineage.
    #[test]
    fn the_recorded_lightgbm_versions_match_the_lock_file() {
        let lock = include_str!("../../../Cargo.lock");
        let entry = format!(
            "name = \"lightgbm3-sys\"\nversion = \"{}\"",
            super::LIGHTGBM_SYS_VERSION
        );
        assert!(
            lock.contains(&entry),
            "Cargo.lock pins another lightgbm3-sys"
        );
        // lightgbm3-sys 1.0.11 vendors LightGBM 4.7.0 (its lightgbm/VERSION.txt).
        assert_eq!(
            (super::LIGHTGBM_SYS_VERSION, super::LIGHTGBM_VERSION),
            ("1.0.11", "4.7.0")
        );
    }
}
