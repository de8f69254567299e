//! `hone init`: a commented starter config for the user's own data file.
//!
//! [`starter_config`] reads the file with hone's own reader (so what it detects is what
//! `hone train` will see), finds the time column, the price, volume and high/low columns,
//! and writes a config for one of the [`Template`]s whose every choice carries a comment
//! saying why and what else there is. The config is checked by the same parser as any other
//! before it is returned, so a template that stopped parsing is caught here, not by the user.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use hone_data::table::{self, Table};
use hone_data::time::parse_timestamp;

use crate::TrainError;

/// What kind of job the starter config sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Binary up/down of the next bar, LightGBM, expanding-window CV.
    Direction,
    /// The forward return (regression), a LightGBM random forest.
    Regression,
    /// A multi-bar direction label with purged k-fold and embargo, a cost-aware backtest and
    /// quality gates.
    PurgedTrading,
    /// `direction` plus a `[search]` table for `hone tune`.
    Tune,
}

impl Template {
    /// Every template, by its command-line name.
    pub const ALL: [(&'static str, Template); 4] = [
        ("direction", Template::Direction),
        ("regression", Template::Regression),
        ("purged-trading", Template::PurgedTrading),
        ("tune", Template::Tune),
    ];

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("direction", |(n, _)| n)
    }
}

impl std::str::FromStr for Template {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown template {s:?} (one of {}){}",
                    names.join(", "),
                    hone_models::suggest::nearest(s, names.iter().copied())
                        .map(|n| format!("; did you mean {n:?}?"))
                        .unwrap_or_default()
                )
            })
    }
}

/// A written starter config and what was detected in the data.
#[derive(Debug, Clone)]
pub struct StarterConfig {
    /// The config text (TOML with comments).
    pub text: String,
    /// The time column, if one was found.
    pub time_column: Option<String>,
    /// The price column features and the label are derived from.
    pub price: String,
    /// The volume column, if any.
    pub volume: Option<String>,
    /// The high and low columns, if both exist.
    pub high_low: Option<(String, String)>,
    /// Data rows in the file.
    pub rows: usize,
    /// Things the user should check (a date format hone cannot read yet, missing values, ...).
    pub notes: Vec<String>,
}

/// A column name reduced for matching: lower case, letters and digits only, so `Adj Close`,
/// `adj_close` and `ADJ-CLOSE` all read `adjclose`.
fn norm(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Names (after [`norm`]) of each kind of column, most preferred first.
const ADJ_CLOSE: [&str; 4] = ["adjclose", "adjustedclose", "adjclosing", "closeadj"];
const CLOSE: [&str; 4] = ["close", "closeprice", "closingprice", "closing"];
const OTHER_PRICE: [&str; 5] = ["price", "last", "lastprice", "pxlast", "mid"];
const VOLUME: [&str; 4] = ["volume", "vol", "totalvolume", "qty"];
const HIGH: [&str; 2] = ["high", "highprice"];
const LOW: [&str; 2] = ["low", "lowprice"];
const TIME_NAMES: [&str; 7] = [
    "date",
    "time",
    "timestamp",
    "datetime",
    "dt",
    "day",
    "tradedate",
];

fn find<'t>(table: &'t Table, names: &[&str]) -> Option<&'t str> {
    names.iter().find_map(|want| {
        table
            .columns
            .iter()
            .find(|c| norm(&c.name) == *want)
            .map(|c| c.name.as_str())
    })
}

/// A `strftime` format for dates hone cannot read as ISO (`1/4/1999`, `04.01.1999`,
/// `1999/01/04`), from sample cells; `None` when they are ISO, numbers, or not dates at all.
/// Day-first is chosen only when a first field above 12 proves it; otherwise month-first (US).
pub fn detect_time_format(samples: &[&str]) -> Option<(String, String)> {
    let samples: Vec<&str> = samples
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if samples.is_empty() || samples.iter().all(|s| parse_timestamp(s).is_some()) {
        return None;
    }
    let first = samples[0];
    let sep = ['/', '.', '-'].into_iter().find(|c| first.contains(*c))?;
    let (_, clock0) = first.split_once([' ', 'T']).unwrap_or((first, ""));
    let mut day_first = false;
    let mut year_first = false;
    let mut year_len = 0;
    for s in &samples {
        let (date, _) = s.split_once([' ', 'T']).unwrap_or((s, ""));
        let parts: Vec<&str> = date.split(sep).collect();
        let [a, b, c] = parts.as_slice() else {
            return None;
        };
        if ![a, b, c]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        if a.len() == 4 {
            year_first = true;
        } else {
            year_len = c.len();
            if a.parse::<u32>().ok()? > 12 {
                day_first = true;
            }
        }
    }
    let s = sep.to_string();
    let (format, what) = if year_first {
        (format!("%Y{s}%m{s}%d"), "year-first dates")
    } else {
        let y = if year_len == 2 { "%y" } else { "%Y" };
        if day_first {
            (format!("%d{s}%m{s}{y}"), "day-first dates")
        } else {
            (format!("%m{s}%d{s}{y}"), "US (month-first) dates")
        }
    };
    let clock = match clock0.split(':').count() {
        _ if clock0.is_empty() => "",
        2 => " %H:%M",
        _ => " %H:%M:%S",
    };
    Some((format!("{format}{clock}"), format!("detected {what}")))
}

/// Writes a starter config for `data` from `template`, for a config file that will live at
/// `config_path` (the data path is written relative to its folder, as configs resolve it).
/// `price` names the price column when hone should not guess it. A file without a column that
/// reads as a price is an error listing the columns found.
pub fn starter_config(
    data: &Path,
    template: Template,
    config_path: &Path,
    price: Option<&str>,
) -> Result<StarterConfig, TrainError> {
    let table = table::load(data, &[])?;
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let n = table.n_rows;
    let mut notes = Vec::new();

    // Time column: a time-like name, else the first text column whose first cell is a date.
    let time_column = table
        .columns
        .iter()
        .find(|c| TIME_NAMES.contains(&norm(&c.name).as_str()))
        .or_else(|| {
            table.columns.iter().find(|c| {
                c.numeric().is_none() && {
                    let cell = c.text_at(0);
                    parse_timestamp(&cell).is_some() || detect_time_format(&[&cell]).is_some()
                }
            })
        })
        .map(|c| c.name.clone());
    // Numbers (epoch seconds, yyyymmdd) order fine as they are: only text needs a format.
    let time_format = time_column.as_deref().and_then(|name| {
        let col = table.column(name).ok()?;
        if col.numeric().is_some() {
            return None;
        }
        let cells: Vec<String> = (0..n.min(200)).map(|i| col.text_at(i)).collect();
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        detect_time_format(&refs)
    });
    if let Some((format, what)) = &time_format {
        notes.push(format!(
            "time column {:?} holds dates hone reads only with time_format = {format:?} ({what}); \
             the config sets it",
            time_column.as_deref().unwrap_or_default()
        ));
    }
    // Some vendors export newest first; hone needs oldest first and would refuse the file at
    // the first out-of-order row, so say it now, in words.
    if let Some(col) = time_column
        .as_deref()
        .and_then(|name| table.column(name).ok())
        && n > 1
        && let (Some(first), Some(last)) = (
            parse_timestamp(&col.text_at(0)),
            parse_timestamp(&col.text_at(n - 1)),
        )
        && first > last
    {
        notes.push(format!(
            "the rows are newest first ({} .. {}): sort the file oldest first before training \
             (hone needs increasing times)",
            col.text_at(0),
            col.text_at(n - 1)
        ));
    }
    if time_column.is_none() {
        notes.push(
            "no time column found: rows are taken in file order (name one with data.time_column)"
                .into(),
        );
    }

    // Price: the user's choice, else adjusted close, close, then a generic price column.
    let price_col = match price {
        Some(p) => {
            table.column(p)?;
            p.to_string()
        }
        None => find(&table, &ADJ_CLOSE)
            .or_else(|| find(&table, &CLOSE))
            .or_else(|| find(&table, &OTHER_PRICE))
            .map(str::to_string)
            .ok_or_else(|| {
                TrainError::Invalid(format!(
                    "{}: no price column found (looked for close, adj close, price, last; \
                     columns: {}): name it with --price COLUMN",
                    data.display(),
                    columns.join(", ")
                ))
            })?,
    };
    if let Some(why) = table.why_not_numeric(&price_col) {
        return Err(TrainError::Invalid(format!(
            "{}: price column {price_col:?} is {why}: features are derived from numbers",
            data.display()
        )));
    }
    let numeric = |name: &str| table.why_not_numeric(name).is_none();
    let volume = find(&table, &VOLUME)
        .filter(|v| numeric(v))
        .map(str::to_string);
    let high_low = match (find(&table, &HIGH), find(&table, &LOW)) {
        (Some(h), Some(l)) if numeric(h) && numeric(l) => Some((h.to_string(), l.to_string())),
        _ => None,
    };
    let close_alt = find(&table, &CLOSE).filter(|c| *c != price_col);

    // Missing values in the columns the config uses: hone refuses them in a price.
    let used: Vec<&str> = std::iter::once(price_col.as_str())
        .chain(volume.as_deref())
        .chain(high_low.iter().flat_map(|(h, l)| [h.as_str(), l.as_str()]))
        .collect();
    let missing: Vec<String> = used
        .iter()
        .filter_map(|name| {
            let values = table.numeric(name).ok()?;
            let k = values.iter().filter(|v| v.is_nan()).count();
            (k > 0).then(|| format!("{name} ({k})"))
        })
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "missing values in {}: the config fills them from earlier rows (fill = \"ffill\"; never backward)",
            missing.join(", ")
        ));
    }

    let name = format!(
        "{}_{}",
        data.file_stem()
            .map_or("data".into(), |s| s.to_string_lossy().into_owned()),
        template.name().replace('-', "_")
    );
    let folder = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let rel = relative_to(data, folder);
    let text = render(&Render {
        template,
        name: &name,
        data_file: data,
        data_rel: &rel,
        columns: &columns,
        rows: n,
        time_column: time_column.as_deref(),
        time_format: time_format.as_ref(),
        price: &price_col,
        close_alt,
        volume: volume.as_deref(),
        high_low: high_low.as_ref(),
        missing: &missing,
    });
    // The template must give a config hone accepts (without the data: only its parse).
    crate::config::parse(&text, config_path)?;
    Ok(StarterConfig {
        text,
        time_column,
        price: price_col,
        volume,
        high_low,
        rows: n,
        notes,
    })
}

/// `target` written relative to the folder `base` (both made absolute first), so that the
/// config finds its data from wherever it is run; the absolute path when no relative one
/// exists (another drive).
fn relative_to(target: &Path, base: &Path) -> PathBuf {
    let (Ok(target), Ok(base)) = (std::path::absolute(target), std::path::absolute(base)) else {
        return target.to_path_buf();
    };
    fn clean(p: &Path) -> Vec<Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    }
    let (t, b) = (clean(&target), clean(&base));
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Sharing only the root (or `..` left in a path) gives a path that climbs to `/` and
    // down again: the absolute one reads better.
    if common <= 1
        || t.iter()
            .chain(&b)
            .any(|c| matches!(c, Component::ParentDir))
    {
        return target;
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// What [`render`] writes from.
struct Render<'a> {
    template: Template,
    name: &'a str,
    data_file: &'a Path,
    data_rel: &'a Path,
    columns: &'a [&'a str],
    rows: usize,
    time_column: Option<&'a str>,
    time_format: Option<&'a (String, String)>,
    price: &'a str,
    close_alt: Option<&'a str>,
    volume: Option<&'a str>,
    high_low: Option<&'a (String, String)>,
    missing: &'a [String],
}

/// A TOML basic string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The config text. Every line a user might change has a comment with the reason and the
/// alternatives; the values are those of the bundled examples, scaled down for short files.
fn render(r: &Render<'_>) -> String {
    let t = r.template;
    let mut s = String::new();
    let file = r
        .data_file
        .file_name()
        .map_or(String::new(), |f| f.to_string_lossy().into_owned());
    let horizon = match t {
        Template::Direction | Template::Tune => 1,
        Template::Regression | Template::PurgedTrading => 5,
    };
    let short = r.rows < 1500;
    // Windows of about a week, a month and a quarter of daily bars; shorter files get shorter
    // windows, since each window's warm-up rows are dropped.
    let (returns, rolling) = if short {
        ("[1, 5, 10]", "[5, 20]")
    } else {
        ("[1, 5, 20]", "[20, 60]")
    };
    let min_leaf = (r.rows / 50).clamp(5, 100);
    let command = if t == Template::Tune { "tune" } else { "train" };
    let _ = writeln!(
        s,
        "# hone starter config (template {:?}) for {file}, written by `hone init`.",
        t.name()
    );
    let _ = writeln!(
        s,
        "# Columns found ({} rows): {}.",
        r.rows,
        r.columns.join(", ")
    );
    let _ = writeln!(
        s,
        "# Check it with `hone split <this file>` (the folds), then `hone {command} <this file>`."
    );
    let _ = writeln!(
        s,
        "# Any key can be changed for one run without editing: --set split.n_splits=3."
    );
    let _ = writeln!(s, "name = {}", q(r.name));
    let _ = writeln!(
        s,
        "seed = 42                      # every random component: same seed, same result"
    );
    match t {
        Template::Regression => {
            let _ = writeln!(
                s,
                "metrics = [\"rmse\", \"mae\", \"r2\"]   # MAPE is left out: returns near zero make it meaningless"
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "metrics = [\"roc_auc\", \"log_loss\", \"accuracy\"]   # default: every metric of the task"
            );
        }
    }

    let _ = writeln!(s, "\n[data]");
    let _ = writeln!(
        s,
        "path = {}   # relative to this file's folder",
        q(&r.data_rel.to_string_lossy())
    );
    match r.time_column {
        Some(tc) => {
            let _ = writeln!(
                s,
                "time_column = {}   # rows must be in time order: temporal splits and features rely on it",
                q(tc)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# time_column = \"date\"   # none detected: rows are taken in file order"
            );
        }
    }
    match r.time_format {
        Some((format, what)) => {
            let _ = writeln!(
                s,
                "time_format = {}   # {what}: hone reads ISO dates (1999-01-04) without it",
                q(format)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "# time_format = \"%m/%d/%Y\"   # only for non-ISO dates such as 1/4/1999 (these are ISO)"
            );
        }
    }
    if r.missing.is_empty() {
        let _ = writeln!(
            s,
            "# fill = \"ffill\"   # carry the last value over gaps (no missing values found in the columns used)"
        );
    } else {
        let _ = writeln!(
            s,
            "fill = \"ffill\"   # carry the last value over gaps (causal: never backward); missing values found in {}",
            r.missing.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "# Raw prices and volume are not features: their levels trend, so a model on them learns\n\
         # the period rather than a pattern. The derived features below are scale-free. List raw\n\
         # columns under `features = [...]` to add them."
    );

    let _ = writeln!(
        s,
        "\n[data.derive]                  # causal features: the value at row t uses rows <= t only"
    );
    let price_why = match r.close_alt {
        Some(close) => format!(
            "adjusted for splits and dividends, so returns are real returns ({close:?} also exists)"
        ),
        None => "the price features and the label are computed from".to_string(),
    };
    let _ = writeln!(s, "price = {}   # {price_why}", q(r.price));
    if let Some(v) = r.volume {
        let _ = writeln!(s, "volume = {}   # for volume_z", q(v));
    }
    if let Some((h, l)) = r.high_low {
        let _ = writeln!(s, "high_low = [{}, {}]   # for range", q(h), q(l));
    }
    let _ = writeln!(
        s,
        "returns = {returns}          # ret_k = p[t] / p[t-k] - 1: momentum over k bars"
    );
    let _ = writeln!(
        s,
        "rolling = {rolling}           # vol_w (volatility), ma_gap_w (distance to the mean), zscore_w"
    );
    let _ = writeln!(s, "rsi = [14]                     # Wilder's RSI, 0..100");
    if r.volume.is_some() {
        let _ = writeln!(
            s,
            "volume_z = [20]                # z-score of log volume: unusual activity"
        );
    } else {
        let _ = writeln!(
            s,
            "# volume_z = [20]              # needs a volume column (none found)"
        );
    }
    if r.high_low.is_some() {
        let _ = writeln!(
            s,
            "range = true                   # (high - low) / close: the bar's own volatility"
        );
    } else {
        let _ = writeln!(
            s,
            "# range = true                 # needs high and low columns (not both found)"
        );
    }

    let _ = writeln!(s, "\n[target]");
    match t {
        Template::Regression => {
            let _ = writeln!(
                s,
                "kind = \"forward_return\"        # p[t + horizon] / p[t] - 1 (regression); \"direction\" for up/down"
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "kind = \"direction\"             # 1 if the price is higher `horizon` bars ahead, else 0;\n\
                 \x20                              # \"forward_return\" to predict the return itself"
            );
        }
    }
    let _ = writeln!(s, "column = {}", q(r.price));
    match horizon {
        1 => {
            let _ = writeln!(
                s,
                "horizon = 1                    # the next bar; the gap and the holdout purge follow it"
            );
        }
        h => {
            let _ = writeln!(
                s,
                "horizon = {h}                    # each label spans {h} bars, so the {h} rows before each test\n\
                 \x20                              # block and before the holdout are removed (no overlap)"
            );
        }
    }
    if t != Template::Regression {
        let _ = writeln!(
            s,
            "# threshold = 0.001            # up only above +0.1%; classes = 3 adds a flat class"
        );
    }

    let _ = writeln!(
        s,
        "\n[preprocess]                   # fitted on each fold's training rows only"
    );
    let _ = writeln!(
        s,
        "scale = \"standard\"             # trees do not need it, linear models do; \"robust\" for fat tails"
    );
    let _ = writeln!(
        s,
        "# impute = \"median\"            # without it a missing feature value is an error naming its line"
    );

    let _ = writeln!(s, "\n[split]");
    if t == Template::PurgedTrading {
        let _ = writeln!(
            s,
            "scheme = \"purged_kfold\"        # k-fold that also trains on later data, made honest by purging\n\
             \x20                              # training rows whose labels overlap a test block"
        );
        let _ = writeln!(s, "n_splits = 5");
        let _ = writeln!(
            s,
            "embargo_pct = 0.01             # and dropping 1% of rows after each test block (serial correlation)"
        );
        let _ = writeln!(
            s,
            "# scheme = \"cpcv\" (n_groups = 6, n_test_groups = 2) gives many backtest paths instead of one"
        );
    } else {
        let _ = writeln!(
            s,
            "scheme = \"timeseries\"          # expanding window: every fold trains on the past only;\n\
             \x20                              # purged_kfold, cpcv and walk_forward are the alternatives"
        );
        let _ = writeln!(s, "n_splits = 5");
        if t == Template::Regression {
            let _ = writeln!(
                s,
                "# max_train_size = 1500        # a rolling window instead of an expanding one"
            );
        }
    }
    let _ = writeln!(
        s,
        "holdout = 0.2                  # the latest 20% of rows, scored once at the end, never tuned on"
    );

    let _ = writeln!(s, "\n[model]");
    match t {
        Template::Regression => {
            let _ = writeln!(
                s,
                "type = \"random_forest\"         # LightGBM's random forest: robust to noisy returns;\n\
                 \x20                              # \"lightgbm\" (gradient boosting) or \"ridge\" are the alternatives"
            );
            let _ = writeln!(s, "\n[model.params]");
            let _ = writeln!(s, "num_iterations = 200           # trees");
            let _ = writeln!(s, "num_leaves = 31");
            let _ = writeln!(
                s,
                "min_data_in_leaf = {min_leaf}          # large leaves: returns are mostly noise"
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "type = \"lightgbm\"              # gradient boosting; \"logistic\" is the linear baseline"
            );
            let _ = writeln!(
                s,
                "early_stopping_rounds = 50     # on the latest 20% of each fold's training rows, never its test rows"
            );
            let _ = writeln!(s, "validation_fraction = 0.2");
            let _ = writeln!(s, "\n[model.params]");
            let _ = writeln!(
                s,
                "num_iterations = 500           # an upper bound: early stopping picks the rounds"
            );
            let _ = writeln!(
                s,
                "learning_rate = 0.02           # small steps: financial signals are weak"
            );
            let _ = writeln!(
                s,
                "num_leaves = 15                # shallow trees overfit less"
            );
            let _ = writeln!(s, "min_data_in_leaf = {min_leaf}");
            let _ = writeln!(s, "feature_fraction = 0.8");
            let _ = writeln!(s, "bagging_fraction = 0.8");
            let _ = writeln!(s, "bagging_freq = 1");
            let _ = writeln!(s, "lambda_l2 = 1.0");
        }
    }

    if t == Template::PurgedTrading {
        let _ = writeln!(
            s,
            "\n[trading]                      # backtest the out-of-fold and holdout predictions"
        );
        let _ = writeln!(s, "price = {}", q(r.price));
        let _ = writeln!(
            s,
            "rule = \"sign\"                  # long when P(up) >= threshold, else short; \"sized\": position by confidence"
        );
        let _ = writeln!(
            s,
            "long_only = false              # true: flat instead of short"
        );
        let _ = writeln!(
            s,
            "cost_bps = 2                   # per unit of turnover: a strategy that only works at zero cost does not work"
        );
        let _ = writeln!(
            s,
            "# periods_per_year = 252       # default: inferred from the time column"
        );
        let _ = writeln!(
            s,
            "\n[gates]                        # checked after training; a failed hard gate exits with code 3"
        );
        let _ = writeln!(
            s,
            "defaults = true                # warn: deflated Sharpe >= 0.95, PBO <= 0.2, holdout PSR >= 0.95, drift"
        );
        let _ = writeln!(
            s,
            "warn = [\"holdout.trading.sharpe > 0\", \"cv.trading.max_drawdown > -0.5\"]"
        );
        let _ = writeln!(
            s,
            "# hard = [\"cv.roc_auc.mean >= 0.52\"]   # make the run fail unless the model beats chance"
        );
    }

    if t == Template::Tune {
        let _ = writeln!(
            s,
            "\n# `hone tune` runs trials (each cross-validated on the folds above, the holdout untouched),\n\
             # then refits the best parameters and scores the holdout once."
        );
        let _ = writeln!(s, "[search]");
        let _ = writeln!(
            s,
            "sampler = \"tpe\"                # grid, random, sobol, tpe, gp (one objective), nsga2"
        );
        let _ = writeln!(
            s,
            "pruner = \"median\"              # stop trials whose running CV mean falls below the median"
        );
        let _ = writeln!(
            s,
            "n_trials = 30                  # try --set search.n_trials=3 for a quick look"
        );
        let _ = writeln!(
            s,
            "metric = \"roc_auc\"             # objective: the CV mean of this metric"
        );
        let _ = writeln!(
            s,
            "# Search the model, not the label: target.* or split.holdout in the space makes trials\n\
             # incomparable (hone tune warns). A name without a dot is a model parameter."
        );
        let space = [
            ("learning_rate", "float", "0.005", "0.2", "log = true"),
            ("num_leaves", "int", "4", "64", "log = true"),
            ("min_data_in_leaf", "int", "20", "400", "step = 20"),
            ("feature_fraction", "float", "0.4", "1.0", ""),
            ("lambda_l2", "float", "0.001", "10.0", "log = true"),
        ];
        for (name, kind, low, high, extra) in space {
            let _ = writeln!(s, "\n[search.space.{name}]");
            let _ = writeln!(s, "type = \"{kind}\"");
            let _ = writeln!(s, "low = {low}");
            let _ = writeln!(s, "high = {high}");
            if !extra.is_empty() {
                let _ = writeln!(s, "{extra}");
            }
        }
    }
    align_comments(&s)
}

/// Lines up the trailing comments of key lines at one column (continuation lines are written
/// already indented to it), so the config reads as a table of settings and reasons.
fn align_comments(text: &str) -> String {
    const COLUMN: usize = 31;
    let mut out = String::with_capacity(text.len() + 1024);
    for line in text.lines() {
        match line.split_once("  #") {
            Some((code, comment)) if !line.starts_with([' ', '#']) => {
                let code = code.trim_end();
                let pad = COLUMN.saturating_sub(code.chars().count()).max(2);
                let _ = writeln!(out, "{code}{}#{comment}", " ".repeat(pad));
            }
            _ => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_formats_are_detected() {
        assert_eq!(detect_time_format(&["1999-01-04", "1999-01-05"]), None);
        assert_eq!(detect_time_format(&["19990104"]), None);
        let us = detect_time_format(&["1/4/1999", "1/5/1999"]).unwrap();
        assert_eq!(us.0, "%m/%d/%Y");
        let eu = detect_time_format(&["04.01.1999", "25.01.1999"]).unwrap();
        assert_eq!(eu.0, "%d.%m.%Y");
        let yf = detect_time_format(&["1999/01/04 09:30"]).unwrap();
        assert_eq!(yf.0, "%Y/%m/%d %H:%M");
        assert_eq!(detect_time_format(&["abc"]), None);
        assert_eq!(detect_time_format(&["1/4/1999", "x/y/z"]), None);
    }

    #[test]
    fn column_names_match_loosely() {
        assert_eq!(norm("Adj Close"), "adjclose");
        assert_eq!(norm("adj_close"), "adjclose");
        assert_eq!(norm(" VOLUME "), "volume");
    }

    #[test]
    fn data_paths_are_relative_to_the_config() {
        assert_eq!(
            relative_to(Path::new("/a/b/data/x.csv"), Path::new("/a/b/cfg")),
            PathBuf::from("../data/x.csv")
        );
        assert_eq!(
            relative_to(Path::new("/a/x.csv"), Path::new("/a")),
            PathBuf::from("x.csv")
        );
    }

    #[test]
    fn templates_parse_by_name() {
        assert_eq!("tune".parse::<Template>(), Ok(Template::Tune));
        let e = "purged".parse::<Template>().unwrap_err();
        assert!(e.contains("purged-trading"), "{e}");
    }
}
