//! `hone retrain`: what a production retraining schedule would have done on history.
//!
//! For each policy (retrain every `k` timestamps — rows, for a single series), the simulation
//! starts at the same timestamp `t0` (`start`, a share of the timestamps, default 0.5) and
//! walks forward: at each boundary `b = t0, t0 + k, ...` it fits the config's whole pipeline
//! on the data available at `b` — the timestamps before `b` whose labels have been realised by
//! then (label end `< b`), all of them (`expanding`) or the last `N` (`rolling:N`) — and
//! predicts the timestamps `b .. b + k` with that model. The out-of-sample predictions are
//! stitched over `t0 ..` and scored the same way for every policy: the job's metrics (IC and
//! rank IC for a panel), the `[portfolio]` or `[trading]` backtest, and how far each model's
//! predictions moved from its predecessor's on the same rows (model drift, as a rank
//! correlation). Each policy is compared with the most frequent one by Diebold–Mariano (HLN)
//! on the per-timestamp losses of the stitched predictions (squared error, or log loss).

use std::time::Instant;

use hone_models::observer::Flow;
use hone_models::pipeline::PipelineSpec;
use hone_validate::metrics::{Task, evaluate};
use serde::Serialize;

use crate::TrainError;
use crate::config::LoadedConfig;
use crate::job::{JobContext, fit_and_score, panel_signal};

/// The training window of each retrain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Every timestamp since the start of the data.
    Expanding,
    /// The last `N` timestamps.
    Rolling(usize),
}

impl std::str::FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "expanding" => Ok(Window::Expanding),
            _ => match s.strip_prefix("rolling:").map(str::parse::<usize>) {
                Some(Ok(n)) if n >= 2 => Ok(Window::Rolling(n)),
                _ => Err(format!(
                    "--window must be `expanding` or `rolling:N` (N ≥ 2 timestamps), got {s:?}"
                )),
            },
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Window::Expanding => f.write_str("expanding"),
            Window::Rolling(n) => write!(f, "rolling:{n}"),
        }
    }
}

/// What `hone retrain` simulates.
#[derive(Debug, Clone)]
pub struct RetrainSpec {
    /// Retrain every this many timestamps, one policy each.
    pub every: Vec<usize>,
    /// The training window.
    pub window: Window,
    /// Share of the timestamps before the simulation starts, in (0, 1).
    pub start: f64,
}

/// One policy's result.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// Retrain every this many timestamps.
    pub every: usize,
    /// Models trained.
    pub retrains: usize,
    /// The job's metrics on the stitched out-of-sample predictions.
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// A panel's IC and rank IC summaries (ICIR, t-statistic, hit rate).
    pub cross_section: Option<crate::portfolio::CrossSectionReport>,
    /// The `[portfolio]` (panel) or `[trading]` (series) backtest of the stitched predictions.
    pub trading: Option<crate::trading::TradingSummary>,
    /// The portfolio's extra figures.
    pub portfolio: Option<crate::portfolio::PortfolioSummary>,
    /// Mean Spearman correlation between each model's predictions and its predecessor's on
    /// the same rows (1: retraining changed nothing; lower: the model drifts).
    pub model_agreement: Option<f64>,
    /// Mean per-timestamp loss of the stitched predictions.
    pub mean_loss: f64,
    /// Diebold–Mariano (HLN) against the most frequent policy: statistic, p-value (absent
    /// for that policy itself). Negative: this policy's losses are lower.
    pub dm_vs_most_frequent: Option<(f64, f64)>,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The stitched out-of-sample predictions: time, asset (empty for a series), signal
    /// (the prediction; P(class 1); P(top) − P(bottom)). Written as the tracked run's
    /// `predictions_every_<k>.csv`, not in `retrain.json`.
    #[serde(skip)]
    pub predictions: Vec<(String, String, f64)>,
}

/// `hone retrain`'s report (`retrain.json`).
#[derive(Debug, Clone, Serialize)]
pub struct RetrainReport {
    /// The job's name.
    pub name: String,
    /// The training window.
    pub window: String,
    /// First simulated timestamp.
    pub start: String,
    /// Last simulated timestamp.
    pub end: String,
    /// Timestamps simulated.
    pub timestamps: usize,
    /// One entry per policy, in the order given.
    pub policies: Vec<PolicyReport>,
    /// What the user should know.
    pub notes: Vec<String>,
}

/// Progress of a retraining simulation.
#[derive(Debug, Clone, Copy)]
pub struct RetrainProgress {
    /// Policy index.
    pub policy: usize,
    /// Retrains done in this policy.
    pub done: usize,
    /// Retrains this policy makes.
    pub total: usize,
}

/// Runs the simulation (see the module docs).
pub fn run_retrain(
    cfg: &LoadedConfig,
    spec: &RetrainSpec,
    on_progress: &mut dyn FnMut(RetrainProgress),
) -> Result<RetrainReport, TrainError> {
    if spec.every.is_empty() || spec.every.contains(&0) {
        return Err(TrainError::Config(
            "--every takes retraining periods of at least 1 timestamp, e.g. 21,63,252".into(),
        ));
    }
    if !(spec.start > 0.0 && spec.start < 1.0) {
        return Err(TrainError::Config(format!(
            "--start must be a share of the timestamps in (0, 1), got {}",
            spec.start
        )));
    }
    let c = &cfg.config;
    let mut notes = Vec::new();
    let ds = crate::job::load_dataset(cfg, c.data.time_column.is_some())?;
    notes.extend(ds.notes.iter().cloned());
    let task = crate::job::task_of(&ds, c.target.task_kind()?);
    // Timestamps: a panel's distinct ones, or the rows of a series.
    let n_rows = ds.n_rows();
    let (n_times, starts, label_end): (usize, Vec<usize>, Vec<usize>) = match &ds.panel {
        Some(p) => (p.n_times(), p.time_starts.clone(), p.time_label_end.clone()),
        None => (n_rows, (0..=n_rows).collect(), ds.label_end.clone()),
    };
    let t0 = ((n_times as f64) * spec.start).round() as usize;
    if t0 < 2 || t0 >= n_times {
        return Err(TrainError::Config(format!(
            "--start {} leaves no history or nothing to simulate over {n_times} timestamps",
            spec.start
        )));
    }
    let rows_of = |a: usize, b: usize| (starts[a]..starts[b]).collect::<Vec<usize>>();
    let metrics = crate::job::job_metrics(cfg, task, ds.panel.is_some())?;
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
    let periods = match &ds.panel {
        Some(_) => crate::job::panel_periods(cfg, &ds).0,
        None => c
            .trading
            .as_ref()
            .map(|t| t.for_data(&ds.times).0.periods())
            .unwrap_or(crate::trading::FALLBACK_PERIODS_PER_YEAR),
    };
    let sim_rows = rows_of(t0, n_times);
    let mut policies = Vec::new();
    // Per policy: the stitched output (per simulated row) for the losses.
    let mut stitched: Vec<Vec<f64>> = Vec::new();
    for (k, &every) in spec.every.iter().enumerate() {
        let started = Instant::now();
        let boundaries: Vec<usize> = (t0..n_times).step_by(every).collect();
        let width = task.n_outputs();
        let mut output = vec![f64::NAN; sim_rows.len() * width];
        let mut agreements = Vec::new();
        let mut previous: Option<hone_models::pipeline::FittedPipeline> = None;
        for (j, &b) in boundaries.iter().enumerate() {
            on_progress(RetrainProgress {
                policy: k,
                done: j,
                total: boundaries.len(),
            });
            let first = match spec.window {
                Window::Expanding => 0,
                Window::Rolling(n) => b.saturating_sub(n),
            };
            // Only labels realised by `b` are known at `b`.
            let train: Vec<usize> = (first..b)
                .filter(|&t| label_end[t] < b)
                .flat_map(|t| starts[t]..starts[t + 1])
                .collect();
            if train.len() < crate::job::MIN_TRAIN_ROWS {
                return Err(TrainError::Config(format!(
                    "retrain every {every}: {} has {} training row(s) with known labels; use a \
                     later --start or a longer window",
                    ds.times[starts[b]],
                    train.len()
                )));
            }
            let end = (b + every).min(n_times);
            let test = rows_of(b, end);
            let (fitted, scored) = fit_and_score(
                &job,
                &train,
                &test,
                &format!("retrain every {every} at {}", ds.times[starts[b]]),
                false,
                &mut |_: &hone_models::observer::StepReport| Flow::Continue,
            )?;
            let offset = starts[b] - starts[t0];
            output[offset * width..(offset + test.len()) * width].copy_from_slice(&scored.output);
            if let Some(prev) = &previous {
                let before =
                    crate::job::predict_rows(prev, &ds.features, &test).map_err(|source| {
                        TrainError::Model {
                            context: format!("retrain every {every}: the previous model"),
                            source,
                        }
                    })?;
                let a = panel_signal(task, &before);
                let bb = panel_signal(task, &scored.output);
                let rho = crate::portfolio::spearman(&a, &bb);
                if rho.is_finite() {
                    agreements.push(rho);
                }
            }
            previous = Some(fitted);
        }
        on_progress(RetrainProgress {
            policy: k,
            done: boundaries.len(),
            total: boundaries.len(),
        });
        let stitched_output = crate::job::Scored {
            rows: sim_rows.clone(),
            y_true: sim_rows.iter().map(|&i| ds.target[i]).collect(),
            output,
            train: (Vec::new(), Vec::new()),
            times: crate::job::panel_times(&ds, &sim_rows),
        };
        let (y, output) = (&stitched_output.y_true, &stitched_output.output);
        let values =
            evaluate(task, &metrics, &stitched_output.predictions(task)).map_err(|source| {
                TrainError::Metric {
                    context: format!("retrain every {every}"),
                    source,
                }
            })?;
        let signal: Vec<(usize, f64)> = sim_rows
            .iter()
            .copied()
            .zip(panel_signal(task, output))
            .collect();
        let (mut cross_section, mut trading, mut portfolio) = (None, None, None);
        if let Some(p) = &ds.panel {
            let forward: Vec<Vec<f64>> = ds
                .next_return
                .as_ref()
                .map(|next| {
                    (1..=c.target.horizon().max(5))
                        .map(|h| crate::portfolio::forward_returns(p, next, h))
                        .collect()
                })
                .unwrap_or_default();
            cross_section = Some(crate::portfolio::cross_section_report(
                p, &signal, &ds.target, &forward, periods,
            ));
            if let (Some(pc), Some(next)) = (&c.portfolio, &ds.next_return) {
                let (t, s, _) =
                    crate::portfolio::backtest(pc, periods, p, &ds.times, next, &signal)?;
                trading = Some(t);
                portfolio = Some(s);
            }
        } else if let (Some(tc), Some(next)) = (&c.trading, &ds.next_return) {
            let (tc, _) = tc.for_data(&ds.times);
            let pos = tc.positions(task, output);
            let times: Vec<String> = sim_rows.iter().map(|&i| ds.times[i].clone()).collect();
            let rets: Vec<f64> = sim_rows.iter().map(|&i| next[i]).collect();
            trading = Some(tc.backtest(&times, &pos, &rets)?.0);
        }
        stitched.push(losses_by_time(task, y, output, &starts, t0, n_times));
        policies.push(PolicyReport {
            every,
            retrains: boundaries.len(),
            metrics: values
                .iter()
                .map(|(m, v)| (m.name().to_string(), *v))
                .collect(),
            cross_section,
            trading,
            portfolio,
            model_agreement: (!agreements.is_empty())
                .then(|| agreements.iter().sum::<f64>() / agreements.len() as f64),
            mean_loss: f64::NAN,
            dm_vs_most_frequent: None,
            seconds: started.elapsed().as_secs_f64(),
            predictions: signal
                .iter()
                .map(|&(r, v)| {
                    let asset = ds
                        .panel
                        .as_ref()
                        .map(|p| p.asset_names[p.assets[r] as usize].clone())
                        .unwrap_or_default();
                    (ds.times[r].clone(), asset, v)
                })
                .collect(),
        });
    }
    // Diebold–Mariano against the most frequent policy, on the per-timestamp losses.
    let base = (0..spec.every.len())
        .min_by_key(|&k| spec.every[k])
        .unwrap_or(0);
    let h = c.target.horizon().max(1);
    for k in 0..policies.len() {
        let l = &stitched[k];
        policies[k].mean_loss = l.iter().sum::<f64>() / l.len().max(1) as f64;
        if k == base {
            continue;
        }
        let d: Vec<f64> = l.iter().zip(&stitched[base]).map(|(a, b)| a - b).collect();
        if let Ok(t) =
            hone_validate::compare::diebold_mariano(&d, h.min(d.len().saturating_sub(1)).max(1))
        {
            policies[k].dm_vs_most_frequent = Some((t.statistic, t.p_value));
        }
    }
    Ok(RetrainReport {
        name: cfg.name(),
        window: spec.window.to_string(),
        start: ds.times[starts[t0]].clone(),
        end: ds.times[n_rows - 1].clone(),
        timestamps: n_times - t0,
        policies,
        notes,
    })
}

/// The mean loss at each simulated timestamp: squared error (regression) or log loss
/// (classification, probabilities clipped at 1e-15).
fn losses_by_time(
    task: Task,
    y: &[f64],
    output: &[f64],
    starts: &[usize],
    t0: usize,
    n_times: usize,
) -> Vec<f64> {
    let width = task.n_outputs();
    let loss = |i: usize| -> f64 {
        match task {
            Task::Regression => (output[i] - y[i]).powi(2),
            Task::Binary => {
                let p = output[i].clamp(1e-15, 1.0 - 1e-15);
                if y[i] >= 0.5 {
                    -p.ln()
                } else {
                    -(1.0 - p).ln()
                }
            }
            Task::Multiclass { .. } => {
                let p = output[i * width + y[i] as usize].clamp(1e-15, 1.0);
                -p.ln()
            }
        }
    };
    let base = starts[t0];
    (t0..n_times)
        .map(|t| {
            let (a, b) = (starts[t] - base, starts[t + 1] - base);
            (a..b).map(loss).sum::<f64>() / (b - a).max(1) as f64
        })
        .collect()
}

/// Runs the simulation as a tracked run of the config's experiment (tag `hone.kind` =
/// `retrain`): params `retrain.every`, `retrain.window`, `retrain.start`; metrics
/// `retrain.every_<k>.<name>` (the job's metrics, `rank_ic.icir`, `trading.sharpe`,
/// `model_agreement`, `mean_loss`, `dm_p_value`); the report as `retrain.json`. Returns the
/// report and the run id.
pub fn run_retrain_tracked(
    cfg: &LoadedConfig,
    spec: &RetrainSpec,
    tracker: &hone_track::Tracker,
    on_progress: &mut dyn FnMut(RetrainProgress),
) -> Result<(RetrainReport, String), TrainError> {
    let experiment = crate::tracking::experiment_name(cfg);
    let track = |e: hone_track::TrackError| TrainError::Config(format!("tracking: {e}"));
    let run = tracker
        .start_run(
            &experiment,
            Some(&format!("{}-retrain", cfg.name())),
            None,
            vec![("hone.kind".into(), "retrain".into())],
        )
        .map_err(track)?;
    let result = run_retrain(cfg, spec, on_progress);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = run.end(hone_track::RunStatus::Failed);
            return Err(e);
        }
    };
    let every: Vec<String> = spec.every.iter().map(usize::to_string).collect();
    run.log_params(&[
        ("retrain.every".into(), every.join(",")),
        ("retrain.window".into(), spec.window.to_string()),
        ("retrain.start".into(), spec.start.to_string()),
        ("data.path".into(), cfg.data_path.display().to_string()),
    ])
    .map_err(track)?;
    let mut metrics: Vec<(String, f64)> = Vec::new();
    for p in &report.policies {
        let key = |k: &str| format!("retrain.every_{}.{k}", p.every);
        for (m, v) in &p.metrics {
            metrics.push((key(m), *v));
        }
        if let Some(ic) = p.cross_section.as_ref().and_then(|c| c.rank_ic.as_ref()) {
            metrics.push((key("rank_ic.icir"), ic.icir));
            metrics.push((key("rank_ic.t_stat"), ic.t_stat));
        }
        if let Some(t) = &p.trading {
            metrics.push((key("trading.sharpe"), t.metrics.sharpe));
            metrics.push((key("trading.annual_return"), t.metrics.annual_return));
        }
        if let Some(a) = p.model_agreement {
            metrics.push((key("model_agreement"), a));
        }
        metrics.push((key("mean_loss"), p.mean_loss));
        metrics.push((key("retrains"), p.retrains as f64));
        if let Some((_, pv)) = p.dm_vs_most_frequent {
            metrics.push((key("dm_p_value"), pv));
        }
    }
    let refs: Vec<(&str, f64)> = metrics
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    run.log_metrics(&refs, 0).map_err(track)?;
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| TrainError::Config(format!("retrain report: {e}")))?;
    run.log_artifact_bytes("retrain.json", &json)
        .map_err(track)?;
    for p in &report.policies {
        let mut csv = String::from("time,asset,signal\n");
        for (t, a, v) in &p.predictions {
            csv.push_str(&format!(
                "{},{},{v}\n",
                crate::output::csv_field(t),
                crate::output::csv_field(a)
            ));
        }
        run.log_artifact_bytes(
            &format!("predictions_every_{}.csv", p.every),
            csv.as_bytes(),
        )
        .map_err(track)?;
    }
    let config = std::fs::read(&cfg.path).unwrap_or_default();
    run.log_artifact_bytes("config.toml", &config)
        .map_err(track)?;
    run.end(hone_track::RunStatus::Finished).map_err(track)?;
    Ok((report, run.run_id.clone()))
}
