#!/usr/bin/env bash
# One-time (idempotent) set-up on a machine with rustup and python3:
#  - the build tools the bundled C/C++ libraries need (PROJ: cmake, a C++ compiler, the sqlite3
#    program; HiGHS: cmake, libclang), from Debian packages when root or sudo is available,
#    else cmake from PyPI;
#  - a Python virtual environment in .venv with the test and comparison packages.
# Source it (". scripts/setup.sh") or run it; other scripts source it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "setup: installing ${need[*]} (Debian packages)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]} and no root/sudo: will take cmake and libclang from PyPI;" >&2
    echo "       the sqlite3 program and a C++ compiler must be installed by hand if missing." >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.wangge-requirements"
if [ ! -f "$STAMP" ] || ! cmp -s "$ROOT/scripts/requirements.txt" "$STAMP"; then
  echo "setup: installing Python packages (scripts/requirements.txt)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/scripts/requirements.txt"
  cp "$ROOT/scripts/requirements.txt" "$STAMP"
fi
if ! command -v cmake >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q cmake libclang
  export PATH="$VENV/bin:$PATH"
  LIBCLANG_PATH="$("$VENV/bin/python" -c 'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))')"
  export LIBCLANG_PATH
fi
command -v cargo >/dev/null 2>&1 || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }
export WANGGE_VENV="$VENV"
