"""Draws the grids of the shipped sample (data/shanghai_bund) as a planner would look at them,
coloured by load relative to the household bounds, and writes docs/sample_grids.png (the picture
in the README). Usage: python examples/plot_sample.py [OUT.png]"""
import pathlib
import sys
import warnings

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")

import wangge

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> None:
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "sample_grids.png"
    data = ROOT / "data" / "shanghai_bund"
    buildings = gpd.read_file(data / "buildings.geojson")
    water = gpd.read_file(data / "water.geojson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wangge.WanggeWarning)
        model = wangge.GridPartitioner(min_households=300, max_households=500, seed=0).fit(buildings, barriers=water)
    ax = model.plot(buildings=buildings, figsize=(10, 9))
    water.to_crs(model.grids_.crs).plot(ax=ax, color="#9ecae1", linewidth=0, zorder=0)
    ax.set_title(f"Shanghai Bund sample: {len(model.grids_)} grids of 300–500 households "
                 f"(red: one building above 500), mean walk {model.summary_['objective']['mean_walk_m']:.1f} m", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(out, dpi=90, bbox_inches="tight")
    print(out)


if __name__ == "__main__":
    main()
