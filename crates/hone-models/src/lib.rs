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

pub mod error;
pub mod estimator;
pub mod families;
pub mod gbm;
pub mod lgbm_text;
pub mod linear;
pub mod matrix;
pub mod model;
pub mod observer;
pub mod pipeline;
pub mod preprocess;
pub mod suggest;

pub use error::ModelError;
pub use estimator::{Estimator, Fitted, TrainingSet};
pub use matrix::Matrix;
pub use model::{FitReport, FittedModel, ModelSpec};
pub use observer::{Flow, StepReport, TrainObserver};
pub use pipeline::{FittedPipeline, PipelineSpec};
pub use preprocess::Transformer;
