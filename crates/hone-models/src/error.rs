//! Errors raised while fitting, applying, saving or loading models.

use std::path::PathBuf;

/// Why a model or transform could not be fitted, applied, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is invalid (names the parameter).
    #[error("{0}")]
    Config(String),
    /// The data cannot be used (e.g. a single class in a training fold).
    #[error("{0}")]
    Data(String),
    /// LightGBM reported an error.
    #[error("LightGBM: {0}")]
    LightGbm(String),
    /// A linear-model solver failed.
    #[error("{model}: {message}")]
    Solver {
        /// The model.
        model: String,
        /// The solver's message.
        message: String,
    },
    /// Reading or writing a model file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
}
