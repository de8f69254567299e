//! LightGBM (gradient-boosted trees and random forests) through its C API.
//!
//! hone drives the boosting loop itself, one `LGBM_BoosterUpdateOneIter` at a time, so that it
//! can report progress, record the validation learning curve and stop early with Python
//! LightGBM's rule (stop `early_stopping_rounds` after the best iteration, keep the trees up to
//! the best one). Parameters go to both dataset construction and booster creation, as
//! `lightgbm.train` does, so hone and Python build the same bins and the same trees. Models are
//! kept and saved in LightGBM's own text format, which `lightgbm.Booster(model_file=...)` loads.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};

use hone_validate::Task;
use lightgbm3_sys as sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::estimator::{TrainingRows, TrainingSet};
use crate::lgbm_text::{self, ModelShape};
use crate::model::FitReport;
use crate::observer::{Flow, StepReport, TrainObserver, ValidScore};
use crate::suggest::nearest;
use crate::{Matrix, ModelError};

/// LightGBM parameters hone passes through, by canonical name.
pub const KNOWN_PARAMS: &[&str] = &[
    "objective",
    "boosting",
    "num_iterations",
    "learning_rate",
    "num_leaves",
    "max_depth",
    "min_data_in_leaf",
    "min_sum_hessian_in_leaf",
    "bagging_fraction",
    "bagging_freq",
    "pos_bagging_fraction",
    "neg_bagging_fraction",
    "feature_fraction",
    "feature_fraction_bynode",
    "extra_trees",
    "lambda_l1",
    "lambda_l2",
    "linear_lambda",
    "min_gain_to_split",
    "max_delta_step",
    "path_smooth",
    "drop_rate",
    "max_drop",
    "skip_drop",
    "xgboost_dart_mode",
    "uniform_drop",
    "top_rate",
    "other_rate",
    "max_bin",
    "min_data_in_bin",
    "bin_construct_sample_cnt",
    "use_missing",
    "zero_as_missing",
    "feature_pre_filter",
    "linear_tree",
    "monotone_constraints",
    "monotone_constraints_method",
    "is_unbalance",
    "scale_pos_weight",
    "sigmoid",
    "boost_from_average",
    "alpha",
    "huber_delta",
    "fair_c",
    "tweedie_variance_power",
    "metric",
    "num_threads",
    "seed",
    "deterministic",
    "force_col_wise",
    "force_row_wise",
    "verbosity",
];

/// Common aliases (scikit-learn API names included) and their canonical LightGBM names.
pub const PARAM_ALIASES: &[(&str, &str)] = &[
    ("n_estimators", "num_iterations"),
    ("num_boost_round", "num_iterations"),
    ("num_iteration", "num_iterations"),
    ("n_iter", "num_iterations"),
    ("num_rounds", "num_iterations"),
    ("eta", "learning_rate"),
    ("shrinkage_rate", "learning_rate"),
    ("num_leaf", "num_leaves"),
    ("max_leaves", "num_leaves"),
    ("min_child_samples", "min_data_in_leaf"),
    ("min_data_per_leaf", "min_data_in_leaf"),
    ("min_child_weight", "min_sum_hessian_in_leaf"),
    ("subsample", "bagging_fraction"),
    ("sub_row", "bagging_fraction"),
    ("subsample_freq", "bagging_freq"),
    ("colsample_bytree", "feature_fraction"),
    ("sub_feature", "feature_fraction"),
    ("colsample_bynode", "feature_fraction_bynode"),
    ("extra_tree", "extra_trees"),
    ("reg_alpha", "lambda_l1"),
    ("l1_regularization", "lambda_l1"),
    ("reg_lambda", "lambda_l2"),
    ("lambda", "lambda_l2"),
    ("l2_regularization", "lambda_l2"),
    ("min_split_gain", "min_gain_to_split"),
    ("random_state", "seed"),
    ("random_seed", "seed"),
    ("n_jobs", "num_threads"),
    ("nthread", "num_threads"),
    ("boosting_type", "boosting"),
    ("boost", "boosting"),
];

/// Parameters hone sets itself and users may not override.
const RESERVED: &[&str] = &["num_class", "early_stopping_round", "early_stopping_rounds"];

const I32_MIN: i64 = i32::MIN as i64;
const I32_MAX: i64 = i32::MAX as i64;

/// What LightGBM accepts for a parameter: its `config.h` checks, with every integer within
/// `int` range. hone checks these itself, before any native call, because LightGBM's `Atoi`
/// wraps values above `i32::MAX` silently (`num_leaves = 4294967311` trains 15 leaves) and its
/// own messages name neither hone's config key nor the file.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// A whole number in `[min, max]`.
    Int(i64, i64),
    /// A finite number above `min` (or equal when `min_inclusive`), below `max` (or equal when
    /// `max_inclusive`).
    Float {
        min: f64,
        min_inclusive: bool,
        max: f64,
        max_inclusive: bool,
    },
    /// `true` or `false`.
    Bool,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Comma-separated whole numbers in `[min, max]`.
    IntList(i64, i64),
    /// A name or comma-separated names (objective, boosting, metrics), checked by LightGBM or
    /// hone elsewhere; here only its characters, so it cannot smuggle in other parameters.
    Word,
}

const fn at_least(min: f64) -> Rule {
    Rule::Float {
        min,
        min_inclusive: true,
        max: f64::INFINITY,
        max_inclusive: false,
    }
}

const fn above(min: f64) -> Rule {
    Rule::Float {
        min,
        min_inclusive: false,
        max: f64::INFINITY,
        max_inclusive: false,
    }
}

/// A fraction in (0, 1].
const FRACTION: Rule = Rule::Float {
    min: 0.0,
    min_inclusive: false,
    max: 1.0,
    max_inclusive: true,
};

/// A rate in [0, 1].
const RATE: Rule = Rule::Float {
    min: 0.0,
    min_inclusive: true,
    max: 1.0,
    max_inclusive: true,
};

/// More threads than any machine hone runs on has cores; LightGBM would try to start them all.
const MAX_THREADS: i64 = 4096;

/// The rule of a canonical parameter name (every name in [`KNOWN_PARAMS`] has one).
fn rule(canonical: &str) -> Rule {
    match canonical {
        "num_iterations" => Rule::Int(1, I32_MAX),
        "num_leaves" => Rule::Int(2, 131_072),
        "max_depth" | "max_drop" | "bagging_freq" | "seed" | "verbosity" => {
            Rule::Int(I32_MIN, I32_MAX)
        }
        "min_data_in_leaf" => Rule::Int(0, I32_MAX),
        "max_bin" => Rule::Int(2, I32_MAX),
        "min_data_in_bin" | "bin_construct_sample_cnt" => Rule::Int(1, I32_MAX),
        "num_threads" => Rule::Int(0, MAX_THREADS),
        "learning_rate" | "scale_pos_weight" | "sigmoid" | "alpha" | "huber_delta" | "fair_c" => {
            above(0.0)
        }
        "min_sum_hessian_in_leaf"
        | "lambda_l1"
        | "lambda_l2"
        | "linear_lambda"
        | "min_gain_to_split"
        | "path_smooth" => at_least(0.0),
        "max_delta_step" => at_least(f64::MIN),
        "bagging_fraction"
        | "pos_bagging_fraction"
        | "neg_bagging_fraction"
        | "feature_fraction"
        | "feature_fraction_bynode" => FRACTION,
        "drop_rate" | "skip_drop" | "top_rate" | "other_rate" => RATE,
        "tweedie_variance_power" => Rule::Float {
            min: 1.0,
            min_inclusive: true,
            max: 2.0,
            max_inclusive: false,
        },
        "monotone_constraints" => Rule::IntList(-1, 1),
        "monotone_constraints_method" => Rule::Choice(&["basic", "intermediate", "advanced"]),
        "extra_trees" | "xgboost_dart_mode" | "uniform_drop" | "use_missing"
        | "zero_as_missing" | "feature_pre_filter" | "linear_tree" | "is_unbalance"
        | "boost_from_average" | "deterministic" | "force_col_wise" | "force_row_wise" => {
            Rule::Bool
        }
        _ => Rule::Word,
    }
}

/// Checks `text` (the value as LightGBM will read it) against the parameter's rule; the error
/// names the config key the user wrote (`model.params.<key>`).
fn check_param(key: &str, canonical: &str, text: &str) -> Result<(), ModelError> {
    let bad = |what: String| {
        Err(ModelError::Config(format!(
            "model.params.{key} must be {what}, got {text}"
        )))
    };
    match rule(canonical) {
        Rule::Int(min, max) => match text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            _ => bad(format!("a whole number in [{min}, {max}]")),
        },
        Rule::Float {
            min,
            min_inclusive,
            max,
            max_inclusive,
        } => {
            let ok = text.parse::<f64>().is_ok_and(|v| {
                v.is_finite()
                    && (v > min || (min_inclusive && v == min))
                    && (v < max || (max_inclusive && v == max))
            });
            if ok {
                return Ok(());
            }
            let lower = if min == f64::MIN {
                String::new()
            } else {
                format!("{} {min}", if min_inclusive { "≥" } else { ">" })
            };
            let upper = if max.is_finite() {
                format!("{} {max}", if max_inclusive { "≤" } else { "<" })
            } else {
                String::new()
            };
            let range = [lower, upper]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" and ");
            if range.is_empty() {
                bad("a finite number".into())
            } else {
                bad(format!("a finite number {range}"))
            }
        }
        Rule::Bool => {
            if ["true", "false", "+", "-"].contains(&text.to_ascii_lowercase().as_str()) {
                Ok(())
            } else {
                bad("true or false".into())
            }
        }
        Rule::Choice(words) => {
            if words.contains(&text) {
                Ok(())
            } else {
                bad(format!("one of {}", words.join(", ")))
            }
        }
        Rule::IntList(min, max) => {
            let ok = text.split(',').all(|t| {
                t.trim()
                    .parse::<i64>()
                    .is_ok_and(|v| (min..=max).contains(&v))
            });
            if ok {
                Ok(())
            } else {
                bad(format!("a list of whole numbers in [{min}, {max}]"))
            }
        }
        Rule::Word => {
            let ok = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@,.:+-".contains(c));
            if ok {
                Ok(())
            } else {
                bad("a name (letters, digits, `_@,.:+-`, no spaces)".into())
            }
        }
    }
}

/// How to train a LightGBM model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbmSpec {
    /// `gbdt` (gradient boosting) or `rf` (random forest); `params.boosting` may also say `dart`
    /// or `goss`.
    pub boosting: String,
    /// LightGBM parameters (canonical names or aliases), passed through.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Stop when the validation metric has not improved for this many rounds.
    #[serde(default)]
    pub early_stopping_rounds: Option<usize>,
    /// Share of each training part (its latest rows) held out for early stopping.
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
}

fn default_validation_fraction() -> f64 {
    0.2
}

fn value_text(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(value_text)
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => return Err("must be a number, string, boolean or list".into()),
    })
}

impl GbmSpec {
    /// The resolved LightGBM parameter map for a task (canonical names, hone's defaults filled).
    pub fn resolved_params(
        &self,
        task: Task,
        seed: u64,
    ) -> Result<BTreeMap<String, String>, ModelError> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in &self.params {
            let canonical = PARAM_ALIASES
                .iter()
                .find(|(alias, _)| alias == key)
                .map_or(key.as_str(), |(_, c)| c);
            if RESERVED.contains(&canonical) {
                return Err(ModelError::Config(format!(
                    "model.params.{key} is set by hone (use model.early_stopping_rounds, or the target's classes)"
                )));
            }
            if !KNOWN_PARAMS.contains(&canonical) {
                let hint = nearest(
                    key,
                    KNOWN_PARAMS
                        .iter()
                        .copied()
                        .chain(PARAM_ALIASES.iter().map(|(a, _)| *a)),
                )
                .map(|s| {
                    // Suggest the canonical name even when an alias is closer.
                    let canonical = PARAM_ALIASES
                        .iter()
                        .find(|(a, _)| *a == s)
                        .map_or(s, |(_, c)| c);
                    format!("; did you mean `{canonical}`?")
                })
                .unwrap_or_default();
                return Err(ModelError::Config(format!(
                    "model.params.{key} is not a LightGBM parameter hone knows{hint}"
                )));
            }
            if out.contains_key(canonical) {
                return Err(ModelError::Config(format!(
                    "model.params sets `{canonical}` twice (through an alias)"
                )));
            }
            let text = value_text(value)
                .map_err(|m| ModelError::Config(format!("model.params.{key} {m}")))?;
            check_param(key, canonical, &text)?;
            out.insert(canonical.to_string(), text);
        }
        let boosting = out
            .entry("boosting".into())
            .or_insert_with(|| self.boosting.clone())
            .clone();
        if !["gbdt", "rf", "dart", "goss"].contains(&boosting.as_str()) {
            return Err(ModelError::Config(format!(
                "model boosting must be gbdt, rf, dart or goss, got {boosting:?}"
            )));
        }
        if boosting == "rf" {
            // LightGBM's random forest needs bagging; these are the usual RF settings.
            out.entry("bagging_freq".into())
                .or_insert_with(|| "1".into());
            out.entry("bagging_fraction".into())
                .or_insert_with(|| "0.632".into());
            out.entry("feature_fraction".into())
                .or_insert_with(|| "0.8".into());
        }
        let default_objective = match task {
            Task::Binary => "binary",
            Task::Multiclass { .. } => "multiclass",
            Task::Regression => "regression",
        };
        let objective = out
            .entry("objective".into())
            .or_insert_with(|| default_objective.into())
            .clone();
        let compatible = match task {
            Task::Binary => ["binary", "cross_entropy", "xentropy"].contains(&objective.as_str()),
            Task::Multiclass { .. } => [
                "multiclass",
                "multiclassova",
                "softmax",
                "multiclass_ova",
                "ova",
                "ovr",
            ]
            .contains(&objective.as_str()),
            Task::Regression => [
                "regression",
                "regression_l2",
                "l2",
                "mse",
                "rmse",
                "regression_l1",
                "l1",
                "mae",
                "huber",
                "fair",
                "poisson",
                "quantile",
                "mape",
                "gamma",
                "tweedie",
            ]
            .contains(&objective.as_str()),
        };
        if !compatible {
            return Err(ModelError::Config(format!(
                "model.params.objective = {objective:?} does not fit a {} task",
                task.kind()
            )));
        }
        if let Task::Multiclass { n_classes } = task {
            out.insert("num_class".into(), n_classes.to_string());
        }
        if !out.contains_key("seed") {
            // LightGBM's seed is an `int`: a larger one would wrap silently.
            if seed > I32_MAX as u64 {
                return Err(ModelError::Config(format!(
                    "seed = {seed} is above {I32_MAX}, the largest seed LightGBM takes"
                )));
            }
            out.insert("seed".into(), seed.to_string());
        }
        out.entry("deterministic".into())
            .or_insert_with(|| "true".into());
        if !out.contains_key("force_row_wise") {
            out.entry("force_col_wise".into())
                .or_insert_with(|| "true".into());
        }
        out.entry("verbosity".into()).or_insert_with(|| "-1".into());
        out.entry("num_iterations".into())
            .or_insert_with(|| "100".into());
        out.entry("num_threads".into()).or_insert_with(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string()
        });
        Ok(out)
    }
}

fn last_error() -> String {
    // SAFETY: LightGBM returns a pointer to a thread-local, NUL-terminated message.
    unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) }
        .to_string_lossy()
        .into_owned()
}

fn check(code: c_int) -> Result<(), ModelError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ModelError::LightGbm(last_error()))
    }
}

fn param_string(params: &BTreeMap<String, String>) -> Result<CString, ModelError> {
    let s = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    CString::new(s).map_err(|_| ModelError::Config("a model parameter contains a NUL byte".into()))
}

/// A row or column count as LightGBM's `int32_t`.
fn native_count(n: usize, what: &str) -> Result<i32, ModelError> {
    i32::try_from(n).map_err(|_| {
        ModelError::Data(format!(
            "{n} {what} are more than LightGBM takes ({})",
            i32::MAX
        ))
    })
}

/// An owned LightGBM dataset handle.
struct DatasetHandle(sys::DatasetHandle);

// SAFETY: a constructed LightGBM dataset is only read after construction (boosters take it
// through a const pointer), so it may be shared between threads and freed from any of them.
unsafe impl Send for DatasetHandle {}
// SAFETY: see above.
unsafe impl Sync for DatasetHandle {}

impl Drop for DatasetHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

fn make_dataset(
    x: &Matrix,
    y: &[f64],
    params: &CString,
    reference: Option<&DatasetHandle>,
    feature_names: &[String],
) -> Result<DatasetHandle, ModelError> {
    if x.n_rows() == 0 || x.n_cols() == 0 {
        return Err(ModelError::Data(
            "LightGBM needs at least one row and one feature".into(),
        ));
    }
    let mut handle = std::ptr::null_mut();
    // LightGBM bins a dataset row by row; row-major input keeps that walk cache-friendly
    // (measured: column-major input made 100k × 50 training ~10% slower than Python's).
    let (n_rows, n_cols) = (
        native_count(x.n_rows(), "rows")?,
        native_count(x.n_cols(), "features")?,
    );
    let rows = x.to_row_major();
    // SAFETY: `rows` holds n_rows × n_cols f64 values in row-major order and outlives the
    // call; LightGBM copies what it needs into its own bins.
    check(unsafe {
        sys::LGBM_DatasetCreateFromMat(
            rows.as_ptr() as *const c_void,
            sys::C_API_DTYPE_FLOAT64 as c_int,
            n_rows,
            n_cols,
            1,
            params.as_ptr(),
            reference.map_or(std::ptr::null_mut(), |r| r.0),
            &mut handle,
        )
    })?;
    let ds = DatasetHandle(handle);
    let labels: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let field = c"label";
    // SAFETY: `labels` has n_rows f32 values; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetSetField(
            ds.0,
            field.as_ptr(),
            labels.as_ptr() as *const c_void,
            n_rows,
            sys::C_API_DTYPE_FLOAT32 as c_int,
        )
    })?;
    if !feature_names.is_empty() {
        // Sanitized names hold no NUL, so `CString::new` cannot fail; map it anyway.
        let names: Vec<CString> = feature_names
            .iter()
            .map(|n| CString::new(sanitize_feature_name(n)))
            .collect::<Result<_, _>>()
            .map_err(|_| ModelError::Data("a feature name contains a NUL byte".into()))?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: one valid C string per feature, alive for the call.
        check(unsafe { sys::LGBM_DatasetSetFeatureNames(ds.0, ptrs.as_mut_ptr(), n_cols) })?;
    }
    Ok(ds)
}

/// LightGBM refuses some characters in feature names; they become `_`.
pub fn sanitize_feature_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An owned LightGBM booster handle.
struct BoosterHandle(sys::BoosterHandle);

// SAFETY: LightGBM boosters may be used from any thread; prediction is internally synchronised
// and hone never mutates a shared booster.
unsafe impl Send for BoosterHandle {}
// SAFETY: see above.
unsafe impl Sync for BoosterHandle {}

impl Drop for BoosterHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from LightGBM and is freed once.
        unsafe { sys::LGBM_BoosterFree(self.0) };
    }
}

/// In-sample predictions from a booster's own scores: `(fitting rows, early-stopping slice)`.
pub type InSampleScores = (Vec<f64>, Vec<f64>);

impl BoosterHandle {
    /// The current predictions for the booster's data set `data_idx` (0: training data, 1:
    /// the first validation set), transformed as prediction transforms them, row-major with
    /// `n_outputs` values per row (LightGBM keeps them class by class).
    fn scores_at(&self, data_idx: c_int, n_outputs: usize) -> Result<Vec<f64>, ModelError> {
        let mut len: i64 = 0;
        // SAFETY: live booster, plain out-parameter.
        check(unsafe { sys::LGBM_BoosterGetNumPredict(self.0, data_idx, &mut len) })?;
        let n = usize::try_from(len)
            .map_err(|_| ModelError::LightGbm(format!("{len} scores announced")))?;
        let mut out = vec![0.0; n];
        let mut written: i64 = 0;
        // SAFETY: `out` holds the `len` values LightGBM announced for this data set.
        check(unsafe {
            sys::LGBM_BoosterGetPredict(self.0, data_idx, &mut written, out.as_mut_ptr())
        })?;
        if written != len || n_outputs == 0 || n % n_outputs != 0 {
            return Err(ModelError::LightGbm(format!(
                "{written} scores for {len} announced, {n_outputs} per row"
            )));
        }
        if n_outputs == 1 {
            return Ok(out);
        }
        let rows = n / n_outputs;
        let mut row_major = vec![0.0; n];
        for k in 0..n_outputs {
            for i in 0..rows {
                row_major[i * n_outputs + k] = out[k * rows + i];
            }
        }
        Ok(row_major)
    }

    fn eval(&self, data_idx: c_int, n: usize) -> Result<Vec<f64>, ModelError> {
        let mut out = vec![0.0; n];
        let mut len = 0;
        // SAFETY: `out` has room for every metric LightGBM reports.
        check(unsafe { sys::LGBM_BoosterGetEval(self.0, data_idx, &mut len, out.as_mut_ptr()) })?;
        if len < 0 || len as usize > n {
            return Err(ModelError::LightGbm(format!(
                "{len} evaluation values where {n} metrics were announced"
            )));
        }
        out.truncate(len as usize);
        Ok(out)
    }

    fn eval_names(&self) -> Result<Vec<String>, ModelError> {
        let mut count = 0;
        // SAFETY: plain out-parameter.
        check(unsafe { sys::LGBM_BoosterGetEvalCounts(self.0, &mut count) })?;
        let n = usize::try_from(count).unwrap_or(0);
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut size = 256;
        loop {
            let mut buffers = vec![vec![0u8; size]; n];
            let mut ptrs: Vec<*mut c_char> = buffers
                .iter_mut()
                .map(|b| b.as_mut_ptr() as *mut c_char)
                .collect();
            let (mut out_len, mut needed) = (0, 0usize);
            // SAFETY: n buffers of `size` bytes each; LightGBM writes at most `size` per name.
            check(unsafe {
                sys::LGBM_BoosterGetEvalNames(
                    self.0,
                    count,
                    &mut out_len,
                    size,
                    &mut needed,
                    ptrs.as_mut_ptr(),
                )
            })?;
            if needed > size {
                // A name was cut: ask again with room for the longest.
                size = needed;
                continue;
            }
            return Ok(buffers
                .iter()
                .take(usize::try_from(out_len).unwrap_or(0))
                .map(|b| {
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    String::from_utf8_lossy(&b[..end]).into_owned()
                })
                .collect());
        }
    }

    fn save_string(&self, num_iteration: c_int) -> Result<String, ModelError> {
        let mut len: i64 = 0;
        // SAFETY: first call asks for the length only (buffer_len 0).
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.0,
                0,
                num_iteration,
                0,
                0,
                &mut len,
                std::ptr::null_mut(),
            )
        })?;
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        // SAFETY: `buf` has the length LightGBM asked for.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.0,
                0,
                num_iteration,
                0,
                buf.len() as i64,
                &mut len,
                buf.as_mut_ptr() as *mut c_char,
            )
        })?;
        let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    /// Loads a model text, which must pass [`lgbm_text::validate`] first: LightGBM's parser
    /// crashes or hangs on malformed text instead of failing.
    fn from_string(text: &str) -> Result<(Self, ModelShape), ModelError> {
        let shape = lgbm_text::validate(text)
            .map_err(|e| ModelError::Data(format!("not a valid LightGBM model: {e}")))?;
        let c = CString::new(text)
            .map_err(|_| ModelError::Data("not a valid LightGBM model: it contains NUL".into()))?;
        let (mut handle, mut iters) = (std::ptr::null_mut(), 0);
        // SAFETY: `c` is a valid C string for the call, and validated model text.
        check(unsafe {
            sys::LGBM_BoosterLoadModelFromString(c.as_ptr(), &mut iters, &mut handle)
        })?;
        let booster = Self(handle);
        // What LightGBM loaded must be what the text check saw (output buffers are sized by it).
        let (mut features, mut classes) = (0, 0);
        // SAFETY: live booster, plain out-parameters.
        check(unsafe { sys::LGBM_BoosterGetNumFeature(booster.0, &mut features) })?;
        // SAFETY: as above.
        check(unsafe { sys::LGBM_BoosterGetNumClasses(booster.0, &mut classes) })?;
        if usize::try_from(features).ok() != Some(shape.n_features)
            || usize::try_from(classes).ok() != Some(shape.num_class)
        {
            return Err(ModelError::LightGbm(format!(
                "loaded {features} features and {classes} classes, the text says {} and {}",
                shape.n_features, shape.num_class
            )));
        }
        Ok((booster, shape))
    }
}

/// A trained LightGBM model: its text (the standard model file) and a loaded booster.
#[derive(Serialize, Deserialize)]
pub struct GbmModel {
    /// Number of input features.
    pub n_features: usize,
    /// Fitting information.
    pub info: FitReport,
    /// The resolved parameters it was trained with.
    pub params: BTreeMap<String, String>,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    booster: Option<BoosterHandle>,
    #[serde(skip)]
    shape: Option<ModelShape>,
}

impl std::fmt::Debug for GbmModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbmModel")
            .field("n_features", &self.n_features)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Clone for GbmModel {
    fn clone(&self) -> Self {
        let booster = BoosterHandle::from_string(&self.text).ok().map(|(b, _)| b);
        Self {
            n_features: self.n_features,
            info: self.info.clone(),
            params: self.params.clone(),
            text: self.text.clone(),
            booster,
            shape: self.shape.clone(),
        }
    }
}

fn higher_is_better(metric: &str) -> bool {
    let m = metric.split('@').next().unwrap_or(metric);
    ["auc", "average_precision", "ndcg", "map", "auc_mu"].contains(&m)
}

/// Parameters that only steer boosting: LightGBM's dataset construction (binning, feature
/// filtering, bundling) reads none of them, so datasets binned once serve every value of them.
/// Everything else (`max_bin`, `min_data_in_bin`, `seed`, `objective`, `linear_tree`, ... and
/// any parameter not listed) is part of a binned dataset's key. `min_data_in_leaf` and
/// `feature_pre_filter` are handled apart (see [`BinnedCache`]).
const BOOSTING_ONLY: &[&str] = &[
    "num_iterations",
    "learning_rate",
    "num_leaves",
    "max_depth",
    "min_sum_hessian_in_leaf",
    "bagging_fraction",
    "bagging_freq",
    "pos_bagging_fraction",
    "neg_bagging_fraction",
    "feature_fraction",
    "feature_fraction_bynode",
    "extra_trees",
    "lambda_l1",
    "lambda_l2",
    "linear_lambda",
    "min_gain_to_split",
    "max_delta_step",
    "path_smooth",
    "drop_rate",
    "max_drop",
    "skip_drop",
    "xgboost_dart_mode",
    "uniform_drop",
    "top_rate",
    "other_rate",
    "monotone_constraints",
    "monotone_constraints_method",
    "is_unbalance",
    "scale_pos_weight",
    "sigmoid",
    "boost_from_average",
    "alpha",
    "huber_delta",
    "fair_c",
    "tweedie_variance_power",
    "metric",
    "num_threads",
    "deterministic",
    "force_col_wise",
    "force_row_wise",
    "verbosity",
    "boosting",
];

/// LightGBM's binned form of one training set: the fitting rows, and the early-stopping slice
/// binned with the fitting rows' bin edges (a validation set never bins itself). Built by
/// [`GbmSpec::bin`]; any number of boosters may train on it, at once or one after another.
pub struct BinnedData {
    train: DatasetHandle,
    valid: Option<DatasetHandle>,
    n_features: usize,
    /// Per input feature: LightGBM kept it (a constant feature, or one that
    /// `feature_pre_filter` found no split for under `min_data_in_leaf`, is dropped).
    used: Vec<bool>,
    /// Estimated memory held, bytes.
    bytes: usize,
}

impl std::fmt::Debug for BinnedData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinnedData")
            .field("n_features", &self.n_features)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// A memory budget shared by the caches of one search: what a cache may keep, in bytes. A
/// dataset that does not fit is built for its fit and dropped, as without a cache.
#[derive(Debug)]
pub struct CacheBudget {
    limit: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl CacheBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Takes `bytes` from the budget if they fit.
    pub fn take(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(bytes).filter(|&t| t <= self.limit)
            })
            .is_ok()
    }

    /// Bytes held.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One training set's binned datasets, built on first use and shared by every later fit whose
/// dataset parameters match: the trials of a study on one CV fold bin it once instead of once
/// per trial.
///
/// `min_data_in_leaf` is usually searched, and with LightGBM's default `feature_pre_filter` it
/// decides which features a dataset drops (those with no split leaving that many rows on each
/// side). The cache keeps one dataset built without the filter (`base`) and, per key, the
/// largest `min_data_in_leaf` found to drop nothing: the filter is monotone in
/// `min_data_in_leaf`, so every smaller value drops nothing either and its filtered dataset
/// equals `base`. A value that does drop features gets its own filtered dataset. Either way a
/// fit sees exactly the dataset it would have built itself.
#[derive(Debug, Default)]
pub struct BinnedCache {
    entries: Mutex<Vec<BinnedEntry>>,
}

#[derive(Debug)]
struct BinnedEntry {
    key: String,
    base: Arc<BinnedData>,
    clean_upto: i64,
    filtered: Vec<(i64, Arc<BinnedData>)>,
}

impl BinnedCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The binned data `spec` trains on, from the cache or built from `source()` (called at
    /// most once per miss; only the fitting rows and the early-stopping slice, never test rows).
    /// `layout` names how `source` cuts the rows (the early-stopping slice): part of the key.
    pub fn get(
        &self,
        spec: &GbmSpec,
        task: Task,
        seed: u64,
        layout: &str,
        budget: &CacheBudget,
        source: &dyn Fn() -> Result<TrainingRows, ModelError>,
    ) -> Result<Arc<BinnedData>, ModelError> {
        let (key, pre_filter, min_leaf) = spec.dataset_key(task, seed)?;
        let key = format!("{layout} {key}");
        let build = |filter: Option<bool>| -> Result<BinnedData, ModelError> {
            let (x, y, valid, names) = source()?;
            spec.bin(
                &TrainingSet {
                    label_gap: 0,
                    x: &x,
                    y: &y,
                    valid: valid.as_ref().map(|(vx, vy)| (vx, vy.as_slice())),
                    task,
                    seed,
                    feature_names: &names,
                    sequence: None,
                },
                filter,
            )
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let position = match entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                let base = build(Some(false))?;
                if !budget.take(base.bytes) {
                    drop(entries);
                    return build(None).map(Arc::new);
                }
                entries.push(BinnedEntry {
                    key,
                    base: Arc::new(base),
                    clean_upto: i64::MIN,
                    filtered: Vec::new(),
                });
                entries.len() - 1
            }
        };
        let entry = &mut entries[position];
        if !pre_filter || min_leaf <= entry.clean_upto {
            return Ok(entry.base.clone());
        }
        if let Some((_, d)) = entry.filtered.iter().find(|(m, _)| *m == min_leaf) {
            return Ok(d.clone());
        }
        let filtered = build(None)?;
        if filtered.used == entry.base.used {
            entry.clean_upto = entry.clean_upto.max(min_leaf);
            return Ok(entry.base.clone());
        }
        let filtered = Arc::new(filtered);
        if budget.take(filtered.bytes) {
            entry.filtered.push((min_leaf, filtered.clone()));
        }
        Ok(filtered)
    }
}

/// This process's place in a LightGBM gang (distributed training): its rank and every
/// member's `host:port`, by rank. Set once per process by [`join_gang`]; from then on every
/// LightGBM fit of the process trains together with the other members (they must run the
/// same fits in the same order: the same job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gang {
    /// This member's rank (0-based).
    pub rank: usize,
    /// Every member's `host:port`, by rank.
    pub machines: Vec<String>,
    /// LightGBM's `tree_learner`: `data` or `voting` (`feature` is refused by LightGBM's C
    /// API).
    pub tree_learner: String,
    /// Minutes a member waits for the others to connect (LightGBM's `time_out`).
    pub timeout_minutes: i32,
}

impl Gang {
    /// This member's block of `n` fitting rows: contiguous, sizes differing by at most one.
    pub fn block(&self, n: usize) -> Vec<usize> {
        let k = self.machines.len().max(1);
        let start = n * self.rank / k;
        let end = n * (self.rank + 1) / k;
        (start..end).collect()
    }
}

static GANG: std::sync::OnceLock<Gang> = std::sync::OnceLock::new();

/// The gang this process joined, if any.
pub fn gang() -> Option<&'static Gang> {
    GANG.get()
}

/// Joins a LightGBM gang: opens LightGBM's network (`LGBM_NetworkInit`: listens on this
/// member's port and connects to the others, waiting up to `timeout_minutes` for them) and
/// makes every later fit of this process a distributed one. Once per process.
pub fn join_gang(g: Gang) -> Result<(), ModelError> {
    if GANG.get().is_some() {
        return Err(ModelError::Config(
            "this process already joined a gang".into(),
        ));
    }
    if !matches!(g.tree_learner.as_str(), "data" | "voting") {
        return Err(ModelError::Config(format!(
            "distributed.tree_learner = {:?}: use \"data\" or \"voting\" (LightGBM's C API \
             refuses feature-parallel training)",
            g.tree_learner
        )));
    }
    let me = g.machines.get(g.rank).ok_or_else(|| {
        ModelError::Config(format!("rank {} of a gang of {}", g.rank, g.machines.len()))
    })?;
    let port: c_int = me
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| ModelError::Config(format!("gang member address {me:?} has no port")))?;
    let machines = CString::new(g.machines.join(","))
        .map_err(|_| ModelError::Config("gang addresses contain a NUL byte".into()))?;
    let n = native_count(g.machines.len(), "machines")?;
    // SAFETY: a valid C string; LightGBM copies what it needs. Called once per process.
    check(unsafe { sys::LGBM_NetworkInit(machines.as_ptr(), port, g.timeout_minutes, n) })?;
    GANG.set(g)
        .map_err(|_| ModelError::Config("this process already joined a gang".into()))
}

/// LightGBM's distributed parameters for a gang member's datasets and boosters.
fn add_gang_params(g: &Gang, params: &mut BTreeMap<String, String>) {
    params.insert("tree_learner".into(), g.tree_learner.clone());
    params.insert("num_machines".into(), g.machines.len().to_string());
    params.insert("pre_partition".into(), "true".into());
}

impl GbmSpec {
    /// The parameters that shape a binned dataset, as one key (see [`BOOSTING_ONLY`]);
    /// `min_data_in_leaf` and `feature_pre_filter` are left out and returned apart, as
    /// `(key, pre_filter, min_data_in_leaf)`.
    pub fn dataset_key(&self, task: Task, seed: u64) -> Result<(String, bool, i64), ModelError> {
        let params = self.resolved_params(task, seed)?;
        let pre_filter = params
            .get("feature_pre_filter")
            .is_none_or(|v| v == "true" || v == "1");
        let min_data_in_leaf = params
            .get("min_data_in_leaf")
            .map_or(Ok(20), |v| v.parse::<i64>())
            .map_err(|_| {
                ModelError::Config("model.params.min_data_in_leaf must be a whole number".into())
            })?;
        let key = params
            .iter()
            .filter(|(k, _)| {
                !BOOSTING_ONLY.contains(&k.as_str())
                    && k.as_str() != "min_data_in_leaf"
                    && k.as_str() != "feature_pre_filter"
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        Ok((key, pre_filter, min_data_in_leaf))
    }

    /// Bins `(x, y)` and, when given, the early-stopping slice `valid` (with `x`'s bin edges)
    /// for this spec's parameters. `pre_filter: Some(false)` builds without LightGBM's
    /// `feature_pre_filter` whatever the parameters say: the dataset then keeps every
    /// non-constant feature, which equals the filtered one whenever the filter drops nothing
    /// ([`BinnedCache`] relies on it).
    pub fn bin(
        &self,
        data: &TrainingSet<'_>,
        pre_filter: Option<bool>,
    ) -> Result<BinnedData, ModelError> {
        let TrainingSet {
            x,
            y,
            valid,
            task,
            seed,
            feature_names,
            ..
        } = *data;
        let mut params = self.resolved_params(task, seed)?;
        if let Some(f) = pre_filter {
            params.insert("feature_pre_filter".into(), f.to_string());
        }
        // A gang member bins and trains on its own block of the fitting rows; the bin edges
        // are agreed over the network while the dataset is built. The early-stopping slice is
        // whole on every member, so all members score the same model on the same rows and
        // stop at the same round.
        let part = gang().map(|g| {
            add_gang_params(g, &mut params);
            let rows = g.block(x.n_rows());
            (
                x.select_rows(&rows),
                rows.iter().map(|&i| y[i]).collect::<Vec<f64>>(),
            )
        });
        let (x, y) = match &part {
            Some((px, py)) => (px, py.as_slice()),
            None => (x, y),
        };
        let cparams = param_string(&params)?;
        let n_valid = valid.map_or(0, |(vx, _)| vx.n_rows());
        let train = make_dataset(x, y, &cparams, None, feature_names)?;
        let valid = valid
            .map(|(vx, vy)| make_dataset(vx, vy, &cparams, Some(&train), feature_names))
            .transpose()?;
        let mut used = Vec::with_capacity(x.n_cols());
        for j in 0..x.n_cols() {
            let mut bins = 0;
            // SAFETY: live dataset, j < its number of features.
            check(unsafe {
                sys::LGBM_DatasetGetFeatureNumBin(train.0, native_count(j, "features")?, &mut bins)
            })?;
            used.push(bins > 0);
        }
        let max_bin: usize = params
            .get("max_bin")
            .and_then(|v| v.parse().ok())
            .unwrap_or(255);
        let per_cell = if max_bin > 255 { 2 } else { 1 };
        let rows = x.n_rows() + n_valid;
        let linear = params
            .get("linear_tree")
            .is_some_and(|v| v == "true" || v == "1");
        let bytes = rows * x.n_cols() * (per_cell + if linear { 4 } else { 0 }) + 4096;
        Ok(BinnedData {
            train,
            valid,
            n_features: x.n_cols(),
            used,
            bytes,
        })
    }

    /// Trains on `data`; its early-stopping slice (if any) drives early stopping and the
    /// learning curve.
    pub fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
    ) -> Result<GbmModel, ModelError> {
        let binned = self.bin(data, None)?;
        self.fit_binned(&binned, data.task, data.seed, observer)
    }

    /// Trains on binned data from [`GbmSpec::bin`] (built for this spec's dataset parameters:
    /// only [`BOOSTING_ONLY`] parameters, `min_data_in_leaf` and `feature_pre_filter` may
    /// differ). The same data gives the same model as [`GbmSpec::fit`] on the matrices it was
    /// binned from.
    pub fn fit_binned(
        &self,
        data: &BinnedData,
        task: Task,
        seed: u64,
        observer: &mut dyn TrainObserver,
    ) -> Result<GbmModel, ModelError> {
        self.fit_binned_scored(data, task, seed, observer, false)
            .map(|(model, _)| model)
    }

    /// [`GbmSpec::fit_binned`], and with `want_scores` the model's in-sample predictions
    /// as LightGBM's own training scores: `(fitting rows, early-stopping slice)`, each
    /// [`GbmModel::predict`]'s values for those rows. The booster updates these scores as it
    /// adds each tree, in the order prediction sums the trees, so they equal a prediction of the
    /// kept model without running one; under early stopping they are copied at every new best
    /// round. `None` where that equality does not hold by construction (`rf` and `dart` rescale
    /// scores, linear trees), or when `want_scores` is false: predict instead.
    pub fn fit_binned_scored(
        &self,
        data: &BinnedData,
        task: Task,
        seed: u64,
        observer: &mut dyn TrainObserver,
        want_scores: bool,
    ) -> Result<(GbmModel, Option<InSampleScores>), ModelError> {
        let mut params = self.resolved_params(task, seed)?;
        let member = gang();
        if let Some(g) = member {
            add_gang_params(g, &mut params);
        }
        // A gang member's training scores cover its own rows only: callers predict instead.
        let exact_scores = want_scores
            && member.is_none()
            && matches!(
                params.get("boosting").map(String::as_str),
                Some("gbdt" | "goss")
            )
            && !params
                .get("linear_tree")
                .is_some_and(|v| v == "true" || v == "1");
        let n_outputs = task.n_outputs();
        let iterations = params.get("num_iterations").map_or("", String::as_str);
        let rounds: usize = iterations.parse().map_err(|_| {
            ModelError::Config(format!(
                "model.params.num_iterations must be a whole number, got {iterations}"
            ))
        })?;
        let cparams = param_string(&params)?;
        let train = &data.train;
        let valid_ds = data.valid.as_ref();
        let mut handle = std::ptr::null_mut();
        // SAFETY: `train` is a live dataset; the parameters are a valid C string. LightGBM
        // reads the dataset through a const pointer: boosters may share it.
        check(unsafe { sys::LGBM_BoosterCreate(train.0, cparams.as_ptr(), &mut handle) })?;
        let booster = BoosterHandle(handle);
        if let Some(v) = valid_ds {
            // SAFETY: both handles are live; the dataset outlives the booster's use of it.
            check(unsafe { sys::LGBM_BoosterAddValidData(booster.0, v.0) })?;
        }
        let names = if valid_ds.is_some() {
            booster.eval_names()?
        } else {
            Vec::new()
        };
        let metric = names.first().cloned();
        let maximize = metric.as_deref().is_some_and(higher_is_better);
        let mut info = FitReport {
            valid_metric: metric.clone(),
            ..Default::default()
        };
        let mut best: Option<(usize, f64)> = None;
        let mut scores: Option<InSampleScores> = None;
        for round in 1..=rounds {
            let mut finished = 0;
            // SAFETY: live booster handle.
            check(unsafe { sys::LGBM_BoosterUpdateOneIter(booster.0, &mut finished) })?;
            info.iterations_run = round;
            let score = if metric.is_some() {
                booster.eval(1, names.len())?.first().copied()
            } else {
                None
            };
            if let Some(s) = score {
                info.valid_curve.push(s);
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        if maximize {
                            s > b
                        } else {
                            s < b
                        }
                    }
                };
                if better {
                    best = Some((round, s));
                    if exact_scores && self.early_stopping_rounds.is_some() {
                        scores = Some((
                            booster.scores_at(0, n_outputs)?,
                            booster.scores_at(1, n_outputs)?,
                        ));
                    }
                }
            }
            let go_on = observer.on_step(&StepReport {
                step: round,
                total: rounds,
                valid: score.map(|value| ValidScore {
                    value,
                    higher_is_better: maximize,
                }),
                epoch: None,
            }) == Flow::Continue;
            if finished != 0 || !go_on {
                break;
            }
            if let (Some(patience), Some((best_round, _))) = (self.early_stopping_rounds, best)
                && round - best_round >= patience
            {
                break;
            }
        }
        let keep = match (self.early_stopping_rounds, best) {
            (Some(_), Some((r, _))) => r,
            _ => info.iterations_run,
        };
        info.best_iteration = keep;
        if exact_scores && (self.early_stopping_rounds.is_none() || best.is_none()) {
            // Every round is kept: the scores now are the kept model's.
            let valid = if data.valid.is_some() {
                booster.scores_at(1, n_outputs)?
            } else {
                Vec::new()
            };
            scores = Some((booster.scores_at(0, n_outputs)?, valid));
        }
        let text = booster.save_string(native_count(keep, "rounds")?)?;
        drop(booster);
        let model = GbmModel::from_text(text, data.n_features, info, params)?;
        Ok((model, scores))
    }
}

impl GbmModel {
    /// Loads a model from LightGBM's text format.
    /// The text is checked with [`lgbm_text::validate`] first, and must be a model of
    /// `n_features` inputs.
    pub fn from_text(
        text: String,
        n_features: usize,
        info: FitReport,
        params: BTreeMap<String, String>,
    ) -> Result<Self, ModelError> {
        let mut model = Self {
            n_features,
            info,
            params,
            text: String::new(),
            booster: None,
            shape: None,
        };
        model.attach_text(text)?;
        Ok(model)
    }

    /// Restores the booster after deserialising the metadata. The text is checked with
    /// [`lgbm_text::validate`] first, and must be a model of `n_features` inputs: prediction
    /// and importance buffers are sized by them.
    pub fn attach_text(&mut self, text: String) -> Result<(), ModelError> {
        let (booster, shape) = BoosterHandle::from_string(&text)?;
        if shape.n_features != self.n_features {
            return Err(ModelError::Data(format!(
                "the LightGBM model has {} features, the pipeline says {}",
                shape.n_features, self.n_features
            )));
        }
        self.text = text;
        self.booster = Some(booster);
        self.shape = Some(shape);
        Ok(())
    }

    /// The `num_threads` prediction runs with: the trained value, which a loaded
    /// `pipeline.json` may have garbled (it goes into LightGBM's parameter text).
    pub fn predict_threads(&self) -> Result<i64, ModelError> {
        match self.params.get("num_threads") {
            None => Ok(0),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=MAX_THREADS).contains(n))
                .ok_or_else(|| {
                    ModelError::Data(format!(
                        "num_threads must be a whole number in [0, {MAX_THREADS}], got {t:?}"
                    ))
                }),
        }
    }

    /// Outputs per row of the loaded model (1, or the number of classes), once text is attached.
    pub fn num_class(&self) -> Option<usize> {
        self.shape.as_ref().map(|s| s.num_class)
    }

    /// The model in LightGBM's text format (what `model.txt` holds).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn booster(&self) -> Result<&BoosterHandle, ModelError> {
        self.booster
            .as_ref()
            .ok_or_else(|| ModelError::Data("LightGBM model text was not loaded".into()))
    }

    /// Predictions: values (regression), P(class 1) (binary) or class probabilities row-major.
    pub fn predict(&self, x: &Matrix, n_outputs: usize) -> Result<Vec<f64>, ModelError> {
        self.predict_values(x.as_col_major(), x.n_rows(), x.n_cols(), false, n_outputs)
    }

    /// [`GbmModel::predict`] on `n_rows` rows stored row by row (`rows[i * n_cols + j]`): the
    /// same values, faster for LightGBM, which walks its trees one row at a time.
    pub fn predict_row_major(
        &self,
        rows: &[f64],
        n_rows: usize,
        n_cols: usize,
        n_outputs: usize,
    ) -> Result<Vec<f64>, ModelError> {
        self.predict_values(rows, n_rows, n_cols, true, n_outputs)
    }

    fn predict_values(
        &self,
        values: &[f64],
        x_rows: usize,
        x_cols: usize,
        row_major: bool,
        n_outputs: usize,
    ) -> Result<Vec<f64>, ModelError> {
        if x_cols != self.n_features {
            return Err(ModelError::Data(format!(
                "the model expects {} features, got {}",
                self.n_features, x_cols
            )));
        }
        if x_rows.checked_mul(x_cols) != Some(values.len()) {
            return Err(ModelError::Data(format!(
                "{} values are not {x_rows} rows of {x_cols}",
                values.len()
            )));
        }
        if x_rows == 0 {
            return Ok(Vec::new());
        }
        let threads = self.predict_threads()?;
        let p = CString::new(format!("num_threads={threads}"))
            .map_err(|_| ModelError::Config("num_threads contains a NUL byte".into()))?;
        let booster = self.booster()?;
        let (n_rows, n_cols) = (
            native_count(x_rows, "rows")?,
            native_count(x_cols, "features")?,
        );
        // LightGBM writes as many values as it computes here: the buffer must hold exactly that.
        let mut needed: i64 = 0;
        // SAFETY: live booster, plain out-parameter.
        check(unsafe {
            sys::LGBM_BoosterCalcNumPredict(
                booster.0,
                n_rows,
                sys::C_API_PREDICT_NORMAL as c_int,
                0,
                -1,
                &mut needed,
            )
        })?;
        let want = x_rows.checked_mul(n_outputs);
        if want.is_none() || usize::try_from(needed).ok() != want {
            return Err(ModelError::Data(format!(
                "the LightGBM model gives {needed} values for {} rows, expected {n_outputs} per row",
                x_rows
            )));
        }
        let mut out = vec![0.0; x_rows * n_outputs];
        let mut len: i64 = 0;
        // SAFETY: n_rows × n_cols f64 input in the stated layout; `out` holds the n_rows × n_outputs
        // values LightGBM said it writes.
        check(unsafe {
            sys::LGBM_BoosterPredictForMat(
                booster.0,
                values.as_ptr() as *const c_void,
                sys::C_API_DTYPE_FLOAT64 as c_int,
                n_rows,
                n_cols,
                c_int::from(row_major),
                sys::C_API_PREDICT_NORMAL as c_int,
                0,
                -1,
                p.as_ptr(),
                &mut len,
                out.as_mut_ptr(),
            )
        })?;
        if len as usize != out.len() {
            return Err(ModelError::LightGbm(format!(
                "prediction returned {len} values, expected {}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Feature importances: `gain` (total split gain) or `split` (number of splits).
    pub fn importances(&self, gain: bool) -> Result<Vec<f64>, ModelError> {
        let booster = self.booster()?;
        // attach_text checked that the model has n_features features: LightGBM writes that many.
        let mut out = vec![0.0; self.n_features];
        let kind = if gain {
            sys::C_API_FEATURE_IMPORTANCE_GAIN
        } else {
            sys::C_API_FEATURE_IMPORTANCE_SPLIT
        };
        // SAFETY: `out` holds one value per feature.
        check(unsafe {
            sys::LGBM_BoosterFeatureImportance(booster.0, -1, kind as c_int, out.as_mut_ptr())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(params: &[(&str, Value)]) -> GbmSpec {
        GbmSpec {
            boosting: "gbdt".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            early_stopping_rounds: None,
            validation_fraction: 0.2,
        }
    }

    #[test]
    fn params_resolve_aliases_and_reject_typos() {
        let p = spec(&[("n_estimators", 50.into()), ("subsample", 0.8.into())])
            .resolved_params(Task::Multiclass { n_classes: 3 }, 7)
            .unwrap();
        assert_eq!(p["num_iterations"], "50");
        assert_eq!(p["bagging_fraction"], "0.8");
        assert_eq!(p["num_class"], "3");
        assert_eq!(p["objective"], "multiclass");
        assert_eq!(p["seed"], "7");
        let e = spec(&[("lerning_rate", 0.1.into())])
            .resolved_params(Task::Binary, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `learning_rate`?"), "{e}");
        let e = spec(&[("objective", "binary".into())])
            .resolved_params(Task::Regression, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fit a regression task"), "{e}");
        let rf = GbmSpec {
            boosting: "rf".into(),
            ..spec(&[])
        }
        .resolved_params(Task::Binary, 0)
        .unwrap();
        assert_eq!(rf["boosting"], "rf");
        assert_eq!(rf["bagging_freq"], "1");
    }

    fn param_error(key: &str, value: Value) -> String {
        spec(&[(key, value)])
            .resolved_params(Task::Regression, 0)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn native_parameters_are_range_checked_naming_the_key() {
        for (key, value, want) in [
            ("num_leaves", json!(4294967311u64), "[2, 131072]"),
            ("max_leaves", json!(1), "model.params.max_leaves"),
            (
                "num_iterations",
                json!(i64::MAX),
                "model.params.num_iterations",
            ),
            ("num_iterations", json!(0), "[1, 2147483647]"),
            ("n_estimators", json!(u64::MAX), "model.params.n_estimators"),
            ("max_depth", json!(1u64 << 32), "model.params.max_depth"),
            ("num_leaves", json!(31.5), "whole number"),
            ("learning_rate", json!(0.0), "> 0"),
            ("learning_rate", json!("nan"), "finite"),
            (
                "subsample",
                json!(1.5),
                "model.params.subsample must be a finite number > 0 and ≤ 1",
            ),
            ("lambda_l1", json!(-0.1), "≥ 0"),
            ("tweedie_variance_power", json!(2.0), "< 2"),
            ("extra_trees", json!("yes"), "true or false"),
            ("monotone_constraints", json!([1, 2]), "[-1, 1]"),
            ("monotone_constraints_method", json!("fast"), "basic"),
            ("num_threads", json!(1_000_000), "[0, 4096]"),
            ("metric", json!("l2 num_leaves=3"), "no spaces"),
            ("objective", json!("regression\u{0}"), "no spaces"),
        ] {
            let e = param_error(key, value.clone());
            assert!(e.contains(want), "{key} = {value}: {e}");
            assert!(e.starts_with(&format!("model.params.{key} ")), "{e}");
        }
        let e = spec(&[])
            .resolved_params(Task::Regression, 1 << 31)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("seed = 2147483648"), "{e}");
        // LightGBM's own limits are accepted.
        let p = spec(&[
            ("num_leaves", json!(131072)),
            ("max_depth", json!(-1)),
            ("bagging_fraction", json!(1)),
            ("extra_trees", json!("TRUE")),
            ("monotone_constraints", json!("-1,0,1")),
            ("metric", json!("l1,l2")),
        ])
        .resolved_params(Task::Regression, u64::from(i32::MAX as u32))
        .unwrap();
        assert_eq!(p["num_leaves"], "131072");
        assert_eq!(p["seed"], "2147483647");
    }

    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Integers are accepted exactly within LightGBM's range, whatever their size.
        #[test]
        fn integer_parameters_are_accepted_exactly_in_range(v in any::<i64>(), small in -5i64..200_000) {
            for v in [v, small] {
                let leaves = spec(&[("num_leaves", json!(v))]).resolved_params(Task::Regression, 0);
                prop_assert_eq!(leaves.is_ok(), (2..=131_072).contains(&v));
                let depth = spec(&[("max_depth", json!(v))]).resolved_params(Task::Regression, 0);
                prop_assert_eq!(depth.is_ok(), i32::try_from(v).is_ok());
            }
        }

        /// Fractions are accepted exactly in (0, 1], never NaN or infinite.
        #[test]
        fn fractions_are_accepted_exactly_in_range(v in any::<f64>()) {
            let r = spec(&[("feature_fraction", json!(v.to_string()))])
                .resolved_params(Task::Regression, 0);
            prop_assert_eq!(r.is_ok(), v > 0.0 && v <= 1.0);
        }
    }

    /// Small models of each kind hone trains, in LightGBM's text.
    fn sample_models() -> &'static [(GbmModel, usize)] {
        static MODELS: std::sync::OnceLock<Vec<(GbmModel, usize)>> = std::sync::OnceLock::new();
        MODELS.get_or_init(|| {
            let (n, p) = (120, 3);
            let rows: Vec<f64> = (0..n * p)
                .map(|i| ((i * 37 % 101) as f64 * 0.13).sin())
                .collect();
            let x = Matrix::from_row_major(n, p, &rows);
            let base = [
                ("num_iterations", json!(8)),
                ("num_leaves", json!(5)),
                ("min_data_in_leaf", json!(5)),
                ("num_threads", json!(1)),
            ];
            let fit = |extra: &[(&str, Value)], task: Task, y: Vec<f64>| {
                let mut params: Vec<(&str, Value)> = base.to_vec();
                params.extend_from_slice(extra);
                let mut s = spec(&params);
                if extra.iter().any(|(k, _)| *k == "boosting") {
                    s.boosting = "rf".into();
                }
                let m = s
                    .fit(
                        &TrainingSet {
                            label_gap: 0,
                            x: &x,
                            y: &y,
                            valid: None,
                            task,
                            seed: 1,
                            feature_names: &[],
                            sequence: None,
                        },
                        &mut crate::observer::Unobserved,
                    )
                    .unwrap();
                (m, task.n_outputs())
            };
            let x0 = |i: usize| x.get(i, 0) + x.get(i, 1);
            vec![
                fit(
                    &[],
                    Task::Binary,
                    (0..n).map(|i| f64::from(u8::from(x0(i) > 0.0))).collect(),
                ),
                fit(
                    &[],
                    Task::Multiclass { n_classes: 3 },
                    (0..n).map(|i| (i % 3) as f64).collect(),
                ),
                fit(
                    &[("linear_tree", json!(true))],
                    Task::Regression,
                    (0..n).map(x0).collect(),
                ),
                fit(
                    &[("boosting", json!("rf"))],
                    Task::Regression,
                    (0..n).map(x0).collect(),
                ),
            ]
        })
    }

    fn probe() -> Matrix {
        let rows: Vec<f64> = (0..30).map(|i| (i as f64 * 0.41).cos() * 2.0).collect();
        let mut m = Matrix::from_row_major(10, 3, &rows);
        m.col_mut(1)[0] = f64::NAN;
        m
    }

    /// Loading `text` as model `k` either fails or gives a model that predicts; never a crash.
    fn load_and_predict(k: usize, text: String) -> Result<(), ModelError> {
        let (m, outputs) = &sample_models()[k];
        let loaded = GbmModel::from_text(text, m.n_features, m.info.clone(), m.params.clone())?;
        loaded.predict(&probe(), *outputs)?;
        loaded.importances(true)?;
        Ok(())
    }

    #[test]
    fn truncated_models_never_reach_lightgbm() {
        for (k, (m, _)) in sample_models().iter().enumerate() {
            let text = m.text();
            assert!(lgbm_text::validate(text).is_ok());
            load_and_predict(k, text.to_string()).unwrap();
            let end = text.find("end of parameters").unwrap();
            for cut in (0..text.len()).step_by(50).chain([text.len() - 1]) {
                let r = load_and_predict(k, text[..cut].to_string());
                if cut <= end {
                    let e = r.unwrap_err().to_string();
                    assert!(e.starts_with("not a valid LightGBM model: line "), "{e}");
                    assert_eq!(e.lines().count(), 1, "{e}");
                }
            }
        }
    }

    /// Edits the mutation property test found that LightGBM's parser throws on from inside an
    /// OpenMP loop (which terminates the process): a number whose exponent overflows, other
    /// forms Rust would parse but LightGBM does not write, and a form feed inside a list.
    #[test]
    fn numbers_lightgbm_throws_on_never_reach_it() {
        let k = sample_models()
            .iter()
            .position(|(m, _)| m.text().contains("leaf_coeff="))
            .expect("a linear-tree sample model");
        let text = sample_models()[k].0.text();
        let line = text.lines().find(|l| l.starts_with("leaf_coeff=")).unwrap();
        let first = line["leaf_coeff=".len()..].split(' ').next().unwrap();
        let bad = [
            format!("{first}e6314410979"),
            format!("+{first}"),
            "inf".to_string(),
            "nan".to_string(),
            ".5".to_string(),
            format!("{first}\x0c{first}"),
        ];
        for b in bad {
            let edited = text.replacen(line, &line.replacen(first, &b, 1), 1);
            let e = load_and_predict(k, edited).expect_err(&b).to_string();
            assert!(e.contains("leaf_coeff"), "{b:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random edits of real model files (digits, separators, newlines, any ASCII byte)
        /// load and predict, or fail with a one-line error: LightGBM never sees what it would
        /// crash or hang on.
        #[test]
        fn mutated_models_load_safely_or_fail_cleanly(
            k in 0usize..4,
            edits in prop::collection::vec(
                (any::<prop::sample::Index>(), 0u8..3, prop_oneof![
                    prop::sample::select(b"0123456789-. =\n\rxe:[]T\0".to_vec()),
                    any::<u8>().prop_map(|b| b & 0x7f),
                ]),
                1..4,
            ),
        ) {
            let mut bytes = sample_models()[k].0.text().as_bytes().to_vec();
            for (at, op, b) in edits {
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ => { bytes.remove(i); }
                }
            }
            let text = String::from_utf8(bytes).unwrap();
            if let Err(e) = load_and_predict(k, text) {
                prop_assert_eq!(e.to_string().lines().count(), 1);
            }
        }
    }
}
