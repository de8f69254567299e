//! Panels end to end: splits by date, cross-sectional metrics in folds, holdout and gates, the
//! portfolio backtest, retraining policies, and the errors a user meets.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `assets` × `days` panel whose next-day return follows a signal known at t (plus noise):
/// `ret[t+1] = 0.004 · sig[t] + noise`. Asset 0 enters after 40 days (unbalanced).
fn write_panel(dir: &Path, assets: usize, days: usize) -> PathBuf {
    let mut text = String::from("date,asset,close,sig\n");
    let mut state: u64 = 7;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut close = vec![100.0; assets];
    let mut sig = vec![0.0; assets];
    for d in 0..days {
        let date = chrono_like(d);
        for a in 0..assets {
            let r = 0.004 * sig[a] + 0.01 * next();
            close[a] *= 1.0 + r;
            sig[a] = next() * 2.0;
            if a == 0 && d < 40 {
                continue;
            }
            let _ = writeln!(text, "{date},A{a:02},{:.6},{:.6}", close[a], sig[a]);
        }
    }
    let path = dir.join("panel.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Business-day-like ISO dates from 2010-01-04, five a week.
fn chrono_like(d: usize) -> String {
    let week = d / 5;
    let day = d % 5;
    let days = week * 7 + day;
    let base = 14_613 + days as i64; // 2010-01-04 as days since 1970-01-01
    let (y, m, dd) = civil(base);
    format!("{y:04}-{m:02}-{dd:02}")
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"
name = "panel_test"
seed = 3
[data]
path = "panel.csv"
time_column = "date"
asset_column = "asset"
features = ["sig"]
[data.derive]
price = "close"
returns = [1, 5]
[data.cross_section]
rank = ["ret_5"]
keep_raw = true
target = "demean"
[target]
kind = "forward_return"
column = "close"
horizon = 1
[split]
scheme = "timeseries"
n_splits = 4
holdout = 0.2
[model]
type = "lightgbm"
[model.params]
objective = "regression"
num_iterations = 40
learning_rate = 0.1
num_leaves = 7
min_data_in_leaf = 50
verbosity = -1
{extra}
"#
    );
    let path = dir.join("panel.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_scheme_splits_dates_and_no_label_straddles_a_test_block() {
    let dir = tempfile::tempdir().unwrap();
    write_panel(dir.path(), 6, 260);
    for scheme in [
        "scheme = \"timeseries\"\nn_splits = 4\nholdout = 0.2",
        "scheme = \"purged_kfold\"\nn_splits = 4\nholdout = 0.2",
        "scheme = \"cpcv\"\nn_groups = 5\nn_test_groups = 2\nholdout = 0.2",
        "scheme = \"walk_forward\"\ntrain_size = 60\ntest_size = 30\nholdout = 0.2",
        "scheme = \"monte_carlo\"\nn_splits = 4\ntest_size = 0.2\ntemporal = true\nholdout = 0.2",
    ] {
        let text = std::fs::read_to_string(config(dir.path(), "")).unwrap();
        let text = text.replace(
            "[split]\nscheme = \"timeseries\"\nn_splits = 4\nholdout = 0.2",
            &format!("[split]\n{scheme}"),
        );
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let cfg = hone_train::config::load(&path).unwrap();
        let ds = hone_train::job::load_dataset(&cfg, true).unwrap();
        let p = ds.panel.as_ref().unwrap();
        let plan = hone_train::job::split_plan(&cfg).unwrap();
        assert!(!plan.folds.is_empty(), "{scheme}");
        for f in &plan.folds {
            let test_times: std::collections::BTreeSet<usize> =
                f.test.iter().map(|&i| p.time_index[i]).collect();
            // Whole dates: every row of a test date is in the test set.
            for &t in &test_times {
                let all = p.time_starts[t + 1] - p.time_starts[t];
                let got = f.test.iter().filter(|&&i| p.time_index[i] == t).count();
                assert_eq!(all, got, "{scheme}: date {t} split");
            }
            for &i in &f.train {
                let t = p.time_index[i];
                assert!(!test_times.contains(&t), "{scheme}: date {t} on both sides");
                // The training label's window [t, label end] holds no test date.
                let end = p.time_label_end[t];
                assert!(
                    test_times.range(t..=end).next().is_none(),
                    "{scheme}: label of date {t} (ends {end}) straddles a test date"
                );
            }
        }
        // The holdout is whole dates after the development dates, purged.
        if plan.holdout_start < plan.n {
            let dev_last = p.time_index[plan.dev_end - 1];
            assert!(p.time_label_end[dev_last] < p.time_index[plan.holdout_start]);
        }
    }
}

#[test]
fn a_panel_trains_reports_ic_and_backtests_a_long_short_book() {
    let dir = tempfile::tempdir().unwrap();
    write_panel(dir.path(), 8, 300);
    let path = config(
        dir.path(),
        "[portfolio]\ntop_k = 2\ncost_bps = 5\n[gates]\nhard = [\"cv.rank_ic.mean >= 0.05\"]",
    );
    let cfg = hone_train::config::load(&path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = hone_train::run_train(&cfg, out.path(), &mut |_| {}).unwrap();
    // The signal is real: the rank IC is clearly positive in every fold and on the holdout.
    for f in &report.folds {
        assert!(f.metrics["rank_ic"] > 0.05, "{:?}", f.metrics);
    }
    assert!(report.holdout.as_ref().unwrap().metrics["rank_ic"] > 0.05);
    assert!(report.gates.iter().all(|g| g.passed), "{:?}", report.gates);
    let panel = report.panel.as_ref().unwrap();
    assert_eq!(panel.assets, 8);
    let ic = panel.cv.rank_ic.as_ref().unwrap();
    assert!(ic.t_stat > 3.0 && ic.hit_rate > 0.5, "{ic:?}");
    // IC decay: the signal predicts the next day only, so h1 beats h5.
    assert!(panel.cv.decay[0].rank_ic > panel.cv.decay[4].rank_ic);
    let book = report.portfolio.as_ref().unwrap();
    assert!((book.cv.gross_exposure - 2.0).abs() < 1e-9);
    assert!(book.cv.net_exposure.abs() < 1e-9);
    assert!(book.cv.long_leg.as_ref().unwrap().annual_return > 0.0);
    assert!(book.cv.monotonicity > 0.5, "{:?}", book.cv.quantile_returns);
    let trading = report.trading.as_ref().unwrap();
    assert!(trading.cv.metrics.sharpe > 1.0);
    assert!(out.path().join("equity_cv.csv").exists());
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["panel"]["cv"]["rank_ic"]["icir"].is_number());
    let values = hone_train::gates::values(&report);
    for key in [
        "cv.rank_ic.mean",
        "cv.rank_ic.icir",
        "cv.ic.t_stat",
        "holdout.rank_ic",
        "cv.portfolio.turnover",
        "cv.trading.sharpe",
    ] {
        assert!(values.contains_key(key), "{key}");
    }
    // `hone evaluate` scores the same holdout dates with the same cross-sectional metrics.
    let ev = hone_train::evaluate::evaluate(out.path(), None).unwrap();
    let held = &report.holdout.as_ref().unwrap().metrics;
    assert!((ev.metrics["rank_ic"] - held["rank_ic"]).abs() < 1e-12);
    assert!((ev.metrics["mse"] - held["mse"]).abs() < 1e-15);
    // `hone predict` scores the latest cross-section, ranked.
    let pred = hone_train::predict::predict_with(out.path(), &dir.path().join("panel.csv"), false)
        .unwrap();
    assert_eq!(pred.rows, 8);
    let lines: Vec<&str> = pred.csv.lines().collect();
    assert!(lines[0].starts_with("time,asset,"), "{}", lines[0]);
    assert!(lines[1].ends_with(",1"));
}

#[test]
fn retraining_policies_compare_and_predictions_before_t_ignore_later_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_panel(dir.path(), 6, 240);
    let path = config(dir.path(), "[portfolio]\ntop_k = 1");
    let cfg = hone_train::config::load(&path).unwrap();
    let spec = hone_train::retrain::RetrainSpec {
        every: vec![10, 40],
        window: hone_train::retrain::Window::Rolling(100),
        start: 0.5,
    };
    let report = hone_train::retrain::run_retrain(&cfg, &spec, &mut |_| {}).unwrap();
    assert_eq!(report.policies.len(), 2);
    assert!(report.policies[0].retrains > report.policies[1].retrains);
    assert!(report.policies[0].dm_vs_most_frequent.is_none());
    assert!(report.policies[1].dm_vs_most_frequent.is_some());
    assert!(report.policies[1].model_agreement.is_some());
    for p in &report.policies {
        assert!(
            p.cross_section
                .as_ref()
                .unwrap()
                .rank_ic
                .as_ref()
                .unwrap()
                .mean
                > 0.0
        );
        assert!(p.trading.is_some());
    }
    // Multiply every price after a cut by 3 and scramble the signal there: the stitched
    // predictions up to the cut do not move.
    let text = std::fs::read_to_string(&data).unwrap();
    let cut = "2010-08-02";
    let mut changed = String::new();
    for (k, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if k > 0 && f[0] > cut {
            let close: f64 = f[2].parse().unwrap();
            let _ = writeln!(
                changed,
                "{},{},{},{}",
                f[0],
                f[1],
                close * 3.0,
                -(k as f64 % 7.0)
            );
        } else {
            let _ = writeln!(changed, "{line}");
        }
    }
    std::fs::write(&data, changed).unwrap();
    let after = hone_train::retrain::run_retrain(&cfg, &spec, &mut |_| {}).unwrap();
    let mut compared = 0;
    for (a, b) in report.policies.iter().zip(&after.policies) {
        for (x, y) in a.predictions.iter().zip(&b.predictions) {
            assert_eq!((&x.0, &x.1), (&y.0, &y.1));
            if x.0.as_str() <= cut {
                assert_eq!(x.2, y.2, "prediction at {} {} moved", x.0, x.1);
                compared += 1;
            }
        }
    }
    assert!(compared > 50);
    let moved = report.policies[0]
        .predictions
        .iter()
        .zip(&after.policies[0].predictions)
        .any(|(x, y)| x.0.as_str() > cut && x.2 != y.2);
    assert!(moved, "the change must reach later predictions");
}

#[test]
fn panel_mistakes_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_panel(dir.path(), 4, 120);
    let err = |extra: &str| -> String {
        let path = config(dir.path(), extra);
        let r = hone_train::config::load(&path).and_then(|cfg| {
            let out = tempfile::tempdir().unwrap();
            hone_train::run_train(&cfg, out.path(), &mut |_| {}).map(|_| ())
        });
        r.unwrap_err().to_string()
    };
    let e = err("[trading]\ncost_bps = 1");
    assert!(e.contains("[portfolio]"), "{e}");
    // Three assets on the first dates (A00 enters late): top_k = 2 needs 4.
    let e = err("[portfolio]\ntop_k = 2");
    assert!(e.contains("fewer than the 4") && e.contains("2010-"), "{e}");
    let path = config(dir.path(), "");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("scheme = \"timeseries\"", "scheme = \"stratified_kfold\"");
    std::fs::write(&path, text).unwrap();
    let cfg = hone_train::config::load(&path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = hone_train::run_train(&cfg, out.path(), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("stratified") && e.contains("timestamp"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn retraining_policies_also_run_on_a_single_series() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_purged_trading.toml");
    let cfg = hone_train::config::load(&path).unwrap();
    let spec = hone_train::retrain::RetrainSpec {
        every: vec![250, 1000],
        window: hone_train::retrain::Window::Expanding,
        start: 0.8,
    };
    let report = hone_train::retrain::run_retrain(&cfg, &spec, &mut |_| {}).unwrap();
    assert_eq!(report.policies.len(), 2);
    for p in &report.policies {
        assert!(p.cross_section.is_none());
        assert!(p.trading.is_some(), "the config's [trading] backtest");
        assert!(p.metrics.contains_key("roc_auc"), "{:?}", p.metrics);
        assert!(p.mean_loss.is_finite());
        assert!(p.predictions.iter().all(|(_, asset, _)| asset.is_empty()));
    }
    assert!(report.policies[1].dm_vs_most_frequent.is_some());
}
