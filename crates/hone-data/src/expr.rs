//! Custom causal features without code: the expressions of `[data.derive.custom]`.
//!
//! ```toml
//! [data.derive.custom]
//! mom_20 = "close / lag(close, 20) - 1"
//! spread = "(high - low) / close"
//! vol_z = "(volume - rolling_mean(volume, 20)) / rolling_std(volume, 20)"
//! ```
//!
//! An expression is numbers, column names (bare, or in backticks for names such as
//! `` `Adj Close` ``), other custom features, `+ - * /`, unary minus, parentheses and the
//! functions in [`FUNCTIONS`]. It is parsed once into a tree and evaluated on whole columns.
//!
//! **Causal by construction**: every function reads rows `≤ t` only. `lag(x, k)` takes `k ≥ 0`
//! (a negative `k` would read the future and is refused when the config is read), windows end
//! at the current row, and there is no lead, shift or backward fill. A window that is not full
//! yet gives NaN, and [`Expr::warm_up`] says how many leading rows that is, so that the dataset
//! drops them like the warm-up of the built-in features.

use crate::features::{rolling_mean, rolling_std};

/// Every function an expression may call, with its arguments, for errors and suggestions.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("lag", "lag(x, k): x[t - k], k >= 0"),
    ("diff", "diff(x, k): x[t] - x[t - k], k >= 1 (default 1)"),
    (
        "pct_change",
        "pct_change(x, k): x[t] / x[t - k] - 1, k >= 1 (default 1)",
    ),
    ("log", "log(x): natural logarithm"),
    ("abs", "abs(x)"),
    ("sqrt", "sqrt(x)"),
    ("exp", "exp(x)"),
    (
        "rolling_mean",
        "rolling_mean(x, w): mean of the last w rows",
    ),
    (
        "rolling_std",
        "rolling_std(x, w): sample std (ddof = 1) of the last w rows, w >= 2",
    ),
    ("rolling_min", "rolling_min(x, w)"),
    ("rolling_max", "rolling_max(x, w)"),
    ("rolling_sum", "rolling_sum(x, w)"),
    ("rolling_median", "rolling_median(x, w)"),
    (
        "ewm_mean",
        "ewm_mean(x, span): exponentially weighted mean, pandas' ewm(span).mean(), span >= 1",
    ),
    (
        "zscore",
        "zscore(x, w): (x - rolling_mean(x, w)) / rolling_std(x, w), w >= 2",
    ),
];

/// The deepest nesting of parentheses, calls and signs the parser follows.
const MAX_DEPTH: usize = 200;

/// The most tokens an expression may have: evaluating, visiting and dropping the tree recurse
/// once per level, and a long chain `x + x + …` is as deep as it is long, so hostile input is
/// refused before it can exhaust the stack. Real features are a few dozen tokens.
pub const MAX_TOKENS: usize = 400;

/// The largest lag or window accepted: far beyond any real use, and within LightGBM's row limit.
pub const MAX_WINDOW: usize = i32::MAX as usize;

/// A statistic over a trailing window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Mean.
    Mean,
    /// Sample standard deviation (ddof = 1).
    Std,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Sum.
    Sum,
    /// Median.
    Median,
}

/// An element-wise function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Math {
    /// Natural logarithm.
    Log,
    /// Absolute value.
    Abs,
    /// Square root.
    Sqrt,
    /// Exponential.
    Exp,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// A column of the file, or another custom feature.
    Col(String),
    /// `-x`.
    Neg(Box<Expr>),
    /// `a op b`.
    Bin(Op, Box<Expr>, Box<Expr>),
    /// `log(x)`, `abs(x)`, ...
    Apply(Math, Box<Expr>),
    /// `lag(x, k)`.
    Lag(Box<Expr>, usize),
    /// `diff(x, k)`.
    Diff(Box<Expr>, usize),
    /// `pct_change(x, k)`.
    PctChange(Box<Expr>, usize),
    /// `rolling_<stat>(x, w)`.
    Rolling(Stat, Box<Expr>, usize),
    /// `zscore(x, w)`.
    Zscore(Box<Expr>, usize),
    /// `ewm_mean(x, span)`.
    Ewm(Box<Expr>, f64),
}

/// Why an expression does not parse: the 1-based character position and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based character position in the expression.
    pub position: usize,
    /// What was expected or what is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Sym(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number {v}"),
            Tok::Name(n) => format!("name `{n}`"),
            Tok::Sym(c) => format!("`{c}`"),
            Tok::End => "the end of the expression".into(),
        }
    }
}

/// Splits an expression into tokens with their 1-based character positions.
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let at = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                i += 1;
            }
            // An exponent: `1e-3`, `2E6`.
            if chars.get(i).is_some_and(|c| *c == 'e' || *c == 'E') {
                let mut j = i + 1;
                if chars.get(j).is_some_and(|c| *c == '+' || *c == '-') {
                    j += 1;
                }
                if chars.get(j).is_some_and(char::is_ascii_digit) {
                    i = j;
                    while chars.get(i).is_some_and(char::is_ascii_digit) {
                        i += 1;
                    }
                }
            }
            let s: String = chars[start..i].iter().collect();
            let v: f64 = s.parse().map_err(|_| ParseError {
                position: at,
                message: format!("`{s}` is not a number"),
            })?;
            out.push((Tok::Num(v), at));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            out.push((Tok::Name(chars[start..i].iter().collect()), at));
        } else if c == '`' {
            let start = i + 1;
            let Some(len) = chars[start..].iter().position(|&c| c == '`') else {
                return Err(ParseError {
                    position: at,
                    message: "expected a closing ` after the column name".into(),
                });
            };
            let name: String = chars[start..start + len].iter().collect();
            if name.is_empty() {
                return Err(ParseError {
                    position: at,
                    message: "expected a column name between the backticks".into(),
                });
            }
            out.push((Tok::Name(name), at));
            i = start + len + 1;
        } else if "+-*/(),".contains(c) {
            out.push((Tok::Sym(c), at));
            i += 1;
        } else {
            return Err(ParseError {
                position: at,
                message: format!(
                    "unexpected character {c:?} (expressions use numbers, column names, \
                     + - * /, parentheses and functions)"
                ),
            });
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> (&Tok, usize) {
        self.toks
            .get(self.at)
            .or(self.toks.last())
            .map_or((&Tok::End, 1), |(t, p)| (t, *p))
    }

    fn bump(&mut self) -> (Tok, usize) {
        let (t, p) = self.peek();
        let out = (t.clone(), p);
        if self.at < self.toks.len() {
            self.at += 1;
        }
        out
    }

    fn fail<T>(&self, expected: &str) -> Result<T, ParseError> {
        let (t, p) = self.peek();
        Err(ParseError {
            position: p,
            message: format!("expected {expected}, found {}", t.describe()),
        })
    }

    fn expect(&mut self, c: char, expected: &str) -> Result<(), ParseError> {
        if *self.peek().0 == Tok::Sym(c) {
            self.bump();
            Ok(())
        } else {
            self.fail(expected)
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        // Deep nesting is refused rather than overflowing the stack on hostile input.
        if depth > MAX_DEPTH {
            return self.fail("a shallower expression (over 200 nested levels)");
        }
        let mut left = self.term(depth)?;
        loop {
            let op = match self.peek().0 {
                Tok::Sym('+') => Op::Add,
                Tok::Sym('-') => Op::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.term(depth)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn term(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = match self.peek().0 {
                Tok::Sym('*') => Op::Mul,
                Tok::Sym('/') => Op::Div,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary(depth)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return self.fail("a shallower expression (over 200 nested levels)");
        }
        match self.peek().0 {
            Tok::Sym('-') => {
                self.bump();
                Ok(Expr::Neg(Box::new(self.unary(depth + 1)?)))
            }
            Tok::Sym('+') => {
                self.bump();
                self.unary(depth + 1)
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        match self.peek().0.clone() {
            Tok::Num(v) => {
                self.bump();
                Ok(Expr::Num(v))
            }
            Tok::Sym('(') => {
                self.bump();
                let e = self.expr(depth + 1)?;
                self.expect(')', "`)` or an operator")?;
                Ok(e)
            }
            Tok::Name(name) => {
                let (_, at) = self.bump();
                if *self.peek().0 == Tok::Sym('(') {
                    self.bump();
                    self.call(&name, at, depth)
                } else {
                    Ok(Expr::Col(name))
                }
            }
            _ => self.fail("a number, a column name, a function or `(`"),
        }
    }

    /// An integer argument (`k`, `w`): a literal, never an expression, so that the warm-up is
    /// known before any data is read. A negative lag is refused here: it would read the future.
    fn count(&mut self, func: &str, what: &str, min: usize) -> Result<usize, ParseError> {
        let (_, at) = self.peek();
        let negative = *self.peek().0 == Tok::Sym('-');
        if negative {
            self.bump();
        }
        let Tok::Num(v) = self.peek().0.clone() else {
            return self.fail(&format!("{what} of {func}() as a whole number"));
        };
        self.bump();
        if negative && v != 0.0 {
            let ahead = if func == "lag" {
                format!("lag(x, -{v}) would read x[t + {v}], {v} row(s) ahead")
            } else {
                format!("{func}(x, -{v}) would read {v} row(s) ahead")
            };
            return Err(ParseError {
                position: at,
                message: format!(
                    "{ahead}: that looks into the future and leaks it into the feature; \
                     {what} must be >= {min}"
                ),
            });
        }
        if v.fract() != 0.0 || v < min as f64 || v > MAX_WINDOW as f64 {
            return Err(ParseError {
                position: at,
                message: format!(
                    "{what} of {func}() must be a whole number from {min} to {MAX_WINDOW}, got {v}"
                ),
            });
        }
        Ok(v as usize)
    }

    fn call(&mut self, name: &str, at: usize, depth: usize) -> Result<Expr, ParseError> {
        let math = match name {
            "log" => Some(Math::Log),
            "abs" => Some(Math::Abs),
            "sqrt" => Some(Math::Sqrt),
            "exp" => Some(Math::Exp),
            _ => None,
        };
        let stat = match name {
            "rolling_mean" => Some(Stat::Mean),
            "rolling_std" => Some(Stat::Std),
            "rolling_min" => Some(Stat::Min),
            "rolling_max" => Some(Stat::Max),
            "rolling_sum" => Some(Stat::Sum),
            "rolling_median" => Some(Stat::Median),
            _ => None,
        };
        let known = math.is_some()
            || stat.is_some()
            || matches!(name, "lag" | "diff" | "pct_change" | "ewm_mean" | "zscore");
        if !known {
            let hint = match name {
                "lead" | "shift" | "bfill" | "future" => {
                    " (nothing may read later rows: use lag(x, k) with k >= 0)".to_string()
                }
                _ => crate::suggest::nearest(name, FUNCTIONS.iter().map(|(f, _)| *f))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default(),
            };
            return Err(ParseError {
                position: at,
                message: format!(
                    "unknown function `{name}`{hint} (functions: {})",
                    FUNCTIONS
                        .iter()
                        .map(|(f, _)| *f)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let x = Box::new(self.expr(depth + 1)?);
        if let Some(m) = math {
            self.expect(')', &format!("`)` closing {name}(x)"))?;
            return Ok(Expr::Apply(m, x));
        }
        // diff and pct_change default to one row, as in pandas.
        if matches!(name, "diff" | "pct_change") && *self.peek().0 == Tok::Sym(')') {
            self.bump();
            return Ok(if name == "diff" {
                Expr::Diff(x, 1)
            } else {
                Expr::PctChange(x, 1)
            });
        }
        let what = match name {
            "lag" | "diff" | "pct_change" => "k",
            "ewm_mean" => "span",
            _ => "w",
        };
        self.expect(',', &format!("`,` and {what} in {name}(x, {what})"))?;
        let e = if name == "ewm_mean" {
            let (t, p) = self.peek();
            let span = match t {
                Tok::Num(v) if *v >= 1.0 && v.is_finite() => *v,
                Tok::Num(v) => {
                    return Err(ParseError {
                        position: p,
                        message: format!("span of ewm_mean() must be >= 1, got {v}"),
                    });
                }
                _ => return self.fail("span of ewm_mean() as a number >= 1"),
            };
            self.bump();
            Expr::Ewm(x, span)
        } else {
            let min = match (name, stat) {
                ("lag", _) => 0,
                ("zscore", _) | (_, Some(Stat::Std)) => 2,
                _ => 1,
            };
            let n = self.count(name, what, min)?;
            match (name, stat) {
                (_, Some(s)) => Expr::Rolling(s, x, n),
                ("lag", _) => Expr::Lag(x, n),
                ("diff", _) => Expr::Diff(x, n),
                ("pct_change", _) => Expr::PctChange(x, n),
                _ => Expr::Zscore(x, n),
            }
        };
        self.expect(')', &format!("`)` closing {name}(x, {what})"))?;
        Ok(e)
    }
}

impl Expr {
    /// Parses an expression.
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        let toks = tokenize(text)?;
        if let Some((_, at)) = toks.get(MAX_TOKENS) {
            return Err(ParseError {
                position: *at,
                message: format!(
                    "the expression is too long (over {MAX_TOKENS} numbers, names and symbols): \
                     split it into several custom features"
                ),
            });
        }
        let mut p = Parser { toks, at: 0 };
        if *p.peek().0 == Tok::End {
            return p.fail("an expression");
        }
        let e = p.expr(0)?;
        if *p.peek().0 != Tok::End {
            return p.fail("an operator (+ - * /) or the end of the expression");
        }
        Ok(e)
    }

    /// The names the expression reads (columns or other custom features), each once, in order
    /// of first use.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Col(n) = e
                && !out.contains(&n.as_str())
            {
                out.push(n);
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Num(_) | Expr::Col(_) => {}
            Expr::Bin(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Neg(x)
            | Expr::Apply(_, x)
            | Expr::Lag(x, _)
            | Expr::Diff(x, _)
            | Expr::PctChange(x, _)
            | Expr::Rolling(_, x, _)
            | Expr::Zscore(x, _)
            | Expr::Ewm(x, _) => x.visit(f),
        }
    }

    /// Leading rows whose value needs rows before the start of the file (NaN), given the
    /// warm-up of each name it reads (0 for a file column).
    pub fn warm_up(&self, of_name: &dyn Fn(&str) -> usize) -> usize {
        match self {
            Expr::Num(_) => 0,
            Expr::Col(n) => of_name(n),
            Expr::Neg(x) | Expr::Apply(_, x) | Expr::Ewm(x, _) => x.warm_up(of_name),
            Expr::Bin(_, a, b) => a.warm_up(of_name).max(b.warm_up(of_name)),
            Expr::Lag(x, k) | Expr::Diff(x, k) | Expr::PctChange(x, k) => {
                x.warm_up(of_name).saturating_add(*k)
            }
            Expr::Rolling(_, x, w) | Expr::Zscore(x, w) => {
                x.warm_up(of_name).saturating_add(w.saturating_sub(1))
            }
        }
    }

    /// Evaluates the expression on whole columns of `n` rows; `column` gives the values of a
    /// name (a name it does not know reads as NaN: callers check names first with
    /// [`names`](Self::names)). Row `t` of the result reads rows `≤ t` only.
    pub fn eval(&self, n: usize, column: &dyn Fn(&str) -> Option<Vec<f64>>) -> Vec<f64> {
        match self {
            Expr::Num(v) => vec![*v; n],
            Expr::Col(name) => column(name)
                .filter(|c| c.len() == n)
                .unwrap_or_else(|| vec![f64::NAN; n]),
            Expr::Neg(x) => x.eval(n, column).into_iter().map(|v| -v).collect(),
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(n, column), b.eval(n, column));
                a.iter()
                    .zip(&b)
                    .map(|(a, b)| match op {
                        Op::Add => a + b,
                        Op::Sub => a - b,
                        Op::Mul => a * b,
                        Op::Div => a / b,
                    })
                    .collect()
            }
            Expr::Apply(m, x) => x
                .eval(n, column)
                .into_iter()
                .map(|v| match m {
                    Math::Log => v.ln(),
                    Math::Abs => v.abs(),
                    Math::Sqrt => v.sqrt(),
                    Math::Exp => v.exp(),
                })
                .collect(),
            Expr::Lag(x, k) => shifted(&x.eval(n, column), *k, |_, past| past),
            Expr::Diff(x, k) => shifted(&x.eval(n, column), *k, |now, past| now - past),
            Expr::PctChange(x, k) => shifted(&x.eval(n, column), *k, |now, past| now / past - 1.0),
            Expr::Rolling(stat, x, w) => {
                let x = x.eval(n, column);
                match stat {
                    Stat::Mean => rolling_mean(&x, *w),
                    Stat::Std => rolling_std(&x, *w),
                    Stat::Sum => rolling_with(&x, *w, |win| win.iter().sum()),
                    Stat::Min => rolling_with(&x, *w, |win| {
                        win.iter().copied().fold(f64::INFINITY, f64::min)
                    }),
                    Stat::Max => rolling_with(&x, *w, |win| {
                        win.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    }),
                    Stat::Median => {
                        let mut buf = Vec::with_capacity((*w).min(n));
                        rolling_with(&x, *w, |win| {
                            buf.clear();
                            buf.extend_from_slice(win);
                            buf.sort_by(f64::total_cmp);
                            let m = buf.len() / 2;
                            match (buf.len() % 2, buf.get(m), m.checked_sub(1)) {
                                (1, Some(v), _) => *v,
                                (_, Some(hi), Some(lo)) => {
                                    (buf.get(lo).copied().unwrap_or(f64::NAN) + hi) / 2.0
                                }
                                _ => f64::NAN,
                            }
                        })
                    }
                }
            }
            Expr::Zscore(x, w) => {
                let x = x.eval(n, column);
                let (mean, std) = (rolling_mean(&x, *w), rolling_std(&x, *w));
                x.iter()
                    .zip(mean.iter().zip(&std))
                    .map(|(v, (m, s))| (v - m) / s)
                    .collect()
            }
            Expr::Ewm(x, span) => ewm_mean(&x.eval(n, column), *span),
        }
    }
}

/// `f(x[t], x[t − k])`; NaN for `t < k`.
fn shifted(x: &[f64], k: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|t| match t.checked_sub(k) {
            Some(past) => f(x[t], x[past]),
            None => f64::NAN,
        })
        .collect()
}

/// `stat(x[t−w+1..=t])`; NaN until the window is full or when it holds a NaN (pandas'
/// `rolling(w)` with `min_periods = w`).
fn rolling_with(x: &[f64], w: usize, mut stat: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|t| match (t + 1).checked_sub(w) {
            Some(start) if w > 0 => {
                let win = &x[start..=t];
                if win.iter().any(|v| v.is_nan()) {
                    f64::NAN
                } else {
                    stat(win)
                }
            }
            _ => f64::NAN,
        })
        .collect()
}

/// pandas' `Series.ewm(span=span).mean()` (`adjust = True`, `ignore_na = False`,
/// `min_periods = 0`): weights `(1 − α)^i` with `α = 2 / (span + 1)`, over the rows up to `t`;
/// leading NaNs are skipped, and a NaN later keeps the last value while the weights decay.
pub fn ewm_mean(x: &[f64], span: f64) -> Vec<f64> {
    let alpha = 2.0 / (span + 1.0);
    let old_factor = 1.0 - alpha;
    let mut out = Vec::with_capacity(x.len());
    let mut avg = f64::NAN;
    let mut old_weight = 1.0;
    for &v in x {
        let observed = !v.is_nan();
        if !avg.is_nan() {
            old_weight *= old_factor;
            if observed {
                if avg != v {
                    avg = (old_weight * avg + v) / (old_weight + 1.0);
                }
                old_weight += 1.0;
            }
        } else if observed {
            avg = v;
        }
        out.push(avg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(name: &str) -> Option<Vec<f64>> {
        match name {
            "x" => Some(vec![1.0, 2.0, 4.0, 3.0, 5.0, 8.0]),
            "y" => Some(vec![2.0; 6]),
            _ => None,
        }
    }

    fn eval(text: &str) -> Vec<f64> {
        Expr::parse(text).unwrap().eval(6, &cols)
    }

    #[test]
    fn arithmetic_precedence_and_unary_minus() {
        assert_eq!(eval("1 + 2 * 3")[0], 7.0);
        assert_eq!(eval("(1 + 2) * 3")[0], 9.0);
        assert_eq!(eval("-x + 1")[2], -3.0);
        assert_eq!(eval("x / y - 1")[2], 1.0);
        assert_eq!(eval("2 - 3 - 4")[0], -5.0);
        assert_eq!(eval("8 / 4 / 2")[0], 1.0);
        assert_eq!(eval("--x")[1], 2.0);
        assert_eq!(eval("1e1 * x")[1], 20.0);
        assert_eq!(eval("`x` * 2")[1], 4.0);
    }

    #[test]
    fn lags_and_windows_read_only_the_past() {
        let lag = eval("lag(x, 2)");
        assert!(lag[1].is_nan());
        assert_eq!(lag[2..], [1.0, 2.0, 4.0, 3.0]);
        assert_eq!(eval("lag(x, 0)"), cols("x").unwrap());
        assert_eq!(eval("diff(x)")[1..], [1.0, 2.0, -1.0, 2.0, 3.0]);
        assert_eq!(eval("pct_change(x, 2)")[2], 3.0);
        assert_eq!(eval("rolling_max(x, 3)")[2..], [4.0, 4.0, 5.0, 8.0]);
        assert_eq!(eval("rolling_min(x, 3)")[2..], [1.0, 2.0, 3.0, 3.0]);
        assert_eq!(eval("rolling_sum(x, 2)")[1..], [3.0, 6.0, 7.0, 8.0, 13.0]);
        assert_eq!(eval("rolling_median(x, 3)")[2..], [2.0, 3.0, 4.0, 5.0]);
        assert_eq!(eval("rolling_median(x, 2)")[1..], [1.5, 3.0, 3.5, 4.0, 6.5]);
        // Causality by construction: changing later rows changes nothing before them.
        let text = "zscore(x, 3) + ewm_mean(diff(x), 2) + rolling_median(lag(x, 1), 2) \
                    + rolling_std(pct_change(x), 2)";
        let e = Expr::parse(text).unwrap();
        let base = e.eval(6, &cols);
        for t in 0..5 {
            let bumped = |name: &str| {
                cols(name).map(|c| {
                    c.iter()
                        .enumerate()
                        .map(|(i, v)| if i > t { v * 7.0 + 3.0 } else { *v })
                        .collect()
                })
            };
            let changed = e.eval(6, &bumped);
            for i in 0..=t {
                assert!(
                    base[i].to_bits() == changed[i].to_bits(),
                    "row {i} changed when rows > {t} changed"
                );
            }
        }
        assert_eq!(e.warm_up(&|_| 0), 2);
    }

    #[test]
    fn warm_up_adds_lags_and_windows() {
        let w = |s: &str| {
            Expr::parse(s)
                .unwrap()
                .warm_up(&|n| if n == "f" { 5 } else { 0 })
        };
        assert_eq!(w("close / lag(close, 20) - 1"), 20);
        assert_eq!(w("rolling_mean(lag(x, 3), 10)"), 12);
        assert_eq!(w("zscore(x, 20) * f"), 19);
        assert_eq!(w("lag(f, 1)"), 6);
        assert_eq!(w("ewm_mean(x, 10)"), 0);
    }

    #[test]
    fn ewm_mean_is_pandas() {
        // pandas 3.1.1: pd.Series([1, 2, 4, 3, 5, 8]).ewm(span=3).mean()
        // (scripts/reference/custom_features.py): alpha = 0.5.
        let want = [
            1.0,
            1.6666666666666667,
            3.0,
            3.0,
            4.032258064516129,
            6.0476190476190474,
        ];
        let got = ewm_mean(&cols("x").unwrap(), 3.0);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        // Leading NaNs are skipped; a NaN later keeps the value and decays the weights:
        // pd.Series([nan, 1, nan, 3]).ewm(span=3).mean() = [nan, 1.0, 1.0, 2.6].
        let got = ewm_mean(&[f64::NAN, 1.0, f64::NAN, 3.0], 3.0);
        assert!(got[0].is_nan());
        assert_eq!(got[1..3], [1.0, 1.0]);
        assert!((got[3] - 2.6).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn parse_errors_say_where_and_what() {
        let err = |s: &str| Expr::parse(s).unwrap_err().to_string();
        assert_eq!(
            err("close / lag(close, -1)"),
            "at character 20: lag(x, -1) would read x[t + 1], 1 row(s) ahead: that looks into \
             the future and leaks it into the feature; k must be >= 0"
        );
        assert!(err("diff(x, -2)").contains("looks into the future"));
        assert_eq!(
            err("(close - 1"),
            "at character 11: expected `)` or an operator, found the end of the expression"
        );
        assert_eq!(
            err("close +* 2"),
            "at character 8: expected a number, a column name, a function or `(`, found `*`"
        );
        assert!(
            err("rolling_mea(x, 3)").starts_with(
                "at character 1: unknown function `rolling_mea`; did you mean `rolling_mean`?"
            ),
            "{}",
            err("rolling_mea(x, 3)")
        );
        assert!(err("lead(x, 1)").contains("use lag(x, k) with k >= 0"));
        assert!(err("rolling_std(x, 1)").contains("from 2 to"));
        assert!(err("lag(x, 1.5)").contains("whole number"));
        assert!(err("lag(x)").contains("expected `,` and k in lag(x, k)"));
        assert!(err("x $ 2").contains("unexpected character '$'"));
        assert!(err("").contains("expected an expression"));
        assert!(err("x y").contains("expected an operator"));
        assert!(err("`x").contains("closing `"));
        assert!(err(&"(".repeat(300)).contains("nested"));
        assert!(err(&"-".repeat(300)).contains("nested"));
        assert!(err(&"x+".repeat(100_000)).contains("too long"));
        assert_eq!(
            Expr::parse("a + lag(b, 2) * a").unwrap().names(),
            vec!["a", "b"]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Any text parses or gives a positioned error, never a panic; what parses
            /// evaluates (on columns shorter than its windows too) and reads no later row.
            #[test]
            fn any_text_parses_or_fails_cleanly(
                text in "[a-z_()+\\-*/,. 0-9x`é]{0,60}|(lag|diff|rolling_std|ewm_mean|zscore|rolling_median)\\(x, ?-?[0-9]{1,3}\\)( [-+*/] x)?",
            ) {
                if let Ok(e) = Expr::parse(&text) {
                    let base = e.eval(6, &cols);
                    prop_assert_eq!(base.len(), 6);
                    let later = |name: &str| cols(name).map(|mut c| {
                        c[5] = 1e9;
                        c
                    });
                    let changed = e.eval(6, &later);
                    for i in 0..5 {
                        prop_assert!(base[i].to_bits() == changed[i].to_bits());
                    }
                    let _ = e.warm_up(&|_| 0);
                }
            }
        }
    }
}
