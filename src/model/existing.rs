//! The existing division a re-division starts from: each building's current grid, from a grid
//! column on the buildings or from a layer of grid polygons. With polygons, a building inside
//! several (overlapping) grids goes to the one covering most of its footprint (ties: the lower
//! id); a building in none (a gap) has no grid and joins a neighbouring one later.

use geo::{Area, BooleanOps, BoundingRect, Coord, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use serde_json::Value;

use super::footprint::{collect_parts, to_work};
use super::layers::Frames;
use super::Footprint;
use crate::config::{OptionName, PartitionConfig};
use crate::error::{Error, FeatureFault, Result};
use crate::read::FeatureId as GridId;
use crate::read::Layer;

/// Each building's existing grid (file order) and how it was found.
#[derive(Debug, Clone)]
pub struct ExistingGrids {
    /// Existing grid of each building, as an index into `report.ids` (None: in no grid).
    pub grid_of_building: Vec<Option<u32>>,
    /// The report.
    pub report: ExistingReport,
}

/// How the existing division was read, for summary.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExistingReport {
    /// Where it came from: a buildings column or a polygon layer.
    pub source: String,
    /// Existing grids.
    pub grids: usize,
    /// Buildings in no existing grid (new housing, gaps): they join a neighbouring grid.
    pub buildings_without_grid: usize,
    /// Buildings inside several grid polygons (overlaps), given to the one covering most of
    /// their footprint.
    pub ambiguous_buildings: usize,
    /// Locked grid ids.
    pub locked: Vec<GridId>,
    /// Every existing grid id (also of grids that hold no building), sorted: what the indices
    /// of `grid_of_building` point to.
    #[serde(skip)]
    pub ids: Vec<GridId>,
    /// The polygons of the locked grids, when the existing division is a polygon layer.
    #[serde(skip)]
    pub locked_shapes: Vec<LockedShape>,
}

/// A locked grid's polygon as given in the existing layer: written back unchanged, and the
/// mesh follows its rings so that the neighbouring grids fit it exactly.
#[derive(Debug, Clone)]
pub struct LockedShape {
    /// The grid, as an index into the existing grid ids.
    pub grid: u32,
    /// Index of its feature in the existing layer.
    pub feature: usize,
    /// The polygon in working metres.
    pub working: MultiPolygon<f64>,
    /// Each vertex in working metres with the vertex as given, when the existing layer is in the
    /// buildings' CRS (the CRS of the outputs); empty otherwise (the polygon is then traced).
    pub vertices: Vec<(Coord<f64>, Coord<f64>)>,
}

/// The ids new grids get in a re-division: after the largest existing id. Whole-number ids
/// continue from the largest; text ids ending in digits continue the digits of the largest
/// such id, keeping its width (`G-07` → `G-08`, `310104001012` → `310104001013`); other text
/// ids get `new-1`, `new-2`, ... Ids already in use are skipped.
pub fn new_grid_ids(existing: &[GridId], count: usize) -> Vec<GridId> {
    let used: std::collections::HashSet<String> = existing.iter().map(|i| i.to_string()).collect();
    let numbers: Vec<i64> = existing.iter().filter_map(|i| if let GridId::Number(n) = i { Some(*n) } else { None }).collect();
    let texts: Vec<&str> = existing.iter().filter_map(|i| if let GridId::Text(t) = i { Some(t.as_str()) } else { None }).collect();
    let mut out = Vec::with_capacity(count);
    if texts.is_empty() {
        let mut next = numbers.iter().copied().max().unwrap_or(0).max(0);
        while out.len() < count {
            next += 1;
            out.push(GridId::Number(next));
        }
        return out;
    }
    // The text id with the largest trailing number (then the longest, then the greatest).
    let split = |t: &str| {
        let digits = t.len() - t.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        (t[..t.len() - digits].to_string(), t[t.len() - digits..].to_string())
    };
    let best = texts
        .iter()
        .map(|t| split(t))
        .filter(|(_, d)| !d.is_empty() && d.len() <= 18)
        .max_by(|a, b| a.1.parse::<u64>().unwrap_or(0).cmp(&b.1.parse::<u64>().unwrap_or(0)).then(a.1.len().cmp(&b.1.len())).then(a.0.cmp(&b.0)));
    let mut k: u64 = 0;
    while out.len() < count {
        k += 1;
        let candidate = match &best {
            Some((stem, digits)) => {
                let width = digits.len();
                format!("{stem}{:0width$}", digits.parse::<u64>().unwrap_or(0) + k)
            }
            None => format!("new-{k}"),
        };
        if !used.contains(&candidate) {
            out.push(GridId::Text(candidate));
        }
    }
    out
}

/// Assigns each building (its anchor and footprint, working metres) to the grid polygon that
/// contains its anchor; see the module doc for overlaps and gaps. Grids are given by index
/// (ties go to the lower index).
pub fn assign_to_polygons(grids: &[(u32, MultiPolygon<f64>)], anchors: &[Coord<f64>], footprints: &[Footprint]) -> (Vec<Option<u32>>, usize) {
    let index = crate::geom::BoxIndex::new(grids.iter().map(|(_, p)| p.bounding_rect()));
    let found: Vec<(Option<u32>, bool)> = anchors
        .par_iter()
        .zip(footprints)
        .map(|(a, f)| {
            let mut hits: Vec<usize> = index.at(*a).filter(|&i| grids[i].1.intersects(&Point(*a))).collect();
            hits.sort_by_key(|&i| (grids[i].0, i));
            match hits.len() {
                0 => (None, false),
                1 => (Some(grids[hits[0]].0), false),
                _ => {
                    let cover = |i: usize| match f {
                        Footprint::Polygons(mp) => mp.intersection(&grids[i].1).unsigned_area(),
                        Footprint::Point(_) => 0.0,
                    };
                    let best = hits.iter().copied().map(|i| (cover(i), i)).fold(None::<(f64, usize)>, |acc, (c, i)| match acc {
                        Some((bc, _)) if bc >= c => acc,
                        _ => Some((c, i)),
                    });
                    (best.map(|(_, i)| grids[i].0), true)
                }
            }
        })
        .collect();
    let ambiguous = found.iter().filter(|x| x.1).count();
    (found.into_iter().map(|x| x.0).collect(), ambiguous)
}

impl ExistingReport {
    /// Remarks for the user: buildings in no grid, buildings in several.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.buildings_without_grid > 0 {
            out.push(format!("{} building(s) are in no existing grid and join a neighbouring grid", self.buildings_without_grid));
        }
        if self.ambiguous_buildings > 0 {
            out.push(format!("{} building(s) lie in several existing grids (overlaps) and were given to the one covering most of their footprint", self.ambiguous_buildings));
        }
        out
    }
}

/// The buildings as the existing division sees them (file order).
pub(super) struct Placed<'a> {
    /// The buildings layer.
    pub layer: &'a Layer,
    /// Their footprints (working metres).
    pub footprints: &'a [Footprint],
    /// Their anchors (working metres).
    pub anchors: &'a [Coord<f64>],
    /// Their ids.
    pub ids: &'a [GridId],
}

/// Each building's existing grid: from the existing grid column of the buildings or from the
/// existing polygon layer; None without an existing division.
pub(super) fn existing_division(buildings: &Placed, polygons: Option<&Layer>, frames: &Frames, config: &PartitionConfig) -> Result<Option<ExistingGrids>> {
    let r = &config.redivision;
    let mut report = ExistingReport { locked: r.locked.clone(), ..Default::default() };
    let grid_of_building = match (&r.existing_column, polygons) {
        (None, None) => {
            let division = || format!("an existing division ({} or {})", OptionName("existing"), OptionName("existing_column"));
            if r.stability != 1.0 {
                return Err(Error::OptionNeeds { option: OptionName("stability"), needs: division() });
            }
            if !r.locked.is_empty() {
                return Err(Error::OptionNeeds { option: OptionName("locked"), needs: division() });
            }
            return Ok(None);
        }
        (Some(_), Some(_)) => return Err(Error::OptionsExclusive { first: OptionName("existing"), second: OptionName("existing_column") }),
        (Some(col), None) => from_column(buildings, col, &mut report)?,
        (None, Some(grid_layer)) => from_polygons(buildings, grid_layer, frames, config, &mut report)?,
    };
    report.grids = report.ids.len();
    report.buildings_without_grid = grid_of_building.iter().filter(|g| g.is_none()).count();
    if let Some(l) = r.locked.iter().find(|l| !report.ids.iter().any(|i| i.same(l))) {
        return Err(Error::LockedGridUnknown { id: l.to_string(), grids: report.ids.len() });
    }
    Ok(Some(ExistingGrids { grid_of_building, report }))
}

/// The existing grid of each building from its column `col`.
fn from_column(buildings: &Placed, col: &str, report: &mut ExistingReport) -> Result<Vec<Option<u32>>> {
    let layer = buildings.layer;
    let Some(idx) = layer.column_index(col).filter(|_| layer.has_column(col)) else {
        return Err(Error::layer(&layer.name, format!("has no '{col}' column for {} (columns: {})", OptionName("existing_column"), layer.columns.join(", "))));
    };
    report.source = format!("column '{col}' of the buildings");
    let ids_of_building = layer
        .features
        .iter()
        .zip(buildings.ids)
        .map(|(f, id)| match &f.attributes[idx] {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => GridId::grid_id(v).map(Some).map_err(|m| Error::feature(&layer.name, id.to_string(), FeatureFault::BadId { message: format!("'{col}': {m}") })),
        })
        .collect::<Result<Vec<Option<GridId>>>>()?;
    let mut distinct: Vec<GridId> = ids_of_building.iter().flatten().cloned().collect();
    distinct.sort();
    distinct.dedup();
    report.ids = distinct;
    Ok(ids_of_building.iter().map(|g| g.as_ref().and_then(|g| report.ids.binary_search(g).ok()).map(|i| i as u32)).collect())
}

/// The existing grid of each building from the grid polygons of `grid_layer` (ids: the
/// `existing_id` column, else `grid_id`, else the feature ids, else the row number from 1);
/// locked grids' polygons are kept with their vertices as given.
fn from_polygons(buildings: &Placed, grid_layer: &Layer, frames: &Frames, config: &PartitionConfig, report: &mut ExistingReport) -> Result<Vec<Option<u32>>> {
    let col = config.redivision.existing_id.clone().unwrap_or_else(|| "grid_id".into());
    let has_col = grid_layer.has_column(&col);
    if config.redivision.existing_id.is_some() && !has_col {
        return Err(Error::layer(&grid_layer.name, format!("has no '{col}' column for {} (columns: {})", OptionName("existing_id"), grid_layer.columns.join(", "))));
    }
    let idx = grid_layer.column_index(&col);
    // One id source for the whole layer: the id column, else feature ids, else row + 1.
    let use_feature_ids = !has_col && grid_layer.features.iter().all(|f| f.id.is_some());
    let mut grids = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let polygon_features = frames.feature_polygons(grid_layer, "existing grid")?;
    for (i, mp) in polygon_features.iter().cloned() {
        let f = &grid_layer.features[i];
        let value = match (idx.filter(|_| has_col), &f.id) {
            (Some(idx), _) => f.attributes[idx].clone().ok_or_else(|| {
                Error::feature(&grid_layer.name, f.label(), FeatureFault::MissingColumn { column: col.clone(), available: grid_layer.columns.join(", ") })
            })?,
            (None, Some(id)) if use_feature_ids => id.to_json(),
            _ => Value::from(f.row as u64 + 1),
        };
        let id = GridId::grid_id(&value).map_err(|m| Error::feature(&grid_layer.name, f.label(), FeatureFault::BadId { message: m }))?;
        if let Some(first) = seen.insert(id.to_string(), f.label()) {
            return Err(Error::feature(&grid_layer.name, f.label(), FeatureFault::BadId { message: format!("grid id {id} is also the id of feature {first}") }));
        }
        grids.push((id, mp));
    }
    let mut ids: Vec<GridId> = grids.iter().map(|g| g.0.clone()).collect();
    ids.sort();
    report.ids = ids;
    let grids: Vec<(u32, MultiPolygon<f64>)> = grids.into_iter().filter_map(|(id, mp)| report.ids.binary_search(&id).ok().map(|i| (i as u32, mp))).collect();
    report.locked_shapes = locked_shapes(grid_layer, &polygon_features, &grids, frames, config, &report.ids)?;
    report.source = format!(
        "grid polygons of {} (id: {})",
        grid_layer.name,
        if has_col { format!("column '{col}'") } else if use_feature_ids { "feature id".into() } else { "row number from 1".into() }
    );
    let (assigned, ambiguous) = assign_to_polygons(&grids, buildings.anchors, buildings.footprints);
    report.ambiguous_buildings = ambiguous;
    Ok(assigned)
}

/// The polygons of the locked grids, with each vertex in working metres and as given when the
/// layer is in the buildings' CRS (then they are written back unchanged).
fn locked_shapes(grid_layer: &Layer, features: &[(usize, MultiPolygon<f64>)], grids: &[(u32, MultiPolygon<f64>)], frames: &Frames, config: &PartitionConfig, ids: &[GridId]) -> Result<Vec<LockedShape>> {
    let locked = &config.redivision.locked;
    let same_crs = !locked.is_empty() && frames.layer_crs(grid_layer)? == frames.buildings_crs;
    let proj = if same_crs { Some(frames.projector(grid_layer)?) } else { None };
    let mut out = Vec::new();
    for ((feature, _), (grid, working)) in features.iter().zip(grids) {
        if !locked.iter().any(|l| l.same(&ids[*grid as usize])) {
            continue;
        }
        let f = &grid_layer.features[*feature];
        let err = |fault| Error::feature(&grid_layer.name, f.label(), fault);
        let mut vertices = Vec::new();
        if let Some(proj) = &proj {
            let mut rings = Vec::new();
            let mut points = Vec::new();
            if let Some(g) = &f.geometry {
                collect_parts(g, &mut rings, &mut points).ok();
            }
            for c in rings.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.iter()) {
                vertices.push((to_work(*c, proj, &err)?, *c));
            }
        }
        out.push(LockedShape { grid: *grid, feature: *feature, working: working.clone(), vertices });
    }
    Ok(out)
}
