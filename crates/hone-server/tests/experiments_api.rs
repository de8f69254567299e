//! The experiment endpoints over HTTP: MLflow's paths, fields and error mapping.

mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn health_version_and_server_info_answer() {
    let s = TestServer::start();
    let h = s.get("/health");
    assert_eq!((h.status, h.body.as_str()), (200, "OK"));
    assert_eq!(s.get("/version").body, hone_server::MLFLOW_VERSION);
    let info = s.get("/api/3.0/mlflow/server-info").json();
    assert_eq!(info["multipart_uploads_enabled"], false);
    s.get("/api/2.0/mlflow/no-such-endpoint")
        .assert_error(404, "ENDPOINT_NOT_FOUND");
    // hone has no logged models: their search (the client's probe on runs:/ reads) is empty.
    let r = s.api(
        "logged-models/search",
        json!({"experiment_ids": ["1"], "filter": "name = 'docs'"}),
    );
    assert_eq!((r.status, r.json()), (200, json!({})));
}

#[test]
fn experiments_are_created_read_renamed_deleted_and_restored() {
    let s = TestServer::start();
    let created = s.api(
        "experiments/create",
        json!({"name": "alpha", "tags": [{"key": "team", "value": "quant"}]}),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    // GET takes the request from the query string; both prefixes serve the same routes.
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let e = s
            .get(&format!("{prefix}/experiments/get?experiment_id={id}"))
            .json();
        assert_eq!(e["experiment"]["name"], "alpha");
        assert_eq!(e["experiment"]["lifecycle_stage"], "active");
        assert_eq!(
            e["experiment"]["tags"],
            json!([{"key": "team", "value": "quant"}])
        );
        assert!(
            e["experiment"]["creation_time"].is_i64(),
            "int64 as a JSON number"
        );
    }
    let by_name = s
        .get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=alpha")
        .json();
    assert_eq!(by_name["experiment"]["experiment_id"], id.as_str());
    let r = s.api(
        "experiments/update",
        json!({"experiment_id": id, "new_name": "beta"}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    let r = s.api("experiments/delete", json!({"experiment_id": id}));
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    let e = s
        .get(&format!(
            "/api/2.0/mlflow/experiments/get?experiment_id={id}"
        ))
        .json();
    assert_eq!(e["experiment"]["name"], "beta");
    assert_eq!(e["experiment"]["lifecycle_stage"], "deleted");
    let active = s
        .api("experiments/search", json!({"max_results": 10}))
        .json();
    assert_eq!(active, json!({}), "empty repeated fields are omitted");
    s.api("experiments/restore", json!({"experiment_id": id}));
    let found = s
        .api("experiments/search", json!({"max_results": 10}))
        .json();
    assert_eq!(found["experiments"][0]["name"], "beta");
}

#[test]
fn experiment_errors_follow_mlflow_codes_and_statuses() {
    let s = TestServer::start();
    s.api("experiments/create", json!({"name": "dup"}));
    s.api("experiments/create", json!({"name": "dup"}))
        .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    let missing = s.api("experiments/create", json!({}));
    missing.assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(
        missing.json()["message"],
        "Missing value for required parameter 'name'."
    );
    s.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=nobody")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.get("/api/2.0/mlflow/experiments/get?experiment_id=424242")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // search needs max_results (1..=50000), as MLflow's server does.
    s.api("experiments/search", json!({}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("experiments/search", json!({"max_results": 50_001}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    // A body that is not a JSON object.
    s.post("/api/2.0/mlflow/experiments/create", &json!([1, 2]))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn experiment_search_pages_and_orders() {
    let s = TestServer::start();
    for name in ["c", "a", "b"] {
        s.api("experiments/create", json!({"name": name}));
    }
    let first = s
        .api(
            "experiments/search",
            json!({"max_results": "2", "order_by": ["name ASC"]}),
        )
        .json();
    let names: Vec<_> = first["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("a"), json!("b")]);
    let token = first["next_page_token"].as_str().unwrap();
    let second = s
        .get(&format!(
            "/api/2.0/mlflow/experiments/search?max_results=2&order_by=name%20ASC&page_token={token}"
        ))
        .json();
    assert_eq!(second["experiments"][0]["name"], "c");
    assert!(second.get("next_page_token").is_none());
}

#[test]
fn experiment_tags_are_set_and_deleted_with_mlflow_limits() {
    let s = TestServer::start();
    let id = s.new_experiment("tagged");
    let ok = s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "desk", "value": "fx"}),
    );
    assert_eq!((ok.status, ok.json()), (200, json!({})));
    let tags = |s: &TestServer| {
        s.get(&format!(
            "/api/2.0/mlflow/experiments/get?experiment_id={id}"
        ))
        .json()["experiment"]["tags"]
            .clone()
    };
    assert_eq!(tags(&s), json!([{"key": "desk", "value": "fx"}]));
    // Refused, each changing nothing: value over 20,000 characters, bad key, missing value,
    // unknown experiment, non-integer id.
    s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "big", "value": "x".repeat(20_001)}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "../up", "value": "v"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": id, "key": "k"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": "424242", "key": "k", "value": "v"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api(
        "experiments/set-experiment-tag",
        json!({"experiment_id": "x1", "key": "k", "value": "v"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    assert_eq!(tags(&s), json!([{"key": "desk", "value": "fx"}]));
    let del = s.api(
        "experiments/delete-experiment-tag",
        json!({"experiment_id": id, "key": "desk"}),
    );
    assert_eq!((del.status, del.json()), (200, json!({})));
    s.api(
        "experiments/delete-experiment-tag",
        json!({"experiment_id": id, "key": "desk"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(tags(&s), serde_json::Value::Null);
}

#[test]
fn a_client_never_chooses_an_artifact_location() {
    let s = TestServer::start();
    // MLflow's CVE history: traversal and foreign hosts through artifact_location.
    for location in [
        "/etc",
        "file:///etc/",
        "http:///?/../../../../etc/",
        "http:///#/../../etc/",
        "s3://other-bucket/x",
        "mlflow-artifacts:/../../x",
        "dbfs:/",
    ] {
        s.api(
            "experiments/create",
            json!({"name": format!("loc-{}", location.len()), "artifact_location": location}),
        )
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let found = s.api(
        "experiments/search",
        json!({"max_results": 100, "filter": ""}),
    );
    let names: Vec<String> = found.json()["experiments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(!names.iter().any(|n| n.starts_with("loc-")), "{names:?}");
    // Omitted or empty: the server's own location.
    let id = s
        .api(
            "experiments/create",
            json!({"name": "plain", "artifact_location": ""}),
        )
        .json()["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = s.get(&format!(
        "/api/2.0/mlflow/experiments/get?experiment_id={id}"
    ));
    assert_eq!(
        e.json()["experiment"]["artifact_location"],
        format!("mlflow-artifacts:/{id}")
    );
}

#[test]
fn experiments_are_searched_with_mlflow_filters() {
    let s = TestServer::start();
    for (name, team) in [
        ("quant-a", "quant"),
        ("quant-b", "macro"),
        ("Other", "quant"),
    ] {
        let r = s.api(
            "experiments/create",
            json!({"name": name, "tags": [{"key": "team", "value": team}]}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let names = |filter: &str| -> Vec<String> {
        let r = s.api(
            "experiments/search",
            json!({"max_results": 1000, "filter": filter, "order_by": ["name ASC"]}),
        );
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        r.json()["experiments"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names("name LIKE 'quant%'"), ["quant-a", "quant-b"]);
    assert_eq!(names("name ILIKE 'QUANT-_'"), ["quant-a", "quant-b"]);
    assert_eq!(names("tags.team = 'quant'"), ["Other", "quant-a"]);
    assert_eq!(
        names("attribute.name != 'Other' AND tags.`team` = \"quant\""),
        ["quant-a"]
    );
    assert_eq!(names("tags.desk IS NULL").len(), 3);
    assert!(names("creation_time > 0").len() >= 3);
    assert!(names("tags.team = 'nobody'").is_empty());
    // Bad filters: 400, never a 500.
    for bad in [
        "metrics.auc > 0.5",
        "name = 'a' OR name = 'b'",
        "nonsense ~ 1",
        "name LIKE",
        "run_id = 'x'",
    ] {
        s.api(
            "experiments/search",
            json!({"max_results": 10, "filter": bad}),
        )
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
}
