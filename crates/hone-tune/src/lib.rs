//! hone's hyperparameter search engine.
//!
//! - [`space`]: search spaces (float, int, categorical, fixed, conditional) from Rust or TOML.
//! - [`adapt`]: adaptive ranges (widening at bounds the best trials sit at, narrowing) stored
//!   as space revisions.
//! - [`trial`]: trials, their states and objective directions.
//! - [`sampler`]: the [`Sampler`](sampler::Sampler) trait with grid, random, Sobol, TPE, GP and
//!   NSGA-II implementations.
//! - [`pruner`]: the [`Pruner`](pruner::Pruner) trait with median, percentile, successive
//!   halving, Hyperband, patient and Wilcoxon pruners.
//! - [`pareto`]: Pareto fronts, non-dominated sorting and exact hypervolume.
//! - [`importance`]: PED-ANOVA hyperparameter importances.
//! - [`testfns`]: Branin, Hartmann6, Rosenbrock and Ackley for tests and benchmarks.
//! - [`study`]: the ask/tell [`Study`](study::Study) over a pluggable
//!   [`TrialStore`](study::TrialStore) (in memory here; the tracking store in `hone-train`).
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

pub mod adapt;
pub mod error;
pub mod importance;
pub mod pareto;
pub mod pruner;
pub mod sampler;
pub mod space;
pub mod study;
pub mod testfns;
pub mod trial;

pub use error::{Result, TuneError};

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    /// Deterministic points in [0, 1) on a 0.001 grid (so ties happen), reproduced exactly by
    /// `scripts/reference/common.py` for the reference scripts: a 64-bit LCG,
    /// `((s >> 33) % 1000) / 1000`, `d` draws per point.
    pub(crate) fn lcg_points(n: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                (0..d)
                    .map(|_| {
                        s = s
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((s >> 33) % 1000) as f64 / 1000.0
                    })
                    .collect()
            })
            .collect()
    }
}
