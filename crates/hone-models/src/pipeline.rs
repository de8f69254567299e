//! Pipelines: preprocessing steps and a model, fitted together on training rows and saved as
//! one directory (`pipeline.json`, plus LightGBM's `model.txt`).

use std::path::Path;

use hone_validate::Task;
use serde::{Deserialize, Serialize};

use crate::gbm::RoundObserver;
use crate::model::{FittedModel, ModelSpec};
use crate::preprocess::{FitContext, Step, Transformer};
use crate::{Matrix, ModelError};

/// The unfitted pipeline: steps in order, then the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSpec {
    /// Preprocessing steps, applied in order.
    pub steps: Vec<Step>,
    /// The model.
    pub model: ModelSpec,
}

/// Everything a fit needs besides the data.
pub struct FitOptions<'a> {
    /// What is predicted.
    pub task: Task,
    /// Seed of every random component.
    pub seed: u64,
    /// Names of the input columns.
    pub feature_names: &'a [String],
    /// Rows dropped between the fitting rows and the early-stopping slice, so that no fitting
    /// label overlaps the slice (the label horizon).
    pub early_stopping_gap: usize,
    /// Called after each boosting round.
    pub observer: RoundObserver<'a>,
}

/// A fitted pipeline: apply it to raw feature columns to get predictions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedPipeline {
    /// Names of the input columns, in order.
    pub input_features: Vec<String>,
    /// Fitted steps.
    pub steps: Vec<Step>,
    /// Names of the columns that reach the model (after selection).
    pub model_features: Vec<String>,
    /// What is predicted.
    pub task: Task,
    /// The fitted model.
    pub model: FittedModel,
}

const FORMAT: &str = "hone-pipeline";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedPipeline {
    format: String,
    version: u32,
    pipeline: FittedPipeline,
}

impl PipelineSpec {
    /// Fits every step on `(x, y)` (training rows only), then the model. When the model stops
    /// early, its validation slice is the latest `validation_fraction` of these rows, after a
    /// gap of `early_stopping_gap` rows: never a test row.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        opts: FitOptions<'_>,
    ) -> Result<FittedPipeline, ModelError> {
        if x.n_rows() != y.len() {
            return Err(ModelError::Data(format!(
                "{} rows of features but {} targets",
                x.n_rows(),
                y.len()
            )));
        }
        self.model.check_task(opts.task)?;
        let classification = opts.task != Task::Regression;
        let mut current = x.clone();
        let mut names: Vec<String> = opts.feature_names.to_vec();
        let mut steps = Vec::with_capacity(self.steps.len());
        let model = &self.model;
        let task = opts.task;
        let seed = opts.seed;
        let rfe_importances = |m: &Matrix, t: &[f64]| -> Result<Vec<f64>, ModelError> {
            let fitted = model.fit(m, t, None, task, seed, &[], &mut |_, _, _| true)?;
            fitted.rfe_importances()
        };
        for spec in &self.steps {
            let mut step = spec.clone();
            let ctx = FitContext {
                classification,
                importances: Some(&rfe_importances),
            };
            step.fit(&current, y, &ctx)?;
            current = step.transform(&current)?;
            let kept = step.kept_columns(names.len());
            names = kept.iter().map(|&j| names[j].clone()).collect();
            steps.push(step);
        }
        let fitted = match self.model.early_stopping_fraction() {
            Some(fraction) => {
                let n = current.n_rows();
                let n_valid = ((n as f64) * fraction).ceil() as usize;
                let valid_start = n.saturating_sub(n_valid);
                let fit_end = valid_start.saturating_sub(opts.early_stopping_gap);
                if fit_end < 2 || n_valid == 0 {
                    return Err(ModelError::Data(format!(
                        "{n} training rows are too few for an early-stopping slice of {fraction} with a gap of {}",
                        opts.early_stopping_gap
                    )));
                }
                let fit_rows: Vec<usize> = (0..fit_end).collect();
                let valid_rows: Vec<usize> = (valid_start..n).collect();
                let (fx, vx) = (
                    current.select_rows(&fit_rows),
                    current.select_rows(&valid_rows),
                );
                self.model.fit(
                    &fx,
                    &y[..fit_end],
                    Some((&vx, &y[valid_start..])),
                    opts.task,
                    opts.seed,
                    &names,
                    opts.observer,
                )?
            }
            None => self.model.fit(
                &current,
                y,
                None,
                opts.task,
                opts.seed,
                &names,
                opts.observer,
            )?,
        };
        Ok(FittedPipeline {
            input_features: opts.feature_names.to_vec(),
            steps,
            model_features: names,
            task: opts.task,
            model: fitted,
        })
    }
}

impl FittedPipeline {
    /// Applies the steps and the model to raw input columns (in `input_features` order).
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f64>, ModelError> {
        if x.n_cols() != self.input_features.len() {
            return Err(ModelError::Data(format!(
                "the pipeline expects {} input features, got {}",
                self.input_features.len(),
                x.n_cols()
            )));
        }
        let mut current = x.clone();
        for step in &self.steps {
            current = step.transform(&current)?;
        }
        self.model.predict(&current, self.task)
    }

    /// Importance of each model input (after selection), named.
    pub fn importances(&self) -> Result<Vec<(String, f64)>, ModelError> {
        Ok(self
            .model_features
            .iter()
            .cloned()
            .zip(self.model.importances()?)
            .collect())
    }

    /// Saves to `dir`: `pipeline.json` and, for LightGBM, `model.txt`.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let io = |path: &Path, e: std::io::Error| ModelError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        if let FittedModel::Lightgbm(m) = &self.model {
            let path = dir.join("model.txt");
            std::fs::write(&path, m.text()).map_err(|e| io(&path, e))?;
        }
        let saved = SavedPipeline {
            format: FORMAT.into(),
            version: VERSION,
            pipeline: self.clone(),
        };
        let path = dir.join("pipeline.json");
        let text = serde_json::to_string_pretty(&saved).map_err(|e| ModelError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|e| io(&path, e))
    }

    /// Loads a pipeline saved by [`save`](Self::save).
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("pipeline.json");
        let bad = |message: String| ModelError::Io {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let saved: SavedPipeline =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a hone pipeline: {e}")))?;
        if saved.format != FORMAT {
            return Err(bad(format!(
                "not a hone pipeline (format {:?})",
                saved.format
            )));
        }
        if saved.version > VERSION {
            return Err(bad(format!(
                "written by a newer hone (pipeline format {}; this hone reads up to {VERSION})",
                saved.version
            )));
        }
        let mut pipeline = saved.pipeline;
        if let FittedModel::Lightgbm(m) = &mut pipeline.model {
            let model_path = dir.join("model.txt");
            let text = std::fs::read_to_string(&model_path).map_err(|e| ModelError::Io {
                path: model_path.clone(),
                message: e.to_string(),
            })?;
            m.attach_text(text)?;
        }
        Ok(pipeline)
    }
}
