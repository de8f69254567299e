//! The [`Coordinator`] interface: what lets several processes (or machines) share a store
//! safely — atomic counters, compare-and-set status changes, and run ownership by lease.
//!
//! **Leases.** A RUNNING run may be owned through a [`Lease`]: an id chosen by its owner (one
//! per [`Tracker`](crate::Tracker), per trial store, or per client of a server), and an expiry
//! that the owner pushes forward with [`Coordinator::heartbeat`]. [`Coordinator::reap`] marks
//! KILLED every RUNNING run whose lease expired, whoever reaps and on whichever machine: the
//! rule needs nothing but the store. A lease may name its holder (host, pid, process start):
//! that is information, and one shortcut — a reaper on the holder's machine that finds the
//! holder process gone (crash, `kill -9`) reaps its runs at once instead of waiting for the
//! expiry. A live holder never protects a run whose lease expired.
//!
//! [`LeaseKeeper`] renews a lease from a background thread, for processes that own runs.

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::RunStatus;
use crate::store::Batch;
use crate::{Result, TrackError};

/// How long a lease lasts after its last renewal by default: 15 minutes, the time after which
/// a run of another machine counted as dead before leases existed, and 30 heartbeats of
/// [`HEARTBEAT_EVERY`], so a busy or briefly stalled owner is never taken for a dead one.
pub const LEASE_TTL_MS: i64 = 15 * 60 * 1000;

/// How often a [`LeaseKeeper`] renews a lease of the default length.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

/// The process that renews a lease: where it runs. Recorded with the runs the lease owns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseHolder {
    /// Machine name.
    pub host: String,
    /// Process id on that machine.
    pub pid: u32,
    /// The process's start time (from `/proc`), to tell it from a later process with its pid.
    pub process_start: Option<String>,
}

impl LeaseHolder {
    /// The calling process.
    pub fn this_process() -> Self {
        let pid = std::process::id();
        Self {
            host: crate::liveness::hostname(),
            pid,
            process_start: crate::liveness::process_start(pid),
        }
    }
}

/// Ownership of runs: an id chosen by the owner, how long a renewal lasts, and optionally the
/// process that renews it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    /// The lease id (any text; runs owned through the lease carry it).
    pub id: String,
    /// How long the lease lasts after its creation or last renewal, in milliseconds.
    pub ttl_ms: i64,
    /// The process renewing it, if it is one on some machine. `None` for owners that are not
    /// a process of their own (a server renewing the lease of a remote client): then only the
    /// expiry ends the lease.
    pub holder: Option<LeaseHolder>,
}

impl Lease {
    /// A fresh lease of the default length ([`LEASE_TTL_MS`]) held by the calling process.
    pub fn for_this_process() -> Self {
        Self {
            id: new_lease_id(),
            ttl_ms: LEASE_TTL_MS,
            holder: Some(LeaseHolder::this_process()),
        }
    }

    /// How often to renew it: every [`HEARTBEAT_EVERY`], or a third of a shorter lease.
    pub fn renew_every(&self) -> Duration {
        let third = Duration::from_millis(u64::try_from(self.ttl_ms / 3).unwrap_or(0));
        HEARTBEAT_EVERY.min(third).max(Duration::from_millis(10))
    }
}

/// A fresh, random lease id (`lease-` and 32 hex characters).
pub fn new_lease_id() -> String {
    format!("lease-{}", crate::store::new_run_id())
}

/// Coordination between the processes sharing a store. Both backends implement it with the
/// same behaviour (one shared test suite).
pub trait Coordinator: Send + Sync {
    /// Increments the named counter atomically and returns its new value minus one (so the
    /// first call returns 0). Concurrent callers, in any process, never get the same value.
    fn next_sequence(&self, name: &str) -> Result<i64>;
    /// Moves a run from status `from` to `to` if it is still in `from` (compare-and-set);
    /// returns whether this caller won. The run is then owned by `owner` (`None`: by nobody,
    /// never reaped).
    fn claim_run(
        &self,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
        owner: Option<&Lease>,
    ) -> Result<bool>;
    /// If run `batch.run_id` is in status `from`: moves it to `to` (ending it, when `to` is
    /// not RUNNING or SCHEDULED) and writes `batch`, in one transaction; returns `false`, writing
    /// nothing, when the run is in another status. A compare-and-set for workers that race to
    /// finish one run (study trials): exactly one wins. With `from == to` it writes the batch
    /// only while the run is still in `from`.
    fn transition_run(&self, batch: &Batch, from: RunStatus, to: RunStatus) -> Result<bool>;
    /// Renews `lease`: the RUNNING runs it owns live `lease.ttl_ms` more from now. Returns how
    /// many runs it owns (renewing a lease that owns nothing yet is not an error).
    fn heartbeat(&self, lease: &Lease) -> Result<usize>;
    /// Marks KILLED every RUNNING run whose lease expired, or whose lease holder is a process
    /// of this machine that is gone; returns their ids. A reaped study trial's state tag and
    /// record say FAIL.
    fn reap(&self) -> Result<Vec<String>>;
}

/// A lease renewed from a background thread while this value lives. The thread starts with the
/// first call to [`LeaseKeeper::lease`] (an owner that never owns a run costs nothing) and
/// stops when the keeper is dropped; the lease is not released then, so runs still RUNNING are
/// reaped once it expires, or at once on this machine once the process is gone.
pub struct LeaseKeeper {
    lease: Lease,
    coordinator: Arc<dyn Coordinator>,
    renewer: Mutex<Option<Renewer>>,
}

/// The renewing thread and the channel whose closing stops it.
struct Renewer {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl LeaseKeeper {
    /// A keeper of a fresh lease held by this process ([`Lease::for_this_process`]).
    pub fn new(coordinator: Arc<dyn Coordinator>) -> Self {
        Self::with_lease(coordinator, Lease::for_this_process())
    }

    /// A keeper of a given lease.
    pub fn with_lease(coordinator: Arc<dyn Coordinator>, lease: Lease) -> Self {
        Self {
            lease,
            coordinator,
            renewer: Mutex::new(None),
        }
    }

    /// The lease, its renewal started if it was not yet.
    pub fn lease(&self) -> Result<&Lease> {
        let mut renewer = self.renewer.lock().unwrap_or_else(|e| e.into_inner());
        if renewer.is_none() {
            let (stop, stopped) = channel::<()>();
            let coordinator = self.coordinator.clone();
            let lease = self.lease.clone();
            let every = lease.renew_every();
            let thread = std::thread::Builder::new()
                .name("hone-track-lease".into())
                .spawn(move || {
                    // Only a closed channel (the keeper dropped) ends the loop.
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                        // A failed renewal is retried at the next beat; the lease outlives
                        // many missed ones.
                        let _ = coordinator.heartbeat(&lease);
                    }
                })
                .map_err(|e| TrackError::Db(format!("cannot start the lease renewal: {e}")))?;
            *renewer = Some(Renewer { stop, thread });
        }
        Ok(&self.lease)
    }

    /// The lease's id (without starting its renewal).
    pub fn id(&self) -> &str {
        &self.lease.id
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        let renewer = self
            .renewer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(Renewer { stop, thread }) = renewer {
            drop(stop);
            let _ = thread.join();
        }
    }
}
