//! The HTML report of a run: one self-contained file (data and script inline, no network) with
//! a map of the grids coloured by load relative to the bounds, a tooltip per grid, the
//! buildings, the violations located and explained, a household histogram with the band marked,
//! the walk distribution and a sortable grid table; for a re-division, what changed (grids
//! coloured by change, moved buildings, households moved per grid). The same page draws an
//! audit (`wangge check --report`, see `audit::output::check_page`).

use std::path::{Path, PathBuf};

use geo::{Geometry, LineString, Rect};
use serde_json::{json, Map, Value};

use super::input_feature_parts;
use crate::error::{Error, Result};
use crate::read::{read_layer, Format, Layer};

/// Most buildings drawn on the map (beyond, the map shows the grids only, and says so).
pub const MAX_BUILDINGS_DRAWN: usize = 200_000;

/// The files of a run's outputs that a report reads.
#[derive(Debug, Clone)]
pub struct RunFiles {
    /// summary.json (or FILE.summary.json beside a GeoPackage).
    pub summary: PathBuf,
    /// The grid layer (file, and layer name within a GeoPackage).
    pub grids: (PathBuf, Option<String>),
    /// The building layer, when present.
    pub buildings: Option<(PathBuf, Option<String>)>,
}

impl RunFiles {
    /// The outputs of `wangge partition -o OUT`: a directory (grids.<ext>, buildings.<ext>,
    /// summary.json) or one GeoPackage (its grids and buildings layers, FILE.summary.json).
    pub fn find(out: &Path) -> Result<RunFiles> {
        if out.is_file() && Format::of_path(out) == Some(Format::GeoPackage) {
            let summary = out.with_extension("summary.json");
            if !summary.is_file() {
                return Err(Error::io(&summary, "read", std::io::Error::new(std::io::ErrorKind::NotFound, "no summary beside the GeoPackage")));
            }
            return Ok(RunFiles { summary, grids: (out.to_path_buf(), Some("grids".into())), buildings: Some((out.to_path_buf(), Some("buildings".into()))) });
        }
        let summary = out.join("summary.json");
        if !summary.is_file() {
            return Err(Error::io(&summary, "read", std::io::Error::new(std::io::ErrorKind::NotFound, "not the output of wangge partition (no summary.json)")));
        }
        let find = |stem: &str| -> Option<PathBuf> {
            ["geojson", "gpkg", "fgb", "shp", "geojsonl"].iter().map(|ext| out.join(format!("{stem}.{ext}"))).find(|p| p.is_file())
        };
        let grids = find("grids").ok_or_else(|| Error::io(out.join("grids.geojson"), "read", std::io::Error::new(std::io::ErrorKind::NotFound, "no grid layer in the output directory")))?;
        Ok(RunFiles { summary, grids: (grids, None), buildings: find("buildings").map(|b| (b, None)) })
    }
}

/// Reads one layer of the run's outputs.
fn read(path: &Path, layer: &Option<String>) -> Result<Layer> {
    match layer {
        None => read_layer(path, &[]),
        Some(l) => crate::read::read_layer_with(path, &[], &crate::read::ReadOptions { layer: Some(l.clone()), ..Default::default() }),
    }
}

/// Writes the report of the run in `files` to `html` (through a temporary file renamed at the
/// end); returns the number of grids drawn.
pub fn write_report(files: &RunFiles, html: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(&files.summary).map_err(|e| Error::io(&files.summary, "read", e))?;
    let summary: Value = serde_json::from_str(&text).map_err(|e| Error::Parse { path: files.summary.display().to_string(), message: e.to_string() })?;
    let grids = read(&files.grids.0, &files.grids.1)?;
    let buildings = files.buildings.as_ref().map(|(p, l)| read(p, l)).transpose()?;
    let page = report_page(&summary, &grids, buildings.as_ref())?;
    let mut name = html.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".wangge-{}.tmp", std::process::id()));
    let tmp = html.with_file_name(name);
    std::fs::write(&tmp, page.html).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(html, "write", e)
    })?;
    std::fs::rename(&tmp, html).map_err(|e| Error::io(html, "rename into place", e))?;
    Ok(page.grids)
}

/// A report page and what it draws.
pub struct ReportPage {
    /// The whole HTML document.
    pub html: String,
    /// Grids drawn on the map.
    pub grids: usize,
}

/// Maps layer coordinates to the page's: metres (or degrees scaled by the cosine of the mean
/// latitude) from the lower-left corner, y up.
pub struct Frame {
    origin: (f64, f64),
    x_scale: f64,
}

impl Frame {
    /// A frame for planar coordinates in metres (the audit's working frame).
    pub fn metres(bounds: Rect<f64>) -> Frame {
        Frame { origin: (bounds.min().x, bounds.min().y), x_scale: 1.0 }
    }

    fn of(bounds: Rect<f64>) -> Frame {
        let degrees = bounds.min().x >= -180.0 && bounds.max().x <= 180.0 && bounds.min().y >= -90.0 && bounds.max().y <= 90.0;
        let x_scale = if degrees { (0.5 * (bounds.min().y + bounds.max().y)).to_radians().cos().max(0.01) } else { 1.0 };
        Frame { origin: (bounds.min().x, bounds.min().y), x_scale }
    }

    /// An SVG path of the rings of `g` (y flipped by the page's script through the viewBox).
    pub fn path(&self, g: &Geometry<f64>, out: &mut String) {
        let mut ring = |r: &LineString<f64>| {
            for (i, c) in r.0.iter().enumerate() {
                let (x, y) = ((c.x - self.origin.0) * self.x_scale, c.y - self.origin.1);
                out.push_str(if i == 0 { "M" } else { "L" });
                out.push_str(&format!("{} {}", short(x), short(-y)));
            }
            out.push('Z');
        };
        match g {
            Geometry::Polygon(p) => {
                ring(p.exterior());
                p.interiors().iter().for_each(&mut ring);
            }
            Geometry::MultiPolygon(mp) => {
                for p in &mp.0 {
                    ring(p.exterior());
                    p.interiors().iter().for_each(&mut ring);
                }
            }
            Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|g| self.path(g, out)),
            Geometry::Point(p) => {
                let (x, y) = ((p.x() - self.origin.0) * self.x_scale, p.y() - self.origin.1);
                out.push_str(&format!("M{} {}h0.01", short(x), short(-y)));
            }
            Geometry::MultiPoint(mp) => mp.0.iter().for_each(|p| self.path(&Geometry::Point(*p), out)),
            Geometry::Line(l) => self.line(&LineString(vec![l.start, l.end]), out),
            Geometry::LineString(l) => self.line(l, out),
            Geometry::MultiLineString(ml) => ml.0.iter().for_each(|l| self.line(l, out)),
            Geometry::Rect(r) => self.path(&Geometry::Polygon(r.to_polygon()), out),
            Geometry::Triangle(t) => self.path(&Geometry::Polygon(t.to_polygon()), out),
        }
    }
}

impl Frame {
    /// An open SVG path along a line.
    fn line(&self, l: &LineString<f64>, out: &mut String) {
        for (i, c) in l.0.iter().enumerate() {
            let (x, y) = ((c.x - self.origin.0) * self.x_scale, c.y - self.origin.1);
            out.push_str(if i == 0 { "M" } else { "L" });
            out.push_str(&format!("{} {}", short(x), short(-y)));
        }
    }

    /// The page's viewBox of `bounds` with a margin.
    pub fn view_box(&self, bounds: Rect<f64>) -> Value {
        let (w, h) = ((bounds.max().x - bounds.min().x) * self.x_scale, bounds.max().y - bounds.min().y);
        let pad = 0.02 * w.max(h).max(1e-9);
        json!([-pad, -h - pad, w + 2.0 * pad, h + 2.0 * pad])
    }
}

/// A coordinate with the precision a map needs, short.
fn short(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The report page of a run: `summary` (summary.json), its grid layer and its buildings.
pub fn report_page(summary: &Value, grids: &Layer, buildings: Option<&Layer>) -> Result<ReportPage> {
    let grid_bounds = grids.bounds().ok_or_else(|| Error::layer(&grids.name, "no grid has a geometry: nothing to draw"))?;
    let bounds = crate::geom::union_of_rects(std::iter::once(grid_bounds).chain(buildings.and_then(Layer::bounds))).unwrap_or(grid_bounds);
    let frame = Frame::of(bounds);
    let mut rows = Vec::with_capacity(grids.features.len());
    for (i, f) in grids.features.iter().enumerate() {
        let (_, props) = input_feature_parts(grids, i)?;
        let mut path = String::new();
        if let Some(g) = &f.geometry {
            frame.path(g, &mut path);
        }
        let pick = |k: &str| props.get(k).cloned().unwrap_or(Value::Null);
        rows.push(json!({
            "id": pick("grid_id"), "code": pick("grid_code"), "community": pick("community"), "households": pick("households"),
            "population": pick("population"), "buildings": pick("buildings"), "mean_walk_m": pick("mean_walk_m"),
            "max_walk_m": pick("max_walk_m"), "worker_id": pick("worker_id"), "violations": pick("violations"), "path": path,
        }));
    }
    // Buildings; in a re-division, those whose grid changed (previous_grid_id) on a path of their own.
    let (mut building_path, mut moved_path, mut buildings_drawn, mut buildings_total, mut moved) = (String::new(), String::new(), 0usize, 0usize, 0usize);
    if let Some(b) = buildings {
        buildings_total = b.features.len();
        if buildings_total <= MAX_BUILDINGS_DRAWN {
            for i in 0..b.features.len() {
                let Some(g) = &b.features[i].geometry else { continue };
                let (_, props) = input_feature_parts(b, i)?;
                let was_moved = match (props.get("previous_grid_id"), props.get("grid_id")) {
                    (Some(before), Some(now)) => !before.is_null() && before != now,
                    _ => false,
                };
                if was_moved {
                    frame.path(g, &mut moved_path);
                    moved += 1;
                } else {
                    frame.path(g, &mut building_path);
                }
                buildings_drawn += 1;
            }
        }
    }
    let data = json!({
        "mode": "partition",
        "summary": summary_subset(summary),
        "grids": rows,
        "buildings": {"path": building_path, "drawn": buildings_drawn, "total": buildings_total, "moved_path": moved_path, "moved": moved},
        "problems": [],
        "territory": "",
        "viewBox": frame.view_box(bounds),
        "grid_file": grids.name,
    });
    let title = format!("wangge report: {}", summary.get("message").and_then(Value::as_str).unwrap_or(""));
    Ok(ReportPage { html: render(&title, &data)?, grids: rows.len() })
}

/// The whole document: the page with `data` inline (`</` never appears inside the script's data).
pub fn render(title: &str, data: &Value) -> Result<String> {
    let data_text = serde_json::to_string(data).map_err(|e| Error::Invariant { stage: "report", message: e.to_string() })?.replace("</", "<\\/");
    Ok(PAGE.replace("{{TITLE}}", &escape(title)).replace("{{DATA}}", &data_text))
}

/// What the page shows of summary.json.
fn summary_subset(s: &Value) -> Value {
    let mut out = Map::new();
    for k in ["wangge_version", "status", "message", "grids", "buildings", "households", "objective", "solution", "violations", "warnings", "timings_s", "redivision", "crs", "communities"] {
        if let Some(v) = s.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// Text safe inside HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page: styles and script inline; the data replaces {{DATA}}.
const PAGE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(1.5), "1.5");
        assert_eq!(short(2.0), "2");
        assert_eq!(short(-0.0000001), "0");
        assert_eq!(short(-12.25), "-12.25");
    }

    #[test]
    fn degrees_are_scaled_by_the_latitude() {
        let f = Frame::of(Rect::new(geo::Coord { x: 121.0, y: 31.0 }, geo::Coord { x: 121.1, y: 31.1 }));
        assert!((f.x_scale - 31.05f64.to_radians().cos()).abs() < 1e-12);
        let m = Frame::of(Rect::new(geo::Coord { x: 500_000.0, y: 3_400_000.0 }, geo::Coord { x: 501_000.0, y: 3_401_000.0 }));
        assert_eq!(m.x_scale, 1.0);
    }

    #[test]
    fn the_page_is_self_contained_and_holds_every_grid() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"grid_id":1,"households":320,"mean_walk_m":40},"geometry":{"type":"Polygon","coordinates":[[[121.0,31.0],[121.01,31.0],[121.01,31.01],[121.0,31.0]]]}},
          {"type":"Feature","properties":{"grid_id":2,"households":620,"mean_walk_m":55},"geometry":{"type":"Polygon","coordinates":[[[121.01,31.0],[121.02,31.0],[121.02,31.01],[121.01,31.0]]]}}]}"#;
        let dir = std::env::temp_dir().join(format!("wangge-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("grids.geojson");
        std::fs::write(&p, text).unwrap();
        let layer = read_layer(&p, &[]).unwrap();
        let summary = json!({"message": "2 grids </script>", "households": {"bounds": [300, 500]}, "violations": []});
        let page = report_page(&summary, &layer, None).unwrap();
        assert_eq!(page.grids, 2);
        for external in ["src=", "href=\"http", "<link", "@import", "url("] {
            assert!(!page.html.contains(external), "no external resource: {external}");
        }
        assert_eq!(page.html.matches("</script>").count(), 2, "the data cannot close its script");
        assert!(page.html.contains("\"households\":620"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
