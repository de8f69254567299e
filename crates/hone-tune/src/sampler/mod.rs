//! Samplers: how the next trial's parameters are chosen.
//!
//! Every sampler implements [`Sampler`]. Randomness comes from [`trial_rng`], seeded by the
//! study seed *and the trial number*, so a resumed or parallel study draws exactly what an
//! uninterrupted sequential one would (for samplers that do not learn from results, bit for
//! bit; for model-based ones, given the same finished trials).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::space::{Params, SearchSpace};
use crate::trial::{Direction, Trial};

pub mod auto;
pub mod gp;
pub mod grid;
pub mod nsga2;
pub mod parzen;
pub mod qmc;
pub mod tpe;
pub mod truncnorm;

/// What a sampler sees when asked for a trial's parameters.
pub struct SampleContext<'a> {
    /// The search space.
    pub space: &'a SearchSpace,
    /// One direction per objective.
    pub directions: &'a [Direction],
    /// Every other trial of the study in number order, any state (RUNNING ones included, for
    /// constant-liar and batch strategies; FAIL and WAITING ones are to be ignored).
    pub trials: &'a [Trial],
    /// The number of the trial being sampled.
    pub number: u64,
    /// The study seed.
    pub seed: u64,
}

/// Chooses parameters for new trials.
pub trait Sampler: Send {
    /// A short name (`random`, `tpe`, ...).
    fn name(&self) -> &'static str;

    /// Internal values for every parameter that is active given the values chosen (see
    /// [`SearchSpace::complete`]).
    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params>;

    /// True when the sampler learns from finished trials of other studies given as prior
    /// observations (warm starts): the study then shows them before its own trials.
    fn uses_priors(&self) -> bool {
        false
    }

    /// Checks, before a study starts, that the sampler can serve `space` and `directions`.
    fn check(&self, _space: &SearchSpace, _directions: &[Direction]) -> Result<()> {
        Ok(())
    }
}

/// The random generator for one trial: a function of the study seed and the trial number only
/// (SplitMix64 of both, so neighbouring numbers get unrelated streams).
pub fn trial_rng(seed: u64, number: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix64(splitmix64(seed ^ salt.rotate_left(17)) ^ number))
}

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Draws every active parameter uniformly in its unit cell: log parameters uniformly in log
/// space, int and stepped parameters uniformly over their grid, categoricals uniformly.
pub fn sample_uniform(space: &SearchSpace, rng: &mut StdRng) -> Params {
    space.complete(&Params::new(), |p| {
        let u: f64 = rng.random();
        p.distribution.from_unit(u)
    })
}

/// Independent uniform sampling.
#[derive(Debug, Clone, Default)]
pub struct RandomSampler;

impl Sampler for RandomSampler {
    fn name(&self) -> &'static str {
        "random"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        let mut rng = trial_rng(ctx.seed, ctx.number, 0);
        Ok(sample_uniform(ctx.space, &mut rng))
    }
}

/// Which sampler a study uses, with its options (the `sampler` key of a study or `[search]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SamplerSpec {
    /// Exhaustive grid in definition order.
    Grid,
    /// Independent uniform sampling.
    Random,
    /// Scrambled Sobol quasi-random points.
    Sobol,
    /// Tree-structured Parzen estimator (Optuna 5.0 defaults; MOTPE with several objectives).
    Tpe(tpe::TpeOptions),
    /// Gaussian-process Bayesian optimisation.
    Gp(gp::GpOptions),
    /// NSGA-II (multi-objective evolutionary search).
    Nsga2(nsga2::Nsga2Options),
    /// Chosen from the space, the objectives and the budget ([`auto`]).
    Auto(auto::AutoOptions),
}

impl SamplerSpec {
    /// Parses a sampler name with default options.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "grid" => SamplerSpec::Grid,
            "random" => SamplerSpec::Random,
            "sobol" | "qmc" => SamplerSpec::Sobol,
            "tpe" => SamplerSpec::Tpe(Default::default()),
            "gp" => SamplerSpec::Gp(Default::default()),
            "nsga2" | "nsga-ii" => SamplerSpec::Nsga2(Default::default()),
            "auto" => SamplerSpec::Auto(Default::default()),
            other => {
                return Err(TuneError::Invalid(format!(
                    "unknown sampler {other:?} (auto, grid, random, sobol, tpe, gp, nsga2)"
                )));
            }
        })
    }

    /// The sampler's name.
    pub fn name(&self) -> &'static str {
        match self {
            SamplerSpec::Grid => "grid",
            SamplerSpec::Random => "random",
            SamplerSpec::Sobol => "sobol",
            SamplerSpec::Tpe(_) => "tpe",
            SamplerSpec::Gp(_) => "gp",
            SamplerSpec::Nsga2(_) => "nsga2",
            SamplerSpec::Auto(_) => "auto",
        }
    }

    /// Builds the sampler for `space`, failing with a clear message when it cannot serve it.
    pub fn build(&self, space: &SearchSpace, directions: &[Direction]) -> Result<Box<dyn Sampler>> {
        let s: Box<dyn Sampler> = match self {
            SamplerSpec::Grid => Box::new(grid::GridSampler::new(space)?),
            SamplerSpec::Random => Box::new(RandomSampler),
            SamplerSpec::Sobol => Box::new(qmc::SobolSampler::new(space)),
            SamplerSpec::Tpe(o) => Box::new(tpe::TpeSampler::new(o.clone())),
            SamplerSpec::Gp(o) => Box::new(gp::GpSampler::new(o.clone())),
            SamplerSpec::Nsga2(o) => Box::new(nsga2::Nsga2Sampler::new(o.clone())),
            SamplerSpec::Auto(o) => Box::new(auto::AutoSampler::new(o.clone())),
        };
        s.check(space, directions)?;
        Ok(s)
    }
}

/// Objective values of finished trials as losses (smaller is better), for samplers.
pub fn losses(trial: &Trial, directions: &[Direction]) -> Option<Vec<f64>> {
    let v = trial.values.as_ref()?;
    Some(v.iter().zip(directions).map(|(x, d)| d.loss(*x)).collect())
}

/// Convenience for tests and benchmarks: parameter values by name.
pub fn params_of(pairs: &[(&str, f64)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect::<BTreeMap<_, _>>()
}
