//! City scale from the command line: grids nested in communities (polygons or a column), and
//! many jobs in one `wangge batch` run. Checked with `geo` and the output files only.

mod common;

use common::*;
use geo::{Area, BooleanOps};
use serde_json::{json, Value};

/// Two communities side by side on a 24 × 12 lattice (40 m apart): west of x = 470 m and east
/// of it (between two columns of buildings), and a third one holding no building.
fn communities() -> String {
    let poly = |x0: f64, x1: f64, code: Value, name: &str| {
        json!({"type": "Feature", "properties": {"code": code, "name": name},
               "geometry": {"type": "Polygon", "coordinates": [[[X0 + x0, Y0 - 30.0], [X0 + x1, Y0 - 30.0], [X0 + x1, Y0 + 470.0], [X0 + x0, Y0 + 470.0], [X0 + x0, Y0 - 30.0]]]}})
    };
    collection(vec![poly(-30.0, 470.0, json!(310104001), "西"), poly(470.0, 950.0, json!("310104002"), "东"), poly(950.0, 1100.0, json!("310104003"), "空")])
}

fn community_of(x: f64) -> &'static str {
    if x < X0 + 470.0 {
        "310104001"
    } else {
        "310104002"
    }
}

#[test]
fn grids_nest_in_community_polygons() {
    let d = tmp("city-polygons");
    let text = lattice(24, 12, 40.0, &mut |i, j| 40.0 + ((3 * i + j) % 5) as f64 * 10.0);
    let input = write(&d, "b.geojson", &text);
    let comm = write(&d, "communities.geojson", communities());
    let out = d.join("out");
    let o = wangge(&["partition", &input, "--communities", &comm, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_json(out.join("buildings.geojson"));
    let g = read_json(out.join("grids.geojson"));
    let s = read_json(out.join("summary.json"));
    // Every building in a grid of its own community (by its position, not wangge's word).
    for f in b["features"].as_array().unwrap() {
        let ring = &f["geometry"]["coordinates"][0];
        let x = ring[0][0].as_f64().unwrap() + 10.0;
        let id = f["properties"]["grid_id"].as_str().unwrap();
        let code = community_of(x);
        assert!(id.starts_with(&format!("{code}-")) && id.len() == code.len() + 4, "building at x {x} in grid {id}");
    }
    // Every grid polygon inside its community polygon; codes are community code + 3 digits.
    let polys: Vec<(String, geo::MultiPolygon<f64>)> =
        read_json(&comm)["features"].as_array().unwrap().iter().map(|f| (f["properties"]["code"].to_string().trim_matches('"').to_string(), multipolygon(&f["geometry"]))).collect();
    let mut tiled = 0.0;
    for f in g["features"].as_array().unwrap() {
        let p = &f["properties"];
        let (id, community) = (p["grid_id"].as_str().unwrap(), p["community"].as_str().unwrap());
        assert_eq!(p["grid_code"].as_str().unwrap(), id.replace('-', ""));
        let own = &polys.iter().find(|(c, _)| c == community).unwrap().1;
        let shape = multipolygon(&f["geometry"]);
        let outside = shape.difference(own).unsigned_area();
        assert!(outside < 1e-3, "grid {id} has {outside} m² outside community {community}");
        tiled += shape.unsigned_area();
    }
    let union_area: f64 = polys[..2].iter().map(|(_, p)| p.unsigned_area()).sum();
    assert!((tiled - union_area).abs() < 1e-3 * union_area, "grids tile the communities with buildings: {tiled} vs {union_area}");
    // One row per community, households adding up.
    let rows = s["communities"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let total: f64 = rows.iter().map(|r| r["households"].as_f64().unwrap()).sum();
    assert!((total - s["households"]["total"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(rows[0]["name"], "西");
    assert_eq!(rows[2]["status"], "no_buildings");
    assert!(s["warnings"].to_string().contains("310104003"), "the empty community is named: {}", s["warnings"]);
}

#[test]
fn grids_nest_in_a_community_column() {
    let d = tmp("city-by");
    let mut text: Value = serde_json::from_str(&lattice(24, 12, 40.0, &mut |i, j| 40.0 + ((i + 2 * j) % 5) as f64 * 10.0)).unwrap();
    // Communities in horizontal bands of 4 rows, one building without a value.
    for (k, f) in text["features"].as_array_mut().unwrap().iter_mut().enumerate() {
        let row = k / 24;
        f["properties"]["sq"] = if k == 5 { Value::Null } else { json!(format!("S{}", row / 4)) };
    }
    let input = write(&d, "b.geojson", text.to_string());
    let out = d.join("out");
    let o = wangge(&["partition", &input, "--by", "sq", "-o", out.to_str().unwrap(), "-q"]);
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    let b = read_json(out.join("buildings.geojson"));
    for (k, f) in b["features"].as_array().unwrap().iter().enumerate() {
        let id = f["properties"]["grid_id"].as_str().unwrap();
        let want = if k == 5 { "none".to_string() } else { format!("S{}", (k / 24) / 4) };
        assert!(id.starts_with(&format!("{want}-")), "building {k} ({want}) in grid {id}");
    }
    let s = read_json(out.join("summary.json"));
    assert_eq!(s["communities"]["source"], "column");
    assert_eq!(s["communities"]["count"], 4, "three bands and the building without a value");
    assert!(s["warnings"].to_string().contains("no 'sq' value"), "{}", s["warnings"]);
    // Polygons of different communities do not overlap (they tile the territory together).
    let g = read_json(out.join("grids.geojson"));
    let shapes: Vec<geo::MultiPolygon<f64>> = g["features"].as_array().unwrap().iter().map(|f| multipolygon(&f["geometry"])).collect();
    for (i, a) in shapes.iter().enumerate() {
        for bshape in &shapes[i + 1..] {
            assert!(a.intersection(bshape).unsigned_area() < 1e-3);
        }
    }
}

#[test]
fn community_options_are_checked() {
    let d = tmp("city-errors");
    let input = write(&d, "b.geojson", lattice(4, 4, 40.0, &mut |_, _| 100.0));
    let comm = write(&d, "c.geojson", communities());
    let o = wangge(&["partition", &input, "--communities", &comm, "--by", "x", "-o", d.join("o1").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--communities") && stderr(&o).contains("--by"));
    let o = wangge(&["partition", &input, "--communities", &comm, "--community-code", "bianma", "-o", d.join("o2").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("c.geojson") && stderr(&o).contains("bianma"), "{}", stderr(&o));
    assert!(!d.join("o2").join("summary.json").exists());
    let o = wangge(&["partition", &input, "--community-name", "mc", "-o", d.join("o3").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A point in the community layer names the feature.
    let bad = collection(vec![json!({"type": "Feature", "id": "p1", "properties": {"code": "1"}, "geometry": {"type": "Point", "coordinates": [X0, Y0]}})]);
    let bad = write(&d, "bad.geojson", bad);
    let o = wangge(&["partition", &input, "--communities", &bad, "-o", d.join("o4").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.geojson") && stderr(&o).contains("p1"), "{}", stderr(&o));
}

#[test]
fn a_batch_runs_resumes_and_reports_the_worst_job() {
    let d = tmp("city-batch");
    write(&d, "a.geojson", lattice(10, 10, 40.0, &mut |i, j| 40.0 + ((i * j) % 4) as f64 * 10.0));
    write(&d, "bad.geojson", collection(vec![json!({"type": "Feature", "id": 7, "properties": {"households": "many"}, "geometry": square(0.0, 0.0, 10.0)})]));
    let manifest = write(&d, "jobs.csv", "name,buildings,min-households,max-households\na,a.geojson,,\na_small,a.geojson,100,200\nbroken,bad.geojson,,\n");
    let out = d.join("out");
    let o = wangge(&["batch", &manifest, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "the worst job's code: {}", stderr(&o));
    let report = read_json(out.join("batch_summary.json"));
    let status: Vec<&str> = report["jobs"].as_array().unwrap().iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["ok", "ok", "failed"]);
    assert!(report["jobs"][2]["error"].as_str().unwrap().contains("bad.geojson"));
    let small = read_json(out.join("a_small").join("summary.json"));
    assert_eq!(small["config"]["max_households"], 200.0);
    assert!(std::fs::read_to_string(out.join("batch_summary.csv")).unwrap().lines().count() == 4);
    // A rerun skips the finished jobs and runs the failed one again.
    let o = wangge(&["batch", &manifest, "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(3));
    let report = read_json(out.join("batch_summary.json"));
    let status: Vec<&str> = report["jobs"].as_array().unwrap().iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["skipped", "skipped", "failed"]);
    // A job whose options changed runs again, and so does one that never finished (killed: no
    // record of it, a staging folder left behind).
    write(&d, "jobs.csv", "name,buildings,min-households,max-households\na,a.geojson,,\na_small,a.geojson,150,250\n");
    std::fs::remove_file(out.join(".wangge-batch").join("a.json")).unwrap();
    std::fs::create_dir_all(out.join("a").join(".wangge-staging-1-2")).unwrap();
    let o = wangge(&["batch", &manifest, "-o", out.to_str().unwrap(), "-q", "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = read_json(out.join("batch_summary.json"));
    let status: Vec<&str> = report["jobs"].as_array().unwrap().iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert_eq!(status, vec!["ok", "ok"]);
    assert_eq!(read_json(out.join("a_small").join("summary.json"))["config"]["max_households"], 250.0);
    // A folder of building files is a manifest too.
    let folder = d.join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(d.join("a.geojson"), folder.join("north.geojson")).unwrap();
    let o = wangge(&["batch", folder.to_str().unwrap(), "-o", d.join("out2").to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(d.join("out2").join("north").join("grids.geojson").exists());
}
