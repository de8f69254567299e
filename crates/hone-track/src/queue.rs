//! The job queue: training and tuning jobs waiting for workers, in the same database as the
//! runs they produce (so a job's state and its results never live in two systems).
//!
//! **States.** A job is QUEUED → RUNNING → SUCCEEDED / FAILED / CANCELLED. A worker claims a
//! QUEUED job whose requirements (labels) it has, owning it through a [`Lease`] that it renews
//! with [`JobQueue::heartbeat_job`]; every claim counts an attempt. A job whose lease expires
//! (its worker died or lost the store) goes back to QUEUED with the same spec, until
//! `max_attempts` claims were made; then it is FAILED. Every write a worker makes about a job
//! names its lease, so a worker that lost its job (a zombie) changes nothing.
//!
//! **Claiming.** PostgreSQL takes the first claimable row with `FOR UPDATE SKIP LOCKED`, so
//! concurrent workers never wait on each other; SQLite serialises claims in an immediate
//! transaction, so one machine needs no extra setup. Order: priority (high first), then age.
//!
//! **Gangs.** A job with `gang_size = N > 1` (LightGBM's distributed training) runs on N
//! workers at once. A worker *joins* a queued gang (a member row with its address); the job
//! starts when N members joined, and each learns its rank and the others' addresses. Members
//! renew their own leases; any member's expiry restarts the whole gang (a new attempt). A gang
//! is joined only while enough live workers with its labels exist; otherwise it waits, and
//! its `wait_reason` says why.

use crate::Result;
use crate::coordinator::Lease;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker (or, for a gang, by all its members).
    Running,
    /// Done, with a result.
    Succeeded,
    /// Done, without one (the last attempt failed, or the lease expired on it).
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// Every state, in order.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Running => "RUNNING",
            JobState::Succeeded => "SUCCEEDED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored or typed name (any case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the state is final.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job to queue.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NewJob {
    /// A name for people.
    pub name: String,
    /// What to run (`train`, `tune`, or `noop` for benchmarks): the queue never interprets it.
    pub kind: String,
    /// What the worker needs to run it (JSON of the job layer; opaque to the queue).
    pub spec: String,
    /// Higher runs first.
    pub priority: i64,
    /// Labels a worker must have to claim it.
    pub requires: Vec<String>,
    /// Claims allowed before the job is FAILED (at least 1).
    pub max_attempts: i64,
    /// Workers that run it together (1: an ordinary job).
    pub gang_size: i64,
    /// The data's fingerprint when it was submitted (checked by the worker).
    pub data_fingerprint: Option<String>,
}

/// One member of a gang's current attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GangMember {
    /// The member's rank, 0-based, fixed when the gang starts (join order until then).
    pub rank: i64,
    /// The worker.
    pub worker: String,
    /// `host:port` where its training listens.
    pub address: String,
    /// When its lease expires (ms since the epoch).
    pub lease_expires: i64,
}

/// One attempt of a job: who ran it and how it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// 1-based.
    pub attempt: i64,
    /// The worker (for a gang: rank 0's).
    pub worker: String,
    /// When it was claimed (ms).
    pub claimed_at: i64,
    /// When it ended (ms), if it did.
    pub ended_at: Option<i64>,
    /// `succeeded`, `failed`, `lost` (lease expired), `requeued` (worker stopped), `cancelled`.
    pub outcome: Option<String>,
    /// Why, in one line.
    pub message: Option<String>,
    /// SHA-256 of its captured log (a blob of the artifact store), when one was saved.
    pub log_sha256: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// Its id.
    pub job_id: i64,
    /// Name.
    pub name: String,
    /// Kind (`train`, `tune`, `noop`).
    pub kind: String,
    /// The job layer's spec.
    pub spec: String,
    /// State.
    pub state: JobState,
    /// Priority.
    pub priority: i64,
    /// Required labels.
    pub requires: Vec<String>,
    /// Claims made so far.
    pub attempts: i64,
    /// Claims allowed.
    pub max_attempts: i64,
    /// Workers run it together.
    pub gang_size: i64,
    /// The id of the first job submitted with it (its group), itself when alone.
    pub group_id: i64,
    /// Its index in the group (a tune job's work unit number).
    pub unit: i64,
    /// The data fingerprint recorded at submission.
    pub data_fingerprint: Option<String>,
    /// The worker running it now (RUNNING) or last (otherwise).
    pub worker: Option<String>,
    /// The current lease's expiry (ms), while RUNNING.
    pub lease_expires: Option<i64>,
    /// A cancel was asked while it ran.
    pub cancel_requested: bool,
    /// Queued (ms).
    pub queued_at: i64,
    /// First claimed (ms).
    pub started_at: Option<i64>,
    /// Ended (ms).
    pub finished_at: Option<i64>,
    /// The run it produced (a train job's run; a tune job's refit run).
    pub run_id: Option<String>,
    /// The study it joined (tune jobs).
    pub study: Option<String>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Why it is still queued (a gang waiting for workers), when known.
    pub wait_reason: Option<String>,
    /// Its attempts, oldest first.
    pub history: Vec<Attempt>,
    /// A gang's members of the current attempt.
    pub members: Vec<GangMember>,
}

impl Job {
    /// Milliseconds it waited in the queue before its first claim (until now if unclaimed).
    pub fn waited_ms(&self, now: i64) -> i64 {
        self.started_at.unwrap_or(now) - self.queued_at
    }

    /// Milliseconds it ran (until now while running), if it started.
    pub fn ran_ms(&self, now: i64) -> Option<i64> {
        let start = self.started_at?;
        Some(self.finished_at.unwrap_or(now) - start)
    }
}

/// A worker, as it registers itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkerInfo {
    /// Unique id (host, pid and a random suffix by default, or `--name`).
    pub worker_id: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// Jobs it runs at once.
    pub slots: i64,
    /// Where gang members on it listen (an address others can reach).
    pub address: String,
}

/// A worker as the store last heard of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkerStatus {
    /// The worker.
    pub info: WorkerInfo,
    /// Its last heartbeat (ms).
    pub heartbeat: i64,
    /// It said it stopped.
    pub stopped: bool,
}

/// What a claim gives a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    /// An ordinary job, now RUNNING under the worker's lease.
    Job {
        /// The job (state RUNNING, attempts counted).
        job: Box<Job>,
    },
    /// The worker joined a gang that is still gathering: poll [`JobQueue::gang_status`].
    Gang {
        /// The gang job (still QUEUED while it gathers).
        job_id: i64,
    },
}

/// A gang as one member sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum GangStatus {
    /// Still gathering: `joined` of `size` members.
    Gathering {
        /// Members joined.
        joined: i64,
        /// Members needed.
        size: i64,
    },
    /// Started: this member's rank, the attempt, and every member's address in rank order.
    Started {
        /// The job.
        job: Box<Job>,
        /// This member's rank.
        rank: i64,
        /// Addresses, by rank.
        addresses: Vec<String>,
    },
    /// This member is no longer part of it (the gang restarted without it, finished or was
    /// cancelled).
    Gone,
}

/// What a heartbeat tells the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatAnswer {
    /// Keep going.
    Continue,
    /// A user cancelled the job: stop it.
    Cancel,
    /// The job is not this lease's any more (expired and re-queued, or ended): stop, write
    /// nothing.
    Lost,
}

/// How an attempt ended.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobOutcome {
    /// It succeeded.
    pub succeeded: bool,
    /// The error, one line, when it did not.
    pub error: Option<String>,
    /// The run it produced.
    pub run_id: Option<String>,
    /// The study it joined.
    pub study: Option<String>,
    /// Its captured log, a blob's SHA-256.
    pub log_sha256: Option<String>,
    /// Whether a failure may be retried (a failure of the data or config never succeeds on
    /// another try: `false` ends the job at once).
    pub retryable: bool,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only these states (empty: all).
    pub states: Vec<JobState>,
    /// Only this group.
    pub group_id: Option<i64>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

/// Queue depth and ages, for `/metrics` and `hone jobs list`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueStats {
    /// Jobs per state.
    pub by_state: Vec<(JobState, i64)>,
    /// Age of the oldest queued job (ms), if any.
    pub oldest_queued_ms: Option<i64>,
    /// Live workers (heartbeat within a lease length).
    pub live_workers: i64,
}

/// The job queue. Both SQL backends implement it with the same behaviour (one test suite).
pub trait JobQueue: Send + Sync {
    /// Queues jobs in one transaction and returns their ids, in order. Jobs submitted
    /// together form a group (a tune job's work units): each gets `unit` = its index.
    fn submit(&self, jobs: &[NewJob]) -> Result<Vec<i64>>;
    /// Records a worker (or refreshes it): its labels, slots, address and heartbeat.
    fn register_worker(&self, worker: &WorkerInfo) -> Result<()>;
    /// Marks a worker stopped (it exits cleanly).
    fn worker_stopped(&self, worker_id: &str) -> Result<()>;
    /// Workers heard from within `within_ms`.
    fn workers(&self, within_ms: i64) -> Result<Vec<WorkerStatus>>;
    /// Claims the next job the worker can run (highest priority, then oldest), or joins a
    /// gang; `None` when there is nothing for it. `lease` becomes the job's lease.
    fn claim(&self, worker: &WorkerInfo, lease: &Lease) -> Result<Option<Claimed>>;
    /// A gang member's view of its gang.
    fn gang_status(&self, job_id: i64, lease: &Lease) -> Result<GangStatus>;
    /// A member that waited too long leaves a gang that is still gathering; returns whether
    /// it left (`false`: the gang started meanwhile).
    fn leave_gang(&self, job_id: i64, lease: &Lease) -> Result<bool>;
    /// Renews the lease on a job (or on a gang membership) and says whether to go on.
    fn heartbeat_job(&self, job_id: i64, lease: &Lease) -> Result<HeartbeatAnswer>;
    /// Ends the current attempt: SUCCEEDED, or (failed) QUEUED again while attempts remain
    /// and the failure is retryable, else FAILED; CANCELLED when a cancel was asked. A gang
    /// member's failure restarts the gang; rank 0's success ends it. Returns `false`, writing
    /// nothing, when the lease no longer owns the job (fencing).
    fn finish(&self, job_id: i64, lease: &Lease, outcome: &JobOutcome) -> Result<bool>;
    /// Gives the job back (its worker is stopping): QUEUED, the attempt not counted.
    fn requeue(&self, job_id: i64, lease: &Lease, reason: &str) -> Result<bool>;
    /// Records the run or study a running job produced so far (shown while it runs).
    fn set_job_result(
        &self,
        job_id: i64,
        lease: &Lease,
        run_id: Option<&str>,
        study: Option<&str>,
    ) -> Result<bool>;
    /// Cancels a job: a queued one at once, a running one at its worker's next heartbeat.
    /// A finished job is an error naming its state.
    fn cancel(&self, job_id: i64) -> Result<Job>;
    /// Queues a FAILED or CANCELLED job again with a fresh set of attempts.
    fn retry(&self, job_id: i64) -> Result<Job>;
    /// One job.
    fn get_job(&self, job_id: i64) -> Result<Job>;
    /// Jobs, newest first.
    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>>;
    /// Puts back (or fails) every job whose lease expired, or whose worker is a process of
    /// this machine that is gone; drops expired members of gathering gangs. Returns the
    /// affected job ids.
    fn reap_jobs(&self) -> Result<Vec<i64>>;
    /// Queue depth per state, the oldest queued job's age, live workers.
    fn queue_stats(&self) -> Result<QueueStats>;
    /// How long the `limit` most recently claimed jobs waited from queued to claimed (ms),
    /// newest first: the queue's claim latency.
    fn claim_latencies(&self, limit: usize) -> Result<Vec<i64>>;
}

/// A label: 1–64 characters of `[A-Za-z0-9_.-]`. Errors name the label.
pub fn validate_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(crate::TrackError::Invalid(format!(
            "label {:?}: use 1-64 letters, digits, '_', '-' or '.'",
            crate::printable(label)
        )))
    }
}
