//! Stable re-division: an unchanged division is kept exactly; after households grow in one
//! corner and buildings go in another, grids elsewhere keep their buildings and ids, bounds are
//! restored, locked grids keep their buildings, and the independent checks hold.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::{json, Value};
use wangge::PartitionConfig;

const NX: usize = 24;
const NY: usize = 20;

fn hh(i: usize, j: usize) -> f64 {
    20.0 + ((i * 7 + j * 5) % 7) as f64 * 5.0
}

/// The lattice with each building's grid from a first run in `existing_grid`, households
/// scaled by `grow` in the south-west corner and the buildings of the north-east corner removed.
fn changed(first: &Value, grow: f64, remove: bool) -> String {
    let mut feats = Vec::new();
    for (k, f) in first["features"].as_array().unwrap().iter().enumerate() {
        let (i, j) = (k % NX, k / NX);
        if remove && i >= NX - 4 && j >= NY - 3 {
            continue;
        }
        let mut f = f.clone();
        let p = f["properties"].as_object_mut().unwrap();
        let g = p.remove("grid_id").unwrap();
        p.insert("existing_grid".into(), g);
        if i < 8 && j < 8 {
            p.insert("households".into(), json!((hh(i, j) * grow).round()));
        }
        feats.push(f);
    }
    collection(feats)
}

/// Each grid's buildings (by label), keyed by the grid id as text.
fn grid_members(result: &wangge::Partitioned, input: &wangge::read::Layer) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (row, &g) in result.building_grid.iter().enumerate() {
        m.entry(result.grids[g as usize].id.to_string()).or_default().insert(input.features[row].label());
    }
    m
}

fn first_run(d: &std::path::Path) -> (Value, String) {
    let input = write(d, "b.geojson", lattice(NX, NY, 40.0, &mut hh));
    let out = d.join("first");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--effort", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (read_json(out.join("buildings.geojson")), out.join("grids.geojson").display().to_string())
}

#[test]
fn an_unchanged_division_is_kept_exactly() {
    let d = tmp("same");
    let (first, grids_path) = first_run(&d);
    let text = changed(&first, 1.0, false);
    let config = PartitionConfig { existing_column: Some("existing_grid".into()), effort: Some(0.0), ..Default::default() };
    let input = buildings(&text, &config);
    let r = run(&input, None, &[], &config);
    assert_eq!(r.summary["redivision"]["households_moved"], json!(0.0));
    assert_eq!(r.summary["redivision"]["grids_unchanged"].as_u64().unwrap() as usize, r.grids.len());
    for (row, f) in first["features"].as_array().unwrap().iter().enumerate() {
        assert_eq!(json!(r.grids[r.building_grid[row] as usize].id), f["properties"]["grid_id"]);
    }
    // The same from the grid polygons of the first run.
    let out = d.join("from-polygons");
    let b = write(&d, "changed.geojson", &text);
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--existing", &grids_path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["redivision"]["households_moved"], json!(0.0), "{}", s["redivision"]);
    assert_eq!(s["existing"]["buildings_without_grid"], json!(0));
}

#[test]
fn growth_and_demolition_are_absorbed_with_few_moves_and_locked_grids_kept() {
    let d = tmp("grow");
    let (first, _) = first_run(&d);
    let text = changed(&first, 1.5, true);
    // Lock the grid of the building in the middle of the east side, away from both changes.
    let lock_row = (NY / 2) * NX + NX - 2;
    let locked = first["features"][lock_row]["properties"]["grid_id"].as_u64().unwrap();
    let config = PartitionConfig { existing_column: Some("existing_grid".into()), locked: vec![wangge::read::FeatureId::Number(locked as i64)], effort: Some(0.0), ..Default::default() };
    let input = buildings(&text, &config);
    let r = run(&input, None, &[], &config);
    let checked = check(&r, &input, None, &config);
    assert_eq!(checked.out_of_band, 0, "{}", r.summary["violations"]);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    // Locked grid: the same buildings under the same id.
    let before: BTreeSet<String> = first["features"].as_array().unwrap().iter().enumerate().filter(|(_, f)| f["properties"]["grid_id"] == json!(locked)).map(|(k, _)| k.to_string()).collect();
    let after = grid_members(&r, &input);
    assert_eq!(after[&locked.to_string()], before);
    // Few moves: far less than every household, and grids away from both corners untouched.
    let red = &r.summary["redivision"];
    let share = red["share_of_households_moved"].as_f64().unwrap();
    assert!(share < 0.35, "{red}");
    assert!(red["grids_unchanged"].as_u64().unwrap() > 0, "{red}");
    let mut existing_members: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (k, f) in first["features"].as_array().unwrap().iter().enumerate() {
        // Demolished buildings are not moves: grids are compared on the buildings that remain.
        if k % NX >= NX - 4 && k / NX >= NY - 3 {
            continue;
        }
        existing_members.entry(f["properties"]["grid_id"].as_u64().unwrap()).or_default().insert(k.to_string());
    }
    let unchanged = existing_members.iter().filter(|(id, m)| after.get(&id.to_string()) == Some(m)).count();
    assert_eq!(unchanged as u64, red["grids_unchanged"].as_u64().unwrap());
    // New grids are numbered after the largest existing id.
    let max_existing = *existing_members.keys().max().unwrap();
    for change in red["changes"].as_array().unwrap() {
        if change["status"] == "new" {
            assert!(change["grid_id"].as_u64().unwrap() > max_existing);
        }
    }
}

#[test]
fn bad_existing_options_are_named() {
    let d = tmp("bad");
    let (first, _) = first_run(&d);
    let b = write(&d, "changed.geojson", changed(&first, 1.0, false));
    let out = d.join("out");
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--existing-column", "existing_grid", "--locked", "9999"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("9999"), "{}", stderr(&o));
    // A grid id that is neither a whole number nor text.
    let mut odd: Value = serde_json::from_str(&changed(&first, 1.0, false)).unwrap();
    odd["features"][5]["properties"]["existing_grid"] = json!(2.5);
    let odd = write(&d, "odd.geojson", odd.to_string());
    let o = wangge(&["partition", &odd, "-o", out.to_str().unwrap(), "-q", "--existing-column", "existing_grid"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("odd.geojson") && stderr(&o).contains("'existing_grid'") && stderr(&o).contains("2.5"), "{}", stderr(&o));
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--locked", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--existing-column", "existing_grid", "--stability", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--stability", "0.5"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Two existing polygons with one id.
    let dup = write(&d, "dup.geojson", collection(vec![
        json!({"type": "Feature", "properties": {"grid_id": 4}, "geometry": square(100.0, 100.0, 200.0)}),
        json!({"type": "Feature", "properties": {"grid_id": 4}, "geometry": square(500.0, 100.0, 200.0)}),
    ]));
    let o = wangge(&["partition", &b, "-o", out.to_str().unwrap(), "-q", "--existing", &dup]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("dup.geojson") && stderr(&o).contains("grid id 4 is also the id of feature"), "{}", stderr(&o));
}
