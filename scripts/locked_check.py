"""Locked polygons against the shared validator: the lattice of tests/redivide.rs (24 × 20
buildings, 40 m apart, EPSG:4547) is divided; its grids become an existing layer with text ids;
households grow by half in the south-west and the north-east corner is demolished; then the
lattice is re-divided with each of 11 grids locked in turn, and each output is checked with
validate_partition.py (which needs every grid in one piece, no overlap above 1 m², no hole).

Usage: python scripts/locked_check.py WANGGE_BIN VALIDATOR OUT_DIR
"""
import json
import pathlib
import subprocess
import sys

wangge, validator, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
NX, NY, X0, Y0 = 24, 20, 500_000.0, 3_385_000.0
crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}


def hh(i, j):
    return 20.0 + ((i * 7 + j * 5) % 7) * 5.0


def square(x, y, s=20.0):
    h = s / 2
    return {"type": "Polygon", "coordinates": [[[X0 + x - h, Y0 + y - h], [X0 + x + h, Y0 + y - h], [X0 + x + h, Y0 + y + h], [X0 + x - h, Y0 + y + h], [X0 + x - h, Y0 + y - h]]]}


def run(buildings, dest, *extra):
    p = subprocess.run([wangge, "partition", str(buildings), "-o", str(dest), "-q", "--overwrite", "--effort", "0", *extra], capture_output=True, text=True)
    assert p.returncode in (0, 4), p.stderr
    return p.returncode


feats = [{"type": "Feature", "id": j * NX + i, "properties": {"households": hh(i, j), "name": f"b{j * NX + i}"}, "geometry": square(i * 40.0, j * 40.0)}
         for j in range(NY) for i in range(NX)]
(out / "b.geojson").write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": feats}))
run(out / "b.geojson", out / "first")
grids = json.loads((out / "first" / "grids.geojson").read_text())
existing = [{"type": "Feature", "properties": {"grid_id": f"G-{f['properties']['grid_id']:03d}"}, "geometry": f["geometry"]} for f in grids["features"]]
(out / "existing.geojson").write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": existing}))
changed = []
for k, f in enumerate(feats):
    i, j = k % NX, k // NX
    if i >= NX - 4 and j >= NY - 3:
        continue
    f = json.loads(json.dumps(f))
    if i < 8 and j < 8:
        f["properties"]["households"] = round(hh(i, j) * 1.5)
    changed.append(f)
(out / "changed.geojson").write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": changed}))
results = []
for n in (1, 5, 10, 13, 18, 22, 27, 31, 36, 40, 42):
    lock = f"G-{n:03d}"
    dest = out / lock
    code = run(out / "changed.geojson", dest, "--existing", str(out / "existing.geojson"), "--locked", lock)
    v = subprocess.run([sys.executable, validator, str(out / "changed.geojson"), str(dest), "--min", "300", "--max", "500"], capture_output=True, text=True)
    fig = json.loads(v.stdout.strip().splitlines()[-1])
    results.append({"locked": lock, "exit": code, "ok": fig["ok"], "fail": fig["fail"], "overlap_m2": fig["overlap_m2"]})
    print(json.dumps(results[-1]))
summary = {"runs": len(results), "validator_ok": sum(r["ok"] for r in results), "results": results}
(out / "locked-check.json").write_text(json.dumps(summary, indent=1))
print(f"{summary['validator_ok']} of {summary['runs']} pass the validator")
