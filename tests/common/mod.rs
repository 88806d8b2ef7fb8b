//! Shared helpers of the integration tests: synthetic inputs written as GeoJSON text, and
//! checks of a partition's output that do not use wangge's own code (only `geo`).

#![allow(dead_code)]

use geo::{Area, BooleanOps, BoundingRect, Contains, Coord, InteriorPoint, Intersects, MultiPolygon, Polygon, Rect, Validation};
use rstar::{RTree, AABB};
use rstar::primitives::{GeomWithData, Rectangle};
use serde_json::{json, Value};
use wangge::progress::Progress;
use wangge::read::{parse_geojson, Layer};
use wangge::{partition_layers, PartitionConfig, Partitioned};

/// Easting / northing origin of synthetic layers (EPSG:4547 metres).
pub const X0: f64 = 500_000.0;
pub const Y0: f64 = 3_385_000.0;

/// A deterministic pseudo-random sequence for test data.
pub struct TestRng(pub u64);
impl TestRng {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

/// A square footprint of side `s` centred at (x, y) (metres from the origin).
pub fn square(x: f64, y: f64, s: f64) -> Value {
    let h = s / 2.0;
    json!({"type": "Polygon", "coordinates": [[[X0 + x - h, Y0 + y - h], [X0 + x + h, Y0 + y - h], [X0 + x + h, Y0 + y + h], [X0 + x - h, Y0 + y + h], [X0 + x - h, Y0 + y - h]]]})
}

/// A FeatureCollection in EPSG:4547 with the legacy crs member.
pub fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}, "features": features}).to_string()
}

/// Buildings on an nx × ny lattice (spacing `step` m, squares of 20 m) with households from `hh`.
pub fn lattice(nx: usize, ny: usize, step: f64, hh: &mut dyn FnMut(usize, usize) -> f64) -> String {
    let mut feats = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let id = j * nx + i;
            feats.push(json!({"type": "Feature", "id": id, "properties": {"households": hh(i, j), "population": 2.5 * hh(i, j), "name": format!("b{id}")},
                              "geometry": square(i as f64 * step, j as f64 * step, 20.0)}));
        }
    }
    collection(feats)
}

/// A rectangle polygon layer (metres from the origin).
pub fn rect_layer(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    collection(vec![json!({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[X0 + x0, Y0 + y0], [X0 + x1, Y0 + y0], [X0 + x1, Y0 + y1], [X0 + x0, Y0 + y1], [X0 + x0, Y0 + y0]]]}})])
}

/// A layer of line strings (metres from the origin).
pub fn lines_layer(lines: &[Vec<(f64, f64)>]) -> String {
    collection(
        lines
            .iter()
            .map(|l| json!({"type": "Feature", "properties": {"kind": "barrier"}, "geometry": {"type": "LineString", "coordinates": l.iter().map(|(x, y)| [X0 + x, Y0 + y]).collect::<Vec<_>>()}}))
            .collect(),
    )
}

/// A GeoJSON (Multi)Polygon geometry value as a MultiPolygon.
pub fn multipolygon(v: &Value) -> MultiPolygon<f64> {
    let g: geojson::Geometry = serde_json::from_value(v.clone()).unwrap();
    match geo::Geometry::<f64>::try_from(g).unwrap() {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        other => panic!("not a polygon: {other:?}"),
    }
}

/// Parses a buildings layer for `config`.
pub fn buildings(text: &str, config: &PartitionConfig) -> Layer {
    let cols = wangge::model::building_columns(config);
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    parse_geojson(text.to_string(), "buildings.geojson", &refs).expect("parse buildings")
}

/// Parses an auxiliary layer.
pub fn layer(text: &str, name: &str) -> Layer {
    parse_geojson(text.to_string(), name, &[]).expect("parse layer")
}

/// Runs the pipeline on layers.
pub fn run(b: &Layer, territory: Option<&Layer>, barriers: &[Layer], config: &PartitionConfig) -> Partitioned {
    let layers = wangge::InputLayers { territory: territory.cloned(), barriers: barriers.to_vec(), ..wangge::InputLayers::buildings(b.clone()) };
    partition_layers(&layers, config, None, &mut Progress::hidden()).expect("partition runs")
}

/// Figures of an independent check.
#[derive(Debug, Default)]
pub struct Checked {
    pub grids: usize,
    pub out_of_band: usize,
    pub overlap_area: f64,
    pub uncovered_area: f64,
}

/// Checks a result against its input with `geo` only: every building in exactly one grid,
/// household sums, bounds held or declared, polygons valid and one piece each, no overlaps,
/// the territory covered (when given), each building inside its grid polygon.
pub fn check(result: &Partitioned, input: &Layer, territory: Option<&MultiPolygon<f64>>, config: &PartitionConfig) -> Checked {
    let n = input.features.len();
    assert_eq!(result.building_grid.len(), n, "one grid per building");
    let k = result.grids.len();
    let hh_col = input.column_index(&config.columns.households).unwrap();
    let mut sums = vec![0.0; k];
    for (i, f) in input.features.iter().enumerate() {
        let g = result.building_grid[i] as usize;
        assert!(g < k, "building {i} has grid index {g} of {k}");
        sums[g] += f.attributes[hh_col].as_ref().and_then(Value::as_f64).unwrap();
    }
    let mut out_of_band = 0;
    for (g, grid) in result.grids.iter().enumerate() {
        assert!((grid.households - sums[g]).abs() < 1e-6, "grid {} reports {} households, buildings sum to {}", grid.id, grid.households, sums[g]);
        if result.model.sources.existing.is_none() {
            assert_eq!(grid.id, wangge::read::FeatureId::Number(g as i64 + 1), "grid ids are 1..k in order");
        } else if g > 0 {
            assert!(grid.id > result.grids[g - 1].id, "grid ids are distinct and ascending");
        }
        if grid.households < config.bounds.min_households - 1e-9 || grid.households > config.bounds.max_households + 1e-9 {
            out_of_band += 1;
            assert!(result.violations.iter().any(|v| v.grid_id == grid.id), "grid {} holds {} households, undeclared", grid.id, grid.households);
        }
        assert_eq!(grid.polygon.0.len(), 1, "grid {} is {} pieces", grid.id, grid.polygon.0.len());
        assert!(grid.polygon.is_valid(), "grid {} polygon invalid: {:?}", grid.id, grid.polygon.check_validation());
    }
    // Overlaps between grids whose boxes meet.
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = result
        .grids
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let r = g.polygon.bounding_rect().unwrap();
            GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i)
        })
        .collect();
    let tree = RTree::bulk_load(boxes.clone());
    let mut overlap = 0.0;
    for b in &boxes {
        let env = AABB::from_corners(b.geom().lower(), b.geom().upper());
        for other in tree.locate_in_envelope_intersecting(&env) {
            if other.data > b.data {
                overlap += result.grids[b.data].polygon.intersection(&result.grids[other.data].polygon).unsigned_area();
            }
        }
    }
    let total_area: f64 = result.grids.iter().map(|g| g.polygon.unsigned_area()).sum();
    assert!(overlap <= 1e-6 * total_area.max(1.0), "grids overlap by {overlap} (of {total_area})");
    let mut uncovered = 0.0;
    if let Some(t) = territory {
        let union = geo::unary_union(result.grids.iter().map(|g| &g.polygon));
        uncovered = t.difference(&union).unsigned_area();
        assert!(uncovered <= 1e-6 * t.unsigned_area(), "territory not covered: {uncovered} m² of {}", t.unsigned_area());
    }
    for (i, f) in input.features.iter().enumerate() {
        let p = match f.geometry.as_ref().unwrap() {
            geo::Geometry::Polygon(p) => p.interior_point().unwrap(),
            geo::Geometry::MultiPolygon(mp) => mp.interior_point().unwrap(),
            geo::Geometry::Point(p) => *p,
            other => panic!("unexpected geometry {other:?}"),
        };
        let poly = &result.grids[result.building_grid[i] as usize].polygon;
        assert!(poly.contains(&p) || poly.intersects(&p), "building {i} lies outside its grid {}", result.building_grid[i] + 1);
    }
    Checked { grids: k, out_of_band, overlap_area: overlap, uncovered_area: uncovered }
}

/// The territory polygon of a layer (first feature).
pub fn territory_polygons(text: &str) -> MultiPolygon<f64> {
    let l = layer(text, "territory");
    match l.features[0].geometry.clone().unwrap() {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        g => panic!("{g:?}"),
    }
}

/// A rectangle in metres from the origin, as a polygon in layer coordinates.
pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Rect::new(Coord { x: X0 + x0, y: Y0 + y0 }, Coord { x: X0 + x1, y: Y0 + y1 }).to_polygon()
}

/// Runs the wangge binary with `args`.
pub fn wangge(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wangge")).args(args).output().expect("run wangge")
}

/// A fresh, empty temporary directory for one test (unique per test binary and name).
pub fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wangge-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `bytes` to `dir/name` and returns the path as text.
pub fn write(dir: &std::path::Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// The standard error of a run, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The file names in `dir`, sorted (none when it does not exist).
pub fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// A JSON file's content.
pub fn read_json(p: impl AsRef<std::path::Path>) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}
