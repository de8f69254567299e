//! A splitting scheme by name and parameters, as written in a config's `[split]` table or given
//! to `hone split`, and the [`Splitter`] it builds. Parameters that do not apply to the chosen
//! scheme are refused rather than silently ignored.

use serde::{Deserialize, Serialize};

use crate::ValidateError;
use crate::split::{Fold, KFold, SplitInput, Splitter, StratifiedKFold, TimeSeriesSplit};
use crate::temporal::{
    Cpcv, CpcvPurge, MonteCarlo, PurgedKFold, WalkForward, check_monte_carlo_test_size,
};

/// Groups of a `cpcv` scheme when `n_groups` is not given.
pub const DEFAULT_CPCV_GROUPS: usize = 6;
/// Test groups per `cpcv` split when `n_test_groups` is not given.
pub const DEFAULT_CPCV_TEST_GROUPS: usize = 2;

/// Scheme names.
pub const SCHEMES: &[&str] = &[
    "timeseries",
    "kfold",
    "stratified_kfold",
    "purged_kfold",
    "cpcv",
    "walk_forward",
    "monte_carlo",
];

/// A scheme and its parameters (scikit-learn's / skfolio's names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeSpec {
    /// One of [`SCHEMES`] (default `timeseries`).
    #[serde(default)]
    pub scheme: Option<String>,
    /// Folds (`timeseries`, `kfold`, `stratified_kfold`, `purged_kfold`) or random splits
    /// (`monte_carlo`); default 5.
    #[serde(default)]
    pub n_splits: Option<usize>,
    /// Shuffle before cutting folds (`kfold`, `stratified_kfold`).
    #[serde(default)]
    pub shuffle: Option<bool>,
    /// Seed of shuffles and random splits (default: the job's seed).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Rows dropped between training and test (`timeseries`, `walk_forward`; default: the
    /// label horizon).
    #[serde(default)]
    pub gap: Option<usize>,
    /// Training window cap (`timeseries`).
    #[serde(default)]
    pub max_train_size: Option<usize>,
    /// Test length in rows (`timeseries`, `walk_forward`), or share/count (`monte_carlo`).
    #[serde(default)]
    pub test_size: Option<f64>,
    /// Training window length (`walk_forward`).
    #[serde(default)]
    pub train_size: Option<usize>,
    /// Advance between walk-forward splits (default: `test_size`).
    #[serde(default)]
    pub step: Option<usize>,
    /// Expanding instead of rolling walk-forward windows.
    #[serde(default)]
    pub anchored: Option<bool>,
    /// Embargo share after each test block (`purged_kfold`, `cpcv`, temporal `monte_carlo`).
    #[serde(default)]
    pub embargo_pct: Option<f64>,
    /// Groups N (`cpcv`).
    #[serde(default)]
    pub n_groups: Option<usize>,
    /// Test groups per split k (`cpcv`).
    #[serde(default)]
    pub n_test_groups: Option<usize>,
    /// skfolio's fixed purge count (`cpcv`; replaces label-driven purging).
    #[serde(default)]
    pub purged_size: Option<usize>,
    /// skfolio's fixed embargo count (`cpcv`, with `purged_size`).
    #[serde(default)]
    pub embargo_size: Option<usize>,
    /// Random contiguous purged test blocks instead of random rows (`monte_carlo`).
    #[serde(default)]
    pub temporal: Option<bool>,
    /// Latest share of rows held out and scored once (used by `hone train`; default 0.2).
    #[serde(default)]
    pub holdout: Option<f64>,
}

/// The keys of a `[split]` table that name a splitter's parameter.
const KEYS: &[&str] = &[
    "scheme",
    "n_splits",
    "shuffle",
    "seed",
    "gap",
    "max_train_size",
    "test_size",
    "train_size",
    "step",
    "anchored",
    "embargo_pct",
    "n_groups",
    "n_test_groups",
    "purged_size",
    "embargo_size",
    "temporal",
    "holdout",
];

/// Names a parameter error by its `[split]` key (`gap` → `split.gap`), so that a config user
/// and `hone split` see the key they wrote; other errors pass unchanged.
fn in_split_table(e: ValidateError) -> ValidateError {
    match e {
        ValidateError::InvalidParameter { name, reason } if KEYS.contains(&name.as_str()) => {
            ValidateError::InvalidParameter {
                name: format!("split.{name}"),
                reason,
            }
        }
        e => e,
    }
}

/// A splitter built from a [`SchemeSpec`]: the same folds, with errors named by `[split]` key.
#[derive(Debug)]
struct InSplitTable(Box<dyn Splitter>);

impl Splitter for InSplitTable {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn is_temporal(&self) -> bool {
        self.0.is_temporal()
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        self.0.split(input).map_err(in_split_table)
    }
}

/// A row count given as a number (TOML and the command line give `test_size` as a float): a
/// whole number from 1 up. Values past `usize::MAX` saturate and are refused by the splitter as
/// larger than the sample.
fn whole(v: f64, field: &str) -> Result<usize, ValidateError> {
    if v >= 1.0 && v.is_finite() && v.fract() == 0.0 {
        Ok(v as usize)
    } else {
        Err(ValidateError::parameter(
            field,
            format!("must be a whole number of rows here, got {v}"),
        ))
    }
}

impl SchemeSpec {
    /// The scheme name (default `timeseries`).
    pub fn name(&self) -> &str {
        self.scheme.as_deref().unwrap_or("timeseries")
    }

    /// The combinatorial layout of a `cpcv` scheme (groups, test groups and the backtest paths
    /// they form, defaults filled: 6 groups, 2 tested per split); `None` for other schemes.
    /// Its purge setting is left at none: the layout does not depend on it.
    pub fn cpcv_layout(&self) -> Option<Cpcv> {
        (self.name() == "cpcv").then(|| Cpcv {
            n_groups: self.n_groups.unwrap_or(DEFAULT_CPCV_GROUPS),
            n_test_groups: self.n_test_groups.unwrap_or(DEFAULT_CPCV_TEST_GROUPS),
            purge: CpcvPurge::Labels { embargo_pct: 0.0 },
        })
    }

    /// The holdout share (default 0.2).
    pub fn holdout(&self) -> f64 {
        self.holdout.unwrap_or(0.2)
    }

    fn check_fields(&self, scheme: &str) -> Result<(), ValidateError> {
        let set = [
            ("n_splits", self.n_splits.is_some()),
            ("shuffle", self.shuffle.is_some()),
            ("seed", self.seed.is_some()),
            ("gap", self.gap.is_some()),
            ("max_train_size", self.max_train_size.is_some()),
            ("test_size", self.test_size.is_some()),
            ("train_size", self.train_size.is_some()),
            ("step", self.step.is_some()),
            ("anchored", self.anchored.is_some()),
            ("embargo_pct", self.embargo_pct.is_some()),
            ("n_groups", self.n_groups.is_some()),
            ("n_test_groups", self.n_test_groups.is_some()),
            ("purged_size", self.purged_size.is_some()),
            ("embargo_size", self.embargo_size.is_some()),
            ("temporal", self.temporal.is_some()),
        ];
        for (field, is_set) in set {
            if is_set && !scheme_allows(scheme, field) {
                let users: Vec<&str> = SCHEMES
                    .iter()
                    .copied()
                    .filter(|s| scheme_allows(s, field))
                    .collect();
                return Err(ValidateError::parameter(
                    field,
                    format!(
                        "does not apply to scheme {scheme:?} (it applies to {})",
                        users.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds the splitter. `default_seed` seeds shuffles and random splits unless `seed` is
    /// set; `default_gap` (the label horizon) is the gap of `timeseries` and `walk_forward`
    /// unless `gap` is set. Errors about a setting, here and from the splitter's `split`, name
    /// its key (`split.test_size`).
    pub fn build(
        &self,
        default_seed: u64,
        default_gap: usize,
    ) -> Result<Box<dyn Splitter>, ValidateError> {
        self.build_unnamed(default_seed, default_gap)
            .map(|s| Box::new(InSplitTable(s)) as Box<dyn Splitter>)
            .map_err(in_split_table)
    }

    fn build_unnamed(
        &self,
        default_seed: u64,
        default_gap: usize,
    ) -> Result<Box<dyn Splitter>, ValidateError> {
        let scheme = self.name();
        if !SCHEMES.contains(&scheme) {
            return Err(ValidateError::parameter(
                "scheme",
                format!("{scheme:?} is not known (one of {})", SCHEMES.join(", ")),
            ));
        }
        self.check_fields(scheme)?;
        if let Some(share) = self.holdout
            && !(0.0..1.0).contains(&share)
        {
            return Err(ValidateError::parameter(
                "holdout",
                format!("must be a fraction in [0, 1), got {share}"),
            ));
        }
        let n_splits = self.n_splits.unwrap_or(5);
        let seed = self.seed.unwrap_or(default_seed);
        Ok(match scheme {
            "timeseries" => Box::new(TimeSeriesSplit {
                n_splits,
                max_train_size: self.max_train_size,
                test_size: self.test_size.map(|t| whole(t, "test_size")).transpose()?,
                gap: self.gap.unwrap_or(default_gap),
            }),
            "kfold" => Box::new(KFold {
                n_splits,
                shuffle: self.shuffle.unwrap_or(false),
                seed,
            }),
            "stratified_kfold" => Box::new(StratifiedKFold {
                n_splits,
                shuffle: self.shuffle.unwrap_or(false),
                seed,
            }),
            "purged_kfold" => Box::new(PurgedKFold {
                n_splits,
                embargo_pct: self.embargo_pct.unwrap_or(0.0),
            }),
            "cpcv" => Box::new(Cpcv {
                n_groups: self.n_groups.unwrap_or(DEFAULT_CPCV_GROUPS),
                n_test_groups: self.n_test_groups.unwrap_or(DEFAULT_CPCV_TEST_GROUPS),
                purge: match (self.purged_size, self.embargo_size) {
                    (None, None) => CpcvPurge::Labels {
                        embargo_pct: self.embargo_pct.unwrap_or(0.0),
                    },
                    (p, e) => {
                        if self.embargo_pct.is_some() {
                            return Err(ValidateError::parameter(
                                "embargo_pct",
                                "cannot be combined with purged_size/embargo_size: cpcv purges by labels (embargo_pct) or by fixed counts, not both",
                            ));
                        }
                        CpcvPurge::Fixed {
                            purged_size: p.unwrap_or(0),
                            embargo_size: e.unwrap_or(0),
                        }
                    }
                },
            }),
            "walk_forward" => Box::new(WalkForward {
                train_size: self.train_size.ok_or_else(|| {
                    ValidateError::parameter("train_size", "is required by walk_forward")
                })?,
                test_size: whole(
                    self.test_size.ok_or_else(|| {
                        ValidateError::parameter("test_size", "is required by walk_forward")
                    })?,
                    "test_size",
                )?,
                step: self.step,
                gap: self.gap.unwrap_or(default_gap),
                anchored: self.anchored.unwrap_or(false),
            }),
            _ => Box::new(MonteCarlo {
                n_splits,
                test_size: {
                    let t = self.test_size.unwrap_or(0.1);
                    check_monte_carlo_test_size(t)?;
                    t
                },
                seed,
                temporal: self.temporal.unwrap_or(false),
                embargo_pct: self.embargo_pct.unwrap_or(0.0),
            }),
        })
    }
}

/// Which parameters each scheme takes.
fn scheme_allows(scheme: &str, field: &str) -> bool {
    match scheme {
        "timeseries" => ["n_splits", "gap", "max_train_size", "test_size"].contains(&field),
        "kfold" | "stratified_kfold" => ["n_splits", "shuffle", "seed"].contains(&field),
        "purged_kfold" => ["n_splits", "embargo_pct"].contains(&field),
        "cpcv" => [
            "n_groups",
            "n_test_groups",
            "embargo_pct",
            "purged_size",
            "embargo_size",
        ]
        .contains(&field),
        "walk_forward" => ["train_size", "test_size", "step", "gap", "anchored"].contains(&field),
        "monte_carlo" => {
            ["n_splits", "test_size", "seed", "temporal", "embargo_pct"].contains(&field)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::SplitInput;

    #[test]
    fn schemes_build_and_refuse_foreign_parameters() {
        let spec = SchemeSpec {
            scheme: Some("purged_kfold".into()),
            n_splits: Some(3),
            embargo_pct: Some(0.1),
            ..Default::default()
        };
        let s = spec.build(0, 1).unwrap();
        assert_eq!(s.name(), "purged_kfold");
        assert_eq!(s.split(&SplitInput::new(12)).unwrap().len(), 3);
        let bad = SchemeSpec {
            max_train_size: Some(10),
            ..spec.clone()
        };
        let e = bad.build(0, 1).unwrap_err().to_string();
        assert!(e.contains("split.max_train_size does not apply to scheme \"purged_kfold\" (it applies to timeseries)"), "{e}");
        let wf = SchemeSpec {
            scheme: Some("walk_forward".into()),
            train_size: Some(4),
            test_size: Some(2.0),
            ..Default::default()
        };
        assert_eq!(
            wf.build(0, 0)
                .unwrap()
                .split(&SplitInput::new(10))
                .unwrap()
                .len(),
            3
        );
        let e = SchemeSpec {
            test_size: Some(2.5),
            ..wf
        }
        .build(0, 0)
        .unwrap_err()
        .to_string();
        assert!(e.contains("whole number"), "{e}");
        assert!(
            SchemeSpec {
                scheme: Some("kfolds".into()),
                ..Default::default()
            }
            .build(0, 0)
            .is_err()
        );
        assert_eq!(
            SchemeSpec::default().build(0, 0).unwrap().name(),
            "timeseries"
        );
    }
}
