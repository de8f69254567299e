//! Linear models with scikit-learn's objectives.
//!
//! - `linear` (ordinary least squares) and `ridge` go through smartcore (QR and Cholesky solves);
//!   ridge is solved on centred data so that the intercept is not penalised, as in scikit-learn.
//! - `lasso` and `elastic_net` use cyclic coordinate descent on scikit-learn's objective
//!   `1/(2n)·‖y − Xw − b‖² + α·ρ·‖w‖₁ + ½·α·(1−ρ)·‖w‖²` with its duality-gap stopping rule, which
//!   gives exact zeros (needed by lasso feature selection).
//! - `logistic` minimises `C·Σ log-loss + ½‖W‖²` (L2) or `C·Σ log-loss + ‖W‖₁` (L1), binary or
//!   multinomial, intercept unpenalised, by accelerated proximal gradient to a tight tolerance.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::ridge_regression::{
    RidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName,
};

use crate::{Matrix, ModelError};

/// Which linear model, with its hyperparameters (scikit-learn's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LinearSpec {
    /// Ordinary least squares.
    Linear,
    /// L2-penalised least squares, `‖y − Xw‖² + α‖w‖²`.
    Ridge {
        /// Penalty strength.
        #[serde(default = "default_alpha")]
        alpha: f64,
    },
    /// L1-penalised least squares.
    Lasso {
        /// Penalty strength.
        #[serde(default = "default_alpha")]
        alpha: f64,
        /// Iteration cap of coordinate descent.
        #[serde(default = "default_max_iter")]
        max_iter: usize,
        /// Duality-gap tolerance (relative to ‖y‖²).
        #[serde(default = "default_tol")]
        tol: f64,
    },
    /// L1 + L2 penalised least squares.
    ElasticNet {
        /// Penalty strength.
        #[serde(default = "default_alpha")]
        alpha: f64,
        /// Share of L1 in the penalty, in [0, 1].
        #[serde(default = "default_l1_ratio")]
        l1_ratio: f64,
        /// Iteration cap of coordinate descent.
        #[serde(default = "default_max_iter")]
        max_iter: usize,
        /// Duality-gap tolerance (relative to ‖y‖²).
        #[serde(default = "default_tol")]
        tol: f64,
    },
    /// Logistic regression (binary or multinomial).
    Logistic {
        /// Inverse penalty strength.
        #[serde(rename = "C", alias = "c", default = "default_c")]
        c: f64,
        /// `l2` or `l1`.
        #[serde(default = "default_penalty")]
        penalty: String,
        /// Iteration cap of the solver.
        #[serde(default = "default_logistic_iter")]
        max_iter: usize,
    },
}

fn default_alpha() -> f64 {
    1.0
}
fn default_l1_ratio() -> f64 {
    0.5
}
fn default_max_iter() -> usize {
    1000
}
fn default_tol() -> f64 {
    1e-4
}
fn default_c() -> f64 {
    1.0
}
fn default_penalty() -> String {
    "l2".into()
}
fn default_logistic_iter() -> usize {
    10_000
}

impl LinearSpec {
    /// The model's name as written in configs.
    pub fn name(&self) -> &'static str {
        match self {
            LinearSpec::Linear => "linear",
            LinearSpec::Ridge { .. } => "ridge",
            LinearSpec::Lasso { .. } => "lasso",
            LinearSpec::ElasticNet { .. } => "elastic_net",
            LinearSpec::Logistic { .. } => "logistic",
        }
    }

    /// Whether the model is a classifier.
    pub fn is_classifier(&self) -> bool {
        matches!(self, LinearSpec::Logistic { .. })
    }

    /// Checks hyperparameters before fitting.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        match self {
            LinearSpec::Ridge { alpha } | LinearSpec::Lasso { alpha, .. }
                if alpha.is_nan() || *alpha < 0.0 =>
            {
                bad(format!("model.alpha must be ≥ 0, got {alpha}"))
            }
            LinearSpec::ElasticNet {
                alpha, l1_ratio, ..
            } => {
                if alpha.is_nan() || *alpha < 0.0 {
                    bad(format!("model.alpha must be ≥ 0, got {alpha}"))
                } else if !(0.0..=1.0).contains(l1_ratio) {
                    bad(format!("model.l1_ratio must be in [0, 1], got {l1_ratio}"))
                } else {
                    Ok(())
                }
            }
            LinearSpec::Logistic { c, penalty, .. } => {
                if c.is_nan() || *c <= 0.0 {
                    bad(format!("model.C must be > 0, got {c}"))
                } else if penalty != "l1" && penalty != "l2" {
                    bad(format!(
                        "model.penalty must be \"l1\" or \"l2\", got {penalty:?}"
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Fits the model. `n_classes` is `Some(k)` for classification targets coded `0..k`.
    pub fn fit(
        &self,
        x: &Matrix,
        y: &[f64],
        n_classes: Option<usize>,
    ) -> Result<LinearModel, ModelError> {
        self.validate()?;
        let solver_err = |m: String| ModelError::Solver {
            model: self.name().into(),
            message: m,
        };
        let (coef, intercept, n_outputs) = match self {
            LinearSpec::Linear => {
                let (xs, ys) = to_smartcore(x, y)?;
                let params = LinearRegressionParameters::default()
                    .with_solver(LinearRegressionSolverName::QR);
                let m = LinearRegression::fit(&xs, &ys, params)
                    .map_err(|e| solver_err(e.to_string()))?;
                use smartcore::linalg::basic::arrays::Array;
                let coef: Vec<f64> = (0..x.n_cols())
                    .map(|j| *m.coefficients().get((j, 0)))
                    .collect();
                let b = *m.intercept();
                (coef, vec![b], 1)
            }
            LinearSpec::Ridge { alpha } => {
                // Solve on centred data: scikit-learn does not penalise the intercept.
                let (xc, x_mean) = center_columns(x);
                let y_mean = y.iter().sum::<f64>() / y.len() as f64;
                let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
                let (xs, ys) = to_smartcore(&xc, &yc)?;
                let params = RidgeRegressionParameters::default()
                    .with_alpha(*alpha)
                    .with_normalize(false)
                    .with_solver(RidgeRegressionSolverName::Cholesky);
                let m = RidgeRegression::fit(&xs, &ys, params)
                    .map_err(|e| solver_err(e.to_string()))?;
                use smartcore::linalg::basic::arrays::Array;
                let coef: Vec<f64> = (0..x.n_cols())
                    .map(|j| *m.coefficients().get((j, 0)))
                    .collect();
                let b = y_mean - coef.iter().zip(&x_mean).map(|(w, m)| w * m).sum::<f64>();
                (coef, vec![b], 1)
            }
            LinearSpec::Lasso {
                alpha,
                max_iter,
                tol,
            } => {
                let f = coordinate_descent(x, y, *alpha, 1.0, *max_iter, *tol)?;
                (f.coef, vec![f.intercept], 1)
            }
            LinearSpec::ElasticNet {
                alpha,
                l1_ratio,
                max_iter,
                tol,
            } => {
                let f = coordinate_descent(x, y, *alpha, *l1_ratio, *max_iter, *tol)?;
                (f.coef, vec![f.intercept], 1)
            }
            LinearSpec::Logistic {
                c,
                penalty,
                max_iter,
            } => {
                let k = n_classes.ok_or_else(|| {
                    ModelError::Config("logistic regression needs a classification target".into())
                })?;
                let (w, b) = logistic(x, y, k, *c, penalty == "l1", *max_iter)?;
                let outputs = if k == 2 { 1 } else { k };
                (w, b, outputs)
            }
        };
        Ok(LinearModel {
            spec: self.clone(),
            n_features: x.n_cols(),
            n_outputs,
            coef,
            intercept,
        })
    }
}

/// A fitted linear model: `n_outputs` coefficient rows of `n_features`, and intercepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// The model that was fitted.
    pub spec: LinearSpec,
    /// Number of input features.
    pub n_features: usize,
    /// 1 for regression and binary logistic, k for multinomial logistic.
    pub n_outputs: usize,
    /// Coefficients, row-major `n_outputs × n_features`.
    pub coef: Vec<f64>,
    /// Intercepts, one per output.
    pub intercept: Vec<f64>,
}

impl LinearModel {
    /// Raw linear scores, row-major `n × n_outputs`.
    pub fn decision_function(&self, x: &Matrix) -> Vec<f64> {
        let (n, p, k) = (x.n_rows(), self.n_features, self.n_outputs);
        let mut out = vec![0.0; n * k];
        for o in 0..k {
            for i in 0..n {
                out[i * k + o] = self.intercept[o];
            }
            for j in 0..p {
                let w = self.coef[o * p + j];
                if w != 0.0 {
                    for (i, v) in x.col(j).iter().enumerate() {
                        out[i * k + o] += w * v;
                    }
                }
            }
        }
        out
    }

    /// Predictions: values (regression), P(class 1) (binary) or class probabilities row-major.
    pub fn predict(&self, x: &Matrix) -> Vec<f64> {
        let mut z = self.decision_function(x);
        if self.spec.is_classifier() {
            if self.n_outputs == 1 {
                for v in z.iter_mut() {
                    *v = sigmoid(*v);
                }
            } else {
                for row in z.chunks_mut(self.n_outputs) {
                    softmax(row);
                }
            }
        }
        z
    }

    /// |coefficient| per feature (L1 norm across classes for multinomial models), as
    /// scikit-learn's RFE and SelectFromModel read `coef_`.
    pub fn importances(&self) -> Vec<f64> {
        (0..self.n_features)
            .map(|j| {
                (0..self.n_outputs)
                    .map(|o| self.coef[o * self.n_features + j].abs())
                    .sum()
            })
            .collect()
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softmax(row: &mut [f64]) {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in row.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    for v in row.iter_mut() {
        *v /= s;
    }
}

fn to_smartcore(x: &Matrix, y: &[f64]) -> Result<(DenseMatrix<f64>, Vec<f64>), ModelError> {
    let m = DenseMatrix::new(x.n_rows(), x.n_cols(), x.as_col_major().to_vec(), true)
        .map_err(|e| ModelError::Data(e.to_string()))?;
    Ok((m, y.to_vec()))
}

fn center_columns(x: &Matrix) -> (Matrix, Vec<f64>) {
    let n = x.n_rows() as f64;
    let means: Vec<f64> = (0..x.n_cols())
        .map(|j| x.col(j).iter().sum::<f64>() / n)
        .collect();
    let mut out = x.clone();
    for (j, m) in means.iter().enumerate() {
        for v in out.col_mut(j) {
            *v -= m;
        }
    }
    (out, means)
}

/// Result of [`coordinate_descent`].
#[derive(Debug, Clone)]
pub struct CdFit {
    /// Coefficients.
    pub coef: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// Iterations run.
    pub n_iter: usize,
}

/// scikit-learn's elastic-net coordinate descent (`enet_coordinate_descent`, cyclic, with its
/// duality-gap check), on centred data with an unpenalised intercept.
pub fn coordinate_descent(
    x: &Matrix,
    y: &[f64],
    alpha: f64,
    l1_ratio: f64,
    max_iter: usize,
    tol: f64,
) -> Result<CdFit, ModelError> {
    let (n, p) = (x.n_rows(), x.n_cols());
    if n == 0 {
        return Err(ModelError::Data("no rows to fit".into()));
    }
    let (xc, x_mean) = center_columns(x);
    let y_mean = y.iter().sum::<f64>() / n as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
    let l1_reg = alpha * l1_ratio * n as f64;
    let l2_reg = alpha * (1.0 - l1_ratio) * n as f64;
    let norm_cols: Vec<f64> = (0..p)
        .map(|j| xc.col(j).iter().map(|v| v * v).sum())
        .collect();
    let mut w = vec![0.0; p];
    let mut r = yc.clone();
    // scikit-learn compares weight changes with the raw tol, the duality gap with tol·‖y‖².
    let d_w_tol = tol;
    let tol = tol * yc.iter().map(|v| v * v).sum::<f64>();
    let mut n_iter = 0;
    for it in 0..max_iter {
        n_iter = it + 1;
        let (mut w_max, mut d_w_max) = (0.0f64, 0.0f64);
        for j in 0..p {
            if norm_cols[j] == 0.0 {
                continue;
            }
            let col = xc.col(j);
            let w_j = w[j];
            if w_j != 0.0 {
                for (ri, xi) in r.iter_mut().zip(col) {
                    *ri += w_j * xi;
                }
            }
            let tmp: f64 = col.iter().zip(&r).map(|(a, b)| a * b).sum();
            let new = tmp.signum() * (tmp.abs() - l1_reg).max(0.0) / (norm_cols[j] + l2_reg);
            w[j] = new;
            if new != 0.0 {
                for (ri, xi) in r.iter_mut().zip(col) {
                    *ri -= new * xi;
                }
            }
            d_w_max = d_w_max.max((new - w_j).abs());
            w_max = w_max.max(new.abs());
        }
        if w_max == 0.0 || d_w_max / w_max < d_w_tol || it + 1 == max_iter {
            // Duality gap, as scikit-learn computes it.
            let xt_r: Vec<f64> = (0..p)
                .map(|j| xc.col(j).iter().zip(&r).map(|(a, b)| a * b).sum::<f64>() - l2_reg * w[j])
                .collect();
            let dual_norm = xt_r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let r_norm2: f64 = r.iter().map(|v| v * v).sum();
            let w_norm2: f64 = w.iter().map(|v| v * v).sum();
            let (const_, mut gap) = if dual_norm > l1_reg {
                let c = l1_reg / dual_norm;
                (c, 0.5 * (r_norm2 + r_norm2 * c * c))
            } else {
                (1.0, r_norm2)
            };
            let l1_norm: f64 = w.iter().map(|v| v.abs()).sum();
            let ry: f64 = r.iter().zip(&yc).map(|(a, b)| a * b).sum();
            gap +=
                l1_reg * l1_norm - const_ * ry + 0.5 * l2_reg * (1.0 + const_ * const_) * w_norm2;
            if gap < tol {
                break;
            }
        }
    }
    let intercept = y_mean - w.iter().zip(&x_mean).map(|(a, b)| a * b).sum::<f64>();
    Ok(CdFit {
        coef: w,
        intercept,
        n_iter,
    })
}

/// Logistic regression by accelerated proximal gradient (FISTA with backtracking and restarts).
/// Returns `(coef, intercept)`: one row (binary) or `k` rows (multinomial) of coefficients.
fn logistic(
    x: &Matrix,
    y: &[f64],
    k: usize,
    c: f64,
    l1: bool,
    max_iter: usize,
) -> Result<(Vec<f64>, Vec<f64>), ModelError> {
    let (n, p) = (x.n_rows(), x.n_cols());
    let outputs = if k == 2 { 1 } else { k };
    let classes: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let mut seen = vec![false; k];
    for &cl in &classes {
        seen[cl] = true;
    }
    if seen.iter().filter(|&&s| s).count() < 2 {
        return Err(ModelError::Data(
            "logistic regression needs at least two classes in the training rows".into(),
        ));
    }
    let dim = outputs * (p + 1); // per output: p weights then the intercept
    // Smooth part: C·Σ loss (+ ½‖W‖² for L2). Returns value and gradient.
    let smooth = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let mut z = vec![0.0; n * outputs];
        for o in 0..outputs {
            let base = o * (p + 1);
            for i in 0..n {
                z[i * outputs + o] = theta[base + p];
            }
            for j in 0..p {
                let w = theta[base + j];
                if w != 0.0 {
                    for (i, v) in x.col(j).iter().enumerate() {
                        z[i * outputs + o] += w * v;
                    }
                }
            }
        }
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        let mut resid = vec![0.0; n * outputs];
        if outputs == 1 {
            for i in 0..n {
                let zi = z[i];
                let yi = (classes[i] == 1) as u8 as f64;
                // log(1 + e^z) − y·z, computed stably.
                loss += if zi > 0.0 {
                    zi + (-zi).exp().ln_1p()
                } else {
                    zi.exp().ln_1p()
                } - yi * zi;
                resid[i] = sigmoid(zi) - yi;
            }
        } else {
            for i in 0..n {
                let row = &z[i * k..(i + 1) * k];
                let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                loss += lse - row[classes[i]];
                for o in 0..k {
                    resid[i * k + o] = (row[o] - lse).exp() - f64::from(u8::from(classes[i] == o));
                }
            }
        }
        for o in 0..outputs {
            let base = o * (p + 1);
            let mut gb = 0.0;
            for i in 0..n {
                gb += resid[i * outputs + o];
            }
            grad[base + p] = c * gb;
            for j in 0..p {
                let g: f64 = x
                    .col(j)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * resid[i * outputs + o])
                    .sum();
                grad[base + j] = c * g;
            }
        }
        let mut value = c * loss;
        if !l1 {
            for o in 0..outputs {
                for j in 0..p {
                    let w = theta[o * (p + 1) + j];
                    value += 0.5 * w * w;
                    grad[o * (p + 1) + j] += w;
                }
            }
        }
        value
    };
    let prox = |v: &mut [f64], step: f64| {
        if l1 {
            for o in 0..outputs {
                for j in 0..p {
                    let w = &mut v[o * (p + 1) + j];
                    *w = w.signum() * (w.abs() - step).max(0.0);
                }
            }
        }
    };
    let penalty = |v: &[f64]| -> f64 {
        if l1 {
            (0..outputs)
                .map(|o| (0..p).map(|j| v[o * (p + 1) + j].abs()).sum::<f64>())
                .sum()
        } else {
            0.0
        }
    };
    let mut theta = vec![0.0; dim];
    let mut momentum = theta.clone();
    let mut t = 1.0f64;
    let mut step = 1.0 / (c * n as f64 + 1.0);
    let mut grad = vec![0.0; dim];
    let mut g_new = vec![0.0; dim];
    let mut prev_obj = f64::INFINITY;
    for _ in 0..max_iter {
        let f_m = smooth(&momentum, &mut grad);
        // Backtracking line search on the smooth part.
        let mut candidate;
        loop {
            candidate = momentum
                .iter()
                .zip(&grad)
                .map(|(a, g)| a - step * g)
                .collect::<Vec<_>>();
            prox(&mut candidate, step);
            let f_c = smooth(&candidate, &mut g_new);
            let diff: Vec<f64> = candidate
                .iter()
                .zip(&momentum)
                .map(|(a, b)| a - b)
                .collect();
            let bound = f_m
                + diff.iter().zip(&grad).map(|(d, g)| d * g).sum::<f64>()
                + diff.iter().map(|d| d * d).sum::<f64>() / (2.0 * step);
            if f_c <= bound + 1e-12 * f_m.abs() || step < 1e-20 {
                break;
            }
            step *= 0.5;
        }
        let obj = smooth(&candidate, &mut g_new) + penalty(&candidate);
        // Restart momentum when the objective goes up (O'Donoghue & Candès).
        let t_next = if obj > prev_obj {
            1.0
        } else {
            (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0
        };
        let max_change = candidate
            .iter()
            .zip(&theta)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        let scale = candidate.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        momentum = candidate
            .iter()
            .zip(&theta)
            .map(|(a, b)| a + (t - 1.0) / t_next * (a - b))
            .collect();
        if obj > prev_obj {
            momentum = candidate.clone();
        }
        theta = candidate;
        t = t_next;
        let converged =
            max_change <= 1e-10 * scale && (prev_obj - obj).abs() <= 1e-14 * obj.abs().max(1.0);
        prev_obj = prev_obj.min(obj);
        if converged {
            break;
        }
        // Let the step grow again a little after backtracking.
        step *= 1.1;
    }
    let mut coef = Vec::with_capacity(outputs * p);
    let mut intercept = Vec::with_capacity(outputs);
    for o in 0..outputs {
        coef.extend_from_slice(&theta[o * (p + 1)..o * (p + 1) + p]);
        intercept.push(theta[o * (p + 1) + p]);
    }
    Ok((coef, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The data of scripts/reference/linear_models.py, rebuilt from the same closed form.
    fn data() -> (Matrix, Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, p) = (40, 4);
        let mut rows = Vec::with_capacity(n * p);
        for i in 0..n {
            for j in 0..p {
                let (fi, fj) = (i as f64, j as f64);
                rows.push((0.7 * fi + 1.3 * fj).sin() + 0.1 * fj * (0.3 * fi * (fj + 1.0)).cos());
            }
        }
        let x = Matrix::from_row_major(n, p, &rows);
        let g = |i: usize, j: usize| x.get(i, j);
        let y = (0..n)
            .map(|i| 1.5 * g(i, 0) - 2.0 * g(i, 1) + 0.5 * g(i, 3) + 0.3 * (2.1 * i as f64).sin())
            .collect();
        let yb = (0..n)
            .map(|i| {
                f64::from(u8::from(
                    g(i, 0) - g(i, 1) + 0.4 * (1.7 * i as f64).sin() > 0.0,
                ))
            })
            .collect();
        let ym = (0..n)
            .map(|i| {
                let s = g(i, 0) + g(i, 2) + 0.5 * (1.1 * i as f64).sin();
                if s < -0.5 {
                    0.0
                } else if s < 0.5 {
                    1.0
                } else {
                    2.0
                }
            })
            .collect();
        (x, y, yb, ym)
    }

    fn close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= tol, "got {got:?}\nwant {want:?}");
        }
    }

    #[test]
    fn least_squares_match_sklearn() {
        let (x, y, _, _) = data();
        // scikit-learn 1.9.1, scripts/reference/linear_models.py.
        let m = LinearSpec::Linear.fit(&x, &y, None).unwrap();
        close(
            &m.coef,
            &[
                1.5536300562116012,
                -1.9813094265037101,
                0.03442161605661536,
                0.5442021954705917,
            ],
            1e-10,
        );
        close(&m.intercept, &[0.0009207330784945962], 1e-10);
        let m = LinearSpec::Ridge { alpha: 1.5 }.fit(&x, &y, None).unwrap();
        close(
            &m.coef,
            &[
                0.5421964597243824,
                -1.3312880729812542,
                -0.8542519142073332,
                0.5677551101470456,
            ],
            1e-10,
        );
        close(&m.intercept, &[0.0015359950114259106], 1e-10);
    }

    #[test]
    fn coordinate_descent_matches_sklearn() {
        let (x, y, _, _) = data();
        let tight = |alpha, l1_ratio| LinearSpec::ElasticNet {
            alpha,
            l1_ratio,
            max_iter: 100_000,
            tol: 1e-12,
        };
        let m = tight(0.05, 1.0).fit(&x, &y, None).unwrap();
        close(
            &m.coef,
            &[0.0, -1.6031246874409508, -1.0482828487688713, 0.0],
            1e-8,
        );
        close(&m.intercept, &[0.002754031972449663], 1e-8);
        // Exact zeros, as scikit-learn's coordinate descent gives.
        assert_eq!(m.coef[0], 0.0);
        assert_eq!(m.coef[3], 0.0);
        let m = tight(0.05, 0.3).fit(&x, &y, None).unwrap();
        close(
            &m.coef,
            &[
                0.39268222094682853,
                -1.3450450791721735,
                -0.9134799048136928,
                0.45256986086084183,
            ],
            1e-8,
        );
        close(&m.intercept, &[0.001585477055226766], 1e-8);
        // Default tolerance (1e-4), as Lasso(alpha=0.5) with its defaults.
        let m = LinearSpec::Lasso {
            alpha: 0.5,
            max_iter: 1000,
            tol: 1e-4,
        }
        .fit(&x, &y, None)
        .unwrap();
        close(
            &m.coef,
            &[0.0, -0.8599058112766113, -0.3986561104764448, 0.0],
            1e-4,
        );
    }

    #[test]
    fn logistic_matches_sklearn() {
        let (x, _, yb, ym) = data();
        let logit = |penalty: &str| LinearSpec::Logistic {
            c: 0.7,
            penalty: penalty.into(),
            max_iter: 100_000,
        };
        let m = logit("l2").fit(&x, &yb, Some(2)).unwrap();
        close(
            &m.coef,
            &[
                1.0249770593680887,
                -1.0885802736515942,
                -1.5266028664109303,
                0.21479241809509583,
            ],
            1e-6,
        );
        close(&m.intercept, &[0.12039036940682227], 1e-6);
        let m = logit("l1").fit(&x, &yb, Some(2)).unwrap();
        close(
            &m.coef,
            &[0.0, -0.8174260881511792, -2.816125683051859, 0.0],
            1e-6,
        );
        close(&m.intercept, &[0.13792479121417214], 1e-6);
        let m = logit("l2").fit(&x, &ym, Some(3)).unwrap();
        close(
            &m.coef,
            &[
                -0.1846323174858808,
                -0.8214697260383309,
                -0.46906291350299834,
                0.8450666289094704,
                0.15846458009521244,
                0.1888473294558369,
                -0.18245597689704235,
                0.11420550231478753,
                0.0261677373906683,
                0.632622396582494,
                0.651518890400041,
                -0.9592721312242579,
            ],
            1e-6,
        );
        close(
            &m.intercept,
            &[
                -0.49102047679431116,
                0.8901678580120121,
                -0.3991473812177019,
            ],
            1e-6,
        );
        let proba = m.predict(&x.select_rows(&[0]));
        close(
            &proba,
            &[0.023204508043893467, 0.44077597331222845, 0.536019518643878],
            1e-7,
        );
    }

    // scikit-learn 1.9.1, scripts/reference/linear_models.py: SelectFromModel(Lasso(0.05)) keeps
    // [F, T, T, F]; with max_features=3, threshold=-inf, [T, T, T, F]; RFE(Ridge(1.5), 2) keeps
    // [F, T, T, F] with ranking [3, 1, 1, 2]; RFE(LogisticRegression(C=0.7), 1) on the binary
    // label keeps [F, F, T, F] with ranking [3, 2, 1, 4].
    #[test]
    fn feature_selection_matches_sklearn() {
        use crate::preprocess::{FitContext, SelectMethod, Selector, Transformer};
        let (x, y, yb, _) = data();
        let select = |method: SelectMethod, y: &[f64], ctx: &FitContext<'_>| {
            let mut s = Selector {
                method,
                support: vec![],
                scores: vec![],
            };
            s.fit(&x, y, ctx).unwrap();
            s
        };
        let plain = FitContext {
            classification: false,
            importances: None,
        };
        let s = select(
            SelectMethod::Lasso {
                alpha: 0.05,
                n_features: None,
            },
            &y,
            &plain,
        );
        assert_eq!(s.support, vec![1, 2]);
        let s = select(
            SelectMethod::Lasso {
                alpha: 0.05,
                n_features: Some(3),
            },
            &y,
            &plain,
        );
        assert_eq!(s.support, vec![0, 1, 2]);

        let ridge = |m: &Matrix, t: &[f64]| -> Result<Vec<f64>, ModelError> {
            Ok(LinearSpec::Ridge { alpha: 1.5 }
                .fit(m, t, None)?
                .importances())
        };
        let ctx = FitContext {
            classification: false,
            importances: Some(&ridge),
        };
        let s = select(
            SelectMethod::Rfe {
                n_features: 2,
                step: 1,
            },
            &y,
            &ctx,
        );
        assert_eq!(s.support, vec![1, 2]);
        assert_eq!(s.scores, vec![3., 1., 1., 2.]);

        let logit = |m: &Matrix, t: &[f64]| -> Result<Vec<f64>, ModelError> {
            let spec = LinearSpec::Logistic {
                c: 0.7,
                penalty: "l2".into(),
                max_iter: 100_000,
            };
            Ok(spec.fit(m, t, Some(2))?.importances())
        };
        let ctx = FitContext {
            classification: true,
            importances: Some(&logit),
        };
        let s = select(
            SelectMethod::Rfe {
                n_features: 1,
                step: 1,
            },
            &yb,
            &ctx,
        );
        assert_eq!(s.support, vec![2]);
        assert_eq!(s.scores, vec![3., 2., 1., 4.]);
    }
}
