//! Building footprints in the working frame: each geometry converted and checked (polygons, or
//! a point; flat footprints become points), its anchor point, and the canonical order of the
//! buildings that makes the result independent of the file.

use geo::{Area, BoundingRect, Coord, Geometry, InteriorPoint, LineString, MultiPolygon, Polygon, Rect};
use rayon::prelude::*;

use super::{Building, Footprint};
use crate::crs::{Projector, WorkFrame, PROJ_JOB_LEN};
use crate::error::{Error, FeatureFault, Result};
use crate::read::{FeatureId, InputFeature, Layer};

/// The footprint of every building of `layer` (file order) in the working frame; `ids` name the
/// buildings in messages, and remarks (flat footprints used as points) go to `warnings`.
/// An invalid polygon (a ring crossing itself or another, a hole outside its shell) is refused
/// with the place of the fault, or, with `fix`, made valid by the odd-even rule with a warning.
pub fn footprints(layer: &Layer, frame: &WorkFrame, ids: &[FeatureId], fix: bool, warnings: &mut Vec<String>) -> Result<Vec<Footprint>> {
    let name = layer.name.as_str();
    let converted: Vec<Result<(Footprint, Option<String>)>> = layer
        .features
        .par_iter()
        // Few, long jobs: each makes its own PROJ object, which is costly to create.
        .with_min_len(PROJ_JOB_LEN)
        .map_init(
            || frame.projector(name),
            |proj, f| {
                let proj = proj.as_ref().map_err(clone_err)?;
                footprint(f, proj, name, &ids[f.row], fix)
            },
        )
        .collect();
    let mut out = Vec::with_capacity(converted.len());
    for r in converted {
        let (footprint, warning) = r?;
        warnings.extend(warning);
        out.push(footprint);
    }
    Ok(out)
}

/// The error of making a projector, for each parallel job that needs it (errors are not Clone).
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Crs { path, crs, message } => Error::Crs { path: path.clone(), crs: crs.clone(), message: message.clone() },
        other => Error::Invariant { stage: "model", message: other.to_string() },
    }
}

/// Puts the buildings in an order that does not depend on the file: by the longitude and
/// latitude of their anchors (to 1e-7°, about 1 cm), then households, then file row. The same
/// buildings read from any format or CRS are then divided identically.
pub fn canonical_order(buildings: &mut Vec<Building>, frame: &WorkFrame, name: &str) -> Result<()> {
    let keys: Vec<(i64, i64)> = buildings
        .par_iter()
        // Few, long jobs: each makes its own PROJ object, which is costly to create.
        .with_min_len(PROJ_JOB_LEN)
        .map_init(
            || frame.lonlat_projector(name),
            |proj, b| {
                let ll = proj.as_ref().ok().and_then(|p| p.to_lonlat(b.anchor).ok()).unwrap_or(b.anchor);
                ((ll.y * 1e7).round() as i64, (ll.x * 1e7).round() as i64)
            },
        )
        .collect();
    let mut order: Vec<usize> = (0..buildings.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(buildings[a].households.total_cmp(&buildings[b].households)).then(a.cmp(&b)));
    let mut taken: Vec<Option<Building>> = std::mem::take(buildings).into_iter().map(Some).collect();
    *buildings = order.into_iter().map(|i| taken[i].take().expect("each building once")).collect();
    Ok(())
}

/// Converts one building geometry to a working-frame footprint, refusing what cannot be used.
fn footprint(f: &InputFeature, proj: &Projector, layer: &str, id: &FeatureId, fix: bool) -> Result<(Footprint, Option<String>)> {
    let err = |fault| Error::feature(layer, crate::read::feature_label(f.row, Some(id.to_string())), fault);
    let geom = f.geometry.as_ref().ok_or_else(|| err(FeatureFault::NullGeometry))?;
    let mut polygons = Vec::new();
    let mut points = Vec::new();
    collect_parts(geom, &mut polygons, &mut points).map_err(|found| {
        err(FeatureFault::WrongGeometryType { found, expected: "Polygon, MultiPolygon or Point".into() })
    })?;
    if !polygons.is_empty() && !points.is_empty() {
        return Err(err(FeatureFault::WrongGeometryType {
            found: "GeometryCollection of polygons and points".into(),
            expected: "Polygon, MultiPolygon or Point".into(),
        }));
    }
    if polygons.is_empty() {
        return match points.as_slice() {
            [] => Err(err(FeatureFault::EmptyGeometry)),
            [p] => Ok((Footprint::Point(to_work(*p, proj, &err)?), None)),
            _ => Err(err(FeatureFault::WrongGeometryType { found: "MultiPoint of several points".into(), expected: "Polygon, MultiPolygon or Point".into() })),
        };
    }
    let mut out = Vec::with_capacity(polygons.len());
    let mut fixed = None;
    for poly in polygons {
        let exterior = ring_to_work(poly.exterior(), proj, &err)?;
        let Some(exterior) = exterior else { continue };
        let mut holes = Vec::new();
        for h in poly.interiors() {
            if let Some(h) = ring_to_work(h, proj, &err)? {
                holes.push(h);
            }
        }
        let polygon = Polygon::new(exterior, holes);
        match polygon_fault(&polygon, proj) {
            None => out.push(polygon),
            Some(message) if !fix => return Err(err(FeatureFault::InvalidPolygon { message })),
            Some(fault) => {
                use geo::MakeValid;
                let repaired = polygon.make_valid().map_err(|e| err(FeatureFault::MalformedGeometry { message: format!("it {fault}; it cannot be made valid: {e}") }))?;
                out.extend(repaired.0.into_iter().filter(|p| p.unsigned_area() > 0.0));
                fixed = Some(format!("building {}: footprint {fault}; made valid by the odd-even rule (--fix-geometry)", crate::read::feature_label(f.row, Some(id.to_string()))));
            }
        }
    }
    if out.is_empty() {
        return Err(err(FeatureFault::EmptyGeometry));
    }
    let mp = MultiPolygon(out);
    if mp.unsigned_area() <= 1e-6 {
        // Every ring is flat: keep the building as a point.
        let c = mp.bounding_rect().map(|r| r.center()).unwrap_or_default();
        return Ok((Footprint::Point(c), Some(format!("building {id}: footprint has no area; used as a point"))));
    }
    Ok((Footprint::Polygons(mp), fixed))
}

/// What makes a polygon (working metres) invalid, with the place in the input CRS: a ring that
/// crosses itself or another ring, or a hole that is not inside its shell. Rings that only
/// touch at a point, as GEOS accepts, are valid.
fn polygon_fault(p: &Polygon<f64>, proj: &Projector) -> Option<String> {
    use geo::Contains;
    let at = |c: Coord<f64>| proj.to_source(c).unwrap_or(c);
    if let (Some(c), _) = crate::geom::ring_crossings(p) {
        let c = at(c);
        return Some(format!("has rings that cross (a bow-tie or crossing rings) at ({}, {})", c.x, c.y));
    }
    let shell = Polygon::new(p.exterior().clone(), vec![]);
    for (k, h) in p.interiors().iter().enumerate() {
        if !h.0.iter().any(|c| shell.contains(c)) {
            let c = at(h.0[0]);
            return Some(format!("has hole {} outside its outer ring (at ({}, {}))", k + 1, c.x, c.y));
        }
    }
    None
}

/// Splits a geometry into polygons and points; Err(type name) for lines.
pub(super) fn collect_parts(g: &Geometry<f64>, polygons: &mut Vec<Polygon<f64>>, points: &mut Vec<Coord<f64>>) -> std::result::Result<(), String> {
    match g {
        Geometry::Polygon(p) => polygons.push(p.clone()),
        Geometry::MultiPolygon(mp) => polygons.extend(mp.0.iter().cloned()),
        Geometry::Point(p) => points.push(p.0),
        Geometry::MultiPoint(mp) => points.extend(mp.0.iter().map(|p| p.0)),
        Geometry::GeometryCollection(gc) => {
            for m in &gc.0 {
                collect_parts(m, polygons, points)?;
            }
        }
        Geometry::LineString(_) | Geometry::Line(_) => return Err("LineString".into()),
        Geometry::MultiLineString(_) => return Err("MultiLineString".into()),
        Geometry::Rect(r) => polygons.push(r.to_polygon()),
        Geometry::Triangle(t) => polygons.push(t.to_polygon()),
    }
    Ok(())
}

/// A coordinate in the working frame; non-finite coordinates are refused.
pub(super) fn to_work(c: Coord<f64>, proj: &Projector, err: &impl Fn(FeatureFault) -> Error) -> Result<Coord<f64>> {
    if !(c.x.is_finite() && c.y.is_finite()) {
        return Err(err(FeatureFault::NonFiniteCoordinate { x: c.x, y: c.y }));
    }
    proj.to_work(c).map_err(|m| err(FeatureFault::MalformedGeometry { message: m }))
}

/// A ring in working metres without repeated points; None for an empty ring.
pub(super) fn ring_to_work(ring: &LineString<f64>, proj: &Projector, err: &impl Fn(FeatureFault) -> Error) -> Result<Option<LineString<f64>>> {
    if ring.0.is_empty() {
        return Ok(None);
    }
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let w = to_work(*c, proj, err)?;
        if pts.last() != Some(&w) {
            pts.push(w);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return Err(err(FeatureFault::DegenerateRing { points: pts.len() }));
    }
    pts.push(pts[0]);
    Ok(Some(LineString(pts)))
}

/// A point inside the footprint: the interior point of its largest polygon.
pub fn anchor_of(f: &Footprint) -> Coord<f64> {
    match f {
        Footprint::Point(c) => *c,
        Footprint::Polygons(mp) => {
            let largest = mp
                .0
                .iter()
                .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
                .expect("non-empty multipolygon");
            largest
                .interior_point()
                .map(|p| p.0)
                .or_else(|| largest.bounding_rect().map(|r| r.center()))
                .unwrap_or_default()
        }
    }
}

/// Bounding box of all building footprints (working metres).
pub fn buildings_bounds(buildings: &[Building]) -> Option<Rect<f64>> {
    let it = buildings.iter().map(|b| match &b.footprint {
        Footprint::Point(c) => Rect::new(*c, *c),
        Footprint::Polygons(mp) => mp.bounding_rect().unwrap_or(Rect::new(b.anchor, b.anchor)),
    });
    crate::geom::union_of_rects(it)
}
