//! What the trials of a search share: fits on a `PreparedFold` (preprocessing fitted once,
//! LightGBM datasets binned once) give exactly the model and test predictions of a fresh fit;
//! bins come from the fold's fitting rows only; in-sample predictions read from LightGBM's
//! training scores equal predictions.

use std::collections::BTreeMap;

use hone_models::gbm::{CacheBudget, GbmModel};
use hone_models::observer::Unobserved;
use hone_models::pipeline::{FitOptions, PipelineSpec};
use hone_models::preprocess::{ScaleKind, Scaler, Step};
use hone_models::{FittedPipeline, Matrix, ModelSpec};
use hone_validate::Task;
use serde_json::{Value, json};

/// A deterministic pseudo-random stream (64-bit LCG, top 53 bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

const ROWS: usize = 1500;
const TRAIN: usize = 1000;

/// Six feature columns (the last a rare 0/1 flag: ~3 % ones, which LightGBM's
/// `feature_pre_filter` drops once `min_data_in_leaf` exceeds its count) and a label of
/// `classes` classes (0 = regression).
fn data(classes: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut rng = Lcg(7);
    let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(ROWS)).collect();
    let mut y = Vec::with_capacity(ROWS);
    for _ in 0..ROWS {
        let x: Vec<f64> = (0..5).map(|_| rng.next() * 2.0 - 1.0).collect();
        let flag = f64::from(u8::from(rng.next() < 0.03));
        let signal = x[0] * x[1] + (3.0 * x[2]).sin() + 0.5 * flag + 0.8 * (rng.next() - 0.5);
        for (c, v) in cols.iter_mut().zip(x.iter().chain([flag].iter())) {
            c.push(*v);
        }
        y.push(match classes {
            0 => signal,
            2 => f64::from(u8::from(signal > 0.0)),
            _ => {
                if signal < -0.4 {
                    0.0
                } else if signal < 0.4 {
                    1.0
                } else {
                    2.0
                }
            }
        });
    }
    (cols, y)
}

fn names() -> Vec<String> {
    (0..6).map(|j| format!("f{j}")).collect()
}

fn pipeline(params: &[(&str, Value)], early: Option<usize>) -> PipelineSpec {
    let params: BTreeMap<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain([
            ("num_iterations".to_string(), json!(60)),
            ("num_threads".to_string(), json!(1)),
        ])
        .collect();
    PipelineSpec {
        steps: vec![Step::Scale(Scaler {
            kind: ScaleKind::Standard,
            offset: vec![],
            scale: vec![],
        })],
        model: ModelSpec::from_value(&json!({
            "type": "lightgbm",
            "params": params,
            "early_stopping_rounds": early,
            "validation_fraction": 0.2,
        }))
        .unwrap(),
    }
}

fn text(p: &FittedPipeline) -> &str {
    p.model
        .downcast_ref::<GbmModel>()
        .expect("a LightGBM model")
        .text()
}

fn fresh_fit(
    spec: &PipelineSpec,
    cols: &[Vec<f64>],
    y: &[f64],
    task: Task,
) -> (FittedPipeline, Vec<f64>) {
    let train: Vec<usize> = (0..TRAIN).collect();
    let test: Vec<usize> = (TRAIN..ROWS).collect();
    let fitted = spec
        .fit(
            &Matrix::gather(cols, &train),
            &y[..TRAIN],
            FitOptions {
                task,
                seed: 3,
                feature_names: &names(),
                early_stopping_gap: 2,
                observer: &mut Unobserved,
                positions: None,
            },
        )
        .unwrap();
    let out = fitted.predict(&Matrix::gather(cols, &test)).unwrap();
    (fitted, out)
}

/// The trial sequence of a small search: the binning parameters stay, the rest moves;
/// `min_data_in_leaf` rises past the rare flag's count (filtered) and falls back, and one
/// trial turns the filter off.
fn trials() -> Vec<Vec<(&'static str, Value)>> {
    vec![
        vec![
            ("learning_rate", json!(0.1)),
            ("min_data_in_leaf", json!(20)),
        ],
        vec![
            ("learning_rate", json!(0.05)),
            ("min_data_in_leaf", json!(5)),
            ("num_leaves", json!(5)),
        ],
        vec![
            ("learning_rate", json!(0.2)),
            ("min_data_in_leaf", json!(60)),
            ("feature_fraction", json!(0.6)),
        ],
        vec![
            ("learning_rate", json!(0.1)),
            ("min_data_in_leaf", json!(10)),
        ],
        vec![
            ("learning_rate", json!(0.1)),
            ("min_data_in_leaf", json!(60)),
            ("feature_pre_filter", json!(false)),
        ],
        vec![
            ("learning_rate", json!(0.3)),
            ("min_data_in_leaf", json!(60)),
            ("lambda_l2", json!(2.0)),
        ],
        vec![("learning_rate", json!(0.1)), ("max_bin", json!(15))],
    ]
}

#[test]
fn fits_on_a_prepared_fold_equal_fresh_fits_in_every_trial() {
    let (cols, y) = data(2);
    let train: Vec<usize> = (0..TRAIN).collect();
    let test: Vec<usize> = (TRAIN..ROWS).collect();
    let budget = CacheBudget::new(1 << 30);
    let first = pipeline(&trials()[0], Some(10));
    let fold = first
        .prepare_fold(
            &cols,
            &y,
            &train,
            &test,
            Task::Binary,
            3,
            &names(),
            2,
            &budget,
        )
        .unwrap()
        .expect("fits the budget");
    // Twice through the trials: the second pass is served from the cache.
    for pass in 0..2 {
        for (t, params) in trials().iter().enumerate() {
            let spec = pipeline(params, Some(10));
            let (cached, out) = spec
                .fit_prepared(&fold, &cols, &y, 3, &budget, &mut Unobserved)
                .unwrap();
            let (fresh, fresh_out) = fresh_fit(&spec, &cols, &y, Task::Binary);
            assert_eq!(
                text(&cached),
                text(&fresh),
                "pass {pass}, trial {t}: model text"
            );
            assert_eq!(out, fresh_out, "pass {pass}, trial {t}: test predictions");
            assert_eq!(cached.steps, fresh.steps, "trial {t}: fitted steps");
        }
    }
    assert!(budget.used() > 0, "the datasets were kept");
}

#[test]
fn a_zero_budget_keeps_nothing_and_changes_nothing() {
    let (cols, y) = data(2);
    let train: Vec<usize> = (0..TRAIN).collect();
    let test: Vec<usize> = (TRAIN..ROWS).collect();
    let spec = pipeline(&trials()[0], Some(10));
    let none = CacheBudget::new(0);
    assert!(
        spec.prepare_fold(
            &cols,
            &y,
            &train,
            &test,
            Task::Binary,
            3,
            &names(),
            2,
            &none
        )
        .unwrap()
        .is_none(),
        "the test rows do not fit a zero budget"
    );
    // Room for the test rows only: every dataset is built per fit and dropped.
    let tight = CacheBudget::new((ROWS - TRAIN) * 6 * 8);
    let fold = spec
        .prepare_fold(
            &cols,
            &y,
            &train,
            &test,
            Task::Binary,
            3,
            &names(),
            2,
            &tight,
        )
        .unwrap()
        .unwrap();
    for params in trials() {
        let spec = pipeline(&params, Some(10));
        let (cached, out) = spec
            .fit_prepared(&fold, &cols, &y, 3, &tight, &mut Unobserved)
            .unwrap();
        let (fresh, fresh_out) = fresh_fit(&spec, &cols, &y, Task::Binary);
        assert_eq!(text(&cached), text(&fresh));
        assert_eq!(out, fresh_out);
    }
    assert_eq!(tight.used(), (ROWS - TRAIN) * 6 * 8);
}

#[test]
fn bins_come_from_the_fitting_rows_only() {
    let (cols, y) = data(2);
    // Test rows poisoned: huge values, negative, NaN. Bin edges fitted on them would move.
    let mut poisoned = cols.clone();
    for (j, c) in poisoned.iter_mut().enumerate() {
        for (i, v) in c.iter_mut().enumerate().skip(TRAIN) {
            *v = match (i + j) % 3 {
                0 => 1e12 * (i as f64),
                1 => -1e9,
                _ => f64::NAN,
            };
        }
    }
    let train: Vec<usize> = (0..TRAIN).collect();
    let test: Vec<usize> = (TRAIN..ROWS).collect();
    let budget = CacheBudget::new(1 << 30);
    let spec = pipeline(&trials()[0], Some(10));
    let fit = |cols: &[Vec<f64>]| {
        let fold = spec
            .prepare_fold(
                cols,
                &y,
                &train,
                &test,
                Task::Binary,
                3,
                &names(),
                2,
                &budget,
            )
            .unwrap()
            .unwrap();
        let (fitted, _) = spec
            .fit_prepared(&fold, cols, &y, 3, &budget, &mut Unobserved)
            .unwrap();
        text(&fitted).to_string()
    };
    let clean = fit(&cols);
    assert_eq!(
        clean,
        fit(&poisoned),
        "test rows moved a bin edge or a split"
    );
    // The check can fail: poisoning one training row's value does change the model.
    let mut train_poisoned = cols.clone();
    train_poisoned[0][3] = 1e12;
    assert_ne!(clean, fit(&train_poisoned));
}

#[test]
fn in_sample_scores_equal_predictions_of_the_kept_model() {
    for (classes, task) in [
        (2, Task::Binary),
        (0, Task::Regression),
        (3, Task::Multiclass { n_classes: 3 }),
    ] {
        let (cols, y) = data(classes);
        let rows: Vec<usize> = (0..TRAIN).collect();
        let x = Matrix::gather(&cols, &rows);
        for boosting in ["gbdt", "goss", "rf", "dart"] {
            for early in [None, Some(5)] {
                let mut params = vec![("learning_rate", json!(0.2)), ("boosting", json!(boosting))];
                if boosting == "rf" {
                    params.push(("bagging_fraction", json!(0.7)));
                }
                let spec = pipeline(&params, early);
                let (fitted, in_sample) = spec
                    .fit_in_sample(
                        &x,
                        &y[..TRAIN],
                        FitOptions {
                            task,
                            seed: 3,
                            feature_names: &names(),
                            early_stopping_gap: 2,
                            observer: &mut Unobserved,
                            positions: None,
                        },
                        true,
                    )
                    .unwrap();
                let predicted = fitted.predict(&x).unwrap();
                assert_eq!(
                    in_sample.unwrap(),
                    predicted,
                    "{task:?} {boosting} early stopping {early:?}"
                );
            }
        }
    }
}
