//! hone's own API, for hone's commands run with `--store http://host:port`
//! ([`hone_track::remote`]): `POST /api/2.0/hone/call` runs one store call, `PUT
//! /api/2.0/hone/blobs` stores a blob, `GET /api/2.0/hone/blobs/{sha}` reads one back.
//!
//! Behind the same guards and authentication as MLflow's routes. With `--auth`, each call
//! needs what the MLflow route doing the same thing needs ([`needs`]), the caller's name
//! replaces whatever user a call names (audit log, `user_id`), listings keep only what the
//! caller can read, and creating an experiment or a registered model grants its creator
//! MANAGE. A model version's storage location is always derived here from its source (as for
//! `model-versions/create`), never taken from the client. Errors carry the store's error
//! itself (`hone_error`) so that the client gets the value a local store gives; internal
//! errors keep their details in the server's log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hone_track::accounts::{Level, ResourceKind};
use hone_track::remote::{Call, dispatch};
use hone_track::{Backend, TrackError};
use serde_json::{Value, json};

use crate::auth::{Need, grant_creator, readable_set, require_all};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::{AppState, blocking};

/// The answer to a failed call: MLflow's error body and status, plus the store's error.
fn failure(e: TrackError) -> Response {
    let internal = matches!(
        e,
        TrackError::Db(_) | TrackError::Io { .. } | TrackError::NewerSchema { .. }
    );
    let shared = (!internal).then(|| serde_json::to_value(&e).ok()).flatten();
    // (ApiError::from prints an internal error's details to the server's log.)
    let api = ApiError::from(e);
    // The details (SQL, the server's paths) never leave the server.
    let shared = shared.unwrap_or_else(|| json!({ "Db": api.message }));
    let body = json!({
        "error_code": api.code,
        "message": api.message,
        "hone_error": shared,
    });
    (api.status, Json(body)).into_response()
}

/// What a call needs of a caller who is not an administrator.
fn needs(call: &Call) -> Vec<Need> {
    use Call::*;
    use Level::{Edit, Manage, Read};
    let exp = |id: &str, l| vec![Need::Experiment(id.to_string(), l)];
    let run = |id: &str, l| vec![Need::Run(id.to_string(), l)];
    let runs = |ids: &[String], l| ids.iter().map(|r| Need::Run(r.clone(), l)).collect();
    let lm = |id: &str, l| vec![Need::LoggedModel(id.to_string(), l)];
    let model = |name: &str, l| vec![Need::Model(name.to_string(), l)];
    match call {
        // Any user creates; the answer decides the rest (see `call`).
        CreateExperiment { .. }
        | GetExperimentByName { .. }
        | GetOrCreateExperiment { .. }
        | ListExperiments { .. }
        | CreateRegisteredModel { .. }
        | ListRegisteredModels { .. }
        | AllModelVersions
        // Lease ids are the owner's secret: a renewal changes only the runs it owns.
        | Heartbeat { .. }
        // The store's own rule, with nothing chosen by the caller: only runs whose lease
        // expired (or whose holder is provably gone) are marked KILLED. Every tracker and
        // tuning job reaps as it starts, whoever runs it.
        | Reap => Vec::new(),
        GetExperiment { id } => exp(id, Read),
        RenameExperiment { id, .. } => exp(id, Edit),
        SetExperimentLifecycle { id, .. } => exp(id, Manage),
        SetExperimentTag { experiment_id, .. } | DeleteExperimentTag { experiment_id, .. } => {
            exp(experiment_id, Edit)
        }
        RunsForRetention { experiment_id } => exp(experiment_id, Read),
        CreateRun { new } => {
            let mut n = exp(&new.experiment_id, Edit);
            if let Some(parent) = &new.parent_run_id {
                n.push(Need::Run(parent.clone(), Read));
            }
            n
        }
        GetRun { run_id }
        | MetricHistory { run_id, .. }
        | RunInputs { run_id }
        | ListArtifacts { run_id } => run(run_id, Read),
        ChildRuns { parent_run_id } => run(parent_run_id, Read),
        InputsOfRuns { run_ids } | RunOutputs { run_ids } => runs(run_ids, Read),
        EndRun { run_id, .. }
        | LogInputs { run_id, .. }
        | RecordArtifact { run_id, .. }
        | DeleteTag { run_id, .. }
        | RenameRun { run_id, .. }
        | ClaimRun { run_id, .. } => run(run_id, Edit),
        LogBatches { batches } => batches
            .iter()
            .map(|b| Need::Run(b.run_id.clone(), Edit))
            .collect(),
        TransitionRun { batch, .. } => run(&batch.run_id, Edit),
        DeleteArtifact { run_id, .. } | SetRunLifecycle { run_id, .. } => run(run_id, Manage),
        SetRunsLifecycleCascade { run_ids, .. } => runs(run_ids, Manage),
        SearchRuns { req } => req
            .experiment_ids
            .iter()
            .map(|e| Need::Experiment(e.clone(), Read))
            .collect(),
        SearchLoggedModels { req } => req
            .experiment_ids
            .iter()
            .map(|e| Need::Experiment(e.clone(), Read))
            .collect(),
        CreateLoggedModel { new } => exp(&new.experiment_id, Edit),
        GetLoggedModel { model_id } | ListLoggedModelArtifacts { model_id } => lm(model_id, Read),
        FinalizeLoggedModel { model_id, .. }
        | SetLoggedModelTags { model_id, .. }
        | DeleteLoggedModelTag { model_id, .. }
        | LogLoggedModelParams { model_id, .. }
        | LogLoggedModelMetrics { model_id, .. }
        | RecordLoggedModelArtifact { model_id, .. } => lm(model_id, Edit),
        DeleteLoggedModel { model_id } | DeleteLoggedModelArtifact { model_id, .. } => {
            lm(model_id, Manage)
        }
        LogOutputs { run_id, outputs } => {
            let mut n = run(run_id, Edit);
            n.extend(outputs.iter().map(|(m, _)| Need::LoggedModel(m.clone(), Read)));
            n
        }
        // Trial numbers of a study (`study:<experiment id>`); other counters are the store's.
        NextSequence { name } => match name.strip_prefix("study:") {
            Some(id) => exp(id, Edit),
            None => vec![Need::Admin],
        },
        PurgeDeletedRuns { .. } | PurgeDeletedLoggedModels { .. } | ReferencedBlobs => {
            vec![Need::Admin]
        }
        GetRegisteredModel { name }
        | GetModelVersion { name, .. }
        | GetModelVersionBySemver { name, .. }
        | GetModelVersionByAlias { name, .. }
        | ListModelVersions { name }
        | AuditLog { name } => model(name, Read),
        SetRegisteredModelTag { name, .. }
        | DeleteRegisteredModelTag { name, .. }
        | UpdateRegisteredModelDescription { name, .. }
        | UpdateModelVersionDescription { name, .. }
        | SetModelVersionTag { name, .. }
        | DeleteModelVersionTag { name, .. }
        | SetAlias { name, .. } => model(name, Edit),
        TransitionStage { transition } | TransitionStageByPath { transition } => {
            model(&transition.name, Edit)
        }
        AppendEvent { event } => model(&event.name, Edit),
        CreateModelVersion { version } => {
            let mut n = model(&version.name, Edit);
            if !version.run_id.is_empty() {
                n.push(Need::Run(version.run_id.clone(), Read));
            }
            if !version.model_id.is_empty() {
                n.push(Need::LoggedModel(version.model_id.clone(), Read));
            }
            n
        }
        DeleteRegisteredModel { name, .. }
        | RenameRegisteredModel { name, .. }
        | DeleteAlias { name, .. }
        | DeleteModelVersion { name, .. } => model(name, Manage),
        VersionsReferencingRun { run_id } => run(run_id, Read),
    }
}

/// Puts the authenticated caller's name wherever a call names who acts.
fn act_as(call: &mut Call, user: &str) {
    use Call::*;
    match call {
        CreateRun { new } => new.user_id = Some(user.to_string()),
        CreateRegisteredModel { user: u, .. }
        | DeleteRegisteredModel { user: u, .. }
        | RenameRegisteredModel { user: u, .. }
        | SetAlias { user: u, .. }
        | DeleteAlias { user: u, .. }
        | DeleteModelVersion { user: u, .. } => *u = user.to_string(),
        CreateModelVersion { version } => version.user = Some(user.to_string()),
        TransitionStage { transition } | TransitionStageByPath { transition } => {
            transition.user = user.to_string()
        }
        AppendEvent { event } => event.user = user.to_string(),
        _ => {}
    }
}

/// Derives a new version's run, logged model and storage location from its source, as
/// `model-versions/create` does; without a source, the store derives them from the run.
fn resolve_version(st: &dyn Backend, call: &mut Call) -> Result<(), ApiError> {
    if let Call::CreateModelVersion { version } = call {
        version.storage_location = None;
        if let Some(source) = version.source.clone() {
            let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
            let (run, model) = (given(&version.run_id), given(&version.model_id));
            let r = crate::registry::resolve_source(st, &source, run.as_deref(), model.as_deref())?;
            version.run_id = r.run_id;
            version.model_id = r.model_id;
            version.storage_location = Some(r.storage);
        }
    }
    Ok(())
}

/// Keeps the elements of a listing whose `field` names a readable resource.
fn keep_readable(result: &mut Value, field: &str, readable: &std::collections::HashSet<String>) {
    if let Some(items) = result.as_array_mut() {
        items.retain(|v| v[field].as_str().is_some_and(|k| readable.contains(k)));
    }
}

/// `POST /api/2.0/hone/call`.
pub async fn call(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    let mut call: Call = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return failure(TrackError::Invalid(format!(
                "not a store call hone understands: {e}"
            )));
        }
    };
    let auth = state.auth.clone();
    let checked = auth.as_ref().filter(|_| !caller.admin);
    if auth.is_some() {
        act_as(&mut call, &caller.user);
    }
    if let Some(auth) = checked
        && let Err(e) = require_all(&state, auth, &caller, needs(&call)).await
    {
        return e.into_response();
    }
    // Whether an experiment asked for by name existed: using one is writing to it, and
    // creating one grants its creator MANAGE.
    let mut existed = true;
    if let (Some(auth), Call::GetOrCreateExperiment { name }) = (&auth, &call) {
        let name = name.clone();
        let found = blocking(&state, "call.experiment", move |st| {
            Ok(st.get_experiment_by_name(&name)?)
        })
        .await;
        match found {
            Ok(Some(e)) if !caller.admin => {
                let need = vec![Need::Experiment(e.experiment_id, Level::Edit)];
                if let Err(e) = require_all(&state, auth, &caller, need).await {
                    return e.into_response();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => existed = false,
            Err(e) => return e.into_response(),
        }
    }
    // Decided before the call moves into the store (a batch of points is never copied).
    let next = auth
        .as_ref()
        .and_then(|_| follow_up(&call, existed, checked.is_some()));
    let outcome = blocking(&state, "call", move |st| {
        Ok(match resolve_version(st, &mut call) {
            Ok(()) => dispatch(st, call),
            Err(api) => Err(TrackError::Invalid(api.message)),
        })
    })
    .await;
    let mut result = match outcome {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return failure(e),
        Err(api) => return api.into_response(),
    };
    if let Some(next) = next
        && let Err(e) = after(&state, &caller, next, &mut result).await
    {
        return e.into_response();
    }
    Json(json!({ "result": result })).into_response()
}

/// What a successful call still does with authentication on: grants to creators,
/// permissions that follow a renamed or deleted model, listings filtered to what the caller
/// can read.
enum FollowUp {
    /// MANAGE on the experiment whose id the call answered.
    GrantExperiment,
    /// MANAGE on the registered model created.
    GrantModel(String),
    /// The grants on a model follow it to its new name.
    RenameModel(String, String),
    /// The grants on a deleted model go with it.
    ForgetModel(String),
    /// READ on the experiment the call answered, if any.
    ReadAnswered,
    /// Only the listed items (by their field) the caller can read.
    KeepReadable(ResourceKind, &'static str),
}

/// The follow-up of a call (`existed`: whether the experiment of a get-or-create was there;
/// `filtered`: whether the caller's reads are limited, i.e. not an administrator).
fn follow_up(call: &Call, existed: bool, filtered: bool) -> Option<FollowUp> {
    use Call::*;
    Some(match call {
        CreateExperiment { .. } => FollowUp::GrantExperiment,
        GetOrCreateExperiment { .. } if !existed => FollowUp::GrantExperiment,
        CreateRegisteredModel { name, .. } => FollowUp::GrantModel(name.clone()),
        RenameRegisteredModel { name, new_name, .. } => {
            FollowUp::RenameModel(name.clone(), new_name.clone())
        }
        DeleteRegisteredModel { name, .. } => FollowUp::ForgetModel(name.clone()),
        GetExperimentByName { .. } if filtered => FollowUp::ReadAnswered,
        ListExperiments { .. } if filtered => {
            FollowUp::KeepReadable(ResourceKind::Experiment, "experiment_id")
        }
        ListRegisteredModels { .. } | AllModelVersions | VersionsReferencingRun { .. }
            if filtered =>
        {
            FollowUp::KeepReadable(ResourceKind::RegisteredModel, "name")
        }
        _ => return None,
    })
}

/// Carries out a follow-up on a call's answer.
async fn after(
    state: &AppState,
    caller: &Caller,
    next: FollowUp,
    result: &mut Value,
) -> Result<(), ApiError> {
    let auth = state.auth.clone().ok_or_else(ApiError::internal)?;
    match next {
        FollowUp::GrantExperiment => {
            if let Some(id) = result.as_str() {
                grant_creator(state, caller, ResourceKind::Experiment, id.to_string()).await?;
            }
        }
        FollowUp::GrantModel(name) => {
            grant_creator(state, caller, ResourceKind::RegisteredModel, name).await?;
        }
        FollowUp::RenameModel(old, new) => {
            blocking(state, "auth.rename", move |st| {
                Ok(st.rename_permissions(ResourceKind::RegisteredModel, &old, &new)?)
            })
            .await?;
        }
        FollowUp::ForgetModel(name) => {
            blocking(state, "auth.forget", move |st| {
                Ok(st.delete_permissions_on(ResourceKind::RegisteredModel, &name)?)
            })
            .await?;
        }
        FollowUp::ReadAnswered => {
            if let Some(id) = result["experiment_id"].as_str() {
                let need = vec![Need::Experiment(id.to_string(), Level::Read)];
                require_all(state, &auth, caller, need).await?;
            }
        }
        FollowUp::KeepReadable(kind, field) => {
            if let Some(readable) = readable_set(state, &auth, caller, kind).await? {
                keep_readable(result, field, &readable);
            }
        }
    }
    Ok(())
}

/// `PUT /api/2.0/hone/blobs`: stores the body; answers its address and size.
pub async fn put_blob(State(state): State<AppState>, body: Bytes) -> Response {
    let blobs = state.blobs.clone();
    let stored = blocking(&state, "blob.put", move |_| Ok(blobs.put(&body)?)).await;
    match stored {
        Ok((sha, size)) => Json(json!({"sha256": sha, "size": size})).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The query of a blob read: who records the blob, and where.
#[derive(Debug, serde::Deserialize)]
pub struct BlobQuery {
    owner: String,
    path: String,
}

/// `GET /api/2.0/hone/blobs/{sha}?owner=&path=`: the blob, to a caller who may read its owner
/// (a run, or a logged model `m-...`), only when the owner records it at that path, and only
/// after its content matched its address.
pub async fn get_blob(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha): Path<String>,
    Query(q): Query<BlobQuery>,
) -> Response {
    let logged_model = q.owner.starts_with("m-");
    if let Some(auth) = state.auth.clone().filter(|_| !caller.admin) {
        let need = if logged_model {
            Need::LoggedModel(q.owner.clone(), Level::Read)
        } else {
            Need::Run(q.owner.clone(), Level::Read)
        };
        if let Err(e) = require_all(&state, &auth, &caller, vec![need]).await {
            return e.into_response();
        }
    }
    let blobs = state.blobs.clone();
    let read = blocking(&state, "blob.get", move |st| {
        let records = if logged_model {
            st.list_logged_model_artifacts(&q.owner)
        } else {
            st.list_artifacts(&q.owner)
        };
        let recorded = match records {
            Ok(r) => r.iter().any(|r| r.path == q.path && r.sha256 == sha),
            Err(e) => return Ok(Err(e)),
        };
        if !recorded {
            return Ok(Err(TrackError::NotFound(format!(
                "artifact {} with sha256 {} of {}",
                q.path, sha, q.owner
            ))));
        }
        Ok(blobs.get(&sha, &q.owner, &q.path))
    })
    .await;
    match read {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => failure(e),
        Err(e) => e.into_response(),
    }
}
