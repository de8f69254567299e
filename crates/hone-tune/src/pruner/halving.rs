//! Asynchronous successive halving (Optuna's `SuccessiveHalvingPruner`) and Hyperband
//! (`HyperbandPruner`).
//!
//! Rung `r` is reached at `min_resource · η^(s + r)` steps (`s`: the minimum early-stopping
//! rate). A trial reaching a rung is promoted past it only if its value there is in the top
//! `1/η` of the values every trial had on reaching that rung (itself included); otherwise it
//! is pruned. Nobody waits for a rung to fill up: early trials are compared with whoever got
//! there before them.
//!
//! Optuna stores each trial's rung values in trial attributes as it goes. hone re-derives them
//! from the intermediate values: a trial's rung-`r` value is its first reported value at or
//! past the rung's step, which is exactly what Optuna records when `should_prune` follows every
//! report. With an automatic resource, Optuna records nothing until the first trial completes
//! (it cannot place the rungs yet), so that trial and every trial that finished before it have
//! no rung values here either. Two cases cannot be told apart afterwards, since steps carry no
//! timestamps, and are resolved as follows: a PRUNED trial whose last report crossed several
//! rungs at once (sparse steps) is taken to have lost at the first of them, and a trial that was
//! running while the first trial completed (parallel workers) counts as having recorded its
//! earlier rungs too.
//!
//! Hyperband runs several such pruners ("brackets", `s = 0, 1, ...`) side by side and assigns
//! each trial to one by a hash of the study name and trial number, so the assignment is stable
//! across processes; a trial only competes with trials of its own bracket.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{PruneContext, Pruner, first_finished_complete, invalid};
use crate::error::Result;
use crate::trial::{Direction, Trial, TrialState};

/// A number of steps, or `"auto"`: inferred from the first trial to complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resource {
    /// Inferred from the first COMPLETE trial's number of steps.
    #[default]
    Auto,
    /// A fixed number of steps.
    Steps(u64),
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Resource::Auto => s.serialize_str("auto"),
            Resource::Steps(n) => s.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ResourceVisitor;
        impl Visitor<'_> for ResourceVisitor {
            type Value = Resource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number of steps or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Resource, E> {
                if v.eq_ignore_ascii_case("auto") {
                    Ok(Resource::Auto)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Resource, E> {
                Ok(Resource::Steps(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Resource, E> {
                u64::try_from(v)
                    .map(Resource::Steps)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(ResourceVisitor)
    }
}

/// Options of successive halving (Optuna's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuccessiveHalvingOptions {
    /// Steps to the first rung (before the early-stopping rate); `"auto"`: the first completed
    /// trial's last step / 100, at least 1.
    pub min_resource: Resource,
    /// η: about 1/η of the trials reaching a rung are promoted (>= 2).
    pub reduction_factor: u64,
    /// s: the first rung is at `min_resource · η^s` steps.
    pub min_early_stopping_rate: u64,
    /// Trials prune at a rung until more than this many have reached it (needs a fixed
    /// `min_resource`).
    pub bootstrap_count: u64,
}

impl Default for SuccessiveHalvingOptions {
    fn default() -> Self {
        SuccessiveHalvingOptions {
            min_resource: Resource::Auto,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

/// Options of Hyperband (Optuna's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HyperbandOptions {
    /// Steps to the first rung of the most aggressive bracket.
    pub min_resource: u64,
    /// The most steps a trial runs; `"auto"`: the first completed trial's last step + 1.
    pub max_resource: Resource,
    /// η, shared by every bracket (>= 2).
    pub reduction_factor: u64,
    /// As for successive halving (needs a fixed `max_resource`).
    pub bootstrap_count: u64,
}

impl Default for HyperbandOptions {
    fn default() -> Self {
        HyperbandOptions {
            min_resource: 1,
            max_resource: Resource::Auto,
            reduction_factor: 3,
            bootstrap_count: 0,
        }
    }
}

/// The rung schedule of one successive-halving pruner.
#[derive(Debug, Clone, Copy)]
struct Rungs {
    min_resource: u64,
    eta: u64,
    rate: u64,
    bootstrap_count: u64,
}

impl Rungs {
    /// Whether `step` has reached rung `rung`. Rungs past `u64::MAX` steps are never reached;
    /// since η >= 2 that bounds every loop over rungs to 64 iterations.
    fn reached(&self, rung: u64, step: u64) -> bool {
        u32::try_from(self.rate.saturating_add(rung))
            .ok()
            .and_then(|e| self.eta.checked_pow(e))
            .and_then(|p| p.checked_mul(self.min_resource))
            .is_some_and(|at| step >= at)
    }

    /// The rung a still-running trial starts its check from: every rung its earlier reports
    /// crossed was recorded then (NaN values record nothing, so the same rung is retried).
    fn current_rung(&self, trial: &Trial, step: u64) -> u64 {
        let mut rung = 0;
        for (&s, v) in trial.intermediate.range(..step) {
            while !v.is_nan() && self.reached(rung, s) {
                rung += 1;
            }
        }
        rung
    }

    /// Another trial's recorded value at each rung it reached, in rung order.
    fn recorded(&self, trial: &Trial) -> Vec<f64> {
        let mut out = Vec::new();
        let n = trial.intermediate.len();
        for (i, (&step, &v)) in trial.intermediate.iter().enumerate() {
            // A pruned trial stopped at its last report, so it lost at the first rung that
            // report reached (see the module notes).
            let lost_here = i + 1 == n && trial.state == TrialState::Pruned;
            while !v.is_nan() && self.reached(out.len() as u64, step) {
                out.push(v);
                if lost_here {
                    return out;
                }
            }
        }
        out
    }

    /// Optuna's asynchronous successive-halving decision for `trial` against `others`.
    fn should_prune<'a>(
        &self,
        trial: &Trial,
        others: impl Iterator<Item = &'a Trial>,
        direction: Direction,
    ) -> bool {
        let Some((step, value)) = trial.last_intermediate() else {
            return false;
        };
        let mut rung = self.current_rung(trial, step);
        if !self.reached(rung, step) {
            return false;
        }
        if value.is_nan() {
            return true;
        }
        let others: Vec<Vec<f64>> = others.map(|t| self.recorded(t)).collect();
        while self.reached(rung, step) {
            let mut competing: Vec<f64> = others
                .iter()
                .filter_map(|r| usize::try_from(rung).ok().and_then(|i| r.get(i)).copied())
                .collect();
            competing.push(value);
            if competing.len() as u64 <= self.bootstrap_count
                || !promotable(value, competing, self.eta, direction)
            {
                return true;
            }
            rung += 1;
        }
        false
    }
}

/// Whether `value` is in the top `1/η` of `competing` (which includes it); at least the best
/// one is always promotable.
fn promotable(value: f64, mut competing: Vec<f64>, eta: u64, direction: Direction) -> bool {
    let k = usize::try_from(competing.len() as u64 / eta)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    competing.sort_by(f64::total_cmp);
    match direction {
        Direction::Minimize => value <= competing[k.min(competing.len() - 1)],
        Direction::Maximize => value >= competing[competing.len().saturating_sub(k + 1)],
    }
}

fn check_eta(name: &str, eta: u64) -> Result<()> {
    if eta < 2 {
        return Err(invalid(
            name,
            format!("reduction_factor must be at least 2, got {eta}"),
        ));
    }
    Ok(())
}

/// Whether trial `t` made all its pruning calls before `reference`, the trial whose completion
/// fixed an automatic resource, completed: Optuna recorded no rung values for it.
fn before_resource(reference: &Trial, t: &Trial) -> bool {
    t.number == reference.number
        || (t.state.is_finished()
            && matches!((t.finished_ms, reference.finished_ms), (Some(a), Some(b)) if a <= b))
}

/// Asynchronous successive halving.
#[derive(Debug, Clone)]
pub struct SuccessiveHalvingPruner {
    options: SuccessiveHalvingOptions,
}

impl SuccessiveHalvingPruner {
    /// A successive-halving pruner; refuses `min_resource` 0, `reduction_factor` < 2 and a
    /// bootstrap count with an automatic `min_resource`.
    pub fn new(options: SuccessiveHalvingOptions) -> Result<Self> {
        const NAME: &str = "successive_halving";
        if options.min_resource == Resource::Steps(0) {
            return Err(invalid(NAME, "min_resource must be at least 1 or \"auto\""));
        }
        check_eta(NAME, options.reduction_factor)?;
        if options.bootstrap_count > 0 && options.min_resource == Resource::Auto {
            return Err(invalid(
                NAME,
                "bootstrap_count needs a fixed min_resource, not \"auto\"",
            ));
        }
        Ok(SuccessiveHalvingPruner { options })
    }
}

impl Pruner for SuccessiveHalvingPruner {
    fn name(&self) -> &'static str {
        "successive_halving"
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let o = &self.options;
        let (min_resource, reference) = match o.min_resource {
            Resource::Steps(n) => (n, None),
            Resource::Auto => {
                let Some(first) = first_finished_complete(ctx.trials) else {
                    return false;
                };
                let last = first.last_intermediate().map_or(0, |(s, _)| s);
                ((last / 100).max(1), Some(first))
            }
        };
        let rungs = Rungs {
            min_resource,
            eta: o.reduction_factor,
            rate: o.min_early_stopping_rate,
            bootstrap_count: o.bootstrap_count,
        };
        let others = ctx
            .trials
            .iter()
            .filter(|t| reference.is_none_or(|r| !before_resource(r, t)));
        rungs.should_prune(ctx.trial, others, ctx.direction)
    }
}

/// Hyperband over asynchronous successive-halving brackets.
#[derive(Debug, Clone)]
pub struct HyperbandPruner {
    options: HyperbandOptions,
}

/// Each bracket's share of the trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Brackets {
    /// Trial-allocation budget of bracket `s` (more aggressive brackets get more trials).
    pub budgets: Vec<u128>,
}

impl Brackets {
    /// The bracket of trial `number` in study `study_name`: CRC-32 of `"{name}_{number}"`
    /// modulo the total budget, mapped onto consecutive budget ranges (Optuna's assignment, so
    /// a study run by Optuna and by hone puts the same trials in the same brackets).
    pub fn bracket_of(&self, study_name: &str, number: u64) -> usize {
        let total: u128 = self.budgets.iter().sum();
        if total == 0 {
            return 0;
        }
        let mut n = u128::from(crc32(format!("{study_name}_{number}").as_bytes())) % total;
        for (id, &b) in self.budgets.iter().enumerate() {
            if n < b {
                return id;
            }
            n -= b;
        }
        self.budgets.len().saturating_sub(1)
    }
}

impl HyperbandPruner {
    /// A Hyperband pruner; refuses `min_resource` 0, `reduction_factor` < 2, a fixed
    /// `max_resource` below `min_resource` (Optuna accepts it and silently never prunes) and a
    /// bootstrap count with an automatic `max_resource`.
    pub fn new(options: HyperbandOptions) -> Result<Self> {
        const NAME: &str = "hyperband";
        if options.min_resource == 0 {
            return Err(invalid(NAME, "min_resource must be at least 1"));
        }
        check_eta(NAME, options.reduction_factor)?;
        match options.max_resource {
            Resource::Steps(max) if max < options.min_resource => {
                return Err(invalid(
                    NAME,
                    format!(
                        "max_resource ({max}) is below min_resource ({})",
                        options.min_resource
                    ),
                ));
            }
            Resource::Auto if options.bootstrap_count > 0 => {
                return Err(invalid(
                    NAME,
                    "bootstrap_count needs a fixed max_resource, not \"auto\"",
                ));
            }
            _ => {}
        }
        Ok(HyperbandPruner { options })
    }

    /// The brackets, once `max_resource` is known (`None` before the first trial completes
    /// when it is automatic).
    pub fn brackets(&self, trials: &[Trial]) -> Option<Brackets> {
        let o = &self.options;
        let max_resource = match o.max_resource {
            Resource::Steps(n) => n,
            Resource::Auto => first_finished_complete(trials)?
                .last_intermediate()?
                .0
                .checked_add(1)?,
        };
        // floor(log_η(max/min)) + 1 brackets, with the same floating-point expression as
        // Optuna (`math.log(x, base)` is ln x / ln base), so exact powers that round just
        // below an integer give the same count.
        let ratio = max_resource as f64 / o.min_resource as f64;
        let n = (ratio.ln() / (o.reduction_factor as f64).ln()).floor() + 1.0;
        if n.is_nan() || n < 1.0 {
            return None;
        }
        let n = n as u32;
        let eta = u128::from(o.reduction_factor);
        let budgets = (0..n)
            .map(|id| {
                let s = n - 1 - id;
                // ceil(n·η^s / (s + 1)); η^s <= max/min < 2^64, so this fits in u128.
                let num = u128::from(n).saturating_mul(eta.saturating_pow(s));
                num.div_ceil(u128::from(s) + 1)
            })
            .collect();
        Some(Brackets { budgets })
    }
}

impl Pruner for HyperbandPruner {
    fn name(&self) -> &'static str {
        "hyperband"
    }

    fn should_prune(&self, ctx: &PruneContext<'_>) -> bool {
        let Some(brackets) = self.brackets(ctx.trials) else {
            return false;
        };
        let id = brackets.bracket_of(ctx.study_name, ctx.trial.number);
        let rungs = Rungs {
            min_resource: self.options.min_resource,
            eta: self.options.reduction_factor,
            rate: id as u64,
            bootstrap_count: self.options.bootstrap_count,
        };
        let reference = match self.options.max_resource {
            Resource::Steps(_) => None,
            Resource::Auto => first_finished_complete(ctx.trials),
        };
        let same_bracket = ctx.trials.iter().filter(|t| {
            brackets.bracket_of(ctx.study_name, t.number) == id
                && reference.is_none_or(|r| !before_resource(r, t))
        });
        rungs.should_prune(ctx.trial, same_bracket, ctx.direction)
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and Python's `binascii.crc32`). Bitwise: the inputs
/// are a study name and a number, so a table would not pay for itself.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn sh(min_resource: u64, eta: u64) -> SuccessiveHalvingPruner {
        SuccessiveHalvingPruner::new(SuccessiveHalvingOptions {
            min_resource: Resource::Steps(min_resource),
            reduction_factor: eta,
            ..Default::default()
        })
        .unwrap()
    }

    /// Trials `first..first + values.len()` that reported steps 0..=`last`, with `values[k]`
    /// from step 1 on (step 0 is a poor 9.0 so that only rung values matter).
    fn at_rung0(first: u64, values: &[f64], last: u64, state: TrialState) -> Vec<Trial> {
        values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let points: Vec<(u64, f64)> = (0..=last)
                    .map(|s| (s, if s == 0 { 9.0 } else { *v }))
                    .collect();
                stepped(first + k as u64, state, &points)
            })
            .collect()
    }

    #[test]
    fn promotes_only_the_top_fraction_at_a_rung() {
        // η = 4, rungs at steps 1, 4, 16. Seven trials reached rung 0 with 0.1 ... 0.7: with
        // the current trial there are 8 competitors, and the top 8/4 = 2 are promoted.
        let others = at_rung0(
            0,
            &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
            2,
            TrialState::Complete,
        );
        let p = sh(1, 4);
        let current = |v: f64| stepped(9, TrialState::Running, &[(0, 9.0), (1, v)]);
        assert!(!ask(&p, &current(0.15), &others, Direction::Minimize));
        assert!(
            !ask(&p, &current(0.2), &others, Direction::Minimize),
            "ties promote"
        );
        assert!(ask(&p, &current(0.25), &others, Direction::Minimize));
        let neg = negated(&others);
        assert!(!ask(&p, &negate(&current(0.15)), &neg, Direction::Maximize));
        assert!(ask(&p, &negate(&current(0.25)), &neg, Direction::Maximize));
        // Maximising the raw values: the top two are 0.7 and 0.6.
        assert!(!ask(&p, &current(0.65), &others, Direction::Maximize));
        assert!(ask(&p, &current(0.55), &others, Direction::Maximize));
        // Fewer than η competitors: only the best is promoted.
        assert!(ask(&p, &current(0.15), &others[..2], Direction::Minimize));
        assert!(!ask(&p, &current(0.05), &others[..2], Direction::Minimize));
        // Step 0 is not a rung, and between rungs nothing is checked.
        let early = stepped(9, TrialState::Running, &[(0, 99.0)]);
        assert!(!ask(&p, &early, &others, Direction::Minimize));
        let between = stepped(9, TrialState::Running, &[(0, 9.0), (1, 0.1), (2, 99.0)]);
        assert!(!ask(&p, &between, &others, Direction::Minimize));
    }

    #[test]
    fn rung_values_are_the_values_at_the_rung_steps() {
        let rungs = Rungs {
            min_resource: 1,
            eta: 4,
            rate: 0,
            bootstrap_count: 0,
        };
        let full: Vec<(u64, f64)> = (0..=20).map(|s| (s, s as f64)).collect();
        let t = stepped(0, TrialState::Complete, &full);
        assert_eq!(rungs.recorded(&t), [1.0, 4.0, 16.0]);
        // Sparse steps: a report past several rung steps counts for each of them...
        let sparse = [(0, 0.0), (5, 5.0), (20, 20.0)];
        let t = stepped(0, TrialState::Complete, &sparse);
        assert_eq!(rungs.recorded(&t), [5.0, 5.0, 20.0]);
        // ...except that a pruned trial lost at the first rung of its last report.
        let t = stepped(0, TrialState::Pruned, &sparse);
        assert_eq!(rungs.recorded(&t), [5.0, 5.0, 20.0]);
        let t = stepped(0, TrialState::Pruned, &[(0, 0.0), (20, 20.0)]);
        assert_eq!(rungs.recorded(&t), [20.0]);
        let t = stepped(0, TrialState::Pruned, &[(0, 0.0), (1, 1.0), (2, 2.0)]);
        assert_eq!(rungs.recorded(&t), [1.0]);
        // A NaN at a rung records nothing; the next report takes the rung.
        let t = stepped(0, TrialState::Running, &[(1, f64::NAN), (2, 2.0), (4, 4.0)]);
        assert_eq!(rungs.recorded(&t), [2.0, 4.0]);
        // The running trial resumes at the first rung its earlier reports did not reach.
        let t = stepped(0, TrialState::Running, &[(0, 0.0), (5, 5.0), (6, 6.0)]);
        assert_eq!(rungs.current_rung(&t, 6), 2);
        // The competitors' rung-1 value is the one at step 4, not their latest or best.
        let mut others = at_rung0(0, &[0.1, 0.2, 0.3], 3, TrialState::Complete);
        for (k, t) in others.iter_mut().enumerate() {
            t.intermediate.insert(4, 0.5 + k as f64);
            t.intermediate.insert(5, -10.0);
        }
        let p = sh(1, 4);
        let current = stepped(9, TrialState::Running, &[(1, 0.0), (4, 0.4)]);
        assert!(!ask(&p, &current, &others, Direction::Minimize));
        let current = stepped(9, TrialState::Running, &[(1, 0.0), (4, 0.6)]);
        assert!(ask(&p, &current, &others, Direction::Minimize));
        // A NaN at a rung prunes.
        let current = stepped(9, TrialState::Running, &[(1, f64::NAN)]);
        assert!(ask(&p, &current, &others, Direction::Minimize));
    }

    #[test]
    fn automatic_min_resource_comes_from_the_first_completed_trial() {
        let p = SuccessiveHalvingPruner::new(Default::default()).unwrap();
        // No completed trial: the rungs are unknown, nothing is pruned.
        let running = at_rung0(0, &[0.1, 0.2], 1000, TrialState::Running);
        let current = stepped(9, TrialState::Running, &[(0, 9.0), (1, 99.0)]);
        assert!(!ask(&p, &current, &running, Direction::Minimize));
        // The first trial to finish reported 800 steps: min_resource = 8, so step 1 is no rung
        // but step 8 is. It and earlier finishers recorded nothing (as in Optuna): trial 1
        // finished later and is the only competitor.
        let mut first = stepped(0, TrialState::Complete, &[(0, 0.0), (8, 0.0), (800, 0.0)]);
        first.finished_ms = Some(10);
        let mut later = stepped(1, TrialState::Complete, &[(0, 0.0), (8, 0.5), (9000, 0.5)]);
        later.finished_ms = Some(20);
        let trials = [first, later];
        assert!(!ask(&p, &current, &trials, Direction::Minimize));
        let at8 = |v| stepped(9, TrialState::Running, &[(0, 9.0), (8, v)]);
        assert!(ask(&p, &at8(0.6), &trials, Direction::Minimize));
        assert!(!ask(&p, &at8(0.4), &trials, Direction::Minimize));
    }

    #[test]
    fn bracket_assignment_matches_optuna() {
        // Optuna 5.0.0 (scripts/reference/pruners.py):
        // HyperbandPruner(min_resource=1, max_resource=m, reduction_factor=3) in
        // a study named "hb-study": _n_brackets, _trial_allocation_budgets and
        // [_get_bracket_id(study, trial) for trial numbers 0..29]. m = 243 gives 5 brackets
        // (not 6) because math.log(243, 3) = 4.999999999999999.
        let cases: [(u64, &[u128], [usize; 30]); 3] = [
            (
                20,
                &[9, 5, 3],
                [
                    1, 0, 0, 2, 0, 2, 0, 0, 2, 2, 0, 0, 1, 2, 1, 2, 2, 1, 2, 1, 2, 0, 0, 0, 2, 0,
                    1, 0, 0, 1,
                ],
            ),
            (
                243,
                &[81, 34, 15, 8, 5],
                [
                    1, 0, 0, 0, 0, 0, 1, 0, 1, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 4, 3,
                    1, 0, 1, 1,
                ],
            ),
            (
                81,
                &[81, 34, 15, 8, 5],
                [
                    1, 0, 0, 0, 0, 0, 1, 0, 1, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 4, 3,
                    1, 0, 1, 1,
                ],
            ),
        ];
        for (max, budgets, ids) in cases {
            let hb = HyperbandPruner::new(HyperbandOptions {
                max_resource: Resource::Steps(max),
                ..Default::default()
            })
            .unwrap();
            let b = hb.brackets(&[]).unwrap();
            assert_eq!(b.budgets, budgets, "max_resource {max}");
            let got: Vec<usize> = (0..30).map(|n| b.bracket_of("hb-study", n)).collect();
            assert_eq!(got, ids, "max_resource {max}");
        }
    }

    #[test]
    fn brackets_are_stable_once_the_first_trial_completes() {
        let hb = HyperbandPruner::new(Default::default()).unwrap();
        assert_eq!(hb.brackets(&[]), None);
        let mut first = stepped(0, TrialState::Complete, &[(0, 0.0), (19, 0.0)]);
        first.finished_ms = Some(1);
        let one = hb.brackets(std::slice::from_ref(&first)).unwrap();
        assert_eq!(one.budgets, [9, 5, 3]);
        // A longer trial finishing later does not move max_resource (nor any assignment).
        let mut long = stepped(1, TrialState::Complete, &[(0, 0.0), (500, 0.0)]);
        long.finished_ms = Some(2);
        assert_eq!(hb.brackets(&[first, long]).unwrap(), one);
        // The assignment depends on the study name and the number only.
        let a: Vec<usize> = (0..200).map(|n| one.bracket_of("x", n)).collect();
        let b: Vec<usize> = (0..200).map(|n| one.bracket_of("x", n)).collect();
        let c: Vec<usize> = (0..200).map(|n| one.bracket_of("y", n)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Every bracket gets trials, the most aggressive one the most.
        let count = |id| a.iter().filter(|&&x| x == id).count();
        assert!(count(0) > count(1) && count(1) > count(2) && count(2) > 0);
    }

    #[test]
    fn hyperband_compares_only_within_a_bracket() {
        // max_resource 20, η = 3: in "hb-study" trials 1, 2, 4, 6 and 7 are in bracket 0
        // (rungs at 1, 3, 9), trial 0 in bracket 1 (rungs at 3, 9) and 3 and 5 in bracket 2.
        let hb = HyperbandPruner::new(HyperbandOptions {
            max_resource: Resource::Steps(20),
            ..Default::default()
        })
        .unwrap();
        let same = |n: u64, v: f64| stepped(n, TrialState::Complete, &[(0, 9.0), (1, v), (2, v)]);
        // Much better trials in other brackets, worse ones in bracket 0.
        let mut others = vec![same(0, 0.1), same(3, 0.2), same(5, 0.3)];
        others.extend([same(1, 0.6), same(2, 0.7), same(4, 0.8)]);
        let current = stepped(6, TrialState::Running, &[(0, 9.0), (1, 0.5)]);
        let ask_hb = |t: &Trial, o: &[Trial], d| {
            hb.should_prune(&PruneContext {
                study_name: "hb-study",
                trial: t,
                trials: o,
                direction: d,
            })
        };
        assert!(!ask_hb(&current, &others, Direction::Minimize));
        assert!(!ask_hb(
            &negate(&current),
            &negated(&others),
            Direction::Maximize
        ));
        // A better trial in its own bracket does count.
        others.push(same(7, 0.1));
        assert!(ask_hb(&current, &others, Direction::Minimize));
        assert!(ask_hb(
            &negate(&current),
            &negated(&others),
            Direction::Maximize
        ));
        // Trial 0's bracket has its first rung at step 3: a poor value at step 1 is not judged.
        let bracket1 = stepped(0, TrialState::Running, &[(0, 9.0), (1, 99.0)]);
        assert!(!ask_hb(&bracket1, &others[1..], Direction::Minimize));
    }

    #[test]
    fn crc32_matches_zlib() {
        // Python: binascii.crc32(b"...") (scripts/reference/pruners.py)
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"study_0"), 0x15F3771C);
        assert_eq!(crc32(b"my-study_12345"), 0xAE6BF1DF);
    }

    #[test]
    fn whole_studies_prune_where_optuna_does() {
        // Optuna 5.0.0 (scripts/reference/pruners.py), `simulate`'s study (see super::testing)
        // with SuccessiveHalvingPruner(),
        // SuccessiveHalvingPruner(min_resource=2, reduction_factor=3,
        // min_early_stopping_rate=1, bootstrap_count=1) and HyperbandPruner() in a study named
        // "hb-study": the step each trial was pruned at (-1: none).
        const SH_AUTO_MIN: [i64; 30] = [
            -1, -1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            4, 1,
        ];
        const SH_AUTO_MAX: [i64; 30] = [
            -1, -1, 1, -1, 1, -1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
            4, 1,
        ];
        const SH_FIXED_MIN: [i64; 30] = [
            6, 6, 6, 6, 6, 18, 6, 6, 6, 6, -1, 6, 6, 6, 6, 18, 6, 6, 18, 6, 18, 6, 6, 6, 6, 18, 6,
            6, 6, 6,
        ];
        const SH_FIXED_MAX: [i64; 30] = [
            6, 6, 6, 6, 6, 18, 6, 6, 6, 6, -1, 6, 6, 6, 6, 18, 6, 6, 18, 6, 18, 6, 6, 6, 6, 18, 6,
            6, 6, 6,
        ];
        const HYPERBAND_MIN: [i64; 30] = [
            -1, -1, 1, -1, 1, -1, 1, 1, 9, 9, -1, 1, -1, 9, -1, -1, 9, 3, 9, 3, -1, 1, 1, 1, 9, 3,
            -1, 1, 3, 3,
        ];
        const HYPERBAND_MAX: [i64; 30] = [
            -1, -1, 1, -1, 1, -1, 1, 1, 9, 9, -1, 1, -1, 9, -1, -1, 9, 3, 9, 3, -1, 1, 1, 1, 9, 3,
            -1, 1, 3, 3,
        ];
        let fixed = SuccessiveHalvingPruner::new(SuccessiveHalvingOptions {
            min_resource: Resource::Steps(2),
            reduction_factor: 3,
            min_early_stopping_rate: 1,
            bootstrap_count: 1,
        })
        .unwrap();
        let auto = SuccessiveHalvingPruner::new(Default::default()).unwrap();
        let hb = HyperbandPruner::new(Default::default()).unwrap();
        type Case<'a> = (&'a dyn Pruner, &'a str, [i64; 30], [i64; 30]);
        let cases: [Case; 3] = [
            (&auto, "study", SH_AUTO_MIN, SH_AUTO_MAX),
            (&fixed, "study", SH_FIXED_MIN, SH_FIXED_MAX),
            (&hb, "hb-study", HYPERBAND_MIN, HYPERBAND_MAX),
        ];
        for (pruner, name, min, max) in cases {
            let got = simulate(pruner, Direction::Minimize, name, sim_curve, false);
            assert_eq!(got, min, "{}", pruner.name());
            let got = simulate(pruner, Direction::Maximize, name, sim_curve, false);
            assert_eq!(got, max, "{}", pruner.name());
        }
    }
}
