//! [`JobQueue`] for [`SqlStore`]: the rules are in [`crate::queue`]. Every change of a job a
//! worker makes is an `UPDATE … WHERE job_id = ? AND lease_id = ?` (fencing: a lease that lost
//! the job changes nothing); claims take the row with `FOR UPDATE SKIP LOCKED` on PostgreSQL
//! and inside SQLite's immediate transaction.

use std::collections::BTreeSet;

use super::{OwnerColumns, SqlStore};
use crate::coordinator::Lease;
use crate::db::{Conn, Db, Dialect, Row, Value, int, opt_int, opt_text, text};
use crate::liveness::{hostname, process_alive};
use crate::queue::*;
use crate::{Result, TrackError, now_ms};

const JOB_COLUMNS: &str = "job_id, name, kind, spec, state, priority, attempts, max_attempts, \
     gang_size, group_id, unit, data_fingerprint, worker, lease_expires, cancel_requested, \
     queued_at, started_at, finished_at, run_id, study, error, wait_reason, history";

/// A worker is live while it was heard from within this long (workers beat every few seconds).
pub const WORKER_LIVE_MS: i64 = 60_000;

fn job_of(r: &Row) -> Result<Job> {
    let state = JobState::parse(&text(r, 4)).ok_or_else(|| {
        TrackError::Db(format!("job {}: unknown state {:?}", int(r, 0), text(r, 4)))
    })?;
    let history: Vec<Attempt> = serde_json::from_str(&text(r, 22)).unwrap_or_default();
    Ok(Job {
        job_id: int(r, 0),
        name: text(r, 1),
        kind: text(r, 2),
        spec: text(r, 3),
        state,
        priority: int(r, 5),
        attempts: int(r, 6),
        max_attempts: int(r, 7),
        gang_size: int(r, 8),
        group_id: opt_int(r, 9).unwrap_or_else(|| int(r, 0)),
        unit: int(r, 10),
        data_fingerprint: opt_text(r, 11),
        worker: opt_text(r, 12),
        lease_expires: opt_int(r, 13),
        cancel_requested: int(r, 14) != 0,
        queued_at: int(r, 15),
        started_at: opt_int(r, 16),
        finished_at: opt_int(r, 17),
        run_id: opt_text(r, 18),
        study: opt_text(r, 19),
        error: opt_text(r, 20),
        wait_reason: opt_text(r, 21),
        history,
        requires: Vec::new(),
        members: Vec::new(),
    })
}

fn not_found(job_id: i64) -> TrackError {
    TrackError::NotFound(format!("job {job_id}"))
}

fn labels_text(labels: &[String]) -> String {
    labels
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(",")
}

fn labels_of(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `AND NOT EXISTS (a required label the worker lacks)`, with the worker's labels bound from
/// `?{first}` on.
fn requires_clause(labels: &[String], first: usize) -> String {
    if labels.is_empty() {
        return "AND NOT EXISTS (SELECT 1 FROM hone_job_requires q WHERE q.job_id = j.job_id)"
            .into();
    }
    let list: Vec<String> = (0..labels.len())
        .map(|i| format!("?{}", first + i))
        .collect();
    format!(
        "AND NOT EXISTS (SELECT 1 FROM hone_job_requires q WHERE q.job_id = j.job_id AND q.label NOT IN ({}))",
        list.join(", ")
    )
}

impl<D: Db> SqlStore<D> {
    fn load_job(c: &mut dyn Conn, job_id: i64) -> Result<Job> {
        let rows = c.query(
            &format!("SELECT {JOB_COLUMNS} FROM hone_jobs WHERE job_id = ?1"),
            &[Value::Int(job_id)],
        )?;
        let row = rows.first().ok_or_else(|| not_found(job_id))?;
        let mut job = job_of(row)?;
        Self::fill_job(c, &mut job)?;
        Ok(job)
    }

    fn fill_job(c: &mut dyn Conn, job: &mut Job) -> Result<()> {
        job.requires = c
            .query(
                "SELECT label FROM hone_job_requires WHERE job_id = ?1 ORDER BY label",
                &[Value::Int(job.job_id)],
            )?
            .iter()
            .map(|r| text(r, 0))
            .collect();
        if job.gang_size > 1 {
            job.members = c
                .query(
                    "SELECT rank, worker, address, lease_expires FROM hone_job_members \
                     WHERE job_id = ?1 ORDER BY COALESCE(rank, 1000000), joined_at, lease_id",
                    &[Value::Int(job.job_id)],
                )?
                .iter()
                .enumerate()
                .map(|(i, r)| GangMember {
                    rank: opt_int(r, 0).unwrap_or(i as i64),
                    worker: text(r, 1),
                    address: text(r, 2),
                    lease_expires: int(r, 3),
                })
                .collect();
        }
        Ok(())
    }

    fn write_history(c: &mut dyn Conn, job_id: i64, history: &[Attempt]) -> Result<()> {
        let json = serde_json::to_string(history).map_err(|e| TrackError::Db(e.to_string()))?;
        c.execute(
            "UPDATE hone_jobs SET history = ?1 WHERE job_id = ?2",
            &[json.into(), Value::Int(job_id)],
        )?;
        Ok(())
    }

    /// Opens the attempt just claimed (`job.attempts`) in the job's history.
    fn start_attempt(c: &mut dyn Conn, job: &mut Job, worker: &str, now: i64) -> Result<()> {
        job.history.push(Attempt {
            attempt: job.attempts,
            worker: worker.to_string(),
            claimed_at: now,
            ended_at: None,
            outcome: None,
            message: None,
            log_sha256: None,
        });
        Self::write_history(c, job.job_id, &job.history)
    }

    /// Ends the last attempt of `job` in its history.
    fn end_attempt(
        c: &mut dyn Conn,
        job: &Job,
        outcome: &str,
        message: Option<&str>,
        log: Option<&str>,
    ) -> Result<()> {
        let mut history = job.history.clone();
        if let Some(last) = history.last_mut().filter(|a| a.ended_at.is_none()) {
            last.ended_at = Some(now_ms());
            last.outcome = Some(outcome.to_string());
            last.message = message.map(str::to_string);
            if log.is_some() {
                last.log_sha256 = log.map(str::to_string);
            }
        }
        Self::write_history(c, job.job_id, &history)?;
        if let (Some(sha), Some(last)) = (log, history.last()) {
            c.execute(
                "INSERT INTO hone_job_logs (job_id, attempt, sha256) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (job_id, attempt) DO UPDATE SET sha256 = excluded.sha256",
                &[Value::Int(job.job_id), Value::Int(last.attempt), sha.into()],
            )?;
        }
        Ok(())
    }

    /// Moves a job whose attempt ended without success back to QUEUED while attempts remain
    /// (and `retryable`), else to FAILED. `counted`: the attempt counts against the limit.
    fn after_failed_attempt(
        c: &mut dyn Conn,
        job: &Job,
        message: &str,
        retryable: bool,
        counted: bool,
    ) -> Result<JobState> {
        let attempts = if counted {
            job.attempts
        } else {
            job.attempts - 1
        };
        let (state, error, wait) = if job.cancel_requested {
            (
                JobState::Cancelled,
                Some("cancelled while running".to_string()),
                None,
            )
        } else if retryable && attempts < job.max_attempts {
            (
                JobState::Queued,
                None,
                Some(format!("attempt {} ended: {message}", job.attempts)),
            )
        } else {
            let why = if retryable {
                format!("{message} (attempt {attempts} of {})", job.max_attempts)
            } else {
                message.to_string()
            };
            (JobState::Failed, Some(why), None)
        };
        let finished = state.is_final().then(now_ms);
        c.execute(
            "UPDATE hone_jobs SET state = ?1, attempts = ?2, lease_id = NULL, lease_expires = NULL, \
             owner_host = NULL, owner_pid = NULL, owner_start = NULL, error = ?3, wait_reason = ?4, \
             finished_at = ?5 WHERE job_id = ?6",
            &[
                state.as_str().into(),
                Value::Int(attempts),
                error.into(),
                wait.into(),
                finished.into(),
                Value::Int(job.job_id),
            ],
        )?;
        c.execute(
            "DELETE FROM hone_job_members WHERE job_id = ?1",
            &[Value::Int(job.job_id)],
        )?;
        Ok(state)
    }

    fn claim_single(
        &self,
        c: &mut dyn Conn,
        worker: &WorkerInfo,
        lease: &Lease,
    ) -> Result<Option<Claimed>> {
        let dialect = self.dialect();
        let mut params: Vec<Value> = worker.labels.iter().map(|l| l.into()).collect();
        let lock = match dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let rows = c.query(
            &format!(
                "SELECT job_id FROM hone_jobs j WHERE state = 'QUEUED' AND gang_size = 1 {} \
                 ORDER BY priority DESC, job_id LIMIT 1 {lock}",
                requires_clause(&worker.labels, 1)
            ),
            &params,
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let job_id = int(row, 0);
        let now = now_ms();
        let o = OwnerColumns::of(Some(lease), now);
        params = vec![
            worker.worker_id.as_str().into(),
            o.lease_id,
            o.expires,
            o.host,
            o.pid,
            o.start,
            Value::Int(now),
            Value::Int(job_id),
        ];
        let rows = c.query(
            &format!(
                "UPDATE hone_jobs SET state = 'RUNNING', attempts = attempts + 1, worker = ?1, \
                 lease_id = ?2, lease_expires = ?3, owner_host = ?4, owner_pid = ?5, \
                 owner_start = ?6, started_at = COALESCE(started_at, ?7), wait_reason = NULL, \
                 error = NULL WHERE job_id = ?8 AND state = 'QUEUED' RETURNING {JOB_COLUMNS}"
            ),
            &params,
        )?;
        let row = rows.first().ok_or_else(|| not_found(job_id))?;
        let mut job = job_of(row)?;
        Self::fill_job(c, &mut job)?;
        Self::start_attempt(c, &mut job, &worker.worker_id, now)?;
        Ok(Some(Claimed::Job { job: Box::new(job) }))
    }

    fn claim_gang(
        &self,
        c: &mut dyn Conn,
        worker: &WorkerInfo,
        lease: &Lease,
    ) -> Result<Option<Claimed>> {
        let params: Vec<Value> = worker.labels.iter().map(|l| l.into()).collect();
        // Gangs with the most members first, so workers fill one gang instead of each
        // starting its own.
        let rows = c.query(
            &format!(
                "SELECT j.job_id, j.gang_size, (SELECT COUNT(*) FROM hone_job_members m \
                 WHERE m.job_id = j.job_id) AS joined FROM hone_jobs j \
                 WHERE state = 'QUEUED' AND gang_size > 1 {} \
                 ORDER BY joined DESC, priority DESC, job_id LIMIT 20",
                requires_clause(&worker.labels, 1)
            ),
            &params,
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let live: Vec<(String, Vec<String>)> = c
            .query(
                "SELECT worker_id, labels FROM hone_workers WHERE stopped = 0 AND heartbeat > ?1",
                &[Value::Int(now - WORKER_LIVE_MS)],
            )?
            .iter()
            .map(|r| (text(r, 0), labels_of(&text(r, 1))))
            .collect();
        for r in &rows {
            let (job_id, size) = (int(r, 0), int(r, 1));
            let requires: Vec<String> = c
                .query(
                    "SELECT label FROM hone_job_requires WHERE job_id = ?1 ORDER BY label",
                    &[Value::Int(job_id)],
                )?
                .iter()
                .map(|r| text(r, 0))
                .collect();
            let able = live
                .iter()
                .filter(|(_, labels)| requires.iter().all(|q| labels.contains(q)))
                .count() as i64;
            if able < size {
                let labels = if requires.is_empty() {
                    String::new()
                } else {
                    format!(" with labels {}", requires.join(","))
                };
                c.execute(
                    "UPDATE hone_jobs SET wait_reason = ?1 WHERE job_id = ?2",
                    &[
                        format!(
                            "gang of {size} waits for {size} live workers{labels}; {able} live now"
                        )
                        .into(),
                        Value::Int(job_id),
                    ],
                )?;
                continue;
            }
            let already = c.query(
                "SELECT 1 FROM hone_job_members WHERE job_id = ?1 AND worker = ?2",
                &[Value::Int(job_id), worker.worker_id.as_str().into()],
            )?;
            if !already.is_empty() {
                continue;
            }
            // Lock the job row so that two joins count members one after the other.
            if self.dialect() == Dialect::Postgres {
                c.query(
                    "SELECT job_id FROM hone_jobs WHERE job_id = ?1 FOR UPDATE",
                    &[Value::Int(job_id)],
                )?;
            }
            let o = OwnerColumns::of(Some(lease), now);
            // Join order decides ranks: strictly increasing even within one millisecond.
            let last = c
                .query(
                    "SELECT MAX(joined_at) FROM hone_job_members WHERE job_id = ?1",
                    &[Value::Int(job_id)],
                )?
                .first()
                .and_then(|r| opt_int(r, 0));
            let joined_at = last.map_or(now, |l| now.max(l + 1));
            c.execute(
                "INSERT INTO hone_job_members (job_id, worker, lease_id, lease_expires, owner_host, \
                 owner_pid, owner_start, address, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &[
                    Value::Int(job_id),
                    worker.worker_id.as_str().into(),
                    o.lease_id,
                    o.expires,
                    o.host,
                    o.pid,
                    o.start,
                    worker.address.as_str().into(),
                    Value::Int(joined_at),
                ],
            )?;
            let members = c.query(
                "SELECT lease_id, worker FROM hone_job_members WHERE job_id = ?1 \
                 ORDER BY joined_at, lease_id",
                &[Value::Int(job_id)],
            )?;
            let joined = members.len() as i64;
            if joined >= size {
                for (rank, m) in members.iter().enumerate() {
                    c.execute(
                        "UPDATE hone_job_members SET rank = ?1 WHERE job_id = ?2 AND lease_id = ?3",
                        &[
                            Value::Int(rank as i64),
                            Value::Int(job_id),
                            text(m, 0).into(),
                        ],
                    )?;
                }
                let lead = text(&members[0], 1);
                c.execute(
                    "UPDATE hone_jobs SET state = 'RUNNING', attempts = attempts + 1, worker = ?1, \
                     started_at = COALESCE(started_at, ?2), wait_reason = NULL, error = NULL \
                     WHERE job_id = ?3",
                    &[lead.as_str().into(), Value::Int(now), Value::Int(job_id)],
                )?;
                let mut job = Self::load_job(c, job_id)?;
                Self::start_attempt(c, &mut job, &lead, now)?;
            } else {
                c.execute(
                    "UPDATE hone_jobs SET wait_reason = ?1 WHERE job_id = ?2",
                    &[
                        format!("gathering the gang: {joined} of {size} workers joined").into(),
                        Value::Int(job_id),
                    ],
                )?;
            }
            return Ok(Some(Claimed::Gang { job_id }));
        }
        Ok(None)
    }
}

impl<D: Db> JobQueue for SqlStore<D> {
    fn submit(&self, jobs: &[NewJob]) -> Result<Vec<i64>> {
        for j in jobs {
            for l in &j.requires {
                validate_label(l)?;
            }
            if j.max_attempts < 1 {
                return Err(TrackError::Invalid(format!(
                    "max attempts must be at least 1, got {}",
                    j.max_attempts
                )));
            }
            if j.gang_size < 1 {
                return Err(TrackError::Invalid(format!(
                    "a gang has at least 1 worker, got {}",
                    j.gang_size
                )));
            }
        }
        let now = now_ms();
        self.write(|c| {
            let mut ids = Vec::with_capacity(jobs.len());
            let mut group: Option<i64> = None;
            for (unit, j) in jobs.iter().enumerate() {
                let rows = c.query(
                    "INSERT INTO hone_jobs (name, kind, spec, state, priority, max_attempts, \
                     gang_size, group_id, unit, data_fingerprint, queued_at) \
                     VALUES (?1, ?2, ?3, 'QUEUED', ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING job_id",
                    &[
                        j.name.as_str().into(),
                        j.kind.as_str().into(),
                        j.spec.as_str().into(),
                        Value::Int(j.priority),
                        Value::Int(j.max_attempts),
                        Value::Int(j.gang_size),
                        group.into(),
                        Value::Int(unit as i64),
                        j.data_fingerprint.clone().into(),
                        Value::Int(now),
                    ],
                )?;
                let id = rows
                    .first()
                    .map(|r| int(r, 0))
                    .ok_or_else(|| TrackError::Db("INSERT … RETURNING gave no id".into()))?;
                let first = *group.get_or_insert(id);
                c.execute(
                    "UPDATE hone_jobs SET group_id = ?1 WHERE job_id = ?2",
                    &[Value::Int(first), Value::Int(id)],
                )?;
                for l in j.requires.iter().collect::<BTreeSet<_>>() {
                    c.execute(
                        "INSERT INTO hone_job_requires (job_id, label) VALUES (?1, ?2)",
                        &[Value::Int(id), l.as_str().into()],
                    )?;
                }
                ids.push(id);
            }
            Ok(ids)
        })
    }

    fn register_worker(&self, worker: &WorkerInfo) -> Result<()> {
        for l in &worker.labels {
            validate_label(l)?;
        }
        self.write(|c| {
            c.execute(
                "INSERT INTO hone_workers (worker_id, labels, slots, address, heartbeat, stopped) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (worker_id) DO UPDATE SET \
                 labels = excluded.labels, slots = excluded.slots, address = excluded.address, \
                 heartbeat = excluded.heartbeat, stopped = 0",
                &[
                    worker.worker_id.as_str().into(),
                    labels_text(&worker.labels).into(),
                    Value::Int(worker.slots),
                    worker.address.as_str().into(),
                    Value::Int(now_ms()),
                ],
            )?;
            Ok(())
        })
    }

    fn worker_stopped(&self, worker_id: &str) -> Result<()> {
        self.write(|c| {
            c.execute(
                "UPDATE hone_workers SET stopped = 1, heartbeat = ?1 WHERE worker_id = ?2",
                &[Value::Int(now_ms()), worker_id.into()],
            )?;
            Ok(())
        })
    }

    fn workers(&self, within_ms: i64) -> Result<Vec<WorkerStatus>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT worker_id, labels, slots, address, heartbeat, stopped FROM hone_workers \
                     WHERE heartbeat > ?1 ORDER BY worker_id",
                &[Value::Int(now_ms().saturating_sub(within_ms))],
            )?
            .iter()
            .map(|r| WorkerStatus {
                info: WorkerInfo {
                    worker_id: text(r, 0),
                    labels: labels_of(&text(r, 1)),
                    slots: int(r, 2),
                    address: text(r, 3),
                },
                heartbeat: int(r, 4),
                stopped: int(r, 5) != 0,
            })
            .collect())
        })
    }

    fn claim(&self, worker: &WorkerInfo, lease: &Lease) -> Result<Option<Claimed>> {
        // The worker's own liveness is `register_worker`'s (workers call it as they poll):
        // a claim writes only the job.
        self.write(|c| {
            if let Some(claimed) = self.claim_gang(c, worker, lease)? {
                return Ok(Some(claimed));
            }
            self.claim_single(c, worker, lease)
        })
    }

    fn gang_status(&self, job_id: i64, lease: &Lease) -> Result<GangStatus> {
        self.read(|c| {
            let job = Self::load_job(c, job_id)?;
            let me = c.query(
                "SELECT rank FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2",
                &[Value::Int(job_id), lease.id.as_str().into()],
            )?;
            let Some(row) = me.first() else {
                return Ok(GangStatus::Gone);
            };
            match (job.state, opt_int(row, 0)) {
                (JobState::Queued, _) => Ok(GangStatus::Gathering {
                    joined: job.members.len() as i64,
                    size: job.gang_size,
                }),
                (JobState::Running, Some(rank)) => {
                    let addresses = job.members.iter().map(|m| m.address.clone()).collect();
                    Ok(GangStatus::Started {
                        job: Box::new(job),
                        rank,
                        addresses,
                    })
                }
                _ => Ok(GangStatus::Gone),
            }
        })
    }

    fn leave_gang(&self, job_id: i64, lease: &Lease) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "DELETE FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2 AND rank IS NULL \
                 AND EXISTS (SELECT 1 FROM hone_jobs WHERE job_id = ?1 AND state = 'QUEUED')",
                &[Value::Int(job_id), lease.id.as_str().into()],
            )?;
            Ok(n == 1)
        })
    }

    fn heartbeat_job(&self, job_id: i64, lease: &Lease) -> Result<HeartbeatAnswer> {
        let now = now_ms();
        let expires = Value::Int(now.saturating_add(lease.ttl_ms));
        self.write(|c| {
            let single = c.execute(
                "UPDATE hone_jobs SET lease_expires = ?1 WHERE job_id = ?2 AND lease_id = ?3 \
                 AND state = 'RUNNING'",
                &[expires.clone(), Value::Int(job_id), lease.id.as_str().into()],
            )?;
            let member = if single == 0 {
                c.execute(
                    "UPDATE hone_job_members SET lease_expires = ?1 WHERE job_id = ?2 AND lease_id = ?3",
                    &[expires.clone(), Value::Int(job_id), lease.id.as_str().into()],
                )?
            } else {
                0
            };
            if single == 0 && member == 0 {
                return Ok(HeartbeatAnswer::Lost);
            }
            let rows = c.query(
                "SELECT cancel_requested, state FROM hone_jobs WHERE job_id = ?1",
                &[Value::Int(job_id)],
            )?;
            let cancel = rows.first().is_some_and(|r| int(r, 0) != 0);
            Ok(if cancel {
                HeartbeatAnswer::Cancel
            } else {
                HeartbeatAnswer::Continue
            })
        })
    }

    fn finish(&self, job_id: i64, lease: &Lease, outcome: &JobOutcome) -> Result<bool> {
        self.write(|c| {
            let job = Self::load_job(c, job_id)?;
            if job.state != JobState::Running {
                return Ok(false);
            }
            let rank = if job.gang_size > 1 {
                let me = c.query(
                    "SELECT rank FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2",
                    &[Value::Int(job_id), lease.id.as_str().into()],
                )?;
                match me.first().and_then(|r| opt_int(r, 0)) {
                    Some(rank) => rank,
                    None => return Ok(false),
                }
            } else {
                let owns = c.query(
                    "SELECT 1 FROM hone_jobs WHERE job_id = ?1 AND lease_id = ?2",
                    &[Value::Int(job_id), lease.id.as_str().into()],
                )?;
                if owns.is_empty() {
                    return Ok(false);
                }
                0
            };
            let log = outcome.log_sha256.as_deref();
            if outcome.succeeded {
                if rank > 0 {
                    // A follower's part is done; rank 0's outcome ends the gang.
                    c.execute(
                        "DELETE FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2",
                        &[Value::Int(job_id), lease.id.as_str().into()],
                    )?;
                    return Ok(true);
                }
                Self::end_attempt(c, &job, "succeeded", None, log)?;
                c.execute(
                    "UPDATE hone_jobs SET state = 'SUCCEEDED', finished_at = ?1, lease_id = NULL, \
                     lease_expires = NULL, owner_host = NULL, owner_pid = NULL, owner_start = NULL, \
                     run_id = COALESCE(?2, run_id), study = COALESCE(?3, study), error = NULL \
                     WHERE job_id = ?4",
                    &[
                        Value::Int(now_ms()),
                        outcome.run_id.clone().into(),
                        outcome.study.clone().into(),
                        Value::Int(job_id),
                    ],
                )?;
                c.execute(
                    "DELETE FROM hone_job_members WHERE job_id = ?1",
                    &[Value::Int(job_id)],
                )?;
                return Ok(true);
            }
            let message = outcome.error.clone().unwrap_or_else(|| "failed".into());
            let what = if job.cancel_requested {
                "cancelled"
            } else {
                "failed"
            };
            let shown = if rank > 0 {
                format!("gang member {rank}: {message}")
            } else {
                message
            };
            Self::end_attempt(c, &job, what, Some(&shown), log)?;
            if outcome.run_id.is_some() || outcome.study.is_some() {
                c.execute(
                    "UPDATE hone_jobs SET run_id = COALESCE(?1, run_id), study = COALESCE(?2, study) \
                     WHERE job_id = ?3",
                    &[
                        outcome.run_id.clone().into(),
                        outcome.study.clone().into(),
                        Value::Int(job_id),
                    ],
                )?;
            }
            Self::after_failed_attempt(c, &job, &shown, outcome.retryable, true)?;
            Ok(true)
        })
    }

    fn requeue(&self, job_id: i64, lease: &Lease, reason: &str) -> Result<bool> {
        self.write(|c| {
            let job = Self::load_job(c, job_id)?;
            if job.state != JobState::Running {
                // A gathering gang member just leaves.
                let n = c.execute(
                    "DELETE FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2",
                    &[Value::Int(job_id), lease.id.as_str().into()],
                )?;
                return Ok(n == 1);
            }
            let owns = if job.gang_size > 1 {
                "SELECT 1 FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2"
            } else {
                "SELECT 1 FROM hone_jobs WHERE job_id = ?1 AND lease_id = ?2"
            };
            if c.query(owns, &[Value::Int(job_id), lease.id.as_str().into()])?
                .is_empty()
            {
                return Ok(false);
            }
            Self::end_attempt(c, &job, "requeued", Some(reason), None)?;
            Self::after_failed_attempt(c, &job, reason, true, false)?;
            Ok(true)
        })
    }

    fn set_job_result(
        &self,
        job_id: i64,
        lease: &Lease,
        run_id: Option<&str>,
        study: Option<&str>,
    ) -> Result<bool> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE hone_jobs SET run_id = COALESCE(?1, run_id), study = COALESCE(?2, study) \
                 WHERE job_id = ?3 AND state = 'RUNNING' AND (lease_id = ?4 OR EXISTS (SELECT 1 FROM \
                 hone_job_members m WHERE m.job_id = ?3 AND m.lease_id = ?4))",
                &[
                    run_id.into(),
                    study.into(),
                    Value::Int(job_id),
                    lease.id.as_str().into(),
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn cancel(&self, job_id: i64) -> Result<Job> {
        self.write(|c| {
            let job = Self::load_job(c, job_id)?;
            match job.state {
                JobState::Queued => {
                    c.execute(
                        "UPDATE hone_jobs SET state = 'CANCELLED', finished_at = ?1, \
                         error = 'cancelled before it started', wait_reason = NULL WHERE job_id = ?2",
                        &[Value::Int(now_ms()), Value::Int(job_id)],
                    )?;
                    c.execute(
                        "DELETE FROM hone_job_members WHERE job_id = ?1",
                        &[Value::Int(job_id)],
                    )?;
                }
                JobState::Running => {
                    c.execute(
                        "UPDATE hone_jobs SET cancel_requested = 1 WHERE job_id = ?1",
                        &[Value::Int(job_id)],
                    )?;
                }
                s => {
                    return Err(TrackError::Conflict(format!(
                        "job {job_id} is {} already: there is nothing to cancel",
                        s.as_str()
                    )));
                }
            }
            Self::load_job(c, job_id)
        })
    }

    fn retry(&self, job_id: i64) -> Result<Job> {
        self.write(|c| {
            let job = Self::load_job(c, job_id)?;
            if !matches!(job.state, JobState::Failed | JobState::Cancelled) {
                return Err(TrackError::Conflict(format!(
                    "job {job_id} is {}: only a FAILED or CANCELLED job can be retried",
                    job.state.as_str()
                )));
            }
            c.execute(
                "UPDATE hone_jobs SET state = 'QUEUED', attempts = 0, cancel_requested = 0, \
                 finished_at = NULL, error = NULL, wait_reason = ?1, queued_at = ?2 WHERE job_id = ?3",
                &[
                    format!("retried after {}", job.state.as_str()).into(),
                    Value::Int(now_ms()),
                    Value::Int(job_id),
                ],
            )?;
            Self::load_job(c, job_id)
        })
    }

    fn get_job(&self, job_id: i64) -> Result<Job> {
        self.read(|c| Self::load_job(c, job_id))
    }

    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.read(|c| {
            let mut clauses = Vec::new();
            let mut params = Vec::new();
            if !filter.states.is_empty() {
                let list: Vec<String> = filter
                    .states
                    .iter()
                    .map(|s| {
                        params.push(Value::from(s.as_str()));
                        format!("?{}", params.len())
                    })
                    .collect();
                clauses.push(format!("state IN ({})", list.join(", ")));
            }
            if let Some(g) = filter.group_id {
                params.push(Value::Int(g));
                clauses.push(format!("group_id = ?{}", params.len()));
            }
            let where_sql = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            let limit = if filter.limit > 0 {
                format!("LIMIT {}", filter.limit)
            } else {
                String::new()
            };
            let rows = c.query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM hone_jobs {where_sql} ORDER BY job_id DESC {limit}"
                ),
                &params,
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut job = job_of(r)?;
                Self::fill_job(c, &mut job)?;
                out.push(job);
            }
            Ok(out)
        })
    }

    fn reap_jobs(&self) -> Result<Vec<i64>> {
        let here = hostname();
        let now = now_ms();
        let dead = |r: &Row, at: usize| {
            let expired = opt_int(r, at).is_some_and(|e| e < now);
            let gone = opt_text(r, at + 1).is_some_and(|h| h == here)
                && opt_int(r, at + 2)
                    .is_some_and(|pid| !process_alive(pid, opt_text(r, at + 3).as_deref()));
            (expired || gone).then_some(expired)
        };
        // Read first; write only when something is dead (every worker reaps often).
        let (jobs, members) = self.read(|c| {
            let jobs = c.query(
                "SELECT job_id, lease_id, lease_expires, owner_host, owner_pid, owner_start \
                 FROM hone_jobs WHERE state = 'RUNNING' AND gang_size = 1",
                &[],
            )?;
            let members = c.query(
                "SELECT m.job_id, m.lease_id, m.lease_expires, m.owner_host, m.owner_pid, \
                 m.owner_start, m.worker FROM hone_job_members m",
                &[],
            )?;
            Ok((jobs, members))
        })?;
        let dead_jobs: Vec<(i64, String, bool)> = jobs
            .iter()
            .filter_map(|r| dead(r, 2).map(|expired| (int(r, 0), text(r, 1), expired)))
            .collect();
        let dead_members: Vec<(i64, String, String, bool)> = members
            .iter()
            .filter_map(|r| dead(r, 2).map(|expired| (int(r, 0), text(r, 1), text(r, 6), expired)))
            .collect();
        if dead_jobs.is_empty() && dead_members.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|c| {
            let mut reaped = Vec::new();
            for (job_id, lease_id, expired) in &dead_jobs {
                let job = Self::load_job(c, *job_id)?;
                let still = c.query(
                    "SELECT lease_expires FROM hone_jobs WHERE job_id = ?1 AND lease_id = ?2 \
                     AND state = 'RUNNING'",
                    &[Value::Int(*job_id), lease_id.into()],
                )?;
                let Some(row) = still.first() else { continue };
                if *expired && opt_int(row, 0).is_some_and(|e| e >= now) {
                    continue; // renewed since it was read
                }
                let worker = job.worker.clone().unwrap_or_default();
                let why = format!("worker {worker} stopped renewing its lease (lost)");
                Self::end_attempt(c, &job, "lost", Some(&why), None)?;
                Self::after_failed_attempt(c, &job, &why, true, true)?;
                reaped.push(*job_id);
            }
            for (job_id, lease_id, worker, _) in &dead_members {
                let job = match Self::load_job(c, *job_id) {
                    Ok(j) => j,
                    Err(_) => continue,
                };
                let n = c.execute(
                    "DELETE FROM hone_job_members WHERE job_id = ?1 AND lease_id = ?2",
                    &[Value::Int(*job_id), lease_id.into()],
                )?;
                if n == 0 {
                    continue;
                }
                if job.state == JobState::Running {
                    // One member gone: the whole gang restarts (LightGBM's network has no
                    // way to replace a rank).
                    let why = format!("gang member on worker {worker} was lost");
                    Self::end_attempt(c, &job, "lost", Some(&why), None)?;
                    Self::after_failed_attempt(c, &job, &why, true, true)?;
                }
                reaped.push(*job_id);
            }
            reaped.sort_unstable();
            reaped.dedup();
            Ok(reaped)
        })
    }

    fn queue_stats(&self) -> Result<QueueStats> {
        let now = now_ms();
        self.read(|c| {
            let by: Vec<(String, i64)> = c
                .query("SELECT state, COUNT(*) FROM hone_jobs GROUP BY state", &[])?
                .iter()
                .map(|r| (text(r, 0), int(r, 1)))
                .collect();
            let by_state = JobState::ALL
                .iter()
                .map(|s| {
                    let n = by
                        .iter()
                        .find(|(k, _)| k == s.as_str())
                        .map_or(0, |(_, n)| *n);
                    (*s, n)
                })
                .collect();
            let oldest = c
                .query(
                    "SELECT MIN(queued_at) FROM hone_jobs WHERE state = 'QUEUED'",
                    &[],
                )?
                .first()
                .and_then(|r| opt_int(r, 0))
                .map(|t| now - t);
            let live = c
                .query(
                    "SELECT COUNT(*) FROM hone_workers WHERE stopped = 0 AND heartbeat > ?1",
                    &[Value::Int(now - WORKER_LIVE_MS)],
                )?
                .first()
                .map_or(0, |r| int(r, 0));
            Ok(QueueStats {
                by_state,
                oldest_queued_ms: oldest,
                live_workers: live,
            })
        })
    }

    fn claim_latencies(&self, limit: usize) -> Result<Vec<i64>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT started_at - queued_at FROM hone_jobs WHERE started_at IS NOT NULL \
                     ORDER BY started_at DESC LIMIT ?1",
                &[Value::Int(i64::try_from(limit).unwrap_or(i64::MAX))],
            )?
            .iter()
            .map(|r| int(r, 0).max(0))
            .collect())
        })
    }
}
