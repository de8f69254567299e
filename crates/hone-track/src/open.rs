//! Opening a store from a URI: the [`Backend`] a caller gets is the store, its coordination
//! and its maintenance in one object, whichever database holds them.

use crate::Result;
use crate::accounts::Accounts;
use crate::coordinator::Coordinator;
use crate::db::Db;
use crate::location::{OpenMode, StoreTarget, parse_store_uri};
use crate::maintenance::Maintenance;
use crate::pg::PgDb;
use crate::queue::JobQueue;
use crate::registry::Registry;
use crate::schema::migrate;
use crate::sql_store::SqlStore;
use crate::sqlite::SqliteDb;
use crate::store::Store;

/// A whole store: [`Store`] (the tracking data), [`Coordinator`] (counters, claims, leases,
/// reaping), [`Maintenance`] (retention, cascades, purge, referenced blobs) and [`Registry`]
/// (the model registry) and [`Accounts`] (users, tokens, permissions of the server). A `&dyn Backend` (or `Box`/`Arc`) converts to any of them where a
/// function needs only one. Implemented for every type that implements all four.
pub trait Backend: Store + Coordinator + Maintenance + Registry + Accounts {}

impl<T: Store + Coordinator + Maintenance + Registry + Accounts + ?Sized> Backend for T {}

/// Opens a store from a URI, creating it if needed: `sqlite:///abs/path.db`,
/// `sqlite://rel/path.db`, `file://` alike, a plain file path, or
/// `postgresql://user@host:port/db` (also `postgres://`); see
/// [`parse_store_uri`](crate::location::parse_store_uri). A `?durability=power` suffix on a
/// SQLite URI makes every commit fsync (survives power loss, not only process crashes).
/// `http://host:port` (or `https://`) is a `hone server`: every call goes to it
/// ([`crate::remote::HttpBackend`]), whatever the mode (the server's store exists).
pub fn open_store(uri: &str) -> Result<Box<dyn Backend>> {
    open_store_with(uri, OpenMode::Create)
}

/// Opens a store from a URI (as [`open_store`]); with [`OpenMode::MustExist`] a store that does
/// not exist yet is an error and nothing is created (no file, folder or schema), for commands
/// that only look at what was recorded.
pub fn open_store_with(uri: &str, mode: OpenMode) -> Result<Box<dyn Backend>> {
    match open_sql(uri, mode)? {
        Opened::Server(url) => Ok(Box::new(crate::remote::HttpBackend::connect(&url)?)),
        Opened::Postgres(s) => Ok(Box::new(s)),
        Opened::Sqlite(s) => Ok(Box::new(s)),
    }
}

/// A store URI opened: a database (migrated) or a server's address.
enum Opened {
    Server(String),
    Postgres(SqlStore<PgDb>),
    Sqlite(SqlStore<SqliteDb>),
}

fn open_sql(uri: &str, mode: OpenMode) -> Result<Opened> {
    match parse_store_uri(uri)? {
        StoreTarget::Server { url } => Ok(Opened::Server(url)),
        StoreTarget::Postgres { url } => {
            let db = PgDb::connect(&url)?;
            migrate(&db, mode, &db.location())?;
            Ok(Opened::Postgres(SqlStore::new(db)))
        }
        StoreTarget::Sqlite { path, durability } => {
            let db = SqliteDb::open(&path, durability, mode)?;
            migrate(&db, mode, &crate::printable(&path.display().to_string()))?;
            Ok(Opened::Sqlite(SqlStore::new(db)))
        }
    }
}

/// Opens a store's job queue from a URI (the same URIs as [`open_store`], creating the store
/// if needed). Workers and `hone jobs` talk to the database itself: a `hone server` URL is
/// refused with the reason (its job API is not exposed over HTTP).
pub fn open_queue(uri: &str) -> Result<Box<dyn JobQueue>> {
    open_queue_with(uri, OpenMode::Create)
}

/// [`open_queue`] with an [`OpenMode`] (`MustExist` for commands that only read).
pub fn open_queue_with(uri: &str, mode: OpenMode) -> Result<Box<dyn JobQueue>> {
    match open_sql(uri, mode)? {
        Opened::Server(url) => Err(crate::TrackError::Invalid(format!(
            "{url}: the job queue lives in the database; give workers and `hone jobs` the \
             server's store URI (postgresql://… or a SQLite path), not the server's address"
        ))),
        Opened::Postgres(s) => Ok(Box::new(s)),
        Opened::Sqlite(s) => Ok(Box::new(s)),
    }
}
