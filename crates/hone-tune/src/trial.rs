//! Trials: one evaluation of the objective at one point of the search space.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::space::Params;

/// Where a trial is in its life: WAITING (enqueued) → RUNNING → COMPLETE | PRUNED | FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrialState {
    /// Enqueued with fixed params; the next `ask` hands it out.
    Waiting,
    /// Being evaluated.
    Running,
    /// Finished with objective value(s).
    Complete,
    /// Stopped early by a pruner (its intermediate values remain).
    Pruned,
    /// The evaluation failed (error, NaN objective, killed worker); samplers ignore it.
    Fail,
}

impl TrialState {
    /// The stored name (`COMPLETE`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            TrialState::Waiting => "WAITING",
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "WAITING" => TrialState::Waiting,
            "RUNNING" => TrialState::Running,
            "COMPLETE" => TrialState::Complete,
            "PRUNED" => TrialState::Pruned,
            "FAIL" => TrialState::Fail,
            _ => return None,
        })
    }

    /// True for COMPLETE, PRUNED and FAIL.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }
}

/// Whether an objective is minimised or maximised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smaller is better.
    Minimize,
    /// Larger is better.
    Maximize,
}

impl Direction {
    /// Parses `minimize`/`min` or `maximize`/`max`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "minimize" | "min" => Some(Direction::Minimize),
            "maximize" | "max" => Some(Direction::Maximize),
            _ => None,
        }
    }

    /// The value as a loss (negated when maximised), so that smaller is always better.
    pub fn loss(&self, v: f64) -> f64 {
        match self {
            Direction::Minimize => v,
            Direction::Maximize => -v,
        }
    }

    /// The name (`minimize` / `maximize`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

/// One trial of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// 0-based number, unique within the study, in order of creation.
    pub number: u64,
    /// Life-cycle state.
    pub state: TrialState,
    /// Internal values of the active parameters (see [`crate::space`]).
    pub params: Params,
    /// Objective value(s) of a COMPLETE trial (one per direction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    /// Intermediate objective values by step (CV fold, boosting round, epoch).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intermediate: BTreeMap<u64, f64>,
    /// Constraint values; the trial is feasible when all are `<= 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Vec<f64>>,
    /// When it started running (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<i64>,
}

impl Trial {
    /// A new trial in `state` with `params`.
    pub fn new(number: u64, state: TrialState, params: Params) -> Self {
        Trial {
            number,
            state,
            params,
            values: None,
            intermediate: BTreeMap::new(),
            constraints: None,
            started_ms: None,
            finished_ms: None,
        }
    }

    /// The single objective value of a COMPLETE single-objective trial.
    pub fn value(&self) -> Option<f64> {
        self.values.as_ref().and_then(|v| v.first().copied())
    }

    /// True unless some constraint value is positive.
    pub fn is_feasible(&self) -> bool {
        self.constraints
            .as_ref()
            .is_none_or(|c| c.iter().all(|v| *v <= 0.0))
    }

    /// Total constraint violation (sum of positive constraint values).
    pub fn violation(&self) -> f64 {
        self.constraints
            .as_ref()
            .map_or(0.0, |c| c.iter().map(|v| v.max(0.0)).sum())
    }

    /// The deepest step reported and its value.
    pub fn last_intermediate(&self) -> Option<(u64, f64)> {
        self.intermediate.iter().next_back().map(|(s, v)| (*s, *v))
    }

    /// Duration in milliseconds when both ends are known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_ms? - self.started_ms?)
    }
}
