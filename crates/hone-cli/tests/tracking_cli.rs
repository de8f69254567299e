//! `hone train` recording into the store, and the store commands, as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let store = format!(
            "sqlite://{}",
            self.dir.path().join("store/hone.db").display()
        );
        Command::new(env!("CARGO_BIN_EXE_hone"))
            .args(args)
            .args(["--store", &store])
            .current_dir(self.dir.path())
            .env_remove("HONE_STORE_URI")
            .env_remove("HONE_ARTIFACTS_URI")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }
}

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
    let metric = |name: &str| {
        run["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == name)
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    let cv_auc = report["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    assert_eq!(metric("cv.roc_auc.mean"), cv_auc);
    assert_eq!(
        metric("holdout.roc_auc"),
        report["holdout"]["metrics"]["roc_auc"].as_f64().unwrap()
    );
    assert!(
        run["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0] == "model.params.learning_rate" && p[1] == "0.02")
    );
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
    let tags = run["tags"].as_array().unwrap();
    for t in ["hone.version", "hone.os", "hone.cores", "hone.command"] {
        assert!(tags.iter().any(|x| x[0] == t), "missing tag {t}");
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
    let curve = f1["run"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "valid.binary_logloss")
        .unwrap()
        .clone();
    assert_eq!(curve["step"].as_u64().unwrap(), iters);

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
    let runs = found["runs"].as_array().unwrap();
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
    ])["runs"][0]["info"]["run_id"]
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
        arts.as_array()
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
    let sha = arts
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
        ])
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
        ])
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
    assert_eq!(deleted[0]["name"], "scratch2");
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
