#!/usr/bin/env bash
# Creates .tools/mlflow-server-venv with the full mlflow==3.17.2 (the tracking server and its
# dependencies: Flask/FastAPI, uvicorn, SQLAlchemy, alembic, ...), once; later runs return at once.
# Used by scripts/bench/server_vs_mlflow.py to run `mlflow server` next to `hone server`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.tools/mlflow-server-venv"
if [ -x "$venv/bin/mlflow" ] && "$venv/bin/python" -c 'import mlflow, sys; sys.exit(mlflow.__version__ != "3.17.2")' 2>/dev/null; then
  exit 0
fi
echo "setup_mlflow_server: installing mlflow==3.17.2 into $venv" >&2
start=$(date +%s)
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q 'mlflow==3.17.2'
echo "setup_mlflow_server: installed in $(( $(date +%s) - start )) s" >&2
