//! Trading metrics and overfitting-aware statistics (reference values: scripts/reference/stats.py).
//!
//! Conventions follow empyrical-reloaded for the trading metrics (sample std with ddof 1,
//! Sortino's downside over all observations, drawdown from a starting equity of 1) and Bailey &
//! López de Prado for PSR, MinTRL and DSR (per-period Sharpe ratios, population skewness and
//! non-excess kurtosis). PBO follows CSCV as in pypbo (drop the first `T % S` rows, first-index
//! ties for the in-sample winner, average ranks out of sample, `λ ≤ 0` counts as overfit).

use crate::cross_section::average_ranks;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::ValidateError;
use crate::error::{at_most, finite, open_unit};
use crate::temporal::binomial;

/// Most trials DSR takes (10¹²): beyond it `1 − 1/N` rounds towards 1 in f64 and the expected
/// maximum is no longer computed faithfully.
pub const MAX_TRIALS: usize = 1_000_000_000_000;

/// Checks the inputs shared by PSR, MinTRL and DSR: a finite Sharpe ratio and skewness, and a
/// non-excess kurtosis that a distribution can have. Every distribution satisfies Pearson's
/// inequality `kurtosis >= skew² + 1` (equality only for two-point distributions); a small
/// relative tolerance keeps moments computed from two-valued data, which may round just below
/// the bound, valid.
fn check_moments(sr: f64, skew: f64, kurtosis: f64) -> Result<(), ValidateError> {
    finite("sr", sr)?;
    finite("skew", skew)?;
    finite("kurtosis", kurtosis)?;
    let bound = skew * skew + 1.0;
    // An overflowing skew² makes the floor ∞ − ∞ = NaN, which no comparison would catch.
    let floor = bound - 1e-9 * bound;
    if floor.is_nan() || kurtosis < floor {
        return Err(ValidateError::parameter(
            "kurtosis",
            format!(
                "must be at least skew² + 1 = {bound} (non-excess kurtosis, normal = 3), got \
                 {kurtosis}"
            ),
        ));
    }
    Ok(())
}

fn normal() -> Normal {
    Normal::new(0.0, 1.0).expect("standard normal")
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn std(x: &[f64], ddof: usize) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - ddof) as f64).sqrt()
}

fn check_returns(r: &[f64]) -> Result<(), ValidateError> {
    if r.len() < 2 {
        return Err(ValidateError::InvalidInput(format!(
            "need at least 2 returns, got {}",
            r.len()
        )));
    }
    if let Some(i) = r.iter().position(|v| !v.is_finite()) {
        return Err(ValidateError::InvalidInput(format!(
            "return at row {} is not finite",
            i + 1
        )));
    }
    Ok(())
}

/// Trading metrics of a per-period return series.
#[derive(Debug, Clone, Serialize)]
pub struct TradingMetrics {
    /// Number of periods.
    pub periods: usize,
    /// Periods per year used to annualise.
    pub periods_per_year: f64,
    /// Mean per-period return.
    pub mean: f64,
    /// Per-period Sharpe ratio (mean / sample std).
    pub sharpe_per_period: f64,
    /// Annualised Sharpe ratio (√P · per-period); NaN when the returns are constant.
    pub sharpe: f64,
    /// Annualised Sortino ratio (downside below 0 over all periods); +inf with no downside.
    pub sortino: f64,
    /// Annualised downside risk.
    pub downside_risk: f64,
    /// Annualised volatility (sample std · √P).
    pub annual_volatility: f64,
    /// Compound annual growth rate `E_T^(P/T) − 1`.
    pub annual_return: f64,
    /// Final equity from 1.
    pub final_equity: f64,
    /// Maximum drawdown (≤ 0), from a starting equity of 1.
    pub max_drawdown: f64,
    /// Period (0-based) where the drawdown's peak was.
    pub max_drawdown_peak: usize,
    /// Period (0-based) of the drawdown's trough.
    pub max_drawdown_trough: usize,
    /// CAGR / |max drawdown|; NaN when there is no drawdown.
    pub calmar: f64,
    /// Share of periods with a positive return.
    pub win_rate: f64,
    /// Sum of gains / |sum of losses|; +inf with no losses.
    pub profit_factor: f64,
}

/// Trading metrics of per-period returns `r` with `periods_per_year` periods a year.
pub fn trading_metrics(r: &[f64], periods_per_year: f64) -> Result<TradingMetrics, ValidateError> {
    check_returns(r)?;
    if !(periods_per_year.is_finite() && periods_per_year > 0.0) {
        return Err(ValidateError::parameter(
            "periods_per_year",
            format!("must be a positive finite number, got {periods_per_year}"),
        ));
    }
    let t = r.len() as f64;
    let m = mean(r);
    let sd = std(r, 1);
    let sharpe_per_period = if sd > 0.0 { m / sd } else { f64::NAN };
    let downside = (r.iter().map(|v| v.min(0.0).powi(2)).sum::<f64>() / t).sqrt();
    let downside_risk = downside * periods_per_year.sqrt();
    let sortino = if downside > 0.0 {
        m * periods_per_year / downside_risk
    } else {
        f64::INFINITY
    };
    let mut equity = 1.0f64;
    let mut peak = 1.0f64;
    let (mut peak_at, mut mdd, mut mdd_peak, mut mdd_trough) = (0usize, 0.0f64, 0usize, 0usize);
    for (i, v) in r.iter().enumerate() {
        equity *= 1.0 + v;
        if equity > peak {
            peak = equity;
            peak_at = i;
        }
        let dd = equity / peak - 1.0;
        if dd < mdd {
            mdd = dd;
            mdd_peak = peak_at;
            mdd_trough = i;
        }
    }
    let annual_return = equity.powf(periods_per_year / t) - 1.0;
    let gains: f64 = r.iter().filter(|v| **v > 0.0).sum();
    let losses: f64 = r.iter().filter(|v| **v < 0.0).sum();
    Ok(TradingMetrics {
        periods: r.len(),
        periods_per_year,
        mean: m,
        sharpe_per_period,
        sharpe: sharpe_per_period * periods_per_year.sqrt(),
        sortino,
        downside_risk,
        annual_volatility: sd * periods_per_year.sqrt(),
        annual_return,
        final_equity: equity,
        max_drawdown: mdd,
        max_drawdown_peak: mdd_peak,
        max_drawdown_trough: mdd_trough,
        calmar: if mdd < 0.0 {
            annual_return / mdd.abs()
        } else {
            f64::NAN
        },
        win_rate: r.iter().filter(|v| **v > 0.0).count() as f64 / t,
        profit_factor: if losses < 0.0 {
            gains / losses.abs()
        } else {
            f64::INFINITY
        },
    })
}

/// Two-way turnover `Σ |w_t − w_{t−1}|` with `w_{−1} = 0`.
pub fn turnover(weights: &[f64]) -> f64 {
    let mut prev = 0.0;
    weights
        .iter()
        .map(|w| {
            let d = (w - prev).abs();
            prev = *w;
            d
        })
        .sum()
}

/// Per-period Sharpe, population skewness and non-excess kurtosis of returns.
pub fn moments(r: &[f64]) -> Result<(f64, f64, f64), ValidateError> {
    check_returns(r)?;
    let m = mean(r);
    let sd1 = std(r, 1);
    let m2 = r.iter().map(|v| (v - m).powi(2)).sum::<f64>() / r.len() as f64;
    let m3 = r.iter().map(|v| (v - m).powi(3)).sum::<f64>() / r.len() as f64;
    let m4 = r.iter().map(|v| (v - m).powi(4)).sum::<f64>() / r.len() as f64;
    if sd1 == 0.0 {
        return Err(ValidateError::Undefined {
            metric: "sharpe".into(),
            reason: "the returns are constant".into(),
        });
    }
    Ok((m / sd1, m3 / m2.powf(1.5), m4 / (m2 * m2)))
}

fn sr_denominator(sr: f64, skew: f64, kurtosis: f64) -> Result<f64, ValidateError> {
    let v = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if v <= 0.0 || !v.is_finite() {
        return Err(ValidateError::Undefined {
            metric: "psr".into(),
            reason: format!("the Sharpe ratio's variance term 1 − γ3·SR + (γ4 − 1)/4·SR² is {v}"),
        });
    }
    Ok(v)
}

/// Probabilistic Sharpe ratio: P(true SR > `benchmark`) given the per-period `sr` over `t`
/// returns with skewness and non-excess kurtosis.
pub fn psr(
    sr: f64,
    benchmark: f64,
    t: usize,
    skew: f64,
    kurtosis: f64,
) -> Result<f64, ValidateError> {
    if t < 2 {
        return Err(ValidateError::parameter(
            "n_obs",
            format!("must be at least 2 for PSR, got {t}"),
        ));
    }
    check_moments(sr, skew, kurtosis)?;
    finite("benchmark", benchmark)?;
    let v = sr_denominator(sr, skew, kurtosis)?;
    Ok(normal().cdf((sr - benchmark) * ((t - 1) as f64).sqrt() / v.sqrt()))
}

/// Minimum track record length (periods) for `sr` to beat `benchmark` at confidence 1 − α.
pub fn min_track_record(
    sr: f64,
    benchmark: f64,
    skew: f64,
    kurtosis: f64,
    alpha: f64,
) -> Result<f64, ValidateError> {
    check_moments(sr, skew, kurtosis)?;
    finite("benchmark", benchmark)?;
    open_unit("alpha", alpha)?;
    if sr <= benchmark {
        return Err(ValidateError::Undefined {
            metric: "min_trl".into(),
            reason: "the Sharpe ratio does not exceed the benchmark".into(),
        });
    }
    let v = sr_denominator(sr, skew, kurtosis)?;
    let z = normal().inverse_cdf(1.0 - alpha);
    let periods = 1.0 + v * (z / (sr - benchmark)).powi(2);
    if !periods.is_finite() {
        return Err(ValidateError::Undefined {
            metric: "min_trl".into(),
            reason: "the Sharpe ratio exceeds the benchmark by too little for a finite length"
                .into(),
        });
    }
    Ok(periods)
}

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The expected-maximum factor of `n` unskilled trials (the bracket of DSR's SR0).
pub fn expected_max_factor(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let nn = n as f64;
    let nd = normal();
    (1.0 - EULER_GAMMA) * nd.inverse_cdf(1.0 - 1.0 / nn)
        + EULER_GAMMA * nd.inverse_cdf(1.0 - 1.0 / (nn * std::f64::consts::E))
}

/// Deflated Sharpe ratio: PSR against the best of `n_trials` unskilled trials whose Sharpe
/// ratios have variance `sr_variance` (per-period units). Returns (DSR, SR0).
pub fn dsr(
    sr: f64,
    t: usize,
    skew: f64,
    kurtosis: f64,
    n_trials: usize,
    sr_variance: f64,
) -> Result<(f64, f64), ValidateError> {
    if n_trials == 0 {
        return Err(ValidateError::parameter("n_trials", "must be at least 1"));
    }
    at_most("n_trials", n_trials, MAX_TRIALS)?;
    if !(sr_variance.is_finite() && sr_variance >= 0.0) {
        return Err(ValidateError::parameter(
            "sr_variance",
            format!("must be a non-negative finite number, got {sr_variance}"),
        ));
    }
    let sr0 = sr_variance.sqrt() * expected_max_factor(n_trials);
    Ok((psr(sr, sr0, t, skew, kurtosis)?, sr0))
}

/// The result of CSCV.
#[derive(Debug, Clone, Serialize)]
pub struct PboReport {
    /// Probability of backtest overfitting: share of combinations with λ ≤ 0.
    pub pbo: f64,
    /// Logit λ of each combination.
    pub logits: Vec<f64>,
    /// Number of combinations C(S, S/2).
    pub combinations: usize,
    /// Rows dropped at the start (T % S).
    pub dropped_rows: usize,
    /// OLS slope of OOS on IS performance of the IS winner (performance degradation).
    pub degradation_slope: f64,
    /// Share of combinations where the IS winner loses out of sample (OOS metric < 0).
    pub prob_oos_loss: f64,
}

/// Which performance measure CSCV ranks configurations by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PboMetric {
    /// Per-period Sharpe ratio (mean / sample std) of each column.
    Sharpe,
    /// Sum of each column.
    Sum,
}

fn column_metric(m: &[Vec<f64>], rows: &[usize], metric: PboMetric) -> Vec<f64> {
    let n = m[0].len();
    (0..n)
        .map(|j| {
            let col: Vec<f64> = rows.iter().map(|&i| m[i][j]).collect();
            match metric {
                PboMetric::Sum => col.iter().sum(),
                PboMetric::Sharpe => {
                    let s = std(&col, 1);
                    if s > 0.0 { mean(&col) / s } else { 0.0 }
                }
            }
        })
        .collect()
}

/// Probability of backtest overfitting by CSCV on a T×N matrix (rows = periods, columns =
/// configurations) with `s` blocks.
pub fn pbo(m: &[Vec<f64>], s: usize, metric: PboMetric) -> Result<PboReport, ValidateError> {
    if s < 2 || !s.is_multiple_of(2) {
        return Err(ValidateError::parameter(
            "blocks",
            format!("must be even and >= 2, got {s}"),
        ));
    }
    let t = m.len();
    let n = m.first().map_or(0, Vec::len);
    if n < 2 {
        return Err(ValidateError::InvalidInput(
            "PBO needs at least 2 configurations (columns)".into(),
        ));
    }
    if let Some(i) = m.iter().position(|row| row.len() != n) {
        return Err(ValidateError::InvalidInput(format!(
            "row {} has {} columns, expected {n}",
            i + 1,
            m[i].len()
        )));
    }
    if s.checked_mul(2).is_none_or(|need| t < need) {
        return Err(ValidateError::parameter(
            "blocks",
            format!("must be at most half the number of periods ({t}), got {s}"),
        ));
    }
    if binomial(s, s / 2) > 1_000_000 {
        return Err(ValidateError::parameter(
            "blocks",
            format!("{s} makes more than 1000000 combinations"),
        ));
    }
    if let Some((i, j)) = m
        .iter()
        .enumerate()
        .find_map(|(i, row)| row.iter().position(|v| !v.is_finite()).map(|j| (i, j)))
    {
        return Err(ValidateError::InvalidInput(format!(
            "value at row {}, column {} is not finite",
            i + 1,
            j + 1
        )));
    }
    let dropped = t % s;
    let size = (t - dropped) / s;
    let block_rows = |b: usize| (dropped + b * size..dropped + (b + 1) * size).collect::<Vec<_>>();
    let mut logits = Vec::new();
    let (mut is_best, mut oos_best) = (Vec::new(), Vec::new());
    // Lexicographic combinations of s/2 blocks.
    let k = s / 2;
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        let is_rows: Vec<usize> = idx.iter().flat_map(|&b| block_rows(b)).collect();
        let oos_rows: Vec<usize> = (0..s)
            .filter(|b| !idx.contains(b))
            .flat_map(block_rows)
            .collect();
        let r_is = column_metric(m, &is_rows, metric);
        let r_oos = column_metric(m, &oos_rows, metric);
        let mut star = 0;
        for j in 1..n {
            if r_is[j] > r_is[star] {
                star = j;
            }
        }
        let ranks = average_ranks(&r_oos);
        let w = ranks[star] / (n as f64 + 1.0);
        logits.push((w / (1.0 - w)).ln());
        is_best.push(r_is[star]);
        oos_best.push(r_oos[star]);
        let mut i = k;
        while i > 0 && idx[i - 1] == i - 1 + s - k {
            i -= 1;
        }
        if i == 0 {
            break;
        }
        idx[i - 1] += 1;
        for j in i..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
    let c = logits.len();
    let mx = mean(&is_best);
    let my = mean(&oos_best);
    let sxx: f64 = is_best.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = is_best
        .iter()
        .zip(&oos_best)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    Ok(PboReport {
        pbo: logits.iter().filter(|l| **l <= 0.0).count() as f64 / c as f64,
        combinations: c,
        dropped_rows: dropped,
        degradation_slope: if sxx > 0.0 { sxy / sxx } else { f64::NAN },
        prob_oos_loss: oos_best.iter().filter(|v| **v < 0.0).count() as f64 / c as f64,
        logits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
    }

    // empyrical-reloaded 0.7.1 (scripts/reference/stats.py).
    const R: [f64; 10] = [
        0.01, -0.02, 0.015, 0.003, -0.007, 0.012, -0.004, 0.008, -0.011, 0.006,
    ];

    #[test]
    fn trading_metrics_match_empyrical() {
        let t = trading_metrics(&R, 252.0).unwrap();
        close(t.mean, 0.0012, 1e-12);
        close(t.sharpe_per_period, 0.10617667554629233, 1e-12);
        close(t.sharpe, 1.685502471186496, 1e-12);
        close(t.downside_risk, 0.12152036866303526, 1e-12);
        close(t.sortino, 2.488471713236217, 1e-12);
        close(t.max_drawdown, -0.02, 1e-12);
        close(t.final_equity, 1.011482395887435, 1e-12);
        close(t.annual_return, 0.3333675470140962, 1e-12);
        close(t.annual_volatility, 0.1794123741551847, 1e-12);
        close(t.calmar, 16.66837735070484, 1e-12);
        close(t.win_rate, 0.6, 1e-12);
        close(t.profit_factor, 1.2857142857142858, 1e-12);
        assert_eq!((t.max_drawdown_peak, t.max_drawdown_trough), (0, 1));
        close(
            turnover(&[0., 1., 1., -1., -1., 0., 1., 1., 0.5, 0.5]),
            5.5,
            1e-12,
        );
        // The first return negative: drawdown from the starting equity of 1.
        close(
            trading_metrics(&[-0.1, 0.05], 252.0).unwrap().max_drawdown,
            -0.1,
            1e-12,
        );
        let flat = trading_metrics(&[0.01, 0.01, 0.01], 252.0).unwrap();
        assert!(flat.sharpe.is_nan() && flat.sortino.is_infinite() && flat.calmar.is_nan());
    }

    // PSR, MinTRL and DSR from their formulas with scipy 1.17.1 (scripts/reference/stats.py).
    #[test]
    fn psr_min_trl_and_dsr_match_the_reference() {
        close(
            psr(0.1, 0.0, 252, 0.0, 3.0).unwrap(),
            0.9429868610243624,
            1e-9,
        );
        close(
            min_track_record(0.1, 0.0, 0.0, 3.0, 0.05).unwrap(),
            272.907117136589,
            1e-9,
        );
        // SR̂ = √0.025 (the rounded 0.15811388 gives 166.64329377; the script prints both).
        close(
            min_track_record(0.025f64.sqrt(), 0.0, -3.0, 10.0, 0.05).unwrap(),
            166.6432886765355,
            1e-9,
        );
        let (sr, skew, kurt) = moments(&R).unwrap();
        close(sr, 0.10617667554629233, 1e-12);
        close(skew, -0.5708155848421294, 1e-12);
        close(kurt, 2.178836825153308, 1e-12);
        close(
            psr(sr, 0.0, R.len(), skew, kurt).unwrap(),
            0.6212676604023623,
            1e-9,
        );
        for (n, want) in [
            (2, 0.5197553442805939),
            (10, 1.57459830134575),
            (100, 2.5306028932016846),
            (1000, 3.255121513652723),
        ] {
            close(expected_max_factor(n), want, 1e-9);
        }
        let (d, sr0) = dsr(0.1, 252, 0.0, 3.0, 1, 0.01).unwrap();
        assert_eq!(sr0, 0.0);
        close(d, 0.9429868610243624, 1e-9);
        let (d, sr0) = dsr(0.1, 252, 0.0, 3.0, 100, 0.0004).unwrap();
        close(sr0, 0.02 * 2.5306028932016846, 1e-9);
        assert!(d < 0.9429868610243624);
    }

    // CSCV by hand (scripts/reference/stats.py): PBO = 1.0 with the λ ≤ 0 rule, 4/6 with λ < 0.
    #[test]
    fn pbo_matches_the_reference_including_the_boundary() {
        let m: Vec<Vec<f64>> = [
            [25., 10., 0., -10.],
            [10., 20., -10., 0.],
            [-10., 5., 20., 10.],
            [0., -10., 10., 30.],
            [30., 0., -15., 10.],
            [-20., 10., 20., 0.],
            [0., 20., 0., -10.],
            [10., -20., 10., 15.],
        ]
        .iter()
        .map(|r| r.to_vec())
        .collect();
        let p = pbo(&m, 4, PboMetric::Sum).unwrap();
        assert_eq!(p.combinations, 6);
        assert_eq!(p.pbo, 1.0);
        let want = [0.0, -0.405465, -1.386294, -1.386294, -0.405465, 0.0];
        for (a, b) in p.logits.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{:?}", p.logits);
        }
        assert!(pbo(&m, 3, PboMetric::Sum).is_err());
    }

    #[test]
    fn pbo_is_low_for_a_persistent_edge_and_middling_for_noise() {
        // Deterministic pseudo-noise; column 0 gets a steady edge.
        let mut s = 12345u64;
        let mut noise = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let m: Vec<Vec<f64>> = (0..400)
            .map(|_| {
                (0..10)
                    .map(|j| noise() + if j == 0 { 0.3 } else { 0.0 })
                    .collect()
            })
            .collect();
        assert!(pbo(&m, 8, PboMetric::Sharpe).unwrap().pbo < 0.05);
        let noise_only: Vec<Vec<f64>> = m.iter().map(|r| r[1..].to_vec()).collect();
        let p = pbo(&noise_only, 8, PboMetric::Sharpe).unwrap().pbo;
        assert!(p > 0.1 && p < 0.95, "{p}");
    }
}
