//! What a training job reports: per fold, over folds, on the holdout and for the final model.
//! `metrics.json` is [`TrainReport`] serialised; the tracker, gates and renderers read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hone_data::Dataset;
use hone_validate::metrics::Metric;
use serde::Serialize;

/// A span of rows: positions, count and timestamps.
#[derive(Debug, Clone, Serialize)]
pub struct RowSpan {
    /// Number of rows.
    pub count: usize,
    /// First row position (in the dataset).
    pub first: usize,
    /// Last row position.
    pub last: usize,
    /// Timestamp of the first row.
    pub first_time: String,
    /// Timestamp of the last row.
    pub last_time: String,
    /// When the rows are not one contiguous block (a CPCV test set of several groups, a
    /// purged training set): each block's first and last timestamp, up to
    /// [`MAX_LISTED_BLOCKS`] blocks (more are counted in `n_blocks` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<[String; 2]>,
    /// Contiguous blocks of rows (absent when 1).
    #[serde(skip_serializing_if = "is_one")]
    pub n_blocks: usize,
}

/// Blocks of a [`RowSpan`] listed by name; more are only counted.
pub const MAX_LISTED_BLOCKS: usize = 8;

fn is_one(n: &usize) -> bool {
    *n == 1
}

impl RowSpan {
    pub(crate) fn of(rows: &[usize], ds: &Dataset) -> Self {
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        // Contiguous runs of row positions (rows are increasing).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &r in rows {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == r => *end = r,
                _ => runs.push((r, r)),
            }
        }
        let blocks = if runs.len() > 1 && runs.len() <= MAX_LISTED_BLOCKS {
            runs.iter()
                .map(|&(a, b)| [ds.times[a].clone(), ds.times[b].clone()])
                .collect()
        } else {
            Vec::new()
        };
        Self {
            count: rows.len(),
            first,
            last,
            first_time: ds.times[first].clone(),
            last_time: ds.times[last].clone(),
            blocks,
            n_blocks: runs.len(),
        }
    }

    /// The span as text: `first..last`, or its blocks joined by ` + ` (`first..last in N
    /// blocks` beyond [`MAX_LISTED_BLOCKS`]).
    pub fn text(&self) -> String {
        if !self.blocks.is_empty() {
            self.blocks
                .iter()
                .map(|[a, b]| format!("{a}..{b}"))
                .collect::<Vec<_>>()
                .join(" + ")
        } else if self.n_blocks > 1 {
            format!(
                "{}..{} in {} blocks",
                self.first_time, self.last_time, self.n_blocks
            )
        } else {
            format!("{}..{}", self.first_time, self.last_time)
        }
    }
}

/// One fold's result.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    /// Fold number, from 1 (the final refit is `n_folds + 1`).
    pub fold: usize,
    /// Training rows.
    pub train: RowSpan,
    /// Test rows.
    pub test: RowSpan,
    /// Test metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// The same metrics in sample, on the fold's own training rows.
    pub train_metrics: BTreeMap<String, f64>,
    /// Boosting rounds run.
    pub iterations_run: usize,
    /// Rounds kept (best round under early stopping).
    pub best_iteration: usize,
    /// Features that reached the model after selection.
    pub selected_features: Vec<String>,
    /// Early-stopping validation metric name (LightGBM's), if any.
    pub valid_metric: Option<String>,
    /// Validation metric after each boosting round (tracked as a step metric, not in JSON).
    #[serde(skip)]
    pub valid_curve: Vec<f64>,
    /// The validation curve in brief for `metrics.json`: at most [`CURVE_SAMPLE_POINTS`]
    /// rounds (`learning_curve.svg` and the tracker's step metrics have every round).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_curve: Option<CurveSample>,
}

/// Most rounds of a validation curve that `metrics.json` lists per fold.
pub const CURVE_SAMPLE_POINTS: usize = 50;

/// Some rounds of a validation curve and their values: evenly spaced, always with the first,
/// the last and the best round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveSample {
    /// Rounds, from 1, increasing.
    pub rounds: Vec<usize>,
    /// The validation metric after each of them.
    pub values: Vec<f64>,
}

impl CurveSample {
    /// A sample of `curve` (value after round `i + 1` at `i`) keeping `best` (a round from 1);
    /// `None` for an empty curve.
    pub fn of(curve: &[f64], best: usize) -> Option<Self> {
        let n = curve.len();
        if n == 0 {
            return None;
        }
        let k = CURVE_SAMPLE_POINTS.saturating_sub(1).max(1);
        let mut idx: Vec<usize> = if n <= CURVE_SAMPLE_POINTS {
            (0..n).collect()
        } else {
            // k - 1 evenly spaced rounds, the last one and the best one.
            (0..k - 1)
                .map(|i| i * (n - 1) / (k - 1))
                .chain([n - 1])
                .collect()
        };
        if (1..=n).contains(&best) {
            idx.push(best - 1);
        }
        idx.sort_unstable();
        idx.dedup();
        Some(Self {
            rounds: idx.iter().map(|i| i + 1).collect(),
            values: idx.iter().map(|&i| curve[i]).collect(),
        })
    }
}

/// Mean and spread of a metric across folds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Mean over folds.
    pub mean: f64,
    /// Population standard deviation over folds (numpy's default, ddof = 0).
    pub std: f64,
    /// Smallest fold value.
    pub min: f64,
    /// Largest fold value.
    pub max: f64,
}

/// The holdout's result.
#[derive(Debug, Clone, Serialize)]
pub struct HoldoutReport {
    /// Holdout rows.
    pub rows: RowSpan,
    /// Rows purged between development and holdout.
    pub purged_rows: usize,
    /// Metrics by name.
    pub metrics: BTreeMap<String, f64>,
}

/// The final model's size and cost, what an accuracy-vs-complexity search trades against:
/// `metrics.json`'s `complexity`, the run's `complexity.<key>` metrics, and names a gate can
/// use (`complexity.model_size_bytes < 1000000`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelCost {
    /// Bytes of the saved model: `pipeline.json` and the model's own files (`model.txt`).
    pub model_size_bytes: u64,
    /// The family's own counts: trees and leaves (GBDT), non-zero coefficients and
    /// parameters (linear).
    #[serde(flatten)]
    pub shape: hone_models::Complexity,
    /// Features the model gives a non-zero importance (of those that reach it).
    pub features_used: usize,
    /// Seconds the final refit took to train (its steps and the model).
    pub fit_seconds: f64,
    /// Microseconds per row to predict the holdout rows (the development rows without a
    /// holdout), steps included, one call for all rows.
    pub predict_us_per_row: f64,
}

/// The names of [`ModelCost`]'s numbers, as objectives, metrics (`complexity.<name>`) and
/// gates name them. Every one is minimised by default.
pub const COST_NAMES: [&str; 8] = [
    "model_size_bytes",
    "trees",
    "leaves",
    "nonzero_coefficients",
    "parameters",
    "features_used",
    "fit_seconds",
    "predict_us_per_row",
];

impl ModelCost {
    /// The number called `name` (one of [`COST_NAMES`]); `None` when the model's family has
    /// no such count (trees of a linear model).
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// `(name, value)` of every number, as metrics and gates name them (without the
    /// `complexity.` prefix).
    pub fn values(&self) -> Vec<(&'static str, f64)> {
        let mut v = vec![
            ("model_size_bytes", self.model_size_bytes as f64),
            ("features_used", self.features_used as f64),
            ("fit_seconds", self.fit_seconds),
            ("predict_us_per_row", self.predict_us_per_row),
        ];
        for (name, x) in [
            ("trees", self.shape.trees),
            ("leaves", self.shape.leaves),
            ("nonzero_coefficients", self.shape.nonzero_coefficients),
            ("parameters", self.shape.parameters),
        ] {
            if let Some(x) = x {
                v.push((name, x as f64));
            }
        }
        v
    }
}

/// The portfolio backtest's figures of the out-of-fold predictions and of the holdout.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioReport {
    /// Out-of-fold (each development timestamp once).
    pub cv: crate::portfolio::PortfolioSummary,
    /// The holdout.
    pub holdout: Option<crate::portfolio::PortfolioSummary>,
}

/// Everything `hone train` reports (also written to `metrics.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Job name.
    pub name: String,
    /// hone version.
    pub hone_version: String,
    /// Config file.
    pub config: PathBuf,
    /// Data file.
    pub data: PathBuf,
    /// SHA-256 of the loaded table.
    pub fingerprint: String,
    /// Rows used (after warm-up and label drops).
    pub rows: usize,
    /// Feature names.
    pub features: Vec<String>,
    /// `binary`, `multiclass` or `regression`.
    pub task: String,
    /// Class names, for classification.
    pub classes: Option<Vec<String>>,
    /// Model type.
    pub model: String,
    /// Resolved LightGBM parameters (LightGBM models).
    pub model_params: Option<BTreeMap<String, String>>,
    /// CV scheme name.
    pub scheme: String,
    /// Rows given to cross-validation.
    pub development: RowSpan,
    /// Metric names in display order.
    pub metrics: Vec<String>,
    /// Per-fold results.
    pub folds: Vec<FoldReport>,
    /// Mean ± std of each metric over folds.
    pub cv: BTreeMap<String, Summary>,
    /// Train–validation gap per metric: mean in-sample value minus mean out-of-fold value (a
    /// large gap in the good direction means overfitting).
    pub train_cv_gap: BTreeMap<String, f64>,
    /// Holdout result (absent when `split.holdout = 0`).
    pub holdout: Option<HoldoutReport>,
    /// The final model's refit.
    pub final_model: FoldReport,
    /// For a model that stops early: how many rounds the refit trained, from the folds' best
    /// iterations (`[model] refit_rounds`).
    pub refit: Option<RefitReport>,
    /// Classification: the accuracy of always predicting the development rows' majority class.
    pub base_rate: Option<BaseRate>,
    /// Feature importances of the final model (gain for LightGBM, |coef| for linear models).
    pub importances: Vec<(String, f64)>,
    /// What `importances` measures (`total split gain`, `|coefficient|`).
    pub importance_kind: String,
    /// The final model's size and cost (also the run's `complexity.*` metrics).
    pub complexity: ModelCost,
    /// Drift of each feature between the development rows and the holdout (Evidently's
    /// default tests); empty without a holdout.
    pub drift: Vec<hone_validate::drift::ColumnDrift>,
    /// Share of drifted features, and whether that makes the holdout drifted (≥ 0.5).
    pub drift_share: f64,
    /// Trading evaluation (with a `[trading]` table).
    pub trading: Option<crate::trading::TradingReport>,
    /// A panel's cross-sectional report: IC, rank IC, ICIR, IC decay (with
    /// `[data] asset_column`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel: Option<crate::portfolio::PanelReport>,
    /// A panel's portfolio figures beyond `trading` (with `[portfolio]`): turnover, exposures,
    /// legs, returns by quantile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioReport>,
    /// Quality gates (with a `[gates]` table).
    pub gates: Vec<crate::gates::GateResult>,
    /// Stress and sensitivity: by year, by volatility regime, cost curve, feature noise.
    pub stress: Option<crate::stress::StressReport>,
    /// Notes for the user (dropped rows, leakage warnings).
    pub notes: Vec<String>,
    /// The `--set KEY=VALUE` overrides the config was run with, in order (absent when none):
    /// `config.toml` holds their effect, this says which values did not come from the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Output directory (`None`: the job wrote no folder, its files are only its tracked run's
    /// artifacts — `--no-outputs`).
    pub out_dir: Option<PathBuf>,
    /// Wall time of the whole job, seconds.
    pub seconds: f64,
}

/// The majority-class baseline of a classification job.
#[derive(Debug, Clone, Serialize)]
pub struct BaseRate {
    /// The development rows' most frequent class.
    pub majority_class: String,
    /// Its share of the out-of-fold rows (the accuracy of always predicting it).
    pub cv: f64,
    /// Its share of the holdout rows.
    pub holdout: Option<f64>,
}

/// How the final model's rounds were chosen.
#[derive(Debug, Clone, Serialize)]
pub struct RefitReport {
    /// The rule (`mean`, `median`, `max`, a number, or `early_stopping`).
    pub rule: String,
    /// Each fold's best iteration.
    pub fold_rounds: Vec<usize>,
    /// The rounds the refit trained on every development row (`None`: it early-stopped on its
    /// own slice).
    pub rounds: Option<usize>,
}

/// Mean, population std, min and max of each metric over folds.
pub(crate) fn summarize(folds: &[FoldReport], metrics: &[Metric]) -> BTreeMap<String, Summary> {
    metrics
        .iter()
        .map(|m| {
            let v: Vec<f64> = folds.iter().map(|f| f.metrics[m.name()]).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (
                m.name().to_string(),
                Summary {
                    mean,
                    std,
                    min,
                    max,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_samples_keep_ends_and_best() {
        assert_eq!(CurveSample::of(&[], 0), None);
        let short = CurveSample::of(&[0.5, 0.4, 0.45], 2).unwrap();
        assert_eq!(short.rounds, [1, 2, 3]);
        assert_eq!(short.values, [0.5, 0.4, 0.45]);
        let long: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        let s = CurveSample::of(&long, 777).unwrap();
        assert!(s.rounds.len() <= CURVE_SAMPLE_POINTS);
        assert_eq!((s.rounds[0], *s.rounds.last().unwrap()), (1, 1000));
        assert!(s.rounds.contains(&777));
        assert!(s.rounds.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            s.values[s.rounds.iter().position(|&r| r == 777).unwrap()],
            0.776
        );
    }
}
