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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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
    /// Value (NaN and ±inf allowed, as in MLflow). In JSON, as in MLflow's: a number, or
    /// `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON numbers cannot say those).
    #[serde(with = "nonfinite")]
    pub value: f64,
    /// Time (ms).
    pub timestamp: i64,
    /// Step (iteration, fold...).
    pub step: i64,
}

/// JSON for a value that may be NaN or ±inf: finite values as numbers, the others as MLflow's
/// (and protobuf's) strings `"NaN"`, `"Infinity"` and `"-Infinity"`; `null` reads as NaN.
mod nonfinite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Number(f64),
        Text(String),
        Null(()),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Wire::deserialize(d)? {
            Wire::Number(v) => Ok(v),
            Wire::Null(()) => Ok(f64::NAN),
            Wire::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" | "inf" => Ok(f64::INFINITY),
                "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(serde::de::Error::custom(format!(
                    "{t:?} is not a number (NaN, Infinity and -Infinity are)"
                ))),
            },
        }
    }
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
    /// Role in the run: hone writes `train`, `validation` or `test`; MLflow clients send their
    /// own (`training`, `eval`...), kept as given.
    pub context: String,
    /// MLflow's source type (`local`, `http`, `code`...); empty when not known.
    #[serde(default)]
    pub source_type: String,
    /// MLflow's dataset profile (JSON text, e.g. `{"num_rows": 150}`); empty when not known.
    #[serde(default)]
    pub profile: String,
}

/// Longest dataset context accepted (MLflow's limit on an input tag's value).
pub const MAX_DATASET_CONTEXT: usize = 500;

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

/// Where a logged model (MLflow 3) is in its life: created `PENDING` while the client uploads
/// its files, then finalised `READY`, or `UPLOAD_FAILED` when the upload did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoggedModelStatus {
    /// Created; files are being uploaded.
    #[serde(rename = "LOGGED_MODEL_PENDING")]
    Pending,
    /// Every file is uploaded; the model can be loaded.
    #[serde(rename = "LOGGED_MODEL_READY")]
    Ready,
    /// The upload failed; the model's files are incomplete.
    #[serde(rename = "LOGGED_MODEL_UPLOAD_FAILED")]
    UploadFailed,
}

impl LoggedModelStatus {
    /// The wire name (`LOGGED_MODEL_READY`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "LOGGED_MODEL_PENDING" => LoggedModelStatus::Pending,
            "LOGGED_MODEL_READY" => LoggedModelStatus::Ready,
            "LOGGED_MODEL_UPLOAD_FAILED" => LoggedModelStatus::UploadFailed,
            other => {
                return Err(TrackError::Invalid(format!(
                    "unknown logged model status {other:?} (LOGGED_MODEL_PENDING, \
                     LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED)"
                )));
            }
        })
    }
}

/// A metric value recorded on a logged model (MLflow's `log_metric(..., model_id=...)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelMetric {
    /// Key.
    pub key: String,
    /// Value, time and step.
    #[serde(flatten)]
    pub point: MetricPoint,
    /// The run that logged it, if any.
    pub run_id: Option<String>,
    /// The dataset it was measured on (name), if any.
    pub dataset_name: Option<String>,
    /// The dataset it was measured on (digest), if any.
    pub dataset_digest: Option<String>,
}

/// A logged model (MLflow 3's `LoggedModel`): a model's files and metadata, created by every
/// `mlflow.<flavor>.log_model`, stored under its experiment rather than inside a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// `m-` followed by 32 hex characters, generated by the store.
    pub model_id: String,
    /// Experiment id.
    pub experiment_id: String,
    /// Name (the client's `name=`; generated when not given).
    pub name: String,
    /// Free-form type (e.g. `Agent`), if given.
    pub model_type: Option<String>,
    /// The run that produced it, if any.
    pub source_run_id: Option<String>,
    /// Upload status.
    pub status: LoggedModelStatus,
    /// Creation time (ms).
    pub creation_time: i64,
    /// Last change (ms): status, tags or params.
    pub last_update_time: i64,
    /// Active or deleted.
    pub lifecycle: Lifecycle,
    /// Tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Params, sorted by key.
    pub params: Vec<(String, String)>,
    /// Metrics, by key then step then time.
    pub metrics: Vec<LoggedModelMetric>,
}

/// What a new logged model starts with.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NewLoggedModel {
    /// Experiment id.
    pub experiment_id: String,
    /// Name (default: a generated one).
    pub name: Option<String>,
    /// Free-form type.
    pub model_type: Option<String>,
    /// The run that produced it; it must exist and belong to the same experiment.
    pub source_run_id: Option<String>,
    /// Initial tags.
    pub tags: Vec<(String, String)>,
    /// Initial params.
    pub params: Vec<(String, String)>,
}

/// A run's output: a logged model the run produced, at a step (MLflow's `ModelOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The run.
    pub run_id: String,
    /// The logged model.
    pub model_id: String,
    /// The step at which the run produced it.
    pub step: i64,
}
