//! Search spaces: float, int, categorical, fixed and conditional parameters.
//!
//! Samplers work on *internal* values, one `f64` per active parameter: the number itself for
//! float and int parameters, the choice index for categoricals, `0` for fixed ones. A
//! [`Distribution`] converts between internal values, the user-facing [`ParamValue`], the
//! sampler's transformed domain (log scale, widened by half a step for discrete ranges) and the
//! unit cube used by random, QMC and Gaussian-process search.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};

/// Internal values of one trial's active parameters, by name.
pub type Params = BTreeMap<String, f64>;

/// A parameter value as users see it (TOML, JSON, the training config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
}

impl ParamValue {
    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Reads a TOML value (numbers, strings and booleans only).
    pub fn from_toml(v: &toml::Value) -> Option<Self> {
        match v {
            toml::Value::Boolean(b) => Some(ParamValue::Bool(*b)),
            toml::Value::Integer(i) => Some(ParamValue::Int(*i)),
            toml::Value::Float(f) => Some(ParamValue::Float(*f)),
            toml::Value::String(s) => Some(ParamValue::Str(s.clone())),
            _ => None,
        }
    }

    /// The value as TOML.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            ParamValue::Bool(b) => toml::Value::Boolean(*b),
            ParamValue::Int(i) => toml::Value::Integer(*i),
            ParamValue::Float(f) => toml::Value::Float(*f),
            ParamValue::Str(s) => toml::Value::String(s.clone()),
        }
    }

    /// Reads a JSON value (numbers, strings and booleans only).
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Bool(b) => Some(ParamValue::Bool(*b)),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(ParamValue::Int)
                .or_else(|| n.as_f64().map(ParamValue::Float)),
            serde_json::Value::String(s) => Some(ParamValue::Str(s.clone())),
            _ => None,
        }
    }

    /// Loose equality for matching choices: `1` equals `1.0`.
    pub fn matches(&self, other: &ParamValue) -> bool {
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
        }
    }
}

/// The range or set a parameter is drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Distribution {
    /// A real number in `[low, high]`, optionally on a log scale or on a grid of `step`.
    Float {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
        /// Sample on a log scale (`low > 0`).
        log: bool,
        /// Grid spacing from `low` (not with `log`).
        step: Option<f64>,
    },
    /// An integer in `[low, high]`, optionally on a log scale or every `step`.
    Int {
        /// Lower bound (inclusive).
        low: i64,
        /// Upper bound (inclusive).
        high: i64,
        /// Sample on a log scale (`low >= 1`, step 1).
        log: bool,
        /// Spacing from `low`.
        step: i64,
    },
    /// One of a list of values (unordered).
    Categorical {
        /// The choices.
        choices: Vec<ParamValue>,
    },
    /// Always this value (kept in the record of every trial, never searched).
    Fixed {
        /// The value.
        value: ParamValue,
    },
}

impl Distribution {
    /// True for float and int parameters.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Distribution::Float { .. } | Distribution::Int { .. })
    }

    /// True when the parameter takes finitely many values.
    pub fn is_discrete(&self) -> bool {
        !matches!(self, Distribution::Float { step: None, .. })
    }

    /// True for a log-scaled numeric parameter.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. }
        )
    }

    /// The number of choices of a categorical parameter.
    pub fn n_choices(&self) -> Option<usize> {
        match self {
            Distribution::Categorical { choices } => Some(choices.len()),
            _ => None,
        }
    }

    /// The grid step of a discrete numeric parameter.
    pub fn step(&self) -> Option<f64> {
        match self {
            Distribution::Float { step, .. } => *step,
            Distribution::Int { step, .. } => Some(*step as f64),
            _ => None,
        }
    }

    /// Numeric bounds `(low, high)` of the internal value (untransformed); categoricals give
    /// `(0, n - 1)`, fixed parameters `(0, 0)`.
    pub fn bounds(&self) -> (f64, f64) {
        match self {
            Distribution::Float { low, high, .. } => (*low, *high),
            Distribution::Int { low, high, .. } => (*low as f64, *high as f64),
            Distribution::Categorical { choices } => (0.0, choices.len() as f64 - 1.0),
            Distribution::Fixed { .. } => (0.0, 0.0),
        }
    }

    /// The largest grid value `<= high` of a stepped range (`high` itself otherwise).
    fn grid_high(&self) -> f64 {
        match self {
            // `min`: low + k·step may round one ulp past high (0.1 + 9 × 0.1 > 1.0), and a
            // value past the user's bound is one the trainer may refuse (as Optuna clips).
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => (low + ((high - low) / s + 1e-9).floor() * s).min(*high),
            Distribution::Int {
                low, high, step, ..
            } => (low + (high - low) / step * step) as f64,
            _ => self.bounds().1,
        }
    }

    /// Internal value → the sampler's numeric domain (natural log for log parameters).
    pub fn to_model(&self, internal: f64) -> f64 {
        if self.is_log() {
            internal.ln()
        } else {
            internal
        }
    }

    /// The sampler's numeric domain → internal value (rounded onto the grid, clipped).
    pub fn from_model(&self, x: f64) -> f64 {
        let v = if self.is_log() { x.exp() } else { x };
        self.snap(v)
    }

    /// Bounds of the sampler's numeric domain: log-transformed for log parameters and widened
    /// by half a step on each side for discrete ranges, so every grid value owns an equal cell.
    pub fn model_bounds(&self) -> (f64, f64) {
        match self {
            Distribution::Float {
                low, step: Some(s), ..
            } => (low - s / 2.0, self.grid_high() + s / 2.0),
            Distribution::Float { low, high, log, .. } => {
                if *log {
                    (low.ln(), high.ln())
                } else {
                    (*low, *high)
                }
            }
            Distribution::Int { low, log, step, .. } => {
                let half = *step as f64 / 2.0;
                let (lo, hi) = (*low as f64 - half, self.grid_high() + half);
                if *log { (lo.ln(), hi.ln()) } else { (lo, hi) }
            }
            Distribution::Categorical { choices } => (-0.5, choices.len() as f64 - 0.5),
            Distribution::Fixed { .. } => (0.0, 0.0),
        }
    }

    /// Internal value → `[0, 1]` (the unit cube of random, QMC and GP search).
    pub fn to_unit(&self, internal: f64) -> f64 {
        let (lo, hi) = self.model_bounds();
        if hi <= lo {
            return 0.5;
        }
        ((self.to_model(internal) - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    /// `[0, 1]` → internal value (snapped to the grid or choice, clipped to the range).
    pub fn from_unit(&self, u: f64) -> f64 {
        let (lo, hi) = self.model_bounds();
        if let Distribution::Categorical { choices } = self {
            return ((u * choices.len() as f64).floor()).clamp(0.0, choices.len() as f64 - 1.0);
        }
        self.from_model(lo + u.clamp(0.0, 1.0) * (hi - lo))
    }

    /// Rounds an internal value onto the parameter's grid and clips it into range.
    pub fn snap(&self, v: f64) -> f64 {
        match self {
            Distribution::Float {
                low, high, step, ..
            } => match step {
                Some(s) => (low + ((v - low) / s).round() * s).clamp(*low, self.grid_high()),
                None => v.clamp(*low, *high),
            },
            Distribution::Int { low, step, .. } => {
                let (lo, s) = (*low as f64, *step as f64);
                (lo + ((v - lo) / s).round() * s).clamp(lo, self.grid_high())
            }
            Distribution::Categorical { choices } => {
                v.round().clamp(0.0, choices.len() as f64 - 1.0)
            }
            Distribution::Fixed { .. } => 0.0,
        }
    }

    /// How many values a discrete parameter takes (saturating at `u64::MAX`), counted without
    /// building them, so a caller can refuse a huge range before allocating it; `None` for a
    /// continuous range.
    pub fn grid_len(&self) -> Option<u64> {
        match self {
            Distribution::Float { step: None, .. } => None,
            Distribution::Float {
                low, step: Some(s), ..
            } => {
                // The same count as `grid` makes; `as` saturates (NaN gives 0).
                let k = ((self.grid_high() - low) / s).round();
                Some((k.max(0.0) as u64).saturating_add(1))
            }
            Distribution::Int {
                low, high, step, ..
            } => {
                // i128: no overflow even for bounds the space has not validated yet.
                let span = (i128::from(*high) - i128::from(*low)).max(0);
                let n = span / i128::from((*step).max(1)) + 1;
                Some(u64::try_from(n).unwrap_or(u64::MAX))
            }
            Distribution::Categorical { choices } => Some(choices.len() as u64),
            Distribution::Fixed { .. } => Some(1),
        }
    }

    /// Every value of a discrete parameter, as internal values; `None` for a continuous range.
    /// The vector has [`Distribution::grid_len`] elements: check that first for ranges a user
    /// gave.
    pub fn grid(&self) -> Option<Vec<f64>> {
        let n = self.grid_len()?;
        Some((0..n).map(|k| self.grid_value(k)).collect())
    }

    /// The `k`-th value of a discrete parameter's grid (`grid()[k]`, without building it);
    /// `low` for a continuous range.
    pub fn grid_value(&self, k: u64) -> f64 {
        match self {
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => (low + k as f64 * s).min(*high),
            Distribution::Float { low, .. } => *low,
            // i128: exact for every validated int range.
            Distribution::Int { low, step, .. } => {
                (i128::from(*low) + i128::from(k) * i128::from(*step)) as f64
            }
            Distribution::Categorical { .. } => k as f64,
            Distribution::Fixed { .. } => 0.0,
        }
    }

    /// The user-facing value of an internal value.
    pub fn external(&self, internal: f64) -> ParamValue {
        match self {
            Distribution::Float { .. } => ParamValue::Float(internal),
            Distribution::Int { .. } => ParamValue::Int(internal.round() as i64),
            Distribution::Categorical { choices } => {
                choices[(internal.round().max(0.0) as usize).min(choices.len() - 1)].clone()
            }
            Distribution::Fixed { value } => value.clone(),
        }
    }

    /// The internal value of a user-facing value, or `None` when it is not in the range.
    pub fn internal(&self, value: &ParamValue) -> Option<f64> {
        match self {
            Distribution::Float {
                low, high, step, ..
            } => {
                let v = value.as_f64()?;
                let on_grid = step.is_none_or(|s| {
                    let k = (v - low) / s;
                    // The division's own rounding error grows with k: allow it, so a value
                    // the samplers produced (low + k·step) is always found on the grid.
                    (k - k.round()).abs() < 1e-8_f64.max(4.0 * f64::EPSILON * k.abs())
                });
                (v >= *low && v <= *high && on_grid).then_some(v)
            }
            Distribution::Int {
                low, high, step, ..
            } => {
                let v = value.as_f64()?;
                let ok = v.fract() == 0.0
                    && v >= *low as f64
                    && v <= *high as f64
                    && (v as i64 - low) % step == 0;
                ok.then_some(v)
            }
            Distribution::Categorical { choices } => choices
                .iter()
                .position(|c| c.matches(value))
                .map(|i| i as f64),
            Distribution::Fixed { value: fixed } => fixed.matches(value).then_some(0.0),
        }
    }

    fn describe(&self) -> String {
        match self {
            Distribution::Float {
                low,
                high,
                log,
                step,
            } => format!(
                "a float in [{low}, {high}]{}{}",
                if *log { " (log)" } else { "" },
                step.map(|s| format!(" with step {s}")).unwrap_or_default()
            ),
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => format!(
                "an int in [{low}, {high}]{}{}",
                if *log { " (log)" } else { "" },
                if *step != 1 {
                    format!(" with step {step}")
                } else {
                    String::new()
                }
            ),
            Distribution::Categorical { choices } => format!(
                "one of [{}]",
                choices
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Distribution::Fixed { value } => format!("fixed at {value}"),
        }
    }
}

/// One named parameter, optionally active only when its parents take given values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDef {
    /// The name (for `hone tune`, a dotted path into the training config).
    pub name: String,
    /// Its range or choices.
    pub distribution: Distribution,
    /// Conditions that must all hold for the parameter to be active: parent name → the parent
    /// values that activate it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<(String, Vec<ParamValue>)>,
    /// A bound an adaptive search ([`crate::adapt`]) never widens the range below (numeric
    /// parameters only; `None`: no limit beyond the type's own, such as `low > 0` for log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_low: Option<f64>,
    /// A bound an adaptive search never widens the range above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_high: Option<f64>,
}

/// An ordered set of parameters. Parents come before their conditional children.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchSpace {
    /// The parameters, in definition order (grid order, sampling order).
    pub params: Vec<ParamDef>,
}

/// The largest magnitude of an int parameter's bounds: 2^53, up to which every integer is
/// exactly a float (internal values are `f64`).
pub const MAX_EXACT_INT: u64 = 1 << 53;

const PARAM_KEYS: [&str; 10] = [
    "type",
    "low",
    "high",
    "log",
    "step",
    "choices",
    "value",
    "when",
    "hard_low",
    "hard_high",
];

impl SearchSpace {
    /// Parses a space file: one TOML table per parameter, e.g.
    /// `[learning_rate] type = "float", low = 0.01, high = 0.3, log = true`.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TuneError::Space(e.to_string()))?;
        Self::from_toml_table(&table)
    }

    /// Parses a space from a TOML table (one sub-table per parameter, in order).
    pub fn from_toml_table(table: &toml::Table) -> Result<Self> {
        let mut params = Vec::new();
        for (name, v) in table {
            let t = v.as_table().ok_or_else(|| {
                TuneError::Space(format!(
                    "[{name}]: expected a table like {{ type = \"float\", low = 0.0, high = 1.0 }}"
                ))
            })?;
            params.push(parse_param(name, t)?);
        }
        let space = SearchSpace { params };
        space.validate()?;
        Ok(space)
    }

    /// Checks bounds, steps, choices and conditions.
    pub fn validate(&self) -> Result<()> {
        let mut seen: BTreeMap<&str, &ParamDef> = BTreeMap::new();
        for p in &self.params {
            let bad = |m: String| Err(TuneError::Space(format!("[{}]: {m}", p.name)));
            match &p.distribution {
                Distribution::Float {
                    low,
                    high,
                    log,
                    step,
                } => {
                    if !low.is_finite() || !high.is_finite() || low > high {
                        return bad(format!("needs finite low <= high (got {low}, {high})"));
                    }
                    // Samplers scale by the width: an infinite one turns every draw into NaN.
                    if !(high - low).is_finite() {
                        return bad(format!(
                            "the range [{low:?}, {high:?}] is too wide (high - low overflows a \
                             float)"
                        ));
                    }
                    if *log && *low <= 0.0 {
                        return bad(format!("log = true needs low > 0 (got {low})"));
                    }
                    if let Some(s) = step {
                        if !(*s > 0.0 && s.is_finite()) {
                            return bad(format!("step must be > 0 (got {s})"));
                        }
                        // Grid values are low + k·step: past 2^53 steps k·step is no longer
                        // exact and the grid's top overflows to infinity for tiny steps.
                        if (high - low) / s > MAX_EXACT_INT as f64 {
                            return bad(format!(
                                "step {s:?} is too small for [{low:?}, {high:?}] (over 2^53 grid \
                                 values)"
                            ));
                        }
                        // Samplers widen the range by half a step on each side.
                        if !((low - s).is_finite() && (high + s).is_finite()) {
                            return bad(format!(
                                "step {s:?} takes [{low:?}, {high:?}] past the largest float"
                            ));
                        }
                        if *log {
                            return bad("step cannot be combined with log = true".into());
                        }
                    }
                }
                Distribution::Int {
                    low,
                    high,
                    log,
                    step,
                } => {
                    if low > high {
                        return bad(format!("needs low <= high (got {low}, {high})"));
                    }
                    // Internal values are floats: beyond 2^53 an int would silently round to
                    // another one (possibly outside the range).
                    if low.unsigned_abs() > MAX_EXACT_INT || high.unsigned_abs() > MAX_EXACT_INT {
                        return bad(format!(
                            "low and high must lie within ±{MAX_EXACT_INT} (2^53, the integers a \
                             float holds exactly); got {low}, {high}"
                        ));
                    }
                    if *step < 1 {
                        return bad(format!("step must be >= 1 (got {step})"));
                    }
                    // The same for the step: low + k·step must be computed exactly.
                    if step.unsigned_abs() > MAX_EXACT_INT {
                        return bad(format!(
                            "step must be at most {MAX_EXACT_INT} (2^53, the integers a float \
                             holds exactly); got {step}"
                        ));
                    }
                    if *log && (*low < 1 || *step != 1) {
                        return bad("log = true needs low >= 1 and step = 1".into());
                    }
                }
                Distribution::Categorical { choices } => {
                    if choices.is_empty() {
                        return bad("choices is empty".into());
                    }
                    // NaN equals nothing, so such a choice could never be enqueued or matched
                    // by a condition.
                    if let Some(c) = choices
                        .iter()
                        .find(|c| matches!(c, ParamValue::Float(f) if f.is_nan()))
                    {
                        return bad(format!("choice {c} is not a value a trial can match"));
                    }
                    for (i, c) in choices.iter().enumerate() {
                        if choices[..i].iter().any(|d| d.matches(c)) {
                            return bad(format!("choice {c} is listed twice"));
                        }
                    }
                }
                Distribution::Fixed { value } => {
                    if matches!(value, ParamValue::Float(f) if f.is_nan()) {
                        return bad("value nan is not a value a trial can match".into());
                    }
                }
            }
            if p.hard_low.is_some() || p.hard_high.is_some() {
                if !p.distribution.is_numeric() {
                    return bad("hard_low and hard_high apply to float and int ranges only".into());
                }
                let (low, high) = p.distribution.bounds();
                if let Some(h) = p.hard_low
                    && !(h.is_finite() && h <= low)
                {
                    return bad(format!("hard_low must be a number <= low ({low}), got {h}"));
                }
                if let Some(h) = p.hard_high
                    && !(h.is_finite() && h >= high)
                {
                    return bad(format!(
                        "hard_high must be a number >= high ({high}), got {h}"
                    ));
                }
            }
            for (parent, values) in &p.when {
                let Some(def) = seen.get(parent.as_str()) else {
                    return bad(format!(
                        "when refers to {parent:?}, which is not defined before it"
                    ));
                };
                if values.is_empty() {
                    return bad(format!("when.{parent} lists no values"));
                }
                for v in values {
                    if def.distribution.internal(v).is_none() {
                        return bad(format!(
                            "when.{parent} = {v}, but {parent} is {}",
                            def.distribution.describe()
                        ));
                    }
                }
            }
            if seen.insert(&p.name, p).is_some() {
                return bad("defined twice".into());
            }
        }
        Ok(())
    }

    /// The parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// True when `p`'s conditions hold for the values already in `assigned`.
    pub fn is_active(&self, p: &ParamDef, assigned: &Params) -> bool {
        p.when.iter().all(|(parent, values)| {
            let (Some(def), Some(&v)) = (self.get(parent), assigned.get(parent)) else {
                return false;
            };
            let value = def.distribution.external(v);
            values.iter().any(|w| w.matches(&value))
        })
    }

    /// True when no parameter has a condition.
    pub fn is_unconditional(&self) -> bool {
        self.params.iter().all(|p| p.when.is_empty())
    }

    /// Completes a partial assignment in definition order: keeps the values of `partial` that
    /// are active, asks `sample` for active parameters it lacks, and drops inactive ones.
    pub fn complete(&self, partial: &Params, mut sample: impl FnMut(&ParamDef) -> f64) -> Params {
        let mut out = Params::new();
        for p in &self.params {
            if !self.is_active(p, &out) {
                continue;
            }
            let v = match partial.get(&p.name) {
                Some(v) => *v,
                None => p.distribution.snap(sample(p)),
            };
            out.insert(p.name.clone(), v);
        }
        out
    }

    /// User-facing values of internal ones, in definition order.
    pub fn external(&self, params: &Params) -> Vec<(String, ParamValue)> {
        self.params
            .iter()
            .filter_map(|p| {
                params
                    .get(&p.name)
                    .map(|v| (p.name.clone(), p.distribution.external(*v)))
            })
            .collect()
    }

    /// Internal values of user-facing ones; every active parameter must be given and in range,
    /// and no unknown or inactive name may appear.
    pub fn internal(&self, values: &[(String, ParamValue)]) -> Result<Params> {
        for (name, _) in values {
            if self.get(name).is_none() {
                return Err(TuneError::Invalid(format!(
                    "unknown parameter {name:?} (the space has {})",
                    self.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let mut out = Params::new();
        for p in &self.params {
            if !self.is_active(p, &out) {
                if values.iter().any(|(n, _)| n == &p.name) {
                    return Err(TuneError::Invalid(format!(
                        "parameter {:?} is inactive for the given parent values",
                        p.name
                    )));
                }
                continue;
            }
            let given = values.iter().find(|(n, _)| n == &p.name).map(|(_, v)| v);
            let v = match (given, &p.distribution) {
                (None, Distribution::Fixed { .. }) => 0.0,
                (None, _) => {
                    return Err(TuneError::Invalid(format!(
                        "parameter {:?} is missing",
                        p.name
                    )));
                }
                (Some(v), d) => d.internal(v).ok_or_else(|| {
                    TuneError::Invalid(format!(
                        "parameter {:?} = {v} is outside its space ({})",
                        p.name,
                        d.describe()
                    ))
                })?,
            };
            out.insert(p.name.clone(), v);
        }
        Ok(out)
    }
}

fn parse_param(name: &str, t: &toml::Table) -> Result<ParamDef> {
    let err = |m: String| TuneError::Space(format!("[{name}]: {m}"));
    for k in t.keys() {
        if !PARAM_KEYS.contains(&k.as_str()) {
            return Err(err(format!(
                "unknown key {k:?} (expected one of {})",
                PARAM_KEYS.join(", ")
            )));
        }
    }
    let kind = t.get("type").and_then(|v| v.as_str()).ok_or_else(|| {
        err("needs type = \"float\" | \"int\" | \"categorical\" | \"fixed\"".into())
    })?;
    let num = |key: &str| -> Result<f64> {
        match t.get(key) {
            Some(toml::Value::Float(f)) => Ok(*f),
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(v) => Err(err(format!("{key} must be a number, got {v}"))),
            None => Err(err(format!("{key} is required for type = \"{kind}\""))),
        }
    };
    let int = |key: &str| -> Result<i64> {
        match t.get(key) {
            Some(toml::Value::Integer(i)) => Ok(*i),
            Some(v) => Err(err(format!("{key} must be an integer, got {v}"))),
            None => Err(err(format!("{key} is required for type = \"{kind}\""))),
        }
    };
    let log = match t.get("log") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(v) => return Err(err(format!("log must be true or false, got {v}"))),
    };
    let only = |allowed: &[&str]| -> Result<()> {
        for k in t.keys() {
            if k != "type"
                && k != "when"
                && k != "hard_low"
                && k != "hard_high"
                && !allowed.contains(&k.as_str())
            {
                return Err(err(format!("{k:?} does not apply to type = \"{kind}\"")));
            }
        }
        Ok(())
    };
    let distribution = match kind {
        "float" => {
            only(&["low", "high", "log", "step"])?;
            Distribution::Float {
                low: num("low")?,
                high: num("high")?,
                log,
                step: if t.contains_key("step") {
                    Some(num("step")?)
                } else {
                    None
                },
            }
        }
        "int" => {
            only(&["low", "high", "log", "step"])?;
            Distribution::Int {
                low: int("low")?,
                high: int("high")?,
                log,
                step: if t.contains_key("step") {
                    int("step")?
                } else {
                    1
                },
            }
        }
        "categorical" => {
            only(&["choices"])?;
            let arr = t
                .get("choices")
                .and_then(|v| v.as_array())
                .ok_or_else(|| err("choices = [...] is required".into()))?;
            let choices = arr
                .iter()
                .map(|v| {
                    ParamValue::from_toml(v)
                        .ok_or_else(|| err(format!("choice {v} is not a number, string or bool")))
                })
                .collect::<Result<Vec<_>>>()?;
            Distribution::Categorical { choices }
        }
        "fixed" => {
            only(&["value"])?;
            let v = t
                .get("value")
                .ok_or_else(|| err("value is required for type = \"fixed\"".into()))?;
            Distribution::Fixed {
                value: ParamValue::from_toml(v)
                    .ok_or_else(|| err(format!("value {v} is not a number, string or bool")))?,
            }
        }
        other => {
            return Err(err(format!(
                "unknown type {other:?} (float, int, categorical, fixed)"
            )));
        }
    };
    let mut when = Vec::new();
    if let Some(w) = t.get("when") {
        let wt = w.as_table().ok_or_else(|| {
            err("when must be a table like when = { boosting = [\"rf\"] }".into())
        })?;
        for (parent, vals) in wt {
            let list = match vals {
                toml::Value::Array(a) => a.clone(),
                v => vec![v.clone()],
            };
            let values = list
                .iter()
                .map(|v| {
                    ParamValue::from_toml(v)
                        .ok_or_else(|| err(format!("when.{parent}: {v} is not a plain value")))
                })
                .collect::<Result<Vec<_>>>()?;
            when.push((parent.clone(), values));
        }
    }
    let hard = |key: &str| -> Result<Option<f64>> {
        if t.contains_key(key) {
            num(key).map(Some)
        } else {
            Ok(None)
        }
    };
    Ok(ParamDef {
        name: name.to_string(),
        distribution,
        when,
        hard_low: hard("hard_low")?,
        hard_high: hard("hard_high")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: &str = r#"
        [boosting]
        type = "categorical"
        choices = ["gbdt", "rf"]
        [learning_rate]
        type = "float"
        low = 0.01
        high = 0.3
        log = true
        [num_leaves]
        type = "int"
        low = 8
        high = 256
        step = 8
        [bagging_fraction]
        type = "float"
        low = 0.5
        high = 0.9
        step = 0.1
        when = { boosting = ["rf"] }
        [objective]
        type = "fixed"
        value = "binary"
    "#;

    #[test]
    fn parses_every_kind_in_order() {
        let s = SearchSpace::from_toml_str(SPACE).unwrap();
        let names: Vec<_> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "boosting",
                "learning_rate",
                "num_leaves",
                "bagging_fraction",
                "objective"
            ]
        );
        let grid = s.params[3].distribution.grid().unwrap();
        assert_eq!(grid.len(), 5);
        assert!((grid[4] - 0.9).abs() < 1e-12);
        assert_eq!(s.params[2].distribution.grid().unwrap().len(), 32);
        assert!(s.params[1].distribution.grid().is_none());
    }

    #[test]
    fn int_steps_past_two_to_the_53_are_refused() {
        // low + step would round to 0, a value off the grid (found by the property below).
        let text =
            "[n]\ntype = \"int\"\nlow = -9007199254740992\nhigh = 1\nstep = 9007199254740993\n";
        let err = SearchSpace::from_toml_str(text).unwrap_err().to_string();
        assert!(
            err.contains("step must be at most 9007199254740992"),
            "{err}"
        );
        let ok =
            "[n]\ntype = \"int\"\nlow = -9007199254740992\nhigh = 1\nstep = 9007199254740992\n";
        let grid = SearchSpace::from_toml_str(ok).unwrap().params[0]
            .distribution
            .grid()
            .unwrap();
        assert_eq!(grid, [-9007199254740992.0, 0.0]);
    }

    #[test]
    fn conditional_parameters_follow_their_parent() {
        let s = SearchSpace::from_toml_str(SPACE).unwrap();
        let gbdt = s.complete(
            &Params::new(),
            |p| if p.name == "boosting" { 0.0 } else { 0.5 },
        );
        assert!(!gbdt.contains_key("bagging_fraction"));
        let rf = s.complete(
            &Params::new(),
            |p| if p.name == "boosting" { 1.0 } else { 0.5 },
        );
        assert_eq!(rf["bagging_fraction"], 0.5);
        let ext = s.external(&rf);
        assert_eq!(ext[0].1, ParamValue::Str("rf".into()));
        assert_eq!(s.internal(&ext).unwrap(), rf);
        let err = s
            .internal(&[
                ("boosting".into(), ParamValue::Str("gbdt".into())),
                ("learning_rate".into(), ParamValue::Float(0.1)),
                ("num_leaves".into(), ParamValue::Int(16)),
                ("bagging_fraction".into(), ParamValue::Float(0.5)),
            ])
            .unwrap_err();
        assert!(err.to_string().contains("inactive"), "{err}");
    }

    #[test]
    fn unit_cube_round_trips_and_snaps() {
        let d = Distribution::Int {
            low: 8,
            high: 256,
            log: false,
            step: 8,
        };
        assert_eq!(d.from_unit(0.0), 8.0);
        assert_eq!(d.from_unit(1.0), 256.0);
        assert_eq!(d.from_unit(d.to_unit(128.0)), 128.0);
        let l = Distribution::Float {
            low: 0.01,
            high: 0.3,
            log: true,
            step: None,
        };
        assert!((l.from_unit(0.5) - (0.01f64 * 0.3).sqrt()).abs() < 1e-12);
        let c = Distribution::Categorical {
            choices: vec![ParamValue::Int(1), ParamValue::Int(2), ParamValue::Int(3)],
        };
        assert_eq!(c.from_unit(0.999), 2.0);
        assert_eq!(c.internal(&ParamValue::Float(2.0)), Some(1.0));
    }

    #[test]
    fn bad_spaces_name_the_parameter_and_field() {
        let cases = [
            (
                "[a]\ntype = \"float\"\nlow = 1\nhigh = 0",
                "[a]: needs finite low <= high",
            ),
            (
                "[a]\ntype = \"float\"\nlow = 0\nhigh = 1\nlog = true",
                "[a]: log = true needs low > 0",
            ),
            (
                "[a]\ntype = \"int\"\nlow = 0\nhigh = 1\nchoices = [1]",
                "\"choices\" does not apply",
            ),
            (
                "[a]\ntype = \"categorical\"\nchoices = []",
                "[a]: choices is empty",
            ),
            (
                "[a]\ntype = \"float\"\nlow = 0\nhigh = 1\nwhen = { b = [1] }",
                "not defined before it",
            ),
            ("[a]\ntype = \"uniform\"", "unknown type \"uniform\""),
            (
                "[a]\ntype = \"float\"\nlow = 0\nhigh = 1\nlogg = true",
                "unknown key \"logg\"",
            ),
            (
                "[b]\ntype = \"categorical\"\nchoices = [\"x\"]\n[a]\ntype = \"fixed\"\nvalue = 1\nwhen = { b = [\"y\"] }",
                "when.b = y, but b is one of [x]",
            ),
        ];
        for (text, want) in cases {
            let e = SearchSpace::from_toml_str(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}

/// Property tests: any TOML space, extreme bounds included, is either refused with an error or
/// gives a space whose every sampled, gridded and round-tripped value is finite and in range.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::sampler::grid::{GridSampler, MAX_GRID};
    use crate::sampler::{sample_uniform, trial_rng};

    fn toml_float(f: f64) -> String {
        if f.is_nan() {
            "nan".into()
        } else if f.is_infinite() {
            if f > 0.0 { "inf" } else { "-inf" }.into()
        } else {
            format!("{f:?}")
        }
    }

    /// Integer literals: random, small, and the edges (u64::MAX is no TOML integer at all).
    fn int_lit() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => any::<i64>().prop_map(|v| v.to_string()),
            5 => (-1000i64..1000).prop_map(|v| v.to_string()),
            2 => prop::sample::select(vec![
                i64::MAX,
                i64::MIN,
                i64::MAX - 1,
                i64::MIN + 1,
                1 << 53,
                (1 << 53) + 1,
                -(1 << 53),
                1 << 40,
                0,
                1,
            ])
            .prop_map(|v| v.to_string()),
            1 => Just(u64::MAX.to_string()),
        ]
    }

    /// Float literals: random bit patterns (NaN and infinities included), small values and the
    /// edges of the type.
    fn float_lit() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => any::<f64>().prop_map(toml_float),
            3 => (-1e3f64..1e3).prop_map(toml_float),
            3 => (1e-6f64..10.0).prop_map(toml_float),
            2 => prop::sample::select(vec![
                f64::MAX,
                f64::MIN,
                f64::MIN_POSITIVE,
                5e-324,
                1e-300,
                1e300,
                u64::MAX as f64,
                i64::MAX as f64,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                0.0,
                -0.0,
                0.1,
            ])
            .prop_map(toml_float),
            1 => int_lit(),
        ]
    }

    /// Usually ordered bounds (so most spaces get past the first check), sometimes not.
    fn bounds(
        low: impl Strategy<Value = String>,
        high: impl Strategy<Value = String>,
    ) -> impl Strategy<Value = (String, String)> {
        (low, high, prop::bool::weighted(0.8)).prop_map(|(a, b, ordered)| {
            let key = |s: &String| s.parse::<f64>().unwrap_or(f64::NAN);
            if ordered && key(&a) > key(&b) {
                (b, a)
            } else {
                (a, b)
            }
        })
    }

    fn param(i: usize) -> impl Strategy<Value = String> {
        let log = prop_oneof![Just(""), Just("log = true\n"), Just("log = false\n")];
        let int = (
            bounds(int_lit(), int_lit()),
            prop::option::of(int_lit()),
            log.clone(),
        )
            .prop_map(|((lo, hi), step, log)| {
                let step = step.map(|s| format!("step = {s}\n")).unwrap_or_default();
                format!("type = \"int\"\nlow = {lo}\nhigh = {hi}\n{step}{log}")
            });
        let float = (
            bounds(float_lit(), float_lit()),
            prop::option::of(float_lit()),
            log,
        )
            .prop_map(|((lo, hi), step, log)| {
                let step = step.map(|s| format!("step = {s}\n")).unwrap_or_default();
                format!("type = \"float\"\nlow = {lo}\nhigh = {hi}\n{step}{log}")
            });
        let cat = prop::collection::vec(
            prop_oneof![
                float_lit(),
                Just("\"a\"".into()),
                Just("\"b\"".into()),
                Just("true".into())
            ],
            1..4,
        )
        .prop_map(|c| format!("type = \"categorical\"\nchoices = [{}]\n", c.join(", ")));
        // An empty list now and then.
        let cat = prop_oneof![
            9 => cat,
            1 => Just("type = \"categorical\"\nchoices = []\n".to_string())
        ];
        let fixed = float_lit().prop_map(|v| format!("type = \"fixed\"\nvalue = {v}\n"));
        let when = prop::option::weighted(
            0.4,
            prop_oneof![float_lit(), Just("\"a\"".into()), Just("\"b\"".into())],
        );
        // The first parameter is most often categorical: the usual parent of conditions.
        let cat_weight = if i == 0 { 4 } else { 1 };
        let kind = prop_oneof![2 => int, 2 => float, cat_weight => cat, 1 => fixed];
        (kind, when).prop_map(move |(body, when)| {
            let cond = match when {
                Some(v) if i > 0 => format!("when = {{ p0 = [{v}] }}\n"),
                _ => String::new(),
            };
            format!("[p{i}]\n{body}{cond}")
        })
    }

    fn space_text() -> impl Strategy<Value = String> {
        (1usize..4)
            .prop_flat_map(|n| (0..n).map(param).collect::<Vec<_>>())
            .prop_map(|ps| ps.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_space_is_refused_or_sound(text in space_text(), seed in any::<u64>()) {
            let Ok(space) = SearchSpace::from_toml_str(&text) else {
                return Ok(());
            };

            for p in &space.params {
                let d = &p.distribution;
                let (lo, hi) = d.bounds();
                for u in [0.0, 0.25, 0.5, 0.999, 1.0] {
                    let v = d.from_unit(u);
                    prop_assert!(v.is_finite() && lo <= v && v <= hi, "{text}: {u} -> {v}");
                    let back = d.internal(&d.external(v));
                    prop_assert!(back.is_some(), "{text}: {v} is not in its own space");
                }
                let n = d.grid_len();
                prop_assert_eq!(n.is_none(), !d.is_discrete());
                if let Some(n) = n.filter(|n| *n <= 1000) {
                    let g = d.grid().unwrap_or_default();
                    prop_assert_eq!(g.len() as u64, n);
                    prop_assert!(g.iter().all(|v| lo <= *v && *v <= hi), "{text}: {g:?}");
                }
            }
            // A random point is complete, in range and survives the user-facing round trip.
            let point = sample_uniform(&space, &mut trial_rng(seed, 0, 0));
            let back = space.internal(&space.external(&point));
            prop_assert_eq!(back.ok(), Some(point), "{}", text);
            // Grids are sized before anything is built, and never exceed the limit.
            match GridSampler::new(&space) {
                Ok(g) => {
                    prop_assert!((1..=MAX_GRID).contains(&g.size()), "{text}");
                    if g.size() <= 2000 {
                        prop_assert_eq!(g.points().len() as u64, g.size());
                    }
                }
                Err(e) => prop_assert!(matches!(e, TuneError::Sampler { .. }), "{e}"),
            }
        }
    }
}
