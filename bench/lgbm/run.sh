#!/usr/bin/env bash
# The quant workload, hone against the Python stack it replaces, side by side on one machine:
# tune a LightGBM classifier with TPE and a median pruner over TimeSeriesSplit(5, gap=1) folds,
# 50 trials, every trial tracked (hone: `hone tune --no-refit`, fresh SQLite store; Python:
# Optuna + LightGBM + MLflow with its SQLite store), then the fixed-parameter job (5 folds +
# refit: `hone train` against a plain Python script). Runs are interleaved A B A B ..., and the
# table shows medians of wall time, CPU time and peak memory, the ratios, the best CV AUC,
# complete/pruned counts and the time each side took to reach the Python side's best AUC.
#
#   bash bench/lgbm/run.sh                 # 3 rounds, 100k x 30, 50 trials (~20 min)
#   REPEAT=1 TRIALS=10 bash bench/lgbm/run.sh   # a quick look
#
# Settings (environment): REPEAT (3), TRIALS (50), ROWS (100000), FEATURES (30), JOBS2 (1: also
# time `hone tune --jobs 2` and Optuna with n_jobs = 2, each against the other), STEPS_ROUNDS (1: also time hone with steps = "rounds", pruning on
# every boosting round instead of after each fold), VENV (bench/.venv: created with the pinned peers below when
# missing), PYTHON (the venv's python), OUT (a fresh temporary folder, left with every log),
# CARGO_TARGET_DIR (/var/tmp/hone-target).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
REPEAT="${REPEAT:-3}"; TRIALS="${TRIALS:-50}"; ROWS="${ROWS:-100000}"; FEATURES="${FEATURES:-30}"
JOBS2="${JOBS2:-1}"; STEPS_ROUNDS="${STEPS_ROUNDS:-1}"
VENV="${VENV:-$root/bench/.venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/hone-target}"
out="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hone-lgbm-bench.XXXXXX")}"
mkdir -p "$out"
PEERS=(optuna==5.1.0 lightgbm==4.7.0 mlflow==3.17.2 scikit-learn==1.9.1 pandas==3.1.1 pyarrow==25.0.1)

if [ -z "${PYTHON:-}" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV with ${PEERS[*]} ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PEERS[@]}"
  fi
  PYTHON="$VENV/bin/python"
fi
"$PYTHON" -c "import optuna, lightgbm, mlflow, sklearn, pandas" \
  || { echo "bench/lgbm/run.sh: $PYTHON cannot import the peers (${PEERS[*]})" >&2; exit 1; }

bash scripts/setup.sh
echo "building hone (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR) ..." >&2
cargo build --release -q -p hone-cli
hone="$CARGO_TARGET_DIR/release/hone"

"$PYTHON" bench/lgbm/workload.py gen "$out/data.parquet" --rows "$ROWS" --features "$FEATURES"
sed "s/^n_trials = .*/n_trials = $TRIALS/" bench/lgbm/tune.toml > "$out/tune.toml"
# The same study with round-level pruning steps, to show what they buy.
sed 's/^metric = "roc_auc"/metric = "roc_auc"\nsteps = "rounds"/' "$out/tune.toml" > "$out/tune_rounds.toml"
cp bench/lgbm/train.toml "$out/train.toml"

now_ms() { date +%s%3N; }
# timed NAME CMD...: runs CMD, keeps its output in $out/NAME.log and "start_ms wall user sys
# max_rss_kb" in $out/NAME.time.
timed() {
  local name="$1"; shift
  local start; start=$(now_ms)
  /usr/bin/time -f "$start %e %U %S %M" -o "$out/$name.time" "$@" > "$out/$name.log" 2>&1 \
    || { echo "bench/lgbm/run.sh: $name failed; see $out/$name.log" >&2; tail -5 "$out/$name.log" >&2; exit 1; }
}
started=$(date +%s)
step() { echo "[$(( $(date +%s) - started ))s] $*" >&2; }
for i in $(seq 1 "$REPEAT"); do
  step "round $i/$REPEAT: hone tune"
  timed "hone_tune_$i" "$hone" tune "$out/tune.toml" --no-refit --store "sqlite:///$out/hone_$i.db" \
    --artifacts "$out/artifacts_$i"
  step "round $i/$REPEAT: Optuna + LightGBM + MLflow"
  timed "py_tune_$i" env -C "$out" "$PYTHON" "$root/bench/lgbm/workload.py" tune "$out/data.parquet" --trials "$TRIALS" \
    --mlflow "sqlite:///$out/mlflow_$i.db" --out "$out/py_tune_$i.json"
  if [ "$JOBS2" = 1 ]; then
    step "round $i/$REPEAT: hone tune --jobs 2"
    timed "hone_tune_j2_$i" "$hone" tune "$out/tune.toml" --no-refit --jobs 2 \
      --store "sqlite:///$out/hone_j2_$i.db" --artifacts "$out/artifacts_j2_$i"
    step "round $i/$REPEAT: Optuna + LightGBM + MLflow, n_jobs = 2"
    timed "py_tune_j2_$i" env -C "$out" "$PYTHON" "$root/bench/lgbm/workload.py" tune "$out/data.parquet" --trials "$TRIALS" \
      --jobs 2 --mlflow "sqlite:///$out/mlflow_j2_$i.db" --out "$out/py_tune_j2_$i.json"
  fi
  if [ "$STEPS_ROUNDS" = 1 ]; then
    step "round $i/$REPEAT: hone tune, steps = \"rounds\""
    timed "hone_tune_rounds_$i" "$hone" tune "$out/tune_rounds.toml" --no-refit \
      --store "sqlite:///$out/hone_rounds_$i.db" --artifacts "$out/artifacts_rounds_$i"
  fi
  step "round $i/$REPEAT: hone train / Python script"
  timed "hone_train_$i" "$hone" train "$out/train.toml" --out "$out/train_$i" \
    --store "sqlite:///$out/hone_train_$i.db" --artifacts "$out/artifacts_train_$i"
  timed "py_train_$i" env -C "$out" "$PYTHON" "$root/bench/lgbm/workload.py" train "$out/data.parquet" \
    --mlflow "sqlite:///$out/mlflow_train_$i.db" --out "$out/py_train_$i"
done
step "done; logs in $out"

python3 - "$out" "$REPEAT" "$TRIALS" "$(nproc)" <<'PY'
import json, os, sqlite3, statistics, sys
out, repeat, trials, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
med = statistics.median

def timing(name):
    start, wall, user, sys_, rss = open(os.path.join(out, name + ".time")).read().split()[:5]
    return int(start), float(wall), float(user) + float(sys_), int(rss) / 1024

def hone_study(db, start_ms):
    """(best AUC, complete, pruned, [(seconds since start, value)] of COMPLETE trials)."""
    c = sqlite3.connect(db)
    rows = c.execute(
        "SELECT r.end_time, s.value, m.value FROM runs r "
        "JOIN tags s ON s.run_id = r.run_id AND s.key = 'hone.trial.state' "
        "LEFT JOIN latest_metrics m ON m.run_id = r.run_id AND m.key = 'cv.roc_auc.mean'").fetchall()
    done = sorted(((e - start_ms) / 1000, v) for e, s, v in rows if s == "COMPLETE" and v is not None)
    states = [s for _, s, _ in rows]
    return max(v for _, v in done), states.count("COMPLETE"), states.count("PRUNED"), done

def py_study(path):
    r = json.load(open(path))
    done = [(t["t"], t["value"]) for t in r["trials"] if t["state"] == "COMPLETE"]
    return r["best"], r["complete"], r["pruned"], done

def reach(done, target):
    return next((t for t, v in done if v >= target), None)

sides = {"hone": [], "py": [], "hone_j2": [], "hone_rounds": [], "py_j2": []}
for i in range(1, repeat + 1):
    for side, name, db in (("hone", f"hone_tune_{i}", f"hone_{i}.db"),
                           ("hone_j2", f"hone_tune_j2_{i}", f"hone_j2_{i}.db"),
                           ("hone_rounds", f"hone_tune_rounds_{i}", f"hone_rounds_{i}.db")):
        if os.path.exists(os.path.join(out, name + ".time")):
            start, wall, cpu, rss = timing(name)
            sides[side].append((wall, cpu, rss) + hone_study(os.path.join(out, db), start))
    _, wall, cpu, rss = timing(f"py_tune_{i}")
    sides["py"].append((wall, cpu, rss) + py_study(os.path.join(out, f"py_tune_{i}.json")))
    if os.path.exists(os.path.join(out, f"py_tune_j2_{i}.time")):
        _, wall, cpu, rss = timing(f"py_tune_j2_{i}")
        sides["py_j2"].append((wall, cpu, rss) + py_study(os.path.join(out, f"py_tune_j2_{i}.json")))

py_best = med([r[3] for r in sides["py"]])
py_wall, py_cpu, py_rss = (med([r[k] for r in sides["py"]]) for k in range(3))
labels = {"hone": "hone tune", "hone_j2": "hone tune --jobs 2", "hone_rounds": 'hone tune, steps = "rounds"',
          "py": "Optuna + LightGBM + MLflow", "py_j2": "Optuna + LightGBM + MLflow, n_jobs = 2"}
print(f"\n== tune: {trials} trials, TimeSeriesSplit(5, gap=1), {cores} cores, median of {repeat} ==")
print("| | wall | CPU s | peak memory | best CV AUC | complete / pruned | time to Python's best AUC "
      f"({py_best:.5f}) | wall ratio hone / Python |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
py_j2_wall = med([r[0] for r in sides["py_j2"]]) if sides["py_j2"] else None
for side in ("hone", "hone_rounds", "py", "hone_j2", "py_j2"):
    rs = sides[side]
    if not rs:
        continue
    wall, cpu, rss = (med([r[k] for r in rs]) for k in range(3))
    best = med([r[3] for r in rs])
    comp, pr = med([r[4] for r in rs]), med([r[5] for r in rs])
    reached = [reach(r[6], py_best) for r in rs]
    got = [t for t in reached if t is not None]
    ttb = (f"{med(got):.1f} s" if got else "not reached") + (f" ({len(got)}/{len(rs)} runs)" if len(got) != len(rs) else "")
    ratio = "" if side.startswith("py") else f"**{wall / py_wall:.2f}×** (CPU {cpu / py_cpu:.2f}×, memory {rss / py_rss:.2f}×)"
    if side == "hone_j2" and py_j2_wall:
        ratio += f"; {wall / py_j2_wall:.2f}× Optuna with n_jobs = 2"
    if side == "py_j2":
        ratio = f"{wall / py_wall:.2f}× sequential Optuna"
    print(f"| {labels[side]} | {wall:.1f} s | {cpu:.0f} | {rss:.0f} MiB | {best:.5f} | {comp:g} / {pr:g} | {ttb} | {ratio} |")

print(f"\n== train: 5 folds + refit, fixed parameters, median of {repeat} ==")
print("| | wall | CPU s | peak memory | wall ratio hone / Python |")
print("| --- | --- | --- | --- | --- |")
tr = {s: [timing(f"{s}_train_{i}")[1:] for i in range(1, repeat + 1)] for s in ("hone", "py")}
pw, pc, pm = (med([r[k] for r in tr["py"]]) for k in range(3))
for s, label in (("hone", "hone train"), ("py", "Python script (LightGBM + MLflow)")):
    w, c, m = (med([r[k] for r in tr[s]]) for k in range(3))
    ratio = "" if s == "py" else f"**{w / pw:.2f}×** (CPU {c / pc:.2f}×, memory {m / pm:.2f}×)"
    print(f"| {label} | {w:.1f} s | {c:.0f} | {m:.0f} MiB | {ratio} |")
PY
