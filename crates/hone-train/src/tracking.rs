//! Recording `hone train` in the tracking store: a parent run for the job, a child run per fold
//! and one for the final refit.
//!
//! The parent run gets the whole resolved config as dotted params (`params_of`), the dataset
//! fingerprint as an input,
//! the environment as tags, the cross-validated and holdout metrics (`cv.<metric>.mean`,
//! `cv.<metric>.std`, `holdout.<metric>`), and every output file as an artifact. Each child run
//! gets its fold's params and test metrics, and the early-stopping learning curve as the step
//! metric `valid.<lightgbm metric>` (step = boosting round).

use std::path::Path;

use hone_track::{DatasetInput, RunHandle, RunStatus, Tracker, keys};

use crate::TrainError;
use crate::config::LoadedConfig;
use crate::job::{FoldReport, TrainReport};
use crate::job::{TrainOutput, run_job};
use crate::monitor::ResourceMonitor;
use crate::output::OutDir;

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// The experiment a job's runs go to: `tracking.experiment`, else the job name.
pub fn experiment_name(cfg: &LoadedConfig) -> String {
    cfg.config
        .tracking
        .as_ref()
        .and_then(|t| t.experiment.clone())
        .unwrap_or_else(|| cfg.name())
}

/// MLflow's limit on a param value, in bytes (the store cuts longer values silently, so they
/// are cut here first, visibly).
const MAX_PARAM_VALUE: usize = hone_track::MAX_PARAM_VALUE;

/// A param value as recorded: a string as written, any other scalar in its JSON form, and a
/// value longer than [`MAX_PARAM_VALUE`] cut with a trailing `…` (the whole config is the run's
/// `config.toml` artifact).
fn param_text(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.len() <= MAX_PARAM_VALUE {
        return text;
    }
    let mut end = MAX_PARAM_VALUE - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A config key as an MLflow key: characters MLflow refuses (quotes in a quoted TOML key,
/// say) become `_`, so that one odd key never fails the whole batch.
fn param_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-. /:".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Flattens a config value into dotted params: tables become further dotted keys, arrays
/// (feature lists, gate rules, windows) one compact JSON string, unset values nothing.
fn flatten(
    prefix: &str,
    v: &serde_json::Value,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    param_key(k)
                } else {
                    format!("{prefix}.{}", param_key(k))
                };
                flatten(&key, x, out);
            }
        }
        other => {
            if hone_track::validate_key("param", prefix).is_ok() {
                out.insert(prefix.to_string(), param_text(other));
            }
        }
    }
}

/// A `[search]` table as `search.*` params, flattened as `params_of` flattens a config: what
/// `hone tune` adds to its refit's run, whose config (the best trial's) no longer has one.
pub fn search_params(search: &toml::Table) -> Vec<(String, String)> {
    let mut p = std::collections::BTreeMap::new();
    if let Ok(v) = serde_json::to_value(search) {
        flatten("search", &v, &mut p);
    }
    p.into_iter().collect()
}

/// The run's params: the whole resolved config (defaults filled in) as flattened dotted keys
/// — `seed`, `data.*`, `target.*`, `preprocess.*`, `split.*`, `model.type`, `model.params.*`,
/// `model.early_stopping_rounds`, `model.validation_fraction`, `model.refit_rounds`,
/// `trading.*`, `gates.*`, `search.*`, ... — so that `hone runs compare` shows any setting that
/// differs. With a report, the parameters the model was trained with that the config leaves
/// unset (hone's LightGBM defaults: objective, seed, threads, ...) are added as `model.params.*`.
fn params_of(cfg: &LoadedConfig, report: Option<&TrainReport>) -> Vec<(String, String)> {
    let c = &cfg.config;
    let mut p = std::collections::BTreeMap::new();
    if let Ok(v) = serde_json::to_value(cfg.resolved()) {
        flatten("", &v, &mut p);
    }
    // Defaults the config's own serialisation leaves unset.
    p.insert("model.type".into(), cfg.model.name().to_string());
    p.insert("model.refit_rounds".into(), cfg.refit.name());
    if let Some(f) = cfg.model.early_stopping_fraction() {
        p.insert("model.validation_fraction".into(), f.to_string());
    }
    p.insert("target.horizon".into(), c.target.horizon().to_string());
    p.insert("split.scheme".into(), c.split.name().to_string());
    p.insert("split.holdout".into(), c.split.holdout().to_string());
    if c.preprocess.impute.is_none() {
        // Only read with `impute = "constant"`.
        p.remove("preprocess.impute_value");
    }
    if let Some(resolved) = report.and_then(|r| r.model_params.as_ref()) {
        for (k, v) in resolved {
            let key = format!("model.params.{}", param_key(k));
            // The config's value wins: `num_iterations` resolved for the final refit is the
            // rounds cross-validation chose (a result, in metrics.json's `refit`), not a setting.
            if hone_track::validate_key("param", &key).is_ok() && !p.contains_key(&key) {
                p.insert(key, param_text(&serde_json::Value::String(v.clone())));
            }
        }
    }
    p.into_iter().collect()
}

fn log_fold(
    tracker: &Tracker,
    experiment: &str,
    parent: &RunHandle,
    f: &FoldReport,
    name: &str,
) -> hone_track::Result<()> {
    let run = tracker.start_run(
        experiment,
        Some(name),
        Some(parent),
        vec![kv(keys::FOLD, f.fold)],
    )?;
    run.log_params(&[
        kv("fold", f.fold),
        kv("train.rows", f.train.count),
        kv(
            "train.period",
            format!("{}..{}", f.train.first_time, f.train.last_time),
        ),
        kv("test.rows", f.test.count),
        kv(
            "test.period",
            format!("{}..{}", f.test.first_time, f.test.last_time),
        ),
        kv("selected_features", f.selected_features.join(",")),
    ])?;
    let mut values: Vec<(&str, f64)> = f.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    values.push(("best_iteration", f.best_iteration as f64));
    values.push(("iterations_run", f.iterations_run as f64));
    run.log_metrics(&values, 0)?;
    if let Some(metric) = &f.valid_metric
        && !f.valid_curve.is_empty()
    {
        run.log_series(&format!("valid.{metric}"), &f.valid_curve, 1)?;
    }
    run.end(RunStatus::Finished)
}

/// One input of a run as the run used it: the file's rows in `span` (its role in `context`),
/// with the run's features and task (and the file's fingerprint, `file_sha256`) as the
/// schema. The digest covers the file's fingerprint,
/// the schema and the rows, so two runs that use the same file differently (other features,
/// another holdout) record two datasets, never each other's rows or schema.
fn dataset_input(
    name: &str,
    source: &str,
    report: &TrainReport,
    context: &str,
    span: &crate::report::RowSpan,
) -> DatasetInput {
    use sha2::{Digest, Sha256};
    let schema = serde_json::json!({
        "features": report.features,
        "task": report.task,
        "rows": {"first": span.first_time, "last": span.last_time, "count": span.count},
        "file_sha256": report.fingerprint,
    })
    .to_string();
    let digest: String = Sha256::digest(format!(
        "{}\n{schema}\n{}..{}",
        report.fingerprint, span.first, span.last
    ))
    .iter()
    .take(10)
    .map(|b| format!("{b:02x}"))
    .collect();
    DatasetInput {
        name: name.to_string(),
        digest,
        source: source.to_string(),
        schema,
        rows: span.count as i64,
        context: context.into(),
        source_type: "local".into(),
        profile: String::new(),
    }
}

fn log_results(
    tracker: &Tracker,
    experiment: &str,
    parent: &RunHandle,
    cfg: &LoadedConfig,
    report: &TrainReport,
    files: &crate::output::Bundle,
) -> hone_track::Result<()> {
    parent.log_params(&params_of(cfg, Some(report)))?;
    let source = cfg.data_path.display().to_string();
    let name = cfg
        .data_path
        .file_stem()
        .map_or("data".into(), |s| s.to_string_lossy().into_owned());
    let mut inputs = vec![dataset_input(
        &name,
        &source,
        report,
        "train",
        &report.development,
    )];
    if let Some(h) = &report.holdout {
        inputs.push(dataset_input(&name, &source, report, "test", &h.rows));
    }
    parent.log_inputs(&inputs)?;
    let mut metrics: Vec<(String, f64)> = Vec::new();
    for (m, s) in &report.cv {
        metrics.push((format!("cv.{m}.mean"), s.mean));
        metrics.push((format!("cv.{m}.std"), s.std));
    }
    if let Some(h) = &report.holdout {
        for (m, v) in &h.metrics {
            metrics.push((format!("holdout.{m}"), *v));
        }
    }
    let refs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    parent.log_metrics(&refs, 0)?;
    let mut logged: std::collections::BTreeSet<String> =
        metrics.into_iter().map(|(k, _)| k).collect();
    for f in &report.folds {
        log_fold(tracker, experiment, parent, f, &format!("fold-{}", f.fold))?;
    }
    log_fold(tracker, experiment, parent, &report.final_model, "final")?;
    // The output files, from the bytes that were written: never read back from disk.
    for (name, bytes) in &files.files {
        parent.log_artifact_bytes(name, bytes)?;
    }
    if let Some(t) = &report.trading {
        let mut tm: Vec<(String, f64)> = Vec::new();
        for (prefix, s) in [("cv", Some(&t.cv)), ("holdout", t.holdout.as_ref())] {
            if let Some(s) = s
                && let Ok(serde_json::Value::Object(map)) = serde_json::to_value(s)
            {
                for (k, x) in map {
                    if let Some(f) = x.as_f64() {
                        tm.push((format!("{prefix}.trading.{k}"), f));
                    }
                }
            }
        }
        let refs: Vec<(&str, f64)> = tm.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        parent.log_metrics(&refs, 0)?;
        logged.extend(tm.into_iter().map(|(k, _)| k));
    }
    // Every other number a gate can name (dsr, pbo, gap.*, drift_share, rows, cv.*.min|max),
    // so that a registered version's gates can be re-evaluated from its stored metrics.
    let rest: Vec<(String, f64)> = crate::gates::values(report)
        .into_iter()
        .filter(|(k, v)| {
            v.is_finite() && !logged.contains(k) && hone_track::validate_key("metric", k).is_ok()
        })
        .collect();
    let refs: Vec<(&str, f64)> = rest.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    parent.log_metrics(&refs, 0)?;
    let dependencies = serde_json::json!({
        "hone": env!("CARGO_PKG_VERSION"),
        "lightgbm": hone_models::LIGHTGBM_VERSION,
        "lightgbm3-sys": hone_models::LIGHTGBM_SYS_VERSION,
    });
    let mut tags = vec![
        kv(keys::FINGERPRINT, &report.fingerprint),
        kv(keys::DEPENDENCIES, dependencies),
    ];
    if let Some(dir) = &report.out_dir {
        // Absolute, so that `hone evaluate RUN_ID` finds it from any working directory.
        let dir = std::path::absolute(dir).unwrap_or(dir.clone());
        tags.push(kv(keys::OUT_DIR, dir.display()));
    }
    if !report.gates.is_empty() {
        let passed = crate::gates::failed_hard(&report.gates).is_empty();
        tags.push(kv(keys::GATES_PASSED, passed));
        tags.push(kv(
            keys::GATES,
            serde_json::to_string(&report.gates).unwrap_or_default(),
        ));
    }
    parent.set_tags(&tags)?;
    Ok(())
}

/// Every point of one metric of a run (`hone runs history`), by step. A metric the run does not
/// have is a [`TrainError::Config`] naming the run and the key, with the nearest of its metrics
/// suggested, its metrics listed, and — for a `hone train` parent run, whose learning curves
/// live on its fold runs — the child runs that have the metric.
pub fn metric_series(
    store: &dyn hone_track::Store,
    run_id: &str,
    key: &str,
) -> Result<Vec<hone_track::MetricPoint>, TrainError> {
    let run = store.get_run(run_id)?;
    let points = store.metric_history(run_id, key)?;
    if !points.is_empty() {
        return Ok(points);
    }
    let names: Vec<&str> = run.metrics.iter().map(|m| m.key.as_str()).collect();
    let mut msg = format!("run {run_id} has no metric {key:?}");
    if let Some(near) = hone_models::suggest::nearest(key, names.iter().copied()) {
        msg.push_str(&format!("; did you mean {near:?}?"));
    }
    let mut holders = Vec::new();
    for child in store.child_runs(run_id)? {
        let c = store.get_run(&child.run_id)?;
        if c.metrics.iter().any(|m| m.key == key) {
            holders.push(format!("{} ({})", child.run_name, child.run_id));
        }
    }
    if !holders.is_empty() {
        msg.push_str(&format!("; its child runs have it: {}", holders.join(", ")));
    }
    if names.is_empty() {
        msg.push_str(" (it has no metrics)");
    } else {
        msg.push_str(&format!(" (its metrics: {})", names.join(", ")));
    }
    Err(TrainError::Config(msg))
}

/// Metric key of a run's out-of-fold per-period Sharpe ratio: one trial for later DSRs.
pub const TRIAL_SHARPE_KEY: &str = "cv.trading.sr_per_period";

/// The experiment's finished runs that ran a backtest, as trials: each one's per-period Sharpe
/// ratio and its out-of-fold equity CSV (every configuration tried counts, as selection bias
/// needs). Deleted runs are left out.
pub fn earlier_trials(
    tracker: &Tracker,
    experiment: &str,
) -> Result<Vec<crate::trading::Trial>, hone_track::TrackError> {
    let store = tracker.store();
    let Some(exp) = store.get_experiment_by_name(experiment)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let runs = hone_track::search_all(
        store,
        hone_track::SearchRequest {
            experiment_ids: vec![exp.experiment_id],
            max_results: 50_000,
            ..Default::default()
        },
    );
    for run in runs {
        let run = run?;
        if run.info.status != RunStatus::Finished {
            continue;
        }
        let Some(m) = run.metrics.iter().find(|m| m.key == TRIAL_SHARPE_KEY) else {
            continue;
        };
        if !m.point.value.is_finite() {
            continue;
        }
        // A trial whose equity file is gone still counts for DSR, not for PBO.
        let equity_csv = store
            .list_artifacts(&run.info.run_id)?
            .into_iter()
            .find(|a| a.path == "equity_cv.csv")
            .and_then(|a| {
                tracker
                    .blobs()
                    .get(&a.sha256, &run.info.run_id, &a.path)
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        out.push(crate::trading::Trial {
            sr: m.point.value,
            equity_csv,
        });
    }
    Ok(out)
}

/// Runs `hone train` and records it in the store, writing the outputs into `out_dir` (which
/// the caller claimed). The parent run is visible as RUNNING while the job trains; it ends
/// FINISHED, or FAILED (with the error as the tag `hone.error`).
pub fn run_train_tracked(
    cfg: &LoadedConfig,
    out_dir: &Path,
    tracker: &Tracker,
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> Result<(TrainReport, String), TrainError> {
    run_train_tracked_with(cfg, Outputs::Dir(out_dir), tracker, &[], on_event)
}

/// Claims a tracked job's output directory once its run exists, given the run id (so that a
/// default directory can carry it: `runs/<name>-<UTC time>-<run id[..8]>`).
pub type ClaimDir<'a> = dyn FnMut(&str) -> Result<OutDir, TrainError> + 'a;

/// Where a tracked job's output files go besides the store, which always gets them as the
/// run's artifacts.
pub enum Outputs<'a> {
    /// Into this directory, claimed by the caller.
    Dir(&'a Path),
    /// Into the directory the closure claims once the run exists; it is kept when the job
    /// succeeds and left as it was found when it fails ([`OutDir`]).
    Claim(&'a mut ClaimDir<'a>),
    /// Nowhere: no folder is written (`--no-outputs`); `hone evaluate RUN_ID` and `hone predict
    /// --model RUN_ID` read the model from the artifacts.
    None,
}

/// The file in a tracked job's output directory that names its run: `{"run_id", "experiment",
/// "store"}`. It ties the folder to the run, so that a folder a later job overwrote is never
/// taken for the earlier run's ([`run_of_dir`]).
pub const RUN_FILE: &str = "run.json";

/// The run whose outputs `dir` holds, from its [`RUN_FILE`] (`None`: no such file, or not
/// readable: an untracked job's folder, or one written before the file existed).
pub fn run_of_dir(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(RUN_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("run_id")?.as_str().map(str::to_string)
}

/// [`run_train_tracked`] with the outputs going where `outputs` says, counting `extra_trials`
/// (e.g. the trials of the search that chose this config) beside the experiment's earlier runs
/// in the deflated Sharpe ratio and PBO.
pub fn run_train_tracked_with(
    cfg: &LoadedConfig,
    outputs: Outputs<'_>,
    tracker: &Tracker,
    extra_trials: &[crate::trading::Trial],
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> Result<(TrainReport, String), TrainError> {
    run_tracked(cfg, outputs, tracker, extra_trials, &[], on_event)
}

/// [`run_train_tracked`] with no output folder and extra tags on the run (a queued job's
/// `hone.job_id`).
pub fn run_train_tracked_tagged(
    cfg: &LoadedConfig,
    tracker: &Tracker,
    extra_tags: &[(&str, &str)],
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> Result<(TrainReport, String), TrainError> {
    run_tracked(cfg, Outputs::None, tracker, &[], extra_tags, on_event)
}

/// Starts the resource monitor of a run ([`crate::monitor`], interval from
/// `HONE_SYSTEM_METRICS_INTERVAL`): its samples go to the run as `system/*` metrics, step =
/// sample number. `None` when disabled.
pub fn monitor_run(run: &RunHandle) -> Result<Option<ResourceMonitor>, TrainError> {
    let Some(interval) = crate::monitor::interval_from_env().map_err(TrainError::Config)? else {
        return Ok(None);
    };
    let handle = run.clone();
    Ok(Some(ResourceMonitor::start(
        interval,
        Box::new(move |step, _at, values| {
            let values: Vec<(&str, f64)> = values
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| (k.as_str(), *v))
                .collect();
            // Best effort: a sample that cannot be queued must not fail the job.
            let _ = handle.log_metrics(&values, i64::try_from(step).unwrap_or(i64::MAX));
        }),
    )))
}

/// Stops a run's monitor and logs its summary (peak RSS, CPU seconds) to the run.
pub fn finish_monitor(run: &RunHandle, monitor: Option<ResourceMonitor>) {
    if let Some(m) = monitor {
        let summary = m.stop().metrics();
        let values: Vec<(&str, f64)> = summary
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        let _ = run.log_metrics(&values, 0);
    }
}

fn run_tracked(
    cfg: &LoadedConfig,
    outputs: Outputs<'_>,
    tracker: &Tracker,
    extra_trials: &[crate::trading::Trial],
    extra_tags: &[(&str, &str)],
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> Result<(TrainReport, String), TrainError> {
    let experiment = experiment_name(cfg);
    let mut tags = hone_track::env::capture(env!("CARGO_PKG_VERSION"));
    for (k, v) in extra_tags {
        tags.push(kv(k, v));
    }
    tags.push(kv(keys::CONFIG, cfg.path.display()));
    if !cfg.overrides.is_empty() {
        let texts: Vec<&str> = cfg.overrides.iter().map(|o| o.text.as_str()).collect();
        tags.push(kv(
            keys::OVERRIDES,
            serde_json::to_string(&texts).unwrap_or_default(),
        ));
    }
    // Earlier trials first, so this run (RUNNING, no metrics yet) is never one of them.
    let mut earlier = earlier_trials(tracker, &experiment)?;
    earlier.extend_from_slice(extra_trials);
    let parent = tracker.start_run(&experiment, Some(&cfg.name()), None, tags)?;
    let monitor = std::cell::Cell::new(monitor_run(&parent)?);
    let fail = |e: &dyn std::fmt::Display| {
        finish_monitor(&parent, monitor.take());
        let _ = parent.set_tags(&[kv(keys::ERROR, e)]);
        let _ = parent.end(RunStatus::Failed);
    };
    let (claimed, out_dir) = match outputs {
        Outputs::Dir(dir) => (None, Some(dir.to_path_buf())),
        Outputs::Claim(claim) => match claim(&parent.run_id) {
            Ok(dir) => {
                let path = dir.path().to_path_buf();
                (Some(dir), Some(path))
            }
            Err(e) => {
                let _ = parent.log_params(&params_of(cfg, None));
                fail(&e);
                return Err(e);
            }
        },
        Outputs::None => (None, None),
    };
    let run_file = serde_json::json!({
        "run_id": parent.run_id,
        "experiment": experiment,
        "store": tracker.store().location(),
    });
    // While the job trains, each fold's scores go to the parent run as it is scored
    // (`cv.fold.<metric>` at step = fold number), so a dashboard or MLflow client following
    // the RUNNING run sees it progress; the folds' own runs and curves are logged at the end.
    // A neural model's epochs go to the parent run as they finish, one series per fold:
    // `fold_<k>.train_loss`, `.valid_loss`, `.valid_<metric>`, `.learning_rate` and
    // `.epoch_seconds` at step = epoch (`final.*` for the final refit).
    let mut fold_now: Option<(usize, usize)> = None;
    let mut live = |e: crate::Event<'_>| {
        if let crate::Event::FoldStarted { fold, n_folds, .. } = &e {
            fold_now = Some((*fold, *n_folds));
        }
        if let (
            crate::Event::Round {
                round,
                epoch: Some(stats),
                ..
            },
            Some((fold, n_folds)),
        ) = (&e, fold_now)
        {
            let prefix = if fold >= n_folds {
                "final".to_string()
            } else {
                format!("fold_{}", fold + 1)
            };
            let mut values: Vec<(String, f64)> = vec![
                (format!("{prefix}.train_loss"), stats.train_loss),
                (format!("{prefix}.learning_rate"), stats.learning_rate),
                (format!("{prefix}.epoch_seconds"), stats.seconds),
            ];
            if let Some(v) = stats.valid_loss {
                values.push((format!("{prefix}.valid_loss"), v));
            }
            if let Some((name, v)) = stats.valid_metric {
                values.push((format!("{prefix}.valid_{name}"), v));
            }
            let values: Vec<(&str, f64)> = values
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| (k.as_str(), *v))
                .collect();
            // Best effort, as for the fold scores below.
            let _ = parent.log_metrics(&values, *round as i64);
        }
        if let crate::Event::FoldFinished { fold, metrics } = &e {
            let keys: Vec<String> = metrics
                .iter()
                .map(|(m, _)| format!("cv.fold.{}", m.name()))
                .collect();
            let values: Vec<(&str, f64)> = keys
                .iter()
                .zip(metrics.iter())
                .filter(|(_, (_, v))| v.is_finite())
                .map(|(k, (_, v))| (k.as_str(), *v))
                .collect();
            // Best effort: a progress point that cannot be queued must not fail the job.
            let _ = parent.log_metrics(&values, *fold as i64 + 1);
        }
        on_event(e)
    };
    let job = run_job(cfg, out_dir.as_deref(), &earlier, &mut live).and_then(|out| {
        if let Some(dir) = &out_dir {
            out.files.write_to(dir)?;
            let path = dir.join(RUN_FILE);
            let text = serde_json::to_string_pretty(&run_file).unwrap_or_default();
            crate::output::write_atomic(&path, text.as_bytes()).map_err(|e| {
                TrainError::Output {
                    path,
                    message: e.to_string(),
                }
            })?;
        }
        Ok(out)
    });
    match job {
        Ok(TrainOutput { report, files }) => {
            if let Err(e) = log_results(tracker, &experiment, &parent, cfg, &report, &files) {
                fail(&e);
                return Err(e.into());
            }
            finish_monitor(&parent, monitor.take());
            parent.end(RunStatus::Finished)?;
            if let Some(dir) = claimed {
                dir.commit();
            }
            Ok((report, parent.run_id.clone()))
        }
        Err(e) => {
            let _ = parent.log_params(&params_of(cfg, None));
            fail(&e);
            Err(e)
        }
    }
}
