//! Households and population from other sources: a households table joined on a key, and
//! population totals per zone shared by floor area. Checked through the CLI's outputs.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

const NX: usize = 14;
const NY: usize = 12;
const STEP: f64 = 40.0;

fn households(i: usize, j: usize) -> f64 {
    20.0 + ((i * 7 + j * 3) % 9) as f64 * 5.0
}

/// Lattice buildings with a `code` key ("B-<n>"), a `floors` column, and households only when asked.
fn buildings(with_households: bool) -> String {
    let mut feats = Vec::new();
    for j in 0..NY {
        for i in 0..NX {
            let n = j * NX + i;
            let mut props = json!({"code": format!("B-{n}"), "floors": 1 + (i + 2 * j) % 6});
            if with_households {
                props["households"] = json!(households(i, j));
            }
            feats.push(json!({"type": "Feature", "id": n, "properties": props, "geometry": square(i as f64 * STEP, j as f64 * STEP, 16.0 + (n % 3) as f64 * 4.0)}));
        }
    }
    collection(feats)
}

fn grid_ids(dir: &Path) -> Vec<Value> {
    let b = read_json(dir.join("buildings.geojson"));
    b["features"].as_array().unwrap().iter().map(|f| f["properties"]["grid_id"].clone()).collect()
}

fn args<'a>(input: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["partition", input, "-o", out.to_str().unwrap(), "-q", "--min-households", "300", "--max-households", "500", "--effort", "0"];
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_households_table_gives_the_same_grids_as_the_column() {
    let d = tmp("table");
    let with = write(&d, "with.geojson", buildings(true));
    let without = write(&d, "without.geojson", buildings(false));
    // Each building's households split over two rows (summed per key), two rows matching nothing.
    let mut csv = String::from("code,households,note\n");
    for j in 0..NY {
        for i in 0..NX {
            let n = j * NX + i;
            let h = households(i, j);
            csv.push_str(&format!("B-{n},{},first\nB-{n},{},\"second, quoted\"\n", h - 5.0, 5.0));
        }
    }
    csv.push_str("B-9999,17,ghost\nX-1,3,ghost\n");
    let table = write(&d, "hh.csv", &csv);
    let reference = d.join("reference");
    let o = wangge(&args(&with, &reference, &[]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let joined = d.join("joined");
    let o = wangge(&args(&without, &joined, &["--households-table", &table, "--join-on", "code"]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    assert_eq!(grid_ids(&joined), grid_ids(&reference));
    let s = read_json(joined.join("summary.json"));
    let r = &s["households_table"];
    assert_eq!(r["rows"], json!(2 * NX * NY + 2));
    assert_eq!(r["matched_rows"], json!(2 * NX * NY));
    assert_eq!(r["unmatched_rows"], json!(2));
    assert_eq!(r["unmatched_households"], json!(20.0));
    assert_eq!(r["unmatched"][0], json!({"row": format!("line {}", 2 * NX * NY + 2), "key": "B-9999"}));
    assert_eq!(r["buildings_without_row"], json!(0));
    let total: f64 = (0..NY).flat_map(|j| (0..NX).map(move |i| households(i, j))).sum();
    assert_eq!(s["households"]["total"], json!(total));
    // The joined counts are written on each building.
    let b = read_json(joined.join("buildings.geojson"));
    for (k, f) in b["features"].as_array().unwrap().iter().enumerate() {
        let (i, j) = (k % NX, k / NX);
        assert_eq!(f["properties"]["households"], json!(households(i, j)));
        assert_eq!(f["properties"]["code"], json!(format!("B-{k}")));
    }
}

#[test]
fn a_register_of_one_row_per_household_in_gbk_counts_rows() {
    let d = tmp("register");
    let without = write(&d, "without.geojson", buildings(false));
    let mut csv = String::from("楼栋编码;户主\n");
    for j in 0..NY {
        for i in 0..NX {
            // Building 5 has no row at all.
            let n = j * NX + i;
            if n == 5 {
                continue;
            }
            for h in 0..households(i, j) as usize {
                csv.push_str(&format!("B-{n};住户{h}\n"));
            }
        }
    }
    let (gbk, _, _) = encoding_rs::GBK.encode(&csv);
    let table = write(&d, "register.csv", gbk.as_ref());
    let out = d.join("out");
    let o = wangge(&args(&without, &out, &["--households-table", &table, "--join-on", "code=楼栋编码"]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let s = read_json(out.join("summary.json"));
    let r = &s["households_table"];
    assert_eq!(r["buildings_without_row"], json!(1));
    assert_eq!(r["buildings_without_row_ids"], json!(["5"]));
    assert!(r["households_from"].as_str().unwrap().contains("one row per household"));
    assert!(s["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("have no row")));
    let b = read_json(out.join("buildings.geojson"));
    for (k, f) in b["features"].as_array().unwrap().iter().enumerate() {
        let expected = if k == 5 { 0.0 } else { households(k % NX, k / NX) };
        assert_eq!(f["properties"]["households"], json!(expected), "building {k}");
    }
}

/// Two zones splitting the lattice at x = 6.5 steps: (population, households).
fn zones_layer() -> String {
    let split = 6.5 * STEP;
    let (w, h) = (NX as f64 * STEP, NY as f64 * STEP);
    let rect = |x0: f64, x1: f64| json!({"type": "Polygon", "coordinates": [[[X0 + x0, Y0 - 20.0], [X0 + x1, Y0 - 20.0], [X0 + x1, Y0 + h], [X0 + x0, Y0 + h], [X0 + x0, Y0 - 20.0]]]});
    collection(vec![
        json!({"type": "Feature", "id": "west", "properties": {"pop": 5001, "hh": 1800}, "geometry": rect(-20.0, split)}),
        json!({"type": "Feature", "id": "east", "properties": {"pop": 3000, "hh": 1250}, "geometry": rect(split, w)}),
        json!({"type": "Feature", "id": "empty", "properties": {"pop": 77, "hh": 30}, "geometry": rect(w + 100.0, w + 200.0)}),
    ])
}

/// Sum of a property over buildings, per zone side (west: i <= 6).
fn per_zone(out: &Path, key: &str) -> (f64, f64, Vec<(usize, f64)>) {
    let b = read_json(out.join("buildings.geojson"));
    let (mut west, mut east) = (0.0, 0.0);
    let mut values = Vec::new();
    for (k, f) in b["features"].as_array().unwrap().iter().enumerate() {
        let v = f["properties"][key].as_f64().unwrap_or_else(|| panic!("building {k} has no {key}"));
        assert_eq!(v.fract(), 0.0, "whole counts");
        if k % NX <= 6 {
            west += v;
        } else {
            east += v;
        }
        values.push((k, v));
    }
    (west, east, values)
}

#[test]
fn zone_totals_are_shared_by_floor_area_and_kept_exactly() {
    let d = tmp("zones");
    let input = write(&d, "b.geojson", buildings(false));
    let zones = write(&d, "zones.geojson", zones_layer());
    let out = d.join("out");
    let o = wangge(&args(&input, &out, &["--population-zones", &zones, "--zone-population", "pop", "--floors", "floors", "--persons-per-household", "2.5"]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let (west, east, pop) = per_zone(&out, "population");
    assert_eq!((west, east), (5001.0, 3000.0));
    let (hw, he, _) = per_zone(&out, "households");
    assert_eq!((hw, he), ((5001.0f64 / 2.5).round(), 1200.0));
    // Within a zone, population follows footprint area × floors to within one person.
    let b = read_json(out.join("buildings.geojson"));
    let feats = b["features"].as_array().unwrap();
    let floor_area = |k: usize| {
        let side = 16.0 + (k % 3) as f64 * 4.0;
        side * side * feats[k]["properties"]["floors"].as_f64().unwrap()
    };
    let west_area: f64 = (0..NX * NY).filter(|k| k % NX <= 6).map(floor_area).sum();
    for (k, p) in pop.iter().filter(|(k, _)| k % NX <= 6) {
        let exact = 5001.0 * floor_area(*k) / west_area;
        assert!((p - exact).abs() < 1.0, "building {k}: {p} vs {exact}");
    }
    let s = read_json(out.join("summary.json"));
    let r = &s["population_zones"];
    assert_eq!(r["population_total"], json!(8078.0));
    assert_eq!(r["population_placed"], json!(8001.0));
    assert_eq!(r["empty_zones"][0]["zone"], json!("empty"));
    assert_eq!(r["buildings_outside"], json!(0));
    assert_eq!(s["population"]["total"], json!(8001.0));
    assert_eq!(s["households"]["total"], json!(3200.0));
    // A zone household column wins over persons per household.
    let out2 = d.join("out2");
    let o = wangge(&args(&input, &out2, &["--population-zones", &zones, "--zone-population", "pop", "--zone-households", "hh"]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let (hw, he, _) = per_zone(&out2, "households");
    assert_eq!((hw, he), (1800.0, 1250.0));
}

#[test]
fn buildings_outside_every_zone_get_no_population() {
    let d = tmp("outside");
    let input = write(&d, "b.geojson", buildings(true));
    let split = 3.5 * STEP;
    let h = NY as f64 * STEP;
    let zone = collection(vec![json!({"type": "Feature", "properties": {"pop": 100}, "geometry": {"type": "Polygon", "coordinates": [[[X0 - 20.0, Y0 - 20.0], [X0 + split, Y0 - 20.0], [X0 + split, Y0 + h], [X0 - 20.0, Y0 + h], [X0 - 20.0, Y0 - 20.0]]]}})]);
    let zones = write(&d, "zones.geojson", zone);
    let out = d.join("out");
    let o = wangge(&args(&input, &out, &["--population-zones", &zones, "--zone-population", "pop"]));
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let s = read_json(out.join("summary.json"));
    let r = &s["population_zones"];
    assert_eq!(r["buildings_outside"], json!(NY * (NX - 4)));
    assert_eq!(r["households_from"], json!("the buildings' 'households' column"));
    let (_, _, pop) = per_zone(&out, "population");
    let inside: f64 = pop.iter().filter(|(k, _)| k % NX <= 3).map(|(_, p)| p).sum();
    let outside: f64 = pop.iter().filter(|(k, _)| k % NX > 3).map(|(_, p)| p).sum();
    assert_eq!((inside, outside), (100.0, 0.0));
    // Households stay those of the buildings (not written again).
    let b = read_json(out.join("buildings.geojson"));
    assert_eq!(b["features"][0]["properties"]["households"], json!(households(0, 0)));
}

#[test]
fn bad_tables_and_zones_are_named() {
    let d = tmp("errors");
    let without = write(&d, "without.geojson", buildings(false));
    let table = write(&d, "hh.csv", "code,households\nB-0,12\nB-1,twelve\n");
    let run = |extra: &[&str]| {
        let out = d.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let o = wangge(&args(&without, &out, extra));
        (o.status.code(), stderr(&o), out.exists() && std::fs::read_dir(&out).unwrap().next().is_some())
    };
    let (code, err, wrote) = run(&["--households-table", &table]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--join-on"), "{err}");
    assert!(!wrote);
    let (code, err, wrote) = run(&["--households-table", &table, "--join-on", "code"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("hh.csv") && err.contains("line 3") && err.contains("twelve"), "{err}");
    assert!(!wrote);
    let (code, err, _) = run(&["--households-table", &table, "--join-on", "nope"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("'nope'") && err.contains("without.geojson"), "{err}");
    let (code, err, _) = run(&["--households-table", &table, "--join-on", "code=nope"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("'nope'") && err.contains("hh.csv"), "{err}");
    let zones = write(&d, "zones.geojson", zones_layer());
    let (code, err, _) = run(&["--population-zones", &zones, "--zone-population", "people", "--persons-per-household", "3"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("zones.geojson") && err.contains("'people'"), "{err}");
    let (code, err, _) = run(&["--population-zones", &zones, "--persons-per-household", "3"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--zone-population"), "{err}");
    // Without any household source the missing column is named.
    let (code, err, _) = run(&["--population-zones", &zones, "--zone-population", "pop"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("households"), "{err}");
}
