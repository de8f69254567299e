"""Reference values for hone-models' LightGBM tests (Python lightgbm 4.6/4.7, numpy 2.4.6).

Run: python scripts/reference/lightgbm_parity.py [MODEL_TXT]
With MODEL_TXT (a model hone saved), also prints that model's predictions as Python computes them.
"""
import sys
import numpy as np
import lightgbm as lgb

n, p = 600, 5
X = np.array([[np.sin(0.37 * i * (j + 1) + j) + 0.2 * np.cos(1.7 * i + 0.5 * j) for j in range(p)] for i in range(n)])
i = np.arange(n)
y = ((X[:, 0] * X[:, 1] + np.sin(3 * X[:, 2]) + 0.3 * np.sin(2.3 * i)) > 0).astype(float)
params = dict(objective="binary", num_iterations=60, learning_rate=0.1, num_leaves=7, min_data_in_leaf=10,
              seed=1, deterministic=True, force_col_wise=True, verbosity=-1, num_threads=1)
print("lightgbm", lgb.__version__)
b = lgb.train(params, lgb.Dataset(X, y))
print("full first5", repr(b.predict(X[:5]).tolist()))
print("full split importance", b.feature_importance("split").tolist())
es = dict(params, num_iterations=300)
b2 = lgb.train(es, lgb.Dataset(X[:480], y[:480]), valid_sets=[lgb.Dataset(X[480:], y[480:])],
               callbacks=[lgb.early_stopping(10, verbose=False)])
print("es best_iteration", b2.best_iteration, "first5", repr(b2.predict(X[:5], num_iteration=b2.best_iteration).tolist()))
if len(sys.argv) > 1:
    m = lgb.Booster(model_file=sys.argv[1])
    print("hone model first5", repr(m.predict(X[:5]).tolist()))
