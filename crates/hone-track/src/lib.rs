//! Experiment tracking for hone: experiments, runs (nested), params, step metrics, tags,
//! environment, datasets and content-addressed artifacts, in SQLite (embedded default) or
//! PostgreSQL (teams), with MLflow's data model and search grammar.
//!
//! - [`Store`]: the tracking data (MLflow's model: experiments, runs, params, metrics, tags,
//!   datasets, artifact records, search); [`Coordinator`]: counters, compare-and-set claims
//!   and transitions, run ownership by lease and reaping; [`Maintenance`]: retention reads,
//!   delete/restore cascades, purge, referenced blobs. [`open_store`] picks the backend from a
//!   URI (`sqlite:///path/hone.db`, a plain path, or `postgresql://user@host:port/db`) and
//!   returns a [`Backend`]: all of them in one object.
//! - [`Accounts`]: users, API tokens and permissions of `hone server` with authentication.
//! - [`JobQueue`]: training and tuning jobs waiting for workers (leases, retries, gangs),
//!   in the same database as the runs; [`open_queue`] opens it from a store URI.
//! - [`Registry`]: MLflow's model registry (registered models, numbered versions, tags,
//!   aliases, stages) with compare-and-set stage changes and an append-only audit log.
//! - [`Tracker`] / [`RunHandle`]: the library API for programs; writes go through a background
//!   writer with a bounded queue and are batched into transactions.
//! - [`artifacts`]: the blob store (SHA-256 content addresses, verified on every read).
//! - [`filter`]: MLflow's search-filter grammar, parsed into clauses and run as SQL.
//! - [`retention`]: keep/delete policies, restore, purge and garbage collection.
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

pub mod accounts;
pub mod artifacts;
pub mod coordinator;
mod db;
pub mod env;
pub mod filter;
pub mod keys;
pub mod liveness;
pub mod location;
pub mod maintenance;
pub mod model;
pub mod objects;
mod open;
mod pg;
pub mod queue;
pub mod registry;
pub mod remote;
pub mod retention;
mod schema;
mod search_sql;
pub mod sql_store;
mod sqlite;
pub mod store;
pub mod tracker;

pub use accounts::Accounts;
pub use coordinator::{Coordinator, Lease, LeaseHolder, LeaseKeeper};
pub use location::OpenMode;
pub use maintenance::Maintenance;
pub use model::*;
pub use open::{Backend, open_queue, open_queue_with, open_store, open_store_with};
pub use queue::{JobQueue, JobState};
pub use registry::{
    AuditEntry, ModelVersion, NewEvent, NewModelVersion, PRODUCTION_ALIAS, RegisteredModel,
    Registry, Stage, Transition,
};
pub use store::{LoggedModelSearch, SearchRequest, Store, search_all};
pub use tracker::{RunHandle, Tracker};

/// Why a tracking operation failed.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum TrackError {
    /// The database reported an error.
    #[error("store: {}", printable(.0))]
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
    #[error("{} not found", printable(.0))]
    NotFound(String),
    /// The request is invalid (bad key, changed param, bad filter...).
    #[error("{}", printable(.0))]
    Invalid(String),
    /// An object with that identity already exists (a registered model's name).
    #[error("{} already exists", printable(.0))]
    AlreadyExists(String),
    /// The store's state moved away from what the caller expected, or forbids the change
    /// now (a compare-and-set lost its race; a version an alias still points at).
    #[error("{}", printable(.0))]
    Conflict(String),
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
    #[error("{}: {}", printable(.path), printable(.message))]
    Io {
        /// File or folder.
        path: String,
        /// What happened.
        message: String,
    },
}

/// Text from a user, a file or a database made safe to print on a terminal, on one line:
/// control characters (newlines, tabs, ESC, BEL, DEL, C1) and the Unicode line separators and
/// bidirectional overrides are shown as Rust-style escapes (`\n`, `\x1b`, `\u{202e}`), so that
/// a run name cannot move the cursor, recolour the terminal or split an error message. Text
/// without such characters is returned unchanged (borrowed). Error messages of this crate go
/// through it; the CLI uses it for every human-readable table.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    // Bidirectional overrides and isolates reorder what follows them on screen; the line and
    // paragraph separators break lines in some terminals. None is a control character to Rust.
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Result alias for tracking operations.
pub type Result<T> = std::result::Result<T, TrackError>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn printable_escapes_terminal_controls() {
        assert_eq!(printable("plain name"), "plain name");
        assert_eq!(
            printable("a\x1b[31mred\x07\nb\tc"),
            "a\\x1b[31mred\\x07\\nb\\tc"
        );
        assert_eq!(printable("x\u{202e}y\u{85}"), "x\\u{202e}y\\x85");
        let e = TrackError::Db("line one\nline two".into());
        assert_eq!(e.to_string(), "store: line one\\nline two");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever goes in, what comes out is one line with no control character, and text
        /// that needed no escaping is untouched.
        #[test]
        fn printable_is_one_safe_line(s in any::<String>()) {
            let p = printable(&s);
            prop_assert!(!p.chars().any(|c| c.is_control()), "{:?}", p);
            prop_assert!(!p.contains(['\u{2028}', '\u{202e}']), "{:?}", p);
            if !s.chars().any(|c| c.is_control() || ('\u{2028}'..='\u{2069}').contains(&c)) {
                prop_assert_eq!(p.as_ref(), s.as_str());
            }
        }
    }
}
