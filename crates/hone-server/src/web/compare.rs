//! The compare view (`/compare?run=A&run=B...`, 2 to 10 runs): the metric curves of every
//! run overlaid, their holdout equity curves overlaid, a params diff (only what differs), a
//! table of latest metrics with the best value of each marked, and for two runs the
//! significance tests of `hone runs compare` (through [`crate::analyses::Analyses`]).

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use hone_track::accounts::Level;
use hone_track::{MetricPoint, Run};

use super::svg::{Mark, Plot, Scale, Series};
use super::{allowed, error_page, number, render};
use crate::analyses::Comparison;
use crate::auth::Need;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::{AppState, blocking};

/// The fewest and most runs one view compares.
const MIN_RUNS: usize = 2;
const MAX_RUNS: usize = 10;
/// The most metrics whose curves are overlaid.
const MAX_CURVES: usize = 24;
/// The largest equity file read for the overlay.
const MAX_EQUITY_BYTES: i64 = 8 * 1024 * 1024;

/// A run in the view: its id, name, colour class and status.
struct RunView {
    id: String,
    name: String,
    class: String,
    status: &'static str,
}

/// A row of the params diff: the key and each run's value (empty when it has none).
struct DiffRow {
    key: String,
    values: Vec<String>,
}

/// A row of the metric table: the key, whether lower is better, and each run's value with
/// whether it is the best.
struct MetricRow {
    key: String,
    lower_is_better: bool,
    values: Vec<(String, bool)>,
}

struct Figure {
    caption: String,
    svg: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage<'a> {
    user: &'a str,
    runs: Vec<RunView>,
    curves: Vec<Figure>,
    equity: Option<String>,
    params_same: usize,
    params: Vec<DiffRow>,
    metrics: Vec<MetricRow>,
    tests: Option<Result<Comparison, String>>,
}

/// Whether a smaller value of a metric is better: losses, errors, PBO, risk and spread.
fn lower_is_better(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "loss",
        "rmse",
        "mse",
        "mae",
        "error",
        "brier",
        "pbo",
        "volatility",
        "downside_risk",
        "turnover",
        ".std",
        "gap",
        "seconds",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The runs a query names: every `run=` value, in order, once each.
fn run_ids(query: Option<&str>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "run" && !v.is_empty() && !ids.iter().any(|i| *i == v) {
            ids.push(v.into_owned());
        }
    }
    ids
}

/// `GET /compare?run=A&run=B...`.
pub(super) async fn page(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Response {
    let user = caller.user.clone();
    let ids = run_ids(query.as_deref());
    if !(MIN_RUNS..=MAX_RUNS).contains(&ids.len()) {
        return error_page(
            &user,
            ApiError::invalid(format!(
                "select {MIN_RUNS} to {MAX_RUNS} runs to compare (got {}): tick them in a runs table",
                ids.len()
            )),
        );
    }
    let needs = ids
        .iter()
        .map(|id| Need::Run(id.clone(), Level::Read))
        .collect();
    if let Err(e) = allowed(&s, &caller, needs).await {
        return error_page(&user, e);
    }
    let blobs = s.blobs.clone();
    let analyses = s.analyses.clone();
    let loaded = blocking(&s, "web.compare", move |st| {
        let mut runs = Vec::new();
        for id in &ids {
            runs.push(st.get_run(id)?);
        }
        // Curves: metrics with more than one point in at least one run, shared by two or more.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &runs {
            for m in &r.metrics {
                *counts.entry(m.key.as_str()).or_default() += 1;
            }
        }
        let shared: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n >= 2)
            .map(|(k, _)| k.to_string())
            .collect();
        let mut histories: Vec<(String, Vec<Vec<MetricPoint>>)> = Vec::new();
        for key in shared {
            if histories.len() >= MAX_CURVES {
                break;
            }
            let mut per_run = Vec::new();
            for r in &runs {
                per_run.push(if r.metrics.iter().any(|m| m.key == key) {
                    st.metric_history(&r.info.run_id, &key)?
                } else {
                    Vec::new()
                });
            }
            if per_run.iter().any(|h| h.len() > 1) {
                histories.push((key, per_run));
            }
        }
        let mut equity = Vec::new();
        for r in &runs {
            let rec = st
                .list_artifacts(&r.info.run_id)?
                .into_iter()
                .find(|a| a.path == "equity_holdout.csv" && a.size <= MAX_EQUITY_BYTES);
            equity.push(match rec {
                Some(a) => Some(blobs.get(&a.sha256, &r.info.run_id, &a.path)?),
                None => None,
            });
        }
        let tests = match (&analyses, runs.as_slice()) {
            (Some(a), [x, y]) => Some(a.compare_runs(st, &blobs, &x.info.run_id, &y.info.run_id)),
            (None, [_, _]) => Some(Err(
                "the significance tests need `hone server` (this server was started without hone's training library)".into(),
            )),
            _ => None,
        };
        Ok((runs, histories, equity, tests))
    })
    .await;
    let (runs, histories, equity, tests) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&user, e),
    };
    render(
        StatusCode::OK,
        &build(&user, &runs, &histories, &equity, tests),
    )
}

fn build<'a>(
    user: &'a str,
    runs: &[Run],
    histories: &[(String, Vec<Vec<MetricPoint>>)],
    equity: &[Option<Vec<u8>>],
    tests: Option<Result<Comparison, String>>,
) -> ComparePage<'a> {
    let class = |i: usize| format!("s{i}");
    let views: Vec<RunView> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| RunView {
            id: r.info.run_id.clone(),
            name: r.info.run_name.clone(),
            class: class(i),
            status: r.info.status.as_str(),
        })
        .collect();
    let curves = histories
        .iter()
        .filter_map(|(key, per_run)| {
            let series = per_run
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let pts: Vec<(f64, f64)> = h.iter().map(|p| (p.step as f64, p.value)).collect();
                    let mark = if pts.len() == 1 {
                        Mark::Dots
                    } else {
                        Mark::Line
                    };
                    Series::new(class(i), mark, pts)
                })
                .collect();
            let mut plot = Plot::small(series);
            plot.x_title = "step".into();
            plot.render().map(|svg| Figure {
                caption: key.clone(),
                svg,
            })
        })
        .collect();
    // Each run's holdout equity, on dates when every file has them.
    let mut dated = true;
    let equity_series: Vec<Series> = equity
        .iter()
        .enumerate()
        .filter_map(|(i, bytes)| {
            let (times, cols) = super::report::columns(bytes.as_deref()?, &["equity"])?;
            let (xs, scale) = super::report::x_axis(&times);
            dated &= scale == Scale::Date;
            let pts =
                super::report::thin(xs.into_iter().zip(cols[0].iter().copied()).collect(), 800);
            Some(Series::new(class(i), Mark::Line, pts))
        })
        .collect();
    let equity_svg = (!equity_series.is_empty())
        .then(|| {
            let mut plot = Plot::wide(equity_series);
            plot.x_scale = if dated { Scale::Date } else { Scale::Number };
            plot.y_rule = Some(1.0);
            plot.y_title = "equity (holdout)".into();
            plot.render()
        })
        .flatten();

    // Params diff: keys whose value is not the same in every run.
    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.params.iter().map(|(k, _)| k.as_str()))
        .collect();
    let value = |r: &Run, k: &str| {
        r.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut params = Vec::new();
    let mut params_same = 0;
    for k in keys {
        let values: Vec<String> = runs.iter().map(|r| value(r, k)).collect();
        if values.iter().all(|v| *v == values[0]) {
            params_same += 1;
        } else {
            params.push(DiffRow {
                key: k.to_string(),
                values,
            });
        }
    }

    // Latest metrics with the best of each row marked.
    let metric_keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.metrics.iter().map(|m| m.key.as_str()))
        .collect();
    let metrics = metric_keys
        .into_iter()
        .map(|k| {
            let lower = lower_is_better(k);
            let vals: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.metrics.iter().find(|m| m.key == k).map(|m| m.point.value))
                .collect();
            let finite: Vec<f64> = vals
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let best = if lower {
                finite.iter().copied().reduce(f64::min)
            } else {
                finite.iter().copied().reduce(f64::max)
            };
            let marks = finite.len() >= 2;
            MetricRow {
                key: k.to_string(),
                lower_is_better: lower,
                values: vals
                    .iter()
                    .map(|v| match v {
                        Some(x) => (number(*x), marks && Some(*x) == best),
                        None => (String::new(), false),
                    })
                    .collect(),
            }
        })
        .collect();
    ComparePage {
        user,
        runs: views,
        curves,
        equity: equity_svg,
        params_same,
        params,
        metrics,
        tests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_names_each_run_once() {
        assert_eq!(run_ids(Some("run=a&run=b&run=a&x=1&run=")), ["a", "b"]);
        assert!(run_ids(None).is_empty());
    }

    #[test]
    fn losses_and_risks_are_better_lower() {
        assert!(lower_is_better("cv.log_loss.mean"));
        assert!(lower_is_better("holdout.rmse"));
        assert!(lower_is_better("pbo"));
        assert!(!lower_is_better("cv.roc_auc.mean"));
        assert!(!lower_is_better("holdout.trading.sharpe"));
        // A drawdown is negative: the one closest to zero is the best.
        assert!(!lower_is_better("trading.max_drawdown"));
    }
}
