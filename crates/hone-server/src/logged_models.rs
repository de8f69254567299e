//! MLflow 3 logged models (`logged-models/*`), run outputs (`runs/outputs`) and run inputs
//! (`runs/log-inputs`).
//!
//! Every `mlflow.<flavor>.log_model` of the 3.x client creates a logged model
//! (`POST logged-models`), links it to the run (`POST runs/outputs`), uploads its files to
//! `mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts/...` (served by
//! [`artifacts`](crate::artifacts)) and finalises it (`PATCH logged-models/{id}`). Each
//! handler is one or two [`Store`](hone_track::Store) calls; ids in paths are checked before
//! the store sees them (an id that is not `m-` + 32 hex cannot exist: 404, as for an unknown
//! one).

use axum::Json;
use axum::extract::{Path, State};
use hone_track::store::LoggedModelSearch;
use hone_track::{DatasetInput, LoggedModel, LoggedModelMetric, LoggedModelStatus, NewLoggedModel};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::runs::resolve_experiment;
use crate::wire::{self, Params};
use crate::{AppState, blocking};

/// Default page of `logged-models/search` (MLflow's proto default).
const DEFAULT_SEARCH_PAGE: i64 = 50;
/// Largest page of `logged-models/search`.
const MAX_SEARCH_PAGE: i64 = hone_track::store::MAX_LOGGED_MODEL_PAGE as i64;
/// MLflow's limits on `log-inputs` (spec §3).
const MAX_DATASETS: usize = 1000;
const MAX_DATASET_NAME: usize = 500;
const MAX_DATASET_DIGEST: usize = 36;
const MAX_DATASET_SOURCE: usize = 65_535;
const MAX_DATASET_SCHEMA: usize = 1024 * 1024;
const MAX_DATASET_PROFILE: usize = 16 * 1024 * 1024;
const MAX_INPUT_TAG_KEY: usize = 255;
const MAX_INPUT_TAG_VALUE: usize = 500;
/// The input tag that carries a dataset's role in the run (`training`, `eval`...).
pub const CONTEXT_TAG: &str = "mlflow.data.context";

/// Whether `id` has the shape of a logged model id: `m-` and 32 lowercase hex digits.
pub fn is_model_id(id: &str) -> bool {
    id.strip_prefix("m-").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The id of a path, or 404 naming it (printable) when it cannot be a logged model's.
pub fn model_id(id: &str) -> Result<String, ApiError> {
    if is_model_id(id) {
        Ok(id.to_string())
    } else {
        Err(ApiError::not_found(format!(
            "logged model {} not found",
            hone_track::printable(id)
        )))
    }
}

/// A logged model's artifact root: `mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts`.
pub fn artifact_uri(m: &LoggedModel) -> String {
    format!(
        "{}/models/{}/artifacts",
        wire::experiment_artifact_location(&m.experiment_id),
        m.model_id
    )
}

/// MLflow's `LoggedModel` message: `{info, data{params, metrics}}`.
pub fn encode(m: &LoggedModel) -> Value {
    let mut info = Map::new();
    info.insert("model_id".into(), json!(m.model_id));
    info.insert("experiment_id".into(), json!(m.experiment_id));
    info.insert("name".into(), json!(m.name));
    info.insert("creation_timestamp_ms".into(), json!(m.creation_time));
    info.insert(
        "last_updated_timestamp_ms".into(),
        json!(m.last_update_time),
    );
    info.insert("artifact_uri".into(), json!(artifact_uri(m)));
    info.insert("status".into(), json!(m.status.as_str()));
    if let Some(t) = &m.model_type {
        info.insert("model_type".into(), json!(t));
    }
    if let Some(r) = &m.source_run_id {
        info.insert("source_run_id".into(), json!(r));
    }
    if !m.tags.is_empty() {
        info.insert("tags".into(), wire::key_values(&m.tags));
    }
    let mut data = Map::new();
    if !m.params.is_empty() {
        data.insert("params".into(), wire::key_values(&m.params));
    }
    if !m.metrics.is_empty() {
        let metrics: Vec<Value> = m
            .metrics
            .iter()
            .map(|x| {
                let mut o = Map::new();
                o.insert("key".into(), json!(x.key));
                o.insert("value".into(), wire::double(x.point.value));
                o.insert("timestamp".into(), json!(x.point.timestamp));
                o.insert("step".into(), json!(x.point.step));
                o.insert("model_id".into(), json!(m.model_id));
                for (field, v) in [
                    ("run_id", &x.run_id),
                    ("dataset_name", &x.dataset_name),
                    ("dataset_digest", &x.dataset_digest),
                ] {
                    if let Some(v) = v {
                        o.insert(field.into(), json!(v));
                    }
                }
                Value::Object(o)
            })
            .collect();
        data.insert("metrics".into(), Value::Array(metrics));
    }
    json!({"info": info, "data": data})
}

fn model_response(m: &LoggedModel) -> Json<Value> {
    Json(json!({ "model": encode(m) }))
}

/// `POST logged-models {experiment_id, name, model_type, source_run_id, params, tags}` →
/// `{model}` (status `LOGGED_MODEL_PENDING`). Experiment `"0"` is the default experiment,
/// as for runs.
pub async fn create(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.opt_str("name")?;
    let model_type = p.opt_str("model_type")?;
    let source_run_id = p.opt_str("source_run_id")?;
    let params = p.key_values("params")?;
    let tags = p.key_values("tags")?;
    let model = blocking(&s, "logged_models.create", move |st| {
        let experiment_id = resolve_experiment(st, experiment_id)?;
        Ok(st.create_logged_model(NewLoggedModel {
            experiment_id,
            name,
            model_type,
            source_run_id,
            tags,
            params,
        })?)
    })
    .await?;
    Ok(model_response(&model))
}

/// `GET logged-models/{model_id}` → `{model}`; unknown or deleted: 404.
pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    let model = blocking(&s, "logged_models.get", move |st| {
        Ok(st.get_logged_model(&id)?)
    })
    .await?;
    Ok(model_response(&model))
}

/// A `LoggedModelStatus` field: its name or its protobuf number.
fn status_of(p: &Params, field: &str) -> Result<LoggedModelStatus, ApiError> {
    let text = match p.raw(field) {
        None | Some(Value::Null) => return Err(ApiError::missing(field)),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
    };
    let name = match text.as_str() {
        "1" => "LOGGED_MODEL_PENDING",
        "2" => "LOGGED_MODEL_READY",
        "3" => "LOGGED_MODEL_UPLOAD_FAILED",
        other => other,
    };
    LoggedModelStatus::parse(name).map_err(|_| {
        ApiError::invalid(format!(
            "Invalid value for parameter '{field}': {:?} (LOGGED_MODEL_READY, \
             LOGGED_MODEL_UPLOAD_FAILED)",
            hone_track::printable(&text)
        ))
    })
}

/// The body's `model_id`, when given, must be the path's.
fn same_id(p: &Params, id: &str) -> Result<(), ApiError> {
    match p.opt_str("model_id")? {
        Some(body) if body != id => Err(ApiError::invalid(format!(
            "model_id {:?} in the body does not match the path's {id}",
            hone_track::printable(&body)
        ))),
        _ => Ok(()),
    }
}

/// `PATCH logged-models/{model_id} {model_id, status}` → `{model}`: finalises the model as
/// `LOGGED_MODEL_READY` or `LOGGED_MODEL_UPLOAD_FAILED` (a replay is harmless).
pub async fn finalize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    same_id(&p, &id)?;
    let status = status_of(&p, "status")?;
    let model = blocking(&s, "logged_models.finalize", move |st| {
        Ok(st.finalize_logged_model(&id, status)?)
    })
    .await?;
    Ok(model_response(&model))
}

/// `DELETE logged-models/{model_id}` → `{}` (soft delete: it disappears from get and search;
/// its files stay until it is purged).
pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    // Read (and ignored): the client sends a body with DELETE, and answering before it is
    // read would close the kept-alive connection.
    _body: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    blocking(&s, "logged_models.delete", move |st| {
        Ok(st.delete_logged_model(&id)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `PATCH logged-models/{model_id}/tags {tags}` → `{model}`.
pub async fn set_tags(
    State(s): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    same_id(&p, &id)?;
    let tags = p.key_values("tags")?;
    let model = blocking(&s, "logged_models.set_tags", move |st| {
        st.set_logged_model_tags(&id, &tags)?;
        Ok(st.get_logged_model(&id)?)
    })
    .await?;
    Ok(model_response(&model))
}

/// `DELETE logged-models/{model_id}/tags/{tag_key}` → `{}`; a tag the model does not have
/// is 404.
pub async fn delete_tag(
    State(s): State<AppState>,
    Path((id, key)): Path<(String, String)>,
    _body: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    blocking(&s, "logged_models.delete_tag", move |st| {
        Ok(st.delete_logged_model_tag(&id, &key)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST logged-models/{model_id}/params {params}` → `{}` (a param cannot change value).
pub async fn log_params(
    State(s): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    same_id(&p, &id)?;
    let params = p.key_values("params")?;
    blocking(&s, "logged_models.log_params", move |st| {
        Ok(st.log_logged_model_params(&id, &params)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST logged-models/search {experiment_ids, filter, max_results, order_by[{field_name,
/// ascending}], page_token}` → `{models, next_page_token}`. The client calls it with
/// `name = '<x>'` on every `runs:/` artifact read and in `register_model`.
pub async fn search(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let experiment_ids = p.str_list("experiment_ids")?;
    let max = p.opt_i64("max_results")?.unwrap_or(DEFAULT_SEARCH_PAGE);
    if !(1..=MAX_SEARCH_PAGE).contains(&max) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied: it must be between 1 \
             and {MAX_SEARCH_PAGE}"
        )));
    }
    if !p.messages("datasets")?.is_empty() {
        return Err(ApiError::invalid(
            "Invalid value for parameter 'datasets': filtering logged models by dataset is not \
             supported by this server",
        ));
    }
    let mut order_by = Vec::new();
    for o in p.messages("order_by")? {
        let field = o.req_str("field_name")?;
        let ascending = o.opt_bool("ascending")?.unwrap_or(true);
        if o.opt_str("dataset_name")?.is_some() || o.opt_str("dataset_digest")?.is_some() {
            return Err(ApiError::invalid(
                "Invalid value for parameter 'order_by': ordering by a dataset's metrics is not \
                 supported by this server",
            ));
        }
        order_by.push((field, ascending));
    }
    let request = LoggedModelSearch {
        experiment_ids,
        filter: p.opt_str("filter")?.unwrap_or_default(),
        order_by,
        max_results: usize::try_from(max).unwrap_or(50),
        page_token: p.opt_str("page_token")?,
    };
    let (models, next) = blocking(&s, "logged_models.search", move |st| {
        Ok(st.search_logged_models(&request)?)
    })
    .await?;
    let mut out = Map::new();
    // An empty page is `{}` (protobuf's JSON omits empty lists; the client reads it as none).
    if !models.is_empty() {
        out.insert(
            "models".into(),
            Value::Array(models.iter().map(encode).collect()),
        );
    }
    if let Some(token) = next {
        out.insert("next_page_token".into(), json!(token));
    }
    Ok(Json(Value::Object(out)))
}

/// `GET logged-models/{model_id}/artifacts/directories?artifact_directory_path=` →
/// `{root_uri, files[{path, is_dir, file_size}]}`: the entries directly under that
/// directory (the root when absent), `path` relative to the model's artifact root.
pub async fn list_artifacts(
    State(s): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let id = model_id(&id)?;
    let dir = match p.opt_str("artifact_directory_path")? {
        None => String::new(),
        Some(raw) => {
            let decoded = crate::artifacts::decode_path(&raw)?;
            let trimmed = decoded.trim_end_matches('/').to_string();
            crate::artifacts::check_path(&trimmed, true)?;
            trimmed
        }
    };
    p.opt_str("page_token")?;
    let (model, records) = blocking(&s, "logged_models.list_artifacts", move |st| {
        let model = st.get_logged_model(&id)?;
        let records = st.list_logged_model_artifacts(&id)?;
        Ok((model, records))
    })
    .await?;
    let files: Vec<Value> = crate::artifacts::entries(&records, &dir)
        .into_iter()
        .map(|(name, size)| {
            let path = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            match size {
                Some(n) => json!({"path": path, "is_dir": false, "file_size": n}),
                None => json!({"path": path, "is_dir": true}),
            }
        })
        .collect();
    let mut out = Map::new();
    out.insert("root_uri".into(), json!(artifact_uri(&model)));
    if !files.is_empty() {
        out.insert("files".into(), Value::Array(files));
    }
    Ok(Json(Value::Object(out)))
}

/// `POST runs/outputs {run_id, models[{model_id, step}]}` → `{}`: the logged models the run
/// produced. Every model must exist; nothing is written otherwise.
pub async fn log_outputs(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let mut outputs = Vec::new();
    for m in p.messages("models")? {
        let id = model_id(&m.req_str("model_id")?)?;
        outputs.push((id, m.opt_i64("step")?.unwrap_or(0)));
    }
    let leases = std::sync::Arc::clone(&s.leases);
    blocking(&s, "runs.log_outputs", move |st| {
        st.log_outputs(&run_id, &outputs)?;
        leases.renew(st, &run_id)?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

/// Checks a `log-inputs` string against its limit.
fn limited(value: String, field: &str, max: usize) -> Result<String, ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(format!(
            "Invalid value for parameter '{field}': longer than {max} characters"
        )));
    }
    Ok(value)
}

/// The number of rows a profile (`{"num_rows": N, ...}`) states, or 0.
fn rows_of(profile: &str) -> i64 {
    serde_json::from_str::<Value>(profile)
        .ok()
        .and_then(|v| v.get("num_rows").and_then(Value::as_i64))
        .unwrap_or(0)
}

/// `POST runs/log-inputs {run_id, datasets[{dataset{name, digest, source_type, source,
/// schema, profile}, tags[{key, value}]}], models[{model_id}]}` → `{}`, within MLflow's
/// limits (1000 datasets; name 500, digest 36, source 65535, schema 1 MiB, profile 16 MiB;
/// input tag key 255, value 500). The `mlflow.data.context` tag is the dataset's context.
/// Model inputs must name existing logged models (hone records only dataset inputs).
pub async fn log_inputs(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let run_id = p.run_id()?;
    let entries = p.messages("datasets")?;
    if entries.len() > MAX_DATASETS {
        return Err(ApiError::invalid(format!(
            "Invalid value for parameter 'datasets': at most {MAX_DATASETS} datasets per \
             request, got {}",
            entries.len()
        )));
    }
    let mut datasets = Vec::with_capacity(entries.len());
    for e in &entries {
        let d = e
            .message("dataset")?
            .ok_or_else(|| ApiError::missing("dataset"))?;
        let mut context = String::new();
        for (k, v) in e.key_values("tags")? {
            limited(k.clone(), "tags.key", MAX_INPUT_TAG_KEY)?;
            let v = limited(v, "tags.value", MAX_INPUT_TAG_VALUE)?;
            if k == CONTEXT_TAG {
                context = v;
            }
        }
        let profile = limited(
            d.opt_str("profile")?.unwrap_or_default(),
            "dataset.profile",
            MAX_DATASET_PROFILE,
        )?;
        datasets.push(DatasetInput {
            name: limited(d.req_str("name")?, "dataset.name", MAX_DATASET_NAME)?,
            digest: limited(d.req_str("digest")?, "dataset.digest", MAX_DATASET_DIGEST)?,
            source_type: d.req_str("source_type")?,
            source: limited(d.req_str("source")?, "dataset.source", MAX_DATASET_SOURCE)?,
            schema: limited(
                d.opt_str("schema")?.unwrap_or_default(),
                "dataset.schema",
                MAX_DATASET_SCHEMA,
            )?,
            rows: rows_of(&profile),
            profile,
            context,
        });
    }
    let models = p
        .messages("models")?
        .iter()
        .map(|m| model_id(&m.req_str("model_id")?))
        .collect::<Result<Vec<_>, _>>()?;
    let leases = std::sync::Arc::clone(&s.leases);
    blocking(&s, "runs.log_inputs", move |st| {
        for m in &models {
            st.get_logged_model(m)?;
        }
        st.log_inputs(&run_id, &datasets)?;
        leases.renew(st, &run_id)?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({})))
}

/// The logged-model fields of a metric in `log-metric`/`log-batch`: `model_id` (checked),
/// `dataset_name`, `dataset_digest`. `None` when the metric names no model.
pub fn model_metric_of(
    m: &Params,
    run_id: &str,
    metric: &hone_track::Metric,
) -> Result<Option<(String, LoggedModelMetric)>, ApiError> {
    let Some(id) = m.opt_str("model_id")? else {
        return Ok(None);
    };
    let id = model_id(&id)?;
    Ok(Some((
        id,
        LoggedModelMetric {
            key: metric.key.clone(),
            point: metric.point,
            run_id: Some(run_id.to_string()),
            dataset_name: m.opt_str("dataset_name")?,
            dataset_digest: m.opt_str("dataset_digest")?,
        },
    )))
}

/// Records metrics that name a logged model on that model too (after the run's own write).
pub fn log_model_metrics(
    st: &dyn hone_track::Backend,
    metrics: &[(String, LoggedModelMetric)],
) -> Result<(), ApiError> {
    let mut by_model: std::collections::BTreeMap<&str, Vec<LoggedModelMetric>> = Default::default();
    for (id, m) in metrics {
        by_model.entry(id).or_default().push(m.clone());
    }
    for (id, ms) in by_model {
        st.log_logged_model_metrics(id, &ms)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_m_and_32_lowercase_hex() {
        assert!(is_model_id("m-0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "m-",
            "0123456789abcdef0123456789abcdef",
            "m-0123456789ABCDEF0123456789abcdef",
            "m-0123456789abcdef0123456789abcde",
            "m-0123456789abcdef0123456789abcdef0",
            "m-../../etc/passwd",
        ] {
            assert!(!is_model_id(bad), "{bad:?}");
        }
        assert_eq!(rows_of(r#"{"num_rows": 150, "num_elements": 600}"#), 150);
        assert_eq!(rows_of("not json"), 0);
    }
}
