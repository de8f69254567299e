#!/usr/bin/env bash
# Multi-objective samplers on a real LightGBM task: examples/sp500_accuracy_vs_size_tune.toml
# (CV ROC AUC, maximised, against the fold models' mean saved size, minimised). For each sampler
# and seed it runs `hone tune --no-refit` with N trials and prints, per sampler, the median [IQR]
# hypervolume of the front after 20 and N trials (both objectives scaled to [0, 1] over every
# trial of every run; reference point (1, 1)), and a two-sided Mann-Whitney p-value against
# NSGA-II (needs scipy in $PYTHON).
#
#   bash bench/tune/mo_samplers.sh                  # SAMPLERS=nsga2,tpe SEEDS=10 N=40
#   REPORT_ONLY=1 OUT=dir bash bench/tune/mo_samplers.sh     # the table again from dir
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
SAMPLERS="${SAMPLERS:-nsga2,tpe}"; SEEDS="${SEEDS:-10}"; N="${N:-40}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hone-target}"
out="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hone-mo-samplers.XXXXXX")}"
mkdir -p "$out"
if [ "${REPORT_ONLY:-0}" != 1 ]; then
cargo build --release -q -p hone-cli
hone="$CARGO_TARGET_DIR/release/hone"
for s in ${SAMPLERS//,/ }; do
  for ((seed = 0; seed < SEEDS; seed++)); do
    HONE_STORE_URI="sqlite://$out/$s.db" "$hone" tune examples/sp500_accuracy_vs_size_tune.toml \
      --set search.sampler="$s" --set search.seed=$seed --set search.n_trials=$N \
      --set search.name="$s-$seed" --no-refit --json >/dev/null 2>"$out/$s-$seed.err"
    HONE_STORE_URI="sqlite://$out/$s.db" "$hone" study trials --name "$s-$seed" --json > "$out/$s-$seed.json"
  done
done
fi
"$PYTHON" - "$out" "$SAMPLERS" "$SEEDS" "$N" <<'PY'
import json, os, sys
out, samplers, seeds, n = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
try:
    from scipy.stats import mannwhitneyu
except ImportError:
    mannwhitneyu = None
runs = {}
for s in samplers:
    for seed in range(seeds):
        items = json.load(open(os.path.join(out, f"{s}-{seed}.json")))["items"]
        items.sort(key=lambda t: t["trial"])
        # losses: (-AUC, bytes); failed trials count as nothing.
        runs[(s, seed)] = [(-t["values"][0], t["values"][1]) if t.get("values") else None for t in items]
pts = [p for r in runs.values() for p in r if p]
lo = [min(p[i] for p in pts) for i in (0, 1)]
hi = [max(p[i] for p in pts) for i in (0, 1)]
scale = lambda p: tuple((p[i] - lo[i]) / ((hi[i] - lo[i]) or 1) for i in (0, 1))
def hv(points):
    front, best2 = [], float("inf")
    for p in sorted(points):
        if p[1] < best2:
            front.append(p); best2 = p[1]
    area, prev2 = 0.0, 1.0
    for p in front:
        area += (1 - p[0]) * (prev2 - p[1]); prev2 = p[1]
    return area
cps = sorted(set(c for c in (20, n) if c <= n))
vals = {s: [[hv([scale(p) for p in runs[(s, seed)][:c] if p]) for c in cps] for seed in range(seeds)] for s in samplers}
def q(v, p):
    v = sorted(v); i = p * (len(v) - 1); a = int(i); b = min(a + 1, len(v) - 1)
    return v[a] + (v[b] - v[a]) * (i - a)
print(f"hypervolume of the front after N trials (scaled objectives, reference (1, 1)), median [IQR] over seeds 0-{seeds - 1}")
print(f"{'sampler':<8}" + "".join(f"{'N=' + str(c):>32}" for c in cps))
for s in samplers:
    cells = []
    for k in range(len(cps)):
        v = [r[k] for r in vals[s]]
        cell = f"{q(v, .5):.4f} [{q(v, .25):.4f}, {q(v, .75):.4f}]"
        if mannwhitneyu and s != "nsga2" and "nsga2" in vals:
            cell += f" p={mannwhitneyu(v, [r[k] for r in vals['nsga2']], alternative='two-sided').pvalue:.3f}"
        cells.append(cell)
    print(f"{s:<8}" + "".join(f"{c:>32}" for c in cells))
print(f"(p: two-sided Mann-Whitney against NSGA-II; raw trials in {out})")
PY
