//! Validity of one grid geometry: empty, not a polygon, unclosed or too-short rings, non-finite
//! coordinates, self-intersections and crossing rings (with the location), overlapping parts;
//! and the valid shape made from it without losing area (odd-even repair of each polygon, then
//! the union of the parts).

use geo::orient::{Direction, Orient};
use geo::{Area, Coord, Geometry, LineString, MakeValid, MultiPolygon, Point, Polygon, Validation};
use serde_json::Value;

use super::{Problem, ProblemKind};
use crate::crs::Projector;

/// A geometry checked: its valid shape (working metres, exteriors counter-clockwise), whether
/// it had to be repaired, and what was wrong.
#[derive(Debug)]
pub struct Checked {
    /// Valid shape (empty when nothing usable).
    pub shape: MultiPolygon<f64>,
    /// True when the shape differs from the geometry as written (repaired or closed).
    pub made_valid: bool,
    /// Problems found (kind `invalid_geometry`).
    pub problems: Vec<Problem>,
}

fn problem(id: &Value, message: String, at: Option<Coord<f64>>) -> Problem {
    Problem {
        kind: ProblemKind::InvalidGeometry,
        grid_ids: vec![id.clone()],
        area_m2: 0.0,
        message,
        building_id: None,
        geometry: at.map(|c| Geometry::Point(Point(c))),
    }
}

fn collect_polygons(g: &Geometry<f64>, out: &mut Vec<Polygon<f64>>, other: &mut Vec<&'static str>) {
    match g {
        Geometry::Polygon(p) => out.push(p.clone()),
        Geometry::MultiPolygon(mp) => out.extend(mp.0.iter().cloned()),
        Geometry::Rect(r) => out.push(r.to_polygon()),
        Geometry::Triangle(t) => out.push(t.to_polygon()),
        Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|m| collect_polygons(m, out, other)),
        g => other.push(crate::write::simple_type_name(g)),
    }
}

/// Rings (as written) whose first and last positions differ: (polygon, ring, first, last).
fn unclosed_rings(raw: &str) -> Vec<(usize, usize, [f64; 2], [f64; 2])> {
    let Ok(v) = serde_json::from_str::<Value>(raw) else { return Vec::new() };
    let polygons: Vec<&Value> = match v["type"].as_str() {
        Some("Polygon") => vec![&v["coordinates"]],
        Some("MultiPolygon") => v["coordinates"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        _ => Vec::new(),
    };
    let xy = |p: &Value| [p[0].as_f64().unwrap_or(f64::NAN), p[1].as_f64().unwrap_or(f64::NAN)];
    let mut out = Vec::new();
    for (pi, poly) in polygons.iter().enumerate() {
        for (ri, ring) in poly.as_array().into_iter().flatten().enumerate() {
            let Some(pts) = ring.as_array() else { continue };
            if let (Some(a), Some(b)) = (pts.first(), pts.last()) {
                let (a, b) = (xy(a), xy(b));
                if pts.len() > 1 && a != b {
                    out.push((pi, ri, a, b));
                }
            }
        }
    }
    out
}

fn ring_name(ri: usize) -> String {
    if ri == 0 {
        "the exterior ring".into()
    } else {
        format!("interior ring {ri}")
    }
}

/// Checks one feature's geometry (`raw`: its GeoJSON text, to see unclosed rings) and builds
/// its valid shape in working metres.
pub fn check_feature(geometry: Option<&Geometry<f64>>, raw: Option<&str>, proj: &Projector, id: &Value) -> Checked {
    let mut out = Checked { shape: MultiPolygon(vec![]), made_valid: false, problems: Vec::new() };
    let Some(g) = geometry else {
        out.problems.push(problem(id, format!("grid {id} has no geometry (null)"), None));
        return out;
    };
    let mut polygons = Vec::new();
    let mut other = Vec::new();
    collect_polygons(g, &mut polygons, &mut other);
    if let Some(t) = other.first() {
        out.problems.push(problem(id, format!("grid {id} has a {t} geometry, not a polygon; it is ignored"), None));
        out.made_valid = true;
    }
    let to_work = |c: Coord<f64>| proj.to_work(c).ok();
    if let Some(raw) = raw {
        for (pi, ri, a, b) in unclosed_rings(raw) {
            out.problems.push(problem(
                id,
                format!(
                    "grid {id}: {} of polygon {pi} is not closed: it starts at ({}, {}) and ends at ({}, {})",
                    ring_name(ri), a[0], a[1], b[0], b[1]
                ),
                to_work(Coord { x: a[0], y: a[1] }),
            ));
            out.made_valid = true;
        }
    }
    let mut parts: Vec<Polygon<f64>> = Vec::new();
    let mut empty = 0;
    for (pi, p) in polygons.iter().enumerate() {
        if p.exterior().0.is_empty() {
            empty += 1;
            continue;
        }
        if let Some(c) = p.exterior().0.iter().chain(p.interiors().iter().flat_map(|r| r.0.iter())).find(|c| !(c.x.is_finite() && c.y.is_finite())) {
            out.problems.push(problem(id, format!("grid {id}: polygon {pi} has a non-finite coordinate ({}, {}); the polygon is ignored", c.x, c.y), None));
            out.made_valid = true;
            continue;
        }
        let ring = |r: &LineString<f64>| -> Option<LineString<f64>> { r.0.iter().map(|&c| to_work(c)).collect::<Option<Vec<_>>>().map(LineString) };
        let (Some(ext), Some(holes)) = (ring(p.exterior()), p.interiors().iter().map(ring).collect::<Option<Vec<_>>>()) else {
            out.problems.push(problem(id, format!("grid {id}: polygon {pi} has coordinates outside the valid range of its CRS"), None));
            out.made_valid = true;
            continue;
        };
        let w = Polygon::new(ext, holes);
        if w.is_valid() {
            parts.push(w.orient(Direction::Default));
            continue;
        }
        out.made_valid = true;
        let what = w.validation_errors().first().map(|e| e.to_string()).unwrap_or_else(|| "is invalid".into());
        let at = crossing(&w).or_else(|| w.exterior().0.first().copied());
        let distinct = {
            let mut pts: Vec<(u64, u64)> = w.exterior().0.iter().map(|c| (c.x.to_bits(), c.y.to_bits())).collect();
            pts.sort_unstable();
            pts.dedup();
            pts.len()
        };
        let location = at.and_then(|c| proj.to_source(c).ok()).map(|c| format!(" at ({:.7}, {:.7})", c.x, c.y)).unwrap_or_default();
        let message = if distinct < 3 {
            format!("grid {id}: polygon {pi} has only {distinct} distinct points (no area)")
        } else {
            format!("grid {id}: polygon {pi}: {what}{location}; made valid by the odd-even rule (both lobes of a figure-8 are kept; a lobe formed by a twisted edge is left out)")
        };
        out.problems.push(problem(id, message, at));
        match w.make_valid() {
            Ok(mp) => parts.extend(mp.0.into_iter().filter(|p| p.unsigned_area() > 0.0).map(|p| p.orient(Direction::Default))),
            Err(e) => out.problems.push(problem(id, format!("grid {id}: polygon {pi} cannot be repaired: {e}"), at)),
        }
    }
    if empty > 0 && parts.is_empty() {
        out.problems.push(problem(id, format!("grid {id} has an empty geometry"), None));
    }
    if parts.len() > 1 {
        let sum: f64 = parts.iter().map(|p| p.unsigned_area()).sum();
        let union = geo::unary_union(parts.iter());
        let lost = sum - union.unsigned_area();
        if lost > 1e-6 * sum.max(1.0) && !out.made_valid {
            let at = geo::InteriorPoint::interior_point(&union).map(|p| p.0);
            out.problems.push(problem(id, format!("grid {id}: its polygons overlap each other over {lost:.2} m²; merged"), at));
            out.made_valid = true;
        }
        out.shape = union;
    } else {
        out.shape = MultiPolygon(parts);
    }
    out
}

/// Where a polygon's rings cross or touch themselves or each other: the first such point
/// (proper crossings first), found with an R-tree of the segments.
pub fn crossing(p: &Polygon<f64>) -> Option<Coord<f64>> {
    let (proper, touching) = crate::geom::ring_crossings(p);
    proper.or(touching)
}
