//! Model files and LightGBM parameters under bad input: a truncated or modified `model.txt`
//! fails `hone predict` and `hone evaluate` with one line naming the file (exit 1, like any
//! damaged data file) instead of crashing inside LightGBM; a LightGBM parameter outside what
//! LightGBM takes fails `hone train` and `hone tune` up front with one line naming the config
//! key (exit 2), leaving nothing behind.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn hone(dir: &Path, args: &[&str]) -> Output {
    common::hone_with_store(&common::store_in(dir), args)
}

/// Runs hone expecting exit `code` and exactly one stderr line, an error; returns that line.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    common::one_error_line(&hone(dir, args), code, &format!("{args:?}"))
}

const CONFIG: &str = r#"
[data]
path = "d.csv"
time_column = "date"
features = ["x", "z"]
[target]
kind = "column"
column = "y"
task = "regression"
[split]
n_splits = 2
holdout = 0.25
[model]
type = "lightgbm"
[model.params]
num_iterations = 20
num_leaves = 7
min_data_in_leaf = 5
num_threads = 1
"#;

/// A directory with `d.csv` and `job.toml` (CONFIG with `params` appended to `[model.params]`).
fn setup(params: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("date,x,z,y\n");
    for i in 0..160 {
        let (x, z) = ((i as f64 * 0.7).sin(), (i as f64 * 0.3).cos());
        csv.push_str(&format!("{},{x},{z},{}\n", 100 + i, x + 0.5 * z * z));
    }
    std::fs::write(dir.path().join("d.csv"), csv).unwrap();
    let cfg = dir.path().join("job.toml");
    std::fs::write(&cfg, format!("{CONFIG}{params}")).unwrap();
    let cfg = cfg.display().to_string();
    (dir, cfg)
}

/// Trains CONFIG into `<dir>/run` and returns that directory.
fn train(dir: &Path, cfg: &str) -> PathBuf {
    let out = dir.join("run");
    let o = hone(
        dir,
        &["train", cfg, "--out", out.to_str().unwrap(), "--no-track"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `hone predict` and `hone evaluate` on a damaged model both fail with one line naming
/// `model.txt` (and `want`), and predict writes no output file.
fn refused(dir: &Path, run: &Path, want: &str) {
    let pred = dir.join("pred.csv");
    let data = dir.join("d.csv");
    let (run_s, data_s, pred_s) = (
        run.to_str().unwrap(),
        data.to_str().unwrap(),
        pred.to_str().unwrap(),
    );
    let err = fails(
        dir,
        &[
            "predict", "--model", run_s, "--data", data_s, "--out", pred_s,
        ],
        1,
    );
    assert!(
        err.contains("pipeline/model.txt: ") && err.contains(want),
        "{err}"
    );
    assert!(!pred.exists(), "predict wrote {pred_s}");
    let err = fails(dir, &["evaluate", run_s], 1);
    assert!(
        err.contains("pipeline/model.txt: ") && err.contains(want),
        "{err}"
    );
}

#[test]
fn truncated_or_modified_model_files_are_refused() {
    let (dir, cfg) = setup("");
    let d = dir.path();
    let run = train(d, &cfg);
    let model = run.join("pipeline/model.txt");
    let good = std::fs::read(&model).unwrap();
    assert!(good.len() > 1300, "{} bytes", good.len());
    // The intact model predicts.
    let o = hone(
        d,
        &[
            "predict",
            "--model",
            run.to_str().unwrap(),
            "--data",
            d.join("d.csv").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    for cut in [1200, 0, 50, good.len() / 2, good.len() - 1] {
        std::fs::write(&model, &good[..cut]).unwrap();
        refused(d, &run, "checksum mismatch");
    }
    let mut flipped = good.clone();
    flipped[good.len() / 3] ^= 0x01;
    std::fs::write(&model, &flipped).unwrap();
    refused(d, &run, "the file was modified or truncated");

    // A directory saved before checksums existed: the structural check catches the damage.
    let json_path = run.join("pipeline/pipeline.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert!(saved["files"]["model.txt"]["sha256"].is_string(), "{saved}");
    saved.as_object_mut().unwrap().remove("files");
    std::fs::write(&json_path, saved.to_string()).unwrap();
    std::fs::write(&model, &good).unwrap();
    let o = hone(d, &["evaluate", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for cut in [1200, 50, good.len() / 2] {
        std::fs::write(&model, &good[..cut]).unwrap();
        refused(d, &run, "not a valid LightGBM model: line ");
    }
}

#[test]
fn a_damaged_pipeline_json_names_the_file() {
    let (dir, cfg) = setup("");
    let d = dir.path();
    let run = train(d, &cfg);
    let json_path = run.join("pipeline/pipeline.json");
    let good = std::fs::read_to_string(&json_path).unwrap();
    std::fs::write(&json_path, &good[..good.len() / 2]).unwrap();
    let err = fails(d, &["evaluate", run.to_str().unwrap()], 1);
    assert!(err.contains("pipeline/pipeline.json: "), "{err}");
    // Consistent JSON that describes another shape of model.
    std::fs::write(
        &json_path,
        good.replacen("\"n_features\": 2", "\"n_features\": 3", 1),
    )
    .unwrap();
    let err = fails(d, &["evaluate", run.to_str().unwrap()], 1);
    assert!(err.contains("pipeline/pipeline.json: "), "{err}");
}

#[test]
fn lightgbm_parameters_outside_lightgbms_range_are_refused_up_front() {
    // (the line set in [model.params], the key the error names, CONFIG's line it replaces)
    for (param, key, replaces) in [
        (
            "num_leaves = 4294967311",
            "model.params.num_leaves",
            "num_leaves",
        ),
        (
            "num_iterations = 9223372036854775807",
            "model.params.num_iterations",
            "num_iterations",
        ),
        ("max_leaves = 1", "model.params.max_leaves", "num_leaves"),
        ("learning_rate = 0.0", "model.params.learning_rate", ""),
        (
            "bagging_fraction = 1.5",
            "model.params.bagging_fraction",
            "",
        ),
        ("max_depth = -4294967296", "model.params.max_depth", ""),
        ("lambda_l2 = -1.0", "model.params.lambda_l2", ""),
        (
            "num_threads = 100000",
            "model.params.num_threads",
            "num_threads",
        ),
        ("metric = \"l2 num_leaves=3\"", "model.params.metric", ""),
    ] {
        let (dir, cfg) = setup("");
        let text = std::fs::read_to_string(&cfg).unwrap();
        let text = text
            .lines()
            .filter(|l| replaces.is_empty() || !l.starts_with(&format!("{replaces} =")))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&cfg, format!("{text}\n{param}\n")).unwrap();
        let out = dir.path().join("o");
        let err = fails(
            dir.path(),
            &["train", &cfg, "--out", out.to_str().unwrap(), "--no-track"],
            2,
        );
        assert!(err.contains(key), "{param}: {err}");
        assert!(!out.exists(), "{param}: {} was created", out.display());
    }
}

#[test]
fn a_search_space_past_lightgbms_range_is_refused_before_the_first_trial() {
    let (dir, cfg) = setup(
        "[search]\nsampler = \"random\"\nn_trials = 2\nmetric = \"rmse\"\n\
         [search.space.\"model.params.num_leaves\"]\ntype = \"int\"\nlow = 2\n\
         high = 4294967311\n",
    );
    let err = fails(dir.path(), &["tune", &cfg], 2);
    assert!(err.contains("model.params.num_leaves"), "{err}");
    assert!(err.contains("131072"), "{err}");
}
