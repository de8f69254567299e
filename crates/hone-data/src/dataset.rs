//! From a loaded table to a training dataset: features, target, times and label windows.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::features::DeriveSpec;
use crate::fill::{FillMethod, FillSpec};
use crate::table::{FileFormat, Table};
use crate::time::TimeFormat;
use crate::{DataError, fingerprint};

/// Which columns are features, which is time, and what to derive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The CSV or Parquet file (relative paths are resolved against the config file's folder).
    pub path: PathBuf,
    /// Column holding the timestamp of each row; rows must be in time order.
    #[serde(default)]
    pub time_column: Option<String>,
    /// How the time column is written: a chrono strftime pattern (`%m/%d/%Y`,
    /// `%Y-%m-%d %H:%M:%S%.f`, `%Y-%m-%dT%H:%M:%S%z`...), `epoch_s` or `epoch_ms`. Default:
    /// ISO-8601 dates and date-times (optional `Z` or UTC offset) or numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    /// Causal filling of missing cells: `"ffill"` / `"zero"` for every numeric column, or a
    /// method per column. Never backward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<FillSpec>,
    /// Raw columns used as features. Default: every numeric column except the time column, the
    /// target column and `exclude` (none when `derive` is set, unless listed here).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Columns never used as features.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Causal features derived from prices and volume.
    #[serde(default)]
    pub derive: Option<DeriveSpec>,
    /// Column naming each row's group (instrument, sector, venue), for metric parity across
    /// groups; never a feature.
    #[serde(default)]
    pub group_column: Option<String>,
    /// Column naming each row's asset: the file is a panel (many assets per timestamp, long
    /// format). Features are derived within each asset's own history, splits cut between
    /// timestamps, and cross-sectional metrics (IC, rank IC) are reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_column: Option<String>,
    /// Cross-sectional transforms of a panel's features and target, per timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_section: Option<crate::panel::CrossSectionSpec>,
}

/// How the target is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// An existing column.
    Column,
    /// Sign of the forward return over `horizon` bars: 1 if above `threshold`, else 0; or with
    /// `classes = 3`: 0 below −threshold, 1 within ±threshold, 2 above.
    Direction,
    /// The forward simple return `p[t+h] / p[t] − 1` (regression).
    ForwardReturn,
}

/// The target: a column, or a label derived from future prices without leaking them into features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// How the target is obtained.
    pub kind: TargetKind,
    /// The target column (`column`), or the price column the label is derived from.
    #[serde(default = "default_price")]
    pub column: String,
    /// Bars ahead the label looks (derived targets; default 1). For `column` targets, how many
    /// bars ahead the given label already looks (default 0), used to purge overlapping labels.
    #[serde(default)]
    pub horizon: Option<usize>,
    /// Return threshold for `direction` labels.
    #[serde(default)]
    pub threshold: f64,
    /// Number of classes for `direction` labels: 2 (up/not up) or 3 (down/flat/up).
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// For `column` targets: `binary`, `multiclass` or `regression`.
    #[serde(default)]
    pub task: Option<String>,
}

fn default_price() -> String {
    "close".into()
}

fn default_classes() -> usize {
    2
}

impl TargetSpec {
    /// Bars ahead the label looks.
    pub fn horizon(&self) -> usize {
        self.horizon.unwrap_or(match self.kind {
            TargetKind::Column => 0,
            _ => 1,
        })
    }

    /// `binary`, `multiclass` or `regression`.
    pub fn task_kind(&self) -> Result<&str, DataError> {
        match self.kind {
            TargetKind::Direction if self.classes == 2 => Ok("binary"),
            TargetKind::Direction if self.classes == 3 => Ok("multiclass"),
            TargetKind::Direction => Err(DataError::Invalid(format!(
                "target.classes must be 2 or 3 for direction targets, got {}",
                self.classes
            ))),
            TargetKind::ForwardReturn => Ok("regression"),
            TargetKind::Column => match self.task.as_deref() {
                Some(t @ ("binary" | "multiclass" | "regression")) => Ok(t),
                Some(other) => Err(DataError::Invalid(format!(
                    "target.task must be binary, multiclass or regression, got {other:?}"
                ))),
                None => Err(DataError::Invalid(
                    "target.task is required when target.kind = \"column\" \
                     (binary, multiclass or regression)"
                        .into(),
                )),
            },
        }
    }
}

/// A dataset ready for training: column-major features, target, and per-row bookkeeping.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file it came from.
    pub source: PathBuf,
    /// SHA-256 of the loaded table (schema + content).
    pub fingerprint: String,
    /// Feature names, in matrix column order.
    pub feature_names: Vec<String>,
    /// Feature values, one `Vec` per feature (column-major), `n_rows` each.
    pub features: Vec<Vec<f64>>,
    /// Target: class codes `0..k` (classification) or values (regression); empty when predicting.
    pub target: Vec<f64>,
    /// Class names for classification targets, indexed by code.
    pub classes: Option<Vec<String>>,
    /// Timestamp (or row number) of each row, for outputs.
    pub times: Vec<String>,
    /// For each row, the last row its label depends on (row index in this dataset, may be past
    /// the end for rows kept only for prediction).
    pub label_end: Vec<usize>,
    /// Table row of dataset row 0 (rows before it were dropped as warm-up).
    pub row_offset: usize,
    /// The table's blank lines (see [`Table::blank_lines`]), so locations name the file's line.
    pub blank_lines: Vec<usize>,
    /// What was dropped or changed, for the user.
    pub notes: Vec<String>,
    /// Return of the price from each row to the next (`p[t+1] / p[t] − 1`), for trading
    /// evaluation: set when [`BuildOptions::trading_price`] names a price column.
    pub next_return: Option<Vec<f64>>,
    /// Each row's group label, when [`DataSpec::group_column`] is set.
    pub groups: Option<Vec<String>>,
    /// The panel's bookkeeping (assets, timestamps) when [`DataSpec::asset_column`] is set.
    pub panel: Option<crate::panel::Panel>,
    /// The file's data row of each dataset row, when rows are not a contiguous run of the file
    /// (a panel's rows, sorted by time and asset, or one asset's rows).
    pub file_rows: Option<Vec<usize>>,
    pub(crate) format: FileFormat,
}

impl Dataset {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.times.len()
    }

    /// Where dataset row `i` is in the source file (`line N` / `row N`).
    pub fn location(&self, i: usize) -> String {
        let row = self
            .file_rows
            .as_ref()
            .and_then(|r| r.get(i).copied())
            .unwrap_or(i + self.row_offset);
        crate::table::location(self.format, &self.blank_lines, row)
    }
}

/// Options for [`DataSpec::build`].
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions<'a> {
    /// The target; `None` when only predicting.
    pub target: Option<&'a TargetSpec>,
    /// Whether timestamps must be strictly increasing (temporal splits, derived features).
    pub require_increasing_time: bool,
    /// Whether NaN features are allowed (an imputer will fill them).
    pub allow_missing_features: bool,
    /// Price column whose next-row returns the dataset should carry (trading evaluation).
    pub trading_price: Option<&'a str>,
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        v.to_string()
    }
}

/// The columns `fill` changed (filled copies by name) and the note saying how many cells.
type Filled = (HashMap<String, Vec<f64>>, Option<String>);

impl DataSpec {
    /// Columns that must be read as text.
    pub fn text_columns(&self) -> Vec<&str> {
        self.time_column
            .iter()
            .chain(&self.asset_column)
            .chain(
                self.cross_section
                    .as_ref()
                    .and_then(|c| c.group_column.as_ref()),
            )
            .map(String::as_str)
            .collect()
    }

    /// Checks the settings that need no data (time format, derived and custom features), so
    /// that a config with a bad one is refused when it is read.
    pub fn validate(&self) -> Result<(), DataError> {
        crate::panel::validate(self)?;
        if let Some(d) = &self.derive {
            d.validate().map_err(DataError::Invalid)?;
        }
        TimeFormat::from_setting(self.time_format.as_deref()).map_err(DataError::Invalid)?;
        if self.time_format.is_some() && self.time_column.is_none() {
            return Err(DataError::Invalid(
                "data.time_format needs data.time_column (the column it reads)".into(),
            ));
        }
        Ok(())
    }

    /// Parses and checks the time column: the timestamps shown in outputs (ISO-8601 when a
    /// `time_format` or a UTC offset was read, else the file's text).
    fn read_times(
        &self,
        table: &Table,
        require_increasing: bool,
    ) -> Result<Vec<String>, DataError> {
        let n = table.n_rows;
        let path = &table.path;
        let Some(name) = &self.time_column else {
            return Ok((0..n).map(|i| i.to_string()).collect());
        };
        let format =
            TimeFormat::from_setting(self.time_format.as_deref()).map_err(DataError::Invalid)?;
        let col = table.column(name)?;
        let mut out = Vec::with_capacity(n);
        // The previous row's key and index, and the first row's zone and text, for the checks.
        let mut prev: Option<(f64, usize)> = None;
        let mut first: Option<(bool, String)> = None;
        for i in 0..n {
            let text = col.text_at(i);
            let stamp = format
                .parse(&text)
                .map_err(|reason| DataError::BadTimestamp {
                    path: path.clone(),
                    location: table.location(i),
                    column: name.clone(),
                    value: text.clone(),
                    detail: format!("{reason}; expected {}", format.expected()),
                })?;
            match &first {
                None => first = Some((stamp.zoned, text.clone())),
                Some((zoned, first_text)) if *zoned != stamp.zoned => {
                    let (this, other) = if stamp.zoned {
                        ("has a UTC offset", "has none")
                    } else {
                        ("has no UTC offset", "has one")
                    };
                    return Err(DataError::MixedTimeZones {
                        path: path.clone(),
                        location: table.location(i),
                        column: name.clone(),
                        message: format!(
                            "timestamp {text:?} {this} but {first_text:?} at {} {other}: give \
                             every timestamp an offset (they are converted to UTC) or none",
                            table.location(0)
                        ),
                    });
                }
                Some(_) => {}
            }
            if require_increasing
                && let Some((p, j)) = prev
                && stamp.key <= p
            {
                let previous = col.text_at(j);
                let hint = if stamp.key == p {
                    " (duplicate): keep one row per timestamp"
                } else {
                    ": sort the file by time"
                };
                return Err(DataError::NonIncreasingTime {
                    path: path.clone(),
                    location: table.location(i),
                    column: name.clone(),
                    message: format!("but {text:?} follows {previous:?}{hint}"),
                });
            }
            prev = Some((stamp.key, i));
            out.push(stamp.iso.unwrap_or(text));
        }
        Ok(out)
    }

    /// The filled copies of the columns `fill` applies to, and a note saying how many cells
    /// each got.
    fn filled_columns(
        &self,
        table: &Table,
        target_column: Option<&str>,
    ) -> Result<Filled, DataError> {
        let mut out = HashMap::new();
        let Some(fill) = &self.fill else {
            return Ok((out, None));
        };
        if let FillSpec::Columns(map) = fill {
            for name in map.keys() {
                if Some(name.as_str()) == target_column {
                    return Err(DataError::Invalid(format!(
                        "data.fill.{name}: `{name}` is the target; a filled label is a made-up \
                         label (blank labels at the end of the file are dropped instead)"
                    )));
                }
                table.numeric(name)?;
            }
        }
        let mut counts = Vec::new();
        for c in &table.columns {
            let is_target = Some(c.name.as_str()) == target_column;
            let (Some(method), Some(values)) = (fill.method_for(&c.name, is_target), c.numeric())
            else {
                continue;
            };
            if Some(c.name.as_str()) == self.time_column.as_deref() {
                continue;
            }
            let mut values = values.to_vec();
            let filled = method.apply(&mut values);
            if filled > 0 {
                counts.push(format!("{} {filled} ({})", c.name, method.name()));
            }
            out.insert(c.name.clone(), values);
        }
        let note = (!counts.is_empty()).then(|| {
            format!(
                "filled missing cells from earlier rows (data.fill): {}",
                counts.join(", ")
            )
        });
        Ok((out, note))
    }

    /// The custom features' columns, after checking that every name they read is a numeric
    /// column of the file or another custom feature (an unknown one gets the nearest name).
    fn custom_features<'t>(
        &self,
        d: &DeriveSpec,
        table: &'t Table,
        numeric: &dyn Fn(&str) -> Result<&'t [f64], DataError>,
        builtin: &[(String, Vec<f64>)],
    ) -> Result<Vec<Vec<f64>>, DataError> {
        let parsed = d.custom_features().map_err(DataError::Invalid)?;
        let mut inputs: HashMap<&str, &[f64]> = HashMap::new();
        // Built-in features (ret_1, vol_20, ...) read like columns; the file's column wins a
        // name clash only if there is one, which the clash check below refuses anyway.
        for (name, values) in builtin {
            inputs.insert(name.as_str(), values.as_slice());
        }
        for f in &parsed {
            if table.columns.iter().any(|c| c.name == f.name) {
                return Err(DataError::Invalid(format!(
                    "data.derive.custom.{}: the file has a column of that name; give the \
                     feature another name",
                    f.name
                )));
            }
            for name in f.expr.names() {
                if d.custom.contains_key(name) || inputs.contains_key(name) {
                    continue;
                }
                if table.columns.iter().all(|c| c.name != name) {
                    let candidates = table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .chain(d.custom.keys().map(String::as_str))
                        .chain(builtin.iter().map(|(n, _)| n.as_str()));
                    let hint = crate::suggest::nearest(name, candidates)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(DataError::Invalid(format!(
                        "data.derive.custom.{}: no column, built-in or custom feature `{name}` \
                         in {}{hint} (columns: {})",
                        f.name,
                        table.path.display(),
                        table
                            .columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                inputs.insert(name, numeric(name)?);
            }
        }
        d.compute_custom(table.n_rows, &|name| inputs.get(name).map(|v| v.to_vec()))
            .map_err(DataError::Invalid)
    }

    /// Builds the dataset from a loaded table.
    pub fn build(&self, table: &Table, opts: BuildOptions<'_>) -> Result<Dataset, DataError> {
        if let Some(asset) = &self.asset_column {
            return crate::panel::build(self, asset, table, opts);
        }
        self.build_series(table, opts, true, false)
    }

    /// [`DataSpec::build`] for one series (rows in time order); `hash_table`: whether to hash
    /// the table (a panel hashes its whole file once instead of each asset's rows);
    /// `keep_unlabelled`: keep the trailing rows whose label is not known yet, with a NaN
    /// target (a panel's cross-sections at a timestamp must not depend on which assets have
    /// data `horizon` bars later).
    pub(crate) fn build_series(
        &self,
        table: &Table,
        opts: BuildOptions<'_>,
        hash_table: bool,
        keep_unlabelled: bool,
    ) -> Result<Dataset, DataError> {
        let n = table.n_rows;
        let path = &table.path;
        self.validate()?;
        let times = self.read_times(table, opts.require_increasing_time)?;

        // Features: raw columns, then derived ones.
        let target_col = opts
            .target
            .filter(|t| t.kind == TargetKind::Column)
            .map(|t| t.column.as_str());
        let mut notes = Vec::new();
        let (filled, fill_note) = self.filled_columns(table, target_col)?;
        notes.extend(fill_note);
        // A column's values after `fill`.
        let numeric = |name: &str| -> Result<&[f64], DataError> {
            match filled.get(name) {
                Some(v) => Ok(v.as_slice()),
                None => table.numeric(name),
            }
        };
        // How to fix a blank in a column a derived feature or target needs.
        let blank_hint = |column: &str, i: usize, what: &str| -> String {
            let method = self.fill.as_ref().and_then(|f| f.method_for(column, false));
            if method == Some(FillMethod::Ffill) {
                format!(
                    ", before the column's first value, which ffill cannot fill; {what} needs \
                     it: start the file at {}",
                    (i + 1..n)
                        .find(|&j| numeric(column).is_ok_and(|v| !v[j].is_nan()))
                        .map_or("a row with a value".into(), |j| table.location(j))
                )
            } else {
                format!(
                    "; {what} needs a value on every row: set data.fill = \"ffill\" to carry \
                     the last value forward"
                )
            }
        };
        let raw_names: Vec<String> = match &self.features {
            Some(list) => list.clone(),
            None if self.derive.is_some() => Vec::new(),
            None => {
                let candidates = table.columns.iter().filter(|c| {
                    let name = c.name.as_str();
                    Some(name) != self.time_column.as_deref()
                        && Some(name) != target_col
                        && !self.exclude.iter().any(|e| e == name)
                        && Some(name) != self.group_column.as_deref()
                });
                let mut names = Vec::new();
                for c in candidates {
                    match table.why_not_numeric(&c.name) {
                        None => names.push(c.name.clone()),
                        // A text column is never a default feature; say so, or a typo in one
                        // cell would drop the whole column unnoticed.
                        Some(why) => notes.push(format!(
                            "column {:?} left out of the default features: {why}",
                            c.name
                        )),
                    }
                }
                names
            }
        };
        for name in &self.exclude {
            table.column(name)?;
        }
        let mut feature_names = Vec::new();
        let mut features: Vec<Vec<f64>> = Vec::new();
        for name in &raw_names {
            if Some(name.as_str()) == target_col {
                return Err(DataError::Invalid(format!(
                    "column `{name}` is both the target and a feature: that leaks the label"
                )));
            }
            feature_names.push(name.clone());
            features.push(numeric(name)?.to_vec());
        }
        let mut warm_up = 0;
        if let Some(d) = &self.derive {
            let mut builtin: Vec<(String, Vec<f64>)> = Vec::new();
            if d.has_builtin() {
                let price = numeric(&d.price)?;
                let volume = d.volume.as_deref().map(numeric).transpose()?;
                let high_low = match &d.high_low {
                    Some((h, l)) => Some((numeric(h)?, numeric(l)?)),
                    None => None,
                };
                for (i, &p) in price.iter().enumerate() {
                    if p.is_nan() {
                        return Err(DataError::MissingValue {
                            path: path.clone(),
                            location: table.location(i),
                            column: d.price.clone(),
                            hint: blank_hint(&d.price, i, "data.derive (the price)"),
                        });
                    }
                    if !(p.is_finite() && p > 0.0) {
                        return Err(DataError::BadColumn {
                            path: path.clone(),
                            column: d.price.clone(),
                            message: format!(
                                "must hold positive prices to derive features, but has {} at {}",
                                format_value(p),
                                table.location(i)
                            ),
                        });
                    }
                }
                builtin = d
                    .builtin_names()
                    .into_iter()
                    .zip(d.compute(price, volume, high_low))
                    .collect();
            }
            let custom = if d.custom.is_empty() {
                Vec::new()
            } else {
                self.custom_features(d, table, &numeric, &builtin)?
            };
            features.extend(builtin.into_iter().map(|(_, v)| v));
            features.extend(custom);
            for name in d.feature_names() {
                if feature_names.contains(&name) {
                    return Err(DataError::Invalid(format!(
                        "derived feature `{name}` clashes with a column of the same name"
                    )));
                }
                feature_names.push(name);
            }
            warm_up = d.warm_up();
        }
        if feature_names.is_empty() {
            return Err(DataError::Invalid(format!(
                "{}: no features: list data.features, or add data.derive",
                path.display()
            )));
        }

        // Target.
        let mut end = n;
        let mut target = Vec::new();
        let mut classes = None;
        let horizon = opts.target.map_or(0, |t| t.horizon());
        if let Some(spec) = opts.target {
            let task = spec.task_kind()?;
            let col = numeric(&spec.column)?;
            let raw: Vec<f64> = match spec.kind {
                TargetKind::Column => {
                    // A forward label the user computed is blank on its last rows: those rows
                    // have no label yet, like the last `horizon` rows of a derived target.
                    let trailing = col.iter().rev().take_while(|v| v.is_nan()).count();
                    if trailing > 0 {
                        end = n - trailing;
                        notes.push(format!(
                            "dropped the last {trailing} row(s): target `{}` is blank there \
                             (a forward label that needs data past the end of the file)",
                            spec.column
                        ));
                    }
                    col.to_vec()
                }
                TargetKind::Direction | TargetKind::ForwardReturn => {
                    if horizon == 0 {
                        return Err(DataError::Invalid(
                            "target.horizon must be at least 1 for a derived target".into(),
                        ));
                    }
                    end = n.saturating_sub(horizon);
                    notes.push(format!(
                        "dropped the last {} row(s): their {}-bar forward label needs data past the end of the file",
                        n - end,
                        horizon
                    ));
                    (0..n)
                        .map(|t| {
                            if t + horizon < n {
                                col[t + horizon] / col[t] - 1.0
                            } else {
                                f64::NAN
                            }
                        })
                        .collect()
                }
            };
            for (i, v) in raw.iter().enumerate().take(end).skip(warm_up) {
                if !v.is_finite() {
                    let (location, hint) = match spec.kind {
                        TargetKind::Column => (
                            table.location(i),
                            if v.is_nan() {
                                "; only blank labels at the end of the file are dropped".to_string()
                            } else {
                                String::new()
                            },
                        ),
                        // A derived label at row i reads the price at i + horizon too: name
                        // the blank price when there is one.
                        _ => {
                            let blank = [i, i + horizon]
                                .into_iter()
                                .find(|&j| col.get(j).is_some_and(|p| p.is_nan()));
                            match blank {
                                Some(j) => {
                                    return Err(DataError::MissingValue {
                                        path: path.clone(),
                                        location: table.location(j),
                                        column: spec.column.clone(),
                                        hint: blank_hint(
                                            &spec.column,
                                            j,
                                            "the target (a forward return)",
                                        ),
                                    });
                                }
                                None => (
                                    format!(
                                        "{} (or {})",
                                        table.location(i),
                                        table.location(i + horizon)
                                    ),
                                    String::new(),
                                ),
                            }
                        }
                    };
                    return Err(DataError::NonFiniteTarget {
                        path: path.clone(),
                        location,
                        column: spec.column.clone(),
                        value: format_value(*v),
                        hint,
                    });
                }
            }
            (target, classes) = encode_target(spec, task, raw, warm_up..end)?;
        }
        if warm_up > 0 {
            notes.insert(
                0,
                format!(
                    "dropped the first {warm_up} row(s): warm-up of the derived features' windows"
                ),
            );
        }
        if keep_unlabelled && n > warm_up {
            end = n;
        }
        if end <= warm_up {
            return Err(DataError::Invalid(format!(
                "{}: no rows left after dropping {warm_up} warm-up and {} trailing row(s)",
                path.display(),
                n - end
            )));
        }
        let rows = warm_up..end;
        let next_return = match opts.trading_price {
            Some(price) => {
                let p = numeric(price)?;
                Some(
                    rows.clone()
                        .map(|t| {
                            if t + 1 < n {
                                p[t + 1] / p[t] - 1.0
                            } else {
                                f64::NAN
                            }
                        })
                        .collect(),
                )
            }
            None => None,
        };
        let groups = match &self.group_column {
            Some(name) => {
                let col = table.column(name)?;
                Some(rows.clone().map(|i| col.text_at(i)).collect())
            }
            None => None,
        };
        let features: Vec<Vec<f64>> = features.iter().map(|f| f[rows.clone()].to_vec()).collect();
        if !target.is_empty() {
            target = target[rows.clone()].to_vec();
        }
        let dataset = Dataset {
            source: path.clone(),
            fingerprint: if hash_table {
                fingerprint::fingerprint(table)
            } else {
                String::new()
            },
            feature_names,
            features,
            target,
            classes,
            times: times[rows.clone()].to_vec(),
            label_end: (0..rows.len()).map(|i| i + horizon).collect(),
            row_offset: warm_up,
            blank_lines: table.blank_lines.clone(),
            notes,
            next_return,
            groups,
            panel: None,
            file_rows: table.file_rows.as_ref().map(|r| r[rows.clone()].to_vec()),
            format: table.format,
        };
        let mut checked = dataset.check_features(opts.allow_missing_features);
        // A derived feature is missing where a window reads a blank input cell: name that
        // cell, which is what the user can fix; the feature's row may look fine.
        if let Err(DataError::NonFiniteFeature {
            column,
            value,
            hint,
            ..
        }) = &mut checked
            && value == "NaN"
        {
            // The table row of the first missing value (the one the error's location names).
            let first_missing = dataset
                .feature_names
                .iter()
                .position(|f| f == column)
                .and_then(|j| dataset.features[j].iter().position(|v| v.is_nan()))
                .map(|i| i + warm_up);
            let source = first_missing.and_then(|t| {
                self.derived_inputs(table, column)
                    .into_iter()
                    .filter_map(|name| {
                        let v = numeric(name).ok()?;
                        let j = (0..=t.min(v.len().saturating_sub(1)))
                            .rev()
                            .find(|&j| v[j].is_nan())?;
                        Some((j, name))
                    })
                    .max()
            });
            if let Some((j, input)) = source {
                *hint = format!(
                    " (missing: it reads `{input}`, blank at {}){}",
                    table.location(j),
                    hint.strip_prefix(" (missing)").unwrap_or(hint)
                );
            }
        }
        checked.map(|()| dataset)
    }

    /// The columns a built-in feature reads (none for a name that is not one).
    fn builtin_inputs<'d>(&self, d: &'d DeriveSpec, feature: &str) -> Vec<&'d str> {
        if d.builtin_warm_up(feature).is_none() {
            return Vec::new();
        }
        if feature.starts_with("volume_z_") {
            return d.volume.as_deref().into_iter().collect();
        }
        let mut names = vec![d.price.as_str()];
        if feature == "range"
            && let Some((h, l)) = &d.high_low
        {
            names.extend([h.as_str(), l.as_str()]);
        }
        names
    }

    /// The table columns the derived feature `feature` reads: the volume for `volume_z_*`,
    /// high, low and the price for `range`, the columns a custom expression names (through
    /// the custom features it reads), the price for the other built-ins; none for a raw column.
    fn derived_inputs<'t>(&self, table: &'t Table, feature: &str) -> Vec<&'t str> {
        let Some(d) = &self.derive else {
            return Vec::new();
        };
        let custom = d.custom_features().unwrap_or_default();
        let mut names: Vec<&str> = Vec::new();
        if custom.iter().any(|f| f.name == feature) {
            let mut todo = vec![feature];
            let mut seen: Vec<&str> = Vec::new();
            while let Some(f) = todo.pop() {
                if seen.contains(&f) {
                    continue;
                }
                seen.push(f);
                match custom.iter().find(|c| c.name == f) {
                    Some(c) => todo.extend(c.expr.names()),
                    None if d.builtin_warm_up(f).is_some() => {
                        names.extend(self.builtin_inputs(d, f));
                    }
                    None => names.push(f),
                }
            }
        } else {
            names.extend(self.builtin_inputs(d, feature));
        }
        table
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .filter(|c| names.contains(c))
            .collect()
    }
}

/// Labels from raw target values: `direction` thresholds (0/1, or 0/1/2), class values of a
/// column encoded as `0..k` in sorted order (scikit-learn's `LabelEncoder`, classes read from
/// the rows in `labelled`), regression values unchanged. Also the class names.
pub(crate) fn encode_target(
    spec: &TargetSpec,
    task: &str,
    raw: Vec<f64>,
    labelled: std::ops::Range<usize>,
) -> Result<(Vec<f64>, Option<Vec<String>>), DataError> {
    let mut target: Vec<f64> = match (spec.kind, task) {
        (TargetKind::Direction, "binary") => raw
            .iter()
            .map(|&r| f64::from(u8::from(r > spec.threshold)))
            .collect(),
        (TargetKind::Direction, _) => raw
            .iter()
            .map(|&r| {
                if r < -spec.threshold {
                    0.0
                } else if r > spec.threshold {
                    2.0
                } else {
                    1.0
                }
            })
            .collect(),
        _ => raw,
    };
    let mut classes = None;
    if spec.kind == TargetKind::Direction {
        classes = Some(if spec.classes == 2 {
            vec!["down".to_string(), "up".to_string()]
        } else {
            vec!["down".to_string(), "flat".to_string(), "up".to_string()]
        });
    } else if task != "regression" {
        let mut values: Vec<f64> = target[labelled].to_vec();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let k = values.len();
        if (task == "binary" && k != 2) || (task == "multiclass" && k < 3) {
            return Err(DataError::Invalid(format!(
                "target `{}` has {k} distinct value(s); a {task} task needs {}",
                spec.column,
                if task == "binary" {
                    "exactly 2"
                } else {
                    "at least 3"
                }
            )));
        }
        if k > 1000 {
            return Err(DataError::Invalid(format!(
                "target `{}` has {k} distinct values: is it really a {task} target?",
                spec.column
            )));
        }
        for v in target.iter_mut() {
            if v.is_finite() {
                *v = values.binary_search_by(|x| x.total_cmp(v)).unwrap_or(0) as f64;
            }
        }
        classes = Some(values.iter().map(|v| v.to_string()).collect());
    }
    Ok((target, classes))
}

impl Dataset {
    pub(crate) fn check_features(&self, allow_nan: bool) -> Result<(), DataError> {
        for (name, col) in self.feature_names.iter().zip(&self.features) {
            if let Some(i) = col
                .iter()
                .position(|v| v.is_infinite() || (!allow_nan && v.is_nan()))
            {
                let v = col[i];
                return Err(DataError::NonFiniteFeature {
                    path: self.source.clone(),
                    location: self.location(i),
                    column: name.clone(),
                    value: format_value(v),
                    hint: if v.is_nan() {
                        " (missing): set data.fill = \"ffill\" to carry the last value forward, or preprocess.impute = \"mean\", \"median\" or \"constant\" to fill missing features".into()
                    } else {
                        " (infinite values cannot be imputed; fix the data)".into()
                    },
                });
            }
        }
        Ok(())
    }

    /// Keeps only the named features, in the given order (used when a fitted pipeline is applied
    /// to new data).
    pub fn select_features(&mut self, names: &[String]) -> Result<(), DataError> {
        let mut features = Vec::with_capacity(names.len());
        for name in names {
            let j = self
                .feature_names
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| DataError::MissingColumn {
                    path: self.source.clone(),
                    column: name.clone(),
                    available: self.feature_names.join(", "),
                })?;
            features.push(self.features[j].clone());
        }
        self.features = features;
        self.feature_names = names.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::FillMethod;
    use crate::table::{Column, ColumnValues};

    fn table(close: Vec<f64>, times: Vec<&str>) -> Table {
        let n = close.len();
        Table {
            path: "m.csv".into(),
            format: FileFormat::Csv,
            n_rows: n,
            columns: vec![
                Column {
                    name: "date".into(),
                    values: ColumnValues::Text(times.iter().map(|s| s.to_string()).collect()),
                },
                Column {
                    name: "close".into(),
                    values: ColumnValues::Numeric(close),
                },
                Column {
                    name: "x".into(),
                    values: ColumnValues::Numeric((0..n).map(|i| i as f64).collect()),
                },
            ],
            blank_lines: Vec::new(),
            file_rows: None,
        }
    }

    fn days(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("2020-01-{:02}", i + 1)).collect()
    }

    fn spec() -> DataSpec {
        DataSpec {
            path: "m.csv".into(),
            time_column: Some("date".into()),
            time_format: None,
            fill: None,
            features: None,
            exclude: vec![],
            derive: None,
            group_column: None,
            asset_column: None,
            cross_section: None,
        }
    }

    fn direction(h: usize) -> TargetSpec {
        TargetSpec {
            kind: TargetKind::Direction,
            column: "close".into(),
            horizon: Some(h),
            threshold: 0.0,
            classes: 2,
            task: None,
        }
    }

    fn opts(t: &TargetSpec) -> BuildOptions<'_> {
        BuildOptions {
            target: Some(t),
            require_increasing_time: true,
            allow_missing_features: false,
            trading_price: None,
        }
    }

    #[test]
    fn text_columns_left_out_of_the_defaults_get_a_note() {
        let d = days(4);
        let mut t = table(
            vec![10., 11., 10.5, 12.],
            d.iter().map(|s| s.as_str()).collect(),
        );
        for (name, cells) in [
            ("sym", ["A", "B", "A", "B"]),
            ("skip", ["x", "y", "z", "w"]),
        ] {
            t.columns.push(Column {
                name: name.into(),
                values: ColumnValues::Text(cells.map(String::from).to_vec()),
            });
        }
        let mut s = spec();
        s.exclude = vec!["skip".into()];
        let ds = s.build(&t, opts(&direction(1))).unwrap();
        assert_eq!(ds.feature_names, vec!["close", "x"]);
        let note = "column \"sym\" left out of the default features: not numeric (line 2: \"A\")";
        assert!(ds.notes.iter().any(|n| n == note), "{:?}", ds.notes);
        // Excluded columns and the time column get no note.
        assert!(
            !ds.notes
                .iter()
                .any(|n| n.contains("skip") || n.contains("date"))
        );
    }

    #[test]
    fn forward_direction_drops_rows_without_label() {
        let d = days(6);
        let t = table(
            vec![10., 11., 10.5, 12., 12., 13.],
            d.iter().map(String::as_str).collect(),
        );
        let target = direction(2);
        let ds = spec().build(&t, opts(&target)).unwrap();
        // close[t+2] > close[t]: 10.5>10, 12>11, 12>10.5, 13>12.
        assert_eq!(ds.target, vec![1., 1., 1., 1.]);
        assert_eq!(ds.n_rows(), 4);
        assert_eq!(ds.feature_names, vec!["close", "x"]);
        assert_eq!(ds.label_end, vec![2, 3, 4, 5]);
        assert!(
            ds.notes[0].contains("dropped the last 2 row(s)"),
            "{:?}",
            ds.notes
        );
        let three = TargetSpec {
            classes: 3,
            threshold: 0.04,
            ..direction(1)
        };
        let ds = spec().build(&t, opts(&three)).unwrap();
        // Returns: +10%, -4.5%, +14.3%, 0%, +8.3%.
        assert_eq!(ds.target, vec![2., 0., 2., 1., 2.]);
    }

    #[test]
    fn bad_time_and_target_are_reported_with_lines() {
        let t = table(
            vec![1., 2., 3.],
            vec!["2020-01-01", "2020-01-01", "2020-01-03"],
        );
        let target = direction(1);
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("(duplicate)"), "{e}");
        let t = table(
            vec![1., 2., 3.],
            vec!["2020-01-01", "2020-01-03", "2020-01-02"],
        );
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert!(
            e.contains("line 4: column `date`: timestamps must be strictly increasing")
                && e.ends_with("sort the file by time"),
            "{e}"
        );
        let t = table(vec![1., 2., 3.], vec!["2020-01-01", "soon", "2020-01-02"]);
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("\"soon\""), "{e}");

        let d = days(4);
        let mut t = table(vec![1., 2., 3., 4.], d.iter().map(String::as_str).collect());
        t.columns.push(Column {
            name: "y".into(),
            values: ColumnValues::Numeric(vec![0.1, f64::NAN, 0.2, 0.3]),
        });
        let y = TargetSpec {
            kind: TargetKind::Column,
            column: "y".into(),
            horizon: None,
            threshold: 0.0,
            classes: 2,
            task: Some("regression".into()),
        };
        let e = spec().build(&t, opts(&y)).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.csv: line 3: target `y` is NaN (targets must be finite; only blank labels at the \
             end of the file are dropped)"
        );
    }

    #[test]
    fn missing_features_need_an_imputer() {
        let d = days(3);
        let mut t = table(vec![1., 2., 3.], d.iter().map(String::as_str).collect());
        t.columns[2].values = ColumnValues::Numeric(vec![1., f64::NAN, 2.]);
        let target = direction(1);
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert!(
            e.contains("line 3: feature `x` is NaN") && e.contains("impute"),
            "{e}"
        );
        let ok = spec()
            .build(
                &t,
                BuildOptions {
                    allow_missing_features: true,
                    ..opts(&target)
                },
            )
            .unwrap();
        assert!(ok.features[1][1].is_nan());
    }

    #[test]
    fn column_targets_are_label_encoded_and_never_features() {
        let d = days(4);
        let mut t = table(vec![1., 2., 3., 4.], d.iter().map(String::as_str).collect());
        t.columns.push(Column {
            name: "y".into(),
            values: ColumnValues::Numeric(vec![-1., 1., 1., -1.]),
        });
        let y = TargetSpec {
            kind: TargetKind::Column,
            column: "y".into(),
            horizon: None,
            threshold: 0.0,
            classes: 2,
            task: Some("binary".into()),
        };
        let ds = spec().build(&t, opts(&y)).unwrap();
        assert_eq!(ds.target, vec![0., 1., 1., 0.]);
        assert_eq!(ds.classes, Some(vec!["-1".to_string(), "1".to_string()]));
        assert!(!ds.feature_names.contains(&"y".to_string()));
        let leaky = DataSpec {
            features: Some(vec!["x".into(), "y".into()]),
            ..spec()
        };
        assert!(
            leaky
                .build(&t, opts(&y))
                .unwrap_err()
                .to_string()
                .contains("leaks")
        );
    }

    fn with_column(mut t: Table, name: &str, values: Vec<f64>) -> Table {
        t.columns.push(Column {
            name: name.into(),
            values: ColumnValues::Numeric(values),
        });
        t
    }

    #[test]
    fn time_formats_zones_and_bad_cells_name_line_and_column() {
        let us = DataSpec {
            time_format: Some("%m/%d/%Y".into()),
            ..spec()
        };
        let target = direction(1);
        let t = table(
            vec![1., 2., 3.],
            vec!["12/30/1999", "12/31/1999", "1/3/2000"],
        );
        let ds = us.build(&t, opts(&target)).unwrap();
        assert_eq!(ds.times, vec!["1999-12-30", "1999-12-31"]);
        let t = table(
            vec![1., 2., 3.],
            vec!["12/30/1999", "12-31-1999", "1/3/2000"],
        );
        let e = us.build(&t, opts(&target)).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.csv: line 3: column `date`: cannot parse timestamp \"12-31-1999\" (input contains \
             invalid characters; expected time_format \"%m/%d/%Y\")"
        );
        // Offsets are converted to UTC, so a file crossing a DST change stays in order.
        let t = table(
            vec![1., 2., 3.],
            vec![
                "2024-03-08T16:00:00-05:00",
                "2024-03-11T16:00:00-04:00",
                "2024-03-12T16:00:00-04:00",
            ],
        );
        let ds = spec().build(&t, opts(&target)).unwrap();
        assert_eq!(
            ds.times,
            vec!["2024-03-08T21:00:00Z", "2024-03-11T20:00:00Z"]
        );
        // Naive and zoned timestamps in one file cannot be ordered.
        let t = table(
            vec![1., 2., 3.],
            vec![
                "2024-03-08T16:00:00",
                "2024-03-11T16:00:00Z",
                "2024-03-12T16:00:00",
            ],
        );
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.csv: line 3: column `date`: timestamp \"2024-03-11T16:00:00Z\" has a UTC offset \
             but \"2024-03-08T16:00:00\" at line 2 has none: give every timestamp an offset (they \
             are converted to UTC) or none"
        );
        // A time format without a time column is a config mistake.
        let no_column = DataSpec {
            time_column: None,
            ..us
        };
        assert!(
            no_column
                .validate()
                .unwrap_err()
                .to_string()
                .contains("time_column")
        );
    }

    #[test]
    fn blank_prices_need_a_fill_and_ffill_says_what_it_filled() {
        let d = days(6);
        let nan = f64::NAN;
        let t = with_column(
            table(
                vec![1., 2., nan, 4., nan, 6.],
                d.iter().map(String::as_str).collect(),
            ),
            "volume",
            vec![nan, 5., nan, 5., 5., 5.],
        );
        let derive = DeriveSpec {
            price: "close".into(),
            volume: None,
            high_low: None,
            returns: vec![1],
            rolling: vec![],
            rsi: vec![],
            volume_z: vec![],
            range: false,
            custom: Default::default(),
        };
        let s = DataSpec {
            derive: Some(derive),
            ..spec()
        };
        let target = direction(1);
        let e = s.build(&t, opts(&target)).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.csv: line 4: column `close` is blank; data.derive (the price) needs a value on \
             every row: set data.fill = \"ffill\" to carry the last value forward"
        );
        // Without derived features the direction target reads the blank price.
        let e = spec().build(&t, opts(&target)).unwrap_err().to_string();
        assert!(
            e.starts_with("m.csv: line 4: column `close` is blank; the target")
                && e.contains("ffill"),
            "{e}"
        );
        let filled = DataSpec {
            fill: Some(FillSpec::All(FillMethod::Ffill)),
            ..s.clone()
        };
        let ds = filled.build(&t, opts(&target)).unwrap();
        assert!(
            ds.notes.contains(
                &"filled missing cells from earlier rows (data.fill): close 2 (ffill), volume 1 (ffill)"
                    .to_string()
            ),
            "{:?}",
            ds.notes
        );
        // ret_1 at rows 1..: 2/1-1, 2/2-1 (row 2 filled with 2), 4/2-1, 4/4-1 (row 4 = 4).
        assert_eq!(ds.features[0], vec![1.0, 0.0, 1.0, 0.0]);
        // A leading blank has nothing to carry forward: the error says where data starts.
        let t = table(
            vec![nan, 2., 3., 4.],
            days(4).iter().map(String::as_str).collect(),
        );
        let e = filled.build(&t, opts(&target)).unwrap_err().to_string();
        assert!(
            e.contains("line 2: column `close` is blank, before the column's first value, which ffill cannot fill")
                && e.ends_with("start the file at line 3"),
            "{e}"
        );
        // Per column: zero for volume only.
        let per_column = DataSpec {
            fill: Some(FillSpec::Columns(
                [("volume".to_string(), FillMethod::Zero)]
                    .into_iter()
                    .collect(),
            )),
            features: Some(vec!["volume".into()]),
            ..spec()
        };
        let t = with_column(
            table(
                vec![1., 2., 3., 4.],
                days(4).iter().map(String::as_str).collect(),
            ),
            "volume",
            vec![nan, 5., nan, 5.],
        );
        let ds = per_column.build(&t, opts(&target)).unwrap();
        assert_eq!(ds.features[0], vec![0., 5., 0.]);
    }

    #[test]
    fn a_blank_forward_label_at_the_end_is_dropped_and_one_inside_is_an_error() {
        let d = days(5);
        let nan = f64::NAN;
        let t = with_column(
            table(
                vec![1., 2., 3., 4., 5.],
                d.iter().map(String::as_str).collect(),
            ),
            "y",
            vec![0.1, -0.2, 0.3, nan, nan],
        );
        let y = TargetSpec {
            kind: TargetKind::Column,
            column: "y".into(),
            horizon: Some(1),
            threshold: 0.0,
            classes: 2,
            task: Some("regression".into()),
        };
        let all = DataSpec {
            fill: Some(FillSpec::All(FillMethod::Ffill)),
            ..spec()
        };
        // A blanket fill leaves the label alone (a filled label would be made up).
        let ds = all.build(&t, opts(&y)).unwrap();
        assert_eq!(ds.target, vec![0.1, -0.2, 0.3]);
        assert_eq!(ds.n_rows(), 3);
        assert!(
            ds.notes.iter().any(|n| n.starts_with(
                "dropped the last 2 row(s): target `y` is blank there (a forward label"
            )),
            "{:?}",
            ds.notes
        );
        let named = DataSpec {
            fill: Some(FillSpec::Columns(
                [("y".to_string(), FillMethod::Ffill)].into_iter().collect(),
            )),
            ..spec()
        };
        let e = named.build(&t, opts(&y)).unwrap_err().to_string();
        assert!(e.starts_with("data.fill.y: `y` is the target"), "{e}");
    }

    #[test]
    fn custom_features_are_checked_against_the_file() {
        let d = days(6);
        let t = table(
            vec![1., 2., 4., 3., 5., 8.],
            d.iter().map(String::as_str).collect(),
        );
        let custom = |pairs: &[(&str, &str)]| DataSpec {
            derive: Some(DeriveSpec {
                price: "close".into(),
                volume: None,
                high_low: None,
                returns: vec![],
                rolling: vec![],
                rsi: vec![],
                volume_z: vec![],
                range: false,
                custom: pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }),
            ..spec()
        };
        let target = direction(1);
        // `b` reads `a`, defined after it alphabetically: order by dependency, not by name.
        let s = custom(&[("b", "a * 2"), ("a", "close / lag(close, 2) - 1")]);
        let ds = s.build(&t, opts(&target)).unwrap();
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.row_offset, 2);
        assert_eq!(ds.features[0], vec![3.0, 0.5, 0.25]);
        assert_eq!(ds.features[1], vec![6.0, 1.0, 0.5]);
        let e = custom(&[("m", "lag(clse, 1)")])
            .build(&t, opts(&target))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("data.derive.custom.m: no column, built-in or custom feature `clse` in m.csv; did you mean `close`?"),
            "{e}"
        );
        let e = custom(&[("close", "x * 2")])
            .build(&t, opts(&target))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the file has a column of that name"), "{e}");
        let e = custom(&[("a", "b + 1"), ("b", "lag(a, 1)")])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("in a cycle"), "{e}");
        let e = custom(&[("m", "lag(close, -1)")])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("data.derive.custom.m = \"lag(close, -1)\": at character 12: lag(x, -1)")
                && e.contains("looks into the future"),
            "{e}"
        );
    }

    #[test]
    fn custom_features_read_built_in_features_with_their_warm_up() {
        let d = days(10);
        let t = table(
            vec![10., 11., 12., 11., 13., 14., 13., 15., 16., 15.],
            d.iter().map(String::as_str).collect(),
        );
        let s = DataSpec {
            derive: Some(DeriveSpec {
                price: "close".into(),
                volume: None,
                high_low: None,
                returns: vec![1],
                rolling: vec![3],
                rsi: vec![],
                volume_z: vec![],
                range: false,
                custom: [("risk_adj", "ret_1 / vol_3"), ("slow", "lag(ret_1, 4)")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }),
            ..spec()
        };
        let target = direction(1);
        let ds = s.build(&t, opts(&target)).unwrap();
        let col = |name: &str| {
            let j = ds.feature_names.iter().position(|f| f == name).unwrap();
            ds.features[j].clone()
        };
        // lag(ret_1, 4) needs ret_1's own row of warm-up plus 4: 5 rows, more than vol_3's 3.
        assert_eq!(ds.row_offset, 5);
        let (ret, vol, adj, slow) = (col("ret_1"), col("vol_3"), col("risk_adj"), col("slow"));
        for i in 0..ds.n_rows() {
            assert_eq!(adj[i], ret[i] / vol[i]);
        }
        // Row 0 of the dataset is table row 5: lag 4 reads ret_1 at table row 1.
        assert_eq!(slow[0], 11.0 / 10.0 - 1.0);
        assert!(slow.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn group_column_is_carried_and_never_a_feature() {
        let d = days(4);
        let mut t = table(vec![1., 2., 3., 4.], d.iter().map(String::as_str).collect());
        t.columns.push(Column {
            name: "desk".into(),
            values: ColumnValues::Numeric(vec![1., 2., 1., 2.]),
        });
        let y = direction(1);
        let grouped = DataSpec {
            group_column: Some("desk".into()),
            ..spec()
        };
        let ds = grouped.build(&t, opts(&y)).unwrap();
        assert!(!ds.feature_names.contains(&"desk".to_string()));
        assert_eq!(ds.groups.as_deref().unwrap()[..2], ["1", "2"]);
        let missing = DataSpec {
            group_column: Some("sector".into()),
            ..spec()
        };
        let err = missing.build(&t, opts(&y)).unwrap_err().to_string();
        assert!(err.contains("sector"), "{err}");
    }
}
