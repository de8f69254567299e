//! `hone server` against the official MLflow Python client: the built binary on a free
//! loopback port over a temporary SQLite store, and `scripts/tests/mlflow_client_workflow.py`
//! run with `.tools/mlflow-venv/bin/python` (made by `scripts/setup.sh`). The test fails, not
//! skips, when that venv is missing. Artifacts the client uploaded through the server are then
//! read back with `hone artifacts` (list, get, verify) from the same store.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{ServerProcess, http_get, run_client_script};

/// Where a test server keeps its data: a store URI, an artifact location, and the
/// environment the artifact store needs (S3 endpoint and credentials).
struct Backend {
    store: String,
    artifacts: String,
    env: Vec<(&'static str, String)>,
}

impl Backend {
    /// A SQLite store and a blob folder in `dir`.
    fn local(dir: &Path) -> Self {
        Self {
            store: format!("sqlite://{}", dir.join("hone.db").display()),
            artifacts: dir.join("artifacts").display().to_string(),
            env: Vec::new(),
        }
    }
}

/// Starts `hone server` over `backend`.
fn start_server(backend: &Backend) -> ServerProcess {
    ServerProcess::start(
        &[
            "--host",
            "127.0.0.1",
            "--store",
            &backend.store,
            "--artifacts",
            &backend.artifacts,
        ],
        &backend.env,
        Stdio::inherit(),
    )
}

/// Runs `scripts/tests/mlflow_client_workflow.py` against the server from `dir`; returns its
/// stdout (it names the run whose artifacts it logged).
fn run_client_workflow(addr: &str, dir: &Path) -> String {
    run_client_script(
        "mlflow_client_workflow.py",
        addr,
        dir,
        &[],
        "client workflow OK",
    )
}

#[test]
fn the_official_mlflow_client_logs_and_searches_through_hone_server() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::local(dir.path());
    let mut server = start_server(&backend);
    let addr = server.addr.clone();
    let stdout = run_client_workflow(&addr, dir.path());
    cli_reads_the_uploaded_artifacts(&backend, dir.path(), &stdout);

    // SIGTERM shuts the server down gracefully: exit code 0.
    let pid = libc::pid_t::try_from(server.child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// `hone artifacts` over the server's store and artifact location: (stdout bytes, success).
fn hone_artifacts(backend: &Backend, args: &[&str]) -> (Vec<u8>, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_hone"))
        .arg("artifacts")
        .arg("--store")
        .arg(&backend.store)
        .arg("--artifacts")
        .arg(&backend.artifacts)
        .args(args)
        .envs(backend.env.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    (out.stdout, out.status.success())
}

/// What the client logged through the proxy is a hone run's artifacts: listed, fetched
/// byte-for-byte and verified by the CLI.
fn cli_reads_the_uploaded_artifacts(backend: &Backend, dir: &Path, client_stdout: &str) -> String {
    let run = client_stdout
        .lines()
        .find_map(|l| l.strip_prefix("artifacts run: "))
        .expect("the workflow names its artifacts run")
        .trim();
    let (listed, ok) = hone_artifacts(backend, &["list", run, "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    let paths: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "config/params.json",
            "docs/notes.txt",
            "notes.txt",
            "text/out.txt",
            "tree/a.csv",
            "tree/sub/b.json",
            "tree/sub/deeper/c.bin",
            "tree/sub/deeper/empty.txt"
        ]
    );
    let inputs = dir.join("artifact-inputs");
    for (logged, source) in [
        ("notes.txt", "notes.txt"),
        ("tree/sub/deeper/c.bin", "tree/sub/deeper/c.bin"),
        ("tree/sub/deeper/empty.txt", "tree/sub/deeper/empty.txt"),
    ] {
        let (bytes, ok) = hone_artifacts(backend, &["get", run, logged]);
        assert!(ok, "hone artifacts get {logged}");
        assert_eq!(
            bytes,
            std::fs::read(inputs.join(source)).unwrap(),
            "{logged}"
        );
    }
    let (text, ok) = hone_artifacts(backend, &["get", run, "text/out.txt"]);
    assert!(ok);
    assert_eq!(text, b"hello from log_text\n");
    let (_, ok) = hone_artifacts(backend, &["verify", run]);
    assert!(ok, "hone artifacts verify");
    run.to_string()
}

#[test]
fn a_team_server_over_postgresql_and_s3_serves_the_client() {
    // What a team runs: the store in PostgreSQL, the artifacts in S3 (SeaweedFS here, a real
    // S3 server on loopback), the official client unchanged.
    let s3 = hone_test_support::s3::SeaweedS3::start();
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend {
        store: hone_test_support::shared_cluster().fresh_database(),
        artifacts: format!("s3://{}/team", hone_test_support::s3::BUCKET),
        env: s3.env(),
    };
    let server = start_server(&backend);
    let addr = server.addr.clone();
    let stdout = run_client_workflow(&addr, dir.path());
    let run = cli_reads_the_uploaded_artifacts(&backend, dir.path(), &stdout);
    // The bytes are in the bucket, named by their checksum.
    let keys = s3.keys("team/blobs/");
    assert!(keys.len() >= 5, "{keys:?}");

    // A blob damaged in the bucket is an error, never served: the server refuses the
    // download and `hone artifacts verify` names it.
    let (listed, ok) = hone_artifacts(&backend, &["list", &run, "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    let item = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == "docs/notes.txt")
        .unwrap()
        .clone();
    let sha = item["sha256"].as_str().unwrap();
    let key = keys.iter().find(|k| k.ends_with(sha)).unwrap();
    assert_eq!(
        s3.request(
            "PUT",
            &format!("/{}/{key}", hone_test_support::s3::BUCKET),
            b"tampered"
        ),
        Some(200)
    );
    let (_, got) = http_get(&addr, &format!("/api/2.0/mlflow/runs/get?run_id={run}")).unwrap();
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    let root = got["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/")
        .to_string();
    let (status, body) = http_get(
        &addr,
        &format!("/api/2.0/mlflow-artifacts/artifacts/{root}/docs/notes.txt"),
    )
    .unwrap();
    assert!(!status.contains(" 200 "), "{status}: {body}");
    assert!(!body.contains("tampered"), "{body}");
    let (_, ok) = hone_artifacts(&backend, &["verify", &run]);
    assert!(!ok, "verify must fail on a damaged blob");
    drop(server);
}

#[test]
fn the_server_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["server", "--host", "0.0.0.0", "--port", "0", "--store"])
        .arg(dir.path().join("hone.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: binding to 0.0.0.0 needs authentication: start the server with --auth (after \
         creating an administrator with `hone users add NAME --admin`), or bind to 127.0.0.1"
    );
    assert!(!dir.path().join("hone.db").exists(), "nothing opened");
}
