#!/usr/bin/env bash
# Locked polygons against the shared validator (see scripts/locked_check.py); writes
# bench-results/locked-check.json. Needs ../shared/tools/validate_partition.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
cargo build --release --quiet --bin wangge
mkdir -p bench-results target/locked-check
"$WANGGE_VENV/bin/python" scripts/locked_check.py target/release/wangge "${VALIDATOR:-$ROOT/../shared/tools/validate_partition.py}" target/locked-check
cp target/locked-check/locked-check.json bench-results/locked-check.json
