#!/usr/bin/env bash
# Proves that the working tree behaves like revision REV (default HEAD): builds both binaries,
# runs the scenarios of scripts/same_outputs.py (shipped samples and synthetic cities, every
# stage's options) with each, and compares buildings, grids, micro-grids, parts, audit outputs
# and summary.json (run times aside). Exit 1 when some output differs.
# Usage: scripts/same-outputs.sh [REV] [--only SCENARIO ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
rev="HEAD"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then rev="$1"; shift; fi
sha="$(git rev-parse --short "$rev")"
work="$ROOT/target/same-outputs"
ref_bin="$work/wangge-$sha"
mkdir -p "$work"
if [ ! -x "$ref_bin" ]; then
  tree="$work/tree-$sha"
  rm -rf "$tree"; git worktree prune
  git worktree add --detach -q "$tree" "$sha"
  # The same target directory: only the wangge crate itself is compiled again.
  (cd "$tree" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --quiet --bin wangge)
  cp target/release/wangge "$ref_bin"
  git worktree remove --force "$tree"
fi
cargo build --release --quiet --bin wangge --example synth_city
"$WANGGE_VENV/bin/python" scripts/same_outputs.py "$ref_bin" target/release/wangge "$work/$sha" "$@"
