//! A minimal SVG writer: the handful of elements the charts draw, coordinates with one decimal
//! (a tenth of a pixel is below what a screen shows, and it keeps files small), text escaped.
//! Output depends on the input only, so the same run draws the same bytes.

use std::fmt::Write as _;

/// XML-escapes text for an element's content or a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal (`12`, `12.5`); 0 for a non-finite value, which
/// callers never pass on purpose.
pub fn c(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
}

/// Horizontal text anchor.
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    /// Text starts at x.
    Start,
    /// Text is centred on x.
    Middle,
    /// Text ends at x.
    End,
}

impl Svg {
    /// A `w` × `h` document with a white background and the charts' text styles.
    pub fn new(w: f64, h: f64) -> Self {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <style>.t{{font-size:16px;font-weight:bold}}.s{{fill:#555}}.a{{font-size:11px;fill:#333}}\
             .g{{stroke:#e3e3e3;stroke-width:1}}.x{{stroke:#333;stroke-width:1}}</style>\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        Self { out }
    }

    /// Text at `(x, y)` (baseline), with an optional CSS class (`t` title, `s` subtitle, `a`
    /// axis label) and colour.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, class: &str, fill: &str, text: &str) {
        let anchor = match anchor {
            Anchor::Start => "",
            Anchor::Middle => " text-anchor=\"middle\"",
            Anchor::End => " text-anchor=\"end\"",
        };
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        let fill = if fill.is_empty() {
            String::new()
        } else {
            format!(" fill=\"{fill}\"")
        };
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\"{anchor}{class}{fill}>{}</text>",
            c(x),
            c(y),
            escape(text)
        );
    }

    /// Text rotated a quarter turn anticlockwise, centred on `(x, y)` (a vertical axis title).
    pub fn vertical_text(&mut self, x: f64, y: f64, text: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" class=\"a\" \
             transform=\"rotate(-90 {0} {1})\">{2}</text>",
            c(x),
            c(y),
            escape(text)
        );
    }

    /// A line; `class` `g` (grid) or `x` (axis), or a stroke colour with an optional dash.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {style}/>",
            c(x1),
            c(y1),
            c(x2),
            c(y2)
        );
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, style: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {style}/>",
            c(x),
            c(y),
            c(w.max(0.0)),
            c(h.max(0.0))
        );
    }

    /// A circle.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, style: &str) {
        let _ = writeln!(
            self.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {style}/>",
            c(x),
            c(y),
            c(r)
        );
    }

    /// An open line through `points` (nothing for fewer than two; a dot for one).
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64, extra: &str) {
        match points {
            [] => {}
            [(x, y)] => self.circle(*x, *y, width.max(1.5), &format!("fill=\"{stroke}\"")),
            _ => {
                let mut p = String::with_capacity(points.len() * 12);
                for (i, (x, y)) in points.iter().enumerate() {
                    if i > 0 {
                        p.push(' ');
                    }
                    p.push_str(&c(*x));
                    p.push(',');
                    p.push_str(&c(*y));
                }
                let _ = writeln!(
                    self.out,
                    "<polyline fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\" \
                     stroke-linejoin=\"round\"{extra} points=\"{p}\"/>"
                );
            }
        }
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_and_escaping() {
        assert_eq!(c(12.0), "12");
        assert_eq!(c(12.04), "12");
        assert_eq!(c(12.05 + 1e-9), "12.1");
        assert_eq!(c(-0.04), "0");
        assert_eq!(c(f64::NAN), "0");
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot; ");
    }
}
