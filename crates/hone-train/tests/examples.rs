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
        // Nothing is fitted on a fold's test rows, and temporal folds never train on the future.
        for f in &report.folds {
            assert!(
                f.train.last < f.test.first,
                "{}: fold {}",
                path.display(),
                f.fold
            );
        }
        assert!(out.path().join("pipeline/pipeline.json").exists());
    }
    assert!(seen >= 5, "expected the example configs, found {seen}");
}
