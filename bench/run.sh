#!/usr/bin/env bash
# hone's benchmark harness: data loading and LightGBM training, side by side with Python peers.
#
#   bash bench/run.sh            # full size: 1M x 50 table, 100k x 50 training, 200 rounds,
#                                # tracking store with 10k and 100k runs
#   ROWS=100000 STORE_RUNS="10000" bash bench/run.sh  # smaller
#
# Python peers (pandas, pyarrow, lightgbm) run when $PYTHON (default python3) can import them;
# otherwise only hone's numbers are printed. Timings are the median of REPEAT runs (default 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
ROWS="${ROWS:-1000000}"; COLS="${COLS:-50}"
TRAIN_ROWS="${TRAIN_ROWS:-100000}"; ROUNDS="${ROUNDS:-200}"
THREADS="${THREADS:-$(nproc)}"; REPEAT="${REPEAT:-3}"
PYTHON="${PYTHON:-python3}"
STORE_RUNS="${STORE_RUNS:-10000 100000}"
data="${BENCH_DATA:-$root/bench/data}"
mkdir -p "$data"
cargo build --release -q -p hone-bench
target="${CARGO_TARGET_DIR:-$root/target}"
hb="$target/release/hone-bench"

csv="$data/table_${ROWS}x${COLS}.csv"; pq="$data/table_${ROWS}x${COLS}.parquet"
pqs="$data/table_${ROWS}x${COLS}.snappy.parquet"
[ -f "$csv" ] && [ -f "$pq" ] && [ -f "$pqs" ] || { echo "generating $csv and $pq ..." >&2; "$hb" gen-table "$ROWS" "$COLS" "$csv" "$pq"; }
bin="$data/train_${TRAIN_ROWS}x${COLS}.bin"
[ -f "$bin" ] || { echo "generating $bin ..." >&2; "$hb" gen-train "$TRAIN_ROWS" "$COLS" "$bin"; }

have_py=0
if "$PYTHON" -c "import pandas, pyarrow, lightgbm" 2>/dev/null; then have_py=1; fi

hone_csv=$("$hb" load "$csv" "$REPEAT")
hone_pq=$("$hb" load "$pq" "$REPEAT")
hone_pqs=$("$hb" load "$pqs" "$REPEAT")
hone_train=$("$hb" train "$bin" "$ROUNDS" "$THREADS" "$REPEAT")
py_load='{}'; py_train='{}'
if [ "$have_py" = 1 ]; then
  py_load=$("$PYTHON" bench/peers.py load "$csv" "$pq" "$REPEAT")
  py_train=$("$PYTHON" bench/peers.py train "$bin" "$ROUNDS" "$THREADS" "$REPEAT")
fi

python3 - "$hone_csv" "$hone_pq" "$hone_train" "$py_load" "$py_train" "$ROWS" "$COLS" "$TRAIN_ROWS" "$ROUNDS" "$THREADS" "$(du -h "$csv" | cut -f1)" "$hone_pqs" <<'PY'
import json, statistics, sys
hc, hp, ht, pl, pt = (json.loads(a) for a in sys.argv[1:6])
rows, cols, trows, rounds, threads, size = sys.argv[6:12]
hps = json.loads(sys.argv[12])
med = statistics.median
print(f"\n== data loading: {rows} rows x {cols} columns (CSV {size}), median of {len(hc['seconds'])} ==")
print(f"{'reader':<28}{'seconds':>10}{'hone / peer':>14}")
print(f"{'hone CSV':<28}{med(hc['seconds']):>10.3f}")
for k in ("pandas_csv", "pyarrow_csv"):
    if k in pl: print(f"{k.replace('_', ' '):<28}{med(pl[k]):>10.3f}{med(hc['seconds'])/med(pl[k]):>14.2f}")
print(f"{'hone Parquet (zstd)':<28}{med(hp['seconds']):>10.3f}")
for k in ("pandas_parquet", "pyarrow_parquet"):
    if k in pl: print(f"{k.replace('_', ' ') + ' (zstd)':<28}{med(pl[k]):>10.3f}{med(hp['seconds'])/med(pl[k]):>14.2f}")
print(f"{'hone Parquet (snappy)':<28}{med(hps['seconds']):>10.3f}")
for k in ("pandas_parquet_snappy", "pyarrow_parquet_snappy"):
    if k in pl: print(f"{k.replace('_snappy', '').replace('_', ' ') + ' (snappy)':<28}{med(pl[k]):>10.3f}{med(hps['seconds'])/med(pl[k]):>14.2f}")
print(f"\n== LightGBM: {trows} x {cols}, {rounds} rounds, {threads} threads, binary, 31 leaves ==")
print(f"{'trainer':<28}{'seconds':>10}{'hone / peer':>14}")
print(f"{'hone (lightgbm3-sys)':<28}{med(ht['seconds']):>10.3f}")
if pt:
    print(f"{'Python lightgbm ' + pt['lightgbm']:<28}{med(pt['seconds']):>10.3f}{med(ht['seconds'])/med(pt['seconds']):>14.2f}")
    d = max(abs(a - b) for a, b in zip(ht["predictions_first1000"], pt["predictions_first1000"]))
    print(f"max |prediction difference| on 1000 rows: {d:.3g} (identical parameters and data)")
else:
    print("(Python peers not found: pip install pandas pyarrow lightgbm, or set PYTHON=...)")
PY

echo
echo "== tracking store (SQLite, through the library) =="
store_dir="$data/store"
mkdir -p "$store_dir"
rm -f "$store_dir"/ingest.db*
"$hb" store-ingest "sqlite://$store_dir/ingest.db" "$store_dir/artifacts" 500000 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("metric points/s, one call per point (queued, batched by the writer): {:>12,.0f}".format(d["single_points_per_s"]))
print("metric points/s, 1000-point series per call:                       {:>12,.0f}".format(d["batched_points_per_s"]))'
for n in $STORE_RUNS; do
  # The store is filled once per size and reused by later runs of this script.
  "$hb" store-search "sqlite://$store_dir/search_$n.db" "$n" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("search {:>7} runs (10 params, 10 metrics each): metric filter + order_by {:6.1f} ms; metric + param filter + order_by {:6.1f} ms".format(
    d["runs"], d["search_metric_order_ms"], d["search_metric_param_order_ms"]))'
done
