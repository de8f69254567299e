//! Every `--json` output, run on small real inputs and read with a strict parser: exactly one
//! JSON document on stdout, no duplicate object key at any depth (serde_json's `Value` silently
//! keeps the last one, which is how two `"periods"` keys once went unnoticed) and no NaN or
//! Infinity token (JSON has none; a missing or non-finite number is `null`).

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{hone_with_store, store_in, write};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value read by [`StrictVisitor`]: like `serde_json::Value`, but built by a visitor that
/// refuses a duplicate key instead of overwriting it.
#[derive(Debug, Clone, PartialEq)]
enum Strict {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Array(Vec<Strict>),
    Object(BTreeMap<String, Strict>),
}

/// A list command's output: exactly `{"items": [...], "next_page_token": <string|null>}`.
fn assert_envelope(v: &Strict, what: &str) {
    match v {
        Strict::Object(m) => {
            assert!(
                matches!(m.get("items"), Some(Strict::Array(_))),
                "{what}: {v:?}"
            );
            assert!(
                matches!(
                    m.get("next_page_token"),
                    Some(Strict::Null) | Some(Strict::Text(_))
                ),
                "{what}: {v:?}"
            );
            assert_eq!(m.len(), 2, "{what}: only items and next_page_token: {v:?}");
        }
        _ => panic!("{what}: not an object: {v:?}"),
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        // serde_json never yields a non-finite number from valid JSON; guard it anyway.
        if v.is_finite() {
            Ok(Strict::Number(v))
        } else {
            Err(E::custom(format!("non-finite number {v}")))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Strict>()? {
            out.push(v);
        }
        Ok(Strict::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value::<Strict>()?;
            if out.insert(k.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
        }
        Ok(Strict::Object(out))
    }
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

impl Strict {
    fn get(&self, key: &str) -> Option<&Strict> {
        match self {
            Strict::Object(m) => m.get(key),
            _ => None,
        }
    }
    fn text(&self) -> Option<&str> {
        match self {
            Strict::Text(s) => Some(s),
            _ => None,
        }
    }
    fn number(&self) -> Option<f64> {
        match self {
            Strict::Number(x) => Some(*x),
            _ => None,
        }
    }
}

/// Parses `text` strictly: one document (trailing whitespace only), no duplicate key, no
/// NaN/Infinity token (serde_json refuses those as invalid JSON).
fn parse_strict(text: &[u8]) -> Result<Strict, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let v = Strict::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end()
        .map_err(|e| format!("more than one document: {e}"))?;
    Ok(v)
}

/// Checks a successful `--json` run and returns its document; `what` names it in failures.
fn strict_json(o: &Output, what: &str) -> Strict {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    match parse_strict(&o.stdout) {
        Ok(v) => v,
        Err(e) => panic!(
            "{what}: stdout is not strict JSON ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        ),
    }
}

#[test]
fn the_strict_parser_refuses_what_it_should() {
    assert!(parse_strict(br#"{"a": 1, "b": {"c": 2}}"#).is_ok());
    let dup = parse_strict(br#"{"a": {"periods": 1, "periods": 2}}"#).unwrap_err();
    assert!(dup.contains("duplicate key \"periods\""), "{dup}");
    assert!(parse_strict(br#"[{"x": 1, "x": 1}]"#).is_err());
    assert!(parse_strict(br#"{"x": NaN}"#).is_err());
    assert!(parse_strict(br#"{"x": Infinity}"#).is_err());
    assert!(parse_strict(br#"{"x": -Infinity}"#).is_err());
    assert!(parse_strict(b"{}\n{}\n").is_err());
    assert!(parse_strict(b"{}\n").is_ok());
    assert!(parse_strict(b"").is_err());
}

/// A small, fast binary job with a trading strategy: logistic regression on a few causal
/// features of the S&P 500 file, purged k-fold, a holdout, gates. `c` is the model's C.
fn train_config(dir: &Path, name: &str, c: f64, search: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
seed = 3
metrics = ["roc_auc", "log_loss", "accuracy"]
[data]
path = "{data}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5, 20]
rolling = [20]
[target]
kind = "direction"
horizon = 1
[preprocess]
scale = "standard"
[split]
scheme = "purged_kfold"
n_splits = 3
embargo_pct = 0.01
holdout = 0.2
[model]
type = "logistic"
C = {c}
[trading]
rule = "sign"
cost_bps = 2
[gates]
defaults = true
{search}"#,
        data = common::bundled_data()
    );
    write(dir, &format!("{name}.toml"), &text)
}

const SEARCH: &str = r#"[search]
sampler = "random"
n_trials = 2
metric = "log_loss"
seed = 1
[search.space."model.C"]
type = "float"
low = 0.01
high = 1.0
log = true
"#;

/// Every command that takes `--json`, on one store: train (twice), split, metrics, predict,
/// evaluate, stats, drift, compare, runs/experiments/artifacts, study and tune.
#[test]
fn every_json_output_is_one_strict_document() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = store_in(dir);
    let hone = |args: &[&str]| hone_with_store(&store, args);
    let p = |x: &Path| x.display().to_string();

    // Train: the report, tracked, and a second run with another C for compare.
    let cfg_a = train_config(dir, "ja", 0.1, "");
    let out_a = dir.join("run_a");
    let train = strict_json(
        &hone(&["train", &p(&cfg_a), "--out", &p(&out_a), "--json"]),
        "train",
    );
    let run_a = train
        .get("run_id")
        .and_then(Strict::text)
        .unwrap()
        .to_string();
    let cfg_b = train_config(dir, "jb", 1.0, "");
    let train_b = strict_json(
        &hone(&[
            "train",
            &p(&cfg_b),
            "--out",
            &p(&dir.join("run_b")),
            "--json",
        ]),
        "train b",
    );
    let run_b = train_b
        .get("run_id")
        .and_then(Strict::text)
        .unwrap()
        .to_string();
    // Untracked: the same report without run_id/store.
    let untracked = strict_json(
        &hone(&[
            "train",
            &p(&cfg_a),
            "--out",
            &p(&dir.join("run_c")),
            "--no-track",
            "--json",
        ]),
        "train --no-track",
    );
    assert!(untracked.get("run_id").is_none());

    // Params and metrics share one shape: flat {key: value} objects.
    let holdout = train.get("holdout").unwrap();
    assert!(matches!(holdout.get("metrics"), Some(Strict::Object(_))));

    strict_json(&hone(&["split", &p(&cfg_a), "--json"]), "split CONFIG");
    strict_json(
        &hone(&[
            "split",
            "--scheme",
            "cpcv",
            "--n-samples",
            "60",
            "--n-groups",
            "6",
            "--n-test-groups",
            "2",
            "--json",
        ]),
        "split cpcv",
    );
    let oof = p(&out_a.join("oof_predictions.csv"));
    strict_json(
        &hone(&["metrics", "--task", "binary", "--input", &oof, "--json"]),
        "metrics",
    );
    strict_json(
        &hone(&[
            "predict",
            "--model",
            &p(&out_a),
            "--data",
            &common::bundled_data(),
            "--json",
        ]),
        "predict (records)",
    );
    strict_json(
        &hone(&[
            "predict",
            "--model",
            &p(&out_a),
            "--data",
            &common::bundled_data(),
            "--out",
            &p(&dir.join("pred.csv")),
            "--json",
        ]),
        "predict --out",
    );
    strict_json(&hone(&["evaluate", &p(&out_a), "--json"]), "evaluate DIR");
    strict_json(&hone(&["evaluate", &run_a, "--json"]), "evaluate RUN");

    // Stats on the run's own equity file: its strategy_return column is the backtest that the
    // report's cv Sharpe was computed on, so the two agree exactly.
    let equity = p(&out_a.join("equity_cv.csv"));
    let sharpe_of = |args: &[&str]| {
        strict_json(&hone(args), "stats trading")
            .get("sharpe")
            .and_then(Strict::number)
            .unwrap()
    };
    let report_sharpe = train
        .get("trading")
        .and_then(|t| t.get("cv"))
        .and_then(|c| c.get("sharpe"))
        .and_then(Strict::number)
        .unwrap();
    let trading = ["stats", "trading", "--returns", equity.as_str(), "--json"];
    assert_eq!(sharpe_of(&trading), report_sharpe, "the obvious column");
    let chosen = strict_json(&hone(&trading), "stats trading");
    assert_eq!(
        chosen.get("returns_column").and_then(Strict::text),
        Some("strategy_return")
    );
    let named = [&trading[..4], &["--column", "strategy_return", "--json"]].concat();
    assert_eq!(sharpe_of(&named), report_sharpe, "--column strategy_return");
    // The equity curve's changes are the same returns less the first one (its start is lost).
    let eq = [&trading[..4], &["--column", "equity", "--equity", "--json"]].concat();
    assert!((sharpe_of(&eq) - report_sharpe).abs() < 0.01);
    for (what, args) in [
        (
            "stats trading",
            vec![
                "stats",
                "trading",
                "--returns",
                &equity,
                "--column",
                "strategy_return",
                "--json",
            ],
        ),
        (
            "stats psr",
            vec![
                "stats",
                "psr",
                "--returns",
                &equity,
                "--column",
                "strategy_return",
                "--json",
            ],
        ),
        (
            "stats psr --sr",
            vec!["stats", "psr", "--sr", "0.05", "--n-obs", "500", "--json"],
        ),
        (
            "stats dsr",
            vec![
                "stats",
                "dsr",
                "--sr",
                "0.05",
                "--n-obs",
                "500",
                "--n-trials",
                "10",
                "--sr-variance",
                "0.001",
                "--json",
            ],
        ),
    ] {
        strict_json(&hone(&args), what);
    }
    // A PBO matrix and the model-comparison tests on small files.
    let mut m = String::from("a,b,c,d\n");
    let mut s = 7u64;
    for _ in 0..64 {
        let mut row = Vec::new();
        for _ in 0..4 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            row.push(format!(
                "{:.5}",
                ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
            ));
        }
        m.push_str(&(row.join(",") + "\n"));
    }
    let matrix = p(&write(dir, "pbo.csv", &m));
    strict_json(
        &hone(&[
            "stats", "pbo", "--matrix", &matrix, "--blocks", "4", "--json",
        ]),
        "stats pbo",
    );
    let ab: String = std::iter::once("a,b\n".to_string())
        .chain((0..20).map(|i| {
            format!(
                "{},{}\n",
                0.5 + 0.01 * i as f64,
                0.52 + 0.013 * ((i * 7) % 5) as f64
            )
        }))
        .collect();
    let ab = p(&write(dir, "ab.csv", &ab));
    let yab: String = std::iter::once("y_true,pred_a,pred_b\n".to_string())
        .chain((0..30).map(|i| format!("{},{},{}\n", i % 2, (i / 2) % 2, (i / 3) % 2)))
        .collect();
    let yab = p(&write(dir, "yab.csv", &yab));
    let ys: String = std::iter::once("y_true,score_a,score_b\n".to_string())
        .chain((0..30).map(|i| {
            format!(
                "{},{},{}\n",
                i % 2,
                (i % 2) as f64 * 0.3 + (i as f64 * 0.37).sin().abs() * 0.7,
                (i as f64 * 0.91).cos().abs()
            )
        }))
        .collect();
    let ys = p(&write(dir, "ys.csv", &ys));
    for (what, args) in [
        ("stats dm", vec!["stats", "dm", "--input", &yab, "--json"]),
        (
            "stats mcnemar",
            vec!["stats", "mcnemar", "--input", &yab, "--json"],
        ),
        (
            "stats delong",
            vec!["stats", "delong", "--input", &ys, "--json"],
        ),
        (
            "stats nb-ttest",
            vec![
                "stats",
                "nb-ttest",
                "--input",
                &ab,
                "--n-train",
                "80",
                "--n-test",
                "20",
                "--json",
            ],
        ),
        (
            "stats bootstrap",
            vec![
                "stats",
                "bootstrap",
                "--input",
                &ab,
                "--n-boot",
                "200",
                "--json",
            ],
        ),
        (
            "stats wilcoxon",
            vec!["stats", "wilcoxon", "--input", &ab, "--json"],
        ),
    ] {
        strict_json(&hone(&args), what);
    }
    strict_json(
        &hone(&[
            "drift",
            "--reference",
            &oof,
            "--current",
            &p(&out_a.join("holdout_predictions.csv")),
            "--json",
        ]),
        "drift",
    );

    // Compare: two different runs, and a run with itself (identical predictions).
    strict_json(&hone(&["compare", &run_a, &run_b, "--json"]), "compare");
    strict_json(
        &hone(&["compare", &run_a, &run_b, "--on", "oof", "--json"]),
        "compare --on oof",
    );
    let same = strict_json(&hone(&["compare", &run_a, &run_a, "--json"]), "compare A A");
    assert_eq!(same.get("identical_predictions"), Some(&Strict::Bool(true)));
    // A run against itself: every test runs (none is dropped for a zero variance) and finds
    // nothing, with finite numbers (the strict parse above rules out NaN; null would fail here).
    let Some(Strict::Array(tests)) = same.get("tests") else {
        panic!("compare: no tests: {same:?}")
    };
    let names: Vec<&str> = tests.iter().filter_map(|t| t.get("test")?.text()).collect();
    assert_eq!(names, ["delong", "mcnemar", "paired_bootstrap"]);
    for t in tests {
        assert_eq!(
            t.get("p_value").and_then(Strict::number),
            Some(1.0),
            "{t:?}"
        );
        assert_eq!(t.get("effect").and_then(Strict::number), Some(0.0), "{t:?}");
    }
    let boot = &tests[2];
    assert_eq!(boot.get("ci_low").and_then(Strict::number), Some(0.0));
    assert_eq!(boot.get("ci_high").and_then(Strict::number), Some(0.0));
    let differ = strict_json(&hone(&["compare", &run_a, &run_b, "--json"]), "compare A B");
    assert_eq!(
        differ.get("identical_predictions"),
        Some(&Strict::Bool(false))
    );

    // The store: every list command prints one envelope, {items: [...], next_page_token}.
    for (what, args) in [
        ("experiments list", vec!["experiments", "list", "--json"]),
        (
            "runs list",
            vec!["runs", "list", "--experiment", "ja", "--json"],
        ),
        (
            "runs search",
            vec!["runs", "search", "--experiment", "ja", "--json"],
        ),
        (
            "artifacts list",
            vec!["artifacts", "list", &run_a, "--json"],
        ),
    ] {
        assert_envelope(&strict_json(&hone(&args), what), what);
    }
    let show = strict_json(&hone(&["runs", "show", &run_a, "--json"]), "runs show");
    let run = show.get("run").unwrap();
    // Params and metrics are flat {key: value} objects, as in the train report.
    match (run.get("params"), run.get("metrics")) {
        (Some(Strict::Object(params)), Some(Strict::Object(metrics))) => {
            assert_eq!(params.get("model.C").and_then(Strict::text), Some("0.1"));
            let auc = metrics
                .get("cv.roc_auc.mean")
                .and_then(Strict::number)
                .unwrap();
            let cv_auc = train
                .get("cv")
                .and_then(|c| c.get("roc_auc"))
                .and_then(|c| c.get("mean"))
                .and_then(Strict::number)
                .unwrap();
            assert_eq!(auc, cv_auc, "the store keeps full precision");
        }
        other => panic!("runs show: params/metrics not flat objects: {other:?}"),
    }
    strict_json(
        &hone(&["runs", "compare", &run_a, &run_b, "--json"]),
        "runs compare",
    );
    strict_json(
        &hone(&["artifacts", "verify", &run_a, "--json"]),
        "artifacts verify",
    );
    strict_json(&hone(&["runs", "reap", "--json"]), "runs reap");
    strict_json(
        &hone(&[
            "runs",
            "prune",
            "--experiment",
            "jb",
            "--keep-last",
            "5",
            "--dry-run",
            "--json",
        ]),
        "runs prune",
    );
    strict_json(&hone(&["gc", "--dry-run", "--json"]), "gc");
    strict_json(
        &hone(&["experiments", "create", "made-by-test", "--json"]),
        "experiments create",
    );

    // Ask/tell studies.
    let space = p(&write(
        dir,
        "space.toml",
        "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n",
    ));
    strict_json(
        &hone(&[
            "study",
            "create",
            "--name",
            "st",
            "--space",
            &space,
            "--sampler",
            "random",
            "--direction",
            "minimize",
            "--json",
        ]),
        "study create",
    );
    strict_json(
        &hone(&[
            "study",
            "enqueue",
            "--name",
            "st",
            "--params",
            r#"{"x": 0.5}"#,
            "--json",
        ]),
        "study enqueue",
    );
    let ask = strict_json(
        &hone(&["study", "ask", "--name", "st", "--json"]),
        "study ask",
    );
    let trial = ask
        .get("trial")
        .and_then(Strict::number)
        .unwrap()
        .to_string();
    strict_json(
        &hone(&[
            "study", "report", "--name", "st", "--trial", &trial, "--step", "1", "--value", "0.4",
            "--json",
        ]),
        "study report",
    );
    strict_json(
        &hone(&[
            "study", "tell", "--name", "st", "--trial", &trial, "--value", "0.25", "--json",
        ]),
        "study tell",
    );
    strict_json(
        &hone(&["study", "best", "--name", "st", "--json"]),
        "study best",
    );
    // An infinite objective is a COMPLETE trial; its value is the string "-inf", not a token.
    let ask = strict_json(
        &hone(&["study", "ask", "--name", "st", "--json"]),
        "study ask 2",
    );
    let trial = ask
        .get("trial")
        .and_then(Strict::number)
        .unwrap()
        .to_string();
    strict_json(
        &hone(&[
            "study", "tell", "--name", "st", "--trial", &trial, "--value", "-inf", "--json",
        ]),
        "study tell -inf",
    );
    let best = strict_json(
        &hone(&["study", "best", "--name", "st", "--json"]),
        "best -inf",
    );
    assert_eq!(
        best.get("value").and_then(Strict::text),
        Some("-inf"),
        "{best:?}"
    );
    assert_envelope(
        &strict_json(
            &hone(&["study", "trials", "--name", "st", "--json"]),
            "study trials",
        ),
        "study trials",
    );

    // The job queue: submit, list (the envelope), show, stats, cancel, retry.
    let submitted = strict_json(&hone(&["submit", &p(&cfg_a), "--json"]), "submit");
    assert!(submitted.get("job_ids").is_some(), "{submitted:?}");
    assert_envelope(
        &strict_json(&hone(&["jobs", "list", "--json"]), "jobs list"),
        "jobs list",
    );
    strict_json(&hone(&["jobs", "show", "1", "--json"]), "jobs show");
    strict_json(&hone(&["jobs", "stats", "--json"]), "jobs stats");
    strict_json(&hone(&["jobs", "cancel", "1", "--json"]), "jobs cancel");
    strict_json(&hone(&["jobs", "retry", "1", "--json"]), "jobs retry");

    // Tune: two trials, refit.
    let cfg_t = train_config(dir, "jt", 0.1, SEARCH);
    strict_json(
        &hone(&[
            "tune",
            &p(&cfg_t),
            "--out",
            &p(&dir.join("tuned")),
            "--json",
        ]),
        "tune",
    );
}

/// `--column` errors are one line naming the file and the flag, with the nearest names; an
/// equity column needs `--equity`; a file with several numeric columns and none named like
/// returns lists them.
#[test]
fn stats_column_errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = store_in(dir);
    let f = write(
        dir,
        "eq.csv",
        "time,position,asset_return,strategy_return,equity\n\
         2020-01-01,1,0.01,0.01,1.01\n2020-01-02,1,-0.02,-0.02,0.9898\n2020-01-03,-1,0.01,-0.01,0.979902\n2020-01-04,1,0.03,0.03,1.00930\n",
    )
    .display()
    .to_string();
    let run = |args: &[&str]| hone_with_store(&store, args);
    let e = common::one_error_line(
        &run(&[
            "stats",
            "psr",
            "--returns",
            &f,
            "--column",
            "strategy_retrun",
        ]),
        2,
        "typo",
    );
    assert!(
        e.contains("eq.csv") && e.contains("did you mean `strategy_return`?"),
        "{e}"
    );
    let e = common::one_error_line(
        &run(&["stats", "trading", "--returns", &f, "--column", "equity"]),
        2,
        "equity without --equity",
    );
    assert!(e.contains("--equity"), "{e}");
    let e = common::one_error_line(
        &run(&["stats", "trading", "--returns", &f, "--column", "time"]),
        2,
        "text column",
    );
    assert!(e.contains("`time` is not numeric"), "{e}");
    let two = write(dir, "two.csv", "a,b\n0.01,0.02\n0.03,-0.01\n0.0,0.01\n")
        .display()
        .to_string();
    let e = common::one_error_line(&run(&["stats", "trading", "--returns", &two]), 2, "two");
    assert!(e.contains("--column (a, b)"), "{e}");
    // --column without --returns is a usage error.
    let e = common::one_error_line(
        &run(&[
            "stats", "psr", "--sr", "0.1", "--n-obs", "100", "--column", "a",
        ]),
        2,
        "--column with --sr",
    );
    assert!(e.contains("--returns"), "{e}");
}

/// A regression run and a LightGBM run, each compared with itself: identical predictions are
/// said in words and in JSON, Diebold–Mariano (regression) gives p = 1 rather than a refusal for
/// zero variance, and the LightGBM report (model params, refit, learning curves) parses strictly.
#[test]
fn identical_runs_compare_cleanly_for_regression_and_lightgbm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = store_in(dir);
    let hone = |args: &[&str]| hone_with_store(&store, args);
    let p = |x: &Path| x.display().to_string();
    write(
        dir,
        "d.csv",
        &format!("date,x,y\n{}", common::ridge_rows(60)),
    );
    let cfg = write(
        dir,
        "ridge.toml",
        &common::RIDGE_CONFIG.replace("\"d.csv\"", &format!("{:?}", p(&dir.join("d.csv")))),
    );
    let report = strict_json(
        &hone(&["train", &p(&cfg), "--out", &p(&dir.join("r")), "--json"]),
        "train ridge",
    );
    let run = report
        .get("run_id")
        .and_then(Strict::text)
        .unwrap()
        .to_string();
    let same = strict_json(&hone(&["compare", &run, &run, "--json"]), "compare ridge");
    assert_eq!(same.get("identical_predictions"), Some(&Strict::Bool(true)));
    let Some(Strict::Array(tests)) = same.get("tests") else {
        panic!("{same:?}")
    };
    let names: Vec<&str> = tests.iter().filter_map(|t| t.get("test")?.text()).collect();
    assert_eq!(names, ["diebold_mariano_hln", "paired_bootstrap"]);
    for t in tests {
        assert_eq!(
            t.get("p_value").and_then(Strict::number),
            Some(1.0),
            "{t:?}"
        );
    }
    let words = hone(&["compare", &run, &run]);
    assert!(words.status.success());
    assert!(String::from_utf8_lossy(&words.stdout).contains("identical predictions"));

    let gbm = train_config(dir, "gbm", 0.1, "").display().to_string();
    let text = std::fs::read_to_string(&gbm).unwrap().replace(
        "[model]\ntype = \"logistic\"\nC = 0.1\n",
        "[model]\ntype = \"lightgbm\"\nearly_stopping_rounds = 5\n[model.params]\n\
         num_iterations = 30\nnum_leaves = 7\nlearning_rate = 0.1\nnum_threads = 1\nverbosity = -1\n",
    );
    assert!(text.contains("lightgbm"));
    std::fs::write(&gbm, text).unwrap();
    let report = strict_json(
        &hone(&["train", &gbm, "--out", &p(&dir.join("g")), "--json"]),
        "train lightgbm",
    );
    assert!(matches!(
        report.get("model_params"),
        Some(Strict::Object(_))
    ));
    let run = report
        .get("run_id")
        .and_then(Strict::text)
        .unwrap()
        .to_string();
    let same = strict_json(
        &hone(&["compare", &run, &run, "--on", "oof", "--json"]),
        "compare lightgbm",
    );
    assert_eq!(same.get("identical_predictions"), Some(&Strict::Bool(true)));
    let show = strict_json(
        &hone(&["runs", "show", &run, "--json"]),
        "runs show lightgbm",
    );
    assert!(matches!(
        show.get("run").and_then(|r| r.get("metric_steps")),
        Some(Strict::Object(_))
    ));
}
