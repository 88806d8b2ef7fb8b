"""Shapes of the grids on real and synthetic instances, side by side: wangge with streets, the
previous release (triangle fans, no streets), and the same buildings->grid labels over momepy's
enclosed tessellation (streets and barriers as enclosures). Writes bench-results/shapes.md.

usage: bench_shapes.py WANGGE PREVIOUS_WANGGE WORKDIR [--skip-100k]
Metrics per layer from ../shared/tools/shape_metrics.py (or scripts/shape_metrics.py when the
shared one is absent): median Polsby-Popper, share of grids with a spike < 10 degrees, with a neck
< 10 m, more than half water, and the share of internal boundary within 15 m of a street; plus
blocks split, mean walk, grids in band and the stage times from wangge's summary.json.
"""
import json, os, subprocess, sys, time, datetime, platform
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
SHARED_METRICS = ROOT.parent / "shared" / "tools" / "shape_metrics.py"
METRICS = SHARED_METRICS if SHARED_METRICS.exists() else ROOT / "scripts" / "shape_metrics.py"


def run(cmd, **kw):
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode not in (0, 4):
        sys.exit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr[-2000:]}")
    return time.perf_counter() - t


def metrics(grids, streets, water):
    cmd = [sys.executable, METRICS, grids]
    if streets:
        cmd += ["--streets", streets]
    if water:
        cmd += ["--water", water]
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"shape metrics failed on {grids}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def prepare(work, skip_100k):
    """The instances: name -> dict(buildings, territory, barriers, streets, streets_filter, water, metric_streets)."""
    inst = {}
    sh = ROOT / "data" / "shanghai_bund"
    roads = gpd.read_file(sh / "roads.geojson")
    major_minor = work / "shanghai_streets.geojson"
    roads[roads["kind"].isin(["major_road", "minor_road"])].to_file(major_minor, driver="GeoJSON")
    inst["Shanghai (OSM)"] = dict(buildings=sh / "buildings.geojson", barriers=[sh / "water.geojson"], streets=sh / "roads.geojson",
                                  streets_filter="kind=major_road,minor_road", water=sh / "water.geojson", metric_streets=major_minor)
    try:
        import momepy
        gpkg = Path(momepy.datasets.get_path("bubenec"))
        b = gpd.read_file(gpkg, layer="buildings")
        s = gpd.read_file(gpkg, layer="streets")
        area = b.geometry.area
        # Households estimated from footprint area (4 floors, 70% usable, 75 m² per household):
        # the dataset has no counts.
        b["households"] = np.maximum(1, np.round(area * 4 * 0.7 / 75)).astype(int)
        bp, sp = work / "bubenec_buildings.geojson", work / "bubenec_streets.geojson"
        b.to_file(bp, driver="GeoJSON")
        s.to_file(sp, driver="GeoJSON")
        inst["Prague Bubeneč (OSM, momepy dataset)"] = dict(buildings=bp, barriers=[], streets=sp, streets_filter=None, water=None, metric_streets=sp)
    except ImportError:
        print("momepy is not installed: Bubeneč and the momepy layers are skipped", file=sys.stderr)
    sizes = [10_000] if skip_100k else [10_000, 100_000]
    for n in sizes:
        d = ROOT / "target" / "bench-data" / f"synth_{n}"
        if not (d / "streets.geojson").exists():
            run([ROOT / "target" / "release" / "examples" / "synth_city", "--buildings", n, "--seed", 1, "--out", d])
        inst[f"synthetic {n // 1000}k"] = dict(buildings=d / "buildings.geojson", territory=d / "territory.geojson", barriers=[d / "barriers.geojson"],
                                              streets=d / "streets.geojson", streets_filter=None, water=None, metric_streets=d / "streets.geojson")
    return inst


def wangge_args(i, with_streets):
    a = [i["buildings"]]
    if i.get("territory"):
        a += ["--territory", i["territory"]]
    for b in i["barriers"]:
        a += ["--barriers", b]
    if with_streets:
        a += ["--streets", i["streets"]]
        if i["streets_filter"]:
            a += ["--streets-filter", i["streets_filter"]]
    return a


def momepy_layer(i, labels_path, out_path):
    """The buildings->grid labels of `labels_path` dissolved over momepy's enclosed tessellation."""
    import momepy
    b = gpd.read_file(labels_path)
    crs = b.estimate_utm_crs() if b.crs is None or b.crs.is_geographic else b.crs
    b = b.to_crs(crs)
    streets = gpd.read_file(i["metric_streets"]).to_crs(crs)
    barriers = [gpd.read_file(x).to_crs(crs) for x in i["barriers"]]
    if i.get("territory"):
        limit = gpd.read_file(i["territory"]).to_crs(crs).geometry.union_all()
    else:
        limit = shapely.buffer(shapely.convex_hull(b.geometry.union_all()), 30)
    extra = [g[g.geom_type.isin(["LineString", "MultiLineString", "Polygon", "MultiPolygon"])].geometry for g in barriers]
    enc = momepy.enclosures(streets.geometry, limit=gpd.GeoSeries([limit], crs=crs), additional_barriers=extra or None)
    b = b[b.geometry.notna() & ~b.geometry.is_empty].copy()
    b["geometry"] = b.geometry.buffer(0)
    t0 = time.perf_counter()
    cells = momepy.enclosed_tessellation(b.geometry, enc, n_jobs=1)
    secs = time.perf_counter() - t0
    cells = cells[cells.index >= 0].join(b[["grid_id"]], how="inner")
    grids = cells.dissolve("grid_id").reset_index()[["grid_id", "geometry"]]
    grids.to_file(out_path, driver="GeoJSON")
    return secs


def summary_figures(out):
    s = json.load(open(out / "summary.json"))
    t = s["timings_s"]
    total = sum(t.values())
    blocks = s.get("territory", {}).get("blocks", {})
    return dict(grids_in_band=s["households"]["grids_in_bounds"], mean_walk=s["objective"].get("mean_walk_m"),
                blocks_split=blocks.get("split"), blocks=blocks.get("with_buildings"), total_s=total, tessellate_s=t.get("tessellate", 0.0),
                graph_s=t.get("graph", 0.0), partition_s=t.get("partition", 0.0))


def picture(prev_out, new_out, streets, water, png):
    """Before/after picture of one instance: the previous release and wangge with streets."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(16, 8.5))
    ref = gpd.read_file(new_out / "grids.geojson")
    x0, y0, x1, y1 = ref.to_crs(ref.estimate_utm_crs()).total_bounds  # the same window on both sides
    for ax, (title, out) in zip(axes, [("previous release (triangle fans, river included)", prev_out), ("wangge with --streets (major and minor roads)", new_out)]):
        g = gpd.read_file(out / "grids.geojson")
        crs = g.estimate_utm_crs()
        g = g.to_crs(crs)
        b = gpd.read_file(out / "buildings.geojson").to_crs(crs)
        if water:
            w = gpd.read_file(water).to_crs(crs)
            w[w.geom_type.isin(["Polygon", "MultiPolygon"])].plot(ax=ax, color="#cfe6ff", linewidth=0)
        g.plot(ax=ax, column=g["grid_id"].astype(int) % 12, cmap="Set3", edgecolor="#333", linewidth=0.9)
        gpd.read_file(streets).to_crs(crs).plot(ax=ax, color="#d62728", linewidth=0.4, alpha=0.7)
        b.plot(ax=ax, color="#555", linewidth=0)
        ax.set_xlim(x0 + 0.25 * (x1 - x0), x0 + 0.75 * (x1 - x0))
        ax.set_ylim(y0 + 0.3 * (y1 - y0), y0 + 0.8 * (y1 - y0))
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def fmt(x, pct=False, digits=2):
    if x is None:
        return "–"
    if pct:
        return f"{100 * x:.0f} %"
    return f"{x:.{digits}f}" if isinstance(x, float) else f"{x:,}"


def main():
    wangge, previous, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    skip_100k = "--skip-100k" in sys.argv
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, i in prepare(work, skip_100k).items():
        tag = name.split()[0].lower() + name.split()[-1].strip("()").lower()
        new, prev = work / f"{tag}_new", work / f"{tag}_prev"
        wall_new = run([wangge, "partition", *wangge_args(i, True), "-o", new, "--overwrite", "-q"])
        wall_prev = run([previous, "partition", *wangge_args(i, False), "-o", prev, "--overwrite", "-q"])
        layers = [("wangge, streets", new, wall_new), ("previous release", prev, wall_prev)]
        if name.startswith("Shanghai"):
            picture(prev, new, i["metric_streets"], i["water"], ROOT / "bench-results" / "shapes-shanghai.png")
        for label, out, wall in layers:
            m = metrics(out / "grids.geojson", i["metric_streets"], i["water"])
            f = summary_figures(out)
            rows.append(dict(instance=name, layer=label, wall_s=wall, **m, **f))
        if json.load(open(new / "summary.json"))["buildings"] > 30_000:
            continue  # momepy's tessellation of 100k buildings takes longer than the rest of the run
        try:
            mp = work / f"{tag}_momepy.geojson"
            secs = momepy_layer(i, new / "buildings.geojson", mp)
            m = metrics(mp, i["metric_streets"], i["water"])
            rows.append(dict(instance=name, layer="same labels over momepy's enclosed tessellation", wall_s=secs, **m))
        except ImportError:
            pass
    lines = [
        "| instance | layer | grids | median Polsby–Popper | spike < 10° | neck < 10 m | > half water | boundary on street | blocks split | mean walk (m) | grids in band | time (s) | tessellate share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = r["tessellate_s"] / r["total_s"] if r.get("total_s") else None
        blocks = f"{r['blocks_split']:,} of {r['blocks']:,}" if r.get("blocks") else "–"
        lines.append(
            f"| {r['instance']} | {r['layer']} | {r['grids']:,} | {r['pp_median']:.2f} | {fmt(r['spiky_share'], True)} | {fmt(r['neck_share'], True)} | "
            f"{fmt(r.get('water_share'), True)} | {fmt(r.get('on_street'), True)} | {blocks} | {fmt(r.get('mean_walk'), digits=1)} | "
            f"{fmt(r.get('grids_in_band'))} | {r['wall_s']:.1f} | {fmt(share, True)} |"
        )
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines.append("")
    lines.append(f"{datetime.date.today()}, commit {commit}, {os.cpu_count()} cores ({platform.machine()}); `scripts/bench-shapes.sh`. "
                 "Time: wall time of the run (momepy: its tessellation alone). Tessellate share: the tessellate stage's part of wangge's stage times.")
    out = ROOT / "bench-results" / "shapes.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    (ROOT / "bench-results" / "shapes.json").write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
