"""Reference values for hone-models' preprocessing steps (crates/hone-models/src/preprocess.rs:
scalers_match_sklearn, imputer_matches_sklearn, percentile_is_numpy_linear,
univariate_scores_match_sklearn) and hone-data's rolling features
(crates/hone-data/src/features.rs: rolling_statistics_match_pandas).

Libraries: scikit-learn 1.9.1 (StandardScaler, MinMaxScaler, RobustScaler, SimpleImputer,
f_classif, f_regression, SelectKBest), numpy 2.4.6 (percentile), pandas 3.1.1 (rolling).
Run: python scripts/reference/preprocessing.py
"""
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_selection import SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from common import show

warnings.simplefilter("ignore")  # f_classif warns on the constant column
print("scikit-learn", sklearn.__version__, "numpy", np.__version__, "pandas", pd.__version__)

X = np.array([[1, 10, 5], [2, 20, 5], [4, 15, 5], [8, 30, 5], [100, 25, 5]], dtype=float)

print("\n== preprocess.rs scalers_match_sklearn (X with a constant third column) ==")
s = StandardScaler().fit(X)
show("StandardScaler mean_", s.mean_.tolist())
show("StandardScaler scale_", s.scale_.tolist())
show("StandardScaler transform column 2", s.transform(X)[:, 2].tolist())
m = MinMaxScaler().fit(X)
show("MinMaxScaler data_min_, data_range_", (m.data_min_.tolist(), m.data_range_.tolist()))
show("MinMaxScaler transform column 1", m.transform(X)[:, 1].tolist())
r = RobustScaler().fit(X)
show("RobustScaler center_, scale_", (r.center_.tolist(), r.scale_.tolist()))

print("\n== preprocess.rs imputer_matches_sklearn ==")
M = np.array([[1, np.nan], [np.nan, 2], [3, 4], [10, np.nan]])
for strategy, kw in [("mean", {}), ("median", {}), ("constant", dict(fill_value=-1.0))]:
    show(f"SimpleImputer(strategy={strategy!r}) statistics_", SimpleImputer(strategy=strategy, **kw).fit(M).statistics_.tolist())

print("\n== preprocess.rs percentile_is_numpy_linear ==")
show("np.percentile([1, 2, 4, 8, 100], [25, 50, 75, 10])", np.percentile([1, 2, 4, 8, 100], [25, 50, 75, 10]).tolist())

print("\n== preprocess.rs univariate_scores_match_sklearn ==")
yc = np.array([0, 0, 1, 1, 1])
show("f_classif(X, [0,0,1,1,1]) F", f_classif(X, yc)[0].tolist())
show("f_regression(X, [1.5,2.5,2.0,4.0,3.5]) F", f_regression(X, np.array([1.5, 2.5, 2.0, 4.0, 3.5]))[0].tolist())
show("SelectKBest(f_classif, k=1) support", np.flatnonzero(SelectKBest(f_classif, k=1).fit(X, yc).get_support()).tolist())

print("\n== features.rs rolling_statistics_match_pandas ==")
ser = pd.Series([1, 2, 4, 3, 5, 8], dtype=float)
show("rolling(3).mean()", ser.rolling(3).mean().tolist())
show("rolling(3).std()", ser.rolling(3).std().tolist())
