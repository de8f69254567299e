//! The model registry over MLflow's REST API (`registered-models/*`, `model-versions/*`) and
//! the UI's download route `GET /model-versions/get-artifact`, over hone's
//! [`Registry`](hone_track::Registry).
//!
//! hone's rules stay in force behind MLflow's wire format:
//! - stages: MLflow's `transition-stage` may jump (`None` → `Production`); hone's matrix may
//!   not, so the store walks the shortest legal path, one audited step after another
//!   ([`Registry::transition_stage_by_path`](hone_track::Registry::transition_stage_by_path)),
//!   each step recorded with reason "MLflow transition-stage" under the [`Caller`];
//! - the `production` alias follows the Production stage: setting or deleting it is a 400;
//! - a version an alias points at is not deleted (400 naming the alias).
//!
//! A version's `source` is checked here (MLflow's CVE history, spec §8): only
//! `runs:/<run_id>[/<path>]`, `mlflow-artifacts:/<exp>/<run_id>/artifacts[/<path>]`,
//! `mlflow-artifacts:/<exp>/models/<model_id>/artifacts[/<path>]`, `models:/<model_id>` and `models:/<name>/<version>`
//! are accepted, each naming a run or logged model this store has. The storage location that
//! `get-download-uri` answers and `get-artifact` reads is derived from those records, never
//! taken from the client, and no URL a client gave is ever fetched.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hone_track::filter::{
    Clause, Entity, FieldValue, MODEL_VERSION_ORDER_KEYS, Op, REGISTERED_MODEL_ORDER_KEYS,
    matches_all, parse_model_version_filter, parse_registered_model_filter,
    parse_registry_order_by,
};
use hone_track::registry::{MAX_DESCRIPTION, MAX_REGISTRY_TAG_VALUE, run_artifact_uri};
use hone_track::{
    Backend, ModelVersion, NewModelVersion, PRODUCTION_ALIAS, RegisteredModel, Stage, TrackError,
    Transition, printable,
};
use serde_json::{Map, Value, json};

use crate::artifacts::{check_path, decode_path};
use crate::error::ApiError;
use crate::experiments::page_offset;
use crate::identity::Caller;
use crate::wire::{Params, key_values};
use crate::{AppState, blocking};

/// Largest `max_results` of `registered-models/search` (MLflow's limit); 100 by default.
const MAX_MODEL_SEARCH: i64 = 1000;
/// Largest `max_results` of `model-versions/search` (MLflow's limit and default).
const MAX_VERSION_SEARCH: i64 = 200_000;
/// Longest tag key (MLflow's limit).
const MAX_TAG_KEY: usize = 250;
/// The reason recorded on each audited step of a REST stage transition.
const TRANSITION_REASON: &str = "MLflow transition-stage";

// ---------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------

/// MLflow's `ModelVersion` message (version as a string, stage under MLflow's name, hone's
/// `Deprecated` as is, status always `READY`: registration is synchronous).
fn version_json(v: &ModelVersion) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(v.name));
    o.insert("version".into(), json!(v.version.to_string()));
    o.insert("creation_timestamp".into(), json!(v.creation_time));
    o.insert("last_updated_timestamp".into(), json!(v.last_updated_time));
    o.insert("user_id".into(), json!(v.user_id));
    o.insert("current_stage".into(), json!(v.current_stage.as_str()));
    o.insert("description".into(), json!(v.description));
    o.insert("source".into(), json!(v.source));
    o.insert("run_id".into(), json!(v.source_run_id));
    o.insert("status".into(), json!("READY"));
    o.insert("run_link".into(), json!(v.run_link));
    if !v.model_id.is_empty() {
        o.insert("model_id".into(), json!(v.model_id));
    }
    if !v.tags.is_empty() {
        o.insert("tags".into(), key_values(&v.tags));
    }
    if !v.aliases.is_empty() {
        o.insert("aliases".into(), json!(v.aliases));
    }
    Value::Object(o)
}

/// The highest version in each stage, in lifecycle order (MLflow's `latest_versions`).
fn latest_per_stage<'a>(versions: impl Iterator<Item = &'a ModelVersion>) -> Vec<&'a ModelVersion> {
    let mut best: Vec<&ModelVersion> = Vec::new();
    for v in versions {
        match best.iter_mut().find(|b| b.current_stage == v.current_stage) {
            Some(b) if b.version < v.version => *b = v,
            Some(_) => {}
            None => best.push(v),
        }
    }
    best.sort_by_key(|v| Stage::ALL.iter().position(|s| *s == v.current_stage));
    best
}

/// MLflow's `RegisteredModel` message, `versions` being the model's live versions (for
/// `latest_versions`).
fn model_json(m: &RegisteredModel, versions: &[&ModelVersion]) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(m.name));
    o.insert("creation_timestamp".into(), json!(m.creation_time));
    o.insert("last_updated_timestamp".into(), json!(m.last_updated_time));
    o.insert("user_id".into(), json!(m.user_id));
    o.insert("description".into(), json!(m.description));
    let latest = latest_per_stage(versions.iter().copied());
    if !latest.is_empty() {
        o.insert(
            "latest_versions".into(),
            Value::Array(latest.into_iter().map(version_json).collect()),
        );
    }
    if !m.tags.is_empty() {
        o.insert("tags".into(), key_values(&m.tags));
    }
    if !m.aliases.is_empty() {
        let aliases: Vec<Value> = m
            .aliases
            .iter()
            .map(|(a, v)| json!({"alias": a, "version": v.to_string()}))
            .collect();
        o.insert("aliases".into(), Value::Array(aliases));
    }
    Value::Object(o)
}

/// A model and its versions, as `registered_model`.
fn load_model_json(st: &dyn Backend, name: &str) -> Result<Value, ApiError> {
    let m = st.get_registered_model(name)?;
    let versions = st.list_model_versions(name)?;
    Ok(model_json(&m, &versions.iter().collect::<Vec<_>>()))
}

// ---------------------------------------------------------------------------------------
// Request fields
// ---------------------------------------------------------------------------------------

/// The required `version` field: a positive integer, as a string (MLflow's wire form) or a
/// number; anything else is 400.
fn version_field(p: &Params) -> Result<u32, ApiError> {
    let text = match p.opt_str("version") {
        Ok(Some(s)) => s,
        Ok(None) => return Err(ApiError::missing("version")),
        // A JSON number: take its text.
        Err(_) => p
            .opt_i64("version")?
            .ok_or_else(|| ApiError::missing("version"))?
            .to_string(),
    };
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid value for parameter 'version': {:?} is not a positive integer version \
                 number",
                printable(&text)
            ))
        })
}

/// A required boolean field: JSON `true`/`false`, or the strings `true`/`false` (query
/// strings).
fn req_bool(p: &Params, field: &str) -> Result<bool, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "Invalid value for parameter '{field}': expected true or false"
        ))
    };
    match p.list(field).as_slice() {
        [] => Err(ApiError::missing(field)),
        [Value::Bool(b)] => Ok(*b),
        [Value::String(s)] if s.eq_ignore_ascii_case("true") => Ok(true),
        [Value::String(s)] if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(bad()),
    }
}

/// An optional description, refused beyond the store's limit rather than cut.
fn description_field(p: &Params) -> Result<Option<String>, ApiError> {
    let d = p.opt_str("description")?;
    if d.as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(ApiError::invalid(format!(
            "Invalid value for parameter 'description': longer than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(d)
}

/// Checks a registry tag: key 1 to 250 characters, value at most the store's limit (a value
/// is refused, never cut).
fn check_tag(key: &str, value: &str) -> Result<(), ApiError> {
    if key.chars().count() > MAX_TAG_KEY {
        return Err(ApiError::invalid(format!(
            "Invalid value for parameter 'key': tag keys are at most {MAX_TAG_KEY} characters"
        )));
    }
    if value.chars().count() > MAX_REGISTRY_TAG_VALUE {
        return Err(ApiError::invalid(format!(
            "Invalid value for parameter 'value': tag values are at most \
             {MAX_REGISTRY_TAG_VALUE} characters"
        )));
    }
    Ok(())
}

/// The `tags` field of a create request, each checked.
fn tags_field(p: &Params) -> Result<Vec<(String, String)>, ApiError> {
    let tags = p.key_values("tags")?;
    for (k, v) in &tags {
        check_tag(k, v)?;
    }
    Ok(tags)
}

/// A stage named the MLflow way (`None`, `Staging`, `Production`, `Archived`, any case).
fn mlflow_stage(s: &str) -> Result<Stage, ApiError> {
    match s.to_ascii_lowercase().as_str() {
        "none" => Ok(Stage::Development),
        "staging" => Ok(Stage::Staging),
        "production" => Ok(Stage::Production),
        "archived" => Ok(Stage::Archived),
        _ => Err(ApiError::invalid(format!(
            "Invalid Model Version stage: {}. Value must be one of None, Staging, Production, \
             Archived.",
            printable(s)
        ))),
    }
}

/// Refuses the `production` alias: hone moves it with the Production stage.
fn check_user_alias(alias: &str) -> Result<(), ApiError> {
    if alias.eq_ignore_ascii_case(PRODUCTION_ALIAS) {
        return Err(ApiError::invalid(format!(
            "alias '{alias}' follows the Production stage: use transition-stage to move it"
        )));
    }
    hone_track::registry::validate_alias(alias)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Registered models
// ---------------------------------------------------------------------------------------

/// `POST registered-models/create {name, tags, description}` → `{registered_model}`; a
/// taken name is 400 `RESOURCE_ALREADY_EXISTS` (the client's `register_model` expects it).
pub async fn create_model(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let tags = tags_field(&p)?;
    let description = description_field(&p)?.unwrap_or_default();
    let m = blocking(&s, "registry.create_model", move |st| {
        let m = st.create_registered_model_as(&name, &description, &tags, &caller.user)?;
        Ok(model_json(&m, &[]))
    })
    .await?;
    Ok(Json(json!({ "registered_model": m })))
}

/// `GET registered-models/get?name=` → `{registered_model}`.
pub async fn get_model(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let m = blocking(&s, "registry.get_model", move |st| {
        load_model_json(st, &name)
    })
    .await?;
    Ok(Json(json!({ "registered_model": m })))
}

/// `POST registered-models/rename {name, new_name}` → `{registered_model}`.
pub async fn rename_model(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let new_name = p.req_str("new_name")?;
    let m = blocking(&s, "registry.rename_model", move |st| {
        st.rename_registered_model(&name, &new_name, &caller.user)?;
        load_model_json(st, &new_name)
    })
    .await?;
    Ok(Json(json!({ "registered_model": m })))
}

/// `PATCH registered-models/update {name, description}` → `{registered_model}`.
pub async fn update_model(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let description = description_field(&p)?;
    let m = blocking(&s, "registry.update_model", move |st| {
        if let Some(d) = description {
            st.update_registered_model_description(&name, &d)?;
        }
        load_model_json(st, &name)
    })
    .await?;
    Ok(Json(json!({ "registered_model": m })))
}

/// `DELETE registered-models/delete {name}` → `{}`.
pub async fn delete_model(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    blocking(&s, "registry.delete_model", move |st| {
        Ok(st.delete_registered_model_as(&name, &caller.user)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST registered-models/set-tag {name, key, value}` → `{}`.
pub async fn set_model_tag(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let key = p.req_str("key")?;
    let value = p.opt_str("value")?.unwrap_or_default();
    check_tag(&key, &value)?;
    blocking(&s, "registry.set_model_tag", move |st| {
        Ok(st.set_registered_model_tag(&name, &key, &value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `DELETE registered-models/delete-tag {name, key}` → `{}`.
pub async fn delete_model_tag(
    State(s): State<AppState>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let key = p.req_str("key")?;
    blocking(&s, "registry.delete_model_tag", move |st| {
        Ok(st.delete_registered_model_tag(&name, &key)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST registered-models/alias {name, alias, version}` → `{}`.
pub async fn set_alias(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let alias = p.req_str("alias")?;
    let version = version_field(&p)?;
    check_user_alias(&alias)?;
    blocking(&s, "registry.set_alias", move |st| {
        Ok(st.set_alias_as(&name, &alias, version, &caller.user)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `DELETE registered-models/alias {name, alias}` → `{}`; an alias the model does not have is
/// already deleted (MLflow's answer too, and a retried call stays harmless).
pub async fn delete_alias(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let alias = p.req_str("alias")?;
    check_user_alias(&alias)?;
    blocking(&s, "registry.delete_alias", move |st| {
        st.get_registered_model(&name)?;
        match st.delete_alias_as(&name, &alias, &caller.user) {
            Ok(()) | Err(TrackError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET registered-models/alias?name=&alias=` → `{model_version}`; an unknown alias is 400
/// `INVALID_PARAMETER_VALUE` (MLflow's answer), an unknown model 404.
pub async fn get_by_alias(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let alias = p.req_str("alias")?;
    let v = blocking(&s, "registry.get_by_alias", move |st| {
        st.get_registered_model(&name)?;
        match st.get_model_version_by_alias(&name, &alias) {
            Ok(v) => Ok(version_json(&v)),
            Err(TrackError::NotFound(_)) => Err(ApiError::invalid(format!(
                "Registered model alias {} not found.",
                printable(&alias)
            ))),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    Ok(Json(json!({ "model_version": v })))
}

/// `POST|GET registered-models/get-latest-versions {name, stages}` → `{model_versions}`: the
/// highest version in each requested stage (every stage when none is named).
pub async fn latest_versions(
    State(s): State<AppState>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let stages = p
        .str_list("stages")?
        .iter()
        .map(|s| mlflow_stage(s))
        .collect::<Result<Vec<_>, _>>()?;
    let out = blocking(&s, "registry.latest_versions", move |st| {
        let versions = st.list_model_versions(&name)?;
        Ok(latest_per_stage(versions.iter())
            .into_iter()
            .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
            .map(version_json)
            .collect::<Vec<_>>())
    })
    .await?;
    let mut o = Map::new();
    if !out.is_empty() {
        o.insert("model_versions".into(), Value::Array(out));
    }
    Ok(Json(Value::Object(o)))
}

/// `max_results` of a search: `default` when absent, else 1 to `max`.
fn max_results(p: &Params, default: i64, max: i64) -> Result<usize, ApiError> {
    let n = p.opt_i64("max_results")?.unwrap_or(default);
    if !(1..=max).contains(&n) {
        return Err(ApiError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied: it must be between 1 and \
             {max}"
        )));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether an object matches every clause. A tag that is absent differs from every value
/// (`!=` matches): the client appends ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every
/// registered-model search and expects the models without that tag.
fn matches<'a>(
    clauses: &[Clause],
    tags: &'a [(String, String)],
    attr: impl Fn(&str) -> Option<FieldValue<'a>>,
) -> bool {
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| FieldValue::Str(v.as_str()))
    };
    clauses.iter().all(|c| {
        if c.entity == Entity::Tag && c.op == Op::Ne && tag(&c.key).is_none() {
            return true;
        }
        matches_all(std::slice::from_ref(c), |e, k| match e {
            Entity::Tag => tag(k),
            _ => attr(k),
        })
    })
}

/// One page of `items` from `offset`, with the token of the next page when there is one.
fn page(items: Vec<Value>, offset: usize, max: usize, field: &str) -> Value {
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(offset).take(max).collect();
    let next = offset.saturating_add(chunk.len());
    let mut o = Map::new();
    if !chunk.is_empty() {
        o.insert(field.into(), Value::Array(chunk));
    }
    if next < total {
        o.insert("next_page_token".into(), json!(next.to_string()));
    }
    Value::Object(o)
}

/// `GET|POST registered-models/search {filter, max_results, order_by, page_token}` →
/// `{registered_models, next_page_token}`: MLflow's grammar (`name`, tags), ordered by
/// `name`, `timestamp` or `last_updated_timestamp` (default `name ASC`), 100 per page by
/// default, at most 1000.
pub async fn search_models(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let max = max_results(&p, 100, MAX_MODEL_SEARCH)?;
    let clauses = parse_registered_model_filter(&p.opt_str("filter")?.unwrap_or_default())?;
    let order = p
        .str_list("order_by")?
        .iter()
        .map(|t| parse_registry_order_by(t, REGISTERED_MODEL_ORDER_KEYS))
        .collect::<Result<Vec<_>, _>>()?;
    let offset = page_offset(p.opt_str("page_token")?.as_deref())?;
    let out = blocking(&s, "registry.search_models", move |st| {
        let versions = st.all_model_versions()?;
        let mut models: Vec<RegisteredModel> = st
            .list_registered_models("")?
            .into_iter()
            .filter(|m| {
                matches(&clauses, &m.tags, |k| {
                    (k == "name").then_some(FieldValue::Str(m.name.as_str()))
                })
            })
            .collect();
        models.sort_by(|a, b| {
            order
                .iter()
                .map(|(k, desc)| {
                    let o = match k.as_str() {
                        "timestamp" => a.creation_time.cmp(&b.creation_time),
                        "last_updated_timestamp" => a.last_updated_time.cmp(&b.last_updated_time),
                        _ => a.name.cmp(&b.name),
                    };
                    if *desc { o.reverse() } else { o }
                })
                .chain([a.name.cmp(&b.name)])
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let items = models
            .iter()
            .map(|m| {
                let own: Vec<&ModelVersion> =
                    versions.iter().filter(|v| v.name == m.name).collect();
                model_json(m, &own)
            })
            .collect();
        Ok(page(items, offset, max, "registered_models"))
    })
    .await?;
    Ok(Json(out))
}

// ---------------------------------------------------------------------------------------
// Model versions
// ---------------------------------------------------------------------------------------

/// What a checked source resolves to: the run and logged model it names, and where its
/// files are (an `mlflow-artifacts:/` URI this server serves).
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) run_id: String,
    pub(crate) model_id: String,
    pub(crate) storage: String,
}

fn bad_source(source: &str, why: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid model version source '{}': {why}",
        printable(source)
    ))
}

/// Checks a `source` and resolves it against the store (see the module's documentation).
/// `run_id` and `model_id` are the request's fields, which must agree with the source.
pub(crate) fn resolve_source(
    st: &dyn Backend,
    source: &str,
    run_id: Option<&str>,
    model_id: Option<&str>,
) -> Result<Resolved, ApiError> {
    let bad = |why: &str| bad_source(source, why);
    // Encoded text would be checked in one form and stored in another (CVE-2024-1558): a
    // source is taken only when decoding changes nothing.
    if decode_path(source).map_or(true, |d| d != source) || source.contains('%') {
        return Err(bad("percent-encoded characters are not accepted"));
    }
    if source
        .chars()
        .any(|c| c.is_control() || matches!(c, '\\' | '#' | '?' | ';'))
    {
        return Err(bad(
            "backslashes, control characters, '#', '?' and ';' are not accepted",
        ));
    }
    let (scheme, rest) = source.split_once(":/").ok_or_else(|| {
        bad(
            "expected runs:/<run_id>/<path>, models:/<model_id> or mlflow-artifacts:/<path> \
             on this server",
        )
    })?;
    // `rest` has no leading '/' (no host), no empty, '.' or '..' segment, no drive letter.
    check_path(rest, false).map_err(|_| {
        bad("the path must be relative and normalised (no host, '//', '.' or '..' segments)")
    })?;
    let parts: Vec<&str> = rest.split('/').collect();
    let resolved = match (scheme, parts.as_slice()) {
        ("runs", [run, rel @ ..]) => {
            let mut storage = run_location(st, source, None, run)?;
            append(&mut storage, rel);
            Resolved {
                run_id: (*run).to_string(),
                model_id: String::new(),
                storage,
            }
        }
        ("mlflow-artifacts", [exp, "models", model, "artifacts", rel @ ..]) => {
            let (storage, run) = model_location(st, source, Some(exp), model)?;
            let mut storage = storage;
            append(&mut storage, rel);
            Resolved {
                run_id: run,
                model_id: (*model).to_string(),
                storage,
            }
        }
        ("mlflow-artifacts", [exp, run, "artifacts", rel @ ..]) => {
            let mut storage = run_location(st, source, Some(exp), run)?;
            append(&mut storage, rel);
            Resolved {
                run_id: (*run).to_string(),
                model_id: String::new(),
                storage,
            }
        }
        ("models", [model]) if model.starts_with("m-") => {
            let (storage, run) = model_location(st, source, None, model)?;
            Resolved {
                run_id: run,
                model_id: (*model).to_string(),
                storage,
            }
        }
        // Another registered version (MLflow's `models:/<name>/<version>`): the new version
        // shares its run, logged model and files, as the store records them.
        ("models", [name, version])
            if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) =>
        {
            let v = version
                .parse::<u32>()
                .ok()
                .and_then(|n| st.get_model_version(name, n).ok())
                .ok_or_else(|| {
                    bad(&format!(
                        "registered model {} has no version {}",
                        printable(name),
                        printable(version)
                    ))
                })?;
            if v.storage_location.is_empty() {
                return Err(bad("that version has no files on this server"));
            }
            Resolved {
                run_id: v.source_run_id,
                model_id: v.model_id,
                storage: v.storage_location,
            }
        }
        ("models", _) => {
            return Err(bad(
                "models:/ sources are models:/<model_id> (an MLflow 3 logged model) or \
                 models:/<name>/<version> (a registered version)",
            ));
        }
        ("mlflow-artifacts", _) => {
            return Err(bad(
                "mlflow-artifacts sources are <experiment_id>/<run_id>/artifacts[/<path>] or \
                 <experiment_id>/models/<model_id>/artifacts[/<path>]",
            ));
        }
        _ => {
            return Err(bad(
                "only runs:/, models:/ and mlflow-artifacts:/ sources that address this \
                 server's artifact store are accepted",
            ));
        }
    };
    let resolved = Resolved {
        run_id: match (run_id, resolved.run_id.as_str()) {
            (Some(given), found) if !found.is_empty() && given != found => {
                return Err(bad(&format!(
                    "it belongs to run {found}, not to the run_id given ({})",
                    printable(given)
                )));
            }
            (Some(given), "") => {
                st.get_run(given).map_err(|_| {
                    ApiError::invalid(format!("run_id {} does not exist", printable(given)))
                })?;
                given.to_string()
            }
            (_, found) => found.to_string(),
        },
        ..resolved
    };
    match (model_id, resolved.model_id.as_str()) {
        (Some(given), found) if !found.is_empty() && given != found => Err(bad(&format!(
            "it names logged model {found}, not the model_id given ({})",
            printable(given)
        ))),
        (Some(given), "") => {
            // A logged model named beside a run source: it must exist and come from that run.
            let m = st.get_logged_model(given).map_err(|_| {
                ApiError::invalid(format!("model_id {} does not exist", printable(given)))
            })?;
            if let Some(r) = m.source_run_id.as_deref()
                && !resolved.run_id.is_empty()
                && r != resolved.run_id
            {
                return Err(bad(&format!(
                    "logged model {given} comes from run {r}, not {}",
                    resolved.run_id
                )));
            }
            Ok(Resolved {
                model_id: given.to_string(),
                ..resolved
            })
        }
        _ => Ok(resolved),
    }
}

fn append(storage: &mut String, rel: &[&str]) {
    if !rel.is_empty() {
        storage.push('/');
        storage.push_str(&rel.join("/"));
    }
}

/// The artifact root of run `run` (which must exist, in experiment `exp` when given).
fn run_location(
    st: &dyn Backend,
    source: &str,
    exp: Option<&str>,
    run: &str,
) -> Result<String, ApiError> {
    let r = st
        .get_run(run)
        .map_err(|_| bad_source(source, &format!("run {} does not exist", printable(run))))?;
    if exp.is_some_and(|e| e != r.info.experiment_id) {
        return Err(bad_source(
            source,
            &format!("run {run} is not in that experiment"),
        ));
    }
    Ok(run_artifact_uri(&r.info.experiment_id, run))
}

/// The artifact root of logged model `model` (which must exist, in experiment `exp` when
/// given) and the run it came from (empty: none).
fn model_location(
    st: &dyn Backend,
    source: &str,
    exp: Option<&str>,
    model: &str,
) -> Result<(String, String), ApiError> {
    let m = st.get_logged_model(model).map_err(|_| {
        bad_source(
            source,
            &format!("logged model {} does not exist", printable(model)),
        )
    })?;
    if exp.is_some_and(|e| e != m.experiment_id) {
        return Err(bad_source(
            source,
            &format!("logged model {model} is not in that experiment"),
        ));
    }
    Ok((
        format!(
            "mlflow-artifacts:/{}/models/{}/artifacts",
            m.experiment_id, m.model_id
        ),
        m.source_run_id.unwrap_or_default(),
    ))
}

/// `POST model-versions/create {name, source, run_id, tags, run_link, description,
/// model_id}` → `{model_version}` (status `READY` at once). The source is checked and
/// resolved first (see the module's documentation): a refused one stores nothing.
pub async fn create_version(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let source = p.req_str("source")?;
    let run_id = p.opt_str("run_id")?;
    let model_id = p.opt_str("model_id")?;
    let run_link = p.opt_str("run_link")?.unwrap_or_default();
    let description = description_field(&p)?.unwrap_or_default();
    let tags = tags_field(&p)?;
    let v = blocking(&s, "registry.create_version", move |st| {
        // The model first: an unknown model is 404 whatever the source.
        st.get_registered_model(&name)?;
        let r = resolve_source(st, &source, run_id.as_deref(), model_id.as_deref())?;
        let v = st.create_model_version(&NewModelVersion {
            source: Some(&source),
            run_link: &run_link,
            description: &description,
            model_id: &r.model_id,
            storage_location: Some(&r.storage),
            user: Some(&caller.user),
            ..NewModelVersion::from_run(&name, &r.run_id, None, &tags)
        })?;
        Ok(version_json(&v))
    })
    .await?;
    Ok(Json(json!({ "model_version": v })))
}

/// `GET model-versions/get?name=&version=` → `{model_version}`.
pub async fn get_version(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let v = blocking(&s, "registry.get_version", move |st| {
        Ok(version_json(&st.get_model_version(&name, version)?))
    })
    .await?;
    Ok(Json(json!({ "model_version": v })))
}

/// `PATCH model-versions/update {name, version, description}` → `{model_version}`.
pub async fn update_version(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let description = description_field(&p)?;
    let v = blocking(&s, "registry.update_version", move |st| {
        let v = match description {
            Some(d) => st.update_model_version_description(&name, version, &d)?,
            None => st.get_model_version(&name, version)?,
        };
        Ok(version_json(&v))
    })
    .await?;
    Ok(Json(json!({ "model_version": v })))
}

/// `DELETE model-versions/delete {name, version}` → `{}`. A version an alias points at is
/// kept (hone's rule): 400 naming the alias.
pub async fn delete_version(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    blocking(&s, "registry.delete_version", move |st| {
        match st.delete_model_version_as(&name, version, &caller.user) {
            Ok(()) => Ok(()),
            Err(TrackError::Conflict(m)) => Err(ApiError::invalid(m)),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST model-versions/set-tag {name, version, key, value}` → `{}`.
pub async fn set_version_tag(
    State(s): State<AppState>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let key = p.req_str("key")?;
    let value = p.opt_str("value")?.unwrap_or_default();
    check_tag(&key, &value)?;
    blocking(&s, "registry.set_version_tag", move |st| {
        Ok(st.set_model_version_tag(&name, version, &key, &value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `DELETE model-versions/delete-tag {name, version, key}` → `{}`.
pub async fn delete_version_tag(
    State(s): State<AppState>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let key = p.req_str("key")?;
    blocking(&s, "registry.delete_version_tag", move |st| {
        Ok(st.delete_model_version_tag(&name, version, &key)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `GET model-versions/get-download-uri?name=&version=` → `{artifact_uri}`: the storage
/// location the server derived when the version was created.
pub async fn download_uri(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let uri = blocking(&s, "registry.download_uri", move |st| {
        Ok(st.get_model_version(&name, version)?.storage_location)
    })
    .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

/// `POST model-versions/transition-stage {name, version, stage, archive_existing_versions}`
/// → `{model_version}`: walked through hone's matrix (see the module's documentation).
pub async fn transition(
    State(s): State<AppState>,
    caller: Caller,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let stage = mlflow_stage(&p.req_str("stage")?)?;
    let archive = req_bool(&p, "archive_existing_versions")?;
    let v = blocking(&s, "registry.transition", move |st| {
        let v = st.transition_stage_by_path(&Transition {
            name: &name,
            version,
            to: stage,
            expected_current_production: None,
            archive_existing: archive,
            user: &caller.user,
            reason: TRANSITION_REASON,
            details: "",
        })?;
        Ok(version_json(&v))
    })
    .await?;
    Ok(Json(json!({ "model_version": v })))
}

/// `GET|POST model-versions/search {filter, max_results, order_by, page_token}` →
/// `{model_versions, next_page_token}`: MLflow's grammar (`name`, `run_id`, `source_path`,
/// `version_number`, tags), default order `last_updated_timestamp DESC, name ASC,
/// version_number DESC`, at most 200,000 per page (the default).
pub async fn search_versions(
    State(s): State<AppState>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let max = max_results(&p, MAX_VERSION_SEARCH, MAX_VERSION_SEARCH)?;
    let clauses = parse_model_version_filter(&p.opt_str("filter")?.unwrap_or_default())?;
    let mut order = p
        .str_list("order_by")?
        .iter()
        .map(|t| parse_registry_order_by(t, MODEL_VERSION_ORDER_KEYS))
        .collect::<Result<Vec<_>, _>>()?;
    if order.is_empty() {
        order.push(("last_updated_timestamp".into(), true));
    }
    order.extend([("name".into(), false), ("version_number".into(), true)]);
    let offset = page_offset(p.opt_str("page_token")?.as_deref())?;
    let out = blocking(&s, "registry.search_versions", move |st| {
        let mut versions: Vec<ModelVersion> = st
            .all_model_versions()?
            .into_iter()
            .filter(|v| {
                matches(&clauses, &v.tags, |k| match k {
                    "name" => Some(FieldValue::Str(v.name.as_str())),
                    "run_id" => Some(FieldValue::Str(v.source_run_id.as_str())),
                    "source_path" => Some(FieldValue::Str(v.source.as_str())),
                    "version_number" => Some(FieldValue::Num(f64::from(v.version))),
                    _ => None,
                })
            })
            .collect();
        versions.sort_by(|a, b| {
            order
                .iter()
                .map(|(k, desc)| {
                    let o = match k.as_str() {
                        "name" => a.name.cmp(&b.name),
                        "version_number" => a.version.cmp(&b.version),
                        "creation_timestamp" => a.creation_time.cmp(&b.creation_time),
                        _ => a.last_updated_time.cmp(&b.last_updated_time),
                    };
                    if *desc { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(page(
            versions.iter().map(version_json).collect(),
            offset,
            max,
            "model_versions",
        ))
    })
    .await?;
    Ok(Json(out))
}

// ---------------------------------------------------------------------------------------
// The UI's download route
// ---------------------------------------------------------------------------------------

/// Where a stored location's files are: a run's or a logged model's records, under a prefix.
enum Owner {
    Run(String),
    Model(String),
}

/// Splits a storage location this server wrote (`mlflow-artifacts:/<exp>/<run>/artifacts[/p]`
/// or `mlflow-artifacts:/<exp>/models/<id>/artifacts[/p]`) into its owner and prefix.
fn split_location(location: &str) -> Option<(Owner, String)> {
    let rest = location.strip_prefix("mlflow-artifacts:/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [_, "models", id, "artifacts", rel @ ..] => {
            Some((Owner::Model((*id).to_string()), rel.join("/")))
        }
        [_, run, "artifacts", rel @ ..] => Some((Owner::Run((*run).to_string()), rel.join("/"))),
        _ => None,
    }
}

/// `GET /model-versions/get-artifact?name=&version=&path=`: one file of a version, read from
/// the store's records under the version's storage location (never from a path or URL a
/// client gave). `path` is percent-decoded until stable and refused with 400 when it is
/// absolute or has `..`, `.` or empty segments, a backslash, a drive letter, `#`, `;` or a
/// control character.
pub async fn get_artifact(State(s): State<AppState>, p: Params) -> Result<Response, ApiError> {
    let name = p.req_str("name")?;
    let version = version_field(&p)?;
    let path = decode_path(&p.req_str("path")?)?;
    check_path(&path, false)?;
    let blobs = s.blobs.clone();
    let bytes = blocking(&s, "registry.get_artifact", move |st| {
        let v = st.get_model_version(&name, version)?;
        let not_found = || ApiError::not_found("No such artifact");
        let (owner, prefix) = split_location(&v.storage_location).ok_or_else(not_found)?;
        let full = if prefix.is_empty() {
            path
        } else {
            format!("{prefix}/{path}")
        };
        let (id, records) = match owner {
            Owner::Run(run) => {
                let records = st.list_artifacts(&run)?;
                (run, records)
            }
            Owner::Model(model) => {
                let records = st.list_logged_model_artifacts(&model)?;
                (model, records)
            }
        };
        let record = records
            .into_iter()
            .find(|r| r.path == full)
            .ok_or_else(not_found)?;
        Ok(blobs.get(&record.sha256, &id, &record.path)?)
    })
    .await?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_into_owner_and_prefix() {
        let Some((Owner::Run(r), p)) = split_location("mlflow-artifacts:/1/abc/artifacts/model")
        else {
            panic!("a run location")
        };
        assert_eq!((r.as_str(), p.as_str()), ("abc", "model"));
        let Some((Owner::Model(m), p)) =
            split_location("mlflow-artifacts:/1/models/m-12/artifacts")
        else {
            panic!("a model location")
        };
        assert_eq!((m.as_str(), p.as_str()), ("m-12", ""));
        assert!(split_location("file:///etc").is_none());
        assert!(split_location("").is_none());
    }

    #[test]
    fn versions_are_positive_integers() {
        for (q, ok) in [
            ("version=3", Some(3)),
            ("version=0", None),
            ("version=-1", None),
            ("version=1.5", None),
            ("version=abc", None),
            ("version=", None),
        ] {
            assert_eq!(version_field(&Params::from_query(q)).ok(), ok, "{q}");
        }
        let p = Params::from_json(br#"{"version": 7}"#).unwrap();
        assert_eq!(version_field(&p).unwrap(), 7);
        let p = Params::from_json(br#"{"version": true}"#).unwrap();
        assert!(version_field(&p).is_err());
    }
}
