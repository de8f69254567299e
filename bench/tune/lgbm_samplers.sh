#!/usr/bin/env bash
# Samplers on a real LightGBM tuning task: examples/sp500_direction_tune.toml (5 LightGBM
# parameters, 5-fold time-series CV of ROC AUC on the bundled S&P 500 data), pruning off so
# only the sampler differs. For each sampler and seed it runs `hone tune --no-refit` with
# N trials and prints, per sampler, the median [IQR] best CV ROC AUC after 10, 20 and N
# trials, and a two-sided Mann-Whitney p-value against TPE (needs scipy in $PYTHON).
#
#   bash bench/tune/lgbm_samplers.sh                  # SAMPLERS=random,tpe,gp,auto SEEDS=20 N=50
#   REPORT_ONLY=1 OUT=dir bash bench/tune/lgbm_samplers.sh   # the table again from dir
#   SEEDS=5 N=30 bash bench/tune/lgbm_samplers.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
SAMPLERS="${SAMPLERS:-random,tpe,gp,auto}"; SEEDS="${SEEDS:-20}"; N="${N:-50}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hone-target}"
out="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hone-lgbm-samplers.XXXXXX")}"
mkdir -p "$out"
if [ "${REPORT_ONLY:-0}" != 1 ]; then
cargo build --release -q -p hone-cli
hone="$CARGO_TARGET_DIR/release/hone"
started=$(date +%s)
for s in ${SAMPLERS//,/ }; do
  for ((seed = 0; seed < SEEDS; seed++)); do
    HONE_STORE_URI="sqlite://$out/$s.db" "$hone" tune examples/sp500_direction_tune.toml \
      --set search.sampler="$s" --set search.seed=$seed --set search.n_trials=$N \
      --set search.pruner=none --set search.name="$s-$seed" --no-refit --json >/dev/null 2>"$out/$s-$seed.err"
    HONE_STORE_URI="sqlite://$out/$s.db" "$hone" study trials --name "$s-$seed" --json > "$out/$s-$seed.json"
  done
  echo "[$(( $(date +%s) - started ))s] $s done" >&2
done
fi
"$PYTHON" - "$out" "$SAMPLERS" "$SEEDS" "$N" <<'PY'
import json, os, sys
out, samplers, seeds, n = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
try:
    from scipy.stats import mannwhitneyu
except ImportError:
    mannwhitneyu = None
cps = [c for c in (10, 20, n) if c <= n]
cps = sorted(set(cps))
best = {}
for s in samplers:
    rows = []
    for seed in range(seeds):
        items = json.load(open(os.path.join(out, f"{s}-{seed}.json")))["items"]
        items.sort(key=lambda t: t["trial"])
        vals = [t["value"] if t.get("value") is not None else float("-inf") for t in items]
        rows.append([max(vals[:c]) for c in cps])
    best[s] = rows
def q(v, p):
    v = sorted(v); i = p * (len(v) - 1); lo = int(i); hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (i - lo)
print(f"best CV ROC AUC after N trials, median [IQR] over seeds 0-{seeds - 1} (examples/sp500_direction_tune.toml, pruner off)")
print(f"{'sampler':<8}" + "".join(f"{'N=' + str(c):>36}" for c in cps))
for s in samplers:
    cells = []
    for k in range(len(cps)):
        v = [r[k] for r in best[s]]
        cell = f"{q(v, .5):.4f} [{q(v, .25):.4f}, {q(v, .75):.4f}]"
        if mannwhitneyu and s != "tpe" and "tpe" in best:
            p = mannwhitneyu(v, [r[k] for r in best["tpe"]], alternative="two-sided").pvalue
            cell += f" p={p:.2f}"
        cells.append(cell)
    print(f"{s:<8}" + "".join(f"{c:>36}" for c in cells))
print(f"(p: two-sided Mann-Whitney against TPE; raw trials in {out})")
PY
