//! Retention: which runs to delete under a policy (with a dry-run report first), and garbage
//! collection of blobs no artifact refers to.
//!
//! Deletion is soft (restorable) until `purge`. Runs tagged `hone.keep = true` are never
//! selected, nor runs a live registered model version was registered from (the store refuses
//! to delete those, naming the version, and purge and gc keep them and their blobs).

use serde::Serialize;

use crate::artifacts::BlobStore;
use crate::maintenance::Maintenance;
use crate::model::{Lifecycle, RunInfo, RunStatus};
use crate::{Result, now_ms};

/// The tag that protects a run from retention.
pub const KEEP_TAG: &str = crate::keys::KEEP;

/// A retention policy for one experiment.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Keep the newest N top-level runs; older ones are candidates.
    pub keep_last: Option<usize>,
    /// Runs that started more than this many days ago are candidates.
    pub older_than_days: Option<f64>,
}

/// A run the policy would delete, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Doomed {
    /// Run id.
    pub run_id: String,
    /// Name.
    pub run_name: String,
    /// Start time (ms).
    pub start_time: i64,
    /// Why it is selected.
    pub reason: String,
}

/// The runs of `experiment_id` that `policy` selects (top-level runs; their children follow
/// them). Running and protected runs are never selected.
pub fn plan(store: &dyn Maintenance, experiment_id: &str, policy: &Policy) -> Result<Vec<Doomed>> {
    let runs = store.runs_for_retention(experiment_id)?;
    let now = now_ms();
    let mut out = Vec::new();
    for (rank, (info, tags)) in runs
        .iter()
        .filter(|(i, _)| i.lifecycle == Lifecycle::Active)
        .enumerate()
    {
        if info.status == RunStatus::Running
            || tags
                .iter()
                .any(|(k, v)| (k == KEEP_TAG && v == "true") || k == crate::keys::PINNED_BY)
        {
            continue;
        }
        let mut reasons = Vec::new();
        if let Some(n) = policy.keep_last
            && rank >= n
        {
            reasons.push(format!("beyond the newest {n}"));
        }
        if let Some(days) = policy.older_than_days {
            let age_days = (now - info.start_time) as f64 / 86_400_000.0;
            if age_days > days {
                reasons.push(format!("{age_days:.1} days old (> {days})"));
            }
        }
        if !reasons.is_empty() {
            out.push(doomed(info, reasons.join(", ")));
        }
    }
    Ok(out)
}

fn doomed(info: &RunInfo, reason: String) -> Doomed {
    Doomed {
        run_id: info.run_id.clone(),
        run_name: info.run_name.clone(),
        start_time: info.start_time,
        reason,
    }
}

/// Soft-deletes the planned runs and their child runs, all or none (one transaction); returns
/// how many runs it deleted.
pub fn apply(store: &dyn Maintenance, doomed: &[Doomed]) -> Result<usize> {
    let ids: Vec<String> = doomed.iter().map(|d| d.run_id.clone()).collect();
    store.set_runs_lifecycle_cascade(&ids, Lifecycle::Deleted)
}

/// What garbage collection found or removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Blobs on disk.
    pub blobs: usize,
    /// Blobs no artifact refers to.
    pub unreferenced: usize,
    /// Bytes they take.
    pub bytes: u64,
    /// Whether they were removed.
    pub removed: bool,
}

/// Blobs younger than this are left alone: a writer may have stored the blob and not yet
/// recorded the artifact row that refers to it.
pub const GC_GRACE_SECS: u64 = 600;

/// Finds (and unless `dry_run`, removes) blobs no artifact row refers to, older than
/// [`GC_GRACE_SECS`].
pub fn gc(store: &dyn Maintenance, blobs: &BlobStore, dry_run: bool) -> Result<GcReport> {
    gc_with_grace(store, blobs, dry_run, GC_GRACE_SECS)
}

/// [`gc`] with an explicit grace period (seconds).
pub fn gc_with_grace(
    store: &dyn Maintenance,
    blobs: &BlobStore,
    dry_run: bool,
    grace_secs: u64,
) -> Result<GcReport> {
    let referenced = store.referenced_blobs()?;
    let all = blobs.list()?;
    let mut report = GcReport {
        blobs: all.len(),
        removed: !dry_run,
        ..Default::default()
    };
    for (sha, size, age) in all {
        if !referenced.contains(&sha) && age >= grace_secs {
            report.unreferenced += 1;
            report.bytes += size;
            if !dry_run {
                blobs.remove(&sha)?;
            }
        }
    }
    Ok(report)
}
