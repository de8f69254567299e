//! `experiments/*`: create, get, get-by-name, search, update (rename), delete, restore.

use axum::Json;
use axum::extract::State;
use hone_track::filter::{Entity, FieldValue, matches_all, parse_experiment_filter};
use hone_track::{Experiment, Lifecycle};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::wire::{self, Params};
use crate::{AppState, blocking};

/// Longest experiment name (MLflow's limit).
const MAX_NAME: usize = 500;
/// Largest `max_results` of `experiments/search` (MLflow's limit).
const MAX_SEARCH: i64 = 50_000;

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid(format!(
            "experiment name is longer than {MAX_NAME} characters"
        )));
    }
    Ok(())
}

/// `POST experiments/create {name, artifact_location, tags}` → `{experiment_id}`.
pub async fn create(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("name")?;
    check_name(&name)?;
    // Security (MLflow's CVE history: traversal through `artifact_location`): a client never
    // chooses where artifacts go. Every experiment's artifacts live in the server's own
    // artifact store, at `mlflow-artifacts:/<experiment_id>`, so any location is refused.
    if p.opt_str("artifact_location")?
        .is_some_and(|l| !l.is_empty())
    {
        return Err(ApiError::invalid(
            "artifact_location must be omitted: this server keeps every experiment's \
             artifacts in its own artifact store (mlflow-artifacts:/<experiment_id>)",
        ));
    }
    let tags = p.key_values("tags")?;
    let id = blocking(&s, "experiments.create", move |st| {
        // MLflow answers a duplicate name with RESOURCE_ALREADY_EXISTS (the store's own
        // check, which still guards against a race, says INVALID_PARAMETER_VALUE).
        if st.get_experiment_by_name(&name)?.is_some() {
            return Err(
                hone_track::TrackError::AlreadyExists(format!("experiment {name:?}")).into(),
            );
        }
        Ok(st.create_experiment(&name, &tags)?)
    })
    .await?;
    Ok(Json(json!({ "experiment_id": id })))
}

/// `GET experiments/get?experiment_id=` → `{experiment}`.
pub async fn get(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.req_str("experiment_id")?;
    let e = blocking(&s, "experiments.get", move |st| Ok(st.get_experiment(&id)?)).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&e) })))
}

/// `GET experiments/get-by-name?experiment_name=` → `{experiment}`; 404 when there is none
/// (the client's `set_experiment` then creates it).
pub async fn get_by_name(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let name = p.req_str("experiment_name")?;
    let e = blocking(&s, "experiments.get_by_name", move |st| {
        st.get_experiment_by_name(&name)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "Could not find experiment with name '{}'",
                hone_track::printable(&name)
            ))
        })
    })
    .await?;
    Ok(Json(json!({ "experiment": wire::experiment(&e) })))
}

/// `POST experiments/update {experiment_id, new_name}` → `{}`.
pub async fn update(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.req_str("experiment_id")?;
    let new_name = p.req_str("new_name")?;
    check_name(&new_name)?;
    blocking(&s, "experiments.update", move |st| {
        Ok(st.rename_experiment(&id, &new_name)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST experiments/set-experiment-tag {experiment_id, key, value}` → `{}` (last write
/// wins; MLflow's limits: key 250, value 20,000 characters).
pub async fn set_tag(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.req_str("experiment_id")?;
    let key = p.req_str("key")?;
    let value = p.req_str("value")?;
    blocking(&s, "experiments.set_tag", move |st| {
        Ok(st.set_experiment_tag(&id, &key, &value)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST experiments/delete-experiment-tag {experiment_id, key}` → `{}`; a key the
/// experiment does not have is 404.
pub async fn delete_tag(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let id = p.req_str("experiment_id")?;
    let key = p.req_str("key")?;
    blocking(&s, "experiments.delete_tag", move |st| {
        Ok(st.delete_experiment_tag(&id, &key)?)
    })
    .await?;
    Ok(Json(json!({})))
}

async fn set_lifecycle(
    s: AppState,
    p: Params,
    lifecycle: Lifecycle,
) -> Result<Json<Value>, ApiError> {
    let id = p.req_str("experiment_id")?;
    blocking(&s, "experiments.set_lifecycle", move |st| {
        Ok(st.set_experiment_lifecycle(&id, lifecycle)?)
    })
    .await?;
    Ok(Json(json!({})))
}

/// `POST experiments/delete {experiment_id}` → `{}` (soft delete).
pub async fn delete(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    set_lifecycle(s, p, Lifecycle::Deleted).await
}

/// `POST experiments/restore {experiment_id}` → `{}`.
pub async fn restore(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    set_lifecycle(s, p, Lifecycle::Active).await
}

/// One `order_by` term of `experiments/search`: key and direction.
fn order_term(term: &str) -> Result<(String, bool), ApiError> {
    let mut words = term.split_whitespace();
    let key = words.next().unwrap_or_default();
    let desc = match words.next().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "invalid order_by {term:?}: {other:?} is not ASC or DESC"
            )));
        }
    };
    if words.next().is_some() {
        return Err(ApiError::invalid(format!("invalid order_by {term:?}")));
    }
    let key = key.strip_prefix("attribute.").unwrap_or(key);
    match key {
        "name" | "experiment_id" | "creation_time" | "last_update_time" => {
            Ok((key.to_string(), desc))
        }
        _ => Err(ApiError::invalid(format!(
            "invalid order_by key {key:?} (name, experiment_id, creation_time, last_update_time)"
        ))),
    }
}

fn compare(a: &Experiment, b: &Experiment, key: &str) -> std::cmp::Ordering {
    let id = |e: &Experiment| e.experiment_id.parse::<i64>().unwrap_or(i64::MAX);
    match key {
        "name" => a.name.cmp(&b.name),
        "experiment_id" => id(a).cmp(&id(b)),
        "creation_time" => a.creation_time.cmp(&b.creation_time),
        _ => a.last_update_time.cmp(&b.last_update_time),
    }
}

/// `GET|POST experiments/search {max_results, page_token, filter, order_by, view_type}` →
/// `{experiments, next_page_token}`, with MLflow's filter grammar (`name LIKE 'q%'`,
/// `tags.team = 'quant'`, `creation_time > ...`, `experiment_id IN (...)`); the page token
/// is the offset of the next page.
pub async fn search(State(s): State<AppState>, p: Params) -> Result<Json<Value>, ApiError> {
    let max = p.opt_i64("max_results")?.unwrap_or(0);
    if !(1..=MAX_SEARCH).contains(&max) {
        return Err(ApiError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied: it must be between 1 \
             and {MAX_SEARCH}"
        )));
    }
    let clauses = parse_experiment_filter(&p.opt_str("filter")?.unwrap_or_default())?;
    let mut order = p
        .str_list("order_by")?
        .iter()
        .map(|t| order_term(t))
        .collect::<Result<Vec<_>, _>>()?;
    if order.is_empty() {
        order = vec![("creation_time".into(), true)];
    }
    order.push(("experiment_id".into(), false));
    let offset = page_offset(p.opt_str("page_token")?.as_deref())?;
    let view = p.view_type("view_type")?;
    let mut all = blocking(&s, "experiments.search", move |st| {
        Ok(st.list_experiments(view)?)
    })
    .await?;
    all.retain(|e| {
        matches_all(&clauses, |entity, key| match (entity, key) {
            (Entity::Attribute, "name") => Some(FieldValue::Str(&e.name)),
            (Entity::Attribute, "experiment_id") => Some(FieldValue::Str(&e.experiment_id)),
            (Entity::Attribute, "creation_time") => Some(FieldValue::Num(e.creation_time as f64)),
            (Entity::Attribute, "last_update_time") => {
                Some(FieldValue::Num(e.last_update_time as f64))
            }
            (Entity::Tag, key) => e
                .tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| FieldValue::Str(v)),
            _ => None,
        })
    });
    all.sort_by(|a, b| {
        order
            .iter()
            .map(|(k, desc)| {
                let o = compare(a, b, k);
                if *desc { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .map(wire::experiment)
        .collect();
    let mut out = serde_json::Map::new();
    let next = offset.saturating_add(page.len());
    if !page.is_empty() {
        out.insert("experiments".into(), Value::Array(page));
    }
    if next < all.len() {
        out.insert("next_page_token".into(), json!(next.to_string()));
    }
    Ok(Json(Value::Object(out)))
}

/// The offset a page token stands for (tokens are offsets written by this server).
pub fn page_offset(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None => Ok(0),
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("invalid page_token {t:?}"))),
    }
}
