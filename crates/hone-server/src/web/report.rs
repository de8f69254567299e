//! The run page's report of a `hone train` run, read from the files the job logged as
//! artifacts (through the verified blob store): `metrics.json` (folds, gates, trading metrics
//! with the buy-and-hold benchmark, importances, drift), `equity_holdout.csv` /
//! `equity_cv.csv` (equity and drawdown curves) and `holdout_predictions.csv` (the confusion
//! matrix, or residuals for regression). Nothing is recomputed but what the curves and the
//! matrix need to be drawn.

use serde_json::Value;

use super::number;
use super::svg::{Mark, Plot, Scale, Series, bars};

/// A row of the fold table.
pub struct FoldRow {
    /// `1`, `2`, ... or `final`.
    pub fold: String,
    /// Training rows: count and time span.
    pub train: String,
    /// Test rows: count and time span.
    pub test: String,
    /// One cell per metric of the job.
    pub cells: Vec<String>,
    /// Boosting rounds or epochs run (best one in brackets), when the model has them.
    pub iterations: String,
}

/// A quality gate's result.
pub struct GateRow {
    /// The rule as written (`cv.roc_auc.mean >= 0.52`).
    pub rule: String,
    /// `hard` or `warn`.
    pub level: String,
    /// The value it was checked on.
    pub value: String,
    /// Whether it passed.
    pub passed: bool,
}

/// Drift of one feature between the development and the holdout rows.
pub struct DriftRow {
    /// The feature.
    pub column: String,
    /// The test (`wasserstein`, `chi2`, ...).
    pub method: String,
    /// Its score and threshold.
    pub score: String,
    /// Its threshold.
    pub threshold: String,
    /// The population stability index, when computed.
    pub psi: String,
    /// Whether the feature drifted.
    pub drifted: bool,
}

/// A confusion matrix: rows are true classes, columns predicted ones.
pub struct Confusion {
    /// Class labels.
    pub labels: Vec<String>,
    /// Counts, `rows[true][predicted]`, with the row's label first.
    pub rows: Vec<(String, Vec<(u64, bool)>)>,
}

/// Everything the run page shows of a `hone train` run beyond its metrics.
#[derive(Default)]
pub struct Report {
    /// Metric names, the fold table's columns.
    pub fold_metrics: Vec<String>,
    /// The fold table.
    pub folds: Vec<FoldRow>,
    /// The gates.
    pub gates: Vec<GateRow>,
    /// Trading metrics: the columns' titles and one row per metric.
    pub trading_header: Vec<String>,
    /// Trading metric rows.
    pub trading: Vec<(String, Vec<String>)>,
    /// Equity curves (strategy and buy-and-hold), as SVG.
    pub equity: Vec<(String, String)>,
    /// Drawdown curves, as SVG.
    pub drawdown: Vec<(String, String)>,
    /// The holdout's confusion matrix (classification).
    pub confusion: Option<Confusion>,
    /// Residuals against predictions on the holdout (regression), as SVG.
    pub residuals: Option<String>,
    /// Feature importances as bars, and what they measure.
    pub importances: Option<(String, String)>,
    /// Drift per feature.
    pub drift: Vec<DriftRow>,
}

/// Trading metrics shown, in order, with their labels.
const TRADING: [(&str, &str); 12] = [
    ("sharpe", "Sharpe (annual)"),
    ("sortino", "Sortino"),
    ("annual_return", "annual return"),
    ("annual_volatility", "annual volatility"),
    ("max_drawdown", "max drawdown"),
    ("calmar", "Calmar"),
    ("final_equity", "final equity"),
    ("win_rate", "win rate"),
    ("profit_factor", "profit factor"),
    ("trades", "trades"),
    ("turnover", "turnover"),
    ("psr", "PSR"),
];

fn span(v: &Value) -> String {
    let count = v["count"].as_u64().unwrap_or(0);
    match (v["first_time"].as_str(), v["last_time"].as_str()) {
        (Some(a), Some(b)) => format!("{count} rows, {a} → {b}"),
        _ => format!(
            "{count} rows, {} → {}",
            v["first"].as_u64().unwrap_or(0),
            v["last"].as_u64().unwrap_or(0)
        ),
    }
}

fn num(v: &Value) -> String {
    v.as_f64().map(number).unwrap_or_else(|| "–".into())
}

impl Report {
    /// The report of a run whose `metrics.json` is `metrics`, with its equity files and holdout
    /// predictions when it logged them.
    pub fn build(metrics: &Value, equity: &[(&str, &[u8])], predictions: Option<&[u8]>) -> Report {
        let fold_metrics: Vec<String> = metrics["metrics"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let fold_row = |f: &Value, name: String| FoldRow {
            fold: name,
            train: span(&f["train"]),
            test: span(&f["test"]),
            cells: fold_metrics.iter().map(|m| num(&f["metrics"][m])).collect(),
            iterations: match (f["iterations_run"].as_u64(), f["best_iteration"].as_u64()) {
                (Some(n), Some(b)) if n > 1 => format!("{n} ({b})"),
                (Some(n), _) if n > 1 => n.to_string(),
                _ => String::new(),
            },
        };
        let mut folds: Vec<FoldRow> = metrics["folds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| fold_row(f, f["fold"].to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(h) = metrics["holdout"].as_object() {
            let row = FoldRow {
                fold: "holdout".into(),
                train: span(&metrics["final_model"]["train"]),
                test: span(&h["rows"]),
                cells: fold_metrics.iter().map(|m| num(&h["metrics"][m])).collect(),
                iterations: String::new(),
            };
            folds.push(row);
        }
        let gates = metrics["gates"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|g| GateRow {
                        rule: g["rule"].as_str().unwrap_or("").to_string(),
                        level: g["level"].as_str().unwrap_or("").to_string(),
                        value: num(&g["value"]),
                        passed: g["passed"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut trading_header = Vec::new();
        let mut columns: Vec<&Value> = Vec::new();
        for part in ["cv", "holdout"] {
            let t = &metrics["trading"][part];
            if t.is_object() {
                trading_header.push(format!("strategy ({part})"));
                columns.push(t);
                trading_header.push(format!("buy & hold ({part})"));
                columns.push(&t["buy_and_hold"]);
            }
        }
        let trading = if columns.is_empty() {
            Vec::new()
        } else {
            TRADING
                .iter()
                .map(|(key, label)| {
                    (
                        label.to_string(),
                        columns.iter().map(|c| num(&c[*key])).collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, cells)| cells.iter().any(|c| c != "–"))
                .collect()
        };
        let mut equity_charts = Vec::new();
        let mut drawdown_charts = Vec::new();
        for (name, bytes) in equity {
            if let Some((eq, dd)) = equity_plots(bytes) {
                equity_charts.push((name.to_string(), eq));
                drawdown_charts.push((name.to_string(), dd));
            }
        }
        let task = metrics["task"].as_str().unwrap_or("");
        let classes: Vec<String> = metrics["classes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let (confusion, residuals) = match predictions {
            Some(p) if task == "regression" => (None, residual_plot(p)),
            Some(p) => (confusion(p, &classes), None),
            None => (None, None),
        };
        let importances = metrics["importances"].as_array().and_then(|a| {
            let mut items: Vec<(String, f64)> = a
                .iter()
                .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_f64()?)))
                .collect();
            items.sort_by(|a, b| b.1.total_cmp(&a.1));
            items.truncate(30);
            let kind = metrics["importance_kind"]
                .as_str()
                .unwrap_or("")
                .to_string();
            bars(&items, "importance").map(|svg| (kind, svg))
        });
        let drift = metrics["drift"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| DriftRow {
                        column: d["column"].as_str().unwrap_or("").to_string(),
                        method: d["method"].as_str().unwrap_or("").to_string(),
                        score: num(&d["score"]),
                        threshold: num(&d["threshold"]),
                        psi: num(&d["psi"]),
                        drifted: d["drifted"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Report {
            fold_metrics,
            folds,
            gates,
            trading_header,
            trading,
            equity: equity_charts,
            drawdown: drawdown_charts,
            confusion,
            residuals,
            importances,
            drift,
        }
    }
}

/// Reads named numeric columns of a CSV; rows where one does not parse are skipped.
pub(super) fn columns(bytes: &[u8], names: &[&str]) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().ok()?.clone();
    let idx: Vec<usize> = names
        .iter()
        .map(|n| header.iter().position(|h| h == *n))
        .collect::<Option<_>>()?;
    let time = header.iter().position(|h| h == "time");
    let mut times = Vec::new();
    let mut cols = vec![Vec::new(); names.len()];
    for rec in reader.records() {
        let rec = rec.ok()?;
        let vals: Option<Vec<f64>> = idx
            .iter()
            .map(|&i| rec.get(i).and_then(|v| v.trim().parse().ok()))
            .collect();
        if let Some(vals) = vals {
            for (c, v) in cols.iter_mut().zip(vals) {
                c.push(v);
            }
            times.push(time.and_then(|t| rec.get(t)).unwrap_or("").to_string());
        }
    }
    Some((times, cols))
}

/// The x of each row: its date (ms since the epoch) when every row has one, else its index.
pub(super) fn x_axis(times: &[String]) -> (Vec<f64>, Scale) {
    let dates: Option<Vec<f64>> = times
        .iter()
        .map(|t| {
            chrono::NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis() as f64)
        })
        .collect();
    match dates {
        Some(d) if !d.is_empty() => (d, Scale::Date),
        _ => ((0..times.len()).map(|i| i as f64).collect(), Scale::Number),
    }
}

/// Keeps at most `max` points of a long curve (every k-th, and the last), so a page stays small.
pub(super) fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let k = points.len().div_ceil(max);
    let last = points[points.len() - 1];
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(k).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// The equity curve of the strategy against buy-and-hold, and both drawdowns.
fn equity_plots(bytes: &[u8]) -> Option<(String, String)> {
    let (times, cols) = columns(bytes, &["asset_return", "equity"])?;
    let (xs, scale) = x_axis(&times);
    let mut hold = 1.0;
    let hold_curve: Vec<f64> = cols[0]
        .iter()
        .map(|r| {
            hold *= 1.0 + r;
            hold
        })
        .collect();
    let drawdown = |curve: &[f64]| -> Vec<f64> {
        let mut peak = f64::MIN;
        curve
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                if peak > 0.0 { e / peak - 1.0 } else { 0.0 }
            })
            .collect()
    };
    let pts = |ys: &[f64]| thin(xs.iter().copied().zip(ys.iter().copied()).collect(), 800);
    let mut eq = Plot::wide(vec![
        Series::new("s1 hold", Mark::Line, pts(&hold_curve)),
        Series::new("s0", Mark::Line, pts(&cols[1])),
    ]);
    eq.x_scale = scale;
    eq.y_rule = Some(1.0);
    eq.y_title = "equity".into();
    let mut dd = Plot::wide(vec![
        Series::new("s1 hold", Mark::Line, pts(&drawdown(&hold_curve))),
        Series::new("s0", Mark::Line, pts(&drawdown(&cols[1]))),
    ]);
    dd.x_scale = scale;
    dd.y_rule = Some(0.0);
    dd.y_title = "drawdown".into();
    dd.height = 160.0;
    Some((eq.render()?, dd.render()?))
}

/// The holdout's confusion matrix from `y_true` and `y_pred` (class indices).
fn confusion(bytes: &[u8], classes: &[String]) -> Option<Confusion> {
    /// The most classes a matrix is drawn for.
    const MAX_CLASSES: usize = 50;
    let (_, cols) = columns(bytes, &["y_true", "y_pred"])?;
    // A class is a small whole number; anything else (a damaged or foreign file) draws none.
    let class =
        |v: f64| (v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES as f64).then_some(v as usize);
    let pairs: Option<Vec<(usize, usize)>> = cols[0]
        .iter()
        .zip(&cols[1])
        .map(|(t, p)| Some((class(*t)?, class(*p)?)))
        .collect();
    let pairs = pairs?;
    let n = classes
        .len()
        .max(pairs.iter().map(|(t, p)| t.max(p) + 1).max().unwrap_or(0));
    if n == 0 || n > MAX_CLASSES {
        return None;
    }
    let mut counts = vec![vec![0u64; n]; n];
    for (t, p) in pairs {
        counts[t][p] += 1;
    }
    let labels: Vec<String> = (0..n)
        .map(|i| classes.get(i).cloned().unwrap_or_else(|| i.to_string()))
        .collect();
    Some(Confusion {
        rows: counts
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    labels[i].clone(),
                    r.into_iter()
                        .enumerate()
                        .map(|(j, c)| (c, i == j))
                        .collect(),
                )
            })
            .collect(),
        labels,
    })
}

/// Residuals (truth − prediction) against predictions on the holdout.
fn residual_plot(bytes: &[u8]) -> Option<String> {
    let (_, cols) = columns(bytes, &["y_true", "y_pred"])?;
    let pts: Vec<(f64, f64)> = cols[1]
        .iter()
        .zip(&cols[0])
        .map(|(p, t)| (*p, t - p))
        .collect();
    let mut plot = Plot::wide(vec![Series::new("s0", Mark::Dots, thin(pts, 2000))]);
    plot.y_rule = Some(0.0);
    plot.x_title = "prediction".into();
    plot.y_title = "residual".into();
    plot.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equity_and_drawdown_come_from_the_equity_file() {
        let csv = b"time,position,asset_return,strategy_return,equity\n\
            2020-01-01,1,0.1,0.1,1.1\n2020-01-02,1,-0.5,-0.5,0.55\n2020-01-03,0,0.2,0,0.55\n";
        let (eq, dd) = equity_plots(csv).unwrap();
        assert!(eq.contains("2020-01-01") && eq.contains("2020-01-03"));
        // The strategy's drawdown bottoms at 0.55 / 1.1 - 1 = -0.5.
        assert!(dd.contains(">-0.5<"), "{dd}");
    }

    #[test]
    fn the_confusion_matrix_counts_truth_against_prediction() {
        let csv =
            b"time,y_true,y_score,y_pred\na,1,0.9,1\nb,0,0.8,1\nc,0,0.1,0\nd,1,0.2,0\ne,1,0.7,1\n";
        let c = confusion(csv, &["down".into(), "up".into()]).unwrap();
        assert_eq!(c.labels, ["down", "up"]);
        let counts: Vec<Vec<u64>> = c
            .rows
            .iter()
            .map(|(_, r)| r.iter().map(|(n, _)| *n).collect())
            .collect();
        assert_eq!(counts, [[1, 1], [1, 2]]);
        // A file whose labels are not classes draws no matrix (and never panics).
        for bad in [
            "y_true,y_pred\n1e300,1\n",
            "y_true,y_pred\n0.5,1\n",
            "y_true,y_pred\n-1,0\n",
        ] {
            assert!(confusion(bad.as_bytes(), &[]).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_report_reads_folds_gates_and_trading() {
        let m = serde_json::json!({
            "metrics": ["auc"], "task": "binary", "classes": ["down", "up"],
            "folds": [{"fold": 1, "train": {"count": 10, "first_time": "2020-01-01", "last_time": "2020-02-01"},
                       "test": {"count": 5, "first": 10, "last": 14}, "metrics": {"auc": 0.55},
                       "iterations_run": 40, "best_iteration": 31}],
            "gates": [{"rule": "cv.auc.mean >= 0.5", "level": "hard", "value": 0.55, "passed": true}],
            "trading": {"cv": {"sharpe": 1.25, "buy_and_hold": {"sharpe": 0.5}}},
            "importances": [["a", 0.2], ["b", 0.8]],
            "drift": [{"column": "a", "method": "wasserstein", "score": 0.3, "threshold": 0.1, "drifted": true}]
        });
        let r = Report::build(&m, &[], None);
        assert_eq!(r.folds[0].train, "10 rows, 2020-01-01 → 2020-02-01");
        assert_eq!(r.folds[0].test, "5 rows, 10 → 14");
        assert_eq!(r.folds[0].iterations, "40 (31)");
        assert!(r.gates[0].passed);
        assert_eq!(
            r.trading[0],
            (
                "Sharpe (annual)".to_string(),
                vec!["1.25".to_string(), "0.5".to_string()]
            )
        );
        let svg = r.importances.unwrap().1;
        assert!(
            svg.find(">b<").unwrap() < svg.find(">a<").unwrap(),
            "sorted by importance"
        );
        assert!(r.drift[0].drifted);
    }
}
