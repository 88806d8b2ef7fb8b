"""The CLI's outputs on the shipped samples, checked with shapely/geopandas only (independently of
wangge's code) and with the independent validator of the output contract."""
import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.ops import unary_union

from conftest import DATA, run_partition

SAMPLES = {
    "shanghai": dict(buildings=DATA / "shanghai_bund" / "buildings.geojson", args=["--barriers", DATA / "shanghai_bund" / "water.geojson"], territory=None,
                     water=DATA / "shanghai_bund" / "water.geojson"),
    "synth_10k": dict(
        buildings=DATA / "synth_10k" / "buildings.geojson",
        args=["--territory", DATA / "synth_10k" / "territory.geojson", "--barriers", DATA / "synth_10k" / "barriers.geojson"],
        territory=DATA / "synth_10k" / "territory.geojson",
    ),
}


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request, wangge_bin, tmp_path_factory):
    s = SAMPLES[request.param]
    out = tmp_path_factory.mktemp(request.param)
    run_partition(wangge_bin, out, s["buildings"], *s["args"])
    return request.param, s, out


def test_validator_passes(sample, validator):
    name, s, out = sample
    cmd = [sys.executable, validator, str(s["buildings"]), str(out), "--min", "300", "--max", "500"]
    if s["territory"]:
        cmd += ["--territory", str(s["territory"])]
    if s.get("water"):
        cmd += ["--water", str(s["water"])]  # water is left out of the grids
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["ok"] and figures["overlap_m2"] <= 1.0 and figures["multipart_grids"] == 0


def test_tiling_and_containment(sample):
    name, s, out = sample
    src = gpd.read_file(s["buildings"])
    b = gpd.read_file(out / "buildings.geojson")
    g = gpd.read_file(out / "grids.geojson")
    assert b.crs == src.crs and g.crs == src.crs, "outputs keep the input CRS"
    metric = src.estimate_utm_crs() if src.crs.is_geographic else src.crs
    bm, gm = b.to_crs(metric), g.to_crs(metric)
    geoms = gm.geometry.values
    assert shapely.is_valid(geoms).all()
    assert all(x.geom_type == "Polygon" for x in geoms), "each grid is one polygon"
    # No two grids overlap.
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    mask = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[mask]], geoms[right[mask]])).sum()
    assert overlap < 1.0, f"overlap {overlap} m²"
    union = unary_union(list(geoms))
    if s["territory"]:
        territory = gpd.read_file(s["territory"]).to_crs(metric).union_all()
        assert territory.difference(union).area < 1.0
    else:
        parts = getattr(union, "geoms", [union])
        holes = [shapely.Polygon(r) for p in parts for r in p.interiors]
        if s.get("water"):
            # Water is left out of the grids: every hole lies in the water.
            w = gpd.read_file(s["water"]).to_crs(metric)
            water = w[w.geom_type.isin(["Polygon", "MultiPolygon"])].union_all().buffer(1.0)
            holes = [h for h in holes if h.difference(water).area > 1.0]
        assert not holes, "no hole in the derived territory but water"
    # Every building inside its own grid.
    own = gm.set_index("grid_id").geometry.reindex(bm["grid_id"]).values
    pts = bm.geometry.representative_point().values
    assert shapely.covers(shapely.buffer(own, 0.01), pts).all()
    # Area reported in m².
    assert np.allclose(gm["area_m2"], gm.geometry.area, rtol=1e-3)


def test_bounds_held_or_declared(sample):
    name, s, out = sample
    b = gpd.read_file(out / "buildings.geojson")
    g = gpd.read_file(out / "grids.geojson")
    summary = json.loads((out / "summary.json").read_text())
    hh = b.groupby("grid_id")["households"].sum()
    assert (g.set_index("grid_id")["households"] == hh.reindex(g["grid_id"]).values).all()
    declared = {v["grid_id"] for v in summary["violations"]}
    outside = set(hh[(hh < 300) | (hh > 500)].index)
    assert outside <= declared
    for v in summary["violations"]:
        assert v["kind"] and v["message"] and v["buildings"]
    assert len(b) == len(gpd.read_file(s["buildings"]))
    assert summary["grids"] == len(g)
    # The summary's household figures agree with the grids.
    assert summary["households"]["total"] == pytest.approx(hh.sum())
    assert summary["households"]["max"] == pytest.approx(hh.max())


def test_lon_lat_input_keeps_lon_lat(wangge_bin, tmp_path):
    s = SAMPLES["shanghai"]
    run_partition(wangge_bin, tmp_path, s["buildings"], *s["args"])
    g = gpd.read_file(tmp_path / "grids.geojson")
    minx, miny, maxx, maxy = g.total_bounds
    assert 121.0 < minx < maxx < 122.0 and 31.0 < miny < maxy < 32.0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "transverse Mercator" in summary["crs"]["working"]  # metres, scale 1 near the data
