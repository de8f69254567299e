"""Reference values for hone-validate's model-comparison tests (crates/hone-validate/src/compare.rs)
and the `hone stats delong|nb-ttest|wilcoxon` tests of crates/hone-cli/tests/cli.rs
(stats_match_the_reference_values).

Libraries: scipy 1.17.1 (norm, t, ttest_1samp, ttest_rel, binomtest, chi2, wilcoxon),
statsmodels 0.15.0 (OLS with a HAC covariance as the Diebold-Mariano cross-check, mcnemar),
numpy 2.4.6. Formulas computed here directly, with their sources:
- Diebold-Mariano (Diebold & Mariano 1995) with the Harvey-Leybourne-Newbold correction
  (1997): autocovariances divided by T, rectangular kernel over lags 0..h-1,
  DM* = DM * sqrt((T + 1 - 2h + h(h-1)/T) / T) against Student t with T-1 df;
- Nadeau-Bengio corrected resampled t (2003): t = mean / sqrt((1/J + n_test/n_train) s^2);
- DeLong (DeLong, DeLong & Clarke-Pearson 1988), by the placement values V10 / V01;
- paired bootstrap by exact enumeration of all 5^5 resamples.
Run: python scripts/reference/compare.py
"""
import itertools

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

print("scipy", scipy.__version__, "statsmodels", statsmodels.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value!r}")


print("\n== diebold_mariano_matches_the_reference ==")
y = np.array([1.0, 0.5, -0.2, 0.8, 1.2, -0.5, 0.3, 0.9, -0.1, 0.4, 0.7, -0.3])
f1 = np.array([0.8, 0.6, 0.1, 0.5, 1.0, -0.2, 0.2, 0.6, 0.2, 0.3, 0.4, 0.0])
f2 = np.array([0.5, 0.9, 0.3, 0.2, 0.6, 0.1, 0.5, 0.3, 0.3, 0.0, 0.2, 0.2])


def dm(d, h):
    T = len(d)
    dbar = d.mean()
    gamma = [np.sum((d[k:] - dbar) * (d[:T - k] - dbar)) / T for k in range(h)]
    v = (gamma[0] + 2 * sum(gamma[1:])) / T
    stat = dbar / np.sqrt(v)
    factor = np.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    star = stat * factor
    return v, stat, 2 * stats.norm.sf(abs(stat)), factor, star, 2 * stats.t.sf(abs(star), T - 1)


d = (y - f1) ** 2 - (y - f2) ** 2
show("d (squared-error loss)", np.round(d, 12).tolist())
show("mean d", float(d.mean()))
for h in [1, 2, 3]:
    v, s, p, fac, star, pt = (float(x) for x in dm(d, h))
    print(f"h={h}: variance {v!r}, dm {s!r}, p(normal) {p!r}, hln_factor {fac!r}, dm* {star!r}, p(t11) {pt!r}")
    ols = sm.OLS(d, np.ones(len(d))).fit(cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform", "use_correction": False})
    print(f"  statsmodels OLS-on-a-constant HAC(uniform, maxlags={h - 1}) t value: {float(ols.tvalues[0])!r}")
show("h=1 scipy ttest_1samp(d).statistic", float(stats.ttest_1samp(d, 0).statistic))
da = np.abs(y - f1) - np.abs(y - f2)
show("absolute-error loss, h=1 dm*", float(dm(da, 1)[4]))

print("\n== nadeau_bengio_matches_the_reference / cli.rs nb-ttest ==")
a = np.array([.712, .695, .731, .702, .688, .720, .709, .699, .715, .705])
b = np.array([.701, .690, .722, .700, .680, .711, .703, .702, .704, .698])
dd = a - b
J, s2 = len(dd), dd.var(ddof=1)
t = dd.mean() / np.sqrt((1 / J + 100 / 900) * s2)
show("mean d", float(dd.mean()))
show("corrected t", float(t))
show("corrected p (two-sided, t9)", float(2 * stats.t.sf(abs(t), J - 1)))
r = stats.ttest_rel(a, b)
show("naive t (ttest_rel)", float(r.statistic))
show("naive p", float(r.pvalue))

print("\n== mcnemar_matches_the_reference (table [[50,10],[3,37]]) ==")
tab = [[50, 10], [3, 37]]
r = mcnemar(tab, exact=True)
show("exact (statistic, p)", (float(r.statistic), float(r.pvalue)))
show("binomtest(3, 13, 0.5).pvalue", float(stats.binomtest(3, 13, 0.5).pvalue))
r = mcnemar(tab, exact=False, correction=True)
show("chi2 corrected (statistic, p)", (float(r.statistic), float(r.pvalue)))
r = mcnemar(tab, exact=False, correction=False)
show("chi2 (statistic, p)", (float(r.statistic), float(r.pvalue)))

print("\n== delong_matches_the_reference / cli.rs delong ==")
yb = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 0])
pa = np.array([0.9, 0.4, 0.65, 0.6, 0.6, 0.8, 0.2, 0.6, 0.45, 0.1])
pb = np.array([0.7, 0.5, 0.4, 0.55, 0.3, 0.6, 0.45, 0.35, 0.8, 0.2])


def placements(p):
    x, yn = p[yb == 1], p[yb == 0]
    psi = (x[:, None] > yn[None, :]) + 0.5 * (x[:, None] == yn[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


(v10a, v01a), (v10b, v01b) = placements(pa), placements(pb)
m_, n_ = len(v10a), len(v01a)
S = np.cov(np.vstack([v10a, v10b])) / m_ + np.cov(np.vstack([v01a, v01b])) / n_
auc_a, auc_b = v10a.mean(), v10b.mean()
var = S[0, 0] + S[1, 1] - 2 * S[0, 1]
z = (auc_a - auc_b) / np.sqrt(var)
show("auc_a, auc_b", (float(auc_a), float(auc_b)))
show("V10_A, V01_A", (v10a.tolist(), v01a.tolist()))
show("V10_B, V01_B", (v10b.tolist(), v01b.tolist()))
show("S", S.tolist())
show("variance of difference", float(var))
show("z", float(z))
show("p", float(2 * stats.norm.sf(abs(z))))
show("se auc_a", float(np.sqrt(S[0, 0])))

print("\n== paired_bootstrap_is_seeded_and_near_the_exact_interval ==")
a5 = np.array([0.61, 0.58, 0.66, 0.70, 0.63])
b5 = np.array([0.59, 0.60, 0.62, 0.65, 0.62])
d5 = a5 - b5
means = np.array([d5[list(ix)].mean() for ix in itertools.product(range(5), repeat=5)])
show("mean d", float(d5.mean()))
show("exact bootstrap 95% percentile CI (linear)", np.quantile(means, [0.025, 0.975]).tolist())
show("P(mean <= 0) (0 up to rounding counts)", float(np.mean(means <= 1e-12)))

print("\n== wilcoxon_matches_scipy ==")
for d_, kw in [([12, -3, 25, 7, -9, 31, 15, 4, 18, 22], {}),
               ([1, 2, 2, 3, -1, 4, 4, 4, 0, 5], {}),
               ([1, 2, 2, 3, -1, 4, 4, 4, 0, 5], dict(method="asymptotic")),
               ([1, 2, 2, 3, -1, 4, 4, 4, 5, 6, -7, 8, 9], {}),
               ([1, 2, 2, 3, -1, 4, 4, 4, 5, 6, -7, 8, 9, 0], {}),
               ([3, -1, 0, 0, 2, 2, -2, 5], {})]:
    r = stats.wilcoxon(d_, **kw)
    z = getattr(r, "zstatistic", None)
    print(f"wilcoxon({d_}{', ' + str(kw) if kw else ''}): statistic {float(r.statistic)!r}, p {float(r.pvalue)!r}"
          + (f", z {float(z)!r}" if z is not None else ""))
d_ = np.array([12, -3, 25, 7, -9, 31, 15, 4, 18, 22])
ranks = stats.rankdata(np.abs(d_))
show("W+ and W- of the first sample", (float(ranks[d_ > 0].sum()), float(ranks[d_ < 0].sum())))
