//! `hone-bench queue-claim STORE_URI [JOBS] [WORKERS]`: the job queue's own cost, with no job
//! work at all (issue 16's queue benchmark; `bench/queue/run.sh` runs it on PostgreSQL and
//! SQLite beside pgbench's raw `SKIP LOCKED` claim as the peer).
//!
//! 1. Burn-down: JOBS no-op jobs queued, WORKERS threads (each its own connection, as worker
//!    processes have) claim and finish until the queue is empty: claims/s, and each claim's
//!    and finish's latency.
//! 2. Heartbeats: WORKERS running jobs renewed as fast as possible for 3 s: heartbeats/s.
//! 3. Queue wait: 200 jobs submitted one by one every 20 ms while the workers poll every
//!    50 ms: the time from queued to claimed that users see.
//! 4. Where the store becomes the limit, from the figures above (printed as a calculation).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hone_track::coordinator::new_lease_id;
use hone_track::queue::{Claimed, JobOutcome, NewJob, WorkerInfo};
use hone_track::{Lease, open_queue};

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn lease() -> Lease {
    Lease {
        id: new_lease_id(),
        ttl_ms: 60_000,
        holder: None,
    }
}

fn worker(i: usize) -> WorkerInfo {
    WorkerInfo {
        worker_id: format!("bench-{i}"),
        labels: Vec::new(),
        slots: 1,
        address: "127.0.0.1".into(),
    }
}

fn noop(i: usize) -> NewJob {
    NewJob {
        name: format!("noop-{i}"),
        kind: "noop".into(),
        spec: "{}".into(),
        max_attempts: 3,
        gang_size: 1,
        ..Default::default()
    }
}

fn ok() -> JobOutcome {
    JobOutcome {
        succeeded: true,
        ..Default::default()
    }
}

/// Runs the benchmark.
pub fn claim(args: &[String]) {
    let uri = args
        .first()
        .unwrap_or_else(|| die("usage: hone-bench queue-claim STORE_URI [JOBS] [WORKERS]"));
    let jobs: usize = args
        .get(1)
        .map_or(10_000, |s| s.parse().unwrap_or_else(|_| die("JOBS")));
    let workers: usize = args
        .get(2)
        .map_or(8, |s| s.parse().unwrap_or_else(|_| die("WORKERS")));
    let q = open_queue(uri).unwrap_or_else(|e| die(&e.to_string()));
    let started = Instant::now();
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<NewJob> = chunk.iter().map(|i| noop(*i)).collect();
        q.submit(&batch).unwrap_or_else(|e| die(&e.to_string()));
    }
    let submit_s = started.elapsed().as_secs_f64();
    println!(
        "store {uri}: {jobs} no-op jobs queued in {submit_s:.2} s ({:.0} jobs/s, batches of 500)",
        jobs as f64 / submit_s
    );

    // 1. Burn-down.
    let t0 = Instant::now();
    let per_thread: Vec<(Vec<f64>, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                s.spawn(move || {
                    let q = open_queue(uri).unwrap_or_else(|e| die(&e.to_string()));
                    let me = worker(i);
                    q.register_worker(&me)
                        .unwrap_or_else(|e| die(&e.to_string()));
                    let (mut claims, mut finishes) = (Vec::new(), Vec::new());
                    loop {
                        let l = lease();
                        let c0 = Instant::now();
                        let got = q.claim(&me, &l).unwrap_or_else(|e| die(&e.to_string()));
                        claims.push(c0.elapsed().as_secs_f64() * 1e3);
                        let Some(Claimed::Job { job }) = got else {
                            break;
                        };
                        let f0 = Instant::now();
                        if !q.finish(job.job_id, &l, &ok()).unwrap_or(false) {
                            die("a finish was refused");
                        }
                        finishes.push(f0.elapsed().as_secs_f64() * 1e3);
                    }
                    (claims, finishes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = t0.elapsed().as_secs_f64();
    let mut claims: Vec<f64> = per_thread.iter().flat_map(|(c, _)| c.clone()).collect();
    let mut finishes: Vec<f64> = per_thread.iter().flat_map(|(_, f)| f.clone()).collect();
    claims.sort_by(f64::total_cmp);
    finishes.sort_by(f64::total_cmp);
    let done = finishes.len();
    let throughput = done as f64 / wall;
    println!(
        "burn-down, {workers} workers: {done} jobs claimed and finished in {wall:.2} s = {throughput:.0} jobs/s"
    );
    println!(
        "  claim latency ms: p50 {:.2}  p99 {:.2}   finish latency ms: p50 {:.2}  p99 {:.2}",
        pct(&claims, 0.5),
        pct(&claims, 0.99),
        pct(&finishes, 0.5),
        pct(&finishes, 0.99)
    );

    // 2. Heartbeats.
    let ids = q
        .submit(&(0..workers).map(noop).collect::<Vec<_>>())
        .unwrap_or_else(|e| die(&e.to_string()));
    let stop = AtomicBool::new(false);
    let beats: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let stop = &stop;
                s.spawn(move || {
                    let q = open_queue(uri).unwrap_or_else(|e| die(&e.to_string()));
                    let l = lease();
                    let job = match q.claim(&worker(i), &l) {
                        Ok(Some(Claimed::Job { job })) => job,
                        _ => die("no job to heartbeat"),
                    };
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        q.heartbeat_job(job.job_id, &l)
                            .unwrap_or_else(|e| die(&e.to_string()));
                        n += 1;
                    }
                    let _ = q.finish(job.job_id, &l, &ok());
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let beats_per_s = beats as f64 / 3.0;
    println!("heartbeats, {workers} workers: {beats_per_s:.0} renewals/s");
    let _ = ids;

    // 3. Queue wait at 50 ms polling.
    let stop = AtomicBool::new(false);
    let waits: Vec<f64> = std::thread::scope(|s| {
        let stop = &stop;
        for i in 0..workers {
            s.spawn(move || {
                let q = open_queue(uri).unwrap_or_else(|e| die(&e.to_string()));
                let me = worker(100 + i);
                while !stop.load(Ordering::Relaxed) {
                    let l = lease();
                    match q.claim(&me, &l) {
                        Ok(Some(Claimed::Job { job })) => {
                            let _ = q.finish(job.job_id, &l, &ok());
                        }
                        _ => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            });
        }
        let mut ids = Vec::new();
        for i in 0..200 {
            ids.extend(q.submit(&[noop(i)]).unwrap_or_else(|e| die(&e.to_string())));
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        ids.iter()
            .filter_map(|id| {
                let j = q.get_job(*id).ok()?;
                Some((j.started_at? - j.queued_at) as f64)
            })
            .collect()
    });
    let mut waits = waits;
    waits.sort_by(f64::total_cmp);
    println!(
        "queue wait (submitted every 20 ms, {workers} workers polling every 50 ms): p50 {:.0} ms  p99 {:.0} ms over {} jobs",
        pct(&waits, 0.5),
        pct(&waits, 0.99),
        waits.len()
    );

    // 4. The projection.
    let beat_every = 5.0;
    println!(
        "projection: a worker running jobs of mean length D s costs 1/D claim+finish pairs/s and 1/{beat_every} heartbeats/s;"
    );
    for d in [10.0_f64, 60.0, 600.0] {
        let per_worker = 1.0 / (d * throughput) + 1.0 / (beat_every * beats_per_s);
        println!(
            "  D = {d:>4.0} s: the store saturates at {:.0} busy workers (1 / (1/({d:.0}·{throughput:.0}) + 1/({beat_every}·{beats_per_s:.0})))",
            1.0 / per_worker
        );
    }
}
