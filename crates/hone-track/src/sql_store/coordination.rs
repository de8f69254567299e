//! [`Coordinator`] for [`SqlStore`]: counters, compare-and-set claims and transitions, and
//! run ownership by lease (renewal and reaping; see [`crate::coordinator`] for the rules).

use super::{OwnerColumns, SqlStore};
use crate::coordinator::{Coordinator, LEASE_TTL_MS, Lease};
use crate::db::{Conn, Db, Value, int, opt_int, opt_text, text};
use crate::liveness::{hostname, process_alive};
use crate::model::RunStatus;
use crate::store::{Batch, TRIAL_RECORD_TAG, TRIAL_STATE_TAG};
use crate::{Result, now_ms};

impl<D: Db> Coordinator for SqlStore<D> {
    fn next_sequence(&self, name: &str) -> Result<i64> {
        self.write(|c| {
            c.execute(
                "INSERT INTO sequences (name, value) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING",
                &[name.into()],
            )?;
            c.execute(
                "UPDATE sequences SET value = value + 1 WHERE name = ?1",
                &[name.into()],
            )?;
            let rows = c.query(
                "SELECT value FROM sequences WHERE name = ?1",
                &[name.into()],
            )?;
            Ok(rows.first().map_or(1, |r| int(r, 0)) - 1)
        })
    }

    fn claim_run(
        &self,
        run_id: &str,
        from: RunStatus,
        to: RunStatus,
        owner: Option<&Lease>,
    ) -> Result<bool> {
        let now = now_ms();
        let o = OwnerColumns::of(owner, now);
        self.write(|c| {
            let n = c.execute(
                "UPDATE runs SET status = ?1, owner_host = ?2, owner_pid = ?3, owner_start = ?4, \
                 heartbeat = ?5, lease_id = ?6, lease_expires = ?7 WHERE run_id = ?8 AND status = ?9",
                &[
                    to.as_str().into(),
                    o.host.clone(),
                    o.pid.clone(),
                    o.start.clone(),
                    Value::Int(now),
                    o.lease_id.clone(),
                    o.expires.clone(),
                    run_id.into(),
                    from.as_str().into(),
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn transition_run(&self, batch: &Batch, from: RunStatus, to: RunStatus) -> Result<bool> {
        let ends = !matches!(to, RunStatus::Running | RunStatus::Scheduled);
        self.write(|c| {
            // The UPDATE takes the row lock and re-reads the status (PostgreSQL re-checks the
            // WHERE clause after a concurrent commit; SQLite writers are serialised), so two
            // racing callers cannot both see `from`.
            let n = if ends {
                c.execute(
                    "UPDATE runs SET status = ?1, end_time = ?2 WHERE run_id = ?3 AND status = ?4",
                    &[
                        to.as_str().into(),
                        Value::Int(now_ms()),
                        batch.run_id.as_str().into(),
                        from.as_str().into(),
                    ],
                )?
            } else {
                c.execute(
                    "UPDATE runs SET status = ?1 WHERE run_id = ?2 AND status = ?3",
                    &[
                        to.as_str().into(),
                        batch.run_id.as_str().into(),
                        from.as_str().into(),
                    ],
                )?
            };
            if n == 0 {
                // A missing run is an error, a run in another status a lost race.
                Self::check_run_active(c, &batch.run_id)?;
                return Ok(false);
            }
            Self::write_batch(c, batch)?;
            Ok(true)
        })
    }

    fn heartbeat(&self, lease: &Lease) -> Result<usize> {
        let now = now_ms();
        self.write(|c| {
            let n = c.execute(
                "UPDATE runs SET heartbeat = ?1, lease_expires = ?2 WHERE lease_id = ?3 AND status = 'RUNNING'",
                &[
                    Value::Int(now),
                    Value::Int(now.saturating_add(lease.ttl_ms)),
                    lease.id.as_str().into(),
                ],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn reap(&self) -> Result<Vec<String>> {
        let here = hostname();
        let now = now_ms();
        // Read first, write only when something is dead: every command reaps, and most find
        // nothing, so they must not queue for the write lock.
        let candidates = self.read(|c| {
            c.query(
                "SELECT run_id, lease_id, lease_expires, heartbeat, owner_host, owner_pid, \
                 owner_start FROM runs WHERE status = 'RUNNING' AND lease_id IS NOT NULL",
                &[],
            )
        })?;
        let dead: Vec<(String, String, bool)> = candidates
            .iter()
            .filter_map(|r| {
                let expires = opt_int(r, 2).or_else(|| opt_int(r, 3).map(legacy_expiry));
                let expired = expires.is_some_and(|e| e < now);
                // A holder of this machine that is gone will never renew: no need to wait.
                let holder_gone = opt_text(r, 4).is_some_and(|h| h == here)
                    && opt_int(r, 5)
                        .is_some_and(|pid| !process_alive(pid, opt_text(r, 6).as_deref()));
                (expired || holder_gone).then(|| (text(r, 0), text(r, 1), holder_gone))
            })
            .collect();
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|c| {
            let mut reaped = Vec::with_capacity(dead.len());
            for (id, lease, holder_gone) in &dead {
                // Re-checked under the write lock: the run may have ended, been claimed by
                // another lease, or been renewed since it was read.
                let n = c.execute(
                    &format!(
                        "UPDATE runs SET status = 'KILLED', end_time = COALESCE(heartbeat, ?1) \
                         WHERE run_id = ?2 AND status = 'RUNNING' AND lease_id = ?3 \
                         AND (?4 = 1 OR {EXPIRES} < ?1)"
                    ),
                    &[
                        Value::Int(now),
                        id.into(),
                        lease.into(),
                        Value::Int(i64::from(*holder_gone)),
                        Value::Int(LEASE_TTL_MS),
                    ],
                )?;
                if n == 1 {
                    Self::fail_reaped_trial(c, id)?;
                    reaped.push(id.clone());
                }
            }
            Ok(reaped)
        })
    }
}

/// When a run's lease expires, as SQL (`?5`: the default lease length). Runs owned before
/// leases existed (schema version 2) have no `lease_expires`; their lease ends one default
/// lease after their last heartbeat, which an older hone still running keeps writing.
const EXPIRES: &str = "COALESCE(lease_expires, heartbeat + ?5)";

/// [`EXPIRES`] of a run without `lease_expires` whose last heartbeat was at `heartbeat`.
fn legacy_expiry(heartbeat: i64) -> i64 {
    heartbeat.saturating_add(LEASE_TTL_MS)
}

impl<D: Db> SqlStore<D> {
    /// A reaped run that is a study trial: its state tag and JSON record say FAIL, as its
    /// status now does, so searches on the tag and readers of the record never see a dead
    /// trial as RUNNING. Runs without these tags are left alone.
    fn fail_reaped_trial(c: &mut dyn Conn, run_id: &str) -> Result<()> {
        c.execute(
            "UPDATE tags SET value = 'FAIL' WHERE run_id = ?1 AND key = ?2 AND value = 'RUNNING'",
            &[run_id.into(), TRIAL_STATE_TAG.into()],
        )?;
        let rows = c.query(
            "SELECT r.value, runs.end_time FROM tags r JOIN runs ON runs.run_id = r.run_id \
             WHERE r.run_id = ?1 AND r.key = ?2",
            &[run_id.into(), TRIAL_RECORD_TAG.into()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let Ok(serde_json::Value::Object(mut record)) = serde_json::from_str(&text(row, 0)) else {
            return Ok(());
        };
        if record.get("state").and_then(|v| v.as_str()) != Some("RUNNING") {
            return Ok(());
        }
        record.insert("state".into(), "FAIL".into());
        if let Some(end) = opt_int(row, 1) {
            record.insert("finished_ms".into(), end.into());
        }
        c.execute(
            "UPDATE tags SET value = ?1 WHERE run_id = ?2 AND key = ?3",
            &[
                serde_json::Value::Object(record).to_string().into(),
                run_id.into(),
                TRIAL_RECORD_TAG.into(),
            ],
        )?;
        Ok(())
    }
}
