//! The charts of a training run, as self-contained SVG files:
//!
//! | file | what |
//! | --- | --- |
//! | `equity.svg` | the backtests' equity (out-of-fold, then holdout) against buy-and-hold of the traded asset, with date and value axes, and their drawdowns in a panel below |
//! | `importance.svg` | the final model's feature importances as sorted horizontal bars |
//! | `learning_curve.svg` | each fold's validation metric per boosting round, the round each fold kept, and the refit's rounds |
//!
//! Hand-written SVG rather than a plotting crate: three fixed chart types need lines, rectangles
//! and text, which a few hundred lines draw with full control over size and layout, no fonts, no
//! build cost and byte-for-byte deterministic output (ARCHITECTURE.md, dependencies). Long
//! series are cut by min/max buckets to two points per pixel column of the plot (never more
//! than [`MAX_POINTS`]), so a 185k-period backtest stays a small file whose peaks and troughs
//! are still drawn.

mod downsample;
mod svg;
mod ticks;

use serde::{Deserialize, Serialize};

pub use downsample::{MAX_BUCKETS, MAX_POINTS, drawdowns, minmax_indices};
pub use ticks::{TIME_RANGE, Tick, linear_ticks, log_ticks, short, time_ticks};

use svg::{Anchor, Svg};

/// The value axis of the equity chart (`[trading] chart_scale`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartScale {
    /// Log when the plotted equity spans more than [`AUTO_LOG_RATIO`]× (largest over smallest
    /// value), linear otherwise.
    #[default]
    Auto,
    /// Always linear.
    Linear,
    /// Always log (linear, with a note, when some equity is ≤ 0, which a log axis cannot show).
    Log,
}

/// Under [`ChartScale::Auto`], equity whose largest value is more than this many times its
/// smallest is drawn on a log axis: equal percentage moves then look equal, early and late,
/// where a linear axis flattens the first years of a curve that grew tenfold.
pub const AUTO_LOG_RATIO: f64 = 10.0;

/// Line colours: strategy, benchmark, then the folds of a learning curve (matplotlib's tab10,
/// distinguishable in print and by most colour-blind readers).
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];
const STRATEGY: &str = PALETTE[0];
const BENCHMARK: &str = PALETTE[1];

/// Approximate width of a character of 12 px sans-serif, for laying out labels without font
/// metrics.
const CHAR_W: f64 = 6.8;

/// One backtest of the equity chart: a span of periods with the strategy's equity and
/// buy-and-hold's, each starting from 1.
#[derive(Debug, Clone, Copy)]
pub struct EquitySpan<'a> {
    /// What the span is (`out-of-fold`, `holdout`).
    pub label: &'a str,
    /// Each period's timestamp.
    pub times: &'a [String],
    /// The strategy's equity after each period.
    pub strategy: &'a [f64],
    /// Buy-and-hold's equity after each period.
    pub benchmark: &'a [f64],
}

/// A plotting area and the data range it shows.
struct Frame {
    left: f64,
    top: f64,
    w: f64,
    h: f64,
    x: (f64, f64),
    y: (f64, f64),
    log: bool,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.w
    }

    fn py(&self, y: f64) -> f64 {
        let (v, a, b) = if self.log {
            (y.ln(), self.y.0.ln(), self.y.1.ln())
        } else {
            (y, self.y.0, self.y.1)
        };
        self.top + self.h - (v - a) / (b - a) * self.h
    }

    /// Whether a value can be drawn on this axis.
    fn shows(&self, y: f64) -> bool {
        y.is_finite() && (!self.log || y > 0.0)
    }

    fn bottom(&self) -> f64 {
        self.top + self.h
    }

    fn right(&self) -> f64 {
        self.left + self.w
    }
}

/// The smallest and largest value that `keep` accepts, if any.
fn extent(values: impl Iterator<Item = f64>, keep: impl Fn(f64) -> bool) -> Option<(f64, f64)> {
    values.filter(|v| keep(*v)).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A value range with a margin, never empty: a linear axis pads by 4 % of the span (or around a
/// single value), a log axis by 4 % of the span in log space.
fn padded(range: Option<(f64, f64)>, log: bool) -> (f64, f64) {
    match (range, log) {
        (None, true) => (0.5, 2.0),
        (None, false) => (0.0, 1.0),
        (Some((lo, hi)), true) => {
            let (a, b) = (lo.ln(), hi.ln());
            let pad = if b > a { (b - a) * 0.04 } else { 0.1 };
            ((a - pad).exp(), (b + pad).exp())
        }
        (Some((lo, hi)), false) => {
            let pad = if hi > lo {
                (hi - lo) * 0.04
            } else {
                (lo.abs() * 0.05).max(0.01)
            };
            (lo - pad, hi + pad)
        }
    }
}

/// Points a series draws per pixel of the plot's width: a bucket's minimum and maximum per
/// pixel column draw the same envelope as every point would at the chart's size (a screen
/// shows no more), and keep files small.
const POINTS_PER_PIXEL: f64 = 2.0;

/// Points one series of a plot `width` pixels wide draws: two per pixel column, never more
/// than [`MAX_POINTS`].
fn series_points(width: f64) -> usize {
    ((width * POINTS_PER_PIXEL) as usize).clamp(16, MAX_POINTS)
}

/// How many of a series' `points` a span of `n` of `total` periods may draw: a share in
/// proportion to its length, at least 8, so that all spans of one series together stay within
/// `points`.
fn budget(points: usize, n: usize, total: usize, spans: usize) -> usize {
    let room = points.saturating_sub(8 * spans);
    8 + (room as u128 * n as u128 / total.max(1) as u128) as usize
}

/// A legend entry: a short line (or a filled box) in `colour`, then `text`; returns the x where
/// the next entry starts.
fn legend(svg: &mut Svg, x: f64, y: f64, colour: &str, boxed: bool, text: &str) -> f64 {
    if boxed {
        svg.rect(
            x,
            y - 9.0,
            18.0,
            10.0,
            &format!("fill=\"{colour}\" stroke=\"#bbb\""),
        );
    } else {
        svg.line(
            (x, y - 4.0),
            (x + 18.0, y - 4.0),
            &format!("stroke=\"{colour}\" stroke-width=\"2.5\""),
        );
    }
    svg.text(x + 24.0, y, Anchor::Start, "", "", text);
    x + 24.0 + text.chars().count() as f64 * CHAR_W + 22.0
}

/// Horizontal grid lines and value labels of `frame` at `ticks`.
fn y_axis(svg: &mut Svg, frame: &Frame, ticks: &[Tick]) {
    for t in ticks {
        let y = frame.py(t.value);
        if !(frame.top - 0.5..=frame.bottom() + 0.5).contains(&y) {
            continue;
        }
        svg.line((frame.left, y), (frame.right(), y), "class=\"g\"");
        svg.text(frame.left - 6.0, y + 4.0, Anchor::End, "a", "", &t.label);
    }
}

/// The x positions of a series: seconds since 1970 when every timestamp of every span reads
/// as a date or epoch time (within [`TIME_RANGE`]), else running period numbers from 1.
fn x_positions(spans: &[EquitySpan<'_>]) -> (Vec<Vec<f64>>, bool) {
    let parsed: Option<Vec<Vec<f64>>> = spans
        .iter()
        .map(|s| {
            s.times
                .iter()
                .map(|t| hone_data::time::epoch_seconds(t).filter(|v| TIME_RANGE.contains(v)))
                .collect()
        })
        .collect();
    match parsed {
        Some(xs) if xs.iter().any(|x| !x.is_empty()) => (xs, true),
        _ => {
            let mut offset = 0usize;
            let xs = spans
                .iter()
                .map(|s| {
                    let x: Vec<f64> = (0..s.times.len())
                        .map(|i| (offset + i + 1) as f64)
                        .collect();
                    offset += s.times.len();
                    x
                })
                .collect();
            (xs, false)
        }
    }
}

/// `v` scaled by `factor`, each span continuing where the previous one ended (see
/// [`equity_chart`]).
fn chained(spans: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut factor = 1.0;
    spans
        .iter()
        .map(|s| {
            let out: Vec<f64> = s.iter().map(|v| v * factor).collect();
            // A span that ends without a usable value leaves the next one at its own scale.
            if let Some(&last) = out.iter().rev().find(|v| v.is_finite())
                && last > 0.0
            {
                factor = last;
            }
            out
        })
        .collect()
}

/// The equity chart (`equity.svg`): `title`, then a panel of each span's strategy and
/// buy-and-hold equity on a shared date axis (later spans, such as the holdout, shaded and
/// continuing from where the previous span's curves ended, so the account reads as one), and a
/// panel of their drawdowns below, each span's measured from its own start as the reports
/// measure them. Value ticks are round numbers, date ticks years, months, weeks, days or hours
/// as the span needs; timestamps that are not dates give a period-number axis. Each series
/// draws at most two points per pixel column (under [`MAX_POINTS`]), by min/max buckets that
/// keep every peak and trough.
/// Spans without periods draw nothing; the chart is valid SVG whatever the input.
pub fn equity_chart(title: &str, spans: &[EquitySpan<'_>], scale: ChartScale) -> String {
    let (w, h) = (960.0, 600.0);
    let mut svg = Svg::new(w, h);
    svg.text(72.0, 26.0, Anchor::Start, "t", "", title);
    // Every series of a span has the span's length (the shortest of its columns).
    let spans: Vec<EquitySpan<'_>> = spans
        .iter()
        .map(|s| {
            let n = s.times.len().min(s.strategy.len()).min(s.benchmark.len());
            EquitySpan {
                label: s.label,
                times: &s.times[..n],
                strategy: &s.strategy[..n],
                benchmark: &s.benchmark[..n],
            }
        })
        .collect();
    let total: usize = spans.iter().map(|s| s.times.len()).sum();
    if total == 0 {
        svg.text(
            72.0,
            60.0,
            Anchor::Start,
            "s",
            "",
            "no backtest periods to draw",
        );
        return svg.finish();
    }
    let (xs, is_time) = x_positions(&spans);
    let strategy = chained(&spans.iter().map(|s| s.strategy).collect::<Vec<_>>());
    let benchmark = chained(&spans.iter().map(|s| s.benchmark).collect::<Vec<_>>());
    let all = || strategy.iter().chain(&benchmark).flatten().copied();
    let finite = extent(all(), f64::is_finite);
    let positive = extent(all(), |v| v.is_finite() && v > 0.0);
    let ratio = match positive {
        Some((lo, hi)) => hi / lo,
        None => 1.0,
    };
    let all_positive = finite.is_some_and(|(lo, _)| lo > 0.0);
    let (log, scale_note) = match scale {
        ChartScale::Linear => (false, "linear scale".to_string()),
        ChartScale::Log if all_positive => (true, "log scale".to_string()),
        ChartScale::Log => (
            false,
            "linear scale (log was asked for, but some equity is ≤ 0)".to_string(),
        ),
        ChartScale::Auto if all_positive && ratio > AUTO_LOG_RATIO => {
            (true, format!("log scale (equity spans {ratio:.0}×)"))
        }
        ChartScale::Auto => (false, "linear scale".to_string()),
    };
    let later: Vec<&str> = spans.iter().skip(1).map(|s| s.label).collect();
    let subtitle = if later.is_empty() {
        format!("growth of 1, {scale_note}; drawdown from the running peak below")
    } else {
        format!(
            "growth of 1, {scale_note}; the {} (shaded) continues from the {} end; drawdowns \
             start afresh in each",
            later.join(", "),
            spans[0].label
        )
    };
    svg.text(72.0, 46.0, Anchor::Start, "s", "", &subtitle);
    let mut lx = legend(&mut svg, 72.0, 68.0, STRATEGY, false, "strategy");
    lx = legend(
        &mut svg,
        lx,
        68.0,
        BENCHMARK,
        false,
        "buy & hold (the traded asset)",
    );
    if !later.is_empty() {
        legend(&mut svg, lx, 68.0, "#ececec", true, &later.join(", "));
    }

    let x_range =
        extent(xs.iter().flatten().copied(), f64::is_finite).map_or((0.0, 1.0), |r| match r {
            (lo, hi) if hi > lo => (lo, hi),
            (lo, _) if is_time => (lo - 86_400.0, lo + 86_400.0),
            (lo, _) => (lo - 0.5, lo + 0.5),
        });
    let top = Frame {
        left: 72.0,
        top: 84.0,
        w: w - 72.0 - 24.0,
        h: 300.0,
        x: x_range,
        y: padded(if log { positive } else { finite }, log),
        log,
    };
    // Drawdowns per span, from each span's own start (as `max_drawdown` in the report).
    let dd: Vec<(Vec<f64>, Vec<f64>)> = spans
        .iter()
        .map(|s| (drawdowns(s.strategy).0, drawdowns(s.benchmark).0))
        .collect();
    let worst = extent(
        dd.iter().flat_map(|(a, b)| a.iter().chain(b)).copied(),
        f64::is_finite,
    )
    .map_or(0.0, |(lo, _)| lo.min(0.0));
    let bottom = Frame {
        top: 404.0,
        h: 130.0,
        y: (if worst < 0.0 { worst * 1.05 } else { -0.01 }, 0.0),
        log: false,
        ..top
    };

    // Shaded later spans, under everything else.
    for (k, s) in spans.iter().enumerate().skip(1) {
        let (Some(&a), Some(&b)) = (xs[k].first(), xs[k].last()) else {
            continue;
        };
        let (x0, x1) = (top.px(a), top.px(b));
        for f in [&top, &bottom] {
            svg.rect(x0, f.top, x1 - x0, f.h, "fill=\"#ececec\"");
        }
        svg.text(x0 + 4.0, top.top + 14.0, Anchor::Start, "s", "", s.label);
    }
    // Value axes.
    let y_ticks = if log {
        log_ticks(top.y.0, top.y.1)
    } else {
        linear_ticks(top.y.0, top.y.1, 6)
    };
    y_axis(&mut svg, &top, &y_ticks);
    let dd_ticks: Vec<Tick> = linear_ticks(bottom.y.0 * 100.0, 0.0, 4)
        .into_iter()
        .map(|t| Tick {
            value: t.value / 100.0,
            label: format!("{}%", t.label),
        })
        .collect();
    y_axis(&mut svg, &bottom, &dd_ticks);
    // Date (or period) axis, shared by both panels.
    let x_ticks = if is_time {
        time_ticks(top.x.0, top.x.1, 9)
    } else {
        linear_ticks(top.x.0, top.x.1, 8)
    };
    for t in &x_ticks {
        let x = top.px(t.value);
        if !(top.left - 0.5..=top.right() + 0.5).contains(&x) {
            continue;
        }
        svg.line((x, top.top), (x, top.bottom()), "class=\"g\"");
        svg.line((x, bottom.top), (x, bottom.bottom()), "class=\"g\"");
        svg.line(
            (x, bottom.bottom()),
            (x, bottom.bottom() + 4.0),
            "class=\"x\"",
        );
        svg.text(x, bottom.bottom() + 18.0, Anchor::Middle, "a", "", &t.label);
    }
    svg.text(
        top.left + top.w / 2.0,
        h - 12.0,
        Anchor::Middle,
        "a",
        "",
        if is_time { "date" } else { "period" },
    );
    svg.vertical_text(18.0, top.top + top.h / 2.0, "equity (growth of 1)");
    svg.vertical_text(18.0, bottom.top + bottom.h / 2.0, "drawdown");
    // The initial capital, for reference.
    if top.shows(1.0) && (top.y.0..=top.y.1).contains(&1.0) {
        let y = top.py(1.0);
        svg.line(
            (top.left, y),
            (top.right(), y),
            "stroke=\"#999\" stroke-dasharray=\"4 3\"",
        );
    }

    // The curves: benchmark under strategy.
    for (k, s) in spans.iter().enumerate() {
        let n = budget(series_points(top.w), s.times.len(), total, spans.len());
        let series = [
            (&benchmark[k], &dd[k].1, BENCHMARK, s.benchmark),
            (&strategy[k], &dd[k].0, STRATEGY, s.strategy),
        ];
        for (values, drawdown, colour, raw) in series {
            // The deepest drawdown's peak and trough are drawn whatever the buckets keep.
            let keep: Vec<usize> = drawdowns(raw).1.map_or(Vec::new(), |(p, t)| vec![p, t]);
            let points: Vec<(f64, f64)> = minmax_indices(values, n, &keep)
                .into_iter()
                .filter(|&i| top.shows(values[i]))
                .map(|i| (top.px(xs[k][i]), top.py(values[i])))
                .collect();
            svg.polyline(&points, colour, 1.4, "");
            let points: Vec<(f64, f64)> = minmax_indices(drawdown, n, &[])
                .into_iter()
                .filter(|&i| drawdown[i].is_finite())
                .map(|i| (bottom.px(xs[k][i]), bottom.py(drawdown[i])))
                .collect();
            svg.polyline(&points, colour, 1.1, "");
        }
    }
    // Axis lines on top of the data.
    for f in [&top, &bottom] {
        svg.line((f.left, f.top), (f.left, f.bottom()), "class=\"x\"");
        svg.line((f.left, f.bottom()), (f.right(), f.bottom()), "class=\"x\"");
    }
    svg.finish()
}

/// Most bars the importance chart shows; the rest are counted in a note.
pub const MAX_BARS: usize = 40;

/// Characters of a feature name shown before it is cut with `…`.
const MAX_LABEL: usize = 36;

/// The feature-importance chart (`importance.svg`): one horizontal bar per feature, largest
/// first (ties by name), the feature's name on the left and its value at the bar's end, under
/// `title` (which says what the values are: total split gain, |coefficient|). At most
/// [`MAX_BARS`] bars; non-finite values are left out. `None` when no feature has a finite
/// importance.
pub fn importance_chart(title: &str, importances: &[(String, f64)]) -> Option<String> {
    let mut rows: Vec<(&str, f64)> = importances
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(n, v)| (n.as_str(), *v))
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let more = rows.len().saturating_sub(MAX_BARS);
    rows.truncate(MAX_BARS);
    let label = |name: &str| -> String {
        if name.chars().count() > MAX_LABEL {
            let cut: String = name.chars().take(MAX_LABEL - 1).collect();
            format!("{cut}…")
        } else {
            name.to_string()
        }
    };
    let labels: Vec<String> = rows.iter().map(|(n, _)| label(n)).collect();
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let left = (widest as f64 * CHAR_W + 20.0).clamp(80.0, 280.0);
    let (w, row_h) = (860.0, 20.0);
    let plot_top = 74.0;
    let h = plot_top + rows.len() as f64 * row_h + if more > 0 { 44.0 } else { 24.0 };
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max);
    let frame = Frame {
        left,
        top: plot_top,
        w: w - left - 80.0,
        h: rows.len() as f64 * row_h,
        x: (0.0, if max > 0.0 { max } else { 1.0 }),
        y: (0.0, 1.0),
        log: false,
    };
    let mut svg = Svg::new(w, h);
    svg.text(16.0, 26.0, Anchor::Start, "t", "", title);
    svg.text(
        16.0,
        46.0,
        Anchor::Start,
        "s",
        "",
        &format!(
            "{} feature(s), largest first; the same values as feature_importance.csv",
            rows.len() + more
        ),
    );
    for t in linear_ticks(frame.x.0, frame.x.1, 5) {
        let x = frame.px(t.value);
        svg.line((x, frame.top), (x, frame.bottom()), "class=\"g\"");
        svg.text(x, frame.top - 6.0, Anchor::Middle, "a", "", &short(t.value));
    }
    for (i, ((_, v), name)) in rows.iter().zip(&labels).enumerate() {
        let y = frame.top + i as f64 * row_h;
        let end = frame.px(v.max(0.0));
        svg.rect(
            frame.left,
            y + 3.0,
            end - frame.left,
            row_h - 6.0,
            &format!("fill=\"{STRATEGY}\""),
        );
        svg.text(frame.left - 6.0, y + 14.0, Anchor::End, "", "", name);
        svg.text(end + 4.0, y + 14.0, Anchor::Start, "a", "", &short(*v));
    }
    svg.line(
        (frame.left, frame.top),
        (frame.left, frame.bottom()),
        "class=\"x\"",
    );
    if more > 0 {
        svg.text(
            frame.left,
            frame.bottom() + 24.0,
            Anchor::Start,
            "s",
            "",
            &format!("… and {more} more (see feature_importance.csv)"),
        );
    }
    Some(svg.finish())
}

/// One validation curve of the learning-curve chart.
#[derive(Debug, Clone, Copy)]
pub struct FoldCurve<'a> {
    /// Its legend (`fold 1`, `final refit`).
    pub label: &'a str,
    /// The validation metric after each round, from round 1.
    pub values: &'a [f64],
    /// The round kept (1-based; 0 or out of range: none marked).
    pub best_iteration: usize,
}

/// The learning-curve chart (`learning_curve.svg`): each fold's validation `metric` after each
/// boosting round, a dot at the round the fold kept (its best iteration), and a dashed line at
/// the rounds the final refit trained (`refit_rounds`). Each curve draws at most two points per
/// pixel column (min/max buckets, under [`MAX_POINTS`]). `None` when no curve has a value.
pub fn learning_curve_chart(
    title: &str,
    metric: &str,
    curves: &[FoldCurve<'_>],
    refit_rounds: Option<usize>,
) -> Option<String> {
    let curves: Vec<&FoldCurve<'_>> = curves
        .iter()
        .filter(|c| c.values.iter().any(|v| v.is_finite()))
        .collect();
    if curves.is_empty() {
        return None;
    }
    let w = 960.0;
    // Legend entries wrap onto as many rows as they need.
    let entries: Vec<String> = curves
        .iter()
        .map(|c| match c.values.get(c.best_iteration.wrapping_sub(1)) {
            Some(_) => format!("{} (kept {})", c.label, c.best_iteration),
            None => c.label.to_string(),
        })
        .collect();
    let mut rows_of_legend = vec![Vec::new()];
    let mut x = 72.0;
    for (i, e) in entries.iter().enumerate() {
        let width = 24.0 + e.chars().count() as f64 * CHAR_W + 22.0;
        if x + width > w - 24.0 && x > 72.0 {
            rows_of_legend.push(Vec::new());
            x = 72.0;
        }
        if let Some(r) = rows_of_legend.last_mut() {
            r.push(i);
        }
        x += width;
    }
    let legend_h = rows_of_legend.len() as f64 * 18.0;
    let top = 62.0 + legend_h + 8.0;
    let h = top + 340.0 + 48.0;
    let longest = curves.iter().map(|c| c.values.len()).max().unwrap_or(1);
    let x_hi = longest.max(refit_rounds.unwrap_or(0)).max(2) as f64;
    let frame = Frame {
        left: 72.0,
        top,
        w: w - 72.0 - 24.0,
        h: 340.0,
        x: (1.0, x_hi),
        y: padded(
            extent(
                curves.iter().flat_map(|c| c.values.iter().copied()),
                f64::is_finite,
            ),
            false,
        ),
        log: false,
    };
    let mut svg = Svg::new(w, h);
    svg.text(72.0, 26.0, Anchor::Start, "t", "", title);
    let refit_text = refit_rounds.map_or(String::new(), |r| {
        format!("; dashed: the final refit's {r} rounds")
    });
    svg.text(
        72.0,
        46.0,
        Anchor::Start,
        "s",
        "",
        &format!(
            "validation {metric} on each fold's early-stopping slice; dots: the round each \
             kept{refit_text}"
        ),
    );
    for (row, idx) in rows_of_legend.iter().enumerate() {
        let mut x = 72.0;
        for &i in idx {
            x = legend(
                &mut svg,
                x,
                66.0 + row as f64 * 18.0,
                PALETTE[i % PALETTE.len()],
                false,
                &entries[i],
            );
        }
    }
    y_axis(&mut svg, &frame, &linear_ticks(frame.y.0, frame.y.1, 6));
    for t in linear_ticks(frame.x.0, frame.x.1, 10) {
        let x = frame.px(t.value);
        svg.line((x, frame.top), (x, frame.bottom()), "class=\"g\"");
        svg.text(x, frame.bottom() + 18.0, Anchor::Middle, "a", "", &t.label);
    }
    svg.text(
        frame.left + frame.w / 2.0,
        h - 12.0,
        Anchor::Middle,
        "a",
        "",
        "boosting round",
    );
    svg.vertical_text(
        18.0,
        frame.top + frame.h / 2.0,
        &format!("validation {metric}"),
    );
    if let Some(r) = refit_rounds {
        let x = frame.px(r as f64);
        svg.line(
            (x, frame.top),
            (x, frame.bottom()),
            "stroke=\"#333\" stroke-dasharray=\"5 4\"",
        );
        svg.text(
            x + 4.0,
            frame.top + 14.0,
            Anchor::Start,
            "s",
            "",
            &format!("refit: {r}"),
        );
    }
    for (i, c) in curves.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let keep: Vec<usize> = c.best_iteration.checked_sub(1).into_iter().collect();
        let points: Vec<(f64, f64)> = minmax_indices(c.values, series_points(frame.w), &keep)
            .into_iter()
            .filter(|&k| c.values[k].is_finite())
            .map(|k| (frame.px((k + 1) as f64), frame.py(c.values[k])))
            .collect();
        svg.polyline(&points, colour, 1.3, "");
    }
    // Dots on top of every line.
    for (i, c) in curves.iter().enumerate() {
        if let Some(&v) = c.values.get(c.best_iteration.wrapping_sub(1))
            && v.is_finite()
        {
            svg.circle(
                frame.px(c.best_iteration as f64),
                frame.py(v),
                3.5,
                &format!("fill=\"{}\" stroke=\"white\"", PALETTE[i % PALETTE.len()]),
            );
        }
    }
    svg.line(
        (frame.left, frame.top),
        (frame.left, frame.bottom()),
        "class=\"x\"",
    );
    svg.line(
        (frame.left, frame.bottom()),
        (frame.right(), frame.bottom()),
        "class=\"x\"",
    );
    Some(svg.finish())
}

/// What a backtest span of `job`'s equity is called on the chart.
fn span_label(name: &str) -> &str {
    match name {
        "cv" => "out-of-fold",
        other => other,
    }
}

/// Adds a run's charts to its output files: `equity.svg` from its equity CSVs (`(span,
/// csv)`, with `[trading]`), `importance.svg` from the final model's importances, and
/// `learning_curve.svg` from the folds' validation curves. A chart without data is left out
/// (no backtest, no importances, a model without rounds or validation slice).
pub(crate) fn push_run_charts(
    files: &mut crate::output::Bundle,
    report: &crate::report::TrainReport,
    equity: &[(&str, &str)],
    scale: ChartScale,
) {
    let rows: Vec<(&str, crate::trading::EquityRows)> = equity
        .iter()
        .filter_map(|(name, csv)| Some((span_label(name), crate::trading::EquityRows::parse(csv)?)))
        .collect();
    if !rows.is_empty() {
        let spans: Vec<EquitySpan<'_>> = rows
            .iter()
            .map(|(label, r)| EquitySpan {
                label,
                times: &r.times,
                strategy: &r.equity,
                benchmark: &r.benchmark,
            })
            .collect();
        let title = format!("{}: equity and drawdown against buy & hold", report.name);
        files.push("equity.svg", equity_chart(&title, &spans, scale));
    }
    let title = format!(
        "{}: feature importance of the final model ({})",
        report.name, report.importance_kind
    );
    if let Some(svg) = importance_chart(&title, &report.importances) {
        files.push("importance.svg", svg);
    }
    let labels: Vec<String> = report
        .folds
        .iter()
        .map(|f| format!("fold {}", f.fold))
        .collect();
    let mut curves: Vec<FoldCurve<'_>> = report
        .folds
        .iter()
        .zip(&labels)
        .map(|(f, label)| FoldCurve {
            label,
            values: &f.valid_curve,
            best_iteration: f.best_iteration,
        })
        .collect();
    // A refit that early-stopped on its own slice has a curve of its own.
    let last = &report.final_model;
    if !last.valid_curve.is_empty() {
        curves.push(FoldCurve {
            label: "final refit",
            values: &last.valid_curve,
            best_iteration: last.best_iteration,
        });
    }
    let metric = report
        .folds
        .iter()
        .chain([last])
        .find_map(|f| f.valid_metric.as_deref())
        .unwrap_or("metric");
    let refit_rounds = report.refit.as_ref().and_then(|r| r.rounds);
    let title = format!("{}: learning curves", report.name);
    if let Some(svg) = learning_curve_chart(&title, metric, &curves, refit_rounds) {
        files.push("learning_curve.svg", svg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Well-formed XML: every element closed in order, attributes quoted, entities known.
    pub(crate) fn assert_valid_xml(svg: &str) {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut depth = 0i64;
        let mut roots = 0;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(e)) => {
                    if depth == 0 {
                        roots += 1;
                        assert_eq!(e.name().as_ref(), b"svg");
                    }
                    for a in e.attributes() {
                        a.unwrap();
                    }
                    depth += 1;
                }
                Ok(quick_xml::events::Event::Empty(e)) => {
                    for a in e.attributes() {
                        a.unwrap();
                    }
                }
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Text(t)) => {
                    t.decode().unwrap();
                }
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("invalid SVG at {}: {e}", reader.buffer_position()),
            }
        }
        assert_eq!((depth, roots), (0, 1));
    }

    fn days(n: usize, start: &str) -> Vec<String> {
        let t0 = hone_data::time::parse_timestamp(start).unwrap() as i64 / 86_400;
        (0..n as i64)
            .map(|d| {
                let (y, m, day) = hone_data::time::civil_from_days(t0 + d);
                format!("{y}-{m:02}-{day:02}")
            })
            .collect()
    }

    fn walk(n: usize, seed: u64, drift: f64) -> Vec<f64> {
        let mut state = seed | 1;
        let mut e = 1.0;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                e *= 1.0 + drift + 0.02 * u;
                e
            })
            .collect()
    }

    /// 185k periods: a small, valid file with date ticks, both curves and the drawdown panel.
    #[test]
    fn a_long_backtest_makes_a_small_readable_chart() {
        let n = 185_000;
        let times = days(n, "1500-01-01");
        let (cut, hold) = (148_000, 148_010);
        let strategy = walk(n, 7, 0.00003);
        let bench = walk(n, 11, 0.00001);
        let spans = [
            EquitySpan {
                label: "out-of-fold",
                times: &times[..cut],
                strategy: &strategy[..cut],
                benchmark: &bench[..cut],
            },
            EquitySpan {
                label: "holdout",
                times: &times[hold..],
                strategy: &strategy[hold..],
                benchmark: &bench[hold..],
            },
        ];
        let svg = equity_chart("demo: equity", &spans, ChartScale::Auto);
        assert_valid_xml(&svg);
        // Under the 300 KB asked for; two points per pixel column make it about 85 KB.
        assert!(svg.len() < 120_000, "{} bytes", svg.len());
        // Four series (two equity, two drawdown), each within MAX_POINTS over its spans.
        let lines: Vec<usize> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline"))
            .map(|l| l.matches(',').count())
            .collect();
        assert_eq!(lines.len(), 8);
        for pair in lines.chunks(4) {
            assert!(pair.iter().all(|&p| p > 100));
        }
        let per_series = [
            lines[0] + lines[4],
            lines[1] + lines[5],
            lines[2] + lines[6],
            lines[3] + lines[7],
        ];
        assert!(
            per_series.iter().all(|&p| p <= MAX_POINTS),
            "{per_series:?}"
        );
        for needle in [
            ">buy &amp; hold (the traded asset)</text>",
            ">strategy</text>",
            ">drawdown</text>",
            ">holdout</text>",
            ">date</text>",
            "%</text>",
        ] {
            assert!(svg.contains(needle), "{needle}");
        }
        // Centuries of daily bars: ticks every 50 or 100 years, labelled by year.
        assert!(svg.contains(">1600</text>"), "year ticks");
        // Same input, same bytes.
        assert_eq!(svg, equity_chart("demo: equity", &spans, ChartScale::Auto));
    }

    #[test]
    fn log_scale_by_rule_and_by_choice() {
        let times = days(400, "2020-01-01");
        let grow: Vec<f64> = (0..400).map(|i| 1.01f64.powi(i)).collect();
        let flat = vec![1.0; 400];
        let spans = [EquitySpan {
            label: "out-of-fold",
            times: &times,
            strategy: &grow,
            benchmark: &flat,
        }];
        assert!(equity_chart("t", &spans, ChartScale::Auto).contains("log scale (equity spans"));
        assert!(equity_chart("t", &spans, ChartScale::Linear).contains("linear scale"));
        let small: Vec<f64> = (0..400).map(|i| 1.0 + i as f64 / 1000.0).collect();
        let spans = [EquitySpan {
            strategy: &small,
            ..spans[0]
        }];
        assert!(equity_chart("t", &spans, ChartScale::Auto).contains("linear scale"));
        assert!(equity_chart("t", &spans, ChartScale::Log).contains("log scale"));
        // A log axis cannot show equity ≤ 0: linear, and said so.
        let ruined: Vec<f64> = (0..400).map(|i| 1.0 - i as f64 / 300.0).collect();
        let spans = [EquitySpan {
            strategy: &ruined,
            ..spans[0]
        }];
        let svg = equity_chart("t", &spans, ChartScale::Log);
        assert!(svg.contains("log was asked for"));
        assert_valid_xml(&svg);
    }

    /// Empty spans, one period, equal values, NaN and infinite equity, row-number times: valid
    /// SVG and no panic.
    #[test]
    fn degenerate_inputs_draw_valid_charts() {
        let one = vec!["2020-01-01".to_string()];
        let rows: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let mut nan = vec![1.0; 50];
        nan[3] = f64::NAN;
        nan[7] = f64::INFINITY;
        let equal = vec![1.0; 50];
        let cases: Vec<Vec<EquitySpan<'_>>> = vec![
            vec![],
            vec![EquitySpan {
                label: "out-of-fold",
                times: &[],
                strategy: &[],
                benchmark: &[],
            }],
            vec![EquitySpan {
                label: "out-of-fold",
                times: &one,
                strategy: &[1.01],
                benchmark: &[0.99],
            }],
            vec![EquitySpan {
                label: "out-of-fold",
                times: &rows,
                strategy: &nan,
                benchmark: &equal,
            }],
            vec![EquitySpan {
                label: "<odd> & \"name\"",
                times: &rows,
                strategy: &[f64::NAN; 50],
                benchmark: &[f64::NAN; 50],
            }],
        ];
        for spans in &cases {
            for scale in [ChartScale::Auto, ChartScale::Linear, ChartScale::Log] {
                let svg = equity_chart("x < y", spans, scale);
                assert_valid_xml(&svg);
                assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            }
        }
        // Row numbers are not dates: a period axis.
        let svg = equity_chart("t", &cases[3], ChartScale::Auto);
        assert!(svg.contains(">period</text>"));
    }

    #[test]
    fn importance_chart_sorts_and_skips() {
        assert!(importance_chart("t", &[]).is_none());
        assert!(importance_chart("t", &[("a".into(), f64::NAN)]).is_none());
        let imp: Vec<(String, f64)> = (0..50)
            .map(|i| (format!("feature_{i:02}"), f64::from(i % 7)))
            .chain([("x".repeat(80), 3.5), ("<&>".into(), f64::INFINITY)])
            .collect();
        let svg = importance_chart("model: total split gain", &imp).unwrap();
        assert_valid_xml(&svg);
        assert!(svg.contains("… and 11 more"));
        // Largest first, ties by name: feature_06 (6) before feature_13 (6) before x… (3.5).
        let at = |s: &str| svg.find(s).unwrap();
        assert!(at(">feature_06<") < at(">feature_13<"));
        assert_eq!(svg.matches("<rect").count(), 1 + MAX_BARS);
        assert!(!svg.contains("NaN"));
        assert_eq!(
            svg,
            importance_chart("model: total split gain", &imp).unwrap()
        );
        // All zero: bars of no length, still a chart.
        let zero = importance_chart("t", &[("a".into(), 0.0)]).unwrap();
        assert_valid_xml(&zero);
    }

    #[test]
    fn learning_curve_marks_kept_rounds() {
        assert!(learning_curve_chart("t", "auc", &[], Some(3)).is_none());
        let a: Vec<f64> = (1..=300).map(|r| 0.7 - 0.2 / f64::from(r)).collect();
        let b: Vec<f64> = (1..=120).map(|r| 0.6 + 0.001 * f64::from(r)).collect();
        let curves: Vec<FoldCurve<'_>> = (0..12)
            .map(|i| FoldCurve {
                label: if i % 2 == 0 { "fold a" } else { "fold b" },
                values: if i % 2 == 0 { &a } else { &b },
                best_iteration: if i % 2 == 0 { 250 } else { 500 },
            })
            .collect();
        let svg = learning_curve_chart("job: learning curves", "auc", &curves, Some(180)).unwrap();
        assert_valid_xml(&svg);
        assert!(svg.contains(">refit: 180</text>"));
        assert!(svg.contains("fold a (kept 250)"));
        // An out-of-range best iteration is not marked.
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains(">boosting round</text>"));
        let one = learning_curve_chart(
            "t",
            "l2",
            &[FoldCurve {
                label: "fold 1",
                values: &[0.5],
                best_iteration: 1,
            }],
            None,
        )
        .unwrap();
        assert_valid_xml(&one);
    }
}
