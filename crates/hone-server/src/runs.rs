//! `runs/*` and `metrics/get-history`: create, get, update, delete, restore, log-metric,
//! log-parameter, log-batch, set-tag, delete-tag, search, and a metric's history.
//!
//! A run created here is owned by its own lease ([`crate::leases`]), claimed right after the run
//! is created; every write to the run renews it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hone_track::store::{Batch, NewRun};
use hone_track::{Backend, Lifecycle, Metric, MetricPoint, RunStatus, SearchRequest, TrackError};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::experiments::page_offset;
use crate::leases::RunLeases;
use crate::logged_models::{log_model_metrics, model_metric_of};
use crate::wire::{self, Params};
use crate::{AppState, blocking};

/// MLflow's `log-batch` limits: metrics, params, tags, and all of them together.
const MAX_BATCH_METRICS: usize = 1000;
const MAX_BATCH_PARAMS: usize = 100;
const MAX_BATCH_TAGS: usize = 100;
const MAX_BATCH_TOTAL: usize = 1000;
/// Largest page of `runs/search` (MLflow's limit).
const MAX_SEARCH: i64 = 50_000;
/// Largest page of `metrics/get-history` (what the MLflow client asks for; larger requests
/// get pages of this size, with a `next_page_token`).
const MAX_HISTORY_PAGE: usize = 25_000;

/// Writes `batch` and renews its run's lease.
fn write(st: &dyn Backend, leases: &RunLeases, batch: Batch) -> Result<(), ApiError> {
    st.log_batches(std::slice::from_ref(&batch))?;
    leases.renew(st, &batch.run_id)?;
    Ok(())
}

/// Every logged model the metrics name must exist before anything is written, so that a
/// request naming an unknown model changes nothing.
fn check_models(
    st: &dyn Backend,
    on_model: &[(String, hone_track::LoggedModelMetric)],
) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for (id, _) in on_model {
        if seen.insert(id.as_str()) {
            st.get_logged_model(id)?;
        }
    }
    Ok(())
}

/// Writes one request's batch (as [`write`]) on the store, timed under `op`; answers `{}`.
async fn write_one(s: &AppState, op: &'static str, batch: Batch) -> Result<Json<Value>, ApiError> {
    let leases = Arc::clone(&s.leases);
    blocking(s, op, move |st| write(st, &leases, batch)).await?;
    Ok(empty())
}

fn empty() -> Json<Value> {
    Json(json!({}))
}

/// `POST runs/create {experiment_id, user_id, run_name, start_time, tags}` → `{run}`.
/// The tag `mlflow.parentRunId` makes a nested run; `mlflow.runName` names it when
/// `run_name` is absent. The store sets the start time. Experiment `"0"` is
/// [`DEFAULT_EXPERIMENT`] unless the store has an experiment `"0"`.
pub async fn create(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let experiment_id = p.req_str("experiment_id")?;
    let mut name = p.opt_str("run_name")?;
    let user_id = p.opt_str("user_id")?;
    p.opt_i64("start_time")?;
    let mut parent_run_id = None;
    let mut tags = Vec::new();
    for (k, v) in p.key_values("tags")? {
        match k.as_str() {
            // The store writes both tags itself, from these fields.
            "mlflow.parentRunId" => parent_run_id = Some(v).filter(|v| !v.is_empty()),
            "mlflow.runName" => {
                if name.is_none() && !v.is_empty() {
                    name = Some(v);
                }
            }
            _ => tags.push((k, v)),
        }
    }
    let leases = Arc::clone(&s.leases);
    let run = blocking(&s, "runs.create", move |st| {
        let experiment_id = resolve_experiment(st, experiment_id)?;
        let info = st.create_run(NewRun {
            experiment_id,
            name,
            parent_run_id,
            user_id,
            tags,
            status: Some(RunStatus::Scheduled),
            owner: None,
        })?;
        let lease = leases.lease(&info.run_id);
        st.claim_run(
            &info.run_id,
            RunStatus::Scheduled,
            RunStatus::Running,
            Some(&lease),
        )?;
        leases.note_renewed(&info.run_id);
        Ok(st.get_run(&info.run_id)?)
    })
    .await?;
    // A new run has no inputs or outputs yet.
    Ok(Json(json!({ "run": wire::run(&run) })))
}

/// MLflow's default experiment: the client creates runs in experiment `"0"` when none was
/// set. hone's store numbers experiments from 1, so `"0"`, when there is no such experiment,
/// stands for the experiment named `Default` (created on first use).
pub const DEFAULT_EXPERIMENT: &str = "Default";

pub(crate) fn resolve_experiment(st: &dyn Backend, id: String) -> Result<String, ApiError> {
    if id != "0" {
        return Ok(id);
    }
    match st.get_experiment(&id) {
        Ok(_) => return Ok(id),
        Err(TrackError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(e) = st.get_experiment_by_name(DEFAULT_EXPERIMENT)? {
        return Ok(e.experiment_id);
    }
    match st.create_experiment(DEFAULT_EXPERIMENT, &[]) {
        Ok(id) => Ok(id),
        // Another request created it first.
        Err(e) => match st.get_experiment_by_name(DEFAULT_EXPERIMENT)? {
            Some(found) => Ok(found.experiment_id),
            None => Err(e.into()),
        },
    }
}

/// `GET runs/get?run_id=` (or `run_uuid`) → `{run}`; a deleted run is still returned.
pub async fn get(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.run_id()?;
    let encoded = blocking(&s, "runs.get", move |st| {
        let run = st.get_run(&id)?;
        let inputs = st.run_inputs(&id)?;
        let outputs = st.run_outputs(std::slice::from_ref(&id))?;
        Ok(wire::run_with(&run, &inputs, &outputs))
    })
    .await?;
    Ok(Json(json!({ "run": encoded })))
}

/// `POST runs/update {run_id, status, end_time, run_name}` → `{run_info}`. A final status
/// ends the run (the store sets the end time); a new `run_name` renames it (with its
/// `mlflow.runName` tag).
pub async fn update(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.run_id()?;
    let status = p
        .opt_str("status")?
        .map(|s| RunStatus::parse(&s))
        .transpose()?;
    let new_name = p.opt_str("run_name")?;
    p.opt_i64("end_time")?;
    let leases = Arc::clone(&s.leases);
    let info = blocking(&s, "runs.update", move |st| {
        let run = st.get_run(&id)?;
        if let Some(name) = new_name
            && !name.is_empty()
            && name != run.info.run_name
        {
            st.rename_run(&id, &name)?;
        }
        match status {
            Some(s @ (RunStatus::Finished | RunStatus::Failed | RunStatus::Killed)) => {
                st.end_run(&id, s)?;
            }
            Some(RunStatus::Running) if run.info.status == RunStatus::Scheduled => {
                st.claim_run(
                    &id,
                    RunStatus::Scheduled,
                    RunStatus::Running,
                    Some(&leases.lease(&id)),
                )?;
                leases.note_renewed(&id);
            }
            _ => {
                leases.renew(st, &id)?;
            }
        }
        Ok(st.get_run(&id)?.info)
    })
    .await?;
    Ok(Json(json!({ "run_info": wire::run_info(&info) })))
}

async fn set_lifecycle(
    s: AppState,
    p: Params,
    lifecycle: Lifecycle,
) -> Result<Json<Value>, ApiError> {
    let id = p.run_id()?;
    blocking(&s, "runs.set_lifecycle", move |st| {
        Ok(st.set_run_lifecycle(&id, lifecycle)?)
    })
    .await?;
    Ok(empty())
}

/// `POST runs/delete {run_id}` → `{}` (soft delete).
pub async fn delete(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    set_lifecycle(s, p, Lifecycle::Deleted).await
}

/// `POST runs/restore {run_id}` → `{}`.
pub async fn restore(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    set_lifecycle(s, p, Lifecycle::Active).await
}

/// A `Metric` message of a request.
fn metric_of(m: &Params) -> Result<Metric, ApiError> {
    Ok(Metric {
        key: m.req_str("key")?,
        point: MetricPoint {
            value: m.req_f64("value")?,
            timestamp: m.req_i64("timestamp")?,
            step: m.opt_i64("step")?.unwrap_or(0),
        },
    })
}

/// `POST runs/log-metric {run_id, key, value, timestamp, step, model_id, dataset_name,
/// dataset_digest}` → `{}`. A metric naming a logged model is recorded on that model too.
pub async fn log_metric(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let metric = metric_of(&p)?;
    let leases = Arc::clone(&s.leases);
    let on_model: Vec<_> = model_metric_of(&p, &run_id, &metric)?.into_iter().collect();
    blocking(&s, "runs.log_metric", move |st| {
        check_models(st, &on_model)?;
        write(
            st,
            &leases,
            Batch {
                run_id,
                metrics: vec![metric],
                ..Default::default()
            },
        )?;
        log_model_metrics(st, &on_model)
    })
    .await?;
    Ok(empty())
}

/// `POST runs/log-parameter {run_id, key, value}` → `{}` (the same value again is accepted,
/// another value is refused).
pub async fn log_param(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let param = (p.req_str("key")?, p.opt_str("value")?.unwrap_or_default());
    write_one(
        &s,
        "runs.log_param",
        Batch {
            run_id,
            params: vec![param],
            ..Default::default()
        },
    )
    .await
}

/// `POST runs/set-tag {run_id, key, value}` → `{}`.
pub async fn set_tag(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let tag = (p.req_str("key")?, p.opt_str("value")?.unwrap_or_default());
    write_one(
        &s,
        "runs.set_tag",
        Batch {
            run_id,
            tags: vec![tag],
            ..Default::default()
        },
    )
    .await
}

/// `POST runs/delete-tag {run_id, key}` → `{}`; a key the run does not have is 404.
pub async fn delete_tag(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let key = p.req_str("key")?;
    let leases = Arc::clone(&s.leases);
    blocking(&s, "runs.delete_tag", move |st| {
        st.delete_tag(&run_id, &key)?;
        leases.renew(st, &run_id)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}

/// `POST runs/log-batch {run_id, metrics, params, tags}` → `{}`, within MLflow's limits
/// (1000 metrics, 100 params, 100 tags, 1000 in all; no param key twice).
pub async fn log_batch(State(s): State<AppState>, mut p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let messages = p.take_messages("metrics")?;
    let mut metrics = Vec::with_capacity(messages.len());
    let mut on_model = Vec::new();
    for m in messages {
        let metric = metric_of(&m)?;
        on_model.extend(model_metric_of(&m, &run_id, &metric)?);
        metrics.push(metric);
    }
    let params = p.key_values("params")?;
    let tags = p.key_values("tags")?;
    let too_many = |what: &str, n: usize, max: usize| {
        ApiError::invalid(format!(
            "A batch logging request can contain at most {max} {what}. Got {n} {what}."
        ))
    };
    if metrics.len() > MAX_BATCH_METRICS {
        return Err(too_many("metrics", metrics.len(), MAX_BATCH_METRICS));
    }
    if params.len() > MAX_BATCH_PARAMS {
        return Err(too_many("params", params.len(), MAX_BATCH_PARAMS));
    }
    if tags.len() > MAX_BATCH_TAGS {
        return Err(too_many("tags", tags.len(), MAX_BATCH_TAGS));
    }
    let total = metrics.len() + params.len() + tags.len();
    if total > MAX_BATCH_TOTAL {
        return Err(too_many(
            "metrics, params and tags in all",
            total,
            MAX_BATCH_TOTAL,
        ));
    }
    let mut seen = HashSet::new();
    if let Some((dup, _)) = params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(ApiError::invalid(format!(
            "Duplicate parameter keys have been submitted: {:?}",
            hone_track::printable(dup)
        )));
    }
    let leases = Arc::clone(&s.leases);
    blocking(&s, "runs.log_batch", move |st| {
        check_models(st, &on_model)?;
        write(
            st,
            &leases,
            Batch {
                run_id,
                metrics,
                params,
                tags,
            },
        )?;
        log_model_metrics(st, &on_model)
    })
    .await?;
    Ok(empty())
}

/// `POST runs/search {experiment_ids, filter, run_view_type, max_results, order_by,
/// page_token}` → `{runs, next_page_token}`, with MLflow's filter grammar (hone-track's).
pub async fn search(State(s): State<AppState>, p: Params) -> Result<Response, ApiError> {
    let experiment_ids = p.str_list("experiment_ids")?;
    let max = p.opt_i64("max_results")?.unwrap_or(1000);
    if !(1..=MAX_SEARCH).contains(&max) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied: it must be between 1 \
             and {MAX_SEARCH}"
        )));
    }
    let request = SearchRequest {
        experiment_ids,
        filter: p.opt_str("filter")?.unwrap_or_default(),
        order_by: p.str_list("order_by")?,
        max_results: usize::try_from(max).unwrap_or(1000),
        page_token: p.opt_str("page_token")?,
        view: p.view_type("run_view_type")?,
    };
    if request.experiment_ids.is_empty() {
        return Ok(empty().into_response());
    }
    // The page is serialized on the blocking pool, straight from the store's runs (no
    // `Value` tree: pages hold up to 50,000 runs).
    let body = blocking(&s, "runs.search", move |st| {
        let (runs, next) = st.search_runs(&request)?;
        let ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
        let outputs = st.run_outputs(&ids)?;
        let mut outputs_of: HashMap<&str, Vec<&hone_track::RunOutput>> = HashMap::new();
        for o in &outputs {
            outputs_of.entry(o.run_id.as_str()).or_default().push(o);
        }
        // One read for the page's inputs, grouped by run.
        let mut inputs: HashMap<String, Vec<hone_track::DatasetInput>> = HashMap::new();
        for (run_id, d) in st.inputs_of_runs(&ids)? {
            inputs.entry(run_id).or_default().push(d);
        }
        let page: Vec<wire::RunJson<'_>> = runs
            .iter()
            .map(|r| wire::RunJson {
                run: r,
                inputs: inputs.get(&r.info.run_id).map_or(&[][..], Vec::as_slice),
                outputs: outputs_of
                    .get(r.info.run_id.as_str())
                    .map_or(&[][..], Vec::as_slice),
            })
            .collect();
        let mut body = Vec::with_capacity(512 * page.len() + 64);
        body.extend_from_slice(b"{");
        if !page.is_empty() {
            body.extend_from_slice(b"\"runs\":");
            serde_json::to_writer(&mut body, &page).map_err(|e| {
                tracing::error!(error = %e, "encoding a runs/search page failed");
                ApiError::internal()
            })?;
        }
        if let Some(token) = next {
            if !page.is_empty() {
                body.extend_from_slice(b",");
            }
            body.extend_from_slice(b"\"next_page_token\":");
            body.extend_from_slice(json!(token).to_string().as_bytes());
        }
        body.extend_from_slice(b"}");
        Ok(body)
    })
    .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// `GET metrics/get-history?run_id=&metric_key=&max_results=&page_token=` →
/// `{metrics, next_page_token}`, by step then time. As in MLflow, an unknown run or key
/// gives an empty list. Pages hold at most 25,000 points.
pub async fn history(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let key = p.req_str("metric_key")?;
    let page = match p.opt_i64("max_results")? {
        None => MAX_HISTORY_PAGE,
        Some(n) if n >= 1 => usize::try_from(n)
            .unwrap_or(MAX_HISTORY_PAGE)
            .min(MAX_HISTORY_PAGE),
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "Invalid value {n} for parameter 'max_results': it must be positive"
            )));
        }
    };
    let offset = page_offset(p.opt_str("page_token")?.as_deref())?;
    let (points, key) = blocking(&s, "runs.history", move |st| {
        match st.metric_history(&run_id, &key) {
            Ok(points) => Ok((points, key)),
            Err(TrackError::NotFound(_)) => Ok((Vec::new(), key)),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let mut out = Map::new();
    let slice: Vec<Value> = points
        .iter()
        .skip(offset)
        .take(page)
        .map(|pt| {
            wire::metric(&Metric {
                key: key.clone(),
                point: *pt,
            })
        })
        .collect();
    let next = offset.saturating_add(slice.len());
    if !slice.is_empty() {
        out.insert("metrics".into(), Value::Array(slice));
    }
    if next < points.len() {
        out.insert("next_page_token".into(), json!(next.to_string()));
    }
    Ok(Json(Value::Object(out)))
}
