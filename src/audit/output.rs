//! Writes what the audit found (issues.geojson, summary.json and the report.html page, or one JSON document) and the
//! repaired layer (grids.geojson with untouched features as written, repair.json), in the
//! input CRS, through staged files so nothing is left half-written.

use std::io::Write;
use std::path::Path;

use geo::{Geometry, MapCoords, MultiPolygon};
use serde_json::{json, Value};

use super::repair::Repaired;
use super::Audit;
use crate::crs::WorkFrame;
use crate::error::{Error, Result};
use crate::read::Format;
use crate::write::html::{render, Frame, ReportPage};
use crate::write::{input_feature_parts, OutputDir, OutputFeature, OutputLayer};

/// A geometry in working metres back in the input CRS.
pub fn to_source(g: &Geometry<f64>, frame: &WorkFrame, name: &str) -> Result<Geometry<f64>> {
    let proj = frame.projector(name)?;
    g.try_map_coords(|c| proj.to_source(c)).map_err(|m| Error::layer(name, format!("cannot write a geometry back to its CRS: {m}")))
}

/// The problems as a GeoJSON FeatureCollection in the input CRS.
pub fn issues_collection(audit: &Audit) -> Result<Value> {
    let frame = &audit.grids.frame;
    let mut features = Vec::with_capacity(audit.problems.len());
    for (i, p) in audit.problems.iter().enumerate() {
        let geometry = match &p.geometry {
            Some(g) => serde_json::to_value(geojson::Geometry::from(&to_source(g, frame, &audit.grids.name)?)).map_err(|e| Error::layer(&audit.grids.name, e.to_string()))?,
            None => Value::Null,
        };
        features.push(json!({
            "type": "Feature",
            "id": i + 1,
            "properties": {
                "kind": p.kind.as_str(),
                "grid_ids": p.grid_ids,
                "area_m2": (p.area_m2 * 1000.0).round() / 1000.0,
                "building_id": p.building_id,
                "message": p.message,
            },
            "geometry": geometry,
        }));
    }
    let mut fc = json!({"type": "FeatureCollection", "name": "issues"});
    if let Some(c) = frame.source.geojson_member() {
        fc["crs"] = c;
    }
    fc["features"] = Value::Array(features);
    Ok(fc)
}

/// One JSON document: the summary and the issues (for `--json -`).
pub fn check_document(audit: &Audit) -> Result<Value> {
    Ok(json!({"summary": audit.summary, "issues": issues_collection(audit)?}))
}

/// Writes `dir/issues.geojson` and `dir/summary.json`, and `dir/report.html` (the grids and
/// every problem on a map, see [`check_page`]) when `report`; a report of
/// an earlier check in `dir` is removed when none is asked for.
pub fn write_check(dir: &Path, overwrite: bool, audit: &Audit, report: bool) -> Result<()> {
    let issues = issues_collection(audit)?;
    let page = if report { Some(check_page(audit)?) } else { None };
    let mut out = OutputDir::prepare(dir, overwrite)?;
    if let Some(page) = &page {
        out.stage("report.html", |w| w.write_all(page.html.as_bytes()))?;
    }
    out.stage("issues.geojson", |w| {
        serde_json::to_writer(&mut *w, &issues)?;
        w.write_all(b"\n")
    })?;
    out.stage("summary.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &audit.summary)?;
        w.write_all(b"\n")
    })?;
    out.commit()?;
    let stale = dir.join("report.html");
    if !report && stale.is_file() {
        let _ = std::fs::remove_file(stale);
    }
    Ok(())
}

/// The repaired grids as an output layer: every kept feature with its id and properties, the
/// changed ones with their new geometry, in the input CRS.
pub fn repaired_layer(repaired: &Repaired) -> Result<OutputLayer> {
    let layer = &repaired.grids.layer;
    let frame = &repaired.grids.frame;
    let mut features = Vec::with_capacity(layer.features.len());
    for (g, f) in layer.features.iter().enumerate() {
        if repaired.removed[g] {
            continue;
        }
        let (id, properties) = input_feature_parts(layer, g)?;
        let geometry = if repaired.changed[g] {
            let shape = &repaired.grids.grids[g].shape;
            match shape.0.len() {
                0 => None,
                1 => Some(to_source(&Geometry::Polygon(shape.0[0].clone()), frame, &layer.name)?),
                _ => Some(to_source(&Geometry::MultiPolygon(shape.clone()), frame, &layer.name)?),
            }
        } else {
            f.geometry.clone()
        };
        features.push(OutputFeature { id, properties, geometry });
    }
    Ok(OutputLayer { name: "grids".into(), crs: Some(frame.source.clone()), features })
}

/// Writes `dir/grids.<ext>` in `format` and `dir/repair.json`; returns the warnings to show
/// (renamed columns, truncated text). GeoJSON keeps untouched features exactly as written.
pub fn write_repair_as(dir: &Path, overwrite: bool, repaired: &Repaired, format: Format) -> Result<Vec<String>> {
    if format != Format::GeoJson {
        let grids = repaired_layer(repaired)?;
        let mut out = OutputDir::prepare(dir, overwrite)?;
        out.stage_layer("grids", format, &grids)?;
        out.stage("repair.json", |w| {
            serde_json::to_writer_pretty(&mut *w, &repaired.report)?;
            w.write_all(b"\n")
        })?;
        let warnings = out.warnings().to_vec();
        out.commit()?;
        return Ok(warnings);
    }
    let layer = &repaired.grids.layer;
    let frame = &repaired.grids.frame;
    let mut geometries: Vec<Option<String>> = vec![None; layer.features.len()];
    for (g, grid) in repaired.grids.grids.iter().enumerate() {
        if repaired.changed[g] && !repaired.removed[g] {
            let shape: Geometry<f64> = match grid.shape.0.len() {
                0 => Geometry::MultiPolygon(MultiPolygon(vec![])),
                1 => Geometry::Polygon(grid.shape.0[0].clone()),
                _ => Geometry::MultiPolygon(grid.shape.clone()),
            };
            let back = to_source(&shape, frame, &layer.name)?;
            geometries[g] = Some(serde_json::to_string(&geojson::Geometry::from(&back)).map_err(|e| Error::layer(&layer.name, e.to_string()))?);
        }
    }
    let mut out = OutputDir::prepare(dir, overwrite)?;
    out.stage("grids.geojson", |w| {
        write!(w, "{{\"type\":\"FeatureCollection\",\"name\":\"grids\"")?;
        if let Some(c) = frame.source.geojson_member() {
            write!(w, ",\"crs\":{c}")?;
        }
        w.write_all(b",\"features\":[\n")?;
        let mut first = true;
        for (g, f) in layer.features.iter().enumerate() {
            if repaired.removed[g] {
                continue;
            }
            if !first {
                w.write_all(b",\n")?;
            }
            first = false;
            w.write_all(b"{\"type\":\"Feature\"")?;
            let src = layer.source_text.as_ref();
            let spans = src.map(|s| (&s.text, &s.spans[g]));
            match spans.and_then(|(t, s)| s.id.as_ref().map(|r| &t[r.clone()])) {
                Some(id) => write!(w, ",\"id\":{id}")?,
                None => {
                    if let Some(id) = &f.id {
                        write!(w, ",\"id\":{}", id.to_json())?;
                    }
                }
            }
            match spans.and_then(|(t, s)| s.properties.as_ref().map(|r| &t[r.clone()])) {
                Some(p) => write!(w, ",\"properties\":{p}")?,
                None => w.write_all(b",\"properties\":{}")?,
            }
            w.write_all(b",\"geometry\":")?;
            match (&geometries[g], spans.and_then(|(t, s)| s.geometry.as_ref().map(|r| &t[r.clone()]))) {
                (Some(new), _) => w.write_all(new.as_bytes())?,
                (None, Some(old)) => w.write_all(old.as_bytes())?,
                (None, None) => match &f.geometry {
                    Some(geom) => serde_json::to_writer(&mut *w, &geojson::Geometry::from(geom))?,
                    None => w.write_all(b"null")?,
                },
            }
            w.write_all(b"}")?;
        }
        w.write_all(b"\n]}\n")
    })?;
    out.stage("repair.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &repaired.report)?;
        w.write_all(b"\n")
    })?;
    out.commit()?;
    Ok(Vec::new())
}

/// The page of an audit (`wangge check --report`): the grids as read (households per grid when
/// buildings were given), every problem drawn where it is and listed with its message. Drawn in
/// the audit's working metres.
pub fn check_page(audit: &Audit) -> Result<ReportPage> {
    let shapes = audit.grids.grids.iter().filter_map(|g| g.bbox);
    let problem_boxes = audit.problems.iter().filter_map(|p| p.geometry.as_ref()).filter_map(geo::BoundingRect::bounding_rect);
    let territory_box = audit.territory.as_ref().and_then(geo::BoundingRect::bounding_rect);
    let bounds = crate::geom::union_of_rects(shapes.chain(problem_boxes).chain(territory_box))
        .ok_or_else(|| Error::layer(&audit.grids.name, "no grid has a usable geometry: nothing to draw"))?;
    let frame = Frame::metres(bounds);
    let mut rows = Vec::with_capacity(audit.grids.grids.len());
    for (i, g) in audit.grids.grids.iter().enumerate() {
        let mut path = String::new();
        frame.path(&Geometry::MultiPolygon(g.shape.clone()), &mut path);
        let load = audit.grid_loads.as_ref().map(|l| l[i]);
        rows.push(json!({
            "id": g.id, "households": load.map(|l| l.0), "buildings": load.map(|l| l.1),
            "area_m2": geo::Area::unsigned_area(&g.shape).round(), "made_valid": g.made_valid, "path": path,
        }));
    }
    let problems: Vec<Value> = audit
        .problems
        .iter()
        .map(|p| {
            let mut path = String::new();
            if let Some(g) = &p.geometry {
                frame.path(g, &mut path);
            }
            json!({
                "kind": p.kind.as_str(), "message": p.message, "grid_ids": p.grid_ids, "building_id": p.building_id,
                "area_m2": (p.area_m2 * 10.0).round() / 10.0, "sliver": p.kind.is_sliver(), "path": path,
            })
        })
        .collect();
    let mut territory_path = String::new();
    if let Some(t) = &audit.territory {
        frame.path(&Geometry::MultiPolygon(t.clone()), &mut territory_path);
    }
    let s = &audit.summary;
    let household_bounds = match audit.household_bounds {
        (None, None) => Value::Null,
        (lo, hi) => json!([lo.unwrap_or(0.0), hi]),
    };
    let summary = json!({
        "wangge_version": s["wangge_version"], "message": s["message"], "status": if audit.clean() { "clean" } else { "problems" },
        "counts": s["counts"], "crs": s["crs"], "households": {"bounds": household_bounds}, "layer": s["layer"],
    });
    let data = json!({
        "mode": "check",
        "summary": summary,
        "grids": rows,
        "buildings": {"path": "", "drawn": 0, "total": 0, "moved_path": "", "moved": 0},
        "territory": territory_path,
        "problems": problems,
        "viewBox": frame.view_box(bounds),
        "grid_file": audit.grids.name,
    });
    let title = format!("wangge check: {}", s.get("message").and_then(Value::as_str).unwrap_or(""));
    Ok(ReportPage { html: render(&title, &data)?, grids: rows.len() })
}
