//! NSGA-II (placeholder until implemented).

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::sampler::{SampleContext, Sampler};
use crate::space::Params;

/// NSGA-II options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Nsga2Options {}

/// NSGA-II sampler.
pub struct Nsga2Sampler {
    _options: Nsga2Options,
}

impl Nsga2Sampler {
    /// A NSGA-II sampler.
    pub fn new(options: Nsga2Options) -> Self {
        Nsga2Sampler { _options: options }
    }
}

impl Sampler for Nsga2Sampler {
    fn name(&self) -> &'static str {
        "nsga2"
    }
    fn sample(&mut self, _ctx: &SampleContext<'_>) -> Result<Params> {
        Err(TuneError::Invalid("nsga2: not implemented".into()))
    }
}
