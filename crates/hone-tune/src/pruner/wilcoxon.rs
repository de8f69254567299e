//! Wilcoxon pruning (Optuna's `WilcoxonPruner`) for objectives that average per-instance
//! values: CV folds, problem instances, evaluation questions.
//!
//! Each step is one instance (its id is the step, in any order). The current trial's values are
//! paired with the best COMPLETE trial's values on the same instances, and a one-sided Wilcoxon
//! signed-rank test asks whether the current trial is worse. The trial is pruned when
//! p < `p_threshold`, unless its running average already beats the best trial's average: the
//! test can call a trial worse on most instances while it wins on average, and pruning a trial
//! that is ahead would be a plain mistake.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::checked_gamma_ur;

use super::{PruneContext, Pruner, StepValues, best_complete, invalid};
use crate::error::Result;
use crate::trial::Direction;

/// Options of the Wilcoxon pruner (Optuna's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WilcoxonOptions {
    /// Prune when the one-sided p-value is below this (in [0, 1]; larger prunes more).
    pub p_threshold: f64,
    /// No pruning before this many instances are shared with the best trial (at least 2 are
    /// always required).
    pub n_startup_steps: u64,
}

impl Default for WilcoxonOptions {
    fn default() -> Self {
        WilcoxonOptions {
            p_threshold: 0.1,
            n_startup_steps: 2,
        }
    }
}

/// Prunes a trial the signed-rank test finds worse than the best trial.
#[derive(Debug, Clone)]
pub struct WilcoxonPruner {
    options: WilcoxonOptions,
}

impl WilcoxonPruner {
    /// A Wilcoxon pruner; refuses a `p_threshold` outside [0, 1].
    pub fn new(options: WilcoxonOptions) -> Result<Self> {
        if !(0.0..=1.0).contains(&options.p_threshold) {
            return Err(invalid(
                "wilcoxon",
                format!(
                    "p_threshold must be between 0 and 1, got {}",
                    options.p_threshold
                ),
            ));
        }
        Ok(WilcoxonPruner { options })
    }
}

impl Pruner for WilcoxonPruner {
    fn name(&self) -> &'static str {
        "wilcoxon"
    }

    /// The test pairs the trial's folds with the best trial's: it needs each fold's own value.
    fn step_values(&self) -> StepValues {
        StepValues::PerInstance
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let current = &ctx.trial.intermediate;
        // Infinite or NaN values make ranks and averages meaningless: never prune on them.
        if current.is_empty() || current.values().any(|v| !v.is_finite()) {
            return false;
        }
        let Some(best) = best_complete(ctx.trials, ctx.direction) else {
            return false;
        };
        let reference = &best.intermediate;
        if reference.is_empty() || reference.values().any(|v| !v.is_finite()) {
            return false;
        }
        let diffs: Vec<f64> = current
            .iter()
            .filter_map(|(step, v)| reference.get(step).map(|b| v - b))
            .collect();
        let needed = usize::try_from(self.options.n_startup_steps.max(2)).unwrap_or(usize::MAX);
        if diffs.len() < needed {
            return false;
        }
        let mean =
            |m: &std::collections::BTreeMap<u64, f64>| m.values().sum::<f64>() / m.len() as f64;
        // Averages over every reported instance of each trial, not only the shared ones, as
        // Optuna does (the best trial normally has them all).
        let (current_avg, best_avg) = (mean(current), mean(reference));
        let (alternative, ahead) = match ctx.direction {
            Direction::Minimize => (Alternative::Greater, best_avg >= current_avg),
            Direction::Maximize => (Alternative::Less, best_avg <= current_avg),
        };
        if ahead {
            return false;
        }
        signed_rank_pvalue(&diffs, alternative).is_some_and(|p| p < self.options.p_threshold)
    }
}

/// The alternative hypothesis about the differences `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// `d` is centred below 0.
    Less,
    /// `d` is centred above 0.
    Greater,
    /// `d` is not centred at 0.
    TwoSided,
}

/// Samples at most this size with ties or zeros get the exact sign-flip distribution (2^13
/// patterns); larger ones the normal approximation, as scipy's `method="auto"`.
const MAX_PERMUTATION_N: usize = 13;
/// Samples above this size always get the normal approximation, as scipy's `method="auto"`.
const MAX_EXACT_N: usize = 50;

/// The p-value of `scipy.stats.wilcoxon(d, alternative=..., zero_method="zsplit")` (scipy
/// 1.17, `method="auto"`, no continuity correction): zero differences are kept and their ranks
/// split evenly between the positive and negative sums. For n ≤ 50 without ties or zeros the
/// exact null distribution is used; for n ≤ 13 with ties or zeros the exact distribution over
/// all sign flips (scipy's deterministic permutation test, which this equals); otherwise the
/// tie-corrected normal approximation. `None` for an empty sample or one holding NaN.
pub fn signed_rank_pvalue(d: &[f64], alternative: Alternative) -> Option<f64> {
    let n = d.len();
    if n == 0 || d.iter().any(|x| x.is_nan()) {
        return None;
    }
    let ranked = doubled_ranks(d);
    let has_ties = ranked.tie_sizes.iter().any(|&t| t > 1);
    let has_zeros = d.contains(&0.0);
    let exact = n <= MAX_EXACT_N && (n <= MAX_PERMUTATION_N || !(has_ties || has_zeros));
    if exact {
        Some(exact_pvalue(d, &ranked.ranks2, alternative))
    } else {
        normal_pvalue(d, &ranked, alternative)
    }
}

/// Average ranks of `|d|` (1-based), doubled so that tied ranks stay integers, and the sizes of
/// the tie groups.
struct Ranked {
    ranks2: Vec<u64>,
    tie_sizes: Vec<u64>,
}

fn doubled_ranks(d: &[f64]) -> Ranked {
    let mut order: Vec<usize> = (0..d.len()).collect();
    order.sort_by(|&a, &b| d[a].abs().total_cmp(&d[b].abs()));
    let mut ranks2 = vec![0; d.len()];
    let mut tie_sizes = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && d[order[end]].abs() == d[order[start]].abs() {
            end += 1;
        }
        // Positions start+1 ..= end share the rank (start+1+end)/2, doubled: start+1+end.
        for &i in &order[start..end] {
            ranks2[i] = (start + 1 + end) as u64;
        }
        tie_sizes.push((end - start) as u64);
        start = end;
    }
    Ranked { ranks2, tie_sizes }
}

/// Twice the zsplit statistic `r+`: ranks of positive differences plus half the ranks of zero
/// differences (an integer: zero ranks are the lowest tie group, summing to z(z+1)).
fn doubled_r_plus(d: &[f64], ranks2: &[u64]) -> u64 {
    let positive: u64 = d
        .iter()
        .zip(ranks2)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    let zero: u64 = d
        .iter()
        .zip(ranks2)
        .filter(|(x, _)| **x == 0.0)
        .map(|(_, r)| r)
        .sum();
    positive + zero / 2
}

/// P-value from the distribution of `r+` over all 2^n sign patterns of the non-zero
/// differences (zeros keep their fixed half share whatever the signs).
fn exact_pvalue(d: &[f64], ranks2: &[u64], alternative: Alternative) -> f64 {
    let observed = doubled_r_plus(d, ranks2);
    let zero_part: u64 = d
        .iter()
        .zip(ranks2)
        .filter(|(x, _)| **x == 0.0)
        .map(|(_, r)| r)
        .sum::<u64>()
        / 2;
    let movable: Vec<usize> = d
        .iter()
        .zip(ranks2)
        .filter(|(x, _)| **x != 0.0)
        .map(|(_, r)| *r as usize)
        .collect();
    // counts[s]: sign patterns whose positive ranks sum to s (doubled units). At most n = 50
    // elements, so counts stay below 2^50 and the sums below n(n+1) = 2550.
    let total: usize = movable.iter().sum();
    let mut counts = vec![0u64; total + 1];
    counts[0] = 1;
    let mut reach = 0;
    for &r in &movable {
        for s in (0..=reach).rev() {
            if counts[s] > 0 {
                counts[s + r] += counts[s];
            }
        }
        reach += r;
    }
    let patterns = (1u64 << movable.len()) as f64;
    let observed = observed.saturating_sub(zero_part) as usize;
    let at_most = |k: usize| counts[..=k.min(total)].iter().sum::<u64>() as f64 / patterns;
    let at_least = |k: usize| counts[k.min(total + 1)..].iter().sum::<u64>() as f64 / patterns;
    match alternative {
        Alternative::Less => at_most(observed),
        Alternative::Greater => at_least(observed),
        Alternative::TwoSided => (2.0 * at_most(observed).min(at_least(observed))).min(1.0),
    }
}

/// The normal approximation with scipy's tie correction and no continuity correction.
fn normal_pvalue(d: &[f64], ranked: &Ranked, alternative: Alternative) -> Option<f64> {
    let n = d.len() as f64;
    let r_plus = doubled_r_plus(d, &ranked.ranks2) as f64 / 2.0;
    let mean = n * (n + 1.0) * 0.25;
    let ties: f64 = ranked
        .tie_sizes
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let se = ((n * (n + 1.0) * (2.0 * n + 1.0) - ties / 2.0) / 24.0).sqrt();
    if se.is_nan() || se <= 0.0 {
        return None;
    }
    let z = (r_plus - mean) / se;
    Some(match alternative {
        Alternative::Less => normal_sf(-z),
        Alternative::Greater => normal_sf(z),
        Alternative::TwoSided => (2.0 * normal_sf(z.abs())).min(1.0),
    })
}

/// P(Z > z) for a standard normal Z, as erfc(z/√2)/2 = Q(1/2, z²/2)/2 through the regularized
/// upper incomplete gamma function. statrs's `erfc` is off by up to ~1e-10 (relative) in
/// places, which would show in p-values compared with scipy's `ndtr`; this route agrees with
/// it to ~1e-15.
fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = 0.5 * z * z;
    let tail = if x == 0.0 {
        0.5
    } else {
        // Only an infinite z fails here, whose tail is 0.
        checked_gamma_ur(0.5, x).map_or(0.0, |q| 0.5 * q)
    };
    if z >= 0.0 { tail } else { 1.0 - tail }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::trial::{Trial, TrialState};

    // The samples below, as generated for the scipy reference values (scripts/reference/pruners.py
    // repeats them).
    const D20: &[f64] = &[
        -0.93, 0.5, -0.37, 1.06, 0.19, -0.68, 0.75, -0.12, 1.31, 0.44, -0.43, 1.0, 0.13, 1.56,
        0.69, -0.18, 1.25, 0.38, 1.81, 0.94,
    ];
    const D20_TIES: &[f64] = &[
        -3.0, 4.0, 2.0, 0.0, -2.0, 5.0, 3.0, 1.0, -1.0, -3.0, 4.0, 2.0, 0.0, -2.0, 5.0, 3.0, 1.0,
        -1.0, -3.0, 4.0,
    ];
    const D60: &[f64] = &[
        0.25, 2.23343, -0.260882, -1.601329, 1.238627, 1.847474, -1.149149, -0.985574, 1.969124,
        1.044381, -1.671795, -0.046898, 2.250786, 0.034027, -1.692197, 0.969617, 2.010146,
        -0.919575, -1.204922, 1.798556, 1.310165, -1.567233, -0.337143, 2.223501, 0.333787,
        -1.739673, 0.684575, 2.133558, -0.663851, -1.391747, 1.593458, 1.552326, -1.422055,
        -0.614231, 2.152208, 0.631729, -1.742673, 0.389888, 2.214979, -0.387663, -1.541855,
        1.358435, 1.76548, -1.239475, -0.871951, 2.038523, 0.921228, -1.701106, 0.092162, 2.252616,
        -0.097151, -1.651871, 1.098757, 1.944895, -1.023547, -1.104525, 1.88501, 1.195844,
        -1.615875, -0.201934,
    ];

    fn close(got: f64, want: f64) -> bool {
        (got - want).abs() <= 1e-12 * want.abs().max(1e-300)
    }

    #[test]
    fn normal_tail_matches_scipy_ndtr() {
        // scipy.special.ndtr(-z) for each z (scripts/reference/special_functions.py).
        for (z, want) in [
            (-8.0, 0.9999999999999993),
            (-1.5, 0.9331927987311419),
            (0.0, 0.5),
            (0.3, 0.3820885778110474),
            (1.4431018771204296, 0.07449588732408481),
            (2.5, 0.006209665325776132),
            (6.0, 9.865876450376946e-10),
            (9.0, 1.1285884059538324e-19),
        ] {
            let got = normal_sf(z);
            assert!(close(got, want), "z={z}: {got} vs {want}");
        }
        assert_eq!(normal_sf(f64::INFINITY), 0.0);
        assert_eq!(normal_sf(f64::NEG_INFINITY), 1.0);
    }

    #[test]
    fn pvalues_match_scipy() {
        use Alternative::*;
        // Reference: scipy 1.17.1 (scripts/reference/pruners.py),
        // scipy.stats.wilcoxon(d, alternative=alt, zero_method="zsplit").pvalue
        let cases: &[(&[f64], Alternative, f64)] = &[
            // n = 6, no ties: exact distribution.
            (&[1.5, 2.0, -0.5, 3.0, 4.5, 0.7], Greater, 0.03125),
            (&[1.5, 2.0, -0.5, 3.0, 4.5, 0.7], Less, 0.984375),
            (&[1.5, 2.0, -0.5, 3.0, 4.5, 0.7], TwoSided, 0.0625),
            // n = 2, the smallest sample the pruner tests.
            (&[0.3, 0.1], Greater, 0.25),
            // Ties and a zero, n = 7: sign-flip permutation distribution.
            (&[1.0, -1.0, 2.0, 0.0, 2.0, 3.0, -0.5], Greater, 0.125),
            (&[1.0, -1.0, 2.0, 0.0, 2.0, 3.0, -0.5], Less, 0.9375),
            // All zero.
            (&[0.0, 0.0, 0.0], Greater, 1.0),
            // n = 20 without ties: exact.
            (D20, Greater, 0.006039619445800781),
            (D20, Less, 0.9946556091308594),
            // n = 20 with ties: normal approximation with tie correction.
            (D20_TIES, Greater, 0.07449588732408481),
            (D20_TIES, TwoSided, 0.14899177464816962),
            // n = 60 without ties: normal approximation.
            (D60, Greater, 0.06469772092913842),
            (D60, Less, 0.9353022790708616),
        ];
        for (d, alt, want) in cases {
            let got = signed_rank_pvalue(d, *alt).unwrap();
            assert!(close(got, *want), "{d:?} {alt:?}: {got} vs scipy {want}");
        }
        assert_eq!(signed_rank_pvalue(&[], Greater), None);
        assert_eq!(signed_rank_pvalue(&[1.0, f64::NAN], Greater), None);
    }

    fn complete(number: u64, values: &[f64]) -> Trial {
        let mut t = curve(number, TrialState::Complete, values);
        t.values = Some(vec![values.iter().sum::<f64>() / values.len() as f64]);
        t
    }

    #[test]
    fn prunes_a_significantly_worse_trial_unless_it_is_ahead_on_average() {
        let best = complete(0, &[1.0; 12]);
        let worse = complete(1, &[3.0; 12]);
        // Worse by 0.1 on 11 instances; on the 12th better by 0.5 (average 1.05: behind) or
        // by 2.0 (average 0.925: ahead). Either way
        // scipy.stats.wilcoxon([0.1]*11 + [-x], alternative="greater", zero_method="zsplit")
        // .pvalue = 0.0166015625 < 0.1.
        let mut behind = vec![1.1; 11];
        behind.push(0.5);
        let mut ahead = vec![1.1; 11];
        ahead.push(-1.0);
        let d: Vec<f64> = behind.iter().map(|v| v - 1.0).collect();
        assert_eq!(
            signed_rank_pvalue(&d, Alternative::Greater),
            Some(0.0166015625)
        );
        let p = WilcoxonPruner::new(Default::default()).unwrap();
        let trials = [best, worse];
        let behind = curve(9, TrialState::Running, &behind);
        let ahead = curve(9, TrialState::Running, &ahead);
        assert!(ask(&p, &behind, &trials, Direction::Minimize));
        assert!(!ask(&p, &ahead, &trials, Direction::Minimize));
        // Maximised: the same with signs flipped (best = the trial with the largest value).
        let neg = negated(&trials);
        assert!(ask(&p, &negate(&behind), &neg, Direction::Maximize));
        assert!(!ask(&p, &negate(&ahead), &neg, Direction::Maximize));
        // A stricter threshold keeps it: p = 0.0166 is not below 0.01.
        let strict = WilcoxonPruner::new(WilcoxonOptions {
            p_threshold: 0.01,
            ..Default::default()
        })
        .unwrap();
        assert!(!ask(&strict, &behind, &trials, Direction::Minimize));
        // More startup steps than shared instances: not yet.
        let patient = WilcoxonPruner::new(WilcoxonOptions {
            n_startup_steps: 13,
            ..Default::default()
        })
        .unwrap();
        assert!(!ask(&patient, &behind, &trials, Direction::Minimize));
    }

    #[test]
    fn compares_with_the_best_complete_trial_on_shared_instances() {
        let p = WilcoxonPruner::new(Default::default()).unwrap();
        let best = complete(0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Uniformly worse by 1 on six instances: the exact p is 1/64 < 0.1.
        let worse = curve(9, TrialState::Running, &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert!(ask(
            &p,
            &worse,
            std::slice::from_ref(&best),
            Direction::Minimize
        ));
        // A PRUNED trial with better values is not the reference, nor is an infeasible one.
        let pruned = curve(1, TrialState::Pruned, &[0.0; 6]);
        let mut infeasible = complete(2, &[0.0; 6]);
        infeasible.constraints = Some(vec![1.0]);
        let with = [best.clone(), pruned, infeasible];
        assert!(ask(&p, &worse, &with, Direction::Minimize));
        // Against a better reference (trial 3), the same trial is even more clearly worse,
        // while against a worse one it is ahead.
        let better = complete(3, &[0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
        assert!(ask(
            &p,
            &worse,
            &[best.clone(), better],
            Direction::Minimize
        ));
        let far_worse = complete(4, &[9.0; 6]);
        assert!(!ask(
            &p,
            &worse,
            std::slice::from_ref(&far_worse),
            Direction::Minimize
        ));
        // Maximising, 9.0 everywhere is the best and the trial is worse on every instance.
        assert!(ask(&p, &worse, &[far_worse], Direction::Maximize));
        // Only instances both trials reported are paired: one shared instance is too few.
        let other_steps = stepped(9, TrialState::Running, &[(5, 7.0), (6, 9.0), (7, 9.0)]);
        assert!(!ask(
            &p,
            &other_steps,
            std::slice::from_ref(&best),
            Direction::Minimize
        ));
        // Two shared instances are enough to run the test, but with n = 2 the smallest
        // one-sided p is 1/4: no pruning at the default threshold.
        let two = curve(9, TrialState::Running, &[9.0, 9.0]);
        assert!(!ask(
            &p,
            &two,
            std::slice::from_ref(&best),
            Direction::Minimize
        ));
        // Non-finite values anywhere: never prune.
        let inf = curve(
            9,
            TrialState::Running,
            &[2.0, 3.0, 4.0, 5.0, 6.0, f64::INFINITY],
        );
        assert!(!ask(
            &p,
            &inf,
            std::slice::from_ref(&best),
            Direction::Minimize
        ));
        let mut nan_best = best.clone();
        nan_best.intermediate.insert(9, f64::NAN);
        assert!(!ask(&p, &worse, &[nan_best], Direction::Minimize));
        // No reference trial, or one without intermediate values.
        assert!(!ask(&p, &worse, &[], Direction::Minimize));
        let mut bare = best.clone();
        bare.intermediate.clear();
        assert!(!ask(&p, &worse, &[bare], Direction::Minimize));
    }

    #[test]
    fn a_whole_study_prunes_where_optuna_does() {
        // Optuna 5.0.0 (scripts/reference/pruners.py), `simulate`'s per-instance study with
        // WilcoxonPruner(p_threshold=0.1), pruned trials completing with their average: the
        // step each trial was pruned at (-1: none).
        const WILCOXON_MIN: [i64; 30] = [
            -1, 4, 3, 6, 3, -1, 3, 3, 7, 3, 7, 3, 3, 3, 3, 7, 5, 3, 3, 3, 3, 3, 3, 5, 3, 14, 3, 3,
            3, 3,
        ];
        const WILCOXON_MAX: [i64; 30] = [
            -1, 4, 3, 6, 3, -1, 3, 3, 7, 3, 7, 3, 3, 3, 3, 7, 5, 3, 3, 3, 3, 3, 3, 5, 3, 14, 3, 3,
            3, 3,
        ];
        let p = WilcoxonPruner::new(Default::default()).unwrap();
        let got = simulate(&p, Direction::Minimize, "study", sim_instance, true);
        assert_eq!(got, WILCOXON_MIN);
        let got = simulate(&p, Direction::Maximize, "study", sim_instance, true);
        assert_eq!(got, WILCOXON_MAX);
    }
}
