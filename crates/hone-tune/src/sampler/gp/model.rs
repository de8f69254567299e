//! The Gaussian-process regressor: Matérn-5/2 ARD kernel with Hamming distance for
//! categoricals, MAP fit of its hyperparameters, and the posterior.
//!
//! Inputs live in the unit cube (categoricals as their choice index), outputs are standardised
//! and *maximised*. The kernel is `s · M(r²)` with `r² = Σ_d λ_d δ_d`, `δ_d = (x_d − x'_d)²` for
//! numeric dimensions and `1[x_d ≠ x'_d]` for categorical ones, and
//! `M(q) = (1 + √(5q) + 5q/3) · exp(−√(5q))`. Everything is `f64`; linear algebra goes through
//! one Cholesky factor (nalgebra) and triangular solves.

use nalgebra::{Cholesky, DMatrix, DVector};

use super::lbfgsb::{self, Stop};

/// The smallest noise variance (Optuna's `DEFAULT_MINIMUM_NOISE_VAR`).
pub(crate) const MIN_NOISE: f64 = 1e-6;

/// The Matérn-5/2 correlation as a function of the squared scaled distance `q = r²`.
pub(crate) fn matern52(q: f64) -> f64 {
    let r = (5.0 * q).sqrt();
    (1.0 + r + 5.0 / 3.0 * q) * (-r).exp()
}

/// `dM/dq`, written out so that it stays finite at `q = 0` (where `dM/dr` is 0/0 through `r`).
pub(crate) fn matern52_dq(q: f64) -> f64 {
    let r = (5.0 * q).sqrt();
    -5.0 / 6.0 * (1.0 + r) * (-r).exp()
}

/// Dot product with four independent accumulators: floating-point sums are not reassociated
/// by the compiler, and a single running sum would serialise on the add latency.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// The per-dimension distance term `δ_d`.
#[inline]
fn delta(a: f64, b: f64, categorical: bool) -> f64 {
    if categorical {
        if a != b { 1.0 } else { 0.0 }
    } else {
        (a - b) * (a - b)
    }
}

/// Training inputs: `n` points of dimension `d`, row-major.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// Number of points.
    pub n: usize,
    /// Dimension.
    pub d: usize,
    /// Row-major `n × d` coordinates.
    pub x: Vec<f64>,
    /// Which dimensions are categorical (Hamming distance).
    pub is_cat: Vec<bool>,
}

impl Inputs {
    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }
}

/// Kernel hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hyper {
    /// Inverse squared lengthscales `λ_d`.
    pub inv_sq_ls: Vec<f64>,
    /// Kernel scale `s`.
    pub scale: f64,
    /// Noise variance.
    pub noise: f64,
}

impl Hyper {
    /// Optuna's default (and fallback) hyperparameters: all ones.
    pub(crate) fn ones(d: usize) -> Self {
        Hyper {
            inv_sq_ls: vec![1.0; d],
            scale: 1.0,
            noise: 1.0,
        }
    }

    /// The unconstrained parameters of the fit: `ln λ`, `ln s`, `ln(noise − 0.99·min_noise)`
    /// (a start slightly above the floor, as Optuna does, keeps the log finite).
    fn to_raw(&self, min_noise: f64) -> Vec<f64> {
        let mut raw: Vec<f64> = self.inv_sq_ls.iter().map(|v| v.ln()).collect();
        raw.push(self.scale.ln());
        raw.push((self.noise - 0.99 * min_noise).max(0.01 * min_noise).ln());
        raw
    }

    fn from_raw(raw: &[f64], min_noise: f64, deterministic: bool) -> Self {
        let d = raw.len() - 2;
        Hyper {
            inv_sq_ls: raw[..d].iter().map(|v| v.exp()).collect(),
            scale: raw[d].exp(),
            noise: if deterministic {
                min_noise
            } else {
                raw[d + 1].exp() + min_noise
            },
        }
    }
}

/// The kernel matrix `K(X, X)` without noise (for tests and the fantasy update).
pub(crate) fn kernel_matrix(x: &Inputs, h: &Hyper) -> DMatrix<f64> {
    let mut k = DMatrix::zeros(x.n, x.n);
    for i in 0..x.n {
        for j in 0..=i {
            let q: f64 = (0..x.d)
                .map(|t| h.inv_sq_ls[t] * delta(x.row(i)[t], x.row(j)[t], x.is_cat[t]))
                .sum();
            let v = h.scale * matern52(q);
            k[(i, j)] = v;
            k[(j, i)] = v;
        }
    }
    k
}

/// The negative log posterior of the hyperparameters (marginal likelihood + prior, the constant
/// `n/2 · ln 2π` omitted as in Optuna) and its gradient with respect to the raw parameters.
pub(crate) struct Objective<'a> {
    inputs: &'a Inputs,
    y: &'a [f64],
    /// `δ_d` of every pair `i > j`, pair-major (`pairs × d`): computed once per fit.
    pair_delta: Vec<f64>,
    pairs: Vec<(usize, usize)>,
    min_noise: f64,
    deterministic: bool,
    /// Evaluations so far (diagnostics and tests).
    pub evals: usize,
}

impl<'a> Objective<'a> {
    pub(crate) fn new(
        inputs: &'a Inputs,
        y: &'a [f64],
        min_noise: f64,
        deterministic: bool,
    ) -> Self {
        let (n, d) = (inputs.n, inputs.d);
        let mut pairs = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        let mut pair_delta = Vec::with_capacity(pairs.capacity() * d);
        for i in 0..n {
            for j in 0..i {
                pairs.push((i, j));
                let (a, b) = (inputs.row(i), inputs.row(j));
                pair_delta.extend((0..d).map(|t| delta(a[t], b[t], inputs.is_cat[t])));
            }
        }
        Objective {
            inputs,
            y,
            pair_delta,
            pairs,
            min_noise,
            deterministic,
            evals: 0,
        }
    }

    /// The loss at `raw` (`+inf` where the covariance is not positive definite); writes the
    /// gradient into `grad`.
    pub(crate) fn eval(&mut self, raw: &[f64], grad: &mut [f64]) -> f64 {
        self.evals += 1;
        let (n, d) = (self.inputs.n, self.inputs.d);
        let h = Hyper::from_raw(raw, self.min_noise, self.deterministic);
        let s = h.scale;
        // Covariance, plus M'(q) per pair for the lengthscale gradient.
        let mut c = DMatrix::<f64>::zeros(n, n);
        let mut kv = vec![0.0; self.pairs.len()];
        let mut dm = vec![0.0; self.pairs.len()];
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            let dl = &self.pair_delta[p * d..(p + 1) * d];
            let q: f64 = dl.iter().zip(&h.inv_sq_ls).map(|(a, b)| a * b).sum();
            let v = s * matern52(q);
            c[(i, j)] = v;
            c[(j, i)] = v;
            kv[p] = v;
            dm[p] = matern52_dq(q);
        }
        for i in 0..n {
            c[(i, i)] = s + h.noise;
        }
        let Some(chol) = Cholesky::new(c) else {
            grad.iter_mut().for_each(|g| *g = 0.0);
            return f64::INFINITY;
        };
        let y = DVector::from_column_slice(self.y);
        let alpha = chol.solve(&y);
        let l = chol.l_dirty();
        let half_logdet: f64 = (0..n).map(|i| l[(i, i)].ln()).sum();
        let mll = -half_logdet - 0.5 * y.dot(&alpha);
        // d mll / dθ = ½ tr((ααᵀ − C⁻¹) ∂C/∂θ). The trace needs the entries of C⁻¹, which come
        // from the factor by triangular solves; no linear system is solved with them.
        let cinv = inverse_from_factor(l, n);
        let w = |i: usize, j: usize| alpha[i] * alpha[j] - cinv[i.max(j) * n + i.min(j)];
        let mut g_scale = 0.0;
        let mut g_lam = vec![0.0; d];
        for (p, &(i, j)) in self.pairs.iter().enumerate() {
            let wij = w(i, j);
            g_scale += 2.0 * wij * kv[p];
            let f = wij * s * dm[p];
            for (g, dl) in g_lam.iter_mut().zip(&self.pair_delta[p * d..(p + 1) * d]) {
                *g += f * dl;
            }
        }
        let trace_w: f64 = (0..n).map(|i| w(i, i)).sum();
        g_scale += trace_w * s;
        // ∂/∂ln s of ½ tr(W K) = ½ Σ W∘K; pairs were counted twice above.
        let dmll_scale = 0.5 * g_scale;
        let dmll_noise = if self.deterministic {
            0.0
        } else {
            0.5 * trace_w * raw[d + 1].exp()
        };
        // Priors: λ: −(0.1/λ + 0.1λ); s ~ Gamma(2, 1); noise ~ Gamma(1.1, 30) (constants dropped).
        let mut log_prior = (2.0 - 1.0) * s.ln() - s + (1.1 - 1.0) * h.noise.ln() - 30.0 * h.noise;
        for (t, lam) in h.inv_sq_ls.iter().enumerate() {
            log_prior -= 0.1 / lam + 0.1 * lam;
            // ∂mll/∂ln λ_t = λ_t Σ_{i>j} W_ij s M'(q_ij) δ_ijt (the ½ cancels the symmetric pair).
            grad[t] = -(lam * g_lam[t]) - (0.1 / lam - 0.1 * lam);
        }
        grad[d] = -dmll_scale - (1.0 - s);
        grad[d + 1] = if self.deterministic {
            0.0
        } else {
            -dmll_noise - (0.1 / h.noise - 30.0) * raw[d + 1].exp()
        };
        -mll - log_prior
    }
}

/// The lower triangle (row-major, `n × n`) of `C⁻¹ = L⁻ᵀ L⁻¹` from the Cholesky factor `L`:
/// first `L⁻¹` column by column (forward substitution against unit vectors), then the column
/// products, about `n³/3` multiply-adds in all (a general inverse costs three times that).
fn inverse_from_factor(l: &DMatrix<f64>, n: usize) -> Vec<f64> {
    // Row-major copy of L for contiguous row access.
    let mut lr = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            lr[i * n + j] = l[(i, j)];
        }
    }
    // Column j of L⁻¹ in x[j·n ..], nonzero from index j on.
    let mut x = vec![0.0; n * n];
    for j in 0..n {
        let col = &mut x[j * n..(j + 1) * n];
        col[j] = 1.0 / lr[j * n + j];
        for i in j + 1..n {
            let s = dot(&lr[i * n + j..i * n + i], &col[j..i]);
            col[i] = -s / lr[i * n + i];
        }
    }
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            out[i * n + j] = dot(&x[i * n + i..(i + 1) * n], &x[j * n + i..(j + 1) * n]);
        }
    }
    out
}

/// MAP-fits the hyperparameters by L-BFGS in log space, starting from `warm` (the previous
/// fit) and, if that fails, from all ones; if both fail, all ones unfitted (Optuna's policy).
pub(crate) fn fit(inputs: &Inputs, y: &[f64], warm: Option<&Hyper>, deterministic: bool) -> Hyper {
    let d = inputs.d;
    let ones = Hyper::ones(d);
    let starts: Vec<Hyper> = match warm {
        Some(h) if h.inv_sq_ls.len() == d && h != &ones => vec![h.clone(), ones.clone()],
        _ => vec![ones.clone()],
    };
    let mut obj = Objective::new(inputs, y, MIN_NOISE, deterministic);
    let unbounded_lo = vec![f64::NEG_INFINITY; d + 2];
    let unbounded_hi = vec![f64::INFINITY; d + 2];
    let opt = lbfgsb::Options {
        pgtol: 1e-2,
        max_iter: 500,
        ..lbfgsb::Options::default()
    };
    for start in starts {
        let raw0 = start.to_raw(MIN_NOISE);
        let out = lbfgsb::minimize(
            |r, g| obj.eval(r, g),
            &raw0,
            &unbounded_lo,
            &unbounded_hi,
            opt,
        );
        let ok = !matches!(out.stop, Stop::NonFinite | Stop::MaxIter)
            && out.f.is_finite()
            && out.x.iter().all(|v| v.is_finite());
        if ok {
            return Hyper::from_raw(&out.x, MIN_NOISE, deterministic);
        }
    }
    ones
}

/// Per-call working memory for posterior evaluations (kept by the caller so that the hot loops
/// do not allocate).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// `k(x, X)`.
    k: Vec<f64>,
    /// `M'(q_i)` per training point.
    dm: Vec<f64>,
    /// `L⁻¹ k`, then `C⁻¹ k`.
    v: Vec<f64>,
}

/// The GP posterior for fixed hyperparameters.
#[derive(Debug, Clone)]
pub(crate) struct Posterior {
    inputs: Inputs,
    y: Vec<f64>,
    h: Hyper,
    /// Lower Cholesky factor of `K + noise·I`, row-major `n × n`.
    l: Vec<f64>,
    /// `(K + noise·I)⁻¹ y`.
    alpha: Vec<f64>,
}

impl Posterior {
    /// Factorises the covariance; `None` when it is not positive definite.
    pub(crate) fn new(inputs: Inputs, y: Vec<f64>, h: Hyper) -> Option<Self> {
        let n = inputs.n;
        let mut c = kernel_matrix(&inputs, &h);
        for i in 0..n {
            c[(i, i)] += h.noise;
        }
        let chol = Cholesky::new(c)?;
        let alpha = chol.solve(&DVector::from_column_slice(&y));
        let lm = chol.l_dirty();
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                l[i * n + j] = lm[(i, j)];
            }
        }
        Some(Posterior {
            inputs,
            y,
            h,
            l,
            alpha: alpha.as_slice().to_vec(),
        })
    }

    /// The hyperparameters.
    pub(crate) fn hyper(&self) -> &Hyper {
        &self.h
    }

    /// The observed inputs, row after row.
    pub(crate) fn observed(&self) -> &[f64] {
        &self.inputs.x
    }

    /// The observed (standardised) outputs.
    pub(crate) fn targets(&self) -> &[f64] {
        &self.y
    }

    /// Which coordinates are categorical.
    pub(crate) fn is_cat(&self) -> &[bool] {
        &self.inputs.is_cat
    }

    /// The kernel's squared distance `Σ λ_t δ_t(a, b)` (Hamming on categorical coordinates).
    pub(crate) fn sq_distance(&self, a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .zip(&self.inputs.is_cat)
            .zip(&self.h.inv_sq_ls)
            .map(|(((x, y), c), l)| l * delta(*x, *y, *c))
            .sum()
    }

    /// A new posterior that also "observes" its own mean at `xr` (`r` rows): the Kriging
    /// believer, so that the points of running trials lose their predictive variance. Also
    /// returns the believed values.
    pub(crate) fn with_fantasies(&self, xr: &[f64]) -> Option<(Self, Vec<f64>)> {
        let d = self.inputs.d;
        let mut scratch = Scratch::default();
        let mut inputs = self.inputs.clone();
        let mut y = self.y.clone();
        let mut means = Vec::new();
        for row in xr.chunks(d) {
            let (m, _) = self.mean_var(row, &mut scratch);
            inputs.x.extend_from_slice(row);
            inputs.n += 1;
            y.push(m);
            means.push(m);
        }
        Some((Posterior::new(inputs, y, self.h.clone())?, means))
    }

    /// The kernel between two points (no noise).
    fn kernel(&self, a: &[f64], b: &[f64]) -> f64 {
        self.h.scale * matern52(self.sq_distance(a, b))
    }

    /// The joint posterior of the points `rows` (row-major): their means, `L⁻¹ k(X, row)` per
    /// row (each `n` long, concatenated) and their covariance (row-major `p × p`).
    pub(crate) fn joint(&self, rows: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, d) = (self.inputs.n, self.inputs.d);
        let p = rows.len() / d.max(1);
        let mut sc = Scratch::default();
        let mut means = Vec::with_capacity(p);
        let mut vs = Vec::with_capacity(p * n);
        for row in rows.chunks(d) {
            self.fill_k(row, &mut sc, false);
            means.push(dot(&sc.k, &self.alpha));
            self.forward(&mut sc);
            vs.extend_from_slice(&sc.v);
        }
        let mut cov = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                let k = self.kernel(&rows[i * d..(i + 1) * d], &rows[j * d..(j + 1) * d]);
                cov[i * p + j] = k - dot(&vs[i * n..(i + 1) * n], &vs[j * n..(j + 1) * n]);
            }
        }
        (means, vs, cov)
    }

    /// Mean and variance at `x` and its covariance with each point of `rows` (whose
    /// `L⁻¹ k(X, row)` are `vs`, as [`Self::joint`] gives them) into `cross`.
    pub(crate) fn with_points(
        &self,
        x: &[f64],
        rows: &[f64],
        vs: &[f64],
        sc: &mut Scratch,
        cross: &mut Vec<f64>,
    ) -> (f64, f64) {
        let (n, d) = (self.inputs.n, self.inputs.d);
        let (mean, var) = self.mean_var_raw(x, sc, false);
        cross.clear();
        for (j, row) in rows.chunks(d).enumerate() {
            cross.push(self.kernel(x, row) - dot(&sc.v, &vs[j * n..(j + 1) * n]));
        }
        (mean, var.max(0.0))
    }

    fn fill_k(&self, x: &[f64], sc: &mut Scratch, with_dm: bool) {
        let (n, d) = (self.inputs.n, self.inputs.d);
        sc.k.resize(n, 0.0);
        sc.dm.resize(n, 0.0);
        sc.v.resize(n, 0.0);
        let lam = &self.h.inv_sq_ls;
        for i in 0..n {
            let row = &self.inputs.x[i * d..(i + 1) * d];
            let mut q = 0.0;
            for t in 0..d {
                q += lam[t] * delta(x[t], row[t], self.inputs.is_cat[t]);
            }
            sc.k[i] = self.h.scale * matern52(q);
            if with_dm {
                sc.dm[i] = matern52_dq(q);
            }
        }
    }

    /// `L⁻¹ k` into `sc.v` by forward substitution over the rows of `L`.
    fn forward(&self, sc: &mut Scratch) {
        let n = self.inputs.n;
        for i in 0..n {
            let row = &self.l[i * n..i * n + i];
            sc.v[i] = (sc.k[i] - dot(row, &sc.v[..i])) / self.l[i * n + i];
        }
    }

    /// Posterior mean and variance (clamped at 0) at `x`.
    pub(crate) fn mean_var(&self, x: &[f64], sc: &mut Scratch) -> (f64, f64) {
        let (mean, var) = self.mean_var_raw(x, sc, false);
        (mean, var.max(0.0))
    }

    /// Mean and *unclamped* variance; fills the scratch for [`Self::gradient`].
    fn mean_var_raw(&self, x: &[f64], sc: &mut Scratch, with_dm: bool) -> (f64, f64) {
        self.fill_k(x, sc, with_dm);
        let mean = dot(&sc.k, &self.alpha);
        self.forward(sc);
        let vv = dot(&sc.v, &sc.v);
        (mean, self.h.scale - vv)
    }

    /// Mean, clamped variance, and the gradient of `c_mean · mean + c_var · var` with respect
    /// to `x` computed lazily by the closure `coef(mean, var) -> (c_mean, c_var)`; categorical
    /// coordinates get a zero gradient (they are searched discretely).
    pub(crate) fn mean_var_grad(
        &self,
        x: &[f64],
        sc: &mut Scratch,
        coef: impl FnOnce(f64, f64) -> (f64, f64),
        grad: &mut [f64],
    ) -> (f64, f64) {
        let (n, d) = (self.inputs.n, self.inputs.d);
        let (mean, raw_var) = self.mean_var_raw(x, sc, true);
        let var = raw_var.max(0.0);
        let (c_mean, mut c_var) = coef(mean, var);
        if raw_var < 0.0 {
            // The clamp is flat there.
            c_var = 0.0;
        }
        // β = C⁻¹ k = L⁻ᵀ (L⁻¹ k): back substitution, walking the rows of L.
        for i in (0..n).rev() {
            let b = sc.v[i] / self.l[i * n + i];
            sc.v[i] = b;
            let row = &self.l[i * n..i * n + i];
            for (v, a) in sc.v[..i].iter_mut().zip(row) {
                *v -= b * a;
            }
        }
        // ∂k_i/∂x_t = s · M'(q_i) · λ_t · 2 (x_t − X_it); ∂mean = Σ α_i ∂k_i; ∂var = −2 Σ β_i ∂k_i.
        grad.iter_mut().for_each(|g| *g = 0.0);
        for i in 0..n {
            let w = (c_mean * self.alpha[i] - 2.0 * c_var * sc.v[i]) * self.h.scale * sc.dm[i];
            if w == 0.0 {
                continue;
            }
            let row = &self.inputs.x[i * d..(i + 1) * d];
            for ((g, a), b) in grad.iter_mut().zip(x).zip(row) {
                *g += w * (a - b);
            }
        }
        for ((g, cat), lam) in grad
            .iter_mut()
            .zip(&self.inputs.is_cat)
            .zip(&self.h.inv_sq_ls)
        {
            *g = if *cat { 0.0 } else { *g * 2.0 * lam };
        }
        (mean, var)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 4 points, 2 numeric dimensions and one categorical (index) dimension.
    pub(crate) fn inputs() -> Inputs {
        Inputs {
            n: 4,
            d: 3,
            x: vec![
                0.1, 0.2, 0.0, //
                0.4, 0.9, 1.0, //
                0.8, 0.5, 0.0, //
                0.3, 0.35, 2.0,
            ],
            is_cat: vec![false, false, true],
        }
    }

    pub(crate) fn hyper() -> Hyper {
        Hyper {
            inv_sq_ls: vec![2.0, 0.5, 1.5],
            scale: 1.3,
            noise: 0.01,
        }
    }

    pub(crate) const Y: [f64; 4] = [0.5, -1.2, 0.9, -0.2];

    #[test]
    fn kernel_matrix_matches_numpy() {
        // scripts/reference/gp.py prints the values of this test and the next two.
        // numpy: sqd = (X[:,None,:2]-X[None,:,:2])**2 @ [2, 0.5] + 1.5*(X[:,None,2]!=X[None,:,2]);
        // r = sqrt(5 sqd); K = 1.3*(1 + r + 5/3 sqd)*exp(-r), printed with repr().
        let want = [
            [
                1.3,
                0.42711241189807764,
                0.671914807403692,
                0.501217686821287,
            ],
            [
                0.42711241189807764,
                1.3,
                0.43214390346396725,
                0.4819984038353319,
            ],
            [
                0.671914807403692,
                0.43214390346396725,
                1.3,
                0.4103283399106321,
            ],
            [
                0.501217686821287,
                0.4819984038353319,
                0.4103283399106321,
                1.3,
            ],
        ];
        let k = kernel_matrix(&inputs(), &hyper());
        for i in 0..4 {
            for j in 0..4 {
                assert!(
                    (k[(i, j)] - want[i][j]).abs() < 1e-14,
                    "{i},{j}: {}",
                    k[(i, j)]
                );
            }
        }
    }

    #[test]
    fn posterior_matches_numpy() {
        // numpy: C = K + 0.01 I; alpha = solve(C, y); k = K(x*, X);
        // mean = k @ alpha; var = 1.3 - k @ solve(C, k).
        let post = Posterior::new(inputs(), Y.to_vec(), hyper()).unwrap();
        let mut sc = Scratch::default();
        let cases = [
            ([0.2, 0.3, 0.0], 0.5541922640028794, 0.04225935781076928),
            ([0.4, 0.9, 1.0], -1.1868843405987293, 0.009904724659288933),
            ([0.95, 0.05, 1.0], -0.3775482384231567, 0.8665494814266095),
        ];
        for (x, m, v) in cases {
            let (mean, var) = post.mean_var(&x, &mut sc);
            assert!((mean - m).abs() < 1e-12, "{x:?}: mean {mean} vs {m}");
            assert!((var - v).abs() < 1e-12, "{x:?}: var {var} vs {v}");
        }
    }

    #[test]
    fn posterior_gradient_matches_finite_differences() {
        let post = Posterior::new(inputs(), Y.to_vec(), hyper()).unwrap();
        let mut sc = Scratch::default();
        let (cm, cv) = (0.7, -1.9);
        let x = [0.33, 0.61, 1.0];
        let mut g = [0.0; 3];
        post.mean_var_grad(&x, &mut sc, |_, _| (cm, cv), &mut g);
        let f = |x: &[f64]| {
            let mut sc = Scratch::default();
            let (m, v) = post.mean_var(x, &mut sc);
            cm * m + cv * v
        };
        for t in 0..2 {
            let h = 1e-6;
            let (mut a, mut b) = (x, x);
            a[t] += h;
            b[t] -= h;
            let fd = (f(&a) - f(&b)) / (2.0 * h);
            assert!((g[t] - fd).abs() < 1e-7, "dim {t}: {} vs {fd}", g[t]);
        }
        assert_eq!(g[2], 0.0);
    }

    fn raw() -> Vec<f64> {
        let mut r = hyper().to_raw(MIN_NOISE);
        // An exact noise of 0.01 for the reference: raw = ln(0.01 − 1e-6).
        r[4] = (0.01f64 - MIN_NOISE).ln();
        r
    }

    #[test]
    fn loss_and_gradient_match_numpy_and_finite_differences() {
        let inp = inputs();
        let mut obj = Objective::new(&inp, &Y, MIN_NOISE, false);
        let r = raw();
        let mut g = vec![0.0; 5];
        let loss = obj.eval(&r, &mut g);
        // numpy: L = cholesky(C); mll = -sum(log(diag(L))) - 0.5 y @ solve(C, y);
        // prior = -sum(0.1/lam + 0.1 lam) + (log(s) - s) + (0.1 log(noise) - 30 noise);
        // loss = -(mll + prior) with lam = [2, .5, 1.5], s = 1.3, noise = 0.01.
        let want = 4.025264530687512;
        assert!((loss - want).abs() < 1e-12, "{loss}");
        // The same gradient by central differences (scipy.optimize.approx_fprime-style).
        for t in 0..5 {
            let h = 1e-6;
            let (mut a, mut b) = (r.clone(), r.clone());
            a[t] += h;
            b[t] -= h;
            let mut tmp = vec![0.0; 5];
            let fd = (obj.eval(&a, &mut tmp) - obj.eval(&b, &mut tmp)) / (2.0 * h);
            assert!((g[t] - fd).abs() < 1e-6, "param {t}: {} vs {fd}", g[t]);
        }
        // Reference gradient (numpy, by the trace formula).
        let want_g = [
            0.36227109866875157,
            -0.1564854219593439,
            -0.14194670275311366,
            0.9692540585572742,
            0.2067453933567694,
        ];
        for t in 0..5 {
            assert!((g[t] - want_g[t]).abs() < 1e-10, "param {t}: {}", g[t]);
        }
    }

    #[test]
    fn deterministic_fit_keeps_the_noise_floor_and_improves_the_loss() {
        let inp = inputs();
        let h = fit(&inp, &Y, None, true);
        assert_eq!(h.noise, MIN_NOISE);
        let mut obj = Objective::new(&inp, &Y, MIN_NOISE, true);
        let mut g = vec![0.0; 5];
        let start = obj.eval(&Hyper::ones(3).to_raw(MIN_NOISE), &mut g);
        let fitted = obj.eval(&h.to_raw(MIN_NOISE), &mut g);
        assert!(fitted < start, "{fitted} !< {start}");
        assert!(g[..4].iter().all(|v| v.abs() < 1e-2), "{g:?}");
        assert_eq!(g[4], 0.0);
    }
}
