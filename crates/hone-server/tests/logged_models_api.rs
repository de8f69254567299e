//! MLflow 3 logged models over HTTP: every `logged-models` endpoint, `runs/outputs`,
//! `runs/log-inputs`, the outputs and inputs of `runs/get` and `runs/search`, the
//! `mlflow-artifacts` proxy under `<exp>/models/<model_id>/artifacts`, and that bad JSON,
//! wrong types, unknown ids and traversal attempts get MLflow's error codes and change nothing.

mod common;

use common::{Response, TestServer};
use serde_json::{Value, json};

const API: &str = "/api/2.0/mlflow";
const ART: &str = "/api/2.0/mlflow-artifacts/artifacts";

fn send_json(s: &TestServer, method: &str, path: &str, body: &Value) -> Response {
    s.send(
        method,
        &format!("{API}/{path}"),
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// Creates a logged model; returns its `info`.
fn create(s: &TestServer, body: Value) -> Value {
    let r = s.api("logged-models", body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["model"]["info"].clone()
}

fn get(s: &TestServer, id: &str) -> Response {
    s.get(&format!("{API}/logged-models/{id}"))
}

fn search(s: &TestServer, body: Value) -> Vec<String> {
    let r = s.api("logged-models/search", body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["models"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| m["info"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn upload(s: &TestServer, path: &str, bytes: &[u8]) -> Response {
    s.send(
        "PUT",
        &format!("{ART}/{path}"),
        &[("Content-Type", "application/octet-stream")],
        Some(bytes),
    )
}

/// What the store holds for the model, for "nothing changed" checks.
fn stored(s: &TestServer, id: &str) -> hone_track::LoggedModel {
    hone_track::open_store(&s.uri)
        .unwrap()
        .get_logged_model(id)
        .unwrap()
}

#[test]
fn a_logged_model_is_created_finalized_tagged_and_deleted() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("lm");
    let info = create(
        &s,
        json!({"experiment_id": exp, "name": "model", "model_type": "gbm",
               "source_run_id": run, "params": [{"key": "lr", "value": "0.1"}],
               "tags": [{"key": "team", "value": "quant"}]}),
    );
    let id = info["model_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("m-") && id.len() == 34, "{id}");
    assert_eq!(info["status"], "LOGGED_MODEL_PENDING");
    assert_eq!(info["experiment_id"], exp.as_str());
    assert_eq!(info["source_run_id"], run.as_str());
    assert_eq!(info["model_type"], "gbm");
    assert_eq!(
        info["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/models/{id}/artifacts")
    );
    assert!(info["creation_timestamp_ms"].as_i64().unwrap() > 0);
    assert_eq!(info["tags"], json!([{"key": "team", "value": "quant"}]));
    let r = get(&s, &id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["model"]["data"]["params"],
        json!([{"key": "lr", "value": "0.1"}])
    );

    // Finalize: by name or protobuf number; PENDING and unknown statuses are refused.
    for bad in [
        json!("LOGGED_MODEL_PENDING"),
        json!("DONE"),
        json!(7),
        json!([1]),
    ] {
        send_json(
            &s,
            "PATCH",
            &format!("logged-models/{id}"),
            &json!({"status": bad}),
        )
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    send_json(&s, "PATCH", &format!("logged-models/{id}"), &json!({}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    send_json(
        &s,
        "PATCH",
        &format!("logged-models/{id}"),
        &json!({"model_id": format!("m-{}", "1".repeat(32)), "status": "LOGGED_MODEL_READY"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        stored(&s, &id).status,
        hone_track::LoggedModelStatus::Pending
    );
    let r = send_json(
        &s,
        "PATCH",
        &format!("logged-models/{id}"),
        &json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["model"]["info"]["status"], "LOGGED_MODEL_READY");
    let r = send_json(
        &s,
        "PATCH",
        &format!("logged-models/{id}"),
        &json!({"status": 3}),
    );
    assert_eq!(
        r.json()["model"]["info"]["status"],
        "LOGGED_MODEL_UPLOAD_FAILED"
    );

    // Tags: set (returns the model), delete, a missing one is 404; keys with a slash work.
    let r = send_json(
        &s,
        "PATCH",
        &format!("logged-models/{id}/tags"),
        &json!({"tags": [{"key": "mlflow.modelVersions", "value": "[]"},
                          {"key": "a/b", "value": "x"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["model"]["info"]["tags"].as_array().unwrap().len(),
        3
    );
    let r = send_json(
        &s,
        "DELETE",
        &format!("logged-models/{id}/tags/a/b"),
        &json!({}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    send_json(
        &s,
        "DELETE",
        &format!("logged-models/{id}/tags/a/b"),
        &json!({}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    send_json(
        &s,
        "PATCH",
        &format!("logged-models/{id}/tags"),
        &json!({"tags": [{"key": "ok", "value": "1"}, {"key": "../bad", "value": "2"}]}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(!stored(&s, &id).tags.iter().any(|(k, _)| k == "ok"));

    // Params: immutable.
    let r = s.api(
        &format!("logged-models/{id}/params"),
        json!({"params": [{"key": "lr", "value": "0.1"}, {"key": "depth", "value": "3"}]}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    s.api(
        &format!("logged-models/{id}/params"),
        json!({"params": [{"key": "leaves", "value": "8"}, {"key": "lr", "value": "0.2"}]}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(stored(&s, &id).params.len(), 2);

    // Delete: gone from get and search; again is 404.
    let r = send_json(
        &s,
        "DELETE",
        &format!("logged-models/{id}"),
        &json!({"model_id": id}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    get(&s, &id).assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    send_json(&s, "DELETE", &format!("logged-models/{id}"), &json!({}))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert!(search(&s, json!({"experiment_ids": [exp]})).is_empty());
}

#[test]
fn bad_requests_and_unknown_ids_change_nothing() {
    let s = TestServer::start();
    let (exp, _) = s.new_run("lm");
    let ghost = format!("m-{}", "0".repeat(32));
    for bad in [
        json!({}),
        json!({"experiment_id": 5}),
        json!({"experiment_id": "x"}),
        json!({"experiment_id": exp, "name": "a/b"}),
        json!({"experiment_id": exp, "name": "a.b"}),
        json!({"experiment_id": exp, "params": "lr"}),
        json!({"experiment_id": exp, "tags": [{"value": "no key"}]}),
        json!({"experiment_id": exp, "params": [{"key": "p", "value": "1"},
                                                  {"key": "p", "value": "2"}]}),
    ] {
        s.api("logged-models", bad.clone())
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    for missing in [
        json!({"experiment_id": "999"}),
        json!({"experiment_id": exp, "source_run_id": "0".repeat(32)}),
    ] {
        s.api("logged-models", missing)
            .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    }
    // Malformed JSON.
    s.send(
        "POST",
        &format!("{API}/logged-models"),
        &[("Content-Type", "application/json")],
        Some(b"{\"experiment_id\": "),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        search(&s, json!({"experiment_ids": [exp]})).is_empty(),
        "nothing created"
    );

    // Unknown and malformed ids: 404 on every endpoint, the id printable in the message.
    for id in [ghost.as_str(), "m-1", "nope", "..%2F..%2Fetc"] {
        get(&s, id).assert_error(404, "RESOURCE_DOES_NOT_EXIST");
        send_json(
            &s,
            "PATCH",
            &format!("logged-models/{id}"),
            &json!({"status": "LOGGED_MODEL_READY"}),
        )
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
        send_json(
            &s,
            "PATCH",
            &format!("logged-models/{id}/tags"),
            &json!({"tags": []}),
        )
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
        send_json(
            &s,
            "DELETE",
            &format!("logged-models/{id}/tags/k"),
            &json!({}),
        )
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
        s.api(&format!("logged-models/{id}/params"), json!({"params": []}))
            .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
        s.get(&format!("{API}/logged-models/{id}/artifacts/directories"))
            .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    }
    // A POST needs a JSON Content-Type.
    let r = s.send(
        "POST",
        &format!("{API}/logged-models"),
        &[("Content-Type", "text/plain")],
        Some(json!({"experiment_id": exp}).to_string().as_bytes()),
    );
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(search(&s, json!({"experiment_ids": [exp]})).is_empty());
}

#[test]
fn search_filters_orders_and_pages() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("lm");
    let a = create(
        &s,
        json!({"experiment_id": exp, "name": "model", "source_run_id": run,
               "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "t", "value": "x"}]}),
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = create(&s, json!({"experiment_id": exp, "name": "other"}));
    send_json(
        &s,
        "PATCH",
        &format!("logged-models/{}", b["model_id"].as_str().unwrap()),
        &json!({"status": "LOGGED_MODEL_READY"}),
    );
    let f = |filter: &str| search(&s, json!({"experiment_ids": [exp], "filter": filter}));
    assert_eq!(f(""), ["other", "model"]);
    assert_eq!(f("name = 'model'"), ["model"]);
    assert_eq!(f(&format!("source_run_id = '{run}'")), ["model"]);
    assert_eq!(f("status = 'LOGGED_MODEL_READY'"), ["other"]);
    assert_eq!(f("tags.t = 'x' AND params.lr = '0.1'"), ["model"]);
    assert_eq!(f("params.lr IS NULL"), ["other"]);
    assert_eq!(
        f(&format!(
            "creation_timestamp > {}",
            a["creation_timestamp_ms"].as_i64().unwrap()
        )),
        ["other"]
    );
    assert_eq!(
        search(
            &s,
            json!({"experiment_ids": [exp],
                   "order_by": [{"field_name": "name", "ascending": true}]})
        ),
        ["model", "other"]
    );
    assert_eq!(
        search(
            &s,
            json!({"experiment_ids": [exp],
                   "order_by": [{"field_name": "creation_timestamp", "ascending": "true"}]})
        ),
        ["model", "other"]
    );
    // Pages.
    let r = s.api(
        "logged-models/search",
        json!({"experiment_ids": [exp], "max_results": 1}),
    );
    let first = r.json();
    assert_eq!(first["models"].as_array().unwrap().len(), 1);
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let second = s
        .api(
            "logged-models/search",
            json!({"experiment_ids": [exp], "max_results": 1, "page_token": token}),
        )
        .json();
    assert_eq!(second["models"][0]["info"]["name"], "model");
    assert!(second.get("next_page_token").is_none());
    // No experiment: an empty page, never an error (the client's runs:/ probe).
    assert_eq!(s.api("logged-models/search", json!({})).json(), json!({}));
    for bad in [
        json!({"experiment_ids": [exp], "filter": "bogus = 'x'"}),
        json!({"experiment_ids": [exp], "filter": "name = "}),
        json!({"experiment_ids": [exp], "max_results": 0}),
        json!({"experiment_ids": [exp], "max_results": 1001}),
        json!({"experiment_ids": [exp], "page_token": "%%%"}),
        json!({"experiment_ids": [exp], "order_by": [{"field_name": "nope"}]}),
        json!({"experiment_ids": [exp], "order_by": [{"ascending": true}]}),
        json!({"experiment_ids": [exp], "order_by": [{"field_name": "name", "ascending": 3}]}),
        json!({"experiment_ids": [exp], "datasets": [{"dataset_name": "d"}]}),
        json!({"experiment_ids": ["x"]}),
        json!({"experiment_ids": [exp], "filter": 5}),
    ] {
        s.api("logged-models/search", bad.clone())
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
}

#[test]
fn runs_carry_their_outputs_and_inputs() {
    let s = TestServer::start();
    let (exp, run) = s.new_run("lm");
    let id = create(
        &s,
        json!({"experiment_id": exp, "name": "model", "source_run_id": run}),
    )["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.api(
        "runs/outputs",
        json!({"run_id": run, "models": [{"model_id": id, "step": 3}]}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    // An unknown model: 404 and nothing linked.
    let ghost = format!("m-{}", "0".repeat(32));
    let (_, other) = s.new_run("lm2");
    s.api(
        "runs/outputs",
        json!({"run_id": other, "models": [{"model_id": ghost}]}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api(
        "runs/outputs",
        json!({"run_id": other, "models": [{"step": 1}]}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("runs/outputs", json!({"models": [{"model_id": id}]}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/outputs",
        json!({"run_id": "0".repeat(32), "models": [{"model_id": id}]}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    let dataset = json!({"name": "train-set", "digest": "abc123", "source_type": "local",
                         "source": "{\"uri\": \"/data/x.csv\"}", "schema": "{}",
                         "profile": "{\"num_rows\": 300}"});
    let r = s.api(
        "runs/log-inputs",
        json!({"run_id": run, "datasets": [{"dataset": dataset,
                "tags": [{"key": "mlflow.data.context", "value": "training"}]}]}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    // Limits (spec §3) and shapes; each refused request writes nothing.
    let long = |n: usize| "d".repeat(n);
    for bad in [
        json!({"run_id": other, "datasets": [{"dataset": {"name": long(501), "digest": "a",
               "source_type": "local", "source": "s"}}]}),
        json!({"run_id": other, "datasets": [{"dataset": {"name": "n", "digest": long(37),
               "source_type": "local", "source": "s"}}]}),
        json!({"run_id": other, "datasets": [{"dataset": {"name": "n", "digest": "a",
               "source_type": "local", "source": "s"},
               "tags": [{"key": "mlflow.data.context", "value": long(501)}]}]}),
        json!({"run_id": other, "datasets": [{"dataset": {"name": "n", "digest": "a",
               "source": "s"}}]}),
        json!({"run_id": other, "datasets": [{"tags": []}]}),
        json!({"run_id": other, "datasets": "x"}),
        json!({"run_id": other, "datasets": [{"dataset": dataset}], "models": [{"model_id": 1}]}),
    ] {
        s.api("runs/log-inputs", bad.clone())
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let many: Vec<Value> = (0..1001).map(|_| json!({"dataset": dataset})).collect();
    s.api(
        "runs/log-inputs",
        json!({"run_id": other, "datasets": many}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/log-inputs",
        json!({"run_id": other, "datasets": [{"dataset": dataset}], "models": [{"model_id": ghost}]}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    let got = s.get(&format!("{API}/runs/get?run_id={run}")).json()["run"].clone();
    assert_eq!(
        got["outputs"],
        json!({"model_outputs": [{"model_id": id, "step": 3}]})
    );
    let input = &got["inputs"]["dataset_inputs"][0];
    assert_eq!(
        input["tags"],
        json!([{"key": "mlflow.data.context", "value": "training"}])
    );
    assert_eq!(input["dataset"], dataset);
    let none = s.get(&format!("{API}/runs/get?run_id={other}")).json()["run"].clone();
    assert_eq!(
        (&none["outputs"], &none["inputs"]),
        (&json!({}), &json!({}))
    );
    let found = s
        .api(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": "datasets.name = 'train-set'"}),
        )
        .json();
    assert_eq!(
        found["runs"][0]["outputs"]["model_outputs"][0]["model_id"],
        id.as_str()
    );
    assert_eq!(
        found["runs"][0]["inputs"]["dataset_inputs"][0]["dataset"]["name"],
        "train-set"
    );

    // Metrics naming a logged model are recorded on it too; an unknown one writes nothing.
    let r = s.api(
        "runs/log-batch",
        json!({"run_id": run, "metrics": [{"key": "rmse", "value": 0.5, "timestamp": 7,
               "step": 1, "model_id": id, "dataset_name": "train-set",
               "dataset_digest": "abc123"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = get(&s, &id).json()["model"]["data"]["metrics"][0].clone();
    assert_eq!(
        m,
        json!({"key": "rmse", "value": 0.5, "timestamp": 7, "step": 1, "model_id": id,
               "run_id": run, "dataset_name": "train-set", "dataset_digest": "abc123"})
    );
    s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "late", "value": 1, "timestamp": 8, "model_id": ghost}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    let run_now = s.get(&format!("{API}/runs/get?run_id={run}")).json();
    assert!(
        !run_now.to_string().contains("\"late\""),
        "the refused metric was not logged on the run"
    );
}

#[test]
fn model_artifacts_go_through_the_proxy_with_the_same_checks() {
    let s = TestServer::start();
    let (exp, _) = s.new_run("lm");
    let (other_exp, _) = s.new_run("lm2");
    let id = create(&s, json!({"experiment_id": exp, "name": "model"}))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("{exp}/models/{id}/artifacts");
    for (path, bytes) in [
        ("MLmodel", b"flavors: {}".as_slice()),
        ("model.lgb", b"tree\n"),
        ("data/sub/x.bin", b"\x00\x01"),
    ] {
        let r = upload(&s, &format!("{base}/{path}"), bytes);
        assert_eq!((r.status, r.body.as_str()), (200, ""), "{path}");
    }
    let r = s.get(&format!("{ART}/{base}/model.lgb"));
    assert_eq!((r.status, r.body.as_str()), (200, "tree\n"));
    let listing = s.get(&format!("{ART}?path={base}")).json();
    assert_eq!(
        listing,
        json!({"files": [{"path": "MLmodel", "is_dir": false, "file_size": 11},
                         {"path": "data", "is_dir": true},
                         {"path": "model.lgb", "is_dir": false, "file_size": 5}]})
    );
    assert_eq!(
        s.get(&format!("{ART}?path={base}/MLmodel")).json(),
        json!({})
    );
    // The logged-models endpoint lists paths relative to the model's root.
    let r = s.get(&format!(
        "{API}/logged-models/{id}/artifacts/directories?artifact_directory_path=data"
    ));
    assert_eq!(
        r.json(),
        json!({"root_uri": format!("mlflow-artifacts:/{base}"),
               "files": [{"path": "data/sub", "is_dir": true}]})
    );
    let root = s
        .get(&format!("{API}/logged-models/{id}/artifacts/directories"))
        .json();
    assert_eq!(root["files"].as_array().unwrap().len(), 3);
    s.get(&format!(
        "{API}/logged-models/{id}/artifacts/directories?artifact_directory_path=..%2Fx"
    ))
    .assert_error(400, "INVALID_PARAMETER_VALUE");

    // Traversal and malformed paths: 400, nothing stored.
    let records = || {
        hone_track::open_store(&s.uri)
            .unwrap()
            .list_logged_model_artifacts(&id)
            .unwrap()
            .len()
    };
    for bad in [
        format!("{base}/../x"),
        format!("{base}/%2e%2e/x"),
        format!("{base}/%252e%252e/%252e%252e/etc/passwd"),
        format!("{base}/a%5Cb"),
        format!("{base}/C:/x"),
        format!("{base}/a%00b"),
        format!("{base}/a%23b"),
        format!("{base}/a%3Bb"),
        format!("{base}//x"),
        format!("{exp}/models/{id}/other/x"),
        format!("{exp}/models/{id}/%2e%2e/%2e%2e/x"),
    ] {
        let r = upload(&s, &bad, b"evil");
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(s.get(&format!("{ART}/{bad}")).status, 400, "{bad}");
        assert_eq!(
            s.send("DELETE", &format!("{ART}/{bad}"), &[], None).status,
            400,
            "{bad}"
        );
    }
    assert_eq!(records(), 3);
    // The model must exist and be in the named experiment.
    upload(&s, &format!("{other_exp}/models/{id}/artifacts/x"), b"x")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    upload(
        &s,
        &format!("{exp}/models/m-{}/artifacts/x", "0".repeat(32)),
        b"x",
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(records(), 3);

    // A corrupted blob is a 500 naming nothing, never served.
    let sha = hone_track::artifacts::sha256_hex(b"tree\n");
    let blob = s.artifacts.join("blobs").join(&sha[..2]).join(&sha);
    std::fs::write(&blob, b"TREE\n").unwrap();
    let r = s.get(&format!("{ART}/{base}/model.lgb"));
    r.assert_error(500, "INTERNAL_ERROR");
    assert!(
        !r.body.contains("TREE") && !r.body.contains(&sha),
        "{}",
        r.body
    );

    // Delete a folder's records; a deleted model's files are not found.
    let r = s.send("DELETE", &format!("{ART}/{base}/data"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(records(), 2);
    send_json(&s, "DELETE", &format!("logged-models/{id}"), &json!({}));
    s.get(&format!("{ART}/{base}/MLmodel"))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    upload(&s, &format!("{base}/late"), b"x").assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}
