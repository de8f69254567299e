"""Reference values for hone-tune's PED-ANOVA parameter importances
(crates/hone-tune/src/importance.rs: matches_optuna_ped_anova,
a_deciding_parameter_dominates_and_noise_ranks_last).

Library: Optuna 5.0.0 (optuna.importance.get_param_importances with
PedAnovaImportanceEvaluator(), default settings), numpy 2.4.6. The trials are built with
optuna.trial.create_trial from hone-tune's LCG (common.py), exactly as the Rust test builds them.
Run: python scripts/reference/importance.py
"""
import math

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from optuna.trial import create_trial

from common import lcg_points

optuna.logging.set_verbosity(optuna.logging.WARNING)
print("optuna", optuna.__version__, "numpy", np.__version__)

SPACE = {
    "x": FloatDistribution(0.0, 1.0),
    "y": FloatDistribution(0.01, 1.0, log=True),
    "k": IntDistribution(1, 10),
    "c": CategoricalDistribution(["a", "b", "c"]),
    "s": FloatDistribution(0.0, 1.0, step=0.25),
    "noise": FloatDistribution(-1.0, 1.0),
}


def params_of(u):
    return {"x": u[0], "y": 0.01 + 0.99 * u[1], "k": 1 + math.floor(u[2] * 10), "c": math.floor(u[3] * 3),
            "s": 0.25 * math.floor(u[4] * 5), "noise": -1.0 + 2.0 * u[5]}


def mixed(p):
    return ((p["x"] - 0.3) ** 2 + 0.05 * abs(math.log(p["y"] / 0.1)) + 0.02 * p["k"]
            + (0.0 if p["c"] == 1 else 0.3) + 0.1 * p["s"])


def discrete(p):
    return 10.0 * p["s"] + 0.01 * p["k"] + p["x"]


def importances(trials_params, values, space, direction):
    study = optuna.create_study(direction=direction)
    for p, v in zip(trials_params, values):
        study.add_trial(create_trial(params=p, distributions=space, value=v))
    return get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())


def run(n, seed, direction, objective):
    ps = [params_of(u) for u in lcg_points(n, 6, seed)]
    values = [objective(p) for p in ps]
    for p in ps:
        p["c"] = ["a", "b", "c"][p["c"]]  # the choice itself, after the objective used its index
    return importances(ps, values, SPACE, direction)


print("\n== matches_optuna_ped_anova ==")
for n, seed, direction, objective in [(60, 5, "minimize", mixed), (200, 9, "minimize", mixed),
                                      (37, 2, "maximize", mixed), (80, 3, "minimize", discrete)]:
    print(f"n={n} seed={seed} {direction} {objective.__name__}: {dict(run(n, seed, direction, objective))}")

print("\n== a_deciding_parameter_dominates_and_noise_ranks_last ==")
print(f"objective x, n=200 seed=11: {dict(run(200, 11, 'minimize', lambda p: p['x']))}")
space3 = {k: FloatDistribution(0.0, 1.0) for k in ["x", "y", "noise"]}
pts = lcg_points(200, 3, 13)
imp = importances([dict(x=u[0], y=u[1], noise=u[2]) for u in pts], [2 * u[0] + u[1] for u in pts], space3, "minimize")
print(f"2x + y, n=200 seed=13: {dict(imp)}")
