//! [`Store`] for [`SqlStore`]: experiments, runs and their data, and search (compiled by
//! [`search_sql`](crate::search_sql)).

use super::{
    OwnerColumns, RUN_COLUMNS, SqlStore, generated_name, metric_value, run_info, truncate,
};
use crate::db::{Db, Value, int, text};
use crate::filter::{OrderBy, parse_filter, parse_order_by};
use crate::model::*;
use crate::search_sql::{decode_token, encode_token, matching_run_ids};
use crate::store::{Batch, LoggedModelSearch, MAX_PAGE, NewRun, SearchRequest, Store, new_run_id};
use crate::{Result, TrackError, now_ms};

impl<D: Db> Store for SqlStore<D> {
    fn location(&self) -> String {
        self.db.location()
    }

    fn create_experiment(&self, name: &str, tags: &[(String, String)]) -> Result<String> {
        if name.trim().is_empty() || name.len() > 500 {
            return Err(TrackError::Invalid(
                "experiment names must be 1 to 500 characters".into(),
            ));
        }
        self.write(|c| {
            if !c
                .query("SELECT 1 FROM experiments WHERE name = ?1", &[name.into()])?
                .is_empty()
            {
                return Err(TrackError::Invalid(format!(
                    "an experiment named {name:?} already exists"
                )));
            }
            let now = now_ms();
            let rows = c.query(
                "INSERT INTO experiments (name, lifecycle, creation_time, last_update_time) \
                 VALUES (?1, 'active', ?2, ?2) RETURNING experiment_id",
                &[name.into(), Value::Int(now)],
            )?;
            let id = rows
                .first()
                .map(|r| int(r, 0))
                .ok_or_else(|| TrackError::Db("no id returned".into()))?;
            for (k, v) in tags {
                c.execute(
                    "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)",
                    &[Value::Int(id), k.into(), v.into()],
                )?;
            }
            Ok(id.to_string())
        })
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let idv = Self::experiment_id(id)?;
        self.read(|c| Self::load_experiments(c, "experiment_id = ?1", std::slice::from_ref(&idv)))?
            .into_iter()
            .next()
            .ok_or_else(|| TrackError::NotFound(format!("experiment {id}")))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        Ok(self
            .read(|c| Self::load_experiments(c, "name = ?1", &[name.into()]))?
            .into_iter()
            .next())
    }

    fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if let Some(e) = self.get_experiment_by_name(name)? {
            if e.lifecycle == Lifecycle::Deleted {
                self.set_experiment_lifecycle(&e.experiment_id, Lifecycle::Active)?;
            }
            return Ok(e.experiment_id);
        }
        match self.create_experiment(name, &[]) {
            Ok(id) => Ok(id),
            // Another process created it in between.
            Err(_) => self
                .get_experiment_by_name(name)?
                .map(|e| e.experiment_id)
                .ok_or_else(|| TrackError::Db(format!("could not create experiment {name:?}"))),
        }
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        self.read(|c| Self::load_experiments(c, &view.sql("lifecycle"), &[]))
    }

    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        let idv = Self::experiment_id(id)?;
        self.write(|c| {
            if !c
                .query(
                    "SELECT 1 FROM experiments WHERE name = ?1 AND experiment_id <> ?2",
                    &[new_name.into(), idv.clone()],
                )?
                .is_empty()
            {
                return Err(TrackError::Invalid(format!(
                    "an experiment named {new_name:?} already exists"
                )));
            }
            let n = c.execute(
                "UPDATE experiments SET name = ?1, last_update_time = ?2 WHERE experiment_id = ?3",
                &[new_name.into(), Value::Int(now_ms()), idv.clone()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!("experiment {id}")));
            }
            Ok(())
        })
    }

    fn set_experiment_lifecycle(&self, id: &str, lifecycle: Lifecycle) -> Result<()> {
        let idv = Self::experiment_id(id)?;
        self.write(|c| {
            let deleted = (lifecycle == Lifecycle::Deleted).then(now_ms);
            let n = c.execute(
                "UPDATE experiments SET lifecycle = ?1, deleted_time = ?2, last_update_time = ?3 WHERE experiment_id = ?4",
                &[lifecycle.as_str().into(), deleted.into(), Value::Int(now_ms()), idv.clone()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!("experiment {id}")));
            }
            Ok(())
        })
    }

    fn create_run(&self, new: NewRun) -> Result<RunInfo> {
        let exp = Self::experiment_id(&new.experiment_id)?;
        let run_id = new_run_id();
        let name = new.name.clone().unwrap_or_else(generated_name);
        let user = new.user_id.clone().unwrap_or_else(crate::env::current_user);
        let now = now_ms();
        let status = new.status.unwrap_or(RunStatus::Running);
        let owner = OwnerColumns::of(new.owner.as_ref(), now);
        self.write(|c| {
            let e = c.query(
                "SELECT lifecycle FROM experiments WHERE experiment_id = ?1",
                std::slice::from_ref(&exp),
            )?;
            match e.first() {
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
                _ => {}
            }
            if let Some(parent) = &new.parent_run_id
                && c.query("SELECT 1 FROM runs WHERE run_id = ?1", &[parent.into()])?
                    .is_empty()
            {
                return Err(TrackError::NotFound(format!("parent run {parent}")));
            }
            c.execute(
                "INSERT INTO runs (run_id, experiment_id, name, parent_run_id, status, start_time, \
                 user_id, lifecycle, owner_host, owner_pid, owner_start, heartbeat, lease_id, \
                 lease_expires) \
                 VALUES (?1, ?2, ?3, ?4, ?10, ?5, ?6, 'active', ?7, ?8, ?9, ?5, ?11, ?12)",
                &[
                    run_id.as_str().into(),
                    exp.clone(),
                    name.as_str().into(),
                    new.parent_run_id.clone().into(),
                    Value::Int(now),
                    user.as_str().into(),
                    owner.host.clone(),
                    owner.pid.clone(),
                    owner.start.clone(),
                    status.as_str().into(),
                    owner.lease_id.clone(),
                    owner.expires.clone(),
                ],
            )?;
            let mut tags = new.tags.clone();
            tags.push(("mlflow.runName".into(), name.clone()));
            if let Some(p) = &new.parent_run_id {
                tags.push(("mlflow.parentRunId".into(), p.clone()));
            }
            Self::write_batch(
                c,
                &Batch {
                    run_id: run_id.clone(),
                    tags,
                    ..Default::default()
                },
            )
        })?;
        Ok(RunInfo {
            run_id,
            experiment_id: new.experiment_id,
            run_name: name,
            parent_run_id: new.parent_run_id,
            status,
            start_time: now,
            end_time: None,
            user_id: user,
            lifecycle: Lifecycle::Active,
        })
    }

    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE runs SET status = ?1, end_time = ?2 WHERE run_id = ?3",
                &[status.as_str().into(), Value::Int(now_ms()), run_id.into()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!("run {run_id}")));
            }
            Ok(())
        })
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.read(|c| Self::load_runs(c, &[run_id.to_string()]))?
            .into_iter()
            .next()
            .ok_or_else(|| TrackError::NotFound(format!("run {run_id}")))
    }

    fn child_runs(&self, parent_run_id: &str) -> Result<Vec<RunInfo>> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.parent_run_id = ?1 ORDER BY r.start_time, r.name"),
                &[parent_run_id.into()],
            )?;
            if rows.is_empty() {
                Self::require_run(c, parent_run_id)?;
            }
            rows.iter().map(run_info).collect()
        })
    }

    fn log_batches(&self, batches: &[Batch]) -> Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        self.write(|c| {
            for b in batches {
                Self::write_batch(c, b)?;
            }
            Ok(())
        })
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_id = ?1 AND key = ?2 \
                 ORDER BY step, timestamp",
                &[run_id.into(), key.into()],
            )?;
            if rows.is_empty() {
                Self::require_run(c, run_id)?;
            }
            Ok(rows
                .iter()
                .map(|r| MetricPoint {
                    value: metric_value(r, 0, 1),
                    timestamp: int(r, 2),
                    step: int(r, 3),
                })
                .collect())
        })
    }

    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            for d in datasets {
                if d.context.len() > MAX_DATASET_CONTEXT || d.context.chars().any(char::is_control) {
                    return Err(TrackError::Invalid(format!(
                        "dataset context must be at most {MAX_DATASET_CONTEXT} characters without \
                         control characters, got {:?}",
                        truncate(&d.context, 40)
                    )));
                }
                c.execute(
                    "INSERT INTO datasets (name, digest, source, schema_json, rows, source_type, profile) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name, digest, source) DO NOTHING",
                    &[d.name.as_str().into(), d.digest.as_str().into(), d.source.as_str().into(), d.schema.as_str().into(), Value::Int(d.rows), d.source_type.as_str().into(), d.profile.as_str().into()],
                )?;
                let id = c.query(
                    "SELECT dataset_id FROM datasets WHERE name = ?1 AND digest = ?2 AND source = ?3",
                    &[d.name.as_str().into(), d.digest.as_str().into(), d.source.as_str().into()],
                )?;
                let id = id.first().map(|r| int(r, 0)).ok_or_else(|| TrackError::Db("dataset row missing".into()))?;
                c.execute(
                    "INSERT INTO run_inputs (run_id, dataset_id, context) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    &[run_id.into(), Value::Int(id), d.context.as_str().into()],
                )?;
            }
            Ok(())
        })
    }

    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT d.name, d.digest, d.source, d.schema_json, d.rows, ri.context, d.source_type, d.profile FROM run_inputs ri \
                 JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ri.run_id = ?1 ORDER BY ri.context, d.name",
                &[run_id.into()],
            )?;
            if rows.is_empty() {
                Self::require_run(c, run_id)?;
            }
            Ok(rows
            .iter()
            .map(|r| DatasetInput {
                name: text(r, 0),
                digest: text(r, 1),
                source: text(r, 2),
                schema: text(r, 3),
                rows: int(r, 4),
                context: text(r, 5),
                source_type: text(r, 6),
                profile: text(r, 7),
            })
            .collect())
        })
    }

    fn inputs_of_runs(&self, run_ids: &[String]) -> Result<Vec<(String, DatasetInput)>> {
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
                        "SELECT ri.run_id, d.name, d.digest, d.source, d.schema_json, d.rows, \
                         ri.context, d.source_type, d.profile FROM run_inputs ri \
                         JOIN datasets d ON d.dataset_id = ri.dataset_id \
                         WHERE ri.run_id IN ({}) ORDER BY ri.run_id, ri.context, d.name",
                        marks.join(",")
                    ),
                    &params,
                )? {
                    out.push((
                        text(&r, 0),
                        DatasetInput {
                            name: text(&r, 1),
                            digest: text(&r, 2),
                            source: text(&r, 3),
                            schema: text(&r, 4),
                            rows: int(&r, 5),
                            context: text(&r, 6),
                            source_type: text(&r, 7),
                            profile: text(&r, 8),
                        },
                    ));
                }
            }
            Ok(out)
        })
    }

    fn record_artifact(&self, run_id: &str, record: &ArtifactRecord) -> Result<()> {
        crate::artifacts::validate_artifact_path(&record.path)?;
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            c.execute(
                "INSERT INTO artifacts (run_id, path, sha256, size, created) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, created = excluded.created",
                &[run_id.into(), record.path.as_str().into(), record.sha256.as_str().into(), Value::Int(record.size), Value::Int(now_ms())],
            )?;
            Ok(())
        })
    }

    fn delete_artifact(&self, run_id: &str, path: &str) -> Result<bool> {
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            let n = c.execute(
                "DELETE FROM artifacts WHERE run_id = ?1 AND path = ?2",
                &[run_id.into(), path.into()],
            )?;
            Ok(n > 0)
        })
    }

    fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRecord>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT path, sha256, size FROM artifacts WHERE run_id = ?1 ORDER BY path",
                &[run_id.into()],
            )?;
            if rows.is_empty() {
                Self::require_run(c, run_id)?;
            }
            Ok(rows
                .iter()
                .map(|r| ArtifactRecord {
                    path: text(r, 0),
                    sha256: text(r, 1),
                    size: int(r, 2),
                })
                .collect())
        })
    }

    fn search_runs(&self, req: &SearchRequest) -> Result<(Vec<Run>, Option<String>)> {
        if req.max_results == 0 || req.max_results > MAX_PAGE {
            return Err(TrackError::Invalid(format!(
                "max_results must be between 1 and {MAX_PAGE}, got {}",
                req.max_results
            )));
        }
        let clauses = parse_filter(&req.filter)?;
        let orders: Vec<OrderBy> = req
            .order_by
            .iter()
            .map(|o| parse_order_by(o))
            .collect::<Result<_>>()?;
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
        let (runs, more) = self.read(|c| {
            let mut ids = matching_run_ids(
                c,
                &exp_ids,
                req.view,
                &clauses,
                &orders,
                offset,
                req.max_results + 1,
            )?;
            let more = ids.len() > req.max_results;
            ids.truncate(req.max_results);
            Ok((Self::load_runs(c, &ids)?, more))
        })?;
        let next = more.then(|| encode_token(offset + req.max_results));
        Ok((runs, next))
    }

    fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            let removed = c.execute(
                "DELETE FROM tags WHERE run_id = ?1 AND key = ?2",
                &[run_id.into(), key.into()],
            )?;
            if removed == 0 {
                return Err(TrackError::NotFound(format!("tag {key:?} of run {run_id}")));
            }
            Ok(())
        })
    }

    fn set_run_lifecycle(&self, run_id: &str, lifecycle: Lifecycle) -> Result<()> {
        let now = now_ms();
        self.write(|c| Self::set_lifecycle(c, run_id, lifecycle, now))
    }

    fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        validate_key("experiment tag", key)?;
        let chars = value.chars().count();
        if chars > crate::model::MAX_EXPERIMENT_TAG_VALUE {
            return Err(TrackError::Invalid(format!(
                "experiment tag {key:?} has a value of {chars} characters; the limit is {}",
                crate::model::MAX_EXPERIMENT_TAG_VALUE
            )));
        }
        let idv = Self::experiment_id(experiment_id)?;
        self.write(|c| {
            let found = c.query(
                "SELECT lifecycle FROM experiments WHERE experiment_id = ?1",
                std::slice::from_ref(&idv),
            )?;
            match found.first().map(|r| text(r, 0)) {
                None => return Err(TrackError::NotFound(format!("experiment {experiment_id}"))),
                Some(l) if l != "active" => {
                    return Err(TrackError::Invalid(format!(
                        "experiment {experiment_id} is deleted: restore it before tagging it"
                    )));
                }
                Some(_) => {}
            }
            c.execute(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                &[idv.clone(), key.into(), value.into()],
            )?;
            c.execute(
                "UPDATE experiments SET last_update_time = ?1 WHERE experiment_id = ?2",
                &[Value::Int(now_ms()), idv.clone()],
            )?;
            Ok(())
        })
    }

    fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let idv = Self::experiment_id(experiment_id)?;
        self.write(|c| {
            if c.query(
                "SELECT 1 FROM experiments WHERE experiment_id = ?1",
                std::slice::from_ref(&idv),
            )?
            .is_empty()
            {
                return Err(TrackError::NotFound(format!("experiment {experiment_id}")));
            }
            let removed = c.execute(
                "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2",
                &[idv.clone(), key.into()],
            )?;
            if removed == 0 {
                return Err(TrackError::NotFound(format!(
                    "tag {key:?} of experiment {experiment_id}"
                )));
            }
            Ok(())
        })
    }

    fn rename_run(&self, run_id: &str, name: &str) -> Result<()> {
        // The name is also the `mlflow.runName` tag's value: the same limit applies.
        if name.chars().count() > MAX_TAG_VALUE {
            return Err(TrackError::Invalid(format!(
                "run name is longer than {MAX_TAG_VALUE} characters"
            )));
        }
        self.write(|c| {
            Self::check_run_active(c, run_id)?;
            c.execute(
                "UPDATE runs SET name = ?1 WHERE run_id = ?2",
                &[name.into(), run_id.into()],
            )?;
            c.execute(
                "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                &[run_id.into(), "mlflow.runName".into(), name.into()],
            )?;
            Ok(())
        })
    }

    fn create_logged_model(&self, new: NewLoggedModel) -> Result<LoggedModel> {
        self.lm_create(new)
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.lm_get(model_id)
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        self.lm_finalize(model_id, status)
    }

    fn search_logged_models(
        &self,
        req: &LoggedModelSearch,
    ) -> Result<(Vec<LoggedModel>, Option<String>)> {
        self.lm_search(req)
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &[(String, String)]) -> Result<()> {
        self.lm_set_tags(model_id, tags)
    }

    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.lm_delete_tag(model_id, key)
    }

    fn log_logged_model_params(&self, model_id: &str, params: &[(String, String)]) -> Result<()> {
        self.lm_log_params(model_id, params)
    }

    fn log_logged_model_metrics(
        &self,
        model_id: &str,
        metrics: &[LoggedModelMetric],
    ) -> Result<()> {
        self.lm_log_metrics(model_id, metrics)
    }

    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.lm_delete(model_id)
    }

    fn record_logged_model_artifact(&self, model_id: &str, record: &ArtifactRecord) -> Result<()> {
        self.lm_record_artifact(model_id, record)
    }

    fn list_logged_model_artifacts(&self, model_id: &str) -> Result<Vec<ArtifactRecord>> {
        self.lm_list_artifacts(model_id)
    }

    fn delete_logged_model_artifact(&self, model_id: &str, path: &str) -> Result<bool> {
        self.lm_delete_artifact(model_id, path)
    }

    fn log_outputs(&self, run_id: &str, outputs: &[(String, i64)]) -> Result<()> {
        self.lm_log_outputs(run_id, outputs)
    }

    fn run_outputs(&self, run_ids: &[String]) -> Result<Vec<RunOutput>> {
        self.lm_run_outputs(run_ids)
    }
}
