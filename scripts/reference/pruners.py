"""Reference values for hone-tune's pruners: crates/hone-tune/src/pruner/percentile.rs,
patient.rs, threshold.rs, halving.rs and wilcoxon.rs (the `whole_studies_prune_where_optuna_does`
tests, which run `simulate`'s study of crates/hone-tune/src/pruner/mod.rs, plus
nan_percentile_matches_numpy, bracket_assignment_matches_optuna, crc32_matches_zlib and
pvalues_match_scipy).

Libraries: Optuna 5.0.0 (MedianPruner, PercentilePruner, PatientPruner, ThresholdPruner,
SuccessiveHalvingPruner, HyperbandPruner, WilcoxonPruner; HyperbandPruner's private
_try_initialization / _n_brackets / _trial_allocation_budgets / _get_bracket_id), scipy 1.17.1
(scipy.stats.wilcoxon), numpy 2.4.6 (nanpercentile), Python's binascii.crc32.
Each study: 30 trials of 20 steps run one after another; the printed list is the step each
trial was pruned at (-1: completed). Maximised studies see the values negated.
Run: python scripts/reference/pruners.py
"""
import binascii
import math
import warnings
from types import SimpleNamespace

import numpy as np
import optuna
import scipy
from optuna.pruners import (HyperbandPruner, MedianPruner, PatientPruner, PercentilePruner,
                            SuccessiveHalvingPruner, ThresholdPruner, WilcoxonPruner)
from scipy import stats

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
print("optuna", optuna.__version__, "scipy", scipy.__version__, "numpy", np.__version__)


def sim_curve(i, s):
    """pruner::testing::sim_curve: learning curve of trial i at step s."""
    return ((i * 7919) % 101) / 101.0 + ((i * 104729) % 13) / 13.0 / (s + 1) + (((i * 31 + s * 17) % 11) - 5.0) * 0.01


def sim_instance(i, s):
    """pruner::testing::sim_instance: value of trial i on instance s."""
    return ((i * 7919) % 101) / 101.0 + ((s * 13 + i) % 7) * 0.1


def simulate(pruner, direction, study_name="study", f=sim_curve, complete_on_prune=False):
    sign = -1.0 if direction == "maximize" else 1.0
    out = []

    def objective(trial):
        vals = []
        for s in range(20):
            v = sign * f(trial.number, s)
            vals.append(v)
            trial.report(v, s)
            if trial.should_prune():
                out.append(s)
                if complete_on_prune:
                    return sum(vals) / len(vals)
                raise optuna.TrialPruned()
        out.append(-1)
        return sum(vals) / len(vals) if complete_on_prune else vals[-1]

    study = optuna.create_study(direction=direction, pruner=pruner, study_name=study_name)
    study.optimize(objective, n_trials=30)
    return out


def both(label, make, **kw):
    for direction in ["minimize", "maximize"]:
        print(f"{label} {direction}: {simulate(make(), direction, **kw)}")


print("\n== percentile.rs nan_percentile_matches_numpy ==")
print("nanpercentile([5,1,nan,4,2,3], [50,25,75,10,0,100]):",
      np.nanpercentile([5, 1, np.nan, 4, 2, 3], [50, 25, 75, 10, 0, 100]).tolist())
print("nanpercentile([0.1,0.7,0.2], [33.3,66.7,75,90]):",
      [float(np.nanpercentile([0.1, 0.7, 0.2], q)) for q in [33.3, 66.7, 75, 90]])

print("\n== percentile.rs whole_studies_prune_where_optuna_does ==")
both("MEDIAN MedianPruner()", lambda: MedianPruner())
both("MEDIAN_WARM MedianPruner(3, 4, 2, n_min_trials=4)",
     lambda: MedianPruner(n_startup_trials=3, n_warmup_steps=4, interval_steps=2, n_min_trials=4))
both("PERCENTILE PercentilePruner(40.0, 3, 2, 3)",
     lambda: PercentilePruner(40.0, n_startup_trials=3, n_warmup_steps=2, interval_steps=3))

print("\n== patient.rs whole_studies_prune_where_optuna_does ==")
both("PATIENT PatientPruner(MedianPruner(n_startup_trials=2), patience=2, min_delta=0.01)",
     lambda: PatientPruner(MedianPruner(n_startup_trials=2), patience=2, min_delta=0.01))
both("PATIENT_ALONE PatientPruner(None, patience=3)", lambda: PatientPruner(None, patience=3))

print("\n== threshold.rs a_whole_study_prunes_where_optuna_does ==")
print("THRESHOLD ThresholdPruner(lower=0.1, upper=1.2, n_warmup_steps=1, interval_steps=2) minimize:",
      simulate(ThresholdPruner(lower=0.1, upper=1.2, n_warmup_steps=1, interval_steps=2), "minimize"))

print("\n== halving.rs bracket_assignment_matches_optuna ==")
for m in [20, 243, 81]:
    hb = HyperbandPruner(min_resource=1, max_resource=m, reduction_factor=3)
    hb._try_initialization(None)
    study = SimpleNamespace(study_name="hb-study")
    ids = [hb._get_bracket_id(study, SimpleNamespace(number=n)) for n in range(30)]
    print(f"max_resource={m}: n_brackets {hb._n_brackets}, budgets {hb._trial_allocation_budgets}, bracket ids {ids}")
print("math.log(243, 3) =", repr(math.log(243, 3)), "(so 243 gives 5 brackets, not 6)")

print("\n== halving.rs crc32_matches_zlib ==")
for b in [b"", b"123456789", b"study_0", b"my-study_12345"]:
    print(f"crc32({b!r}) = {binascii.crc32(b):#010X}")

print("\n== halving.rs whole_studies_prune_where_optuna_does ==")
both("SH_AUTO SuccessiveHalvingPruner()", lambda: SuccessiveHalvingPruner())
both("SH_FIXED SuccessiveHalvingPruner(min_resource=2, reduction_factor=3, min_early_stopping_rate=1, bootstrap_count=1)",
     lambda: SuccessiveHalvingPruner(min_resource=2, reduction_factor=3, min_early_stopping_rate=1, bootstrap_count=1))
both("HYPERBAND HyperbandPruner(), study 'hb-study'", lambda: HyperbandPruner(), study_name="hb-study")

print("\n== wilcoxon.rs pvalues_match_scipy: wilcoxon(d, alternative=alt, zero_method='zsplit').pvalue ==")
D20 = [-0.93, 0.5, -0.37, 1.06, 0.19, -0.68, 0.75, -0.12, 1.31, 0.44, -0.43, 1.0, 0.13, 1.56, 0.69, -0.18,
       1.25, 0.38, 1.81, 0.94]
D20_TIES = [-3.0, 4.0, 2.0, 0.0, -2.0, 5.0, 3.0, 1.0, -1.0, -3.0, 4.0, 2.0, 0.0, -2.0, 5.0, 3.0, 1.0, -1.0, -3.0, 4.0]
D60 = [0.25, 2.23343, -0.260882, -1.601329, 1.238627, 1.847474, -1.149149, -0.985574, 1.969124, 1.044381,
       -1.671795, -0.046898, 2.250786, 0.034027, -1.692197, 0.969617, 2.010146, -0.919575, -1.204922, 1.798556,
       1.310165, -1.567233, -0.337143, 2.223501, 0.333787, -1.739673, 0.684575, 2.133558, -0.663851, -1.391747,
       1.593458, 1.552326, -1.422055, -0.614231, 2.152208, 0.631729, -1.742673, 0.389888, 2.214979, -0.387663,
       -1.541855, 1.358435, 1.76548, -1.239475, -0.871951, 2.038523, 0.921228, -1.701106, 0.092162, 2.252616,
       -0.097151, -1.651871, 1.098757, 1.944895, -1.023547, -1.104525, 1.88501, 1.195844, -1.615875, -0.201934]
six = [1.5, 2.0, -0.5, 3.0, 4.5, 0.7]
seven = [1.0, -1.0, 2.0, 0.0, 2.0, 3.0, -0.5]
for name, d, alt in [("n=6", six, "greater"), ("n=6", six, "less"), ("n=6", six, "two-sided"),
                     ("[0.3, 0.1]", [0.3, 0.1], "greater"), ("n=7 ties+zero", seven, "greater"),
                     ("n=7 ties+zero", seven, "less"), ("[0,0,0]", [0.0, 0.0, 0.0], "greater"),
                     ("D20", D20, "greater"), ("D20", D20, "less"), ("D20_TIES", D20_TIES, "greater"),
                     ("D20_TIES", D20_TIES, "two-sided"), ("D60", D60, "greater"), ("D60", D60, "less"),
                     ("[0.1]*11 + [-0.5]", [0.1] * 11 + [-0.5], "greater"),
                     ("[0.1]*11 + [-2.0]", [0.1] * 11 + [-2.0], "greater")]:
    with np.errstate(all="ignore"):
        p = stats.wilcoxon(d, alternative=alt, zero_method="zsplit").pvalue
    print(f"{name} {alt}: {float(p)!r}")

print("\n== wilcoxon.rs a_whole_study_prunes_where_optuna_does (per-instance values, pruned trials"
      " complete with their average) ==")
both("WILCOXON WilcoxonPruner(p_threshold=0.1)", lambda: WilcoxonPruner(p_threshold=0.1),
     f=sim_instance, complete_on_prune=True)
