//! `hone-bench panel-scale ASSETS DAYS FEATURES DIR [ROUNDS]`: a seeded panel (ASSETS ×
//! DAYS rows, FEATURES raw numeric features, a price random walk) written as Parquet, then
//! timed through hone's panel path: load, per-asset feature derivation with the cross-sectional
//! rank of every feature and a demeaned 5-day forward-return target (one `DataSpec::build`),
//! the cross-sectional rank alone, and a LightGBM fit of ROUNDS rounds on every row. Peak
//! resident memory (VmHWM) is read after each stage and compared with the raw data's size.
//! `panel-ic FILE`: hone's per-date IC and rank IC of `pred` against `target` in a CSV
//! (`date,pred,target`), timed (what `bench/panel/ic_peer.py` does with pandas and SciPy).

use std::path::Path;
use std::time::Instant;

use hone_data::dataset::BuildOptions;
use hone_models::Matrix;
use hone_models::gbm::GbmSpec;
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::{die, normal};

/// Peak resident set size of this process so far, bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Writes the panel: `date` (day number), `asset` (id), `close`, `f0..`.
fn generate(assets: usize, days: usize, features: usize, path: &Path) -> usize {
    let mut rng = StdRng::seed_from_u64(11);
    let rows = assets * days;
    let mut names = vec!["date".to_string(), "asset".to_string(), "close".to_string()];
    names.extend((0..features).map(|j| format!("f{j}")));
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(rows); names.len()];
    let mut close = vec![100.0; assets];
    for d in 0..days {
        for (a, c) in close.iter_mut().enumerate() {
            *c *= 1.0 + 0.01 * normal(&mut rng);
            cols[0].push(d as f64);
            cols[1].push(a as f64);
            cols[2].push((*c * 1e4).round() / 1e4);
            for col in cols.iter_mut().skip(3) {
                col.push((normal(&mut rng) * 1e4).round() / 1e4 + rng.random::<f64>() * 1e-9);
            }
        }
    }
    hone_data::table::write_parquet(path, &names, &cols, false)
        .unwrap_or_else(|e| die(&e.to_string()));
    rows
}

/// `panel-scale`.
pub fn scale(args: &[String]) {
    let get = |i: usize, what: &str| -> usize {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| die(&format!("panel-scale: argument {what} missing or invalid")))
    };
    let (assets, days, n_features) = (get(0, "ASSETS"), get(1, "DAYS"), get(2, "FEATURES"));
    let dir = Path::new(
        args.get(3)
            .unwrap_or_else(|| die("panel-scale: DIR missing")),
    );
    let rounds = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(50usize);
    let path = dir.join(format!("panel_{assets}x{days}.parquet"));
    let t = Instant::now();
    let rows = if path.exists() {
        assets * days
    } else {
        generate(assets, days, n_features, &path)
    };
    let generate_s = t.elapsed().as_secs_f64();
    let raw_bytes = (rows * (n_features + 3) * 8) as u64;
    let base = peak_rss();

    let spec: hone_data::DataSpec = toml::from_str(&format!(
        r#"
path = "{}"
time_column = "date"
asset_column = "asset"
features = [{}]
[derive]
price = "close"
returns = [1, 5, 20]
rolling = [20]
[cross_section]
rank = "all"
target = "demean"
"#,
        path.display(),
        (0..n_features)
            .map(|j| format!("\"f{j}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .unwrap_or_else(|e| die(&e.to_string()));
    let target: hone_data::TargetSpec =
        toml::from_str("kind = \"forward_return\"\ncolumn = \"close\"\nhorizon = 5")
            .unwrap_or_else(|e| die(&e.to_string()));

    let t = Instant::now();
    let table =
        hone_data::table::load(&path, &spec.text_columns()).unwrap_or_else(|e| die(&e.to_string()));
    let load_s = t.elapsed().as_secs_f64();
    let after_load = peak_rss();

    let t = Instant::now();
    let ds = spec
        .build(
            &table,
            BuildOptions {
                target: Some(&target),
                require_increasing_time: true,
                allow_missing_features: false,
                trading_price: Some("close"),
            },
        )
        .unwrap_or_else(|e| die(&e.to_string()));
    let build_s = t.elapsed().as_secs_f64();
    drop(table);
    let after_build = peak_rss();

    // The cross-sectional rank alone, of every feature (part of the build above).
    let panel = ds.panel.as_ref().unwrap_or_else(|| die("not a panel"));
    let keys = panel.time_keys();
    let t = Instant::now();
    for col in &ds.features {
        let r = hone_data::cross_section::transform(
            &keys,
            None,
            col,
            hone_data::cross_section::CrossSection::Rank,
        );
        std::hint::black_box(r);
    }
    let rank_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let x = Matrix::from_columns(&ds.features);
    let params = [
        ("objective", json!("regression")),
        ("num_iterations", json!(rounds)),
        ("learning_rate", json!(0.05)),
        ("num_leaves", json!(31)),
        ("min_data_in_leaf", json!(1000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let spec_gbm = GbmSpec {
        boosting: "gbdt".into(),
        params,
        early_stopping_rounds: None,
        validation_fraction: 0.0,
    };
    let data = hone_models::TrainingSet {
        label_gap: 0,
        x: &x,
        y: &ds.target,
        valid: None,
        task: Task::Regression,
        seed: 1,
        feature_names: &[],
        sequence: None,
    };
    let model = spec_gbm
        .fit(&data, &mut hone_models::observer::Unobserved)
        .unwrap_or_else(|e| die(&e.to_string()));
    std::hint::black_box(model);
    let train_s = t.elapsed().as_secs_f64();
    let after_train = peak_rss();
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    println!(
        "{}",
        json!({
            "assets": assets, "days": days, "rows": rows, "raw_features": n_features,
            "dataset_rows": ds.n_rows(), "dataset_features": ds.feature_names.len(),
            "generate_s": generate_s, "load_s": load_s,
            "build_s (per-asset features + cross-sectional rank + target)": build_s,
            "cross_sectional_rank_alone_s": rank_s,
            "lightgbm_rounds": rounds, "lightgbm_train_s": train_s,
            "raw_data_gib": gib(raw_bytes),
            "peak_rss_gib": {"start": gib(base), "after_load": gib(after_load),
                             "after_build": gib(after_build), "after_train": gib(after_train)},
            "peak_over_raw": after_train as f64 / raw_bytes as f64,
        })
    );
}

/// `panel-ic`.
pub fn ic(args: &[String]) {
    let path = Path::new(
        args.first()
            .unwrap_or_else(|| die("panel-ic: FILE missing")),
    );
    let t = Instant::now();
    let table = hone_data::table::load(path, &[]).unwrap_or_else(|e| die(&e.to_string()));
    let col = |name: &str| {
        table
            .numeric(name)
            .unwrap_or_else(|e| die(&e.to_string()))
            .to_vec()
    };
    let (date, pred, target) = (col("date"), col("pred"), col("target"));
    let load_s = t.elapsed().as_secs_f64();
    let times: Vec<i64> = date.iter().map(|&d| d as i64).collect();
    let t = Instant::now();
    use hone_validate::cross_section::{IcKind, IcSummary, information_coefficients};
    let ic = information_coefficients(&times, &pred, &target, IcKind::Pearson)
        .unwrap_or_else(|e| die(&e.to_string()));
    let rank = information_coefficients(&times, &pred, &target, IcKind::Spearman)
        .unwrap_or_else(|e| die(&e.to_string()));
    let s = IcSummary::of(&ic, 252.0).unwrap_or_else(|e| die(&e.to_string()));
    let r = IcSummary::of(&rank, 252.0).unwrap_or_else(|e| die(&e.to_string()));
    let ic_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"rows": date.len(), "dates": s.n, "load_s": load_s, "ic_s": ic_s,
               "ic_mean": s.mean, "ic_std": s.std, "icir": s.icir,
               "rank_ic_mean": r.mean, "rank_icir": r.icir})
    );
}
