//! Cross-sectional metrics of panel predictions (many assets per timestamp): the information
//! coefficient per timestamp and its summary (Qlib's IC, rank IC and ICIR).
//!
//! Each timestamp's IC is the correlation, across the assets present at that timestamp,
//! between the prediction and the realised target: Pearson for the IC, Spearman (Pearson of
//! average ranks, SciPy's `rankdata` ties) for the rank IC. A timestamp with fewer than two
//! finite pairs, or where the prediction or the target is constant, has no IC and is left out
//! (pandas' `corr` gives NaN there and Qlib drops it). The summary is over the timestamps that
//! have one: mean, standard deviation (ddof 1, as pandas), the t-statistic `mean / std · √n`,
//! ICIR `mean / std`, ICIR annualised by `√periods_per_year`, and the hit rate (share of
//! timestamps with IC > 0). [`quantile_returns`] buckets each timestamp's assets by the signal
//! (pandas' `qcut` of first-ranks) and averages each bucket's forward return: the monotonicity
//! and long-short spread of a signal. `scripts/reference/cross_section.py` computes the same
//! with pandas and SciPy.

use crate::error::ValidateError;

/// Which correlation an IC uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcKind {
    /// Pearson correlation of the values (the IC).
    Pearson,
    /// Spearman correlation: Pearson of average ranks (the rank IC).
    Spearman,
}

/// One timestamp's IC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimestampIc {
    /// The timestamp.
    pub time: i64,
    /// The correlation.
    pub ic: f64,
    /// Assets with a finite prediction and target at this timestamp.
    pub assets: usize,
}

/// The IC of every timestamp that has one, in time order. `times`, `pred` and `target` are
/// one entry per row (asset, timestamp), in any order; non-finite pairs are skipped.
pub fn information_coefficients(
    times: &[i64],
    pred: &[f64],
    target: &[f64],
    kind: IcKind,
) -> Result<Vec<TimestampIc>, ValidateError> {
    if times.len() != pred.len() || pred.len() != target.len() {
        return Err(ValidateError::InvalidInput(format!(
            "cross-sectional IC needs one time, prediction and target per row (got {}, {} and {})",
            times.len(),
            pred.len(),
            target.len()
        )));
    }
    let mut rows: Vec<usize> = (0..times.len())
        .filter(|&i| pred[i].is_finite() && target[i].is_finite())
        .collect();
    rows.sort_by_key(|&i| (times[i], i));
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let t = times[rows[start]];
        let end = start + rows[start..].iter().take_while(|&&i| times[i] == t).count();
        let group = &rows[start..end];
        let (mut x, mut y): (Vec<f64>, Vec<f64>) =
            group.iter().map(|&i| (pred[i], target[i])).unzip();
        if kind == IcKind::Spearman {
            x = average_ranks(&x);
            y = average_ranks(&y);
        }
        if let Some(ic) = pearson(&x, &y) {
            out.push(TimestampIc {
                time: t,
                ic,
                assets: group.len(),
            });
        }
        start = end;
    }
    Ok(out)
}

/// Pearson correlation; `None` for fewer than two points or a constant side (judged exactly,
/// as SciPy's `pearsonr`: the mean of equal values can round off them, and the correlation of
/// that rounding noise means nothing).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    let constant = |v: &[f64]| v.iter().all(|a| *a == v[0]);
    if n < 2 || y.len() != n || constant(x) || constant(y) {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks from 1, ties sharing their average rank (SciPy's `rankdata(method="average")`).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The summary of a series of per-timestamp ICs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IcSummary {
    /// Timestamps with an IC.
    pub n: usize,
    /// Mean IC.
    pub mean: f64,
    /// Standard deviation (ddof 1; NaN for one timestamp).
    pub std: f64,
    /// `mean / std · √n` (NaN when std is 0 or undefined).
    pub t_stat: f64,
    /// `mean / std`.
    pub icir: f64,
    /// `icir · √periods_per_year`.
    pub icir_annualised: f64,
    /// Share of timestamps with IC > 0.
    pub hit_rate: f64,
}

impl IcSummary {
    /// Summarises `ics`; an error when there is none.
    pub fn of(ics: &[TimestampIc], periods_per_year: f64) -> Result<Self, ValidateError> {
        let n = ics.len();
        if n == 0 {
            return Err(ValidateError::InvalidInput(
                "no timestamp has an IC (each needs two assets with varying predictions and \
                 targets)"
                    .into(),
            ));
        }
        let mean = ics.iter().map(|t| t.ic).sum::<f64>() / n as f64;
        let std = if n > 1 {
            (ics.iter().map(|t| (t.ic - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        let icir = if std > 0.0 { mean / std } else { f64::NAN };
        Ok(IcSummary {
            n,
            mean,
            std,
            t_stat: icir * (n as f64).sqrt(),
            icir,
            icir_annualised: icir * periods_per_year.sqrt(),
            hit_rate: ics.iter().filter(|t| t.ic > 0.0).count() as f64 / n as f64,
        })
    }
}

/// Quantile portfolios of a signal: per timestamp, the assets bucketed into `q` equal-count
/// groups by the signal, and each bucket's mean forward return.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileReturns {
    /// Timestamps with at least `q` assets, in order.
    pub times: Vec<i64>,
    /// Per timestamp, the mean forward return of each bucket, lowest signal first.
    pub by_time: Vec<Vec<f64>>,
    /// The mean over timestamps of each bucket's return.
    pub mean: Vec<f64>,
    /// Per timestamp, top bucket minus bottom bucket (the long-short spread).
    pub spread: Vec<f64>,
    /// The mean spread.
    pub mean_spread: f64,
}

/// Quantile returns (see [`QuantileReturns`]): buckets as pandas'
/// `qcut(signal.rank(method="first"), q)` makes them (ties split by row order), timestamps
/// with fewer than `q` assets skipped, rows with a non-finite signal or return left out.
pub fn quantile_returns(
    times: &[i64],
    signal: &[f64],
    forward: &[f64],
    q: usize,
) -> Result<QuantileReturns, ValidateError> {
    if times.len() != signal.len() || signal.len() != forward.len() {
        return Err(ValidateError::InvalidInput(format!(
            "quantile returns need one time, signal and forward return per row (got {}, {} and {})",
            times.len(),
            signal.len(),
            forward.len()
        )));
    }
    if q < 2 {
        return Err(ValidateError::InvalidInput(format!(
            "quantile returns need at least 2 quantiles, got {q}"
        )));
    }
    let mut rows: Vec<usize> = (0..times.len())
        .filter(|&i| signal[i].is_finite() && forward[i].is_finite())
        .collect();
    rows.sort_by_key(|&i| (times[i], i));
    let mut out = QuantileReturns {
        times: Vec::new(),
        by_time: Vec::new(),
        mean: vec![0.0; q],
        spread: Vec::new(),
        mean_spread: f64::NAN,
    };
    let mut start = 0;
    while start < rows.len() {
        let t = times[rows[start]];
        let end = start + rows[start..].iter().take_while(|&&i| times[i] == t).count();
        let group = &rows[start..end];
        start = end;
        let n = group.len();
        if n < q {
            continue;
        }
        // Ranks 1..n, ties by row order (the group is in row order; a stable sort keeps it).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| signal[group[a]].total_cmp(&signal[group[b]]));
        let (mut sums, mut counts) = (vec![0.0; q], vec![0usize; q]);
        for (r, &k) in order.iter().enumerate() {
            let rank = (r + 1) as f64;
            // Bin edges at the ranks' quantiles 1 + j(n − 1)/q; right-closed, the first closed.
            let bucket = (1..=q)
                .find(|&j| rank <= 1.0 + j as f64 * (n - 1) as f64 / q as f64 + 1e-9)
                .unwrap_or(q)
                - 1;
            sums[bucket] += forward[group[k]];
            counts[bucket] += 1;
        }
        if counts.contains(&0) {
            continue;
        }
        let means: Vec<f64> = sums
            .iter()
            .zip(&counts)
            .map(|(s, c)| s / *c as f64)
            .collect();
        out.spread.push(means[q - 1] - means[0]);
        out.times.push(t);
        out.by_time.push(means);
    }
    let m = out.by_time.len();
    if m == 0 {
        return Err(ValidateError::InvalidInput(format!(
            "no timestamp has {q} or more assets with a signal and a forward return"
        )));
    }
    for (j, slot) in out.mean.iter_mut().enumerate() {
        *slot = out.by_time.iter().map(|b| b[j]).sum::<f64>() / m as f64;
    }
    out.mean_spread = out.spread.iter().sum::<f64>() / m as f64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel of `scripts/reference/cross_section.py`: 4 dates, up to 5 assets; date 2 has a
    /// tie in the prediction and a missing asset, date 3 a constant prediction (no IC), date 4
    /// a NaN target.
    fn panel() -> (Vec<i64>, Vec<f64>, Vec<f64>) {
        let rows: [(i64, f64, f64); 18] = [
            (1, 0.10, 0.020),
            (1, 0.30, 0.010),
            (1, -0.20, -0.030),
            (1, 0.05, 0.000),
            (1, 0.40, 0.050),
            (2, 0.20, -0.010),
            (2, 0.20, 0.020),
            (2, -0.10, 0.015),
            (2, 0.00, -0.020),
            (3, 0.10, 0.010),
            (3, 0.10, -0.010),
            (3, 0.10, 0.030),
            (4, -0.30, -0.040),
            (4, 0.25, 0.010),
            (4, 0.15, f64::NAN),
            (4, -0.05, 0.005),
            (4, 0.35, 0.030),
            (4, 0.00, -0.010),
        ];
        (
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn ic_and_rank_ic_match_pandas_and_scipy() {
        // scripts/reference/cross_section.py (scipy 1.17.1 pearsonr / spearmanr per date).
        // Date 3 (constant prediction) has no IC: pandas' corr returns 9e-17 of rounding noise.
        let (t, p, y) = panel();
        let ic = information_coefficients(&t, &p, &y, IcKind::Pearson).unwrap();
        let want = [
            (1, 0.8999085520488892, 5),
            (2, 0.014384395066736812, 4),
            (4, 0.9311778132380599, 5),
        ];
        assert_eq!(ic.len(), 3);
        for (got, (time, v, n)) in ic.iter().zip(want) {
            assert_eq!((got.time, got.assets), (time, n));
            assert!(close(got.ic, v), "{time}: {} vs {v}", got.ic);
        }
        let rank = information_coefficients(&t, &p, &y, IcKind::Spearman).unwrap();
        let want = [0.8999999999999998, 0.21081851067789195, 0.8999999999999998];
        for (got, v) in rank.iter().zip(want) {
            assert!(close(got.ic, v), "{}: {} vs {v}", got.time, got.ic);
        }
        let s = IcSummary::of(&ic, 252.0).unwrap();
        assert_eq!(s.n, 3);
        assert!(close(s.mean, 0.6151569201178954), "{}", s.mean);
        assert!(close(s.std, 0.5205191272336568), "{}", s.std);
        assert!(close(s.icir, 1.181814246456608), "{}", s.icir);
        assert!(close(s.t_stat, 2.0469623199715716), "{}", s.t_stat);
        assert!(
            close(s.icir_annualised, 18.76071955198429),
            "{}",
            s.icir_annualised
        );
        assert_eq!(s.hit_rate, 1.0);
    }

    #[test]
    fn ic_metrics_are_the_mean_of_the_per_timestamp_values() {
        use crate::metrics::{Metric, Predictions, Task};
        let (t, p, y) = panel();
        let preds = Predictions {
            y_true: &y,
            y_pred: Some(&p),
            proba: None,
            times: Some(&t),
        };
        let ic = Metric::Ic.compute(Task::Regression, &preds).unwrap();
        assert!(close(ic, 0.6151569201178954), "{ic}");
        let rank = Metric::RankIc.compute(Task::Regression, &preds).unwrap();
        let want = (0.8999999999999998 + 0.21081851067789195 + 0.8999999999999998) / 3.0;
        assert!(close(rank, want), "{rank}");
        // A single series has no cross-section: a clear error, not a number.
        let e = Metric::RankIc
            .compute(
                Task::Regression,
                &Predictions {
                    times: None,
                    ..preds
                },
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.asset_column"), "{e}");
        // Per-timestamp AUC: date 1 ranks perfectly (1.0), date 2 inverts (0.0), date 3 has
        // one class and is left out.
        let times = [1, 1, 1, 1, 2, 2, 2, 3, 3];
        let label = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0];
        let score = [0.1, 0.2, 0.8, 0.9, 0.1, 0.7, 0.8, 0.5, 0.6];
        let auc = Metric::CsAuc
            .compute(
                Task::Binary,
                &Predictions {
                    y_true: &label,
                    y_pred: None,
                    proba: Some(&score),
                    times: Some(&times),
                },
            )
            .unwrap();
        assert_eq!(auc, 0.5);
    }

    #[test]
    fn quantile_returns_match_pandas_qcut() {
        // scripts/reference/cross_section.py: q = 3; date 2 has a tie (A and B at 0.2, split
        // by row order); date 3 has 2 assets and is skipped.
        let rows: [(i64, f64, f64); 15] = [
            (1, 0.5, 0.01),
            (1, -0.2, -0.02),
            (1, 0.1, 0.00),
            (1, 0.9, 0.03),
            (1, -0.7, -0.01),
            (1, 0.3, 0.02),
            (2, 0.2, 0.015),
            (2, 0.2, -0.005),
            (2, -0.4, -0.01),
            (2, 0.6, 0.02),
            (2, 0.0, 0.005),
            (2, -0.1, 0.0),
            (2, 0.8, 0.04),
            (3, 0.1, 0.01),
            (3, 0.3, 0.02),
        ];
        let t: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let s: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let f: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let qr = quantile_returns(&t, &s, &f, 3).unwrap();
        assert_eq!(qr.times, [1, 2]);
        let want = [
            [-0.015, 0.01, 0.02],
            [-0.0016666666666666668, 0.004999999999999999, 0.03],
        ];
        for (got, w) in qr.by_time.iter().zip(want) {
            for (a, b) in got.iter().zip(w) {
                assert!(close(*a, b), "{got:?} vs {w:?}");
            }
        }
        for (a, b) in qr.mean.iter().zip([-0.008333333333333333, 0.0075, 0.025]) {
            assert!(close(*a, b), "{:?}", qr.mean);
        }
        assert!(close(qr.mean_spread, 0.03333333333333333));
        assert!(quantile_returns(&t, &s, &f, 1).is_err());
        assert!(quantile_returns(&t, &s, &f, 8).is_err());
    }

    #[test]
    fn ranks_share_ties_and_bad_input_is_refused() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
        assert!(information_coefficients(&[1], &[0.0, 1.0], &[0.0], IcKind::Pearson).is_err());
        assert!(IcSummary::of(&[], 252.0).is_err());
        // Row order does not matter.
        let (mut t, mut p, mut y) = panel();
        t.reverse();
        p.reverse();
        y.reverse();
        let a = information_coefficients(&t, &p, &y, IcKind::Pearson).unwrap();
        let (t, p, y) = panel();
        let b = information_coefficients(&t, &p, &y, IcKind::Pearson).unwrap();
        for (x, z) in a.iter().zip(&b) {
            assert!(close(x.ic, z.ic));
        }
    }
}
