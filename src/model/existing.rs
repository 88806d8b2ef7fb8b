//! The existing division a re-division starts from: each building's current grid, from a grid
//! column on the buildings or from a layer of grid polygons. With polygons, a building inside
//! several (overlapping) grids goes to the one covering most of its footprint (ties: the lower
//! id); a building in none (a gap) has no grid and joins a neighbouring one later.

use geo::{Area, BooleanOps, BoundingRect, Coord, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use serde::{Deserialize, Serialize};

use super::Footprint;
use crate::read::FeatureId as GridId;

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
