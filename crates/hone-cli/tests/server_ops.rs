//! `hone server` as an operator runs it: the built binary over a temporary SQLite store,
//! driven by raw HTTP. Request logs on stderr (one line per request, route templates only),
//! acknowledged writes surviving `kill -9`, and SIGTERM draining requests in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The server process; killed when dropped (also when the test panics).
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hone server --port 0` on `dir/hone.db` (extra args appended) and reads the port
/// from its first line on stdout.
fn start(dir: &Path, extra: &[&str], stderr: Stdio) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["server", "--host", "127.0.0.1", "--port", "0", "--store"])
        .arg(format!("sqlite://{}", dir.join("hone.db").display()))
        .arg("--artifacts")
        .arg(dir.join("artifacts"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(
        line.starts_with("hone server listening on http://127.0.0.1:"),
        "first line: {line:?}"
    );
    let addr = line
        .split_whitespace()
        .nth(4)
        .unwrap()
        .trim_start_matches("http://")
        .to_string();
    Server { child, addr }
}

/// One request over a raw connection: (status, body); `None` when no complete response came.
fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(body.len());
    // A connection cut mid-body is no response.
    (body.len() == length).then(|| (status, body.to_string()))
}

fn api(addr: &str, endpoint: &str, body: Value) -> Option<(u16, String)> {
    request(
        addr,
        "POST",
        &format!("/api/2.0/mlflow/{endpoint}"),
        Some(&body),
    )
}

fn new_run(addr: &str, experiment: &str) -> String {
    let (_, body) = api(addr, "experiments/create", json!({"name": experiment})).unwrap();
    let exp: Value = serde_json::from_str(&body).unwrap();
    let (status, body) = api(
        addr,
        "runs/create",
        json!({"experiment_id": exp["experiment_id"]}),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let run: Value = serde_json::from_str(&body).unwrap();
    run["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

#[test]
fn every_request_is_logged_once_by_route_template_without_client_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &["--log-format", "json"], Stdio::piped());
    let addr = server.addr.clone();
    let run = new_run(&addr, "logs");
    let (status, _) = api(
        &addr,
        "runs/log-parameter",
        json!({"run_id": run, "key": "password", "value": "hunter2-secret"}),
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = request(&addr, "GET", "/private-path-xyz?token=abc123", None).unwrap();
    assert_eq!(status, 404);
    // SIGTERM: the server exits and its stderr ends.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(server.child.wait().unwrap().success());
    for secret in ["hunter2-secret", "private-path-xyz", "abc123", run.as_str()] {
        assert!(!stderr.contains(secret), "{secret} logged:\n{stderr}");
    }
    let requests: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v| v["target"] == "hone_server::request")
        .collect();
    let routes: Vec<(&str, &str, i64)> = requests
        .iter()
        .map(|v| {
            let f = &v["fields"];
            assert!(f["latency_ms"].as_f64().unwrap() >= 0.0, "{v}");
            assert_eq!(v["level"], "INFO");
            (
                f["method"].as_str().unwrap(),
                f["route"].as_str().unwrap(),
                f["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("POST", "/api/2.0/mlflow/experiments/create", 200),
            ("POST", "/api/2.0/mlflow/runs/create", 200),
            ("POST", "/api/2.0/mlflow/runs/log-parameter", 200),
            ("GET", "unmatched", 404),
        ]
    );
}
