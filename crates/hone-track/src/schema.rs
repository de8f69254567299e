//! Versioned schema migrations, applied when a store is opened.
//!
//! Each migration runs once, in order, inside a write transaction, and bumps `hone_schema`.
//! A store whose version is higher than [`SCHEMA_VERSION`] was written by a newer hone and is
//! refused rather than misread.

use crate::db::{Conn, Db, Dialect, Value, schema_sql};
use crate::location::OpenMode;
use crate::{Result, TrackError};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 10;

const V1: &str = r#"
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id {serial},
    name TEXT NOT NULL UNIQUE,
    lifecycle TEXT NOT NULL DEFAULT 'active',
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    deleted_time BIGINT
);
CREATE TABLE IF NOT EXISTS experiment_tags (
    experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id),
    name TEXT NOT NULL,
    parent_run_id TEXT,
    status TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    user_id TEXT NOT NULL,
    lifecycle TEXT NOT NULL DEFAULT 'active',
    deleted_time BIGINT,
    owner_host TEXT,
    owner_pid BIGINT,
    owner_start TEXT,
    heartbeat BIGINT
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, lifecycle, start_time);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent_run_id);
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS params_by_key ON params (key, value);
CREATE TABLE IF NOT EXISTS tags (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS tags_by_key ON tags (key, value);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value {real},
    is_nan INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, key, step);
CREATE TABLE IF NOT EXISTS latest_metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value {real},
    is_nan INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS latest_by_key ON latest_metrics (key, value);
CREATE TABLE IF NOT EXISTS datasets (
    dataset_id {serial},
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    source TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    rows BIGINT NOT NULL,
    UNIQUE (name, digest, source)
);
CREATE TABLE IF NOT EXISTS run_inputs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    dataset_id BIGINT NOT NULL REFERENCES datasets(dataset_id),
    context TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset_id, context)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (run_id, path)
);
CREATE INDEX IF NOT EXISTS artifacts_by_blob ON artifacts (sha256);
"#;

/// Named counters (trial numbers of studies), incremented atomically by
/// [`Coordinator::next_sequence`](crate::coordinator::Coordinator::next_sequence).
const V2: &str = r#"
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
"#;

/// Run ownership by lease ([`crate::coordinator`]): the lease that owns a run and when it
/// expires. `owner_host`, `owner_pid` and `owner_start` now describe the lease's holder and
/// `heartbeat` its last renewal. RUNNING runs owned by a process before this version get the
/// lease `legacy` with no expiry: the reaper ends it one default lease after their last
/// heartbeat (what counted as dead for another machine until now), or at once on their machine
/// when their process is gone, as before. Ended runs need no lease (only RUNNING runs are
/// reaped), so the update touches few rows in a large store.
const V3: &str = r#"
ALTER TABLE runs ADD COLUMN lease_id TEXT;
ALTER TABLE runs ADD COLUMN lease_expires BIGINT;
UPDATE runs SET lease_id = 'legacy' WHERE owner_host IS NOT NULL AND status = 'RUNNING';
CREATE INDEX IF NOT EXISTS runs_by_lease ON runs (lease_id);
"#;

/// The model registry ([`crate::registry`]). `last_version` is the per-model counter that
/// [`Registry::create_model_version`](crate::Registry::create_model_version) increments under
/// the model's row lock, so version numbers are gap-free and never reused; a deleted version
/// stays as a row with `deleted = 1` (a tombstone that keeps its number and semver taken).
/// Semvers are unique per model (NULLs are distinct in both databases). The audit log has no
/// foreign key: it is append-only and outlives the model it describes.
const V4: &str = r#"
CREATE TABLE IF NOT EXISTS registered_models (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    last_version BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS registered_model_tags (
    name TEXT NOT NULL REFERENCES registered_models(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS model_versions (
    name TEXT NOT NULL REFERENCES registered_models(name) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    semver TEXT,
    source_run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    current_stage TEXT NOT NULL,
    description TEXT NOT NULL,
    user_id TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS model_versions_by_semver ON model_versions (name, semver);
CREATE INDEX IF NOT EXISTS model_versions_by_run ON model_versions (source_run_id);
CREATE TABLE IF NOT EXISTS model_version_tags (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registered_model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS registry_audit (
    id {serial},
    name TEXT NOT NULL,
    version BIGINT,
    action TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    user_id TEXT NOT NULL,
    time BIGINT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_audit_by_model ON registry_audit (name, id);
"#;

/// Structured detail on audit entries ([`crate::registry::AuditEntry::details`]): what a
/// promotion checked, what an evaluation measured. Existing entries get an empty text.
const V5: &str = r#"
ALTER TABLE registry_audit ADD COLUMN details TEXT NOT NULL DEFAULT '';
"#;

/// What MLflow's model version has and hone's lacked ([`crate::registry::ModelVersion`]):
/// the client's `source`, `run_link`, the MLflow 3 `model_id`, and the resolved
/// `storage_location`. Versions registered before (always from a run, by the CLI) get
/// `runs:/<run_id>` and their run's artifact root.
const V6: &str = r#"
ALTER TABLE model_versions ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN run_link TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN model_id TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN storage_location TEXT NOT NULL DEFAULT '';
UPDATE model_versions SET source = 'runs:/' || source_run_id,
    storage_location = COALESCE((SELECT 'mlflow-artifacts:/' || CAST(runs.experiment_id AS TEXT)
        || '/' || runs.run_id || '/artifacts' FROM runs
        WHERE runs.run_id = model_versions.source_run_id), '');
"#;

/// Metric points get MLflow's identity (run, key, step, timestamp, value, NaN-ness) as a
/// unique index, so that a client's retried `log-metric` or `log-batch` (the MLflow client
/// retries every POST on 429 and 5xx) stores nothing twice: inserts skip a point already
/// there. Duplicates already stored are removed first. The index also serves the history
/// lookups `metrics_by_run` served (same leading columns), which is dropped.
const V9: &str = r#"
CREATE TEMP TABLE metrics_distinct AS
    SELECT DISTINCT run_id, key, step, timestamp, value, is_nan FROM metrics;
DELETE FROM metrics;
INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
    SELECT run_id, key, step, timestamp, value, is_nan FROM metrics_distinct;
DROP TABLE metrics_distinct;
DROP INDEX IF EXISTS metrics_by_run;
CREATE UNIQUE INDEX IF NOT EXISTS metrics_identity
    ON metrics (run_id, key, step, timestamp, is_nan, (COALESCE(value, 0)));
"#;

/// MLflow 3 logged models: the models themselves (kept under their experiment; `source_run_id`
/// has no foreign key so that purging a run leaves the model it produced), their tags, params,
/// metrics and artifact records (the run `artifacts` table has a foreign key to runs, so model
/// files get their own table, also counted by `hone gc`), and the outputs linking runs to the
/// models they produced. Datasets gain MLflow's `source_type` and `profile`, so that inputs
/// logged by the MLflow client read back as sent.
const V7: &str = r#"
CREATE TABLE IF NOT EXISTS logged_models (
    model_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id),
    name TEXT NOT NULL,
    model_type TEXT,
    source_run_id TEXT,
    status TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    lifecycle TEXT NOT NULL DEFAULT 'active',
    deleted_time BIGINT
);
CREATE INDEX IF NOT EXISTS logged_models_by_experiment ON logged_models (experiment_id, lifecycle, creation_time);
CREATE INDEX IF NOT EXISTS logged_models_by_name ON logged_models (name);
CREATE INDEX IF NOT EXISTS logged_models_by_run ON logged_models (source_run_id);
CREATE TABLE IF NOT EXISTS logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE IF NOT EXISTS logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE TABLE IF NOT EXISTS logged_model_metrics (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value {real},
    is_nan INTEGER NOT NULL,
    run_id TEXT,
    dataset_name TEXT,
    dataset_digest TEXT
);
CREATE INDEX IF NOT EXISTS logged_model_metrics_by_model ON logged_model_metrics (model_id, key, step);
CREATE TABLE IF NOT EXISTS logged_model_artifacts (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (model_id, path)
);
CREATE INDEX IF NOT EXISTS logged_model_artifacts_by_blob ON logged_model_artifacts (sha256);
CREATE TABLE IF NOT EXISTS run_outputs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id)
);
CREATE INDEX IF NOT EXISTS run_outputs_by_model ON run_outputs (model_id);
ALTER TABLE datasets ADD COLUMN source_type TEXT NOT NULL DEFAULT '';
ALTER TABLE datasets ADD COLUMN profile TEXT NOT NULL DEFAULT '';
"#;

/// Authentication and permissions of `hone server` ([`crate::accounts`]): users with their
/// argon2 password hash, API tokens (the SHA-256 of the secret, never the secret; revoked ones
/// are kept) and per-user grants on experiments (by id) and registered models (by name). The
/// tables carry a `hone_` prefix because a shared PostgreSQL database often has a `users`
/// table of another program, which [`check_contents`] would then take for hone's.
const V8: &str = r#"
CREATE TABLE IF NOT EXISTS hone_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS hone_api_tokens (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES hone_users(name) ON DELETE CASCADE,
    secret_sha256 TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT,
    revoked BIGINT
);
CREATE INDEX IF NOT EXISTS hone_api_tokens_by_user ON hone_api_tokens (user_name);
CREATE TABLE IF NOT EXISTS hone_permissions (
    user_name TEXT NOT NULL REFERENCES hone_users(name) ON DELETE CASCADE,
    resource_kind TEXT NOT NULL,
    resource TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (user_name, resource_kind, resource)
);
CREATE INDEX IF NOT EXISTS hone_permissions_by_resource ON hone_permissions (resource_kind, resource);
"#;

/// The job queue ([`crate::queue`]): jobs, their required labels (one row each, so a claim
/// tests "every required label is one of the worker's" in SQL), gang members, workers, and the
/// captured logs of each attempt (blobs, so `hone gc` keeps them).
const V10: &str = r#"
CREATE TABLE IF NOT EXISTS hone_jobs (
    job_id {serial},
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL DEFAULT 3,
    gang_size BIGINT NOT NULL DEFAULT 1,
    group_id BIGINT,
    unit BIGINT NOT NULL DEFAULT 0,
    data_fingerprint TEXT,
    worker TEXT,
    lease_id TEXT,
    lease_expires BIGINT,
    owner_host TEXT,
    owner_pid BIGINT,
    owner_start TEXT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    queued_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    run_id TEXT,
    study TEXT,
    error TEXT,
    wait_reason TEXT,
    history TEXT NOT NULL DEFAULT '[]'
);
-- Claims walk this index in claim order (highest priority, then oldest) and stop at the
-- first row: no sort of the whole queue per claim.
CREATE INDEX IF NOT EXISTS hone_jobs_claimable ON hone_jobs (state, gang_size, priority DESC, job_id);
CREATE INDEX IF NOT EXISTS hone_jobs_by_group ON hone_jobs (group_id);
CREATE TABLE IF NOT EXISTS hone_job_requires (
    job_id BIGINT NOT NULL REFERENCES hone_jobs(job_id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (job_id, label)
);
CREATE TABLE IF NOT EXISTS hone_job_members (
    job_id BIGINT NOT NULL REFERENCES hone_jobs(job_id) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    lease_id TEXT NOT NULL,
    lease_expires BIGINT NOT NULL,
    owner_host TEXT,
    owner_pid BIGINT,
    owner_start TEXT,
    address TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    rank BIGINT,
    PRIMARY KEY (job_id, lease_id)
);
CREATE TABLE IF NOT EXISTS hone_workers (
    worker_id TEXT PRIMARY KEY,
    labels TEXT NOT NULL,
    slots BIGINT NOT NULL,
    address TEXT NOT NULL,
    heartbeat BIGINT NOT NULL,
    stopped BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS hone_job_logs (
    job_id BIGINT NOT NULL REFERENCES hone_jobs(job_id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
"#;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, V1),
    (2, V2),
    (3, V3),
    (4, V4),
    (5, V5),
    (6, V6),
    (7, V7),
    (8, V8),
    (9, V9),
    (10, V10),
];

/// The first migration number handed out to parallel branches (6: registry fields, 7: logged
/// models, 9: metric identity): each of these is applied whenever a store lacks it, even one
/// already at a higher version, because the branches were merged in another order than their
/// numbers.
const PARALLEL_FROM: i64 = 6;

fn current_version(c: &mut dyn Conn) -> Result<i64> {
    c.batch("CREATE TABLE IF NOT EXISTS hone_schema (version BIGINT NOT NULL)")?;
    let rows = c.query("SELECT MAX(version) FROM hone_schema", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::int)
        .unwrap_or(0))
}

/// The tables hone's migrations create.
fn hone_tables() -> impl Iterator<Item = &'static str> {
    MIGRATIONS.iter().flat_map(|(_, sql)| {
        sql.split("CREATE TABLE IF NOT EXISTS ")
            .skip(1)
            .filter_map(|s| s.split_whitespace().next())
    })
}

/// The error for a store that a read-only command names but nothing has created.
pub(crate) fn nothing_tracked(shown: &str) -> TrackError {
    TrackError::Invalid(format!(
        "store {shown} does not exist (nothing has been tracked there yet)"
    ))
}

/// Refuses, before anything is written, a database that belongs to another program, and in
/// [`OpenMode::MustExist`] one without hone's schema. `shown` names the store in messages.
///
/// A SQLite file with any table but no `hone_schema` is another program's: hone would add its
/// tables to it, or fail half-way on a table of the same name. A PostgreSQL database is often
/// shared, so there only a table hone would create (such as `runs`) makes it foreign.
pub(crate) fn check_contents(
    c: &mut dyn Conn,
    dialect: Dialect,
    mode: OpenMode,
    shown: &str,
) -> Result<()> {
    let sql = match dialect {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'"
        }
        Dialect::Postgres => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
    };
    let tables: Vec<String> = c
        .query(sql, &[])?
        .into_iter()
        .filter_map(|r| r.into_iter().next().map(Value::into_text))
        .collect();
    if tables.iter().any(|t| t == "hone_schema") {
        return Ok(());
    }
    let foreign = match dialect {
        Dialect::Sqlite => !tables.is_empty(),
        Dialect::Postgres => hone_tables().any(|h| tables.iter().any(|t| t == h)),
    };
    if foreign {
        return Err(TrackError::Invalid(format!(
            "{shown}: not a hone store (it has tables but no hone schema version)"
        )));
    }
    match (mode, dialect) {
        (OpenMode::Create, _) => Ok(()),
        (OpenMode::MustExist, Dialect::Sqlite) => Err(nothing_tracked(shown)),
        (OpenMode::MustExist, Dialect::Postgres) => Err(TrackError::Invalid(format!(
            "store {shown} holds no hone schema (nothing has been tracked there yet)"
        ))),
    }
}

/// Brings the schema up to date, or refuses a newer one, another program's database, or (in
/// [`OpenMode::MustExist`]) a database without hone's schema. `shown` names the store in
/// messages.
pub fn migrate(db: &dyn Db, mode: OpenMode, shown: &str) -> Result<()> {
    migrate_to(db, mode, shown, SCHEMA_VERSION)
}

/// [`migrate`] up to version `target` only (tests build stores of older versions with it).
fn migrate_to(db: &dyn Db, mode: OpenMode, shown: &str, target: i64) -> Result<()> {
    let dialect = db.dialect();
    let location = db.location();
    db.write(&mut |c| {
        // Two processes opening a fresh PostgreSQL database at once would both run
        // `CREATE TABLE IF NOT EXISTS` and one would fail on the catalog's unique index: take a
        // transaction-scoped advisory lock first, so migrations run one at a time.
        if dialect == Dialect::Postgres {
            c.query(
                "SELECT 1 FROM (SELECT pg_advisory_xact_lock(4683119001)) AS migration_lock",
                &[],
            )?;
        }
        check_contents(c, dialect, mode, shown)?;
        let version = current_version(c)?;
        if version > SCHEMA_VERSION {
            return Err(TrackError::NewerSchema {
                location: location.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let applied: Vec<i64> = c
            .query("SELECT version FROM hone_schema", &[])?
            .iter()
            .filter_map(|r| r.first().and_then(Value::int))
            .collect();
        for (v, sql) in MIGRATIONS {
            // From PARALLEL_FROM on, numbers were handed to branches developed side by side,
            // so a store may hold a higher one without a lower one that was merged later.
            let missing = *v > version || (*v >= PARALLEL_FROM && !applied.contains(v));
            if missing && *v <= target {
                c.batch(&schema_sql(sql, dialect))?;
                c.execute(
                    "INSERT INTO hone_schema (version) VALUES (?1)",
                    &[Value::Int(*v)],
                )?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::store::NewRun;
    use crate::{OpenMode, TrackError, open_store_with};

    fn uri(p: &std::path::Path) -> String {
        format!("sqlite://{}", p.display())
    }

    #[test]
    fn must_exist_creates_nothing_and_create_then_must_exist_works() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a/b/hone.db");
        let e = open_store_with(&uri(&db), OpenMode::MustExist)
            .err()
            .unwrap();
        assert!(matches!(e, TrackError::Invalid(_)), "{e}");
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(!dir.path().join("a").exists());
        // An empty file (what `touch` leaves) holds nothing either, and stays empty.
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, "").unwrap();
        let e = open_store_with(&uri(&empty), OpenMode::MustExist)
            .err()
            .unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
        drop(open_store_with(&uri(&db), OpenMode::Create).unwrap());
        let store = open_store_with(&uri(&db), OpenMode::MustExist).unwrap();
        assert!(
            store
                .list_experiments(crate::ViewType::All)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn foreign_and_non_sqlite_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("other.db");
        {
            let c = rusqlite::Connection::open(&foreign).unwrap();
            c.execute_batch("CREATE TABLE runs (x TEXT); INSERT INTO runs VALUES ('mine');")
                .unwrap();
        }
        let before = std::fs::read(&foreign).unwrap();
        for mode in [OpenMode::Create, OpenMode::MustExist] {
            let e = open_store_with(&uri(&foreign), mode)
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.ends_with(
                    "other.db: not a hone store (it has tables but no hone schema version)"
                ),
                "{e}"
            );
            assert!(!e.contains('\n'));
        }
        assert_eq!(
            std::fs::read(&foreign).unwrap(),
            before,
            "the file was changed"
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello\nworld\n".repeat(100)).unwrap();
        for mode in [OpenMode::Create, OpenMode::MustExist] {
            let e = open_store_with(&uri(&text), mode)
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.ends_with("notes.txt: not a hone store (not a SQLite database)"),
                "{e}"
            );
        }
        let e = open_store_with(&uri(dir.path()), OpenMode::Create)
            .err()
            .unwrap();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }

    #[test]
    fn lookups_of_a_missing_run_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store_with(&uri(&dir.path().join("hone.db")), OpenMode::Create).unwrap();
        let exp = store.create_experiment("e", &[]).unwrap();
        let run = store
            .create_run(NewRun {
                experiment_id: exp,
                ..Default::default()
            })
            .unwrap();
        let id = run.run_id.as_str();
        assert!(store.list_artifacts(id).unwrap().is_empty());
        assert!(store.child_runs(id).unwrap().is_empty());
        assert!(store.run_inputs(id).unwrap().is_empty());
        assert!(store.metric_history(id, "m").unwrap().is_empty());
        let missing = [
            store.list_artifacts("nope").err(),
            store.child_runs("nope").err(),
            store.run_inputs("nope").err(),
            store.metric_history("nope", "m").err(),
            store.get_run("nope").err(),
        ];
        for e in missing {
            assert_eq!(
                e.map(|e| e.to_string()).as_deref(),
                Some("run nope not found")
            );
        }
    }

    /// A store written by the previous hone (schema version 2: runs owned by pid and host,
    /// heartbeats per run) is upgraded when opened, and its runs are reaped as before: a dead
    /// process of this machine at once, another machine's run 15 minutes after its last
    /// heartbeat, a run without owner never.
    fn upgrades_a_version_2_store(db: &dyn crate::db::Db, uri: &str) {
        use crate::db::Value;
        use crate::{Lease, RunStatus};
        super::migrate_to(db, OpenMode::Create, "test", 2).unwrap();
        let here = crate::liveness::hostname();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = i64::from(child.id());
        child.wait().unwrap();
        let me = i64::from(std::process::id());
        let my_start = crate::liveness::process_start(std::process::id());
        let now = crate::now_ms();
        let old = now - 20 * 60 * 1000;
        let runs: [(&str, Value, Value, Value, i64); 5] = [
            (
                "dead-local",
                here.as_str().into(),
                Value::Int(dead_pid),
                Value::Null,
                now,
            ),
            (
                "live-local",
                here.as_str().into(),
                Value::Int(me),
                my_start.into(),
                old,
            ),
            (
                "stale-remote",
                "elsewhere".into(),
                Value::Int(1),
                Value::Null,
                old,
            ),
            (
                "fresh-remote",
                "elsewhere".into(),
                Value::Int(1),
                Value::Null,
                now,
            ),
            ("unowned", Value::Null, Value::Null, Value::Null, old),
        ];
        db.write(&mut |c| {
            let exp = c.query(
                "INSERT INTO experiments (name, lifecycle, creation_time, last_update_time) \
                 VALUES ('old', 'active', 0, 0) RETURNING experiment_id",
                &[],
            )?[0][0]
                .clone();
            for (id, host, pid, start, heartbeat) in &runs {
                c.execute(
                    "INSERT INTO runs (run_id, experiment_id, name, status, start_time, user_id, \
                     lifecycle, owner_host, owner_pid, owner_start, heartbeat) \
                     VALUES (?1, ?2, ?1, 'RUNNING', 0, 'u', 'active', ?3, ?4, ?5, ?6)",
                    &[
                        (*id).into(),
                        exp.clone(),
                        host.clone(),
                        pid.clone(),
                        start.clone(),
                        Value::Int(*heartbeat),
                    ],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let store = open_store_with(uri, OpenMode::MustExist).unwrap();
        let mut version = 0;
        db.read(&mut |c| {
            version = c.query("SELECT MAX(version) FROM hone_schema", &[])?[0][0]
                .int()
                .unwrap_or(0);
            Ok(())
        })
        .unwrap();
        assert_eq!(version, super::SCHEMA_VERSION);
        let mut reaped = store.reap().unwrap();
        reaped.sort();
        // The live process of this machine last beat 20 minutes ago: its lease has expired
        // like any other (an older hone would have kept it RUNNING while the process lived).
        assert_eq!(reaped, ["dead-local", "live-local", "stale-remote"]);
        let status = |id: &str| store.get_run(id).unwrap().info.status;
        assert_eq!(status("fresh-remote"), RunStatus::Running);
        assert_eq!(status("unowned"), RunStatus::Running);
        // An older hone still running keeps its run alive by its heartbeat column.
        db.write(&mut |c| {
            c.execute(
                "UPDATE runs SET heartbeat = ?1 WHERE run_id = 'fresh-remote'",
                &[Value::Int(crate::now_ms())],
            )?;
            Ok(())
        })
        .unwrap();
        assert!(store.reap().unwrap().is_empty());
        // New runs work with leases in the upgraded store.
        let exp = store.get_experiment_by_name("old").unwrap().unwrap();
        let lease = Lease {
            ttl_ms: 1,
            ..Lease::for_this_process()
        };
        let run = store
            .create_run(NewRun {
                experiment_id: exp.experiment_id,
                owner: Some(lease.clone()),
                ..Default::default()
            })
            .unwrap()
            .run_id;
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(store.reap().unwrap(), vec![run]);
    }

    /// A new SQLite database `hone.db` in `dir` (no schema yet) and its URI.
    fn fresh_sqlite(dir: &std::path::Path) -> (crate::sqlite::SqliteDb, String) {
        let path = dir.join("hone.db");
        let db = crate::sqlite::SqliteDb::open(
            &path,
            crate::sqlite::Durability::Process,
            OpenMode::Create,
        )
        .unwrap();
        (db, uri(&path))
    }

    #[test]
    fn a_version_2_sqlite_store_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let (db, uri) = fresh_sqlite(dir.path());
        upgrades_a_version_2_store(&db, &uri);
    }

    #[test]
    fn a_version_2_postgres_store_is_upgraded() {
        let uri = hone_test_support::shared_cluster().fresh_database();
        let db = crate::pg::PgDb::connect(&uri).unwrap();
        upgrades_a_version_2_store(&db, &uri);
    }

    /// A store written by the previous hone (schema version 3, before the registry) is
    /// upgraded in place when opened: its runs are kept and the registry works on them.
    fn upgrades_a_version_3_store(db: &dyn crate::db::Db, uri: &str) {
        use crate::{Stage, Transition};
        super::migrate_to(db, OpenMode::Create, "test", 3).unwrap();
        db.write(&mut |c| {
            let exp = c.query(
                "INSERT INTO experiments (name, lifecycle, creation_time, last_update_time) \
                 VALUES ('old', 'active', 0, 0) RETURNING experiment_id",
                &[],
            )?[0][0]
                .clone();
            c.execute(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, user_id, \
                 lifecycle) VALUES ('r3', ?1, 'r3', 'FINISHED', 0, 'u', 'active')",
                &[exp],
            )?;
            c.execute(
                "INSERT INTO datasets (name, digest, source, schema_json, rows) \
                 VALUES ('prices', 'abc', '/data/p.csv', '{}', 7)",
                &[],
            )?;
            c.execute(
                "INSERT INTO run_inputs (run_id, dataset_id, context) \
                 SELECT 'r3', dataset_id, 'train' FROM datasets",
                &[],
            )?;
            Ok(())
        })
        .unwrap();
        let store = open_store_with(uri, OpenMode::MustExist).unwrap();
        let mut version = 0;
        db.read(&mut |c| {
            version = c.query("SELECT MAX(version) FROM hone_schema", &[])?[0][0]
                .int()
                .unwrap_or(0);
            Ok(())
        })
        .unwrap();
        assert_eq!(version, super::SCHEMA_VERSION);
        assert_eq!(store.get_run("r3").unwrap().info.run_name, "r3");
        // Version 7: old datasets read back without MLflow's fields; logged models and run
        // outputs work on old experiments and runs.
        let inputs = store.run_inputs("r3").unwrap();
        assert_eq!(
            (
                inputs[0].name.as_str(),
                inputs[0].rows,
                inputs[0].source_type.as_str()
            ),
            ("prices", 7, "")
        );
        let exp = store.get_run("r3").unwrap().info.experiment_id;
        let model = store
            .create_logged_model(crate::NewLoggedModel {
                experiment_id: exp,
                source_run_id: Some("r3".into()),
                ..Default::default()
            })
            .unwrap();
        store
            .log_outputs("r3", &[(model.model_id.clone(), 0)])
            .unwrap();
        assert_eq!(store.run_outputs(&["r3".into()]).unwrap().len(), 1);
        store.create_registered_model("m", "", &[]).unwrap();
        let v = store
            .create_model_version(&crate::NewModelVersion::from_run(
                "m",
                "r3",
                Some("1.0.0"),
                &[],
            ))
            .unwrap();
        assert_eq!(v.version, 1);
        store
            .transition_stage(&Transition {
                name: "m",
                version: 1,
                to: Stage::Staging,
                expected_current_production: None,
                archive_existing: false,
                user: "u",
                reason: "",
                details: "",
            })
            .unwrap();
        // The version 5 column: old and new entries read back.
        assert!(
            store
                .audit_log("m")
                .unwrap()
                .iter()
                .all(|e| e.details.is_empty())
        );
        // Opening again applies nothing twice.
        let again = open_store_with(uri, OpenMode::MustExist).unwrap();
        assert_eq!(again.versions_referencing_run("r3").unwrap().len(), 1);
    }

    /// A version registered before schema 6 (by the CLI, from a run) gets MLflow's `source`
    /// (`runs:/<run_id>`) and its run's artifact root as storage location.
    fn upgrades_a_version_5_registry(db: &dyn crate::db::Db, uri: &str) {
        super::migrate_to(db, OpenMode::Create, "test", 5).unwrap();
        let mut exp = 0;
        db.write(&mut |c| {
            exp = c.query(
                "INSERT INTO experiments (name, lifecycle, creation_time, last_update_time) \
                 VALUES ('old', 'active', 0, 0) RETURNING experiment_id",
                &[],
            )?[0][0]
                .int()
                .unwrap_or(0);
            c.batch(&format!(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, user_id, \
                 lifecycle) VALUES ('r5', {exp}, 'r5', 'FINISHED', 0, 'u', 'active'); \
                 INSERT INTO registered_models (name, description, creation_time, \
                 last_updated_time, user_id, last_version) VALUES ('m', '', 0, 0, 'u', 1); \
                 INSERT INTO model_versions (name, version, source_run_id, status, \
                 current_stage, description, user_id, creation_time, last_updated_time) \
                 VALUES ('m', 1, 'r5', 'READY', 'None', '', 'u', 0, 0)"
            ))?;
            Ok(())
        })
        .unwrap();
        let store = open_store_with(uri, OpenMode::MustExist).unwrap();
        let v = store.get_model_version("m", 1).unwrap();
        assert_eq!(v.source, "runs:/r5");
        assert_eq!(
            v.storage_location,
            format!("mlflow-artifacts:/{exp}/r5/artifacts")
        );
        assert_eq!((v.run_link.as_str(), v.model_id.as_str()), ("", ""));
    }

    /// A store that got versions 7 and 9 before version 6 was merged (parallel branches) gets
    /// version 6 when opened.
    fn a_store_without_version_6_gets_it(db: &dyn crate::db::Db, uri: &str) {
        super::migrate_to(db, OpenMode::Create, "test", 5).unwrap();
        db.write(&mut |c| {
            for (v, sql) in [(7, super::V7), (9, super::V9)] {
                c.batch(&super::schema_sql(sql, db.dialect()))?;
                c.execute(
                    "INSERT INTO hone_schema (version) VALUES (?1)",
                    &[crate::db::Value::Int(v)],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let store = open_store_with(uri, OpenMode::MustExist).unwrap();
        let exp = store.get_or_create_experiment("e").unwrap();
        let run = store
            .create_run(NewRun {
                experiment_id: exp,
                ..Default::default()
            })
            .unwrap()
            .run_id;
        store.create_registered_model("m", "", &[]).unwrap();
        let v = store
            .create_model_version(&crate::NewModelVersion::from_run("m", &run, None, &[]))
            .unwrap();
        assert_eq!(v.source, format!("runs:/{run}"));
        // Opening again applies nothing twice.
        open_store_with(uri, OpenMode::MustExist).unwrap();
    }

    #[test]
    fn a_sqlite_store_without_version_6_gets_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, uri) = fresh_sqlite(dir.path());
        a_store_without_version_6_gets_it(&db, &uri);
    }

    #[test]
    fn a_postgres_store_without_version_6_gets_it() {
        let uri = hone_test_support::shared_cluster().fresh_database();
        let db = crate::pg::PgDb::connect(&uri).unwrap();
        a_store_without_version_6_gets_it(&db, &uri);
    }

    #[test]
    fn a_version_5_sqlite_registry_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let (db, uri) = fresh_sqlite(dir.path());
        upgrades_a_version_5_registry(&db, &uri);
    }

    #[test]
    fn a_version_5_postgres_registry_is_upgraded() {
        let uri = hone_test_support::shared_cluster().fresh_database();
        let db = crate::pg::PgDb::connect(&uri).unwrap();
        upgrades_a_version_5_registry(&db, &uri);
    }

    #[test]
    fn a_version_3_sqlite_store_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let (db, uri) = fresh_sqlite(dir.path());
        upgrades_a_version_3_store(&db, &uri);
    }

    #[test]
    fn a_version_3_postgres_store_is_upgraded() {
        let uri = hone_test_support::shared_cluster().fresh_database();
        let db = crate::pg::PgDb::connect(&uri).unwrap();
        upgrades_a_version_3_store(&db, &uri);
    }

    #[test]
    fn hone_tables_are_read_from_the_migrations() {
        let t: Vec<&str> = super::hone_tables().collect();
        assert!(t.contains(&"runs") && t.contains(&"sequences") && t.contains(&"experiments"));
        assert_eq!(t.len(), 31, "{t:?}");
        assert!(t.contains(&"hone_jobs") && t.contains(&"hone_job_logs"));
        assert!(t.contains(&"hone_users") && !t.contains(&"users"));
    }
}
