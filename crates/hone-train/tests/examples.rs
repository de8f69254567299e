//! Every config in `examples/` parses and trains on the bundled data, and its numbers are sane.

use std::path::Path;

#[test]
fn every_example_config_trains() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        seen += 1;
        let cfg =
            hone_train::config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let out = tempfile::tempdir().unwrap();
        let report = hone_train::run_train(&cfg, out.path(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!report.folds.is_empty());
        for (name, s) in &report.cv {
            assert!(s.mean.is_finite(), "{}: {name}", path.display());
        }
        // No training row's label window touches its test block: every training row i ends
        // its label (`label_end[i]`, the last row it reads; a panel's is the last row of the
        // date its label reaches) before the block or starts after it. Re-split to check
        // every index, as the job does (a panel splits dates: `split_plan`).
        let ds = hone_train::job::load_dataset(&cfg, true).unwrap();
        let plan = hone_train::job::split_plan(&cfg).unwrap();
        assert_eq!(plan.folds.len(), report.folds.len());
        for f in &plan.folds {
            let (first, last) = (f.test[0], *f.test.last().unwrap());
            for &i in &f.train {
                assert!(
                    ds.label_end[i] < first || i > last,
                    "{}: row {i} (label end {}) vs test {first}..{last}",
                    path.display(),
                    ds.label_end[i]
                );
            }
        }
        assert!(out.path().join("pipeline/pipeline.json").exists());
        // Every backtest is shown against buy-and-hold of the asset, once per key.
        if let Some(t) = &report.trading {
            for s in std::iter::once(&t.cv).chain(t.holdout.as_ref()) {
                let b = s.buy_and_hold.as_ref().expect("a buy-and-hold benchmark");
                assert!(
                    b.sharpe.is_finite() && b.beta.is_finite(),
                    "{}",
                    path.display()
                );
                assert!((0.0..=1.0).contains(&s.time_in_market));
                let json = serde_json::to_string(s).unwrap();
                assert_eq!(json.matches("\"periods\":").count(), 1, "{json}");
            }
        }
        // Classification reports the majority-class baseline.
        if report.task != "regression" {
            let b = report.base_rate.as_ref().expect("a base rate");
            assert!(
                (0.0..=1.0).contains(&b.cv) && b.holdout.is_some(),
                "{}",
                path.display()
            );
        } else {
            assert!(report.base_rate.is_none());
        }
        // A model that stops early ships the rounds cross-validation chose: by default the
        // mean of the folds' best iterations, trained on every development row.
        if cfg.model.early_stopping_fraction().is_some() {
            let rounds: Vec<usize> = report.folds.iter().map(|f| f.best_iteration).collect();
            let mean = (rounds.iter().sum::<usize>() as f64 / rounds.len() as f64).round() as usize;
            let refit = report.refit.as_ref().expect("a refit report");
            assert_eq!(refit.fold_rounds, rounds, "{}", path.display());
            assert_eq!(refit.rounds, Some(mean.max(1)), "{}", path.display());
            assert_eq!(
                report.final_model.best_iteration,
                mean.max(1),
                "{}",
                path.display()
            );
            assert_eq!(report.final_model.train.count, report.development.count);
        }
    }
    assert!(seen >= 5, "expected the example configs, found {seen}");
}
