//! Grid shapes with streets and water, checked independently with `geo`: a cut along a street
//! is preferred to one through a block, grids still tile (valid polygons, no overlap, each
//! building inside its grid), water is left out and reported, compactness on real footprints.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use geo::{Area, BooleanOps, Coord, Euclidean, Length, MultiPolygon, Validation};
use wangge::progress::Progress;
use wangge::{partition_files, Inputs, PartitionConfig};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(rel)
}

/// Polsby–Popper compactness 4πA/P² of a polygon in metres.
fn polsby_popper(p: &MultiPolygon<f64>) -> f64 {
    let perimeter: f64 = p.0.iter().map(|q| std::iter::once(q.exterior()).chain(q.interiors()).map(|r| Euclidean.length(r)).sum::<f64>()).sum();
    4.0 * std::f64::consts::PI * p.unsigned_area() / (perimeter * perimeter).max(1e-12)
}

/// 8 × 4 buildings of 10 households; a street runs between the third and fourth columns, so a
/// cut 3 | 5 follows it while the most compact balanced cut (4 | 4) runs through the block.
#[test]
fn a_cut_along_a_street_is_preferred_to_a_cut_through_a_block() {
    let d = tmp("shapes-street");
    let input = write(&d, "b.geojson", lattice(8, 4, 40.0, &mut |_, _| 10.0));
    let street_x = 2.0 * 40.0 + 20.0;
    let streets = write(&d, "streets.geojson", lines_layer(&[vec![(street_x, -60.0), (street_x, 180.0)]]));
    let out = d.join("out");
    let o = wangge(&[
        "partition", &input, "-o", out.to_str().unwrap(), "-q", "--grids", "2", "--min-households", "100", "--max-households", "220", "--streets", &streets,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let buildings = read_json(out.join("buildings.geojson"));
    let x0 = X0;
    for b in buildings["features"].as_array().unwrap() {
        let ring = &b["geometry"]["coordinates"][0];
        let x = ring[0][0].as_f64().unwrap() - x0;
        let grid = b["properties"]["grid_id"].as_u64().unwrap();
        let west = x < street_x;
        let first_west = buildings["features"][0]["properties"]["grid_id"].as_u64().unwrap();
        assert_eq!(grid == first_west, west, "building at x = {x} is in grid {grid}: the cut does not follow the street");
    }
    let summary = read_json(out.join("summary.json"));
    assert_eq!(summary["territory"]["blocks"]["split"], 0, "{}", summary["territory"]);
    assert_eq!(summary["territory"]["blocks"]["with_buildings"], 2);
    // The boundary between the two grids lies on the street.
    let grids = read_json(out.join("grids.geojson"));
    let a = multipolygon(&grids["features"][0]["geometry"]);
    let b = multipolygon(&grids["features"][1]["geometry"]);
    let shared = a.intersection(&geo::MultiPolygon(b.0.iter().map(|p| geo::Polygon::new(p.exterior().clone(), vec![])).collect()));
    assert!(shared.unsigned_area() < 1e-3, "grids overlap by {}", shared.unsigned_area());
    for p in &a.0 {
        for c in &p.exterior().0 {
            let on_b = b.0.iter().any(|q| q.exterior().0.contains(c));
            if on_b {
                assert!((c.x - x0 - street_x).abs() < 1e-6, "a shared vertex off the street at x = {}", c.x - x0);
            }
        }
    }
}

/// Two residential compounds in one block (no street between them): with `--compounds`, the cut
/// follows the compounds' common wall, no compound is split, and the summary counts them; a
/// line feature in the layer is ignored with a warning.
#[test]
fn a_compound_is_kept_whole_and_its_wall_is_a_boundary() {
    let d = tmp("shapes-compounds");
    let input = write(&d, "b.geojson", lattice(8, 4, 40.0, &mut |_, _| 10.0));
    let wall_x = 2.0 * 40.0 + 20.0;
    let rect = |x0: f64, x1: f64| serde_json::json!({"type": "Feature", "properties": {"name": "小区"}, "geometry": {"type": "Polygon", "coordinates": [[[X0 + x0, Y0 - 20.0], [X0 + x1, Y0 - 20.0], [X0 + x1, Y0 + 140.0], [X0 + x0, Y0 + 140.0], [X0 + x0, Y0 - 20.0]]]}});
    let line = serde_json::json!({"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[X0, Y0], [X0 + 1.0, Y0 + 1.0]]}});
    let compounds = write(&d, "compounds.geojson", collection(vec![rect(-20.0, wall_x), rect(wall_x, 300.0), line]));
    let out = d.join("out");
    let o = wangge(&[
        "partition", &input, "-o", out.to_str().unwrap(), "-q", "--grids", "2", "--min-households", "100", "--max-households", "220", "--compounds", &compounds,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = read_json(out.join("summary.json"));
    let c = &summary["territory"]["compounds"];
    assert_eq!((c["count"].as_u64(), c["with_buildings"].as_u64(), c["split"].as_u64()), (Some(2), Some(2), Some(0)), "{c}");
    assert!(summary["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("without a polygon")), "{}", summary["warnings"]);
    let buildings = read_json(out.join("buildings.geojson"));
    let first_west = buildings["features"][0]["properties"]["grid_id"].as_u64().unwrap();
    for b in buildings["features"].as_array().unwrap() {
        let x = b["geometry"]["coordinates"][0][0][0].as_f64().unwrap() - X0;
        assert_eq!(b["properties"]["grid_id"].as_u64().unwrap() == first_west, x < wall_x, "building at x = {x}: the cut does not follow the wall");
    }
    // The shared boundary lies on the wall.
    let grids = read_json(out.join("grids.geojson"));
    let a = multipolygon(&grids["features"][0]["geometry"]);
    let b = multipolygon(&grids["features"][1]["geometry"]);
    let shared: Vec<Coord<f64>> = a.0[0].exterior().0.iter().filter(|c| b.0.iter().any(|q| q.exterior().0.contains(c))).copied().collect();
    assert!(shared.len() >= 2);
    for c in shared {
        assert!((c.x - X0 - wall_x).abs() < 1e-6, "a shared vertex off the wall at x = {}", c.x - X0);
    }
    // Without the compounds the same run splits the block through the middle (4 | 4).
    let out2 = d.join("out-plain");
    let o = wangge(&["partition", &input, "-o", out2.to_str().unwrap(), "-q", "--grids", "2", "--min-households", "100", "--max-households", "220"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_json(out2.join("summary.json"))["territory"]["compounds"]["count"], 0);
    let plain = read_json(out2.join("buildings.geojson"));
    let west: Vec<u64> = plain["features"].as_array().unwrap().iter().filter(|b| b["geometry"]["coordinates"][0][0][0].as_f64().unwrap() - X0 < wall_x + 40.0).map(|b| b["properties"]["grid_id"].as_u64().unwrap()).collect();
    assert!(west.iter().all(|&g| g == west[0]), "without the wall the 4 | 4 cut is the compact one");
}

/// Cells meet midway between footprints: two buildings 40 m apart on a line, two grids; the
/// boundary between them runs at the middle of the gap, not along a triangle fan.
#[test]
fn boundaries_run_midway_between_footprints() {
    let d = tmp("shapes-midway");
    let input = write(&d, "b.geojson", lattice(2, 1, 60.0, &mut |_, _| 100.0));
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--grids", "2", "--min-households", "50", "--max-households", "150"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let grids = read_json(out.join("grids.geojson"));
    let a = multipolygon(&grids["features"][0]["geometry"]);
    let b = multipolygon(&grids["features"][1]["geometry"]);
    // Footprints span x ∈ [-10, 10] and [50, 70]: the shared boundary is x = 30.
    let shared: Vec<Coord<f64>> = a.0[0].exterior().0.iter().filter(|c| b.0[0].exterior().0.contains(c)).copied().collect();
    assert!(shared.len() >= 2, "the grids share a boundary");
    for c in shared {
        assert!((c.x - X0 - 30.0).abs() < 0.5, "shared vertex at x = {}", c.x - X0);
    }
}

/// The Shanghai sample with its major and minor roads as streets and the river as water: grids
/// tile (valid, no overlap, every building inside its grid), no grid is mostly water unless it
/// is a footprint on the water, the water is reported as uncovered, blocks are reported, and the
/// grids are compact.
#[test]
fn shanghai_with_streets_tiles_and_leaves_the_water_out() {
    let mut cfg = PartitionConfig::default();
    cfg.graph.streets_filter = Some("kind=major_road,minor_road".parse().unwrap());
    let inputs = Inputs {
        buildings: data("shanghai_bund/buildings.geojson"),
        barriers: vec![data("shanghai_bund/water.geojson")],
        streets: vec![data("shanghai_bund/roads.geojson")],
        ..Default::default()
    };
    let (r, layers) = partition_files(&inputs, &cfg, &mut Progress::hidden()).unwrap();
    let b = layers.buildings;
    check(&r, &b, None, &cfg);
    let s = &r.summary.territory;
    assert!(s.uncovered_m2.water > 1.0e6, "the river is left out: {:?}", s.uncovered_m2);
    assert!(s.blocks.street_lines > 500 && s.blocks.with_buildings > 100, "{:?}", s.blocks);
    assert!(s.blocks.split < s.blocks.with_buildings, "{:?}", s.blocks);
    // Lon/lat to metres around the sample (cos 31.24°) for shape figures.
    let k = 111_320.0;
    let to_m = |p: &MultiPolygon<f64>| {
        use geo::MapCoords;
        p.map_coords(|c| Coord { x: c.x * k * 31.24f64.to_radians().cos(), y: c.y * k })
    };
    let water_text = std::fs::read_to_string(data("shanghai_bund/water.geojson")).unwrap();
    let water = layer(&water_text, "water");
    let water: MultiPolygon<f64> = MultiPolygon(
        water
            .features
            .iter()
            .filter_map(|f| match f.geometry.as_ref()? {
                geo::Geometry::Polygon(p) => Some(vec![p.clone()]),
                geo::Geometry::MultiPolygon(mp) => Some(mp.0.clone()),
                _ => None,
            })
            .flatten()
            .collect(),
    );
    let water = to_m(&water);
    let mut pp = Vec::new();
    for (g, grid) in r.grids.iter().enumerate() {
        let poly = to_m(&grid.polygon);
        assert!(poly.is_valid());
        let area = poly.unsigned_area();
        let wet = poly.intersection(&water).unsigned_area();
        if wet > 0.5 * area {
            let footprints: f64 = (0..b.features.len())
                .filter(|&i| r.building_grid[i] as usize == g)
                .map(|i| match b.features[i].geometry.as_ref().unwrap() {
                    geo::Geometry::Polygon(p) => to_m(&MultiPolygon(vec![p.clone()])).unsigned_area(),
                    geo::Geometry::MultiPolygon(mp) => to_m(mp).unsigned_area(),
                    _ => 0.0,
                })
                .sum();
            assert!(area < 1.5 * footprints, "grid {} is {:.0} % water", grid.id, 100.0 * wet / area);
        }
        pp.push(polsby_popper(&poly));
    }
    pp.sort_by(f64::total_cmp);
    let median = pp[pp.len() / 2];
    assert!(median >= 0.4, "median Polsby–Popper {median:.3}");
}

/// The same run with water kept (`--include-water`) covers the river again.
#[test]
fn include_water_keeps_the_river_in_the_grids() {
    let mut cfg = PartitionConfig::default();
    cfg.graph.include_water = true;
    let inputs = Inputs { buildings: data("shanghai_bund/buildings.geojson"), barriers: vec![data("shanghai_bund/water.geojson")], ..Default::default() };
    let (r, _) = partition_files(&inputs, &cfg, &mut Progress::hidden()).unwrap();
    assert_eq!(r.summary.territory.uncovered_m2.water, 0.0);
    let mut left_out = PartitionConfig::default();
    left_out.graph.include_water = false;
    let (dry, _) = partition_files(&inputs, &left_out, &mut Progress::hidden()).unwrap();
    assert!(r.summary.territory.tiled_area_m2 > dry.summary.territory.tiled_area_m2 + 1.0e6);
}

/// Shanghai with streets re-divided from its own grids with three of them locked: the run
/// succeeds (locked rings run along footprints and water, which used to stop the
/// triangulation), the locked polygons come out exactly as given, and `check` finds no problem.
#[test]
fn shanghai_locked_grids_with_streets_are_kept_as_given() {
    let d = tmp("shapes-locked");
    let (first, second) = (d.join("first"), d.join("second"));
    let sh = |f: &str| data(&format!("shanghai_bund/{f}")).to_str().unwrap().to_string();
    let common = ["--barriers", &sh("water.geojson"), "--streets", &sh("roads.geojson"), "--streets-filter", "kind=major_road,minor_road", "-q"];
    let o = wangge(&[&["partition", &sh("buildings.geojson"), "-o", first.to_str().unwrap()], &common[..]].concat());
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let existing = first.join("grids.geojson");
    let o = wangge(&[&["partition", &sh("buildings.geojson"), "-o", second.to_str().unwrap(), "--existing", existing.to_str().unwrap(), "--locked", "3,17,40"], &common[..]].concat());
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let given = read_json(&existing);
    let got = read_json(second.join("grids.geojson"));
    for id in [3, 17, 40] {
        let find = |doc: &serde_json::Value| doc["features"].as_array().unwrap().iter().find(|f| f["properties"]["grid_id"] == id).map(|f| f["geometry"].clone());
        assert_eq!(find(&got), find(&given), "locked grid {id} is not kept as given");
    }
    let o = wangge(&[
        "check",
        second.join("grids.geojson").to_str().unwrap(),
        "--buildings",
        second.join("buildings.geojson").to_str().unwrap(),
        "--water",
        &sh("water.geojson"),
        "--json",
        "-",
    ]);
    let report: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(report["summary"]["clean"], true, "{}", report["issues"]);
}
