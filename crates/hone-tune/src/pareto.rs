//! Multi-objective utilities: domination, non-dominated sorting, Pareto fronts, hypervolume
//! (placeholder until implemented). Every function takes losses (minimise every coordinate).

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
