//! Micro-grids and grid codes, checked on the written outputs with `geo` only: every micro-grid
//! lies in its grid's polygon and together they make it up, bounds hold or are declared, each
//! building lies in its micro-grid, ids and codes encode the nesting.

mod common;

use std::collections::HashMap;

use common::*;
use geo::{Area, BooleanOps, Contains, InteriorPoint, MultiPolygon};
use serde_json::Value;

#[test]
fn micro_grids_nest_exactly_and_codes_encode_the_nesting() {
    micro_grids_nest_exactly("micro", false);
}

/// The same with streets across the lattice (cells stop at them, shared arcs simplified).
#[test]
fn micro_grids_nest_exactly_with_streets() {
    micro_grids_nest_exactly("micro-streets", true);
}

fn micro_grids_nest_exactly(name: &str, with_streets: bool) {
    let d = tmp(name);
    // A 16 × 14 lattice with a few buildings above the micro maximum.
    let text = lattice(16, 14, 40.0, &mut |i, j| if (i * 5 + j * 3) % 37 == 0 { 140.0 } else { 12.0 + ((i * 7 + j * 11) % 9) as f64 * 4.0 });
    let input = write(&d, "b.geojson", &text);
    let streets = write(&d, "streets.geojson", lines_layer(&[vec![(-40.0, 140.0), (660.0, 150.0)], vec![(300.0, -40.0), (290.0, 560.0)], vec![(100.0, -40.0), (100.0, 300.0)]]));
    let out = d.join("out");
    let mut args = vec!["partition", input.as_str(), "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--micro-min", "30", "--micro-max", "100", "--code-prefix", "310101007"];
    if with_streets {
        args.extend(["--streets", streets.as_str()]);
    }
    let o = wangge(&args);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    assert_eq!(files(&out), vec!["buildings.geojson", "grids.geojson", "micro_grids.geojson", "summary.json"]);
    let grids = read_json(out.join("grids.geojson"));
    let micro = read_json(out.join("micro_grids.geojson"));
    let buildings = read_json(out.join("buildings.geojson"));
    let summary = read_json(out.join("summary.json"));

    let mut grid_poly: HashMap<u64, MultiPolygon<f64>> = HashMap::new();
    for g in grids["features"].as_array().unwrap() {
        let id = g["properties"]["grid_id"].as_u64().unwrap();
        assert_eq!(g["properties"]["grid_code"], Value::from(format!("310101007{id:03}")));
        grid_poly.insert(id, multipolygon(&g["geometry"]));
    }
    let declared: Vec<String> = summary["micro_grids"]["violations"].as_array().unwrap().iter().map(|v| v["micro_grid_id"].as_str().unwrap().to_string()).collect();
    let mut micro_poly: HashMap<String, MultiPolygon<f64>> = HashMap::new();
    let mut micro_hh: HashMap<String, f64> = HashMap::new();
    let mut area_by_grid: HashMap<u64, f64> = HashMap::new();
    for m in micro["features"].as_array().unwrap() {
        let p = &m["properties"];
        let id = p["micro_grid_id"].as_str().unwrap().to_string();
        let grid = p["grid_id"].as_u64().unwrap();
        let seq = p["seq"].as_u64().unwrap();
        assert_eq!(id, format!("{grid}-{seq}"));
        assert_eq!(p["micro_code"], Value::from(format!("310101007{grid:03}{seq:02}")));
        let poly = multipolygon(&m["geometry"]);
        // Inside its grid: nothing of it outside the grid polygon.
        let outside = poly.difference(&grid_poly[&grid]).unsigned_area();
        assert!(outside < 1e-6 * poly.unsigned_area().max(1.0), "micro-grid {id} leaves grid {grid} by {outside} m²");
        *area_by_grid.entry(grid).or_default() += poly.unsigned_area();
        let hh = p["households"].as_f64().unwrap();
        if !declared.contains(&id) {
            assert!((30.0..=100.0).contains(&hh), "micro-grid {id} holds {hh} households, undeclared");
            assert_eq!(poly.0.len(), 1, "micro-grid {id} is in pieces");
        }
        micro_hh.insert(id.clone(), hh);
        micro_poly.insert(id, poly);
    }
    // Together they make up each grid: no overlap (areas add up) and no gap.
    for (grid, poly) in &grid_poly {
        let a = poly.unsigned_area();
        assert!((area_by_grid[grid] - a).abs() < 1e-6 * a, "grid {grid}: micro-grids cover {} of {a} m²", area_by_grid[grid]);
    }
    // Every building lies in its micro-grid, which is in its grid; households add up.
    let mut sum: HashMap<String, f64> = HashMap::new();
    for b in buildings["features"].as_array().unwrap() {
        let p = &b["properties"];
        let id = p["micro_grid_id"].as_str().unwrap().to_string();
        let grid = p["grid_id"].as_u64().unwrap();
        assert!(id.starts_with(&format!("{grid}-")), "building in micro-grid {id} but grid {grid}");
        assert_eq!(p["grid_code"], Value::from(format!("310101007{grid:03}")));
        let anchor = multipolygon(&b["geometry"]).interior_point().unwrap();
        assert!(micro_poly[&id].contains(&anchor), "a building lies outside its micro-grid {id}");
        *sum.entry(id).or_default() += p["households"].as_f64().unwrap();
    }
    for (id, hh) in &micro_hh {
        assert_eq!(sum.get(id).copied().unwrap_or(0.0), *hh, "micro-grid {id}");
    }
    // A building above the micro maximum is a micro-grid of its own, declared.
    let oversize: Vec<&Value> = summary["micro_grids"]["violations"].as_array().unwrap().iter().filter(|v| v["kind"] == "oversize_building").collect();
    assert!(!oversize.is_empty());
    for v in oversize {
        assert_eq!(v["households"], Value::from(140.0));
    }
}

#[test]
fn micro_bounds_are_checked() {
    let d = tmp("micro-bad");
    let input = write(&d, "b.geojson", lattice(4, 4, 40.0, &mut |_, _| 30.0));
    for (args, needle) in [
        (vec!["--micro-min", "30"], "--micro-min needs --micro-max"),
        (vec!["--micro-min", "80", "--micro-max", "40"], "--micro-min (80) is above --micro-max (40)"),
        (vec!["--micro-min", "30", "--micro-max", "900"], "above the grid maximum"),
    ] {
        let out = d.join("out");
        let mut a = vec!["partition", input.as_str(), "-o", out.to_str().unwrap(), "-q"];
        a.extend(args);
        let o = wangge(&a);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
}
