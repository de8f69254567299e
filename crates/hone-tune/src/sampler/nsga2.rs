//! NSGA-II (Deb et al. 2002), the evolutionary multi-objective sampler, with the defaults of
//! Optuna's `NSGAIISampler` (population 50, crossover probability 0.9, uniform crossover with
//! swapping probability 0.5, mutation probability 1 / number of parameters).
//!
//! Trials are grouped into generations by number: trial `n` belongs to generation
//! `n / population_size`. Generation 0 is drawn uniformly at random (exactly what the random
//! sampler draws for the same seed and numbers). Every later generation `g` breeds from the
//! elite population `E(g)`: `E(1)` is the best `population_size` COMPLETE trials of
//! generation 0 and `E(g + 1)` the best `population_size` of `E(g)` ∪ the COMPLETE trials of
//! generation `g`, "best" meaning by constrained non-domination rank (feasible trials by Pareto
//! rank, infeasible ones after them by total violation), the front that does not fit whole
//! being cut by crowding distance. A child takes two parents, each the winner of a binary
//! tournament on (rank, crowding distance) within the elite, and mixes their parameters by
//! uniform crossover (with probability `crossover_prob`; otherwise it copies one random elite
//! member); each parameter is then redrawn uniformly with probability `mutation_prob`.
//! Parameters a parent does not have (conditional ones) are drawn uniformly too.
//!
//! Only COMPLETE trials are population members (PRUNED, FAIL, RUNNING and WAITING ones are
//! not, as in Optuna). Every random draw comes from [`trial_rng`], and the elite of a
//! generation is a function of the finished trials before it, so the same seed and the same
//! finished trials give the same parameters, in a resumed study as in an uninterrupted one.
//! Elites are cached once every trial before their generation has finished (they cannot
//! change after that), which keeps each `sample` call O(number of trials) in cheap scans plus
//! O(population²) work for the newest generation.
//!
//! Deviations from Optuna: generations follow trial numbers rather than the order in which
//! trials completed (so that they do not depend on timing), and parent tournaments also look
//! at crowding distance, as in Deb's NSGA-II (Optuna's compares by domination only).

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TuneError};
use crate::pareto;
use crate::sampler::{SampleContext, Sampler, sample_uniform, trial_rng};
use crate::space::{Distribution, Params, SearchSpace};
use crate::trial::{Direction, Trial, TrialState};

/// The random stream of generation-0 (and parentless) trials: the random sampler's, so that
/// generation 0 is exactly random search.
const SALT_RANDOM: u64 = 0;
/// The random stream of bred children.
const SALT_CHILD: u64 = 0x6e73_6761_325f_6368;

/// NSGA-II options (the `sampler = { type = "nsga2", ... }` table); every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Nsga2Options {
    /// Trials per generation, and the size of the elite population (at least 2; Optuna: 50).
    pub population_size: usize,
    /// Probability that a child is bred by crossover of two parents rather than copied from
    /// one elite member (Optuna: 0.9).
    pub crossover_prob: f64,
    /// Probability that uniform crossover takes a parameter from the second parent rather than
    /// the first (Optuna: 0.5).
    pub swapping_prob: f64,
    /// Probability that each parameter of a child is redrawn uniformly; `None` means 1 / the
    /// number of searchable parameters of the first parent (Optuna's default).
    pub mutation_prob: Option<f64>,
}

impl Default for Nsga2Options {
    fn default() -> Self {
        Nsga2Options {
            population_size: 50,
            crossover_prob: 0.9,
            swapping_prob: 0.5,
            mutation_prob: None,
        }
    }
}

impl Nsga2Options {
    /// Checks that the population holds two parents and every probability is in `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| {
            Err(TuneError::Sampler {
                sampler: "nsga2",
                message,
            })
        };
        if self.population_size < 2 {
            return bad(format!(
                "population_size must be at least 2 (got {})",
                self.population_size
            ));
        }
        let probs = [
            ("crossover_prob", Some(self.crossover_prob)),
            ("swapping_prob", Some(self.swapping_prob)),
            ("mutation_prob", self.mutation_prob),
        ];
        for (name, p) in probs {
            if let Some(p) = p
                && !(0.0..=1.0).contains(&p)
            {
                return bad(format!("{name} must be in [0, 1] (got {p})"));
            }
        }
        Ok(())
    }
}

/// The NSGA-II sampler (see the module documentation). One sampler serves one study: it
/// caches the elite populations of settled generations.
pub struct Nsga2Sampler {
    options: Nsga2Options,
    /// The study seed the cache belongs to.
    cache_seed: u64,
    /// Trial numbers (ascending) of `E(1)`, `E(2)`, ...: the elites whose generations are
    /// settled (every earlier trial finished), so that they can never change.
    settled: Vec<Vec<u64>>,
}

impl Nsga2Sampler {
    /// A NSGA-II sampler.
    pub fn new(options: Nsga2Options) -> Self {
        Nsga2Sampler {
            options,
            cache_seed: 0,
            settled: Vec::new(),
        }
    }

    /// The elite population `E(generation)` (sorted by trial number), from the cache as far as
    /// it goes.
    fn elite<'a>(&mut self, ctx: &SampleContext<'a>, generation: u64) -> Vec<Member<'a>> {
        let size = self.options.population_size as u64;
        let trials = Trials::new(ctx.trials);
        if self.cache_seed != ctx.seed {
            self.cache_seed = ctx.seed;
            self.settled.clear();
        }
        let mut h = generation.min(self.settled.len() as u64);
        let mut elite = Vec::new();
        if h > 0 {
            let numbers = &self.settled[h as usize - 1];
            elite = numbers
                .iter()
                .filter_map(|&n| trials.get(n).and_then(|t| Member::of(t, ctx.directions)))
                .collect();
            if elite.len() != numbers.len() {
                // Not the trials this cache was built from: start over.
                self.settled.clear();
                elite.clear();
                h = 0;
            }
        }
        let settled_below = trials.first_unfinished();
        while h < generation {
            let born = trials
                .numbered(h * size, (h + 1) * size)
                .into_iter()
                .filter_map(|t| Member::of(t, ctx.directions));
            elite.extend(born);
            elite = select(elite, self.options.population_size);
            h += 1;
            if h as usize == self.settled.len() + 1 && h * size <= settled_below {
                self.settled
                    .push(elite.iter().map(|m| m.trial.number).collect());
            }
        }
        elite
    }

    /// A child of `elite` (not empty): crossover or copy, then mutation, over the active
    /// parameters of `space`.
    fn breed(&self, space: &SearchSpace, elite: &[Member<'_>], rng: &mut StdRng) -> Params {
        let (rank, crowd) = rank_and_crowd(elite);
        let better =
            |a: usize, b: usize| rank[a] < rank[b] || (rank[a] == rank[b] && crowd[a] > crowd[b]);
        let (first, second) = if rng.random::<f64>() < self.options.crossover_prob {
            let all: Vec<usize> = (0..elite.len()).collect();
            let first = tournament(&all, &better, rng);
            let rest: Vec<usize> = all.into_iter().filter(|&i| i != first).collect();
            let second = if rest.is_empty() {
                first
            } else {
                tournament(&rest, &better, rng)
            };
            (first, second)
        } else {
            let only = rng.random_range(0..elite.len());
            (only, only)
        };
        let (p0, p1) = (&elite[first].trial.params, &elite[second].trial.params);
        let mutation = self.options.mutation_prob.unwrap_or_else(|| {
            let n = space
                .params
                .iter()
                .filter(|p| p0.contains_key(&p.name) && searchable(&p.distribution))
                .count();
            1.0 / n.max(1) as f64
        });
        let swapping = self.options.swapping_prob;
        space.complete(&Params::new(), |p| {
            let parent = if rng.random::<f64>() < swapping {
                p1
            } else {
                p0
            };
            let mutate = rng.random::<f64>() < mutation;
            match parent.get(&p.name) {
                Some(v) if !mutate => *v,
                _ => p.distribution.from_unit(rng.random()),
            }
        })
    }
}

impl Sampler for Nsga2Sampler {
    fn name(&self) -> &'static str {
        "nsga2"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Params> {
        self.options.validate()?;
        let generation = ctx.number / self.options.population_size as u64;
        let elite = if generation == 0 {
            Vec::new()
        } else {
            self.elite(ctx, generation)
        };
        if elite.is_empty() {
            let mut rng = trial_rng(ctx.seed, ctx.number, SALT_RANDOM);
            return Ok(sample_uniform(ctx.space, &mut rng));
        }
        let mut rng = trial_rng(ctx.seed, ctx.number, SALT_CHILD);
        Ok(self.breed(ctx.space, &elite, &mut rng))
    }

    fn check(&self, _space: &SearchSpace, _directions: &[Direction]) -> Result<()> {
        self.options.validate()
    }
}

/// A COMPLETE trial as a member of the population: its losses and total constraint violation.
struct Member<'a> {
    trial: &'a Trial,
    loss: Vec<f64>,
    violation: f64,
}

impl<'a> Member<'a> {
    /// The trial as a member, when it is COMPLETE with one non-NaN value per objective.
    fn of(trial: &'a Trial, directions: &[Direction]) -> Option<Self> {
        if trial.state != TrialState::Complete {
            return None;
        }
        let values = trial.values.as_ref()?;
        if values.len() != directions.len() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let loss = values
            .iter()
            .zip(directions)
            .map(|(v, d)| d.loss(*v))
            .collect();
        // A NaN constraint cannot be shown to hold: count it as the worst violation.
        let violation = trial.constraints.as_ref().map_or(0.0, |c| {
            c.iter()
                .map(|v| {
                    if v.is_nan() {
                        f64::INFINITY
                    } else {
                        v.max(0.0)
                    }
                })
                .sum()
        });
        Some(Member {
            trial,
            loss,
            violation,
        })
    }
}

/// Lookups into the study's trials, by binary search when they are in number order (as
/// [`SampleContext`] promises) and by scanning otherwise.
struct Trials<'a> {
    all: &'a [Trial],
    sorted: bool,
}

impl<'a> Trials<'a> {
    fn new(all: &'a [Trial]) -> Self {
        let sorted = all.windows(2).all(|w| w[0].number < w[1].number);
        Trials { all, sorted }
    }

    fn get(&self, number: u64) -> Option<&'a Trial> {
        if self.sorted {
            let i = self.all.binary_search_by_key(&number, |t| t.number).ok()?;
            self.all.get(i)
        } else {
            self.all.iter().find(|t| t.number == number)
        }
    }

    /// The trials numbered in `[lo, hi)`.
    fn numbered(&self, lo: u64, hi: u64) -> Vec<&'a Trial> {
        if self.sorted {
            let a = self.all.partition_point(|t| t.number < lo);
            let b = self.all.partition_point(|t| t.number < hi);
            self.all[a..b].iter().collect()
        } else {
            let mut v: Vec<&Trial> = self
                .all
                .iter()
                .filter(|t| (lo..hi).contains(&t.number))
                .collect();
            v.sort_by_key(|t| t.number);
            v
        }
    }

    /// The smallest trial number that is missing or not finished: every generation that
    /// starts at or below it is settled.
    fn first_unfinished(&self) -> u64 {
        let mut done: Vec<u64> = self
            .all
            .iter()
            .filter(|t| t.state.is_finished())
            .map(|t| t.number)
            .collect();
        if !self.sorted {
            done.sort_unstable();
        }
        let mut next = 0;
        for n in done {
            if n == next {
                next += 1;
            } else if n > next {
                break;
            }
        }
        next
    }
}

/// True for a parameter with more than one possible value.
fn searchable(d: &Distribution) -> bool {
    match d {
        Distribution::Float {
            low,
            high,
            step: None,
            ..
        } => high > low,
        _ => d.grid_len().is_some_and(|n| n > 1),
    }
}

/// The best `size` members by constrained rank, the last front that does not fit whole cut by
/// crowding distance (ties to the lower trial number); returned sorted by trial number, so the
/// result does not depend on the order of `pool`.
fn select(pool: Vec<Member<'_>>, size: usize) -> Vec<Member<'_>> {
    let loss: Vec<Vec<f64>> = pool.iter().map(|m| m.loss.clone()).collect();
    let violation: Vec<f64> = pool.iter().map(|m| m.violation).collect();
    let rank = pareto::constrained_ranks(&loss, &violation);
    let mut keep = vec![false; pool.len()];
    let mut kept = 0;
    let top = rank.iter().copied().max().map_or(0, |r| r + 1);
    for r in 0..top {
        if kept >= size {
            break;
        }
        let front: Vec<usize> = (0..pool.len()).filter(|&i| rank[i] == r).collect();
        if kept + front.len() <= size {
            for &i in &front {
                keep[i] = true;
            }
            kept += front.len();
            continue;
        }
        let crowd = crowding(&front, &pool);
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| {
            crowd[b].total_cmp(&crowd[a]).then(
                pool[front[a]]
                    .trial
                    .number
                    .cmp(&pool[front[b]].trial.number),
            )
        });
        for &k in order.iter().take(size - kept) {
            keep[front[k]] = true;
        }
        kept = size;
    }
    let mut elite: Vec<Member<'_>> = pool
        .into_iter()
        .zip(keep)
        .filter_map(|(m, k)| k.then_some(m))
        .collect();
    elite.sort_by_key(|m| m.trial.number);
    elite
}

/// Crowding distance of each member of `front` (indices into `members`), as Optuna defines it:
/// per objective, the gap between the two neighbouring values (`±∞` beyond the ends, so the
/// extremes are infinitely far; `∞ - ∞` counts as 0) over the range of finite values, summed
/// over objectives that are not constant on the front.
fn crowding(front: &[usize], members: &[Member<'_>]) -> Vec<f64> {
    let mut dist = vec![0.0; front.len()];
    let d = front.first().map_or(0, |&i| members[i].loss.len());
    for j in 0..d {
        let value = |k: usize| members[front[k]].loss[j];
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| {
            value(a).total_cmp(&value(b)).then(
                members[front[a]]
                    .trial
                    .number
                    .cmp(&members[front[b]].trial.number),
            )
        });
        let sorted: Vec<f64> = order.iter().map(|&k| value(k)).collect();
        let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else {
            continue;
        };
        if lo == hi {
            continue;
        }
        let min = sorted.iter().copied().find(|v| *v != f64::NEG_INFINITY);
        let max = sorted.iter().rev().copied().find(|v| *v != f64::INFINITY);
        let width = match (min, max) {
            (Some(a), Some(b)) if b - a > 0.0 => b - a,
            _ => 1.0,
        };
        for (pos, &k) in order.iter().enumerate() {
            let below = if pos == 0 {
                f64::NEG_INFINITY
            } else {
                sorted[pos - 1]
            };
            let above = sorted.get(pos + 1).copied().unwrap_or(f64::INFINITY);
            let gap = if below == above { 0.0 } else { above - below };
            dist[k] += gap / width;
        }
    }
    dist
}

/// Constrained rank within the elite and crowding distance within each rank's front, the keys
/// of the parent tournaments.
fn rank_and_crowd(elite: &[Member<'_>]) -> (Vec<usize>, Vec<f64>) {
    let loss: Vec<Vec<f64>> = elite.iter().map(|m| m.loss.clone()).collect();
    let violation: Vec<f64> = elite.iter().map(|m| m.violation).collect();
    let rank = pareto::constrained_ranks(&loss, &violation);
    let mut crowd = vec![0.0; elite.len()];
    let top = rank.iter().copied().max().map_or(0, |r| r + 1);
    for r in 0..top {
        let front: Vec<usize> = (0..elite.len()).filter(|&i| rank[i] == r).collect();
        for (&i, c) in front.iter().zip(crowding(&front, elite)) {
            crowd[i] = c;
        }
    }
    (rank, crowd)
}

/// Binary tournament: two uniform draws from `pool` (with replacement); the better one wins,
/// the first on a tie.
fn tournament(pool: &[usize], better: &impl Fn(usize, usize) -> bool, rng: &mut StdRng) -> usize {
    let a = pool[rng.random_range(0..pool.len())];
    let b = pool[rng.random_range(0..pool.len())];
    if better(b, a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::{RandomSampler, SamplerSpec};

    fn float_space(d: usize) -> SearchSpace {
        let text: String = (0..d)
            .map(|i| format!("[x{i}]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n"))
            .collect();
        SearchSpace::from_toml_str(&text).unwrap()
    }

    fn options(population_size: usize) -> Nsga2Options {
        Nsga2Options {
            population_size,
            ..Default::default()
        }
    }

    /// Runs `n` trials one after another, each COMPLETE with `objective`'s values.
    fn run(
        sampler: &mut dyn Sampler,
        space: &SearchSpace,
        directions: &[Direction],
        seed: u64,
        n: u64,
        objective: impl Fn(&Params) -> Vec<f64>,
    ) -> Vec<Trial> {
        let mut trials: Vec<Trial> = Vec::new();
        for number in 0..n {
            let ctx = SampleContext {
                space,
                directions,
                trials: &trials,
                number,
                seed,
            };
            let params = sampler.sample(&ctx).unwrap();
            let mut t = Trial::new(number, TrialState::Complete, params);
            t.values = Some(objective(&t.params));
            trials.push(t);
        }
        trials
    }

    /// ZDT1 (Zitzler, Deb and Thiele 2000): f1 = x0, g = 1 + 9·mean(x1..), f2 = g(1 − √(f1/g)).
    fn zdt1(p: &Params) -> Vec<f64> {
        let x: Vec<f64> = p.values().copied().collect();
        let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64;
        vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
    }

    fn front_hypervolume(trials: &[Trial], reference: &[f64]) -> f64 {
        let pts: Vec<Vec<f64>> = trials.iter().filter_map(|t| t.values.clone()).collect();
        pareto::hypervolume(&pts, reference)
    }

    fn member(number: u64, loss: [f64; 2], violation: f64) -> Trial {
        let mut t = Trial::new(number, TrialState::Complete, Params::new());
        t.values = Some(loss.to_vec());
        t.constraints = Some(vec![violation]);
        t
    }

    #[test]
    fn first_generation_is_random_search() {
        let space = float_space(3);
        let dirs = [Direction::Minimize, Direction::Minimize];
        let nsga = run(
            &mut Nsga2Sampler::new(options(10)),
            &space,
            &dirs,
            7,
            10,
            zdt1,
        );
        let random = run(&mut RandomSampler, &space, &dirs, 7, 10, |_| vec![0.0, 0.0]);
        for (a, b) in nsga.iter().zip(&random) {
            assert_eq!(a.params, b.params);
        }
        // Generation 1 is bred, not random.
        let more = run(
            &mut Nsga2Sampler::new(options(10)),
            &space,
            &dirs,
            7,
            11,
            zdt1,
        );
        let random = run(&mut RandomSampler, &space, &dirs, 7, 11, |_| vec![0.0, 0.0]);
        assert_ne!(more[10].params, random[10].params);
    }

    #[test]
    fn same_seed_and_finished_trials_give_the_same_params() {
        let space = float_space(4);
        let dirs = [Direction::Minimize, Direction::Maximize];
        let obj = |p: &Params| {
            let z = zdt1(p);
            vec![z[0], -z[1]]
        };
        let a = run(
            &mut Nsga2Sampler::new(options(8)),
            &space,
            &dirs,
            3,
            60,
            obj,
        );
        let b = run(
            &mut Nsga2Sampler::new(options(8)),
            &space,
            &dirs,
            3,
            60,
            obj,
        );
        assert_eq!(a, b);
        let c = run(
            &mut Nsga2Sampler::new(options(8)),
            &space,
            &dirs,
            4,
            60,
            obj,
        );
        assert_ne!(a[30].params, c[30].params);
        // A fresh sampler (a resumed study: nothing cached) continues identically, also when
        // some earlier trials are still running (their generation is then not settled).
        for n in 8..60 {
            let at = |sampler: &mut Nsga2Sampler, trials: &[Trial]| {
                let ctx = SampleContext {
                    space: &space,
                    directions: &dirs,
                    trials,
                    number: n as u64,
                    seed: 3,
                };
                sampler.sample(&ctx).unwrap()
            };
            assert_eq!(
                at(&mut Nsga2Sampler::new(options(8)), &a[..n]),
                a[n].params,
                "trial {n}"
            );
            let mut view = a[..n].to_vec();
            view[n - 1 - n % 6].state = TrialState::Running;
            let mut warm = Nsga2Sampler::new(options(8));
            let running = at(&mut warm, &view);
            assert_eq!(
                running,
                at(&mut Nsga2Sampler::new(options(8)), &view),
                "trial {n}"
            );
            // Once the running trial finishes, the warm sampler must not reuse an elite that
            // was computed without it.
            assert_eq!(at(&mut warm, &a[..n]), a[n].params, "trial {n}");
        }
    }

    #[test]
    fn children_are_valid_points_of_the_space() {
        let space = SearchSpace::from_toml_str(
            r#"
            [boosting]
            type = "categorical"
            choices = ["gbdt", "rf", "dart"]
            [lr]
            type = "float"
            low = 0.001
            high = 0.3
            log = true
            [leaves]
            type = "int"
            low = 8
            high = 250
            step = 8
            [depth]
            type = "int"
            low = 1
            high = 1000
            log = true
            [frac]
            type = "float"
            low = 0.5
            high = 0.95
            step = 0.05
            when = { boosting = ["rf"] }
            [objective]
            type = "fixed"
            value = "binary"
            "#,
        )
        .unwrap();
        let dirs = [Direction::Minimize, Direction::Minimize];
        let obj = |p: &Params| {
            let frac = p.get("frac").copied().unwrap_or(0.7);
            vec![
                p["lr"].ln() + frac,
                p["leaves"] / p["depth"] + p["boosting"],
            ]
        };
        let trials = run(
            &mut Nsga2Sampler::new(options(12)),
            &space,
            &dirs,
            5,
            240,
            obj,
        );
        let mut rf_children = 0;
        for t in &trials {
            // internal(external(p)) == p: every active parameter present, on its grid and in
            // range, and no inactive one.
            let back = space.internal(&space.external(&t.params)).unwrap();
            assert_eq!(back, t.params, "trial {}", t.number);
            if t.number >= 12 && t.params["boosting"] == 1.0 {
                rf_children += 1;
            }
        }
        assert!(rf_children > 0, "the conditional branch was never bred");
    }

    #[test]
    fn only_complete_elite_trials_are_parents() {
        // Without crossover or mutation a child copies one elite member exactly.
        let space = float_space(2);
        let dirs = [Direction::Minimize];
        let opts = Nsga2Options {
            population_size: 6,
            crossover_prob: 0.0,
            mutation_prob: Some(0.0),
            ..Default::default()
        };
        let mut sampler = Nsga2Sampler::new(opts);
        let mut trials = run(&mut sampler, &space, &dirs, 1, 6, |p| vec![p["x0"]]);
        trials[0].state = TrialState::Fail;
        trials[1].state = TrialState::Pruned;
        trials[2].values = None; // COMPLETE without a value: not a member either
        for number in 6..30 {
            let ctx = SampleContext {
                space: &space,
                directions: &dirs,
                trials: &trials,
                number,
                seed: 1,
            };
            let params = sampler.sample(&ctx).unwrap();
            assert!(
                trials[3..6].iter().any(|t| t.params == params),
                "trial {number} is not a copy of a COMPLETE generation-0 trial"
            );
        }
        // With crossover, every parameter comes from one of two elite members.
        let opts = Nsga2Options {
            population_size: 6,
            crossover_prob: 1.0,
            mutation_prob: Some(0.0),
            ..Default::default()
        };
        let mut sampler = Nsga2Sampler::new(opts);
        let space = float_space(5);
        let trials = run(&mut sampler, &space, &dirs, 2, 12, |p| vec![p["x3"]]);
        for child in &trials[6..] {
            let from_parent = |name: &str| {
                trials[..6]
                    .iter()
                    .any(|t| t.params[name] == child.params[name])
            };
            assert!(child.params.keys().all(|k| from_parent(k)), "{child:?}");
        }
    }

    #[test]
    fn elite_keeps_the_best_fronts_then_the_least_crowded() {
        // One front of five points plus a dominated and an infeasible (but dominating) one.
        let trials = [
            member(0, [0.0, 5.0], 0.0),
            member(1, [1.0, 3.0], 0.0),
            member(2, [2.5, 2.0], 0.0),
            member(3, [4.0, 0.5], 0.0),
            member(4, [6.0, 0.0], 0.0),
            member(5, [5.0, 5.0], 0.0),
            member(6, [-1.0, -1.0], 1.0),
        ];
        let dirs = [Direction::Minimize, Direction::Minimize];
        let pool: Vec<Member<'_>> = trials
            .iter()
            .rev()
            .filter_map(|t| Member::of(t, &dirs))
            .collect();
        // optuna.samplers.nsgaii._elite_population_selection_strategy._calc_crowding_distance
        // on the front (Optuna 5.0.0; scripts/reference/pareto.py): {0: inf,
        // 1: 1.0166666666666666, 2: 1.0, 3: 0.9833333333333334, 4: inf}.
        let front: Vec<usize> = (2..7).collect(); // pool is reversed: trial 4 first
        let crowd = crowding(&front, &pool);
        let want = [
            f64::INFINITY,
            0.9833333333333334,
            1.0,
            1.0166666666666666,
            f64::INFINITY,
        ];
        for (g, w) in crowd.iter().zip(want) {
            assert!(g == &w || (g - w).abs() < 1e-12, "{crowd:?}");
        }
        let numbers = |e: &[Member<'_>]| e.iter().map(|m| m.trial.number).collect::<Vec<_>>();
        let pool = || {
            trials
                .iter()
                .filter_map(|t| Member::of(t, &dirs))
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(&select(pool(), 4)), [0, 1, 2, 4]);
        assert_eq!(numbers(&select(pool(), 6)), [0, 1, 2, 3, 4, 5]);
        assert_eq!(numbers(&select(pool(), 7)), [0, 1, 2, 3, 4, 5, 6]);
        // Maximising the second objective: trial 0 dominates everything, then trials 1 and 5
        // form the next front.
        let flipped = [Direction::Minimize, Direction::Maximize];
        let pool: Vec<Member<'_>> = trials
            .iter()
            .filter_map(|t| Member::of(t, &flipped))
            .collect();
        assert_eq!(numbers(&select(pool, 3)), [0, 1, 5]);
    }

    #[test]
    fn zdt1_hypervolume_beats_random_search() {
        // Measured here: nsga2 0.61/0.56/0.41/0.54/0.53 vs random 0.20/0.12/0.07/0.00/0.02
        // for seeds 0..4. For scale, Optuna 5.0.0 on the same problem and budget
        // (NSGAIISampler vs RandomSampler, seeds 0..4, HV of the front at (1.1, 1.1);
        // scripts/reference/pareto.py):
        // 0.42/0.05, 0.38/0.25, 0.42/0.10, 0.37/0.07, 0.40/0.33.
        let space = float_space(5);
        let dirs = [Direction::Minimize, Direction::Minimize];
        let reference = [1.1, 1.1];
        let (mut nsga_sum, mut random_sum) = (0.0, 0.0);
        for seed in 0..5 {
            let mut nsga2 = Nsga2Sampler::new(Nsga2Options::default());
            let nsga =
                front_hypervolume(&run(&mut nsga2, &space, &dirs, seed, 500, zdt1), &reference);
            let random = front_hypervolume(
                &run(&mut RandomSampler, &space, &dirs, seed, 500, zdt1),
                &reference,
            );
            eprintln!("seed {seed}: nsga2 {nsga:.4} random {random:.4}");
            assert!(
                nsga > random + 0.25,
                "seed {seed}: nsga2 {nsga} vs random {random}"
            );
            nsga_sum += nsga;
            random_sum += random;
        }
        assert!(nsga_sum / 5.0 > random_sum / 5.0 + 0.35);
    }

    #[test]
    fn one_objective_improves_on_random_search() {
        let space = float_space(4);
        let dirs = [Direction::Minimize];
        let sphere = |p: &Params| vec![p.values().map(|x| (x - 0.3).powi(2)).sum::<f64>()];
        for seed in 0..3 {
            let best = |t: Vec<Trial>| {
                t.iter()
                    .filter_map(|t| t.value())
                    .fold(f64::INFINITY, f64::min)
            };
            let nsga = best(run(
                &mut Nsga2Sampler::new(options(20)),
                &space,
                &dirs,
                seed,
                300,
                sphere,
            ));
            let random = best(run(&mut RandomSampler, &space, &dirs, seed, 300, sphere));
            eprintln!("seed {seed}: nsga2 {nsga:.5} random {random:.5}");
            assert!(nsga < random / 2.0, "seed {seed}: {nsga} vs {random}");
        }
    }

    #[test]
    fn options_parse_with_defaults_and_are_checked() {
        let spec: SamplerSpec =
            serde_json::from_str(r#"{"type": "nsga2", "population_size": 20}"#).unwrap();
        let want = SamplerSpec::Nsga2(Nsga2Options {
            population_size: 20,
            ..Default::default()
        });
        assert_eq!(spec, want);
        let d = Nsga2Options::default();
        assert_eq!(
            (
                d.population_size,
                d.crossover_prob,
                d.swapping_prob,
                d.mutation_prob
            ),
            (50, 0.9, 0.5, None)
        );
        assert!(
            serde_json::from_str::<SamplerSpec>(r#"{"type": "nsga2", "populaton": 3}"#).is_err()
        );
        let space = float_space(1);
        for (bad, what) in [
            (options(1), "population_size must be at least 2"),
            (
                Nsga2Options {
                    crossover_prob: 1.5,
                    ..Default::default()
                },
                "crossover_prob",
            ),
            (
                Nsga2Options {
                    mutation_prob: Some(-0.1),
                    ..Default::default()
                },
                "mutation_prob",
            ),
            (
                Nsga2Options {
                    swapping_prob: f64::NAN,
                    ..Default::default()
                },
                "swapping_prob",
            ),
        ] {
            let e = SamplerSpec::Nsga2(bad)
                .build(&space, &[Direction::Minimize])
                .err()
                .unwrap();
            assert!(e.to_string().contains(what), "{e}");
        }
    }
}
