"""Reference values for hone-validate's cross-sectional metrics:
crates/hone-validate/src/cross_section.rs (ic_and_rank_ic_match_pandas_and_scipy).

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
