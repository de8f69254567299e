//! `hone tune CONFIG`: hyperparameter search with every trial in the tracking store, then the
//! best pipeline refit, scored once on the holdout and saved like `hone train` output.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use clap::Args;
use hone_study::trial_json;
use hone_track::{Backend, Tracker, open_store};
use hone_train::tune::{TuneEnd, TuneEvent, TuneSpec};
use hone_train::tune_job::{Refit, RefitTo, TuneObserver, TuneOutcome, TuneRequest, run_tune};
use hone_tune::study::StudyDef;
use hone_tune::trial::{Trial, TrialState};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::CliError;
use crate::study::params_text;
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
    /// Output directory of the final refit (default: runs/<study>-<UTC timestamp>-<run id[..8]>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write no output folder for the refit: its files (and tune.json) go to the tracking store
    /// only, as the run's artifacts.
    #[arg(long, conflicts_with = "out")]
    pub no_outputs: bool,
    /// Rows of the top-trials table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Skip the final refit (search only).
    #[arg(long)]
    pub no_refit: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Override a config key before the config is checked (repeatable): KEY=VALUE, the value
    /// read as TOML (a bare word is a string), e.g. --set search.n_trials=5.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub store: crate::tracking::StoreArgs,
}

fn fmt_value(t: &Trial) -> String {
    match &t.values {
        Some(v) => v
            .iter()
            .map(|x| crate::render::num(*x))
            .collect::<Vec<_>>()
            .join(", "),
        None => "-".into(),
    }
}

/// What `hone tune` shows while the search runs: a progress bar and a line per trial.
struct TuneDisplay {
    bar: ProgressBar,
    quiet: bool,
    /// The study, once open (trial lines name its parameters).
    def: OnceLock<StudyDef>,
    jobs: usize,
}

impl TuneDisplay {
    /// A line above the progress bar (on stderr when there is no bar).
    fn line(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl TuneObserver for TuneDisplay {
    fn on_study(&self, def: &StudyDef, resumed: bool, counts: [usize; 5]) {
        let done = counts[0] + counts[1] + counts[2];
        if !self.quiet {
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
                    self.jobs
                );
            }
        }
        // What `auto` chose, and why (every worker makes the same choice).
        if let hone_tune::sampler::SamplerSpec::Auto(o) = &def.sampler {
            for p in hone_tune::sampler::auto::plan(&def.space, &def.directions, o.budget) {
                let when = if p.from == 0 {
                    "from the start".to_string()
                } else {
                    format!("once {} trials have finished", p.from)
                };
                self.line(format!(
                    "sampler auto: {} {when}: {}",
                    p.choice.name(),
                    crate::render::escape(&p.reason)
                ));
            }
        }
        // The bar counts the budget: COMPLETE and PRUNED trials (failed ones are retried).
        self.bar.set_position((counts[0] + counts[1]) as u64);
        let _ = self.def.set(def.clone());
    }

    fn on_search(&self, e: TuneEvent) {
        // Printed with --json too (on stderr): a changed space is news, as a warning is.
        if let TuneEvent::Revised(r) = &e {
            self.line(crate::render::escape(&r.to_string()).into_owned());
            return;
        }
        let (TuneEvent::Finished(f), Some(def)) = (e, self.def.get()) else {
            return;
        };
        let hone_train::tune::Finished {
            trial,
            error,
            best,
            counts,
            ..
        } = *f;
        if trial.state != TrialState::Fail {
            self.bar.inc(1);
        }
        let best_text = best
            .as_ref()
            .map(|b| format!("best {} (#{})", fmt_value(b), b.number))
            .unwrap_or_else(|| {
                if def.directions.len() > 1 {
                    "multi-objective".into()
                } else {
                    "best -".into()
                }
            });
        self.bar.set_message(format!(
            "{best_text} | pruned {} | failed {}",
            counts[1], counts[2]
        ));
        if !self.quiet {
            let line = format!(
                "trial {:>4} {:<8} {:>12}  {}{}",
                trial.number,
                trial.state.as_str(),
                match (trial.state, trial.last_intermediate()) {
                    // A pruned trial shows where it stopped: its last reported value and fold.
                    (TrialState::Pruned, Some((step, v))) => format!("{v:.6} @{}", step + 1),
                    _ => fmt_value(&trial),
                },
                params_text(def, &trial),
                error.map(|e| format!("  error: {e}")).unwrap_or_default()
            );
            self.line(line);
        }
    }

    fn on_warning(&self, message: &str) {
        // A hidden bar (no terminal, --json) prints nothing: a warning must still be seen.
        if self.bar.is_hidden() {
            eprintln!("warning: {}", crate::render::escape(message));
        } else {
            self.bar
                .println(format!("warning: {}", crate::render::escape(message)));
        }
    }

    fn on_note(&self, message: &str) {
        self.line(format!("warm start: {}", crate::render::escape(message)));
    }

    fn on_refit(&self) {
        self.bar.finish_and_clear();
    }
}

/// A CLI error met inside a library call (claiming `--out`), keeping its exit code.
pub(crate) fn into_train_error(e: CliError) -> hone_train::TrainError {
    if e.code == 2 {
        hone_train::TrainError::Config(e.message)
    } else {
        hone_train::TrainError::Invalid(e.message)
    }
}

/// Runs `hone tune`.
pub fn tune(args: TuneArgs) -> Result<(), CliError> {
    let cfg = crate::commands::load_config(&args.config, &args.set)?;
    crate::commands::check_refit_out(args.out.as_deref(), args.no_refit)?;
    let spec = TuneSpec::from_config(&cfg, args.jobs)?;
    let loc = args.store.location()?;
    let store: Arc<dyn Backend> = Arc::from(open_store(&loc.store_uri).map_err(track_err)?);
    let tracker = Tracker::open_uri(&loc.store_uri, &loc.artifacts).map_err(track_err)?;

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
    let display = TuneDisplay {
        bar,
        quiet: args.json,
        def: OnceLock::new(),
        jobs: spec.jobs,
    };
    let mut claim = |name: &str, run_id: &str| {
        crate::commands::claim_out(
            args.out.as_deref(),
            name,
            Some(run_id),
            false,
            crate::commands::FRESH_HINT,
        )
        .map_err(into_train_error)
    };
    // Made at the refit's first event: made before the search, it drew a "loading data" line
    // beside the trials bar for the whole search.
    let mut progress: Option<crate::progress::TrainProgress> = None;
    let outcome = run_tune(
        TuneRequest {
            cfg: &cfg,
            spec: &spec,
            store,
            tracker: &tracker,
            top: args.top,
            stop: &stop,
            refit: if args.no_refit {
                RefitTo::Skip
            } else if args.no_outputs {
                RefitTo::StoreOnly
            } else {
                RefitTo::Folder(&mut claim)
            },
        },
        &display,
        &mut |e| {
            progress
                .get_or_insert_with(|| crate::progress::TrainProgress::new(args.json))
                .on_event(e)
        },
    )
    .map_err(|e| match e {
        hone_train::TrainError::Track(e) => track_err(e),
        e => e.into(),
    })?;
    if let Some(p) = &progress {
        p.finish();
    }
    display.bar.finish_and_clear();
    let TuneOutcome {
        def,
        end,
        complete: n_complete,
        pruned: n_pruned,
        failed: n_fail,
        best,
        top,
        front,
        importances,
        refit,
        revisions,
        space,
        warm_start,
        warnings,
    } = outcome;
    let Some((best, best_params)) = best.filter(|_| end != TuneEnd::Interrupted) else {
        return Err(CliError {
            code: 130,
            message: format!(
                "interrupted: {n_complete} complete, {n_pruned} pruned, {n_fail} failed; resume with the same command"
            ),
        });
    };
    let multi = def.directions.len() > 1;

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
            "space_revisions": revisions,
            "warm_start": warm_start,
            "warnings": warnings,
        });
        if let Some(r) = &refit {
            v["final"] = serde_json::to_value(&r.report).unwrap_or(Value::Null);
            v["final_run_id"] = json!(r.run_id);
            v["out_dir"] = json!(r.out_dir);
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
        "{} trial {}: {} = {}",
        if multi { "chosen" } else { "best" },
        best.number,
        def.objectives.join(", "),
        fmt_value(&best)
    );
    for (k, v) in &best_params {
        println!("  {}", crate::render::escape(&format!("{k} = {v}")));
    }
    // Ranked on the first objective; every objective's value is shown.
    let heading = if multi {
        format!("{} (ranked on the first)", def.objectives.join(", "))
    } else {
        def.objective_name(0)
    };
    println!("\ntop {} trials:", top.len());
    println!("  {:>5}  {:>12}  params", "trial", heading);
    for t in &top {
        println!(
            "  {:>5}  {:>12}  {}",
            t.number,
            fmt_value(t),
            params_text(&def, t)
        );
    }
    if !revisions.is_empty() {
        println!(
            "\nsearch space: {} revision(s) (adapt); the ranges now searched:",
            revisions.len()
        );
        let changed: Vec<&str> = revisions
            .iter()
            .flat_map(|r| r.changes.iter().map(|c| c.param.as_str()))
            .collect();
        for p in space
            .params
            .iter()
            .filter(|p| changed.contains(&p.name.as_str()))
        {
            let first = def.space.get(&p.name).map(|d| &d.distribution);
            let (l0, h0) = first.map_or((f64::NAN, f64::NAN), |d| d.bounds());
            let (l, h) = p.distribution.bounds();
            println!(
                "  {:<32} [{}, {}] (was [{}, {}])",
                crate::render::escape(&p.name),
                crate::render::num(l),
                crate::render::num(h),
                crate::render::num(l0),
                crate::render::num(h0)
            );
        }
    }
    if !importances.is_empty() {
        println!("\nparameter importances (PED-ANOVA):");
        for (name, v) in &importances {
            println!("  {:<32} {}", name, crate::render::num(*v));
        }
    }
    for w in &warnings {
        println!("\nwarning: {}", crate::render::escape(w));
    }
    if let Some(Refit { report, run_id, .. }) = refit {
        println!("\nfinal refit with the best params:");
        print!("{}", crate::render::train_report(&report));
        println!(
            "tracked: run {run_id} in {} (hone runs show {run_id})",
            loc.store_uri
        );
    }
    Ok(())
}
