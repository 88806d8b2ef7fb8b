"""The Python package: same results as the CLI, index and CRS kept, errors as exception
classes, check and repair on GeoDataFrames, invariants checked with shapely."""
import json
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import union_all
from shapely.geometry import Point

import wangge
from conftest import DATA, ROOT, run_partition

SH = DATA / "shanghai_bund"


@pytest.fixture(scope="module")
def shanghai():
    return gpd.read_file(SH / "buildings.geojson"), gpd.read_file(SH / "water.geojson")


def test_version_comes_from_rust():
    cargo = (ROOT / "Cargo.toml").read_text()
    assert f'version = "{wangge.__version__}"' in cargo


def test_same_grids_as_the_cli(wangge_bin, shanghai, tmp_path):
    buildings, water = shanghai
    run_partition(wangge_bin, tmp_path, SH / "buildings.geojson", "--barriers", SH / "water.geojson", "--seed", 3)
    cli = gpd.read_file(tmp_path / "buildings.geojson")
    model = wangge.GridPartitioner(seed=3).fit(buildings, barriers=water)
    assert (model.labels_.to_numpy() == cli["grid_id"].to_numpy()).all()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert model.summary_["grids"] == summary["grids"]
    assert model.summary_["objective"]["value"] == pytest.approx(summary["objective"]["value"], rel=1e-12)
    assert len(model.violations_) == len(summary["violations"])


def test_invariants_index_and_crs(shanghai):
    buildings, water = shanghai
    b = buildings.copy()
    b.index = pd.Index([f"b{i}" for i in range(len(b))])
    model = wangge.GridPartitioner(seed=0).fit(b, barriers=water)
    assert model.labels_.index.equals(b.index)
    assert model.grids_.crs == b.crs
    grids = model.grids_.to_crs(32651)
    # Every building in exactly one grid, households summed, grids tiling without overlap.
    counts = b.groupby(model.labels_)["households"].sum()
    assert np.allclose(counts.sort_index().to_numpy(), grids.sort_index()["households"].to_numpy())
    union = union_all(grids.geometry.values)
    assert abs(grids.area.sum() - union.area) < 1.0
    reps = b.to_crs(32651).representative_point()
    inside = [grids.geometry[g].buffer(0.01).contains(p) for g, p in zip(model.labels_, reps)]
    assert all(inside)
    # Bounds held or declared.
    out = grids[(grids.households < 300) | (grids.households > 500)]
    assert set(out.grid_id) <= set(model.violations_.grid_id)


def test_errors_are_exception_classes(shanghai):
    buildings, _ = shanghai
    with pytest.raises(wangge.InvalidInputError, match="nope"):
        wangge.GridPartitioner().fit(buildings, households="nope")
    bad = buildings.copy()
    bad.loc[bad.index[3], "households"] = -5
    with pytest.raises(wangge.InvalidInputError, match="households"):
        wangge.GridPartitioner().fit(bad)
    with pytest.raises(wangge.ConfigError):
        wangge.GridPartitioner(min_households=600, max_households=500).fit(buildings)
    assert issubclass(wangge.CrsError, wangge.InvalidInputError)
    assert issubclass(wangge.InfeasibleError, wangge.WanggeError)
    with pytest.raises(wangge.InfeasibleError):
        wangge.GridPartitioner(strict=True).fit(buildings)


def test_points_and_workers_dataframe():
    rng = np.random.default_rng(1)
    pts = gpd.GeoDataFrame({"households": rng.integers(20, 60, 120)}, geometry=[Point(500000 + x, 3385000 + y) for x, y in rng.uniform(0, 600, (120, 2))], crs=4547)
    workers = pd.DataFrame({"id": [f"w{i}" for i in range(14)], "capacity": 520, "kind": "full-time"})
    model = wangge.GridPartitioner(seed=1, progress=True).fit(pts, workers=workers)
    assert model.grids_["worker_id"].notna().all()
    assert model.summary_["workers"]["available"] == 14


def test_check_and_repair_dataframes(shanghai):
    buildings, water = shanghai
    model = wangge.GridPartitioner(seed=0).fit(buildings, barriers=water)
    grids = model.grids_
    problems = wangge.check(grids, buildings=buildings)
    assert problems.attrs["summary"]["clean"] is True and len(problems) == 0
    # Duplicate one grid: an overlap the size of the grid; repair drops it.
    dup = grids.iloc[[0]].copy()
    dup["grid_id"] = 999
    dup.index = [999]
    broken = pd.concat([grids, dup])
    problems = wangge.check(broken)
    assert list(problems.kind) == ["overlap"]
    assert sorted(problems.grid_ids[0]) == [int(grids.grid_id.iloc[0]), 999]
    assert problems.crs == grids.crs
    fixed, report = wangge.repair(broken)
    assert report["removed"] == 1 and 999 not in fixed.index
    assert fixed.drop(columns="geometry").equals(grids.drop(columns="geometry"))
    assert len(wangge.check(fixed)) == 0
