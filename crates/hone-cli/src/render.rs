//! Plain-text tables for people (the `--json` forms are for programs).

use std::fmt::Write as _;

use hone_train::TrainReport;
use hone_validate::split::Fold;
use serde_json::{Map, Value};

/// One gate's result as a line: `PASS hard cv.roc_auc.mean >= 0.52 (value 0.5311)`.
pub fn gate_line(g: &hone_train::gates::GateResult) -> String {
    format!(
        "{} {} {} (value {})",
        if g.passed { "PASS" } else { "FAIL" },
        g.level,
        escape(&g.rule),
        g.value.map_or("-".into(), num)
    )
}

/// Text from the store or the user made safe for a terminal: control characters (ESC, BEL,
/// newlines...) and bidirectional overrides are shown as escapes (`\x1b`, `\n`), so that a
/// run or experiment name cannot move the cursor, recolour the terminal or forge table rows.
/// Every human-readable table and list goes through it; `--json` output stays exact. It is the
/// library's [`hone_track::printable`], which also keeps its error messages on one line: one
/// rule for both.
pub use hone_track::printable as escape;

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time in milliseconds since the epoch.
pub fn ms_to_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `0..4,7,9..12`: consecutive runs of indices, inclusive.
pub fn ranges(idx: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && idx[j + 1] == idx[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            idx[i].to_string()
        } else {
            format!("{}..{}", idx[i], idx[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Significant digits of a number in a human-readable table ([`num`]).
pub const SIGNIFICANT_DIGITS: usize = 6;

/// A number for a table, with [`SIGNIFICANT_DIGITS`] significant digits by C's and Python's
/// `%g` rule: fixed notation when the rounded number's decimal exponent is in [-4, 6)
/// (`0.512345`, `1234.57`, `3`), scientific otherwise (`1.23457e-05`, `1.5e+07`), trailing zeros
/// dropped, so that whole numbers print as integers. Non-finite values print as `nan`, `inf`,
/// `-inf`. One rule for every table, so that a number reads the same in `hone train`, `hone
/// runs show`, `hone compare` and `hone stats`; `--json` keeps full precision.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let p = SIGNIFICANT_DIGITS;
    // The exponent after rounding to p digits (999999.5 rounds to 1e+06): Rust's `{:e}` gives it.
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..p as i32).contains(&exp) {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    }
}

fn fmt(v: f64) -> String {
    num(v)
}

/// The human summary of `hone train`.
pub fn train_report(r: &TrainReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "hone train: {} ({} {}, {} target)",
        r.name, r.model, r.scheme, r.task
    );
    let _ = writeln!(
        s,
        "data: {} | {} rows × {} features | sha256 {}",
        r.data.display(),
        r.rows,
        r.features.len(),
        r.fingerprint
    );
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let names: Vec<&String> = r.metrics.iter().collect();
    let _ = writeln!(s);
    let span = |f: &hone_train::FoldReport, train: bool| {
        let x = if train { &f.train } else { &f.test };
        format!("{} ({})", x.text(), x.count)
    };
    // Column widths follow the timestamps (dates or date-times).
    let w = r
        .folds
        .iter()
        .flat_map(|f| [span(f, true).len(), span(f, false).len()])
        .max()
        .unwrap_or(20)
        .max(5);
    // Models that do not train in steps (linear models: one solve) have no rounds to show.
    let stepped = r
        .folds
        .iter()
        .chain(std::iter::once(&r.final_model))
        .any(|f| f.iterations_run > 1 || f.valid_metric.is_some());
    let iters = if stepped { 6 } else { 0 };
    let lead = 5 + 1 + w + 1 + w + usize::from(stepped) + iters;
    let mut header = format!(
        "{:<5} {:<w$} {:<w$}{}",
        "fold",
        "train",
        "test",
        if stepped {
            format!(" {:>6}", "iters")
        } else {
            String::new()
        }
    );
    for n in &names {
        let _ = write!(header, " {:>11}", short(n));
    }
    let _ = writeln!(s, "{header}");
    for f in &r.folds {
        let mut line = format!(
            "{:<5} {:<w$} {:<w$}{}",
            f.fold,
            span(f, true),
            span(f, false),
            if stepped {
                format!(" {:>6}", f.best_iteration)
            } else {
                String::new()
            }
        );
        for n in &names {
            let _ = write!(line, " {:>11}", fmt(f.metrics[n.as_str()]));
        }
        let _ = writeln!(s, "{line}");
    }
    let mut mean = format!("{:<lead$}", "mean");
    let mut std = format!("{:<lead$}", "± std");
    for n in &names {
        let _ = write!(mean, " {:>11}", fmt(r.cv[n.as_str()].mean));
        let _ = write!(std, " {:>11}", fmt(r.cv[n.as_str()].std));
    }
    let _ = writeln!(s, "{mean}\n{std}");
    if !r.train_cv_gap.is_empty() {
        let mut gap = format!("{:<lead$}", "train − cv gap");
        for n in &names {
            let _ = write!(
                gap,
                " {:>11}",
                r.train_cv_gap
                    .get(n.as_str())
                    .map_or("-".into(), |g| fmt(*g))
            );
        }
        let _ = writeln!(s, "{gap}");
    }
    if let Some(h) = &r.holdout {
        let mut line = format!(
            "{:<lead$}",
            format!(
                "holdout {}..{} ({} rows, {} purged)",
                h.rows.first_time, h.rows.last_time, h.rows.count, h.purged_rows
            )
        );
        for n in &names {
            let _ = write!(line, " {:>11}", fmt(h.metrics[n.as_str()]));
        }
        let _ = writeln!(s, "{line}");
    }
    if !r.drift.is_empty() {
        // Information, not a warning: financial features drift between any two periods
        // (README, "Drift"); a gate on it is opt-in.
        let _ = writeln!(
            s,
            "drift (holdout vs development rows): {}",
            drift_summary(&r.drift)
        );
    }
    if let Some(b) = &r.base_rate {
        let _ = writeln!(
            s,
            "base rate: always predicting {:?} scores accuracy {:.4} out of fold{}",
            b.majority_class,
            b.cv,
            b.holdout
                .map_or(String::new(), |h| format!(", {h:.4} on the holdout"))
        );
    }
    let _ = write!(
        s,
        "\nfinal model: refit on {} rows ({}..{}){}",
        r.final_model.train.count,
        r.final_model.train.first_time,
        r.final_model.train.last_time,
        if stepped {
            format!(", {} rounds kept", r.final_model.best_iteration)
        } else {
            String::new()
        }
    );
    match &r.refit {
        Some(f) => {
            let folds: Vec<String> = f.fold_rounds.iter().map(usize::to_string).collect();
            let _ = writeln!(
                s,
                " ({}; the folds kept {})",
                match f.rounds {
                    Some(_) if f.rule.parse::<usize>().is_ok() => "refit_rounds fixed".to_string(),
                    Some(_) => format!("the {} of the folds' rounds, no early stopping", f.rule),
                    None => "early stopping on its own slice".to_string(),
                },
                folds.join("/")
            );
        }
        None => {
            let _ = writeln!(s);
        }
    }
    if let Some(p) = &r.panel {
        let _ = writeln!(
            s,
            "\npanel: {} assets, {} timestamps",
            p.assets, p.timestamps
        );
        let ic_line = |name: &str, ic: &Option<hone_validate::cross_section::IcSummary>| match ic {
            Some(ic) => format!(
                "{name:<8} mean {:>8.4}  std {:>7.4}  t {:>6.2}  ICIR {:>7.3} (annualised {:>6.2})  hit {:>5.1}%  ({} timestamps)",
                ic.mean,
                ic.std,
                ic.t_stat,
                ic.icir,
                ic.icir_annualised,
                ic.hit_rate * 100.0,
                ic.n
            ),
            None => format!("{name:<8} undefined (no timestamp with two varying assets)"),
        };
        let mut span = |label: &str, c: &hone_train::portfolio::CrossSectionReport| {
            let _ = writeln!(s, "{label}");
            let _ = writeln!(s, "  {}", ic_line("IC", &c.ic));
            let _ = writeln!(s, "  {}", ic_line("rank IC", &c.rank_ic));
            if !c.decay.is_empty() {
                let _ = writeln!(
                    s,
                    "  rank IC decay (vs the h-bar forward return): {}",
                    c.decay
                        .iter()
                        .map(|d| format!("h{} {:+.4}", d.horizon, d.rank_ic))
                        .collect::<Vec<_>>()
                        .join("  ")
                );
            }
        };
        span("cross-section (cv, out-of-fold)", &p.cv);
        if let Some(h) = &p.holdout {
            span("cross-section (holdout)", h);
        }
    }
    if let Some(p) = &r.portfolio {
        let line = |name: &str, q: &hone_train::portfolio::PortfolioSummary| {
            let leg = |l: &Option<hone_train::portfolio::LegSummary>| {
                l.as_ref().map_or("-".to_string(), |l| {
                    format!(
                        "{:+.2}%/yr (Sharpe {:.2})",
                        l.annual_return * 100.0,
                        l.sharpe
                    )
                })
            };
            format!(
                "portfolio {name:<8} turnover/yr {:.1}  gross {:.2}  net {:+.2}  cost drag {:.2}%/yr  long leg {}  short leg {}  ({} rebalances)\n  returns by quantile (mean per period, lowest signal first): {}  spread {:+.4}%  monotonicity {:.2}",
                q.turnover,
                q.gross_exposure,
                q.net_exposure,
                q.cost_drag * 100.0,
                leg(&q.long_leg),
                leg(&q.short_leg),
                q.rebalances,
                q.quantile_returns
                    .iter()
                    .map(|v| format!("{:+.4}%", v * 100.0))
                    .collect::<Vec<_>>()
                    .join(" "),
                q.quantile_spread * 100.0,
                q.monotonicity
            )
        };
        let _ = writeln!(s, "\n{}", line("cv", &p.cv));
        if let Some(h) = &p.holdout {
            let _ = writeln!(s, "{}", line("holdout", h));
        }
    }
    if let Some(t) = &r.trading {
        // A panel's portfolio is benchmarked against its equal-weighted universe, held.
        let benchmark = if r.portfolio.is_some() {
            "vs universe  "
        } else {
            "vs buy & hold"
        };
        let line = |name: &str, s: &hone_train::trading::TradingSummary| {
            format!(
                "trading {name:<8} Sharpe {:>7.3}  Sortino {:>7.3}  CAGR {:>8.2}%  max DD {:>7.2}%  Calmar {:>7.3}  win {:>5.1}%  PSR {}  turnover/yr {:.1}  ({} periods)",
                s.metrics.sharpe,
                s.metrics.sortino,
                s.metrics.annual_return * 100.0,
                s.metrics.max_drawdown * 100.0,
                s.metrics.calmar,
                s.metrics.win_rate * 100.0,
                s.psr.map_or("-".into(), |p| format!("{p:.3}")),
                s.turnover,
                s.metrics.periods
            ) + &match &s.buy_and_hold {
                Some(b) => format!(
                    "\n  {benchmark}  Sharpe {:>7.3}                    CAGR {:>8.2}%  max DD {:>7.2}%  \
                     excess {:+.2}%/yr  alpha {:+.2}%/yr  beta {:.2}  corr {}  trades {}  in market {:.0}% (long {:.0}%)",
                    b.sharpe,
                    b.annual_return * 100.0,
                    b.max_drawdown * 100.0,
                    b.excess_return * 100.0,
                    b.alpha * 100.0,
                    b.beta,
                    b.correlation.map_or("-".into(), |c| format!("{c:.2}")),
                    s.trades,
                    s.time_in_market * 100.0,
                    s.long_share * 100.0
                ),
                None => String::new(),
            }
        };
        let _ = writeln!(s, "\n{}", line("cv", &t.cv));
        if let Some(h) = &t.holdout {
            let _ = writeln!(s, "{}", line("holdout", h));
        }
        if let Some(d) = &t.dsr {
            let _ = writeln!(
                s,
                "deflated Sharpe (cv) {:.3}: SR {:.4}/period vs SR0 {:.4}, the expected best of {} trial(s) \
                 (variance of their SR {:.3e}){}",
                d.dsr,
                t.cv.sr_per_period.unwrap_or(f64::NAN),
                d.sr0,
                d.n_trials,
                d.sr_variance,
                if d.n_trials == 1 {
                    "; one trial (an untracked run, or the first of its experiment), so DSR = PSR"
                } else {
                    ""
                }
            );
        }
        if let Some(p) = &t.pbo {
            let _ = writeln!(
                s,
                "probability of backtest overfitting {:.3} over {} trials ({} CSCV blocks; the in-sample best has a negative out-of-sample Sharpe in {:.0}% of splits)",
                p.pbo,
                p.n_trials,
                p.blocks,
                p.prob_oos_loss * 100.0
            );
        }
        if let Some(p) = &t.cpcv_paths {
            let _ = writeln!(
                s,
                "cpcv paths: {} backtests, Sharpe mean {:.3}, median {:.3}, std {:.3}, 5th percentile {:.3} \
                 (the cv line above is the median path, #{}; gates, PSR and DSR read it)",
                p.sharpes.len(),
                p.mean,
                p.median,
                p.std,
                p.p5,
                p.median_path + 1
            );
            // Each path against buy-and-hold over its own periods: a path can beat the asset
            // while the median path does not.
            let _ = writeln!(
                s,
                "  {:<6} {:>8} {:>9} {:>8} {:>10} {:>11} {:>8} {:>10}",
                "path",
                "Sharpe",
                "CAGR",
                "max DD",
                "B&H Sharpe",
                "excess/yr",
                "trades",
                "in market"
            );
            for (i, path) in p.paths.iter().enumerate() {
                let b = path.buy_and_hold.as_ref();
                let _ = writeln!(
                    s,
                    "  {:<6} {:>8.3} {:>8.2}% {:>7.2}% {:>10} {:>11} {:>8} {:>9.0}%",
                    format!("#{}{}", i + 1, if i == p.median_path { "*" } else { "" }),
                    path.metrics.sharpe,
                    path.metrics.annual_return * 100.0,
                    path.metrics.max_drawdown * 100.0,
                    b.map_or("-".into(), |b| format!("{:.3}", b.sharpe)),
                    b.map_or("-".into(), |b| format!("{:+.2}%", b.excess_return * 100.0)),
                    path.trades,
                    path.time_in_market * 100.0
                );
            }
        }
    }
    if let Some(st) = &r.stress {
        let cell = |m: Option<f64>, sh: Option<f64>| match sh {
            Some(sh) => format!("{} / SR {:.2}", m.map_or("-".into(), fmt), sh),
            None => m.map_or("-".into(), fmt),
        };
        if !st.by_year.is_empty() {
            let years: Vec<String> = st
                .by_year
                .iter()
                .map(|y| {
                    // Flag slices too small to read much into (e.g. a partial last year).
                    let n = if y.rows < 30 {
                        format!(" (n={})", y.rows)
                    } else {
                        String::new()
                    };
                    format!("{}{n} {}", y.slice, cell(y.metric, y.sharpe))
                })
                .collect();
            let _ = writeln!(
                s,
                "\nout-of-fold {} by year: {}",
                st.metric,
                years.join(", ")
            );
        }
        if !st.by_volatility.is_empty() {
            let v: Vec<String> = ["low", "mid", "high"]
                .iter()
                .filter_map(|l| st.by_volatility.iter().find(|x| x.slice == *l))
                .map(|x| format!("{} {}", x.slice, cell(x.metric, x.sharpe)))
                .collect();
            let _ = writeln!(s, "by trailing-volatility regime: {}", v.join(", "));
        }
        if !st.by_drawdown.is_empty() {
            let v: Vec<String> = st
                .by_drawdown
                .iter()
                .map(|x| format!("{} {}", x.slice, cell(x.metric, x.sharpe)))
                .collect();
            let _ = writeln!(
                s,
                "by asset drawdown (≥{:.0}% below peak): {}",
                hone_train::stress::DRAWDOWN_THRESHOLD * 100.0,
                v.join(", ")
            );
        }
        if let Some(b) = &st.bias {
            let g: Vec<String> = b
                .groups
                .iter()
                .map(|x| {
                    format!(
                        "{} (n={}) {}",
                        x.slice,
                        x.rows,
                        x.metric.map_or("-".into(), fmt)
                    )
                })
                .collect();
            let _ = writeln!(
                s,
                "{} by {}: {}\n  gap {} (best {}, worst {}), permutation p = {:.4}: {}",
                b.metric,
                b.column,
                g.join(", "),
                fmt(b.gap),
                b.best,
                b.worst,
                b.p_value,
                if b.p_value < 0.05 {
                    "the model performs significantly differently across groups"
                } else {
                    "no significant difference across groups"
                }
            );
        }
        if !st.cost_curve.is_empty() {
            let c: Vec<String> = st
                .cost_curve
                .iter()
                .map(|(b, sr)| format!("{b} bp {sr:.2}"))
                .collect();
            let _ = writeln!(s, "Sharpe vs cost: {}", c.join(", "));
        }
        if !st.feature_noise.is_empty() {
            let c: Vec<String> = st
                .feature_noise
                .iter()
                .map(|(k, m)| format!("{k}σ {}", m.map_or("-".into(), fmt)))
                .collect();
            let _ = writeln!(
                s,
                "holdout {} with feature noise: {}",
                st.metric,
                c.join(", ")
            );
        }
    }
    if !r.gates.is_empty() {
        let _ = writeln!(s, "\ngates:");
        for g in &r.gates {
            let _ = writeln!(
                s,
                "  {:<5} {:<4} {:<48} value {}",
                if g.passed { "PASS" } else { "FAIL" },
                g.level,
                g.rule,
                g.value.map_or("-".into(), fmt)
            );
        }
    }
    let mut imp = r.importances.clone();
    imp.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = imp
        .iter()
        .take(8)
        .map(|(n, v)| format!("{n} {}", fmt(*v)))
        .collect();
    let _ = writeln!(s, "top features: {}", top.join(", "));
    match &r.out_dir {
        Some(dir) => {
            let _ = writeln!(s, "outputs: {}  ({:.1}s)", dir.display(), r.seconds);
        }
        None => {
            let _ = writeln!(
                s,
                "outputs: none written (--no-outputs; the files are the run's artifacts)  ({:.1}s)",
                r.seconds
            );
        }
    }
    s
}

fn short(name: &str) -> String {
    name.replace("_weighted", "_w").replace("precision", "prec")
}

/// The human view of a split.
/// Increasing rows as time ranges, one per contiguous block (`a..b + c..d`; beyond 8 blocks,
/// `first..last in N blocks`).
fn time_blocks(rows: &[usize], t: &[String]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &r in rows {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == r => *end = r,
            _ => runs.push((r, r)),
        }
    }
    match runs.as_slice() {
        [] => String::new(),
        [(a, b)] => format!("{}..{}", t[*a], t[*b]),
        _ if runs.len() > 8 => format!(
            "{}..{} in {} blocks",
            t[runs[0].0],
            t[runs[runs.len() - 1].1],
            runs.len()
        ),
        _ => runs
            .iter()
            .map(|(a, b)| format!("{}..{}", t[*a], t[*b]))
            .collect::<Vec<_>>()
            .join(" + "),
    }
}

pub fn folds(
    scheme: &str,
    n: usize,
    folds: &[Fold],
    times: Option<(&[String], usize, usize)>,
) -> String {
    let mut s = format!("{scheme}: {n} samples, {} folds\n", folds.len());
    for (k, f) in folds.iter().enumerate() {
        let _ = writeln!(
            s,
            "fold {}: train [{}] ({} rows)  test [{}] ({} rows)",
            k + 1,
            ranges(&f.train),
            f.train.len(),
            ranges(&f.test),
            f.test.len()
        );
        if let Some((t, _, _)) = times
            && !f.test.is_empty()
            && !f.train.is_empty()
        {
            let _ = writeln!(
                s,
                "        train {}  test {}",
                time_blocks(&f.train, t),
                time_blocks(&f.test, t)
            );
        }
    }
    if let Some((t, start, end)) = times
        && start < end
    {
        let _ = writeln!(
            s,
            "holdout: rows {start}..{} ({}..{}), {} row{} purged before it",
            end - 1,
            t[start],
            t[end - 1],
            start - n,
            if start - n == 1 { "" } else { "s" }
        );
    }
    s
}

/// `k/n features (a, b, …)`: how many features drifted, and which.
pub fn drift_summary(drift: &[hone_validate::drift::ColumnDrift]) -> String {
    let drifted: Vec<&str> = drift
        .iter()
        .filter(|d| d.drifted)
        .map(|d| d.column.as_str())
        .collect();
    format!(
        "{}/{} features{}",
        drifted.len(),
        drift.len(),
        if drifted.is_empty() {
            String::new()
        } else {
            format!(" ({})", drifted.join(", "))
        }
    )
}

/// The human view of `hone metrics`.
pub fn metrics(m: &Map<String, Value>) -> String {
    let mut s = String::new();
    for (k, v) in m {
        match v {
            Value::Number(x) => {
                // Integers (counts) stay as they are; other numbers get six digits.
                let shown = if x.is_f64() {
                    x.as_f64().map_or(x.to_string(), num)
                } else {
                    x.to_string()
                };
                let _ = writeln!(s, "{k:<20} {shown}");
            }
            Value::Array(_) if k == "confusion_matrix" => {
                let _ = writeln!(s, "{k}:");
                for row in v.as_array().into_iter().flatten() {
                    let _ = writeln!(s, "  {row}");
                }
            }
            Value::Array(_) if k == "warnings" => {}
            other => {
                let _ = writeln!(s, "{k:<20} {other}");
            }
        }
    }
    s
}

/// A number for a chart's axis: four significant digits, no trailing zeros.
fn axis_number(v: f64) -> String {
    let s = if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A metric's series as a text chart (`hone runs history` on a terminal): a summary line
/// (points, steps, best and last value), then `height` rows × `width` columns with the y axis
/// labelled at the top, middle and bottom and the first and last step under the x axis. Each
/// point is a `*`; `:` joins consecutive points a column apart, so a learning curve reads as a
/// line. Non-finite values are left out and counted. Hand-written (about 80 lines) rather than
/// a plotting crate: it needs no terminal features and no dependency.
pub fn line_chart(title: &str, points: &[(f64, f64)], width: usize, height: usize) -> String {
    let (width, height) = (width.max(8), height.max(3));
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut s = String::new();
    let skipped = points.len() - finite.len();
    let (Some(first), Some(last)) = (finite.first(), finite.last()) else {
        let _ = writeln!(
            s,
            "{}: {} point(s), none finite",
            escape(title),
            points.len()
        );
        return s;
    };
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut x_min, mut x_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut lowest = *first;
    for &(x, y) in &finite {
        y_min = y_min.min(y);
        y_max = y_max.max(y);
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        if y < lowest.1 {
            lowest = (x, y);
        }
    }
    let _ = writeln!(
        s,
        "{}: {} point(s), steps {}..{}, lowest {} at step {}, last {}{}",
        escape(title),
        finite.len(),
        axis_number(x_min),
        axis_number(x_max),
        axis_number(lowest.1),
        axis_number(lowest.0),
        axis_number(last.1),
        if skipped > 0 {
            format!(" ({skipped} non-finite left out)")
        } else {
            String::new()
        }
    );
    let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
    let y_span = if y_max > y_min { y_max - y_min } else { 1.0 };
    let col = |x: f64| (((x - x_min) / x_span) * (width - 1) as f64).round() as usize;
    let row = |y: f64| (((y_max - y) / y_span) * (height - 1) as f64).round() as usize;
    let mut grid = vec![vec![' '; width]; height];
    let mut prev: Option<(usize, usize)> = None;
    for &(x, y) in &finite {
        let (c, r) = (col(x).min(width - 1), row(y).min(height - 1));
        if let Some((pc, pr)) = prev
            && c == pc + 1
        {
            for line in grid.iter_mut().take(pr.max(r)).skip(pr.min(r) + 1) {
                if line[c] == ' ' {
                    line[c] = ':';
                }
            }
        }
        grid[r][c] = '*';
        prev = Some((c, r));
    }
    let labels: Vec<String> = (0..height)
        .map(|r| {
            if r == 0 {
                axis_number(y_max)
            } else if r == height - 1 {
                axis_number(y_min)
            } else if r == (height - 1) / 2 {
                axis_number(y_max - y_span * r as f64 / (height - 1) as f64)
            } else {
                String::new()
            }
        })
        .collect();
    let pad = labels.iter().map(String::len).max().unwrap_or(0);
    for (label, line) in labels.iter().zip(&grid) {
        let body: String = line.iter().collect();
        let _ = writeln!(s, "{label:>pad$} |{}", body.trim_end());
    }
    let _ = writeln!(s, "{:>pad$} +{}", "", "-".repeat(width));
    let (left, right) = (axis_number(x_min), axis_number(x_max));
    let gap = (width + 1).saturating_sub(left.len() + right.len()).max(1);
    let _ = writeln!(s, "{:>pad$}  {left}{}{right}  (step)", "", " ".repeat(gap));
    s
}

/// One plain line for a training event (a queued job's log: no progress bars), or `None` for
/// events too frequent to log (boosting rounds; a neural model's epochs are logged).
pub fn event_line(e: &hone_train::Event<'_>) -> Option<String> {
    use hone_train::Event;
    match e {
        Event::Loaded {
            rows,
            features,
            fingerprint,
            notes,
        } => {
            let mut line = format!(
                "loaded {rows} rows, {features} features (fingerprint {})",
                &fingerprint[..fingerprint.len().min(12)]
            );
            for n in notes.iter() {
                line.push_str(&format!("\nnote: {}", escape(n)));
            }
            Some(line)
        }
        Event::FoldStarted {
            fold,
            n_folds,
            train_rows,
        } => Some(if fold >= n_folds {
            format!("final refit on {train_rows} rows")
        } else {
            format!("fold {}/{n_folds}: {train_rows} training rows", fold + 1)
        }),
        Event::Round {
            round,
            total,
            epoch: Some(stats),
        } => Some(format!(
            "  epoch {round}/{total}: train loss {:.6}{}",
            stats.train_loss,
            stats
                .valid_loss
                .map(|v| format!(", valid loss {v:.6}"))
                .unwrap_or_default()
        )),
        Event::Round { .. } => None,
        Event::FoldFinished { fold, metrics } => Some(format!(
            "fold {} scored: {}",
            fold + 1,
            metrics
                .iter()
                .map(|(m, v)| format!("{} {}", m.name(), num(*v)))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Event::Phase { name } => Some(name.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::ms_to_utc(0), "1970-01-01 00:00:00");
        assert_eq!(
            super::ms_to_utc(1_546_214_400_000 + 3_723_000),
            "2018-12-31 01:02:03"
        );
    }

    #[test]
    fn numbers_have_six_significant_digits() {
        use super::num;
        for (v, want) in [
            (0.512345123, "0.512345"),
            (1234.5678, "1234.57"),
            (0.0000123456789, "1.23457e-05"),
            (0.0001, "0.0001"),
            (0.5, "0.5"),
            (3.0, "3"),
            (-2.0, "-2"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (999999.5, "1e+06"),
            (0.99999996, "1"),
            (-0.0351234567, "-0.0351235"),
            (1e-300, "1e-300"),
            (0.0, "0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(num(v), want, "{v}");
        }
    }

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(super::ranges(&[0, 1, 2, 5, 7, 8]), "0..2,5,7..8");
        assert_eq!(super::ranges(&[]), "");
    }

    #[test]
    fn a_chart_has_its_summary_axes_and_every_point() {
        let pts: Vec<(f64, f64)> = (1..=40).map(|i| (i as f64, 1.0 / i as f64)).collect();
        let c = super::line_chart("loss", &pts, 40, 10);
        let lines: Vec<&str> = c.lines().collect();
        assert!(lines[0].starts_with("loss: 40 point(s), steps 1..40, lowest 0.025 at step 40"));
        assert_eq!(lines.len(), 1 + 10 + 2);
        assert!(lines[1].trim_start().starts_with("1 |*"), "{c}");
        assert!(lines[10].trim_start().starts_with("0.025 |") && lines[10].ends_with('*'));
        assert_eq!(c.matches('*').count(), 40, "one column per step here: {c}");
        assert!(lines[12].contains("1") && lines[12].ends_with("40  (step)"));
        let none = super::line_chart("x", &[(1.0, f64::NAN)], 40, 10);
        assert_eq!(none, "x: 1 point(s), none finite\n");
    }
}
