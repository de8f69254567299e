//! Parzen estimators: the densities l(x) and g(x) that TPE compares.
//!
//! A [`ParzenEstimator`] over a group of parameters is a weighted mixture of product kernels:
//! one kernel per observation plus one wide "prior" kernel, and inside a kernel one factor per
//! parameter (Optuna 5.0's `_ParzenEstimator`, `optuna/samplers/_tpe/parzen_estimator.py`):
//!
//! - numeric parameters get a normal truncated to the parameter's range, in the sampler's model
//!   domain ([`Distribution::to_model`]: log scale for log parameters, bounds widened by half a
//!   step for ints and stepped floats). The mean is the observation; the bandwidth is the larger
//!   gap to its neighbours among the sorted observations ([`bandwidths`]). Ints and stepped
//!   floats give each grid value the kernel's mass over its cell `[v - step/2, v + step/2]`;
//! - categorical parameters get `prior_weight / (n + 1)` on every choice plus 1 on the observed
//!   one, renormalised; the prior kernel is uniform.
//!
//! Evaluating the density is the hot path of TPE (24 candidates against about as many kernels as
//! trials), so everything that does not depend on the point is precomputed per kernel: the
//! mixture weight, the truncation mass and the bandwidth's normaliser are folded into one
//! constant, and the means and inverse bandwidths are stored per parameter so that the inner
//! loop over kernels is a straight, vectorisable pass.

use rand::RngExt;
use rand::rngs::StdRng;

use crate::error::{Result, TuneError};
use crate::sampler::truncnorm::{self, LN_SQRT_2PI};
use crate::space::Distribution;

/// Kernels whose log-density falls this far below the best kernel's contribute less than
/// `e^-60 ≈ 1e-26` of the mixture each and are skipped in the log-sum-exp.
const NEGLIGIBLE: f64 = 60.0;

/// A range end more than this many standard deviations from a kernel's mean cuts off at most
/// `Φ(-9) ≈ 1.1e-19` of its mass, which is left out of the kernel's log-mass (an absolute error
/// far under the rounding of the terms it is added to); it saves one or two `erfcx` calls per
/// kernel and makes the log-mass exactly 0 for kernels well inside the range.
const FULL_MASS_Z: f64 = 9.0;

/// How the kernels are built (Optuna 5.0 defaults from [`Default`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParzenOptions {
    /// Weight of the prior kernel relative to an observation of weight 1.
    pub prior_weight: f64,
    /// Floor the bandwidths at `range / min(100, n + 2)` ("magic clip"); otherwise at 1e-12.
    pub consider_magic_clip: bool,
    /// Let the range's ends count as neighbours of the outermost observations.
    pub consider_endpoints: bool,
}

impl Default for ParzenOptions {
    fn default() -> Self {
        ParzenOptions {
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }
}

/// One parameter of the group.
#[derive(Debug, Clone)]
enum Factor {
    Numeric {
        dist: Distribution,
        /// Model-domain bounds.
        low: f64,
        high: f64,
        /// Grid step of ints and stepped floats (internal units); `None` when continuous.
        step: Option<f64>,
        /// Which block of `n_kernels` entries of the kernel arrays is this parameter's.
        block: usize,
    },
    Categorical {
        n_choices: usize,
        /// Start of this parameter's `n_kernels × n_choices` block of `probs`.
        offset: usize,
    },
}

/// Reusable buffers for the bandwidth computation.
#[derive(Debug, Clone, Default)]
struct Bins {
    lo: Vec<f64>,
    lo_i: Vec<usize>,
    hi: Vec<f64>,
    hi_i: Vec<usize>,
    prev_max: Vec<f64>,
    next_min: Vec<f64>,
    /// Each observation's bin.
    of: Vec<usize>,
}

/// A mixture of product kernels over a group of parameters (see the module documentation).
///
/// [`fit`](Self::fit) rebuilds an estimator in place, reusing its buffers, so a sampler that
/// keeps one around allocates nothing per suggestion once the buffers have grown. The
/// [`Default`] estimator has no kernels: it samples nothing and gives every point density 0.
#[derive(Debug, Clone, Default)]
pub struct ParzenEstimator {
    factors: Vec<Factor>,
    weights: Vec<f64>,
    cum_weights: Vec<f64>,
    /// Per kernel: log mixture weight minus the log-normalisers (truncation mass, and for
    /// continuous factors `log σ + log √(2π)`) of all its factors.
    base: Vec<f64>,
    /// Numeric factors' kernels, one block of `n_kernels` values per factor.
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    inv_sigmas: Vec<f64>,
    /// log of each kernel's mass inside the bounds.
    log_mass: Vec<f64>,
    /// Categorical factors' choice probabilities, row-major blocks.
    probs: Vec<f64>,
    log_probs: Vec<f64>,
    column: Vec<f64>,
    scale: Vec<f64>,
    bins: Bins,
}

fn invalid(message: String) -> TuneError {
    TuneError::Sampler {
        sampler: "tpe",
        message,
    }
}

impl ParzenEstimator {
    /// Builds the estimator from `observations`, row-major with one row per observation and one
    /// internal value per distribution of `dists`, and one weight per observation (before the
    /// prior is added and everything is normalised). With no observations the estimator is the
    /// prior alone.
    pub fn new(
        dists: &[&Distribution],
        observations: &[f64],
        weights: &[f64],
        options: &ParzenOptions,
    ) -> Result<Self> {
        let mut pe = ParzenEstimator::default();
        pe.fit(dists, observations, weights, options)?;
        Ok(pe)
    }

    /// Rebuilds the estimator in place (see [`new`](Self::new)); on error it is left empty.
    pub fn fit(
        &mut self,
        dists: &[&Distribution],
        observations: &[f64],
        weights: &[f64],
        options: &ParzenOptions,
    ) -> Result<()> {
        self.factors.clear();
        for v in [
            &mut self.weights,
            &mut self.cum_weights,
            &mut self.base,
            &mut self.mus,
            &mut self.sigmas,
            &mut self.inv_sigmas,
            &mut self.log_mass,
            &mut self.probs,
            &mut self.log_probs,
        ] {
            v.clear();
        }
        let result = self.fit_inner(dists, observations, weights, options);
        if result.is_err() {
            self.factors.clear();
            self.weights.clear();
        }
        result
    }

    fn fit_inner(
        &mut self,
        dists: &[&Distribution],
        observations: &[f64],
        weights: &[f64],
        options: &ParzenOptions,
    ) -> Result<()> {
        let d = dists.len();
        let n = weights.len();
        if d == 0 {
            return Err(invalid(
                "a Parzen estimator needs at least one parameter".into(),
            ));
        }
        if observations.len() != n * d {
            return Err(invalid(format!(
                "{} observed values for {n} observations of {d} parameters",
                observations.len()
            )));
        }
        let pw = options.prior_weight;
        if !(pw.is_finite() && pw >= 0.0) {
            return Err(invalid(format!(
                "prior_weight must be finite and >= 0, got {pw}"
            )));
        }
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(invalid(
                "observation weights must be finite and >= 0".into(),
            ));
        }
        if n == 0 {
            self.weights.push(1.0);
        } else {
            self.weights.extend_from_slice(weights);
            self.weights.push(pw);
        }
        let total: f64 = self.weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return Err(invalid("observation weights sum to 0".into()));
        }
        // `scale` collects per kernel the product 1 / (weight · Π continuous bandwidths), whose
        // logarithm is taken once at the end instead of one logarithm per factor.
        self.scale.clear();
        let mut acc = 0.0;
        for w in &mut self.weights {
            *w /= total;
            acc += *w;
            self.cum_weights.push(acc);
            self.base.push(0.0);
            self.scale.push(1.0 / *w);
        }
        for (j, dist) in dists.iter().enumerate() {
            self.column.clear();
            self.column.extend((0..n).map(|i| observations[i * d + j]));
            let factor = match dist {
                Distribution::Categorical { choices } => self.fit_categorical(choices.len(), pw)?,
                Distribution::Float { .. } | Distribution::Int { .. } => {
                    self.fit_numeric(dist, options)?
                }
                Distribution::Fixed { .. } => {
                    return Err(invalid("a fixed parameter has nothing to estimate".into()));
                }
            };
            self.factors.push(factor);
        }
        for (b, s) in self.base.iter_mut().zip(&self.scale) {
            *b -= s.ln();
        }
        Ok(())
    }

    fn fit_categorical(&mut self, n_choices: usize, prior_weight: f64) -> Result<Factor> {
        if n_choices == 0 {
            return Err(invalid("a categorical parameter has no choices".into()));
        }
        let offset = self.probs.len();
        let n = self.column.len();
        if n == 0 {
            self.probs
                .extend(std::iter::repeat_n(1.0 / n_choices as f64, n_choices));
        } else {
            let fill = prior_weight / (n + 1) as f64;
            self.probs
                .extend(std::iter::repeat_n(fill, (n + 1) * n_choices));
            let block = &mut self.probs[offset..];
            for (k, &c) in self.column.iter().enumerate() {
                if !(c >= 0.0 && c.fract() == 0.0 && c < n_choices as f64) {
                    return Err(invalid(format!("choice index {c} outside 0..{n_choices}")));
                }
                block[k * n_choices + c as usize] += 1.0;
            }
            for row in block.chunks_exact_mut(n_choices) {
                let s: f64 = row.iter().sum();
                // An all-zero prior row (prior_weight 0) stays zero: its mixture weight is 0.
                if s > 0.0 {
                    row.iter_mut().for_each(|x| *x /= s);
                }
            }
        }
        self.log_probs
            .extend(self.probs[offset..].iter().map(|p| p.ln()));
        Ok(Factor::Categorical { n_choices, offset })
    }

    fn fit_numeric(&mut self, dist: &Distribution, options: &ParzenOptions) -> Result<Factor> {
        let (low, high) = dist.model_bounds();
        if !(low < high && low.is_finite() && high.is_finite()) {
            return Err(invalid(format!(
                "a numeric parameter needs a non-empty finite range, got [{low}, {high}]"
            )));
        }
        let k = self.weights.len();
        let start = self.mus.len();
        let block = start / k;
        let log = dist.is_log();
        if let Some(v) = self
            .column
            .iter()
            .find(|v| !(v.is_finite() && (!log || **v > 0.0)))
        {
            return Err(invalid(format!("observed value {v} is not in the range")));
        }
        // Two loops rather than `to_model` per value: the compiler would otherwise compute the
        // logarithm speculatively for linear parameters too.
        if log {
            self.mus
                .extend(self.column.iter().map(|v| v.ln().clamp(low, high)));
        } else {
            self.mus
                .extend(self.column.iter().map(|v| v.clamp(low, high)));
        }
        bandwidths_into(
            &self.mus[start..],
            low,
            high,
            options,
            &mut self.bins,
            &mut self.sigmas,
        );
        self.mus.push(0.5 * (low + high));
        self.sigmas.push(high - low);
        let step = dist.step();
        let (mus, sigmas) = (&self.mus[start..], &self.sigmas[start..]);
        for (i, (&mu, &s)) in mus.iter().zip(sigmas).enumerate() {
            self.inv_sigmas.push(1.0 / s);
            let lm = kernel_log_mass((low - mu) / s, (high - mu) / s);
            self.log_mass.push(lm);
            self.base[i] -= lm;
            if step.is_none() {
                self.base[i] -= LN_SQRT_2PI;
                let p = self.scale[i] * s;
                // Keep the running product far from under- and overflow (a zero weight makes
                // it infinite, and the kernel's log-weight -inf, as it should).
                if (1e-150..=1e150).contains(&p) {
                    self.scale[i] = p;
                } else {
                    self.base[i] -= p.ln();
                    self.scale[i] = 1.0;
                }
            }
        }
        Ok(Factor::Numeric {
            dist: dist.clone(),
            low,
            high,
            step,
            block,
        })
    }

    /// The number of kernels (observations plus the prior).
    pub fn n_kernels(&self) -> usize {
        self.weights.len()
    }

    /// The normalised mixture weights, the prior's last.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    fn block<'a>(&self, v: &'a [f64], j: usize) -> Option<&'a [f64]> {
        let k = self.n_kernels();
        match self.factors.get(j)? {
            Factor::Numeric { block, .. } => v.get(block * k..(block + 1) * k),
            Factor::Categorical { .. } => None,
        }
    }

    /// Kernel means of parameter `j` in the model domain (the prior's last), if it is numeric.
    pub fn mus(&self, j: usize) -> Option<&[f64]> {
        self.block(&self.mus, j)
    }

    /// Kernel bandwidths of parameter `j` in the model domain (the prior's last), if numeric.
    pub fn sigmas(&self, j: usize) -> Option<&[f64]> {
        self.block(&self.sigmas, j)
    }

    /// Choice probabilities of categorical parameter `j`, row-major with one row per kernel.
    pub fn categorical_probs(&self, j: usize) -> Option<&[f64]> {
        match self.factors.get(j)? {
            Factor::Categorical { n_choices, offset } => self
                .probs
                .get(*offset..offset + n_choices * self.n_kernels()),
            Factor::Numeric { .. } => None,
        }
    }

    /// Draws `n` points, row-major internal values (snapped onto grids, choice indices for
    /// categoricals): a kernel by mixture weight, then every parameter from that kernel, numeric
    /// ones by inverting the truncated normal's CDF.
    pub fn sample(&self, rng: &mut StdRng, n: usize) -> Vec<f64> {
        let k_all = self.n_kernels();
        let mut out = Vec::with_capacity(n * self.factors.len());
        if k_all == 0 {
            return out;
        }
        for _ in 0..n {
            let u: f64 = rng.random();
            let k = self.cum_weights.partition_point(|&c| c <= u).min(k_all - 1);
            for factor in &self.factors {
                let q: f64 = rng.random();
                out.push(match factor {
                    Factor::Numeric {
                        dist,
                        low,
                        high,
                        block,
                        ..
                    } => {
                        let i = block * k_all + k;
                        let (mu, sigma) = (self.mus[i], self.sigmas[i]);
                        let (a, b) = ((low - mu) / sigma, (high - mu) / sigma);
                        let z = truncnorm::ppf_with_log_mass(q, a, b, self.log_mass[i]);
                        dist.from_model((mu + sigma * z).clamp(*low, *high))
                    }
                    Factor::Categorical { n_choices, offset } => {
                        let row = &self.probs[offset + k * n_choices..offset + (k + 1) * n_choices];
                        let mut acc = 0.0;
                        let mut choice = n_choices - 1;
                        for (c, p) in row.iter().enumerate() {
                            acc += p;
                            if q < acc {
                                choice = c;
                                break;
                            }
                        }
                        choice as f64
                    }
                });
            }
        }
        out
    }

    /// The log-density of each of the row-major `points` (internal values, one row per point),
    /// written into `out` (cleared first). Numeric densities are in the model domain, so for log
    /// parameters they lack the Jacobian, which cancels in TPE's ratio l(x)/g(x); points outside
    /// the support get `-inf`.
    pub fn log_pdf(&self, points: &[f64], out: &mut Vec<f64>) {
        out.clear();
        let d = self.factors.len();
        let k_all = self.n_kernels();
        if d == 0 || k_all == 0 {
            out.extend(std::iter::repeat_n(
                f64::NEG_INFINITY,
                points.len() / d.max(1),
            ));
            return;
        }
        let mut acc = vec![0.0; k_all];
        let mut terms: Vec<Term> = Vec::with_capacity(d);
        for row in points.chunks_exact(d) {
            if !self.terms(row, &mut terms) {
                out.push(f64::NEG_INFINITY);
                continue;
            }
            acc.copy_from_slice(&self.base);
            let n_cells = terms
                .iter()
                .filter(|t| matches!(t, Term::Cell { .. }))
                .count();
            let (cheap, cells) = terms.split_at(terms.len() - n_cells);
            for t in cheap {
                self.add_all(t, &mut acc);
            }
            if !cells.is_empty() {
                self.add_cells(cells, &mut acc);
            }
            out.push(log_sum_exp(&acc));
        }
    }

    /// Adds each kernel's log-mass of the point's grid cells, the expensive terms. They are
    /// `<= 0`, as are all terms once the normalisers sit in the per-kernel constant, so a kernel
    /// already `NEGLIGIBLE` below the complete value of the currently best kernel can only fall
    /// further: it is dropped (it would contribute under `e^-60` of the mixture) instead of
    /// paying for its cell masses.
    fn add_cells(&self, cells: &[Term], acc: &mut [f64]) {
        let k_all = acc.len();
        let cell_sum = |k: usize| -> f64 { cells.iter().map(|t| self.term(t, k, k_all)).sum() };
        let best = (0..k_all).fold(0, |b, k| if acc[k] > acc[b] { k } else { b });
        let floor = acc[best] + cell_sum(best) - NEGLIGIBLE;
        for (k, a) in acc.iter_mut().enumerate() {
            if *a < floor {
                *a = f64::NEG_INFINITY;
            } else {
                *a += cell_sum(k);
            }
        }
    }

    /// The per-point part of every factor, cheapest first (continuous, categorical, grid
    /// cells); false when the point is outside the support.
    fn terms(&self, row: &[f64], terms: &mut Vec<Term>) -> bool {
        terms.clear();
        for (factor, &x) in self.factors.iter().zip(row) {
            let t = match factor {
                Factor::Numeric {
                    dist,
                    low,
                    high,
                    step: None,
                    block,
                } => {
                    let xm = dist.to_model(x);
                    if !(xm >= *low && xm <= *high) {
                        return false;
                    }
                    Term::Continuous {
                        block: *block,
                        x: xm,
                    }
                }
                Factor::Numeric {
                    dist,
                    low,
                    high,
                    step: Some(step),
                    block,
                } => {
                    let lo = dist.to_model(x - 0.5 * step).max(*low);
                    let hi = dist.to_model(x + 0.5 * step).min(*high);
                    if lo.is_nan() || hi.is_nan() || lo >= hi {
                        return false;
                    }
                    Term::Cell {
                        block: *block,
                        lo,
                        hi,
                    }
                }
                Factor::Categorical { n_choices, offset } => {
                    if !(x >= 0.0 && x.fract() == 0.0 && x < *n_choices as f64) {
                        return false;
                    }
                    Term::Choice {
                        offset: *offset,
                        n_choices: *n_choices,
                        choice: x as usize,
                    }
                }
            };
            terms.push(t);
        }
        terms.sort_by_key(|t| match t {
            Term::Continuous { .. } => 0,
            Term::Choice { .. } => 1,
            Term::Cell { .. } => 2,
        });
        true
    }

    /// Kernel `k`'s log-density term for one factor of a point (`<= 0` for the continuous and
    /// categorical terms; a cell's log-mass, also `<= 0`, for grid parameters).
    fn term(&self, t: &Term, k: usize, k_all: usize) -> f64 {
        match *t {
            Term::Continuous { block, x } => {
                let i = block * k_all + k;
                let z = (x - self.mus[i]) * self.inv_sigmas[i];
                -0.5 * z * z
            }
            Term::Choice {
                offset,
                n_choices,
                choice,
            } => self.log_probs[offset + k * n_choices + choice],
            Term::Cell { block, lo, hi } => {
                let i = block * k_all + k;
                let (mu, inv) = (self.mus[i], self.inv_sigmas[i]);
                truncnorm::log_gauss_mass((lo - mu) * inv, (hi - mu) * inv)
            }
        }
    }

    /// Adds one factor's term for every kernel (a straight loop the compiler vectorises for
    /// continuous factors).
    fn add_all(&self, t: &Term, acc: &mut [f64]) {
        let k_all = acc.len();
        match *t {
            Term::Continuous { block, x } => {
                let mus = &self.mus[block * k_all..(block + 1) * k_all];
                let invs = &self.inv_sigmas[block * k_all..(block + 1) * k_all];
                for ((a, mu), inv) in acc.iter_mut().zip(mus).zip(invs) {
                    let z = (x - mu) * inv;
                    *a -= 0.5 * z * z;
                }
            }
            Term::Choice {
                offset,
                n_choices,
                choice,
            } => {
                let lp = &self.log_probs[offset..offset + n_choices * k_all];
                for (a, row) in acc.iter_mut().zip(lp.chunks_exact(n_choices)) {
                    *a += row[choice];
                }
            }
            Term::Cell { .. } => {
                for (k, a) in acc.iter_mut().enumerate() {
                    *a += self.term(t, k, k_all);
                }
            }
        }
    }
}

/// The part of one factor's log-density that depends on the point.
#[derive(Debug, Clone, Copy)]
enum Term {
    /// A continuous parameter at model-domain value `x`.
    Continuous { block: usize, x: f64 },
    /// A categorical parameter at `choice`.
    Choice {
        offset: usize,
        n_choices: usize,
        choice: usize,
    },
    /// A grid parameter whose value's cell is `[lo, hi]` in the model domain.
    Cell { block: usize, lo: f64, hi: f64 },
}

/// A kernel's log-mass inside the bounds, `a` and `b` being the bounds in its standard units.
/// A side more than [`FULL_MASS_Z`] deviations away is left out, which changes the result by
/// less than `Φ(-9) ≈ 1.1e-19` (absolute) and halves the work for kernels near one end.
fn kernel_log_mass(a: f64, b: f64) -> f64 {
    match (a <= -FULL_MASS_Z, b >= FULL_MASS_Z) {
        (true, true) => 0.0,
        (true, false) if b > 0.0 => truncnorm::log_ndtr(b),
        (false, true) if a < 0.0 => truncnorm::log_ndtr(-a),
        _ => truncnorm::log_gauss_mass(a, b),
    }
}

/// `log Σ exp(v)`, skipping terms that cannot change the sum.
fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    let s: f64 = v
        .iter()
        .filter(|&&x| x > m - NEGLIGIBLE)
        .map(|&x| (x - m).exp())
        .sum();
    m + s.ln()
}

/// Kernel bandwidths for observations `mus` (model domain, inside `[low, high]`) by Optuna
/// 5.0's neighbour-gap rule: each observation's larger gap to its neighbours in sorted order
/// (ties in input order), where without `consider_endpoints` the smallest and largest
/// observation only look inwards; then clipped to `[range / min(100, n + 2), range]` with the
/// magic clip, or `[1e-12, range]` without. A single observation gets its larger distance to
/// the ends.
pub fn bandwidths(mus: &[f64], low: f64, high: f64, options: &ParzenOptions) -> Vec<f64> {
    let mut out = Vec::with_capacity(mus.len());
    bandwidths_into(mus, low, high, options, &mut Bins::default(), &mut out);
    out
}

/// [`bandwidths`] appended to `out`, with reusable buffers.
fn bandwidths_into(
    mus: &[f64],
    low: f64,
    high: f64,
    options: &ParzenOptions,
    bins: &mut Bins,
    out: &mut Vec<f64>,
) {
    let n = mus.len();
    let range = high - low;
    let min_sigma = if options.consider_magic_clip {
        range / (n as f64 + 2.0).min(100.0)
    } else {
        1e-12
    };
    let start = out.len();
    match n {
        0 => return,
        1 => out.push((mus[0] - low).max(high - mus[0])),
        _ if options.consider_magic_clip => {
            gaps_binned(mus, low, high, options.consider_endpoints, bins, out)
        }
        _ => gaps_sorted(mus, low, high, options.consider_endpoints, out),
    }
    for s in &mut out[start..] {
        *s = s.max(min_sigma).min(range);
    }
}

/// Neighbour gaps by sorting (any floor), appended to `out`; `n >= 2`.
fn gaps_sorted(mus: &[f64], low: f64, high: f64, endpoints: bool, out: &mut Vec<f64>) {
    let n = mus.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| mus[i].total_cmp(&mus[j]));
    let start = out.len();
    out.resize(start + n, 0.0);
    for (p, &i) in order.iter().enumerate() {
        let left = if p == 0 {
            mus[i] - low
        } else {
            mus[i] - mus[order[p - 1]]
        };
        let right = if p == n - 1 {
            high - mus[i]
        } else {
            mus[order[p + 1]] - mus[i]
        };
        out[start + i] = if !endpoints && p == 0 {
            right
        } else if !endpoints && p == n - 1 {
            left
        } else {
            left.max(right)
        };
    }
}

/// Neighbour gaps in O(n) for the magic-clip floor `w = range / min(100, n + 2)`, appended to
/// `out`: observations are bucketed into bins of width `w`. A gap inside a bin is below `w`
/// and so clipped to `w` whatever its value (it is reported as 0), which leaves only each bin's
/// first element (in sorted order: the smallest value, first in input order among equals) and
/// last element (the largest, last among equals), whose outer neighbours are the extremes of
/// the adjacent non-empty bins. Equal to [`gaps_sorted`] after clipping; `n >= 2`.
fn gaps_binned(
    mus: &[f64],
    low: f64,
    high: f64,
    endpoints: bool,
    bins: &mut Bins,
    out: &mut Vec<f64>,
) {
    let n = mus.len();
    let n_bins = (n + 2).min(100);
    let scale = n_bins as f64 / (high - low);
    const EMPTY: usize = usize::MAX;
    let Bins {
        lo,
        lo_i,
        hi,
        hi_i,
        prev_max,
        next_min,
        of,
    } = bins;
    of.clear();
    of.extend(
        mus.iter()
            .map(|&x| (((x - low) * scale).max(0.0) as usize).min(n_bins - 1)),
    );
    lo.clear();
    lo.resize(n_bins, f64::INFINITY);
    hi.clear();
    hi.resize(n_bins, f64::NEG_INFINITY);
    lo_i.clear();
    lo_i.resize(n_bins, EMPTY);
    hi_i.clear();
    hi_i.resize(n_bins, EMPTY);
    for (i, (&x, &b)) in mus.iter().zip(of.iter()).enumerate() {
        // Strict for the minimum (keep the first of equals), not for the maximum (the last).
        if x < lo[b] {
            (lo[b], lo_i[b]) = (x, i);
        }
        if x >= hi[b] {
            (hi[b], hi_i[b]) = (x, i);
        }
    }
    // The extremes of the nearest non-empty bins on either side (NaN: none).
    prev_max.clear();
    let mut last = f64::NAN;
    for b in 0..n_bins {
        prev_max.push(last);
        if lo_i[b] != EMPTY {
            last = hi[b];
        }
    }
    next_min.clear();
    next_min.resize(n_bins, f64::NAN);
    let mut first = f64::NAN;
    for b in (0..n_bins).rev() {
        next_min[b] = first;
        if lo_i[b] != EMPTY {
            first = lo[b];
        }
    }
    out.extend(mus.iter().zip(of.iter()).enumerate().map(|(i, (&x, &b))| {
        let (is_first, is_last) = (i == lo_i[b], i == hi_i[b]);
        if !is_first && !is_last {
            return 0.0;
        }
        let global_first = is_first && prev_max[b].is_nan();
        let global_last = is_last && next_min[b].is_nan();
        let left = match (is_first, global_first) {
            (true, true) => x - low,
            (true, false) => x - prev_max[b],
            _ => 0.0,
        };
        let right = match (is_last, global_last) {
            (true, true) => high - x,
            (true, false) => next_min[b] - x,
            _ => 0.0,
        };
        if !endpoints && global_first {
            right
        } else if !endpoints && global_last {
            left
        } else {
            left.max(right)
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::trial_rng;
    use crate::space::ParamValue;

    fn close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tol * w.abs().max(1.0),
                "{got:?}\nvs {want:?}"
            );
        }
    }

    fn float(low: f64, high: f64, log: bool, step: Option<f64>) -> Distribution {
        Distribution::Float {
            low,
            high,
            log,
            step,
        }
    }

    fn int(low: i64, high: i64, log: bool) -> Distribution {
        Distribution::Int {
            low,
            high,
            log,
            step: 1,
        }
    }

    fn cat(n: usize) -> Distribution {
        Distribution::Categorical {
            choices: (0..n as i64).map(ParamValue::Int).collect(),
        }
    }

    /// Six parameters of every kind and five observations (two tied on `n`).
    fn mixed() -> (Vec<Distribution>, Vec<f64>) {
        let dists = vec![
            float(-5.0, 10.0, false, None),
            float(1e-3, 1.0, true, None),
            int(1, 10, false),
            int(1, 64, true),
            float(0.0, 1.0, false, Some(0.25)),
            cat(3),
        ];
        let cols = [
            [0.5, -2.0, 7.5, 0.5, 9.9],
            [0.01, 0.5, 0.002, 0.1, 0.03],
            [3.0, 3.0, 10.0, 1.0, 5.0],
            [2.0, 64.0, 8.0, 8.0, 1.0],
            [0.25, 0.5, 1.0, 0.0, 0.25],
            [0.0, 2.0, 2.0, 1.0, 0.0],
        ];
        let rows = (0..5)
            .flat_map(|i| cols.iter().map(move |c| c[i]))
            .collect();
        (dists, rows)
    }

    #[test]
    fn kernels_match_optuna_parzen_estimator() {
        // Reference: optuna 5.0.0 `_ParzenEstimator(obs, space, _ParzenEstimatorParameters(
        // prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
        // weights=default_weights, multivariate=True))` on the same space and observations
        // (x float [-5, 10]; lr float [1e-3, 1] log; n int [1, 10]; k int [1, 64] log; f float
        // [0, 1] step 0.25; c categorical of 3); `_mixture_distribution` mu / sigma / weights.
        // scripts/reference/tpe.py prints every value of this test and the next.
        let (dists, rows) = mixed();
        let refs: Vec<&Distribution> = dists.iter().collect();
        let pe = ParzenEstimator::new(&refs, &rows, &[1.0; 5], &ParzenOptions::default()).unwrap();
        close(pe.weights(), &[1.0 / 6.0; 6], 1e-15);
        // x: ties at 0.5 take their sorted places in input order (2.5 then 7.0); the outermost
        // observations look inwards only (-2 → 2.5, 9.9 → 2.4); the prior is N(2.5, 15).
        close(pe.mus(0).unwrap(), &[0.5, -2.0, 7.5, 0.5, 9.9, 2.5], 1e-15);
        close(
            pe.sigmas(0).unwrap(),
            &[2.5, 2.5, 7.0, 7.0, 2.4, 15.0],
            1e-14,
        );
        close(
            pe.mus(1).unwrap(),
            &[
                -4.605_170_185_988_091,
                -std::f64::consts::LN_2,
                -6.214_608_098_422_191,
                -2.302_585_092_994_045_5,
                -3.506_557_897_319_982,
                -3.453_877_639_491_068_4,
            ],
            1e-15,
        );
        close(
            pe.sigmas(1).unwrap(),
            &[
                1.609_437_912_434_100_5,
                1.609_437_912_434_1,
                1.609_437_912_434_100_5,
                1.609_437_912_434_1,
                1.203_972_804_325_936_3,
                6.907_755_278_982_137,
            ],
            1e-14,
        );
        // n: widened bounds [0.5, 10.5]; the magic clip floor 10/7 lifts nothing here.
        close(pe.mus(2).unwrap(), &[3.0, 3.0, 10.0, 1.0, 5.0, 5.5], 1e-15);
        close(
            pe.sigmas(2).unwrap(),
            &[2.0, 2.0, 5.0, 2.0, 5.0, 10.0],
            1e-14,
        );
        // k: log int, bounds ln(0.5)..ln(64.5).
        close(
            pe.mus(3).unwrap(),
            &[
                std::f64::consts::LN_2,
                4.158_883_083_359_671_5,
                2.079_441_541_679_835_7,
                2.079_441_541_679_835_7,
                0.0,
                1.736_759_021_620_890_6,
            ],
            1e-15,
        );
        // The tied 8s (ln 8): the first in sorted order gets ln 4 (its gap down to ln 2), the
        // second ln 8 (its gap up to ln 64). Ties keep input order here; numpy's argsort is not
        // stable and put them the other way round (Optuna: [.., 2.0794, 1.3863, ..]). The
        // values below and the log_pdf ones further down are from the same Optuna script with
        // np.argsort(kind="stable") patched into parzen_estimator.
        close(
            pe.sigmas(3).unwrap(),
            &[
                1.386_294_361_119_890_4,
                2.079_441_541_679_835_7,
                1.386_294_361_119_890_4,
                2.079_441_541_679_835_7,
                0.694_258_914_908_810_3,
                4.859_812_404_361_672,
            ],
            1e-14,
        );
        close(
            pe.sigmas(4).unwrap(),
            &[0.25, 0.5, 0.5, 0.25, 0.25, 1.25],
            1e-14,
        );
        // c: 1/6 prior mass on each choice + 1 on the observed one, over 1.5; the prior uniform.
        let (hi, lo) = (7.0 / 9.0, 1.0 / 9.0);
        close(
            pe.categorical_probs(5).unwrap(),
            &[
                hi,
                lo,
                lo,
                lo,
                lo,
                hi,
                lo,
                lo,
                hi,
                lo,
                hi,
                lo,
                hi,
                lo,
                lo,
                1.0 / 3.0,
                1.0 / 3.0,
                1.0 / 3.0,
            ],
            1e-15,
        );
        // _ParzenEstimator.log_pdf at three points (continuous, discrete and categorical
        // factors together, one at the edges of every range).
        let points = [
            1.0, 0.02, 4.0, 16.0, 0.5, 1.0, //
            -4.9, 0.9, 10.0, 1.0, 0.0, 2.0, //
            9.99, 0.001, 1.0, 64.0, 1.0, 0.0,
        ];
        let mut out = Vec::new();
        pe.log_pdf(&points, &mut out);
        close(
            &out,
            &[
                -14.054_801_518_885_917,
                -13.213_560_687_039_813,
                -17.209_619_954_331_902,
            ],
            1e-13,
        );
    }

    #[test]
    fn forgetting_weights_and_magic_clip_match_optuna() {
        // Reference: optuna 5.0.0 `_ParzenEstimator` over one float in [-5, 10] with 30
        // observations (np.round(RandomState(3).uniform(-5, 10, 30), 3)) and default_weights(30):
        // the four oldest ramp up from 1/30, and bandwidths are floored at 15/32 = 0.46875.
        let xs = [
            3.262, 5.622, -0.636, 2.662, 8.394, 8.444, -3.116, -1.891, -4.228, 1.612, -4.552,
            1.852, 4.737, -0.823, 5.144, 3.863, -4.64, 3.383, -1.111, 1.227, -0.747, 5.397, 1.607,
            -2.647, 3.17, 6.705, -0.405, -1.671, 0.82, 9.046,
        ];
        let w: Vec<f64> = (0..30)
            .map(|i| match i {
                0 => 1.0 / 30.0,
                1..=3 => 1.0 / 30.0 + i as f64 * (1.0 - 1.0 / 30.0) / 4.0,
                _ => 1.0,
            })
            .collect();
        let d = float(-5.0, 10.0, false, None);
        let pe = ParzenEstimator::new(&[&d], &xs, &w, &ParzenOptions::default()).unwrap();
        let want_w: Vec<f64> = [
            0.001_166_180_758_017_492_7,
            0.009_620_991_253_644_314,
            0.018_075_801_749_271_137,
            0.026_530_612_244_897_955,
        ]
        .into_iter()
        .chain([0.034_985_422_740_524_776; 27])
        .collect();
        close(pe.weights(), &want_w, 1e-14);
        close(
            pe.sigmas(0).unwrap(),
            &[
                0.46875, 1.083, 0.46875, 0.81, 1.689, 0.602, 1.112, 0.756, 1.112, 0.46875, 0.46875,
                0.81, 0.874, 0.46875, 0.46875, 0.874, 0.46875, 0.48, 0.56, 0.46875, 0.46875,
                0.46875, 0.46875, 0.756, 0.508, 1.689, 1.225, 0.56, 1.225, 0.602, 15.0,
            ],
            1e-12,
        );
        let mut out = Vec::new();
        pe.log_pdf(&[-5.0, 0.123, 9.5], &mut out);
        close(
            &out,
            &[
                -2.664_191_153_181_186_6,
                -3.145_630_067_211_292,
                -3.327_637_340_808_403_5,
            ],
            1e-13,
        );
        // With no observations only the prior is left: optuna gives -3.7656846892793707 for
        // x = 2.5 (N(2.5, 15) truncated to [-5, 10]) and choice 1 of 3.
        let c = cat(3);
        let prior = ParzenEstimator::new(&[&d, &c], &[], &[], &ParzenOptions::default()).unwrap();
        prior.log_pdf(&[2.5, 1.0], &mut out);
        close(&out, &[-3.765_684_689_279_370_7], 1e-14);
    }

    #[test]
    fn binned_gaps_equal_sorted_gaps_after_clipping() {
        let opts = ParzenOptions::default();
        let mut rng = trial_rng(7, 0, 0);
        for n in [2, 3, 5, 17, 98, 99, 150, 1000] {
            for endpoints in [false, true] {
                // Values on a coarse grid, so that ties and empty bins are common, plus the ends.
                let mut mus: Vec<f64> = (0..n)
                    .map(|_| (rng.random_range(0..40) as f64) * 0.25 - 5.0)
                    .collect();
                mus[0] = -5.0;
                mus[n - 1] = 4.75;
                let o = ParzenOptions {
                    consider_endpoints: endpoints,
                    ..opts
                };
                let floor = 10.0 / (n as f64 + 2.0).min(100.0);
                let clip = |v: Vec<f64>| -> Vec<f64> {
                    v.into_iter().map(|s| s.max(floor).min(10.0)).collect()
                };
                let mut a = Vec::new();
                gaps_binned(&mus, -5.0, 5.0, endpoints, &mut Bins::default(), &mut a);
                let mut b = Vec::new();
                gaps_sorted(&mus, -5.0, 5.0, endpoints, &mut b);
                let (a, b) = (clip(a), clip(b));
                close(&a, &b, 1e-12);
                close(&bandwidths(&mus, -5.0, 5.0, &o), &b, 1e-12);
            }
        }
        // One observation: its larger distance to the ends.
        close(&bandwidths(&[1.0], 0.0, 10.0, &opts), &[9.0], 0.0);
        // Without the magic clip the floor is 1e-12: duplicates get (almost) zero width.
        let o = ParzenOptions {
            consider_magic_clip: false,
            ..opts
        };
        close(
            &bandwidths(&[1.0, 1.0, 3.0], 0.0, 10.0, &o),
            &[1e-12, 2.0, 2.0],
            1e-15,
        );
    }

    #[test]
    fn samples_are_valid_and_follow_the_density() {
        // Draw from an estimator over an int, a stepped float and a categorical, and compare the
        // empirical frequency of every grid value with exp(log_pdf) of it.
        let dists = [int(1, 6, false), float(0.0, 1.0, false, Some(0.5)), cat(2)];
        let refs: Vec<&Distribution> = dists.iter().collect();
        let rows = [2.0, 0.5, 1.0, 2.0, 0.0, 1.0, 5.0, 1.0, 0.0];
        let pe = ParzenEstimator::new(&refs, &rows, &[1.0; 3], &ParzenOptions::default()).unwrap();
        let mut rng = trial_rng(1, 2, 3);
        let n = 40_000;
        let draws = pe.sample(&mut rng, n);
        let mut counts = std::collections::HashMap::new();
        for row in draws.chunks_exact(3) {
            assert!(
                (1.0..=6.0).contains(&row[0]) && row[0].fract() == 0.0,
                "{row:?}"
            );
            assert!([0.0, 0.5, 1.0].contains(&row[1]), "{row:?}");
            assert!(row[2] == 0.0 || row[2] == 1.0, "{row:?}");
            *counts
                .entry((row[0] as i64, (row[1] * 2.0) as i64, row[2] as i64))
                .or_insert(0usize) += 1;
        }
        let mut points = Vec::new();
        for v in 1..=6 {
            for f in 0..=2 {
                for c in 0..2 {
                    points.extend([v as f64, f as f64 * 0.5, c as f64]);
                }
            }
        }
        let mut lp = Vec::new();
        pe.log_pdf(&points, &mut lp);
        let total: f64 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "masses sum to {total}");
        for (p, l) in points.chunks_exact(3).zip(&lp) {
            let key = (p[0] as i64, (p[1] * 2.0) as i64, p[2] as i64);
            let freq = *counts.get(&key).unwrap_or(&0) as f64 / n as f64;
            let sd = (l.exp() * (1.0 - l.exp()) / n as f64).sqrt();
            assert!(
                (freq - l.exp()).abs() < 5.0 * sd + 1e-4,
                "{key:?}: {freq} vs {}",
                l.exp()
            );
        }
    }

    #[test]
    fn rejects_bad_input() {
        let d = float(0.0, 1.0, false, None);
        let o = ParzenOptions::default();
        assert!(ParzenEstimator::new(&[&d], &[0.5, 0.5], &[1.0], &o).is_err());
        assert!(ParzenEstimator::new(&[&d], &[f64::NAN], &[1.0], &o).is_err());
        assert!(ParzenEstimator::new(&[&d], &[0.5], &[-1.0], &o).is_err());
        let c = cat(2);
        assert!(ParzenEstimator::new(&[&c], &[2.0], &[1.0], &o).is_err());
        let fixed = Distribution::Fixed {
            value: ParamValue::Int(1),
        };
        assert!(ParzenEstimator::new(&[&fixed], &[], &[], &o).is_err());
        let empty = float(1.0, 1.0, false, None);
        assert!(ParzenEstimator::new(&[&empty], &[], &[], &o).is_err());
        // A point outside the range has density 0.
        let pe = ParzenEstimator::new(&[&d], &[0.5], &[1.0], &o).unwrap();
        let mut out = Vec::new();
        pe.log_pdf(&[1.5, 0.5], &mut out);
        assert_eq!(out[0], f64::NEG_INFINITY);
        assert!(out[1].is_finite());
    }
}
