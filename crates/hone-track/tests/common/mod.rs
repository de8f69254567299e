//! What the store's suites share: a store under test on either backend (the
//! `on_both_backends!` macro of hone-test-support calls `Target::sqlite` and
//! `Target::postgres`).
#![allow(dead_code)] // each suite uses its own subset

use hone_track::{Backend, open_store};

/// A store under test: its URI (to open more connections) and one open handle.
pub struct Target {
    uri: String,
    store: Box<dyn Backend>,
    /// Keeps the SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    /// A fresh SQLite store in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
        Self {
            store: open_store(&uri).unwrap(),
            uri,
            _dir: Some(dir),
        }
    }

    /// A fresh database in the test binary's shared PostgreSQL cluster.
    pub fn postgres() -> Self {
        let uri = hone_test_support::shared_cluster().fresh_database();
        Self {
            store: open_store(&uri).unwrap(),
            uri,
            _dir: None,
        }
    }

    /// The open handle.
    pub fn store(&self) -> &dyn Backend {
        self.store.as_ref()
    }

    /// The store's job queue, on a connection of its own.
    pub fn queue(&self) -> Box<dyn hone_track::JobQueue> {
        hone_track::open_queue(&self.uri).unwrap()
    }

    /// Another connection to the same store (another process, as far as the store can tell).
    pub fn open(&self) -> Box<dyn Backend> {
        open_store(&self.uri).unwrap()
    }
}
