//! `hone train` (and `predict`/`tune` where they write) on bad input: output directories that
//! would mix runs or cannot be written, non-finite config values, and CSV numbers in the forms
//! spreadsheets export. Each failure is one line naming the flag, key or file, with the exit code
//! of its kind, and leaves no output behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{RIDGE_CONFIG as CONFIG, ridge_rows as rows, write};

/// A tracking store private to this test process (never the repository's `.hone/`).
fn test_store() -> &'static str {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
            (dir, uri)
        })
        .1
}

/// Runs hone in `cwd`.
fn hone_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .current_dir(cwd)
        .env("HONE_STORE_URI", test_store())
        .env_remove("HONE_ARTIFACTS_URI")
        .output()
        .expect("run hone")
}

/// Runs hone in `cwd` expecting failure with `code`; returns stderr, checked to be exactly one
/// `error:` line and no panic.
fn fails_in(cwd: &Path, args: &[&str], code: i32) -> String {
    common::one_error_line(&hone_in(cwd, args), code, &format!("{args:?}"))
}

fn succeeds_in(cwd: &Path, args: &[&str]) -> Output {
    let o = hone_in(cwd, args);
    assert!(
        o.status.success(),
        "hone failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Names in a directory, sorted (hidden ones included).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A temp dir with `job.toml` (CONFIG) and 40 rows of `d.csv`.
fn job() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "job.toml", CONFIG);
    write(dir.path(), "d.csv", &format!("date,x,y\n{}", rows(40)));
    (dir, cfg)
}

#[test]
fn a_non_empty_out_is_refused_without_overwrite() {
    let (dir, cfg) = job();
    let d = dir.path();
    let out = d.join("o");
    std::fs::create_dir(&out).unwrap();
    write(&out, "notes.txt", "mine");
    let err = fails_in(d, &["train", s(&cfg), "--out", s(&out), "--no-track"], 2);
    assert!(
        err.contains("--out") && err.contains(s(&out)) && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(listing(&out), vec!["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    // --overwrite without --out is a usage error.
    let o = hone_in(d, &["train", s(&cfg), "--overwrite", "--no-track"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn overwrite_replaces_an_earlier_output_and_uploads_no_stale_file() {
    let (dir, cfg) = job();
    let d = dir.path();
    let out = d.join("o");
    std::fs::create_dir(&out).unwrap();
    // An earlier run's output, with a trading evaluation this job does not have.
    write(&out, "metrics.json", "{\"old\": true}");
    write(&out, "equity.svg", "<svg>old</svg>");
    write(&out, "equity_cv.csv", "time,equity\n1,1\n");
    let o = succeeds_in(
        d,
        &["train", s(&cfg), "--out", s(&out), "--overwrite", "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run_id = report["run_id"].as_str().unwrap();
    for stale in ["equity.svg", "equity_cv.csv"] {
        assert!(!out.join(stale).exists(), "{stale} survived --overwrite");
    }
    assert!(!listing(&out).iter().any(|n| n.starts_with(".hone")));
    assert!(
        !std::fs::read_to_string(out.join("metrics.json"))
            .unwrap()
            .contains("\"old\"")
    );
    let o = succeeds_in(d, &["artifacts", "list", run_id]);
    let artifacts = String::from_utf8_lossy(&o.stdout);
    assert!(artifacts.contains("metrics.json"), "{artifacts}");
    assert!(!artifacts.contains("equity"), "{artifacts}");
}

#[test]
fn overwrite_keeps_the_earlier_output_when_the_job_fails() {
    let (dir, cfg) = job();
    let d = dir.path();
    let out = d.join("o");
    std::fs::create_dir(&out).unwrap();
    write(&out, "metrics.json", "{\"old\": true}");
    write(&out, "equity.svg", "<svg>old</svg>");
    write(
        d,
        "d.csv",
        &format!("date,x,y\n{}", rows(40)).replacen(",0\n", ",\n", 1),
    );
    let err = fails_in(
        d,
        &[
            "train",
            s(&cfg),
            "--out",
            s(&out),
            "--overwrite",
            "--no-track",
        ],
        1,
    );
    assert!(err.contains("target `y` is NaN"), "{err}");
    assert_eq!(listing(&out), vec!["equity.svg", "metrics.json"]);
    assert_eq!(
        std::fs::read_to_string(out.join("metrics.json")).unwrap(),
        "{\"old\": true}"
    );
}

#[test]
fn overwrite_never_clears_a_directory_that_is_not_a_hone_output_or_holds_the_cwd() {
    let (dir, cfg) = job();
    let d = dir.path();
    let docs = d.join("docs");
    std::fs::create_dir(&docs).unwrap();
    write(&docs, "thesis.tex", "precious");
    let err = fails_in(
        d,
        &[
            "train",
            s(&cfg),
            "--out",
            s(&docs),
            "--overwrite",
            "--no-track",
        ],
        2,
    );
    assert!(
        err.contains("--out") && err.contains("refusing to clear"),
        "{err}"
    );
    assert_eq!(listing(&docs), vec!["thesis.tex"]);
    // The current directory (which holds a hone output marker here) and a folder above it.
    write(d, "metrics.json", "{}");
    for out in [".", ".."] {
        let err = fails_in(
            d,
            &["train", s(&cfg), "--out", out, "--overwrite", "--no-track"],
            2,
        );
        assert!(
            err.contains("--out") && err.contains("refusing to clear"),
            "{err}"
        );
    }
    assert!(d.join("job.toml").exists() && d.join("d.csv").exists());
}

#[test]
fn an_out_that_cannot_be_a_directory_fails_before_any_training() {
    let (dir, cfg) = job();
    let d = dir.path();
    // No data file: an --out error (not "cannot read d.csv") shows the check comes first.
    std::fs::remove_file(d.join("d.csv")).unwrap();
    let file = write(d, "taken", "a file");
    let err = fails_in(d, &["train", s(&cfg), "--out", s(&file), "--no-track"], 2);
    assert!(
        err.contains("--out") && err.contains("taken") && err.contains("not a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file");
    let under = file.join("sub");
    let err = fails_in(d, &["train", s(&cfg), "--out", s(&under), "--no-track"], 2);
    assert!(
        err.contains("--out") && err.contains("not a directory"),
        "{err}"
    );
    assert_eq!(listing(d), vec!["job.toml", "taken"]);
}

#[test]
fn a_failed_job_leaves_no_output_directory() {
    let (dir, cfg) = job();
    let d = dir.path();
    std::fs::remove_file(d.join("d.csv")).unwrap();
    let out = d.join("new/deeper");
    let err = fails_in(d, &["train", s(&cfg), "--out", s(&out), "--no-track"], 1);
    assert!(err.contains("d.csv"), "{err}");
    assert!(!d.join("new").exists());
    // Without --out, no runs/ folder is left behind either.
    fails_in(d, &["train", s(&cfg), "--no-track"], 1);
    assert!(!d.join("runs").exists());
}

#[test]
fn default_output_directories_never_collide_or_escape_runs() {
    let (dir, _) = job();
    let d = dir.path();
    let cfg = write(d, "named.toml", &format!("name = \"../up/x\"\n{CONFIG}"));
    for _ in 0..3 {
        succeeds_in(d, &["train", s(&cfg), "--no-track", "--json"]);
    }
    let runs = listing(&d.join("runs"));
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(runs.iter().all(|r| r.starts_with(".._up_x-")), "{runs:?}");
    assert!(!d.join("up").exists());
}

#[test]
fn predict_out_follows_the_same_rules() {
    let (dir, cfg) = job();
    let d = dir.path();
    let model = d.join("m");
    succeeds_in(d, &["train", s(&cfg), "--out", s(&model), "--no-track"]);
    let data = d.join("d.csv");
    let pred = write(d, "pred.csv", "keep me");
    let args = |out: &Path| -> Vec<String> {
        [
            "predict",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    fn run(a: &[String]) -> Vec<&str> {
        a.iter().map(String::as_str).collect()
    }
    let err = fails_in(d, &run(&args(&pred)), 2);
    assert!(
        err.contains("--out") && err.contains("pred.csv") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&pred).unwrap(), "keep me");
    let err = fails_in(d, &run(&args(d)), 2);
    assert!(
        err.contains("--out") && err.contains("is a directory"),
        "{err}"
    );
    let err = fails_in(d, &run(&args(&d.join("nowhere/p.csv"))), 2);
    assert!(
        err.contains("--out") && err.contains("does not exist"),
        "{err}"
    );
    let mut a = args(&pred);
    a.push("--overwrite".into());
    succeeds_in(d, &run(&a));
    assert!(
        std::fs::read_to_string(&pred)
            .unwrap()
            .starts_with("time,y_pred\n")
    );
    assert!(!listing(d).iter().any(|n| n.contains(".tmp-")));
}

#[test]
fn tune_refuses_a_bad_out_before_searching() {
    let (dir, _) = job();
    let d = dir.path();
    let cfg = write(
        d,
        "tune.toml",
        &format!(
            "{CONFIG}\n[search]\nn_trials = 2\nmetric = \"r2\"\n\
             [search.space.\"model.alpha\"]\ntype = \"float\"\nlow = 0.1\nhigh = 10.0\n"
        ),
    );
    let out = d.join("o");
    std::fs::create_dir(&out).unwrap();
    write(&out, "notes.txt", "mine");
    let err = fails_in(d, &["tune", s(&cfg), "--out", s(&out)], 2);
    assert!(err.contains("--out") && err.contains("not empty"), "{err}");
    assert_eq!(listing(&out), vec!["notes.txt"]);
}

#[test]
fn non_finite_config_values_name_their_key() {
    let (dir, _) = job();
    let d = dir.path();
    let cases = [
        (
            format!("{CONFIG}\n[preprocess]\nimpute = \"constant\"\nimpute_value = nan\n"),
            "preprocess.impute_value",
        ),
        (
            CONFIG.replace("type = \"ridge\"", "type = \"ridge\"\nalpha = -inf"),
            "model.alpha",
        ),
        (
            CONFIG.replace(
                "type = \"ridge\"",
                "type = \"lightgbm\"\n[model.params]\nlearning_rate = nan",
            ),
            "model.params.learning_rate",
        ),
        (
            format!("{CONFIG}\n[trading]\nthreshold = nan\n"),
            "trading.threshold",
        ),
    ];
    for (text, key) in cases {
        let cfg = write(d, "bad.toml", &text);
        let out = d.join("o");
        let err = fails_in(d, &["train", s(&cfg), "--out", s(&out), "--no-track"], 2);
        assert!(
            err.contains(key) && err.contains("bad.toml") && err.contains("finite"),
            "{err}"
        );
        assert!(!out.exists());
    }
}

/// 40 rows with a second feature column `z` whose cells are given by `cell(i)`.
fn data_with_z(cell: impl Fn(usize) -> String) -> String {
    let mut text = String::from("date,x,z,y\n");
    for i in 0..40 {
        text.push_str(&format!(
            "{},{},{},{}\n",
            100 + i,
            (i as f64 * 0.7).sin(),
            cell(i),
            i % 3
        ));
    }
    text
}

#[test]
fn a_column_left_out_of_the_default_features_gets_a_note() {
    let (dir, _) = job();
    let d = dir.path();
    let cfg = write(
        d,
        "defaults.toml",
        &CONFIG.replace("features = [\"x\"]\n", ""),
    );
    // Line 17 is data row 15.
    write(
        d,
        "d.csv",
        &data_with_z(|i| {
            if i == 15 {
                "\"1,234.5\"".into()
            } else {
                format!("{i}.5")
            }
        }),
    );
    let o = succeeds_in(
        d,
        &["train", s(&cfg), "--out", s(&d.join("o")), "--no-track"],
    );
    // Notes are printed once, in the summary (stdout); progress lines go to stderr.
    let err = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "note: column \"z\" left out of the default features: not numeric (line 17: \"1,234.5\")"
        ),
        "{err}"
    );
    assert!(err.contains("× 1 features"), "{err}");
    // The same without quotes anywhere (the fast path): `n/a` in one cell.
    write(
        d,
        "d.csv",
        &data_with_z(|i| if i == 3 { "n/a".into() } else { format!("{i}") }),
    );
    let o = succeeds_in(
        d,
        &["train", s(&cfg), "--out", s(&d.join("o2")), "--no-track"],
    );
    let err = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "note: column \"z\" left out of the default features: not numeric (line 5: \"n/a\")"
        ),
        "{err}"
    );
}

#[test]
fn quoted_and_padded_numbers_are_numbers() {
    let (dir, _) = job();
    let d = dir.path();
    let cfg = write(
        d,
        "both.toml",
        &CONFIG.replace("features = [\"x\"]", "features = [\"x\", \"z\"]"),
    );
    write(
        d,
        "d.csv",
        &data_with_z(|i| match i % 3 {
            0 => format!("\"{}.81\"", 1200 + i),
            1 => format!(" {}.37", 1200 + i),
            _ => format!("\" {}.5 \"", 1200 + i),
        }),
    );
    let o = succeeds_in(
        d,
        &[
            "train",
            s(&cfg),
            "--out",
            s(&d.join("o")),
            "--no-track",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["features"], serde_json::json!(["x", "z"]));
}

#[test]
fn an_explicit_non_numeric_column_names_file_line_column_and_cell() {
    let (dir, _) = job();
    let d = dir.path();
    let cfg = write(
        d,
        "both.toml",
        &CONFIG.replace("features = [\"x\"]", "features = [\"x\", \"z\"]"),
    );
    for (cell, line) in [("\"1,234.5\"", 9), ("n/a", 9)] {
        write(
            d,
            "d.csv",
            &data_with_z(|i| if i == 7 { cell.into() } else { format!("{i}") }),
        );
        let out = d.join("o");
        let err = fails_in(d, &["train", s(&cfg), "--out", s(&out), "--no-track"], 1);
        let shown = cell.trim_matches('"');
        assert!(
            err.contains("d.csv")
                && err.contains(&format!("line {line}"))
                && err.contains("`z`")
                && err.contains(shown),
            "{err}"
        );
        assert!(!out.exists());
    }
}
