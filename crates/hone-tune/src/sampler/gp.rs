//! Gaussian-process Bayesian optimisation (placeholder until implemented).

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::sampler::{SampleContext, Sampler};
use crate::space::Params;

/// GP options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpOptions {}

/// GP sampler.
pub struct GpSampler {
    _options: GpOptions,
}

impl GpSampler {
    /// A GP sampler.
    pub fn new(options: GpOptions) -> Self {
        GpSampler { _options: options }
    }
}

impl Sampler for GpSampler {
    fn name(&self) -> &'static str {
        "gp"
    }
    fn sample(&mut self, _ctx: &SampleContext<'_>) -> Result<Params> {
        Err(TuneError::Invalid("gp: not implemented".into()))
    }
}
