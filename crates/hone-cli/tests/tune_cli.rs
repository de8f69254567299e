//! `hone tune` and `hone study` as a user runs them: ask/tell round trips, bad input, parallel
//! trials, Ctrl-C and kill -9 mid-study followed by a resume.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn hone_in(store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .env("HONE_STORE_URI", store)
        .env_remove("HONE_ARTIFACTS_URI")
        .output()
        .expect("run hone")
}

fn spawn_in(store: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .env("HONE_STORE_URI", store)
        .env_remove("HONE_ARTIFACTS_URI")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hone")
}

fn json_of(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "hone failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

fn store_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hone.db").display())
}

/// A small, fast search: logistic regression on a few causal features.
fn tune_config(dir: &Path, n_trials: usize, extra: &str) -> String {
    let text = format!(
        r#"name = "lt"
metrics = ["roc_auc", "log_loss"]
[data]
path = "{data}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5, 20]
rolling = [5, 20]
[target]
kind = "direction"
horizon = 1
[preprocess]
scale = "standard"
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "logistic"
penalty = "l2"
C = 1.0
[search]
sampler = "random"
n_trials = {n_trials}
metric = "log_loss"
seed = 3
{extra}
[search.space."model.C"]
type = "float"
low = 0.001
high = 10.0
log = true
[search.space."preprocess.scale"]
type = "categorical"
choices = ["standard", "robust", "minmax"]
"#,
        data = common::bundled_data()
    );
    let p = dir.join("lt.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn trials(store: &str, name: &str) -> Vec<Value> {
    let v = json_of(&hone_in(
        store,
        &["study", "trials", "--name", name, "--json"],
    ));
    v["items"].as_array().unwrap().clone()
}

fn count(trials: &[Value], state: &str) -> usize {
    trials.iter().filter(|t| t["state"] == state).count()
}

fn wait_for_complete(store: &str, name: &str, n: usize, child: &mut Child) {
    let start = Instant::now();
    loop {
        assert!(child.try_wait().unwrap().is_none(), "tune exited early");
        let o = hone_in(store, &["study", "trials", "--name", name, "--json"]);
        if o.status.success() {
            let t: Value = serde_json::from_slice(&o.stdout).unwrap();
            if count(t["items"].as_array().unwrap(), "COMPLETE") >= n {
                return;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn study_cli_ask_tell_round_trip_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let space = dir.path().join("space.toml");
    std::fs::write(
        &space,
        "[x]\ntype = \"float\"\nlow = -5\nhigh = 5\n[kind]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n\
         [depth]\ntype = \"int\"\nlow = 1\nhigh = 4\nwhen = { kind = [\"b\"] }\n",
    )
    .unwrap();
    let sp = space.display().to_string();
    let h = |args: &[&str]| hone_in(&store, args);
    json_of(&h(&[
        "study",
        "create",
        "--name",
        "s",
        "--space",
        &sp,
        "--sampler",
        "random",
        "--direction",
        "minimize",
        "--seed",
        "5",
        "--json",
    ]));
    let q = json_of(&h(&[
        "study",
        "enqueue",
        "--name",
        "s",
        "--params",
        r#"{"x": 1.0, "kind": "a"}"#,
        "--json",
    ]));
    assert_eq!(q["state"], "WAITING");
    let mut asked = Vec::new();
    for i in 0..6 {
        let a = json_of(&h(&["study", "ask", "--name", "s", "--json"]));
        let n = a["trial"].as_u64().unwrap();
        let x = a["params"]["x"].as_f64().unwrap();
        if i == 0 {
            assert_eq!(x, 1.0, "the enqueued trial comes first");
        }
        // Conditional: depth only when kind = b.
        assert_eq!(
            a["params"].get("depth").is_some(),
            a["params"]["kind"] == "b"
        );
        let value = ((x - 1.0) * (x - 1.0)).to_string();
        let t = json_of(&h(&[
            "study",
            "tell",
            "--name",
            "s",
            "--trial",
            &n.to_string(),
            "--value",
            &value,
            "--json",
        ]));
        assert_eq!(t["state"], "COMPLETE");
        asked.push((n, x));
    }
    let best = json_of(&h(&["study", "best", "--name", "s", "--json"]));
    assert_eq!(best["trial"], 0);
    assert_eq!(best["value"], 0.0);
    let all = trials(&store, "s");
    assert_eq!(all.len(), 6);
    // Values round-trip exactly through the store.
    for ((n, x), t) in asked.iter().zip(&all) {
        assert_eq!(t["trial"].as_u64(), Some(*n));
        assert_eq!(t["params"]["x"].as_f64(), Some(*x));
    }
    // A failed trial and a pruned one.
    let a = json_of(&h(&["study", "ask", "--name", "s", "--json"]));
    let n = a["trial"].to_string();
    let f = json_of(&h(&[
        "study", "tell", "--name", "s", "--trial", &n, "--state", "fail", "--json",
    ]));
    assert_eq!(f["state"], "FAIL");

    // Bad input: clear messages, usage exit code 2, nothing lost.
    let bad = |args: &[&str], want: &str| {
        let o = h(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    bad(
        &[
            "study", "tell", "--name", "s", "--trial", "0", "--value", "1",
        ],
        "trial 0 is COMPLETE",
    );
    bad(
        &["study", "ask", "--name", "nope"],
        "no study named \"nope\"",
    );
    bad(
        &[
            "study", "tell", "--name", "s", "--trial", "99", "--value", "1",
        ],
        "no trial 99",
    );
    bad(
        &[
            "study",
            "create",
            "--name",
            "g",
            "--space",
            &sp,
            "--sampler",
            "grid",
        ],
        "\"x\" is a continuous float; give it a step",
    );
    bad(
        &[
            "study",
            "create",
            "--name",
            "s",
            "--space",
            &sp,
            "--sampler",
            "random",
        ],
        "already exists",
    );
    bad(
        &[
            "study",
            "enqueue",
            "--name",
            "s",
            "--params",
            r#"{"x": 9.0, "kind": "a"}"#,
        ],
        "outside its space",
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[lr]\ntype = \"float\"\nlow = 1\nhigh = 0.1\n").unwrap();
    bad(
        &[
            "study",
            "create",
            "--name",
            "b",
            "--space",
            &broken.display().to_string(),
        ],
        "[lr]: needs finite low <= high",
    );
    assert_eq!(trials(&store, "s").len(), 7);
}

#[test]
fn parallel_random_search_matches_sequential() {
    let run = |jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path());
        let cfg = tune_config(dir.path(), 6, "");
        let v = json_of(&hone_in(
            &store,
            &["tune", &cfg, "--no-refit", "--json", "--jobs", jobs],
        ));
        assert_eq!(v["trials"]["complete"], 6);
        // Every trial's run carries its fold models' mean size and cost, objective or not.
        let runs = json_of(&hone_in(
            &store,
            &[
                "runs",
                "search",
                "--experiment",
                "lt-study",
                "--filter",
                "metrics.`complexity.nonzero_coefficients` >= 0 AND metrics.`complexity.model_size_bytes` > 0",
                "--json",
            ],
        ));
        assert_eq!(runs["items"].as_array().unwrap().len(), 6, "{runs}");
        let mut t: Vec<(u64, Value, Value)> = trials(&store, "lt-study")
            .into_iter()
            .map(|t| {
                (
                    t["trial"].as_u64().unwrap(),
                    t["params"].clone(),
                    t["value"].clone(),
                )
            })
            .collect();
        t.sort_by_key(|x| x.0);
        (t, v["best_trial"]["trial"].clone())
    };
    let (seq, best_seq) = run("1");
    let (par, best_par) = run("2");
    assert_eq!(seq, par);
    assert_eq!(best_seq, best_par);
}

#[test]
fn tune_resumes_after_kill_and_after_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let cfg = tune_config(dir.path(), 8, "");
    let args = ["tune", cfg.as_str(), "--no-refit", "--json"];

    // kill -9 mid-study: the running trial is left RUNNING with a dead owner.
    let mut child = spawn_in(&store, &args);
    wait_for_complete(&store, "lt-study", 2, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = trials(&store, "lt-study");
    let done_before = count(&before, "COMPLETE");

    // Ctrl-C on the resumed search: exit 130, running trials marked FAIL, nothing RUNNING.
    let mut child = spawn_in(&store, &args);
    wait_for_complete(&store, "lt-study", done_before + 1, &mut child);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("resume with the same command"), "{err}");
    let mid = trials(&store, "lt-study");
    assert_eq!(count(&mid, "RUNNING"), 0, "{mid:?}");

    // The same command again finishes the budget: 8 finished (COMPLETE or PRUNED) trials;
    // the killed and interrupted ones (FAIL) do not use it up.
    let v = json_of(&hone_in(&store, &args));
    let all = trials(&store, "lt-study");
    assert_eq!(count(&all, "RUNNING"), 0);
    let finished = count(&all, "COMPLETE") + count(&all, "PRUNED");
    assert_eq!(finished, 8, "{all:?}");
    assert_eq!(
        v["trials"]["complete"].as_u64().unwrap() + v["trials"]["pruned"].as_u64().unwrap(),
        8
    );
    // Trial k drew the same params as in an uninterrupted study with the same seed.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh_store = store_in(fresh_dir.path());
    let fresh_cfg = tune_config(fresh_dir.path(), 8, "");
    json_of(&hone_in(
        &fresh_store,
        &["tune", &fresh_cfg, "--no-refit", "--json"],
    ));
    let fresh = trials(&fresh_store, "lt-study");
    for (a, b) in all.iter().zip(&fresh) {
        assert_eq!(a["trial"], b["trial"]);
        assert_eq!(a["params"], b["params"]);
        if a["state"] == "COMPLETE" {
            assert_eq!(a["value"], b["value"]);
        }
    }
}

#[test]
fn tune_config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let check = |extra: &str, space_fix: Option<(&str, &str)>, want: &str| {
        let p = tune_config(dir.path(), 4, extra);
        if let Some((from, to)) = space_fix {
            let t = std::fs::read_to_string(&p).unwrap().replace(from, to);
            std::fs::write(&p, t).unwrap();
        }
        let o = hone_in(&store, &["tune", &p, "--no-refit"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
    };
    check("n_trails = 3", None, "unknown key \"n_trails\"");
    check(
        "steps = \"rounds\"",
        None,
        "steps = \"rounds\" needs a model that trains in steps with an early-stopping slice",
    );
    check(
        "",
        Some(("\"model.C\"", "\"model.CC\"")),
        "space.\"model.CC\"",
    );
    check(
        "",
        Some(("sampler = \"random\"", "sampler = \"grid\"")),
        "\"model.C\" is a continuous float",
    );
    check(
        "",
        Some(("metric = \"log_loss\"", "metric = \"r2\"")),
        "metric",
    );
    check(
        "",
        Some(("sampler = \"random\"", "sampler = \"tpee\"")),
        "unknown sampler \"tpee\"",
    );
    // Choosing from a front needs a front of two objectives, and a rule it knows.
    check(
        "select = \"knee\"",
        None,
        "select = \"knee\" needs two objectives",
    );
    check(
        "select = \"elbow\"",
        None,
        "select must be \"first\", \"knee\" or \"min_complexity_within = X\"",
    );
    // Without a metrics list the objective is checked against the task once the data is
    // loaded — still before the study exists.
    let p = tune_config(dir.path(), 4, "");
    let t = std::fs::read_to_string(&p)
        .unwrap()
        .replace("metrics = [\"roc_auc\", \"log_loss\"]\n", "")
        .replace("metric = \"log_loss\"", "metric = \"r2\"");
    std::fs::write(&p, t).unwrap();
    let o = hone_in(&store, &["tune", &p, "--no-refit"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("metric r2 does not apply to this binary task"),
        "{err}"
    );
    let none = hone_in(&store, &["study", "trials", "--name", "lt-study"]);
    assert_eq!(none.status.code(), Some(2), "no study may be left behind");
}

#[test]
fn two_processes_share_one_study_on_postgresql() {
    let pg = hone_test_support::PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = tune_config(dir.path(), 10, "");
    let artifacts = dir.path().join("artifacts").display().to_string();
    let args = [
        "tune",
        cfg.as_str(),
        "--no-refit",
        "--json",
        "--artifacts",
        artifacts.as_str(),
    ];
    let a = spawn_in(&pg.uri, &args);
    let b = spawn_in(&pg.uri, &args);
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let all = trials(&pg.uri, "lt-study");
    // Unique, gap-free numbers from the store's counter; the budget is met, overshooting by at
    // most the one other worker.
    let numbers: Vec<u64> = all.iter().map(|t| t["trial"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (0..all.len() as u64).collect::<Vec<_>>());
    assert!((10..=11).contains(&all.len()), "{} trials", all.len());
    assert_eq!(count(&all, "COMPLETE"), all.len());
    // Both workers drew what trial k draws in a single-process study with the same seed.
    let solo_dir = tempfile::tempdir().unwrap();
    let solo_store = store_in(solo_dir.path());
    let solo_cfg = tune_config(solo_dir.path(), all.len(), "");
    json_of(&hone_in(
        &solo_store,
        &["tune", &solo_cfg, "--no-refit", "--json"],
    ));
    for (a, b) in all.iter().zip(&trials(&solo_store, "lt-study")) {
        assert_eq!(a["params"], b["params"]);
    }
}

#[test]
fn boosting_rounds_as_pruning_steps() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_direction_tune.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace(
            "path = \"data/sp500_daily_1999_2018.csv\"",
            &format!("path = \"{}\"", common::bundled_data()),
        )
        .replace(
            "pruner = \"median\"",
            "pruner = { type = \"median\", n_startup_trials = 2 }\nsteps = \"rounds\"",
        )
        .replace("n_trials = 30", "n_trials = 10");
    let cfg = dir.path().join("rounds.toml");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.display().to_string();
    let v = json_of(&hone_in(&store, &["tune", &cfg, "--no-refit", "--json"]));
    let all = trials(&store, "sp500_direction_tune-study");
    assert_eq!(all.len(), 10);
    // Completed trials report one step per boosting round of every fold (far more than the
    // 5 folds); steps are fold × rounds + round, so fold 2's rounds start at 300.
    let steps = |t: &Value| -> Vec<u64> {
        t.get("intermediate")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| k.parse().unwrap()).collect())
            .unwrap_or_default()
    };
    let complete: Vec<&Value> = all.iter().filter(|t| t["state"] == "COMPLETE").collect();
    assert!(!complete.is_empty());
    for t in &complete {
        let s = steps(t);
        assert!(s.len() > 5, "{t}");
        assert!(s.iter().any(|&k| k >= 300), "{t}");
    }
    // Pruning happens inside a fold's boosting.
    let pruned: Vec<&Value> = all.iter().filter(|t| t["state"] == "PRUNED").collect();
    assert!(!pruned.is_empty(), "{all:?}");
    assert_eq!(
        v["trials"]["pruned"].as_u64().unwrap() as usize,
        pruned.len()
    );
}

#[test]
fn tune_refit_folders_carry_the_run_id_or_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let cfg = tune_config(dir.path(), 3, "");
    let tune = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(["tune", &cfg, "--json"])
            .args(extra)
            .env("HONE_STORE_URI", &store)
            .env_remove("HONE_ARTIFACTS_URI")
            .current_dir(dir.path())
            .output()
            .unwrap();
        json_of(&o)
    };
    // --no-outputs: no folder; the refit's files and tune.json are its artifacts.
    let v = tune(&["--no-outputs"]);
    assert_eq!(v["out_dir"], Value::Null, "{v}");
    assert!(!dir.path().join("runs").exists());
    let run_id = v["final_run_id"].as_str().unwrap();
    let arts = json_of(&hone_in(&store, &["artifacts", "list", run_id, "--json"]));
    let paths: Vec<&str> = arts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    for f in [
        "tune.json",
        "model.json",
        "config.toml",
        "pipeline/pipeline.json",
    ] {
        assert!(paths.contains(&f), "{f}: {paths:?}");
    }
    // The refit records the whole config, its search table included.
    let show = json_of(&hone_in(&store, &["runs", "show", run_id, "--json"]));
    let params = show["run"]["params"].as_object().unwrap();
    assert_eq!(params["search.sampler"], "random", "{params:?}");
    // By default the refit's folder ends with its run id, and holds tune.json.
    let v = tune(&[]);
    let run_id = v["final_run_id"].as_str().unwrap();
    let out = v["out_dir"].as_str().unwrap();
    assert!(
        out.starts_with("runs/lt-study-") && out.ends_with(&run_id[..8]),
        "{out}"
    );
    assert!(dir.path().join(out).join("tune.json").is_file());
    let o = hone_in(&store, &["tune", &cfg, "--no-outputs", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Accuracy against model size: a two-objective search whose second objective is a cost of the
/// trial's fold models (their mean number of non-zero coefficients, minimised by default). An
/// L1 logistic regression keeps fewer coefficients at a smaller C, so the cost follows C; the
/// reported front is non-dominated; a cost the model has no count for fails the trials with a
/// message naming it.
#[test]
fn a_model_cost_is_a_search_objective() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let base = std::fs::read_to_string(tune_config(dir.path(), 12, "")).unwrap();
    let text = base
        .replace("penalty = \"l2\"", "penalty = \"l1\"")
        .replace(
            "metric = \"log_loss\"",
            "metrics = [\"log_loss\", \"nonzero_coefficients\"]",
        );
    let cfg = dir.path().join("cost.toml");
    std::fs::write(&cfg, &text).unwrap();
    let v = json_of(&hone_in(
        &store,
        &["tune", cfg.to_str().unwrap(), "--no-refit", "--json"],
    ));
    let all = trials(&store, "lt-study");
    assert_eq!(count(&all, "COMPLETE"), 12, "{all:?}");
    // (C, log loss, mean non-zero coefficients) per trial.
    let points: Vec<(f64, f64, f64)> = all
        .iter()
        .map(|t| {
            let values = t["values"].as_array().unwrap();
            (
                t["params"]["model.C"].as_f64().unwrap(),
                values[0].as_f64().unwrap(),
                values[1].as_f64().unwrap(),
            )
        })
        .collect();
    let features = 1 + 3 + 2 * 3; // ret_1, ret_5, ret_20 and vol/ma_gap/zscore of 5 and 20 bars
    for (_, _, nz) in &points {
        assert!((0.0..=features as f64).contains(nz), "{points:?}");
    }
    // The sparsest trial has the smallest C, the densest the largest.
    let by_c = |a: &&(f64, f64, f64), b: &&(f64, f64, f64)| a.0.total_cmp(&b.0);
    let smallest = points.iter().min_by(by_c).unwrap();
    let largest = points.iter().max_by(by_c).unwrap();
    assert!(smallest.2 < largest.2, "{points:?}");
    // The front: no reported trial is beaten on both objectives by another trial.
    let front = v["pareto_front"].as_array().unwrap();
    assert!(!front.is_empty());
    for f in front {
        let fv = f["values"].as_array().unwrap();
        let (a, b) = (fv[0].as_f64().unwrap(), fv[1].as_f64().unwrap());
        assert!(
            !points
                .iter()
                .any(|p| p.1 <= a && p.2 <= b && (p.1 < a || p.2 < b)),
            "{f} is dominated"
        );
    }
    // A linear model has no trees: refused before the study exists, naming what it reports.
    let trees = text
        .replace("\"nonzero_coefficients\"", "\"trees\"")
        .replace("name = \"lt\"", "name = \"lt2\"");
    std::fs::write(&cfg, trees).unwrap();
    let o = hone_in(&store, &["tune", cfg.to_str().unwrap(), "--no-refit"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("metric trees: a logistic model has no such count")
            && err.contains("nonzero_coefficients, parameters"),
        "{err}"
    );
    assert!(!err.contains("trial"), "no trial ran: {err}");
}

/// A LightGBM search whose objective is the number of trees (`num_iterations` without early
/// stopping), so the best trials sit at the range's lower bound.
fn trees_config(dir: &Path, name: &str, extra: &str, space_extra: &str) -> std::path::PathBuf {
    let text = format!(
        r#"name = "{name}"
metrics = ["roc_auc"]
[data]
path = "{data}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5]
[target]
kind = "direction"
horizon = 1
[split]
scheme = "timeseries"
n_splits = 2
holdout = 0.2
[model]
type = "lightgbm"
[model.params]
num_iterations = 60
num_leaves = 4
[search]
sampler = "tpe"
n_trials = 30
metrics = ["trees"]
seed = 3
{extra}
[search.space.num_iterations]
type = "int"
low = 50
high = 100
{space_extra}
"#,
        data = common::bundled_data()
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn an_adaptive_range_widens_where_the_best_trials_are_and_stops_at_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let cfg = trees_config(dir.path(), "grow", "adapt = true", "hard_low = 20");
    let o = hone_in(
        &store,
        &["tune", cfg.to_str().unwrap(), "--no-refit", "--json"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let v = json_of(&o);
    let revs = v["space_revisions"].as_array().unwrap();
    assert!(revs.len() >= 2, "{revs:?}\n{stderr}");
    // The first move: half the width (25) below the lower bound, the evidence stated.
    let first = &revs[0]["changes"][0];
    assert_eq!(first["param"], "model.params.num_iterations");
    assert_eq!(first["side"], "low");
    assert_eq!(first["to"]["low"], 25, "{first}");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("of the top 10 trials within 5 % of the lower bound"),
        "{first}"
    );
    assert!(stderr.contains("space revision 1 after trial"), "{stderr}");
    // The second stops at hard_low.
    let second = &revs[1]["changes"][0];
    assert_eq!(second["to"]["low"], 20, "{second}");
    assert!(second["reason"].as_str().unwrap().contains("hard_low 20"));
    // Trials used the widened range; earlier ones stay valid and counted.
    let all = trials(&store, "grow-study");
    assert_eq!(count(&all, "COMPLETE"), 30);
    let lowest = all
        .iter()
        .map(|t| t["params"]["model.params.num_iterations"].as_i64().unwrap())
        .min()
        .unwrap();
    assert!((20..50).contains(&lowest), "{lowest}");
    assert_eq!(v["best_trial"]["values"][0], 20.0);
    // A resumed study continues in the revised space and says so.
    let more = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("n_trials = 30", "n_trials = 32");
    std::fs::write(&cfg, more).unwrap();
    let o = hone_in(&store, &["tune", cfg.to_str().unwrap(), "--no-refit"]);
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("space revision 2 after trial"), "{stderr}");
    let all = trials(&store, "grow-study");
    assert!(all.iter().skip(30).all(|t| {
        let n = t["params"]["model.params.num_iterations"].as_i64().unwrap();
        (20..=100).contains(&n)
    }));
    // Without adapt the range stays where it was.
    let cfg = trees_config(dir.path(), "fixed", "", "");
    let v = json_of(&hone_in(
        &store,
        &["tune", cfg.to_str().unwrap(), "--no-refit", "--json"],
    ));
    assert!(v["space_revisions"].as_array().unwrap().is_empty());
    assert_eq!(v["best_trial"]["values"][0], 50.0);
}

#[test]
fn bad_adapt_settings_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    for (extra, space_extra, expect) in [
        (
            "adapt = \"yes\"",
            "",
            "adapt must be true, false or a table",
        ),
        (
            "adapt = { narrow_afte = 5 }",
            "",
            "adapt: unknown field `narrow_afte`",
        ),
        (
            "adapt = { narrow_after = 0 }",
            "",
            "narrow_after must be at least 1",
        ),
        (
            "adapt = true\nsampler = \"grid\"",
            "",
            "adapt cannot be used with sampler = \"grid\"",
        ),
        (
            "adapt = true",
            "hard_low = 60",
            "hard_low must be a number <= low (50)",
        ),
        (
            "adapt = true",
            "hard_high = \"x\"",
            "hard_high must be a number",
        ),
    ] {
        let cfg = trees_config(dir.path(), "bad", extra, space_extra);
        let text = std::fs::read_to_string(&cfg).unwrap();
        // A second `sampler` key replaces the first.
        let text = if extra.contains("grid") {
            text.replacen("sampler = \"tpe\"\n", "", 1)
        } else {
            text
        };
        std::fs::write(&cfg, text).unwrap();
        let o = hone_in(&store, &["tune", cfg.to_str().unwrap(), "--no-refit"]);
        assert_eq!(o.status.code(), Some(2), "{extra}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(expect), "{extra}: {err}");
        assert!(err.contains("bad.toml"), "{err}");
    }
}

#[test]
fn a_warm_start_enqueues_the_best_configurations_and_learns_from_every_trial() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let src = trees_config(dir.path(), "src", "", "");
    json_of(&hone_in(
        &store,
        &["tune", src.to_str().unwrap(), "--no-refit", "--json"],
    ));
    let mut src_trials = trials(&store, "src-study");
    src_trials.sort_by(|a, b| {
        a["values"][0]
            .as_f64()
            .unwrap()
            .total_cmp(&b["values"][0].as_f64().unwrap())
    });
    // The new study: a wider range and one more parameter.
    let text = std::fs::read_to_string(trees_config(
        dir.path(),
        "dst",
        "warm_start = { study = \"src-study\", top = 3 }",
        "[search.space.num_leaves]\ntype = \"int\"\nlow = 2\nhigh = 8",
    ))
    .unwrap()
    .replace("low = 50", "low = 40")
    .replace("n_trials = 30", "n_trials = 12");
    let dst = dir.path().join("dst.toml");
    std::fs::write(&dst, text).unwrap();
    let o = hone_in(
        &store,
        &["tune", dst.to_str().unwrap(), "--no-refit", "--json"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let v = json_of(&o);
    let notes = v["warm_start"].as_array().unwrap();
    let text = format!("{notes:?}");
    for expect in [
        "its 3 best distinct configuration(s) enqueued",
        "has no values for model.params.num_leaves: drawn at random",
        "30 finished trials used as prior observations",
    ] {
        assert!(text.contains(expect), "{expect}: {text}");
    }
    assert!(
        stderr.contains("warm start: study \"src-study\""),
        "{stderr}"
    );
    // The first three trials are the earlier study's best configurations.
    let all = trials(&store, "dst-study");
    assert_eq!(
        count(&all, "COMPLETE"),
        12,
        "priors are not trials of the study"
    );
    let iters = |t: &Value| t["params"]["model.params.num_iterations"].as_i64().unwrap();
    let mut best_src: Vec<i64> = Vec::new();
    for t in &src_trials {
        if !best_src.contains(&iters(t)) {
            best_src.push(iters(t));
        }
    }
    let first: Vec<i64> = all[..3].iter().map(iters).collect();
    assert_eq!(first, best_src[..3].to_vec());
    // The rest are modelled from the priors at once (TPE's 10 start-up trials are already
    // there): they lean to few iterations, where a cold start draws uniformly from [40, 100].
    let rest: Vec<i64> = all[3..].iter().map(iters).collect();
    let mean = rest.iter().sum::<i64>() as f64 / rest.len() as f64;
    assert!(mean < 60.0, "{rest:?}");
    // A missing study or a bad entry is refused before anything runs.
    for (entry, expect) in [
        (
            "warm_start = { study = \"nope\" }",
            "no study named \"nope\"",
        ),
        ("warm_start = \"src-study\"", "is not a table"),
        (
            "warm_start = { study = \"src-study\", top = -1 }",
            "top must be a non-negative integer",
        ),
        ("warm_start = { study = \"bad-study\" }", "is this study"),
    ] {
        let cfg = trees_config(dir.path(), "bad", entry, "");
        let o = hone_in(&store, &["tune", cfg.to_str().unwrap(), "--no-refit"]);
        assert_eq!(o.status.code(), Some(2), "{entry}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(expect) && err.contains("bad.toml"),
            "{entry}: {err}"
        );
    }
}

/// `examples/sp500_lstm_tune.toml`: an LSTM tuned with purged k-fold CV, epochs as pruning
/// steps; the median pruner stops some trials inside a fold's training.
#[test]
fn an_lstm_is_tuned_with_epochs_as_pruning_steps() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_lstm_tune.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace(
            "path = \"data/sp500_daily_1999_2018.csv\"",
            &format!("path = \"{}\"", common::bundled_data()),
        )
        .replace("n_trials = 8", "n_trials = 6");
    let cfg = dir.path().join("lstm.toml");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.display().to_string();
    let v = json_of(&hone_in(&store, &["tune", &cfg, "--no-refit", "--json"]));
    let all = trials(&store, "sp500_lstm_tune-study");
    assert_eq!(all.len(), 6);
    let pruned = all.iter().filter(|t| t["state"] == "PRUNED").count();
    assert!(pruned > 0, "{all:?}");
    assert_eq!(v["trials"]["pruned"].as_u64().unwrap() as usize, pruned);
    // Every completed trial reports one step per epoch of each fold (more than the 4 folds).
    for t in all.iter().filter(|t| t["state"] == "COMPLETE") {
        let steps = t["intermediate"].as_object().map_or(0, |m| m.len());
        assert!(steps > 4, "{t}");
        assert!(t["params"].get("model.hidden_size").is_some(), "{t}");
    }
}
