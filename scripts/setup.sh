#!/usr/bin/env bash
# One-time (idempotent) set-up on a machine with rustup and python3.
#
# Each need is tested by the file or command the build really uses:
#  - bindgen (HiGHS's Rust bindings) loads libclang: `libclang.so`, `libclang.so.N` or
#    `libclang-N.so*` (never `libclang-cpp`, a different library), plus clang's own headers;
#  - PROJ and HiGHS are compiled by cmake with a C++ compiler and make; PROJ's build runs the
#    `sqlite3` program and includes `sqlite3.h`;
#  - the Python virtual environment needs `venv` with `ensurepip`;
#  - the HTML report's test opens it in headless Chromium (Debian's `chromium`).
# What is missing is installed from Debian packages (root or sudo), else cmake and libclang
# come from PyPI. One line says what was installed and whether the first build (PROJ and HiGHS
# from source, about 10 minutes on 2 cores, up to 20 under load) is still ahead.
# Then a virtual environment in .venv with the test and comparison packages.
# Source it (". scripts/setup.sh") or run it; other scripts source it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
command -v cargo >/dev/null 2>&1 || { [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"; }

# Prints the first libclang that clang-sys (bindgen) would load, or nothing.
find_libclang() {
  local dirs=() d f
  [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("$LIBCLANG_PATH")
  command -v llvm-config >/dev/null 2>&1 && dirs+=("$(llvm-config --libdir)")
  dirs+=(/usr/lib/llvm-*/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib)
  for d in "${dirs[@]}"; do
    for f in "$d"/libclang.so "$d"/libclang.so.[0-9]* "$d"/libclang-[0-9]*.so "$d"/libclang-[0-9]*.so.[0-9]*; do
      [ -e "$f" ] && { echo "$f"; return 0; }
    done
  done
  return 0
}
# True when clang's builtin headers (stddef.h), which bindgen parses with, are beside libclang.
has_clang_headers() {
  [ -n "${LIBCLANG_PATH:-}" ] && return 0
  compgen -G "/usr/lib/llvm-*/lib/clang/*/include/stddef.h" >/dev/null \
    || compgen -G "/usr/lib/clang/*/include/stddef.h" >/dev/null
}

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ -e /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
if [ -z "$(find_libclang)" ] || ! has_clang_headers; then need+=(libclang-dev); fi
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# The HTML report is tested in a headless browser (Debian's chromium).
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)

installed="nothing"
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "setup: installing ${need[*]} (Debian packages)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    installed="${need[*]} (Debian)"
  else
    echo "setup: missing ${need[*]} and no root/sudo: cmake and libclang will come from PyPI;" >&2
    echo "       a C++ compiler, make, sqlite3 and libsqlite3-dev must be installed by hand if missing." >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.wangge-requirements"
if [ ! -f "$STAMP" ] || ! cmp -s "$ROOT/scripts/requirements.txt" "$STAMP"; then
  echo "setup: installing Python packages (scripts/requirements.txt)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/scripts/requirements.txt"
  cp "$ROOT/scripts/requirements.txt" "$STAMP"
fi
# Without root: cmake and libclang from PyPI.
if ! command -v cmake >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q cmake
  installed="cmake (PyPI)"
fi
export PATH="$VENV/bin:$PATH"
if [ -z "$(find_libclang)" ] || ! has_clang_headers; then
  "$VENV/bin/python" -m pip install -q libclang
  LIBCLANG_PATH="$("$VENV/bin/python" -c 'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))')"
  export LIBCLANG_PATH
  installed="$installed, libclang (PyPI)"
fi
for tool in cmake c++ make sqlite3 cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "setup: $tool is still missing; install it and rerun" >&2; exit 1; }
done

if compgen -G "$ROOT/target/release/build/highs-sys-*/out/lib*" >/dev/null \
  && compgen -G "$ROOT/target/release/build/proj-sys-*/out/lib*" >/dev/null; then
  first_build="PROJ and HiGHS already built"
else
  first_build="the first build compiles PROJ and HiGHS from source (about 10 minutes on 2 cores, up to 20 under load)"
fi
echo "setup: installed $installed; libclang $(find_libclang); $first_build" >&2
export WANGGE_VENV="$VENV"
