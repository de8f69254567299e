//! A store behind `hone server`: the calls of [`Store`], [`Coordinator`], [`Maintenance`] and
//! [`Registry`] as JSON messages ([`Call`]), what a server does with one ([`dispatch`]), and
//! the client ([`HttpBackend`]) that makes `--store http://host:5000` work for every hone
//! command, so that a team shares one server.
//!
//! Why not MLflow's REST endpoints: hone's commands need what MLflow's API has no words for
//! (semantic versions, the audit log, leases and compare-and-set claims, checksummed artifact
//! records), and a typed call keeps the remote store's behaviour exactly the local one's (the
//! same test suite runs against both). The server authorises each call against the caller's
//! permissions and puts the caller's name where a call names a user; see `hone-server`'s
//! `calls` module.
//!
//! The wire: `POST /api/2.0/hone/call` with `{"call": "<snake_case name>", "args": {...}}`
//! answers `{"result": ...}`, or an error body `{"error_code", "message", "hone_error"}` whose
//! `hone_error` is the [`TrackError`] itself, so a client gets the same error value as a local
//! store would give. Blobs travel raw: `PUT /api/2.0/hone/blobs` and
//! `GET /api/2.0/hone/blobs/<sha256>?owner=<run or logged model>&path=<logical path>`.

mod client;

pub use client::{Credentials, HttpBackend, RemoteBlobs};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::coordinator::{Coordinator, Lease};
use crate::maintenance::Maintenance;
use crate::model::*;
use crate::registry::{NewEvent, NewModelVersion, Registry, Stage, Transition};
use crate::store::{Batch, LoggedModelSearch, NewRun, SearchRequest, Store};
use crate::{Backend, Result, TrackError};

/// The path of the call endpoint.
pub const CALL_PATH: &str = "/api/2.0/hone/call";
/// The path of the blob endpoint (`PUT` here, `GET` under `/<sha256>`).
pub const BLOBS_PATH: &str = "/api/2.0/hone/blobs";

/// An owned [`NewModelVersion`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionSpec {
    /// See [`NewModelVersion::name`].
    pub name: String,
    /// See [`NewModelVersion::run_id`].
    pub run_id: String,
    /// See [`NewModelVersion::semver`].
    pub semver: Option<String>,
    /// See [`NewModelVersion::tags`].
    pub tags: Vec<(String, String)>,
    /// See [`NewModelVersion::source`].
    pub source: Option<String>,
    /// See [`NewModelVersion::run_link`].
    pub run_link: String,
    /// See [`NewModelVersion::description`].
    pub description: String,
    /// See [`NewModelVersion::model_id`].
    pub model_id: String,
    /// See [`NewModelVersion::storage_location`]; a server derives it itself.
    pub storage_location: Option<String>,
    /// See [`NewModelVersion::user`].
    pub user: Option<String>,
}

impl VersionSpec {
    /// The owned copy of `v`.
    pub fn of(v: &NewModelVersion<'_>) -> Self {
        Self {
            name: v.name.into(),
            run_id: v.run_id.into(),
            semver: v.semver.map(Into::into),
            tags: v.tags.to_vec(),
            source: v.source.map(Into::into),
            run_link: v.run_link.into(),
            description: v.description.into(),
            model_id: v.model_id.into(),
            storage_location: v.storage_location.map(Into::into),
            user: v.user.map(Into::into),
        }
    }

    /// The borrowed form the [`Registry`] takes.
    pub fn as_new(&self) -> NewModelVersion<'_> {
        NewModelVersion {
            name: &self.name,
            run_id: &self.run_id,
            semver: self.semver.as_deref(),
            tags: &self.tags,
            source: self.source.as_deref(),
            run_link: &self.run_link,
            description: &self.description,
            model_id: &self.model_id,
            storage_location: self.storage_location.as_deref(),
            user: self.user.as_deref(),
        }
    }
}

/// An owned [`Transition`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransitionSpec {
    /// See [`Transition::name`].
    pub name: String,
    /// See [`Transition::version`].
    pub version: u32,
    /// See [`Transition::to`].
    pub to: Stage,
    /// See [`Transition::expected_current_production`].
    pub expected_current_production: Option<u32>,
    /// See [`Transition::archive_existing`].
    pub archive_existing: bool,
    /// See [`Transition::user`].
    pub user: String,
    /// See [`Transition::reason`].
    pub reason: String,
    /// See [`Transition::details`].
    pub details: String,
}

impl TransitionSpec {
    /// The owned copy of `t`.
    pub fn of(t: &Transition<'_>) -> Self {
        Self {
            name: t.name.into(),
            version: t.version,
            to: t.to,
            expected_current_production: t.expected_current_production,
            archive_existing: t.archive_existing,
            user: t.user.into(),
            reason: t.reason.into(),
            details: t.details.into(),
        }
    }

    /// The borrowed form the [`Registry`] takes.
    pub fn as_transition(&self) -> Transition<'_> {
        Transition {
            name: &self.name,
            version: self.version,
            to: self.to,
            expected_current_production: self.expected_current_production,
            archive_existing: self.archive_existing,
            user: &self.user,
            reason: &self.reason,
            details: &self.details,
        }
    }
}

/// An owned [`NewEvent`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventSpec {
    /// See [`NewEvent::name`].
    pub name: String,
    /// See [`NewEvent::version`].
    pub version: Option<u32>,
    /// See [`NewEvent::action`].
    pub action: String,
    /// See [`NewEvent::user`].
    pub user: String,
    /// See [`NewEvent::reason`].
    pub reason: String,
    /// See [`NewEvent::details`].
    pub details: String,
}

impl EventSpec {
    /// The owned copy of `e`.
    pub fn of(e: &NewEvent<'_>) -> Self {
        Self {
            name: e.name.into(),
            version: e.version,
            action: e.action.into(),
            user: e.user.into(),
            reason: e.reason.into(),
            details: e.details.into(),
        }
    }

    /// The borrowed form the [`Registry`] takes.
    pub fn as_event(&self) -> NewEvent<'_> {
        NewEvent {
            name: &self.name,
            version: self.version,
            action: &self.action,
            user: &self.user,
            reason: &self.reason,
            details: &self.details,
        }
    }
}

/// One store call: a method of [`Store`], [`Coordinator`], [`Maintenance`] or [`Registry`]
/// with its arguments (the variant is the method's name in CamelCase; on the wire, in
/// snake_case). [`Accounts`](crate::Accounts) has no calls: a server's users are managed where
/// its store is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "call",
    content = "args",
    rename_all = "snake_case",
    deny_unknown_fields
)]
#[allow(missing_docs)] // each variant is the trait method of the same name
pub enum Call {
    CreateExperiment {
        name: String,
        tags: Vec<(String, String)>,
    },
    GetExperiment {
        id: String,
    },
    GetExperimentByName {
        name: String,
    },
    GetOrCreateExperiment {
        name: String,
    },
    ListExperiments {
        view: ViewType,
    },
    RenameExperiment {
        id: String,
        new_name: String,
    },
    SetExperimentLifecycle {
        id: String,
        lifecycle: Lifecycle,
    },
    CreateRun {
        new: NewRun,
    },
    EndRun {
        run_id: String,
        status: RunStatus,
    },
    GetRun {
        run_id: String,
    },
    ChildRuns {
        parent_run_id: String,
    },
    LogBatches {
        batches: Vec<Batch>,
    },
    MetricHistory {
        run_id: String,
        key: String,
    },
    LogInputs {
        run_id: String,
        datasets: Vec<DatasetInput>,
    },
    RunInputs {
        run_id: String,
    },
    InputsOfRuns {
        run_ids: Vec<String>,
    },
    RecordArtifact {
        run_id: String,
        record: ArtifactRecord,
    },
    ListArtifacts {
        run_id: String,
    },
    DeleteArtifact {
        run_id: String,
        path: String,
    },
    SearchRuns {
        req: SearchRequest,
    },
    DeleteTag {
        run_id: String,
        key: String,
    },
    SetRunLifecycle {
        run_id: String,
        lifecycle: Lifecycle,
    },
    SetExperimentTag {
        experiment_id: String,
        key: String,
        value: String,
    },
    DeleteExperimentTag {
        experiment_id: String,
        key: String,
    },
    RenameRun {
        run_id: String,
        name: String,
    },
    CreateLoggedModel {
        new: NewLoggedModel,
    },
    GetLoggedModel {
        model_id: String,
    },
    FinalizeLoggedModel {
        model_id: String,
        status: LoggedModelStatus,
    },
    SearchLoggedModels {
        req: LoggedModelSearch,
    },
    SetLoggedModelTags {
        model_id: String,
        tags: Vec<(String, String)>,
    },
    DeleteLoggedModelTag {
        model_id: String,
        key: String,
    },
    LogLoggedModelParams {
        model_id: String,
        params: Vec<(String, String)>,
    },
    LogLoggedModelMetrics {
        model_id: String,
        metrics: Vec<LoggedModelMetric>,
    },
    DeleteLoggedModel {
        model_id: String,
    },
    RecordLoggedModelArtifact {
        model_id: String,
        record: ArtifactRecord,
    },
    ListLoggedModelArtifacts {
        model_id: String,
    },
    DeleteLoggedModelArtifact {
        model_id: String,
        path: String,
    },
    LogOutputs {
        run_id: String,
        outputs: Vec<(String, i64)>,
    },
    RunOutputs {
        run_ids: Vec<String>,
    },
    NextSequence {
        name: String,
    },
    ClaimRun {
        run_id: String,
        from: RunStatus,
        to: RunStatus,
        owner: Option<Lease>,
    },
    TransitionRun {
        batch: Batch,
        from: RunStatus,
        to: RunStatus,
    },
    Heartbeat {
        lease: Lease,
    },
    Reap,
    RunsForRetention {
        experiment_id: String,
    },
    SetRunsLifecycleCascade {
        run_ids: Vec<String>,
        lifecycle: Lifecycle,
    },
    PurgeDeletedRuns {
        min_age_ms: i64,
    },
    PurgeDeletedLoggedModels {
        min_age_ms: i64,
    },
    ReferencedBlobs,
    CreateRegisteredModel {
        name: String,
        description: String,
        tags: Vec<(String, String)>,
        user: String,
    },
    GetRegisteredModel {
        name: String,
    },
    ListRegisteredModels {
        prefix: String,
    },
    DeleteRegisteredModel {
        name: String,
        user: String,
    },
    SetRegisteredModelTag {
        name: String,
        key: String,
        value: String,
    },
    DeleteRegisteredModelTag {
        name: String,
        key: String,
    },
    RenameRegisteredModel {
        name: String,
        new_name: String,
        user: String,
    },
    UpdateRegisteredModelDescription {
        name: String,
        description: String,
    },
    CreateModelVersion {
        version: VersionSpec,
    },
    UpdateModelVersionDescription {
        name: String,
        version: u32,
        description: String,
    },
    GetModelVersion {
        name: String,
        version: u32,
    },
    GetModelVersionBySemver {
        name: String,
        semver: String,
    },
    GetModelVersionByAlias {
        name: String,
        alias: String,
    },
    ListModelVersions {
        name: String,
    },
    AllModelVersions,
    SetModelVersionTag {
        name: String,
        version: u32,
        key: String,
        value: String,
    },
    DeleteModelVersionTag {
        name: String,
        version: u32,
        key: String,
    },
    SetAlias {
        name: String,
        alias: String,
        version: u32,
        user: String,
    },
    DeleteAlias {
        name: String,
        alias: String,
        user: String,
    },
    TransitionStage {
        transition: TransitionSpec,
    },
    TransitionStageByPath {
        transition: TransitionSpec,
    },
    AppendEvent {
        event: EventSpec,
    },
    DeleteModelVersion {
        name: String,
        version: u32,
        user: String,
    },
    AuditLog {
        name: String,
    },
    VersionsReferencingRun {
        run_id: String,
    },
}

fn json<T: Serialize>(value: T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| TrackError::Db(format!("encoding an answer: {e}")))
}

/// Runs `call` on `store` and returns its result as JSON. No permission is checked here: the
/// server decides first whether the caller may make the call.
pub fn dispatch(store: &dyn Backend, call: Call) -> Result<Value> {
    use Call::*;
    let s: &dyn Store = store;
    let c: &dyn Coordinator = store;
    let m: &dyn Maintenance = store;
    let r: &dyn Registry = store;
    match call {
        CreateExperiment { name, tags } => json(s.create_experiment(&name, &tags)?),
        GetExperiment { id } => json(s.get_experiment(&id)?),
        GetExperimentByName { name } => json(s.get_experiment_by_name(&name)?),
        GetOrCreateExperiment { name } => json(s.get_or_create_experiment(&name)?),
        ListExperiments { view } => json(s.list_experiments(view)?),
        RenameExperiment { id, new_name } => json(s.rename_experiment(&id, &new_name)?),
        SetExperimentLifecycle { id, lifecycle } => {
            json(s.set_experiment_lifecycle(&id, lifecycle)?)
        }
        CreateRun { new } => json(s.create_run(new)?),
        EndRun { run_id, status } => json(s.end_run(&run_id, status)?),
        GetRun { run_id } => json(s.get_run(&run_id)?),
        ChildRuns { parent_run_id } => json(s.child_runs(&parent_run_id)?),
        LogBatches { batches } => json(s.log_batches(&batches)?),
        MetricHistory { run_id, key } => json(s.metric_history(&run_id, &key)?),
        LogInputs { run_id, datasets } => json(s.log_inputs(&run_id, &datasets)?),
        RunInputs { run_id } => json(s.run_inputs(&run_id)?),
        InputsOfRuns { run_ids } => json(s.inputs_of_runs(&run_ids)?),
        RecordArtifact { run_id, record } => json(s.record_artifact(&run_id, &record)?),
        ListArtifacts { run_id } => json(s.list_artifacts(&run_id)?),
        DeleteArtifact { run_id, path } => json(s.delete_artifact(&run_id, &path)?),
        SearchRuns { req } => json(s.search_runs(&req)?),
        DeleteTag { run_id, key } => json(s.delete_tag(&run_id, &key)?),
        SetRunLifecycle { run_id, lifecycle } => json(s.set_run_lifecycle(&run_id, lifecycle)?),
        SetExperimentTag {
            experiment_id,
            key,
            value,
        } => json(s.set_experiment_tag(&experiment_id, &key, &value)?),
        DeleteExperimentTag { experiment_id, key } => {
            json(s.delete_experiment_tag(&experiment_id, &key)?)
        }
        RenameRun { run_id, name } => json(s.rename_run(&run_id, &name)?),
        CreateLoggedModel { new } => json(s.create_logged_model(new)?),
        GetLoggedModel { model_id } => json(s.get_logged_model(&model_id)?),
        FinalizeLoggedModel { model_id, status } => {
            json(s.finalize_logged_model(&model_id, status)?)
        }
        SearchLoggedModels { req } => json(s.search_logged_models(&req)?),
        SetLoggedModelTags { model_id, tags } => json(s.set_logged_model_tags(&model_id, &tags)?),
        DeleteLoggedModelTag { model_id, key } => json(s.delete_logged_model_tag(&model_id, &key)?),
        LogLoggedModelParams { model_id, params } => {
            json(s.log_logged_model_params(&model_id, &params)?)
        }
        LogLoggedModelMetrics { model_id, metrics } => {
            json(s.log_logged_model_metrics(&model_id, &metrics)?)
        }
        DeleteLoggedModel { model_id } => json(s.delete_logged_model(&model_id)?),
        RecordLoggedModelArtifact { model_id, record } => {
            json(s.record_logged_model_artifact(&model_id, &record)?)
        }
        ListLoggedModelArtifacts { model_id } => json(s.list_logged_model_artifacts(&model_id)?),
        DeleteLoggedModelArtifact { model_id, path } => {
            json(s.delete_logged_model_artifact(&model_id, &path)?)
        }
        LogOutputs { run_id, outputs } => json(s.log_outputs(&run_id, &outputs)?),
        RunOutputs { run_ids } => json(s.run_outputs(&run_ids)?),
        NextSequence { name } => json(c.next_sequence(&name)?),
        ClaimRun {
            run_id,
            from,
            to,
            owner,
        } => json(c.claim_run(&run_id, from, to, owner.as_ref())?),
        TransitionRun { batch, from, to } => json(c.transition_run(&batch, from, to)?),
        Heartbeat { lease } => json(c.heartbeat(&lease)?),
        Reap => json(c.reap()?),
        RunsForRetention { experiment_id } => json(m.runs_for_retention(&experiment_id)?),
        SetRunsLifecycleCascade { run_ids, lifecycle } => {
            json(m.set_runs_lifecycle_cascade(&run_ids, lifecycle)?)
        }
        PurgeDeletedRuns { min_age_ms } => json(m.purge_deleted_runs(min_age_ms)?),
        PurgeDeletedLoggedModels { min_age_ms } => json(m.purge_deleted_logged_models(min_age_ms)?),
        ReferencedBlobs => json(m.referenced_blobs()?.into_iter().collect::<Vec<_>>()),
        CreateRegisteredModel {
            name,
            description,
            tags,
            user,
        } => json(r.create_registered_model_as(&name, &description, &tags, &user)?),
        GetRegisteredModel { name } => json(r.get_registered_model(&name)?),
        ListRegisteredModels { prefix } => json(r.list_registered_models(&prefix)?),
        DeleteRegisteredModel { name, user } => json(r.delete_registered_model_as(&name, &user)?),
        SetRegisteredModelTag { name, key, value } => {
            json(r.set_registered_model_tag(&name, &key, &value)?)
        }
        DeleteRegisteredModelTag { name, key } => json(r.delete_registered_model_tag(&name, &key)?),
        RenameRegisteredModel {
            name,
            new_name,
            user,
        } => json(r.rename_registered_model(&name, &new_name, &user)?),
        UpdateRegisteredModelDescription { name, description } => {
            json(r.update_registered_model_description(&name, &description)?)
        }
        CreateModelVersion { version } => json(r.create_model_version(&version.as_new())?),
        UpdateModelVersionDescription {
            name,
            version,
            description,
        } => json(r.update_model_version_description(&name, version, &description)?),
        GetModelVersion { name, version } => json(r.get_model_version(&name, version)?),
        GetModelVersionBySemver { name, semver } => {
            json(r.get_model_version_by_semver(&name, &semver)?)
        }
        GetModelVersionByAlias { name, alias } => {
            json(r.get_model_version_by_alias(&name, &alias)?)
        }
        ListModelVersions { name } => json(r.list_model_versions(&name)?),
        AllModelVersions => json(r.all_model_versions()?),
        SetModelVersionTag {
            name,
            version,
            key,
            value,
        } => json(r.set_model_version_tag(&name, version, &key, &value)?),
        DeleteModelVersionTag { name, version, key } => {
            json(r.delete_model_version_tag(&name, version, &key)?)
        }
        SetAlias {
            name,
            alias,
            version,
            user,
        } => json(r.set_alias_as(&name, &alias, version, &user)?),
        DeleteAlias { name, alias, user } => json(r.delete_alias_as(&name, &alias, &user)?),
        TransitionStage { transition } => json(r.transition_stage(&transition.as_transition())?),
        TransitionStageByPath { transition } => {
            json(r.transition_stage_by_path(&transition.as_transition())?)
        }
        AppendEvent { event } => json(r.append_event(&event.as_event())?),
        DeleteModelVersion {
            name,
            version,
            user,
        } => json(r.delete_model_version_as(&name, version, &user)?),
        AuditLog { name } => json(r.audit_log(&name)?),
        VersionsReferencingRun { run_id } => json(r.versions_referencing_run(&run_id)?),
    }
}
