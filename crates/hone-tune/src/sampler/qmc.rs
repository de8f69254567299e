//! Scrambled Sobol quasi-random search.
//!
//! Trial number `i` gets point `i` of one Owen-scrambled Sobol sequence, and parameter `k` of
//! the space (in definition order, conditional and fixed ones included, so a parameter always
//! keeps its coordinate) reads coordinate `k`. The scramble is derived from the study seed
//! alone, so the sequence is reproducible, and a resumed study or several workers sharing a
//! store continue it exactly where it stands: the sampler keeps no state.
//!
//! The sequence comes from `sobol_burley` (Joe–Kuo direction numbers, Burley's hash-based Owen
//! scrambling and index shuffle). Its building blocks are composed here to return `f64` with
//! 32 random bits instead of the crate's `f32`. The crate provides 256 coordinates and 2^16
//! points; beyond either limit an independently scrambled copy is used (Burley's "padding"),
//! so every 256 parameters and every 65,536 trials start a fresh, still stratified, sequence.

use sobol_burley::NUM_DIMENSIONS;
use sobol_burley::parts::{hash, owen_scramble_rev, sobol_rev};

use crate::error::Result;
use crate::sampler::{SampleContext, Sampler, splitmix64};
use crate::space::{Params, SearchSpace};

/// Salt that separates the Sobol sampler's seed from the other samplers' streams.
const SOBOL_SALT: u64 = 0x50B0_1C0D_E5EE_D001;

/// The number of points of one scrambled sequence (`sobol_burley`'s limit).
const POINTS_PER_SEQUENCE: u64 = 1 << 16;

/// Coordinate `dim` of point `index` of the Owen-scrambled Sobol sequence `seed`, in `[0, 1)`.
///
/// The first `2^k` points of every sequence are stratified: each coordinate puts exactly one
/// point in each interval `[j / 2^k, (j + 1) / 2^k)` (the index shuffle only permutes within
/// aligned blocks of `2^k` indices, and every such block of a Sobol sequence is a net).
pub fn sobol_unit(index: u64, dim: u64, seed: u32) -> f64 {
    // Padding: a new independent scramble for every further 2^16 points or 256 coordinates.
    let block = ((index / POINTS_PER_SEQUENCE) << 32) | (dim / NUM_DIMENSIONS as u64);
    let seed = if block == 0 {
        seed
    } else {
        splitmix64(seed as u64 ^ splitmix64(block)) as u32
    };
    let index = (index % POINTS_PER_SEQUENCE) as u32;
    let dim = (dim % NUM_DIMENSIONS as u64) as u32;
    let shuffled = owen_scramble_rev(index.reverse_bits(), hash(seed ^ 0x79c6_8e4a));
    let raw = sobol_rev(shuffled, dim);
    let scramble = hash(hash(seed.wrapping_mul(0x9c8f_2d3b) ^ dim) ^ 0x912f_69ba);
    owen_scramble_rev(raw, scramble).reverse_bits() as f64 / 4_294_967_296.0
}

/// Coordinate `dim` of point `index` of the plain (unscrambled) Sobol sequence, for checking
/// the direction numbers against published tables.
pub fn sobol_plain(index: u32, dim: u32) -> f64 {
    sobol_rev(index.reverse_bits(), dim % NUM_DIMENSIONS).reverse_bits() as f64 / 4_294_967_296.0
}

/// Quasi-random search: point `number` of a scrambled Sobol sequence for trial `number`.
/// Stateless; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct SobolSampler;

impl SobolSampler {
    /// A Sobol sampler for `space` (every space is accepted: conditional parameters read their
    /// own coordinate when active, categoricals split their coordinate into equal cells).
    pub fn new(_space: &SearchSpace) -> Self {
        SobolSampler
    }

    /// The 32-bit scramble seed of the study seed `seed`.
    pub fn scramble_seed(seed: u64) -> u32 {
        (splitmix64(seed ^ SOBOL_SALT) >> 32) as u32
    }
}

impl Sampler for SobolSampler {
    fn name(&self) -> &'static str {
        "sobol"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        let seed = Self::scramble_seed(ctx.seed);
        let dims: std::collections::HashMap<&str, u64> = ctx
            .space
            .params
            .iter()
            .enumerate()
            .map(|(k, p)| (p.name.as_str(), k as u64))
            .collect();
        Ok(ctx.space.complete(&Params::new(), |p| {
            let k = dims.get(p.name.as_str()).copied().unwrap_or(0);
            p.distribution.from_unit(sobol_unit(ctx.number, k, seed))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::{Direction, Trial, TrialState};

    #[test]
    fn plain_sequence_matches_scipy() {
        // scipy.stats.qmc.Sobol(d=4, scramble=False).random(8) (scipy 1.17.1), columns 0..3
        // (scripts/reference/gp.py).
        // SciPy walks the sequence in Gray-code order: its row i is point i ^ (i >> 1) here.
        let want: [[f64; 4]; 8] = [
            [0.0, 0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5, 0.5],
            [0.75, 0.25, 0.25, 0.25],
            [0.25, 0.75, 0.75, 0.75],
            [0.375, 0.375, 0.625, 0.875],
            [0.875, 0.875, 0.125, 0.375],
            [0.625, 0.125, 0.875, 0.625],
            [0.125, 0.625, 0.375, 0.125],
        ];
        for (i, row) in want.iter().enumerate() {
            for (d, w) in row.iter().enumerate() {
                let gray = (i ^ (i >> 1)) as u32;
                assert_eq!(sobol_plain(gray, d as u32), *w, "point {i} dim {d}");
            }
        }
    }

    #[test]
    fn scrambled_points_are_in_the_unit_interval_and_stratified() {
        for seed in [0u32, 1, 0xdead_beef] {
            for k in [4u32, 6, 8] {
                let n = 1u64 << k;
                for dim in [0u64, 1, 5, 37, 255, 256, 300] {
                    let mut seen = vec![false; n as usize];
                    for i in 0..n {
                        let u = sobol_unit(i, dim, seed);
                        assert!((0.0..1.0).contains(&u), "{u}");
                        let cell = (u * n as f64) as usize;
                        assert!(
                            !seen[cell],
                            "seed {seed} dim {dim}: two points in cell {cell}"
                        );
                        seen[cell] = true;
                    }
                }
            }
            // Two coordinates together: 16 points hit every cell of a 4 × 4 grid.
            let mut cells = [false; 16];
            for i in 0..16 {
                let a = (sobol_unit(i, 0, seed) * 4.0) as usize;
                let b = (sobol_unit(i, 1, seed) * 4.0) as usize;
                assert!(!cells[a * 4 + b], "2-D stratification, seed {seed}");
                cells[a * 4 + b] = true;
            }
        }
        // The second block of 2^16 points is another, also stratified, sequence.
        let mut seen = [false; 64];
        for i in 0..64 {
            let u = sobol_unit(POINTS_PER_SEQUENCE + i, 0, 7);
            let cell = (u * 64.0) as usize;
            assert!(!seen[cell]);
            seen[cell] = true;
        }
        assert_ne!(sobol_unit(0, 0, 7), sobol_unit(POINTS_PER_SEQUENCE, 0, 7));
        // Different seeds give different scrambles.
        assert_ne!(sobol_unit(3, 2, 1), sobol_unit(3, 2, 2));
    }

    fn space() -> SearchSpace {
        SearchSpace::from_toml_str(
            "[x]\ntype = \"float\"\nlow = -5\nhigh = 5\n\
             [lr]\ntype = \"float\"\nlow = 1e-4\nhigh = 1\nlog = true\n\
             [n]\ntype = \"int\"\nlow = 1\nhigh = 7\nstep = 2\n\
             [c]\ntype = \"categorical\"\nchoices = [\"a\", \"b\", \"c\"]\n",
        )
        .unwrap()
    }

    fn run(seed: u64, n: u64) -> Vec<Params> {
        let space = space();
        let mut s = SobolSampler::new(&space);
        let mut trials = Vec::new();
        for number in 0..n {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: &trials,
                number,
                seed,
            };
            let p = s.sample(&ctx).unwrap();
            trials.push(Trial::new(number, TrialState::Complete, p));
        }
        trials.into_iter().map(|t| t.params).collect()
    }

    #[test]
    fn seeded_runs_repeat_and_resume_and_cover_the_space() {
        let a = run(11, 32);
        assert_eq!(a, run(11, 32));
        assert_ne!(a, run(12, 32));
        // Trial 20 alone, with no history, gets the same point (stateless, resumable).
        let space = space();
        let ctx = SampleContext {
            space: &space,
            directions: &[Direction::Minimize],
            trials: &[],
            number: 20,
            seed: 11,
        };
        assert_eq!(SobolSampler::new(&space).sample(&ctx).unwrap(), a[20]);
        // Stratified in x: 32 points, one per 1/32 cell of [-5, 5].
        let mut cells: Vec<usize> = a
            .iter()
            .map(|p| ((p["x"] + 5.0) / 10.0 * 32.0) as usize)
            .collect();
        cells.sort();
        assert_eq!(cells, (0..32).collect::<Vec<_>>());
        for p in &a {
            assert!(p["lr"] >= 1e-4 && p["lr"] <= 1.0);
            assert!([1.0, 3.0, 5.0, 7.0].contains(&p["n"]), "{}", p["n"]);
            assert!([0.0, 1.0, 2.0].contains(&p["c"]));
        }
        // Each of the 4 int values and 3 choices is used (32 points are plenty).
        for v in [1.0, 3.0, 5.0, 7.0] {
            assert!(a.iter().any(|p| p["n"] == v));
        }
    }
}
