//! `hone tune`: hyperparameter search over a training config.
//!
//! The `[search]` table of a training config names the study, its sampler, pruner, budget and
//! objective(s), and holds the search space (`[search.space.<param>]`, one table per
//! parameter). A parameter name is a dotted path into the training config
//! (`preprocess.scale`, `model.early_stopping_rounds`); a name without a dot means a model
//! parameter (`learning_rate` → `model.params.learning_rate`). Each trial writes its values
//! into a copy of the config, cross-validates that pipeline on the same folds (reporting every
//! fold as a step, so pruners can stop it early), and its objective is the mean over folds.
//! The holdout is never touched by trials: only the final refit with the best params scores it,
//! once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hone_models::observer::{Flow, StepReport};
use hone_tune::adapt::{AdaptSpec, SpaceRevision};
use hone_tune::pruner::{PrunerSpec, StepValues};
use hone_tune::sampler::SamplerSpec;
use hone_tune::space::{ParamValue, SearchSpace};
use hone_tune::study::{Outcome, Study, StudyDef};
use hone_tune::trial::{Direction, Trial, TrialState};
use hone_validate::Metric;

use crate::TrainError;
use crate::config::{LoadedConfig, from_value};
use crate::job::{CvObserver, FoldCaches, Prepared, cross_validate, prepare};

const SEARCH_KEYS: [&str; 18] = [
    "name",
    "sampler",
    "pruner",
    "n_trials",
    "timeout",
    "metric",
    "metrics",
    "direction",
    "directions",
    "seed",
    "jobs",
    "parallelism",
    "steps",
    "cache_mb",
    "select",
    "adapt",
    "warm_start",
    "space",
];

/// Default memory budget of the per-fold caches a search keeps (`[search] cache_mb`).
pub const DEFAULT_CACHE_MB: usize = 1024;

/// Consecutive failed trials, with none complete, after which a search gives up (a config error
/// that every trial hits should stop the search, not burn the budget).
pub const MAX_FAILURES_BEFORE_SUCCESS: usize = 5;

/// A parsed `[search]` table.
#[derive(Debug, Clone)]
pub struct TuneSpec {
    /// The study (name, space with resolved parameter paths, sampler, pruner, directions).
    pub study: StudyDef,
    /// Finished trials the study should reach (COMPLETE + PRUNED; failed and killed trials do
    /// not use up the budget, as Optuna's `MaxTrialsCallback`); `None` with a timeout.
    pub n_trials: Option<usize>,
    /// Stop asking for new trials after this long.
    pub timeout: Option<Duration>,
    /// Trials evaluated at once.
    pub jobs: usize,
    /// Work units a queued tune job becomes (`hone submit --tune`): each runs `jobs` trials
    /// at once on its own worker, all in one study. `hone tune` runs one.
    pub parallelism: usize,
    /// The objectives, one per direction.
    pub objectives: Vec<Objective>,
    /// What a pruning step is.
    pub steps: Steps,
    /// How the refit's trial is chosen from a two-objective front.
    pub select: Select,
    /// Earlier studies this one starts from (`[search] warm_start`).
    pub warm_start: Vec<crate::warm::WarmStart>,
    /// Memory the trials may keep for reuse across trials (each fold's preprocessing,
    /// transformed test rows and LightGBM binned datasets), bytes; 0 turns the cache off.
    pub cache_bytes: usize,
}

/// One objective of a search: a metric's mean over the CV folds, or a cost of the fold models
/// (their mean): `model_size_bytes`, `trees`, `leaves`, `nonzero_coefficients`,
/// `parameters`, `features_used`, `fit_seconds`, `predict_us_per_row`
/// ([`crate::report::COST_NAMES`]; minimised by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// A CV metric.
    Metric(Metric),
    /// A model cost, by its name.
    Cost(&'static str),
}

impl Objective {
    /// Parses a metric name, or a cost name (`model_size_bytes` or
    /// `complexity.model_size_bytes`).
    pub fn parse(name: &str) -> Result<Self, String> {
        let bare = name.strip_prefix("complexity.").unwrap_or(name);
        if let Some(c) = crate::report::COST_NAMES.iter().find(|c| **c == bare) {
            return Ok(Objective::Cost(c));
        }
        name.parse::<Metric>().map(Objective::Metric).map_err(|e| {
            format!(
                "{e}; or a model cost: {}",
                crate::report::COST_NAMES.join(", ")
            )
        })
    }

    /// The study's name of the objective (the trial runs' metric): `cv.<metric>.mean` or
    /// `complexity.<cost>`.
    pub fn study_name(&self) -> String {
        match self {
            Objective::Metric(m) => format!("cv.{}.mean", m.name()),
            Objective::Cost(c) => format!("complexity.{c}"),
        }
    }

    /// The direction it goes by default.
    pub fn default_direction(&self) -> Direction {
        match self {
            Objective::Metric(m) if m.greater_is_better() => Direction::Maximize,
            _ => Direction::Minimize,
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Objective::Metric(m) => write!(f, "{m}"),
            Objective::Cost(c) => f.write_str(c),
        }
    }
}

/// How a two-objective search (accuracy, then complexity) picks the trial it refits from its
/// Pareto front (`[search] select`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Select {
    /// The front's best on the first objective (the default).
    First,
    /// The knee: the front's trial farthest from the straight line joining its two ends, both
    /// objectives scaled to `[0, 1]` over the front (the most improvement on one objective
    /// for the least given up on the other).
    Knee,
    /// The least complex trial (second objective) whose first objective is within this much
    /// of the best (in the first objective's units).
    MinComplexityWithin(f64),
}

impl Select {
    /// Parses `"first"`, `"knee"`, `"min_complexity_within = 0.002"` or the table
    /// `{ min_complexity_within = 0.002 }`.
    pub fn parse(v: &toml::Value) -> Result<Self, String> {
        let within = |x: f64| {
            if x.is_finite() && x >= 0.0 {
                Ok(Select::MinComplexityWithin(x))
            } else {
                Err(format!(
                    "min_complexity_within must be a number >= 0, got {x}"
                ))
            }
        };
        match v {
            toml::Value::String(s) if s == "first" => Ok(Select::First),
            toml::Value::String(s) if s == "knee" => Ok(Select::Knee),
            toml::Value::String(s) => match s.split_once('=') {
                Some((k, x)) if k.trim() == "min_complexity_within" => {
                    within(x.trim().parse::<f64>().map_err(|_| {
                        format!("min_complexity_within {:?}: not a number", x.trim())
                    })?)
                }
                _ => Err(format!(
                    "select must be \"first\", \"knee\" or \"min_complexity_within = X\", got {s:?}"
                )),
            },
            toml::Value::Table(t) if t.len() == 1 => match t.get("min_complexity_within") {
                Some(toml::Value::Float(x)) => within(*x),
                Some(toml::Value::Integer(x)) => within(*x as f64),
                _ => Err(format!(
                    "select table: expected {{ min_complexity_within = X }}, got {v}"
                )),
            },
            other => Err(format!(
                "select must be \"first\", \"knee\" or \"min_complexity_within = X\", got {other}"
            )),
        }
    }

    /// The chosen trial among `front` (COMPLETE trials with values, non-dominated), given the
    /// study's two directions; `None` for an empty front.
    pub fn choose<'t>(&self, front: &'t [Trial], directions: &[Direction]) -> Option<&'t Trial> {
        let loss = |t: &Trial, i: usize| {
            directions[i].loss(t.values.as_ref().map_or(f64::INFINITY, |v| v[i]))
        };
        let best_first = front.iter().min_by(|a, b| {
            loss(a, 0)
                .total_cmp(&loss(b, 0))
                .then(loss(a, 1).total_cmp(&loss(b, 1)))
        });
        match self {
            Select::First => best_first,
            Select::MinComplexityWithin(tol) => {
                let best = loss(best_first?, 0);
                front
                    .iter()
                    .filter(|t| loss(t, 0) <= best + tol)
                    .min_by(|a, b| {
                        loss(a, 1)
                            .total_cmp(&loss(b, 1))
                            .then(loss(a, 0).total_cmp(&loss(b, 0)))
                    })
            }
            Select::Knee => {
                if front.len() < 3 {
                    return best_first;
                }
                let range = |i: usize| {
                    front
                        .iter()
                        .map(|t| loss(t, i))
                        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)))
                };
                let ((lo0, hi0), (lo1, hi1)) = (range(0), range(1));
                let scale =
                    |x: f64, lo: f64, hi: f64| if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
                let pts: Vec<(f64, f64)> = front
                    .iter()
                    .map(|t| (scale(loss(t, 0), lo0, hi0), scale(loss(t, 1), lo1, hi1)))
                    .collect();
                // The front's two ends: the best on each objective.
                let end = |i: usize| {
                    pts.iter()
                        .copied()
                        .min_by(|p, q| {
                            let (a, b) = if i == 0 { (p.0, q.0) } else { (p.1, q.1) };
                            a.total_cmp(&b)
                        })
                        .unwrap_or((0.0, 0.0))
                };
                let (a, b) = (end(0), end(1));
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let norm = (dx * dx + dy * dy).sqrt();
                if norm == 0.0 {
                    return best_first;
                }
                // Signed distance from the line a→b, positive on the side of the ideal point
                // (0, 0): the knee bulges toward it.
                let side = |p: (f64, f64)| (dx * (p.1 - a.1) - dy * (p.0 - a.0)) / norm;
                let toward_ideal = if side((0.0, 0.0)) >= 0.0 { 1.0 } else { -1.0 };
                let (i, d) = pts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i, side(*p) * toward_ideal))
                    .max_by(|x, y| x.1.total_cmp(&y.1))?;
                if d <= 1e-12 {
                    best_first
                } else {
                    Some(&front[i])
                }
            }
        }
    }
}

/// What trials report as intermediate values (the `steps` key of `[search]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    /// One step per CV fold: the running CV mean of the objective (per-fold values for the
    /// Wilcoxon pruner).
    Folds,
    /// One step per boosting round of every fold (step = fold × rounds + round): LightGBM's
    /// validation metric on the fold's early-stopping slice (training rows only), signed so
    /// that it points the study's way. Prunes inside a fold.
    Rounds,
}

fn cfg_err(cfg: &LoadedConfig, m: String) -> TrainError {
    TrainError::Config(format!("{}: [search] {m}", cfg.path.display()))
}

/// Most trials one process runs at once (each is a thread; more would only exhaust threads).
pub const MAX_JOBS: usize = 1024;

/// Checks a number of parallel trials (`--jobs`, `[search] jobs`); the error completes the
/// caller's "<name> ..." message.
pub fn check_jobs(jobs: usize) -> Result<usize, String> {
    if (1..=MAX_JOBS).contains(&jobs) {
        Ok(jobs)
    } else {
        Err(format!("must be between 1 and {MAX_JOBS}, got {jobs}"))
    }
}

/// The config path a search parameter writes (`learning_rate` → `model.params.learning_rate`).
pub fn param_path(name: &str) -> String {
    if name.contains('.') {
        name.to_string()
    } else {
        format!("model.params.{name}")
    }
}

impl TuneSpec {
    /// Reads `[search]` from a loaded config; errors name the key.
    pub fn from_config(
        cfg: &LoadedConfig,
        jobs_override: Option<usize>,
    ) -> Result<Self, TrainError> {
        let search = cfg.config.search.as_ref().ok_or_else(|| {
            TrainError::Config(format!(
                "{}: no [search] table: add one with a sampler, n_trials, metric and \
                 [search.space.<param>] tables (see README: hone tune)",
                cfg.path.display()
            ))
        })?;
        for k in search.keys() {
            if !SEARCH_KEYS.contains(&k.as_str()) {
                return Err(cfg_err(
                    cfg,
                    format!(
                        "unknown key {k:?}{} (expected one of {}){}",
                        cfg.origin(&format!("search.{k}")),
                        SEARCH_KEYS.join(", "),
                        hone_models::suggest::nearest(k, SEARCH_KEYS.iter().copied())
                            .map(|s| format!("; did you mean {s:?}?"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        let space_table = search
            .get("space")
            .and_then(|v| v.as_table())
            .ok_or_else(|| cfg_err(cfg, "needs [search.space.<param>] tables".into()))?;
        let mut space =
            SearchSpace::from_toml_table(space_table).map_err(|e| cfg_err(cfg, e.to_string()))?;
        for p in &mut space.params {
            p.name = param_path(&p.name);
        }
        for p in &mut space.params {
            for (parent, _) in &mut p.when {
                *parent = param_path(parent);
            }
        }
        let int = |key: &str| -> Result<Option<i64>, TrainError> {
            match search.get(key) {
                None => Ok(None),
                Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i)),
                Some(v) => Err(cfg_err(
                    cfg,
                    format!("{key} must be a non-negative integer, got {v}"),
                )),
            }
        };
        let at_least_one = |key: &str| -> Result<Option<usize>, TrainError> {
            match int(key)? {
                Some(0) => Err(cfg_err(cfg, format!("{key} must be at least 1, got 0"))),
                n => Ok(n.map(|n| n as usize)),
            }
        };
        let n_trials = at_least_one("n_trials")?;
        let cache_mb = match int("cache_mb")? {
            None => DEFAULT_CACHE_MB,
            Some(mb) if mb <= 1 << 30 => mb as usize,
            Some(mb) => {
                return Err(cfg_err(
                    cfg,
                    format!("cache_mb must be at most {} (MiB), got {mb}", 1u64 << 30),
                ));
            }
        };
        let timeout = match search.get("timeout") {
            None => None,
            Some(toml::Value::Integer(i)) if *i > 0 => Some(Duration::from_secs(*i as u64)),
            // try_from: an infinite or astronomically long timeout is refused, not a panic.
            Some(toml::Value::Float(f)) if *f > 0.0 => {
                Some(Duration::try_from_secs_f64(*f).map_err(|_| {
                    cfg_err(
                        cfg,
                        format!("timeout must be a finite number of seconds, got {f}"),
                    )
                })?)
            }
            Some(v) => {
                return Err(cfg_err(
                    cfg,
                    format!("timeout must be seconds > 0, got {v}"),
                ));
            }
        };
        if n_trials.is_none() && timeout.is_none() {
            return Err(cfg_err(
                cfg,
                "set n_trials, timeout (seconds) or both".into(),
            ));
        }
        let seed = int("seed")?.map_or(cfg.config.seed, |s| s as u64);
        let config_jobs = at_least_one("jobs")?;
        let jobs = match (jobs_override, config_jobs) {
            (Some(j), _) => check_jobs(j).map_err(|m| TrainError::Config(format!("--jobs {m}")))?,
            (None, Some(j)) => check_jobs(j).map_err(|m| cfg_err(cfg, format!("jobs {m}")))?,
            (None, None) => 1,
        };
        let parallelism = match at_least_one("parallelism")? {
            Some(p) if p > 1000 => {
                return Err(cfg_err(
                    cfg,
                    format!("parallelism = {p}: at most 1000 work units"),
                ));
            }
            Some(p) => p,
            None => 1,
        };
        let strings = |key: &str| -> Result<Vec<String>, TrainError> {
            match search.get(key) {
                None => Ok(Vec::new()),
                Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| cfg_err(cfg, format!("{key}: {v} is not a string")))
                    })
                    .collect(),
                Some(v) => Err(cfg_err(
                    cfg,
                    format!("{key} must be a string or a list, got {v}"),
                )),
            }
        };
        let mut metric_names = strings("metric")?;
        metric_names.extend(strings("metrics")?);
        if metric_names.is_empty() {
            let first = cfg
                .metrics
                .first()
                .map(|m| m.name().to_string())
                .ok_or_else(|| {
                    cfg_err(
                        cfg,
                        "metric = \"<name>\" is required when the config lists no metrics".into(),
                    )
                })?;
            metric_names.push(first);
        }
        let objectives = metric_names
            .iter()
            .map(|m| Objective::parse(m).map_err(|e| cfg_err(cfg, format!("metric: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let metrics: Vec<Metric> = objectives
            .iter()
            .filter_map(|o| match o {
                Objective::Metric(m) => Some(*m),
                Objective::Cost(_) => None,
            })
            .collect();
        if !cfg.metrics.is_empty()
            && let Some(m) = metrics.iter().find(|m| !cfg.metrics.contains(m))
        {
            return Err(cfg_err(
                cfg,
                format!(
                    "metric {m} is not among the config's metrics ({}); add it there",
                    cfg.metrics
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let mut dir_names = strings("direction")?;
        dir_names.extend(strings("directions")?);
        let directions = if dir_names.is_empty() {
            objectives
                .iter()
                .map(Objective::default_direction)
                .collect()
        } else {
            if dir_names.len() != objectives.len() {
                return Err(cfg_err(
                    cfg,
                    format!(
                        "{} direction(s) for {} metric(s)",
                        dir_names.len(),
                        objectives.len()
                    ),
                ));
            }
            dir_names
                .iter()
                .map(|d| {
                    Direction::parse(d).ok_or_else(|| {
                        cfg_err(cfg, format!("direction {d:?}: minimize or maximize"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut sampler = spec_of(search, "sampler", "auto", SamplerSpec::parse)
            .map_err(|e| cfg_err(cfg, e.to_string()))?;
        // `auto` plans with the trial budget unless its table names another.
        if let SamplerSpec::Auto(o) = &mut sampler
            && o.budget.is_none()
        {
            o.budget = n_trials;
        }
        let pruner = spec_of(search, "pruner", "none", PrunerSpec::parse)
            .map_err(|e| cfg_err(cfg, e.to_string()))?;
        let name = match search.get("name") {
            None => format!("{}-study", cfg.name()),
            Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(v) => return Err(cfg_err(cfg, format!("name must be a string, got {v}"))),
        };
        let adapt = match search.get("adapt") {
            None | Some(toml::Value::Boolean(false)) => None,
            Some(toml::Value::Boolean(true)) => Some(AdaptSpec::default()),
            Some(v @ toml::Value::Table(_)) => {
                Some(v.clone().try_into::<AdaptSpec>().map_err(|e| {
                    cfg_err(
                        cfg,
                        format!(
                            "adapt: {} (expected true, false or {{ widen = true, \
                                 narrow_after = 100 }})",
                            e.message().trim()
                        ),
                    )
                })?)
            }
            Some(v) => {
                return Err(cfg_err(
                    cfg,
                    format!(
                        "adapt must be true, false or a table like {{ narrow_after = 100 }}, got {v}"
                    ),
                ));
            }
        };
        if adapt.is_some() && sampler == SamplerSpec::Grid {
            return Err(cfg_err(
                cfg,
                "adapt cannot be used with sampler = \"grid\": a grid is a fixed set of points; \
                 use tpe, gp, random or sobol"
                    .into(),
            ));
        }
        if let Some(AdaptSpec {
            narrow_after: Some(0),
            ..
        }) = adapt
        {
            return Err(cfg_err(cfg, "adapt.narrow_after must be at least 1".into()));
        }
        let study = StudyDef {
            name,
            space,
            directions,
            objectives: objectives.iter().map(Objective::study_name).collect(),
            sampler,
            pruner,
            seed,
            adapt,
        };
        study.validate().map_err(|e| cfg_err(cfg, e.to_string()))?;
        study
            .sampler
            .build(&study.space, &study.directions)
            .map_err(|e| cfg_err(cfg, e.to_string()))?;
        study
            .pruner
            .build()
            .map_err(|e| cfg_err(cfg, e.to_string()))?;
        let steps = match search.get("steps") {
            None => Steps::Folds,
            Some(toml::Value::String(s)) if s == "folds" => Steps::Folds,
            // A neural model's epochs are its rounds.
            Some(toml::Value::String(s)) if s == "rounds" || s == "epochs" => {
                if cfg.model.early_stopping_fraction().is_none() {
                    return Err(cfg_err(
                        cfg,
                        format!(
                            "steps = {s:?} needs a model that trains in steps with an \
                             early-stopping slice (LightGBM rounds or neural epochs, with \
                             early_stopping_rounds and validation_fraction): the slice gives \
                             each step's score"
                        ),
                    ));
                }
                Steps::Rounds
            }
            Some(v) => {
                return Err(cfg_err(
                    cfg,
                    format!("steps must be \"folds\", \"rounds\" or \"epochs\", got {v}"),
                ));
            }
        };
        // A count the model's family never reports (trees of a linear model) is refused now,
        // unless the search changes the model's type.
        let searches_type = study.space.params.iter().any(|p| p.name == "model.type");
        let counts = cfg.model.estimator().complexity_counts();
        if !searches_type
            && let Some(c) = objectives.iter().find_map(|o| match o {
                Objective::Cost(
                    c @ ("trees" | "leaves" | "nonzero_coefficients" | "parameters"),
                ) if !counts.contains(c) => Some(*c),
                _ => None,
            })
        {
            return Err(cfg_err(
                cfg,
                format!(
                    "metric {c}: a {} model has no such count (it reports {})",
                    cfg.model.estimator().name(),
                    if counts.is_empty() {
                        "none".to_string()
                    } else {
                        counts.join(", ")
                    }
                ),
            ));
        }
        let select = match search.get("select") {
            None => Select::First,
            Some(v) => Select::parse(v).map_err(|e| cfg_err(cfg, e))?,
        };
        if select != Select::First && objectives.len() != 2 {
            return Err(cfg_err(
                cfg,
                format!(
                    "select = {} needs two objectives (accuracy, then complexity), got {}",
                    search
                        .get("select")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    objectives.len()
                ),
            ));
        }
        let warm_start = match search.get("warm_start") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| parse_warm_start(v, &study.name).map_err(|e| cfg_err(cfg, e)))
                .collect::<Result<Vec<_>, _>>()?,
            Some(v) => vec![parse_warm_start(v, &study.name).map_err(|e| cfg_err(cfg, e))?],
        };
        let spec = TuneSpec {
            study,
            n_trials,
            timeout,
            jobs,
            parallelism,
            objectives,
            select,
            warm_start,
            steps,
            cache_bytes: cache_mb << 20,
        };
        spec.check_paths(cfg)?;
        Ok(spec)
    }

    /// Every parameter must land on a config the trainer accepts: try each one's lowest and
    /// highest value (a range past a LightGBM limit is refused before the first trial).
    fn check_paths(&self, cfg: &LoadedConfig) -> Result<(), TrainError> {
        for p in &self.study.space.params {
            if let Some(key) = p.name.strip_prefix("model.") {
                check_model_key(cfg, key)
                    .map_err(|m| cfg_err(cfg, format!("space.{:?}: {m}", p.name)))?;
            }
            let (low, high) = p.distribution.bounds();
            for end in [low, high] {
                let v = p.distribution.external(end);
                apply(cfg, &[(p.name.clone(), v)], None).map_err(|e| {
                    cfg_err(
                        cfg,
                        format!("space.{:?}: the config rejects it: {e}", p.name),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Warnings about searched parameters that make trials incomparable: a parameter that
    /// changes the label (`target.*`: another horizon, threshold or column is another
    /// question, and a CV score against other labels is no evidence for or against these
    /// ones) or which rows are scored (the data file, the holdout share, the scheme and the
    /// settings that move test blocks). The search still runs: the user may mean it, but the
    /// "best" trial then compares numbers that measure different things. Fixed parameters
    /// change nothing between trials and are not reported.
    pub fn incomparable_trials(&self) -> Vec<String> {
        /// `split.*` keys that move or resize the test rows (the others, such as `gap`,
        /// `max_train_size` or `embargo_pct`, only change what each fold trains on).
        const SCORED_ROWS: [&str; 12] = [
            "split.scheme",
            "split.n_splits",
            "split.test_size",
            "split.holdout",
            "split.train_size",
            "split.step",
            "split.anchored",
            "split.n_groups",
            "split.n_test_groups",
            "split.shuffle",
            "split.seed",
            "split.temporal",
        ];
        self.study
            .space
            .params
            .iter()
            .filter(|p| !matches!(p.distribution, hone_tune::space::Distribution::Fixed { .. }))
            .filter_map(|p| {
                let name = p.name.as_str();
                if name.starts_with("target.") {
                    Some(format!(
                        "search.space.{name:?} changes the label: each trial is scored against \
                         different targets, so their CV values are not comparable and the best \
                         one is not evidence for its settings; search it in separate studies"
                    ))
                } else if SCORED_ROWS.contains(&name) || name == "data.path" {
                    Some(format!(
                        "search.space.{name:?} changes which rows are scored: trials are \
                         measured on different rows, so their CV values are not comparable; \
                         fix it and search the model instead"
                    ))
                } else {
                    None
                }
            })
            .collect()
    }

    /// True when trials change what [`prepare`] builds (data, target, split, seed), so each
    /// trial needs its own preparation.
    pub fn changes_data(&self) -> bool {
        self.study.space.params.iter().any(|p| {
            ["data.", "target.", "split.", "seed", "metrics"]
                .iter()
                .any(|pre| p.name.starts_with(pre))
        })
    }
}

/// One `warm_start` entry: `{ study = "NAME", top = 10 }`.
fn parse_warm_start(v: &toml::Value, own: &str) -> Result<crate::warm::WarmStart, String> {
    let form = "expected warm_start = { study = \"NAME\", top = 10 } or a list of them";
    let t = v
        .as_table()
        .ok_or_else(|| format!("warm_start: {v} is not a table ({form})"))?;
    for k in t.keys() {
        if k != "study" && k != "top" {
            return Err(format!("warm_start: unknown key {k:?} (study, top)"));
        }
    }
    let study = match t.get("study") {
        Some(toml::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(other) => {
            return Err(format!(
                "warm_start.study must be a study name, got {other}"
            ));
        }
        None => return Err(format!("warm_start needs study = \"NAME\" ({form})")),
    };
    if study == own {
        return Err(format!(
            "warm_start.study {study:?} is this study: to continue it, run it again (it resumes)"
        ));
    }
    let top = match t.get("top") {
        None => crate::warm::DEFAULT_TOP,
        Some(toml::Value::Integer(i)) if *i >= 0 => *i as usize,
        Some(other) => {
            return Err(format!(
                "warm_start.top must be a non-negative integer, got {other}"
            ));
        }
    };
    Ok(crate::warm::WarmStart { study, top })
}

/// Checks a searched `[model]` key against the model family's registered keys
/// ([`hone_models::families::Family::keys`]): a misspelt one is named with the nearest key
/// before any value is tried.
fn check_model_key(cfg: &LoadedConfig, key: &str) -> Result<(), String> {
    let Some(family) = hone_models::families::family_of(cfg.model.name()) else {
        return Ok(());
    };
    let first = key.split('.').next().unwrap_or(key);
    if ["type", "refit_rounds"].contains(&first) || family.keys.iter().any(|k| k.key == first) {
        return Ok(());
    }
    let keys: Vec<&str> = family.keys.iter().map(|k| k.key).collect();
    Err(format!(
        "a {} model has no key {first:?} (its keys: type, {}){}",
        cfg.model.name(),
        keys.join(", "),
        hone_models::suggest::nearest(first, keys.iter().copied())
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default()
    ))
}

/// A sampler or pruner given by name (`"tpe"`), or as a table with options
/// (`{ type = "tpe", n_startup_trials = 5 }`); `default` when the key is absent.
fn spec_of<T: serde::de::DeserializeOwned>(
    search: &toml::Table,
    key: &str,
    default: &str,
    parse: fn(&str) -> hone_tune::Result<T>,
) -> hone_tune::Result<T> {
    match search.get(key) {
        None => parse(default),
        Some(toml::Value::String(s)) => parse(s),
        Some(v) => v
            .clone()
            .try_into::<T>()
            .map_err(|e| hone_tune::TuneError::Invalid(format!("{key}: {e}"))),
    }
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().ok_or("empty parameter path")?;
    let mut cur = table;
    for part in parts {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("{path}: {part} is not a table in the config"))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// The config with `values` written at their paths (and, optionally, the model's thread count,
/// [`hone_models::Estimator::threads_key`], when the user did not fix it).
pub fn apply(
    cfg: &LoadedConfig,
    values: &[(String, ParamValue)],
    threads: Option<usize>,
) -> Result<LoadedConfig, TrainError> {
    let mut value = toml::Value::try_from(&cfg.config)
        .map_err(|e| TrainError::Config(format!("cannot rewrite the config: {e}")))?;
    let table = value
        .as_table_mut()
        .ok_or_else(|| TrainError::Config("the config is not a table".into()))?;
    table.remove("search");
    for (path, v) in values {
        if let ParamValue::Float(f) = v
            && !f.is_finite()
        {
            return Err(TrainError::Config(format!(
                "{}: {path} = {f}: must be a finite number",
                cfg.path.display()
            )));
        }
        set_path(table, path, v.to_toml()).map_err(TrainError::Config)?;
    }
    if let Some(t) = threads
        && let Some(key) = cfg.model.estimator().threads_key()
    {
        let path = format!("model.{key}");
        let fixed =
            values.iter().any(|(p, _)| *p == path) || key_is_set(&cfg.config.model, key.split('.'));
        if !fixed {
            set_path(table, &path, toml::Value::Integer(t as i64)).map_err(TrainError::Config)?;
        }
    }
    let mut out = from_value(value, &cfg.path)?;
    out.data_path = cfg.data_path.clone();
    out.overrides = cfg.overrides.clone();
    Ok(out)
}

/// One trial as plain data, all a worker needs to run it (with the data file at `data_path`):
/// the parsed base config and the trial's parameters as config paths. It serialises (JSON,
/// TOML), so a trial can be queued for a process on another machine; [`TrialTask::config`]
/// gives the same config there as [`apply`] gives here.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrialTask {
    /// The base config, as parsed (its `[search]` table is ignored).
    pub config: crate::TrainConfig,
    /// Where the config was read from (names it in errors).
    pub config_path: std::path::PathBuf,
    /// The data file, resolved.
    pub data_path: std::path::PathBuf,
    /// The trial's values, by config path (`model.params.num_leaves`, `preprocess.scale`).
    pub params: Vec<(String, ParamValue)>,
    /// The model's thread count to set when the config does not fix it.
    pub threads: Option<usize>,
}

impl TrialTask {
    /// The task of running `params` on `cfg`.
    pub fn new(
        cfg: &LoadedConfig,
        params: &[(String, ParamValue)],
        threads: Option<usize>,
    ) -> Self {
        Self {
            config: cfg.config.clone(),
            config_path: cfg.path.clone(),
            data_path: cfg.data_path.clone(),
            params: params.to_vec(),
            threads,
        }
    }

    /// The trial's config: the base config checked, the parameters applied as typed overrides.
    pub fn config(&self) -> Result<LoadedConfig, TrainError> {
        let value = toml::Value::try_from(&self.config)
            .map_err(|e| TrainError::Config(format!("cannot read the config: {e}")))?;
        let mut base = from_value(value, &self.config_path)?;
        base.data_path = self.data_path.clone();
        apply(&base, &self.params, self.threads)
    }
}

/// True when the dotted `key` is set in `table`.
fn key_is_set<'a>(table: &toml::Table, mut key: impl Iterator<Item = &'a str>) -> bool {
    let Some(first) = key.next() else {
        return false;
    };
    let mut cur = table.get(first);
    for part in key {
        cur = cur.and_then(|v| v.as_table()).and_then(|t| t.get(part));
    }
    cur.is_some()
}

/// Progress of a search.
#[derive(Debug, Clone)]
pub enum TuneEvent {
    /// A trial started.
    Started {
        /// The trial (number and params).
        trial: Trial,
    },
    /// A trial finished (COMPLETE, PRUNED or FAIL).
    Finished(Box<Finished>),
    /// The search space changed (`[search] adapt`), by this or another worker.
    Revised(SpaceRevision),
}

/// A finished trial and where the search stands.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The finished trial.
    pub trial: Trial,
    /// Why it failed, for FAIL.
    pub error: Option<String>,
    /// The best trial so far (single objective).
    pub best: Option<Trial>,
    /// Trials by state: complete, pruned, fail, running, waiting.
    pub counts: [usize; 5],
    /// With `[trading]`: the trial's out-of-fold backtest (Sharpe and equity curve), so the
    /// final refit's deflated Sharpe and PBO count every trial of the search.
    pub trading: Option<crate::trading::Trial>,
    /// The mean over the trial's fold models of each size and cost they report (empty for a
    /// pruned or failed trial); recorded on the trial's run as `complexity.<name>` metrics.
    pub costs: Vec<(&'static str, f64)>,
}

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TuneEnd {
    /// The trial budget was reached.
    Budget,
    /// The timeout passed.
    Timeout,
    /// A grid was fully evaluated.
    Exhausted,
    /// Stopped by the user (running trials were marked FAIL).
    Interrupted,
}

/// Loads the data and makes the folds every trial shares (`None` when trials change data,
/// target or split, so each prepares its own), checking that the objective metrics apply to
/// the task: call it before creating the study, so a bad objective leaves nothing behind.
pub fn prepare_search(cfg: &LoadedConfig, spec: &TuneSpec) -> Result<Option<Prepared>, TrainError> {
    if spec.changes_data() {
        return Ok(None);
    }
    let prep = prepare(cfg, &mut |_| {})?;
    if let Some(m) = spec.objectives.iter().find_map(|o| match o {
        Objective::Metric(m) if !prep.metrics.contains(m) => Some(m),
        _ => None,
    }) {
        return Err(TrainError::Config(format!(
            "{}: [search] metric {m} does not apply to this {} task (use one of {})",
            cfg.path.display(),
            prep.task.kind(),
            prep.metrics
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Some(prep))
}

/// Runs trials until the budget, the timeout, an exhausted grid or `stop`, on `shared` folds
/// from [`prepare_search`]. Trials run on `spec.jobs` threads, LightGBM's threads split
/// between them.
pub fn run_search(
    cfg: &LoadedConfig,
    spec: &TuneSpec,
    study: &Study,
    shared: Option<&Prepared>,
    stop: &AtomicBool,
    on_event: &(dyn Fn(TuneEvent) + Sync),
) -> Result<TuneEnd, TrainError> {
    let started = Instant::now();
    // Trials on shared folds reuse each fold's preprocessing and binned datasets.
    let caches = shared
        .filter(|_| spec.cache_bytes > 0)
        .map(|_| FoldCaches::new(spec.cache_bytes));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / spec.jobs).max(1);
    // Asks go through one gate per process: the budget check (COMPLETE + PRUNED + running
    // trials of the whole study, other processes' included) and the ask are then atomic here;
    // across processes the study may overshoot by at most the number of other workers. Failed
    // and killed trials do not count: the budget is of results.
    let gate = Mutex::new(());
    let failures_in_a_row = AtomicUsize::new(0);
    // Failures do not use up the budget, so something must bound them: a process stops once
    // its own failed trials reach the budget (a grid point that always fails would otherwise
    // be retried forever).
    let failures_here = AtomicUsize::new(0);
    let end: Mutex<Option<TuneEnd>> = Mutex::new(None);
    // Space revisions already told to `on_event` (those before this run were told at open).
    let told_revisions = Mutex::new(study.revisions().len());
    let tell_revisions = || {
        let mut told = told_revisions.lock().unwrap_or_else(|p| p.into_inner());
        let revs = study.revisions();
        for r in revs.iter().skip(*told) {
            on_event(TuneEvent::Revised(r.clone()));
        }
        *told = (*told).max(revs.len());
    };
    let fatal: Mutex<Option<TrainError>> = Mutex::new(None);
    let finish = |e: TuneEnd| {
        if let Ok(mut g) = end.lock()
            && g.is_none()
        {
            *g = Some(e);
        }
    };
    // Stops every worker and makes the search return `e`.
    let abort = |e: TrainError| {
        *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        finish(TuneEnd::Interrupted);
    };
    let worker = || {
        loop {
            if stop.load(Ordering::SeqCst) {
                finish(TuneEnd::Interrupted);
                return;
            }
            if end.lock().map(|g| g.is_some()).unwrap_or(true) {
                return;
            }
            if spec.timeout.is_some_and(|t| started.elapsed() >= t) {
                finish(TuneEnd::Timeout);
                return;
            }
            let guard = gate.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = spec.n_trials {
                let _ = study.refresh();
                let [c, p, _, r, _] = study.counts();
                if c + p + r >= n {
                    finish(TuneEnd::Budget);
                    return;
                }
            }
            let asked = study.ask();
            drop(guard);
            let trial = match asked {
                Ok(t) => t,
                Err(hone_tune::TuneError::Exhausted(_)) => {
                    finish(TuneEnd::Exhausted);
                    return;
                }
                Err(e) => {
                    abort(TrainError::Config(e.to_string()));
                    return;
                }
            };
            on_event(TuneEvent::Started {
                trial: trial.clone(),
            });
            let TrialResult {
                outcome,
                error,
                trading,
                costs,
            } = evaluate_trial(
                cfg,
                spec,
                study,
                &trial,
                shared,
                caches.as_ref(),
                threads,
                stop,
            );
            let told = study.tell(trial.number, outcome);
            let trial = match told {
                Ok(t) => t,
                Err(e) => {
                    abort(TrainError::Config(e.to_string()));
                    return;
                }
            };
            if trial.state == TrialState::Fail && !stop.load(Ordering::SeqCst) {
                let n = failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
                let here = failures_here.fetch_add(1, Ordering::SeqCst) + 1;
                if n >= MAX_FAILURES_BEFORE_SUCCESS && study.counts()[0] == 0 {
                    abort(TrainError::Config(format!(
                        "the first {n} trials all failed; last error: {}",
                        error.clone().unwrap_or_default()
                    )));
                } else if spec.n_trials.is_some_and(|budget| here >= budget) {
                    abort(TrainError::Config(format!(
                        "{here} trials failed in this run, as many as the trial budget; last \
                         error: {}",
                        error.clone().unwrap_or_default()
                    )));
                }
            } else if trial.state == TrialState::Complete {
                failures_in_a_row.store(0, Ordering::SeqCst);
            }
            let best = if spec.study.directions.len() == 1 {
                study.best_trial().ok().flatten()
            } else {
                None
            };
            on_event(TuneEvent::Finished(Box::new(Finished {
                trial,
                error,
                best,
                counts: study.counts(),
                trading,
                costs,
            })));
            tell_revisions();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..spec.jobs {
            s.spawn(worker);
        }
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(end
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or(TuneEnd::Budget))
}

/// One trial: write its params into the config, cross-validate, report folds, decide pruning.
#[allow(clippy::too_many_arguments)]
fn evaluate_trial(
    cfg: &LoadedConfig,
    spec: &TuneSpec,
    study: &Study,
    trial: &Trial,
    shared: Option<&Prepared>,
    caches: Option<&FoldCaches>,
    threads: usize,
    stop: &AtomicBool,
) -> TrialResult {
    let values = spec.study.space.external(&trial.params);
    type TrialValues = (
        Vec<f64>,
        Option<crate::trading::Trial>,
        Vec<(&'static str, f64)>,
    );
    let run = || -> Result<Option<TrialValues>, TrainError> {
        // Here the base config is already checked: apply the overrides directly (a remote
        // worker goes through `TrialTask::config`, which gives the same config).
        let trial_cfg = apply(cfg, &values, Some(threads))?;
        let own;
        let prep = match shared {
            Some(p) => p,
            None => {
                own = prepare(&trial_cfg, &mut |_| {})?;
                &own
            }
        };
        // Where each objective comes from: a metric's position among the fold's values, or
        // a cost of the fold models.
        enum Source {
            Metric(usize),
            Cost(&'static str),
        }
        let sources: Vec<Source> = spec
            .objectives
            .iter()
            .map(|o| match o {
                Objective::Metric(m) => prep
                    .metrics
                    .iter()
                    .position(|x| x == m)
                    .map(Source::Metric)
                    .ok_or_else(|| {
                        TrainError::Config(format!(
                            "[search] metric {m} is not computed for this task (metrics: {})",
                            prep.metrics
                                .iter()
                                .map(|m| m.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                Objective::Cost(c) => Ok(Source::Cost(c)),
            })
            .collect::<Result<_, _>>()?;
        // Every trial reports its fold models' size and cost (their means), objective or not:
        // one save to memory and one timed prediction of the test rows per fold.
        let measure_cost = true;
        // Only the shared folds are cached: a trial that prepared its own data has its own.
        let caches = caches.filter(|_| shared.is_some());
        let mut observer = TrialObserver {
            spec,
            study,
            trial: trial.number,
            stop,
            // Pruning follows the first objective when it is a metric; a cost is known only
            // once a fold's model is fitted, so a cost-first search reports no steps.
            objective: match sources.first() {
                Some(Source::Metric(i)) => Some(*i),
                _ => None,
            },
            per_fold: study.step_values() == StepValues::PerInstance,
            sum: 0.0,
        };
        let folds = cross_validate(
            &trial_cfg,
            prep,
            caches,
            measure_cost,
            &mut observer,
            &mut |_| {},
        )?;
        let Some(cv) = folds else {
            return Ok(None);
        };
        // The mean of each cost every fold model reports (recorded on the trial's run, and
        // the value of a cost objective).
        let costs: Vec<(&'static str, f64)> = crate::report::COST_NAMES
            .iter()
            .filter_map(|&c| {
                let v: Option<Vec<f64>> = cv.costs.iter().map(|k| k.value(c)).collect();
                v.filter(|v| !v.is_empty())
                    .map(|v| (c, v.iter().sum::<f64>() / v.len() as f64))
            })
            .collect();
        let n = cv.folds.len() as f64;
        let mut values = Vec::with_capacity(sources.len());
        for source in &sources {
            values.push(match source {
                Source::Metric(i) => cv.folds.iter().map(|f| f[*i].1).sum::<f64>() / n,
                Source::Cost(c) => match costs.iter().find(|(name, _)| name == c) {
                    Some((_, v)) => *v,
                    None => {
                        return Err(TrainError::Config(format!(
                            "[search] objective {c}: this trial's model ({}) has no such count",
                            trial_cfg.model.estimator().name()
                        )));
                    }
                },
            });
        }
        Ok(Some((values, cv.trading, costs)))
    };
    let (outcome, error, trading, costs) = match run() {
        Ok(Some((v, trading, costs))) => (Outcome::Complete(v), None, trading, costs),
        Ok(None) if stop.load(Ordering::SeqCst) => {
            (Outcome::Fail, Some("interrupted".into()), None, Vec::new())
        }
        Ok(None) => (Outcome::Pruned, None, None, Vec::new()),
        Err(e) => (Outcome::Fail, Some(e.to_string()), None, Vec::new()),
    };
    TrialResult {
        outcome,
        error,
        trading,
        costs,
    }
}

/// What one trial's evaluation gives.
struct TrialResult {
    outcome: Outcome,
    error: Option<String>,
    trading: Option<crate::trading::Trial>,
    /// The mean over its fold models of each cost they report ([`crate::report::COST_NAMES`]).
    costs: Vec<(&'static str, f64)>,
}

/// Reports a trial's progress to its study and asks the pruner after each report.
struct TrialObserver<'a> {
    spec: &'a TuneSpec,
    study: &'a Study,
    trial: u64,
    stop: &'a AtomicBool,
    /// Position of the (first) objective among the fold's metric values; `None` when the
    /// first objective is a cost (no intermediate values are reported).
    objective: Option<usize>,
    /// Report each fold's own value (a pruner that pairs folds, such as Wilcoxon's) rather
    /// than the running CV mean, the estimate a user would read.
    per_fold: bool,
    sum: f64,
}

impl TrialObserver<'_> {
    /// Reports `value` at `step` and asks the pruner; a failed report never stops the trial.
    fn report(&self, step: u64, value: f64) -> Flow {
        if self.study.report(self.trial, step, value).is_err() {
            return Flow::Continue;
        }
        if self.study.should_prune(self.trial).unwrap_or(false) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

impl CvObserver for TrialObserver<'_> {
    fn on_step(&mut self, fold: usize, step: &StepReport) -> Flow {
        if self.stop.load(Ordering::SeqCst) {
            return Flow::Stop;
        }
        let (Steps::Rounds, Some(score), Some(_)) = (self.spec.steps, step.valid, self.objective)
        else {
            return Flow::Continue;
        };
        let maximize = self.spec.study.directions[0] == Direction::Maximize;
        let value = if score.higher_is_better == maximize {
            score.value
        } else {
            -score.value
        };
        self.report((fold * step.total + step.step - 1) as u64, value)
    }

    fn on_fold(&mut self, fold: usize, values: &[(Metric, f64)]) -> Flow {
        if self.stop.load(Ordering::SeqCst) {
            return Flow::Stop;
        }
        if self.spec.steps == Steps::Rounds {
            return Flow::Continue;
        }
        let Some(objective) = self.objective else {
            return Flow::Continue;
        };
        let v = values[objective].1;
        self.sum += v;
        let step_value = if self.per_fold {
            v
        } else {
            self.sum / (fold + 1) as f64
        };
        self.report(fold as u64, step_value)
    }
}

/// The trial to refit and its values as config paths: the best (one objective), the one
/// `select` picks from the front (two), the front's best on the first (more); `None` before
/// any COMPLETE.
pub fn best_values(study: &Study, select: Select) -> Option<(Trial, Vec<(String, ParamValue)>)> {
    let directions = &study.def().directions;
    let best = if directions.len() == 1 {
        study.best_trial().ok().flatten()
    } else if directions.len() == 2 {
        // Two objectives: the trial `select` picks from the front.
        let front = study.best_trials();
        select.choose(&front, directions).cloned()
    } else {
        // More: refit the front's trial best on the first objective.
        let d = directions[0];
        study.best_trials().into_iter().min_by(|a, b| {
            let la = d.loss(a.values.as_ref().map_or(f64::INFINITY, |v| v[0]));
            let lb = d.loss(b.values.as_ref().map_or(f64::INFINITY, |v| v[0]));
            la.total_cmp(&lb)
        })
    }?;
    let values = study.def().space.external(&best.params);
    Some((best, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refit's trial from a front of (AUC, maximised; bytes, minimised): the best AUC by
    /// default, the smallest model within a tolerance of it, or the knee.
    #[test]
    fn select_picks_from_a_two_objective_front() {
        use hone_tune::trial::TrialState;
        let trial = |n: u64, auc: f64, bytes: f64| {
            let mut t = Trial::new(n, TrialState::Complete, Default::default());
            t.values = Some(vec![auc, bytes]);
            t
        };
        // A front with a clear knee at trial 2: most of the AUC for a fraction of the size.
        let front = vec![
            trial(0, 0.600, 90_000.0),
            trial(1, 0.598, 60_000.0),
            trial(2, 0.590, 12_000.0),
            trial(3, 0.560, 9_000.0),
            trial(4, 0.520, 8_000.0),
        ];
        let dirs = [Direction::Maximize, Direction::Minimize];
        let pick = |s: Select| s.choose(&front, &dirs).unwrap().number;
        assert_eq!(pick(Select::First), 0);
        assert_eq!(pick(Select::MinComplexityWithin(0.002)), 1);
        assert_eq!(pick(Select::MinComplexityWithin(0.0)), 0);
        assert_eq!(pick(Select::MinComplexityWithin(0.05)), 3);
        assert_eq!(pick(Select::Knee), 2);
        // Two trials have no knee: the best on the first objective.
        assert_eq!(Select::Knee.choose(&front[..2], &dirs).unwrap().number, 0);
        assert!(Select::Knee.choose(&[], &dirs).is_none());
        // Parsing: the names, the string and the table forms, and bad values.
        let p = |t: &str| Select::parse(&t.parse::<toml::Table>().unwrap()["s"]);
        assert_eq!(p("s = \"knee\""), Ok(Select::Knee));
        assert_eq!(
            p("s = \"min_complexity_within = 0.002\""),
            Ok(Select::MinComplexityWithin(0.002))
        );
        assert_eq!(
            p("s = { min_complexity_within = 0.01 }"),
            Ok(Select::MinComplexityWithin(0.01))
        );
        assert!(p("s = \"elbow\"").is_err());
        assert!(p("s = { min_complexity_within = -1.0 }").is_err());
    }

    /// A searched `[model]` key the family does not have is named with the nearest one.
    #[test]
    fn searched_model_keys_are_checked_against_the_family() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/sp500_direction_tune.toml"
        ));
        let cfg = crate::config::load(path).unwrap();
        assert!(check_model_key(&cfg, "params.num_leaves").is_ok());
        assert!(check_model_key(&cfg, "early_stopping_rounds").is_ok());
        let e = check_model_key(&cfg, "early_stoping_rounds").unwrap_err();
        assert!(
            e.contains("a lightgbm model has no key \"early_stoping_rounds\"")
                && e.contains("did you mean \"early_stopping_rounds\"?"),
            "{e}"
        );
    }

    /// Searching the label or the scored rows is warned about; the model, the features' gap
    /// and fixed values are not.
    #[test]
    fn searches_that_make_trials_incomparable_are_named() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/sp500_direction_tune.toml"
        ));
        let set = |args: &[&str]| -> Vec<crate::config::Override> {
            args.iter()
                .map(|a| crate::config::Override::parse(a).unwrap())
                .collect()
        };
        let warnings = |args: &[&str]| {
            let cfg = crate::config::load_with(path, &set(args)).unwrap();
            TuneSpec::from_config(&cfg, None)
                .unwrap()
                .incomparable_trials()
        };
        assert!(warnings(&[]).is_empty());
        let w = warnings(&[
            "search.space.\"target.threshold\"={type=\"float\",low=0.0,high=0.01}",
            "search.space.\"split.holdout\"={type=\"categorical\",choices=[0.1,0.2]}",
            "search.space.\"split.gap\"={type=\"int\",low=1,high=3}",
            "search.space.\"target.horizon\"={type=\"fixed\",value=1}",
        ]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("search.space.\"target.threshold\" changes the label"));
        assert!(w[1].starts_with("search.space.\"split.holdout\" changes which rows are scored"));
    }

    /// A trial travels as data: its JSON gives the config `apply` gives.
    #[test]
    fn a_trial_task_round_trips_to_the_same_config() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/sp500_direction_tune.toml"
        ));
        let cfg = crate::config::load(path).unwrap();
        let params = vec![
            ("model.params.num_leaves".to_string(), ParamValue::Int(9)),
            (
                "model.params.learning_rate".to_string(),
                ParamValue::Float(0.0731),
            ),
        ];
        let task = TrialTask::new(&cfg, &params, Some(1));
        let json = serde_json::to_string(&task).unwrap();
        let back: TrialTask = serde_json::from_str(&json).unwrap();
        let remote = back.config().unwrap();
        let local = apply(&cfg, &params, Some(1)).unwrap();
        assert_eq!(
            toml::to_string(&remote.config).unwrap(),
            toml::to_string(&local.config).unwrap()
        );
        assert_eq!(remote.model, local.model);
        assert_eq!(remote.data_path, cfg.data_path);
        let text = toml::to_string(&remote.config).unwrap();
        assert!(text.contains("num_leaves = 9"), "{text}");
        assert!(text.contains("num_threads = 1"), "{text}");
    }
}
