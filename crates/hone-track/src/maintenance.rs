//! The [`Maintenance`] interface: housekeeping of a store — what retention policies read,
//! soft deletion and restoration of runs with their children, purging, and the blobs still
//! referenced — so that `hone runs prune|delete|restore|purge` and `hone gc` are each one call.
//! Policies themselves (which runs to delete) live in [`retention`](crate::retention).

use std::collections::HashSet;

use crate::Result;
use crate::model::{Lifecycle, RunInfo};

/// A run with its tags, as retention policies see it.
pub type TaggedRun = (RunInfo, Vec<(String, String)>);

/// Housekeeping of a store. Both backends implement it with the same behaviour (one shared
/// test suite).
pub trait Maintenance: Send + Sync {
    /// Top-level runs of an experiment with their tags (for retention policies), newest first.
    fn runs_for_retention(&self, experiment_id: &str) -> Result<Vec<TaggedRun>>;
    /// Soft-deletes or restores each run of `run_ids` and its child runs, in one transaction:
    /// if any run does not exist (`run <id> not found`), nothing changes. Returns the number of
    /// lifecycle changes made (each run plus each of its children).
    fn set_runs_lifecycle_cascade(&self, run_ids: &[String], lifecycle: Lifecycle)
    -> Result<usize>;
    /// Deletes soft-deleted runs (deleted at least `min_age_ms` ago) for good; returns their ids.
    /// A run that a live model version was registered from
    /// ([`Registry::versions_referencing_run`](crate::Registry::versions_referencing_run)) is
    /// kept, still deleted, until no live version pins it.
    fn purge_deleted_runs(&self, min_age_ms: i64) -> Result<Vec<String>>;
    /// Deletes soft-deleted logged models (deleted at least `min_age_ms` ago) for good, with
    /// their tags, params, metrics, artifact records and run links; returns their ids.
    fn purge_deleted_logged_models(&self, min_age_ms: i64) -> Result<Vec<String>>;
    /// Every blob address some artifact record refers to: a run's or a logged model's
    /// (deleted ones included until purged), so that `hone gc` never frees a blob in use.
    fn referenced_blobs(&self) -> Result<HashSet<String>>;
}
