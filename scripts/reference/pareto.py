"""Reference values for hone-tune's multi-objective code: crates/hone-tune/src/pareto.rs
(ranks_match_optuna_and_peeling, hypervolume_of_hand_computed_boxes,
hypervolume_matches_optuna_on_random_sets, hssp_matches_optuna) and
crates/hone-tune/src/sampler/nsga2.rs (elite_keeps_the_best_fronts_then_the_least_crowded,
and the Optuna figures quoted for scale in zdt1_hypervolume_beats_random_search).

Library: Optuna 5.0.0 (private modules optuna.study._multi_objective._fast_non_domination_rank,
optuna._hypervolume.compute_hypervolume / hssp._solve_hssp,
optuna.samplers.nsgaii._elite_population_selection_strategy._calc_crowding_distance,
NSGAIISampler, RandomSampler), numpy 2.4.6. Points come from hone-tune's LCG (common.py).
Run: python scripts/reference/pareto.py
"""
import itertools

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume
from optuna._hypervolume.hssp import _solve_hssp
from optuna.samplers._tpe.sampler import _get_reference_point
from optuna.samplers.nsgaii._elite_population_selection_strategy import _calc_crowding_distance
from optuna.study._multi_objective import _fast_non_domination_rank, _is_pareto_front
from optuna.trial import create_trial

from common import lcg_points, show

optuna.logging.set_verbosity(optuna.logging.WARNING)
print("optuna", optuna.__version__, "numpy", np.__version__)

print("\n== pareto.rs ranks_match_optuna_and_peeling ==")
for n, d, seed in [(12, 2, 7), (12, 3, 8)]:
    show(f"_fast_non_domination_rank(lcg_points({n}, {d}, {seed}))",
         _fast_non_domination_rank(np.array(lcg_points(n, d, seed))).tolist())

print("\n== pareto.rs hypervolume_of_hand_computed_boxes ==")
show("compute_hypervolume([[1,2,3],[2,1,2]], [4,4,4])",
     float(compute_hypervolume(np.array([[1.0, 2, 3], [2, 1, 2]]), np.array([4.0] * 3))))
p4 = np.array([[0.0, 1, 2, 3], [1, 0, 3, 2], [2, 2, 0, 0]])
ie = 0.0
for k in range(1, 4):
    for sub in itertools.combinations(p4, k):
        ie += (-1) ** (k + 1) * np.prod(4.0 - np.max(sub, axis=0))
show("4-D three boxes: inclusion-exclusion over the 7 subsets", float(ie))
show("4-D three boxes: compute_hypervolume", float(compute_hypervolume(p4, np.array([4.0] * 4))))

print("\n== pareto.rs hypervolume_matches_optuna_on_random_sets ==")
for n, d, seed in [(40, 2, 1), (40, 3, 2), (30, 4, 3), (20, 5, 4), (60, 3, 5), (25, 6, 6)]:
    show(f"compute_hypervolume(lcg_points({n}, {d}, {seed}), ones({d}))",
         float(compute_hypervolume(np.array(lcg_points(n, d, seed)), np.ones(d))))

print("\n== pareto.rs hssp_matches_optuna ==")
u = np.array(lcg_points(30, 1, 21))[:, 0]
f2 = np.stack([u, 1 - np.sqrt(u)], axis=1)
r2 = _get_reference_point(f2)
show("reference point max(1.1 worst, 0.9 worst) of F = (u, 1 - sqrt u)", r2.tolist())
for k in [1, 4, 7]:
    show(f"_solve_hssp(F, arange(30), {k}, ref)", _solve_hssp(f2, np.arange(30), k, r2).tolist())
for n, d, seed, k in [(200, 3, 12, 5), (150, 4, 13, 6)]:
    pts = np.array(lcg_points(n, d, seed))
    front = pts[_is_pareto_front(pts, assume_unique_lexsorted=False)]
    show(f"front of lcg_points({n}, {d}, {seed}) (input order): _solve_hssp(front, arange, {k}, ref)",
         _solve_hssp(front, np.arange(len(front)), k, _get_reference_point(front)).tolist())

print("\n== nsga2.rs elite_keeps_the_best_fronts_then_the_least_crowded ==")
front = [(0.0, 5.0), (1.0, 3.0), (2.5, 2.0), (4.0, 0.5), (6.0, 0.0)]
pop = []
for i, v in enumerate(front):
    t = create_trial(values=list(v))
    t.number = i
    pop.append(t)
show("_calc_crowding_distance(trials 0..4)", dict(sorted(_calc_crowding_distance(pop).items())))

if True:  # the ten ZDT1 studies of 500 trials take a few seconds
    print("\n== nsga2.rs zdt1_hypervolume_beats_random_search (Optuna, for scale only) ==")

    def zdt1(trial):
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(5)]
        g = 1 + 9 * sum(x[1:]) / 4
        return x[0], g * (1 - np.sqrt(x[0] / g))

    ref = np.array([1.1, 1.1])
    for seed in range(5):
        hv = []
        for sampler in (optuna.samplers.NSGAIISampler(seed=seed), optuna.samplers.RandomSampler(seed=seed)):
            study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
            study.optimize(zdt1, n_trials=500)
            v = np.array([t.values for t in study.best_trials])
            v = v[np.all(v <= ref, axis=1)]
            hv.append(compute_hypervolume(v, ref) if len(v) else 0.0)
        print(f"seed {seed}: NSGAIISampler {hv[0]:.2f}, RandomSampler {hv[1]:.2f}")
