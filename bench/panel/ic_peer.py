"""The cross-sectional IC with pandas and SciPy, the peer of `hone-bench panel-ic`.

Usage: python ic_peer.py gen ASSETS DATES FILE    (writes date,pred,target, seeded)
       python ic_peer.py ic FILE                  (times Qlib's way: pandas groupby corr)
Prints JSON: rows, dates, load and IC seconds, mean IC, ICIR, mean rank IC, rank ICIR.
"""
import json
import sys
import time

import numpy as np
import pandas as pd


def gen(assets, dates, path):
    rng = np.random.default_rng(5)
    n = assets * dates
    date = np.repeat(np.arange(dates), assets)
    signal = rng.standard_normal(n)
    target = 0.05 * signal + rng.standard_normal(n)
    pd.DataFrame({"date": date, "pred": signal.round(6), "target": target.round(6)}).to_csv(
        path, index=False
    )


def ic(path):
    t = time.perf_counter()
    df = pd.read_csv(path)
    load = time.perf_counter() - t
    t = time.perf_counter()
    g = df.groupby("date")
    # Qlib's calc_ic: per-date Pearson and Spearman correlation of prediction and label.
    ic = g.apply(lambda x: x["pred"].corr(x["target"]), include_groups=False).dropna()
    ric = g.apply(
        lambda x: x["pred"].corr(x["target"], method="spearman"), include_groups=False
    ).dropna()
    secs = time.perf_counter() - t
    print(
        json.dumps(
            {
                "rows": len(df),
                "dates": len(ic),
                "load_s": load,
                "ic_s": secs,
                "ic_mean": float(ic.mean()),
                "ic_std": float(ic.std(ddof=1)),
                "icir": float(ic.mean() / ic.std(ddof=1)),
                "rank_ic_mean": float(ric.mean()),
                "rank_icir": float(ric.mean() / ric.std(ddof=1)),
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        ic(sys.argv[2])
