//! Cross-sectional transforms of panel columns: at each timestamp, across the assets present
//! then (optionally within each group, such as a sector, for neutralisation).
//!
//! - [`CrossSection::Rank`]: `(r − 1) / (n − 1)` with `r` the average rank (ties share it), so
//!   the lowest value is 0 and the highest 1; a timestamp (or group) with one asset gives 0.5.
//! - [`CrossSection::ZScore`]: `(x − mean) / std`, std with ddof 1 (pandas' default); NaN when
//!   the std is 0 or undefined.
//! - [`CrossSection::Demean`]: `x − mean`.
//!
//! A value at timestamp `t` reads only values at `t`: these transforms are causal, and applied
//! to a forward-return target they give an excess-return target. Non-finite inputs stay NaN and
//! take no part in their timestamp's statistics. `scripts/reference/cross_section.py` computes
//! the same with pandas.

/// Which cross-sectional transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSection {
    /// Rank scaled to [0, 1].
    Rank,
    /// Standard score.
    ZScore,
    /// Difference from the mean.
    Demean,
}

/// `values` transformed across each timestamp (and group, when `groups` is given), one
/// output per row, rows in any order. `times`, `groups` and `values` have one entry per row.
pub fn transform(
    times: &[i64],
    groups: Option<&[u32]>,
    values: &[f64],
    kind: CrossSection,
) -> Vec<f64> {
    let group_of = |i: usize| groups.map_or(0, |g| g[i]);
    let mut rows: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_finite())
        .collect();
    // A panel's rows already come in time order: only a grouping needs the sort then.
    let in_order = groups.is_none() && times.windows(2).all(|w| w[0] <= w[1]);
    if !in_order {
        rows.sort_by_key(|&i| (times[i], group_of(i), i));
    }
    let mut out = vec![f64::NAN; values.len()];
    let mut start = 0;
    while start < rows.len() {
        let key = (times[rows[start]], group_of(rows[start]));
        let end = start
            + rows[start..]
                .iter()
                .take_while(|&&i| (times[i], group_of(i)) == key)
                .count();
        let cell = &rows[start..end];
        start = end;
        let x: Vec<f64> = cell.iter().map(|&i| values[i]).collect();
        let n = x.len();
        let mean = x.iter().sum::<f64>() / n as f64;
        match kind {
            CrossSection::Demean => {
                for (&i, v) in cell.iter().zip(&x) {
                    out[i] = v - mean;
                }
            }
            CrossSection::ZScore => {
                let std = if n > 1 {
                    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
                } else {
                    f64::NAN
                };
                for (&i, v) in cell.iter().zip(&x) {
                    out[i] = if std > 0.0 {
                        (v - mean) / std
                    } else {
                        f64::NAN
                    };
                }
            }
            CrossSection::Rank => {
                let ranks = average_ranks(&x);
                for (&i, r) in cell.iter().zip(ranks) {
                    out[i] = if n > 1 {
                        (r - 1.0) / (n - 1) as f64
                    } else {
                        0.5
                    };
                }
            }
        }
    }
    out
}

/// Ranks from 1, ties sharing their average rank.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            ranks[k] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel of `scripts/reference/cross_section.py`'s transform section: 2 dates, sectors
    /// 0 and 1, a tie, a NaN, and a group of one.
    fn panel() -> (Vec<i64>, Vec<u32>, Vec<f64>) {
        let rows: [(i64, u32, f64); 9] = [
            (1, 0, 3.0),
            (1, 0, 1.0),
            (1, 1, 4.0),
            (1, 1, 4.0),
            (1, 1, 2.0),
            (2, 0, 5.0),
            (2, 1, f64::NAN),
            (2, 1, -1.0),
            (2, 0, 2.0),
        ];
        (
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
        )
    }

    fn same(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    // The values are pandas' printouts, kept digit for digit (1/√2 among them).
    #[allow(clippy::approx_constant)]
    fn transforms_match_pandas() {
        // scripts/reference/cross_section.py (pandas 3.1.1).
        let (t, g, v) = panel();
        let nan = f64::NAN;
        same(
            &transform(&t, None, &v, CrossSection::Rank),
            &[0.5, 0.0, 0.875, 0.875, 0.25, 1.0, nan, 0.0, 0.5],
        );
        same(
            &transform(&t, None, &v, CrossSection::Demean),
            &[
                0.20000000000000018,
                -1.7999999999999998,
                1.2000000000000002,
                1.2000000000000002,
                -0.7999999999999998,
                3.0,
                nan,
                -3.0,
                0.0,
            ],
        );
        same(
            &transform(&t, None, &v, CrossSection::ZScore),
            &[
                0.15339299776947424,
                -1.3805369799252667,
                0.9203579866168446,
                0.9203579866168446,
                -0.6135719910778962,
                1.0,
                nan,
                -1.0,
                0.0,
            ],
        );
        // Within sectors: date 2's sector 1 has one asset (rank 0.5, z-score NaN).
        same(
            &transform(&t, Some(&g), &v, CrossSection::Rank),
            &[1.0, 0.0, 0.75, 0.75, 0.0, 1.0, nan, 0.5, 0.0],
        );
        same(
            &transform(&t, Some(&g), &v, CrossSection::ZScore),
            &[
                0.7071067811865475,
                -0.7071067811865475,
                0.5773502691896255,
                0.5773502691896255,
                -1.1547005383792515,
                0.7071067811865476,
                nan,
                nan,
                -0.7071067811865476,
            ],
        );
    }

    #[test]
    fn a_value_reads_only_its_own_timestamp() {
        // Changing every value at date 2 changes nothing at date 1.
        let (t, g, mut v) = panel();
        let before = transform(&t, Some(&g), &v, CrossSection::ZScore);
        for (ti, vi) in t.iter().zip(v.iter_mut()) {
            if *ti == 2 {
                *vi *= 100.0;
            }
        }
        let after = transform(&t, Some(&g), &v, CrossSection::ZScore);
        same(&before[..5], &after[..5]);
    }
}
