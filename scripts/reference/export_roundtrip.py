"""`hone export` round trip: Python LightGBM on the exported feature matrix reproduces hone's
holdout predictions.

Checks that the Parquet file `hone export` writes is exactly what the model saw (derived
features after the fitted scaler/selector), by loading it with pandas and the run's `model.txt`
with LightGBM's Python package, predicting the `role == "holdout"` rows and comparing with the
run's `holdout_predictions.csv` (times, labels and every prediction column, to 1e-9).

    python scripts/reference/export_roundtrip.py                     # trains the bundled example
    python scripts/reference/export_roundtrip.py --hone target/release/hone
    python scripts/reference/export_roundtrip.py --run runs/<run> --features features.parquet

Without --run it trains `examples/sp500_direction.toml` (and the regression example
`examples/sp500_return_rf.toml`) into a temporary folder with `--no-track`, exports both and
checks both. Needs pandas, pyarrow and lightgbm (4.7.0, as hone's LightGBM).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import lightgbm as lgb
import numpy as np
import pandas as pd

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOLERANCE = 1e-9


def check(run_dir, features_path):
    """Predicts the exported holdout rows with the run's model.txt; returns the largest error."""
    df = pd.read_parquet(features_path)
    features = [c for c in df.columns if c not in ("time", "target", "role")]
    booster = lgb.Booster(model_file=os.path.join(run_dir, "model.txt"))
    names = booster.feature_name()
    assert names == features, f"model.txt features {names} != exported {features}"
    holdout = df[df["role"] == "holdout"]
    pred = booster.predict(holdout[features].to_numpy(dtype=np.float64))
    ref = pd.read_csv(os.path.join(run_dir, "holdout_predictions.csv"), dtype={"time": str})
    assert len(ref) == len(holdout), f"{len(ref)} holdout predictions, {len(holdout)} rows"
    assert list(ref["time"]) == list(holdout["time"]), "holdout times differ"
    assert np.array_equal(ref["y_true"].to_numpy(), holdout["target"].to_numpy()), "labels differ"
    if "y_score" in ref:  # binary: P(class 1)
        hone_pred = ref["y_score"].to_numpy()
    elif "proba_0" in ref:  # multiclass: one column per class
        hone_pred = ref[[c for c in ref.columns if c.startswith("proba_")]].to_numpy()
    else:  # regression
        hone_pred = ref["y_pred"].to_numpy()
    worst = float(np.max(np.abs(pred - hone_pred)))
    print(
        f"{os.path.basename(run_dir)}: {len(holdout)} holdout rows x {len(features)} features, "
        f"{(df['role'] == 'dev').sum()} dev rows; max |python - hone| = {worst:.3g}"
    )
    assert worst <= TOLERANCE, f"max difference {worst} > {TOLERANCE}"
    return worst


def run(hone, *args):
    subprocess.run([hone, *args], check=True, stdout=subprocess.DEVNULL)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hone", default=os.path.join(REPO, "target", "release", "hone"))
    p.add_argument("--run")
    p.add_argument("--features")
    a = p.parse_args()
    print(f"lightgbm {lgb.__version__}, pandas {pd.__version__}")
    if a.run:
        check(a.run, a.features)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for example in ("sp500_direction", "sp500_return_rf"):
                out = os.path.join(tmp, example)
                parquet = os.path.join(tmp, example + ".parquet")
                config = os.path.join(REPO, "examples", example + ".toml")
                run(a.hone, "train", config, "--no-track", "--out", out)
                run(a.hone, "export", out, "--features", parquet)
                check(out, parquet)
    print(f"OK: predictions equal hone's to {TOLERANCE}")


if __name__ == "__main__":
    sys.exit(main())
