//! Scrambled Sobol quasi-random search (placeholder until implemented).

use crate::error::Result;
use crate::sampler::{SampleContext, Sampler, sample_uniform, trial_rng};
use crate::space::{Params, SearchSpace};

/// Sobol sampler.
pub struct SobolSampler;

impl SobolSampler {
    /// A Sobol sampler for `space`.
    pub fn new(_space: &SearchSpace) -> Self {
        SobolSampler
    }
}

impl Sampler for SobolSampler {
    fn name(&self) -> &'static str {
        "sobol"
    }
    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        let mut rng = trial_rng(ctx.seed, ctx.number, 1);
        Ok(sample_uniform(ctx.space, &mut rng))
    }
}
