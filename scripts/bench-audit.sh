#!/usr/bin/env bash
# `wangge check` against `maup.doctor` (PyPI maup, MGGG) on ~10,000 grid polygons with a known,
# seeded set of injected defects; writes bench-results/audit.md and audit.json and prints the
# markdown. About 4-5 minutes on 2 cores (maup.doctor takes ~15 s a run and runs 9 times).
#
# Usage: [WANGGE_BIN=path] scripts/bench-audit.sh [--no-build] [--repeats N]
#   --no-build   use the existing target/release binaries instead of running cargo build
#   --repeats N  runs of each tool and layer (median reported; default 3)
#   WANGGE_BIN   the wangge binary to measure (default target/release/wangge), e.g. one built
#                from a given commit while the work tree is being edited; WANGGE_SOURCE then
#                says in the report where it comes from (default: the work tree's git describe)
#
# Steps: venv .venv-bench (shared with bench-peers.sh; only the packages this needs are
# installed), build, synth_city 100,000 buildings (seed 1), `wangge partition` into ~10,000
# grids, scripts/bench_audit.py perturb (seed 0), scripts/bench_audit.py measure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
build=1
repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --repeats) repeats="$2"; shift ;;
    *) echo "bench-audit: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# 1. Python: the bench venv, with the packages of requirements-bench.txt this benchmark uses.
VENV="$ROOT/.venv-bench"
REQ="$ROOT/scripts/requirements-bench.txt"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import maup, geopandas, shapely, pyogrio, pyproj" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  mapfile -t pkgs < <(grep -E '^(numpy|pandas|shapely|pyogrio|pyproj|geopandas|maup)\b' "$REQ")
  "$VENV/bin/python" -m pip install -q "${pkgs[@]}"
fi

# 2. wangge and the synthetic city generator.
if [ "$build" = 1 ]; then
  command -v cargo >/dev/null 2>&1 || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }
  cargo build --release --quiet --bin wangge --example synth_city
fi
WANGGE="${WANGGE_BIN:-$ROOT/target/release/wangge}"

# 3. The clean layer: a 100,000-building city cut into ~10,000 grids of 400-800 households
#    (6.0 M households / ~600 a grid). Exit 4 = some grids outside the bounds: still a tiling.
DATA="$ROOT/target/bench-data"
CITY="$DATA/synth_100000"
GRIDS="$DATA/audit_grids"
[ -f "$CITY/buildings.geojson" ] ||
  ./target/release/examples/synth_city --buildings 100000 --seed 1 --out "$CITY"
if [ ! -f "$GRIDS/grids.geojson" ]; then
  rc=0
  "$WANGGE" partition "$CITY/buildings.geojson" --territory "$CITY/territory.geojson" \
    --barriers "$CITY/barriers.geojson" -o "$GRIDS" --overwrite -q \
    --min-households 400 --max-households 800 --effort 0.05 || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 4 ] || { echo "bench-audit: wangge partition exited $rc" >&2; exit 1; }
fi

# 4. Inject the defects (deterministic: seed 0) and 5. measure both tools.
PY="$VENV/bin/python"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONHASHSEED=0
"$PY" scripts/bench_audit.py perturb --grids "$GRIDS/grids.geojson" \
  --territory "$CITY/territory.geojson" --out "$DATA/audit" --seed 0
"$PY" scripts/bench_audit.py measure --dir "$DATA/audit" --territory "$CITY/territory.geojson" \
  --wangge "$WANGGE" --out "$ROOT/bench-results" --repeats "$repeats"
cat "$ROOT/bench-results/audit.md"
