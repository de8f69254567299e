//! A `hone server` process for the CLI's server tests: the built binary on a free loopback
//! port, its address read from the first line it prints, killed when dropped; and what the
//! tests of the official MLflow client share (the repository's venv, raw GETs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `hone server`; killed when dropped (also when the test panics).
pub struct ServerProcess {
    /// The process (tests signal it, wait for it, read its stderr).
    pub child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

impl ServerProcess {
    /// Starts `hone server --port 0 ARGS` with `envs` added to its environment and its
    /// stderr sent to `stderr`, reads the address from the first line on stdout, and waits
    /// until `GET /health` answers (on loopback when it is bound to every interface).
    pub fn start(args: &[&str], envs: &[(&str, String)], stderr: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(["server", "--port", "0"])
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let mut server = Self {
            child,
            addr: String::new(),
        };
        assert!(
            line.starts_with("hone server listening on http://"),
            "first line: {line:?}"
        );
        let addr = line
            .split_whitespace()
            .nth(4)
            .unwrap()
            .trim_start_matches("http://")
            .to_string();
        server.addr = addr;
        server.wait_healthy();
        server
    }

    /// Starts a server over the SQLite store `dir/hone.db` and the blob folder
    /// `dir/artifacts`, with `args` added.
    pub fn in_dir(dir: &Path, args: &[&str]) -> Self {
        let store = store_uri(dir);
        let artifacts = dir.join("artifacts").display().to_string();
        let mut all = vec!["--store", &store, "--artifacts", &artifacts];
        if !args.contains(&"--host") {
            all.extend(["--host", "127.0.0.1"]);
        }
        all.extend_from_slice(args);
        Self::start(&all, &[], Stdio::inherit())
    }

    fn wait_healthy(&self) {
        let start = Instant::now();
        let addr = self.addr.replace("0.0.0.0:", "127.0.0.1:");
        loop {
            if let Some((status, body)) = http_get(&addr, "/health")
                && status.contains(" 200 ")
                && body == "OK"
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no /health from {}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SQLite store URI of `dir/hone.db`.
pub fn store_uri(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hone.db").display())
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `GET path` over a raw connection: (status line, body); `None` when no response came.
pub fn http_get(addr: &str, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// Runs `scripts/tests/<script> http://<addr>` with the official MLflow client's Python
/// (`.tools/mlflow-venv`, made by `scripts/setup.sh`; the test fails, not skips, when it is
/// missing) from `dir`, retries off, with `envs` added; panics with both outputs unless it
/// succeeds and prints `done` (its last-line marker). Returns its stdout.
pub fn run_client_script(
    script: &str,
    addr: &str,
    dir: &Path,
    envs: &[(&str, String)],
    done: &str,
) -> String {
    let python = repo_root().join(".tools/mlflow-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup.sh` (it installs the MLflow client this test \
         drives)",
        python.display()
    );
    let started = Instant::now();
    let out: Output = Command::new(&python)
        .arg(repo_root().join("scripts/tests").join(script))
        .arg(format!("http://{addr}"))
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(done),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    eprintln!("{script}: {:.1} s", started.elapsed().as_secs_f64());
    stdout
}
