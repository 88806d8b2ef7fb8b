"""The example notebook runs end to end (its code cells, in order, in one namespace)."""
import json

import matplotlib

from conftest import ROOT


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    nb = json.loads((ROOT / "examples" / "quickstart.ipynb").read_text())
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        source = "".join(cell["source"])
        exec(compile(source, f"quickstart.ipynb[cell {i}]", "exec"), namespace)
    assert namespace["model"].summary_["grids"] > 100
    assert (tmp_path / "quickstart_grids.png").stat().st_size > 10_000
