//! Exhaustive grid search in definition order.

use std::collections::HashSet;

use crate::error::{Result, TuneError};
use crate::sampler::{SampleContext, Sampler};
use crate::space::{Params, SearchSpace};
use crate::trial::TrialState;

/// Grids larger than this are refused (a study that size would never finish).
pub const MAX_GRID: u64 = 10_000_000;

/// Visits every combination of parameter values once, in lexicographic definition order (the
/// first parameter changes slowest). Conditional parameters are only varied where they are
/// active, so a combination never differs only in an inactive value. Each `ask` hands out the
/// first combination no COMPLETE, PRUNED, RUNNING or WAITING trial holds (failed ones are
/// retried), so enqueued points, resumed studies and parallel workers in one process all
/// continue the same order. The combinations are walked, never stored: a grid of millions of
/// points costs no memory.
#[derive(Debug, Clone)]
pub struct GridSampler {
    space: SearchSpace,
    size: u64,
}

/// The error for a grid over the limit; `size` says how many points it has.
fn too_big(space: &SearchSpace, size: &str) -> TuneError {
    let axes = space
        .params
        .iter()
        .filter_map(|p| {
            let n = p.distribution.grid_len()?;
            (n > 1).then(|| format!("{:?} {n}", p.name))
        })
        .collect::<Vec<_>>()
        .join(" × ");
    TuneError::Sampler {
        sampler: "grid",
        message: format!(
            "the grid has {size} points ({axes} values), over the limit of {MAX_GRID}; give \
             the parameters larger steps or fewer values, or use random or tpe"
        ),
    }
}

impl GridSampler {
    /// Sizes the grid; refuses continuous floats (no `step`) and grids over [`MAX_GRID`]
    /// points (counted with checked arithmetic, before anything is built).
    pub fn new(space: &SearchSpace) -> Result<Self> {
        let mut bound = Some(1u64);
        for p in &space.params {
            let Some(n) = p.distribution.grid_len() else {
                return Err(TuneError::Sampler {
                    sampler: "grid",
                    message: format!(
                        "parameter {:?} is a continuous float; give it a step or list its values \
                         as type = \"categorical\"",
                        p.name
                    ),
                });
            };
            bound = bound.and_then(|b| b.checked_mul(n));
        }
        // Without conditions the product of the axis sizes is the size; with them only the
        // active combinations count (a walk that stops just past the limit).
        let size = match bound {
            _ if !space.is_unconditional() => count(space, 0, &mut Params::new()),
            Some(b) if b <= MAX_GRID => b,
            Some(b) => return Err(too_big(space, &b.to_string())),
            None => return Err(too_big(space, "more than 2^64")),
        };
        if size > MAX_GRID {
            return Err(too_big(space, &format!("more than {MAX_GRID}")));
        }
        Ok(GridSampler {
            space: space.clone(),
            size,
        })
    }

    /// The number of combinations.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The combinations in visiting order (builds them all: for tests and small grids).
    pub fn points(&self) -> Vec<Params> {
        let mut out = Vec::new();
        walk(&self.space, 0, &mut Params::new(), &mut |p| {
            out.push(p.clone());
            false
        });
        out
    }
}

/// True when a parameter after `i` is conditional on parameter `i`.
fn is_parent(space: &SearchSpace, i: usize) -> bool {
    let name = &space.params[i].name;
    space.params[i + 1..]
        .iter()
        .any(|p| p.when.iter().any(|(parent, _)| parent == name))
}

/// The number of combinations of parameters `i..` given the values in `cur`, saturating just
/// past [`MAX_GRID`] (the caller only needs to know it is too many). A parameter no later one
/// depends on multiplies the count without its values being visited.
fn count(space: &SearchSpace, i: usize, cur: &mut Params) -> u64 {
    let Some(p) = space.params.get(i) else {
        return 1;
    };
    if !space.is_active(p, cur) {
        return count(space, i + 1, cur);
    }
    let n = p.distribution.grid_len().unwrap_or(1);
    if !is_parent(space, i) {
        return n.saturating_mul(count(space, i + 1, cur)).min(MAX_GRID + 1);
    }
    let mut total = 0u64;
    for k in 0..n {
        let v = p.distribution.grid_value(k);
        cur.insert(p.name.clone(), v);
        total = total.saturating_add(count(space, i + 1, cur));
        if total > MAX_GRID {
            break;
        }
    }
    cur.remove(&p.name);
    total.min(MAX_GRID + 1)
}

/// Visits the combinations of parameters `i..` in order until `stop` returns true; returns
/// whether it did.
fn walk(
    space: &SearchSpace,
    i: usize,
    cur: &mut Params,
    stop: &mut impl FnMut(&Params) -> bool,
) -> bool {
    let Some(p) = space.params.get(i) else {
        return stop(cur);
    };
    if !space.is_active(p, cur) {
        return walk(space, i + 1, cur, stop);
    }
    for k in 0..p.distribution.grid_len().unwrap_or(0) {
        cur.insert(p.name.clone(), p.distribution.grid_value(k));
        if walk(space, i + 1, cur, stop) {
            return true;
        }
    }
    cur.remove(&p.name);
    false
}

fn key(p: &Params) -> Vec<(String, u64)> {
    p.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

impl Sampler for GridSampler {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        let taken: HashSet<Vec<(String, u64)>> = ctx
            .trials
            .iter()
            .filter(|t| t.state != TrialState::Fail)
            .map(|t| key(&t.params))
            .collect();
        let mut found = None;
        walk(&self.space, 0, &mut Params::new(), &mut |p| {
            if taken.contains(&key(p)) {
                return false;
            }
            found = Some(p.clone());
            true
        });
        found.ok_or(TuneError::Exhausted(self.size as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::SearchSpace;
    use crate::trial::{Direction, Trial};

    #[test]
    fn visits_every_point_once_in_definition_order() {
        let space = SearchSpace::from_toml_str(
            "[a]\ntype = \"int\"\nlow = 0\nhigh = 2\n[b]\ntype = \"categorical\"\nchoices = [\"x\", \"y\"]\n",
        )
        .unwrap();
        let mut g = GridSampler::new(&space).unwrap();
        let mut trials = Vec::new();
        for n in 0..6 {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: &trials,
                number: n,
                seed: 0,
            };
            let p = g.sample(&ctx).unwrap();
            trials.push(Trial::new(n, TrialState::Complete, p));
        }
        let seen: Vec<(f64, f64)> = trials
            .iter()
            .map(|t| (t.params["a"], t.params["b"]))
            .collect();
        assert_eq!(
            seen,
            [(0., 0.), (0., 1.), (1., 0.), (1., 1.), (2., 0.), (2., 1.)]
        );
        let ctx = SampleContext {
            space: &space,
            directions: &[Direction::Minimize],
            trials: &trials,
            number: 6,
            seed: 0,
        };
        assert!(matches!(g.sample(&ctx), Err(TuneError::Exhausted(6))));
        // A failed point is handed out again.
        trials[3].state = TrialState::Fail;
        let ctx = SampleContext {
            space: &space,
            directions: &[Direction::Minimize],
            trials: &trials,
            number: 6,
            seed: 0,
        };
        assert_eq!(g.sample(&ctx).unwrap(), trials[3].params);
    }

    #[test]
    fn conditional_children_vary_only_where_active() {
        let space = SearchSpace::from_toml_str(
            "[boosting]\ntype = \"categorical\"\nchoices = [\"gbdt\", \"rf\"]\n\
             [frac]\ntype = \"float\"\nlow = 0.5\nhigh = 0.7\nstep = 0.1\nwhen = { boosting = [\"rf\"] }\n",
        )
        .unwrap();
        let g = GridSampler::new(&space).unwrap();
        assert_eq!(g.size(), 4);
        assert_eq!(g.points().len(), 4); // gbdt, rf×{0.5, 0.6, 0.7}
        assert!(!g.points()[0].contains_key("frac"));
    }

    #[test]
    fn huge_grids_are_refused_before_anything_is_built() {
        let grid_err = |text: &str| {
            let space = SearchSpace::from_toml_str(text).unwrap();
            GridSampler::new(&space).unwrap_err().to_string()
        };
        // One axis of 2^53 + 1 values.
        let e = grid_err("[n]\ntype = \"int\"\nlow = 0\nhigh = 9007199254740992\n");
        assert!(
            e.contains("9007199254740993 points (\"n\" 9007199254740993 values)"),
            "{e}"
        );
        assert!(e.contains("over the limit of 10000000"), "{e}");
        // The product of the axes overflows 64 bits: checked, not wrapped.
        let axis =
            |name: &str| format!("[{name}]\ntype = \"int\"\nlow = 0\nhigh = 1099511627776\n");
        let e = grid_err(&[axis("a"), axis("b"), axis("c")].concat());
        assert!(e.contains("more than 2^64 points"), "{e}");
        assert!(e.contains("\"a\" 1099511627777 × \"b\""), "{e}");
        // A float step that makes billions of values.
        let e = grid_err("[x]\ntype = \"float\"\nlow = 0\nhigh = 1\nstep = 1e-12\n");
        assert!(e.contains("\"x\""), "{e}");
        // Conditional: only the active combinations count (2 + 6M + 3M, not 2 × 6M × 3M).
        let space = SearchSpace::from_toml_str(
            "[k]\ntype = \"categorical\"\nchoices = [\"a\", \"b\"]\n\
             [u]\ntype = \"int\"\nlow = 1\nhigh = 6000000\nwhen = { k = [\"a\"] }\n\
             [v]\ntype = \"int\"\nlow = 1\nhigh = 3000000\nwhen = { k = [\"b\"] }\n",
        )
        .unwrap();
        let g = GridSampler::new(&space).unwrap();
        assert_eq!(g.size(), 9_000_000);
        let mut g = g;
        let ctx = SampleContext {
            space: &space,
            directions: &[Direction::Minimize],
            trials: &[],
            number: 0,
            seed: 0,
        };
        let first = g.sample(&ctx).unwrap();
        assert_eq!((first["k"], first["u"]), (0.0, 1.0));
    }

    #[test]
    fn refuses_continuous_ranges() {
        let space =
            SearchSpace::from_toml_str("[lr]\ntype = \"float\"\nlow = 0.01\nhigh = 0.3\n").unwrap();
        let e = GridSampler::new(&space).unwrap_err().to_string();
        assert!(
            e.contains("\"lr\" is a continuous float; give it a step"),
            "{e}"
        );
    }
}
