//! `[portfolio]`: long-short (or long-only) portfolios of a panel's cross-sectional signal,
//! and the panel's cross-sectional report (IC, rank IC, ICIR, decay, quantile returns).
//!
//! At each rebalance timestamp `t` (every `rebalance` timestamps) the assets with a prediction
//! are sorted by it; the top leg (`top_k` assets, or the top `quantile` share) is bought and
//! the bottom leg sold short (unless `long_only`). Each leg sums to 1 (−1 for the short leg):
//! equal weights, or weights proportional to the signal's distance from the cross-sectional
//! median (`weights = "signal"`). Weights are held, without drift, until the next rebalance.
//! The positions decided at `t` earn each asset's return from `t` to its next bar, so no
//! decision reads the return it trades; a held asset without a bar at a timestamp earns 0
//! there. Every change of weight pays `cost_bps` per unit of turnover:
//! `r_t = Σ_a w_{t,a} · ret_{t,a} − cost · Σ_a |w_{t,a} − w_{t−1,a}|`. The benchmark is the
//! equal-weighted universe (buy & hold of every asset present).

use std::fmt::Write as _;

use hone_data::Panel;
use hone_validate::cross_section::{IcKind, IcSummary, information_coefficients, quantile_returns};
use hone_validate::stats;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::trading::{TradingSummary, summarize};

/// How the assets of a leg are weighted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Equal weights.
    #[default]
    Equal,
    /// Proportional to the signal's distance from the cross-sectional median.
    Signal,
}

/// The `[portfolio]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioConfig {
    /// Share of the assets in each leg (default 0.2: top and bottom quintiles).
    #[serde(default)]
    pub quantile: Option<f64>,
    /// Number of assets in each leg (instead of `quantile`).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Only the long leg.
    #[serde(default)]
    pub long_only: bool,
    /// `equal` or `signal`.
    #[serde(default)]
    pub weights: Weighting,
    /// Rebalance every this many timestamps (default 1).
    #[serde(default = "one")]
    pub rebalance: usize,
    /// Cost in basis points per unit of turnover.
    #[serde(default)]
    pub cost_bps: f64,
    /// Price column whose returns the positions earn (default: the target's column).
    #[serde(default)]
    pub price: Option<String>,
    /// Periods per year for annualising (default: inferred from the timestamps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periods_per_year: Option<f64>,
    /// Buckets of the returns-by-quantile table (default 5).
    #[serde(default = "five")]
    pub quantiles: usize,
    /// Value axis of the equity chart: `auto`, `linear` or `log`.
    #[serde(default)]
    pub chart_scale: crate::charts::ChartScale,
}

fn one() -> usize {
    1
}

fn five() -> usize {
    5
}

impl PortfolioConfig {
    /// Checks the settings; errors name the key.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.quantile.is_some() && self.top_k.is_some() {
            return bad("portfolio: set quantile or top_k, not both".into());
        }
        if let Some(q) = self.quantile {
            let max = if self.long_only { 1.0 } else { 0.5 };
            if !(q > 0.0 && q <= max) {
                return bad(format!(
                    "portfolio.quantile must be in (0, {max}] (the share of assets in each leg), \
                     got {q}"
                ));
            }
        }
        if self.top_k == Some(0) {
            return bad("portfolio.top_k must be at least 1".into());
        }
        if self.rebalance == 0 {
            return bad("portfolio.rebalance must be at least 1 (timestamps)".into());
        }
        if !(self.cost_bps >= 0.0 && self.cost_bps.is_finite()) {
            return bad(format!(
                "portfolio.cost_bps must be >= 0, got {}",
                self.cost_bps
            ));
        }
        if self
            .periods_per_year
            .is_some_and(|p| !(p > 0.0 && p.is_finite()))
        {
            return bad("portfolio.periods_per_year must be > 0".into());
        }
        if self.quantiles < 2 {
            return bad(format!(
                "portfolio.quantiles must be at least 2, got {}",
                self.quantiles
            ));
        }
        Ok(())
    }

    /// Checks, before anything is fitted, that every traded timestamp (`times`, timestamp
    /// indices) has enough assets for the legs; the error names the first that does not.
    pub fn check_universe(
        &self,
        panel: &Panel,
        stamps: &[String],
        times: impl IntoIterator<Item = usize>,
    ) -> Result<(), TrainError> {
        for t in times {
            let n = panel.time_starts[t + 1] - panel.time_starts[t];
            if let Err(needed) = self.leg(n) {
                return Err(self.too_few(&stamps[panel.time_starts[t]], n, needed));
            }
        }
        Ok(())
    }

    fn too_few(&self, time: &str, n: usize, needed: usize) -> TrainError {
        TrainError::Config(format!(
            "portfolio: {time} has {n} asset(s), fewer than the {needed} that {} needs: \
             lower portfolio.top_k or raise portfolio.quantile, or start the data where the \
             universe is larger",
            match (self.top_k, self.long_only) {
                (Some(k), false) => format!("top_k = {k} (long and short legs)"),
                (Some(k), true) => format!("top_k = {k}"),
                (None, _) => format!("quantile = {}", self.quantile.unwrap_or(0.2)),
            }
        ))
    }

    /// Assets in each leg for `n` candidates, or the count needed when `n` is too few.
    fn leg(&self, n: usize) -> Result<usize, usize> {
        match self.top_k {
            Some(k) => {
                let needed = if self.long_only { k } else { 2 * k };
                if n < needed { Err(needed) } else { Ok(k) }
            }
            None => {
                let q = self.quantile.unwrap_or(0.2);
                let leg = (q * n as f64 + 1e-9).floor() as usize;
                if leg == 0 {
                    Err((1.0 / q - 1e-9).ceil() as usize)
                } else {
                    Ok(leg)
                }
            }
        }
    }
}

/// One leg's returns.
#[derive(Debug, Clone, Serialize)]
pub struct LegSummary {
    /// Annualised mean return of the leg's assets (per unit of the leg's weight).
    pub annual_return: f64,
    /// Annualised Sharpe ratio of those returns.
    pub sharpe: f64,
}

/// What a portfolio backtest reports beyond the trading metrics.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioSummary {
    /// Timestamps traded.
    pub periods: usize,
    /// Rebalances.
    pub rebalances: usize,
    /// Mean turnover per year (Σ|Δw| per period × periods per year).
    pub turnover: f64,
    /// Mean gross exposure (Σ|w|: 2 for a long-short book, 1 long-only).
    pub gross_exposure: f64,
    /// Mean net exposure (Σw: 0 for a balanced long-short book).
    pub net_exposure: f64,
    /// Annual cost drag (costs per year, as a return).
    pub cost_drag: f64,
    /// The long leg.
    pub long_leg: Option<LegSummary>,
    /// The short leg: the returns of the assets sold short (the book earns minus this).
    pub short_leg: Option<LegSummary>,
    /// Mean per-period forward return of each signal quantile, lowest signal first.
    pub quantile_returns: Vec<f64>,
    /// Mean top-minus-bottom quantile return per period.
    pub quantile_spread: f64,
    /// Spearman correlation of quantile number and mean return (1: perfectly monotonic).
    pub monotonicity: f64,
    /// Held positions that had no bar at a timestamp (earned 0 there).
    pub held_without_bar: usize,
}

/// The rows evaluated (dataset row and signal), grouped by timestamp in time order.
fn by_timestamp<'a>(panel: &Panel, rows: &'a [(usize, f64)]) -> Vec<&'a [(usize, f64)]> {
    rows.chunk_by(|a, b| panel.time_index[a.0] == panel.time_index[b.0])
        .collect()
}

/// Backtests the portfolio of `rows` (dataset row, signal; sorted by row, so by time):
/// the trading summary, the portfolio figures and the equity CSV
/// (`time,position,asset_return,strategy_return,equity`: gross exposure, the equal-weighted
/// universe's return, the portfolio's net return).
pub fn backtest(
    cfg: &PortfolioConfig,
    periods_per_year: f64,
    panel: &Panel,
    times: &[String],
    next: &[f64],
    rows: &[(usize, f64)],
) -> Result<(TradingSummary, PortfolioSummary, String), TrainError> {
    let n_assets = panel.asset_names.len();
    let cost = cfg.cost_bps * 1e-4;
    let mut w = vec![0.0; n_assets];
    let mut net = Vec::new();
    let mut gross = Vec::new();
    let mut net_exposure = Vec::new();
    let mut bench = Vec::new();
    let mut long_rets = Vec::new();
    let mut short_rets = Vec::new();
    let mut turnover_total = 0.0;
    let mut cost_total = 0.0;
    let mut rebalances = 0;
    let mut held_without_bar = 0;
    let mut csv = String::from("time,position,asset_return,strategy_return,equity\n");
    let mut equity = 1.0;
    let mut ret_of = vec![f64::NAN; n_assets];
    for (k, group) in by_timestamp(panel, rows).into_iter().enumerate() {
        let time = &times[group[0].0];
        let mut turnover = 0.0;
        if k % cfg.rebalance == 0 {
            let mut cands: Vec<(u32, f64)> = group
                .iter()
                .filter(|(_, s)| s.is_finite())
                .map(|&(r, s)| (panel.assets[r], s))
                .collect();
            let n = cands.len();
            let leg = cfg.leg(n).map_err(|needed| cfg.too_few(time, n, needed))?;
            cands.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let mut new = vec![0.0; n_assets];
            let median = {
                let mid = n / 2;
                if n % 2 == 1 {
                    cands[mid].1
                } else {
                    (cands[mid - 1].1 + cands[mid].1) / 2.0
                }
            };
            let mut set_leg = |members: &[(u32, f64)], sign: f64| {
                let raw: Vec<f64> = match cfg.weights {
                    Weighting::Equal => vec![1.0; members.len()],
                    Weighting::Signal => members.iter().map(|m| (m.1 - median).abs()).collect(),
                };
                let total: f64 = raw.iter().sum();
                for (m, r) in members.iter().zip(&raw) {
                    new[m.0 as usize] = sign
                        * if total > 0.0 {
                            r / total
                        } else {
                            1.0 / members.len() as f64
                        };
                }
            };
            set_leg(&cands[n - leg..], 1.0);
            if !cfg.long_only {
                set_leg(&cands[..leg], -1.0);
            }
            turnover = new.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
            w = new;
            rebalances += 1;
        }
        // Returns from t to each asset's next bar.
        for &(r, _) in group {
            ret_of[panel.assets[r] as usize] = next[r];
        }
        let (mut pnl, mut long_w, mut long_p, mut short_w, mut short_p) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (a, &wa) in w.iter().enumerate() {
            if wa == 0.0 {
                continue;
            }
            let r = ret_of[a];
            let r = if r.is_finite() {
                r
            } else {
                held_without_bar += 1;
                0.0
            };
            pnl += wa * r;
            if wa > 0.0 {
                long_w += wa;
                long_p += wa * r;
            } else {
                short_w += -wa;
                short_p += -wa * r;
            }
        }
        let universe: Vec<f64> = group
            .iter()
            .map(|&(r, _)| next[r])
            .filter(|v| v.is_finite())
            .collect();
        let b = if universe.is_empty() {
            0.0
        } else {
            universe.iter().sum::<f64>() / universe.len() as f64
        };
        for &(r, _) in group {
            ret_of[panel.assets[r] as usize] = f64::NAN;
        }
        let ret = pnl - cost * turnover;
        turnover_total += turnover;
        cost_total += cost * turnover;
        equity *= 1.0 + ret;
        let g: f64 = w.iter().map(|x| x.abs()).sum();
        let _ = writeln!(
            csv,
            "{},{g},{b},{ret},{equity}",
            crate::output::csv_field(time)
        );
        net.push(ret);
        gross.push(g);
        net_exposure.push(w.iter().sum::<f64>());
        bench.push(b);
        if long_w > 0.0 {
            long_rets.push(long_p / long_w);
        }
        if short_w > 0.0 {
            short_rets.push(short_p / short_w);
        }
    }
    if net.len() < 2 {
        return Err(TrainError::Config(format!(
            "portfolio: {} timestamp(s) to trade; a backtest needs at least 2",
            net.len()
        )));
    }
    let periods = net.len();
    let trading = summarize(
        &net,
        &gross,
        &bench,
        rebalances,
        turnover_total,
        periods_per_year,
    )?;
    let leg = |rets: &[f64]| {
        stats::trading_metrics(rets, periods_per_year)
            .ok()
            .map(|m| LegSummary {
                annual_return: rets.iter().sum::<f64>() / rets.len() as f64 * periods_per_year,
                sharpe: m.sharpe,
            })
    };
    let keys: Vec<i64> = rows
        .iter()
        .map(|&(r, _)| panel.time_index[r] as i64)
        .collect();
    let signal: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let forward: Vec<f64> = rows.iter().map(|&(r, _)| next[r]).collect();
    let (quantile_returns, quantile_spread, monotonicity) =
        match quantile_returns(&keys, &signal, &forward, cfg.quantiles) {
            Ok(q) if !q.times.is_empty() => {
                let idx: Vec<f64> = (0..q.mean.len()).map(|i| i as f64).collect();
                let rho = spearman(&idx, &q.mean);
                (q.mean, q.mean_spread, rho)
            }
            _ => (Vec::new(), f64::NAN, f64::NAN),
        };
    let summary = PortfolioSummary {
        periods,
        rebalances,
        turnover: turnover_total / periods as f64 * periods_per_year,
        gross_exposure: gross.iter().sum::<f64>() / periods as f64,
        net_exposure: net_exposure.iter().sum::<f64>() / periods as f64,
        cost_drag: cost_total / periods as f64 * periods_per_year,
        long_leg: leg(&long_rets),
        short_leg: leg(&short_rets),
        quantile_returns,
        quantile_spread,
        monotonicity,
        held_without_bar,
    };
    Ok((trading, summary, csv))
}

/// Spearman correlation (NaN when a side is constant).
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let rx = hone_validate::cross_section::average_ranks(x);
    let ry = hone_validate::cross_section::average_ranks(y);
    hone_validate::cross_section::pearson(&rx, &ry).unwrap_or(f64::NAN)
}

/// The rank IC at one horizon (IC decay).
#[derive(Debug, Clone, Serialize)]
pub struct DecayPoint {
    /// Bars ahead the realised return looks.
    pub horizon: usize,
    /// Mean IC of the prediction against the `horizon`-bar forward return.
    pub ic: f64,
    /// Mean rank IC.
    pub rank_ic: f64,
}

/// Cross-sectional figures of one span (out-of-fold or holdout).
#[derive(Debug, Clone, Serialize)]
pub struct CrossSectionReport {
    /// IC of the prediction against the target, per timestamp.
    pub ic: Option<IcSummary>,
    /// Rank IC.
    pub rank_ic: Option<IcSummary>,
    /// Rank IC and IC against the realised 1…k-bar forward returns (when prices are known).
    pub decay: Vec<DecayPoint>,
}

/// A panel's cross-sectional report (`metrics.json` `panel`).
#[derive(Debug, Clone, Serialize)]
pub struct PanelReport {
    /// Assets in the panel.
    pub assets: usize,
    /// Timestamps in the dataset.
    pub timestamps: usize,
    /// Out-of-fold predictions (each development row once).
    pub cv: CrossSectionReport,
    /// The holdout.
    pub holdout: Option<CrossSectionReport>,
}

/// The `h`-bar forward return of each row from its asset's chain of next-bar returns
/// (NaN where the asset's rows run out).
pub fn forward_returns(panel: &Panel, next: &[f64], h: usize) -> Vec<f64> {
    let n = next.len();
    let mut by_asset: Vec<Vec<usize>> = vec![Vec::new(); panel.asset_names.len()];
    for i in 0..n {
        by_asset[panel.assets[i] as usize].push(i);
    }
    let mut out = vec![f64::NAN; n];
    for rows in &by_asset {
        for (k, &i) in rows.iter().enumerate() {
            if k + h > rows.len() {
                break;
            }
            let mut g = 1.0;
            for &j in &rows[k..k + h] {
                g *= 1.0 + next[j];
            }
            out[i] = g - 1.0;
        }
    }
    out
}

/// The cross-sectional report of `rows` (dataset row, signal) against `target` (per dataset
/// row), with IC decay against `forward[h-1]` (the h-bar forward returns, per dataset row).
pub fn cross_section_report(
    panel: &Panel,
    rows: &[(usize, f64)],
    target: &[f64],
    forward: &[Vec<f64>],
    periods_per_year: f64,
) -> CrossSectionReport {
    let keys: Vec<i64> = rows
        .iter()
        .map(|&(r, _)| panel.time_index[r] as i64)
        .collect();
    let signal: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let y: Vec<f64> = rows.iter().map(|&(r, _)| target[r]).collect();
    let summary = |y: &[f64], kind| {
        information_coefficients(&keys, &signal, y, kind)
            .ok()
            .and_then(|ics| IcSummary::of(&ics, periods_per_year).ok())
    };
    let decay = forward
        .iter()
        .enumerate()
        .filter_map(|(k, f)| {
            let y: Vec<f64> = rows.iter().map(|&(r, _)| f[r]).collect();
            Some(DecayPoint {
                horizon: k + 1,
                ic: summary(&y, IcKind::Pearson)?.mean,
                rank_ic: summary(&y, IcKind::Spearman)?.mean,
            })
        })
        .collect();
    CrossSectionReport {
        ic: summary(&y, IcKind::Pearson),
        rank_ic: summary(&y, IcKind::Spearman),
        decay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panel, its row times, next-bar returns and (row, signal) pairs.
    type Fixture = (Panel, Vec<String>, Vec<f64>, Vec<(usize, f64)>);

    /// Three timestamps, four assets; the signal ranks D > C > B > A at each.
    fn panel() -> Fixture {
        let panel = Panel {
            asset_names: ["A", "B", "C", "D"].map(String::from).to_vec(),
            assets: vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3],
            time_index: vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
            time_starts: vec![0, 4, 8, 12],
            time_label_end: vec![1, 2, 3],
            groups: None,
        };
        let times: Vec<String> = ["d1", "d1", "d1", "d1", "d2", "d2", "d2", "d2", "d3", "d3"]
            .iter()
            .chain(&["d3", "d3"])
            .map(|s| s.to_string())
            .collect();
        let next = vec![
            -0.01, 0.0, 0.01, 0.02, 0.03, 0.0, -0.01, 0.01, 0.0, 0.01, 0.02, 0.04,
        ];
        let rows: Vec<(usize, f64)> = (0..12).map(|i| (i, (i % 4) as f64)).collect();
        (panel, times, next, rows)
    }

    fn cfg() -> PortfolioConfig {
        toml::from_str("top_k = 1\ncost_bps = 10\nperiods_per_year = 252").unwrap()
    }

    #[test]
    fn long_short_returns_turnover_and_costs_by_hand() {
        let (p, times, next, rows) = panel();
        let (_, s, csv) = backtest(&cfg(), 252.0, &p, &times, &next, &rows).unwrap();
        // Long D, short A at every timestamp: returns d1 0.02 + 0.01, d2 0.01 − 0.03,
        // d3 0.04 − 0; turnover 2 on the first day only (cost 10 bp × 2).
        let want = [0.03 - 0.002, -0.02, 0.04];
        let got: Vec<f64> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(s.rebalances, 3);
        assert!((s.gross_exposure - 2.0).abs() < 1e-12);
        assert!(s.net_exposure.abs() < 1e-12);
        assert!((s.turnover - 2.0 / 3.0 * 252.0).abs() < 1e-9);
        // Long leg is D's returns, short leg A's.
        let long = s.long_leg.unwrap();
        assert!((long.annual_return - (0.02 + 0.01 + 0.04) / 3.0 * 252.0).abs() < 1e-9);
        let short = s.short_leg.unwrap();
        assert!((short.annual_return - (-0.01 + 0.03 + 0.0) / 3.0 * 252.0).abs() < 1e-9);
        // Universe benchmark in the asset_return column.
        let first: f64 = csv
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert!((first - 0.005).abs() < 1e-12);
    }

    #[test]
    fn rebalancing_every_two_holds_weights_and_too_few_assets_names_the_time() {
        let (p, times, next, rows) = panel();
        let mut c = cfg();
        c.rebalance = 2;
        let (_, s, _) = backtest(&c, 252.0, &p, &times, &next, &rows).unwrap();
        assert_eq!(s.rebalances, 2);
        c.top_k = Some(3);
        let e = backtest(&c, 252.0, &p, &times, &next, &rows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("d1") && e.contains("fewer than the 6"), "{e}");
        let q: PortfolioConfig = toml::from_str("quantile = 0.2").unwrap();
        let e = backtest(&q, 252.0, &p, &times, &next, &rows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer than the 5"), "{e}");
    }

    #[test]
    fn forward_returns_chain_each_assets_bars() {
        let (p, _, next, _) = panel();
        let f2 = forward_returns(&p, &next, 2);
        assert!((f2[0] - ((1.0 - 0.01) * (1.0 + 0.03) - 1.0)).abs() < 1e-12);
        assert!(f2[8].is_nan());
    }
}
