#!/usr/bin/env bash
# wangge against its peers from PyPI (spopt, gerrychain, METIS, KaHIP, a HiGHS p-median MILP) on
# the same instances in the same run; writes bench-results/peers.md and peers.json and prints
# the markdown. Default run: about 20-25 minutes on 2 cores.
#
# Usage: scripts/bench-peers.sh [--no-build] [bench_peers.py options, e.g. --large --timeout 300]
#   --no-build   use the existing target/release binaries instead of running cargo build
#   --large      also run synth_city 100,000 (wangge, METIS, KaHIP only)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
build=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done

# 1. A venv of its own for the peers, so the test venv (.venv) stays lean.
VENV="$ROOT/.venv-bench"
REQ="$ROOT/scripts/requirements-bench.txt"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! cmp -s "$REQ" "$VENV/.bench-requirements" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # One failing peer must not stop the others: install all at once, else one by one.
  if ! "$VENV/bin/python" -m pip install -q -r "$REQ"; then
    grep -vE '^\s*(#|$)' "$REQ" | while read -r pkg; do
      "$VENV/bin/python" -m pip install -q "$pkg" || echo "bench-peers: could not install $pkg" >&2
    done
  fi
  cp "$REQ" "$VENV/.bench-requirements"
fi

# 2. wangge and the synthetic city generator.
if [ "$build" = 1 ]; then
  command -v cargo >/dev/null 2>&1 || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }
  cargo build --release --quiet --bin wangge --example synth_city
fi

# 3. Instances (deterministic seeds); bench_peers.py cuts the windows and squares from these.
DATA="$ROOT/target/bench-data"
sizes=(1000)
for a in "${args[@]+"${args[@]}"}"; do [ "$a" = "--large" ] && sizes+=(100000); done
for n in "${sizes[@]}"; do
  [ -f "$DATA/synth_$n/buildings.geojson" ] ||
    ./target/release/examples/synth_city --buildings "$n" --seed 1 --out "$DATA/synth_$n"
done

# 4. The benchmark, one method at a time; peers single-threaded BLAS.
export BENCH_COMMAND="scripts/bench-peers.sh $*"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
"$VENV/bin/python" "$ROOT/scripts/bench_peers.py" --data-dir "$DATA" \
  --wangge "$ROOT/target/release/wangge" --out "$ROOT/bench-results" "${args[@]+"${args[@]}"}"
cat "$ROOT/bench-results/peers.md"
