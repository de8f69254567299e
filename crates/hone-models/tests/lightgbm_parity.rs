//! hone's LightGBM against Python LightGBM 4.7.0 on the same data and parameters.
//! Reference values: scripts/reference/lightgbm_parity.py.

use std::collections::BTreeMap;

use hone_models::gbm::{GbmModel, GbmSpec};
use hone_models::observer::{Flow, StepReport, TrainObserver, Unobserved};
use hone_models::{Matrix, TrainingSet};
use hone_validate::Task;
use serde_json::{Value, json};

fn data() -> (Matrix, Vec<f64>) {
    let (n, p) = (600, 5);
    let mut rows = Vec::with_capacity(n * p);
    for i in 0..n {
        for j in 0..p {
            let (fi, fj) = (i as f64, j as f64);
            rows.push((0.37 * fi * (fj + 1.0) + fj).sin() + 0.2 * (1.7 * fi + 0.5 * fj).cos());
        }
    }
    let x = Matrix::from_row_major(n, p, &rows);
    let y = (0..n)
        .map(|i| {
            let v = x.get(i, 0) * x.get(i, 1)
                + (3.0 * x.get(i, 2)).sin()
                + 0.3 * (2.3 * i as f64).sin();
            f64::from(u8::from(v > 0.0))
        })
        .collect();
    (x, y)
}

fn spec(rounds: u64, early: Option<usize>) -> GbmSpec {
    let params: BTreeMap<String, Value> = [
        ("num_iterations", json!(rounds)),
        ("learning_rate", json!(0.1)),
        ("num_leaves", json!(7)),
        ("min_data_in_leaf", json!(10)),
        ("num_threads", json!(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    GbmSpec {
        boosting: "gbdt".into(),
        params,
        early_stopping_rounds: early,
        validation_fraction: 0.2,
    }
}

/// Fits `spec` on `(x, y)` with an optional early-stopping slice.
fn fit(
    spec: &GbmSpec,
    x: &Matrix,
    y: &[f64],
    valid: Option<(&Matrix, &[f64])>,
    seed: u64,
    observer: &mut dyn TrainObserver,
) -> GbmModel {
    let data = TrainingSet {
        label_gap: 0,
        x,
        y,
        valid,
        task: Task::Binary,
        seed,
        feature_names: &[],
        sequence: None,
    };
    spec.fit(&data, observer).unwrap()
}

fn close(got: &[f64], want: &[f64]) {
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "got {got:?}\nwant {want:?}");
    }
}

#[test]
fn same_trees_as_python_lightgbm() {
    let (x, y) = data();
    let m = fit(&spec(60, None), &x, &y, None, 1, &mut Unobserved);
    let first5 = m.predict(&x.select_rows(&[0, 1, 2, 3, 4]), 1).unwrap();
    close(
        &first5,
        &[
            0.7252361479406968,
            0.45189862878386877,
            0.12730964736057124,
            0.03286979054543231,
            0.22517474247277766,
        ],
    );
    assert_eq!(
        m.importances(false).unwrap(),
        vec![96., 65., 146., 34., 19.]
    );
    // The saved text is LightGBM's own format; reloading gives the same predictions.
    assert!(m.text().starts_with("tree\nversion=v4"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.txt");
    std::fs::write(&path, m.text()).unwrap();
    let again = hone_models::gbm::GbmModel::from_text(
        std::fs::read_to_string(&path).unwrap(),
        5,
        m.info.clone(),
        m.params.clone(),
    )
    .unwrap();
    assert_eq!(again.predict(&x, 1).unwrap(), m.predict(&x, 1).unwrap());
    if let Ok(out) = std::env::var("HONE_DUMP_MODEL") {
        std::fs::write(out, m.text()).unwrap();
    }
}

#[test]
fn early_stopping_matches_python_callback() {
    let (x, y) = data();
    let train: Vec<usize> = (0..480).collect();
    let valid: Vec<usize> = (480..600).collect();
    let (tx, vx) = (x.select_rows(&train), x.select_rows(&valid));
    let mut rounds_seen = 0;
    let m = fit(
        &spec(300, Some(10)),
        &tx,
        &y[..480],
        Some((&vx, &y[480..])),
        1,
        &mut |s: &StepReport| {
            rounds_seen = s.step;
            Flow::Continue
        },
    );
    // lgb.early_stopping(10): best_iteration 139, training ran 10 rounds past it.
    assert_eq!(m.info.best_iteration, 139);
    assert_eq!(m.info.iterations_run, 149);
    assert_eq!(rounds_seen, 149);
    assert_eq!(m.info.valid_metric.as_deref(), Some("binary_logloss"));
    assert_eq!(m.info.valid_curve.len(), 149);
    let first5 = m.predict(&x.select_rows(&[0, 1, 2, 3, 4]), 1).unwrap();
    close(
        &first5,
        &[
            0.8466378202929111,
            0.7421894168591182,
            0.03967663108755111,
            0.006398700451884668,
            0.021686582787585708,
        ],
    );
}

#[test]
fn seeded_runs_are_bit_identical() {
    let (x, y) = data();
    let mut s = spec(30, None);
    s.params.insert("bagging_fraction".into(), json!(0.7));
    s.params.insert("bagging_freq".into(), json!(1));
    s.params.insert("feature_fraction".into(), json!(0.8));
    s.params.remove("num_threads");
    let a = fit(&s, &x, &y, None, 42, &mut Unobserved);
    let b = fit(&s, &x, &y, None, 42, &mut Unobserved);
    let c = fit(&s, &x, &y, None, 43, &mut Unobserved);
    let (pa, pb, pc) = (
        a.predict(&x, 1).unwrap(),
        b.predict(&x, 1).unwrap(),
        c.predict(&x, 1).unwrap(),
    );
    assert!(pa.iter().zip(&pb).all(|(u, v)| u.to_bits() == v.to_bits()));
    assert_ne!(pa, pc);
}

#[test]
fn observer_sees_the_validation_score_and_can_stop_boosting() {
    let (x, y) = data();
    let train: Vec<usize> = (0..480).collect();
    let valid: Vec<usize> = (480..600).collect();
    let (tx, vx) = (x.select_rows(&train), x.select_rows(&valid));
    let mut scores = Vec::new();
    let m = fit(
        &spec(300, Some(10)),
        &tx,
        &y[..480],
        Some((&vx, &y[480..])),
        1,
        &mut |s: &StepReport| {
            scores.push(s.valid.map(|v| (v.value, v.higher_is_better)));
            // a pruner saying stop after round 7
            if s.step < 7 {
                Flow::Continue
            } else {
                Flow::Stop
            }
        },
    );
    assert_eq!(m.info.iterations_run, 7);
    assert_eq!(scores.len(), 7);
    // binary_logloss: lower is better, and the values are the learning curve's.
    for (s, v) in scores.iter().zip(&m.info.valid_curve) {
        assert_eq!(*s, Some((*v, false)));
    }
}
