"""Read speed of each format at N buildings: wangge's readers (examples/read_speed.rs) against
pyogrio/GDAL reading the same files in the same run. Files are written by pyogrio (GDAL), not by
wangge, so the readers are tested on files from another implementation.

Usage: python scripts/bench_read.py SYNTH_DIR OUT_MD   (SYNTH_DIR/buildings.geojson from synth_city)
"""
import json
import pathlib
import subprocess
import sys
import time

import geopandas as gpd
import pyogrio

ROOT = pathlib.Path(__file__).resolve().parents[1]
src = pathlib.Path(sys.argv[1]) / "buildings.geojson"
out_md = pathlib.Path(sys.argv[2])
work = src.parent / "formats"
work.mkdir(exist_ok=True)
gdf = gpd.read_file(src)
files = {"GeoJSON": src}
for name, ext, driver in [("GeoJSONSeq", "geojsonl", "GeoJSONSeq"), ("GeoPackage", "gpkg", "GPKG"),
                          ("Shapefile", "shp", "ESRI Shapefile"), ("FlatGeobuf", "fgb", "FlatGeobuf")]:
    p = work / f"buildings.{ext}"
    if not p.exists():
        pyogrio.write_dataframe(gdf, p, driver=driver)
    files[name] = p

exe = ROOT / "target" / "release" / "examples" / "read_speed"
res = subprocess.run([str(exe), "--repeat", "3", *map(str, files.values())], check=True, capture_output=True, text=True)
ours = {json.loads(l)["file"]: json.loads(l) for l in res.stdout.splitlines()}
rows = []
for name, p in files.items():
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        pyogrio.read_dataframe(p, columns=["households", "population"])
        best = min(best, time.perf_counter() - t)
    size = sum(f.stat().st_size for f in p.parent.glob(p.stem + ".*")) if name == "Shapefile" else p.stat().st_size
    w = ours[str(p)]
    rows.append(f"| {name} | {w['features']:,} | {size / 2**20:.0f} | {w['seconds']:.2f} | {best:.2f} | {best / w['seconds']:.1f}× |")
table = ["| format | features | size (MiB) | wangge read (s) | pyogrio/GDAL read (s) | wangge speed-up |", "|---|---:|---:|---:|---:|---:|", *rows]
out_md.write_text("\n".join(table) + "\n")
print("\n".join(table))
