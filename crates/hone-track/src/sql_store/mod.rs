//! [`SqlStore`]: the one implementation of [`Store`](crate::Store),
//! [`Coordinator`](crate::Coordinator), [`Maintenance`](crate::Maintenance) and
//! [`Registry`](crate::Registry), over a [`Db`] (SQLite or PostgreSQL, one SQL text for both).
//! This module holds what they share: the transaction helpers, row decoding, and loading and
//! writing runs; each trait's implementation is in its own file. It knows SQL and the schema; it never knows the URI
//! syntax, `/proc` (beyond asking [`liveness`](crate::liveness) whether a holder is alive) or
//! retention policies.

mod accounts;
mod coordination;
mod logged_models;
mod maintenance;
mod queue;
mod registry;
mod tracking;

use std::collections::BTreeMap;

use rand::RngExt;

use crate::coordinator::Lease;
use crate::db::{Conn, Db, Dialect, Row, Value, int, opt_int, opt_text, text};
use crate::location::OpenMode;
use crate::model::*;
use crate::schema::migrate;
use crate::sqlite::{Durability, SqliteDb};
use crate::store::Batch;
use crate::{Result, TrackError};
pub use logged_models::{MAX_LOGGED_MODEL_NAME, validate_logged_model_name};
pub use queue::WORKER_LIVE_MS;

/// The store's SQL implementation over a [`Db`].
pub struct SqlStore<D: Db> {
    db: D,
}

impl<D: Db> SqlStore<D> {
    /// A store over a database whose schema is up to date.
    pub(crate) fn new(db: D) -> Self {
        Self { db }
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }
}

impl SqlStore<SqliteDb> {
    /// Opens a SQLite store directly (for integrity checks in tests and tools).
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self> {
        let db = SqliteDb::open(path, Durability::Process, OpenMode::Create)?;
        migrate(
            &db,
            OpenMode::Create,
            &crate::printable(&path.display().to_string()),
        )?;
        Ok(Self::new(db))
    }

    /// `PRAGMA integrity_check`.
    pub fn integrity_check(&self) -> Result<String> {
        self.db.integrity_check()
    }
}

/// The ownership columns of a run: its lease, when the lease expires, and the lease's holder
/// (all NULL for a run nobody owns).
struct OwnerColumns {
    lease_id: Value,
    expires: Value,
    host: Value,
    pid: Value,
    start: Value,
}

impl OwnerColumns {
    /// The columns of a run owned by `lease` from `now` (ms) on.
    fn of(lease: Option<&Lease>, now: i64) -> Self {
        let Some(lease) = lease else {
            return Self {
                lease_id: Value::Null,
                expires: Value::Null,
                host: Value::Null,
                pid: Value::Null,
                start: Value::Null,
            };
        };
        let holder = lease.holder.as_ref();
        Self {
            lease_id: lease.id.as_str().into(),
            expires: Value::Int(now.saturating_add(lease.ttl_ms)),
            host: holder.map(|h| h.host.clone()).into(),
            pid: holder.map(|h| i64::from(h.pid)).into(),
            start: holder.and_then(|h| h.process_start.clone()).into(),
        }
    }
}

const RUN_COLUMNS: &str = "r.run_id, r.experiment_id, r.name, r.parent_run_id, r.status, r.start_time, r.end_time, r.user_id, r.lifecycle";

fn run_info(row: &Row) -> Result<RunInfo> {
    Ok(RunInfo {
        run_id: text(row, 0),
        experiment_id: text(row, 1),
        run_name: text(row, 2),
        parent_run_id: opt_text(row, 3),
        status: RunStatus::parse(&text(row, 4))?,
        start_time: int(row, 5),
        end_time: opt_int(row, 6),
        user_id: text(row, 7),
        lifecycle: Lifecycle::parse(&text(row, 8)),
    })
}

fn metric_value(row: &Row, value: usize, is_nan: usize) -> f64 {
    if int(row, is_nan) != 0 {
        f64::NAN
    } else {
        row.get(value).and_then(Value::real).unwrap_or(f64::NAN)
    }
}

fn generated_name() -> String {
    const A: &[&str] = &[
        "bold", "calm", "keen", "swift", "quiet", "bright", "steady", "brisk",
    ];
    const B: &[&str] = &[
        "otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "wren",
    ];
    let mut rng = rand::rng();
    format!(
        "{}-{}-{}",
        A[rng.random_range(0..A.len())],
        B[rng.random_range(0..B.len())],
        rng.random_range(100..1000)
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl<D: Db> SqlStore<D> {
    fn read<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut out = None;
        self.db.read(&mut |c| {
            out = Some(f(c)?);
            Ok(())
        })?;
        Ok(out.expect("read closure ran"))
    }

    fn write<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut out = None;
        self.db.write(&mut |c| {
            out = Some(f(c)?);
            Ok(())
        })?;
        Ok(out.expect("write closure ran"))
    }

    fn experiment_id(id: &str) -> Result<Value> {
        id.parse::<i64>().map(Value::Int).map_err(|_| {
            TrackError::Invalid(format!("experiment id must be an integer, got {id:?}"))
        })
    }

    fn load_experiments(
        c: &mut dyn Conn,
        where_sql: &str,
        params: &[Value],
    ) -> Result<Vec<Experiment>> {
        let rows = c.query(
            &format!(
                "SELECT experiment_id, name, lifecycle, creation_time, last_update_time FROM experiments \
                 WHERE {where_sql} ORDER BY creation_time DESC, experiment_id ASC"
            ),
            params,
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = int(&r, 0);
            let tags = c
                .query(
                    "SELECT key, value FROM experiment_tags WHERE experiment_id = ?1 ORDER BY key",
                    &[Value::Int(id)],
                )?
                .into_iter()
                .map(|t| (text(&t, 0), text(&t, 1)))
                .collect();
            out.push(Experiment {
                experiment_id: id.to_string(),
                name: text(&r, 1),
                lifecycle: Lifecycle::parse(&text(&r, 2)),
                creation_time: int(&r, 3),
                last_update_time: int(&r, 4),
                tags,
            });
        }
        Ok(out)
    }

    /// `run <id> not found` unless the run exists (active or deleted). Lookups that return a
    /// list call it when the list is empty, so a mistyped id is reported as such, not as a run
    /// without artifacts, inputs or children.
    fn require_run(c: &mut dyn Conn, run_id: &str) -> Result<()> {
        let rows = c.query("SELECT 1 FROM runs WHERE run_id = ?1", &[run_id.into()])?;
        if rows.is_empty() {
            return Err(TrackError::NotFound(format!("run {run_id}")));
        }
        Ok(())
    }

    fn check_run_active(c: &mut dyn Conn, run_id: &str) -> Result<()> {
        let rows = c.query(
            "SELECT lifecycle FROM runs WHERE run_id = ?1",
            &[run_id.into()],
        )?;
        match rows.first() {
            None => Err(TrackError::NotFound(format!("run {run_id}"))),
            Some(r) if text(r, 0) == "deleted" => Err(TrackError::Invalid(format!(
                "run {run_id} is deleted; restore it before logging to it"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Soft-deletes or restores one run (`deleted_time` = `now` when deleting).
    fn set_lifecycle(c: &mut dyn Conn, run_id: &str, lifecycle: Lifecycle, now: i64) -> Result<()> {
        let deleted = (lifecycle == Lifecycle::Deleted).then_some(now);
        let n = c.execute(
            "UPDATE runs SET lifecycle = ?1, deleted_time = ?2 WHERE run_id = ?3",
            &[lifecycle.as_str().into(), deleted.into(), run_id.into()],
        )?;
        if n == 0 {
            return Err(TrackError::NotFound(format!("run {run_id}")));
        }
        Ok(())
    }

    fn load_runs(c: &mut dyn Conn, ids: &[String]) -> Result<Vec<Run>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let list = marks.join(",");
            let params: Vec<Value> = chunk.iter().map(Value::from).collect();
            let infos = c.query(
                &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_id IN ({list})"),
                &params,
            )?;
            let mut by_id: BTreeMap<String, Run> = BTreeMap::new();
            for row in infos {
                let info = run_info(&row)?;
                by_id.insert(
                    info.run_id.clone(),
                    Run {
                        info,
                        params: Vec::new(),
                        metrics: Vec::new(),
                        tags: Vec::new(),
                    },
                );
            }
            for row in c.query(
                &format!(
                    "SELECT run_id, key, value FROM params WHERE run_id IN ({list}) ORDER BY key"
                ),
                &params,
            )? {
                if let Some(r) = by_id.get_mut(&text(&row, 0)) {
                    r.params.push((text(&row, 1), text(&row, 2)));
                }
            }
            for row in c.query(
                &format!(
                    "SELECT run_id, key, value FROM tags WHERE run_id IN ({list}) ORDER BY key"
                ),
                &params,
            )? {
                if let Some(r) = by_id.get_mut(&text(&row, 0)) {
                    r.tags.push((text(&row, 1), text(&row, 2)));
                }
            }
            for row in c.query(
                &format!(
                    "SELECT run_id, key, value, is_nan, timestamp, step FROM latest_metrics \
                     WHERE run_id IN ({list}) ORDER BY key"
                ),
                &params,
            )? {
                if let Some(r) = by_id.get_mut(&text(&row, 0)) {
                    r.metrics.push(Metric {
                        key: text(&row, 1),
                        point: MetricPoint {
                            value: metric_value(&row, 2, 3),
                            timestamp: int(&row, 4),
                            step: int(&row, 5),
                        },
                    });
                }
            }
            for id in chunk {
                if let Some(r) = by_id.remove(id) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    fn write_batch(c: &mut dyn Conn, b: &Batch) -> Result<()> {
        Self::check_run_active(c, &b.run_id)?;
        let run: Value = b.run_id.as_str().into();
        // Params are immutable: the same value again is fine, a different one is an error.
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &b.params {
            validate_key("param", k)?;
            if let Some(prev) = seen.insert(k, v)
                && prev != v
            {
                return Err(TrackError::Invalid(format!(
                    "param {k:?} is given twice with different values ({prev:?}, {v:?})"
                )));
            }
        }
        for (k, v) in &b.params {
            let v = truncate(v, MAX_PARAM_VALUE);
            let existing = c.query(
                "SELECT value FROM params WHERE run_id = ?1 AND key = ?2",
                &[run.clone(), k.into()],
            )?;
            match existing.first() {
                Some(row) if text(row, 0) != v => {
                    return Err(TrackError::Invalid(format!(
                        "param {k:?} of run {} is already {:?}; params cannot change (got {:?})",
                        b.run_id,
                        text(row, 0),
                        v
                    )));
                }
                Some(_) => {}
                None => {
                    c.execute(
                        "INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)",
                        &[run.clone(), k.into(), v.into()],
                    )?;
                }
            }
        }
        for (k, v) in &b.tags {
            validate_key("tag", k)?;
            let v = truncate(v, MAX_TAG_VALUE);
            c.execute(
                "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                &[run.clone(), k.into(), v.as_str().into()],
            )?;
            // MLflow's rule: setting the `mlflow.runName` tag renames the run, so the name
            // and the tag never disagree.
            if k == "mlflow.runName" && !v.is_empty() {
                c.execute(
                    "UPDATE runs SET name = ?1 WHERE run_id = ?2",
                    &[v.as_str().into(), run.clone()],
                )?;
            }
        }
        if b.metrics.is_empty() {
            return Ok(());
        }
        let mut latest: BTreeMap<&str, &MetricPoint> = BTreeMap::new();
        for m in &b.metrics {
            validate_key("metric", &m.key)?;
            let better = latest
                .get(m.key.as_str())
                .is_none_or(|p| (m.point.step, m.point.timestamp) >= (p.step, p.timestamp));
            if better {
                latest.insert(&m.key, &m.point);
            }
        }
        // Multi-row inserts: one statement per 100 points. A point already stored (same run,
        // key, step, timestamp and value: a retried request) is skipped by the unique index
        // `metrics_identity`, so replays are harmless.
        const CHUNK: usize = 100;
        for chunk in b.metrics.chunks(CHUNK) {
            let mut sql = String::from(
                "INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan) VALUES ",
            );
            let mut params = Vec::with_capacity(chunk.len() * 5 + 1);
            params.push(run.clone());
            for (i, m) in chunk.iter().enumerate() {
                let base = 2 + i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(?1,?{},?{},?{},?{},?{})",
                    base,
                    base + 1,
                    base + 2,
                    base + 3,
                    base + 4
                ));
                let nan = m.point.value.is_nan();
                params.push(m.key.as_str().into());
                params.push(Value::Int(m.point.step));
                params.push(Value::Int(m.point.timestamp));
                params.push(if nan {
                    Value::Null
                } else {
                    Value::Real(m.point.value)
                });
                params.push(Value::Int(nan as i64));
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            c.execute(&sql, &params)?;
        }
        for (k, p) in latest {
            let nan = p.value.is_nan();
            c.execute(
                "INSERT INTO latest_metrics (run_id, key, step, timestamp, value, is_nan) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (run_id, key) DO UPDATE SET \
                 step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, \
                 is_nan = excluded.is_nan WHERE excluded.step > latest_metrics.step OR \
                 (excluded.step = latest_metrics.step AND excluded.timestamp >= latest_metrics.timestamp)",
                &[
                    run.clone(),
                    k.into(),
                    Value::Int(p.step),
                    Value::Int(p.timestamp),
                    if nan { Value::Null } else { Value::Real(p.value) },
                    Value::Int(nan as i64),
                ],
            )?;
        }
        Ok(())
    }
}
