#!/usr/bin/env bash
# Read speed of every input format at N buildings (default 100,000), against pyogrio/GDAL in the
# same run; written to bench-results/read.md. Usage: scripts/bench-read.sh [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
n="${1:-100000}"
cargo build --release --quiet --example synth_city --example read_speed
d="target/bench-data/synth_$n"
[ -f "$d/buildings.geojson" ] || ./target/release/examples/synth_city --buildings "$n" --seed 1 --out "$d"
mkdir -p bench-results
"$WANGGE_VENV/bin/python" scripts/bench_read.py "$d" bench-results/read.md
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; $(date -u +%Y-%m-%d)" >> bench-results/read.md
