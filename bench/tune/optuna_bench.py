"""Optuna 5.0 side of bench/tune/run.sh: the same functions, domains, seeds and checkpoints as
`hone-bench tune-efficiency` / `tune-cost`, printing the same JSON.

python bench/tune/optuna_bench.py efficiency [--samplers random,tpe,gp]
    [--functions branin,hartmann6,rosenbrock10,ackley10] [--seeds 10] [--trials 200]
    [--gp-trials 50] [--checkpoints 50,200]
python bench/tune/optuna_bench.py cost [--sampler tpe] [--trials 1000] [--at 100,500,1000]
    [--seeds 3]

Each prints one JSON object on stdout. Studies are sequential and in memory; TPE is
`TPESampler(seed=s)` and random `RandomSampler(seed=s)` (Optuna 5.0 defaults). GPSampler needs
torch: when it cannot be imported the GP runs are skipped and the GP rows carry the figures
measured with Optuna 5.0 that bench/tune/REFERENCE.md states (with how they were measured)
instead, marked "reference": true.
"""
import argparse
import json
import math
import sys
import time
import warnings

import numpy as np

# The test functions, written out from the textbook formulas (bench/tune/REFERENCE.md), kept
# independent of the Rust code they are compared with.


def branin(x):
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                 [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x):
    x = np.asarray(x)
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


def rosenbrock(x):
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1)))


def ackley(x):
    x = np.asarray(x)
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d))
                 - np.exp(np.sum(np.cos(2 * np.pi * x)) / d) + 20 + np.e)


FUNCTIONS = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)], 0.397887),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6, -3.32237),
    "rosenbrock10": (rosenbrock, [(-5.0, 5.0)] * 10, 0.0),
    "ackley10": (ackley, [(-32.768, 32.768)] * 10, 0.0),
}

# Optuna 5.0 GPSampler(seed=s), seeds 0-9, median [q1, q3] of the best value after N trials, as
# stated in bench/tune/REFERENCE.md (measured with torch 2.15.0; no GP figures
# exist for Rosenbrock-10 or Ackley-10).
GP_REFERENCE = {
    "branin": {20: (1.19, 0.65, 1.85), 30: (0.410, 0.3997, 0.427), 50: (0.39792, 0.39790, 0.39796)},
    "hartmann6": {20: (-2.08, -2.63, -1.73), 30: (-3.23, -3.28, -2.96), 50: (-3.316, -3.321, -3.230)},
}


def counts(text):
    out = [int(v) for v in text.split(",") if v.strip()]
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want positive integers separated by commas")
    return out


def make_sampler(name, seed):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise SystemExit(f"optuna_bench.py: unknown sampler {name!r} (random, tpe, gp)")


def have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def best_at(values, checkpoints):
    return [min(values[:n]) if n <= len(values) else None for n in checkpoints]


def summary(best, checkpoints):
    """Median, first and third quartile over seeds (NumPy's default linear percentile)."""
    cols = {"median": [], "q1": [], "q3": []}
    for k in range(len(checkpoints)):
        v = [b[k] for b in best]
        ok = bool(v) and all(x is not None for x in v)
        for key, q in (("median", 50), ("q1", 25), ("q3", 75)):
            cols[key].append(float(np.percentile(v, q)) if ok else None)
    return cols


def efficiency(args):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    torch = have_torch()
    start = time.perf_counter()
    runs = []
    for fname in args.functions:
        if fname not in FUNCTIONS:
            raise SystemExit(f"optuna_bench.py: unknown function {fname!r} ({', '.join(FUNCTIONS)})")
        fn, bounds, optimum = FUNCTIONS[fname]
        names = [f"x{i}" for i in range(len(bounds))]

        def objective(trial):
            return fn([trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, bounds)])

        for sname in args.samplers:
            trials = args.gp_trials if sname == "gp" else args.trials
            run = {"sampler": sname, "function": fname, "optimum": optimum, "trials": trials,
                   "best": [], "seconds": [], "error": None}
            if sname == "gp" and not torch:
                ref = GP_REFERENCE.get(fname, {})
                run.update(trials=max(ref, default=0), reference=True,
                           skipped="GPSampler needs torch, which is not installed: "
                                   "figures are Optuna 5.0's from bench/tune/REFERENCE.md",
                           median=[ref[n][0] if n in ref else None for n in args.checkpoints],
                           q1=[ref[n][1] if n in ref else None for n in args.checkpoints],
                           q3=[ref[n][2] if n in ref else None for n in args.checkpoints])
                runs.append(run)
                continue
            for seed in range(args.seeds):
                study = optuna.create_study(sampler=make_sampler(sname, seed))
                t = time.perf_counter()
                study.optimize(objective, n_trials=trials)
                run["seconds"].append(time.perf_counter() - t)
                run["best"].append(best_at([tr.value for tr in study.trials], args.checkpoints))
            run.update(summary(run["best"], args.checkpoints))
            runs.append(run)
    return {"benchmark": "efficiency", "side": "optuna", "optuna": optuna.__version__,
            "torch": torch, "seeds": list(range(args.seeds)), "checkpoints": args.checkpoints,
            "runs": runs, "wall_seconds": time.perf_counter() - start}


def cost(args):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    window = 20
    if any(k < window or k > args.trials for k in args.at):
        raise SystemExit(f"optuna_bench.py: --at values must lie in {window}..{args.trials}")
    if args.sampler == "gp" and not have_torch():
        return {"benchmark": "cost", "side": "optuna", "sampler": "gp", "error": None,
                "skipped": "GPSampler needs torch, which is not installed"}
    fn, bounds, _ = FUNCTIONS["rosenbrock10"]
    names = [f"x{i}" for i in range(len(bounds))]
    wall_ms, cpu_ms, interval_ms, totals = [], [], [], []
    for seed in range(args.seeds):
        study = optuna.create_study(sampler=make_sampler(args.sampler, seed))
        walls, cpus, ends = [], [], []
        t_start = time.perf_counter()
        for _ in range(args.trials):
            # One suggestion = ask() plus the suggest calls: with multivariate TPE the joint
            # sample is drawn in ask(), the first trials sample each parameter on suggest.
            c0, t0 = time.process_time(), time.perf_counter()
            trial = study.ask()
            x = [trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names, bounds)]
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            study.tell(trial, fn(x))
            ends.append(time.perf_counter())
        totals.append(time.perf_counter() - t_start)
        mean = lambda v, k: sum(v[k - window:k]) / window * 1e3  # noqa: E731
        wall_ms.append([mean(walls, k) for k in args.at])
        cpu_ms.append([mean(cpus, k) for k in args.at])
        # bench/tune/REFERENCE.md's measure: time between consecutive trial completions.
        gaps = [ends[0] - t_start] + [b - a for a, b in zip(ends, ends[1:])]
        interval_ms.append([mean(gaps, k) for k in args.at])
    med = lambda rows: [float(np.median([r[k] for r in rows])) for k in range(len(args.at))]  # noqa: E731
    return {"benchmark": "cost", "side": "optuna", "optuna": optuna.__version__,
            "sampler": args.sampler, "function": "rosenbrock10", "trials": args.trials,
            "at": args.at, "window": window, "seeds": list(range(args.seeds)),
            "wall_ms": wall_ms, "cpu_ms": cpu_ms, "interval_ms": interval_ms,
            "median_wall_ms": med(wall_ms), "median_cpu_ms": med(cpu_ms),
            "median_interval_ms": med(interval_ms), "total_seconds": totals, "error": None}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("efficiency")
    e.add_argument("--samplers", type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   default=["random", "tpe", "gp"])
    e.add_argument("--functions", type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   default=list(FUNCTIONS))
    e.add_argument("--seeds", type=int, default=10)
    e.add_argument("--trials", type=int, default=200)
    e.add_argument("--gp-trials", type=int, default=50)
    e.add_argument("--checkpoints", type=counts, default=[50, 200])
    c = sub.add_parser("cost")
    c.add_argument("--sampler", default="tpe")
    c.add_argument("--trials", type=int, default=1000)
    c.add_argument("--at", type=counts, default=[100, 500, 1000])
    c.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    for k in ("seeds", "trials", "gp_trials"):
        if getattr(args, k, 1) < 1:
            p.error(f"--{k.replace('_', '-')} must be positive")
    out = efficiency(args) if args.cmd == "efficiency" else cost(args)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
