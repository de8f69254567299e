//! The run endpoints over HTTP: logging, search, history, lifecycle, MLflow's encodings
//! (int64 as numbers or numeric strings, NaN/Infinity as strings), errors, replays and run
//! ownership by lease.

mod common;

use common::TestServer;
use serde_json::{Value, json};

/// A new experiment and a run in it (as the MLflow client creates them).
fn new_run(s: &TestServer, experiment: &str) -> (String, String) {
    let exp = s.new_experiment(experiment);
    let created = s.api(
        "runs/create",
        json!({"experiment_id": exp, "user_id": "ana", "run_name": "first",
               "start_time": 1_795_742_444_413_i64,
               "tags": [{"key": "mlflow.runName", "value": "first"},
                        {"key": "team", "value": "quant"}]}),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let run = created.json()["run"].clone();
    assert_eq!(run["info"]["status"], "RUNNING");
    assert_eq!(run["info"]["run_name"], "first");
    assert_eq!(run["info"]["user_id"], "ana");
    assert_eq!(run["info"]["run_uuid"], run["info"]["run_id"]);
    assert!(
        run["info"]["artifact_uri"]
            .as_str()
            .unwrap()
            .starts_with("mlflow-artifacts:/")
    );
    (exp, run["info"]["run_id"].as_str().unwrap().to_string())
}

fn get_run(s: &TestServer, run: &str) -> Value {
    let r = s.get(&format!(
        "/api/2.0/mlflow/runs/get?run_uuid={run}&run_id={run}"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["run"].clone()
}

#[test]
fn a_run_is_logged_read_searched_and_ended() {
    let s = TestServer::start();
    let (exp, run) = new_run(&s, "logging");
    // The client sends run_uuid and run_id; int64 as a number or a numeric string.
    let ok = |r: common::Response| assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    ok(s.api(
        "runs/log-metric",
        json!({"run_uuid": run, "run_id": run, "key": "loss", "value": 0.5,
               "timestamp": 1000, "step": 1}),
    ));
    ok(s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "loss", "value": "0.25", "timestamp": "2000", "step": "2"}),
    ));
    ok(s.api(
        "runs/log-parameter",
        json!({"run_id": run, "key": "lr", "value": "0.01"}),
    ));
    ok(s.api(
        "runs/set-tag",
        json!({"run_id": run, "key": "stage", "value": "cv"}),
    ));
    ok(s.api(
        "runs/log-batch",
        json!({"run_id": run,
               "metrics": [{"key": "auc", "value": 0.75, "timestamp": 3000, "step": 0},
                           {"key": "odd", "value": "NaN", "timestamp": 3000},
                           {"key": "big", "value": "Infinity", "timestamp": 3000},
                           {"key": "small", "value": "-Infinity", "timestamp": 3000}],
               "params": [{"key": "depth", "value": "6"}],
               "tags": [{"key": "note", "value": "batch"}]}),
    ));
    let got = get_run(&s, &run);
    let metric = |key: &str| {
        got["data"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        metric("loss"),
        json!({"key": "loss", "value": 0.25, "timestamp": 2000, "step": 2})
    );
    assert_eq!(metric("odd")["value"], "NaN");
    assert_eq!(metric("big")["value"], "Infinity");
    assert_eq!(metric("small")["value"], "-Infinity");
    assert_eq!(
        got["data"]["params"],
        json!([{"key": "depth", "value": "6"}, {"key": "lr", "value": "0.01"}])
    );
    let tags = got["data"]["tags"].as_array().unwrap();
    for (k, v) in [
        ("team", "quant"),
        ("stage", "cv"),
        ("note", "batch"),
        ("mlflow.runName", "first"),
    ] {
        assert!(
            tags.contains(&json!({"key": k, "value": v})),
            "{k} in {tags:?}"
        );
    }
    ok(s.api("runs/delete-tag", json!({"run_id": run, "key": "note"})));
    s.api("runs/delete-tag", json!({"run_id": run, "key": "note"}))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    // History, paged.
    let h = s
        .get(&format!(
            "/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=loss&max_results=1"
        ))
        .json();
    assert_eq!(
        h["metrics"],
        json!([{"key": "loss", "value": 0.5, "timestamp": 1000, "step": 1}])
    );
    let token = h["next_page_token"].as_str().unwrap();
    let h2 = s
        .get(&format!(
            "/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=loss&max_results=1&page_token={token}"
        ))
        .json();
    assert_eq!(h2["metrics"][0]["step"], 2);
    assert!(h2.get("next_page_token").is_none());
    // As in MLflow, an unknown run or key is an empty history, not an error.
    let none = s.get("/api/2.0/mlflow/metrics/get-history?run_id=feedbeef&metric_key=loss");
    assert_eq!((none.status, none.json()), (200, json!({})));

    // Search with MLflow's grammar and order_by.
    let (_, other) = (exp.clone(), {
        let r = s.api(
            "runs/create",
            json!({"experiment_id": exp, "run_name": "second"}),
        );
        r.json()["run"]["info"]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    });
    s.api(
        "runs/log-batch",
        json!({"run_id": other, "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1}],
               "params": [{"key": "depth", "value": "6"}]}),
    );
    let found = s
        .api(
            "runs/search",
            json!({"experiment_ids": [exp], "filter": "metrics.auc > 0.5 and params.depth = '6'",
                   "order_by": ["metrics.auc DESC"], "max_results": 10}),
        )
        .json();
    let ids: Vec<&str> = found["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["info"]["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![other.as_str(), run.as_str()]);
    let page = s
        .api(
            "runs/search",
            json!({"experiment_ids": [exp], "max_results": 1}),
        )
        .json();
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);
    assert!(page["next_page_token"].is_string());
    s.api(
        "runs/search",
        json!({"experiment_ids": [exp], "filter": "metrics.auc >"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        s.api("runs/search", json!({"experiment_ids": []})).json(),
        json!({})
    );

    // End, delete, restore.
    let ended = s.api(
        "runs/update",
        json!({"run_uuid": run, "run_id": run, "status": "FINISHED", "end_time": 5000}),
    );
    assert_eq!(
        ended.json()["run_info"]["status"],
        "FINISHED",
        "{}",
        ended.body
    );
    assert!(ended.json()["run_info"]["end_time"].is_i64());
    ok(s.api("runs/delete", json!({"run_id": run})));
    assert_eq!(get_run(&s, &run)["info"]["lifecycle_stage"], "deleted");
    s.api(
        "runs/set-tag",
        json!({"run_id": run, "key": "k", "value": "v"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    ok(s.api("runs/restore", json!({"run_id": run})));
    assert_eq!(get_run(&s, &run)["info"]["lifecycle_stage"], "active");
}

#[test]
fn run_errors_follow_mlflow_codes_and_statuses() {
    let s = TestServer::start();
    let (_, run) = new_run(&s, "errors");
    s.get("/api/2.0/mlflow/runs/get?run_id=0123456789abcdef0123456789abcdef")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api("runs/create", json!({"experiment_id": "999"}))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "x", "value": 1}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE"); // no timestamp
    s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "x", "value": "lots", "timestamp": 1}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "x", "value": 1, "timestamp": 1.5}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/log-metric",
        json!({"key": "x", "value": 1, "timestamp": 1}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE"); // no run
    s.api(
        "runs/log-metric",
        json!({"run_id": run, "key": "../x", "value": 1, "timestamp": 1}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/log-parameter",
        json!({"run_id": run, "key": "p", "value": "1"}),
    );
    s.api(
        "runs/log-parameter",
        json!({"run_id": run, "key": "p", "value": "2"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"key": format!("p{i}"), "value": "v"}))
        .collect();
    s.api("runs/log-batch", json!({"run_id": run, "params": many}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/log-batch",
        json!({"run_id": run, "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "1"}]}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("runs/update", json!({"run_id": run, "status": "DONE"}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "runs/search",
        json!({"experiment_ids": ["1"], "max_results": 50_001}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn replayed_writes_are_harmless() {
    // The MLflow client retries POSTs (on 5xx and 429); a replay must succeed and change
    // nothing: params with the same value, tags, run ends.
    let s = TestServer::start();
    let (_, run) = new_run(&s, "replays");
    let batch = json!({"run_id": run, "params": [{"key": "lr", "value": "0.1"}],
                       "tags": [{"key": "t", "value": "1"}],
                       "metrics": [{"key": "loss", "value": 0.5, "timestamp": 7, "step": 1},
                                   {"key": "loss", "value": "NaN", "timestamp": 8, "step": 2}]});
    for _ in 0..2 {
        // A metric point sent again (same key, value, timestamp, step) is stored once.
        let r = s.api(
            "runs/log-metric",
            json!({"run_id": run, "key": "acc", "value": 0.9, "timestamp": 5, "step": 0}),
        );
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = s.api("runs/log-batch", batch.clone());
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = s.api(
            "runs/log-parameter",
            json!({"run_id": run, "key": "lr", "value": "0.1"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s.api("runs/update", json!({"run_id": run, "status": "FINISHED"}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let got = get_run(&s, &run);
    assert_eq!(
        got["data"]["params"],
        json!([{"key": "lr", "value": "0.1"}])
    );
    assert_eq!(got["info"]["status"], "FINISHED");
    let history = |key: &str| {
        s.get(&format!(
            "/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key={key}"
        ))
        .json()["metrics"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!((history("loss"), history("acc")), (2, 1));
}

#[test]
fn runs_are_renamed_by_update_and_by_their_run_name_tag() {
    let s = TestServer::start();
    let (_, run) = new_run(&s, "renames");
    let r = s.api("runs/update", json!({"run_id": run, "run_name": "second"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["run_info"]["run_name"], "second");
    let got = get_run(&s, &run);
    assert_eq!(got["info"]["run_name"], "second");
    assert!(
        got["data"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "mlflow.runName", "value": "second"}))
    );
    // MLflow's rule: setting the tag renames the run too.
    let r = s.api(
        "runs/set-tag",
        json!({"run_id": run, "key": "mlflow.runName", "value": "third"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get_run(&s, &run)["info"]["run_name"], "third");
    s.api(
        "runs/update",
        json!({"run_id": "0123456789abcdef0123456789abcdef", "run_name": "x"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}

#[test]
fn api_runs_are_owned_by_their_own_lease_and_writes_renew_it() {
    // A short run timeout: the server's reaper kills a run whose client stopped writing,
    // and leaves alone one whose client keeps writing.
    let timeout = std::time::Duration::from_millis(1500);
    let s = TestServer::start_with_run_timeout(timeout);
    let (_, alive) = new_run(&s, "leases");
    let r = s.api(
        "runs/create",
        json!({"experiment_id": get_run(&s, &alive)["info"]["experiment_id"]}),
    );
    let silent = r.json()["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let store = hone_track::open_store(&s.uri).unwrap();
    // The lease named after the run owns exactly that run (not the server process).
    assert_eq!(
        store
            .heartbeat(&hone_track::Lease {
                ttl_ms: 1500,
                ..hone_server::run_lease(&alive)
            })
            .unwrap(),
        1
    );
    let start = std::time::Instant::now();
    let mut step = 0;
    while start.elapsed() < timeout * 3 {
        let r = s.api(
            "runs/log-metric",
            json!({"run_id": alive, "key": "x", "value": 1.0, "timestamp": step, "step": step}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        step += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(get_run(&s, &alive)["info"]["status"], "RUNNING");
    assert_eq!(get_run(&s, &silent)["info"]["status"], "KILLED");
    // A reaped run's client learns it on its next write.
    let r = s.api(
        "runs/update",
        json!({"run_id": alive, "status": "FINISHED"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get_run(&s, &alive)["info"]["status"], "FINISHED");
}

#[test]
fn a_restarted_server_does_not_reap_its_clients_runs() {
    let s = TestServer::start();
    let (_, run) = new_run(&s, "restart");
    // A second server over the same store (a restart), with its reaper running: the run's
    // lease is in the store and has not expired, so the run stays RUNNING.
    let store = hone_track::open_store(&s.uri).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let blobs = hone_track::artifacts::BlobStore::new(&s.artifacts);
        let state = hone_server::AppState::new(store, blobs);
        let reaper = state.spawn_reaper();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        reaper.abort();
    });
    assert_eq!(get_run(&s, &run)["info"]["status"], "RUNNING");
}

#[test]
fn mlflow_default_experiment_zero_is_the_default_experiment() {
    // The MLflow client creates runs in experiment "0" when none was set; hone's store
    // numbers experiments from 1, so "0" means the experiment named Default.
    let s = TestServer::start();
    let mut experiments = Vec::new();
    for _ in 0..2 {
        let r = s.api("runs/create", json!({"experiment_id": "0"}));
        assert_eq!(r.status, 200, "{}", r.body);
        experiments.push(r.json()["run"]["info"]["experiment_id"].clone());
    }
    assert_eq!(experiments[0], experiments[1]);
    let e = s
        .get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default")
        .json();
    assert_eq!(e["experiment"]["experiment_id"], experiments[0]);
    // Any other unknown experiment is still an error.
    s.api("runs/create", json!({"experiment_id": "00"}))
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
}
