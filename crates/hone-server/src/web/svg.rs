//! The dashboard's charts, drawn by hone as inline SVG: line, step and scatter plots with one
//! or more series, horizontal bars, and parallel coordinates. Only numbers and escaped text go
//! into them, and no `style` attribute (colours are CSS classes), so a page's
//! Content-Security-Policy holds and no JavaScript library is needed to draw.

use std::fmt::Write;

use super::number;

/// Escapes text for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A polyline through the points in order.
    Line,
    /// A step line (the value holds until the next point): running bests.
    Steps,
    /// One dot per point.
    Dots,
}

/// One series of a plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// CSS classes of its marks (`s0`..`s7` colour a series; `best`, `pruned`, `front`, ...).
    pub class: String,
    /// How it is drawn.
    pub mark: Mark,
    /// The points (non-finite ones are left out).
    pub points: Vec<(f64, f64)>,
    /// A tooltip per point (dots only; may be empty).
    pub tips: Vec<String>,
    /// A link per point (dots only; may be empty).
    pub links: Vec<String>,
}

impl Series {
    /// A series without tooltips or links.
    pub fn new(class: impl Into<String>, mark: Mark, points: Vec<(f64, f64)>) -> Self {
        Series {
            class: class.into(),
            mark,
            points,
            tips: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// How an axis labels its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Numbers.
    Number,
    /// Milliseconds since the first point, as a duration.
    Elapsed,
    /// Milliseconds since the Unix epoch, as a UTC date.
    Date,
}

/// A plot of one or more series on shared axes.
#[derive(Debug, Clone)]
pub struct Plot {
    /// CSS classes of the `<svg>` (always includes `chart`).
    pub class: &'static str,
    /// Size in SVG units.
    pub width: f64,
    /// Size in SVG units.
    pub height: f64,
    /// The series, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// A log scale on the y axis (values ≤ 0 are left out).
    pub log_y: bool,
    /// A log scale on the x axis (values ≤ 0 are left out).
    pub log_x: bool,
    /// How the x axis is labelled.
    pub x_scale: Scale,
    /// The axes' titles (may be empty).
    pub x_title: String,
    /// The axes' titles (may be empty).
    pub y_title: String,
    /// A horizontal reference line (e.g. zero drawdown, one for equity).
    pub y_rule: Option<f64>,
}

const PAD_L: f64 = 52.0;
const PAD_B: f64 = 22.0;
const PAD_T: f64 = 8.0;
const PAD_R: f64 = 8.0;

impl Plot {
    /// A small plot (360 × 170) of `series`, numbers on both axes.
    pub fn small(series: Vec<Series>) -> Self {
        Plot {
            class: "chart",
            width: 360.0,
            height: 170.0,
            series,
            log_y: false,
            log_x: false,
            x_scale: Scale::Number,
            x_title: String::new(),
            y_title: String::new(),
            y_rule: None,
        }
    }

    /// A wide plot (720 × 240).
    pub fn wide(series: Vec<Series>) -> Self {
        Plot {
            width: 720.0,
            height: 240.0,
            ..Plot::small(series)
        }
    }

    /// The SVG, or `None` when fewer than one drawable point (two for lines) is left.
    pub fn render(&self) -> Option<String> {
        let series: Vec<Vec<(f64, f64, usize)>> = self
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .enumerate()
                    .filter(|(_, (x, y))| {
                        x.is_finite()
                            && y.is_finite()
                            && (!self.log_y || *y > 0.0)
                            && (!self.log_x || *x > 0.0)
                    })
                    .map(|(i, &(x, y))| {
                        (
                            if self.log_x { x.log10() } else { x },
                            if self.log_y { y.log10() } else { y },
                            i,
                        )
                    })
                    .collect()
            })
            .collect();
        let drawable = self.series.iter().zip(&series).any(|(s, p)| match s.mark {
            Mark::Dots => !p.is_empty(),
            _ => p.len() >= 2,
        });
        if !drawable {
            return None;
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y, _) in series.iter().flatten() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if let Some(r) = self.y_rule.filter(|r| r.is_finite() && !self.log_y) {
            y0 = y0.min(r);
            y1 = y1.max(r);
        }
        if x1 == x0 {
            x1 = x0 + 1.0;
            x0 -= 1.0;
        }
        if y1 == y0 {
            y1 = y0 + 1.0;
            y0 -= 1.0;
        }
        let (w, h) = (
            self.width - PAD_L - PAD_R,
            self.height - PAD_T - PAD_B - if self.x_title.is_empty() { 0.0 } else { 10.0 },
        );
        let sx = |x: f64| PAD_L + (x - x0) / (x1 - x0) * w;
        let sy = |y: f64| PAD_T + (1.0 - (y - y0) / (y1 - y0)) * h;
        let y_label = |v: f64| number(if self.log_y { 10f64.powf(v) } else { v });
        let x_label = |v: f64| match self.x_scale {
            Scale::Number if self.log_x => number(10f64.powf(v)),
            Scale::Number => number(v),
            Scale::Elapsed => super::duration(x0 as i64, Some(v as i64)),
            Scale::Date => chrono::DateTime::from_timestamp_millis(v as i64)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        };
        let (yb, xr) = (PAD_T + h, PAD_L + w);
        let mut out = String::with_capacity(4096);
        let _ = write!(
            out,
            "<svg class=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\">\
             <line class=\"axis\" x1=\"{PAD_L}\" y1=\"{yb:.1}\" x2=\"{xr:.1}\" y2=\"{yb:.1}\"/>\
             <line class=\"axis\" x1=\"{PAD_L}\" y1=\"{PAD_T}\" x2=\"{PAD_L}\" y2=\"{yb:.1}\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{tt:.1}\" text-anchor=\"end\">{}</text>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{yb:.1}\" text-anchor=\"end\">{}</text>\
             <text class=\"tick\" x=\"{PAD_L}\" y=\"{txy:.1}\" text-anchor=\"start\">{}</text>\
             <text class=\"tick\" x=\"{xr:.1}\" y=\"{txy:.1}\" text-anchor=\"end\">{}</text>",
            self.class,
            self.width,
            self.height,
            y_label(y1),
            y_label(y0),
            if self.x_scale == Scale::Elapsed {
                "0 s".to_string()
            } else {
                x_label(x0)
            },
            x_label(x1),
            tx = PAD_L - 4.0,
            tt = PAD_T + 9.0,
            txy = yb + 14.0,
        );
        if !self.x_title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                PAD_L + w / 2.0,
                self.height - 3.0,
                esc(&self.x_title)
            );
        }
        if !self.y_title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"title\" x=\"12\" y=\"{:.1}\" text-anchor=\"middle\" \
                 transform=\"rotate(-90 12 {:.1})\">{}</text>",
                PAD_T + h / 2.0,
                PAD_T + h / 2.0,
                esc(&self.y_title)
            );
        }
        if let Some(r) = self.y_rule.filter(|r| r.is_finite() && !self.log_y) {
            let _ = write!(
                out,
                "<line class=\"rule\" x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{xr:.1}\" y2=\"{y:.1}\"/>",
                y = sy(r)
            );
        }
        for (s, pts) in self.series.iter().zip(&series) {
            match s.mark {
                Mark::Line | Mark::Steps if pts.len() >= 2 => {
                    let mut line = String::with_capacity(pts.len() * 12);
                    let mut last_y = None;
                    for &(x, y, _) in pts {
                        if s.mark == Mark::Steps
                            && let Some(ly) = last_y
                        {
                            let _ = write!(line, "{:.1},{:.1} ", sx(x), sy(ly));
                        }
                        let _ = write!(line, "{:.1},{:.1} ", sx(x), sy(y));
                        last_y = Some(y);
                    }
                    let _ = write!(
                        out,
                        "<polyline class=\"curve {}\" fill=\"none\" points=\"{}\"/>",
                        esc(&s.class),
                        line.trim_end()
                    );
                }
                Mark::Dots => {
                    for &(x, y, i) in pts {
                        let tip = s.tips.get(i).map(|t| format!("<title>{}</title>", esc(t)));
                        let dot = format!(
                            "<circle class=\"dot {}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\">{}</circle>",
                            esc(&s.class),
                            sx(x),
                            sy(y),
                            tip.unwrap_or_default()
                        );
                        match s.links.get(i) {
                            Some(l) => {
                                let _ = write!(out, "<a href=\"{}\">{dot}</a>", esc(l));
                            }
                            None => out.push_str(&dot),
                        }
                    }
                }
                _ => {}
            }
        }
        out.push_str("</svg>");
        Some(out)
    }
}

/// Horizontal bars of `(label, value)` (values ≥ 0; the longest bar is the largest value).
pub fn bars(items: &[(String, f64)], class: &str) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let max = items
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let (label_w, bar_w, row) = (170.0, 240.0, 18.0);
    let width = label_w + bar_w + 70.0;
    let height = row * items.len() as f64 + 4.0;
    let mut out = format!(
        "<svg class=\"chart bars {}\" viewBox=\"0 0 {width} {height}\" role=\"img\">",
        esc(class)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 2.0 + row * i as f64;
        let len = if max > 0.0 && v.is_finite() {
            (v.max(0.0) / max) * bar_w
        } else {
            0.0
        };
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            out,
            "<text class=\"label\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{}<title>{}</title></text>\
             <rect class=\"bar\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{bh}\"/>\
             <text class=\"tick\" x=\"{vx:.1}\" y=\"{ty:.1}\">{}</text>",
            esc(&short),
            esc(label),
            number(*v),
            lx = label_w - 6.0,
            ty = y + 12.0,
            bh = row - 5.0,
            vx = label_w + len + 4.0,
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// One axis of a parallel-coordinates plot: its name and the labels of its two ends.
pub struct Axis {
    /// The axis' name.
    pub name: String,
    /// The label at the bottom (0).
    pub low: String,
    /// The label at the top (1).
    pub high: String,
}

/// Parallel coordinates: one vertical axis per entry of `axes`, one polyline per line, each
/// line's values already mapped into `[0, 1]` (NaN: the line skips that axis).
pub fn parallel(axes: &[Axis], lines: &[(Vec<f64>, String)]) -> Option<String> {
    if axes.len() < 2 || lines.is_empty() {
        return None;
    }
    let (width, height, top, bottom) = (760.0, 290.0, 38.0, 24.0);
    let step = (width - 80.0) / (axes.len() - 1) as f64;
    let ax = |i: usize| 40.0 + step * i as f64;
    let ay = |u: f64| top + (1.0 - u.clamp(0.0, 1.0)) * (height - top - bottom);
    let mut out =
        format!("<svg class=\"chart parallel\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
    for (values, class) in lines {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, u)| u.is_finite())
            .map(|(i, &u)| format!("{:.1},{:.1}", ax(i), ay(u)))
            .collect();
        if pts.len() >= 2 {
            let _ = write!(
                out,
                "<polyline class=\"curve {}\" fill=\"none\" points=\"{}\"/>",
                esc(class),
                pts.join(" ")
            );
        }
    }
    for (i, a) in axes.iter().enumerate() {
        let x = ax(i);
        let short: String = a.name.chars().take(22).collect();
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{yb:.1}\"/>\
             <text class=\"title\" x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\">{}<title>{}</title></text>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{lo:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{hi:.1}\" text-anchor=\"middle\">{}</text>",
            esc(&short),
            esc(&a.name),
            esc(&a.low),
            esc(&a.high),
            yb = height - bottom,
            lo = height - bottom + 14.0,
            hi = top - 5.0,
        );
    }
    out.push_str("</svg>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_no_style_attribute_is_written() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut s = Series::new("s0", Mark::Dots, vec![(1.0, 2.0), (2.0, 1.0)]);
        s.tips = vec!["<script>".into(), "b".into()];
        s.links = vec!["/runs/a\"b".into(), "/runs/c".into()];
        let svg = Plot::small(vec![s]).render().unwrap();
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script"));
        assert!(svg.contains("/runs/a&quot;b"));
        assert!(!svg.contains("style="));
        let b = bars(&[("<x>".into(), 1.0), ("y".into(), 0.5)], "imp").unwrap();
        assert!(b.contains("&lt;x&gt;") && !b.contains("style="));
    }

    #[test]
    fn plots_need_something_to_draw() {
        assert!(
            Plot::small(vec![Series::new("s0", Mark::Line, vec![(0.0, 1.0)])])
                .render()
                .is_none()
        );
        assert!(
            Plot::small(vec![Series::new("s0", Mark::Dots, vec![(0.0, 1.0)])])
                .render()
                .is_some()
        );
        let mut p = Plot::small(vec![Series::new(
            "s0",
            Mark::Line,
            vec![(0.0, -1.0), (1.0, 0.0)],
        )]);
        p.log_y = true;
        assert!(p.render().is_none(), "a log scale leaves out values <= 0");
        let steps = Plot::small(vec![Series::new(
            "best",
            Mark::Steps,
            vec![(0.0, 3.0), (1.0, 2.0)],
        )])
        .render()
        .unwrap();
        // A step line has a corner point between the two values.
        let pts = steps
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(pts.split(' ').count(), 3);
    }

    #[test]
    fn parallel_coordinates_draw_one_line_per_trial() {
        let axes = vec![
            Axis {
                name: "lr".into(),
                low: "0.01".into(),
                high: "0.3".into(),
            },
            Axis {
                name: "value".into(),
                low: "0.5".into(),
                high: "0.6".into(),
            },
        ];
        let svg = parallel(
            &axes,
            &[
                (vec![0.0, 1.0], "s0".into()),
                (vec![0.5, f64::NAN], "s1".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            svg.matches("<polyline").count(),
            1,
            "a line with one axis is not drawn"
        );
    }
}
