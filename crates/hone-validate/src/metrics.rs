//! Classification, probabilistic and regression metrics with scikit-learn's semantics.
//!
//! [`Metric`] is the vocabulary: every metric hone reports has one name (scikit-learn's), a
//! direction and a [`Metric::compute`] over a [`Predictions`] set. Edge cases follow
//! scikit-learn 1.9.1 (`zero_division=0`, MCC 0 on a constant prediction, log loss clipping at
//! f64 epsilon, R² 1/0 on a constant target), except where returning a number would mislead:
//! ROC AUC on a single-class set is an error that says so, not a silent NaN.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidateError;

/// What kind of target is being predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes, coded 0 and 1; scores are P(class 1).
    Binary,
    /// `n_classes` classes coded `0..n_classes`; scores are one probability per class.
    Multiclass {
        /// Number of classes.
        n_classes: usize,
    },
    /// A real-valued target.
    Regression,
}

impl Task {
    /// `"binary"`, `"multiclass"` or `"regression"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass { .. } => "multiclass",
            Task::Regression => "regression",
        }
    }

    /// Number of score columns a model produces per row (1 for binary and regression).
    pub fn n_outputs(&self) -> usize {
        match self {
            Task::Multiclass { n_classes } => *n_classes,
            _ => 1,
        }
    }
}

/// Predictions of one model on one set of rows, with the truth.
#[derive(Debug, Clone, Copy)]
pub struct Predictions<'a> {
    /// Truth: 0/1 (binary), class index (multiclass) or the value (regression).
    pub y_true: &'a [f64],
    /// Hard predictions: class index or value. Derived from `proba` when absent.
    pub y_pred: Option<&'a [f64]>,
    /// Scores: P(class 1) per row (binary), or `n × n_classes` probabilities row-major.
    pub proba: Option<&'a [f64]>,
    /// A panel's timestamp of each row (any integer key), for the cross-sectional metrics
    /// ([`Metric::Ic`], [`Metric::RankIc`], [`Metric::CsAuc`]); `None` for a single series.
    pub times: Option<&'a [i64]>,
}

/// A metric hone can compute. Names are scikit-learn's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Fraction of correct hard predictions.
    Accuracy,
    /// Binary precision of class 1.
    Precision,
    /// Binary recall of class 1.
    Recall,
    /// Binary F1 of class 1.
    F1,
    /// Unweighted mean of per-class precision.
    PrecisionMacro,
    /// Unweighted mean of per-class recall.
    RecallMacro,
    /// Unweighted mean of per-class F1.
    F1Macro,
    /// Support-weighted mean of per-class precision.
    PrecisionWeighted,
    /// Support-weighted mean of per-class recall.
    RecallWeighted,
    /// Support-weighted mean of per-class F1.
    F1Weighted,
    /// Area under the ROC curve (binary; one-vs-rest macro for multiclass). Ties count ½.
    RocAuc,
    /// Cross-entropy of the probabilities (natural log, clipped at f64 epsilon).
    LogLoss,
    /// Mean squared error of P(class 1) (binary only).
    Brier,
    /// Matthews correlation coefficient (multiclass: covariance form).
    Mcc,
    /// Mean squared error.
    Mse,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Mean absolute percentage error, as a fraction, dividing by max(|y|, f64 epsilon).
    Mape,
    /// Coefficient of determination.
    R2,
    /// Panels: mean over timestamps of the Pearson correlation, across the assets at each
    /// timestamp, between the prediction (P(class 1) for binary) and the target (Qlib's IC).
    /// Timestamps where a side is constant have none; NaN when no timestamp has one.
    Ic,
    /// Panels: mean over timestamps of the Spearman rank correlation (the rank IC).
    RankIc,
    /// Panels, binary: mean over timestamps of the ROC AUC across the assets at each timestamp
    /// (timestamps with one class only are left out).
    CsAuc,
}

const ALL: [Metric; 22] = [
    Metric::Accuracy,
    Metric::Precision,
    Metric::Recall,
    Metric::F1,
    Metric::PrecisionMacro,
    Metric::RecallMacro,
    Metric::F1Macro,
    Metric::PrecisionWeighted,
    Metric::RecallWeighted,
    Metric::F1Weighted,
    Metric::RocAuc,
    Metric::LogLoss,
    Metric::Brier,
    Metric::Mcc,
    Metric::Mse,
    Metric::Rmse,
    Metric::Mae,
    Metric::Mape,
    Metric::R2,
    Metric::Ic,
    Metric::RankIc,
    Metric::CsAuc,
];

impl Metric {
    /// Every metric.
    pub fn all() -> &'static [Metric] {
        &ALL
    }

    /// scikit-learn's name of the metric (`"roc_auc"`, `"f1_macro"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::PrecisionMacro => "precision_macro",
            Metric::RecallMacro => "recall_macro",
            Metric::F1Macro => "f1_macro",
            Metric::PrecisionWeighted => "precision_weighted",
            Metric::RecallWeighted => "recall_weighted",
            Metric::F1Weighted => "f1_weighted",
            Metric::RocAuc => "roc_auc",
            Metric::LogLoss => "log_loss",
            Metric::Brier => "brier",
            Metric::Mcc => "mcc",
            Metric::Mse => "mse",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::Mape => "mape",
            Metric::R2 => "r2",
            Metric::Ic => "ic",
            Metric::RankIc => "rank_ic",
            Metric::CsAuc => "cs_auc",
        }
    }

    /// Whether a larger value is better (false for losses and errors).
    pub fn greater_is_better(&self) -> bool {
        !matches!(
            self,
            Metric::LogLoss
                | Metric::Brier
                | Metric::Mse
                | Metric::Rmse
                | Metric::Mae
                | Metric::Mape
        )
    }

    /// Whether the metric needs scores (probabilities) rather than hard predictions.
    pub fn needs_scores(&self) -> bool {
        matches!(self, Metric::RocAuc | Metric::LogLoss | Metric::Brier)
    }

    /// Whether the metric is cross-sectional: it needs a panel's timestamps
    /// ([`Predictions::times`]).
    pub fn needs_panel(&self) -> bool {
        matches!(self, Metric::Ic | Metric::RankIc | Metric::CsAuc)
    }

    /// The cross-sectional metrics reported for a panel by default.
    pub fn panel_defaults(task: Task) -> Vec<Metric> {
        [Metric::Ic, Metric::RankIc, Metric::CsAuc]
            .into_iter()
            .filter(|m| m.applies_to(task))
            .collect()
    }

    /// Whether the metric is defined for this task.
    pub fn applies_to(&self, task: Task) -> bool {
        use Metric::*;
        match task {
            Task::Binary => matches!(
                self,
                Accuracy
                    | Precision
                    | Recall
                    | F1
                    | RocAuc
                    | LogLoss
                    | Brier
                    | Mcc
                    | Ic
                    | RankIc
                    | CsAuc
            ),
            Task::Multiclass { .. } => matches!(
                self,
                Accuracy
                    | PrecisionMacro
                    | RecallMacro
                    | F1Macro
                    | PrecisionWeighted
                    | RecallWeighted
                    | F1Weighted
                    | RocAuc
                    | LogLoss
                    | Mcc
            ),
            Task::Regression => matches!(self, Mse | Rmse | Mae | Mape | R2 | Ic | RankIc),
        }
    }

    /// The metrics reported for a task by default, in display order.
    pub fn defaults(task: Task) -> Vec<Metric> {
        ALL.iter()
            .copied()
            .filter(|m| m.applies_to(task) && !m.needs_panel())
            .collect()
    }

    /// The metrics a training job reports when its config names none: [`Metric::defaults`]
    /// without MAPE, which is meaningless on targets near zero such as returns (a mean of
    /// 2.7e9 was seen); name it in `metrics` to get it.
    pub fn job_defaults(task: Task) -> Vec<Metric> {
        Self::defaults(task)
            .into_iter()
            .filter(|m| *m != Metric::Mape)
            .collect()
    }

    /// The first row of scores (0-based) this metric cannot use, and why, by scikit-learn's
    /// checks: scores must be finite; `log_loss` and `brier` need probabilities in [0, 1]; a
    /// multiclass row must sum to 1 for `log_loss` (`np.allclose(sum, 1, rtol=√ε)`) and
    /// `roc_auc` (`np.allclose(1, sum)`). Binary `roc_auc` takes any finite decision score.
    ///
    /// For scores a user hands in (`hone metrics`). [`Metric::compute`] applies the same checks
    /// except the row sums, since LightGBM's one-vs-rest objectives give per-class
    /// probabilities that need not sum to 1.
    pub fn invalid_score_row(&self, task: Task, proba: &[f64]) -> Option<(usize, String)> {
        score_problem(*self, task, proba, true)
    }

    /// Computes the metric.
    pub fn compute(&self, task: Task, p: &Predictions<'_>) -> Result<f64, ValidateError> {
        if !self.applies_to(task) {
            return Err(ValidateError::InvalidInput(format!(
                "metric {} does not apply to a {} task",
                self.name(),
                task.kind()
            )));
        }
        check_lengths(task, p)?;
        if let Some(s) = p.proba
            && let Some((row, why)) = score_problem(*self, task, s, false)
        {
            return Err(ValidateError::InvalidInput(format!(
                "scores at row {row}: {why}"
            )));
        }
        if self.needs_panel() {
            return cross_sectional(*self, task, p);
        }
        match task {
            Task::Regression => {
                let y_pred = p.y_pred.ok_or_else(|| {
                    ValidateError::InvalidInput("regression metrics need y_pred".into())
                })?;
                regression(*self, p.y_true, y_pred)
            }
            Task::Binary => binary(*self, p),
            Task::Multiclass { n_classes } => multiclass(*self, n_classes, p),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = ValidateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|m| m.name()).collect();
            ValidateError::InvalidInput(format!(
                "unknown metric `{s}`; known metrics: {}",
                names.join(", ")
            ))
        })
    }
}

/// A cross-sectional metric: per timestamp across the assets, then the mean over timestamps.
fn cross_sectional(m: Metric, task: Task, p: &Predictions<'_>) -> Result<f64, ValidateError> {
    use crate::cross_section::{IcKind, IcSummary, information_coefficients};
    let times = p.times.ok_or_else(|| {
        ValidateError::InvalidInput(format!(
            "{} is cross-sectional: it needs a panel (set data.asset_column)",
            m.name()
        ))
    })?;
    let score: &[f64] = match task {
        Task::Regression => p
            .y_pred
            .ok_or_else(|| ValidateError::InvalidInput("regression metrics need y_pred".into()))?,
        _ => p
            .proba
            .ok_or_else(|| ValidateError::InvalidInput(format!("{} needs scores", m.name())))?,
    };
    if times.len() != p.y_true.len() {
        return Err(ValidateError::InvalidInput(format!(
            "{} needs one timestamp per row (got {} for {} rows)",
            m.name(),
            times.len(),
            p.y_true.len()
        )));
    }
    match m {
        Metric::CsAuc => {
            let mut rows: Vec<usize> = (0..times.len()).collect();
            rows.sort_by_key(|&i| (times[i], i));
            let mut sum = 0.0;
            let mut count = 0usize;
            for group in rows.chunk_by(|&a, &b| times[a] == times[b]) {
                let y: Vec<usize> = group.iter().map(|&i| p.y_true[i] as usize).collect();
                let s: Vec<f64> = group.iter().map(|&i| score[i]).collect();
                if let Ok(auc) = roc_auc_binary(&y, &s) {
                    sum += auc;
                    count += 1;
                }
            }
            if count == 0 {
                return Err(ValidateError::Undefined {
                    metric: m.name().into(),
                    reason: "no timestamp has assets of both classes".into(),
                });
            }
            Ok(sum / count as f64)
        }
        _ => {
            let kind = if m == Metric::Ic {
                IcKind::Pearson
            } else {
                IcKind::Spearman
            };
            // No timestamp with an IC (a model that predicts a constant) is NaN, as pandas
            // gives: a legitimate "no signal", not a failed job.
            let ics = information_coefficients(times, score, p.y_true, kind)?;
            Ok(IcSummary::of(&ics, 1.0).map_or(f64::NAN, |s| s.mean))
        }
    }
}

/// Computes several metrics; the first failure is returned with the metric's name.
pub fn evaluate(
    task: Task,
    metrics: &[Metric],
    p: &Predictions<'_>,
) -> Result<Vec<(Metric, f64)>, ValidateError> {
    metrics
        .iter()
        .map(|m| m.compute(task, p).map(|v| (*m, v)))
        .collect()
}

/// See [`Metric::invalid_score_row`]; `check_sums` adds the multiclass row-sum rule.
fn score_problem(m: Metric, task: Task, s: &[f64], check_sums: bool) -> Option<(usize, String)> {
    if !m.needs_scores() {
        return None;
    }
    let k = task.n_outputs().max(1);
    let probabilities = matches!(m, Metric::LogLoss | Metric::Brier);
    s.chunks(k).enumerate().find_map(|(row, r)| {
        if let Some(v) = r.iter().find(|v| !v.is_finite()) {
            return Some((row, format!("score {v} is not finite")));
        }
        if probabilities && let Some(v) = r.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Some((
                row,
                format!("{} needs probabilities in [0, 1], got {v}", m.name()),
            ));
        }
        if !check_sums || k < 2 {
            return None;
        }
        let sum: f64 = r.iter().sum();
        let sums_to_one = match m {
            Metric::LogLoss => (sum - 1.0).abs() <= 1e-8 + f64::EPSILON.sqrt(),
            _ => (1.0 - sum).abs() <= 1e-8 + 1e-5 * sum.abs(),
        };
        (!sums_to_one).then(|| {
            (
                row,
                format!(
                    "{} needs class probabilities that sum to 1, got a sum of {sum}",
                    m.name()
                ),
            )
        })
    })
}

fn check_lengths(task: Task, p: &Predictions<'_>) -> Result<(), ValidateError> {
    let n = p.y_true.len();
    if n == 0 {
        return Err(ValidateError::InvalidInput("no samples to score".into()));
    }
    if let Some(y) = p.y_pred
        && y.len() != n
    {
        return Err(ValidateError::InvalidInput(format!(
            "y_pred has {} values for {n} samples",
            y.len()
        )));
    }
    if let Some(s) = p.proba
        && s.len() != n * task.n_outputs()
    {
        return Err(ValidateError::InvalidInput(format!(
            "scores have {} values for {n} samples × {} outputs",
            s.len(),
            task.n_outputs()
        )));
    }
    Ok(())
}

fn class_index(v: f64, n_classes: usize, what: &str, row: usize) -> Result<usize, ValidateError> {
    if v.fract() == 0.0 && v >= 0.0 && (v as usize) < n_classes {
        Ok(v as usize)
    } else {
        Err(ValidateError::InvalidInput(format!(
            "{what} at row {row} is {v}, not a class in 0..{n_classes}"
        )))
    }
}

/// Hard class predictions: given, or 1[p ≥ 0.5] (binary), or the first arg-max (multiclass).
fn hard_predictions(n_classes: usize, p: &Predictions<'_>) -> Result<Vec<usize>, ValidateError> {
    if let Some(y) = p.y_pred {
        return y
            .iter()
            .enumerate()
            .map(|(i, &v)| class_index(v, n_classes, "y_pred", i))
            .collect();
    }
    let s = p.proba.ok_or_else(|| {
        ValidateError::InvalidInput("classification metrics need y_pred or scores".into())
    })?;
    if n_classes == 2 && s.len() == p.y_true.len() {
        return Ok(s.iter().map(|&v| usize::from(v >= 0.5)).collect());
    }
    Ok(s.chunks(n_classes).map(argmax).collect())
}

/// Index of the first maximum (numpy's `argmax`).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Confusion matrix `C[true][pred]` over classes `0..n_classes`.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    let mut c = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        c[t][p] += 1;
    }
    c
}

/// Confusion matrix of a classification prediction set (`C[true][pred]`).
pub fn confusion(task: Task, p: &Predictions<'_>) -> Result<Vec<Vec<u64>>, ValidateError> {
    let k = match task {
        Task::Binary => 2,
        Task::Multiclass { n_classes } => n_classes,
        Task::Regression => {
            return Err(ValidateError::InvalidInput(
                "a confusion matrix needs a classification task".into(),
            ));
        }
    };
    check_lengths(task, p)?;
    let t = truth_classes(k, p.y_true)?;
    let y = hard_predictions(k, p)?;
    Ok(confusion_matrix(&t, &y, k))
}

fn truth_classes(n_classes: usize, y_true: &[f64]) -> Result<Vec<usize>, ValidateError> {
    y_true
        .iter()
        .enumerate()
        .map(|(i, &v)| class_index(v, n_classes, "y_true", i))
        .collect()
}

fn ratio(num: f64, den: f64) -> f64 {
    // scikit-learn's zero_division=0 (its "warn" default also returns 0).
    if den == 0.0 { 0.0 } else { num / den }
}

fn mcc(c: &[Vec<u64>]) -> f64 {
    let k = c.len();
    let s: f64 = c.iter().flatten().map(|&v| v as f64).sum();
    let trace: f64 = (0..k).map(|i| c[i][i] as f64).sum();
    let t: Vec<f64> = (0..k).map(|i| c[i].iter().sum::<u64>() as f64).collect();
    let p: Vec<f64> = (0..k)
        .map(|j| c.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let pt: f64 = t.iter().zip(&p).map(|(a, b)| a * b).sum();
    let pp: f64 = p.iter().map(|v| v * v).sum();
    let tt: f64 = t.iter().map(|v| v * v).sum();
    let den = ((s * s - pp) * (s * s - tt)).sqrt();
    ratio(trace * s - pt, den)
}

fn binary(m: Metric, p: &Predictions<'_>) -> Result<f64, ValidateError> {
    let t = truth_classes(2, p.y_true)?;
    if m.needs_scores() {
        let s = p.proba.ok_or_else(|| {
            ValidateError::InvalidInput(format!("{} needs scores (P(class 1))", m.name()))
        })?;
        return match m {
            Metric::RocAuc => roc_auc_binary(&t, s),
            Metric::LogLoss => Ok(t
                .iter()
                .zip(s)
                .map(|(&y, &q)| {
                    let q = clip_probability(q);
                    -(if y == 1 { q.ln() } else { (1.0 - q).ln() })
                })
                .sum::<f64>()
                / t.len() as f64),
            Metric::Brier => Ok(t
                .iter()
                .zip(s)
                .map(|(&y, &q)| (q - y as f64).powi(2))
                .sum::<f64>()
                / t.len() as f64),
            _ => unreachable!("needs_scores covers exactly these"),
        };
    }
    let y = hard_predictions(2, p)?;
    let c = confusion_matrix(&t, &y, 2);
    let (tn, fp, fn_, tp) = (
        c[0][0] as f64,
        c[0][1] as f64,
        c[1][0] as f64,
        c[1][1] as f64,
    );
    Ok(match m {
        Metric::Accuracy => (tp + tn) / t.len() as f64,
        Metric::Precision => ratio(tp, tp + fp),
        Metric::Recall => ratio(tp, tp + fn_),
        Metric::F1 => ratio(2.0 * tp, 2.0 * tp + fp + fn_),
        Metric::Mcc => mcc(&c),
        _ => unreachable!("applies_to filters binary metrics"),
    })
}

fn clip_probability(q: f64) -> f64 {
    q.clamp(f64::EPSILON, 1.0 - f64::EPSILON)
}

/// Binary ROC AUC with ties counted ½ (Mann–Whitney U with midranks), as scikit-learn's
/// trapezoidal ROC area.
pub fn roc_auc_binary(y_true: &[usize], score: &[f64]) -> Result<f64, ValidateError> {
    let n_pos = y_true.iter().filter(|&&y| y == 1).count();
    let n_neg = y_true.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(ValidateError::Undefined {
            metric: "roc_auc".into(),
            reason: format!(
                "only one class ({}) is present in y_true; ROC AUC needs both",
                if n_pos == 0 { 0 } else { 1 }
            ),
        });
    }
    if let Some(i) = score.iter().position(|s| s.is_nan()) {
        return Err(ValidateError::InvalidInput(format!(
            "score at row {i} is NaN"
        )));
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Sum of midranks (1-based) of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        let positives = order[i..=j].iter().filter(|&&r| y_true[r] == 1).count();
        rank_sum += midrank * positives as f64;
        i = j + 1;
    }
    let (m, n) = (n_pos as f64, n_neg as f64);
    Ok((rank_sum - m * (m + 1.0) / 2.0) / (m * n))
}

fn multiclass(m: Metric, k: usize, p: &Predictions<'_>) -> Result<f64, ValidateError> {
    let t = truth_classes(k, p.y_true)?;
    let n = t.len();
    if m.needs_scores() {
        let s = p.proba.ok_or_else(|| {
            ValidateError::InvalidInput(format!(
                "{} needs one probability per class (proba_<class> columns)",
                m.name()
            ))
        })?;
        return match m {
            Metric::LogLoss => Ok(t
                .iter()
                .enumerate()
                .map(|(i, &y)| -clip_probability(s[i * k + y]).ln())
                .sum::<f64>()
                / n as f64),
            Metric::RocAuc => {
                // One-vs-rest, macro average: scikit-learn requires every class in y_true.
                let mut total = 0.0;
                for class in 0..k {
                    let yk: Vec<usize> = t.iter().map(|&y| usize::from(y == class)).collect();
                    let sk: Vec<f64> = (0..n).map(|i| s[i * k + class]).collect();
                    total += roc_auc_binary(&yk, &sk).map_err(|_| ValidateError::Undefined {
                        metric: "roc_auc".into(),
                        reason: format!(
                            "class {class} is absent from y_true; one-vs-rest ROC AUC needs \
                             every class"
                        ),
                    })?;
                }
                Ok(total / k as f64)
            }
            _ => Err(ValidateError::InvalidInput(format!(
                "{} does not apply to a multiclass task",
                m.name()
            ))),
        };
    }
    let y = hard_predictions(k, p)?;
    let c = confusion_matrix(&t, &y, k);
    if m == Metric::Accuracy {
        return Ok((0..k).map(|i| c[i][i]).sum::<u64>() as f64 / n as f64);
    }
    if m == Metric::Mcc {
        return Ok(mcc(&c));
    }
    // scikit-learn averages over the labels present in y_true or y_pred.
    let support: Vec<f64> = (0..k).map(|i| c[i].iter().sum::<u64>() as f64).collect();
    let predicted: Vec<f64> = (0..k)
        .map(|j| c.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let present: Vec<usize> = (0..k)
        .filter(|&i| support[i] > 0.0 || predicted[i] > 0.0)
        .collect();
    let per_class = |i: usize| -> f64 {
        let tp = c[i][i] as f64;
        match m {
            Metric::PrecisionMacro | Metric::PrecisionWeighted => ratio(tp, predicted[i]),
            Metric::RecallMacro | Metric::RecallWeighted => ratio(tp, support[i]),
            _ => ratio(2.0 * tp, predicted[i] + support[i]),
        }
    };
    Ok(match m {
        Metric::PrecisionMacro | Metric::RecallMacro | Metric::F1Macro => {
            present.iter().map(|&i| per_class(i)).sum::<f64>() / present.len() as f64
        }
        _ => {
            let total: f64 = present.iter().map(|&i| support[i]).sum();
            ratio(
                present
                    .iter()
                    .map(|&i| per_class(i) * support[i])
                    .sum::<f64>(),
                total,
            )
        }
    })
}

fn regression(m: Metric, y: &[f64], yhat: &[f64]) -> Result<f64, ValidateError> {
    let n = y.len() as f64;
    if let Some(i) = y.iter().chain(yhat).position(|v| !v.is_finite()) {
        let (which, row) = if i < y.len() {
            ("y_true", i)
        } else {
            ("y_pred", i - y.len())
        };
        return Err(ValidateError::InvalidInput(format!(
            "{which} at row {row} is not finite"
        )));
    }
    let mse = || {
        y.iter()
            .zip(yhat)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / n
    };
    Ok(match m {
        Metric::Mse => mse(),
        Metric::Rmse => mse().sqrt(),
        Metric::Mae => y.iter().zip(yhat).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
        Metric::Mape => {
            y.iter()
                .zip(yhat)
                .map(|(a, b)| (a - b).abs() / a.abs().max(f64::EPSILON))
                .sum::<f64>()
                / n
        }
        Metric::R2 => {
            if y.len() < 2 {
                return Err(ValidateError::Undefined {
                    metric: "r2".into(),
                    reason: "R² needs at least two samples".into(),
                });
            }
            let mean = y.iter().sum::<f64>() / n;
            let ss_res: f64 = y.iter().zip(yhat).map(|(a, b)| (a - b).powi(2)).sum();
            let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
            if ss_tot == 0.0 {
                // scikit-learn's force_finite=True.
                if ss_res == 0.0 { 1.0 } else { 0.0 }
            } else {
                1.0 - ss_res / ss_tot
            }
        }
        _ => unreachable!("applies_to filters regression metrics"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
    }

    // Binary example, scikit-learn 1.9.1 (scripts/reference/metrics.py).
    const Y: [f64; 10] = [1., 0., 1., 1., 0., 1., 0., 0., 1., 0.];
    const P: [f64; 10] = [0.9, 0.4, 0.65, 0.6, 0.6, 0.8, 0.2, 0.6, 0.45, 0.1];

    #[test]
    fn binary_reference_values() {
        let p = Predictions {
            y_true: &Y,
            y_pred: None,
            proba: Some(&P),
            times: None,
        };
        let expect = [
            (Metric::Accuracy, 0.7),
            (Metric::Precision, 0.6666666666666666),
            (Metric::Recall, 0.8),
            (Metric::F1, 0.7272727272727273),
            (Metric::Mcc, 0.408248290463863),
            (Metric::RocAuc, 0.88),
            (Metric::LogLoss, 0.47405314575345886),
            (Metric::Brier, 0.1565),
        ];
        for (m, v) in expect {
            close(m.compute(Task::Binary, &p).unwrap(), v, 1e-12);
        }
        assert_eq!(
            confusion(Task::Binary, &p).unwrap(),
            vec![vec![3, 2], vec![1, 4]]
        );
    }

    #[test]
    fn binary_edge_cases_match_sklearn() {
        // precision([1,0,1],[0,0,0]) = 0.0 and mcc([1,0,1],[1,1,1]) = 0.0
        // (scripts/reference/metrics.py, as every value in this test).
        let t = [1., 0., 1.];
        let p = Predictions {
            y_true: &t,
            y_pred: Some(&[0., 0., 0.]),
            proba: None,
            times: None,
        };
        assert_eq!(Metric::Precision.compute(Task::Binary, &p).unwrap(), 0.0);
        assert_eq!(Metric::F1.compute(Task::Binary, &p).unwrap(), 0.0);
        let p = Predictions {
            y_true: &t,
            y_pred: Some(&[1., 1., 1.]),
            proba: None,
            times: None,
        };
        assert_eq!(Metric::Mcc.compute(Task::Binary, &p).unwrap(), 0.0);
        // log_loss([1,0],[0,0]) = 18.021826694558577.
        let p = Predictions {
            y_true: &[1., 0.],
            y_pred: None,
            proba: Some(&[0.0, 0.0]),
            times: None,
        };
        close(
            Metric::LogLoss.compute(Task::Binary, &p).unwrap(),
            18.021826694558577,
            1e-12,
        );
        // brier([0,1,1],[0.1,0.9,0.8]) = 0.01999999999999999.
        let p = Predictions {
            y_true: &[0., 1., 1.],
            y_pred: None,
            proba: Some(&[0.1, 0.9, 0.8]),
            times: None,
        };
        close(
            Metric::Brier.compute(Task::Binary, &p).unwrap(),
            0.02,
            1e-12,
        );
    }

    #[test]
    fn auc_ties_and_single_class() {
        // All scores tied: 0.5 (scripts/reference/metrics.py).
        let p = Predictions {
            y_true: &[0., 1., 0., 1.],
            y_pred: None,
            proba: Some(&[0.3; 4]),
            times: None,
        };
        assert_eq!(Metric::RocAuc.compute(Task::Binary, &p).unwrap(), 0.5);
        let p = Predictions {
            y_true: &[1., 1., 1.],
            y_pred: None,
            proba: Some(&[0.3, 0.2, 0.9]),
            times: None,
        };
        let e = Metric::RocAuc.compute(Task::Binary, &p).unwrap_err();
        assert!(e.to_string().contains("only one class"), "{e}");
    }

    // Multiclass example, scikit-learn 1.9.1 (scripts/reference/metrics.py).
    #[test]
    fn multiclass_reference_values() {
        let t = [0., 1., 2., 2., 1., 0., 2., 1., 0., 2.];
        let y = [0., 2., 2., 2., 1., 0., 1., 1., 1., 0.];
        let p = Predictions {
            y_true: &t,
            y_pred: Some(&y),
            proba: None,
            times: None,
        };
        let task = Task::Multiclass { n_classes: 3 };
        let expect = [
            (Metric::Accuracy, 0.6),
            (Metric::PrecisionMacro, 0.611111111111111),
            (Metric::RecallMacro, 0.611111111111111),
            (Metric::F1Macro, 0.6031746031746031),
            (Metric::PrecisionWeighted, 0.6166666666666666),
            (Metric::RecallWeighted, 0.6),
            (Metric::F1Weighted, 0.6),
            (Metric::Mcc, 0.4090909090909091),
        ];
        for (m, v) in expect {
            close(m.compute(task, &p).unwrap(), v, 1e-12);
        }
        assert_eq!(
            confusion(task, &p).unwrap(),
            vec![vec![2, 1, 0], vec![0, 2, 1], vec![1, 1, 2]]
        );
    }

    #[test]
    fn multiclass_probabilistic_metrics() {
        // log_loss([0,1,2], [[.7,.2,.1],[.1,.6,.3],[.2,.2,.6]]) = 0.4594420638235713
        // (scripts/reference/metrics.py, as the ROC AUCs below).
        let proba = [0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6];
        let p = Predictions {
            y_true: &[0., 1., 2.],
            y_pred: None,
            proba: Some(&proba),
            times: None,
        };
        let task = Task::Multiclass { n_classes: 3 };
        close(
            Metric::LogLoss.compute(task, &p).unwrap(),
            0.4594420638235713,
            1e-12,
        );
        // scikit-learn 1.9.1: roc_auc_score([0,1,2,2,1,0], P, multi_class="ovr") with
        // P = [[.5,.3,.2],[.2,.5,.3],[.1,.3,.6],[.3,.3,.4],[.3,.4,.3],[.6,.2,.2]] = 1.0,
        // and with classes 1 and 2 swapped in y: 0.625.
        let proba = [
            0.5, 0.3, 0.2, 0.2, 0.5, 0.3, 0.1, 0.3, 0.6, 0.3, 0.3, 0.4, 0.3, 0.4, 0.3, 0.6, 0.2,
            0.2,
        ];
        let p = Predictions {
            y_true: &[0., 1., 2., 2., 1., 0.],
            y_pred: None,
            proba: Some(&proba),
            times: None,
        };
        close(Metric::RocAuc.compute(task, &p).unwrap(), 1.0, 1e-12);
        let p = Predictions {
            y_true: &[0., 2., 1., 1., 2., 0.],
            y_pred: None,
            proba: Some(&proba),
            times: None,
        };
        close(Metric::RocAuc.compute(task, &p).unwrap(), 0.625, 1e-12);
    }

    // scikit-learn 1.9.1 (scripts/reference/metrics.py).
    #[test]
    fn regression_reference_values() {
        let y = [3., -0.5, 2., 7., 4.];
        let yhat = [2.5, 0., 2., 8., 3.];
        let p = Predictions {
            y_true: &y,
            y_pred: Some(&yhat),
            proba: None,
            times: None,
        };
        let expect = [
            (Metric::Mse, 0.5),
            (
                Metric::Rmse,
                std::f64::consts::FRAC_1_SQRT_2, /* sklearn: 0.7071067811865476 */
            ),
            (Metric::Mae, 0.6),
            (Metric::Mape, 0.3119047619047619),
            (Metric::R2, 0.9172185430463576),
        ];
        for (m, v) in expect {
            close(m.compute(Task::Regression, &p).unwrap(), v, 1e-12);
        }
        // MAPE([0,1,2],[0.1,1,1]) = 150119987579016.72: zero targets divide by epsilon.
        let p = Predictions {
            y_true: &[0., 1., 2.],
            y_pred: Some(&[0.1, 1., 1.]),
            proba: None,
            times: None,
        };
        close(
            Metric::Mape.compute(Task::Regression, &p).unwrap(),
            150119987579016.72,
            1e-12,
        );
        // Constant target: 1.0 on a perfect fit, 0.0 otherwise (force_finite=True).
        let c = [2., 2., 2.];
        let perfect = Predictions {
            y_true: &c,
            y_pred: Some(&c),
            proba: None,
            times: None,
        };
        assert_eq!(Metric::R2.compute(Task::Regression, &perfect).unwrap(), 1.0);
        let off = Predictions {
            y_true: &c,
            y_pred: Some(&[2., 2., 3.]),
            proba: None,
            times: None,
        };
        assert_eq!(Metric::R2.compute(Task::Regression, &off).unwrap(), 0.0);
    }

    #[test]
    fn names_round_trip_and_bad_input_is_reported() {
        for m in Metric::all() {
            assert_eq!(m.name().parse::<Metric>().unwrap(), *m);
        }
        assert!("auc".parse::<Metric>().is_err());
        let p = Predictions {
            y_true: &[0., 3.],
            y_pred: Some(&[0., 1.]),
            proba: None,
            times: None,
        };
        let e = Metric::Accuracy.compute(Task::Binary, &p).unwrap_err();
        assert!(e.to_string().contains("row 1"), "{e}");
        let p = Predictions {
            y_true: &[0., 1.],
            y_pred: Some(&[0.]),
            proba: None,
            times: None,
        };
        assert!(Metric::Accuracy.compute(Task::Binary, &p).is_err());
    }
}
