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
