//! Gaps: ground no grid covers. With a territory, the territory minus the union of the grids
//! (holes of the territory itself are not gaps). Without one, the holes of the union and the
//! notches open to the outer edge, found by closing the union (dilate, then erode) by half the
//! edge-gap width; a notch counts only when it borders two or more grids. Also grids in
//! several pieces.

use geo::algorithm::buffer::{BufferStyle, LineJoin};
use geo::{Area, BooleanOps, Buffer, Contains, InteriorPoint, Intersects, MultiPolygon, Polygon};
use rayon::prelude::*;

use super::layer::GridShape;
use super::shared::{segments, shared_length, significant, SAME_LINE_M};
use super::{AuditConfig, Problem, ProblemKind};
use crate::geom::{BoxIndex, SegmentIndex};

/// One connected piece of uncovered ground.
#[derive(Debug, Clone)]
pub struct GapPiece {
    /// The piece (working metres).
    pub shape: Polygon<f64>,
    /// True when it opens onto the outer edge (of the territory, or of the union).
    pub open_to_edge: bool,
    /// Grids along its boundary with the length they share with it (m), longest first.
    pub borders: Vec<(usize, f64)>,
}

/// The uncovered pieces of ground (see the module documentation).
pub fn gap_pieces(grids: &[GridShape], territory: Option<&MultiPolygon<f64>>, edge_gap_width_m: f64) -> Vec<GapPiece> {
    let union = geo::unary_union(grids.iter().map(|g| &g.shape));
    let raw: Vec<(Polygon<f64>, bool)> = match territory {
        Some(t) => {
            let edge = SegmentIndex::new(segments(t));
            significant(t.difference(&union)).0.into_iter().map(|p| {
                let open = shared_length(&p, &edge) > 0.0;
                (p, open)
            }).collect()
        }
        None => {
            let filled = MultiPolygon(union.0.iter().map(|p| Polygon::new(p.exterior().clone(), vec![])).collect());
            let candidates = if edge_gap_width_m > 0.0 && !union.0.is_empty() {
                let r = edge_gap_width_m / 2.0;
                let style = |d: f64| BufferStyle::new(d).line_join(LineJoin::Miter(0.2));
                let closed = union.buffer_with_style(style(r)).buffer_with_style(style(-r));
                closed.union(&filled)
            } else {
                filled.clone()
            };
            significant(candidates.difference(&union))
                .0
                .into_iter()
                .map(|p| {
                    let inside = p.interior_point().is_some_and(|c| filled.contains(&c));
                    (p, !inside)
                })
                .collect()
        }
    };
    let index = BoxIndex::new(grids.iter().map(|g| g.bbox));
    let mut pieces: Vec<GapPiece> = raw
        .into_par_iter()
        .map(|(shape, open_to_edge)| {
            let r = geo::BoundingRect::bounding_rect(&shape).expect("a piece has a box");
            let grown = geo::Rect::new(geo::Coord { x: r.min().x - SAME_LINE_M, y: r.min().y - SAME_LINE_M }, geo::Coord { x: r.max().x + SAME_LINE_M, y: r.max().y + SAME_LINE_M });
            let mut borders: Vec<(usize, f64)> = index
                .intersecting(grown)
                .filter_map(|g| {
                    let segments = SegmentIndex::new(segments(&grids[g].shape));
                    let l = shared_length(&shape, &segments);
                    (l > 0.0).then_some((g, l))
                })
                .collect();
            borders.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            GapPiece { shape, open_to_edge, borders }
        })
        .collect();
    if territory.is_none() {
        // A notch of the outer edge is a gap only between grids; within one grid's outline it
        // is that grid's own shape.
        pieces.retain(|p| !p.open_to_edge || p.borders.len() >= 2);
    }
    pieces
}

/// Water's edge (m): land within it of the water counts as water (banks traced a little off
/// the water polygons, slivers between them).
pub const WATER_EDGE_M: f64 = 1.0;

/// True when a gap lies in the water: the part of it outside the water is within the
/// tolerance, or no wider on average than [`WATER_EDGE_M`] along the gap's outline.
pub fn in_water(gap: &Problem, water: &MultiPolygon<f64>, config: &AuditConfig) -> bool {
    match &gap.geometry {
        Some(geo::Geometry::MultiPolygon(shape)) => shape_in_water(shape, water, config),
        Some(geo::Geometry::Polygon(p)) => shape_in_water(&MultiPolygon(vec![p.clone()]), water, config),
        _ => false,
    }
}

/// [`in_water`] for a shape.
pub fn shape_in_water(shape: &MultiPolygon<f64>, water: &MultiPolygon<f64>, config: &AuditConfig) -> bool {
    use geo::{BooleanOps, Euclidean, Length};
    if water.0.is_empty() {
        return false;
    }
    let dry = shape.difference(water).unsigned_area();
    let outline: f64 = shape.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).map(|r| Euclidean.length(r)).sum();
    dry < config.tolerance_m2.max(1.0) || dry <= WATER_EDGE_M * outline
}

/// One problem per gap piece: `gap`, or `gap_sliver` below the tolerance.
pub fn find_gaps(grids: &[GridShape], territory: Option<&MultiPolygon<f64>>, config: &AuditConfig) -> Vec<Problem> {
    gap_pieces(grids, territory, config.edge_gap_width_m)
        .into_iter()
        .map(|piece| {
            let area = piece.shape.unsigned_area();
            let kind = if area < config.tolerance_m2 { ProblemKind::GapSliver } else { ProblemKind::Gap };
            let ids: Vec<String> = piece.borders.iter().map(|(g, _)| grids[*g].id.to_string()).collect();
            let place = match (piece.open_to_edge, territory.is_some()) {
                (true, true) => "open to the territory's edge",
                (true, false) => "open to the outer edge of the grids",
                (false, _) => "enclosed by grids",
            };
            let message = if ids.is_empty() {
                format!("{area:.1} m² of the territory are covered by no grid and border none ({place})")
            } else {
                format!("{area:.1} m² covered by no grid, {place}, between grids {}", ids.join(", "))
            };
            Problem {
                kind,
                grid_ids: piece.borders.iter().map(|(g, _)| grids[*g].id.clone()).collect(),
                area_m2: area,
                message,
                building_id: None,
                geometry: Some(piece.shape.into()),
            }
        })
        .collect()
}

/// The pieces of a shape grouped into parts that touch (polygons meeting at a point or along
/// a line are one part), largest part first.
pub fn parts(shape: &MultiPolygon<f64>) -> Vec<MultiPolygon<f64>> {
    let n = shape.0.len();
    let mut group: Vec<usize> = (0..n).collect();
    fn root(g: &mut [usize], mut i: usize) -> usize {
        while g[i] != i {
            g[i] = g[g[i]];
            i = g[i];
        }
        i
    }
    for i in 0..n {
        for j in i + 1..n {
            if shape.0[i].intersects(&shape.0[j]) {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a.max(b)] = a.min(b);
            }
        }
    }
    let mut out: Vec<(usize, MultiPolygon<f64>)> = Vec::new();
    for i in 0..n {
        let r = root(&mut group, i);
        match out.iter_mut().find(|(k, _)| *k == r) {
            Some((_, mp)) => mp.0.push(shape.0[i].clone()),
            None => out.push((r, MultiPolygon(vec![shape.0[i].clone()]))),
        }
    }
    let mut parts: Vec<MultiPolygon<f64>> = out.into_iter().map(|(_, mp)| mp).collect();
    parts.sort_by(|a, b| b.unsigned_area().total_cmp(&a.unsigned_area()));
    parts
}

/// Grids in several pieces that do not touch: one problem each, with the pieces other than
/// the largest.
pub fn find_multipart(grids: &[GridShape]) -> Vec<Problem> {
    grids
        .iter()
        .filter(|g| g.shape.0.len() > 1)
        .filter_map(|g| {
            let parts = parts(&g.shape);
            if parts.len() < 2 {
                return None;
            }
            let minor = MultiPolygon(parts[1..].iter().flat_map(|p| p.0.iter().cloned()).collect());
            let area = minor.unsigned_area();
            Some(Problem {
                kind: ProblemKind::Multipart,
                grid_ids: vec![g.id.clone()],
                area_m2: area,
                message: format!("grid {} is in {} separate pieces; the smaller ones cover {area:.1} m²", g.id, parts.len()),
                building_id: None,
                geometry: Some(minor.into()),
            })
        })
        .collect()
}
