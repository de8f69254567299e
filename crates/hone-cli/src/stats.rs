//! `hone stats`: trading metrics and overfitting-aware statistics on returns from any source.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hone_data::table::{self, ColumnValues};
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
    /// Non-excess kurtosis of the returns (normal = 3; at least skew² + 1) [default: 3].
    #[arg(long, allow_hyphen_values = true)]
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

/// The named numeric columns of a file, in the order asked.
fn columns(path: &Path, names: &[&str]) -> Result<Vec<Vec<f64>>, CliError> {
    let cols = numeric_columns(path)?;
    names
        .iter()
        .map(|n| {
            cols.iter()
                .find(|(c, _)| c == n)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    CliError::usage(format!(
                        "{}: needs a numeric column `{n}` (columns: {})",
                        path.display(),
                        cols.iter()
                            .map(|(c, _)| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
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

fn verdict(p: f64) -> &'static str {
    if p < 0.01 {
        "a strong difference (p < 0.01)"
    } else if p < 0.05 {
        "a significant difference at 5%"
    } else {
        "no significant difference at 5%"
    }
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
    let stat = |e| flag_error(e, CliError::runtime);
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
    let stat = |e| flag_error(e, CliError::runtime);
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
            let c = columns(&input, &["y_true", "pred_a", "pred_b"])?;
            let l = |e: f64| -> Result<f64, CliError> {
                match loss.as_str() {
                    "squared" => Ok(e * e),
                    "absolute" => Ok(e.abs()),
                    other => Err(CliError::usage(format!(
                        "--loss must be squared or absolute, got {other:?}"
                    ))),
                }
            };
            let d = (0..c[0].len())
                .map(|i| Ok(l(c[0][i] - c[1][i])? - l(c[0][i] - c[2][i])?))
                .collect::<Result<Vec<_>, CliError>>()?;
            let r = hone_validate::compare::diebold_mariano(&d, horizon).map_err(stat)?;
            let better = if r.effect < 0.0 { "A" } else { "B" };
            let m = format!(
                "mean {loss} loss difference A − B = {:.6}: {}; forecast {better} has the lower loss",
                r.effect,
                verdict(r.p_value)
            );
            test_out(j, r, m);
        }
        StatsCmd::NbTtest {
            input,
            n_train,
            n_test,
            json: j,
        } => {
            let c = columns(&input, &["a", "b"])?;
            let r = hone_validate::compare::nadeau_bengio(&c[0], &c[1], n_train, n_test)
                .map_err(stat)?;
            let m = format!(
                "mean score difference A − B = {:.6}: {}",
                r.effect,
                verdict(r.p_value)
            );
            test_out(j, r, m);
        }
        StatsCmd::Mcnemar { input, json: j } => {
            let c = columns(&input, &["y_true", "pred_a", "pred_b"])?;
            let (mut b, mut cc) = (0u64, 0u64);
            for ((y, a), p) in c[0].iter().zip(&c[1]).zip(&c[2]) {
                let (ra, rb) = (a == y, p == y);
                if ra && !rb {
                    b += 1;
                } else if !ra && rb {
                    cc += 1;
                }
            }
            let r = hone_validate::compare::mcnemar(b, cc).map_err(stat)?;
            let m = format!(
                "A alone right on {b} rows, B alone right on {cc}: {}",
                verdict(r.p_value)
            );
            test_out(j, r, m);
        }
        StatsCmd::Delong { input, json: j } => {
            let c = columns(&input, &["y_true", "score_a", "score_b"])?;
            let r = hone_validate::compare::delong(&c[0], &c[1], &c[2]).map_err(stat)?;
            let m = format!(
                "AUC difference A − B = {:.6}: {}",
                r.effect,
                verdict(r.p_value)
            );
            test_out(j, r, m);
        }
        StatsCmd::Bootstrap {
            input,
            n_boot,
            confidence,
            seed,
            json: j,
        } => {
            let c = columns(&input, &["a", "b"])?;
            let r =
                hone_validate::compare::paired_bootstrap(&c[0], &c[1], n_boot, confidence, seed)
                    .map_err(|e| flag_error(e, CliError::usage))?;
            let lo = r
                .details
                .iter()
                .find(|(k, _)| k == "ci_low")
                .map_or(f64::NAN, |x| x.1);
            let hi = r
                .details
                .iter()
                .find(|(k, _)| k == "ci_high")
                .map_or(f64::NAN, |x| x.1);
            let m = format!(
                "mean difference A − B = {:.6}, {:.0}% interval [{lo:.6}, {hi:.6}]{}",
                r.effect,
                confidence * 100.0,
                if lo > 0.0 || hi < 0.0 {
                    ": excludes 0"
                } else {
                    ": includes 0"
                }
            );
            test_out(j, r, m);
        }
        StatsCmd::Wilcoxon { input, json: j } => {
            let c = columns(&input, &["a", "b"])?;
            let d: Vec<f64> = c[0].iter().zip(&c[1]).map(|(a, b)| a - b).collect();
            let r = hone_validate::compare::wilcoxon(&d).map_err(stat)?;
            let m = format!("median-type comparison of A − B: {}", verdict(r.p_value));
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
            let r = stats::pbo(&m, blocks, metric).map_err(|e| flag_error(e, CliError::usage))?;
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
    use hone_validate::drift::{
        ColumnSample, DriftMethod, check_drift_share, check_threshold, column_drift_with,
        dataset_drift,
    };
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
    let load = |p: &Path| table::load(p, &[]).map_err(|e| CliError::runtime(e.to_string()));
    let (r, c) = (load(&args.reference)?, load(&args.current)?);
    let names: Vec<String> = if args.column.is_empty() {
        r.columns
            .iter()
            .filter(|col| c.columns.iter().any(|x| x.name == col.name))
            .map(|col| col.name.clone())
            .collect()
    } else {
        args.column.clone()
    };
    if names.is_empty() {
        return Err(CliError::usage("the two files share no column"));
    }
    let mut results = Vec::new();
    for name in &names {
        let (rc, cc) = (
            r.column(name).map_err(|e| CliError::usage(e.to_string()))?,
            c.column(name).map_err(|e| CliError::usage(e.to_string()))?,
        );
        let d = match (&rc.values, &cc.values) {
            (ColumnValues::Numeric(a), ColumnValues::Numeric(b)) => {
                let a: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
                let b: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
                column_drift_with(name, ColumnSample::Numeric(&a, &b), method, args.threshold)
            }
            _ => {
                let a: Vec<String> = (0..r.n_rows).map(|i| rc.text_at(i)).collect();
                let b: Vec<String> = (0..c.n_rows).map(|i| cc.text_at(i)).collect();
                column_drift_with(
                    name,
                    ColumnSample::Categorical(&a, &b),
                    method,
                    args.threshold,
                )
            }
        }
        .map_err(|e| flag_error(e, CliError::runtime))?;
        results.push(d);
    }
    let (share, drifted) = dataset_drift(&results, args.drift_share);
    if args.json {
        out(
            true,
            json!({"columns": results, "drifted_share": share, "dataset_drift": drifted,
                   "drift_share_threshold": args.drift_share}),
        );
    } else {
        println!(
            "{:<24} {:<12} {:<14} {:>12} {:>9} {:>8} {:>8}",
            "column", "kind", "method", "score", "threshold", "drift", "psi"
        );
        for d in &results {
            println!(
                "{:<24} {:<12} {:<14} {:>12.6} {:>9} {:>8} {:>8.4}",
                d.column,
                d.kind,
                d.method,
                d.score,
                d.threshold,
                if d.drifted { "yes" } else { "no" },
                d.psi
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
