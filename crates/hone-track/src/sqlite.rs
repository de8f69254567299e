//! The SQLite backend: one file, WAL journal, and writes that wait for each other instead of
//! failing, so that many processes can log into one store at once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};

use crate::db::{Conn, Db, Dialect, Row, Value};
use crate::location::OpenMode;
use crate::{Result, TrackError, printable};

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            // SQLite stores NaN as NULL; the store keeps an is_nan flag beside such values.
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn db_err(e: rusqlite::Error) -> TrackError {
    match e {
        // Its message quotes the whole SQL text (a migration is 100 lines): the reason is enough.
        rusqlite::Error::SqlInputError { msg, .. } => TrackError::Db(msg),
        e => TrackError::Db(e.to_string()),
    }
}

fn is_busy(e: &TrackError) -> bool {
    matches!(e, TrackError::Db(m) if m.contains("database is locked") || m.contains("database table is locked") || m.contains("busy"))
}

/// Durability of committed transactions (the `synchronous` pragma).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Survives a crash of the process (kill -9); the last transactions may be lost on power
    /// failure. The default.
    Process,
    /// Survives power failure too (fsync on every commit); slower.
    Power,
}

/// A SQLite database file.
pub struct SqliteDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// How long a writer waits for other writers before giving up.
const LOCK_PATIENCE: Duration = Duration::from_secs(600);

impl SqliteDb {
    /// Opens the database file, creating it and its folder in [`OpenMode::Create`]. A file that
    /// is not a SQLite database, or another program's database, is refused before anything is
    /// written to it.
    pub fn open(path: &Path, durability: Durability, mode: OpenMode) -> Result<Self> {
        let shown = printable(&path.display().to_string()).into_owned();
        if path.is_dir() {
            return Err(TrackError::Invalid(format!(
                "store {shown} is a folder; name the database file in it, e.g. {shown}/hone.db"
            )));
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match mode {
            OpenMode::MustExist if !path.exists() => {
                return Err(crate::schema::nothing_tracked(&shown));
            }
            OpenMode::MustExist => {}
            OpenMode::Create => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| TrackError::Io {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    })?;
                }
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
        }
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| TrackError::Db(format!("{shown}: {e}")))?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(db_err)?;
        // rusqlite keeps 16 prepared statements by default; the store uses more distinct
        // statements than that on a hot path (multi-row inserts of several lengths, lookups,
        // upserts), and a statement evicted from the cache is parsed again on every request.
        conn.set_prepared_statement_cache_capacity(256);
        // SQLite reads the header lazily: probe it, then look at the tables, all before the
        // journal mode below is switched (which writes to the file).
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::NotADatabase => {
                return Err(TrackError::Invalid(format!(
                    "{shown}: not a hone store (not a SQLite database)"
                )));
            }
            Err(e) => return Err(TrackError::Db(format!("{shown}: {e}"))),
            Ok(_) => {}
        }
        crate::schema::check_contents(&mut SqliteConn(&conn), Dialect::Sqlite, mode, &shown)?;
        // WAL: readers never block writers; switching the journal mode itself can meet a lock.
        let start = Instant::now();
        loop {
            match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == ErrorCode::DatabaseBusy && start.elapsed() < LOCK_PATIENCE =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(db_err(e)),
            }
        }
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        };
        // A checkpoint (copying the WAL into the database) fsyncs both files even with
        // synchronous=NORMAL: at SQLite's default of every 1,000 pages, a server taking small
        // writes paid two fsyncs every few hundred requests. Every 10,000 pages (about 40 MB
        // of WAL) makes that rare; commits are as durable as before. The page cache (64 MB)
        // keeps the metric indexes of a busy store in memory.
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; \
             PRAGMA case_sensitive_like=ON; PRAGMA wal_autocheckpoint=10000; \
             PRAGMA cache_size=-65536;"
        ))
        .map_err(db_err)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| TrackError::Db("connection mutex poisoned".into()))?;
        f(&conn)
    }
}

struct SqliteConn<'a>(&'a Connection);

impl Conn for SqliteConn<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_err)?;
        stmt.execute(rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(db_err)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_err)?;
        let n = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i).map_err(db_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(row);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql).map_err(db_err)
    }
}

impl Db for SqliteDb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(2);
        loop {
            let attempt = self.with_conn(|c| {
                // IMMEDIATE takes the write lock up front, so a transaction never has to upgrade
                // (and fail) half-way.
                c.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
                match f(&mut SqliteConn(c)) {
                    Ok(()) => match c.execute_batch("COMMIT") {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            let _ = c.execute_batch("ROLLBACK");
                            Err(db_err(e))
                        }
                    },
                    Err(e) => {
                        let _ = c.execute_batch("ROLLBACK");
                        Err(e)
                    }
                }
            });
            match attempt {
                Err(e) if is_busy(&e) && start.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        let start = Instant::now();
        loop {
            let attempt = self.with_conn(|c| {
                c.execute_batch("BEGIN").map_err(db_err)?;
                let r = f(&mut SqliteConn(c));
                let _ = c.execute_batch("COMMIT");
                r
            });
            match attempt {
                Err(e) if is_busy(&e) && start.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn location(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

impl SqliteDb {
    /// `PRAGMA integrity_check`: `ok` when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        self.with_conn(|c| {
            c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .map_err(db_err)
        })
    }
}
