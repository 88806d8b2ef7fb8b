"""Micro-grids and codes through the Python API, checked with shapely."""
import numpy as np
import pytest
import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import box

import wangge


def test_micro_grids_nest_in_grids_and_codes_follow():
    rng = np.random.default_rng(3)
    rows = []
    for j in range(12):
        for i in range(14):
            x, y = 500_000 + i * 40.0, 3_385_000 + j * 40.0
            rows.append({"households": int(10 + rng.integers(0, 40)), "geometry": box(x, y, x + 18, y + 18)})
    buildings = gpd.GeoDataFrame(rows, crs="EPSG:4547")
    model = wangge.GridPartitioner(effort=0, micro_min=30, micro_max=100, code_prefix="3101").fit(buildings)
    micro, grids = model.micro_grids_, model.grids_
    assert list(grids["grid_code"]) == [f"3101{g:03d}" for g in grids["grid_id"]]
    assert list(micro["micro_code"]) == [f"3101{g:03d}{s:02d}" for g, s in zip(micro["grid_id"], micro["seq"])]
    # Each building's micro-grid belongs to its grid, and holds it.
    assert (model.micro_labels_.str.split("-").str[0].astype(int) == model.labels_).all()
    points = buildings.geometry.representative_point()
    for idx, m in model.micro_labels_.items():
        assert micro.loc[m].geometry.contains(points[idx])
    # Micro-grids of a grid make it up exactly, without overlap.
    for gid, grid in grids.iterrows():
        parts = micro[micro["grid_id"] == gid].geometry
        assert abs(parts.area.sum() - grid.geometry.area) < 1e-6 * grid.geometry.area
        assert shapely.difference(shapely.union_all(parts.values), grid.geometry).area < 1e-3
    hh = buildings["households"].groupby(model.micro_labels_).sum()
    assert (hh.reindex(micro.index).to_numpy() == micro["households"].to_numpy()).all()
    declared = {v["micro_grid_id"] for v in model.summary_["micro_grids"]["violations"]}
    inside = micro[~micro.index.isin(declared)]
    assert inside["households"].between(30, 100).all()
    assert len(inside) > 0.8 * len(micro)


def _lattice_and_growth():
    """A 16 × 14 lattice (EPSG:4547), its first division, and the lattice with 60% more
    households in the south-west corner."""
    rows = []
    for j in range(14):
        for i in range(16):
            x, y = 500_000 + i * 40.0, 3_385_000 + j * 40.0
            rows.append({"households": 20 + (i * 7 + j * 5) % 7 * 5, "geometry": box(x, y, x + 18, y + 18)})
    buildings = gpd.GeoDataFrame(rows, crs="EPSG:4547")
    first = wangge.GridPartitioner(effort=0).fit(buildings)
    grown = buildings.copy()
    corner = (grown.geometry.bounds.minx < 500_000 + 6 * 40) & (grown.geometry.bounds.miny < 3_385_000 + 6 * 40)
    grown.loc[corner, "households"] = (grown.loc[corner, "households"] * 1.6).round()
    return first, grown


def test_stable_redivision_keeps_ids_and_locked_grids():
    first, grown = _lattice_and_growth()
    locked = int(first.labels_.iloc[-1])
    again = wangge.GridPartitioner(effort=0, locked=[locked]).fit(grown, existing=first.grids_)
    # Locked grid: the same buildings; every grid in bounds; far grids keep their buildings.
    assert set(again.labels_[again.labels_ == locked].index) == set(first.labels_[first.labels_ == locked].index)
    assert again.violations_.empty
    assert again.grids_["households"].between(300, 500).all()
    moved = (again.labels_ != first.labels_)
    assert not moved[first.labels_ == locked].any()
    red = again.summary_["redivision"]
    assert red["households_moved"] == grown.loc[moved, "households"].sum()
    assert red["share_of_households_moved"] < 0.5


def test_text_ids_and_locked_polygons_are_kept_as_given():
    first, grown = _lattice_and_growth()
    existing = first.grids_.reset_index(drop=True)
    existing["grid_id"] = [f"W-{int(g):02d}" for g in existing["grid_id"]]
    locked = f"W-{int(first.labels_.iloc[-1]):02d}"
    again = wangge.GridPartitioner(effort=0, locked=[locked]).fit(grown, existing=existing)
    # Ids stay text, new ones continue the codes; the locked polygon comes back unchanged.
    assert all(isinstance(g, str) and g.startswith("W-") for g in again.labels_)
    kept = existing.set_index("grid_id").geometry[locked]
    assert again.grids_.geometry[locked].equals_exact(kept, tolerance=0.0)
    # The grids still tile: one piece each, no hole, overlaps only the 0.1 mm slivers where two
    # grids meet the locked polygon's edge (a few mm² in all), every building inside its grid.
    grids = again.grids_.geometry
    assert (shapely.get_num_geometries(grids.values) == 1).all()
    union = shapely.union_all(grids.values)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0
    assert union.area == pytest.approx(grids.area.sum(), abs=0.01)
    inside = [grids[g].buffer(1e-6).contains(p) for g, p in zip(again.labels_, grown.geometry.representative_point())]
    assert all(inside)
