//! Oversize buildings split by units or floors, checked on the written outputs with `geo` only:
//! every part in one grid, grids within the bounds, household totals kept exactly, each part's
//! strip inside its grid polygon, the buildings layer still one feature per input feature; and
//! buildings that cannot be split declared with the reason, bad unit counts refused.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::*;
use geo::{Area, BooleanOps, MultiPolygon};
use serde_json::{json, Value};

/// The tower's footprint: 70 m × 15 m, long axis west–east, between lattice rows 3 and 4.
fn tower_geometry() -> Value {
    let (x0, x1, y0, y1) = (X0 + 105.0, X0 + 175.0, Y0 + 132.5, Y0 + 147.5);
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// An 8 × 8 lattice of 40-household buildings (ids 0..63, 20 m squares 40 m apart) and a tower
/// `T` of 900 households with the given extra properties and geometry.
fn block(tower_props: Value, tower_geometry: Value) -> String {
    let mut feats = Vec::new();
    for j in 0..8 {
        for i in 0..8 {
            let id = j * 8 + i;
            feats.push(json!({"type": "Feature", "id": id, "properties": {"households": 40, "population": 100, "units": 1, "floors": 6},
                              "geometry": square(i as f64 * 40.0, j as f64 * 40.0, 20.0)}));
        }
    }
    let mut props = json!({"households": 900, "population": 2250});
    for (k, v) in tower_props.as_object().unwrap() {
        props[k] = v.clone();
    }
    feats.push(json!({"type": "Feature", "id": "T", "properties": props, "geometry": tower_geometry}));
    collection(feats)
}

/// What a split run wrote, read back.
struct Outputs {
    input: Value,
    buildings: Value,
    grids: Value,
    parts: Value,
    summary: Value,
}

fn run_split(name: &str, text: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let d = tmp(name);
    let input = write(&d, "b.geojson", text);
    let out = d.join("out");
    let mut args = vec!["partition", input.as_str(), "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--min-households", "300", "--max-households", "500"];
    args.extend_from_slice(extra);
    (wangge(&args), out)
}

fn read_outputs(text: &str, out: &std::path::Path) -> Outputs {
    Outputs {
        input: serde_json::from_str(text).unwrap(),
        buildings: read_json(out.join("buildings.geojson")),
        grids: read_json(out.join("grids.geojson")),
        parts: read_json(out.join("building_parts.geojson")),
        summary: read_json(out.join("summary.json")),
    }
}

/// The independent checks of a split tower `T` of 900 households: returns the parts' labels.
fn check_split(o: &Outputs, expected_parts: usize) -> Vec<String> {
    let feats = |v: &Value| v["features"].as_array().unwrap().clone();
    let (input, buildings, grids, parts) = (feats(&o.input), feats(&o.buildings), feats(&o.grids), feats(&o.parts));
    // The buildings layer is still one feature per input feature, in order, with its id.
    assert_eq!(buildings.len(), input.len());
    for (a, b) in input.iter().zip(&buildings) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["properties"]["households"], b["properties"]["households"]);
    }
    // Grids: polygons and households, within the bounds, and no violation at all.
    let mut grid_poly: HashMap<u64, MultiPolygon<f64>> = HashMap::new();
    let mut grid_hh: HashMap<u64, f64> = HashMap::new();
    for g in &grids {
        let id = g["properties"]["grid_id"].as_u64().unwrap();
        let hh = g["properties"]["households"].as_f64().unwrap();
        assert!((300.0..=500.0).contains(&hh), "grid {id} holds {hh} households");
        grid_poly.insert(id, multipolygon(&g["geometry"]));
        grid_hh.insert(id, hh);
    }
    assert_eq!(o.summary["violations"], json!([]), "{}", o.summary["violations"]);
    // The parts: one feature each, in exactly one (existing) grid; their households add up to
    // the tower's exactly, in whole numbers; their strips tile the footprint without overlap and
    // each lies inside its grid's polygon.
    assert_eq!(parts.len(), expected_parts);
    let tower = multipolygon(&tower_geometry());
    let mut part_sum = 0.0;
    let mut served: HashMap<u64, f64> = HashMap::new();
    let mut labels = Vec::new();
    let mut by_grid: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut strips: Vec<MultiPolygon<f64>> = Vec::new();
    for p in &parts {
        let pr = &p["properties"];
        assert_eq!(pr["building_id"], json!("T"));
        let grid = pr["grid_id"].as_u64().unwrap();
        assert!(grid_poly.contains_key(&grid), "part in unknown grid {grid}");
        let hh = pr["households"].as_f64().unwrap();
        assert_eq!(hh.fract(), 0.0, "whole households");
        part_sum += hh;
        *served.entry(grid).or_default() += hh;
        let strip = multipolygon(&p["geometry"]);
        let a = strip.unsigned_area();
        assert!(a > 1.0, "part {} has no area", pr["part"]);
        let outside = strip.difference(&grid_poly[&grid]).unsigned_area();
        assert!(outside < 1e-6 * a, "part {} leaves its grid {grid} by {outside} m²", pr["part"]);
        for (k, other) in strips.iter().enumerate() {
            let overlap = strip.intersection(other).unsigned_area();
            assert!(overlap < 1e-6 * a, "parts {k} and {} overlap by {overlap} m²", strips.len());
        }
        labels.push(pr["part"].as_str().unwrap().to_string());
        by_grid.entry(grid).or_default().push(pr["part"].as_str().unwrap().to_string());
        strips.push(strip);
    }
    assert_eq!(part_sum, 900.0);
    let covered: f64 = strips.iter().map(|s| s.unsigned_area()).sum();
    assert!((covered - tower.unsigned_area()).abs() < 1e-6 * tower.unsigned_area(), "strips cover {covered} of {}", tower.unsigned_area());
    // Grid households are what each grid serves: its whole buildings plus its parts.
    let mut total = 0.0;
    for (a, b) in input.iter().zip(&buildings) {
        total += a["properties"]["households"].as_f64().unwrap();
        if b["id"] != json!("T") {
            *served.entry(b["properties"]["grid_id"].as_u64().unwrap()).or_default() += a["properties"]["households"].as_f64().unwrap();
        }
    }
    for (id, hh) in &grid_hh {
        assert_eq!(served.get(id).copied().unwrap_or(0.0), *hh, "grid {id}");
    }
    assert_eq!(grid_hh.values().sum::<f64>(), total);
    assert_eq!(o.summary["households"]["total"].as_f64().unwrap(), total);
    // The tower's feature: the grid holding most of its households (ties: the lower id), all its
    // grids, its parts by grid.
    let t = buildings.iter().find(|b| b["id"] == json!("T")).unwrap();
    let tally: BTreeMap<u64, f64> = parts.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p["properties"]["grid_id"].as_u64().unwrap()).or_default() += p["properties"]["households"].as_f64().unwrap();
        m
    });
    let best = tally.iter().fold((0u64, -1.0), |acc, (&g, &h)| if h > acc.1 { (g, h) } else { acc }).0;
    assert_eq!(t["properties"]["grid_id"].as_u64().unwrap(), best);
    let ids: Vec<String> = tally.keys().map(u64::to_string).collect();
    assert_eq!(t["properties"]["grid_ids"], json!(ids.join(",")));
    let listed = t["properties"]["units_by_grid"].as_str().unwrap();
    let grids_listed: BTreeSet<u64> = listed.split(';').map(|s| s.split(':').next().unwrap().parse().unwrap()).collect();
    assert_eq!(grids_listed, tally.keys().copied().collect());
    // Other buildings carry no split properties.
    assert!(buildings.iter().filter(|b| b["id"] != json!("T")).all(|b| b["properties"].get("grid_ids").is_none()));
    // The summary lists the split.
    let s = &o.summary["split_buildings"];
    assert_eq!(s["count"], json!(1));
    assert_eq!(s["parts"], json!(expected_parts));
    assert_eq!(s["buildings"][0]["id"], json!("T"));
    assert_eq!(s["buildings"][0]["parts"].as_array().unwrap().len(), expected_parts);
    assert_eq!(o.summary["buildings"], json!(input.len()));
    labels
}

#[test]
fn a_tower_is_split_by_units_into_grids_within_bounds() {
    let text = block(json!({"units": 4, "floors": 30}), tower_geometry());
    let (o, out) = run_split("units", &text, &["--units", "units"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files(&out), vec!["building_parts.geojson", "buildings.geojson", "grids.geojson", "summary.json"]);
    let outputs = read_outputs(&text, &out);
    let labels = check_split(&outputs, 4);
    assert_eq!(labels, vec!["U1", "U2", "U3", "U4"]);
    assert_eq!(outputs.summary["split_buildings"]["buildings"][0]["rule"], json!("units"));
    // 900 households in 4 units: 225 each; 2250 people in whole numbers, within one of 562.5.
    let mut people = 0.0;
    for p in outputs.parts["features"].as_array().unwrap() {
        assert_eq!(p["properties"]["households"], json!(225.0));
        let pop = p["properties"]["population"].as_f64().unwrap();
        assert!(pop.fract() == 0.0 && (pop - 562.5).abs() <= 0.5, "{pop}");
        people += pop;
    }
    assert_eq!(people, 2250.0);
}

#[test]
fn without_units_a_tower_is_split_into_bands_of_floors() {
    // Floors are the second source: 30 floors, target 400 → min(30, ceil(900 / 400)) = 3 bands.
    let text = block(json!({"floors": 30}), tower_geometry());
    let (o, out) = run_split("floors", &text, &["--floors", "floors"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let outputs = read_outputs(&text, &out);
    let labels = check_split(&outputs, 3);
    assert_eq!(labels, vec!["F1-10", "F11-20", "F21-30"]);
    assert_eq!(outputs.summary["split_buildings"]["buildings"][0]["rule"], json!("floors"));
    // A single unit does not stop the floors from splitting it.
    let text = block(json!({"units": 1, "floors": 30}), tower_geometry());
    let (o, out) = run_split("floors-one-unit", &text, &["--floors", "floors", "--units", "units"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(check_split(&read_outputs(&text, &out), 3), vec!["F1-10", "F11-20", "F21-30"]);
}

#[test]
fn towers_that_cannot_be_split_are_declared_with_the_reason() {
    let cases: [(&str, Value, Value, &[&str], &str); 3] = [
        ("point", json!({"units": 4}), json!({"type": "Point", "coordinates": [X0 + 140.0, Y0 + 140.0]}), &["--units", "units"], "given as a point"),
        ("one-unit", json!({"units": 1, "floors": 1}), tower_geometry(), &["--units", "units", "--floors", "floors"], "single unit"),
        ("no-column", json!({"units": 4}), tower_geometry(), &[], "no units or floors column"),
    ];
    for (name, props, geometry, args, reason) in cases {
        let text = block(props, geometry);
        let (o, out) = run_split(name, &text, args);
        // Declared and unavoidable: exit 0.
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(!out.join("building_parts.geojson").exists(), "{name}: nothing split, no parts layer");
        let summary = read_json(out.join("summary.json"));
        let v: Vec<&Value> = summary["violations"].as_array().unwrap().iter().filter(|v| v["kind"] == json!("oversize_building")).collect();
        assert_eq!(v.len(), 1, "{name}: {}", summary["violations"]);
        let message = v[0]["message"].as_str().unwrap();
        assert!(message.contains("building T") && message.contains("not split") && message.contains(reason), "{name}: {message}");
        assert_eq!(v[0]["households"], json!(900.0));
        assert_eq!(summary["split_buildings"]["count"], json!(0));
        assert!(summary["split_buildings"]["not_split"][0]["reason"].as_str().unwrap().contains(reason));
        // Still one feature per input feature, none with split properties.
        let b = read_json(out.join("buildings.geojson"));
        assert_eq!(b["features"].as_array().unwrap().len(), 65);
        assert!(b["features"].as_array().unwrap().iter().all(|f| f["properties"].get("grid_ids").is_none()));
    }
}

#[test]
fn bad_unit_counts_are_refused_naming_the_file_the_feature_and_the_value() {
    for (value, shown) in [(json!("four"), "four"), (json!(0), "0"), (json!(2.5), "2.5"), (json!(5000), "5000")] {
        let text = block(json!({"units": value}), tower_geometry());
        let (o, out) = run_split("bad-units", &text, &["--units", "units"]);
        assert_eq!(o.status.code(), Some(3), "{value}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("b.geojson") && e.contains("(id T)") && e.contains("'units'") && e.contains(shown), "{value}: {e}");
        assert!(!out.join("buildings.geojson").exists());
    }
    // A units column the file does not have.
    let text = block(json!({"units": 4}), tower_geometry());
    let (o, _) = run_split("no-units-column", &text, &["--units", "stairwells"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("'stairwells'"), "{}", stderr(&o));
}

#[test]
fn with_micro_grids_units_are_cut_into_floor_bands_and_each_part_has_one_micro_grid() {
    // Micro bounds 30–100: a unit of 225 households is still above 100, so each of the 4 units
    // is cut into min(30, ceil(225 / 65)) = 4 bands of floors: 16 parts.
    let text = block(json!({"units": 4, "floors": 30}), tower_geometry());
    let (o, out) = run_split("micro", &text, &["--units", "units", "--floors", "floors", "--micro-min", "30", "--micro-max", "100"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let outputs = read_outputs(&text, &out);
    let labels = check_split(&outputs, 16);
    assert_eq!(labels[..4], ["U1/F1-8", "U1/F9-16", "U1/F17-23", "U1/F24-30"]);
    let micro = read_json(out.join("micro_grids.geojson"));
    let micro_poly: HashMap<String, (u64, MultiPolygon<f64>, f64)> = micro["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["properties"]["micro_grid_id"].as_str().unwrap().to_string(), (m["properties"]["grid_id"].as_u64().unwrap(), multipolygon(&m["geometry"]), m["properties"]["households"].as_f64().unwrap())))
        .collect();
    for p in outputs.parts["features"].as_array().unwrap() {
        let m = p["properties"]["micro_grid_id"].as_str().unwrap();
        let (grid, poly, hh) = &micro_poly[m];
        assert_eq!(*grid, p["properties"]["grid_id"].as_u64().unwrap(), "part's micro-grid is in its grid");
        let strip = multipolygon(&p["geometry"]);
        assert!(strip.difference(poly).unsigned_area() < 1e-6 * strip.unsigned_area(), "part {} leaves micro-grid {m}", p["properties"]["part"]);
        assert!(*hh <= 100.0, "micro-grid {m} holds {hh}: no part is above the micro maximum");
    }
    assert_eq!(outputs.summary["micro_grids"]["violations"].as_array().map(|v| v.iter().filter(|v| v["kind"] == json!("oversize_building")).count()), Some(0));
}

#[test]
fn the_split_is_deterministic_and_written_in_every_format() {
    let text = block(json!({"units": 4}), tower_geometry());
    let (a, out_a) = run_split("det-a", &text, &["--units", "units"]);
    let (b, out_b) = run_split("det-b", &text, &["--units", "units"]);
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)));
    for f in ["building_parts.geojson", "buildings.geojson", "grids.geojson"] {
        assert_eq!(std::fs::read(out_a.join(f)).unwrap(), std::fs::read(out_b.join(f)).unwrap(), "{f} differs between runs");
    }
    for (format, ext) in [("gpkg", "gpkg"), ("shp", "shp"), ("fgb", "fgb")] {
        let (o, out) = run_split(&format!("fmt-{format}"), &text, &["--units", "units", "--output-format", format]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        let path = out.join(format!("building_parts.{ext}"));
        let layer = wangge::read::read_layer(&path, &["part", "households", "grid_id"]).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(layer.features.len(), 4, "{format}");
        let hh: f64 = layer.features.iter().map(|f| f.attributes[1].as_ref().and_then(Value::as_f64).unwrap()).sum();
        assert_eq!(hh, 900.0, "{format}");
    }
}
