//! Queued jobs: what `hone submit` puts in the queue ([`submit`]) and what runs a claimed
//! job on a worker ([`execute`], in a child process the worker supervises:
//! [`crate::worker`]). The queue itself (states, leases, claims, gangs) is
//! `hone_track::queue`; this module knows configs and what a train or tune job does.
//!
//! A job's spec ([`JobSpec`]) is the config *as it will run*: `--set` overrides applied, the
//! name filled in, the data path absolute (or `s3://…`), so any worker that can read the data
//! runs the same job; the data's fingerprint at submission travels with it, and a worker that
//! reads other bytes refuses to train ([`crate::LoadedConfig::expect_fingerprint`]). A retried
//! job runs the same spec with the same seed, so its results equal a clean run's.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hone_track::queue::{Job, JobQueue, NewJob, validate_label};
use hone_track::{Backend, Tracker};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::config::LoadedConfig;

/// The job kinds.
pub const TRAIN: &str = "train";
/// A tune job's work unit.
pub const TUNE: &str = "tune";

/// What a queued job runs (the queue's `spec`, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The resolved config (TOML).
    pub config: String,
    /// The file it was read from (named in messages; never read again).
    pub source: String,
    /// A tune job (a `[search]` over the config) rather than one training run.
    pub tune: bool,
    /// The tune job's work units (`[search] parallelism`); 1 for a train job.
    pub units: usize,
    /// Whether a tune job refits the best parameters at the end.
    pub refit: bool,
}

impl JobSpec {
    /// The spec stored in a job.
    pub fn of(job: &Job) -> Result<Self, TrainError> {
        serde_json::from_str(&job.spec).map_err(|e| {
            TrainError::Invalid(format!(
                "job {}: its spec is not one this hone can run ({e})",
                job.job_id
            ))
        })
    }

    /// The config, checked as `hone train` checks it, with the submitted fingerprint.
    pub fn loaded(&self, fingerprint: Option<&str>) -> Result<LoadedConfig, TrainError> {
        let mut cfg = crate::config::parse(&self.config, Path::new(&self.source))?;
        cfg.expect_fingerprint = fingerprint.map(str::to_string);
        Ok(cfg)
    }
}

/// What `hone submit` asks for.
#[derive(Debug, Clone)]
pub struct SubmitRequest<'a> {
    /// The config, overrides applied.
    pub cfg: &'a LoadedConfig,
    /// Queue a tune job (the config's `[search]`).
    pub tune: bool,
    /// Refit the best parameters after the search (tune jobs).
    pub refit: bool,
    /// A name for people (default: the config's name).
    pub name: Option<String>,
    /// Higher runs first.
    pub priority: i64,
    /// Labels a worker needs.
    pub requires: Vec<String>,
    /// Claims allowed before the job fails.
    pub max_attempts: i64,
    /// Accept labels no worker has announced yet.
    pub allow_unknown_labels: bool,
}

/// What was queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submitted {
    /// The job ids (a tune job's units, in unit order; the first is the group's id).
    pub job_ids: Vec<i64>,
    /// The data's fingerprint the workers will check.
    pub data_fingerprint: String,
    /// Workers the job needs at once (a gang's size; 1 otherwise).
    pub gang_size: usize,
}

/// Queues a train job, a tune job (`[search] parallelism` units joining one study) or a
/// distributed LightGBM job (`[distributed] machines` workers at once). Everything that can
/// be checked here is, before anything is queued: the config (and its `[search]`), the labels,
/// and the data, which is read once for its fingerprint (so data the submitter cannot read is
/// refused now, not on a worker later).
pub fn submit(queue: &dyn JobQueue, req: &SubmitRequest<'_>) -> Result<Submitted, TrainError> {
    let cfg = req.cfg;
    if req.max_attempts < 1 || req.max_attempts > 100 {
        return Err(TrainError::Config(format!(
            "--max-attempts {}: give 1 to 100",
            req.max_attempts
        )));
    }
    for l in &req.requires {
        validate_label(l).map_err(|e| TrainError::Config(format!("--requires: {e}")))?;
    }
    if !req.requires.is_empty() && !req.allow_unknown_labels {
        let known: std::collections::BTreeSet<String> = queue
            .workers(i64::MAX / 2)?
            .into_iter()
            .flat_map(|w| w.info.labels)
            .collect();
        if let Some(unknown) = req.requires.iter().find(|l| !known.contains(*l)) {
            let seen = if known.is_empty() {
                "no worker has announced any label".to_string()
            } else {
                format!(
                    "labels workers announced: {}",
                    known.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            return Err(TrainError::Config(format!(
                "--requires {unknown}: no worker ever had this label ({seen}); start one with \
                 `hone worker --labels {unknown}`, or pass --allow-unknown-labels to queue it anyway"
            )));
        }
    }
    let (units, gang_size) = if req.tune {
        if cfg.config.distributed.is_some() {
            return Err(TrainError::Config(format!(
                "{}: [distributed] trains one model on a gang; a tune job's trials run on one \
                 worker each: remove [distributed] or drop --tune",
                cfg.path.display()
            )));
        }
        let spec = crate::tune::TuneSpec::from_config(cfg, None)?;
        (spec.parallelism, 1)
    } else {
        (1, cfg.config.distributed.as_ref().map_or(1, |d| d.machines))
    };
    let table = crate::job::load_table(&cfg.data_path, &cfg.config.data.text_columns())?;
    let fingerprint = hone_data::fingerprint::fingerprint(&table);
    drop(table);
    let resolved = toml::to_string(&cfg.resolved())
        .map_err(|e| TrainError::Config(format!("{}: {e}", cfg.path.display())))?;
    let spec = JobSpec {
        config: resolved,
        source: cfg.path.display().to_string(),
        tune: req.tune,
        units,
        refit: req.refit,
    };
    let spec_text = serde_json::to_string(&spec).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let name = req.name.clone().unwrap_or_else(|| cfg.name());
    let jobs: Vec<NewJob> = (0..units)
        .map(|u| NewJob {
            name: if units > 1 {
                format!("{name} [unit {}/{units}]", u + 1)
            } else {
                name.clone()
            },
            kind: if req.tune { TUNE } else { TRAIN }.into(),
            spec: spec_text.clone(),
            priority: req.priority,
            requires: req.requires.clone(),
            max_attempts: req.max_attempts,
            gang_size: gang_size as i64,
            data_fingerprint: Some(fingerprint.clone()),
        })
        .collect();
    let job_ids = queue.submit(&jobs)?;
    Ok(Submitted {
        job_ids,
        data_fingerprint: fingerprint,
        gang_size,
    })
}

/// Tells a tune unit's log what the search does, one line each.
struct LineObserver;

impl crate::tune_job::TuneObserver for LineObserver {
    fn on_warning(&self, message: &str) {
        println!("warning: {message}");
    }

    fn on_note(&self, message: &str) {
        println!("{message}");
    }

    fn on_refit(&self) {
        println!("refitting the best parameters");
    }
}

/// A gang member's place, as the queue gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GangPlace {
    /// This member's rank.
    pub rank: usize,
    /// Every member's `host:port`, by rank.
    pub machines: Vec<String>,
}

/// How an executed job ended (what the child process tells its worker).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecResult {
    /// It succeeded.
    pub succeeded: bool,
    /// The error, one line.
    pub error: Option<String>,
    /// Whether another attempt could succeed (a bad config or bad data never does).
    pub retryable: bool,
    /// The run it produced.
    pub run_id: Option<String>,
    /// The study it joined.
    pub study: Option<String>,
}

impl ExecResult {
    fn failed(e: &TrainError, retryable_anyway: bool, run_id: Option<String>) -> Self {
        let retryable = match e {
            TrainError::Config(_) | TrainError::Data(_) | TrainError::Split(_) => false,
            TrainError::Invalid(_) | TrainError::Metric { .. } | TrainError::Stat(_) => {
                retryable_anyway
            }
            _ => true,
        };
        Self {
            succeeded: false,
            error: Some(e.to_string()),
            retryable,
            run_id,
            study: None,
        }
    }
}

/// Where an executed job records its runs.
pub struct ExecContext<'a> {
    /// The store's URI.
    pub store_uri: &'a str,
    /// The artifacts' URI.
    pub artifacts: &'a str,
    /// The gang place, for a distributed job's member.
    pub gang: Option<GangPlace>,
    /// Set when the job must stop (the worker asks).
    pub stop: &'a AtomicBool,
}

/// Runs a claimed job to its end in this process: a train job as `hone train --no-outputs`
/// would (its run tagged with the job id), a tune unit as `hone tune --no-outputs` joining the
/// job's study (the last unit to finish its search refits), a gang member as its rank of a
/// distributed LightGBM job (rank 0 tracks the run; the others train and record nothing).
/// Never panics on a bad job: every failure is an [`ExecResult`].
pub fn execute(
    job: &Job,
    ctx: &ExecContext<'_>,
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> ExecResult {
    let spec = match JobSpec::of(job) {
        Ok(s) => s,
        Err(e) => return ExecResult::failed(&e, false, None),
    };
    let cfg = match spec.loaded(job.data_fingerprint.as_deref()) {
        Ok(c) => c,
        Err(e) => return ExecResult::failed(&e, false, None),
    };
    if spec.tune {
        execute_tune(job, &spec, &cfg, ctx, on_event)
    } else {
        execute_train(job, &cfg, ctx, on_event)
    }
}

fn execute_train(
    job: &Job,
    cfg: &LoadedConfig,
    ctx: &ExecContext<'_>,
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> ExecResult {
    let gang = ctx.gang.is_some();
    if let (Some(place), Some(d)) = (&ctx.gang, &cfg.config.distributed) {
        let g = hone_models::gbm::Gang {
            rank: place.rank,
            machines: place.machines.clone(),
            tree_learner: d.tree_learner.clone(),
            timeout_minutes: i32::try_from(d.timeout_minutes).unwrap_or(5),
        };
        if let Err(e) = hone_models::gbm::join_gang(g) {
            let e = TrainError::Invalid(format!("joining the gang: {e}"));
            return ExecResult::failed(&e, true, None);
        }
        if place.rank > 0 {
            // The followers train their rows and keep nothing: rank 0 records the run.
            return match crate::job::run_job(cfg, None, &[], on_event) {
                Ok(_) => ExecResult {
                    succeeded: true,
                    ..Default::default()
                },
                Err(e) => ExecResult::failed(&e, true, None),
            };
        }
    }
    let tracker = match Tracker::open_uri(ctx.store_uri, ctx.artifacts) {
        Ok(t) => t,
        Err(e) => return ExecResult::failed(&e.into(), true, None),
    };
    let job_tag = job.job_id.to_string();
    let result = crate::tracking::run_train_tracked_tagged(
        cfg,
        &tracker,
        &[(hone_track::keys::JOB_ID, &job_tag)],
        on_event,
    );
    let _ = tracker.flush();
    match result {
        Ok((report, run_id)) => {
            let failed = crate::gates::failed_hard(&report.gates);
            if failed.is_empty() {
                ExecResult {
                    succeeded: true,
                    run_id: Some(run_id),
                    ..Default::default()
                }
            } else {
                ExecResult {
                    succeeded: false,
                    error: Some(format!("hard gate(s) failed: {}", failed.join("; "))),
                    retryable: false,
                    run_id: Some(run_id),
                    study: None,
                }
            }
        }
        Err(e) => ExecResult::failed(&e, gang, None),
    }
}

fn execute_tune(
    job: &Job,
    spec: &JobSpec,
    cfg: &LoadedConfig,
    ctx: &ExecContext<'_>,
    on_event: &mut dyn FnMut(crate::Event<'_>),
) -> ExecResult {
    let mut run = || -> Result<(String, Option<String>), TrainError> {
        let tune = crate::tune::TuneSpec::from_config(cfg, None)?;
        let store: Arc<dyn Backend> = Arc::from(hone_track::open_store(ctx.store_uri)?);
        let tracker = Tracker::open_uri(ctx.store_uri, ctx.artifacts)?;
        let observer = LineObserver;
        let search = |refit| crate::tune_job::TuneRequest {
            cfg,
            spec: &tune,
            store: store.clone(),
            tracker: &tracker,
            top: 0,
            stop: ctx.stop,
            refit,
        };
        let outcome =
            crate::tune_job::run_tune(search(crate::tune_job::RefitTo::Skip), &observer, on_event)?;
        let study = outcome.def.name.clone();
        if outcome.end == crate::tune::TuneEnd::Interrupted {
            return Err(TrainError::Invalid("the search was stopped".into()));
        }
        // The unit that finishes its search last refits (the others' trials are all told by
        // then, so the refit sees the whole study). A retried unit that already counted
        // counts again and refits too: a refit more, never none.
        let done = store.next_sequence(&format!("job-group:{}:searched", job.group_id))?;
        let mut run_id = None;
        if spec.refit && done + 1 >= spec.units as i64 {
            let again = crate::tune_job::run_tune(
                search(crate::tune_job::RefitTo::StoreOnly),
                &observer,
                on_event,
            )?;
            run_id = again.refit.map(|r| r.run_id);
        }
        tracker.flush()?;
        Ok((study, run_id))
    };
    match run() {
        Ok((study, run_id)) => ExecResult {
            succeeded: true,
            study: Some(study),
            run_id,
            ..Default::default()
        },
        Err(e) => ExecResult::failed(&e, false, None),
    }
}
