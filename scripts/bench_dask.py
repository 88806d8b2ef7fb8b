"""The Dask path measured: a synthetic city cut into communities along its streets, divided
(1) in one process, one nested run (``GridPartitioner(communities=...)``), (2) in one process,
community by community, and (3) community by community as Dask tasks on a LocalCluster of 2
workers (``wangge.dask.partition_communities``), in the same run; then a province of about 3,000
communities and 30M buildings projected from the per-community figures.

Usage: python scripts/bench_dask.py [BUILDINGS] [COMMUNITIES_PER_SIDE]   (default 100000 6)
Writes bench-results/dask.md and prints it.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import geopandas as gpd
from shapely.geometry import box

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def city(n):
    d = os.path.join(ROOT, "target", "bench-data", f"synth_{n}")
    if not os.path.exists(os.path.join(d, "buildings.geojson")):
        subprocess.run([os.path.join(ROOT, "target", "release", "examples", "synth_city"), "--buildings", str(n), "--seed", "1", "--out", d], check=True, stdout=subprocess.DEVNULL)
    read = lambda f: gpd.read_file(os.path.join(d, f))  # noqa: E731
    return read("buildings.geojson"), read("territory.geojson"), read("barriers.geojson"), read("streets.geojson")


def communities_along_streets(territory, streets, buildings, k):
    """k × k communities whose boundaries are street centre lines (as 社区 boundaries mostly are)."""
    x0, y0, x1, y1 = territory.total_bounds
    xs, ys = [], []
    for g in streets.geometry:
        (ax, ay), (bx, by) = g.coords[0], g.coords[-1]
        if abs(ax - bx) < 1e-6:
            xs.append(ax)
        elif abs(ay - by) < 1e-6:
            ys.append(ay)
    near = lambda vals, t: min(vals, key=lambda v: abs(v - t))  # noqa: E731
    cx = [x0 - 1] + [near(xs, x0 + (x1 - x0) * i / k) for i in range(1, k)] + [x1 + 1]
    cy = [y0 - 1] + [near(ys, y0 + (y1 - y0) * j / k) for j in range(1, k)] + [y1 + 1]
    rows = [(f"3101040{i * k + j + 1:02d}", box(cx[i], cy[j], cx[i + 1], cy[j + 1])) for i in range(k) for j in range(k)]
    return gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=buildings.crs)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    import wangge
    from distributed import Client, LocalCluster
    from wangge.dask import partition_communities

    buildings, territory, barriers, streets = city(n)
    comm = communities_along_streets(territory, streets, buildings, k)
    rows = []
    t = time.perf_counter()
    one = wangge.GridPartitioner().fit(buildings, territory=territory, barriers=barriers, communities=comm)
    rows.append(("one process, one nested run (GridPartitioner(communities=...))", time.perf_counter() - t, len(one.grids_), one.summary_["objective"]["mean_walk_m"]))

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        t = time.perf_counter()
        labels, grids, table1 = partition_communities(buildings, client, communities=comm, territory=territory, barriers=barriers)
        walk = (grids["mean_walk_m"] * grids["households"]).sum() / grids["households"].sum()
        rows.append(("Dask, 1 worker × 2 threads, a task per community", time.perf_counter() - t, len(grids), walk))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        t = time.perf_counter()
        labels, grids, table = partition_communities(buildings, client, communities=comm, territory=territory, barriers=barriers)
        walk = (grids["mean_walk_m"] * grids["households"]).sum() / grids["households"].sum()
        rows.append(("Dask LocalCluster, 2 workers × 1 thread, a task per community", time.perf_counter() - t, len(grids), walk))

    per = table["seconds"].tolist()
    per_building = sum(per) / len(buildings)
    province_buildings, province_communities = 30_000_000, 3_000
    cpu_seconds = per_building * province_buildings
    lines = [
        f"Synthetic city of {len(buildings):,} buildings in {len(comm)} communities (boundaries on streets), default settings; same run.",
        "",
        "| how | wall time (s) | grids | mean walk (m) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r[0]} | {r[1]:.1f} | {r[2]:,} | {r[3]:.1f} |" for r in rows]
    lines += [
        "",
        f"Per community (task time on a worker, {len(per)} communities of {len(buildings) // len(per):,} buildings on average): "
        f"median {statistics.median(per):.2f} s, max {max(per):.2f} s; {per_building * 1e6:.0f} µs of worker time per building.",
        "",
        f"Projected province ({province_communities:,} communities, {province_buildings / 1e6:.0f}M buildings) at that rate: "
        f"{cpu_seconds / 3600:.1f} worker-core hours; {cpu_seconds / 2 / 60:.0f} min on this 2-core machine, "
        f"{cpu_seconds / 64 / 60:.1f} min on a Dask cluster of 64 worker cores (communities are independent tasks, "
        f"so the time falls with the cores until the largest community, {max(per):.1f} s here, is the critical path).",
        "",
        f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d', time.gmtime())}, commit "
        + subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        + f"; `python scripts/bench_dask.py {n} {k}`",
    ]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench-results", "dask.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
