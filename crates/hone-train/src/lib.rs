//! Training jobs for hone: read a config, cross-validate the pipeline without look-ahead, score
//! the holdout once, refit, and write every output a user needs.
//!
//! The CLI is a thin layer over [`run_train`] and [`predict`]; later subsystems (tuning,
//! tracking) call the same functions and listen to the same [`Event`]s.
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

pub mod analysis;
pub mod charts;
pub mod compare;
pub mod config;
pub mod evaluate;
pub mod export;
pub mod gates;
pub mod init;
pub mod job;
pub mod jobs;
pub mod monitor;
pub mod output;
pub mod portfolio;
pub mod predict;
pub mod predictions;
pub mod registry;
pub mod report;
pub mod retrain;
pub mod stress;
pub mod tracking;
pub mod trading;
pub mod tune;
pub mod tune_job;
pub mod warm;
pub mod worker;

pub use config::{LoadedConfig, TrainConfig};
pub use job::{Event, FoldReport, TrainReport, run_train};
pub use predict::predict;

/// Why a training job failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config file is missing, malformed or inconsistent.
    #[error("{0}")]
    Config(String),
    /// The data could not be loaded or prepared (boxed: data errors carry paths and values).
    #[error(transparent)]
    Data(Box<hone_data::DataError>),
    /// A split could not be made.
    #[error("split: {0}")]
    Split(hone_validate::ValidateError),
    /// A metric could not be computed.
    #[error("{context}: {source}")]
    Metric {
        /// Where (fold or holdout).
        context: String,
        /// The metric error.
        source: hone_validate::ValidateError,
    },
    /// A model or transform failed.
    #[error("{context}: {source}")]
    Model {
        /// Where (fold, final refit, ...).
        context: String,
        /// The model error.
        source: hone_models::ModelError,
    },
    /// A statistic refused its input or a setting (`InvalidParameter` names the setting).
    #[error("{0}")]
    Stat(hone_validate::ValidateError),
    /// An input file or value is unusable (names the file, line or value).
    #[error("{0}")]
    Invalid(String),
    /// The tracking store failed.
    #[error("tracking: {0}")]
    Track(#[from] hone_track::TrackError),
    /// Writing outputs failed.
    #[error("cannot write {path}: {message}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What happened.
        message: String,
    },
}

impl From<hone_data::DataError> for TrainError {
    fn from(e: hone_data::DataError) -> Self {
        TrainError::Data(Box::new(e))
    }
}
