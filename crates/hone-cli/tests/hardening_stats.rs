//! Bad settings of `hone split`, `hone stats`, `hone drift` and `hone metrics` (and a `[split]`
//! table of `hone train`): each is refused with exit code 2 and one stderr line naming the flag
//! or key, prints nothing on stdout, and never panics.

use std::process::Output;

mod common;
use common::write_text as write;

fn hone(args: &[&str]) -> Output {
    let store = tempfile::tempdir().unwrap();
    common::hone_with_store(&common::store_in(store.path()), args)
}

/// Runs hone, expects exit code 2, nothing on stdout and exactly one stderr line that names
/// `name`; returns that line.
fn refused(args: &[&str], name: &str) -> String {
    let o = hone(args);
    let line = common::one_error_line(&o, 2, &format!("{args:?}"));
    assert!(o.stdout.is_empty(), "{args:?} printed output");
    assert!(line.contains(name), "{args:?} does not name {name}: {line}");
    line
}

#[test]
fn a_wrapping_gap_is_refused_not_leaked() {
    let e = refused(
        &[
            "split",
            "--scheme",
            "timeseries",
            "--n-samples",
            "20",
            "--n-splits",
            "4",
            "--gap",
            "18446744073709551610",
        ],
        "--gap",
    );
    assert!(e.contains("below the number of samples (20)"), "{e}");
}

#[test]
fn absurd_split_counts_are_refused_before_allocating() {
    let e = refused(
        &["split", "--scheme", "kfold", "--n-samples", "100000000000"],
        "--n-samples",
    );
    assert!(e.contains("at most 1000000000"), "{e}");
    refused(
        &[
            "split",
            "--scheme",
            "walk_forward",
            "--n-samples",
            "100",
            "--train-size",
            "18446744073709551615",
            "--test-size",
            "5",
        ],
        "--train-size",
    );
    refused(
        &[
            "split",
            "--scheme",
            "purged_kfold",
            "--n-samples",
            "100000000000",
            "--label-horizon",
            "18446744073709551615",
        ],
        "--n-samples",
    );
    refused(
        &[
            "split",
            "--scheme",
            "monte_carlo",
            "--n-samples",
            "100",
            "--n-splits",
            "18446744073709551615",
        ],
        "--n-splits",
    );
    refused(
        &[
            "split",
            "--scheme",
            "cpcv",
            "--n-samples",
            "100",
            "--purged-size",
            "18446744073709551615",
            "--embargo-size",
            "2",
        ],
        "--purged-size",
    );
}

#[test]
fn monte_carlo_sizes_follow_sklearn() {
    for bad in ["1.5", "0", "-0.2", "NaN", "inf"] {
        let e = refused(
            &[
                "split",
                "--scheme",
                "monte_carlo",
                "--n-samples",
                "20",
                "--test-size",
                bad,
            ],
            "--test-size",
        );
        assert!(e.contains("share in (0, 1)"), "{e}");
    }
    refused(
        &[
            "split",
            "--scheme",
            "monte_carlo",
            "--n-samples",
            "20",
            "--test-size",
            "20",
        ],
        "--test-size",
    );
    refused(
        &[
            "split",
            "--scheme",
            "purged_kfold",
            "--n-samples",
            "20",
            "--embargo-pct",
            "NaN",
        ],
        "--embargo-pct",
    );
}

#[test]
fn a_config_monte_carlo_share_above_one_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows = common::ridge_rows(40);
    write(d, "d.csv", &format!("date,x,y\n{rows}"));
    let config =
        common::RIDGE_CONFIG.replace("n_splits = 2", "scheme = \"monte_carlo\"\ntest_size = 1.5");
    let cfg = write(d, "job.toml", &config);
    let out = d.join("run");
    refused(
        &["train", &cfg, "--out", out.to_str().unwrap(), "--no-track"],
        "split.test_size",
    );
    assert!(!out.exists(), "a refused job wrote its output directory");
    refused(&["split", &cfg], "split.test_size");
}

#[test]
fn psr_probabilities_and_moments_are_checked() {
    let psr = |extra: &[&str]| -> Vec<String> {
        ["stats", "psr", "--sr", "0.1", "--n-obs", "252"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    for alpha in ["2", "-0.5", "NaN", "0", "1"] {
        let args = psr(&["--alpha", alpha]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = refused(&args, "--alpha");
        assert!(e.contains("must be in (0, 1)"), "{e}");
    }
    for (flag, value) in [
        ("--kurtosis", "-5"),
        ("--kurtosis", "NaN"),
        ("--benchmark", "NaN"),
        ("--benchmark", "inf"),
        ("--skew", "NaN"),
    ] {
        let args = psr(&[flag, value]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, flag);
    }
    // Pearson's bound: skew 2 needs kurtosis >= 5.
    let e = refused(
        &[
            "stats",
            "psr",
            "--sr",
            "0.1",
            "--n-obs",
            "252",
            "--skew",
            "2",
            "--kurtosis",
            "4",
        ],
        "--kurtosis",
    );
    assert!(e.contains("skew² + 1"), "{e}");
    refused(&["stats", "psr", "--sr", "0.1", "--n-obs", "1"], "--n-obs");
    refused(&["stats", "psr", "--sr", "inf", "--n-obs", "252"], "--sr");
}

#[test]
fn dsr_counts_and_variances_are_checked() {
    let dsr = |n_trials: &str, variance: &str| {
        vec![
            "stats".to_string(),
            "dsr".into(),
            "--sr".into(),
            "0.1".into(),
            "--n-obs".into(),
            "252".into(),
            "--n-trials".into(),
            n_trials.into(),
            "--sr-variance".into(),
            variance.into(),
        ]
    };
    for (args, flag) in [
        (dsr("18446744073709551615", "0.01"), "--n-trials"),
        (dsr("0", "0.01"), "--n-trials"),
        (dsr("10", "-1"), "--sr-variance"),
        (dsr("10", "NaN"), "--sr-variance"),
        (dsr("10", "inf"), "--sr-variance"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, flag);
    }
}

#[test]
fn stats_counts_and_levels_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ab: String = (0..30)
        .map(|i| format!("{},{}\n", (i as f64 * 0.3).sin(), (i as f64 * 0.5).cos()))
        .collect();
    let ab = write(d, "ab.csv", &format!("a,b\n{ab}"));
    let e = refused(
        &[
            "stats",
            "bootstrap",
            "--input",
            &ab,
            "--n-boot",
            "18446744073709551615",
        ],
        "--n-boot",
    );
    assert!(e.contains("at most 10000000"), "{e}");
    for c in ["NaN", "1", "-0.5", "0"] {
        refused(
            &["stats", "bootstrap", "--input", &ab, "--confidence", c],
            "--confidence",
        );
    }
    for (n_train, n_test, flag) in [("0", "3", "--n-train"), ("9", "0", "--n-test")] {
        refused(
            &[
                "stats",
                "nb-ttest",
                "--input",
                &ab,
                "--n-train",
                n_train,
                "--n-test",
                n_test,
            ],
            flag,
        );
    }
    let returns: String = (0..40)
        .map(|i| format!("{}\n", (i as f64 * 0.9).sin() / 100.0))
        .collect();
    let r = write(d, "r.csv", &format!("r\n{returns}"));
    for p in ["NaN", "inf", "0", "-252"] {
        refused(
            &["stats", "trading", "--returns", &r, "--periods-per-year", p],
            "--periods-per-year",
        );
    }
    let m: String = (0..40)
        .map(|i| format!("{},{}\n", (i as f64).sin(), (i as f64).cos()))
        .collect();
    let m = write(d, "m.csv", &format!("a,b\n{m}"));
    for blocks in ["18446744073709551614", "3", "0"] {
        refused(
            &["stats", "pbo", "--matrix", &m, "--blocks", blocks],
            "--blocks",
        );
    }
    let dm: String = (0..20)
        .map(|i| {
            format!(
                "{},{},{}\n",
                i % 3,
                (i % 4) as f64 / 2.0,
                (i % 5) as f64 / 3.0
            )
        })
        .collect();
    let dm = write(d, "dm.csv", &format!("y_true,pred_a,pred_b\n{dm}"));
    for h in ["0", "18446744073709551615"] {
        refused(
            &["stats", "dm", "--input", &dm, "--horizon", h],
            "--horizon",
        );
    }
}

#[test]
fn drift_shares_and_thresholds_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let col: String = (0..50).map(|i| format!("{}\n", i % 7)).collect();
    let a = write(d, "a.csv", &format!("x\n{col}"));
    let b = write(d, "b.csv", &format!("x\n{col}"));
    for share in ["-1", "2", "NaN", "0"] {
        refused(
            &[
                "drift",
                "--reference",
                &a,
                "--current",
                &b,
                "--drift-share",
                share,
            ],
            "--drift-share",
        );
    }
    for (method, t) in [
        ("auto", "NaN"),
        ("auto", "-0.1"),
        ("ks", "2"),
        ("psi", "inf"),
    ] {
        refused(
            &[
                "drift",
                "--reference",
                &a,
                "--current",
                &b,
                "--method",
                method,
                "--threshold",
                t,
            ],
            "--threshold",
        );
    }
}

#[test]
fn metrics_refuse_scores_that_are_not_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, bad) in [("high", "1.5"), ("low", "-0.2")] {
        let f = write(
            d,
            &format!("{name}.csv"),
            &format!("y_true,y_score\n1,0.8\n0,{bad}\n1,0.6\n"),
        );
        let e = refused(&["metrics", "--task", "binary", "--input", &f], "line 3");
        assert!(e.contains("y_score") && e.contains("[0, 1]"), "{e}");
    }
    let f = write(
        d,
        "multi.csv",
        "y_true,proba_a,proba_b,proba_c\na,0.7,0.2,0.1\nb,0.9,0.9,0.9\nc,0.1,0.1,0.8\n",
    );
    let e = refused(
        &["metrics", "--task", "multiclass", "--input", &f],
        "line 3",
    );
    assert!(e.contains("sum to 1") && e.contains("2.7"), "{e}");
    // Valid probabilities still score.
    let f = write(
        d,
        "ok.csv",
        "y_true,proba_a,proba_b,proba_c\na,0.7,0.2,0.1\nb,0.1,0.8,0.1\nc,0.1,0.1,0.8\n",
    );
    assert!(
        hone(&["metrics", "--task", "multiclass", "--input", &f])
            .status
            .success()
    );
}
