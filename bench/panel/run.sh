#!/usr/bin/env bash
# Panels at scale, and the cross-sectional IC next to pandas + SciPy.
#   ASSETS=5000 DAYS=2500 FEATURES=20 ROUNDS=50 bash bench/panel/run.sh
# 1. hone-bench panel-scale: a seeded ASSETS × DAYS panel (FEATURES raw features + a price)
#    as Parquet, then load, per-asset features + cross-sectional ranks + demeaned target,
#    the rank alone, a LightGBM fit, and peak memory against the raw data's size.
# 2. The IC of a 2,000-asset × 2,500-date prediction file: hone-bench panel-ic vs
#    bench/panel/ic_peer.py (pandas groupby corr, Qlib's way), same numbers expected.
# 3. The bundled 20-asset example end to end (`hone train examples/sp500_panel_rank.toml`).
# Needs the release build (cargo build --release -p hone-bench -p hone-cli) and pandas
# (.tools/mlflow-venv from scripts/setup.sh has it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/release"
py="${PYTHON:-$root/.tools/mlflow-venv/bin/python}"
work="${WORK:-$(mktemp -d)}"
ASSETS="${ASSETS:-5000}" DAYS="${DAYS:-2500}" FEATURES="${FEATURES:-20}" ROUNDS="${ROUNDS:-50}"
echo "== panel at scale: $ASSETS assets x $DAYS days x $FEATURES features ($work)"
/usr/bin/time -v "$target/hone-bench" panel-scale "$ASSETS" "$DAYS" "$FEATURES" "$work" "$ROUNDS" \
  2> "$work/time.txt"
grep -E "Maximum resident|Elapsed" "$work/time.txt"
echo "== IC: hone vs pandas"
"$py" "$root/bench/panel/ic_peer.py" gen 2000 2500 "$work/preds.csv"
"$target/hone-bench" panel-ic "$work/preds.csv"
"$py" "$root/bench/panel/ic_peer.py" ic "$work/preds.csv"
echo "== the bundled 20-asset example, end to end"
cd "$root"
/usr/bin/time -f "%e s wall, %M KiB peak" "$target/hone" train examples/sp500_panel_rank.toml \
  --no-track --out "$work/example" --overwrite > /dev/null
