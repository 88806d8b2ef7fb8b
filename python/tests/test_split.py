"""Towers split by units through the Python API, checked with shapely and pandas."""
import geopandas as gpd
from shapely.geometry import box

import wangge


def test_a_tower_split_by_units_gives_grids_within_bounds_and_one_label_per_row():
    rows = []
    for j in range(8):
        for i in range(8):
            x, y = 500_000 + i * 40.0, 3_385_000 + j * 40.0
            rows.append({"name": f"b{j * 8 + i}", "households": 40, "units": 1, "geometry": box(x - 10, y - 10, x + 10, y + 10)})
    # A 70 m slab of 900 households in 4 units, between lattice rows 3 and 4.
    rows.append({"name": "T", "households": 900, "units": 4, "geometry": box(500_105, 3_385_132.5, 500_175, 3_385_147.5)})
    buildings = gpd.GeoDataFrame(rows, crs="EPSG:4547", index=[f"r{k}" for k in range(len(rows))])
    model = wangge.GridPartitioner(effort=0, min_households=300, max_households=500).fit(buildings, units="units")
    # One label per input row, on the input index.
    assert len(model.labels_) == len(buildings)
    assert list(model.labels_.index) == list(buildings.index)
    assert model.households_.sum() == buildings["households"].sum()
    # Every grid within the bounds: the tower no longer forces an oversize grid.
    assert model.violations_.empty, model.violations_
    assert model.grids_["households"].between(300, 500).all()
    assert model.grids_["households"].sum() == buildings["households"].sum()
    split = model.summary_["split_buildings"]
    assert split["count"] == 1 and split["parts"] == 4
    tower = split["buildings"][0]
    assert [p["part"] for p in tower["parts"]] == ["U1", "U2", "U3", "U4"]
    assert sum(p["households"] for p in tower["parts"]) == 900
    # The tower's label is the grid holding most of its households (ties: the lower id).
    served = {}
    for p in tower["parts"]:
        served[p["grid_id"]] = served.get(p["grid_id"], 0) + p["households"]
    best = max(sorted(served), key=lambda g: served[g])
    assert model.labels_.iloc[-1] == best
    # Grid households are those served: whole buildings by label, plus the tower's parts.
    whole = buildings.iloc[:-1]["households"].groupby(model.labels_.iloc[:-1]).sum().to_dict()
    for g, h in served.items():
        whole[g] = whole.get(g, 0) + h
    assert {int(k): v for k, v in whole.items()} == dict(zip(model.grids_["grid_id"].astype(int), model.grids_["households"]))
