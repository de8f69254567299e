//! `hone tune` as one library call: [`run_tune`] opens (or resumes) the study in the tracking
//! store, runs the search, records each trial's backtest where the refit's deflated Sharpe
//! ratio and PBO read it, summarises the study, refits the best parameters like `hone train`
//! (tagged with the study) and writes `tune.json`. The CLI, a server or a worker call it the
//! same way and only present the [`TuneOutcome`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hone_study::{TrackTrialStore, load_study, open_or_create_study, trial_json};
use hone_track::{ArtifactRecord, Backend, Metric, MetricPoint, Tracker, keys};
use hone_tune::adapt::SpaceRevision;
use hone_tune::space::{ParamValue, SearchSpace};
use hone_tune::study::TrialStore;
use hone_tune::study::{Study, StudyDef};
use hone_tune::trial::{Trial, TrialState};
use serde_json::json;

use crate::config::LoadedConfig;
use crate::output::OutDir;
use crate::tune::{TuneEnd, TuneEvent, TuneSpec, apply, best_values, prepare_search, run_search};
use crate::{Event, TrainError, TrainReport};

/// Claims the refit's output directory, given the study's name and the refit's run id.
pub type ClaimOut<'a> = dyn FnMut(&str, &str) -> Result<OutDir, TrainError> + 'a;

/// Whether [`run_tune`] refits the best parameters, and where the refit's files go.
pub enum RefitTo<'a> {
    /// No refit (search only).
    Skip,
    /// Refit into the directory the closure claims (given the study's name and the run id),
    /// plus the store.
    Folder(&'a mut ClaimOut<'a>),
    /// Refit, its files (and `tune.json`) only as the run's artifacts (`--no-outputs`).
    StoreOnly,
}

/// What [`run_tune`] needs besides the config and its `[search]` table.
pub struct TuneRequest<'a> {
    /// The config (with a `[search]` table).
    pub cfg: &'a LoadedConfig,
    /// The search, parsed from it.
    pub spec: &'a TuneSpec,
    /// The store the study lives in.
    pub store: Arc<dyn Backend>,
    /// The tracker the refit and the trial backtests are recorded with (same store).
    pub tracker: &'a Tracker,
    /// Trials listed in [`TuneOutcome::top`].
    pub top: usize,
    /// Set to stop the search (Ctrl-C): running trials end at their next step, marked FAIL.
    pub stop: &'a AtomicBool,
    /// Whether to refit, and where its files go.
    pub refit: RefitTo<'a>,
}

/// What a caller hears while [`run_tune`] runs (progress bars, logs).
pub trait TuneObserver: Sync {
    /// The study is open: its definition, whether it was resumed, its trials by state.
    fn on_study(&self, def: &StudyDef, resumed: bool, counts: [usize; 5]) {
        let _ = (def, resumed, counts);
    }
    /// A search event (trial started or finished), from the worker threads.
    fn on_search(&self, event: TuneEvent) {
        let _ = event;
    }
    /// Something the user should know that does not stop the search.
    fn on_warning(&self, message: &str) {
        let _ = message;
    }
    /// What a warm start took from earlier studies (one line each).
    fn on_note(&self, message: &str) {
        let _ = message;
    }
    /// The refit is about to start.
    fn on_refit(&self) {}
}

/// The refit of the best parameters.
#[derive(Debug, Clone)]
pub struct Refit {
    /// Its report (as `hone train`'s).
    pub report: TrainReport,
    /// Its tracked run.
    pub run_id: String,
    /// Its output directory (with `tune.json`; `None` with [`RefitTo::StoreOnly`]).
    pub out_dir: Option<PathBuf>,
}

/// How a search went.
#[derive(Debug, Clone)]
pub struct TuneOutcome {
    /// The study.
    pub def: StudyDef,
    /// Why the search ended.
    pub end: TuneEnd,
    /// Trials COMPLETE, PRUNED and FAIL.
    pub complete: usize,
    /// PRUNED trials.
    pub pruned: usize,
    /// FAIL trials.
    pub failed: usize,
    /// The best trial and its values as config paths (`None` after an interrupt).
    pub best: Option<(Trial, Vec<(String, ParamValue)>)>,
    /// The best COMPLETE trials on the first objective, best first.
    pub top: Vec<Trial>,
    /// The Pareto front (one trial for a single objective).
    pub front: Vec<Trial>,
    /// Parameter importances (PED-ANOVA on the first objective).
    pub importances: Vec<(String, f64)>,
    /// The refit, when asked for.
    pub refit: Option<Refit>,
    /// What the warm start took, dropped, clipped or drew (`[search] warm_start`).
    pub warm_start: Vec<String>,
    /// The search space's revisions (`[search] adapt`), in order.
    pub revisions: Vec<SpaceRevision>,
    /// The search space after them.
    pub space: SearchSpace,
    /// Warnings about the search itself (searched parameters that make trials incomparable,
    /// [`TuneSpec::incomparable_trials`]); also told to the observer at the start, written to
    /// `tune.json` and tagged on the refit's run.
    pub warnings: Vec<String>,
}

/// Runs a whole search; see the module documentation. `on_refit_event` hears the refit's
/// progress. An interrupted search returns its outcome with [`TuneEnd::Interrupted`] and no
/// refit; a search where no trial completed is an error.
pub fn run_tune(
    req: TuneRequest<'_>,
    observer: &dyn TuneObserver,
    on_refit_event: &mut dyn FnMut(Event<'_>),
) -> Result<TuneOutcome, TrainError> {
    let TuneRequest {
        cfg,
        spec,
        store,
        tracker,
        top,
        stop,
        refit,
    } = req;
    // Trials of a worker that died (kill -9, power loss) are RUNNING with an expired lease:
    // mark them KILLED now so the study reads them as FAIL and their budget is not lost.
    store.reap()?;
    // Said before any trial runs, so a user can stop a search that cannot mean anything.
    let warnings = spec.incomparable_trials();
    for w in &warnings {
        observer.on_warning(w);
    }
    // Data, folds and the objective are checked before the study exists, and so are the
    // studies a warm start reads.
    let shared = prepare_search(cfg, spec)?;
    let mut sources = Vec::new();
    for ws in &spec.warm_start {
        let (src, id) = load_study(store.as_ref(), &ws.study).map_err(|e| {
            TrainError::Config(format!("{}: [search] warm_start: {e}", cfg.path.display()))
        })?;
        let trials = TrackTrialStore::new(store.clone(), id, src.clone(), true)
            .load(0, &[])
            .map_err(tune_err)?;
        sources.push((ws.clone(), src, trials));
    }
    let (def, experiment_id, resumed) =
        open_or_create_study(store.as_ref(), &spec.study).map_err(tune_err)?;
    // Intermediate values (every boosting round with steps = "rounds") are written in batches.
    let trial_store = Arc::new(
        TrackTrialStore::new(store.clone(), experiment_id, def.clone(), false).batching_reports(),
    );
    // An adaptive range never moves to a value the trainer refuses (a LightGBM limit).
    let check_cfg = cfg.clone();
    let study = Study::open(def.clone(), trial_store.clone())
        .map_err(tune_err)?
        .with_bound_check(Box::new(move |p, v| {
            apply(
                &check_cfg,
                &[(p.name.clone(), p.distribution.external(v))],
                None,
            )
            .is_ok()
        }));
    // The warm start: priors every time (they are not stored), enqueued trials once.
    let mut warm_notes = Vec::new();
    let study = if sources.is_empty() {
        study
    } else {
        let uses_priors = def
            .sampler
            .build(&study.space(), &def.directions)
            .map_err(tune_err)?
            .uses_priors();
        let plan = crate::warm::plan(&def, &study.space(), uses_priors, &sources);
        if !resumed {
            for values in &plan.enqueue {
                study.enqueue(values).map_err(tune_err)?;
            }
        } else {
            warm_notes.push("resumed: the enqueued trials were added when the study began".into());
        }
        warm_notes.extend(plan.notes);
        study.with_priors(plan.priors).map_err(tune_err)?
    };
    observer.on_study(&def, resumed, study.counts());
    for n in &warm_notes {
        observer.on_note(n);
    }
    // A resumed adaptive study says which space it continues in.
    for r in study.revisions() {
        observer.on_search(TuneEvent::Revised(r));
    }
    let on_event = |e: TuneEvent| {
        if let TuneEvent::Finished(f) = &e
            && let Some(tr) = &f.trading
            && let Err(err) = record_backtest(tracker, &trial_store, f.trial.number, tr)
        {
            observer.on_warning(&format!("trial {}: {err}", f.trial.number));
        }
        if let TuneEvent::Finished(f) = &e
            && !f.costs.is_empty()
            && let Err(err) = record_costs(tracker, &trial_store, f.trial.number, &f.costs)
        {
            observer.on_warning(&format!("trial {}: {err}", f.trial.number));
        }
        observer.on_search(e);
    };
    let end = run_search(cfg, spec, &study, shared.as_ref(), stop, &on_event);
    // Whatever the search ended with, the reports it held back reach the store.
    let flushed = trial_store.flush_reports();
    let end = end?;
    flushed.map_err(tune_err)?;
    let [complete, pruned, failed, ..] = study.counts();
    let mut outcome = TuneOutcome {
        def: def.clone(),
        end: end.clone(),
        complete,
        pruned,
        failed,
        best: None,
        top: Vec::new(),
        front: Vec::new(),
        importances: Vec::new(),
        refit: None,
        revisions: study.revisions(),
        warm_start: warm_notes.clone(),
        space: study.space(),
        warnings: warnings.clone(),
    };
    if end == TuneEnd::Interrupted {
        return Ok(outcome);
    }

    // Summary: best (or Pareto front), top-k, importances.
    let trials = study.trials();
    let mut finished: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    let d0 = def.directions[0];
    finished.sort_by(|a, b| {
        let la = d0.loss(a.values.as_ref().map_or(f64::NAN, |v| v[0]));
        let lb = d0.loss(b.values.as_ref().map_or(f64::NAN, |v| v[0]));
        la.total_cmp(&lb)
    });
    outcome.top = finished.iter().take(top).map(|t| (*t).clone()).collect();
    outcome.front = study.best_trials();
    outcome.importances = hone_tune::importance::ped_anova(&outcome.space, &trials, d0);
    let Some((best, best_params)) = best_values(&study, spec.select) else {
        return Err(TrainError::Invalid(format!(
            "no trial completed ({pruned} pruned, {failed} failed); nothing to refit"
        )));
    };

    // Final refit with the best params, holdout scored once, saved and tracked like `hone train`.
    if !matches!(refit, RefitTo::Skip) {
        let best_cfg = apply(cfg, &best_params, None)?;
        observer.on_refit();
        // Every trial of the search counts in the refit's deflated Sharpe ratio and PBO.
        let searched = crate::tracking::earlier_trials(tracker, &def.name)?;
        let study_name = def.name.clone();
        let mut claim_named;
        let outputs = match refit {
            RefitTo::Folder(claim_out) => {
                claim_named = move |run_id: &str| claim_out(&study_name, run_id);
                crate::tracking::Outputs::Claim(&mut claim_named)
            }
            _ => crate::tracking::Outputs::None,
        };
        let (report, run_id) = crate::tracking::run_train_tracked_with(
            &best_cfg,
            outputs,
            tracker,
            &searched,
            on_refit_event,
        )?;
        let out = report.out_dir.clone();
        store.log_batches(&[hone_track::store::Batch {
            run_id: run_id.clone(),
            // The search that chose these parameters, beside the config they were applied to.
            params: cfg
                .config
                .search
                .as_ref()
                .map(crate::tracking::search_params)
                .unwrap_or_default(),
            tags: {
                let mut tags = vec![
                    (keys::STUDY_NAME.into(), def.name.clone()),
                    (keys::STUDY_BEST_TRIAL.into(), best.number.to_string()),
                ];
                if !warnings.is_empty() {
                    tags.push((
                        keys::STUDY_WARNINGS.into(),
                        serde_json::to_string(&warnings).unwrap_or_default(),
                    ));
                }
                tags
            },
            ..Default::default()
        }])?;
        let tune_json = json!({
            "study": def.name,
            "best_trial": trial_json(&def, &best),
            "pareto_front": outcome.front.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "top": outcome.top.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "importances": outcome.importances,
            "trials": {"complete": complete, "pruned": pruned, "failed": failed},
            "space_revisions": outcome.revisions,
            "warm_start": outcome.warm_start,
            "warnings": warnings,
        });
        let text = serde_json::to_string_pretty(&tune_json).unwrap_or_default();
        // The study's summary is an artifact of the refit run, beside its other files.
        let (sha256, size) = tracker.blobs().put(text.as_bytes())?;
        store.record_artifact(
            &run_id,
            &ArtifactRecord {
                path: "tune.json".into(),
                sha256,
                size,
            },
        )?;
        if let Some(out) = &out {
            let path = out.join("tune.json");
            crate::output::write_atomic(&path, text.as_bytes()).map_err(|e| {
                TrainError::Output {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        outcome.refit = Some(Refit {
            report,
            run_id,
            out_dir: out,
        });
    }
    outcome.best = Some((best, best_params));
    Ok(outcome)
}

/// A study error as a train error: storage failures and an exhausted grid are runtime errors,
/// everything else (a study that does not fit the config, a bad space) a config error.
fn tune_err(e: hone_tune::TuneError) -> TrainError {
    match e {
        hone_tune::TuneError::Storage(_) | hone_tune::TuneError::Exhausted(_) => {
            TrainError::Invalid(e.to_string())
        }
        _ => TrainError::Config(e.to_string()),
    }
}

/// Records a trial's model size and cost (means over its fold models) on its run, as the
/// `complexity.<name>` metrics a `hone train` run carries for its final model.
fn record_costs(
    tracker: &Tracker,
    trials: &TrackTrialStore,
    number: u64,
    costs: &[(&'static str, f64)],
) -> Result<(), String> {
    let run_id = trials.run_id(number).map_err(|e| e.to_string())?;
    let now = hone_tune::study::now_ms();
    tracker
        .store()
        .log_batches(&[hone_track::store::Batch {
            run_id,
            metrics: costs
                .iter()
                .map(|(name, v)| Metric {
                    key: format!("complexity.{name}"),
                    point: MetricPoint {
                        value: *v,
                        timestamp: now,
                        step: 0,
                    },
                })
                .collect(),
            ..Default::default()
        }])
        .map_err(|e| e.to_string())
}

/// Records a trial's out-of-fold Sharpe ratio and equity curve on its run, where the final
/// refit (and any later `hone train` in the same store) reads them for DSR and PBO.
fn record_backtest(
    tracker: &Tracker,
    trials: &TrackTrialStore,
    number: u64,
    t: &crate::trading::Trial,
) -> Result<(), String> {
    let run_id = trials.run_id(number).map_err(|e| e.to_string())?;
    let store = tracker.store();
    store
        .log_batches(&[hone_track::store::Batch {
            run_id: run_id.clone(),
            metrics: vec![Metric {
                key: crate::tracking::TRIAL_SHARPE_KEY.into(),
                point: MetricPoint {
                    value: t.sr,
                    timestamp: hone_tune::study::now_ms(),
                    step: 0,
                },
            }],
            ..Default::default()
        }])
        .map_err(|e| e.to_string())?;
    if let Some(csv) = &t.equity_csv {
        let (sha256, size) = tracker
            .blobs()
            .put(csv.as_bytes())
            .map_err(|e| e.to_string())?;
        store
            .record_artifact(
                &run_id,
                &ArtifactRecord {
                    path: "equity_cv.csv".into(),
                    sha256,
                    size,
                },
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
