//! Logged models (MLflow 3) for [`SqlStore`]: creation, status, tags, params, metrics,
//! artifact records, search, and the run outputs that link runs to the models they produced.
//! The [`Store`](crate::Store) methods in `tracking.rs` call these.

use std::collections::BTreeMap;

use super::{SqlStore, generated_name, metric_value, truncate};
use crate::db::{Conn, Db, Row, Value, int, opt_text, text};
use crate::filter::{
    Clause, Entity, Op, parse_logged_model_filter, parse_logged_model_order_field,
};
use crate::model::*;
use crate::search_sql::{Sql, decode_token, encode_token, number, string_condition};
use crate::store::{LoggedModelSearch, MAX_LOGGED_MODEL_PAGE, new_run_id};
use crate::{Result, TrackError, now_ms};

const MODEL_COLUMNS: &str = "m.model_id, m.experiment_id, m.name, m.model_type, \
     m.source_run_id, m.status, m.creation_time, m.last_update_time, m.lifecycle";

/// Longest logged model name accepted.
pub const MAX_LOGGED_MODEL_NAME: usize = 500;

/// Checks a logged model's name as MLflow does: not empty, not too long, and none of the
/// characters that would make `models:/` and `runs:/` URIs ambiguous.
pub fn validate_logged_model_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid logged model name {name:?}: {why}"
        )))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_LOGGED_MODEL_NAME {
        return bad("longer than 500 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| "/:.%\"'".contains(*c) || c.is_control())
    {
        return bad(&format!(
            "{c:?} is not allowed (no '/', ':', '.', '%', quotes or control characters)"
        ));
    }
    Ok(())
}

fn model_row(row: &Row) -> Result<LoggedModel> {
    Ok(LoggedModel {
        model_id: text(row, 0),
        experiment_id: int(row, 1).to_string(),
        name: text(row, 2),
        model_type: opt_text(row, 3),
        source_run_id: opt_text(row, 4),
        status: LoggedModelStatus::parse(&text(row, 5))?,
        creation_time: int(row, 6),
        last_update_time: int(row, 7),
        lifecycle: Lifecycle::parse(&text(row, 8)),
        tags: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
    })
}

/// The SQL column of a logged model attribute (keys come from the filter parser, which only
/// lets the known ones through).
fn model_column(key: &str) -> &'static str {
    match key {
        "model_id" => "m.model_id",
        "name" => "m.name",
        "model_type" => "m.model_type",
        "status" => "m.status",
        "source_run_id" => "m.source_run_id",
        "last_updated_timestamp" => "m.last_update_time",
        _ => "m.creation_time",
    }
}

/// The latest value (greatest step, then time) of metric `k` of the model, as SQL.
fn latest_metric_sql(k: &str) -> String {
    format!(
        "(SELECT f.value FROM logged_model_metrics f WHERE f.model_id = m.model_id \
         AND f.key = {k} AND f.is_nan = 0 ORDER BY f.step DESC, f.timestamp DESC LIMIT 1)"
    )
}

fn clause_sql(sql: &mut Sql, clause: &Clause) -> String {
    match clause.entity {
        Entity::Metric => {
            let k = sql.param(clause.key.as_str().into());
            let v = sql.param(number(&clause.value));
            format!(
                "EXISTS (SELECT 1 FROM logged_model_metrics f WHERE f.model_id = m.model_id \
                 AND f.key = {k} AND f.is_nan = 0 AND f.value {} {v})",
                clause.op.sql()
            )
        }
        Entity::Param | Entity::Tag => {
            let table = if clause.entity == Entity::Param {
                "logged_model_params"
            } else {
                "logged_model_tags"
            };
            let k = sql.param(clause.key.as_str().into());
            let probe =
                format!("SELECT 1 FROM {table} f WHERE f.model_id = m.model_id AND f.key = {k}");
            match clause.op {
                Op::IsNull => format!("NOT EXISTS ({probe})"),
                Op::IsNotNull => format!("EXISTS ({probe})"),
                _ => {
                    let cond = string_condition(sql, "f.value", clause);
                    format!("EXISTS ({probe} AND {cond})")
                }
            }
        }
        // The parser refuses dataset keys in logged-model filters.
        Entity::Dataset => "1 = 0".into(),
        Entity::Attribute => {
            let column = model_column(&clause.key);
            if crate::filter::MODEL_NUMERIC_ATTRS.contains(&clause.key.as_str()) {
                let v = sql.param(number(&clause.value));
                format!("{column} {} {v}", clause.op.sql())
            } else {
                string_condition(sql, column, clause)
            }
        }
    }
}

impl<D: Db> SqlStore<D> {
    /// `logged model <id> not found` unless the model exists and is not deleted.
    fn require_live_model(c: &mut dyn Conn, model_id: &str) -> Result<()> {
        let rows = c.query(
            "SELECT lifecycle FROM logged_models WHERE model_id = ?1",
            &[model_id.into()],
        )?;
        match rows.first() {
            Some(r) if text(r, 0) == "active" => Ok(()),
            _ => Err(TrackError::NotFound(format!("logged model {model_id}"))),
        }
    }

    fn touch_model(c: &mut dyn Conn, model_id: &str) -> Result<()> {
        c.execute(
            "UPDATE logged_models SET last_update_time = ?1 WHERE model_id = ?2",
            &[Value::Int(now_ms()), model_id.into()],
        )?;
        Ok(())
    }

    /// Loads logged models with their tags, params and metrics, in the order of `ids`.
    fn load_logged_models(c: &mut dyn Conn, ids: &[String]) -> Result<Vec<LoggedModel>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let list = marks.join(",");
            let params: Vec<Value> = chunk.iter().map(Value::from).collect();
            let mut by_id: BTreeMap<String, LoggedModel> = BTreeMap::new();
            for row in c.query(
                &format!(
                    "SELECT {MODEL_COLUMNS} FROM logged_models m WHERE m.model_id IN ({list})"
                ),
                &params,
            )? {
                let m = model_row(&row)?;
                by_id.insert(m.model_id.clone(), m);
            }
            for (table, is_tag) in [("logged_model_tags", true), ("logged_model_params", false)] {
                for row in c.query(
                    &format!(
                        "SELECT model_id, key, value FROM {table} WHERE model_id IN ({list}) ORDER BY key"
                    ),
                    &params,
                )? {
                    if let Some(m) = by_id.get_mut(&text(&row, 0)) {
                        let kv = (text(&row, 1), text(&row, 2));
                        if is_tag {
                            m.tags.push(kv);
                        } else {
                            m.params.push(kv);
                        }
                    }
                }
            }
            for row in c.query(
                &format!(
                    "SELECT model_id, key, value, is_nan, timestamp, step, run_id, dataset_name, \
                     dataset_digest FROM logged_model_metrics WHERE model_id IN ({list}) \
                     ORDER BY key, step, timestamp"
                ),
                &params,
            )? {
                if let Some(m) = by_id.get_mut(&text(&row, 0)) {
                    m.metrics.push(LoggedModelMetric {
                        key: text(&row, 1),
                        point: MetricPoint {
                            value: metric_value(&row, 2, 3),
                            timestamp: int(&row, 4),
                            step: int(&row, 5),
                        },
                        run_id: opt_text(&row, 6),
                        dataset_name: opt_text(&row, 7),
                        dataset_digest: opt_text(&row, 8),
                    });
                }
            }
            for id in chunk {
                if let Some(m) = by_id.remove(id) {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    fn load_live_model(c: &mut dyn Conn, model_id: &str) -> Result<LoggedModel> {
        Self::load_logged_models(c, &[model_id.to_string()])?
            .into_iter()
            .find(|m| m.lifecycle == Lifecycle::Active)
            .ok_or_else(|| TrackError::NotFound(format!("logged model {model_id}")))
    }

    /// Writes params on a model: the same value again is fine, a different one is refused
    /// (within the request and against what is stored), as for runs.
    fn write_model_params(
        c: &mut dyn Conn,
        model_id: &str,
        params: &[(String, String)],
    ) -> Result<()> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in params {
            validate_key("param", k)?;
            if let Some(prev) = seen.insert(k, v)
                && prev != v
            {
                return Err(TrackError::Invalid(format!(
                    "param {k:?} is given twice with different values ({prev:?}, {v:?})"
                )));
            }
        }
        for (k, v) in params {
            let v = truncate(v, MAX_PARAM_VALUE);
            let existing = c.query(
                "SELECT value FROM logged_model_params WHERE model_id = ?1 AND key = ?2",
                &[model_id.into(), k.into()],
            )?;
            match existing.first() {
                Some(row) if text(row, 0) != v => {
                    return Err(TrackError::Invalid(format!(
                        "param {k:?} of logged model {model_id} is already {:?}; params cannot \
                         change (got {v:?})",
                        text(row, 0)
                    )));
                }
                Some(_) => {}
                None => {
                    c.execute(
                        "INSERT INTO logged_model_params (model_id, key, value) VALUES (?1, ?2, ?3)",
                        &[model_id.into(), k.into(), v.into()],
                    )?;
                }
            }
        }
        Ok(())
    }

    fn write_model_tags(c: &mut dyn Conn, model_id: &str, tags: &[(String, String)]) -> Result<()> {
        for (k, _) in tags {
            validate_key("tag", k)?;
        }
        for (k, v) in tags {
            c.execute(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                &[model_id.into(), k.into(), truncate(v, MAX_TAG_VALUE).into()],
            )?;
        }
        Ok(())
    }

    pub(super) fn lm_create(&self, new: NewLoggedModel) -> Result<LoggedModel> {
        let exp = Self::experiment_id(&new.experiment_id)?;
        let name = match &new.name {
            Some(n) => {
                validate_logged_model_name(n)?;
                n.clone()
            }
            None => generated_name(),
        };
        let model_id = format!("m-{}", new_run_id());
        let now = now_ms();
        self.write(|c| {
            match c
                .query(
                    "SELECT lifecycle FROM experiments WHERE experiment_id = ?1",
                    std::slice::from_ref(&exp),
                )?
                .first()
            {
                None => {
                    return Err(TrackError::NotFound(format!(
                        "experiment {}",
                        new.experiment_id
                    )));
                }
                Some(r) if text(r, 0) == "deleted" => {
                    return Err(TrackError::Invalid(format!(
                        "experiment {} is deleted; restore it first",
                        new.experiment_id
                    )));
                }
                Some(_) => {}
            }
            if let Some(run) = &new.source_run_id {
                Self::require_run(c, run)?;
            }
            c.execute(
                "INSERT INTO logged_models (model_id, experiment_id, name, model_type, \
                 source_run_id, status, creation_time, last_update_time, lifecycle) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 'active')",
                &[
                    model_id.as_str().into(),
                    exp.clone(),
                    name.as_str().into(),
                    new.model_type.clone().into(),
                    new.source_run_id.clone().into(),
                    LoggedModelStatus::Pending.as_str().into(),
                    Value::Int(now),
                ],
            )?;
            Self::write_model_tags(c, &model_id, &new.tags)?;
            Self::write_model_params(c, &model_id, &new.params)?;
            Self::load_live_model(c, &model_id)
        })
    }

    pub(super) fn lm_get(&self, model_id: &str) -> Result<LoggedModel> {
        self.read(|c| Self::load_live_model(c, model_id))
    }

    pub(super) fn lm_finalize(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        if status == LoggedModelStatus::Pending {
            return Err(TrackError::Invalid(
                "a logged model is finalized as LOGGED_MODEL_READY or \
                 LOGGED_MODEL_UPLOAD_FAILED, not LOGGED_MODEL_PENDING"
                    .into(),
            ));
        }
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            c.execute(
                "UPDATE logged_models SET status = ?1, last_update_time = ?2 WHERE model_id = ?3",
                &[
                    status.as_str().into(),
                    Value::Int(now_ms()),
                    model_id.into(),
                ],
            )?;
            Self::load_live_model(c, model_id)
        })
    }

    pub(super) fn lm_search(
        &self,
        req: &LoggedModelSearch,
    ) -> Result<(Vec<LoggedModel>, Option<String>)> {
        if req.max_results == 0 || req.max_results > MAX_LOGGED_MODEL_PAGE {
            return Err(TrackError::Invalid(format!(
                "max_results must be between 1 and {MAX_LOGGED_MODEL_PAGE}, got {}",
                req.max_results
            )));
        }
        let clauses = parse_logged_model_filter(&req.filter)?;
        let orders = req
            .order_by
            .iter()
            .map(|(field, asc)| parse_logged_model_order_field(field).map(|(e, k)| (e, k, *asc)))
            .collect::<Result<Vec<_>>>()?;
        let offset = req
            .page_token
            .as_deref()
            .map(decode_token)
            .transpose()?
            .unwrap_or(0);
        if req.experiment_ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let exp_ids = req
            .experiment_ids
            .iter()
            .map(|e| Self::experiment_id(e))
            .collect::<Result<Vec<_>>>()?;
        let mut sql = Sql {
            joins: String::new(),
            wheres: Vec::new(),
            order: Vec::new(),
            params: Vec::new(),
        };
        let marks: Vec<String> = exp_ids.iter().map(|v| sql.param(v.clone())).collect();
        sql.wheres
            .push(format!("m.experiment_id IN ({})", marks.join(",")));
        sql.wheres.push("m.lifecycle = 'active'".into());
        for cl in &clauses {
            let w = clause_sql(&mut sql, cl);
            sql.wheres.push(w);
        }
        for (entity, key, asc) in &orders {
            let column = if *entity == Entity::Metric {
                let k = sql.param(key.as_str().into());
                latest_metric_sql(&k)
            } else {
                model_column(key).to_string()
            };
            // Models without the value sort last either way.
            sql.order
                .push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"));
            sql.order
                .push(format!("{column} {}", if *asc { "ASC" } else { "DESC" }));
        }
        sql.order.push("m.creation_time DESC".into());
        sql.order.push("m.model_id ASC".into());
        let limit = sql.param(Value::Int(req.max_results as i64 + 1));
        let skip = sql.param(Value::Int(offset as i64));
        let query = format!(
            "SELECT m.model_id FROM logged_models m WHERE {} ORDER BY {} LIMIT {limit} OFFSET {skip}",
            sql.wheres.join(" AND "),
            sql.order.join(", ")
        );
        let (models, more) = self.read(|c| {
            let mut ids: Vec<String> = c
                .query(&query, &sql.params)?
                .iter()
                .map(|r| text(r, 0))
                .collect();
            let more = ids.len() > req.max_results;
            ids.truncate(req.max_results);
            Ok((Self::load_logged_models(c, &ids)?, more))
        })?;
        Ok((models, more.then(|| encode_token(offset + req.max_results))))
    }

    pub(super) fn lm_set_tags(&self, model_id: &str, tags: &[(String, String)]) -> Result<()> {
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            Self::write_model_tags(c, model_id, tags)?;
            Self::touch_model(c, model_id)
        })
    }

    pub(super) fn lm_delete_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            let n = c.execute(
                "DELETE FROM logged_model_tags WHERE model_id = ?1 AND key = ?2",
                &[model_id.into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!(
                    "tag {key:?} of logged model {model_id}"
                )));
            }
            Self::touch_model(c, model_id)
        })
    }

    pub(super) fn lm_log_params(&self, model_id: &str, params: &[(String, String)]) -> Result<()> {
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            Self::write_model_params(c, model_id, params)?;
            Self::touch_model(c, model_id)
        })
    }

    pub(super) fn lm_log_metrics(
        &self,
        model_id: &str,
        metrics: &[LoggedModelMetric],
    ) -> Result<()> {
        for m in metrics {
            validate_key("metric", &m.key)?;
        }
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            for m in metrics {
                let nan = m.point.value.is_nan();
                let value = if nan {
                    Value::Null
                } else {
                    Value::Real(m.point.value)
                };
                // A replayed request (the client retries) records nothing twice.
                let same = c.query(
                    "SELECT 1 FROM logged_model_metrics WHERE model_id = ?1 AND key = ?2 \
                     AND step = ?3 AND timestamp = ?4 AND is_nan = ?5 \
                     AND (value = ?6 OR (value IS NULL AND ?6 IS NULL))",
                    &[
                        model_id.into(),
                        m.key.as_str().into(),
                        Value::Int(m.point.step),
                        Value::Int(m.point.timestamp),
                        Value::Int(nan as i64),
                        value.clone(),
                    ],
                )?;
                if !same.is_empty() {
                    continue;
                }
                c.execute(
                    "INSERT INTO logged_model_metrics (model_id, key, step, timestamp, value, \
                     is_nan, run_id, dataset_name, dataset_digest) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    &[
                        model_id.into(),
                        m.key.as_str().into(),
                        Value::Int(m.point.step),
                        Value::Int(m.point.timestamp),
                        value,
                        Value::Int(nan as i64),
                        m.run_id.clone().into(),
                        m.dataset_name.clone().into(),
                        m.dataset_digest.clone().into(),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The live model versions whose files are this logged model's (registered from
    /// `models:/<id>` or its artifact location), as `name version N`: a logged model a
    /// version pins is neither deleted nor purged, or the version would no longer load.
    fn pinning_versions(c: &mut dyn Conn, model_id: &str) -> Result<Vec<String>> {
        Ok(c.query(
            "SELECT name, version FROM model_versions WHERE deleted = 0 \
                 AND (model_id = ?1 OR storage_location LIKE ?2) ORDER BY name, version",
            &[
                model_id.into(),
                format!("%/models/{model_id}/artifacts%").into(),
            ],
        )?
        .iter()
        .map(|r| format!("{} version {}", text(r, 0), int(r, 1)))
        .collect())
    }

    pub(super) fn lm_delete(&self, model_id: &str) -> Result<()> {
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            let pins = Self::pinning_versions(c, model_id)?;
            if !pins.is_empty() {
                return Err(TrackError::Conflict(format!(
                    "logged model {model_id} holds the files of registered {}: delete those \
                     versions first",
                    pins.join(", ")
                )));
            }
            c.execute(
                "UPDATE logged_models SET lifecycle = 'deleted', deleted_time = ?1, \
                 last_update_time = ?1 WHERE model_id = ?2",
                &[Value::Int(now_ms()), model_id.into()],
            )?;
            Ok(())
        })
    }

    pub(super) fn lm_record_artifact(&self, model_id: &str, record: &ArtifactRecord) -> Result<()> {
        crate::artifacts::validate_artifact_path(&record.path)?;
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            c.execute(
                "INSERT INTO logged_model_artifacts (model_id, path, sha256, size, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (model_id, path) DO UPDATE SET \
                 sha256 = excluded.sha256, size = excluded.size, created = excluded.created",
                &[
                    model_id.into(),
                    record.path.as_str().into(),
                    record.sha256.as_str().into(),
                    Value::Int(record.size),
                    Value::Int(now_ms()),
                ],
            )?;
            Ok(())
        })
    }

    pub(super) fn lm_list_artifacts(&self, model_id: &str) -> Result<Vec<ArtifactRecord>> {
        self.read(|c| {
            Self::require_live_model(c, model_id)?;
            Ok(c.query(
                "SELECT path, sha256, size FROM logged_model_artifacts WHERE model_id = ?1 \
                 ORDER BY path",
                &[model_id.into()],
            )?
            .iter()
            .map(|r| ArtifactRecord {
                path: text(r, 0),
                sha256: text(r, 1),
                size: int(r, 2),
            })
            .collect())
        })
    }

    pub(super) fn lm_delete_artifact(&self, model_id: &str, path: &str) -> Result<bool> {
        self.write(|c| {
            Self::require_live_model(c, model_id)?;
            let n = c.execute(
                "DELETE FROM logged_model_artifacts WHERE model_id = ?1 AND path = ?2",
                &[model_id.into(), path.into()],
            )?;
            Ok(n > 0)
        })
    }

    pub(super) fn lm_log_outputs(&self, run_id: &str, outputs: &[(String, i64)]) -> Result<()> {
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            for (model_id, step) in outputs {
                Self::require_live_model(c, model_id)?;
                c.execute(
                    "INSERT INTO run_outputs (run_id, model_id, step) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step",
                    &[run_id.into(), model_id.into(), Value::Int(*step)],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn lm_run_outputs(&self, run_ids: &[String]) -> Result<Vec<RunOutput>> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|c| {
            let mut out = Vec::new();
            for chunk in run_ids.chunks(500) {
                let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
                let params: Vec<Value> = chunk.iter().map(Value::from).collect();
                for r in c.query(
                    &format!(
                        "SELECT run_id, model_id, step FROM run_outputs WHERE run_id IN ({}) \
                         ORDER BY run_id, model_id",
                        marks.join(",")
                    ),
                    &params,
                )? {
                    out.push(RunOutput {
                        run_id: text(&r, 0),
                        model_id: text(&r, 1),
                        step: int(&r, 2),
                    });
                }
            }
            Ok(out)
        })
    }

    /// Deletes soft-deleted logged models (deleted at least `min_age_ms` ago) with their tags,
    /// params, metrics, artifact records and run outputs; returns their ids. Their blobs are
    /// freed by the next `hone gc` once no record refers to them.
    pub(super) fn lm_purge(&self, min_age_ms: i64) -> Result<Vec<String>> {
        let cutoff = now_ms() - min_age_ms;
        self.write(|c| {
            let ids: Vec<String> = c
                .query(
                    "SELECT model_id FROM logged_models WHERE lifecycle = 'deleted' \
                     AND deleted_time <= ?1 ORDER BY model_id",
                    &[Value::Int(cutoff)],
                )?
                .iter()
                .map(|r| text(r, 0))
                .collect();
            // A model a live version still pins (deleted before it was registered) stays.
            let mut purged = Vec::with_capacity(ids.len());
            for id in ids {
                if Self::pinning_versions(c, &id)?.is_empty() {
                    purged.push(id);
                }
            }
            let ids = purged;
            for id in &ids {
                for table in [
                    "logged_model_tags",
                    "logged_model_params",
                    "logged_model_metrics",
                    "logged_model_artifacts",
                    "run_outputs",
                    "logged_models",
                ] {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE model_id = ?1"),
                        &[id.into()],
                    )?;
                }
            }
            Ok(ids)
        })
    }
}
