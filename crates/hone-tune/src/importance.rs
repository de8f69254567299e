//! Hyperparameter importance by PED-ANOVA (Watanabe et al., "PED-ANOVA: Efficiently
//! Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023), as Optuna's
//! `PedAnovaImportanceEvaluator` computes it with its defaults.
//!
//! A parameter matters when its values among the best trials are distributed differently from
//! its values among all trials. PED-ANOVA measures that as the Pearson divergence
//! `Σ_x p_all(x) (p_top(x) / p_all(x) − 1)²` between the two densities, where "top" is the best
//! γ' = 10 % of the COMPLETE trials and "all" is the local space, γ = 100 % of them. Each
//! density is a 1-D Parzen estimator on a grid: numerical parameters are binned onto 50
//! evenly spaced points of their (log-scaled, where `log = true`) range (fewer for small
//! integer and stepped ranges), the bins are smoothed by discretised truncated-normal kernels
//! whose bandwidth follows Scott's rule (floored so that 90 % of a kernel's mass stays within
//! one bin) plus one wide prior kernel; categorical parameters use their choice counts
//! smoothed by a uniform prior. The divergences are normalised to sum to 1.

use statrs::function::erf::erfc;

use crate::space::{Distribution, SearchSpace};
use crate::trial::{Direction, Trial, TrialState};

/// The share of trials that counts as "top" (γ' in the paper; Optuna's `target_quantile`).
pub const TARGET_QUANTILE: f64 = 0.1;
/// Grid points of a numerical parameter's range (Optuna's `_n_steps`).
pub const GRID_POINTS: usize = 50;
/// Weight of the prior kernel of each Parzen estimator (Optuna's `_prior_weight`).
pub const PRIOR_WEIGHT: f64 = 1.0;

/// PED-ANOVA importance of every searched parameter that all COMPLETE trials with a finite
/// value have, normalised to sum to 1 (equal shares when no parameter makes a difference),
/// sorted by decreasing importance (ties in space order).
///
/// Fixed and single-valued parameters are left out. Fewer than 2 usable trials give an empty
/// list. Only the first objective is read (`direction` says whether it is minimised).
pub fn ped_anova(
    space: &SearchSpace,
    trials: &[Trial],
    direction: Direction,
) -> Vec<(String, f64)> {
    let done: Vec<(&Trial, f64)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.value().map(|v| (t, direction.loss(v))))
        .filter(|(_, l)| l.is_finite())
        .collect();
    if done.len() < 2 {
        return Vec::new();
    }
    // Top γ': every trial no worse than the ⌈γ'·n⌉-th best (ties included), as Optuna's
    // `_QuantileFilter` does.
    let mut sorted: Vec<f64> = done.iter().map(|(_, l)| *l).collect();
    sorted.sort_by(f64::total_cmp);
    let cut_index = ((TARGET_QUANTILE * sorted.len() as f64).ceil() as usize).max(1) - 1;
    let cutoff = sorted[cut_index.min(sorted.len() - 1)];
    let top: Vec<&Trial> = done
        .iter()
        .filter(|(_, l)| *l <= cutoff)
        .map(|(t, _)| *t)
        .collect();
    let all: Vec<&Trial> = done.iter().map(|(t, _)| *t).collect();

    let mut importances: Vec<(String, f64)> = space
        .params
        .iter()
        .filter(|p| all.iter().all(|t| t.params.contains_key(&p.name)))
        .filter_map(|p| {
            let grid = Grid::of(&p.distribution)?;
            let pdf_top = grid.pdf(&top, &p.name);
            let pdf_all = grid.pdf(&all, &p.name);
            let divergence: f64 = pdf_top
                .iter()
                .zip(&pdf_all)
                .map(|(t, a)| {
                    let (t, a) = (t + 1e-12, a + 1e-12);
                    a * (t / a - 1.0).powi(2)
                })
                .sum();
            Some((p.name.clone(), divergence))
        })
        .collect();
    let total: f64 = importances.iter().map(|(_, v)| v).sum();
    let n = importances.len() as f64;
    for (_, v) in &mut importances {
        *v = if total > 0.0 { *v / total } else { 1.0 / n };
    }
    importances.sort_by(|a, b| b.1.total_cmp(&a.1));
    importances
}

/// How a parameter's values are binned.
enum Grid {
    /// `points` bins evenly spread over `[low, high]` of the model domain (log for log
    /// parameters), smoothed by Gaussian kernels.
    Numeric {
        low: f64,
        high: f64,
        points: usize,
        log: bool,
    },
    /// One bin per choice, smoothed towards uniform.
    Categorical { choices: usize },
}

impl Grid {
    /// The grid of a searched parameter; `None` for fixed and single-valued ones.
    fn of(d: &Distribution) -> Option<Grid> {
        let (low, high, points) = match d {
            Distribution::Fixed { .. } => return None,
            Distribution::Categorical { choices } => {
                return (choices.len() > 1).then_some(Grid::Categorical {
                    choices: choices.len(),
                });
            }
            Distribution::Float {
                low,
                high,
                step: None,
                ..
            } => (*low, *high, GRID_POINTS),
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => {
                let n = ((high - low) / s + 1e-9).floor();
                (*low, low + n * s, (n as usize + 1).min(GRID_POINTS))
            }
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => {
                let n = (high - low) / step;
                let top = (low + n * step) as f64;
                let points = if *log {
                    // Optuna: ⌈log2(high − low + 1)⌉ + 1 bins for a log-scaled integer.
                    let bits = ((top - *low as f64 + 1.0).ln() / std::f64::consts::LN_2).ceil();
                    (bits as usize + 1).min(GRID_POINTS)
                } else {
                    (n as usize + 1).min(GRID_POINTS)
                };
                (*low as f64, top, points)
            }
        };
        let log = d.is_log();
        let (low, high) = if log {
            (low.ln(), high.ln())
        } else {
            (low, high)
        };
        (points > 1 && high > low).then_some(Grid::Numeric {
            low,
            high,
            points,
            log,
        })
    }

    /// The Parzen estimator of `name`'s values among `trials`, evaluated at every bin.
    fn pdf(&self, trials: &[&Trial], name: &str) -> Vec<f64> {
        let values = trials.iter().filter_map(|t| t.params.get(name).copied());
        match *self {
            Grid::Categorical { choices } => {
                let mut counts = vec![0.0; choices];
                for v in values {
                    counts[(v.round().max(0.0) as usize).min(choices - 1)] += 1.0;
                }
                categorical_pdf(&counts)
            }
            Grid::Numeric {
                low,
                high,
                points,
                log,
            } => {
                let width = (high - low) / (points - 1) as f64;
                let mut counts = vec![0.0; points];
                for v in values {
                    let x = if log { v.ln() } else { v };
                    // Nearest bin; a value halfway between two goes to the lower one.
                    let i = ((x - low) / width - 0.5).ceil();
                    counts[i.clamp(0.0, (points - 1) as f64) as usize] += 1.0;
                }
                numeric_pdf(&counts)
            }
        }
    }
}

/// Mixture weights: the count of each occupied bin, then the prior, normalised.
fn mixture_weights(counts: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let occupied: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0.0).collect();
    let mut weights: Vec<f64> = occupied.iter().map(|&i| counts[i]).collect();
    weights.push(PRIOR_WEIGHT);
    let sum: f64 = weights.iter().sum();
    for w in &mut weights {
        *w /= sum;
    }
    (occupied, weights)
}

/// Categorical estimator: each occupied choice is a kernel putting 1 + prior/(k + 1) on that
/// choice and prior/(k + 1) on every other (renormalised), for k occupied choices; the prior
/// kernel is uniform.
fn categorical_pdf(counts: &[f64]) -> Vec<f64> {
    let c = counts.len();
    let (occupied, weights) = mixture_weights(counts);
    let base = PRIOR_WEIGHT / (occupied.len() + 1) as f64;
    let row_sum = base * c as f64 + 1.0;
    let mut pdf = vec![weights[occupied.len()] / c as f64; c];
    for (&i, w) in occupied.iter().zip(&weights) {
        for (x, p) in pdf.iter_mut().enumerate() {
            let mass = if x == i { base + 1.0 } else { base };
            *p += w * mass / row_sum;
        }
    }
    pdf
}

/// Numerical estimator on bins `0..n`: a kernel per occupied bin with a shared bandwidth by
/// Scott's rule on the binned values, 1.059·min(IQR/1.34, σ)·N^(−1/5) (σ the weighted sample
/// standard deviation, the quartiles read off the cumulative counts as Optuna does), but at
/// least 0.5/1.64 so that 90 % of a kernel's mass stays within its bin; plus a prior kernel at
/// the middle of the range with bandwidth n. Each kernel is a normal discretised on the bins
/// and truncated to `[-0.5, n - 0.5]`.
fn numeric_pdf(counts: &[f64]) -> Vec<f64> {
    let n = counts.len();
    let (occupied, weights) = mixture_weights(counts);
    let obs: Vec<f64> = occupied.iter().map(|&i| i as f64).collect();
    let w: Vec<f64> = occupied.iter().map(|&i| counts[i]).collect();
    let total: f64 = w.iter().sum();
    let mean = obs.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / total;
    let var = obs
        .iter()
        .zip(&w)
        .map(|(x, w)| (x - mean).powi(2) * w)
        .sum::<f64>()
        / (total - 1.0).max(1.0);
    let mut cum = Vec::with_capacity(w.len());
    let mut acc = 0.0;
    for x in &w {
        acc += x;
        cum.push(acc);
    }
    // numpy: searchsorted(cum, N // 4, "left") and searchsorted(cum, 3N // 4, "right").
    let q1 = cum.partition_point(|&c| c < (total / 4.0).floor());
    let q3 = cum.partition_point(|&c| c <= (total * 3.0 / 4.0).floor());
    let last = obs.len().saturating_sub(1);
    let iqr = obs.get(q3.min(last)).copied().unwrap_or(0.0) - obs.get(q1).copied().unwrap_or(0.0);
    let scott = 1.059 * (iqr / 1.34).min(var.sqrt()) * total.powf(-0.2);
    let sigma = scott.max(0.5 / 1.64);
    let (lo, hi) = (-0.5, n as f64 - 0.5);
    let mut kernels: Vec<(f64, f64)> = obs.iter().map(|&mu| (mu, sigma)).collect();
    kernels.push(((n as f64 - 1.0) / 2.0, n as f64));
    let mut pdf = vec![0.0; n];
    for ((mu, s), wk) in kernels.into_iter().zip(&weights) {
        let norm = gauss_mass((lo - mu) / s, (hi - mu) / s);
        if norm <= 0.0 {
            continue;
        }
        for (x, p) in pdf.iter_mut().enumerate() {
            let x = x as f64;
            *p += wk * gauss_mass((x - 0.5 - mu) / s, (x + 0.5 - mu) / s) / norm;
        }
    }
    pdf
}

/// Standard normal mass of `[a, b]`, computed from the nearer tail so that far-out intervals
/// keep their relative accuracy instead of cancelling to 0.
fn gauss_mass(a: f64, b: f64) -> f64 {
    let tail = |z: f64| 0.5 * erfc(z / std::f64::consts::SQRT_2); // P(Z > z)
    if a >= 0.0 {
        tail(a) - tail(b)
    } else if b <= 0.0 {
        tail(-b) - tail(-a)
    } else {
        1.0 - tail(-a) - tail(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Params;
    use crate::test_util::lcg_points as lcg;

    const SPACE: &str = r#"
        [x]
        type = "float"
        low = 0.0
        high = 1.0
        [y]
        type = "float"
        low = 0.01
        high = 1.0
        log = true
        [k]
        type = "int"
        low = 1
        high = 10
        [c]
        type = "categorical"
        choices = ["a", "b", "c"]
        [s]
        type = "float"
        low = 0.0
        high = 1.0
        step = 0.25
        [noise]
        type = "float"
        low = -1.0
        high = 1.0
    "#;

    /// The reference study: params from `lcg(n, 6, seed)` exactly as the Python built them
    /// (`optuna.create_trial` over the same distributions), COMPLETE with `objective`.
    fn study(n: usize, seed: u64, objective: impl Fn(&Params) -> f64) -> Vec<Trial> {
        lcg(n, 6, seed)
            .into_iter()
            .enumerate()
            .map(|(i, u)| {
                let params: Params = [
                    ("x", u[0]),
                    ("y", 0.01 + 0.99 * u[1]),
                    ("k", 1.0 + (u[2] * 10.0).floor()),
                    ("c", (u[3] * 3.0).floor()),
                    ("s", 0.25 * (u[4] * 5.0).floor()),
                    ("noise", -1.0 + 2.0 * u[5]),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let mut t = Trial::new(i as u64, TrialState::Complete, params);
                t.values = Some(vec![objective(&t.params)]);
                t
            })
            .collect()
    }

    fn mixed(p: &Params) -> f64 {
        (p["x"] - 0.3).powi(2)
            + 0.05 * (p["y"] / 0.1).ln().abs()
            + 0.02 * p["k"]
            + if p["c"] == 1.0 { 0.0 } else { 0.3 }
            + 0.1 * p["s"]
    }

    /// Trial count, LCG seed, direction, objective and Optuna's importances.
    type Case<'a> = (
        usize,
        u64,
        Direction,
        &'a dyn Fn(&Params) -> f64,
        [(&'a str, f64); 6],
    );

    #[test]
    fn matches_optuna_ped_anova() {
        // optuna.importance.get_param_importances(study,
        // evaluator=PedAnovaImportanceEvaluator()) on the same trials, Optuna 5.0.0
        // (scripts/reference/importance.py, as the figures of the next test).
        // The last case puts every top trial in the first bin of the stepped grid, where the
        // bandwidth floor 0.5/1.64 is what counts.
        let discrete = |p: &Params| 10.0 * p["s"] + 0.01 * p["k"] + p["x"];
        let cases: [Case<'_>; 4] = [
            (
                60,
                5,
                Direction::Minimize,
                &mixed,
                [
                    ("y", 0.33970323737134456),
                    ("k", 0.260313963807465),
                    ("x", 0.1931381258519388),
                    ("s", 0.13349251242896856),
                    ("c", 0.050644209147607824),
                    ("noise", 0.022707951392675316),
                ],
            ),
            (
                200,
                9,
                Direction::Minimize,
                &mixed,
                [
                    ("x", 0.32872962960020574),
                    ("y", 0.250581645259065),
                    ("s", 0.15925299090590136),
                    ("c", 0.14621482092490665),
                    ("k", 0.10285148015489583),
                    ("noise", 0.012369433155025603),
                ],
            ),
            (
                37,
                2,
                Direction::Maximize,
                &mixed,
                [
                    ("x", 0.7583875532235792),
                    ("k", 0.12506507973373884),
                    ("c", 0.07203817934169966),
                    ("y", 0.04081734387022906),
                    ("noise", 0.002573841830436255),
                    ("s", 0.001118002000317042),
                ],
            ),
            (
                80,
                3,
                Direction::Minimize,
                &discrete,
                [
                    ("s", 0.6817790380907899),
                    ("x", 0.12142772359584825),
                    ("y", 0.09196615127617601),
                    ("k", 0.06180352115583484),
                    ("noise", 0.031121855693650908),
                    ("c", 0.011901710187699957),
                ],
            ),
        ];
        let space = SearchSpace::from_toml_str(SPACE).unwrap();
        for (n, seed, direction, objective, want) in cases {
            let got = ped_anova(&space, &study(n, seed, objective), direction);
            assert_eq!(got.len(), want.len());
            for ((name, v), (want_name, w)) in got.iter().zip(want) {
                assert_eq!(name, want_name, "n={n}: {got:?}");
                assert!((v - w).abs() < 1e-9, "n={n} {name}: {v} vs {w}");
            }
        }
    }

    #[test]
    fn a_deciding_parameter_dominates_and_noise_ranks_last() {
        // The objective is x alone: Optuna gives x 0.9549 on these trials.
        let space = SearchSpace::from_toml_str(SPACE).unwrap();
        let got = ped_anova(&space, &study(200, 11, |p| p["x"]), Direction::Minimize);
        assert_eq!(got[0].0, "x");
        assert!(got[0].1 >= 0.9, "{got:?}");
        assert!((got.iter().map(|(_, v)| v).sum::<f64>() - 1.0).abs() < 1e-12);
        // 2x + y with a third, unused parameter: Optuna gives x 0.7577, y 0.2414,
        // noise 0.0009.
        let space = SearchSpace::from_toml_str(
            "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n\
             [y]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n\
             [noise]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n",
        )
        .unwrap();
        let trials: Vec<Trial> = lcg(200, 3, 13)
            .into_iter()
            .enumerate()
            .map(|(i, u)| {
                let params: Params = [("x", u[0]), ("y", u[1]), ("noise", u[2])]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                let mut t = Trial::new(i as u64, TrialState::Complete, params);
                t.values = Some(vec![2.0 * u[0] + u[1]]);
                t
            })
            .collect();
        let got = ped_anova(&space, &trials, Direction::Minimize);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "y", "noise"]);
        for ((_, v), w) in got.iter().zip([
            0.7576606555606007,
            0.24144065714699847,
            0.0008986872924009108,
        ]) {
            assert!((v - w).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn edge_cases() {
        let space = SearchSpace::from_toml_str(
            "[a]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n\
             [b]\ntype = \"categorical\"\nchoices = [1, 2]\n\
             [c]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\nwhen = { b = [2] }\n\
             [d]\ntype = \"fixed\"\nvalue = 3\n",
        )
        .unwrap();
        let trial = |n: u64, a: f64, b: f64, value: Option<f64>| {
            let mut params: Params = [("a", a), ("b", b), ("d", 0.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            if b == 1.0 {
                params.insert("c".into(), a);
            }
            let mut t = Trial::new(n, TrialState::Complete, params);
            t.values = value.map(|v| vec![v]);
            t
        };
        // Fewer than 2 usable trials: nothing to say.
        assert!(ped_anova(&space, &[], Direction::Minimize).is_empty());
        let mut few = vec![trial(0, 0.5, 0.0, Some(1.0)), trial(1, 0.2, 1.0, None)];
        few.push(trial(2, 0.3, 1.0, Some(f64::NAN)));
        few[1].state = TrialState::Pruned;
        assert!(ped_anova(&space, &few, Direction::Minimize).is_empty());
        // c is missing from some trials and d is fixed: only a and b are rated. Every value
        // equal: the top set is every trial and nothing stands out, so the shares are equal.
        let flat: Vec<Trial> = (0..20)
            .map(|i| trial(i, i as f64 / 20.0, (i % 2) as f64, Some(1.0)))
            .collect();
        assert_eq!(
            ped_anova(&space, &flat, Direction::Minimize),
            [("a".to_string(), 0.5), ("b".to_string(), 0.5)]
        );
        // b decides the value: it gets nearly everything.
        let split: Vec<Trial> = (0..40)
            .map(|i| {
                trial(
                    i,
                    (i * 7 % 40) as f64 / 40.0,
                    (i % 2) as f64,
                    Some((i % 2) as f64),
                )
            })
            .collect();
        let got = ped_anova(&space, &split, Direction::Maximize);
        assert_eq!(got[0].0, "b");
        assert!(got[0].1 > 0.9, "{got:?}");
    }
}
