//! Predictions files: what `hone train` writes (`oof_predictions.csv`,
//! `holdout_predictions.csv`), and what `hone metrics` and `hone runs compare` read, from a
//! path or from bytes (an artifact). One reader, one column layout.
//!
//! Columns: `y_true`, then `y_score` (binary: P(class 1)), `proba_<class>` (multiclass) and/or
//! `y_pred`; `time` and `fold` are carried along.

use std::path::Path;

use hone_data::table::{self, ColumnValues, Table};
use hone_validate::metrics::{Metric, Predictions, Task, confusion};
use serde_json::{Map, Value, json};

use crate::TrainError;

/// A predictions file, parsed.
#[derive(Debug, Clone)]
pub struct PredictionFile {
    /// Binary, multiclass or regression.
    pub task: Task,
    /// The `time` column as text, one per row (empty strings without one).
    pub times: Vec<String>,
    /// Truth: 0/1, class indices into `classes`, or values.
    pub y_true: Vec<f64>,
    /// Hard predictions (class indices for multiclass), when the file has `y_pred`.
    pub y_pred: Option<Vec<f64>>,
    /// Scores: P(class 1) (binary) or class probabilities row-major (multiclass).
    pub scores: Option<Vec<f64>>,
    /// Class names (multiclass).
    pub classes: Option<Vec<String>>,
    /// What the user should know (e.g. zero targets under MAPE).
    pub warnings: Vec<String>,
    /// Where the rows came from, for errors: the table (its path and row locations).
    table: Table,
}

impl PredictionFile {
    /// The file restricted to the rows at `rows` (in that order): times, truth, hard
    /// predictions and scores (a multiclass row's whole probability vector) follow.
    pub fn select_rows(&self, rows: &[usize]) -> PredictionFile {
        let width = match self.task {
            Task::Multiclass { n_classes } => n_classes,
            _ => 1,
        };
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        PredictionFile {
            task: self.task,
            times: rows.iter().map(|&i| self.times[i].clone()).collect(),
            y_true: pick(&self.y_true),
            y_pred: self.y_pred.as_deref().map(pick),
            scores: self.scores.as_ref().map(|s| {
                rows.iter()
                    .flat_map(|&i| s[i * width..(i + 1) * width].iter().copied())
                    .collect()
            }),
            classes: self.classes.clone(),
            warnings: self.warnings.clone(),
            table: self.table.clone(),
        }
    }
}

/// Reads the predictions file at `path` (CSV or Parquet). `task` names the task
/// (`binary`, `multiclass`, `regression`); `None` infers it from the columns: `y_score` is
/// binary, `proba_*` multiclass, anything else regression.
pub fn read_path(path: &Path, task: Option<&str>) -> Result<PredictionFile, TrainError> {
    let t = table::load(path, &["time"]).map_err(|e| TrainError::Invalid(e.to_string()))?;
    from_table(t, task)
}

/// [`read_path`] on CSV bytes (an artifact); `name` names them in errors.
pub fn read_bytes(
    name: &Path,
    bytes: &[u8],
    task: Option<&str>,
) -> Result<PredictionFile, TrainError> {
    let t =
        table::read_csv(name, bytes, &["time"]).map_err(|e| TrainError::Invalid(e.to_string()))?;
    from_table(t, task)
}

fn infer_task(t: &Table) -> &'static str {
    if t.columns.iter().any(|c| c.name == "y_score") {
        "binary"
    } else if t.columns.iter().any(|c| c.name.starts_with("proba_")) {
        "multiclass"
    } else {
        "regression"
    }
}

fn from_table(t: Table, task: Option<&str>) -> Result<PredictionFile, TrainError> {
    let task_name = task.unwrap_or_else(|| infer_task(&t));
    let y_true_col = t
        .column("y_true")
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let n = t.n_rows;
    let mut warnings: Vec<String> = Vec::new();
    // (task, y_true, y_pred, scores, class names)
    type Parsed = (
        Task,
        Vec<f64>,
        Option<Vec<f64>>,
        Option<Vec<f64>>,
        Option<Vec<String>>,
    );
    let (task, y_true, y_pred, proba, classes): Parsed = match task_name {
        "regression" => {
            let y = numeric_column(&t, "y_true")?
                .ok_or_else(|| TrainError::Config("no y_true column".into()))?
                .to_vec();
            let p = numeric_column(&t, "y_pred")?
                .ok_or_else(|| {
                    TrainError::Config(format!(
                        "{}: regression needs a y_pred column",
                        t.path.display()
                    ))
                })?
                .to_vec();
            let zeros = y.iter().filter(|v| v.abs() < f64::EPSILON).count();
            if zeros > 0 {
                warnings.push(format!(
                        "mape: {zeros} y_true value(s) are 0; as in scikit-learn each divides by 2.22e-16, so MAPE is huge"
                    ));
            }
            (Task::Regression, y, Some(p), None, None)
        }
        "binary" => {
            let y = numeric_column(&t, "y_true")?
                .ok_or_else(|| TrainError::Config("no y_true column".into()))?
                .to_vec();
            if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(TrainError::Invalid(format!(
                    "{}: {}: y_true is {}; binary labels must be 0 or 1",
                    t.path.display(),
                    t.location(i),
                    y[i]
                )));
            }
            let s = numeric_column(&t, "y_score")?.map(<[f64]>::to_vec);
            let p = numeric_column(&t, "y_pred")?.map(<[f64]>::to_vec);
            if s.is_none() && p.is_none() {
                return Err(TrainError::Config(format!(
                    "{}: binary metrics need a y_score (P(class 1)) or y_pred column",
                    t.path.display()
                )));
            }
            (Task::Binary, y, p, s, None)
        }
        "multiclass" => {
            let proba_cols: Vec<(String, &[f64])> = t
                .columns
                .iter()
                .filter_map(|c| {
                    c.name
                        .strip_prefix("proba_")
                        .map(|k| (k.to_string(), c.name.clone()))
                })
                .map(|(k, name)| numeric_column(&t, &name).map(|v| (k, v.unwrap_or_default())))
                .collect::<Result<_, _>>()?;
            let y_text: Vec<String> = (0..n).map(|i| y_true_col.text_at(i)).collect();
            let pred_text: Option<Vec<String>> = t
                .columns
                .iter()
                .find(|c| c.name == "y_pred")
                .map(|c| (0..n).map(|i| c.text_at(i)).collect());
            let classes: Vec<String> = if proba_cols.is_empty() {
                let mut all: Vec<String> = y_text
                    .iter()
                    .chain(pred_text.iter().flatten())
                    .cloned()
                    .collect();
                all.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.total_cmp(&y),
                    _ => a.cmp(b),
                });
                all.dedup();
                all
            } else {
                proba_cols.iter().map(|(k, _)| k.clone()).collect()
            };
            if classes.len() < 2 {
                return Err(TrainError::Config(
                    "multiclass metrics need at least two classes".into(),
                ));
            }
            let index = |s: &str, what: &str, i: usize| -> Result<f64, TrainError> {
                classes
                        .iter()
                        .position(|c| c == s || matches!((c.parse::<f64>(), s.parse::<f64>()), (Ok(a), Ok(b)) if a == b))
                        .map(|k| k as f64)
                        .ok_or_else(|| {
                            TrainError::Invalid(format!(
                                "{}: {}: {what} {s:?} is not one of the classes {:?}",
                                t.path.display(),
                                t.location(i),
                                classes
                            ))
                        })
            };
            let y = y_text
                .iter()
                .enumerate()
                .map(|(i, s)| index(s, "y_true", i))
                .collect::<Result<Vec<_>, _>>()?;
            let p = pred_text
                .map(|v| {
                    v.iter()
                        .enumerate()
                        .map(|(i, s)| index(s, "y_pred", i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let k = classes.len();
            let proba = (!proba_cols.is_empty()).then(|| {
                let mut m = vec![0.0; n * k];
                for (c, (_, col)) in proba_cols.iter().enumerate() {
                    for i in 0..n {
                        m[i * k + c] = col[i];
                    }
                }
                m
            });
            (
                Task::Multiclass { n_classes: k },
                y,
                p,
                proba,
                Some(classes),
            )
        }
        other => {
            return Err(TrainError::Config(format!(
                "the task must be binary, multiclass or regression, got {other:?}"
            )));
        }
    };
    let times = match t.columns.iter().find(|c| c.name == "time") {
        Some(c) => (0..n).map(|i| c.text_at(i)).collect(),
        None => vec![String::new(); n],
    };
    Ok(PredictionFile {
        task,
        times,
        y_true,
        y_pred,
        scores: proba,
        classes,
        warnings,
        table: t,
    })
}

/// The metrics of a predictions file, keyed by scikit-learn's names: every default metric of
/// its task that its columns allow, the confusion matrix and classes (classification), and
/// its warnings.
pub fn metrics_report(file: &PredictionFile) -> Result<Map<String, Value>, TrainError> {
    let PredictionFile {
        task,
        y_true,
        y_pred,
        scores: proba,
        classes,
        warnings,
        table: t,
        ..
    } = file;
    let task = *task;
    let n = y_true.len();
    let mut out = Map::new();
    // scikit-learn refuses scores that are not probabilities where a metric needs them
    // (log_loss, brier; multiclass roc_auc): name the file line, not a row of the score matrix.
    if let Some(s) = proba.as_deref()
        && let Some((row, why)) = Metric::defaults(task)
            .iter()
            .find_map(|m| m.invalid_score_row(task, s))
    {
        let columns = if task == Task::Binary {
            "y_score"
        } else {
            "proba_<class> columns"
        };
        return Err(TrainError::Config(format!(
            "{}: {}: {columns}: {why}",
            t.path.display(),
            t.location(row)
        )));
    }
    let preds = Predictions {
        y_true,
        y_pred: y_pred.as_deref(),
        proba: proba.as_deref(),
        times: None,
    };
    out.insert("task".into(), json!(task.kind()));
    out.insert("n_samples".into(), json!(n));
    for m in Metric::defaults(task) {
        if m.needs_scores() && proba.is_none() {
            continue;
        }
        if !m.needs_scores() && y_pred.is_none() && proba.is_none() {
            continue;
        }
        let v = m
            .compute(task, &preds)
            .map_err(|e| TrainError::Invalid(format!("{}: {e}", t.path.display())))?;
        out.insert(m.name().into(), json!(v));
    }
    if task != Task::Regression {
        let c = confusion(task, &preds).map_err(|e| TrainError::Invalid(e.to_string()))?;
        out.insert("confusion_matrix".into(), json!(c));
        if let Some(classes) = classes {
            out.insert("classes".into(), json!(classes));
        }
    }
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    Ok(out)
}

fn numeric_column<'a>(t: &'a Table, name: &str) -> Result<Option<&'a [f64]>, TrainError> {
    match t.columns.iter().find(|c| c.name == name) {
        None => Ok(None),
        Some(c) => match &c.values {
            ColumnValues::Numeric(v) => {
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(TrainError::Invalid(format!(
                        "{}: {}: column `{name}` is {} (values must be finite)",
                        t.path.display(),
                        t.location(i),
                        if v[i].is_nan() { "missing" } else { "infinite" }
                    )));
                }
                Ok(Some(v))
            }
            ColumnValues::Text(_) => t
                .numeric(name)
                .map(Some)
                .map_err(|e| TrainError::Invalid(e.to_string())),
        },
    }
}
