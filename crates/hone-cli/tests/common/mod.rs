//! What the CLI test files share: running the binary, checking a refusal, and the small
//! regression job (a ridge model on 40 rows) that many tests start from.
#![allow(dead_code)] // each test binary uses its own subset

pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `hone` with `args`, its tracking store at `store` (a URI), and no artifacts override.
pub fn hone_with_store(store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .env("HONE_STORE_URI", store)
        .env_remove("HONE_ARTIFACTS_URI")
        .output()
        .expect("run hone")
}

/// The bundled S&P 500 daily file (`examples/data/sp500_daily_1999_2018.csv`), absolute.
pub fn bundled_data() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sp500_daily_1999_2018.csv")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// The SQLite store URI of a `hone.db` inside `dir`.
pub fn store_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hone.db").display())
}

/// Checks that `o` is a refusal: exit `code`, exactly one stderr line that is an `error:` and
/// no panic. Returns that line.
pub fn one_error_line(o: &Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    err.trim_end().to_string()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// [`write`], returning the path as text (for argument lists).
pub fn write_text(dir: &Path, name: &str, text: &str) -> String {
    write(dir, name, text).to_string_lossy().into_owned()
}

/// A regression job on `d.csv` (columns date, x, y): ridge, two folds, a quarter held out.
pub const RIDGE_CONFIG: &str = r#"
[data]
path = "d.csv"
time_column = "date"
features = ["x"]
[target]
kind = "column"
column = "y"
task = "regression"
[split]
n_splits = 2
holdout = 0.25
[model]
type = "ridge"
"#;

/// `n` rows of `date,x,y` for [`RIDGE_CONFIG`]: increasing dates, a sine feature, a 0/1/2 label.
pub fn ridge_rows(n: usize) -> String {
    (0..n)
        .map(|i| format!("{},{},{}\n", 100 + i, (i as f64 * 0.7).sin(), i % 3))
        .collect()
}

/// A temporary folder with its own SQLite store (`store/hone.db`), where commands run as a
/// user runs them: from that folder, with `--store` passed and no store variables set.
pub struct StoreEnv {
    /// The folder (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Default for StoreEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl StoreEnv {
    /// A fresh folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `hone args... --store <this store>` in the folder.
    pub fn run(&self, args: &[&str]) -> Output {
        let store = format!(
            "sqlite://{}",
            self.dir.path().join("store/hone.db").display()
        );
        Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(args)
            .args(["--store", &store])
            .current_dir(self.dir.path())
            .env_remove("HONE_STORE_URI")
            .env_remove("HONE_ARTIFACTS_URI")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed and print JSON; returns it parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs a command that must fail with `code`, without a panic; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }

    /// [`fails`](Self::fails) with exactly one stderr line, holding `want`.
    pub fn fails_with(&self, args: &[&str], code: i32, want: &str) -> String {
        let err = self.fails(args, code);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        err
    }
}
