"""Households from a table and population from zone totals, through the Python API, checked
with pandas and shapely (independently of the engine's own joins and point-in-polygon)."""
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

import wangge

N = 12
STEP = 40.0
X0, Y0 = 500_000.0, 3_385_000.0


@pytest.fixture(scope="module")
def buildings():
    rng = np.random.default_rng(7)
    rows = []
    for j in range(N):
        for i in range(N):
            side = 14 + rng.integers(0, 8)
            x, y = X0 + i * STEP, Y0 + j * STEP
            rows.append({"code": f"B{j * N + i:04d}", "households": int(20 + rng.integers(0, 40)), "floors": int(1 + rng.integers(0, 12)),
                         "geometry": box(x, y, x + side, y + side)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4547").set_index(pd.Index([f"r{k}" for k in range(N * N)]))


def test_table_frame_and_csv_path_give_the_grids_of_the_column(buildings, tmp_path):
    reference = wangge.GridPartitioner(effort=0).fit(buildings)
    bare = buildings.drop(columns=["households"])
    # A register: one row per household, in shuffled order, plus rows of unknown buildings.
    register = buildings.loc[buildings.index.repeat(buildings["households"]), ["code"]].sample(frac=1.0, random_state=1)
    register = pd.concat([register, pd.DataFrame({"code": ["ZZZ1", "ZZZ2"]})], ignore_index=True)
    from_frame = wangge.GridPartitioner(effort=0).fit(bare, households_table=register, join_on="code")
    assert (from_frame.labels_ == reference.labels_).all()
    assert (from_frame.households_ == buildings["households"]).all()
    report = from_frame.summary_["households_table"]
    assert report["unmatched_rows"] == 2
    assert sorted(u["key"] for u in report["unmatched"]) == ["ZZZ1", "ZZZ2"]
    assert report["buildings_without_row"] == 0
    # The same as a CSV file with a household column under another key name, in GBK.
    table = buildings[["code", "households"]].rename(columns={"code": "楼栋"})
    path = tmp_path / "hh.csv"
    table.to_csv(path, index=False, encoding="gbk")
    from_csv = wangge.GridPartitioner(effort=0).fit(bare, households_table=path, join_on="code=楼栋")
    assert (from_csv.labels_ == reference.labels_).all()


def test_zone_totals_are_kept_and_follow_floor_area(buildings):
    minx, miny, maxx, maxy = buildings.total_bounds
    midx = (minx + maxx) / 2
    zones = gpd.GeoDataFrame(
        {"people": [4321, 2500], "name": ["west", "east"]},
        geometry=[box(minx - 10, miny - 10, midx, maxy + 10), box(midx, miny - 10, maxx + 10, maxy + 10)],
        crs="EPSG:4547",
    ).set_index("name").to_crs("EPSG:4326")  # zones in another CRS than the buildings
    model = wangge.GridPartitioner(effort=0).fit(buildings.drop(columns=["households"]), population_zones=zones,
                                                  zone_population="people", floors="floors", persons_per_household=2.5)
    # Independent zone membership from shapely, on the buildings' representative points.
    points = buildings.geometry.representative_point()
    west = points.x < midx
    pop = model.population_
    assert pop[west].sum() == 4321 and pop[~west].sum() == 2500
    assert model.households_[west].sum() == round(4321 / 2.5) and model.households_[~west].sum() == 1000
    assert (pop == pop.round()).all()
    floor_area = buildings.geometry.area * buildings["floors"]
    for side, total in ((west, 4321), (~west, 2500)):
        exact = total * floor_area[side] / floor_area[side].sum()
        assert (pop[side] - exact).abs().max() < 1.0
    assert model.summary_["population_zones"]["population_placed"] == 6821
    assert model.grids_["population"].sum() == 6821


def test_bad_join_is_a_config_error(buildings):
    # Options are named as Python arguments, and each fault has its own class.
    with pytest.raises(wangge.OptionNeedsError, match="households_table needs join_on"):
        wangge.GridPartitioner(effort=0).fit(buildings, households_table=pd.DataFrame({"code": ["B0000"]}))
    with pytest.raises(wangge.InvalidInputError, match="nope"):
        wangge.GridPartitioner(effort=0).fit(buildings, households_table=pd.DataFrame({"code": ["B0000"]}), join_on="code=nope")
