//! `hone stats`: trading metrics and overfitting-aware statistics on returns from any source.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hone_train::analysis;
use hone_validate::ValidateError;
use hone_validate::stats::{self, PboMetric};
use serde_json::{Value, json};

use crate::CliError;

/// `hone stats ...`
#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(subcommand)]
    cmd: StatsCmd,
}

/// Which column of a `--returns` file to read, and whether it is an equity curve.
#[derive(Args, Debug, Clone)]
struct ColumnArgs {
    /// The column of per-period returns in --returns (default: the only numeric column, or the
    /// one named strategy_return, returns or return, as in hone's own equity_*.csv).
    #[arg(long, requires = "returns")]
    column: Option<String>,
    /// The column is an equity curve (a value per period), not returns: use its
    /// period-over-period changes e[t]/e[t-1] − 1 (one fewer than its values).
    #[arg(long, requires = "returns")]
    equity: bool,
}

impl ColumnArgs {
    fn which(&self) -> analysis::ReturnsColumn<'_> {
        analysis::ReturnsColumn {
            column: self.column.as_deref(),
            equity: self.equity,
        }
    }
}

/// Where the Sharpe ratio and moments come from: a returns file, or summary statistics.
#[derive(Args, Debug, Clone)]
struct SrInput {
    /// CSV/Parquet of per-period returns (see --column).
    #[arg(long)]
    returns: Option<PathBuf>,
    #[command(flatten)]
    column: ColumnArgs,
    /// Per-period (not annualised) Sharpe ratio, instead of --returns.
    #[arg(long, allow_hyphen_values = true)]
    sr: Option<f64>,
    /// Number of returns behind --sr.
    #[arg(long)]
    n_obs: Option<usize>,
    /// Skewness of the returns [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    skew: Option<f64>,
    /// Non-excess kurtosis of the returns (normal = 3; at least skew² + 1) [default: 3].
    #[arg(long, allow_hyphen_values = true)]
    kurtosis: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum StatsCmd {
    /// Sharpe, Sortino, volatility, CAGR, max drawdown, Calmar, win rate, profit factor.
    Trading {
        /// CSV/Parquet of per-period returns (see --column), e.g. a run's equity_cv.csv.
        #[arg(long)]
        returns: PathBuf,
        #[command(flatten)]
        column: ColumnArgs,
        /// Periods per year (252 daily, 52 weekly, 12 monthly, 6240 hourly FX).
        #[arg(long, default_value_t = 252.0, allow_hyphen_values = true)]
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
        /// Significance level for the minimum track record length, in (0, 1).
        #[arg(long, default_value_t = 0.05, allow_hyphen_values = true)]
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
        #[arg(long, allow_hyphen_values = true)]
        sr_variance: f64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Diebold–Mariano test (HLN-corrected) of two forecasts: FILE has y_true, pred_a, pred_b.
    Dm {
        /// CSV/Parquet with columns y_true, pred_a, pred_b.
        #[arg(long)]
        input: PathBuf,
        /// Loss: squared or absolute.
        #[arg(long, default_value = "squared")]
        loss: String,
        /// Forecast horizon h (lags 0..h-1).
        #[arg(long, default_value_t = 1)]
        horizon: usize,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Nadeau–Bengio corrected resampled t-test: FILE has a, b (scores per resample).
    NbTtest {
        /// CSV/Parquet with columns a, b.
        #[arg(long)]
        input: PathBuf,
        /// Training rows per resample.
        #[arg(long)]
        n_train: usize,
        /// Test rows per resample.
        #[arg(long)]
        n_test: usize,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// McNemar test: FILE has y_true, pred_a, pred_b (class labels).
    Mcnemar {
        /// CSV/Parquet with columns y_true, pred_a, pred_b.
        #[arg(long)]
        input: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// DeLong test of two correlated ROC AUCs: FILE has y_true (0/1), score_a, score_b.
    Delong {
        /// CSV/Parquet with columns y_true, score_a, score_b.
        #[arg(long)]
        input: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Paired bootstrap interval of mean(a − b): FILE has a, b.
    Bootstrap {
        /// CSV/Parquet with columns a, b.
        #[arg(long)]
        input: PathBuf,
        /// Resamples.
        #[arg(long, default_value_t = 10_000)]
        n_boot: usize,
        /// Confidence level, in (0, 1).
        #[arg(long, default_value_t = 0.95, allow_hyphen_values = true)]
        confidence: f64,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Wilcoxon signed-rank test of paired a − b: FILE has a, b.
    Wilcoxon {
        /// CSV/Parquet with columns a, b.
        #[arg(long)]
        input: PathBuf,
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

/// The command-line flag of a library setting: `test_size` and `split.test_size` are
/// `--test-size`.
pub(crate) fn flag(name: &str) -> String {
    let key = name.strip_prefix("split.").unwrap_or(name);
    format!("--{}", key.replace('_', "-"))
}

/// Maps a library error to the CLI's. A setting out of range is bad usage, named by its flag;
/// any other error becomes `other` (usage or runtime, as the command decides).
pub(crate) fn flag_error(e: ValidateError, other: fn(String) -> CliError) -> CliError {
    match e {
        ValidateError::InvalidParameter { name, reason } => {
            CliError::usage(format!("{} {reason}", flag(&name)))
        }
        e => other(e.to_string()),
    }
}

fn test_out(j: bool, r: hone_validate::compare::TestResult, meaning: String) {
    let mut v =
        json!({"test": r.test, "statistic": r.statistic, "p_value": r.p_value, "effect": r.effect});
    for (k, x) in &r.details {
        v[k.as_str()] = json!(x);
    }
    v["meaning"] = json!(meaning);
    out(j, v);
}

/// A library error as a CLI error: a statistic's refused setting names its flag, its other
/// refusals take `other`'s exit code.
fn train_error(e: hone_train::TrainError, other: fn(String) -> CliError) -> CliError {
    match e {
        hone_train::TrainError::Stat(e) => flag_error(e, other),
        e => e.into(),
    }
}

/// (sr, T, skew, kurtosis, where they came from)
fn sr_inputs(i: &SrInput) -> Result<(f64, usize, f64, f64, Value), CliError> {
    let stat = |e| train_error(e, CliError::runtime);
    match (&i.returns, i.sr) {
        (Some(path), None) => {
            if i.n_obs.is_some() || i.skew.is_some() || i.kurtosis.is_some() {
                return Err(CliError::usage(
                    "--returns computes n-obs, skew and kurtosis itself; drop those flags",
                ));
            }
            let (sr, n, skew, kurt, column) =
                analysis::sharpe_inputs(path, i.column.which()).map_err(stat)?;
            Ok((
                sr,
                n,
                skew,
                kurt,
                json!({"returns": path, "column": column, "equity": i.column.equity}),
            ))
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
            // Six significant digits for numbers that are not integers (counts stay exact).
            match v.as_f64() {
                Some(x) if v.is_f64() => println!("{k:<24} {}", crate::render::num(x)),
                _ => println!("{k:<24} {v}"),
            }
        }
    }
}

/// Runs a stats subcommand.
pub fn stats(args: StatsArgs) -> Result<(), CliError> {
    let stat = |e| flag_error(e, CliError::runtime);
    let run = |e| train_error(e, CliError::runtime);
    match args.cmd {
        StatsCmd::Trading {
            returns: path,
            column,
            periods_per_year,
            json: j,
        } => {
            let (name, r) = analysis::read_returns(&path, column.which()).map_err(run)?;
            let m = stats::trading_metrics(&r, periods_per_year).map_err(stat)?;
            let mut v = serde_json::to_value(&m).unwrap_or_default();
            // Which column was read (the one chosen when --column was not given).
            v["returns_column"] = json!(name);
            out(j, v);
        }
        StatsCmd::Psr {
            input,
            benchmark,
            alpha,
            json: j,
        } => {
            let (sr, t, skew, kurt, source) = sr_inputs(&input)?;
            let p = stats::psr(sr, benchmark, t, skew, kurt).map_err(stat)?;
            // Undefined (the Sharpe ratio does not beat the benchmark) is a null; a bad setting
            // such as --alpha 2 is an error.
            let min_trl = match stats::min_track_record(sr, benchmark, skew, kurt, alpha) {
                Ok(v) => Some(v),
                Err(e @ ValidateError::InvalidParameter { .. }) => return Err(stat(e)),
                Err(_) => None,
            };
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
        StatsCmd::Dm {
            input,
            loss,
            horizon,
            json: j,
        } => {
            let (r, m) = analysis::diebold_mariano(&input, &loss, horizon).map_err(run)?;
            test_out(j, r, m);
        }
        StatsCmd::NbTtest {
            input,
            n_train,
            n_test,
            json: j,
        } => {
            let (r, m) = analysis::nadeau_bengio(&input, n_train, n_test).map_err(run)?;
            test_out(j, r, m);
        }
        StatsCmd::Mcnemar { input, json: j } => {
            let (r, m) = analysis::mcnemar(&input).map_err(run)?;
            test_out(j, r, m);
        }
        StatsCmd::Delong { input, json: j } => {
            let (r, m) = analysis::delong(&input).map_err(run)?;
            test_out(j, r, m);
        }
        StatsCmd::Bootstrap {
            input,
            n_boot,
            confidence,
            seed,
            json: j,
        } => {
            let (r, m) = analysis::bootstrap(&input, n_boot, confidence, seed)
                .map_err(|e| train_error(e, CliError::usage))?;
            test_out(j, r, m);
        }
        StatsCmd::Wilcoxon { input, json: j } => {
            let (r, m) = analysis::wilcoxon(&input).map_err(run)?;
            test_out(j, r, m);
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
            let (r, configurations, t) = analysis::pbo(&matrix, blocks, metric)
                .map_err(|e| train_error(e, CliError::usage))?;
            out(
                j,
                json!({"pbo": r.pbo, "combinations": r.combinations, "dropped_rows": r.dropped_rows,
                       "degradation_slope": r.degradation_slope, "prob_oos_loss": r.prob_oos_loss,
                       "configurations": configurations, "periods": t, "blocks": blocks}),
            );
        }
    }
    Ok(())
}

/// `hone drift`
#[derive(Args, Debug)]
pub struct DriftArgs {
    /// Reference data (CSV/Parquet), e.g. the training period.
    #[arg(long)]
    reference: PathBuf,
    /// Current data (CSV/Parquet), e.g. the latest period.
    #[arg(long)]
    current: PathBuf,
    /// Only these columns (repeatable; default: every column both files share).
    #[arg(long)]
    column: Vec<String>,
    /// Share of drifted columns that makes the dataset drifted, in (0, 1] (Evidently: 0.5).
    #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
    drift_share: f64,
    /// Test for every column, by Evidently's name: auto (Evidently's default per column), ks,
    /// wasserstein, psi, kl_div, jensenshannon, chisquare, z.
    #[arg(long, default_value = "auto")]
    method: String,
    /// Drift threshold for the test (default: Evidently's, 0.05 for p-values, 0.1 otherwise).
    #[arg(long, allow_hyphen_values = true)]
    threshold: Option<f64>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Per-column drift with Evidently's default tests, and the dataset verdict.
pub fn drift(args: DriftArgs) -> Result<(), CliError> {
    use hone_validate::drift::{DriftMethod, check_drift_share, check_threshold, dataset_drift};
    let method = DriftMethod::parse(&args.method).ok_or_else(|| {
        let names: Vec<&str> = DriftMethod::ALL.iter().map(|m| m.name()).collect();
        CliError::usage(format!(
            "--method {:?}: unknown test (choose from {})",
            args.method,
            names.join(", ")
        ))
    })?;
    // Settings first, so that a bad flag is named before any file is read.
    let usage = |e| flag_error(e, CliError::usage);
    check_drift_share(args.drift_share).map_err(usage)?;
    if let Some(t) = args.threshold {
        check_threshold(method, t).map_err(usage)?;
    }
    let (results, skipped) = analysis::drift(
        &args.reference,
        &args.current,
        &args.column,
        method,
        args.threshold,
    )
    .map_err(|e| train_error(e, CliError::runtime))?;
    let (share, drifted) = dataset_drift(&results, args.drift_share);
    if args.json {
        out(
            true,
            json!({"columns": results, "drifted_share": share, "dataset_drift": drifted,
                   "drift_share_threshold": args.drift_share, "skipped": skipped}),
        );
    } else {
        println!(
            "{:<24} {:<12} {:<14} {:>12} {:>9} {:>8} {:>11}",
            "column", "kind", "method", "score", "threshold", "drift", "psi"
        );
        for d in &results {
            println!(
                "{:<24} {:<12} {:<14} {:>12} {:>9} {:>8} {:>11}",
                d.column,
                d.kind,
                d.method,
                crate::render::num(d.score),
                crate::render::num(d.threshold),
                if d.drifted { "yes" } else { "no" },
                crate::render::num(d.psi)
            );
        }
        if !skipped.is_empty() {
            println!(
                "skipped (times and ids; name them with --column to test them): {}",
                skipped.join(", ")
            );
        }
        println!(
            "dataset: {:.0}% of columns drifted → {}",
            share * 100.0,
            if drifted { "DRIFT" } else { "no drift" }
        );
    }
    Ok(())
}
