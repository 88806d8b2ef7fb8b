//! Noding of constraint segments (a light snap rounding): vertices closer than a tolerance are
//! merged, a segment passing within the tolerance of a vertex is split there, and crossing
//! segments are split at their crossing, so the triangulation gets segments that meet only at
//! shared vertices. [`node_near`] nodes the lines (streets, barriers, community boundaries) and
//! what lies near them before every triangulation; [`node`] nodes everything when the
//! triangulation stops on nearly coincident constraints (a locked grid's ring along a footprint).

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{Coord, Line};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};
use rayon::prelude::*;
use rstar::primitives::Rectangle;
use spade::Point2;

/// Most rounds of splitting (each round's new vertices may lie near other segments).
const MAX_ROUNDS: usize = 8;

/// The noded form of `vertices` and constraint `edges`: vertices within `eps` of a lower-numbered
/// one are merged into it, and edges are split at the vertices within `eps` of them (a vertex
/// numbered after both ends moves onto the edge) and at their crossings, so the first vertices
/// and the edges between them (the guides') keep their course. Returns the vertices
/// still used and the edges between them (no duplicate, no zero length).
pub fn node(vertices: &[Point2<f64>], edges: &[[usize; 2]], eps: f64) -> (Vec<Point2<f64>>, Vec<[usize; 2]>) {
    let points: Vec<Coord<f64>> = vertices.iter().map(|p| Coord { x: p.x, y: p.y }).collect();
    let (points, segs, _) = node_segments(points, edges.to_vec(), eps);
    compact(&points, &segs)
}

/// [`node`] restricted to the `focus` edges and the edges within `eps` of them (by bounding
/// box); the other edges are kept, following the merged and moved vertices. The vertex list
/// returned holds the vertices still used, in their order.
pub fn node_near(vertices: &[Point2<f64>], edges: &[[usize; 2]], focus: &[bool], eps: f64) -> (Vec<Point2<f64>>, Vec<[usize; 2]>) {
    let points: Vec<Coord<f64>> = vertices.iter().map(|p| Coord { x: p.x, y: p.y }).collect();
    let grown = |&[a, b]: &[usize; 2]| {
        let (p, q) = (points[a], points[b]);
        AABB::from_corners([p.x.min(q.x) - eps, p.y.min(q.y) - eps], [p.x.max(q.x) + eps, p.y.max(q.y) + eps])
    };
    let focus_tree = RTree::bulk_load(edges.iter().zip(focus).filter(|(_, &f)| f).map(|(e, _)| Rectangle::from_aabb(grown(e))).collect::<Vec<_>>());
    let near: Vec<bool> = edges.par_iter().zip(focus).map(|(e, &f)| f || focus_tree.locate_in_envelope_intersecting(&grown(e)).next().is_some()).collect();
    let (mut inner, mut outer) = (Vec::new(), Vec::new());
    for (e, &n) in edges.iter().zip(&near) {
        if n {
            inner.push(*e);
        } else {
            outer.push(*e);
        }
    }
    let (points, mut segs, rep) = node_segments(points, inner, eps);
    segs.extend(outer.iter().map(|&[a, b]| [rep[a], rep[b]]));
    compact(&points, &tidy(segs.into_iter()))
}

/// The rounds of noding of `edges` over `points`: returns the points (moved, and extended by
/// the crossings), the noded segments, and the point each original point was merged into.
fn node_segments(mut points: Vec<Coord<f64>>, edges: Vec<[usize; 2]>, eps: f64) -> (Vec<Coord<f64>>, Vec<[usize; 2]>, Vec<usize>) {
    let mut segs = tidy(edges.into_iter());
    let mut merged: Vec<usize> = (0..points.len()).collect();
    for _ in 0..MAX_ROUNDS {
        let rep = merge_close(&points, &segs, eps);
        merged.iter_mut().for_each(|m| *m = rep[*m]);
        segs = tidy(segs.iter().map(|&[a, b]| [rep[a], rep[b]]));
        let (split, crossings) = splits(&points, &segs, &rep, eps);
        if split.iter().all(Vec::is_empty) && crossings.is_empty() {
            break;
        }
        // A vertex numbered after both ends of the segment it nearly touches moves onto that
        // segment (the guides' rings, numbered first, keep their course); otherwise the segment
        // bends to the vertex.
        for (s, list) in split.iter().enumerate() {
            let [a, b] = segs[s];
            for &(t, v) in list {
                if v > a.max(b) {
                    let (p, q) = (points[a], points[b]);
                    points[v] = Coord { x: p.x + t * (q.x - p.x), y: p.y + t * (q.y - p.y) };
                }
            }
        }
        let first_new = points.len();
        points.extend(crossings.iter().map(|c| c.0));
        let mut cuts = split;
        for (k, c) in crossings.iter().enumerate() {
            for &(s, t) in &c.1 {
                cuts[s].push((t, first_new + k));
            }
        }
        let mut next = Vec::with_capacity(segs.len());
        for (s, &[a, b]) in segs.iter().enumerate() {
            let mut stops = std::mem::take(&mut cuts[s]);
            stops.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let mut prev = a;
            for (_, v) in stops {
                next.push([prev, v]);
                prev = v;
            }
            next.push([prev, b]);
        }
        segs = tidy(next.into_iter());
    }
    (points, segs, merged)
}

/// The vertices used by `segs`, in their order, and the segments renumbered.
fn compact(points: &[Coord<f64>], segs: &[[usize; 2]]) -> (Vec<Point2<f64>>, Vec<[usize; 2]>) {
    let mut new_index = vec![usize::MAX; points.len()];
    for &[a, b] in segs {
        new_index[a] = usize::MAX - 1;
        new_index[b] = usize::MAX - 1;
    }
    let mut out = Vec::new();
    for (v, slot) in new_index.iter_mut().enumerate() {
        if *slot == usize::MAX - 1 {
            *slot = out.len();
            out.push(Point2::new(points[v].x, points[v].y));
        }
    }
    let edges = tidy(segs.iter().map(|&[a, b]| [new_index[a], new_index[b]]));
    (out, edges)
}

/// Edges with their ends in order, without duplicates or zero-length ones, sorted.
fn tidy(edges: impl Iterator<Item = [usize; 2]>) -> Vec<[usize; 2]> {
    let mut out: Vec<[usize; 2]> = edges.filter(|e| e[0] != e[1]).map(|[a, b]| if a < b { [a, b] } else { [b, a] }).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The representative of each point: the lowest-numbered point of `segs` within `eps` of it,
/// followed to its own representative (points no segment uses stand for themselves).
fn merge_close(points: &[Coord<f64>], segs: &[[usize; 2]], eps: f64) -> Vec<usize> {
    let mut used: Vec<usize> = segs.iter().flatten().copied().collect();
    used.sort_unstable();
    used.dedup();
    let tree = RTree::bulk_load(used.iter().map(|&i| GeomWithData::new([points[i].x, points[i].y], i)).collect());
    let lowest: Vec<usize> = used.par_iter().map(|&i| tree.locate_within_distance([points[i].x, points[i].y], eps * eps).map(|p| p.data).min().unwrap_or(i)).collect();
    let mut rep: Vec<usize> = (0..points.len()).collect();
    for (&i, &low) in used.iter().zip(&lowest) {
        if low < i {
            rep[i] = rep[low];
        }
    }
    rep
}

/// A crossing point and the (segment, position along it) pairs it splits.
type Crossing = (Coord<f64>, Vec<(usize, f64)>);

/// For each segment, the vertices (representatives only) within `eps` of its interior, as
/// (position along it, vertex); and the proper crossings between segments.
fn splits(points: &[Coord<f64>], segs: &[[usize; 2]], rep: &[usize], eps: f64) -> (Vec<Vec<(f64, usize)>>, Vec<Crossing>) {
    let used: Vec<usize> = {
        let mut u: Vec<usize> = segs.iter().flatten().copied().collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    let vertex_tree = RTree::bulk_load(used.iter().map(|&v| GeomWithData::new([points[v].x, points[v].y], v)).collect());
    let line = |s: usize| Line::new(points[segs[s][0]], points[segs[s][1]]);
    let on_segment: Vec<Vec<(f64, usize)>> = segs
        .par_iter()
        .enumerate()
        .map(|(s, &[a, b])| {
            let l = line(s);
            let env = AABB::from_corners([l.start.x.min(l.end.x) - eps, l.start.y.min(l.end.y) - eps], [l.start.x.max(l.end.x) + eps, l.start.y.max(l.end.y) + eps]);
            let mut found: Vec<(f64, usize)> =
                vertex_tree.locate_in_envelope(&env).map(|v| v.data).filter(|&v| v != a && v != b && rep[v] == v).filter_map(|v| near_interior(l, points[v], eps).map(|t| (t, v))).collect();
            found.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            found
        })
        .collect();
    let seg_tree = RTree::bulk_load(
        (0..segs.len())
            .map(|s| {
                let l = line(s);
                GeomWithData::new(rstar::primitives::Rectangle::from_corners([l.start.x.min(l.end.x), l.start.y.min(l.end.y)], [l.start.x.max(l.end.x), l.start.y.max(l.end.y)]), s)
            })
            .collect(),
    );
    let crossings: Vec<Crossing> = (0..segs.len())
        .into_par_iter()
        .flat_map_iter(|s| {
            let l = line(s);
            let env = AABB::from_corners([l.start.x.min(l.end.x), l.start.y.min(l.end.y)], [l.start.x.max(l.end.x), l.start.y.max(l.end.y)]);
            let mut others: Vec<usize> = seg_tree.locate_in_envelope_intersecting(&env).map(|r| r.data).filter(|&o| o > s).collect();
            others.sort_unstable();
            others.into_iter().filter_map(move |o| {
                if segs[o].iter().any(|v| segs[s].contains(v)) {
                    return None;
                }
                let m = line(o);
                match line_intersection(l, m) {
                    Some(LineIntersection::SinglePoint { intersection, is_proper: true }) => Some((intersection, vec![(s, position(l, intersection)), (o, position(m, intersection))])),
                    _ => None,
                }
            })
        })
        .collect();
    (on_segment, crossings)
}

/// Where `c` projects on `l` (0 at its start, 1 at its end).
fn position(l: Line<f64>, c: Coord<f64>) -> f64 {
    let d = l.delta();
    let len2 = d.x * d.x + d.y * d.y;
    if len2 == 0.0 {
        0.0
    } else {
        ((c.x - l.start.x) * d.x + (c.y - l.start.y) * d.y) / len2
    }
}

/// The position of `c` along `l` when `c` lies within `eps` of its interior (not of its ends).
fn near_interior(l: Line<f64>, c: Coord<f64>, eps: f64) -> Option<f64> {
    let t = position(l, c);
    if t <= 0.0 || t >= 1.0 {
        return None;
    }
    let d = l.delta();
    let foot = Coord { x: l.start.x + t * d.x, y: l.start.y + t * d.y };
    let len = (d.x * d.x + d.y * d.y).sqrt();
    let (to_start, to_end) = (t * len, (1.0 - t) * len);
    (crate::geom::dist(foot, c) <= eps && to_start > eps && to_end > eps).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> Point2<f64> {
        Point2::new(x, y)
    }

    #[test]
    fn crossings_and_near_vertices_become_shared_vertices() {
        // A square's bottom edge; a segment crossing it; a vertex 1e-5 above the edge (a near
        // T-junction); a vertex 1e-5 from a corner (merged into it).
        let vertices = vec![p(0.0, 0.0), p(10.0, 0.0), p(5.0, -5.0), p(5.0, 5.0), p(2.0, 1e-5), p(2.0, 3.0), p(10.0, 1e-5), p(12.0, 4.0)];
        let edges = vec![[0, 1], [2, 3], [4, 5], [6, 7]];
        let (v, e) = node(&vertices, &edges, 1e-3);
        // The bottom edge runs 0 -> (2, 0) -> (5, 0) -> 10; the crossing splits both segments.
        let at = |x: f64, y: f64| v.iter().position(|q| (q.x - x).abs() < 1e-3 && (q.y - y).abs() < 1e-3).unwrap();
        let has = |a: usize, b: usize| e.contains(&[a.min(b), a.max(b)]);
        let (o, near, cross, corner) = (at(0.0, 0.0), at(2.0, 0.0), at(5.0, 0.0), at(10.0, 0.0));
        assert!(has(o, near) && has(near, cross) && has(cross, corner), "{v:?} {e:?}");
        assert!(has(at(5.0, -5.0), cross) && has(cross, at(5.0, 5.0)));
        assert!(has(near, at(2.0, 3.0)));
        assert!(has(corner, at(12.0, 4.0)), "the vertex next to the corner is merged into it");
        assert_eq!(v.len(), 8, "0, 10, (5, ±5), (2, 0), (2, 3), (12, 4) and the crossing: {v:?}");
        // No two segments cross or touch away from their ends any more.
        let (s2, c2) = splits(&v.iter().map(|q| Coord { x: q.x, y: q.y }).collect::<Vec<_>>(), &e, &(0..v.len()).collect::<Vec<_>>(), 1e-3);
        assert!(s2.iter().all(Vec::is_empty) && c2.is_empty());
    }

    #[test]
    fn lines_a_hair_apart_share_their_vertices_and_far_edges_are_kept() {
        // A community boundary along x = 0 and a street along it, 1e-7 off and slightly slanted
        // (a digitised centre line); a footprint square far away.
        let vertices = vec![p(0.0, 0.0), p(0.0, 100.0), p(1e-7, 10.0), p(2e-7, 90.0), p(50.0, 50.0), p(51.0, 50.0), p(51.0, 51.0), p(50.0, 51.0)];
        let edges = vec![[0, 1], [2, 3], [4, 5], [5, 6], [6, 7], [4, 7]];
        let focus = [true, true, false, false, false, false];
        let (v, e) = node_near(&vertices, &edges, &focus, 1e-3);
        let pts: Vec<Coord<f64>> = v.iter().map(|q| Coord { x: q.x, y: q.y }).collect();
        let (s2, c2) = splits(&pts, &e, &(0..v.len()).collect::<Vec<_>>(), 1e-3);
        assert!(s2.iter().all(Vec::is_empty) && c2.is_empty(), "{v:?} {e:?}");
        // The street's ends now lie on the boundary, which runs through them.
        let at = |x: f64, y: f64| v.iter().position(|q| (q.x - x).abs() < 1e-3 && (q.y - y).abs() < 1e-3).unwrap();
        let has = |a: usize, b: usize| e.contains(&[a.min(b), a.max(b)]);
        assert!(has(at(0.0, 0.0), at(0.0, 10.0)) && has(at(0.0, 10.0), at(0.0, 90.0)) && has(at(0.0, 90.0), at(0.0, 100.0)), "{v:?} {e:?}");
        // The square far away is untouched.
        assert!(has(at(50.0, 50.0), at(51.0, 50.0)) && has(at(51.0, 51.0), at(50.0, 51.0)));
        assert_eq!(e.len(), 3 + 4);
    }
}
