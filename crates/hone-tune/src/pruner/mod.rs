//! Pruners: stop unpromising trials early from their intermediate values.
//!
//! Intermediate values are reported per step (a CV fold, a boosting round, an epoch). Every
//! pruner implements [`Pruner`] and reads the current trial and the study's other trials.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::trial::{Direction, Trial};

/// What a pruner sees when asked about a trial.
pub struct PruneContext<'a> {
    /// The study's name (Hyperband's bracket assignment hashes it).
    pub study_name: &'a str,
    /// The trial in question, with the intermediate values it has reported so far.
    pub trial: &'a Trial,
    /// Every other trial of the study, in number order, any state.
    pub trials: &'a [Trial],
    /// The direction of the (first) objective.
    pub direction: Direction,
}

/// Decides whether a running trial should stop now.
pub trait Pruner: Send + Sync {
    /// A short name (`median`, `hyperband`, ...).
    fn name(&self) -> &'static str;
    /// True when the trial should be pruned after its latest report.
    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool;
}

/// Never prunes.
#[derive(Debug, Clone, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn name(&self) -> &'static str {
        "none"
    }
    fn should_prune(&self, _ctx: &PruneContext<'_>) -> bool {
        false
    }
}

/// Which pruner a study uses (the `pruner` key of `[search]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PrunerSpec {
    /// No pruning.
    #[default]
    None,
}

impl PrunerSpec {
    /// Parses a pruner name with default options.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(PrunerSpec::None),
            other => Err(TuneError::Invalid(format!("unknown pruner {other:?}"))),
        }
    }

    /// The pruner's name.
    pub fn name(&self) -> &'static str {
        match self {
            PrunerSpec::None => "none",
        }
    }

    /// Builds the pruner.
    pub fn build(&self) -> Result<Box<dyn Pruner>> {
        Ok(match self {
            PrunerSpec::None => Box::new(NopPruner),
        })
    }
}
