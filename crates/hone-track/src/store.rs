//! The [`Store`] interface and its one SQL implementation, shared by SQLite and PostgreSQL.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use rand::RngExt;

use crate::db::{Conn, Db, Dialect, Row, Value};
use crate::filter::{Clause, Entity, Literal, Op, OrderBy, parse_filter, parse_order_by};
use crate::location::{OpenMode, StoreTarget, parse_store_uri};
use crate::model::*;
use crate::pg::PgDb;
use crate::schema::migrate;
use crate::sqlite::{Durability, SqliteDb};
use crate::{Result, TrackError, now_ms};

/// What a new run starts with.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    /// Experiment id.
    pub experiment_id: String,
    /// Display name (default: a generated one).
    pub name: Option<String>,
    /// Parent run, for nested runs.
    pub parent_run_id: Option<String>,
    /// User (default: `$USER`).
    pub user_id: Option<String>,
    /// Initial tags.
    pub tags: Vec<(String, String)>,
    /// Status to start in (default RUNNING; SCHEDULED for queued work).
    pub status: Option<RunStatus>,
    /// Not owned by this process: never reaped as dead (for runs another program finishes
    /// later, such as trials handed out by `hone study ask`).
    pub detached: bool,
}

/// A batch of writes to one run.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The run.
    pub run_id: String,
    /// Metric points.
    pub metrics: Vec<Metric>,
    /// Params (immutable once logged).
    pub params: Vec<(String, String)>,
    /// Tags (last write wins).
    pub tags: Vec<(String, String)>,
}

/// A run search (MLflow's `search_runs`).
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Experiments to search (ids).
    pub experiment_ids: Vec<String>,
    /// Filter in MLflow's grammar (empty: all).
    pub filter: String,
    /// `order_by` terms, e.g. `metrics.auc DESC`.
    pub order_by: Vec<String>,
    /// Page size (1..=50000).
    pub max_results: usize,
    /// Token from a previous page.
    pub page_token: Option<String>,
    /// Active, deleted or all runs.
    pub view: ViewType,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            experiment_ids: Vec::new(),
            filter: String::new(),
            order_by: Vec::new(),
            max_results: 1000,
            page_token: None,
            view: ViewType::ActiveOnly,
        }
    }
}

/// The tracking store: experiments, runs and their data. Both backends implement it with the
/// same behaviour (one shared test suite).
pub trait Store: Send + Sync {
    /// Where the store is (passwords removed).
    fn location(&self) -> String;
    /// Creates an experiment; its name must be unique.
    fn create_experiment(&self, name: &str, tags: &[(String, String)]) -> Result<String>;
    /// An experiment by id.
    fn get_experiment(&self, id: &str) -> Result<Experiment>;
    /// An experiment by name.
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    /// The id of the named experiment, created if missing (and restored if deleted).
    fn get_or_create_experiment(&self, name: &str) -> Result<String>;
    /// Experiments, by creation time (newest first).
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>>;
    /// Renames an experiment.
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()>;
    /// Soft-deletes or restores an experiment.
    fn set_experiment_lifecycle(&self, id: &str, lifecycle: Lifecycle) -> Result<()>;
    /// Starts a run owned by this process.
    fn create_run(&self, new: NewRun) -> Result<RunInfo>;
    /// Ends a run with a status.
    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()>;
    /// A run with its params, latest metrics and tags.
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// Child runs of a run.
    fn child_runs(&self, parent_run_id: &str) -> Result<Vec<RunInfo>>;
    /// Writes several batches in one transaction.
    fn log_batches(&self, batches: &[Batch]) -> Result<()>;
    /// Every point of one metric, by step then time.
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>>;
    /// Records the datasets a run used.
    fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()>;
    /// The datasets a run used.
    fn run_inputs(&self, run_id: &str) -> Result<Vec<DatasetInput>>;
    /// Records an artifact (its blob is already stored).
    fn record_artifact(&self, run_id: &str, record: &ArtifactRecord) -> Result<()>;
    /// A run's artifacts, by path.
    fn list_artifacts(&self, run_id: &str) -> Result<Vec<ArtifactRecord>>;
    /// Searches runs; returns a page and the token of the next one.
    fn search_runs(&self, req: &SearchRequest) -> Result<(Vec<Run>, Option<String>)>;
    /// Soft-deletes or restores a run.
    fn set_run_lifecycle(&self, run_id: &str, lifecycle: Lifecycle) -> Result<()>;
    /// Marks runs of this process alive now.
    fn heartbeat(&self, run_ids: &[String]) -> Result<()>;
    /// Marks RUNNING runs whose process is gone as KILLED; returns their ids.
    fn reap(&self) -> Result<Vec<String>>;
    /// Deletes soft-deleted runs (deleted at least `min_age_ms` ago) for good; returns their ids.
    fn purge_deleted_runs(&self, min_age_ms: i64) -> Result<Vec<String>>;
    /// Every blob address some artifact row refers to.
    fn referenced_blobs(&self) -> Result<HashSet<String>>;
    /// Runs of an experiment with their tags (for retention policies): (info, tags).
    fn runs_for_retention(&self, experiment_id: &str) -> Result<Vec<TaggedRun>>;
    /// Increments the named counter atomically and returns its new value minus one (so the
    /// first call returns 0). Concurrent callers, in any process, never get the same value.
    fn next_sequence(&self, name: &str) -> Result<i64>;
    /// Moves a run from status `from` to `to` if it is still in `from` (compare-and-set);
    /// returns whether this caller won. Unless `detached`, this process becomes its owner.
    fn claim_run(
        &self,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
        detached: bool,
    ) -> Result<bool>;
    /// If run `batch.run_id` is in status `from`: moves it to `to` (ending it, when `to` is
    /// not RUNNING or SCHEDULED) and writes `batch`, in one transaction; returns `false`, writing
    /// nothing, when the run is in another status. A compare-and-set for workers that race to
    /// finish one run (study trials): exactly one wins. With `from == to` it writes the batch
    /// only while the run is still in `from`.
    fn transition_run(&self, batch: &Batch, from: RunStatus, to: RunStatus) -> Result<bool>;
}

/// Run tag holding a study trial's JSON record (written by `hone-train`'s study store); the
/// reaper rewrites it with the run's status.
pub const TRIAL_RECORD_TAG: &str = crate::keys::TRIAL_RECORD;
/// Run tag holding a study trial's state (`RUNNING`, `COMPLETE`, ...), searchable.
pub const TRIAL_STATE_TAG: &str = crate::keys::TRIAL_STATE;

/// A run with its tags, as retention policies see it.
pub type TaggedRun = (RunInfo, Vec<(String, String)>);

/// The store's SQL implementation over a [`Db`].
pub struct SqlStore<D: Db> {
    db: D,
}

/// Opens a store from a URI, creating it if needed: `sqlite:///abs/path.db`,
/// `sqlite://rel/path.db`, `file://` alike, a plain file path, or
/// `postgresql://user@host:port/db` (also `postgres://`); see
/// [`parse_store_uri`](crate::location::parse_store_uri). A `?durability=power` suffix on a
/// SQLite URI makes every commit fsync (survives power loss, not only process crashes).
pub fn open_store(uri: &str) -> Result<Box<dyn Store>> {
    open_store_with(uri, OpenMode::Create)
}

/// Opens a store from a URI (as [`open_store`]); with [`OpenMode::MustExist`] a store that does
/// not exist yet is an error and nothing is created (no file, folder or schema), for commands
/// that only look at what was recorded.
pub fn open_store_with(uri: &str, mode: OpenMode) -> Result<Box<dyn Store>> {
    match parse_store_uri(uri)? {
        StoreTarget::Postgres { url } => {
            let db = PgDb::connect(&url)?;
            migrate(&db, mode, &db.location())?;
            Ok(Box::new(SqlStore { db }))
        }
        StoreTarget::Sqlite { path, durability } => {
            let db = SqliteDb::open(&path, durability, mode)?;
            migrate(&db, mode, &crate::printable(&path.display().to_string()))?;
            Ok(Box::new(SqlStore { db }))
        }
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
        Ok(Self { db })
    }

    /// `PRAGMA integrity_check`.
    pub fn integrity_check(&self) -> Result<String> {
        self.db.integrity_check()
    }
}

fn text(row: &Row, i: usize) -> String {
    row.get(i).cloned().map_or(String::new(), Value::into_text)
}

fn opt_text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Null) | None => None,
        Some(v) => Some(v.clone().into_text()),
    }
}

fn int(row: &Row, i: usize) -> i64 {
    row.get(i).and_then(Value::int).unwrap_or(0)
}

fn opt_int(row: &Row, i: usize) -> Option<i64> {
    row.get(i).and_then(Value::int)
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

/// A fresh run id: 32 hex characters.
pub fn new_run_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
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

/// This machine's name (for run ownership).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Start time of a process (field 22 of `/proc/<pid>/stat`), to tell a live owner from a
/// recycled pid.
pub fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields restart after its closing paren.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19).map(str::to_string)
}

fn process_alive(pid: i64, start: Option<&str>) -> bool {
    if pid <= 0 {
        return false;
    }
    if std::path::Path::new("/proc").exists() {
        return match process_start(pid as u32) {
            None => false,
            Some(s) => start.is_none_or(|want| want == s),
        };
    }
    // SAFETY: signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Heartbeats older than this mark a run on another machine as dead.
pub const STALE_HEARTBEAT_MS: i64 = 15 * 60 * 1000;

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
            c.execute(
                "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                &[run.clone(), k.into(), truncate(v, MAX_TAG_VALUE).into()],
            )?;
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
        // Multi-row inserts: one statement per 100 points.
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

struct Sql {
    joins: String,
    wheres: Vec<String>,
    order: Vec<String>,
    params: Vec<Value>,
}

impl Sql {
    fn param(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

fn literal_str(v: &Literal) -> String {
    match v {
        Literal::Str(s) => s.clone(),
        Literal::Num(n) => n.to_string(),
        _ => String::new(),
    }
}

fn number(v: &Literal) -> Value {
    match v {
        Literal::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::Int(*n as i64),
        Literal::Num(n) => Value::Real(*n),
        _ => Value::Null,
    }
}

fn string_condition(sql: &mut Sql, column: &str, clause: &Clause) -> String {
    match clause.op {
        Op::ILike => {
            let p = sql.param(literal_str(&clause.value).into());
            format!("LOWER({column}) LIKE LOWER({p})")
        }
        Op::In | Op::NotIn => {
            let Literal::List(items) = &clause.value else {
                return "1 = 0".into();
            };
            if items.is_empty() {
                return if clause.op == Op::In {
                    "1 = 0".into()
                } else {
                    "1 = 1".into()
                };
            }
            let marks: Vec<String> = items.iter().map(|s| sql.param(s.into())).collect();
            format!("{column} {} ({})", clause.op.sql(), marks.join(","))
        }
        op => {
            let p = sql.param(literal_str(&clause.value).into());
            format!("{column} {} {p}", op.sql())
        }
    }
}

fn attribute_column(key: &str) -> &'static str {
    match key {
        "run_id" => "r.run_id",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "lifecycle" => "r.lifecycle",
        "end_time" => "r.end_time",
        _ => "r.start_time",
    }
}

/// One filter clause as SQL. Key/value lookups are correlated `EXISTS` probes on the
/// `(run_id, key)` primary keys, so a search that walks runs in sort order stops as soon as the
/// page is full instead of materialising every match first.
fn clause_sql(sql: &mut Sql, clause: &Clause) -> String {
    match clause.entity {
        Entity::Metric => {
            let k = sql.param(clause.key.as_str().into());
            let v = sql.param(number(&clause.value));
            format!(
                "EXISTS (SELECT 1 FROM latest_metrics f WHERE f.run_id = r.run_id AND f.key = {k} \
                 AND f.is_nan = 0 AND f.value {} {v})",
                clause.op.sql()
            )
        }
        Entity::Param | Entity::Tag => {
            let table = if clause.entity == Entity::Param {
                "params"
            } else {
                "tags"
            };
            let k = sql.param(clause.key.as_str().into());
            let probe =
                format!("SELECT 1 FROM {table} f WHERE f.run_id = r.run_id AND f.key = {k}");
            match clause.op {
                Op::IsNull => format!("NOT EXISTS ({probe})"),
                Op::IsNotNull => format!("EXISTS ({probe})"),
                _ => {
                    let cond = string_condition(sql, "f.value", clause);
                    format!("EXISTS ({probe} AND {cond})")
                }
            }
        }
        Entity::Attribute => {
            let column = attribute_column(&clause.key);
            if matches!(clause.key.as_str(), "start_time" | "end_time") {
                let v = sql.param(number(&clause.value));
                format!("{column} {} {v}", clause.op.sql())
            } else {
                string_condition(sql, column, clause)
            }
        }
        Entity::Dataset => {
            let column = match clause.key.as_str() {
                "context" => "ri.context",
                "digest" => "d.digest",
                _ => "d.name",
            };
            let cond = string_condition(sql, column, clause);
            format!(
                "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id \
                 WHERE ri.run_id = r.run_id AND {cond})"
            )
        }
    }
}

/// An uncorrelated `SELECT run_id ...` for clauses that an index can answer on its own (used
/// to count a clause's matches, and to drive the search from the most selective clause).
fn clause_probe(sql: &mut Sql, clause: &Clause) -> Option<String> {
    match (clause.entity, clause.op) {
        (Entity::Metric, _) => {
            let k = sql.param(clause.key.as_str().into());
            let v = sql.param(number(&clause.value));
            Some(format!(
                "SELECT f.run_id FROM latest_metrics f WHERE f.key = {k} AND f.is_nan = 0 AND f.value {} {v}",
                clause.op.sql()
            ))
        }
        (Entity::Param | Entity::Tag, Op::Eq | Op::Like | Op::ILike | Op::In | Op::IsNotNull) => {
            let k = sql.param(clause.key.as_str().into());
            let table = key_table(clause.entity);
            let cond = if clause.op == Op::IsNotNull {
                "1 = 1".to_string()
            } else {
                string_condition(sql, "f.value", clause)
            };
            Some(format!(
                "SELECT f.run_id FROM {table} f WHERE f.key = {k} AND {cond}"
            ))
        }
        _ => None,
    }
}

/// A clause matching at most this many rows drives the search (then the matches are sorted);
/// otherwise the search walks the sort key's index and probes each candidate.
const DRIVER_ROWS: i64 = 5_000;

fn key_table(entity: Entity) -> &'static str {
    match entity {
        Entity::Metric => "latest_metrics",
        Entity::Param => "params",
        _ => "tags",
    }
}

/// An `order_by` term as SQL terms (runs without the key, or with NaN, sort last either way).
fn order_sql(sql: &mut Sql, i: usize, o: &OrderBy) {
    let dir = if o.desc { "DESC" } else { "ASC" };
    let column = match o.entity {
        Entity::Metric | Entity::Param | Entity::Tag => {
            let k = sql.param(o.key.as_str().into());
            sql.joins.push_str(&format!(
                " LEFT JOIN {} o{i} ON o{i}.run_id = r.run_id AND o{i}.key = {k}",
                key_table(o.entity)
            ));
            // NaN metrics are stored as NULL values, so they sort with the missing ones.
            format!("o{i}.value")
        }
        _ => attribute_column(&o.key).to_string(),
    };
    sql.order
        .push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"));
    sql.order.push(format!("{column} {dir}"));
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

fn decode_token(token: &str) -> Result<usize> {
    let bad = || TrackError::Invalid(format!("invalid page token {token:?}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("offset")
        .and_then(serde_json::Value::as_u64)
        .map(|o| o as usize)
        .ok_or_else(bad)
}

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
        let user = new
            .user_id
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".into());
        let now = now_ms();
        let pid = std::process::id();
        let status = new.status.unwrap_or(RunStatus::Running);
        let (owner_host, owner_pid, owner_start) = if new.detached {
            (Value::Null, Value::Null, Value::Null)
        } else {
            (
                hostname().into(),
                Value::Int(pid as i64),
                process_start(pid).into(),
            )
        };
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
                 user_id, lifecycle, owner_host, owner_pid, owner_start, heartbeat) \
                 VALUES (?1, ?2, ?3, ?4, ?10, ?5, ?6, 'active', ?7, ?8, ?9, ?5)",
                &[
                    run_id.as_str().into(),
                    exp.clone(),
                    name.as_str().into(),
                    new.parent_run_id.clone().into(),
                    Value::Int(now),
                    user.as_str().into(),
                    owner_host.clone(),
                    owner_pid.clone(),
                    owner_start.clone(),
                    status.as_str().into(),
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
                if !["train", "validation", "test"].contains(&d.context.as_str()) {
                    return Err(TrackError::Invalid(format!(
                        "dataset context must be train, validation or test, got {:?}",
                        d.context
                    )));
                }
                c.execute(
                    "INSERT INTO datasets (name, digest, source, schema_json, rows) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (name, digest, source) DO NOTHING",
                    &[d.name.as_str().into(), d.digest.as_str().into(), d.source.as_str().into(), d.schema.as_str().into(), Value::Int(d.rows)],
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
                "SELECT d.name, d.digest, d.source, d.schema_json, d.rows, ri.context FROM run_inputs ri \
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
            })
            .collect())
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
        if req.max_results == 0 || req.max_results > 50_000 {
            return Err(TrackError::Invalid(format!(
                "max_results must be between 1 and 50000, got {}",
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
        // WHERE + joins + ORDER BY for the given order terms (after an optional leading one).
        let build = |lead: Option<(&OrderBy, bool)>,
                     rest: &[OrderBy],
                     limit: usize,
                     skip: usize,
                     driver: Option<usize>| {
            let mut sql = Sql {
                joins: String::new(),
                wheres: Vec::new(),
                order: Vec::new(),
                params: Vec::new(),
            };
            let marks: Vec<String> = exp_ids.iter().map(|v| sql.param(v.clone())).collect();
            let mut from = "runs r".to_string();
            if let Some((o, with_key)) = lead {
                let k = sql.param(o.key.as_str().into());
                let table = key_table(o.entity);
                if with_key {
                    // Walk the (key, value) index in sort order; the page fills early.
                    from = format!("{table} s JOIN runs r ON r.run_id = s.run_id");
                    sql.wheres
                        .push(format!("s.key = {k} AND s.value IS NOT NULL"));
                    sql.order
                        .push(format!("s.value {}", if o.desc { "DESC" } else { "ASC" }));
                } else {
                    sql.wheres.push(format!(
                        "NOT EXISTS (SELECT 1 FROM {table} s WHERE s.run_id = r.run_id AND s.key = {k} AND s.value IS NOT NULL)"
                    ));
                }
            }
            sql.wheres
                .push(format!("r.experiment_id IN ({})", marks.join(",")));
            sql.wheres.push(req.view.sql("r.lifecycle"));
            for (i, cl) in clauses.iter().enumerate() {
                let w = match (driver == Some(i))
                    .then(|| clause_probe(&mut sql, cl))
                    .flatten()
                {
                    Some(probe) => format!("r.run_id IN ({probe})"),
                    None => clause_sql(&mut sql, cl),
                };
                sql.wheres.push(w);
            }
            for (i, o) in rest.iter().enumerate() {
                order_sql(&mut sql, i, o);
            }
            sql.order.push("r.start_time DESC".into());
            sql.order.push("r.run_id ASC".into());
            let l = sql.param(Value::Int(limit as i64));
            let off = sql.param(Value::Int(skip as i64));
            let query = format!(
                "SELECT r.run_id FROM {from}{} WHERE {} ORDER BY {} LIMIT {l} OFFSET {off}",
                sql.joins,
                sql.wheres.join(" AND "),
                sql.order.join(", ")
            );
            (query, sql.params)
        };
        let want = req.max_results + 1;
        let keyed_lead = orders
            .first()
            .filter(|o| matches!(o.entity, Entity::Metric | Entity::Param | Entity::Tag));
        let (runs, more) = self.read(|c| {
            // The most selective index-answerable clause, if it is selective enough.
            let mut driver: Option<(usize, i64)> = None;
            for (i, cl) in clauses.iter().enumerate() {
                let mut probe_sql = Sql {
                    joins: String::new(),
                    wheres: Vec::new(),
                    order: Vec::new(),
                    params: Vec::new(),
                };
                if let Some(probe) = clause_probe(&mut probe_sql, cl) {
                    let n = c
                        .query(
                            &format!("SELECT COUNT(*) FROM ({probe} LIMIT {}) t", DRIVER_ROWS + 1),
                            &probe_sql.params,
                        )?
                        .first()
                        .map_or(i64::MAX, |r| int(r, 0));
                    if n <= DRIVER_ROWS && driver.is_none_or(|(_, best)| n < best) {
                        driver = Some((i, n));
                    }
                }
            }
            let driver = driver.map(|(i, _)| i);
            let ids: Vec<String> = match keyed_lead.filter(|_| driver.is_none()) {
                Some(lead) => {
                    // Runs that have the sort key, in key order; then the ones without it.
                    let (q, p) = build(Some((lead, true)), &orders[1..], offset + want, 0, None);
                    let mut with_key: Vec<String> =
                        c.query(&q, &p)?.iter().map(|r| text(r, 0)).collect();
                    let n_with = with_key.len();
                    let mut ids: Vec<String> = with_key.drain(offset.min(n_with)..).collect();
                    if n_with < offset + want {
                        let skip = offset.saturating_sub(n_with);
                        let (q, p) = build(
                            Some((lead, false)),
                            &orders[1..],
                            want - ids.len(),
                            skip,
                            None,
                        );
                        ids.extend(c.query(&q, &p)?.iter().map(|r| text(r, 0)));
                    }
                    ids
                }
                None => {
                    let (q, p) = build(None, &orders, want, offset, driver);
                    c.query(&q, &p)?.iter().map(|r| text(r, 0)).collect()
                }
            };
            let mut ids = ids;
            let more = ids.len() > req.max_results;
            ids.truncate(req.max_results);
            Ok((Self::load_runs(c, &ids)?, more))
        })?;
        let next = more.then(|| encode_token(offset + req.max_results));
        Ok((runs, next))
    }

    fn set_run_lifecycle(&self, run_id: &str, lifecycle: Lifecycle) -> Result<()> {
        self.write(|c| {
            let deleted = (lifecycle == Lifecycle::Deleted).then(now_ms);
            let n = c.execute(
                "UPDATE runs SET lifecycle = ?1, deleted_time = ?2 WHERE run_id = ?3",
                &[lifecycle.as_str().into(), deleted.into(), run_id.into()],
            )?;
            if n == 0 {
                return Err(TrackError::NotFound(format!("run {run_id}")));
            }
            Ok(())
        })
    }

    fn heartbeat(&self, run_ids: &[String]) -> Result<()> {
        if run_ids.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|c| {
            for id in run_ids {
                c.execute(
                    "UPDATE runs SET heartbeat = ?1 WHERE run_id = ?2 AND status = 'RUNNING'",
                    &[Value::Int(now), id.into()],
                )?;
            }
            Ok(())
        })
    }

    fn reap(&self) -> Result<Vec<String>> {
        let here = hostname();
        let now = now_ms();
        let candidates = self.read(|c| {
            c.query(
                "SELECT run_id, owner_host, owner_pid, owner_start, heartbeat FROM runs WHERE status = 'RUNNING'",
                &[],
            )
        })?;
        let dead: Vec<String> = candidates
            .iter()
            .filter(|r| {
                let host = opt_text(r, 1);
                match host {
                    Some(h) if h == here => !process_alive(int(r, 2), opt_text(r, 3).as_deref()),
                    Some(_) => opt_int(r, 4).is_some_and(|hb| now - hb > STALE_HEARTBEAT_MS),
                    None => false,
                }
            })
            .map(|r| text(r, 0))
            .collect();
        if dead.is_empty() {
            return Ok(dead);
        }
        self.write(|c| {
            for id in &dead {
                let n = c.execute(
                    "UPDATE runs SET status = 'KILLED', end_time = COALESCE(heartbeat, ?1) WHERE run_id = ?2 AND status = 'RUNNING'",
                    &[Value::Int(now), id.into()],
                )?;
                if n == 1 {
                    Self::fail_reaped_trial(c, id)?;
                }
            }
            Ok(())
        })?;
        Ok(dead)
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
            for id in &ids {
                for table in [
                    "metrics",
                    "latest_metrics",
                    "params",
                    "tags",
                    "artifacts",
                    "run_inputs",
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
            }
            Ok(ids)
        })
    }

    fn referenced_blobs(&self) -> Result<HashSet<String>> {
        self.read(|c| {
            Ok(c.query("SELECT DISTINCT sha256 FROM artifacts", &[])?
                .iter()
                .map(|r| text(r, 0))
                .collect())
        })
    }

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
                let tags = c
                    .query("SELECT key, value FROM tags WHERE run_id = ?1", &[info.run_id.as_str().into()])?
                    .iter()
                    .map(|t| (text(t, 0), text(t, 1)))
                    .collect();
                out.push((info, tags));
            }
            Ok(out)
        })
    }

    fn transition_run(&self, batch: &Batch, from: RunStatus, to: RunStatus) -> Result<bool> {
        let ends = !matches!(to, RunStatus::Running | RunStatus::Scheduled);
        self.write(|c| {
            // The UPDATE takes the row lock and re-reads the status (PostgreSQL re-checks the
            // WHERE clause after a concurrent commit; SQLite writers are serialised), so two
            // racing callers cannot both see `from`.
            let n = if ends {
                c.execute(
                    "UPDATE runs SET status = ?1, end_time = ?2 WHERE run_id = ?3 AND status = ?4",
                    &[
                        to.as_str().into(),
                        Value::Int(now_ms()),
                        batch.run_id.as_str().into(),
                        from.as_str().into(),
                    ],
                )?
            } else {
                c.execute(
                    "UPDATE runs SET status = ?1 WHERE run_id = ?2 AND status = ?3",
                    &[
                        to.as_str().into(),
                        batch.run_id.as_str().into(),
                        from.as_str().into(),
                    ],
                )?
            };
            if n == 0 {
                // A missing run is an error, a run in another status a lost race.
                Self::check_run_active(c, &batch.run_id)?;
                return Ok(false);
            }
            Self::write_batch(c, batch)?;
            Ok(true)
        })
    }

    fn next_sequence(&self, name: &str) -> Result<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO sequences (name, value) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING",
                &[name.into()],
            )?;
            c.execute(
                "UPDATE sequences SET value = value + 1 WHERE name = ?1",
                &[name.into()],
            )?;
            let rows = c.query(
                "SELECT value FROM sequences WHERE name = ?1",
                &[name.into()],
            )?;
            Ok(rows.first().map_or(1, |r| int(r, 0)) - 1)
        })
    }

    fn claim_run(
        &self,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
        detached: bool,
    ) -> Result<bool> {
        let pid = std::process::id();
        let (host, opid, ostart) = if detached {
            (Value::Null, Value::Null, Value::Null)
        } else {
            (
                hostname().into(),
                Value::Int(pid as i64),
                process_start(pid).into(),
            )
        };
        self.write(|c| {
            let n = c.execute(
                "UPDATE runs SET status = ?1, owner_host = ?2, owner_pid = ?3, owner_start = ?4, \
                 heartbeat = ?5 WHERE run_id = ?6 AND status = ?7",
                &[
                    to.as_str().into(),
                    host.clone(),
                    opid.clone(),
                    ostart.clone(),
                    Value::Int(now_ms()),
                    run_id.into(),
                    from.as_str().into(),
                ],
            )?;
            Ok(n == 1)
        })
    }
}

impl<D: Db> SqlStore<D> {
    /// A reaped run that is a study trial: its state tag and JSON record say FAIL, as its
    /// status now does, so searches on the tag and readers of the record never see a dead
    /// trial as RUNNING. Runs without these tags are left alone.
    fn fail_reaped_trial(c: &mut dyn Conn, run_id: &str) -> Result<()> {
        c.execute(
            "UPDATE tags SET value = 'FAIL' WHERE run_id = ?1 AND key = ?2 AND value = 'RUNNING'",
            &[run_id.into(), TRIAL_STATE_TAG.into()],
        )?;
        let rows = c.query(
            "SELECT r.value, runs.end_time FROM tags r JOIN runs ON runs.run_id = r.run_id \
             WHERE r.run_id = ?1 AND r.key = ?2",
            &[run_id.into(), TRIAL_RECORD_TAG.into()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let Ok(serde_json::Value::Object(mut record)) = serde_json::from_str(&text(row, 0)) else {
            return Ok(());
        };
        if record.get("state").and_then(|v| v.as_str()) != Some("RUNNING") {
            return Ok(());
        }
        record.insert("state".into(), "FAIL".into());
        if let Some(end) = opt_int(row, 1) {
            record.insert("finished_ms".into(), end.into());
        }
        c.execute(
            "UPDATE tags SET value = ?1 WHERE run_id = ?2 AND key = ?3",
            &[
                serde_json::Value::Object(record).to_string().into(),
                run_id.into(),
                TRIAL_RECORD_TAG.into(),
            ],
        )?;
        Ok(())
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }
}
