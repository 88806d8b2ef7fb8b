"""Where the internal grid boundary off the streets lies: in blocks above the household maximum
(cuts that must be), in smaller blocks, in empty blocks, each split by whether the block touches
the territory edge. Blocks are rebuilt from the streets, the water outlines and the outline of the
grids; "off the streets" is farther than 15 m from a street, as in shape_metrics.py.

usage: offstreet_breakdown.py OUT_DIR STREETS [--water WATER] [--max 500] -> one JSON line (km)
e.g. after scripts/bench-shapes.sh:
  .venv-bench/bin/python scripts/offstreet_breakdown.py target/bench-shapes/shanghaiosm_new \
      target/bench-shapes/shanghai_streets.geojson --water data/shanghai_bund/water.geojson
"""
import argparse, json

import geopandas as gpd
import shapely

ap = argparse.ArgumentParser()
ap.add_argument("out"); ap.add_argument("streets"); ap.add_argument("--water"); ap.add_argument("--max", type=float, default=500.0)
a = ap.parse_args()
g = gpd.read_file(f"{a.out}/grids.geojson")
crs = g.estimate_utm_crs()
g = g.to_crs(crs)
b = gpd.read_file(f"{a.out}/buildings.geojson").to_crs(crs)
s = gpd.read_file(a.streets).to_crs(crs)
water = []
if a.water:
    w = gpd.read_file(a.water).to_crs(crs)
    water = [x.boundary for x in w.geometry if x.geom_type in ("Polygon", "MultiPolygon")]
territory = g.geometry.union_all()
lines = shapely.union_all(list(s.geometry.values) + [territory.boundary] + water)
blocks = gpd.GeoDataFrame(geometry=list(shapely.polygonize(shapely.get_parts(lines)).geoms), crs=crs)
blocks = blocks[blocks.representative_point().within(territory.buffer(1))].reset_index(drop=True)
points = b.copy()
points["geometry"] = b.representative_point()
joined = gpd.sjoin(points, blocks, predicate="within", how="left")
joined = joined[~joined.index.duplicated()]
blocks["households"] = joined.groupby("index_right").households.sum().reindex(blocks.index).fillna(0)
blocks["edge"] = blocks.geometry.buffer(1).intersects(territory.boundary)
internal = shapely.difference(shapely.union_all([x.boundary for x in g.geometry]), territory.boundary.buffer(0.5))
off = shapely.difference(internal, shapely.union_all(shapely.buffer(s.geometry.values, 15.0)))
out = {}
for _, r in blocks.iterrows():
    length = shapely.intersection(off, r.geometry).length
    if length > 0:
        kind = "empty" if r.households == 0 else (f"above {a.max:g}" if r.households > a.max else f"at most {a.max:g}")
        key = kind + (", at the edge" if r.edge else "")
        out[key] = out.get(key, 0.0) + length / 1000
out = {k: round(v, 2) for k, v in sorted(out.items())}
out.update(off_street_km=round(off.length / 1000, 2), internal_km=round(internal.length / 1000, 2))
print(json.dumps(out))
