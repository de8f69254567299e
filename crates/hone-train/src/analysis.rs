//! Statistics on files from any source (`hone stats`, `hone drift`, `hone split --labels`):
//! reading the columns they need and running the tests of `hone_validate` on them, with a
//! verdict in words. The CLI parses flags and prints; a server can call the same functions.
//!
//! Errors: a file that cannot be used is [`TrainError::Invalid`] (or [`TrainError::Config`]
//! when a required column is missing); a statistic that refuses its input or a setting is
//! [`TrainError::Stat`], whose parameter name the caller can turn into its own flag.

use std::collections::BTreeMap;
use std::path::Path;

use hone_data::table::{self, ColumnValues};
use hone_validate::ValidateError;
use hone_validate::compare::{self, TestResult};
use hone_validate::drift::{ColumnDrift, ColumnSample, DriftMethod, column_drift_with};
use hone_validate::stats::{self, PboMetric, PboReport};

use crate::TrainError;

fn stat(e: ValidateError) -> TrainError {
    TrainError::Stat(e)
}

/// Every numeric column of a CSV or Parquet file, in file order; a missing or non-finite
/// value is an error naming its line.
pub fn numeric_columns(path: &Path) -> Result<Vec<(String, Vec<f64>)>, TrainError> {
    let t = table::load(path, &[]).map_err(|e| TrainError::Invalid(e.to_string()))?;
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
            return Err(TrainError::Invalid(format!(
                "{}: {}: column `{name}` is missing or not finite",
                path.display(),
                t.location(i)
            )));
        }
    }
    Ok(cols)
}

/// The named numeric columns of a file, in the order asked.
pub fn columns(path: &Path, names: &[&str]) -> Result<Vec<Vec<f64>>, TrainError> {
    let cols = numeric_columns(path)?;
    names
        .iter()
        .map(|n| {
            cols.iter()
                .find(|(c, _)| c == n)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    TrainError::Config(format!(
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

/// Which column of a file holds the returns, and what it holds (`hone stats trading|psr|dsr
/// --returns FILE [--column NAME] [--equity]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReturnsColumn<'a> {
    /// The column's name; `None`: the file's only numeric column, or else the one named like
    /// returns ([`RETURN_COLUMN_NAMES`]: `strategy_return` in hone's own `equity_*.csv`).
    pub column: Option<&'a str>,
    /// The column is an equity curve (a value per period) rather than returns: the returns are
    /// its period-over-period changes `e[t] / e[t-1] - 1`, one fewer than its values.
    pub equity: bool,
}

/// Column names taken as the returns when a file has several numeric columns and no
/// `--column`: `strategy_return` is the strategy's per-period return in the `equity_cv.csv` and
/// `equity_holdout.csv` that `hone train` writes (beside `position`, `asset_return` and
/// `equity`), so that those files can be fed straight back in.
pub const RETURN_COLUMN_NAMES: [&str; 3] = ["strategy_return", "returns", "return"];

/// The per-period returns in a CSV or Parquet file, from the column `which` names (see
/// [`ReturnsColumn`]). A missing column is a [`TrainError::Config`] naming the file, the nearest
/// column names and every numeric column; so is a file with several numeric columns and none
/// named like returns. A missing or non-finite value in the chosen column is an error naming
/// its line; the other columns may hold anything.
pub fn returns_in(path: &Path, which: ReturnsColumn<'_>) -> Result<Vec<f64>, TrainError> {
    read_returns(path, which).map(|(_, r)| r)
}

/// [`returns_in`], with the name of the column it read (the one chosen when no name was given).
pub fn read_returns(
    path: &Path,
    which: ReturnsColumn<'_>,
) -> Result<(String, Vec<f64>), TrainError> {
    let t = table::load(path, &[]).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let numeric: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| matches!(c.values, ColumnValues::Numeric(_)))
        .map(|c| c.name.as_str())
        .collect();
    let listed = |names: &[&str]| -> String {
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };
    let name = match which.column {
        Some(name) => {
            if t.columns.iter().all(|c| c.name != name) {
                let all: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
                let hint = hone_models::suggest::nearest(name, all.iter().copied())
                    .map_or(String::new(), |n| format!("did you mean `{n}`? "));
                return Err(TrainError::Config(format!(
                    "{}: no column `{name}` for --column ({hint}numeric columns: {})",
                    path.display(),
                    listed(&numeric)
                )));
            }
            name
        }
        None => match numeric.as_slice() {
            [only] => *only,
            [] => {
                return Err(TrainError::Config(format!(
                    "{}: no numeric column of returns",
                    path.display()
                )));
            }
            several => {
                let named: Vec<&str> = several
                    .iter()
                    .copied()
                    .filter(|n| RETURN_COLUMN_NAMES.contains(n))
                    .collect();
                match named.as_slice() {
                    [one] => *one,
                    _ => {
                        return Err(TrainError::Config(format!(
                            "{}: {} numeric columns and none is clearly the returns; choose one with --column ({})",
                            path.display(),
                            several.len(),
                            listed(several)
                        )));
                    }
                }
            }
        },
    };
    // An equity curve read as returns gives a meaningless Sharpe ratio without any error, so a
    // column called `equity` needs --equity (or another column) to be read at all.
    if !which.equity && name.eq_ignore_ascii_case("equity") {
        return Err(TrainError::Config(format!(
            "{}: column `{name}` is an equity curve, not returns: pass --equity to use its \
             period-over-period changes, or --column strategy_return",
            path.display()
        )));
    }
    let col = t
        .columns
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| TrainError::Config(format!("{}: no column `{name}`", path.display())))?;
    let ColumnValues::Numeric(v) = &col.values else {
        return Err(TrainError::Config(format!(
            "{}: column `{name}` is not numeric (numeric columns: {})",
            path.display(),
            listed(&numeric)
        )));
    };
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(TrainError::Invalid(format!(
            "{}: {}: column `{name}` is missing or not finite",
            path.display(),
            t.location(i)
        )));
    }
    if !which.equity {
        return Ok((name.to_string(), v.clone()));
    }
    if let Some(i) = v.iter().position(|x| *x <= 0.0) {
        return Err(TrainError::Invalid(format!(
            "{}: {}: equity `{name}` must be positive to give returns, got {}",
            path.display(),
            t.location(i),
            v[i]
        )));
    }
    Ok((
        name.to_string(),
        v.windows(2).map(|w| w[1] / w[0] - 1.0).collect(),
    ))
}

/// The one numeric column of a file of returns ([`returns_in`] without a column name).
pub fn returns(path: &Path) -> Result<Vec<f64>, TrainError> {
    returns_in(path, ReturnsColumn::default())
}

/// The Sharpe ratio's inputs read from a file of returns: `(per-period SR, observations,
/// skewness, kurtosis, the column read)`.
pub fn sharpe_inputs(
    path: &Path,
    which: ReturnsColumn<'_>,
) -> Result<(f64, usize, f64, f64, String), TrainError> {
    let (column, r) = read_returns(path, which)?;
    let (sr, skew, kurt) = stats::moments(&r).map_err(stat)?;
    Ok((sr, r.len(), skew, kurt, column))
}

/// Class codes from a one-column file of labels (`hone split --labels`): each distinct value
/// gets the next code in order of first appearance.
pub fn read_labels(path: &Path) -> Result<Vec<u32>, TrainError> {
    let t = table::load(path, &[]).map_err(|e| TrainError::Config(e.to_string()))?;
    if t.columns.len() != 1 {
        return Err(TrainError::Config(format!(
            "{}: --labels needs a CSV with exactly one column, found {}",
            path.display(),
            t.columns.len()
        )));
    }
    let mut codes: BTreeMap<String, u32> = BTreeMap::new();
    let col = &t.columns[0];
    Ok((0..t.n_rows)
        .map(|i| {
            let next = codes.len() as u32;
            *codes.entry(col.text_at(i)).or_insert(next)
        })
        .collect())
}

/// A test's p-value in words.
pub fn verdict(p: f64) -> &'static str {
    if p < 0.01 {
        "a strong difference (p < 0.01)"
    } else if p < 0.05 {
        "a significant difference at 5%"
    } else {
        "no significant difference at 5%"
    }
}

/// A test's result and its meaning in words.
pub type Tested = (TestResult, String);

/// Diebold–Mariano on the forecasts `pred_a`, `pred_b` of `y_true` (columns of `input`) under
/// `loss` (`squared` or `absolute`), `horizon` steps ahead.
pub fn diebold_mariano(input: &Path, loss: &str, horizon: usize) -> Result<Tested, TrainError> {
    let l = |e: f64| -> Result<f64, TrainError> {
        match loss {
            "squared" => Ok(e * e),
            "absolute" => Ok(e.abs()),
            other => Err(TrainError::Config(format!(
                "--loss must be squared or absolute, got {other:?}"
            ))),
        }
    };
    let c = columns(input, &["y_true", "pred_a", "pred_b"])?;
    let d = (0..c[0].len())
        .map(|i| Ok(l(c[0][i] - c[1][i])? - l(c[0][i] - c[2][i])?))
        .collect::<Result<Vec<_>, TrainError>>()?;
    let r = compare::diebold_mariano(&d, horizon).map_err(stat)?;
    let better = if r.effect < 0.0 { "A" } else { "B" };
    let m = format!(
        "mean {loss} loss difference A − B = {:.6}: {}; forecast {better} has the lower loss",
        r.effect,
        verdict(r.p_value)
    );
    Ok((r, m))
}

/// Nadeau–Bengio's corrected t-test on the paired CV scores `a`, `b` of `input`.
pub fn nadeau_bengio(input: &Path, n_train: usize, n_test: usize) -> Result<Tested, TrainError> {
    let c = columns(input, &["a", "b"])?;
    let r = compare::nadeau_bengio(&c[0], &c[1], n_train, n_test).map_err(stat)?;
    let m = format!(
        "mean score difference A − B = {:.6}: {}",
        r.effect,
        verdict(r.p_value)
    );
    Ok((r, m))
}

/// McNemar's test on the hard predictions `pred_a`, `pred_b` of `y_true`.
pub fn mcnemar(input: &Path) -> Result<Tested, TrainError> {
    let c = columns(input, &["y_true", "pred_a", "pred_b"])?;
    let (mut b, mut cc) = (0u64, 0u64);
    for ((y, a), p) in c[0].iter().zip(&c[1]).zip(&c[2]) {
        let (ra, rb) = (a == y, p == y);
        if ra && !rb {
            b += 1;
        } else if !ra && rb {
            cc += 1;
        }
    }
    let r = compare::mcnemar(b, cc).map_err(stat)?;
    let m = format!(
        "A alone right on {b} rows, B alone right on {cc}: {}",
        verdict(r.p_value)
    );
    Ok((r, m))
}

/// DeLong's test of the AUCs of `score_a`, `score_b` for `y_true`.
pub fn delong(input: &Path) -> Result<Tested, TrainError> {
    let c = columns(input, &["y_true", "score_a", "score_b"])?;
    let r = compare::delong(&c[0], &c[1], &c[2]).map_err(stat)?;
    let m = format!(
        "AUC difference A − B = {:.6}: {}",
        r.effect,
        verdict(r.p_value)
    );
    Ok((r, m))
}

/// A paired bootstrap of the mean of `a − b`.
pub fn bootstrap(
    input: &Path,
    n_boot: usize,
    confidence: f64,
    seed: u64,
) -> Result<Tested, TrainError> {
    let c = columns(input, &["a", "b"])?;
    let r = compare::paired_bootstrap(&c[0], &c[1], n_boot, confidence, seed).map_err(stat)?;
    let detail = |name: &str| {
        r.details
            .iter()
            .find(|(k, _)| k == name)
            .map_or(f64::NAN, |x| x.1)
    };
    let (lo, hi) = (detail("ci_low"), detail("ci_high"));
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
    Ok((r, m))
}

/// Wilcoxon's signed-rank test on the pairs `a`, `b`.
pub fn wilcoxon(input: &Path) -> Result<Tested, TrainError> {
    let c = columns(input, &["a", "b"])?;
    let d: Vec<f64> = c[0].iter().zip(&c[1]).map(|(a, b)| a - b).collect();
    let r = compare::wilcoxon(&d).map_err(stat)?;
    let m = format!("median-type comparison of A − B: {}", verdict(r.p_value));
    Ok((r, m))
}

/// PBO by CSCV over a file whose numeric columns are configurations and rows periods: the
/// result, the number of configurations and of periods.
pub fn pbo(
    matrix: &Path,
    blocks: usize,
    metric: PboMetric,
) -> Result<(PboReport, usize, usize), TrainError> {
    let cols = numeric_columns(matrix)?;
    if cols.len() < 2 {
        return Err(TrainError::Config(format!(
            "{}: PBO needs at least 2 numeric columns (configurations)",
            matrix.display()
        )));
    }
    let t = cols[0].1.len();
    let m: Vec<Vec<f64>> = (0..t)
        .map(|i| cols.iter().map(|(_, c)| c[i]).collect())
        .collect();
    let r = stats::pbo(&m, blocks, metric).map_err(stat)?;
    Ok((r, cols.len(), t))
}

/// True for a column that orders or identifies rows rather than describing them: named like a
/// time or an id (`date`, `timestamp`, `id`, `*_id`, `*_time`, `*_date`), or text whose every
/// value is a date or date-time. Its values change by construction: drifting, they say nothing.
fn is_time_or_id(col: &hone_data::Column) -> bool {
    let name = col.name.to_ascii_lowercase();
    let named = ["time", "date", "datetime", "timestamp", "id"].contains(&name.as_str())
        || ["_id", "_time", "_date", "_timestamp"]
            .iter()
            .any(|s| name.ends_with(s));
    let dates = match &col.values {
        ColumnValues::Text(v) => {
            !v.is_empty()
                && v.iter().all(|t| {
                    t.trim().parse::<f64>().is_err()
                        && hone_data::time::parse_timestamp(t).is_some()
                })
        }
        ColumnValues::Numeric(_) => false,
    };
    named || dates
}

/// Drift of each column between two files (`columns`, or every column both share but those
/// that are times or ids, returned apart as skipped): numeric columns (non-finite values left
/// out) or categorical ones, by `method`.
pub fn drift(
    reference: &Path,
    current: &Path,
    columns: &[String],
    method: DriftMethod,
    threshold: Option<f64>,
) -> Result<(Vec<ColumnDrift>, Vec<String>), TrainError> {
    let load = |p: &Path| table::load(p, &[]).map_err(|e| TrainError::Invalid(e.to_string()));
    let (r, c) = (load(reference)?, load(current)?);
    let mut skipped = Vec::new();
    let names: Vec<String> = if columns.is_empty() {
        r.columns
            .iter()
            .filter(|col| c.columns.iter().any(|x| x.name == col.name))
            .filter(|col| {
                let skip = is_time_or_id(col);
                if skip {
                    skipped.push(col.name.clone());
                }
                !skip
            })
            .map(|col| col.name.clone())
            .collect()
    } else {
        columns.to_vec()
    };
    if names.is_empty() {
        return Err(TrainError::Config("the two files share no column".into()));
    }
    let mut results = Vec::new();
    for name in &names {
        let (rc, cc) = (
            r.column(name)
                .map_err(|e| TrainError::Config(e.to_string()))?,
            c.column(name)
                .map_err(|e| TrainError::Config(e.to_string()))?,
        );
        let d = match (&rc.values, &cc.values) {
            (ColumnValues::Numeric(a), ColumnValues::Numeric(b)) => {
                let a: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
                let b: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
                column_drift_with(name, ColumnSample::Numeric(&a, &b), method, threshold)
            }
            _ => {
                let a: Vec<String> = (0..r.n_rows).map(|i| rc.text_at(i)).collect();
                let b: Vec<String> = (0..c.n_rows).map(|i| cc.text_at(i)).collect();
                column_drift_with(name, ColumnSample::Categorical(&a, &b), method, threshold)
            }
        }
        .map_err(stat)?;
        results.push(d);
    }
    Ok((results, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hone drift` leaves out the columns that order or identify rows (they drift by
    /// construction) unless named, and says which.
    #[test]
    fn drift_skips_times_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, start: usize| {
            let mut s = String::from("date,ticker_id,x\n");
            for i in start..start + 60 {
                s.push_str(&format!(
                    "2020-{:02}-{:02},{i},{}\n",
                    1 + i % 12,
                    1 + i % 28,
                    (i % 7) as f64
                ));
            }
            let p = dir.path().join(name);
            std::fs::write(&p, s).unwrap();
            p
        };
        let (r, c) = (write("r.csv", 0), write("c.csv", 500));
        let (cols, skipped) = drift(&r, &c, &[], DriftMethod::Auto, None).unwrap();
        assert_eq!(skipped, vec!["date".to_string(), "ticker_id".to_string()]);
        assert_eq!(
            cols.iter().map(|d| d.column.as_str()).collect::<Vec<_>>(),
            ["x"]
        );
        // Named, a time column is tested.
        let (cols, skipped) =
            drift(&r, &c, &["ticker_id".into()], DriftMethod::Auto, None).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(cols[0].column, "ticker_id");
    }
}
