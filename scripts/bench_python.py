"""Python package vs CLI on the same input, same run: wall time of `wangge partition` (whole
CLI: read, partition, write) vs `GridPartitioner.fit` (GeoDataFrame conversion + partition),
and the conversion alone. Usage: python scripts/bench_python.py [BUILDINGS] [--effort E]"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import geopandas as gpd
import shapely

import wangge

ROOT = pathlib.Path(__file__).resolve().parents[1]
path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else ROOT / "data/synth_10k/buildings.geojson"
effort = sys.argv[sys.argv.index("--effort") + 1] if "--effort" in sys.argv else "0"
exe = ROOT / "target/release/wangge"
rows = []
for rep in range(3):
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        subprocess.run([exe, "partition", path, "-o", out, "--overwrite", "-q", "--effort", effort], check=False)
        cli = time.perf_counter() - t
    t = time.perf_counter()
    b = gpd.read_file(path)
    read = time.perf_counter() - t
    t = time.perf_counter()
    shapely.to_wkb(b.geometry.values)
    b[["households"]].to_json(orient="values")
    conv = time.perf_counter() - t
    t = time.perf_counter()
    m = wangge.GridPartitioner(effort=float(effort)).fit(b)
    fit = time.perf_counter() - t
    rows.append((cli, read, conv, fit))
rows.sort()
cli, read, conv, fit = rows[len(rows) // 2]
print(json.dumps({"input": str(path), "buildings": len(b), "effort": float(effort), "cli_s": round(cli, 3), "geopandas_read_s": round(read, 3), "conversion_s": round(conv, 3), "fit_s": round(fit, 3), "fit_over_cli": round(fit / cli, 3)}))
