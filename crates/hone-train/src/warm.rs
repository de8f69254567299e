//! Warm starts (`[search] warm_start`): a new study begins from the results of earlier ones.
//!
//! From each named study it takes (1) its `top` best configurations, enqueued as the new
//! study's first trials, and (2) all its finished trials as prior observations for samplers
//! that learn from results (TPE, GP; see [`hone_tune::study::Study::with_priors`]), when it
//! optimised the same objectives in the same directions. Parameters are matched by name, and
//! every difference between the spaces is stated, never silently absorbed:
//! - a parameter the new space no longer has is dropped;
//! - a parameter the earlier study lacked is drawn at random (seeded) for enqueued trials and
//!   left out of priors (the samplers treat it as inactive there);
//! - a number outside the new range is clipped into it for enqueued trials (the point is a
//!   good starting configuration, and the nearest one in range is the best guess) and drops
//!   the prior (its value was measured elsewhere, and moving it would misreport it);
//! - a categorical value the new space does not list drops the trial from both.

use hone_tune::sampler::trial_rng;
use hone_tune::space::{ParamValue, Params, SearchSpace};
use hone_tune::study::StudyDef;
use hone_tune::trial::{Trial, TrialState};
use rand::RngExt;

/// One `[search] warm_start` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmStart {
    /// The earlier study's name (in the same tracking store).
    pub study: String,
    /// How many of its best configurations to enqueue.
    pub top: usize,
}

/// How many configurations a warm start enqueues when `top` is not given.
pub const DEFAULT_TOP: usize = 10;

/// What a warm start adds to a study.
#[derive(Debug, Clone, Default)]
pub struct WarmPlan {
    /// Configurations to enqueue (user-facing values of the new space), best first.
    pub enqueue: Vec<Vec<(String, ParamValue)>>,
    /// Prior observations (internal params of the new space).
    pub priors: Vec<Trial>,
    /// What was taken, dropped, clipped or drawn, one line each.
    pub notes: Vec<String>,
}

/// The plan for a study over `space` (`def` gives its objectives, directions and seed) from
/// earlier studies, each with its definition and trials. `uses_priors`: whether the new
/// study's sampler learns from prior observations.
pub fn plan(
    def: &StudyDef,
    space: &SearchSpace,
    uses_priors: bool,
    sources: &[(WarmStart, StudyDef, Vec<Trial>)],
) -> WarmPlan {
    let mut out = WarmPlan::default();
    for (k, (ws, src, trials)) in sources.iter().enumerate() {
        let name = &ws.study;
        let mut done: Vec<&Trial> = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.is_feasible())
            .filter(|t| {
                t.values.as_ref().is_some_and(|v| {
                    v.len() == src.directions.len() && !v.iter().any(|x| x.is_nan())
                })
            })
            .collect();
        if done.is_empty() {
            out.notes
                .push(format!("study {name:?}: no complete trial, nothing taken"));
            continue;
        }
        let d0 = src.directions[0];
        done.sort_by(|a, b| {
            let la = d0.loss(a.values.as_ref().map_or(f64::NAN, |v| v[0]));
            let lb = d0.loss(b.values.as_ref().map_or(f64::NAN, |v| v[0]));
            la.total_cmp(&lb).then(a.number.cmp(&b.number))
        });
        let dropped: Vec<&str> = src
            .space
            .params
            .iter()
            .filter(|p| space.get(&p.name).is_none())
            .map(|p| p.name.as_str())
            .collect();
        if !dropped.is_empty() {
            out.notes.push(format!(
                "study {name:?}: parameters no longer searched, dropped: {}",
                dropped.join(", ")
            ));
        }
        let missing: Vec<&str> = space
            .params
            .iter()
            .filter(|p| src.space.get(&p.name).is_none())
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            out.notes.push(format!(
                "study {name:?} has no values for {}: drawn at random for its enqueued trials, \
                 absent from its priors",
                missing.join(", ")
            ));
        }
        // Enqueued: the best `top` distinct configurations, clipped into range.
        let mut taken: Vec<Params> = Vec::new();
        let mut clipped: Vec<String> = Vec::new();
        let mut unknown = 0;
        for t in &done {
            if taken.len() >= ws.top {
                break;
            }
            let Some((params, clips)) = map_params(src, space, t, true) else {
                unknown += 1;
                continue;
            };
            if taken.contains(&params) {
                continue;
            }
            let mut rng = trial_rng(def.seed, t.number, 0x5741_524D ^ k as u64);
            let full = space.complete(&params, |p| p.distribution.from_unit(rng.random::<f64>()));
            taken.push(params);
            clipped.extend(
                clips
                    .into_iter()
                    .map(|c| format!("trial {}: {c}", t.number)),
            );
            out.enqueue.push(space.external(&full));
        }
        let mut line = format!(
            "study {name:?}: its {} best distinct configuration(s) enqueued",
            taken.len()
        );
        if !clipped.is_empty() {
            line += &format!(
                " ({} value(s) clipped into range: {})",
                clipped.len(),
                clipped.join("; ")
            );
        }
        if unknown > 0 {
            line += &format!(" ({unknown} dropped: a categorical value the space does not list)");
        }
        out.notes.push(line);
        // Priors: every finished trial, when the objectives are the same.
        if !uses_priors {
            continue;
        }
        if src.objectives != def.objectives || src.directions != def.directions {
            out.notes.push(format!(
                "study {name:?}: not used as prior observations: it optimised {} ({}), this \
                 study {} ({})",
                src.objectives.join(", "),
                dirs(src),
                def.objectives.join(", "),
                dirs(def)
            ));
            continue;
        }
        let before = out.priors.len();
        let mut outside = 0;
        for t in &done {
            match map_params(src, space, t, false) {
                Some((params, _)) => {
                    let mut p = Trial::new(0, TrialState::Complete, params);
                    p.values = t.values.clone();
                    p.constraints = t.constraints.clone();
                    out.priors.push(p);
                }
                None => outside += 1,
            }
        }
        let mut line = format!(
            "study {name:?}: {} finished trials used as prior observations",
            out.priors.len() - before
        );
        if outside > 0 {
            line += &format!(" ({outside} dropped: values outside the new space)");
        }
        out.notes.push(line);
    }
    if !uses_priors && !sources.is_empty() {
        out.notes.push(format!(
            "the {} sampler does not learn from prior observations: only the enqueued trials \
             carry the warm start",
            def.sampler.name()
        ));
    }
    out
}

fn dirs(def: &StudyDef) -> String {
    def.directions
        .iter()
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A source trial's values as internal params of `space` (only the parameters both spaces
/// have). `clip`: numbers outside the new range are clipped (and each clip described);
/// otherwise they make the trial unusable (`None`), as does an unknown categorical value.
fn map_params(
    src: &StudyDef,
    space: &SearchSpace,
    t: &Trial,
    clip: bool,
) -> Option<(Params, Vec<String>)> {
    let mut params = Params::new();
    let mut clips = Vec::new();
    for (name, value) in src.space.external(&t.params) {
        let Some(p) = space.get(&name) else {
            continue;
        };
        let d = &p.distribution;
        let v = match d.internal(&value) {
            Some(v) => v,
            None if d.is_numeric() && clip => {
                let x = value.as_f64()?;
                let v = d.snap(x);
                clips.push(format!("{name} {value} -> {}", d.external(v)));
                v
            }
            None => return None,
        };
        params.insert(name, v);
    }
    Some((params, clips))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hone_tune::sampler::SamplerSpec;
    use hone_tune::trial::Direction;

    fn def(space: &str, objectives: &[&str]) -> StudyDef {
        StudyDef {
            name: "new".into(),
            space: SearchSpace::from_toml_str(space).unwrap(),
            directions: vec![Direction::Minimize; objectives.len()],
            objectives: objectives.iter().map(|s| s.to_string()).collect(),
            sampler: SamplerSpec::parse("tpe").unwrap(),
            pruner: Default::default(),
            seed: 1,
            adapt: None,
        }
    }

    const NEW: &str = "[lr]\ntype = \"float\"\nlow = 0.01\nhigh = 0.3\nlog = true\n\
         [kind]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n\
         [fresh]\ntype = \"float\"\nlow = 0\nhigh = 1\n";

    #[test]
    fn differences_between_spaces_are_dropped_clipped_or_drawn_and_stated() {
        let old = def(
            "[lr]\ntype = \"float\"\nlow = 0.01\nhigh = 1.0\nlog = true\n\
             [kind]\ntype = \"categorical\"\nchoices = [\"a\", \"b\", \"c\"]\n\
             [gone]\ntype = \"int\"\nlow = 1\nhigh = 5\n",
            &["log_loss"],
        );
        let new = def(NEW, &["log_loss"]);
        // (lr, kind index, gone, value): trial 1 is best, then 0, 2, 3.
        let rows = [
            (0.05, 0.0, 1.0, 0.5),
            (0.5, 1.0, 2.0, 0.1),
            (0.02, 2.0, 3.0, 0.6),
            (0.1, 0.0, 4.0, 0.7),
        ];
        let trials: Vec<Trial> = rows
            .iter()
            .enumerate()
            .map(|(i, &(lr, kind, gone, v))| {
                let mut t = Trial::new(
                    i as u64,
                    TrialState::Complete,
                    [
                        ("lr".into(), lr),
                        ("kind".into(), kind),
                        ("gone".into(), gone),
                    ]
                    .into(),
                );
                t.values = Some(vec![v]);
                t
            })
            .collect();
        let ws = WarmStart {
            study: "old".into(),
            top: 3,
        };
        let p = plan(
            &new,
            &new.space,
            true,
            &[(ws.clone(), old.clone(), trials.clone())],
        );
        // Best three: 1 (lr clipped 0.5 -> 0.3), 0, then 2 is dropped (kind "c" unknown), 3.
        assert_eq!(p.enqueue.len(), 3, "{:?}", p.notes);
        assert_eq!(p.enqueue[0][0], ("lr".into(), ParamValue::Float(0.3)));
        assert_eq!(p.enqueue[1][0], ("lr".into(), ParamValue::Float(0.05)));
        assert!(p.enqueue.iter().all(|e| e.len() == 3 && e[2].0 == "fresh"));
        // Priors: trial 1 is outside lr's range and trial 2's kind is unknown: 0 and 3 remain.
        assert_eq!(p.priors.len(), 2);
        assert!(p.priors.iter().all(|t| !t.params.contains_key("fresh")));
        let notes = p.notes.join("\n");
        for expect in [
            "parameters no longer searched, dropped: gone",
            "has no values for fresh: drawn at random",
            "its 3 best distinct configuration(s) enqueued (1 value(s) clipped into range: trial 1: lr 0.5 -> 0.3)",
            "(1 dropped: a categorical value the space does not list)",
            "2 finished trials used as prior observations (2 dropped: values outside the new space)",
        ] {
            assert!(notes.contains(expect), "{expect}\n{notes}");
        }
        // Another objective: enqueued, not priors.
        let other = def(NEW, &["roc_auc"]);
        let p = plan(
            &other,
            &other.space,
            true,
            &[(ws.clone(), old.clone(), trials.clone())],
        );
        assert!(p.priors.is_empty());
        assert!(
            p.notes
                .join("\n")
                .contains("not used as prior observations: it optimised log_loss")
        );
        // A sampler without priors says so.
        let p = plan(&new, &new.space, false, &[(ws, old, trials)]);
        assert!(p.priors.is_empty());
        assert!(
            p.notes
                .join("\n")
                .contains("the tpe sampler does not learn from prior observations")
        );
    }
}
