//! `hone submit`, `hone jobs …`, `hone worker` and the hidden `hone job-exec`: the job queue
//! from the command line, over `hone_train::jobs` / `hone_train::worker` and
//! `hone_track::queue`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};
use hone_track::queue::{Job, JobFilter, JobQueue, JobState};
use hone_track::{OpenMode, now_ms};
use serde_json::json;

use crate::CliError;
use crate::render::escape;
use crate::tracking::{StoreArgs, track_err};

/// `hone submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The job's config file (TOML).
    pub config: PathBuf,
    /// Queue a tune job: the config's [search], split into `[search] parallelism` work units
    /// that join one study.
    #[arg(long)]
    pub tune: bool,
    /// With --tune: no refit of the best parameters at the end.
    #[arg(long, requires = "tune")]
    pub no_refit: bool,
    /// A name for `hone jobs list` (default: the config's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Higher runs first (default 0).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i64,
    /// A label the worker must have (repeatable, or comma-separated): e.g. --requires gpu.
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    /// Claims allowed before the job is FAILED (a worker that dies costs one).
    #[arg(long, default_value_t = 3)]
    pub max_attempts: i64,
    /// Queue even if no worker ever announced a required label.
    #[arg(long)]
    pub allow_unknown_labels: bool,
    /// Override a config key before the config is checked (repeatable): KEY=VALUE.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the job ids as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `hone jobs …`.
#[derive(Args, Debug)]
pub struct JobsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: JobsCmd,
}

#[derive(Subcommand, Debug)]
enum JobsCmd {
    /// List jobs, newest first, with waiting and run times and the queue's depth.
    List {
        /// Only jobs in these states (comma-separated: queued, running, succeeded, failed,
        /// cancelled).
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The queue: jobs per state, live workers, the oldest queued job's wait, and the claim
    /// latency (queued → claimed) of the last 1,000 claimed jobs.
    Stats {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// One job: its state, attempts, worker and lease, times, result, and why it waits.
    Show {
        /// Job id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// A job's captured log (the last attempt's, or --attempt N).
    Logs {
        /// Job id.
        id: i64,
        /// Which attempt.
        #[arg(long)]
        attempt: Option<i64>,
    },
    /// Cancel a job: a queued one at once, a running one within one heartbeat.
    Cancel {
        /// Job id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Queue a FAILED or CANCELLED job again, with fresh attempts.
    Retry {
        /// Job id.
        id: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `hone worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Jobs run at once.
    #[arg(long, default_value_t = 1)]
    pub slots: usize,
    /// This worker's labels (comma-separated), matched against jobs' --requires.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Exit once the queue has nothing this worker can run.
    #[arg(long)]
    pub once: bool,
    /// This worker's id (default: host-pid-random).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds a job's lease lasts without a heartbeat; a worker silent that long has its
    /// jobs re-queued (heartbeats come every third of it, at most every 5 s).
    #[arg(long, default_value_t = 60.0)]
    pub lease_seconds: f64,
    /// Seconds between claims while the queue is empty.
    #[arg(long, default_value_t = 1.0)]
    pub poll_seconds: f64,
    /// Seconds a gang member waits for the rest of its gang before leaving it.
    #[arg(long, default_value_t = 60.0)]
    pub gather_seconds: f64,
    /// Seconds a running job may go on after SIGTERM before it is stopped and re-queued.
    #[arg(long, default_value_t = 10.0)]
    pub grace_seconds: f64,
    /// Where job logs are written while jobs run (default: hone-worker/ in the temporary
    /// folder); each log moves to the artifact store when its job ends.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `hone job-exec` (run by workers, not by people).
#[derive(Args, Debug)]
pub struct JobExecArgs {
    /// Job id.
    pub id: i64,
    /// Where the worker reads the outcome.
    #[arg(long)]
    pub result: PathBuf,
    /// Gang rank.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Gang members' host:port, by rank.
    #[arg(long, value_delimiter = ',')]
    pub machines: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn queue_of(store: &StoreArgs, mode: OpenMode) -> Result<Box<dyn JobQueue>, CliError> {
    let loc = store.location()?;
    hone_track::open_queue_with(&loc.store_uri, mode).map_err(track_err)
}

fn seconds(flag: &str, v: f64) -> Result<Duration, CliError> {
    if !(v.is_finite() && v > 0.0 && v <= 7.0 * 86_400.0) {
        return Err(CliError::usage(format!(
            "--{flag} {v}: give a number of seconds above 0 (at most a week)"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// `12.3s`, `4m05s`, `2h03m`.
fn span(ms: i64) -> String {
    let s = ms.max(0) as f64 / 1000.0;
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as i64, (s % 60.0) as i64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as i64,
            ((s % 3600.0) / 60.0) as i64
        )
    }
}

fn job_json(j: &Job, now: i64) -> serde_json::Value {
    let mut v = serde_json::to_value(j).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("spec");
        o.insert("waited_ms".into(), json!(j.waited_ms(now)));
        o.insert("ran_ms".into(), json!(j.ran_ms(now)));
    }
    v
}

/// Runs `hone submit`.
pub fn submit(args: SubmitArgs) -> Result<(), CliError> {
    let cfg = crate::commands::load_config(&args.config, &args.set)?;
    let queue = queue_of(&args.store, OpenMode::Create)?;
    let req = hone_train::jobs::SubmitRequest {
        cfg: &cfg,
        tune: args.tune,
        refit: !args.no_refit,
        name: args.name.clone(),
        priority: args.priority,
        requires: args.requires.clone(),
        max_attempts: args.max_attempts,
        allow_unknown_labels: args.allow_unknown_labels,
    };
    let done = hone_train::jobs::submit(queue.as_ref(), &req).map_err(|e| match e {
        hone_train::TrainError::Track(e) => track_err(e),
        e => e.into(),
    })?;
    if args.json {
        println!(
            "{}",
            json!({"job_ids": done.job_ids, "data_fingerprint": done.data_fingerprint,
                   "gang_size": done.gang_size})
        );
        return Ok(());
    }
    match done.job_ids.as_slice() {
        [id] if done.gang_size > 1 => println!(
            "queued job {id} (a gang of {} workers; hone jobs show {id})",
            done.gang_size
        ),
        [id] => println!("queued job {id} (hone jobs show {id})"),
        ids => println!(
            "queued jobs {} ({} work units of one tune job; hone jobs list)",
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            ids.len()
        ),
    }
    Ok(())
}

/// Runs `hone jobs …`.
pub fn jobs(args: JobsArgs) -> Result<(), CliError> {
    let now = now_ms();
    match args.cmd {
        JobsCmd::List { state, limit, json } => {
            let states = state
                .iter()
                .map(|s| {
                    JobState::parse(s).ok_or_else(|| {
                        CliError::usage(format!(
                            "--state {s:?}: use queued, running, succeeded, failed or cancelled"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let queue = queue_of(&args.store, OpenMode::MustExist)?;
            let jobs = queue
                .list_jobs(&JobFilter {
                    states,
                    group_id: None,
                    limit,
                })
                .map_err(track_err)?;
            let stats = queue.queue_stats().map_err(track_err)?;
            if json {
                // The list shape every listing command prints (`jobs stats` has the queue's).
                crate::tracking::print_list(
                    jobs.iter().map(|j| job_json(j, now)).collect::<Vec<_>>(),
                    None,
                );
                return Ok(());
            }
            let depth: Vec<String> = stats
                .by_state
                .iter()
                .map(|(s, n)| format!("{} {n}", s.as_str().to_lowercase()))
                .collect();
            println!(
                "queue: {}; {} live worker(s){}",
                depth.join(", "),
                stats.live_workers,
                stats
                    .oldest_queued_ms
                    .map(|ms| format!("; oldest queued job waiting {}", span(ms)))
                    .unwrap_or_default()
            );
            let started: Vec<&Job> = jobs.iter().filter(|j| j.started_at.is_some()).collect();
            if !started.is_empty() {
                let mean = |f: &dyn Fn(&Job) -> i64| {
                    started.iter().map(|j| f(j)).sum::<i64>() / started.len() as i64
                };
                println!(
                    "of these {} started jobs: mean wait {}, mean run {}",
                    started.len(),
                    span(mean(&|j| j.waited_ms(now))),
                    span(mean(&|j| j.ran_ms(now).unwrap_or(0)))
                );
            }
            println!(
                "{:>6}  {:<9}  {:<5}  {:>7}  {:>8}  {:>8}  {:<24}  NAME / RESULT",
                "ID", "STATE", "KIND", "ATTEMPT", "WAITED", "RAN", "WORKER"
            );
            for j in &jobs {
                let result = match (&j.run_id, &j.study, &j.error, &j.wait_reason) {
                    (_, _, Some(e), _) => format!("error: {}", escape(e)),
                    (Some(r), _, _, _) => format!("run {r}"),
                    (_, Some(s), _, _) => format!("study {}", escape(s)),
                    (_, _, _, Some(w)) => format!("({})", escape(w)),
                    _ => String::new(),
                };
                println!(
                    "{:>6}  {:<9}  {:<5}  {:>7}  {:>8}  {:>8}  {:<24}  {} {}",
                    j.job_id,
                    j.state.as_str(),
                    escape(&j.kind),
                    format!("{}/{}", j.attempts, j.max_attempts),
                    span(j.waited_ms(now)),
                    j.ran_ms(now).map(span).unwrap_or_else(|| "-".into()),
                    escape(j.worker.as_deref().unwrap_or("-")),
                    escape(&j.name),
                    result
                );
            }
            Ok(())
        }
        JobsCmd::Stats { json } => {
            let queue = queue_of(&args.store, OpenMode::MustExist)?;
            let stats = queue.queue_stats().map_err(track_err)?;
            let mut waits = queue.claim_latencies(1000).map_err(track_err)?;
            waits.sort_unstable();
            // Nearest rank, as `/metrics` reports it.
            let q = |p: f64| {
                (!waits.is_empty()).then(|| {
                    let rank = ((p * waits.len() as f64).ceil() as usize).clamp(1, waits.len());
                    waits[rank - 1]
                })
            };
            if json {
                println!(
                    "{}",
                    json!({
                        "by_state": stats.by_state.iter()
                            .map(|(s, n)| (s.as_str().to_lowercase(), *n))
                            .collect::<std::collections::BTreeMap<_, _>>(),
                        "live_workers": stats.live_workers,
                        "oldest_queued_ms": stats.oldest_queued_ms,
                        "claim_latency_ms": {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99),
                                             "count": waits.len()},
                    })
                );
                return Ok(());
            }
            for (s, n) in &stats.by_state {
                println!("{:<10} {n}", s.as_str().to_lowercase());
            }
            println!("live workers {}", stats.live_workers);
            if let Some(ms) = stats.oldest_queued_ms {
                println!("oldest queued job waiting {}", span(ms));
            }
            match (q(0.5), q(0.9), q(0.99)) {
                (Some(a), Some(b), Some(c)) => println!(
                    "claim latency over the last {} claimed: p50 {}, p90 {}, p99 {}",
                    waits.len(),
                    span(a),
                    span(b),
                    span(c)
                ),
                _ => println!("no job claimed yet"),
            }
            Ok(())
        }
        JobsCmd::Show { id, json } => {
            let queue = queue_of(&args.store, OpenMode::MustExist)?;
            let j = queue.get_job(id).map_err(track_err)?;
            if json {
                let mut v = job_json(&j, now);
                v["spec"] = serde_json::from_str(&j.spec).unwrap_or_default();
                println!("{v}");
                return Ok(());
            }
            print!("{}", show_text(&j, now));
            Ok(())
        }
        JobsCmd::Logs { id, attempt } => {
            let loc = args.store.location()?;
            let queue = hone_track::open_queue_with(&loc.store_uri, OpenMode::MustExist)
                .map_err(track_err)?;
            let j = queue.get_job(id).map_err(track_err)?;
            let chosen = match attempt {
                Some(a) => j.history.iter().find(|h| h.attempt == a).ok_or_else(|| {
                    CliError::usage(format!(
                        "job {id} has no attempt {a} (it has {})",
                        j.history.len()
                    ))
                })?,
                None => j
                    .history
                    .iter()
                    .rev()
                    .find(|h| h.log_sha256.is_some())
                    .or(j.history.last())
                    .ok_or_else(|| {
                        CliError::runtime(format!(
                            "job {id} has not run yet ({}): no log",
                            j.state.as_str()
                        ))
                    })?,
            };
            let sha = chosen.log_sha256.as_deref().ok_or_else(|| {
                CliError::runtime(format!(
                    "job {id} attempt {} has no stored log ({}); a running attempt's log is on \
                     its worker until it ends",
                    chosen.attempt,
                    chosen.outcome.as_deref().unwrap_or("running")
                ))
            })?;
            let blobs =
                hone_track::artifacts::BlobStore::open(&loc.artifacts).map_err(track_err)?;
            let bytes = blobs
                .get(
                    sha,
                    &format!("job {id}"),
                    &format!("attempt {}", chosen.attempt),
                )
                .map_err(track_err)?;
            use std::io::Write as _;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| CliError::runtime(e.to_string()))?;
            Ok(())
        }
        JobsCmd::Cancel { id, json } => {
            let queue = queue_of(&args.store, OpenMode::MustExist)?;
            let j = queue.cancel(id).map_err(state_err)?;
            if json {
                println!("{}", job_json(&j, now));
            } else if j.state == JobState::Cancelled {
                println!("job {id} cancelled");
            } else {
                println!(
                    "job {id} is running on {}: it stops at the worker's next heartbeat",
                    escape(j.worker.as_deref().unwrap_or("a worker"))
                );
            }
            Ok(())
        }
        JobsCmd::Retry { id, json } => {
            let queue = queue_of(&args.store, OpenMode::MustExist)?;
            let j = queue.retry(id).map_err(state_err)?;
            if json {
                println!("{}", job_json(&j, now));
            } else {
                println!(
                    "job {id} queued again ({} attempts allowed)",
                    j.max_attempts
                );
            }
            Ok(())
        }
    }
}

/// A job in the wrong state for the command (cancel a finished one, retry a running one) is a
/// runtime refusal (exit 1), not a usage error.
fn state_err(e: hone_track::TrackError) -> CliError {
    match e {
        hone_track::TrackError::Conflict(m) => CliError::runtime(m),
        e => track_err(e),
    }
}

fn show_text(j: &Job, now: i64) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "job {}: {}", j.job_id, escape(&j.name));
    let _ = writeln!(s, "  state      {}", j.state.as_str());
    if j.cancel_requested && !j.state.is_final() {
        let _ = writeln!(
            s,
            "             (cancel asked: it stops at the next heartbeat)"
        );
    }
    if let Some(w) = &j.wait_reason {
        let _ = writeln!(s, "  waiting    {}", escape(w));
    }
    let _ = writeln!(s, "  kind       {}", escape(&j.kind));
    if j.group_id != j.job_id || j.kind == hone_train::jobs::TUNE {
        let _ = writeln!(s, "  group      {} (unit {})", j.group_id, j.unit);
    }
    if j.gang_size > 1 {
        let _ = writeln!(s, "  gang       {} workers at once", j.gang_size);
        for m in &j.members {
            let _ = writeln!(
                s,
                "    rank {}  {}  {}",
                m.rank,
                escape(&m.worker),
                escape(&m.address)
            );
        }
    }
    let _ = writeln!(s, "  priority   {}", j.priority);
    if !j.requires.is_empty() {
        let _ = writeln!(s, "  requires   {}", j.requires.join(", "));
    }
    let _ = writeln!(s, "  attempts   {} of {}", j.attempts, j.max_attempts);
    if let Some(w) = &j.worker {
        let _ = writeln!(s, "  worker     {}", escape(w));
    }
    if let (JobState::Running, Some(e)) = (j.state, j.lease_expires) {
        let _ = writeln!(s, "  lease      expires in {}", span(e - now));
    }
    let _ = writeln!(s, "  queued     {}", crate::render::ms_to_utc(j.queued_at));
    if let Some(t) = j.started_at {
        let _ = writeln!(
            s,
            "  started    {} (waited {})",
            crate::render::ms_to_utc(t),
            span(j.waited_ms(now))
        );
    }
    if let Some(t) = j.finished_at {
        let _ = writeln!(
            s,
            "  finished   {} (ran {})",
            crate::render::ms_to_utc(t),
            span(j.ran_ms(now).unwrap_or(0))
        );
    }
    if let Some(f) = &j.data_fingerprint {
        let _ = writeln!(s, "  data       fingerprint {}", &f[..f.len().min(16)]);
    }
    if let Some(r) = &j.run_id {
        let _ = writeln!(s, "  run        {r} (hone runs show {r})");
    }
    if let Some(st) = &j.study {
        let _ = writeln!(s, "  study      {}", escape(st));
    }
    if let Some(e) = &j.error {
        let _ = writeln!(s, "  error      {}", escape(e));
    }
    if !j.history.is_empty() {
        let _ = writeln!(s, "  attempts:");
        for a in &j.history {
            let _ = writeln!(
                s,
                "    {}  {}  {}  {}{}{}",
                a.attempt,
                crate::render::ms_to_utc(a.claimed_at),
                escape(&a.worker),
                a.outcome.as_deref().unwrap_or("running"),
                a.message
                    .as_deref()
                    .map(|m| format!(": {}", escape(m)))
                    .unwrap_or_default(),
                if a.log_sha256.is_some() {
                    format!("  (hone jobs logs {} --attempt {})", j.job_id, a.attempt)
                } else {
                    String::new()
                }
            );
        }
    }
    s
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Runs `hone worker`.
pub fn worker(args: WorkerArgs) -> Result<(), CliError> {
    let loc = args.store.location()?;
    let program = std::env::current_exe()
        .map_err(|e| CliError::runtime(format!("cannot find the hone binary: {e}")))?;
    let opts = hone_train::worker::WorkerOptions {
        store_uri: loc.store_uri.clone(),
        artifacts: loc.artifacts.clone(),
        worker_id: args
            .name
            .clone()
            .unwrap_or_else(hone_train::worker::default_worker_id),
        labels: args.labels.clone(),
        slots: args.slots,
        once: args.once,
        lease_ttl: seconds("lease-seconds", args.lease_seconds)?,
        poll: seconds("poll-seconds", args.poll_seconds)?,
        gather_timeout: seconds("gather-seconds", args.gather_seconds)?,
        grace: seconds("grace-seconds", args.grace_seconds)?,
        advertise_host: hone_train::worker::advertise_host(),
        work_dir: args
            .work_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("hone-worker")),
        program,
        program_args: vec!["job-exec".into()],
    };
    if let Err(e) = hone_track::queue::validate_label(&opts.worker_id) {
        return Err(CliError::usage(format!("--name: {e}")));
    }
    // SIGTERM (and Ctrl-C): stop claiming, let the running jobs finish within the grace
    // period, re-queue the rest, exit 0.
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
    }
    let say = |line: &str| eprintln!("{}", escape(line));
    let report = hone_train::worker::run_worker(&opts, &STOP, &say).map_err(|e| match e {
        hone_train::TrainError::Track(e) => track_err(e),
        e => e.into(),
    })?;
    eprintln!(
        "worker {} stopped: {} attempt(s), {} succeeded, {} failed, {} re-queued",
        escape(&opts.worker_id),
        report.ran,
        report.succeeded,
        report.failed,
        report.requeued
    );
    Ok(())
}

/// Runs `hone job-exec`: one claimed job, in the worker's child process.
pub fn job_exec(args: JobExecArgs) -> Result<(), CliError> {
    let loc = args.store.location()?;
    let queue = hone_track::open_queue(&loc.store_uri).map_err(track_err)?;
    let job = queue.get_job(args.id).map_err(track_err)?;
    drop(queue);
    let gang = args.rank.map(|rank| hone_train::jobs::GangPlace {
        rank,
        machines: args.machines.clone(),
    });
    println!(
        "job {} attempt {} ({}) on {}{}",
        job.job_id,
        job.attempts,
        escape(&job.name),
        hone_track::liveness::hostname(),
        gang.as_ref()
            .map(|g| format!(", rank {} of {}", g.rank, g.machines.len()))
            .unwrap_or_default()
    );
    let stop = AtomicBool::new(false);
    let ctx = hone_train::jobs::ExecContext {
        store_uri: &loc.store_uri,
        artifacts: &loc.artifacts,
        gang,
        stop: &stop,
    };
    let mut on_event = |e: hone_train::Event<'_>| {
        if let Some(line) = crate::render::event_line(&e) {
            println!("{line}");
        }
    };
    let result = hone_train::jobs::execute(&job, &ctx, &mut on_event);
    match (&result.error, result.succeeded) {
        (_, true) => println!("job {} succeeded", job.job_id),
        (Some(e), false) => println!("error: {}", escape(e)),
        (None, false) => println!("failed"),
    }
    let text = serde_json::to_vec(&result).map_err(|e| CliError::runtime(e.to_string()))?;
    hone_train::output::write_atomic(&args.result, &text)
        .map_err(|e| CliError::runtime(format!("{}: {e}", args.result.display())))?;
    if result.succeeded {
        Ok(())
    } else {
        Err(CliError::runtime(result.error.unwrap_or_default()))
    }
}
