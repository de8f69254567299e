//! Errors raised while loading and preparing data.

use std::path::PathBuf;

/// What went wrong with the input data. Each variant names the file and, where it applies, the
/// line or row and the column, so that the user can go straight to the bad value.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file's extension names no format hone reads.
    #[error("{path}: unsupported file type (expected .csv or .parquet)")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// The CSV file is malformed (ragged rows, bad quoting, bad encoding...).
    #[error("{path}: line {line}: {message}")]
    MalformedCsv {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A value that must be numeric is not.
    #[error("{path}: {location}: column `{column}` has non-numeric value {value:?}")]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// `line N` (CSV) or `row N` (Parquet).
        location: String,
        /// The column.
        column: String,
        /// The offending text.
        value: String,
    },
    /// The Parquet file could not be decoded.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// The file has a header but no data rows.
    #[error("{path}: the file has no data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A column named in the config is not in the file.
    #[error("{path}: no column `{column}` (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing name.
        column: String,
        /// The columns the file has.
        available: String,
    },
    /// A column has a type that cannot be used where it is named.
    #[error("{path}: column `{column}` {message}")]
    BadColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A timestamp could not be parsed.
    #[error("{path}: {location}: column `{column}`: cannot parse timestamp {value:?} ({detail})")]
    BadTimestamp {
        /// The file.
        path: PathBuf,
        /// `line N` or `row N`.
        location: String,
        /// The time column.
        column: String,
        /// The offending text.
        value: String,
        /// Why it does not match (chrono's reason for a `time_format` pattern) and the format
        /// expected.
        detail: String,
    },
    /// Some timestamps carry a UTC offset and others do not, so their order is unknowable.
    #[error("{path}: {location}: column `{column}`: {message}")]
    MixedTimeZones {
        /// The file.
        path: PathBuf,
        /// Where the first timestamp of the other kind is.
        location: String,
        /// The time column.
        column: String,
        /// Which timestamps differ, and what to do.
        message: String,
    },
    /// A cell a derived feature or target needs is missing.
    #[error("{path}: {location}: column `{column}` is blank{hint}")]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// Where.
        location: String,
        /// The column.
        column: String,
        /// Why it matters and how to fix it.
        hint: String,
    },
    /// Timestamps repeat or go backwards, which a temporal split cannot accept.
    #[error(
        "{path}: {location}: column `{column}`: timestamps must be strictly increasing, {message}"
    )]
    NonIncreasingTime {
        /// The file.
        path: PathBuf,
        /// Where the second timestamp is.
        location: String,
        /// The time column.
        column: String,
        /// The two timestamps and how to fix it.
        message: String,
    },
    /// A target value is NaN or infinite.
    #[error("{path}: {location}: target `{column}` is {value} (targets must be finite{hint})")]
    NonFiniteTarget {
        /// The file.
        path: PathBuf,
        /// Where.
        location: String,
        /// Target column.
        column: String,
        /// The value as text.
        value: String,
        /// How to fix it (empty when there is no simple fix).
        hint: String,
    },
    /// A feature value is infinite, or NaN without an imputer configured.
    #[error("{path}: {location}: feature `{column}` is {value}{hint}")]
    NonFiniteFeature {
        /// The file.
        path: PathBuf,
        /// Where.
        location: String,
        /// Feature column.
        column: String,
        /// The value as text.
        value: String,
        /// How to fix it.
        hint: String,
    },
    /// The data or config cannot produce a usable dataset (no features, too few rows, ...).
    #[error("{0}")]
    Invalid(String),
}
