//! The store suite of `hone-track` (every behaviour of `Store`, `Coordinator`, `Maintenance`
//! and `Registry`), run through `hone server`: each case talks to a server over loopback HTTP
//! with `hone_track::remote::HttpBackend` (what `--store http://host:port` opens), and the
//! server serves a fresh SQLite store (`sqlite::x`) or PostgreSQL database (`postgres::x`).
//! The same assertions hold as on a local store: same values, same errors.

mod common;

mod common_http {
    use hone_track::{Backend, open_store};

    /// A server over a fresh store, and a client of it.
    pub struct Target {
        url: String,
        store: Box<dyn Backend>,
        _dir: tempfile::TempDir,
    }

    impl Target {
        fn serving(uri: String, dir: tempfile::TempDir) -> Self {
            let served = open_store(&uri).unwrap();
            let blobs = hone_track::artifacts::BlobStore::new(dir.path().join("artifacts"));
            let state = hone_server::AppState::new(served, blobs);
            // No reaper task: the suite reaps when its cases say so.
            let addr = crate::common::serve_router(move || hone_server::router(state));
            let url = format!("http://{addr}");
            Self {
                store: open_store(&url).unwrap(),
                url,
                _dir: dir,
            }
        }

        /// A server over a fresh SQLite store.
        pub fn sqlite() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
            Self::serving(uri, dir)
        }

        /// A server over a fresh database of the test binary's PostgreSQL cluster.
        pub fn postgres() -> Self {
            let uri = hone_test_support::shared_cluster().fresh_database();
            Self::serving(uri, tempfile::tempdir().unwrap())
        }

        /// The client.
        pub fn store(&self) -> &dyn Backend {
            self.store.as_ref()
        }

        /// Another client of the same server.
        pub fn open(&self) -> Box<dyn Backend> {
            open_store(&self.url).unwrap()
        }
    }
}

use common_http::Target;

include!("../../hone-track/tests/suites/store.rs");
