//! Sampler benchmarks for `hone-tune` (the Rust side of `bench/tune/run.sh`).
//!
//! - `tune-efficiency`: best value found after N trials on the test functions of
//!   `bench/tune/REFERENCE.md` (Branin, Hartmann6, Rosenbrock-10, Ackley-10),
//!   median and inter-quartile range over seeds, per sampler.
//! - `tune-cost`: the sampler's time per suggestion (the time of `Study::ask`) on 10-D
//!   Rosenbrock, averaged over the 20 trials ending at each checkpoint (bench/tune/REFERENCE.md).
//!
//! Both drive an in-memory [`Study`] sequentially through ask → evaluate → tell, exactly as a
//! user would, so the figures include the study's own bookkeeping. `bench/tune/optuna_bench.py`
//! prints the same JSON for Optuna.

use std::time::Instant;

use hone_tune::sampler::SamplerSpec;
use hone_tune::space::{Distribution, ParamDef, SearchSpace};
use hone_tune::study::{Outcome, Study, StudyDef};
use hone_tune::testfns::{ackley, branin, hartmann6, rosenbrock};
use hone_tune::trial::Direction;
use serde_json::{Value, json};

/// A minimisation test function on a box.
#[derive(Clone, Copy)]
pub struct TestFunction {
    /// Name used on the command line and in the JSON.
    pub name: &'static str,
    /// Per-dimension `(low, high)` bounds.
    pub bounds: &'static [(f64, f64)],
    /// The known global minimum.
    pub optimum: f64,
    /// The function itself; `x` has one value per bound.
    pub eval: fn(&[f64]) -> f64,
}

/// All benchmark functions, in the order the tables print them.
pub const FUNCTIONS: [TestFunction; 4] = [
    TestFunction {
        name: "branin",
        bounds: &[(-5.0, 10.0), (0.0, 15.0)],
        optimum: hone_tune::testfns::BRANIN_OPTIMUM,
        eval: branin,
    },
    TestFunction {
        name: "hartmann6",
        bounds: &[(0.0, 1.0); 6],
        optimum: hone_tune::testfns::HARTMANN6_OPTIMUM,
        eval: hartmann6,
    },
    TestFunction {
        name: "rosenbrock10",
        bounds: &[(-5.0, 5.0); 10],
        optimum: 0.0,
        eval: rosenbrock,
    },
    TestFunction {
        name: "ackley10",
        bounds: &[(-32.768, 32.768); 10],
        optimum: 0.0,
        eval: ackley,
    },
];

/// Looks a function up by its name.
pub fn function(name: &str) -> Result<TestFunction, String> {
    FUNCTIONS
        .iter()
        .find(|f| f.name == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
            format!("unknown function {name:?} (one of {})", names.join(", "))
        })
}

/// The `p`-quantile (0..=1) with linear interpolation between order statistics (NumPy's
/// default `percentile` method), so medians and IQRs match the Optuna side's NumPy figures.
/// `None` for an empty slice.
pub fn quantile(values: &[f64], p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let pos = p.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

fn space_for(f: &TestFunction) -> SearchSpace {
    SearchSpace {
        params: f
            .bounds
            .iter()
            .enumerate()
            .map(|(i, &(low, high))| ParamDef {
                name: format!("x{i}"),
                distribution: Distribution::Float {
                    low,
                    high,
                    log: false,
                    step: None,
                },
                when: vec![],
                hard_low: None,
                hard_high: None,
            })
            .collect(),
    }
}

/// What one study run measured.
struct RunRecord {
    /// Objective value of every trial, in trial order.
    values: Vec<f64>,
    /// Wall seconds of each `ask`.
    ask_wall: Vec<f64>,
    /// CPU seconds of this thread during each `ask`, where the platform can tell.
    ask_cpu: Vec<Option<f64>>,
    /// Wall seconds of the whole run.
    seconds: f64,
}

/// Runs `trials` trials of `sampler` on `f` with study seed `seed`, keeping `pending` trials
/// asked and not yet told (1: sequential; more: what `--jobs pending` workers see, each
/// suggestion made while the others' trials run). `values` are in the order trials finish.
fn run_study(
    sampler: &SamplerSpec,
    f: &TestFunction,
    seed: u64,
    trials: usize,
    pending: usize,
) -> Result<RunRecord, String> {
    let space = space_for(f);
    let names: Vec<String> = space.params.iter().map(|p| p.name.clone()).collect();
    let study = Study::in_memory(StudyDef {
        name: format!("bench-{}-{}-{seed}", sampler.name(), f.name),
        space,
        directions: vec![Direction::Minimize],
        objectives: vec![],
        sampler: sampler.clone(),
        pruner: Default::default(),
        seed,
        adapt: None,
    })
    .map_err(|e| e.to_string())?;
    let mut rec = RunRecord {
        values: Vec::with_capacity(trials),
        ask_wall: Vec::with_capacity(trials),
        ask_cpu: Vec::with_capacity(trials),
        seconds: 0.0,
    };
    let start = Instant::now();
    let mut x = vec![0.0; names.len()];
    let mut running: std::collections::VecDeque<(u64, f64)> = Default::default();
    let mut asked = 0;
    while rec.values.len() < trials {
        while asked < trials && running.len() < pending.max(1) {
            let cpu0 = thread_cpu_seconds();
            let t0 = Instant::now();
            let trial = study.ask().map_err(|e| e.to_string())?;
            rec.ask_wall.push(t0.elapsed().as_secs_f64());
            rec.ask_cpu
                .push(cpu0.zip(thread_cpu_seconds()).map(|(a, b)| b - a));
            for (xi, name) in x.iter_mut().zip(&names) {
                *xi = *trial
                    .params
                    .get(name)
                    .ok_or_else(|| format!("trial {} has no value for {name}", trial.number))?;
            }
            running.push_back((trial.number, (f.eval)(&x)));
            asked += 1;
        }
        let Some((number, y)) = running.pop_front() else {
            break;
        };
        study
            .tell(number, Outcome::Complete(vec![y]))
            .map_err(|e| e.to_string())?;
        rec.values.push(y);
    }
    rec.seconds = start.elapsed().as_secs_f64();
    Ok(rec)
}

/// CPU time of the calling thread, so that per-suggestion costs stay meaningful on a shared,
/// loaded machine where wall time also counts other tenants' work.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_cpu_seconds() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (64-bit time_t and long on 64-bit Linux) and
    // the clock id is a constant the kernel always accepts.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU time of the calling thread (not available on this platform).
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

/// The running minimum of `values` after each of `checkpoints` trials (`None` past the end).
fn best_at(values: &[f64], checkpoints: &[usize]) -> Vec<Option<f64>> {
    checkpoints
        .iter()
        .map(|&n| {
            (n >= 1 && n <= values.len())
                .then(|| values[..n].iter().copied().fold(f64::INFINITY, f64::min))
        })
        .collect()
}

/// Parsed `--flag value` options; `--json` is the only flag without a value.
struct Flags {
    pairs: Vec<(String, String)>,
    json: bool,
}

impl Flags {
    fn parse(args: &[String], known: &[&str]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut json = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            if name == "json" {
                json = true;
                continue;
            }
            if !known.contains(&name) {
                return Err(format!(
                    "unknown option --{name} (options: --{}, --json)",
                    known.join(", --")
                ));
            }
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_string(), v.clone()));
        }
        Ok(Flags { pairs, json })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, name: &str, default: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or(default)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn count(&self, name: &str, default: usize) -> Result<usize, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("--{name} wants a positive integer, got {v:?}")),
        }
    }

    fn counts(&self, name: &str, default: &str) -> Result<Vec<usize>, String> {
        let items = self.list(name, default);
        if items.is_empty() {
            return Err(format!("--{name} is empty"));
        }
        items
            .iter()
            .map(|v| {
                v.parse()
                    .ok()
                    .filter(|n: &usize| *n > 0)
                    .ok_or_else(|| format!("--{name}: {v:?} is not a positive integer"))
            })
            .collect()
    }
}

/// One sampler × function cell of the efficiency benchmark.
struct Cell {
    sampler: String,
    function: TestFunction,
    trials: usize,
    /// Per seed, the best value at each checkpoint.
    best: Vec<Vec<Option<f64>>>,
    seconds: Vec<f64>,
    error: Option<String>,
}

impl Cell {
    /// Median, first and third quartile over seeds at checkpoint `k`.
    fn summary(&self, k: usize) -> Option<[f64; 3]> {
        let v: Option<Vec<f64>> = self.best.iter().map(|b| b[k]).collect();
        let v = v.filter(|v| !v.is_empty())?;
        Some([quantile(&v, 0.5)?, quantile(&v, 0.25)?, quantile(&v, 0.75)?])
    }
}

/// One seed's best values at the checkpoints and its run time in seconds.
type SeedResult = (Vec<Option<f64>>, f64);

/// Runs every seed of one cell, `jobs` seeds at a time.
fn run_cell(
    spec: &SamplerSpec,
    f: &TestFunction,
    seeds: usize,
    trials: usize,
    checkpoints: &[usize],
    jobs: usize,
    pending: usize,
) -> Result<Vec<SeedResult>, String> {
    let mut out = Vec::with_capacity(seeds);
    let all: Vec<u64> = (0..seeds as u64).collect();
    for chunk in all.chunks(jobs.max(1)) {
        // Results depend only on (sampler, function, seed), so running seeds side by side
        // changes the run times but not the values.
        let results: Vec<Result<RunRecord, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&seed| s.spawn(move || run_study(spec, f, seed, trials, pending)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("the run panicked".to_string()))
                })
                .collect()
        });
        for (seed, r) in chunk.iter().zip(results) {
            let rec = r.map_err(|e| format!("seed {seed}: {e}"))?;
            out.push((best_at(&rec.values, checkpoints), rec.seconds));
        }
    }
    Ok(out)
}

/// Five significant digits: enough to tell 0.39792 from Branin's optimum 0.397887.
fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&v.abs()) {
        let digits = (4 - v.abs().log10().floor() as i32).clamp(0, 7) as usize;
        format!("{v:.digits$}")
    } else {
        format!("{v:.4e}")
    }
}

/// A sampler by its benchmark name: a `SamplerSpec` name, or `gp-penalize` / `gp-qlogei` /
/// `gp-believer` (the GP with that treatment of running trials).
fn sampler_spec(name: &str) -> Result<SamplerSpec, String> {
    let batch = match name {
        "gp-penalize" => hone_tune::sampler::gp::Batch::Penalize,
        "gp-qlogei" => hone_tune::sampler::gp::Batch::QLogEi,
        "gp-believer" => hone_tune::sampler::gp::Batch::Believer,
        _ => return SamplerSpec::parse(name).map_err(|e| e.to_string()),
    };
    Ok(SamplerSpec::Gp(hone_tune::sampler::gp::GpOptions {
        batch,
        ..Default::default()
    }))
}

/// `hone-bench tune-efficiency`: see the module documentation; `args` are the options after
/// the subcommand.
pub fn efficiency(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(
        args,
        &[
            "samplers",
            "functions",
            "seeds",
            "trials",
            "gp-trials",
            "checkpoints",
            "jobs",
            "pending",
        ],
    )?;
    let samplers = flags.list("samplers", "random,tpe,gp");
    let functions: Vec<TestFunction> = flags
        .list("functions", "branin,hartmann6,rosenbrock10,ackley10")
        .iter()
        .map(|n| function(n))
        .collect::<Result<_, _>>()?;
    let seeds = flags.count("seeds", 10)?;
    let trials = flags.count("trials", 200)?;
    // GP's per-suggestion cost grows like n³, so it gets its own budget; hone's GP runs 200
    // trials in about 4 s, so by default it runs as long as the others.
    let gp_trials = flags.count("gp-trials", trials)?;
    let checkpoints = flags.counts("checkpoints", "50,200")?;
    let jobs = flags.count("jobs", 1)?;
    let pending = flags.count("pending", 1)?;
    let specs: Vec<SamplerSpec> = samplers
        .iter()
        .map(|s| sampler_spec(s))
        .collect::<Result<_, _>>()?;
    if samplers.is_empty() || functions.is_empty() {
        return Err("nothing to run: --samplers and --functions must name something".into());
    }

    let start = Instant::now();
    let mut cells = Vec::new();
    for f in &functions {
        for (name, spec) in samplers.iter().zip(&specs) {
            let n = if matches!(spec, SamplerSpec::Gp(_) | SamplerSpec::Auto(_)) {
                gp_trials
            } else {
                trials
            };
            // `auto` plans with the run's budget, as `hone tune` gives it `n_trials`.
            let budgeted;
            let spec = match spec {
                SamplerSpec::Auto(o) if o.budget.is_none() => {
                    budgeted = SamplerSpec::Auto(hone_tune::sampler::auto::AutoOptions {
                        budget: Some(n),
                    });
                    &budgeted
                }
                s => s,
            };
            let mut cell = Cell {
                sampler: name.to_string(),
                function: *f,
                trials: n,
                best: vec![],
                seconds: vec![],
                error: None,
            };
            match run_cell(spec, f, seeds, n, &checkpoints, jobs, pending) {
                Ok(runs) => {
                    for (b, s) in runs {
                        cell.best.push(b);
                        cell.seconds.push(s);
                    }
                }
                Err(e) => {
                    eprintln!("hone-bench: {name} on {}: {e}", f.name);
                    cell.error = Some(e);
                }
            }
            cells.push(cell);
        }
    }
    let wall = start.elapsed().as_secs_f64();

    if flags.json {
        let runs: Vec<Value> = cells
            .iter()
            .map(|c| {
                let col = |i: usize| -> Vec<Option<f64>> {
                    (0..checkpoints.len())
                        .map(|k| c.summary(k).map(|s| s[i]))
                        .collect()
                };
                json!({
                    "sampler": c.sampler,
                    "function": c.function.name,
                    "optimum": c.function.optimum,
                    "trials": c.trials,
                    "best": c.best,
                    "median": col(0),
                    "q1": col(1),
                    "q3": col(2),
                    "seconds": c.seconds,
                    "error": c.error,
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "benchmark": "efficiency",
                "side": "hone",
                "seeds": (0..seeds).collect::<Vec<_>>(),
                "checkpoints": checkpoints,
                "jobs": jobs,
                "pending": pending,
                "runs": runs,
                "wall_seconds": wall,
            })
        );
        return Ok(());
    }

    println!(
        "== hone-tune sample efficiency: best value after N trials, median [IQR] over seeds 0-{} ==",
        seeds - 1
    );
    let mut header = format!("{:<14}{:<9}{:>7}", "function", "sampler", "trials");
    for n in &checkpoints {
        header.push_str(&format!("  {:<33}", format!("N={n}")));
    }
    header.push_str(&format!("{:>9}", "s/run"));
    println!("{header}");
    for c in &cells {
        let mut line = format!("{:<14}{:<9}{:>7}", c.function.name, c.sampler, c.trials);
        if let Some(e) = &c.error {
            line.push_str(&format!("  error: {e}"));
            println!("{line}");
            continue;
        }
        for k in 0..checkpoints.len() {
            let cell = match c.summary(k) {
                Some([m, q1, q3]) => {
                    format!("{} [{}, {}]", fmt_num(m), fmt_num(q1), fmt_num(q3))
                }
                None => "-".into(),
            };
            line.push_str(&format!("  {cell:<33}"));
        }
        let s = quantile(&c.seconds, 0.5).unwrap_or(f64::NAN);
        line.push_str(&format!("{s:>9.3}"));
        println!("{line}");
    }
    let optima: Vec<String> = functions
        .iter()
        .map(|f| format!("{} {}", f.name, f.optimum))
        .collect();
    println!("optima: {}", optima.join(", "));
    println!("total wall time {wall:.1} s ({jobs} job(s))");
    Ok(())
}

/// `hone-bench tune-cost`: see the module documentation; `args` are the options after the
/// subcommand.
pub fn cost(args: &[String]) -> Result<(), String> {
    const WINDOW: usize = 20;
    let flags = Flags::parse(args, &["sampler", "trials", "at", "seeds"])?;
    let name = flags.get("sampler").unwrap_or("tpe");
    let spec = SamplerSpec::parse(name).map_err(|e| e.to_string())?;
    let trials = flags.count("trials", 1000)?;
    let at = flags.counts("at", "100,500,1000")?;
    let seeds = flags.count("seeds", 3)?;
    if let Some(k) = at.iter().find(|&&k| k > trials || k < WINDOW) {
        return Err(format!(
            "--at {k}: checkpoints must lie in {WINDOW}..={trials} (a {WINDOW}-trial window within --trials)"
        ));
    }
    let f = function("rosenbrock10")?;
    let mut wall_ms = Vec::new();
    let mut cpu_ms = Vec::new();
    let mut totals = Vec::new();
    let mut error = None;
    for seed in 0..seeds as u64 {
        match run_study(&spec, &f, seed, trials, 1) {
            Ok(rec) => {
                let window_mean = |v: &[f64], k: usize| {
                    v[k - WINDOW..k].iter().sum::<f64>() / WINDOW as f64 * 1e3
                };
                wall_ms.push(
                    at.iter()
                        .map(|&k| window_mean(&rec.ask_wall, k))
                        .collect::<Vec<_>>(),
                );
                let cpu: Option<Vec<f64>> = rec.ask_cpu.iter().copied().collect();
                cpu_ms.push(cpu.map(|c| at.iter().map(|&k| window_mean(&c, k)).collect()));
                totals.push(rec.seconds);
            }
            Err(e) => {
                eprintln!("hone-bench: {name} seed {seed}: {e}");
                error = Some(format!("seed {seed}: {e}"));
                break;
            }
        }
    }
    let median_at = |rows: &[Vec<f64>], k: usize| -> Option<f64> {
        quantile(&rows.iter().map(|r| r[k]).collect::<Vec<_>>(), 0.5)
    };
    let cpu_rows: Option<Vec<Vec<f64>>> = cpu_ms.iter().cloned().collect();
    let med_wall: Vec<Option<f64>> = (0..at.len()).map(|k| median_at(&wall_ms, k)).collect();
    let med_cpu: Vec<Option<f64>> = (0..at.len())
        .map(|k| cpu_rows.as_deref().and_then(|r| median_at(r, k)))
        .collect();
    if flags.json {
        println!(
            "{}",
            json!({
                "benchmark": "cost",
                "side": "hone",
                "sampler": spec.name(),
                "function": f.name,
                "trials": trials,
                "at": at,
                "window": WINDOW,
                "seeds": (0..seeds).collect::<Vec<_>>(),
                "wall_ms": wall_ms,
                "cpu_ms": cpu_ms,
                "median_wall_ms": med_wall,
                "median_cpu_ms": med_cpu,
                "total_seconds": totals,
                "error": error,
            })
        );
        return Ok(());
    }
    println!(
        "== hone-tune {} cost on {}: ms per ask(), mean of the {WINDOW} trials ending at N, median over seeds 0-{} ==",
        spec.name(),
        f.name,
        seeds - 1
    );
    if let Some(e) = &error {
        println!("error: {e}");
        return Ok(());
    }
    println!("{:<8}{:>12}{:>12}", "N", "wall ms", "CPU ms");
    let show = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
    for (k, n) in at.iter().enumerate() {
        println!("{n:<8}{:>12}{:>12}", show(med_wall[k]), show(med_cpu[k]));
    }
    let t: Vec<String> = totals.iter().map(|s| format!("{s:.2}")).collect();
    println!("wall seconds per {trials}-trial run: {}", t.join(", "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_percentile() {
        // numpy.percentile([3,1,4,1,5,9,2,6,5,3], [25,50,75]) = [2.25, 3.5, 5.0];
        // numpy.percentile([0.7,0.1,0.4,0.2], [25,50,75]) = [0.175, 0.3, 0.475] (to 1e-15);
        // scripts/reference/testfns.py prints both.
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0];
        assert_eq!(quantile(&v, 0.25), Some(2.25));
        assert_eq!(quantile(&v, 0.5), Some(3.5));
        assert_eq!(quantile(&v, 0.75), Some(5.0));
        let w = [0.7, 0.1, 0.4, 0.2];
        for (p, want) in [(0.25, 0.175), (0.5, 0.3), (0.75, 0.475)] {
            assert!((quantile(&w, p).unwrap() - want).abs() < 1e-15, "{p}");
        }
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.25), Some(7.0));
    }

    #[test]
    fn numbers_print_with_five_significant_digits() {
        assert_eq!(fmt_num(0.39792), "0.39792");
        assert_eq!(fmt_num(-3.32237), "-3.3224");
        assert_eq!(fmt_num(15300.4), "15300");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(2.5e-6), "2.5000e-6");
        assert_eq!(fmt_num(137416.4), "1.3742e5");
    }

    #[test]
    fn best_so_far_at_checkpoints() {
        let v = [5.0, 3.0, 4.0, 1.0, 2.0];
        assert_eq!(
            best_at(&v, &[1, 2, 3, 5, 6]),
            vec![Some(5.0), Some(3.0), Some(3.0), Some(1.0), None]
        );
    }

    #[test]
    fn random_study_stays_in_bounds_and_repeats_with_its_seed() {
        let f = function("branin").unwrap();
        let a = run_study(&SamplerSpec::Random, &f, 3, 30, 1).unwrap();
        let b = run_study(&SamplerSpec::Random, &f, 3, 30, 1).unwrap();
        let c = run_study(&SamplerSpec::Random, &f, 4, 30, 1).unwrap();
        assert_eq!(a.values, b.values);
        assert_ne!(a.values, c.values);
        assert_eq!(a.ask_wall.len(), 30);
        // Branin is at most ~308 on its domain (at x = (-5, 0)), never below its optimum.
        assert!(
            a.values
                .iter()
                .all(|&y| (FUNCTIONS[0].optimum - 1e-6..=309.0).contains(&y))
        );
    }

    #[test]
    fn thread_cpu_clock_counts_work() {
        let Some(a) = thread_cpu_seconds() else {
            return;
        };
        let mut x = 0.0f64;
        for i in 0..2_000_000 {
            x = std::hint::black_box(x + (i as f64).sqrt());
        }
        let b = thread_cpu_seconds().unwrap();
        assert!(b > a && x > 0.0, "{a} {b}");
    }

    #[test]
    fn cells_keep_seed_order_with_several_jobs() {
        let f = function("hartmann6").unwrap();
        let one = run_cell(&SamplerSpec::Random, &f, 3, 25, &[10, 25], 1, 1).unwrap();
        let two = run_cell(&SamplerSpec::Random, &f, 3, 25, &[10, 25], 2, 1).unwrap();
        let values =
            |r: &[(Vec<Option<f64>>, f64)]| r.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(values(&one), values(&two));
        // Best-so-far can only improve between checkpoints.
        assert!(one.iter().all(|(b, _)| b[1].unwrap() <= b[0].unwrap()));
        let direct = run_study(&SamplerSpec::Random, &f, 2, 25, 1).unwrap();
        assert_eq!(one[2].0, best_at(&direct.values, &[10, 25]));
    }

    #[test]
    fn pending_trials_are_asked_before_earlier_ones_are_told() {
        let f = function("branin").unwrap();
        // Random search does not learn: four trials in flight draw what a sequential run draws.
        let seq = run_study(&SamplerSpec::Random, &f, 1, 30, 1).unwrap();
        let par = run_study(&SamplerSpec::Random, &f, 1, 30, 4).unwrap();
        assert_eq!(seq.values, par.values);
        assert_eq!(par.ask_wall.len(), 30);
        // The GP does: with trials in flight its suggestions differ from the sequential ones.
        let gp = SamplerSpec::parse("gp").unwrap();
        let seq = run_study(&gp, &f, 1, 14, 1).unwrap();
        let par = run_study(&gp, &f, 1, 14, 2).unwrap();
        assert_eq!(seq.values[..10], par.values[..10]);
        assert_ne!(seq.values[10..], par.values[10..]);
    }

    #[test]
    fn options_are_checked() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(efficiency(&s(&["--seeds", "0"])).is_err());
        assert!(efficiency(&s(&["--functions", "sphere"])).is_err());
        assert!(efficiency(&s(&["--samplers", "annealing"])).is_err());
        assert!(efficiency(&s(&["--bogus", "1"])).is_err());
        assert!(efficiency(&s(&["--trials"])).is_err());
        assert!(cost(&s(&["--at", "10"])).is_err());
        assert!(cost(&s(&["--trials", "100", "--at", "500"])).is_err());
        let f = Flags::parse(&s(&["--checkpoints", "20, 50", "--json"]), &["checkpoints"]).unwrap();
        assert!(f.json);
        assert_eq!(f.counts("checkpoints", "1").unwrap(), vec![20, 50]);
    }
}
