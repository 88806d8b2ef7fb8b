"""Stable re-division scenario on synth_10k: a valid plan, then 5% more households in one area
and a compound removed elsewhere; re-divided with --existing-column against a fresh division.
Moves of the fresh division are counted after matching each fresh grid to the existing grid it
shares most households with (one to one, largest overlaps first), so both are measured alike.

Usage: python scripts/scenario_redivide.py WANGGE_BIN OUT_DIR [EFFORT]
"""
import json
import pathlib
import subprocess
import sys
import time

wangge, out = sys.argv[1], pathlib.Path(sys.argv[2])
effort = sys.argv[3] if len(sys.argv) > 3 else "0"
# Side of the north-west area receiving the new households, as a share of the extent.
area = float(sys.argv[4]) if len(sys.argv) > 4 else 0.4
data = pathlib.Path(__file__).resolve().parents[1] / "data" / "synth_10k"
out.mkdir(parents=True, exist_ok=True)
common = ["--territory", str(data / "territory.geojson"), "--barriers", str(data / "barriers.geojson"), "-q", "--overwrite", "--effort", effort]


def run(buildings, dest, *extra):
    t = time.perf_counter()
    p = subprocess.run([wangge, "partition", str(buildings), "-o", str(dest), *common, *extra], capture_output=True, text=True)
    assert p.returncode in (0, 4), p.stderr
    return time.perf_counter() - t, json.loads((dest / "summary.json").read_text())


def anchor(f):
    ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0]
    xs, ys = [c[0] for c in ring], [c[1] for c in ring]
    return sum(xs) / len(xs), sum(ys) / len(ys)


# 1. A valid plan.
_, s0 = run(data / "buildings.geojson", out / "plan")
plan = json.loads((out / "plan" / "buildings.geojson").read_text())
feats = plan["features"]
pts = [anchor(f) for f in feats]
xs, ys = sorted(p[0] for p in pts), sorted(p[1] for p in pts)
total = sum(f["properties"]["households"] for f in feats)
# 2. 5% new households in the north-west corner, a compound removed in the south-east.
x_nw, y_nw = xs[int(area * (len(xs) - 1))], ys[int((1 - area) * (len(ys) - 1))]
nw = [i for i, (x, y) in enumerate(pts) if x < x_nw and y > y_nw]
nw_total = sum(feats[i]["properties"]["households"] for i in nw)
factor = 1 + 0.05 * total / nw_total
cx, cy = xs[4 * len(xs) // 5], ys[len(ys) // 5]
removed = sorted(range(len(pts)), key=lambda i: (pts[i][0] - cx) ** 2 + (pts[i][1] - cy) ** 2)[:40]
removed_hh = sum(feats[i]["properties"]["households"] for i in removed)
changed = []
for i, f in enumerate(feats):
    if i in set(removed):
        continue
    f = json.loads(json.dumps(f))
    f["properties"]["existing_grid"] = f["properties"].pop("grid_id")
    if i in set(nw):
        f["properties"]["households"] = round(f["properties"]["households"] * factor)
    changed.append(f)
plan["features"] = changed
(out / "changed.geojson").write_text(json.dumps(plan))
added = sum(f["properties"]["households"] for f in changed) - (total - removed_hh)

# 3. Stable re-division and 4. a fresh one.
t_stable, s1 = run(out / "changed.geojson", out / "stable", "--existing-column", "existing_grid")
t_fresh, s2 = run(out / "changed.geojson", out / "fresh")
fresh = json.loads((out / "fresh" / "buildings.geojson").read_text())["features"]
overlap = {}
for f in fresh:
    key = (f["properties"]["grid_id"], f["properties"]["existing_grid"])
    overlap[key] = overlap.get(key, 0) + f["properties"]["households"]
match, used = {}, set()
for (new, old), hh in sorted(overlap.items(), key=lambda kv: -kv[1]):
    if new not in match and old not in used:
        match[new] = old
        used.add(old)
fresh_moved = sum(f["properties"]["households"] for f in fresh if match.get(f["properties"]["grid_id"]) != f["properties"]["existing_grid"])
hh_after = sum(f["properties"]["households"] for f in changed)
fresh_renumbered = sum(f["properties"]["households"] for f in fresh if f["properties"]["grid_id"] != f["properties"]["existing_grid"])
r = s1["redivision"]
result = {
    "households_before": total, "households_added_nw": added, "nw_area_side": area, "nw_buildings": len(nw), "nw_growth_factor": round(factor, 3), "households_removed_se": removed_hh,
    "grids_before": s0["grids"],
    "stable": {"grids": s1["grids"], "in_bounds": s1["households"]["grids_in_bounds"], "violations": len(s1["violations"]),
               "households_moved": r["households_moved"], "share_moved": r["share_of_households_moved"],
               "grids_unchanged": r["grids_unchanged"], "grids_changed": r["grids_changed"], "grids_new": r["grids_new"],
               "grids_removed": r["grids_removed"], "mean_walk_m": s1["objective"]["mean_walk_m"], "seconds": round(t_stable, 2)},
    "fresh": {"grids": s2["grids"], "in_bounds": s2["households"]["grids_in_bounds"], "violations": len(s2["violations"]),
              "households_moved": fresh_moved, "share_moved": fresh_moved / hh_after,
              "households_with_another_grid_id": fresh_renumbered, "share_with_another_grid_id": fresh_renumbered / hh_after,
              "mean_walk_m": s2["objective"]["mean_walk_m"], "seconds": round(t_fresh, 2)},
}
result["stable_moves_as_share_of_fresh_matched"] = r["households_moved"] / max(fresh_moved, 1)
result["stable_moves_as_share_of_fresh_ids"] = r["households_moved"] / max(fresh_renumbered, 1)
print(json.dumps(result, indent=1))
(out / "scenario.json").write_text(json.dumps(result, indent=1))
