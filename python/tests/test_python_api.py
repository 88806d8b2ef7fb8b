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
    problems = wangge.check(grids, buildings=buildings, water=water)
    assert problems.attrs["summary"]["clean"] is True and len(problems) == 0, list(problems.message)
    # Duplicate one grid: an overlap the size of the grid; repair drops it.
    dup = grids.iloc[[0]].copy()
    dup["grid_id"] = 999
    dup.index = [999]
    broken = pd.concat([grids, dup])
    problems = wangge.check(broken, water=water)
    assert list(problems.kind) == ["overlap"]
    assert sorted(problems.grid_ids[0]) == [int(grids.grid_id.iloc[0]), 999]
    assert problems.crs == grids.crs
    fixed, report = wangge.repair(broken, water=water)
    assert report["removed"] == 1 and 999 not in fixed.index
    assert fixed.drop(columns="geometry").equals(grids.drop(columns="geometry"))
    assert len(wangge.check(fixed, water=water)) == 0


def test_parameters_are_the_configuration_with_its_defaults():
    """One source for every option: the constructor takes exactly the configuration's fields
    (summary.json's config, strict included) with the Rust defaults, plus progress."""
    import inspect

    defaults = json.loads(wangge._wangge.defaults()[0])
    params = inspect.signature(wangge.GridPartitioner).parameters
    names = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD} - {"progress"}
    assert names == set(defaults)
    for name, value in defaults.items():
        given = params[name].default
        assert (list(given) if isinstance(given, tuple) else given) == value, name


def test_a_recorded_configuration_is_passed_back(shanghai):
    buildings, water = shanghai
    first = wangge.GridPartitioner(min_households=250, max_households=480, seed=5, effort=0).fit(buildings, barriers=water)
    again = wangge.GridPartitioner(**first.summary_["config"]).fit(buildings, barriers=water)
    assert again.summary_["config"] == first.summary_["config"]
    assert again.labels_.equals(first.labels_)


def test_old_keyword_names_still_work_with_a_warning():
    with pytest.warns(DeprecationWarning, match="max_walk_m"):
        model = wangge.GridPartitioner(max_walk=800, time_limit=30)
    assert (model.max_walk_m, model.time_limit_s) == (800, 30)
    with pytest.warns(DeprecationWarning, match="contiguity"):
        assert wangge.GridPartitioner(no_contiguity=True).contiguity is False
    with pytest.raises(TypeError, match="seeds"):
        wangge.GridPartitioner(seeds=3)


def test_each_fault_has_its_class_and_names_python_arguments(shanghai):
    buildings, _ = shanghai
    assert len(set(wangge.ERRORS)) == len(wangge.ERRORS)
    assert all(issubclass(e, wangge.WanggeError) for e in wangge.ERRORS)
    with pytest.raises(wangge.OptionOutOfRangeError, match=r"detour_factor must be >= 1, got 0.5") as caught:
        wangge.GridPartitioner(detour_factor=0.5).fit(buildings)
    assert "--" not in str(caught.value)
    assert isinstance(caught.value, wangge.ConfigError)
    with pytest.raises(wangge.OptionsInconsistentError, match=r"min_households \(600\) is above max_households \(500\)"):
        wangge.GridPartitioner(min_households=600).fit(buildings)
    with pytest.raises(wangge.InvalidFeatureError):
        bad = buildings.copy()
        bad.loc[bad.index[2], "households"] = -1
        wangge.GridPartitioner().fit(bad)
    with pytest.raises(TypeError, match="nope"):
        wangge.GridPartitioner().fit(buildings, nope=1)


def test_repair_warns_of_what_it_cannot_resolve(shanghai):
    buildings, water = shanghai
    grids = wangge.GridPartitioner(seed=0).fit(buildings, barriers=water).grids_
    broken = grids.copy()
    broken.loc[broken.index[0], "geometry"] = None
    with pytest.warns(wangge.WanggeWarning, match="null geometry"):
        fixed, report = wangge.repair(broken, water=water)
    assert report["clean"] is False and any("null geometry" in u for u in report["unresolved"])
    assert fixed.geometry.iloc[0] is None  # written as it was, never as an empty polygon
