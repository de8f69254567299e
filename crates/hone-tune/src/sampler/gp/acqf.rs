//! The acquisition function (log expected improvement) and its optimisation over a mixed
//! continuous / discrete / categorical unit cube.

use libm::erfc;
use rand::RngExt;
use rand::rngs::StdRng;

use super::lbfgsb;
use super::model::{Posterior, Scratch};
use crate::sampler::qmc::sobol_unit;
use crate::sampler::truncnorm::log_ndtr;
use crate::space::Distribution;

const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1 / √(2π)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(π/2)`.
const SQRT_HALF_PI: f64 = 1.253_314_137_315_500_3;
/// `ln √(2π)`.
const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// Variance added before taking square roots (Optuna's stabilising noise).
const STABILIZING_NOISE: f64 = 1e-12;

/// The scaled complementary error function `erfcx(u) = exp(u²)·erfc(u)`, for `u >= 0`.
fn erfcx(u: f64) -> f64 {
    if u < 8.0 {
        return (u * u).exp() * erfc(u);
    }
    // Continued fraction erfc(u)·exp(u²)·√π = 1/(u + (1/2)/(u + 1/(u + (3/2)/(u + ...)))),
    // evaluated bottom-up; 60 levels are far more than double precision needs at u >= 8.
    let mut t = u;
    for k in (1..=60).rev() {
        t = u + (k as f64 / 2.0) / t;
    }
    1.0 / (t * std::f64::consts::PI.sqrt())
}

/// `ln E[max(0, z + ε)]`, `ε ~ N(0, 1)` (the log EI of a standardised posterior), with the
/// asymptotic form of Ament et al. 2023 (eq. 9) below `z = −25`, where `φ(z) + zΦ(z)` cancels.
pub(crate) fn log_ei_std(z: f64) -> f64 {
    if z >= -25.0 {
        (0.5 * z * erfc(-SQRT_HALF * z) + (-0.5 * z * z).exp() * INV_SQRT_2PI).ln()
    } else {
        -0.5 * z * z - LOG_SQRT_2PI + (1.0 + SQRT_HALF_PI * z * erfcx(-SQRT_HALF * z)).ln()
    }
}

/// `d/dz ln EI(z) = Φ(z) / EI(z)`, in the same two regimes.
pub(crate) fn log_ei_std_dz(z: f64) -> f64 {
    if z >= -25.0 {
        let cdf = 0.5 * erfc(-SQRT_HALF * z);
        cdf / (z * cdf + (-0.5 * z * z).exp() * INV_SQRT_2PI)
    } else {
        // Φ(z)/EI(z) with both written through erfcx(−z/√2), so nothing underflows.
        let e = erfcx(-SQRT_HALF * z);
        SQRT_HALF_PI * e / (1.0 + SQRT_HALF_PI * z * e)
    }
}

/// `d/du ln Φ(u) = φ(u)/Φ(u)`, without underflow in the left tail.
pub(crate) fn log_ndtr_du(u: f64) -> f64 {
    if u < 0.0 {
        // φ(u)/Φ(u) = √(2/π) / erfcx(−u/√2).
        (2.0 / std::f64::consts::PI).sqrt() / erfcx(-SQRT_HALF * u)
    } else {
        (-0.5 * u * u).exp() * INV_SQRT_2PI / (1.0 - 0.5 * erfc(SQRT_HALF * u))
    }
}

/// A constraint's model: the posterior of its standardised values, and where its feasibility
/// bound (`c <= 0`) lies in those units.
pub(crate) struct Feasibility<'a> {
    /// The constraint's posterior.
    pub post: &'a Posterior,
    /// `0` in the standardised units of the constraint's values.
    pub bound: f64,
}

/// Local penalisation (González et al. 2016) of a running trial's point: the probability that
/// `x` lies outside the ball around it that, by the Lipschitz bound, cannot beat the best value.
pub(crate) struct Penalty {
    /// The running trial's coordinates.
    pub x: Vec<f64>,
    /// The posterior mean there.
    pub mean: f64,
    /// The posterior standard deviation there.
    pub sigma: f64,
}

/// Monte-Carlo q log EI (Balandat et al. 2020; Ament et al. 2023): the expected improvement of
/// the best of a candidate and the running trials' points, over the joint posterior, with fixed
/// quasi-random base samples (so the surface is deterministic) and smooth max and ReLU.
pub(crate) struct QBatch {
    /// The running points, row-major.
    pub rows: Vec<f64>,
    /// `L⁻¹ k(X, row)` per running point.
    pub vs: Vec<f64>,
    /// Their posterior means.
    pub means: Vec<f64>,
    /// Their posterior covariance, row-major `p × p`.
    pub cov: Vec<f64>,
    /// Standard normal base samples, `S × (1 + p)` row-major.
    pub base: Vec<f64>,
    /// The best observed (standardised) value.
    pub best: f64,
}

/// Temperature of the smooth max over a sample's points and of the smooth ReLU (in the
/// standardised units of the outputs).
const Q_TAU: f64 = 1e-3;

impl QBatch {
    /// The q log EI of `x` together with the running points.
    fn value(&self, post: &Posterior, x: &[f64], sc: &mut Scratch) -> f64 {
        let p = self.means.len();
        let q = p + 1;
        let mut cross = Vec::with_capacity(p);
        let (mean, var) = post.with_points(x, &self.rows, &self.vs, sc, &mut cross);
        // The joint covariance of (x, running points) and its Cholesky factor.
        let mut c = vec![0.0; q * q];
        c[0] = var;
        for j in 0..p {
            c[j + 1] = cross[j];
            c[(j + 1) * q] = cross[j];
            for k in 0..p {
                c[(j + 1) * q + k + 1] = self.cov[j * p + k];
            }
        }
        let l = cholesky_jittered(&c, q);
        let mut mu = Vec::with_capacity(q);
        mu.push(mean);
        mu.extend_from_slice(&self.means);
        let mut logs = Vec::with_capacity(self.base.len() / q);
        let mut f = vec![0.0; q];
        for z in self.base.chunks(q) {
            for i in 0..q {
                f[i] = mu[i] + (0..=i).map(|k| l[i * q + k] * z[k]).sum::<f64>();
            }
            let top = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let smooth_max = top
                + Q_TAU
                    * f.iter()
                        .map(|v| ((v - top) / Q_TAU).exp())
                        .sum::<f64>()
                        .ln();
            logs.push(log_softplus((smooth_max - self.best) / Q_TAU) + Q_TAU.ln());
        }
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + (logs.iter().map(|v| (v - top).exp()).sum::<f64>() / logs.len() as f64).ln()
    }
}

/// `ln softplus(a) = ln ln(1 + e^a)`, without overflow or underflow.
fn log_softplus(a: f64) -> f64 {
    if a < -30.0 {
        a
    } else if a > 30.0 {
        a.ln()
    } else {
        a.exp().ln_1p().ln()
    }
}

/// The lower Cholesky factor of a small symmetric matrix (row-major `q × q`), with jitter
/// added until it is positive definite.
fn cholesky_jittered(c: &[f64], q: usize) -> Vec<f64> {
    let mut jitter = 1e-9;
    loop {
        let mut l = vec![0.0; q * q];
        let mut ok = true;
        'rows: for i in 0..q {
            for j in 0..=i {
                let mut sum = c[i * q + j] + if i == j { jitter } else { 0.0 };
                for k in 0..j {
                    sum -= l[i * q + k] * l[j * q + k];
                }
                if i == j {
                    if sum <= 0.0 {
                        ok = false;
                        break 'rows;
                    }
                    l[i * q + i] = sum.sqrt();
                } else {
                    l[i * q + j] = sum / l[j * q + j];
                }
            }
        }
        if ok || jitter > 1.0 {
            return l;
        }
        jitter *= 10.0;
    }
}

/// Penalties of running trials with the constants they share.
pub(crate) struct Penalties {
    /// One per running trial.
    pub points: Vec<Penalty>,
    /// Estimated Lipschitz constant of the posterior mean, in the kernel's geometry.
    pub lipschitz: f64,
    /// The best observed (standardised) value.
    pub best: f64,
}

/// Log expected improvement over `threshold` of a posterior (outputs are maximised), plus
/// `ln P(feasible)` of every constraint (Optuna's constrained log EI), plus the log local
/// penalties of running trials. Without a feasible trial (`threshold` `None`) the acquisition
/// is the log probability of feasibility alone.
pub(crate) struct LogEi<'a> {
    /// The posterior.
    pub post: &'a Posterior,
    /// The best standardised observed (feasible) value.
    pub threshold: Option<f64>,
    /// The constraints' models.
    pub constraints: Vec<Feasibility<'a>>,
    /// Running trials' penalties (batch acquisition by local penalisation).
    pub penalties: Option<Penalties>,
    /// Running trials' joint posterior (batch acquisition by q log EI): replaces the log EI.
    pub batch: Option<QBatch>,
}

impl LogEi<'_> {
    /// The acquisition value at `x`.
    pub(crate) fn value(&self, x: &[f64], sc: &mut Scratch) -> f64 {
        if let Some(q) = &self.batch {
            return q.value(self.post, x, sc);
        }
        let mut total = 0.0;
        if let Some(threshold) = self.threshold {
            let (mean, var) = self.post.mean_var(x, sc);
            let sigma = (var + STABILIZING_NOISE).sqrt();
            total += log_ei_std((mean - threshold) / sigma) + sigma.ln();
        }
        for c in &self.constraints {
            let (mean, var) = c.post.mean_var(x, sc);
            let sigma = (var + STABILIZING_NOISE).sqrt();
            total += log_ndtr((c.bound - mean) / sigma);
        }
        if let Some(p) = &self.penalties {
            for j in &p.points {
                let dist = self.post.sq_distance(x, &j.x).sqrt();
                total += log_ndtr((p.lipschitz * dist - p.best + j.mean) / j.sigma);
            }
        }
        total
    }

    /// The acquisition value at `x` and its gradient (zero on categorical coordinates).
    pub(crate) fn value_grad(&self, x: &[f64], sc: &mut Scratch, grad: &mut [f64]) -> f64 {
        if self.batch.is_some() {
            // q log EI: central differences on the continuous coordinates (the Monte-Carlo
            // surface is smooth: fixed base samples, smooth max and ReLU).
            let v = self.value(x, sc);
            let mut y = x.to_vec();
            for t in 0..x.len() {
                grad[t] = 0.0;
                if self.post.is_cat()[t] {
                    continue;
                }
                let h = 1e-6;
                y[t] = x[t] + h;
                let up = self.value(&y, sc);
                y[t] = x[t] - h;
                let down = self.value(&y, sc);
                y[t] = x[t];
                grad[t] = (up - down) / (2.0 * h);
            }
            return v;
        }
        let mut val = 0.0;
        grad.iter_mut().for_each(|g| *g = 0.0);
        // Unconstrained (the common case): straight into `grad`, no allocation.
        let mut part = if self.constraints.is_empty() {
            Vec::new()
        } else {
            vec![0.0; grad.len()]
        };
        if let Some(threshold) = self.threshold {
            let out: &mut [f64] = if part.is_empty() { grad } else { &mut part };
            self.post.mean_var_grad(
                x,
                sc,
                |mean, var| {
                    let v = var + STABILIZING_NOISE;
                    let sigma = v.sqrt();
                    let z = (mean - threshold) / sigma;
                    val += log_ei_std(z) + sigma.ln();
                    let h1 = log_ei_std_dz(z);
                    // ∂/∂mean = h'(z)/σ; ∂/∂var = (1 − z·h'(z)) / (2v).
                    (h1 / sigma, (1.0 - z * h1) / (2.0 * v))
                },
                out,
            );
            if !part.is_empty() {
                grad.iter_mut().zip(&part).for_each(|(g, p)| *g += p);
            }
        }
        for c in &self.constraints {
            let bound = c.bound;
            c.post.mean_var_grad(
                x,
                sc,
                |mean, var| {
                    let v = var + STABILIZING_NOISE;
                    let sigma = v.sqrt();
                    let u = (bound - mean) / sigma;
                    val += log_ndtr(u);
                    let h = log_ndtr_du(u);
                    // u = (b − mean)/σ: ∂u/∂mean = −1/σ, ∂u/∂var = −u/(2v).
                    (-h / sigma, -h * u / (2.0 * v))
                },
                &mut part,
            );
            grad.iter_mut().zip(&part).for_each(|(g, p)| *g += p);
        }
        if let Some(p) = &self.penalties {
            let lam = &self.post.hyper().inv_sq_ls;
            let is_cat = self.post.is_cat();
            for j in &p.points {
                let dist = self.post.sq_distance(x, &j.x).sqrt();
                let u = (p.lipschitz * dist - p.best + j.mean) / j.sigma;
                val += log_ndtr(u);
                if dist > 0.0 {
                    // ∂dist/∂x_t = λ_t (x_t − x_jt) / dist on continuous coordinates.
                    let h = log_ndtr_du(u) * p.lipschitz / j.sigma / dist;
                    for t in 0..grad.len() {
                        if !is_cat[t] {
                            grad[t] += h * lam[t] * (x[t] - j.x[t]);
                        }
                    }
                }
            }
        }
        val
    }
}

/// How one coordinate of the GP's unit cube is searched.
#[derive(Debug, Clone)]
pub(crate) enum DimKind {
    /// A continuous range: L-BFGS.
    Continuous,
    /// A numeric grid of `len` values `low + i·step` (exhaustive or line search). Kept
    /// implicit: an int range can have billions of values.
    Grid {
        /// Number of grid values.
        len: usize,
        /// The first value.
        low: f64,
        /// The spacing.
        step: f64,
    },
    /// A categorical with this many choices, encoded by index (exhaustive search).
    Categorical(usize),
}

/// One coordinate: the parameter's distribution and how it is searched.
#[derive(Debug, Clone)]
pub(crate) struct Dim {
    /// The parameter's distribution.
    pub dist: Distribution,
    /// Its search kind.
    pub kind: DimKind,
}

impl Dim {
    /// The coordinate for `dist`.
    pub(crate) fn new(dist: &Distribution) -> Self {
        let kind = match (dist.n_choices(), dist.step()) {
            (Some(n), _) => DimKind::Categorical(n),
            (None, Some(step)) if step > 0.0 => {
                let (low, high) = dist.bounds();
                // `snap` clips to the last grid value, so this counts the values exactly.
                let len = ((dist.snap(high) - low) / step).round() as usize + 1;
                DimKind::Grid { len, low, step }
            }
            _ => DimKind::Continuous,
        };
        Dim {
            dist: dist.clone(),
            kind,
        }
    }

    /// A `[0, 1)` draw mapped onto the coordinate (grid values and choice indices snapped).
    pub(crate) fn snap_uniform(&self, u: f64) -> f64 {
        match &self.kind {
            DimKind::Continuous => u,
            DimKind::Grid { .. } => self.dist.to_unit(self.dist.from_unit(u)),
            DimKind::Categorical(_) => self.dist.from_unit(u),
        }
    }

    /// The coordinate value of grid value `i` (ascending in `i`).
    fn grid_value(&self, i: usize) -> f64 {
        match self.kind {
            DimKind::Grid { low, step, .. } => self.dist.to_unit(low + i as f64 * step),
            _ => 0.0,
        }
    }

    /// The parameter's internal value at coordinate value `x`.
    pub(crate) fn internal(&self, x: f64) -> f64 {
        match &self.kind {
            DimKind::Categorical(_) => self.dist.snap(x),
            _ => self.dist.from_unit(x),
        }
    }

    /// The coordinate value of an internal value.
    pub(crate) fn encode(&self, internal: f64) -> f64 {
        match &self.kind {
            DimKind::Categorical(_) => self.dist.snap(internal),
            _ => self.dist.to_unit(internal),
        }
    }
}

/// Settings of the acquisition optimisation (Optuna's defaults).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchOptions {
    /// Quasi-random candidates evaluated first.
    pub n_preliminary: usize,
    /// Local searches.
    pub n_local: usize,
    /// Tolerance (`√tol` is the L-BFGS projected-gradient tolerance).
    pub tol: f64,
}

/// Above this many grid values a discrete coordinate is line-searched instead of enumerated.
const MAX_EXHAUSTIVE: usize = 16;

struct Searcher<'a> {
    acq: &'a LogEi<'a>,
    dims: &'a [Dim],
    sc: Scratch,
    grad: Vec<f64>,
}

impl Searcher<'_> {
    fn value(&mut self, x: &[f64]) -> f64 {
        self.acq.value(x, &mut self.sc)
    }

    /// L-BFGS over the continuous coordinates in the preconditioned variables `z = x/ℓ`
    /// (bounds `[0, 1/ℓ]`), which makes the kernel isotropic. True when it improved.
    fn continuous(
        &mut self,
        x: &mut [f64],
        fx: &mut f64,
        cont: &[usize],
        ls: &[f64],
        tol: f64,
    ) -> bool {
        if cont.is_empty() {
            return false;
        }
        let z0: Vec<f64> = cont.iter().zip(ls).map(|(&t, l)| x[t] / l).collect();
        let lo = vec![0.0; cont.len()];
        let hi: Vec<f64> = ls.iter().map(|l| 1.0 / l).collect();
        let mut xx = x.to_vec();
        let acq = self.acq;
        let (sc, grad) = (&mut self.sc, &mut self.grad);
        let out = lbfgsb::minimize(
            |z, g| {
                for ((&t, l), zi) in cont.iter().zip(ls).zip(z) {
                    xx[t] = zi * l;
                }
                let v = acq.value_grad(&xx, sc, grad);
                for ((&t, l), gi) in cont.iter().zip(ls).zip(g.iter_mut()) {
                    *gi = -grad[t] * l;
                }
                -v
            },
            &z0,
            &lo,
            &hi,
            lbfgsb::Options {
                pgtol: tol.sqrt(),
                max_iter: 200,
                ..lbfgsb::Options::default()
            },
        );
        if out.iters > 0 && -out.f > *fx {
            for ((&t, l), zi) in cont.iter().zip(ls).zip(&out.x) {
                x[t] = (zi * l).clamp(0.0, 1.0);
            }
            *fx = -out.f;
            true
        } else {
            false
        }
    }

    /// Tries every other value of coordinate `t`. True when it improved.
    fn exhaustive(&mut self, x: &mut [f64], fx: &mut f64, t: usize, values: &[f64]) -> bool {
        let current = x[t];
        let mut best = (current, *fx);
        for &v in values {
            if v == current {
                continue;
            }
            x[t] = v;
            let f = self.value(x);
            if f > best.1 {
                best = (v, f);
            }
        }
        x[t] = best.0;
        if best.0 != current {
            *fx = best.1;
            true
        } else {
            false
        }
    }

    /// Golden-section search of the piecewise-linear interpolation of the acquisition over a
    /// long grid (`len` values of coordinate `t`), stopping below a quarter of the smallest
    /// gap; the nearest grid value is kept if it improves. True when it improved. (Optuna
    /// runs Brent's method on the same interpolation.)
    fn line(&mut self, x: &mut [f64], fx: &mut f64, t: usize, len: usize) -> bool {
        if len < 2 {
            return false;
        }
        let dims = self.dims;
        let gv = |i: usize| dims[t].grid_value(i);
        // Gaps are monotone in i (equal, or shrinking on a log scale): the smallest is at an end.
        let xtol = (gv(1) - gv(0)).min(gv(len - 1) - gv(len - 2)) / 4.0;
        // The first index whose value is >= v, clamped to [1, len − 1].
        let upper = |v: f64| -> usize {
            let (mut lo, mut hi) = (0usize, len);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if gv(mid) < v { lo = mid + 1 } else { hi = mid }
            }
            lo.clamp(1, len - 1)
        };
        let nearest = |v: f64| -> usize {
            let i = upper(v);
            if (v - gv(i - 1)).abs() <= (gv(i) - v).abs() {
                i - 1
            } else {
                i
            }
        };
        let cur_i = nearest(x[t]);
        let mut cache = std::collections::HashMap::new();
        cache.insert(cur_i, *fx);
        let mut point = x.to_vec();
        let mut at = |i: usize, s: &mut Self| -> f64 {
            if let Some(v) = cache.get(&i) {
                return *v;
            }
            point[t] = gv(i);
            let v = s.value(&point);
            cache.insert(i, v);
            v
        };
        let mut interp = |v: f64, s: &mut Self| -> f64 {
            let r = upper(v);
            let (a, b) = (at(r - 1, s), at(r, s));
            let (ga, gb) = (gv(r - 1), gv(r));
            let w = ((gb - v) / (gb - ga)).clamp(0.0, 1.0);
            w * a + (1.0 - w) * b
        };
        let g = 0.5 * (5f64.sqrt() - 1.0);
        let (mut a, mut b) = (gv(0), gv(len - 1));
        let mut c = b - g * (b - a);
        let mut d = a + g * (b - a);
        let mut fc = interp(c, self);
        let mut fd = interp(d, self);
        while b - a > xtol {
            if fc >= fd {
                b = d;
                d = c;
                fd = fc;
                c = b - g * (b - a);
                fc = interp(c, self);
            } else {
                a = c;
                c = d;
                fc = fd;
                d = a + g * (b - a);
                fd = interp(d, self);
            }
        }
        let best_i = nearest(0.5 * (a + b));
        let f_best = at(best_i, self);
        if best_i != cur_i && f_best > *fx {
            x[t] = gv(best_i);
            *fx = f_best;
            true
        } else {
            false
        }
    }

    /// One local search (Optuna's `local_search_mixed`): L-BFGS on the continuous
    /// coordinates, then each discrete coordinate in turn, until a full round changes nothing.
    fn local_search(&mut self, x: &mut [f64], fx: &mut f64, cont: &[usize], ls: &[f64], tol: f64) {
        // Which coordinate changed last: None = the continuous block (or nothing yet).
        let discrete: Vec<usize> = (0..self.dims.len())
            .filter(|&t| !matches!(self.dims[t].kind, DimKind::Continuous))
            .collect();
        let mut last: Option<usize> = None;
        for _ in 0..100 {
            if self.continuous(x, fx, cont, ls, tol) {
                last = None;
            }
            for &t in &discrete {
                if last == Some(t) {
                    return;
                }
                let changed = match &self.dims[t].kind {
                    DimKind::Categorical(k) => {
                        let values: Vec<f64> = (0..*k).map(|i| i as f64).collect();
                        self.exhaustive(x, fx, t, &values)
                    }
                    DimKind::Grid { len, .. } if *len <= MAX_EXHAUSTIVE => {
                        let values: Vec<f64> =
                            (0..*len).map(|i| self.dims[t].grid_value(i)).collect();
                        self.exhaustive(x, fx, t, &values)
                    }
                    DimKind::Grid { len, .. } => {
                        let len = *len;
                        self.line(x, fx, t, len)
                    }
                    DimKind::Continuous => false,
                };
                if changed {
                    last = Some(t);
                }
            }
            if last.is_none() {
                return;
            }
        }
    }
}

/// Maximises the acquisition: `n_preliminary` scrambled Sobol points (seed `sobol_seed`),
/// then local searches from the best of them, from `warm` (the best observed point) and from
/// roulette-wheel picks with probability ∝ exp(acq − max). Returns the best point and value.
pub(crate) fn optimize(
    acq: &LogEi<'_>,
    dims: &[Dim],
    warm: Option<&[f64]>,
    sobol_seed: u32,
    rng: &mut StdRng,
    opt: SearchOptions,
) -> (Vec<f64>, f64) {
    let d = dims.len();
    let mut s = Searcher {
        acq,
        dims,
        sc: Scratch::default(),
        grad: vec![0.0; d],
    };
    let m = opt.n_preliminary.max(1);
    let mut cand = vec![0.0; m * d];
    let mut fvals = vec![0.0; m];
    for i in 0..m {
        let row = &mut cand[i * d..(i + 1) * d];
        for (t, dim) in dims.iter().enumerate() {
            row[t] = dim.snap_uniform(sobol_unit(i as u64, t as u64, sobol_seed));
        }
        fvals[i] = s.value(row);
    }
    let mut best_i = 0;
    for i in 1..m {
        if fvals[i] > fvals[best_i] || fvals[best_i].is_nan() {
            best_i = i;
        }
    }
    let fmax = fvals[best_i];
    let mut weights: Vec<f64> = fvals
        .iter()
        .map(|f| {
            let w = (f - fmax).exp();
            if w.is_finite() { w } else { 0.0 }
        })
        .collect();
    weights[best_i] = 0.0;
    let n_warm = usize::from(warm.is_some());
    let nonzero = weights.iter().filter(|w| **w > 0.0).count();
    let n_roulette = opt.n_local.saturating_sub(1 + n_warm).min(nonzero);
    let mut starts: Vec<Vec<f64>> = vec![cand[best_i * d..(best_i + 1) * d].to_vec()];
    // Weighted draws without replacement.
    for _ in 0..n_roulette {
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut u = rng.random::<f64>() * total;
        let mut pick = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
        for (i, w) in weights.iter().enumerate() {
            if *w <= 0.0 {
                continue;
            }
            if u < *w {
                pick = i;
                break;
            }
            u -= w;
        }
        weights[pick] = 0.0;
        starts.push(cand[pick * d..(pick + 1) * d].to_vec());
    }
    if let Some(w) = warm {
        starts.push(w.to_vec());
    }
    let cont: Vec<usize> = (0..d)
        .filter(|&t| matches!(dims[t].kind, DimKind::Continuous))
        .collect();
    let ls: Vec<f64> = cont
        .iter()
        .map(|&t| 1.0 / acq.post.hyper().inv_sq_ls[t].sqrt())
        .collect();
    let mut best = (starts[0].clone(), f64::NEG_INFINITY);
    for mut x in starts {
        let mut fx = s.value(&x);
        s.local_search(&mut x, &mut fx, &cont, &ls, opt.tol);
        if fx > best.1 || best.1.is_nan() {
            best = (x, fx);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constrained_and_penalised_gradient_matches_finite_differences() {
        use crate::sampler::gp::model::tests::{Y, hyper, inputs};
        let post = Posterior::new(inputs(), Y.to_vec(), hyper()).unwrap();
        let cons = Posterior::new(inputs(), vec![1.0, -0.5, 0.3, -1.1], hyper()).unwrap();
        let acq = LogEi {
            post: &post,
            threshold: Some(0.4),
            constraints: vec![Feasibility {
                post: &cons,
                bound: 0.2,
            }],
            penalties: Some(Penalties {
                points: vec![Penalty {
                    x: vec![0.5, 0.5, 0.0],
                    mean: 0.3,
                    sigma: 0.4,
                }],
                lipschitz: 2.5,
                best: 0.9,
            }),
            batch: None,
        };
        let x = [0.33, 0.61, 1.0];
        let mut sc = Scratch::default();
        let mut g = [0.0; 3];
        let v = acq.value_grad(&x, &mut sc, &mut g);
        assert!((v - acq.value(&x, &mut sc)).abs() < 1e-12);
        for t in 0..2 {
            let h = 1e-6;
            let (mut a, mut b) = (x, x);
            a[t] += h;
            b[t] -= h;
            let fd = (acq.value(&a, &mut sc) - acq.value(&b, &mut sc)) / (2.0 * h);
            assert!((g[t] - fd).abs() < 1e-6, "dim {t}: {} vs {fd}", g[t]);
        }
        assert_eq!(g[2], 0.0);
    }

    #[test]
    fn q_log_ei_without_running_points_is_log_ei_and_duplicates_add_nothing() {
        use crate::sampler::gp::model::tests::{Y, hyper, inputs};
        let post = Posterior::new(inputs(), Y.to_vec(), hyper()).unwrap();
        let best = 0.9;
        let normals = |q: usize| -> Vec<f64> {
            (0..4096u64)
                .flat_map(|i| {
                    (0..q as u64).map(move |t| {
                        crate::sampler::truncnorm::ndtri(
                            sobol_unit(i, t, 7).clamp(1e-10, 1.0 - 1e-10),
                        )
                    })
                })
                .collect()
        };
        let q_acq = |rows: Vec<f64>| {
            let (means, vs, cov) = post.joint(&rows);
            let q = means.len() + 1;
            QBatch {
                rows,
                vs,
                means,
                cov,
                base: normals(q),
                best,
            }
        };
        let ei = LogEi {
            post: &post,
            threshold: Some(best),
            constraints: vec![],
            penalties: None,
            batch: None,
        };
        let mut sc = Scratch::default();
        let alone = q_acq(Vec::new());
        // Where the improvement is not vanishingly rare (Monte Carlo cannot see a 1e-6 tail).
        for x in [[0.2, 0.3, 0.0], [0.8, 0.55, 0.0], [0.75, 0.45, 0.0]] {
            let exact = ei.value(&x, &mut sc);
            assert!(exact > -6.0, "{x:?}: {exact}");
            let mc = alone.value(&post, &x, &mut sc);
            assert!(
                (exact - mc).abs() < 0.05,
                "{x:?}: log EI {exact}, q log EI {mc}"
            );
        }
        // A running trial at x already holds x's improvement: x next to it gains nothing.
        let x = [0.8, 0.55, 0.0];
        let with_x = q_acq(x.to_vec());
        let far = [0.1, 0.9, 0.0];
        let gain_at_x = with_x.value(&post, &x, &mut sc) - alone.value(&post, &x, &mut sc);
        // (The smooth max of two equal samples adds τ·ln 2: a trace, not an improvement.)
        assert!(gain_at_x.abs() < 0.02, "{gain_at_x}");
        assert!(with_x.value(&post, &far, &mut sc) > with_x.value(&post, &x, &mut sc) - 1e-9);
    }

    #[test]
    fn log_ndtr_derivative_matches_scipy() {
        // scipy 1.17.1: exp(norm.logpdf(u) - log_ndtr(u)) (scripts/reference/special_functions.py).
        for (u, want) in [
            (-40.0, 40.024_968_847_210_886),
            (-5.0, 5.186_503_967_125_851_5),
            (-0.5, 1.141_077_770_368_064_8),
            (0.0, 0.797_884_560_802_865_4),
            (3.0, 0.004_437_839_042_125_666),
        ] {
            let got = log_ndtr_du(u);
            assert!((got - want).abs() <= 1e-12 * want, "{u}: {got} vs {want}");
        }
    }

    #[test]
    fn log_ei_matches_mpmath() {
        // mpmath (mp.dps = 50): log(npdf(z) + z * ncdf(z)), printed to 17 digits.
        let cases = [
            (-40.0, -808.298_568_356_62),
            (-10.0, -55.553_122_036_122_36),
            (-1.0, -2.485_121_025_712_641_3),
            (0.0, -0.918_938_533_204_672_7),
            (2.0, 0.697_383_545_788_228_3),
        ];
        for (z, want) in cases {
            let got = log_ei_std(z);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "z = {z}: {got} vs {want}"
            );
        }
        // Both branches agree where they meet.
        let (a, b) = (log_ei_std(-25.0), log_ei_std(-25.0 - 1e-9));
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }

    #[test]
    fn log_ei_derivative_matches_finite_differences() {
        for z in [-40.0, -26.0, -10.0, -1.0, 0.0, 2.0] {
            let h = 1e-6;
            let fd = (log_ei_std(z + h) - log_ei_std(z - h)) / (2.0 * h);
            let got = log_ei_std_dz(z);
            assert!(((got - fd) / fd).abs() < 1e-6, "z = {z}: {got} vs {fd}");
        }
    }

    #[test]
    fn erfcx_matches_scipy() {
        // scipy.special.erfcx(u) for u in (0.5, 7.9, 8.1, 30)
        // (scripts/reference/special_functions.py).
        let cases = [
            (0.5, 0.615_690_344_192_925_8),
            (7.9, 0.070_857_477_367_397_14),
            (8.1, 0.069_133_920_177_343_17),
            (30.0, 0.018_795_888_861_416_754),
        ];
        for (u, want) in cases {
            let got = erfcx(u);
            assert!(
                ((got - want) / want).abs() < 1e-13,
                "u = {u}: {got} vs {want}"
            );
        }
    }
}
