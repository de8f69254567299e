//! Min/max downsampling: a long series cut to a few thousand points without losing its
//! extremes.
//!
//! Stride sampling (every k-th point) drops spikes and the very trough a drawdown is measured
//! at, which is what a reader of an equity chart looks for. Keeping each bucket's smallest and
//! largest value (in time order) draws the same envelope a full-resolution line would at the
//! chart's width, with a bounded number of points.

/// Most points a downsampled series keeps.
pub const MAX_POINTS: usize = 5_000;

/// Most buckets a series is cut into (each keeps up to two points).
pub const MAX_BUCKETS: usize = MAX_POINTS / 2;

/// Indices of `values` to draw, increasing: every index when there are at most `max_points`
/// values; otherwise the first and last, each index in `keep` (in range), and the smallest and
/// largest finite value of each of up to [`MAX_BUCKETS`] equal buckets of indices. The result
/// holds at most `max(max_points, 4 + keep.len())` indices. Non-finite values are never chosen
/// as a bucket's extreme.
pub fn minmax_indices(values: &[f64], max_points: usize, keep: &[usize]) -> Vec<usize> {
    let n = values.len();
    if n <= max_points {
        return (0..n).collect();
    }
    let keep: Vec<usize> = keep.iter().copied().filter(|&i| i < n).collect();
    // Room for the first, the last and the kept points, then two per bucket.
    let buckets = (max_points.saturating_sub(2 + keep.len()) / 2).clamp(1, MAX_BUCKETS);
    let mut out = Vec::with_capacity(2 * buckets + 2 + keep.len());
    out.push(0);
    out.push(n - 1);
    out.extend(keep);
    for b in 0..buckets {
        // Bounds in u128: n × buckets cannot overflow.
        let start = (b as u128 * n as u128 / buckets as u128) as usize;
        let end = ((b as u128 + 1) * n as u128 / buckets as u128) as usize;
        let mut lo: Option<(usize, f64)> = None;
        let mut hi: Option<(usize, f64)> = None;
        for (i, &v) in values.iter().enumerate().take(end).skip(start) {
            if !v.is_finite() {
                continue;
            }
            if lo.is_none_or(|(_, m)| v < m) {
                lo = Some((i, v));
            }
            if hi.is_none_or(|(_, m)| v > m) {
                hi = Some((i, v));
            }
        }
        out.extend(lo.map(|p| p.0));
        out.extend(hi.map(|p| p.0));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Drawdown of an equity curve at each period (`equity / running peak − 1`, the peak starting at
/// the initial capital 1, as `stats::trading_metrics` counts it), with the periods of the
/// deepest drawdown's peak and trough. Non-finite equity gives a NaN drawdown and leaves the
/// peak alone.
pub fn drawdowns(equity: &[f64]) -> (Vec<f64>, Option<(usize, usize)>) {
    let mut peak = 1.0f64;
    let mut peak_at: Option<usize> = None;
    let mut worst: Option<(f64, Option<usize>, usize)> = None;
    let dd = equity
        .iter()
        .enumerate()
        .map(|(i, &e)| {
            if !e.is_finite() {
                return f64::NAN;
            }
            if e > peak {
                peak = e;
                peak_at = Some(i);
            }
            let d = if peak > 0.0 { e / peak - 1.0 } else { 0.0 };
            if d < worst.map_or(0.0, |w| w.0) {
                worst = Some((d, peak_at, i));
            }
            d
        })
        .collect();
    // A drawdown from the initial capital has its peak before the first period: the first one.
    (dd, worst.map(|(_, p, t)| (p.unwrap_or(0), t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 185k-point random walk: ≤ 5,000 points survive, among them the global maximum and
    /// minimum and the peak and trough of the deepest drawdown.
    #[test]
    fn extremes_survive_downsampling() {
        let n = 185_000;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut e = 1.0f64;
        let equity: Vec<f64> = (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                // A crash in the middle whose trough is a single period.
                let shock = if i == 120_001 { -0.3 } else { 0.0 };
                e *= 1.0 + 0.01 * u + shock;
                e
            })
            .collect();
        let (dd, worst) = drawdowns(&equity);
        let (peak, trough) = worst.unwrap();
        let kept = minmax_indices(&equity, MAX_POINTS, &[peak, trough]);
        assert!(kept.len() <= MAX_POINTS, "{}", kept.len());
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        let argmax = (0..n).max_by(|&a, &b| equity[a].total_cmp(&equity[b]));
        let argmin = (0..n).min_by(|&a, &b| equity[a].total_cmp(&equity[b]));
        for i in [0, n - 1, peak, trough, argmax.unwrap(), argmin.unwrap()] {
            assert!(kept.binary_search(&i).is_ok(), "index {i} dropped");
        }
        // The drawdown series on its own keeps its trough (its minimum) without being told.
        let kept_dd = minmax_indices(&dd, MAX_POINTS, &[]);
        assert!(kept_dd.len() <= MAX_POINTS);
        assert!(kept_dd.binary_search(&trough).is_ok());
    }

    #[test]
    fn short_empty_and_odd_series() {
        assert!(minmax_indices(&[], 10, &[]).is_empty());
        assert_eq!(minmax_indices(&[1.0], 10, &[]), vec![0]);
        assert_eq!(minmax_indices(&[2.0; 5], 10, &[]), vec![0, 1, 2, 3, 4]);
        // All equal: each bucket keeps one point (min and max coincide), plus first and last.
        let flat = vec![1.0; 1000];
        let k = minmax_indices(&flat, 100, &[]);
        assert!(k.len() <= 100 && k.first() == Some(&0) && k.last() == Some(&999));
        // NaNs are never a bucket's extreme; an out-of-range keep is ignored.
        let mut v: Vec<f64> = (0..1000).map(f64::from).collect();
        v[500] = f64::NAN;
        let k = minmax_indices(&v, 50, &[5000]);
        assert!(!k.contains(&500) && k.len() <= 50);
        let all_nan = vec![f64::NAN; 100];
        assert_eq!(minmax_indices(&all_nan, 10, &[]), vec![0, 99]);
    }

    #[test]
    fn drawdowns_follow_the_running_peak() {
        let (dd, worst) = drawdowns(&[1.1, 0.99, 1.2, f64::NAN, 0.6, 1.0]);
        assert!((dd[1] - (0.99 / 1.1 - 1.0)).abs() < 1e-12);
        assert!(dd[3].is_nan());
        assert!((dd[4] + 0.5).abs() < 1e-12);
        assert_eq!(worst, Some((2, 4)));
        // A fall from the initial capital: the peak is the first period.
        assert_eq!(drawdowns(&[0.9, 0.8]).1, Some((0, 1)));
        assert_eq!(drawdowns(&[]).1, None);
        assert_eq!(drawdowns(&[1.0, 1.5]).1, None);
    }
}
