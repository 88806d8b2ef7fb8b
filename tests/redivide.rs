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
        m.entry(result.grids[g as usize].id.to_string()).or_default().insert(input.features[row].id.as_ref().map_or_else(|| row.to_string(), |id| id.to_string()));
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

/// Re-division from the `existing_grid` column at effort 0, changed further by `f`.
fn fast_redivision(f: impl FnOnce(&mut PartitionConfig)) -> PartitionConfig {
    let mut config = PartitionConfig::default();
    config.redivision.existing_column = Some("existing_grid".into());
    config.search.effort = Some(0.0);
    f(&mut config);
    config
}

#[test]
fn an_unchanged_division_is_kept_exactly() {
    let d = tmp("same");
    let (first, grids_path) = first_run(&d);
    let text = changed(&first, 1.0, false);
    let config = fast_redivision(|_| {});
    let input = buildings(&text, &config);
    let r = run(&input, None, &[], &config);
    let red = r.summary.redivision.as_ref().expect("a re-division summary");
    assert_eq!(red.households_moved, 0.0);
    assert_eq!(red.grids_unchanged, r.grids.len());
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
    let config = fast_redivision(|c| c.redivision.locked = vec![wangge::read::FeatureId::Number(locked as i64)]);
    let input = buildings(&text, &config);
    let r = run(&input, None, &[], &config);
    let checked = check(&r, &input, None, &config);
    assert_eq!(checked.out_of_band, 0, "{:?}", r.violations);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    // Locked grid: the same buildings under the same id.
    let before: BTreeSet<String> = first["features"].as_array().unwrap().iter().enumerate().filter(|(_, f)| f["properties"]["grid_id"] == json!(locked)).map(|(k, _)| k.to_string()).collect();
    let after = grid_members(&r, &input);
    assert_eq!(after[&locked.to_string()], before);
    // Few moves: far less than every household, and grids away from both corners untouched.
    let red = r.summary.redivision.as_ref().expect("a re-division summary");
    assert!(red.share_of_households_moved < 0.35, "{red:?}");
    assert!(red.grids_unchanged > 0, "{red:?}");
    let mut existing_members: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (k, f) in first["features"].as_array().unwrap().iter().enumerate() {
        // Demolished buildings are not moves: grids are compared on the buildings that remain.
        if k % NX >= NX - 4 && k / NX >= NY - 3 {
            continue;
        }
        existing_members.entry(f["properties"]["grid_id"].as_u64().unwrap()).or_default().insert(k.to_string());
    }
    let unchanged = existing_members.iter().filter(|(id, m)| after.get(&id.to_string()) == Some(m)).count();
    assert_eq!(unchanged, red.grids_unchanged);
    // New grids are numbered after the largest existing id.
    let max_existing = *existing_members.keys().max().unwrap();
    for change in &red.changes {
        if change.status == wangge::report::redivision::ChangeStatus::New {
            assert!(matches!(change.grid_id, wangge::read::FeatureId::Number(n) if n as u64 > max_existing), "{change:?}");
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

/// The grids of a first run as an existing layer with text ids (`G-001`, ...), each geometry
/// written as the given text; returns the layer and each id's geometry text.
fn text_id_layer(first_grids: &Value) -> (String, BTreeMap<String, String>) {
    let mut texts = BTreeMap::new();
    let mut feats = Vec::new();
    for f in first_grids["features"].as_array().unwrap() {
        let id = format!("G-{:03}", f["properties"]["grid_id"].as_u64().unwrap());
        let geometry = serde_json::to_string(&f["geometry"]).unwrap();
        feats.push(format!(r#"{{"type":"Feature","properties":{{"grid_id":"{id}","name":"网格 {id}"}},"geometry":{geometry}}}"#));
        texts.insert(id, geometry);
    }
    (format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, feats.join(",\n")), texts)
}

#[test]
fn text_ids_are_kept_and_locked_polygons_are_written_as_given() {
    let d = tmp("locked-text");
    let (first, grids_path) = first_run(&d);
    let first_grids = read_json(&grids_path);
    let (existing_text, geometry_of) = text_id_layer(&first_grids);
    let existing_path = write(&d, "existing.geojson", &existing_text);
    // Buildings without a grid column: growth in the south-west, a demolition in the north-east.
    let mut changed_buildings: Value = serde_json::from_str(&changed(&first, 1.5, true)).unwrap();
    for f in changed_buildings["features"].as_array_mut().unwrap() {
        f["properties"].as_object_mut().unwrap().remove("existing_grid");
    }
    let b_path = write(&d, "b.geojson", changed_buildings.to_string());
    // Lock a grid in the middle of the east side and one next to the growth.
    let id_at = |row: usize| format!("G-{:03}", first["features"][row]["properties"]["grid_id"].as_u64().unwrap());
    let locked = [id_at((NY / 2) * NX + NX - 2), id_at(9 * NX + 9)];
    assert_ne!(locked[0], locked[1]);
    let mut config = PartitionConfig::default();
    config.redivision.locked = locked.iter().map(|l| wangge::read::FeatureId::Text(l.clone())).collect();
    config.search.effort = Some(0.0);

    // Library run: independent checks (tiling, bounds, each building in its grid).
    let input = buildings(&changed_buildings.to_string(), &config);
    let cols = wangge::model::existing_columns(&config);
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let existing = wangge::read::parse_geojson(existing_text.clone(), "existing.geojson", &refs).unwrap();
    let layers = wangge::InputLayers { existing: Some(existing.clone()), ..wangge::InputLayers::buildings(input.clone()) };
    let r = wangge::partition_layers(&layers, &config, None, &mut wangge::progress::Progress::hidden()).unwrap();
    let checked = check(&r, &input, None, &config);
    assert_eq!(checked.out_of_band, 0, "{:?}", r.violations);
    let union = geo::unary_union(r.grids.iter().map(|g| &g.polygon));
    let holes: usize = union.0.iter().map(|p| p.interiors().len()).sum();
    assert_eq!((union.0.len(), holes), (1, 0), "the grids tile one area without holes");
    // Ids stay text; new grids continue the codes after the largest.
    assert!(r.grids.iter().all(|g| matches!(g.id, wangge::read::FeatureId::Text(_))));
    let largest = geometry_of.keys().max().unwrap().clone();
    for g in &r.grids {
        let id = g.id.to_string();
        assert!(geometry_of.contains_key(&id) || (id.len() == largest.len() && id > largest), "new id {id} after {largest}");
    }
    // Locked grids: the same buildings, and the polygon as given (same coordinates).
    let after = grid_members(&r, &input);
    for l in &locked {
        let before: BTreeSet<String> = first["features"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(k, f)| !(k % NX >= NX - 4 && k / NX >= NY - 3) && format!("G-{:03}", f["properties"]["grid_id"].as_u64().unwrap()) == *l)
            .map(|(k, _)| k.to_string())
            .collect();
        let relabelled: BTreeSet<String> = after[l].iter().cloned().collect();
        assert_eq!(relabelled.len(), before.len(), "locked grid {l} keeps its number of buildings");
        let g = r.grids.iter().find(|g| g.id.to_string() == *l).unwrap();
        let given = existing.features.iter().find(|f| f.attributes[existing.column_index("grid_id").unwrap()] == Some(json!(l))).unwrap();
        assert_eq!(g.given_geometry.as_ref().map(|x| &x.geometry), given.geometry.as_ref(), "locked grid {l} keeps its geometry");
    }

    // CLI run: the locked geometries are byte-identical in grids.geojson.
    let out = d.join("out");
    let o = wangge(&["partition", &b_path, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--existing", &existing_path, "--locked", &locked.join(",")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read_to_string(out.join("grids.geojson")).unwrap();
    for l in &locked {
        let line = written.lines().find(|x| x.contains(&format!("\"id\":\"{l}\""))).unwrap();
        assert!(line.contains(&format!("\"geometry\":{}}}", geometry_of[l])), "locked grid {l} is written byte for byte");
    }
    let grids_out = read_json(out.join("grids.geojson"));
    assert!(grids_out["features"].as_array().unwrap().iter().all(|f| f["properties"]["grid_id"].is_string()));
}

/// The scenario of the issue on synth_10k (as `scripts/scenario-redivide.sh`, effort 0): a valid
/// plan; 5% more households in the north-west, a 40-building compound removed in the south-east;
/// the stable re-division moves under 10% of the households a fresh division gives another grid
/// id, keeps most grids unchanged, and holds the bounds about as well as the fresh division.
#[test]
fn scenario_on_synth_10k_moves_under_a_tenth_of_a_fresh_division() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/synth_10k");
    let d = tmp("scenario");
    let (territory, barriers) = (data.join("territory.geojson"), data.join("barriers.geojson"));
    let run = |buildings: &std::path::Path, dest: &str, extra: &[&str]| -> Value {
        let out = d.join(dest);
        let mut args = vec!["partition", buildings.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--effort", "0"];
        args.extend(["--territory", territory.to_str().unwrap(), "--barriers", barriers.to_str().unwrap()]);
        args.extend(extra);
        let o = wangge(&args);
        assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
        read_json(out.join("summary.json"))
    };
    run(&data.join("buildings.geojson"), "plan", &[]);
    let mut plan = read_json(d.join("plan/buildings.geojson"));
    let feats = plan["features"].as_array().unwrap().clone();
    let hh = |f: &Value| f["properties"]["households"].as_f64().unwrap();
    let anchor = |f: &Value| {
        let g = &f["geometry"];
        let ring = if g["type"] == "Polygon" { &g["coordinates"][0] } else { &g["coordinates"][0][0] };
        let pts = ring.as_array().unwrap();
        let n = pts.len() as f64;
        (pts.iter().map(|p| p[0].as_f64().unwrap()).sum::<f64>() / n, pts.iter().map(|p| p[1].as_f64().unwrap()).sum::<f64>() / n)
    };
    let pts: Vec<(f64, f64)> = feats.iter().map(anchor).collect();
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    let total: f64 = feats.iter().map(hh).sum();
    let (x_nw, y_nw) = (xs[(0.4 * (xs.len() - 1) as f64) as usize], ys[(0.6 * (ys.len() - 1) as f64) as usize]);
    let nw: BTreeSet<usize> = (0..pts.len()).filter(|&i| pts[i].0 < x_nw && pts[i].1 > y_nw).collect();
    let factor = 1.0 + 0.05 * total / nw.iter().map(|&i| hh(&feats[i])).sum::<f64>();
    let (cx, cy) = (xs[4 * xs.len() / 5], ys[ys.len() / 5]);
    let mut by_distance: Vec<usize> = (0..pts.len()).collect();
    by_distance.sort_by(|&a, &b| {
        let da = (pts[a].0 - cx).powi(2) + (pts[a].1 - cy).powi(2);
        let db = (pts[b].0 - cx).powi(2) + (pts[b].1 - cy).powi(2);
        da.total_cmp(&db).then(a.cmp(&b))
    });
    let removed: BTreeSet<usize> = by_distance[..40].iter().copied().collect();
    let mut changed = Vec::new();
    for (i, f) in feats.iter().enumerate() {
        if removed.contains(&i) {
            continue;
        }
        let mut f = f.clone();
        let p = f["properties"].as_object_mut().unwrap();
        let g = p.remove("grid_id").unwrap();
        p.insert("existing_grid".into(), g);
        if nw.contains(&i) {
            let h = p["households"].as_f64().unwrap();
            p.insert("households".into(), json!((h * factor).round()));
        }
        changed.push(f);
    }
    plan["features"] = Value::Array(changed.clone());
    let changed_path = d.join("changed.geojson");
    std::fs::write(&changed_path, plan.to_string()).unwrap();

    let stable = run(&changed_path, "stable", &["--existing-column", "existing_grid"]);
    let fresh = run(&changed_path, "fresh", &[]);
    let fresh_buildings = read_json(d.join("fresh/buildings.geojson"));
    let hh_after: f64 = changed.iter().map(hh).sum();
    let fresh_other_id: f64 = fresh_buildings["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["grid_id"] != f["properties"]["existing_grid"])
        .map(hh)
        .sum();
    let red = &stable["redivision"];
    let moved = red["households_moved"].as_f64().unwrap();
    assert!(moved < 0.10 * fresh_other_id, "stable moves {moved} households, a fresh division gives {fresh_other_id} another id");
    assert!(red["grids_unchanged"].as_u64().unwrap() as f64 > 0.7 * stable["grids"].as_f64().unwrap(), "{red}");
    // Bounds: every grid out of band is declared, and about as many grids are in band as fresh.
    let in_band = |s: &Value| s["households"]["grids_in_bounds"].as_f64().unwrap();
    assert!(in_band(&stable) >= 0.99 * in_band(&fresh), "stable {} grids in band, fresh {}", in_band(&stable), in_band(&fresh));
    let declared: BTreeSet<String> = stable["violations"].as_array().unwrap().iter().map(|v| v["grid_id"].to_string()).collect();
    for g in read_json(d.join("stable/grids.geojson"))["features"].as_array().unwrap() {
        let h = g["properties"]["households"].as_f64().unwrap();
        if !(300.0..=500.0).contains(&h) {
            assert!(declared.contains(&g["properties"]["grid_id"].to_string()), "grid {} of {h} households is not declared", g["properties"]["grid_id"]);
        }
    }
    assert_eq!(stable["households"]["total"].as_f64().unwrap(), hh_after);
}
