//! Statistical tests for comparing two models (scripts/reference/compare.py): Diebold–Mariano
//! with the Harvey–Leybourne–Newbold correction, the Nadeau–Bengio corrected resampled t-test,
//! McNemar, DeLong for correlated AUCs, the paired bootstrap and the Wilcoxon signed-rank test.

use crate::cross_section::average_ranks;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF, Normal, StudentsT};

use crate::ValidateError;
use crate::error::{at_most, open_unit};

/// Most bootstrap resamples [`paired_bootstrap`] draws (10⁷): each is kept to take quantiles.
pub const MAX_BOOT: usize = 10_000_000;

/// Refuses a series with a missing or infinite value, naming the series and the (1-based) row.
fn check_finite(what: &str, x: &[f64]) -> Result<(), ValidateError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(ValidateError::InvalidInput(format!(
            "{what} at row {} is not finite ({})",
            i + 1,
            x[i]
        ))),
        None => Ok(()),
    }
}

/// A test's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TestResult {
    /// Test name.
    pub test: String,
    /// The statistic.
    pub statistic: f64,
    /// Two-sided p-value (unless the test is one-sided by nature).
    pub p_value: f64,
    /// Effect: mean difference (A − B) or its analogue.
    pub effect: f64,
    /// Extra named numbers (raw statistic, degrees of freedom, ...).
    pub details: Vec<(String, f64)>,
}

fn normal() -> Normal {
    Normal::new(0.0, 1.0).expect("standard normal")
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn t_two_sided(t: f64, df: f64) -> f64 {
    let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    2.0 * (1.0 - dist.cdf(t.abs()))
}

fn same_len(a: &[f64], b: &[f64]) -> Result<(), ValidateError> {
    if a.len() != b.len() || a.len() < 2 {
        return Err(ValidateError::InvalidInput(format!(
            "need two paired series of equal length >= 2, got {} and {}",
            a.len(),
            b.len()
        )));
    }
    Ok(())
}

/// Diebold–Mariano test of equal predictive accuracy on a loss differential `d = L1 − L2` for
/// `h`-step forecasts, with the HLN small-sample correction (Student t, T−1 df).
pub fn diebold_mariano(d: &[f64], h: usize) -> Result<TestResult, ValidateError> {
    let t = d.len();
    if t < 3 {
        return Err(ValidateError::InvalidInput(format!(
            "Diebold–Mariano needs at least 3 loss differentials, got {t}"
        )));
    }
    if h == 0 || h >= t {
        return Err(ValidateError::parameter(
            "horizon",
            format!(
                "must be in [1, {}] for {t} loss differentials, got {h}",
                t - 1
            ),
        ));
    }
    check_finite("loss differential", d)?;
    let tf = t as f64;
    let hf = h as f64;
    // Equal losses on every row (identical forecasts): no difference to test. The statistic is
    // 0/0, but the answer is not in doubt, so it is reported as no difference (p = 1) rather
    // than refused, and nothing divides by the zero variance.
    if d.iter().all(|x| *x == 0.0) {
        return Ok(TestResult {
            test: "diebold_mariano_hln".into(),
            statistic: 0.0,
            p_value: 1.0,
            effect: 0.0,
            details: vec![
                ("dm".into(), 0.0),
                ("p_value_normal".into(), 1.0),
                ("hln_factor".into(), hln_factor(tf, hf)),
                ("variance".into(), 0.0),
                ("h".into(), hf),
            ],
        });
    }
    let dbar = mean(d);
    let gamma = |k: usize| -> f64 {
        (k..t)
            .map(|i| (d[i] - dbar) * (d[i - k] - dbar))
            .sum::<f64>()
            / tf
    };
    let v = (gamma(0) + 2.0 * (1..h).map(gamma).sum::<f64>()) / tf;
    // Also refuses a variance that overflowed (NaN or infinite) on extreme losses.
    if !(v > 0.0 && v.is_finite()) {
        return Err(ValidateError::Undefined {
            metric: "diebold_mariano".into(),
            reason: format!("the long-run variance estimate is {v} (<= 0) with h={h}"),
        });
    }
    let dm = dbar / v.sqrt();
    let factor = hln_factor(tf, hf);
    let dm_star = dm * factor;
    Ok(TestResult {
        test: "diebold_mariano_hln".into(),
        statistic: dm_star,
        p_value: t_two_sided(dm_star, tf - 1.0),
        effect: dbar,
        details: vec![
            ("dm".into(), dm),
            (
                "p_value_normal".into(),
                2.0 * (1.0 - normal().cdf(dm.abs())),
            ),
            ("hln_factor".into(), factor),
            ("variance".into(), v),
            ("h".into(), hf),
        ],
    })
}

/// Harvey, Leybourne and Newbold's small-sample factor for `t` differentials at horizon `h`.
fn hln_factor(t: f64, h: f64) -> f64 {
    ((t + 1.0 - 2.0 * h + h * (h - 1.0) / t) / t).sqrt()
}

/// Nadeau–Bengio corrected resampled t-test on paired scores of `J` resamples with
/// `n_train`/`n_test` rows each (for r×k-fold CV: `n_test/n_train = 1/(k−1)`).
pub fn nadeau_bengio(
    a: &[f64],
    b: &[f64],
    n_train: usize,
    n_test: usize,
) -> Result<TestResult, ValidateError> {
    same_len(a, b)?;
    check_finite("a", a)?;
    check_finite("b", b)?;
    for (name, v) in [("n_train", n_train), ("n_test", n_test)] {
        if v == 0 {
            return Err(ValidateError::parameter(name, "must be at least 1"));
        }
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let j = d.len() as f64;
    let dbar = mean(&d);
    let s2 = d.iter().map(|v| (v - dbar).powi(2)).sum::<f64>() / (j - 1.0);
    let denom = ((1.0 / j + n_test as f64 / n_train as f64) * s2).sqrt();
    if denom == 0.0 {
        return Err(ValidateError::Undefined {
            metric: "nadeau_bengio".into(),
            reason: "the paired differences are constant".into(),
        });
    }
    let t = dbar / denom;
    let naive = dbar / (s2 / j).sqrt();
    Ok(TestResult {
        test: "nadeau_bengio".into(),
        statistic: t,
        p_value: t_two_sided(t, j - 1.0),
        effect: dbar,
        details: vec![
            ("df".into(), j - 1.0),
            ("naive_t".into(), naive),
            ("naive_p_value".into(), t_two_sided(naive, j - 1.0)),
        ],
    })
}

/// McNemar test from the discordant counts: `b` = A right and B wrong, `c` = A wrong and B
/// right. Exact binomial p-value, with both χ² variants in the details. Two models that never
/// disagree (`b = c = 0`) give statistic 0 and p = 1 for every variant: the exact test of 0
/// successes in 0 trials (scipy's `binomtest(0, 0)` is undefined, statsmodels' exact McNemar
/// gives 1), and χ² = 0 rather than 0/0.
pub fn mcnemar(b: u64, c: u64) -> Result<TestResult, ValidateError> {
    let n = b.checked_add(c).ok_or_else(|| {
        ValidateError::InvalidInput(format!("discordant counts {b} + {c} overflow"))
    })?;
    if n == 0 {
        return Ok(TestResult {
            test: "mcnemar".into(),
            statistic: 0.0,
            p_value: 1.0,
            effect: 0.0,
            details: vec![
                ("chi2_corrected".into(), 0.0),
                ("p_value_chi2_corrected".into(), 1.0),
                ("chi2".into(), 0.0),
                ("p_value_chi2".into(), 1.0),
            ],
        });
    }
    let k = b.min(c);
    let bin = Binomial::new(0.5, n).expect("valid binomial");
    let exact = (2.0 * bin.cdf(k)).min(1.0);
    let chi = ChiSquared::new(1.0).expect("df 1");
    let diff = (b as f64 - c as f64).abs();
    let corrected = (diff - 1.0).max(0.0).powi(2) / n as f64;
    let plain = diff.powi(2) / n as f64;
    Ok(TestResult {
        test: "mcnemar".into(),
        statistic: k as f64,
        p_value: exact,
        effect: b as f64 - c as f64,
        details: vec![
            ("chi2_corrected".into(), corrected),
            ("p_value_chi2_corrected".into(), 1.0 - chi.cdf(corrected)),
            ("chi2".into(), plain),
            ("p_value_chi2".into(), 1.0 - chi.cdf(plain)),
        ],
    })
}

/// DeLong's test for two correlated ROC AUCs on the same labels (fast midrank algorithm). Two
/// score vectors that rank the rows identically have equal AUCs and a difference of zero
/// variance: that is reported as z = 0, p = 1 (no difference), not as 0/0.
pub fn delong(y: &[f64], score_a: &[f64], score_b: &[f64]) -> Result<TestResult, ValidateError> {
    if y.len() != score_a.len() || y.len() != score_b.len() {
        return Err(ValidateError::InvalidInput(
            "labels and scores must have equal lengths".into(),
        ));
    }
    check_finite("score_a", score_a)?;
    check_finite("score_b", score_b)?;
    let pos: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 1.0).collect();
    let neg: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 0.0).collect();
    if pos.len() + neg.len() != y.len() {
        return Err(ValidateError::InvalidInput("labels must be 0 or 1".into()));
    }
    let (m, n) = (pos.len(), neg.len());
    if m < 2 || n < 2 {
        return Err(ValidateError::Undefined {
            metric: "delong".into(),
            reason: "DeLong needs at least two positives and two negatives".into(),
        });
    }
    let components = |s: &[f64]| -> (f64, Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = pos.iter().map(|&i| s[i]).collect();
        let yv: Vec<f64> = neg.iter().map(|&i| s[i]).collect();
        let z: Vec<f64> = x.iter().chain(&yv).copied().collect();
        let (tx, ty, tz) = (average_ranks(&x), average_ranks(&yv), average_ranks(&z));
        let v10: Vec<f64> = (0..m).map(|i| (tz[i] - tx[i]) / n as f64).collect();
        let v01: Vec<f64> = (0..n)
            .map(|j| 1.0 - (tz[m + j] - ty[j]) / m as f64)
            .collect();
        (mean(&v10), v10, v01)
    };
    let (auc_a, v10a, v01a) = components(score_a);
    let (auc_b, v10b, v01b) = components(score_b);
    let cov = |a: &[f64], b: &[f64]| -> f64 {
        let (ma, mb) = (mean(a), mean(b));
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (a.len() - 1) as f64
    };
    let s11 = cov(&v10a, &v10a) / m as f64 + cov(&v01a, &v01a) / n as f64;
    let s22 = cov(&v10b, &v10b) / m as f64 + cov(&v01b, &v01b) / n as f64;
    let s12 = cov(&v10a, &v10b) / m as f64 + cov(&v01a, &v01b) / n as f64;
    let var = s11 + s22 - 2.0 * s12;
    // Identical rankings: every structural component is equal, so var is exactly 0.
    if var <= 0.0 && auc_a == auc_b {
        return Ok(TestResult {
            test: "delong".into(),
            statistic: 0.0,
            p_value: 1.0,
            effect: 0.0,
            details: vec![
                ("auc_a".into(), auc_a),
                ("auc_b".into(), auc_b),
                ("se_auc_a".into(), s11.max(0.0).sqrt()),
                ("se_auc_b".into(), s22.max(0.0).sqrt()),
                ("variance_of_difference".into(), 0.0),
            ],
        });
    }
    if var <= 0.0 {
        return Err(ValidateError::Undefined {
            metric: "delong".into(),
            reason: "the AUC difference has zero variance (identical rankings?)".into(),
        });
    }
    let z = (auc_a - auc_b) / var.sqrt();
    Ok(TestResult {
        test: "delong".into(),
        statistic: z,
        p_value: 2.0 * (1.0 - normal().cdf(z.abs())),
        effect: auc_a - auc_b,
        details: vec![
            ("auc_a".into(), auc_a),
            ("auc_b".into(), auc_b),
            ("se_auc_a".into(), s11.sqrt()),
            ("se_auc_b".into(), s22.sqrt()),
            ("variance_of_difference".into(), var),
        ],
    })
}

/// Paired bootstrap percentile interval of the mean difference `a − b` (seeded; `n_boot`
/// resamples of the indices). Returns (mean, low, high, P(mean ≤ 0)).
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    n_boot: usize,
    confidence: f64,
    seed: u64,
) -> Result<TestResult, ValidateError> {
    same_len(a, b)?;
    check_finite("a", a)?;
    check_finite("b", b)?;
    if n_boot < 100 {
        return Err(ValidateError::parameter(
            "n_boot",
            format!("must be at least 100, got {n_boot}"),
        ));
    }
    at_most("n_boot", n_boot, MAX_BOOT)?;
    open_unit("confidence", confidence)?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..n_boot)
        .map(|_| (0..n).map(|_| d[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| -> f64 {
        // numpy's linear quantile.
        let pos = p * (means.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(means.len() - 1);
        means[lo] + (means[hi] - means[lo]) * (pos - lo as f64)
    };
    let alpha = 1.0 - confidence;
    let (low, high) = (q(alpha / 2.0), q(1.0 - alpha / 2.0));
    let share = |keep: fn(f64) -> bool| {
        means.iter().filter(|m| keep(**m)).count() as f64 / means.len() as f64
    };
    let p_le_zero = share(|m| m <= 0.0);
    // Two-sided: twice the smaller tail, each tail counting resampled means equal to 0. With
    // `1 - p_le_zero` as the upper tail, identical inputs (every mean 0) gave p = 0, as if the
    // models differed for certain; counting the zeros in both tails gives p = 1.
    let p_ge_zero = share(|m| m >= 0.0);
    Ok(TestResult {
        test: "paired_bootstrap".into(),
        statistic: mean(&d),
        p_value: (2.0 * p_le_zero.min(p_ge_zero)).min(1.0),
        effect: mean(&d),
        details: vec![
            ("ci_low".into(), low),
            ("ci_high".into(), high),
            ("confidence".into(), confidence),
            ("p_mean_le_zero".into(), p_le_zero),
            ("n_boot".into(), n_boot as f64),
        ],
    })
}

/// Pairs up to which [`wilcoxon`] runs the exact permutation test when there are ties or zeros
/// (scipy's `method='auto'`; zeros count).
pub const WILCOXON_PERMUTATION_MAX_N: usize = 13;

/// Wilcoxon signed-rank test on paired differences (zeros dropped; average ranks for ties),
/// p-value chosen as scipy 1.17's `method='auto'`: the exact distribution without ties or zeros
/// for n ≤ 50, an exact permutation test over all sign flips with ties or zeros for n ≤ 13
/// (zeros counted), else the normal approximation (tie-corrected variance, no continuity
/// correction). The detail `z` is the normal approximation's z in every case.
pub fn wilcoxon(d: &[f64]) -> Result<TestResult, ValidateError> {
    check_finite("difference", d)?;
    let nz: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n = nz.len();
    if n < 2 {
        return Err(ValidateError::Undefined {
            metric: "wilcoxon".into(),
            reason: "fewer than two non-zero differences".into(),
        });
    }
    let abs: Vec<f64> = nz.iter().map(|v| v.abs()).collect();
    let ranks = average_ranks(&abs);
    let w_plus: f64 = nz
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v > 0.0)
        .map(|(_, r)| r)
        .sum();
    let w_minus: f64 = nz
        .iter()
        .zip(&ranks)
        .filter(|(v, _)| **v < 0.0)
        .map(|(_, r)| r)
        .sum();
    let stat = w_plus.min(w_minus);
    let has_ties = ranks.iter().any(|r| r.fract() != 0.0) || {
        let mut s = abs.clone();
        s.sort_by(f64::total_cmp);
        s.windows(2).any(|w| w[0] == w[1])
    };
    let zeros = d.len() != n;
    let nf = n as f64;
    // Normal approximation (tie-corrected variance, no continuity correction); its z is
    // reported whichever p-value is used.
    let z = {
        let mut s = abs.clone();
        s.sort_by(f64::total_cmp);
        let mut tie_term = 0.0;
        let mut i = 0;
        while i < s.len() {
            let mut j = i;
            while j + 1 < s.len() && s[j + 1] == s[i] {
                j += 1;
            }
            let t = (j - i + 1) as f64;
            tie_term += t * t * t - t;
            i = j + 1;
        }
        let mu = nf * (nf + 1.0) / 4.0;
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
        (stat - mu) / var.sqrt()
    };
    let p = if !has_ties && !zeros && n <= 50 {
        // Exact null distribution of W+ by dynamic programming over ranks 1..n.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0f64; max + 1];
        counts[0] = 1.0;
        for r in 1..=n {
            for s in (r..=max).rev() {
                counts[s] += counts[s - r];
            }
        }
        let total: f64 = counts.iter().sum();
        let k = stat.round() as usize;
        let tail: f64 = counts[..=k].iter().sum::<f64>() / total;
        (2.0 * tail).min(1.0)
    } else if d.len() <= WILCOXON_PERMUTATION_MAX_N {
        // Ties or zeros with few pairs: scipy's exact permutation test, every sign assignment of
        // the non-zero differences (zeros flip to themselves, so leaving them out keeps the
        // proportions). Two-sided p = 2·min(P(W+ ≥ w), P(W+ ≤ w)), with scipy's relative
        // tolerance for float ranks.
        let eps = 1e-14 * w_plus.abs().max(1.0);
        let (mut ge, mut le) = (0u32, 0u32);
        for mask in 0u32..(1u32 << n) {
            let w: f64 = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| ranks[i])
                .sum();
            ge += u32::from(w >= w_plus - eps);
            le += u32::from(w <= w_plus + eps);
        }
        (2.0 * f64::from(ge.min(le)) / f64::from(1u32 << n)).min(1.0)
    } else {
        2.0 * normal().cdf(-z.abs())
    };
    Ok(TestResult {
        test: "wilcoxon".into(),
        statistic: stat,
        p_value: p,
        effect: mean(&nz),
        details: vec![
            ("w_plus".into(), w_plus),
            ("w_minus".into(), w_minus),
            ("n".into(), nf),
            ("z".into(), z),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
    }

    fn detail(r: &TestResult, k: &str) -> f64 {
        r.details.iter().find(|(n, _)| n == k).unwrap().1
    }

    // statsmodels 0.15.0 / scipy 1.17.1 (scripts/reference/compare.py, as every test here).
    #[test]
    fn diebold_mariano_matches_the_reference() {
        let y: [f64; 12] = [
            1.0, 0.5, -0.2, 0.8, 1.2, -0.5, 0.3, 0.9, -0.1, 0.4, 0.7, -0.3,
        ];
        let f1 = [0.8, 0.6, 0.1, 0.5, 1.0, -0.2, 0.2, 0.6, 0.2, 0.3, 0.4, 0.0];
        let f2 = [0.5, 0.9, 0.3, 0.2, 0.6, 0.1, 0.5, 0.3, 0.3, 0.0, 0.2, 0.2];
        let d: Vec<f64> = (0..12)
            .map(|i| (y[i] - f1[i]).powi(2) - (y[i] - f2[i]).powi(2))
            .collect();
        for (h, v, dm, factor, dm_star, p) in [
            (
                1,
                0.000570138888889,
                -7.74785342163,
                0.957427107756,
                -7.41800489279,
                1.32948831187e-05,
            ),
            (
                2,
                0.000434375,
                -8.87645012978,
                0.874007373475,
                -7.75808286371,
                8.73632641664e-06,
            ),
            (
                3,
                0.000505902777778,
                -8.22504336563,
                0.790569415042,
                -6.50246772226,
                4.41277704751e-05,
            ),
        ] {
            let r = diebold_mariano(&d, h).unwrap();
            close(detail(&r, "variance"), v, 1e-9);
            close(detail(&r, "dm"), dm, 1e-9);
            close(detail(&r, "hln_factor"), factor, 1e-9);
            close(r.statistic, dm_star, 1e-9);
            assert!((r.p_value - p).abs() < 1e-9, "{} vs {p}", r.p_value);
            close(r.effect, -0.185, 1e-12);
        }
        let da: Vec<f64> = (0..12)
            .map(|i| (y[i] - f1[i]).abs() - (y[i] - f2[i]).abs())
            .collect();
        close(
            diebold_mariano(&da, 1).unwrap().statistic,
            -9.574271077563383,
            1e-9,
        );
    }

    // Nadeau–Bengio by its formula (scripts/reference/compare.py).
    #[test]
    fn nadeau_bengio_matches_the_reference() {
        let a = [
            0.712, 0.695, 0.731, 0.702, 0.688, 0.720, 0.709, 0.699, 0.715, 0.705,
        ];
        let b = [
            0.701, 0.690, 0.722, 0.700, 0.680, 0.711, 0.703, 0.702, 0.704, 0.698,
        ];
        let r = nadeau_bengio(&a, &b, 900, 100).unwrap();
        close(r.effect, 0.0065, 1e-12);
        close(r.statistic, 3.2694832217413423, 1e-9);
        assert!((r.p_value - 0.009690718536337472).abs() < 1e-9);
        close(detail(&r, "naive_t"), 4.750448987057432, 1e-9);
        assert!((detail(&r, "naive_p_value") - 0.0010435347674299356).abs() < 1e-9);
    }

    // Two identical models (`hone compare A A`): every test says "no difference" with p = 1
    // and finite numbers, where DeLong and DM used to divide zero by a zero variance.
    #[test]
    fn identical_inputs_give_no_difference_and_finite_numbers() {
        let y = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
        let s = [0.2, 0.7, 0.4, 0.6, 0.9, 0.1, 0.3, 0.5];
        let finite = |r: &TestResult| {
            [r.statistic, r.p_value, r.effect]
                .iter()
                .chain(r.details.iter().map(|(_, v)| v))
                .all(|v| v.is_finite())
        };
        let d = delong(&y, &s, &s).unwrap();
        assert_eq!((d.statistic, d.p_value, d.effect), (0.0, 1.0, 0.0));
        assert!(finite(&d), "{d:?}");
        // The same ranking by other numbers is the same AUC, with zero variance too.
        let scaled: Vec<f64> = s.iter().map(|x| x * 0.5).collect();
        assert_eq!(delong(&y, &s, &scaled).unwrap().p_value, 1.0);
        let dm = diebold_mariano(&[0.0; 8], 2).unwrap();
        assert_eq!((dm.statistic, dm.p_value, dm.effect), (0.0, 1.0, 0.0));
        assert!(finite(&dm), "{dm:?}");
        // A constant non-zero difference still has no variance to test against: refused.
        assert!(diebold_mariano(&[0.5; 8], 1).is_err());
        let b = paired_bootstrap(&s, &s, 500, 0.95, 0).unwrap();
        assert_eq!((b.effect, b.p_value), (0.0, 1.0));
        assert_eq!((detail(&b, "ci_low"), detail(&b, "ci_high")), (0.0, 0.0));
        assert!(finite(&b), "{b:?}");
    }

    // statsmodels mcnemar on the table [[50,10],[3,37]] (scripts/reference/compare.py).
    #[test]
    fn mcnemar_matches_the_reference() {
        let r = mcnemar(10, 3).unwrap();
        assert_eq!(r.statistic, 3.0);
        assert!((r.p_value - 0.09228515625).abs() < 1e-9);
        close(detail(&r, "chi2_corrected"), 2.769230769230769, 1e-12);
        assert!((detail(&r, "p_value_chi2_corrected") - 0.0960923294556734).abs() < 1e-9);
        close(detail(&r, "chi2"), 3.769230769230769, 1e-12);
        assert!((detail(&r, "p_value_chi2") - 0.0522036353413146).abs() < 1e-9);
        // Never disagreeing: no evidence of a difference, p = 1 (not an error, not NaN).
        let same = mcnemar(0, 0).unwrap();
        assert_eq!((same.statistic, same.p_value, same.effect), (0.0, 1.0, 0.0));
        assert!(same.details.iter().all(|(_, v)| v.is_finite()));
    }

    // DeLong by its placement values (scripts/reference/compare.py).
    #[test]
    fn delong_matches_the_reference() {
        let y = [1., 0., 1., 1., 0., 1., 0., 0., 1., 0.];
        let pa = [0.9, 0.4, 0.65, 0.6, 0.6, 0.8, 0.2, 0.6, 0.45, 0.1];
        let pb = [0.7, 0.5, 0.4, 0.55, 0.3, 0.6, 0.45, 0.35, 0.8, 0.2];
        let r = delong(&y, &pa, &pb).unwrap();
        close(detail(&r, "auc_a"), 0.88, 1e-12);
        close(detail(&r, "auc_b"), 0.92, 1e-12);
        close(detail(&r, "variance_of_difference"), 0.0302, 1e-12);
        close(r.statistic, -0.2301741350593746, 1e-9);
        assert!((r.p_value - 0.8179564595298032).abs() < 1e-9);
        close(detail(&r, "se_auc_a"), 0.10862780491200216, 1e-9);
    }

    // The exact-enumeration interval is [-0.002, 0.04] (scripts/reference/compare.py); a
    // seeded random bootstrap lands near it.
    #[test]
    fn paired_bootstrap_is_seeded_and_near_the_exact_interval() {
        let a = [0.61, 0.58, 0.66, 0.70, 0.63];
        let b = [0.59, 0.60, 0.62, 0.65, 0.62];
        let r = paired_bootstrap(&a, &b, 20_000, 0.95, 0).unwrap();
        close(r.effect, 0.02, 1e-12);
        assert!(
            (detail(&r, "ci_low") - -0.002).abs() < 0.003,
            "{:?}",
            r.details
        );
        assert!(
            (detail(&r, "ci_high") - 0.04).abs() < 0.003,
            "{:?}",
            r.details
        );
        assert!((detail(&r, "p_mean_le_zero") - 0.05152).abs() < 0.01);
        assert_eq!(r, paired_bootstrap(&a, &b, 20_000, 0.95, 0).unwrap());
    }

    // scipy 1.17.1 wilcoxon (scripts/reference/compare.py).
    #[test]
    fn wilcoxon_matches_scipy() {
        let r = wilcoxon(&[12., -3., 25., 7., -9., 31., 15., 4., 18., 22.]).unwrap();
        assert_eq!(r.statistic, 5.0);
        assert!((r.p_value - 0.01953125).abs() < 1e-12);
        assert_eq!((detail(&r, "w_plus"), detail(&r, "w_minus")), (50.0, 5.0));
        let r = wilcoxon(&[1., 2., 2., 3., -1., 4., 4., 4., 0., 5.]).unwrap();
        assert_eq!(r.statistic, 1.5);
        close(detail(&r, "z"), -2.5010636035367373, 1e-9);
        // Ties and a zero with n = 10 ≤ 13: scipy's `auto` runs the permutation test.
        assert!((r.p_value - 0.01171875).abs() < 1e-12);
        // 13 pairs with ties: permutation (scipy 0.018310546875); a 14th pair that is zero:
        // normal approximation (scipy 0.02086258233276551, the same as without the zero).
        let d13 = [1., 2., 2., 3., -1., 4., 4., 4., 5., 6., -7., 8., 9.];
        close(wilcoxon(&d13).unwrap().p_value, 0.018310546875, 1e-12);
        let mut d14 = d13.to_vec();
        d14.push(0.0);
        close(wilcoxon(&d14).unwrap().p_value, 0.02086258233276551, 1e-9);
        // scipy: statistic 4.0, p = 0.25.
        let r = wilcoxon(&[3., -1., 0., 0., 2., 2., -2., 5.]).unwrap();
        assert_eq!(r.statistic, 4.0);
        close(r.p_value, 0.25, 1e-12);
    }
}
