#!/usr/bin/env bash
# Checks that two hone binaries give the same outputs: every example config trained with each
# (`hone train --no-track`), then metrics.json (every number, timings aside), model.txt, the
# out-of-fold and holdout predictions and the other CSV outputs compared byte for byte; and the
# tune example's first trials (parameters and values per trial number).
#
#   bash scripts/compare_outputs.sh OLD_HONE NEW_HONE [TRIALS]
#
# Used to show that a speed change kept every output; prints one line per config and exits 1
# on any difference.
set -euo pipefail
old="$1"; new="$2"; trials="${3:-8}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/hone-compare.XXXXXX")"
status=0
for cfg in "$root"/examples/*.toml; do
  name="$(basename "$cfg" .toml)"
  for side in old new; do
    bin="$old"; [ "$side" = new ] && bin="$new"
    "$bin" train "$cfg" --no-track --out "$work/$side/$name" > "$work/$side-$name.log" 2>&1 \
      || { echo "$name: $side failed: $(tail -1 "$work/$side-$name.log")"; status=1; continue 2; }
  done
  diffs=$(python3 - "$work/old/$name" "$work/new/$name" <<'PY'
import json, os, sys
a, b = sys.argv[1:3]
skip = {"seconds", "out_dir", "started", "finished", "wall_seconds"}
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in skip}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
out = []
files = sorted(set(os.listdir(a)) | set(os.listdir(b)))
for f in files:
    pa, pb = os.path.join(a, f), os.path.join(b, f)
    if not (os.path.isfile(pa) and os.path.isfile(pb)):
        if os.path.isdir(pa) or os.path.isdir(pb):
            continue
        out.append(f"{f}: only in one")
        continue
    if f.endswith(".json"):
        if strip(json.load(open(pa))) != strip(json.load(open(pb))):
            out.append(f)
    elif f.endswith((".csv", ".txt")):
        if open(pa, "rb").read() != open(pb, "rb").read():
            out.append(f)
sub_a = os.path.join(a, "pipeline")
if os.path.isdir(sub_a):
    for f in ("model.txt",):
        pa, pb = os.path.join(sub_a, f), os.path.join(b, "pipeline", f)
        if os.path.exists(pa) and open(pa, "rb").read() != open(pb, "rb").read():
            out.append("pipeline/" + f)
print(" ".join(out))
PY
)
  if [ -z "$diffs" ]; then
    echo "$name: identical ($(ls "$work/new/$name" | tr '\n' ' '))"
  else
    echo "$name: DIFFERENT: $diffs"; status=1
  fi
done
# The tune example: the first trials' parameters and values, per trial number.
tcfg="$work/tune.toml"
sed "s/^n_trials = .*/n_trials = $trials/; s|^path = \"|path = \"$root/examples/|" "$root/examples/sp500_direction_tune.toml" > "$tcfg"
for side in old new; do
  bin="$old"; [ "$side" = new ] && bin="$new"
  "$bin" tune "$tcfg" --no-refit --store "sqlite:///$work/$side-tune.db" > "$work/$side-tune.log" 2>&1
  "$bin" study trials --name sp500_direction_tune-study --json --store "sqlite:///$work/$side-tune.db" > "$work/$side-tune.json"
done
if python3 - "$work/old-tune.json" "$work/new-tune.json" <<'PY'
import json, sys
def trials(p):
    d = json.load(open(p))
    # {"items": [...], ...} since the list envelope; a bare list from older builds.
    d = d["items"] if isinstance(d, dict) else d
    return [(t["trial"], t["state"], t["params"], t.get("values")) for t in d]
a, b = trials(sys.argv[1]), trials(sys.argv[2])
sys.exit(0 if a == b and a else 1)
PY
then echo "sp500_direction_tune: $trials trials identical"; else echo "sp500_direction_tune: trials DIFFER ($work)"; status=1; fi
[ "$status" = 0 ] && rm -rf "$work"
exit $status
