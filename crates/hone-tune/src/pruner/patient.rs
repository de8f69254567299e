//! Patience (Optuna's `PatientPruner`): prune only a trial that has stopped improving.
//!
//! The last `patience + 1` reports are compared with everything before them; the trial is
//! "stuck" when none of the recent values beats the earlier best by more than `min_delta`.
//! A stuck trial is then handed to the wrapped pruner (so a stuck but still competitive trial
//! survives), or pruned outright when nothing is wrapped.

use serde::{Deserialize, Serialize};

use super::{PruneContext, Pruner, PrunerSpec, invalid, nan_best};
use crate::error::Result;
use crate::trial::Direction;

/// Options of the patient wrapper. Optuna has no default patience; hone uses 10 reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatientOptions {
    /// The pruner consulted once the trial has stopped improving (none: prune on that alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<Box<PrunerSpec>>,
    /// How many reports without improvement are tolerated.
    pub patience: u64,
    /// The smallest change that counts as an improvement (>= 0).
    pub min_delta: f64,
}

impl Default for PatientOptions {
    fn default() -> Self {
        PatientOptions {
            wrapped: None,
            patience: 10,
            min_delta: 0.0,
        }
    }
}

/// Prunes a trial that made no improvement larger than `min_delta` over its last `patience`
/// reports, if the wrapped pruner (when there is one) agrees.
pub struct PatientPruner {
    wrapped: Option<Box<dyn Pruner>>,
    patience: usize,
    min_delta: f64,
}

impl PatientPruner {
    /// A patient pruner around `options.wrapped`; refuses a negative or NaN `min_delta` and a
    /// wrapped spec that does not build.
    pub fn new(options: &PatientOptions) -> Result<Self> {
        if options.min_delta.is_nan() || options.min_delta < 0.0 {
            return Err(invalid(
                "patient",
                format!("min_delta must be >= 0, got {}", options.min_delta),
            ));
        }
        let patience = usize::try_from(options.patience)
            .map_err(|_| invalid("patient", "patience is too large"))?;
        let wrapped = options
            .wrapped
            .as_ref()
            .map(|spec| spec.build())
            .transpose()
            .map_err(|e| invalid("patient", format!("wrapped {e}")))?;
        Ok(PatientPruner {
            wrapped,
            patience,
            min_delta: options.min_delta,
        })
    }
}

impl Pruner for PatientPruner {
    fn name(&self) -> &'static str {
        "patient"
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let values: Vec<f64> = ctx.trial.intermediate.values().copied().collect();
        // Patience counts reports, not step numbers, as Optuna does.
        if values.len() <= self.patience.saturating_add(1) {
            return false;
        }
        let (before, after) = values.split_at(values.len() - self.patience - 1);
        let best_before = nan_best(before, ctx.direction);
        let best_after = nan_best(after, ctx.direction);
        // NaN on either side compares false: an all-NaN window is never called stuck.
        let stuck = match ctx.direction {
            Direction::Minimize => best_before + self.min_delta < best_after,
            Direction::Maximize => best_before - self.min_delta > best_after,
        };
        stuck && self.wrapped.as_ref().is_none_or(|w| w.should_prune(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::super::percentile::MedianOptions;
    use super::super::testing::*;
    use super::*;
    use crate::trial::TrialState;

    fn patient(patience: u64, min_delta: f64, wrapped: Option<PrunerSpec>) -> PatientPruner {
        PatientPruner::new(&PatientOptions {
            wrapped: wrapped.map(Box::new),
            patience,
            min_delta,
        })
        .unwrap()
    }

    #[test]
    fn prunes_after_patience_reports_without_improvement() {
        let p = patient(2, 0.0, None);
        let run = |vals: &[f64], d| ask(&p, &curve(0, TrialState::Running, vals), &[], d);
        // Best 1.0 at step 1, then three reports without beating it: the last three (2.0,
        // 1.5, 1.2) are compared with the best before them (1.0).
        assert!(run(&[3.0, 1.0, 2.0, 1.5, 1.2], Direction::Minimize));
        // Only two reports after the best: the window still holds the best itself.
        assert!(!run(&[3.0, 1.0, 2.0, 1.5], Direction::Minimize));
        // A recent improvement saves it.
        assert!(!run(&[3.0, 1.0, 2.0, 1.5, 0.9], Direction::Minimize));
        // Too few reports to judge (<= patience + 1).
        assert!(!run(&[1.0, 2.0, 3.0], Direction::Minimize));
        // Maximised: the mirror image.
        assert!(run(&[-3.0, -1.0, -2.0, -1.5, -1.2], Direction::Maximize));
        assert!(!run(&[-3.0, -1.0, -2.0, -1.5, -0.9], Direction::Maximize));
        // Equal to the earlier best is not worse: no prune (strict comparison).
        assert!(!run(&[3.0, 1.0, 2.0, 1.5, 1.0], Direction::Minimize));
    }

    #[test]
    fn min_delta_demands_a_real_improvement() {
        // Best before the window 1.0; the window's best 1.05 is worse by only 0.05.
        let vals = [3.0, 1.0, 2.0, 1.5, 1.05];
        let t = curve(0, TrialState::Running, &vals);
        assert!(ask(&patient(2, 0.0, None), &t, &[], Direction::Minimize));
        assert!(!ask(&patient(2, 0.1, None), &t, &[], Direction::Minimize));
        let t = negate(&t);
        assert!(ask(&patient(2, 0.0, None), &t, &[], Direction::Maximize));
        assert!(!ask(&patient(2, 0.1, None), &t, &[], Direction::Maximize));
    }

    #[test]
    fn the_wrapped_pruner_has_the_last_word() {
        let wrapped = PrunerSpec::Median(MedianOptions {
            n_startup_trials: 1,
            ..Default::default()
        });
        let p = patient(1, 0.0, Some(wrapped));
        // Completed trials at step 3: 0.5 and 5.0 and 6.0, median 5.0.
        let done: Vec<_> = [0.5, 5.0, 6.0]
            .iter()
            .enumerate()
            .map(|(i, v)| curve(i as u64, TrialState::Complete, &[9.0, 9.0, 9.0, *v]))
            .collect();
        // Stuck (2.0 before the window, 3.0 at best within it) but with a best-so-far of 2.0
        // below the median 5.0: patient alone would prune, the wrapped median says no.
        let stuck_but_good = curve(9, TrialState::Running, &[2.0, 2.5, 3.0, 4.0]);
        assert!(!ask(&p, &stuck_but_good, &done, Direction::Minimize));
        assert!(ask(
            &patient(1, 0.0, None),
            &stuck_but_good,
            &done,
            Direction::Minimize
        ));
        // Stuck and worse than the median: both agree.
        let stuck_and_bad = curve(9, TrialState::Running, &[6.0, 7.0, 8.0, 8.0]);
        assert!(ask(&p, &stuck_and_bad, &done, Direction::Minimize));
        // Improving and worse than the median: patient vetoes.
        let improving_but_bad = curve(9, TrialState::Running, &[9.0, 8.0, 7.0, 6.0]);
        assert!(!ask(&p, &improving_but_bad, &done, Direction::Minimize));
        // The same in a maximised study.
        let neg = negated(&done);
        assert!(!ask(
            &p,
            &negate(&stuck_but_good),
            &neg,
            Direction::Maximize
        ));
        assert!(ask(&p, &negate(&stuck_and_bad), &neg, Direction::Maximize));
        assert!(!ask(
            &p,
            &negate(&improving_but_bad),
            &neg,
            Direction::Maximize
        ));
    }

    #[test]
    fn nan_windows_are_not_stuck() {
        let p = patient(1, 0.0, None);
        let t = curve(0, TrialState::Running, &[1.0, 2.0, f64::NAN, f64::NAN]);
        assert!(!ask(&p, &t, &[], Direction::Minimize));
        // NaN inside a window is skipped: the window's best is 3.0 > 1.0.
        let t = curve(0, TrialState::Running, &[1.0, 2.0, f64::NAN, 3.0]);
        assert!(ask(&p, &t, &[], Direction::Minimize));
    }

    #[test]
    fn whole_studies_prune_where_optuna_does() {
        // Optuna 5.0.0 (scripts/reference/pruners.py), `simulate`'s study (see super::testing) with
        // PatientPruner(MedianPruner(n_startup_trials=2), patience=2, min_delta=0.01) and
        // PatientPruner(None, patience=3): the step each trial was pruned at (-1: none).
        const PATIENT_MIN: [i64; 30] = [
            -1, -1, 13, 17, 14, -1, 18, -1, 17, 19, -1, -1, -1, -1, 8, -1, 14, 18, 16, 17, -1, -1,
            18, -1, -1, -1, 10, 14, 12, 13,
        ];
        const PATIENT_MAX: [i64; 30] = [
            -1, -1, 13, 17, 14, -1, 18, -1, 17, 19, -1, -1, -1, -1, 8, -1, 14, 18, 16, 17, -1, -1,
            18, -1, -1, -1, 10, 14, 12, 13,
        ];
        const PATIENT_ALONE_MIN: [i64; 30] = [
            4, 8, 12, 9, 11, 13, 12, 14, 14, 18, 15, 17, 19, 5, 7, 9, 13, 10, 12, 14, 13, 15, 15,
            19, 16, 16, 4, 8, 8, 10,
        ];
        const PATIENT_ALONE_MAX: [i64; 30] = [
            4, 8, 12, 9, 11, 13, 12, 14, 14, 18, 15, 17, 19, 5, 7, 9, 13, 10, 12, 14, 13, 15, 15,
            19, 16, 16, 4, 8, 8, 10,
        ];
        let wrapped = patient(
            2,
            0.01,
            Some(PrunerSpec::Median(MedianOptions {
                n_startup_trials: 2,
                ..Default::default()
            })),
        );
        let alone = patient(3, 0.0, None);
        for (pruner, min, max) in [
            (wrapped, PATIENT_MIN, PATIENT_MAX),
            (alone, PATIENT_ALONE_MIN, PATIENT_ALONE_MAX),
        ] {
            let got = simulate(&pruner, Direction::Minimize, "study", sim_curve, false);
            assert_eq!(got, min);
            let got = simulate(&pruner, Direction::Maximize, "study", sim_curve, false);
            assert_eq!(got, max);
        }
    }
}
