//! Ensembles (`type = "ensemble"`): members of any family, each with its own parameters and
//! preprocessing, combined by a weighted average, a soft or hard vote, or stacking.
//!
//! ```toml
//! [model]
//! type = "ensemble"
//! method = "stacking"          # "average" (default), "vote" or "stacking"
//! voting = "soft"              # vote: "soft" (mean probability) or "hard" (majority of labels)
//! weights = [2, 1]             # per member (average, vote); equal by default
//! inner_splits = 4             # stacking: time-ordered blocks of the inner split
//! [[model.members]]
//! type = "lightgbm"
//! [[model.members]]
//! type = "lstm"
//! seq_len = 16
//! preprocess = { scale = "standard" }
//! [model.meta]                 # stacking: the meta-model (default: logistic / ridge)
//! type = "logistic"
//! ```
//!
//! Stacking never trains its meta-model on a member prediction that saw its row: inside the
//! training rows it is given, an expanding split cuts `inner_splits` time-ordered blocks; the
//! members are fitted on the blocks before block k (less `label_gap` rows, so no fitting label
//! reaches into block k) and predict block k. The meta-model learns from those out-of-fold
//! predictions of blocks 1…; then the members are refitted on every row for prediction.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use hone_validate::Task;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Family, ParamDoc};
use crate::estimator::{ArtifactSink, ArtifactSource, Estimator, Fit, Fitted, TrainingSet};
use crate::model::{Complexity, FitReport, ModelSpec};
use crate::observer::{TrainObserver, Unobserved};
use crate::pipeline::{FitOptions, FittedPipeline, PipelineSpec};
use crate::preprocess::PreprocessConfig;
use crate::{Matrix, ModelError};

/// The registration of this family.
pub const FAMILY: Family = Family {
    types: &["ensemble"],
    kind: "ensemble",
    keys: &[
        ParamDoc {
            key: "members",
            doc: "[[model.members]] tables: each a [model] table of any family, with an optional `preprocess = { impute, scale, select }`",
        },
        ParamDoc {
            key: "method",
            doc: "\"average\" (default), \"vote\" or \"stacking\"",
        },
        ParamDoc {
            key: "voting",
            doc: "vote: \"soft\" (default: mean probabilities) or \"hard\" (weighted majority of labels)",
        },
        ParamDoc {
            key: "weights",
            doc: "one weight per member (average, vote; equal by default)",
        },
        ParamDoc {
            key: "meta",
            doc: "stacking: the meta-model's [model] table (default: logistic, or ridge for regression)",
        },
        ParamDoc {
            key: "inner_splits",
            doc: "stacking: time-ordered blocks of the inner split (default 4)",
        },
    ],
    parse,
    decode: super::decode_as::<FittedEnsemble>,
};

/// How members combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The weighted mean of the members' outputs.
    Average,
    /// A vote: soft (weighted mean probability) or hard (weighted majority of labels).
    Vote,
    /// A meta-model fitted on the members' out-of-fold predictions.
    Stacking,
}

/// Soft or hard voting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Voting {
    /// Weighted mean of probabilities.
    Soft,
    /// Weighted majority of predicted labels (ties to the lower class).
    Hard,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(rename = "type")]
    _type: String,
    members: Vec<Value>,
    #[serde(default = "default_method")]
    method: Method,
    #[serde(default = "default_voting")]
    voting: Voting,
    #[serde(default)]
    weights: Option<Vec<f64>>,
    #[serde(default)]
    meta: Option<Value>,
    #[serde(default = "default_inner")]
    inner_splits: usize,
}

fn default_method() -> Method {
    Method::Average
}
fn default_voting() -> Voting {
    Voting::Soft
}
fn default_inner() -> usize {
    4
}

/// A configured ensemble.
#[derive(Debug, Clone)]
pub struct Ensemble {
    members: Vec<PipelineSpec>,
    names: Vec<String>,
    method: Method,
    voting: Voting,
    weights: Vec<f64>,
    meta: Option<ModelSpec>,
    inner_splits: usize,
    config: Value,
}

/// A member table: its `preprocess` taken out, the rest parsed as a `[model]` table.
fn member(i: usize, v: &Value) -> Result<(PipelineSpec, String), ModelError> {
    let mut t = v
        .as_object()
        .cloned()
        .ok_or_else(|| ModelError::Config(format!("model.members[{i}] must be a table")))?;
    if t.get("type").and_then(Value::as_str) == Some("ensemble") {
        return Err(ModelError::Config(format!(
            "model.members[{i}]: an ensemble inside an ensemble is not supported"
        )));
    }
    let pre: PreprocessConfig = match t.remove("preprocess") {
        Some(p) => serde_json::from_value(p)
            .map_err(|e| ModelError::Config(format!("model.members[{i}].preprocess: {e}")))?,
        None => PreprocessConfig::default(),
    };
    let model = ModelSpec::from_value(&Value::Object(t))
        .map_err(|e| ModelError::Config(format!("model.members[{i}]: {e}")))?;
    let name = format!("{}_{i}", model.name());
    Ok((
        PipelineSpec {
            steps: pre.steps(),
            model,
        },
        name,
    ))
}

fn parse(_kind: &str, table: Map<String, Value>) -> Result<Arc<dyn Estimator>, ModelError> {
    let config = Value::Object(table);
    let t: Table = serde_json::from_value(config.clone()).map_err(super::config_err)?;
    if t.members.len() < 2 {
        return Err(ModelError::Config(
            "model.members: an ensemble needs at least two [[model.members]]".into(),
        ));
    }
    let mut members = Vec::new();
    let mut names = Vec::new();
    for (i, v) in t.members.iter().enumerate() {
        let (spec, name) = member(i, v)?;
        members.push(spec);
        names.push(name);
    }
    let weights = match t.weights {
        Some(w) => {
            if w.len() != members.len() {
                return Err(ModelError::Config(format!(
                    "model.weights has {} values for {} members",
                    w.len(),
                    members.len()
                )));
            }
            if w.iter().any(|v| !v.is_finite() || *v < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                return Err(ModelError::Config(
                    "model.weights must be ≥ 0 with a positive sum".into(),
                ));
            }
            w
        }
        None => vec![1.0; members.len()],
    };
    if t.method == Method::Stacking && t.inner_splits < 2 {
        return Err(ModelError::Config(
            "model.inner_splits must be at least 2".into(),
        ));
    }
    let meta = match t.meta {
        Some(_) if t.method != Method::Stacking => {
            return Err(ModelError::Config(
                "model.meta is for method = \"stacking\"".into(),
            ));
        }
        Some(m) => {
            let spec = ModelSpec::from_value(&m)
                .map_err(|e| ModelError::Config(format!("model.meta: {e}")))?;
            if spec.estimator().window_len() > 1 {
                return Err(ModelError::Config(
                    "model.meta: the meta-model reads one row of member predictions; use a \
                     model without windows"
                        .into(),
                ));
            }
            Some(spec)
        }
        None => None,
    };
    Ok(Arc::new(Ensemble {
        members,
        names,
        method: t.method,
        voting: t.voting,
        weights,
        meta,
        inner_splits: t.inner_splits,
        config,
    }))
}

/// The positions that give `n` rows the segment starts `starts` (a jump of one before each).
fn positions_of(n: usize, starts: &[usize]) -> Vec<usize> {
    let mut jumps = 0;
    (0..n)
        .map(|i| {
            if starts.binary_search(&i).is_ok() && i > 0 {
                jumps += 1;
            }
            i + jumps
        })
        .collect()
}

impl Ensemble {
    fn meta_spec(&self, task: Task) -> Result<ModelSpec, ModelError> {
        match &self.meta {
            Some(m) => Ok(m.clone()),
            None => ModelSpec::from_value(&match task {
                Task::Regression => serde_json::json!({"type": "ridge", "alpha": 1.0}),
                _ => serde_json::json!({"type": "logistic", "C": 1.0}),
            }),
        }
    }

    /// Fits every member on `rows` of `x` (consecutive runs as `positions` say).
    fn fit_members(
        &self,
        x: &Matrix,
        y: &[f64],
        rows: &[usize],
        positions: &[usize],
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
    ) -> Result<Vec<FittedPipeline>, ModelError> {
        let sub = x.select_rows(rows);
        let sub_y: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
        let sub_pos: Vec<usize> = rows.iter().map(|&r| positions[r]).collect();
        let names: Vec<String> = if data.feature_names.len() == x.n_cols() {
            data.feature_names.to_vec()
        } else {
            (0..x.n_cols()).map(|j| format!("f{j}")).collect()
        };
        self.members
            .iter()
            .zip(&self.names)
            .map(|(spec, name)| {
                spec.fit(
                    &sub,
                    &sub_y,
                    FitOptions {
                        task: data.task,
                        seed: data.seed,
                        feature_names: &names,
                        early_stopping_gap: data.label_gap,
                        observer: &mut *observer,
                        positions: Some(&sub_pos),
                    },
                )
                .map_err(|e| ModelError::Data(format!("ensemble member {name}: {e}")))
            })
            .collect()
    }
}

/// Each member's predictions for rows `a..b` of `x` (with the rows before `a` as context),
/// side by side: one row of `members × outputs` values per row.
fn member_outputs(
    members: &[FittedPipeline],
    x: &Matrix,
    a: usize,
    b: usize,
    task: Task,
) -> Result<Vec<Vec<f64>>, ModelError> {
    let k = task.n_outputs();
    let context = members.iter().map(|m| m.context_rows()).max().unwrap_or(0);
    let from = a.saturating_sub(context);
    let rows: Vec<usize> = (from..b).collect();
    let block = x.select_rows(&rows);
    let mut out = vec![Vec::with_capacity(members.len() * k); b - a];
    for m in members {
        let p = m.predict(&block)?;
        for (i, row) in out.iter_mut().enumerate() {
            let at = (a - from + i) * k;
            row.extend_from_slice(&p[at..at + k]);
        }
    }
    Ok(out)
}

impl Estimator for Ensemble {
    fn name(&self) -> &'static str {
        "ensemble"
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn check_task(&self, task: Task) -> Result<(), ModelError> {
        for (m, name) in self.members.iter().zip(&self.names) {
            m.model
                .check_task(task)
                .map_err(|e| ModelError::Config(format!("ensemble member {name}: {e}")))?;
        }
        if self.method == Method::Stacking {
            self.meta_spec(task)?.check_task(task)?;
        }
        Ok(())
    }

    fn window_len(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.model.estimator().window_len())
            .max()
            .unwrap_or(1)
    }

    fn complexity_counts(&self) -> &'static [&'static str] {
        &["parameters"]
    }

    fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
        _in_sample: bool,
    ) -> Result<Fit, ModelError> {
        // Every training row: the block of a windowed fit, else the rows given.
        let (x, starts): (&Matrix, &[usize]) = match data.sequence {
            Some(v) => (v.block, v.starts),
            None => (data.x, &[]),
        };
        let n = x.n_rows();
        if n != data.y.len() {
            return Err(ModelError::Data(format!(
                "ensemble: {n} rows but {} targets",
                data.y.len()
            )));
        }
        let positions = positions_of(n, starts);
        let all: Vec<usize> = (0..n).collect();
        let mut inner = Vec::new();
        let meta = if self.method == Method::Stacking {
            // Out-of-fold member predictions from an expanding inner split.
            let k = self.inner_splits;
            let bounds: Vec<usize> = (0..=k).map(|i| i * n / k).collect();
            let mut oof: Vec<Vec<f64>> = Vec::new();
            let mut oof_y = Vec::new();
            for b in 1..k {
                let (start, end) = (bounds[b], bounds[b + 1]);
                let fit_end = start.saturating_sub(data.label_gap);
                if fit_end < 10 || end <= start {
                    continue;
                }
                let rows: Vec<usize> = (0..fit_end).collect();
                let members =
                    self.fit_members(x, data.y, &rows, &positions, data, &mut Unobserved)?;
                oof.extend(member_outputs(&members, x, start, end, data.task)?);
                oof_y.extend_from_slice(&data.y[start..end]);
                inner.push(InnerFold {
                    fit_rows: (0, fit_end),
                    scored_rows: (start, end),
                });
            }
            if oof.is_empty() {
                return Err(ModelError::Data(format!(
                    "ensemble: {n} rows are too few for a stacking inner split of {k} blocks"
                )));
            }
            let width = oof[0].len();
            let flat: Vec<f64> = oof.concat();
            let mx = Matrix::from_row_major(oof.len(), width, &flat);
            let names: Vec<String> = (0..width).map(|j| format!("m{j}")).collect();
            let meta_spec = PipelineSpec {
                steps: Vec::new(),
                model: self.meta_spec(data.task)?,
            };
            Some(
                meta_spec
                    .fit(
                        &mx,
                        &oof_y,
                        FitOptions {
                            task: data.task,
                            seed: data.seed,
                            feature_names: &names,
                            early_stopping_gap: 0,
                            observer: &mut Unobserved,
                            positions: None,
                        },
                    )
                    .map_err(|e| ModelError::Data(format!("ensemble meta-model: {e}")))?,
            )
        } else {
            None
        };
        let members = self.fit_members(x, data.y, &all, &positions, data, observer)?;
        let member_states = members
            .iter()
            .map(|m| serde_json::to_value(m).map_err(|e| ModelError::Data(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let meta_state = match &meta {
            Some(m) => Some(serde_json::to_value(m).map_err(|e| ModelError::Data(e.to_string()))?),
            None => None,
        };
        Ok(Fit {
            model: Box::new(FittedEnsemble {
                method: self.method,
                voting: self.voting,
                weights: self.weights.clone(),
                names: self.names.clone(),
                task: data.task,
                inner,
                member_states,
                meta_state,
                members,
                meta,
            }),
            in_sample: None,
        })
    }
}

/// One block of a stacking inner split: members fitted on `fit_rows` scored `scored_rows`
/// (half-open ranges of the ensemble's training rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerFold {
    /// Rows the members were fitted on.
    pub fit_rows: (usize, usize),
    /// Rows whose predictions trained the meta-model.
    pub scored_rows: (usize, usize),
}

/// A fitted ensemble: its members' pipelines (and meta-model), saved under `member<i>/`
/// (`meta/`) beside `pipeline.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedEnsemble {
    /// How members combine.
    pub method: Method,
    /// Soft or hard voting.
    pub voting: Voting,
    /// Member weights.
    pub weights: Vec<f64>,
    /// Member names (`<type>_<index>`).
    pub names: Vec<String>,
    /// What is predicted.
    pub task: Task,
    /// Stacking's inner split, block by block.
    #[serde(default)]
    pub inner: Vec<InnerFold>,
    member_states: Vec<Value>,
    #[serde(default)]
    meta_state: Option<Value>,
    /// The fitted members.
    #[serde(skip)]
    pub members: Vec<FittedPipeline>,
    /// The fitted meta-model.
    #[serde(skip)]
    pub meta: Option<FittedPipeline>,
}

/// An [`ArtifactSink`] / [`ArtifactSource`] view of one member's files under a prefix.
struct Prefixed<'a> {
    inner: &'a mut dyn ArtifactSink,
    prefix: String,
}

impl ArtifactSink for Prefixed<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
        self.inner.put(&format!("{}{name}", self.prefix), bytes)
    }
}

struct PrefixedSource<'a> {
    inner: &'a dyn ArtifactSource,
    prefix: String,
}

impl ArtifactSource for PrefixedSource<'_> {
    fn get(&self, name: &str) -> Result<Vec<u8>, ModelError> {
        self.inner.get(&format!("{}{name}", self.prefix))
    }
    fn error(&self, name: &str, message: String) -> ModelError {
        self.inner.error(&format!("{}{name}", self.prefix), message)
    }
}

impl Fitted for FittedEnsemble {
    fn kind(&self) -> &'static str {
        FAMILY.kind
    }

    fn predict(&self, x: &Matrix, task: Task) -> Result<Vec<f64>, ModelError> {
        let n = x.n_rows();
        let k = task.n_outputs();
        let outs = member_outputs(&self.members, x, 0, n, task)?;
        if let Some(meta) = &self.meta {
            let width = outs.first().map_or(0, Vec::len);
            let flat: Vec<f64> = outs.concat();
            return meta.predict(&Matrix::from_row_major(n, width, &flat));
        }
        let total: f64 = self.weights.iter().sum();
        let mut out = vec![0.0; n * k];
        for (i, row) in outs.iter().enumerate() {
            let dst = &mut out[i * k..(i + 1) * k];
            for (m, w) in self.weights.iter().enumerate() {
                let p = &row[m * k..(m + 1) * k];
                match (self.method, self.voting, task) {
                    (Method::Vote, Voting::Hard, Task::Binary) => {
                        dst[0] += w * f64::from(p[0] >= 0.5) / total;
                    }
                    (Method::Vote, Voting::Hard, Task::Multiclass { .. }) => {
                        let best = (0..k).max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)));
                        dst[best.unwrap_or(0)] += w / total;
                    }
                    _ => {
                        for (d, v) in dst.iter_mut().zip(p) {
                            *d += w * v / total;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn context_rows(&self) -> usize {
        self.members
            .iter()
            .map(|m| m.context_rows())
            .max()
            .unwrap_or(0)
    }

    fn importances(&self) -> Result<Vec<f64>, ModelError> {
        // The weighted mean of each member's importances over the ensemble's inputs,
        // each member's scaled to sum to 1 (members select features on their own).
        let width = self.members.first().map_or(0, |m| m.input_features.len());
        let total: f64 = self.weights.iter().sum();
        let mut out = vec![0.0; width];
        for (m, w) in self.members.iter().zip(&self.weights) {
            let imp = m.importances()?;
            let sum: f64 = imp.iter().map(|(_, v)| v.abs()).sum();
            for (name, v) in imp {
                if let Some(j) = m.input_features.iter().position(|f| *f == name) {
                    out[j] += w / total * v.abs() / sum.max(f64::MIN_POSITIVE);
                }
            }
        }
        Ok(out)
    }

    fn importance_kind(&self) -> &'static str {
        "weighted share of member importance"
    }

    fn report(&self) -> FitReport {
        FitReport {
            iterations_run: 1,
            best_iteration: 1,
            valid_metric: None,
            valid_curve: Vec::new(),
        }
    }

    fn complexity(&self) -> Complexity {
        let mut c = Complexity::default();
        for m in self.members.iter().chain(self.meta.iter()) {
            let mc = m.model.complexity();
            let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            };
            c.trees = add(c.trees, mc.trees);
            c.leaves = add(c.leaves, mc.leaves);
            c.nonzero_coefficients = add(c.nonzero_coefficients, mc.nonzero_coefficients);
            c.parameters = add(c.parameters, mc.parameters);
        }
        c
    }

    fn params(&self) -> Option<BTreeMap<String, String>> {
        let mut p = BTreeMap::new();
        p.insert("method".into(), format!("{:?}", self.method).to_lowercase());
        p.insert("members".into(), self.names.join(", "));
        if self.method == Method::Vote {
            p.insert("voting".into(), format!("{:?}", self.voting).to_lowercase());
        }
        p.insert(
            "weights".into(),
            serde_json::to_string(&self.weights).unwrap_or_default(),
        );
        Some(p)
    }

    fn state(&self) -> &dyn erased_serde::Serialize {
        self
    }

    fn save_files(&self, sink: &mut dyn ArtifactSink) -> Result<Vec<String>, ModelError> {
        let mut names = Vec::new();
        let parts = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("member{i}/"), m))
            .chain(self.meta.iter().map(|m| ("meta/".to_string(), m)));
        for (prefix, m) in parts {
            let mut p = Prefixed {
                inner: &mut *sink,
                prefix: prefix.clone(),
            };
            let mut recording = Recording {
                inner: &mut p,
                names: Vec::new(),
            };
            m.save_to(&mut recording)?;
            names.extend(recording.names.into_iter().map(|n| format!("{prefix}{n}")));
        }
        Ok(names)
    }

    fn check_shape(&self, width: usize, outputs: usize) -> Result<(), String> {
        if self.member_states.len() < 2 || self.weights.len() != self.member_states.len() {
            return Err("an ensemble needs ≥ 2 members and one weight each".into());
        }
        if self.task.n_outputs() != outputs {
            return Err(format!(
                "the ensemble predicts {} outputs, the pipeline needs {outputs}",
                self.task.n_outputs()
            ));
        }
        let _ = width;
        Ok(())
    }

    fn load_files(&mut self, files: &dyn ArtifactSource, _task: Task) -> Result<(), ModelError> {
        self.members = self
            .member_states
            .iter()
            .enumerate()
            .map(|(i, v)| {
                FittedPipeline::from_saved(
                    v.clone(),
                    &PrefixedSource {
                        inner: files,
                        prefix: format!("member{i}/"),
                    },
                )
            })
            .collect::<Result<_, _>>()?;
        self.meta = match &self.meta_state {
            Some(v) => Some(FittedPipeline::from_saved(
                v.clone(),
                &PrefixedSource {
                    inner: files,
                    prefix: "meta/".into(),
                },
            )?),
            None => None,
        };
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn Fitted> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Passes files on and records their names.
struct Recording<'a> {
    inner: &'a mut dyn ArtifactSink,
    names: Vec<String>,
}

impl ArtifactSink for Recording<'_> {
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), ModelError> {
        self.names.push(name.to_string());
        self.inner.put(name, bytes)
    }
}
