//! The [`Store`] interface: what MLflow's tracking data model offers (experiments, runs,
//! params, metrics, tags, datasets, artifact records, search), and nothing about processes or
//! retention, so that a remote (HTTP) client could implement it as well as the SQL store does.
//! A new run may name the [`Lease`] that owns it (an opaque value here, so that creating a run
//! and owning it are one write); what a lease means is
//! [`Coordinator`](crate::coordinator::Coordinator)'s business, housekeeping
//! [`Maintenance`](crate::maintenance::Maintenance)'s. [`Backend`](crate::Backend) is all
//! three, what [`open_store`](crate::open_store) returns.

use crate::Result;
use crate::coordinator::Lease;
use crate::model::*;
use rand::RngExt;

/// The largest page [`Store::search_runs`] returns.
pub const MAX_PAGE: usize = 50_000;

/// What a new run starts with.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NewRun {
    /// Experiment id.
    pub experiment_id: String,
    /// Display name (default: a generated one).
    pub name: Option<String>,
    /// Parent run, for nested runs.
    pub parent_run_id: Option<String>,
    /// User (default: `$USER`).
    pub user_id: Option<String>,
    /// Initial tags.
    pub tags: Vec<(String, String)>,
    /// Status to start in (default RUNNING; SCHEDULED for queued work).
    pub status: Option<RunStatus>,
    /// The lease that owns the run while it is RUNNING (see [`crate::coordinator`]): when the
    /// lease expires, or its holder is provably dead, the run is reaped. `None` (the default):
    /// nobody owns it and it is never reaped (runs another program finishes later, such as
    /// trials handed out by `hone study ask`, or runs created through an MLflow-style client).
    pub owner: Option<Lease>,
}

/// A batch of writes to one run.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// The run.
    pub run_id: String,
    /// Metric points.
    pub metrics: Vec<Metric>,
    /// Params (immutable once logged).
    pub params: Vec<(String, String)>,
    /// Tags (last write wins).
    pub tags: Vec<(String, String)>,
}

/// A run search (MLflow's `search_runs`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SearchRequest {
    /// Experiments to search (ids).
    pub experiment_ids: Vec<String>,
    /// Filter in MLflow's grammar (empty: all).
    pub filter: String,
    /// `order_by` terms, e.g. `metrics.auc DESC`.
    pub order_by: Vec<String>,
    /// Page size (1..=50000).
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
    /// Active, deleted or all runs.
    pub view: ViewType,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            experiment_ids: Vec::new(),
            filter: String::new(),
            order_by: Vec::new(),
            max_results: 1000,
            page_token: None,
            view: ViewType::ActiveOnly,
        }
    }
}

/// The largest page [`Store::search_logged_models`] returns.
pub const MAX_LOGGED_MODEL_PAGE: usize = 1000;

/// A logged-model search (MLflow 3's `search_logged_models`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LoggedModelSearch {
    /// Experiments to search (ids); at least one.
    pub experiment_ids: Vec<String>,
    /// Filter in MLflow's grammar over `name`, `model_id`, `model_type`, `status`,
    /// `source_run_id`, `creation_timestamp`, `last_updated_timestamp`, `metrics.`, `params.`
    /// and `tags.` (empty: all).
    pub filter: String,
    /// Sort terms: a field (`creation_timestamp`, `name`, ..., or `metrics.<key>`) and whether
    /// it ascends. Ties, and the default, are newest first then by id.
    pub order_by: Vec<(String, bool)>,
    /// Page size (1..=[`MAX_LOGGED_MODEL_PAGE`]).
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
}

impl Default for LoggedModelSearch {
    fn default() -> Self {
        Self {
            experiment_ids: Vec::new(),
            filter: String::new(),
            order_by: Vec::new(),
            max_results: 50,
            page_token: None,
        }
    }
}

/// The tracking store: experiments, runs and their data. Both backends implement it with the
/// same behaviour (one shared test suite).
pub trait Store: Send + Sync {
    /// Where the store is (passwords removed).
    fn location(&self) -> String;
    /// Creates an experiment; its name must be unique.
    fn create_experiment(&self, name: &str, tags: &[(String, String)]) -> Result<String>;
    /// An experiment by id.
    fn get_experiment(&self, id: &str) -> Result<Experiment>;
    /// An experiment by name.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    /// The id of the named experiment, created if missing (and restored if deleted).
    fn get_or_create_experiment(&self, name: &str) -> Result<String>;
    /// Experiments, by creation time (newest first).
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>>;
    /// Renames an experiment.
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()>;
    /// Soft-deletes or restores an experiment (not its runs).
    fn set_experiment_lifecycle(&self, id: &str, lifecycle: Lifecycle) -> Result<()>;
    /// Starts a run, owned by `new.owner` if given.
    fn create_run(&self, new: NewRun) -> Result<RunInfo>;
    /// Ends a run with a status.
    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()>;
    /// A run with its params, latest metrics and tags.
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// Child runs of a run.
    fn child_runs(&self, parent_run_id: &str) -> Result<Vec<RunInfo>>;
    /// Writes several batches in one transaction.
    fn log_batches(&self, batches: &[Batch]) -> Result<()>;
    /// Every point of one metric, by step then time.
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>>;
    /// Records the datasets a run used.
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()>;
    /// The datasets a run used.
    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>>;
    /// The datasets each of `run_ids` used, as (run id, dataset), in one read (a search page
    /// of runs costs one query, not one per run); unknown runs have none.
    fn inputs_of_runs(&self, run_ids: &[String]) -> Result<Vec<(String, DatasetInput)>>;
    /// Records an artifact (its blob is already stored).
    fn record_artifact(&self, run_id: &str, record: &ArtifactRecord) -> Result<()>;
    /// A run's artifacts, by path.
    fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRecord>>;
    /// Removes a run's record of the artifact at `path` (exactly that path); `false` when the
    /// run has none there. The blob stays: `hone gc` frees it once no record refers
    /// to it.
    fn delete_artifact(&self, run_id: &str, path: &str) -> Result<bool>;
    /// Searches runs; returns a page and the token of the next one.
    fn search_runs(&self, req: &SearchRequest) -> Result<(Vec<Run>, Option<String>)>;
    /// Removes a tag from a run (MLflow's `delete_tag`). A tag the run does not have is
    /// [`TrackError::NotFound`](crate::TrackError::NotFound) naming the key, so that a mistyped
    /// key is never silently accepted; a deleted run is refused as for any write.
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()>;
    /// Soft-deletes or restores one run (not its children; see
    /// [`Maintenance::set_runs_lifecycle_cascade`](crate::maintenance::Maintenance::set_runs_lifecycle_cascade)).
    fn set_run_lifecycle(&self, run_id: &str, lifecycle: Lifecycle) -> Result<()>;
    /// Sets a tag of an experiment (last write wins). The key follows the rules of run keys;
    /// a value longer than [`MAX_EXPERIMENT_TAG_VALUE`](crate::model::MAX_EXPERIMENT_TAG_VALUE)
    /// is refused (MLflow refuses it too, rather than truncating).
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()>;
    /// Removes a tag of an experiment; a tag it does not have is
    /// [`TrackError::NotFound`](crate::TrackError::NotFound) naming the key.
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()>;
    /// Renames a run: its `run_name` and its `mlflow.runName` tag together, so that the two
    /// never disagree. A deleted run is refused as for any write.
    fn rename_run(&self, run_id: &str, name: &str) -> Result<()>;

    /// Creates a logged model (status `LOGGED_MODEL_PENDING`) in an active experiment, with a
    /// fresh id (`m-` + 32 hex). A `source_run_id` must name a run of the same experiment.
    fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel>;
    /// A logged model with its tags, params and metrics; a deleted one is
    /// [`TrackError::NotFound`](crate::TrackError::NotFound), as in MLflow.
    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;
    /// Sets a logged model's status (MLflow's finalize) and returns it.
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel>;
    /// Searches live logged models; returns a page and the token of the next one.
    fn search_logged_models(
        &self,
        req: &LoggedModelSearch,
    ) -> Result<(Vec<LoggedModel>, Option<String>)>;
    /// Sets tags on a logged model (last write wins), all or none.
    fn set_logged_model_tags(&self, model_id: &str, tags: &[(String, String)]) -> Result<()>;
    /// Removes a logged model's tag; a tag it does not have is
    /// [`TrackError::NotFound`](crate::TrackError::NotFound) naming the key.
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    /// Logs params on a logged model; like a run's, a param cannot change value.
    fn log_logged_model_params(&self, model_id: &str, params: &[(String, String)]) -> Result<()>;
    /// Records metric values on a logged model.
    fn log_logged_model_metrics(&self, model_id: &str, metrics: &[LoggedModelMetric])
    -> Result<()>;
    /// Soft-deletes a logged model: it disappears from get and search; its artifact records
    /// (and so its blobs) stay until it is purged.
    fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    /// Records an artifact of a live logged model (its blob is already stored).
    fn record_logged_model_artifact(&self, model_id: &str, record: &ArtifactRecord) -> Result<()>;
    /// A live logged model's artifacts, by path.
    fn list_logged_model_artifacts(&self, model_id: &str) -> Result<Vec<ArtifactRecord>>;
    /// Removes a live logged model's record of the artifact at `path`; `false` when it has none
    /// there. The blob stays until `hone gc` finds no record referring to it.
    fn delete_logged_model_artifact(&self, model_id: &str, path: &str) -> Result<bool>;
    /// Links logged models to an active run as its outputs (MLflow's `log_outputs`), each at a
    /// step; logging the same model again updates its step. Every model must exist.
    fn log_outputs(&self, run_id: &str, outputs: &[(String, i64)]) -> Result<()>;
    /// The outputs of each of `run_ids` (unknown runs have none), by run then model id.
    fn run_outputs(&self, run_ids: &[String]) -> Result<Vec<RunOutput>>;
}

/// Run tag holding a study trial's JSON record (written by `hone-train`'s study store); the
/// reaper rewrites it with the run's status.
pub const TRIAL_RECORD_TAG: &str = crate::keys::TRIAL_RECORD;
/// Run tag holding a study trial's state (`RUNNING`, `COMPLETE`, ...), searchable.
pub const TRIAL_STATE_TAG: &str = crate::keys::TRIAL_STATE;

/// Every run a search matches, in its order, page after page: [`Store::search_runs`] with
/// `request`, following the page tokens (pages of `request.max_results` runs, fetched as the
/// iterator reaches them). An error ends the iteration after it is yielded.
pub fn search_all(store: &dyn Store, request: SearchRequest) -> SearchAll<'_> {
    SearchAll {
        store,
        request,
        page: Vec::new().into_iter(),
        done: false,
    }
}

/// A fresh run id: 32 hex characters.
pub fn new_run_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// The iterator of [`search_all`].
pub struct SearchAll<'a> {
    store: &'a dyn Store,
    request: SearchRequest,
    page: std::vec::IntoIter<Run>,
    done: bool,
}

impl Iterator for SearchAll<'_> {
    type Item = Result<Run>;

    fn next(&mut self) -> Option<Result<Run>> {
        loop {
            if let Some(run) = self.page.next() {
                return Some(Ok(run));
            }
            if self.done {
                return None;
            }
            match self.store.search_runs(&self.request) {
                Ok((runs, next)) => {
                    self.done = next.is_none();
                    self.request.page_token = next;
                    self.page = runs.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
