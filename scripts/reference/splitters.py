"""Reference index sets for hone-validate's splitters.

Covers crates/hone-validate/src/split.rs (KFold, StratifiedKFold, TimeSeriesSplit, holdout),
crates/hone-validate/src/temporal.rs (purged k-fold with embargo, combinatorial purged CV,
walk-forward, Monte Carlo sizes) and the `hone split` tests of crates/hone-cli/tests/cli.rs.

Libraries: scikit-learn 1.9.1 (KFold, StratifiedKFold, TimeSeriesSplit, ShuffleSplit,
train_test_split) and skfolio 1.12.2 (CombinatorialPurgedCV, WalkForward). Purged k-fold has no
library that implements the rule hone follows, so it is computed here from its definition
(López de Prado, Advances in Financial Machine Learning, 2018, snippets 7.1 and 7.2): test blocks
as np.array_split, embargo h = floor(n * pct) bars, and a training row i is kept iff its label
window [i, t1_i] misses the test window [ts, t0[min(pos(te) + h, n - 1)]].

Indices are printed 0-based; `a..b` in a label means a through b inclusive.
Run: python scripts/reference/splitters.py
"""
import itertools
import math

import numpy as np
import sklearn
import skfolio
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, TimeSeriesSplit, train_test_split
from skfolio.model_selection import CombinatorialPurgedCV, WalkForward

print("scikit-learn", sklearn.__version__, "skfolio", skfolio.__version__, "numpy", np.__version__)


def show(label, value):
    print(f"{label}: {value}")


def lists(folds):
    return [[int(i) for i in f] for f in folds]


def error(fn):
    try:
        fn()
    except ValueError as e:
        return f"ValueError: {e}"
    return "no error"


X20 = np.zeros((20, 1))

print("\n== split.rs kfold_matches_sklearn_blocks / cli.rs split_matches_sklearn_... ==")
f = list(KFold(4).split(X20))
show("KFold(4) n=20 tests", lists(t for _, t in f))
show("KFold(4) n=20 fold 1 train", lists([f[1][0]])[0])
show("KFold(3) n=20 tests", lists(t for _, t in KFold(3).split(X20)))

print("\n== split.rs kfold_shuffle_partitions_with_sklearn_sizes_and_is_seeded ==")
show("KFold(3, shuffle=True) n=20 test sizes", [len(t) for _, t in KFold(3, shuffle=True, random_state=7).split(X20)])

print("\n== split.rs kfold_errors_like_sklearn ==")
show("KFold(5) n=3", error(lambda: list(KFold(5).split(np.zeros((3, 1))))))
show("KFold(1)", error(lambda: KFold(1)))

print("\n== split.rs stratified_kfold_matches_sklearn / cli.rs (labels a x12, b x8) ==")
y = np.array([0] * 12 + [1] * 8)
show("StratifiedKFold(4) tests", lists(t for _, t in StratifiedKFold(4).split(X20, y)))

print("\n== split.rs stratified_kfold_uneven_classes_matches_sklearn ==")
y = np.array([1, 0, 2, 1, 0, 2, 1, 0, 1, 1, 0, 0, 2, 1, 1])
show("StratifiedKFold(3) tests", lists(t for _, t in StratifiedKFold(3).split(np.zeros((15, 1)), y)))

print("\n== split.rs stratified_kfold_refuses_too_small_classes ==")
show("StratifiedKFold(4) y=[0,0,1,1,1]", error(lambda: list(StratifiedKFold(4).split(np.zeros((5, 1)), [0, 0, 1, 1, 1]))))

print("\n== split.rs timeseries_matches_sklearn_tables / cli.rs split_matches_sklearn_... ==")
for kw in [dict(), dict(gap=1), dict(test_size=3, max_train_size=8), dict(test_size=3, max_train_size=8, gap=1), dict(gap=3)]:
    f = list(TimeSeriesSplit(4, **kw).split(X20))
    show(f"TimeSeriesSplit(4, {kw}) n=20 trains", lists(t for t, _ in f))
    show(f"TimeSeriesSplit(4, {kw}) n=20 tests", lists(t for _, t in f))

print("\n== split.rs timeseries_impossible_settings_fail_like_sklearn ==")
for kw in [dict(n_splits=4, test_size=5), dict(n_splits=4, gap=4), dict(n_splits=20)]:
    show(f"TimeSeriesSplit({kw}) n=20", error(lambda: list(TimeSeriesSplit(**kw).split(X20))))

print("\n== split.rs holdout_is_the_last_fraction_with_purge (test rows = ceil(share * n)) ==")
for n, share in [(100, 0.2), (10, 0.25)]:
    tr, te = train_test_split(np.arange(n), test_size=share, shuffle=False)
    show(f"train_test_split(n={n}, test_size={share}, shuffle=False) first test row", int(te[0]))


def purged_kfold(t1, n_splits, pct):
    """AFML snippets 7.1/7.2 with t0_i = i: the training rows of each test block."""
    n = len(t1)
    h = math.floor(n * pct)
    out = []
    for block in np.array_split(np.arange(n), n_splits):
        ts = int(block[0])
        te = max(t1[j] for j in block)
        te_emb = min(te + h, n - 1)  # t0 = position, so pos(te) = te
        out.append([i for i in range(n) if i not in set(block) and (t1[i] < ts or i > te_emb)])
    return out, [list(map(int, b)) for b in np.array_split(np.arange(n), n_splits)]


print("\n== temporal.rs purged_kfold_matches_the_reference / cli.rs split_shows_purged_... ==")
t1 = [min(i + 2, 11) for i in range(12)]
show("t1", t1)
for pct in [0.0, 0.1, 0.2]:
    trains, tests = purged_kfold(t1, 3, pct)
    show(f"purged k=3 pct={pct} (h={math.floor(12 * pct)}) trains", trains)
show("purged k=3 tests", tests)

print("\n== temporal.rs cpcv_matches_skfolio / cli.rs split_shows_purged_... ==")
for n_folds, k in [(3, 2), (5, 2), (6, 2), (10, 2), (10, 8)]:
    cv = CombinatorialPurgedCV(n_folds=n_folds, n_test_folds=k)
    show(f"CombinatorialPurgedCV(n_folds={n_folds}, n_test_folds={k}) (n_splits, n_test_paths)", (cv.n_splits, cv.n_test_paths))


def cpcv(n, **kw):
    cv = CombinatorialPurgedCV(**kw)
    folds = [(list(map(int, tr)), [list(map(int, t)) for t in te]) for tr, te in cv.split(np.zeros((n, 1)))]
    return cv, folds


cv, folds = cpcv(12, n_folds=6, n_test_folds=2)
show("n=12 N=6 k=2 splits", len(folds))
for s in [0, 1, 5, 14]:
    show(f"n=12 N=6 k=2 split {s} (train, tests)", folds[s])
show("n=12 N=6 k=2 get_path_ids()", cv.get_path_ids().tolist())
cv, folds = cpcv(24, n_folds=6, n_test_folds=2, purged_size=1, embargo_size=1)
show("n=24 N=6 k=2 purged_size=1 embargo_size=1 splits", len(folds))
for s in [0, 1, 5, 14]:
    show(f"n=24 N=6 k=2 purged 1 embargo 1 split {s} (train, tests)", folds[s])
show("n=24 N=6 k=2 get_path_ids()[5]", cv.get_path_ids()[5].tolist())
cv, folds = cpcv(13, n_folds=3, n_test_folds=2)
show("n=13 N=3 k=2 test folds of splits 0 and 1 (the last fold takes the remainder)", folds[0][1] + folds[1][1][1:])
show("n_test_folds=1", error(lambda: cpcv(13, n_folds=3, n_test_folds=1)))
show("n_folds=2", error(lambda: cpcv(13, n_folds=2, n_test_folds=2)))

print("\n== temporal.rs walk_forward_matches_skfolio / cli.rs split_shows_purged_... ==")
for n, kw in [(10, dict(test_size=2, train_size=4)), (10, dict(test_size=2, train_size=4, expand_train=True)),
              (10, dict(test_size=2, train_size=4, purged_size=1)), (11, dict(test_size=3, train_size=4)),
              (11, dict(test_size=3, train_size=4, reduce_test=True))]:
    pairs = [(list(map(int, tr)), list(map(int, te))) for tr, te in WalkForward(**kw).split(np.zeros((n, 1)))]
    show(f"WalkForward({kw}) n={n} (train, test)", pairs)
show("WalkForward(test_size=2, train_size=20) n=10",
     error(lambda: list(WalkForward(test_size=2, train_size=20).split(np.zeros((10, 1))))))

print("\n== temporal.rs monte_carlo_is_seeded_and_disjoint / cli.rs split_shows_purged_... ==")
for n, share in [(40, 0.25), (50, 0.2)]:
    tr, te = next(ShuffleSplit(n_splits=1, test_size=share, random_state=0).split(np.zeros((n, 1))))
    show(f"ShuffleSplit(test_size={share}) n={n} (train, test) sizes", (len(tr), len(te)))
