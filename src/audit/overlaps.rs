//! Overlaps: every pair of grids whose shapes share ground, with the shared geometry and area.
//! Candidate pairs come from an R-tree of bounding boxes; pairs are intersected in parallel.

use geo::{Area, BooleanOps, MultiPolygon};
use rayon::prelude::*;

use super::layer::GridShape;
use super::shared::significant;
use super::{Problem, ProblemKind};
use crate::geom::BoxIndex;

/// Pairs `(i, j)`, `i < j`, of grids whose shapes overlap, with the overlap (noise removed).
pub fn overlapping_pairs(grids: &[GridShape]) -> Vec<(usize, usize, MultiPolygon<f64>)> {
    let index = BoxIndex::new(grids.iter().map(|g| g.bbox));
    let boxes: Vec<(usize, geo::Rect<f64>)> = grids.iter().enumerate().filter_map(|(i, g)| g.bbox.map(|r| (i, r))).collect();
    let mut found: Vec<(usize, usize, MultiPolygon<f64>)> = boxes
        .par_iter()
        .flat_map_iter(|&(i, r)| {
            let mut out = Vec::new();
            for j in index.intersecting(r) {
                if j <= i {
                    continue;
                }
                let x = significant(grids[i].shape.intersection(&grids[j].shape));
                if !x.0.is_empty() {
                    out.push((i, j, x));
                }
            }
            out
        })
        .collect();
    found.sort_by_key(|(i, j, _)| (*i, *j));
    found
}

/// One problem per overlapping pair: `overlap`, or `overlap_sliver` below the tolerance.
pub fn find_overlaps(grids: &[GridShape], tolerance_m2: f64) -> Vec<Problem> {
    overlapping_pairs(grids)
        .into_iter()
        .map(|(i, j, x)| {
            let area = x.unsigned_area();
            let (a, b) = (&grids[i], &grids[j]);
            let (area_a, area_b) = (a.shape.unsigned_area(), b.shape.unsigned_area());
            let kind = if area < tolerance_m2 { ProblemKind::OverlapSliver } else { ProblemKind::Overlap };
            let message = if area >= 0.999 * area_a && area >= 0.999 * area_b {
                format!("grids {} and {} are the same polygon ({area:.1} m²): a duplicate", a.id, b.id)
            } else if area >= 0.999 * area_a.min(area_b) {
                let (inner, outer) = if area_a <= area_b { (a, b) } else { (b, a) };
                format!("grid {} lies entirely inside grid {} ({area:.1} m²)", inner.id, outer.id)
            } else {
                format!(
                    "grids {} and {} overlap over {area:.1} m² in {} piece(s) ({:.1}% and {:.1}% of their areas)",
                    a.id,
                    b.id,
                    x.0.len(),
                    100.0 * area / area_a.max(1e-12),
                    100.0 * area / area_b.max(1e-12)
                )
            };
            Problem { kind, grid_ids: vec![a.id.clone(), b.id.clone()], area_m2: area, message, building_id: None, geometry: Some(x.into()) }
        })
        .collect()
}
