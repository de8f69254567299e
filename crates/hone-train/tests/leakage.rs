//! Leakage tests: data built so that any imputer, scaler, selector or early-stopping decision
//! that saw test (or holdout) rows would change the result.

use std::fmt::Write as _;
use std::path::Path;

use hone_train::{TrainReport, config, run_train};

const N: usize = 600;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rows: date, f0..f3 (f0, f1 informative; f2, f3 noise; f3 sometimes missing), y.
/// `poison(i)` says whether row i gets leak bait: f2 set to the label times 1000 and f3 to a
/// huge value, which a selector, imputer or scaler that saw the row would pick up.
fn write_data(path: &Path, poison: impl Fn(usize) -> bool) {
    let mut rng = Lcg(7);
    let mut s = String::from("date,f0,f1,f2,f3,y\n");
    for i in 0..N {
        let f0 = rng.next() - 0.5;
        let f1 = rng.next() - 0.5;
        let mut f2 = rng.next() - 0.5;
        let mut f3 = if i % 7 == 3 {
            f64::NAN
        } else {
            rng.next() - 0.5
        };
        let y = u8::from(f0 + 0.5 * f1 + 0.3 * (rng.next() - 0.5) > 0.0);
        if poison(i) {
            f2 = f64::from(y) * 1000.0;
            f3 = 1e6;
        }
        let f3 = if f3.is_nan() {
            String::new()
        } else {
            f3.to_string()
        };
        // Numeric timestamps (e.g. epoch seconds) are accepted as the time column.
        let _ = writeln!(s, "{},{f0},{f1},{f2},{f3},{y}", 1_000 + i);
    }
    std::fs::write(path, s).unwrap();
}

fn config_text(model: &str) -> String {
    format!(
        r#"
seed = 3
[data]
path = "data.csv"
time_column = "date"
features = ["f0", "f1", "f2", "f3"]
[target]
kind = "column"
column = "y"
task = "binary"
[preprocess]
impute = "median"
scale = "standard"
select = {{ method = "selectkbest", k = 2 }}
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.2
{model}
"#
    )
}

const LGBM: &str = r#"
[model]
type = "lightgbm"
early_stopping_rounds = 5
[model.params]
num_iterations = 200
learning_rate = 0.1
num_leaves = 4
min_data_in_leaf = 5
num_threads = 1
"#;

fn run(dir: &Path, poison: impl Fn(usize) -> bool, model: &str) -> (TrainReport, String, String) {
    write_data(&dir.join("data.csv"), poison);
    let cfg_path = dir.join("job.toml");
    std::fs::write(&cfg_path, config_text(model)).unwrap();
    let cfg = config::load(&cfg_path).unwrap();
    let out = dir.join("out");
    let report = run_train(&cfg, &out, &mut |_| {}).unwrap();
    let oof = std::fs::read_to_string(out.join("oof_predictions.csv")).unwrap();
    let model_file = std::fs::read_to_string(out.join("pipeline/pipeline.json")).unwrap();
    (report, oof, model_file)
}

#[test]
fn holdout_rows_never_reach_anything_fitted() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Holdout = last 120 rows (480..600).
    let (a, a_oof, a_pipe) = run(a_dir.path(), |_| false, LGBM);
    let (b, b_oof, b_pipe) = run(b_dir.path(), |i| i >= 480, LGBM);
    assert_eq!(a.holdout.as_ref().unwrap().rows.first, 480);
    // Every fold and the final model are unchanged: nothing saw the poisoned holdout.
    assert_eq!(a_oof, b_oof);
    assert_eq!(a_pipe, b_pipe);
    for (fa, fb) in a.folds.iter().zip(&b.folds) {
        assert_eq!(fa.selected_features, fb.selected_features);
        assert_eq!(fa.best_iteration, fb.best_iteration);
        assert_eq!(fa.metrics, fb.metrics);
    }
    // The bait is real: the same rows inside the development period are picked up, so this
    // test would fail if the holdout reached the selector.
    bait_is_taken_when_trained_on(LGBM);
}

fn bait_is_taken_when_trained_on(model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (c, _, _) = run(dir.path(), |i| (300..420).contains(&i), model);
    assert!(
        c.final_model.selected_features.contains(&"f2".to_string()),
        "{:?}",
        c.final_model.selected_features
    );
}

#[test]
fn a_folds_test_rows_never_reach_its_pipeline() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, _, _) = run(a_dir.path(), |_| false, LGBM);
    let last = a.folds.last().unwrap();
    let (lo, hi) = (last.test.first, last.test.last);
    let (b, _, _) = run(b_dir.path(), |i| i >= lo && i <= hi, LGBM);
    let (la, lb) = (a.folds.last().unwrap(), b.folds.last().unwrap());
    // Same imputer/scaler/selector and same early-stopping decision on the poisoned fold.
    assert_eq!(la.selected_features, lb.selected_features);
    assert_eq!(la.best_iteration, lb.best_iteration);
    assert_eq!(
        la.selected_features,
        vec!["f0".to_string(), "f1".to_string()]
    );
    for (fa, fb) in a.folds.iter().zip(&b.folds).take(a.folds.len() - 1) {
        assert_eq!(fa.metrics, fb.metrics);
    }
    // The final refit trains on those rows, so there the bait is (rightly) picked up.
    assert!(b.final_model.selected_features.contains(&"f2".to_string()));
}

#[test]
fn early_stopping_uses_only_the_latest_training_rows() {
    // Poison exactly the rows the fold-1 early-stopping slice would use if it were cut from the
    // test block instead: the training-side decision must not move.
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, _, _) = run(a_dir.path(), |_| false, LGBM);
    let f1 = &a.folds[0];
    let (lo, hi) = (f1.test.first, f1.test.last);
    let (b, _, _) = run(b_dir.path(), |i| i >= lo && i <= hi, LGBM);
    assert_eq!(a.folds[0].best_iteration, b.folds[0].best_iteration);
    assert_eq!(a.folds[0].selected_features, b.folds[0].selected_features);
}

#[test]
fn seeded_runs_reproduce_fold_predictions_bit_for_bit() {
    let bagged = LGBM.replace(
        "num_threads = 1",
        "bagging_fraction = 0.7\nbagging_freq = 1\nfeature_fraction = 0.8",
    );
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, a_oof, a_pipe) = run(a_dir.path(), |_| false, &bagged);
    let (_, b_oof, b_pipe) = run(b_dir.path(), |_| false, &bagged);
    assert_eq!(a_oof, b_oof);
    assert_eq!(a_pipe, b_pipe);
}

#[test]
fn linear_pipeline_is_leak_free_too() {
    let logistic = "[model]\ntype = \"logistic\"\nC = 1.0\n";
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, a_oof, a_pipe) = run(a_dir.path(), |_| false, logistic);
    let (b, b_oof, b_pipe) = run(b_dir.path(), |i| i >= 480, logistic);
    assert_eq!(a_oof, b_oof);
    assert_eq!(a_pipe, b_pipe);
    assert!(a.cv["roc_auc"].mean > 0.8, "{:?}", a.cv["roc_auc"]);
    assert_eq!(a.folds.len(), b.folds.len());
    bait_is_taken_when_trained_on(logistic);
}
