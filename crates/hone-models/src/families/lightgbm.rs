//! The LightGBM family (`type = "lightgbm"` and `"random_forest"`): the `[model]` table, and
//! the engine in [`crate::gbm`] behind the [`Estimator`] and [`Fitted`] seams.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use hone_validate::Task;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Family, ParamDoc};
use crate::estimator::{
    ArtifactSink, ArtifactSource, Estimator, Fit, Fitted, ReusesTrainingSet, TrainingRows,
    TrainingSet,
};
use crate::gbm::{BinnedCache, CacheBudget, GbmModel, GbmSpec, PARAM_ALIASES};
use crate::model::FitReport;
use crate::observer::TrainObserver;
use crate::{Matrix, ModelError};

/// LightGBM's model file, in its own text format (Python's `lightgbm.Booster` loads it).
pub const MODEL_FILE: &str = "model.txt";

/// The registration of this family.
pub const FAMILY: Family = Family {
    types: &["lightgbm", "random_forest"],
    kind: "lightgbm",
    keys: &[
        ParamDoc {
            key: "params",
            doc: "LightGBM parameters (canonical names or aliases), checked against LightGBM's ranges",
        },
        ParamDoc {
            key: "early_stopping_rounds",
            doc: "stop when the early-stopping slice's metric has not improved for this many rounds",
        },
        ParamDoc {
            key: "validation_fraction",
            doc: "share of each training set (its latest rows) held out for early stopping",
        },
        ParamDoc {
            key: "extra_trees",
            doc: "extremely randomised trees (LightGBM's extra_trees)",
        },
    ],
    parse,
    decode: super::decode_as::<GbmModel>,
};

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

fn parse(kind: &str, mut table: Map<String, Value>) -> Result<Arc<dyn Estimator>, ModelError> {
    let config = Value::Object(table.clone());
    table.remove("type");
    let o: GbmOptions = serde_json::from_value(Value::Object(table)).map_err(super::config_err)?;
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
    Ok(Arc::new(LightGbm { spec, config }))
}

/// A configured LightGBM model: the engine's spec and the table it came from.
#[derive(Debug, Clone)]
pub struct LightGbm {
    /// The engine's settings.
    pub spec: GbmSpec,
    config: Value,
}

impl Estimator for LightGbm {
    fn complexity_counts(&self) -> &'static [&'static str] {
        &["trees", "leaves"]
    }

    fn name(&self) -> &'static str {
        if self.spec.boosting == "rf" {
            "random_forest"
        } else {
            "lightgbm"
        }
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn check_task(&self, task: Task) -> Result<(), ModelError> {
        self.spec.resolved_params(task, 0).map(|_| ())
    }

    /// LightGBM's seed is a C `int`.
    fn check_seed(&self, seed: u64) -> Result<(), String> {
        if seed > i32::MAX as u64 {
            return Err(format!(
                "seed = {seed} is above {}, the largest seed LightGBM takes",
                i32::MAX
            ));
        }
        Ok(())
    }

    fn early_stopping_fraction(&self) -> Option<f64> {
        let g = &self.spec;
        (g.early_stopping_rounds.is_some() && g.validation_fraction > 0.0)
            .then_some(g.validation_fraction)
    }

    fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
        in_sample: bool,
    ) -> Result<Fit, ModelError> {
        let binned = self.spec.bin(data, None)?;
        let (model, in_sample) = self
            .spec
            .fit_binned_scored(&binned, data.task, data.seed, observer, in_sample)?;
        Ok(Fit {
            model: Box::new(model),
            in_sample,
        })
    }

    fn resolved_params(&self, task: Task, seed: u64) -> Option<BTreeMap<String, String>> {
        self.spec.resolved_params(task, seed).ok()
    }

    fn threads_key(&self) -> Option<&'static str> {
        Some("params.num_threads")
    }

    fn with_fixed_steps(&self, steps: usize) -> Option<Arc<dyn Estimator>> {
        let mut spec = self.spec.clone();
        // Any alias of num_iterations goes: the fixed count replaces it.
        spec.params.retain(|k, _| {
            k != "num_iterations"
                && !PARAM_ALIASES
                    .iter()
                    .any(|(alias, canonical)| alias == k && *canonical == "num_iterations")
        });
        spec.params
            .insert("num_iterations".into(), Value::from(steps as u64));
        spec.early_stopping_rounds = None;
        let mut config = self.config.clone();
        if let Some(table) = config.as_object_mut() {
            table.remove("early_stopping_rounds");
            let params = spec.params.clone().into_iter().collect();
            table.insert("params".into(), Value::Object(params));
        }
        Some(Arc::new(LightGbm { spec, config }))
    }

    fn reuse(&self) -> Option<&dyn ReusesTrainingSet> {
        Some(self)
    }
}

impl ReusesTrainingSet for LightGbm {
    fn new_cache(&self) -> Box<dyn Any + Send + Sync> {
        Box::new(BinnedCache::new())
    }

    fn fit_reusing(
        &self,
        cache: &(dyn Any + Send + Sync),
        rows: &dyn Fn() -> Result<TrainingRows, ModelError>,
        layout: &str,
        task: Task,
        seed: u64,
        budget: &CacheBudget,
        observer: &mut dyn TrainObserver,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        let bins = cache
            .downcast_ref::<BinnedCache>()
            .ok_or_else(|| ModelError::Config("the fold was prepared for another model".into()))?;
        let data = bins.get(&self.spec, task, seed, layout, budget, rows)?;
        let model = self.spec.fit_binned(&data, task, seed, observer)?;
        Ok(Box::new(model))
    }
}

impl Fitted for GbmModel {
    fn kind(&self) -> &'static str {
        FAMILY.kind
    }

    fn predict(&self, x: &Matrix, task: Task) -> Result<Vec<f64>, ModelError> {
        GbmModel::predict(self, x, task.n_outputs())
    }

    fn predict_row_major(
        &self,
        rows: &[f64],
        n_rows: usize,
        n_cols: usize,
        task: Task,
    ) -> Result<Vec<f64>, ModelError> {
        GbmModel::predict_row_major(self, rows, n_rows, n_cols, task.n_outputs())
    }

    fn importances(&self) -> Result<Vec<f64>, ModelError> {
        GbmModel::importances(self, true)
    }

    fn importance_kind(&self) -> &'static str {
        "total split gain"
    }

    /// Counted in the model text: one `Tree=` section per tree (per class), its `num_leaves=`.
    fn complexity(&self) -> crate::model::Complexity {
        let (mut trees, mut leaves) = (0u64, 0u64);
        for line in self.text().lines() {
            if line.starts_with("Tree=") {
                trees += 1;
            } else if let Some(n) = line.strip_prefix("num_leaves=") {
                leaves += n.trim().parse::<u64>().unwrap_or(0);
            }
        }
        crate::model::Complexity {
            trees: Some(trees),
            leaves: Some(leaves),
            ..Default::default()
        }
    }

    /// Split counts: LightGBM's default `feature_importances_`, what scikit-learn's RFE reads.
    fn rfe_importances(&self) -> Result<Vec<f64>, ModelError> {
        GbmModel::importances(self, false)
    }

    fn report(&self) -> FitReport {
        self.info.clone()
    }

    fn params(&self) -> Option<BTreeMap<String, String>> {
        Some(self.params.clone())
    }

    fn state(&self) -> &dyn erased_serde::Serialize {
        self
    }

    fn save_files(&self, sink: &mut dyn ArtifactSink) -> Result<Vec<String>, ModelError> {
        sink.put(MODEL_FILE, self.text().as_bytes())?;
        Ok(vec![MODEL_FILE.to_string()])
    }

    fn standard_file(&self) -> Option<&'static str> {
        Some(MODEL_FILE)
    }

    fn check_shape(&self, width: usize, _outputs: usize) -> Result<(), String> {
        if self.n_features != width {
            return Err(format!(
                "the model takes {} features, the steps give {width}",
                self.n_features
            ));
        }
        self.predict_threads().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn load_files(&mut self, files: &dyn ArtifactSource, task: Task) -> Result<(), ModelError> {
        let bytes = files.get(MODEL_FILE)?;
        let bad = |message: String| files.error(MODEL_FILE, message);
        let text = String::from_utf8(bytes)
            .map_err(|_| bad("not a valid LightGBM model: not UTF-8 text".into()))?;
        self.attach_text(text).map_err(|e| bad(e.to_string()))?;
        if self.num_class() != Some(task.n_outputs()) {
            return Err(bad(format!(
                "the model gives {} outputs per row, a {} task needs {}",
                self.num_class().unwrap_or(0),
                task.kind(),
                task.n_outputs()
            )));
        }
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn Fitted> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use crate::observer::Unobserved;
    use serde_json::json;

    /// A 1-tree model has one tree with the leaves LightGBM grew; a 3-class model of 4 rounds
    /// has 12 trees; a linear model counts its non-zero coefficients.
    #[test]
    fn complexity_counts_trees_leaves_and_coefficients() {
        let (n, p) = (400, 3);
        let rows: Vec<f64> = (0..n * p)
            .map(|i| ((i * 37 % 101) as f64 * 0.13).sin())
            .collect();
        let x = Matrix::from_row_major(n, p, &rows);
        let binary: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(x.get(i, 0) > 0.1)))
            .collect();
        let three: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        let fit = |model: serde_json::Value, y: &[f64], task: Task| {
            let data = TrainingSet {
                label_gap: 0,
                x: &x,
                y,
                valid: None,
                task,
                seed: 3,
                feature_names: &[],
                sequence: None,
            };
            ModelSpec::from_value(&model)
                .unwrap()
                .estimator()
                .fit(&data, &mut Unobserved, false)
                .unwrap()
                .model
        };
        let one = fit(
            json!({"type": "lightgbm", "params": {"num_iterations": 1, "num_leaves": 2,
                   "min_data_in_leaf": 5, "num_threads": 1}}),
            &binary,
            Task::Binary,
        );
        let c = one.complexity();
        assert_eq!(c.trees, Some(1));
        assert_eq!(c.leaves, Some(2), "one split of separable rows");
        assert_eq!(c.nonzero_coefficients, None);
        let multi = fit(
            json!({"type": "lightgbm", "params": {"num_iterations": 4, "num_leaves": 3,
                   "min_data_in_leaf": 5, "num_threads": 1}}),
            &three,
            Task::Multiclass { n_classes: 3 },
        );
        assert_eq!(
            multi.complexity().trees,
            Some(12),
            "one tree per class per round"
        );
        // Lasso-like sparsity is not needed: a column of zeros gets a zero coefficient.
        let mut with_zero = rows.clone();
        for r in 0..n {
            with_zero[r * p + 2] = 0.0;
        }
        let xz = Matrix::from_row_major(n, p, &with_zero);
        let data = TrainingSet {
            label_gap: 0,
            x: &xz,
            y: &binary,
            valid: None,
            task: Task::Binary,
            seed: 3,
            feature_names: &[],
            sequence: None,
        };
        let linear = ModelSpec::from_value(&json!({"type": "logistic", "C": 1.0}))
            .unwrap()
            .estimator()
            .fit(&data, &mut Unobserved, false)
            .unwrap()
            .model;
        let c = linear.complexity();
        assert_eq!(c.nonzero_coefficients, Some(2));
        assert_eq!(c.parameters, Some(4), "3 coefficients and the intercept");
        assert_eq!(c.trees, None);
    }

    /// A fixed-step copy trains exactly like the same table with `num_iterations = k` and no
    /// early stopping, whatever alias set the rounds.
    #[test]
    fn fixed_steps_equal_a_plain_fit_of_that_many_rounds() {
        let (n, p) = (300, 3);
        let rows: Vec<f64> = (0..n * p)
            .map(|i| ((i * 37 % 101) as f64 * 0.13).sin())
            .collect();
        let x = Matrix::from_row_major(n, p, &rows);
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from(x.get(i, 0) > 0.1)))
            .collect();
        let data = TrainingSet {
            label_gap: 0,
            x: &x,
            y: &y,
            valid: None,
            task: Task::Binary,
            seed: 3,
            feature_names: &[],
            sequence: None,
        };
        let text = |spec: &dyn Estimator| {
            let fit = spec.fit(&data, &mut Unobserved, false).unwrap();
            fit.model
                .as_any()
                .downcast_ref::<GbmModel>()
                .unwrap()
                .text()
                .to_string()
        };
        let early = ModelSpec::from_value(&json!({"type": "lightgbm", "early_stopping_rounds": 5,
            "params": {"n_estimators": 300, "num_leaves": 5, "num_threads": 1}}))
        .unwrap();
        let fixed = early.estimator().with_fixed_steps(17).unwrap();
        assert_eq!(fixed.early_stopping_fraction(), None);
        let plain = ModelSpec::from_value(&json!({"type": "lightgbm",
            "params": {"num_iterations": 17, "num_leaves": 5, "num_threads": 1}}))
        .unwrap();
        assert_eq!(text(fixed.as_ref()), text(plain.estimator()));
        assert_eq!(
            fixed
                .fit(&data, &mut Unobserved, false)
                .unwrap()
                .model
                .report()
                .iterations_run,
            17
        );
    }
}
