//! `hone server --auth` over raw HTTP: 401 without (valid) credentials, tokens (live, revoked,
//! expired), basic auth, 403 per permission level, inheritance by runs and artifacts, search
//! filtering, MANAGE for creators, administrators, every route having a rule, and the CORS
//! allow-list.

mod common;

use base64::Engine as _;
use common::{Response, TestServer};
use hone_track::Backend;
use hone_track::accounts::{self, Level, ResourceKind};
use serde_json::{Value, json};

use common::PASSWORD;

/// A server with authentication (`default` on resources without a grant) and three users:
/// `root` (administrator), `alice` and `bob`.
fn server(default: Option<Level>) -> TestServer {
    TestServer::with_users(default)
}

fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

fn store(s: &TestServer) -> Box<dyn Backend> {
    hone_track::open_store(&s.uri).unwrap()
}

/// One request as `user` (basic auth): GET with the query in `endpoint`, other methods with
/// `body` as JSON. `endpoint` is relative to `/api/2.0/mlflow/` unless it starts with `/`.
fn call(s: &TestServer, user: &str, method: &str, endpoint: &str, body: Value) -> Response {
    call_with(s, &basic(user, PASSWORD), method, endpoint, body)
}

fn call_with(s: &TestServer, auth: &str, method: &str, endpoint: &str, body: Value) -> Response {
    let path = if endpoint.starts_with('/') {
        endpoint.to_string()
    } else {
        format!("/api/2.0/mlflow/{endpoint}")
    };
    let text = body.to_string();
    let body = (method != "GET").then_some(text.as_bytes());
    s.send(
        method,
        &path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

/// An experiment (created by root) and a run in it.
fn experiment_with_run(s: &TestServer, name: &str) -> (String, String) {
    let r = call(
        s,
        "root",
        "POST",
        "experiments/create",
        json!({"name": name}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let exp = r.json()["experiment_id"].as_str().unwrap().to_string();
    let r = call(
        s,
        "root",
        "POST",
        "runs/create",
        json!({"experiment_id": exp}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let run = r.json()["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    (exp, run)
}

fn log_metric(s: &TestServer, user: &str, run: &str) -> Response {
    call(
        s,
        user,
        "POST",
        "runs/log-metric",
        json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": 1}),
    )
}

#[test]
fn requests_without_valid_credentials_get_401_with_a_challenge() {
    let s = server(Some(Level::Read));
    // /health needs nothing.
    assert_eq!(s.get("/health").status, 200);
    let no_header = s.get("/api/2.0/mlflow/experiments/get?experiment_id=1");
    no_header.assert_error(401, "UNAUTHENTICATED");
    let challenges: Vec<_> = no_header
        .headers
        .iter()
        .filter(|(k, _)| k == "www-authenticate")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic ")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer ")),
        "{challenges:?}"
    );
    for auth in [
        basic("alice", "wrong password!"),
        basic("nobody", PASSWORD),
        basic("alice", ""),
        "Basic not-base64!".to_string(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("no colon")
        ),
        "Bearer hone_0123456789abcdef_deadbeef".to_string(),
        "Bearer ".to_string(),
        "Digest username=alice".to_string(),
    ] {
        let r = call_with(
            &s,
            &auth,
            "GET",
            "experiments/search?max_results=10",
            json!({}),
        );
        r.assert_error(401, "UNAUTHENTICATED");
    }
    // The metadata routes need a user too, and nothing was created by the refused writes.
    assert_eq!(s.get("/version").status, 401);
    let r = call_with(
        &s,
        &basic("alice", "wrong password!"),
        "POST",
        "experiments/create",
        json!({"name": "x"}),
    );
    assert_eq!(r.status, 401);
    assert!(store(&s).get_experiment_by_name("x").unwrap().is_none());
    // The right password works, and so does it again (from the verification cache).
    for _ in 0..2 {
        let r = call(
            &s,
            "alice",
            "GET",
            "experiments/search?max_results=10",
            json!({}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[test]
fn a_changed_password_or_deleted_user_counts_at_once_despite_the_cache() {
    let s = server(Some(Level::Read));
    let ok =
        |user: &str, pw: &str| call_with(&s, &basic(user, pw), "GET", "/version", json!({})).status;
    assert_eq!(ok("alice", PASSWORD), 200);
    // Another process (`hone users passwd`) changes the password: the old one stops working
    // at the next request, the new one works.
    let st = store(&s);
    st.set_password_hash("alice", &accounts::hash_password("a new password").unwrap())
        .unwrap();
    assert_eq!(ok("alice", PASSWORD), 401);
    assert_eq!(ok("alice", "a new password"), 200);
    assert_eq!(ok("bob", PASSWORD), 200);
    st.delete_user("bob").unwrap();
    assert_eq!(ok("bob", PASSWORD), 401);
}

#[test]
fn tokens_work_until_revoked_or_expired() {
    let s = server(Some(Level::Read));
    let st = store(&s);
    let (token, secret) = accounts::create_token(st.as_ref(), "alice", Some(1)).unwrap();
    let bearer = format!("Bearer {secret}");
    let r = call_with(
        &s,
        &bearer,
        "GET",
        "experiments/search?max_results=5",
        json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // The scheme's case does not matter.
    let lower = format!("bearer {secret}");
    assert_eq!(
        call_with(&s, &lower, "GET", "/version", json!({})).status,
        200
    );
    st.revoke_token(&token.id).unwrap();
    call_with(&s, &bearer, "GET", "/version", json!({})).assert_error(401, "UNAUTHENTICATED");

    // An expired token (expiry written in the past) is refused; the same secret under a live
    // token id is accepted, so the expiry is what refused it.
    let hash = accounts::sha256_hex(b"s3cret");
    st.insert_token(
        "00000000000000ee",
        "alice",
        &hash,
        Some(hone_track::now_ms() - 1),
    )
    .unwrap();
    st.insert_token("00000000000000ff", "alice", &hash, None)
        .unwrap();
    let expired = "Bearer hone_00000000000000ee_s3cret";
    call_with(&s, expired, "GET", "/version", json!({})).assert_error(401, "UNAUTHENTICATED");
    let live = "Bearer hone_00000000000000ff_s3cret";
    assert_eq!(
        call_with(&s, live, "GET", "/version", json!({})).status,
        200
    );
}

#[test]
fn each_level_allows_what_it_names_and_runs_inherit_their_experiment() {
    let s = server(None);
    let (exp, run) = experiment_with_run(&s, "desk");
    let st = store(&s);

    // No grant, default none: nothing, not even a read.
    let get = format!("runs/get?run_id={run}");
    call(&s, "alice", "GET", &get, json!({})).assert_error(403, "PERMISSION_DENIED");
    call(
        &s,
        "alice",
        "GET",
        &format!("experiments/get?experiment_id={exp}"),
        json!({}),
    )
    .assert_error(403, "PERMISSION_DENIED");

    // READ: get and history, no writes.
    st.set_permission("alice", ResourceKind::Experiment, &exp, Level::Read)
        .unwrap();
    assert_eq!(call(&s, "alice", "GET", &get, json!({})).status, 200);
    let history = format!("metrics/get-history?run_id={run}&metric_key=m");
    assert_eq!(call(&s, "alice", "GET", &history, json!({})).status, 200);
    let r = log_metric(&s, "alice", &run);
    r.assert_error(403, "PERMISSION_DENIED");
    assert!(
        r.json()["message"].as_str().unwrap().contains("EDIT"),
        "{}",
        r.body
    );
    call(
        &s,
        "alice",
        "POST",
        "runs/create",
        json!({"experiment_id": exp}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    // Nothing was written by the refused request.
    assert!(st.metric_history(&run, "m").unwrap().is_empty());

    // EDIT: writes, no deletes.
    st.set_permission("alice", ResourceKind::Experiment, &exp, Level::Edit)
        .unwrap();
    assert_eq!(log_metric(&s, "alice", &run).status, 200);
    let r = call(
        &s,
        "alice",
        "POST",
        "runs/create",
        json!({"experiment_id": exp}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    call(&s, "alice", "POST", "runs/delete", json!({"run_id": run}))
        .assert_error(403, "PERMISSION_DENIED");
    call(
        &s,
        "alice",
        "POST",
        "experiments/delete",
        json!({"experiment_id": exp}),
    )
    .assert_error(403, "PERMISSION_DENIED");

    // MANAGE: deletes.
    st.set_permission("alice", ResourceKind::Experiment, &exp, Level::Manage)
        .unwrap();
    assert_eq!(
        call(&s, "alice", "POST", "runs/delete", json!({"run_id": run})).status,
        200
    );
    assert_eq!(
        call(&s, "alice", "POST", "runs/restore", json!({"run_id": run})).status,
        200
    );

    // Grants are per user: bob still has nothing. The legacy run_uuid names the same run.
    call(
        &s,
        "bob",
        "GET",
        &format!("runs/get?run_uuid={run}"),
        json!({}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    // Administrators have everything.
    assert_eq!(log_metric(&s, "root", &run).status, 200);
}

#[test]
fn artifacts_inherit_their_runs_experiment() {
    let s = server(Some(Level::Read));
    let (exp, run) = experiment_with_run(&s, "art");
    let st = store(&s);
    let path = format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/a.txt");
    let put = |user: &str| {
        s.send(
            "PUT",
            &path,
            &[
                ("Authorization", &basic(user, PASSWORD)),
                ("Content-Type", "text/plain"),
            ],
            Some(b"hello"),
        )
    };
    // Default READ: download and list yes, upload and delete no.
    put("alice").assert_error(403, "PERMISSION_DENIED");
    assert_eq!(put("root").status, 200);
    assert_eq!(call(&s, "alice", "GET", &path, json!({})).status, 200);
    let list = format!("/api/2.0/mlflow-artifacts/artifacts?path={exp}/{run}/artifacts");
    assert_eq!(call(&s, "alice", "GET", &list, json!({})).status, 200);
    // Percent-encoding the path changes nothing.
    let encoded = format!("/api/2.0/mlflow-artifacts/artifacts?path={exp}%2F{run}%2Fartifacts");
    assert_eq!(call(&s, "alice", "GET", &encoded, json!({})).status, 200);
    // EDIT uploads but does not delete (CVE-2024-4263: deleting needs more than EDIT).
    st.set_permission("alice", ResourceKind::Experiment, &exp, Level::Edit)
        .unwrap();
    assert_eq!(put("alice").status, 200);
    call(&s, "alice", "DELETE", &path, json!({})).assert_error(403, "PERMISSION_DENIED");
    st.set_permission("alice", ResourceKind::Experiment, &exp, Level::Manage)
        .unwrap();
    assert_eq!(call(&s, "alice", "DELETE", &path, json!({})).status, 200);

    // A path naming another experiment than the run's is judged by the run's experiment.
    let (other, _) = experiment_with_run(&s, "other");
    st.set_permission("bob", ResourceKind::Experiment, &other, Level::Manage)
        .unwrap();
    let lying = format!("/api/2.0/mlflow-artifacts/artifacts/{other}/{run}/artifacts/b.txt");
    let r = s.send(
        "PUT",
        &lying,
        &[
            ("Authorization", &basic("bob", PASSWORD)),
            ("Content-Type", "text/plain"),
        ],
        Some(b"x"),
    );
    r.assert_error(403, "PERMISSION_DENIED");
}

#[test]
fn searches_return_only_what_the_caller_may_read() {
    let s = server(None);
    let (a, _) = experiment_with_run(&s, "visible");
    let (b, _) = experiment_with_run(&s, "hidden");
    let st = store(&s);
    st.set_permission("alice", ResourceKind::Experiment, &a, Level::Read)
        .unwrap();
    let r = call(
        &s,
        "alice",
        "POST",
        "experiments/search",
        json!({"max_results": 100}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<_> = r.json()["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["visible"]);
    // bob sees none: the field is omitted, as MLflow omits empty lists.
    let r = call(
        &s,
        "bob",
        "GET",
        "experiments/search?max_results=100",
        json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json().get("experiments").is_none(), "{}", r.body);
    // runs/search refuses an experiment the caller cannot read, even among readable ones.
    let ok = call(
        &s,
        "alice",
        "POST",
        "runs/search",
        json!({"experiment_ids": [a]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["runs"].as_array().unwrap().len(), 1);
    call(
        &s,
        "alice",
        "POST",
        "runs/search",
        json!({"experiment_ids": [a, b]}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    // get-by-name does not reveal an unreadable experiment's contents.
    call(
        &s,
        "alice",
        "GET",
        "experiments/get-by-name?experiment_name=hidden",
        json!({}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    let r = call(
        &s,
        "alice",
        "GET",
        "experiments/get-by-name?experiment_name=visible",
        json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Administrators see everything.
    let r = call(
        &s,
        "root",
        "POST",
        "experiments/search",
        json!({"max_results": 100}),
    );
    assert_eq!(r.json()["experiments"].as_array().unwrap().len(), 2);
}

#[test]
fn creators_get_manage_on_what_they_create() {
    let s = server(Some(Level::Read));
    let r = call(
        &s,
        "alice",
        "POST",
        "experiments/create",
        json!({"name": "mine"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let exp = r.json()["experiment_id"].as_str().unwrap().to_string();
    assert_eq!(
        store(&s)
            .get_permission("alice", ResourceKind::Experiment, &exp)
            .unwrap(),
        Some(Level::Manage)
    );
    let r = call(
        &s,
        "alice",
        "POST",
        "runs/create",
        json!({"experiment_id": exp}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let run = r.json()["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(log_metric(&s, "alice", &run).status, 200);
    // bob has the default READ on it: he reads, he does not write.
    assert_eq!(
        call(
            &s,
            "bob",
            "GET",
            &format!("runs/get?run_id={run}"),
            json!({})
        )
        .status,
        200
    );
    log_metric(&s, "bob", &run).assert_error(403, "PERMISSION_DENIED");
    assert_eq!(
        call(
            &s,
            "alice",
            "POST",
            "experiments/delete",
            json!({"experiment_id": exp})
        )
        .status,
        200
    );
    // A refused create grants nothing.
    let r = call(
        &s,
        "bob",
        "POST",
        "experiments/create",
        json!({"name": "mine"}),
    );
    r.assert_error(400, "RESOURCE_ALREADY_EXISTS");
    assert!(store(&s).list_permissions(Some("bob")).unwrap().is_empty());
}

#[test]
fn every_route_has_a_rule() {
    // The router's routes, read from its debug form (axum lists the paths it registered);
    // the count guards against that form changing under the test.
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let state = hone_server::AppState::new(
        hone_track::open_store(&uri).unwrap(),
        hone_track::artifacts::BlobStore::new(dir.path().join("a")),
    );
    let debug = format!("{:?}", hone_server::router(state));
    let mut templates: Vec<String> = debug
        .split('"')
        .filter(|t| t.len() > 1 && t.starts_with('/') && !t.contains("__private__"))
        .map(str::to_string)
        .collect();
    templates.sort();
    templates.dedup();
    assert!(templates.len() >= 30, "{templates:?}");
    for known in [
        "/api/2.0/mlflow/runs/get",
        "/ajax-api/2.0/mlflow/runs/log-batch",
        "/api/2.0/mlflow-artifacts/artifacts/{*path}",
        "/health",
    ] {
        assert!(
            templates.iter().any(|t| t == known),
            "{known} in {templates:?}"
        );
    }
    // Each method the route answers (anything but 405 from a server without auth) needs a
    // rule.
    let s = TestServer::start();
    let mut missing = Vec::new();
    for t in &templates {
        let concrete = t
            .replace("{*path}", "1/r/artifacts/x")
            .replace("{model_id}", "m-0")
            .replace("{tag_key}", "k");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let body = (method != "GET").then_some(&b"{}"[..]);
            let r = s.send(
                method,
                &concrete,
                &[("Content-Type", "application/json")],
                body,
            );
            let m = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
            if r.status != 405 && hone_server::auth::rule(&m, t).is_none() {
                missing.push(format!("{method} {t}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without an authorisation rule: {missing:?}"
    );
}

#[test]
fn routes_without_a_rule_are_for_administrators() {
    let s = server(Some(Level::Manage));
    // `DELETE runs/get` is routed to nothing (405 for an administrator) and has no rule:
    // others are refused before the router's answer.
    call(&s, "alice", "DELETE", "runs/get", json!({})).assert_error(403, "PERMISSION_DENIED");
    assert_eq!(
        call(&s, "root", "DELETE", "runs/get", json!({})).status,
        405
    );
    // An unknown endpoint: authenticated users get the 404.
    assert_eq!(
        call(&s, "alice", "GET", "no/such/endpoint", json!({})).status,
        404
    );
}

#[test]
fn logged_models_and_their_files_follow_their_experiment() {
    // Nothing by default: only grants count.
    let s = server(None);
    let (exp, run) = experiment_with_run(&s, "models");
    let r = call(
        &s,
        "root",
        "POST",
        "logged-models",
        json!({"experiment_id": exp, "name": "model", "source_run_id": run}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/models/{id}/artifacts/MLmodel");
    let put = |user: &str| {
        s.send(
            "PUT",
            &file,
            &[("Authorization", &basic(user, PASSWORD))],
            Some(b"flavors: {}\n"),
        )
    };
    assert_eq!(put("root").status, 200);
    // alice has no grant: neither the model, nor its file, nor a write.
    call(
        &s,
        "alice",
        "GET",
        &format!("logged-models/{id}"),
        json!({}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    call(&s, "alice", "GET", &file, json!({})).assert_error(403, "PERMISSION_DENIED");
    assert_eq!(put("alice").status, 403);
    // READ on the experiment: she reads the model and downloads its file, still cannot write.
    store(&s)
        .set_permission("alice", ResourceKind::Experiment, &exp, Level::Read)
        .unwrap();
    let r = call(
        &s,
        "alice",
        "GET",
        &format!("logged-models/{id}"),
        json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "alice", "GET", &file, json!({}));
    assert_eq!((r.status, r.body.as_str()), (200, "flavors: {}\n"));
    assert_eq!(put("alice").status, 403);
    call(
        &s,
        "alice",
        "PATCH",
        &format!("logged-models/{id}"),
        json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
    )
    .assert_error(403, "PERMISSION_DENIED");
    // EDIT: she finalises it.
    store(&s)
        .set_permission("alice", ResourceKind::Experiment, &exp, Level::Edit)
        .unwrap();
    let r = call(
        &s,
        "alice",
        "PATCH",
        &format!("logged-models/{id}"),
        json!({"model_id": id, "status": "LOGGED_MODEL_READY"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn cross_origin_requests_are_refused_unless_allow_listed() {
    let s = TestServer::start_with(|_, state| {
        state
            .allow_origin("https://ui.example.com")
            .unwrap()
            .allow_host("hone.internal")
    });
    let own = format!("http://{}", s.addr);
    // A "simple" cross-origin POST (text/plain, no preflight: CVE-2023-43472) from another
    // site is refused before any handler runs: nothing is created.
    let r = s.send(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/plain"),
        ],
        Some(br#"{"name": "pwned"}"#),
    );
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.body, "Cross-origin request blocked");
    // The same with a JSON content type, and a GET.
    let r = s.send(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"name": "pwned"}"#),
    );
    assert_eq!(r.status, 403);
    let r = s.send("GET", "/version", &[("Origin", "null")], None);
    assert_eq!(r.status, 403);
    assert!(
        hone_track::open_store(&s.uri)
            .unwrap()
            .get_experiment_by_name("pwned")
            .unwrap()
            .is_none()
    );
    // Same-origin requests carry an Origin too: served.
    let r = s.send("GET", "/version", &[("Origin", &own)], None);
    assert_eq!(r.status, 200, "{r:?}");
    // The allow-listed origin: its preflight is answered, its requests served with the
    // CORS header.
    let pre = s.send(
        "OPTIONS",
        "/api/2.0/mlflow/experiments/create",
        &[
            ("Origin", "https://ui.example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ],
        None,
    );
    assert_eq!(pre.status, 204, "{pre:?}");
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://ui.example.com")
    );
    let methods = pre.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = pre.header("access-control-allow-headers").unwrap();
    assert!(headers.contains("Authorization") && headers.contains("Content-Type"));
    let r = s.send(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        &[
            ("Origin", "https://ui.example.com"),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"name": "from-ui"}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ui.example.com")
    );
    // Another origin's preflight is refused, as is a look-alike of the allowed one.
    for origin in [
        "https://evil.example",
        "https://ui.example.com.evil.example",
        "http://ui.example.com",
    ] {
        let pre = s.send(
            "OPTIONS",
            "/api/2.0/mlflow/experiments/create",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        );
        assert_eq!(pre.status, 403, "{origin}: {pre:?}");
        assert!(pre.header("access-control-allow-origin").is_none());
    }
    // DNS rebinding: an attacker's name resolving to this server is refused by Host, even
    // with a matching Origin; the allow-listed extra host name is served.
    for host in [
        "evil.example",
        "evil.example:5000",
        "hone.internal.evil.example",
    ] {
        let r = s.send(
            "GET",
            "/version",
            &[("Host", host), ("Origin", &format!("http://{host}"))],
            None,
        );
        assert_eq!(r.status, 403, "{host}");
        assert_eq!(
            r.body,
            "Invalid Host header - possible DNS rebinding attack detected"
        );
    }
    let r = s.send("GET", "/version", &[("Host", "hone.internal:5000")], None);
    assert_eq!(r.status, 200);
    // Origins must be origins.
    for bad in [
        "*",
        "null",
        "https://ui.example.com/path",
        "ui.example.com",
        "ftp://x",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
        let state = hone_server::AppState::new(
            hone_track::open_store(&uri).unwrap(),
            hone_track::artifacts::BlobStore::new(dir.path().join("a")),
        );
        assert!(state.allow_origin(bad).is_err(), "{bad}");
    }
}

#[test]
fn handlers_see_the_authenticated_caller() {
    // A route of our own behind the same middleware: it answers with the Caller it got.
    async fn whoami(caller: hone_server::identity::Caller) -> String {
        format!("{} admin={}", caller.user, caller.admin)
    }
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let st = hone_track::open_store(&uri).unwrap();
    let hash = accounts::hash_password(PASSWORD).unwrap();
    st.create_user("root", &hash, true).unwrap();
    st.create_user("alice", &hash, false).unwrap();
    let state = hone_server::AppState::new(
        st,
        hone_track::artifacts::BlobStore::new(dir.path().join("a")),
    )
    .with_auth(Some(Level::Read));
    let app: axum::Router = axum::Router::new()
        .route("/version", axum::routing::get(whoami))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hone_server::auth::authorize,
        ))
        .with_state(state);
    let addr = common::serve_router(move || app);
    let get = |auth: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /version HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        raw.split_once("\r\n\r\n").unwrap().1.to_string()
    };
    assert_eq!(get(&basic("alice", PASSWORD)), "alice admin=false");
    assert_eq!(get(&basic("root", PASSWORD)), "root admin=true");
}

#[test]
fn a_server_on_every_interface_accepts_its_addresses_in_host_but_no_other_name() {
    let s = TestServer::start_with(|_, state| state.allow_host("0.0.0.0"));
    for host in [
        "10.1.2.3:5000",
        "192.168.0.7",
        "[fe80::1]:5000",
        "127.0.0.1",
    ] {
        let r = s.send("GET", "/health", &[("Host", host)], None);
        assert_eq!(r.status, 200, "{host}");
    }
    for host in ["evil.example", "10.1.2.3.evil.example:5000", "10.1.2.3:x"] {
        let r = s.send("GET", "/health", &[("Host", host)], None);
        assert_eq!(r.status, 403, "{host}");
    }
}

#[test]
fn a_grant_below_the_default_holds_whatever_the_ids_spelling() {
    let s = server(Some(Level::Edit));
    let (exp, _) = experiment_with_run(&s, "restricted");
    store(&s)
        .set_permission("alice", ResourceKind::Experiment, &exp, Level::Read)
        .unwrap();
    for spelling in [exp.clone(), format!("0{exp}"), format!("+{exp}")] {
        call(
            &s,
            "alice",
            "POST",
            "runs/create",
            json!({"experiment_id": spelling}),
        )
        .assert_error(403, "PERMISSION_DENIED");
    }
    // bob has the default EDIT there.
    let r = call(
        &s,
        "bob",
        "POST",
        "runs/create",
        json!({"experiment_id": exp}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
