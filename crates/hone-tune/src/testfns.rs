//! Standard test functions of black-box optimisation, for the sampler tests and the benchmark
//! harness (`hone-bench tune-efficiency`), with the textbook constants (as in
//! `scripts/reference/testfns.py`, which prints the values the tests quote).

use std::f64::consts::{E, PI, TAU};

/// Branin's global minimum (three minimisers).
pub const BRANIN_OPTIMUM: f64 = 0.397887;
/// Hartmann6's global minimum.
pub const HARTMANN6_OPTIMUM: f64 = -3.32237;

/// Branin with a=1, b=5.1/(4π²), c=5/π, r=6, s=10, t=1/(8π); `x` = (x1, x2).
pub fn branin(x: &[f64]) -> f64 {
    let (x1, x2) = (x[0], x[1]);
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    let t = 1.0 / (8.0 * PI);
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - t) * x1.cos() + 10.0
}

const HARTMANN_ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
const HARTMANN_A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
// Stored as integers, scaled by 1e-4 where used, as the matrix is usually published.
const HARTMANN_P: [[f64; 6]; 4] = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
];

/// The 6-D Hartmann function on [0, 1]^6.
pub fn hartmann6(x: &[f64]) -> f64 {
    -HARTMANN_ALPHA
        .iter()
        .zip(HARTMANN_A.iter().zip(&HARTMANN_P))
        .map(|(alpha, (a, p))| {
            let s: f64 = (0..6).map(|j| a[j] * (x[j] - p[j] * 1e-4).powi(2)).sum();
            alpha * (-s).exp()
        })
        .sum::<f64>()
}

/// Rosenbrock, Σ 100(x_{i+1} − x_i²)² + (1 − x_i)², in any dimension.
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Ackley with a=20, b=0.2, c=2π, in any dimension.
pub fn ackley(x: &[f64]) -> f64 {
    let d = x.len() as f64;
    let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
    let cs = x.iter().map(|v| (TAU * v).cos()).sum::<f64>() / d;
    -20.0 * (-0.2 * sq.sqrt()).exp() - cs.exp() + 20.0 + E
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn branin_at_its_three_minimisers_and_elsewhere() {
        // numpy implementation of the textbook formula (scripts/reference/testfns.py):
        // branin(-pi, 12.275) = branin(pi, 2.275) = 0.39788735772973816,
        // branin(0, 0) = 55.602112642270264, branin(10, 15) = 145.87219087939556.
        for p in [[-PI, 12.275], [PI, 2.275]] {
            assert!(close(branin(&p), 0.39788735772973816, 1e-14), "{p:?}");
        }
        // The third minimiser is published rounded to 9.42478 (3π).
        assert!(close(branin(&[9.42478, 2.475]), 0.39788735775266204, 1e-12));
        assert!(close(branin(&[0.0, 0.0]), 55.602112642270264, 1e-14));
        assert!(close(branin(&[10.0, 15.0]), 145.87219087939556, 1e-14));
        assert!((branin(&[PI, 2.275]) - BRANIN_OPTIMUM).abs() < 1e-6);
    }

    #[test]
    fn hartmann6_at_its_minimiser_and_elsewhere() {
        // numpy, same constants (α, A, P·1e-4):
        // h6(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573) = -3.322368011391339,
        // h6(0.5, ..., 0.5) = -0.5053149917022333, h6(0.1, ..., 0.6) = -1.4069105761385297.
        let xs = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        assert!(close(hartmann6(&xs), -3.322368011391339, 1e-13));
        assert!((hartmann6(&xs) - HARTMANN6_OPTIMUM).abs() < 1e-5);
        assert!(close(hartmann6(&[0.5; 6]), -0.5053149917022333, 1e-13));
        let x: Vec<f64> = (1..=6).map(|i| i as f64 / 10.0).collect();
        assert!(close(hartmann6(&x), -1.4069105761385297, 1e-13));
    }

    #[test]
    fn rosenbrock_matches_scipy() {
        // scipy.optimize.rosen: ones(10) -> 0.0, zeros(10) -> 9.0,
        // [-2 + 0.5 i for i in 0..10] -> 4674.0.
        assert_eq!(rosenbrock(&[1.0; 10]), 0.0);
        assert_eq!(rosenbrock(&[0.0; 10]), 9.0);
        let x: Vec<f64> = (0..10).map(|i| -2.0 + 0.5 * i as f64).collect();
        assert_eq!(rosenbrock(&x), 4674.0);
    }

    #[test]
    fn ackley_at_the_origin_and_elsewhere() {
        // numpy: ackley(zeros(10)) = 4.440892098500626e-16 (0 up to rounding),
        // ackley(ones(10)) = 3.6253849384403627,
        // ackley([-1 + 0.3 i for i in 0..10]) = 5.112988476160968.
        assert!(ackley(&[0.0; 10]).abs() < 1e-15);
        assert!(close(ackley(&[1.0; 10]), 3.6253849384403627, 1e-14));
        let x: Vec<f64> = (0..10).map(|i| -1.0 + 0.3 * i as f64).collect();
        assert!(close(ackley(&x), 5.112988476160968, 1e-13));
    }
}
