#!/usr/bin/env python3
"""Benchmark wangge against its peers from PyPI on the same instances, in the same run.

Every method gets the same buildings (one point per building: the footprint centroid), the same
household bounds (300-500) and, where it takes one, the same number of grids k (the number
wangge chose on that instance). Every result is scored by ONE function, `evaluate`, from the
building -> grid labels alone: wangge's own figures are not trusted, they are recomputed.

Peers (each in a child process with a time limit, so a hang becomes "timeout"):
  spopt MaxPHeuristic / AZP / Skater, gerrychain recursive_tree_part, METIS (pymetis, plain and
  with its contiguity option), KaHIP kaffpa, and a capacitated p-median MILP solved by HiGHS.

Usage: bench_peers.py [--data-dir target/bench-data] [--out bench-results] [--large] ...
(scripts/bench-peers.sh sets everything up and runs this.)
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
from importlib import metadata
import json
import multiprocessing as mp
import os
import platform
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, cKDTree
from scipy.spatial.distance import cdist

LO, HI = 300, 500          # household bounds of a grid
DETOUR = 1.3               # walk = straight line x this (wangge's default detour factor)
MAX_EDGE_M = 500.0         # adjacency: Delaunay edges longer than this are dropped
PMEDIAN_CANDIDATES = 30    # p-median MILP above 200 buildings: only the 30 nearest centres
PMEDIAN_FULL_UP_TO = 200   # up to this size every building is a candidate centre of every other
SEED = 0

# Instances larger than these are skipped for the method ("skipped (size)").
SIZE_LIMITS = {
    "spopt MaxP": 2000, "spopt AZP": 2000, "spopt Skater": 300,
    "gerrychain": 1500, "HiGHS p-median": 600, "wangge --exact": 200,
}
# Methods run only on these groups (the large group is for the scalable ones).
LARGE_METHODS = {"wangge", "METIS", "METIS contig", "KaHIP"}
PEER_MODULES = ["numpy", "scipy", "shapely", "geopandas", "networkx", "libpysal", "spopt",
                "gerrychain", "pymetis", "kahip", "highspy"]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------------

@dataclass
class Instance:
    """One benchmark instance: the file every method reads, and its points in metres."""
    name: str
    group: str
    path: Path
    xy: np.ndarray            # (n, 2) centroid coordinates, metres
    h: np.ndarray             # (n,) households (int)
    keys: np.ndarray          # (n,) feature key used to join wangge's output back
    crs: str
    note: str = ""

    @property
    def n(self) -> int:
        return len(self.h)


def read_buildings(path: Path) -> gpd.GeoDataFrame:
    """Read a buildings file; project lon/lat to the local UTM zone so distances are metres."""
    gdf = gpd.read_file(path)
    if gdf.crs is None or gdf.crs.is_geographic:
        gdf = gdf.set_crs(gdf.crs or "OGC:CRS84", allow_override=True)
        gdf = gdf.to_crs(gdf.estimate_utm_crs())
    return gdf


def load_instance(name: str, group: str, path: Path, note: str = "") -> Instance:
    gdf = read_buildings(path)
    cent = gdf.geometry.centroid
    keys = gdf["bid"].to_numpy() if "bid" in gdf and gdf["bid"].is_unique else np.arange(len(gdf))
    return Instance(name, group, path, np.column_stack([cent.x, cent.y]),
                    gdf["households"].fillna(0).round().astype(np.int64).to_numpy(), keys,
                    gdf.crs.to_string(), note)


def write_subset(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a subset as GeoJSON (GDAL keeps the legacy `crs` member for EPSG:4547)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    gdf.to_file(path, driver="GeoJSON")


def window_counts(xy, h, x0, y0, w, hgt):
    """Buildings and households of every window (x0[i], y0[i], w[i], hgt[i]) by centroid."""
    inside = ((xy[None, :, 0] >= x0[:, None]) & (xy[None, :, 0] < (x0 + w)[:, None]) &
              (xy[None, :, 1] >= y0[:, None]) & (xy[None, :, 1] < (y0 + hgt)[:, None]))
    return inside.sum(1), inside @ h, (inside & (h > HI)[None, :]).any(1)


def candidate_windows(xy, h, step=50.0, sizes=(200, 250, 300, 350, 400, 500, 600)):
    """All rectangles on a `step` lattice with the given side lengths, with their counts."""
    xs = np.arange(xy[:, 0].min(), xy[:, 0].max(), step)
    ys = np.arange(xy[:, 1].min(), xy[:, 1].max(), step)
    gx, gy, gw, gh = (a.ravel() for a in np.meshgrid(xs, ys, sizes, sizes, indexing="ij"))
    n, hh, oversize = window_counts(xy, h, gx, gy, gw, gh)
    return gx, gy, gw, gh, n, hh, oversize


def pick_windows(xy, h, targets):
    """Greedy, deterministic choice of disjoint windows close to each (buildings, grids) target.

    A window qualifies with 60-150 buildings, households for 3-8 grids of 400 (feasible for
    300-500) and no building above the 500 maximum.
    """
    gx, gy, gw, gh, n, hh, oversize = candidate_windows(xy, h)
    ok = (n >= 60) & (n <= 150) & ~oversize & (hh >= 3 * 400) & (hh <= 8 * 400)
    taken = np.zeros(len(xy), bool)
    chosen = []
    for nt, kt in targets:
        score = np.abs(n - nt) + 20 * np.abs(hh / 400 - kt) + np.where(ok, 0, np.inf)
        for i in np.argsort(score, kind="stable"):
            if not np.isfinite(score[i]):
                raise RuntimeError("no window fits the targets")
            m = ((xy[:, 0] >= gx[i]) & (xy[:, 0] < gx[i] + gw[i]) &
                 (xy[:, 1] >= gy[i]) & (xy[:, 1] < gy[i] + gh[i]))
            if not (m & taken).any():
                taken |= m
                chosen.append((m, (gx[i], gy[i], gw[i], gh[i])))
                break
    return chosen


def make_windows(src: Path, out_dir: Path) -> list[Path]:
    """Cut 4 small windows (60-150 buildings, 3-8 grids) out of a synthetic city."""
    gdf = gpd.read_file(src)
    cent = gdf.geometry.centroid
    xy = np.column_stack([cent.x, cent.y])
    h = gdf["households"].to_numpy()
    targets = [(60, 3), (90, 4.5), (120, 6), (150, 8)]
    paths = []
    for i, (mask, box) in enumerate(pick_windows(xy, h, targets), start=1):
        p = out_dir / f"window{i}.geojson"
        write_subset(gdf[mask].reset_index(drop=True), p)
        log(f"window {i}: {mask.sum()} buildings, {h[mask].sum()} households, box {box}")
        paths.append(p)
    return paths


def make_square_subset(src: Path, out: Path, count: int) -> Path:
    """The `count` buildings nearest (Chebyshev) to the median centroid: a square window."""
    gdf = gpd.read_file(src)
    cent = gdf.geometry.centroid
    xy = np.column_stack([cent.x, cent.y])
    cheb = np.abs(xy - np.median(xy, axis=0)).max(axis=1)
    keep = np.sort(np.argsort(cheb, kind="stable")[:count])
    write_subset(gdf.iloc[keep].reset_index(drop=True), out)
    return out


def build_instances(args) -> list[Instance]:
    data, peers = Path(args.data_dir), Path(args.data_dir) / "peers"
    synth1k = data / "synth_1000" / "buildings.geojson"
    repo = Path(__file__).resolve().parent.parent
    s10k = repo / "data" / "synth_10k" / "buildings.geojson"
    insts = []
    windows = sorted((peers / "windows").glob("window*.geojson"))
    if args.regenerate or len(windows) != 4:
        windows = make_windows(synth1k, peers / "windows")
    for p in windows:
        insts.append(load_instance(p.stem, "small", p, "cut from synth_city 1,000 seed 1"))
    subs = {c: peers / f"synth_10k_sq{c}.geojson" for c in (500, 2000)}
    for count, path in subs.items():
        if args.regenerate or not path.exists():
            make_square_subset(s10k, path, count)
    insts += [
        load_instance("synth_1000", "medium", synth1k, "synth_city 1,000 buildings, seed 1"),
        load_instance("shanghai_bund", "medium", repo / "data/shanghai_bund/buildings.geojson",
                      "real OSM footprints, lon/lat -> UTM 51N"),
        load_instance("synth_10k_sq500", "medium", subs[500], "central square of data/synth_10k"),
        load_instance("synth_10k_sq2000", "medium", subs[2000], "central square of data/synth_10k"),
        load_instance("synth_10k", "medium", s10k, "data/synth_10k (shipped)"),
    ]
    if args.large:
        p = data / "synth_100000" / "buildings.geojson"
        insts.append(load_instance("synth_100000", "large", p, "synth_city 100,000, seed 1"))
    if args.only:
        insts = [i for i in insts if i.name in args.only.split(",")]
    return insts


# --------------------------------------------------------------------------------------------
# Shared adjacency: Delaunay triangulation of the centroids, edges longer than 500 m dropped
# --------------------------------------------------------------------------------------------

def delaunay_edges(xy: np.ndarray, max_len: float = MAX_EDGE_M) -> np.ndarray:
    """Undirected edges (i < j) of the Delaunay triangulation no longer than max_len.

    Points that coincide with another (left out by Qhull) are joined to their nearest vertex.
    """
    tri = Delaunay(xy - xy.mean(axis=0))
    s = tri.simplices
    e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    if len(tri.coplanar):
        e = np.vstack([e, tri.coplanar[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1)
    return e[length <= max_len]


def csr_adjacency(n: int, edges: np.ndarray):
    """Symmetric CSR arrays (xadj, adjncy) of the edges, sorted by vertex."""
    both = np.vstack([edges, edges[:, ::-1]])
    m = coo_matrix((np.ones(len(both), np.int8), (both[:, 0], both[:, 1])), shape=(n, n)).tocsr()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int64)


def components(n: int, edges: np.ndarray) -> int:
    m = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(m, directed=False)[0]


# --------------------------------------------------------------------------------------------
# The one scoring function
# --------------------------------------------------------------------------------------------

def weighted_medoid_cost(pts: np.ndarray, w: np.ndarray, chunk: int = 1024) -> float:
    """min over members i of sum_j w_j * |p_i - p_j| (the household-weighted medoid's cost)."""
    best = np.inf
    for s in range(0, len(pts), chunk):
        best = min(best, float((cdist(pts[s:s + chunk], pts) @ w).min()))
    return best


def pieces_per_grid(labels: np.ndarray, inv: np.ndarray, edges: np.ndarray, n_grids: int):
    """Number of connected pieces of every grid in the shared adjacency graph."""
    n = len(labels)
    e = edges[(labels[edges[:, 0]] == labels[edges[:, 1]]) & (labels[edges[:, 0]] >= 0)]
    comp = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)),
                                directed=False)[1]
    assigned = labels >= 0
    pairs = np.unique(np.column_stack([inv, comp[assigned]]), axis=0)
    return np.bincount(pairs[:, 0], minlength=n_grids)


def evaluate(labels, xy: np.ndarray, h: np.ndarray, edges: np.ndarray) -> dict:
    """Score a partition from its labels (label < 0 = building left out of every grid)."""
    labels = np.asarray(labels, dtype=np.int64)
    assigned = labels >= 0
    grids, inv = np.unique(labels[assigned], return_inverse=True)
    g = len(grids)
    hh = np.bincount(inv, weights=h[assigned], minlength=g)
    pieces = pieces_per_grid(labels, inv, edges, g)
    idx = np.flatnonzero(assigned)
    order = np.argsort(inv, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(inv, minlength=g))]
    total = 0.0
    for a, b in zip(starts[:-1], starts[1:]):
        members = idx[order[a:b]]
        total += weighted_medoid_cost(xy[members], h[members].astype(float))
    objective = DETOUR * total
    hh_in = float(h[assigned].sum())
    band = (hh >= LO) & (hh <= HI)
    forced = np.bincount(inv, weights=(h[assigned] > HI), minlength=g) > 0  # holds a >500 building
    return {
        "grids": int(g),
        "in_band": float(band.mean()) if g else 0.0,
        "forced_out": int(forced.sum()),
        "in_band_unforced": float(band[~forced].mean()) if (~forced).any() else 0.0,
        "connected": float((pieces == 1).mean()) if g else 0.0,
        "hh_min": float(hh.min()) if g else 0.0,
        "hh_max": float(hh.max()) if g else 0.0,
        "unassigned_buildings": int((~assigned).sum()),
        "objective": objective,
        "mean_walk_m": objective / hh_in if hh_in else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# Peers. Each takes a Problem, builds its own input (prep, not timed) and times its solve call.
# --------------------------------------------------------------------------------------------

@dataclass
class Problem:
    xy: np.ndarray
    h: np.ndarray
    edges: np.ndarray
    k: int
    milp_time_limit: float = 120.0

    @property
    def n(self) -> int:
        return len(self.h)


def timed(fn, *a, **kw):
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def neighbours(p: Problem) -> dict[int, list[int]]:
    nb = {i: [] for i in range(p.n)}
    for a, b in p.edges.tolist():
        nb[a].append(b)
        nb[b].append(a)
    return nb


def spopt_inputs(p: Problem):
    """GeoDataFrame (attributes x, y, households; point geometry) and a binary libpysal W."""
    from libpysal.weights import W
    gdf = gpd.GeoDataFrame({"x": p.xy[:, 0], "y": p.xy[:, 1], "households": p.h},
                           geometry=gpd.points_from_xy(p.xy[:, 0], p.xy[:, 1]))
    return gdf, W(neighbours(p), silence_warnings=True)


def run_maxp(p: Problem):
    from spopt.region import MaxPHeuristic
    gdf, w = spopt_inputs(p)
    np.random.seed(SEED)  # MaxP draws from numpy's global generator
    model = MaxPHeuristic(gdf, w, ["x", "y"], "households", LO, top_n=2)
    _, secs = timed(model.solve)
    return np.asarray(model.labels_), secs, {"p": int(getattr(model, "p", -1))}


def run_azp(p: Problem):
    from spopt.region import AZP
    gdf, w = spopt_inputs(p)
    model = AZP(gdf, w, ["x", "y"], n_clusters=p.k, random_state=SEED)
    _, secs = timed(model.solve)
    return np.asarray(model.labels_), secs, {}


def run_skater(p: Problem):
    from spopt.region import Skater
    gdf, w = spopt_inputs(p)
    floor = max(1, int(0.5 * p.n / p.k))  # Skater's floor counts buildings, not households
    model = Skater(gdf, w, ["x", "y"], n_clusters=p.k, floor=floor, islands="increase")
    np.random.seed(SEED)
    _, secs = timed(model.solve)
    return np.asarray(model.labels_), secs, {"floor_buildings": floor}


def run_gerrychain(p: Problem):
    import networkx as nx
    from gerrychain.graph import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    target = p.h.sum() / p.k
    eps = 0.25  # +-25% of the mean grid (about 400): about 300-500
    if (p.h > (1 + eps) * target).any():
        raise ValueError(f"not applicable: {(p.h > (1 + eps) * target).sum()} buildings above "
                         f"{(1 + eps) * target:.0f} households, no balanced cut can exist")
    g = nx.Graph()
    g.add_nodes_from((i, {"households": int(v)}) for i, v in enumerate(p.h))
    g.add_edges_from(p.edges.tolist())
    graph = Graph.from_networkx(g)
    assign, secs = timed(recursive_tree_part, graph, range(p.k), target, "households", eps,
                         rng=SEED)
    return np.array([assign[i] for i in range(p.n)]), secs, {"epsilon": eps}


def run_metis(p: Problem, contiguous: bool):
    import pymetis
    xadj, adjncy = csr_adjacency(p.n, p.edges)
    # ufactor 250: heaviest part <= 1.25 x the mean part, i.e. about 500 for a mean of 400
    opts = pymetis.Options(ufactor=250, seed=SEED, contig=int(contiguous))
    try:
        res, secs = timed(pymetis.part_graph, p.k, pymetis.CSRAdjacency(xadj, adjncy),
                          vweights=p.h.tolist(), options=opts)
    except RuntimeError as e:
        ncomp = components(p.n, p.edges)
        if contiguous and ncomp > 1:
            raise RuntimeError(f"METIS refuses a contiguous partition of a graph in {ncomp} "
                               f"pieces ({e})") from e
        raise
    return np.asarray(res.vertex_part), secs, {"edge_cuts": int(res.edge_cuts), "ufactor": 250}


def run_kahip(p: Problem):
    import kahip
    xadj, adjncy = csr_adjacency(p.n, p.edges)
    mode_eco = 1  # FAST=0, ECO=1, STRONG=2
    (cut, blocks), secs = timed(kahip.kaffpa, p.h.tolist(), xadj.tolist(), [1] * len(adjncy),
                                adjncy.tolist(), p.k, 0.25, True, SEED, mode_eco)
    return np.asarray(blocks), secs, {"edge_cut": int(cut), "mode": "ECO", "imbalance": 0.25}


def pmedian_model(p: Problem):
    """Capacitated p-median MILP as a HighsLp: y_j (centre j open), x_ij (i joins centre j).

    Up to PMEDIAN_FULL_UP_TO buildings every pair (i, j) exists, so the optimum bounds wangge's
    contiguous optimum from below; above, x_ij exists only for the PMEDIAN_CANDIDATES nearest j.
    Rows: every building joins one centre; x_ij <= y_j; sum y = k; sum_i h_i x_ij <= 500 y_j;
    sum_i h_i x_ij >= 300 y_j. Objective: sum h_i * 1.3 * d_ij * x_ij. No contiguity.
    """
    import highspy
    n = p.n
    q = n if n <= PMEDIAN_FULL_UP_TO else min(PMEDIAN_CANDIDATES, n)
    dist, cand = cKDTree(p.xy).query(p.xy, k=q)
    ii, jj = np.repeat(np.arange(n), q), cand.ravel()
    npair, hx = len(ii), p.h[ii].astype(float)
    y, x = np.arange(n), n + np.arange(npair)             # column indices
    r_link, r_k = n + np.arange(npair), n + npair          # row indices (assignment rows: 0..n-1)
    r_hi, r_lo = r_k + 1 + np.arange(n), r_k + 1 + n + np.arange(n)
    one, ones = np.ones(n), np.ones(npair)
    entries = [  # (rows, cols, values)
        (ii, x, ones),                      # sum_j x_ij = 1
        (r_link, x, ones), (r_link, jj, -ones),   # x_ij - y_j <= 0
        (np.full(n, r_k), y, one),          # sum_j y_j = k
        (r_hi[jj], x, hx), (r_hi, y, -HI * one),  # sum_i h_i x_ij - 500 y_j <= 0
        (r_lo[jj], x, hx), (r_lo, y, -LO * one),  # sum_i h_i x_ij - 300 y_j >= 0
    ]
    rows, cols, vals = (np.concatenate(z) for z in zip(*entries))
    a = coo_matrix((vals, (rows, cols)), shape=(r_lo[-1] + 1, n + npair)).tocsc()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_ = np.r_[np.zeros(n), DETOUR * hx * dist.ravel()]
    lp.col_lower_, lp.col_upper_ = np.zeros(a.shape[1]), np.ones(a.shape[1])
    lp.row_lower_ = np.r_[one, np.full(npair, -inf), p.k, np.full(n, -inf), np.zeros(n)]
    lp.row_upper_ = np.r_[one, np.zeros(npair), p.k, np.zeros(n), np.full(n, inf)]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
    lp.integrality_ = [highspy.HighsVarType.kInteger] * a.shape[1]
    return lp, ii, jj


def run_pmedian(p: Problem):
    import highspy
    lp, ii, jj = pmedian_model(p)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(p.milp_time_limit))
    h.setOptionValue("random_seed", SEED)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    _, secs = timed(h.run)
    info, status = h.getInfo(), h.modelStatusToString(h.getModelStatus())
    if info.primal_solution_status < 2:  # no feasible solution found
        raise RuntimeError(f"no feasible solution ({status})")
    x = np.asarray(h.getSolution().col_value)[p.n:]
    chosen = x > 0.5
    labels = np.full(p.n, -1)
    labels[ii[chosen]] = jj[chosen]
    return labels, secs, {"status": status, "milp_objective": info.objective_function_value,
                          "mip_gap": info.mip_gap, "dual_bound": info.mip_dual_bound,
                          "candidates": int(len(ii) // p.n)}


PEERS = {
    "spopt MaxP": run_maxp,
    "spopt AZP": run_azp,
    "spopt Skater": run_skater,
    "gerrychain": run_gerrychain,
    "METIS": lambda p: run_metis(p, contiguous=False),
    "METIS contig": lambda p: run_metis(p, contiguous=True),
    "KaHIP": run_kahip,
    "HiGHS p-median": run_pmedian,
}
FAST = {"wangge", "METIS", "METIS contig", "KaHIP"}  # repeated; the median time is reported
REPEAT_UNDER_S = 30.0


def _child(conn, fn, problem, log_path):
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)  # the libraries' own chatter (C and Python) goes to a file, not the report
    os.dup2(fd, 2)
    try:
        labels, secs, info = fn(problem)
        conn.send(("ok", np.asarray(labels, dtype=np.int64), secs, info))
    except Exception as e:  # a peer's failure is a result, not a crash of the benchmark
        conn.send(("failed", None, None, {"error": f"{type(e).__name__}: {e}"[:300],
                                          "trace": traceback.format_exc()[-1500:]}))
    finally:
        conn.close()


def run_peer(fn, problem: Problem, timeout: float) -> dict:
    """Run fn(problem) in a forked child; 'timeout' if it has not answered in time."""
    with tempfile.NamedTemporaryFile(suffix=".log", delete=False) as f:
        log_path = f.name
    try:
        res = _run_child(fn, problem, timeout, log_path)
        chatter = Path(log_path).read_text(errors="replace").strip()
    finally:
        os.unlink(log_path)
    if chatter:
        res.setdefault("info", {})["output_tail"] = chatter[-400:]
    return res


def _run_child(fn, problem: Problem, timeout: float, log_path: str) -> dict:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, problem, log_path), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            proc.kill()
            proc.join()
            return {"status": "timeout", "info": {"timeout_s": timeout}}
        status, labels, secs, info = parent.recv()
    except EOFError:
        proc.join()
        return {"status": "crashed", "info": {"exitcode": proc.exitcode}}
    proc.join()
    info["elapsed_with_prep_s"] = time.perf_counter() - t0
    return {"status": status, "labels": labels, "time_s": secs, "info": info}


# --------------------------------------------------------------------------------------------
# wangge (the CLI, timed whole: reading GeoJSON, partitioning, tessellating, writing)
# --------------------------------------------------------------------------------------------

def wangge_labels(out_dir: Path, inst: Instance) -> np.ndarray:
    """Grid of every input building, joined on the instance's key (bid or row number)."""
    df = pyogrio.read_dataframe(out_dir / "buildings.geojson", read_geometry=False)
    keys = df["bid"].to_numpy() if "bid" in df and df["bid"].is_unique else np.arange(len(df))
    gid = df["grid_id"].astype("float").fillna(-1).astype(np.int64).to_numpy()
    lookup = dict(zip(keys.tolist(), gid.tolist()))
    return np.array([lookup.get(k, -1) for k in inst.keys.tolist()], dtype=np.int64)


def freeze_binary(binary: Path, data_dir: Path) -> tuple[Path, str]:
    """Copy the wangge binary for this run (it may be rebuilt meanwhile); return it and its hash."""
    frozen = data_dir / "peers" / "bin" / "wangge"
    frozen.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, frozen)
    return frozen, hashlib.sha256(frozen.read_bytes()).hexdigest()[:12]


def run_wangge(binary: Path, inst: Instance, out_dir: Path, extra: list[str],
               timeout: float) -> dict:
    cmd = [str(binary), "partition", str(inst.path), "-o", str(out_dir), "--overwrite", "-q",
           "--min-households", str(LO), "--max-households", str(HI), "--seed", str(SEED)] + extra
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "info": {"timeout_s": timeout, "cmd": cmd[1:]}}
    secs = time.perf_counter() - t0
    if proc.returncode not in (0, 4):
        return {"status": "failed", "info": {"exit": proc.returncode, "cmd": cmd[1:],
                                             "error": proc.stderr[-500:]}}
    s = json.loads((out_dir / "summary.json").read_text())
    info = {"exit": proc.returncode, "cmd": cmd[1:], "reported": {
        "grids": s.get("grids"), "status": s.get("status"), "objective": s["objective"],
        "solution": {k: v for k, v in s.get("solution", {}).items()
                     if isinstance(v, (int, float, str, type(None)))},
        "timings_s": s.get("timings_s")}}
    return {"status": "ok", "labels": wangge_labels(out_dir, inst), "time_s": secs, "info": info}


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

@dataclass
class Bench:
    args: argparse.Namespace
    binary: Path = Path()                                  # the frozen wangge binary
    results: list[dict] = field(default_factory=list)     # one row per (instance, method)
    graphs: dict = field(default_factory=dict)            # adjacency figures per instance

    def repeated(self, method: str, once) -> dict:
        """Run `once` (repeats times for fast methods); keep the first labels, median time.

        A run longer than REPEAT_UNDER_S is not repeated (it is less sensitive to noise)."""
        reps = self.args.repeats if method in FAST else 1
        runs = [once()]
        while (len(runs) < reps and runs[0]["status"] == "ok"
               and runs[0]["time_s"] < REPEAT_UNDER_S):
            runs.append(once())
        res = runs[0]
        if res["status"] == "ok":
            times = [r["time_s"] for r in runs if r["status"] == "ok"]
            res["time_s"], res["times_s"] = statistics.median(times), times
        return res

    def record(self, inst: Instance, method: str, res: dict, edges: np.ndarray, k: int) -> dict:
        row = {"instance": inst.name, "group": inst.group, "method": method, "k": k,
               "buildings": inst.n, "households": int(inst.h.sum()), "status": res["status"],
               "time_s": res.get("time_s"), "times_s": res.get("times_s"),
               "info": res.get("info", {})}
        if res["status"] == "ok":
            row["metrics"] = evaluate(res["labels"], inst.xy, inst.h, edges)
        self.results.append(row)
        m = row.get("metrics", {})
        log(f"{inst.name:18s} {method:16s} {res['status']:8s} "
            f"t={row['time_s'] or 0:.2f}s grids={m.get('grids')} walk={m.get('mean_walk_m')}")
        return row

    def skip(self, inst: Instance, method: str, why: str, k: int) -> None:
        self.results.append({"instance": inst.name, "group": inst.group, "method": method,
                             "k": k, "buildings": inst.n, "households": int(inst.h.sum()),
                             "status": why})

    def wangge(self, inst: Instance, method: str, extra: list[str], edges: np.ndarray,
               k: int = -1) -> dict:
        tag = method.replace("wangge", "").replace("-", "").strip().replace(" ", "_")
        out = Path(self.args.data_dir) / "peers" / "out" / (inst.name + (f"_{tag}" if tag else ""))
        res = self.repeated(method, lambda: run_wangge(self.binary, inst, out, extra,
                                                       self.args.timeout))
        return self.record(inst, method, res, edges, k)

    def run_instance(self, inst: Instance) -> None:
        edges = delaunay_edges(inst.xy)
        ncomp = components(inst.n, edges)
        log(f"instance {inst.name}: {inst.n} buildings, {inst.h.sum()} households, "
            f"{len(edges)} edges, {ncomp} components")
        self.graphs[inst.name] = {"edges": int(len(edges)), "components": int(ncomp),
                                  "oversize": int((inst.h > HI).sum())}
        w = self.wangge(inst, "wangge", [], edges)
        k = w["metrics"]["grids"] if "metrics" in w else max(1, round(inst.h.sum() / 400))
        w["k"] = k
        if inst.n <= SIZE_LIMITS["wangge --exact"] and self.wanted("wangge --exact"):
            self.wangge(inst, "wangge --exact",
                        ["--exact", "--time-limit", str(self.args.milp_time_limit)], edges, k)
        problem = Problem(inst.xy, inst.h, edges, k, self.args.milp_time_limit)
        for method, fn in PEERS.items():
            if not self.wanted(method) or (inst.group == "large" and method not in LARGE_METHODS):
                continue
            if inst.n > SIZE_LIMITS.get(method, 10**9):
                self.skip(inst, method, "skipped (size)", k)
                continue
            res = self.repeated(method, lambda: run_peer(fn, problem, self.args.timeout))
            self.record(inst, method, res, edges, k)

    def wanted(self, method: str) -> bool:
        return not self.args.methods or method in self.args.methods.split(",")

    def run(self, instances: list[Instance]) -> None:
        for inst in instances:
            self.run_instance(inst)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in PEER_MODULES:
        try:
            out[mod] = metadata.version(mod)
        except Exception:
            try:
                out[mod] = getattr(importlib.import_module(mod), "__version__", "?")
            except Exception as e:
                out[mod] = f"not importable: {type(e).__name__}"
    return out


def machine(binary: str) -> dict:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().split("\n")
                if l.startswith("model name")), "?")
    wv = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    built = dt.datetime.fromtimestamp(Path(binary).stat().st_mtime, dt.timezone.utc)
    return {"nproc": os.cpu_count(), "wangge_built_utc": built.strftime("%Y-%m-%d %H:%M"),
            "ram_gib": round(int(mem) / 2**20, 1), "cpu": cpu,
            "loadavg_start": os.getloadavg(), "date_utc": dt.datetime.now(dt.timezone.utc)
            .strftime("%Y-%m-%d %H:%M"), "wangge": wv, "git": git}


def fmt(v, spec=".2f", none="–"):
    return none if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def band_cell(m: dict) -> str:
    """Share of grids in 300-500; with oversize buildings, also the share of the other grids."""
    if not m["forced_out"]:
        return f"{m['in_band']:.0%}"
    return f"{m['in_band']:.0%} ({m['in_band_unforced']:.0%})"


def method_row(r: dict, base: dict | None) -> str:
    m = r.get("metrics")
    if not m:
        info = r.get("info", {})
        why = info.get("error") or (f"> {info['timeout_s']:.0f} s" if "timeout_s" in info else "")
        return f"| {r['method']} | {r['status']} | | | | | | | | | {why[:110]} |"
    bm = (base or {}).get("metrics") or {}
    is_base = r["method"] == "wangge"
    t_ratio = None if is_base else ratio(r["time_s"], (base or {}).get("time_s"))
    w_ratio = None if is_base else ratio(m["mean_walk_m"], bm.get("mean_walk_m"))
    grids = f"{m['grids']}" + ("" if m["grids"] == r.get("k") or r.get("k") in (None, -1)
                               else " ≠k")
    return (f"| {r['method']} | ok | {fmt(r['time_s'], '.3g')} | {grids} | {band_cell(m)} | "
            f"{m['connected']:.0%} | {m['hh_min']:.0f}–{m['hh_max']:.0f} | "
            f"{m['mean_walk_m']:.1f} | {fmt(t_ratio, '.3g')} | {fmt(w_ratio, '.3f')} | "
            f"{row_note(r)} |")


def row_note(r: dict) -> str:
    info, m = r.get("info", {}), r.get("metrics", {})
    notes = []
    if m.get("unassigned_buildings"):
        notes.append(f"{m['unassigned_buildings']} buildings unassigned")
    rep = info.get("reported")
    if rep:
        t = rep.get("timings_s") or {}
        sol = rep.get("solution", {})
        notes.append(f"partition stage {fmt(t.get('partition'), '.2f')} s; own walk "
                     f"{rep['objective'].get('mean_walk_m', 0):.1f} m, "
                     f"gap {fmt(sol.get('gap'), '.1%')}")
    if "mip_gap" in info:
        notes.append(f"{info['status']}, MIP gap {info['mip_gap']:.1%}, "
                     f"{info['candidates']} candidate centres per building")
    if "floor_buildings" in info:
        notes.append(f"floor {info['floor_buildings']} buildings")
    if "p" in info:
        notes.append("no k: p chosen by MaxP")
    if r.get("times_s") and len(r["times_s"]) > 1:
        notes.append("runs " + "/".join(f"{t:.3g}" for t in r["times_s"]))
    return "; ".join(notes)


TABLE_HEAD = ("| method | status | time (s) | grids | in 300–500 | connected | households min–max "
              "| mean walk (m) | time / wangge | walk / wangge | notes |\n"
              "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")


def instance_heading(name: str, rows: list[dict], base: dict | None, g: dict) -> str:
    over = g.get("oversize", 0)
    extra = (f"; {over} buildings above {HI} households, so a grid holding one cannot be in "
             f"band (in parentheses: share in band of the other grids)") if over else ""
    return (f"### {name}: {rows[0]['buildings']:,} buildings, {rows[0]['households']:,} "
            f"households, k = {base['k'] if base else '?'}; adjacency {g.get('edges'):,} edges, "
            f"{g.get('components')} component(s){extra}")


def instance_tables(results: list[dict], graphs: dict, group: str) -> list[str]:
    lines = []
    for name in dict.fromkeys(r["instance"] for r in results if r["group"] == group):
        rows = [r for r in results if r["instance"] == name]
        base = next((r for r in rows if r["method"] == "wangge"), None)
        lines += [instance_heading(name, rows, base, graphs.get(name, {})), "", TABLE_HEAD]
        lines += [method_row(r, base) for r in rows] + [""]
    return lines


def ratio_cell(r: dict | None, base: dict | None) -> str:
    """'walk ratio / time ratio' against wangge, or the status of a run that gave no plan."""
    if r is None:
        return ""
    if "metrics" not in r or not base or "metrics" not in base:
        return r["status"].replace("skipped (size)", "skipped")
    w = ratio(r["metrics"]["mean_walk_m"], base["metrics"]["mean_walk_m"])
    t = ratio(r["time_s"], base["time_s"])
    return f"{w:.2f} / {t:.3g} · {r['metrics']['in_band']:.0%}"


def group_summary(results: list[dict], group: str) -> list[str]:
    """One row per method, one column per instance: walk / wangge, time / wangge, in band."""
    names = list(dict.fromkeys(r["instance"] for r in results if r["group"] == group))
    methods = list(dict.fromkeys(r["method"] for r in results if r["group"] == group))
    cell = {(r["instance"], r["method"]): r for r in results if r["group"] == group}
    lines = ["| method | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for meth in methods:
        cells = [ratio_cell(cell.get((n, meth)), cell.get((n, "wangge"))) for n in names]
        if meth == "wangge":
            cells = [(f"{cell[(n, meth)]['metrics']['mean_walk_m']:.1f} m, "
                      f"{cell[(n, meth)]['time_s']:.3g} s · "
                      f"{cell[(n, meth)]['metrics']['in_band']:.0%}")
                     if "metrics" in cell.get((n, meth), {}) else "" for n in names]
        lines.append(f"| {meth} | " + " | ".join(cells) + " |")
    return lines + [""]


def small_summary(results: list[dict]) -> list[str]:
    """Optimality table of the small windows: heuristic vs exact vs p-median MILP."""
    lines = ["| window | buildings | k | wangge | wangge --exact (optimum) | heuristic / optimum | "
             "wangge's lower bound (own) | wangge's gap (own) | exact time (s) | "
             "p-median MILP | MILP status | MILP time (s) | optimum / p-median |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|"]
    by = {}
    for r in results:
        if r["group"] == "small":
            by.setdefault(r["instance"], {})[r["method"]] = r
    for name, d in by.items():
        w, e, p = d.get("wangge", {}), d.get("wangge --exact", {}), d.get("HiGHS p-median", {})
        wo = (w.get("metrics") or {}).get("objective")
        eo = (e.get("metrics") or {}).get("objective")
        po = (p.get("info") or {}).get("milp_objective")
        sol = ((w.get("info") or {}).get("reported") or {}).get("solution", {})
        pst = (p.get("info") or {}).get("status", p.get("status", "–"))
        if "mip_gap" in (p.get("info") or {}):
            pst += f", gap {p['info']['mip_gap']:.2%}"
        lines.append(
            f"| {name} | {w.get('buildings')} | {w.get('k')} | {fmt(wo, ',.0f')} | "
            f"{fmt(eo, ',.0f', e.get('status', '–'))} | {fmt(ratio(wo, eo), '.4f')} | "
            f"{fmt(sol.get('lower_bound'), ',.0f')} | {fmt(sol.get('gap'), '.2%')} | "
            f"{fmt(e.get('time_s'), '.2f')} | {fmt(po, ',.0f', p.get('status', '–'))} | {pst} | "
            f"{fmt(p.get('time_s'), '.1f')} | {fmt(ratio(eo, po), '.4f')} |")
    return lines + [""]


def header(meta: dict) -> list[str]:
    mc, v = meta["machine"], meta["versions"]
    load = ", ".join(f"{x:.2f}" for x in mc["loadavg_start"])
    load_end = ", ".join(f"{x:.2f}" for x in meta.get("loadavg_end", ()))
    return [
        "# wangge vs peers (same instances, same run)", "",
        f"- Machine: {mc['nproc']} cores ({mc['cpu']}), {mc['ram_gib']} GiB RAM; load average "
        f"{load} at start, {load_end} at the end (shared machine: times are noisy); "
        f"{mc['date_utc']}–{meta.get('finished_utc', '?')[-5:]} UTC.",
        f"- wangge: `{mc['wangge']}`, binary built {mc['wangge_built_utc']} UTC (sha256 "
        f"{mc['wangge_sha256']}…, copied at start), work tree at `{mc['git']}`.",
        "- Packages: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"- Command: `{meta['command']}`; timeout {meta['timeout_s']:.0f} s a run; HiGHS and "
        f"`wangge --exact` time limit {meta['milp_time_limit_s']:.0f} s.",
        "- Bounds 300–500 households. k (grids asked of AZP, Skater, gerrychain, METIS, KaHIP and "
        "the p-median) = the number wangge chose; MaxP chooses its own (`≠k` marks a different "
        "count, and walks then compare unequal numbers of grids).",
        f"- Adjacency, shared by every peer and by the scoring: Delaunay triangulation of the "
        f"building centroids, edges longer than {MAX_EDGE_M:.0f} m dropped. wangge builds its "
        f"own graph (footprints, same 500 m cut) and was given the buildings only (no territory, "
        f"no barriers), like the peers.",
        "- Scoring, one function for every method, from the building → grid labels: walk = 1.3 × "
        "straight line from a building's centroid to its grid's household-weighted medoid "
        "building; mean walk is household-weighted; objective = Σ households × walk; "
        "'connected' = the grid is one piece in the shared adjacency graph.",
        "- Times: wangge = the whole CLI call (read GeoJSON, partition, tessellate, write), "
        "default threads (both cores); peers = the library's solve call only (building its "
        "graph or weights is not counted), HiGHS with 1 thread. wangge, METIS, KaHIP: median of "
        f"{meta['repeats']} runs (one if it took over {REPEAT_UNDER_S:.0f} s); others one run.",
        "- Size limits (skipped above): " + ", ".join(f"{k} {v:,}" for k, v in
                                                         SIZE_LIMITS.items()) + " buildings.",
        "",
    ]


def report_md(meta: dict, results: list[dict], graphs: dict) -> str:
    out = header(meta)
    titles = {"small": "Small windows (cut from synth_city 1,000, seed 1)",
              "medium": "Medium instances", "large": "Large instance"}
    for group in ("small", "medium", "large"):
        if not any(r["group"] == group for r in results):
            continue
        out += [f"## {titles[group]}", ""]
        if group == "small":
            out += ["Objectives (Σ households × 1.3 × distance to the medoid). `wangge --exact` "
                    "is the proven optimum with contiguity; the p-median MILP (every building a "
                    "candidate centre of every other, no contiguity) is a relaxation of the same "
                    "problem, so its optimum bounds the contiguous optimum from below.", ""]
            out += small_summary(results)
        out += ["Summary: each cell is `walk / wangge's walk` / `time / wangge's time` · share "
                "of grids in 300–500 (lower walk ratio is better; wangge's row gives its own "
                "figures).", ""]
        out += group_summary(results, group)
        out += instance_tables(results, graphs, group)
    return "\n".join(out) + "\n"


def jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="target/bench-data")
    ap.add_argument("--wangge", default="target/release/wangge")
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--timeout", type=float, default=300.0, help="time limit of one run (s)")
    ap.add_argument("--milp-time-limit", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the fast methods")
    ap.add_argument("--large", action="store_true", help="add synth_city 100,000")
    ap.add_argument("--regenerate", action="store_true", help="cut the windows again")
    ap.add_argument("--only", help="comma-separated instance names")
    ap.add_argument("--methods", help="comma-separated method names")
    args = ap.parse_args()
    command = os.environ.get("BENCH_COMMAND") or " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
    meta = {"command": command.strip(), "timeout_s": args.timeout,
            "milp_time_limit_s": args.milp_time_limit, "repeats": args.repeats,
            "machine": machine(args.wangge), "versions": versions(),
            "adjacency": f"Delaunay of centroids, edges <= {MAX_EDGE_M} m"}
    binary, meta["machine"]["wangge_sha256"] = freeze_binary(Path(args.wangge), Path(args.data_dir))
    bench = Bench(args, binary)
    bench.run(build_instances(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta["finished_utc"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    meta["loadavg_end"] = os.getloadavg()
    (out / "peers.json").write_text(json.dumps(
        {"meta": meta, "graphs": bench.graphs, "results": bench.results}, indent=1,
        default=jsonable))
    (out / "peers.md").write_text(report_md(meta, bench.results, bench.graphs))
    log(f"wrote {out / 'peers.md'} and {out / 'peers.json'}")


if __name__ == "__main__":
    main()
