#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests, then the Python tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"
cargo test --release
cargo build --release --bins --examples
# The Python package (PyO3 extension) into the test environment, from the same sources.
VIRTUAL_ENV="$WANGGE_VENV" "$WANGGE_VENV/bin/maturin" develop --release --quiet
"$WANGGE_VENV/bin/python" -m pytest -q python/tests
