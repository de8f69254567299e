"""Reference values for hone-data's custom features ([data.derive.custom], crates/hone-data/src/expr.rs):
crates/hone-data/tests/custom_features.rs (custom_features_match_pandas_on_the_bundled_data) and
expr.rs's unit test ewm_mean_is_pandas.

Library: pandas 3.1.1 (shift, diff, pct_change, rolling mean/std/min/max/sum/median, ewm(span).mean()).
Each hone expression is written next to its pandas twin. Rows are 0-based rows of the file
examples/data/sp500_daily_1999_2018.csv (line = row + 2).
Run: python scripts/reference/custom_features.py
"""
import numpy as np
import pandas as pd

from common import show

print("pandas", pd.__version__, "numpy", np.__version__)

print("\n== expr.rs ewm_mean_is_pandas ==")
show("Series([1, 2, 4, 3, 5, 8]).ewm(span=3).mean()",
     pd.Series([1, 2, 4, 3, 5, 8], dtype=float).ewm(span=3).mean().tolist())
show("Series([nan, 1, nan, 3]).ewm(span=3).mean()",
     pd.Series([np.nan, 1, np.nan, 3]).ewm(span=3).mean().tolist())

print("\n== tests/custom_features.rs custom_features_match_pandas_on_the_bundled_data ==")
df = pd.read_csv("examples/data/sp500_daily_1999_2018.csv")
c, h, lo, v = df["close"], df["high"], df["low"], df["volume"]
features = {
    # mom_20 = "close / lag(close, 20) - 1"
    "mom_20": c / c.shift(20) - 1,
    # spread = "(high - low) / close"
    "spread": (h - lo) / c,
    # vol_z = "(volume - rolling_mean(volume, 20)) / rolling_std(volume, 20)"
    "vol_z": (v - v.rolling(20).mean()) / v.rolling(20).std(),
    # dlog = "diff(log(close), 1)"
    "dlog": np.log(c).diff(1),
    # pct_5 = "pct_change(close, 5)"
    "pct_5": c.pct_change(5),
    # med_5 = "rolling_median(close, 5) / close"
    "med_5": c.rolling(5).median() / c,
    # hi_lo_10 = "rolling_max(high, 10) / rolling_min(low, 10) - 1"
    "hi_lo_10": h.rolling(10).max() / lo.rolling(10).min() - 1,
    # sum_3 = "rolling_sum(abs(dlog), 3)"  (reads another custom feature)
    "sum_3": np.log(c).diff(1).abs().rolling(3).sum(),
    # ewm_10 = "ewm_mean(close, 10) / close - 1"
    "ewm_10": c.ewm(span=10).mean() / c - 1,
    # z_30 = "zscore(close, 30)"
    "z_30": (c - c.rolling(30).mean()) / c.rolling(30).std(),
    # root = "sqrt(volume) * exp(-abs(dlog)) / 1e4"
    "root": np.sqrt(v) * np.exp(-np.log(c).diff(1).abs()) / 1e4,
}
frame = pd.DataFrame(features)
first = frame.dropna().index[0]
show("first row where every feature is defined (the warm-up)", int(first))
for row in [29, 30, 1000, 2500, 5029]:
    show(f"row {row}", [float(frame.loc[row, k]) for k in features])
