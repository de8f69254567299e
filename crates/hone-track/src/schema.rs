//! Versioned schema migrations, applied when a store is opened.
//!
//! Each migration runs once, in order, inside a write transaction, and bumps `hone_schema`.
//! A store whose version is higher than [`SCHEMA_VERSION`] was written by a newer hone and is
//! refused rather than misread.

use crate::db::{Conn, Db, Value, schema_sql};
use crate::{Result, TrackError};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

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
/// [`Store::next_sequence`](crate::store::Store::next_sequence).
const V2: &str = r#"
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
"#;

const MIGRATIONS: &[(i64, &str)] = &[(1, V1), (2, V2)];

fn current_version(c: &mut dyn Conn) -> Result<i64> {
    c.batch("CREATE TABLE IF NOT EXISTS hone_schema (version BIGINT NOT NULL)")?;
    let rows = c.query("SELECT MAX(version) FROM hone_schema", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::int)
        .unwrap_or(0))
}

/// Brings the schema up to date, or refuses a newer one.
pub fn migrate(db: &dyn Db) -> Result<()> {
    let dialect = db.dialect();
    let location = db.location();
    db.write(&mut |c| {
        // Two processes opening a fresh PostgreSQL database at once would both run
        // `CREATE TABLE IF NOT EXISTS` and one would fail on the catalog's unique index: take a
        // transaction-scoped advisory lock first, so migrations run one at a time.
        if dialect == crate::db::Dialect::Postgres {
            c.query(
                "SELECT 1 FROM (SELECT pg_advisory_xact_lock(4683119001)) AS migration_lock",
                &[],
            )?;
        }
        let version = current_version(c)?;
        if version > SCHEMA_VERSION {
            return Err(TrackError::NewerSchema {
                location: location.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (v, sql) in MIGRATIONS {
            if *v > version {
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
