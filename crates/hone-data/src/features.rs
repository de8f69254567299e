//! Causal features derived from OHLCV columns.
//!
//! Every feature at row `t` is a function of rows `0..=t` only (a trailing window that ends at
//! `t`), so no feature ever looks ahead. Rows whose window is not yet full are NaN; the dataset
//! builder drops those warm-up rows at the start and reports how many.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::expr::Expr;

/// Which features to derive from a price (and optionally volume/high/low) series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveSpec {
    /// Price column the features are computed from.
    #[serde(default = "default_price")]
    pub price: String,
    /// Volume column, for `volume_z`.
    #[serde(default)]
    pub volume: Option<String>,
    /// High and low columns, for the `range` feature ((high − low) / close).
    #[serde(default)]
    pub high_low: Option<(String, String)>,
    /// Simple returns over these lags: `ret_k = p[t] / p[t−k] − 1`.
    #[serde(default)]
    pub returns: Vec<usize>,
    /// Rolling windows `w`: `vol_w` (sample std of 1-bar returns), `ma_gap_w`
    /// (`p / mean_w(p) − 1`) and `zscore_w` (`(p − mean_w(p)) / std_w(p)`).
    #[serde(default)]
    pub rolling: Vec<usize>,
    /// RSI periods (Wilder's smoothing): `rsi_n`, in 0..100.
    #[serde(default)]
    pub rsi: Vec<usize>,
    /// Volume z-score windows: `volume_z_w` of log volume over `w` rows.
    #[serde(default)]
    pub volume_z: Vec<usize>,
    /// Add the `range` feature (needs `high_low`).
    #[serde(default)]
    pub range: bool,
    /// Custom causal features, `name = "expression"` (see [`crate::expr`]): over the file's
    /// columns and the other custom features (in any order; a cycle is an error).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
}

/// A custom feature parsed: its name, expression and warm-up, in evaluation order.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFeature {
    /// The key in `[data.derive.custom]`.
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
    /// Leading rows it cannot compute (its lags and windows, through the features it reads).
    pub warm_up: usize,
}

fn default_price() -> String {
    "close".to_string()
}

impl DeriveSpec {
    /// Names of the features this spec produces, in output order.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        names.extend(self.returns.iter().map(|k| format!("ret_{k}")));
        for w in &self.rolling {
            names.push(format!("vol_{w}"));
            names.push(format!("ma_gap_{w}"));
            names.push(format!("zscore_{w}"));
        }
        names.extend(self.rsi.iter().map(|n| format!("rsi_{n}")));
        names.extend(self.volume_z.iter().map(|w| format!("volume_z_{w}")));
        if self.range {
            names.push("range".into());
        }
        names.extend(self.custom.keys().cloned());
        names
    }

    /// Whether any built-in feature (returns, rolling, rsi, volume_z, range) is asked for: only
    /// those need the `price` column.
    pub fn has_builtin(&self) -> bool {
        !(self.returns.is_empty()
            && self.rolling.is_empty()
            && self.rsi.is_empty()
            && self.volume_z.is_empty()
            && !self.range)
    }

    /// The custom features parsed, in evaluation order: each after the custom features it
    /// reads. Errors name the key (`data.derive.custom.mom_20`), the position and what was
    /// expected, or the cycle.
    pub fn custom_features(&self) -> Result<Vec<CustomFeature>, String> {
        let mut parsed: Vec<(&String, Expr)> = Vec::with_capacity(self.custom.len());
        for (name, text) in &self.custom {
            if name.is_empty() {
                return Err("data.derive.custom: a feature needs a name".into());
            }
            let expr = Expr::parse(text)
                .map_err(|e| format!("data.derive.custom.{name} = {text:?}: {e}"))?;
            parsed.push((name, expr));
        }
        // Order by dependency: repeatedly take the features whose custom inputs are done.
        let mut done: Vec<CustomFeature> = Vec::with_capacity(parsed.len());
        while !parsed.is_empty() {
            let ready = parsed.iter().position(|(_, e)| {
                e.names()
                    .iter()
                    .all(|n| !self.custom.contains_key(*n) || done.iter().any(|f| f.name == *n))
            });
            let Some(i) = ready else {
                let names: Vec<String> = parsed
                    .iter()
                    .map(|(n, _)| format!("data.derive.custom.{n}"))
                    .collect();
                return Err(format!(
                    "{}: these custom features read each other in a cycle (a feature cannot \
                     depend on itself; use lag(x, k) of a column instead)",
                    names.join(", ")
                ));
            };
            let (name, expr) = parsed.remove(i);
            let warm_up = expr.warm_up(&|n| {
                done.iter()
                    .find(|f| f.name == n)
                    .map(|f| f.warm_up)
                    .or_else(|| self.builtin_warm_up(n))
                    .unwrap_or(0)
            });
            done.push(CustomFeature {
                name: name.clone(),
                expr,
                warm_up,
            });
        }
        Ok(done)
    }

    /// Names of the built-in features this spec produces (returns, rolling, rsi, volume_z,
    /// range), which custom expressions may also read.
    pub fn builtin_names(&self) -> Vec<String> {
        let mut names = self.feature_names();
        names.truncate(names.len() - self.custom.len());
        names
    }

    /// Leading rows a built-in feature of this spec cannot compute (`None`: not one of them):
    /// `ret_k` k, `vol_w` w (w one-bar returns), `ma_gap_w`/`zscore_w`/`volume_z_w` w − 1,
    /// `rsi_n` n, `range` 0.
    pub fn builtin_warm_up(&self, name: &str) -> Option<usize> {
        if !self.builtin_names().iter().any(|b| b == name) {
            return None;
        }
        let window = |prefix: &str| name.strip_prefix(prefix)?.parse::<usize>().ok();
        Some(if name == "range" {
            0
        } else if let Some(k) = window("ret_").or_else(|| window("vol_")) {
            k
        } else if let Some(n) = window("rsi_") {
            n
        } else {
            window("ma_gap_")
                .or_else(|| window("zscore_"))
                .or_else(|| window("volume_z_"))
                .map_or(0, |w| w.saturating_sub(1))
        })
    }

    /// Rows at the start whose features cannot all be computed yet.
    pub fn warm_up(&self) -> usize {
        let returns = self.returns.iter().copied().max().unwrap_or(0);
        // vol_w needs w one-bar returns, hence w + 1 prices: rows 0..w are warm-up.
        let rolling = self.rolling.iter().copied().max().unwrap_or(0);
        let rsi = self.rsi.iter().copied().max().unwrap_or(0);
        let volume = self.volume_z.iter().map(|w| w - 1).max().unwrap_or(0);
        // An unparsable custom feature is reported by `validate`, which runs first.
        let custom = self
            .custom_features()
            .map(|c| c.iter().map(|f| f.warm_up).max().unwrap_or(0))
            .unwrap_or(0);
        returns.max(rolling).max(rsi).max(volume).max(custom)
    }

    /// Checks the spec (positive windows, needed columns named) before any data is read.
    pub fn validate(&self) -> Result<(), String> {
        let lists = [
            ("returns", &self.returns, 1),
            ("rolling", &self.rolling, 2),
            ("rsi", &self.rsi, 1),
            ("volume_z", &self.volume_z, 2),
        ];
        for (name, values, min) in lists {
            if let Some(v) = values.iter().find(|&&v| v < min) {
                return Err(format!(
                    "data.derive.{name}: window {v} is too small (minimum {min})"
                ));
            }
        }
        if !self.volume_z.is_empty() && self.volume.is_none() {
            return Err("data.derive.volume_z needs data.derive.volume (the volume column)".into());
        }
        if self.range && self.high_low.is_none() {
            return Err(
                "data.derive.range needs data.derive.high_low = [\"high\", \"low\"]".into(),
            );
        }
        if self.feature_names().is_empty() {
            return Err(
                "data.derive lists no features (returns, rolling, rsi, volume_z, range, custom)"
                    .into(),
            );
        }
        self.custom_features().map(|_| ())
    }

    /// Computes the built-in features, one column per name of
    /// [`feature_names`](Self::feature_names) before the custom ones
    /// ([`compute_custom`](Self::compute_custom)). `volume`, `high` and `low` are required when
    /// the spec uses them.
    pub fn compute(
        &self,
        price: &[f64],
        volume: Option<&[f64]>,
        high_low: Option<(&[f64], &[f64])>,
    ) -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        for &k in &self.returns {
            out.push(lagged_return(price, k));
        }
        let one_bar = lagged_return(price, 1);
        for &w in &self.rolling {
            out.push(rolling_std(&one_bar, w));
            let mean = rolling_mean(price, w);
            out.push(price.iter().zip(&mean).map(|(p, m)| p / m - 1.0).collect());
            let std = rolling_std(price, w);
            out.push(
                price
                    .iter()
                    .zip(mean.iter().zip(&std))
                    .map(|(p, (m, s))| (p - m) / s)
                    .collect(),
            );
        }
        for &n in &self.rsi {
            out.push(rsi(price, n));
        }
        if let Some(volume) = volume {
            // A blank volume stays missing: `NaN.max(0.0)` is 0, which made a gap read as a
            // day without trading (a large negative z-score) instead of a missing value.
            let log_volume: Vec<f64> = volume
                .iter()
                .map(|v| {
                    if v.is_nan() {
                        f64::NAN
                    } else {
                        v.max(0.0).ln_1p()
                    }
                })
                .collect();
            for &w in &self.volume_z {
                let mean = rolling_mean(&log_volume, w);
                let std = rolling_std(&log_volume, w);
                out.push(
                    log_volume
                        .iter()
                        .zip(mean.iter().zip(&std))
                        .map(|(v, (m, s))| (v - m) / s)
                        .collect(),
                );
            }
        }
        if self.range
            && let Some((high, low)) = high_low
        {
            out.push(
                high.iter()
                    .zip(low)
                    .zip(price)
                    .map(|((h, l), p)| (h - l) / p)
                    .collect(),
            );
        }
        out
    }
}

impl DeriveSpec {
    /// Computes the custom features of `n` rows, in the order of their names in
    /// [`feature_names`](Self::feature_names); `column` gives a file column's values (the
    /// caller checks first that every name an expression reads exists).
    pub fn compute_custom(
        &self,
        n: usize,
        column: &dyn Fn(&str) -> Option<Vec<f64>>,
    ) -> Result<Vec<Vec<f64>>, String> {
        let features = self.custom_features()?;
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for f in &features {
            let v = f.expr.eval(n, &|name| {
                values.get(name).cloned().or_else(|| column(name))
            });
            values.insert(f.name.clone(), v);
        }
        Ok(self
            .custom
            .keys()
            .map(|k| values.remove(k).unwrap_or_default())
            .collect())
    }
}

/// `x[t] / x[t−k] − 1`; NaN for `t < k`.
pub fn lagged_return(x: &[f64], k: usize) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            if t >= k {
                x[t] / x[t - k] - 1.0
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Mean of `x[t−w+1..=t]`; NaN until the window is full or when it holds a NaN.
pub fn rolling_mean(x: &[f64], w: usize) -> Vec<f64> {
    // Direct sums per window: exact (no running-sum drift) and cheap at these sizes.
    (0..x.len())
        .map(|t| {
            if t + 1 < w {
                f64::NAN
            } else {
                x[t + 1 - w..=t].iter().sum::<f64>() / w as f64
            }
        })
        .collect()
}

/// Sample standard deviation (ddof = 1, as pandas' `rolling().std()`) of `x[t−w+1..=t]`.
pub fn rolling_std(x: &[f64], w: usize) -> Vec<f64> {
    (0..x.len())
        .map(|t| {
            if t + 1 < w || w < 2 {
                f64::NAN
            } else {
                let win = &x[t + 1 - w..=t];
                let mean = win.iter().sum::<f64>() / w as f64;
                (win.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (w - 1) as f64).sqrt()
            }
        })
        .collect()
}

/// Wilder's RSI over `n` periods: seeded with the simple mean of the first `n` gains/losses,
/// then smoothed with `avg = (avg·(n−1) + current) / n`. NaN for `t < n`.
pub fn rsi(price: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; price.len()];
    if price.len() <= n {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for t in 1..=n {
        let d = price[t] - price[t - 1];
        gain += d.max(0.0);
        loss += (-d).max(0.0);
    }
    gain /= n as f64;
    loss /= n as f64;
    let value = |g: f64, l: f64| {
        if g + l == 0.0 {
            50.0
        } else {
            100.0 * g / (g + l)
        }
    };
    out[n] = value(gain, loss);
    for t in n + 1..price.len() {
        let d = price[t] - price[t - 1];
        gain = (gain * (n - 1) as f64 + d.max(0.0)) / n as f64;
        loss = (loss * (n - 1) as f64 + (-d).max(0.0)) / n as f64;
        out[t] = value(gain, loss);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DeriveSpec {
        DeriveSpec {
            price: "close".into(),
            volume: Some("volume".into()),
            high_low: Some(("high".into(), "low".into())),
            returns: vec![1, 5],
            rolling: vec![3, 10],
            rsi: vec![4],
            volume_z: vec![5],
            range: true,
            custom: BTreeMap::new(),
        }
    }

    fn series(n: usize, seed: u64) -> Vec<f64> {
        let mut x = 100.0;
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x *= 1.0 + ((s >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.04;
                x
            })
            .collect()
    }

    #[test]
    fn a_blank_volume_stays_missing() {
        let spec = DeriveSpec {
            volume_z: vec![3],
            ..spec()
        };
        let n = 40;
        let price = series(n, 1);
        let mut volume: Vec<f64> = (0..n).map(|i| 1000.0 + (i % 7) as f64 * 30.0).collect();
        volume[25] = f64::NAN;
        let high: Vec<f64> = price.iter().map(|p| p * 1.01).collect();
        let low: Vec<f64> = price.iter().map(|p| p * 0.99).collect();
        let out = spec.compute(&price, Some(&volume), Some((&high, &low)));
        let at = spec
            .feature_names()
            .iter()
            .position(|f| f == "volume_z_3")
            .unwrap();
        let z = &out[at];
        // The windows holding row 25 (rows 25, 26, 27) are missing, their neighbours are not.
        assert!(z[25].is_nan() && z[26].is_nan() && z[27].is_nan(), "{z:?}");
        assert!(z[24].is_finite() && z[28].is_finite(), "{z:?}");
    }

    #[test]
    fn features_are_causal() {
        // Changing every value after row t must change no feature at rows <= t.
        let n = 60;
        let (p, v, h, l) = (series(n, 1), series(n, 2), series(n, 3), series(n, 4));
        let s = spec();
        let base = s.compute(&p, Some(&v), Some((&h, &l)));
        for t in [0, 7, 20, 45] {
            let bump = |x: &[f64]| -> Vec<f64> {
                x.iter()
                    .enumerate()
                    .map(|(i, &v)| if i > t { v * 3.0 + 1.0 } else { v })
                    .collect()
            };
            let (p2, v2, h2, l2) = (bump(&p), bump(&v), bump(&h), bump(&l));
            let changed = s.compute(&p2, Some(&v2), Some((&h2, &l2)));
            for (f, (a, b)) in base.iter().zip(&changed).enumerate() {
                for i in 0..=t {
                    assert!(
                        a[i] == b[i] || (a[i].is_nan() && b[i].is_nan()),
                        "feature {} row {i} changed when rows > {t} changed",
                        s.feature_names()[f]
                    );
                }
                // And the bump is visible later, so the test can fail.
                assert!((t + 1..n).any(|i| a[i] != b[i]));
            }
        }
    }

    #[test]
    fn warm_up_covers_every_nan() {
        let n = 40;
        let (p, v, h, l) = (series(n, 5), series(n, 6), series(n, 7), series(n, 8));
        let s = spec();
        let cols = s.compute(&p, Some(&v), Some((&h, &l)));
        assert_eq!(cols.len(), s.feature_names().len());
        let w = s.warm_up();
        assert_eq!(w, 10);
        for c in &cols {
            assert!(c[w..].iter().all(|x| x.is_finite()));
        }
        assert!(cols.iter().any(|c| c[w - 1].is_nan()));
    }

    // pandas 3.1.1: s = pd.Series([1, 2, 4, 3, 5, 8]); s.rolling(3).mean() and .std()
    // give [nan, nan, 2.3333333333333335, 3.0, 4.0, 5.333333333333333] and
    // [nan, nan, 1.5275252316519468, 1.0, 1.0, 2.516611478423583] up to 3e-16
    // (scripts/reference/preprocessing.py): the std values are √(7/3), 1, 1, √(19/3), which
    // pandas' running sums give as 1.5275252316519465, 0.9999999999999998, ...
    #[test]
    fn rolling_statistics_match_pandas() {
        let s = [1.0, 2.0, 4.0, 3.0, 5.0, 8.0];
        let m = rolling_mean(&s, 3);
        let sd = rolling_std(&s, 3);
        let want_m = [2.3333333333333335, 3.0, 4.0, 5.333333333333333];
        let want_s = [1.5275252316519468, 1.0, 1.0, 2.516611478423583];
        for i in 0..4 {
            assert!((m[i + 2] - want_m[i]).abs() < 1e-12);
            assert!((sd[i + 2] - want_s[i]).abs() < 1e-12);
        }
        assert!(m[1].is_nan() && sd[1].is_nan());
        assert_eq!(lagged_return(&s, 2)[2], 3.0);
    }

    #[test]
    fn rsi_is_wilder() {
        // Gains 1, 2, 0, 2 and losses 0, 0, 1, 0 over n = 2:
        // seed avg gain (1+2)/2 = 1.5, loss 0 -> 100; then gain (1.5+0)/2 = .75, loss .5 -> 60;
        // then gain (.75+2)/2 = 1.375, loss .25 -> 84.615...
        let p = [1.0, 2.0, 4.0, 3.0, 5.0];
        let r = rsi(&p, 2);
        assert!(r[0].is_nan() && r[1].is_nan());
        assert_eq!(r[2], 100.0);
        assert!((r[3] - 60.0).abs() < 1e-12);
        assert!((r[4] - 100.0 * 1.375 / 1.625).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_problem() {
        let mut s = spec();
        s.volume = None;
        assert!(s.validate().unwrap_err().contains("volume"));
        let mut s = spec();
        s.rolling = vec![1];
        assert!(s.validate().unwrap_err().contains("rolling"));
    }
}
