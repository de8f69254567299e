//! Run ownership for API clients: a run created through the API is owned by a lease of its
//! own (`mlflow-run-<run_id>`, held by no process: the client is remote), renewed by every
//! write to the run; a run whose client stops writing for the run timeout is reaped (KILLED)
//! by the server's reaper task ([`spawn_reaper`]), as any abandoned hone run is.
//!
//! The lease lives in the store, not in the server process: a restarted server finds its
//! clients' runs alive for as long as their leases last, and never reaps them on start.
//!
//! Renewals are throttled: a write renews the lease only when this server has not renewed
//! it for a tenth of the timeout, so that a client logging thousands of points a second
//! costs one extra store write every few seconds, not one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hone_track::coordinator::LEASE_TTL_MS;
use hone_track::{Backend, Lease, TrackError};

/// The default run timeout: hone's lease length (15 minutes).
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_millis(LEASE_TTL_MS as u64);

/// Renewal bookkeeping above this many runs is pruned of runs not renewed for a timeout.
const PRUNE_ABOVE: usize = 100_000;

/// The id of the lease that owns the API run `run_id`.
pub fn run_lease_id(run_id: &str) -> String {
    format!("mlflow-run-{run_id}")
}

/// The lease that owns the API run `run_id` with the default timeout.
pub fn run_lease(run_id: &str) -> Lease {
    RunLeases::new(DEFAULT_RUN_TIMEOUT).lease(run_id)
}

/// The leases of the runs this server's clients write to: their timeout and when this
/// server last renewed each.
#[derive(Debug)]
pub struct RunLeases {
    ttl_ms: i64,
    renewed: Mutex<HashMap<String, Instant>>,
}

impl RunLeases {
    /// Leases lasting `timeout` after the last write (at least 1 ms).
    pub fn new(timeout: Duration) -> Self {
        Self {
            ttl_ms: i64::try_from(timeout.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            renewed: Mutex::new(HashMap::new()),
        }
    }

    /// The run timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl_ms).unwrap_or(u64::MAX))
    }

    /// The lease that owns `run_id`.
    pub fn lease(&self, run_id: &str) -> Lease {
        Lease {
            id: run_lease_id(run_id),
            ttl_ms: self.ttl_ms,
            holder: None,
        }
    }

    /// Notes that the lease of `run_id` was just taken or renewed.
    pub fn note_renewed(&self, run_id: &str) {
        if let Ok(mut map) = self.renewed.lock() {
            let now = Instant::now();
            if map.len() > PRUNE_ABOVE {
                let timeout = self.timeout();
                map.retain(|_, t| now.duration_since(*t) < timeout);
            }
            map.insert(run_id.to_string(), now);
        }
    }

    /// Renews the lease of `run_id` after a write to it, unless this server renewed it less
    /// than a tenth of the timeout ago.
    pub fn renew(&self, store: &dyn Backend, run_id: &str) -> Result<(), TrackError> {
        let due = self.renewed.lock().map_or(true, |map| {
            map.get(run_id)
                .is_none_or(|t| t.elapsed() >= self.timeout() / 10)
        });
        if due {
            store.heartbeat(&self.lease(run_id))?;
            self.note_renewed(run_id);
        }
        Ok(())
    }
}

/// Starts the reaper: every quarter of the run timeout (between 200 ms and a minute) it
/// marks KILLED the runs whose lease expired — API runs whose client stopped writing, and
/// any other hone run whose owner died — and logs each. Runs until the runtime stops.
pub fn spawn_reaper(
    store: Arc<dyn Backend>,
    leases: Arc<RunLeases>,
) -> tokio::task::JoinHandle<()> {
    let every = (leases.timeout() / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let store = Arc::clone(&store);
            match tokio::task::spawn_blocking(move || store.reap()).await {
                Ok(Ok(reaped)) => {
                    for run_id in reaped {
                        tracing::info!(run_id = %run_id, "run reaped: its client stopped writing (lease expired)");
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "reaping expired runs failed"),
                Err(e) => tracing::warn!(error = %e, "the reaper task failed"),
            }
        }
    })
}
