//! `hone tune CONFIG`: hyperparameter search with every trial in the tracking store, then the
//! best pipeline refit, scored once on the holdout and saved like `hone train` output.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::Args;
use hone_study::{TrackTrialStore, open_or_create_study};
use hone_track::{Backend, Tracker, keys, open_store};
use hone_train::tune::{TuneEnd, TuneEvent, TuneSpec, apply, best_values, run_search};
use hone_tune::study::Study;
use hone_tune::trial::{Trial, TrialState};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::CliError;
use crate::study::{params_text, trial_json, tune_err};
use crate::tracking::track_err;

/// `hone tune`.
#[derive(Args, Debug)]
pub struct TuneArgs {
    /// A training config with a [search] table.
    pub config: PathBuf,
    /// Trials evaluated at once (overrides search.jobs; LightGBM's threads are split between
    /// them).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output directory of the final refit (default: runs/<study>-<UTC timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rows of the top-trials table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Skip the final refit (search only).
    #[arg(long)]
    pub no_refit: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

fn fmt_value(t: &Trial) -> String {
    match &t.values {
        Some(v) => v
            .iter()
            .map(|x| format!("{x:.6}"))
            .collect::<Vec<_>>()
            .join(", "),
        None => "-".into(),
    }
}

/// Runs `hone tune`.
pub fn tune(args: TuneArgs) -> Result<(), CliError> {
    let cfg = hone_train::config::load(&args.config)?;
    crate::commands::check_refit_out(args.out.as_deref(), args.no_refit)?;
    let spec = TuneSpec::from_config(&cfg, args.jobs)?;
    let loc = args.store.location()?;
    let store: Arc<dyn Backend> = Arc::from(open_store(&loc.store_uri).map_err(track_err)?);
    // Trials of a worker that died (kill -9, power loss) are RUNNING with a dead owner: mark
    // them KILLED now so the study reads them as FAIL and their budget is not lost.
    store.reap().map_err(track_err)?;
    // Data, folds and the objective are checked before the study exists.
    let shared = hone_train::tune::prepare_search(&cfg, &spec)?;
    let (def, experiment_id, resumed) =
        open_or_create_study(store.as_ref(), &spec.study).map_err(tune_err)?;
    // Intermediate values (every boosting round with steps = "rounds") are written in batches.
    let trial_store = Arc::new(
        TrackTrialStore::new(store.clone(), experiment_id, def.clone(), false).batching_reports(),
    );
    let study = Study::open(def.clone(), trial_store.clone()).map_err(tune_err)?;
    let tracker = Tracker::open_uri(&loc.store_uri, &loc.artifacts).map_err(track_err)?;
    let done = study
        .trials()
        .iter()
        .filter(|t| t.state.is_finished())
        .count();
    if !args.json {
        if resumed {
            eprintln!(
                "resuming study {:?}: {done} trial(s) finished ({} sampler, {} pruner)",
                def.name,
                def.sampler.name(),
                def.pruner.name()
            );
        } else {
            eprintln!(
                "study {:?}: {} sampler, {} pruner, {} parameter(s), objective {} ({}), {} job(s)",
                def.name,
                def.sampler.name(),
                def.pruner.name(),
                def.space.params.len(),
                def.objectives.join(", "),
                def.directions
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                spec.jobs
            );
        }
    }

    // Ctrl-C once: stop asking, fail the running trials at their next fold, exit 130.
    // Twice: leave now (the next start reaps the trials left RUNNING).
    let stop = Arc::new(AtomicBool::new(false));
    let presses = Arc::new(AtomicUsize::new(0));
    {
        let (stop, presses) = (stop.clone(), presses.clone());
        let _ = ctrlc::set_handler(move || {
            if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                stop.store(true, Ordering::SeqCst);
                eprintln!(
                    "\nstopping: running trials end at their next fold and are marked FAIL \
                     (Ctrl-C again to quit at once)"
                );
            } else {
                std::process::exit(130);
            }
        });
    }
    let bar = if std::io::stderr().is_terminal() && !args.json {
        ProgressBar::new(spec.n_trials.unwrap_or(0) as u64)
    } else {
        ProgressBar::hidden()
    };
    let template = if spec.n_trials.is_some() {
        "trials [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})"
    } else {
        "trials {pos} {msg} ({elapsed})"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("static template")
            .progress_chars("=> "),
    );
    // The bar counts the budget: COMPLETE and PRUNED trials (failed ones are retried).
    let [c0, p0, ..] = study.counts();
    bar.set_position((c0 + p0) as u64);
    let quiet = args.json;
    let multi = def.directions.len() > 1;
    let on_event = |e: TuneEvent| {
        if let TuneEvent::Finished(f) = e {
            let hone_train::tune::Finished {
                trial,
                error,
                best,
                counts,
                trading,
            } = *f;
            if let Some(tr) = trading
                && let Err(e) = log_trading(&tracker, &trial_store, trial.number, &tr)
            {
                bar.println(format!("warning: trial {}: {e}", trial.number));
            }
            if trial.state != TrialState::Fail {
                bar.inc(1);
            }
            let best_text = best
                .as_ref()
                .map(|b| format!("best {} (#{})", fmt_value(b), b.number))
                .unwrap_or_else(|| {
                    if multi {
                        "multi-objective".into()
                    } else {
                        "best -".into()
                    }
                });
            bar.set_message(format!(
                "{best_text} | pruned {} | failed {}",
                counts[1], counts[2]
            ));
            if !quiet {
                let line = format!(
                    "trial {:>4} {:<8} {:>12}  {}{}",
                    trial.number,
                    trial.state.as_str(),
                    match (trial.state, trial.last_intermediate()) {
                        // A pruned trial shows where it stopped: its last reported value and fold.
                        (TrialState::Pruned, Some((step, v))) => format!("{v:.6} @{}", step + 1),
                        _ => fmt_value(&trial),
                    },
                    params_text(&def, &trial),
                    error.map(|e| format!("  error: {e}")).unwrap_or_default()
                );
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        }
    };
    let end = run_search(&cfg, &spec, &study, shared.as_ref(), &stop, &on_event);
    // Whatever the search ended with, the reports it held back reach the store.
    let flushed = trial_store.flush_reports();
    let end = end?;
    flushed.map_err(tune_err)?;
    bar.finish_and_clear();
    if end == TuneEnd::Interrupted {
        let [c, p, f, ..] = study.counts();
        return Err(CliError {
            code: 130,
            message: format!(
                "interrupted: {c} complete, {p} pruned, {f} failed; resume with the same command"
            ),
        });
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
    let top: Vec<&Trial> = finished.iter().take(args.top).copied().collect();
    let front = study.best_trials();
    let importances = hone_tune_importances(&study);
    let [n_complete, n_pruned, n_fail, ..] = study.counts();
    let Some((best, best_params)) = best_values(&study) else {
        return Err(CliError::runtime(format!(
            "no trial completed ({n_pruned} pruned, {n_fail} failed); nothing to refit"
        )));
    };

    // Final refit with the best params, holdout scored once, saved and tracked like `hone train`.
    let final_report = if args.no_refit {
        None
    } else {
        let best_cfg = apply(&cfg, &best_params, None)?;
        let out_dir = crate::commands::claim_out(
            args.out.as_deref(),
            &def.name,
            false,
            crate::commands::FRESH_HINT,
        )?;
        let out = out_dir.path().to_path_buf();
        // Every trial of the search counts in the refit's deflated Sharpe ratio and PBO.
        let searched =
            hone_train::tracking::earlier_trials(&tracker, &def.name).map_err(track_err)?;
        let mut progress = crate::progress::TrainProgress::new(args.json);
        let (report, run_id) = hone_train::tracking::run_train_tracked_with(
            &best_cfg,
            &out,
            &tracker,
            &searched,
            &mut |e| progress.on_event(e),
        )?;
        progress.finish();
        store
            .log_batches(&[hone_track::store::Batch {
                run_id: run_id.clone(),
                tags: vec![
                    (keys::STUDY_NAME.into(), def.name.clone()),
                    (keys::STUDY_BEST_TRIAL.into(), best.number.to_string()),
                ],
                ..Default::default()
            }])
            .map_err(track_err)?;
        let tune_json = json!({
            "study": def.name,
            "best_trial": trial_json(&def, &best),
            "pareto_front": front.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "top": top.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "importances": importances,
            "trials": {"complete": n_complete, "pruned": n_pruned, "failed": n_fail},
        });
        let path = out.join("tune.json");
        hone_train::output::write_atomic(
            &path,
            serde_json::to_string_pretty(&tune_json)
                .unwrap_or_default()
                .as_bytes(),
        )
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display())))?;
        out_dir.commit();
        Some((report, run_id, out))
    };

    if args.json {
        let mut v = json!({
            "study": def.name,
            "store": loc.store_uri,
            "end": format!("{end:?}").to_lowercase(),
            "trials": {"complete": n_complete, "pruned": n_pruned, "failed": n_fail},
            "best_trial": trial_json(&def, &best),
            "pareto_front": front.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "top": top.iter().map(|t| trial_json(&def, t)).collect::<Vec<_>>(),
            "importances": importances,
        });
        if let Some((report, run_id, out)) = &final_report {
            v["final"] = serde_json::to_value(report).unwrap_or(Value::Null);
            v["final_run_id"] = json!(run_id);
            v["out_dir"] = json!(out);
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!(
        "study {:?}: {n_complete} complete, {n_pruned} pruned, {n_fail} failed ({})",
        def.name,
        match end {
            TuneEnd::Budget => "trial budget reached",
            TuneEnd::Timeout => "timeout",
            TuneEnd::Exhausted => "grid exhausted",
            TuneEnd::Interrupted => "interrupted",
        }
    );
    if multi {
        println!("Pareto front ({} trials):", front.len());
        for t in &front {
            println!(
                "  trial {:>4}  {}  {}",
                t.number,
                fmt_value(t),
                params_text(&def, t)
            );
        }
    }
    println!(
        "best trial {}: {} = {}",
        best.number,
        def.objectives.join(", "),
        fmt_value(&best)
    );
    for (k, v) in &best_params {
        println!("  {}", crate::render::escape(&format!("{k} = {v}")));
    }
    println!("\ntop {} trials:", top.len());
    println!("  {:>5}  {:>12}  params", "trial", def.objective_name(0));
    for t in &top {
        println!(
            "  {:>5}  {:>12}  {}",
            t.number,
            fmt_value(t),
            params_text(&def, t)
        );
    }
    if !importances.is_empty() {
        println!("\nparameter importances (PED-ANOVA):");
        for (name, v) in &importances {
            println!("  {:<32} {:.3}", name, v);
        }
    }
    if let Some((report, run_id, _)) = final_report {
        println!("\nfinal refit with the best params:");
        print!("{}", crate::render::train_report(&report));
        println!(
            "tracked: run {run_id} in {} (hone runs show {run_id})",
            loc.store_uri
        );
    }
    Ok(())
}

/// Records a trial's out-of-fold Sharpe ratio and equity curve on its run, where the final
/// refit (and any later `hone train` in the same store) reads them for DSR and PBO.
fn log_trading(
    tracker: &Tracker,
    trials: &TrackTrialStore,
    number: u64,
    t: &hone_train::trading::Trial,
) -> Result<(), String> {
    let run_id = trials.run_id(number).map_err(|e| e.to_string())?;
    let store = tracker.store();
    store
        .log_batches(&[hone_track::store::Batch {
            run_id: run_id.clone(),
            metrics: vec![hone_track::Metric {
                key: hone_train::tracking::TRIAL_SHARPE_KEY.into(),
                point: hone_track::MetricPoint {
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
                &hone_track::ArtifactRecord {
                    path: "equity_cv.csv".into(),
                    sha256,
                    size,
                },
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Parameter importances of the finished trials (PED-ANOVA on the first objective).
fn hone_tune_importances(study: &Study) -> Vec<(String, f64)> {
    let def = study.def();
    hone_tune::importance::ped_anova(&def.space, &study.trials(), def.directions[0])
}
