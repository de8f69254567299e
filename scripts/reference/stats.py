"""Reference values for hone-validate's trading metrics and overfitting statistics
(crates/hone-validate/src/stats.rs) and the `hone stats trading|psr|dsr|pbo` tests of
crates/hone-cli/tests/cli.rs (stats_match_the_reference_values).

Libraries: empyrical-reloaded 0.7.1 (sharpe_ratio, downside_risk, sortino_ratio, max_drawdown,
annual_return, annual_volatility, calmar_ratio, omega_ratio), scipy 1.17.1 (norm, skew,
kurtosis), numpy 2.4.6. Computed here from the published formulas:
- PSR and MinTRL: Bailey & Lopez de Prado (2012), "The Sharpe Ratio Efficient Frontier",
  per-period Sharpe ratio, population skewness and non-excess kurtosis (scipy bias=True);
- DSR: Bailey & Lopez de Prado (2014), SR0 = sqrt(V) * ((1 - g) * ndtri(1 - 1/N)
  + g * ndtri(1 - 1/(N e))), g = Euler-Mascheroni, SR0 = 0 for N = 1;
- PBO: CSCV (Bailey, Borwein, Lopez de Prado & Zhu 2017) with pypbo's conventions (esvhd/pypbo
  pbo.py; pypbo is not on PyPI, so it is written out): drop the first T % S rows, the in-sample
  winner is the first index of the maximum, out-of-sample ranks are average ranks, and a logit
  lambda <= 0 counts as overfit;
- win rate, profit factor and turnover from their definitions.
Run: python scripts/reference/stats.py
"""
import itertools
import math

import empyrical as ep
import numpy as np
import scipy
from scipy import stats

print("empyrical-reloaded", ep.__version__, "scipy", scipy.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value!r}")


r = np.array([0.01, -0.02, 0.015, 0.003, -0.007, 0.012, -0.004, 0.008, -0.011, 0.006])

print("\n== trading_metrics_match_empyrical / cli.rs stats trading (P = 252) ==")
show("mean", float(r.mean()))
show("sharpe per period (ddof 1)", float(r.mean() / r.std(ddof=1)))
show("sharpe_ratio", float(ep.sharpe_ratio(r)))
show("sharpe_ratio(risk_free=0.0001)", float(ep.sharpe_ratio(r, risk_free=0.0001)))
show("downside_risk", float(ep.downside_risk(r)))
show("sortino_ratio", float(ep.sortino_ratio(r)))
show("max_drawdown", float(ep.max_drawdown(r)))
equity = np.cumprod(1 + r)
show("final equity", float(equity[-1]))
dd = equity / np.maximum(1.0, np.maximum.accumulate(equity)) - 1
trough = int(np.argmin(dd))
show("max drawdown (peak, trough) rows", (int(np.argmax(equity[:trough + 1])), trough))
show("annual_return", float(ep.annual_return(r)))
show("annual_volatility", float(ep.annual_volatility(r)))
show("calmar_ratio", float(ep.calmar_ratio(r)))
show("win rate", float(np.mean(r > 0)))
show("profit factor", float(r[r > 0].sum() / abs(r[r < 0].sum())))
show("omega_ratio (threshold 0)", float(ep.omega_ratio(r)))
w = np.array([0, 1, 1, -1, -1, 0, 1, 1, 0.5, 0.5])
show("turnover sum|dw| with w_-1 = 0", float(np.abs(np.diff(np.concatenate([[0.0], w]))).sum()))
show("max_drawdown([-0.1, 0.05])", float(ep.max_drawdown(np.array([-0.1, 0.05]))))
flat = np.array([0.01, 0.01, 0.01])
show("constant returns: sharpe, sortino, calmar (hone gives NaN for the Sharpe ratio)",
     (float(ep.sharpe_ratio(flat)), float(ep.sortino_ratio(flat)), float(ep.calmar_ratio(flat))))


def psr(sr, sr_star, t, skew, kurt):
    return float(stats.norm.cdf((sr - sr_star) * math.sqrt(t - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def min_trl(sr, sr_star, skew, kurt, alpha):
    return 1 + (1 - skew * sr + (kurt - 1) / 4 * sr**2) * (stats.norm.ppf(1 - alpha) / (sr - sr_star)) ** 2


EULER = 0.5772156649015329


def expected_max_factor(n):
    return (1 - EULER) * stats.norm.ppf(1 - 1 / n) + EULER * stats.norm.ppf(1 - 1 / (n * math.e))


print("\n== psr_min_trl_and_dsr_match_the_reference / cli.rs stats psr, dsr ==")
show("psr(0.1, 0, T=252, normal)", psr(0.1, 0, 252, 0, 3))
show("min_trl(0.1, 0, normal, alpha 0.05)", float(min_trl(0.1, 0, 0, 3, 0.05)))
show("min_trl(sqrt(0.025), 0, skew -3, kurt 10, alpha 0.05)", float(min_trl(math.sqrt(0.025), 0, -3, 10, 0.05)))
show("min_trl(0.15811388 (rounded), ...)", float(min_trl(0.15811388, 0, -3, 10, 0.05)))
sr = r.mean() / r.std(ddof=1)
sk, ku = stats.skew(r), stats.kurtosis(r, fisher=False)
show("10 returns: (sr, skew, kurtosis)", (float(sr), float(sk), float(ku)))
show("10 returns: psr(0)", psr(sr, 0, len(r), sk, ku))
for n in [2, 10, 100, 1000]:
    show(f"expected max factor N={n}", float(expected_max_factor(n)))
show("dsr N=1: sr0 = 0, dsr = psr(0.1, 0, 252)", psr(0.1, 0, 252, 0, 3))
sr0 = math.sqrt(0.0004) * expected_max_factor(100)
show("dsr N=100 V=0.0004: (sr0, dsr)", (float(sr0), psr(0.1, sr0, 252, 0, 3)))
show("dsr N=1000 V=0.0001 (cli): sr0", float(math.sqrt(0.0001) * expected_max_factor(1000)))


def pbo(m, s, metric):
    m = np.asarray(m, dtype=float)
    m = m[m.shape[0] % s:]
    blocks = np.array_split(np.arange(m.shape[0]), s)
    n = m.shape[1]
    logits = []
    for c in itertools.combinations(range(s), s // 2):
        rows_is = np.concatenate([blocks[i] for i in c])
        rows_oos = np.concatenate([blocks[i] for i in range(s) if i not in c])
        r_is, r_oos = metric(m[rows_is]), metric(m[rows_oos])
        best = int(np.argmax(r_is))  # first index on ties
        w = stats.rankdata(r_oos)[best] / (n + 1)  # average ranks
        logits.append(math.log(w / (1 - w)))
    return sum(1 for x in logits if x <= 0) / len(logits), logits


print("\n== pbo_matches_the_reference_including_the_boundary / cli.rs stats pbo ==")
M = [[25, 10, 0, -10], [10, 20, -10, 0], [-10, 5, 20, 10], [0, -10, 10, 30],
     [30, 0, -15, 10], [-20, 10, 20, 0], [0, 20, 0, -10], [10, -20, 10, 15]]
p, logits = pbo(M, 4, lambda x: x.sum(axis=0))
show("combinations", len(logits))
show("pbo (lambda <= 0 counts)", p)
show("logits", [round(x, 6) for x in logits])
show("pbo with a strict lambda < 0 (the boundary)", sum(1 for x in logits if x < 0) / len(logits))
