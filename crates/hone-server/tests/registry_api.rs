//! The model-registry endpoints over HTTP: MLflow's paths, methods (DELETE with a JSON body,
//! PATCH), field names, versions as strings, error codes, and hone's rules behind them.

mod common;

use common::{Response, TestServer};
use serde_json::{Value, json};

/// A request with a JSON body and any method (DELETE and PATCH carry bodies in MLflow's API).
fn call(s: &TestServer, method: &str, endpoint: &str, body: Value) -> Response {
    s.send(
        method,
        &format!("/api/2.0/mlflow/{endpoint}"),
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

fn ok(r: Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn get(s: &TestServer, path_and_query: &str) -> Response {
    s.get(&format!("/api/2.0/mlflow/{path_and_query}"))
}

/// A model `name` with `n` versions registered from a new run (`runs:/<run>/model`).
fn model_with_versions(s: &TestServer, name: &str, n: usize) -> String {
    let (_, run) = s.new_run(&format!("exp-{name}"));
    ok(s.api("registered-models/create", json!({"name": name})));
    for _ in 0..n {
        ok(s.api(
            "model-versions/create",
            json!({"name": name, "source": format!("runs:/{run}/model"), "run_id": run}),
        ));
    }
    run
}

#[test]
fn registered_models_are_created_read_updated_renamed_and_deleted() {
    let s = TestServer::start();
    let m = ok(s.api(
        "registered-models/create",
        json!({"name": "btc", "description": "hourly",
               "tags": [{"key": "desk", "value": "crypto"}], "unknown_field": 1}),
    ));
    let rm = &m["registered_model"];
    assert_eq!(rm["name"], "btc");
    assert_eq!(rm["description"], "hourly");
    assert_eq!(rm["tags"], json!([{"key": "desk", "value": "crypto"}]));
    assert!(rm["creation_timestamp"].is_i64(), "int64 as a number");
    assert!(
        rm.get("latest_versions").is_none(),
        "empty lists are omitted"
    );
    // A duplicate is 400 RESOURCE_ALREADY_EXISTS (the client's register_model relies on it).
    s.api("registered-models/create", json!({"name": "btc"}))
        .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    s.api("registered-models/create", json!({"name": "a/b"}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("registered-models/create", json!({}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("registered-models/create", json!({"name": 5}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.post(
        "/api/2.0/mlflow/registered-models/create",
        &json!("{not json"),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let g = s
            .get(&format!("{prefix}/registered-models/get?name=btc"))
            .json();
        assert_eq!(g["registered_model"]["name"], "btc");
    }
    get(&s, "registered-models/get?name=nope").assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    let u = ok(call(
        &s,
        "PATCH",
        "registered-models/update",
        json!({"name": "btc", "description": "daily"}),
    ));
    assert_eq!(u["registered_model"]["description"], "daily");
    call(
        &s,
        "PATCH",
        "registered-models/update",
        json!({"name": "nope", "description": "x"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    ok(s.api(
        "registered-models/set-tag",
        json!({"name": "btc", "key": "owner", "value": "ana"}),
    ));
    s.api(
        "registered-models/set-tag",
        json!({"name": "btc", "key": "k".repeat(251), "value": "x"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    ok(call(
        &s,
        "DELETE",
        "registered-models/delete-tag",
        json!({"name": "btc", "key": "desk"}),
    ));
    let g = get(&s, "registered-models/get?name=btc").json();
    assert_eq!(
        g["registered_model"]["tags"],
        json!([{"key": "owner", "value": "ana"}])
    );

    ok(s.api("registered-models/create", json!({"name": "taken"})));
    s.api(
        "registered-models/rename",
        json!({"name": "btc", "new_name": "taken"}),
    )
    .assert_error(400, "RESOURCE_ALREADY_EXISTS");
    s.api(
        "registered-models/rename",
        json!({"name": "nope", "new_name": "x"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    let r = ok(s.api(
        "registered-models/rename",
        json!({"name": "btc", "new_name": "btc-v2"}),
    ));
    assert_eq!(r["registered_model"]["name"], "btc-v2");
    get(&s, "registered-models/get?name=btc").assert_error(404, "RESOURCE_DOES_NOT_EXIST");

    assert_eq!(
        ok(call(
            &s,
            "DELETE",
            "registered-models/delete",
            json!({"name": "btc-v2"})
        )),
        json!({})
    );
    call(
        &s,
        "DELETE",
        "registered-models/delete",
        json!({"name": "btc-v2"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // A POST to a DELETE route is not the endpoint.
    assert_ne!(
        s.api("registered-models/delete", json!({"name": "taken"}))
            .status,
        200
    );
    ok(get(&s, "registered-models/get?name=taken"));
}

#[test]
fn versions_are_created_read_tagged_described_and_deleted() {
    let s = TestServer::start();
    let run = model_with_versions(&s, "m", 0);
    let v = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": run,
               "run_link": "http://ci/1", "description": "first",
               "tags": [{"key": "fold", "value": "all"}]}),
    ));
    let mv = &v["model_version"];
    assert_eq!(mv["version"], "1", "versions are strings on the wire");
    assert_eq!(mv["status"], "READY");
    assert_eq!(mv["current_stage"], "None");
    assert_eq!(mv["source"], format!("runs:/{run}/model"));
    assert_eq!(mv["run_id"], run.as_str());
    assert_eq!(mv["run_link"], "http://ci/1");
    assert_eq!(mv["description"], "first");
    assert_eq!(mv["tags"], json!([{"key": "fold", "value": "all"}]));
    assert_eq!(mv["user_id"], "anonymous", "the Caller registers it");
    // runs:/ fills run_id when it is not given.
    let v2 = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}/model")}),
    ));
    assert_eq!(v2["model_version"]["version"], "2");
    assert_eq!(v2["model_version"]["run_id"], run.as_str());
    s.api(
        "model-versions/create",
        json!({"name": "nope", "source": format!("runs:/{run}/model")}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api("model-versions/create", json!({"name": "m"}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");

    let g = get(&s, "model-versions/get?name=m&version=1").json();
    assert_eq!(g["model_version"]["version"], "1");
    get(&s, "model-versions/get?name=m&version=9").assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    for bad in ["abc", "1.5", "0", "-2", ""] {
        get(&s, &format!("model-versions/get?name=m&version={bad}"))
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let exp = s
        .get(&format!("/api/2.0/mlflow/runs/get?run_id={run}"))
        .json()["run"]["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = get(&s, "model-versions/get-download-uri?name=m&version=1").json();
    assert_eq!(
        d["artifact_uri"],
        format!("mlflow-artifacts:/{exp}/{run}/artifacts/model")
    );

    let u = ok(call(
        &s,
        "PATCH",
        "model-versions/update",
        json!({"name": "m", "version": "1", "description": "better"}),
    ));
    assert_eq!(u["model_version"]["description"], "better");
    ok(s.api(
        "model-versions/set-tag",
        json!({"name": "m", "version": "2", "key": "validation_status", "value": "approved"}),
    ));
    s.api(
        "model-versions/set-tag",
        json!({"name": "m", "version": "7", "key": "a", "value": "b"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    let g = get(&s, "model-versions/get?name=m&version=2").json();
    assert_eq!(
        g["model_version"]["tags"],
        json!([{"key": "validation_status", "value": "approved"}])
    );
    ok(call(
        &s,
        "DELETE",
        "model-versions/delete-tag",
        json!({"name": "m", "version": "2", "key": "validation_status"}),
    ));

    ok(call(
        &s,
        "DELETE",
        "model-versions/delete",
        json!({"name": "m", "version": "2"}),
    ));
    call(
        &s,
        "DELETE",
        "model-versions/delete",
        json!({"name": "m", "version": "2"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // Numbers are never reused.
    let v3 = ok(s.api(
        "model-versions/create",
        json!({"name": "m", "source": format!("runs:/{run}")}),
    ));
    assert_eq!(v3["model_version"]["version"], "3");
}

#[test]
fn aliases_are_set_read_moved_and_deleted_and_production_follows_the_stage() {
    let s = TestServer::start();
    model_with_versions(&s, "m", 2);
    ok(s.api(
        "registered-models/alias",
        json!({"name": "m", "alias": "champion", "version": "1"}),
    ));
    let a = get(&s, "registered-models/alias?name=m&alias=champion").json();
    assert_eq!(a["model_version"]["version"], "1");
    assert_eq!(a["model_version"]["aliases"], json!(["champion"]));
    let g = get(&s, "registered-models/get?name=m").json();
    assert_eq!(
        g["registered_model"]["aliases"],
        json!([{"alias": "champion", "version": "1"}])
    );
    // Moving it.
    ok(s.api(
        "registered-models/alias",
        json!({"name": "m", "alias": "champion", "version": 2}),
    ));
    let a = get(&s, "registered-models/alias?name=m&alias=champion").json();
    assert_eq!(a["model_version"]["version"], "2");
    // A version an alias points at is kept: 400 naming the alias.
    let r = call(
        &s,
        "DELETE",
        "model-versions/delete",
        json!({"name": "m", "version": "2"}),
    );
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(r.json()["message"].as_str().unwrap().contains("champion"));
    // Unknown alias on GET is 400 (MLflow's answer), unknown model 404.
    get(&s, "registered-models/alias?name=m&alias=nope")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    get(&s, "registered-models/alias?name=x&alias=champion")
        .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api(
        "registered-models/alias",
        json!({"name": "m", "alias": "champion", "version": "9"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    for bad in ["latest", "v3", "a b", &"a".repeat(256)] {
        s.api(
            "registered-models/alias",
            json!({"name": "m", "alias": bad, "version": "1"}),
        )
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    // The production alias follows the stage: never set or deleted directly.
    for method in ["POST", "DELETE"] {
        let r = call(
            &s,
            method,
            "registered-models/alias",
            json!({"name": "m", "alias": "Production", "version": "1"}),
        );
        r.assert_error(400, "INVALID_PARAMETER_VALUE");
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("follows the Production stage")
        );
    }
    ok(call(
        &s,
        "DELETE",
        "registered-models/alias",
        json!({"name": "m", "alias": "champion"}),
    ));
    // Deleting it again is harmless; on an unknown model it is 404.
    ok(call(
        &s,
        "DELETE",
        "registered-models/alias",
        json!({"name": "m", "alias": "champion"}),
    ));
    call(
        &s,
        "DELETE",
        "registered-models/alias",
        json!({"name": "x", "alias": "champion"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    ok(call(
        &s,
        "DELETE",
        "model-versions/delete",
        json!({"name": "m", "version": "2"}),
    ));
    // Every change is audited under the request's Caller (anonymous without authentication),
    // not the server process's user.
    let store = hone_track::open_store(&s.uri).unwrap();
    let log = store.audit_log("m").unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "create_model",
        "create_version",
        "set_alias",
        "delete_alias",
        "delete_version",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(log.iter().all(|e| e.user_id == "anonymous"), "{log:?}");
    assert_eq!(
        get(&s, "registered-models/get?name=m").json()["registered_model"]["user_id"],
        "anonymous"
    );
}

#[test]
fn transitions_walk_hones_matrix_and_latest_versions_follow() {
    let s = TestServer::start();
    model_with_versions(&s, "m", 3);
    let t = |version: &str, stage: &str, archive: bool| {
        s.api(
            "model-versions/transition-stage",
            json!({"name": "m", "version": version, "stage": stage,
                   "archive_existing_versions": archive}),
        )
    };
    // None -> Production in one call (through Staging).
    let v = ok(t("1", "production", false));
    assert_eq!(v["model_version"]["current_stage"], "Production");
    assert_eq!(v["model_version"]["aliases"], json!(["production"]));
    // The displaced production version is Deprecated (hone's), or Archived with
    // archive_existing_versions.
    ok(t("2", "Production", false));
    let g = get(&s, "model-versions/get?name=m&version=1").json();
    assert_eq!(g["model_version"]["current_stage"], "Deprecated");
    ok(t("3", "Production", true));
    let g = get(&s, "model-versions/get?name=m&version=2").json();
    assert_eq!(g["model_version"]["current_stage"], "Archived");
    let a = get(&s, "registered-models/alias?name=m&alias=production").json();
    assert_eq!(a["model_version"]["version"], "3");
    // archive_existing_versions only for Staging/Production; stages are MLflow's four.
    t("1", "Archived", true).assert_error(400, "INVALID_PARAMETER_VALUE");
    t("1", "None", true).assert_error(400, "INVALID_PARAMETER_VALUE");
    let r = t("1", "Deprecated", false);
    r.assert_error(400, "INVALID_PARAMETER_VALUE");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("None, Staging, Production, Archived")
    );
    t("9", "Staging", false).assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    s.api(
        "model-versions/transition-stage",
        json!({"name": "m", "version": "1", "stage": "Staging"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "model-versions/transition-stage",
        json!({"name": "m", "version": "1", "stage": "Staging",
               "archive_existing_versions": "maybe"}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");

    // latest_versions: the highest version per stage, on the model and by request.
    let g = get(&s, "registered-models/get?name=m").json();
    let latest: Vec<(String, String)> = g["registered_model"]["latest_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["current_stage"].as_str().unwrap().to_string(),
                v["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        latest,
        [
            ("Production".to_string(), "3".to_string()),
            ("Deprecated".to_string(), "1".to_string()),
            ("Archived".to_string(), "2".to_string()),
        ]
    );
    let l = ok(s.api(
        "registered-models/get-latest-versions",
        json!({"name": "m", "stages": ["production", "None"]}),
    ));
    assert_eq!(l["model_versions"].as_array().unwrap().len(), 1);
    assert_eq!(l["model_versions"][0]["version"], "3");
    s.api(
        "registered-models/get-latest-versions",
        json!({"name": "m", "stages": ["Nope"]}),
    )
    .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api(
        "registered-models/get-latest-versions",
        json!({"name": "x"}),
    )
    .assert_error(404, "RESOURCE_DOES_NOT_EXIST");
    // Production -> None: the alias leaves with the stage.
    let v = ok(t("3", "None", false));
    assert_eq!(v["model_version"]["current_stage"], "None");
    get(&s, "registered-models/alias?name=m&alias=production")
        .assert_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn searches_take_mlflows_grammar_order_and_pages() {
    let s = TestServer::start();
    let run = model_with_versions(&s, "alpha", 2);
    model_with_versions(&s, "beta", 1);
    model_with_versions(&s, "Gamma", 0);
    ok(s.api(
        "registered-models/set-tag",
        json!({"name": "beta", "key": "mlflow.prompt.is_prompt", "value": "true"}),
    ));
    ok(s.api(
        "model-versions/set-tag",
        json!({"name": "alpha", "version": "2", "key": "team", "value": "Quant"}),
    ));
    let names = |r: Value, field: &str| -> Vec<String> {
        r[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| m["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let q = |filter: &str| {
        let f: String = form_encode(filter);
        get(&s, &format!("registered-models/search?filter={f}"))
    };
    // The filter the client always appends.
    assert_eq!(
        names(
            ok(q("tag.`mlflow.prompt.is_prompt` != 'true'")),
            "registered_models"
        ),
        ["Gamma", "alpha"]
    );
    assert_eq!(
        names(ok(q("name ILIKE 'a%'")), "registered_models"),
        ["alpha"]
    );
    assert_eq!(
        names(ok(q("name LIKE 'g%'")), "registered_models"),
        Vec::<String>::new()
    );
    assert_eq!(
        names(ok(q("name IN ('beta', 'Gamma')")), "registered_models"),
        ["Gamma", "beta"]
    );
    assert_eq!(
        names(ok(q("name != 'alpha'")), "registered_models"),
        ["Gamma", "beta"]
    );
    q("metrics.x > 1").assert_error(400, "INVALID_PARAMETER_VALUE");
    q("name = 'a' OR name = 'b'").assert_error(400, "INVALID_PARAMETER_VALUE");
    // order_by, max_results and page tokens.
    let r = ok(s.api(
        "registered-models/search",
        json!({"max_results": 2, "order_by": ["name DESC"]}),
    ));
    assert_eq!(names(r.clone(), "registered_models"), ["beta", "alpha"]);
    let token = r["next_page_token"].as_str().unwrap().to_string();
    let r = ok(s.api(
        "registered-models/search",
        json!({"max_results": 2, "order_by": ["name DESC"], "page_token": token}),
    ));
    assert_eq!(names(r.clone(), "registered_models"), ["Gamma"]);
    assert!(r.get("next_page_token").is_none());
    let r = ok(s.api(
        "registered-models/search",
        json!({"order_by": ["timestamp DESC"]}),
    ));
    assert_eq!(
        names(r, "registered_models"),
        ["Gamma", "beta", "alpha"],
        "newest first"
    );
    for bad in [
        json!({"max_results": 1001}),
        json!({"max_results": 0}),
        json!({"order_by": ["creation_timestamp"]}),
        json!({"page_token": "garbage"}),
    ] {
        s.api("registered-models/search", bad)
            .assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    let with_latest = ok(q("name = 'alpha'"));
    assert_eq!(
        with_latest["registered_models"][0]["latest_versions"][0]["version"],
        "2"
    );

    // Model versions.
    let vq = |filter: &str| {
        let f: String = form_encode(filter);
        get(&s, &format!("model-versions/search?filter={f}"))
    };
    let versions = |r: Value| -> Vec<(String, String)> {
        r["model_versions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| {
                        (
                            v["name"].as_str().unwrap().to_string(),
                            v["version"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
    assert_eq!(
        versions(ok(vq("name = 'alpha'"))),
        [pair("alpha", "2"), pair("alpha", "1")]
    );
    assert_eq!(
        versions(ok(vq("version_number >= 2"))),
        [pair("alpha", "2")]
    );
    assert_eq!(
        versions(ok(vq(&format!("run_id IN ('{run}')")))),
        [pair("alpha", "2"), pair("alpha", "1")]
    );
    assert_eq!(
        versions(ok(vq("tags.team = 'Quant'"))),
        [pair("alpha", "2")]
    );
    assert_eq!(
        versions(ok(vq("tags.team ILIKE 'quant'"))),
        [pair("alpha", "2")]
    );
    assert_eq!(
        versions(ok(vq("source_path LIKE 'runs:/%'"))).len(),
        3,
        "every version"
    );
    vq("tags.team IS NULL").assert_error(400, "INVALID_PARAMETER_VALUE");
    vq("colour = 'red'").assert_error(400, "INVALID_PARAMETER_VALUE");
    let r = ok(s.api(
        "model-versions/search",
        json!({"order_by": ["name ASC", "version_number ASC"], "max_results": 2}),
    ));
    assert_eq!(
        versions(r.clone()),
        [pair("alpha", "1"), pair("alpha", "2")]
    );
    assert_eq!(r["next_page_token"], "2");
    s.api("model-versions/search", json!({"order_by": ["timestamp"]}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
    s.api("model-versions/search", json!({"max_results": 200_001}))
        .assert_error(400, "INVALID_PARAMETER_VALUE");
}

#[test]
fn refused_requests_change_nothing() {
    let s = TestServer::start();
    let run = model_with_versions(&s, "m", 1);
    let before_model = get(&s, "registered-models/get?name=m").json();
    let before_versions = get(&s, "model-versions/search").json();
    let refused = [
        s.api(
            "model-versions/create",
            json!({"name": "m", "source": "file:///etc/passwd"}),
        ),
        s.api(
            "model-versions/create",
            json!({"name": "m", "source": format!("runs:/{run}/model"), "run_id": "other"}),
        ),
        s.api(
            "model-versions/create",
            json!({"name": "m", "source": format!("runs:/{run}"),
                   "tags": [{"key": "k", "value": "v".repeat(5001)}]}),
        ),
        s.api(
            "registered-models/rename",
            json!({"name": "m", "new_name": "bad/name"}),
        ),
        call(
            &s,
            "PATCH",
            "registered-models/update",
            json!({"name": "m", "description": "d".repeat(5001)}),
        ),
        s.api(
            "model-versions/transition-stage",
            json!({"name": "m", "version": "1", "stage": "Archived",
                   "archive_existing_versions": true}),
        ),
        s.api(
            "registered-models/alias",
            json!({"name": "m", "alias": "latest", "version": "1"}),
        ),
    ];
    for r in refused {
        r.assert_error(400, "INVALID_PARAMETER_VALUE");
    }
    assert_eq!(get(&s, "registered-models/get?name=m").json(), before_model);
    assert_eq!(get(&s, "model-versions/search").json(), before_versions);
}

/// `application/x-www-form-urlencoded` encoding of a query value.
fn form_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
