//! Tree-structured Parzen estimator (placeholder until implemented).

use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::sampler::{SampleContext, Sampler};
use crate::space::Params;

/// TPE options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TpeOptions {}

/// TPE sampler.
pub struct TpeSampler {
    _options: TpeOptions,
}

impl TpeSampler {
    /// A TPE sampler.
    pub fn new(options: TpeOptions) -> Self {
        TpeSampler { _options: options }
    }
}

impl Sampler for TpeSampler {
    fn name(&self) -> &'static str {
        "tpe"
    }
    fn sample(&mut self, _ctx: &SampleContext<'_>) -> Result<Params> {
        Err(TuneError::Invalid("tpe: not implemented".into()))
    }
}
