//! The output directory of `hone train`.
//!
//! | file | what |
//! | --- | --- |
//! | `metrics.json` | the whole [`TrainReport`]: folds, CV mean ± std, holdout, notes |
//! | `config.toml` | the resolved config (every default filled in, data path absolute) |
//! | `model.json` | what `hone predict` needs: data spec, target, task, classes, features |
//! | `pipeline/` | the fitted pipeline (`pipeline.json` + LightGBM `model.txt`) |
//! | `model.txt` | the final LightGBM model in LightGBM's text format |
//! | `oof_predictions.csv` | out-of-fold predictions: `time,fold,y_true,…` (a panel: `time,asset,fold,…`) |
//! | `holdout_predictions.csv` | holdout predictions, same columns without `fold` |
//! | `feature_importance.csv` | `feature,importance`, largest first |
//! | `equity_*.csv` | each backtest's periods (with `[trading]`) |
//! | `equity.svg`, `importance.svg`, `learning_curve.svg` | charts ([`crate::charts`]) |
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

/// A job's output files in memory, in the order they are written: what the output writer puts
/// in the output directory and the tracker uploads as artifacts, from the same bytes (nothing
/// is read back from disk).
#[derive(Debug, Default, Clone)]
pub struct Bundle {
    /// `(path relative to the output directory, content)`, `/`-separated.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    /// Adds a file.
    pub fn push(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.push((path.into(), bytes.into()));
    }

    /// The content of `path`, if the bundle has it.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.as_slice())
    }

    /// Writes every file under `dir`, each atomically (temp file + rename), creating folders.
    pub fn write_to(&self, dir: &Path) -> Result<(), TrainError> {
        let io = |path: &Path, e: std::io::Error| TrainError::Output {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        for (name, bytes) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            write_atomic(&path, bytes).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }
}

/// Renders `hone train`'s outputs (see the module's table) into a [`Bundle`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    cfg: &LoadedConfig,
    ds: &Dataset,
    task: Task,
    report: &TrainReport,
    final_fit: &FittedPipeline,
    oof: &[(usize, Scored)],
    holdout: &Scored,
) -> Result<Bundle, TrainError> {
    let mut bundle = Bundle::default();
    let model_err = |source| TrainError::Model {
        context: "saving the pipeline".into(),
        source,
    };
    let mut pipeline = hone_models::estimator::MemorySink::default();
    final_fit.save_to(&mut pipeline).map_err(model_err)?;
    // The model's standard file (LightGBM's `model.txt`) also at the top, for tools that load
    // it directly.
    let standard = final_fit
        .model
        .standard_file()
        .and_then(|name| pipeline.get(name).map(|b| (name, b.to_vec())));
    for (name, bytes) in pipeline.files {
        bundle.push(format!("pipeline/{name}"), bytes);
    }
    if let Some((name, bytes)) = standard {
        bundle.push(name, bytes);
    }

    let resolved = cfg.resolved();
    let mut toml_text = toml::to_string(&resolved).map_err(|e| TrainError::Output {
        path: "config.toml".into(),
        message: e.to_string(),
    })?;
    // The values above already include the overrides; the header says which ones did not
    // come from the file, so the saved config explains itself.
    if !cfg.overrides.is_empty() {
        let mut header = format!(
            "# {} with these --set overrides (included below):\n",
            cfg.path.display()
        );
        for o in &cfg.overrides {
            let _ = writeln!(header, "#   --set {}", o.text.replace(['\n', '\r'], " "));
        }
        toml_text.insert_str(0, &header);
    }
    bundle.push("config.toml", toml_text);

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
    bundle.push("model.json", json_text("model.json", &manifest)?);
    bundle.push("metrics.json", json_text("metrics.json", report)?);

    // A panel's rows also name their asset.
    let head = if ds.panel.is_some() {
        "time,asset"
    } else {
        "time"
    };
    let key_of = |row: usize| -> String {
        match &ds.panel {
            Some(p) => format!(
                "{},{}",
                csv_field(&ds.times[row]),
                csv_field(&p.asset_names[p.assets[row] as usize])
            ),
            None => csv_field(&ds.times[row]),
        }
    };
    let mut csv = format!("{head},fold,y_true,{}\n", prediction_header(task));
    for (fold, scored) in oof {
        for (i, &row) in scored.rows.iter().enumerate() {
            let _ = writeln!(
                csv,
                "{},{fold},{},{}",
                key_of(row),
                scored.y_true[i],
                prediction_fields(task, &scored.output, i)
            );
        }
    }
    bundle.push("oof_predictions.csv", csv);

    let mut csv = format!("{head},y_true,{}\n", prediction_header(task));
    for (i, &row) in holdout.rows.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{},{},{}",
            key_of(row),
            holdout.y_true[i],
            prediction_fields(task, &holdout.output, i)
        );
    }
    bundle.push("holdout_predictions.csv", csv);

    let mut sorted = report.importances.clone();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut csv = String::from("feature,importance\n");
    for (name, v) in sorted {
        let _ = writeln!(csv, "{},{v}", csv_field(&name));
    }
    bundle.push("feature_importance.csv", csv);
    Ok(bundle)
}

fn json_text<T: Serialize>(name: &str, value: &T) -> Result<String, TrainError> {
    serde_json::to_string_pretty(value).map_err(|e| TrainError::Output {
        path: name.into(),
        message: e.to_string(),
    })
}
