//! Preprocessing steps fitted on training rows only: imputation, scaling, feature selection.
//!
//! Each step follows its scikit-learn counterpart (`SimpleImputer`, `StandardScaler`,
//! `MinMaxScaler`, `RobustScaler`, `SelectKBest` with `f_classif`/`f_regression`, `RFE`,
//! `SelectFromModel(Lasso)`), including how it treats constant columns. A step's fitted state is
//! plain data, saved with the pipeline.

use serde::{Deserialize, Serialize};

use crate::linear::coordinate_descent;
use crate::{Matrix, ModelError};

/// Something fitted on training rows and then applied to any rows.
pub trait Transformer {
    /// Learns the step's statistics from the training rows `x` (and target `y`).
    fn fit(&mut self, x: &Matrix, y: &[f64], ctx: &FitContext<'_>) -> Result<(), ModelError>;
    /// Applies the fitted step.
    fn transform(&self, x: &Matrix) -> Result<Matrix, ModelError>;
    /// Which input columns the output keeps (all, for non-selectors).
    fn kept_columns(&self, n_inputs: usize) -> Vec<usize> {
        (0..n_inputs).collect()
    }
}

/// Fits the pipeline's model on `(x, y)` and returns one importance per column (for RFE).
pub type ImportanceFn<'a> = &'a dyn Fn(&Matrix, &[f64]) -> Result<Vec<f64>, ModelError>;

/// What a step may need besides the data: whether the task is classification, and for RFE a
/// way to fit the pipeline's model and read its feature importances.
pub struct FitContext<'a> {
    /// Whether the target holds class codes.
    pub classification: bool,
    /// Fits the pipeline's model on `(x, y)` and returns one importance per column.
    pub importances: Option<ImportanceFn<'a>>,
}

/// How missing values are filled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImputeStrategy {
    /// Column mean of the training rows.
    Mean,
    /// Column median of the training rows.
    Median,
    /// A fixed value.
    Constant,
}

/// scikit-learn's `SimpleImputer` (NaN is missing). A column with no observed training value is
/// filled with 0, like `keep_empty_features=True`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    /// The strategy.
    pub strategy: ImputeStrategy,
    /// The value used by `Constant`.
    pub fill_value: f64,
    /// Fitted fill value per column.
    #[serde(default)]
    pub statistics: Vec<f64>,
}

fn observed(col: &[f64]) -> Vec<f64> {
    col.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// numpy's `percentile(…, method="linear")` of the non-NaN values; NaN if there are none.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = observed(values);
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let t = pos - lo as f64;
    // numpy's _lerp, which is exact at both ends.
    let (a, b) = (v[lo], v[hi]);
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

fn mean_of(values: &[f64]) -> f64 {
    let v = observed(values);
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

impl Transformer for Imputer {
    fn fit(&mut self, x: &Matrix, _y: &[f64], _ctx: &FitContext<'_>) -> Result<(), ModelError> {
        self.statistics = (0..x.n_cols())
            .map(|j| {
                let v = match self.strategy {
                    ImputeStrategy::Mean => mean_of(x.col(j)),
                    ImputeStrategy::Median => percentile(x.col(j), 50.0),
                    ImputeStrategy::Constant => self.fill_value,
                };
                if v.is_nan() { 0.0 } else { v }
            })
            .collect();
        Ok(())
    }

    fn transform(&self, x: &Matrix) -> Result<Matrix, ModelError> {
        let mut out = x.clone();
        for (j, fill) in self.statistics.iter().enumerate() {
            for v in out.col_mut(j) {
                if v.is_nan() {
                    *v = *fill;
                }
            }
        }
        Ok(out)
    }
}

/// Which scaler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleKind {
    /// `(x − mean) / std`, population std (`StandardScaler`).
    Standard,
    /// `(x − min) / (max − min)` (`MinMaxScaler`).
    Minmax,
    /// `(x − median) / (q75 − q25)` (`RobustScaler`).
    Robust,
}

/// A fitted affine scaler `(x − offset) / scale`; a zero scale (constant column) is replaced
/// by 1, as scikit-learn does. NaN is ignored when fitting and kept when transforming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Which scaler.
    pub kind: ScaleKind,
    /// Fitted offset per column.
    #[serde(default)]
    pub offset: Vec<f64>,
    /// Fitted scale per column.
    #[serde(default)]
    pub scale: Vec<f64>,
}

impl Transformer for Scaler {
    fn fit(&mut self, x: &Matrix, _y: &[f64], _ctx: &FitContext<'_>) -> Result<(), ModelError> {
        self.offset.clear();
        self.scale.clear();
        for j in 0..x.n_cols() {
            let v = observed(x.col(j));
            let (offset, scale) = match self.kind {
                ScaleKind::Standard => {
                    let m = mean_of(&v);
                    let var = v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64;
                    (m, var.sqrt())
                }
                ScaleKind::Minmax => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (lo, hi - lo)
                }
                ScaleKind::Robust => (
                    percentile(&v, 50.0),
                    percentile(&v, 75.0) - percentile(&v, 25.0),
                ),
            };
            let offset = if offset.is_finite() { offset } else { 0.0 };
            // scikit-learn's _handle_zeros_in_scale: constant columns keep scale 1.
            let scale = if scale.is_finite() && scale.abs() > 10.0 * f64::EPSILON {
                scale
            } else {
                1.0
            };
            self.offset.push(offset);
            self.scale.push(scale);
        }
        Ok(())
    }

    fn transform(&self, x: &Matrix) -> Result<Matrix, ModelError> {
        let mut out = x.clone();
        for j in 0..self.offset.len() {
            let (o, s) = (self.offset[j], self.scale[j]);
            for v in out.col_mut(j) {
                *v = (*v - o) / s;
            }
        }
        Ok(out)
    }
}

/// How features are selected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum SelectMethod {
    /// The `k` best univariate scores: ANOVA F (classification) or F-regression (regression).
    Selectkbest {
        /// How many features to keep.
        k: usize,
    },
    /// Recursive elimination: refit the model, drop the `step` least important features, repeat
    /// until `n_features` remain.
    Rfe {
        /// How many features to keep.
        n_features: usize,
        /// Features removed per round.
        #[serde(default = "one")]
        step: usize,
    },
    /// Lasso (L1) coefficients: keep `|coef| ≥ 1e-5`, or the top `n_features` by `|coef|`.
    Lasso {
        /// L1 strength, scikit-learn's `Lasso(alpha)`.
        #[serde(default = "default_lasso_alpha")]
        alpha: f64,
        /// Keep exactly this many features (largest `|coef|` first).
        #[serde(default)]
        n_features: Option<usize>,
    },
}

fn one() -> usize {
    1
}

fn default_lasso_alpha() -> f64 {
    0.01
}

/// A fitted feature selector: which input columns it keeps and the scores it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selector {
    /// The method and its settings.
    pub method: SelectMethod,
    /// Kept input columns, in increasing order.
    #[serde(default)]
    pub support: Vec<usize>,
    /// Score per input column (F statistic, final RFE ranking, or |coef|).
    #[serde(default)]
    pub scores: Vec<f64>,
}

/// scikit-learn's `f_classif` (one-way ANOVA F per column) for class codes `y`.
pub fn f_classif(x: &Matrix, y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    let mut classes: Vec<f64> = y.to_vec();
    classes.sort_by(f64::total_cmp);
    classes.dedup();
    let k = classes.len() as f64;
    (0..x.n_cols())
        .map(|j| {
            let col = x.col(j);
            let ss_all: f64 = col.iter().map(|v| v * v).sum();
            let sum_all: f64 = col.iter().sum();
            let sq_sum_all = sum_all * sum_all;
            let mut ssbn = 0.0;
            for c in &classes {
                let (s, m) = col
                    .iter()
                    .zip(y)
                    .filter(|(_, t)| *t == c)
                    .fold((0.0, 0usize), |(s, m), (v, _)| (s + v, m + 1));
                ssbn += s * s / m as f64;
            }
            let sstot = ss_all - sq_sum_all / n;
            ssbn -= sq_sum_all / n;
            let sswn = sstot - ssbn;
            (ssbn / (k - 1.0)) / (sswn / (n - k))
        })
        .collect()
}

/// scikit-learn's `f_regression` (centered, `force_finite=True`).
pub fn f_regression(x: &Matrix, y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    let y_mean = y.iter().sum::<f64>() / n;
    let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let y_norm = yc.iter().map(|v| v * v).sum::<f64>().sqrt();
    (0..x.n_cols())
        .map(|j| {
            let col = x.col(j);
            let mean = col.iter().sum::<f64>() / n;
            let norm = (col.iter().map(|v| v * v).sum::<f64>() - n * mean * mean).sqrt();
            let r = yc.iter().zip(col).map(|(a, b)| a * b).sum::<f64>() / norm / y_norm;
            let r2 = r * r;
            let f = r2 / (1.0 - r2) * (n - 2.0);
            if f.is_nan() {
                0.0
            } else if f.is_infinite() {
                f64::MAX
            } else {
                f
            }
        })
        .collect()
}

/// Indices of the `k` largest scores as `SelectKBest` picks them: NaN counts as the smallest
/// value, and among ties the later column wins (stable ascending sort, last `k`).
fn top_k_like_select_k_best(scores: &[f64], k: usize) -> Vec<usize> {
    let clean: Vec<f64> = scores
        .iter()
        .map(|s| if s.is_nan() { f64::MIN } else { *s })
        .collect();
    let mut order: Vec<usize> = (0..clean.len()).collect();
    order.sort_by(|&a, &b| clean[a].total_cmp(&clean[b]));
    let mut keep = order[order.len() - k..].to_vec();
    keep.sort_unstable();
    keep
}

impl Transformer for Selector {
    fn fit(&mut self, x: &Matrix, y: &[f64], ctx: &FitContext<'_>) -> Result<(), ModelError> {
        let p = x.n_cols();
        let check_k = |k: usize, name: &str| -> Result<(), ModelError> {
            if k == 0 || k > p {
                return Err(ModelError::Config(format!(
                    "preprocess.select.{name} must be between 1 and the number of features ({p}), got {k}"
                )));
            }
            Ok(())
        };
        match self.method.clone() {
            SelectMethod::Selectkbest { k } => {
                check_k(k, "k")?;
                self.scores = if ctx.classification {
                    f_classif(x, y)
                } else {
                    f_regression(x, y)
                };
                self.support = top_k_like_select_k_best(&self.scores, k);
            }
            SelectMethod::Rfe { n_features, step } => {
                check_k(n_features, "n_features")?;
                if step == 0 {
                    return Err(ModelError::Config(
                        "preprocess.select.step must be ≥ 1".into(),
                    ));
                }
                let importances = ctx.importances.ok_or_else(|| {
                    ModelError::Config("rfe needs a model to rank features".into())
                })?;
                // scikit-learn's RFE: ranking_ is 1 for kept features, larger for earlier drops.
                let mut alive: Vec<usize> = (0..p).collect();
                let mut ranking = vec![1.0; p];
                while alive.len() > n_features {
                    let imp = importances(&x.select_columns(&alive), y)?;
                    let mut order: Vec<usize> = (0..alive.len()).collect();
                    order.sort_by(|&a, &b| imp[a].total_cmp(&imp[b]));
                    let drop = step.min(alive.len() - n_features);
                    let mut dropped: Vec<usize> = order[..drop].iter().map(|&i| alive[i]).collect();
                    for r in ranking.iter_mut() {
                        if *r > 1.0 {
                            *r += 1.0;
                        }
                    }
                    for &d in &dropped {
                        ranking[d] = 2.0;
                    }
                    dropped.sort_unstable();
                    alive.retain(|a| dropped.binary_search(a).is_err());
                }
                self.support = alive;
                self.scores = ranking;
            }
            SelectMethod::Lasso { alpha, n_features } => {
                if let Some(n) = n_features {
                    check_k(n, "n_features")?;
                }
                if alpha.is_nan() || alpha < 0.0 {
                    return Err(ModelError::Config(format!(
                        "preprocess.select.alpha must be ≥ 0, got {alpha}"
                    )));
                }
                let fit = coordinate_descent(x, y, alpha, 1.0, 1000, 1e-4)?;
                self.scores = fit.coef.iter().map(|c| c.abs()).collect();
                self.support = match n_features {
                    // SelectFromModel(max_features=n, threshold=-inf): largest |coef| first,
                    // ties to the earlier column.
                    Some(n) => {
                        let mut order: Vec<usize> = (0..p).collect();
                        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]));
                        let mut keep = order[..n].to_vec();
                        keep.sort_unstable();
                        keep
                    }
                    // SelectFromModel's default threshold for L1 models.
                    None => (0..p).filter(|&j| self.scores[j] >= 1e-5).collect(),
                };
                if self.support.is_empty() {
                    return Err(ModelError::Data(format!(
                        "lasso selection at alpha={alpha} kept no feature: lower preprocess.select.alpha or set n_features"
                    )));
                }
            }
        }
        Ok(())
    }

    fn transform(&self, x: &Matrix) -> Result<Matrix, ModelError> {
        Ok(x.select_columns(&self.support))
    }

    fn kept_columns(&self, _n_inputs: usize) -> Vec<usize> {
        self.support.clone()
    }
}

/// One preprocessing step (fitted or not), as stored in a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Fill missing values.
    Impute(Imputer),
    /// Scale columns.
    Scale(Scaler),
    /// Keep a subset of columns.
    Select(Selector),
}

impl Step {
    /// The number of columns this fitted step gives for `n_inputs` input columns, or why its
    /// fitted state cannot take them (a step read from a file must not index out of range).
    pub fn output_width(&self, n_inputs: usize) -> Result<usize, String> {
        match self {
            Step::Impute(s) if s.statistics.len() == n_inputs => Ok(n_inputs),
            Step::Impute(s) => Err(format!(
                "the imputer has {} fill values for {n_inputs} columns",
                s.statistics.len()
            )),
            Step::Scale(s) if s.offset.len() == n_inputs && s.scale.len() == n_inputs => {
                Ok(n_inputs)
            }
            Step::Scale(s) => Err(format!(
                "the scaler has {} offsets and {} scales for {n_inputs} columns",
                s.offset.len(),
                s.scale.len()
            )),
            Step::Select(s) => match s.support.iter().find(|&&j| j >= n_inputs) {
                Some(j) => Err(format!(
                    "the selector keeps column {j} of {n_inputs} columns"
                )),
                None => Ok(s.support.len()),
            },
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Transformer {
        match self {
            Step::Impute(s) => s,
            Step::Scale(s) => s,
            Step::Select(s) => s,
        }
    }

    fn inner(&self) -> &dyn Transformer {
        match self {
            Step::Impute(s) => s,
            Step::Scale(s) => s,
            Step::Select(s) => s,
        }
    }
}

impl Transformer for Step {
    fn fit(&mut self, x: &Matrix, y: &[f64], ctx: &FitContext<'_>) -> Result<(), ModelError> {
        self.inner_mut().fit(x, y, ctx)
    }
    fn transform(&self, x: &Matrix) -> Result<Matrix, ModelError> {
        self.inner().transform(x)
    }
    fn kept_columns(&self, n_inputs: usize) -> Vec<usize> {
        self.inner().kept_columns(n_inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(classification: bool) -> FitContext<'static> {
        FitContext {
            classification,
            importances: None,
        }
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= tol * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    // X = [[1, 10, 5], [2, 20, 5], [4, 15, 5], [8, 30, 5], [100, 25, 5]] (constant third column).
    fn x() -> Matrix {
        Matrix::from_row_major(
            5,
            3,
            &[
                1., 10., 5., 2., 20., 5., 4., 15., 5., 8., 30., 5., 100., 25., 5.,
            ],
        )
    }

    #[test]
    fn scalers_match_sklearn() {
        // scripts/reference/preprocessing.py prints every value of this module's tests.
        // scikit-learn 1.9.1 StandardScaler().fit(X): mean_ = [23, 20, 5],
        // scale_ = [38.57460304397182, 7.0710678118654755, 1.0].
        let mut s = Scaler {
            kind: ScaleKind::Standard,
            offset: vec![],
            scale: vec![],
        };
        s.fit(&x(), &[], &ctx(false)).unwrap();
        close(&s.offset, &[23., 20., 5.], 1e-12);
        close(
            &s.scale,
            &[38.57460304397182, 7.0710678118654755, 1.0],
            1e-12,
        );
        let t = s.transform(&x()).unwrap();
        close(t.col(2), &[0.0; 5], 0.0);
        // MinMaxScaler: data_min_ = [1, 10, 5], data_range_ = [99, 20, 0] -> scale 1 for col 3.
        let mut m = Scaler {
            kind: ScaleKind::Minmax,
            offset: vec![],
            scale: vec![],
        };
        m.fit(&x(), &[], &ctx(false)).unwrap();
        close(
            m.transform(&x()).unwrap().col(1),
            &[0., 0.5, 0.25, 1., 0.75],
            1e-12,
        );
        // RobustScaler: center_ = [4, 20, 5], scale_ = [6, 10, 1].
        let mut r = Scaler {
            kind: ScaleKind::Robust,
            offset: vec![],
            scale: vec![],
        };
        r.fit(&x(), &[], &ctx(false)).unwrap();
        close(&r.offset, &[4., 20., 5.], 1e-12);
        close(&r.scale, &[6., 10., 1.], 1e-12);
    }

    #[test]
    fn imputer_matches_sklearn() {
        let nan = f64::NAN;
        let m = Matrix::from_row_major(4, 2, &[1., nan, nan, 2., 3., 4., 10., nan]);
        for (strategy, want) in [
            (ImputeStrategy::Mean, [14. / 3., 3.]),
            (ImputeStrategy::Median, [3., 3.]),
            (ImputeStrategy::Constant, [-1., -1.]),
        ] {
            let mut i = Imputer {
                strategy,
                fill_value: -1.0,
                statistics: vec![],
            };
            i.fit(&m, &[], &ctx(false)).unwrap();
            close(&i.statistics, &want, 1e-12);
            let t = i.transform(&m).unwrap();
            assert_eq!(t.get(1, 0), want[0]);
            assert_eq!(t.get(0, 1), want[1]);
            assert_eq!(t.get(2, 0), 3.0);
        }
    }

    #[test]
    fn percentile_is_numpy_linear() {
        // numpy 2.4.6: np.percentile([1, 2, 4, 8, 100], [25, 50, 75, 10]) = [2, 4, 8, 1.4].
        let v = [100., 1., 8., 2., 4.];
        close(
            &[10.0, 25.0, 50.0, 75.0].map(|q| percentile(&v, q)),
            &[1.4, 2., 4., 8.],
            1e-12,
        );
    }

    // scikit-learn 1.9.1 on X above (scripts/reference/preprocessing.py):
    // f_classif(X, [0,0,1,1,1]) = [0.7835852521542589, 1.4999999999999918, nan]
    // f_regression(X, [1.5, 2.5, 2.0, 4.0, 3.5]) = [0.9020979020979021, 168.99999999998983, 0.0]
    #[test]
    fn univariate_scores_match_sklearn() {
        let f = f_classif(&x(), &[0., 0., 1., 1., 1.]);
        close(&f[..2], &[0.7835852521542589, 1.4999999999999918], 1e-10);
        assert!(f[2].is_nan());
        let f = f_regression(&x(), &[1.5, 2.5, 2.0, 4.0, 3.5]);
        close(&f, &[0.9020979020979021, 168.99999999998983, 0.0], 1e-10);
        let mut s = Selector {
            method: SelectMethod::Selectkbest { k: 1 },
            support: vec![],
            scores: vec![],
        };
        s.fit(&x(), &[0., 0., 1., 1., 1.], &ctx(true)).unwrap();
        assert_eq!(s.support, vec![1]);
        assert_eq!(s.transform(&x()).unwrap().col(0), x().col(1));
        // Ties: the later column wins, NaN loses.
        assert_eq!(
            top_k_like_select_k_best(&[1., f64::NAN, 1., 0.5], 1),
            vec![2]
        );
    }

    #[test]
    fn rfe_drops_least_important_first() {
        // Importance = column index + 1 (a stand-in model): column 0 goes first, then 1.
        let imp = |m: &Matrix, _y: &[f64]| -> Result<Vec<f64>, ModelError> {
            Ok((0..m.n_cols()).map(|j| m.col(j)[0]).collect())
        };
        let m = Matrix::from_row_major(1, 4, &[1., 2., 3., 4.]);
        let mut s = Selector {
            method: SelectMethod::Rfe {
                n_features: 2,
                step: 1,
            },
            support: vec![],
            scores: vec![],
        };
        let c = FitContext {
            classification: false,
            importances: Some(&imp),
        };
        s.fit(&m, &[0.0], &c).unwrap();
        assert_eq!(s.support, vec![2, 3]);
        assert_eq!(s.scores, vec![3., 2., 1., 1.]);
        let mut bad = s.clone();
        bad.method = SelectMethod::Rfe {
            n_features: 9,
            step: 1,
        };
        assert!(bad.fit(&m, &[0.0], &c).is_err());
    }
}

/// Preprocessing steps, applied in the order impute → scale → select.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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
