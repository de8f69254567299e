#!/usr/bin/env bash
# hone-tune's sampler benchmark, side by side with Optuna 5.0: sample efficiency (best value after
# N trials on Branin, Hartmann6, Rosenbrock-10, Ackley-10; median [IQR] over seeds, with
# Mann-Whitney tests of hone's GP and `auto` against Optuna's GPSampler) and sampler cost (ms per
# suggestion on Rosenbrock-10), then the acceptance goals, each marked met or NOT met.
#
#   bash bench/tune/run.sh                      # 20 seeds, 100 trials, checkpoints 20,50,100
#   SEEDS=3 TRIALS=50 CHECKPOINTS=20,50 bash bench/tune/run.sh   # smaller
#   REPORT_ONLY=1 OUT=dir bash bench/tune/run.sh  # print the tables again from dir's JSON
#
# Settings (environment): SAMPLERS (random,tpe,gp,auto), FUNCTIONS (branin,hartmann6,
# rosenbrock10,ackley10), SEEDS (20), TRIALS (100), GP_TRIALS (hone's GP and auto, $TRIALS),
# OPTUNA_GP_TRIALS ($TRIALS: Optuna's GPSampler, only with torch; ~5-10 s per 100-trial run
# here), CHECKPOINTS (20,50,100), JOBS (1: seeds run side by side in hone, values are unchanged),
# COST_SEEDS (3), TPE_COST_TRIALS (1000, timed at
# 100,500,1000), GP_COST_TRIALS (100, timed at 50,100), PYTHON (python3), OUT (a fresh temporary
# folder: the raw JSON of both sides is left there), CARGO_TARGET_DIR (/var/tmp/hone-target).
#
# Optuna runs when $PYTHON can import it; otherwise only hone's numbers are printed. Optuna's
# GPSampler needs torch: without it the Optuna GP column shows the figures measured with Optuna
# 5.0 that bench/tune/REFERENCE.md states (with how they were measured), marked "ref".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
SAMPLERS="${SAMPLERS:-random,tpe,gp,auto}"
FUNCTIONS="${FUNCTIONS:-branin,hartmann6,rosenbrock10,ackley10}"
SEEDS="${SEEDS:-20}"; TRIALS="${TRIALS:-100}"; GP_TRIALS="${GP_TRIALS:-$TRIALS}"
OPTUNA_GP_TRIALS="${OPTUNA_GP_TRIALS:-$TRIALS}"
CHECKPOINTS="${CHECKPOINTS:-20,50,100}"; JOBS="${JOBS:-1}"
COST_SEEDS="${COST_SEEDS:-3}"
TPE_COST_TRIALS="${TPE_COST_TRIALS:-1000}"; GP_COST_TRIALS="${GP_COST_TRIALS:-100}"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hone-target}"
out="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hone-tune-bench.XXXXXX")}"
mkdir -p "$out"

command -v python3 >/dev/null || { echo "bench/tune/run.sh: python3 is needed to print the tables" >&2; exit 1; }
started=$(date +%s)
hone_done=$started; finished=$started
if [ "${REPORT_ONLY:-0}" != 1 ]; then
bash scripts/setup.sh
echo "building hone-bench (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR) ..." >&2
cargo build --release -q -p hone-bench
hb="$CARGO_TARGET_DIR/release/hone-bench"
[ -x "$hb" ] || { echo "bench/tune/run.sh: $hb was not built" >&2; exit 1; }

have_optuna=0
if "$PYTHON" -c "import optuna" 2>/dev/null; then
  have_optuna=1
else
  echo "Optuna is not importable by $PYTHON: printing hone's numbers only (pip install optuna==5.0.0, or set PYTHON=...)" >&2
fi

# Where the cost runs are timed: as in bench/tune/REFERENCE.md, TPE at 100/500/1000 and GP at
# 50/100, keeping only the points below a smaller trial budget, plus the budget itself.
points() { local n="$1"; shift; local k at=""; for k in "$@"; do if [ "$k" -lt "$n" ]; then at="$at$k,"; fi; done; echo "$at$n"; }
tpe_at=$(points "$TPE_COST_TRIALS" 100 500); gp_at=$(points "$GP_COST_TRIALS" 50)

step() { echo "[$(( $(date +%s) - started ))s] $*" >&2; }
eff_args=(--samplers "$SAMPLERS" --functions "$FUNCTIONS" --seeds "$SEEDS" --trials "$TRIALS"
          --checkpoints "$CHECKPOINTS")
step "hone: sample efficiency"
"$hb" tune-efficiency "${eff_args[@]}" --gp-trials "$GP_TRIALS" --jobs "$JOBS" --json > "$out/hone_efficiency.json"
step "hone: TPE cost ($TPE_COST_TRIALS trials x $COST_SEEDS seeds)"
"$hb" tune-cost --sampler tpe --trials "$TPE_COST_TRIALS" --at "$tpe_at" --seeds "$COST_SEEDS" --json > "$out/hone_cost_tpe.json"
step "hone: GP cost ($GP_COST_TRIALS trials x $COST_SEEDS seeds)"
"$hb" tune-cost --sampler gp --trials "$GP_COST_TRIALS" --at "$gp_at" --seeds "$COST_SEEDS" --json > "$out/hone_cost_gp.json"
hone_done=$(date +%s)
echo '{}' > "$out/optuna_efficiency.json"; echo '{}' > "$out/optuna_cost_tpe.json"
if [ "$have_optuna" = 1 ]; then
  step "Optuna: sample efficiency"
  "$PYTHON" bench/tune/optuna_bench.py efficiency "${eff_args[@]}" --gp-trials "$OPTUNA_GP_TRIALS" > "$out/optuna_efficiency.json"
  step "Optuna: TPE cost ($TPE_COST_TRIALS trials x $COST_SEEDS seeds)"
  "$PYTHON" bench/tune/optuna_bench.py cost --sampler tpe --trials "$TPE_COST_TRIALS" --at "$tpe_at" --seeds "$COST_SEEDS" > "$out/optuna_cost_tpe.json"
  step "Optuna: GP cost ($GP_COST_TRIALS trials x 1 seed)"
  "$PYTHON" bench/tune/optuna_bench.py cost --sampler gp --trials "$GP_COST_TRIALS" --at "$gp_at" --seeds 1 > "$out/optuna_cost_gp.json"
fi
finished=$(date +%s)
fi
[ -f "$out/optuna_cost_gp.json" ] || echo '{}' > "$out/optuna_cost_gp.json"

# The tables need scipy for the Mann-Whitney tests: $PYTHON when it has it, else python3 (medians).
report_py=python3
"$PYTHON" -c "import scipy" 2>/dev/null && report_py="$PYTHON"
"$report_py" - "$out" "$(( hone_done - started ))" "$(( finished - hone_done ))" "$(( finished - started ))" <<'PY'
import json, math, os, sys
out = sys.argv[1]
hone_s, optuna_s, total_s = (int(v) for v in sys.argv[2:5])
load = lambda name: json.load(open(os.path.join(out, name)))
he, oe = load("hone_efficiency.json"), load("optuna_efficiency.json")
hct, hcg, oct_ = load("hone_cost_tpe.json"), load("hone_cost_gp.json"), load("optuna_cost_tpe.json")
ocg = load("optuna_cost_gp.json")
try:
    from scipy.stats import mannwhitneyu
except ImportError:
    mannwhitneyu = None

def g(v):
    if v is None: return "-"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.{max(0, min(7, 5 - (math.floor(math.log10(abs(v))) + 1)))}f}" if v else "0"
    return f"{v:.4e}"

def runs(doc):
    return {(r["sampler"], r["function"]): r for r in doc.get("runs", [])}

hr, orr = runs(he), runs(oe)
cps = he["checkpoints"]
funcs = list(dict.fromkeys(r["function"] for r in he["runs"]))

def cell(r, k):
    if r is None: return "-"
    if r.get("error"): return "error"
    m = r.get("median", [None] * len(cps))[k]
    if m is None: return "-"
    s = f"{g(m)} [{g(r['q1'][k])}, {g(r['q3'][k])}]"
    return s + " ref" if r.get("reference") else s

cols = [("hone random", hr, "random"), ("Optuna random", orr, "random"), ("hone TPE", hr, "tpe"),
        ("Optuna TPE", orr, "tpe"), ("hone GP", hr, "gp"), ("hone auto", hr, "auto"),
        ("Optuna GP", orr, "gp")]
rows = [(f, n, [cell(src.get((s, f)), k) for _, src, s in cols]) for f in funcs for k, n in enumerate(cps)]
w = [max([len(c[0])] + [len(r[2][i]) for r in rows]) + 2 for i, c in enumerate(cols)]
print(f"\n== sample efficiency: best value after N trials, median [IQR] over seeds 0-{len(he['seeds']) - 1} ==")
print(f"{'function':<13}{'N':>5}  " + "".join(f"{c[0]:<{w[i]}}" for i, c in enumerate(cols)).rstrip())
for f, n, cells in rows:
    print(f"{f:<13}{n:>5}  " + "".join(f"{c:<{w[i]}}" for i, c in enumerate(cells)).rstrip())
opt = {r["function"]: r["optimum"] for r in he["runs"]}
print("optima: " + ", ".join(f"{f} {opt[f]}" for f in funcs))
trials = {s: r["trials"] for (s, _), r in hr.items()}
print("trials per run: " + ", ".join(f"{s} {n}" for s, n in trials.items()))
med = lambda v: sorted(v)[len(v) // 2] if v else None
for side, rr in (("hone", hr), ("Optuna", orr)):
    t = {}
    for (s, _), r in rr.items():
        t.setdefault(s, []).extend(r.get("seconds", []))
    if t:
        print(f"{side} median seconds per run: " + ", ".join(f"{s} {med(v):.3f}" for s, v in t.items() if v))
for (s, f), r in sorted(hr.items()):
    if r.get("error"): print(f"hone {s} on {f}: error: {r['error']}")
ref_gp = [r for r in orr.values() if r.get("reference")]
if ref_gp:
    print("Optuna GP: " + ref_gp[0]["skipped"] + " (seeds 0-9; none for Rosenbrock-10/Ackley-10)")
elif not oe:
    print("(Optuna not run)")

def cost_row(doc, k):
    if not doc or doc.get("error") or doc.get("skipped"): return None, None
    return doc["median_cpu_ms"][k], doc["median_wall_ms"][k]

print(f"\n== sampler cost on Rosenbrock-10: ms per suggestion, mean over the 20 trials ending at N, median over seeds 0-{len(hct.get('seeds', [0])) - 1} ==")
print(f"{'sampler':<9}{'N':>6}{'hone CPU':>11}{'hone wall':>11}{'Optuna CPU':>12}{'Optuna wall':>13}{'Optuna §3.2':>13}")
for doc, odoc in ((hct, oct_), (hcg, ocg if ocg.get("benchmark") and not ocg.get("skipped") else None)):
    odoc = odoc if odoc is None or odoc.get("benchmark") else {}
    if doc.get("error"):
        print(f"{doc['sampler']:<9}  hone error: {doc['error']}")
        continue
    for k, n in enumerate(doc["at"]):
        c, wl = cost_row(doc, k)
        if odoc is not None:
            oc, ow = cost_row(odoc, k)
            oi = odoc["median_interval_ms"][k] if odoc and "median_interval_ms" in odoc else None
            ocs, ows, ois = g(oc), g(ow), g(oi)
        else:
            # Optuna GPSampler, CPU ms per trial, seeds 0-1 (bench/tune/REFERENCE.md).
            ocs, ows, ois = {50: "212-254 ref", 100: "300-353 ref"}.get(n, "-"), "-", "-"
        print(f"{doc['sampler']:<9}{n:>6}{g(c):>11}{g(wl):>11}{ocs:>12}{ows:>13}{ois:>13}")
for doc in (hct, hcg, oct_, ocg):
    if doc and doc.get("total_seconds"):
        print(f"{doc['side']} {doc['sampler']}: seconds per {doc['trials']}-trial run: " + ", ".join(f"{s:.2f}" for s in doc["total_seconds"]))
print("(Optuna: ask() + suggest_float() calls; §3.2 column = time between trial completions, the reference doc's measure)")

print("\n== goals ==")
def compare(sampler, peer):
    """hone no worse than Optuna's `peer` at every checkpoint where both exist: by a one-sided
    Mann-Whitney test at 5 % when both sides have per-seed values, else by the medians."""
    h_all = [hr.get((sampler, f)) for f in funcs]
    if any(r is None or r.get("error") for r in h_all):
        return False, ["hone " + sampler + " did not run: " + next((r["error"] for r in h_all if r and r.get("error")), "not requested")]
    lines, ok, n = [], True, 0
    for f in funcs:
        h, o = hr[(sampler, f)], orr.get((peer, f))
        if not o or o.get("error"): continue
        for k, cp in enumerate(cps):
            hm, om = h["median"][k], o.get("median", [None] * len(cps))[k]
            if hm is None or om is None: continue
            n += 1
            # Published figures are rounded: allow half a unit in their last digit.
            tol = 0.5 * 10 ** -len(repr(om).split(".")[1]) if o.get("reference") and "." in repr(om) and "e" not in repr(om) else 0.0
            good = hm <= om + tol
            p, verdict = "", ("ok" if good else "WORSE")
            if mannwhitneyu and not o.get("reference") and h["best"] and o["best"]:
                hv = [b[k] for b in h["best"]]; ov = [b[k] for b in o["best"]]
                pw = mannwhitneyu(hv, ov, alternative='greater').pvalue
                pb = mannwhitneyu(hv, ov, alternative='less').pvalue
                good = pw >= 0.05
                verdict = "better" if pb < 0.05 else ("level" if good else "WORSE")
                p = f"  one-sided Mann-Whitney p(hone worse) = {pw:.3f}, p(hone better) = {pb:.3f}"
            ok &= good
            lines.append(f"  {f:<13}N={cp:<5} hone {g(hm):>10}  Optuna {g(om):>10}{' (ref)' if o.get('reference') else ''}  {verdict}{p}")
    if n == 0:
        return None, ["  no checkpoint has both a hone and an Optuna figure"]
    return ok, lines

def mark(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT met")

for s, peer, label in (("tpe", "tpe", "hone TPE no worse than Optuna TPE at every checkpoint"),
                      ("gp", "gp", "hone GP no worse than Optuna GP at every checkpoint"),
                      ("auto", "gp", "hone auto no worse than Optuna GP at every checkpoint")):
    if s not in trials:
        print(f"{label}: n/a ({s} not run)"); continue
    if not oe:
        print(f"{label}: n/a (Optuna not run)"); continue
    ok, lines = compare(s, peer)
    print(f"{label}: {mark(ok)}")
    for l in lines: print(l)

def cost_goal(doc, n, bar, label):
    if doc.get("error"):
        print(f"{label}: NOT met (error: {doc['error']})"); return
    if n not in doc["at"]:
        print(f"{label}: n/a (not timed at {n})"); return
    k = doc["at"].index(n)
    c, wl = doc["median_cpu_ms"][k], doc["median_wall_ms"][k]
    v = c if c is not None else wl
    print(f"{label}: {'met' if v <= bar else 'NOT met'} ({g(v)} ms {'CPU' if c is not None else 'wall'}, {g(wl)} ms wall)")
cost_goal(hct, 1000, 0.5, "hone TPE <= 0.5 ms/suggestion at N=1000")
cost_goal(hcg, 100, 20.0, "hone GP <= 20 ms/suggestion at N=100")
print(f"\nwall time: hone {hone_s} s (build included), Optuna {optuna_s} s, total {total_s} s; raw JSON in {out}")
PY
