#!/usr/bin/env bash
# Runs both README commands as a new user would: on a fresh clone of HEAD, with a fresh cargo
# home (crates downloaded again) and, with --remove-packages (root), after removing the Debian
# packages the set-up installs, so that a missing install step cannot hide behind what earlier
# runs left on this machine. Prints the wall time of each command.
# Usage: scripts/fresh-machine-check.sh [--remove-packages] [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
remove=0
if [ "${1:-}" = "--remove-packages" ]; then remove=1; shift; fi
work="${1:-/tmp/wangge-fresh}"
# What scripts/setup.sh installs from Debian on a machine with rustup and python3 only (with
# the packages apt pulled in with them).
packages=(libclang-dev libclang-14-dev libclang-common-14-dev libclang1-14 libobjc-12-dev libobjc4 libgc1
  cmake cmake-data libarchive13 libjsoncpp25 librhash0 libuv1 chromium chromium-common)
if [ "$remove" = 1 ]; then
  installed=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 && installed+=("$p"); done
  if [ ${#installed[@]} -gt 0 ]; then
    echo "fresh-machine-check: removing ${installed[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "${installed[@]}" >/dev/null
  fi
  if compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null || command -v cmake >/dev/null || command -v chromium >/dev/null; then
    echo "fresh-machine-check: libclang, cmake or chromium is still installed" >&2
    exit 1
  fi
fi
rm -rf "$work"
git clone -q "$ROOT" "$work/wangge"
export CARGO_HOME="$work/cargo-home"
mkdir -p "$CARGO_HOME"
cd "$work/wangge"
t0=$(date +%s)
./scripts/run-sample.sh > "$work/run-sample.log" 2>&1
t1=$(date +%s)
./scripts/test.sh > "$work/test.log" 2>&1
t2=$(date +%s)
echo "run-sample.sh: exit 0 in $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s (logs: $work/run-sample.log)"
echo "test.sh: exit 0 in $(( (t2 - t1) / 60 )) min $(( (t2 - t1) % 60 )) s (logs: $work/test.log)"
grep -h "^setup:" "$work/run-sample.log" | head -5
