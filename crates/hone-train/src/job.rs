//! `hone train`: cross-validation, holdout scoring and the final refit.
//!
//! Order of operations, which is what keeps test rows away from everything fitted:
//! 1. load the file and build the dataset (features at row t use rows ≤ t only);
//! 2. cut the holdout (the latest rows) and purge `horizon` rows before it;
//! 3. split the remaining development rows into folds; for each fold, fit the whole pipeline
//!    (imputer, scaler, selector, model with its early-stopping slice) on the fold's training
//!    rows only, then predict its test rows;
//! 4. refit on all development rows and score the holdout once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hone_data::dataset::BuildOptions;
use hone_data::{Dataset, table};
use hone_models::gbm::CacheBudget;
use hone_models::observer::{Flow, StepReport, TrainObserver};
use hone_models::pipeline::{FitOptions, FittedPipeline, PipelineSpec, PreparedFold};
use hone_models::{Matrix, ModelSpec};
use hone_validate::metrics::{Metric, Predictions, Task, evaluate};
use hone_validate::split::{Fold, SplitInput, holdout};

use crate::TrainError;
use crate::config::LoadedConfig;
use crate::output;
use crate::report::summarize;
pub use crate::report::{FoldReport, HoldoutReport, RowSpan, Summary, TrainReport};

/// Fewest training rows a fold may have.
pub const MIN_TRAIN_ROWS: usize = 10;

/// Progress of a job, for progress bars and logs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The dataset is ready.
    Loaded {
        /// Rows used.
        rows: usize,
        /// Features.
        features: usize,
        /// Dataset fingerprint.
        fingerprint: &'a str,
        /// What was dropped or changed.
        notes: &'a [String],
    },
    /// A fold starts (fold `n_folds` means the final refit).
    FoldStarted {
        /// 0-based fold, or `n_folds` for the final refit.
        fold: usize,
        /// Number of CV folds.
        n_folds: usize,
        /// Training rows.
        train_rows: usize,
    },
    /// A boosting round or an epoch finished.
    Round {
        /// Round number (1-based).
        round: usize,
        /// Maximum rounds.
        total: usize,
        /// A neural model's epoch measurements (losses, task metric, learning rate, time).
        epoch: Option<hone_models::observer::EpochStats>,
    },
    /// A fold was scored.
    FoldFinished {
        /// 0-based fold.
        fold: usize,
        /// Its metrics.
        metrics: &'a [(Metric, f64)],
    },
    /// A step of the job that trains nothing and counts no rounds (scoring the holdout, the
    /// trading backtest, stress tests and drift after the final refit), so that a progress
    /// display can name it instead of showing the last fold's rounds.
    Phase {
        /// What is being done, in a few words (`holdout`).
        name: &'a str,
    },
}

/// The model's output on some rows, shaped for metrics and CSV.
pub(crate) struct Scored {
    pub(crate) rows: Vec<usize>,
    pub(crate) y_true: Vec<f64>,
    /// Regression values, P(class 1), or row-major class probabilities.
    pub(crate) output: Vec<f64>,
    /// The fitted pipeline's in-sample predictions on its own training rows, and their truth.
    pub(crate) train: (Vec<f64>, Vec<f64>),
    /// A panel's timestamp index of each row (for the cross-sectional metrics).
    pub(crate) times: Option<Vec<i64>>,
}

/// A panel's timestamp index of each of `rows`; `None` for a single series.
pub(crate) fn panel_times(ds: &Dataset, rows: &[usize]) -> Option<Vec<i64>> {
    ds.panel
        .as_ref()
        .map(|p| rows.iter().map(|&i| p.time_index[i] as i64).collect())
}

impl Scored {
    pub(crate) fn predictions(&self, task: Task) -> Predictions<'_> {
        match task {
            Task::Regression => Predictions {
                y_true: &self.y_true,
                y_pred: Some(&self.output),
                proba: None,
                times: self.times.as_deref(),
            },
            _ => Predictions {
                y_true: &self.y_true,
                y_pred: None,
                proba: Some(&self.output),
                times: self.times.as_deref(),
            },
        }
    }
}

pub(crate) fn task_of(ds: &Dataset, kind: &str) -> Task {
    match kind {
        "binary" => Task::Binary,
        "multiclass" => Task::Multiclass {
            n_classes: ds.classes.as_ref().map_or(0, Vec::len),
        },
        _ => Task::Regression,
    }
}

/// Reads a data file: a local CSV or Parquet path, or an `s3://bucket/key` object (fetched
/// into the temporary folder's `hone-data/`, named by its content, and read from there; errors
/// name the URI).
pub fn load_table(
    path: &std::path::Path,
    text_columns: &[&str],
) -> Result<table::Table, TrainError> {
    if !crate::config::is_object_uri(path) {
        return Ok(table::load(path, text_columns)?);
    }
    let uri = path.to_string_lossy();
    let local = hone_track::objects::fetch_to_dir(&uri, &std::env::temp_dir().join("hone-data"))
        .map_err(|e| TrainError::Invalid(format!("cannot read data {uri}: {e}")))?;
    table::load(&local, text_columns)
        .map_err(|e| TrainError::Invalid(e.to_string().replace(&local.display().to_string(), &uri)))
}

/// Loads the config's data file and builds the dataset.
pub fn load_dataset(
    cfg: &LoadedConfig,
    require_increasing_time: bool,
) -> Result<Dataset, TrainError> {
    let spec = &cfg.config.data;
    let table = load_table(&cfg.data_path, &spec.text_columns())?;
    if let Some(expected) = &cfg.expect_fingerprint {
        let found = hone_data::fingerprint::fingerprint(&table);
        if &found != expected {
            return Err(TrainError::Invalid(format!(
                "{}: the data changed since the job was submitted (fingerprint {}, submitted \
                 with {}); submit the job again to train on the new data",
                cfg.data_path.display(),
                &found[..found.len().min(12)],
                &expected[..expected.len().min(12)]
            )));
        }
    }
    Ok(spec.build(
        &table,
        BuildOptions {
            target: Some(&cfg.config.target),
            require_increasing_time,
            allow_missing_features: cfg.config.preprocess.impute.is_some(),
            trading_price: match &spec.asset_column {
                // A panel always carries its assets' next-bar returns when it knows the price
                // (IC decay, returns by quantile, `[portfolio]`).
                Some(_) => cfg
                    .config
                    .portfolio
                    .as_ref()
                    .and_then(|p| p.price.as_deref())
                    .or((cfg.config.target.kind != hone_data::TargetKind::Column)
                        .then_some(cfg.config.target.column.as_str())),
                None => cfg
                    .config
                    .trading
                    .as_ref()
                    .map(|t| t.price.as_deref().unwrap_or(&cfg.config.target.column)),
            },
        },
    )?)
}

/// The folds a config makes, for `hone split CONFIG`: the dataset loaded, the holdout cut
/// (and purged), the development rows split.
#[derive(Debug, Clone)]
pub struct SplitPlan {
    /// The scheme's name.
    pub scheme: String,
    /// The folds over the development rows `0..dev_end`.
    pub folds: Vec<Fold>,
    /// Development rows are `0..dev_end`.
    pub dev_end: usize,
    /// Holdout rows are `holdout_start..n`.
    pub holdout_start: usize,
    /// Rows of the dataset.
    pub n: usize,
    /// Each row's timestamp.
    pub times: Vec<String>,
}

/// The folds `cfg` makes, without fitting anything. Split errors name the config key.
pub fn split_plan(cfg: &LoadedConfig) -> Result<SplitPlan, TrainError> {
    let c = &cfg.config;
    let path = cfg.path.display();
    let horizon = c.target.horizon();
    // Errors name the config key (`split.test_size`), which the user wrote in the file.
    let splitter = c
        .split
        .build(c.seed, horizon)
        .map_err(|e| TrainError::Config(format!("{path}: {e}")))?;
    let ds = load_dataset(cfg, c.data.time_column.is_some())?;
    let n = ds.n_rows();
    let classification = c
        .target
        .task_kind()
        .map_err(|e| TrainError::Config(e.to_string()))?
        != "regression";
    let (folds, dev_end, holdout_start) = make_folds(cfg, splitter.as_ref(), &ds, classification)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    Ok(SplitPlan {
        scheme: splitter.name().to_string(),
        folds,
        dev_end,
        holdout_start,
        n,
        times: ds.times,
    })
}

/// The holdout cut and the folds of the development rows. A single series splits rows; a
/// panel splits its timestamps, so every row of a timestamp falls on the same side: the
/// splitter sees one sample per timestamp, purging reads each timestamp's label end (the
/// furthest any of its assets' labels reaches), embargoes and gaps count timestamps, and the
/// holdout is the latest timestamps, with the development timestamps whose labels reach into
/// it purged.
fn make_folds(
    cfg: &LoadedConfig,
    splitter: &dyn hone_validate::split::Splitter,
    ds: &Dataset,
    classification: bool,
) -> Result<(Vec<Fold>, usize, usize), TrainError> {
    let c = &cfg.config;
    let horizon = c.target.horizon();
    let Some(p) = &ds.panel else {
        let n = ds.n_rows();
        let (dev_end, holdout_start) =
            holdout(n, c.split.holdout(), horizon).map_err(TrainError::Split)?;
        let labels: Option<Vec<u32>> =
            classification.then(|| ds.target[..dev_end].iter().map(|&v| v as u32).collect());
        let folds = splitter
            .split(&SplitInput {
                n_samples: dev_end,
                labels: labels.as_deref(),
                label_end: Some(&ds.label_end[..dev_end]),
            })
            .map_err(TrainError::Split)?;
        return Ok((folds, dev_end, holdout_start));
    };
    if splitter.name() == "stratified_kfold" {
        return Err(TrainError::Config(format!(
            "{}: split.scheme = \"stratified_kfold\" stratifies rows, but a panel is split by \
             timestamp (all assets of a date on one side): use timeseries, purged_kfold, cpcv, \
             walk_forward, monte_carlo or kfold",
            cfg.path.display()
        )));
    }
    let (dev_end, holdout_start) = holdout_cut(cfg, ds)?;
    let dev_t = p.time_index.get(dev_end).copied().unwrap_or(p.n_times());
    let folds = splitter
        .split(&SplitInput {
            n_samples: dev_t,
            labels: None,
            label_end: Some(&p.time_label_end[..dev_t]),
        })
        .map_err(TrainError::Split)?
        .into_iter()
        .map(|f| Fold {
            train: p.rows_of(&f.train),
            test: p.rows_of(&f.test),
        })
        .collect();
    Ok((folds, dev_end, holdout_start))
}

/// The metrics a job reports: the config's, or the task's defaults; a panel adds the
/// cross-sectional ones (`ic`, `rank_ic`, `cs_auc`), which a single series refuses.
pub(crate) fn job_metrics(
    cfg: &LoadedConfig,
    task: Task,
    panel: bool,
) -> Result<Vec<Metric>, TrainError> {
    let mut metrics = if cfg.metrics.is_empty() {
        Metric::job_defaults(task)
    } else {
        cfg.metrics.clone()
    };
    if panel {
        for m in Metric::panel_defaults(task) {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
    } else if let Some(m) = metrics.iter().find(|m| m.needs_panel()) {
        return Err(TrainError::Config(format!(
            "metrics: {m} is cross-sectional: it needs a panel (set data.asset_column)"
        )));
    }
    Ok(metrics)
}

/// The development end and the holdout start (rows) of `cfg` on `ds`, as `hone train` cuts
/// them: rows of a series, timestamps of a panel (with the label purge).
pub(crate) fn holdout_cut(cfg: &LoadedConfig, ds: &Dataset) -> Result<(usize, usize), TrainError> {
    let c = &cfg.config;
    let horizon = c.target.horizon();
    let Some(p) = &ds.panel else {
        return holdout(ds.n_rows(), c.split.holdout(), horizon).map_err(TrainError::Split);
    };
    let nt = p.n_times();
    let (mut dev_t, hold_t) = holdout(nt, c.split.holdout(), horizon).map_err(TrainError::Split)?;
    while hold_t < nt && dev_t > 0 && p.time_label_end[dev_t - 1] >= hold_t {
        dev_t -= 1;
    }
    Ok((p.first_row(dev_t), p.first_row(hold_t)))
}

/// For classification: the most frequent class of the development rows and its share of the
/// out-of-fold and holdout rows, the accuracy of always predicting it.
fn base_rate(
    ds: &Dataset,
    task: Task,
    dev_end: usize,
    oof: &[(usize, Scored)],
    holdout: &Scored,
) -> Option<crate::report::BaseRate> {
    let n_classes = match task {
        Task::Binary => 2,
        Task::Multiclass { n_classes } => n_classes,
        Task::Regression => return None,
    };
    let mut counts = vec![0usize; n_classes];
    for &y in &ds.target[..dev_end] {
        if let Some(c) = counts.get_mut(y as usize) {
            *c += 1;
        }
    }
    let (majority, _) = counts
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
    let share = |ys: &mut dyn Iterator<Item = f64>| {
        let (mut hit, mut n) = (0usize, 0usize);
        for y in ys {
            n += 1;
            hit += usize::from(y as usize == majority);
        }
        (n > 0).then(|| hit as f64 / n as f64)
    };
    Some(crate::report::BaseRate {
        majority_class: ds
            .classes
            .as_ref()
            .and_then(|c| c.get(majority).cloned())
            .unwrap_or_else(|| majority.to_string()),
        cv: share(&mut oof.iter().flat_map(|(_, s)| s.y_true.iter().copied()))?,
        holdout: share(&mut holdout.y_true.iter().copied()),
    })
}

/// Drift of each feature from `reference` (the development rows) to `current` (the holdout,
/// or new data): Evidently's default test per column. `hone train` and `hone evaluate` both
/// call it, so the same rows give the same drift share.
pub(crate) fn feature_drift(
    names: &[String],
    reference: &[&[f64]],
    current: &[&[f64]],
) -> Vec<hone_validate::drift::ColumnDrift> {
    names
        .iter()
        .zip(reference.iter().zip(current))
        .filter_map(|(name, (r, c))| hone_validate::drift::numeric_drift(name, r, c).ok())
        .collect()
}

/// What every fit of one job shares.
pub(crate) struct JobContext<'a> {
    pub(crate) pipeline: &'a PipelineSpec,
    pub(crate) ds: &'a Dataset,
    pub(crate) task: Task,
    pub(crate) cfg: &'a LoadedConfig,
}

/// Rows left out between a model's fitting rows and its early-stopping slice: the label
/// horizon, in rows; for a panel, that many timestamps' worth of rows (the most assets any
/// timestamp has), so no fitting label overlaps the slice's.
pub(crate) fn early_stopping_gap(cfg: &LoadedConfig, ds: &Dataset) -> usize {
    let horizon = cfg.config.target.horizon();
    match &ds.panel {
        Some(p) => {
            let widest = p
                .time_starts
                .windows(2)
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or(1);
            horizon.saturating_mul(widest)
        }
        None => horizon,
    }
}

/// Fits the job's pipeline on `train` (training rows only), predicts `test` and, with
/// `in_sample`, the training rows themselves (for the train–CV gap; empty otherwise: nothing
/// predicts rows nobody reads). `observer` hears each training step and may stop training.
pub(crate) fn fit_and_score(
    job: &JobContext<'_>,
    train: &[usize],
    test: &[usize],
    context: &str,
    in_sample: bool,
    observer: &mut dyn TrainObserver,
) -> Result<(FittedPipeline, Scored), TrainError> {
    let JobContext {
        pipeline,
        ds,
        task,
        cfg,
    } = *job;
    let model_err = |source| TrainError::Model {
        context: context.to_string(),
        source,
    };
    let x_train = Matrix::gather(&ds.features, train);
    let y_train: Vec<f64> = train.iter().map(|&i| ds.target[i]).collect();
    // Handed over: the pipeline frees the raw rows once they are preprocessed.
    let (fitted, in_sample) = pipeline
        .fit_in_sample_owned(
            x_train,
            &y_train,
            FitOptions {
                task,
                seed: cfg.config.seed,
                feature_names: &ds.feature_names,
                early_stopping_gap: early_stopping_gap(cfg, ds),
                observer,
                positions: Some(train),
            },
            in_sample,
        )
        .map_err(model_err)?;
    let output = predict_rows(&fitted, &ds.features, test).map_err(model_err)?;
    let train = match in_sample {
        Some(predicted) => (y_train, predicted),
        None => (Vec::new(), Vec::new()),
    };
    Ok((
        fitted,
        Scored {
            rows: test.to_vec(),
            y_true: test.iter().map(|&i| ds.target[i]).collect(),
            output,
            train,
            times: panel_times(ds, test),
        },
    ))
}

/// Predictions of `fitted` for `rows` (increasing positions) of the series `columns`. A
/// windowed model's window for each run of consecutive rows reads the rows before the run
/// (`context_rows` of them: past rows, whichever part of the split they are in); a model of
/// one row reads only the rows scored.
pub(crate) fn predict_rows(
    fitted: &FittedPipeline,
    columns: &[Vec<f64>],
    rows: &[usize],
) -> Result<Vec<f64>, hone_models::ModelError> {
    let context = fitted.context_rows();
    if context == 0 {
        return fitted.predict(&Matrix::gather(columns, rows));
    }
    let k = fitted.task.n_outputs();
    let mut out = Vec::with_capacity(rows.len() * k);
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() && rows[j] == rows[j - 1] + 1 {
            j += 1;
        }
        let from = rows[i].saturating_sub(context);
        let span: Vec<usize> = (from..=rows[j - 1]).collect();
        let predicted = fitted.predict(&Matrix::gather(columns, &span))?;
        out.extend_from_slice(&predicted[(rows[i] - from) * k..]);
        i = j;
    }
    Ok(out)
}

/// One CV fold's result.
struct FoldOutcome {
    /// The test rows' predictions (and, when asked, the in-sample ones).
    scored: Scored,
    /// The test metrics.
    values: Vec<(Metric, f64)>,
    /// How the fold's model fit.
    fit: hone_models::FitReport,
    /// The features that reached the fold's model.
    selected: Vec<String>,
    /// The fold model's size and cost, when asked for (a search with a cost objective).
    cost: Option<crate::report::ModelCost>,
}

/// A fitted model's size and cost ([`crate::report::ModelCost`]): its saved bytes, its
/// family's counts, the features it uses (those of `importances`, its importances, above 0), how long it took to fit, and the time to predict
/// `rows` in one call, timed here on its own. `fit_and_score_seconds` is the time of the fit
/// that also scored `rows` once; that scoring's share is taken off.
fn model_cost(
    ds: &Dataset,
    fitted: &FittedPipeline,
    importances: &[(String, f64)],
    rows: &[usize],
    fit_and_score_seconds: f64,
) -> Result<crate::report::ModelCost, TrainError> {
    let model_err = |context: &str| {
        let context = context.to_string();
        move |source| TrainError::Model { context, source }
    };
    let mut saved = hone_models::estimator::MemorySink::default();
    fitted
        .save_to(&mut saved)
        .map_err(model_err("the model's size"))?;
    let timed = Instant::now();
    predict_rows(fitted, &ds.features, rows).map_err(model_err("the model's prediction time"))?;
    let predict_seconds = timed.elapsed().as_secs_f64();
    Ok(crate::report::ModelCost {
        model_size_bytes: saved.files.iter().map(|(_, b)| b.len() as u64).sum(),
        shape: fitted.model.complexity(),
        features_used: importances.iter().filter(|(_, v)| *v > 0.0).count(),
        fit_seconds: (fit_and_score_seconds - predict_seconds).max(0.0),
        predict_us_per_row: if rows.is_empty() {
            0.0
        } else {
            predict_seconds * 1e6 / rows.len() as f64
        },
    })
}

/// The fold loop every job runs (`hone train`'s CV, a tuning trial's objective): for each fold,
/// fit on its training rows only (through `caches` when given and the pipeline shares folds),
/// score its test rows, tell `observer`. `None` when the observer stopped it.
#[allow(clippy::too_many_arguments)]
fn run_folds(
    job: &JobContext<'_>,
    folds: &[Fold],
    metrics: &[Metric],
    in_sample: bool,
    measure_cost: bool,
    caches: Option<&FoldCaches>,
    observer: &mut dyn CvObserver,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Option<Vec<FoldOutcome>>, TrainError> {
    let JobContext {
        pipeline,
        ds,
        task,
        cfg,
    } = *job;
    let caches = caches.filter(|_| pipeline.shares_folds() && !in_sample);
    let mut out = Vec::with_capacity(folds.len());
    for (k, fold) in folds.iter().enumerate() {
        on_event(Event::FoldStarted {
            fold: k,
            n_folds: folds.len(),
            train_rows: fold.train.len(),
        });
        let context = format!("fold {}", k + 1);
        let mut stopped = false;
        let mut on_step = |step: &StepReport| {
            on_event(Event::Round {
                round: step.step,
                total: step.total,
                epoch: step.epoch,
            });
            let flow = observer.on_step(k, step);
            stopped |= flow == Flow::Stop;
            flow
        };
        let model_err = |source| TrainError::Model {
            context: context.clone(),
            source,
        };
        let prepared = match caches {
            Some(c) => c.fold(k, pipeline, |budget| {
                pipeline
                    .prepare_fold(
                        &ds.features,
                        &ds.target,
                        &fold.train,
                        &fold.test,
                        task,
                        cfg.config.seed,
                        &ds.feature_names,
                        early_stopping_gap(cfg, ds),
                        budget,
                    )
                    .map_err(model_err)
            })?,
            None => None,
        };
        let fit_started = Instant::now();
        let (fitted, scored) = match (prepared, caches) {
            (Some(p), Some(c)) => {
                let (fitted, output) = pipeline
                    .fit_prepared(
                        &p,
                        &ds.features,
                        &ds.target,
                        cfg.config.seed,
                        &c.budget,
                        &mut on_step,
                    )
                    .map_err(model_err)?;
                let scored = Scored {
                    rows: fold.test.clone(),
                    y_true: fold.test.iter().map(|&i| ds.target[i]).collect(),
                    output,
                    train: (Vec::new(), Vec::new()),
                    times: panel_times(ds, &fold.test),
                };
                (fitted, scored)
            }
            _ => fit_and_score(
                job,
                &fold.train,
                &fold.test,
                &context,
                in_sample,
                &mut on_step,
            )?,
        };
        if stopped {
            return Ok(None);
        }
        let cost = if measure_cost {
            let seconds = fit_started.elapsed().as_secs_f64();
            let importances = fitted.importances().map_err(model_err)?;
            Some(model_cost(ds, &fitted, &importances, &fold.test, seconds)?)
        } else {
            None
        };
        let values = evaluate(task, metrics, &scored.predictions(task)).map_err(|source| {
            TrainError::Metric {
                context: format!(
                    "fold {} (test rows {}..{})",
                    k + 1,
                    ds.times[fold.test[0]],
                    ds.times[fold.test[fold.test.len() - 1]]
                ),
                source,
            }
        })?;
        on_event(Event::FoldFinished {
            fold: k,
            metrics: &values,
        });
        let go_on = observer.on_fold(k, &values) == Flow::Continue;
        out.push(FoldOutcome {
            scored,
            values,
            cost,
            fit: fitted.model.report(),
            selected: fitted.model_features,
        });
        if !go_on && k + 1 < folds.len() {
            return Ok(None);
        }
    }
    Ok(Some(out))
}

fn metric_map(values: &[(Metric, f64)]) -> BTreeMap<String, f64> {
    values
        .iter()
        .map(|(m, v)| (m.name().to_string(), *v))
        .collect()
}

fn fold_report(
    fold: usize,
    train: &[usize],
    test: &[usize],
    ds: &Dataset,
    r: hone_models::FitReport,
    selected_features: Vec<String>,
    metrics: BTreeMap<String, f64>,
) -> FoldReport {
    FoldReport {
        fold,
        train: RowSpan::of(train, ds),
        test: if test.is_empty() {
            RowSpan::of(train, ds)
        } else {
            RowSpan::of(test, ds)
        },
        metrics,
        train_metrics: BTreeMap::new(),
        iterations_run: r.iterations_run,
        best_iteration: r.best_iteration,
        selected_features,
        learning_curve: crate::report::CurveSample::of(&r.valid_curve, r.best_iteration),
        valid_metric: r.valid_metric,
        valid_curve: r.valid_curve,
    }
}

/// A job's dataset, folds and metrics: everything cross-validation needs before any fit.
/// Tuning prepares once and reuses it for every trial that leaves data, target and split alone.
pub struct Prepared {
    /// The dataset.
    pub ds: Dataset,
    /// Binary, multiclass or regression.
    pub task: Task,
    /// Metrics to compute.
    pub metrics: Vec<Metric>,
    /// CV folds over the development rows.
    pub folds: Vec<Fold>,
    /// Development rows are `0..dev_end`.
    pub dev_end: usize,
    /// Holdout rows are `holdout_start..n`.
    pub holdout_start: usize,
    /// Notes for the user.
    pub notes: Vec<String>,
    /// The split scheme's name.
    pub scheme: String,
}

/// Loads the data, cuts the holdout and makes the folds (checking each is large enough).
pub fn prepare(
    cfg: &LoadedConfig,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Prepared, TrainError> {
    let c = &cfg.config;
    let horizon = c.target.horizon();
    let splitter = c.split.build(c.seed, horizon).map_err(TrainError::Split)?;
    let has_time = c.data.time_column.is_some();
    let ds = load_dataset(cfg, has_time)?;
    let mut notes = ds.notes.clone();
    on_event(Event::Loaded {
        rows: ds.n_rows(),
        features: ds.feature_names.len(),
        fingerprint: &ds.fingerprint,
        notes: &ds.notes,
    });
    let task = task_of(&ds, c.target.task_kind()?);
    let metrics = job_metrics(cfg, task, ds.panel.is_some())?;
    if let Some(m) = metrics.iter().find(|m| !m.applies_to(task)) {
        return Err(TrainError::Config(format!(
            "metrics: {m} does not apply to a {} task (use one of {})",
            task.kind(),
            Metric::defaults(task)
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !splitter.is_temporal() && horizon > 0 {
        notes.push(format!(
            "split.scheme = {:?} ignores time order: with a {horizon}-bar forward label, training rows \
             next to each test block overlap it; use scheme = \"timeseries\" for an honest estimate",
            splitter.name()
        ));
    }

    // Holdout: the latest rows (timestamps, for a panel), with `horizon` purged before it.
    let n = ds.n_rows();
    let (folds, dev_end, holdout_start) =
        make_folds(cfg, splitter.as_ref(), &ds, task != Task::Regression)?;
    // A portfolio too wide for the universe at some traded date fails now, not after fitting.
    if let (Some(pc), Some(p)) = (&c.portfolio, &ds.panel) {
        let mut traded: Vec<usize> = folds
            .iter()
            .flat_map(|f| f.test.iter().map(|&i| p.time_index[i]))
            .chain((holdout_start..n).map(|i| p.time_index[i]))
            .collect();
        traded.sort_unstable();
        traded.dedup();
        pc.check_universe(p, &ds.times, traded)?;
    }
    if let Some((k, f)) = folds
        .iter()
        .enumerate()
        .find(|(_, f)| f.train.len() < MIN_TRAIN_ROWS || f.test.is_empty())
    {
        return Err(TrainError::Config(format!(
            "too few rows for the requested split: fold {} would train on {} row(s) and test on {} \
             (at least {MIN_TRAIN_ROWS} training rows are needed); the data has {n} usable rows, \
             {dev_end} before the holdout: use fewer folds, a smaller holdout or more data",
            k + 1,
            f.train.len(),
            f.test.len()
        )));
    }
    Ok(Prepared {
        ds,
        task,
        metrics,
        folds,
        dev_end,
        holdout_start,
        notes,
        scheme: splitter.name().to_string(),
    })
}

/// What a cross-validation tells its caller as it goes, and how the caller stops it (a tuning
/// pruner, Ctrl-C). Both methods default to watching and going on.
pub trait CvObserver {
    /// After each training step (boosting round, epoch) of fold `fold` (from 0), with the
    /// score on the fold's early-stopping slice when the model has one. [`Flow::Stop`] ends the
    /// cross-validation without a result.
    fn on_step(&mut self, fold: usize, step: &StepReport) -> Flow {
        let _ = (fold, step);
        Flow::Continue
    }

    /// After fold `fold` (from 0) is scored. [`Flow::Stop`] ends the cross-validation without
    /// a result (unless it was the last fold).
    fn on_fold(&mut self, fold: usize, values: &[(Metric, f64)]) -> Flow {
        let _ = (fold, values);
        Flow::Continue
    }
}

/// A cross-validation without holdout or refit: the objective of a tuning trial.
#[derive(Debug, Clone)]
pub struct CvOutcome {
    /// Metric values of every fold.
    pub folds: Vec<Vec<(Metric, f64)>>,
    /// Each fold model's size and cost (empty unless asked for).
    pub costs: Vec<crate::report::ModelCost>,
    /// With a `[trading]` table: the out-of-fold backtest as a trial for DSR and PBO.
    pub trading: Option<crate::trading::Trial>,
}

/// What the trials of one search share across their cross-validations: each fold's fitted
/// preprocessing, transformed test rows and LightGBM binned datasets
/// ([`hone_models::pipeline::PreparedFold`]), made by the first trial that needs them, within a
/// memory budget. Reusing them changes no trial's result: they are exactly what each trial
/// would build itself, from the fold's training rows only.
#[derive(Debug)]
pub struct FoldCaches {
    budget: CacheBudget,
    /// Per (fold, preprocessing steps as JSON): the prepared fold, or `None` when it did not
    /// fit the budget.
    folds: Mutex<Vec<(FoldKey, Option<Arc<PreparedFold>>)>>,
}

/// A fold's index and its preprocessing steps as JSON.
type FoldKey = (usize, String);

impl FoldCaches {
    /// Empty caches that may hold `budget_bytes`.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: CacheBudget::new(budget_bytes),
            folds: Mutex::new(Vec::new()),
        }
    }

    fn fold(
        &self,
        k: usize,
        pipeline: &PipelineSpec,
        make: impl FnOnce(&CacheBudget) -> Result<Option<PreparedFold>, TrainError>,
    ) -> Result<Option<Arc<PreparedFold>>, TrainError> {
        let steps = serde_json::to_string(&pipeline.steps)
            .map_err(|e| TrainError::Config(format!("cannot key the preprocessing: {e}")))?;
        let key = (k, steps);
        let mut folds = self.folds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, f)) = folds.iter().find(|(k, _)| *k == key) {
            return Ok(f.clone());
        }
        let made = make(&self.budget)?.map(Arc::new);
        folds.push((key, made.clone()));
        Ok(made)
    }
}

/// Cross-validates `cfg`'s pipeline on prepared folds only (no holdout, no refit, no outputs).
/// `observer` hears each step and each fold and may stop early (pruning); the result is then
/// `None`. With `caches`, LightGBM pipelines reuse each fold's preprocessing and
/// binned datasets across calls (the trials of a search).
pub fn cross_validate(
    cfg: &LoadedConfig,
    prep: &Prepared,
    caches: Option<&FoldCaches>,
    measure_cost: bool,
    observer: &mut dyn CvObserver,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Option<CvOutcome>, TrainError> {
    let pipeline = PipelineSpec {
        steps: cfg.config.preprocess.steps(),
        model: cfg.model.clone(),
    };
    let job = JobContext {
        pipeline: &pipeline,
        ds: &prep.ds,
        task: prep.task,
        cfg,
    };
    let Some(outcomes) = run_folds(
        &job,
        &prep.folds,
        &prep.metrics,
        false,
        measure_cost,
        caches,
        observer,
        on_event,
    )?
    else {
        return Ok(None);
    };
    let mut all = Vec::with_capacity(outcomes.len());
    let mut costs = Vec::new();
    let mut oof: Vec<(usize, Scored)> = Vec::with_capacity(outcomes.len());
    for (k, o) in outcomes.into_iter().enumerate() {
        all.push(o.values);
        costs.extend(o.cost);
        oof.push((k + 1, o.scored));
    }
    let trading = match (&cfg.config.trading, &prep.ds.next_return) {
        _ if prep.ds.panel.is_some() && cfg.config.portfolio.is_some() => {
            match panel_evaluation(cfg, &prep.ds, prep.task, &oof, None, &[])? {
                Some(PanelOutcome {
                    trading: Some(t),
                    mut equity,
                    ..
                }) => t.cv.sr_per_period.map(|sr| crate::trading::Trial {
                    sr,
                    equity_csv: equity.drain(..).next().map(|(_, csv)| csv),
                }),
                _ => None,
            }
        }
        (Some(tc), Some(next)) => {
            let (tc, _) = tc.for_data(&prep.ds.times);
            let bt = |rows: &[(usize, f64)]| backtest_rows(&tc, &prep.ds, next, rows);
            // As the refit reports it: CPCV's median path, else every development row once.
            let (summary, csv) = match cfg.config.split.cpcv_layout() {
                Some(layout) => {
                    let splits: Vec<(&[usize], Vec<f64>)> = oof
                        .iter()
                        .map(|(_, s)| (s.rows.as_slice(), tc.positions(prep.task, &s.output)))
                        .collect();
                    let mut paths =
                        crate::trading::cpcv_paths(&layout, prep.dev_end, &splits, &bt)?;
                    match crate::trading::median_path(&paths) {
                        Some(m) => paths.swap_remove(m),
                        None => return Ok(None),
                    }
                }
                None => bt(&oof_positions(&tc, prep.task, &oof))?,
            };
            summary.sr_per_period.map(|sr| crate::trading::Trial {
                sr,
                equity_csv: Some(csv),
            })
        }
        _ => None,
    };
    Ok(Some(CvOutcome {
        folds: all,
        costs,
        trading,
    }))
}

/// One value per development row from the out-of-fold predictions (`value` maps a fold's
/// outputs to one number per test row), each row once (the first fold that tested it, for
/// schemes that test rows more than once), in row order.
fn oof_once(oof: &[(usize, Scored)], value: impl Fn(&Scored) -> Vec<f64>) -> Vec<(usize, f64)> {
    let mut rows: Vec<(usize, f64)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, scored) in oof {
        let v = value(scored);
        for (i, &r) in scored.rows.iter().enumerate() {
            if seen.insert(r) {
                rows.push((r, v[i]));
            }
        }
    }
    rows.sort_by_key(|(r, _)| *r);
    rows
}

/// Out-of-fold positions, each development row once, in time order.
fn oof_positions(
    tc: &crate::trading::TradingConfig,
    task: Task,
    oof: &[(usize, Scored)],
) -> Vec<(usize, f64)> {
    oof_once(oof, |s| tc.positions(task, &s.output))
}

/// A panel signal per row: the prediction (regression), P(class 1) (binary), or P(top class)
/// − P(bottom class) (multiclass, classes ordered down .. up).
pub(crate) fn panel_signal(task: Task, output: &[f64]) -> Vec<f64> {
    match task {
        Task::Multiclass { n_classes } if n_classes > 1 => output
            .chunks(n_classes)
            .map(|r| r[n_classes - 1] - r[0])
            .collect(),
        _ => output.to_vec(),
    }
}

/// Out-of-fold signals, each development row once (the first fold that tested it), by row.
fn oof_signal(task: Task, oof: &[(usize, Scored)]) -> Vec<(usize, f64)> {
    oof_once(oof, |s| panel_signal(task, &s.output))
}

/// Periods per year of a panel: the portfolio's setting, else read off the distinct
/// timestamps; and a note saying which.
pub(crate) fn panel_periods(cfg: &LoadedConfig, ds: &Dataset) -> (f64, Option<String>) {
    if let Some(p) = cfg
        .config
        .portfolio
        .as_ref()
        .and_then(|p| p.periods_per_year)
    {
        return (p, None);
    }
    let Some(panel) = &ds.panel else {
        return (crate::trading::FALLBACK_PERIODS_PER_YEAR, None);
    };
    let stamps: Vec<String> = panel.time_starts[..panel.n_times()]
        .iter()
        .map(|&r| ds.times[r].clone())
        .collect();
    match hone_data::time::bar_frequency(&stamps) {
        Some(f) => (
            f.periods_per_year,
            Some(format!(
                "panel: bars look {} from the timestamps: annualising ICIR and the portfolio \
                 with {} periods per year (set portfolio.periods_per_year to override)",
                f.label, f.periods_per_year
            )),
        ),
        None => (crate::trading::FALLBACK_PERIODS_PER_YEAR, None),
    }
}

/// What a panel's evaluation adds to a report.
struct PanelOutcome {
    panel: crate::portfolio::PanelReport,
    portfolio: Option<crate::report::PortfolioReport>,
    trading: Option<crate::trading::TradingReport>,
    equity: Vec<(&'static str, String)>,
    notes: Vec<String>,
}

/// A panel's cross-sectional report (IC, rank IC, decay) and `[portfolio]` backtest of the
/// out-of-fold predictions and of the holdout; the backtest's Sharpe ratio is judged against
/// the experiment's earlier trials (DSR, PBO) as `[trading]`'s is.
fn panel_evaluation(
    cfg: &LoadedConfig,
    ds: &Dataset,
    task: Task,
    oof: &[(usize, Scored)],
    holdout: Option<&Scored>,
    earlier_trials: &[crate::trading::Trial],
) -> Result<Option<PanelOutcome>, TrainError> {
    let Some(panel) = &ds.panel else {
        return Ok(None);
    };
    let (periods, note) = panel_periods(cfg, ds);
    let mut notes: Vec<String> = note.into_iter().collect();
    let cv_rows = oof_signal(task, oof);
    let hold_rows: Option<Vec<(usize, f64)>> = holdout.filter(|h| !h.rows.is_empty()).map(|h| {
        h.rows
            .iter()
            .copied()
            .zip(panel_signal(task, &h.output))
            .collect()
    });
    let forward: Vec<Vec<f64>> = match &ds.next_return {
        Some(next) => {
            let k = cfg.config.target.horizon().max(5);
            (1..=k)
                .map(|h| crate::portfolio::forward_returns(panel, next, h))
                .collect()
        }
        None => {
            notes.push(
                "panel: no price column known (the target is a column): IC decay needs \
                 portfolio.price"
                    .into(),
            );
            Vec::new()
        }
    };
    let report_of = |rows: &[(usize, f64)]| {
        crate::portfolio::cross_section_report(panel, rows, &ds.target, &forward, periods)
    };
    let panel_report = crate::portfolio::PanelReport {
        assets: panel.asset_names.len(),
        timestamps: panel.n_times(),
        cv: report_of(&cv_rows),
        holdout: hold_rows.as_deref().map(report_of),
    };
    let (mut portfolio, mut trading, mut equity) = (None, None, Vec::new());
    if let (Some(pc), Some(next)) = (&cfg.config.portfolio, &ds.next_return) {
        let (cv_trading, cv_summary, cv_csv) =
            crate::portfolio::backtest(pc, periods, panel, &ds.times, next, &cv_rows)?;
        let held = match &hold_rows {
            Some(rows) => Some(crate::portfolio::backtest(
                pc, periods, panel, &ds.times, next, rows,
            )?),
            None => None,
        };
        let srs: Vec<f64> = earlier_trials.iter().map(|t| t.sr).collect();
        let dsr = crate::trading::deflated_sharpe(&cv_trading, &srs);
        let pbo = crate::trading::backtest_overfitting(&cv_csv, earlier_trials);
        equity.push(("cv", cv_csv));
        let (holdout_trading, holdout_summary) = match held {
            Some((t, s, csv)) => {
                equity.push(("holdout", csv));
                (Some(t), Some(s))
            }
            None => (None, None),
        };
        portfolio = Some(crate::report::PortfolioReport {
            cv: cv_summary,
            holdout: holdout_summary,
        });
        trading = Some(crate::trading::TradingReport {
            periods_per_year: periods,
            cv: cv_trading,
            holdout: holdout_trading,
            cpcv_paths: None,
            dsr,
            pbo,
        });
    }
    Ok(Some(PanelOutcome {
        panel: panel_report,
        portfolio,
        trading,
        equity,
        notes,
    }))
}

/// Backtests positions on their rows' next-bar returns.
fn backtest_rows(
    tc: &crate::trading::TradingConfig,
    ds: &Dataset,
    next: &[f64],
    rows: &[(usize, f64)],
) -> Result<(crate::trading::TradingSummary, String), TrainError> {
    let times: Vec<String> = rows.iter().map(|(r, _)| ds.times[*r].clone()).collect();
    let pos: Vec<f64> = rows.iter().map(|(_, w)| *w).collect();
    let rets: Vec<f64> = rows.iter().map(|(r, _)| next[*r]).collect();
    tc.backtest(&times, &pos, &rets)
}

/// What a training job produces: its report and its output files, in memory.
#[derive(Debug, Clone)]
pub struct TrainOutput {
    /// The report (`metrics.json`).
    pub report: TrainReport,
    /// Every output file, `metrics.json` included.
    pub files: output::Bundle,
}

/// Runs a training job and writes its outputs to `out_dir`.
pub fn run_train(
    cfg: &LoadedConfig,
    out_dir: &Path,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainReport, TrainError> {
    run_train_with_trials(cfg, out_dir, &[], on_event)
}

/// [`run_train`], judging the backtest against earlier trials (the experiment's earlier runs,
/// read from the store by the tracked path): deflated Sharpe ratio and PBO.
pub fn run_train_with_trials(
    cfg: &LoadedConfig,
    out_dir: &Path,
    earlier_trials: &[crate::trading::Trial],
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainReport, TrainError> {
    let out = run_job(cfg, Some(out_dir), earlier_trials, on_event)?;
    out.files.write_to(out_dir)?;
    Ok(out.report)
}

/// The whole job in memory: cross-validation, holdout, refit, trading, stress and gates, and
/// the output files rendered, for `out_dir` (checked writable first; nothing is written; `None`:
/// the files go to the tracking store only).
pub fn run_job(
    cfg: &LoadedConfig,
    out_dir: Option<&Path>,
    earlier_trials: &[crate::trading::Trial],
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TrainOutput, TrainError> {
    let started = Instant::now();
    // A bad output path fails now, not after the whole job.
    if let Some(out_dir) = out_dir {
        output::check_writable(out_dir).map_err(|e| TrainError::Output {
            path: out_dir.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    let c = &cfg.config;
    let Prepared {
        ds,
        task,
        metrics,
        folds,
        dev_end,
        holdout_start,
        mut notes,
        scheme,
    } = prepare(cfg, on_event)?;
    let n = ds.n_rows();
    let pipeline = PipelineSpec {
        steps: c.preprocess.steps(),
        model: cfg.model.clone(),
    };

    let job = JobContext {
        pipeline: &pipeline,
        ds: &ds,
        task,
        cfg,
    };
    /// `hone train` watches its folds but never stops them.
    struct Unstopped;
    impl CvObserver for Unstopped {}
    let outcomes = run_folds(
        &job,
        &folds,
        &metrics,
        true,
        false,
        None,
        &mut Unstopped,
        on_event,
    )?
    .ok_or_else(|| TrainError::Config("cross-validation stopped".into()))?;
    let mut fold_reports = Vec::with_capacity(folds.len());
    let mut oof: Vec<(usize, Scored)> = Vec::with_capacity(folds.len());
    for (k, (fold, o)) in folds.iter().zip(outcomes).enumerate() {
        let scored = o.scored;
        let train_values = {
            let (ty, tp) = &scored.train;
            let p = match task {
                Task::Regression => Predictions {
                    y_true: ty,
                    y_pred: Some(tp),
                    proba: None,
                    times: None,
                },
                _ => Predictions {
                    y_true: ty,
                    y_pred: None,
                    proba: Some(tp),
                    times: None,
                },
            };
            // In-sample metrics can be undefined (e.g. one class); skip those.
            metrics
                .iter()
                .filter_map(|m| m.compute(task, &p).ok().map(|v| (m.name().to_string(), v)))
                .collect::<BTreeMap<String, f64>>()
        };
        let mut report = fold_report(
            k + 1,
            &fold.train,
            &fold.test,
            &ds,
            o.fit,
            o.selected,
            metric_map(&o.values),
        );
        report.train_metrics = train_values;
        fold_reports.push(report);
        oof.push((k + 1, scored));
    }
    let cv = summarize(&fold_reports, &metrics);
    // Train–validation gap: mean in-sample minus mean out-of-fold, per metric.
    let train_cv_gap: BTreeMap<String, f64> = metrics
        .iter()
        .filter_map(|m| {
            let ins: Vec<f64> = fold_reports
                .iter()
                .filter_map(|f| f.train_metrics.get(m.name()).copied())
                .collect();
            (ins.len() == fold_reports.len()).then(|| {
                let mean = ins.iter().sum::<f64>() / ins.len() as f64;
                (m.name().to_string(), mean - cv[m.name()].mean)
            })
        })
        .collect();

    // Final model: all development rows; scored once on the holdout.
    let dev_rows: Vec<usize> = (0..dev_end).collect();
    let holdout_rows: Vec<usize> = (holdout_start..n).collect();
    on_event(Event::FoldStarted {
        fold: folds.len(),
        n_folds: folds.len(),
        train_rows: dev_rows.len(),
    });
    // The final model reproduces what cross-validation chose: a model that stops early trains
    // on every development row for the folds' rounds (`refit_rounds`), not on a slice of its own.
    let fold_rounds: Vec<usize> = fold_reports.iter().map(|f| f.best_iteration).collect();
    let refit_steps = cfg
        .model
        .early_stopping_fraction()
        .and_then(|_| cfg.refit.rounds(&fold_rounds));
    let refit_model = refit_steps.and_then(|k| cfg.model.estimator().with_fixed_steps(k));
    let refit_pipeline = refit_model.map(|m| PipelineSpec {
        steps: pipeline.steps.clone(),
        model: hone_models::ModelSpec::new(m),
    });
    let refit_job = JobContext {
        pipeline: refit_pipeline.as_ref().unwrap_or(&pipeline),
        ..job
    };
    let refit = cfg
        .model
        .early_stopping_fraction()
        .map(|_| crate::report::RefitReport {
            rule: cfg.refit.name(),
            fold_rounds: fold_rounds.clone(),
            rounds: refit_steps,
        });
    let refit_started = Instant::now();
    let (final_fit, holdout_scored) = fit_and_score(
        &refit_job,
        &dev_rows,
        &holdout_rows,
        "final refit",
        false,
        &mut |step: &StepReport| {
            on_event(Event::Round {
                round: step.step,
                total: step.total,
                epoch: step.epoch,
            });
            Flow::Continue
        },
    )?;
    on_event(Event::Phase {
        name: if holdout_rows.is_empty() {
            "reports"
        } else {
            "holdout"
        },
    });
    let holdout_report = if holdout_rows.is_empty() {
        None
    } else {
        let values =
            evaluate(task, &metrics, &holdout_scored.predictions(task)).map_err(|source| {
                TrainError::Metric {
                    context: "holdout".into(),
                    source,
                }
            })?;
        Some(HoldoutReport {
            rows: RowSpan::of(&holdout_rows, &ds),
            purged_rows: holdout_start - dev_end,
            metrics: metric_map(&values),
        })
    };
    let base_rate = base_rate(&ds, task, dev_end, &oof, &holdout_scored);
    if let (Some(b), Some(h)) = (&base_rate, &holdout_report)
        && let (Some(rate), Some(acc)) = (b.holdout, h.metrics.get("accuracy"))
        && *acc <= rate
    {
        notes.push(format!(
            "holdout accuracy {acc:.4} is not above always predicting {:?} ({rate:.4} of the \
             holdout rows)",
            b.majority_class
        ));
    }
    let final_rounds = final_fit.model.report();
    if cfg.model.early_stopping_fraction().is_some()
        && refit_steps.is_none()
        && final_rounds.best_iteration <= 1
    {
        notes.push(format!(
            "early stopping kept {} round(s) of the final model: boosting did not improve {} on \
             the validation slice, i.e. little learnable signal at these settings",
            final_rounds.best_iteration,
            final_rounds
                .valid_metric
                .as_deref()
                .unwrap_or("the validation metric")
        ));
    }
    let importances = final_fit
        .importances()
        .map_err(|source| TrainError::Model {
            context: "feature importances".into(),
            source,
        })?;
    let drift: Vec<hone_validate::drift::ColumnDrift> = if holdout_rows.is_empty() {
        Vec::new()
    } else {
        let reference: Vec<&[f64]> = ds.features.iter().map(|c| &c[..dev_end]).collect();
        let current: Vec<&[f64]> = ds.features.iter().map(|c| &c[holdout_start..]).collect();
        feature_drift(&ds.feature_names, &reference, &current)
    };
    // Drift is reported (summary, metrics.json), not noted: financial features drift between
    // any two periods, so a warning would fire on every run (README, "Drift").
    let (drift_share, _) = hone_validate::drift::dataset_drift(&drift, 0.5);
    // Trading evaluation of the out-of-fold predictions (each row once, in time order) and of
    // the holdout.
    let mut equity: Vec<(&str, String)> = Vec::new();
    let trading = match (&c.trading, &ds.next_return) {
        (Some(tc), Some(next)) => {
            let (tc, note) = tc.for_data(&ds.times);
            notes.extend(note);
            let tc = &tc;
            let bt = |rows: &[(usize, f64)]| backtest_rows(tc, &ds, next, rows);
            // CPCV: each backtest path stitched from the splits that test its groups; the median
            // path is the headline backtest. Other schemes: every development row once.
            let (cv_summary, cv_csv, cpcv_paths) = match c.split.cpcv_layout() {
                Some(layout) => {
                    let splits: Vec<(&[usize], Vec<f64>)> = oof
                        .iter()
                        .map(|(_, s)| (s.rows.as_slice(), tc.positions(task, &s.output)))
                        .collect();
                    let paths = crate::trading::cpcv_paths(&layout, dev_end, &splits, &bt)?;
                    let m = crate::trading::median_path(&paths)
                        .ok_or_else(|| TrainError::Config("cpcv made no backtest path".into()))?;
                    let (summary, csv) = paths[m].clone();
                    let summaries = paths.into_iter().map(|(s, _)| s).collect();
                    (
                        summary,
                        csv,
                        Some(crate::trading::PathSharpes::of(summaries, m)),
                    )
                }
                None => {
                    let (summary, csv) = bt(&oof_positions(tc, task, &oof))?;
                    (summary, csv, None)
                }
            };
            equity.push(("cv", cv_csv));
            let holdout_summary = if holdout_rows.is_empty() {
                None
            } else {
                let pos = tc.positions(task, &holdout_scored.output);
                let hrows: Vec<(usize, f64)> = holdout_rows.iter().copied().zip(pos).collect();
                let (s, csv) = bt(&hrows)?;
                equity.push(("holdout", csv));
                Some(s)
            };
            notes.extend(crate::trading::buy_and_hold_note("cv", &cv_summary));
            if let Some(h) = &holdout_summary {
                notes.extend(crate::trading::buy_and_hold_note("holdout", h));
            }
            let srs: Vec<f64> = earlier_trials.iter().map(|t| t.sr).collect();
            let dsr = crate::trading::deflated_sharpe(&cv_summary, &srs);
            let pbo = crate::trading::backtest_overfitting(&equity[0].1, earlier_trials);
            Some(crate::trading::TradingReport {
                periods_per_year: tc.periods(),
                cv: cv_summary,
                holdout: holdout_summary,
                cpcv_paths,
                dsr,
                pbo,
            })
        }
        _ => None,
    };
    let panel_outcome = panel_evaluation(
        cfg,
        &ds,
        task,
        &oof,
        (!holdout_rows.is_empty()).then_some(&holdout_scored),
        earlier_trials,
    )?;
    let (mut trading, mut panel_report, mut portfolio_report) = (trading, None, None);
    if let Some(po) = panel_outcome {
        notes.extend(po.notes);
        panel_report = Some(po.panel);
        portfolio_report = po.portfolio;
        if po.trading.is_some() {
            trading = po.trading;
            equity = po.equity;
        }
    }
    let stress = stress_report(
        &job,
        &oof,
        &holdout_rows,
        &holdout_scored,
        &final_fit,
        &metrics,
    )?;
    let refit_seconds = refit_started.elapsed().as_secs_f64();
    let timing_rows = if holdout_rows.is_empty() {
        &dev_rows
    } else {
        &holdout_rows
    };
    let complexity = model_cost(&ds, &final_fit, &importances, timing_rows, refit_seconds)?;
    let model_params = final_fit.model.resolved_params();
    let report = TrainReport {
        name: cfg.name(),
        hone_version: env!("CARGO_PKG_VERSION").to_string(),
        config: cfg.path.clone(),
        data: cfg.data_path.clone(),
        fingerprint: ds.fingerprint.clone(),
        rows: n,
        features: ds.feature_names.clone(),
        task: task.kind().to_string(),
        classes: ds.classes.clone(),
        model: model_name(&cfg.model),
        model_params,
        scheme,
        development: RowSpan::of(&dev_rows, &ds),
        metrics: metrics.iter().map(|m| m.name().to_string()).collect(),
        folds: fold_reports,
        cv,
        train_cv_gap,
        holdout: holdout_report,
        final_model: fold_report(
            folds.len() + 1,
            &dev_rows,
            &holdout_rows,
            &ds,
            final_fit.model.report(),
            final_fit.model_features.clone(),
            BTreeMap::new(),
        ),
        refit,
        base_rate,
        importances,
        importance_kind: final_fit.model.importance_kind().to_string(),
        complexity,
        drift,
        drift_share,
        trading,
        panel: panel_report,
        portfolio: portfolio_report,
        gates: Vec::new(),
        stress,
        notes: std::mem::take(&mut notes),
        overrides: cfg.overrides.iter().map(|o| o.text.clone()).collect(),
        out_dir: out_dir.map(Path::to_path_buf),
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut report = report;
    if let Some(g) = &c.gates {
        report.gates = g.evaluate(&report)?;
    }
    let mut files = output::render(cfg, &ds, task, &report, &final_fit, &oof, &holdout_scored)?;
    for (name, csv) in &equity {
        files.push(format!("equity_{name}.csv"), csv.as_bytes());
    }
    let scale = c
        .trading
        .as_ref()
        .map(|t| t.chart_scale)
        .or(c.portfolio.as_ref().map(|p| p.chart_scale))
        .unwrap_or_default();
    let csvs: Vec<(&str, &str)> = equity.iter().map(|(n, c)| (*n, c.as_str())).collect();
    crate::charts::push_run_charts(&mut files, &report, &csvs, scale);
    Ok(TrainOutput { report, files })
}

/// Label shuffles behind the bias-parity p-value (resolution 0.001).
const BIAS_PERMUTATIONS: usize = 999;

fn stress_report(
    job: &JobContext<'_>,
    oof: &[(usize, Scored)],
    holdout_rows: &[usize],
    holdout_scored: &Scored,
    final_fit: &FittedPipeline,
    metrics: &[Metric],
) -> Result<Option<crate::stress::StressReport>, TrainError> {
    use crate::stress::{
        Slice, StressReport, bias_parity, drawdown_regimes, group_by, metric_on,
        volatility_regimes, with_noise, year_of,
    };
    let (ds, task, c) = (job.ds, job.task, &job.cfg.config);
    let Some(&metric) = metrics.first() else {
        return Ok(None);
    };
    let k = task.n_outputs();
    // Out-of-fold rows, each once, in time order.
    let mut seen = std::collections::HashSet::new();
    let mut picked: Vec<(usize, f64, Vec<f64>)> = Vec::new();
    for (_, s) in oof {
        for (i, &r) in s.rows.iter().enumerate() {
            if seen.insert(r) {
                picked.push((r, s.y_true[i], s.output[i * k..(i + 1) * k].to_vec()));
            }
        }
    }
    picked.sort_by_key(|(r, _, _)| *r);
    let rows: Vec<usize> = picked.iter().map(|p| p.0).collect();
    let y: Vec<f64> = picked.iter().map(|p| p.1).collect();
    let out: Vec<f64> = picked.iter().flat_map(|p| p.2.iter().copied()).collect();
    let trading = c.trading.as_ref().zip(ds.next_return.as_ref());
    let positions = trading.map(|(tc, _)| tc.positions(task, &out));
    let sharpe_of = |idx: &[usize], cost: Option<f64>| -> Option<f64> {
        let (tc, next) = trading?;
        let pos = positions.as_ref()?;
        let mut tc = tc.clone();
        if let Some(cost) = cost {
            tc.cost_bps = cost;
        }
        let times: Vec<String> = idx.iter().map(|&i| ds.times[rows[i]].clone()).collect();
        let p: Vec<f64> = idx.iter().map(|&i| pos[i]).collect();
        let r: Vec<f64> = idx.iter().map(|&i| next[rows[i]]).collect();
        tc.backtest(&times, &p, &r)
            .ok()
            .map(|(s, _)| s.metrics.sharpe)
    };
    let slices = |labels: Vec<Option<String>>| -> Vec<Slice> {
        group_by(&labels)
            .into_iter()
            .map(|(slice, idx)| Slice {
                slice,
                rows: idx.len(),
                metric: metric_on(task, metric, &y, &out, &idx),
                sharpe: sharpe_of(&idx, None),
            })
            .collect()
    };
    let by_year = slices(rows.iter().map(|&r| year_of(&ds.times[r])).collect());
    // Regimes read one asset's return path row by row: a single series only (a panel's rows
    // interleave its assets).
    let series_next = ds.next_return.as_ref().filter(|_| ds.panel.is_none());
    let by_volatility = match series_next {
        Some(next) => slices(volatility_regimes(next, &rows)),
        None => Vec::new(),
    };
    let by_drawdown = match series_next {
        Some(next) => slices(drawdown_regimes(next, &rows)),
        None => Vec::new(),
    };
    let all: Vec<usize> = (0..rows.len()).collect();
    let cost_curve: Vec<(f64, f64)> = if trading.is_some() {
        [0.0, 1.0, 2.0, 5.0, 10.0, 20.0]
            .iter()
            .filter_map(|&cost| sharpe_of(&all, Some(cost)).map(|s| (cost, s)))
            .collect()
    } else {
        Vec::new()
    };
    let mut feature_noise = Vec::new();
    if !holdout_rows.is_empty() {
        let cols: Vec<Vec<f64>> = ds
            .features
            .iter()
            .map(|f| holdout_rows.iter().map(|&r| f[r]).collect())
            .collect();
        let idx: Vec<usize> = (0..holdout_rows.len()).collect();
        for (n, level) in [0.0, 0.1, 0.25, 0.5].into_iter().enumerate() {
            let noisy = with_noise(&cols, level, c.seed.wrapping_add(n as u64));
            let x = Matrix::from_columns(&noisy);
            let pred = final_fit.predict(&x).map_err(|source| TrainError::Model {
                context: "feature-noise sensitivity".into(),
                source,
            })?;
            feature_noise.push((
                level,
                metric_on(task, metric, &holdout_scored.y_true, &pred, &idx),
            ));
        }
    }
    let bias = match (&ds.groups, &c.data.group_column) {
        (Some(groups), Some(column)) => {
            let labels: Vec<String> = rows.iter().map(|&r| groups[r].clone()).collect();
            bias_parity(task, metric, &y, &out, &labels, BIAS_PERMUTATIONS, c.seed).map(|mut b| {
                b.column = column.clone();
                b
            })
        }
        _ => None,
    };
    Ok(Some(StressReport {
        bias,
        metric: metric.name().to_string(),
        by_year,
        by_volatility,
        by_drawdown,
        cost_curve,
        feature_noise,
    }))
}

fn model_name(m: &ModelSpec) -> String {
    m.name().to_string()
}
