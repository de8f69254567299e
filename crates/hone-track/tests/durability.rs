//! Many writer processes on one SQLite store, kill -9 in the middle of logging, schema
//! versions, corrupted artifacts. Child processes are this test binary re-run with
//! `HONE_TRACK_CHILD` set (see `child_entry`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hone_track::sql_store::SqlStore;
use hone_track::store::SearchRequest;
use hone_track::{Coordinator, RunStatus, Store, Tracker, open_store};

const POINTS_PER_CHILD: usize = 2_000;

/// Not a real test unless `HONE_TRACK_CHILD` is set: then it is a child writer process.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var("HONE_TRACK_CHILD") else {
        return;
    };
    let uri = std::env::var("HONE_TRACK_URI").unwrap();
    let artifacts = std::env::var("HONE_TRACK_ARTIFACTS").unwrap();
    let tracker = Tracker::open(&uri, std::path::Path::new(&artifacts)).unwrap();
    let who = std::env::var("HONE_TRACK_WHO").unwrap_or_default();
    let run = tracker
        .start_run("concurrency", Some(&format!("writer-{who}")), None, vec![])
        .unwrap();
    match mode.as_str() {
        "writer" => {
            run.log_params(&[("who".into(), who.clone())]).unwrap();
            for i in 0..POINTS_PER_CHILD {
                run.log_metric("x", i as f64, i as i64).unwrap();
                if i % 250 == 0 {
                    run.log_artifact_bytes(
                        &format!("part-{i}.txt"),
                        format!("{who}-{i}").as_bytes(),
                    )
                    .unwrap();
                }
            }
            run.end(RunStatus::Finished).unwrap();
        }
        "killed" => {
            // Log forever; after each flush, say how many points are durable.
            let mut i: i64 = 0;
            loop {
                for _ in 0..500 {
                    run.log_metric("x", i as f64, i).unwrap();
                    i += 1;
                }
                tracker.flush().unwrap();
                println!("flushed {i}");
            }
        }
        _ => panic!("unknown child mode {mode}"),
    }
}

fn child(mode: &str, uri: &str, artifacts: &str, who: usize) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env("HONE_TRACK_CHILD", mode)
        .env("HONE_TRACK_URI", uri)
        .env("HONE_TRACK_ARTIFACTS", artifacts)
        .env("HONE_TRACK_WHO", who.to_string());
    c
}

#[test]
fn sixteen_writer_processes_share_one_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let artifacts = dir.path().join("artifacts").display().to_string();
    let children: Vec<_> = (0..16)
        .map(|w| {
            child("writer", &uri, &artifacts, w)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = open_store(&uri).unwrap();
    let exp = store
        .get_experiment_by_name("concurrency")
        .unwrap()
        .unwrap();
    let (runs, _) = store
        .search_runs(&SearchRequest {
            experiment_ids: vec![exp.experiment_id],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 16);
    for r in &runs {
        assert_eq!(r.info.status, RunStatus::Finished);
        let hist = store.metric_history(&r.info.run_id, "x").unwrap();
        assert_eq!(hist.len(), POINTS_PER_CHILD, "{}", r.info.run_name);
        assert!(
            hist.iter()
                .enumerate()
                .all(|(i, p)| p.step == i as i64 && p.value == i as f64)
        );
        assert_eq!(
            store.list_artifacts(&r.info.run_id).unwrap().len(),
            POINTS_PER_CHILD / 250
        );
    }
}

#[test]
fn kill_9_loses_nothing_flushed_and_the_run_is_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hone.db");
    let uri = format!("sqlite://{}", db.display());
    let artifacts = dir.path().join("artifacts").display().to_string();
    let mut c = child("killed", &uri, &artifacts, 0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
    let mut flushed = 0i64;
    let start = Instant::now();
    while flushed < 20_000 && start.elapsed() < Duration::from_secs(60) {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(n) = l.strip_prefix("flushed ") {
                    flushed = n.parse().unwrap();
                }
            }
            _ => break,
        }
    }
    assert!(flushed >= 20_000, "child flushed only {flushed} points");
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGKILL) };
    c.wait().unwrap();

    let store = SqlStore::open_sqlite(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let reaped = store.reap().unwrap();
    assert_eq!(reaped.len(), 1, "the dead child's run is reaped");
    let run = store.get_run(&reaped[0]).unwrap();
    assert_eq!(run.info.status, RunStatus::Killed);
    let hist = store.metric_history(&reaped[0], "x").unwrap();
    assert!(hist.len() as i64 >= flushed, "{} < {flushed}", hist.len());
    assert!(
        hist.iter()
            .take(flushed as usize)
            .enumerate()
            .all(|(i, p)| p.step == i as i64)
    );
}

#[test]
fn a_store_from_a_newer_hone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hone.db");
    let uri = format!("sqlite://{}", db.display());
    drop(open_store(&uri).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("INSERT INTO hone_schema (version) VALUES (99)", [])
        .unwrap();
    drop(conn);
    let e = open_store(&uri).err().unwrap().to_string();
    assert!(
        e.contains("written by a newer hone (schema version 99"),
        "{e}"
    );
}

#[test]
fn corrupted_artifacts_are_detected_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let tracker = Tracker::open(&uri, &dir.path().join("artifacts")).unwrap();
    let run = tracker.start_run("arts", Some("r"), None, vec![]).unwrap();
    let rec = run
        .log_artifact_bytes("model/model.txt", b"tree\nversion=v4\n")
        .unwrap();
    // Identical content is stored once.
    let rec2 = run
        .log_artifact_bytes("copy/model.txt", b"tree\nversion=v4\n")
        .unwrap();
    assert_eq!(rec.sha256, rec2.sha256);
    assert_eq!(tracker.blobs().list().unwrap().len(), 1);
    assert_eq!(
        tracker
            .blobs()
            .get(&rec.sha256, &run.run_id, &rec.path)
            .unwrap(),
        b"tree\nversion=v4\n"
    );
    let blob = dir
        .path()
        .join("artifacts/blobs")
        .join(&rec.sha256[..2])
        .join(&rec.sha256);
    std::fs::write(&blob, b"tree\nversion=v5\n").unwrap();
    let e = tracker
        .blobs()
        .get(&rec.sha256, &run.run_id, &rec.path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model/model.txt") && e.contains("corrupted"),
        "{e}"
    );
    for bad in ["../../etc/passwd", "/abs", "a\\..\\b", "%2e%2e/x", "C:/x"] {
        assert!(run.log_artifact_bytes(bad, b"x").is_err(), "{bad}");
    }
}
