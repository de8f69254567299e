//! The job queue's behaviour, each case on SQLite and PostgreSQL (a fresh database in the test
//! binary's throwaway cluster): claims, priorities and labels, leases and retries, fencing,
//! cancel and retry, gangs. Worker *processes* are tested in `hone-cli`'s `jobs_cli`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Target;
use hone_test_support::on_both_backends;
use hone_track::queue::*;
use hone_track::{Lease, LeaseHolder, TrackError};

on_both_backends!(
    concurrent_workers_claim_every_job_exactly_once,
    priority_then_age_and_labels_decide_who_claims,
    an_expired_lease_requeues_until_max_attempts_and_fences_the_zombie,
    a_worker_gone_from_this_machine_is_reaped_at_once,
    cancel_and_retry_follow_the_states,
    a_stopping_worker_requeues_without_counting_an_attempt,
    a_failure_that_cannot_succeed_is_not_retried,
    a_gang_gathers_starts_with_ranks_and_restarts_when_a_member_dies,
    a_gang_larger_than_the_fleet_waits_with_a_reason,
    units_submitted_together_form_a_group,
);

fn job(name: &str) -> NewJob {
    NewJob {
        name: name.into(),
        kind: "noop".into(),
        spec: "{}".into(),
        max_attempts: 3,
        gang_size: 1,
        ..Default::default()
    }
}

fn worker(id: &str, labels: &[&str]) -> WorkerInfo {
    WorkerInfo {
        worker_id: id.into(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        slots: 1,
        address: "127.0.0.1".into(),
    }
}

fn lease(ttl_ms: i64) -> Lease {
    Lease {
        id: hone_track::coordinator::new_lease_id(),
        ttl_ms,
        holder: None,
    }
}

fn ok() -> JobOutcome {
    JobOutcome {
        succeeded: true,
        ..Default::default()
    }
}

fn failed(msg: &str) -> JobOutcome {
    JobOutcome {
        succeeded: false,
        error: Some(msg.into()),
        retryable: true,
        ..Default::default()
    }
}

fn claimed_job(c: Option<Claimed>) -> Job {
    match c {
        Some(Claimed::Job { job }) => *job,
        other => panic!("expected a job, got {other:?}"),
    }
}

fn concurrent_workers_claim_every_job_exactly_once(t: &Target) {
    let q = t.queue();
    let jobs: Vec<NewJob> = (0..40).map(|i| job(&format!("j{i}"))).collect();
    for chunk in jobs.chunks(10) {
        q.submit(chunk).unwrap();
    }
    let seen: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let q = t.queue();
                s.spawn(move || {
                    let me = worker(&format!("w{w}"), &[]);
                    q.register_worker(&me).unwrap();
                    let mut mine = Vec::new();
                    loop {
                        let l = lease(60_000);
                        match q.claim(&me, &l).unwrap() {
                            Some(Claimed::Job { job }) => {
                                assert_eq!(job.state, JobState::Running);
                                assert!(q.finish(job.job_id, &l, &ok()).unwrap());
                                mine.push(job.job_id);
                            }
                            Some(other) => panic!("{other:?}"),
                            None => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<i64> = seen.iter().flatten().copied().collect();
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 40, "every job claimed once: {seen:?}");
    assert_eq!(unique.len(), 40);
    let listed = q.list_jobs(&JobFilter::default()).unwrap();
    assert!(
        listed
            .iter()
            .all(|j| j.state == JobState::Succeeded && j.attempts == 1 && j.history.len() == 1)
    );
    let stats = q.queue_stats().unwrap();
    assert!(stats.by_state.contains(&(JobState::Succeeded, 40)));
    assert_eq!(stats.oldest_queued_ms, None);
}

fn priority_then_age_and_labels_decide_who_claims(t: &Target) {
    let q = t.queue();
    let mut gpu = job("needs-gpu");
    gpu.requires = vec!["gpu".into()];
    gpu.priority = 100;
    let mut urgent = job("urgent");
    urgent.priority = 5;
    let ids = q.submit(&[job("old"), gpu, urgent, job("young")]).unwrap();
    let cpu = worker("cpu", &["cpu"]);
    let l = lease(60_000);
    // The GPU job outranks everything but this worker lacks the label.
    let order: Vec<i64> = (0..3)
        .map(|_| {
            let j = claimed_job(q.claim(&cpu, &l).unwrap());
            assert!(q.finish(j.job_id, &l, &ok()).unwrap());
            j.job_id
        })
        .collect();
    assert_eq!(order, vec![ids[2], ids[0], ids[3]]);
    assert!(q.claim(&cpu, &l).unwrap().is_none());
    let gpu_worker = worker("g", &["gpu", "cpu"]);
    let j = claimed_job(q.claim(&gpu_worker, &l).unwrap());
    assert_eq!(j.job_id, ids[1]);
    assert_eq!(j.requires, vec!["gpu".to_string()]);
    // Bad labels are refused, naming them.
    let mut bad = job("bad");
    bad.requires = vec!["g p u".into()];
    let e = q.submit(&[bad]).unwrap_err().to_string();
    assert!(e.contains("\"g p u\""), "{e}");
}

fn an_expired_lease_requeues_until_max_attempts_and_fences_the_zombie(t: &Target) {
    let q = t.queue();
    let mut j = job("flaky");
    j.max_attempts = 2;
    let id = q.submit(&[j]).unwrap()[0];
    let w = worker("w", &[]);
    let short = lease(50);
    let first = claimed_job(q.claim(&w, &short).unwrap());
    assert_eq!(first.attempts, 1);
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(q.reap_jobs().unwrap(), vec![id]);
    let back = q.get_job(id).unwrap();
    assert_eq!(back.state, JobState::Queued);
    assert_eq!(back.attempts, 1);
    assert!(back.wait_reason.unwrap().contains("lost"));
    assert_eq!(back.history[0].outcome.as_deref(), Some("lost"));
    // The zombie's writes change nothing.
    assert_eq!(q.heartbeat_job(id, &short).unwrap(), HeartbeatAnswer::Lost);
    assert!(!q.finish(id, &short, &ok()).unwrap());
    assert_eq!(q.get_job(id).unwrap().state, JobState::Queued);
    // The second attempt also dies: no attempts left.
    let second = lease(50);
    let again = claimed_job(q.claim(&w, &second).unwrap());
    assert_eq!(again.attempts, 2);
    assert_eq!(again.spec, first.spec);
    std::thread::sleep(Duration::from_millis(120));
    q.reap_jobs().unwrap();
    let dead = q.get_job(id).unwrap();
    assert_eq!(dead.state, JobState::Failed);
    assert!(dead.error.unwrap().contains("attempt 2 of 2"));
    assert!(dead.finished_at.is_some());
    // A renewed lease is not reaped.
    let id2 = q.submit(&[job("steady")]).unwrap()[0];
    let l = lease(300);
    claimed_job(q.claim(&w, &l).unwrap());
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(q.heartbeat_job(id2, &l).unwrap(), HeartbeatAnswer::Continue);
        assert!(q.reap_jobs().unwrap().is_empty());
    }
}

fn a_worker_gone_from_this_machine_is_reaped_at_once(t: &Target) {
    let q = t.queue();
    let id = q.submit(&[job("orphan")]).unwrap()[0];
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let l = Lease {
        id: hone_track::coordinator::new_lease_id(),
        ttl_ms: 3_600_000,
        holder: Some(LeaseHolder {
            host: hone_track::liveness::hostname(),
            pid,
            process_start: None,
        }),
    };
    claimed_job(q.claim(&worker("w", &[]), &l).unwrap());
    assert_eq!(q.reap_jobs().unwrap(), vec![id]);
    assert_eq!(q.get_job(id).unwrap().state, JobState::Queued);
}

fn cancel_and_retry_follow_the_states(t: &Target) {
    let q = t.queue();
    let ids = q.submit(&[job("a"), job("b")]).unwrap();
    let c = q.cancel(ids[0]).unwrap();
    assert_eq!(c.state, JobState::Cancelled);
    let w = worker("w", &[]);
    let l = lease(60_000);
    let running = claimed_job(q.claim(&w, &l).unwrap());
    assert_eq!(running.job_id, ids[1], "a cancelled job is never claimed");
    let asked = q.cancel(ids[1]).unwrap();
    assert_eq!(asked.state, JobState::Running);
    assert!(asked.cancel_requested);
    assert_eq!(
        q.heartbeat_job(ids[1], &l).unwrap(),
        HeartbeatAnswer::Cancel
    );
    assert!(q.finish(ids[1], &l, &failed("stopped: cancelled")).unwrap());
    assert_eq!(q.get_job(ids[1]).unwrap().state, JobState::Cancelled);
    let e = q.cancel(ids[1]).unwrap_err();
    assert!(matches!(e, TrackError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("CANCELLED already"), "{e}");
    let back = q.retry(ids[1]).unwrap();
    assert_eq!(back.state, JobState::Queued);
    assert_eq!(back.attempts, 0);
    assert!(!back.cancel_requested);
    let e = q.retry(ids[1]).unwrap_err().to_string();
    assert!(e.contains("only a FAILED or CANCELLED"), "{e}");
    assert!(matches!(q.get_job(999_999), Err(TrackError::NotFound(_))));
}

fn a_stopping_worker_requeues_without_counting_an_attempt(t: &Target) {
    let q = t.queue();
    let mut j = job("long");
    j.max_attempts = 1;
    let id = q.submit(&[j]).unwrap()[0];
    let w = worker("w", &[]);
    let l = lease(60_000);
    claimed_job(q.claim(&w, &l).unwrap());
    assert!(q.requeue(id, &l, "worker w received SIGTERM").unwrap());
    let back = q.get_job(id).unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Queued, 0));
    assert_eq!(back.history[0].outcome.as_deref(), Some("requeued"));
    let l2 = lease(60_000);
    let again = claimed_job(q.claim(&w, &l2).unwrap());
    assert_eq!(again.attempts, 1);
    assert!(q.finish(id, &l2, &ok()).unwrap());
    assert_eq!(q.get_job(id).unwrap().state, JobState::Succeeded);
}

fn a_failure_that_cannot_succeed_is_not_retried(t: &Target) {
    let q = t.queue();
    let id = q.submit(&[job("bad data")]).unwrap()[0];
    let w = worker("w", &[]);
    let l = lease(60_000);
    claimed_job(q.claim(&w, &l).unwrap());
    let outcome = JobOutcome {
        succeeded: false,
        error: Some("cannot read data.csv".into()),
        retryable: false,
        log_sha256: Some("ab".repeat(32)),
        ..Default::default()
    };
    assert!(q.finish(id, &l, &outcome).unwrap());
    let j = q.get_job(id).unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert_eq!(j.error.as_deref(), Some("cannot read data.csv"));
    assert_eq!(j.history[0].log_sha256, outcome.log_sha256);
    // A retryable failure with attempts left goes back to the queue.
    let id2 = q.submit(&[job("transient")]).unwrap()[0];
    let l2 = lease(60_000);
    claimed_job(q.claim(&w, &l2).unwrap());
    assert!(q.finish(id2, &l2, &failed("network")).unwrap());
    let j2 = q.get_job(id2).unwrap();
    assert_eq!((j2.state, j2.attempts), (JobState::Queued, 1));
}

fn gang(size: i64) -> NewJob {
    let mut j = job("gang");
    j.gang_size = size;
    j.kind = "train".into();
    j
}

fn a_gang_gathers_starts_with_ranks_and_restarts_when_a_member_dies(t: &Target) {
    let q = t.queue();
    let id = q.submit(&[gang(2)]).unwrap()[0];
    let (a, b) = (worker("a", &[]), worker("b", &[]));
    let mut a = a;
    a.address = "127.0.0.1:7001".into();
    let mut b = b;
    b.address = "127.0.0.1:7002".into();
    q.register_worker(&a).unwrap();
    q.register_worker(&b).unwrap();
    let (la, lb) = (lease(60_000), lease(200));
    assert_eq!(
        q.claim(&a, &la).unwrap(),
        Some(Claimed::Gang { job_id: id })
    );
    assert_eq!(
        q.gang_status(id, &la).unwrap(),
        GangStatus::Gathering { joined: 1, size: 2 }
    );
    assert!(
        q.get_job(id)
            .unwrap()
            .wait_reason
            .unwrap()
            .contains("1 of 2")
    );
    assert_eq!(
        q.claim(&b, &lb).unwrap(),
        Some(Claimed::Gang { job_id: id })
    );
    let GangStatus::Started {
        job,
        rank,
        addresses,
    } = q.gang_status(id, &lb).unwrap()
    else {
        panic!("started")
    };
    assert_eq!(rank, 1);
    assert_eq!(addresses, vec!["127.0.0.1:7001", "127.0.0.1:7002"]);
    assert_eq!((job.state, job.attempts), (JobState::Running, 1));
    // b dies: the whole gang restarts; a learns it at its next heartbeat.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(q.heartbeat_job(id, &la).unwrap(), HeartbeatAnswer::Continue);
    assert_eq!(q.reap_jobs().unwrap(), vec![id]);
    let back = q.get_job(id).unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Queued, 1));
    assert!(back.members.is_empty());
    assert_eq!(q.heartbeat_job(id, &la).unwrap(), HeartbeatAnswer::Lost);
    assert_eq!(q.gang_status(id, &la).unwrap(), GangStatus::Gone);
    // Second attempt: both join again, rank 0 finishes it.
    let (la2, lb2) = (lease(60_000), lease(60_000));
    q.claim(&b, &lb2).unwrap();
    q.claim(&a, &la2).unwrap();
    let GangStatus::Started { rank: rb, .. } = q.gang_status(id, &lb2).unwrap() else {
        panic!()
    };
    assert_eq!(rb, 0);
    assert!(q.finish(id, &la2, &ok()).unwrap());
    assert_eq!(q.get_job(id).unwrap().state, JobState::Running);
    let done = JobOutcome {
        run_id: Some("r1".into()),
        ..ok()
    };
    assert!(q.finish(id, &lb2, &done).unwrap());
    let j = q.get_job(id).unwrap();
    assert_eq!((j.state, j.attempts), (JobState::Succeeded, 2));
    assert_eq!(j.run_id.as_deref(), Some("r1"));
}

fn a_gang_larger_than_the_fleet_waits_with_a_reason(t: &Target) {
    let q = t.queue();
    let id = q.submit(&[gang(3)]).unwrap()[0];
    let a = worker("a", &[]);
    q.register_worker(&a).unwrap();
    let l = lease(60_000);
    assert!(q.claim(&a, &l).unwrap().is_none());
    let j = q.get_job(id).unwrap();
    assert_eq!(j.state, JobState::Queued);
    let why = j.wait_reason.unwrap();
    assert!(
        why.contains("waits for 3 live workers; 1 live now"),
        "{why}"
    );
    // An ordinary job behind it still runs.
    let other = q.submit(&[job("small")]).unwrap()[0];
    assert_eq!(claimed_job(q.claim(&a, &l).unwrap()).job_id, other);
    // A member that waited too long leaves.
    let id2 = q.submit(&[gang(2)]).unwrap()[0];
    q.register_worker(&worker("b", &[])).unwrap();
    let l2 = lease(60_000);
    assert_eq!(
        q.claim(&a, &l2).unwrap(),
        Some(Claimed::Gang { job_id: id2 })
    );
    assert!(q.leave_gang(id2, &l2).unwrap());
    assert_eq!(q.gang_status(id2, &l2).unwrap(), GangStatus::Gone);
    assert!(q.get_job(id2).unwrap().members.is_empty());
}

fn units_submitted_together_form_a_group(t: &Target) {
    let q = t.queue();
    let mut units: Vec<NewJob> = (0..3).map(|_| job("study")).collect();
    units[0].kind = "tune".into();
    let ids = q.submit(&units).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let j = q.get_job(*id).unwrap();
        assert_eq!((j.group_id, j.unit), (ids[0], i as i64));
    }
    let group = q
        .list_jobs(&JobFilter {
            group_id: Some(ids[0]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(group.len(), 3);
    let e = q
        .submit(&[NewJob {
            max_attempts: 0,
            ..job("x")
        }])
        .unwrap_err()
        .to_string();
    assert!(e.contains("max attempts"), "{e}");
}
