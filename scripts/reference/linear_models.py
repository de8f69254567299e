"""Reference values for hone-models' linear tests (scikit-learn 1.9.1, numpy 2.4.6).

Run: python scripts/reference/linear_models.py
The data is a closed-form function of the row index so that the Rust test rebuilds it exactly.
"""
import numpy as np
from sklearn.linear_model import LinearRegression, Ridge, Lasso, ElasticNet, LogisticRegression

n, p = 40, 4
X = np.array([[np.sin(0.7 * i + 1.3 * j) + 0.1 * j * np.cos(0.3 * i * (j + 1)) for j in range(p)] for i in range(n)])
i = np.arange(n)
y = 1.5 * X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 3] + 0.3 * np.sin(2.1 * i)
yb = ((X[:, 0] - X[:, 1] + 0.4 * np.sin(1.7 * i)) > 0).astype(int)
s = X[:, 0] + X[:, 2] + 0.5 * np.sin(1.1 * i)
ym = np.where(s < -0.5, 0, np.where(s < 0.5, 1, 2))

def show(name, m):
    print(name, "coef", repr(np.ravel(m.coef_).tolist()), "intercept", repr(np.ravel(m.intercept_).tolist()))

show("ols", LinearRegression().fit(X, y))
show("ridge1.5", Ridge(alpha=1.5).fit(X, y))
show("lasso0.05", Lasso(alpha=0.05, tol=1e-12, max_iter=100000).fit(X, y))
show("enet0.05_0.3", ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-12, max_iter=100000).fit(X, y))
show("lasso0.5", Lasso(alpha=0.5).fit(X, y))
show("logit_l2_C0.7", LogisticRegression(C=0.7, tol=1e-12, max_iter=100000).fit(X, yb))
show("logit_l1_C0.7", LogisticRegression(C=0.7, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=1000000).fit(X, yb))
m = LogisticRegression(C=0.7, tol=1e-12, max_iter=100000).fit(X, ym)
show("logit_multi_C0.7", m)
print("multi proba row0", repr(m.predict_proba(X[:1]).ravel().tolist()))
print("yb", yb.tolist()); print("ym", ym.tolist())

# Feature selection on the same data (scikit-learn 1.9.1).
from sklearn.feature_selection import SelectFromModel, RFE
print("sfm lasso0.05 support", SelectFromModel(Lasso(alpha=0.05)).fit(X, y).get_support().tolist())
print("sfm lasso0.05 max3 support", SelectFromModel(Lasso(alpha=0.05), max_features=3, threshold=-np.inf).fit(X, y).get_support().tolist())
r = RFE(Ridge(alpha=1.5), n_features_to_select=2).fit(X, y)
print("rfe ridge1.5 support", r.support_.tolist(), "ranking", r.ranking_.tolist())
r = RFE(LogisticRegression(C=0.7), n_features_to_select=1).fit(X, yb)
print("rfe logit support", r.support_.tolist(), "ranking", r.ranking_.tolist())
