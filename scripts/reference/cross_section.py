"""Reference values for hone-validate's cross-sectional metrics:
crates/hone-validate/src/cross_section.rs (ic_and_rank_ic_match_pandas_and_scipy,
quantile_returns_match_pandas_qcut) and crates/hone-data/src/cross_section.rs
(transforms_match_pandas).

Libraries: scipy 1.17.1 (`pearsonr` for the IC, `spearmanr` for the rank IC, per date),
pandas 3.1.1 (the grouping; its `corr`, Qlib's way, is printed beside: it agrees except on a
constant prediction, where it returns rounding noise, 9e-17, instead of "undefined"), numpy 2.4.6.
Run: python scripts/reference/cross_section.py
"""
import numpy as np
import pandas as pd
import scipy
import warnings

from scipy.stats import ConstantInputWarning, pearsonr, spearmanr

warnings.simplefilter("ignore", ConstantInputWarning)

print("pandas", pd.__version__, "scipy", scipy.__version__, "numpy", np.__version__)

# 4 dates, up to 5 assets: date 2 has a tie in the prediction and only 4 assets, date 3 a
# constant prediction (no IC), date 4 a NaN target (that row is left out).
rows = [
    (1, 0.10, 0.020), (1, 0.30, 0.010), (1, -0.20, -0.030), (1, 0.05, 0.000), (1, 0.40, 0.050),
    (2, 0.20, -0.010), (2, 0.20, 0.020), (2, -0.10, 0.015), (2, 0.00, -0.020),
    (3, 0.10, 0.010), (3, 0.10, -0.010), (3, 0.10, 0.030),
    (4, -0.30, -0.040), (4, 0.25, 0.010), (4, 0.15, np.nan), (4, -0.05, 0.005), (4, 0.35, 0.030),
    (4, 0.00, -0.010),
]
df = pd.DataFrame(rows, columns=["date", "pred", "target"]).dropna()
ic = df.groupby("date").apply(lambda g: pearsonr(g["pred"], g["target"]).statistic).dropna()
pandas_ic = df.groupby("date").apply(lambda g: g["pred"].corr(g["target"]))
rank_ic = df.groupby("date").apply(lambda g: spearmanr(g["pred"], g["target"]).statistic).dropna()
print("\n== per-date IC (scipy pearsonr; pandas corr beside) ==")
for d, v in pandas_ic.items():
    got = repr(float(ic[d])) if d in ic.index else "undefined (constant prediction)"
    print(d, got, "assets", int((df["date"] == d).sum()), "| pandas", repr(float(v)))
print("\n== per-date rank IC (scipy spearmanr) ==")
for d, v in rank_ic.items():
    print(d, repr(float(v)))
mean, std, n = ic.mean(), ic.std(ddof=1), len(ic)
print("\n== summary of the IC (ddof 1, 252 periods a year) ==")
print("mean", repr(float(mean)))
print("std", repr(float(std)))
print("icir", repr(float(mean / std)))
print("t_stat", repr(float(mean / std * np.sqrt(n))))
print("icir_annualised", repr(float(mean / std * np.sqrt(252))))
print("hit_rate", repr(float((ic > 0).mean())))

# Quantile portfolios: per date, assets bucketed by the signal into q equal-count groups
# (pandas qcut of rank(method="first"), so ties split by row order), each bucket's mean forward
# return, then the mean over dates; the long-short spread is top minus bottom per date.
q = 3
panel = pd.DataFrame(
    [
        (1, "A", 0.5, 0.01), (1, "B", -0.2, -0.02), (1, "C", 0.1, 0.00), (1, "D", 0.9, 0.03),
        (1, "E", -0.7, -0.01), (1, "F", 0.3, 0.02),
        (2, "A", 0.2, 0.015), (2, "B", 0.2, -0.005), (2, "C", -0.4, -0.01), (2, "D", 0.6, 0.02),
        (2, "E", 0.0, 0.005), (2, "F", -0.1, 0.0), (2, "G", 0.8, 0.04),
        (3, "A", 0.1, 0.01), (3, "B", 0.3, 0.02),
    ],
    columns=["date", "asset", "signal", "fwd"],
)
print(f"\n== quantile returns, q = {q} (pandas qcut of rank(method='first')) ==")
rows = []
for d, g in panel.groupby("date"):
    if len(g) < q:
        print(d, "skipped: fewer assets than quantiles")
        continue
    bucket = pd.qcut(g["signal"].rank(method="first"), q, labels=False)
    means = g.groupby(bucket)["fwd"].mean()
    rows.append(means.values)
    print(d, [repr(float(v)) for v in means.values], "spread", repr(float(means.values[-1] - means.values[0])))
table = np.array(rows)
print("mean by quantile", [repr(float(v)) for v in table.mean(axis=0)])
print("mean spread", repr(float((table[:, -1] - table[:, 0]).mean())))

# Cross-sectional transforms (crates/hone-data/src/cross_section.rs, transforms_match_pandas):
# per date (and per date and sector), rank scaled to [0, 1] as (average rank - 1) / (n - 1)
# (0.5 for a single asset), demean, and z-score with pandas' std (ddof 1).
tf = pd.DataFrame(
    [(1, 0, 3.0), (1, 0, 1.0), (1, 1, 4.0), (1, 1, 4.0), (1, 1, 2.0),
     (2, 0, 5.0), (2, 1, np.nan), (2, 1, -1.0), (2, 0, 2.0)],
    columns=["date", "sector", "x"],
)


def scaled_rank(s):
    n = s.count()
    return (s.rank(method="average") - 1) / (n - 1) if n > 1 else s.where(s.isna(), 0.5)


for keys in (["date"], ["date", "sector"]):
    g = tf.groupby(keys)["x"]
    print(f"\n== transforms by {keys} ==")
    print("rank", [repr(float(v)) for v in g.transform(scaled_rank)])
    print("demean", [repr(float(v)) for v in tf["x"] - g.transform("mean")])
    print("zscore", [repr(float(v)) for v in (tf["x"] - g.transform("mean")) / g.transform("std")])
