//! `hone evaluate DIR` on the training file's holdout judges drift exactly as `hone train` did
//! on the same rows (it once reported a drift share of 0 where the job reported 0.91).

use std::path::Path;

#[test]
fn evaluate_reports_the_drift_train_reported() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_direction.toml");
    let cfg = hone_train::config::load(&path).unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = hone_train::run_train(&cfg, out.path(), &mut |_| {}).unwrap();
    assert!(!report.drift.is_empty());
    let eval = hone_train::evaluate::evaluate(out.path(), None).unwrap();
    assert_eq!(eval.rows, report.holdout.as_ref().unwrap().rows.count);
    assert_eq!(eval.drift_share, report.drift_share);
    assert_eq!(eval.drift.len(), report.drift.len());
    for (a, b) in eval.drift.iter().zip(&report.drift) {
        assert_eq!(a.column, b.column);
        assert_eq!(a.score, b.score);
        assert_eq!(a.drifted, b.drifted);
    }
}
