//! The optimisation options end to end through the CLI, each checked independently from the
//! output files: the exact MILP against brute force (capacitated p-median without contiguity),
//! exact vs heuristic with contiguity, the lower bound, the maximum walk, network distances
//! and grid workers.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// What a run wrote: the summary, each building's (id, grid id, anchor, properties), each
/// grid's properties by grid id.
struct Outcome {
    code: i32,
    summary: Value,
    buildings: Vec<(String, u64, (f64, f64), Value)>,
    grids: HashMap<u64, Value>,
}

/// The mean of a feature's outer-ring vertices (the exact centre of a square), or the point.
fn anchor(geometry: &Value) -> (f64, f64) {
    match geometry["type"].as_str().unwrap() {
        "Point" => (geometry["coordinates"][0].as_f64().unwrap(), geometry["coordinates"][1].as_f64().unwrap()),
        "Polygon" => {
            let ring = geometry["coordinates"][0].as_array().unwrap();
            let pts = &ring[..ring.len() - 1];
            let n = pts.len() as f64;
            (pts.iter().map(|p| p[0].as_f64().unwrap()).sum::<f64>() / n, pts.iter().map(|p| p[1].as_f64().unwrap()).sum::<f64>() / n)
        }
        t => panic!("unexpected geometry {t}"),
    }
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn run(dir: &Path, input: &str, args: &[&str]) -> Outcome {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut all = vec!["partition", input, "-o", out.to_str().unwrap(), "-q"];
    all.extend_from_slice(args);
    let o = wangge(&all);
    let code = o.status.code().unwrap();
    assert!(code == 0 || code == 4, "wangge failed ({code}): {}", String::from_utf8_lossy(&o.stderr));
    let summary = read_json(out.join("summary.json"));
    let b = read_json(out.join("buildings.geojson"));
    let buildings = b["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (id_text(&f["id"]), f["properties"]["grid_id"].as_u64().unwrap(), anchor(&f["geometry"]), f["properties"].clone()))
        .collect();
    let g = read_json(out.join("grids.geojson"));
    let grids = g["features"].as_array().unwrap().iter().map(|f| (f["properties"]["grid_id"].as_u64().unwrap(), f["properties"].clone())).collect();
    Outcome { code, summary, buildings, grids }
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

impl Outcome {
    /// Anchor of each grid's centre building, from `center_id`.
    fn centres(&self) -> HashMap<u64, (f64, f64)> {
        let by_id: HashMap<&str, (f64, f64)> = self.buildings.iter().map(|(id, _, a, _)| (id.as_str(), *a)).collect();
        self.grids.iter().map(|(&g, p)| (g, by_id[id_text(&p["center_id"]).as_str()])).collect()
    }

    /// Σ weight(b) × detour × |b − centre(grid of b)|, recomputed from the files.
    fn objective(&self, weight: &dyn Fn(&Value) -> f64, detour: f64) -> f64 {
        let c = self.centres();
        self.buildings.iter().map(|(_, g, a, p)| weight(p) * detour * dist(*a, c[g])).sum()
    }

    /// Sum of a property per grid.
    fn loads(&self, column: &str) -> HashMap<u64, f64> {
        let mut out = HashMap::new();
        for (_, g, _, p) in &self.buildings {
            *out.entry(*g).or_insert(0.0) += p[column].as_f64().unwrap();
        }
        out
    }

    /// True when the buildings of every grid are connected by links no longer than `reach`.
    fn grids_connected(&self, reach: f64) -> bool {
        let mut members: HashMap<u64, Vec<(f64, f64)>> = HashMap::new();
        for (_, g, a, _) in &self.buildings {
            members.entry(*g).or_default().push(*a);
        }
        members.values().all(|pts| {
            let mut seen = vec![false; pts.len()];
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(i) = stack.pop() {
                for j in 0..pts.len() {
                    if !seen[j] && dist(pts[i], pts[j]) <= reach + 1e-6 {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            seen.iter().all(|&s| s)
        })
    }
}

fn point_layer(points: &[((f64, f64), f64)]) -> String {
    collection(
        points
            .iter()
            .enumerate()
            .map(|(i, ((x, y), d))| json!({"type": "Feature", "id": format!("p{i}"), "properties": {"demand": d}, "geometry": {"type": "Point", "coordinates": [X0 + x, Y0 + y]}}))
            .collect(),
    )
}

/// The optimum of the capacitated p-median problem by enumeration: every assignment of the
/// points to `k` non-empty groups within `capacity`, each group served from its best member.
fn brute_force_pmedian(points: &[((f64, f64), f64)], k: usize, capacity: f64) -> f64 {
    let n = points.len();
    let mut label = vec![0usize; n];
    let mut best = f64::INFINITY;
    let group_cost = |members: &[usize]| -> f64 {
        members.iter().map(|&m| members.iter().map(|&i| dist(points[i].0, points[m].0)).sum::<f64>()).fold(f64::INFINITY, f64::min)
    };
    // Canonical labellings (the first point of each group opens it) enumerate each partition once.
    fn rec(i: usize, used: usize, label: &mut Vec<usize>, k: usize, visit: &mut dyn FnMut(&[usize])) {
        if i == label.len() {
            if used == k {
                visit(label);
            }
            return;
        }
        if label.len() - i < k - used {
            return;
        }
        for g in 0..used.min(k) {
            label[i] = g;
            rec(i + 1, used, label, k, visit);
        }
        if used < k {
            label[i] = used;
            rec(i + 1, used + 1, label, k, visit);
        }
    }
    rec(0, 0, &mut label, k, &mut |l: &[usize]| {
        let mut groups = vec![Vec::new(); k];
        for (i, &g) in l.iter().enumerate() {
            groups[g].push(i);
        }
        if groups.iter().any(|m| m.iter().map(|&i| points[i].1).sum::<f64>() > capacity + 1e-9) {
            return;
        }
        let cost: f64 = groups.iter().map(|m| group_cost(m)).sum();
        best = best.min(cost);
    });
    best
}

/// Demand points: ((x, y), demand).
type Points = Vec<((f64, f64), f64)>;

fn pmedian_instance(seed: u64, n: usize) -> (Points, f64) {
    let mut rng = TestRng(seed);
    let points: Vec<((f64, f64), f64)> = (0..n).map(|_| ((300.0 * rng.next(), 200.0 * rng.next()), (1.0 + 8.0 * rng.next()).round())).collect();
    let total: f64 = points.iter().map(|p| p.1).sum();
    (points, (total / 3.0 * 1.15).ceil())
}

const PMEDIAN: [&str; 12] =
    ["--households", "demand", "--objective-weight", "buildings", "--detour-factor", "1", "--no-contiguity", "--grids", "3", "--min-households", "0", "--max-households"];

#[test]
fn exact_capacitated_p_median_equals_brute_force() {
    for seed in [3, 11] {
        let d = tmp(&format!("pmedian-{seed}"));
        let (points, capacity) = pmedian_instance(seed, 12);
        let optimum = brute_force_pmedian(&points, 3, capacity);
        let input = write(&d, "points.geojson", point_layer(&points));
        let cap = capacity.to_string();
        let mut args = PMEDIAN.to_vec();
        args.extend_from_slice(&[cap.as_str(), "--exact"]);
        let r = run(&d, &input, &args);
        assert_eq!(r.code, 0, "{}", r.summary["violations"]);
        assert_eq!(r.grids.len(), 3);
        assert!(r.loads("demand").values().all(|&l| l <= capacity + 1e-9), "capacity {capacity} broken: {:?}", r.loads("demand"));
        let recomputed = r.objective(&|_| 1.0, 1.0);
        // wangge measures in its working frame (a scale-1 transverse Mercator): within 1e-4 of
        // the file's own metres.
        assert!((recomputed - optimum).abs() <= 1e-4 * optimum, "seed {seed}: wangge --exact {recomputed} vs brute force {optimum}");
        let reported = r.summary["objective"]["value"].as_f64().unwrap();
        assert!((reported - recomputed).abs() <= 1e-4 * optimum, "summary says {reported}, files say {recomputed}");
        assert_eq!(r.summary["solution"]["mode"], "exact");
    }
}

#[test]
fn heuristic_p_median_is_bracketed_by_its_bound_and_the_optimum() {
    let d = tmp("pmedian-heuristic");
    let (points, capacity) = pmedian_instance(5, 12);
    let optimum = brute_force_pmedian(&points, 3, capacity);
    let input = write(&d, "points.geojson", point_layer(&points));
    let cap = capacity.to_string();
    let mut args = PMEDIAN.to_vec();
    args.push(cap.as_str());
    let r = run(&d, &input, &args);
    let value = r.objective(&|_| 1.0, 1.0);
    assert!(value >= optimum - 1e-4 * optimum, "heuristic {value} below the optimum {optimum}");
    assert!(r.loads("demand").values().all(|&l| l <= capacity + 1e-9));
    let bound = r.summary["solution"]["lower_bound"].as_f64().expect("a lower bound");
    assert!(bound <= optimum + 1e-4 * optimum, "lower bound {bound} above the optimum {optimum}");
}

/// A 6 × 5 lattice of squares 40 m apart with uneven households (about 1,800 in all).
fn small_lattice() -> String {
    let mut rng = TestRng(17);
    lattice(6, 5, 40.0, &mut |_, _| (30.0 + 60.0 * rng.next()).round())
}

#[test]
fn exact_with_contiguity_is_optimal_connected_and_no_worse_than_the_heuristic() {
    let d = tmp("exact-contiguous");
    let input = write(&d, "b.geojson", small_lattice());
    let hh = |p: &Value| p["households"].as_f64().unwrap();
    let heuristic = run(&d, &input, &[]);
    let h_value = heuristic.objective(&hh, 1.3);
    let exact = run(&d, &input, &["--exact"]);
    assert_eq!(exact.code, 0);
    let e_value = exact.objective(&hh, 1.3);
    assert!((exact.summary["objective"]["value"].as_f64().unwrap() - e_value).abs() < 1e-4 * e_value);
    assert!(exact.grids_connected(40.0 * 2f64.sqrt()), "an exact grid is not connected");
    assert!(exact.loads("households").values().all(|&l| (300.0..=500.0).contains(&l)));
    assert!(e_value <= h_value + 1e-4 * h_value, "exact {e_value} worse than heuristic {h_value}");
    let s = &exact.summary["solution"];
    assert_eq!(s["mode"], "exact");
    let bound = s["lower_bound"].as_f64().unwrap();
    assert!(bound <= e_value * (1.0 + 1e-4) && bound >= e_value * (1.0 - 1e-3), "bound {bound} vs optimum {e_value}");
    // The heuristic's own bound is below the optimum too.
    let hb = heuristic.summary["solution"]["lower_bound"].as_f64().unwrap();
    assert!(hb <= e_value * (1.0 + 1e-4), "heuristic bound {hb} above the optimum {e_value}");
}

#[test]
fn max_walk_holds_for_every_building() {
    let d = tmp("max-walk");
    let input = write(&d, "b.geojson", lattice(16, 4, 40.0, &mut |_, _| 30.0));
    let hh = |p: &Value| p["households"].as_f64().unwrap();
    for limit in [160.0, 200.0] {
        let l = limit.to_string();
        let r = run(&d, &input, &["--max-walk", &l]);
        assert_eq!(r.code, 0, "{}", r.summary["violations"]);
        let c = r.centres();
        let worst = r.buildings.iter().map(|(_, g, a, _)| 1.3 * dist(*a, c[g])).fold(0.0, f64::max);
        assert!(worst <= limit + 1e-6, "a building walks {worst} m, limit {limit}");
        assert!(r.loads("households").values().all(|&l| (300.0..=500.0).contains(&l)));
        assert!(r.objective(&hh, 1.3) > 0.0);
    }
}

#[test]
fn impossible_max_walk_is_declared() {
    let d = tmp("max-walk-infeasible");
    let input = write(&d, "b.geojson", lattice(16, 4, 40.0, &mut |_, _| 30.0));
    // Ten buildings (300 households) cannot lie within 20 m of one centre 40 m apart.
    let r = run(&d, &input, &["--max-walk", "20"]);
    assert_eq!(r.code, 4);
    let v = r.summary["violations"].as_array().unwrap();
    assert!(v.iter().any(|v| v["kind"] == "long_walk" && v["message"].as_str().unwrap().contains("20 m")), "{v:?}");
}

/// Two rows of ten buildings 60 m apart across a stream; a path along each row, joined by a
/// footbridge at the west end only; one building 330 m north of every path.
fn stream_layers(d: &Path) -> (String, String) {
    let mut feats = Vec::new();
    for (row, y) in [0.0, 60.0].into_iter().enumerate() {
        for i in 0..10 {
            let id = row * 10 + i;
            feats.push(json!({"type": "Feature", "id": id, "properties": {"households": 40}, "geometry": square(i as f64 * 40.0, y, 16.0)}));
        }
    }
    feats.push(json!({"type": "Feature", "id": 99, "properties": {"households": 1}, "geometry": square(180.0, 410.0, 16.0)}));
    let roads = collection(vec![
        json!({"type": "Feature", "properties": {"kind": "path"}, "geometry": {"type": "LineString", "coordinates": [[X0 - 20.0, Y0 - 20.0], [X0 + 380.0, Y0 - 20.0]]}}),
        json!({"type": "Feature", "properties": {"kind": "path"}, "geometry": {"type": "LineString", "coordinates": [[X0 - 20.0, Y0 + 80.0], [X0 + 380.0, Y0 + 80.0]]}}),
        json!({"type": "Feature", "properties": {"kind": "bridge"}, "geometry": {"type": "LineString", "coordinates": [[X0 - 20.0, Y0 - 20.0], [X0 - 20.0, Y0 + 80.0]]}}),
        // A motorway across the middle that walkers may not use.
        json!({"type": "Feature", "properties": {"kind": "motorway"}, "geometry": {"type": "LineString", "coordinates": [[X0 + 180.0, Y0 - 20.0], [X0 + 180.0, Y0 + 80.0]]}}),
    ]);
    (write(d, "b.geojson", collection(feats)), write(d, "roads.geojson", &roads))
}

#[test]
fn network_distances_follow_the_paths() {
    let d = tmp("network");
    let (input, roads) = stream_layers(&d);
    let common = ["--grids", "2", "--min-households", "300", "--max-households", "500"];
    // Straight-line walking: two compact blocks, each spanning both rows.
    let straight = run(&d, &input, &common);
    let rows_of = |r: &Outcome, g: u64| -> std::collections::BTreeSet<bool> {
        r.buildings.iter().filter(|(id, gg, _, _)| *gg == g && id != "99").map(|(_, _, a, _)| a.1 > Y0 + 30.0).collect()
    };
    assert!(straight.grids.keys().all(|&g| rows_of(&straight, g).len() == 2), "straight-line grids should span the stream");
    // Over the paths (motorway excluded), crossing the stream is a long way round: one grid per row.
    let mut args = common.to_vec();
    args.extend_from_slice(&["--network", &roads, "--network-filter", "kind=path,bridge"]);
    let net = run(&d, &input, &args);
    assert!(net.grids.keys().all(|&g| rows_of(&net, g).len() == 1), "network grids should keep to one bank");
    assert!(net.summary["objective"]["walk"].as_str().unwrap().contains("network"), "{}", net.summary["objective"]);
    // The building far from every path is reported by id, not dropped.
    let warnings = net.summary["warnings"].to_string();
    assert!(warnings.contains("99"), "unreachable building not reported: {warnings}");
    assert_eq!(net.buildings.len(), 21);
    // With the motorway allowed, the crossing is short again.
    let mut args = common.to_vec();
    args.extend_from_slice(&["--network", &roads]);
    let all_roads = run(&d, &input, &args);
    assert_ne!(all_roads.summary["network"], net.summary["network"], "the filter changed nothing");
    assert!(all_roads.summary["objective"]["value"].as_f64().unwrap() <= net.summary["objective"]["value"].as_f64().unwrap() + 1e-6);
}

#[test]
fn identical_workers_cap_grid_size_and_count() {
    let d = tmp("workers-n");
    // 48 buildings × 50 = 2,400 households.
    let input = write(&d, "b.geojson", lattice(8, 6, 40.0, &mut |_, _| 50.0));
    let r = run(&d, &input, &["--workers", "7", "--worker-capacity", "450"]);
    assert_eq!(r.code, 0, "{}", r.summary["violations"]);
    assert!(r.grids.len() <= 7);
    let loads = r.loads("households");
    assert!(loads.values().all(|&l| (300.0..=450.0).contains(&l)), "{loads:?}");
    let workers: std::collections::BTreeSet<String> = r.grids.values().map(|g| g["worker_id"].as_str().expect("worker_id").to_string()).collect();
    assert_eq!(workers.len(), r.grids.len(), "one worker per grid");
    // Three workers cannot cover 2,400 households at 450 each: six are needed.
    let r = run(&d, &input, &["--workers", "3", "--worker-capacity", "450"]);
    assert_eq!(r.code, 4);
    assert!(r.grids.len() <= 3);
    assert_eq!(r.summary["workers"]["additional_workers_needed"].as_u64().unwrap(), 3, "{}", r.summary["workers"]);
}

#[test]
fn located_workers_serve_the_grid_nearest_home() {
    let d = tmp("workers-file");
    // A strip of 24 × 2 buildings (2,400 households) in three grids, west to east.
    let input = write(&d, "b.geojson", lattice(24, 2, 40.0, &mut |_, _| 50.0));
    let csv = format!(
        "id,capacity,x,y,kind\neast,800,{},{},full-time\nwest,800,{},{},part-time\nmiddle,800,{},{},full-time\nspare,800,{},{},full-time\n",
        X0 + 900.0, Y0 + 20.0, X0 - 50.0, Y0 + 20.0, X0 + 460.0, Y0 + 20.0, X0 + 460.0, Y0 + 3000.0
    );
    let workers = write(&d, "workers.csv", &csv);
    let r = run(&d, &input, &["--grids", "3", "--min-households", "700", "--max-households", "900", "--workers", &workers]);
    assert_eq!(r.code, 0, "{}", r.summary["violations"]);
    let c = r.centres();
    let mut by_x: Vec<(f64, String, Value)> = r.grids.iter().map(|(g, p)| (c[g].0, p["worker_id"].as_str().unwrap().to_string(), p["worker_kind"].clone())).collect();
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    let names: Vec<&str> = by_x.iter().map(|x| x.1.as_str()).collect();
    assert_eq!(names, ["west", "middle", "east"]);
    assert_eq!(by_x[0].2, "part-time");
    assert_eq!(r.summary["workers"]["unassigned_workers"], json!(["spare"]));
    // Every grid within its worker's capacity.
    assert!(r.loads("households").values().all(|&l| l <= 800.0));
}
