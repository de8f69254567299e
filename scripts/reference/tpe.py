"""Reference values for hone-tune's TPE internals: crates/hone-tune/src/sampler/tpe.rs
(gamma_and_weights_match_optuna, multi_objective_good_set_is_the_first_fronts) and
crates/hone-tune/src/sampler/parzen.rs (kernels_match_optuna_parzen_estimator,
forgetting_weights_and_magic_clip_match_optuna).

Library: Optuna 5.0.0 (private modules optuna.samplers._tpe.sampler and
optuna.samplers._tpe.parzen_estimator: default_gamma, default_gamma_multiobjective,
default_weights, _split_complete_trials_multi_objective, _ParzenEstimator), numpy 2.4.6.
The sample efficiency figures of tpe.rs come from tpe_efficiency.py.

np.argsort is not stable, and Optuna's bandwidth rule sorts the kernel means with it: for tied
means (two observations of 8 on the `k` parameter below) numpy puts them in the other order than
hone, which keeps input order. The `k` bandwidths and every log_pdf value are therefore computed
with a stable argsort patched into parzen_estimator, as the test comment says; the unpatched
`k` bandwidths are printed as well.
Run: python scripts/reference/tpe.py
"""
import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import parzen_estimator as pe_mod
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import (_split_complete_trials_multi_objective, default_gamma,
                                          default_gamma_multiobjective, default_weights)
from optuna.study import StudyDirection
from optuna.trial import create_trial

optuna.logging.set_verbosity(optuna.logging.WARNING)
print("optuna", optuna.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value!r}")


print("\n== tpe.rs gamma_and_weights_match_optuna ==")
show("default_gamma(n) for n in [0,1,9,10,11,30,100,249,250,251,1000]",
     [default_gamma(n) for n in [0, 1, 9, 10, 11, 30, 100, 249, 250, 251, 1000]])
show("default_gamma_multiobjective(n) for n in [0,1,10,30,70,1000]",
     [default_gamma_multiobjective(n) for n in [0, 1, 10, 30, 70, 1000]])
for n in [0, 24, 25, 26, 30]:
    w = default_weights(n).tolist()
    show(f"default_weights({n})", w if n < 26 else w[:5] + ["..."] + [f"len {len(w)}, rest all 1.0: {all(x == 1.0 for x in w[5:])}"])

print("\n== tpe.rs multi_objective_good_set_is_the_first_fronts ==")
pts = [(3.0, 3.0), (1.0, 4.0), (6.0, 6.0), (2.0, 2.0), (5.0, 2.0), (4.0, 1.0)]
trials = [create_trial(values=list(v), params={}, distributions={}) for v in pts]
for i, t in enumerate(trials):
    t.number = i
for dirs in (["minimize", "minimize"], ["minimize", "maximize"]):
    study = optuna.create_study(directions=dirs)
    for n_below in ([3, 4, 5] if dirs[1] == "minimize" else [1]):
        below, _ = _split_complete_trials_multi_objective(trials, study, n_below)
        show(f"directions {dirs}, n_below={n_below}: good trials", sorted(t.number for t in below))

PARAMS = _ParzenEstimatorParameters(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
                                    weights=default_weights, multivariate=True)


def dump(pe, names):
    dists = pe._mixture_distribution.distributions
    show("weights", pe._mixture_distribution.weights.tolist())
    for name, d in zip(names, dists):
        if hasattr(d, "mu"):
            show(f"{name} mu", d.mu.tolist())
            show(f"{name} sigma", d.sigma.tolist())
        else:
            show(f"{name} categorical weights", d.weights.tolist())


print("\n== parzen.rs kernels_match_optuna_parzen_estimator ==")
space = {
    "x": FloatDistribution(-5.0, 10.0),
    "lr": FloatDistribution(1e-3, 1.0, log=True),
    "n": IntDistribution(1, 10),
    "k": IntDistribution(1, 64, log=True),
    "f": FloatDistribution(0.0, 1.0, step=0.25),
    "c": CategoricalDistribution([0, 1, 2]),
}
obs = {
    "x": np.array([0.5, -2.0, 7.5, 0.5, 9.9]),
    "lr": np.array([0.01, 0.5, 0.002, 0.1, 0.03]),
    "n": np.array([3.0, 3.0, 10.0, 1.0, 5.0]),
    "k": np.array([2.0, 64.0, 8.0, 8.0, 1.0]),
    "f": np.array([0.25, 0.5, 1.0, 0.0, 0.25]),
    "c": np.array([0.0, 2.0, 2.0, 1.0, 0.0]),  # choice indices
}
points = {
    "x": np.array([1.0, -4.9, 9.99]), "lr": np.array([0.02, 0.9, 0.001]), "n": np.array([4.0, 10.0, 1.0]),
    "k": np.array([16.0, 1.0, 64.0]), "f": np.array([0.5, 0.0, 1.0]), "c": np.array([1.0, 2.0, 0.0]),
}
print("-- numpy's own argsort (tied k observations in numpy's order):")
show("k sigma", _ParzenEstimator(obs, space, PARAMS)._mixture_distribution.distributions[3].sigma.tolist())
_argsort = np.argsort


class _StableNumpy:
    """numpy with a stable argsort, patched into parzen_estimator only."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, *args, **kw):
        return _argsort(a, kind="stable")


pe_mod.np = _StableNumpy()
print("-- stable argsort (the values the test quotes):")
pe = _ParzenEstimator(obs, space, PARAMS)
dump(pe, list(space))
show("log_pdf at the three points", pe.log_pdf(points).tolist())

print("\n== parzen.rs forgetting_weights_and_magic_clip_match_optuna ==")
xs = np.round(np.random.RandomState(3).uniform(-5, 10, 30), 3)
show("observations np.round(RandomState(3).uniform(-5, 10, 30), 3)", xs.tolist())
one = {"x": FloatDistribution(-5.0, 10.0)}
pe = _ParzenEstimator({"x": xs}, one, PARAMS)
dump(pe, ["x"])
show("magic clip floor 15 / min(100, 30 + 2)", 15 / 32)
show("log_pdf at [-5, 0.123, 9.5]", pe.log_pdf({"x": np.array([-5.0, 0.123, 9.5])}).tolist())
prior = _ParzenEstimator({"x": np.array([]), "c": np.array([])},
                         {"x": FloatDistribution(-5.0, 10.0), "c": CategoricalDistribution([0, 1, 2])}, PARAMS)
show("no observations: log_pdf at x = 2.5, choice 1", prior.log_pdf({"x": np.array([2.5]), "c": np.array([1.0])}).tolist())
pe_mod.np = np
