//! Median and percentile rules (Optuna's `MedianPruner` and `PercentilePruner`).
//!
//! A trial is pruned when its best value so far is worse than the given percentile of the
//! values the COMPLETE trials reported at the same step. Comparing the best-so-far value (not
//! the latest) makes the rule forgiving of noisy curves; comparing against completed trials
//! only keeps pruned runs from dragging the bar down.

use serde::{Deserialize, Serialize};

use super::{PruneContext, Pruner, invalid, is_first_in_interval_step, nan_best};
use crate::error::Result;
use crate::trial::{Direction, TrialState};

/// Options of the median rule (Optuna's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MedianOptions {
    /// No pruning until this many trials are COMPLETE.
    pub n_startup_trials: u64,
    /// No pruning before this step; the first check is at `step == n_warmup_steps`.
    pub n_warmup_steps: u64,
    /// Steps between checks, counted from the warm-up.
    pub interval_steps: u64,
    /// No pruning at a step fewer than this many COMPLETE trials reported.
    pub n_min_trials: u64,
}

impl Default for MedianOptions {
    fn default() -> Self {
        MedianOptions {
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        }
    }
}

/// Options of the percentile rule (Optuna's defaults, with percentile 25).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PercentileOptions {
    /// The share of trials kept, in percent (25 keeps the best quarter at each step).
    pub percentile: f64,
    /// No pruning until this many trials are COMPLETE.
    pub n_startup_trials: u64,
    /// No pruning before this step; the first check is at `step == n_warmup_steps`.
    pub n_warmup_steps: u64,
    /// Steps between checks, counted from the warm-up.
    pub interval_steps: u64,
    /// No pruning at a step fewer than this many COMPLETE trials reported.
    pub n_min_trials: u64,
}

impl Default for PercentileOptions {
    fn default() -> Self {
        let m = MedianOptions::default();
        PercentileOptions {
            percentile: 25.0,
            n_startup_trials: m.n_startup_trials,
            n_warmup_steps: m.n_warmup_steps,
            interval_steps: m.interval_steps,
            n_min_trials: m.n_min_trials,
        }
    }
}

/// Prunes trials whose best value so far falls outside the best `percentile` % of completed
/// trials at the same step.
#[derive(Debug, Clone)]
pub struct PercentilePruner {
    name: &'static str,
    options: PercentileOptions,
}

impl PercentilePruner {
    /// A percentile pruner; refuses a percentile outside [0, 100], `interval_steps` or
    /// `n_min_trials` of 0.
    pub fn new(options: &PercentileOptions) -> Result<Self> {
        Self::named("percentile", options.clone())
    }

    /// The median rule: the percentile pruner at 50.
    pub fn median(options: &MedianOptions) -> Result<Self> {
        Self::named(
            "median",
            PercentileOptions {
                percentile: 50.0,
                n_startup_trials: options.n_startup_trials,
                n_warmup_steps: options.n_warmup_steps,
                interval_steps: options.interval_steps,
                n_min_trials: options.n_min_trials,
            },
        )
    }

    fn named(name: &'static str, options: PercentileOptions) -> Result<Self> {
        if !(0.0..=100.0).contains(&options.percentile) {
            return Err(invalid(
                name,
                format!(
                    "percentile must be between 0 and 100, got {}",
                    options.percentile
                ),
            ));
        }
        if options.interval_steps < 1 {
            return Err(invalid(name, "interval_steps must be at least 1"));
        }
        if options.n_min_trials < 1 {
            return Err(invalid(name, "n_min_trials must be at least 1"));
        }
        Ok(PercentilePruner { name, options })
    }
}

impl Pruner for PercentilePruner {
    fn name(&self) -> &'static str {
        self.name
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let o = &self.options;
        let completed: Vec<_> = ctx
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .collect();
        if completed.is_empty() || (completed.len() as u64) < o.n_startup_trials {
            return false;
        }
        let Some((step, _)) = ctx.trial.last_intermediate() else {
            return false;
        };
        if step < o.n_warmup_steps
            || !is_first_in_interval_step(ctx.trial, step, o.n_warmup_steps, o.interval_steps)
        {
            return false;
        }
        let best = nan_best(ctx.trial.intermediate.values(), ctx.direction);
        if best.is_nan() {
            // Nothing but NaN so far: the trial cannot be ranked and is not worth continuing.
            return true;
        }
        let at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate.get(&step).copied())
            .collect();
        // NaN reports count towards n_min_trials but not towards the percentile (numpy's
        // nanpercentile after a plain length check).
        if (at_step.len() as u64) < o.n_min_trials {
            return false;
        }
        let q = match ctx.direction {
            Direction::Minimize => o.percentile,
            Direction::Maximize => 100.0 - o.percentile,
        };
        let Some(bar) = nan_percentile(&at_step, q) else {
            return false;
        };
        match ctx.direction {
            Direction::Minimize => best > bar,
            Direction::Maximize => best < bar,
        }
    }
}

/// numpy's `nanpercentile(values, q)` with the default linear interpolation (Hyndman & Fan
/// type 7), including numpy's two-sided lerp so that results agree to the last bit; `None`
/// when no value is a number.
pub fn nan_percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let index = (v.len() - 1) as f64 * (q / 100.0);
    let below = index.floor();
    let gamma = index - below;
    let lo = v[(below as usize).min(v.len() - 1)];
    let hi = v[(below as usize + 1).min(v.len() - 1)];
    let diff = hi - lo;
    Some(if gamma >= 0.5 {
        hi - diff * (1.0 - gamma)
    } else {
        lo + diff * gamma
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// Six completed curves; at step 2 their values are 1..6 (median 3.5, 25th percentile
    /// 2.25, 75th 4.75).
    fn completed() -> Vec<crate::trial::Trial> {
        (0..6)
            .map(|i| {
                let v = (i + 1) as f64;
                curve(i, TrialState::Complete, &[v + 2.0, v + 1.0, v, v - 0.5])
            })
            .collect()
    }

    fn median() -> PercentilePruner {
        PercentilePruner::median(&MedianOptions::default()).unwrap()
    }

    #[test]
    fn nan_percentile_matches_numpy() {
        // numpy.nanpercentile([5, 1, nan, 4, 2, 3], q) for q = 50, 25, 75, 10, 0, 100
        // (scripts/reference/pruners.py, as the second case):
        // 3.0 2.0 4.0 1.4 1.0 5.0
        let v = [5.0, 1.0, f64::NAN, 4.0, 2.0, 3.0];
        for (q, want) in [
            (50.0, 3.0),
            (25.0, 2.0),
            (75.0, 4.0),
            (10.0, 1.4),
            (0.0, 1.0),
            (100.0, 5.0),
        ] {
            assert_eq!(nan_percentile(&v, q), Some(want), "q={q}");
        }
        // numpy.nanpercentile([0.1, 0.7, 0.2], q) for q = 33.3, 66.7, 75, 90 (bit for bit:
        // numpy interpolates from the upper neighbour when the weight is >= 0.5):
        // 0.1666 0.367 0.44999999999999996 0.6
        for (q, want) in [
            (33.3, 0.1666),
            (66.7, 0.367),
            (75.0, 0.44999999999999996),
            (90.0, 0.6),
        ] {
            assert_eq!(nan_percentile(&[0.1, 0.7, 0.2], q), Some(want), "q={q}");
        }
        assert_eq!(nan_percentile(&[f64::NAN], 50.0), None);
    }

    #[test]
    fn median_prunes_a_trial_above_the_median_at_the_step() {
        let done = completed();
        let p = median();
        // Best so far 3.6 > median 3.5 at step 2.
        let worse = curve(9, TrialState::Running, &[5.0, 4.0, 3.6]);
        assert!(ask(&p, &worse, &done, Direction::Minimize));
        // Best so far 3.4 < 3.5.
        let better = curve(9, TrialState::Running, &[5.0, 4.0, 3.4]);
        assert!(!ask(&p, &better, &done, Direction::Minimize));
        // The best so far, not the latest value, is compared: 3.0 at step 0 saves it.
        let recovered = curve(9, TrialState::Running, &[3.0, 4.0, 9.0]);
        assert!(!ask(&p, &recovered, &done, Direction::Minimize));
        // Maximised: the same ranking with signs flipped gives the same decisions.
        let neg = negated(&done);
        assert!(ask(&p, &negate(&worse), &neg, Direction::Maximize));
        assert!(!ask(&p, &negate(&better), &neg, Direction::Maximize));
        assert!(!ask(&p, &negate(&recovered), &neg, Direction::Maximize));
    }

    #[test]
    fn percentile_uses_the_upper_tail_when_maximising() {
        let done = completed();
        let p = PercentilePruner::new(&PercentileOptions::default()).unwrap();
        // Minimise: the 25th percentile at step 2 is 2.25.
        let t = curve(9, TrialState::Running, &[9.0, 9.0, 2.3]);
        assert!(ask(&p, &t, &done, Direction::Minimize));
        let t = curve(9, TrialState::Running, &[9.0, 9.0, 2.2]);
        assert!(
            !ask(&p, &t, &done, Direction::Maximize) && !ask(&p, &t, &done, Direction::Minimize)
        );
        // Maximise on the raw values: the bar is the 75th percentile, 4.75.
        let t = curve(9, TrialState::Running, &[0.0, 0.0, 4.7]);
        assert!(ask(&p, &t, &done, Direction::Maximize));
        let t = curve(9, TrialState::Running, &[0.0, 0.0, 4.8]);
        assert!(!ask(&p, &t, &done, Direction::Maximize));
    }

    #[test]
    fn startup_warmup_interval_and_min_trials_are_respected() {
        let done = completed();
        let bad = curve(9, TrialState::Running, &[9.0, 9.0, 9.0]);
        // Five completed trials are needed; RUNNING and PRUNED ones do not count.
        let mut few = done[..4].to_vec();
        few.push(curve(7, TrialState::Pruned, &[9.0, 9.0, 9.0]));
        few.push(curve(8, TrialState::Running, &[9.0, 9.0, 9.0]));
        assert!(!ask(&median(), &bad, &few, Direction::Minimize));
        assert!(ask(&median(), &bad, &done[..5], Direction::Minimize));
        // Warm-up 3: step 2 is too early.
        let warm = PercentilePruner::median(&MedianOptions {
            n_warmup_steps: 3,
            ..Default::default()
        })
        .unwrap();
        assert!(!ask(&warm, &bad, &done, Direction::Minimize));
        let bad4 = curve(9, TrialState::Running, &[9.0, 9.0, 9.0, 9.0]);
        assert!(ask(&warm, &bad4, &done, Direction::Minimize));
        // Interval 2 from step 0: steps 0, 2, ... are checked, step 1 and 3 are not.
        let every2 = PercentilePruner::median(&MedianOptions {
            interval_steps: 2,
            ..Default::default()
        })
        .unwrap();
        assert!(ask(&every2, &bad, &done, Direction::Minimize));
        assert!(!ask(&every2, &bad4, &done, Direction::Minimize));
        // Only trials 0..2 reported step 5: fewer than n_min_trials = 3.
        let mut sparse = done.clone();
        for t in &mut sparse[..2] {
            t.intermediate.insert(5, 0.0);
        }
        let t5 = stepped(9, TrialState::Running, &[(5, 9.0)]);
        let min3 = PercentilePruner::median(&MedianOptions {
            n_min_trials: 3,
            ..Default::default()
        })
        .unwrap();
        assert!(!ask(&min3, &t5, &sparse, Direction::Minimize));
        assert!(ask(&median(), &t5, &sparse, Direction::Minimize));
        // Nobody reported step 7: nothing to compare with.
        let t7 = stepped(9, TrialState::Running, &[(7, 9.0)]);
        assert!(!ask(&median(), &t7, &done, Direction::Minimize));
    }

    #[test]
    fn nan_handling_follows_optuna() {
        let mut done = completed();
        // An all-NaN trial is pruned.
        let nan = curve(9, TrialState::Running, &[f64::NAN, f64::NAN, f64::NAN]);
        assert!(ask(&median(), &nan, &done, Direction::Minimize));
        // NaN values of the completed trials are left out of the median: with trials 4 and 5
        // NaN at step 2 the median of {1, 2, 3, 4} is 2.5, so 3.0 is pruned.
        done[4].intermediate.insert(2, f64::NAN);
        done[5].intermediate.insert(2, f64::NAN);
        let t = curve(9, TrialState::Running, &[9.0, 9.0, 3.0]);
        assert!(ask(&median(), &t, &done, Direction::Minimize));
        // NaN in the trial's own curve is skipped when taking its best value.
        let t = curve(9, TrialState::Running, &[2.0, f64::NAN, 9.0]);
        assert!(!ask(&median(), &t, &done, Direction::Minimize));
        // Every completed value NaN at the step: no bar, no pruning.
        for t in &mut done {
            t.intermediate.insert(2, f64::NAN);
        }
        let t = curve(9, TrialState::Running, &[9.0, 9.0, 9.0]);
        assert!(!ask(&median(), &t, &done, Direction::Minimize));
    }

    #[test]
    fn whole_studies_prune_where_optuna_does() {
        // Optuna 5.0.0 (scripts/reference/pruners.py), `simulate`'s study (see super::testing) with
        // MedianPruner(), MedianPruner(n_startup_trials=3, n_warmup_steps=4,
        // interval_steps=2, n_min_trials=4) and PercentilePruner(40.0, n_startup_trials=3,
        // n_warmup_steps=2, interval_steps=3): the step each trial was pruned at (-1: none).
        const MEDIAN_MIN: [i64; 30] = [
            -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, -1, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        const MEDIAN_MAX: [i64; 30] = [
            -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, -1, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        const MEDIAN_WARM_MIN: [i64; 30] = [
            -1, -1, -1, -1, 4, -1, 4, 4, 4, 4, -1, 4, 4, 4, 4, -1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
            4, 4, 4,
        ];
        const MEDIAN_WARM_MAX: [i64; 30] = [
            -1, -1, -1, -1, 4, -1, 4, 4, 4, 4, -1, 4, 4, 4, 4, -1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
            4, 4, 4,
        ];
        const PERCENTILE_MIN: [i64; 30] = [
            -1, -1, -1, -1, 2, -1, 2, 2, 2, 2, 2, 2, 2, 2, 2, -1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2, 2, 2,
        ];
        const PERCENTILE_MAX: [i64; 30] = [
            -1, -1, -1, -1, 2, -1, 2, 2, 2, 2, 2, 2, 2, 2, 2, -1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
            2, 2, 2,
        ];
        let warm = MedianOptions {
            n_startup_trials: 3,
            n_warmup_steps: 4,
            interval_steps: 2,
            n_min_trials: 4,
        };
        let pct = PercentileOptions {
            percentile: 40.0,
            n_startup_trials: 3,
            n_warmup_steps: 2,
            interval_steps: 3,
            n_min_trials: 1,
        };
        for (pruner, min, max) in [
            (median(), MEDIAN_MIN, MEDIAN_MAX),
            (
                PercentilePruner::median(&warm).unwrap(),
                MEDIAN_WARM_MIN,
                MEDIAN_WARM_MAX,
            ),
            (
                PercentilePruner::new(&pct).unwrap(),
                PERCENTILE_MIN,
                PERCENTILE_MAX,
            ),
        ] {
            let got = simulate(&pruner, Direction::Minimize, "study", sim_curve, false);
            assert_eq!(got, min);
            let got = simulate(&pruner, Direction::Maximize, "study", sim_curve, false);
            assert_eq!(got, max);
        }
    }
}
