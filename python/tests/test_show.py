"""Showing the result: warnings that reach the user, scikit-learn conventions, plot, explore,
the notebook summary, and the console script that runs the same command line."""
import os
import pathlib
import shutil
import subprocess
import sys
import warnings

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import pytest

import wangge
from wangge import GridPartitioner, WanggeWarning

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
ARTEFACTS = ROOT / "target" / "test-artefacts"


@pytest.fixture(scope="module")
def bund():
    return (
        gpd.read_file(DATA / "shanghai_bund" / "buildings.geojson"),
        gpd.read_file(DATA / "shanghai_bund" / "water.geojson"),
    )


@pytest.fixture(scope="module")
def fitted(bund):
    buildings, water = bund
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GridPartitioner(effort=0).fit(buildings, barriers=water)
    return model, caught


def test_every_warning_of_the_summary_is_a_python_warning(fitted):
    model, caught = fitted
    ours = [str(w.message) for w in caught if issubclass(w.category, WanggeWarning)]
    assert model.summary_["warnings"], "the sample's water layer has point features: a warning is expected"
    for w in model.summary_["warnings"]:
        assert w in ours, (w, ours)
    assert any("point" in w for w in ours)


def test_unavoidable_misses_are_declared_not_failures(fitted):
    model, _ = fitted
    s = model.summary_
    assert s["status"] == "unavoidable_misses", s["message"]
    assert len(model.violations_) > 0
    assert set(model.violations_["kind"]) <= {"oversize_building", "isolated_area", "infeasible_area", "unstaffed"}


def test_get_params_set_params_and_repr():
    m = GridPartitioner(min_households=200, max_households=400, seed=3)
    p = m.get_params()
    assert p["min_households"] == 200 and p["max_households"] == 400 and p["seed"] == 3
    assert "strict" in p and "effort" in p
    assert GridPartitioner(**p).get_params() == p
    assert m.set_params(seed=7) is m and m.seed == 7
    with pytest.raises(ValueError, match="no_such"):
        m.set_params(no_such=1)
    r = repr(m)
    assert r.startswith("GridPartitioner(") and "min_households=200" in r and "seed=7" in r
    assert "detour_factor" not in r, "defaults are left out of the repr"


def test_plot_colours_grids_by_load(fitted, bund):
    model, _ = fitted
    load = model.grid_load()
    assert set(load) <= {"below", "in band", "above"}
    lo, hi = model.summary_["households"]["bounds"]
    above = model.grids_["households"] > hi
    assert (load[above] == "above").all() and (load[~above & (model.grids_["households"] >= lo)] == "in band").all()
    ax = model.plot(buildings=bund[0])
    # One patch collection for the grids (one path per polygon part), one for the buildings.
    paths = sum(len(c.get_paths()) for c in ax.collections[:1])
    assert paths >= len(model.grids_)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("above") for t in legend) and any(t.startswith("in band") for t in legend)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(ARTEFACTS / "plot_bund.png", dpi=80)
    assert (ARTEFACTS / "plot_bund.png").stat().st_size > 10_000


def test_explore_is_an_interactive_map(fitted):
    model, _ = fitted
    m = model.explore()
    html = m.get_root().render()
    assert "leaflet" in html.lower()
    assert "households" in html


def test_repr_html_summarises_a_fitted_model(fitted):
    model, _ = fitted
    text = model._repr_html_()
    assert "<table>" in text and "mean walk" in text and "unavoidable_misses" in text
    assert "<pre>" in GridPartitioner()._repr_html_()


def test_not_fitted_is_a_clear_error():
    with pytest.raises(AttributeError, match="not fitted"):
        GridPartitioner().plot()


def test_console_script_runs_the_command_line(tmp_path):
    # python -m wangge is what the console script runs.
    out = subprocess.run([sys.executable, "-m", "wangge", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("wangge "), out
    script = shutil.which("wangge", path=os.path.dirname(sys.executable))
    assert script, "pip install puts a wangge console script beside python"
    o = subprocess.run(
        [script, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--barriers", str(DATA / "shanghai_bund" / "water.geojson"),
         "--effort", "0", "-o", str(tmp_path / "out"), "-q"],
        capture_output=True, text=True,
    )
    assert o.returncode == 0, o.stderr
    assert (tmp_path / "out" / "grids.geojson").exists()
    assert "--max-households" not in o.stderr and "wangge: warning:" in o.stderr
    bad = subprocess.run([script, "partition", "nowhere.geojson", "-o", str(tmp_path / "o2"), "--max-households=-5"], capture_output=True, text=True)
    assert bad.returncode in (2, 3), bad
    assert "max-households" in bad.stderr, "messages name command-line flags, not Python names"


def test_info_into_a_closed_pipe_exits_quietly():
    script = shutil.which("wangge", path=os.path.dirname(sys.executable))
    p = subprocess.Popen([script, "info", str(DATA / "shanghai_bund" / "buildings.geojson")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 0 and "panicked" not in err, err


def test_check_reads_the_grid_layer_of_a_geopackage(tmp_path):
    script = shutil.which("wangge", path=os.path.dirname(sys.executable))
    out = tmp_path / "out"
    o = subprocess.run([script, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--effort", "0", "-o", str(out), "-q"], capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    both = tmp_path / "both.gpkg"
    # Buildings first: without --layer, the first feature table would be audited as grids.
    gpd.read_file(out / "buildings.geojson").to_file(both, layer="buildings", driver="GPKG")
    gpd.read_file(out / "grids.geojson").to_file(both, layer="grids", driver="GPKG")
    import json

    def check(*args):
        r = subprocess.run([script, "check", *map(str, args), "--json", "-"], capture_output=True, text=True)
        assert r.returncode in (0, 1), r.stderr
        return json.loads(r.stdout)

    plain = check(out / "grids.geojson", "--buildings", out / "buildings.geojson")
    layered = check(both, "--layer", "grids", "--buildings", both, "--buildings-layer", "buildings")
    assert layered["summary"]["grids"] == plain["summary"]["grids"] == len(gpd.read_file(out / "grids.geojson"))
    assert len(layered["issues"]["features"]) == len(plain["issues"]["features"])
    wrong = check(both, "--buildings", both)
    assert wrong["summary"]["grids"] != plain["summary"]["grids"], "without --layer the buildings are read as grids"


def test_output_to_one_geopackage(tmp_path):
    import json

    import pyogrio

    script = shutil.which("wangge", path=os.path.dirname(sys.executable))
    target = tmp_path / "result.gpkg"
    args = [script, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--barriers", str(DATA / "shanghai_bund" / "water.geojson"), "--effort", "0", "-o", str(target), "-q"]
    o = subprocess.run(args, capture_output=True, text=True)
    assert o.returncode == 0, o.stderr
    assert target.is_file(), "one file, not a directory"
    layers = {name for name, _ in pyogrio.list_layers(target)}
    assert {"buildings", "grids", "violations"} <= layers, layers
    summary = json.loads((tmp_path / "result.summary.json").read_text())
    grids = gpd.read_file(target, layer="grids")
    buildings = gpd.read_file(target, layer="buildings")
    violations = gpd.read_file(target, layer="violations")
    assert len(grids) == summary["grids"]
    assert set(buildings["grid_id"]) <= set(grids["grid_id"])
    assert len(buildings) == len(gpd.read_file(DATA / "shanghai_bund" / "buildings.geojson"))
    assert len(violations) == len(summary["violations"]) and violations["unavoidable"].all()
    assert grids.crs == buildings.crs
    # An existing file is refused without --overwrite and left as it was.
    before = target.stat().st_mtime_ns
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr, again.stderr
    assert target.stat().st_mtime_ns == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
