//! The engine's error type.

/// What can go wrong in a study.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The search space is malformed (names the parameter and the field).
    #[error("search space: {0}")]
    Space(String),
    /// A sampler cannot serve this space or study (e.g. grid over a continuous range).
    #[error("{sampler} sampler: {message}")]
    Sampler {
        /// Which sampler.
        sampler: &'static str,
        /// Why.
        message: String,
    },
    /// The grid has been fully evaluated; nothing is left to ask.
    #[error("the grid is exhausted: all {0} combinations have been asked")]
    Exhausted(usize),
    /// An argument does not fit the study (wrong number of values, unknown trial, ...).
    #[error("{0}")]
    Invalid(String),
    /// The study's storage failed.
    #[error("study storage: {0}")]
    Storage(String),
}

/// Result with [`TuneError`].
pub type Result<T, E = TuneError> = std::result::Result<T, E>;
