//! The client side: [`HttpBackend`], every store trait over `hone server`'s call endpoint, and
//! [`RemoteBlobs`], the blob store behind the same server.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{BLOBS_PATH, CALL_PATH, Call, EventSpec, TransitionSpec, VersionSpec};
use crate::accounts::{Accounts, ApiToken, Level, Permission, ResourceKind, User};
use crate::coordinator::{Coordinator, Lease};
use crate::maintenance::{Maintenance, TaggedRun};
use crate::model::*;
use crate::registry::{
    AuditEntry, ModelVersion, NewEvent, NewModelVersion, RegisteredModel, Registry, Transition,
};
use crate::store::{Batch, LoggedModelSearch, NewRun, SearchRequest, Store};
use crate::{Result, TrackError, printable};

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take (a search over a large store, an upload of a large file).
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The connection to one server: its base URL, an HTTP client with keep-alive, and the
/// credentials every request carries.
#[derive(Debug)]
struct Connection {
    base: String,
    http: reqwest::blocking::Client,
    authorization: Option<String>,
}

/// How a client authenticates to a server with `--auth`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An API token (`hone users token create`), sent as `Authorization: Bearer`.
    Token(String),
    /// A user name and password, sent as `Authorization: Basic`.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log or a panic message.
        match self {
            Credentials::Token(_) => f.write_str("Token(***)"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
        }
    }
}

impl Credentials {
    /// MLflow's environment variables: `MLFLOW_TRACKING_TOKEN`, else
    /// `MLFLOW_TRACKING_USERNAME` with `MLFLOW_TRACKING_PASSWORD`; `None` when none is set.
    pub fn from_env() -> Result<Option<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            return Ok(Some(Credentials::Token(token)));
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Ok(Some(Credentials::Basic { user, password })),
            (Some(_), None) => Err(TrackError::Invalid(
                "MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not".into(),
            )),
            (None, Some(_)) => Err(TrackError::Invalid(
                "MLFLOW_TRACKING_PASSWORD is set but MLFLOW_TRACKING_USERNAME is not".into(),
            )),
            (None, None) => Ok(None),
        }
    }

    fn header(&self) -> String {
        use base64::Engine as _;
        match self {
            Credentials::Token(token) => format!("Bearer {token}"),
            Credentials::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
        }
    }
}

/// Checks a server URL (`http://host:port[/prefix]`, `https://...`) and returns it without a
/// trailing `/`.
fn check_url(url: &str) -> Result<String> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "store {}: {why}",
            printable(url)
        )))
    };
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return bad("a server's address starts with http:// or https://");
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return bad("names no host");
    }
    if authority.contains('@') {
        return bad(
            "credentials do not go in the address (it ends up in logs and shell history): set \
             MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
        );
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_control() || c == ' ') {
        return bad("a server's address has no query, fragment, space or control character");
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Percent-encodes a query value (all but RFC 3986's unreserved characters).
fn encode_query_value(s: &str) -> String {
    // RFC 3986's unreserved characters stay as they are.
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

impl Connection {
    fn open(url: &str, credentials: Option<&Credentials>) -> Result<Self> {
        let base = check_url(url)?;
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("hone/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrackError::Db(format!("server {base}: {e}")))?;
        Ok(Self {
            base,
            http,
            authorization: credentials.map(Credentials::header),
        })
    }

    fn transport(&self, e: reqwest::Error) -> TrackError {
        // The innermost cause says why (refused, reset, no such host); reqwest's own message
        // repeats the URL and its layers.
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let base = &self.base;
        if e.is_timeout() {
            return TrackError::Db(format!(
                "server {base} did not answer within {} s",
                if e.is_connect() {
                    CONNECT_TIMEOUT
                } else {
                    CALL_TIMEOUT
                }
                .as_secs()
            ));
        }
        if e.is_connect() {
            return TrackError::Db(format!(
                "server {base} is unreachable ({cause}): is `hone server` running there?"
            ));
        }
        TrackError::Db(format!("server {base}: {cause}"))
    }

    /// Sends a request and returns the answer's body, or the error the server described.
    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<Vec<u8>> {
        let request = match &self.authorization {
            Some(a) => request.header(reqwest::header::AUTHORIZATION, a),
            None => request,
        };
        let response = request.send().map_err(|e| self.transport(e))?;
        let status = response.status();
        let body = response.bytes().map_err(|e| self.transport(e))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(self.error_of(status.as_u16(), &body))
    }

    /// The error an answer describes: the server's [`TrackError`] when it sent one, else one
    /// made of MLflow's `error_code` and `message`.
    fn error_of(&self, status: u16, body: &[u8]) -> TrackError {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        if let Some(e) = parsed
            .as_ref()
            .and_then(|v| v.get("hone_error"))
            .and_then(|e| serde_json::from_value::<TrackError>(e.clone()).ok())
        {
            return e;
        }
        let base = &self.base;
        let Some(message) = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
        else {
            // Not MLflow's error body: something else answers at that address.
            return TrackError::Invalid(format!(
                "{base} is not a hone server (HTTP {status} without an MLflow error body from \
                 {CALL_PATH}): hone's commands need `hone server`"
            ));
        };
        match status {
            401 => TrackError::Invalid(format!(
                "server {base}: {message} (set MLFLOW_TRACKING_TOKEN, or \
                 MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)"
            )),
            403 => TrackError::Invalid(format!("server {base}: {message}")),
            404 | 405 => TrackError::Invalid(format!(
                "{base} is not a hone server (it does not answer {CALL_PATH}): hone's commands \
                 need `hone server`; MLflow's own server serves MLflow clients only"
            )),
            _ => TrackError::Db(format!("server {base}: {}", printable(&message))),
        }
    }

    fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let body = serde_json::to_vec(call)
            .map_err(|e| TrackError::Invalid(format!("encoding a call: {e}")))?;
        let answer = self.send(
            self.http
                .post(format!("{}{CALL_PATH}", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body),
        )?;
        #[derive(serde::Deserialize)]
        struct Reply<T> {
            result: T,
        }
        serde_json::from_slice::<Reply<T>>(&answer)
            .map(|r| r.result)
            .map_err(|e| {
                TrackError::Db(format!(
                    "server {}: an answer hone cannot read ({e}); is the server the same hone \
                     version as this one?",
                    self.base
                ))
            })
    }
}

/// Every store trait over `hone server` (see the [module](super)): what
/// [`open_store`](crate::open_store) returns for an `http://` or `https://` URI.
/// [`Accounts`] is refused: users, tokens and permissions are managed with `hone users`
/// where the server's store is.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    connection: Arc<Connection>,
}

impl HttpBackend {
    /// A client of the server at `url` (`http://host:port`, optionally with a path prefix
    /// under a reverse proxy), with credentials from `MLFLOW_TRACKING_TOKEN` or
    /// `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`. Nothing is sent yet.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_as(url, Credentials::from_env()?.as_ref())
    }

    /// A client of the server at `url` with the given credentials (`None`: none).
    pub fn connect_as(url: &str, credentials: Option<&Credentials>) -> Result<Self> {
        Ok(Self {
            connection: Arc::new(Connection::open(url, credentials)?),
        })
    }

    /// The blob store behind the same server.
    pub fn blobs(&self) -> RemoteBlobs {
        RemoteBlobs {
            connection: Arc::clone(&self.connection),
        }
    }

    fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.connection.call(&call)
    }
}

/// The blob store of a server: blobs are uploaded and read through it, and what is read is
/// checked against its address here as well as there.
#[derive(Debug, Clone)]
pub struct RemoteBlobs {
    connection: Arc<Connection>,
}

impl RemoteBlobs {
    /// A client of the blobs of the server at `url` (see [`HttpBackend::connect`]).
    pub fn connect(url: &str) -> Result<Self> {
        Ok(HttpBackend::connect(url)?.blobs())
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.connection.base
    }

    /// Uploads bytes; returns (sha256, size) as the server computed them.
    pub fn put(&self, bytes: &[u8]) -> Result<(String, i64)> {
        #[derive(serde::Deserialize)]
        struct Stored {
            sha256: String,
            size: i64,
        }
        let c = &self.connection;
        let answer = c.send(
            c.http
                .put(format!("{}{BLOBS_PATH}", c.base))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.to_vec()),
        )?;
        let stored: Stored = serde_json::from_slice(&answer)
            .map_err(|e| TrackError::Db(format!("server {}: {e}", c.base)))?;
        let expected = crate::artifacts::sha256_hex(bytes);
        if stored.sha256 != expected {
            return Err(TrackError::Db(format!(
                "server {}: stored a blob as {} but its content is {expected}",
                c.base, stored.sha256
            )));
        }
        Ok((stored.sha256, stored.size))
    }

    /// The blob `sha` that `owner` (a run or a logged model) records at `path`.
    pub fn get(&self, sha: &str, owner: &str, path: &str) -> Result<Vec<u8>> {
        let c = &self.connection;
        c.send(c.http.get(format!(
            "{}{BLOBS_PATH}/{}?owner={}&path={}",
            c.base,
            encode_query_value(sha),
            encode_query_value(owner),
            encode_query_value(path)
        )))
    }
}

fn refused<T>(what: &str) -> Result<T> {
    Err(TrackError::Invalid(format!(
        "{what} is not done through a server: run `hone users` where the server's store is \
         (with its --store)"
    )))
}

/// The name a call made on behalf of this process carries (a server with authentication puts
/// the caller's name instead).
fn me() -> String {
    crate::env::current_user()
}

impl Store for HttpBackend {
    fn location(&self) -> String {
        self.connection.base.clone()
    }
    fn create_experiment(&self, name: &str, tags: &[(String, String)]) -> Result<String> {
        self.call(Call::CreateExperiment {
            name: name.into(),
            tags: tags.to_vec(),
        })
    }
    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        self.call(Call::GetExperiment { id: id.into() })
    }
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.call(Call::GetExperimentByName { name: name.into() })
    }
    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        self.call(Call::GetOrCreateExperiment { name: name.into() })
    }
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        self.call(Call::ListExperiments { view })
    }
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.call(Call::RenameExperiment {
            id: id.into(),
            new_name: new_name.into(),
        })
    }
    fn set_experiment_lifecycle(&self, id: &str, lifecycle: Lifecycle) -> Result<()> {
        self.call(Call::SetExperimentLifecycle {
            id: id.into(),
            lifecycle,
        })
    }
    fn create_run(&self, mut new: NewRun) -> Result<RunInfo> {
        if new.user_id.is_none() {
            new.user_id = Some(me());
        }
        self.call(Call::CreateRun { new })
    }
    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.call(Call::EndRun {
            run_id: run_id.into(),
            status,
        })
    }
    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.call(Call::GetRun {
            run_id: run_id.into(),
        })
    }
    fn child_runs(&self, parent_run_id: &str) -> Result<Vec<RunInfo>> {
        self.call(Call::ChildRuns {
            parent_run_id: parent_run_id.into(),
        })
    }
    fn log_batches(&self, batches: &[Batch]) -> Result<()> {
        self.call(Call::LogBatches {
            batches: batches.to_vec(),
        })
    }
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.call(Call::MetricHistory {
            run_id: run_id.into(),
            key: key.into(),
        })
    }
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.call(Call::LogInputs {
            run_id: run_id.into(),
            datasets: datasets.to_vec(),
        })
    }
    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>> {
        self.call(Call::RunInputs {
            run_id: run_id.into(),
        })
    }
    fn inputs_of_runs(&self, run_ids: &[String]) -> Result<Vec<(String, DatasetInput)>> {
        self.call(Call::InputsOfRuns {
            run_ids: run_ids.to_vec(),
        })
    }
    fn record_artifact(&self, run_id: &str, record: &ArtifactRecord) -> Result<()> {
        self.call(Call::RecordArtifact {
            run_id: run_id.into(),
            record: record.clone(),
        })
    }
    fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRecord>> {
        self.call(Call::ListArtifacts {
            run_id: run_id.into(),
        })
    }
    fn delete_artifact(&self, run_id: &str, path: &str) -> Result<bool> {
        self.call(Call::DeleteArtifact {
            run_id: run_id.into(),
            path: path.into(),
        })
    }
    fn search_runs(&self, req: &SearchRequest) -> Result<(Vec<Run>, Option<String>)> {
        self.call(Call::SearchRuns { req: req.clone() })
    }
    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.call(Call::DeleteTag {
            run_id: run_id.into(),
            key: key.into(),
        })
    }
    fn set_run_lifecycle(&self, run_id: &str, lifecycle: Lifecycle) -> Result<()> {
        self.call(Call::SetRunLifecycle {
            run_id: run_id.into(),
            lifecycle,
        })
    }
    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        self.call(Call::SetExperimentTag {
            experiment_id: experiment_id.into(),
            key: key.into(),
            value: value.into(),
        })
    }
    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        self.call(Call::DeleteExperimentTag {
            experiment_id: experiment_id.into(),
            key: key.into(),
        })
    }
    fn rename_run(&self, run_id: &str, name: &str) -> Result<()> {
        self.call(Call::RenameRun {
            run_id: run_id.into(),
            name: name.into(),
        })
    }
    fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel> {
        self.call(Call::CreateLoggedModel { new })
    }
    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.call(Call::GetLoggedModel {
            model_id: model_id.into(),
        })
    }
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        self.call(Call::FinalizeLoggedModel {
            model_id: model_id.into(),
            status,
        })
    }
    fn search_logged_models(
        &self,
        req: &LoggedModelSearch,
    ) -> Result<(Vec<LoggedModel>, Option<String>)> {
        self.call(Call::SearchLoggedModels { req: req.clone() })
    }
    fn set_logged_model_tags(&self, model_id: &str, tags: &[(String, String)]) -> Result<()> {
        self.call(Call::SetLoggedModelTags {
            model_id: model_id.into(),
            tags: tags.to_vec(),
        })
    }
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.call(Call::DeleteLoggedModelTag {
            model_id: model_id.into(),
            key: key.into(),
        })
    }
    fn log_logged_model_params(&self, model_id: &str, params: &[(String, String)]) -> Result<()> {
        self.call(Call::LogLoggedModelParams {
            model_id: model_id.into(),
            params: params.to_vec(),
        })
    }
    fn log_logged_model_metrics(
        &self,
        model_id: &str,
        metrics: &[LoggedModelMetric],
    ) -> Result<()> {
        self.call(Call::LogLoggedModelMetrics {
            model_id: model_id.into(),
            metrics: metrics.to_vec(),
        })
    }
    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.call(Call::DeleteLoggedModel {
            model_id: model_id.into(),
        })
    }
    fn record_logged_model_artifact(&self, model_id: &str, record: &ArtifactRecord) -> Result<()> {
        self.call(Call::RecordLoggedModelArtifact {
            model_id: model_id.into(),
            record: record.clone(),
        })
    }
    fn list_logged_model_artifacts(&self, model_id: &str) -> Result<Vec<ArtifactRecord>> {
        self.call(Call::ListLoggedModelArtifacts {
            model_id: model_id.into(),
        })
    }
    fn delete_logged_model_artifact(&self, model_id: &str, path: &str) -> Result<bool> {
        self.call(Call::DeleteLoggedModelArtifact {
            model_id: model_id.into(),
            path: path.into(),
        })
    }
    fn log_outputs(&self, run_id: &str, outputs: &[(String, i64)]) -> Result<()> {
        self.call(Call::LogOutputs {
            run_id: run_id.into(),
            outputs: outputs.to_vec(),
        })
    }
    fn run_outputs(&self, run_ids: &[String]) -> Result<Vec<RunOutput>> {
        self.call(Call::RunOutputs {
            run_ids: run_ids.to_vec(),
        })
    }
}

impl Coordinator for HttpBackend {
    fn next_sequence(&self, name: &str) -> Result<i64> {
        self.call(Call::NextSequence { name: name.into() })
    }
    fn claim_run(
        &self,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
        owner: Option<&Lease>,
    ) -> Result<bool> {
        self.call(Call::ClaimRun {
            run_id: run_id.into(),
            from,
            to,
            owner: owner.cloned(),
        })
    }
    fn transition_run(&self, batch: &Batch, from: RunStatus, to: RunStatus) -> Result<bool> {
        self.call(Call::TransitionRun {
            batch: batch.clone(),
            from,
            to,
        })
    }
    fn heartbeat(&self, lease: &Lease) -> Result<usize> {
        self.call(Call::Heartbeat {
            lease: lease.clone(),
        })
    }
    fn reap(&self) -> Result<Vec<String>> {
        self.call(Call::Reap)
    }
}

impl Maintenance for HttpBackend {
    fn runs_for_retention(&self, experiment_id: &str) -> Result<Vec<TaggedRun>> {
        self.call(Call::RunsForRetention {
            experiment_id: experiment_id.into(),
        })
    }
    fn set_runs_lifecycle_cascade(
        &self,
        run_ids: &[String],
        lifecycle: Lifecycle,
    ) -> Result<usize> {
        self.call(Call::SetRunsLifecycleCascade {
            run_ids: run_ids.to_vec(),
            lifecycle,
        })
    }
    fn purge_deleted_runs(&self, min_age_ms: i64) -> Result<Vec<String>> {
        self.call(Call::PurgeDeletedRuns { min_age_ms })
    }
    fn purge_deleted_logged_models(&self, min_age_ms: i64) -> Result<Vec<String>> {
        self.call(Call::PurgeDeletedLoggedModels { min_age_ms })
    }
    fn referenced_blobs(&self) -> Result<HashSet<String>> {
        self.call::<Vec<String>>(Call::ReferencedBlobs)
            .map(|list| list.into_iter().collect())
    }
}

impl Registry for HttpBackend {
    fn create_registered_model_as(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<RegisteredModel> {
        self.call(Call::CreateRegisteredModel {
            name: name.into(),
            description: description.into(),
            tags: tags.to_vec(),
            user: user.into(),
        })
    }
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.call(Call::GetRegisteredModel { name: name.into() })
    }
    fn list_registered_models(&self, prefix: &str) -> Result<Vec<RegisteredModel>> {
        self.call(Call::ListRegisteredModels {
            prefix: prefix.into(),
        })
    }
    fn delete_registered_model_as(&self, name: &str, user: &str) -> Result<()> {
        self.call(Call::DeleteRegisteredModel {
            name: name.into(),
            user: user.into(),
        })
    }
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.call(Call::SetRegisteredModelTag {
            name: name.into(),
            key: key.into(),
            value: value.into(),
        })
    }
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.call(Call::DeleteRegisteredModelTag {
            name: name.into(),
            key: key.into(),
        })
    }
    fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        user: &str,
    ) -> Result<RegisteredModel> {
        self.call(Call::RenameRegisteredModel {
            name: name.into(),
            new_name: new_name.into(),
            user: user.into(),
        })
    }
    fn update_registered_model_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel> {
        self.call(Call::UpdateRegisteredModelDescription {
            name: name.into(),
            description: description.into(),
        })
    }
    fn create_model_version(&self, v: &NewModelVersion<'_>) -> Result<ModelVersion> {
        let mut version = VersionSpec::of(v);
        if version.user.is_none() {
            version.user = Some(me());
        }
        self.call(Call::CreateModelVersion { version })
    }
    fn update_model_version_description(
        &self,
        name: &str,
        version: u32,
        description: &str,
    ) -> Result<ModelVersion> {
        self.call(Call::UpdateModelVersionDescription {
            name: name.into(),
            version,
            description: description.into(),
        })
    }
    fn get_model_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        self.call(Call::GetModelVersion {
            name: name.into(),
            version,
        })
    }
    fn get_model_version_by_semver(&self, name: &str, semver: &str) -> Result<ModelVersion> {
        self.call(Call::GetModelVersionBySemver {
            name: name.into(),
            semver: semver.into(),
        })
    }
    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.call(Call::GetModelVersionByAlias {
            name: name.into(),
            alias: alias.into(),
        })
    }
    fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.call(Call::ListModelVersions { name: name.into() })
    }
    fn all_model_versions(&self) -> Result<Vec<ModelVersion>> {
        self.call(Call::AllModelVersions)
    }
    fn set_model_version_tag(
        &self,
        name: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.call(Call::SetModelVersionTag {
            name: name.into(),
            version,
            key: key.into(),
            value: value.into(),
        })
    }
    fn delete_model_version_tag(&self, name: &str, version: u32, key: &str) -> Result<()> {
        self.call(Call::DeleteModelVersionTag {
            name: name.into(),
            version,
            key: key.into(),
        })
    }
    fn set_alias_as(&self, name: &str, alias: &str, version: u32, user: &str) -> Result<()> {
        self.call(Call::SetAlias {
            name: name.into(),
            alias: alias.into(),
            version,
            user: user.into(),
        })
    }
    fn delete_alias_as(&self, name: &str, alias: &str, user: &str) -> Result<()> {
        self.call(Call::DeleteAlias {
            name: name.into(),
            alias: alias.into(),
            user: user.into(),
        })
    }
    fn transition_stage(&self, t: &Transition<'_>) -> Result<ModelVersion> {
        self.call(Call::TransitionStage {
            transition: TransitionSpec::of(t),
        })
    }
    fn transition_stage_by_path(&self, t: &Transition<'_>) -> Result<ModelVersion> {
        self.call(Call::TransitionStageByPath {
            transition: TransitionSpec::of(t),
        })
    }
    fn append_event(&self, e: &NewEvent<'_>) -> Result<AuditEntry> {
        self.call(Call::AppendEvent {
            event: EventSpec::of(e),
        })
    }
    fn delete_model_version_as(&self, name: &str, version: u32, user: &str) -> Result<()> {
        self.call(Call::DeleteModelVersion {
            name: name.into(),
            version,
            user: user.into(),
        })
    }
    fn audit_log(&self, name: &str) -> Result<Vec<AuditEntry>> {
        self.call(Call::AuditLog { name: name.into() })
    }
    fn versions_referencing_run(&self, run_id: &str) -> Result<Vec<ModelVersion>> {
        self.call(Call::VersionsReferencingRun {
            run_id: run_id.into(),
        })
    }
}

impl Accounts for HttpBackend {
    fn create_user(&self, _: &str, _: &str, _: bool) -> Result<User> {
        refused("managing users")
    }
    fn get_user(&self, _: &str) -> Result<Option<User>> {
        refused("reading users")
    }
    fn list_users(&self) -> Result<Vec<User>> {
        refused("listing users")
    }
    fn delete_user(&self, _: &str) -> Result<()> {
        refused("managing users")
    }
    fn set_password_hash(&self, _: &str, _: &str) -> Result<()> {
        refused("setting passwords")
    }
    fn set_admin(&self, _: &str, _: bool) -> Result<()> {
        refused("managing users")
    }
    fn insert_token(&self, _: &str, _: &str, _: &str, _: Option<i64>) -> Result<ApiToken> {
        refused("creating tokens")
    }
    fn get_token(&self, _: &str) -> Result<Option<(ApiToken, String)>> {
        refused("reading tokens")
    }
    fn list_tokens(&self, _: Option<&str>) -> Result<Vec<ApiToken>> {
        refused("listing tokens")
    }
    fn revoke_token(&self, _: &str) -> Result<()> {
        refused("revoking tokens")
    }
    fn set_permission(&self, _: &str, _: ResourceKind, _: &str, _: Level) -> Result<()> {
        refused("granting permissions")
    }
    fn delete_permission(&self, _: &str, _: ResourceKind, _: &str) -> Result<()> {
        refused("revoking permissions")
    }
    fn get_permission(&self, _: &str, _: ResourceKind, _: &str) -> Result<Option<Level>> {
        refused("reading permissions")
    }
    fn list_permissions(&self, _: Option<&str>) -> Result<Vec<Permission>> {
        refused("listing permissions")
    }
    fn rename_permissions(&self, _: ResourceKind, _: &str, _: &str) -> Result<()> {
        refused("managing permissions")
    }
    fn delete_permissions_on(&self, _: ResourceKind, _: &str) -> Result<()> {
        refused("managing permissions")
    }
    fn experiment_of_run(&self, run_id: &str) -> Result<Option<String>> {
        match self.get_run(run_id) {
            Ok(run) => Ok(Some(run.info.experiment_id)),
            Err(TrackError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(check_url("http://h:5000/").unwrap(), "http://h:5000");
        assert_eq!(check_url("https://h/prefix/").unwrap(), "https://h/prefix");
        for bad in [
            "ftp://h",
            "http://",
            "http://u:p@h:5000",
            "http://h?x=1",
            "http://h#f",
            "http://h/a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
    }
}
