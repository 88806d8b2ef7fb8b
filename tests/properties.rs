//! Property tests on random instances: random footprints (rectangles turned any way, L shapes,
//! points, repeated vertices, either orientation, overlapping neighbours), counts (zeros and
//! towers above the maximum), bounds, territories, barriers and seeds. On every instance, with
//! 1 and with 2 threads:
//! - the run succeeds (misses are declared, never fatal);
//! - every building is in exactly one grid, household sums agree, each grid out of the bounds
//!   has a declared violation with its reason, grid polygons are valid and in one piece (a
//!   connected grid), they do not overlap and they cover the territory (`common::check`, which
//!   uses `geo` only);
//! - 1 and 2 threads give the same plan and the same polygons;
//! - `wangge check` (the audit) finds no problem in the grids written.
//!
//! `WANGGE_PROPERTY_INSTANCES` (default 1000) and `WANGGE_PROPERTY_SEED` choose the instances;
//! a failing instance is written to `target/tmp/property-failures/` as GeoJSON.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use geo::{Coord, Geometry, Polygon};
use serde_json::{json, Value};
use wangge::audit::{AuditConfig, AuditInputs};
use wangge::read::{FeatureId, InputFeature, Layer};
use wangge::{PartitionConfig, Partitioned};

/// A random instance as GeoJSON texts (EPSG:4547), with its configuration.
struct Instance {
    buildings: String,
    territory: Option<String>,
    barriers: Option<String>,
    config: PartitionConfig,
}

fn ring(points: &[(f64, f64)], clockwise: bool) -> Value {
    let mut pts: Vec<Value> = points.iter().map(|(x, y)| json!([X0 + x, Y0 + y])).collect();
    if clockwise {
        pts.reverse();
    }
    pts.push(pts[0].clone());
    Value::Array(pts)
}

fn instance(seed: u64) -> Instance {
    let mut r = TestRng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03);
    let mut below = |n: usize| (r.next() * n as f64) as usize;
    let mut rng = TestRng(seed ^ 0x5851_F42D_4C95_7F2D);
    let mut u = move || rng.next();
    let n = 8 + below(53);
    let cols = 2 + below(8);
    let step = 28.0 + u() * 40.0;
    let mut features = Vec::new();
    let (mut xmax, mut ymax) = (0.0f64, 0.0f64);
    for k in 0..n {
        let (i, j) = ((k % cols) as f64, (k / cols) as f64);
        let (cx, cy) = (i * step + (u() - 0.5) * step * 0.5, j * step + (u() - 0.5) * step * 0.5);
        xmax = xmax.max(cx);
        ymax = ymax.max(cy);
        let (w, h, a) = (6.0 + u() * 20.0, 6.0 + u() * 20.0, u() * std::f64::consts::PI);
        let turn = |x: f64, y: f64| (cx + x * a.cos() - y * a.sin(), cy + x * a.sin() + y * a.cos());
        let kind = u();
        let geometry = if kind < 0.05 {
            json!({"type": "Point", "coordinates": [X0 + cx, Y0 + cy]})
        } else if kind < 0.2 {
            // An L shape.
            let pts: Vec<(f64, f64)> = [(-w / 2.0, -h / 2.0), (w / 2.0, -h / 2.0), (w / 2.0, 0.0), (0.0, 0.0), (0.0, h / 2.0), (-w / 2.0, h / 2.0)].iter().map(|&(x, y)| turn(x, y)).collect();
            json!({"type": "Polygon", "coordinates": [ring(&pts, u() < 0.3)]})
        } else {
            let mut pts: Vec<(f64, f64)> = [(-w / 2.0, -h / 2.0), (w / 2.0, -h / 2.0), (w / 2.0, h / 2.0), (-w / 2.0, h / 2.0)].iter().map(|&(x, y)| turn(x, y)).collect();
            if u() < 0.05 {
                let p = pts[1];
                pts.insert(1, p); // a repeated vertex
            }
            json!({"type": "Polygon", "coordinates": [ring(&pts, u() < 0.3)]})
        };
        let hh = match u() {
            x if x < 0.05 => 0.0,
            x if x < 0.08 => 600.0 + (u() * 400.0).round(),
            _ => (u() * 150.0).round(),
        };
        features.push(json!({"type": "Feature", "id": k, "properties": {"households": hh, "population": hh * 2.6}, "geometry": geometry}));
    }
    let margin = 20.0 + u() * 60.0;
    let (x0, y0, x1, y1) = (-step - margin, -step - margin, xmax + step + margin, ymax + step + margin);
    let territory = (u() < 0.5).then(|| rect_layer(x0, y0, x1, y1));
    let barriers = (u() < 0.4).then(|| {
        let lines: Vec<Vec<(f64, f64)>> = (0..1 + below(2))
            .map(|_| {
                if u() < 0.5 {
                    let x = x0 + u() * (x1 - x0);
                    vec![(x, y0 - 50.0), (x + (u() - 0.5) * 40.0, y1 + 50.0)]
                } else {
                    let y = y0 + u() * (y1 - y0);
                    vec![(x0 - 50.0, y), (x1 + 50.0, y + (u() - 0.5) * 40.0)]
                }
            })
            .collect();
        lines_layer(&lines)
    });
    let mut config = PartitionConfig::default();
    config.bounds.min_households = [0.0, 50.0, 100.0, 150.0][below(4)];
    config.bounds.max_households = config.bounds.min_households + 100.0 + (u() * 200.0).round();
    config.search.seed = (u() * 1e6) as u64;
    config.search.effort = Some([0.0, 0.0, 0.5, 1.0][below(4)]);
    config.columns.population = Some("population".into());
    Instance { buildings: collection(features), territory, barriers, config }
}

/// The grids of a result as a layer (input CRS), for the audit.
fn grid_layer(result: &Partitioned) -> Layer {
    let features = result
        .grids
        .iter()
        .enumerate()
        .map(|(g, grid)| InputFeature {
            row: g,
            id: Some(FeatureId::Number(g as i64 + 1)),
            geometry: Some(Geometry::MultiPolygon(grid.polygon.clone())),
            attributes: vec![Some(json!(g + 1))],
            properties: None,
        })
        .collect();
    Layer { name: "grids".into(), crs: Some(wangge::crs::CrsSpec::Epsg(4547)), features, requested: vec!["grid_id".into()], columns: vec!["grid_id".into()], source_text: None }
}

fn coords(result: &Partitioned) -> Vec<Vec<Coord<f64>>> {
    result.grids.iter().map(|g| g.polygon.0.iter().flat_map(|p: &Polygon<f64>| p.exterior().0.iter().chain(p.interiors().iter().flat_map(|r| r.0.iter())).copied()).collect()).collect()
}

/// What an instance held: grids, grids out of the bounds (declared), a territory, barriers.
#[derive(Default)]
struct Tally {
    grids: usize,
    out_of_band: usize,
    with_territory: usize,
    with_barriers: usize,
}

/// Runs and checks one instance; returns a failure message.
fn check_instance(seed: u64, tally: &mut Tally) -> Result<(), String> {
    let inst = instance(seed);
    let b = buildings(&inst.buildings, &inst.config);
    let territory = inst.territory.as_ref().map(|t| layer(t, "territory.geojson"));
    let barriers: Vec<Layer> = inst.barriers.iter().map(|t| layer(t, "barriers.geojson")).collect();
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| catch_unwind(AssertUnwindSafe(|| run(&b, territory.as_ref(), &barriers, &inst.config))))
    };
    let one = run_with(1).map_err(|e| panic_text(&e))?;
    let two = run_with(2).map_err(|e| panic_text(&e))?;
    let t = inst.territory.as_ref().map(|t| territory_polygons(t));
    let checked = catch_unwind(AssertUnwindSafe(|| check(&one, &b, t.as_ref(), &inst.config))).map_err(|e| panic_text(&e))?;
    if one.building_grid != two.building_grid || coords(&one) != coords(&two) {
        return Err("1 and 2 threads give different plans or polygons".into());
    }
    let audit_config = AuditConfig::default();
    let audit = wangge::audit::check(grid_layer(&one), AuditInputs { territory: territory.as_ref(), buildings: None, water: &[] }, &audit_config).map_err(|e| e.to_string())?;
    if !audit.clean() {
        let found: Vec<String> = audit.problems.iter().filter(|p| !p.kind.is_sliver()).map(|p| p.message.clone()).collect();
        return Err(format!("the audit finds problems in our own grids: {found:?}"));
    }
    tally.grids += checked.grids;
    tally.out_of_band += checked.out_of_band;
    tally.with_territory += inst.territory.is_some() as usize;
    tally.with_barriers += inst.barriers.is_some() as usize;
    Ok(())
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into())
}

#[test]
fn random_instances_hold_every_invariant_with_1_and_2_threads() {
    let count: u64 = std::env::var("WANGGE_PROPERTY_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let first: u64 = std::env::var("WANGGE_PROPERTY_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for seed in first..first + count {
        match check_instance(seed, &mut tally) {
            Ok(()) => {}
            Err(message) => {
                let inst = instance(seed);
                let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("property-failures").join(seed.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("buildings.geojson"), &inst.buildings).unwrap();
                if let Some(t) = &inst.territory {
                    std::fs::write(dir.join("territory.geojson"), t).unwrap();
                }
                if let Some(t) = &inst.barriers {
                    std::fs::write(dir.join("barriers.geojson"), t).unwrap();
                }
                std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&inst.config).unwrap()).unwrap();
                failures.push(format!("instance {seed}: {message}"));
            }
        }
    }
    println!(
        "{count} instances ({} with a territory, {} with barriers), {} grids ({} out of the bounds, each declared), {} failures, {:.1} s",
        tally.with_territory, tally.with_barriers, tally.grids, tally.out_of_band, failures.len(), start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} of {count} instances fail (inputs in target/tmp/property-failures):\n{}", failures.len(), failures.join("\n"));
}
