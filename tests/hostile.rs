//! Hostile input: each case is refused with exit 3 and a message naming the file, the feature
//! (its 0-based position, and its id when it has another) and the fault, with no output
//! directory left behind; or, where the input is only unusual (a byte-order mark, an invalid
//! footprint with --fix-geometry), accepted.

mod common;

use common::*;
use serde_json::{json, Value};

/// A lattice of 6 × 5 buildings (EPSG:4547, ids 1000 + position) with feature 7 replaced by `f7`.
fn buildings_with(f7: impl FnOnce(&mut Value)) -> String {
    let text = lattice(6, 5, 40.0, &mut |i, j| 60.0 + ((i * 7 + j * 3) % 5) as f64 * 10.0);
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    for (k, f) in doc["features"].as_array_mut().unwrap().iter_mut().enumerate() {
        f["id"] = json!(1000 + k);
    }
    f7(&mut doc["features"][7]);
    doc.to_string()
}

/// Runs `wangge partition FILE -o OUT` and checks: exit 3, the message names the file, feature 7
/// with its id, and each of `words`; the output directory was not made.
fn refused(name: &str, text: &str, words: &[&str]) {
    let d = tmp(name);
    let file = write(&d, &format!("{name}.geojson"), text);
    let out = d.join("out");
    let o = wangge(&["partition", &file, "-o", out.to_str().unwrap(), "-q", "--effort", "0"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{name}: {e}");
    assert!(e.contains(&format!("{name}.geojson")) && e.contains("feature 7 (id 1007)"), "{name}: {e}");
    for w in words {
        assert!(e.contains(w), "{name}: '{w}' not in: {e}");
    }
    assert!(!e.contains("panicked") && !e.contains("{ ") && e.lines().count() <= 2, "{name}: a message in the user's terms: {e}");
    assert!(!out.exists(), "{name}: no output directory");
}

#[test]
fn a_bow_tie_footprint_is_refused_and_repaired_on_request() {
    let bow = |f: &mut Value| {
        let c = f["geometry"]["coordinates"][0].clone();
        let (p0, p2) = (c[0].clone(), c[2].clone());
        let (x0, y0, x1, y1) = (p0[0].as_f64().unwrap(), p0[1].as_f64().unwrap(), p2[0].as_f64().unwrap(), p2[1].as_f64().unwrap());
        f["geometry"]["coordinates"] = json!([[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]]);
    };
    refused("bowtie", &buildings_with(bow), &["invalid polygon", "cross", "--fix-geometry"]);
    let d = tmp("bowtie-fixed");
    let file = write(&d, "b.geojson", buildings_with(bow));
    let out = d.join("out");
    let o = wangge(&["partition", &file, "-o", out.to_str().unwrap(), "--effort", "0", "--fix-geometry"]);
    let e = stderr(&o);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{e}");
    assert!(e.contains("warning") && e.contains("building 7 (id 1007)") && e.contains("odd-even"), "{e}");
    let grids = read_json(out.join("buildings.geojson"));
    assert_eq!(grids["features"].as_array().unwrap().len(), 30, "every building kept");
}

#[test]
fn a_hole_outside_its_shell_is_refused() {
    refused(
        "hole",
        &buildings_with(|f| {
            let shell = f["geometry"]["coordinates"][0].clone();
            let (x, y) = (shell[0][0].as_f64().unwrap() + 500.0, shell[0][1].as_f64().unwrap() + 500.0);
            f["geometry"]["coordinates"] = json!([shell, [[x, y], [x + 5.0, y], [x + 5.0, y + 5.0], [x, y]]]);
        }),
        &["hole 1 outside its outer ring"],
    );
}

#[test]
fn a_far_or_huge_vertex_is_named_with_its_feature() {
    refused("huge", &buildings_with(|f| f["geometry"]["coordinates"][0][1] = json!([1e300, 3_385_000.0])), &["1e300", "typing error"]);
    refused("far", &buildings_with(|f| f["geometry"]["coordinates"][0][1] = json!([5e7, 5e7])), &["50000000", "typing error"]);
}

#[test]
fn absurd_counts_are_refused_in_plain_numbers() {
    refused("absurd", &buildings_with(|f| f["properties"]["households"] = json!(1.7e308)), &["'households'", "1.7e308", "at most 1000000000"]);
    refused("negative", &buildings_with(|f| f["properties"]["households"] = json!(-3)), &["'households'", "-3"]);
}

#[test]
fn a_byte_order_mark_is_skipped_and_a_bad_line_is_named() {
    let d = tmp("bom");
    let text = buildings_with(|_| {});
    let file = write(&d, "bom.geojson", [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat());
    let out = d.join("out");
    let o = wangge(&["partition", &file, "-o", out.to_str().unwrap(), "-q", "--effort", "0"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    // Line-delimited GeoJSON: the fault is reported at its line of the file.
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut lines: Vec<String> = doc["features"].as_array().unwrap().iter().map(|f| f.to_string()).collect();
    let cut = lines[7].len() - 3;
    lines[7].truncate(cut);
    let seq = write(&d, "b.geojsonl", lines.join("\n"));
    let o = wangge(&["partition", &seq, "-o", d.join("out2").to_str().unwrap(), "-q", "--crs", "EPSG:4547"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("b.geojsonl") && e.contains("line 8"), "{e}");
    assert!(!d.join("out2").exists());
}

#[test]
fn repair_refuses_a_layer_without_polygons_and_never_calls_a_null_grid_repaired() {
    let d = tmp("repair-points");
    let points: Vec<Value> = (0..6).map(|k| json!({"type": "Feature", "properties": {"grid_id": k}, "geometry": {"type": "Point", "coordinates": [121.4 + k as f64 * 1e-3, 31.2]}})).collect();
    let file = write(&d, "points.geojson", json!({"type": "FeatureCollection", "features": points}).to_string());
    let out = d.join("out");
    let o = wangge(&["repair", &file, "-o", out.to_str().unwrap(), "-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains("points.geojson") && e.contains("no polygon to repair") && e.contains("6 Point"), "{e}");
    assert!(!out.exists(), "no output directory");
    // One square, one point, one null: the square is kept, the other two are unresolved (exit 1).
    let sq = json!({"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.401, 31.2], [121.401, 31.201], [121.4, 31.201], [121.4, 31.2]]]});
    let mixed = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"grid_id": "A"}, "geometry": sq},
        {"type": "Feature", "properties": {"grid_id": "B"}, "geometry": {"type": "Point", "coordinates": [121.4005, 31.2005]}},
        {"type": "Feature", "properties": {"grid_id": "C"}, "geometry": null}
    ]});
    let file = write(&d, "mixed.geojson", mixed.to_string());
    let o = wangge(&["repair", &file, "-o", out.to_str().unwrap(), "-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("2 problems remain unresolved") && e.contains("grid \"B\" (feature 1) has a Point geometry") && e.contains("grid \"C\" (feature 2) has a null geometry"), "{e}");
    let report = read_json(out.join("repair.json"));
    assert_eq!(report["clean"], false);
    assert_eq!(report["made_valid"], 0, "a point is not 'made valid': {report}");
    // Unrepairable features are written as they were, never as empty geometries.
    let written = read_json(out.join("grids.geojson"));
    assert_eq!(written["features"][1]["geometry"]["type"], "Point");
    assert!(written["features"][2]["geometry"].is_null());
}

/// A shapefile of the 30 lattice buildings (written by wangge), in `dir`/b.*.
fn shapefile_in(dir: &std::path::Path) -> std::path::PathBuf {
    let file = write(dir, "src.geojson", buildings_with(|_| {}));
    let out = dir.join("shp");
    let o = wangge(&["partition", &file, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--output-format", "shapefile"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        std::fs::copy(out.join(format!("buildings.{ext}")), dir.join(format!("b.{ext}"))).unwrap();
    }
    dir.join("b.shp")
}

/// `wangge partition SHP`: exit 3, a one- or two-line message naming `file` and holding `words`.
fn shapefile_refused(shp: &std::path::Path, file: &str, words: &[&str]) {
    let out = shp.with_file_name("out");
    let o = wangge(&["partition", shp.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--effort", "0"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{e}");
    assert!(e.contains(file), "'{file}' not named: {e}");
    for w in words {
        assert!(e.contains(w), "'{w}' not in: {e}");
    }
    assert!(!e.contains("panicked") && !e.contains("{ ") && !e.contains("Error"), "a message in the user's terms: {e}");
    assert!(!out.exists());
}

#[test]
fn a_missing_truncated_or_foreign_dbf_is_named_and_never_read_in_part() {
    let d = tmp("dbf");
    let shp = shapefile_in(&d);
    let dbf = d.join("b.dbf");
    let good = std::fs::read(&dbf).unwrap();
    // Truncated: the header declares 30 records.
    std::fs::write(&dbf, &good[..good.len() / 2]).unwrap();
    shapefile_refused(&shp, "b.dbf", &["truncated", "30 records"]);
    // Garbage.
    std::fs::write(&dbf, (0..200u32).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    shapefile_refused(&shp, "b.dbf", &["not a dBase table"]);
    // A table of another layer: 29 records for 30 shapes.
    let mut fewer = good.clone();
    fewer[4..8].copy_from_slice(&29u32.to_le_bytes());
    std::fs::write(&dbf, &fewer).unwrap();
    shapefile_refused(&shp, "b.shp", &["30 shapes", "29 records", "do not belong together"]);
    // A binary field shorter than its type (dBase would slice past it), and a Visual FoxPro
    // header too short for its backlink.
    let mut short = good.clone();
    short[32 + 11] = b'B';
    short[32 + 16] = 2;
    std::fs::write(&dbf, &short).unwrap();
    shapefile_refused(&shp, "b.dbf", &["field 0", "type 'B'", "2 bytes long", "corrupt"]);
    let mut foxpro = good.clone();
    foxpro[0] = 0x30;
    std::fs::write(&dbf, &foxpro).unwrap();
    shapefile_refused(&shp, "b.dbf", &["Visual FoxPro", "backlink"]);
    // Missing.
    std::fs::remove_file(&dbf).unwrap();
    shapefile_refused(&shp, "b.shp", &[".dbf", "missing"]);
    // An upper-case B.DBF is found; a record marked deleted is skipped with its shape.
    let mut deleted = good.clone();
    let header_len = u16::from_le_bytes([good[8], good[9]]) as usize;
    deleted[header_len] = b'*';
    std::fs::write(d.join("b.DBF"), &deleted).unwrap();
    let out = d.join("out-ok");
    let o = wangge(&["partition", shp.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--effort", "0"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let b = read_json(out.join("buildings.geojson"));
    assert_eq!(b["features"].as_array().unwrap().len(), 29, "the deleted record is skipped");
}

#[test]
fn a_parquet_footer_pointing_outside_the_file_is_refused_before_decoding() {
    use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
    let d = tmp("parquet-footer");
    let file = write(&d, "src.geojson", buildings_with(|_| {}));
    let out = d.join("pq");
    let o = wangge(&["partition", &file, "-o", out.to_str().unwrap(), "-q", "--effort", "0", "--output-format", "parquet"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let good = std::fs::read(out.join("buildings.parquet")).unwrap();
    let footer_len = u32::from_le_bytes(good[good.len() - 8..good.len() - 4].try_into().unwrap()) as usize;
    let body = &good[..good.len() - 8 - footer_len];
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&std::fs::File::open(out.join("buildings.parquet")).unwrap()).unwrap();
    // The same file with one column chunk's offset made negative, then past the end.
    for (offset, words) in [(-40i64, "bytes -40"), (good.len() as i64 * 2, "outside the file")] {
        let mut builder = metadata.clone().into_builder();
        let mut groups = builder.take_row_groups();
        let mut columns = groups[0].clone().into_builder().take_columns();
        columns[0] = columns[0].clone().into_builder().set_data_page_offset(offset).set_dictionary_page_offset(None).build().unwrap();
        groups[0] = groups[0].clone().into_builder().set_column_metadata(columns).build().unwrap();
        let bad = builder.set_row_groups(groups).build();
        let mut bytes = body.to_vec();
        ParquetMetaDataWriter::new(&mut bytes, &bad).finish().unwrap();
        let target = d.join("bad.parquet");
        std::fs::write(&target, &bytes).unwrap();
        let o = wangge(&["partition", target.to_str().unwrap(), "-o", d.join("out").to_str().unwrap(), "-q", "--effort", "0"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{e}");
        assert!(e.contains("bad.parquet") && e.contains("corrupt") && e.contains(words), "{e}");
        assert!(!e.contains("panicked") && !e.contains("decoder failed"), "checked before decoding, not a contained panic: {e}");
        assert!(!d.join("out").exists());
    }
}
