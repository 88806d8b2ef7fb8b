//! The command line: output contract, exit codes, and clear errors for bad input.

mod common;


use common::*;
use serde_json::{json, Value};

#[test]
fn writes_the_output_contract() {
    let d = tmp("contract");
    let text = lattice(12, 12, 40.0, &mut |i, j| 30.0 + ((i + j) % 4) as f64 * 10.0);
    let input = write(&d, "b.geojson", &text);
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files(&out), vec!["buildings.geojson", "grids.geojson", "summary.json"]);
    let b: Value = serde_json::from_str(&std::fs::read_to_string(out.join("buildings.geojson")).unwrap()).unwrap();
    let g: Value = serde_json::from_str(&std::fs::read_to_string(out.join("grids.geojson")).unwrap()).unwrap();
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let src: Value = serde_json::from_str(&text).unwrap();
    // Same CRS member, every feature in order with its id, properties and geometry, plus grid_id.
    assert_eq!(b["crs"], src["crs"]);
    assert_eq!(g["crs"], src["crs"]);
    let (bf, sf) = (b["features"].as_array().unwrap(), src["features"].as_array().unwrap());
    assert_eq!(bf.len(), sf.len());
    for (o, i) in bf.iter().zip(sf) {
        assert_eq!(o["id"], i["id"]);
        assert_eq!(o["geometry"], i["geometry"]);
        for (k, v) in i["properties"].as_object().unwrap() {
            assert_eq!(&o["properties"][k], v);
        }
        assert!(o["properties"]["grid_id"].as_u64().unwrap() >= 1);
    }
    let grids = g["features"].as_array().unwrap();
    assert_eq!(grids.len() as u64, s["grids"].as_u64().unwrap());
    for f in grids {
        let p = &f["properties"];
        for key in ["grid_id", "households", "population", "buildings", "area_m2", "mean_walk_m", "max_walk_m", "center_id"] {
            assert!(!p[key].is_null(), "grid property {key} missing: {p}");
        }
        assert_eq!(f["geometry"]["type"], "Polygon");
    }
    for key in ["config", "violations", "timings_s", "wangge_version", "objective", "households"] {
        assert!(!s[key].is_null(), "summary.{key} missing");
    }
    assert_eq!(s["wangge_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["config"]["min_households"], 300.0);

    // A second run into the same directory is refused (usage, exit 2) and changes nothing.
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--overwrite"), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    // With --overwrite it runs, and the result is the same (deterministic).
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--overwrite"]);
    assert_eq!(o.status.code(), Some(0));
    let g2: Value = serde_json::from_str(&std::fs::read_to_string(out.join("grids.geojson")).unwrap()).unwrap();
    assert_eq!(g["features"], g2["features"]);
}

#[test]
fn existing_grid_id_property_is_replaced_not_duplicated() {
    let d = tmp("gridid");
    let mut feats = Vec::new();
    for i in 0..10 {
        feats.push(json!({"type": "Feature", "properties": {"households": 40, "grid_id": "old"}, "geometry": square(i as f64 * 30.0, 0.0, 20.0)}));
    }
    let input = write(&d, "b.geojson", collection(feats));
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("buildings.geojson")).unwrap();
    assert!(!text.contains("\"old\""));
    assert_eq!(text.matches("grid_id").count(), 10);
}

#[test]
fn unavoidable_misses_are_declared_with_exit_code_0_and_fail_with_strict() {
    let d = tmp("infeasible");
    let text = lattice(6, 6, 40.0, &mut |i, j| if (i, j) == (2, 2) { 900.0 } else { 40.0 });
    let input = write(&d, "b.geojson", &text);
    let out = d.join("out");
    // A 900-household building above the maximum of 500: no plan can avoid that miss.
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("oversize_building (unavoidable)"), "-q still shows the misses: {err}");
    assert!(err.contains("exit code 0") && err.contains("median") && err.contains("mean walk") && err.contains("grids.geojson"), "closing lines: {err}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "unavoidable_misses");
    let v = &s["violations"][0];
    assert!(v["grid_id"].as_u64().is_some() && v["kind"] == "oversize_building" && v["message"].as_str().unwrap().contains("900"));
    // --strict: any miss fails.
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--overwrite", "--strict"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "infeasible");
    assert!(stderr(&o).contains("exit code 4"), "{}", stderr(&o));
}

#[test]
fn avoidable_misses_exit_with_code_4() {
    let d = tmp("avoidable");
    let input = write(&d, "b.geojson", &lattice(6, 6, 40.0, &mut |_, _| 40.0));
    let out = d.join("out");
    // No grid of 300–500 households (8+ buildings 40 m apart) keeps every walk within 5 m.
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--max-walk", "5"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "infeasible");
    assert!(s["violations"].as_array().unwrap().iter().any(|v| v["kind"] == "long_walk"));
}

#[test]
fn warnings_reach_stderr_even_with_q() {
    let d = tmp("warned");
    let input = write(&d, "b.geojson", &lattice(6, 6, 40.0, &mut |_, _| 40.0));
    // A barrier file with a point feature: ignored, with a warning.
    let barrier = write(&d, "water.geojson", &collection(vec![json!({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [X0 + 10.0, Y0 + 10.0]}})]));
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--barriers", &barrier]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("wangge: warning:") && err.contains("water.geojson") && err.contains("point"), "{err}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let warnings: Vec<&str> = s["warnings"].as_array().unwrap().iter().filter_map(|w| w.as_str()).collect();
    assert!(warnings.iter().all(|w| err.contains(w)), "every warning of the summary is printed: {warnings:?}\n{err}");
}

/// Runs wangge on `text`; expects exit 3, an error naming the file and containing `needles`,
/// and no output file.
fn refuses(name: &str, text: &str, extra: &[&str], needles: &[&str]) {
    let d = tmp(name);
    let input = write(&d, &format!("{name}.geojson"), text);
    let out = d.join("out");
    let mut args = vec!["partition", input.as_str(), "-o", out.to_str().unwrap(), "-q"];
    args.extend_from_slice(extra);
    let o = wangge(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{name}: {err}");
    assert!(err.contains(&format!("{name}.geojson")), "{name}: error does not name the file: {err}");
    for n in needles {
        assert!(err.contains(n), "{name}: error lacks '{n}': {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(files(&out).is_empty(), "{name}: output written: {:?}", files(&out));
    assert!(!out.exists(), "{name}: the output directory is made only once the inputs are read");
}

fn one(props: Value, geometry: Value) -> String {
    collection(vec![
        json!({"type": "Feature", "id": "ok1", "properties": {"households": 100}, "geometry": square(0.0, 0.0, 10.0)}),
        json!({"type": "Feature", "id": "bad7", "properties": props, "geometry": geometry}),
    ])
}

#[test]
fn bad_input_is_refused_with_file_feature_and_fault() {
    refuses("missing", &one(json!({"hh": 3}), square(30.0, 0.0, 10.0)), &[], &["(id bad7)", "no 'households' property", "hh"]);
    refuses("text", &one(json!({"households": "many"}), square(30.0, 0.0, 10.0)), &[], &["(id bad7)", "not a number", "many"]);
    refuses("null", &one(json!({"households": null}), square(30.0, 0.0, 10.0)), &[], &["(id bad7)", "null"]);
    refuses("negative", &one(json!({"households": -4}), square(30.0, 0.0, 10.0)), &[], &["(id bad7)", ">= 0", "-4"]);
    refuses("nogeom", &one(json!({"households": 4}), Value::Null), &[], &["(id bad7)", "no geometry (null)"]);
    refuses(
        "line",
        &one(json!({"households": 4}), json!({"type": "LineString", "coordinates": [[X0, Y0], [X0 + 5.0, Y0]]})),
        &[],
        &["(id bad7)", "LineString"],
    );
    refuses(
        "ring",
        &one(json!({"households": 4}), json!({"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 5.0, Y0], [X0, Y0]]]})),
        &[],
        &["(id bad7)", "ring"],
    );
    let dup = collection(vec![
        json!({"type": "Feature", "id": 1, "properties": {"households": 100}, "geometry": square(0.0, 0.0, 10.0)}),
        json!({"type": "Feature", "id": 1, "properties": {"households": 100}, "geometry": square(30.0, 0.0, 10.0)}),
    ]);
    refuses("dupid", &dup, &[], &["repeats id '1'"]);
    // Metres in a file without a crs member (GeoJSON says lon/lat).
    let metres = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"households": 100}, "geometry": square(0.0, 0.0, 10.0)}]})
    .to_string();
    refuses("metres", &metres, &[], &["look like metres", "--crs"]);
    // Degrees declared as a projected CRS.
    let degrees = collection(vec![json!({"type": "Feature", "properties": {"households": 100},
        "geometry": {"type": "Point", "coordinates": [121.49, 31.24]}})]);
    refuses("degrees", &degrees, &[], &["look like longitudes"]);
    refuses("unknowncrs", &lattice(2, 2, 40.0, &mut |_, _| 50.0), &["--crs", "EPSG:999999"], &["EPSG:999999"]);
    refuses("syntax", "{\"type\": \"FeatureCollection\", \"features\": [ {\"type\": ", &[], &["not valid GeoJSON", "line 1"]);
    refuses("empty", &collection(vec![]), &[], &["no features"]);
}

#[test]
fn usage_errors_exit_with_2() {
    let o = wangge(&["partition", "x.geojson"]);
    assert_eq!(o.status.code(), Some(2));
    let d = tmp("usage");
    let input = write(&d, "b.geojson", lattice(3, 3, 40.0, &mut |_, _| 50.0));
    let o = wangge(&["partition", &input, "-o", d.join("o").to_str().unwrap(), "--min-households", "600", "--max-households", "500"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--min-households"), "{}", stderr(&o));
}

#[test]
fn missing_file_is_an_io_error() {
    let d = tmp("nofile");
    let o = wangge(&["partition", d.join("nothing.geojson").to_str().unwrap(), "-o", d.join("o").to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("nothing.geojson"));
}

#[test]
fn a_summary_passed_back_as_config_repeats_the_run_and_flags_override_it() {
    let d = tmp("config-back");
    let text = lattice(14, 12, 40.0, &mut |i, j| 20.0 + ((i * 7 + j * 3) % 9) as f64 * 8.0);
    let input = write(&d, "b.geojson", &text);
    let (first, again, other) = (d.join("first"), d.join("again"), d.join("other"));
    let o = wangge(&["partition", &input, "-o", first.to_str().unwrap(), "-q", "--min-households", "200", "--max-households", "380", "--seed", "4", "--effort", "0", "--micro-min", "30", "--micro-max", "120"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = first.join("summary.json");
    let o = wangge(&["partition", &input, "-o", again.to_str().unwrap(), "-q", "--config", summary.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["buildings.geojson", "grids.geojson", "micro_grids.geojson"] {
        assert_eq!(std::fs::read(first.join(f)).unwrap(), std::fs::read(again.join(f)).unwrap(), "{f} differs");
    }
    let (a, b) = (read_json(&summary), read_json(again.join("summary.json")));
    assert_eq!(a["config"], b["config"]);
    // A flag given on the command line wins over the file; the rest of the file still holds.
    let o = wangge(&["partition", &input, "-o", other.to_str().unwrap(), "-q", "--config", summary.to_str().unwrap(), "--max-households", "400"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c = read_json(other.join("summary.json"));
    assert_eq!((c["config"]["max_households"].as_f64(), c["config"]["min_households"].as_f64(), c["config"]["seed"].as_u64()), (Some(400.0), Some(200.0), Some(4)));
    // An unknown field is refused, naming the file.
    let bad = write(&d, "bad.json", r#"{"min_households": 200, "max_housholds": 400}"#);
    let o = wangge(&["partition", &input, "-o", d.join("bad").to_str().unwrap(), "-q", "--config", &bad]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.json") && stderr(&o).contains("max_housholds"), "{}", stderr(&o));
}

#[test]
fn the_typed_summary_reads_back_as_written() {
    let d = tmp("summary-typed");
    let input = write(&d, "b.geojson", lattice(10, 10, 40.0, &mut |_, _| 45.0));
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--workers", "12", "--worker-capacity", "480"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let typed: wangge::report::Summary = serde_json::from_str(&text).expect("summary.json reads as a Summary");
    assert_eq!(serde_json::to_value(&typed).unwrap(), serde_json::from_str::<Value>(&text).unwrap());
    assert_eq!(typed.grids, typed.households.grids_in_bounds);
    assert_eq!(typed.workers.as_ref().map(|w| w.available), Some(12));
}

#[test]
fn overwrite_leaves_no_output_of_an_earlier_run() {
    let d = tmp("stale");
    let input = write(&d, "b.geojson", &lattice(6, 6, 40.0, &mut |_, _| 40.0));
    let out = d.join("out");
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--micro-min", "20", "--micro-max", "100", "--report"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    assert!(out.join("micro_grids.geojson").exists() && out.join("report.html").exists());
    let o = wangge(&["partition", &input, "-o", out.to_str().unwrap(), "-q", "--overwrite"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names, ["buildings.geojson", "grids.geojson", "summary.json"]);
}
