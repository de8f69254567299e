//! Causal filling of missing cells: `[data] fill = "ffill"` or `[data.fill] close = "ffill"`.
//!
//! Only methods that read the past (or nothing) exist: a forward fill copies the last value
//! seen at or before the row, `zero` writes 0. A backward fill would copy a *later* value into
//! an earlier row, which is look-ahead, so it is refused with that reason. Blanks before a
//! column's first value cannot be forward-filled and stay missing.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// How a column's missing cells are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMethod {
    /// The last value at or before the row (leading blanks stay missing).
    Ffill,
    /// 0 (for counts such as volume, where a blank means none).
    Zero,
}

impl FillMethod {
    /// The method's name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ffill => "ffill",
            Self::Zero => "zero",
        }
    }

    /// Reads a method name; `key` names the setting in the error.
    fn parse(text: &str, key: &str) -> Result<Self, String> {
        match text {
            "ffill" => Ok(Self::Ffill),
            "zero" => Ok(Self::Zero),
            "bfill" | "backfill" | "backward" | "nearest" | "interpolate" | "linear" => {
                Err(format!(
                    "{key} = {text:?}: that fills a blank from a later row, which looks ahead \
                     (the feature at row t would know row t + 1); use \"ffill\" (last value \
                     carried forward) or \"zero\""
                ))
            }
            _ => Err(format!(
                "{key} = {text:?}: unknown fill method (use \"ffill\", last value carried \
                 forward, or \"zero\")"
            )),
        }
    }

    /// Fills `values` in place; returns how many cells were filled.
    pub fn apply(self, values: &mut [f64]) -> usize {
        let mut filled = 0;
        let mut last = f64::NAN;
        for v in values.iter_mut() {
            if v.is_nan() {
                let with = match self {
                    Self::Ffill => last,
                    Self::Zero => 0.0,
                };
                if !with.is_nan() {
                    *v = with;
                    filled += 1;
                }
            } else {
                last = *v;
            }
        }
        filled
    }
}

/// `[data] fill`: one method for every numeric column, or a method per column.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FillSpec {
    /// `fill = "ffill"`: every numeric column except a `kind = "column"` target (filling a
    /// label would make one up).
    All(FillMethod),
    /// `[data.fill]` with `column = "method"` entries.
    Columns(BTreeMap<String, FillMethod>),
}

impl FillSpec {
    /// The method for `column` (`is_target`: the column is the label of a `column` target,
    /// which a blanket fill leaves alone).
    pub fn method_for(&self, column: &str, is_target: bool) -> Option<FillMethod> {
        match self {
            Self::All(_) if is_target => None,
            Self::All(m) => Some(*m),
            Self::Columns(map) => map.get(column).copied(),
        }
    }
}

impl<'de> Deserialize<'de> for FillSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FillSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"ffill\" or \"zero\", or a table of column = \"ffill\" | \"zero\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FillSpec, E> {
                FillMethod::parse(v, "data.fill")
                    .map(FillSpec::All)
                    .map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FillSpec, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((column, method)) = map.next_entry::<String, String>()? {
                    let key = format!("data.fill.{column}");
                    let m = FillMethod::parse(&method, &key).map_err(de::Error::custom)?;
                    out.insert(column, m);
                }
                Ok(FillSpec::Columns(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_fill_reads_only_the_past() {
        let nan = f64::NAN;
        let mut v = [nan, 1.0, nan, nan, 4.0, nan];
        assert_eq!(FillMethod::Ffill.apply(&mut v), 3);
        assert!(v[0].is_nan(), "a leading blank has nothing before it");
        assert_eq!(v[1..], [1.0, 1.0, 1.0, 4.0, 4.0]);
        let mut v = [nan, 2.0, nan];
        assert_eq!(FillMethod::Zero.apply(&mut v), 2);
        assert_eq!(v, [0.0, 2.0, 0.0]);
    }

    #[test]
    fn backward_fill_is_refused_as_look_ahead() {
        let e = FillMethod::parse("bfill", "data.fill.close").unwrap_err();
        assert!(e.starts_with("data.fill.close = \"bfill\": that fills a blank from a later row, which looks ahead"), "{e}");
        let e = FillMethod::parse("mean", "data.fill").unwrap_err();
        assert!(e.contains("unknown fill method"), "{e}");
        let all = FillSpec::All(FillMethod::Ffill);
        assert_eq!(all.method_for("close", false), Some(FillMethod::Ffill));
        assert_eq!(all.method_for("y", true), None);
    }
}
