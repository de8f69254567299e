//! The output directory of `hone train`.
//!
//! | file | what |
//! | --- | --- |
//! | `metrics.json` | the whole [`TrainReport`]: folds, CV mean ± std, holdout, notes |
//! | `config.toml` | the resolved config (every default filled in, data path absolute) |
//! | `model.json` | what `hone predict` needs: data spec, target, task, classes, features |
//! | `pipeline/` | the fitted pipeline (`pipeline.json` + LightGBM `model.txt`) |
//! | `model.txt` | the final LightGBM model in LightGBM's text format |
//! | `oof_predictions.csv` | out-of-fold predictions: `time,fold,y_true,…` |
//! | `holdout_predictions.csv` | holdout predictions, same columns without `fold` |
//! | `feature_importance.csv` | `feature,importance`, largest first |
//!
//! A job's directory is claimed with [`OutDir::claim`] before anything is trained, so that a bad
//! `--out` fails at once and a job never mixes its files with an earlier run's (stale equity
//! curves were once uploaded as artifacts of a new run). Every file is written with
//! [`write_atomic`], so a crash never leaves a half-written one.

use std::fmt::Write as _;
use std::path::Path;

use hone_data::{DataSpec, Dataset, TargetSpec};
use hone_models::pipeline::FittedPipeline;
use hone_validate::Task;
use hone_validate::metrics::argmax;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::config::LoadedConfig;
use crate::job::{Scored, TrainReport};

mod outdir;
pub use outdir::{
    OutDir, OutDirError, check_out_dir, check_out_file, check_writable, write_atomic,
};

/// `model.json`: how to turn a raw data file into the pipeline's inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Always `hone-model`.
    pub format: String,
    /// Manifest version.
    pub version: u32,
    /// Job name.
    pub name: String,
    /// The data spec used in training (features, derivations, time column).
    pub data: DataSpec,
    /// The target spec used in training.
    pub target: TargetSpec,
    /// Task kind.
    pub task: Task,
    /// Class names by code (classification).
    pub classes: Option<Vec<String>>,
    /// Input features of the pipeline, in order.
    pub features: Vec<String>,
    /// Fingerprint of the training data.
    pub fingerprint: String,
}

fn write(path: &Path, contents: &str) -> Result<(), TrainError> {
    write_bytes(path, contents.as_bytes())
}

fn write_bytes(path: &Path, contents: &[u8]) -> Result<(), TrainError> {
    write_atomic(path, contents).map_err(|e| TrainError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Header columns for a task's predictions (after `time[,fold],y_true`).
pub fn prediction_header(task: Task) -> String {
    match task {
        Task::Binary => "y_score,y_pred".into(),
        Task::Multiclass { n_classes } => {
            let mut h: Vec<String> = (0..n_classes).map(|k| format!("proba_{k}")).collect();
            h.push("y_pred".into());
            h.join(",")
        }
        Task::Regression => "y_pred".into(),
    }
}

/// Prediction fields of row `i` of a model output.
pub fn prediction_fields(task: Task, output: &[f64], i: usize) -> String {
    match task {
        Task::Binary => format!("{},{}", output[i], u8::from(output[i] >= 0.5)),
        Task::Multiclass { n_classes } => {
            let row = &output[i * n_classes..(i + 1) * n_classes];
            let mut s: Vec<String> = row.iter().map(f64::to_string).collect();
            s.push(argmax(row).to_string());
            s.join(",")
        }
        Task::Regression => output[i].to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn write_all(
    dir: &Path,
    cfg: &LoadedConfig,
    ds: &Dataset,
    task: Task,
    report: &TrainReport,
    final_fit: &FittedPipeline,
    oof: &[(usize, Scored)],
    holdout: &Scored,
) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::Output {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let model_err = |source| TrainError::Model {
        context: "saving the pipeline".into(),
        source,
    };
    final_fit.save(&dir.join("pipeline")).map_err(model_err)?;
    // The model's standard file (LightGBM's `model.txt`) also at the top, for tools that load
    // it directly.
    if let Some(name) = final_fit.model.standard_file() {
        let mut files = hone_models::estimator::MemorySink::default();
        final_fit.model.save_files(&mut files).map_err(model_err)?;
        if let Some(bytes) = files.get(name) {
            write_bytes(&dir.join(name), bytes)?;
        }
    }

    let mut resolved = cfg.config.clone();
    resolved.data.path = std::path::absolute(&cfg.data_path).unwrap_or(cfg.data_path.clone());
    resolved.name = Some(cfg.name());
    let toml_text = toml::to_string(&resolved).map_err(|e| TrainError::Output {
        path: dir.join("config.toml"),
        message: e.to_string(),
    })?;
    write(&dir.join("config.toml"), &toml_text)?;

    let manifest = ModelManifest {
        format: "hone-model".into(),
        version: 1,
        name: cfg.name(),
        data: resolved.data.clone(),
        target: cfg.config.target.clone(),
        task,
        classes: ds.classes.clone(),
        features: ds.feature_names.clone(),
        fingerprint: ds.fingerprint.clone(),
    };
    write_json(&dir.join("model.json"), &manifest)?;
    write_json(&dir.join("metrics.json"), report)?;

    let mut csv = format!("time,fold,y_true,{}\n", prediction_header(task));
    for (fold, scored) in oof {
        for (i, &row) in scored.rows.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{},{fold},{},{}",
                csv_field(&ds.times[row]),
                scored.y_true[i],
                prediction_fields(task, &scored.output, i)
            );
        }
    }
    write(&dir.join("oof_predictions.csv"), &csv)?;

    let mut csv = format!("time,y_true,{}\n", prediction_header(task));
    for (i, &row) in holdout.rows.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{},{},{}",
            csv_field(&ds.times[row]),
            holdout.y_true[i],
            prediction_fields(task, &holdout.output, i)
        );
    }
    write(&dir.join("holdout_predictions.csv"), &csv)?;

    let mut sorted = report.importances.clone();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut csv = String::from("feature,importance\n");
    for (name, v) in sorted {
        let _ = writeln!(csv, "{},{v}", csv_field(&name));
    }
    write(&dir.join("feature_importance.csv"), &csv)?;
    Ok(())
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write(path, &text)
}
