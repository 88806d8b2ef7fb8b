//! End-to-end partition tests on synthetic layouts, checked independently with `geo`.

mod common;

use common::*;
use geo::{Area, BooleanOps, MultiPolygon};
use wangge::partition::ViolationKind;
use wangge::PartitionConfig;

fn config() -> PartitionConfig {
    PartitionConfig::default()
}

#[test]
fn uniform_lattice_is_balanced_and_tiles_the_territory() {
    let cfg = config();
    let text = lattice(20, 20, 40.0, &mut |_, _| 50.0);
    let b = buildings(&text, &cfg);
    let t_text = rect_layer(-40.0, -40.0, 800.0, 800.0);
    let t = layer(&t_text, "territory.geojson");
    let r = run(&b, Some(&t), &[], &cfg);
    let c = check(&r, &b, Some(&territory_polygons(&t_text)), &cfg);
    assert_eq!(c.out_of_band, 0, "{:?}", r.violations);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    // 20,000 households at 400 per grid.
    assert_eq!(c.grids, 50);
    assert!(r.grids.iter().all(|g| g.households >= 300.0 && g.households <= 500.0));
}

#[test]
fn lumpy_households_stay_within_bounds() {
    let cfg = config();
    let mut rng = TestRng(7);
    let text = lattice(30, 30, 35.0, &mut |_, _| (10.0 + 190.0 * rng.next()).round());
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    let c = check(&r, &b, None, &cfg);
    assert_eq!(c.out_of_band, 0, "{:?}", r.violations);
    // The summary agrees with the grids.
    let s = &r.summary;
    assert_eq!(s.grids, r.grids.len());
    assert_eq!(s.status, wangge::report::summary::Status::Ok);
    assert!(s.objective.mean_walk_m > 0.0);
}

#[test]
fn no_grid_crosses_a_barrier() {
    let cfg = config();
    // 24 x 12 lattice, a barrier between columns 11 and 12 from bottom to top.
    let text = lattice(24, 12, 40.0, &mut |i, j| 30.0 + ((i * 7 + j * 3) % 5) as f64 * 10.0);
    let b = buildings(&text, &cfg);
    let wall = lines_layer(&[vec![(460.0, -100.0), (460.0, 600.0)]]);
    let t_text = rect_layer(-40.0, -40.0, 960.0, 480.0);
    let t = layer(&t_text, "territory.geojson");
    let r = run(&b, Some(&t), &[layer(&wall, "barriers.geojson")], &cfg);
    check(&r, &b, Some(&territory_polygons(&t_text)), &cfg);
    // Buildings of a grid all lie on one side; grid polygons too.
    let west = rect(-1000.0, -1000.0, 460.0, 1000.0);
    for (g, grid) in r.grids.iter().enumerate() {
        let sides: std::collections::BTreeSet<bool> =
            (0..b.features.len()).filter(|&i| r.building_grid[i] as usize == g).map(|i| (i % 24) < 12).collect();
        assert_eq!(sides.len(), 1, "grid {} has buildings on both sides", grid.id);
        let west_part = grid.polygon.intersection(&MultiPolygon(vec![west.clone()])).unsigned_area();
        let area = grid.polygon.unsigned_area();
        assert!(west_part < 1e-6 * area || (area - west_part) < 1e-6 * area, "grid {} polygon crosses the barrier", grid.id);
    }
}

#[test]
fn small_island_behind_a_barrier_is_declared() {
    let cfg = config();
    // 10 x 10 lattice of 50 households; a closed barrier ring around the building at (9, 9).
    let text = lattice(10, 10, 40.0, &mut |_, _| 50.0);
    let b = buildings(&text, &cfg);
    let ring = lines_layer(&[vec![(340.0, 340.0), (400.0, 340.0), (400.0, 400.0), (340.0, 400.0), (340.0, 340.0)]]);
    let r = run(&b, None, &[layer(&ring, "ring.geojson")], &cfg);
    check(&r, &b, None, &cfg);
    let island = r.grids[r.building_grid[99] as usize].id.clone();
    let v = r.violations.iter().find(|v| v.grid_id == island).expect("island declared");
    assert_eq!(v.kind, ViolationKind::IsolatedArea);
    assert!(v.message.contains("99"), "{}", v.message);
    // No plan can avoid it: declared, not a failure.
    assert!(v.unavoidable);
    assert_eq!(r.summary.status, wangge::report::summary::Status::UnavoidableMisses);
}

#[test]
fn oversize_building_is_its_own_declared_grid() {
    let cfg = config();
    let text = lattice(10, 10, 40.0, &mut |i, j| if (i, j) == (5, 5) { 800.0 } else { 50.0 });
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    check(&r, &b, None, &cfg);
    let g = r.building_grid[55] as usize;
    assert_eq!(r.grids[g].households, 800.0);
    assert_eq!(r.grids[g].buildings, 1);
    let v = r.violations.iter().find(|v| v.grid_id == r.grids[g].id).unwrap();
    assert_eq!(v.kind, ViolationKind::OversizeBuilding);
    // Every other grid holds its bounds.
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
}

#[test]
fn households_fitting_no_whole_number_of_grids_are_declared() {
    let cfg = config();
    // 13 buildings of 40 households = 520: one grid of 520 beats two of 260.
    let text = lattice(13, 1, 40.0, &mut |_, _| 40.0);
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    check(&r, &b, None, &cfg);
    assert_eq!(r.grids.len(), 1);
    assert_eq!(r.violations[0].kind, ViolationKind::InfeasibleArea);
    assert!(r.violations[0].message.contains("520"), "{}", r.violations[0].message);
}

#[test]
fn fixed_number_of_grids() {
    let mut cfg = config();
    cfg.bounds.grids = Some(40);
    let text = lattice(20, 20, 40.0, &mut |_, _| 50.0);
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    check(&r, &b, None, &cfg);
    assert_eq!(r.grids.len(), 40);
    assert!(r.violations.is_empty());
}

#[test]
fn same_seed_same_grids_and_threads_do_not_matter() {
    let cfg = config();
    let mut rng = TestRng(3);
    let text = lattice(25, 25, 35.0, &mut |_, _| (5.0 + 120.0 * rng.next()).round());
    let b = buildings(&text, &cfg);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let a = one.install(|| run(&b, None, &[], &cfg));
    let c = two.install(|| run(&b, None, &[], &cfg));
    let d = two.install(|| run(&b, None, &[], &cfg));
    assert_eq!(a.building_grid, c.building_grid);
    assert_eq!(c.building_grid, d.building_grid);
    let polys = |r: &wangge::Partitioned| r.grids.iter().map(|g| format!("{:?}", g.polygon)).collect::<Vec<_>>();
    assert_eq!(polys(&a), polys(&c));
    // Another seed is allowed to differ but must be just as valid.
    let mut other = config();
    other.search.seed = 99;
    let e = run(&b, None, &[], &other);
    check(&e, &b, None, &other);
}

#[test]
fn point_buildings_are_accepted() {
    let cfg = config();
    let mut feats = Vec::new();
    for j in 0..12 {
        for i in 0..12 {
            feats.push(serde_json::json!({"type": "Feature", "properties": {"households": 40},
                "geometry": {"type": "Point", "coordinates": [X0 + i as f64 * 30.0, Y0 + j as f64 * 30.0]}}));
        }
    }
    let text = collection(feats);
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    let c = check(&r, &b, None, &cfg);
    assert_eq!(c.out_of_band, 0, "{:?}", r.violations);
}

#[test]
fn lon_lat_input_is_worked_in_metres_and_written_back_in_degrees() {
    let cfg = config();
    // 15 x 15 buildings about 40 m apart near the Bund, in lon/lat.
    let mut feats = Vec::new();
    for j in 0..15 {
        for i in 0..15 {
            let (x, y) = (121.48 + i as f64 * 0.00042, 31.23 + j as f64 * 0.00036);
            let d = 0.0001;
            feats.push(serde_json::json!({"type": "Feature", "properties": {"households": 60},
                "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}}));
        }
    }
    let text = serde_json::json!({"type": "FeatureCollection", "features": feats}).to_string();
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    check(&r, &b, None, &cfg);
    assert!(r.summary.crs.working.contains("transverse Mercator"), "{:?}", r.summary.crs);
    for g in &r.grids {
        let c = geo::Centroid::centroid(&g.polygon).unwrap();
        assert!(c.x() > 121.0 && c.x() < 122.0 && c.y() > 31.0 && c.y() < 32.0, "{c:?}");
        assert!(g.area_m2 > 1_000.0 && g.area_m2 < 1_000_000.0, "area must be in square metres: {}", g.area_m2);
        assert!(g.mean_walk_m < 200.0);
    }
}

#[test]
fn overlapping_footprints_share_a_grid() {
    let cfg = config();
    let mut rng = TestRng(11);
    let mut feats = Vec::new();
    for j in 0..10 {
        for i in 0..10 {
            feats.push(serde_json::json!({"type": "Feature", "properties": {"households": (20.0 + 60.0 * rng.next()).round()},
                "geometry": square(i as f64 * 30.0, j as f64 * 30.0, 20.0)}));
        }
    }
    // A duplicate of building 0 and a part overlapping building 44.
    feats.push(serde_json::json!({"type": "Feature", "properties": {"households": 5}, "geometry": square(0.0, 0.0, 20.0)}));
    feats.push(serde_json::json!({"type": "Feature", "properties": {"households": 5}, "geometry": square(125.0, 125.0, 12.0)}));
    let text = collection(feats);
    let b = buildings(&text, &cfg);
    let r = run(&b, None, &[], &cfg);
    check(&r, &b, None, &cfg);
    assert_eq!(r.building_grid[100], r.building_grid[0]);
    assert_eq!(r.building_grid[101], r.building_grid[44]);
}

#[test]
fn buildings_outside_the_territory_are_kept_and_reported() {
    let cfg = config();
    let text = lattice(10, 10, 40.0, &mut |_, _| 50.0);
    let b = buildings(&text, &cfg);
    // The territory leaves out the last column of buildings (x = 360).
    let t_text = rect_layer(-30.0, -30.0, 340.0, 400.0);
    let t = layer(&t_text, "territory.geojson");
    let r = run(&b, Some(&t), &[], &cfg);
    check(&r, &b, Some(&territory_polygons(&t_text)), &cfg);
    assert!(r.warnings.iter().any(|w| w.contains("outside the territory") && w.contains("10 building")), "{:?}", r.warnings);
}
