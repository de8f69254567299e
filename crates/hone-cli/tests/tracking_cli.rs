//! `hone train` recording into the store, and the store commands, as a user runs them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::StoreEnv as Env;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn train_is_tracked_and_the_store_commands_work() {
    let env = Env::new();
    let out = env.dir.path().join("run1");
    let report = env.json(&[
        "train",
        &example("sp500_direction.toml"),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let run_id = report["run_id"].as_str().unwrap().to_string();
    env.json(&[
        "train",
        &example("sp500_direction_logistic.toml"),
        "--out",
        "run2",
        "--json",
    ]);

    // The parent run: params, aggregated metrics, dataset, artifacts, 5 folds + final.
    let show = env.json(&["runs", "show", &run_id, "--json"]);
    let run = &show["run"];
    assert_eq!(run["info"]["status"], "FINISHED");
    // Params and metrics are flat {key: value} objects, as in the train report.
    let metric = |name: &str| run["metrics"][name].as_f64().unwrap();
    let cv_auc = report["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    assert_eq!(metric("cv.roc_auc.mean"), cv_auc);
    assert_eq!(
        metric("holdout.roc_auc"),
        report["holdout"]["metrics"]["roc_auc"].as_f64().unwrap()
    );
    assert_eq!(run["params"]["model.params.learning_rate"], "0.02");
    // The inputs are what the run used: its rows and features, the file's fingerprint inside.
    // (Earlier the digest was the file's fingerprint alone, so a second run on the same file
    // was recorded with the first run's rows and schema.)
    let inputs = show["inputs"].as_array().unwrap();
    let train = inputs.iter().find(|i| i["context"] == "train").unwrap();
    let test = inputs.iter().find(|i| i["context"] == "test").unwrap();
    assert_eq!(train["rows"], report["development"]["count"]);
    assert_eq!(test["rows"], report["holdout"]["rows"]["count"]);
    assert_ne!(train["digest"], test["digest"]);
    let schema: serde_json::Value =
        serde_json::from_str(train["schema"].as_str().unwrap()).unwrap();
    assert_eq!(schema["file_sha256"], report["fingerprint"]);
    assert_eq!(schema["features"], report["features"]);
    assert_eq!(show["children"].as_array().unwrap().len(), 6);
    for t in ["hone.version", "hone.os", "hone.cores", "hone.command"] {
        assert!(run["tags"][t].is_string(), "missing tag {t}");
    }

    // A fold's learning curve is a step metric, one point per boosting round.
    let fold1 = show["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["run_name"] == "fold-1")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let f1 = env.json(&["runs", "show", &fold1, "--json"]);
    let iters = report["folds"][0]["iterations_run"].as_u64().unwrap();
    assert!(f1["run"]["metrics"]["valid.binary_logloss"].is_f64());
    assert_eq!(
        f1["run"]["metric_steps"]["valid.binary_logloss"].as_u64(),
        Some(iters)
    );

    // Search with MLflow's grammar; bad filters point at the token and exit 2.
    let found = env.json(&[
        "runs",
        "search",
        "--experiment",
        "sp500_direction",
        "--experiment",
        "sp500_direction_logistic",
        "--filter",
        "metrics.`cv.roc_auc.mean` > 0 AND params.`model.type` = 'lightgbm'",
        "--order-by",
        "metrics.`cv.roc_auc.mean` DESC",
        "--json",
    ]);
    let runs = found["items"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["info"]["run_id"], run_id.as_str());
    let err = env.fails(
        &[
            "runs",
            "search",
            "--experiment",
            "sp500_direction",
            "--filter",
            "metrics.auc > 'x'",
        ],
        2,
    );
    assert!(
        err.contains("character 13") && err.contains("unquoted number"),
        "{err}"
    );
    let err = env.fails(&["runs", "search", "--experiment", "nope"], 2);
    assert!(err.contains("no experiment named"), "{err}");

    // Compare marks differing params.
    let other = env.json(&[
        "runs",
        "search",
        "--experiment",
        "sp500_direction_logistic",
        "--filter",
        "attributes.run_name = 'sp500_direction_logistic'",
        "--json",
    ])["items"][0]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Statistical comparison on the same holdout rows: DeLong, McNemar, bootstrap.
    let stat = env.json(&["compare", &run_id, &other, "--json"]);
    let tests: Vec<&str> = stat["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["test"].as_str().unwrap())
        .collect();
    assert_eq!(tests, ["delong", "mcnemar", "paired_bootstrap"]);
    assert_eq!(stat["rows"], report["holdout"]["rows"]["count"]);
    assert!(stat["tests"][0]["p_value"].as_f64().unwrap() <= 1.0);
    let cmp = env.json(&["runs", "compare", &run_id, &other, "--json"]);
    assert_eq!(cmp["params"]["model.type"]["differs"], true);
    assert_eq!(cmp["params"]["seed"]["differs"], false);
    assert!(
        env.ok(&["runs", "compare", &run_id, &other])
            .contains("* model.type")
    );

    // Artifacts: list, get (checksum verified, identical to the output file), verify.
    let arts = env.json(&["artifacts", "list", &run_id, "--json"]);
    assert!(
        arts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["path"] == "model.txt")
    );
    let got = env.dir.path().join("got.txt");
    env.ok(&[
        "artifacts",
        "get",
        &run_id,
        "model.txt",
        "--out",
        got.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(out.join("model.txt")).unwrap()
    );
    assert_eq!(
        env.json(&["artifacts", "verify", "--json"])["failed"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let sha = arts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "metrics.json")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = env
        .dir
        .path()
        .join("store/artifacts/blobs")
        .join(&sha[..2])
        .join(&sha);
    std::fs::write(&blob, b"tampered").unwrap();
    let err = env.fails(&["artifacts", "verify", &run_id], 1);
    assert!(err.contains("failed verification"), "{err}");
    let err = env.fails(&["artifacts", "get", &run_id, "metrics.json"], 1);
    assert!(
        err.contains("metrics.json") && err.contains("corrupted"),
        "{err}"
    );
    env.fails(&["artifacts", "get", &run_id, "nope.txt"], 2);

    // Delete, restore, prune (dry run first), purge, gc.
    env.ok(&["runs", "delete", &other]);
    assert_eq!(
        env.json(&[
            "runs",
            "list",
            "--experiment",
            "sp500_direction_logistic",
            "--json"
        ])["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    env.ok(&["runs", "restore", &other]);
    assert_eq!(
        env.json(&[
            "runs",
            "list",
            "--experiment",
            "sp500_direction_logistic",
            "--json"
        ])["items"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    let plan = env.json(&[
        "runs",
        "prune",
        "--experiment",
        "sp500_direction_logistic",
        "--keep-last",
        "0",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(plan["runs"].as_array().unwrap().len(), 1);
    assert_eq!(plan["deleted"], 0);
    let done = env.json(&[
        "runs",
        "prune",
        "--experiment",
        "sp500_direction_logistic",
        "--keep-last",
        "0",
        "--json",
    ]);
    assert_eq!(done["deleted"], 7, "parent and its 6 child runs");
    let purged = env.json(&["runs", "purge", "--json"]);
    assert_eq!(purged["purged"].as_array().unwrap().len(), 7);
    let gc = env.json(&["gc", "--dry-run", "--json"]);
    assert!(gc["blobs"].as_u64().unwrap() > 0);

    // Experiments.
    env.ok(&["experiments", "create", "scratch"]);
    env.fails(&["experiments", "create", "scratch"], 2);
    env.ok(&["experiments", "rename", "scratch", "scratch2"]);
    env.ok(&["experiments", "delete", "scratch2"]);
    let deleted = env.json(&["experiments", "list", "--deleted", "--json"]);
    assert_eq!(deleted["items"][0]["name"], "scratch2");
    assert_eq!(deleted["next_page_token"], Value::Null);
    env.ok(&["experiments", "restore", "scratch2"]);
    assert!(env.ok(&["experiments", "list"]).contains("scratch2"));
    assert_eq!(
        env.json(&["runs", "reap", "--json"])["reaped"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn no_track_and_bad_store_uris() {
    let env = Env::new();
    let o = env.run(&[
        "train",
        &example("sp500_direction.toml"),
        "--out",
        "r",
        "--no-track",
        "--json",
    ]);
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("run_id").is_none());
    let o = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args([
            "experiments",
            "list",
            "--store",
            "sqlite://",
            "--artifacts",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args([
            "gc",
            "--artifacts",
            "ftp://host/x",
            "--store",
            "sqlite:///tmp/x.db",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// The example config with an absolute data path, in `dir`, edited by `edit`.
fn config_in(dir: &Path, file: &str, edit: impl Fn(String) -> String) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data");
    let text = std::fs::read_to_string(example("sp500_direction.toml"))
        .unwrap()
        .replace("path = \"data/", &format!("path = \"{}/", data.display()));
    let path = dir.join(file);
    std::fs::write(&path, edit(text)).unwrap();
    path.display().to_string()
}

#[test]
fn whole_config_params_columns_tags_and_metric_history() {
    let env = Env::new();
    // Two runs differing only in early_stopping_rounds, in one experiment ([tracking]).
    let with_experiment = |t: String| t + "\n[tracking]\nexperiment = \"es\"\n";
    let cfg_a = config_in(env.dir.path(), "a.toml", with_experiment);
    let cfg_b = config_in(env.dir.path(), "b.toml", |t| {
        with_experiment(t.replace("early_stopping_rounds = 50", "early_stopping_rounds = 20"))
    });
    let a = env.json(&["train", &cfg_a, "--out", "a", "--json"]);
    let b = env.json(&["train", &cfg_b, "--out", "b", "--json"]);
    let (ra, rb) = (a["run_id"].as_str().unwrap(), b["run_id"].as_str().unwrap());

    // The whole resolved config is in the params, so compare sees the one change.
    let cmp = env.json(&["runs", "compare", ra, rb, "--json"]);
    let es = &cmp["params"]["model.early_stopping_rounds"];
    assert_eq!(es["differs"], true, "{cmp}");
    assert_eq!(es["values"], serde_json::json!(["50", "20"]));
    for same in [
        "seed",
        "model.params.learning_rate",
        "model.validation_fraction",
        "model.refit_rounds",
        "data.derive.rolling",
        "target.horizon",
        "split.n_splits",
        "preprocess.scale",
        "tracking.experiment",
    ] {
        assert_eq!(cmp["params"][same]["differs"], false, "{same}: {cmp}");
    }
    assert_eq!(
        cmp["params"]["data.derive.rolling"]["values"][0],
        "[5,20,60]"
    );
    assert!(
        env.ok(&["runs", "compare", ra, rb])
            .contains("* model.early_stopping_rounds")
    );

    // Columns: metrics (bare), params and tags, in the table and in the JSON envelope.
    let cols = "cv.roc_auc.mean,params.model.early_stopping_rounds,tags.note";
    let listed = env.json(&[
        "runs",
        "list",
        "--experiment",
        "es",
        "--columns",
        cols,
        "--json",
    ]);
    assert_eq!(listed["next_page_token"], Value::Null);
    let item = |id: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["info"]["run_id"] == id)
            .unwrap()["columns"]
            .clone()
    };
    assert_eq!(item(ra)["cv.roc_auc.mean"], a["cv"]["roc_auc"]["mean"]);
    assert_eq!(item(rb)["params.model.early_stopping_rounds"], "20");
    assert_eq!(item(ra)["tags.note"], Value::Null);
    let table = env.ok(&["runs", "list", "--experiment", "es", "--columns", cols]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("cv.roc_auc.mean") && header.contains("tags.note"));
    let line_a = table.lines().find(|l| l.starts_with(ra)).unwrap();
    assert!(
        line_a.contains(" 50") && line_a.trim_end().ends_with('-'),
        "{line_a}"
    );
    env.fails(
        &["runs", "list", "--experiment", "es", "--columns", "a,,b"],
        2,
    );
    // Paging: a page of one run names the next page.
    let first = env.json(&[
        "runs",
        "list",
        "--experiment",
        "es",
        "--max-results",
        "1",
        "--json",
    ]);
    let token = first["next_page_token"].as_str().unwrap();
    let second = env.json(&[
        "runs",
        "list",
        "--experiment",
        "es",
        "--max-results",
        "1",
        "--page-token",
        token,
        "--json",
    ]);
    assert_ne!(
        first["items"][0]["info"]["run_id"],
        second["items"][0]["info"]["run_id"]
    );
    let found = env.json(&[
        "runs",
        "search",
        "--experiment",
        "es",
        "--filter",
        "params.`model.early_stopping_rounds` = '20'",
        "--columns",
        "metrics.`cv.roc_auc.mean`",
        "--json",
    ]);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        found["items"][0]["columns"]["metrics.`cv.roc_auc.mean`"],
        b["cv"]["roc_auc"]["mean"]
    );

    // Tags: hone.keep protects a run from prune, as the README says; untag removes.
    let set = env.json(&[
        "runs",
        "tag",
        ra,
        "hone.keep=true",
        "note=baseline",
        "--json",
    ]);
    assert_eq!(set["tags"]["hone.keep"], "true");
    let plan = env.json(&[
        "runs",
        "prune",
        "--experiment",
        "es",
        "--keep-last",
        "0",
        "--dry-run",
        "--json",
    ]);
    let planned: Vec<&str> = plan["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(planned, [rb], "the kept run is not pruned");
    for (bad, says) in [
        ("note", "is not KEY=VALUE"),
        ("hone.fold=1", "written by hone"),
        ("mlflow.runName=x", "MLflow's system tags"),
        ("hone.keep=yes", "true or false"),
        ("bad*key=1", "invalid tag key"),
    ] {
        let err = env.fails(&["runs", "tag", ra, bad], 2);
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{bad}: {err}"
        );
    }
    env.fails(&["runs", "tag", "nope", "note=x"], 2);
    let removed = env.json(&["runs", "untag", ra, "note", "--json"]);
    assert_eq!(removed["removed"], serde_json::json!(["note"]));
    let err = env.fails(&["runs", "untag", ra, "note"], 2);
    assert!(err.contains("no tag \"note\""), "{err}");
    let show = env.json(&["runs", "show", ra, "--json"]);
    let tags = show["run"]["tags"].as_object().unwrap();
    assert_eq!(tags["hone.keep"], "true");
    assert!(!tags.contains_key("note"));

    // History: a fold's learning curve, one point per boosting round.
    let fold1 = show["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["run_name"] == "fold-1")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let hist = env.json(&["runs", "history", &fold1, "valid.binary_logloss", "--json"]);
    let items = hist["items"].as_array().unwrap();
    assert_eq!(
        items.len() as u64,
        a["folds"][0]["iterations_run"].as_u64().unwrap()
    );
    assert_eq!(items[0]["step"], 1);
    assert!(items[0]["value"].as_f64().unwrap() > 0.0 && items[0]["timestamp"].is_i64());
    assert_eq!(hist["next_page_token"], Value::Null);
    let text = env.ok(&["runs", "history", &fold1, "valid.binary_logloss"]);
    assert_eq!(text.lines().next(), Some("step\tvalue\ttimestamp"));
    assert_eq!(text.lines().count(), items.len() + 1);
    let chart = env.ok(&["runs", "history", &fold1, "valid.binary_logloss", "--chart"]);
    assert!(
        chart.starts_with("valid.binary_logloss: ") && chart.contains('*'),
        "{chart}"
    );
    // The parent has no curve: the error points at the fold runs; a typo gets a suggestion.
    let err = env.fails(&["runs", "history", ra, "valid.binary_logloss"], 2);
    assert!(err.contains("fold-1") && err.contains(&fold1), "{err}");
    let err = env.fails(&["runs", "history", ra, "cv.roc_auc.maen"], 2);
    assert!(err.contains("did you mean \"cv.roc_auc.mean\""), "{err}");
    env.fails(&["runs", "history", "nope", "x"], 2);
}

/// The folders under `runs/` in `dir`, sorted.
fn run_folders(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("runs"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn default_folders_name_their_run_never_collide_and_are_never_taken_for_another_run() {
    let env = Env::new();
    let store = format!(
        "sqlite://{}",
        env.dir.path().join("store/hone.db").display()
    );
    // Create the store first, so the two jobs below only race for their folders.
    env.ok(&["experiments", "create", "warm-up"]);
    // Two jobs of the same config started together: the same second, two folders.
    let cfg = example("sp500_direction.toml");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(["train", &cfg, "--json", "--store", &store])
            .current_dir(env.dir.path())
            .env_remove("HONE_STORE_URI")
            .env_remove("HONE_ARTIFACTS_URI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut ids = Vec::new();
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        ids.push(v["run_id"].as_str().unwrap().to_string());
    }
    let folders = run_folders(env.dir.path());
    assert_eq!(folders.len(), 2, "{folders:?}");
    for id in &ids {
        let folder = folders.iter().find(|f| f.ends_with(&id[..8])).unwrap();
        assert!(folder.starts_with("sp500_direction-"), "{folder}");
        let run_file: Value = serde_json::from_slice(
            &std::fs::read(env.dir.path().join("runs").join(folder).join("run.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(run_file["run_id"], id.as_str());
    }
    // Untracked: a random suffix, and no run.json.
    env.ok(&["train", &cfg, "--no-track"]);
    let folders = run_folders(env.dir.path());
    assert_eq!(folders.len(), 3);
    let untracked = folders
        .iter()
        .find(|f| !ids.iter().any(|id| f.ends_with(&id[..8])))
        .unwrap();
    assert_eq!(
        untracked.rsplit('-').next().unwrap().len(),
        8,
        "{untracked}"
    );
    assert!(
        !env.dir
            .path()
            .join("runs")
            .join(untracked)
            .join("run.json")
            .exists()
    );

    // Another run's folder is refused, naming that run; --overwrite replaces it, and the earlier
    // run's model is then read from its artifacts, never from the folder that now holds another.
    let first = folders.iter().find(|f| f.ends_with(&ids[0][..8])).unwrap();
    let first_dir = format!("runs/{first}");
    let err = env.fails(&["train", &cfg, "--out", &first_dir], 2);
    assert!(
        err.contains(&format!("holds the outputs of run {}", ids[0])),
        "{err}"
    );
    let third = env.json(&["train", &cfg, "--out", &first_dir, "--overwrite", "--json"]);
    let third_id = third["run_id"].as_str().unwrap();
    let own = env.json(&["evaluate", third_id, "--json"]);
    assert!(
        own["model"].as_str().unwrap().ends_with(first.as_str()),
        "{own}"
    );
    let earlier = env.json(&["evaluate", &ids[0], "--json"]);
    assert_eq!(
        earlier["model"],
        format!("run {} (its artifacts)", ids[0]),
        "{earlier}"
    );
    assert_eq!(earlier["metrics"]["roc_auc"], own["metrics"]["roc_auc"]);
}

#[test]
fn no_outputs_keeps_everything_in_the_store_only() {
    let env = Env::new();
    let cfg = example("sp500_direction.toml");
    let report = env.json(&["train", &cfg, "--no-outputs", "--json"]);
    assert_eq!(report["out_dir"], Value::Null);
    assert!(
        !env.dir.path().join("runs").exists(),
        "nothing is written under runs/"
    );
    let run_id = report["run_id"].as_str().unwrap();
    let show = env.json(&["runs", "show", run_id, "--json"]);
    assert!(
        !show["run"]["tags"]
            .as_object()
            .unwrap()
            .contains_key("hone.out_dir")
    );
    let arts = env.json(&["artifacts", "list", run_id, "--json"]);
    for f in [
        "model.txt",
        "pipeline/pipeline.json",
        "config.toml",
        "model.json",
    ] {
        assert!(
            arts["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["path"] == f),
            "{f}"
        );
    }
    // evaluate and predict read the model from the artifacts: the holdout scores as in training.
    let ev = env.json(&["evaluate", run_id, "--json"]);
    assert_eq!(
        ev["metrics"]["roc_auc"],
        report["holdout"]["metrics"]["roc_auc"]
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sp500_daily_1999_2018.csv")
        .display()
        .to_string();
    let csv = env.ok(&["predict", "--model", run_id, "--data", &data]);
    assert!(csv.lines().count() > 4000, "{}", csv.lines().count());
    // The temporary copies are gone again, and still nothing is under runs/.
    assert!(!env.dir.path().join("runs").exists());

    let err = env.fails(&["train", &cfg, "--no-outputs", "--no-track"], 2);
    assert!(
        err.contains("--no-outputs needs the tracking store"),
        "{err}"
    );
    env.fails(&["train", &cfg, "--no-outputs", "--out", "x"], 2);
    let err = env.fails(&["evaluate", "0123456789abcdef", "--json"], 2);
    assert!(
        err.contains("neither a model directory nor a tracked run"),
        "{err}"
    );
}

/// `hone runs purge` also purges logged models deleted through `hone server` (MLflow 3's
/// `delete_logged_model`), and only those: a live model and its files stay.
#[test]
fn purge_removes_deleted_logged_models_only() {
    let env = Env::new();
    let uri = format!(
        "sqlite://{}",
        env.dir.path().join("store/hone.db").display()
    );
    let store = hone_track::open_store(&uri).unwrap();
    let exp = store.get_or_create_experiment("models").unwrap();
    let new = |name: &str| {
        store
            .create_logged_model(hone_track::NewLoggedModel {
                experiment_id: exp.clone(),
                name: Some(name.into()),
                ..Default::default()
            })
            .unwrap()
            .model_id
    };
    let (gone, kept) = (new("gone"), new("kept"));
    for id in [&gone, &kept] {
        store
            .record_logged_model_artifact(
                id,
                &hone_track::ArtifactRecord {
                    path: "MLmodel".into(),
                    sha256: hone_track::artifacts::sha256_hex(id.as_bytes()),
                    size: 34,
                },
            )
            .unwrap();
    }
    store.delete_logged_model(&gone).unwrap();
    let out = env.json(&["runs", "purge", "--json"]);
    assert_eq!(out["purged_logged_models"], serde_json::json!([gone]));
    assert_eq!(out["purged"], serde_json::json!([]));
    let refs = hone_track::Maintenance::referenced_blobs(store.as_ref()).unwrap();
    assert!(refs.contains(&hone_track::artifacts::sha256_hex(kept.as_bytes())));
    assert!(!refs.contains(&hone_track::artifacts::sha256_hex(gone.as_bytes())));
    assert_eq!(store.list_logged_model_artifacts(&kept).unwrap().len(), 1);
    assert!(
        env.ok(&["runs", "purge"])
            .contains("0 deleted logged model(s)")
    );
}
