//! The `hone` binary as a user runs it: real data, reference values, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::RIDGE_CONFIG as CONFIG;
use common::write_text as write;

/// A tracking store private to this test process (never the repository's `.hone/`).
fn test_store() -> &'static str {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
            (dir, uri)
        })
        .1
}

fn hone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .env("HONE_STORE_URI", test_store())
        .env_remove("HONE_ARTIFACTS_URI")
        .output()
        .expect("run hone")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "hone failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Runs hone expecting failure; returns stderr and checks it is one clean message.
fn fails(args: &[&str], code: i32) -> String {
    let o = hone(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    // Progress lines may come first; the error is one line, last.
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

#[test]
fn train_the_bundled_example_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = repo().join("examples/sp500_direction.toml");
    let o = hone(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let report = stdout_json(&o);
    assert_eq!(report["task"], "binary");
    assert_eq!(report["folds"].as_array().unwrap().len(), 5);
    assert_eq!(report["fingerprint"].as_str().unwrap().len(), 64);
    let auc = report["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    assert!((0.3..0.7).contains(&auc), "{auc}");
    assert!(report["holdout"]["metrics"]["accuracy"].as_f64().is_some());
    for f in [
        "metrics.json",
        "config.toml",
        "model.json",
        "model.txt",
        "pipeline/pipeline.json",
        "pipeline/model.txt",
        "oof_predictions.csv",
        "holdout_predictions.csv",
        "feature_importance.csv",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    // The final model's size and cost: the saved pipeline's bytes, the trees and leaves its
    // LightGBM file holds, the features with a non-zero gain, and positive timings.
    let cost = &report["complexity"];
    let saved: u64 = ["pipeline/pipeline.json", "pipeline/model.txt"]
        .iter()
        .map(|f| std::fs::metadata(out.join(f)).unwrap().len())
        .sum();
    assert_eq!(cost["model_size_bytes"].as_u64(), Some(saved), "{cost}");
    let model = std::fs::read_to_string(out.join("pipeline/model.txt")).unwrap();
    let trees = model.lines().filter(|l| l.starts_with("Tree=")).count() as u64;
    let leaves: u64 = model
        .lines()
        .filter_map(|l| l.strip_prefix("num_leaves="))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .sum();
    assert_eq!(cost["trees"].as_u64(), Some(trees));
    assert_eq!(cost["leaves"].as_u64(), Some(leaves));
    assert!(trees > 1 && leaves > trees);
    let used = report["importances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[1].as_f64().unwrap() > 0.0)
        .count() as u64;
    assert_eq!(cost["features_used"].as_u64(), Some(used));
    assert!(cost["fit_seconds"].as_f64().unwrap() > 0.0);
    assert!(cost["predict_us_per_row"].as_f64().unwrap() > 0.0);
    assert!(
        cost.get("nonzero_coefficients").is_none(),
        "not a linear model"
    );
    // Training folds end before their test blocks start (timeseries, gap = horizon = 1).
    for f in report["folds"].as_array().unwrap() {
        assert!(f["train"]["last"].as_u64().unwrap() + 1 < f["test"]["first"].as_u64().unwrap());
    }
    // The out-of-fold CSV feeds `hone metrics` and gives back the fold metrics.
    let oof = std::fs::read_to_string(out.join("oof_predictions.csv")).unwrap();
    assert!(oof.starts_with("time,fold,y_true,y_score,y_pred\n"));
    let holdout = out.join("holdout_predictions.csv");
    let m = stdout_json(&hone(&[
        "metrics",
        "--task",
        "binary",
        "--input",
        holdout.to_str().unwrap(),
        "--json",
    ]));
    let want = report["holdout"]["metrics"]["roc_auc"].as_f64().unwrap();
    assert!((m["roc_auc"].as_f64().unwrap() - want).abs() < 1e-12);

    // predict on the raw file: every row after the feature warm-up, the last day included.
    let data = repo().join("examples/data/sp500_daily_1999_2018.csv");
    let pred = dir.path().join("pred.csv");
    let o = hone(&[
        "predict",
        "--model",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        pred.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&pred).unwrap();
    assert!(text.starts_with("time,y_score,y_pred\n"));
    assert_eq!(text.lines().count(), 1 + 5031 - 60);
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("2018-12-31,")
    );
    // The holdout predictions of training equal hone predict's on the same days.
    let holdout_text = std::fs::read_to_string(&holdout).unwrap();
    let first = holdout_text.lines().nth(1).unwrap();
    let (day, rest) = first.split_once(',').unwrap();
    let score = rest.split(',').nth(1).unwrap();
    let line = text.lines().find(|l| l.starts_with(day)).unwrap();
    assert_eq!(line.split(',').nth(1).unwrap(), score);
}

#[test]
fn trading_evaluation_and_gates() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("examples/sp500_purged_trading.toml");
    let out = dir.path().join("run");
    let v = stdout_json(&hone(&[
        "train",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--no-track",
    ]));
    let t = &v["trading"];
    assert_eq!(t["cv"]["periods"], v["development"]["count"]);
    assert!(t["holdout"]["sharpe"].as_f64().unwrap().is_finite());
    assert!(v["gates"].as_array().unwrap().len() >= 3);
    for f in ["equity_cv.csv", "equity_holdout.csv", "equity.svg"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Train–validation gap: in-sample minus out-of-fold, per metric.
    let gap = v["train_cv_gap"]["roc_auc"].as_f64().unwrap();
    let train_mean: f64 = v["folds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["train_metrics"]["roc_auc"].as_f64().unwrap())
        .sum::<f64>()
        / 5.0;
    assert!((gap - (train_mean - v["cv"]["roc_auc"]["mean"].as_f64().unwrap())).abs() < 1e-12);
    // Stress: slices by year, a cost curve that decays with cost, noise sensitivity whose
    // zero-noise point is the holdout metric itself.
    let st = &v["stress"];
    assert!(st["by_year"].as_array().unwrap().len() >= 10);
    let curve: Vec<f64> = st["cost_curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert!(curve.windows(2).all(|w| w[1] <= w[0]), "{curve:?}");
    assert!(
        (st["feature_noise"][0][1].as_f64().unwrap()
            - v["holdout"]["metrics"]["roc_auc"].as_f64().unwrap())
        .abs()
            < 1e-12
    );
    // The equity file's last value is the reported final equity.
    let csv = std::fs::read_to_string(out.join("equity_holdout.csv")).unwrap();
    let last: f64 = csv
        .lines()
        .last()
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((last - t["holdout"]["final_equity"].as_f64().unwrap()).abs() < 1e-9);

    // A failing hard gate exits 3 (outputs are still written); an unknown name exits 2.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "data/sp500",
            &format!("{}/examples/data/sp500", repo().display()),
        )
        .replace("cv.roc_auc.mean >= 0.45", "cv.roc_auc.mean >= 0.9");
    let strict = write(dir.path(), "strict.toml", &text);
    let err = fails(
        &[
            "train",
            &strict,
            "--out",
            dir.path().join("s").to_str().unwrap(),
            "--no-track",
        ],
        3,
    );
    assert!(
        err.contains("hard gate(s) failed: cv.roc_auc.mean >= 0.9"),
        "{err}"
    );
    assert!(dir.path().join("s/metrics.json").exists());
    // hone evaluate on the training file scores its holdout rows: the same numbers as train's
    // holdout; on another file it adds drift against the training data.
    let e = stdout_json(&hone(&["evaluate", out.to_str().unwrap(), "--json"]));
    assert_eq!(e["rows"], v["holdout"]["rows"]["count"]);
    assert!(
        (e["metrics"]["roc_auc"].as_f64().unwrap()
            - v["holdout"]["metrics"]["roc_auc"].as_f64().unwrap())
        .abs()
            < 1e-12
    );
    assert!(
        (e["trading"]["sharpe"].as_f64().unwrap() - t["holdout"]["sharpe"].as_f64().unwrap()).abs()
            < 1e-9
    );
    let early: String =
        std::fs::read_to_string(repo().join("examples/data/sp500_daily_1999_2018.csv"))
            .unwrap()
            .lines()
            .take(2500)
            .map(|l| format!("{l}\n"))
            .collect();
    let early = write(dir.path(), "early.csv", &early);
    let e = stdout_json(&hone(&[
        "evaluate",
        out.to_str().unwrap(),
        "--data",
        &early,
        "--json",
    ]));
    assert_eq!(e["drift"].as_array().unwrap().len(), 11);
    fails(&["evaluate", dir.path().to_str().unwrap()], 2);
    // CPCV: one Sharpe ratio per recombined backtest path, C(N−1, k−1) = 5 for N=6, k=2.
    let cpcv = write(
        dir.path(),
        "cpcv.toml",
        &text
            .replace("scheme = \"purged_kfold\"", "scheme = \"cpcv\"")
            .replace("n_splits = 5", "n_groups = 6\nn_test_groups = 2")
            .replace("cv.roc_auc.mean >= 0.9", "cv.trading.path_sharpe_p5 > -100"),
    );
    let v = stdout_json(&hone(&[
        "train",
        &cpcv,
        "--out",
        dir.path().join("c").to_str().unwrap(),
        "--json",
        "--no-track",
    ]));
    assert_eq!(v["folds"].as_array().unwrap().len(), 15);
    let paths = &v["trading"]["cpcv_paths"];
    assert_eq!(paths["sharpes"].as_array().unwrap().len(), 5);
    assert!(paths["p5"].as_f64().unwrap() <= paths["mean"].as_f64().unwrap());
    // The headline backtest is the median path, never simply the first one.
    let sharpes: Vec<f64> = paths["sharpes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let mut sorted = sharpes.clone();
    sorted.sort_by(f64::total_cmp);
    let m = paths["median_path"].as_u64().unwrap() as usize;
    assert_eq!(sharpes[m], sorted[2]);
    assert_eq!(paths["median"].as_f64().unwrap(), sorted[2]);
    assert_eq!(v["trading"]["cv"]["sharpe"].as_f64().unwrap(), sharpes[m]);
    // Every path is a full backtest with its own buy-and-hold benchmark over its periods.
    let each = paths["paths"].as_array().unwrap();
    assert_eq!(each.len(), 5);
    for (p, sharpe) in each.iter().zip(&sharpes) {
        assert_eq!(p["sharpe"].as_f64().unwrap(), *sharpe);
        let b = &p["buy_and_hold"];
        assert!(b["sharpe"].is_f64() && b["excess_return"].is_f64(), "{p}");
        assert!(p["trades"].is_u64() && p["time_in_market"].is_f64(), "{p}");
    }
    // Each path covers every development row once, so it is measured against the same asset
    // periods: one benchmark Sharpe, different strategy returns.
    assert_eq!(
        each[0]["buy_and_hold"]["sharpe"],
        each[4]["buy_and_hold"]["sharpe"]
    );
    assert_eq!(each[0]["periods"], each[4]["periods"]);
    let unknown = write(
        dir.path(),
        "unknown.toml",
        &text.replace("cv.roc_auc.mean >= 0.9", "cv.auc.mean >= 0.5"),
    );
    let err = fails(
        &[
            "train",
            &unknown,
            "--out",
            dir.path().join("u").to_str().unwrap(),
            "--no-track",
        ],
        2,
    );
    assert!(err.contains("no value named `cv.auc.mean`"), "{err}");
}

// scikit-learn 1.9.1 TimeSeriesSplit through the CLI (scripts/reference/splitters.py).
#[test]
fn split_matches_sklearn_and_refuses_impossible_settings() {
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "timeseries",
        "--n-samples",
        "20",
        "--n-splits",
        "4",
        "--test-size",
        "3",
        "--max-train-size",
        "8",
        "--gap",
        "1",
        "--json",
    ]));
    assert_eq!(v["n_samples"], 20);
    assert_eq!(
        v["folds"][1]["train"],
        serde_json::json!([2, 3, 4, 5, 6, 7, 8, 9])
    );
    assert_eq!(v["folds"][3]["test"], serde_json::json!([17, 18, 19]));
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "kfold",
        "--n-samples",
        "20",
        "--n-splits",
        "3",
        "--json",
    ]));
    assert_eq!(v["folds"][2]["test"].as_array().unwrap().len(), 6);
    let err = fails(
        &[
            "split",
            "--scheme",
            "timeseries",
            "--n-samples",
            "20",
            "--n-splits",
            "4",
            "--gap",
            "4",
        ],
        2,
    );
    assert!(
        err.contains("Too many splits=4 for number of samples=20 with test_size=4 and gap=4."),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let labels = write(
        dir.path(),
        "labels.csv",
        &format!("label\n{}{}", "a\n".repeat(12), "b\n".repeat(8)),
    );
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "stratified_kfold",
        "--labels",
        &labels,
        "--n-splits",
        "4",
        "--json",
    ]));
    assert_eq!(v["folds"][0]["test"], serde_json::json!([0, 1, 2, 12, 13]));
    fails(
        &["split", "--scheme", "stratified_kfold", "--n-samples", "20"],
        2,
    );
    fails(&["split", "--scheme", "kfolds", "--n-samples", "20"], 2);

    let config = repo().join("examples/sp500_direction.toml");
    let v = stdout_json(&hone(&["split", config.to_str().unwrap(), "--json"]));
    assert_eq!(v["folds"].as_array().unwrap().len(), 5);
    assert_eq!(v["holdout"]["purged"], 1);
}

// Purged k-fold, skfolio CPCV and walk-forward through the CLI (scripts/reference/splitters.py).
#[test]
fn split_shows_purged_combinatorial_and_walk_forward_schemes() {
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "purged_kfold",
        "--n-samples",
        "12",
        "--n-splits",
        "3",
        "--label-horizon",
        "2",
        "--embargo-pct",
        "0.1",
        "--json",
    ]));
    assert_eq!(v["folds"][0]["train"], serde_json::json!([7, 8, 9, 10, 11]));
    assert_eq!(v["folds"][1]["train"], serde_json::json!([0, 1, 11]));
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "cpcv",
        "--n-samples",
        "24",
        "--n-groups",
        "6",
        "--n-test-groups",
        "2",
        "--purged-size",
        "1",
        "--embargo-size",
        "1",
        "--json",
    ]));
    assert_eq!(v["folds"].as_array().unwrap().len(), 15);
    assert_eq!(v["folds"][1]["train"][0], 6);
    assert_eq!(v["paths"][5], serde_json::json!([1, 1]));
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "walk_forward",
        "--n-samples",
        "10",
        "--train-size",
        "4",
        "--test-size",
        "2",
        "--anchored",
        "--json",
    ]));
    assert_eq!(
        v["folds"][2]["train"],
        serde_json::json!([0, 1, 2, 3, 4, 5, 6, 7])
    );
    let v = stdout_json(&hone(&[
        "split",
        "--scheme",
        "monte_carlo",
        "--n-samples",
        "50",
        "--n-splits",
        "3",
        "--test-size",
        "0.2",
        "--seed",
        "4",
        "--json",
    ]));
    assert_eq!(v["folds"][0]["test"].as_array().unwrap().len(), 10);
    let err = fails(
        &[
            "split",
            "--scheme",
            "purged_kfold",
            "--n-samples",
            "20",
            "--max-train-size",
            "5",
        ],
        2,
    );
    assert!(
        err.contains("does not apply to scheme \"purged_kfold\""),
        "{err}"
    );
    fails(
        &[
            "split",
            "--scheme",
            "cpcv",
            "--n-samples",
            "20",
            "--n-test-groups",
            "1",
        ],
        2,
    );
}

// scripts/reference/stats.py, compare.py and drift.py values through `hone stats` / `hone drift`.
#[test]
fn stats_match_the_reference_values() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(
        dir.path(),
        "r.csv",
        "ret\n0.01\n-0.02\n0.015\n0.003\n-0.007\n0.012\n-0.004\n0.008\n-0.011\n0.006\n",
    );
    let v = stdout_json(&hone(&["stats", "trading", "--returns", &r, "--json"]));
    for (k, want) in [
        ("sharpe", 1.685502471186496),
        ("sortino", 2.488471713236217),
        ("max_drawdown", -0.02),
        ("calmar", 16.66837735070484),
        ("annual_return", 0.3333675470140962),
        ("profit_factor", 1.2857142857142858),
    ] {
        assert!(
            (v[k].as_f64().unwrap() - want).abs() < 1e-9,
            "{k}: {}",
            v[k]
        );
    }
    let v = stdout_json(&hone(&["stats", "psr", "--returns", &r, "--json"]));
    assert!((v["psr"].as_f64().unwrap() - 0.6212676604023623).abs() < 1e-9);
    let v = stdout_json(&hone(&[
        "stats", "psr", "--sr", "0.1", "--n-obs", "252", "--json",
    ]));
    assert!((v["psr"].as_f64().unwrap() - 0.9429868610243624).abs() < 1e-9);
    assert!((v["min_track_record"].as_f64().unwrap() - 272.907117136589).abs() < 1e-6);
    let v = stdout_json(&hone(&[
        "stats",
        "dsr",
        "--sr",
        "0.1",
        "--n-obs",
        "252",
        "--n-trials",
        "1000",
        "--sr-variance",
        "0.0001",
        "--json",
    ]));
    assert!((v["sr0"].as_f64().unwrap() - 0.01 * 3.255121513652723).abs() < 1e-9);
    let m = write(
        dir.path(),
        "m.csv",
        "a,b,c,d\n25,10,0,-10\n10,20,-10,0\n-10,5,20,10\n0,-10,10,30\n30,0,-15,10\n-20,10,20,0\n0,20,0,-10\n10,-20,10,15\n",
    );
    let v = stdout_json(&hone(&[
        "stats", "pbo", "--matrix", &m, "--blocks", "4", "--metric", "sum", "--json",
    ]));
    assert_eq!(v["pbo"], 1.0);
    assert_eq!(v["combinations"], 6);
    fails(&["stats", "pbo", "--matrix", &m, "--blocks", "3"], 2);
    fails(&["stats", "trading", "--returns", &m], 2);
    fails(&["stats", "psr", "--sr", "0.1"], 2);

    // Model comparison tests through the CLI (scripts/reference/compare.py).
    let f = write(
        dir.path(),
        "auc.csv",
        "y_true,score_a,score_b\n1,0.9,0.7\n0,0.4,0.5\n1,0.65,0.4\n1,0.6,0.55\n0,0.6,0.3\n1,0.8,0.6\n0,0.2,0.45\n0,0.6,0.35\n1,0.45,0.8\n0,0.1,0.2\n",
    );
    let v = stdout_json(&hone(&["stats", "delong", "--input", &f, "--json"]));
    assert!((v["statistic"].as_f64().unwrap() - -0.2301741350593746).abs() < 1e-9);
    let f = write(
        dir.path(),
        "nb.csv",
        "a,b\n.712,.701\n.695,.690\n.731,.722\n.702,.700\n.688,.680\n.720,.711\n.709,.703\n.699,.702\n.715,.704\n.705,.698\n",
    );
    let v = stdout_json(&hone(&[
        "stats",
        "nb-ttest",
        "--input",
        &f,
        "--n-train",
        "900",
        "--n-test",
        "100",
        "--json",
    ]));
    assert!((v["statistic"].as_f64().unwrap() - 3.2694832217413423).abs() < 1e-9);
    let v = stdout_json(&hone(&["stats", "wilcoxon", "--input", &f, "--json"]));
    assert!(v["p_value"].as_f64().unwrap() > 0.0);
    fails(&["stats", "delong", "--input", &m], 2);

    // Drift through `hone drift` (scripts/reference/drift.py): reference 0..99 vs current
    // 10..109 (KS p = 0.7020569828664881, not drifted), a categorical column (chi-square,
    // drifted) and a binary one (z, drifted).
    let mut rf = String::from("x,c,b\n");
    let mut cf = String::from("x,c,b\n");
    let (rc, cc) = ("aabbbccccd".repeat(10), "aaabbccddd".repeat(10));
    for i in 0..100 {
        rf.push_str(&format!("{i},{},{}\n", &rc[i..i + 1], u8::from(i >= 70)));
        cf.push_str(&format!(
            "{},{},{}\n",
            i + 10,
            &cc[i..i + 1],
            u8::from(i >= 55)
        ));
    }
    let (rf, cf) = (
        write(dir.path(), "ref.csv", &rf),
        write(dir.path(), "cur.csv", &cf),
    );
    let v = stdout_json(&hone(&[
        "drift",
        "--reference",
        &rf,
        "--current",
        &cf,
        "--json",
    ]));
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols[0]["method"], "ks");
    assert!((cols[0]["score"].as_f64().unwrap() - 0.7020569828664881).abs() < 1e-9);
    assert_eq!(cols[1]["method"], "chisquare");
    assert_eq!(cols[1]["drifted"], true);
    assert_eq!(cols[2]["method"], "z");
    assert!((cols[2]["score"].as_f64().unwrap() - 0.02845973691631065).abs() < 1e-9);
    assert_eq!(v["dataset_drift"], true);
    // A named test on Evidently's bins (Sturges for x, one bin per category for c).
    let v = stdout_json(&hone(&[
        "drift",
        "--reference",
        &rf,
        "--current",
        &cf,
        "--column",
        "x",
        "--column",
        "c",
        "--method",
        "psi",
        "--json",
    ]));
    let cols = v["columns"].as_array().unwrap();
    assert!((cols[0]["score"].as_f64().unwrap() - 0.2932674137586854).abs() < 1e-9);
    assert!((cols[1]["score"].as_f64().unwrap() - 0.4394449154672438).abs() < 1e-9);
    let err = fails(
        &[
            "drift",
            "--reference",
            &rf,
            "--current",
            &cf,
            "--method",
            "kl",
        ],
        2,
    );
    assert!(err.contains("kl_div"), "{err}");
}

// scikit-learn 1.9.1 examples through the CLI (scripts/reference/metrics.py).
#[test]
fn metrics_match_sklearn_reference_values() {
    let dir = tempfile::tempdir().unwrap();
    let y = [1, 0, 1, 1, 0, 1, 0, 0, 1, 0];
    let p = [0.9, 0.4, 0.65, 0.6, 0.6, 0.8, 0.2, 0.6, 0.45, 0.1];
    let mut csv = String::from("y_true,y_score\n");
    for (a, b) in y.iter().zip(p) {
        csv.push_str(&format!("{a},{b}\n"));
    }
    let f = write(dir.path(), "bin.csv", &csv);
    let v = stdout_json(&hone(&[
        "metrics", "--task", "binary", "--input", &f, "--json",
    ]));
    for (k, want) in [
        ("accuracy", 0.7),
        ("precision", 0.6666666666666666),
        ("recall", 0.8),
        ("f1", 0.7272727272727273),
        ("roc_auc", 0.88),
        ("log_loss", 0.47405314575345886),
        ("brier", 0.1565),
        ("mcc", 0.408248290463863),
    ] {
        assert!(
            (v[k].as_f64().unwrap() - want).abs() < 1e-12,
            "{k}: {}",
            v[k]
        );
    }
    assert_eq!(v["confusion_matrix"], serde_json::json!([[3, 2], [1, 4]]));

    let f = write(
        dir.path(),
        "multi.csv",
        "y_true,y_pred\n0,0\n1,2\n2,2\n2,2\n1,1\n0,0\n2,1\n1,1\n0,1\n2,0\n",
    );
    let v = stdout_json(&hone(&[
        "metrics",
        "--task",
        "multiclass",
        "--input",
        &f,
        "--json",
    ]));
    assert!((v["f1_macro"].as_f64().unwrap() - 0.6031746031746031).abs() < 1e-12);
    assert!((v["precision_weighted"].as_f64().unwrap() - 0.6166666666666666).abs() < 1e-12);
    assert!((v["mcc"].as_f64().unwrap() - 0.4090909090909091).abs() < 1e-12);

    let f = write(
        dir.path(),
        "proba.csv",
        "y_true,proba_0,proba_1,proba_2\n0,.7,.2,.1\n1,.1,.6,.3\n2,.2,.2,.6\n",
    );
    let v = stdout_json(&hone(&[
        "metrics",
        "--task",
        "multiclass",
        "--input",
        &f,
        "--json",
    ]));
    assert!((v["log_loss"].as_f64().unwrap() - 0.4594420638235713).abs() < 1e-12);

    let f = write(
        dir.path(),
        "reg.csv",
        "y_true,y_pred\n3,2.5\n-0.5,0\n2,2\n7,8\n4,3\n",
    );
    let v = stdout_json(&hone(&[
        "metrics",
        "--task",
        "regression",
        "--input",
        &f,
        "--json",
    ]));
    assert!((v["r2"].as_f64().unwrap() - 0.9172185430463576).abs() < 1e-12);
    assert!((v["rmse"].as_f64().unwrap() - std::f64::consts::FRAC_1_SQRT_2 /* sklearn: 0.7071067811865476 */).abs() < 1e-12);
    assert!((v["mape"].as_f64().unwrap() - 0.3119047619047619).abs() < 1e-12);

    // Bad input: one class for AUC, labels that are not 0/1, missing values.
    let f = write(dir.path(), "one.csv", "y_true,y_score\n1,0.2\n1,0.9\n");
    let err = fails(&["metrics", "--task", "binary", "--input", &f], 1);
    assert!(err.contains("only one class"), "{err}");
    let f = write(dir.path(), "two.csv", "y_true,y_score\n1,0.2\n2,0.9\n");
    let err = fails(&["metrics", "--task", "binary", "--input", &f], 1);
    assert!(err.contains("line 3") && err.contains("0 or 1"), "{err}");
    let f = write(dir.path(), "nan.csv", "y_true,y_score\n1,0.2\n0,\n");
    let err = fails(&["metrics", "--task", "binary", "--input", &f], 1);
    assert!(err.contains("line 3") && err.contains("y_score"), "{err}");
    fails(&["metrics", "--task", "ranking", "--input", &f], 2);
}

#[test]
fn bad_input_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = common::ridge_rows;
    let cfg = write(d, "job.toml", CONFIG);
    write(d, "d.csv", &format!("date,x,y\n{}", rows(40)));
    assert!(
        hone(&["train", &cfg, "--out", d.join("o").to_str().unwrap()])
            .status
            .success()
    );

    // Missing config, missing data file.
    let err = fails(&["train", d.join("nope.toml").to_str().unwrap()], 2);
    assert!(err.contains("nope.toml"), "{err}");
    std::fs::remove_file(d.join("d.csv")).unwrap();
    let err = fails(&["train", &cfg], 1);
    assert!(
        err.contains("cannot read") && err.contains("d.csv"),
        "{err}"
    );

    // Non-numeric value: column and line.
    let mut text = format!("date,x,y\n{}", rows(40));
    text = text.replacen("\n120,", "\n120,oops,", 1);
    let text = text.replacen("oops,", "oops", 1);
    write(d, "d.csv", &text);
    let err = fails(&["train", &cfg], 1);
    assert!(err.contains("line 22") && err.contains("`x`"), "{err}");

    // Ragged row.
    write(d, "d.csv", &format!("date,x,y\n{}130,1\n", rows(30)));
    let err = fails(&["train", &cfg], 1);
    assert!(err.contains("line 32"), "{err}");

    // NaN target.
    let text = format!("date,x,y\n{}", rows(40)).replacen(",0\n", ",\n", 1);
    write(d, "d.csv", &text);
    let err = fails(&["train", &cfg], 1);
    assert!(
        err.contains("target `y` is NaN") && err.contains("line 2"),
        "{err}"
    );

    // Duplicate timestamps under a temporal split.
    let text = format!("date,x,y\n{}", rows(40)).replacen("\n101,", "\n100,", 1);
    write(d, "d.csv", &text);
    let err = fails(&["train", &cfg], 1);
    assert!(
        err.contains("line 3") && err.contains("(duplicate)"),
        "{err}"
    );

    // Too few rows for the split.
    write(d, "d.csv", &format!("date,x,y\n{}", rows(5)));
    let err = fails(&["train", &cfg], 2);
    assert!(
        err.contains("too few rows for the requested split"),
        "{err}"
    );

    // Unknown config key, with a suggestion; unknown model parameter.
    write(d, "d.csv", &format!("date,x,y\n{}", rows(40)));
    let bad = write(d, "bad.toml", &CONFIG.replace("n_splits", "n_split"));
    let err = fails(&["train", &bad], 2);
    assert!(err.contains("did you mean `n_splits`?"), "{err}");
    let bad = write(
        d,
        "bad2.toml",
        &CONFIG.replace(
            "type = \"ridge\"",
            "type = \"lightgbm\"\n[model.params]\nnum_leafs = 3",
        ),
    );
    let err = fails(&["train", &bad], 2);
    assert!(err.contains("did you mean `num_leaves`?"), "{err}");

    // Missing feature values without an imputer.
    let mut lines: Vec<String> = format!("date,x,y\n{}", rows(40))
        .lines()
        .map(String::from)
        .collect();
    lines[6] = "105,,1".into();
    write(d, "d.csv", &(lines.join("\n") + "\n"));
    let err = fails(&["train", &cfg], 1);
    assert!(err.contains("line 7") && err.contains("impute"), "{err}");

    // predict on a directory that is not a model.
    let err = fails(
        &["predict", "--model", d.to_str().unwrap(), "--data", "x.csv"],
        2,
    );
    assert!(err.contains("not a hone model directory"), "{err}");
}

#[test]
fn bias_parity_across_a_grouping_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Desk A's target follows x; desk B's is unrelated noise, so the model fits A far better.
    let mut state = 12345u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut csv = String::from("x,desk,y\n");
    for i in 0..400 {
        let x = uniform();
        let (desk, y) = if i % 2 == 0 {
            ("A", x + 0.05 * uniform())
        } else {
            ("B", uniform())
        };
        csv.push_str(&format!("{x},{desk},{y}\n"));
    }
    write(d, "d.csv", &csv);
    let config = write(
        d,
        "c.toml",
        r#"
metrics = ["mae", "r2"]
[data]
path = "d.csv"
group_column = "desk"
[target]
kind = "column"
column = "y"
task = "regression"
[split]
scheme = "kfold"
n_splits = 4
[model]
type = "ridge"
[gates]
hard = ["bias.p_value > 0.05"]
"#,
    );
    let out = d.join("run");
    let o = hone(&[
        "train",
        &config,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--no-track",
    ]);
    // The hard gate on parity fails: exit code 3, with the report still written.
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = &v["stress"]["bias"];
    assert_eq!(b["column"], "desk");
    assert_eq!(
        (b["best"].as_str(), b["worst"].as_str()),
        (Some("A"), Some("B"))
    );
    let rows: u64 = (0..2)
        .map(|g| b["groups"][g]["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, v["development"]["count"].as_u64().unwrap());
    let (a, bb) = (
        b["groups"][0]["metric"].as_f64().unwrap(),
        b["groups"][1]["metric"].as_f64().unwrap(),
    );
    assert!((b["gap"].as_f64().unwrap() - (bb - a)).abs() < 1e-12);
    assert!(b["p_value"].as_f64().unwrap() < 0.01, "{b}");
    // The grouping column is never a feature.
    assert_eq!(v["features"], serde_json::json!(["x"]));
}

#[test]
fn deflated_sharpe_counts_the_experiments_trials() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo().join("examples/sp500_purged_trading.toml"))
        .unwrap()
        .replace(
            "path = \"data/",
            &format!("path = \"{}/", repo().join("examples/data").display()),
        );
    let config = |name: &str, cost: &str| {
        let text = format!(
            "{}\n[tracking]\nexperiment = \"dsr-trials\"\n",
            example.replace("cost_bps = 2", &format!("cost_bps = {cost}"))
        );
        write(dir.path(), name, &text)
    };
    let (a, b) = (config("a.toml", "2"), config("b.toml", "5"));
    let train = |c: &str, out: &str| {
        let out = dir.path().join(out);
        stdout_json(&hone(&[
            "train",
            c,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]))
    };
    let first = train(&a, "r1");
    let d = &first["trading"]["dsr"];
    // One trial: DSR is the out-of-fold PSR against 0.
    assert_eq!(d["n_trials"], 1);
    assert_eq!(d["dsr"], first["trading"]["cv"]["psr"]);
    // A second configuration (higher cost) is a second trial; DSR deflates below the PSR.
    let second = train(&b, "r2");
    let d = &second["trading"]["dsr"];
    assert_eq!(d["n_trials"], 2);
    let (s1, s2) = (
        first["trading"]["cv"]["sr_per_period"].as_f64().unwrap(),
        second["trading"]["cv"]["sr_per_period"].as_f64().unwrap(),
    );
    assert!((d["sr_variance"].as_f64().unwrap() - (s1 - s2).powi(2) / 2.0).abs() < 1e-15);
    assert!(d["dsr"].as_f64().unwrap() < second["trading"]["cv"]["psr"].as_f64().unwrap());
    // PBO over the two trials' out-of-fold returns (read back from the stored equity files).
    assert!(first["trading"]["pbo"].is_null());
    let p = &second["trading"]["pbo"];
    assert_eq!(
        (p["n_trials"].as_u64(), p["blocks"].as_u64()),
        (Some(2), Some(16))
    );
    let pbo = p["pbo"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&pbo));
    // Rerunning the first configuration adds no trial.
    assert_eq!(train(&a, "r3")["trading"]["dsr"]["n_trials"], 2);
}
