//! Adaptive search spaces: numeric ranges that move with the evidence (`[search] adapt`).
//!
//! - **Widening.** When at least [`MIN_AT_BOUND`] of the best [`TOP`] COMPLETE trials lie
//!   within [`NEAR_BOUND`] (5 %) of a range bound, that side moves out: a log range's bound is
//!   halved or doubled (a step of ln 2 in log space), a linear range's moves by half its
//!   width (whole steps for stepped and int ranges). A side never passes its `hard_low` /
//!   `hard_high`, nor a value the caller's check refuses (a LightGBM limit, say), nor the
//!   type's own limits (`low > 0` for log floats, `>= 1` for log ints). After a side moved, it
//!   waits for [`COOLDOWN`] more COMPLETE trials, so the next decision sees trials that could
//!   sample the new region.
//! - **Narrowing** (optional, once): after `narrow_after` COMPLETE trials every numeric range
//!   shrinks to the span of the best `max(10, 10 %)` trials, padded by a quarter of that span
//!   (at least 5 % of the old width) on each side, when that cuts the width by a quarter or
//!   more.
//! - **Revisions.** Every change is a [`SpaceRevision`] stored with the study (what changed,
//!   why, after which trial, how many trials had finished). The space a sampler sees is the
//!   initial space with every revision applied, in order ([`current_space`]). Widening only
//!   adds values, so every earlier trial stays inside the space; after a narrowing, trials
//!   outside it stay in the study and its results but are left out of what the samplers model.
//!
//! Categorical and fixed parameters never change; neither does a parameter's type, step or
//! log scale, so a trial's stored (internal) values mean the same in every revision.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pareto;
use crate::space::{Distribution, MAX_EXACT_INT, ParamDef, Params, SearchSpace};
use crate::trial::{Direction, Trial, TrialState};

/// How many of the best trials the widening rule looks at.
pub const TOP: usize = 10;
/// How close to a bound counts as "at" it, as a fraction of the range's (log-)width.
pub const NEAR_BOUND: f64 = 0.05;
/// How many of the [`TOP`] trials must sit at a bound to widen it.
pub const MIN_AT_BOUND: usize = 3;
/// COMPLETE trials a side waits after it moved before it may move again.
pub const COOLDOWN: usize = 10;

/// What an adaptive study may do (`[search] adapt = true` or `{ narrow_after = 100 }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptSpec {
    /// Widen a range whose bound the best trials sit at.
    pub widen: bool,
    /// Narrow every range around the best trials once this many trials are COMPLETE.
    pub narrow_after: Option<usize>,
}

impl Default for AdaptSpec {
    fn default() -> Self {
        AdaptSpec {
            widen: true,
            narrow_after: None,
        }
    }
}

/// Which side of a range a change moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The lower bound moved down.
    Low,
    /// The upper bound moved up.
    High,
    /// Both bounds moved out.
    Both,
    /// Both bounds moved in (narrowing).
    Narrow,
}

/// One parameter's range change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeChange {
    /// The parameter.
    pub param: String,
    /// The side that moved.
    pub side: Side,
    /// The range before.
    pub from: Distribution,
    /// The range after.
    pub to: Distribution,
    /// Why, in words (the evidence).
    pub reason: String,
}

/// A change of the search space, stored with the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceRevision {
    /// 1 for the first revision, then 2, 3, ... (0 is the initial space).
    pub number: u32,
    /// The highest-numbered COMPLETE trial the decision saw.
    pub after_trial: u64,
    /// COMPLETE trials when it was made.
    pub finished: usize,
    /// The changed ranges.
    pub changes: Vec<RangeChange>,
}

/// `[low, high]` of a numeric range, with its scale.
fn range_text(d: &Distribution) -> String {
    let (low, high) = d.bounds();
    let fmt = |v: f64| {
        if matches!(d, Distribution::Int { .. }) {
            format!("{}", v as i64)
        } else {
            format!("{}", crate::space::ParamValue::Float(v))
        }
    };
    format!(
        "[{}, {}]{}",
        fmt(low),
        fmt(high),
        if d.is_log() { " (log)" } else { "" }
    )
}

impl fmt::Display for RangeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {}: {}",
            self.param,
            range_text(&self.from),
            range_text(&self.to),
            self.reason
        )
    }
}

impl fmt::Display for SpaceRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "space revision {} after trial {} ({} complete): ",
            self.number, self.after_trial, self.finished
        )?;
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The initial space with `revisions` applied in order.
pub fn current_space(initial: &SearchSpace, revisions: &[SpaceRevision]) -> SearchSpace {
    let mut space = initial.clone();
    for rev in revisions {
        for c in &rev.changes {
            if let Some(p) = space.params.iter_mut().find(|p| p.name == c.param) {
                p.distribution = c.to.clone();
            }
        }
    }
    space
}

/// True when some revision shrank a range (a narrowing), so trials may lie outside the space.
pub fn shrunk(revisions: &[SpaceRevision]) -> bool {
    revisions
        .iter()
        .any(|r| r.changes.iter().any(|c| c.side == Side::Narrow))
}

/// True when every numeric value of `params` lies inside its range in `space` (a trial of an
/// earlier, wider revision may not, after a narrowing).
pub fn inside(space: &SearchSpace, params: &Params) -> bool {
    space.params.iter().all(|p| match params.get(&p.name) {
        Some(&v) if p.distribution.is_numeric() => {
            let (low, high) = p.distribution.bounds();
            v >= low && v <= high
        }
        _ => true,
    })
}

/// A value check for a proposed bound: `false` refuses it (the trainer cannot take that
/// value), and the side then moves less or not at all.
pub type BoundCheck<'a> = &'a dyn Fn(&ParamDef, f64) -> bool;

/// COMPLETE trials with values, best first: by feasibility, then (one objective) loss or
/// (several) non-dominated rank and then the first objective's loss.
fn ranked<'t>(trials: &'t [Trial], directions: &[Direction]) -> Vec<&'t Trial> {
    let done: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter(|t| {
            t.values
                .as_ref()
                .is_some_and(|v| v.len() == directions.len() && v.iter().all(|x| !x.is_nan()))
        })
        .collect();
    let losses: Vec<Vec<f64>> = done
        .iter()
        .map(|t| {
            t.values
                .iter()
                .flatten()
                .zip(directions)
                .map(|(x, d)| d.loss(*x))
                .collect()
        })
        .collect();
    let ranks = if directions.len() > 1 {
        pareto::nondominated_ranks(&losses)
    } else {
        vec![0; done.len()]
    };
    let mut order: Vec<usize> = (0..done.len()).collect();
    order.sort_by(|&a, &b| {
        (done[a].violation() > 0.0)
            .cmp(&(done[b].violation() > 0.0))
            .then(ranks[a].cmp(&ranks[b]))
            .then(losses[a][0].total_cmp(&losses[b][0]))
            .then(done[a].number.cmp(&done[b].number))
    });
    order.into_iter().map(|i| done[i]).collect()
}

/// The next revision the evidence calls for, if any: a narrowing when it is due, otherwise
/// every side the best trials sit at. `number` and the evidence fields are filled in.
pub fn propose(
    space: &SearchSpace,
    spec: &AdaptSpec,
    trials: &[Trial],
    directions: &[Direction],
    revisions: &[SpaceRevision],
    check: BoundCheck<'_>,
) -> Option<SpaceRevision> {
    let best = ranked(trials, directions);
    let finished = best.len();
    let after_trial = best.iter().map(|t| t.number).max()?;
    let narrowed = revisions
        .iter()
        .any(|r| r.changes.iter().any(|c| c.side == Side::Narrow));
    let mut changes = Vec::new();
    if let Some(after) = spec.narrow_after
        && finished >= after
        && !narrowed
    {
        let k = TOP.max(finished.div_ceil(10));
        changes = space
            .params
            .iter()
            .filter_map(|p| narrow(p, &best[..k.min(finished)], finished))
            .collect();
    }
    if changes.is_empty() && spec.widen && finished >= TOP {
        let top = &best[..TOP];
        for p in &space.params {
            for side in [Side::Low, Side::High] {
                let last = revisions
                    .iter()
                    .rev()
                    .find(|r| {
                        r.changes
                            .iter()
                            .any(|c| c.param == p.name && matches!(c.side, s if s == side || s == Side::Both || s == Side::Narrow))
                    })
                    .map(|r| r.finished);
                if last.is_some_and(|f| finished < f + COOLDOWN) {
                    continue;
                }
                if let Some(c) = widen(p, side, top, check) {
                    changes.push(c);
                }
            }
        }
        // Both sides of one parameter: one change holding both moves.
        let mut merged: Vec<RangeChange> = Vec::new();
        for c in changes {
            match merged.iter_mut().find(|m| m.param == c.param) {
                Some(m) => {
                    let (low, _) = m.to.bounds();
                    let (_, high) = c.to.bounds();
                    m.to = with_bounds(&m.to, low, high);
                    m.reason = format!("{}; {}", m.reason, c.reason);
                    m.side = Side::Both;
                }
                None => merged.push(c),
            }
        }
        changes = merged;
    }
    if changes.is_empty() {
        return None;
    }
    let revised = current_space(
        space,
        &[SpaceRevision {
            number: 0,
            after_trial,
            finished,
            changes: changes.clone(),
        }],
    );
    // Never store a space the samplers would refuse.
    revised.validate().ok()?;
    Some(SpaceRevision {
        number: revisions.last().map_or(1, |r| r.number + 1),
        after_trial,
        finished,
        changes,
    })
}

/// `d` with new bounds (same type, scale and step).
fn with_bounds(d: &Distribution, low: f64, high: f64) -> Distribution {
    match d {
        Distribution::Float { log, step, .. } => Distribution::Float {
            low,
            high,
            log: *log,
            step: *step,
        },
        Distribution::Int { log, step, .. } => Distribution::Int {
            low: low.round() as i64,
            high: high.round() as i64,
            log: *log,
            step: *step,
        },
        other => other.clone(),
    }
}

/// Position of `v` in `d`'s range in the sampler's scale: 0 at low, 1 at high.
fn position(d: &Distribution, v: f64) -> Option<f64> {
    let (low, high) = d.bounds();
    let (lo, hi) = (d.to_model(low), d.to_model(high));
    (hi > lo).then(|| (d.to_model(v) - lo) / (hi - lo))
}

/// Moves one side of `p` out if enough of `top` sit at it.
fn widen(p: &ParamDef, side: Side, top: &[&Trial], check: BoundCheck<'_>) -> Option<RangeChange> {
    let d = &p.distribution;
    if !d.is_numeric() {
        return None;
    }
    let at: usize = top
        .iter()
        .filter_map(|t| t.params.get(&p.name))
        .filter_map(|&v| position(d, v))
        .filter(|&u| match side {
            Side::Low => u <= NEAR_BOUND,
            _ => u >= 1.0 - NEAR_BOUND,
        })
        .count();
    if at < MIN_AT_BOUND {
        return None;
    }
    let (low, high) = d.bounds();
    let old = if side == Side::Low { low } else { high };
    let hard = if side == Side::Low {
        p.hard_low
    } else {
        p.hard_high
    };
    let sign = if side == Side::Low { -1.0 } else { 1.0 };
    let step = d.step();
    // The unclipped target.
    let mut target = if d.is_log() {
        if side == Side::Low {
            old / 2.0
        } else {
            old * 2.0
        }
    } else {
        let mut ext = (high - low) / 2.0;
        if let Some(s) = step {
            ext = ((ext / s).ceil() * s).max(s);
        }
        old + sign * ext
    };
    // The type's own limits.
    if let Distribution::Int { log, .. } = d {
        target = if side == Side::Low {
            target.floor()
        } else {
            target.ceil()
        };
        target = target.clamp(-(MAX_EXACT_INT as f64), MAX_EXACT_INT as f64);
        if *log {
            target = target.max(1.0);
        }
    }
    let mut limit_note = None;
    if let Some(h) = hard
        && sign * (target - h) > 0.0
    {
        target = h;
        limit_note = Some(format!(
            "stopped at hard_{} {}",
            if side == Side::Low { "low" } else { "high" },
            h
        ));
    }
    // A stepped range keeps its grid: the moved bound lands on it (inside the hard limit).
    let on_grid = |t: f64| match step {
        Some(s) => old + sign * ((t - old).abs() / s + 1e-9).floor() * s,
        None => t,
    };
    target = on_grid(target);
    // The caller's check: halve the move until it accepts it (three tries).
    let mut tries = 0;
    while !check(p, target) {
        tries += 1;
        if tries > 3 {
            return None;
        }
        target = on_grid(old + (target - old) / 2.0);
        if let Distribution::Int { .. } = d {
            target = target.round();
        }
        limit_note = Some("moved less: the trainer refuses values further out".into());
    }
    if (target - old).abs() <= 0.0 || !target.is_finite() {
        return None;
    }
    let to = if side == Side::Low {
        with_bounds(d, target, high)
    } else {
        with_bounds(d, low, target)
    };
    let mut reason = format!(
        "{at} of the top {} trials within {} % of the {} bound",
        top.len(),
        NEAR_BOUND * 100.0,
        if side == Side::Low { "lower" } else { "upper" }
    );
    if let Some(n) = limit_note {
        reason = format!("{reason} ({n})");
    }
    Some(RangeChange {
        param: p.name.clone(),
        side,
        from: d.clone(),
        to,
        reason,
    })
}

/// Shrinks `p` around the values of the best trials.
fn narrow(p: &ParamDef, best: &[&Trial], finished: usize) -> Option<RangeChange> {
    let d = &p.distribution;
    if !d.is_numeric() {
        return None;
    }
    let values: Vec<f64> = best
        .iter()
        .filter_map(|t| t.params.get(&p.name))
        .map(|&v| d.to_model(v))
        .collect();
    if values.len() < 2 {
        return None;
    }
    let (low, high) = d.bounds();
    let (lo, hi) = (d.to_model(low), d.to_model(high));
    let width = hi - lo;
    if width <= 0.0 {
        return None;
    }
    let a = values.iter().copied().fold(f64::INFINITY, f64::min);
    let b = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = (0.25 * (b - a)).max(0.05 * width);
    let (na, nb) = ((a - pad).max(lo), (b + pad).min(hi));
    if nb - na > 0.75 * width {
        return None;
    }
    let back = |x: f64| if d.is_log() { x.exp() } else { x };
    let (mut new_low, mut new_high) = (back(na).max(low), back(nb).min(high));
    if let Some(s) = d.step() {
        // Outward onto the grid, so the top trials stay inside.
        new_low = low + ((new_low - low) / s + 1e-9).floor() * s;
        new_high = (low + ((new_high - low) / s - 1e-9).ceil() * s).min(high);
    }
    if new_high < new_low {
        return None;
    }
    let raw = |x: f64| if d.is_log() { x.exp() } else { x };
    Some(RangeChange {
        param: p.name.clone(),
        side: Side::Narrow,
        from: d.clone(),
        to: with_bounds(d, new_low, new_high),
        reason: format!(
            "after {finished} complete trials the best {} lie in [{}, {}]",
            best.len(),
            crate::space::ParamValue::Float(raw(a)),
            crate::space::ParamValue::Float(raw(b))
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::ParamValue;

    fn float(name: &str, low: f64, high: f64, log: bool) -> ParamDef {
        ParamDef {
            name: name.into(),
            distribution: Distribution::Float {
                low,
                high,
                log,
                step: None,
            },
            when: vec![],
            hard_low: None,
            hard_high: None,
        }
    }

    fn trial(number: u64, params: &[(&str, f64)], value: f64) -> Trial {
        let mut t = Trial::new(
            number,
            TrialState::Complete,
            params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        );
        t.values = Some(vec![value]);
        t
    }

    fn all_ok(_: &ParamDef, _: f64) -> bool {
        true
    }

    #[test]
    fn widens_the_side_the_best_trials_sit_at() {
        let space = SearchSpace {
            params: vec![float("x", 0.0, 1.0, false), float("lr", 0.01, 0.1, true)],
        };
        // The best trials have x near 1 and lr spread out.
        let trials: Vec<Trial> = (0..20)
            .map(|i| {
                let x = if i < 4 { 0.98 } else { 0.5 };
                let lr = 0.01 * 1.1f64.powi(i as i32 % 20);
                trial(
                    i,
                    &[("x", x), ("lr", lr)],
                    if i < 4 { 0.0 } else { 1.0 + i as f64 },
                )
            })
            .collect();
        let dirs = [Direction::Minimize];
        let rev = propose(&space, &AdaptSpec::default(), &trials, &dirs, &[], &all_ok).unwrap();
        assert_eq!(rev.number, 1);
        assert_eq!(rev.finished, 20);
        assert_eq!(rev.changes.len(), 1, "{rev}");
        let c = &rev.changes[0];
        assert_eq!((c.param.as_str(), c.side), ("x", Side::High));
        assert_eq!(c.to.bounds(), (0.0, 1.5));
        assert!(rev.to_string().contains("4 of the top 10 trials"), "{rev}");
        // Cooldown: the same evidence does not move it again until 10 more trials finish.
        let again = propose(
            &space,
            &AdaptSpec::default(),
            &trials,
            &dirs,
            std::slice::from_ref(&rev),
            &all_ok,
        );
        assert!(again.is_none());
        // Fewer than 10 complete trials: no decision.
        assert!(
            propose(
                &space,
                &AdaptSpec::default(),
                &trials[..9],
                &dirs,
                &[],
                &all_ok
            )
            .is_none()
        );
        // A hard limit caps the move; at the limit nothing moves.
        let mut capped = space.clone();
        capped.params[0].hard_high = Some(1.2);
        let rev = propose(&capped, &AdaptSpec::default(), &trials, &dirs, &[], &all_ok).unwrap();
        assert_eq!(rev.changes[0].to.bounds(), (0.0, 1.2));
        assert!(rev.changes[0].reason.contains("hard_high 1.2"));
        capped.params[0].hard_high = Some(1.0);
        assert!(propose(&capped, &AdaptSpec::default(), &trials, &dirs, &[], &all_ok).is_none());
        // A refusing check moves the bound less.
        let half = |_: &ParamDef, v: f64| v <= 1.3;
        let rev = propose(&space, &AdaptSpec::default(), &trials, &dirs, &[], &half).unwrap();
        assert_eq!(rev.changes[0].to.bounds(), (0.0, 1.25));
    }

    #[test]
    fn log_int_and_stepped_ranges_keep_their_kind() {
        let d = |distribution| ParamDef {
            name: "p".into(),
            distribution,
            when: vec![],
            hard_low: None,
            hard_high: None,
        };
        let at =
            |v: f64| -> Vec<Trial> { (0..10).map(|i| trial(i, &[("p", v)], i as f64)).collect() };
        let dirs = [Direction::Minimize];
        let case = |p: ParamDef, v: f64| {
            let space = SearchSpace { params: vec![p] };
            propose(&space, &AdaptSpec::default(), &at(v), &dirs, &[], &all_ok)
                .map(|r| r.changes[0].to.clone())
        };
        let lr = case(
            d(Distribution::Float {
                low: 0.01,
                high: 0.1,
                log: true,
                step: None,
            }),
            0.0101,
        );
        assert_eq!(lr.unwrap().bounds(), (0.005, 0.1));
        let leaves = case(
            d(Distribution::Int {
                low: 8,
                high: 64,
                log: true,
                step: 1,
            }),
            64.0,
        );
        assert_eq!(leaves.unwrap().bounds(), (8.0, 128.0));
        // A log int at 1 cannot go lower.
        let one = case(
            d(Distribution::Int {
                low: 1,
                high: 10,
                log: true,
                step: 1,
            }),
            1.0,
        );
        assert!(one.is_none());
        let stepped = case(
            d(Distribution::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: Some(0.3),
            }),
            0.0,
        );
        // Half the width (0.45) rounded up to whole steps: 0.6.
        let b = stepped.unwrap().bounds();
        assert!((b.0 + 0.6).abs() < 1e-12 && b.1 == 1.0, "{b:?}");
        let ints = case(
            d(Distribution::Int {
                low: 10,
                high: 20,
                log: false,
                step: 2,
            }),
            20.0,
        );
        assert_eq!(ints.unwrap().bounds(), (10.0, 26.0));
        // Categoricals never change.
        let cat = case(
            d(Distribution::Categorical {
                choices: vec![ParamValue::Int(0), ParamValue::Int(1)],
            }),
            1.0,
        );
        assert!(cat.is_none());
    }

    #[test]
    fn narrows_once_around_the_best_trials() {
        let space = SearchSpace {
            params: vec![float("x", 0.0, 10.0, false)],
        };
        // 100 trials spread over [0, 10]; the best 10 sit in [4, 5].
        let trials: Vec<Trial> = (0..100)
            .map(|i| {
                let x = i as f64 / 10.0;
                trial(i, &[("x", x)], (x - 4.5).abs())
            })
            .collect();
        let spec = AdaptSpec {
            widen: true,
            narrow_after: Some(100),
        };
        let dirs = [Direction::Minimize];
        assert!(propose(&space, &spec, &trials[..99], &dirs, &[], &all_ok).is_none());
        let rev = propose(&space, &spec, &trials, &dirs, &[], &all_ok).unwrap();
        let c = &rev.changes[0];
        assert_eq!(c.side, Side::Narrow);
        let (lo, hi) = c.to.bounds();
        // Best 10: x in [4.0, 4.9] (4.0 and 5.0 tie; the lower number wins), padded by
        // max(0.25 * 0.9, 5 % of 10) = 0.5.
        assert!(
            (lo - 3.5).abs() < 1e-9 && (hi - 5.4).abs() < 1e-9,
            "{lo} {hi}"
        );
        let narrowed = current_space(&space, std::slice::from_ref(&rev));
        assert!(!inside(&narrowed, &trials[0].params));
        assert!(inside(&narrowed, &trials[45].params));
        // Once only.
        assert!(propose(&narrowed, &spec, &trials, &dirs, &[rev], &all_ok).is_none());
    }
}
