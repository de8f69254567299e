//! Trading evaluation: from predictions to positions, to strategy returns net of costs, to
//! trading metrics and an equity curve (drawn by [`crate::charts::equity_chart`]).
//!
//! The position decided at the close of row `t` earns the price's return from `t` to `t + 1`
//! (so decisions never use the return they trade), and every change of position pays
//! `cost_bps` per unit of turnover: `r_t = w_t · (p[t+1]/p[t] − 1) − cost · |w_t − w_{t−1}|`.

use std::fmt::Write as _;

use hone_validate::Task;
use hone_validate::stats::{self, TradingMetrics};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// The `[trading]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingConfig {
    /// Price column that is traded (default: the target's column).
    #[serde(default)]
    pub price: Option<String>,
    /// `sign` (full positions) or `sized` (position ∝ confidence, in [−1, 1]).
    #[serde(default = "default_rule")]
    pub rule: String,
    /// Never short: negative signals become flat.
    #[serde(default)]
    pub long_only: bool,
    /// Signal threshold: P(up) for binary targets (default 0.5), the prediction for regression
    /// (default 0).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Cost in basis points per unit of turnover.
    #[serde(default)]
    pub cost_bps: f64,
    /// Periods per year for annualising (252 daily, 52 weekly, 6240 hourly FX). Default:
    /// inferred from the timestamps ([`hone_data::time::bar_frequency`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periods_per_year: Option<f64>,
    /// Value axis of `equity.svg`: `auto` (log when the equity spans more than 10×), `linear`
    /// or `log`.
    #[serde(default)]
    pub chart_scale: crate::charts::ChartScale,
}

fn default_rule() -> String {
    "sign".into()
}
/// The annualisation factor when neither the config nor the timestamps give one.
pub const FALLBACK_PERIODS_PER_YEAR: f64 = 252.0;

/// Trading results of one evaluation span.
#[derive(Debug, Clone, Serialize)]
pub struct TradingSummary {
    /// Trading metrics of the strategy returns.
    #[serde(flatten)]
    pub metrics: TradingMetrics,
    /// Mean |position|.
    pub exposure: f64,
    /// Number of position changes.
    pub trades: usize,
    /// Annualised two-way turnover.
    pub turnover: f64,
    /// Probabilistic Sharpe ratio against 0 (per-period SR, sample moments).
    pub psr: Option<f64>,
    /// Minimum track record length (periods) at 95%, when the Sharpe ratio is positive.
    pub min_track_record: Option<f64>,
    /// Share of periods with a position (long or short).
    pub time_in_market: f64,
    /// Share of periods long.
    pub long_share: f64,
    /// Buy-and-hold of the traded asset over the same periods, and the strategy against it.
    pub buy_and_hold: Option<BuyAndHold>,
    /// Per-period (not annualised) Sharpe ratio, sample moments: the trial statistic that
    /// deflated Sharpe ratios of later runs in the experiment are built from.
    pub sr_per_period: Option<f64>,
    /// Skewness of the strategy returns.
    pub skew: Option<f64>,
    /// Kurtosis (non-excess) of the strategy returns.
    pub kurtosis: Option<f64>,
}

/// A note when a backtest is long almost all the time: its returns are then mostly the asset's.
pub fn buy_and_hold_note(span: &str, s: &TradingSummary) -> Option<String> {
    (s.long_share >= 0.95).then(|| {
        format!(
            "trading {span}: long in {:.0}% of periods: this is buy-and-hold (see the buy & hold \
             line: Sharpe {} against the strategy's {:.3})",
            s.long_share * 100.0,
            s.buy_and_hold
                .as_ref()
                .map_or("-".into(), |b| format!("{:.3}", b.sharpe)),
            s.metrics.sharpe
        )
    })
}

/// The benchmark every backtest is shown against: holding the traded asset over the same
/// periods (no costs), and the strategy's returns regressed on the asset's.
#[derive(Debug, Clone, Serialize)]
pub struct BuyAndHold {
    /// Annualised Sharpe ratio of holding the asset.
    pub sharpe: f64,
    /// Its annual return (CAGR).
    pub annual_return: f64,
    /// Its maximum drawdown.
    pub max_drawdown: f64,
    /// The strategy's annual return minus the asset's.
    pub excess_return: f64,
    /// Intercept of the OLS regression of strategy returns on asset returns, per period ×
    /// periods per year (arithmetic annualisation).
    pub alpha: f64,
    /// Its slope: the strategy's exposure to the asset.
    pub beta: f64,
    /// Correlation of strategy and asset returns (`None` when either is constant).
    pub correlation: Option<f64>,
}

impl BuyAndHold {
    /// The benchmark of `strategy` returns on the `asset`'s, both per period.
    pub fn of(
        strategy: &[f64],
        strategy_metrics: &TradingMetrics,
        asset: &[f64],
        periods_per_year: f64,
    ) -> Option<Self> {
        let held = stats::trading_metrics(asset, periods_per_year).ok()?;
        let n = asset.len() as f64;
        let (ms, ma) = (
            strategy.iter().sum::<f64>() / n,
            asset.iter().sum::<f64>() / n,
        );
        let (mut cov, mut va, mut vs) = (0.0, 0.0, 0.0);
        for (s, a) in strategy.iter().zip(asset) {
            cov += (s - ms) * (a - ma);
            va += (a - ma) * (a - ma);
            vs += (s - ms) * (s - ms);
        }
        // A constant series (up to rounding of its mean) has no regression or correlation.
        let flat = |v: f64, m: f64| v <= n * (1e-9 * m.abs()).powi(2);
        if flat(va, ma) {
            return None;
        }
        let beta = cov / va;
        Some(Self {
            sharpe: held.sharpe,
            annual_return: held.annual_return,
            max_drawdown: held.max_drawdown,
            excess_return: strategy_metrics.annual_return - held.annual_return,
            alpha: (ms - beta * ma) * periods_per_year,
            beta,
            correlation: (!flat(vs, ms)).then(|| cov / (va * vs).sqrt()),
        })
    }
}

/// Deflated Sharpe ratio of the out-of-fold backtest (Bailey & López de Prado 2014).
#[derive(Debug, Clone, Serialize)]
pub struct DsrSummary {
    /// DSR: probability that the true Sharpe ratio beats the best of `n_trials` unskilled trials.
    pub dsr: f64,
    /// The deflated benchmark SR0 (per period).
    pub sr0: f64,
    /// Trials counted: distinct per-period Sharpe ratios among the finished runs of this
    /// experiment with a backtest, plus this run (a seeded rerun reproduces its value and
    /// counts once).
    pub n_trials: usize,
    /// Sample variance (ddof 1) of the trials' per-period Sharpe ratios (0 with one trial).
    pub sr_variance: f64,
}

/// An earlier trial of the experiment: a finished run that ran a backtest.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Its out-of-fold per-period Sharpe ratio.
    pub sr: f64,
    /// Its out-of-fold equity CSV (`equity_cv.csv` artifact), when stored.
    pub equity_csv: Option<String>,
}

/// Blocks CSCV splits the out-of-fold period into for [`backtest_overfitting`].
pub const PBO_BLOCKS: usize = 16;

/// Probability of backtest overfitting over the experiment's trials (CSCV, Bailey et al. 2017).
#[derive(Debug, Clone, Serialize)]
pub struct PboSummary {
    /// PBO: share of CSCV combinations whose in-sample best trial ranks at or below the
    /// out-of-sample median.
    pub pbo: f64,
    /// Trials in the matrix: distinct out-of-fold return series over the same periods.
    pub n_trials: usize,
    /// CSCV blocks.
    pub blocks: usize,
    /// Share of combinations where the in-sample best has a negative out-of-sample Sharpe.
    pub prob_oos_loss: f64,
    /// OLS slope of out-of-sample on in-sample Sharpe of the in-sample best.
    pub degradation_slope: f64,
}

/// (time field, strategy return) rows of an equity CSV written by [`TradingConfig::backtest`].
fn equity_returns(csv: &str) -> Option<(Vec<&str>, Vec<f64>)> {
    let mut lines = csv.lines();
    if lines.next()? != "time,position,asset_return,strategy_return,equity" {
        return None;
    }
    let (mut times, mut rets) = (Vec::new(), Vec::new());
    for line in lines {
        // The time field may be quoted and hold commas: the last four fields are numbers.
        let mut f = line.rsplitn(5, ',');
        let (_equity, ret) = (f.next()?, f.next()?);
        let (_asset, _pos, time) = (f.next()?, f.next()?, f.next()?);
        times.push(time);
        rets.push(ret.parse().ok()?);
    }
    Some((times, rets))
}

/// The columns of an equity CSV written by [`TradingConfig::backtest`] that its chart draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquityRows {
    /// Each period's timestamp (unquoted).
    pub times: Vec<String>,
    /// The strategy's equity after each period.
    pub equity: Vec<f64>,
    /// Buy-and-hold's equity after each period: the asset's returns compounded
    /// ([`buy_and_hold_curve`]).
    pub benchmark: Vec<f64>,
}

impl EquityRows {
    /// Reads an equity CSV; `None` when it is not one (another header, a line that does not
    /// parse).
    pub fn parse(csv: &str) -> Option<Self> {
        let mut lines = csv.lines();
        if lines.next()? != "time,position,asset_return,strategy_return,equity" {
            return None;
        }
        let (mut times, mut equity, mut asset) = (Vec::new(), Vec::new(), Vec::new());
        for line in lines {
            // The time field may be quoted and hold commas: the last four fields are numbers.
            let mut f = line.rsplitn(5, ',');
            let (e, _ret, a, _pos, time) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            let time = match time.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => time.to_string(),
            };
            times.push(time);
            equity.push(e.parse().ok()?);
            asset.push(a.parse().ok()?);
        }
        Some(Self {
            times,
            equity,
            benchmark: buy_and_hold_curve(&asset),
        })
    }
}

/// The equity of holding the asset from 1, period by period: its returns compounded, without
/// costs, the curve behind [`BuyAndHold`]'s figures.
pub fn buy_and_hold_curve(asset_returns: &[f64]) -> Vec<f64> {
    let mut equity = 1.0;
    asset_returns
        .iter()
        .map(|r| {
            equity *= 1.0 + r;
            equity
        })
        .collect()
}

/// PBO by CSCV (Sharpe ratio, [`PBO_BLOCKS`] blocks) over this run's out-of-fold strategy
/// returns and those of earlier trials that cover exactly the same periods (same data and
/// split); identical series count once. `None` with fewer than two such trials or too few
/// periods.
pub fn backtest_overfitting(this_equity_csv: &str, earlier: &[Trial]) -> Option<PboSummary> {
    let (times, this) = equity_returns(this_equity_csv)?;
    let mut columns: Vec<Vec<f64>> = vec![this];
    for t in earlier {
        let Some((tt, r)) = t.equity_csv.as_deref().and_then(equity_returns) else {
            continue;
        };
        let same = |a: &Vec<f64>| a.iter().zip(&r).all(|(x, y)| x.to_bits() == y.to_bits());
        if tt == times && !columns.iter().any(same) {
            columns.push(r);
        }
    }
    if columns.len() < 2 || times.len() < 2 * PBO_BLOCKS {
        return None;
    }
    let matrix: Vec<Vec<f64>> = (0..times.len())
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect();
    let r = stats::pbo(&matrix, PBO_BLOCKS, stats::PboMetric::Sharpe).ok()?;
    Some(PboSummary {
        pbo: r.pbo,
        n_trials: columns.len(),
        blocks: PBO_BLOCKS,
        prob_oos_loss: r.prob_oos_loss,
        degradation_slope: r.degradation_slope,
    })
}

/// DSR of `summary` given the per-period Sharpe ratios of earlier trials (this run is added).
pub fn deflated_sharpe(summary: &TradingSummary, earlier_trials: &[f64]) -> Option<DsrSummary> {
    let (sr, skew, kurt) = (summary.sr_per_period?, summary.skew?, summary.kurtosis?);
    // A rerun of the same configuration reproduces its Sharpe ratio to the bit (runs are
    // seeded), and is not a new trial: equal values count once.
    let mut trials: Vec<f64> = Vec::new();
    for v in earlier_trials.iter().copied().chain([sr]) {
        if v.is_finite() && !trials.iter().any(|t| t.to_bits() == v.to_bits()) {
            trials.push(v);
        }
    }
    let n = trials.len();
    let sr_variance = if n < 2 {
        0.0
    } else {
        let m = trials.iter().sum::<f64>() / n as f64;
        trials.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64
    };
    let (dsr, sr0) = stats::dsr(sr, summary.metrics.periods, skew, kurt, n, sr_variance).ok()?;
    Some(DsrSummary {
        dsr,
        sr0,
        n_trials: n,
        sr_variance,
    })
}

/// Trading results of a job.
#[derive(Debug, Clone, Serialize)]
pub struct TradingReport {
    /// The annualisation factor used (configured, or inferred from the timestamps).
    pub periods_per_year: f64,
    /// Out-of-fold predictions, as one backtest over the test blocks in time order. With CPCV,
    /// the backtest path whose Sharpe ratio is the median over the paths (`cpcv_paths.median_path`):
    /// what the gates, PSR and DSR read.
    pub cv: TradingSummary,
    /// The holdout.
    pub holdout: Option<TradingSummary>,
    /// CPCV: the annualised Sharpe ratio of each recombined backtest path and their spread.
    pub cpcv_paths: Option<PathSharpes>,
    /// Deflated Sharpe ratio of the out-of-fold backtest, deflated by the experiment's trials.
    pub dsr: Option<DsrSummary>,
    /// Probability of backtest overfitting across the experiment's trials (two or more).
    pub pbo: Option<PboSummary>,
}

/// Distribution of per-path Sharpe ratios over CPCV's backtest paths.
#[derive(Debug, Clone, Serialize)]
pub struct PathSharpes {
    /// Annualised Sharpe ratio per path.
    pub sharpes: Vec<f64>,
    /// The path reported as `cv` (the median one), from 0.
    pub median_path: usize,
    /// Mean over paths.
    pub mean: f64,
    /// Median over paths.
    pub median: f64,
    /// Sample standard deviation over paths.
    pub std: f64,
    /// 5th percentile (numpy linear).
    pub p5: f64,
    /// Every path's full backtest, each with its own buy-and-hold benchmark over the path's
    /// periods, in path order.
    pub paths: Vec<TradingSummary>,
}

impl PathSharpes {
    /// Summarises CPCV's path backtests; `median_path` is the path reported as `cv`.
    pub fn of(paths: Vec<TradingSummary>, median_path: usize) -> Self {
        let sharpes: Vec<f64> = paths.iter().map(|p| p.metrics.sharpe).collect();
        let n = sharpes.len() as f64;
        let mean = sharpes.iter().sum::<f64>() / n;
        let std = if sharpes.len() > 1 {
            (sharpes.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let mut sorted = sharpes.clone();
        sorted.sort_by(f64::total_cmp);
        let pos = 0.05 * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(sorted.len() - 1);
        let p5 = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        };
        Self {
            sharpes,
            median_path,
            mean,
            median,
            std,
            p5,
            paths,
        }
    }
}

/// Backtests `(row, position)` pairs in time order: the summary and the equity CSV.
pub type Backtest<'a> =
    dyn Fn(&[(usize, f64)]) -> Result<(TradingSummary, String), TrainError> + 'a;

/// CPCV's backtest paths (AFML 12.4): each path stitched from the splits that test its groups,
/// in time order, and backtested with `backtest` (its summary and equity CSV). `splits[s]` is
/// split `s`'s test rows (positions into the first `n_rows` development rows) and their
/// positions, in the splitter's order.
pub fn cpcv_paths(
    layout: &hone_validate::temporal::Cpcv,
    n_rows: usize,
    splits: &[(&[usize], Vec<f64>)],
    backtest: &Backtest<'_>,
) -> Result<Vec<(TradingSummary, String)>, TrainError> {
    let groups = layout.groups(n_rows);
    let tests = layout.test_groups();
    let ids = layout.path_ids();
    let mut paths: Vec<Vec<(usize, f64)>> = vec![Vec::new(); layout.n_paths()];
    for (s, (rows, pos)) in splits.iter().enumerate() {
        for (i, &r) in rows.iter().enumerate() {
            if let Some(j) = tests[s].iter().position(|g| *g == groups[r]) {
                paths[ids[s][j]].push((r, pos[i]));
            }
        }
    }
    paths
        .into_iter()
        .map(|mut p| {
            p.sort_by_key(|(r, _)| *r);
            backtest(&p)
        })
        .collect()
}

/// The path whose Sharpe ratio is the median over CPCV's paths (the lower middle one for an
/// even count: always a real path, so its every figure belongs to one backtest).
pub fn median_path(paths: &[(TradingSummary, String)]) -> Option<usize> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by(|&a, &b| {
        paths[a]
            .0
            .metrics
            .sharpe
            .total_cmp(&paths[b].0.metrics.sharpe)
            .then(a.cmp(&b))
    });
    order.get(paths.len().saturating_sub(1) / 2).copied()
}

impl TradingConfig {
    /// The annualisation factor: the configured or inferred one ([`TradingConfig::for_data`]).
    pub fn periods(&self) -> f64 {
        self.periods_per_year.unwrap_or(FALLBACK_PERIODS_PER_YEAR)
    }

    /// This config for data with these timestamps: `periods_per_year` inferred from them when
    /// the config leaves it out, and a note saying what was inferred, or that the configured
    /// value disagrees with the data by more than 25 %.
    pub fn for_data(&self, times: &[String]) -> (TradingConfig, Option<String>) {
        let inferred = hone_data::time::bar_frequency(times);
        let mut tc = self.clone();
        let note = match (self.periods_per_year, &inferred) {
            (None, Some(f)) => {
                tc.periods_per_year = Some(f.periods_per_year);
                Some(format!(
                    "trading: bars look {} from the timestamps: annualising with {} periods per \
                     year (set trading.periods_per_year to override)",
                    f.label, f.periods_per_year
                ))
            }
            (None, None) => {
                tc.periods_per_year = Some(FALLBACK_PERIODS_PER_YEAR);
                Some(format!(
                    "trading: the time column does not give the bar frequency: annualising with \
                     {FALLBACK_PERIODS_PER_YEAR} periods per year (set trading.periods_per_year)"
                ))
            }
            (Some(p), Some(f)) if (p / f.periods_per_year - 1.0).abs() > 0.25 => Some(format!(
                "warning: trading.periods_per_year = {p}, but the timestamps look {} ({} periods \
                 per year): Sharpe ratios, returns and turnover are annualised with {p}",
                f.label, f.periods_per_year
            )),
            _ => None,
        };
        (tc, note)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.rule != "sign" && self.rule != "sized" {
            return Err(TrainError::Config(format!(
                "trading.rule must be \"sign\" or \"sized\", got {:?}",
                self.rule
            )));
        }
        if self.cost_bps.is_nan()
            || self.cost_bps < 0.0
            || self
                .periods_per_year
                .is_some_and(|p| p.is_nan() || p <= 0.0 || p.is_infinite())
        {
            return Err(TrainError::Config(
                "trading.cost_bps must be >= 0 and trading.periods_per_year > 0".into(),
            ));
        }
        Ok(())
    }

    /// Positions for model outputs (row-major for multiclass).
    pub fn positions(&self, task: Task, output: &[f64]) -> Vec<f64> {
        let clip = |w: f64| {
            if self.long_only {
                w.clamp(0.0, 1.0)
            } else {
                w.clamp(-1.0, 1.0)
            }
        };
        let sign = |s: f64| {
            if s > 0.0 {
                1.0
            } else if s < 0.0 && !self.long_only {
                -1.0
            } else {
                0.0
            }
        };
        match task {
            Task::Binary => {
                let th = self.threshold.unwrap_or(0.5);
                output
                    .iter()
                    .map(|&p| {
                        if self.rule == "sized" {
                            clip(2.0 * p - 1.0)
                        } else if p >= th {
                            1.0
                        } else if self.long_only {
                            0.0
                        } else {
                            -1.0
                        }
                    })
                    .collect()
            }
            Task::Multiclass { n_classes } => output
                .chunks(n_classes)
                .map(|row| {
                    // Classes are ordered down .. up: P(up) − P(down).
                    let s = row[n_classes - 1] - row[0];
                    if self.rule == "sized" {
                        clip(s)
                    } else {
                        sign(s - self.threshold.unwrap_or(0.0))
                    }
                })
                .collect(),
            Task::Regression => {
                let th = self.threshold.unwrap_or(0.0);
                let scale = {
                    let m = output.iter().sum::<f64>() / output.len().max(1) as f64;
                    (output.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                        / output.len().max(1) as f64)
                        .sqrt()
                };
                output
                    .iter()
                    .map(|&v| {
                        if self.rule == "sized" && scale > 0.0 {
                            clip((v - th) / scale)
                        } else {
                            sign(v - th)
                        }
                    })
                    .collect()
            }
        }
    }

    /// Backtests positions against next-row returns; returns the summary and the equity CSV.
    pub fn backtest(
        &self,
        times: &[String],
        positions: &[f64],
        next_returns: &[f64],
    ) -> Result<(TradingSummary, String), TrainError> {
        let cost = self.cost_bps * 1e-4;
        let mut prev = 0.0;
        let mut strategy = Vec::with_capacity(positions.len());
        let mut csv = String::from("time,position,asset_return,strategy_return,equity\n");
        let mut equity = 1.0;
        let mut trades = 0;
        let mut turnover = 0.0;
        for ((t, &w), &r) in times.iter().zip(positions).zip(next_returns) {
            let change = (w - prev).abs();
            if change > 0.0 {
                trades += 1;
            }
            turnover += change;
            let ret = w * r - cost * change;
            equity *= 1.0 + ret;
            strategy.push(ret);
            let _ = writeln!(
                csv,
                "{},{w},{r},{ret},{equity}",
                crate::output::csv_field(t)
            );
            prev = w;
        }
        let summary = summarize(
            &strategy,
            positions,
            next_returns,
            trades,
            turnover,
            self.periods(),
        )?;
        Ok((summary, csv))
    }
}

/// The trading summary of per-period `strategy` returns: `positions` (their exposure, time
/// in market and long share), the `benchmark`'s returns for buy & hold, the number of
/// position changes and the total turnover (annualised here).
pub(crate) fn summarize(
    strategy: &[f64],
    positions: &[f64],
    benchmark: &[f64],
    trades: usize,
    turnover: f64,
    periods: f64,
) -> Result<TradingSummary, TrainError> {
    let metrics =
        stats::trading_metrics(strategy, periods).map_err(|source| TrainError::Metric {
            context: "trading evaluation".into(),
            source,
        })?;
    let moments = stats::moments(strategy).ok();
    let (psr, min_trl) = match moments {
        Some((sr, skew, kurt)) => (
            stats::psr(sr, 0.0, strategy.len(), skew, kurt).ok(),
            stats::min_track_record(sr, 0.0, skew, kurt, 0.05).ok(),
        ),
        None => (None, None),
    };
    let n = strategy.len();
    let buy_and_hold = BuyAndHold::of(strategy, &metrics, benchmark, periods);
    Ok(TradingSummary {
        metrics,
        exposure: positions.iter().map(|w| w.abs()).sum::<f64>() / n as f64,
        trades,
        turnover: turnover / n as f64 * periods,
        time_in_market: positions.iter().filter(|w| **w != 0.0).count() as f64 / n as f64,
        long_share: positions.iter().filter(|w| **w > 0.0).count() as f64 / n as f64,
        buy_and_hold,
        psr,
        min_track_record: min_trl,
        sr_per_period: moments.map(|m| m.0),
        skew: moments.map(|m| m.1),
        kurtosis: moments.map(|m| m.2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strategy of half the asset plus a constant: beta 0.5, alpha the constant per year,
    /// correlation 1; the buy & hold figures are the asset's own.
    #[test]
    fn buy_and_hold_regression_recovers_alpha_and_beta() {
        let asset: Vec<f64> = (0..300)
            .map(|i| 0.01 * ((i * 7 % 13) as f64 - 6.0) / 6.0)
            .collect();
        let strategy: Vec<f64> = asset.iter().map(|a| 0.5 * a + 0.0002).collect();
        let sm = stats::trading_metrics(&strategy, 252.0).unwrap();
        let b = BuyAndHold::of(&strategy, &sm, &asset, 252.0).unwrap();
        let held = stats::trading_metrics(&asset, 252.0).unwrap();
        assert!((b.beta - 0.5).abs() < 1e-12, "{}", b.beta);
        assert!((b.alpha - 0.0002 * 252.0).abs() < 1e-12, "{}", b.alpha);
        assert!((b.correlation.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(b.sharpe, held.sharpe);
        assert_eq!(b.excess_return, sm.annual_return - held.annual_return);
        // A constant asset has no regression.
        assert!(BuyAndHold::of(&strategy, &sm, &vec![0.001; 300], 252.0).is_none());
    }

    fn cfg(rule: &str, long_only: bool, cost_bps: f64) -> TradingConfig {
        TradingConfig {
            price: None,
            rule: rule.into(),
            long_only,
            threshold: None,
            cost_bps,
            periods_per_year: Some(252.0),
            chart_scale: Default::default(),
        }
    }

    #[test]
    fn positions_and_costs() {
        let c = cfg("sign", false, 10.0);
        assert_eq!(
            c.positions(Task::Binary, &[0.7, 0.4, 0.5]),
            vec![1.0, -1.0, 1.0]
        );
        assert_eq!(
            cfg("sign", true, 0.0).positions(Task::Binary, &[0.7, 0.4]),
            vec![1.0, 0.0]
        );
        let sized = cfg("sized", false, 0.0).positions(Task::Binary, &[0.75, 0.25]);
        assert_eq!(sized, vec![0.5, -0.5]);
        assert_eq!(
            c.positions(
                Task::Multiclass { n_classes: 3 },
                &[0.2, 0.3, 0.5, 0.6, 0.3, 0.1]
            ),
            vec![1.0, -1.0]
        );
        assert_eq!(
            c.positions(Task::Regression, &[0.01, -0.02]),
            vec![1.0, -1.0]
        );
        // Long, then short: the second period pays 10 bp on a turnover of 2.
        let (s, csv) = c
            .backtest(&["a".into(), "b".into()], &[1.0, -1.0], &[0.01, -0.02])
            .unwrap();
        assert_eq!(s.trades, 2);
        let r1 = 0.01 - 0.001;
        let r2 = 0.02 - 0.002;
        assert!((s.metrics.final_equity - (1.0 + r1) * (1.0 + r2)).abs() < 1e-12);
        assert!(csv.starts_with("time,position,asset_return,strategy_return,equity\na,1,0.01,"));
        // The chart reads the CSV back: times, equity and buy-and-hold's compounded returns.
        let rows = EquityRows::parse(&csv).unwrap();
        assert_eq!(rows.times, ["a", "b"]);
        assert_eq!(rows.equity[1], s.metrics.final_equity);
        assert_eq!(rows.benchmark, buy_and_hold_curve(&[0.01, -0.02]));
        assert!((rows.benchmark[1] - 1.01 * 0.98).abs() < 1e-15);
        let quoted = "time,position,asset_return,strategy_return,equity\n\"2020, \"\"x\"\"\",1,0.5,0.5,1.5\n";
        assert_eq!(EquityRows::parse(quoted).unwrap().times, ["2020, \"x\""]);
        assert!(EquityRows::parse("a,b\n").is_none());
    }

    #[test]
    fn deflated_sharpe_counts_distinct_trials() {
        // DSR reads the number of periods from the metrics (252 here; the summary no longer
        // repeats it).
        let mut metrics = stats::trading_metrics(&[0.01, -0.005, 0.02], 252.0).unwrap();
        metrics.periods = 252;
        let summary = |sr: f64| TradingSummary {
            metrics: metrics.clone(),
            exposure: 1.0,
            trades: 1,
            turnover: 0.0,
            psr: None,
            min_track_record: None,
            time_in_market: 1.0,
            long_share: 1.0,
            buy_and_hold: None,
            sr_per_period: Some(sr),
            skew: Some(0.0),
            kurtosis: Some(3.0),
        };
        // One trial: SR0 = 0, so DSR is the PSR against 0 (§3.2 edge case; REF 0.9429868610243624).
        let d = deflated_sharpe(&summary(0.1), &[]).unwrap();
        assert_eq!((d.n_trials, d.sr0), (1, 0.0));
        assert!((d.dsr - 0.9429868610243624).abs() < 1e-9);
        // A seeded rerun (same SR to the bit) is not a new trial.
        assert_eq!(
            deflated_sharpe(&summary(0.1), &[0.1, 0.1])
                .unwrap()
                .n_trials,
            1
        );
        // Three distinct trials: sample variance (ddof 1) of {0.02, 0.05, 0.1}.
        let d = deflated_sharpe(&summary(0.1), &[0.02, 0.05, f64::NAN]).unwrap();
        let m = (0.02 + 0.05 + 0.1) / 3.0;
        let var = ((0.02f64 - m).powi(2) + (0.05f64 - m).powi(2) + (0.1f64 - m).powi(2)) / 2.0;
        assert_eq!(d.n_trials, 3);
        assert!((d.sr_variance - var).abs() < 1e-15);
        let (want, sr0) = stats::dsr(0.1, 252, 0.0, 3.0, 3, var).unwrap();
        assert_eq!((d.dsr, d.sr0), (want, sr0));
        assert!(d.dsr < 0.9429868610243624);
    }

    #[test]
    fn pbo_uses_trials_over_the_same_periods() {
        let csv = |times: &[String], rets: &[f64]| {
            let mut s = String::from("time,position,asset_return,strategy_return,equity\n");
            for (t, r) in times.iter().zip(rets) {
                s.push_str(&format!("\"{t}\",1,0,{r},1\n"));
            }
            s
        };
        let times: Vec<String> = (0..64).map(|i| format!("2020-01-01 {i:02}, x")).collect();
        let a: Vec<f64> = (0..64)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 1000.0)
            .collect();
        let b: Vec<f64> = (0..64)
            .map(|i| ((i * 5 % 13) as f64 - 6.0) / 1000.0)
            .collect();
        let c: Vec<f64> = (0..64)
            .map(|i| ((i * 3 % 7) as f64 - 3.0) / 1000.0)
            .collect();
        let trial = |rets: &[f64], times: &[String]| Trial {
            sr: 0.0,
            equity_csv: Some(csv(times, rets)),
        };
        let shifted: Vec<String> = (1..65).map(|i| format!("2020-01-01 {i:02}, x")).collect();
        let earlier = [
            trial(&b, &times),
            trial(&a, &times),   // same series as this run: counts once
            trial(&c, &shifted), // other periods: not comparable
            Trial {
                sr: 0.0,
                equity_csv: None,
            },
        ];
        let r = backtest_overfitting(&csv(&times, &a), &earlier).unwrap();
        assert_eq!(r.n_trials, 2);
        let matrix: Vec<Vec<f64>> = (0..64).map(|i| vec![a[i], b[i]]).collect();
        let want = stats::pbo(&matrix, PBO_BLOCKS, stats::PboMetric::Sharpe).unwrap();
        assert_eq!(r.pbo, want.pbo);
        // One comparable trial (this run) only: no PBO.
        assert!(backtest_overfitting(&csv(&times, &a), &earlier[1..]).is_none());
    }
}
