//! Panels: many assets per timestamp, in long format (`date,asset,close,...`).
//!
//! With `[data] asset_column` a file is a panel. The rows are sorted by (time, asset); a
//! duplicate (time, asset) pair is an error naming both lines. Each asset's rows go through
//! the single-series builder on their own ([`DataSpec::build_series`]), so every derived
//! feature, fill and forward label at (t, a) reads asset a's rows ≤ t (≤ t + horizon for the
//! label) only, and warm-up is per asset. Assets may enter and leave (unbalanced panels); a
//! missing bar is never filled from a later one. Then the assets' rows are merged back in
//! (time, asset) order, and the cross-sectional transforms of `[data.cross_section]` are
//! applied per timestamp (and group): they read same-timestamp values only, so they stay
//! causal. A target transform (`target = "demean"`) turns a forward return into an excess
//! return over the universe before any label is derived from it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::cross_section::{CrossSection, transform};
use crate::dataset::{BuildOptions, encode_target};
use crate::time::TimeFormat;
use crate::{DataError, DataSpec, Dataset, Table, TargetKind, TargetSpec, fingerprint};

/// Features a cross-sectional transform applies to: a list of names, or `"all"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FeatureSelection {
    /// `"all"`: every feature.
    All(String),
    /// The named features.
    Some(Vec<String>),
}

impl Default for FeatureSelection {
    fn default() -> Self {
        FeatureSelection::Some(Vec::new())
    }
}

impl FeatureSelection {
    fn names<'a>(&'a self, features: &'a [String]) -> Vec<&'a str> {
        match self {
            FeatureSelection::All(_) => features.iter().map(String::as_str).collect(),
            FeatureSelection::Some(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Which cross-sectional transform a target gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossSectionMethod {
    /// Rank scaled to [0, 1].
    Rank,
    /// Standard score across the assets (ddof 1).
    Zscore,
    /// Minus the cross-sectional mean (an excess return).
    Demean,
}

impl CrossSectionMethod {
    fn kind(self) -> CrossSection {
        match self {
            CrossSectionMethod::Rank => CrossSection::Rank,
            CrossSectionMethod::Zscore => CrossSection::ZScore,
            CrossSectionMethod::Demean => CrossSection::Demean,
        }
    }

    fn key(self) -> &'static str {
        match self {
            CrossSectionMethod::Rank => "rank",
            CrossSectionMethod::Zscore => "zscore",
            CrossSectionMethod::Demean => "demean",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            CrossSectionMethod::Rank => "rank",
            CrossSectionMethod::Zscore => "z",
            CrossSectionMethod::Demean => "dm",
        }
    }

    /// The value a degenerate cross-section (one asset, or all equal) gets: the middle.
    fn neutral(self) -> f64 {
        match self {
            CrossSectionMethod::Rank => 0.5,
            _ => 0.0,
        }
    }
}

/// `[data.cross_section]`: transforms across the assets present at each timestamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossSectionSpec {
    /// Features ranked into [0, 1] per timestamp.
    #[serde(default)]
    pub rank: FeatureSelection,
    /// Features z-scored per timestamp.
    #[serde(default)]
    pub zscore: FeatureSelection,
    /// Features demeaned per timestamp.
    #[serde(default)]
    pub demean: FeatureSelection,
    /// Keep the raw features beside the transformed ones (named `<feature>_rank`, `_z`,
    /// `_dm`); default: a transformed feature replaces the raw one under its name.
    #[serde(default)]
    pub keep_raw: bool,
    /// Column grouping assets (a sector): the transforms run within each group (neutralisation).
    #[serde(default)]
    pub group_column: Option<String>,
    /// Transform of the target across the assets before labels are derived: `demean` makes a
    /// forward return an excess return over the universe, `rank` a rank in [0, 1].
    #[serde(default)]
    pub target: Option<CrossSectionMethod>,
}

/// A panel's bookkeeping: which asset and which timestamp each row is. Rows are sorted by
/// (time, asset), so each timestamp's rows are contiguous.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The asset names, sorted; rows refer to them by index.
    pub asset_names: Vec<String>,
    /// Each row's asset (index into `asset_names`).
    pub assets: Vec<u32>,
    /// Each row's timestamp, as an index `0..n_times` into the sorted distinct timestamps.
    pub time_index: Vec<usize>,
    /// The first row of each timestamp, and the row count at the end (`n_times + 1` entries).
    pub time_starts: Vec<usize>,
    /// Per timestamp: the last timestamp any label at that timestamp reads (its rows' label
    /// ends, in timestamp units; `n_times` or more past the end).
    pub time_label_end: Vec<usize>,
    /// Each row's cross-sectional group (index), when `group_column` is set.
    pub groups: Option<Vec<u32>>,
}

impl Panel {
    /// Number of distinct timestamps.
    pub fn n_times(&self) -> usize {
        self.time_starts.len().saturating_sub(1)
    }

    /// The rows of the given timestamps, in order.
    pub fn rows_of(&self, times: &[usize]) -> Vec<usize> {
        let mut rows = Vec::new();
        for &t in times {
            rows.extend(self.time_starts[t]..self.time_starts[t + 1]);
        }
        rows
    }

    /// The first row at or after timestamp `t` (the row count when `t` is past the end).
    pub fn first_row(&self, t: usize) -> usize {
        self.time_starts[t.min(self.n_times())]
    }

    /// Each row's timestamp as `i64`, for the cross-sectional metrics.
    pub fn time_keys(&self) -> Vec<i64> {
        self.time_index.iter().map(|&t| t as i64).collect()
    }
}

/// Checks the panel settings that need no data.
pub(crate) fn validate(spec: &DataSpec) -> Result<(), DataError> {
    let Some(asset) = &spec.asset_column else {
        if spec.cross_section.is_some() {
            return Err(DataError::Invalid(
                "data.cross_section needs data.asset_column: cross-sectional transforms work \
                 across the assets of a panel"
                    .into(),
            ));
        }
        return Ok(());
    };
    if spec.time_column.is_none() {
        return Err(DataError::Invalid(
            "data.asset_column needs data.time_column: a panel's rows are (time, asset) pairs"
                .into(),
        ));
    }
    if spec.time_column.as_ref() == Some(asset) {
        return Err(DataError::Invalid(format!(
            "data.asset_column = {asset:?} is also data.time_column"
        )));
    }
    if spec.features.iter().flatten().any(|f| f == asset) {
        return Err(DataError::Invalid(format!(
            "data.features lists {asset:?}, which is data.asset_column (the asset's name, not a \
             feature): remove it from data.features"
        )));
    }
    if let Some(cs) = &spec.cross_section {
        for (key, sel) in [
            ("rank", &cs.rank),
            ("zscore", &cs.zscore),
            ("demean", &cs.demean),
        ] {
            if let FeatureSelection::All(s) = sel
                && s != "all"
            {
                return Err(DataError::Invalid(format!(
                    "data.cross_section.{key} = {s:?}: give a list of features or \"all\""
                )));
            }
        }
        if cs.group_column.as_ref() == Some(asset) {
            return Err(DataError::Invalid(format!(
                "data.cross_section.group_column = {asset:?} is the asset column: each group \
                 would hold one asset"
            )));
        }
    }
    Ok(())
}

/// The raw target each asset's build derives: forward returns for `direction` (thresholded
/// after the cross-sectional transform), a column's raw values for classification columns
/// (encoded across the whole panel, so every asset shares the class codes).
fn raw_target(spec: &TargetSpec) -> TargetSpec {
    match spec.kind {
        TargetKind::Direction => TargetSpec {
            kind: TargetKind::ForwardReturn,
            horizon: Some(spec.horizon()),
            ..spec.clone()
        },
        TargetKind::Column => TargetSpec {
            task: Some("regression".into()),
            ..spec.clone()
        },
        TargetKind::ForwardReturn => spec.clone(),
    }
}

/// Builds a panel dataset (see the module docs).
pub(crate) fn build(
    spec: &DataSpec,
    asset_column: &str,
    table: &Table,
    opts: BuildOptions<'_>,
) -> Result<Dataset, DataError> {
    validate(spec)?;
    let n = table.n_rows;
    let path = &table.path;
    let time_column = spec.time_column.as_deref().unwrap_or_default();
    if let Some(t) = opts.target
        && t.kind == TargetKind::Column
        && t.column == asset_column
    {
        return Err(DataError::Invalid(format!(
            "target.column = {asset_column:?} is data.asset_column"
        )));
    }
    let format =
        TimeFormat::from_setting(spec.time_format.as_deref()).map_err(DataError::Invalid)?;
    let time_col = table.column(time_column)?;
    let asset_col = table.column(asset_column)?;
    // Each row's time key and asset code.
    let mut keys = Vec::with_capacity(n);
    let mut zoned: Option<bool> = None;
    for i in 0..n {
        let text = time_col.text_at(i);
        let stamp = format
            .parse(&text)
            .map_err(|reason| DataError::BadTimestamp {
                path: path.clone(),
                location: table.location(i),
                column: time_column.to_string(),
                value: text.clone(),
                detail: format!("{reason}; expected {}", format.expected()),
            })?;
        if *zoned.get_or_insert(stamp.zoned) != stamp.zoned {
            return Err(DataError::MixedTimeZones {
                path: path.clone(),
                location: table.location(i),
                column: time_column.to_string(),
                message: format!(
                    "timestamp {text:?} differs from the first row's in having a UTC offset: \
                     give every timestamp an offset (they are converted to UTC) or none"
                ),
            });
        }
        keys.push(stamp.key);
    }
    // Asset codes by sorted name, without a second copy of every row's name.
    let mut code_of: HashMap<String, u32> = HashMap::new();
    let mut codes: Vec<u32> = Vec::with_capacity(n);
    for i in 0..n {
        let name = asset_col.text_at(i);
        if name.trim().is_empty() {
            return Err(DataError::MissingValue {
                path: path.clone(),
                location: table.location(i),
                column: asset_column.to_string(),
                hint: "; every row of a panel names its asset".into(),
            });
        }
        let next = code_of.len() as u32;
        codes.push(*code_of.entry(name).or_insert(next));
    }
    let mut asset_names: Vec<String> = code_of.keys().cloned().collect();
    asset_names.sort();
    if asset_names.len() < 2 {
        return Err(DataError::Invalid(format!(
            "{}: data.asset_column = {asset_column:?} holds a single asset ({:?}): a panel needs \
             two or more; remove data.asset_column to train on the single series",
            path.display(),
            asset_names.first().cloned().unwrap_or_default()
        )));
    }
    // First-seen codes to sorted codes.
    let mut sorted_code = vec![0u32; asset_names.len()];
    for (k, name) in asset_names.iter().enumerate() {
        sorted_code[code_of[name] as usize] = k as u32;
    }
    drop(code_of);
    for c in codes.iter_mut() {
        *c = sorted_code[*c as usize];
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        keys[a]
            .total_cmp(&keys[b])
            .then(codes[a].cmp(&codes[b]))
            .then(a.cmp(&b))
    });
    for w in order.windows(2) {
        if keys[w[0]] == keys[w[1]] && codes[w[0]] == codes[w[1]] {
            let (first, second) = (w[0].min(w[1]), w[0].max(w[1]));
            return Err(DataError::Invalid(format!(
                "{}: duplicate (time, asset) pair ({:?}, {:?}) at {} and {}: keep one row per \
                 asset and timestamp",
                path.display(),
                time_col.text_at(first),
                asset_names[codes[first] as usize],
                table.location(first),
                table.location(second)
            )));
        }
    }
    // Dense timestamp index of each file row.
    let mut time_of_row = vec![0usize; n];
    let mut n_times = 0usize;
    for (k, &i) in order.iter().enumerate() {
        if k > 0 && keys[i] != keys[order[k - 1]] {
            n_times += 1;
        }
        time_of_row[i] = n_times;
    }
    let n_times = n_times + usize::from(n > 0);
    let mut rows_of_asset: Vec<Vec<usize>> = vec![Vec::new(); asset_names.len()];
    for &i in &order {
        rows_of_asset[codes[i] as usize].push(i);
    }

    // Each asset on its own: features from its own history, its own forward labels.
    let target_spec = opts.target.map(raw_target);
    let asset_opts = BuildOptions {
        target: target_spec.as_ref(),
        require_increasing_time: true,
        ..opts
    };
    let cs = spec.cross_section.clone().unwrap_or_default();
    let group_column = cs.group_column.clone();
    // The asset and group columns are left out of each asset's table, so never features.
    let skip_columns: Vec<&str> = std::iter::once(asset_column)
        .chain(group_column.as_deref())
        .chain(
            spec.group_column
                .as_deref()
                .filter(|g| Some(*g) != opts.trading_price),
        )
        .collect();
    let exclude: Vec<String> = spec
        .exclude
        .iter()
        .filter(|e| !skip_columns.contains(&e.as_str()))
        .cloned()
        .collect();
    let series_spec = DataSpec {
        asset_column: None,
        cross_section: None,
        group_column: None,
        exclude,
        ..spec.clone()
    };
    let warm_up = spec.derive.as_ref().map_or(0, |d| d.warm_up());
    // Each asset keeps its rows after its warm-up: where each lands in the merged (time,
    // asset) order is known before any is built, so each asset's rows are scattered into
    // place as soon as they are built and its own copy is freed (peak memory: the file, the
    // merged columns and one asset).
    let mut skipped: Vec<String> = Vec::new();
    let mut seen = vec![0usize; asset_names.len()];
    let mut kept: Vec<usize> = Vec::with_capacity(n);
    let mut pos: Vec<u32> = vec![u32::MAX; n];
    for &i in &order {
        let a = codes[i] as usize;
        if seen[a] >= warm_up {
            pos[i] = kept.len() as u32;
            kept.push(i);
        }
        seen[a] += 1;
    }
    for (a, rows) in rows_of_asset.iter().enumerate() {
        // Only the asset's past decides whether it is in (its warm-up), never how long it
        // stays: a short-lived asset still counts in the cross-sections it was part of.
        if rows.len() <= warm_up {
            skipped.push(format!("{} ({} rows)", asset_names[a], rows.len()));
        }
    }
    if kept.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no asset has more than {warm_up} rows, which the derived features' warm-up needs",
            path.display(),
        )));
    }
    let m_all = kept.len();
    let mut feature_names: Vec<String> = Vec::new();
    let mut features: Vec<Vec<f64>> = Vec::new();
    let mut raw: Vec<f64> = Vec::new();
    let mut next_return: Option<Vec<f64>> = None;
    let mut times: Vec<String> = vec![String::new(); m_all];
    let mut label_end_time: Vec<usize> = vec![n_times; m_all];
    let mut has_target = false;
    let mut scatter = |a: usize, mut ds: Dataset| -> Result<(), DataError> {
        let rows = &rows_of_asset[a];
        if ds.row_offset != warm_up || ds.n_rows() != rows.len() - warm_up {
            return Err(DataError::Invalid(format!(
                "internal: asset {} kept {} rows from row {}, expected {} from {warm_up}",
                asset_names[a],
                ds.n_rows(),
                ds.row_offset,
                rows.len() - warm_up
            )));
        }
        if feature_names.is_empty() {
            feature_names = ds.feature_names.clone();
            features = vec![vec![f64::NAN; m_all]; feature_names.len()];
            has_target = !ds.target.is_empty();
            if has_target {
                raw = vec![f64::NAN; m_all];
            }
            if ds.next_return.is_some() {
                next_return = Some(vec![f64::NAN; m_all]);
            }
        }
        for r in 0..ds.n_rows() {
            let file_row = rows[warm_up + r];
            let k = pos[file_row] as usize;
            for (out, col) in features.iter_mut().zip(&ds.features) {
                out[k] = col[r];
            }
            if has_target {
                raw[k] = ds.target[r];
            }
            if let (Some(out), Some(src)) = (next_return.as_mut(), ds.next_return.as_ref()) {
                out[k] = src[r];
            }
            times[k] = std::mem::take(&mut ds.times[r]);
            let end = warm_up + ds.label_end[r];
            label_end_time[k] = rows.get(end).map_or(n_times, |&j| time_of_row[j]);
        }
        Ok(())
    };
    // The assets are built on every core (each reads only its own rows); the results come back
    // through a bounded channel and are scattered here, so only a few built assets wait in
    // memory. The error reported is the failing asset that comes first by name, whatever the
    // timing: workers stop claiming assets past a failed one, and every earlier one is built.
    let buildable: Vec<usize> = (0..rows_of_asset.len())
        .filter(|&a| rows_of_asset[a].len() > warm_up)
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(buildable.len())
        .max(1);
    let claimed = AtomicUsize::new(0);
    let first_failed = AtomicUsize::new(usize::MAX);
    std::thread::scope(|scope| -> Result<(), DataError> {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(usize, Result<Dataset, DataError>)>(2 * workers);
        for _ in 0..workers {
            let tx = tx.clone();
            let (claimed, first_failed, buildable) = (&claimed, &first_failed, &buildable);
            let (rows_of_asset, skip_columns, series_spec) =
                (&rows_of_asset, &skip_columns, &series_spec);
            scope.spawn(move || {
                loop {
                    let k = claimed.fetch_add(1, Ordering::Relaxed);
                    if k >= buildable.len() || k > first_failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let sub = table.select_rows(&rows_of_asset[buildable[k]], skip_columns);
                    let built = series_spec.build_series(&sub, asset_opts, false, true);
                    drop(sub);
                    if built.is_err() {
                        first_failed.fetch_min(k, Ordering::Relaxed);
                    }
                    if tx.send((k, built)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut failed: Option<(usize, DataError)> = None;
        for (k, built) in rx {
            let outcome = built.and_then(|ds| {
                if failed.is_none() {
                    scatter(buildable[k], ds)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = outcome
                && failed.as_ref().is_none_or(|(j, _)| k < *j)
            {
                first_failed.fetch_min(k, Ordering::Relaxed);
                failed = Some((k, e));
            }
        }
        failed.map_or(Ok(()), |(_, e)| Err(e))
    })?;
    let mut assets: Vec<u32> = kept.iter().map(|&i| codes[i]).collect();
    let mut time_index: Vec<usize> = kept.iter().map(|&i| time_of_row[i]).collect();
    drop(pos);
    let group_codes = |rows: &[usize]| -> Result<Option<Vec<u32>>, DataError> {
        let Some(g) = &group_column else {
            return Ok(None);
        };
        let col = table.column(g)?;
        let names: Vec<String> = rows.iter().map(|&i| col.text_at(i)).collect();
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        Ok(Some(
            names
                .iter()
                .map(|s| distinct.binary_search(s).unwrap_or(0) as u32)
                .collect(),
        ))
    };
    let mut notes: Vec<String> = Vec::new();

    // Cross-sectional transforms of the features, over every asset with features at each
    // timestamp (labelled or not: which assets have a label depends on later data).
    {
        let keys: Vec<i64> = time_index.iter().map(|&t| t as i64).collect();
        let groups = group_codes(&kept)?;
        for (method, sel) in [
            (CrossSectionMethod::Rank, &cs.rank),
            (CrossSectionMethod::Zscore, &cs.zscore),
            (CrossSectionMethod::Demean, &cs.demean),
        ] {
            let wanted: Vec<String> = sel
                .names(&feature_names)
                .into_iter()
                .map(str::to_string)
                .collect();
            let mut degenerate = 0usize;
            for name in &wanted {
                let j = feature_names
                    .iter()
                    .position(|f| f == name)
                    .ok_or_else(|| {
                        let hint =
                            crate::suggest::nearest(name, feature_names.iter().map(String::as_str))
                                .map(|s| format!("; did you mean `{s}`?"))
                                .unwrap_or_default();
                        DataError::Invalid(format!(
                            "data.cross_section.{}: no feature `{name}`{hint} (features: {})",
                            method.key(),
                            feature_names.join(", ")
                        ))
                    })?;
                let mut out = transform(&keys, groups.as_deref(), &features[j], method.kind());
                for (o, x) in out.iter_mut().zip(&features[j]) {
                    if o.is_nan() && x.is_finite() {
                        *o = method.neutral();
                        degenerate += 1;
                    }
                }
                if cs.keep_raw {
                    feature_names.push(format!("{name}_{}", method.suffix()));
                    features.push(out);
                } else {
                    features[j] = out;
                }
            }
            if degenerate > 0 {
                notes.push(format!(
                    "cross-sectional {}: {degenerate} value(s) at timestamps (or groups) with \
                     one asset or no spread were set to {}",
                    method.key(),
                    method.neutral()
                ));
            }
        }
    }

    // Training keeps the labelled rows only (the last `horizon` bars of each asset have none).
    if has_target {
        let labelled: Vec<bool> = raw.iter().map(|v: &f64| v.is_finite()).collect();
        let dropped = labelled.iter().filter(|l| !**l).count();
        if dropped > 0 {
            features = features.into_iter().map(|f| masked(f, &labelled)).collect();
            raw = masked(raw, &labelled);
            next_return = next_return.map(|v| masked(v, &labelled));
            times = masked(times, &labelled);
            assets = masked(assets, &labelled);
            time_index = masked(time_index, &labelled);
            label_end_time = masked(label_end_time, &labelled);
            kept = masked(kept, &labelled);
            notes.push(format!(
                "dropped {dropped} row(s) whose label needs data past each asset's last bar \
                 (they still count in the cross-sectional features)"
            ));
        }
    }
    let m = kept.len();
    if m == 0 {
        return Err(DataError::Invalid(format!(
            "{}: no labelled rows left after each asset's warm-up and horizon",
            path.display()
        )));
    }

    // Re-index timestamps densely over the kept rows (warm-up can drop the first ones).
    let mut dense = vec![usize::MAX; n_times + 1];
    let mut starts = Vec::new();
    for (k, t) in time_index.iter_mut().enumerate() {
        if dense[*t] == usize::MAX {
            dense[*t] = starts.len();
            starts.push(k);
        }
        *t = dense[*t];
    }
    let n_dense = starts.len();
    starts.push(m);
    // A label end maps to the first kept timestamp at or after it.
    let mut next_dense = vec![n_dense; n_times + 1];
    for t in (0..n_times).rev() {
        next_dense[t] = if dense[t] != usize::MAX {
            dense[t]
        } else {
            next_dense[t + 1]
        };
    }
    for e in label_end_time.iter_mut() {
        *e = next_dense[(*e).min(n_times)];
    }
    let time_starts = starts;
    let mut time_label_end = vec![0usize; n_dense];
    for (k, &t) in time_index.iter().enumerate() {
        time_label_end[t] = time_label_end[t].max(label_end_time[k]);
    }
    // Row-unit label ends: the last row of the timestamp the label reaches.
    let label_end: Vec<usize> = label_end_time
        .iter()
        .map(|&e| {
            if e >= n_dense {
                m
            } else {
                time_starts[e + 1] - 1
            }
        })
        .collect();
    let groups = group_codes(&kept)?;
    let keys_i64: Vec<i64> = time_index.iter().map(|&t| t as i64).collect();
    // The target: transformed across the assets, then labelled.
    let mut target = Vec::new();
    let mut classes = None;
    if let (true, Some(spec_t)) = (has_target, opts.target) {
        let mut raw = raw;
        if let Some(method) = cs.target {
            if spec_t.kind == TargetKind::Column && spec_t.task_kind()? != "regression" {
                return Err(DataError::Invalid(format!(
                    "data.cross_section.target = {:?} transforms a number; target `{}` holds \
                     class labels",
                    method.key(),
                    spec_t.column
                )));
            }
            let out = transform(&keys_i64, groups.as_deref(), &raw, method.kind());
            let mut degenerate = 0;
            raw = out
                .into_iter()
                .zip(&raw)
                .map(|(o, x)| {
                    if o.is_nan() && x.is_finite() {
                        degenerate += 1;
                        method.neutral()
                    } else {
                        o
                    }
                })
                .collect();
            notes.push(format!(
                "target: {} across the assets at each timestamp{}",
                match method {
                    CrossSectionMethod::Rank => "ranked",
                    CrossSectionMethod::Zscore => "z-scored",
                    CrossSectionMethod::Demean => "demeaned (an excess return)",
                },
                if degenerate > 0 {
                    format!(" ({degenerate} value(s) at one-asset timestamps set to the middle)")
                } else {
                    String::new()
                }
            ));
        }
        let task = spec_t.task_kind()?;
        (target, classes) = encode_target(spec_t, task, raw, 0..m)?;
    }

    notes.insert(
        0,
        format!(
            "panel: {} assets, {n_dense} timestamps, {m} rows (assets per timestamp: {}–{})",
            {
                let mut a = assets.clone();
                a.sort_unstable();
                a.dedup();
                a.len()
            },
            time_starts
                .windows(2)
                .map(|w| w[1] - w[0])
                .min()
                .unwrap_or(0),
            time_starts
                .windows(2)
                .map(|w| w[1] - w[0])
                .max()
                .unwrap_or(0)
        ),
    );
    if warm_up > 0 {
        notes.push(format!(
            "dropped the first {warm_up} row(s) of each asset: warm-up of the derived features' \
             windows"
        ));
    }
    if !skipped.is_empty() {
        notes.push(format!(
            "left out {} asset(s) with too short a history for the warm-up and horizon: {}",
            skipped.len(),
            skipped.join(", ")
        ));
    }
    let group_labels = match &spec.group_column {
        Some(g) => {
            let col = table.column(g)?;
            Some(kept.iter().map(|&i| col.text_at(i)).collect())
        }
        None => None,
    };
    let dataset = Dataset {
        source: path.clone(),
        fingerprint: fingerprint::fingerprint(table),
        feature_names,
        features,
        target,
        classes,
        times,
        label_end,
        row_offset: 0,
        blank_lines: table.blank_lines.clone(),
        notes,
        next_return,
        groups: group_labels,
        panel: Some(Panel {
            asset_names,
            assets,
            time_index,
            time_starts,
            time_label_end,
            groups,
        }),
        file_rows: Some(kept),
        format: table.format,
    };
    dataset.check_features(opts.allow_missing_features)?;
    Ok(dataset)
}

/// The entries of `v` where `keep` is true.
fn masked<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
    v.into_iter()
        .zip(keep)
        .filter_map(|(x, &k)| k.then_some(x))
        .collect()
}
