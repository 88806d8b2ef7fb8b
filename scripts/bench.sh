#!/usr/bin/env bash
# The scaling curve of `wangge partition` end to end: synthetic cities of 10k, 100k and 1M
# buildings (territory and barriers), at the default settings and at the fastest (--effort 0),
# with wall time, peak memory (GNU time), the time of every stage, grids in bounds and the mean
# walk. Writes bench-results/e2e.md (with the date and the commit) and prints it.
# Usage: scripts/bench.sh [SIZES...]   (default: 10000 100000 1000000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
cargo build --release --quiet --bin wangge --example synth_city
# The commit of the binary measured (taken now: the tree may change while the benchmark runs).
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo ' (with uncommitted changes)')"
mkdir -p bench-results target/bench-data
out=bench-results/e2e.md
{
  echo "| buildings | settings | grids | in bounds | mean walk (m) | wall time (s) | peak memory (MiB) | stage times (s) |"
  echo "|---:|---|---:|---:|---:|---:|---:|---|"
} > "$out.tmp"
for n in "${sizes[@]}"; do
  d="target/bench-data/synth_$n"
  [ -f "$d/buildings.geojson" ] || ./target/release/examples/synth_city --buildings "$n" --seed 1 --out "$d" >/dev/null
  for mode in default fastest; do
    extra=()
    [ "$mode" = fastest ] && extra=(--effort 0)
    o="target/bench-data/out_${n}_$mode"
    set +e
    /usr/bin/time -f "%e %M" -o "$o.time" ./target/release/wangge partition "$d/buildings.geojson" \
      --territory "$d/territory.geojson" --barriers "$d/barriers.geojson" -o "$o" --overwrite -q "${extra[@]}" 2> "$o.log"
    code=$?
    set -e
    if [ "$code" != 0 ] && [ "$code" != 4 ]; then echo "wangge failed on $n buildings ($mode, exit $code)" >&2; exit "$code"; fi
    read -r wall kb < <(tail -n 1 "$o.time")
    "$WANGGE_VENV/bin/python" - "$o/summary.json" "$n" "$mode" "$wall" "$kb" >> "$out.tmp" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n, mode, wall, kb = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
t = s["timings_s"]; stages = ", ".join(f"{k} {v:.2f}" for k, v in t.items())
write = wall - sum(t.values())
label = f"default (effort {s['solution']['effort']:.2g})" if mode == "default" else "fastest (--effort 0)"
print(f"| {int(n):,} | {label} | {s['grids']:,} | {s['households']['grids_in_bounds']:,} | {s['objective']['mean_walk_m']:.1f} | {wall:.2f} | {kb/1024:.0f} | {stages}, write and exit {write:.2f} |")
PY
  done
done
mv "$out.tmp" "$out"
echo "" >> "$out"
echo "$(nproc) cores ($(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2}')), $(free -g | awk '/Mem/{print $2}') GiB; $(date -u +%Y-%m-%d), commit $built; \`scripts/bench.sh\`" >> "$out"
cat "$out"
