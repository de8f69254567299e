//! Multi-objective utilities: domination, non-dominated sorting, Pareto fronts, hypervolume
//! and hypervolume subset selection. Every function takes losses (minimise every coordinate;
//! turn values into losses with [`Direction::loss`](crate::trial::Direction::loss) first).
//!
//! Conventions shared by every function, so that malformed input never panics:
//! - The number of objectives is the length of the first point (of `reference` for
//!   [`hypervolume`] and [`hssp`]). When ranking, a missing or NaN coordinate counts as `+∞`,
//!   the worst possible loss, and `-0.0` equals `0.0`.
//! - [`hypervolume`] ignores points that are not `<=` the reference in every coordinate (NaN
//!   included) and points of another length: they dominate nothing inside the reference box.
//!
//! Algorithms: Pareto fronts and ranks by a sort-and-sweep in O(n log n) for one and two
//! objectives and by the efficient non-dominated sort with binary search over fronts (ENS-BS,
//! Zhang et al. 2015) otherwise: O(n log n · log F) for three objectives (each front a
//! balanced staircase), O(M·N²) in the worst case for more, like Deb's fast non-dominated sort
//! and with the same ranks, but with O(N) memory instead of Deb's O(N²) domination lists; exact hypervolume by a sweep for two objectives (O(n log n)), a
//! z-sweep over a balanced 2-D staircase for three (O(n log n)), and WFG (While, Bradstreet
//! and Barone 2012) for four or more, slicing off the last objective at every level; greedy
//! hypervolume subset selection with lazy (submodular) updates of the contributions.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What [`reference_point`] uses for an objective whose worst value is exactly 0, so that the
/// reference box keeps a positive width (Optuna's `EPS` in `_get_reference_point`).
pub const REFERENCE_EPS: f64 = 1e-12;

/// True when `a` dominates `b`: no worse in every coordinate and better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Indices of the non-dominated points, in input order (duplicates of a front point included).
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    let d = points.first().map_or(0, Vec::len);
    let pts = normalised(points, d);
    let order = lex_order(&pts);
    let on = front_mask(&pts, &order, d);
    (0..pts.len()).filter(|&i| on[i]).collect()
}

/// Non-domination rank of every point (0 = the Pareto front, 1 = the front once rank 0 is
/// removed, ...). Identical points share a rank.
pub fn nondominated_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let d = points.first().map_or(0, Vec::len);
    let pts = normalised(points, d);
    let order = lex_order(&pts);
    let mut rank = vec![0; pts.len()];
    match d {
        0 => {}
        1 => {
            let mut r = 0;
            for w in order.windows(2) {
                if pts[w[1]][0] != pts[w[0]][0] {
                    r += 1;
                }
                rank[w[1]] = r;
            }
        }
        2 => {
            // In lexicographic order every dominator of a point comes before it and is exactly
            // an earlier, different point whose y is no larger; the smallest y seen on each
            // front is non-decreasing with the rank, so a binary search finds the rank.
            let mut min_y: Vec<f64> = Vec::new();
            for (pos, &i) in order.iter().enumerate() {
                if pos > 0 && pts[order[pos - 1]] == pts[i] {
                    rank[i] = rank[order[pos - 1]];
                    continue;
                }
                let y = pts[i][1];
                let r = min_y.partition_point(|&m| m <= y);
                match min_y.get_mut(r) {
                    Some(m) => *m = y,
                    None => min_y.push(y),
                }
                rank[i] = r;
            }
        }
        3 => {
            // ENS-BS (below) where each front is a (y, z) staircase: an earlier point is no
            // worse in x, so it dominates iff it is no worse in y and z, a O(log n) query.
            let mut fronts: Vec<BTreeMap<Key, f64>> = Vec::new();
            for (pos, &i) in order.iter().enumerate() {
                if pos > 0 && pts[order[pos - 1]] == pts[i] {
                    rank[i] = rank[order[pos - 1]];
                    continue;
                }
                let (y, z) = (pts[i][1], pts[i][2]);
                let r = fronts.partition_point(|f| covers(f, y, z));
                if r == fronts.len() {
                    fronts.push(BTreeMap::new());
                }
                insert_step(&mut fronts[r], y, z, f64::INFINITY, f64::INFINITY);
                rank[i] = r;
            }
        }
        _ => {
            // ENS-BS: a point's rank is the first front (of the points before it in
            // lexicographic order, which include all its dominators) holding none of its
            // dominators. Holding a dominator is monotone in the front index (each member of
            // front k+1 is dominated by a member of front k), hence the binary search.
            let mut fronts: Vec<Vec<usize>> = Vec::new();
            for (pos, &i) in order.iter().enumerate() {
                if pos > 0 && pts[order[pos - 1]] == pts[i] {
                    let r = rank[order[pos - 1]];
                    rank[i] = r;
                    fronts[r].push(i);
                    continue;
                }
                let r = fronts.partition_point(|f| {
                    f.iter()
                        .any(|&j| pts[j] != pts[i] && weakly_dominates(&pts[j], &pts[i]))
                });
                match fronts.get_mut(r) {
                    Some(f) => f.push(i),
                    None => fronts.push(vec![i]),
                }
                rank[i] = r;
            }
        }
    }
    rank
}

/// Ranks under constrained domination (NSGA-II): feasible points (violation `<= 0`) by their
/// non-domination rank, then infeasible ones after all of them, by total violation (equal
/// violations share a rank). A missing violation counts as 0 (feasible); a NaN one as the
/// worst violation.
pub fn constrained_ranks(points: &[Vec<f64>], violations: &[f64]) -> Vec<usize> {
    let viol = |i: usize| match violations.get(i) {
        Some(v) if v.is_nan() => f64::INFINITY,
        Some(v) => *v,
        None => 0.0,
    };
    let (feasible, infeasible): (Vec<usize>, Vec<usize>) =
        (0..points.len()).partition(|&i| viol(i) <= 0.0);
    let mut rank = vec![0; points.len()];
    let sub: Vec<Vec<f64>> = feasible.iter().map(|&i| points[i].clone()).collect();
    let mut next = 0;
    for (&i, r) in feasible.iter().zip(nondominated_ranks(&sub)) {
        rank[i] = r;
        next = next.max(r + 1);
    }
    let mut by_violation = infeasible;
    by_violation.sort_by(|&a, &b| viol(a).total_cmp(&viol(b)));
    for (pos, &i) in by_violation.iter().enumerate() {
        if pos > 0 && viol(by_violation[pos - 1]) != viol(i) {
            next += 1;
        }
        rank[i] = next;
    }
    rank
}

/// Exact hypervolume dominated by `points` and bounded by `reference`.
///
/// Points that are not `<=` the reference in every coordinate (or have another length) are
/// ignored, as are dominated and duplicate points. No points (or no objectives) give 0; an
/// infinite volume (an infinite reference coordinate, a `-∞` loss) gives `+∞`.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| is_inside(p, reference))
        .map(|p| p.iter().map(|x| x + 0.0).collect())
        .collect();
    if reference.is_empty() || inside.is_empty() {
        return 0.0;
    }
    let hv = hv_inside(inside, reference);
    // NaN only arises from ∞ - ∞ or 0·∞ on unbounded boxes, whose union is unbounded.
    if hv.is_nan() { f64::INFINITY } else { hv }
}

/// Greedy hypervolume subset selection: `k` indices of `points` whose hypervolume is
/// (approximately, greedily) largest.
///
/// Follows Optuna's `_solve_hssp`: with `k >= points.len()` every index is returned; when
/// there are at most `k` distinct points, all of them (first occurrences) plus the first
/// duplicates are returned in index order; otherwise distinct points are picked one at a time
/// by largest hypervolume contribution (ties to the lexicographically smallest point, points
/// outside the reference contributing nothing), returned in the order they were picked. With
/// an infinite reference coordinate every contribution is infinite, so the first `k` distinct
/// points in lexicographic order are returned. The greedy choice is within a factor 1 - 1/e of
/// the best subset (submodularity).
pub fn hssp(points: &[Vec<f64>], k: usize, reference: &[f64]) -> Vec<usize> {
    let n = points.len();
    if k >= n {
        return (0..n).collect();
    }
    if k == 0 {
        return Vec::new();
    }
    let pts = normalised(points, reference.len());
    let order = lex_order(&pts);
    let (mut unique, mut duplicates) = (Vec::new(), Vec::new());
    for (pos, &i) in order.iter().enumerate() {
        if pos > 0 && pts[order[pos - 1]] == pts[i] {
            duplicates.push(i);
        } else {
            unique.push(i);
        }
    }
    if unique.len() <= k {
        duplicates.sort_unstable();
        let extra = k - unique.len();
        unique.extend(duplicates.into_iter().take(extra));
        unique.sort_unstable();
        return unique;
    }
    if !reference.iter().all(|r| r.is_finite()) {
        unique.truncate(k);
        return unique;
    }
    let cand: Vec<&[f64]> = unique.iter().map(|&i| pts[i].as_slice()).collect();
    let picked = if reference.len() == 2 {
        greedy_2d(&cand, k, reference)
    } else {
        greedy_lazy(&cand, k, reference)
    };
    picked.into_iter().map(|c| unique[c]).collect()
}

/// The reference point Optuna uses for a set of losses: per objective max(1.1·w, 0.9·w) of the
/// worst value w (so it works for negative values too), and [`REFERENCE_EPS`] where that is 0.
/// Objectives with no value (every point too short, or NaN) get `-∞`.
pub fn reference_point(points: &[Vec<f64>]) -> Vec<f64> {
    let d = points.first().map_or(0, Vec::len);
    (0..d)
        .map(|j| {
            let w = points
                .iter()
                .filter_map(|p| p.get(j).copied())
                .fold(f64::NEG_INFINITY, f64::max);
            let r = (1.1 * w).max(0.9 * w);
            if r == 0.0 { REFERENCE_EPS } else { r }
        })
        .collect()
}

/// The points cut or padded to `d` coordinates, missing and NaN ones as `+∞` and `-0.0` as
/// `0.0`, so that equal points are equal bit for bit and sorting is total.
fn normalised(points: &[Vec<f64>], d: usize) -> Vec<Vec<f64>> {
    points
        .iter()
        .map(|p| {
            (0..d)
                .map(|j| match p.get(j) {
                    Some(v) if !v.is_nan() => v + 0.0,
                    _ => f64::INFINITY,
                })
                .collect()
        })
        .collect()
}

fn lex(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Indices in lexicographic order of their points; a stable sort, so identical points are
/// adjacent and the first occurrence leads.
fn lex_order(pts: &[Vec<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pts.len()).collect();
    order.sort_by(|&a, &b| lex(&pts[a], &pts[b]));
    order
}

fn weakly_dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

/// Which (normalised) points are non-dominated, given their lexicographic `order`.
fn front_mask(pts: &[Vec<f64>], order: &[usize], d: usize) -> Vec<bool> {
    let mut on = vec![false; pts.len()];
    let mut front: Vec<usize> = Vec::new();
    let mut best_y = f64::INFINITY;
    let mut stairs: BTreeMap<Key, f64> = BTreeMap::new();
    for (pos, &i) in order.iter().enumerate() {
        if pos > 0 && pts[order[pos - 1]] == pts[i] {
            on[i] = on[order[pos - 1]];
            continue;
        }
        on[i] = match d {
            0 => true,
            1 => pos == 0,
            // Every earlier, different point has x no larger: it dominates iff y is no larger.
            2 => pos == 0 || pts[i][1] < best_y,
            // Likewise in (y, z), against the staircase of the front found so far.
            3 => !covers(&stairs, pts[i][1], pts[i][2]),
            // Checking the front found so far suffices: a dominated dominator has a dominator
            // on the front, which dominates the point too.
            _ => !front.iter().any(|&f| weakly_dominates(&pts[f], &pts[i])),
        };
        if d == 2 {
            best_y = best_y.min(pts[i][1]);
        }
        if d == 3 && on[i] {
            insert_step(
                &mut stairs,
                pts[i][1],
                pts[i][2],
                f64::INFINITY,
                f64::INFINITY,
            );
        }
        if on[i] {
            front.push(i);
        }
    }
    on
}

fn is_inside(p: &[f64], reference: &[f64]) -> bool {
    p.len() == reference.len() && p.iter().zip(reference).all(|(x, r)| x <= r)
}

/// The area `w·h` of a box, 0 when it is empty (so that 0·∞ and NaN widths count as empty).
fn rect(w: f64, h: f64) -> f64 {
    if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
}

/// The volume of the box between `p` and the reference.
fn inclusive(p: &[f64], reference: &[f64]) -> f64 {
    p.iter()
        .zip(reference)
        .fold(1.0, |v, (x, r)| rect(v, r - x))
}

/// Hypervolume of points that are all inside the reference box (at least one objective).
fn hv_inside(mut pts: Vec<Vec<f64>>, r: &[f64]) -> f64 {
    match r.len() {
        1 => {
            let best = pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
            rect(r[0] - best, 1.0)
        }
        2 => {
            pts.sort_by(|a, b| lex(a, b));
            let (mut area, mut top) = (0.0, r[1]);
            for p in &pts {
                if p[1] < top {
                    area += rect(r[0] - p[0], top - p[1]);
                    top = p[1];
                }
            }
            area
        }
        3 => hv_3d(pts, r),
        _ => wfg(pts, r),
    }
}

/// A key that orders finite and infinite coordinates totally (there is no NaN here).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// True when some point of the staircase is `<=` `(x, y)` in both coordinates.
fn covers(stairs: &BTreeMap<Key, f64>, x: f64, y: f64) -> bool {
    stairs
        .range(..=Key(x))
        .next_back()
        .is_some_and(|(_, &sy)| sy <= y)
}

/// Three objectives: sweep the points by increasing z, keeping the (x, y) staircase of those
/// seen so far and its area; each slab between consecutive z values adds area × thickness.
fn hv_3d(mut pts: Vec<Vec<f64>>, r: &[f64]) -> f64 {
    pts.sort_by(|a, b| a[2].total_cmp(&b[2]).then_with(|| lex(a, b)));
    let Some(mut z) = pts.first().map(|p| p[2]) else {
        return 0.0;
    };
    let mut stairs: BTreeMap<Key, f64> = BTreeMap::new();
    let (mut area, mut volume) = (0.0, 0.0);
    for p in &pts {
        volume += rect(area, p[2] - z);
        z = p[2];
        area += insert_step(&mut stairs, p[0], p[1], r[0], r[1]);
    }
    volume + rect(area, r[2] - z)
}

/// Adds `(x, y)` to a staircase of mutually non-dominated points (x increasing, y
/// decreasing), dropping the ones it dominates, and returns the area it adds below
/// `(rx, ry)`. Amortised O(log n): every point is removed at most once.
fn insert_step(stairs: &mut BTreeMap<Key, f64>, x: f64, y: f64, rx: f64, ry: f64) -> f64 {
    if covers(stairs, x, y) {
        return 0.0;
    }
    let mut top = stairs.range(..Key(x)).next_back().map_or(ry, |(_, &v)| v);
    let (mut from, mut gain, mut right) = (x, 0.0, rx);
    let mut removed = Vec::new();
    for (&Key(sx), &sy) in stairs.range(Key(x)..) {
        if sy < y {
            right = sx;
            break;
        }
        gain += rect(sx - from, top - y);
        from = sx;
        top = sy;
        removed.push(Key(sx));
    }
    gain += rect(right - from, top - y);
    for key in removed {
        stairs.remove(&key);
    }
    stairs.insert(Key(x), y);
    gain
}

/// Four or more objectives: WFG. With the points sorted by decreasing last objective, the
/// points after `p` limited by `p` (`max(p, q)`) all share `p`'s last coordinate, so `p`'s
/// exclusive volume is its depth in that objective times its exclusive volume in the others.
fn wfg(pts: Vec<Vec<f64>>, r: &[f64]) -> f64 {
    let d = r.len();
    let order = lex_order(&pts);
    let on = front_mask(&pts, &order, d);
    let mut front: Vec<Vec<f64>> = order
        .iter()
        .enumerate()
        .filter(|&(pos, &i)| on[i] && (pos == 0 || pts[order[pos - 1]] != pts[i]))
        .map(|(_, &i)| pts[i].clone())
        .collect();
    front.sort_by(|a, b| b[d - 1].total_cmp(&a[d - 1]));
    let sub = &r[..d - 1];
    let mut total = 0.0;
    for (k, p) in front.iter().enumerate() {
        let base = &p[..d - 1];
        let incl = inclusive(base, sub);
        let limited: Vec<Vec<f64>> = front[k + 1..]
            .iter()
            .map(|q| {
                q[..d - 1]
                    .iter()
                    .zip(base)
                    .map(|(a, b)| a.max(*b))
                    .collect()
            })
            .collect();
        let exclusive = if limited.is_empty() {
            incl
        } else {
            incl - hv_inside(limited, sub)
        };
        total += rect(r[d - 1] - p[d - 1], exclusive);
    }
    total
}

/// Greedy HSSP for two objectives: the contribution of a candidate is the area between it and
/// the staircase of the points picked so far, read off the staircase directly (for mutually
/// non-dominated points, the rectangle up to its picked neighbours, as in Optuna).
fn greedy_2d(cand: &[&[f64]], k: usize, r: &[f64]) -> Vec<usize> {
    let inside: Vec<bool> = cand.iter().map(|c| is_inside(c, r)).collect();
    let mut stairs: Vec<(f64, f64)> = Vec::new();
    let mut taken = vec![false; cand.len()];
    let mut picked = Vec::with_capacity(k);
    while picked.len() < k {
        let mut best: Option<(usize, f64)> = None;
        for c in (0..cand.len()).filter(|&c| !taken[c]) {
            let v = if inside[c] {
                area_above(&stairs, cand[c][0], cand[c][1], r)
            } else {
                0.0
            };
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((c, v));
            }
        }
        let Some((c, _)) = best else { break };
        taken[c] = true;
        picked.push(c);
        if inside[c] {
            let (x, y) = (cand[c][0], cand[c][1]);
            let i = stairs.partition_point(|s| s.0 < x);
            let covered = (i > 0 && stairs[i - 1].1 <= y)
                || stairs.get(i).is_some_and(|s| s.0 == x && s.1 <= y);
            if !covered {
                let j = i + stairs[i..].iter().take_while(|s| s.1 >= y).count();
                stairs.splice(i..j, [(x, y)]);
            }
        }
    }
    picked
}

/// The area dominated by `(x, y)` inside the reference and not by the staircase `stairs`
/// (x increasing, y decreasing).
fn area_above(stairs: &[(f64, f64)], x: f64, y: f64, r: &[f64]) -> f64 {
    let i = stairs.partition_point(|s| s.0 <= x);
    let mut top = if i > 0 { stairs[i - 1].1 } else { r[1] };
    if top <= y {
        return 0.0;
    }
    let (mut from, mut total) = (x, 0.0);
    for &(sx, sy) in &stairs[i..] {
        total += rect(sx - from, top - y);
        if sy <= y {
            return total;
        }
        from = sx;
        top = sy;
    }
    total + rect(r[0] - from, top - y)
}

/// Greedy HSSP for any number of objectives with lazy updates: a contribution never grows as
/// points are picked (submodularity), so a stale value is an upper bound, tightened for free by
/// the contribution given the last pick alone; only candidates whose bound reaches the best
/// exact contribution found so far are recomputed, as `incl(c) - HV(picked limited by c)`.
fn greedy_lazy(cand: &[&[f64]], k: usize, r: &[f64]) -> Vec<usize> {
    let inside: Vec<bool> = cand.iter().map(|c| is_inside(c, r)).collect();
    let incl: Vec<f64> = (0..cand.len())
        .map(|c| {
            if inside[c] {
                inclusive(cand[c], r)
            } else {
                0.0
            }
        })
        .collect();
    let mut bound = incl.clone();
    let mut remaining: Vec<usize> = (0..cand.len()).collect();
    let mut selected: Vec<usize> = Vec::new();
    let mut unbounded = false;
    let mut picked = Vec::with_capacity(k);
    while picked.len() < k && !remaining.is_empty() {
        let mut pos = 0;
        for (p, &c) in remaining.iter().enumerate() {
            if bound[c] > bound[remaining[pos]] {
                pos = p;
            }
        }
        let c = remaining.remove(pos);
        picked.push(c);
        if picked.len() == k || !inside[c] {
            continue;
        }
        selected.push(c);
        // Once the picked set has infinite volume every difference is ∞ - ∞: treat every
        // contribution as infinite, so ties go to the lexicographic order (as Optuna does).
        unbounded |= incl[c].is_infinite();
        if unbounded {
            for &i in &remaining {
                bound[i] = f64::INFINITY;
            }
            continue;
        }
        for &i in remaining
            .iter()
            .filter(|&&i| inside[i] && incl[i].is_finite())
        {
            let limited: Vec<f64> = cand[i]
                .iter()
                .zip(cand[c])
                .map(|(a, b)| a.max(*b))
                .collect();
            bound[i] = bound[i].min(incl[i] - inclusive(&limited, r));
        }
        let mut by_bound = remaining.clone();
        by_bound.sort_by(|&a, &b| bound[b].total_cmp(&bound[a]));
        let mut best = 0.0;
        for i in by_bound {
            if !inside[i] || bound[i] < best {
                continue;
            }
            if incl[i].is_infinite() {
                bound[i] = f64::INFINITY;
            } else {
                let limited: Vec<Vec<f64>> = selected
                    .iter()
                    .map(|&s| {
                        cand[i]
                            .iter()
                            .zip(cand[s])
                            .map(|(a, b)| a.max(*b))
                            .collect()
                    })
                    .collect();
                bound[i] = incl[i] - hv_inside(limited, r);
            }
            best = f64::max(best, bound[i]);
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::lcg_points;

    /// Ranks by the definition: peel off the non-dominated points again and again.
    fn peeled_ranks(points: &[Vec<f64>]) -> Vec<usize> {
        let mut rank = vec![usize::MAX; points.len()];
        let mut r = 0;
        while rank.contains(&usize::MAX) {
            let left: Vec<usize> = (0..points.len())
                .filter(|&i| rank[i] == usize::MAX)
                .collect();
            for &i in &left {
                if !left.iter().any(|&j| dominates(&points[j], &points[i])) {
                    rank[i] = r;
                }
            }
            r += 1;
        }
        rank
    }

    /// Hypervolume by inclusion–exclusion over every subset of the points inside the box.
    fn inclusion_exclusion(points: &[Vec<f64>], reference: &[f64]) -> f64 {
        let inside: Vec<&Vec<f64>> = points.iter().filter(|p| is_inside(p, reference)).collect();
        let mut total = 0.0;
        for mask in 1u32..(1 << inside.len()) {
            let mut corner = vec![f64::NEG_INFINITY; reference.len()];
            for (i, p) in inside.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    for (c, x) in corner.iter_mut().zip(p.iter()) {
                        *c = c.max(*x);
                    }
                }
            }
            let sign = if mask.count_ones() % 2 == 1 {
                1.0
            } else {
                -1.0
            };
            total += sign
                * corner
                    .iter()
                    .zip(reference)
                    .map(|(c, r)| r - c)
                    .product::<f64>();
        }
        total
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn fronts_keep_duplicates_and_drop_dominated_points() {
        let pts = vec![
            vec![1.0, 3.0],
            vec![2.0, 2.0],
            vec![3.0, 3.0], // dominated by (2, 2)
            vec![2.0, 2.0], // duplicate of a front point
            vec![3.0, 1.0],
            vec![2.0, 2.5], // same x as (2, 2), worse y
        ];
        assert_eq!(pareto_front(&pts), [0, 1, 3, 4]);
        assert_eq!(nondominated_ranks(&pts), [0, 0, 2, 0, 0, 1]);
        assert!(pareto_front(&[]).is_empty());
        assert!(nondominated_ranks(&[]).is_empty());
        // One objective: the front is every point tied best; ranks are dense ranks.
        let one = vec![vec![2.0], vec![1.0], vec![3.0], vec![1.0], vec![2.0]];
        assert_eq!(pareto_front(&one), [1, 3]);
        assert_eq!(nondominated_ranks(&one), [1, 0, 2, 0, 1]);
        // -0.0 and 0.0 are the same point; NaN is the worst value.
        let signed = vec![
            vec![0.0, 1.0, 1.0],
            vec![-0.0, 1.0, 1.0],
            vec![0.0, f64::NAN, 1.0],
        ];
        assert_eq!(pareto_front(&signed), [0, 1]);
        assert_eq!(nondominated_ranks(&signed), [0, 0, 1]);
    }

    #[test]
    fn ranks_match_optuna_and_peeling() {
        // optuna.study._multi_objective._fast_non_domination_rank(lcg_points(12, d, seed)),
        // Optuna 5.0.0 (scripts/reference/pareto.py).
        assert_eq!(
            nondominated_ranks(&lcg_points(12, 2, 7)),
            [1, 3, 1, 4, 3, 0, 2, 6, 2, 4, 5, 1]
        );
        assert_eq!(
            nondominated_ranks(&lcg_points(12, 3, 8)),
            [0, 1, 3, 1, 0, 1, 0, 0, 2, 1, 0, 0]
        );
        // Coarse grids force ties and duplicates in every dimension.
        for d in 1..=5 {
            for seed in 0..20 {
                let pts: Vec<Vec<f64>> = lcg_points(60, d, seed)
                    .into_iter()
                    .map(|p| p.into_iter().map(|x| (x * 5.0).floor()).collect())
                    .collect();
                let want = peeled_ranks(&pts);
                assert_eq!(nondominated_ranks(&pts), want, "d={d} seed={seed}");
                let front: Vec<usize> = (0..pts.len()).filter(|&i| want[i] == 0).collect();
                assert_eq!(pareto_front(&pts), front, "d={d} seed={seed}");
            }
        }
    }

    #[test]
    fn constrained_ranks_put_infeasible_points_last_by_violation() {
        let pts = vec![
            vec![1.0, 1.0], // infeasible, violation 2
            vec![5.0, 5.0], // feasible, rank 1
            vec![2.0, 2.0], // feasible, rank 0
            vec![0.0, 0.0], // infeasible, violation 0.5
            vec![9.0, 0.0], // feasible, rank 0
            vec![0.0, 9.0], // infeasible, violation 2 (tie)
            vec![0.0, 0.0], // infeasible, violation NaN: the worst
        ];
        let viol = [2.0, 0.0, -1.0, 0.5, 0.0, 2.0, f64::NAN];
        assert_eq!(constrained_ranks(&pts, &viol), [3, 1, 0, 2, 0, 3, 4]);
        // Without feasible points, ranks start at 0; missing violations count as 0.
        assert_eq!(constrained_ranks(&pts[..1], &[3.0]), [0]);
        assert_eq!(
            constrained_ranks(&pts[1..3], &[]),
            nondominated_ranks(&pts[1..3])
        );
    }

    #[test]
    fn hypervolume_of_hand_computed_boxes() {
        // 2-D staircase: 3·1 + 2·1 + 1·1.
        let r2 = [4.0, 4.0];
        let mut pts = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        assert_eq!(hypervolume(&pts, &r2), 6.0);
        // Dominated points, duplicates and points outside the box change nothing.
        pts.extend([
            vec![3.0, 3.0],
            vec![2.0, 2.0],
            vec![5.0, 0.0],
            vec![0.0, f64::NAN],
        ]);
        assert_eq!(hypervolume(&pts, &r2), 6.0);
        // 3-D, two boxes: 3·2·1 + 2·3·2 − 2·2·1 (their intersection from (2, 2, 3)) = 14;
        // optuna._hypervolume.compute_hypervolume agrees (14.0; scripts/reference/pareto.py).
        let p3 = vec![vec![1.0, 2.0, 3.0], vec![2.0, 1.0, 2.0]];
        assert_eq!(hypervolume(&p3, &[4.0; 3]), 14.0);
        // 4-D, three boxes by inclusion–exclusion (numpy over the 7 subsets) = 91, as
        // compute_hypervolume gives.
        let p4 = vec![
            vec![0.0, 1.0, 2.0, 3.0],
            vec![1.0, 0.0, 3.0, 2.0],
            vec![2.0, 2.0, 0.0, 0.0],
        ];
        assert_eq!(hypervolume(&p4, &[4.0; 4]), 91.0);
        // One objective: the distance from the best point to the reference.
        assert_eq!(hypervolume(&[vec![3.0], vec![1.5], vec![7.0]], &[4.0]), 2.5);
        // Nothing inside the box, or no points: 0. An unbounded box: ∞.
        assert_eq!(hypervolume(&[vec![5.0, 5.0]], &r2), 0.0);
        assert_eq!(hypervolume(&[], &r2), 0.0);
        assert_eq!(hypervolume(&[vec![1.0, 1.0]], &[]), 0.0);
        assert_eq!(
            hypervolume(&[vec![1.0, 1.0]], &[f64::INFINITY, 2.0]),
            f64::INFINITY
        );
        assert_eq!(
            hypervolume(
                &[vec![1.0, 1.0, 1.0], vec![0.0, 2.0, 2.0]],
                &[2.0, 2.0, f64::INFINITY]
            ),
            f64::INFINITY
        );
    }

    #[test]
    fn hypervolume_matches_optuna_on_random_sets() {
        // optuna._hypervolume.compute_hypervolume(lcg_points(n, d, seed), np.ones(d)),
        // Optuna 5.0.0 (its 2-D sweep, O(N²) 3-D routine and WFG; scripts/reference/pareto.py).
        let cases = [
            (40, 2, 1, 0.9136630000000001),
            (40, 3, 2, 0.8400893159999999),
            (30, 4, 3, 0.5162041908730001),
            (20, 5, 4, 0.16166871742477903),
            (60, 3, 5, 0.7997177440000001),
            (25, 6, 6, 0.24744858777048795),
        ];
        for (n, d, seed, want) in cases {
            let got = hypervolume(&lcg_points(n, d, seed), &vec![1.0; d]);
            assert!(close(got, want, 1e-12), "n={n} d={d}: {got} vs {want}");
        }
    }

    #[test]
    fn hypervolume_matches_inclusion_exclusion() {
        for d in 1..=5 {
            for seed in 0..30 {
                // A coarse grid (ties, duplicates) and a reference some points exceed.
                let pts: Vec<Vec<f64>> = lcg_points(9, d, 100 + seed)
                    .into_iter()
                    .map(|p| p.into_iter().map(|x| (x * 6.0).floor() / 4.0).collect())
                    .collect();
                let reference = vec![1.2; d];
                let want = inclusion_exclusion(&pts, &reference);
                let got = hypervolume(&pts, &reference);
                assert!(
                    close(got, want, 1e-12),
                    "d={d} seed={seed}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn hssp_matches_optuna() {
        // optuna._hypervolume.hssp._solve_hssp(F, np.arange(len(F)), k, ref) with
        // ref = max(1.1·worst, 0.9·worst), Optuna 5.0.0 (scripts/reference/pareto.py). F is the
        // 2-D front (u, 1 − √u) for u = lcg_points(30, 1, 21) (29 distinct points: index 7 wins
        // over its later duplicate), or the Pareto front of lcg_points(n, d, seed) in input order.
        let u = lcg_points(30, 1, 21);
        let f2: Vec<Vec<f64>> = u.iter().map(|p| vec![p[0], 1.0 - p[0].sqrt()]).collect();
        let r2 = reference_point(&f2);
        assert_eq!(r2, [0.9933000000000001, 0.9565775470855418]);
        assert_eq!(hssp(&f2, 1, &r2), [7]);
        assert_eq!(hssp(&f2, 4, &r2), [7, 28, 9, 15]);
        assert_eq!(hssp(&f2, 7, &r2), [7, 28, 9, 15, 8, 21, 10]);
        let cases: [(usize, usize, u64, usize, &[usize]); 2] = [
            (200, 3, 12, 5, &[4, 14, 12, 6, 3]),
            (150, 4, 13, 6, &[1, 32, 41, 3, 42, 38]),
        ];
        for (n, d, seed, k, want) in cases {
            let pts = lcg_points(n, d, seed);
            let front: Vec<Vec<f64>> = pareto_front(&pts)
                .into_iter()
                .map(|i| pts[i].clone())
                .collect();
            let r = reference_point(&front);
            assert_eq!(hssp(&front, k, &r), want, "d={d}");
        }
    }

    #[test]
    fn hssp_is_the_greedy_choice_on_arbitrary_sets() {
        for d in 1..=4 {
            for seed in 0..10 {
                // Dominated points, duplicates and points beyond the reference mixed in.
                let pts: Vec<Vec<f64>> = lcg_points(14, d, 300 + seed)
                    .into_iter()
                    .map(|p| p.into_iter().map(|x| (x * 8.0).floor() / 7.0).collect())
                    .collect();
                let reference = vec![1.0; d];
                for k in [1, 3, 6] {
                    let mut chosen: Vec<Vec<f64>> = Vec::new();
                    for _ in 0..k {
                        let base = hypervolume(&chosen, &reference);
                        let best = pts
                            .iter()
                            .map(|p| {
                                let mut with = chosen.clone();
                                with.push(p.clone());
                                hypervolume(&with, &reference) - base
                            })
                            .fold(0.0, f64::max);
                        let pick = pts
                            .iter()
                            .find(|p| {
                                let mut with = chosen.clone();
                                with.push((*p).clone());
                                hypervolume(&with, &reference) - base >= best - 1e-12
                            })
                            .cloned()
                            .unwrap_or_default();
                        chosen.push(pick);
                    }
                    let got = hssp(&pts, k, &reference);
                    assert_eq!(got.len(), k);
                    let mut distinct = got.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    assert_eq!(distinct.len(), k, "indices repeat: {got:?}");
                    let got_hv = hypervolume(
                        &got.iter().map(|&i| pts[i].clone()).collect::<Vec<_>>(),
                        &reference,
                    );
                    let want = hypervolume(&chosen, &reference);
                    assert!(close(got_hv, want, 1e-12), "d={d} seed={seed} k={k}");
                }
            }
        }
    }

    #[test]
    fn hssp_edge_cases() {
        let pts = vec![
            vec![1.0, 2.0],
            vec![1.0, 2.0],
            vec![2.0, 1.0],
            vec![1.0, 2.0],
        ];
        let r = [3.0, 3.0];
        // k covers everything; k = 0; fewer distinct points than k: every distinct point plus
        // the first duplicates, in index order.
        assert_eq!(hssp(&pts, 4, &r), [0, 1, 2, 3]);
        assert!(hssp(&pts, 0, &r).is_empty());
        assert_eq!(hssp(&pts, 3, &r), [0, 1, 2]);
        // An infinite reference: the first distinct points in lexicographic order.
        let more = vec![vec![2.0, 1.0], vec![1.0, 2.0], vec![0.5, 3.0]];
        assert_eq!(hssp(&more, 2, &[f64::INFINITY, 4.0]), [2, 1]);
        // A point beyond the reference is picked only when nothing else contributes.
        let out = vec![vec![0.0, 5.0], vec![2.0, 2.0], vec![1.0, 2.6]];
        assert_eq!(hssp(&out, 2, &r), [1, 2]);
    }

    #[test]
    fn reference_point_rule() {
        let pts = vec![vec![1.0, -2.0, 0.0], vec![3.0, -4.0, -1.0]];
        // max(1.1·3, 0.9·3) = 3.3; max(1.1·(−2), 0.9·(−2)) = −1.8; worst 0 → EPS.
        let r = reference_point(&pts);
        assert!((r[0] - 3.3).abs() < 1e-12 && (r[1] + 1.8).abs() < 1e-12);
        assert_eq!(r[2], REFERENCE_EPS);
        assert!(reference_point(&[]).is_empty());
        // A short point does not panic; it just has no say in the missing objective.
        assert_eq!(reference_point(&[vec![1.0, 1.0], vec![2.0]])[1], 1.1);
    }
}
