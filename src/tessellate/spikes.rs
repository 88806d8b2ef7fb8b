//! Zero-width spikes: a ring that runs out along a line and straight back (left where the
//! triangles of a grid meet a locked polygon's edge at a point) is cut back to where it turned.

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// Removes every vertex where a ring of `mp` turns straight back on itself, until none is left;
/// rings reduced below a triangle are dropped (holes) or kept as they were (exteriors).
pub fn remove_spikes(mp: &mut MultiPolygon<f64>) {
    for p in mp.0.iter_mut() {
        let exterior = despike(p.exterior()).unwrap_or_else(|| p.exterior().clone());
        let holes: Vec<LineString<f64>> = p.interiors().iter().filter_map(despike).collect();
        *p = Polygon::new(exterior, holes);
    }
}

/// The ring without its backtracking vertices; None when fewer than 3 distinct vertices remain.
fn despike(ring: &LineString<f64>) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.0.clone();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts.dedup();
    let mut changed = true;
    while changed && pts.len() >= 3 {
        changed = false;
        let mut i = 0;
        while i < pts.len() && pts.len() >= 3 {
            let n = pts.len();
            let (a, b, c) = (pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n]);
            if turns_back(a, b, c) || b == c {
                pts.remove(i);
                changed = true;
            } else {
                i += 1;
            }
        }
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    Some(LineString(pts))
}

/// True when the path a → b → c runs back along itself at b (collinear, reversing direction).
fn turns_back(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> bool {
    let (u, v) = (b - a, c - b);
    let cross = u.x * v.y - u.y * v.x;
    let dot = u.x * v.x + u.y * v.y;
    let scale = (u.x.hypot(u.y)) * (v.x.hypot(v.y));
    dot < 0.0 && cross.abs() <= 1e-9 * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Area, Validation};

    #[test]
    fn a_spike_back_along_itself_is_cut_and_the_area_kept() {
        // A square with a spike out of its corner (0, 0) along the x axis and back.
        let spiky = polygon![(x: 0.0, y: 0.0), (x: -2.0, y: 0.0), (x: -14.0, y: 0.0), (x: 0.0, y: 0.0), (x: 0.0, y: -10.0), (x: 10.0, y: -10.0), (x: 10.0, y: 0.0)];
        let mut mp = MultiPolygon(vec![spiky.clone()]);
        assert!(!mp.is_valid());
        remove_spikes(&mut mp);
        assert!(mp.is_valid(), "{mp:?}");
        assert_eq!(mp.0[0].exterior().0.len(), 5);
        assert!((mp.unsigned_area() - spiky.unsigned_area()).abs() < 1e-9);
        // A ring without spikes keeps every vertex.
        let square = polygon![(x: 0.0, y: 0.0), (x: 5.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
        let mut mp = MultiPolygon(vec![square.clone()]);
        remove_spikes(&mut mp);
        assert_eq!(mp.0[0], square);
    }
}
