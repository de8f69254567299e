#!/usr/bin/env bash
# Installs what building hone needs on a fresh Debian machine, once; later runs return at once.
#   - libclang (bindgen, used by the LightGBM bindings), via apt when missing;
#   - CMake >= 3.28 (LightGBM 4.x; Debian 12 ships 3.25), via pip into .tools/cmake-venv.
#   - PostgreSQL server binaries (initdb, pg_ctl), used by the tracking store's tests, via apt.
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
