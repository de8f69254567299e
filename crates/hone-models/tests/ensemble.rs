//! Ensembles (`type = "ensemble"`): averaging, soft and hard voting and stacking over members
//! of different families with their own preprocessing; save/load; and the stacking leak probe.

use hone_models::estimator::TrainingSet;
use hone_models::families::ensemble::FittedEnsemble;
use hone_models::linear::LinearModel;
use hone_models::observer::Unobserved;
use hone_models::pipeline::{FitOptions, FittedPipeline, PipelineSpec};
use hone_models::{Matrix, ModelSpec};
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

fn data(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let cols: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect())
        .collect();
    let y = (0..n)
        .map(|t| f64::from(cols[0][t] + 0.3 * rng.random::<f64>() > 0.15))
        .collect();
    (Matrix::from_columns(&cols), y)
}

fn fit(cfg: Value, x: &Matrix, y: &[f64], task: Task) -> FittedPipeline {
    PipelineSpec {
        steps: Vec::new(),
        model: ModelSpec::from_value(&cfg).unwrap(),
    }
    .fit(
        x,
        y,
        FitOptions {
            task,
            seed: 1,
            feature_names: &["a".into(), "b".into(), "c".into()],
            early_stopping_gap: 1,
            observer: &mut Unobserved,
            positions: None,
        },
    )
    .unwrap()
}

fn members() -> Value {
    json!([
        {"type": "lightgbm", "params": {"num_iterations": 30, "num_leaves": 7}},
        {"type": "logistic", "preprocess": {"scale": "standard"}},
        {"type": "gru", "seq_len": 4, "hidden_size": 4, "epochs": 3, "checkpoint_every": 0,
         "preprocess": {"scale": "robust"}}
    ])
}

/// Every method fits, beats chance on a learnable target, saves, loads and predicts the same;
/// averaging is the weighted mean of the members' own predictions.
#[test]
fn ensembles_fit_save_load_and_predict_the_same() {
    let (x, y) = data(600, 1);
    for cfg in [
        json!({"type": "ensemble", "method": "average", "weights": [2, 1, 1], "members": members()}),
        json!({"type": "ensemble", "method": "vote", "voting": "soft", "members": members()}),
        json!({"type": "ensemble", "method": "vote", "voting": "hard", "members": members()}),
        json!({"type": "ensemble", "method": "stacking", "members": members()}),
    ] {
        let fitted = fit(cfg.clone(), &x, &y, Task::Binary);
        let dir = tempfile::tempdir().unwrap();
        fitted.save(dir.path()).unwrap();
        assert!(dir.path().join("member0/model.txt").exists(), "{cfg}");
        assert!(
            dir.path().join("member2/model.safetensors").exists(),
            "{cfg}"
        );
        let loaded = FittedPipeline::load(dir.path()).unwrap();
        let a = fitted.predict(&x).unwrap();
        assert_eq!(a, loaded.predict(&x).unwrap(), "{cfg}");
        let acc = a
            .iter()
            .zip(&y)
            .filter(|(p, t)| f64::from(**p >= 0.5) == **t)
            .count() as f64
            / y.len() as f64;
        assert!(acc > 0.7, "{cfg}: accuracy {acc}");
        assert_eq!(
            fitted.context_rows(),
            3,
            "the GRU member's window reaches 3 rows back"
        );
        let ens = fitted.model.downcast_ref::<FittedEnsemble>().unwrap();
        if cfg["method"] == "average" {
            let p: Vec<Vec<f64>> = ens.members.iter().map(|m| m.predict(&x).unwrap()).collect();
            for i in 0..x.n_rows() {
                let want = (2.0 * p[0][i] + p[1][i] + p[2][i]) / 4.0;
                assert!((a[i] - want).abs() < 1e-12);
            }
        }
        if cfg["voting"] == "hard" {
            assert!(a.iter().all(|v| {
                [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]
                    .iter()
                    .any(|w| (v - w).abs() < 1e-12)
            }));
        }
    }
}

/// The stacking leak probe. The target is noise; one member memorises its training rows (a
/// LightGBM keyed on a unique row id), so its in-sample predictions equal the labels while its
/// predictions of unseen rows carry nothing. A meta-model trained on in-sample predictions
/// puts a large weight on it; hone's, trained on inner out-of-fold predictions, does not.
/// Every inner block is scored by members fitted only on rows before it, a label gap earlier.
#[test]
fn stacking_never_trains_the_meta_model_on_predictions_that_saw_their_row() {
    let n = 800;
    let mut rng = StdRng::seed_from_u64(7);
    let id: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let noise: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
    let y: Vec<f64> = (0..n).map(|_| f64::from(rng.random::<bool>())).collect();
    let x = Matrix::from_columns(&[id, noise.clone(), noise]);
    let memoriser = json!({"type": "lightgbm", "params": {"num_iterations": 300, "num_leaves": 256,
        "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 1e-6, "max_bin": 1023, "min_data_in_bin": 1, "learning_rate": 0.5,
        "lambda_l2": 0.0}});
    let honest = json!({"type": "logistic"});
    let cfg = json!({"type": "ensemble", "method": "stacking", "inner_splits": 4,
        "members": [memoriser.clone(), honest],
        "meta": {"type": "logistic", "C": 100.0}});
    let est = hone_models::families::parse(&cfg).unwrap();
    let data = TrainingSet {
        label_gap: 2,
        x: &x,
        y: &y,
        valid: None,
        task: Task::Binary,
        seed: 1,
        feature_names: &[],
        sequence: None,
    };
    let fitted = est.fit(&data, &mut Unobserved, false).unwrap().model;
    let ens = fitted.as_any().downcast_ref::<FittedEnsemble>().unwrap();
    assert_eq!(ens.inner.len(), 3);
    for f in &ens.inner {
        assert!(
            f.fit_rows.1 + 2 <= f.scored_rows.0,
            "{f:?}: a fitting label reaches the block"
        );
    }
    let meta = ens.meta.as_ref().unwrap();
    let coef = |m: &FittedPipeline| m.model.downcast_ref::<LinearModel>().unwrap().coef.clone();
    let honest_weight = coef(meta)[0].abs();

    // The same meta-model trained the leaky way: on the members' in-sample predictions.
    let mem = fit(memoriser, &x, &y, Task::Binary);
    let in_sample = mem.predict(&x).unwrap();
    let acc = in_sample
        .iter()
        .zip(&y)
        .filter(|(p, t)| f64::from(**p >= 0.5) == **t)
        .count() as f64
        / n as f64;
    assert!(
        acc > 0.95,
        "the memoriser must memorise (in-sample accuracy {acc})"
    );
    let leaky_x = Matrix::from_columns(&[in_sample, vec![0.5; n]]);
    let leaky = PipelineSpec {
        steps: Vec::new(),
        model: ModelSpec::from_value(&json!({"type": "logistic", "C": 100.0})).unwrap(),
    }
    .fit(
        &leaky_x,
        &y,
        FitOptions {
            task: Task::Binary,
            seed: 1,
            feature_names: &["m0".into(), "m1".into()],
            early_stopping_gap: 0,
            observer: &mut Unobserved,
            positions: None,
        },
    )
    .unwrap();
    let leaky_weight = coef(&leaky)[0].abs();
    eprintln!(
        "meta-model weight on the memoriser: stacked in-sample {leaky_weight:.3}, hone {honest_weight:.3}"
    );
    assert!(
        leaky_weight > 5.0,
        "the probe has no teeth: leaky weight {leaky_weight}"
    );
    assert!(
        honest_weight < 1.0,
        "the meta-model trusts the memoriser ({honest_weight}; a leak gives {leaky_weight})"
    );
}

/// Bad ensemble tables are refused naming the key.
#[test]
fn bad_ensembles_name_their_key() {
    for (cfg, key) in [
        (
            json!({"type": "ensemble", "members": [{"type": "ridge"}]}),
            "model.members",
        ),
        (
            json!({"type": "ensemble", "members": [{"type": "ridge"}, {"type": "lasso"}], "weights": [1]}),
            "model.weights",
        ),
        (
            json!({"type": "ensemble", "members": [{"type": "ridge"}, {"type": "nope"}]}),
            "model.members[1]",
        ),
        (
            json!({"type": "ensemble", "members": [{"type": "ridge"}, {"type": "ridge", "preprocess": {"scale": "zz"}}]}),
            "model.members[1].preprocess",
        ),
        (
            json!({"type": "ensemble", "method": "average", "members": [{"type": "ridge"}, {"type": "ridge"}], "meta": {"type": "ridge"}}),
            "model.meta",
        ),
        (
            json!({"type": "ensemble", "method": "stacking", "inner_splits": 1, "members": [{"type": "ridge"}, {"type": "ridge"}]}),
            "model.inner_splits",
        ),
    ] {
        let e = hone_models::families::parse(&cfg).unwrap_err().to_string();
        assert!(e.contains(key), "{cfg}: {e}");
    }
}
