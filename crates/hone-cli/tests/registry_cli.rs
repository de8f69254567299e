//! `hone models ...` and `hone train --register`, as a user runs them, on a temporary SQLite
//! store: every output is parsed as JSON.

use std::path::Path;

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
fn register_resolve_alias_and_delete_versions() {
    let env = Env::new();
    let config = example("sp500_direction_logistic.toml");
    let report = env.json(&["train", &config, "--no-outputs", "--json"]);
    let run_id = report["run_id"].as_str().unwrap().to_string();

    // First registration: version 1, semver 1.0.0, lineage copied from the run.
    let v1 = env.json(&["models", "register", &run_id, "--name", "dir", "--json"]);
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["semver"], "1.0.0");
    assert_eq!(v1["source_run_id"], run_id.as_str());
    assert_eq!(v1["lineage"]["fingerprint"], report["fingerprint"]);
    let features: Value =
        serde_json::from_str(v1["lineage"]["features"].as_str().unwrap()).unwrap();
    assert_eq!(features, report["features"]);
    for k in ["config_sha256", "model_sha256", "hone_version", "dataset"] {
        assert!(v1["lineage"][k].is_string(), "missing lineage {k}: {v1}");
    }

    // Again: version 2, patch bumped; a lower semver is refused.
    let v2 = env.json(&["models", "register", &run_id, "--name", "dir", "--json"]);
    assert_eq!(
        (v2["version"].as_u64(), v2["semver"].as_str()),
        (Some(2), Some("1.0.1"))
    );
    env.fails_with(
        &[
            "models",
            "register",
            &run_id,
            "--name",
            "dir",
            "--version",
            "0.9.0",
        ],
        2,
        "0.9.0",
    );
    env.fails_with(
        &[
            "models",
            "register",
            &run_id,
            "--name",
            "dir",
            "--version",
            "1.x",
        ],
        2,
        "invalid semver",
    );

    // Runs that cannot be registered: unknown, without a model, unfinished.
    env.fails_with(
        &["models", "register", "0123456789abcdef", "--name", "dir"],
        2,
        "run 0123456789abcdef not found",
    );
    let show = env.json(&["runs", "show", &run_id, "--json"]);
    let fold = show["children"][0]["run_id"].as_str().unwrap().to_string();
    env.fails_with(
        &["models", "register", &fold, "--name", "dir"],
        2,
        "holds no model",
    );
    let space = env.dir.path().join("space.toml");
    std::fs::write(&space, "[x]\ntype = \"float\"\nlow = -1\nhigh = 1\n").unwrap();
    env.json(&[
        "study",
        "create",
        "--name",
        "s",
        "--space",
        space.to_str().unwrap(),
        "--json",
    ]);
    env.json(&["study", "ask", "--name", "s", "--json"]);
    let trials = env.json(&["runs", "list", "--experiment", "s", "--json"]);
    let trial = trials["items"][0]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.fails_with(
        &["models", "register", &trial, "--name", "dir"],
        2,
        "not FINISHED",
    );

    // References: by number, semver, alias, with and without models:/.
    env.json(&["models", "alias", "set", "dir", "champion", "1", "--json"]);
    // The production alias follows the production stage only.
    env.fails_with(
        &["models", "alias", "set", "dir", "production", "1"],
        2,
        "follows the production stage",
    );
    for r in [
        "dir@champion",
        "models:/dir@champion",
        "models:/dir/1",
        "dir/1.0.0",
    ] {
        let v = env.json(&["models", "show", r, "--json"]);
        assert_eq!(v["version"], 1, "{r}");
        assert_eq!(v["aliases"], serde_json::json!(["champion"]), "{r}");
    }
    let model = env.json(&["models", "show", "dir", "--json"]);
    assert_eq!(model["model"]["aliases"]["champion"], 1);
    assert_eq!(model["model"]["latest_version"], 2);
    assert_eq!(model["versions"].as_array().unwrap().len(), 2);
    env.fails_with(
        &["models", "show", "nope", "--json"],
        2,
        "registered model nope not found",
    );
    env.fails_with(
        &["models", "show", "nope/1", "--json"],
        2,
        "registered model nope not found",
    );
    env.fails_with(
        &["models", "show", "dir/9", "--json"],
        2,
        "version 9 of registered model dir",
    );
    env.fails_with(&["models", "show", "dir@staging"], 2, "alias staging");
    env.fails_with(&["models", "show", "dir/1.x"], 2, "invalid model reference");
    env.fails_with(
        &["models", "show", "models:/dir"],
        2,
        "invalid model reference",
    );

    // A version an alias points at cannot be deleted; after the alias goes, it can, and its
    // number is not reused.
    env.fails_with(&["models", "delete-version", "dir", "1"], 1, "champion");
    env.json(&["models", "alias", "delete", "dir", "champion", "--json"]);
    env.json(&["models", "delete-version", "dir", "1", "--json"]);
    env.fails_with(&["models", "show", "dir/1"], 2, "not found");
    let v3 = env.json(&["models", "register", &run_id, "--name", "dir", "--json"]);
    assert_eq!(
        (v3["version"].as_u64(), v3["semver"].as_str()),
        (Some(3), Some("1.0.2"))
    );
    // The default semver is above every semver the model ever had, deleted versions included.
    env.json(&["models", "delete-version", "dir", "3", "--json"]);
    let v4 = env.json(&["models", "register", &run_id, "--name", "dir", "--json"]);
    assert_eq!(
        (v4["version"].as_u64(), v4["semver"].as_str()),
        (Some(4), Some("1.0.3"))
    );

    // list: the {items, next_page_token} envelope.
    env.json(&["models", "register", &run_id, "--name", "other", "--json"]);
    let list = env.json(&["models", "list", "--json"]);
    assert!(list["next_page_token"].is_null());
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dir", "other"]);
    assert_eq!(list["items"][0]["versions"], 2);
    let list = env.json(&["models", "list", "--prefix", "oth", "--json"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[test]
fn train_register_adds_a_version_and_is_refused_without_tracking() {
    let env = Env::new();
    let config = example("sp500_direction_logistic.toml");
    env.fails_with(
        &["train", &config, "--no-track", "--register", "m"],
        2,
        "--no-track",
    );
    let report = env.json(&[
        "train",
        &config,
        "--no-outputs",
        "--register",
        "m",
        "--json",
    ]);
    assert_eq!(report["registered"]["name"], "m");
    assert_eq!(report["registered"]["version"], 1);
    assert_eq!(report["registered"]["semver"], "1.0.0");
    let v = env.json(&["models", "show", "m/1", "--json"]);
    assert_eq!(v["source_run_id"], report["run_id"]);

    // A run that fails a hard gate is tracked but not registered.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/sp500");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("data/sp500", &data.display().to_string())
        + "\n[gates]\nhard = [\"cv.roc_auc.mean >= 0.99\"]\n";
    let strict = env.dir.path().join("strict.toml");
    std::fs::write(&strict, text).unwrap();
    env.fails_with(
        &[
            "train",
            strict.to_str().unwrap(),
            "--no-outputs",
            "--register",
            "m",
            "--json",
        ],
        3,
        "the run was not registered",
    );
    let model = env.json(&["models", "show", "m", "--json"]);
    assert_eq!(model["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn model_uris_work_wherever_a_run_id_does() {
    let env = Env::new();
    let config = example("sp500_direction_logistic.toml");
    let data = example("data/sp500_daily_1999_2018.csv");
    let train = |extra: &[&str]| {
        let mut args = vec!["train", config.as_str(), "--no-outputs", "--json"];
        args.extend_from_slice(extra);
        env.json(&args)["run_id"].as_str().unwrap().to_string()
    };
    let run1 = train(&[]);
    let run2 = train(&[]);
    env.json(&["models", "register", &run1, "--name", "spx", "--json"]);
    env.json(&["models", "register", &run2, "--name", "spx", "--json"]);
    env.json(&["models", "alias", "set", "spx", "champion", "1", "--json"]);

    // predict: byte-identical to the run id; stderr names the version used.
    let by_run = env.run(&["predict", "--model", &run1, "--data", &data]);
    assert!(
        by_run.status.success(),
        "{}",
        String::from_utf8_lossy(&by_run.stderr)
    );
    for r in [
        "models:/spx@champion",
        "spx@champion",
        "models:/spx/1",
        "models:/spx/1.0.0",
    ] {
        let by_ref = env.run(&["predict", "--model", r, "--data", &data]);
        let err = String::from_utf8_lossy(&by_ref.stderr);
        assert!(by_ref.status.success(), "{r}: {err}");
        assert_eq!(by_ref.stdout, by_run.stdout, "{r}");
        assert!(
            err.contains(&format!("model: {r} (version 1, run {run1})")),
            "{r}: {err}"
        );
    }

    // evaluate: the same metrics; the JSON names the version.
    let e_run = env.json(&["evaluate", &run1, "--json"]);
    let e_ref = env.json(&["evaluate", "models:/spx/1", "--json"]);
    assert_eq!(e_ref["metrics"], e_run["metrics"]);
    assert_eq!(
        e_ref["model"],
        format!("models:/spx/1 (version 1, run {run1})")
    );
    assert_eq!(e_ref["model_version"]["version"], 1);
    assert_eq!(e_ref["model_version"]["source_run_id"], run1.as_str());
    assert_eq!(
        e_ref["model_version"]["aliases"],
        serde_json::json!(["champion"])
    );

    // compare: two versions, as their source runs.
    let c = env.json(&["compare", "models:/spx/1", "models:/spx/2", "--json"]);
    let c_runs = env.json(&["compare", &run1, &run2, "--json"]);
    assert_eq!(c["run_a"], run1.as_str());
    assert_eq!(c["run_b"], run2.as_str());
    assert_eq!(c["model_version_b"]["version"], 2);
    assert_eq!(c["tests"], c_runs["tests"]);

    // export: same features as the run id.
    let f_run = env.json(&["export", &run1, "--features", "f1.parquet", "--json"]);
    let f_ref = env.json(&[
        "export",
        "spx@champion",
        "--features",
        "f2.parquet",
        "--json",
    ]);
    assert_eq!(f_ref["columns"], f_run["columns"]);
    assert_eq!(f_ref["model_version"]["name"], "spx");
    assert_eq!(
        std::fs::read(env.dir.path().join("f1.parquet")).unwrap(),
        std::fs::read(env.dir.path().join("f2.parquet")).unwrap()
    );

    // Unknown model, version and alias: one line, exit 2.
    let p = |m: &'static str| ["predict", "--model", m, "--data", "x.csv"];
    env.fails_with(&p("models:/spx@nope"), 2, "alias nope");
    env.fails_with(&p("models:/spx/9"), 2, "not found");
    env.fails_with(&p("models:/nope/1"), 2, "not found");
    env.fails_with(&["evaluate", "spx@nope"], 2, "alias nope");
    // A mistyped folder reads as a reference too: the error says neither exists.
    env.fails_with(
        &["evaluate", "rnus/1"],
        2,
        "no directory rnus/1, and registered model rnus not found",
    );
    env.fails_with(
        &["compare", "models:/spx/1", "models:/spx@nope"],
        2,
        "alias nope",
    );

    // An existing directory always wins over a bare reference.
    std::fs::create_dir_all(env.dir.path().join("spx/1")).unwrap();
    env.fails_with(&["evaluate", "spx/1"], 2, "not a hone model directory");
}
