//! Errors raised by splitters and metrics.

/// Why a split could not be made or a metric could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidateError {
    /// The requested splitting scheme cannot be applied to the data (scikit-learn's `ValueError`s).
    #[error("{0}")]
    InvalidSplit(String),
    /// Inputs to a metric are inconsistent (lengths, label values, missing scores).
    #[error("{0}")]
    InvalidInput(String),
    /// The metric has no defined value for these inputs (e.g. ROC AUC with one class).
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric's name.
        metric: String,
        /// Why it is undefined.
        reason: String,
    },
}
