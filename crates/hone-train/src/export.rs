//! `hone export`: the exact feature matrix a trained pipeline's model saw, as Parquet.
//!
//! A quant who wants to check hone's numbers in Python needs the model's inputs, not the raw
//! file: the derived features, after the fitted imputer, scaler and selector. [`export_features`]
//! rebuilds them from a `hone train` output directory with the same code `hone predict` runs
//! (the run's data spec, then the pipeline's fitted steps), so `lightgbm.Booster(model_file=
//! "model.txt").predict(df[features])` gives hone's predictions.
//!
//! Columns, in order: `time` (the time column's text, or the row number), the model's input
//! features (named as in `model.txt`), `target` (the label: class code or value; NaN where the
//! label needs rows past the end of the file), and, for the run's own data, `role` (`dev` for
//! the development rows cross-validation and the final refit used, `holdout` for the holdout).
//! The rows purged between them (their labels overlap the holdout) are left out.

use std::path::{Path, PathBuf};

use hone_data::dataset::BuildOptions;
use hone_data::table::{self, Column, ColumnValues};
use hone_models::Matrix;
use hone_models::preprocess::Transformer;

use crate::TrainError;

/// Names of the columns the export adds around the features.
pub const TIME: &str = "time";
/// The label column.
pub const TARGET: &str = "target";
/// The row's role in the run (own data only).
pub const ROLE: &str = "role";

/// An exported feature matrix and what it holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeatureExport {
    /// The Parquet file's bytes.
    #[serde(skip)]
    pub parquet: Vec<u8>,
    /// The data file the features were computed from.
    pub data: PathBuf,
    /// Rows exported.
    pub rows: usize,
    /// Every column, in order.
    pub columns: Vec<String>,
    /// The model's input features (after the pipeline's steps), in model order.
    pub features: Vec<String>,
    /// Rows per role (`dev`, `holdout`; empty with `--data`).
    pub roles: Vec<(String, usize)>,
    /// What was dropped or could not be exported.
    pub notes: Vec<String>,
}

/// Builds the feature matrix of the model in `model_dir` (a `hone train` output directory) on
/// `data`, or on the run's own training data (its development and holdout rows, with `role`).
/// The run's own data must still be the file it trained on (same fingerprint), or the matrix
/// would not be the one the model saw.
pub fn export_features(model_dir: &Path, data: Option<&Path>) -> Result<FeatureExport, TrainError> {
    let cfg_path = model_dir.join("config.toml");
    if !cfg_path.exists() || !model_dir.join("model.json").exists() {
        return Err(TrainError::Config(format!(
            "{}: not a hone model directory (no config.toml/model.json); pass the output \
             directory of `hone train` or a run id",
            model_dir.display()
        )));
    }
    let cfg = crate::config::load(&cfg_path)?;
    let (manifest, pipeline) = crate::predict::load_model(model_dir)?;
    let c = &cfg.config;
    // Group labels never reach the model; a new file need not carry them.
    let spec = hone_data::DataSpec {
        group_column: None,
        ..c.data.clone()
    };
    let data_path = data.map_or_else(|| cfg.data_path.clone(), Path::to_path_buf);
    let table = table::load(&data_path, &spec.text_columns())?;
    let options = |target| BuildOptions {
        target,
        require_increasing_time: spec.time_column.is_some(),
        allow_missing_features: c.preprocess.impute.is_some(),
        trading_price: None,
    };
    let mut notes = Vec::new();
    let (ds, rows, target, roles) = match data {
        None => {
            let mut ds = spec.build(&table, options(Some(&c.target)))?;
            if ds.fingerprint != manifest.fingerprint {
                return Err(TrainError::Invalid(format!(
                    "{}: the file changed since the run trained on it (fingerprint {}, the run's \
                     {}): its feature matrix cannot be rebuilt; pass --data to export this file",
                    data_path.display(),
                    ds.fingerprint,
                    manifest.fingerprint
                )));
            }
            ds.select_features(&manifest.features)?;
            let n = ds.n_rows();
            let (dev_end, holdout_start) = crate::job::holdout_cut(&cfg, &ds)?;
            if holdout_start > dev_end {
                notes.push(format!(
                    "left out the {} purged row(s) between the development rows and the \
                     holdout (their labels overlap the holdout; no model saw them)",
                    holdout_start - dev_end
                ));
            }
            let rows: Vec<usize> = (0..dev_end).chain(holdout_start..n).collect();
            let target: Vec<f64> = rows.iter().map(|&i| ds.target[i]).collect();
            let role: Vec<String> = rows
                .iter()
                .map(|&i| if i < dev_end { "dev" } else { "holdout" }.to_string())
                .collect();
            let counts = vec![
                ("dev".to_string(), dev_end),
                ("holdout".to_string(), n - holdout_start),
            ];
            (ds, rows, Some(target), Some((role, counts)))
        }
        Some(_) => {
            let mut ds = spec.build(&table, options(None))?;
            ds.select_features(&manifest.features)?;
            let n = ds.n_rows();
            // Labels where the file has them: the labelled rows are a prefix of these rows
            // (both start after the same warm-up; a forward label ends `horizon` rows early).
            let target = match spec.build(&table, options(Some(&c.target))) {
                Ok(labelled) if labelled.classes == manifest.classes => {
                    let mut t = labelled.target;
                    t.resize(n, f64::NAN);
                    if labelled.times.len() < n {
                        notes.push(format!(
                            "target is NaN in the last {} row(s): their label needs rows past the \
                             end of the file",
                            n - labelled.times.len()
                        ));
                    }
                    Some(t)
                }
                Ok(_) => {
                    notes.push(
                        "no target column: the file's classes differ from the training data's"
                            .into(),
                    );
                    None
                }
                Err(e) => {
                    notes.push(format!("no target column: {e}"));
                    None
                }
            };
            (ds, (0..n).collect(), target, None)
        }
    };
    notes.extend(ds.notes.iter().cloned());
    if rows.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{}: no rows to export (after feature warm-up)",
            data_path.display()
        )));
    }

    // The model's inputs: the raw features through the pipeline's fitted steps, exactly as
    // `FittedPipeline::predict` applies them before the model.
    let mut x = Matrix::gather(&ds.features, &rows);
    for step in &pipeline.steps {
        x = step.transform(&x).map_err(|source| TrainError::Model {
            context: "applying the pipeline's steps".into(),
            source,
        })?;
    }
    let features = pipeline.model_features.clone();
    if x.n_cols() != features.len() {
        return Err(TrainError::Invalid(format!(
            "{}: the pipeline gave {} columns for its {} model features",
            model_dir.display(),
            x.n_cols(),
            features.len()
        )));
    }
    if let Some(clash) = features
        .iter()
        .find(|f| [TIME, TARGET, ROLE].contains(&f.as_str()))
    {
        return Err(TrainError::Invalid(format!(
            "feature {clash:?} has the name of a column the export adds ({TIME}, {TARGET}, {ROLE})"
        )));
    }

    let mut columns = vec![Column {
        name: TIME.into(),
        values: ColumnValues::Text(rows.iter().map(|&i| ds.times[i].clone()).collect()),
    }];
    for (j, name) in features.iter().enumerate() {
        columns.push(Column {
            name: name.clone(),
            values: ColumnValues::Numeric(x.col(j).to_vec()),
        });
    }
    if let Some(t) = target {
        columns.push(Column {
            name: TARGET.into(),
            values: ColumnValues::Numeric(t),
        });
    }
    let mut role_counts = Vec::new();
    if let Some((role, counts)) = roles {
        columns.push(Column {
            name: ROLE.into(),
            values: ColumnValues::Text(role),
        });
        role_counts = counts;
    }
    let parquet = table::parquet_bytes(&columns)?;
    Ok(FeatureExport {
        parquet,
        data: data_path,
        rows: rows.len(),
        columns: columns.into_iter().map(|c| c.name).collect(),
        features,
        roles: role_counts,
        notes,
    })
}
