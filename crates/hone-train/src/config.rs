//! The training config file (TOML): data, target, preprocessing, split, model, metrics.
//!
//! Every table rejects unknown keys and suggests the nearest valid one, so that a typo never
//! silently falls back to a default.

use std::path::{Path, PathBuf};

use hone_data::{DataSpec, TargetSpec};
use hone_models::ModelSpec;
use hone_models::suggest::with_suggestion;
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
    /// Long-short portfolio backtest of a panel's predictions (`[data] asset_column`).
    #[serde(default)]
    pub portfolio: Option<crate::portfolio::PortfolioConfig>,
    /// Quality gates evaluated after training.
    #[serde(default)]
    pub gates: Option<crate::gates::GatesConfig>,
    /// Hyperparameter search for `hone tune` (ignored by `hone train`; read by
    /// [`crate::tune::TuneSpec::from_config`]).
    #[serde(default)]
    pub search: Option<toml::Table>,
    /// LightGBM's own distributed training over a gang of queue workers (`hone submit`);
    /// `hone train` on one machine ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedConfig>,
}

/// The `[distributed]` table: how many workers train one LightGBM model together, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// Workers in the gang (2 or more).
    pub machines: usize,
    /// LightGBM's parallel learner: `data` (rows split between workers, histograms summed:
    /// the model of one machine up to bin boundaries) or `voting` (fewer bytes on the wire,
    /// an approximation). `feature` is refused: LightGBM's C API does not offer it.
    #[serde(default = "default_tree_learner")]
    pub tree_learner: String,
    /// Minutes a member waits for the others to connect.
    #[serde(default = "default_gang_timeout")]
    pub timeout_minutes: u32,
}

fn default_tree_learner() -> String {
    "data".into()
}

fn default_gang_timeout() -> u32 {
    5
}

/// The most workers one gang may ask for.
pub const MAX_GANG: usize = 256;

/// `s3://…` data paths are object-store URIs, never joined to the config's folder.
pub fn is_object_uri(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.starts_with("s3://"))
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

pub use hone_models::preprocess::PreprocessConfig;

/// Cross-validation scheme and the final holdout: `scheme`, its parameters, and `holdout`.
pub type SplitConfig = SchemeSpec;

/// The cross-validation schemes `hone train` and `hone split` know.
pub use hone_validate::scheme::SCHEMES;

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
    /// How the final model is refit (`[model] refit_rounds`).
    pub refit: RefitRounds,
    /// The `--set KEY=VALUE` overrides applied to the file before it was checked, in order
    /// (already part of [`config`](Self::config); kept to be recorded with the run).
    pub overrides: Vec<Override>,
    /// The data's fingerprint this job must see (a queued job's, recorded when it was
    /// submitted): the data is refused when the file changed since. `None`: not checked.
    pub expect_fingerprint: Option<String>,
}

/// One `--set KEY=VALUE` override: a value written at a dotted key of the parsed config file
/// before the config is checked, so it passes the same validation (and gets the same key
/// suggestions) as a value written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The key's parts (`split.n_splits` → `["split", "n_splits"]`; TOML quoting allowed:
    /// `search.space."preprocess.scale".choices`).
    pub path: Vec<String>,
    /// The value, parsed as a TOML value.
    pub value: toml::Value,
    /// `KEY=VALUE` as given, for messages and the run's record.
    pub text: String,
}

impl Override {
    /// Parses `KEY=VALUE`. The value is read as a TOML value (number, bool, string, array,
    /// inline table); anything that is not valid TOML (a bare word such as `robust` or a path)
    /// is taken as a string, and so is a TOML date (no config key takes one). Errors name the
    /// flag and the argument.
    pub fn parse(arg: &str) -> Result<Self, TrainError> {
        let bad = |why: &str| TrainError::Config(format!("--set {arg:?}: {why}"));
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE, e.g. --set split.n_splits=3"))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(bad("the key before `=` is empty"));
        }
        // The key is read as a TOML key, so dotted and quoted keys mean what they mean in the
        // file; a line break would smuggle in a second assignment.
        if key.contains(['\n', '\r']) {
            return Err(bad("the key has a line break"));
        }
        let not_a_key = || {
            bad(&format!(
                "{key:?} is not a config key (a dotted key like model.params.learning_rate)"
            ))
        };
        let doc: toml::Table = toml::from_str(&format!("{key} = 0")).map_err(|_| not_a_key())?;
        let mut path = Vec::new();
        let mut cur = &doc;
        loop {
            let mut entries = cur.iter();
            let (Some((k, v)), None) = (entries.next(), entries.next()) else {
                return Err(not_a_key());
            };
            path.push(k.clone());
            match v {
                toml::Value::Table(t) => cur = t,
                toml::Value::Integer(0) => break,
                _ => return Err(not_a_key()),
            }
        }
        let parsed = (!value.contains(['\n', '\r']))
            .then(|| toml::from_str::<toml::Table>(&format!("v = {value}")).ok())
            .flatten()
            .filter(|t| t.len() == 1)
            .and_then(|mut t| t.remove("v"));
        let value = match parsed {
            Some(toml::Value::Datetime(_)) | None => toml::Value::String(value.to_string()),
            Some(v) => v,
        };
        if let Some(bad_float) = first_non_finite(&value) {
            return Err(bad(&format!(
                "{key} = {bad_float}: must be a finite number"
            )));
        }
        Ok(Self {
            path,
            value,
            text: format!(
                "{key}={}",
                arg.split_once('=').map_or("", |(_, v)| v.trim())
            ),
        })
    }

    /// The dotted key.
    pub fn key(&self) -> String {
        self.path.join(".")
    }

    /// Writes the value into `doc`, creating tables on the way; the value replaces whatever
    /// the key held (a whole table, for a table key).
    fn apply(&self, doc: &mut toml::Table) -> Result<(), String> {
        let Some((last, parents)) = self.path.split_last() else {
            return Err("empty key".into());
        };
        let mut cur = doc;
        let mut walked = Vec::new();
        for part in parents {
            walked.push(part.as_str());
            let entry = cur
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = entry.as_table_mut().ok_or_else(|| {
                format!("{} is a value in the config, not a table", walked.join("."))
            })?;
        }
        cur.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

/// The first NaN or infinite float in a TOML value (a `--set` value), as text.
fn first_non_finite(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::Float(f) if !f.is_finite() => Some(f.to_string()),
        toml::Value::Array(a) => a.iter().find_map(first_non_finite),
        toml::Value::Table(t) => t.values().find_map(first_non_finite),
        _ => None,
    }
}

/// How many steps (boosting rounds, epochs) the final model trains on all development rows,
/// for a model that stops early (`[model] refit_rounds`). Cross-validation chose a number of
/// steps per fold; the refit reproduces that choice instead of early-stopping on a slice of its
/// own (which can keep a different number, even one round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefitRounds {
    /// The mean of the folds' best iterations, rounded (the default).
    Mean,
    /// Their median (the mean of the middle two, rounded, for an even count).
    Median,
    /// Their maximum.
    Max,
    /// A fixed number.
    Fixed(usize),
    /// Early stopping on the refit's own validation slice, as the folds did (the latest
    /// `validation_fraction` of the development rows are then not trained on).
    EarlyStopping,
}

impl RefitRounds {
    /// Parses `"mean" | "median" | "max" | "early_stopping"` or a whole number ≥ 1.
    pub fn parse(v: &serde_json::Value) -> Result<Self, String> {
        let bad = || {
            format!(
                "model.refit_rounds must be \"mean\", \"median\", \"max\", \"early_stopping\" or a \
                 whole number ≥ 1, got {v}"
            )
        };
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "mean" => Ok(Self::Mean),
                "median" => Ok(Self::Median),
                "max" => Ok(Self::Max),
                "early_stopping" => Ok(Self::EarlyStopping),
                _ => Err(bad()),
            },
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(k) if k >= 1 && k <= i32::MAX as u64 => Ok(Self::Fixed(k as usize)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    /// The rule as written in the config.
    pub fn name(&self) -> String {
        match self {
            Self::Mean => "mean".into(),
            Self::Median => "median".into(),
            Self::Max => "max".into(),
            Self::Fixed(k) => k.to_string(),
            Self::EarlyStopping => "early_stopping".into(),
        }
    }

    /// The refit's steps given the folds' best iterations (`None`: early-stop as the folds did,
    /// or no folds). Never below 1.
    pub fn rounds(&self, folds: &[usize]) -> Option<usize> {
        if folds.is_empty() {
            return match self {
                Self::Fixed(k) => Some(*k),
                _ => None,
            };
        }
        let n = folds.len();
        let k = match self {
            Self::Mean => (folds.iter().sum::<usize>() as f64 / n as f64).round() as usize,
            Self::Median => {
                let mut v = folds.to_vec();
                v.sort_unstable();
                if n % 2 == 1 {
                    v[n / 2]
                } else {
                    ((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0).round() as usize
                }
            }
            Self::Max => folds.iter().copied().max().unwrap_or(1),
            Self::Fixed(k) => *k,
            Self::EarlyStopping => return None,
        };
        Some(k.max(1))
    }
}

impl LoadedConfig {
    /// ` (from --set KEY=VALUE)` when an override wrote `key` (or a key inside it), for errors
    /// found after the config was read (`[search]` keys, split settings); empty otherwise.
    pub fn origin(&self, key: &str) -> String {
        self.overrides
            .iter()
            .rev()
            .find(|o| {
                let k = o.key();
                k == key || key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}."))
            })
            .map(|o| format!(" (from --set {})", o.text))
            .unwrap_or_default()
    }

    /// The config as the job ran it: the job name filled in and the data path made absolute
    /// (what `config.toml` in the outputs holds, and what a tracked run records as params).
    pub fn resolved(&self) -> TrainConfig {
        let mut resolved = self.config.clone();
        resolved.data.path = if is_object_uri(&self.data_path) {
            self.data_path.clone()
        } else {
            std::path::absolute(&self.data_path).unwrap_or(self.data_path.clone())
        };
        resolved.name = Some(self.name());
        resolved
    }

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
    load_with(path, &[])
}

/// Reads a config file, applies `--set` overrides to it and checks the result ([`parse_with`]).
pub fn load_with(path: &Path, overrides: &[Override]) -> Result<LoadedConfig, TrainError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrainError::Config(format!("cannot read config {}: {e}", path.display())))?;
    parse_with(&text, path, overrides)
}

/// [`parse`] with `--set` overrides written into the parsed document, in order, before the
/// typed config is read from it: an override meets the same checks and key suggestions as the
/// file. A refusal caused by an override names it (`job.toml: --set split.n_split=3: unknown
/// field ...`); the file's own errors keep their line numbers.
pub fn parse_with(
    text: &str,
    path: &Path,
    overrides: &[Override],
) -> Result<LoadedConfig, TrainError> {
    if overrides.is_empty() {
        return parse(text, path);
    }
    check_finite(text).map_err(|(key, offset, value)| {
        TrainError::Config(format!(
            "{}{}: {key} = {value}: must be a finite number",
            path.display(),
            line_suffix(text, offset)
        ))
    })?;
    // The file must at least be TOML; its own mistakes are reported with their lines.
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|s| line_suffix(text, s.start))
            .unwrap_or_default();
        TrainError::Config(format!("{}{location}: {}", path.display(), e.message()))
    })?;
    for o in overrides {
        o.apply(&mut doc).map_err(|m| {
            TrainError::Config(format!("{}: --set {}: {m}", path.display(), o.text))
        })?;
    }
    let mut cfg = from_value(toml::Value::Table(doc), path).map_err(|e| {
        let message = e.to_string();
        // A mistake of the file itself keeps the line number the file's own check gives it.
        if let Err(own) = parse(text, path)
            && strip_location(&own.to_string()) == message
        {
            return own;
        }
        let prefix = format!("{}: ", path.display());
        let rest = message.strip_prefix(&prefix).unwrap_or(&message);
        TrainError::Config(format!("{prefix}{}: {rest}", blame(overrides, rest)))
    })?;
    cfg.overrides = overrides.to_vec();
    Ok(cfg)
}

/// An error message without the ` (line N)` after the file name, to compare it with the same
/// error found without line numbers.
fn strip_location(message: &str) -> String {
    match (message.find(" (line "), message.find("): ")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &message[..a], &message[b + 1..]),
        _ => message.to_string(),
    }
}

/// Which overrides an error with `message` comes from, as `--set K=V [--set K=V]`: the one whose
/// key (or its last part) the message quotes first (an "unknown field `n_split`, expected one
/// of `n_splits`, ..." names the culprit before the valid keys), else all of them.
fn blame(overrides: &[Override], message: &str) -> String {
    let first_quote = |o: &Override| -> Option<usize> {
        let key = o.key();
        let last = o.path.last().map_or("", String::as_str);
        [key.as_str(), last]
            .iter()
            .flat_map(|k| [format!("`{k}`"), format!("{k:?}"), format!("{k} ")])
            .filter_map(|pattern| message.find(&pattern))
            .min()
    };
    let quoted: Vec<(usize, &Override)> = overrides
        .iter()
        .filter_map(|o| first_quote(o).map(|at| (at, o)))
        .collect();
    let chosen: Vec<&Override> = match quoted.iter().map(|(at, _)| *at).min() {
        Some(first) => quoted
            .iter()
            .filter(|(at, _)| *at == first)
            .map(|(_, o)| *o)
            .collect(),
        None => overrides.iter().collect(),
    };
    chosen
        .iter()
        .map(|o| format!("--set {}", o.text))
        .collect::<Vec<_>>()
        .join(" ")
}

/// ` (line N)` for a byte offset into the config text (empty if the offset is not in it).
fn line_suffix(text: &str, offset: usize) -> String {
    text.get(..offset)
        .map(|before| format!(" (line {})", before.matches('\n').count() + 1))
        .unwrap_or_default()
}

/// Parses config text (the entry point for a config held in memory; [`load`] reads a file);
/// `path` locates relative data paths and names the file in errors. Any text gives a config or a
/// [`TrainError::Config`] naming the file (and the line or key where there is one), never a panic.
pub fn parse(text: &str, path: &Path) -> Result<LoadedConfig, TrainError> {
    check_finite(text).map_err(|(key, offset, value)| {
        TrainError::Config(format!(
            "{}{}: {key} = {value}: must be a finite number",
            path.display(),
            line_suffix(text, offset)
        ))
    })?;
    let config: TrainConfig = toml::from_str(text).map_err(|e| {
        let message = with_suggestion(e.message());
        let location = e
            .span()
            .map(|s| line_suffix(text, s.start))
            .unwrap_or_default();
        TrainError::Config(format!("{}{location}: {message}", path.display()))
    })?;
    checked(config, path)
}

/// A config given as a TOML value (a parsed config with typed overrides written into it, as a
/// search trial applies its parameters): the same checks as [`parse`], without a text round
/// trip; `path` locates relative data paths and names the config in errors.
pub fn from_value(value: toml::Value, path: &Path) -> Result<LoadedConfig, TrainError> {
    let config: TrainConfig = value.try_into().map_err(|e: toml::de::Error| {
        TrainError::Config(format!(
            "{}: {}",
            path.display(),
            with_suggestion(e.message())
        ))
    })?;
    checked(config, path)
}

/// The checks every config passes after deserialising: the model through its family, the
/// metrics, the holdout share, trading and gates tables, the seed.
fn checked(config: TrainConfig, path: &Path) -> Result<LoadedConfig, TrainError> {
    let mut model_json = serde_json::to_value(&config.model)
        .map_err(|e| TrainError::Config(format!("{}: [model]: {e}", path.display())))?;
    // `refit_rounds` is the trainer's, not the model family's: taken out before the family
    // parses the table.
    let refit = match model_json
        .as_object_mut()
        .and_then(|m| m.remove("refit_rounds"))
    {
        Some(v) => RefitRounds::parse(&v)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?,
        None => RefitRounds::Mean,
    };
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
    // Time format, fill and custom-feature expressions are checked here, before any output
    // exists, so that a typo in an expression is a config error naming its key.
    config
        .data
        .validate()
        .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    if let Some(t) = &config.trading {
        t.validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    }
    let panel = config.data.asset_column.is_some();
    if panel && config.trading.is_some() {
        return Err(TrainError::Config(format!(
            "{}: [trading] backtests one series; a panel (data.asset_column) trades its \
             cross-section: use [portfolio] (top/bottom quantile long-short)",
            path.display()
        )));
    }
    if let Some(p) = &config.portfolio {
        if !panel {
            return Err(TrainError::Config(format!(
                "{}: [portfolio] ranks assets at each timestamp: it needs a panel (set \
                 data.asset_column); use [trading] for a single series",
                path.display()
            )));
        }
        if p.price.is_none() && config.target.kind == hone_data::TargetKind::Column {
            return Err(TrainError::Config(format!(
                "{}: portfolio.price: name the price column the positions trade (the target \
                 is a column, not a price)",
                path.display()
            )));
        }
        p.validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    }
    if let Some(g) = &config.gates {
        g.validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    }
    // Refuse a seed the model cannot take (LightGBM's is a C `int`) here, before any output
    // is written, rather than when the first fold trains.
    model
        .estimator()
        .check_seed(config.seed)
        .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    if panel && model.estimator().window_len() > 1 {
        return Err(TrainError::Config(format!(
            "{}: model.type = {:?} reads windows of one series' past rows; a panel \
             (data.asset_column) interleaves its assets' rows, which such windows do not \
             separate yet: use \"mlp\" or a tree or linear model on the panel",
            path.display(),
            model.name()
        )));
    }
    if let Some(d) = &config.distributed {
        let family = config
            .model
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        let why = if !matches!(family, "lightgbm" | "random_forest") {
            Some(format!(
                "distributed training is LightGBM's: model.type = {family:?} cannot run on a \
                 gang (use \"lightgbm\" or \"random_forest\", or remove [distributed])"
            ))
        } else if d.machines < 2 || d.machines > MAX_GANG {
            Some(format!(
                "distributed.machines = {}: a gang has 2 to {MAX_GANG} workers (remove \
                 [distributed] to train on one)",
                d.machines
            ))
        } else if d.tree_learner == "feature" {
            Some(
                "distributed.tree_learner = \"feature\": LightGBM's C API refuses \
                 feature-parallel training; use \"data\" or \"voting\""
                    .into(),
            )
        } else if !matches!(d.tree_learner.as_str(), "data" | "voting") {
            Some(format!(
                "distributed.tree_learner = {:?}: use \"data\" or \"voting\"",
                d.tree_learner
            ))
        } else if d.timeout_minutes == 0 || d.timeout_minutes > 24 * 60 {
            Some(format!(
                "distributed.timeout_minutes = {}: give 1 to 1440",
                d.timeout_minutes
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(TrainError::Config(format!("{}: {why}", path.display())));
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let data_path = if config.data.path.is_absolute() || is_object_uri(&config.data.path) {
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
        refit,
        overrides: Vec::new(),
        expect_fingerprint: None,
    })
}

/// Rejects NaN and infinite floats anywhere in the config, before the typed config sees them:
/// a NaN `impute_value` would fill missing features with NaN, and a NaN in `[model]` reached the
/// model as JSON `null` with an error blaming the model. Returns the first offender by position
/// in the text: its dotted key (`preprocess.impute_value`, `model.params.threshold`,
/// `search.space.x[1]`), its byte offset and its text.
///
/// There is no allow-list: no key gives NaN or infinity a meaning (a missing value is written by
/// leaving the key out, and no setting needs an infinite limit; a `[search]` space's bounds must
/// be finite to be sampled). Text that is not valid TOML passes here and gets the parser's own
/// error from the typed pass.
fn check_finite(text: &str) -> Result<(), (String, usize, String)> {
    use toml::de::{DeTable, DeValue};
    fn key_part(k: &str) -> String {
        let bare = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if bare {
            k.to_string()
        } else {
            format!("{k:?}")
        }
    }
    fn walk(
        value: &toml::Spanned<DeValue<'_>>,
        key: String,
        worst: &mut Option<(String, usize, String)>,
    ) {
        match value.get_ref() {
            DeValue::Float(f) => {
                let s = f.as_str();
                let finite = s
                    .replace('_', "")
                    .parse::<f64>()
                    .map_or(true, f64::is_finite);
                let start = value.span().start;
                if !finite && worst.as_ref().is_none_or(|w| start < w.1) {
                    *worst = Some((key, start, s.to_string()));
                }
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{key}[{i}]"), worst);
                }
            }
            DeValue::Table(table) => walk_table(table, &key, worst),
            _ => {}
        }
    }
    fn walk_table(table: &DeTable<'_>, prefix: &str, worst: &mut Option<(String, usize, String)>) {
        for (k, v) in table.iter() {
            let part = key_part(k.get_ref());
            let key = if prefix.is_empty() {
                part
            } else {
                format!("{prefix}.{part}")
            };
            walk(v, key, worst);
        }
    }
    let Ok(doc) = DeTable::parse(text) else {
        return Ok(());
    };
    let mut worst = None;
    walk_table(doc.get_ref(), "", &mut worst);
    worst.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refit_rounds_rules() {
        use serde_json::json;
        let folds = [52, 1, 47, 83, 7];
        assert_eq!(RefitRounds::Mean.rounds(&folds), Some(38));
        assert_eq!(RefitRounds::Median.rounds(&folds), Some(47));
        assert_eq!(RefitRounds::Median.rounds(&[1, 2, 3, 4]), Some(3));
        assert_eq!(RefitRounds::Max.rounds(&folds), Some(83));
        assert_eq!(RefitRounds::Fixed(9).rounds(&folds), Some(9));
        assert_eq!(RefitRounds::EarlyStopping.rounds(&folds), None);
        assert_eq!(RefitRounds::Mean.rounds(&[0, 0]), Some(1));
        assert_eq!(
            RefitRounds::parse(&json!("median")),
            Ok(RefitRounds::Median)
        );
        assert_eq!(RefitRounds::parse(&json!(120)), Ok(RefitRounds::Fixed(120)));
        for bad in [json!("avg"), json!(0), json!(-3), json!(1.5), json!(true)] {
            let e = RefitRounds::parse(&bad).unwrap_err();
            assert!(e.starts_with("model.refit_rounds must be"), "{e}");
        }
    }

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
    fn overrides_read_toml_values_and_bare_words() {
        let v = |arg: &str| Override::parse(arg).unwrap().value;
        assert_eq!(v("a=0.1"), toml::Value::Float(0.1));
        assert_eq!(v("a = 3"), toml::Value::Integer(3));
        assert_eq!(v("a=true"), toml::Value::Boolean(true));
        assert_eq!(v("a=[1, 5]"), toml::Value::Array(vec![1.into(), 5.into()]));
        assert_eq!(v("a=robust"), toml::Value::String("robust".into()));
        assert_eq!(v("a=\"quoted\""), toml::Value::String("quoted".into()));
        assert_eq!(v("a=data/x.csv"), toml::Value::String("data/x.csv".into()));
        // A date is no config value: kept as the text typed.
        assert_eq!(v("a=2020-01-01"), toml::Value::String("2020-01-01".into()));
        // `=` inside the value stays in it; an empty value is an empty string.
        assert_eq!(v("a=x=y"), toml::Value::String("x=y".into()));
        assert_eq!(v("a="), toml::Value::String(String::new()));
        let t = v("a={method = \"selectkbest\", k = 3}");
        assert_eq!(t["k"].as_integer(), Some(3));
        // Dotted and quoted keys.
        let o = Override::parse("search.space.\"target.horizon\".low=1").unwrap();
        assert_eq!(o.path, ["search", "space", "target.horizon", "low"]);
        assert_eq!(o.text, "search.space.\"target.horizon\".low=1");
        for bad in ["nokey", "=1", "a b=1", "a.=1", "a=inf", "a=[1, nan]"] {
            let e = Override::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--set "), "{bad}: {e}");
        }
    }

    #[test]
    fn overrides_are_checked_like_the_file_and_blamed_by_name() {
        let set = |args: &[&str]| -> Vec<Override> {
            args.iter().map(|a| Override::parse(a).unwrap()).collect()
        };
        let c = parse_with(
            BASE,
            Path::new("job.toml"),
            &set(&[
                "split.n_splits=3",
                "model.params.learning_rate=0.2",
                "name=x",
            ]),
        )
        .unwrap();
        assert_eq!(c.config.split.n_splits, Some(3));
        assert_eq!(c.name(), "x");
        assert_eq!(c.overrides.len(), 3);
        assert_eq!(c.origin("split.n_splits"), " (from --set split.n_splits=3)");
        assert_eq!(c.origin("split.gap"), "");
        let e = parse_with(
            BASE,
            Path::new("job.toml"),
            &set(&["split.n_splits=3", "split.n_split=3"]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("job.toml: --set split.n_split=3: unknown field `n_split`")
                && e.ends_with("did you mean `n_splits`?"),
            "{e}"
        );
        // The file's own mistake keeps its line, even with overrides.
        let bad = BASE.replace("time_column", "time_colum");
        let e = parse_with(&bad, Path::new("job.toml"), &set(&["seed=1"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(line 4)") && !e.contains("--set"), "{e}");
        // ... and a value that is wrong for its key is refused as in the file.
        let e = parse_with(BASE, Path::new("job.toml"), &set(&["seed=-1"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--set seed=-1"), "{e}");
    }

    #[test]
    fn a_seed_lightgbm_cannot_take_is_refused_when_the_config_is_read() {
        let text = format!("seed = 2147483648\n{BASE}");
        let e = parse(&text, Path::new("job.toml")).unwrap_err().to_string();
        assert_eq!(
            e,
            "job.toml: seed = 2147483648 is above 2147483647, the largest seed LightGBM takes"
        );
        assert!(parse(&format!("seed = 2147483647\n{BASE}"), Path::new("job.toml")).is_ok());
    }

    #[test]
    fn non_finite_floats_are_rejected_by_key_and_line() {
        let cases = [
            (
                format!("{BASE}[preprocess]\nimpute = \"constant\"\nimpute_value = nan\n"),
                "job.toml (line 11): preprocess.impute_value = nan: must be a finite number",
            ),
            (
                BASE.replace(
                    "type = \"lightgbm\"",
                    "type = \"lightgbm\"\nparams = { threshold = -inf }",
                ),
                "job.toml (line 9): model.params.threshold = -inf: must be a finite number",
            ),
            (
                format!("{BASE}[search.space.x]\nvalues = [1.0, +inf]\n"),
                "job.toml (line 10): search.space.x.values[1] = +inf: must be a finite number",
            ),
            (
                format!("\"odd key\" = 1e999\n{BASE}"),
                "job.toml (line 1): \"odd key\" = 1e999: must be a finite number",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text, Path::new("job.toml")).unwrap_err().to_string();
            assert_eq!(e, want);
        }
        // The first offender in the file is named, whatever the key order.
        let text = format!("{BASE}[trading]\nthreshold = nan\n[preprocess]\nimpute_value = nan\n");
        let e = parse(&text, Path::new("job.toml")).unwrap_err().to_string();
        assert!(e.contains("trading.threshold"), "{e}");
        // Finite floats (underscores, exponents) pass.
        let ok = format!("{BASE}[preprocess]\nimpute = \"constant\"\nimpute_value = -1_000.5e-3\n");
        let c = parse(&ok, Path::new("job.toml")).unwrap();
        assert_eq!(c.config.preprocess.impute_value, -1.0005);
    }

    #[test]
    fn data_settings_are_checked_when_the_config_is_read() {
        let with = |data: &str| BASE.replace("time_column = \"date\"\n", data);
        let ok = with("time_column = \"date\"\ntime_format = \"epoch_ms\"\nfill = \"zero\"\n");
        let c = parse(&ok, Path::new("job.toml")).unwrap();
        assert_eq!(c.config.data.time_format.as_deref(), Some("epoch_ms"));
        let cases = [
            (
                with("time_column = \"date\"\n[data.fill]\nclose = \"bfill\"\n"),
                "job.toml (line 5): data.fill.close = \"bfill\": that fills a blank from a later row",
            ),
            (
                with("time_column = \"date\"\ntime_format = \"%Y-%Q\"\n"),
                "job.toml: data.time_format = \"%Y-%Q\" is not a valid strftime pattern",
            ),
            (
                with(
                    "time_column = \"date\"\n[data.derive.custom]\nm = \"rolling_mean(close 3)\"\n",
                ),
                "job.toml: data.derive.custom.m = \"rolling_mean(close 3)\": at character 20: \
                 expected `,` and w in rolling_mean(x, w), found number 3",
            ),
            (
                with("time_column = \"date\"\nfil = \"ffill\"\n"),
                "job.toml (line 5): unknown field `fil`",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text, Path::new("job.toml")).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A config using most tables, for mutation.
        const FULL: &str = r#"
name = "p"
seed = 7
metrics = ["roc_auc", "accuracy"]
[data]
path = "prices.csv"
time_column = "date"
time_format = "%Y-%m-%d"
exclude = ["open"]
[data.fill]
close = "ffill"
volume = "zero"
[data.derive]
price = "close"
returns = [1, 5]
[data.derive.custom]
mom = "close / lag(close, 2) - 1"
[target]
kind = "direction"
horizon = 2
threshold = 0.001
[preprocess]
impute = "constant"
impute_value = 0.5
scale = "standard"
[split]
scheme = "purged_kfold"
n_splits = 4
embargo_pct = 0.01
holdout = 0.2
[model]
type = "lightgbm"
[model.params]
learning_rate = 0.05
num_leaves = 15
[trading]
cost_bps = 2.5
[search]
n_trials = 4
[search.space.learning_rate]
type = "float"
low = 0.01
high = 0.2
"#;

        /// The outcome of parsing any text: a config, or one line naming the file.
        fn check(text: &str) {
            match parse(text, Path::new("job.toml")) {
                Ok(_) => {}
                Err(TrainError::Config(m)) => {
                    assert!(m.starts_with("job.toml"), "{m}");
                }
                Err(e) => panic!("not a config error: {e}"),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1500))]

            #[test]
            fn the_full_config_parses_and_random_text_never_panics(text in "\\PC{0,200}") {
                parse(FULL, Path::new("job.toml")).unwrap();
                check(&text);
            }

            #[test]
            fn truncated_and_mutated_configs_never_panic(
                cut in any::<prop::sample::Index>(),
                edits in proptest::collection::vec(
                    (any::<prop::sample::Index>(), prop_oneof![
                        Just("nan"), Just("inf"), Just("="), Just("["), Just("]"), Just("\""),
                        Just("\n"), Just("-"), Just("1e999"), Just("."), Just("{"), Just("é"),
                    ], any::<bool>()),
                    0..4,
                ),
            ) {
                let mut text = FULL.to_string();
                for (at, piece, replace) in edits {
                    let mut i = at.index(text.len() + 1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    if replace && i < text.len() {
                        let mut end = i + 1;
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(i..end, piece);
                    } else {
                        text.insert_str(i, piece);
                    }
                }
                let mut cut = cut.index(text.len() + 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                check(&text[..cut]);
                check(&text);
            }
        }
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
