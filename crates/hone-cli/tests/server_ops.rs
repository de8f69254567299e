//! `hone server` as an operator runs it: the built binary over a temporary SQLite store,
//! driven by raw HTTP. Request logs on stderr (one line per request, route templates only),
//! acknowledged writes surviving `kill -9`, and SIGTERM draining requests in flight.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn api_get(addr: &str, path_and_query: &str) -> Value {
    let (status, body) = request(
        addr,
        "GET",
        &format!("/api/2.0/mlflow/{path_and_query}"),
        None,
    )
    .expect("a response");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
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

/// A run's params (key → value) and the steps of its metric `loss` (step → value).
fn read_back(addr: &str, run: &str) -> (BTreeMap<String, String>, BTreeMap<i64, f64>) {
    let got = api_get(addr, &format!("runs/get?run_id={run}"));
    let params = got["run"]["data"]["params"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["key"].as_str().unwrap().to_string(),
                        p["value"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let history = api_get(
        addr,
        &format!("metrics/get-history?run_id={run}&metric_key=loss&max_results=25000"),
    );
    let points = history["metrics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| (m["step"].as_i64().unwrap(), m["value"].as_f64().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    (params, points)
}

/// Batch `i`: the points `loss` at steps `5i..5i+5` (value = step / 10) and the param `p<i>`.
fn batch(run: &str, i: i64) -> Value {
    let metrics: Vec<Value> = (5 * i..5 * i + 5)
        .map(|step| json!({"key": "loss", "value": step as f64 / 10.0, "timestamp": 1_700_000_000_000_i64 + step, "step": step}))
        .collect();
    json!({"run_id": run, "metrics": metrics, "params": [{"key": format!("p{i}"), "value": format!("v{i}")}]})
}

/// Batch `i` is all there or not at all (a batch is one transaction).
fn batch_present(
    i: i64,
    params: &BTreeMap<String, String>,
    points: &BTreeMap<i64, f64>,
) -> Option<bool> {
    let param = params.get(&format!("p{i}")) == Some(&format!("v{i}"));
    let steps = (5 * i..5 * i + 5)
        .filter(|s| points.get(s) == Some(&(*s as f64 / 10.0)))
        .count();
    match (param, steps) {
        (true, 5) => Some(true),
        (false, 0) => Some(false),
        _ => None,
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // Round 0: a batch and a param, acknowledged, then SIGKILL at once.
    let mut server = start(dir.path(), &[], Stdio::null());
    let run = new_run(&server.addr, "durability");
    let (status, body) = api(&server.addr, "runs/log-batch", batch(&run, 0)).unwrap();
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (status, body) = api(
        &server.addr,
        "runs/log-parameter",
        json!({"run_id": run, "key": "lr", "value": "0.1"}),
    )
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "{}"));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let server = start(dir.path(), &[], Stdio::null());
    let (params, points) = read_back(&server.addr, &run);
    assert_eq!(params.get("lr").map(String::as_str), Some("0.1"));
    assert_eq!(batch_present(0, &params, &points), Some(true));
    drop(server);

    // Racing rounds: two writers send batches back to back while the server is killed after
    // `delay` ms. Every acknowledged batch must be there after a restart; a batch without an
    // answer may be there or not, but never in part.
    for delay in [30_u64, 100, 250, 500] {
        let mut server = start(dir.path(), &[], Stdio::null());
        let run = new_run(&server.addr, &format!("race-{delay}"));
        // Two writers (batches 2k and 2k + 1), so that requests are in flight concurrently
        // when the kill comes.
        let writers: Vec<_> = (0..2_i64)
            .map(|t| {
                let addr = server.addr.clone();
                let run = run.clone();
                std::thread::spawn(move || {
                    let (mut acked, mut sent) = (Vec::new(), Vec::new());
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let mut k = 0;
                    while Instant::now() < deadline {
                        let i = 2 * k + t;
                        sent.push(i);
                        match api(&addr, "runs/log-batch", batch(&run, i)) {
                            Some((200, body)) => {
                                assert_eq!(body, "{}");
                                acked.push(i);
                            }
                            Some((status, body)) => panic!("batch {i}: {status} {body}"),
                            None => break,
                        }
                        k += 1;
                    }
                    (acked, sent)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(delay));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let (mut acked, mut sent) = (Vec::new(), Vec::new());
        for w in writers {
            let (a, s) = w.join().unwrap();
            acked.extend(a);
            sent.extend(s);
        }
        drop(server);
        let server = start(dir.path(), &[], Stdio::null());
        let (params, points) = read_back(&server.addr, &run);
        let mut unacked_present = 0;
        for &i in &sent {
            let present = batch_present(i, &params, &points)
                .unwrap_or_else(|| panic!("round {delay} ms: batch {i} is there in part"));
            if acked.contains(&i) {
                assert!(present, "round {delay} ms: acknowledged batch {i} lost");
            } else if present {
                unacked_present += 1;
            }
        }
        assert_eq!(points.len() % 5, 0);
        eprintln!(
            "kill -9 after {delay} ms: {} batches acknowledged ({} points), all present; {} \
             sent without an answer, {} of them present",
            acked.len(),
            acked.len() * 5,
            sent.len() - acked.len(),
            unacked_present
        );
    }
}

#[test]
fn sigterm_finishes_the_requests_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[], Stdio::null());
    let addr = server.addr.clone();
    let run = new_run(&addr, "drain");
    // A full log-batch (1000 points), of which only the head and half the body are sent
    // before SIGTERM: the request is in flight when the signal comes.
    let metrics: Vec<Value> = (0..1000)
        .map(|step| json!({"key": "loss", "value": step as f64 / 10.0, "timestamp": 1_700_000_000_000_i64 + step, "step": step}))
        .collect();
    let body = json!({"run_id": run, "metrics": metrics}).to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    s.write_all(first).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    std::thread::sleep(Duration::from_millis(300));
    // Still serving the request in flight: the process has not exited.
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited mid-request"
    );
    s.write_all(rest).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 "), "{raw}");
    assert!(raw.ends_with("\r\n\r\n{}"), "{raw}");
    // Then the process exits, with status 0.
    let start_wait = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(30),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    drop(server);
    // The drained request's points were written.
    let server = start(dir.path(), &[], Stdio::null());
    let (_, points) = read_back(&server.addr, &run);
    assert_eq!(points.len(), 1000);
}
