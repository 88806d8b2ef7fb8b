#!/usr/bin/env python3
"""Lists the functions of src/ longer than a limit (default 150 lines), longest first.

A function runs from its `fn` line to the closing brace at the same indentation (rustfmt style).
Exit 1 when one is longer than the limit."""
import pathlib
import re
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 150
root = pathlib.Path(__file__).resolve().parent.parent / "src"
fn_re = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
found = []
for path in sorted(root.rglob("*.rs")):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = fn_re.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        indent = m.group(1)
        for j in range(i, len(lines)):
            if lines[j] == indent + "}" or (j == i and line.rstrip().endswith("}")):
                found.append((j - i + 1, f"{path.relative_to(root.parent)}:{i + 1}", m.group(7)))
                break
found.sort(reverse=True)
long = [f for f in found if f[0] > limit]
for n, where, name in found[:40] if "-v" in sys.argv else long:
    print(f"{n:5} {where} {name}")
sys.exit(1 if long else 0)
