//! The dashboard in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/setup.sh`; the test fails, not skips, without
//! them) against the built `hone server` over a store that `hone train` filled from the
//! bundled data. Every page renders without a console error (a script error or a
//! Content-Security-Policy violation would be one), a filter typed into the box narrows the
//! runs table, the run page of a fold draws its learning curve, and the page of a running run
//! gains the points logged to it within 2 s (server-sent events, no polling in the page).
//! Screenshots of each page are saved under the test's target folder (`screenshots/`), the
//! README's come from them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::server::{ServerProcess, store_uri};
use hone_test_support::browser::Browser;
use serde_json::{Value, json};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

/// No console entry at SEVERE level on the page just shown.
fn no_console_errors(b: &Browser, page: &str) {
    let severe: Vec<_> = b
        .console()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(severe.is_empty(), "{page}: {severe:?}");
}

fn count(b: &Browser, selector: &str) -> u64 {
    b.eval(
        "return document.querySelectorAll(arguments[0]).length;",
        json!([selector]),
    )
    .as_u64()
    .unwrap()
}

#[test]
fn pages_render_filter_and_draw_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job_config(d);
    let first_parent = train(d, &config, &[]);
    // A second job with other model settings, for the compare view.
    let parent = train(
        d,
        &config,
        &[
            "--set",
            "model.params.num_leaves=7",
            "--set",
            "model.params.learning_rate=0.05",
        ],
    );
    let study = multi_objective_study(d, 12);

    let server = ServerProcess::in_dir(d, &[]);
    let base = format!("http://{}", server.addr);
    let b = Browser::start();
    let shots = screenshots();

    b.open(&format!("{base}/"));
    assert_eq!(
        b.eval("return document.title;", json!([])),
        "Experiments · hone"
    );
    assert!(count(&b, "a[href^='/experiments/']") >= 1);
    no_console_errors(&b, "experiments");
    b.screenshot(&shots.join("experiments.png"));

    // The runs table: per job the parent, 3 folds and the final refit; then a filter typed
    // into the box and submitted keeps the two runs with cross-validated means.
    b.open(&format!("{base}/experiments/1"));
    assert_eq!(count(&b, "table.runs tbody tr"), 10);
    no_console_errors(&b, "runs");
    b.screenshot(&shots.join("runs.png"));
    b.eval(
        "const f = document.querySelector('form.filter');\
         f.querySelector('input[name=filter]').value = arguments[0];\
         f.submit();",
        json!(["metrics.`cv.accuracy.mean` > 0"]),
    );
    let start = std::time::Instant::now();
    loop {
        let done = b.eval(
            "return document.readyState === 'complete' && location.search.includes('filter=');",
            json!([]),
        );
        if done == true {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "the filtered page never loaded"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(count(&b, "table.runs tbody tr"), 2);
    let shown = b.eval(
        "return [...document.querySelectorAll('table.runs tbody a')].map(a => a.getAttribute('href'));",
        json!([]),
    );
    assert_eq!(
        shown,
        json!([format!("/runs/{parent}"), format!("/runs/{first_parent}")]),
        "newest first"
    );
    no_console_errors(&b, "filtered runs");

    // Both jobs ticked and compared: their holdout equity curves overlaid, the params that
    // differ, and the significance tests of `hone runs compare`.
    b.eval(
        "document.querySelectorAll('table.runs input[name=run]').forEach(c => c.checked = true);\
         document.querySelector('#compare button').click();",
        json!([]),
    );
    wait_for(
        &b,
        "return location.pathname === '/compare' && document.readyState === 'complete';",
    );
    assert_eq!(
        count(&b, "figure.equity svg polyline"),
        2,
        "two equity curves overlaid"
    );
    assert_eq!(
        count(&b, "table.diff tbody tr"),
        2,
        "num_leaves and learning_rate differ"
    );
    assert!(
        count(&b, "table.tests tbody tr") >= 2,
        "significance tests shown"
    );
    assert!(count(&b, "td.best-value") >= 1, "best values marked");
    no_console_errors(&b, "compare");
    b.screenshot(&shots.join("compare.png"));

    // The run page of the parent: the job's report.
    b.open(&format!("{base}/runs/{parent}"));
    assert!(count(&b, "section table.grid tr") > 10);
    assert_eq!(
        count(&b, "table.folds tbody tr"),
        4,
        "3 folds and the holdout"
    );
    assert_eq!(count(&b, "table.gates tbody tr"), 1);
    // Holdout and out-of-fold equity, each strategy against buy-and-hold, and their drawdowns.
    assert_eq!(count(&b, "figure.equity"), 2);
    assert_eq!(count(&b, "figure.equity svg polyline"), 4);
    assert_eq!(count(&b, "figure.drawdown"), 2);
    assert_eq!(count(&b, "table.confusion tbody tr"), 2, "down and up");
    assert!(count(&b, "svg.bars rect.bar") >= 5, "feature importances");
    no_console_errors(&b, "run");
    b.screenshot(&shots.join("run.png"));
    // An artifact's preview page (the job's CSV of holdout predictions, as a table).
    let preview = b.eval(
        "const a = [...document.querySelectorAll('a[href*=\"/artifacts/\"]:not(.dl)')]\
           .find(a => a.textContent.endsWith('.csv')); return a ? a.getAttribute('href') : null;",
        json!([]),
    );
    let preview = preview
        .as_str()
        .expect("the run has a CSV artifact")
        .to_string();
    b.open(&format!("{base}{preview}"));
    assert!(count(&b, "table.grid tbody tr") >= 1, "no CSV rows shown");
    no_console_errors(&b, "artifact preview");
    b.screenshot(&shots.join("artifact.png"));
    b.open(&format!("{base}/runs/{parent}"));
    let fold = b.eval(
        "return [...document.querySelectorAll('a[href^=\"/runs/\"]')].find(a => a.textContent === 'fold-1').getAttribute('href');",
        json!([]),
    );
    b.open(&format!("{base}{}", fold.as_str().unwrap()));
    assert!(count(&b, "svg.chart polyline") >= 1, "no learning curve");
    // Times were moved to the reader's time zone by the page's script.
    let shown = b.eval(
        "const t = document.querySelector('time'); return [t.textContent, t.getAttribute('datetime')];",
        json!([]),
    );
    assert_ne!(shown[0], shown[1], "{shown}");
    no_console_errors(&b, "fold run");
    b.screenshot(&shots.join("fold.png"));
    let fold_b = fold
        .as_str()
        .unwrap()
        .trim_start_matches("/runs/")
        .to_string();

    // Two folds compared: their learning curves overlaid.
    b.open(&format!("{base}/runs/{first_parent}"));
    let fold_a = b.eval(
        "return [...document.querySelectorAll('a[href^=\"/runs/\"]')].find(a => a.textContent === 'fold-1').getAttribute('href');",
        json!([]),
    );
    let fold_a = fold_a
        .as_str()
        .unwrap()
        .trim_start_matches("/runs/")
        .to_string();
    b.open(&format!("{base}/compare?run={fold_a}&run={fold_b}"));
    assert!(count(&b, "figure.overlay") >= 1, "no shared curve");
    assert_eq!(
        count(&b, "figure.overlay:first-of-type svg polyline"),
        2,
        "both folds' curves on one chart"
    );
    no_console_errors(&b, "compare folds");

    // The study page of a two-objective study: the Pareto front, the history of both
    // objectives, and the trial table, which follows trials told while it is open.
    b.open(&format!("{base}/studies/{}", study.experiment_id));
    assert!(count(&b, "svg.pareto circle.front") >= 1, "no Pareto front");
    assert_eq!(
        count(&b, "svg.pareto circle.front") + count(&b, "svg.pareto circle.dominated"),
        12
    );
    assert_eq!(count(&b, "figure.history"), 2);
    assert!(count(&b, "svg.parallel polyline") >= 10);
    assert_eq!(count(&b, "table.trials tbody tr"), 12);
    no_console_errors(&b, "study");
    b.screenshot(&shots.join("study.png"));
    study.trial(d);
    let told = std::time::Instant::now();
    while count(&b, "table.trials tbody tr") != 13 {
        assert!(
            told.elapsed().as_secs() < 3,
            "the study page did not follow a new trial"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    eprintln!(
        "a told trial shown {} ms after `hone study tell` returned",
        told.elapsed().as_millis()
    );
    eprintln!("screenshots in {}", shots.display());
}

/// Runs `hone train CONFIG --no-outputs ARGS` on the store in `d`; returns the job's run id.
fn train(d: &std::path::Path, config: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args([
            "train",
            &config.display().to_string(),
            "--no-outputs",
            "--json",
        ])
        .args(args)
        .args(["--store", &store_uri(d)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["run_id"].as_str().unwrap().to_string()
}

/// A `hone train` config over the bundled data: LightGBM, 3 time-series folds, a holdout,
/// trading and one hard gate.
fn job_config(d: &std::path::Path) -> PathBuf {
    let config = d.join("job.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"spx_browser\"\n[data]\npath = \"{}\"\ntime_column = \"date\"\n\
             [data.derive]\nprice = \"close\"\nreturns = [1, 5, 20]\nrolling = [20]\n\
             [target]\nkind = \"direction\"\n[split]\nscheme = \"timeseries\"\nn_splits = 3\n\
             holdout = 0.2\n[model]\ntype = \"lightgbm\"\nearly_stopping_rounds = 20\n[model.params]\nnum_iterations = 60\n\
             [trading]\nrule = \"sign\"\ncost_bps = 2\n[gates]\nhard = [\"cv.accuracy.mean >= 0.3\"]\n",
            common::bundled_data()
        ),
    )
    .unwrap();
    config
}

/// Fills the open version page's promote form (stage, reason, forced) and sends it; waits for
/// the model page it leads back to.
fn promote_with_form(b: &Browser, stage: &str, reason: &str) {
    b.eval(
        "const f = document.querySelector('form.promote');\
         f.querySelector('select[name=stage]').value = arguments[0];\
         f.querySelector('input[name=reason]').value = arguments[1];\
         f.querySelector('input[name=force]').checked = true;\
         f.querySelector('button').click();",
        json!([stage, reason]),
    );
    wait_for(
        b,
        "return location.pathname === '/models/spx' && document.readyState === 'complete';",
    );
}

/// Waits (up to 10 s) until `script` returns true in the page.
fn wait_for(b: &Browser, script: &str) {
    let start = std::time::Instant::now();
    while b.eval(script, json!([])) != true {
        assert!(
            start.elapsed().as_secs() < 10,
            "timed out waiting for: {script}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A study made with `hone study` commands (ask, then tell two objectives).
struct CliStudy {
    experiment_id: String,
    store: String,
}

impl CliStudy {
    fn hone(&self, args: &[&str]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(["study", "--store", &self.store])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Asks for a trial and tells it cost = x + y/10 and risk = (1 - x)^2 + y.
    fn trial(&self, _dir: &std::path::Path) {
        let t = self.hone(&["ask", "--name", "two_goals", "--json"]);
        let (x, y) = (
            t["params"]["x"].as_f64().unwrap(),
            t["params"]["y"].as_f64().unwrap(),
        );
        let values = format!("{},{}", x + y / 10.0, (1.0 - x).powi(2) + y);
        let n = t["trial"].to_string();
        self.hone(&[
            "tell",
            "--name",
            "two_goals",
            "--trial",
            &n,
            "--values",
            &values,
            "--json",
        ]);
    }
}

fn multi_objective_study(dir: &std::path::Path, trials: usize) -> CliStudy {
    let space = dir.join("space.toml");
    std::fs::write(
        &space,
        "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n\
         [y]\ntype = \"float\"\nlow = 0.001\nhigh = 1.0\nlog = true\n\
         [kind]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n",
    )
    .unwrap();
    let mut study = CliStudy {
        experiment_id: String::new(),
        store: store_uri(dir),
    };
    let created = study.hone(&[
        "create",
        "--name",
        "two_goals",
        "--space",
        &space.display().to_string(),
        "--sampler",
        "random",
        "--directions",
        "minimize,minimize",
        "--objectives",
        "cost,risk",
        "--json",
    ]);
    study.experiment_id = created["experiment_id"].as_str().unwrap().to_string();
    for _ in 0..trials {
        study.trial(dir);
    }
    study
}

#[test]
fn a_running_runs_page_follows_it_live() {
    use hone_track::store::{Batch, NewRun};
    use hone_track::{Metric, MetricPoint};
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::in_dir(dir.path(), &[]);
    let base = format!("http://{}", server.addr);
    // A client of the server, as a training job logging to it would be.
    let client = hone_track::open_store(&base).unwrap();
    let exp = client.create_experiment("live", &[]).unwrap();
    let run = client
        .create_run(NewRun {
            experiment_id: exp,
            name: Some("training".into()),
            ..Default::default()
        })
        .unwrap()
        .run_id;
    let log = |from: i64, to: i64| {
        let metrics = (from..to)
            .map(|step| Metric {
                key: "train.loss".into(),
                point: MetricPoint {
                    value: 1.0 / (1.0 + step as f64),
                    timestamp: hone_track::now_ms(),
                    step,
                },
            })
            .collect();
        client
            .log_batches(&[Batch {
                run_id: run.clone(),
                metrics,
                ..Default::default()
            }])
            .unwrap();
    };
    log(0, 1);
    let b = Browser::start();
    b.open(&format!("{base}/runs/{run}"));
    assert_eq!(count(&b, "svg.chart"), 0, "one point draws no curve yet");
    let points_shown = |b: &Browser| {
        b.eval(
            "const c = document.querySelector('figcaption small'); return c ? c.textContent : '';",
            json!([]),
        )
    };
    // Points logged now appear without a reload, within 2 s.
    for (from, to) in [(1, 20), (20, 60)] {
        log(from, to);
        let logged = std::time::Instant::now();
        let want = json!(format!("{to} points"));
        while points_shown(&b) != want {
            assert!(
                logged.elapsed() < std::time::Duration::from_secs(2),
                "{to} points not shown within 2 s: {}",
                points_shown(&b)
            );
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        eprintln!(
            "{to} points shown {} ms after they were logged",
            logged.elapsed().as_millis()
        );
    }
    no_console_errors(&b, "live run");
    b.screenshot(&screenshots().join("live.png"));
    // Ending the run ends the page's stream; the page says so.
    client
        .end_run(&run, hone_track::RunStatus::Finished)
        .unwrap();
    let ended = std::time::Instant::now();
    while count(&b, "p.live") != 0 {
        assert!(
            ended.elapsed().as_secs() < 2,
            "the page still follows an ended run"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// With 100,000 runs in the store, the runs table's first page is interactive within a second
/// (the navigation's `domInteractive`, as the browser measures it), every time of five.
#[test]
fn the_runs_table_opens_within_a_second_at_100k_runs() {
    use hone_track::store::{Batch, NewRun};
    use hone_track::{Metric, MetricPoint};
    const RUNS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let store = hone_track::open_store(&store_uri(d)).unwrap();
        let exp = store.create_experiment("big", &[]).unwrap();
        let seeded = std::time::Instant::now();
        let mut batches = Vec::with_capacity(1000);
        for i in 0..RUNS {
            let run = store
                .create_run(NewRun {
                    experiment_id: exp.clone(),
                    name: Some(format!("run-{i}")),
                    ..Default::default()
                })
                .unwrap()
                .run_id;
            batches.push(Batch {
                run_id: run,
                metrics: vec![Metric {
                    key: "cv.roc_auc.mean".into(),
                    point: MetricPoint {
                        value: ((i * 7919) % 10007) as f64 / 10007.0,
                        timestamp: hone_track::now_ms(),
                        step: 0,
                    },
                }],
                params: vec![(
                    "model.type".into(),
                    if i % 2 == 0 { "lightgbm" } else { "logistic" }.into(),
                )],
                ..Default::default()
            });
            if batches.len() == 1000 {
                store.log_batches(&batches).unwrap();
                batches.clear();
            }
        }
        store.log_batches(&batches).unwrap();
        eprintln!(
            "seeded {RUNS} runs in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );
    }
    let server = ServerProcess::in_dir(d, &[]);
    let base = format!("http://{}", server.addr);
    let b = Browser::start();
    let mut times = Vec::new();
    for url in [
        format!("{base}/experiments/1"),
        format!("{base}/experiments/1"),
        format!("{base}/experiments/1?order_by=metrics.%60cv.roc_auc.mean%60+DESC"),
        format!("{base}/experiments/1?filter=params.%60model.type%60+%3D+%27logistic%27"),
        format!("{base}/experiments/1"),
    ] {
        b.open(&url);
        assert_eq!(count(&b, "table.runs tbody tr"), 100, "{url}");
        let ms = b
            .eval(
                "const n = performance.getEntriesByType('navigation')[0]; return n.domInteractive;",
                json!([]),
            )
            .as_f64()
            .unwrap();
        times.push(ms);
        no_console_errors(&b, "100k runs");
    }
    b.screenshot(&screenshots().join("runs_100k.png"));
    eprintln!("100k runs: first page interactive after {times:?} ms");
    assert!(
        times.iter().all(|t| *t < 1000.0),
        "the runs table's first page took {times:?} ms"
    );
}

/// With `--auth`: a browser is sent to the sign-in page, signs in (the session cookie is not
/// readable by the page's scripts), sees the registered model, reads a version's promotion
/// checks and promotes it with the form; the move is recorded under the signed-in user.
#[test]
fn sign_in_and_promote_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job_config(d);
    let hone = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(args)
            .args(["--store", &store_uri(d)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Version 1 goes to production; version 2, trained with other settings, is its child.
    let job = config.display().to_string();
    hone(&["train", &job, "--no-outputs", "--register", "spx"]);
    hone(&["models", "promote", "spx", "1", "--stage", "staging"]);
    hone(&["models", "promote", "spx", "1", "--stage", "production"]);
    hone(&[
        "train",
        &job,
        "--no-outputs",
        "--register",
        "spx",
        "--set",
        "model.params.num_leaves=7",
    ]);
    let mut add = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["users", "add", "quant", "--admin", "--password-stdin"])
        .args(["--store", &store_uri(d)])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let server = ServerProcess::in_dir(d, &["--auth"]);
    let base = format!("http://{}", server.addr);
    let b = Browser::start();
    let shots = screenshots();

    b.open(&format!("{base}/models"));
    wait_for(&b, "return location.pathname === '/login';");
    no_console_errors(&b, "sign-in");
    b.screenshot(&shots.join("login.png"));
    b.eval(
        "const f = document.querySelector('form.login');\
         f.querySelector('input[name=user]').value = 'quant';\
         f.querySelector('input[name=password]').value = 'a long enough password';\
         f.submit();",
        json!([]),
    );
    wait_for(
        &b,
        "return location.pathname === '/models' && document.readyState === 'complete';",
    );
    assert_eq!(
        b.eval(
            "return document.cookie.includes('hone_session');",
            json!([])
        ),
        false,
        "the session cookie is HttpOnly"
    );
    assert_eq!(count(&b, "table.models tbody tr"), 1);
    no_console_errors(&b, "models");
    b.screenshot(&shots.join("models.png"));

    // The model: both versions, the lineage graph back to the dataset, the changelog.
    b.open(&format!("{base}/models/spx"));
    assert_eq!(count(&b, "table.versions tbody tr"), 2);
    assert_eq!(count(&b, "svg.lineage rect.dataset"), 1, "one dataset");
    assert_eq!(count(&b, "svg.lineage rect.version"), 2);
    assert!(
        count(&b, "svg.lineage path.parent") >= 1,
        "v2's parent is v1"
    );
    assert!(count(&b, "ul.changelog > li") >= 4);
    no_console_errors(&b, "model");

    // Version 2: the checks first (its gates, and the tests against production on the
    // holdout rows they share), then the form; promote it to staging, forced with a reason
    // should a check fail.
    b.open(&format!("{base}/models/spx/versions/2"));
    assert_eq!(count(&b, "table.gates tbody tr"), 1);
    assert!(count(&b, "table.tests tbody tr") >= 2, "significance tests");
    assert_eq!(count(&b, "form.promote"), 1);
    no_console_errors(&b, "version");
    b.screenshot(&shots.join("version.png"));
    promote_with_form(&b, "staging", "shadow it in staging");
    let done = b.eval(
        "const p = document.querySelector('p.done'); return p ? p.textContent : '';",
        json!([]),
    );
    assert!(
        done.as_str()
            .unwrap()
            .contains("moved from development to staging"),
        "{done}"
    );
    assert_eq!(count(&b, "span.stage.staging"), 1);
    assert_eq!(count(&b, "span.stage.production"), 1);
    let newest = b.eval(
        "return [...document.querySelectorAll('ul.changelog > li')].slice(0, 3).map(l => l.textContent).join(' | ');",
        json!([]),
    );
    let newest = newest.as_str().unwrap();
    assert!(
        newest.contains("quant") && newest.contains("staging"),
        "the move is recorded under the signed-in user: {newest}"
    );
    no_console_errors(&b, "model after promotion");
    b.screenshot(&shots.join("model.png"));

    // Version 2 to production (forced past a failed check, with a reason), then rolled back:
    // the rollback button names the version it restores.
    assert_eq!(
        count(&b, "form.action[action$='/rollback']"),
        0,
        "nothing to go back to"
    );
    b.open(&format!("{base}/models/spx/versions/2"));
    promote_with_form(&b, "production", "take over");
    let button = b.eval(
        "const f = document.querySelector(\"form.action[action$='/rollback'] button\"); \
         return f ? f.textContent : '';",
        json!([]),
    );
    assert_eq!(button, "Roll production back to v1");
    b.eval(
        "const f = document.querySelector(\"form.action[action$='/rollback']\");\
         f.querySelector('input[name=reason]').value = 'v2 misbehaves';\
         f.querySelector('button').click();",
        json!([]),
    );
    wait_for(
        &b,
        "const p = document.querySelector('p.done'); \
         return !!p && p.textContent.includes('rolled back from version 2 to version 1');",
    );
    no_console_errors(&b, "model after rollback");
}

/// A `hone train` started while its run's page is open: every fold's scores reach the page's
/// chart within 2 s of being logged (server-sent events; the page does not poll).
#[test]
fn a_run_page_follows_hone_train_live() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("live.toml");
    // Slow enough (about a second a fold on two cores) to watch it.
    std::fs::write(
        &config,
        format!(
            "name = \"live\"\n[data]\npath = \"{}\"\ntime_column = \"date\"\n\
             [data.derive]\nprice = \"close\"\nreturns = [1, 5, 20]\nrolling = [20]\n\
             [target]\nkind = \"direction\"\n[split]\nscheme = \"timeseries\"\nn_splits = 5\n\
             holdout = 0.2\n[model]\ntype = \"lightgbm\"\n[model.params]\nnum_iterations = 1000\n\
             learning_rate = 0.01\nnum_leaves = 63\nmin_data_in_leaf = 5\n",
            common::bundled_data()
        ),
    )
    .unwrap();
    let server = ServerProcess::in_dir(d, &[]);
    let base = format!("http://{}", server.addr);
    // The browser first: its start-up must not eat into the job's time.
    let b = Browser::start();
    let mut train = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(["train", &config.display().to_string(), "--no-outputs"])
        .args(["--store", &store_uri(d)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = hone_track::open_store(&store_uri(d)).unwrap();
    let started = std::time::Instant::now();
    let run = loop {
        let found = store.get_experiment_by_name("live").unwrap().and_then(|e| {
            let req = hone_track::SearchRequest {
                experiment_ids: vec![e.experiment_id],
                filter: "attributes.status = 'RUNNING'".into(),
                max_results: 10,
                ..Default::default()
            };
            store.search_runs(&req).unwrap().0.into_iter().next()
        });
        if let Some(r) = found {
            break r.info.run_id;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "the job's run never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    b.open(&format!("{base}/runs/{run}"));
    let opened = hone_track::now_ms();
    let key = "cv.fold.accuracy";
    let shown = |b: &Browser| -> usize {
        b.eval(
            "const f = [...document.querySelectorAll('figcaption')]\
               .find(c => c.firstChild && c.firstChild.textContent.trim() === arguments[0]);\
             return f ? parseInt(f.querySelector('small').textContent) : 0;",
            json!([key]),
        )
        .as_u64()
        .unwrap_or(0) as usize
    };
    let mut checked = Vec::new();
    loop {
        let done = train.try_wait().unwrap().is_some();
        let history = store.metric_history(&run, key).unwrap();
        let on_page = shown(&b);
        // A chart needs two points; from the second on, each point logged must be on the page
        // within 2 s of its timestamp.
        for (i, p) in history.iter().enumerate().skip(1) {
            let age = hone_track::now_ms() - p.timestamp;
            if on_page > i {
                if !checked.iter().any(|(k, _)| *k == i) {
                    checked.push((i, age));
                }
            } else if p.timestamp >= opened {
                // (Points logged before the page opened are in its first render.)
                assert!(
                    age < 2000,
                    "fold {} logged {age} ms ago, not on the page",
                    i + 1
                );
            }
        }
        if done && checked.len() + 1 >= history.len() {
            break;
        }
        assert!(started.elapsed().as_secs() < 120, "the job did not end");
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(train.wait().unwrap().success());
    assert!(checked.len() >= 3, "too few folds watched: {checked:?}");
    eprintln!("fold scores on the page (fold index, ms after logging, at most): {checked:?}");
    no_console_errors(&b, "run page following hone train");
    b.screenshot(&screenshots().join("live_train.png"));
}
