//! Experiment tracking for hone: experiments, runs (nested), params, step metrics, tags,
//! environment, datasets and content-addressed artifacts, in SQLite (embedded default) or
//! PostgreSQL (teams), with MLflow's data model and search grammar.
//!
//! - [`Store`]: the storage interface; [`open_store`] picks the backend from a URI
//!   (`sqlite:///path/hone.db`, a plain path, or `postgresql://user@host:port/db`).
//! - [`Tracker`] / [`RunHandle`]: the library API for programs; writes go through a background
//!   writer with a bounded queue and are batched into transactions.
//! - [`artifacts`]: the blob store (SHA-256 content addresses, verified on every read).
//! - [`filter`]: MLflow's search-filter grammar, parsed into clauses and run as SQL.
//! - [`retention`]: keep/delete policies, restore, purge and garbage collection.

pub mod artifacts;
mod db;
pub mod env;
pub mod filter;
pub mod location;
pub mod model;
mod pg;
pub mod retention;
mod schema;
mod sqlite;
pub mod store;
pub mod tracker;

pub use model::*;
pub use store::{SearchRequest, Store, open_store};
pub use tracker::{RunHandle, Tracker};

/// Why a tracking operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The database reported an error.
    #[error("store: {0}")]
    Db(String),
    /// The store's schema is newer than this hone understands.
    #[error(
        "the store at {location} was written by a newer hone (schema version {found}; this hone \
         knows up to {supported}); upgrade hone to use it"
    )]
    NewerSchema {
        /// Where the store is.
        location: String,
        /// Version found.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// A requested object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request is invalid (bad key, changed param, bad filter...).
    #[error("{0}")]
    Invalid(String),
    /// An artifact's content does not match its recorded checksum.
    #[error(
        "artifact {path} of run {run_id} is corrupted: expected sha256 {expected}, found {actual}"
    )]
    Corrupted {
        /// Run.
        run_id: String,
        /// Logical path.
        path: String,
        /// Recorded checksum.
        expected: String,
        /// Checksum of what is stored now.
        actual: String,
    },
    /// File-system error.
    #[error("{path}: {message}")]
    Io {
        /// File or folder.
        path: String,
        /// What happened.
        message: String,
    },
}

/// Result alias for tracking operations.
pub type Result<T> = std::result::Result<T, TrackError>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
