//! Output formats: layers written as GeoJSON, line-delimited GeoJSON, GeoPackage, Shapefile,
//! FlatGeobuf and GeoParquet read back by wangge's readers with the same geometries, attributes and CRS; the
//! CLI's `--output-format`; and a failing write leaving the output directory as it was.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use geo::orient::{Direction, Orient};
use geo::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use serde_json::{json, Map, Value};
use wangge::crs::CrsSpec;
use wangge::offset::OffsetCrs;
use wangge::read::{read_layer_with, Format, Layer, ReadOptions};
use wangge::write::{input_feature_parts, write_layer, OutputFeature, OutputLayer};

const FORMATS: [Format; 6] = [Format::GeoJson, Format::GeoJsonSeq, Format::GeoPackage, Format::Shapefile, Format::FlatGeobuf, Format::GeoParquet];

fn ring(x0: f64, y0: f64, pts: &[(f64, f64)]) -> LineString<f64> {
    LineString(pts.iter().map(|&(x, y)| Coord { x: x0 + x, y: y0 + y }).collect())
}

/// A polygon layer around (x0, y0) with ints, reals, Chinese text, nulls and booleans; coordinates
/// with many digits so any rounding shows.
fn sample(x0: f64, y0: f64, crs: CrsSpec) -> OutputLayer {
    let mut features = Vec::new();
    for i in 0..7 {
        let dx = i as f64 * 37.123456789012;
        let exterior = ring(x0 + dx, y0, &[(0.0, 0.0), (30.000000000123, 0.0), (30.0, 20.5), (0.0, 20.5), (0.0, 0.0)]);
        let geometry = match i {
            // A polygon with a hole (rings in the opposite orientation on purpose).
            2 => Geometry::Polygon(Polygon::new(
                LineString(exterior.0.iter().rev().copied().collect()),
                vec![ring(x0 + dx, y0, &[(5.0, 5.0), (10.0, 5.0), (10.0, 10.0), (5.0, 10.0), (5.0, 5.0)])],
            )),
            // A multipolygon of two parts.
            4 => Geometry::MultiPolygon(MultiPolygon(vec![
                Polygon::new(exterior.clone(), vec![]),
                Polygon::new(ring(x0 + dx, y0 + 40.0, &[(0.0, 0.0), (8.0, 0.0), (8.0, 8.0), (0.0, 0.0)]), vec![]),
            ])),
            _ => Geometry::Polygon(Polygon::new(exterior, vec![])),
        };
        let properties = json!({
            "key": i,
            "hh": if i == 3 { Value::Null } else { json!(100 + 7 * i) },
            "area": 600.25 + i as f64 * 0.125,
            "ratio": 1.0 / (i as f64 + 3.0),
            "name": format!("楼{i}号 (Bund)"),
            "note": if i % 2 == 0 { Value::Null } else { json!("外滩") },
            "flag": i % 3 == 0,
        });
        features.push(OutputFeature { id: None, properties: properties.as_object().unwrap().clone(), geometry: Some(geometry) });
    }
    OutputLayer { name: "buildings".into(), crs: Some(crs), features }
}

/// A geometry as polygons with outer rings counter-clockwise and holes clockwise.
fn normalise(g: &Geometry<f64>) -> MultiPolygon<f64> {
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        other => panic!("not polygonal: {other:?}"),
    };
    mp.orient(Direction::Default)
}

fn assert_same_geometry(want: &Geometry<f64>, got: &Geometry<f64>, what: &str) {
    let (a, b) = (normalise(want), normalise(got));
    assert_eq!(a.0.len(), b.0.len(), "{what}: polygon count");
    for (p, q) in a.0.iter().zip(&b.0) {
        let rings_p: Vec<&LineString<f64>> = std::iter::once(p.exterior()).chain(p.interiors()).collect();
        let rings_q: Vec<&LineString<f64>> = std::iter::once(q.exterior()).chain(q.interiors()).collect();
        assert_eq!(rings_p.len(), rings_q.len(), "{what}: ring count");
        for (r, s) in rings_p.iter().zip(&rings_q) {
            assert_eq!(r.0.len(), s.0.len(), "{what}: points in a ring");
            for (c, d) in r.0.iter().zip(&s.0) {
                assert!((c.x - d.x).abs() <= 1e-9 && (c.y - d.y).abs() <= 1e-9, "{what}: {c:?} read back as {d:?}");
            }
        }
    }
}

fn read_back(path: &Path, format: Format) -> Layer {
    read_layer_with(path, &[], &ReadOptions { format: Some(format), ..ReadOptions::default() }).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A feature read back: its properties and geometry.
type ReadBack = (Map<String, Value>, Option<Geometry<f64>>);

/// Features read back by their `key` property.
fn by_key(layer: &Layer) -> BTreeMap<i64, ReadBack> {
    (0..layer.features.len())
        .map(|i| {
            let (_, props) = input_feature_parts(layer, i).unwrap();
            let key = props["key"].as_i64().unwrap_or_else(|| panic!("no integer key in {props:?}"));
            (key, (props, layer.features[i].geometry.clone()))
        })
        .collect()
}

fn assert_same_properties(want: &Map<String, Value>, got: &Map<String, Value>, what: &str) {
    for (k, v) in want {
        let g = got.get(k).unwrap_or(&Value::Null);
        match (v, g) {
            (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
                assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= 1e-12, "{what}: '{k}' {v} read back as {g}")
            }
            _ => assert_eq!(v, g, "{what}: '{k}'"),
        }
    }
}

#[test]
fn every_format_round_trips_geometries_and_attributes() {
    let d = tmp("roundtrip");
    let layer = sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547));
    for format in FORMATS {
        let path = d.join(format!("b.{}", wangge::write::extension(format)));
        let written = write_layer(&path, format, &layer).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(written.files.iter().all(|f| f.exists()), "{format:?}: {:?}", written.files);
        assert!(written.renamed.is_empty(), "{format:?}: {:?}", written.renamed);
        let back = read_back(&path, format);
        assert_eq!(back.features.len(), layer.features.len(), "{format:?}");
        let got = by_key(&back);
        for f in &layer.features {
            let key = f.properties["key"].as_i64().unwrap();
            let (props, geom) = &got[&key];
            let what = format!("{format:?} feature {key}");
            assert_same_properties(&f.properties, props, &what);
            assert_same_geometry(f.geometry.as_ref().unwrap(), geom.as_ref().expect("geometry read back"), &what);
        }
        if format != Format::GeoJsonSeq {
            assert_eq!(back.crs, Some(CrsSpec::Epsg(4547)), "{format:?} keeps the CRS");
        }
    }
    // Shapefile: UTF-8 text declared in the .cpg, a .prj from PROJ.
    assert_eq!(std::fs::read_to_string(d.join("b.cpg")).unwrap(), "UTF-8");
    assert!(std::fs::read_to_string(d.join("b.prj")).unwrap().starts_with("PROJCS[\"CGCS2000_3_Degree_GK_CM_114E\""));
}

#[test]
fn null_geometries_and_integer_ids_come_back() {
    let d = tmp("nulls");
    let mut layer = sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547));
    layer.features[1].geometry = None;
    for (i, f) in layer.features.iter_mut().enumerate() {
        f.id = Some(json!(1000 + i));
    }
    for format in [Format::GeoJson, Format::GeoPackage, Format::Shapefile, Format::FlatGeobuf, Format::GeoParquet] {
        let path = d.join(format!("n.{}", wangge::write::extension(format)));
        write_layer(&path, format, &layer).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let back = read_back(&path, format);
        let got = by_key(&back);
        assert!(got[&1].1.is_none(), "{format:?}: a null geometry reads back as null, got {:?}", got[&1].1);
        assert!(got[&2].1.is_some(), "{format:?}");
        // Ids: the fid of a GeoPackage; an `id` column in formats without ids.
        for (i, f) in back.features.iter().enumerate() {
            let (id, props) = input_feature_parts(&back, i).unwrap();
            let key = props["key"].as_i64().unwrap();
            match format {
                Format::GeoJson | Format::GeoPackage => assert_eq!(id, Some(json!(1000 + key)), "{format:?}"),
                _ => assert_eq!(props["id"], json!(1000 + key), "{format:?}: {props:?}"),
            }
            let _ = f;
        }
    }
}

#[test]
fn projected_crs_are_kept() {
    let d = tmp("crs");
    let pq = d.join("b4547.parquet");
    write_layer(&pq, Format::GeoParquet, &sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547))).unwrap();
    assert_eq!(read_back(&pq, Format::GeoParquet).crs, Some(CrsSpec::Epsg(4547)));
    let gpkg = d.join("b4528.gpkg");
    write_layer(&gpkg, Format::GeoPackage, &sample(40_500_000.0, 3_450_000.0, CrsSpec::Epsg(4528))).unwrap();
    assert_eq!(read_back(&gpkg, Format::GeoPackage).crs, Some(CrsSpec::Epsg(4528)));
    let shp = d.join("b4547.shp");
    write_layer(&shp, Format::Shapefile, &sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547))).unwrap();
    assert_eq!(read_back(&shp, Format::Shapefile).crs, Some(CrsSpec::Epsg(4547)));
    // A GeoPackage is a GeoPackage: application id 'GPKG', version 1.2, the mandatory SRS rows.
    let db = rusqlite::Connection::open(&gpkg).unwrap();
    let app: i64 = db.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap();
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!((app, version), (0x47504B47, 10200));
    let ids: Vec<i64> = db.prepare("SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(ids, vec![-1, 0, 4326, 4528]);
    let def: String = db.query_row("SELECT definition FROM gpkg_spatial_ref_sys WHERE srs_id = 4528", [], |r| r.get(0)).unwrap();
    assert!(def.contains("AUTHORITY[\"EPSG\",\"4528\"]"), "{def}");
    let (kind, srs): (String, i64) = db.query_row("SELECT data_type, srs_id FROM gpkg_contents WHERE table_name = 'buildings'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((kind.as_str(), srs), ("features", 4528));
    let blob: Vec<u8> = db.query_row("SELECT geom FROM buildings LIMIT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(&blob[0..2], b"GP");
    assert_eq!(i32::from_le_bytes(blob[4..8].try_into().unwrap()), 4528);
}

#[test]
fn gcj02_is_kept_through_shapefile_geopackage_and_flatgeobuf() {
    let d = tmp("gcj");
    let mut layer = sample(0.0, 0.0, CrsSpec::Offset(OffsetCrs::Gcj02));
    // Degrees near the Bund.
    for f in &mut layer.features {
        if let Some(g) = &mut f.geometry {
            use geo::MapCoordsInPlace;
            g.map_coords_in_place(|c| Coord { x: 121.49 + c.x * 1e-5, y: 31.24 + c.y * 1e-5 });
        }
    }
    for format in [Format::Shapefile, Format::GeoPackage, Format::FlatGeobuf, Format::GeoJson, Format::GeoParquet] {
        let path = d.join(format!("g.{}", wangge::write::extension(format)));
        write_layer(&path, format, &layer).unwrap();
        assert_eq!(read_back(&path, format).crs, Some(CrsSpec::Offset(OffsetCrs::Gcj02)), "{format:?}");
    }
    assert!(std::fs::read_to_string(d.join("g.prj")).unwrap().starts_with("GEOGCS[\"GCJ-02\",DATUM[\"D_WGS_1984\""));
}

#[test]
fn shapefile_refuses_points_mixed_with_polygons() {
    let d = tmp("mixed");
    let mut layer = sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547));
    layer.features[5].geometry = Some(Geometry::Point(Point::new(500_010.0, 3_385_010.0)));
    layer.features[5].id = Some(json!("P-5"));
    let path = d.join("mixed.shp");
    let e = write_layer(&path, Format::Shapefile, &layer).unwrap_err().to_string();
    assert!(e.contains("mixed.shp") && e.contains("P-5") && e.contains("Point") && e.contains("one geometry type"), "{e}");
    assert!(files(&d).is_empty(), "nothing written: {:?}", files(&d));
    // The other formats take the mix.
    for format in [Format::GeoPackage, Format::FlatGeobuf, Format::GeoJson] {
        let p = d.join(format!("mixed.{}", wangge::write::extension(format)));
        write_layer(&p, format, &layer).unwrap();
        let back = read_back(&p, format);
        assert_eq!(back.features.iter().filter(|f| matches!(f.geometry, Some(Geometry::Point(_)))).count(), 1, "{format:?}");
    }
}

#[test]
fn long_shapefile_field_names_are_cut_uniquely() {
    let d = tmp("names");
    let mut layer = sample(500_000.0, 3_385_000.0, CrsSpec::Epsg(4547));
    for (i, f) in layer.features.iter_mut().enumerate() {
        f.properties.insert("mean_walk_m".into(), json!(i as f64 + 0.5));
        f.properties.insert("mean_walk_s".into(), json!(i * 2));
        f.properties.insert("max_walk_m".into(), json!(i * 3));
        f.properties.insert("建筑物名称".into(), json!("长"));
        f.properties.insert("long".into(), json!("字".repeat(100 + i)));
    }
    let path = d.join("names.shp");
    let written = write_layer(&path, Format::Shapefile, &layer).unwrap();
    let renamed: BTreeMap<String, String> = written.renamed.iter().cloned().collect();
    assert_eq!(renamed.get("mean_walk_m").map(String::as_str), Some("mean_walk_"));
    assert_eq!(renamed.get("mean_walk_s").map(String::as_str), Some("mean_wal_1"));
    assert_eq!(renamed.get("建筑物名称").map(String::as_str), Some("建筑物"));
    assert!(!renamed.contains_key("max_walk_m"), "10 bytes fit: {renamed:?}");
    assert!(written.warnings.iter().any(|w| w.contains("'long'") && w.contains("254")), "{:?}", written.warnings);
    let back = read_back(&path, Format::Shapefile);
    let got = by_key(&back);
    for f in &layer.features {
        let key = f.properties["key"].as_i64().unwrap();
        let p = &got[&key].0;
        assert_eq!(p["mean_walk_"], f.properties["mean_walk_m"]);
        assert_eq!(p["mean_wal_1"], f.properties["mean_walk_s"]);
        assert_eq!(p["max_walk_m"], f.properties["max_walk_m"]);
        assert_eq!(p["建筑物"], json!("长"));
        // Cut to 254 bytes on a character boundary: 84 characters of 3 bytes.
        assert_eq!(p["long"], json!("字".repeat(84)));
    }
}

#[test]
fn cli_writes_every_format_with_the_same_grids() {
    let d = tmp("cli");
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/data/shanghai_bund/buildings.geojson");
    let run = |format: &str| {
        let out = d.join(format);
        let o = wangge(&["partition", input, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--output-format", format]);
        assert!(matches!(o.status.code(), Some(0) | Some(4)), "{format}: {}", stderr(&o));
        out
    };
    let reference = run("geojson");
    let text = std::fs::read_to_string(reference.join("buildings.geojson")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let want: Vec<(String, i64)> = doc["features"].as_array().unwrap().iter().map(|f| (f["properties"]["bid"].as_str().unwrap().to_string(), f["properties"]["grid_id"].as_i64().unwrap())).collect();
    let grids_doc: Value = serde_json::from_str(&std::fs::read_to_string(reference.join("grids.geojson")).unwrap()).unwrap();
    let n_grids = grids_doc["features"].as_array().unwrap().len();
    assert!(n_grids > 1);
    for (name, format, expected) in [
        ("gpkg", Format::GeoPackage, vec!["buildings.gpkg", "grids.gpkg", "summary.json"]),
        ("shp", Format::Shapefile, vec!["buildings.cpg", "buildings.dbf", "buildings.prj", "buildings.shp", "buildings.shx", "grids.cpg", "grids.dbf", "grids.prj", "grids.shp", "grids.shx", "summary.json"]),
        ("fgb", Format::FlatGeobuf, vec!["buildings.fgb", "grids.fgb", "summary.json"]),
        ("parquet", Format::GeoParquet, vec!["buildings.parquet", "grids.parquet", "summary.json"]),
        ("geojsonseq", Format::GeoJsonSeq, vec!["buildings.geojsonl", "grids.geojsonl", "summary.json"]),
    ] {
        let out = run(name);
        assert_eq!(files(&out), expected, "{name}");
        let ext = wangge::write::extension(format);
        let b = read_back(&out.join(format!("buildings.{ext}")), format);
        let mut got: Vec<(String, i64)> = (0..b.features.len())
            .map(|i| {
                let (_, p) = input_feature_parts(&b, i).unwrap();
                (p["bid"].as_str().unwrap().to_string(), p["grid_id"].as_i64().unwrap())
            })
            .collect();
        let mut want_sorted = want.clone();
        if format == Format::FlatGeobuf {
            // Stored in spatial-index order.
            got.sort();
            want_sorted.sort();
        }
        assert_eq!(got, want_sorted, "{name}: grid ids of the buildings");
        let g = read_back(&out.join(format!("grids.{ext}")), format);
        assert_eq!(g.features.len(), n_grids, "{name}");
        if format != Format::GeoJsonSeq {
            assert_eq!(b.crs.as_ref().map(|c| c.is_wgs84_lonlat()), Some(true), "{name}: {:?}", b.crs);
        }
    }
    // Every input property is kept in the GeoPackage, with its type.
    let b = read_back(&d.join("gpkg").join("buildings.gpkg"), Format::GeoPackage);
    assert_eq!(b.columns, vec!["bid", "osm_id", "floors", "households", "population", "grid_id"]);
    let (_, p) = input_feature_parts(&b, 0).unwrap();
    assert_eq!(p["osm_id"], json!(-6651434));
}

#[test]
fn cli_failed_write_leaves_the_directory_as_it_was() {
    let d = tmp("cli-fail");
    // Polygons and one point: fine for the partition, refused by a Shapefile.
    let mut feats = Vec::new();
    for i in 0..30 {
        let geometry = if i == 17 { json!({"type": "Point", "coordinates": [X0 + i as f64 * 40.0, Y0]}) } else { square(i as f64 * 40.0, 0.0, 20.0) };
        feats.push(json!({"type": "Feature", "id": i, "properties": {"households": 40}, "geometry": geometry}));
    }
    let input = d.join("b.geojson");
    std::fs::write(&input, collection(feats)).unwrap();
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.json"), "old").unwrap();
    std::fs::write(out.join("grids.shp"), "old grids").unwrap();
    let args = ["partition", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--overwrite", "--min-households", "100", "--max-households", "300", "--output-format", "shp"];
    let o = wangge(&args);
    assert_ne!(o.status.code(), Some(0));
    let e = stderr(&o);
    assert!(e.contains("buildings.shp") && e.contains("feature 17") && e.contains("Point"), "{e}");
    assert_eq!(files(&out), vec!["grids.shp", "summary.json"], "no partial or staged file left");
    assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "old");
    assert_eq!(std::fs::read_to_string(out.join("grids.shp")).unwrap(), "old grids");
    // The same run as GeoPackage replaces both files.
    let mut args = args.to_vec();
    *args.last_mut().unwrap() = "gpkg";
    let o = wangge(&args);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    assert_eq!(files(&out), vec!["buildings.gpkg", "grids.gpkg", "grids.shp", "summary.json"]);
    assert_ne!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "old");
    // An unknown format is a usage error before any work.
    let o = wangge(&["partition", input.to_str().unwrap(), "-o", d.join("x").to_str().unwrap(), "--output-format", "kml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_broken_or_plain_parquet_file_is_refused_with_its_name() {
    let d = tmp("badparquet");
    let garbage = d.join("garbage.parquet");
    std::fs::write(&garbage, b"PAR1 this is not parquet").unwrap();
    let out = d.join("out");
    let o = wangge(&["partition", garbage.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("garbage.parquet") && e.contains("Parquet"), "{e}");
    assert!(!out.exists(), "nothing written");
    // GeoArrow-native geometry is named, not misread.
    let err = wangge::read::parquet::geo_column(Some(r#"{"version":"1.1.0","primary_column":"geom","columns":{"geom":{"encoding":"polygon"}}}"#), "x.parquet").unwrap_err().to_string();
    assert!(err.contains("x.parquet") && err.contains("'polygon'") && err.contains("WKB"), "{err}");
    // No `crs` member means OGC:CRS84; an EPSG id is read as such.
    let c = wangge::read::parquet::geo_column(Some(r#"{"primary_column":"geometry","columns":{"geometry":{"encoding":"WKB"}}}"#), "x").unwrap().unwrap();
    assert_eq!(c.crs, Some(CrsSpec::Crs84));
    let c = wangge::read::parquet::geo_column(Some(r#"{"primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","crs":{"id":{"authority":"EPSG","code":4547}}}}}"#), "x").unwrap().unwrap();
    assert_eq!(c.crs, Some(CrsSpec::Epsg(4547)));
}
