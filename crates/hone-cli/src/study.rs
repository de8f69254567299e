//! `hone study ...`: ask/tell studies from the command line, so any program can be tuned
//! (as with Optuna's CLI). Every command opens the study from the tracking store, so separate
//! invocations, on one machine or many, share it.

use std::sync::Arc;

use clap::{Args, Subcommand};
use hone_study::{TrackTrialStore, create_study, load_study, params_json, trial_json};
use hone_track::{Backend, open_store};
use hone_tune::TuneError;
use hone_tune::pruner::PrunerSpec;
use hone_tune::sampler::SamplerSpec;
use hone_tune::space::{ParamValue, SearchSpace};
use hone_tune::study::{Outcome, Study, StudyDef};
use hone_tune::trial::{Direction, Trial, TrialState};
use serde_json::{Value, json};

use crate::CliError;
use crate::tracking::{StoreArgs, track_err};

/// `hone study ...`
#[derive(Args, Debug)]
pub struct StudyArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: StudyCmd,
}

#[derive(Subcommand, Debug)]
enum StudyCmd {
    /// Create a study from a search-space file.
    Create {
        /// Unique study name.
        #[arg(long)]
        name: String,
        /// Search-space TOML: one table per parameter.
        #[arg(long)]
        space: std::path::PathBuf,
        /// auto (chosen from the space and the objectives), grid, random, sobol, tpe, gp or nsga2.
        #[arg(long, default_value = "auto")]
        sampler: String,
        /// minimize or maximize (one objective).
        #[arg(long, conflicts_with = "directions")]
        direction: Option<String>,
        /// Several objectives: e.g. minimize,maximize.
        #[arg(long, value_delimiter = ',')]
        directions: Vec<String>,
        /// Objective names, one per direction (default value / value_0, value_1, ...).
        #[arg(long, value_delimiter = ',')]
        objectives: Vec<String>,
        /// none, median, percentile, successive_halving, hyperband, wilcoxon, patient, threshold.
        #[arg(long, default_value = "none")]
        pruner: String,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Start a trial and print its parameters.
    Ask {
        /// Study name.
        #[arg(long)]
        name: String,
        /// JSON output: {"trial": N, "params": {...}}.
        #[arg(long)]
        json: bool,
    },
    /// Finish a trial with its value(s), or mark it failed or pruned.
    Tell {
        /// Study name.
        #[arg(long)]
        name: String,
        /// Trial number (from `ask`).
        #[arg(long)]
        trial: u64,
        /// The objective value.
        #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["values", "state"])]
        value: Option<f64>,
        /// Several objective values: e.g. 0.12,3.4.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        values: Vec<f64>,
        /// fail or pruned (instead of a value).
        #[arg(long)]
        state: Option<String>,
        /// Constraint values (feasible when all are <= 0), e.g. 0.2,-1; used by TPE and NSGA-II
        /// and by best/Pareto selection.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        constraints: Vec<f64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Report an intermediate value of a running trial; prints whether to prune it.
    Report {
        /// Study name.
        #[arg(long)]
        name: String,
        /// Trial number.
        #[arg(long)]
        trial: u64,
        /// Step (fold, epoch, round).
        #[arg(long)]
        step: u64,
        /// The intermediate value.
        #[arg(long, allow_hyphen_values = true)]
        value: f64,
        /// JSON output: {"prune": bool}.
        #[arg(long)]
        json: bool,
    },
    /// Queue a trial with fixed parameters (JSON object), asked before sampled ones.
    Enqueue {
        /// Study name.
        #[arg(long)]
        name: String,
        /// Parameters, e.g. '{"x": 0.5, "kind": "a"}'.
        #[arg(long)]
        params: String,
        /// Add it as already COMPLETE with these value(s) instead of queueing it.
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        values: Vec<f64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The best trial (one objective) or the Pareto front (several).
    Best {
        /// Study name.
        #[arg(long)]
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Every trial with its state, parameters and values.
    Trials {
        /// Study name.
        #[arg(long)]
        name: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Maps engine errors: bad arguments exit 2, storage failures 1.
pub fn tune_err(e: TuneError) -> CliError {
    match e {
        TuneError::Storage(_) | TuneError::Exhausted(_) => CliError::runtime(e.to_string()),
        _ => CliError::usage(e.to_string()),
    }
}

fn open(store: &StoreArgs, name: &str) -> Result<Study, CliError> {
    let loc = store.location()?;
    // Every command but `create` needs the study, so the store must exist: open it without
    // creating anything.
    let s = hone_track::open_store_with(&loc.store_uri, hone_track::OpenMode::MustExist);
    let s: Arc<dyn Backend> = Arc::from(s.map_err(track_err)?);
    let (def, exp) = load_study(s.as_ref(), name).map_err(tune_err)?;
    let trials = TrackTrialStore::new(s, exp, def.clone(), true);
    Study::open(def, Arc::new(trials)).map_err(tune_err)
}

/// A trial's params as `name=value` pairs (model parameters by their short name, as written in
/// `[search.space]`).
pub fn params_text(def: &StudyDef, t: &Trial) -> String {
    // Names and categorical choices come from the user's space: escaped for the terminal.
    crate::render::escape(
        &def.space
            .external(&t.params)
            .iter()
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches("model.params.")))
            .collect::<Vec<_>>()
            .join(" "),
    )
    .into_owned()
}

fn values_text(t: &Trial) -> String {
    t.values
        .as_ref()
        .map(|v| {
            v.iter()
                .map(|x| crate::render::num(*x))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "-".into())
}

/// Runs `hone study ...`.
pub fn study(a: StudyArgs) -> Result<(), CliError> {
    match a.cmd {
        StudyCmd::Create {
            name,
            space,
            sampler,
            direction,
            directions,
            objectives,
            pruner,
            seed,
            json,
        } => {
            let text = std::fs::read_to_string(&space)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", space.display())))?;
            let space_def = SearchSpace::from_toml_str(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", space.display())))?;
            let dirs: Vec<String> = match direction {
                Some(d) => vec![d],
                None if directions.is_empty() => vec!["minimize".into()],
                None => directions,
            };
            let directions = dirs
                .iter()
                .map(|d| {
                    Direction::parse(d).ok_or_else(|| {
                        CliError::usage(format!("unknown direction {d:?} (minimize or maximize)"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let def = StudyDef {
                name: name.clone(),
                space: space_def,
                directions,
                objectives,
                sampler: SamplerSpec::parse(&sampler).map_err(tune_err)?,
                pruner: PrunerSpec::parse(&pruner).map_err(tune_err)?,
                seed,
                adapt: None,
            };
            // Fail now, not at the first ask, when the sampler cannot serve the space.
            def.validate().map_err(tune_err)?;
            def.sampler
                .build(&def.space, &def.directions)
                .map_err(tune_err)?;
            let loc = a.store.location()?;
            let s = open_store(&loc.store_uri).map_err(track_err)?;
            let id = create_study(s.as_ref(), &def).map_err(tune_err)?;
            if json {
                println!(
                    "{}",
                    json!({"name": name, "experiment_id": id, "sampler": def.sampler.name(),
                           "directions": def.directions.iter().map(|d| d.as_str()).collect::<Vec<_>>()})
                );
            } else {
                println!(
                    "created study {name:?} ({} sampler, {} parameters) in {}",
                    def.sampler.name(),
                    def.space.params.len(),
                    s.location()
                );
            }
        }
        StudyCmd::Ask { name, json } => {
            let study = open(&a.store, &name)?;
            let t = study.ask().map_err(tune_err)?;
            if json {
                println!(
                    "{}",
                    json!({"trial": t.number, "params": params_json(study.def(), &t)})
                );
            } else {
                println!("trial {}: {}", t.number, params_text(study.def(), &t));
            }
        }
        StudyCmd::Tell {
            name,
            trial,
            value,
            values,
            state,
            constraints,
            json,
        } => {
            if constraints.iter().any(|c| c.is_nan()) {
                return Err(CliError::usage(
                    "--constraints: a constraint value cannot be NaN (feasible is <= 0)",
                ));
            }
            let study = open(&a.store, &name)?;
            let complete = |v: Vec<f64>| {
                if constraints.is_empty() {
                    Outcome::Complete(v)
                } else {
                    Outcome::Constrained(v, constraints.clone())
                }
            };
            let outcome = match (value, values.is_empty(), state.as_deref()) {
                (Some(v), _, None) => complete(vec![v]),
                (None, false, None) => complete(values),
                (None, true, Some(s)) => match TrialState::parse(s) {
                    Some(TrialState::Fail) => Outcome::Fail,
                    Some(TrialState::Pruned) => Outcome::Pruned,
                    _ => {
                        return Err(CliError::usage(format!(
                            "--state {s:?}: expected fail or pruned"
                        )));
                    }
                },
                _ => {
                    return Err(CliError::usage(
                        "give exactly one of --value, --values or --state",
                    ));
                }
            };
            let t = study.tell(trial, outcome).map_err(tune_err)?;
            if json {
                println!("{}", trial_json(study.def(), &t));
            } else {
                println!(
                    "trial {} {}: {}",
                    t.number,
                    t.state.as_str(),
                    values_text(&t)
                );
            }
        }
        StudyCmd::Report {
            name,
            trial,
            step,
            value,
            json,
        } => {
            // Steps are stored as signed 64-bit integers.
            if i64::try_from(step).is_err() {
                return Err(CliError::usage(format!(
                    "--step {step}: at most {}",
                    i64::MAX
                )));
            }
            let study = open(&a.store, &name)?;
            study.report(trial, step, value).map_err(tune_err)?;
            let prune = study.should_prune(trial).map_err(tune_err)?;
            if json {
                println!("{}", json!({"trial": trial, "step": step, "prune": prune}));
            } else {
                println!("{}", if prune { "prune" } else { "continue" });
            }
        }
        StudyCmd::Enqueue {
            name,
            params,
            values,
            json,
        } => {
            let study = open(&a.store, &name)?;
            let obj: serde_json::Map<String, Value> = serde_json::from_str(&params)
                .map_err(|e| CliError::usage(format!("--params: not a JSON object: {e}")))?;
            let pairs = obj
                .iter()
                .map(|(k, v)| {
                    ParamValue::from_json(v)
                        .map(|p| (k.clone(), p))
                        .ok_or_else(|| {
                            CliError::usage(format!(
                                "--params: {k} = {v} is not a number, string or bool"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            // With values the point is judged as `tell` judges them (NaN: FAIL).
            let (number, state) = if values.is_empty() {
                let n = study.enqueue(&pairs).map_err(tune_err)?;
                (n, TrialState::Waiting)
            } else {
                let t = study.add_completed(&pairs, &values).map_err(tune_err)?;
                (t.number, t.state)
            };
            let state = state.as_str();
            if json {
                println!("{}", json!({"trial": number, "state": state}));
            } else {
                println!("trial {number} {state}");
            }
        }
        StudyCmd::Best { name, json } => {
            let study = open(&a.store, &name)?;
            let best = if study.def().directions.len() == 1 {
                study.best_trial().map_err(tune_err)?.into_iter().collect()
            } else {
                study.best_trials()
            };
            if best.is_empty() {
                return Err(CliError::runtime(format!(
                    "study {name:?} has no COMPLETE trial yet"
                )));
            }
            if json {
                let items: Vec<Value> = best.iter().map(|t| trial_json(study.def(), t)).collect();
                if study.def().directions.len() == 1 {
                    println!("{}", items[0]);
                } else {
                    // The Pareto front is a list: the list envelope.
                    crate::tracking::print_list(items, None);
                }
            } else {
                for t in &best {
                    println!(
                        "trial {}: {} = {}  {}",
                        t.number,
                        (0..study.def().directions.len())
                            .map(|i| study.def().objective_name(i))
                            .collect::<Vec<_>>()
                            .join(", "),
                        values_text(t),
                        params_text(study.def(), t)
                    );
                }
            }
        }
        StudyCmd::Trials { name, json } => {
            let study = open(&a.store, &name)?;
            let trials = study.trials();
            if json {
                let items: Vec<Value> = trials.iter().map(|t| trial_json(study.def(), t)).collect();
                crate::tracking::print_list(items, None);
            } else {
                println!("{:>6}  {:<8}  {:>14}  params", "trial", "state", "value(s)");
                for t in &trials {
                    println!(
                        "{:>6}  {:<8}  {:>14}  {}",
                        t.number,
                        t.state.as_str(),
                        values_text(t),
                        params_text(study.def(), t)
                    );
                }
            }
        }
    }
    Ok(())
}
