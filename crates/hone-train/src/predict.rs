//! `hone predict`: apply a trained model directory to a new data file.

use std::fmt::Write as _;
use std::path::Path;

use hone_data::dataset::BuildOptions;
use hone_data::table;
use hone_models::pipeline::FittedPipeline;
use hone_models::preprocess::Step;
use hone_models::{Matrix, ModelError};

use crate::TrainError;
use crate::output::{ModelManifest, csv_field, prediction_fields, prediction_header};

/// Predictions for a data file, as CSV text with a header (`time,` then the task's columns).
#[derive(Debug, Clone)]
pub struct PredictOutput {
    /// The CSV text.
    pub csv: String,
    /// Rows predicted.
    pub rows: usize,
    /// Notes (e.g. warm-up rows dropped).
    pub notes: Vec<String>,
}

impl PredictOutput {
    /// The predictions as a JSON array of objects keyed by the CSV header (`time` as text,
    /// numbers as numbers).
    pub fn records_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let mut lines = self.csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let records: Vec<Value> = lines
            .map(|l| {
                let obj: serde_json::Map<String, Value> = header
                    .iter()
                    .zip(l.split(','))
                    .map(|(h, v)| {
                        let val = v.parse::<f64>().map_or_else(|_| json!(v), |x| json!(x));
                        (h.to_string(), if *h == "time" { json!(v) } else { val })
                    })
                    .collect();
                Value::Object(obj)
            })
            .collect();
        Value::Array(records)
    }
}

/// Reads a `hone train` output directory: its `model.json` and its fitted pipeline, which
/// [`FittedPipeline::load`] verifies (checksums, model structure, dimensions) before LightGBM
/// parses anything. The manifest must describe the same model as the pipeline, since its task
/// and features lay out the predictions. A bad manifest is a usage error (exit 2 in the CLI),
/// a damaged pipeline a model error (exit 1); both name the file.
pub(crate) fn load_model(dir: &Path) -> Result<(ModelManifest, FittedPipeline), TrainError> {
    let manifest_path = dir.join("model.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        TrainError::Config(format!(
            "{}: not a hone model directory ({e}); pass the output directory of `hone train`",
            dir.display()
        ))
    })?;
    let manifest: ModelManifest = serde_json::from_str(&text)
        .map_err(|e| TrainError::Config(format!("{}: {e}", manifest_path.display())))?;
    if manifest.format != "hone-model" || manifest.version > 1 {
        return Err(TrainError::Config(format!(
            "{}: unsupported model manifest (format {:?}, version {})",
            manifest_path.display(),
            manifest.format,
            manifest.version
        )));
    }
    let loading = |source| TrainError::Model {
        context: "loading the pipeline".into(),
        source,
    };
    let pipeline = FittedPipeline::load(&dir.join("pipeline")).map_err(loading)?;
    if manifest.task != pipeline.task || manifest.features != pipeline.input_features {
        return Err(loading(ModelError::Io {
            path: manifest_path,
            message: "describes another model than pipeline/pipeline.json (task or features \
                      differ)"
                .into(),
        }));
    }
    Ok((manifest, pipeline))
}

/// Loads `model_dir` (a `hone train` output directory) and predicts every usable row of `data`.
/// Rows whose derived features are still warming up are dropped; rows near the end of the file
/// are kept (their label is unknown, which is the point of predicting).
pub fn predict(model_dir: &Path, data: &Path) -> Result<PredictOutput, TrainError> {
    predict_with(model_dir, data, false)
}

/// [`predict`]; for a panel model, `all_times` scores every timestamp instead of the latest
/// cross-section only. A panel's predictions carry the asset and the prediction's rank within
/// its timestamp (`rank` 1 = the highest signal), best first.
pub fn predict_with(
    model_dir: &Path,
    data: &Path,
    all_times: bool,
) -> Result<PredictOutput, TrainError> {
    let (manifest, pipeline) = load_model(model_dir)?;
    // Group labels only serve evaluation; new data need not carry them.
    let spec = &hone_data::DataSpec {
        group_column: None,
        ..manifest.data.clone()
    };
    let table = table::load(data, &spec.text_columns())?;
    let has_imputer = pipeline.steps.iter().any(|s| matches!(s, Step::Impute(_)));
    let mut ds = spec.build(
        &table,
        BuildOptions {
            target: None,
            require_increasing_time: spec.time_column.is_some()
                && (spec.derive.is_some() || spec.asset_column.is_some()),
            allow_missing_features: has_imputer,
            trading_price: None,
        },
    )?;
    ds.select_features(&manifest.features)?;
    let x = Matrix::from_columns(&ds.features);
    let output = pipeline.predict(&x).map_err(|source| TrainError::Model {
        context: "predicting".into(),
        source,
    })?;
    let task = manifest.task;
    if let Some(panel) = &ds.panel {
        let n_times = panel.n_times();
        let first = if all_times {
            0
        } else {
            n_times.saturating_sub(1)
        };
        let signal = crate::job::panel_signal(task, &output);
        let mut csv = format!("time,asset,{},rank\n", prediction_header(task));
        let mut rows = 0;
        for t in first..n_times {
            let mut members: Vec<usize> =
                (panel.time_starts[t]..panel.time_starts[t + 1]).collect();
            members.sort_by(|&a, &b| signal[b].total_cmp(&signal[a]).then(a.cmp(&b)));
            for (k, &i) in members.iter().enumerate() {
                let _ = writeln!(
                    csv,
                    "{},{},{},{}",
                    csv_field(&ds.times[i]),
                    csv_field(&panel.asset_names[panel.assets[i] as usize]),
                    prediction_fields(task, &output, i),
                    k + 1
                );
                rows += 1;
            }
        }
        let mut notes = ds.notes.clone();
        if !all_times && n_times > 0 {
            notes.push(format!(
                "panel: scored the latest cross-section, {} ({} assets), ranked best first \
                 (--all-times scores every timestamp)",
                ds.times[panel.time_starts[n_times - 1]],
                rows
            ));
        }
        return Ok(PredictOutput { csv, rows, notes });
    }
    let mut csv = format!("time,{}\n", prediction_header(task));
    for i in 0..ds.n_rows() {
        let _ = writeln!(
            csv,
            "{},{}",
            csv_field(&ds.times[i]),
            prediction_fields(task, &output, i)
        );
    }
    Ok(PredictOutput {
        csv,
        rows: ds.n_rows(),
        notes: ds.notes.clone(),
    })
}
