//! The `mlflow-artifacts` proxy over HTTP: upload, download, list, delete, re-upload,
//! run/experiment checks, a corrupted blob, and the stored records and blobs behind them.

mod common;

use common::{Response, TestServer};
use serde_json::{Value, json};

const ART: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// A new experiment and a run in it: (experiment id, run id, artifact URI).
fn new_run(s: &TestServer, experiment: &str) -> (String, String, String) {
    let exp = s.new_experiment(experiment);
    let run = s.api("runs/create", json!({"experiment_id": exp})).json()["run"]["info"].clone();
    let id = run["run_id"].as_str().unwrap().to_string();
    let uri = run["artifact_uri"].as_str().unwrap().to_string();
    (exp, id, uri)
}

fn upload(s: &TestServer, path: &str, bytes: &[u8]) -> Response {
    s.send(
        "PUT",
        &format!("{ART}/{path}"),
        &[("Content-Type", "text/plain")],
        Some(bytes),
    )
}

fn list(s: &TestServer, path: &str) -> Value {
    let r = s.get(&format!("{ART}?path={path}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// The run's artifact records, as the store has them: (path, size).
fn records(s: &TestServer, run: &str) -> Vec<(String, i64)> {
    hone_track::open_store(&s.uri)
        .unwrap()
        .list_artifacts(run)
        .unwrap()
        .into_iter()
        .map(|r| (r.path, r.size))
        .collect()
}

#[test]
fn artifacts_round_trip_through_the_proxy() {
    let s = TestServer::start();
    let (exp, run, uri) = new_run(&s, "arts");
    assert_eq!(uri, format!("mlflow-artifacts:/{exp}/{run}/artifacts"));
    let base = format!("{exp}/{run}/artifacts");

    // Upload: 200, empty body, whatever the content type (raw bytes).
    let r = upload(&s, &format!("{base}/notes.txt"), b"hello");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.is_empty());
    let r = s.send(
        "PUT",
        &format!("{ART}/{base}/docs/sub/data.bin"),
        &[("Content-Type", "application/octet-stream")],
        Some(b"\x01\x02\x03"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(upload(&s, &format!("{base}/docs/a.txt"), b"aa").status, 200);
    // An empty file is a file too.
    assert_eq!(upload(&s, &format!("{base}/empty"), b"").status, 200);
    assert_eq!(
        records(&s, &run),
        [
            ("docs/a.txt".into(), 2),
            ("docs/sub/data.bin".into(), 3),
            ("empty".into(), 0),
            ("notes.txt".into(), 5)
        ]
    );

    // Download: the bytes, as octet-stream, with the content address as ETag.
    let r = s.get(&format!("{ART}/{base}/notes.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "hello");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("etag"),
        Some("\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        s.get(&format!("{ART}/{base}/docs/sub/data.bin")).body,
        "\x01\x02\x03"
    );
    // A percent-encoded (harmless) name is the same file.
    assert_eq!(s.get(&format!("{ART}/{base}/notes%2Etxt")).body, "hello");
    s.get(&format!("{ART}/{base}/missing.txt"))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // A directory is not a file.
    s.get(&format!("{ART}/{base}/docs"))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    // List: names under the directory, directories synthesized; a file lists as {}.
    assert_eq!(
        list(&s, &base),
        json!({"files": [
            {"path": "docs", "is_dir": true},
            {"path": "empty", "is_dir": false, "file_size": 0},
            {"path": "notes.txt", "is_dir": false, "file_size": 5}]})
    );
    assert_eq!(
        list(&s, &format!("{base}/docs")),
        json!({"files": [
            {"path": "a.txt", "is_dir": false, "file_size": 2},
            {"path": "sub", "is_dir": true}]})
    );
    assert_eq!(list(&s, &format!("{base}/notes.txt")), json!({}));
    assert_eq!(list(&s, &format!("{base}/nothing-here")), json!({}));
    // The query value may be percent-encoded.
    assert_eq!(
        list(&s, &format!("{exp}%2F{run}%2Fartifacts%2Fdocs%2Fsub"))["files"][0]["path"],
        "data.bin"
    );

    // Re-uploading a path replaces its record (a retried upload is idempotent).
    assert_eq!(
        upload(&s, &format!("{base}/notes.txt"), b"hello again").status,
        200
    );
    assert_eq!(
        upload(&s, &format!("{base}/notes.txt"), b"hello again").status,
        200
    );
    assert_eq!(
        s.get(&format!("{ART}/{base}/notes.txt")).body,
        "hello again"
    );
    assert_eq!(records(&s, &run).len(), 4);

    // The /ajax-api twin serves the same artifacts.
    assert_eq!(
        s.get(&format!(
            "/ajax-api/2.0/mlflow-artifacts/artifacts/{base}/docs/a.txt"
        ))
        .body,
        "aa"
    );

    // Delete: a file's record, then a directory's; the blobs stay (gc frees them).
    let blobs_before = blob_count(&s);
    let r = s.send("DELETE", &format!("{ART}/{base}/empty"), &[], None);
    assert_eq!((r.status, r.json()), (200, json!({})));
    let r = s.send("DELETE", &format!("{ART}/{base}/docs"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(records(&s, &run), [("notes.txt".into(), 11)]);
    assert_eq!(blob_count(&s), blobs_before);
    s.send("DELETE", &format!("{ART}/{base}/docs"), &[], None)
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}

fn blob_count(s: &TestServer) -> usize {
    hone_track::artifacts::BlobStore::new(&s.artifacts)
        .list()
        .unwrap()
        .len()
}

#[test]
fn the_run_must_exist_and_be_in_the_named_experiment() {
    let s = TestServer::start();
    let (exp, run, _) = new_run(&s, "a");
    let (other, _, _) = new_run(&s, "b");
    let ghost = "0".repeat(32);
    upload(&s, &format!("{exp}/{ghost}/artifacts/x.txt"), b"x")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    upload(&s, &format!("{other}/{run}/artifacts/x.txt"), b"x")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.get(&format!("{ART}?path={other}/{run}/artifacts"))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.get(&format!("{ART}/{exp}/{ghost}/artifacts/x.txt"))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // A logged model that cannot exist is not found; a file path is needed.
    upload(&s, &format!("{exp}/models/m-1/artifacts/MLmodel"), b"x")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    upload(&s, &format!("{exp}/{run}/artifacts"), b"x")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.get(ART).assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(records(&s, &run).is_empty());
    assert_eq!(blob_count(&s), 0, "nothing stored");

    // A deleted run refuses uploads; an ended one takes them (as MLflow).
    s.api("runs/update", json!({"run_id": run, "status": "FINISHED"}));
    assert_eq!(
        upload(&s, &format!("{exp}/{run}/artifacts/late.txt"), b"l").status,
        200
    );
    s.api("runs/delete", json!({"run_id": run}));
    let blobs = blob_count(&s);
    upload(&s, &format!("{exp}/{run}/artifacts/x.txt"), b"x")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(blob_count(&s), blobs, "nothing stored for a deleted run");
    // ... and still serves what it has.
    assert_eq!(
        s.get(&format!("{ART}/{exp}/{run}/artifacts/late.txt")).body,
        "l"
    );
}

#[test]
fn other_bodies_still_need_json_and_uploads_have_their_own_limit() {
    let s = TestServer::start();
    let (exp, _, _) = new_run(&s, "a");
    // The JSON rule still holds for a PUT elsewhere and for the tracking API.
    let r = s.send(
        "PUT",
        "/api/2.0/mlflow/runs/create",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    let r = s.send(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[("Content-Type", "text/plain")],
        Some(json!({"name": "x"}).to_string().as_bytes()),
    );
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    // Uploads may be larger than the 16 MiB JSON limit.
    let (_, run, uri) = new_run(&s, "big");
    let base = uri.trim_start_matches("mlflow-artifacts:/");
    let big = vec![7u8; hone_server::MAX_BODY_BYTES + 1];
    let r = upload(&s, &format!("{base}/big.bin"), &big);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(records(&s, &run), [("big.bin".into(), big.len() as i64)]);
    assert!(!exp.is_empty());
}

#[test]
fn a_corrupted_blob_is_a_500_that_names_nothing_and_is_never_served() {
    let s = TestServer::start();
    let (exp, run, _) = new_run(&s, "a");
    assert_eq!(
        upload(&s, &format!("{exp}/{run}/artifacts/m.txt"), b"model").status,
        200
    );
    let sha = hone_track::artifacts::sha256_hex(b"model");
    let blob = s.artifacts.join("blobs").join(&sha[..2]).join(&sha);
    std::fs::write(&blob, b"MODEL").unwrap();
    let r = s.get(&format!("{ART}/{exp}/{run}/artifacts/m.txt"));
    r.assert_error(500, "INTERNAL_ERROR");
    assert!(
        !r.body.contains("MODEL") && !r.body.contains(&sha),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(&*s.artifacts.to_string_lossy()),
        "{}",
        r.body
    );
}

#[test]
fn an_upload_over_the_artifact_limit_is_refused_before_it_is_read() {
    use std::io::{Read, Write};
    let s = TestServer::start();
    let (_, run, uri) = new_run(&s, "a");
    let base = uri.trim_start_matches("mlflow-artifacts:/");
    // Announce one byte more than the limit and send only a few: the length alone is refused.
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    write!(
        stream,
        "PUT {ART}/{base}/huge.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\nabc",
        s.addr,
        hone_server::MAX_ARTIFACT_BYTES + 1
    )
    .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(records(&s, &run).is_empty());
    assert_eq!(blob_count(&s), 0);
}

#[test]
fn concurrent_uploads_of_the_same_bytes_all_succeed() {
    let s = std::sync::Arc::new(TestServer::start());
    let (_, run, uri) = new_run(&s, "a");
    let base = uri.trim_start_matches("mlflow-artifacts:/").to_string();
    let body = vec![42u8; 4 * 1024 * 1024];
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (s, base, body) = (s.clone(), base.clone(), body.clone());
            std::thread::spawn(move || upload(&s, &format!("{base}/copy-{i}.bin"), &body).status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(records(&s, &run).len(), 8);
    assert_eq!(blob_count(&s), 1);
}

#[test]
fn names_with_spaces_and_non_ascii_characters_round_trip() {
    let s = TestServer::start();
    let (_, run, uri) = new_run(&s, "a");
    let base = uri.trim_start_matches("mlflow-artifacts:/");
    // As the client sends them: UTF-8, percent-encoded.
    let r = upload(
        &s,
        &format!("{base}/r%C3%A9sum%C3%A9%20final/a%20b.txt"),
        b"ok",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(records(&s, &run), [("résumé final/a b.txt".into(), 2)]);
    assert_eq!(
        list(&s, &format!("{base}/r%C3%A9sum%C3%A9%20final")),
        json!({"files": [{"path": "a b.txt", "is_dir": false, "file_size": 2}]})
    );
    assert_eq!(
        s.get(&format!("{ART}/{base}/r%C3%A9sum%C3%A9%20final/a%20b.txt"))
            .body,
        "ok"
    );
    // Bytes that are not UTF-8 once decoded are refused.
    upload(&s, &format!("{base}/bad%FF.txt"), b"x").assert_error(400, "INVALID_PARAMETER_VALUE");
}
