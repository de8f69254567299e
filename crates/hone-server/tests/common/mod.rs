//! A test server on `127.0.0.1:0` over a temporary SQLite store, and a raw HTTP/1.1 client
//! (a `TcpStream`, so that tests control every header, `Host` and `Content-Type` included).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

/// Serves the router `make` builds (inside the server's runtime, so that it may start tasks)
/// on a free loopback port from a background thread; returns the address.
pub fn serve_router(make: impl FnOnce() -> axum::Router + Send + 'static) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            hone_server::serve(listener, make(), std::future::pending())
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

/// The password of the users of [`TestServer::with_users`].
pub const PASSWORD: &str = "correct horse battery";

/// A running server and its store's folder.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The store's URI (tests open it to check what the server wrote).
    pub uri: String,
    /// The artifact blob store's folder.
    pub artifacts: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Serves `hone_server::router` on a free loopback port from a background thread.
    pub fn start() -> Self {
        Self::start_with(|_, state| state)
    }

    /// [`TestServer::start`] with API runs reaped after `timeout` without a write (the
    /// server's reaper task runs).
    pub fn start_with_run_timeout(timeout: std::time::Duration) -> Self {
        Self::start_with(move |_, state| state.with_run_timeout(timeout))
    }

    /// [`Self::start`], with the application state as `configure` makes it (given the
    /// store, to create users first).
    pub fn start_with(
        configure: impl FnOnce(&dyn hone_track::Backend, hone_server::AppState) -> hone_server::AppState,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
        let store = hone_track::open_store(&uri).unwrap();
        let setup = hone_track::open_store(&uri).unwrap();
        let artifacts = dir.path().join("artifacts");
        let blobs = hone_track::artifacts::BlobStore::new(&artifacts);
        let uri_out = uri.clone();
        // Configured before the server starts, so that its users exist at the first request.
        let state = configure(setup.as_ref(), hone_server::AppState::new(store, blobs));
        let addr = serve_router(move || {
            state.spawn_reaper();
            hone_server::router(state)
        });
        Self {
            addr,
            uri: uri_out,
            artifacts,
            _dir: dir,
        }
    }

    /// A server with authentication (`default` on resources without a grant) and three users
    /// with [`PASSWORD`]: `root` (administrator), `alice` and `bob`.
    pub fn with_users(default: Option<hone_track::accounts::Level>) -> Self {
        Self::start_with(move |st, state| {
            let hash = hone_track::accounts::hash_password(PASSWORD).unwrap();
            for (name, admin) in [("root", true), ("alice", false), ("bob", false)] {
                st.create_user(name, &hash, admin).unwrap();
            }
            state.with_auth(default)
        })
    }

    /// `GET path` (query string included).
    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, &[], None)
    }

    /// `POST path` with a JSON body and `Content-Type: application/json`.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body.to_string().as_bytes()),
        )
    }

    /// POST to an MLflow endpoint (`experiments/create` → `/api/2.0/mlflow/experiments/create`).
    pub fn api(&self, endpoint: &str, body: Value) -> Response {
        self.post(&format!("/api/2.0/mlflow/{endpoint}"), &body)
    }

    /// Creates an experiment named `name` through the API; returns its id.
    pub fn new_experiment(&self, name: &str) -> String {
        let r = self.api("experiments/create", serde_json::json!({"name": name}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["experiment_id"].as_str().unwrap().to_string()
    }

    /// Creates an experiment named `experiment` and a run in it; returns their ids.
    pub fn new_run(&self, experiment: &str) -> (String, String) {
        let exp = self.new_experiment(experiment);
        let r = self.api("runs/create", serde_json::json!({"experiment_id": exp}));
        assert_eq!(r.status, 200, "{}", r.body);
        let run = r.json()["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        (exp, run)
    }

    /// Sends one request with `body` as is (no `Content-Length` added: for chunked bodies).
    pub fn send_raw_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nHost: {}\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.write_all(req.as_bytes()).unwrap();
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Response::parse(&raw)
    }

    /// Sends one request (`Host: 127.0.0.1:<port>` unless `headers` names a Host; a header
    /// with an empty name is skipped, to send a request without `Host`).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            if !k.is_empty() {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.write_all(req.as_bytes()).unwrap();
        if let Some(b) = body {
            // A server may answer (413) before reading a large body: ignore a broken pipe.
            let _ = stream.write_all(b);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Response::parse(&raw)
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Asserts an MLflow error: status and error code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.json()["error_code"], code, "{}", self.body);
    }
}
