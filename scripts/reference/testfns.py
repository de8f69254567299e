"""Reference values for hone-tune's benchmark functions (crates/hone-tune/src/testfns.rs) and the
quantiles of hone-bench's tune benchmark (crates/hone-bench/src/tune_bench.rs,
quantiles_match_numpy_percentile).

Libraries: numpy 2.4.6 (the textbook formulas written out: Branin with a=1, b=5.1/(4 pi^2),
c=5/pi, r=6, s=10, t=1/(8 pi); Hartmann6 with alpha=(1, 1.2, 3, 3.2) and the standard 4x6 A and
P*1e-4 matrices; Ackley with a=20, b=0.2, c=2 pi; np.percentile), scipy 1.17.1
(scipy.optimize.rosen).
Run: python scripts/reference/testfns.py
"""
import math

import numpy as np
import scipy
from scipy.optimize import rosen

from common import show

print("numpy", np.__version__, "scipy", scipy.__version__)


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


def ackley(x):
    x = np.asarray(x, dtype=float)
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d)) - np.exp(np.sum(np.cos(2 * np.pi * x)) / d) + 20 + np.e)


print("\n== branin_at_its_three_minimisers_and_elsewhere ==")
for p in [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475), (0.0, 0.0), (10.0, 15.0)]:
    show(f"branin{p}", branin(*p))

print("\n== hartmann6_at_its_minimiser_and_elsewhere ==")
for x in [[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573], [0.5] * 6, [i / 10 for i in range(1, 7)]]:
    show(f"hartmann6({x})", hartmann6(x))

print("\n== rosenbrock_matches_scipy ==")
for name, x in [("ones(10)", np.ones(10)), ("zeros(10)", np.zeros(10)), ("[-2 + 0.5 i]", -2 + 0.5 * np.arange(10))]:
    show(f"rosen({name})", float(rosen(x)))

print("\n== ackley_at_the_origin_and_elsewhere ==")
for name, x in [("zeros(10)", np.zeros(10)), ("ones(10)", np.ones(10)), ("[-1 + 0.3 i]", -1 + 0.3 * np.arange(10))]:
    show(f"ackley({name})", ackley(x))

print("\n== tune_bench.rs quantiles_match_numpy_percentile ==")
show("percentile([3,1,4,1,5,9,2,6,5,3], [25,50,75])", np.percentile([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], [25, 50, 75]).tolist())
show("percentile([0.7,0.1,0.4,0.2], [25,50,75])", np.percentile([0.7, 0.1, 0.4, 0.2], [25, 50, 75]).tolist())
show("percentile([7.0], 25)", float(np.percentile([7.0], 25)))
