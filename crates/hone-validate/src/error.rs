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
    /// One setting is outside the values it can take (a range, finiteness or size limit).
    ///
    /// `name` is the setting's own name (`test_size`, `alpha`, or `split.test_size` once a
    /// config table is known), kept apart from the reason so that each front end can name the
    /// setting the way its user wrote it (`--test-size` on the command line).
    #[error("{name} {reason}")]
    InvalidParameter {
        /// The setting, e.g. `gap` or `split.gap`.
        name: String,
        /// What is wrong with it, phrased to follow the name ("must be in (0, 1), got 2").
        reason: String,
    },
    /// The metric has no defined value for these inputs (e.g. ROC AUC with one class).
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric's name.
        metric: String,
        /// Why it is undefined.
        reason: String,
    },
}

impl ValidateError {
    /// An [`InvalidParameter`](Self::InvalidParameter) error about `name`.
    pub fn parameter(name: &str, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// `Ok(v)` when `v` is finite; otherwise an error naming the setting.
pub(crate) fn finite(name: &str, v: f64) -> Result<f64, ValidateError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ValidateError::parameter(
            name,
            format!("must be a finite number, got {v}"),
        ))
    }
}

/// `Ok(v)` when `0 < v < 1` (a probability or share that must leave something on both sides).
pub(crate) fn open_unit(name: &str, v: f64) -> Result<f64, ValidateError> {
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(ValidateError::parameter(
            name,
            format!("must be in (0, 1), got {v}"),
        ))
    }
}

/// `Ok(v)` when `v <= max`: counts that size an allocation or a loop get a documented limit, so
/// that absurd values are refused with a message instead of aborting the process.
pub(crate) fn at_most(name: &str, v: usize, max: usize) -> Result<usize, ValidateError> {
    if v <= max {
        Ok(v)
    } else {
        Err(ValidateError::parameter(
            name,
            format!("must be at most {max}, got {v}"),
        ))
    }
}
