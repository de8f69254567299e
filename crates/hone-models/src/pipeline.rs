//! Pipelines: preprocessing steps and any model ([`crate::Estimator`]), fitted together on
//! training rows and saved as one directory (`pipeline.json`, plus the model's own files, e.g.
//! LightGBM's `model.txt`).
//!
//! `pipeline.json` records the size and SHA-256 of every model file, and loading checks them
//! before the model's parser sees the file (LightGBM's crashes on truncated text instead of
//! failing). LightGBM's text is also checked structurally ([`crate::lgbm_text::validate`]), so
//! directories saved before the checksums existed load when intact and fail cleanly when not,
//! and the pipeline's own dimensions are checked against each other so that predicting never
//! indexes out of range.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hone_validate::Task;
use serde::{Deserialize, Serialize};

use crate::estimator::{ArtifactSink, ArtifactSource, SequenceView, TrainingRows, TrainingSet};
use crate::gbm::CacheBudget;
use crate::model::{FittedModel, ModelSpec};
use crate::observer::{TrainObserver, Unobserved};
use crate::preprocess::{FitContext, Step, Transformer};
use crate::{Matrix, ModelError};

/// The unfitted pipeline: steps in order, then the model.
#[derive(Debug, Clone, PartialEq)]
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
    /// Told of each training step (boosting round, epoch); may stop the fit.
    pub observer: &'a mut dyn TrainObserver,
    /// Each training row's position in the whole series (increasing), when the rows are not
    /// one consecutive run: a windowed model's windows never reach back across a jump (a
    /// test block left out). `None`: the rows are consecutive.
    pub positions: Option<&'a [usize]>,
}

/// A fitted pipeline: apply it to raw feature columns to get predictions.
#[derive(Debug, Clone, Serialize)]
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

/// Size and SHA-256 of a file saved beside `pipeline.json`, checked before the file is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

impl FileDigest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            bytes: data.len() as u64,
            sha256: Sha256::digest(data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct SavedPipeline<'a> {
    format: &'static str,
    version: u32,
    /// Digests of the files beside `pipeline.json`, by name. Directories saved before hone
    /// recorded them have none (still version 1: older hone ignores the field and reads on).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    files: BTreeMap<String, FileDigest>,
    pipeline: &'a FittedPipeline,
}

/// `pipeline.json` as read: the model's metadata stays JSON until its family decodes it.
#[derive(Deserialize)]
struct LoadedPipeline {
    format: String,
    version: u32,
    #[serde(default)]
    files: BTreeMap<String, FileDigest>,
    pipeline: RawPipeline,
}

#[derive(Deserialize)]
struct RawPipeline {
    input_features: Vec<String>,
    steps: Vec<Step>,
    model_features: Vec<String>,
    task: Task,
    model: serde_json::Value,
}

/// Why a saved pipeline did not load: its JSON (said in words) or its model's files.
enum LoadError {
    Decode(String),
    Model(ModelError),
}
use LoadError::{Decode, Model};

/// A pipeline directory as an [`ArtifactSink`].
struct DirSink<'a> {
    dir: &'a Path,
}

impl ArtifactSink for DirSink<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
        let path = self.dir.join(name);
        // An ensemble's members keep their files in folders of their own.
        if let Some(parent) = path.parent().filter(|p| *p != self.dir) {
            std::fs::create_dir_all(parent).map_err(|e| ModelError::Io {
                path: parent.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        std::fs::write(&path, bytes).map_err(|e| ModelError::Io {
            path: path.clone(),
            message: e.to_string(),
        })
    }
}

/// Passes files on to a sink and records each one's digest, for `pipeline.json`.
struct Digesting<'a> {
    inner: &'a mut dyn ArtifactSink,
    files: BTreeMap<String, FileDigest>,
}

impl ArtifactSink for Digesting<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
        self.inner.put(name, bytes)?;
        self.files.insert(name.to_string(), FileDigest::of(bytes));
        Ok(())
    }
}

/// A pipeline directory as an [`ArtifactSource`]: each file checked against its recorded
/// digest (when recorded) before the model reads it.
struct DirSource<'a> {
    dir: &'a Path,
    files: &'a BTreeMap<String, FileDigest>,
}

impl DirSource<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl ArtifactSource for DirSource<'_> {
    fn get(&self, name: &str) -> Result<Vec<u8>, ModelError> {
        let bytes = std::fs::read(self.path(name)).map_err(|e| self.error(name, e.to_string()))?;
        if let Some(want) = self.files.get(name) {
            let found = FileDigest::of(&bytes);
            if &found != want {
                return Err(self.error(
                    name,
                    format!(
                        "checksum mismatch (expected {} bytes with SHA-256 {}, found {} bytes \
                         with SHA-256 {}): the file was modified or truncated",
                        want.bytes, want.sha256, found.bytes, found.sha256
                    ),
                ));
            }
        }
        Ok(bytes)
    }

    fn error(&self, name: &str, message: String) -> ModelError {
        ModelError::Io {
            path: self.path(name),
            message,
        }
    }
}

impl PipelineSpec {
    /// Fits the steps on `(x, y)` in order: the fitted steps, `x` transformed by them and the
    /// names of the columns left.
    /// An owned `x` is dropped as soon as the first step has transformed it (a borrowed one is
    /// copied only when there is no step), so a fit holds one copy of the rows, not two.
    fn fit_steps(
        &self,
        x: Cow<'_, Matrix>,
        y: &[f64],
        task: Task,
        seed: u64,
        feature_names: &[String],
    ) -> Result<(Vec<Step>, Matrix, Vec<String>), ModelError> {
        let classification = task != Task::Regression;
        let mut current = x;
        let mut names: Vec<String> = feature_names.to_vec();
        let mut steps = Vec::with_capacity(self.steps.len());
        let model = &self.model;
        let rfe_importances = |m: &Matrix, t: &[f64]| -> Result<Vec<f64>, ModelError> {
            let data = TrainingSet {
                label_gap: 0,
                x: m,
                y: t,
                valid: None,
                task,
                seed,
                feature_names: &[],
                sequence: None,
            };
            model.fit(&data, &mut Unobserved)?.rfe_importances()
        };
        for spec in &self.steps {
            let mut step = spec.clone();
            let ctx = FitContext {
                classification,
                importances: Some(&rfe_importances),
            };
            step.fit(&current, y, &ctx)?;
            current = Cow::Owned(step.transform(&current)?);
            let kept = step.kept_columns(names.len());
            names = kept.iter().map(|&j| names[j].clone()).collect();
            steps.push(step);
        }
        Ok((steps, current.into_owned(), names))
    }

    /// Fits every step on `(x, y)` (training rows only), then the model. When the model stops
    /// early, its validation slice is the latest `validation_fraction` of these rows, after a
    /// gap of `early_stopping_gap` rows: never a test row.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        opts: FitOptions<'_>,
    ) -> Result<FittedPipeline, ModelError> {
        self.fit_in_sample(x, y, opts, false).map(|(p, _)| p)
    }

    /// [`PipelineSpec::fit`], and with `in_sample` the fitted pipeline's predictions for its
    /// own training rows `x` (what [`FittedPipeline::predict`] gives for them), taken from
    /// LightGBM's training scores where they are exact and predicted otherwise.
    pub fn fit_in_sample(
        &self,
        x: &Matrix,
        y: &[f64],
        opts: FitOptions<'_>,
        in_sample: bool,
    ) -> Result<(FittedPipeline, Option<Vec<f64>>), ModelError> {
        self.fit_rows(Cow::Borrowed(x), y, opts, in_sample)
    }

    /// [`PipelineSpec::fit_in_sample`] on rows the caller hands over: they are freed once the
    /// first preprocessing step has transformed them, which lowers a fit's peak memory by one
    /// copy of the training rows.
    pub fn fit_in_sample_owned(
        &self,
        x: Matrix,
        y: &[f64],
        opts: FitOptions<'_>,
        in_sample: bool,
    ) -> Result<(FittedPipeline, Option<Vec<f64>>), ModelError> {
        self.fit_rows(Cow::Owned(x), y, opts, in_sample)
    }

    fn fit_rows(
        &self,
        x: Cow<'_, Matrix>,
        y: &[f64],
        opts: FitOptions<'_>,
        in_sample: bool,
    ) -> Result<(FittedPipeline, Option<Vec<f64>>), ModelError> {
        if x.n_rows() != y.len() {
            return Err(ModelError::Data(format!(
                "{} rows of features but {} targets",
                x.n_rows(),
                y.len()
            )));
        }
        self.model.check_task(opts.task)?;
        let (steps, current, names) =
            self.fit_steps(x, y, opts.task, opts.seed, opts.feature_names)?;
        let n_outputs = opts.task.n_outputs();
        let estimator = self.model.estimator();
        let windowed = estimator.window_len() > 1;
        // Where consecutive runs of training rows start: windows never cross one.
        let starts: Vec<usize> = match opts.positions {
            Some(p) if windowed => (1..p.len()).filter(|&i| p[i] != p[i - 1] + 1).collect(),
            _ => Vec::new(),
        };
        let no_rows = Matrix::from_col_major(0, current.n_cols(), Vec::new());
        let (fitted, scores) = match self.model.early_stopping_fraction() {
            Some(fraction) => {
                let n = current.n_rows();
                let (fit_end, valid_start) =
                    early_stopping_split(n, fraction, opts.early_stopping_gap)?;
                // A windowed model reads every row through the sequence view (the slice's
                // windows may read the fitting rows before it: they are past rows), so the
                // two parts are not copied out for it.
                let (fx, vx) = if windowed {
                    (no_rows.clone(), no_rows)
                } else {
                    fit_and_valid_rows(&current, fit_end, valid_start)
                };
                let fit_rows: Vec<usize> = (0..fit_end).collect();
                let valid_rows: Vec<usize> = (valid_start..n).collect();
                let fit = estimator.fit(
                    &TrainingSet {
                        label_gap: opts.early_stopping_gap,
                        x: &fx,
                        y: &y[..fit_end],
                        valid: Some((&vx, &y[valid_start..])),
                        task: opts.task,
                        seed: opts.seed,
                        feature_names: &names,
                        sequence: windowed.then_some(SequenceView {
                            block: &current,
                            rows: &fit_rows,
                            valid_rows: &valid_rows,
                            starts: &starts,
                        }),
                    },
                    opts.observer,
                    in_sample,
                )?;
                let model = FittedModel::new(fit.model);
                // The rows between the two parts (the gap) are not in either: predict them.
                let scores = match fit.in_sample {
                    Some((fit, valid)) => {
                        let gap_rows: Vec<usize> = (fit_end..valid_start).collect();
                        let gap = model.predict(&current.select_rows(&gap_rows), opts.task)?;
                        let mut all = fit;
                        all.extend(gap);
                        all.extend(valid);
                        Some(all)
                    }
                    None => None,
                };
                (model, scores)
            }
            None => {
                let all_rows: Vec<usize> = (0..current.n_rows()).collect();
                let fit = estimator.fit(
                    &TrainingSet {
                        label_gap: opts.early_stopping_gap,
                        x: if windowed { &no_rows } else { &current },
                        y,
                        valid: None,
                        task: opts.task,
                        seed: opts.seed,
                        feature_names: &names,
                        sequence: windowed.then_some(SequenceView {
                            block: &current,
                            rows: &all_rows,
                            valid_rows: &[],
                            starts: &starts,
                        }),
                    },
                    opts.observer,
                    in_sample,
                )?;
                (
                    FittedModel::new(fit.model),
                    fit.in_sample.map(|(fit, _)| fit),
                )
            }
        };
        let predicted = match (in_sample, scores) {
            (false, _) => None,
            (true, Some(s)) if s.len() == current.n_rows() * n_outputs => Some(s),
            (true, _) => Some(fitted.predict(&current, opts.task)?),
        };
        Ok((
            FittedPipeline {
                input_features: opts.feature_names.to_vec(),
                steps,
                model_features: names,
                task: opts.task,
                model: fitted,
            },
            predicted,
        ))
    }
}

/// Where a training set of `n` rows splits for early stopping: rows `..fit_end` fit, rows
/// `valid_start..` (the latest `fraction`, after `gap` rows) are the validation slice.
fn early_stopping_split(n: usize, fraction: f64, gap: usize) -> Result<(usize, usize), ModelError> {
    let n_valid = ((n as f64) * fraction).ceil() as usize;
    let valid_start = n.saturating_sub(n_valid);
    let fit_end = valid_start.saturating_sub(gap);
    if fit_end < 2 || n_valid == 0 {
        return Err(ModelError::Data(format!(
            "{n} training rows are too few for an early-stopping slice of {fraction} with a gap of {gap}"
        )));
    }
    Ok((fit_end, valid_start))
}

/// `x`'s rows `..fit_end` and `valid_start..`: the fitting rows and the early-stopping slice.
fn fit_and_valid_rows(x: &Matrix, fit_end: usize, valid_start: usize) -> (Matrix, Matrix) {
    let fit: Vec<usize> = (0..fit_end).collect();
    let valid: Vec<usize> = (valid_start..x.n_rows()).collect();
    (x.select_rows(&fit), x.select_rows(&valid))
}

/// One CV fold made ready for many fits that differ only in the model's parameters (the
/// trials of a study): the preprocessing steps fitted once on the fold's training rows, the
/// test rows transformed by them, and the model's reusable training-set state
/// ([`crate::estimator::ReusesTrainingSet`]: LightGBM's binned datasets), built on first use. A fit through it gives exactly the model and test predictions that
/// [`PipelineSpec::fit`] and [`FittedPipeline::predict`] give on the same rows.
pub struct PreparedFold {
    steps_spec: Vec<Step>,
    steps: Vec<Step>,
    input_features: Vec<String>,
    names: Vec<String>,
    task: Task,
    train_rows: Vec<usize>,
    /// The test rows after the steps, row-major (LightGBM predicts row by row).
    x_test: Vec<f64>,
    test_rows: usize,
    early_stopping_gap: usize,
    /// The model's cache for this training set ([`crate::estimator::ReusesTrainingSet`]).
    cache: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for PreparedFold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedFold")
            .field("train_rows", &self.train_rows.len())
            .field("test_rows", &self.test_rows)
            .finish_non_exhaustive()
    }
}

impl PipelineSpec {
    /// True when fits of this pipeline can share a [`PreparedFold`]: a model that reuses its
    /// training-set state ([`crate::estimator::Estimator::reuse`]) behind steps that do not
    /// depend on the model (recursive feature elimination refits the model, so its selection
    /// changes with the model's parameters).
    pub fn shares_folds(&self) -> bool {
        self.model.estimator().reuse().is_some()
            && !self.steps.iter().any(|s| {
                matches!(
                    s,
                    Step::Select(sel) if matches!(sel.method, crate::preprocess::SelectMethod::Rfe { .. })
                )
            })
    }

    /// Fits the steps on the fold's training rows of `columns` (raw input columns) and
    /// transforms its test rows; `None` when the transformed test rows do not fit `budget`.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare_fold(
        &self,
        columns: &[Vec<f64>],
        target: &[f64],
        train: &[usize],
        test: &[usize],
        task: Task,
        seed: u64,
        feature_names: &[String],
        early_stopping_gap: usize,
        budget: &CacheBudget,
    ) -> Result<Option<PreparedFold>, ModelError> {
        self.model.check_task(task)?;
        let Some(reuse) = self.model.estimator().reuse() else {
            return Ok(None);
        };
        let x = Matrix::gather(columns, train);
        let y: Vec<f64> = train.iter().map(|&i| target[i]).collect();
        let (steps, _, names) = self.fit_steps(Cow::Owned(x), &y, task, seed, feature_names)?;
        let mut x_test = Matrix::gather(columns, test);
        for step in &steps {
            x_test = step.transform(&x_test)?;
        }
        if !budget.take(x_test.n_rows() * x_test.n_cols() * 8) {
            return Ok(None);
        }
        let test_rows = x_test.n_rows();
        let x_test = x_test.to_row_major();
        Ok(Some(PreparedFold {
            steps_spec: self.steps.clone(),
            steps,
            input_features: feature_names.to_vec(),
            names,
            task,
            train_rows: train.to_vec(),
            x_test,
            test_rows,
            early_stopping_gap,
            cache: reuse.new_cache(),
        }))
    }

    /// Fits this pipeline's model on a prepared fold and predicts the fold's test rows: the
    /// fitted pipeline and the test output ([`FittedPipeline::predict`]'s values). The steps
    /// must be the ones the fold was prepared with.
    pub fn fit_prepared(
        &self,
        fold: &PreparedFold,
        columns: &[Vec<f64>],
        target: &[f64],
        seed: u64,
        budget: &CacheBudget,
        observer: &mut dyn TrainObserver,
    ) -> Result<(FittedPipeline, Vec<f64>), ModelError> {
        let Some(reuse) = self.model.estimator().reuse() else {
            return Err(ModelError::Config(format!(
                "a {} model does not fit on prepared folds",
                self.model.name()
            )));
        };
        if self.steps != fold.steps_spec {
            return Err(ModelError::Config(
                "the fold was prepared for other preprocessing steps".into(),
            ));
        }
        let task = fold.task;
        let source = || -> Result<TrainingRows, ModelError> {
            let mut x = Matrix::gather(columns, &fold.train_rows);
            for step in &fold.steps {
                x = step.transform(&x)?;
            }
            let y: Vec<f64> = fold.train_rows.iter().map(|&i| target[i]).collect();
            match self.model.early_stopping_fraction() {
                Some(fraction) => {
                    let n = x.n_rows();
                    let (fit_end, valid_start) =
                        early_stopping_split(n, fraction, fold.early_stopping_gap)?;
                    let (fx, vx) = fit_and_valid_rows(&x, fit_end, valid_start);
                    Ok((
                        fx,
                        y[..fit_end].to_vec(),
                        Some((vx, y[valid_start..].to_vec())),
                        fold.names.clone(),
                    ))
                }
                None => Ok((x, y, None, fold.names.clone())),
            }
        };
        // The early-stopping slice decides which rows are binned: part of the key.
        let layout = format!("{:?}", self.model.early_stopping_fraction());
        let model = reuse.fit_reusing(
            fold.cache.as_ref(),
            &source,
            &layout,
            task,
            seed,
            budget,
            observer,
        )?;
        let output =
            model.predict_row_major(&fold.x_test, fold.test_rows, fold.names.len(), task)?;
        Ok((
            FittedPipeline {
                input_features: fold.input_features.clone(),
                steps: fold.steps.clone(),
                model_features: fold.names.clone(),
                task,
                model: FittedModel::new(model),
            },
            output,
        ))
    }
}

impl FittedPipeline {
    /// Rows before the first scored row that a prediction reads ([`Fitted::context_rows`]):
    /// to score rows `a..b` of a series, pass rows `a − context_rows()..b` and keep the last
    /// `b − a` predictions.
    ///
    /// [`Fitted::context_rows`]: crate::estimator::Fitted::context_rows
    pub fn context_rows(&self) -> usize {
        self.model.context_rows()
    }

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

    /// Saves to `dir`: the model's own files (e.g. LightGBM's `model.txt`, written first, their
    /// sizes and SHA-256 recorded), then `pipeline.json`.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Io {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        self.save_to(&mut DirSink { dir })
    }

    /// Writes what [`save`](Self::save) writes to any sink (memory, an artifact store): the
    /// model's own files, then `pipeline.json` with their digests.
    pub fn save_to(&self, sink: &mut dyn ArtifactSink) -> Result<(), ModelError> {
        let mut digesting = Digesting {
            inner: sink,
            files: BTreeMap::new(),
        };
        self.model.save_files(&mut digesting)?;
        let saved = SavedPipeline {
            format: FORMAT,
            version: VERSION,
            files: digesting.files,
            pipeline: self,
        };
        let text = serde_json::to_string_pretty(&saved).map_err(|e| ModelError::Io {
            path: PathBuf::from("pipeline.json"),
            message: e.to_string(),
        })?;
        sink.put("pipeline.json", text.as_bytes())
    }

    /// Loads a pipeline saved by [`save`](Self::save). Whatever the directory holds, this
    /// returns a pipeline that predicts without panicking, or an error naming the file:
    /// `pipeline.json` is checked for consistent dimensions, each model file against its
    /// recorded size and SHA-256 (when recorded) and by the model's own checks, before the
    /// model's parser reads it.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("pipeline.json");
        let bad = |message: String| ModelError::Io {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let saved: LoadedPipeline =
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
        let source = DirSource {
            dir,
            files: &saved.files,
        };
        Self::from_raw(saved.pipeline, &source).map_err(|e| match e {
            Decode(m) => bad(m),
            Model(e) => e,
        })
    }

    /// A pipeline from its saved JSON (what [`FittedPipeline`] serialises to) and its model's
    /// files: how an ensemble reads its members back.
    pub fn from_saved(
        value: serde_json::Value,
        files: &dyn ArtifactSource,
    ) -> Result<Self, ModelError> {
        let raw: RawPipeline = serde_json::from_value(value)
            .map_err(|e| ModelError::Data(format!("not a hone pipeline: {e}")))?;
        Self::from_raw(raw, files).map_err(|e| match e {
            Decode(m) => ModelError::Data(m),
            Model(e) => e,
        })
    }

    fn from_raw(raw: RawPipeline, files: &dyn ArtifactSource) -> Result<Self, LoadError> {
        let model = crate::families::decode(raw.model)
            .map_err(|e| Decode(format!("not a hone pipeline: model: {e}")))?;
        let mut pipeline = FittedPipeline {
            input_features: raw.input_features,
            steps: raw.steps,
            model_features: raw.model_features,
            task: raw.task,
            model: FittedModel::new(model),
        };
        pipeline.check_dimensions().map_err(Decode)?;
        let task = pipeline.task;
        pipeline.model.load_files(files, task).map_err(Model)?;
        Ok(pipeline)
    }

    /// Checks that every step, the feature names and the model agree on the number of columns
    /// they take and give, and that the model gives the task's outputs: a hand-edited or
    /// corrupted `pipeline.json` must fail here, not index out of range while predicting.
    fn check_dimensions(&self) -> Result<(), String> {
        if let Task::Multiclass { n_classes } = self.task
            && n_classes < 2
        {
            return Err(format!(
                "a multiclass task needs at least 2 classes, got {n_classes}"
            ));
        }
        let mut width = self.input_features.len();
        for (k, step) in self.steps.iter().enumerate() {
            width = step
                .output_width(width)
                .map_err(|m| format!("step {}: {m}", k + 1))?;
        }
        if self.model_features.len() != width {
            return Err(format!(
                "{} model features, but the steps give {width} columns",
                self.model_features.len()
            ));
        }
        self.model.check_shape(width, self.task.n_outputs())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::lightgbm::MODEL_FILE;
    use proptest::prelude::*;
    use serde_json::json;

    /// A pipeline with every kind of step and a LightGBM model, saved; and its probe input.
    fn saved() -> &'static (tempfile::TempDir, Matrix, Vec<f64>) {
        static SAVED: std::sync::OnceLock<(tempfile::TempDir, Matrix, Vec<f64>)> =
            std::sync::OnceLock::new();
        SAVED.get_or_init(|| {
            let (n, p) = (150, 4);
            let mut rows: Vec<f64> = (0..n * p)
                .map(|i| ((i * 53 % 97) as f64 * 0.21).sin())
                .collect();
            rows[7] = f64::NAN;
            let x = Matrix::from_row_major(n, p, &rows);
            let y: Vec<f64> = (0..n)
                .map(|i| f64::from(u8::from(x.get(i, 0) + x.get(i, 2) > 0.0)))
                .collect();
            let steps: Vec<Step> = serde_json::from_value(json!([
                {"step": "impute", "strategy": "median", "fill_value": 0.0},
                {"step": "scale", "kind": "standard"},
                {"step": "select", "method": {"method": "selectkbest", "k": 3}},
            ]))
            .unwrap();
            let model = ModelSpec::from_value(&json!({"type": "lightgbm", "params": {
                "num_iterations": 10, "num_leaves": 5, "min_data_in_leaf": 5, "num_threads": 1}}))
            .unwrap();
            let names: Vec<String> = (0..p).map(|j| format!("f{j}")).collect();
            let fitted = PipelineSpec { steps, model }
                .fit(
                    &x,
                    &y,
                    FitOptions {
                        task: Task::Binary,
                        seed: 1,
                        feature_names: &names,
                        early_stopping_gap: 0,
                        observer: &mut Unobserved,
                        positions: None,
                    },
                )
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            fitted.save(dir.path()).unwrap();
            let probe = x.select_rows(&(0..20).collect::<Vec<_>>());
            let want = fitted.predict(&probe).unwrap();
            (dir, probe, want)
        })
    }

    /// A copy of the saved pipeline directory with `edit` applied to its files' bytes.
    fn edited(edit: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>)) -> tempfile::TempDir {
        let (dir, _, _) = saved();
        let mut json = std::fs::read(dir.path().join("pipeline.json")).unwrap();
        let mut model = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
        edit(&mut json, &mut model);
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(copy.path().join("pipeline.json"), json).unwrap();
        std::fs::write(copy.path().join(MODEL_FILE), model).unwrap();
        copy
    }

    fn load_error(dir: &tempfile::TempDir) -> String {
        let e = FittedPipeline::load(dir.path()).unwrap_err().to_string();
        assert_eq!(e.lines().count(), 1, "{e}");
        e
    }

    /// Drops the recorded checksums, as in a directory saved before they existed.
    fn without_files(json: &mut Vec<u8>) {
        let mut v: serde_json::Value = serde_json::from_slice(json).unwrap();
        v.as_object_mut().unwrap().remove("files");
        *json = serde_json::to_vec(&v).unwrap();
    }

    #[test]
    fn saved_pipelines_round_trip_with_a_checksum() {
        let (dir, probe, want) = saved();
        let text = std::fs::read_to_string(dir.path().join("pipeline.json")).unwrap();
        let model = std::fs::read(dir.path().join(MODEL_FILE)).unwrap();
        let digest = FileDigest::of(&model);
        assert!(text.contains(&digest.sha256), "{text}");
        assert_eq!(digest.sha256.len(), 64);
        let loaded = FittedPipeline::load(dir.path()).unwrap();
        assert_eq!(&loaded.predict(probe).unwrap(), want);
        // Without checksums (older directories) an intact model still loads.
        let old = edited(|json, _| without_files(json));
        let loaded = FittedPipeline::load(old.path()).unwrap();
        assert_eq!(&loaded.predict(probe).unwrap(), want);
    }

    #[test]
    fn damaged_model_files_are_refused_naming_the_file() {
        let n = std::fs::read(saved().0.path().join(MODEL_FILE))
            .unwrap()
            .len();
        for cut in [0, 50, 1200, n / 2, n - 1] {
            let e = load_error(&edited(|_, m| m.truncate(cut)));
            assert!(e.contains("model.txt: checksum mismatch (expected "), "{e}");
            assert!(e.contains("the file was modified or truncated"), "{e}");
            let e = load_error(&edited(|j, m| {
                without_files(j);
                m.truncate(cut)
            }));
            assert!(
                e.contains("model.txt: not a valid LightGBM model: line "),
                "{e}"
            );
        }
        let e = load_error(&edited(|_, m| m[n / 3] ^= 1));
        assert!(e.contains("model.txt: checksum mismatch"), "{e}");
        let e = load_error(&edited(|j, m| {
            without_files(j);
            m[0] = 0xff;
        }));
        assert!(e.contains("model.txt: not a valid LightGBM model"), "{e}");
    }

    #[test]
    fn inconsistent_pipeline_json_is_refused_naming_the_file() {
        let (dir, _, _) = saved();
        let text = std::fs::read_to_string(dir.path().join("pipeline.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let edits: Vec<(&str, serde_json::Value)> = vec![
            ("/pipeline/steps/0/statistics", json!([1.0])),
            ("/pipeline/steps/1/offset", json!([0.0, 1.0])),
            ("/pipeline/steps/2/support", json!([0, 1, 9])),
            ("/pipeline/model_features", json!(["a"])),
            ("/pipeline/model/n_features", json!(7)),
            (
                "/pipeline/model/params/num_threads",
                json!("1 num_leaves=9"),
            ),
            ("/pipeline/task", json!({"multiclass": {"n_classes": 3}})),
        ];
        for (pointer, value) in edits {
            let mut bad = v.clone();
            *bad.pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{pointer}")) = value;
            let e = load_error(&edited(|j, _| *j = serde_json::to_vec(&bad).unwrap()));
            assert!(
                e.contains("pipeline.json: ") || e.contains("model.txt: "),
                "{pointer}: {e}"
            );
        }
        let e = load_error(&edited(|j, _| j.truncate(j.len() / 2)));
        assert!(e.contains("pipeline.json: not a hone pipeline: "), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any edit of `pipeline.json` (and of `model.txt`, checksums dropped) loads into a
        /// pipeline that predicts, or fails with one line naming one of the two files.
        #[test]
        fn edited_pipeline_directories_load_safely_or_fail_cleanly(
            in_model in any::<bool>(),
            edits in prop::collection::vec(
                (any::<prop::sample::Index>(), prop_oneof![
                    prop::sample::select(b"0123456789-.,:\"[]{} \n".to_vec()),
                    any::<u8>(),
                ]),
                1..4,
            ),
        ) {
            let dir = edited(|json, model| {
                let target = if in_model {
                    without_files(json);
                    model
                } else {
                    json
                };
                for (at, b) in edits {
                    let i = at.index(target.len());
                    target[i] = b;
                }
            });
            match FittedPipeline::load(dir.path()) {
                Ok(p) => {
                    let _ = p.predict(&saved().1);
                    let _ = p.importances();
                }
                Err(e) => {
                    let e = e.to_string();
                    prop_assert_eq!(e.lines().count(), 1);
                    prop_assert!(e.contains("pipeline.json: ") || e.contains("model.txt: "), "{}", e);
                }
            }
        }
    }
}
