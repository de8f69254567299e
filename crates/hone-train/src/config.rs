//! The training config file (TOML): data, target, preprocessing, split, model, metrics.
//!
//! Every table rejects unknown keys and suggests the nearest valid one, so that a typo never
//! silently falls back to a default.

use std::path::{Path, PathBuf};

use hone_data::{DataSpec, TargetSpec};
use hone_models::ModelSpec;
use hone_models::model::with_suggestion;
use hone_models::preprocess::{
    ImputeStrategy, Imputer, ScaleKind, Scaler, SelectMethod, Selector, Step,
};
use hone_validate::Metric;
use hone_validate::scheme::SchemeSpec;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A whole training job, as written in the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Job name (default: the config file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Seed for every random component (shuffles, bagging, feature sampling).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Input file, time column, features.
    pub data: DataSpec,
    /// What is predicted.
    pub target: TargetSpec,
    /// Preprocessing fitted inside each fold.
    #[serde(default)]
    pub preprocess: PreprocessConfig,
    /// Cross-validation and holdout.
    #[serde(default)]
    pub split: SplitConfig,
    /// The model (`type` and its settings).
    pub model: toml::Table,
    /// Metrics to report (default: every metric of the task).
    #[serde(default)]
    pub metrics: Option<Vec<String>>,
    /// Where the job is recorded in the tracking store.
    #[serde(default)]
    pub tracking: Option<TrackingConfig>,
    /// Trading evaluation of the out-of-fold and holdout predictions.
    #[serde(default)]
    pub trading: Option<crate::trading::TradingConfig>,
    /// Quality gates evaluated after training.
    #[serde(default)]
    pub gates: Option<crate::gates::GatesConfig>,
    /// Hyperparameter search for `hone tune` (ignored by `hone train`; read by
    /// [`crate::tune::TuneSpec::from_config`]).
    #[serde(default)]
    pub search: Option<toml::Table>,
}

/// The `[tracking]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    /// Experiment name (default: the job name).
    #[serde(default)]
    pub experiment: Option<String>,
}

fn default_seed() -> u64 {
    42
}

/// Preprocessing steps, applied in the order impute → scale → select.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// `mean`, `median` or `constant` (missing feature values are an error without one).
    #[serde(default)]
    pub impute: Option<ImputeStrategy>,
    /// The fill value for `impute = "constant"`.
    #[serde(default)]
    pub impute_value: f64,
    /// `standard`, `minmax` or `robust`.
    #[serde(default)]
    pub scale: Option<ScaleKind>,
    /// Feature selection: `{ method = "selectkbest", k = 10 }`, `{ method = "rfe", n_features = 8 }`
    /// or `{ method = "lasso", alpha = 0.01 }`.
    #[serde(default)]
    pub select: Option<SelectMethod>,
}

/// Cross-validation scheme and the final holdout: `scheme`, its parameters, and `holdout`.
pub type SplitConfig = SchemeSpec;

/// The cross-validation schemes `hone train` and `hone split` know.
pub use hone_validate::scheme::SCHEMES;

impl PreprocessConfig {
    /// The unfitted steps, in order.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(strategy) = self.impute {
            steps.push(Step::Impute(Imputer {
                strategy,
                fill_value: self.impute_value,
                statistics: vec![],
            }));
        }
        if let Some(kind) = self.scale {
            steps.push(Step::Scale(Scaler {
                kind,
                offset: vec![],
                scale: vec![],
            }));
        }
        if let Some(method) = &self.select {
            steps.push(Step::Select(Selector {
                method: method.clone(),
                support: vec![],
                scores: vec![],
            }));
        }
        steps
    }
}

/// A config with its file location, the parsed model and metric list.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The parsed file.
    pub config: TrainConfig,
    /// Where it was read from.
    pub path: PathBuf,
    /// The data file, resolved against the config's folder.
    pub data_path: PathBuf,
    /// The parsed model.
    pub model: ModelSpec,
    /// Metrics requested (empty = all for the task).
    pub metrics: Vec<Metric>,
}

impl LoadedConfig {
    /// The job's name.
    pub fn name(&self) -> String {
        self.config.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map_or("job".into(), |s| s.to_string_lossy().into_owned())
        })
    }
}

/// Reads and checks a config file.
pub fn load(path: &Path) -> Result<LoadedConfig, TrainError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrainError::Config(format!("cannot read config {}: {e}", path.display())))?;
    parse(&text, path)
}

/// Parses config text; `path` locates relative data paths and names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<LoadedConfig, TrainError> {
    let config: TrainConfig = toml::from_str(text).map_err(|e| {
        let message = with_suggestion(e.message());
        let location = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        TrainError::Config(format!("{}{location}: {message}", path.display()))
    })?;
    let model_json = serde_json::to_value(&config.model)
        .map_err(|e| TrainError::Config(format!("{}: [model]: {e}", path.display())))?;
    let model = ModelSpec::from_value(&model_json)
        .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    let metrics = config
        .metrics
        .iter()
        .flatten()
        .map(|m| {
            m.parse::<Metric>()
                .map_err(|e| TrainError::Config(format!("{}: metrics: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !(0.0..1.0).contains(&config.split.holdout()) {
        return Err(TrainError::Config(format!(
            "{}: split.holdout must be in [0, 1), got {}",
            path.display(),
            config.split.holdout()
        )));
    }
    if let Some(t) = &config.trading {
        t.validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    }
    if let Some(g) = &config.gates {
        g.validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let data_path = if config.data.path.is_absolute() {
        config.data.path.clone()
    } else {
        base.join(&config.data.path)
    };
    Ok(LoadedConfig {
        config,
        path: path.to_path_buf(),
        data_path,
        model,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[data]
path = "prices.csv"
time_column = "date"
[target]
kind = "direction"
[model]
type = "lightgbm"
"#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(BASE, Path::new("/x/job.toml")).unwrap();
        assert_eq!(c.name(), "job");
        assert_eq!(c.data_path, Path::new("/x/prices.csv"));
        assert_eq!(c.config.split.name(), "timeseries");
        assert_eq!(c.config.split.holdout(), 0.2);
        assert_eq!(c.config.seed, 42);
        let s = c.config.split.build(1, 3).unwrap();
        assert!(s.is_temporal());
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_suggestion() {
        let bad = BASE.replace("time_column", "time_colum");
        let e = parse(&bad, Path::new("job.toml")).unwrap_err().to_string();
        assert!(
            e.contains("did you mean `time_column`?") && e.contains("line 4"),
            "{e}"
        );
        let bad = format!("{BASE}\n[split]\nn_split = 3\n");
        let e = parse(&bad, Path::new("job.toml")).unwrap_err().to_string();
        assert!(e.contains("did you mean `n_splits`?"), "{e}");
        let bad = format!("{BASE}\n[preprocess]\nscale = \"standart\"\n");
        let e = parse(&bad, Path::new("job.toml")).unwrap_err().to_string();
        assert!(e.contains("did you mean `standard`?"), "{e}");
        let bad = BASE.replace(
            "type = \"lightgbm\"",
            "type = \"lightgbm\"\nlearning_rate = 0.1",
        );
        let e = parse(&bad, Path::new("job.toml")).unwrap_err().to_string();
        assert!(e.contains("unknown field `learning_rate`"), "{e}");
        let bad = format!("{BASE}\nmetrics = [\"auc\"]\n");
        assert!(parse(&bad, Path::new("job.toml")).is_err());
    }

    #[test]
    fn impossible_split_settings_are_rejected() {
        let c = parse(BASE, Path::new("job.toml")).unwrap();
        let mut s = c.config.split.clone();
        s.shuffle = Some(true);
        let e = s.build(0, 1).unwrap_err().to_string();
        assert!(
            e.contains("split.shuffle does not apply to scheme \"timeseries\""),
            "{e}"
        );
        let mut s = c.config.split.clone();
        s.scheme = Some("kfold".into());
        s.gap = Some(2);
        assert!(s.build(0, 1).is_err());
        s.gap = None;
        s.scheme = Some("kfolds".into());
        assert!(s.build(0, 1).unwrap_err().to_string().contains("not known"));
        let bad = format!("{BASE}\n[split]\nscheme = \"cpcv\"\nn_group = 6\n");
        let e = parse(&bad, Path::new("job.toml")).unwrap_err().to_string();
        assert!(e.contains("did you mean `n_groups`?"), "{e}");
    }
}
