//! Multi-objective utilities: domination, non-dominated sorting, Pareto fronts, hypervolume
//! and hypervolume subset selection. Every function takes losses (minimise every coordinate).
//!
//! PLACEHOLDER implementations (naive); to be replaced by the real ones.

/// True when `a` dominates `b`: no worse in every coordinate and better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Indices of the non-dominated points, in input order (duplicates of a front point included).
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| !points.iter().any(|q| dominates(q, &points[i])))
        .collect()
}

/// Non-domination rank of every point (0 = the Pareto front, 1 = the front once rank 0 is
/// removed, ...).
pub fn nondominated_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let mut rank = vec![usize::MAX; points.len()];
    let mut r = 0;
    while rank.contains(&usize::MAX) {
        let left: Vec<usize> = (0..points.len()).filter(|&i| rank[i] == usize::MAX).collect();
        for &i in &left {
            if !left.iter().any(|&j| dominates(&points[j], &points[i])) {
                rank[i] = r;
            }
        }
        r += 1;
    }
    rank
}

/// Ranks under constrained domination (NSGA-II): feasible points (violation 0) by their
/// non-domination rank, then infeasible ones after all of them, by total violation.
pub fn constrained_ranks(points: &[Vec<f64>], violations: &[f64]) -> Vec<usize> {
    let _ = violations;
    nondominated_ranks(points)
}

/// Exact hypervolume dominated by `points` and bounded by `reference` (every point must be
/// `<=` the reference in every coordinate; others are ignored).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let _ = (points, reference);
    unimplemented!("hypervolume")
}

/// Greedy hypervolume subset selection: `k` indices of `points` whose hypervolume is
/// (approximately, greedily) largest.
pub fn hssp(points: &[Vec<f64>], k: usize, reference: &[f64]) -> Vec<usize> {
    let _ = reference;
    (0..k.min(points.len())).collect()
}

/// The reference point Optuna uses for a set of losses: per objective max(1.1·w, 0.9·w) of the
/// worst value w (so it works for negative values too).
pub fn reference_point(points: &[Vec<f64>]) -> Vec<f64> {
    let d = points.first().map_or(0, |p| p.len());
    (0..d)
        .map(|j| {
            let w = points.iter().map(|p| p[j]).fold(f64::NEG_INFINITY, f64::max);
            (1.1 * w).max(0.9 * w)
        })
        .collect()
}
