//! `hone server` against the official MLflow Python client's model-registry calls: the built
//! binary on a free loopback port over a temporary SQLite store, and
//! `scripts/tests/mlflow_registry_workflow.py` run with `.tools/mlflow-venv/bin/python` (made
//! by `scripts/setup.sh`). The test fails, not skips, when that venv is missing. The store is
//! then read directly: the client's stage changes are hone's audited steps, by the caller.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server process; killed when dropped (also when the test panics).
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn store_uri(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hone.db").display())
}

/// Starts `hone server --port 0` and returns it with the address from its first line.
fn start_server(dir: &Path) -> (ServerGuard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["server", "--host", "127.0.0.1", "--port", "0", "--store"])
        .arg(store_uri(dir))
        .arg("--artifacts")
        .arg(dir.join("artifacts"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = ServerGuard(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    (guard, addr)
}

fn healthy(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut raw = String::new();
    s.write_all(request.as_bytes()).is_ok()
        && s.read_to_string(&mut raw).is_ok()
        && raw.starts_with("HTTP/1.1 200")
        && raw.ends_with("OK")
}

#[test]
fn the_official_mlflow_client_drives_the_registry_through_hone_server() {
    let python = repo_root().join(".tools/mlflow-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup.sh` (it installs the MLflow client this test \
         drives)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start_server(dir.path());
    let start = Instant::now();
    while !healthy(&addr) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no /health from {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(&python)
        .arg(repo_root().join("scripts/tests/mlflow_registry_workflow.py"))
        .arg(format!("http://{addr}"))
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the MLflow registry workflow failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("registry workflow OK"), "{stdout}");

    // The client's one-call None -> Production was hone's two audited steps, by the caller.
    let store = hone_track::open_store(&store_uri(dir.path())).unwrap();
    let steps: Vec<(String, String, String, String)> = store
        .audit_log("btc-momentum")
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "transition_stage" && e.version == Some(2))
        .map(|e| {
            (
                e.from.unwrap_or_default(),
                e.to.unwrap_or_default(),
                e.user_id,
                e.reason,
            )
        })
        .collect();
    let step = |from: &str, to: &str, reason: &str| {
        (
            from.to_string(),
            to.to_string(),
            "anonymous".to_string(),
            reason.to_string(),
        )
    };
    assert_eq!(
        steps,
        [
            step("None", "Staging", "MLflow transition-stage"),
            step("Staging", "Production", "MLflow transition-stage"),
            step(
                "Production",
                "Archived",
                "archived by the move of version 1 to production"
            ),
        ]
    );
}
