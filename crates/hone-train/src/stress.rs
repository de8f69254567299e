//! Stress and sensitivity: how the out-of-fold results hold up by year and by volatility regime,
//! how the strategy's Sharpe ratio decays with transaction costs, and how the holdout metric
//! degrades when features are perturbed with noise.

use std::collections::BTreeMap;

use hone_validate::metrics::{Metric, Predictions, Task};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// One slice's results.
#[derive(Debug, Clone, Serialize)]
pub struct Slice {
    /// Slice label (a year, or `low`/`mid`/`high` volatility).
    pub slice: String,
    /// Rows in the slice.
    pub rows: usize,
    /// The job's first metric on the slice (None when undefined, e.g. one class).
    pub metric: Option<f64>,
    /// Annualised Sharpe ratio of the strategy on the slice (with `[trading]`).
    pub sharpe: Option<f64>,
}

/// Stress and sensitivity results.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    /// Metric used for slices and noise (the job's first metric).
    pub metric: String,
    /// Out-of-fold results by calendar year (when the time column holds dates).
    pub by_year: Vec<Slice>,
    /// Out-of-fold results by trailing 20-row volatility tercile (with `[trading]`).
    pub by_volatility: Vec<Slice>,
    /// Out-of-fold results split by whether the traded asset stood in a drawdown of at least
    /// [`DRAWDOWN_THRESHOLD`] from its running peak (`drawdown`) or not (`near_peak`).
    pub by_drawdown: Vec<Slice>,
    /// Out-of-fold strategy Sharpe ratio at increasing costs (bps per unit turnover).
    pub cost_curve: Vec<(f64, f64)>,
    /// Holdout metric with Gaussian noise of k × each feature's std added (k, metric).
    pub feature_noise: Vec<(f64, Option<f64>)>,
    /// Out-of-fold metric parity across `[data] group_column` (when set).
    pub bias: Option<BiasReport>,
}

/// The metric on a subset of scored rows.
pub fn metric_on(
    task: Task,
    metric: Metric,
    y: &[f64],
    output: &[f64],
    idx: &[usize],
) -> Option<f64> {
    let k = task.n_outputs();
    let yt: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
    let out: Vec<f64> = idx
        .iter()
        .flat_map(|&i| output[i * k..(i + 1) * k].iter().copied())
        .collect();
    let p = match task {
        Task::Regression => Predictions {
            y_true: &yt,
            y_pred: Some(&out),
            proba: None,
            times: None,
        },
        _ => Predictions {
            y_true: &yt,
            y_pred: None,
            proba: Some(&out),
            times: None,
        },
    };
    metric.compute(task, &p).ok()
}

/// Year of a timestamp text (`YYYY-...`), if it looks like a date.
pub fn year_of(time: &str) -> Option<String> {
    let y = time.get(..4)?;
    (y.bytes().all(|b| b.is_ascii_digit()) && time.as_bytes().get(4) == Some(&b'-'))
        .then(|| y.to_string())
}

/// Groups row positions (into the scored arrays) by a label.
pub fn group_by(labels: &[Option<String>]) -> BTreeMap<String, Vec<usize>> {
    let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(l) = l {
            m.entry(l.clone()).or_default().push(i);
        }
    }
    m
}

/// Trailing-volatility terciles (`low`/`mid`/`high`) of each row from next-row returns: the
/// volatility at row t uses the returns up to t only (rows t−20 .. t−1 to t).
pub fn volatility_regimes(next_return: &[f64], rows: &[usize]) -> Vec<Option<String>> {
    let n = next_return.len();
    // Return into row t is next_return[t − 1].
    let vol: Vec<f64> = (0..n)
        .map(|t| {
            if t < 21 {
                return f64::NAN;
            }
            let w: Vec<f64> = (t - 20..t).map(|s| next_return[s]).collect();
            let m = w.iter().sum::<f64>() / 20.0;
            (w.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 19.0).sqrt()
        })
        .collect();
    // Terciles by rank (ties broken by time), so each regime gets a third of the rows.
    let mut ranked: Vec<usize> = (0..rows.len())
        .filter(|&i| vol[rows[i]].is_finite())
        .collect();
    if ranked.len() < 3 {
        return vec![None; rows.len()];
    }
    ranked.sort_by(|&a, &b| vol[rows[a]].total_cmp(&vol[rows[b]]).then(a.cmp(&b)));
    let mut out = vec![None; rows.len()];
    let n = ranked.len();
    for (rank, &i) in ranked.iter().enumerate() {
        out[i] = Some(
            if rank < n / 3 {
                "low"
            } else if rank < 2 * n / 3 {
                "mid"
            } else {
                "high"
            }
            .to_string(),
        );
    }
    out
}

/// Metric parity across the groups of a user-named column.
#[derive(Debug, Clone, Serialize)]
pub struct BiasReport {
    /// The grouping column.
    pub column: String,
    /// Metric used (the job's first metric).
    pub metric: String,
    /// Each group's rows and metric (out-of-fold).
    pub groups: Vec<Slice>,
    /// Spread of the metric across groups: the best group's value minus the worst's, in
    /// absolute terms (always ≥ 0).
    pub gap: f64,
    /// Group with the highest metric.
    pub best: String,
    /// Group with the lowest metric.
    pub worst: String,
    /// Permutation p-value of the gap: the share of label shuffles (group labels permuted
    /// across rows, keeping group sizes) whose gap is at least the observed one.
    pub p_value: f64,
    /// Shuffles run.
    pub permutations: usize,
}

/// Spread of a metric across groups: (gap, best, worst) over groups where it is defined.
fn spread(
    task: Task,
    metric: Metric,
    y: &[f64],
    output: &[f64],
    groups: &BTreeMap<String, Vec<usize>>,
) -> Option<(f64, String, String)> {
    let mut best: Option<(f64, &String)> = None;
    let mut worst: Option<(f64, &String)> = None;
    for (g, idx) in groups {
        let Some(m) = metric_on(task, metric, y, output, idx).filter(|m| m.is_finite()) else {
            continue;
        };
        if best.is_none_or(|(b, _)| m > b) {
            best = Some((m, g));
        }
        if worst.is_none_or(|(w, _)| m < w) {
            worst = Some((m, g));
        }
    }
    let ((hi, hg), (lo, lg)) = (best?, worst?);
    // The gap is the spread of values; which end is "best" follows the metric's direction.
    if metric.greater_is_better() {
        Some((hi - lo, hg.clone(), lg.clone()))
    } else {
        Some((hi - lo, lg.clone(), hg.clone()))
    }
}

/// Metric per group, the best−worst gap and its permutation p-value (seeded). `None` with fewer
/// than two groups where the metric is defined.
pub fn bias_parity(
    task: Task,
    metric: Metric,
    y: &[f64],
    output: &[f64],
    labels: &[String],
    permutations: usize,
    seed: u64,
) -> Option<BiasReport> {
    let as_opt: Vec<Option<String>> = labels.iter().cloned().map(Some).collect();
    let grouped = group_by(&as_opt);
    let (gap, best, worst) = spread(task, metric, y, output, &grouped)?;
    let defined = grouped
        .values()
        .filter(|idx| metric_on(task, metric, y, output, idx).is_some_and(f64::is_finite))
        .count();
    if defined < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut shuffled = as_opt.clone();
    let mut at_least = 0usize;
    for _ in 0..permutations {
        // Fisher–Yates.
        for i in (1..shuffled.len()).rev() {
            let j = rng.random_range(0..=i);
            shuffled.swap(i, j);
        }
        let g = group_by(&shuffled);
        // A shuffle where the metric is undefined in all but one group counts as no gap.
        let perm_gap = spread(task, metric, y, output, &g).map_or(0.0, |s| s.0);
        if perm_gap >= gap - 1e-12 {
            at_least += 1;
        }
    }
    let groups = grouped
        .into_iter()
        .map(|(slice, idx)| Slice {
            rows: idx.len(),
            metric: metric_on(task, metric, y, output, &idx),
            sharpe: None,
            slice,
        })
        .collect();
    Some(BiasReport {
        column: String::new(),
        metric: metric.name().to_string(),
        groups,
        gap,
        best,
        worst,
        p_value: (1 + at_least) as f64 / (1 + permutations) as f64,
        permutations,
    })
}

/// Depth from the running peak that marks a row as `drawdown` in [`drawdown_regimes`].
pub const DRAWDOWN_THRESHOLD: f64 = 0.10;

/// Labels each row `drawdown` when the asset's buy-and-hold equity at that row is at least
/// [`DRAWDOWN_THRESHOLD`] below its running peak, else `near_peak`. Causal: the equity at row t
/// compounds the returns into rows 1..=t only (`next_return[s]` is the return from s to s+1).
pub fn drawdown_regimes(next_return: &[f64], rows: &[usize]) -> Vec<Option<String>> {
    let n = next_return.len();
    let mut depth = vec![0.0; n];
    let (mut equity, mut peak) = (1.0_f64, 1.0_f64);
    for t in 1..n {
        let r = next_return[t - 1];
        if r.is_finite() {
            equity *= 1.0 + r;
        }
        peak = peak.max(equity);
        depth[t] = 1.0 - equity / peak;
    }
    rows.iter()
        .map(|&r| {
            depth.get(r).map(|&d| {
                if d >= DRAWDOWN_THRESHOLD {
                    "drawdown"
                } else {
                    "near_peak"
                }
                .to_string()
            })
        })
        .collect()
}

/// Adds seeded Gaussian noise of `k` × each column's std to a copy of the columns.
pub fn with_noise(columns: &[Vec<f64>], k: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    columns
        .iter()
        .map(|c| {
            let finite: Vec<f64> = c.iter().copied().filter(|v| v.is_finite()).collect();
            let m = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
            let sd = (finite.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                / finite.len().max(1) as f64)
                .sqrt();
            c.iter()
                .map(|v| {
                    // Box–Muller.
                    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                    let u2: f64 = rng.random();
                    v + k * sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_noise() {
        assert_eq!(year_of("2015-03-01"), Some("2015".into()));
        assert_eq!(year_of("1700000000"), None);
        let g = group_by(&[Some("a".into()), None, Some("a".into()), Some("b".into())]);
        assert_eq!(g["a"], vec![0, 2]);
        let r: Vec<f64> = (0..100)
            .map(|i| {
                if i < 50 {
                    0.001 * (i % 2) as f64
                } else {
                    0.02 * ((i % 5) as f64 - 2.0)
                }
            })
            .collect();
        let rows: Vec<usize> = (0..100).collect();
        let regimes = volatility_regimes(&r, &rows);
        assert!(regimes[..21].iter().all(Option::is_none));
        assert_eq!(regimes[30].as_deref(), Some("low"));
        assert_eq!(regimes[99].as_deref(), Some("high"));
        // +0 %, then −20 % (into row 2), then +30 % (into row 3, back above the old peak).
        let dd = drawdown_regimes(&[0.0, -0.2, 0.3, 0.0], &[0, 1, 2, 3]);
        let dd: Vec<&str> = dd.iter().map(|x| x.as_deref().unwrap()).collect();
        assert_eq!(dd, ["near_peak", "near_peak", "drawdown", "near_peak"]);
        let cols = vec![vec![1.0, 2.0, 3.0, 4.0]];
        assert_eq!(with_noise(&cols, 0.0, 1), cols);
        assert_eq!(with_noise(&cols, 0.5, 1), with_noise(&cols, 0.5, 1));
        assert_ne!(with_noise(&cols, 0.5, 1), cols);
    }

    #[test]
    fn bias_parity_detects_a_group_the_model_fails_on() {
        // Regression: group "a" predicted exactly, group "b" with large errors.
        let n = 200;
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let labels: Vec<String> = (0..n)
            .map(|i| if i % 2 == 0 { "a" } else { "b" }.to_string())
            .collect();
        let out: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { y[i] } else { y[i] + 1.0 })
            .collect();
        let r = bias_parity(Task::Regression, Metric::Mae, &y, &out, &labels, 199, 7).unwrap();
        // MAE: lower is better, so "a" (exact) is best.
        assert_eq!((r.best.as_str(), r.worst.as_str()), ("a", "b"));
        assert!((r.gap - 1.0).abs() < 1e-12);
        // No shuffle reaches the observed gap: p = 1 / (1 + 199).
        assert!((r.p_value - 1.0 / 200.0).abs() < 1e-12);
        // Same errors everywhere: no gap worth a small p-value.
        let fair: Vec<f64> = (0..n).map(|i| y[i] + 0.5).collect();
        let r = bias_parity(Task::Regression, Metric::Mae, &y, &fair, &labels, 199, 7).unwrap();
        assert!(r.gap < 1e-12 && r.p_value > 0.5, "{r:?}");
        // Seeded: same result twice.
        let noisy: Vec<f64> = (0..n).map(|i| y[i] + 0.1 * (i as f64).cos()).collect();
        let a = bias_parity(Task::Regression, Metric::Mae, &y, &noisy, &labels, 99, 3).unwrap();
        let b = bias_parity(Task::Regression, Metric::Mae, &y, &noisy, &labels, 99, 3).unwrap();
        assert_eq!(a.p_value, b.p_value);
        // One group only: nothing to compare.
        let one = vec!["a".to_string(); n];
        assert!(bias_parity(Task::Regression, Metric::Mae, &y, &out, &one, 9, 1).is_none());
    }
}
