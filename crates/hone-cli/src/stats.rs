//! `hone stats`: trading metrics and overfitting-aware statistics on returns from any source.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hone_data::table::{self, ColumnValues};
use hone_validate::stats::{self, PboMetric};
use serde_json::{Value, json};

use crate::CliError;

/// `hone stats ...`
#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(subcommand)]
    cmd: StatsCmd,
}

/// Where the Sharpe ratio and moments come from: a returns file, or summary statistics.
#[derive(Args, Debug, Clone)]
struct SrInput {
    /// CSV/Parquet with one numeric column of per-period returns.
    #[arg(long)]
    returns: Option<PathBuf>,
    /// Per-period (not annualised) Sharpe ratio, instead of --returns.
    #[arg(long, allow_hyphen_values = true)]
    sr: Option<f64>,
    /// Number of returns behind --sr.
    #[arg(long)]
    n_obs: Option<usize>,
    /// Skewness of the returns [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    skew: Option<f64>,
    /// Non-excess kurtosis of the returns (normal = 3) [default: 3].
    #[arg(long)]
    kurtosis: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum StatsCmd {
    /// Sharpe, Sortino, volatility, CAGR, max drawdown, Calmar, win rate, profit factor.
    Trading {
        /// CSV/Parquet with one numeric column of per-period returns.
        #[arg(long)]
        returns: PathBuf,
        /// Periods per year (252 daily, 52 weekly, 12 monthly, 6240 hourly FX).
        #[arg(long, default_value_t = 252.0)]
        periods_per_year: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Probabilistic Sharpe ratio and minimum track record length.
    Psr {
        #[command(flatten)]
        input: SrInput,
        /// Benchmark Sharpe ratio SR* (per period).
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        benchmark: f64,
        /// Significance level for the minimum track record length.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Deflated Sharpe ratio: PSR against the best of N unskilled trials.
    Dsr {
        #[command(flatten)]
        input: SrInput,
        /// Number of (independent) trials behind the selection.
        #[arg(long)]
        n_trials: usize,
        /// Variance of the trials' per-period Sharpe ratios.
        #[arg(long)]
        sr_variance: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Probability of backtest overfitting by CSCV.
    Pbo {
        /// CSV/Parquet: rows = periods, numeric columns = configurations' returns.
        #[arg(long)]
        matrix: PathBuf,
        /// Even number of blocks S (16 in the paper).
        #[arg(long, default_value_t = 16)]
        blocks: usize,
        /// Performance measure: sharpe (per period) or sum.
        #[arg(long, default_value = "sharpe")]
        metric: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

fn numeric_columns(path: &Path) -> Result<Vec<(String, Vec<f64>)>, CliError> {
    let t = table::load(path, &[]).map_err(|e| CliError::runtime(e.to_string()))?;
    let cols: Vec<(String, Vec<f64>)> = t
        .columns
        .iter()
        .filter_map(|c| match &c.values {
            ColumnValues::Numeric(v) => Some((c.name.clone(), v.clone())),
            ColumnValues::Text(_) => None,
        })
        .collect();
    for (name, v) in &cols {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(CliError::runtime(format!(
                "{}: {}: column `{name}` is missing or not finite",
                path.display(),
                t.location(i)
            )));
        }
    }
    Ok(cols)
}

fn returns(path: &Path) -> Result<Vec<f64>, CliError> {
    let mut cols = numeric_columns(path)?;
    match cols.len() {
        1 => Ok(cols.remove(0).1),
        0 => Err(CliError::usage(format!(
            "{}: no numeric column of returns",
            path.display()
        ))),
        n => Err(CliError::usage(format!(
            "{}: expected one numeric column of returns, found {n} ({})",
            path.display(),
            cols.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// (sr, T, skew, kurtosis, where they came from)
fn sr_inputs(i: &SrInput) -> Result<(f64, usize, f64, f64, Value), CliError> {
    let stat = |e: hone_validate::ValidateError| CliError::runtime(e.to_string());
    match (&i.returns, i.sr) {
        (Some(path), None) => {
            if i.n_obs.is_some() || i.skew.is_some() || i.kurtosis.is_some() {
                return Err(CliError::usage(
                    "--returns computes n-obs, skew and kurtosis itself; drop those flags",
                ));
            }
            let r = returns(path)?;
            let (sr, skew, kurt) = stats::moments(&r).map_err(stat)?;
            Ok((sr, r.len(), skew, kurt, json!({"returns": path})))
        }
        (None, Some(sr)) => {
            let t = i
                .n_obs
                .ok_or_else(|| CliError::usage("--sr needs --n-obs"))?;
            let (skew, kurt) = (i.skew.unwrap_or(0.0), i.kurtosis.unwrap_or(3.0));
            Ok((sr, t, skew, kurt, json!({"summary": true})))
        }
        _ => Err(CliError::usage(
            "give either --returns FILE or --sr X --n-obs T [--skew S --kurtosis K]",
        )),
    }
}

fn out(json_out: bool, v: Value) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if let Value::Object(m) = v {
        for (k, v) in m {
            println!("{k:<24} {v}");
        }
    }
}

/// Runs a stats subcommand.
pub fn stats(args: StatsArgs) -> Result<(), CliError> {
    let stat = |e: hone_validate::ValidateError| CliError::runtime(e.to_string());
    match args.cmd {
        StatsCmd::Trading {
            returns: path,
            periods_per_year,
            json: j,
        } => {
            let r = returns(&path)?;
            let m = stats::trading_metrics(&r, periods_per_year).map_err(stat)?;
            out(j, serde_json::to_value(&m).unwrap_or_default());
        }
        StatsCmd::Psr {
            input,
            benchmark,
            alpha,
            json: j,
        } => {
            let (sr, t, skew, kurt, source) = sr_inputs(&input)?;
            let p = stats::psr(sr, benchmark, t, skew, kurt).map_err(stat)?;
            let min_trl = stats::min_track_record(sr, benchmark, skew, kurt, alpha).ok();
            out(
                j,
                json!({"psr": p, "min_track_record": min_trl, "sr": sr, "benchmark": benchmark,
                       "n_obs": t, "skew": skew, "kurtosis": kurt, "alpha": alpha, "input": source,
                       "meaning": format!("probability that the true per-period Sharpe ratio exceeds {benchmark}")}),
            );
        }
        StatsCmd::Dsr {
            input,
            n_trials,
            sr_variance,
            json: j,
        } => {
            let (sr, t, skew, kurt, source) = sr_inputs(&input)?;
            let (d, sr0) = stats::dsr(sr, t, skew, kurt, n_trials, sr_variance).map_err(stat)?;
            out(
                j,
                json!({"dsr": d, "sr0": sr0, "sr": sr, "n_obs": t, "skew": skew, "kurtosis": kurt,
                       "n_trials": n_trials, "sr_variance": sr_variance, "input": source,
                       "significant_at_5pct": d >= 0.95}),
            );
        }
        StatsCmd::Pbo {
            matrix,
            blocks,
            metric,
            json: j,
        } => {
            let metric = match metric.as_str() {
                "sharpe" => PboMetric::Sharpe,
                "sum" => PboMetric::Sum,
                other => {
                    return Err(CliError::usage(format!(
                        "--metric must be sharpe or sum, got {other:?}"
                    )));
                }
            };
            let cols = numeric_columns(&matrix)?;
            if cols.len() < 2 {
                return Err(CliError::usage(format!(
                    "{}: PBO needs at least 2 numeric columns (configurations)",
                    matrix.display()
                )));
            }
            let t = cols[0].1.len();
            let m: Vec<Vec<f64>> = (0..t)
                .map(|i| cols.iter().map(|(_, c)| c[i]).collect())
                .collect();
            let r = stats::pbo(&m, blocks, metric).map_err(|e| CliError::usage(e.to_string()))?;
            out(
                j,
                json!({"pbo": r.pbo, "combinations": r.combinations, "dropped_rows": r.dropped_rows,
                       "degradation_slope": r.degradation_slope, "prob_oos_loss": r.prob_oos_loss,
                       "configurations": cols.len(), "periods": t, "blocks": blocks}),
            );
        }
    }
    Ok(())
}
