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

use hone_validate::Task;
use lightgbm3_sys as sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::FitReport;
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

/// Edit distance, for "did you mean" hints.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
        out.entry("seed".into()).or_insert_with(|| seed.to_string());
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

fn param_string(params: &BTreeMap<String, String>) -> CString {
    let s = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    CString::new(s).expect("parameter text has no NUL")
}

/// An owned LightGBM dataset handle.
struct DatasetHandle(sys::DatasetHandle);

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
    let rows = x.to_row_major();
    // SAFETY: `rows` holds n_rows × n_cols f64 values in row-major order and outlives the
    // call; LightGBM copies what it needs into its own bins.
    check(unsafe {
        sys::LGBM_DatasetCreateFromMat(
            rows.as_ptr() as *const c_void,
            sys::C_API_DTYPE_FLOAT64 as c_int,
            x.n_rows() as i32,
            x.n_cols() as i32,
            1,
            params.as_ptr(),
            reference.map_or(std::ptr::null_mut(), |r| r.0),
            &mut handle,
        )
    })?;
    let ds = DatasetHandle(handle);
    let labels: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let field = CString::new("label").expect("static");
    // SAFETY: `labels` has n_rows f32 values; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetSetField(
            ds.0,
            field.as_ptr(),
            labels.as_ptr() as *const c_void,
            labels.len() as c_int,
            sys::C_API_DTYPE_FLOAT32 as c_int,
        )
    })?;
    if !feature_names.is_empty() {
        let names: Vec<CString> = feature_names
            .iter()
            .map(|n| CString::new(sanitize_feature_name(n)).expect("sanitized"))
            .collect();
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: one valid C string per feature, alive for the call.
        check(unsafe {
            sys::LGBM_DatasetSetFeatureNames(ds.0, ptrs.as_mut_ptr(), ptrs.len() as c_int)
        })?;
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

impl BoosterHandle {
    fn eval(&self, data_idx: c_int, n: usize) -> Result<Vec<f64>, ModelError> {
        let mut out = vec![0.0; n];
        let mut len = 0;
        // SAFETY: `out` has room for every metric LightGBM reports.
        check(unsafe { sys::LGBM_BoosterGetEval(self.0, data_idx, &mut len, out.as_mut_ptr()) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn eval_names(&self) -> Result<Vec<String>, ModelError> {
        let mut count = 0;
        // SAFETY: plain out-parameter.
        check(unsafe { sys::LGBM_BoosterGetEvalCounts(self.0, &mut count) })?;
        let n = count as usize;
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut buffers = vec![vec![0u8; 256]; n];
        let mut ptrs: Vec<*mut c_char> = buffers
            .iter_mut()
            .map(|b| b.as_mut_ptr() as *mut c_char)
            .collect();
        let (mut out_len, mut needed) = (0, 0usize);
        // SAFETY: n buffers of 256 bytes each.
        check(unsafe {
            sys::LGBM_BoosterGetEvalNames(
                self.0,
                count,
                &mut out_len,
                256,
                &mut needed,
                ptrs.as_mut_ptr(),
            )
        })?;
        Ok(buffers
            .iter()
            .take(out_len as usize)
            .map(|b| {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                String::from_utf8_lossy(&b[..end]).into_owned()
            })
            .collect())
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
        let mut buf = vec![0u8; len as usize];
        // SAFETY: `buf` has the length LightGBM asked for.
        check(unsafe {
            sys::LGBM_BoosterSaveModelToString(
                self.0,
                0,
                num_iteration,
                0,
                len,
                &mut len,
                buf.as_mut_ptr() as *mut c_char,
            )
        })?;
        let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    fn from_string(text: &str) -> Result<(Self, usize), ModelError> {
        let c =
            CString::new(text).map_err(|_| ModelError::Data("model text contains NUL".into()))?;
        let (mut handle, mut iters) = (std::ptr::null_mut(), 0);
        // SAFETY: `c` is a valid C string for the call.
        check(unsafe {
            sys::LGBM_BoosterLoadModelFromString(c.as_ptr(), &mut iters, &mut handle)
        })?;
        Ok((Self(handle), iters as usize))
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
        }
    }
}

/// Called after each boosting round with (round, total rounds, validation metric as
/// `(value, higher_is_better)`); returning `false` stops boosting after this round (a tuning
/// pruner cutting a trial), keeping the rounds so far as early stopping would.
pub type RoundObserver<'a> = &'a mut dyn FnMut(usize, usize, Option<(f64, bool)>) -> bool;

fn higher_is_better(metric: &str) -> bool {
    let m = metric.split('@').next().unwrap_or(metric);
    ["auc", "average_precision", "ndcg", "map", "auc_mu"].contains(&m)
}

impl GbmSpec {
    /// Trains on `(x, y)`; `valid` (if any) drives early stopping and the learning curve.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
        task: Task,
        seed: u64,
        feature_names: &[String],
        observer: RoundObserver<'_>,
    ) -> Result<GbmModel, ModelError> {
        let params = self.resolved_params(task, seed)?;
        let rounds: usize = params["num_iterations"].parse().map_err(|_| {
            ModelError::Config(format!(
                "model.params.num_iterations must be a whole number, got {}",
                params["num_iterations"]
            ))
        })?;
        let cparams = param_string(&params);
        let train = make_dataset(x, y, &cparams, None, feature_names)?;
        let valid_ds = valid
            .map(|(vx, vy)| make_dataset(vx, vy, &cparams, Some(&train), feature_names))
            .transpose()?;
        let mut handle = std::ptr::null_mut();
        // SAFETY: `train` is a live dataset; the parameters are a valid C string.
        check(unsafe { sys::LGBM_BoosterCreate(train.0, cparams.as_ptr(), &mut handle) })?;
        let booster = BoosterHandle(handle);
        if let Some(v) = &valid_ds {
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
                }
            }
            let go_on = observer(round, rounds, score.map(|s| (s, maximize)));
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
        let text = booster.save_string(keep as c_int)?;
        drop(booster);
        let (booster, _) = BoosterHandle::from_string(&text)?;
        Ok(GbmModel {
            n_features: x.n_cols(),
            info,
            params,
            text,
            booster: Some(booster),
        })
    }
}

impl GbmModel {
    /// Loads a model from LightGBM's text format.
    pub fn from_text(
        text: String,
        n_features: usize,
        info: FitReport,
        params: BTreeMap<String, String>,
    ) -> Result<Self, ModelError> {
        let (booster, _) = BoosterHandle::from_string(&text)?;
        Ok(Self {
            n_features,
            info,
            params,
            text,
            booster: Some(booster),
        })
    }

    /// Restores the booster after deserialising the metadata.
    pub fn attach_text(&mut self, text: String) -> Result<(), ModelError> {
        let (booster, _) = BoosterHandle::from_string(&text)?;
        self.text = text;
        self.booster = Some(booster);
        Ok(())
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
        if x.n_cols() != self.n_features {
            return Err(ModelError::Data(format!(
                "the model expects {} features, got {}",
                self.n_features,
                x.n_cols()
            )));
        }
        if x.n_rows() == 0 {
            return Ok(Vec::new());
        }
        let threads = self
            .params
            .get("num_threads")
            .cloned()
            .unwrap_or_else(|| "0".into());
        let p = CString::new(format!("num_threads={threads}")).expect("no NUL");
        let mut out = vec![0.0; x.n_rows() * n_outputs];
        let mut len: i64 = 0;
        // SAFETY: column-major n_rows × n_cols f64 input; `out` holds n_rows × n_outputs.
        check(unsafe {
            sys::LGBM_BoosterPredictForMat(
                self.booster()?.0,
                x.as_col_major().as_ptr() as *const c_void,
                sys::C_API_DTYPE_FLOAT64 as c_int,
                x.n_rows() as i32,
                x.n_cols() as i32,
                0,
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
        let mut out = vec![0.0; self.n_features];
        let kind = if gain {
            sys::C_API_FEATURE_IMPORTANCE_GAIN
        } else {
            sys::C_API_FEATURE_IMPORTANCE_SPLIT
        };
        // SAFETY: `out` holds one value per feature.
        check(unsafe {
            sys::LGBM_BoosterFeatureImportance(
                self.booster()?.0,
                -1,
                kind as c_int,
                out.as_mut_ptr(),
            )
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
}
