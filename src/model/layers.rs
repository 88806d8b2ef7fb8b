//! The auxiliary layers in the working frame: territory, barriers, network, and the polygons of
//! zones and existing grids. A layer without a CRS of its own is taken in the buildings' CRS
//! when its coordinates fit it, else lon/lat.

use geo::{Area, ConvexHull, Coord, Geometry, LineString, MultiPoint, MultiPolygon, Point, Polygon};

use super::footprint::{collect_parts, ring_to_work, to_work};
use super::{Building, Footprint, Territory};
use crate::config::{FeatureFilter, OptionName, PartitionConfig};
use crate::crs::{self, CrsKind, CrsSpec, Projector, WorkFrame};
use crate::error::{Error, FeatureFault, Result};
use crate::read::Layer;

/// Refuses a layer with a non-finite coordinate or a vertex far from all the others (a typing
/// error such as 50000000 for 500000, or 1e300), naming the feature: the layer's extent would
/// otherwise swallow it (a working frame thousands of kilometres wide, or a territory tiling
/// the ocean). Far means beyond 20 times the distance within which 90 % of the features lie
/// from their median centre, plus 100 km (1° in degrees).
pub fn check_outliers(layer: &Layer, degrees: bool) -> Result<()> {
    use geo::{BoundingRect, CoordsIter};
    let mut centres = Vec::with_capacity(layer.features.len());
    for f in &layer.features {
        let Some(g) = &f.geometry else { continue };
        if let Some(c) = g.coords_iter().find(|c| !(c.x.is_finite() && c.y.is_finite())) {
            return Err(Error::feature(&layer.name, f.label(), FeatureFault::NonFiniteCoordinate { x: c.x, y: c.y }));
        }
        if let Some(r) = g.bounding_rect() {
            centres.push(r.center());
        }
    }
    if centres.len() < 3 {
        return Ok(());
    }
    let median = |mut v: Vec<f64>| {
        let k = v.len() / 2;
        *v.select_nth_unstable_by(k, f64::total_cmp).1
    };
    let mid = Coord { x: median(centres.iter().map(|c| c.x).collect()), y: median(centres.iter().map(|c| c.y).collect()) };
    let mut d: Vec<f64> = centres.iter().map(|c| crate::geom::dist(*c, mid)).collect();
    let k = ((d.len() * 9) / 10).min(d.len() - 1);
    let typical = *d.select_nth_unstable_by(k, f64::total_cmp).1;
    let (slack, unit) = if degrees { (1.0, "°") } else { (100_000.0, " m") };
    let limit = 20.0 * typical + slack;
    for f in &layer.features {
        let Some(g) = &f.geometry else { continue };
        if let Some(c) = g.coords_iter().find(|c| crate::geom::dist(*c, mid) > limit) {
            return Err(Error::feature(
                &layer.name,
                f.label(),
                FeatureFault::OutlyingVertex { x: c.x, y: c.y, distance: format!("{}{unit}", crate::text::number(((c.x - mid.x).hypot(c.y - mid.y) * 1e3).round() / 1e3)), typical: format!("{}{unit}", crate::text::number((typical * 1e3).round() / 1e3)) },
            ));
        }
    }
    Ok(())
}

/// A line of a layer in working metres, with its feature's row.
pub type RowLine = (usize, LineString<f64>);

/// The working frame of a run and the CRS layers are read in.
#[derive(Debug, Clone)]
pub struct Frames {
    /// The metric working frame (and the input CRS outputs go back to).
    pub frame: WorkFrame,
    /// The CRS of the buildings (from `--crs`, else the file, else lon/lat).
    pub buildings_crs: CrsSpec,
    /// True when the CRS was given by the user (it then applies to every layer).
    pub user_crs: bool,
}

impl Frames {
    /// The frames of a run on `buildings`, whose coordinates must fit their CRS.
    pub fn of_buildings(buildings: &Layer, config: &PartitionConfig) -> Result<Frames> {
        let user_crs = config.columns.crs.as_deref().map(CrsSpec::parse);
        let source = user_crs.clone().or_else(|| buildings.crs.clone()).unwrap_or(CrsSpec::Crs84);
        let kind = crs::classify(&source, &buildings.name)?;
        check_outliers(buildings, matches!(kind, CrsKind::Geographic))?;
        let bounds = buildings.bounds().ok_or_else(|| Error::layer(&buildings.name, "no feature has a geometry"))?;
        crs::check_plausible(&kind, &source, bounds, &buildings.name)?;
        let frame = WorkFrame::new(source.clone(), &kind, bounds, &buildings.name)?;
        Ok(Frames { frame, buildings_crs: source, user_crs: user_crs.is_some() })
    }

    /// The CRS of an auxiliary layer: its own, or (when it declares none) the buildings' CRS if its
    /// coordinates fit it, else lon/lat.
    pub fn layer_crs(&self, layer: &Layer) -> Result<CrsSpec> {
        check_outliers(layer, layer.bounds().is_some_and(|b| b.min().x >= -180.0 && b.max().x <= 180.0 && b.min().y >= -90.0 && b.max().y <= 90.0))?;
        if let Some(c) = &layer.crs {
            if !self.user_crs {
                return Ok(c.clone());
            }
        }
        let Some(bounds) = layer.bounds() else { return Ok(self.buildings_crs.clone()) };
        let kind = crs::classify(&self.buildings_crs, &layer.name)?;
        if crs::check_plausible(&kind, &self.buildings_crs, bounds, &layer.name).is_ok() {
            return Ok(self.buildings_crs.clone());
        }
        if layer.crs.is_none() {
            crs::check_plausible(&CrsKind::Geographic, &CrsSpec::Crs84, bounds, &layer.name)?;
            return Ok(CrsSpec::Crs84);
        }
        Err(Error::Crs {
            path: layer.name.clone(),
            crs: self.buildings_crs.to_string(),
            message: "the layer's coordinates do not fit the buildings' coordinate system".into(),
        })
    }

    /// A projector from the layer's CRS (see [`Frames::layer_crs`]) to the working frame.
    pub fn projector(&self, layer: &Layer) -> Result<Projector> {
        let spec = self.layer_crs(layer)?;
        if let Some(bounds) = layer.bounds() {
            let kind = crs::classify(&spec, &layer.name)?;
            crs::check_plausible(&kind, &spec, bounds, &layer.name)?;
        }
        self.frame.projector_from(&spec, &layer.name)
    }

    /// The polygons of each feature with a geometry, in working metres, with the feature's index;
    /// `what` names the layer's role in messages.
    pub fn feature_polygons(&self, layer: &Layer, what: &str) -> Result<Vec<(usize, MultiPolygon<f64>)>> {
        let proj = self.projector(layer)?;
        let mut out = Vec::new();
        for (i, f) in layer.features.iter().enumerate() {
            let err = |fault| Error::feature(&layer.name, f.label(), fault);
            let Some(g) = &f.geometry else { continue };
            let mut polygons = Vec::new();
            let mut points = Vec::new();
            collect_parts(g, &mut polygons, &mut points).map_err(|found| {
                err(FeatureFault::WrongGeometryType { found, expected: format!("Polygon or MultiPolygon ({what})") })
            })?;
            if !points.is_empty() {
                return Err(err(FeatureFault::WrongGeometryType { found: "Point".into(), expected: format!("Polygon or MultiPolygon ({what})") }));
            }
            let mut parts = Vec::new();
            for p in polygons {
                parts.extend(polygon_to_work(&p, &proj, &err)?);
            }
            if !parts.is_empty() {
                out.push((i, MultiPolygon(parts)));
            }
        }
        Ok(out)
    }

    /// The lines of a layer (polygons give their rings) in working metres, each with its feature's
    /// row, and the number of point features skipped.
    pub fn layer_lines(&self, layer: &Layer) -> Result<(Vec<RowLine>, usize)> {
        let proj = self.projector(layer)?;
        let mut out = Vec::new();
        let mut points = 0;
        for f in &layer.features {
            let err = |fault| Error::feature(&layer.name, f.label(), fault);
            let Some(g) = &f.geometry else { continue };
            if matches!(g, Geometry::Point(_) | Geometry::MultiPoint(_)) {
                points += 1;
                continue;
            }
            let mut lines: Vec<&LineString<f64>> = Vec::new();
            collect_lines(g, &mut lines).map_err(|found| {
                err(FeatureFault::WrongGeometryType { found, expected: "LineString, MultiLineString, Polygon or MultiPolygon".into() })
            })?;
            for l in lines {
                let mut pts: Vec<Coord<f64>> = Vec::with_capacity(l.0.len());
                for c in &l.0 {
                    let w = to_work(*c, &proj, &err)?;
                    if pts.last() != Some(&w) {
                        pts.push(w);
                    }
                }
                if pts.len() >= 2 {
                    out.push((f.row, LineString(pts)));
                }
            }
        }
        Ok((out, points))
    }
}

/// The territory to tile: the given layer's polygons, else the buildings' buffered convex hull.
/// Buildings outside a given territory are named in a warning.
pub fn territory(layer: Option<&Layer>, buildings: &[Building], frames: &Frames, config: &PartitionConfig, warnings: &mut Vec<String>) -> Result<Territory> {
    let Some(layer) = layer else {
        return Ok(Territory { area: derived_territory(buildings, config.graph.territory_buffer_m), derived: true, water: MultiPolygon(Vec::new()) });
    };
    let polygons: Vec<Polygon<f64>> = frames.feature_polygons(layer, "territory")?.into_iter().flat_map(|(_, mp)| mp.0).collect();
    if polygons.is_empty() {
        return Err(Error::layer(&layer.name, "territory has no polygon"));
    }
    let area = MultiPolygon(polygons);
    let index = crate::geom::PolygonIndex::new(&area);
    let outside: Vec<&crate::read::FeatureId> = buildings.iter().filter(|b| !index.contains(b.anchor)).map(|b| &b.id).collect();
    if !buildings.is_empty() && outside.len() == buildings.len() {
        return Err(Error::layer(
            &layer.name,
            format!("no building lies inside the territory (all {} lie outside it): the wrong file, or a coordinate system other than the buildings'?", buildings.len()),
        ));
    }
    if !outside.is_empty() {
        warnings.push(format!(
            "{} building(s) lie outside the territory ({}); their footprints are added to the tiled area",
            outside.len(),
            crate::text::first_of(&outside, outside.len(), 10, ", ")
        ));
    }
    Ok(Territory { area, derived: false, water: MultiPolygon(Vec::new()) })
}

/// The polygons of the barrier layers (rivers, lakes): water left out of the grids.
pub fn water_polygons(layers: &[Layer], frames: &Frames) -> Result<MultiPolygon<f64>> {
    Ok(MultiPolygon(layer_polygons(layers, frames)?))
}

/// The polygons of `layers` in working metres; lines and points (no area) are skipped.
pub fn layer_polygons(layers: &[Layer], frames: &Frames) -> Result<Vec<Polygon<f64>>> {
    let mut out = Vec::new();
    for layer in layers {
        let proj = frames.projector(layer)?;
        for f in &layer.features {
            let err = |fault| Error::feature(&layer.name, f.label(), fault);
            let Some(g) = &f.geometry else { continue };
            let mut polygons = Vec::new();
            collect_polygons(g, &mut polygons);
            for p in polygons {
                out.extend(polygon_to_work(&p, &proj, &err)?);
            }
        }
    }
    Ok(out)
}

/// A polygon in working metres (None when its exterior ring collapses); `err` names the
/// feature in errors.
fn polygon_to_work(p: &Polygon<f64>, proj: &Projector, err: &impl Fn(FeatureFault) -> Error) -> Result<Option<Polygon<f64>>> {
    let Some(ext) = ring_to_work(p.exterior(), proj, err)? else { return Ok(None) };
    let mut holes = Vec::new();
    for h in p.interiors() {
        holes.extend(ring_to_work(h, proj, err)?);
    }
    Ok(Some(Polygon::new(ext, holes)))
}

/// The polygons of a geometry (collections searched), ignoring its other parts.
pub(super) fn collect_polygons(g: &Geometry<f64>, out: &mut Vec<Polygon<f64>>) {
    match g {
        Geometry::Polygon(p) => out.push(p.clone()),
        Geometry::MultiPolygon(mp) => out.extend(mp.0.iter().cloned()),
        Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|x| collect_polygons(x, out)),
        _ => {}
    }
}

/// The lines of the street layers that the streets filter keeps.
pub fn street_lines(layers: &[Layer], frames: &Frames, config: &PartitionConfig, warnings: &mut Vec<String>) -> Result<Vec<LineString<f64>>> {
    let mut out = Vec::new();
    for layer in layers {
        let kept = filtered_lines(layer, frames, config.graph.streets_filter.as_ref(), "streets_filter", "streets are lines", warnings)?;
        if kept.is_empty() {
            warnings.push(format!("{}: no street line is left after the filter", layer.name));
        }
        out.extend(kept);
    }
    Ok(out)
}

/// The lines of the barrier layers (polygons give their rings); point features are skipped
/// with a warning.
pub fn barrier_lines(layers: &[Layer], frames: &Frames, warnings: &mut Vec<String>) -> Result<Vec<LineString<f64>>> {
    let mut lines = Vec::new();
    for layer in layers {
        let (l, points) = frames.layer_lines(layer)?;
        lines.extend(l.into_iter().map(|x| x.1));
        if points > 0 {
            warnings.push(format!("{}: {points} point feature(s) ignored: a barrier must be a line or a polygon", layer.name));
        }
    }
    Ok(lines)
}

/// The walkable lines of the network layer after the network filter, when one is given.
pub fn network_lines(layer: Option<&Layer>, frames: &Frames, config: &PartitionConfig, warnings: &mut Vec<String>) -> Result<Option<Vec<LineString<f64>>>> {
    let Some(layer) = layer else { return Ok(None) };
    let kept = filtered_lines(layer, frames, config.walking.network_filter.as_ref(), "network_filter", "the network is made of lines", warnings)?;
    if kept.is_empty() {
        return Err(Error::layer(&layer.name, "no walkable line is left after the filter"));
    }
    Ok(Some(kept))
}

/// The lines of `layer` in working metres that `filter` (the option `option`) keeps; point
/// features are skipped with a warning ending in `points_note`.
fn filtered_lines(layer: &Layer, frames: &Frames, filter: Option<&FeatureFilter>, option: &'static str, points_note: &str, warnings: &mut Vec<String>) -> Result<Vec<LineString<f64>>> {
    if let Some(f) = filter {
        if !layer.has_column(&f.column) {
            return Err(Error::layer(&layer.name, format!("has no '{}' column for {}", f.column, OptionName(option))));
        }
    }
    let (lines, points) = frames.layer_lines(layer)?;
    if points > 0 {
        warnings.push(format!("{}: {points} point feature(s) ignored: {points_note}", layer.name));
    }
    Ok(walkable_lines(layer, lines, filter))
}

/// The lines of a layer (already in working metres, with their feature's row) that the filter
/// keeps.
fn walkable_lines(layer: &Layer, lines: Vec<RowLine>, filter: Option<&FeatureFilter>) -> Vec<LineString<f64>> {
    let idx = filter.and_then(|f| layer.column_index(&f.column));
    lines
        .into_iter()
        .filter(|(row, _)| match (filter, idx) {
            (Some(f), Some(i)) => f.keeps(layer.features[*row].attributes[i].as_ref()),
            (Some(f), None) => f.keeps(None),
            (None, _) => true,
        })
        .map(|(_, l)| l)
        .collect()
}

/// The buildings' convex hull grown by `buffer` metres (a 32-gon approximates the round corners).
pub fn derived_territory(buildings: &[Building], buffer: f64) -> MultiPolygon<f64> {
    let mut pts = Vec::new();
    for b in buildings {
        match &b.footprint {
            Footprint::Point(c) => pts.push(*c),
            Footprint::Polygons(mp) => pts.extend(mp.0.iter().flat_map(|p| p.exterior().0.iter().copied())),
        }
    }
    let hull = MultiPoint(pts.iter().map(|c| Point(*c)).collect()).convex_hull();
    if buffer <= 0.0 && hull.unsigned_area() > 0.0 {
        return MultiPolygon(vec![hull]);
    }
    let r = buffer.max(1.0);
    const SIDES: usize = 32;
    // Circumscribe the circle so the buffer is at least `r` everywhere.
    let rr = r / (std::f64::consts::PI / SIDES as f64).cos();
    let grown: Vec<Point<f64>> = hull
        .exterior()
        .0
        .iter()
        .flat_map(|c| {
            (0..SIDES).map(move |k| {
                let a = 2.0 * std::f64::consts::PI * k as f64 / SIDES as f64;
                Point::new(c.x + rr * a.cos(), c.y + rr * a.sin())
            })
        })
        .collect();
    MultiPolygon(vec![MultiPoint(grown).convex_hull()])
}

fn collect_lines<'a>(g: &'a Geometry<f64>, out: &mut Vec<&'a LineString<f64>>) -> std::result::Result<(), String> {
    match g {
        Geometry::LineString(l) => out.push(l),
        Geometry::MultiLineString(ml) => out.extend(ml.0.iter()),
        Geometry::Polygon(p) => {
            out.push(p.exterior());
            out.extend(p.interiors().iter());
        }
        Geometry::MultiPolygon(mp) => {
            for p in &mp.0 {
                out.push(p.exterior());
                out.extend(p.interiors().iter());
            }
        }
        Geometry::GeometryCollection(gc) => {
            for m in &gc.0 {
                collect_lines(m, out)?;
            }
        }
        Geometry::Point(_) | Geometry::MultiPoint(_) => {}
        Geometry::Line(l) => return Err(format!("Line {l:?}")),
        Geometry::Rect(_) | Geometry::Triangle(_) => return Err("unsupported geometry".into()),
    }
    Ok(())
}
