//! Panels (`[data] asset_column`): per-asset causal features, cross-sectional transforms,
//! and the leakage properties the issue asks for, each proven on data built to expose a leak.

use std::path::Path;

use hone_data::dataset::BuildOptions;
use hone_data::{DataSpec, Dataset, TargetSpec, table};

/// A small unbalanced panel: asset C enters late, B misses a bar, rows in shuffled order.
fn rows() -> Vec<(String, String, f64, &'static str)> {
    let mut out = Vec::new();
    for d in 0..30 {
        let date = format!("2020-01-{:02}", d + 1);
        let sector = |a: &str| if a == "A" { "tech" } else { "energy" };
        for (a, base) in [("A", 10.0), ("B", 20.0), ("C", 30.0), ("D", 5.0)] {
            if a == "C" && d < 8 {
                continue;
            }
            if a == "B" && d == 15 {
                continue;
            }
            let price = base * (1.0 + 0.01 * ((d * 7 + base as usize) % 11) as f64 - 0.05);
            out.push((date.clone(), a.to_string(), price, sector(a)));
        }
    }
    out
}

fn write(dir: &Path, name: &str, rows: &[(String, String, f64, &str)]) -> std::path::PathBuf {
    let mut text = String::from("date,asset,close,sector\n");
    for (d, a, p, s) in rows {
        text.push_str(&format!("{d},{a},{p},{s}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SPEC: &str = r#"
path = "p.csv"
time_column = "date"
asset_column = "asset"
[derive]
price = "close"
returns = [1, 3]
rolling = [5]
[cross_section]
rank = ["ret_3"]
zscore = ["vol_5"]
keep_raw = true
target = "demean"
"#;

const TARGET: &str = r#"
kind = "forward_return"
column = "close"
horizon = 2
"#;

fn build_with(path: &Path, spec: &str, target: &str) -> Result<Dataset, String> {
    let mut spec: DataSpec = toml::from_str(spec).unwrap();
    spec.path = path.to_path_buf();
    let target: TargetSpec = toml::from_str(target).unwrap();
    let t = table::load(path, &spec.text_columns()).map_err(|e| e.to_string())?;
    spec.build(
        &t,
        BuildOptions {
            target: Some(&target),
            require_increasing_time: true,
            allow_missing_features: false,
            trading_price: Some("close"),
        },
    )
    .map_err(|e| e.to_string())
}

fn build(path: &Path) -> Dataset {
    build_with(path, SPEC, TARGET).unwrap()
}

/// (time, asset) → (features, target) of each row.
fn by_key(ds: &Dataset) -> Vec<((String, String), Vec<f64>, f64)> {
    let p = ds.panel.as_ref().unwrap();
    (0..ds.n_rows())
        .map(|i| {
            (
                (
                    ds.times[i].clone(),
                    p.asset_names[p.assets[i] as usize].clone(),
                ),
                ds.features.iter().map(|c| c[i]).collect(),
                ds.target[i],
            )
        })
        .collect()
}

#[test]
fn features_are_each_assets_own_and_rows_sorted_by_time_then_asset() {
    let dir = tempfile::tempdir().unwrap();
    let ds = build(&write(dir.path(), "p.csv", &rows()));
    let p = ds.panel.as_ref().unwrap();
    assert_eq!(p.asset_names, ["A", "B", "C", "D"]);
    // Sorted by (time, asset), each timestamp contiguous.
    for w in (0..ds.n_rows()).collect::<Vec<_>>().windows(2) {
        let (i, j) = (w[0], w[1]);
        assert!((p.time_index[i], p.assets[i]) < (p.time_index[j], p.assets[j]));
    }
    // ret_1 of B at 2020-01-17 spans the missing bar (01-16): its own previous close, 01-15.
    let close = |d: usize, a: &str| {
        rows()
            .into_iter()
            .find(|r| r.0 == format!("2020-01-{d:02}") && r.1 == a)
            .unwrap()
            .2
    };
    let j = ds.feature_names.iter().position(|f| f == "ret_1").unwrap();
    let i = (0..ds.n_rows())
        .find(|&i| ds.times[i] == "2020-01-17" && p.asset_names[p.assets[i] as usize] == "B")
        .unwrap();
    assert!((ds.features[j][i] - (close(17, "B") / close(15, "B") - 1.0)).abs() < 1e-12);
    // Warm-up is per asset: C (entering on 01-09) starts 5 bars later (vol_5 reads 5 returns).
    let first_c = (0..ds.n_rows())
        .find(|&i| p.asset_names[p.assets[i] as usize] == "C")
        .unwrap();
    assert_eq!(ds.times[first_c], "2020-01-14");
    // The demeaned target sums to zero at each timestamp.
    for t in 0..p.n_times() {
        let s: f64 = (p.time_starts[t]..p.time_starts[t + 1])
            .map(|i| ds.target[i])
            .sum();
        assert!(s.abs() < 1e-12, "{s}");
    }
    // Locations name the file's line even though rows were reordered.
    assert!(ds.location(0).starts_with("line "));
    // The transformed features sit beside the raw ones.
    assert!(ds.feature_names.contains(&"ret_3_rank".to_string()));
    assert!(ds.feature_names.contains(&"vol_5_z".to_string()));
}

#[test]
fn changing_data_after_t_changes_nothing_at_or_before_t() {
    let dir = tempfile::tempdir().unwrap();
    let base = rows();
    let before = by_key(&build(&write(dir.path(), "p.csv", &base)));
    let cut = "2020-01-20";
    let mut changed = base.clone();
    for r in changed.iter_mut() {
        if r.0.as_str() > cut {
            r.2 *= 3.0;
        }
    }
    let after = by_key(&build(&write(dir.path(), "q.csv", &changed)));
    let ds = build(&write(dir.path(), "r.csv", &base));
    let p = ds.panel.as_ref().unwrap();
    let cut_t = p.time_index[(0..ds.n_rows()).find(|&i| ds.times[i] == cut).unwrap()];
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(b.0, a.0);
        if b.0.0.as_str() <= cut {
            assert_eq!(b.1, a.1, "features at {:?} changed", b.0);
            // A label whose window ends by the cut (every asset at its timestamp) is unchanged.
            if p.time_label_end[p.time_index[i]] <= cut_t {
                assert_eq!(b.2, a.2, "target at {:?} changed", b.0);
            }
        }
    }
    // And the change did reach later rows (the test can fail).
    assert_ne!(before.last().unwrap().1, after.last().unwrap().1);
}

#[test]
fn shuffling_the_rows_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = rows();
    let mut shuffled = base.clone();
    shuffled.reverse();
    shuffled.swap(3, 40);
    let a = build(&write(dir.path(), "p.csv", &base));
    let b = build(&write(dir.path(), "q.csv", &shuffled));
    assert_eq!(by_key(&a), by_key(&b));
    assert_eq!(
        a.panel.as_ref().unwrap().assets,
        b.panel.as_ref().unwrap().assets
    );
}

#[test]
fn removing_an_asset_changes_cross_sections_only_where_it_was_present() {
    let dir = tempfile::tempdir().unwrap();
    let base = rows();
    // Drop D after 2020-01-22: other assets' cross-sectional values may change only at
    // timestamps where D had a row.
    let without: Vec<_> = base
        .iter()
        .filter(|r| !(r.1 == "D" && r.0.as_str() > "2020-01-22"))
        .cloned()
        .collect();
    let a = by_key(&build(&write(dir.path(), "p.csv", &base)));
    let b = by_key(&build(&write(dir.path(), "q.csv", &without)));
    let mut changed_where_present = false;
    for row in &b {
        let same = a.iter().find(|r| r.0 == row.0).unwrap();
        if row.0.0.as_str() <= "2020-01-22" {
            assert_eq!(same.1, row.1, "{:?} changed where D is unchanged", row.0);
        } else {
            changed_where_present |= same.1 != row.1;
        }
    }
    assert!(changed_where_present);
}

#[test]
fn bad_panels_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut dup = rows();
    dup.push(dup[5].clone());
    let e = build_with(&write(dir.path(), "d.csv", &dup), SPEC, TARGET)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("duplicate (time, asset)") && e.contains("line 7") && e.contains("line "),
        "{e}"
    );
    assert!(!e.contains('\n'));
    let single: Vec<_> = rows().into_iter().filter(|r| r.1 == "A").collect();
    let e = build_with(&write(dir.path(), "s.csv", &single), SPEC, TARGET)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("single asset") && e.contains("remove data.asset_column"),
        "{e}"
    );
    let as_feature = SPEC.replace(
        "asset_column = \"asset\"",
        "asset_column = \"asset\"\nfeatures = [\"asset\"]",
    );
    let e = build_with(&write(dir.path(), "p.csv", &rows()), &as_feature, TARGET)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.asset_column") && e.contains("not a"),
        "{e}"
    );
    let typo = SPEC.replace("rank = [\"ret_3\"]", "rank = [\"ret_33\"]");
    let e = build_with(&write(dir.path(), "p.csv", &rows()), &typo, TARGET)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.cross_section.rank") && e.contains("ret_3"),
        "{e}"
    );
}

#[test]
fn the_first_failing_asset_by_name_is_reported_whatever_the_threads_do() {
    // B and D both hold a negative price; assets are built in parallel, and the error is
    // always B's line.
    let dir = tempfile::tempdir().unwrap();
    let mut bad = rows();
    let b = bad
        .iter()
        .position(|r| r.1 == "B" && r.0 == "2020-01-20")
        .unwrap();
    let d = bad
        .iter()
        .position(|r| r.1 == "D" && r.0 == "2020-01-05")
        .unwrap();
    bad[b].2 = -1.0;
    bad[d].2 = -1.0;
    let line = format!("line {}", b + 2);
    for _ in 0..20 {
        let e = build_with(&write(dir.path(), "bad.csv", &bad), SPEC, TARGET).unwrap_err();
        assert!(e.contains(&line) && e.contains("positive prices"), "{e}");
    }
}

#[test]
fn sector_neutral_ranks_stay_within_each_sector() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace(
        "keep_raw = true",
        "keep_raw = true\ngroup_column = \"sector\"",
    );
    let ds = build_with(&write(dir.path(), "p.csv", &rows()), &spec, TARGET).unwrap();
    let p = ds.panel.as_ref().unwrap();
    let j = ds
        .feature_names
        .iter()
        .position(|f| f == "ret_3_rank")
        .unwrap();
    // A is alone in tech: its sector rank is always the middle.
    for i in 0..ds.n_rows() {
        if p.asset_names[p.assets[i] as usize] == "A" {
            assert_eq!(ds.features[j][i], 0.5);
        }
    }
}
