//! `sampler = "auto"`: picks a sampler from the space, the objectives and the budget, and
//! switches as trials accumulate. The rules, and the measurements behind them, are in the
//! README ("Which sampler `auto` picks"):
//!
//! - **Several objectives**: MOTPE (TPE with several objectives) for the first
//!   [`MOTPE_MAX_TRIALS`] finished trials, NSGA-II after: NSGA-II's first generation (50
//!   trials) is random search, so it only pays off over many generations, while MOTPE's
//!   cost per suggestion grows with the trials.
//! - **One objective, a GP space** (every parameter numeric or a small categorical, none
//!   conditional, at most [`GP_MAX_PARAMS`] searched): the GP, the most sample-efficient
//!   sampler here at every budget measured, with a scrambled Sobol start-up (its 10 points
//!   cover the box evenly, where independent draws clump), until [`GP_MAX_TRIALS`] trials
//!   have finished; then TPE, because the GP's cost grows with the cube of the trials.
//! - **Otherwise** (conditional parameters, large categoricals, many parameters): TPE, which
//!   models each parameter on its own and costs well under a millisecond per suggestion.
//!
//! The choice is a function of the space, the directions, the budget and the number of
//! finished trials only, so resumed and parallel workers make the same one.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::sampler::gp::{GpOptions, GpSampler};
use crate::sampler::nsga2::{Nsga2Options, Nsga2Sampler};
use crate::sampler::qmc::SobolSampler;
use crate::sampler::tpe::{TpeOptions, TpeSampler};
use crate::sampler::{SampleContext, Sampler};
use crate::space::{Distribution, Params, SearchSpace};
use crate::trial::{Direction, TrialState};

/// Finished trials after which a single-objective GP study moves to TPE.
pub const GP_MAX_TRIALS: usize = 300;
/// The most searched parameters the GP is chosen for.
pub const GP_MAX_PARAMS: usize = 20;
/// The most choices a categorical may have in a space the GP is chosen for.
pub const GP_MAX_CHOICES: usize = 4;
/// Finished trials after which a multi-objective study moves from MOTPE to NSGA-II.
pub const MOTPE_MAX_TRIALS: usize = 300;
/// Start-up trials of the GP phase (drawn from a scrambled Sobol sequence).
pub const STARTUP: usize = 10;

/// Options of the automatic sampler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoOptions {
    /// The study's trial budget, when it has one (`n_trials`): a budget within the GP's
    /// range keeps the GP to the end.
    pub budget: Option<usize>,
}

/// A sampler `auto` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Scrambled Sobol (the GP's start-up).
    Sobol,
    /// Gaussian-process BO.
    Gp,
    /// TPE (MOTPE with several objectives).
    Tpe,
    /// NSGA-II.
    Nsga2,
}

impl Choice {
    /// The sampler's name.
    pub fn name(self) -> &'static str {
        match self {
            Choice::Sobol => "sobol",
            Choice::Gp => "gp",
            Choice::Tpe => "tpe",
            Choice::Nsga2 => "nsga2",
        }
    }
}

/// One phase of an automatic study: from which finished-trial count a sampler applies, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Finished trials (COMPLETE + PRUNED) from which it applies.
    pub from: usize,
    /// The sampler.
    pub choice: Choice,
    /// Why, in words.
    pub reason: String,
}

/// Why the GP cannot serve `space`, if it cannot (`None`: it can).
fn not_for_gp(space: &SearchSpace) -> Option<String> {
    let searched: Vec<_> = space
        .params
        .iter()
        .filter(|p| !matches!(p.distribution, Distribution::Fixed { .. }))
        .collect();
    if let Some(p) = searched.iter().find(|p| !p.when.is_empty()) {
        return Some(format!(
            "{} is conditional, which TPE models and a GP cannot",
            p.name
        ));
    }
    if let Some((p, n)) = searched.iter().find_map(|p| match &p.distribution {
        Distribution::Categorical { choices } if choices.len() > GP_MAX_CHOICES => {
            Some((p, choices.len()))
        }
        _ => None,
    }) {
        return Some(format!(
            "{} has {n} choices (a GP compares categories only as equal or not; TPE learns \
             each choice's share)",
            p.name
        ));
    }
    if searched.len() > GP_MAX_PARAMS {
        return Some(format!(
            "{} parameters are searched (over {GP_MAX_PARAMS}, a GP needs many more trials \
             to learn their length-scales)",
            searched.len()
        ));
    }
    None
}

/// The phases `auto` goes through for a study, in order.
pub fn plan(space: &SearchSpace, directions: &[Direction], budget: Option<usize>) -> Vec<Phase> {
    let within = |limit: usize| budget.is_some_and(|b| b <= limit);
    if directions.len() > 1 {
        let mut phases = vec![Phase {
            from: 0,
            choice: Choice::Tpe,
            reason: format!(
                "{} objectives: MOTPE models the trials that are best together from the start, \
                 where NSGA-II's first generation of 50 is random search",
                directions.len()
            ),
        }];
        if !within(MOTPE_MAX_TRIALS) {
            phases.push(Phase {
                from: MOTPE_MAX_TRIALS,
                choice: Choice::Nsga2,
                reason: format!(
                    "past {MOTPE_MAX_TRIALS} trials NSGA-II has had its generations and costs \
                     a fraction of MOTPE per suggestion"
                ),
            });
        }
        return phases;
    }
    if let Some(why) = not_for_gp(space) {
        return vec![Phase {
            from: 0,
            choice: Choice::Tpe,
            reason: why,
        }];
    }
    let mut phases = vec![
        Phase {
            from: 0,
            choice: Choice::Sobol,
            reason: format!("the GP's {STARTUP} start-up trials, spread evenly over the box"),
        },
        Phase {
            from: STARTUP,
            choice: Choice::Gp,
            reason: format!(
                "one objective over {} numeric or small categorical parameters: the GP is the \
                 most sample-efficient sampler there",
                space
                    .params
                    .iter()
                    .filter(|p| !matches!(p.distribution, Distribution::Fixed { .. }))
                    .count()
            ),
        },
    ];
    if !within(GP_MAX_TRIALS) {
        phases.push(Phase {
            from: GP_MAX_TRIALS,
            choice: Choice::Tpe,
            reason: format!(
                "past {GP_MAX_TRIALS} trials the GP's cost per suggestion (cubic in the \
                 trials) outgrows its advantage; TPE continues from every trial so far"
            ),
        });
    }
    phases
}

/// The automatic sampler; see the module documentation.
pub struct AutoSampler {
    options: AutoOptions,
    /// The plan's (from, choice) pairs for the space they were made for: made once per space
    /// instead of on every suggestion (a study rebuilds its sampler when the space changes).
    phases: Option<(SearchSpace, Vec<(usize, Choice)>)>,
    gp: GpSampler,
    tpe: TpeSampler,
    nsga2: Nsga2Sampler,
    sobol: SobolSampler,
}

impl AutoSampler {
    /// An automatic sampler.
    pub fn new(options: AutoOptions) -> Self {
        AutoSampler {
            options,
            phases: None,
            gp: GpSampler::new(GpOptions {
                n_startup_trials: STARTUP,
                ..GpOptions::default()
            }),
            tpe: TpeSampler::new(TpeOptions::default()),
            nsga2: Nsga2Sampler::new(Nsga2Options::default()),
            sobol: SobolSampler,
        }
    }

    fn pick(&mut self, choice: Choice) -> &mut dyn Sampler {
        match choice {
            Choice::Sobol => &mut self.sobol,
            Choice::Gp => &mut self.gp,
            Choice::Tpe => &mut self.tpe,
            Choice::Nsga2 => &mut self.nsga2,
        }
    }
}

impl Sampler for AutoSampler {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn uses_priors(&self) -> bool {
        true
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        let finished = ctx
            .trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .count();
        if self
            .phases
            .as_ref()
            .is_none_or(|(space, _)| space != ctx.space)
        {
            let phases = plan(ctx.space, ctx.directions, self.options.budget)
                .iter()
                .map(|p| (p.from, p.choice))
                .collect();
            self.phases = Some((ctx.space.clone(), phases));
        }
        let choice = self
            .phases
            .iter()
            .flat_map(|(_, phases)| phases.iter().rev())
            .find(|(from, _)| finished >= *from)
            .map_or(Choice::Tpe, |(_, c)| *c);
        self.pick(choice).sample(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str) -> SearchSpace {
        SearchSpace::from_toml_str(text).unwrap()
    }

    fn choices(phases: &[Phase]) -> Vec<(usize, &'static str)> {
        phases.iter().map(|p| (p.from, p.choice.name())).collect()
    }

    #[test]
    fn chooses_by_space_objectives_and_budget() {
        let numeric = space(
            "[lr]\ntype = \"float\"\nlow = 0.01\nhigh = 0.3\nlog = true\n\
             [leaves]\ntype = \"int\"\nlow = 4\nhigh = 64\n\
             [boost]\ntype = \"categorical\"\nchoices = [\"gbdt\", \"dart\"]\n",
        );
        let one = [Direction::Minimize];
        assert_eq!(
            choices(&plan(&numeric, &one, Some(100))),
            [(0, "sobol"), (10, "gp")]
        );
        assert_eq!(
            choices(&plan(&numeric, &one, None)),
            [(0, "sobol"), (10, "gp"), (300, "tpe")]
        );
        assert_eq!(
            choices(&plan(&numeric, &one, Some(1000))),
            [(0, "sobol"), (10, "gp"), (300, "tpe")]
        );
        // Conditional, a large categorical, many parameters: TPE, with the reason.
        let conditional = space(
            "[boost]\ntype = \"categorical\"\nchoices = [\"gbdt\", \"rf\"]\n\
             [frac]\ntype = \"float\"\nlow = 0.5\nhigh = 0.9\nwhen = { boost = \"rf\" }\n",
        );
        let p = plan(&conditional, &one, Some(50));
        assert_eq!(choices(&p), [(0, "tpe")]);
        assert!(p[0].reason.contains("frac is conditional"), "{p:?}");
        let wide = space("[k]\ntype = \"categorical\"\nchoices = [1, 2, 3, 4, 5, 6]\n");
        assert!(plan(&wide, &one, Some(50))[0].reason.contains("6 choices"));
        let many: String = (0..21)
            .map(|i| format!("[x{i}]\ntype = \"float\"\nlow = 0\nhigh = 1\n"))
            .collect();
        let p = plan(&space(&many), &one, Some(50));
        assert_eq!(choices(&p), [(0, "tpe")]);
        assert!(p[0].reason.contains("21 parameters"));
        // Several objectives.
        let two = [Direction::Maximize, Direction::Minimize];
        assert_eq!(choices(&plan(&numeric, &two, Some(40))), [(0, "tpe")]);
        assert_eq!(
            choices(&plan(&numeric, &two, None)),
            [(0, "tpe"), (300, "nsga2")]
        );
    }

    #[test]
    fn samples_with_the_phase_of_the_finished_trial_count() {
        use crate::study::{Outcome, Study, StudyDef};
        let def = StudyDef {
            name: "auto".into(),
            space: space(
                "[x]\ntype = \"float\"\nlow = -2\nhigh = 2\n[y]\ntype = \"float\"\nlow = -2\nhigh = 2\n",
            ),
            directions: vec![Direction::Minimize],
            objectives: vec![],
            sampler: crate::sampler::SamplerSpec::Auto(AutoOptions { budget: Some(30) }),
            pruner: Default::default(),
            seed: 5,
            adapt: None,
        };
        let study = Study::in_memory(def).unwrap();
        let mut xs = Vec::new();
        for _ in 0..30 {
            let t = study.ask().unwrap();
            let (x, y) = (t.params["x"], t.params["y"]);
            xs.push(x);
            study
                .tell(t.number, Outcome::Complete(vec![(x - 1.0).powi(2) + y * y]))
                .unwrap();
        }
        // The first 10 are the Sobol sequence's: one in each fifth of [-2, 2] per pair.
        let seed = SobolSampler::scramble_seed(5);
        for (i, x) in xs.iter().take(10).enumerate() {
            let u = crate::sampler::qmc::sobol_unit(i as u64, 0, seed);
            assert!((x - (-2.0 + 4.0 * u)).abs() < 1e-12);
        }
        let best = study.best_trial().unwrap().unwrap().value().unwrap();
        assert!(best < 0.01, "{best}");
    }
}
