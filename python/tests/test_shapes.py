"""Grid shapes with streets and water, checked with shapely (GEOS): the Python fit with
streets, the CLI output, coverage validity, water left out, blocks reported."""
import json

import geopandas as gpd
import numpy as np
import shapely

import wangge
from conftest import DATA, run_partition

SH = DATA / "shanghai_bund"


def _metric(gdf):
    return gdf.to_crs(gdf.estimate_utm_crs())


def test_fit_with_streets_tiles_and_leaves_water_out():
    buildings = gpd.read_file(SH / "buildings.geojson")
    roads = gpd.read_file(SH / "roads.geojson")
    water = gpd.read_file(SH / "water.geojson")
    model = wangge.GridPartitioner(streets_filter="kind=major_road,minor_road").fit(buildings, barriers=water, streets=roads)
    grids = _metric(model.grids_)
    geoms = grids.geometry.values
    assert shapely.is_valid(geoms).all(), [shapely.is_valid_reason(g) for g in geoms if not shapely.is_valid(g)]
    assert shapely.coverage_is_valid(geoms), "grids overlap or do not share their boundaries exactly"
    # Every building lies in its grid.
    pts = _metric(buildings).geometry.representative_point().values
    by_id = dict(zip(model.grids_["grid_id"], geoms))
    inside = [by_id[g].covers(p) for g, p in zip(model.labels_, pts)]
    assert all(inside)
    # The river is left out: no grid is mostly water unless it is a footprint on the water.
    w = _metric(water)
    wu = shapely.union_all(w[w.geom_type.isin(["Polygon", "MultiPolygon"])].geometry.values)
    wet = shapely.area(shapely.intersection(geoms, wu)) / shapely.area(geoms)
    assert (wet[grids["buildings"].values > 1] <= 0.5).all()
    t = model.summary_["territory"]
    assert t["uncovered_m2"]["water"] > 1e6
    assert 0 <= t["blocks"]["split"] < t["blocks"]["with_buildings"]
    pp = 4 * np.pi * shapely.area(geoms) / shapely.length(geoms) ** 2
    assert np.median(pp) >= 0.4


def test_cli_streets_output_is_a_valid_coverage(wangge_bin, tmp_path):
    out = tmp_path / "out"
    run_partition(wangge_bin, out, SH / "buildings.geojson", "--barriers", SH / "water.geojson", "--streets", SH / "roads.geojson",
                  "--streets-filter", "kind=major_road,minor_road", "--simplify-m", "2")
    grids = _metric(gpd.read_file(out / "grids.geojson"))
    assert shapely.coverage_is_valid(grids.geometry.values)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["simplify_m"] == 2
    assert summary["config"]["streets_filter"] == "kind=major_road,minor_road"


def test_fit_keeps_compounds_whole_along_their_walls():
    # 8 x 4 buildings of 10 households, 40 m apart, in one block; two compounds meet at x = 100.
    crs = "EPSG:4547"
    x0, y0 = 500_000.0, 3_385_000.0
    cells = [(i, j) for j in range(4) for i in range(8)]
    buildings = gpd.GeoDataFrame({"households": [10] * len(cells)},
                                 geometry=[shapely.box(x0 + 40 * i - 10, y0 + 40 * j - 10, x0 + 40 * i + 10, y0 + 40 * j + 10) for i, j in cells], crs=crs)
    compounds = gpd.GeoDataFrame({"name": ["东苑", "西苑"]},
                                 geometry=[shapely.box(x0 - 20, y0 - 20, x0 + 100, y0 + 140), shapely.box(x0 + 100, y0 - 20, x0 + 300, y0 + 140)], crs=crs)
    model = wangge.GridPartitioner(grids=2, min_households=100, max_households=220).fit(buildings, compounds=compounds)
    c = model.summary_["territory"]["compounds"]
    assert (c["count"], c["with_buildings"], c["split"]) == (2, 2, 0)
    west = buildings.geometry.centroid.x < x0 + 100
    assert model.labels_[west].nunique() == 1 and model.labels_[~west].nunique() == 1
    assert set(model.labels_[west]) != set(model.labels_[~west])
    # The shared boundary is the wall.
    a, b = model.grids_.geometry.values
    shared = shapely.intersection(a.boundary, b.boundary)
    assert shared.length > 100 and abs(shapely.bounds(shared)[0] - (x0 + 100)) < 1e-6 and abs(shapely.bounds(shared)[2] - (x0 + 100)) < 1e-6
