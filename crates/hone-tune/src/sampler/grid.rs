//! Exhaustive grid search in definition order.

use std::collections::HashSet;

use crate::error::{Result, TuneError};
use crate::sampler::{SampleContext, Sampler};
use crate::space::{Params, SearchSpace};
use crate::trial::TrialState;

/// Grids larger than this are refused (they would never finish and only waste memory).
pub const MAX_GRID: usize = 10_000_000;

/// Visits every combination of parameter values once, in lexicographic definition order (the
/// first parameter changes slowest). Conditional parameters are only varied where they are
/// active, so a combination never differs only in an inactive value. Each `ask` hands out the
/// first combination no COMPLETE, PRUNED, RUNNING or WAITING trial holds (failed ones are
/// retried), so enqueued points, resumed studies and parallel workers in one process all
/// continue the same order.
#[derive(Debug, Clone)]
pub struct GridSampler {
    points: Vec<Params>,
}

impl GridSampler {
    /// Enumerates the grid; refuses continuous floats (no `step`) and grids over
    /// [`MAX_GRID`] points.
    pub fn new(space: &SearchSpace) -> Result<Self> {
        for p in &space.params {
            if p.distribution.grid().is_none() {
                return Err(TuneError::Sampler {
                    sampler: "grid",
                    message: format!(
                        "parameter {:?} is a continuous float; give it a step or list its values \
                         as type = \"categorical\"",
                        p.name
                    ),
                });
            }
        }
        let mut points = Vec::new();
        enumerate(space, 0, &mut Params::new(), &mut points)?;
        Ok(GridSampler { points })
    }

    /// The combinations in visiting order.
    pub fn points(&self) -> &[Params] {
        &self.points
    }
}

fn enumerate(space: &SearchSpace, i: usize, cur: &mut Params, out: &mut Vec<Params>) -> Result<()> {
    if out.len() > MAX_GRID {
        return Err(TuneError::Sampler {
            sampler: "grid",
            message: format!("the grid has more than {MAX_GRID} points; use random or tpe"),
        });
    }
    let Some(p) = space.params.get(i) else {
        out.push(cur.clone());
        return Ok(());
    };
    if !space.is_active(p, cur) {
        return enumerate(space, i + 1, cur, out);
    }
    for v in p.distribution.grid().unwrap_or_default() {
        cur.insert(p.name.clone(), v);
        enumerate(space, i + 1, cur, out)?;
    }
    cur.remove(&p.name);
    Ok(())
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
        self.points
            .iter()
            .find(|p| !taken.contains(&key(p)))
            .cloned()
            .ok_or(TuneError::Exhausted(self.points.len()))
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
        assert_eq!(g.points().len(), 4); // gbdt, rf×{0.5, 0.6, 0.7}
        assert!(!g.points()[0].contains_key("frac"));
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
