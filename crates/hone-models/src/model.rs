//! The model vocabulary: what can be configured ([`ModelSpec`], any registered
//! [`Estimator`]) and what fitting produces ([`FittedModel`], any [`Fitted`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use hone_validate::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ModelError;
use crate::estimator::{Estimator, Fitted, TrainingSet};
use crate::families;
use crate::observer::TrainObserver;

/// A configured model: any registered family's [`Estimator`], shared (cloning is cheap).
#[derive(Debug, Clone)]
pub struct ModelSpec(Arc<dyn Estimator>);

/// Two specs are equal when they were parsed from equal `[model]` tables.
impl PartialEq for ModelSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.config() == other.0.config()
    }
}

impl ModelSpec {
    /// Parses a `[model]` table: `type` picks the family ([`families::FAMILIES`]), the other
    /// keys are its settings. Errors name the offending key (and suggest the nearest valid one).
    pub fn from_value(value: &Value) -> Result<Self, ModelError> {
        families::parse(value).map(Self)
    }

    /// Wraps an estimator built in code.
    pub fn new(estimator: Arc<dyn Estimator>) -> Self {
        Self(estimator)
    }

    /// The estimator.
    pub fn estimator(&self) -> &dyn Estimator {
        self.0.as_ref()
    }

    /// The model's name as written in configs.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Checks that the model can learn this kind of target.
    pub fn check_task(&self, task: Task) -> Result<(), ModelError> {
        self.0.check_task(task)
    }

    /// The early-stopping validation share, if this model stops early.
    pub fn early_stopping_fraction(&self) -> Option<f64> {
        self.0.early_stopping_fraction()
    }

    /// Fits the model on `data`.
    pub fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
    ) -> Result<FittedModel, ModelError> {
        self.0
            .fit(data, observer, false)
            .map(|f| FittedModel(f.model))
    }
}

/// A fitted model of any family.
#[derive(Debug)]
pub struct FittedModel(Box<dyn Fitted>);

impl Clone for FittedModel {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl std::ops::Deref for FittedModel {
    type Target = dyn Fitted;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl std::ops::DerefMut for FittedModel {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut()
    }
}

impl FittedModel {
    /// Wraps a fitted model.
    pub fn new(model: Box<dyn Fitted>) -> Self {
        Self(model)
    }

    /// The concrete model, when it is a `T` (family-specific tools and tests).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }

    /// The resolved parameters, for reports.
    pub fn resolved_params(&self) -> Option<BTreeMap<String, String>> {
        self.0.params()
    }

    /// The model's size in its own terms (trees and leaves, coefficients, parameters).
    pub fn complexity(&self) -> Complexity {
        self.0.complexity()
    }
}

/// How big a fitted model is, in its family's terms: what an accuracy-vs-complexity search
/// trades against. A family fills in what applies to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complexity {
    /// Trees (GBDT, random forest): every tree of every class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<u64>,
    /// Leaves over all trees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaves: Option<u64>,
    /// Coefficients that are not zero (linear models; intercepts not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonzero_coefficients: Option<u64>,
    /// Trainable numbers (coefficients and intercepts, weights and biases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
}

/// `pipeline.json`'s `"model"`: the family's kind, then its metadata.
impl Serialize for FittedModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            kind: &'static str,
            #[serde(flatten)]
            state: &'a dyn erased_serde::Serialize,
        }
        Tagged {
            kind: self.0.kind(),
            state: self.0.state(),
        }
        .serialize(s)
    }
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
        assert_eq!(m.name(), "ridge");
        assert_eq!(m.estimator().config()["alpha"], 2.0);
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
