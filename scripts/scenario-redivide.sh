#!/usr/bin/env bash
# Stable re-division scenario on data/synth_10k (5% more households in the north-west, a
# compound removed in the south-east): stable re-division against a fresh division, written to
# bench-results/redivide.json. Usage: scripts/scenario-redivide.sh [EFFORT] [AREA_SIDE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
cargo build --release --quiet --bin wangge
mkdir -p bench-results target/scenario
"$WANGGE_VENV/bin/python" scripts/scenario_redivide.py target/release/wangge target/scenario "${1:-0}" "${2:-0.4}"
cp target/scenario/scenario.json bench-results/redivide.json
