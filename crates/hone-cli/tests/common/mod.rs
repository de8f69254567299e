//! What the CLI test files share: running the binary, checking a refusal, and the small
//! regression job (a ridge model on 40 rows) that many tests start from.
#![allow(dead_code)] // each test binary uses its own subset

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
