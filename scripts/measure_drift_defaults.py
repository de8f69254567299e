"""Measures how often the drift gate fires on the bundled S&P 500 data, to choose its default.

The demo's features are rebuilt with pandas (the same definitions as hone-data's features.rs);
`hone drift --json` (hone's own drift computation, Evidently's default per-column tests) compares
each calendar year ("current", as a holdout would be) against every earlier row ("reference",
as the development rows would be). Three variants:
  raw        the features as the model sees them;
  adjusted   each feature divided by the trailing 252-bar volatility of 1-bar returns (a causal
             volatility normalisation; rsi and zscore are left as they are, being scale-free);
  shuffled   a control: the same rows, randomly split in two, so no drift is expected.
Usage: python scripts/measure_drift_defaults.py path/to/hone   (prints a table)
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HONE = sys.argv[1] if len(sys.argv) > 1 else "hone"
DATA = Path(__file__).resolve().parent.parent / "examples/data/sp500_daily_1999_2018.csv"


def rsi(p, n):
    d = p.diff()
    gain, loss = d.clip(lower=0), (-d).clip(lower=0)
    out = np.full(len(p), np.nan)
    ag, al = gain.iloc[1 : n + 1].mean(), loss.iloc[1 : n + 1].mean()
    for t in range(n, len(p)):
        if t > n:
            ag = (ag * (n - 1) + gain.iloc[t]) / n
            al = (al * (n - 1) + loss.iloc[t]) / n
        out[t] = 100.0 if al == 0 else 100 - 100 / (1 + ag / al)
    return pd.Series(out, index=p.index)


def features(df):
    p = df["close"]
    f = pd.DataFrame(index=df.index)
    for k in [1, 5, 20]:
        f[f"ret_{k}"] = p / p.shift(k) - 1
    r1 = p / p.shift(1) - 1
    for w in [20, 60]:
        f[f"vol_{w}"] = r1.rolling(w).std()
        m = p.rolling(w).mean()
        f[f"ma_gap_{w}"] = p / m - 1
        f[f"zscore_{w}"] = (p - m) / p.rolling(w).std()
    f["rsi_14"] = rsi(p, 14)
    f["date"] = df["date"]
    return f


def drift_share(ref, cur, tmp):
    a, b = Path(tmp) / "ref.csv", Path(tmp) / "cur.csv"
    ref.to_csv(a, index=False)
    cur.to_csv(b, index=False)
    out = subprocess.run(
        [HONE, "drift", "--reference", str(a), "--current", str(b), "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)["drifted_share"]


def main():
    df = pd.read_csv(DATA)
    f = features(df)
    scale = (df["close"] / df["close"].shift(1) - 1).rolling(252).std()
    adj = f.copy()
    for c in f.columns:
        if c.startswith(("ret_", "vol_", "ma_gap_")):
            adj[c] = f[c] / scale
    keep = f.notna().all(axis=1) & adj.notna().all(axis=1)
    f, adj = f[keep], adj[keep]
    year = pd.to_datetime(f["date"]).dt.year
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for y in range(2003, 2019):
            ref, cur = year < y, year == y
            if cur.sum() < 50:
                continue
            both = ref | cur
            idx = np.flatnonzero(both.values)
            pick = rng.permutation(idx)[: int(cur.sum())]
            shuf_cur = np.zeros(len(f), bool)
            shuf_cur[pick] = True
            shuf_ref = both.values & ~shuf_cur
            rows.append((
                y,
                drift_share(f[ref], f[cur], tmp),
                drift_share(adj[ref], adj[cur], tmp),
                drift_share(f[shuf_ref], f[shuf_cur], tmp),
            ))
    print(f"{'year':>6} {'raw':>6} {'adjusted':>9} {'shuffled':>9}")
    for y, r, a, s in rows:
        print(f"{y:>6} {r:>6.2f} {a:>9.2f} {s:>9.2f}")
    n = len(rows)
    for name, i in [("raw", 1), ("adjusted", 2), ("shuffled", 3)]:
        fired = sum(1 for r in rows if r[i] >= 0.5)
        med = float(np.median([r[i] for r in rows]))
        print(f"{name}: gate (drift share >= 0.5) fired in {fired}/{n} years, median share {med:.2f}")


if __name__ == "__main__":
    main()
