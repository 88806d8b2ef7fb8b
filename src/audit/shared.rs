//! Geometry helpers shared by the audit stages: what counts as numerical noise, lengths of
//! shared boundary, and polygon rings as segments.

use geo::{Area, Coord, MultiPolygon, Polygon};

use crate::geom::{dist, SegmentIndex};

/// Pieces thinner than this on average (m) are overlay noise, not problems.
pub const NOISE_WIDTH_M: f64 = 1e-3;
/// Pieces smaller than this (m²) are overlay noise, not problems.
pub const NOISE_AREA_M2: f64 = 1e-6;
/// Two boundaries closer than this (m) are the same line.
pub const SAME_LINE_M: f64 = 1e-3;

/// Perimeter of a polygon (all rings).
pub fn perimeter(p: &Polygon<f64>) -> f64 {
    std::iter::once(p.exterior()).chain(p.interiors()).flat_map(|r| r.lines()).map(|l| dist(l.start, l.end)).sum()
}

/// True when a piece left by an overlay is numerical noise (tiny, or hair-thin).
pub fn is_noise(p: &Polygon<f64>) -> bool {
    let a = p.unsigned_area();
    a < NOISE_AREA_M2 || 2.0 * a / perimeter(p).max(1e-12) < NOISE_WIDTH_M
}

/// The pieces of a shape that are not noise.
pub fn significant(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon(mp.0.into_iter().filter(|p| !is_noise(p)).collect())
}

/// Every ring segment of a shape.
pub fn segments(mp: &MultiPolygon<f64>) -> impl Iterator<Item = (Coord<f64>, Coord<f64>)> + '_ {
    mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.lines()).map(|l| (l.start, l.end))
}

/// Length of `piece`'s boundary that runs along the indexed boundary (within [`SAME_LINE_M`]),
/// judged at three points of each segment.
pub fn shared_length(piece: &Polygon<f64>, boundary: &SegmentIndex) -> f64 {
    let mut total = 0.0;
    for r in std::iter::once(piece.exterior()).chain(piece.interiors()) {
        for l in r.lines() {
            let len = dist(l.start, l.end);
            if len == 0.0 {
                continue;
            }
            let at = |t: f64| Coord { x: l.start.x + t * (l.end.x - l.start.x), y: l.start.y + t * (l.end.y - l.start.y) };
            let near = [0.25, 0.5, 0.75].iter().filter(|&&t| boundary.near(at(t), SAME_LINE_M)).count();
            total += len * near as f64 / 3.0;
        }
    }
    total
}
