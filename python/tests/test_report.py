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
