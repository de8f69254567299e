//! The linear family (`type = "linear" | "ridge" | "lasso" | "elastic_net" | "logistic"`): the
//! `[model]` table, and the solvers in [`crate::linear`] behind the [`Estimator`] and
//! [`Fitted`] seams.

use std::any::Any;
use std::sync::Arc;

use hone_validate::Task;
use serde_json::{Map, Value};

use super::{Family, ParamDoc};
use crate::estimator::{Estimator, Fit, Fitted, TrainingSet};
use crate::linear::{LinearModel, LinearSpec};
use crate::model::FitReport;
use crate::observer::{StepReport, TrainObserver};
use crate::{Matrix, ModelError};

/// The registration of this family.
pub const FAMILY: Family = Family {
    types: &["linear", "ridge", "lasso", "elastic_net", "logistic"],
    kind: "linear",
    keys: &[
        ParamDoc {
            key: "alpha",
            doc: "penalty strength (ridge, lasso, elastic_net)",
        },
        ParamDoc {
            key: "l1_ratio",
            doc: "L1 share of the elastic-net penalty, in [0, 1]",
        },
        ParamDoc {
            key: "max_iter",
            doc: "most solver iterations (lasso, elastic_net, logistic)",
        },
        ParamDoc {
            key: "tol",
            doc: "coordinate-descent tolerance (lasso, elastic_net)",
        },
        ParamDoc {
            key: "C",
            doc: "inverse regularisation strength (logistic)",
        },
        ParamDoc {
            key: "penalty",
            doc: "\"l1\" or \"l2\" (logistic)",
        },
    ],
    parse,
    decode: super::decode_as::<LinearModel>,
};

fn parse(_kind: &str, table: Map<String, Value>) -> Result<Arc<dyn Estimator>, ModelError> {
    let config = Value::Object(table);
    let spec: LinearSpec = serde_json::from_value(config.clone()).map_err(super::config_err)?;
    spec.validate()?;
    Ok(Arc::new(Linear { spec, config }))
}

/// A configured linear model.
#[derive(Debug, Clone)]
pub struct Linear {
    /// The solver's settings.
    pub spec: LinearSpec,
    config: Value,
}

impl Estimator for Linear {
    fn complexity_counts(&self) -> &'static [&'static str] {
        &["nonzero_coefficients", "parameters"]
    }

    fn name(&self) -> &'static str {
        self.spec.name()
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn check_task(&self, task: Task) -> Result<(), ModelError> {
        let classifier = self.spec.is_classifier();
        if classifier && task == Task::Regression {
            return Err(ModelError::Config(
                "model.type = \"logistic\" needs a classification target".into(),
            ));
        }
        if !classifier && task != Task::Regression {
            return Err(ModelError::Config(format!(
                "model.type = {:?} is a regressor; use \"logistic\" or \"lightgbm\" for a {} target",
                self.spec.name(),
                task.kind()
            )));
        }
        Ok(())
    }

    fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
        _in_sample: bool,
    ) -> Result<Fit, ModelError> {
        let n_classes = match data.task {
            Task::Binary => Some(2),
            Task::Multiclass { n_classes } => Some(n_classes),
            Task::Regression => None,
        };
        let model = self.spec.fit(data.x, data.y, n_classes)?;
        // One step: a closed form or a solver run to convergence.
        let _ = observer.on_step(&StepReport {
            step: 1,
            total: 1,
            valid: None,
            epoch: None,
        });
        Ok(Fit {
            model: Box::new(model),
            in_sample: None,
        })
    }
}

impl Fitted for LinearModel {
    fn kind(&self) -> &'static str {
        FAMILY.kind
    }

    fn predict(&self, x: &Matrix, _task: Task) -> Result<Vec<f64>, ModelError> {
        if x.n_cols() != self.n_features {
            return Err(ModelError::Data(format!(
                "the model expects {} features, got {}",
                self.n_features,
                x.n_cols()
            )));
        }
        Ok(LinearModel::predict(self, x))
    }

    fn importances(&self) -> Result<Vec<f64>, ModelError> {
        Ok(LinearModel::importances(self))
    }

    fn complexity(&self) -> crate::model::Complexity {
        crate::model::Complexity {
            nonzero_coefficients: Some(self.coef.iter().filter(|c| **c != 0.0).count() as u64),
            parameters: Some((self.coef.len() + self.intercept.len()) as u64),
            ..Default::default()
        }
    }

    /// On the model's inputs, after the pipeline's steps: standardised coefficients when the
    /// config scales with `standard`.
    fn importance_kind(&self) -> &'static str {
        "|coefficient|"
    }

    fn report(&self) -> FitReport {
        FitReport {
            iterations_run: 1,
            best_iteration: 1,
            ..Default::default()
        }
    }

    fn state(&self) -> &dyn erased_serde::Serialize {
        self
    }

    fn check_shape(&self, width: usize, outputs: usize) -> Result<(), String> {
        let ok = self.n_features == width
            && self.n_outputs == outputs
            && self.intercept.len() == outputs
            && self.n_features.checked_mul(outputs) == Some(self.coef.len());
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the linear model's sizes ({} features, {} outputs, {} coefficients, {} \
                 intercepts) do not fit {width} features and {outputs} outputs",
                self.n_features,
                self.n_outputs,
                self.coef.len(),
                self.intercept.len()
            ))
        }
    }

    fn clone_box(&self) -> Box<dyn Fitted> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
