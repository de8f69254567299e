"""Reference values for hone-validate's drift measures (crates/hone-validate/src/drift.rs) and the
`hone drift` tests of crates/hone-cli/tests/cli.rs (stats_match_the_reference_values, drift part).

Libraries: scipy 1.17.1 (ks_2samp, kstwo, wasserstein_distance, jensenshannon, chisquare, entropy)
and numpy 2.4.6 (percentile, histogram, histogram_bin_edges).

Evidently 0.7.23 is NOT installed (it cannot be imported under pandas 3). Its conventions are
written out below as formulas, following src/evidently/legacy/calculations/stattests/ of
evidently 0.7.23 (registry.py::_get_default_stattest, utils.py::get_binned_data, psi.py,
jensenshannon.py, kl_div.py, wasserstein_distance_norm.py, chisquare_stattest.py,
z_stattest.py, ks_stattest.py):
- default test per column: n_ref <= 1000: ks (numerical, > 5 unique values), chisquare
  (categorical or 3..5 unique values), z (<= 2 unique values); n_ref > 1000: wasserstein
  (numerical, > 5 unique) or jensenshannon;
- thresholds 0.05 for p-values (ks drifts when p <= 0.05, chisquare and z when p < 0.05) and
  0.1 for distances (drift when score >= 0.1);
- bins for psi / jensenshannon / kl_div: np.histogram_bin_edges(ref + cur, bins="sturges") for a
  numerical column with more than 20 unique reference values, otherwise one bin per value;
- zero shares are replaced (psi and kl_div only) by 1e-4, or by min non-zero share / 1e6 when
  that share is <= 1e-4;
- wasserstein is normalised by max(np.std(reference), 0.001);
- chisquare: expected = reference counts * n_cur / n_ref;
- z: two-proportion z test, pooled variance, two-sided normal p-value.

Run: python scripts/reference/drift.py
"""
import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

print("scipy", scipy.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value!r}")


def fill_zeros(s):
    s = np.array(s, dtype=float)
    nz = s[s != 0].min()
    s[s == 0] = nz / 1e6 if nz <= 1e-4 else 1e-4
    return s


def psi(expected, actual):
    e, a = fill_zeros(expected), fill_zeros(actual)
    return float(np.sum((e - a) * np.log(e / a)))


ref, cur = np.arange(100.0), np.arange(10.0, 110.0)

print("\n== drift.rs drift_measures_match_the_reference ==")
show("psi([.25]*4, [.2,.3,.3,.2])", psi([0.25] * 4, [0.2, 0.3, 0.3, 0.2]))
show("psi([.1]*10, [.05,.05,.08,.1,.1,.1,.12,.12,.13,.15])",
     psi([0.1] * 10, [0.05, 0.05, 0.08, 0.1, 0.1, 0.1, 0.12, 0.12, 0.13, 0.15]))
# Reference deciles (numpy linear), outer edges at +-inf, left-closed bins as np.histogram.
edges = np.concatenate([[-np.inf], np.percentile(ref, np.arange(10, 100, 10)), [np.inf]])
e = np.histogram(ref, edges)[0] / len(ref)
a = np.histogram(cur, edges)[0] / len(cur)
show("decile edges of 0..99", np.percentile(ref, np.arange(10, 100, 10)).tolist())
show("current shares", a.tolist())
show("psi_quantiles(0..99, 10..109, 10)", psi(e, a))
r = stats.ks_2samp(ref, cur)
show("ks_2samp(0..99, 10..109) (D, p)", (float(r.statistic), float(r.pvalue)))
r = stats.ks_2samp(ref, np.arange(10.0, 140.0))
show("ks_2samp(0..99, 10..139) (D, p)", (float(r.statistic), float(r.pvalue)))
show("ks_2samp(0..99, 10..109, method='asymp') p", float(stats.ks_2samp(ref, cur, method="asymp").pvalue))
show("kstwo.sf(0.1, round(100*100/200)) = asymptotic p", float(stats.kstwo.sf(0.1, 50)))
show("kstwo.sf(0.05, 3000)", float(stats.kstwo.sf(0.05, 3000)))
show("kstwo.sf(0.3, 7)", float(stats.kstwo.sf(0.3, 7)))
r = stats.ks_2samp(np.arange(7.0), [0.5, 2.5, 6.5, 7.5, 8.5])
show("ks_2samp(0..6, [0.5,2.5,6.5,7.5,8.5]) (D, p)", (float(r.statistic), float(r.pvalue)))
show("ks_2samp(0..4999, 100..7099) p", float(stats.ks_2samp(np.arange(5000.0), np.arange(100.0, 7100.0)).pvalue))
show("ks_2samp(0..9999, 20..9018) p", float(stats.ks_2samp(np.arange(10000.0), np.arange(20.0, 9019.0)).pvalue))
w = stats.wasserstein_distance(ref, cur)
show("wasserstein_distance(0..99, 10..109)", float(w))
show("std(0..99) (ddof 0)", float(np.std(ref)))
show("wasserstein normalised", float(w / max(np.std(ref), 0.001)))
show("jensenshannon([.2,.3,.4,.1], [.3,.2,.2,.3]) (ln)", float(jensenshannon([.2, .3, .4, .1], [.3, .2, .2, .3])))
show("  base 2", float(jensenshannon([.2, .3, .4, .1], [.3, .2, .2, .3], base=2)))


# Evidently's conventions (see the docstring).
def binned(r, c, numerical):
    r, c = np.asarray(r), np.asarray(c)
    if numerical and len(np.unique(r)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([r, c]), bins="sturges")
        return np.histogram(r, bins)[0] / len(r), np.histogram(c, bins)[0] / len(c), bins
    keys = sorted(set(r.tolist()) | set(c.tolist()))
    return (np.array([np.sum(r == k) for k in keys]) / len(r),
            np.array([np.sum(c == k) for k in keys]) / len(c), keys)


def evidently(method, r, c, numerical=True):
    """(score, drifted) of one Evidently stattest, with its default threshold."""
    if method == "ks":
        p = float(stats.ks_2samp(r, c).pvalue)
        return p, p <= 0.05
    if method == "wasserstein":
        s = float(stats.wasserstein_distance(r, c) / max(np.std(r), 0.001))
        return s, s >= 0.1
    if method == "psi":
        e, a, _ = binned(r, c, numerical)
        s = psi(e, a)
        return s, s >= 0.1
    if method == "jensenshannon":
        e, a, _ = binned(r, c, numerical)
        s = float(jensenshannon(e, a))
        return s, s >= 0.1
    if method == "kl_div":
        e, a, _ = binned(r, c, numerical)
        s = float(stats.entropy(fill_zeros(e), fill_zeros(a)))
        return s, s >= 0.1
    if method == "chisquare":
        keys = sorted(set(r) | set(c))
        f_exp = [r.count(k) * len(c) / len(r) for k in keys]
        f_obs = [c.count(k) for k in keys]
        p = float(stats.chisquare(f_obs, f_exp).pvalue)
        return p, p < 0.05
    if method == "z":
        n1, n2 = len(r), len(c)
        p1, p2 = np.mean(r), np.mean(c)
        pool = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
        p = float(2 * (1 - stats.norm.cdf(abs(z))))
        return p, p < 0.05
    raise ValueError(method)


print("\n== drift.rs evidently_defaults / cli.rs drift (default tests) ==")
show("x: n_ref=100, > 5 unique -> ks (score, drifted)", evidently("ks", ref, cur))
big_r = np.array([i % 100 for i in range(2000)], dtype=float)
big_c = big_r + 10
show("x: n_ref=2000 -> wasserstein (score, drifted)", evidently("wasserstein", big_r, big_c))
rc, cc = list("aabbbccccd" * 10), list("aaabbccddd" * 10)
show("c: categorical, 4 values -> chisquare (p, drifted)", evidently("chisquare", rc, cc, numerical=False))
show("chisquare(f_obs=[30,20,20,30], f_exp=[20,30,40,10]) statistic",
     float(stats.chisquare([30, 20, 20, 30], [20, 30, 40, 10]).statistic))
show("c: psi", evidently("psi", rc, cc, numerical=False))
b_ref = np.array([float(i >= 70) for i in range(100)])
b_cur = np.array([float(i >= 55) for i in range(100)])
show("b: binary -> z (p, drifted)", evidently("z", b_ref, b_cur))
print("dataset drift: share of drifted columns >= drift_share 0.5 (1 of 2 -> 0.5 -> drifted)")

print("\n== drift.rs evidently_methods_by_name / cli.rs drift --method psi ==")
_, _, bins = binned(ref, cur, True)
show("sturges edges on the pooled 200 values (count, first, last)", (len(bins), float(bins[0]), float(bins[-1])))
for method in ["ks", "wasserstein", "psi", "jensenshannon", "kl_div"]:
    show(f"x: {method} (score, drifted)", evidently(method, ref, cur))
show("c: psi (score, drifted)", evidently("psi", rc, cc, numerical=False))
show("c: jensenshannon (score, drifted)", evidently("jensenshannon", rc, cc, numerical=False))
show("x: ks with threshold 0.8 -> drifted", evidently("ks", ref, cur)[0] <= 0.8)
