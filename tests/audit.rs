//! `wangge check` and `wangge repair` on a layer with injected defects of known position and
//! area: each is found exactly, nothing else is; the repair passes the check and tiles the
//! territory; a clean layer is left as it is.

mod common;

use std::path::Path;

use common::{tmp, wangge, X0, Y0};
use geo::{Area, MultiPolygon};
use serde_json::{json, Value};

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.display().to_string()
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A ring of (x, y) metres from the origin, closed unless `open`.
fn ring(pts: &[(f64, f64)], open: bool) -> Value {
    let mut v: Vec<Value> = pts.iter().map(|(x, y)| json!([X0 + x, Y0 + y])).collect();
    if !open {
        v.push(v[0].clone());
    }
    Value::Array(v)
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
}

fn polygon(rings: Vec<Value>) -> Value {
    json!({"type": "Polygon", "coordinates": rings})
}

fn feature(id: u32, geometry: Value) -> Value {
    json!({"type": "Feature", "properties": {"grid_id": id, "name": format!("网格{id}")}, "geometry": geometry})
}

fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}, "features": features})
}

/// Cell `id` (1..16) of a 4 × 4 tiling of 100 m squares, row by row from the south-west.
fn cell(id: u32) -> (f64, f64, f64, f64) {
    let (c, r) = (((id - 1) % 4) as f64, ((id - 1) / 4) as f64);
    (c * 100.0, r * 100.0, c * 100.0 + 100.0, r * 100.0 + 100.0)
}

fn clean_layer() -> Vec<Value> {
    (1..=16).map(|id| {
        let (a, b, c, d) = cell(id);
        feature(id, polygon(vec![ring(&rect(a, b, c, d), false)]))
    }).collect()
}

/// The clean tiling with every defect of the module documentation injected.
fn defective_layer() -> Vec<Value> {
    let mut f = clean_layer();
    // Overlap: grid 1 reaches 10 m into grid 2 (1,000 m²).
    f[0] = feature(1, polygon(vec![ring(&rect(0.0, 0.0, 110.0, 100.0), false)]));
    // Unclosed exterior ring on grid 3.
    let (a, b, c, d) = cell(3);
    f[2] = feature(3, polygon(vec![ring(&rect(a, b, c, d), true)]));
    // A 20 m × 20 m hole inside grid 6 (400 m²).
    f[5] = feature(6, polygon(vec![ring(&rect(100.0, 100.0, 200.0, 200.0), false), ring(&rect(140.0, 140.0, 160.0, 160.0), false)]));
    // Bow-ties: grid 8 takes the west and east triangles of its cell, a new grid 18 the others.
    let bow = |pts: [(f64, f64); 4]| polygon(vec![ring(&pts, false)]);
    f[7] = feature(8, bow([(300.0, 100.0), (400.0, 200.0), (400.0, 100.0), (300.0, 200.0)]));
    f.push(feature(18, bow([(300.0, 100.0), (400.0, 100.0), (300.0, 200.0), (400.0, 200.0)])));
    // Grid 9 has a 20 m hole filled by a detached piece of grid 10 (400 m²).
    f[8] = feature(9, polygon(vec![ring(&rect(0.0, 200.0, 100.0, 300.0), false), ring(&rect(40.0, 240.0, 60.0, 260.0), false)]));
    f[9] = feature(10, json!({"type": "MultiPolygon", "coordinates": [[ring(&rect(100.0, 200.0, 200.0, 300.0), false)], [ring(&rect(40.0, 240.0, 60.0, 260.0), false)]]}));
    // Sliver: grid 11's east edge pulled in by 1 cm over 50 m (0.5 m²).
    f[10] = feature(11, polygon(vec![ring(&[(200.0, 200.0), (300.0, 200.0), (300.0, 220.0), (299.99, 220.0), (299.99, 270.0), (300.0, 270.0), (300.0, 300.0), (200.0, 300.0)], false)]));
    // Edge gap: a notch 6 m wide and 30 m deep at the north edge between grids 13 and 14 (180 m²).
    f[12] = feature(13, polygon(vec![ring(&[(0.0, 300.0), (100.0, 300.0), (100.0, 370.0), (97.0, 370.0), (97.0, 400.0), (0.0, 400.0)], false)]));
    f[13] = feature(14, polygon(vec![ring(&[(100.0, 300.0), (200.0, 300.0), (200.0, 400.0), (103.0, 400.0), (103.0, 370.0), (100.0, 370.0)], false)]));
    // Duplicate of grid 16.
    let (a, b, c, d) = cell(16);
    f.push(feature(17, polygon(vec![ring(&rect(a, b, c, d), false)])));
    // No geometry.
    f.push(json!({"type": "Feature", "properties": {"grid_id": 19}, "geometry": null}));
    f
}

fn buildings() -> Value {
    let b = |id: &str, hh: f64, r: Vec<(f64, f64)>| json!({"type": "Feature", "id": id, "properties": {"households": hh}, "geometry": polygon(vec![ring(&r, false)])});
    collection(vec![
        b("split", 40.0, rect(92.0, 120.0, 104.0, 130.0)),
        b("in_hole", 30.0, rect(145.0, 145.0, 155.0, 155.0)),
        b("in_overlap", 20.0, rect(102.0, 40.0, 108.0, 60.0)),
        b("fine", 50.0, rect(340.0, 40.0, 360.0, 60.0)),
    ])
}

/// (kind, grid ids, area) of every issue, sorted.
fn found(issues: &Value) -> Vec<(String, Vec<i64>, f64, Value)> {
    let mut v: Vec<(String, Vec<i64>, f64, Value)> = issues["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["kind"].as_str().unwrap().to_string(),
                p["grid_ids"].as_array().unwrap().iter().map(|g| g.as_i64().unwrap()).collect(),
                p["area_m2"].as_f64().unwrap(),
                p["building_id"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.3.to_string().cmp(&b.3.to_string())));
    v
}

fn expected(with_buildings: bool) -> Vec<(&'static str, Vec<i64>, f64, Value)> {
    let mut e = vec![
        ("gap", vec![6], 400.0, Value::Null),
        ("gap", vec![13, 14], 180.0, Value::Null),
        ("gap_sliver", vec![11, 12], 0.5, Value::Null),
        ("invalid_geometry", vec![3], 0.0, Value::Null),
        ("invalid_geometry", vec![8], 0.0, Value::Null),
        ("invalid_geometry", vec![18], 0.0, Value::Null),
        ("invalid_geometry", vec![19], 0.0, Value::Null),
        ("multipart", vec![10], 400.0, Value::Null),
        ("overlap", vec![1, 2], 1000.0, Value::Null),
        ("overlap", vec![16, 17], 10000.0, Value::Null),
    ];
    if with_buildings {
        e.push(("multi_claimed_building", vec![1, 2], 120.0, json!("in_overlap")));
        e.push(("split_building", vec![5, 6], 120.0, json!("split")));
        e.push(("unserved_building", vec![], 100.0, json!("in_hole")));
    }
    e.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)).then(a.3.to_string().cmp(&b.3.to_string())));
    e
}

fn assert_found(issues: &Value, with_buildings: bool) {
    let got = found(issues);
    let want = expected(with_buildings);
    let show = |v: &[(String, Vec<i64>, f64, Value)]| v.iter().map(|x| format!("{} {:?} {:.3} {}", x.0, x.1, x.2, x.3)).collect::<Vec<_>>().join("\n");
    assert_eq!(got.len(), want.len(), "found:\n{}", show(&got));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.0.as_str(), &g.1, &g.3), (w.0, &w.1, &w.3), "found:\n{}", show(&got));
        assert!((g.2 - w.2).abs() <= 1e-3 * w.2.max(1.0), "{} {:?}: area {} instead of {}", g.0, g.1, g.2, w.2);
    }
}

#[test]
fn check_finds_every_injected_defect_and_nothing_else() {
    let d = tmp("defects");
    let grids = write_json(&d, "grids.geojson", &collection(defective_layer()));
    let territory = write_json(&d, "territory.geojson", &collection(vec![json!({"type": "Feature", "properties": {}, "geometry": polygon(vec![ring(&rect(0.0, 0.0, 400.0, 400.0), false)])})]));
    let b = write_json(&d, "buildings.geojson", &buildings());
    // With the territory and buildings.
    let out = d.join("with");
    let o = wangge(&["check", &grids, "--territory", &territory, "--buildings", &b, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let issues = read(&out.join("issues.geojson"));
    assert_found(&issues, true);
    // Locations: the bow-ties cross at the cell centre; the unclosed ring starts at its first point.
    for f in issues["features"].as_array().unwrap() {
        let p = &f["properties"];
        let ids = p["grid_ids"].as_array().unwrap();
        if p["kind"] == "invalid_geometry" && (ids[0] == 8 || ids[0] == 18) {
            let c = &f["geometry"]["coordinates"];
            assert!((c[0].as_f64().unwrap() - (X0 + 350.0)).abs() < 1e-6 && (c[1].as_f64().unwrap() - (Y0 + 150.0)).abs() < 1e-6, "{f}");
        }
        if p["kind"] == "gap" && ids.len() == 2 {
            assert!(p["message"].as_str().unwrap().contains("open to the territory's edge"), "{p}");
        }
        if p["kind"] == "overlap" && ids[0] == 16 {
            assert!(p["message"].as_str().unwrap().contains("duplicate"), "{p}");
        }
    }
    let summary = read(&out.join("summary.json"));
    assert_eq!(summary["clean"], false);
    assert_eq!(summary["counts"]["overlap"], 2);
    // Without a territory the same gaps are found: the hole, and the notch open to the outer edge.
    let o = wangge(&["check", &grids, "--json", "-", "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_found(&doc["issues"], false);
}

#[test]
fn grids_outside_the_household_bounds_are_reported() {
    let d = tmp("bounds");
    let grids = write_json(&d, "grids.geojson", &collection(clean_layer()));
    let b = |id: u32, hh: f64| {
        let (a, b0, _, _) = cell(id);
        json!({"type": "Feature", "id": format!("b{id}"), "properties": {"households": hh}, "geometry": {"type": "Point", "coordinates": [X0 + a + 50.0, Y0 + b0 + 50.0]}})
    };
    let blds = write_json(&d, "b.geojson", &collection((1..=16).map(|id| b(id, if id == 7 { 250.0 } else if id == 9 { 620.0 } else { 400.0 })).collect()));
    let o = wangge(&["check", &grids, "--buildings", &blds, "--min-households", "300", "--max-households", "500", "--json", "-", "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let got = found(&doc["issues"]);
    assert_eq!(got.iter().map(|g| (g.0.as_str(), g.1.clone())).collect::<Vec<_>>(), vec![("households_out_of_bounds", vec![7]), ("households_out_of_bounds", vec![9])]);
}

fn union_area_and_overlap(features: &[Value]) -> (f64, f64) {
    let shapes: Vec<MultiPolygon<f64>> = features
        .iter()
        .map(|f| {
            let g: geo::Geometry<f64> = serde_json::from_value::<geojson::Geometry>(f["geometry"].clone()).unwrap().try_into().unwrap();
            match g {
                geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(mp) => mp,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    let total: f64 = shapes.iter().map(|s| s.unsigned_area()).sum();
    let union = geo::unary_union(shapes.iter());
    (union.unsigned_area(), total - union.unsigned_area())
}

#[test]
fn repair_leaves_no_gap_or_overlap_and_passes_the_check() {
    let d = tmp("repair");
    let grids = write_json(&d, "grids.geojson", &collection(defective_layer()));
    let territory = write_json(&d, "territory.geojson", &collection(vec![json!({"type": "Feature", "properties": {}, "geometry": polygon(vec![ring(&rect(0.0, 0.0, 400.0, 400.0), false)])})]));
    let out = d.join("fixed");
    let o = wangge(&["repair", &grids, "--territory", &territory, "-o", out.to_str().unwrap(), "-q"]);
    // Grid 19 has no geometry: it cannot be repaired, so the repair is not a success (exit 1),
    // even with -q, and says why.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("1 problems remain unresolved") && stderr.contains("grid 19") && stderr.contains("null geometry"), "{stderr}");
    let fixed = read(&out.join("grids.geojson"));
    let feats = fixed["features"].as_array().unwrap();
    // The duplicate is removed; ids and attributes are kept.
    let ids: Vec<i64> = feats.iter().map(|f| f["properties"]["grid_id"].as_i64().unwrap()).collect();
    assert!(!ids.contains(&17) && ids.contains(&16) && ids.contains(&18), "{ids:?}");
    assert!(feats.iter().all(|f| f["properties"]["grid_id"] == 19 || f["properties"]["name"].as_str().unwrap().starts_with("网格")));
    // Independent check of the tiling: union = the territory, no overlap.
    let with_geometry: Vec<Value> = feats.iter().filter(|f| !f["geometry"].is_null()).cloned().collect();
    let (union, overlap) = union_area_and_overlap(&with_geometry);
    assert!((union - 160_000.0).abs() < 1e-3, "union {union}");
    assert!(overlap < 1e-3, "overlap {overlap}");
    let report = read(&out.join("repair.json"));
    assert_eq!(report["overlaps_resolved"], 1, "{report}");
    assert_eq!(report["removed"], 1);
    assert_eq!(report["gaps_filled"], 3);
    assert_eq!(report["clean"], false);
    let unresolved = report["unresolved"].as_array().unwrap();
    assert_eq!(unresolved.len(), 1, "{unresolved:?}");
    assert!(unresolved[0].as_str().unwrap().contains("grid 19"), "{unresolved:?}");
    // The repaired layer passes the check (the feature without geometry stays reported).
    let o = wangge(&["check", out.join("grids.geojson").to_str().unwrap(), "--territory", &territory, "--json", "-", "-q"]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let left = found(&doc["issues"]);
    assert_eq!(left.iter().map(|x| (x.0.as_str(), x.1.clone())).collect::<Vec<_>>(), vec![("invalid_geometry", vec![19])], "{left:?}");
}

#[test]
fn repairing_a_clean_layer_changes_nothing() {
    let d = tmp("clean");
    let text = collection(clean_layer());
    let grids = write_json(&d, "grids.geojson", &text);
    let o = wangge(&["check", &grids, "--json", "-", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let out = d.join("fixed");
    let o = wangge(&["repair", &grids, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0));
    let fixed = read(&out.join("grids.geojson"));
    assert_eq!(fixed["features"], text["features"]);
    assert_eq!(read(&out.join("repair.json"))["grids_changed"], 0);
}

#[test]
fn lon_lat_layers_are_measured_in_metres() {
    // Two 0.001° squares near Shanghai overlapping by 0.0001° of longitude.
    let sq = |x0: f64, x1: f64| polygon(vec![Value::Array(vec![json!([x0, 31.2]), json!([x1, 31.2]), json!([x1, 31.201]), json!([x0, 31.201]), json!([x0, 31.2])])]);
    let layer = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"grid_id": 1}, "geometry": sq(121.4, 121.4011)},
        {"type": "Feature", "properties": {"grid_id": 2}, "geometry": sq(121.401, 121.402)}
    ]});
    let d = tmp("lonlat");
    let grids = write_json(&d, "grids.geojson", &layer);
    let o = wangge(&["check", &grids, "--json", "-", "-q"]);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let got = found(&doc["issues"]);
    assert_eq!(got.len(), 1, "{got:?}");
    // 0.0001° of longitude at 31.2° N ≈ 9.52 m, 0.001° of latitude ≈ 110.9 m: about 1,056 m².
    assert_eq!(got[0].0, "overlap");
    assert!((got[0].2 - 1056.0).abs() < 15.0, "area {}", got[0].2);
    // Output geometry back in degrees.
    let c = &doc["issues"]["features"][0]["geometry"]["coordinates"][0][0][0];
    assert!(c[0].as_f64().unwrap() > 121.0 && c[0].as_f64().unwrap() < 122.0, "{c}");
}
