"""The HTML report: one self-contained file that a real headless browser (Debian's chromium)
loads without a script error, drawing one shape per grid; a screenshot is kept as a test
artefact (target/test-artefacts/report.png)."""
import json
import pathlib
import re
import shutil
import subprocess

import geopandas as gpd
import pytest

from conftest import DATA, ROOT

ARTEFACTS = ROOT / "target" / "test-artefacts"


def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "headless Chromium is needed (scripts/setup.sh installs Debian's chromium)"
    return exe


def browse(html: pathlib.Path, *extra):
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--window-size=1400,1000", *extra, html.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def run(wangge_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    proc = subprocess.run(
        [wangge_bin, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--barriers", str(DATA / "shanghai_bund" / "water.geojson"),
         "--effort", "0", "-o", str(out), "-q", "--report"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "report.html" in proc.stderr, "the closing lines list the report"
    return out


def test_the_report_is_one_self_contained_file(run):
    html = (run / "report.html").read_text()
    for external in ["src=", "href=\"http", "<link", "@import", "url("]:
        assert external not in html, external
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1))
    grids = gpd.read_file(run / "grids.geojson")
    assert len(data["grids"]) == len(grids)
    assert {g["id"] for g in data["grids"]} == set(grids["grid_id"])
    assert len(data["summary"]["violations"]) == len(json.loads((run / "summary.json").read_text())["violations"])


def test_headless_chromium_loads_the_page_and_draws_every_grid(run):
    page = run / "report.html"
    dom = browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
    assert 'data-ready="true"' in dom.stdout, "the page's script ran to its end"
    grids = gpd.read_file(run / "grids.geojson")
    drawn = re.findall(r'<path[^>]*class="grid[^"]*"', dom.stdout)
    assert len(drawn) == len(grids), (len(drawn), len(grids))
    # Coloured by load: the towers above 500 are red, grids in band green.
    assert dom.stdout.count('fill="#e45756"') == int((grids["households"] > 500).sum())
    assert 'fill="#a1d99b"' in dom.stdout
    # One row per grid in the table, the violations listed.
    assert dom.stdout.count("<tr") == len(grids) + 1
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "report.png"
    if shot.exists():
        shot.unlink()
    s = browse(page, f"--screenshot={shot}", "--virtual-time-budget=5000")
    assert s.returncode == 0 and shot.stat().st_size > 20_000, s.stderr[-2000:]


def test_report_command_on_a_geopackage_run(wangge_bin, tmp_path):
    target = tmp_path / "run.gpkg"
    p = subprocess.run([wangge_bin, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--effort", "0", "-o", str(target), "-q"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = subprocess.run([wangge_bin, "report", str(target)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    html = tmp_path / "run.report.html"
    assert html.exists()
    dom = browse(html, "--dump-dom")
    assert 'data-ready="true"' in dom.stdout and "Uncaught" not in dom.stderr
    bad = subprocess.run([wangge_bin, "report", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode == 5 and "summary.json" in bad.stderr, bad.stderr


def page_data(html: pathlib.Path):
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html.read_text(), re.S).group(1))


def test_check_report_draws_every_grid_and_locates_every_problem(wangge_bin, run, tmp_path):
    from shapely.affinity import translate

    grids = gpd.read_file(run / "grids.geojson")
    broken = grids.drop(index=[3, 4]).copy()  # two gaps
    x0, y0, x1, y1 = broken.loc[10, "geometry"].bounds
    broken.loc[10, "geometry"] = translate(broken.loc[10, "geometry"], 0.4 * (x1 - x0), 0.3 * (y1 - y0))  # overlaps and a gap
    layer = tmp_path / "broken.geojson"
    broken.to_file(layer, driver="GeoJSON")
    out = tmp_path / "check"
    buildings = DATA / "shanghai_bund" / "buildings.geojson"
    args = [wangge_bin, "check", str(layer), "--buildings", str(buildings), "--water", str(DATA / "shanghai_bund" / "water.geojson"), "--min-households", "300", "--max-households", "500", "-o", str(out)]
    p = subprocess.run(args + ["--report"], capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    assert "report.html" in p.stderr
    issues = json.loads((out / "issues.geojson").read_text())["features"]
    kinds = {f["properties"]["kind"] for f in issues}
    assert {"gap", "overlap", "unserved_building"} <= kinds, kinds
    data = page_data(out / "report.html")
    assert data["mode"] == "check" and len(data["grids"]) == len(broken) and len(data["problems"]) == len(issues)
    # Households per grid from the buildings, as check counts them.
    assert sum(g["households"] for g in data["grids"]) <= gpd.read_file(buildings)["households"].sum()
    dom = browse(out / "report.html", "--dump-dom")
    assert dom.returncode == 0 and 'data-ready="true"' in dom.stdout, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
    assert len(re.findall(r'<path[^>]*class="grid[^"]*"', dom.stdout)) == len(broken)
    located = [f for f in issues if f["geometry"] is not None and f["properties"]["kind"] != "households_out_of_bounds"]
    assert len(re.findall(r'<path[^>]*class="problem[^"]*"', dom.stdout)) == len(located) > 0
    assert dom.stdout.count('<li class') + dom.stdout.count("<li>") >= len(issues)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "check_report.png"
    s = browse(out / "report.html", f"--screenshot={shot}", "--virtual-time-budget=5000")
    assert s.returncode == 0 and shot.stat().st_size > 20_000
    # A check without --report removes the report of an earlier check; --report needs -o.
    p = subprocess.run(args + ["--overwrite"], capture_output=True, text=True)
    assert p.returncode == 1 and not (out / "report.html").exists()
    p = subprocess.run([wangge_bin, "check", str(layer), "--json", "-", "--report"], capture_output=True, text=True)
    assert p.returncode == 2 and "-o OUT_DIR" in p.stderr, p.stderr


def test_redivision_report_shows_the_change(wangge_bin, run, tmp_path):
    out = tmp_path / "redivided"
    p = subprocess.run(
        [wangge_bin, "partition", str(DATA / "shanghai_bund" / "buildings.geojson"), "--barriers", str(DATA / "shanghai_bund" / "water.geojson"),
         "--existing", str(run / "grids.geojson"), "--min-households", "250", "--max-households", "420", "--effort", "0", "-o", str(out), "-q", "--report"],
        capture_output=True, text=True,
    )
    assert p.returncode in (0, 4), p.stderr
    buildings = gpd.read_file(out / "buildings.geojson")
    assert "previous_grid_id" in buildings.columns
    moved = buildings[buildings["previous_grid_id"].notna() & (buildings["previous_grid_id"] != buildings["grid_id"])]
    summary = json.loads((out / "summary.json").read_text())
    red = summary["redivision"]
    assert len(moved) == red["buildings_moved"] > 0
    assert abs(moved["households"].sum() - red["households_moved"]) < 1e-6
    data = page_data(out / "report.html")
    assert data["buildings"]["moved"] == len(moved)
    dom = browse(out / "report.html", "--dump-dom")
    assert dom.returncode == 0 and 'data-ready="true"' in dom.stdout and "Uncaught" not in dom.stderr
    assert '<div id="redivision">' in dom.stdout, "the re-division section is shown"
    assert 'class="moved"' in dom.stdout and 'value="change"' in dom.stdout
    table = re.search(r'<table id="change-table">(.*?)</table>', dom.stdout, re.S).group(1)
    assert table.count("<tr") == len(red["changes"]) + 1
    shot = ARTEFACTS / "redivision_report.png"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    s = browse(out / "report.html", f"--screenshot={shot}", "--virtual-time-budget=5000")
    assert s.returncode == 0 and shot.stat().st_size > 20_000
