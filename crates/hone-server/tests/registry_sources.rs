//! A model version's `source` and the UI's `/model-versions/get-artifact` against MLflow's CVE
//! history (spec §8, patterns b and c): every known way of pointing a version at a local
//! file, another host, or outside a run's artifacts is refused with 400 and stores nothing,
//! and every traversal attempt on the download route is refused.

mod common;

use common::{Response, TestServer};
use serde_json::{Value, json};

fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Uploads `bytes` as `path` of run `run` (through the mlflow-artifacts proxy).
fn upload(s: &TestServer, exp: &str, run: &str, path: &str, bytes: &[u8]) {
    let r = s.send(
        "PUT",
        &format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/{path}"),
        &[("Content-Type", "application/octet-stream")],
        Some(bytes),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn every_cve_source_pattern_is_refused_and_nothing_is_stored() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("sources");
    let (other_exp, other_run) = s.new_run("elsewhere");
    ok(s.api("registered-models/create", json!({"name": "m"})));
    let sources: Vec<String> = vec![
        // CVE-2023-1177 and its bypasses: local paths and file: URIs.
        "file:///etc/passwd".into(),
        "file:///etc/".into(),
        "file://./etc/passwd".into(),
        "file:etc/passwd".into(),
        "/etc/passwd".into(),
        "etc/passwd".into(),
        "model".into(),
        // CVE-2026-116690: schemeless traversal.
        "../../../etc".into(),
        "./model".into(),
        // Windows forms (CVE-2023-2780, CVE-2023-3765).
        "C:/Windows/win.ini".into(),
        "C:\\Windows\\win.ini".into(),
        "\\\\server\\share".into(),
        format!("runs:/{run}/a\\..\\..\\etc"),
        // CVE-2023-2356, CVE-2023-6018, CVE-2023-6974: other hosts and schemes.
        "http://evil.example/model".into(),
        "https://evil.example/api/2.0/mlflow-artifacts/artifacts/x".into(),
        "s3://bucket/key".into(),
        "gs://bucket/key".into(),
        "hdfs://namenode/x".into(),
        format!("mlflow-artifacts://evil.example/{exp}/{run}/artifacts"),
        "mlflow-artifacts:/../../etc".into(),
        // CVE-2023-6909, CVE-2024-1483, CVE-2024-2928, CVE-2024-3848: query and fragment.
        "http:///?/../../../../etc/".into(),
        "http:///#/../../etc/".into(),
        format!("runs:/{run}/model?x=/../../etc"),
        format!("runs:/{run}/model#/../../etc"),
        // CVE-2024-1593: ;params.
        format!("runs:/{run}/model;/../../etc"),
        // `..` segments, plain and percent-encoded once, twice, three times
        // (CVE-2023-6831, CVE-2024-1560, CVE-2024-1558).
        format!("runs:/{run}/../../etc"),
        format!("runs:/{run}/model/../../../etc"),
        format!("runs:/{run}/%2e%2e/%2e%2e/etc"),
        format!("runs:/{run}/%2E%2E%2F%2E%2E%2Fetc"),
        format!("runs:/{run}/%252e%252e%252f%252e%252e%252fetc"),
        format!("runs:/{run}/%25252e%25252e%25252fetc"),
        format!("mlflow-artifacts:/{exp}/{run}/artifacts/../../../etc"),
        format!("mlflow-artifacts:/{exp}/{run}/artifacts/%2e%2e/%2e%2e"),
        format!("runs:/{run}/./model"),
        // CVE-2023-6977 and friends: //proc/self/root-style double slashes, NUL.
        "//proc/self/root/etc/passwd".into(),
        "runs://proc/self/root/etc/passwd".into(),
        format!("runs:/{run}//proc/self/root"),
        format!("mlflow-artifacts:/{exp}//{run}/artifacts"),
        format!("runs:/{run}/model\u{0}"),
        format!("runs:/{run}/model%00"),
        // Records that do not exist or do not agree.
        "runs:/no-such-run/model".into(),
        format!("mlflow-artifacts:/{other_exp}/{run}/artifacts/model"),
        format!("mlflow-artifacts:/{exp}/{run}/not-artifacts/model"),
        "models:/m-0123456789abcdef0123456789abcdef".into(),
        "models:/m/1".into(),
        format!("mlflow-artifacts:/{exp}/models/m-0123/artifacts"),
        String::new(),
    ];
    for source in &sources {
        let r = s.api(
            "model-versions/create",
            json!({"name": "m", "source": source}),
        );
        assert_eq!(r.status, 400, "{source:?} was accepted: {}", r.body);
        assert_eq!(
            r.json()["error_code"],
            "INVALID_PARAMETER_VALUE",
            "{source:?}"
        );
        // CVE-2026-2614: the prompt tag does not skip the checks.
        let r = s.api(
            "model-versions/create",
            json!({"name": "m", "source": source,
                   "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}),
        );
        assert_eq!(r.status, 400, "{source:?} with the prompt tag: {}", r.body);
    }
    // A source that is fine but names another run than run_id.
    s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": other_run}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": "nope"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    // Nothing was stored, and no version number was used up.
    assert_eq!(
        ok(s.get("/api/2.0/mlflow/model-versions/search")),
        json!({})
    );
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("mlflow-artifacts:/{exp}/{run}/artifacts/model")}),
    ));
    assert_eq!(v["model_version"]["version"], "1");
    assert_eq!(v["model_version"]["run_id"], run.as_str());
    // The storage location is the server's own, derived from the run.
    let d = ok(s.get("/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=1"));
    assert_eq!(
        d["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/{run}/artifacts/model")
    );
}

#[test]
fn get_artifact_serves_the_versions_files_and_refuses_traversal() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("downloads");
    upload(&s, &exp, &run, "model/model.txt", b"tree 1");
    upload(&s, &exp, &run, "secret.txt", b"not part of the model");
    ok(s.api("registered-models/create", json!({"name": "m"})));
    ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}/model")}),
    ));
    let r = s.get("/model-versions/get-artifact?name=m&version=1&path=model.txt");
    assert_eq!((r.status, r.body.as_str()), (200, "tree 1"));
    assert_eq!(r.header("content-disposition"), Some("attachment"));
    s.get("/model-versions/get-artifact?name=m&version=1&path=nope.txt")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.get("/model-versions/get-artifact?name=m&version=9&path=model.txt")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.get("/model-versions/get-artifact?name=m&version=x&path=model.txt")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    for path in [
        "../secret.txt",
        "..%2Fsecret.txt",
        "%2e%2e%2fsecret.txt",
        "%252e%252e%252fsecret.txt",
        "%25252e%25252e%25252fsecret.txt",
        "../../../../etc/passwd",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "C%3A%5CWindows",
        "..%5Csecret.txt",
        "model.txt%23x",
        "model.txt%3Bx",
        "model.txt%00",
        ".%2Fmodel.txt",
        "a%2F%2Fmodel.txt",
        "",
    ] {
        let r = s.get(&format!(
            "/model-versions/get-artifact?name=m&version=1&path={path}"
        ));
        assert_eq!(r.status, 400, "path {path:?}: {}", r.body);
        assert!(!r.body.contains("not part of the model"), "{path}");
    }
}

#[test]
fn logged_model_sources_resolve_through_the_store() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("logged");
    let (other_exp, other_run) = s.new_run("other");
    // The logged model and one of its files, as `mlflow.<flavor>.log_model` leaves them.
    let store = hone_track::open_store(&s.uri).unwrap();
    let model = store
        .create_logged_model(hone_track::NewLoggedModel {
            experiment_id: exp.clone(),
            name: Some("model".into()),
            model_type: None,
            source_run_id: Some(run.clone()),
            tags: vec![],
            params: vec![],
        })
        .unwrap();
    let orphan = store
        .create_logged_model(hone_track::NewLoggedModel {
            experiment_id: exp.clone(),
            name: Some("orphan".into()),
            model_type: None,
            source_run_id: None,
            tags: vec![],
            params: vec![],
        })
        .unwrap();
    let blobs = hone_track::artifacts::BlobStore::new(&s.artifacts);
    let (sha, size) = blobs.put(b"booster").unwrap();
    store
        .record_logged_model_artifact(
            &model.model_id,
            &hone_track::ArtifactRecord {
                path: "model.txt".into(),
                sha256: sha,
                size,
            },
        )
        .unwrap();
    let id = model.model_id.as_str();
    ok(s.api("registered-models/create", json!({"name": "m"})));

    // What register_model("models:/<id>") sends: run_id is filled from the logged model.
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("models:/{id}"), "model_id": id}),
    ));
    assert_eq!(v["model_version"]["run_id"], run.as_str());
    assert_eq!(v["model_version"]["model_id"], id);
    let d = ok(s.get("/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=1"));
    assert_eq!(
        d["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    let r = s.get("/model-versions/get-artifact?name=m&version=1&path=model.txt");
    assert_eq!((r.status, r.body.as_str()), (200, "booster"));
    // The same through the proxy form, and with the matching run_id.
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("mlflow-artifacts:/{exp}/models/{id}/artifacts"),
               "run_id": run}),
    ));
    assert_eq!(v["model_version"]["version"], "2");
    // A model without a run: no run_id.
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("models:/{}", orphan.model_id)}),
    ));
    assert_eq!(v["model_version"]["run_id"], "");
    // Disagreements are refused and store nothing.
    for body in [
        json!({"name": "m", "source": format!("models:/{id}"), "run_id": other_run}),
        json!({"name": "m", "source": format!("models:/{id}"), "model_id": orphan.model_id}),
        json!({"name": "m",
               "source": format!("mlflow-artifacts:/{other_exp}/models/{id}/artifacts")}),
        json!({"name": "m", "source": format!("runs:/{other_run}/model"), "model_id": id}),
        json!({"name": "m", "source": format!("models:/{id}/extra")}),
    ] {
        s.api("model-versions/create", body.clone())
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    // Another registered version as the source (MLflow's models:/<name>/<version>): the new
    // version shares its run, logged model and files; a missing version is refused.
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": "models:/m/1"}),
    ));
    assert_eq!(v["model_version"]["version"], "4");
    assert_eq!(v["model_version"]["run_id"], run.as_str());
    let d = ok(s.get("/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=4"));
    assert_eq!(
        d["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    for source in [
        "models:/m/99",
        "models:/nope/1",
        "models:/m/0",
        "models:/m/1x",
    ] {
        s.api(
            "model-versions/create",
            json!({"name": "m", "source": source}),
        )
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let listed = ok(s.get("/api/2.0/mlflow/model-versions/search"));
    assert_eq!(listed["model_versions"].as_array().unwrap().len(), 4);
}
