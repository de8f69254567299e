"""The quant workload of `bench/lgbm/run.sh`, Python side: Optuna + LightGBM + MLflow.

    python workload.py gen OUT.parquet [--rows 100000] [--features 30] [--seed 7]
    python workload.py tune DATA --trials 50 --mlflow sqlite:///x.db --out result.json
    python workload.py train DATA --mlflow sqlite:///x.db --out DIR

`tune` is what a quant writes by hand, and mirrors `hone tune` on bench/lgbm/tune.toml exactly:
TimeSeriesSplit(5, gap=1) over all rows; in each fold, early stopping after 30 rounds on the
latest 20 % of the training rows (after a 1-row gap, the label horizon), up to 300 rounds; the
test rows predicted at the best iteration; the objective is the mean ROC AUC over the folds,
reported after each fold to Optuna's MedianPruner; TPE (seed 42) over learning_rate,
num_leaves, min_data_in_leaf, feature_fraction and lambda_l2; every trial an MLflow run (its
params, the fold values as a metric history, the objective, its state) in a SQLite store.
With `--jobs N`, Optuna runs N trials at once in threads (`n_jobs`), LightGBM's threads split
between them, as `hone tune --jobs N` does.
`train` is the fixed-parameter job: the same five folds, then a refit on all rows with early
stopping on its own latest 20 %, the model file and out-of-fold predictions written, all of it
logged to MLflow.
"""
import argparse
import json
import math
import os
import sys
import time

T0 = time.monotonic()

import numpy as np  # noqa: E402


def gen(args):
    """Weakly predictable, time-ordered data: AR(1) features with mixed persistence; the
    next bar's return carries a small linear and non-linear signal; y = 1 when it is > 0."""
    import pandas as pd

    rng = np.random.default_rng(args.seed)
    n, p = args.rows, args.features
    phi = rng.uniform(0.0, 0.98, p)
    scale = np.sqrt(1.0 - phi**2)
    eps = rng.standard_normal((n, p))
    x = np.empty((n, p))
    x[0] = eps[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + scale * eps[t]
    w = rng.normal(0.0, 1.0, p) * (rng.random(p) < 0.3)
    linear = x @ w / max(np.linalg.norm(w), 1e-9)
    nonlinear = np.tanh(x[:, 0] * x[:, 1]) + 0.5 * np.sign(x[:, 2]) * (np.abs(x[:, 3]) > 1.0)
    regime = np.sin(np.arange(n) * 2 * np.pi / 20000.0)
    signal = 0.18 * linear + 0.15 * nonlinear + 0.09 * regime * x[:, 4]
    ret = signal + rng.standard_normal(n)
    df = pd.DataFrame(x, columns=[f"f{j:02d}" for j in range(p)])
    df.insert(0, "t", np.arange(n, dtype=np.int64))
    df["y"] = (ret > 0).astype(np.int64)
    df.to_parquet(args.out, compression="zstd", index=False)


FEATURE_PREFIX = "f"
ROUNDS, PATIENCE, VALID_FRACTION, GAP, SPLITS, SEED = 300, 30, 0.2, 1, 5, 42


def load(path):
    import pandas as pd

    df = pd.read_parquet(path)
    feats = [c for c in df.columns if c.startswith(FEATURE_PREFIX)]
    return df[feats].to_numpy(dtype=np.float64), df["y"].to_numpy(dtype=np.float64)


def fit_fold(lgb, params, x, y, train_idx):
    """hone's early-stopping slice: the latest ceil(20 %) of the training rows, after a gap."""
    n = len(train_idx)
    n_valid = math.ceil(n * VALID_FRACTION)
    valid_start = n - n_valid
    fit_end = valid_start - GAP
    fit, valid = train_idx[:fit_end], train_idx[valid_start:]
    dfit = lgb.Dataset(x[fit], y[fit], params=params)
    dvalid = lgb.Dataset(x[valid], y[valid], reference=dfit, params=params)
    return lgb.train(
        params,
        dfit,
        num_boost_round=ROUNDS,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
    )


def tune(args):
    import lightgbm as lgb
    import mlflow
    import optuna
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import TimeSeriesSplit

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y = load(args.data)
    folds = list(TimeSeriesSplit(n_splits=SPLITS, gap=GAP).split(x))
    mlflow.set_tracking_uri(args.mlflow)
    mlflow.set_experiment("bench-study")
    finished = []

    def objective(trial):
        params = {
            "objective": "binary",
            "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 400, step=20),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 0.001, 10.0, log=True),
            "seed": SEED,
            "deterministic": True,
            "verbosity": -1,
        }
        if args.jobs > 1:
            # Trials side by side, LightGBM's threads split between them (as hone --jobs).
            params["num_threads"] = max(1, (os.cpu_count() or 1) // args.jobs)
        with mlflow.start_run(run_name=f"trial-{trial.number}"):
            mlflow.log_params(params)
            aucs = []
            for k, (tr, te) in enumerate(folds):
                booster = fit_fold(lgb, params, x, y, tr)
                pred = booster.predict(x[te], num_iteration=booster.best_iteration)
                aucs.append(roc_auc_score(y[te], pred))
                mean = float(np.mean(aucs))
                mlflow.log_metric("intermediate", mean, step=k)
                trial.report(mean, k)
                if trial.should_prune():
                    mlflow.set_tag("state", "PRUNED")
                    finished.append((time.monotonic() - T0, None, "PRUNED"))
                    raise optuna.TrialPruned()
            mean = float(np.mean(aucs))
            mlflow.log_metric("cv.roc_auc.mean", mean)
            mlflow.set_tag("state", "COMPLETE")
        finished.append((time.monotonic() - T0, mean, "COMPLETE"))
        return mean

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.MedianPruner(),
    )
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)
    states = [t.state.name for t in study.trials]
    json.dump(
        {
            "best": study.best_value,
            "complete": states.count("COMPLETE"),
            "pruned": states.count("PRUNED"),
            "trials": [{"t": t, "value": v, "state": s} for t, v, s in finished],
        },
        open(args.out, "w"),
    )


def train(args):
    import lightgbm as lgb
    import mlflow
    import pandas as pd
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import TimeSeriesSplit

    x, y = load(args.data)
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 100,
        "seed": SEED,
        "deterministic": True,
        "verbosity": -1,
    }
    os.makedirs(args.out, exist_ok=True)
    mlflow.set_tracking_uri(args.mlflow)
    mlflow.set_experiment("bench-train")
    with mlflow.start_run():
        mlflow.log_params(params)
        rows, preds = [], []
        for k, (tr, te) in enumerate(TimeSeriesSplit(n_splits=SPLITS, gap=GAP).split(x)):
            booster = fit_fold(lgb, params, x, y, tr)
            p = booster.predict(x[te], num_iteration=booster.best_iteration)
            for name, v in (
                ("roc_auc", roc_auc_score(y[te], p)),
                ("log_loss", log_loss(y[te], p)),
                ("accuracy", accuracy_score(y[te], p >= 0.5)),
            ):
                mlflow.log_metric(f"cv.{name}", v, step=k)
            rows.append(te)
            preds.append(p)
        pd.DataFrame({"row": np.concatenate(rows), "p": np.concatenate(preds)}).to_csv(
            os.path.join(args.out, "predictions_cv.csv"), index=False
        )
        final = fit_fold(lgb, params, x, y, np.arange(len(y)))
        final.save_model(os.path.join(args.out, "model.txt"), num_iteration=final.best_iteration)
        mlflow.log_artifact(os.path.join(args.out, "model.txt"))
        mlflow.log_artifact(os.path.join(args.out, "predictions_cv.csv"))
    json.dump({"seconds": time.monotonic() - T0}, open(os.path.join(args.out, "done.json"), "w"))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("--rows", type=int, default=100_000)
    g.add_argument("--features", type=int, default=30)
    g.add_argument("--seed", type=int, default=7)
    t = sub.add_parser("tune")
    t.add_argument("data")
    t.add_argument("--trials", type=int, default=50)
    t.add_argument("--mlflow", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--jobs", type=int, default=1, help="trials at once (Optuna's n_jobs)")
    r = sub.add_parser("train")
    r.add_argument("data")
    r.add_argument("--mlflow", required=True)
    r.add_argument("--out", required=True)
    args = ap.parse_args()
    {"gen": gen, "tune": tune, "train": train}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
