"""Reference values for hone-validate's metrics (crates/hone-validate/src/metrics.rs) and the
`hone metrics` tests of crates/hone-cli/tests/cli.rs (metrics_match_sklearn_reference_values).

Library: scikit-learn 1.9.1 (sklearn.metrics), numpy 2.4.6.
Run: python scripts/reference/metrics.py
"""
import warnings

import numpy as np
import sklearn
from sklearn import metrics as m

print("scikit-learn", sklearn.__version__, "numpy", np.__version__)
warnings.simplefilter("ignore")  # UndefinedMetricWarning on the edge cases below


def show(label, value):
    print(f"{label}: {value!r}")


print("\n== binary_reference_values (REF binary example) ==")
y = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 0])
p = np.array([0.9, 0.4, 0.65, 0.6, 0.6, 0.8, 0.2, 0.6, 0.45, 0.1])
yp = (p >= 0.5).astype(int)
show("y_pred = 1[p >= 0.5]", yp.tolist())
show("accuracy", m.accuracy_score(y, yp))
show("balanced_accuracy", m.balanced_accuracy_score(y, yp))
show("precision", m.precision_score(y, yp))
show("recall", m.recall_score(y, yp))
show("f1", m.f1_score(y, yp))
show("mcc", m.matthews_corrcoef(y, yp))
show("cohen_kappa", m.cohen_kappa_score(y, yp))
show("roc_auc", m.roc_auc_score(y, p))
show("average_precision", m.average_precision_score(y, p))
show("log_loss", m.log_loss(y, p))
show("brier", m.brier_score_loss(y, p))
show("confusion [[TN,FP],[FN,TP]]", m.confusion_matrix(y, yp).tolist())

print("\n== binary_edge_cases_match_sklearn ==")
show("precision([1,0,1],[0,0,0])", m.precision_score([1, 0, 1], [0, 0, 0], zero_division=0))
show("f1([1,0,1],[0,0,0])", m.f1_score([1, 0, 1], [0, 0, 0], zero_division=0))
show("mcc([1,0,1],[1,1,1])", m.matthews_corrcoef([1, 0, 1], [1, 1, 1]))
show("log_loss([1,0],[0,0])", m.log_loss([1, 0], [0.0, 0.0], labels=[0, 1]))
show("brier([0,1,1],[0.1,0.9,0.8])", m.brier_score_loss([0, 1, 1], [0.1, 0.9, 0.8]))

print("\n== auc_ties_and_single_class ==")
show("roc_auc([0,1,0,1],[0.3]*4)", m.roc_auc_score([0, 1, 0, 1], [0.3] * 4))
show("roc_auc([1,1,1],...) (one class; hone refuses it)", m.roc_auc_score([1, 1, 1], [0.3, 0.2, 0.9]))

print("\n== multiclass_reference_values (REF multiclass example) ==")
t = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2]
yp = [0, 2, 2, 2, 1, 0, 1, 1, 1, 0]
show("accuracy", m.accuracy_score(t, yp))
for avg in ["macro", "weighted"]:
    show(f"precision_{avg}", m.precision_score(t, yp, average=avg))
    show(f"recall_{avg}", m.recall_score(t, yp, average=avg))
    show(f"f1_{avg}", m.f1_score(t, yp, average=avg))
show("mcc", m.matthews_corrcoef(t, yp))
show("confusion", m.confusion_matrix(t, yp).tolist())

print("\n== multiclass_probabilistic_metrics ==")
show("log_loss([0,1,2], [[.7,.2,.1],[.1,.6,.3],[.2,.2,.6]])",
     m.log_loss([0, 1, 2], [[.7, .2, .1], [.1, .6, .3], [.2, .2, .6]]))
P = [[.5, .3, .2], [.2, .5, .3], [.1, .3, .6], [.3, .3, .4], [.3, .4, .3], [.6, .2, .2]]
show("roc_auc([0,1,2,2,1,0], P, multi_class='ovr')", m.roc_auc_score([0, 1, 2, 2, 1, 0], P, multi_class="ovr"))
show("roc_auc([0,2,1,1,2,0], P, multi_class='ovr')", m.roc_auc_score([0, 2, 1, 1, 2, 0], P, multi_class="ovr"))

print("\n== regression_reference_values ==")
y = [3, -0.5, 2, 7, 4]
yh = [2.5, 0, 2, 8, 3]
show("mse", m.mean_squared_error(y, yh))
show("rmse", m.root_mean_squared_error(y, yh))
show("mae", m.mean_absolute_error(y, yh))
show("mape", m.mean_absolute_percentage_error(y, yh))
show("r2", m.r2_score(y, yh))
show("explained_variance", m.explained_variance_score(y, yh))
show("median_ae", m.median_absolute_error(y, yh))
show("mape([0,1,2],[0.1,1,1])", m.mean_absolute_percentage_error([0, 1, 2], [0.1, 1, 1]))
show("r2 constant target, perfect fit", m.r2_score([2, 2, 2], [2, 2, 2]))
show("r2 constant target, off", m.r2_score([2, 2, 2], [2, 2, 3]))
