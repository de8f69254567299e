//! Each tracked run records the dataset it actually used: two runs on the same file with other
//! features and another holdout record their own rows, span and schema (a run was once recorded
//! with train = test = the first run's rows and the first run's 17-feature schema).

use std::path::Path;

use hone_track::Tracker;

fn config(features: &str, holdout: f64) -> hone_train::LoadedConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inputs.toml");
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/sp500_daily_1999_2018.csv");
    let text = format!(
        r#"
seed = 1
[data]
path = "{}"
time_column = "date"
[data.derive]
{features}
[target]
kind = "direction"
[split]
scheme = "timeseries"
n_splits = 3
holdout = {holdout}
[model]
type = "logistic"
"#,
        data.display()
    );
    hone_train::config::parse(&text, &path).unwrap()
}

#[test]
fn every_run_records_the_rows_and_features_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
    let tracker = Tracker::open(&uri, &dir.path().join("artifacts")).unwrap();
    let runs = [
        (config("returns = [1, 5, 20]\nrolling = [20, 60]", 0.2), "a"),
        (config("returns = [1]", 0.3), "b"),
    ];
    for (cfg, out) in &runs {
        let (report, run_id) = hone_train::tracking::run_train_tracked(
            cfg,
            &dir.path().join(out),
            &tracker,
            &mut |_| {},
        )
        .unwrap();
        let inputs = tracker.store().run_inputs(&run_id).unwrap();
        let train = inputs.iter().find(|i| i.context == "train").unwrap();
        let test = inputs.iter().find(|i| i.context == "test").unwrap();
        assert_eq!(train.rows as usize, report.development.count);
        assert_eq!(
            test.rows as usize,
            report.holdout.as_ref().unwrap().rows.count
        );
        assert_ne!(train.rows, test.rows);
        for (input, span) in [
            (train, &report.development),
            (test, &report.holdout.as_ref().unwrap().rows),
        ] {
            let schema: serde_json::Value = serde_json::from_str(&input.schema).unwrap();
            assert_eq!(schema["features"], serde_json::json!(report.features));
            assert_eq!(schema["rows"]["first"], span.first_time.as_str());
            assert_eq!(schema["rows"]["last"], span.last_time.as_str());
            assert_eq!(schema["file_sha256"], report.fingerprint.as_str());
        }
    }
}
