#!/usr/bin/env bash
# Grid shapes as a planner sees them (compactness, spikes, necks, water, boundary on streets),
# wangge with streets against the previous release and against the same labels over momepy's
# enclosed tessellation, on Shanghai (OSM), Prague Bubeneč (OSM, shipped with momepy) and
# synthetic cities of 10k and 100k buildings with their local streets. Writes
# bench-results/shapes.md and shapes.json. About 10 minutes on 2 cores.
#
# Usage: scripts/bench-shapes.sh [--skip-100k] [--previous REV]   (REV default: v0.13 = 91647b0)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/setup.sh"
prev_rev=91647b0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --previous) prev_rev="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
VENV="$ROOT/.venv-bench"
REQ="$ROOT/scripts/requirements-bench.txt"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! cmp -s "$REQ" "$VENV/.bench-requirements" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  cp "$REQ" "$VENV/.bench-requirements"
fi
# The previous release, built once from its commit in the same target directory (only the
# wangge crate rebuilds; its binary is copied away before the current one is built).
PREV="$ROOT/target/previous/wangge-$prev_rev"
if [ ! -x "$PREV" ]; then
  wt="$ROOT/target/previous/src-$prev_rev"
  rm -rf "$wt"; mkdir -p "$ROOT/target/previous"
  git -C "$ROOT" worktree prune
  git -C "$ROOT" worktree add --detach "$wt" "$prev_rev" >/dev/null
  (cd "$wt" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --quiet --bin wangge)
  cp "$ROOT/target/release/wangge" "$PREV"
  git -C "$ROOT" worktree remove --force "$wt"
fi
cargo build --release --quiet --bin wangge --example synth_city
"$VENV/bin/python" scripts/bench_shapes.py "$ROOT/target/release/wangge" "$PREV" "$ROOT/target/bench-shapes" "${args[@]}"
