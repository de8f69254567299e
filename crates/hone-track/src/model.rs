//! The tracking data model (MLflow's entities, with hone's additions).

use serde::{Deserialize, Serialize};

use crate::{Result, TrackError};

/// Whether an object is live or soft-deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Live.
    Active,
    /// Soft-deleted: hidden by default, restorable until purged.
    Deleted,
}

impl Lifecycle {
    /// `active` or `deleted`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deleted => "deleted",
        }
    }

    /// Parses `active` / `deleted`.
    pub fn parse(s: &str) -> Self {
        if s == "deleted" {
            Lifecycle::Deleted
        } else {
            Lifecycle::Active
        }
    }
}

/// Which objects a listing shows (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Live objects only.
    #[default]
    ActiveOnly,
    /// Deleted objects only.
    DeletedOnly,
    /// Everything.
    All,
}

impl ViewType {
    pub(crate) fn sql(&self, column: &str) -> String {
        match self {
            ViewType::ActiveOnly => format!("{column} = 'active'"),
            ViewType::DeletedOnly => format!("{column} = 'deleted'"),
            ViewType::All => "1 = 1".into(),
        }
    }
}

/// An experiment: a named group of runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Integer id (as a string, as MLflow's SQL store does).
    pub experiment_id: String,
    /// Unique name.
    pub name: String,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
    /// Creation time (ms).
    pub creation_time: i64,
    /// Last update (ms).
    pub last_update_time: i64,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

/// Run status (MLflow's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// In progress.
    Running,
    /// Queued.
    Scheduled,
    /// Completed.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped (Ctrl-C, or its process died and it was reaped).
    Killed,
}

impl RunStatus {
    /// The wire name (`RUNNING`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            other => {
                return Err(TrackError::Invalid(format!(
                    "unknown run status {other:?} (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)"
                )));
            }
        })
    }
}

/// A run's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// 32 hex characters.
    pub run_id: String,
    /// Experiment id.
    pub experiment_id: String,
    /// Display name.
    pub run_name: String,
    /// Parent run, for nested runs.
    pub parent_run_id: Option<String>,
    /// Status.
    pub status: RunStatus,
    /// Start (ms).
    pub start_time: i64,
    /// End (ms), once ended.
    pub end_time: Option<i64>,
    /// Who started it.
    pub user_id: String,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
}

/// One metric value at a step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Value (NaN and ±inf allowed, as in MLflow).
    pub value: f64,
    /// Time (ms).
    pub timestamp: i64,
    /// Step (iteration, fold...).
    pub step: i64,
}

/// A metric point with its key, for batch logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Key.
    pub key: String,
    /// Value, time and step.
    #[serde(flatten)]
    pub point: MetricPoint,
}

/// A run with its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Attributes.
    pub info: RunInfo,
    /// Params (key, value), sorted by key.
    pub params: Vec<(String, String)>,
    /// Latest value of each metric, sorted by key.
    pub metrics: Vec<Metric>,
    /// Tags, sorted by key.
    pub tags: Vec<(String, String)>,
}

/// A dataset a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// Name (e.g. the file stem).
    pub name: String,
    /// Fingerprint (SHA-256 of schema + content).
    pub digest: String,
    /// Where it came from (path or URI).
    pub source: String,
    /// Schema as JSON text.
    pub schema: String,
    /// Number of rows.
    pub rows: i64,
    /// Role in the run: `train`, `validation` or `test`.
    pub context: String,
}

/// An artifact recorded on a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Logical path inside the run.
    pub path: String,
    /// SHA-256 of the content (also its blob address).
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
}

/// Checks a metric, param or tag key the way MLflow does.
pub fn validate_key(kind: &str, key: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid {kind} key {key:?}: {why}"
        )))
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 250 {
        return bad("longer than 250 characters");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-. /:".contains(c))
    {
        return bad("only letters, digits, '_', '-', '.', ' ', '/' and ':' are allowed");
    }
    if key.starts_with('/') || key.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return bad("it must not start with '/', contain '..' segments or empty segments");
    }
    Ok(())
}

/// Longest param value stored (MLflow's limit).
pub const MAX_PARAM_VALUE: usize = 6000;
/// Longest tag value stored (MLflow's limit).
pub const MAX_TAG_VALUE: usize = 8000;
/// Longest experiment tag value (MLflow's limit; longer values are refused).
pub const MAX_EXPERIMENT_TAG_VALUE: usize = 20_000;
