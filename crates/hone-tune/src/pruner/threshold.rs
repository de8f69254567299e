//! Fixed bounds (Optuna's `ThresholdPruner`): stop a trial as soon as its latest value leaves
//! `[lower, upper]` or is NaN, e.g. a diverging loss.

use serde::{Deserialize, Serialize};

use super::{PruneContext, Pruner, invalid, is_first_in_interval_step};
use crate::error::Result;

/// Bounds and check schedule. At least one bound is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdOptions {
    /// Values below this are pruned (none: no lower bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Values above this are pruned (none: no upper bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// No pruning before this step.
    pub n_warmup_steps: u64,
    /// Steps between checks, counted from the warm-up.
    pub interval_steps: u64,
}

impl Default for ThresholdOptions {
    fn default() -> Self {
        ThresholdOptions {
            lower: None,
            upper: None,
            n_warmup_steps: 0,
            interval_steps: 1,
        }
    }
}

/// Prunes when the latest value is outside `[lower, upper]` or NaN. The direction plays no
/// part: the bounds are absolute.
#[derive(Debug, Clone)]
pub struct ThresholdPruner {
    lower: f64,
    upper: f64,
    options: ThresholdOptions,
}

impl ThresholdPruner {
    /// A threshold pruner; refuses missing or NaN bounds, `lower > upper` and
    /// `interval_steps` 0.
    pub fn new(options: ThresholdOptions) -> Result<Self> {
        if options.lower.is_none() && options.upper.is_none() {
            return Err(invalid("threshold", "give lower and/or upper"));
        }
        if options.lower.is_some_and(f64::is_nan) || options.upper.is_some_and(f64::is_nan) {
            return Err(invalid("threshold", "bounds must not be NaN"));
        }
        let lower = options.lower.unwrap_or(f64::NEG_INFINITY);
        let upper = options.upper.unwrap_or(f64::INFINITY);
        if lower > upper {
            return Err(invalid(
                "threshold",
                format!("lower ({lower}) is above upper ({upper})"),
            ));
        }
        if options.interval_steps < 1 {
            return Err(invalid("threshold", "interval_steps must be at least 1"));
        }
        Ok(ThresholdPruner {
            lower,
            upper,
            options,
        })
    }
}

impl Pruner for ThresholdPruner {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let Some((step, value)) = ctx.trial.last_intermediate() else {
            return false;
        };
        let o = &self.options;
        if step < o.n_warmup_steps
            || !is_first_in_interval_step(ctx.trial, step, o.n_warmup_steps, o.interval_steps)
        {
            return false;
        }
        value.is_nan() || value < self.lower || value > self.upper
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::trial::{Direction, TrialState};

    fn pruner(
        lower: Option<f64>,
        upper: Option<f64>,
        warmup: u64,
        interval: u64,
    ) -> ThresholdPruner {
        ThresholdPruner::new(ThresholdOptions {
            lower,
            upper,
            n_warmup_steps: warmup,
            interval_steps: interval,
        })
        .unwrap()
    }

    #[test]
    fn prunes_outside_the_bounds_and_on_nan_in_both_directions() {
        let p = pruner(Some(0.0), Some(1.0), 0, 1);
        for d in [Direction::Minimize, Direction::Maximize] {
            let run = |vals: &[f64]| ask(&p, &curve(0, TrialState::Running, vals), &[], d);
            assert!(!run(&[0.5]));
            assert!(
                !run(&[0.0]) && !run(&[1.0]),
                "the bounds themselves are allowed"
            );
            assert!(run(&[1.5]));
            assert!(run(&[-0.1]));
            assert!(run(&[0.5, f64::NAN]));
            assert!(run(&[0.5, f64::INFINITY]));
            // Only the latest value counts: an early excursion is forgiven.
            assert!(!run(&[5.0, 0.5]));
        }
        let upper_only = pruner(None, Some(1.0), 0, 1);
        let t = curve(0, TrialState::Running, &[-1e300]);
        assert!(!ask(&upper_only, &t, &[], Direction::Minimize));
        assert!(!ask(
            &upper_only,
            &curve(0, TrialState::Running, &[]),
            &[],
            Direction::Minimize
        ));
    }

    #[test]
    fn warmup_and_interval_are_respected() {
        // Checks at steps 2, 4, 6, ...
        let p = pruner(None, Some(1.0), 2, 2);
        let run = |vals: &[f64]| {
            ask(
                &p,
                &curve(0, TrialState::Running, vals),
                &[],
                Direction::Minimize,
            )
        };
        assert!(!run(&[9.0]));
        assert!(!run(&[9.0, 9.0]));
        assert!(run(&[9.0, 9.0, 9.0]));
        assert!(!run(&[9.0, 9.0, 9.0, 9.0]));
        assert!(run(&[9.0, 9.0, 9.0, 9.0, 9.0]));
        // Step 4 skipped: step 5 takes its check.
        let t = stepped(0, TrialState::Running, &[(3, 0.0), (5, 9.0)]);
        assert!(ask(&p, &t, &[], Direction::Minimize));
    }

    #[test]
    fn a_whole_study_prunes_where_optuna_does() {
        // Optuna 5.0.0 (scripts/reference/pruners.py), `simulate`'s study (see super::testing),
        // minimised, with
        // ThresholdPruner(lower=0.1, upper=1.2, n_warmup_steps=1, interval_steps=2): the step
        // each trial was pruned at (-1: none).
        const THRESHOLD_MIN: [i64; 30] = [
            1, -1, -1, -1, -1, 9, -1, -1, -1, -1, 9, -1, 1, -1, -1, 5, -1, -1, -1, -1, -1, -1, 1,
            -1, -1, -1, -1, -1, -1, -1,
        ];
        let p = pruner(Some(0.1), Some(1.2), 1, 2);
        let got = simulate(&p, Direction::Minimize, "study", sim_curve, false);
        assert_eq!(got, THRESHOLD_MIN);
    }
}
