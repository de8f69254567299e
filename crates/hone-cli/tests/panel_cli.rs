//! Panels from the command line, as a user runs them: the bundled 20-asset example trains,
//! backtests and retrains; bad panels get one-line errors.

mod common;

use std::path::Path;

use common::{hone_with_store, one_error_line, store_in};

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/sp500_panel_rank.toml")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn panel_data() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sp500_20_assets_daily_1990_2022.csv")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn the_bundled_panel_trains_backtests_and_retrains() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let out = dir.path().join("out");
    let o = hone_with_store(
        &store,
        &["train", &example(), "--out", out.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in [
        "rank IC",
        "portfolio cv",
        "returns by quantile",
        "vs universe",
        "rank_ic",
    ] {
        assert!(stdout.contains(want), "{want} missing from:\n{stdout}");
    }
    // The tracked run carries the cross-sectional metrics and the portfolio's.
    let runs = hone_with_store(
        &store,
        &["runs", "list", "--experiment", "sp500_panel_rank", "--json"],
    );
    let text = String::from_utf8_lossy(&runs.stdout);
    for key in [
        "cv.rank_ic.mean",
        "cv.rank_ic.icir",
        "holdout.rank_ic",
        "cv.portfolio.turnover",
    ] {
        assert!(text.contains(key), "{key} not tracked: {text}");
    }
    // Predict scores the latest date, ranked.
    let p = hone_with_store(
        &store,
        &[
            "predict",
            "--model",
            out.to_str().unwrap(),
            "--data",
            &panel_data(),
        ],
    );
    let csv = String::from_utf8_lossy(&p.stdout);
    assert!(p.status.success());
    assert_eq!(csv.lines().count(), 21, "{csv}");
    assert!(csv.starts_with("time,asset,y_pred,rank"));
    // Two retraining policies, compared, tracked.
    let r = hone_with_store(
        &store,
        &[
            "retrain",
            &example(),
            "--every",
            "252,1000",
            "--start",
            "0.8",
        ],
    );
    let table = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        table.contains("retraining policies") && table.contains("(baseline)"),
        "{table}"
    );
    assert!(table.contains("tracked as run"), "{table}");
}

#[test]
fn bad_panels_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let data = dir.path().join("p.csv");
    let cfg = dir.path().join("p.toml");
    let write_cfg = |extra: &str| {
        std::fs::write(
            &cfg,
            format!(
                "[data]\npath = \"p.csv\"\ntime_column = \"date\"\nasset_column = \"asset\"\n\
                 [data.derive]\nprice = \"close\"\nreturns = [1]\n\
                 [target]\nkind = \"forward_return\"\n[model]\ntype = \"ridge\"\n{extra}"
            ),
        )
        .unwrap();
    };
    let mut rows = String::from("date,asset,close\n");
    for d in 1..=28 {
        for a in ["A", "B", "C"] {
            rows.push_str(&format!("2020-02-{d:02},{a},{}\n", 10.0 + d as f64 * 0.1));
        }
    }
    // Duplicate (time, asset): both lines named.
    std::fs::write(&data, format!("{rows}2020-02-03,B,9\n")).unwrap();
    write_cfg("");
    let o = hone_with_store(&store, &["train", cfg.to_str().unwrap(), "--no-track"]);
    let e = one_error_line(&o, 1, "duplicate");
    assert!(
        e.contains("duplicate (time, asset)") && e.contains("line 9") && e.contains("line 86"),
        "{e}"
    );
    // One asset: the plain mode is suggested.
    let single: String = rows
        .lines()
        .filter(|l| !l.contains(",B,") && !l.contains(",C,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&data, single).unwrap();
    let o = hone_with_store(&store, &["train", cfg.to_str().unwrap(), "--no-track"]);
    let e = one_error_line(&o, 1, "single asset");
    assert!(e.contains("remove data.asset_column"), "{e}");
    // The asset column listed as a feature.
    std::fs::write(&data, &rows).unwrap();
    write_cfg("");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "asset_column = \"asset\"\n",
        "asset_column = \"asset\"\nfeatures = [\"asset\"]\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let o = hone_with_store(&store, &["train", cfg.to_str().unwrap(), "--no-track"]);
    let e = one_error_line(&o, 2, "asset as a feature");
    assert!(e.contains("data.asset_column"), "{e}");
    // A portfolio leg larger than the universe, named with its date.
    write_cfg("[portfolio]\ntop_k = 2\n[split]\nn_splits = 2\n");
    let o = hone_with_store(&store, &["train", cfg.to_str().unwrap(), "--no-track"]);
    // (Checked once the data is loaded, before anything is fitted: the progress line shows.)
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("fold 1"), "{stderr}");
    let e = stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        e.contains("2020-02-") && e.contains("fewer than the 4"),
        "{e}"
    );
    // A bad retrain window.
    write_cfg("");
    let o = hone_with_store(
        &store,
        &[
            "retrain",
            cfg.to_str().unwrap(),
            "--window",
            "rolling:x",
            "--no-track",
        ],
    );
    let e = one_error_line(&o, 2, "window");
    assert!(e.contains("--window"), "{e}");
}
