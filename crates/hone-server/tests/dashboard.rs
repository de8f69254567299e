//! The dashboard's pages over raw HTTP: the experiments list, the runs table (a filter that
//! narrows it, a bad filter shown with its position, hone's preset columns, sorting, pages),
//! the run page (metrics, params, child runs, artifact downloads through the verified proxy),
//! every value escaped, a policy that allows no outside resource, and, with `--auth`, only what
//! the caller may read.

mod common;

use common::{PASSWORD, TestServer};
use hone_track::accounts::{Level, ResourceKind};
use hone_track::store::{Batch, NewRun};
use hone_track::{ArtifactRecord, Backend, Metric, MetricPoint, RunStatus, Store};

fn store(s: &TestServer) -> Box<dyn Backend> {
    hone_track::open_store(&s.uri).unwrap()
}

fn metric(key: &str, value: f64) -> Metric {
    Metric {
        key: key.into(),
        point: MetricPoint {
            value,
            timestamp: 1,
            step: 0,
        },
    }
}

/// An experiment with `n` finished runs whose `cv.roc_auc.mean` is i / n, and one child run.
fn seed(st: &dyn Store, name: &str, n: usize) -> (String, Vec<String>) {
    let exp = st.create_experiment(name, &[]).unwrap();
    let mut runs = Vec::new();
    for i in 0..n {
        let run = st
            .create_run(NewRun {
                experiment_id: exp.clone(),
                name: Some(format!("run-{i}")),
                ..Default::default()
            })
            .unwrap()
            .run_id;
        st.log_batches(&[Batch {
            run_id: run.clone(),
            metrics: vec![
                metric("cv.roc_auc.mean", i as f64 / n as f64),
                metric("holdout.accuracy", 0.5),
                metric("loss", 1.0),
            ],
            params: vec![(
                "model.type".into(),
                if i % 2 == 0 { "lightgbm" } else { "ridge" }.into(),
            )],
            tags: Vec::new(),
        }])
        .unwrap();
        st.end_run(&run, RunStatus::Finished).unwrap();
        runs.push(run);
    }
    (exp, runs)
}

fn rows(body: &str) -> usize {
    body.matches("<a href=\"/runs/").count()
}

#[test]
fn pages_render_filter_sort_and_page() {
    let s = TestServer::start();
    let st = store(&s);
    let (exp, runs) = seed(st.as_ref(), "fx <b>desk</b>", 150);

    let home = s.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let csp = home.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    // Names are escaped, never markup.
    assert!(
        home.body.contains("fx &#60;b&#62;desk&#60;/b&#62;")
            || home.body.contains("fx &lt;b&gt;desk&lt;/b&gt;"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("<b>desk</b>"));
    for asset in ["/static/hone.css", "/static/hone.js"] {
        let r = s.get(asset);
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.body.is_empty());
    }

    // The first page of 100, hone's preset columns, a link to the next page.
    let page = s.get(&format!("/experiments/{exp}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(rows(&page.body), 100);
    assert!(page.body.contains("cv.roc_auc.mean") && page.body.contains("holdout.accuracy"));
    assert!(
        !page.body.contains(">loss<"),
        "the preset shows hone's keys only"
    );
    assert!(page.body.contains("next page"));
    // A filter narrows the table, in MLflow's grammar.
    let filter = "metrics.%60cv.roc_auc.mean%60%20%3E%3D%200.9";
    let narrowed = s.get(&format!("/experiments/{exp}?filter={filter}"));
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(rows(&narrowed.body), 15);
    assert!(!narrowed.body.contains("next page"));
    // Sorting by a column: the best run first.
    let order = "metrics.%60cv.roc_auc.mean%60%20DESC";
    let sorted = s.get(&format!("/experiments/{exp}?order_by={order}"));
    let best = runs.last().unwrap();
    let first = sorted.body.find("<a href=\"/runs/").unwrap();
    assert!(sorted.body[first..].starts_with(&format!("<a href=\"/runs/{best}\"")));
    // Chosen columns: a param and metrics by prefix.
    let chosen = s.get(&format!(
        "/experiments/{exp}?columns=params.model.type,%20metrics.loss"
    ));
    assert!(
        chosen.body.contains("lightgbm") && chosen.body.contains(">loss"),
        "{}",
        chosen.body
    );
    // The column chooser offers every metric, param and tag of the page (the shown ones
    // ticked); its ticked boxes, sent with its own button, replace the columns box.
    for offered in [
        "name=\"col\" value=\"metrics.loss\"",
        "name=\"col\" value=\"params.`model.type`\"",
        "name=\"col\" value=\"metrics.`cv.roc_auc.mean`\" checked",
    ] {
        assert!(
            page.body.contains(offered) || page.body.contains(&offered.replace('`', "&#96;")),
            "{offered} not offered"
        );
    }
    let ticked = s.get(&format!(
        "/experiments/{exp}?columns=metrics.loss&chooser=1&col=params.%60model.type%60"
    ));
    assert!(ticked.body.contains(">model.type<"), "{}", ticked.body);
    assert!(!ticked.body.contains(">loss<"), "the ticked boxes win");
    // A bad filter: 400, the message and a caret under the character it names, no rows.
    let bad = s.get(&format!(
        "/experiments/{exp}?filter=metrics.auc%20%3E%3E%201"
    ));
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(
        bad.body.contains("invalid filter at character"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("class=\"caret\""));
    assert_eq!(rows(&bad.body), 0);
    // A bad sort is named as the sort, with no caret under the filter.
    let bad_sort = s.get(&format!(
        "/experiments/{exp}?order_by=metrics.auc%20SIDEWAYS"
    ));
    assert_eq!(bad_sort.status, 400);
    assert!(
        bad_sort
            .body
            .contains("sort &#34;metrics.auc SIDEWAYS&#34;"),
        "{}",
        bad_sort.body
    );
    assert!(!bad_sort.body.contains("class=\"caret\""));
    // Missing things are pages too, with the API's statuses.
    assert_eq!(s.get("/experiments/999").status, 404);
    assert_eq!(s.get("/runs/0123456789abcdef0123456789abcdef").status, 404);
}

#[test]
fn the_run_page_shows_its_data_and_verified_downloads() {
    let s = TestServer::start();
    let st = store(&s);
    let (exp, runs) = seed(st.as_ref(), "e", 1);
    let run = &runs[0];
    let child = st
        .create_run(NewRun {
            experiment_id: exp.clone(),
            name: Some("fold-1".into()),
            parent_run_id: Some(run.clone()),
            ..Default::default()
        })
        .unwrap()
        .run_id;
    // A learning curve: the page draws it, and switches to a log scale and smoothing.
    st.log_batches(&[Batch {
        run_id: child.clone(),
        metrics: (0..50)
            .map(|i| Metric {
                key: "valid.binary_logloss".into(),
                point: MetricPoint {
                    value: 0.7 - i as f64 * 0.002,
                    timestamp: 1000 + i,
                    step: i,
                },
            })
            .collect(),
        ..Default::default()
    }])
    .unwrap();
    let fold = s.get(&format!("/runs/{child}"));
    assert_eq!(fold.status, 200, "{}", fold.body);
    assert!(fold.body.contains("<svg class=\"chart\""), "{}", fold.body);
    assert!(fold.body.contains("valid.binary_logloss <small>50 points"));
    assert!(fold.body.contains("log=1"));
    let logged = s.get(&format!("/runs/{child}?x=time&log=1&smooth=0.6"));
    assert_eq!(logged.status, 200);
    assert!(logged.body.contains("<polyline"));
    let blobs = hone_track::artifacts::BlobStore::new(&s.artifacts);
    let (sha, size) = blobs.put(b"a,b\n1,2\n").unwrap();
    st.record_artifact(
        run,
        &ArtifactRecord {
            path: "preds/oof.csv".into(),
            sha256: sha.clone(),
            size,
        },
    )
    .unwrap();
    let page = s.get(&format!("/runs/{run}"));
    assert_eq!(page.status, 200, "{}", page.body);
    for needle in [
        "run-0",
        "cv.roc_auc.mean",
        "model.type",
        "lightgbm",
        "fold-1",
        &format!("/runs/{child}"),
        &sha,
        "preds/oof.csv",
    ] {
        assert!(page.body.contains(needle), "{needle} missing");
    }
    let link = format!("/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/preds/oof.csv");
    assert!(page.body.contains(&link), "{}", page.body);
    assert_eq!(s.get(&link).body, "a,b\n1,2\n");

    // Previews: a CSV as a table (cells escaped), JSON pretty-printed, an image by its link.
    let record = |path: &str, bytes: &[u8]| {
        let (sha, size) = blobs.put(bytes).unwrap();
        st.record_artifact(
            run,
            &ArtifactRecord {
                path: path.into(),
                sha256: sha.clone(),
                size,
            },
        )
        .unwrap();
        sha
    };
    record("evil.csv", b"name,value\n<script>x</script>,1\n");
    record("metrics.json", br#"{"auc":0.61,"folds":[1,2]}"#);
    record(
        "importance.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    );
    let csv = s.get(&format!("/runs/{run}/artifacts/preds/oof.csv"));
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains("<th>a</th><th>b</th>") && csv.body.contains("<td>1</td><td>2</td>"));
    assert!(csv.body.contains("1 of 1 row(s)"));
    let evil = s.get(&format!("/runs/{run}/artifacts/evil.csv"));
    assert!(!evil.body.contains("<script>x</script>"), "{}", evil.body);
    let json = s.get(&format!("/runs/{run}/artifacts/metrics.json"));
    assert!(json.body.contains("&#34;auc&#34;: 0.61"), "{}", json.body);
    let svg = s.get(&format!("/runs/{run}/artifacts/importance.svg"));
    assert!(
        svg.body
            .contains("<img class=\"preview\" src=\"/api/2.0/mlflow-artifacts/")
    );
    assert_eq!(
        s.get(&format!("/runs/{run}/artifacts/nothing.txt")).status,
        404
    );
    // A damaged blob is an error, never shown.
    let damaged = record("notes.txt", b"the real notes");
    std::fs::write(
        s.artifacts.join("blobs").join(&damaged[..2]).join(&damaged),
        b"tampered notes",
    )
    .unwrap();
    let r = s.get(&format!("/runs/{run}/artifacts/notes.txt"));
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(!r.body.contains("tampered"));
}

#[test]
fn with_auth_pages_show_what_the_caller_may_read() {
    let s = TestServer::with_users(None);
    let st = store(&s);
    let (mine, runs) = seed(st.as_ref(), "alice-exp", 2);
    seed(st.as_ref(), "hidden-exp", 1);
    st.set_permission("alice", ResourceKind::Experiment, &mine, Level::Read)
        .unwrap();
    let basic = |user: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"))
        )
    };
    let get =
        |user: &str, path: &str| s.send("GET", path, &[("Authorization", &basic(user))], None);
    // No credentials: the browser is sent to the sign-in page, which comes back here after.
    let r = s.get("/");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=%2F"));
    // The API still asks for credentials the way MLflow's clients expect.
    let r = s.get("/api/2.0/mlflow/experiments/search?max_results=10");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    // Alice sees her experiment and its runs, not the other one.
    let home = get("alice", "/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("alice-exp") && !home.body.contains("hidden-exp"));
    assert_eq!(get("alice", &format!("/experiments/{mine}")).status, 200);
    assert_eq!(get("alice", &format!("/runs/{}", runs[0])).status, 200);
    // Bob has no grant and the default is none.
    assert_eq!(get("bob", &format!("/experiments/{mine}")).status, 403);
    assert_eq!(get("bob", &format!("/runs/{}", runs[0])).status, 403);
    assert!(!get("bob", "/").body.contains("alice-exp"));
    // The administrator sees everything; the stylesheet needs no one.
    assert!(get("root", "/").body.contains("hidden-exp"));
    assert_eq!(s.get("/static/hone.css").status, 200);
}

/// The value of a hidden form field in a page.
fn field(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} field in {body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[test]
fn sign_in_gives_a_strict_session_cookie_and_forms_need_a_token_and_manage() {
    let s = TestServer::with_users(None);
    let st = store(&s);
    let (mine, _) = seed(st.as_ref(), "alice-exp", 1);
    st.set_permission("alice", ResourceKind::Experiment, &mine, Level::Read)
        .unwrap();
    st.create_registered_model("m", "", &[]).unwrap();
    st.set_permission("alice", ResourceKind::RegisteredModel, "m", Level::Read)
        .unwrap();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let post = |path: &str, extra: &[(&str, &str)], body: &str| {
        let mut h = form.to_vec();
        h.extend_from_slice(extra);
        s.send("POST", path, &h, Some(body.as_bytes()))
    };
    // The sign-in page, then a wrong password: no session.
    let page = s.get("/login?next=%2Fmodels");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("type=\"password\""));
    let r = post("/login", &[], "user=alice&password=wrong&next=%2F");
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert!(r.body.contains("invalid user name or password"));
    // A sign-in posted from another site is refused.
    let good = format!(
        "user=alice&password={}&next=%2Fmodels",
        PASSWORD.replace(' ', "+")
    );
    let r = post("/login", &[("Origin", "https://evil.example")], &good);
    assert!(r.status == 403, "{}", r.status);
    // The right password: a session cookie no script can read and no other site sends, and
    // on to the page asked for (never to another host).
    let r = post("/login", &[], &good);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/models"));
    let set = r.header("set-cookie").unwrap().to_string();
    for part in ["hone_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let r = post(
        "/login",
        &[],
        &good.replace("%2Fmodels", "%2F%2Fevil.example"),
    );
    assert_eq!(r.header("location"), Some("/"));
    let cookie = set.split(';').next().unwrap().to_string();
    let get = |path: &str| s.send("GET", path, &[("Cookie", &cookie)], None);
    assert_eq!(get(&format!("/experiments/{mine}")).status, 200);
    let models = get("/models/m");
    assert_eq!(models.status, 200);
    assert!(
        models.body.contains("alice"),
        "the page names who is signed in"
    );
    // Nothing is editable by a reader: no forms, and a posted one is refused.
    assert!(
        !models.body.contains("<form class=\"action"),
        "{}",
        models.body
    );
    let csrf = field(&get("/logout").body, "csrf");
    let r = post(
        "/models/m/rollback",
        &[("Cookie", &cookie)],
        &format!("reason=x&csrf={csrf}"),
    );
    assert_eq!(r.status, 403, "READ is not MANAGE");
    assert!(r.body.contains("Permission denied"), "{}", r.body);
    // A form without the page's token (a forged post) is refused before anything else.
    let r = post(
        "/models/m/rollback",
        &[("Cookie", &cookie)],
        "reason=x&csrf=forged",
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    // The session is for the dashboard only: the API does not take it.
    let r = get("/api/2.0/mlflow/experiments/search?max_results=10");
    assert_eq!(r.status, 401);
    // Signing out ends the session and clears the cookie.
    let r = post("/logout", &[("Cookie", &cookie)], &format!("csrf={csrf}"));
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get("/").status, 303, "the old cookie no longer signs in");
}
