//! Pruners: stop unpromising trials early from their intermediate values.
//!
//! Intermediate values are reported per step (a CV fold, a boosting round, an epoch). Every
//! pruner implements [`Pruner`] and reads the current trial and the study's other trials.
//! Behaviour follows Optuna 5.0's pruners, with one design difference: hone's pruners keep no
//! state of their own (Optuna's successive halving writes rung values into trial attributes and
//! caches the inferred resources). Everything is re-derived from the trials on each call, so a
//! resumed study, or another worker, takes exactly the same decisions.
//!
//! - [`percentile`]: median and percentile rules.
//! - [`halving`]: asynchronous successive halving and Hyperband.
//! - [`patient`]: waits for `patience` steps without improvement before pruning.
//! - [`wilcoxon`]: Wilcoxon signed-rank test against the best trial (per-fold objectives).
//! - [`threshold`]: prunes values outside fixed bounds.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::trial::{Direction, Trial, TrialState};

pub mod halving;
pub mod patient;
pub mod percentile;
pub mod threshold;
pub mod wilcoxon;

/// What a pruner sees when asked about a trial.
pub struct PruneContext<'a> {
    /// The study's name (Hyperband's bracket assignment hashes it).
    pub study_name: &'a str,
    /// The trial in question, with the intermediate values it has reported so far.
    pub trial: &'a Trial,
    /// Every other trial of the study, in number order, any state.
    pub trials: &'a [Trial],
    /// The direction of the (first) objective.
    pub direction: Direction,
}

/// What a trial's intermediate value at each step should be, for a pruner to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepValues {
    /// The objective estimated from what has been seen so far (the running CV mean): the
    /// values compare across trials at the same step.
    RunningEstimate,
    /// Each step's own value (one CV fold's score): the steps are paired instances, as a
    /// signed-rank test reads them.
    PerInstance,
}

/// Decides whether a running trial should stop now.
pub trait Pruner: Send + Sync {
    /// A short name (`median`, `hyperband`, ...).
    fn name(&self) -> &'static str;
    /// True when the trial should be pruned after its latest report.
    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool;
    /// What the trial's reported steps should hold for this pruner.
    fn step_values(&self) -> StepValues {
        StepValues::RunningEstimate
    }
}

/// Never prunes.
#[derive(Debug, Clone, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn name(&self) -> &'static str {
        "none"
    }
    fn should_prune(&self, _ctx: &PruneContext<'_>) -> bool {
        false
    }
}

/// Which pruner a study uses (the `pruner` key of `[search]`), with its options. Serialised as
/// a table tagged by `type`, e.g. `{ type = "median", n_warmup_steps = 5 }`; options left out
/// take Optuna's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PrunerSpec {
    /// No pruning.
    #[default]
    None,
    /// Median stopping rule (Optuna's `MedianPruner`).
    Median(percentile::MedianOptions),
    /// Keeps the trials in the best `percentile` % at each step (`PercentilePruner`).
    Percentile(percentile::PercentileOptions),
    /// Asynchronous successive halving (`SuccessiveHalvingPruner`).
    SuccessiveHalving(halving::SuccessiveHalvingOptions),
    /// Hyperband: several successive-halving brackets (`HyperbandPruner`).
    Hyperband(halving::HyperbandOptions),
    /// Prunes only after `patience` steps without improvement (`PatientPruner`).
    Patient(patient::PatientOptions),
    /// Wilcoxon signed-rank test against the best trial (`WilcoxonPruner`).
    Wilcoxon(wilcoxon::WilcoxonOptions),
    /// Prunes values outside fixed bounds (`ThresholdPruner`).
    Threshold(threshold::ThresholdOptions),
}

/// The names [`PrunerSpec::parse`] accepts, for error messages.
const NAMES: &str = "none, median, percentile, successive_halving, hyperband, patient, wilcoxon, \
                     threshold";

impl PrunerSpec {
    /// Parses a pruner name with default options. `threshold` has no sensible default bounds,
    /// so it is refused here and must be given as a table with `lower` and/or `upper`.
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match name.as_str() {
            "none" | "nop" => PrunerSpec::None,
            "median" => PrunerSpec::Median(Default::default()),
            "percentile" => PrunerSpec::Percentile(Default::default()),
            "successive_halving" | "sh" | "asha" => {
                PrunerSpec::SuccessiveHalving(Default::default())
            }
            "hyperband" => PrunerSpec::Hyperband(Default::default()),
            "patient" => PrunerSpec::Patient(Default::default()),
            "wilcoxon" => PrunerSpec::Wilcoxon(Default::default()),
            "threshold" => {
                return Err(TuneError::Invalid(
                    "the threshold pruner needs bounds: give it as a table, e.g. \
                     { type = \"threshold\", upper = 1.0 }"
                        .into(),
                ));
            }
            other => {
                return Err(TuneError::Invalid(format!(
                    "unknown pruner {other:?} ({NAMES})"
                )));
            }
        })
    }

    /// The pruner's name.
    pub fn name(&self) -> &'static str {
        match self {
            PrunerSpec::None => "none",
            PrunerSpec::Median(_) => "median",
            PrunerSpec::Percentile(_) => "percentile",
            PrunerSpec::SuccessiveHalving(_) => "successive_halving",
            PrunerSpec::Hyperband(_) => "hyperband",
            PrunerSpec::Patient(_) => "patient",
            PrunerSpec::Wilcoxon(_) => "wilcoxon",
            PrunerSpec::Threshold(_) => "threshold",
        }
    }

    /// Builds the pruner, refusing options Optuna refuses (and a few it silently accepts but
    /// that can only misbehave, such as NaN bounds).
    pub fn build(&self) -> Result<Box<dyn Pruner>> {
        Ok(match self {
            PrunerSpec::None => Box::new(NopPruner),
            PrunerSpec::Median(o) => Box::new(percentile::PercentilePruner::median(o)?),
            PrunerSpec::Percentile(o) => Box::new(percentile::PercentilePruner::new(o)?),
            PrunerSpec::SuccessiveHalving(o) => {
                Box::new(halving::SuccessiveHalvingPruner::new(o.clone())?)
            }
            PrunerSpec::Hyperband(o) => Box::new(halving::HyperbandPruner::new(o.clone())?),
            PrunerSpec::Patient(o) => Box::new(patient::PatientPruner::new(o)?),
            PrunerSpec::Wilcoxon(o) => Box::new(wilcoxon::WilcoxonPruner::new(o.clone())?),
            PrunerSpec::Threshold(o) => Box::new(threshold::ThresholdPruner::new(o.clone())?),
        })
    }
}

/// An options error in the shape every pruner uses.
fn invalid(pruner: &str, message: impl std::fmt::Display) -> TuneError {
    TuneError::Invalid(format!("{pruner} pruner: {message}"))
}

/// Whether `step`, the trial's latest, is the first report at or after a pruning check point
/// (`n_warmup_steps + k·interval_steps`). Checks are postponed, not skipped, when a trial does
/// not report at the check point itself: the first report past it takes the check. Callers
/// have already refused `step < n_warmup_steps`.
fn is_first_in_interval_step(
    trial: &Trial,
    step: u64,
    n_warmup_steps: u64,
    interval_steps: u64,
) -> bool {
    let interval = interval_steps.max(1);
    let nearest_check =
        (step.saturating_sub(n_warmup_steps)) / interval * interval + n_warmup_steps;
    let previous = trial
        .intermediate
        .range(..step)
        .next_back()
        .map(|(s, _)| *s);
    previous.is_none_or(|p| p < nearest_check)
}

/// The best value under `direction`, ignoring NaN (NaN when every value is NaN or there are
/// none), as numpy's `nanmin`/`nanmax`.
fn nan_best<'a>(values: impl IntoIterator<Item = &'a f64>, direction: Direction) -> f64 {
    values
        .into_iter()
        .filter(|v| !v.is_nan())
        .fold(f64::NAN, |best, &v| {
            if best.is_nan() || direction.loss(v) < direction.loss(best) {
                v
            } else {
                best
            }
        })
}

/// The study's best COMPLETE feasible trial (lowest number on ties), as `Study::best_trial`.
fn best_complete(trials: &[Trial], direction: Direction) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.is_feasible())
        .filter_map(|t| {
            t.value()
                .filter(|v| !v.is_nan())
                .map(|v| (direction.loss(v), t))
        })
        .fold(None, |best: Option<(f64, &Trial)>, (l, t)| match best {
            Some((b, _)) if b <= l => best,
            _ => Some((l, t)),
        })
        .map(|(_, t)| t)
}

/// The COMPLETE trial that finished first among those that reported intermediate values (by
/// finish time, then number): Optuna infers "auto" resources from the trials complete at the
/// first pruning call that has any, which in a sequential study is exactly this one. Fixing it
/// to one trial keeps the inferred resource constant for the rest of the study.
fn first_finished_complete(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && !t.intermediate.is_empty())
        .min_by_key(|t| (t.finished_ms.unwrap_or(i64::MAX), t.number))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Hand-made trials for the pruners' tests.

    use super::*;
    use crate::space::Params;

    /// A trial in `state` that reported `values` at steps 0, 1, 2, ...
    pub fn curve(number: u64, state: TrialState, values: &[f64]) -> Trial {
        stepped(
            number,
            state,
            &values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u64, *v))
                .collect::<Vec<_>>(),
        )
    }

    /// A trial in `state` that reported `(step, value)` pairs.
    pub fn stepped(number: u64, state: TrialState, points: &[(u64, f64)]) -> Trial {
        let mut t = Trial::new(number, state, Params::new());
        t.intermediate = points.iter().copied().collect();
        if state == TrialState::Complete {
            t.values = points.last().map(|(_, v)| vec![*v]);
            t.finished_ms = Some(number as i64);
        }
        t
    }

    /// Asks `pruner` about `trial` among `others`.
    pub fn ask(pruner: &dyn Pruner, trial: &Trial, others: &[Trial], direction: Direction) -> bool {
        pruner.should_prune(&PruneContext {
            study_name: "study",
            trial,
            trials: others,
            direction,
        })
    }

    /// Learning curve of trial `i` at step `s` for the end-to-end comparisons with Optuna; in
    /// Python `((i*7919) % 101) / 101.0 + ((i*104729) % 13) / 13.0 / (s + 1)
    /// + (((i*31 + s*17) % 11) - 5.0) * 0.01`, evaluated in the same order.
    pub fn sim_curve(i: u64, s: u64) -> f64 {
        let c = ((i * 7919) % 101) as f64 / 101.0;
        let d = ((i * 104_729) % 13) as f64 / 13.0;
        let noise = (((i * 31 + s * 17) % 11) as f64 - 5.0) * 0.01;
        c + d / (s + 1) as f64 + noise
    }

    /// Per-instance value of trial `i` on instance `s` (Wilcoxon comparisons); in Python
    /// `((i*7919) % 101) / 101.0 + ((s*13 + i) % 7) * 0.1`.
    pub fn sim_instance(i: u64, s: u64) -> f64 {
        ((i * 7919) % 101) as f64 / 101.0 + ((s * 13 + i) % 7) as f64 * 0.1
    }

    /// Runs 30 trials of 20 steps one after another, asking `pruner` after every report as
    /// `study.optimize` does in Optuna, and returns the step each trial was pruned at (-1:
    /// completed). The expected results in the tests come from Optuna 5.0.0 running the same
    /// study (scripts/reference/pruners.py):
    ///
    /// ```python
    /// def objective(trial):  # sign = -1 for direction="maximize"
    ///     vals = []
    ///     for s in range(20):
    ///         v = sign * f(trial.number, s); vals.append(v); trial.report(v, s)
    ///         if trial.should_prune():
    ///             out.append(s)
    ///             if complete_on_prune: return sum(vals) / len(vals)
    ///             raise optuna.TrialPruned()
    ///     out.append(-1)
    ///     return sum(vals) / len(vals) if complete_on_prune else vals[-1]
    /// optuna.create_study(direction=..., pruner=..., study_name=...).optimize(objective, n_trials=30)
    /// ```
    /// Maximised studies see the values negated. With `complete_on_prune` a
    /// pruned trial completes with its average so far (the Wilcoxon pruner's recommended use).
    pub fn simulate(
        pruner: &dyn Pruner,
        direction: Direction,
        study_name: &str,
        f: fn(u64, u64) -> f64,
        complete_on_prune: bool,
    ) -> Vec<i64> {
        let sign = match direction {
            Direction::Minimize => 1.0,
            Direction::Maximize => -1.0,
        };
        let mut done: Vec<Trial> = Vec::new();
        let mut out = Vec::new();
        for i in 0..30 {
            let mut t = Trial::new(i, TrialState::Running, Params::new());
            let mut pruned_at = -1;
            for s in 0..20 {
                t.intermediate.insert(s, sign * f(i, s));
                let ctx = PruneContext {
                    study_name,
                    trial: &t,
                    trials: &done,
                    direction,
                };
                if pruner.should_prune(&ctx) {
                    pruned_at = s as i64;
                    break;
                }
            }
            let values: Vec<f64> = t.intermediate.values().copied().collect();
            let last = values.last().copied().unwrap_or(f64::NAN);
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            if pruned_at >= 0 && !complete_on_prune {
                t.state = TrialState::Pruned;
            } else {
                t.state = TrialState::Complete;
                t.values = Some(vec![if complete_on_prune { mean } else { last }]);
            }
            t.finished_ms = Some(i as i64);
            done.push(t);
            out.push(pruned_at);
        }
        out
    }

    /// The same curves, negated: what a maximised study sees for the same ranking.
    pub fn negated(trials: &[Trial]) -> Vec<Trial> {
        trials.iter().map(negate).collect()
    }

    /// One trial with its values negated.
    pub fn negate(t: &Trial) -> Trial {
        let mut t = t.clone();
        for v in t.intermediate.values_mut() {
            *v = -*v;
        }
        if let Some(vs) = &mut t.values {
            for v in vs {
                *v = -*v;
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn parse_name_and_build_every_pruner() {
        for (name, canonical) in [
            ("none", "none"),
            ("Median", "median"),
            ("percentile", "percentile"),
            ("successive-halving", "successive_halving"),
            ("asha", "successive_halving"),
            ("hyperband", "hyperband"),
            ("patient", "patient"),
            ("wilcoxon", "wilcoxon"),
        ] {
            let spec = PrunerSpec::parse(name).unwrap();
            assert_eq!(spec.name(), canonical);
            assert_eq!(spec.build().unwrap().name(), canonical);
        }
        let e = PrunerSpec::parse("threshold").unwrap_err().to_string();
        assert!(e.contains("needs bounds"), "{e}");
        let e = PrunerSpec::parse("bohb").unwrap_err().to_string();
        assert!(e.contains("unknown pruner \"bohb\""), "{e}");
    }

    #[test]
    fn defaults_are_optunas() {
        let PrunerSpec::Percentile(p) = PrunerSpec::parse("percentile").unwrap() else {
            panic!("not percentile")
        };
        assert_eq!(
            (
                p.percentile,
                p.n_startup_trials,
                p.n_warmup_steps,
                p.interval_steps,
                p.n_min_trials
            ),
            (25.0, 5, 0, 1, 1)
        );
        let PrunerSpec::SuccessiveHalving(s) = PrunerSpec::parse("sh").unwrap() else {
            panic!("not sh")
        };
        assert_eq!(s.min_resource, halving::Resource::Auto);
        assert_eq!(
            (
                s.reduction_factor,
                s.min_early_stopping_rate,
                s.bootstrap_count
            ),
            (4, 0, 0)
        );
        let PrunerSpec::Hyperband(h) = PrunerSpec::parse("hyperband").unwrap() else {
            panic!("not hyperband")
        };
        assert_eq!(
            (h.min_resource, h.max_resource, h.reduction_factor),
            (1, halving::Resource::Auto, 3)
        );
        let PrunerSpec::Wilcoxon(w) = PrunerSpec::parse("wilcoxon").unwrap() else {
            panic!("not wilcoxon")
        };
        assert_eq!((w.p_threshold, w.n_startup_steps), (0.1, 2));
    }

    #[test]
    fn specs_read_from_toml_tables_with_defaults() {
        #[derive(Deserialize)]
        struct Search {
            pruner: PrunerSpec,
        }
        let read = |s: &str| toml::from_str::<Search>(s).map(|s| s.pruner);
        assert_eq!(
            read("pruner = { type = \"percentile\", percentile = 10, n_warmup_steps = 3 }")
                .unwrap(),
            PrunerSpec::Percentile(percentile::PercentileOptions {
                percentile: 10.0,
                n_warmup_steps: 3,
                ..Default::default()
            })
        );
        assert_eq!(
            read("pruner = { type = \"successive_halving\", min_resource = 5 }").unwrap(),
            PrunerSpec::SuccessiveHalving(halving::SuccessiveHalvingOptions {
                min_resource: halving::Resource::Steps(5),
                ..Default::default()
            })
        );
        assert_eq!(
            read("pruner = { type = \"hyperband\", max_resource = \"auto\" }").unwrap(),
            PrunerSpec::Hyperband(Default::default())
        );
        let patient =
            read("pruner = { type = \"patient\", patience = 3, wrapped = { type = \"median\" } }")
                .unwrap();
        assert_eq!(
            patient,
            PrunerSpec::Patient(patient::PatientOptions {
                wrapped: Some(Box::new(PrunerSpec::Median(Default::default()))),
                patience: 3,
                min_delta: 0.0,
            })
        );
        assert_eq!(patient.build().unwrap().name(), "patient");
        let threshold = read("pruner = { type = \"threshold\", upper = 1.5 }").unwrap();
        assert_eq!(threshold.build().unwrap().name(), "threshold");
        // Typos and bad values are errors, not silently ignored options.
        assert!(read("pruner = { type = \"median\", n_warmup_step = 3 }").is_err());
        assert!(read("pruner = { type = \"hyperband\", max_resource = \"big\" }").is_err());
        assert!(read("pruner = { type = \"median\", interval_steps = -1 }").is_err());
        // JSON round trip (studies are stored as JSON).
        let json = serde_json::to_string(&patient).unwrap();
        assert_eq!(serde_json::from_str::<PrunerSpec>(&json).unwrap(), patient);
    }

    #[test]
    fn build_refuses_bad_options() {
        let bad = [
            PrunerSpec::Percentile(percentile::PercentileOptions {
                percentile: 101.0,
                ..Default::default()
            }),
            PrunerSpec::Median(percentile::MedianOptions {
                interval_steps: 0,
                ..Default::default()
            }),
            PrunerSpec::SuccessiveHalving(halving::SuccessiveHalvingOptions {
                reduction_factor: 1,
                ..Default::default()
            }),
            PrunerSpec::SuccessiveHalving(halving::SuccessiveHalvingOptions {
                bootstrap_count: 2,
                ..Default::default()
            }),
            PrunerSpec::Hyperband(halving::HyperbandOptions {
                min_resource: 10,
                max_resource: halving::Resource::Steps(5),
                ..Default::default()
            }),
            PrunerSpec::Patient(patient::PatientOptions {
                min_delta: -1.0,
                ..Default::default()
            }),
            PrunerSpec::Wilcoxon(wilcoxon::WilcoxonOptions {
                p_threshold: 1.5,
                ..Default::default()
            }),
            PrunerSpec::Threshold(threshold::ThresholdOptions::default()),
            PrunerSpec::Threshold(threshold::ThresholdOptions {
                lower: Some(2.0),
                upper: Some(1.0),
                ..Default::default()
            }),
        ];
        for spec in bad {
            let e = spec.build().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(spec.name())),
                "{spec:?}: {e:?}"
            );
        }
    }

    #[test]
    fn interval_checks_are_postponed_to_the_next_report() {
        // Warm-up 2, interval 3: checks at steps 2, 5, 8, ...
        let at = |steps: &[u64]| {
            let t = stepped(
                0,
                TrialState::Running,
                &steps.iter().map(|s| (*s, 0.0)).collect::<Vec<_>>(),
            );
            let last = *steps.last().unwrap();
            is_first_in_interval_step(&t, last, 2, 3)
        };
        assert!(at(&[0, 1, 2]));
        assert!(!at(&[0, 1, 2, 3]));
        assert!(!at(&[0, 1, 2, 3, 4]));
        assert!(at(&[0, 1, 2, 3, 4, 5]));
        // Step 5 was never reported: step 6 takes its check, step 7 does not.
        assert!(at(&[0, 1, 2, 3, 4, 6]));
        assert!(!at(&[0, 1, 2, 3, 4, 6, 7]));
        assert!(at(&[7]));
    }

    #[test]
    fn best_complete_skips_infeasible_and_keeps_the_first_tie() {
        let mut a = curve(0, TrialState::Complete, &[3.0]);
        a.constraints = Some(vec![1.0]);
        let b = curve(1, TrialState::Complete, &[4.0]);
        let c = curve(2, TrialState::Complete, &[4.0]);
        let d = curve(3, TrialState::Pruned, &[0.0]);
        let trials = [a, b, c, d];
        assert_eq!(
            best_complete(&trials, Direction::Minimize).unwrap().number,
            1
        );
        assert_eq!(
            best_complete(&trials, Direction::Maximize).unwrap().number,
            1
        );
        assert_eq!(nan_best(&[f64::NAN, 2.0, 1.0], Direction::Minimize), 1.0);
        assert_eq!(nan_best(&[f64::NAN, 2.0, 1.0], Direction::Maximize), 2.0);
        assert!(nan_best(&[f64::NAN], Direction::Maximize).is_nan());
    }
}
