#!/usr/bin/env bash
# Divides the shipped Shanghai sample (real footprints, water as barriers) into grids of
# 300–500 households, writes out/sample/, and checks the result with the independent validator.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
cargo build --release --quiet
set +e
./target/release/wangge partition data/shanghai_bund/buildings.geojson \
  --barriers data/shanghai_bund/water.geojson -o out/sample --overwrite
code=$?
set -e
# 0: all grids within bounds; 4: some grids declared as violations (towers above 500 households).
if [ "$code" != 0 ] && [ "$code" != 4 ]; then exit "$code"; fi
"$WANGGE_VENV/bin/python" scripts/validate_partition.py data/shanghai_bund/buildings.geojson out/sample --min 300 --max 500 --water data/shanghai_bund/water.geojson
echo "outputs: out/sample/{buildings.geojson,grids.geojson,summary.json}"
