//! The model seam: an [`Estimator`] (a configured, unfitted model) fits a [`TrainingSet`] into
//! a [`Fitted`] model, which predicts, reports and saves itself through an [`ArtifactSink`].
//!
//! The pipeline, the trainer, the tuner and the trackers see models only through these traits;
//! each family lives in one file under [`crate::families`] and is registered there by name
//! ([`crate::families::FAMILIES`]). Nothing outside a family's file names the family.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use hone_validate::Task;
use serde_json::Value;

use crate::gbm::CacheBudget;
use crate::model::{Complexity, FitReport};
use crate::observer::TrainObserver;
use crate::{Matrix, ModelError};

/// Rows in time order as one contiguous block, for models that read a window of past rows
/// (recurrent and convolutional nets): row `i` of the training set is `rows[i]` of the block.
#[derive(Debug, Clone, Copy)]
pub struct SequenceView<'a> {
    /// Every row of the block (training rows and the rows before them that windows may reach
    /// back into, never a test row), column-major like [`Matrix`].
    pub block: &'a Matrix,
    /// The position in `block` of each fitting row, increasing.
    pub rows: &'a [usize],
    /// The position in `block` of each early-stopping row, increasing (empty without one).
    pub valid_rows: &'a [usize],
    /// Positions where a segment of consecutive rows starts (after rows a split left out,
    /// such as a test block): a window never reaches back across one.
    pub starts: &'a [usize],
}

/// What a model is fitted on: the fitting rows, an optional early-stopping slice (the latest
/// training rows, after a gap: never a test row), and how to read them.
#[derive(Debug, Clone, Copy)]
pub struct TrainingSet<'a> {
    /// The fitting rows' features (after the pipeline's steps).
    pub x: &'a Matrix,
    /// Their targets: class codes `0..k` or values.
    pub y: &'a [f64],
    /// The early-stopping slice, features and targets.
    pub valid: Option<(&'a Matrix, &'a [f64])>,
    /// What is predicted.
    pub task: Task,
    /// Seed of every random component of the fit.
    pub seed: u64,
    /// Rows whose labels reach into the next row's future (the label horizon): a model that
    /// scores some of its own training rows with a part fitted on earlier ones (an ensemble's
    /// inner split) leaves this many rows out between the two.
    pub label_gap: usize,
    /// Names of `x`'s columns.
    pub feature_names: &'a [String],
    /// The same rows as a time-ordered sequence, for models that read windows
    /// ([`Estimator::window_len`] > 1). When given to such a model, `x` and the slice's
    /// matrix may be empty: the model reads every row through the view.
    pub sequence: Option<SequenceView<'a>>,
}

/// A fitted model and, when asked for and known from training, its in-sample predictions of
/// the fitting rows and of the early-stopping slice (each as [`Fitted::predict`] would give them).
pub struct Fit {
    /// The fitted model.
    pub model: Box<dyn Fitted>,
    /// `(fitting rows, early-stopping slice)` predictions; `None`: predict them.
    pub in_sample: Option<(Vec<f64>, Vec<f64>)>,
}

/// A configured model that has not seen data. Implementations are plain data (the `[model]`
/// table parsed), cheap to clone and safe to share between threads.
pub trait Estimator: Debug + Send + Sync {
    /// The model's name as written in `[model] type = ...`.
    fn name(&self) -> &'static str;

    /// The `[model]` table this estimator was parsed from (equal tables mean equal estimators).
    fn config(&self) -> Value;

    /// Refuses a target this model cannot learn, naming the key to change.
    fn check_task(&self, task: Task) -> Result<(), ModelError>;

    /// Refuses a seed this model cannot take, saying why.
    fn check_seed(&self, seed: u64) -> Result<(), String> {
        let _ = seed;
        Ok(())
    }

    /// The share of each training set held out as the early-stopping slice, if this model
    /// stops early on one.
    fn early_stopping_fraction(&self) -> Option<f64> {
        None
    }

    /// Rows each prediction reads: 1 for a model of one row, `seq_len` for one that reads a
    /// window of the rows before it. Above 1, the pipeline fits it through a
    /// [`SequenceView`] and callers give its fitted model context rows.
    fn window_len(&self) -> usize {
        1
    }

    /// The counts its fitted models report in [`crate::Complexity`] (`trees`, `leaves`,
    /// `nonzero_coefficients`, `parameters`), so a search can refuse a cost objective the
    /// model will never have before any trial runs.
    fn complexity_counts(&self) -> &'static [&'static str] {
        &[]
    }

    /// Fits on `data`, reporting each step to `observer`. With `in_sample`, also returns the
    /// in-sample predictions where training gives them exactly for free.
    fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
        in_sample: bool,
    ) -> Result<Fit, ModelError>;

    /// The parameters this model resolves to for `task` (its defaults filled), as text, for
    /// reports; `None` when the model has no such map.
    fn resolved_params(&self, task: Task, seed: u64) -> Option<BTreeMap<String, String>> {
        let _ = (task, seed);
        None
    }

    /// The config key of the model's thread count, under `[model]` (e.g. `params.num_threads`),
    /// when it has one: a search splits the machine's cores between parallel trials through it.
    fn threads_key(&self) -> Option<&'static str> {
        None
    }

    /// This model trained for exactly `steps` steps (boosting rounds, epochs) with no early
    /// stopping: how the final refit reproduces what cross-validation chose. `None` for models
    /// that do not train in steps.
    fn with_fixed_steps(&self, steps: usize) -> Option<Arc<dyn Estimator>> {
        let _ = steps;
        None
    }

    /// The capability of fitting many parameter settings on one training set while reusing
    /// the work that depends only on the data (LightGBM's binned datasets), if this model has it.
    fn reuse(&self) -> Option<&dyn ReusesTrainingSet> {
        None
    }
}

/// The rows a [`ReusesTrainingSet`] model builds its reusable state from, on a cache miss:
/// fitting rows, their targets, the early-stopping slice and the feature names.
pub type TrainingRows = (Matrix, Vec<f64>, Option<(Matrix, Vec<f64>)>, Vec<String>);

/// A model whose fits on one training set share data-only work (binning, bucketing) across
/// parameter settings: the trials of a search on one CV fold build it once. Reusing it must
/// give exactly the model a fit from scratch gives.
pub trait ReusesTrainingSet {
    /// A new, empty cache for one training set.
    fn new_cache(&self) -> Box<dyn Any + Send + Sync>;

    /// Fits on the training set behind `cache` (built from `rows()` on a miss, within
    /// `budget`); `layout` names how `rows` cuts the early-stopping slice (part of the key).
    #[allow(clippy::too_many_arguments)]
    fn fit_reusing(
        &self,
        cache: &(dyn Any + Send + Sync),
        rows: &dyn Fn() -> Result<TrainingRows, ModelError>,
        layout: &str,
        task: Task,
        seed: u64,
        budget: &CacheBudget,
        observer: &mut dyn TrainObserver,
    ) -> Result<Box<dyn Fitted>, ModelError>;
}

/// Where a fitted model writes its files (a pipeline directory, an artifact store).
pub trait ArtifactSink {
    /// Writes the file `name` (relative, `/`-separated).
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError>;
}

/// Where a fitted model reads its files back from.
pub trait ArtifactSource {
    /// The bytes of the file `name`.
    fn get(&self, name: &str) -> Result<Vec<u8>, ModelError>;
    /// An error about the file `name` (it names the file for the user).
    fn error(&self, name: &str, message: String) -> ModelError;
}

/// A fitted model.
pub trait Fitted: Debug + Send + Sync {
    /// The family's saved kind (`"kind"` in `pipeline.json`), which
    /// [`crate::families::decode`] dispatches on.
    fn kind(&self) -> &'static str;

    /// Predictions for `x`'s rows: values (regression), P(class 1) (binary), or class
    /// probabilities row-major.
    fn predict(&self, x: &Matrix, task: Task) -> Result<Vec<f64>, ModelError>;

    /// [`Fitted::predict`] on rows given row-major (`n_rows × n_cols`).
    fn predict_row_major(
        &self,
        rows: &[f64],
        n_rows: usize,
        n_cols: usize,
        task: Task,
    ) -> Result<Vec<f64>, ModelError> {
        self.predict(&Matrix::from_row_major(n_rows, n_cols, rows), task)
    }

    /// Rows before the first row of a block that a prediction reads (`seq_len − 1` for a
    /// windowed model, 0 otherwise): a caller scoring rows `a..b` of a series passes rows
    /// `a − context_rows()..b` and keeps the last `b − a` predictions. Rows of a block are read
    /// as consecutive in time.
    fn context_rows(&self) -> usize {
        0
    }

    /// Importance per model input, as reports show it (total split gain, |coefficient|).
    fn importances(&self) -> Result<Vec<f64>, ModelError>;

    /// What [`importances`](Self::importances) measures, in words for reports and chart titles
    /// (`total split gain`, `|coefficient|`).
    fn importance_kind(&self) -> &'static str {
        "importance"
    }

    /// Importances as scikit-learn's recursive feature elimination reads them.
    fn rfe_importances(&self) -> Result<Vec<f64>, ModelError> {
        self.importances()
    }

    /// How the fit went (steps run and kept, learning curve).
    fn report(&self) -> FitReport;

    /// The model's size in its family's terms (nothing known by default).
    fn complexity(&self) -> Complexity {
        Complexity::default()
    }

    /// The parameters the model was trained with, for reports.
    fn params(&self) -> Option<BTreeMap<String, String>> {
        None
    }

    /// The model's metadata, serialised into `pipeline.json` under `"model"` after its kind.
    fn state(&self) -> &dyn erased_serde::Serialize;

    /// Writes the model's own files (e.g. LightGBM's `model.txt`) to `sink`; their names.
    fn save_files(&self, sink: &mut dyn ArtifactSink) -> Result<Vec<String>, ModelError> {
        let _ = sink;
        Ok(Vec::new())
    }

    /// The file of this model that its own ecosystem loads (LightGBM's `model.txt`, which
    /// Python's `lightgbm.Booster(model_file=...)` reads), copied to the top of a run's outputs.
    fn standard_file(&self) -> Option<&'static str> {
        None
    }

    /// Checks the metadata against the pipeline: `width` inputs and `outputs` outputs per row.
    /// Runs before any file is read, so a garbled `pipeline.json` fails naming that file.
    fn check_shape(&self, width: usize, outputs: usize) -> Result<(), String>;

    /// Reads the model's files back after [`crate::families::decode`] (checked against their
    /// recorded digests by the caller).
    fn load_files(&mut self, files: &dyn ArtifactSource, task: Task) -> Result<(), ModelError> {
        let _ = (files, task);
        Ok(())
    }

    /// A copy.
    fn clone_box(&self) -> Box<dyn Fitted>;

    /// For tests and family-specific tools: the concrete model.
    fn as_any(&self) -> &dyn Any;
}

/// Files kept in memory, in the order written: a model's files for an upload or a copy.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// `(name, bytes)` per file.
    pub files: Vec<(String, Vec<u8>)>,
}

impl MemorySink {
    /// The bytes of the file `name`, if written.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }
}

impl ArtifactSink for MemorySink {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
        self.files.push((name.to_string(), bytes.to_vec()));
        Ok(())
    }
}
