"""The same buildings as GeoJSON, line-delimited GeoJSON, GeoPackage, Shapefile (GBK text) and
FlatGeobuf (spatially indexed, so reordered), in EPSG:4326, EPSG:4547 and GCJ-02, give the same
grids; attributes (Chinese text included) come through to the output."""
import json
import math
import subprocess

import geopandas as gpd
import pytest

from conftest import DATA, run_partition

SH = DATA / "shanghai_bund"


def gcj02(lon, lat):
    """WGS84 → GCJ-02, the public algorithm (written here independently of wangge's Rust)."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    s = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * s) * math.pi)
    dlon = (dlon * 180.0) / (a / s * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def test_gcj02_control_point():
    # Published test vector (eviltransform): WGS84 (121.5272106, 31.1774276) → GCJ-02.
    lon, lat = gcj02(121.5272106, 31.1774276)
    assert abs(lon - 121.531541859215) < 1e-9 and abs(lat - 31.17530398364597) < 1e-9


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    d = tmp_path_factory.mktemp("formats")
    b = gpd.read_file(SH / "buildings.geojson")
    b["名称"] = [f"楼{i}" for i in range(len(b))]
    files = {
        "geojson": d / "b.geojson",
        "geojsonl": d / "b.geojsonl",
        "gpkg": d / "b.gpkg",
        "shp": d / "b.shp",
        "fgb": d / "b.fgb",
        "parquet": d / "b.parquet",
        "parquet4547": d / "b4547.parquet",
        "gpkg4547": d / "b4547.gpkg",
        "geojson4547": d / "b4547.geojson",
        "gcj02": d / "bgcj.geojson",
        "water_gcj02": d / "water_gcj.geojson",
    }
    b.to_file(files["geojson"], driver="GeoJSON", COORDINATE_PRECISION=15)
    b.to_file(files["geojsonl"], driver="GeoJSONSeq", COORDINATE_PRECISION=15)
    b.to_file(files["gpkg"], driver="GPKG")
    b.to_file(files["shp"], driver="ESRI Shapefile", encoding="GBK")
    b.to_file(files["fgb"], driver="FlatGeobuf")  # spatial index: features reordered
    b.to_parquet(files["parquet"])  # GeoParquet as geopandas writes it (WKB, PROJJSON CRS)
    b.to_crs(4547).to_parquet(files["parquet4547"], compression="zstd")
    b.to_crs(4547).to_file(files["gpkg4547"], driver="GPKG")
    b.to_crs(4547).to_file(files["geojson4547"], driver="GeoJSON", COORDINATE_PRECISION=15)
    g = b.copy()
    g["geometry"] = g.geometry.apply(lambda geom: __import__("shapely").ops.transform(lambda x, y, z=None: tuple(zip(*[gcj02(a, c) for a, c in zip(x, y)])), geom))
    g.to_file(files["gcj02"], driver="GeoJSON", COORDINATE_PRECISION=15)
    w = gpd.read_file(SH / "water.geojson")
    w["geometry"] = w.geometry.apply(lambda geom: __import__("shapely").ops.transform(lambda x, y, z=None: tuple(zip(*[gcj02(a, c) for a, c in zip(x, y)])), geom))
    w.to_file(files["water_gcj02"], driver="GeoJSON", COORDINATE_PRECISION=15)
    return files


def grids_by_bid(out):
    b = json.loads((out / "buildings.geojson").read_text())
    return {f["properties"]["bid"]: f["properties"]["grid_id"] for f in b["features"]}, b


@pytest.mark.parametrize("kind", ["geojsonl", "gpkg", "shp", "fgb", "parquet", "parquet4547", "gpkg4547", "geojson4547", "gcj02"])
def test_same_grids_in_every_format_and_crs(wangge_bin, layers, tmp_path, kind):
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    # The readers must give the same input: compared with the water kept and without the boundary
    # term, the two steps whose result can depend on how the triangulation happens to number and
    # flip its triangles (degenerate triangles on the water's edge; the lengths of cell boundaries
    # through cocircular footprint corners), which a change of format or ring orientation may
    # alter (a known limit, see the README).
    same = ["--include-water", "--boundary-weight", "0"]
    run_partition(wangge_bin, ref_out, layers["geojson"], "--barriers", SH / "water.geojson", *same)
    extra = ["--crs", "gcj02"] if kind == "gcj02" else []
    water = layers["water_gcj02"] if kind == "gcj02" else SH / "water.geojson"
    run_partition(wangge_bin, out, layers[kind], "--barriers", water, *same, *extra)
    ref, _ = grids_by_bid(ref_out)
    got, doc = grids_by_bid(out)
    differ = [k for k in ref if ref[k] != got[k]]
    assert not differ, f"{len(differ)} buildings in other grids"
    props = doc["features"][0]["properties"]
    assert props["名称"].startswith("楼"), props  # GBK text of the Shapefile decoded
    summary = json.loads((out / "summary.json").read_text())
    if kind == "gcj02":
        assert summary["crs"]["input"] == "GCJ-02"
        # Output coordinates stay in GCJ-02: the first building is written as read.
        src = json.loads(layers["gcj02"].read_text())["features"][0]["geometry"]["coordinates"][0][0]
        assert doc["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx(src, abs=1e-12)


def test_info_describes_a_layer(wangge_bin, layers):
    proc = subprocess.run([wangge_bin, "info", str(layers["gpkg4547"])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["features"] == 1308 and info["crs"] == "EPSG:4547" and info["format"] == "geopackage"
    assert {"name": "households", "type": "integer"} in info["columns"]
    assert info["bounds"][0] > 1000  # metres, not degrees


@pytest.mark.parametrize("fmt,ext", [("gpkg", "gpkg"), ("shp", "shp"), ("fgb", "fgb"), ("geojsonseq", "geojsonl"), ("parquet", "parquet")])
def test_outputs_in_other_formats_read_by_gdal(wangge_bin, layers, tmp_path, fmt, ext):
    """--output-format: GDAL (through pyogrio) reads buildings and grids with the same grid ids as
    the GeoJSON output, every input property (Chinese text included), and the CRS."""
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    run_partition(wangge_bin, ref_out, layers["gpkg4547"], "--effort", "0")
    run_partition(wangge_bin, out, layers["gpkg4547"], "--effort", "0", "--output-format", fmt)
    ref, _ = grids_by_bid(ref_out)
    read = gpd.read_parquet if ext == "parquet" else gpd.read_file
    b = read(out / f"buildings.{ext}")
    g = read(out / f"grids.{ext}")
    assert len(b) == len(ref) and dict(zip(b["bid"], b["grid_id"])) == ref
    assert b["名称"].str.startswith("楼").all()
    assert b["households"].dtype.kind == "i"
    assert sorted(g["grid_id"]) == sorted(set(ref.values()))
    if fmt != "geojsonseq":
        assert b.crs.to_epsg() == 4547 and g.crs.to_epsg() == 4547
    ref_grids = gpd.read_file(ref_out / "grids.geojson").set_index("grid_id")
    got = g.set_crs(4547, allow_override=True).set_index("grid_id")
    for gid in ref_grids.index:
        assert got.loc[gid].geometry.symmetric_difference(ref_grids.loc[gid].geometry).area < 1e-6
    if fmt == "shp":
        assert "mean_walk_" in g.columns  # 10-byte field names
