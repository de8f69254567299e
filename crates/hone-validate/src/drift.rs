//! Data drift between a reference and a current sample (scripts/reference/drift.py): PSI, the
//! two-sample Kolmogorov–Smirnov test, normalised Wasserstein-1, Jensen–Shannon distance,
//! chi-square and two-proportion z tests, KL divergence, with Evidently 0.7's default choice of
//! test per column and its thresholds, or any test by name on Evidently's bins.

use std::collections::BTreeMap;

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::ValidateError;

/// Evidently's zero-share fill for PSI and KL: 1e-4, or the smallest non-zero share / 10⁶ when
/// that share is itself ≤ 1e-4.
fn fill_zeros(shares: &[f64]) -> Vec<f64> {
    let min_nz = shares
        .iter()
        .copied()
        .filter(|s| *s > 0.0)
        .fold(f64::INFINITY, f64::min);
    let eps = if min_nz <= 1e-4 { min_nz / 1e6 } else { 1e-4 };
    shares
        .iter()
        .map(|s| if *s == 0.0 { eps } else { *s })
        .collect()
}

/// PSI between expected (reference) and actual (current) bin shares.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    let (e, a) = (fill_zeros(expected), fill_zeros(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
}

/// numpy's linear percentile of sorted data.
fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Shares of `x` in bins with the given inner edges (left-closed, outer bins open-ended).
fn shares(x: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 1];
    for v in x {
        // Values equal to an edge go to the upper bin, as with np.histogram.
        let b = edges.partition_point(|e| e <= v);
        counts[b] += 1;
    }
    counts.iter().map(|c| *c as f64 / x.len() as f64).collect()
}

/// PSI with `bins` quantile bins at the reference's quantiles (deciles for 10).
pub fn psi_quantiles(reference: &[f64], current: &[f64], bins: usize) -> f64 {
    let mut r = reference.to_vec();
    r.sort_by(f64::total_cmp);
    let edges: Vec<f64> = (1..bins)
        .map(|i| percentile_sorted(&r, 100.0 * i as f64 / bins as f64))
        .collect();
    psi(&shares(reference, &edges), &shares(current, &edges))
}

fn ln_binomial(n: usize, k: usize) -> f64 {
    statrs::function::factorial::ln_binomial(n as u64, k as u64)
}

/// Largest sample size for which [`ks_2samp`] computes the exact p-value, as scipy's
/// `method='auto'`.
pub const KS_EXACT_MAX_N: usize = 10_000;

/// Exact P(D ≥ d) for two samples of unequal sizes n and m under H0, by the lattice-path
/// method (Hodges 1958): a random path from (0, 0) to (n, m) with i x-steps and j y-steps taken
/// is "outside" once |i/n − j/m| ≥ d. The path's probability mass is carried forward step by
/// step (step x with probability (n − i)/(n − i + m − j)), and the mass that first touches an
/// outside point is summed, so small p-values keep their precision and nothing overflows.
fn ks_exact_unequal(n: usize, m: usize, d: f64) -> f64 {
    let g = gcd(n, m);
    let lcm = (n / g) * m;
    // d on the lattice of attainable values (as scipy): h / lcm.
    let h = (d * lcm as f64).round() as u64;
    if h == 0 {
        return 1.0;
    }
    // |i/n − j/m| ≥ h/lcm  ⇔  |i·m − j·n| ≥ h·g, in integers.
    let bound = h as i128 * g as i128;
    let outside =
        |i: usize, j: usize| (i as i128 * m as i128 - j as i128 * n as i128).abs() >= bound;
    let mut row = vec![0.0f64; m + 1];
    row[0] = 1.0;
    let mut absorbed = 0.0;
    for i in 0..=n {
        // Moves within the row (y-steps), then to the next row (x-steps).
        let mut next = vec![0.0f64; m + 1];
        for j in 0..=m {
            let mass = row[j];
            if mass == 0.0 {
                continue;
            }
            let (ra, rb) = ((n - i) as f64, (m - j) as f64);
            if ra + rb == 0.0 {
                continue;
            }
            if rb > 0.0 {
                let moved = mass * rb / (ra + rb);
                if outside(i, j + 1) {
                    absorbed += moved;
                } else {
                    row[j + 1] += moved;
                }
            }
            if ra > 0.0 {
                let moved = mass * ra / (ra + rb);
                if outside(i + 1, j) {
                    absorbed += moved;
                } else {
                    next[j] += moved;
                }
            }
        }
        row = next;
    }
    absorbed.clamp(0.0, 1.0)
}

/// scipy's `ks_2samp(method='asymp')` p-value: the one-sample two-sided KS distribution
/// `kstwo.sf(D, round(n·m/(n+m)))`.
pub fn ks_asymptotic(n: usize, m: usize, d: f64) -> f64 {
    let en = ((n as f64 * m as f64) / (n + m) as f64).round().max(1.0) as usize;
    (1.0 - kolmogorov_cdf(en, d)).clamp(0.0, 1.0)
}

/// Largest matrix [`kolmogorov_cdf`] raises to the n-th power; beyond, Kolmogorov's limit.
const MTW_MAX_ORDER: usize = 301;

/// P(D_n < d) for the one-sample two-sided KS statistic: Marsaglia, Tsang & Wang (2003,
/// J. Stat. Software 8(18)) — the n-th power of an m×m matrix, m = 2⌊nd⌋ + 1, with exponent
/// tracking. For matrices larger than [`MTW_MAX_ORDER`] (cost grows with (nd)³): their 7-digit
/// closed form in the far right tail, else Kolmogorov's limiting distribution at √n·d.
fn kolmogorov_cdf(n: usize, d: f64) -> f64 {
    if d <= 0.0 {
        return 0.0;
    }
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let s = d * d * nf;
    let k = (nf * d) as usize + 1;
    let order = 2 * k - 1;
    if order > MTW_MAX_ORDER && (s > 7.24 || (s > 3.76 && n > 99)) {
        return 1.0 - 2.0 * (-(2.000071 + 0.331 / nf.sqrt() + 1.409 / nf) * s).exp();
    }
    if order > MTW_MAX_ORDER {
        let lambda = nf.sqrt() * d;
        let mut sf = 0.0;
        for j in 1..=100 {
            let jf = j as f64;
            let term = 2.0 * (-2.0 * jf * jf * lambda * lambda).exp();
            sf += if j % 2 == 1 { term } else { -term };
        }
        return 1.0 - sf;
    }
    let h = k as f64 - nf * d;
    let mm = order;
    let mut hm = vec![0.0f64; mm * mm];
    for i in 0..mm {
        for j in 0..mm {
            if i + 1 >= j {
                hm[i * mm + j] = 1.0;
            }
        }
    }
    for i in 0..mm {
        hm[i * mm] -= h.powi(i as i32 + 1);
        hm[(mm - 1) * mm + i] -= h.powi((mm - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        hm[(mm - 1) * mm] += (2.0 * h - 1.0).powi(mm as i32);
    }
    for i in 0..mm {
        for j in 0..mm {
            if i + 1 > j {
                for g in 1..=(i + 1 - j) {
                    hm[i * mm + j] /= g as f64;
                }
            }
        }
    }
    let multiply = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut c = vec![0.0f64; mm * mm];
        for i in 0..mm {
            for l in 0..mm {
                let x = a[i * mm + l];
                if x == 0.0 {
                    continue;
                }
                let (row, brow) = (&mut c[i * mm..(i + 1) * mm], &b[l * mm..(l + 1) * mm]);
                for (cv, bv) in row.iter_mut().zip(brow) {
                    *cv += x * bv;
                }
            }
        }
        c
    };
    // Square-and-multiply from the top bit, rescaling by 1e-140 to stay in range.
    let (mut q, mut e) = (hm.clone(), 0i32);
    let bits = usize::BITS - n.leading_zeros();
    for bit in (0..bits - 1).rev() {
        q = multiply(&q, &q);
        e *= 2;
        if (n >> bit) & 1 == 1 {
            q = multiply(&hm, &q);
        }
        if q[(mm / 2) * mm + mm / 2] > 1e140 {
            q.iter_mut().for_each(|v| *v *= 1e-140);
            e += 140;
        }
    }
    let mut s = q[(k - 1) * mm + k - 1];
    for i in 1..=n {
        s = s * i as f64 / nf;
        if s < 1e-140 {
            s *= 1e140;
            e -= 140;
        }
    }
    s * 10f64.powi(e)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Two-sample Kolmogorov–Smirnov: (D, p), as `scipy.stats.ks_2samp` (two-sided,
/// `method='auto'`): exact p-values when both samples have at most [`KS_EXACT_MAX_N`] values,
/// beyond, scipy's asymptotic p `kstwo.sf(D, round(nm/(n+m)))` ([`ks_asymptotic`]).
pub fn ks_2samp(reference: &[f64], current: &[f64]) -> Result<(f64, f64), ValidateError> {
    let (n, m) = (reference.len(), current.len());
    if n == 0 || m == 0 {
        return Err(ValidateError::InvalidInput(
            "KS needs two non-empty samples".into(),
        ));
    }
    let mut a = reference.to_vec();
    let mut b = current.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let p = if n == m {
        // P(D >= h/n) = 2 Σ_k (−1)^(k−1) C(2n, n − k·h) / C(2n, n) (Gnedenko–Korolyuk).
        let h = (d * n as f64 - 1e-9).ceil().max(1.0) as usize;
        let base = ln_binomial(2 * n, n);
        let mut s = 0.0;
        let mut k = 1;
        while k * h <= n {
            let term = (ln_binomial(2 * n, n - k * h) - base).exp();
            s += if k % 2 == 1 { term } else { -term };
            k += 1;
        }
        (2.0 * s).clamp(0.0, 1.0)
    } else if n.max(m) <= KS_EXACT_MAX_N {
        ks_exact_unequal(n, m, d)
    } else {
        ks_asymptotic(n, m, d)
    };
    Ok((d, p))
}

/// Wasserstein-1 distance between two samples.
pub fn wasserstein(reference: &[f64], current: &[f64]) -> f64 {
    let mut a = reference.to_vec();
    let mut b = current.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    // ∫|F_a − F_b| dx over the merged support.
    let mut all: Vec<f64> = a.iter().chain(&b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let mut total = 0.0;
    for w in all.windows(2) {
        let fa = a.partition_point(|v| *v <= w[0]) as f64 / n;
        let fb = b.partition_point(|v| *v <= w[0]) as f64 / m;
        total += (fa - fb).abs() * (w[1] - w[0]);
    }
    total
}

/// Wasserstein-1 divided by the reference's population std (floored at 0.001), as Evidently.
pub fn wasserstein_normalized(reference: &[f64], current: &[f64]) -> f64 {
    let mean = reference.iter().sum::<f64>() / reference.len() as f64;
    let sd =
        (reference.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / reference.len() as f64).sqrt();
    wasserstein(reference, current) / sd.max(0.001)
}

/// Jensen–Shannon distance (natural log) between two distributions.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let kl = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, y)| x * (x / y).ln())
            .sum::<f64>()
    };
    let pn: Vec<f64> = p.iter().map(|v| v / sp).collect();
    let qn: Vec<f64> = q.iter().map(|v| v / sq).collect();
    let mid: Vec<f64> = pn.iter().zip(&qn).map(|(a, b)| (a + b) / 2.0).collect();
    ((kl(&pn, &mid) + kl(&qn, &mid)) / 2.0).max(0.0).sqrt()
}

/// Chi-square goodness of fit of current category counts against reference counts scaled to
/// the current size: (statistic, p).
pub fn chi_square(reference_counts: &[f64], current_counts: &[f64]) -> (f64, f64) {
    let (nr, nc): (f64, f64) = (reference_counts.iter().sum(), current_counts.iter().sum());
    let stat: f64 = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|(r, _)| **r > 0.0)
        .map(|(r, c)| {
            let e = r * nc / nr;
            (c - e).powi(2) / e
        })
        .sum();
    let df = (reference_counts.len().max(2) - 1) as f64;
    let p = 1.0 - ChiSquared::new(df).expect("df >= 1").cdf(stat);
    (stat, p)
}

/// Two-proportion z-test (pooled) of the share of `positive` in two binary samples: p-value.
pub fn two_proportion_z(ref_pos: f64, n_ref: f64, cur_pos: f64, n_cur: f64) -> f64 {
    let (p1, p2) = (ref_pos / n_ref, cur_pos / n_cur);
    let p = (ref_pos + cur_pos) / (n_ref + n_cur);
    let se = (p * (1.0 - p) * (1.0 / n_ref + 1.0 / n_cur)).sqrt();
    if se == 0.0 {
        return 1.0;
    }
    let z = (p1 - p2) / se;
    2.0 * (1.0 - Normal::new(0.0, 1.0).expect("normal").cdf(z.abs()))
}

/// One column's drift verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// `numerical` or `categorical`.
    pub kind: String,
    /// Test used (Evidently's default for the column).
    pub method: String,
    /// Score: a p-value (ks, chisquare, z) or a distance (wasserstein, jensenshannon).
    pub score: f64,
    /// Threshold of the method.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
    /// PSI at reference deciles (numerical) or categories, for reference.
    pub psi: f64,
}

/// A column's values: numbers or categories.
pub enum ColumnSample<'a> {
    /// Numeric values.
    Numeric(&'a [f64], &'a [f64]),
    /// Category labels.
    Categorical(&'a [String], &'a [String]),
}

fn category_counts(r: &[String], c: &[String]) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let mut cats: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for v in r {
        cats.entry(v).or_default().0 += 1.0;
    }
    for v in c {
        cats.entry(v).or_default().1 += 1.0;
    }
    let names = cats.keys().map(|s| s.to_string()).collect();
    let (rc, cc) = cats.values().copied().unzip();
    (names, rc, cc)
}

/// A drift test, as Evidently names it; `Auto` picks Evidently's default for the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMethod {
    /// Evidently's default for the column's type, size and cardinality (§5.5).
    Auto,
    /// Two-sample Kolmogorov–Smirnov p-value (numerical); drift if p ≤ threshold.
    Ks,
    /// Wasserstein-1 normalised by the reference std (numerical); drift if ≥ threshold.
    Wasserstein,
    /// Population stability index on Evidently's bins; drift if ≥ threshold.
    Psi,
    /// Kullback–Leibler divergence KL(reference ‖ current) on Evidently's bins.
    KlDiv,
    /// Jensen–Shannon distance (natural log) on Evidently's bins.
    JensenShannon,
    /// Chi-square goodness-of-fit p-value; drift if p < threshold.
    ChiSquare,
    /// Two-proportion z-test p-value (two categories); drift if p < threshold.
    Z,
}

impl DriftMethod {
    /// Every method, for parsing and help.
    pub const ALL: [DriftMethod; 8] = [
        DriftMethod::Auto,
        DriftMethod::Ks,
        DriftMethod::Wasserstein,
        DriftMethod::Psi,
        DriftMethod::KlDiv,
        DriftMethod::JensenShannon,
        DriftMethod::ChiSquare,
        DriftMethod::Z,
    ];

    /// Evidently's name for the method.
    pub fn name(self) -> &'static str {
        match self {
            DriftMethod::Auto => "auto",
            DriftMethod::Ks => "ks",
            DriftMethod::Wasserstein => "wasserstein",
            DriftMethod::Psi => "psi",
            DriftMethod::KlDiv => "kl_div",
            DriftMethod::JensenShannon => "jensenshannon",
            DriftMethod::ChiSquare => "chisquare",
            DriftMethod::Z => "z",
        }
    }

    /// Parses Evidently's name.
    pub fn parse(name: &str) -> Option<DriftMethod> {
        DriftMethod::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Evidently's default threshold: 0.05 for p-values, 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        match self {
            DriftMethod::Ks | DriftMethod::ChiSquare | DriftMethod::Z => 0.05,
            _ => 0.1,
        }
    }

    /// Whether a score means drift at this threshold (Evidently's inequalities).
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            DriftMethod::Ks => score <= threshold,
            DriftMethod::ChiSquare | DriftMethod::Z => score < threshold,
            _ => score >= threshold,
        }
    }
}

/// numpy's `histogram_bin_edges(x, bins="sturges")`: ⌈range / (range / (log2 n + 1))⌉ equal
/// bins over [min, max] (one unit-wide bin around a constant sample).
fn sturges_edges(x: &[f64]) -> Vec<f64> {
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let width = (hi - lo) / ((x.len() as f64).log2() + 1.0);
    let bins = (((hi - lo) / width).ceil() as usize).max(1);
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * step).collect();
    edges.push(hi);
    edges
}

/// Shares of `x` in `np.histogram` bins: left-closed, the last bin closed on both sides.
fn histogram_shares(x: &[f64], edges: &[f64]) -> Vec<f64> {
    let bins = edges.len() - 1;
    let mut counts = vec![0usize; bins];
    for v in x {
        if *v < edges[0] || *v > edges[bins] {
            continue;
        }
        let b = (edges.partition_point(|e| e <= v) - 1).min(bins - 1);
        counts[b] += 1;
    }
    counts.iter().map(|c| *c as f64 / x.len() as f64).collect()
}

/// Evidently's `get_binned_data`: Sturges bins over reference ∪ current for a numerical column
/// with more than 20 distinct reference values, else one bin per distinct value.
fn evidently_bins(sample: &ColumnSample<'_>) -> (Vec<f64>, Vec<f64>) {
    if let ColumnSample::Numeric(r, c) = sample {
        let mut u = r.to_vec();
        u.sort_by(f64::total_cmp);
        u.dedup();
        if u.len() > 20 {
            let all: Vec<f64> = r.iter().chain(c.iter()).copied().collect();
            let edges = sturges_edges(&all);
            return (histogram_shares(r, &edges), histogram_shares(c, &edges));
        }
    }
    let (_, rc, cc) = sample_categories(sample);
    let (sr, sc): (f64, f64) = (rc.iter().sum(), cc.iter().sum());
    (
        rc.iter().map(|v| v / sr).collect(),
        cc.iter().map(|v| v / sc).collect(),
    )
}

/// Categories (text, or each distinct number) with reference and current counts.
fn sample_categories(sample: &ColumnSample<'_>) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    match sample {
        ColumnSample::Numeric(r, c) => {
            let rs: Vec<String> = r.iter().map(|v| v.to_string()).collect();
            let cs: Vec<String> = c.iter().map(|v| v.to_string()).collect();
            category_counts(&rs, &cs)
        }
        ColumnSample::Categorical(r, c) => category_counts(r, c),
    }
}

/// KL(reference ‖ current) on shares with Evidently's zero fill (scipy `entropy`).
pub fn kl_divergence(reference: &[f64], current: &[f64]) -> f64 {
    let (r, c) = (fill_zeros(reference), fill_zeros(current));
    let (sr, sc): (f64, f64) = (r.iter().sum(), c.iter().sum());
    r.iter()
        .zip(&c)
        .map(|(a, b)| (a / sr) * ((a / sr) / (b / sc)).ln())
        .sum()
}

/// Drift of one column with a chosen test (`Auto`: Evidently's default) and threshold (`None`:
/// the method's default).
pub fn column_drift_with(
    name: &str,
    sample: ColumnSample<'_>,
    method: DriftMethod,
    threshold: Option<f64>,
) -> Result<ColumnDrift, ValidateError> {
    if let Some(t) = threshold {
        // Any test may be chosen per column under `auto`: a finite, non-negative value first.
        check_threshold(DriftMethod::Auto, t)?;
        check_threshold(method, t)?;
    }
    if method == DriftMethod::Auto {
        let mut d = column_drift(name, sample)?;
        if let Some(t) = threshold {
            let m = DriftMethod::parse(&d.method).unwrap_or(DriftMethod::Auto);
            check_threshold(m, t)?;
            d.threshold = t;
            d.drifted = m.drifted(d.score, t);
        }
        return Ok(d);
    }
    let numeric = matches!(sample, ColumnSample::Numeric(..));
    let kind = if numeric { "numerical" } else { "categorical" };
    let (n_ref, n_cur) = match &sample {
        ColumnSample::Numeric(r, c) => (r.len(), c.len()),
        ColumnSample::Categorical(r, c) => (r.len(), c.len()),
    };
    if n_ref == 0 || n_cur == 0 {
        return Err(ValidateError::InvalidInput(format!(
            "column `{name}` needs reference and current values"
        )));
    }
    let psi_value = match &sample {
        ColumnSample::Numeric(r, c) => psi_quantiles(r, c, 10),
        _ => {
            let (r, c) = evidently_bins(&sample);
            psi(&r, &c)
        }
    };
    let score = match (method, &sample) {
        (DriftMethod::Ks, ColumnSample::Numeric(r, c)) => ks_2samp(r, c)?.1,
        (DriftMethod::Wasserstein, ColumnSample::Numeric(r, c)) => wasserstein_normalized(r, c),
        (DriftMethod::Ks | DriftMethod::Wasserstein, ColumnSample::Categorical(..)) => {
            return Err(ValidateError::InvalidInput(format!(
                "column `{name}` is categorical: `{}` needs numbers",
                method.name()
            )));
        }
        (DriftMethod::Psi, _) => {
            let (r, c) = evidently_bins(&sample);
            psi(&r, &c)
        }
        (DriftMethod::KlDiv, _) => {
            let (r, c) = evidently_bins(&sample);
            kl_divergence(&r, &c)
        }
        (DriftMethod::JensenShannon, _) => {
            let (r, c) = evidently_bins(&sample);
            jensen_shannon(&r, &c)
        }
        (DriftMethod::ChiSquare, _) => {
            let (_, rc, cc) = sample_categories(&sample);
            chi_square(&rc, &cc).1
        }
        (DriftMethod::Z, _) => {
            let (_, rc, cc) = sample_categories(&sample);
            if rc.len() != 2 {
                return Err(ValidateError::InvalidInput(format!(
                    "column `{name}` has {} distinct values: the z-test needs exactly 2",
                    rc.len()
                )));
            }
            two_proportion_z(rc[0], n_ref as f64, cc[0], n_cur as f64)
        }
        (DriftMethod::Auto, _) => unreachable!("handled above"),
    };
    let threshold = threshold.unwrap_or(method.default_threshold());
    Ok(ColumnDrift {
        column: name.to_string(),
        kind: kind.to_string(),
        method: method.name().to_string(),
        score,
        threshold,
        drifted: method.drifted(score, threshold),
        psi: psi_value,
    })
}

/// [`column_drift`] of a numeric column, leaving out missing (non-finite) values on both sides.
pub fn numeric_drift(
    name: &str,
    reference: &[f64],
    current: &[f64],
) -> Result<ColumnDrift, ValidateError> {
    let finite = |x: &[f64]| -> Vec<f64> { x.iter().copied().filter(|v| v.is_finite()).collect() };
    column_drift(
        name,
        ColumnSample::Numeric(&finite(reference), &finite(current)),
    )
}

/// Drift of one column with Evidently's default test for its type, size and cardinality.
pub fn column_drift(name: &str, sample: ColumnSample<'_>) -> Result<ColumnDrift, ValidateError> {
    let (kind, n_ref, n_unique, numeric) = match &sample {
        ColumnSample::Numeric(r, c) => {
            let mut u: Vec<f64> = r.iter().chain(c.iter()).copied().collect();
            u.sort_by(f64::total_cmp);
            u.dedup();
            ("numerical", r.len(), u.len(), true)
        }
        ColumnSample::Categorical(r, c) => {
            let (names, _, _) = category_counts(r, c);
            ("categorical", r.len(), names.len(), false)
        }
    };
    if n_ref == 0 {
        return Err(ValidateError::InvalidInput(format!(
            "column `{name}` has no reference values"
        )));
    }
    let (method, score, threshold, drifted, psi_value) = if numeric && n_unique > 5 {
        let ColumnSample::Numeric(r, c) = sample else {
            unreachable!()
        };
        let psi_value = psi_quantiles(r, c, 10);
        if n_ref <= 1000 {
            let (_, p) = ks_2samp(r, c)?;
            ("ks", p, 0.05, p <= 0.05, psi_value)
        } else {
            let w = wasserstein_normalized(r, c);
            ("wasserstein", w, 0.1, w >= 0.1, psi_value)
        }
    } else {
        let (_, rc, cc) = sample_categories(&sample);
        let (sr, sc): (f64, f64) = (rc.iter().sum(), cc.iter().sum());
        let psi_value = psi(
            &rc.iter().map(|v| v / sr).collect::<Vec<_>>(),
            &cc.iter().map(|v| v / sc).collect::<Vec<_>>(),
        );
        if n_ref > 1000 {
            let js = jensen_shannon(&rc, &cc);
            ("jensenshannon", js, 0.1, js >= 0.1, psi_value)
        } else if n_unique <= 2 {
            let p = two_proportion_z(rc[0], sr, cc[0], sc);
            ("z", p, 0.05, p < 0.05, psi_value)
        } else {
            let (_, p) = chi_square(&rc, &cc);
            ("chisquare", p, 0.05, p < 0.05, psi_value)
        }
    };
    Ok(ColumnDrift {
        column: name.to_string(),
        kind: kind.to_string(),
        method: method.to_string(),
        score,
        threshold,
        drifted,
        psi: psi_value,
    })
}

/// Checks a dataset drift share: a share of columns in (0, 1] (at 0 every dataset would count
/// as drifted, above 1 none could).
pub fn check_drift_share(share: f64) -> Result<(), ValidateError> {
    if share > 0.0 && share <= 1.0 {
        Ok(())
    } else {
        Err(ValidateError::parameter(
            "drift_share",
            format!("must be in (0, 1], got {share}"),
        ))
    }
}

/// Checks a test's drift threshold: finite and non-negative, and at most 1 for the tests whose
/// score is a p-value (KS, chi-square, z), where anything above 1 would flag every column.
pub fn check_threshold(method: DriftMethod, threshold: f64) -> Result<(), ValidateError> {
    let p_value = matches!(
        method,
        DriftMethod::Ks | DriftMethod::ChiSquare | DriftMethod::Z
    );
    let ok = threshold.is_finite() && threshold >= 0.0 && (!p_value || threshold <= 1.0);
    if ok {
        Ok(())
    } else {
        Err(ValidateError::parameter(
            "threshold",
            format!(
                "must be {} for {}, got {threshold}",
                if p_value {
                    "a p-value in [0, 1]"
                } else {
                    "a finite number >= 0"
                },
                method.name()
            ),
        ))
    }
}

/// Evidently's dataset verdict: drift when at least `share` (default 0.5) of columns drifted.
pub fn dataset_drift(columns: &[ColumnDrift], share: f64) -> (f64, bool) {
    if columns.is_empty() {
        return (0.0, false);
    }
    let s = columns.iter().filter(|c| c.drifted).count() as f64 / columns.len() as f64;
    (s, s >= share)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
    }

    fn range(a: i32, b: i32) -> Vec<f64> {
        (a..b).map(f64::from).collect()
    }

    // numpy 2.4.6 / scipy 1.17.1 (scripts/reference/drift.py).
    #[test]
    fn drift_measures_match_the_reference() {
        close(
            psi(&[0.25; 4], &[0.2, 0.3, 0.3, 0.2]),
            0.04054651081081642,
            1e-12,
        );
        close(
            psi(
                &[0.1; 10],
                &[0.05, 0.05, 0.08, 0.1, 0.1, 0.1, 0.12, 0.12, 0.13, 0.15],
            ),
            0.10921463469346986,
            1e-12,
        );
        let (r, c) = (range(0, 100), range(10, 110));
        close(psi_quantiles(&r, &c, 10), 0.7593994704263101, 1e-9);
        let (d, p) = ks_2samp(&r, &c).unwrap();
        close(d, 0.1, 1e-12);
        close(p, 0.7020569828664881, 1e-9);
        // Unequal sizes, exact (scipy 1.17.1 `ks_2samp`, method='auto').
        let (d, p) = ks_2samp(&r, &range(10, 140)).unwrap();
        close(d, 0.3076923076923077, 1e-12);
        close(p / 3.095796638003671e-05, 1.0, 1e-9);
        // scipy `method='asymp'` (kstwo.sf(D, round(nm/(n+m)))): §5.2 REF 0.6623112704658178;
        // kstwo.sf(0.05, 3000) = 5.874684341454393e-07, kstwo.sf(0.3, 7) = 0.46626387699002947.
        close(ks_asymptotic(100, 100, 0.1), 0.6623112704658178, 1e-9);
        close(1.0 - kolmogorov_cdf(7, 0.3), 0.46626387699002947, 1e-9);
        close(
            (1.0 - kolmogorov_cdf(3000, 0.05)) / 5.874684341454393e-07,
            1.0,
            1e-3,
        );
        let a: Vec<f64> = (0..7).map(f64::from).collect();
        let (d, p) = ks_2samp(&a, &[0.5, 2.5, 6.5, 7.5, 8.5]).unwrap();
        close(d, 0.6, 1e-12);
        close(p, 0.16666666666666663, 1e-12);
        // Large samples and tiny p-values keep their relative precision.
        let (_, p) = ks_2samp(&range(0, 5000), &range(100, 7100)).unwrap();
        close(p / 4.37126923169155e-232, 1.0, 1e-6);
        let (_, p) = ks_2samp(&range(0, 10_000), &range(20, 9019)).unwrap();
        close(p / 4.058328112232589e-40, 1.0, 1e-6);
        close(wasserstein(&r, &c), 10.0, 1e-12);
        close(wasserstein_normalized(&r, &c), 0.3464274833209975, 1e-12);
        close(
            jensen_shannon(&[0.2, 0.3, 0.4, 0.1], &[0.3, 0.2, 0.2, 0.3]),
            0.23069474992533215,
            1e-12,
        );
    }

    // Evidently 0.7.23's defaults, written out in scripts/reference/drift.py.
    #[test]
    fn evidently_defaults() {
        let (r, c) = (range(0, 100), range(10, 110));
        let d = column_drift("x", ColumnSample::Numeric(&r, &c)).unwrap();
        assert_eq!(d.method, "ks");
        close(d.score, 0.7020569828664881, 1e-9);
        assert!(!d.drifted);
        let big_r: Vec<f64> = (0..2000).map(|i| f64::from(i % 100)).collect();
        let big_c: Vec<f64> = (0..2000).map(|i| f64::from(i % 100 + 10)).collect();
        let d = column_drift("x", ColumnSample::Numeric(&big_r, &big_c)).unwrap();
        assert_eq!(d.method, "wasserstein");
        assert!(d.drifted);
        let cat =
            |s: &str| -> Vec<String> { s.repeat(10).chars().map(|c| c.to_string()).collect() };
        let (rc, cc) = (cat("aabbbccccd"), cat("aaabbccddd"));
        let d = column_drift("c", ColumnSample::Categorical(&rc, &cc)).unwrap();
        assert_eq!(d.method, "chisquare");
        assert!((d.score - 1.334253916304851e-12).abs() < 1e-15);
        close(d.psi, 0.4394449154672438, 1e-12);
        // scipy.stats.chisquare(f_obs=current [30,20,20,30], f_exp=reference [20,30,40,10]).
        let (stat, _) = chi_square(&[20., 30., 40., 10.], &[30., 20., 20., 30.]);
        close(stat, 58.333333333333336, 1e-12);
        let b_ref: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i >= 70))).collect();
        let b_cur: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i >= 55))).collect();
        let d = column_drift("b", ColumnSample::Numeric(&b_ref, &b_cur)).unwrap();
        assert_eq!(d.method, "z");
        assert!((d.score - 0.02845973691631065).abs() < 1e-9);
        assert!(d.drifted);
        let (share, drift) = dataset_drift(
            &[
                d.clone(),
                ColumnDrift {
                    drifted: false,
                    ..d
                },
            ],
            0.5,
        );
        assert_eq!((share, drift), (0.5, true));
    }

    // Every method on the same data with Evidently's conventions (scripts/reference/drift.py).
    #[test]
    fn evidently_methods_by_name() {
        let (r, c) = (range(0, 100), range(10, 110));
        // Sturges on the pooled 200 values: 9 equal bins over [0, 109].
        assert_eq!(sturges_edges(&[r.clone(), c.clone()].concat()).len(), 10);
        let by = |m: &str| {
            let m = DriftMethod::parse(m).unwrap();
            column_drift_with("x", ColumnSample::Numeric(&r, &c), m, None).unwrap()
        };
        for (m, score, drifted) in [
            ("ks", 0.7020569828664881, false),
            ("wasserstein", 0.3464274833209975, true),
            ("psi", 0.2932674137586854, true),
            ("jensenshannon", 0.18355145998130695, true),
            ("kl_div", 0.1466337068793427, true),
        ] {
            let d = by(m);
            assert_eq!(d.method, m);
            close(d.score, score, 1e-9);
            assert_eq!(d.drifted, drifted, "{m}");
        }
        let cat =
            |s: &str| -> Vec<String> { s.repeat(10).chars().map(|c| c.to_string()).collect() };
        let (rc, cc) = (cat("aabbbccccd"), cat("aaabbccddd"));
        let on_cats =
            |m: DriftMethod| column_drift_with("c", ColumnSample::Categorical(&rc, &cc), m, None);
        close(
            on_cats(DriftMethod::Psi).unwrap().score,
            0.4394449154672438,
            1e-12,
        );
        close(
            on_cats(DriftMethod::JensenShannon).unwrap().score,
            0.23069474992533232,
            1e-12,
        );
        assert!(on_cats(DriftMethod::Ks).is_err());
        assert!(
            on_cats(DriftMethod::Z)
                .unwrap_err()
                .to_string()
                .contains("exactly 2")
        );
        // A user threshold moves the verdict; `auto` keeps Evidently's choice of test.
        let d = column_drift_with(
            "x",
            ColumnSample::Numeric(&r, &c),
            DriftMethod::Auto,
            Some(0.8),
        )
        .unwrap();
        assert_eq!((d.method.as_str(), d.drifted), ("ks", true));
    }
}
