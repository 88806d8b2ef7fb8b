#!/usr/bin/env python3
"""Runs one set of scenarios with two wangge binaries and says whether their outputs agree.

    same_outputs.py REFERENCE_BIN CANDIDATE_BIN WORK_DIR [--only NAME ...]

Each scenario (the shipped samples and synthetic cities, with the options that steer each
stage: barriers, territory, network, workers, micro-grids, codes, re-division, locked grids,
units and floors, households tables, population zones, exact and polish, no contiguity, output
formats, check, repair, info) runs once per binary. Then every output file is compared: JSON
files as parsed values with run times (`timings_s`) left out, every other file byte for byte
(the date in a .dbf header aside).
Prints one line per scenario and exits 1 when some output differs.

Used to prove that a refactoring changes no behaviour (scripts/same-outputs.sh).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SH = ROOT / "data" / "shanghai_bund"
S10 = ROOT / "data" / "synth_10k"


def make_inputs(work: pathlib.Path, synth_bin: pathlib.Path) -> dict:
    """Derived inputs shared by both binaries: a synthetic city, a households table, zones."""
    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    city = inputs / "city3k"
    if not (city / "buildings.geojson").exists():
        subprocess.run([str(synth_bin), "--buildings", "3000", "--seed", "2", "--out", str(city), "--crs", "lonlat"], check=True, stdout=subprocess.DEVNULL)
    sh = json.loads((SH / "buildings.geojson").read_text())
    # A households table keyed on bid (half the buildings), and the sample without households.
    table = inputs / "households.csv"
    rows = ["bid,hh"] + [f"{f['properties']['bid']},{f['properties']['households']}" for f in sh["features"]]
    table.write_text("\n".join(rows) + "\n")
    # Population zones: four quadrants of the sample's extent.
    xs = [c[0] for f in sh["features"] for c in f["geometry"]["coordinates"][0]]
    ys = [c[1] for f in sh["features"] for c in f["geometry"]["coordinates"][0]]
    x0, x1, y0, y1 = min(xs) - 1e-3, max(xs) + 1e-3, min(ys) - 1e-3, max(ys) + 1e-3
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    quads = [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"zone": i, "pop": 5000 + 1000 * i, "hh": 2000 + 300 * i},
         "geometry": {"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]]}}
        for i, (a, b, c, d) in enumerate(quads)]}
    (inputs / "zones.geojson").write_text(json.dumps(zones))
    # A small instance for the exact MILP: 60 buildings of the sample.
    small = dict(sh)
    small["features"] = sh["features"][:60]
    (inputs / "small.geojson").write_text(json.dumps(small))
    # Workers with capacities and homes.
    workers = ["id,capacity,kind,lon,lat"] + [f"w{i},{450 + (i % 3) * 25},{'full' if i % 2 else 'part'},{121.485 + 0.001 * (i % 10)},{31.235 + 0.001 * (i // 10)}" for i in range(40)]
    (inputs / "workers.csv").write_text("\n".join(workers) + "\n")
    # Buildings with their grid in a column, and a layer of overlapping grids to audit.
    return {"city": city, "inputs": inputs}


def scenarios(paths: dict) -> list:
    """(name, list of commands); `{out}` is the scenario's output directory, `{prev}` a
    previous scenario's output directory (filled per binary)."""
    b, w = str(SH / "buildings.geojson"), str(SH / "water.geojson")
    roads = str(SH / "roads.geojson")
    inp = paths["inputs"]
    city = paths["city"]
    s10 = ["partition", str(S10 / "buildings.geojson"), "--territory", str(S10 / "territory.geojson"), "--barriers", str(S10 / "barriers.geojson")]
    return [
        ("sample", [["partition", b, "--barriers", w, "-o", "{out}"]]),
        ("sample-network-micro-codes", [["partition", b, "--barriers", w, "--network", roads, "--network-filter", "kind!=motorway", "--micro-min", "30", "--micro-max", "120", "--code-prefix", "310101001", "-o", "{out}"]]),
        ("sample-workers-file", [["partition", b, "--barriers", w, "--workers", str(inp / "workers.csv"), "-o", "{out}"]]),
        ("sample-workers-n", [["partition", b, "--workers", "30", "--worker-capacity", "450", "--max-walk", "900", "-o", "{out}"]]),
        ("sample-bounds-grids", [["partition", b, "--min-households", "200", "--max-households", "700", "--grids", "40", "--seed", "3", "--objective-weight", "population", "-o", "{out}"]]),
        ("sample-effort0-polish", [["partition", b, "--barriers", w, "--effort", "0", "--polish", "--lp-bound", "-o", "{out}"]]),
        ("sample-table-zones", [["partition", b, "--households-table", str(inp / "households.csv"), "--join-on", "bid", "--households", "hh", "--population-zones", str(inp / "zones.geojson"), "--zone-population", "pop", "--floors", "floors", "-o", "{out}"]]),
        ("sample-zone-households", [["partition", b, "--population-zones", str(inp / "zones.geojson"), "--zone-population", "pop", "--zone-households", "hh", "--households", "none", "-o", "{out}"]]),
        ("sample-split-floors", [["partition", b, "--barriers", w, "--floors", "floors", "-o", "{out}"]]),
        ("sample-formats", [["partition", b, "--barriers", w, "--output-format", fmt, "-o", "{out}/" + fmt] for fmt in ("geojsonseq", "shp", "fgb")]),
        ("sample-redivide", [
            ["partition", b, "--barriers", w, "-o", "{out}/first"],
            ["partition", "{out}/first/buildings.geojson", "--barriers", w, "--existing-column", "grid_id", "--max-households", "460", "--locked", "3,5", "-o", "{out}/stable"],
            ["partition", b, "--barriers", w, "--existing", "{out}/first/grids.geojson", "--stability", "0.5", "--min-households", "250", "-o", "{out}/polygons"],
        ]),
        ("small-exact", [["partition", str(inp / "small.geojson"), "--exact", "--min-households", "100", "--max-households", "900", "--time-limit", "30", "-o", "{out}"]]),
        ("small-no-contiguity", [["partition", str(inp / "small.geojson"), "--no-contiguity", "--min-households", "0", "--max-households", "800", "--objective-weight", "buildings", "--detour-factor", "1", "-o", "{out}"]]),
        ("synth10k-effort0", [s10 + ["--effort", "0", "-o", "{out}"]]),
        ("synth10k-default", [s10 + ["-o", "{out}"]]),
        ("synth10k-units", [s10 + ["--effort", "0", "--floors", "floors", "--max-households", "400", "--min-households", "250", "--code-prefix", "440305", "-o", "{out}"]]),
        ("city3k-lonlat", [["partition", str(city / "buildings.geojson"), "--territory", str(city / "territory.geojson"), "--barriers", str(city / "barriers.geojson"), "-o", "{out}"]]),
        ("city3k-micro-floors", [["partition", str(city / "buildings.geojson"), "--territory", str(city / "territory.geojson"), "--floors", "floors", "--max-households", "450", "--micro-min", "40", "--micro-max", "150", "--code-prefix", "P", "-o", "{out}"]]),
        ("audit", [
            ["partition", b, "--barriers", w, "--effort", "0", "-o", "{out}/plan"],
            ["check", "{out}/plan/grids.geojson", "--buildings", b, "--min-households", "300", "--max-households", "500", "-o", "{out}/check"],
            ["repair", "{out}/plan/grids.geojson", "--buildings", b, "-o", "{out}/repair"],
            ["check", str(ROOT / "data" / "synth_10k" / "territory.geojson"), "--json", "-"],
        ]),
        ("info", [["info", b], ["info", str(S10 / "buildings.geojson")]]),
    ]


def run(binary: pathlib.Path, name: str, commands: list, out: pathlib.Path) -> list:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    codes = []
    for i, cmd in enumerate(commands):
        args = [a.replace("{out}", str(out)) for a in cmd]
        if args[0] == "partition":
            args += ["-q", "--threads", "2"]
        p = subprocess.run([str(binary)] + args, capture_output=True, text=True)
        (out / f"stdout.{i}").write_text(p.stdout)
        codes.append(p.returncode)
        if p.returncode not in (0, 1, 4):
            print(f"  {name}: command {i} exited {p.returncode}: {p.stderr.strip()[:300]}", file=sys.stderr)
    (out / "exit-codes").write_text(" ".join(map(str, codes)) + "\n")
    return codes


def strip(value):
    """The JSON value without run times."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "timings_s"}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def differences(a: pathlib.Path, b: pathlib.Path) -> list:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    out = []
    if files_a != files_b:
        out.append(f"files differ: only in reference {sorted(set(files_a) - set(files_b))}, only in candidate {sorted(set(files_b) - set(files_a))}")
    for rel in sorted(set(files_a) & set(files_b)):
        ta, tb = (a / rel).read_bytes(), (b / rel).read_bytes()
        if rel.suffix == ".dbf":
            # Bytes 1-3 of a dBase header are the date of writing.
            ta, tb = ta[:1] + ta[4:], tb[:1] + tb[4:]
        if ta == tb:
            continue
        if rel.suffix == ".json" or rel.name.startswith("stdout"):
            try:
                ja, jb = json.loads(ta.replace(str(a).encode(), b"OUT")), json.loads(tb.replace(str(b).encode(), b"OUT"))
                if strip(ja) == strip(jb):
                    continue
                out.append(f"{rel}: JSON differs: {first_difference(strip(ja), strip(jb))}")
                continue
            except ValueError:
                pass
        out.append(f"{rel}: bytes differ ({len(ta)} vs {len(tb)} bytes)")
    return out


def first_difference(x, y, path="$"):
    if type(x) is not type(y):
        return f"{path}: {str(x)[:120]} vs {str(y)[:120]}"
    if isinstance(x, dict):
        for k in sorted(set(x) | set(y)):
            if k not in x or k not in y:
                return f"{path}.{k}: present in only one"
            if x[k] != y[k]:
                return first_difference(x[k], y[k], f"{path}.{k}")
    if isinstance(x, list):
        if len(x) != len(y):
            return f"{path}: {len(x)} vs {len(y)} items"
        for i, (p, q) in enumerate(zip(x, y)):
            if p != q:
                return first_difference(p, q, f"{path}[{i}]")
    return f"{path}: {str(x)[:120]} vs {str(y)[:120]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", type=pathlib.Path)
    ap.add_argument("candidate", type=pathlib.Path)
    ap.add_argument("work", type=pathlib.Path)
    ap.add_argument("--synth", type=pathlib.Path, default=ROOT / "target" / "release" / "examples" / "synth_city")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--keep-reference", action="store_true", help="reuse reference outputs already in WORK/reference")
    a = ap.parse_args()
    paths = make_inputs(a.work, a.synth)
    bad = 0
    for name, commands in scenarios(paths):
        if a.only and name not in a.only:
            continue
        ref_out = a.work / "reference" / name
        if not (a.keep_reference and (ref_out / "exit-codes").exists()):
            run(a.reference, name, commands, ref_out)
        run(a.candidate, name, commands, a.work / "candidate" / name)
        diffs = differences(ref_out, a.work / "candidate" / name)
        print(f"{'same' if not diffs else 'DIFFERENT'}  {name}")
        for d in diffs[:8]:
            print(f"    {d}")
        bad += bool(diffs)
    print(f"{bad} scenario(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
