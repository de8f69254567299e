//! Comparing two models on the same rows (`hone runs compare`): the tests that fit their task
//! (Diebold–Mariano for regression; DeLong for binary AUC and McNemar for classification
//! accuracy), a paired bootstrap of the per-row loss for every task, and a verdict per test.

use std::path::Path;

use hone_track::Store;
use hone_track::artifacts::BlobStore;
use hone_validate::Task;
use hone_validate::compare::{self, TestResult};
use serde::Serialize;

use crate::TrainError;
use crate::predictions::{PredictionFile, read_bytes};

/// Which predictions of the runs to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOn {
    /// The holdout rows (`holdout_predictions.csv`).
    Holdout,
    /// The out-of-fold rows (`oof_predictions.csv`).
    Oof,
}

impl CompareOn {
    /// Parses `holdout` or `oof`.
    pub fn parse(s: &str) -> Result<Self, TrainError> {
        match s {
            "holdout" => Ok(Self::Holdout),
            "oof" => Ok(Self::Oof),
            other => Err(TrainError::Config(format!(
                "--on must be holdout or oof, got {other:?}"
            ))),
        }
    }

    /// The artifact holding these predictions.
    pub fn file(self) -> &'static str {
        match self {
            Self::Holdout => "holdout_predictions.csv",
            Self::Oof => "oof_predictions.csv",
        }
    }
}

/// One test's result and what it means in words.
#[derive(Debug, Clone, Serialize)]
pub struct ComparedTest {
    /// The test's result.
    pub result: TestResult,
    /// Its verdict, in words.
    pub meaning: String,
}

/// The comparison of two models, A and B.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Rows compared.
    pub rows: usize,
    /// The task.
    pub task: Task,
    /// Both models made exactly the same predictions (scores and hard predictions) on every
    /// row, e.g. a run compared with itself or a rerun with the same seed. The tests still run
    /// and say so: p = 1, a zero difference and a zero-width interval.
    pub identical_predictions: bool,
    /// Every test that fits the task.
    pub tests: Vec<ComparedTest>,
}

/// Reads a tracked run's predictions from its artifact (checksum verified by the blob store).
pub fn run_predictions(
    store: &dyn Store,
    blobs: &BlobStore,
    run_id: &str,
    on: CompareOn,
) -> Result<PredictionFile, TrainError> {
    let file = on.file();
    let arts = store.list_artifacts(run_id)?;
    let rec = arts.iter().find(|a| a.path == file).ok_or_else(|| {
        TrainError::Config(format!(
            "run {run_id} has no artifact {file:?}: compare needs two runs recorded by `hone train`"
        ))
    })?;
    let bytes = blobs.get(&rec.sha256, run_id, &rec.path)?;
    read_bytes(Path::new(file), &bytes, None)
        .map_err(|e| TrainError::Invalid(format!("{file} of run {run_id}: {e}")))
}

/// Compares two tracked runs' predictions on the same rows.
pub fn compare_runs(
    store: &dyn Store,
    blobs: &BlobStore,
    run_a: &str,
    run_b: &str,
    on: CompareOn,
    seed: u64,
) -> Result<Comparison, TrainError> {
    let a = run_predictions(store, blobs, run_a, on)?;
    let b = run_predictions(store, blobs, run_b, on)?;
    compare_predictions(&a, &b, seed)
}

/// Two models' predictions restricted to the rows they share: the same timestamp with the same
/// truth, in the first file's order. Two versions of a model trained on different spans of data
/// have holdouts that overlap only in part; the tests are only meaningful on the overlap.
/// Files without a time column share rows only when they are the same rows (same length and
/// truth). Returns the two restricted files.
pub fn shared_rows(
    a: &PredictionFile,
    b: &PredictionFile,
) -> Result<(PredictionFile, PredictionFile), TrainError> {
    if a.task != b.task {
        return Err(TrainError::Config(format!(
            "the two models solve different tasks ({} and {}): nothing to compare",
            a.task.kind(),
            b.task.kind()
        )));
    }
    let untimed = a.times.iter().chain(&b.times).any(String::is_empty);
    if untimed {
        if a.y_true != b.y_true {
            return Err(TrainError::Config(
                "the predictions have no time column and are not the same rows: no shared rows \
                 to compare"
                    .into(),
            ));
        }
        return Ok((a.clone(), b.clone()));
    }
    let in_b: std::collections::HashMap<&str, usize> = b
        .times
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let (mut ia, mut ib) = (Vec::new(), Vec::new());
    for (i, t) in a.times.iter().enumerate() {
        if let Some(&j) = in_b.get(t.as_str())
            && a.y_true[i] == b.y_true[j]
        {
            ia.push(i);
            ib.push(j);
        }
    }
    Ok((a.select_rows(&ia), b.select_rows(&ib)))
}

/// Per-row losses for the bootstrap: log loss (classification) or squared error.
fn row_loss(p: &PredictionFile, output: &[f64]) -> Vec<f64> {
    let eps = f64::EPSILON;
    match p.task {
        Task::Binary => p
            .y_true
            .iter()
            .zip(output)
            .map(|(y, s)| {
                let s = s.clamp(eps, 1.0 - eps);
                -(if *y == 1.0 { s.ln() } else { (1.0 - s).ln() })
            })
            .collect(),
        Task::Multiclass { n_classes } => p
            .y_true
            .iter()
            .enumerate()
            .map(|(i, y)| -output[i * n_classes + *y as usize].clamp(eps, 1.0).ln())
            .collect(),
        Task::Regression => p
            .y_true
            .iter()
            .zip(output)
            .map(|(y, f)| (y - f).powi(2))
            .collect(),
    }
}

/// The model's output that the tests read: scores for classification, values for regression.
fn output(p: &PredictionFile) -> Result<&[f64], TrainError> {
    let out = match p.task {
        Task::Regression => p.y_pred.as_deref(),
        _ => p.scores.as_deref(),
    };
    out.ok_or_else(|| {
        TrainError::Invalid(format!(
            "{} predictions without {}",
            p.task.kind(),
            if p.task == Task::Regression {
                "y_pred"
            } else {
                "scores"
            }
        ))
    })
}

/// The hard predictions (class indices) of a classification file.
fn hard(p: &PredictionFile) -> Result<&[f64], TrainError> {
    p.y_pred
        .as_deref()
        .ok_or_else(|| TrainError::Invalid("predictions without y_pred".into()))
}

/// Compares two models' predictions of the same rows (same task, times and truth).
pub fn compare_predictions(
    a: &PredictionFile,
    b: &PredictionFile,
    seed: u64,
) -> Result<Comparison, TrainError> {
    if a.task != b.task || a.times != b.times || a.y_true != b.y_true {
        return Err(TrainError::Config(
            "the two runs were not evaluated on the same rows and task (same data, target and split are needed)".into(),
        ));
    }
    let task = a.task;
    let stat = |e: hone_validate::ValidateError| TrainError::Invalid(e.to_string());
    let (oa, ob) = (output(a)?, output(b)?);
    let identical_predictions = oa == ob && a.y_pred == b.y_pred;
    let mut tests: Vec<ComparedTest> = Vec::new();
    let mut push =
        |result: TestResult, meaning: String| tests.push(ComparedTest { result, meaning });
    let (la, lb) = (row_loss(a, oa), row_loss(b, ob));
    match task {
        Task::Regression => {
            let d: Vec<f64> = la.iter().zip(&lb).map(|(x, y)| x - y).collect();
            let r = compare::diebold_mariano(&d, 1).map_err(stat)?;
            let words = format!(
                "mean squared-error difference A − B = {:.3e}; {}",
                r.effect,
                if r.p_value < 0.05 {
                    format!(
                        "{} forecasts significantly better (p = {:.4})",
                        if r.effect < 0.0 { "A" } else { "B" },
                        r.p_value
                    )
                } else {
                    format!("no significant difference (p = {:.4})", r.p_value)
                }
            );
            push(r, words);
        }
        _ => {
            if task == Task::Binary {
                let r = compare::delong(&a.y_true, oa, ob).map_err(stat)?;
                let words = format!(
                    "AUC {:.4} vs {:.4}: {}",
                    r.details[0].1,
                    r.details[1].1,
                    if r.p_value < 0.05 {
                        "significantly different"
                    } else {
                        "not significantly different"
                    }
                );
                push(r, words);
            }
            let (ha, hb) = (hard(a)?, hard(b)?);
            let (mut bc, mut cb) = (0u64, 0u64);
            for i in 0..a.y_true.len() {
                let (ra, rb) = (ha[i] == a.y_true[i], hb[i] == b.y_true[i]);
                if ra && !rb {
                    bc += 1;
                } else if !ra && rb {
                    cb += 1;
                }
            }
            // Run even when the models never disagree: McNemar then gives p = 1.
            let r = compare::mcnemar(bc, cb).map_err(stat)?;
            let words = format!(
                "A alone right on {bc} rows, B alone on {cb}: {}",
                if bc + cb == 0 {
                    "the models never disagree"
                } else if r.p_value < 0.05 {
                    "accuracies differ significantly"
                } else {
                    "no significant accuracy difference"
                }
            );
            push(r, words);
        }
    }
    let r = compare::paired_bootstrap(&la, &lb, 10_000, 0.95, seed).map_err(stat)?;
    let (lo, hi) = (r.details[0].1, r.details[1].1);
    let words = format!(
        "mean per-row loss difference A − B = {:.4e}, 95% CI [{lo:.4e}, {hi:.4e}] ({})",
        r.effect,
        if hi < 0.0 {
            "A is better"
        } else if lo > 0.0 {
            "B is better"
        } else {
            "the interval includes 0"
        }
    );
    push(r, words);
    Ok(Comparison {
        rows: a.y_true.len(),
        task,
        identical_predictions,
        tests,
    })
}
