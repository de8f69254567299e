//! The registry end to end, as a desk uses it, on the bundled S&P 500 data: train → register →
//! promote (blocked by a failing gate, then forced with a recorded reason) → a second version →
//! promote (the significance test runs and prints) → rollback → predict, with the rolled-back
//! predictions byte-identical to what that version gave before, the lineage resolving to the
//! dataset's fingerprint, an evaluation on new data in the history, and bad input refused with
//! nothing changed.

use serde_json::Value;

mod common;
use common::StoreEnv as Env;

/// The logistic example's job, with `extra` appended (gates).
fn config(env: &Env, file: &str, extra: &str) -> String {
    let text = format!(
        r#"name = "spx_e2e"
[data]
path = "{}"
time_column = "date"
[data.derive]
price = "close"
volume = "volume"
returns = [1, 5, 20]
rolling = [20]
[target]
kind = "direction"
[preprocess]
scale = "standard"
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "logistic"
C = 0.05
{extra}
"#,
        common::bundled_data()
    );
    let path = env.dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The number of changelog entries: bad input must not add one.
fn log_len(env: &Env) -> usize {
    env.json(&["models", "changelog", "spx", "--json"])["items"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn train_register_promote_rollback_predict() {
    let env = Env::new();
    // Version 1: its hard gate fails, so `hone train` exits 3 (the run is tracked).
    let strict = config(
        &env,
        "strict.toml",
        "[gates]\nhard = [\"holdout.roc_auc >= 0.99\"]",
    );
    let out = env.run(&["train", &strict, "--no-outputs", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run1 = report["run_id"].as_str().unwrap().to_string();
    let fingerprint = report["fingerprint"].as_str().unwrap().to_string();
    let reg = env.json(&["models", "register", &run1, "--name", "spx", "--json"]);
    assert_eq!(
        (reg["version"].as_u64(), reg["semver"].as_str()),
        (Some(1), Some("1.0.0"))
    );
    assert_eq!(reg["registration"]["gates_passed"], false);

    // Promotion is blocked by the gate, re-evaluated on the stored metrics; nothing changes.
    let blocked = env.run(&["models", "promote", "spx", "1", "--stage", "staging"]);
    assert_eq!(blocked.status.code(), Some(3));
    let said = String::from_utf8_lossy(&blocked.stdout);
    assert!(said.contains("FAIL hard holdout.roc_auc >= 0.99"), "{said}");
    let err = String::from_utf8_lossy(&blocked.stderr);
    assert!(err.contains("blocked: hard gate(s) failed"), "{err}");
    let v1 = env.json(&["models", "show", "spx/1", "--json"]);
    assert_eq!(v1["stage"], "development");
    // --force needs a reason; with one it goes through and the override is recorded.
    env.fails_with(
        &[
            "models", "promote", "spx", "1", "--stage", "staging", "--force",
        ],
        2,
        "--force needs --reason",
    );
    for stage in ["staging", "production"] {
        let p = env.json(&[
            "models",
            "promote",
            "spx",
            "1",
            "--stage",
            stage,
            "--force",
            "--reason",
            "desk sign-off: gate is aspirational",
            "--json",
        ]);
        assert_eq!(
            (p["applied"].as_bool(), p["forced"].as_bool()),
            (Some(true), Some(true))
        );
    }
    let log = env.json(&["models", "changelog", "spx", "--json"]);
    let forced: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "transition_stage" && e["details"]["forced"] == true)
        .collect();
    assert_eq!(forced.len(), 2, "{log}");
    assert!(
        forced[0]["lines"][0]
            .as_str()
            .unwrap()
            .contains("desk sign-off")
    );
    let before = env.ok(&[
        "predict",
        "--model",
        "models:/spx@production",
        "--data",
        &common::bundled_data(),
    ]);

    // Version 2: other hyperparameters (minor bump), registered by `hone train --register`.
    let relaxed = config(&env, "relaxed.toml", "");
    let r2 = env.json(&[
        "train",
        &relaxed,
        "--set",
        "model.C=1.0",
        "--no-outputs",
        "--register",
        "spx",
        "--json",
    ]);
    assert_eq!(r2["registered"]["semver"], "1.1.0");
    let v2 = env.json(&["models", "show", "spx/2", "--json"]);
    assert_eq!(v2["lineage"]["parent"], "1");
    // Promotion runs the significance tests against production and prints them.
    let out = env.run(&["models", "promote", "spx", "2", "--stage", "staging"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("significance vs production version 1 (1.0.0) on"),
        "{said}"
    );
    for test in ["delong", "mcnemar", "paired_bootstrap"] {
        assert!(said.contains(test), "{test}: {said}");
    }
    if out.status.code() == Some(3) {
        env.ok(&[
            "models",
            "promote",
            "spx",
            "2",
            "--stage",
            "staging",
            "--force",
            "--reason",
            "shadow trading",
        ]);
    }
    let p = env.json(&[
        "models",
        "promote",
        "spx",
        "2",
        "--stage",
        "production",
        "--force",
        "--reason",
        "quarterly refresh",
        "--json",
    ]);
    assert_eq!(p["replaced"], 1);
    assert!(p["check"]["significance"]["comparison"]["tests"].is_array());
    let after = env.ok(&[
        "predict",
        "--model",
        "models:/spx@production",
        "--data",
        &common::bundled_data(),
    ]);
    assert_ne!(before, after, "version 2 predicts differently");
    assert_eq!(
        env.json(&["models", "show", "spx/1", "--json"])["stage"],
        "deprecated"
    );

    // Rollback: production is version 1 again, its predictions byte-identical.
    let rb = env.json(&[
        "models", "rollback", "spx", "--reason", "drawdown", "--json",
    ]);
    assert_eq!((rb["from"].as_u64(), rb["to"].as_u64()), (Some(2), Some(1)));
    let restored = env.ok(&[
        "predict",
        "--model",
        "models:/spx@production",
        "--data",
        &common::bundled_data(),
    ]);
    assert_eq!(restored, before);
    // A second rollback has nowhere to go.
    env.fails_with(
        &["models", "rollback", "spx"],
        2,
        "first production version",
    );

    // Lineage: back to the first version and its dataset.
    let lineage = env.json(&["models", "lineage", "spx@production", "--json"]);
    let chain = lineage["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0]["lineage"]["fingerprint"], fingerprint.as_str());
    assert!(chain[0]["config"].as_str().unwrap().contains("[gates]"));
    let chain2 = env.json(&["models", "lineage", "spx/2", "--json"]);
    let versions: Vec<u64> = chain2["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    for key in [
        "git_commit",
        "dependencies",
        "rows",
        "first_row",
        "last_row",
        "task",
    ] {
        assert!(
            chain2["chain"][0]["lineage"][key].is_string(),
            "{key}: {chain2}"
        );
    }
    let on_data = env.json(&["models", "list", "--dataset", &fingerprint[..12], "--json"]);
    assert_eq!(on_data["items"].as_array().unwrap().len(), 2);

    // Performance over time: an evaluation on new labelled rows is recorded and shown.
    let recent = env.dir.path().join("recent.csv");
    let text = std::fs::read_to_string(common::bundled_data()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut new = vec![lines[0]];
    new.extend(&lines[lines.len() - 300..]);
    std::fs::write(&recent, new.join("\n") + "\n").unwrap();
    let recent = recent.display().to_string();
    // Version 1's strict gate fails on them too (exit 3); the evaluation is recorded anyway.
    env.fails(
        &["evaluate", "models:/spx@production", "--data", &recent],
        3,
    );
    let h = env.json(&["models", "history", "spx", "--metric", "roc_auc", "--json"]);
    let evals = h["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 1);
    assert_eq!(evals[0]["version"], 1);
    assert!(evals[0]["metrics"]["roc_auc"].is_f64());
    // 300 rows less the 20-bar feature warm-up and the last row, which has no label yet.
    assert_eq!(evals[0]["rows"], 279);
    let warned = h["warnings"].to_string();
    assert!(
        warned.contains("fails hard gate holdout.roc_auc >= 0.99"),
        "{warned}"
    );
    let table = env.ok(&["models", "history", "spx"]);
    assert!(table.contains("warning: the latest evaluation"), "{table}");
    env.fails_with(
        &["models", "history", "spx", "--metric", "nope"],
        2,
        "roc_auc",
    );

    // Notes and the changelog in Markdown.
    env.ok(&[
        "models",
        "note",
        "spx",
        "rolled back after the drawdown",
        "--version",
        "2",
    ]);
    let md = env.ok(&["models", "changelog", "spx"]);
    for want in [
        "# Changelog of spx",
        "version 2 (1.1.0) registered from run",
        "model.C: 0.05 → 1.0 (minor)",
        "(FORCED)",
        "(rollback)",
        "rolled back after the drawdown",
        "evaluated on",
    ] {
        assert!(md.contains(want), "{want}:\n{md}");
    }
    let cmp = env.json(&["models", "compare", "spx", "1", "2", "--json"]);
    assert!(
        cmp["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"] == "model.C")
    );
    assert!(cmp["comparison"]["tests"].is_array());

    // Bad input: a clear error, nothing changed.
    let n = log_len(&env);
    for (args, want) in [
        (
            vec!["models", "promote", "nope", "1", "--stage", "staging"],
            "registered model nope not found",
        ),
        (
            vec!["models", "promote", "spx", "9", "--stage", "staging"],
            "version 9 of registered model spx",
        ),
        (
            vec!["models", "promote", "spx", "1", "--stage", "archived"],
            "staging or production",
        ),
        (
            vec![
                "models",
                "register",
                &run1,
                "--name",
                "spx",
                "--version",
                "1.1.0",
            ],
            "must be greater than 1.1.0",
        ),
        (
            vec![
                "models",
                "register",
                &run1,
                "--name",
                "spx",
                "--version",
                "0.9.0",
            ],
            "must be greater",
        ),
        (
            vec!["models", "rollback", "spx", "--to", "7"],
            "version 7 of registered model spx",
        ),
    ] {
        env.fails_with(&args, 2, want);
    }
    assert_eq!(log_len(&env), n, "refused commands recorded nothing");
    // The run a version pins cannot be deleted; the refusal names the version.
    let err = env.fails(&["runs", "delete", &run1], 1);
    assert!(err.contains("pinned by model version spx/1"), "{err}");
    // A transition the matrix forbids: development straight to production.
    let r3 = env.json(&[
        "train",
        &relaxed,
        "--no-outputs",
        "--register",
        "spx",
        "--json",
    ]);
    assert_eq!(
        r3["registered"]["semver"], "1.1.1",
        "retrain of version 1's config: patch"
    );
    let n = log_len(&env);
    env.fails_with(
        &["models", "promote", "spx", "3", "--stage", "production"],
        2,
        "promote it to staging first",
    );
    // An alias on a deleted version.
    env.ok(&["models", "delete-version", "spx", "3"]);
    env.fails_with(
        &["models", "alias", "set", "spx", "champion", "3"],
        2,
        "version 3 of registered model spx not found",
    );
    assert_eq!(log_len(&env), n + 1, "only the deletion was recorded");
}

/// `hone tune`'s refit run registers like a `hone train` run.
#[test]
fn a_tuned_refit_registers_and_promotes() {
    let env = Env::new();
    let search = "[search]\nsampler = \"random\"\nn_trials = 3\nmetric = \"log_loss\"\nseed = 3\n\
                  [search.space.\"model.C\"]\ntype = \"float\"\nlow = 0.001\nhigh = 10.0\nlog = true";
    let cfg = config(&env, "tune.toml", search);
    let tuned = env.json(&["tune", &cfg, "--no-outputs", "--json"]);
    let refit = tuned["final_run_id"].as_str().unwrap();
    let v = env.json(&["models", "register", refit, "--name", "tuned", "--json"]);
    assert_eq!(
        (v["version"].as_u64(), v["semver"].as_str()),
        (Some(1), Some("1.0.0"))
    );
    assert!(v["lineage"]["model_sha256"].is_string());
    let p = env.json(&[
        "models", "promote", "tuned", "1", "--stage", "staging", "--json",
    ]);
    assert_eq!(p["applied"], true);
}
