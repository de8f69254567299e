//! The first-hour workflow of a quant on their own data: `hone init` a config, run it with
//! `--set` overrides, tune it (with a warning when the search changes the label), and `hone
//! export` the model's feature matrix to check it elsewhere.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

mod common;
use common::{hone_with_store, one_error_line, store_in, write};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sp500() -> String {
    repo()
        .join("examples/data/sp500_daily_1999_2018.csv")
        .to_string_lossy()
        .into_owned()
}

/// Runs hone with a store in `dir`, expecting success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = hone_with_store(&store_in(dir), args);
    assert!(
        o.status.success(),
        "hone {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    hone_with_store(&store_in(dir), args)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON on stdout")
}

/// Boosting rounds small enough for a test, as a user would shorten a run.
const QUICK: [&str; 2] = ["--set", "model.params.num_iterations=20"];

#[test]
fn set_changes_the_run_and_is_recorded_in_its_config_report_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("examples/sp500_direction.toml");
    let out = dir.path().join("run");
    let report = json(&ok(
        dir.path(),
        &[
            "train",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
            "--set",
            "model.params.num_iterations=20",
            "--set",
            "split.n_splits=3",
            "--set",
            "data.derive.returns=[1,5]",
            "--set",
            "model.params.learning_rate=0.1",
            "--set",
            "preprocess.scale=robust",
        ],
    ));
    // The file says 5 folds and returns [1, 2, 5, 10, 20]: the overrides won.
    assert_eq!(report["folds"].as_array().unwrap().len(), 3);
    let features: Vec<&str> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(features.contains(&"ret_5") && !features.contains(&"ret_10"));
    assert_eq!(report["overrides"][4], "preprocess.scale=robust");
    assert_eq!(report["model_params"]["learning_rate"], "0.1");

    // The saved config is the effective one, and says where its values came from.
    let saved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        saved.contains("#   --set split.n_splits=3"),
        "header missing: {saved}"
    );
    let parsed: toml::Table = toml::from_str(&saved).unwrap();
    assert_eq!(parsed["split"]["n_splits"].as_integer(), Some(3));
    assert_eq!(parsed["preprocess"]["scale"].as_str(), Some("robust"));
    assert_eq!(
        parsed["data"]["derive"]["returns"],
        toml::Value::Array(vec![1.into(), 5.into()])
    );
    assert_eq!(
        parsed["model"]["params"]["learning_rate"].as_float(),
        Some(0.1)
    );

    // The tracked run carries the overrides as a tag.
    let run_id = report["run_id"].as_str().unwrap();
    let show = json(&ok(dir.path(), &["runs", "show", run_id, "--json"]));
    let tag = show["run"]["tags"]["hone.overrides"]
        .as_str()
        .expect("hone.overrides tag")
        .to_string();
    let tagged: Vec<String> = serde_json::from_str(&tag).unwrap();
    assert_eq!(tagged[1], "split.n_splits=3");
    assert_eq!(tagged.len(), 5);

    // hone split CONFIG sees the same overrides.
    let plan = json(&ok(
        dir.path(),
        &[
            "split",
            config.to_str().unwrap(),
            "--json",
            "--set",
            "split.n_splits=4",
        ],
    ));
    assert_eq!(plan["folds"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_overrides_are_one_line_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("examples/sp500_direction.toml");
    let config = config.to_str().unwrap();
    let cases: [(&str, &str); 7] = [
        ("foo", "--set \"foo\": expected KEY=VALUE"),
        ("=3", "--set \"=3\": the key before `=` is empty"),
        (
            "split.n_split=3",
            "--set split.n_split=3: unknown field `n_split`",
        ),
        (
            "model.params.learning_rat=0.1",
            "did you mean `learning_rate`?",
        ),
        (
            "model.params.lambda_l2=nan",
            "model.params.lambda_l2 = NaN: must be a finite number",
        ),
        ("seed.x=1", "--set seed.x=1: seed is a value in the config"),
        ("preprocess.scale=standart", "did you mean `standard`?"),
    ];
    for (arg, want) in cases {
        for command in ["train", "split"] {
            let o = run(dir.path(), &[command, config, "--set", arg]);
            let line = one_error_line(&o, 2, arg);
            assert!(line.contains(want), "{command} --set {arg}: {line}");
        }
    }
    // The suggestion for a misspelt split key names the right one.
    let o = run(dir.path(), &["split", config, "--set", "split.n_split=3"]);
    assert!(one_error_line(&o, 2, "n_split").contains("did you mean `n_splits`?"));
    // Without a config there is nothing to override.
    let o = run(
        dir.path(),
        &[
            "split",
            "--scheme",
            "kfold",
            "--n-samples",
            "9",
            "--set",
            "a=1",
        ],
    );
    one_error_line(&o, 2, "--set with --scheme");
    // Nothing ran: no output folder, no store.
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn init_writes_a_config_for_each_template_that_trains_on_the_bundled_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for template in ["direction", "regression", "purged-trading", "tune"] {
        let cfg = d.join(format!("{template}.toml"));
        let cfg_s = cfg.to_str().unwrap();
        let said = ok(
            d,
            &["init", &sp500(), "--template", template, "--out", cfg_s],
        );
        assert!(said.contains("time date, price adj_close"), "{said}");
        let text = std::fs::read_to_string(&cfg).unwrap();
        // Detected columns and commented choices.
        assert!(text.contains("time_column = \"date\""), "{text}");
        assert!(text.contains("high_low = [\"high\", \"low\"]"), "{text}");
        assert!(text.contains("volume = \"volume\""), "{text}");
        assert!(text.contains("# fill = \"ffill\""), "{text}");
        let out = d.join(format!("run-{template}"));
        let out_s = out.to_str().unwrap();
        let report = if template == "tune" {
            assert!(text.contains("[search.space.learning_rate]"), "{text}");
            let v = json(&ok(
                d,
                &[
                    "tune",
                    cfg_s,
                    "--out",
                    out_s,
                    "--json",
                    "--set",
                    "search.n_trials=2",
                    QUICK[0],
                    QUICK[1],
                ],
            ));
            assert_eq!(
                v["trials"]["complete"].as_u64().unwrap() + v["trials"]["pruned"].as_u64().unwrap(),
                2
            );
            v["final"].clone()
        } else {
            json(&ok(
                d,
                &["train", cfg_s, "--out", out_s, "--json", QUICK[0], QUICK[1]],
            ))
        };
        let want_task = if template == "regression" {
            "regression"
        } else {
            "binary"
        };
        assert_eq!(report["task"], want_task, "{template}");
        if template == "purged-trading" {
            assert_eq!(report["scheme"], "purged_kfold");
            assert!(report["trading"]["cv"]["sharpe"].as_f64().is_some());
            assert!(!report["gates"].as_array().unwrap().is_empty());
        }
    }
}

#[test]
fn init_refuses_to_overwrite_and_explains_a_file_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("mine.toml");
    let cfg_s = cfg.to_str().unwrap();
    ok(d, &["init", &sp500(), "--out", cfg_s]);
    let before = std::fs::read_to_string(&cfg).unwrap();
    let o = run(d, &["init", &sp500(), "--out", cfg_s, "--template", "tune"]);
    let line = one_error_line(&o, 2, "existing --out");
    assert!(
        line.contains("already exists") && line.contains("--overwrite"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), before);
    ok(
        d,
        &[
            "init",
            &sp500(),
            "--out",
            cfg_s,
            "--template",
            "tune",
            "--overwrite",
        ],
    );
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("[search]"));

    // No price column: the error lists the columns found and how to name one.
    let data = write(
        d,
        "odd.csv",
        "when,alpha,beta\n2020-01-01,1,2\n2020-01-02,2,3\n",
    );
    let o = run(
        d,
        &[
            "init",
            data.to_str().unwrap(),
            "--out",
            d.join("odd.toml").to_str().unwrap(),
        ],
    );
    let line = one_error_line(&o, 1, "no price");
    assert!(
        line.contains("no price column found")
            && line.contains("columns: when, alpha, beta")
            && line.contains("--price"),
        "{line}"
    );
    assert!(!d.join("odd.toml").exists());
    // ... which --price then names.
    ok(
        d,
        &[
            "init",
            data.to_str().unwrap(),
            "--price",
            "alpha",
            "--out",
            d.join("odd.toml").to_str().unwrap(),
        ],
    );
    let o = run(d, &["init", data.to_str().unwrap(), "--template", "trend"]);
    let line = one_error_line(&o, 2, "bad template");
    assert!(
        line.contains("--template") && line.contains("purged-trading"),
        "{line}"
    );

    // Yahoo-style headers with spaces and US dates: detected, with a commented time_format.
    let mut yahoo = String::from("Date,Open,High,Low,Close,Adj Close,Volume\n");
    for i in 0..30 {
        yahoo.push_str(&format!("1/{}/1999,1,2,0.5,1.5,1.4,100\n", i + 1));
    }
    let data = write(d, "yahoo.csv", &yahoo);
    let out = d.join("yahoo.toml");
    let said = json(&ok(
        d,
        &[
            "init",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(said["time_column"], "Date");
    assert_eq!(said["price"], "Adj Close");
    assert_eq!(said["volume"], "Volume");
    let text = std::fs::read_to_string(&out).unwrap();
    // Set, not suggested: hone reads these dates only with it.
    assert!(text.contains("\ntime_format = \"%m/%d/%Y\""), "{text}");
    assert!(text.contains("price = \"Adj Close\""), "{text}");
    // The data path is relative to the config's folder.
    assert!(text.contains("path = \"yahoo.csv\""), "{text}");

    // Newest-first files are named before hone train refuses them.
    let data = write(
        d,
        "desc.csv",
        "date,close\n2020-01-03,3\n2020-01-02,2\n2020-01-01,1\n",
    );
    let said = json(&ok(
        d,
        &[
            "init",
            data.to_str().unwrap(),
            "--out",
            d.join("desc.toml").to_str().unwrap(),
            "--json",
        ],
    ));
    assert!(
        said["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("the rows are newest first"),
        "{said}"
    );
}

#[test]
fn tune_warns_when_the_search_changes_the_label() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("tune.toml");
    ok(
        d,
        &[
            "init",
            &sp500(),
            "--template",
            "tune",
            "--out",
            cfg.to_str().unwrap(),
        ],
    );
    let o = run(
        d,
        &[
            "tune",
            cfg.to_str().unwrap(),
            "--json",
            "--out",
            d.join("out").to_str().unwrap(),
            "--set",
            "search.n_trials=2",
            QUICK[0],
            QUICK[1],
            "--set",
            "search.space.\"target.horizon\"={type=\"int\",low=1,high=3}",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: search.space.\"target.horizon\" changes the label"),
        "{err}"
    );
    let v = json(&String::from_utf8_lossy(&o.stdout));
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let tune_json: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/tune.json")).unwrap()).unwrap();
    assert_eq!(tune_json["warnings"], v["warnings"]);
    // The refit's run says so too.
    let show = json(&ok(
        d,
        &[
            "runs",
            "show",
            v["final_run_id"].as_str().unwrap(),
            "--json",
        ],
    ));
    assert!(
        show["run"]["tags"]["hone.study.warnings"].is_string(),
        "{show}"
    );

    // A search over the model alone is comparable: no warning.
    let o = run(
        d,
        &[
            "tune",
            cfg.to_str().unwrap(),
            "--no-refit",
            "--json",
            "--set",
            "search.n_trials=1",
            "--set",
            "search.name=plain",
            QUICK[0],
            QUICK[1],
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
}

/// Parses `holdout_predictions.csv`: (time, y_true, y_score) per row.
fn holdout_predictions(run: &Path) -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(run.join("holdout_predictions.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,y_true,y_score,y_pred"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn export_writes_the_matrix_the_model_predicted_from() {
    use hone_data::table::{ColumnValues, load};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = repo().join("examples/sp500_direction.toml");
    let run_dir = d.join("run");
    let report = json(&ok(
        d,
        &[
            "train",
            config.to_str().unwrap(),
            "--out",
            run_dir.to_str().unwrap(),
            "--json",
            QUICK[0],
            QUICK[1],
            // A selector, so the exported columns are the model's inputs, not the raw features.
            "--set",
            "preprocess.select={method=\"selectkbest\",k=6}",
        ],
    ));
    let features = d.join("features.parquet");
    // By run id (the tracked run) and by directory: the same bytes.
    let said = json(&ok(
        d,
        &[
            "export",
            report["run_id"].as_str().unwrap(),
            "--features",
            features.to_str().unwrap(),
            "--json",
        ],
    ));
    let by_dir = d.join("by_dir.parquet");
    ok(
        d,
        &[
            "export",
            run_dir.to_str().unwrap(),
            "--features",
            by_dir.to_str().unwrap(),
        ],
    );
    let table = load(&features, &["time", "role"]).unwrap();
    assert_eq!(table, {
        let mut t = load(&by_dir, &["time", "role"]).unwrap();
        t.path = features.clone();
        t
    });

    // Shape and names: time, the 6 selected features (in model order), target, role.
    let pipeline: Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("pipeline/pipeline.json")).unwrap(),
    )
    .unwrap();
    let model_features: Vec<String> = pipeline["pipeline"]["model_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(model_features.len(), 6);
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let mut want = vec!["time"];
    want.extend(model_features.iter().map(String::as_str));
    want.extend(["target", "role"]);
    assert_eq!(names, want);
    let dev = report["development"]["count"].as_u64().unwrap() as usize;
    let held = report["holdout"]["rows"]["count"].as_u64().unwrap() as usize;
    assert_eq!(table.n_rows, dev + held);
    assert_eq!(said["rows"].as_u64().unwrap() as usize, dev + held);
    let ColumnValues::Text(roles) = &table.column("role").unwrap().values else {
        panic!("role is text")
    };
    assert_eq!(roles.iter().filter(|r| *r == "dev").count(), dev);
    assert!(roles[dev..].iter().all(|r| r == "holdout"));

    // The model itself, fed the exported holdout rows, gives hone's holdout predictions
    // exactly: the export is what the model saw, after the scaler and the selector.
    let fitted = hone_models::pipeline::FittedPipeline::load(&run_dir.join("pipeline")).unwrap();
    let columns: Vec<Vec<f64>> = model_features
        .iter()
        .map(|f| table.numeric(f).unwrap()[dev..].to_vec())
        .collect();
    let x = hone_models::Matrix::from_columns(&columns);
    let predicted = fitted.model.predict(&x, fitted.task).unwrap();
    let hone = holdout_predictions(&run_dir);
    assert_eq!(hone.len(), held);
    let ColumnValues::Text(times) = &table.column("time").unwrap().values else {
        panic!("time is text")
    };
    let target = table.numeric("target").unwrap();
    for (i, (time, y_true, y_score)) in hone.iter().enumerate() {
        assert_eq!(&times[dev + i], time);
        assert_eq!(target[dev + i], *y_true);
        assert_eq!(predicted[i].to_bits(), y_score.to_bits(), "row {time}");
    }

    // An existing file is kept without --overwrite; --data exports another file's rows.
    let o = run(
        d,
        &[
            "export",
            run_dir.to_str().unwrap(),
            "--features",
            features.to_str().unwrap(),
        ],
    );
    assert!(one_error_line(&o, 2, "exists").contains("--overwrite"));
    let said = json(&ok(
        d,
        &[
            "export",
            run_dir.to_str().unwrap(),
            "--features",
            features.to_str().unwrap(),
            "--overwrite",
            "--data",
            &sp500(),
            "--json",
        ],
    ));
    let other = load(&features, &["time"]).unwrap();
    assert!(other.column("role").is_err());
    // Every row after the warm-up, the last one without a label yet.
    assert_eq!(other.n_rows, said["rows"].as_u64().unwrap() as usize);
    assert!(other.numeric("target").unwrap().last().unwrap().is_nan());
    // ... and the holdout rows' features are the same numbers.
    let t = other.numeric(&model_features[0]).unwrap();
    let offset = other.n_rows - 1 - held;
    assert_eq!(
        &t[offset..other.n_rows - 1],
        &table.numeric(&model_features[0]).unwrap()[dev..]
    );
}
