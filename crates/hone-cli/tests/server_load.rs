//! The server under load, as a team meets it: 64 clients, each on its own keep-alive
//! connection, logging to `hone server` at once for `HONE_LOAD_SECONDS` (default 60) —
//! single points (`log-metric`) and batches (`log-batch`) mixed. Passes when no request
//! failed and every acknowledged point is in the store afterwards, exactly once; prints the
//! throughput and the latency percentiles (p50, p99, max).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::server::ServerProcess;

const CLIENTS: usize = 64;
/// Every `BATCH_EVERY`-th request of a client is a `log-batch` of `BATCH_POINTS` points.
const BATCH_EVERY: u64 = 8;
const BATCH_POINTS: u64 = 50;

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Self {
            addr: addr.to_string(),
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request and reads its response: (status, body).
    fn call(&mut self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        let bad = |what: &str| std::io::Error::other(what.to_string());
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status line"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().map_err(|_| bad("bad content-length"))?;
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    fn api(&mut self, endpoint: &str, body: &Value) -> std::io::Result<(u16, String)> {
        self.call(
            "POST",
            &format!("/api/2.0/mlflow/{endpoint}"),
            &body.to_string(),
        )
    }
}

/// What one client did: points acknowledged (by step), latencies, failures.
struct ClientReport {
    run_id: String,
    acknowledged: u64,
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

fn client(addr: String, run_id: String, deadline: Instant) -> ClientReport {
    let mut report = ClientReport {
        run_id: run_id.clone(),
        acknowledged: 0,
        latencies: Vec::new(),
        failures: Vec::new(),
    };
    let mut conn = match Conn::open(&addr) {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(format!("connect: {e}"));
            return report;
        }
    };
    let mut step = 0u64;
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let (endpoint, body, points) = if i.is_multiple_of(BATCH_EVERY) {
            let metrics: Vec<Value> = (0..BATCH_POINTS)
                .map(|k| {
                    json!({"key": "loss", "value": (step + k) as f64 * 0.5,
                                "timestamp": 1_000 + step + k, "step": step + k})
                })
                .collect();
            (
                "runs/log-batch",
                json!({"run_id": run_id, "metrics": metrics}),
                BATCH_POINTS,
            )
        } else {
            (
                "runs/log-metric",
                json!({"run_id": run_id, "run_uuid": run_id, "key": "loss",
                       "value": step as f64 * 0.5, "timestamp": 1_000 + step, "step": step}),
                1,
            )
        };
        let start = Instant::now();
        match conn.api(endpoint, &body) {
            Ok((200, _)) => {
                report.latencies.push(start.elapsed());
                report.acknowledged += points;
            }
            Ok((status, body)) => report.failures.push(format!("{endpoint}: {status} {body}")),
            Err(e) => {
                report.failures.push(format!("{endpoint}: {e}"));
                match Conn::open(&addr) {
                    Ok(c) => conn = c,
                    Err(_) => return report,
                }
            }
        }
        step += points;
    }
    report
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[test]
fn sixty_four_clients_at_once_lose_nothing() {
    let seconds: u64 = std::env::var("HONE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let store = common::server::store_uri(dir.path());
    let artifacts = dir.path().join("artifacts").display().to_string();
    let server = ServerProcess::start(
        &[
            "--host",
            "127.0.0.1",
            "--store",
            &store,
            "--artifacts",
            &artifacts,
        ],
        &[],
        Stdio::null(),
    );
    let addr = server.addr.clone();

    let mut setup = Conn::open(&addr).unwrap();
    let (_, body) = setup
        .api("experiments/create", &json!({"name": "load"}))
        .unwrap();
    let exp = serde_json::from_str::<Value>(&body).unwrap()["experiment_id"].clone();
    let runs: Vec<String> = (0..CLIENTS)
        .map(|_| {
            let (status, body) = setup
                .api("runs/create", &json!({"experiment_id": exp}))
                .unwrap();
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<Value>(&body).unwrap()["run"]["info"]["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let handles: Vec<_> = runs
        .iter()
        .map(|run| {
            let (addr, run) = (addr.clone(), run.clone());
            std::thread::spawn(move || client(addr, run, deadline))
        })
        .collect();
    let reports: Vec<ClientReport> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wall = start.elapsed().as_secs_f64();

    let failures: Vec<&String> = reports.iter().flat_map(|r| &r.failures).collect();
    let mut latencies: Vec<Duration> = reports
        .iter()
        .flat_map(|r| r.latencies.iter().copied())
        .collect();
    latencies.sort();
    let points: u64 = reports.iter().map(|r| r.acknowledged).sum();
    println!(
        "{CLIENTS} clients, {wall:.1} s: {} requests ({:.0} req/s), {points} points \
         ({:.0} points/s), {} failed; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        latencies.len() as f64 / wall,
        points as f64 / wall,
        failures.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    assert!(
        failures.is_empty(),
        "failed requests: {:?}",
        &failures[..failures.len().min(5)]
    );
    assert!(
        latencies.len() > CLIENTS,
        "the clients made hardly any requests"
    );

    // Every acknowledged point is stored, once: the history of each run has exactly the
    // acknowledged steps 0..n.
    for r in &reports {
        let mut steps: Vec<u64> = Vec::new();
        let mut token = String::new();
        loop {
            let (status, body) = setup
                .call(
                    "GET",
                    &format!(
                        "/api/2.0/mlflow/metrics/get-history?run_id={}&metric_key=loss\
                         &max_results=25000{token}",
                        r.run_id
                    ),
                    "",
                )
                .unwrap();
            assert_eq!(status, 200, "{body}");
            let page: Value = serde_json::from_str(&body).unwrap();
            if let Some(points) = page["metrics"].as_array() {
                steps.extend(points.iter().filter_map(|m| m["step"].as_u64()));
            }
            match page["next_page_token"].as_str() {
                Some(t) => token = format!("&page_token={t}"),
                None => break,
            }
        }
        steps.sort_unstable();
        let expected: Vec<u64> = (0..r.acknowledged).collect();
        assert!(
            steps == expected,
            "run {}: {} points acknowledged, {} stored",
            r.run_id,
            r.acknowledged,
            steps.len()
        );
    }
}
