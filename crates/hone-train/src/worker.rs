//! `hone worker`: claims queued jobs and runs each in a child process it supervises.
//!
//! Each slot is a thread with its own store connection: it reaps dead workers' jobs, claims a
//! job (or joins a gang), starts the child (`hone job-exec …`, its own process group, its
//! output captured to a log file, killed if the worker dies: `PR_SET_PDEATHSIG`), and while the
//! child runs it renews the job's lease every few seconds from this thread, which never trains,
//! so a long fit never looks dead. A heartbeat that says *cancel* stops the child; one that
//! says *lost* (the lease expired and the job went to another worker) stops it and writes
//! nothing. When the child ends, its log goes to the artifact store (and to the run it made)
//! and the attempt is finished, fenced by the lease.
//!
//! Stopping (`stop` set, e.g. on SIGTERM): no new claims; a running child gets `grace` to
//! finish, then it is stopped and its job re-queued without counting the attempt.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hone_track::artifacts::BlobStore;
use hone_track::coordinator::{LeaseHolder, new_lease_id};
use hone_track::queue::{
    Claimed, GangStatus, HeartbeatAnswer, Job, JobOutcome, JobQueue, WorkerInfo,
};
use hone_track::{ArtifactRecord, Backend, Lease};

use crate::TrainError;
use crate::jobs::{ExecResult, GangPlace};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The store (and queue) URI.
    pub store_uri: String,
    /// The artifact store URI.
    pub artifacts: String,
    /// This worker's id.
    pub worker_id: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Jobs at once.
    pub slots: usize,
    /// Exit when the queue has nothing for it.
    pub once: bool,
    /// How long a lease lasts without renewal.
    pub lease_ttl: Duration,
    /// Wait between claims when the queue is empty.
    pub poll: Duration,
    /// How long a gang member waits for the rest before leaving.
    pub gather_timeout: Duration,
    /// How long a running job may go on after a stop before it is re-queued.
    pub grace: Duration,
    /// The host other gang members reach this worker at.
    pub advertise_host: String,
    /// Where logs and result files are written while jobs run.
    pub work_dir: PathBuf,
    /// The program that runs one job (this `hone` binary) and the arguments before the job's.
    pub program: PathBuf,
    /// Arguments before the job's (`["job-exec"]`).
    pub program_args: Vec<String>,
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkerReport {
    /// Attempts it ran.
    pub ran: usize,
    /// Attempts that succeeded.
    pub succeeded: usize,
    /// Attempts that failed or were cancelled.
    pub failed: usize,
    /// Jobs it gave back (stopping).
    pub requeued: usize,
}

#[derive(Default)]
struct Counters {
    ran: AtomicUsize,
    succeeded: AtomicUsize,
    failed: AtomicUsize,
    requeued: AtomicUsize,
}

/// A worker id: host, pid and a random suffix.
pub fn default_worker_id() -> String {
    let suffix = &new_lease_id()[6..12];
    format!(
        "{}-{}-{suffix}",
        hone_track::liveness::hostname(),
        std::process::id()
    )
}

/// The address other machines reach this one at: `HONE_ADVERTISE_HOST` when set, else the
/// local address of the route to the outside (no packet is sent), else `127.0.0.1`.
pub fn advertise_host() -> String {
    if let Ok(h) = std::env::var("HONE_ADVERTISE_HOST")
        && !h.trim().is_empty()
    {
        return h.trim().to_string();
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// A port free now on this machine (the kernel's choice; a gang gets fresh ones each attempt,
/// so a port still in TIME_WAIT from the last one is never reused).
fn free_port() -> Result<u16, TrainError> {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TrainError::Invalid(format!("cannot find a free port: {e}")))
}

fn track(e: hone_track::TrackError) -> TrainError {
    TrainError::Track(e)
}

/// Runs a worker until `stop` is set (or, with `once`, until the queue has nothing for it);
/// `say` gets one line per event (claims, ends, re-queues).
pub fn run_worker(
    opts: &WorkerOptions,
    stop: &AtomicBool,
    say: &(dyn Fn(&str) + Sync),
) -> Result<WorkerReport, TrainError> {
    if opts.slots == 0 || opts.slots > 256 {
        return Err(TrainError::Config(format!(
            "--slots {}: give 1 to 256",
            opts.slots
        )));
    }
    for l in &opts.labels {
        hone_track::queue::validate_label(l)
            .map_err(|e| TrainError::Config(format!("--labels: {e}")))?;
    }
    std::fs::create_dir_all(&opts.work_dir).map_err(|e| TrainError::Output {
        path: opts.work_dir.clone(),
        message: e.to_string(),
    })?;
    let queue = hone_track::open_queue(&opts.store_uri).map_err(track)?;
    // Checked now so a bad artifact URI fails at start, not after the first job.
    BlobStore::open(&opts.artifacts).map_err(track)?;
    let me = WorkerInfo {
        worker_id: opts.worker_id.clone(),
        labels: opts.labels.clone(),
        slots: opts.slots as i64,
        address: opts.advertise_host.clone(),
    };
    queue.register_worker(&me).map_err(track)?;
    say(&format!(
        "worker {} ({} slot{}, labels: {}) on {}",
        opts.worker_id,
        opts.slots,
        if opts.slots == 1 { "" } else { "s" },
        if opts.labels.is_empty() {
            "none".to_string()
        } else {
            opts.labels.join(",")
        },
        opts.store_uri
    ));
    let counters = Counters::default();
    let result: Vec<Result<(), TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..opts.slots)
            .map(|slot| {
                let counters = &counters;
                s.spawn(move || run_slot(opts, slot, stop, say, counters))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(TrainError::Invalid("a worker slot panicked".into())))
            })
            .collect()
    });
    let _ = queue.worker_stopped(&opts.worker_id);
    for r in result {
        r?;
    }
    Ok(WorkerReport {
        ran: counters.ran.load(Ordering::SeqCst),
        succeeded: counters.succeeded.load(Ordering::SeqCst),
        failed: counters.failed.load(Ordering::SeqCst),
        requeued: counters.requeued.load(Ordering::SeqCst),
    })
}

/// A periodic chore: due at the first call, then once per `period`.
struct Every {
    period: Duration,
    last: Option<Instant>,
}

impl Every {
    fn new(period: Duration) -> Self {
        Self { period, last: None }
    }

    fn due(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < self.period)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// How often a slot tells the store its worker is alive: well inside the window in which a
/// worker counts as live, and not at every poll (a thousand idle workers polling each second
/// would otherwise write a thousand rows a second).
const PRESENCE_EVERY: Duration = Duration::from_secs(10);

/// Sleeps up to `d`, waking early when `stop` is set.
fn nap(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn run_slot(
    opts: &WorkerOptions,
    slot: usize,
    stop: &AtomicBool,
    say: &(dyn Fn(&str) + Sync),
    counters: &Counters,
) -> Result<(), TrainError> {
    let queue = hone_track::open_queue(&opts.store_uri).map_err(track)?;
    let store = hone_track::open_store(&opts.store_uri).map_err(track)?;
    let blobs = BlobStore::open(&opts.artifacts).map_err(track)?;
    let mut idle_since: Option<Instant> = None;
    let presence = WorkerInfo {
        worker_id: opts.worker_id.clone(),
        labels: opts.labels.clone(),
        slots: opts.slots as i64,
        address: opts.advertise_host.clone(),
    };
    let mut present = Every::new(PRESENCE_EVERY);
    // Reaping reads every running job: once a quarter lease is soon enough, since a lease
    // expires only after a whole one.
    let mut reaping = Every::new((opts.lease_ttl / 4).max(opts.poll));
    while !stop.load(Ordering::SeqCst) {
        if reaping.due() {
            // Every worker reaps: a dead worker's jobs come back without any other service.
            if let Err(e) = queue.reap_jobs() {
                say(&format!("reaping failed (retrying): {e}"));
            }
            // And the runs a dead job's process left RUNNING (its lease expired, or its
            // process on this machine is gone).
            let _ = store.reap();
        }
        if present.due() {
            let _ = queue.register_worker(&presence);
        }
        // The address a gang member would listen on: a fresh port for every claim.
        let me = WorkerInfo {
            address: format!("{}:{}", opts.advertise_host, free_port()?),
            ..presence.clone()
        };
        let lease = Lease {
            id: new_lease_id(),
            ttl_ms: i64::try_from(opts.lease_ttl.as_millis()).unwrap_or(i64::MAX),
            holder: Some(LeaseHolder::this_process()),
        };
        let claimed = match queue.claim(&me, &lease) {
            Ok(c) => c,
            Err(e) => {
                say(&format!("claim failed (retrying): {e}"));
                nap(opts.poll, stop);
                continue;
            }
        };
        match claimed {
            None => {
                if opts.once {
                    // Wait a little before leaving: a re-queued job may come back.
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= opts.poll * 3 {
                        break;
                    }
                }
                nap(opts.poll, stop);
            }
            Some(Claimed::Job { job }) => {
                idle_since = None;
                say(&format!(
                    "slot {slot}: job {} ({}) attempt {}/{}",
                    job.job_id, job.name, job.attempts, job.max_attempts
                ));
                let slot = Slot {
                    queue: &*queue,
                    store: &*store,
                    blobs: &blobs,
                    presence: (&presence, &mut present),
                };
                supervise(opts, slot, &job, &lease, None, stop, say, counters);
            }
            Some(Claimed::Gang { job_id }) => {
                idle_since = None;
                if let Some((job, place)) = gather(opts, &*queue, job_id, &lease, stop, say) {
                    say(&format!(
                        "slot {slot}: job {} ({}) rank {}/{} attempt {}",
                        job.job_id,
                        job.name,
                        place.rank,
                        place.machines.len(),
                        job.attempts
                    ));
                    let slot = Slot {
                        queue: &*queue,
                        store: &*store,
                        blobs: &blobs,
                        presence: (&presence, &mut present),
                    };
                    supervise(opts, slot, &job, &lease, Some(place), stop, say, counters);
                }
            }
        }
    }
    Ok(())
}

/// Waits for a joined gang to start; `None` when it left (timeout, stop, or the gang went on
/// without it).
fn gather(
    opts: &WorkerOptions,
    queue: &dyn JobQueue,
    job_id: i64,
    lease: &Lease,
    stop: &AtomicBool,
    say: &(dyn Fn(&str) + Sync),
) -> Option<(Job, GangPlace)> {
    let started = Instant::now();
    loop {
        match queue.gang_status(job_id, lease) {
            Ok(GangStatus::Started {
                job,
                rank,
                addresses,
            }) => {
                return Some((
                    *job,
                    GangPlace {
                        rank: usize::try_from(rank).unwrap_or(0),
                        machines: addresses,
                    },
                ));
            }
            Ok(GangStatus::Gone) => return None,
            Ok(GangStatus::Gathering { .. }) | Err(_) => {}
        }
        if stop.load(Ordering::SeqCst) || started.elapsed() >= opts.gather_timeout {
            match queue.leave_gang(job_id, lease) {
                Ok(true) => {
                    say(&format!(
                        "left gang job {job_id}: not enough workers joined"
                    ));
                    return None;
                }
                // It started meanwhile: go on.
                Ok(false) => continue,
                Err(_) => return None,
            }
        }
        let _ = queue.heartbeat_job(job_id, lease);
        nap(Duration::from_millis(200), stop);
    }
}

/// Sends `signal` to the child's process group.
fn signal_group(child: &Child, signal: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the child's own process group (it was started as its leader).
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Stops a child: SIGTERM to its group, SIGKILL after 5 s.
fn terminate(child: &mut Child) {
    signal_group(child, libc::SIGTERM);
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group(child, libc::SIGKILL);
    let _ = child.wait();
}

fn spawn_child(
    opts: &WorkerOptions,
    job: &Job,
    place: Option<&GangPlace>,
    log: &Path,
    result: &Path,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(&opts.program);
    cmd.args(&opts.program_args)
        .arg(job.job_id.to_string())
        .arg("--store")
        .arg(&opts.store_uri)
        .arg("--artifacts")
        .arg(&opts.artifacts)
        .arg("--result")
        .arg(result)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    if let Some(p) = place {
        cmd.arg("--rank")
            .arg(p.rank.to_string())
            .arg("--machines")
            .arg(p.machines.join(","));
    }
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when this
    // thread's process dies, so a worker killed with SIGKILL leaves no job running unowned.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
}

/// A slot's connections, and its worker's presence (re-announced while a job runs, so a busy
/// worker stays live).
struct Slot<'a> {
    queue: &'a dyn JobQueue,
    store: &'a dyn Backend,
    blobs: &'a BlobStore,
    presence: (&'a WorkerInfo, &'a mut Every),
}

#[allow(clippy::too_many_arguments)]
fn supervise(
    opts: &WorkerOptions,
    slot: Slot<'_>,
    job: &Job,
    lease: &Lease,
    place: Option<GangPlace>,
    stop: &AtomicBool,
    say: &(dyn Fn(&str) + Sync),
    counters: &Counters,
) {
    let Slot {
        queue,
        store,
        blobs,
        presence: (me, present),
    } = slot;
    counters.ran.fetch_add(1, Ordering::SeqCst);
    let stem = match &place {
        Some(p) => format!(
            "job-{}-attempt-{}-rank-{}",
            job.job_id, job.attempts, p.rank
        ),
        None => format!("job-{}-attempt-{}", job.job_id, job.attempts),
    };
    let log = opts.work_dir.join(format!("{stem}.log"));
    let result_file = opts.work_dir.join(format!("{stem}.result.json"));
    let _ = std::fs::remove_file(&result_file);
    let mut child = match spawn_child(opts, job, place.as_ref(), &log, &result_file) {
        Ok(c) => c,
        Err(e) => {
            let outcome = JobOutcome {
                succeeded: false,
                error: Some(format!("cannot start {}: {e}", opts.program.display())),
                retryable: true,
                ..Default::default()
            };
            let _ = queue.finish(job.job_id, lease, &outcome);
            counters.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    // Heartbeats: a third of the lease, at most every 5 s (a cancel is seen that fast).
    let beat = (opts.lease_ttl / 3)
        .min(Duration::from_secs(5))
        .max(Duration::from_millis(50));
    let mut next_beat = Instant::now() + beat;
    let mut stopping_since: Option<Instant> = None;
    enum End {
        Exited(std::process::ExitStatus),
        Cancelled,
        Lost,
        Requeue,
    }
    let end = loop {
        match child.try_wait() {
            Ok(Some(status)) => break End::Exited(status),
            Ok(None) => {}
            Err(_) => {}
        }
        if stop.load(Ordering::SeqCst) {
            let since = *stopping_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= opts.grace {
                terminate(&mut child);
                break End::Requeue;
            }
        }
        if present.due() {
            let _ = queue.register_worker(me);
        }
        if Instant::now() >= next_beat {
            next_beat = Instant::now() + beat;
            match queue.heartbeat_job(job.job_id, lease) {
                Ok(HeartbeatAnswer::Continue) => {}
                Ok(HeartbeatAnswer::Cancel) => {
                    terminate(&mut child);
                    break End::Cancelled;
                }
                Ok(HeartbeatAnswer::Lost) => {
                    terminate(&mut child);
                    break End::Lost;
                }
                // The store is unreachable: keep going; the lease outlives a few misses, and
                // if it expires the next heartbeat says so.
                Err(e) => say(&format!("job {}: heartbeat failed: {e}", job.job_id)),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let result: Option<ExecResult> = std::fs::read(&result_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let _ = std::fs::remove_file(&result_file);
    // The log: a blob (kept by `hone gc` while the job exists) and an artifact of the run.
    let mut bytes = Vec::new();
    let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_end(&mut bytes));
    let log_sha = match blobs.put(&bytes) {
        Ok((sha, size)) => {
            if let Some(run_id) = result.as_ref().and_then(|r| r.run_id.as_deref()) {
                let _ = store.record_artifact(
                    run_id,
                    &ArtifactRecord {
                        path: format!("logs/{stem}.log"),
                        sha256: sha.clone(),
                        size,
                    },
                );
            }
            let _ = std::fs::remove_file(&log);
            Some(sha)
        }
        Err(e) => {
            say(&format!(
                "job {}: log not stored ({e}); kept at {}",
                job.job_id,
                log.display()
            ));
            None
        }
    };
    let outcome = match end {
        End::Lost => {
            say(&format!(
                "job {}: lease lost (the job went back to the queue); stopped",
                job.job_id
            ));
            counters.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        End::Requeue => {
            match queue.requeue(
                job.job_id,
                lease,
                &format!("worker {} stopped", opts.worker_id),
            ) {
                Ok(true) => say(&format!("job {}: re-queued (worker stopping)", job.job_id)),
                _ => say(&format!("job {}: could not be re-queued", job.job_id)),
            }
            counters.requeued.fetch_add(1, Ordering::SeqCst);
            return;
        }
        End::Cancelled => JobOutcome {
            succeeded: false,
            error: Some("cancelled while running".into()),
            retryable: false,
            log_sha256: log_sha,
            run_id: result.as_ref().and_then(|r| r.run_id.clone()),
            study: result.as_ref().and_then(|r| r.study.clone()),
        },
        End::Exited(status) => match result {
            Some(r) => JobOutcome {
                succeeded: r.succeeded && status.success(),
                error: r.error.or_else(|| {
                    (!status.success()).then(|| format!("the job process ended with {status}"))
                }),
                retryable: r.retryable,
                run_id: r.run_id,
                study: r.study,
                log_sha256: log_sha,
            },
            None => JobOutcome {
                succeeded: false,
                error: Some(format!(
                    "the job process ended with {status} before reporting (see `hone jobs logs {}`)",
                    job.job_id
                )),
                retryable: true,
                log_sha256: log_sha,
                ..Default::default()
            },
        },
    };
    let ok = outcome.succeeded;
    match queue.finish(job.job_id, lease, &outcome) {
        Ok(true) => {}
        Ok(false) => say(&format!(
            "job {}: finished after its lease was lost: nothing recorded",
            job.job_id
        )),
        Err(e) => say(&format!(
            "job {}: could not record its end: {e}",
            job.job_id
        )),
    }
    if ok {
        counters.succeeded.fetch_add(1, Ordering::SeqCst);
    } else {
        counters.failed.fetch_add(1, Ordering::SeqCst);
    }
    say(&format!(
        "job {}: {}",
        job.job_id,
        if ok {
            "succeeded".to_string()
        } else {
            format!(
                "failed: {}",
                outcome.error.as_deref().unwrap_or("unknown error")
            )
        }
    ));
}
