"""Writes examples/data/byod_example.csv, the "bring your own data" example: the last three
years (2016-2018) of examples/data/sp500_daily_1999_2018.csv as Yahoo Finance exports them
(header Date,Open,High,Low,Close,Adj Close,Volume; dates as M/D/YYYY), with 15 blank cells
scattered over Close and Volume so that examples/byod_direction.toml has something to fill.

Deterministic (a fixed seed, standard library only): rerunning it rewrites the same bytes.
Run from the repository root: python3 scripts/make_byod_example.py
"""
import csv
import random

SOURCE = "examples/data/sp500_daily_1999_2018.csv"
TARGET = "examples/data/byod_example.csv"

with open(SOURCE, newline="") as f:
    rows = [r for r in csv.DictReader(f) if r["date"] >= "2016-01-01"]

# 15 blank cells, never on the first row (a forward fill needs an earlier value): 8 closes
# and 7 volumes, at rows drawn with a fixed seed.
rng = random.Random(20260101)
blank_rows = sorted(rng.sample(range(1, len(rows)), 15))
blanks = {(i, "close" if k % 2 == 0 else "volume") for k, i in enumerate(blank_rows)}

with open(TARGET, "w", newline="") as f:
    out = csv.writer(f, lineterminator="\n")
    out.writerow(["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"])
    for i, r in enumerate(rows):
        y, m, d = r["date"].split("-")
        cells = [f"{int(m)}/{int(d)}/{y}"]
        for col in ["open", "high", "low", "close", "adj_close", "volume"]:
            cells.append("" if (i, col) in blanks else r[col])
        out.writerow(cells)
print(f"wrote {TARGET}: {len(rows)} rows, {len(blanks)} blank cells")
