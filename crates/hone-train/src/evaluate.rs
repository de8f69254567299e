//! `hone evaluate`: score a trained model directory on a labelled data file — metrics, trading
//! evaluation, drift against the training data, and the config's gates (its `holdout.*` and
//! `drift_share` rules, with the evaluated data in the holdout's place).

use std::collections::BTreeMap;
use std::path::Path;

use hone_data::dataset::BuildOptions;
use hone_data::table;
use hone_models::Matrix;
use hone_validate::metrics::{Metric, Predictions, Task, evaluate as compute};
use serde::Serialize;

use crate::TrainError;
use crate::gates::GateResult;
use crate::trading::TradingSummary;

/// The result of evaluating a model on data.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluateReport {
    /// The model directory.
    pub model: String,
    /// The data evaluated.
    pub data: String,
    /// SHA-256 of the evaluated table.
    pub fingerprint: String,
    /// Rows scored.
    pub rows: usize,
    /// First and last timestamps.
    pub period: (String, String),
    /// Metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// Trading evaluation (when the training config had `[trading]`).
    pub trading: Option<TradingSummary>,
    /// Drift of each feature against the training data's development rows.
    pub drift: Vec<hone_validate::drift::ColumnDrift>,
    /// Share of drifted features.
    pub drift_share: f64,
    /// The config's gates that apply (`holdout.*`, `drift_share`).
    pub gates: Vec<GateResult>,
    /// Notes.
    pub notes: Vec<String>,
}

/// Evaluates the model in `dir` on `data` (default: the training config's data file).
pub fn evaluate(dir: &Path, data: Option<&Path>) -> Result<EvaluateReport, TrainError> {
    let cfg_path = dir.join("config.toml");
    if !cfg_path.exists() || !dir.join("model.json").exists() {
        return Err(TrainError::Config(format!(
            "{}: not a hone model directory (no config.toml/model.json); pass the output directory of `hone train`",
            dir.display()
        )));
    }
    let cfg = crate::config::load(&cfg_path)?;
    let (manifest, pipeline) = crate::predict::load_model(dir)?;
    let c = &cfg.config;
    let data_path = data.map(Path::to_path_buf).unwrap_or(cfg.data_path.clone());
    let build = |path: &Path| -> Result<hone_data::Dataset, TrainError> {
        let t = table::load(path, &c.data.text_columns())?;
        let mut ds = c.data.build(
            &t,
            BuildOptions {
                target: Some(&c.target),
                require_increasing_time: c.data.time_column.is_some(),
                allow_missing_features: c.preprocess.impute.is_some(),
                trading_price: c
                    .trading
                    .as_ref()
                    .map(|tc| tc.price.as_deref().unwrap_or(&c.target.column)),
            },
        )?;
        ds.select_features(&manifest.features)?;
        Ok(ds)
    };
    let mut ds = build(&data_path)?;
    let mut notes = ds.notes.clone();
    let mut own_reference: Option<Vec<Vec<f64>>> = None;
    // Rows kept before the first evaluated row as a windowed model's context.
    let mut context = 0;
    // A panel's timestamp of each evaluated row, for the cross-sectional metrics.
    let mut panel_times: Option<Vec<i64>> = ds.panel.as_ref().map(|p| p.time_keys());
    if data.is_none() {
        // The training file: score only its holdout rows, never rows the model was fitted on
        // (a panel's holdout is its latest timestamps, as `hone train` cut it).
        let (dev_end, start) = crate::job::holdout_cut(&cfg, &ds)?;
        panel_times = panel_times.map(|t| t[start..].to_vec());
        if start >= ds.n_rows() {
            return Err(TrainError::Config(
                "the training config has no holdout: pass --data with new labelled rows".into(),
            ));
        }
        // Drift is judged against the development rows, as `hone train` judged it.
        own_reference = Some(ds.features.iter().map(|f| f[..dev_end].to_vec()).collect());
        // A windowed model's first holdout windows read the rows before the holdout (past
        // rows), as they did when `hone train` scored it.
        context = pipeline.context_rows().min(start);
        ds.features = ds
            .features
            .iter()
            .map(|f| f[start - context..].to_vec())
            .collect();
        ds.target = ds.target[start..].to_vec();
        ds.times = ds.times[start..].to_vec();
        ds.next_return = ds.next_return.map(|r| r[start..].to_vec());
        notes.push(format!(
            "evaluated the training file's holdout rows ({} onwards)",
            ds.times[0]
        ));
    }
    if ds.n_rows() == 0 {
        return Err(TrainError::Config(format!(
            "{}: no labelled rows left to evaluate (after feature warm-up and the label horizon)",
            data_path.display()
        )));
    }
    let task = manifest.task;
    let x = Matrix::from_columns(&ds.features);
    let mut output = pipeline.predict(&x).map_err(|source| TrainError::Model {
        context: "predicting".into(),
        source,
    })?;
    output.drain(..context * task.n_outputs());
    if context > 0 {
        ds.features = ds.features.iter().map(|f| f[context..].to_vec()).collect();
    }
    let metric_list: Vec<Metric> = crate::job::job_metrics(&cfg, task, panel_times.is_some())?;
    let preds = match task {
        Task::Regression => Predictions {
            y_true: &ds.target,
            y_pred: Some(&output),
            proba: None,
            times: panel_times.as_deref(),
        },
        _ => Predictions {
            y_true: &ds.target,
            y_pred: None,
            proba: Some(&output),
            times: panel_times.as_deref(),
        },
    };
    let metrics: BTreeMap<String, f64> = compute(task, &metric_list, &preds)
        .map_err(|source| TrainError::Metric {
            context: "evaluation".into(),
            source,
        })?
        .into_iter()
        .map(|(m, v)| (m.name().to_string(), v))
        .collect();
    let trading = match (&c.trading, &ds.next_return) {
        (Some(tc), Some(next)) => {
            let (tc, note) = tc.for_data(&ds.times);
            notes.extend(note);
            let summary = tc
                .backtest(&ds.times, &tc.positions(task, &output), next)?
                .0;
            notes.extend(crate::trading::buy_and_hold_note("evaluated", &summary));
            Some(summary)
        }
        _ => None,
    };
    // Drift against the training file's development rows, when a different file is evaluated.
    // Drift of the evaluated rows against the training file's development rows: the same
    // computation as `hone train`'s on its holdout.
    let current: Vec<&[f64]> = ds.features.iter().map(Vec::as_slice).collect();
    let drift = match own_reference {
        Some(reference) => {
            let reference: Vec<&[f64]> = reference.iter().map(Vec::as_slice).collect();
            crate::job::feature_drift(&manifest.features, &reference, &current)
        }
        None => match build(&cfg.data_path) {
            Ok(reference) => {
                let (dev_end, _) = crate::job::holdout_cut(&cfg, &reference)?;
                let reference: Vec<&[f64]> =
                    reference.features.iter().map(|f| &f[..dev_end]).collect();
                crate::job::feature_drift(&manifest.features, &reference, &current)
            }
            Err(e) => {
                notes.push(format!(
                    "no drift check: the training data could not be read ({e})"
                ));
                Vec::new()
            }
        },
    };
    let (drift_share, _) = hone_validate::drift::dataset_drift(&drift, 0.5);
    let mut vals: BTreeMap<String, f64> = metrics
        .iter()
        .map(|(k, v)| (format!("holdout.{k}"), *v))
        .collect();
    if let Some(t) = &trading
        && let Ok(serde_json::Value::Object(map)) = serde_json::to_value(t)
    {
        for (k, x) in map {
            if let Some(f) = x.as_f64() {
                vals.insert(format!("holdout.trading.{k}"), f);
            }
        }
    }
    vals.insert("drift_share".into(), drift_share);
    let gates = match &c.gates {
        Some(g) => g.evaluate_values(&vals, |name| {
            name.starts_with("holdout.") || name == "drift_share"
        })?,
        None => Vec::new(),
    };
    let n = ds.n_rows();
    Ok(EvaluateReport {
        model: dir.display().to_string(),
        data: data_path.display().to_string(),
        fingerprint: ds.fingerprint.clone(),
        rows: n,
        period: (
            ds.times.first().cloned().unwrap_or_default(),
            ds.times.last().cloned().unwrap_or_default(),
        ),
        metrics,
        trading,
        drift,
        drift_share,
        gates,
        notes,
    })
}

/// A tracked run's model directory: its output folder, or — when the run wrote none
/// (`--no-outputs`), the folder is gone, or a later job overwrote it — the run's artifacts
/// copied into a private temporary folder, removed again when this is dropped.
#[derive(Debug)]
pub struct RunModelDir {
    path: std::path::PathBuf,
    temporary: bool,
}

impl RunModelDir {
    /// The directory to load the model from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the model was read from the run's artifacts (no usable output folder).
    pub fn is_from_artifacts(&self) -> bool {
        self.temporary
    }
}

impl Drop for RunModelDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Artifacts a model directory needs (with `pipeline/`): what [`evaluate`] and
/// [`crate::predict`] open.
const MODEL_FILES: &[&str] = &["config.toml", "model.json"];

/// The model directory of a tracked `hone train` (or `hone tune` refit) run: the output
/// directory its [`hone_track::keys::OUT_DIR`] tag records when it still holds this run's
/// outputs (its `run.json` names the run; folders from before that file are trusted), else the
/// run's artifacts (checksums verified) written into a temporary folder.
pub fn model_dir_of_run(
    store: &dyn hone_track::Store,
    blobs: &hone_track::artifacts::BlobStore,
    run_id: &str,
) -> Result<RunModelDir, TrainError> {
    let run = store.get_run(run_id).map_err(|_| {
        TrainError::Config(format!(
            "{run_id}: neither a model directory nor a tracked run"
        ))
    })?;
    let out = run
        .tags
        .iter()
        .find(|(k, _)| k == hone_track::keys::OUT_DIR)
        .map(|(_, v)| std::path::PathBuf::from(v));
    if let Some(dir) = out
        && dir.is_dir()
        && crate::tracking::run_of_dir(&dir).is_none_or(|owner| owner == run_id)
        && MODEL_FILES.iter().all(|f| dir.join(f).is_file())
    {
        return Ok(RunModelDir {
            path: dir,
            temporary: false,
        });
    }
    let artifacts = store.list_artifacts(run_id)?;
    if !MODEL_FILES
        .iter()
        .all(|f| artifacts.iter().any(|a| a.path == *f))
    {
        return Err(TrainError::Config(format!(
            "run {run_id} has no model: no output folder and no model artifacts (was it \
             recorded by `hone train`?)"
        )));
    }
    let path = std::env::temp_dir().join(format!(
        "hone-run-{run_id}-{}-{}",
        std::process::id(),
        hone_track::store::new_run_id()
    ));
    let dir = RunModelDir {
        path,
        temporary: true,
    };
    let io = |p: &Path, e: std::io::Error| TrainError::Output {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    std::fs::create_dir(&dir.path).map_err(|e| io(&dir.path, e))?;
    for a in &artifacts {
        let bytes = blobs.get(&a.sha256, run_id, &a.path)?;
        // Artifact paths are validated when recorded: relative, no `..`, forward slashes.
        let target = dir.path.join(&a.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| io(&target, e))?;
    }
    Ok(dir)
}
