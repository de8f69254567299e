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
    let config = d.join("job.toml");
    std::fs::write(
        &config,
        format!(
            "name = \"spx_browser\"\n[data]\npath = \"{}\"\ntime_column = \"date\"\n\
             [data.derive]\nprice = \"close\"\nreturns = [1, 5, 20]\nrolling = [20]\n\
             [target]\nkind = \"direction\"\n[split]\nscheme = \"timeseries\"\nn_splits = 3\n\
             holdout = 0.2\n[model]\ntype = \"lightgbm\"\nearly_stopping_rounds = 20\n[model.params]\nnum_iterations = 60\n",
            common::bundled_data()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args([
            "train",
            &config.display().to_string(),
            "--no-outputs",
            "--json",
        ])
        .args(["--store", &store_uri(d)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parent = report["run_id"].as_str().unwrap().to_string();

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

    // The runs table: the parent, 3 folds and the final refit; then a filter typed into the
    // box and submitted keeps the one run with cross-validated means.
    b.open(&format!("{base}/experiments/1"));
    assert_eq!(count(&b, "table.runs tbody tr"), 5);
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
    assert_eq!(count(&b, "table.runs tbody tr"), 1);
    let first = b.eval(
        "return document.querySelector('table.runs tbody a').getAttribute('href');",
        json!([]),
    );
    assert_eq!(first, json!(format!("/runs/{parent}")));
    no_console_errors(&b, "filtered runs");

    // The run page of the parent, and of a fold with its learning curve.
    b.open(&format!("{base}/runs/{parent}"));
    assert!(count(&b, "section table.grid tr") > 10);
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
    eprintln!("screenshots in {}", shots.display());
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
