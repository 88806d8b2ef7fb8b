//! A catalogue of bad input (and of unusual input that must still work): each case writes its
//! files into a fresh folder, runs one `wangge` command there, and checks the exit code, that
//! the message names the file (and the feature, where one is at fault) and the fault in the
//! user's words (never a panic or a debug structure), and that the folder is exactly as it was
//! (nothing written, nothing removed) when the command fails.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{tmp, X0, Y0};
use serde_json::{json, Value};

/// A square footprint of side `s` m centred (x, y) m from the origin (EPSG:4547).
fn sq(x: f64, y: f64, s: f64) -> Value {
    let h = s / 2.0;
    json!({"type": "Polygon", "coordinates": [[[X0 + x - h, Y0 + y - h], [X0 + x + h, Y0 + y - h], [X0 + x + h, Y0 + y + h], [X0 + x - h, Y0 + y + h], [X0 + x - h, Y0 + y - h]]]})
}

/// 30 buildings on a 6 × 5 lattice (ids 1000 + position, 60–100 households each).
fn base() -> Vec<Value> {
    (0..30)
        .map(|k| {
            let (i, j) = (k % 6, k / 6);
            json!({"type": "Feature", "id": 1000 + k, "properties": {"households": 60 + (i * 7 + j * 3) % 5 * 10, "population": 150}, "geometry": sq(i as f64 * 40.0, j as f64 * 40.0, 20.0)})
        })
        .collect()
}

fn coll(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}}, "features": features}).to_string()
}

/// The base layer with feature 7 changed by `f`.
fn with7(f: impl FnOnce(&mut Value)) -> String {
    let mut fs = base();
    f(&mut fs[7]);
    coll(fs)
}

/// The base layer with every feature changed by `f`.
fn with_all(f: impl Fn(&mut Value)) -> String {
    let mut fs = base();
    fs.iter_mut().for_each(f);
    coll(fs)
}

fn grid_layer() -> String {
    coll(vec![json!({"type": "Feature", "properties": {"grid_id": 1}, "geometry": sq(100.0, 80.0, 400.0)})])
}

/// One case: files to write, the command's arguments, the exit code, words the message holds.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<&'static str>,
    code: i32,
    words: Vec<&'static str>,
}

const P: &[&str] = &["partition", "b.geojson", "-o", "out", "-q", "--effort", "0"];

fn p(extra: &[&'static str]) -> Vec<&'static str> {
    P.iter().copied().chain(extra.iter().copied()).collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            let key = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                out.insert(format!("{key}/"), Vec::new());
                stack.push(path);
            } else {
                out.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn cases() -> Vec<Case> {
    let b = |text: String| ("b.geojson", text.into_bytes());
    let mut c: Vec<Case> = Vec::new();
    let mut add = |name: &'static str, files: Vec<(&'static str, Vec<u8>)>, args: Vec<&'static str>, code: i32, words: &[&'static str]| {
        c.push(Case { name, files, args, code, words: words.to_vec() });
    };
    // Malformed GeoJSON.
    add("empty file", vec![b(String::new())], p(&[]), 3, &["b.geojson", "is empty"]);
    add("only whitespace", vec![b(" \n\t ".into())], p(&[]), 3, &["b.geojson", "is empty"]);
    add("a JSON array", vec![b("[]".into())], p(&[]), 3, &["b.geojson", "JSON array"]);
    add("an object without type", vec![b("{\"features\": []}".into())], p(&[]), 3, &["b.geojson", "no 'type' member"]);
    add("no features member", vec![b("{\"type\":\"FeatureCollection\"}".into())], p(&[]), 3, &["b.geojson", "without a 'features' array"]);
    add("features not an array", vec![b("{\"type\":\"FeatureCollection\",\"features\":{}}".into())], p(&[]), 3, &["b.geojson", "not valid GeoJSON", "line 1"]);
    add("no features", vec![b(coll(vec![]))], p(&[]), 3, &["b.geojson", "has no features"]);
    add("truncated", vec![b(coll(base())[..5000].to_string())], p(&[]), 3, &["b.geojson", "not valid GeoJSON", "column 5000"]);
    add("trailing garbage", vec![b(coll(base()) + "xyz")], p(&[]), 3, &["b.geojson", "trailing characters"]);
    add("a NaN token", vec![b(coll(base()).replacen("500010.0", "NaN", 1))], p(&[]), 3, &["b.geojson", "not valid GeoJSON", "column"]);
    let mut latin = coll(base()).into_bytes();
    let at = latin.windows(10).position(|w| w == b"households").unwrap();
    latin[at + 3] = 0xFF;
    add("invalid UTF-8", vec![("b.geojson", latin)], p(&[]), 3, &["b.geojson", "not UTF-8"]);
    add("UTF-16", vec![("b.geojson", [vec![0xFF, 0xFE], coll(base()).encode_utf16().flat_map(|u| u.to_le_bytes()).collect()].concat())], p(&[]), 3, &["b.geojson", "not UTF-8"]);
    let deep = format!("{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"properties\":{{}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":{}{}}}}}]}}", "[".repeat(100_000), "]".repeat(100_000));
    add("nesting 100,000 deep", vec![b(deep)], p(&[]), 3, &["b.geojson", "feature 0", "malformed geometry"]);
    // Geometry.
    add("an unknown geometry type", vec![b(with7(|f| f["geometry"] = json!({"type": "Circle", "coordinates": [1, 2]})))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "unknown geometry type 'Circle'"]);
    add("coordinates as text", vec![b(with7(|f| f["geometry"]["coordinates"] = json!([["1,2", "3,4"]])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "malformed geometry"]);
    add("coordinates one level short", vec![b(with7(|f| f["geometry"]["coordinates"] = json!([X0, Y0])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "malformed geometry"]);
    add("a position of one number", vec![b(with7(|f| f["geometry"]["coordinates"][0][1] = json!([X0])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "position"]);
    add("a ring of two points", vec![b(with7(|f| f["geometry"]["coordinates"] = json!([[[X0, Y0], [X0 + 1.0, Y0], [X0, Y0]]])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "only 2 distinct points"]);
    add("one vertex repeated", vec![b(with7(|f| f["geometry"]["coordinates"] = json!([[[X0, Y0], [X0, Y0], [X0, Y0], [X0, Y0]]])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "only 1 distinct points"]);
    add("a null geometry", vec![b(with7(|f| f["geometry"] = Value::Null))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "no geometry (null)"]);
    add("only null geometries", vec![b(with_all(|f| f["geometry"] = Value::Null))], p(&[]), 3, &["b.geojson", "no feature has a geometry"]);
    add("a line as a building", vec![b(with7(|f| f["geometry"] = json!({"type": "LineString", "coordinates": [[X0, Y0], [X0 + 5.0, Y0 + 5.0]]})))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "LineString", "expected Polygon"]);
    add("an empty polygon", vec![b(with7(|f| f["geometry"] = json!({"type": "Polygon", "coordinates": []})))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "empty geometry"]);
    add("an empty multipolygon", vec![b(with7(|f| f["geometry"] = json!({"type": "MultiPolygon", "coordinates": []})))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "empty geometry"]);
    // Counts.
    add("households as text", vec![b(with7(|f| f["properties"]["households"] = json!("abc")))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "'households' is not a number", "abc"]);
    add("households true", vec![b(with7(|f| f["properties"]["households"] = json!(true)))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "'households' is not a number"]);
    add("households as a list", vec![b(with7(|f| f["properties"]["households"] = json!([1])))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "'households' is not a number"]);
    add("households null", vec![b(with7(|f| f["properties"]["households"] = Value::Null))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "'households' is null"]);
    add("households missing in one feature", vec![b(with7(|f| f["properties"] = json!({"population": 3})))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "no 'households' property"]);
    add("no households column", vec![b(with_all(|f| f["properties"] = json!({"hh": 5})))], p(&[]), 3, &["b.geojson", "feature 0 (id 1000)", "no 'households' property", "hh"]);
    add("every household count zero", vec![b(with_all(|f| f["properties"]["households"] = json!(0)))], p(&[]), 3, &["b.geojson", "all 30 buildings hold 0 households", "--households"]);
    add("negative households", vec![b(with7(|f| f["properties"]["households"] = json!(-3)))], p(&[]), 3, &["b.geojson", "feature 7 (id 1007)", "-3"]);
    add("population as text", vec![b(with7(|f| f["properties"]["population"] = json!("x")))], p(&["--population", "population"]), 3, &["b.geojson", "feature 7 (id 1007)", "'population' is not a number"]);
    add("a population column that is absent", vec![b(coll(base()))], p(&["--population", "persons"]), 3, &["b.geojson", "persons"]);
    // Ids.
    add("a repeated id", vec![b(with7(|f| f["id"] = json!(1000)))], p(&[]), 3, &["b.geojson", "feature 7 (id 1000)", "repeats id '1000'", "feature 0"]);
    add("an id that is an object", vec![b(with7(|f| f["id"] = json!({"a": 1})))], p(&[]), 3, &["b.geojson", "feature 7", "unusable id"]);
    // Coordinate systems.
    add("degrees declared as metres", vec![b(with_all(|f| {
        let k = f["id"].as_f64().unwrap() - 1000.0;
        f["geometry"] = json!({"type": "Point", "coordinates": [121.4 + k * 1e-4, 31.2]});
    }))], p(&[]), 3, &["b.geojson", "EPSG:4547", "look like longitudes and latitudes"]);
    add("metres without a CRS", vec![b(json!({"type": "FeatureCollection", "features": base()}).to_string())], p(&[]), 3, &["b.geojson", "not longitudes and latitudes", "--crs"]);
    add("an unknown EPSG code", vec![b(coll(base()).replace("EPSG::4547", "EPSG::999999"))], p(&[]), 3, &["b.geojson", "EPSG:999999", "PROJ does not know it"]);
    add("a malformed crs member", vec![b(json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": 5}, "features": base()}).to_string())], p(&[]), 3, &["b.geojson", "'crs' member", "--crs"]);
    add("a zone number before the easting", vec![b(with_all(|f| {
        let ring: Vec<Value> = f["geometry"]["coordinates"][0].as_array().unwrap().iter().map(|p| json!([p[0].as_f64().unwrap() + 40_000_000.0, p[1]])).collect();
        f["geometry"]["coordinates"] = json!([ring]);
    }))], p(&[]), 3, &["b.geojson", "EPSG:4547", "zone number written before the easting"]);
    add("another country's system", vec![b(coll(base()).replace("EPSG::4547", "EPSG::2154"))], p(&[]), 3, &["b.geojson", "EPSG:2154", "far outside the area where this system is used", "France"]);
    add("--crs that is not a CRS", vec![b(coll(base()))], p(&["--crs", "not a crs"]), 3, &["b.geojson", "not a crs", "PROJ does not know it"]);
    // Options.
    add("minimum above maximum", vec![b(coll(base()))], p(&["--min-households", "500", "--max-households", "300"]), 2, &["--min-households", "500", "above", "--max-households"]);
    add("maximum zero", vec![b(coll(base()))], p(&["--max-households", "0"]), 2, &["--max-households", "> 0"]);
    add("zero grids", vec![b(coll(base()))], p(&["--grids", "0"]), 2, &["--grids", "at least 1"]);
    add("a negative minimum", vec![b(coll(base()))], p(&["--min-households=-5"]), 2, &["--min-households", "-5"]);
    add("a time limit of NaN", vec![b(coll(base()))], p(&["--time-limit", "NaN"]), 2, &["--time-limit", "NaN"]);
    add("a seed that is text", vec![b(coll(base()))], p(&["--seed", "abc"]), 2, &["--seed", "abc"]);
    add("--locked without a division", vec![b(coll(base()))], p(&["--locked", "3"]), 2, &["--locked", "--existing"]);
    add("--join-on without a table", vec![b(coll(base()))], p(&["--join-on", "id"]), 2, &["--join-on", "--households-table"]);
    add("--workers neither number nor file", vec![b(coll(base()))], p(&["--workers", "abc"]), 3, &["abc", "neither a number of workers nor an existing file"]);
    add("an unknown configuration key", vec![b(coll(base())), ("c.json", b"{\"min_housholds\": 3}".to_vec())], p(&["--config", "c.json"]), 2, &["c.json", "min_housholds"]);
    add("a configuration value of the wrong type", vec![b(coll(base())), ("c.json", b"{\"min_households\": \"x\"}".to_vec())], p(&["--config", "c.json"]), 2, &["c.json", "min_households"]);
    add("a configuration that is not JSON", vec![b(coll(base())), ("c.json", b"min_households = 3".to_vec())], p(&["--config", "c.json"]), 2, &["c.json", "not valid JSON"]);
    add("a TOML configuration with a syntax error", vec![b(coll(base())), ("c.toml", b"[bounds\n".to_vec())], p(&["--config", "c.toml"]), 2, &["c.toml", "not valid TOML"]);
    // Other layers.
    add("a territory of points", vec![b(coll(base())), ("t.geojson", coll(vec![json!({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [X0, Y0]}})]).into_bytes())], p(&["--territory", "t.geojson"]), 3, &["t.geojson", "feature 0", "Point", "territory"]);
    add("a territory far from every building", vec![b(coll(base())), ("t.geojson", coll(vec![json!({"type": "Feature", "properties": {}, "geometry": sq(50_000.0, 50_000.0, 100.0)})]).into_bytes())], p(&["--territory", "t.geojson"]), 3, &["t.geojson", "no building lies inside the territory"]);
    add("a missing barriers file", vec![b(coll(base()))], p(&["--barriers", "nope.geojson"]), 5, &["nope.geojson", "no such file"]);
    add("communities without a code column", vec![b(coll(base())), ("c.geojson", coll(vec![json!({"type": "Feature", "properties": {}, "geometry": sq(100.0, 80.0, 400.0)})]).into_bytes())], p(&["--communities", "c.geojson"]), 3, &["c.geojson", "no 'code' column", "--community-code"]);
    add("--by a missing column", vec![b(coll(base()))], p(&["--by", "community"]), 3, &["b.geojson", "no 'community' column"]);
    add("a households table without the key", vec![b(coll(base())), ("h.csv", b"a,b\n1,2\n".to_vec())], p(&["--households-table", "h.csv", "--join-on", "id"]), 3, &["'id'", "households table"]);
    // Paths and formats.
    add("buildings that are a folder", vec![("b.geojson/keep", b"x".to_vec())], p(&[]), 5, &["b.geojson", "read failed"]);
    add("an unknown extension", vec![("b.xyz", b"x".to_vec())], vec!["partition", "b.xyz", "-o", "out", "-q"], 3, &["b.xyz", "unknown format"]);
    add("a text file named .gpkg", vec![("b.gpkg", b"hello".to_vec())], vec!["partition", "b.gpkg", "-o", "out", "-q"], 3, &["b.gpkg", "not a GeoPackage"]);
    add("--format that does not match", vec![b(coll(base()))], p(&["--format", "gpkg"]), 3, &["b.geojson", "not a GeoPackage"]);
    add("an output that is a file", vec![b(coll(base())), ("out", b"keep me".to_vec())], p(&[]), 5, &["out", "not a directory"]);
    add("a non-empty output folder", vec![b(coll(base())), ("out/mine.txt", b"keep me".to_vec())], p(&[]), 2, &["out", "not empty", "--overwrite"]);
    // check, repair, info, batch.
    add("check of an empty layer", vec![("g.geojson", coll(vec![]).into_bytes())], vec!["check", "g.geojson", "--json", "-", "-q"], 3, &["g.geojson", "no features"]);
    add("check with buildings lacking households", vec![("g.geojson", grid_layer().into_bytes()), b(with_all(|f| f["properties"] = json!({})))], vec!["check", "g.geojson", "--buildings", "b.geojson", "--min-households", "1", "--json", "-", "-q"], 3, &["b.geojson", "households"]);
    add("check without an output", vec![("g.geojson", grid_layer().into_bytes())], vec!["check", "g.geojson", "-q"], 2, &["-o OUT_DIR", "--json -"]);
    add("repair into a file", vec![("g.geojson", grid_layer().into_bytes()), ("out", b"keep".to_vec())], vec!["repair", "g.geojson", "-o", "out", "-q"], 5, &["out", "not a directory"]);
    add("repair of points", vec![("g.geojson", coll(vec![json!({"type": "Feature", "properties": {"grid_id": 1}, "geometry": {"type": "Point", "coordinates": [X0, Y0]}})]).into_bytes())], vec!["repair", "g.geojson", "-o", "out", "-q"], 3, &["g.geojson", "no polygon to repair", "1 Point"]);
    add("info of a missing file", vec![], vec!["info", "nope.geojson"], 5, &["nope.geojson", "no such file"]);
    add("a manifest without buildings", vec![("m.csv", b"name,output\nA,x\n".to_vec())], vec!["batch", "m.csv", "-o", "bo"], 2, &["m.csv", "job 1 has no buildings"]);
    c
}

#[test]
fn every_bad_input_is_refused_in_the_users_terms_and_leaves_the_folder_as_it_was() {
    let all = cases();
    assert!(all.len() >= 60, "{} cases", all.len());
    let mut failures = Vec::new();
    for (k, case) in all.iter().enumerate() {
        let dir = tmp(&format!("catalogue-{k}"));
        for (name, bytes) in &case.files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        let before = snapshot(&dir);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_wangge")).args(&case.args).current_dir(&dir).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        let mut wrong = Vec::new();
        if o.status.code() != Some(case.code) {
            wrong.push(format!("exit {:?}, expected {}", o.status.code(), case.code));
        }
        for w in &case.words {
            if !e.contains(w) {
                wrong.push(format!("'{w}' missing"));
            }
        }
        if e.contains("panicked") || e.contains("RUST_BACKTRACE") || e.contains("{ ") || e.contains("Error {") {
            wrong.push("a panic or a debug structure".into());
        }
        if case.code != 0 && snapshot(&dir) != before {
            wrong.push("the folder changed".into());
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {} — stderr: {}", case.name, wrong.join("; "), e.trim()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn unusual_but_valid_input_is_accepted() {
    let ok = |name: &str, text: String, extra: &[&str]| {
        let dir = tmp(&format!("unusual-{name}"));
        std::fs::write(dir.join("b.geojson"), text).unwrap();
        std::fs::write(dir.join("c.toml"), "min_households = 250\nmax_households = 450\nseed = 3\n").unwrap();
        let args: Vec<&str> = P.iter().copied().chain(extra.iter().copied()).collect();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_wangge")).args(&args).current_dir(&dir).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        let b: Value = serde_json::from_slice(&std::fs::read(dir.join("out/buildings.geojson")).unwrap()).unwrap();
        assert_eq!(b["features"].as_array().unwrap().len(), 30, "{name}");
    };
    ok("3d", with7(|f| {
        let ring: Vec<Value> = f["geometry"]["coordinates"][0].as_array().unwrap().iter().map(|p| json!([p[0], p[1], 5.0])).collect();
        f["geometry"]["coordinates"] = json!([ring]);
    }), &[]);
    ok("numeric text", with7(|f| f["properties"]["households"] = json!("70")), &[]);
    ok("a collection", with7(|f| f["geometry"] = json!({"type": "GeometryCollection", "geometries": [sq(280.0, 40.0, 20.0)]})), &[]);
    ok("clockwise rings", with_all(|f| {
        let mut ring = f["geometry"]["coordinates"][0].as_array().unwrap().clone();
        ring.reverse();
        f["geometry"]["coordinates"] = json!([ring]);
    }), &[]);
    ok("a TOML configuration", coll(base()), &["--config", "c.toml"]);
}
