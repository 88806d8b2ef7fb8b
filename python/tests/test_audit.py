"""`wangge check` and `wangge repair` on the real Shanghai grids, checked with shapely.

The sample is partitioned, then defects are injected with shapely (an overlap, a hole, a
duplicate); check must report them, and the repaired layer must tile the same area with no
overlap, measured independently.
"""
import json
import subprocess

import geopandas as gpd
import pytest
from shapely import union_all
from shapely.geometry import box

from conftest import DATA, run_partition


@pytest.fixture(scope="module")
def grids(wangge_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("sh")
    run_partition(wangge_bin, out, DATA / "shanghai_bund" / "buildings.geojson", "--barriers", DATA / "shanghai_bund" / "water.geojson")
    return gpd.read_file(out / "grids.geojson")


WATER = DATA / "shanghai_bund" / "water.geojson"


def check(wangge_bin, path, *args):
    # wangge leaves the water out of the grids: --water tells check that gaps there are fine.
    proc = subprocess.run([wangge_bin, "check", str(path), "--json", "-", "-q", "--water", str(WATER), *map(str, args)], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_partition_output_is_clean(wangge_bin, grids, tmp_path):
    path = tmp_path / "grids.geojson"
    grids.to_file(path, driver="GeoJSON")
    code, doc = check(wangge_bin, path)
    assert code == 0, doc["summary"]
    assert doc["summary"]["clean"] is True


def test_injected_defects_are_found_and_repaired(wangge_bin, grids, tmp_path):
    g = grids.to_crs(32651).copy()  # metres (UTM 51N) to inject defects of known size
    big = g.area.sort_values(ascending=False).index
    a, b = big[0], big[1]
    # A hole of 30 m × 30 m in the middle of the largest grid.
    c = g.geometry[a].representative_point()
    hole = box(c.x - 15, c.y - 15, c.x + 15, c.y + 15)
    assert g.geometry[a].contains(hole)
    g.loc[a, "geometry"] = g.geometry[a].difference(hole)
    # The second grid duplicated under a new id.
    dup = g.loc[[b]].copy()
    dup["grid_id"] = 9999
    g = gpd.GeoDataFrame(gpd.pd.concat([g, dup], ignore_index=True), crs=g.crs)
    path = tmp_path / "perturbed.geojson"
    g.to_crs(4326).to_file(path, driver="GeoJSON")
    code, doc = check(wangge_bin, path)
    assert code == 1
    kinds = [(f["properties"]["kind"], f["properties"]["grid_ids"], f["properties"]["area_m2"]) for f in doc["issues"]["features"]]
    gaps = [k for k in kinds if k[0] == "gap"]
    overlaps = [k for k in kinds if k[0] == "overlap"]
    assert len(gaps) == 1 and abs(gaps[0][2] - 900) < 5, kinds
    assert len(overlaps) == 1 and 9999 in overlaps[0][1], kinds
    assert abs(overlaps[0][2] - g.geometry.iloc[-1].area) < 0.01 * g.geometry.iloc[-1].area
    # Repair, then measure independently: no overlap, the hole filled, the same outline.
    out = tmp_path / "fixed"
    subprocess.run([wangge_bin, "repair", str(path), "-o", str(out), "-q", "--water", str(WATER)], check=True)
    fixed = gpd.read_file(out / "grids.geojson").to_crs(32651)
    assert 9999 not in set(fixed["grid_id"])
    assert len(fixed) == len(grids)
    union = union_all(fixed.geometry.values)
    assert abs(fixed.area.sum() - union.area) < 1.0  # no overlap (m²)
    assert union.buffer(0).contains(hole.buffer(-0.01))
    original = union_all(grids.to_crs(32651).geometry.values)
    assert abs(union.area - original.area) < 1.0
    code, doc = check(wangge_bin, out / "grids.geojson")
    assert code == 0, [f["properties"]["message"] for f in doc["issues"]["features"]]
