"""Optuna's TPE sample efficiency, the figures of crates/hone-tune/src/sampler/tpe.rs
(OPTUNA_BRANIN_50, OPTUNA_BRANIN_200, OPTUNA_HARTMANN6_50, OPTUNA_HARTMANN6_200, used by the
ignored test `tpe_sample_efficiency`).

Library: Optuna 5.0.0 (`TPESampler(seed=s)` with its defaults: multivariate, constant liar,
10 random startup trials), numpy 2.4.6. Protocol: sequential `study.optimize`, in-memory storage,
every parameter `suggest_float(name, low, high)`, best value after 50 and 200 trials, seeds
0..49, printed to 6 significant digits. The test functions are the textbook formulas (the same
as bench/tune/optuna_bench.py and crates/hone-tune/src/testfns.rs).

Slow: 100 studies of 200 trials (about 5 minutes on a quiet core).
Run: python scripts/reference/tpe_efficiency.py [SEEDS]   (SEEDS defaults to 50)
"""
import math
import sys

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
print("optuna", optuna.__version__, "numpy", np.__version__)


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x):
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (np.asarray(x) - P) ** 2, axis=1))))


CASES = {
    # name: (objective over a trial, parameter names and bounds as hone-tune's tests define them)
    "BRANIN": lambda t: branin(t.suggest_float("x1", -5.0, 10.0), t.suggest_float("x2", 0.0, 15.0)),
    "HARTMANN6": lambda t: hartmann6([t.suggest_float(f"x{j}", 0.0, 1.0) for j in range(6)]),
}

seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
for name, objective in CASES.items():
    at50, at200 = [], []
    for seed in range(seeds):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=200)
        values = [t.value for t in study.trials]
        at50.append(min(values[:50]))
        at200.append(min(values))
    for n, best in [(50, at50), (200, at200)]:
        print(f"OPTUNA_{name}_{n} (seeds 0..{seeds - 1}): [{', '.join(f'{v:.6g}' for v in best)}]")
        print(f"  median over seeds 0..{min(seeds, 10) - 1}: {np.median(best[:10]):.6g}, over all: {np.median(best):.6g}")
