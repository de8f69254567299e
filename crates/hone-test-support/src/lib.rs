//! Test helpers shared by hone's crates: a throwaway PostgreSQL cluster on a free loopback
//! port, started with the server binaries of the machine (`initdb`, `pg_ctl`).
//!
//! Dev-only (a dev-dependency, never published). Its helpers panic on failure instead of
//! returning errors: they run inside tests, where a panic is the failure report.
//!
//! - [`PgCluster::start`]: a cluster of one's own, stopped when the value is dropped.
//! - [`shared_cluster`]: one cluster per test binary, started on first use and stopped when the
//!   process exits; [`PgCluster::fresh_database`] gives each test an empty database in it, so
//!   tests run in parallel without seeing each other's data.
//! - [`s3::SeaweedS3`]: a real S3 server (SeaweedFS) with one bucket, for `s3://` artifact
//!   stores.
//! - [`browser::Browser`]: headless Chromium through chromedriver, for the dashboard's tests.

pub mod browser;
pub mod s3;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A PostgreSQL cluster that lives as long as this value.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Connection URI (user `hone`, database `postgres`).
    pub uri: String,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("HONE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().filter(|p| p.join("initdb").exists()).expect(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set HONE_PG_BIN)",
    )
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn run_pg(bin: &Path, tool: &str, args: &[&str]) {
    let exe = bin.join(tool);
    let status = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .status()
    } else {
        Command::new(&exe).args(args).status()
    }
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    assert!(status.success(), "{tool} {args:?} failed");
}

impl PgCluster {
    /// Creates and starts a cluster.
    pub fn start() -> Self {
        let bin = pg_bin();
        let base = std::env::temp_dir().join(format!(
            "hone-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_nanos()
        ));
        std::fs::create_dir_all(&base).expect("cluster folder");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&base)
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown postgres failed");
        }
        let data = base.join("data");
        let data_s = data.to_str().expect("UTF-8 temp path").to_string();
        run_pg(
            &bin,
            "initdb",
            &[
                "-D",
                &data_s,
                "-A",
                "trust",
                "-U",
                "hone",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            base.display()
        );
        let log = base
            .join("log")
            .to_str()
            .expect("UTF-8 temp path")
            .to_string();
        run_pg(
            &bin,
            "pg_ctl",
            &["-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"],
        );
        Self {
            dir: base,
            bin,
            port,
            uri: format!("postgresql://hone@127.0.0.1:{port}/postgres"),
        }
    }

    /// Creates an empty database with a name no other call uses and returns its URI.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client =
            postgres::Client::connect(&self.uri, postgres::NoTls).expect("connect to cluster");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        format!("postgresql://hone@127.0.0.1:{}/{name}", self.port)
    }

    fn stop(&self) {
        let data = self.dir.join("data");
        run_pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 temp path"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();

/// Stops the shared cluster: statics are never dropped, so this runs from `atexit`.
extern "C" fn stop_shared() {
    if let Some(cluster) = SHARED.get() {
        // A panic must not unwind out of an `extern "C"` function.
        let _ = std::panic::catch_unwind(|| cluster.stop());
    }
}

/// The cluster shared by every test of this binary: started by the first caller, stopped when
/// the process exits (normally or through a failed test; a killed test binary leaves it
/// running, in a `hone-pg-*` folder of the temp directory).
pub fn shared_cluster() -> &'static PgCluster {
    SHARED.get_or_init(|| {
        let cluster = PgCluster::start();
        // SAFETY: registers a plain function with no arguments; it only reads a static.
        unsafe { libc::atexit(stop_shared) };
        cluster
    })
}

/// Declares `mod sqlite { #[test] fn x() }` and `mod postgres { #[test] fn x() }` for each
/// function `x(&Target)` named, so one behaviour runs against both backends and a failure on
/// one hides nothing on the other. The calling file defines `Target` with `sqlite()` and
/// `postgres()` constructors.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::Target::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(&super::Target::postgres());
            })*
        }
    };
}
