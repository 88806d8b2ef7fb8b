#!/usr/bin/env bash
# End-to-end wall time and peak memory of `wangge partition` on synthetic cities (10k, 100k and
# 1M buildings, territory and barriers), written to bench-results/e2e.md and printed.
# Usage: scripts/bench.sh [SIZES...]   (default: 10000 100000 1000000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
cargo build --release --quiet --bin wangge --example synth_city
mkdir -p bench-results target/bench-data
out=bench-results/e2e.md
{
  echo "| buildings | grids | wall time (s) | peak memory (MiB) | stage times (s) | grids in bounds |"
  echo "|---:|---:|---:|---:|---|---:|"
} > "$out.tmp"
for n in "${sizes[@]}"; do
  d="target/bench-data/synth_$n"
  [ -f "$d/buildings.geojson" ] || ./target/release/examples/synth_city --buildings "$n" --seed 1 --out "$d"
  o="target/bench-data/out_$n"
  set +e
  /usr/bin/time -f "%e %M" -o "$o.time" ./target/release/wangge partition "$d/buildings.geojson" \
    --territory "$d/territory.geojson" --barriers "$d/barriers.geojson" -o "$o" --overwrite -q
  code=$?
  set -e
  if [ "$code" != 0 ] && [ "$code" != 4 ]; then echo "wangge failed on $n buildings (exit $code)" >&2; exit "$code"; fi
  read -r wall kb < <(tail -n 1 "$o.time")
  "$WANGGE_VENV/bin/python" - "$o/summary.json" "$n" "$wall" "$kb" >> "$out.tmp" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n, wall, kb = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
t = s["timings_s"]; stages = ", ".join(f"{k} {v:.2f}" for k, v in t.items())
print(f"| {int(n):,} | {s['grids']:,} | {wall:.2f} | {kb/1024:.0f} | {stages} | {s['households']['grids_in_bounds']:,} |")
PY
done
mv "$out.tmp" "$out"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; $(date -u +%Y-%m-%d)" >> "$out"
cat "$out"
