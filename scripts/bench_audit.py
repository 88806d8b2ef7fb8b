#!/usr/bin/env python3
"""Benchmark `wangge check` against `maup.doctor` (MGGG) on a grid layer with injected defects.

Two steps (scripts/bench-audit.sh runs both after building wangge and making the clean layer):

  perturb  Take a valid grid layer (wangge partition's grids.geojson, EPSG:4547) and inject a
           known, seeded set of defects at grids chosen at random: overlaps, holes inside one
           grid, gaps open to the territory's outer edge, overlap and gap slivers (< 1 m²),
           duplicated features, self-intersecting (bow-tie) rings and grids in two pieces.
           Writes perturbed.geojson (all defects), perturbed_nobowtie.geojson (the same minus the
           bow-ties, see below), clean.geojson (a copy of the input) and truth.json (one record
           per defect: kind, grid ids, expected area, location, region).

  measure  Time both tools on those layers (same run, one after the other, each repeated, median
           reported), match what each reports against truth.json, and write audit.json (raw)
           and audit.md (report).

Why a layer without bow-ties: maup.doctor starts with shapely.union_all over the raw geometries,
which raises a GEOS TopologyException on a self-intersecting ring, so on the full layer doctor
reports nothing at all. The no-bow-tie layer shows what doctor finds of the rest.

Every defect is placed so that no two defects share or touch a grid, so each issue a tool
reports can be attributed to at most one defect.

Usage:
  bench_audit.py perturb --grids G.geojson --territory T.geojson --out DIR [--seed 0]
  bench_audit.py measure --dir DIR --territory T.geojson --wangge BIN --out bench-results
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import io
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping, shape

# --------------------------------------------------------------------------------------------
# The defect set (counts per kind). Kinds, what is done, and what a checker should report:
#   overlap        grid A swallows a half-disk of its neighbour B      -> overlap {A,B}
#   hole           a disk cut out of the inside of grid A               -> gap {A} (enclosed)
#   edge_gap       a half-disk notch cut from A and B where their shared
#                  border meets the territory's outer edge (< 20 m wide) -> gap {A,B} (open)
#   overlap_sliver A takes a thin triangle (< 1 m²) of neighbour B       -> overlap_sliver {A,B}
#   gap_sliver     a thin triangle (< 1 m²) cut from A along B           -> gap_sliver {A,B}
#   duplicate      A's feature copied with a new grid_id D               -> overlap {A,D}
#   bowtie         one edge of A twisted into a figure-8 (self-crossing) -> invalid_geometry {A}
#   multipart      a disk inside B given to A as a second, detached part -> multipart {A}
# --------------------------------------------------------------------------------------------
COUNTS = {
    "edge_gap": 20,      # placed first: few grids touch the outer edge
    "overlap": 40,
    "hole": 40,
    "overlap_sliver": 10,
    "gap_sliver": 10,
    "duplicate": 10,
    "bowtie": 10,
    "multipart": 10,
}
# wangge `check` issue kinds that count as finding each defect kind.
WANGGE_KIND = {
    "overlap": "overlap", "hole": "gap", "edge_gap": "gap", "overlap_sliver": "overlap_sliver",
    "gap_sliver": "gap_sliver", "duplicate": "overlap", "bowtie": "invalid_geometry",
    "multipart": "multipart",
}
# What maup can report for each kind: an overlapping pair (adjacencies with area > 0), a hole of
# the union (holes_of_union), an invalid row (is_valid); multipart grids it does not check.
MAUP_KIND = {
    "overlap": "overlap", "hole": "hole", "edge_gap": "hole", "overlap_sliver": "overlap",
    "gap_sliver": "hole", "duplicate": "overlap", "bowtie": "invalid", "multipart": None,
}
CRS_MEMBER = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}
QUAD_SEGS = 8            # segments per quarter circle of the disks
EDGE_GAP_MAX_WIDTH = 18  # m: notches stay below wangge's default --edge-gap-width-m (20 m)
BOWTIE_OFFSET_M = 0.5    # m: how far the twisted edge is pulled into the grid
MATCH_TOL_M = 0.5        # m: an issue "is at" a defect when within this of its region
SECONDARY_TOL_M = 2.0    # m: an unmatched issue this close to a defect is its by-product


def rel(path) -> str:
    """A path as shown in the report: relative to the repository when inside it."""
    root = Path(__file__).resolve().parent.parent
    p = Path(path).resolve()
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(path)


def log(msg: str) -> None:
    print(f"[bench-audit {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ============================================================================================
# Layer I/O (plain json, so the files look exactly like wangge partition's output)
# ============================================================================================

def read_layer(path: Path) -> tuple[dict, list[dict], list]:
    """The FeatureCollection (without features), its features and their shapely geometries."""
    fc = json.loads(path.read_text())
    features = fc.pop("features")
    return fc, features, [shape(f["geometry"]) for f in features]


def write_layer(path: Path, header: dict, features: list[dict]) -> None:
    """One feature per line, header members first, the legacy crs member kept (EPSG:4547)."""
    head = {k: v for k, v in header.items() if k != "features"}
    head.setdefault("crs", CRS_MEMBER)
    with path.open("w") as f:
        f.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"features":[\n')
        f.write(",\n".join(json.dumps(ft, separators=(",", ":")) for ft in features))
        f.write("\n]}\n")


def ring_coords(geom) -> dict:
    """GeoJSON geometry of a (possibly invalid) polygon or multipolygon, rings as written."""
    return mapping(geom)


# ============================================================================================
# Perturbation
# ============================================================================================

class Layer:
    """The clean grids with a spatial index and neighbour lookup."""

    def __init__(self, geoms: list, ids: list[int], territory):
        self.geoms = list(geoms)
        self.ids = ids
        self.tree = STRtree(self.geoms)
        self.territory = territory
        # The territory's outer edge (exteriors only: its holes are parks/water, not edge).
        parts = territory.geoms if isinstance(territory, MultiPolygon) else [territory]
        self.outer_edge = shapely.union_all([p.exterior for p in parts])

    def touching(self, i: int) -> list[int]:
        """Grids that touch or overlap grid i (queen neighbours), i excluded."""
        near = self.tree.query(self.geoms[i], predicate="intersects")
        return [int(j) for j in near if j != i]

    def rook(self, i: int, min_len: float = 1.0) -> list[tuple[int, float]]:
        """Neighbours sharing at least min_len metres of border with i, with that length."""
        out = []
        for j in self.touching(i):
            length = shared_line(self.geoms[i], self.geoms[j]).length
            if length >= min_len:
                out.append((j, length))
        return out

    def others_hit(self, region, allowed: set[int]) -> bool:
        """True when region intersects (with area or along a line) a grid not in allowed."""
        for j in self.tree.query(region, predicate="intersects"):
            if int(j) not in allowed and self.geoms[j].intersection(region).area > 1e-9:
                return True
            if int(j) not in allowed and self.geoms[j].boundary.intersection(region).length > 1e-9:
                return True
        return False


def shared_line(a, b):
    """The border two grids share (lines)."""
    return shapely.line_merge(shapely.intersection(a.boundary, b.boundary))


def segments_of(lines) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Straight two-point segments of a (multi)line geometry."""
    out = []
    for g in getattr(lines, "geoms", [lines]):
        if isinstance(g, LineString):
            c = list(g.coords)
            out.extend(zip(c[:-1], c[1:]))
        elif hasattr(g, "geoms"):
            out.extend(segments_of(g))
    return out


def longest_segment(lines):
    segs = segments_of(lines)
    if not segs:
        return None
    return max(segs, key=lambda s: math.dist(s[0], s[1]))


def normal_into(seg, poly) -> tuple[float, float] | None:
    """Unit normal of segment seg pointing into poly (None if neither side is inside)."""
    (x0, y0), (x1, y1) = seg
    length = math.dist(seg[0], seg[1])
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    if poly.contains(Point(mx + nx * 0.01, my + ny * 0.01)):
        return nx, ny
    if poly.contains(Point(mx - nx * 0.01, my - ny * 0.01)):
        return -nx, -ny
    return None


def random_point_in(poly, rng: random.Random, tries: int = 200):
    """A seeded uniform random point inside poly (None if poly is empty or too thin)."""
    if poly.is_empty:
        return None
    minx, miny, maxx, maxy = poly.bounds
    for _ in range(tries):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if poly.contains(p):
            return p
    return None


def is_clean_polygon(g) -> bool:
    return isinstance(g, Polygon) and g.is_valid and not g.is_empty


def with_inserted(poly: Polygon, v0, v1, pts: list) -> Polygon:
    """poly with pts (ordered from v0 to v1) inserted in the outer-ring edge between the
    vertices v0 and v1, whichever way the ring runs; holes kept."""
    ring = list(poly.exterior.coords)[:-1]
    m = len(ring)
    for k in range(m):
        a, b = ring[k], ring[(k + 1) % m]
        if (a, b) in ((v0, v1), (v1, v0)):
            ins = list(pts) if (a, b) == (v0, v1) else list(reversed(pts))
            return Polygon(ring[:k + 1] + ins + ring[k + 1:], [list(r.coords) for r in poly.interiors])
    raise ValueError("edge not in the ring")


class Injector:
    """Places defects on free grids; a grid used by a defect blocks itself and its neighbours."""

    def __init__(self, layer: Layer, rng: random.Random):
        self.layer = layer
        self.rng = rng
        self.geoms = list(layer.geoms)        # current (perturbed) geometry per grid
        self.blocked: set[int] = set()
        self.defects: list[dict] = []
        self.extra: list[tuple[int, object]] = []  # duplicated features: (source index, geom)
        self.next_id = max(layer.ids) + 1

    def settle(self, *grids: int) -> None:
        """After an overlay (difference) on grids: move the neighbours' vertices within 1 µm of a
        new vertex onto it (GEOS snap), so a border point the overlay computed twice, once per
        grid, is one point again. Without it the two copies lie ~1e-10 m apart and leave overlaps
        or holes of ~1e-10 m² that are artefacts of the construction, not injected defects.
        Each grid is snapped to the ones listed before it, never the other way."""
        for n, i in enumerate(grids):
            for j in self.layer.touching(i):
                if j in grids[:n + 1]:
                    continue
                snapped = shapely.snap(self.geoms[j], self.geoms[i], 1e-6)
                if (snapped.is_valid and snapped.geom_type == self.geoms[j].geom_type
                        and abs(snapped.area - self.geoms[j].area) < 1e-6):
                    self.geoms[j] = snapped

    def free(self, *grids: int) -> bool:
        return not any(g in self.blocked for g in grids)

    def block(self, *grids: int) -> None:
        for g in grids:
            self.blocked.add(g)
            self.blocked.update(self.layer.touching(g))

    def record(self, kind: str, grids: list[int], area: float, region, location, **extra) -> None:
        d = {
            "id": f"{kind}-{sum(1 for x in self.defects if x['kind'] == kind) + 1:02d}",
            "kind": kind,
            "grid_ids": [self.layer.ids[g] if g >= 0 else g for g in grids],
            "expected_area_m2": area,
            "location": [round(location.x, 3), round(location.y, 3)],
            "region": mapping(region),
            "expected": {"wangge": WANGGE_KIND[kind], "maup": MAUP_KIND[kind]},
        }
        d.update(extra)
        self.defects.append(d)

    # ---- one method per kind; each returns True when the defect was placed at grid i ----

    def shared_edge(self, i: int, j: int, min_len: float):
        """The longest edge (v0, v1) of grid i's outer ring that is also an edge of grid j's
        outer ring (same two vertices), with the unit normal pointing into j; None if none is
        at least min_len long."""
        a, b = self.geoms[i], self.geoms[j]
        if not (isinstance(a, Polygon) and isinstance(b, Polygon)):
            return None
        ra, rb = list(a.exterior.coords)[:-1], list(b.exterior.coords)[:-1]
        b_edges = {frozenset((rb[k], rb[(k + 1) % len(rb)])) for k in range(len(rb))}
        best = None
        for k in range(len(ra)):
            v0, v1 = ra[k], ra[(k + 1) % len(ra)]
            length = math.dist(v0, v1)
            if length >= min_len and frozenset((v0, v1)) in b_edges and (best is None or length > best[2]):
                best = (v0, v1, length)
        if best is None:
            return None
        n = normal_into(best[:2], b)
        return None if n is None else (best[0], best[1], n)

    def overlap(self, i: int) -> bool:
        """Grid i grows a half-disk of radius r into neighbour j, centred on the middle of their
        longest shared edge. Built on the rings (the half-disk's two end points are inserted in
        both rings), so the overlap is exact and the rest of the border stays exactly shared."""
        for j, _ in sorted(self.layer.rook(i, 12.0), key=lambda t: -t[1]):
            if not self.free(j):
                continue
            r = self.rng.uniform(5.0, 12.0)
            edge = self.shared_edge(i, j, 2 * r + 4)
            if edge is None:
                continue
            v0, v1, n = edge
            length = math.dist(v0, v1)
            u = ((v1[0] - v0[0]) / length, (v1[1] - v0[1]) / length)
            c = ((v0[0] + v1[0]) / 2, (v0[1] + v1[1]) / 2)
            steps = 4 * QUAD_SEGS // 2  # a half circle
            arc = [(c[0] + r * (math.cos(t) * -u[0] + math.sin(t) * n[0]),
                    c[1] + r * (math.cos(t) * -u[1] + math.sin(t) * n[1]))
                   for t in (math.pi * s / steps for s in range(steps + 1))]
            arc[0] = (c[0] - r * u[0], c[1] - r * u[1])       # exactly on the edge
            arc[-1] = (c[0] + r * u[0], c[1] + r * u[1])
            taken = Polygon(arc)
            if self.layer.others_hit(taken, {i, j}) or not self.geoms[j].buffer(1e-6).contains(taken):
                continue
            grown = with_inserted(self.geoms[i], v0, v1, arc)
            b = with_inserted(self.geoms[j], v0, v1, [arc[0], arc[-1]])
            if not (is_clean_polygon(grown) and is_clean_polygon(b)):
                continue
            self.geoms[i], self.geoms[j] = grown, b
            self.block(i, j)
            self.record("overlap", [i, j], taken.area, taken, taken.representative_point(),
                        note=f"grid {self.layer.ids[i]} grows a half-disk (r={r:.1f} m) into {self.layer.ids[j]}")
            return True
        return False

    def hole(self, i: int) -> bool:
        a = self.geoms[i]
        r = self.rng.uniform(4.0, 12.0)
        c = random_point_in(a.buffer(-(r + 3.0)), self.rng)
        if c is None:
            return False
        disk = c.buffer(r, quad_segs=QUAD_SEGS)
        holed = a.difference(disk)
        if not is_clean_polygon(holed):
            return False
        self.geoms[i] = holed
        self.block(i)
        self.record("hole", [i], disk.area, disk, c, note=f"disk r={r:.1f} m cut out of grid {self.layer.ids[i]}")
        return True

    def edge_gap(self, i: int) -> bool:
        a = self.geoms[i]
        edge = self.layer.outer_edge
        if a.boundary.intersection(edge).length < 1.0:
            return False
        for j, _ in self.layer.rook(i, 10.0):
            b = self.geoms[j]
            if not self.free(j) or b.boundary.intersection(edge).length < 1.0:
                continue
            # Where their shared border ends on the outer edge.
            border = shared_line(a, b)
            ends = [Point(c) for g in getattr(border, "geoms", [border]) if isinstance(g, LineString)
                    for c in (g.coords[0], g.coords[-1])]
            ends = [p for p in ends if p.distance(edge) < 1e-6]
            if not ends:
                continue
            p = ends[0]
            r = self.rng.uniform(4.0, EDGE_GAP_MAX_WIDTH / 2)
            disk = p.buffer(r, quad_segs=QUAD_SEGS)
            if self.layer.others_hit(disk, {i, j}):
                continue
            cut_a, cut_b = a.intersection(disk), b.intersection(disk)
            notch = shapely.union_all([cut_a, cut_b])
            # A true notch between two grids: a half-disk, both grids holding a fair share of it.
            if not (isinstance(notch, Polygon) and min(cut_a.area, cut_b.area) > 0.2 * notch.area
                    and abs(notch.area - disk.area / 2) < 0.1 * disk.area):
                continue
            new_a, new_b = a.difference(disk), b.difference(disk)
            if not (is_clean_polygon(new_a) and is_clean_polygon(new_b)):
                continue
            self.geoms[i], self.geoms[j] = new_a, new_b
            self.settle(i, j)
            self.block(i, j)
            self.record("edge_gap", [i, j], notch.area, notch, p, width_m=round(2 * r, 2),
                        note=f"half-disk notch r={r:.1f} m at the outer edge between {self.layer.ids[i]} and {self.layer.ids[j]}")
            return True
        return False

    def sliver(self, i: int, kind: str) -> bool:
        """A triangle with a 2 m base in the middle of the longest edge grid i shares with a
        neighbour j and an area of 0.2-0.8 m². overlap_sliver: the apex points into j and grid i
        takes the triangle; gap_sliver: the apex points into i and the triangle is cut from i.
        The base's end points are inserted in both rings, so nothing else changes."""
        for j, _ in self.layer.rook(i, 6.0):
            if not self.free(j):
                continue
            edge = self.shared_edge(i, j, 6.0)
            if edge is None:
                continue
            v0, v1, n = edge                       # n points into j
            if kind == "gap_sliver":
                n = (-n[0], -n[1])
            length = math.dist(v0, v1)
            u = ((v1[0] - v0[0]) / length, (v1[1] - v0[1]) / length)
            c = ((v0[0] + v1[0]) / 2, (v0[1] + v1[1]) / 2)
            h = self.rng.uniform(0.2, 0.8)          # area = base (2 m) * h / 2 = h
            p1, p2 = (c[0] - u[0], c[1] - u[1]), (c[0] + u[0], c[1] + u[1])
            apex = (c[0] + n[0] * h, c[1] + n[1] * h)
            tri = Polygon([p1, apex, p2])
            if self.layer.others_hit(tri.buffer(0.5), {i, j}):
                continue
            a = with_inserted(self.geoms[i], v0, v1, [p1, apex, p2])
            b = with_inserted(self.geoms[j], v0, v1, [p1, p2])
            if not (is_clean_polygon(a) and is_clean_polygon(b)):
                continue
            self.geoms[i], self.geoms[j] = a, b
            self.block(i, j)
            what = "takes a {:.2f} m² triangle of" if kind == "overlap_sliver" else "loses a {:.2f} m² triangle along"
            self.record(kind, [i, j], tri.area, tri, tri.centroid,
                        note=f"grid {self.layer.ids[i]} {what.format(tri.area)} {self.layer.ids[j]}")
            return True
        return False

    def overlap_sliver(self, i: int) -> bool:
        return self.sliver(i, "overlap_sliver")

    def gap_sliver(self, i: int) -> bool:
        return self.sliver(i, "gap_sliver")

    def duplicate(self, i: int) -> bool:
        a = self.geoms[i]
        new_id = self.next_id
        self.next_id += 1
        self.extra.append((i, new_id))
        self.block(i)
        self.record("duplicate", [i], a.area, a, a.representative_point(),
                    note=f"grid {self.layer.ids[i]} copied as grid {new_id}")
        self.defects[-1]["grid_ids"].append(new_id)
        return True

    def bowtie(self, i: int) -> bool:
        """Twist one shared edge (v0, v1) of grid i: the ring runs v0 -> q1 -> q0 -> v1, where
        q0, q1 are v0, v1 pulled BOWTIE_OFFSET_M into the grid; the two diagonals cross at X.
        The ring then self-intersects at X (a bow-tie of two triangles on that edge)."""
        a = self.geoms[i]
        ring = list(a.exterior.coords)[:-1]
        nbrs = [j for j, _ in self.layer.rook(i, 10.0) if self.free(j)]
        h = BOWTIE_OFFSET_M
        # Longest edges first; the edge must be shared with a free neighbour, and the trapezoid
        # v0 v1 q1 q0 must lie inside the grid so that X is the ring's only self-crossing.
        edges = sorted(range(len(ring)), key=lambda k: -math.dist(ring[k], ring[(k + 1) % len(ring)]))
        for k in edges:
            v0, v1 = ring[k], ring[(k + 1) % len(ring)]
            length = math.dist(v0, v1)
            if length < 10.0:
                return False
            mid = Point((v0[0] + v1[0]) / 2, (v0[1] + v1[1]) / 2)
            owner = [j for j in nbrs if self.geoms[j].boundary.distance(mid) < 1e-6]
            n = normal_into((v0, v1), a)
            if not owner or n is None:
                continue
            q0 = (v0[0] + n[0] * h, v0[1] + n[1] * h)
            q1 = (v1[0] + n[0] * h, v1[1] + n[1] * h)
            if a.buffer(1e-6).contains(Polygon([v0, v1, q1, q0])) and not any(
                    Point(q).distance(a.exterior) < 0.1 for q in (q0, q1)):
                j = owner[0]
                break
        else:
            return False
        new_ring = ring[:k + 1] + [q1, q0] + ring[k + 1:]
        twisted = Polygon(new_ring, [list(r.coords) for r in a.interiors])
        if twisted.is_valid:
            return False
        x = Point((v0[0] + v1[0]) / 2 + n[0] * h / 2, (v0[1] + v1[1]) / 2 + n[1] * h / 2)
        # The two lobes of the bow-tie, for attributing by-products (uncovered ground or double
        # cover where a tool's repair reads the ring differently from the clean grid).
        lobes = MultiPolygon([Polygon([v0, v1, (x.x, x.y)]), Polygon([q0, q1, (x.x, x.y)])])
        self.geoms[i] = twisted
        self.block(i, j)
        self.record("bowtie", [i], 0.0, lobes, x, neighbour=self.layer.ids[j],
                    lobe_area_m2=round(lobes.geoms[0].area, 3),
                    note=f"edge of {length:.1f} m of grid {self.layer.ids[i]} (shared with {self.layer.ids[j]}) twisted {h} m")
        return True

    def multipart(self, i: int) -> bool:
        for j, _ in self.layer.rook(i, 1.0):
            if not self.free(j):
                continue
            b = self.geoms[j]
            r = self.rng.uniform(4.0, 10.0)
            room = b.buffer(-(r + 2.0)).difference(self.geoms[i].buffer(r + 2.0))
            c = random_point_in(room, self.rng)
            if c is None:
                continue
            disk = c.buffer(r, quad_segs=QUAD_SEGS)
            holed = b.difference(disk)
            if not is_clean_polygon(holed):
                continue
            self.geoms[j] = holed
            self.geoms[i] = MultiPolygon([self.geoms[i], disk])
            self.block(i, j)
            self.record("multipart", [i], disk.area, disk, c, donor=self.layer.ids[j],
                        note=f"disk r={r:.1f} m inside grid {self.layer.ids[j]} given to grid {self.layer.ids[i]}")
            return True
        return False


def perturb(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header, features, geoms = read_layer(Path(args.grids))
    ids = [int(f["properties"]["grid_id"]) for f in features]
    territory = shapely.union_all([shape(f["geometry"]) for f in json.loads(Path(args.territory).read_text())["features"]])
    layer = Layer(geoms, ids, territory)
    rng = random.Random(args.seed)
    inj = Injector(layer, rng)
    order = list(range(len(geoms)))
    rng.shuffle(order)
    for kind, count in COUNTS.items():
        method = getattr(inj, kind)
        placed = 0
        for i in order:
            if placed == count:
                break
            if inj.free(i) and method(i):
                placed += 1
        if placed < count:
            sys.exit(f"bench-audit: could place only {placed} of {count} {kind} defects")
        log(f"placed {placed} {kind}")

    # The perturbed layer: same header and properties; duplicates appended with a new grid_id.
    def build(geom_of) -> list[dict]:
        feats = []
        for k, f in enumerate(features):
            g = copy.deepcopy(f)
            g["geometry"] = ring_coords(geom_of(k))
            feats.append(g)
        for src, new_id in inj.extra:
            g = copy.deepcopy(features[src])
            g["id"] = new_id
            g["properties"]["grid_id"] = new_id
            g["geometry"] = ring_coords(geom_of(src))
            feats.append(g)
        return feats

    bowtie_grids = {ids.index(d["grid_ids"][0]) for d in inj.defects if d["kind"] == "bowtie"}
    write_layer(out / "perturbed.geojson", header, build(lambda k: inj.geoms[k]))
    write_layer(out / "perturbed_nobowtie.geojson", header,
                build(lambda k: geoms[k] if k in bowtie_grids else inj.geoms[k]))
    shutil.copyfile(args.grids, out / "clean.geojson")
    truth = {
        "source_layer": rel(args.grids),
        "territory": rel(args.territory),
        "seed": args.seed,
        "grids_clean": len(features),
        "grids_perturbed": len(features) + len(inj.extra),
        "counts": COUNTS,
        "layers": {
            "perturbed.geojson": "all defects",
            "perturbed_nobowtie.geojson": "all defects except the bow-ties (those grids as in the clean layer)",
            "clean.geojson": "the unperturbed layer (baseline)",
        },
        "defects": inj.defects,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    log(f"wrote {out}/perturbed.geojson, perturbed_nobowtie.geojson, clean.geojson, truth.json "
        f"({len(inj.defects)} defects)")


# ============================================================================================
# Measurement
# ============================================================================================
# Each layer is checked by each configuration of each tool `--repeats` times, one run after the
# other; the median is reported. The findings are taken from the first run.
LAYERS = ["perturbed", "perturbed_nobowtie", "clean"]
# wangge configurations: name -> (extra arguments, extra environment)
WANGGE_CONFIGS = {
    "wangge --territory": (["--territory", "{territory}"], {}),
    "wangge (no territory)": ([], {}),
    "wangge --territory, 1 thread": (["--territory", "{territory}"], {"RAYON_NUM_THREADS": "1"}),
}


def run_wangge(binary: str, layer: Path, out_dir: Path, extra: list[str], env: dict) -> dict:
    """One `wangge check` run: wall time around the process (file read included)."""
    cmd = [binary, "check", str(layer), *extra, "-o", str(out_dir), "--overwrite", "-q"]
    shown = " ".join(rel(c) if os.path.isabs(c) else c for c in cmd)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    summary = json.loads((out_dir / "summary.json").read_text())
    return {"wall_s": wall, "exit": proc.returncode, "timings_s": summary["timings_s"],
            "counts": summary["counts"], "command": shown, "crs": summary.get("crs")}


def run_maup_doctor(layer: Path) -> dict:
    """One read + maup.doctor, timed apart; what doctor prints is captured."""
    import geopandas as gpd
    import maup
    t0 = time.perf_counter()
    gdf = gpd.read_file(layer)
    t1 = time.perf_counter()
    printed = io.StringIO()
    result, error = None, None
    try:
        with contextlib.redirect_stdout(printed):
            result = bool(maup.doctor(gdf))
    except Exception as e:  # noqa: BLE001 - a crash is a result here
        error = f"{type(e).__name__}: {e}"
    t2 = time.perf_counter()
    return {"read_s": t1 - t0, "doctor_s": t2 - t1, "total_s": t2 - t0, "returned": result,
            "error": error, "printed": printed.getvalue().strip().splitlines()}


def maup_items(layer: Path) -> dict:
    """What maup's own building blocks, the ones doctor calls, find, item by item: overlapping
    pairs (maup.adjacencies, area > 0, as count_overlaps), holes of the union
    (maup.repair.holes_of_union, as doctor) and invalid rows (GeoSeries.is_valid, as doctor)."""
    import geopandas as gpd
    import maup
    from maup.repair import holes_of_union
    gdf = gpd.read_file(layer)
    ids = [int(x) for x in gdf["grid_id"]]
    out: dict = {"overlaps": [], "holes": [], "invalid": [], "errors": {}}
    t0 = time.perf_counter()
    try:
        adj = maup.adjacencies(gdf.geometry, warn_for_islands=False, warn_for_overlaps=False)
        adj = adj[adj.area > 0]
        out["overlaps"] = [{"grid_ids": [ids[i], ids[j]], "area_m2": g.area, "geometry": g}
                           for (i, j), g in adj.items()]
    except Exception as e:  # noqa: BLE001
        out["errors"]["overlaps"] = f"{type(e).__name__}: {e}"
    try:
        out["holes"] = [{"grid_ids": [], "area_m2": g.area, "geometry": g} for g in holes_of_union(gdf)]
    except Exception as e:  # noqa: BLE001
        out["errors"]["holes"] = f"{type(e).__name__}: {e}"
    out["invalid"] = [{"grid_ids": [ids[k]], "area_m2": 0.0, "geometry": g}
                      for k, (g, ok) in enumerate(zip(gdf.geometry, gdf.is_valid)) if not ok]
    out["seconds"] = time.perf_counter() - t0
    return out


def wangge_items(out_dir: Path) -> list[dict]:
    fc = json.loads((out_dir / "issues.geojson").read_text())
    items = []
    for f in fc["features"]:
        p = f["properties"]
        items.append({"kind": p["kind"], "grid_ids": [int(g) for g in p["grid_ids"]],
                      "area_m2": p["area_m2"], "message": p["message"],
                      "geometry": shape(f["geometry"]) if f.get("geometry") else None})
    return items


def is_territory_hole(it: dict, holes: list) -> bool:
    """The item is one of the territory's own holes (parks, water: ground no grid should cover),
    which a check without the territory reports as a gap of the grids' union."""
    g = it["geometry"]
    if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
        return False
    return any(abs(g.area - h.area) <= 0.01 * h.area and g.centroid.distance(h.centroid) < 1.0
               for h in holes)


def match(defects: list[dict], items: list[dict], holes: list, tool: str) -> dict:
    """Attribute reported items to injected defects.

    found:      an item of the expected kind, naming a grid of the defect (when the tool names
                grids), within MATCH_TOL_M of the defect's region.
    as other:   only items of another kind there (e.g. a gap reported as a sliver).
    Leftover items are `baseline` (a hole of the territory itself), `secondary` (within
    SECONDARY_TOL_M of a defect and naming one of its grids: a by-product of it) or
    `false_positive`."""
    used: set[int] = set()
    per_defect = []
    for d in defects:
        want = d["expected"][tool]
        region = shape(d["region"])
        grids = set(d["grid_ids"]) | {d[k] for k in ("neighbour", "donor") if k in d}
        near = []
        for k, it in enumerate(items):
            names_ok = not it["grid_ids"] or bool(set(it["grid_ids"]) & grids)
            at = it["geometry"] is None or it["geometry"].distance(region) <= MATCH_TOL_M
            if names_ok and at:
                near.append(k)
        hits = [k for k in near if items[k]["kind"] == want]
        used.update(hits)
        rec = {"id": d["id"], "kind": d["kind"], "found": bool(hits), "expected": want,
               "expected_area_m2": d["expected_area_m2"],
               "reported_area_m2": sum(items[k]["area_m2"] for k in hits) if hits else None,
               "reported_grid_ids": sorted({g for k in hits for g in items[k]["grid_ids"]}),
               "grid_ids_exact": (sorted({g for k in hits for g in items[k]["grid_ids"]})
                                  == sorted(d["grid_ids"])) if hits and want != "hole" else None,
               "other_kinds_here": sorted({items[k]["kind"] for k in near if k not in hits}),
               # how far the reported place is from the defect's point (bow-tie: the crossing)
               "offset_m": min((items[k]["geometry"].distance(Point(d["location"])) for k in hits
                                if items[k]["geometry"] is not None), default=None)}
        per_defect.append(rec)
    leftovers = {"baseline": [], "secondary": [], "false_positive": []}
    for k, it in enumerate(items):
        if k in used:
            continue
        if is_territory_hole(it, holes):
            cls = "baseline"
        else:
            cls = "false_positive"
            for d in defects:
                grids = set(d["grid_ids"]) | {d[x] for x in ("neighbour", "donor") if x in d}
                if ((not it["grid_ids"] or set(it["grid_ids"]) & grids) and it["geometry"] is not None
                        and it["geometry"].distance(shape(d["region"])) <= SECONDARY_TOL_M):
                    cls = "secondary"
                    it = {**it, "of_defect": d["id"]}
                    break
        leftovers[cls].append(it)
    return {"per_defect": per_defect, **leftovers}


def summarize_match(m: dict, kinds: list[str]) -> dict:
    by_kind = {}
    for kind in kinds:
        recs = [r for r in m["per_defect"] if r["kind"] == kind]
        by_kind[kind] = {"found": sum(r["found"] for r in recs), "injected": len(recs)}
    return {"by_kind": by_kind, "found": sum(r["found"] for r in m["per_defect"]),
            "injected": len(m["per_defect"]), "baseline": len(m["baseline"]),
            "secondary": len(m["secondary"]), "false_positive": len(m["false_positive"])}


def item_json(it: dict) -> dict:
    """A reported item for audit.json: geometry as its centroid and area, not the full shape."""
    g = it.get("geometry")
    out = {k: v for k, v in it.items() if k != "geometry"}
    if g is not None:
        c = g.centroid
        out["at"] = [round(c.x, 3), round(c.y, 3)]
    return out


def machine_info(wangge: str) -> dict:
    import geopandas, maup, pyogrio, pandas
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except Exception:  # noqa: BLE001
            return "?"
    root = Path(__file__).resolve().parent.parent
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(), "loadavg_start": os.getloadavg(),
        "versions": {
            "wangge": out([wangge, "--version"]),
            # where the binary comes from: WANGGE_SOURCE when set (bench-audit.sh), else the
            # work tree it most likely was built from
            "wangge_source": os.environ.get("WANGGE_SOURCE") or "work tree " + out(
                ["git", "-C", str(root), "describe", "--always", "--dirty"]),
            "wangge_binary_built": dt.datetime.fromtimestamp(os.path.getmtime(wangge)).astimezone()
                                   .isoformat(timespec="seconds"),
            "rustc": out(["rustc", "--version"]),
            "python": platform.python_version(), "maup": maup.__version__,
            "geopandas": geopandas.__version__, "shapely": shapely.__version__,
            "geos": ".".join(map(str, shapely.geos_version)), "pyogrio": pyogrio.__version__,
            "pandas": pandas.__version__, "numpy": np.__version__,
        },
    }


def measure(args) -> None:
    d = Path(args.dir)
    res_dir = Path(args.out)
    res_dir.mkdir(parents=True, exist_ok=True)
    truth = json.loads((d / "truth.json").read_text())
    kinds = list(COUNTS)
    report: dict = {"machine": machine_info(args.wangge), "truth": rel(d / "truth.json"),
                    "repeats": args.repeats, "layers": {}}
    runs_dir = d / "runs"
    for name in LAYERS:
        layer = d / f"{name}.geojson"
        defects = [x for x in truth["defects"] if name == "perturbed" or
                   (name == "perturbed_nobowtie" and x["kind"] != "bowtie")]
        entry: dict = {"file": rel(layer), "defects": len(defects), "tools": {}}
        # Repetitions interleaved (every wangge configuration, then maup; again), so that a
        # change of the machine's load during the run falls on both tools alike.
        configs = {c: ([a.format(territory=args.territory) for a in extra], env,
                       runs_dir / f"{name}__{c.replace(' ', '_').replace(',', '').replace('(', '').replace(')', '')}")
                   for c, (extra, env) in WANGGE_CONFIGS.items()}
        wruns: dict[str, list] = {c: [] for c in configs}
        runs = []
        for rep in range(args.repeats):
            for cname, (extra, env, out_dir) in configs.items():
                target = out_dir if rep == 0 else out_dir.with_name(out_dir.name + "_rep")
                wruns[cname].append(run_wangge(args.wangge, layer, target, extra, env))
                log(f"{name}: {cname} run {rep + 1}: {wruns[cname][-1]['wall_s']:.2f} s")
            runs.append(run_maup_doctor(layer))
            log(f"{name}: maup run {rep + 1}: read {runs[-1]['read_s']:.2f} s, doctor {runs[-1]['doctor_s']:.2f} s"
                + (f" ({runs[-1]['error'][:80]})" if runs[-1]["error"] else ""))
        for cname, (extra, env, out_dir) in configs.items():
            rs = wruns[cname]
            entry["tools"][cname] = {
                "runs": rs, "command": rs[0]["command"], "issues_dir": rel(out_dir),
                "read_s": statistics.median(r["timings_s"]["load"] for r in rs),
                "check_s": statistics.median(r["timings_s"]["total"] - r["timings_s"]["load"] for r in rs),
                "total_s": statistics.median(r["wall_s"] for r in rs),
                "counts": rs[0]["counts"], "items": wangge_items(out_dir)}
        items = maup_items(layer)
        log(f"{name}: maup items: {len(items['overlaps'])} overlaps, {len(items['holes'])} holes, "
            f"{len(items['invalid'])} invalid, errors {list(items['errors'])}")
        entry["tools"]["maup.doctor"] = {
            "runs": runs, "command": "gpd.read_file(layer); maup.doctor(gdf)",
            "read_s": statistics.median(r["read_s"] for r in runs),
            "check_s": statistics.median(r["doctor_s"] for r in runs),
            "total_s": statistics.median(r["total_s"] for r in runs),
            "error": runs[0]["error"], "printed": runs[0]["printed"], "returned": runs[0]["returned"],
            "itemized_s": items["seconds"], "itemize_errors": items["errors"],
            "items": ([{**x, "kind": "overlap"} for x in items["overlaps"]]
                      + [{**x, "kind": "hole"} for x in items["holes"]]
                      + [{**x, "kind": "invalid"} for x in items["invalid"]])}
        report["layers"][name] = entry

    # -- findings: attribute every reported item --
    terr = shapely.union_all([shape(f["geometry"]) for f in json.loads(Path(args.territory).read_text())["features"]])
    holes = [Polygon(r) for p in getattr(terr, "geoms", [terr]) for r in p.interiors]
    for name, entry in report["layers"].items():
        defects = [x for x in truth["defects"] if name == "perturbed" or
                   (name == "perturbed_nobowtie" and x["kind"] != "bowtie")]
        for tname, t in entry["tools"].items():
            tool = "maup" if tname.startswith("maup") else "wangge"
            m = match(defects, t["items"], holes, tool)
            if tool == "maup" and t["error"]:
                # doctor itself gave nothing: it raised. The items are what its parts would find.
                t["doctor_found_nothing"] = True
            t["summary"] = summarize_match(m, kinds)
            t["match"] = {"per_defect": m["per_defect"],
                          **{k: [item_json(i) for i in m[k]] for k in ("secondary", "false_positive")},
                          "baseline": len(m["baseline"])}
            t["items"] = len(t["items"])
    report["machine"]["loadavg_end"] = os.getloadavg()
    for entry in report["layers"].values():
        for t in entry["tools"].values():
            t["ratio_maup_over_this"] = entry["tools"]["maup.doctor"]["total_s"] / t["total_s"]
    (res_dir / "audit.json").write_text(json.dumps(report, indent=1, default=str))
    (res_dir / "audit.md").write_text(render_md(report, truth, args))
    log(f"wrote {res_dir}/audit.md and audit.json")


# ============================================================================================
# Report
# ============================================================================================
KIND_TEXT = {
    "overlap": "grid grows a half-disk (r 5-12 m) into a neighbour",
    "hole": "disk (r 4-12 m) cut out of the inside of one grid",
    "edge_gap": "half-disk notch (8-18 m wide) at the outer edge, between two grids",
    "overlap_sliver": "triangle < 1 m² of a neighbour taken",
    "gap_sliver": "triangle < 1 m² cut along a neighbour",
    "duplicate": "feature copied with a new grid_id",
    "bowtie": "one shared edge twisted 0.5 m into a self-crossing figure-8",
    "multipart": "disk inside a neighbour given to the grid as a detached 2nd part",
}


def fmt_s(x) -> str:
    return "—" if x is None else f"{x:.2f}"


def render_md(report: dict, truth: dict, args) -> str:
    m = report["machine"]
    v = m["versions"]
    kinds = list(COUNTS)
    L = []
    L.append("# `wangge check` vs `maup.doctor`: injected-defect audit\n")
    L.append(f"Generated by `scripts/bench-audit.sh` (`scripts/bench_audit.py`) on {m['date']}.\n")
    L.append(f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}; "
             f"load average at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}")
    L.append(f"- Versions: {v['wangge']} (binary built {v['wangge_binary_built']} from "
             f"{v['wangge_source']}, {v['rustc']}); Python {v['python']}, "
             f"maup {v['maup']}, geopandas {v['geopandas']}, shapely {v['shapely']} (GEOS {v['geos']}), "
             f"pyogrio {v['pyogrio']}, pandas {v['pandas']}, numpy {v['numpy']}")
    first = report["layers"]["perturbed"]["tools"]["wangge --territory"]
    cmd = first["command"]
    crs = first["runs"][0].get("crs") or {}
    L.append(f"- wangge: `{cmd}` (and without `--territory`; and with RAYON_NUM_THREADS=1); "
             f"wall time of the process, file read included; CRS of the layer {crs.get('input')}, "
             f"wangge's working CRS {crs.get('working')}")
    L.append("- maup: `gdf = geopandas.read_file(layer)` (pyogrio) then `maup.doctor(gdf)`, timed apart, "
             "in one Python process (imports not timed)")
    L.append(f"- Each run {report['repeats']}× per layer, one after the other (repetitions interleaved: "
             "all wangge runs, a maup run, again), median reported; `maup/this` = "
             "maup's read+doctor total over that row's total\n")
    L.append(f"Layer: {truth['grids_clean']} grids from `wangge partition` of synth_city (100,000 buildings, "
             f"seed 1, EPSG:4547; 400-800 households a grid, `--effort 0.05`): `{truth['source_layer']}`. "
             f"Defects injected with seed {truth['seed']}, no two on the same or touching grids, into "
             f"`{rel(Path(report['truth']).parent / 'perturbed.geojson')}` ({truth['grids_perturbed']} features, "
             "all defects) and `perturbed_nobowtie.geojson` (the same without the bow-ties, because "
             f"maup.doctor raises on them); ground truth `{report['truth']}`.\n")
    L.append("| defect kind | injected | what | wangge should report | maup can report |")
    L.append("|---|---|---|---|---|")
    for k in kinds:
        L.append(f"| {k} | {COUNTS[k]} | {KIND_TEXT[k]} | {WANGGE_KIND[k]} | {MAUP_KIND[k] or '— (not checked)'} |")
    L.append("")

    # Summary in words, from the numbers below.
    nb = report["layers"]["perturbed_nobowtie"]["tools"]
    pt = report["layers"]["perturbed"]["tools"]
    ratios = [nb["maup.doctor"]["total_s"] / t["total_s"] for c, t in nb.items() if not c.startswith("maup")]
    ws, ms = pt["wangge --territory"]["summary"], nb["maup.doctor"]["summary"]
    L.append("## Summary\n")
    L.append(f"- Speed (`perturbed_nobowtie`, read + check): maup.doctor {nb['maup.doctor']['total_s']:.1f} s, "
             f"wangge {min(t['total_s'] for c, t in nb.items() if not c.startswith('maup')):.2f}-"
             f"{max(t['total_s'] for c, t in nb.items() if not c.startswith('maup')):.2f} s: "
             f"wangge {min(ratios):.0f}-{max(ratios):.0f}× faster.")
    L.append(f"- wangge `--territory` found {ws['found']}/{ws['injected']} injected defects on `perturbed` "
             f"with {ws['false_positive']} false positives and {ws['secondary']} by-products; "
             f"without `--territory`: {pt['wangge (no territory)']['summary']['found']}/{ws['injected']} "
             f"(plus the territory's own {pt['wangge (no territory)']['summary']['baseline']} holes, reported as gaps).")
    L.append(f"- maup.doctor on `perturbed` raised ({(pt['maup.doctor']['error'] or 'no error').split(':')[0]}) and "
             f"reported nothing; on `perturbed_nobowtie` its parts account for {ms['found']}/{ms['injected']}: "
             f"gaps open to the outer edge {ms['by_kind']['edge_gap']['found']}/{ms['by_kind']['edge_gap']['injected']}, "
             "multipart grids not checked; what it prints is two counts (overlapping pairs, holes of the "
             "union), with slivers counted like any other overlap or hole.\n")
    L.append("## Results\n")
    L.append("Found = n found / n injected (an item of the expected kind at the defect, naming one of its grids). "
             "For maup the per-defect columns come from the parts `doctor` runs (pairwise overlaps via "
             "`maup.adjacencies`, `holes_of_union`, `is_valid`), since doctor itself prints only counts. "
             "`by-prod.` = items next to a defect caused by it (see below); `false pos.` = items near no defect; "
             "`terr. holes` = the 244 holes of the territory itself (parks, water), which a check without "
             "the territory cannot tell from gaps.\n")
    head = ["layer", "tool", "read s", "check s", "total s", "maup/this"] + kinds + ["all", "by-prod.", "false pos.", "terr. holes"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for name, entry in report["layers"].items():
        maup_total = entry["tools"]["maup.doctor"]["total_s"]
        for tname, t in entry["tools"].items():
            s = t["summary"]
            crashed = tname.startswith("maup") and t.get("error")
            if entry["tools"]["maup.doctor"]["error"]:
                ratio = "n/a"      # doctor raised: no time to compare
            else:
                ratio = "1.0" if tname.startswith("maup") else f"{maup_total / t['total_s']:.1f}×"
            cells = [f"`{name}`", tname + (" **(raised)**" if crashed else ""), fmt_s(t["read_s"]),
                     fmt_s(t["check_s"]), fmt_s(t["total_s"]), ratio]
            for k in kinds:
                bk = s["by_kind"][k]
                if bk["injected"] == 0:
                    cells.append("—")
                elif crashed:
                    cells.append(f"0 ({bk['found']})")
                elif tname.startswith("maup") and MAUP_KIND[k] is None:
                    cells.append("n/a")
                else:
                    cells.append(f"{bk['found']}/{bk['injected']}")
            found_all = f"0 ({s['found']})" if crashed else str(s["found"])
            cells += [f"{found_all}/{s['injected']}" if s["injected"] else "—", str(s["secondary"]),
                      str(s["false_positive"]), str(s["baseline"])]
            L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("`0 (n)` for maup on a layer where doctor raised: doctor reports nothing; n is what its "
             "parts find when run one by one (holes_of_union raises too).\n")

    L.append("### What `maup.doctor` printed\n")
    for name, entry in report["layers"].items():
        t = entry["tools"]["maup.doctor"]
        said = "; ".join(t["printed"]) or "(nothing)"
        if t["error"]:
            said += f" — raised `{t['error'][:200]}` after {t['check_s']:.2f} s"
        else:
            said += f" — returned {t['returned']}"
        L.append(f"- `{name}`: {said}")
        if t["itemize_errors"]:
            L.append("  - parts run one by one: " + "; ".join(f"{k} raised `{e[:120]}`" for k, e in t["itemize_errors"].items()))
    L.append("")

    # Area agreement of wangge's findings.
    L.append("### Areas reported by wangge (`--territory`, `perturbed.geojson`)\n")
    L.append("| kind | found | injected area m² (sum) | reported area m² (sum) | largest relative error "
             "| grid ids exact | largest offset of the reported place (m) |")
    L.append("|---|---|---|---|---|---|---|")
    pd = report["layers"]["perturbed"]["tools"]["wangge --territory"]["match"]["per_defect"]
    for k in kinds:
        recs = [r for r in pd if r["kind"] == k and r["found"]]
        exact = sum(1 for r in recs if r["grid_ids_exact"])
        offset = max((r["offset_m"] or 0.0 for r in recs), default=0.0)
        if k == "bowtie":   # reported as the point where the ring crosses itself
            L.append(f"| {k} | {len(recs)} | — | — | — | {exact}/{len(recs)} | {offset:.4f} (the crossing) |")
            continue
        exp = sum(r["expected_area_m2"] for r in recs)
        got = sum(r["reported_area_m2"] for r in recs)
        err = max((abs(r["reported_area_m2"] - r["expected_area_m2"]) / r["expected_area_m2"] for r in recs), default=0)
        L.append(f"| {k} | {len(recs)} | {exp:.2f} | {got:.2f} | {100 * err:.3f} % | {exact}/{len(recs)} | {offset:.4f} |")
    L.append("")

    # Misses, by-products and false positives, per wangge configuration; a list identical to
    # the one printed just before is not repeated.
    L.append("### wangge: misses, by-products, false positives\n")
    previous = None
    for name, entry in report["layers"].items():
        for tname, t in entry["tools"].items():
            if tname.startswith("maup"):
                continue
            mm = t["match"]
            lines = []
            for r in mm["per_defect"]:
                if r["found"]:
                    continue
                other = f" (reported there: {', '.join(r['other_kinds_here'])})" if r["other_kinds_here"] else ""
                d = next(x for x in truth["defects"] if x["id"] == r["id"])
                lines.append(f"  - MISSED {r['id']} grids {d['grid_ids']} at {d['location']}{other}")
            for it in mm["secondary"]:
                lines.append(f"  - by-product of {it['of_defect']}: {it['kind']} {it['grid_ids']} "
                             f"{it['area_m2']:.3g} m² at {it.get('at')}")
            for it in mm["false_positive"][:20]:
                lines.append(f"  - FALSE POSITIVE: {it['kind']} {it['grid_ids']} {it['area_m2']:.3g} m² "
                             f"at {it.get('at')}: {it['message'][:140]}")
            if len(mm["false_positive"]) > 20:
                lines.append(f"  - … {len(mm['false_positive']) - 20} more false positives in audit.json")
            if not lines:
                L.append(f"- `{name}`, {tname}: nothing missed, no by-product, no false positive")
            elif lines == previous:
                L.append(f"- `{name}`, {tname}: the same {len(lines)} items as above")
            else:
                L.append(f"- `{name}`, {tname}:")
                L.extend(lines)
            previous = lines
    L.append("")
    L.append("### maup: what its parts miss (perturbed_nobowtie.geojson)\n")
    t = report["layers"]["perturbed_nobowtie"]["tools"]["maup.doctor"]
    for k in kinds:
        recs = [r for r in t["match"]["per_defect"] if r["kind"] == k]
        if not recs:
            continue
        missed = [r["id"] for r in recs if not r["found"]]
        if MAUP_KIND[k] is None:
            L.append(f"- {k}: not checked by maup.doctor ({len(recs)} injected)")
        elif missed:
            L.append(f"- {k}: missed {len(missed)}/{len(recs)}"
                     + (f" ({', '.join(missed[:12])}{'…' if len(missed) > 12 else ''})" if len(missed) < len(recs) else ""))
    for it in t["match"]["secondary"]:
        L.append(f"- by-product of {it['of_defect']}: {it['kind']} {it['grid_ids']} {it['area_m2']:.3g} m²")
    for it in t["match"]["false_positive"][:20]:
        L.append(f"- FALSE POSITIVE: {it['kind']} {it['grid_ids']} {it['area_m2']:.3g} m² at {it.get('at')}")
    L.append("")
    L.append(CAVEATS)
    if max(m["loadavg_start"][0], m["loadavg_end"][0]) > 0.5 * (m["nproc"] or 1):
        L.append(f"- This run shared the machine: load average {m['loadavg_start'][0]:.1f} at the start and "
                 f"{m['loadavg_end'][0]:.1f} at the end on {m['nproc']} CPUs (other processes), so absolute "
                 "times are inflated; the repetitions are interleaved so both tools bore it alike, but the "
                 "ratios are less precise than on an idle machine.")
    return "\n".join(L) + "\n"


CAVEATS = """## Caveats

- Both tools ran on the same 2-core machine; wangge uses all cores (rayon), maup is single-threaded
  Python over GEOS, hence the extra 1-thread wangge row. Another benchmark running at the same time
  would show in the load averages above.
- maup's timing includes neither interpreter start nor imports; wangge's includes process start and
  its whole run. `read s`/`check s` of wangge are its own `timings_s` (load, rest), `total s` is the
  wall time measured around the process.
- `maup.doctor` returns one bool and prints counts; the per-defect columns of maup are what the
  functions doctor calls find when called one by one, i.e. what doctor *counts*, not what it tells
  a user. Its overlap count is a count of overlapping pairs; its holes are the holes of the union.
- Gaps open to the outer edge are not holes of the union, so doctor cannot see them; nor does it
  look at multipart grids. wangge without `--territory` finds edge notches only up to
  `--edge-gap-width-m` (20 m; the injected ones are 8-18 m wide).
- The bow-ties are small (a 0.5 m twist of one shared edge). wangge reads a self-crossing ring by the
  odd-even rule (as GEOS make_valid does): the two lobes of the figure-8 are then not covered and come
  out as two extra gaps per bow-tie (listed as by-products), although its invalid_geometry message
  says "made valid by the odd-even rule (no area lost)"; under the non-zero winding rule the inner
  lobe would stay covered. On the layer with bow-ties doctor raises before reporting
  anything (GEOS TopologyException in `union_all`), which is why a layer without them is measured too.
- The defect set is synthetic and the placement avoids interactions between defects (no two on the
  same or touching grids); real layers have clustered problems. Slivers are triangles of 0.2-0.8 m².
- Matching is geometric: an item counts for a defect when of the expected kind, within 0.5 m of the
  defect's region and naming one of its grids; leftovers within 2 m of a defect and naming one of its
  grids are by-products. audit.json has every defect's record and every unmatched item.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("perturb")
    p.add_argument("--grids", required=True)
    p.add_argument("--territory", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    m = sub.add_parser("measure")
    m.add_argument("--dir", required=True, help="directory written by `perturb`")
    m.add_argument("--territory", required=True)
    m.add_argument("--wangge", required=True)
    m.add_argument("--out", default="bench-results")
    m.add_argument("--repeats", type=int, default=3)
    r = sub.add_parser("render", help="rewrite audit.md from audit.json (no measuring)")
    r.add_argument("--dir", required=True, help="directory written by `perturb`")
    r.add_argument("--out", default="bench-results")
    args = ap.parse_args()
    if args.cmd == "perturb":
        perturb(args)
    elif args.cmd == "measure":
        measure(args)
    else:
        report = json.loads((Path(args.out) / "audit.json").read_text())
        truth = json.loads((Path(args.dir) / "truth.json").read_text())
        (Path(args.out) / "audit.md").write_text(render_md(report, truth, args))


if __name__ == "__main__":
    main()
