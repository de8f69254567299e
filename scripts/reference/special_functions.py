"""Reference values for hone-tune's special functions: crates/hone-tune/src/sampler/truncnorm.rs
(erf, erfc, erfcx, log_ndtr, ndtr, _log_gauss_mass, truncnorm logpdf / ppf, ndtri, ndtri_exp),
crates/hone-tune/src/sampler/gp/acqf.rs (erfcx_matches_scipy, log_ndtr_derivative_matches_scipy) and
crates/hone-tune/src/pruner/wilcoxon.rs (normal_tail_matches_scipy_ndtr).

Libraries: scipy 1.17.1 (scipy.special, scipy.stats.truncnorm and the private
scipy.stats._continuous_distns._log_gauss_mass that Optuna's _truncnorm.py ports), mpmath 1.4.1
at 60 digits where a test quotes mpmath instead of SciPy (SciPy's own value is printed next to
it: the tests note each place where SciPy is off in the last digits).
Run: python scripts/reference/special_functions.py
"""
import mpmath
import numpy as np
import scipy
from scipy import special as sp
from scipy import stats
from scipy.stats import truncnorm
from scipy.stats._continuous_distns import _log_gauss_mass

mpmath.mp.dps = 60
print("scipy", scipy.__version__, "mpmath", mpmath.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value!r}")


def mp_log_ndtr(x):
    return float(mpmath.log(mpmath.ncdf(x)))


def mp_log_mass(a, b):
    return float(mpmath.log(mpmath.ncdf(b) - mpmath.ncdf(a)))


def mp_truncnorm_ppf(q, a, b):
    """Bisection on the truncated normal CDF in 60-digit arithmetic."""
    a, b, q = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(q)
    fa, mass = mpmath.ncdf(a), mpmath.ncdf(b) - mpmath.ncdf(a)
    return float(mpmath.findroot(lambda x: (mpmath.ncdf(x) - fa) / mass - q, (a, b), solver="bisect", tol=1e-50))


print("\n== truncnorm.rs erf_family_matches_scipy ==")
for x in [0.1, 0.5, 0.7, 1.0, 2.0, 5.0, 10.0, 26.0]:
    print(f"x={x}: erf {float(sp.erf(x))!r}, erfc {float(sp.erfc(x))!r}")
for x in [0.3, -1.2]:
    show(f"erfcx({x})", float(sp.erfcx(x)))

print("\n== gp/acqf.rs erfcx_matches_scipy ==")
for u in [0.5, 7.9, 8.1, 30.0]:
    show(f"erfcx({u})", float(sp.erfcx(u)))

print("\n== truncnorm.rs log_ndtr_matches_scipy_in_both_tails ==")
for x in [-1000.0, -200.0, -40.0, -38.5, -20.0, -19.9, -10.0, -5.0, -1.0, -0.001, 0.0, 0.5, 1.0]:
    show(f"log_ndtr({x})", float(sp.log_ndtr(x)))
print("upper tail: mpmath log(ncdf(x)) at 60 digits (SciPy in brackets)")
for x in [3.0, 6.0, 6.5, 10.0]:
    show(f"log_ndtr({x})", (mp_log_ndtr(x), float(sp.log_ndtr(x))))
show("x = 30: -ncdf(-30) - ncdf(-30)^2/2", float(-mpmath.ncdf(-30) - mpmath.ncdf(-30) ** 2 / 2))
show("ndtr(-37) (mpmath, SciPy)", (float(mpmath.ncdf(-37)), float(sp.ndtr(-37.0))))
for x in [-5.0, 0.3, 5.0]:
    show(f"ndtr({x}) (SciPy, mpmath)", (float(sp.ndtr(x)), float(mpmath.ncdf(x))))

print("\n== truncnorm.rs log_gauss_mass_matches_scipy_far_in_the_tails ==")
for a, b in [(10, 11), (-40, -39), (-11, -10), (-1, 1), (0.1, 0.2), (-0.2, -0.1), (-3, 50), (-50, 3),
             (2, 3), (-9, 9), (-38.2, -38.1)]:
    show(f"_log_gauss_mass({a}, {b})", float(_log_gauss_mass(np.float64(a), np.float64(b))))
show("(-1e-9, 1e-9): mpmath, SciPy", (mp_log_mass(-1e-9, 1e-9), float(_log_gauss_mass(np.float64(-1e-9), np.float64(1e-9)))))
show("(5, 5.0001): mpmath", mp_log_mass(5.0, 5.0001))

print("\n== truncnorm.rs logpdf_matches_scipy_truncnorm ==")
for a, b, x in [(10, 11, 10.5), (-40, -39, -39.9), (-40, -39, -39.0), (-1, 2, 0.3), (-3, 50, 40.0), (0.1, 0.2, 0.15)]:
    show(f"truncnorm({a}, {b}).logpdf({x})", float(truncnorm(a, b).logpdf(x)))
show("truncnorm(-2, 3, loc=0.5, scale=0.3).logpdf(1.1)", float(truncnorm(-2, 3, loc=0.5, scale=0.3).logpdf(1.1)))
show("truncnorm(-2, 3, loc=0.5, scale=0.3).logpdf(1.7)", float(truncnorm(-2, 3, loc=0.5, scale=0.3).logpdf(1.7)))

print("\n== truncnorm.rs ppf_matches_scipy_truncnorm (SciPy, and mpmath bisection) ==")
for a, b, q in [(10, 11, 0.5), (10, 11, 0.01), (10, 11, 0.999), (-40, -39, 0.5), (-40, -39, 0.001),
                (-40, -39, 0.99), (-1, 1, 0.3), (-50, 3, 0.999999), (0.1, 0.2, 0.5), (-2, 8, 1e-12),
                (2, 3, 0.7), (-3, 50, 0.5), (-12, 15, 0.3), (-12, 15, 1e-12)]:
    show(f"truncnorm({a}, {b}).ppf({q})", (float(truncnorm(a, b).ppf(q)), mp_truncnorm_ppf(q, a, b)))

print("\n== truncnorm.rs ndtri_matches_scipy ==")
for p in [1e-300, 1e-20, 1e-5, 0.02, 0.3, 0.7, 0.999, 0.5]:
    show(f"ndtri({p})", float(sp.ndtri(p)))

print("\n== truncnorm.rs ndtri_exp_inverts_log_ndtr ==")
for y in [-800.0, -50.0, -3.0, -0.1, -0.001, -1e-10, -1e-300]:
    show(f"ndtri_exp({y})", float(sp.ndtri_exp(y)))
root = mpmath.findroot(lambda x: mpmath.log(mpmath.ncdf(x)) + 10000, -141.4)
show("ndtri_exp(-1e4): mpmath root, SciPy", (float(root), float(sp.ndtri_exp(-1e4))))

print("\n== pruner/wilcoxon.rs normal_tail_matches_scipy_ndtr ==")
for z in [-8.0, -1.5, 0.0, 0.3, 1.4431018771204296, 2.5, 6.0, 9.0]:
    show(f"z={z}: ndtr(-z)", float(sp.ndtr(-z)))

print("\n== gp/acqf.rs log_ndtr_derivative_matches_scipy: exp(norm.logpdf(u) - log_ndtr(u)) ==")
for u in [-40.0, -5.0, -0.5, 0.0, 3.0]:
    show(f"dlog_ndtr({u})", float(np.exp(stats.norm.logpdf(u) - sp.log_ndtr(u))))
