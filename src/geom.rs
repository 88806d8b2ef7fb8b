//! Small geometric tools shared by the stages, each backed by an R-tree (`rstar`).

use geo::{Coord, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{RTree, AABB};

type Segment = GeomWithData<Line<[f64; 2]>, ()>;

/// Items found by their bounding boxes: an R-tree of boxes, each carrying the position of its
/// item in the list it was built from.
pub struct BoxIndex {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl BoxIndex {
    /// Indexes the boxes of a list of items (an item without a box is left out).
    pub fn new(boxes: impl IntoIterator<Item = Option<Rect<f64>>>) -> BoxIndex {
        let items = boxes.into_iter().enumerate().filter_map(|(i, r)| r.map(|r| GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i)));
        BoxIndex { tree: RTree::bulk_load(items.collect()) }
    }

    /// The items whose box contains `c`.
    pub fn at(&self, c: Coord<f64>) -> impl Iterator<Item = usize> + '_ {
        self.tree.locate_all_at_point(&[c.x, c.y]).map(|g| g.data)
    }

    /// The items whose box intersects `r`.
    pub fn intersecting(&self, r: Rect<f64>) -> impl Iterator<Item = usize> + '_ {
        self.tree.locate_in_envelope_intersecting(&AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])).map(|g| g.data)
    }
}

/// Point-in-polygon tests against a (possibly large) multipolygon, by counting crossings of a
/// ray with the ring segments found through an R-tree.
pub struct PolygonIndex {
    tree: RTree<Segment>,
}

impl PolygonIndex {
    /// Indexes every ring segment of `area`.
    pub fn new(area: &MultiPolygon<f64>) -> PolygonIndex {
        let mut segs = Vec::new();
        for p in &area.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for w in ring.0.windows(2) {
                    if w[0] != w[1] {
                        segs.push(GeomWithData::new(Line::new([w[0].x, w[0].y], [w[1].x, w[1].y]), ()));
                    }
                }
            }
        }
        PolygonIndex { tree: RTree::bulk_load(segs) }
    }

    /// True when `c` lies inside (even-odd rule; points on the boundary may go either way).
    pub fn contains(&self, c: Coord<f64>) -> bool {
        let env = AABB::from_corners([c.x, c.y], [f64::INFINITY, c.y]);
        let mut inside = false;
        for s in self.tree.locate_in_envelope_intersecting(&env) {
            let (a, b) = (s.geom().from, s.geom().to);
            if (a[1] > c.y) != (b[1] > c.y) {
                let x = a[0] + (c.y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                if x > c.x {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

/// Segments (e.g. barriers) that points can be tested against.
pub struct SegmentIndex {
    tree: RTree<Segment>,
}

impl SegmentIndex {
    /// Indexes the given segments.
    pub fn new(segments: impl IntoIterator<Item = (Coord<f64>, Coord<f64>)>) -> SegmentIndex {
        let segs: Vec<Segment> = segments
            .into_iter()
            .filter(|(a, b)| a != b)
            .map(|(a, b)| GeomWithData::new(Line::new([a.x, a.y], [b.x, b.y]), ()))
            .collect();
        SegmentIndex { tree: RTree::bulk_load(segs) }
    }

    /// True when some segment passes within `tol` of `c`.
    pub fn near(&self, c: Coord<f64>, tol: f64) -> bool {
        let env = AABB::from_corners([c.x - tol, c.y - tol], [c.x + tol, c.y + tol]);
        self.tree.locate_in_envelope_intersecting(&env).any(|s| point_segment_distance(c, s.geom()) <= tol)
    }

    /// True when the index holds no segment.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Adds a segment.
    pub fn insert(&mut self, a: Coord<f64>, b: Coord<f64>) {
        if a != b {
            self.tree.insert(GeomWithData::new(Line::new([a.x, a.y], [b.x, b.y]), ()));
        }
    }

    /// The pieces of segment `a`–`b` that no indexed segment runs along (within `tol` of the
    /// line through `a` and `b` at both its ends), in order from `a`; pieces shorter than `tol`
    /// are dropped.
    pub fn uncovered(&self, a: Coord<f64>, b: Coord<f64>, tol: f64) -> Vec<(Coord<f64>, Coord<f64>)> {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt();
        if len <= tol {
            return Vec::new();
        }
        let env = AABB::from_corners([a.x.min(b.x) - tol, a.y.min(b.y) - tol], [a.x.max(b.x) + tol, a.y.max(b.y) + tol]);
        let off_line = |x: f64, y: f64| ((x - a.x) * dy - (y - a.y) * dx).abs() / len;
        let along = |x: f64, y: f64| ((x - a.x) * dx + (y - a.y) * dy) / (len * len);
        let mut covered: Vec<(f64, f64)> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .filter_map(|s| {
                let l = s.geom();
                (off_line(l.from[0], l.from[1]) <= tol && off_line(l.to[0], l.to[1]) <= tol).then(|| {
                    let (t0, t1) = (along(l.from[0], l.from[1]), along(l.to[0], l.to[1]));
                    (t0.min(t1).max(0.0), t0.max(t1).min(1.0))
                })
            })
            .filter(|(lo, hi)| hi > lo)
            .collect();
        covered.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut out = Vec::new();
        let mut at = 0.0;
        let point = |t: f64| Coord { x: a.x + t * dx, y: a.y + t * dy };
        let min_t = tol / len;
        for (lo, hi) in covered.into_iter().chain(std::iter::once((1.0, 1.0))) {
            if lo - at > min_t {
                out.push((if at == 0.0 { a } else { point(at) }, if lo >= 1.0 { b } else { point(lo) }));
            }
            at = at.max(hi);
        }
        out
    }
}

fn point_segment_distance(c: Coord<f64>, l: &Line<[f64; 2]>) -> f64 {
    let (ax, ay, bx, by) = (l.from[0], l.from[1], l.to[0], l.to[1]);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((c.x - ax) * dx + (c.y - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (px, py) = (ax + t * dx, ay + t * dy);
    ((c.x - px).powi(2) + (c.y - py).powi(2)).sqrt()
}

/// The part of segment `a`–`b` inside `rect` (Liang–Barsky), or None.
pub fn clip_segment(a: Coord<f64>, b: Coord<f64>, rect: &Rect<f64>) -> Option<(Coord<f64>, Coord<f64>)> {
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let d = Coord { x: b.x - a.x, y: b.y - a.y };
    let checks = [
        (-d.x, a.x - rect.min().x),
        (d.x, rect.max().x - a.x),
        (-d.y, a.y - rect.min().y),
        (d.y, rect.max().y - a.y),
    ];
    for (p, q) in checks {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
            if t0 > t1 {
                return None;
            }
        }
    }
    let at = |t: f64| if t == 0.0 { a } else if t == 1.0 { b } else { Coord { x: a.x + t * d.x, y: a.y + t * d.y } };
    Some((at(t0), at(t1)))
}

/// An f64 with a total order (by `f64::total_cmp`), for priority queues.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrdF64(pub f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Euclidean distance between two points.
#[inline]
pub fn dist(a: Coord<f64>, b: Coord<f64>) -> f64 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// The smallest rectangle holding every rectangle given; None when there is none.
pub fn union_of_rects(rects: impl Iterator<Item = geo::Rect<f64>>) -> Option<geo::Rect<f64>> {
    rects.reduce(|a, r| {
        geo::Rect::new(
            Coord { x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y) },
            Coord { x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y) },
        )
    })
}

/// Where a polygon's rings cross (first proper crossing or collinear overlap of two segments)
/// and where a ring touches itself (a point two non-adjacent segments share), found with an
/// R-tree of the segments: (crossing, touching).
pub fn ring_crossings(p: &geo::Polygon<f64>) -> (Option<Coord<f64>>, Option<Coord<f64>>) {
    let mut segs: Vec<(usize, usize, usize, geo::Line<f64>)> = Vec::new();
    for (ri, r) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
        let n = r.0.len().saturating_sub(1);
        for (si, l) in r.lines().enumerate() {
            if l.start != l.end {
                segs.push((ri, si, n, l));
            }
        }
    }
    let boxes: Vec<geo::Rect<f64>> = segs.iter().map(|s| geo::Rect::new(s.3.start, s.3.end)).collect();
    let index = BoxIndex::new(boxes.iter().map(|&r| Some(r)));
    let mut touching = None;
    for (i, a) in segs.iter().enumerate() {
        for j in index.intersecting(boxes[i]) {
            if j <= i {
                continue;
            }
            let b = &segs[j];
            let same_ring = a.0 == b.0;
            let adjacent = same_ring && (b.1 == a.1 + 1 || (a.1 == 0 && b.1 + 1 == a.2));
            match geo::algorithm::line_intersection::line_intersection(a.3, b.3) {
                Some(geo::algorithm::line_intersection::LineIntersection::SinglePoint { intersection, is_proper }) => {
                    if is_proper {
                        return (Some(intersection), touching);
                    }
                    if !adjacent && same_ring && touching.is_none() {
                        touching = Some(intersection);
                    }
                }
                Some(geo::algorithm::line_intersection::LineIntersection::Collinear { intersection }) if intersection.start != intersection.end => {
                    // Two segments running along each other: the ring doubles back.
                    return (Some(intersection.start), touching);
                }
                Some(geo::algorithm::line_intersection::LineIntersection::Collinear { intersection }) if !adjacent && touching.is_none() => {
                    touching = Some(intersection.start);
                }
                _ => {}
            }
        }
    }
    (None, touching)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn polygon_index_handles_holes() {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0), (x: 4.0, y: 4.0)]],
        );
        let idx = PolygonIndex::new(&MultiPolygon(vec![p]));
        assert!(idx.contains(Coord { x: 1.0, y: 1.0 }));
        assert!(!idx.contains(Coord { x: 5.0, y: 5.0 }));
        assert!(!idx.contains(Coord { x: 11.0, y: 5.0 }));
    }

    #[test]
    fn clipping() {
        let r = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 10.0, y: 10.0 });
        let (a, b) = clip_segment(Coord { x: -5.0, y: 5.0 }, Coord { x: 15.0, y: 5.0 }, &r).unwrap();
        assert_eq!((a.x, b.x), (0.0, 10.0));
        assert!(clip_segment(Coord { x: -5.0, y: -5.0 }, Coord { x: -1.0, y: 20.0 }, &r).is_none());
    }
}
