//! The existing division a re-division starts from: each building's current grid, from a grid
//! column on the buildings or from a layer of grid polygons. With polygons, a building inside
//! several (overlapping) grids goes to the one covering most of its footprint (ties: the lower
//! id); a building in none (a gap) has no grid and joins a neighbouring one later.

use geo::{Area, BooleanOps, BoundingRect, Coord, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use serde::Serialize;
use serde_json::Value;

use super::Footprint;

/// Each building's existing grid id (file order) and how it was found.
#[derive(Debug, Clone)]
pub struct ExistingGrids {
    /// Existing grid id of each building (None: in no grid).
    pub grid_of_building: Vec<Option<u32>>,
    /// The report.
    pub report: ExistingReport,
}

/// How the existing division was read, for summary.json.
#[derive(Debug, Clone, Default, Serialize)]
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
    pub locked: Vec<u32>,
    /// Every existing grid id (also of grids that hold no building).
    #[serde(skip)]
    pub ids: Vec<u32>,
}

/// A grid id: a whole number from 0 to 4,294,967,295 (as a number or as text).
pub fn grid_id_value(v: &Value) -> Result<u32, String> {
    let parsed = match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.filter(|&x| x <= u32::MAX as u64).map(|x| x as u32).ok_or_else(|| format!("grid id {v} is not a whole number from 0 to 4294967295"))
}

/// Assigns each building (its anchor and footprint, working metres) to the grid polygon that
/// contains its anchor; see the module doc for overlaps and gaps.
pub fn assign_to_polygons(grids: &[(u32, MultiPolygon<f64>)], anchors: &[Coord<f64>], footprints: &[Footprint]) -> (Vec<Option<u32>>, usize) {
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = grids
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| p.bounding_rect().map(|r| GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i)))
        .collect();
    let tree = RTree::bulk_load(boxes);
    let found: Vec<(Option<u32>, bool)> = anchors
        .par_iter()
        .zip(footprints)
        .map(|(a, f)| {
            let mut hits: Vec<usize> = tree.locate_all_at_point(&[a.x, a.y]).map(|g| g.data).filter(|&i| grids[i].1.intersects(&Point(*a))).collect();
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
