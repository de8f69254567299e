//! The model vocabulary: what can be configured ([`ModelSpec`]) and what fitting produces
//! ([`FittedModel`]).

use std::collections::BTreeMap;

use hone_validate::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gbm::{GbmModel, GbmSpec, nearest};
use crate::linear::{LinearModel, LinearSpec};
use crate::{Matrix, ModelError};

/// A model to fit: LightGBM (boosting or random forest) or a linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSpec {
    /// LightGBM.
    Gbm(GbmSpec),
    /// A linear model.
    Linear(LinearSpec),
}

/// Model types accepted in `[model] type = ...`.
pub const MODEL_TYPES: &[&str] = &[
    "lightgbm",
    "random_forest",
    "linear",
    "ridge",
    "lasso",
    "elastic_net",
    "logistic",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GbmOptions {
    #[serde(default)]
    params: BTreeMap<String, Value>,
    #[serde(default)]
    early_stopping_rounds: Option<usize>,
    #[serde(default = "default_validation_fraction")]
    validation_fraction: f64,
    #[serde(default)]
    extra_trees: Option<bool>,
}

fn default_validation_fraction() -> f64 {
    0.2
}

impl ModelSpec {
    /// Parses a `[model]` table: `type` picks the model, the other keys are its settings.
    /// Errors name the offending key (and suggest the nearest valid one).
    pub fn from_value(value: &Value) -> Result<Self, ModelError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ModelError::Config("[model] must be a table".into()))?;
        let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
            ModelError::Config(format!(
                "model.type is required (one of {})",
                MODEL_TYPES.join(", ")
            ))
        })?;
        let mut rest = obj.clone();
        let err = |e: serde_json::Error| {
            ModelError::Config(format!("model: {}", with_suggestion(&e.to_string())))
        };
        match kind {
            "lightgbm" | "random_forest" => {
                rest.remove("type");
                let o: GbmOptions = serde_json::from_value(Value::Object(rest)).map_err(err)?;
                if !(0.0..1.0).contains(&o.validation_fraction) || o.validation_fraction.is_nan() {
                    return Err(ModelError::Config(format!(
                        "model.validation_fraction must be in [0, 1), got {}",
                        o.validation_fraction
                    )));
                }
                if o.early_stopping_rounds == Some(0) {
                    return Err(ModelError::Config(
                        "model.early_stopping_rounds must be ≥ 1".into(),
                    ));
                }
                let mut params = o.params;
                if let Some(extra) = o.extra_trees {
                    params.insert("extra_trees".into(), Value::Bool(extra));
                }
                let spec = GbmSpec {
                    boosting: if kind == "lightgbm" { "gbdt" } else { "rf" }.into(),
                    params,
                    early_stopping_rounds: o.early_stopping_rounds,
                    validation_fraction: o.validation_fraction,
                };
                // Surface parameter errors now rather than in the first fold.
                spec.resolved_params(Task::Binary, 0).or_else(|e| match e {
                    ModelError::Config(m) if m.contains("does not fit") => Ok(Default::default()),
                    other => Err(other),
                })?;
                Ok(ModelSpec::Gbm(spec))
            }
            "linear" | "ridge" | "lasso" | "elastic_net" | "logistic" => {
                let spec: LinearSpec = serde_json::from_value(Value::Object(rest)).map_err(err)?;
                spec.validate()?;
                Ok(ModelSpec::Linear(spec))
            }
            other => Err(ModelError::Config(format!(
                "model.type {other:?} is not a model hone knows (one of {}){}",
                MODEL_TYPES.join(", "),
                nearest(other, MODEL_TYPES.iter().copied())
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default()
            ))),
        }
    }

    /// The model's name as written in configs.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Gbm(g) if g.boosting == "rf" => "random_forest",
            ModelSpec::Gbm(_) => "lightgbm",
            ModelSpec::Linear(l) => l.name(),
        }
    }

    /// Checks that the model can learn this kind of target.
    pub fn check_task(&self, task: Task) -> Result<(), ModelError> {
        match self {
            ModelSpec::Linear(l) if l.is_classifier() && task == Task::Regression => {
                Err(ModelError::Config(
                    "model.type = \"logistic\" needs a classification target".into(),
                ))
            }
            ModelSpec::Linear(l) if !l.is_classifier() && task != Task::Regression => {
                Err(ModelError::Config(format!(
                    "model.type = {:?} is a regressor; use \"logistic\" or \"lightgbm\" for a {} target",
                    l.name(),
                    task.kind()
                )))
            }
            ModelSpec::Gbm(g) => g.resolved_params(task, 0).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// The early-stopping validation share, if this model stops early.
    pub fn early_stopping_fraction(&self) -> Option<f64> {
        match self {
            ModelSpec::Gbm(g)
                if g.early_stopping_rounds.is_some() && g.validation_fraction > 0.0 =>
            {
                Some(g.validation_fraction)
            }
            _ => None,
        }
    }

    /// Fits the model. `valid` is the early-stopping slice (LightGBM only).
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
        task: Task,
        seed: u64,
        feature_names: &[String],
        observer: crate::gbm::RoundObserver<'_>,
    ) -> Result<FittedModel, ModelError> {
        self.fit_scored(x, y, valid, task, seed, feature_names, observer, false)
            .map(|(m, _)| m)
    }

    /// [`ModelSpec::fit`], and with `want_scores` the in-sample predictions of `x` and `valid`
    /// where the model has them from training ([`crate::gbm::GbmSpec::fit_binned_scored`]);
    /// `None` means: predict them.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_scored(
        &self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
        task: Task,
        seed: u64,
        feature_names: &[String],
        observer: crate::gbm::RoundObserver<'_>,
        want_scores: bool,
    ) -> Result<(FittedModel, Option<crate::gbm::InSampleScores>), ModelError> {
        let n_classes = match task {
            Task::Binary => Some(2),
            Task::Multiclass { n_classes } => Some(n_classes),
            Task::Regression => None,
        };
        match self {
            ModelSpec::Gbm(g) => {
                let data = g.bin(x, y, valid, task, seed, feature_names, None)?;
                g.fit_binned_scored(&data, task, seed, observer, want_scores)
                    .map(|(m, s)| (FittedModel::Lightgbm(m), s))
            }
            ModelSpec::Linear(l) => {
                let m = l.fit(x, y, n_classes)?;
                let _ = observer(1, 1, None);
                Ok((FittedModel::Linear(m), None))
            }
        }
    }
}

/// Adds "did you mean" to serde's `unknown field` / `unknown variant` messages.
pub fn with_suggestion(message: &str) -> String {
    let grab = |s: &str| -> Option<(String, Vec<String>)> {
        let start = s.find('`')? + 1;
        let end = start + s[start..].find('`')?;
        let word = s[start..end].to_string();
        let rest = &s[end + 1..];
        let expected: Vec<String> = rest
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, w)| w.to_string())
            .collect();
        Some((word, expected))
    };
    if (message.contains("unknown field") || message.contains("unknown variant"))
        && let Some((word, expected)) = grab(message)
        && let Some(best) = nearest(&word, expected.iter().map(String::as_str))
    {
        return format!("{message}; did you mean `{best}`?");
    }
    message.to_string()
}

/// A fitted model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedModel {
    /// A LightGBM booster (its text is saved as `model.txt`).
    Lightgbm(GbmModel),
    /// A linear model.
    Linear(LinearModel),
}

/// How the model's fit went (rounds, early stopping, learning curve).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Boosting rounds run (1 for linear models).
    pub iterations_run: usize,
    /// Rounds kept (the best round under early stopping).
    pub best_iteration: usize,
    /// Validation metric name, when there was an early-stopping slice.
    pub valid_metric: Option<String>,
    /// Validation metric per round.
    pub valid_curve: Vec<f64>,
}

impl FittedModel {
    /// Predictions: values (regression), P(class 1) (binary), or class probabilities row-major.
    pub fn predict(&self, x: &Matrix, task: Task) -> Result<Vec<f64>, ModelError> {
        match self {
            FittedModel::Lightgbm(m) => m.predict(x, task.n_outputs()),
            FittedModel::Linear(m) => {
                if x.n_cols() != m.n_features {
                    return Err(ModelError::Data(format!(
                        "the model expects {} features, got {}",
                        m.n_features,
                        x.n_cols()
                    )));
                }
                Ok(m.predict(x))
            }
        }
    }

    /// Importance per model input: total split gain (LightGBM) or |coefficient| (linear).
    pub fn importances(&self) -> Result<Vec<f64>, ModelError> {
        match self {
            FittedModel::Lightgbm(m) => m.importances(true),
            FittedModel::Linear(m) => Ok(m.importances()),
        }
    }

    /// Importances as scikit-learn's RFE reads them: split counts (LightGBM's default
    /// `feature_importances_`) or |coef|.
    pub fn rfe_importances(&self) -> Result<Vec<f64>, ModelError> {
        match self {
            FittedModel::Lightgbm(m) => m.importances(false),
            FittedModel::Linear(m) => Ok(m.importances()),
        }
    }

    /// How the fit went.
    pub fn report(&self) -> FitReport {
        match self {
            FittedModel::Lightgbm(m) => m.info.clone(),
            FittedModel::Linear(_) => FitReport {
                iterations_run: 1,
                best_iteration: 1,
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_tables_parse_with_helpful_errors() {
        let m = ModelSpec::from_value(&json!({"type": "lightgbm", "params": {"num_leaves": 7},
            "early_stopping_rounds": 20}))
        .unwrap();
        assert_eq!(m.name(), "lightgbm");
        assert_eq!(m.early_stopping_fraction(), Some(0.2));
        let m = ModelSpec::from_value(&json!({"type": "ridge", "alpha": 2.0})).unwrap();
        assert_eq!(m, ModelSpec::Linear(LinearSpec::Ridge { alpha: 2.0 }));
        let e = ModelSpec::from_value(&json!({"type": "lightgbm", "early_stoping_rounds": 3}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `early_stopping_rounds`?"), "{e}");
        let e = ModelSpec::from_value(&json!({"type": "lasso", "aplha": 3}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `alpha`?"), "{e}");
        let e = ModelSpec::from_value(&json!({"type": "lightgmb"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"lightgbm\"?"), "{e}");
        let e = ModelSpec::from_value(&json!({"type": "logistic", "penalty": "l3"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("penalty"), "{e}");
        assert!(
            ModelSpec::from_value(&json!({"type": "ridge"}))
                .unwrap()
                .check_task(Task::Binary)
                .is_err()
        );
    }
}
