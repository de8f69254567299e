//! Hardening of `hone study` and `hone tune`: racing `tell`s of one trial, grid limits,
//! non-finite values, numeric options, and a study that survives `kill -9` twice — on SQLite
//! and on PostgreSQL.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hone_track::store::SearchRequest;
use hone_track::{Backend, RunStatus, Store, open_store};
use serde_json::Value;

/// A store and artifact folder in a temp dir, and the working directory commands run in.
struct Env {
    dir: tempfile::TempDir,
    store: String,
    opened: OnceLock<Box<dyn Backend>>,
}

impl Env {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("hone.db").display());
        Env {
            dir,
            store,
            opened: OnceLock::new(),
        }
    }

    fn on(store: &str) -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
            store: store.to_string(),
            opened: OnceLock::new(),
        }
    }

    /// The store, opened once (the tests read it directly, as any client would).
    fn db(&self) -> &dyn Store {
        self.opened
            .get_or_init(|| open_store(&self.store).unwrap())
            .as_ref()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hone"));
        c.args(args)
            .current_dir(self.path())
            .env("HONE_STORE_URI", &self.store)
            .env("HONE_ARTIFACTS_URI", self.path().join("artifacts"));
        c
    }

    fn hone(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run hone")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hone")
    }

    fn json(&self, args: &[&str]) -> Value {
        let o = self.hone(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).expect("JSON on stdout")
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

/// Asserts a refusal: exit code `code`, exactly one line on stderr containing every `want`,
/// nothing on stdout, no panic.
fn refused(o: &Output, code: i32, want: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for w in want {
        assert!(err.contains(w), "want {w:?} in {err}");
    }
    err
}

/// Asserts that a refused command left no study behind: either the store was never created
/// (read-only commands do not create one) or it holds no such study.
fn no_study(o: &Output) {
    let err = refused(o, 2, &[]);
    assert!(
        err.contains("no study") || err.contains("does not exist"),
        "{err}"
    );
}

/// Runs `f` on SQLite, then on a throwaway PostgreSQL cluster (skipped, saying so, when the
/// PostgreSQL server binaries are not installed).
fn on_both_backends(f: impl Fn(&Env)) {
    f(&Env::sqlite());
    if !pg_available() {
        eprintln!("PostgreSQL server binaries not found: skipping the PostgreSQL run");
        return;
    }
    let pg = hone_test_support::PgCluster::start();
    f(&Env::on(&pg.uri));
}

fn pg_available() -> bool {
    std::env::var_os("HONE_PG_BIN").is_some()
        || std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().any(|e| e.path().join("bin/initdb").exists()))
            .unwrap_or(false)
}

const SPACE: &str = "[x]\ntype = \"float\"\nlow = -1\nhigh = 1\n";

fn create(env: &Env, name: &str) {
    let sp = env.write("space.toml", SPACE);
    env.json(&[
        "study",
        "create",
        "--name",
        name,
        "--space",
        &sp,
        "--sampler",
        "random",
        "--json",
    ]);
}

/// The study's trial runs with their status, state tag and decoded record.
fn trial_runs(env: &Env, study: &str) -> Vec<(RunStatus, String, Value, String)> {
    let store = env.db();
    let Some(exp) = store.get_experiment_by_name(study).unwrap() else {
        return Vec::new();
    };
    let (runs, _) = store
        .search_runs(&SearchRequest {
            experiment_ids: vec![exp.experiment_id],
            max_results: 10_000,
            ..Default::default()
        })
        .unwrap();
    runs.into_iter()
        .map(|r| {
            let tag = |k: &str| {
                r.tags
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let record: Value = serde_json::from_str(&tag("hone.trial")).unwrap_or(Value::Null);
            (
                r.info.status,
                tag("hone.trial.state"),
                record,
                r.info.run_id,
            )
        })
        .collect()
}

#[test]
fn ten_parallel_tells_of_one_trial_have_one_winner() {
    on_both_backends(|env| {
        create(env, "race");
        let asked = env.json(&["study", "ask", "--name", "race", "--json"]);
        assert_eq!(asked["trial"], 0);
        let children: Vec<Child> = (0..10)
            .map(|i| {
                let v = format!("0.{i}");
                env.spawn(&[
                    "study", "tell", "--name", "race", "--trial", "0", "--value", &v,
                ])
            })
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let winners: Vec<usize> = (0..10).filter(|i| outputs[*i].status.success()).collect();
        assert_eq!(winners.len(), 1, "exactly one tell wins: {winners:?}");
        for (i, o) in outputs.iter().enumerate() {
            if i != winners[0] {
                refused(o, 2, &["trial 0 is COMPLETE", "already finished"]);
            }
        }
        // The store keeps the winner's value, once, in every view of the trial.
        let want = format!("0.{}", winners[0]).parse::<f64>().unwrap();
        let runs = trial_runs(env, "race");
        assert_eq!(runs.len(), 1);
        let (status, state, record, run_id) = &runs[0];
        assert_eq!((*status, state.as_str()), (RunStatus::Finished, "COMPLETE"));
        assert_eq!(record["values"], serde_json::json!([want]));
        let history = env.db().metric_history(run_id, "value").unwrap();
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0].value, want);
        // A finished trial takes no report and no second verdict.
        let finished = ["trial 0 is COMPLETE"];
        let h = |args: &[&str]| env.hone(args);
        refused(
            &h(&[
                "study", "report", "--name", "race", "--trial", "0", "--step", "1", "--value",
                "0.5",
            ]),
            2,
            &finished,
        );
        for state in ["pruned", "fail"] {
            refused(
                &h(&[
                    "study", "tell", "--name", "race", "--trial", "0", "--state", state,
                ]),
                2,
                &finished,
            );
        }
        let runs = trial_runs(env, "race");
        assert_eq!(runs[0].1, "COMPLETE");
        assert_eq!(runs[0].2["values"], serde_json::json!([want]));
    });
}

#[test]
fn huge_grids_are_refused_by_study_create_and_tune() {
    let env = Env::sqlite();
    // 2^53 + 1 values: a valid int range, far over the grid limit.
    let huge = env.write(
        "huge.toml",
        "[n]\ntype = \"int\"\nlow = 0\nhigh = 9007199254740992\n[k]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n",
    );
    let o = env.hone(&[
        "study",
        "create",
        "--name",
        "g",
        "--space",
        &huge,
        "--sampler",
        "grid",
    ]);
    refused(
        &o,
        2,
        &["grid sampler", "\"n\" 9007199254740993", "over the limit"],
    );
    // An int range beyond what a float holds exactly is refused by the space itself.
    let wide = env.write(
        "wide.toml",
        "[n]\ntype = \"int\"\nlow = -9223372036854775808\nhigh = 9223372036854775807\n",
    );
    let o = env.hone(&[
        "study",
        "create",
        "--name",
        "g",
        "--space",
        &wide,
        "--sampler",
        "grid",
    ]);
    refused(&o, 2, &["[n]", "2^53"]);
    no_study(&env.hone(&["study", "trials", "--name", "g"]));

    // The same through `hone tune`: refused before any study or output exists.
    let data = write_data(&env, 300);
    let out = env.path().join("out");
    let cfg = tune_config(
        &env,
        &data,
        "sampler = \"grid\"\nn_trials = 5\n",
        "[search.space.num_leaves]\ntype = \"int\"\nlow = 2\nhigh = 9007199254740992\n",
    );
    let o = env.hone(&["tune", &cfg, "--out", &out.display().to_string()]);
    refused(
        &o,
        2,
        &[
            "\"model.params.num_leaves\" 9007199254740991",
            "over the limit",
        ],
    );
    assert!(!out.exists(), "no output directory");
    no_study(&env.hone(&["study", "trials", "--name", "dur-study"]));
}

#[test]
fn nan_values_are_judged_alike_by_enqueue_and_tell() {
    let env = Env::sqlite();
    create(&env, "nan");
    let params = r#"{"x": 0.5}"#;
    for (value, state) in [("NaN", "FAIL"), ("-inf", "COMPLETE"), ("0.25", "COMPLETE")] {
        let q = env.json(&[
            "study", "enqueue", "--name", "nan", "--params", params, "--values", value, "--json",
        ]);
        assert_eq!(q["state"], state, "enqueue --values {value}");
        let n = env.json(&["study", "ask", "--name", "nan", "--json"])["trial"].to_string();
        let t = env.json(&[
            "study", "tell", "--name", "nan", "--trial", &n, "--value", value, "--json",
        ]);
        assert_eq!(t["state"], state, "tell --value {value}");
        if value == "NaN" {
            // Nothing COMPLETE yet: a NaN is never the best trial.
            refused(
                &env.hone(&["study", "best", "--name", "nan"]),
                1,
                &["no COMPLETE trial"],
            );
        }
    }
    let runs = trial_runs(&env, "nan");
    let failed: Vec<_> = runs.iter().filter(|r| r.1 == "FAIL").collect();
    assert_eq!(failed.len(), 2);
    for (status, _, record, _) in failed {
        assert_eq!(*status, RunStatus::Failed);
        assert_eq!(record["state"], "FAIL");
        assert!(record.get("values").is_none(), "{record}");
    }
}

#[test]
fn numeric_options_are_checked() {
    let env = Env::sqlite();
    let data = write_data(&env, 300);
    let out = env.path().join("out");
    let out_s = out.display().to_string();
    let space = "[search.space.num_leaves]\ntype = \"int\"\nlow = 2\nhigh = 8\n";
    let base = "sampler = \"random\"\nn_trials = 3\n";
    let cfg = tune_config(&env, &data, base, space);
    for (jobs, want) in [("0", "got 0"), ("5000", "got 5000")] {
        let o = env.hone(&["tune", &cfg, "--jobs", jobs, "--out", &out_s]);
        refused(&o, 2, &["--jobs", want]);
    }
    let bad_search = [
        ("n_trials = 3\njobs = 0\n", "jobs must be at least 1"),
        ("n_trials = 0\n", "n_trials must be at least 1"),
        ("n_trials = -2\n", "n_trials must be a non-negative integer"),
        ("timeout = inf\n", "timeout"),
        (
            "timeout = 1e300\n",
            "timeout must be a finite number of seconds",
        ),
        ("timeout = nan\n", "timeout"),
        ("n_trials = 3\nseed = -1\n", "seed"),
    ];
    for (search, want) in bad_search {
        let cfg = tune_config(&env, &data, search, space);
        refused(&env.hone(&["tune", &cfg, "--out", &out_s]), 2, &[want]);
    }
    let bad_space = [
        (
            "[search.space.learning_rate]\ntype = \"float\"\nlow = 0.1\nhigh = 0.5\nstep = 0\n",
            "step must be > 0",
        ),
        (
            "[search.space.learning_rate]\ntype = \"float\"\nlow = 0.1\nhigh = 0.5\nstep = 1e-300\n",
            "step 1e-300 is too small",
        ),
        (
            "[search.space.learning_rate]\ntype = \"float\"\nlow = -1e308\nhigh = 1e308\n",
            "too wide",
        ),
        (
            "[search.space.num_leaves]\ntype = \"int\"\nlow = 2\nhigh = 8\nstep = 0\n",
            "step must be >= 1",
        ),
    ];
    for (space, want) in bad_space {
        let cfg = tune_config(&env, &data, base, space);
        refused(&env.hone(&["tune", &cfg, "--out", &out_s]), 2, &[want]);
    }
    assert!(!out.exists(), "no output directory");
    no_study(&env.hone(&["study", "trials", "--name", "dur-study"]));

    // `hone study`: steps beyond the store's range, NaN constraints.
    create(&env, "num");
    let n = env.json(&["study", "ask", "--name", "num", "--json"])["trial"].to_string();
    let o = env.hone(&[
        "study",
        "report",
        "--name",
        "num",
        "--trial",
        &n,
        "--step",
        "18446744073709551615",
        "--value",
        "1",
    ]);
    refused(&o, 2, &["--step 18446744073709551615"]);
    let o = env.hone(&[
        "study",
        "tell",
        "--name",
        "num",
        "--trial",
        &n,
        "--value",
        "1",
        "--constraints",
        "nan",
    ]);
    refused(&o, 2, &["--constraints"]);
    // Neither refusal touched the trial.
    let runs = trial_runs(&env, "num");
    assert_eq!(runs[0].1, "RUNNING");
}

/// A deterministic random-walk price series of `n` days.
fn write_data(env: &Env, n: usize) -> String {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut price = 100.0f64;
    let mut text = String::from("date,close\n");
    for i in 0..n {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = ((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5;
        price *= 1.0 + 0.02 * u;
        // A numeric time column (a day number): hone orders by it like a date.
        text.push_str(&format!("{},{price:.4}\n", 10_957 + i));
    }
    env.write("prices.csv", &text)
}

/// A small LightGBM direction model over `data` with the given `[search]` keys and space.
fn tune_config(env: &Env, data: &str, search: &str, space: &str) -> String {
    let text = format!(
        r#"name = "dur"
seed = 7
metrics = ["roc_auc", "log_loss"]
[data]
path = "{data}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5]
rolling = [5]
[target]
kind = "direction"
horizon = 1
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "lightgbm"
[model.params]
num_iterations = {rounds}
learning_rate = 0.05
min_data_in_leaf = 5
num_threads = 1
verbosity = -1
[search]
metric = "log_loss"
{search}
{space}"#,
        rounds = 150
    );
    env.write("tune.toml", &text)
}

/// COMPLETE + PRUNED trials of the study, read straight from the store.
fn finished(env: &Env, study: &str) -> usize {
    trial_runs(env, study)
        .iter()
        .filter(|r| r.1 == "COMPLETE" || r.1 == "PRUNED")
        .count()
}

/// `hone tune` killed with SIGKILL twice mid-study, then run again to the end: the budget is
/// met with finished trials, every trial number is unique, and no trial — killed ones
/// included — is left RUNNING in its run status, its state tag or its record.
fn survives_two_kills(env: &Env) {
    let data = write_data(env, 1500);
    let cfg = tune_config(
        env,
        &data,
        "sampler = \"random\"\nn_trials = 12\n",
        "[search.space.num_leaves]\ntype = \"int\"\nlow = 4\nhigh = 31\n\
         [search.space.learning_rate]\ntype = \"float\"\nlow = 0.01\nhigh = 0.2\nlog = true\n",
    );
    let args = ["tune", cfg.as_str(), "--no-refit", "--json"];
    let started = Instant::now();
    for kill in 0..2 {
        let target = finished(env, "dur-study") + 2;
        let mut child = env.spawn(&args);
        // Kill mid-trial: after two more trials finished, once the next one is RUNNING (between
        // a tell and the next ask no trial runs, and a kill there tests nothing).
        let running = |env: &Env| {
            trial_runs(env, "dur-study")
                .iter()
                .any(|r| r.1 == "RUNNING")
        };
        while finished(env, "dur-study") < target || !running(env) {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "tune ended ({status}) before kill {kill}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(started.elapsed() < Duration::from_secs(90), "no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let before = finished(env, "dur-study");
    assert!(
        before < 12,
        "the kills came too late to test anything ({before})"
    );
    let v = env.json(&args);
    assert_eq!(
        v["trials"]["complete"].as_u64().unwrap() + v["trials"]["pruned"].as_u64().unwrap(),
        12,
        "{v}"
    );
    let runs = trial_runs(env, "dur-study");
    assert_eq!(finished(env, "dur-study"), 12);
    let mut numbers: Vec<u64> = runs
        .iter()
        .map(|r| r.2["number"].as_u64().expect("every record has a number"))
        .collect();
    numbers.sort_unstable();
    let n = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), n, "trial numbers are unique");
    let mut killed = 0;
    for (status, state, record, _) in &runs {
        assert_ne!(*status, RunStatus::Running, "{record}");
        assert_ne!(state, "RUNNING", "{record}");
        assert_ne!(record["state"], "RUNNING", "{record}");
        if *status == RunStatus::Killed {
            killed += 1;
            assert_eq!(
                (state.as_str(), &record["state"]),
                ("FAIL", &Value::from("FAIL"))
            );
            assert!(record["finished_ms"].is_i64(), "{record}");
        }
    }
    assert!((1..=2).contains(&killed), "{killed} killed trials");
    // The study reads the killed trials as FAIL too.
    let listed = env.json(&["study", "trials", "--name", "dur-study", "--json"]);
    let states: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert!(!states.contains(&"RUNNING"), "{states:?}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn tune_survives_kill_9_twice() {
    on_both_backends(survives_two_kills);
}
