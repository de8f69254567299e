"""Python peers for bench/run.sh: pandas/pyarrow loading and Python LightGBM training.

python bench/peers.py load CSV PARQUET REPEAT
python bench/peers.py train BIN ROUNDS THREADS REPEAT
Each prints one JSON object on stdout.
"""
import json
import sys
import time

import numpy as np


def load(csv, parquet, repeat):
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = {}
    for name, fn in [
        ("pandas_csv", lambda: pd.read_csv(csv)),
        ("pyarrow_csv", lambda: pacsv.read_csv(csv)),
        ("pandas_parquet", lambda: pd.read_parquet(parquet)),
        ("pyarrow_parquet", lambda: pq.read_table(parquet)),
        ("pandas_parquet_snappy", lambda: pd.read_parquet(parquet.rsplit(".", 1)[0] + ".snappy.parquet")),
        ("pyarrow_parquet_snappy", lambda: pq.read_table(parquet.rsplit(".", 1)[0] + ".snappy.parquet")),
    ]:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        out[name] = times
    return out


def train(bin_path, rounds, threads, repeat):
    import lightgbm as lgb

    meta = json.load(open(bin_path.rsplit(".", 1)[0] + ".json"))
    rows, cols = meta["rows"], meta["cols"]
    v = np.fromfile(bin_path, dtype="<f8")
    X = v[: rows * cols].reshape(rows, cols)
    y = v[rows * cols:]
    # The same parameters hone resolves (see hone-models' GbmSpec::resolved_params).
    params = dict(objective="binary", boosting="gbdt", num_iterations=rounds, learning_rate=0.1,
                  num_leaves=31, max_bin=255, num_threads=threads, seed=1, deterministic=True,
                  force_col_wise=True, verbosity=-1)
    times, first = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        b = lgb.train(params, lgb.Dataset(X, y))
        times.append(time.perf_counter() - t)
        first = b.predict(X[:1000]).tolist()
    return {"seconds": times, "predictions_first1000": first, "lightgbm": lgb.__version__}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "load":
        print(json.dumps(load(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif cmd == "train":
        print(json.dumps(train(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else:
        sys.exit("usage: peers.py load|train ...")
