//! [`Maintenance`] for [`SqlStore`]: what retention reads, lifecycle cascades, purge and the
//! blobs still referenced.

use std::collections::HashSet;

use super::{RUN_COLUMNS, SqlStore, run_info};
use crate::db::{Conn, Db, Value, int, text};
use crate::maintenance::{Maintenance, TaggedRun};
use crate::model::{Lifecycle, RunInfo};
use crate::{Result, TrackError, now_ms};

impl<D: Db> SqlStore<D> {
    /// `NAME/VERSION` of the first live model version registered from the run, if any.
    fn pinned_by(c: &mut dyn Conn, run_id: &str) -> Result<Option<String>> {
        Ok(c.query(
            "SELECT name, version FROM model_versions WHERE source_run_id = ?1 AND deleted = 0 \
                 ORDER BY name, version",
            &[run_id.into()],
        )?
        .first()
        .map(|r| format!("{}/{}", text(r, 0), int(r, 1))))
    }
}

impl<D: Db> Maintenance for SqlStore<D> {
    fn runs_for_retention(&self, experiment_id: &str) -> Result<Vec<TaggedRun>> {
        let exp = Self::experiment_id(experiment_id)?;
        self.read(|c| {
            let infos: Vec<RunInfo> = c
                .query(
                    &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.experiment_id = ?1 AND r.parent_run_id IS NULL ORDER BY r.start_time DESC, r.run_id"),
                    std::slice::from_ref(&exp),
                )?
                .iter()
                .map(run_info)
                .collect::<Result<_>>()?;
            let mut out = Vec::with_capacity(infos.len());
            for info in infos {
                let mut tags: Vec<(String, String)> = c
                    .query("SELECT key, value FROM tags WHERE run_id = ?1", &[info.run_id.as_str().into()])?
                    .iter()
                    .map(|t| (text(t, 0), text(t, 1)))
                    .collect();
                if let Some(by) = Self::pinned_by(c, &info.run_id)? {
                    tags.push((crate::keys::PINNED_BY.to_string(), by));
                }
                out.push((info, tags));
            }
            Ok(out)
        })
    }

    fn set_runs_lifecycle_cascade(
        &self,
        run_ids: &[String],
        lifecycle: Lifecycle,
    ) -> Result<usize> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        // One transaction: a missing run (or any failure) rolls back the runs changed before
        // it, so a cascade is never half done.
        self.write(|c| {
            let mut changed = 0;
            for id in run_ids {
                Self::set_lifecycle(c, id, lifecycle, now)?;
                changed += 1;
                // After the update, which holds the run's row lock (see purge below).
                if lifecycle == Lifecycle::Deleted
                    && let Some(by) = Self::pinned_by(c, id)?
                {
                    return Err(TrackError::Conflict(format!(
                        "run {id} is pinned by model version {by}: delete that version first \
                         (`hone models delete-version`); nothing was deleted"
                    )));
                }
                // Direct children, as `hone runs delete` and retention always cascaded.
                let children: Vec<String> = c
                    .query(
                        "SELECT run_id FROM runs WHERE parent_run_id = ?1 ORDER BY start_time, name",
                        &[id.into()],
                    )?
                    .iter()
                    .map(|r| text(r, 0))
                    .collect();
                for child in &children {
                    Self::set_lifecycle(c, child, lifecycle, now)?;
                    changed += 1;
                    if lifecycle == Lifecycle::Deleted
                        && let Some(by) = Self::pinned_by(c, child)?
                    {
                        return Err(TrackError::Conflict(format!(
                            "run {id} has a child run {child} pinned by model version {by}: \
                             delete that version first; nothing was deleted"
                        )));
                    }
                }
            }
            Ok(changed)
        })
    }

    fn purge_deleted_runs(&self, min_age_ms: i64) -> Result<Vec<String>> {
        let cutoff = now_ms() - min_age_ms;
        self.write(|c| {
            let ids: Vec<String> = c
                .query(
                    "SELECT run_id FROM runs WHERE lifecycle = 'deleted' AND deleted_time <= ?1",
                    &[Value::Int(cutoff)],
                )?
                .iter()
                .map(|r| text(r, 0))
                .collect();
            let mut purged = Vec::with_capacity(ids.len());
            for id in &ids {
                // A run a live model version was registered from is kept (it stays deleted):
                // the version's artifacts and lineage live on it. The no-op update takes the
                // run's row lock first, the lock `create_model_version` takes too, so the
                // check below sees any registration that committed before it (PostgreSQL;
                // SQLite writers are serialised anyway).
                c.execute(
                    "UPDATE runs SET name = name WHERE run_id = ?1",
                    &[id.into()],
                )?;
                let pinned = c.query(
                    "SELECT 1 FROM model_versions WHERE source_run_id = ?1 AND deleted = 0",
                    &[id.into()],
                )?;
                if !pinned.is_empty() {
                    continue;
                }
                for table in [
                    "metrics",
                    "latest_metrics",
                    "params",
                    "tags",
                    "artifacts",
                    "run_inputs",
                    // The links only: the logged models a run produced outlive it.
                    "run_outputs",
                ] {
                    c.execute(
                        &format!("DELETE FROM {table} WHERE run_id = ?1"),
                        &[id.into()],
                    )?;
                }
                c.execute(
                    "UPDATE runs SET parent_run_id = NULL WHERE parent_run_id = ?1",
                    &[id.into()],
                )?;
                c.execute("DELETE FROM runs WHERE run_id = ?1", &[id.into()])?;
                purged.push(id.clone());
            }
            Ok(purged)
        })
    }

    fn purge_deleted_logged_models(&self, min_age_ms: i64) -> Result<Vec<String>> {
        self.lm_purge(min_age_ms)
    }

    fn referenced_blobs(&self) -> Result<HashSet<String>> {
        self.read(|c| {
            // Logged models' files count as much as runs': a blob either refers to is kept;
            // so do the captured logs of queued jobs.
            Ok(c.query(
                "SELECT sha256 FROM artifacts UNION SELECT sha256 FROM logged_model_artifacts \
                 UNION SELECT sha256 FROM hone_job_logs",
                &[],
            )?
            .iter()
            .map(|r| text(r, 0))
            .collect())
        })
    }
}
