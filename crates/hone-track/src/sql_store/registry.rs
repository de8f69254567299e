//! [`Registry`] for [`SqlStore`]: MLflow's model registry on the schema's version 4 and 5 tables.
//!
//! Every write that touches a model's versions, aliases or stages begins by updating the
//! model's own row (`last_updated_time`, or the `last_version` counter). On PostgreSQL that
//! takes the row lock, so concurrent writers of one model run one after another and each
//! re-reads the state its predecessor committed (READ COMMITTED gives every later statement a
//! fresh snapshot); on SQLite the whole transaction already holds the write lock
//! (`BEGIN IMMEDIATE`). Checks made after that first statement are therefore compare-and-set.

use super::{SqlStore, truncate};
use crate::db::{Conn, Db, Row, Value, int, opt_int, opt_text, text};
use crate::model::validate_key;
use crate::registry::{
    AuditEntry, MAX_DESCRIPTION, MAX_REGISTRY_TAG_VALUE, ModelVersion, NewEvent, NewModelVersion,
    PRODUCTION_ALIAS, RegisteredModel, Registry, Stage, Transition, parse_semver, run_artifact_uri,
    stage_path, validate_event_action, validate_model_name, validate_user_alias,
};
use crate::{Result, TrackError, now_ms};

/// Status of every version hone registers (MLflow's `ModelVersionStatus.READY`): the
/// registration is one transaction, so it is never pending.
const READY: &str = "READY";

const VERSION_COLUMNS: &str = "name, version, semver, source_run_id, status, current_stage, \
     description, user_id, creation_time, last_updated_time, source, run_link, model_id, \
     storage_location";

use crate::env::current_user;

/// A stored version number as the API's `u32` (the store only holds numbers it allocated
/// from 1 up, so the fallback is never taken).
fn version_of(row: &Row, i: usize) -> u32 {
    u32::try_from(int(row, i)).unwrap_or(0)
}

fn version_not_found(name: &str, version: u32) -> TrackError {
    TrackError::NotFound(format!("version {version} of registered model {name}"))
}

fn model_not_found(name: &str) -> TrackError {
    TrackError::NotFound(format!("registered model {name}"))
}

impl<D: Db> SqlStore<D> {
    /// Updates the model's `last_updated_time`, which takes its row lock (see the module
    /// comment); `registered model <name> not found` when it does not exist.
    fn lock_model(c: &mut dyn Conn, name: &str, now: i64) -> Result<()> {
        let n = c.execute(
            "UPDATE registered_models SET last_updated_time = ?1 WHERE name = ?2",
            &[Value::Int(now), name.into()],
        )?;
        if n == 0 {
            return Err(model_not_found(name));
        }
        Ok(())
    }

    /// Appends one audit entry without details (see [`Self::audit_with`]).
    // One argument per column: a struct would be built once per call site and add nothing.
    #[allow(clippy::too_many_arguments)]
    fn audit(
        c: &mut dyn Conn,
        name: &str,
        version: Option<u32>,
        action: &str,
        from: Option<&str>,
        to: Option<&str>,
        user: &str,
        now: i64,
        reason: &str,
    ) -> Result<()> {
        Self::audit_with(c, name, version, action, from, to, user, now, reason, "").map(|_| ())
    }

    /// Appends one audit entry and returns its id (the log's only writer: nothing updates or
    /// deletes an entry).
    #[allow(clippy::too_many_arguments)]
    fn audit_with(
        c: &mut dyn Conn,
        name: &str,
        version: Option<u32>,
        action: &str,
        from: Option<&str>,
        to: Option<&str>,
        user: &str,
        now: i64,
        reason: &str,
        details: &str,
    ) -> Result<i64> {
        let rows = c.query(
            "INSERT INTO registry_audit (name, version, action, from_value, to_value, user_id, \
             time, reason, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            &[
                name.into(),
                version.map(i64::from).into(),
                action.into(),
                from.into(),
                to.into(),
                user.into(),
                Value::Int(now),
                reason.into(),
                details.into(),
            ],
        )?;
        Ok(rows.first().map_or(0, |r| int(r, 0)))
    }

    /// Points `alias` at `version` (or removes it, `None`) and audits the move with the alias
    /// as the entry's reason; nothing is written when it already points there.
    fn move_alias(
        c: &mut dyn Conn,
        name: &str,
        alias: &str,
        version: Option<u32>,
        user: &str,
        now: i64,
    ) -> Result<()> {
        let before = c
            .query(
                "SELECT version FROM registered_model_aliases WHERE name = ?1 AND alias = ?2",
                &[name.into(), alias.into()],
            )?
            .first()
            .map(|r| version_of(r, 0));
        if before == version {
            return Ok(());
        }
        let from = before.map(|v| v.to_string());
        match version {
            Some(v) => {
                c.execute(
                    "INSERT INTO registered_model_aliases (name, alias, version) \
                     VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                    &[name.into(), alias.into(), Value::Int(i64::from(v))],
                )?;
                let to = v.to_string();
                Self::audit(
                    c,
                    name,
                    Some(v),
                    "set_alias",
                    from.as_deref(),
                    Some(&to),
                    user,
                    now,
                    alias,
                )
            }
            None => {
                c.execute(
                    "DELETE FROM registered_model_aliases WHERE name = ?1 AND alias = ?2",
                    &[name.into(), alias.into()],
                )?;
                Self::audit(
                    c,
                    name,
                    before,
                    "delete_alias",
                    from.as_deref(),
                    None,
                    user,
                    now,
                    alias,
                )
            }
        }
    }

    fn load_models(
        c: &mut dyn Conn,
        where_sql: &str,
        params: &[Value],
    ) -> Result<Vec<RegisteredModel>> {
        let rows = c.query(
            &format!(
                "SELECT name, description, creation_time, last_updated_time, user_id \
                 FROM registered_models WHERE {where_sql} ORDER BY name"
            ),
            params,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name = text(&r, 0);
            let tags = c
                .query(
                    "SELECT key, value FROM registered_model_tags WHERE name = ?1 ORDER BY key",
                    &[name.as_str().into()],
                )?
                .iter()
                .map(|t| (text(t, 0), text(t, 1)))
                .collect();
            let aliases = c
                .query(
                    "SELECT alias, version FROM registered_model_aliases WHERE name = ?1 \
                     ORDER BY alias",
                    &[name.as_str().into()],
                )?
                .iter()
                .map(|a| (text(a, 0), version_of(a, 1)))
                .collect();
            out.push(RegisteredModel {
                name,
                description: text(&r, 1),
                creation_time: int(&r, 2),
                last_updated_time: int(&r, 3),
                user_id: text(&r, 4),
                tags,
                aliases,
            });
        }
        Ok(out)
    }

    /// Live (not deleted) versions matching `where_sql`, by model then number, with their
    /// tags and aliases.
    fn load_versions(
        c: &mut dyn Conn,
        where_sql: &str,
        params: &[Value],
    ) -> Result<Vec<ModelVersion>> {
        let rows = c.query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM model_versions WHERE deleted = 0 AND ({where_sql}) \
                 ORDER BY name, version"
            ),
            params,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let key: [Value; 2] = [text(&r, 0).into(), Value::Int(int(&r, 1))];
            let tags = c
                .query(
                    "SELECT key, value FROM model_version_tags WHERE name = ?1 AND version = ?2 \
                     ORDER BY key",
                    &key,
                )?
                .iter()
                .map(|t| (text(t, 0), text(t, 1)))
                .collect();
            let aliases = c
                .query(
                    "SELECT alias FROM registered_model_aliases WHERE name = ?1 AND version = ?2 \
                     ORDER BY alias",
                    &key,
                )?
                .iter()
                .map(|a| text(a, 0))
                .collect();
            out.push(ModelVersion {
                name: text(&r, 0),
                version: version_of(&r, 1),
                semver: opt_text(&r, 2),
                source_run_id: text(&r, 3),
                status: text(&r, 4),
                current_stage: Stage::parse(&text(&r, 5))?,
                description: text(&r, 6),
                user_id: text(&r, 7),
                creation_time: int(&r, 8),
                last_updated_time: int(&r, 9),
                source: text(&r, 10),
                run_link: text(&r, 11),
                model_id: text(&r, 12),
                storage_location: text(&r, 13),
                tags,
                aliases,
            });
        }
        Ok(out)
    }

    fn load_version(c: &mut dyn Conn, name: &str, version: u32) -> Result<ModelVersion> {
        Self::load_versions(
            c,
            "name = ?1 AND version = ?2",
            &[name.into(), Value::Int(i64::from(version))],
        )?
        .into_iter()
        .next()
        .ok_or_else(|| version_not_found(name, version))
    }

    /// The model's current production version: the highest live version in Production.
    fn production(c: &mut dyn Conn, name: &str) -> Result<Option<u32>> {
        let rows = c.query(
            "SELECT MAX(version) FROM model_versions WHERE name = ?1 AND deleted = 0 \
             AND current_stage = 'Production'",
            &[name.into()],
        )?;
        Ok(rows
            .first()
            .and_then(|r| opt_int(r, 0))
            .and_then(|v| u32::try_from(v).ok()))
    }

    /// One stage change of `t.version` from `from` to `to`, under the model's lock: checks the
    /// matrix, displaces the versions that leave stage `to` (every other production version, or
    /// with `archive` every other version in `to`), audits each change, and moves the
    /// production alias when production is entered or left.
    fn step(
        c: &mut dyn Conn,
        t: &Transition<'_>,
        from: Stage,
        to: Stage,
        archive: bool,
        now: i64,
    ) -> Result<()> {
        from.check_move(
            to,
            &format!("version {} of registered model {}", t.version, t.name),
        )?;
        let mut changes = vec![(t.version, from, to, t.reason.to_string(), t.details)];
        // Who leaves stage `to` because of this move: every other production version
        // (hone keeps one), or with archive_existing every other version in `to`.
        let displaced_to = match (to, archive) {
            (_, true) => Some(Stage::Archived),
            (Stage::Production, false) => Some(Stage::Deprecated),
            _ => None,
        };
        if let Some(displaced_to) = displaced_to {
            let others = c.query(
                "SELECT version FROM model_versions WHERE name = ?1 AND deleted = 0 \
                 AND current_stage = ?2 AND version <> ?3 ORDER BY version",
                &[
                    t.name.into(),
                    to.as_str().into(),
                    Value::Int(i64::from(t.version)),
                ],
            )?;
            for r in others {
                changes.push((
                    version_of(&r, 0),
                    to,
                    displaced_to,
                    format!(
                        "{} by the move of version {} to {}",
                        displaced_to.name(),
                        t.version,
                        to.name()
                    ),
                    "",
                ));
            }
        }
        for (version, from, to, reason, details) in &changes {
            c.execute(
                "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2 \
                 WHERE name = ?3 AND version = ?4",
                &[
                    to.as_str().into(),
                    Value::Int(now),
                    t.name.into(),
                    Value::Int(i64::from(*version)),
                ],
            )?;
            Self::audit_with(
                c,
                t.name,
                Some(*version),
                "transition_stage",
                Some(from.as_str()),
                Some(to.as_str()),
                t.user,
                now,
                reason,
                details,
            )?;
        }
        // The production alias follows the stage, in the same transaction.
        let alias_target = if to == Stage::Production {
            Some(Some(t.version))
        } else if from == Stage::Production {
            Some(None)
        } else {
            None
        };
        if let Some(target) = alias_target {
            Self::move_alias(c, t.name, PRODUCTION_ALIAS, target, t.user, now)?;
        }
        Ok(())
    }
}

/// Refuses `archive_existing` with a target other than staging and production (MLflow's rule).
fn check_archive(t: &Transition<'_>) -> Result<()> {
    if t.archive_existing && !matches!(t.to, Stage::Staging | Stage::Production) {
        return Err(TrackError::Invalid(format!(
            "archive_existing_versions applies only to the Staging and Production stages, not {}",
            t.to.as_str()
        )));
    }
    Ok(())
}

impl<D: Db> Registry for SqlStore<D> {
    fn create_registered_model_as(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<RegisteredModel> {
        validate_model_name(name)?;
        for (k, _) in tags {
            validate_key("registered model tag", k)?;
        }
        let user = user.to_string();
        let now = now_ms();
        let description = truncate(description, MAX_DESCRIPTION);
        self.write(|c| {
            // ON CONFLICT, not a prior SELECT: two racing creators must not both pass a check.
            let n = c.execute(
                "INSERT INTO registered_models (name, description, creation_time, \
                 last_updated_time, user_id) VALUES (?1, ?2, ?3, ?3, ?4) \
                 ON CONFLICT (name) DO NOTHING",
                &[
                    name.into(),
                    description.as_str().into(),
                    Value::Int(now),
                    user.as_str().into(),
                ],
            )?;
            if n == 0 {
                return Err(TrackError::AlreadyExists(format!(
                    "registered model {name}"
                )));
            }
            for (k, v) in tags {
                c.execute(
                    "INSERT INTO registered_model_tags (name, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                    &[
                        name.into(),
                        k.into(),
                        truncate(v, MAX_REGISTRY_TAG_VALUE).into(),
                    ],
                )?;
            }
            Self::audit(c, name, None, "create_model", None, None, &user, now, "")?;
            Self::load_models(c, "name = ?1", &[name.into()])?
                .into_iter()
                .next()
                .ok_or_else(|| model_not_found(name))
        })
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|c| {
            Self::load_models(c, "name = ?1", &[name.into()])?
                .into_iter()
                .next()
                .ok_or_else(|| model_not_found(name))
        })
    }

    fn list_registered_models(&self, prefix: &str) -> Result<Vec<RegisteredModel>> {
        // substr, not LIKE: a prefix holding '%' or '_' means those characters.
        self.read(|c| {
            Self::load_models(
                c,
                "substr(name, 1, length(CAST(?1 AS TEXT))) = ?1",
                &[prefix.into()],
            )
        })
    }

    fn delete_registered_model_as(&self, name: &str, user: &str) -> Result<()> {
        let user = user.to_string();
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            // Aliases and tags reference versions; the cascades remove them, explicitly here
            // so the order never depends on how a database orders cascades.
            for sql in [
                "DELETE FROM registered_model_aliases WHERE name = ?1",
                "DELETE FROM model_version_tags WHERE name = ?1",
                "DELETE FROM model_versions WHERE name = ?1",
                "DELETE FROM registered_model_tags WHERE name = ?1",
                "DELETE FROM registered_models WHERE name = ?1",
            ] {
                c.execute(sql, &[name.into()])?;
            }
            Self::audit(c, name, None, "delete_model", None, None, &user, now, "")
        })
    }

    fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        user: &str,
    ) -> Result<RegisteredModel> {
        validate_model_name(new_name)?;
        let user = user.to_string();
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            if name == new_name {
                return Self::load_models(c, "name = ?1", &[name.into()])?
                    .into_iter()
                    .next()
                    .ok_or_else(|| model_not_found(name));
            }
            // No ON UPDATE CASCADE on the foreign keys: copy the model and its versions under
            // the new name, point the children at the copies, then drop the originals.
            let n = c.execute(
                "INSERT INTO registered_models (name, description, creation_time, \
                 last_updated_time, user_id, last_version) SELECT CAST(?1 AS TEXT), description, \
                 creation_time, last_updated_time, user_id, last_version FROM registered_models \
                 WHERE name = ?2 ON CONFLICT (name) DO NOTHING",
                &[new_name.into(), name.into()],
            )?;
            if n == 0 {
                return Err(TrackError::AlreadyExists(format!(
                    "registered model {new_name}"
                )));
            }
            let params = [new_name.into(), name.into()];
            c.execute(
                &format!(
                    "INSERT INTO model_versions ({VERSION_COLUMNS}, deleted) SELECT CAST(?1 AS TEXT), \
                     {}, deleted FROM model_versions WHERE name = ?2",
                    VERSION_COLUMNS.trim_start_matches("name, ")
                ),
                &params,
            )?;
            for sql in [
                "UPDATE model_version_tags SET name = ?1 WHERE name = ?2",
                "UPDATE registered_model_aliases SET name = ?1 WHERE name = ?2",
                "UPDATE registered_model_tags SET name = ?1 WHERE name = ?2",
            ] {
                c.execute(sql, &params)?;
            }
            for sql in [
                "DELETE FROM model_versions WHERE name = ?1",
                "DELETE FROM registered_models WHERE name = ?1",
            ] {
                c.execute(sql, &[name.into()])?;
            }
            // Under both names: each log then tells where the model went or came from.
            for under in [name, new_name] {
                Self::audit(
                    c,
                    under,
                    None,
                    "rename_model",
                    Some(name),
                    Some(new_name),
                    &user,
                    now,
                    "",
                )?;
            }
            Self::load_models(c, "name = ?1", &[new_name.into()])?
                .into_iter()
                .next()
                .ok_or_else(|| model_not_found(new_name))
        })
    }

    fn update_registered_model_description(
        &self,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel> {
        let description = truncate(description, MAX_DESCRIPTION);
        self.write(|c| {
            Self::lock_model(c, name, now_ms())?;
            c.execute(
                "UPDATE registered_models SET description = ?1 WHERE name = ?2",
                &[description.as_str().into(), name.into()],
            )?;
            Self::load_models(c, "name = ?1", &[name.into()])?
                .into_iter()
                .next()
                .ok_or_else(|| model_not_found(name))
        })
    }

    fn update_model_version_description(
        &self,
        name: &str,
        version: u32,
        description: &str,
    ) -> Result<ModelVersion> {
        let description = truncate(description, MAX_DESCRIPTION);
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            Self::load_version(c, name, version)?;
            c.execute(
                "UPDATE model_versions SET description = ?1, last_updated_time = ?2 \
                 WHERE name = ?3 AND version = ?4",
                &[
                    description.as_str().into(),
                    Value::Int(now),
                    name.into(),
                    Value::Int(i64::from(version)),
                ],
            )?;
            Self::load_version(c, name, version)
        })
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        validate_key("registered model tag", key)?;
        let value = truncate(value, MAX_REGISTRY_TAG_VALUE);
        self.write(|c| {
            Self::lock_model(c, name, now_ms())?;
            c.execute(
                "INSERT INTO registered_model_tags (name, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                &[name.into(), key.into(), value.as_str().into()],
            )?;
            Ok(())
        })
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.write(|c| {
            Self::lock_model(c, name, now_ms())?;
            let n = c.execute(
                "DELETE FROM registered_model_tags WHERE name = ?1 AND key = ?2",
                &[name.into(), key.into()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!(
                    "tag {key:?} of registered model {name}"
                )));
            }
            Ok(())
        })
    }

    fn create_model_version(&self, nv: &NewModelVersion<'_>) -> Result<ModelVersion> {
        let (name, semver, tags) = (nv.name, nv.semver, nv.tags);
        let wanted = semver.map(parse_semver).transpose()?;
        for (k, _) in tags {
            validate_key("model version tag", k)?;
        }
        let user = nv.user.map_or_else(current_user, str::to_string);
        let now = now_ms();
        let description = truncate(nv.description, MAX_DESCRIPTION);
        let source = match nv.source {
            Some(s) => s.to_string(),
            None if nv.run_id.is_empty() => {
                return Err(TrackError::Invalid(
                    "a model version needs a source or a run".into(),
                ));
            }
            None => format!("runs:/{}", nv.run_id),
        };
        self.write(|c| {
            let mut storage = nv.storage_location.map(str::to_string);
            if !nv.run_id.is_empty() {
                // A no-op update, not a SELECT: it takes the run's row lock, which purge takes
                // too before checking for versions, so a run is never purged under a new
                // version.
                let run_rows = c.query(
                    "UPDATE runs SET name = name WHERE run_id = ?1 RETURNING experiment_id",
                    &[nv.run_id.into()],
                )?;
                let Some(run) = run_rows.first() else {
                    return Err(TrackError::NotFound(format!("run {}", nv.run_id)));
                };
                if storage.is_none() {
                    storage = Some(run_artifact_uri(&int(run, 0).to_string(), nv.run_id));
                }
            }
            let storage = storage.unwrap_or_default();
            // The counter's UPDATE takes the model's row lock (PostgreSQL) inside the write
            // transaction (SQLite): concurrent registrations get consecutive numbers.
            let rows = c.query(
                "UPDATE registered_models SET last_version = last_version + 1, \
                 last_updated_time = ?1 WHERE name = ?2 RETURNING last_version",
                &[Value::Int(now), name.into()],
            )?;
            let Some(version) = rows.first().map(|r| version_of(r, 0)) else {
                return Err(model_not_found(name));
            };
            if let (Some(given), Some(wanted)) = (semver, wanted) {
                // Deleted versions count: a semver once given out means that model forever.
                let taken = c.query(
                    "SELECT semver FROM model_versions WHERE name = ?1 AND semver IS NOT NULL",
                    &[name.into()],
                )?;
                let highest = taken
                    .iter()
                    .filter_map(|r| {
                        let s = text(r, 0);
                        parse_semver(&s).ok().map(|v| (v, s))
                    })
                    .max();
                if let Some((top, top_text)) = highest
                    && wanted <= top
                {
                    return Err(TrackError::Invalid(format!(
                        "semver {given} of registered model {name} must be greater than {top_text}, \
                         its highest so far"
                    )));
                }
            }
            c.execute(
                &format!(
                    "INSERT INTO model_versions ({VERSION_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13)"
                ),
                &[
                    name.into(),
                    Value::Int(i64::from(version)),
                    semver.into(),
                    nv.run_id.into(),
                    READY.into(),
                    Stage::Development.as_str().into(),
                    description.as_str().into(),
                    user.as_str().into(),
                    Value::Int(now),
                    source.as_str().into(),
                    nv.run_link.into(),
                    nv.model_id.into(),
                    storage.as_str().into(),
                ],
            )?;
            for (k, v) in tags {
                c.execute(
                    "INSERT INTO model_version_tags (name, version, key, value) \
                     VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                    &[
                        name.into(),
                        Value::Int(i64::from(version)),
                        k.into(),
                        truncate(v, MAX_REGISTRY_TAG_VALUE).into(),
                    ],
                )?;
            }
            Self::audit(
                c,
                name,
                Some(version),
                "create_version",
                None,
                semver,
                &user,
                now,
                "",
            )?;
            Self::load_version(c, name, version)
        })
    }

    fn get_model_version(&self, name: &str, version: u32) -> Result<ModelVersion> {
        self.read(|c| Self::load_version(c, name, version))
    }

    fn get_model_version_by_semver(&self, name: &str, semver: &str) -> Result<ModelVersion> {
        self.read(|c| {
            Self::load_versions(
                c,
                "name = ?1 AND semver = ?2",
                &[name.into(), semver.into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| {
                TrackError::NotFound(format!("semver {semver} of registered model {name}"))
            })
        })
    }

    fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.read(|c| {
            Self::load_versions(
                c,
                "name = ?1 AND version = (SELECT version FROM registered_model_aliases \
                 WHERE name = ?1 AND alias = ?2)",
                &[name.into(), alias.into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| {
                TrackError::NotFound(format!("alias {alias} of registered model {name}"))
            })
        })
    }

    fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            let exists = c.query(
                "SELECT 1 FROM registered_models WHERE name = ?1",
                &[name.into()],
            )?;
            if exists.is_empty() {
                return Err(model_not_found(name));
            }
            Self::load_versions(c, "name = ?1", &[name.into()])
        })
    }

    fn all_model_versions(&self) -> Result<Vec<ModelVersion>> {
        self.read(|c| Self::load_versions(c, "1 = 1", &[]))
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: u32,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate_key("model version tag", key)?;
        let value = truncate(value, MAX_REGISTRY_TAG_VALUE);
        self.write(|c| {
            Self::lock_model(c, name, now_ms())?;
            Self::load_version(c, name, version)?;
            c.execute(
                "INSERT INTO model_version_tags (name, version, key, value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                &[
                    name.into(),
                    Value::Int(i64::from(version)),
                    key.into(),
                    value.as_str().into(),
                ],
            )?;
            Ok(())
        })
    }

    fn delete_model_version_tag(&self, name: &str, version: u32, key: &str) -> Result<()> {
        self.write(|c| {
            Self::lock_model(c, name, now_ms())?;
            Self::load_version(c, name, version)?;
            let n = c.execute(
                "DELETE FROM model_version_tags WHERE name = ?1 AND version = ?2 AND key = ?3",
                &[name.into(), Value::Int(i64::from(version)), key.into()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!(
                    "tag {key:?} of version {version} of registered model {name}"
                )));
            }
            Ok(())
        })
    }

    fn set_alias_as(&self, name: &str, alias: &str, version: u32, user: &str) -> Result<()> {
        validate_user_alias(alias)?;
        let user = user.to_string();
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            Self::load_version(c, name, version)?;
            Self::move_alias(c, name, alias, Some(version), &user, now)
        })
    }

    fn delete_alias_as(&self, name: &str, alias: &str, user: &str) -> Result<()> {
        if alias.eq_ignore_ascii_case(PRODUCTION_ALIAS) {
            // Same refusal as for setting it.
            validate_user_alias(alias)?;
        }
        let user = user.to_string();
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            let rows = c.query(
                "DELETE FROM registered_model_aliases WHERE name = ?1 AND alias = ?2 \
                 RETURNING version",
                &[name.into(), alias.into()],
            )?;
            let Some(version) = rows.first().map(|r| version_of(r, 0)) else {
                return Err(TrackError::NotFound(format!(
                    "alias {alias} of registered model {name}"
                )));
            };
            let from = version.to_string();
            Self::audit(
                c,
                name,
                Some(version),
                "delete_alias",
                Some(&from),
                None,
                &user,
                now,
                alias,
            )
        })
    }

    fn transition_stage(&self, t: &Transition<'_>) -> Result<ModelVersion> {
        check_archive(t)?;
        let now = now_ms();
        self.write(|c| {
            // The row lock first: the production check below then reads what the previous
            // holder of the lock committed, so it is a compare-and-set.
            Self::lock_model(c, t.name, now)?;
            let moved = Self::load_version(c, t.name, t.version)?;
            let production = Self::production(c, t.name)?;
            if production != t.expected_current_production {
                let show =
                    |v: Option<u32>| v.map_or("none".to_string(), |v| format!("version {v}"));
                return Err(TrackError::Conflict(format!(
                    "production of registered model {} moved: expected {}, found {}; version {} \
                     was not moved to {}",
                    t.name,
                    show(t.expected_current_production),
                    show(production),
                    t.version,
                    t.to.name()
                )));
            }
            Self::step(c, t, moved.current_stage, t.to, t.archive_existing, now)?;
            Self::load_version(c, t.name, t.version)
        })
    }

    fn transition_stage_by_path(&self, t: &Transition<'_>) -> Result<ModelVersion> {
        check_archive(t)?;
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, t.name, now)?;
            let moved = Self::load_version(c, t.name, t.version)?;
            let path = stage_path(moved.current_stage, t.to).ok_or_else(|| {
                TrackError::Invalid(format!(
                    "version {} of registered model {} is in {} and no sequence of allowed \
                     stage changes leads to {}",
                    t.version,
                    t.name,
                    moved.current_stage.as_str(),
                    t.to.as_str()
                ))
            })?;
            let mut at = moved.current_stage;
            for (i, &to) in path.iter().enumerate() {
                let last = i + 1 == path.len();
                Self::step(c, t, at, to, last && t.archive_existing, now)?;
                at = to;
            }
            Self::load_version(c, t.name, t.version)
        })
    }

    fn append_event(&self, e: &NewEvent<'_>) -> Result<AuditEntry> {
        validate_event_action(e.action)?;
        if !e.details.is_empty() {
            serde_json::from_str::<serde_json::Value>(e.details).map_err(|err| {
                TrackError::Invalid(format!("details of registry event {}: {err}", e.action))
            })?;
        }
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, e.name, now)?;
            if let Some(v) = e.version {
                Self::load_version(c, e.name, v)?;
            }
            let id = Self::audit_with(
                c, e.name, e.version, e.action, None, None, e.user, now, e.reason, e.details,
            )?;
            Ok(AuditEntry {
                id,
                name: e.name.to_string(),
                version: e.version,
                action: e.action.to_string(),
                from: None,
                to: None,
                user_id: e.user.to_string(),
                time: now,
                reason: e.reason.to_string(),
                details: e.details.to_string(),
            })
        })
    }

    fn delete_model_version_as(&self, name: &str, version: u32, user: &str) -> Result<()> {
        let user = user.to_string();
        let now = now_ms();
        self.write(|c| {
            Self::lock_model(c, name, now)?;
            let v = Self::load_version(c, name, version)?;
            if let Some(alias) = v.aliases.first() {
                return Err(TrackError::Conflict(format!(
                    "version {version} of registered model {name} is pointed at by alias \
                     {alias}; move or delete the alias first"
                )));
            }
            // A tombstone, not a DELETE: the number (and semver) stay taken.
            c.execute(
                "UPDATE model_versions SET deleted = 1, last_updated_time = ?1 \
                 WHERE name = ?2 AND version = ?3",
                &[Value::Int(now), name.into(), Value::Int(i64::from(version))],
            )?;
            c.execute(
                "DELETE FROM model_version_tags WHERE name = ?1 AND version = ?2",
                &[name.into(), Value::Int(i64::from(version))],
            )?;
            Self::audit(
                c,
                name,
                Some(version),
                "delete_version",
                Some(v.current_stage.as_str()),
                None,
                &user,
                now,
                "",
            )
        })
    }

    fn audit_log(&self, name: &str) -> Result<Vec<AuditEntry>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT id, name, version, action, from_value, to_value, user_id, time, reason, \
                 details FROM registry_audit WHERE name = ?1 ORDER BY id",
                &[name.into()],
            )?;
            Ok(rows
                .iter()
                .map(|r| AuditEntry {
                    id: int(r, 0),
                    name: text(r, 1),
                    version: opt_int(r, 2).and_then(|v| u32::try_from(v).ok()),
                    action: text(r, 3),
                    from: opt_text(r, 4),
                    to: opt_text(r, 5),
                    user_id: text(r, 6),
                    time: int(r, 7),
                    reason: text(r, 8),
                    details: text(r, 9),
                })
                .collect())
        })
    }

    fn versions_referencing_run(&self, run_id: &str) -> Result<Vec<ModelVersion>> {
        self.read(|c| Self::load_versions(c, "source_run_id = ?1", &[run_id.into()]))
    }
}
