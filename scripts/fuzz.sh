#!/usr/bin/env bash
# The long fuzz campaign: ITERATIONS mutated inputs per reader (default 1,000,000; GeoJSON,
# GeoJSONSeq, GeoPackage, Shapefile, FlatGeobuf, GeoParquet, CSV tables), every 1000th layer
# that still reads run through the whole partition; then PROPERTY_INSTANCES random instances of
# the property tests (default 5,000). Figures are written to bench-results/fuzz.md.
# Usage: scripts/fuzz.sh [ITERATIONS] [PROPERTY_INSTANCES] [SEED]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
iterations="${1:-1000000}"
instances="${2:-5000}"
seed="${3:-7}"
mkdir -p bench-results
out=bench-results/fuzz.md
log="$(mktemp)"
commit=$(git rev-parse --short HEAD)
start=$(date +%s)
WANGGE_FUZZ_ITERATIONS="$iterations" WANGGE_FUZZ_SEED="$seed" WANGGE_FUZZ_PIPELINE_EVERY=1000 \
  cargo test --release --test fuzz -- --nocapture 2>&1 | tee "$log" | grep -E '^\|' || true
fuzz_end=$(date +%s)
WANGGE_PROPERTY_INSTANCES="$instances" WANGGE_PROPERTY_SEED="$((seed * 100000))" \
  cargo test --release --test properties -- --nocapture 2>&1 | tee -a "$log" | grep -E 'instances \(' || true
end=$(date +%s)
{
  echo "# Fuzzing and property tests"
  echo
  echo "\`scripts/fuzz.sh $iterations $instances $seed\` on $(nproc) cores, $(date -u +%Y-%m-%d), commit $commit."
  echo
  echo "Mutated inputs per reader ($((fuzz_end - start)) s):"
  echo
  grep -E '^\|' "$log"
  echo
  echo "Property tests ($((end - fuzz_end)) s, 1 and 2 threads each): $(grep -E 'instances \(' "$log" | tail -1)"
  if grep -q "test result: FAILED" "$log"; then echo; echo "FAILED:"; grep -E "panicked|fail" "$log" | head -20; fi
} > "$out"
cat "$out"
! grep -q "test result: FAILED" "$log"
