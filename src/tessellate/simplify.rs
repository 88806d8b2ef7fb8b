//! Topology-preserving simplification of the shared grid boundaries: the boundary between two
//! grids is cut into arcs at every junction (a vertex where three grids meet, or the outer
//! boundary, or a footprint corner), and each arc is simplified once (Douglas–Peucker) as a list
//! of mesh vertices to keep. Both grids along an arc drop the same vertices, so they still share
//! their boundary exactly: no gap, no overlap.

use rayon::prelude::*;

use geo::Coord;

use crate::graph::{Mesh, NONE};

/// Which mesh vertices the traced rings keep (all, when `tolerance` is 0): the vertices of every
/// arc between two grids that Douglas–Peucker keeps at `tolerance` metres. Arcs along a grid for
/// which `frozen` holds (a locked grid) keep every vertex, as do footprint corners and the outer
/// boundary.
pub fn kept_vertices(mesh: &Mesh, grid_of_triangle: &[u32], tolerance: f64, frozen: &dyn Fn(u32) -> bool) -> Vec<bool> {
    let mut keep = vec![true; mesh.points.len()];
    if tolerance <= 0.0 {
        return keep;
    }
    // Undirected boundary edges (lower vertex first) with the grids on their two sides (NONE
    // outside), each once.
    let mut corner = vec![false; mesh.points.len()];
    let mut sides: Vec<(u32, u32, (u32, u32))> = Vec::new();
    for t in 0..mesh.len() {
        let g = grid_of_triangle[t];
        let tri = mesh.triangles[t];
        if mesh.footprint_owner[t] != NONE {
            tri.iter().for_each(|&v| corner[v as usize] = true);
        }
        if g == NONE {
            continue;
        }
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            let other = if nb == NONE { NONE } else { grid_of_triangle[nb as usize] };
            if other == g {
                continue;
            }
            let (a, b) = (tri[i], tri[(i + 1) % 3]);
            sides.push((a.min(b), a.max(b), (g.min(other), g.max(other))));
        }
    }
    sides.par_sort_unstable();
    sides.dedup_by_key(|e| (e.0, e.1));
    // Vertices next to a footprint stay too, so that no simplified arc cuts a footprint's corner.
    let near_footprint: Vec<bool> = corner.clone();
    for tri in &mesh.triangles {
        if tri.iter().any(|&v| near_footprint[v as usize]) {
            tri.iter().for_each(|&v| corner[v as usize] = true);
        }
    }
    // Boundary edges at each vertex, as (other end, grids, edge), sorted (compressed rows).
    let mut at_entries: Vec<(u32, u32, (u32, u32), u32)> = Vec::with_capacity(2 * sides.len());
    for (e, &(a, b, pair)) in sides.iter().enumerate() {
        at_entries.push((a, b, pair, e as u32));
        at_entries.push((b, a, pair, e as u32));
    }
    at_entries.par_sort_unstable();
    let mut offsets = vec![0u32; mesh.points.len() + 1];
    for &(v, ..) in &at_entries {
        offsets[v as usize + 1] += 1;
    }
    for v in 0..mesh.points.len() {
        offsets[v + 1] += offsets[v];
    }
    let at = |v: u32| &at_entries[offsets[v as usize] as usize..offsets[v as usize + 1] as usize];
    let on_boundary: Vec<u32> = (0..mesh.points.len() as u32).filter(|&v| offsets[v as usize] < offsets[v as usize + 1]).collect();
    let shared = |pair: (u32, u32)| pair.0 != NONE && pair.1 != NONE && !frozen(pair.0) && !frozen(pair.1);
    // A vertex inside an arc: two boundary edges between the same two grids, not a corner.
    let inner = |v: u32| -> bool {
        let list = at(v);
        list.len() == 2 && list[0].2 == list[1].2 && shared(list[0].2) && !corner[v as usize]
    };
    let mut visited = vec![false; sides.len()];
    let walk = |start: u32, keep: &mut Vec<bool>, visited: &mut Vec<bool>| {
        for &(_, next, pair, edge) in at(start) {
            if !shared(pair) || visited[edge as usize] {
                continue;
            }
            let mut arc = vec![start];
            let (mut prev, mut cur) = (start, next);
            visited[edge as usize] = true;
            arc.push(cur);
            while cur != start && inner(cur) {
                let list = at(cur);
                let (nxt, edge) = if list[0].1 == prev { (list[1].1, list[1].3) } else { (list[0].1, list[0].3) };
                visited[edge as usize] = true;
                prev = cur;
                cur = nxt;
                arc.push(cur);
            }
            simplify_arc(&mesh.points, &arc, tolerance, keep);
        }
    };
    for &s in on_boundary.iter().filter(|&&v| !inner(v)) {
        walk(s, &mut keep, &mut visited);
    }
    // Closed arcs without a junction (a grid inside another): start at their lowest vertex.
    for &v in on_boundary.iter().filter(|&&v| inner(v)) {
        if at(v).iter().any(|&(.., edge)| !visited[edge as usize]) {
            walk(v, &mut keep, &mut visited);
        }
    }
    keep
}

/// Douglas–Peucker on `arc` (vertex indices, ends kept): clears `keep` of the vertices it drops.
fn simplify_arc(points: &[Coord<f64>], arc: &[u32], tolerance: f64, keep: &mut [bool]) {
    if arc.len() < 3 {
        return;
    }
    let closed = arc[0] == arc[arc.len() - 1];
    let mut retained = vec![false; arc.len()];
    retained[0] = true;
    retained[arc.len() - 1] = true;
    let mut stack = vec![(0usize, arc.len() - 1)];
    if closed {
        // A ring: keep its farthest vertex from the start too, and simplify both halves.
        let p0 = points[arc[0] as usize];
        let far = (1..arc.len() - 1).max_by(|&a, &b| sq(points[arc[a] as usize], p0).total_cmp(&sq(points[arc[b] as usize], p0))).unwrap_or(1);
        retained[far] = true;
        stack = vec![(0, far), (far, arc.len() - 1)];
    }
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (pa, pb) = (points[arc[a] as usize], points[arc[b] as usize]);
        let mut best = (0.0, a);
        for (k, &v) in arc.iter().enumerate().take(b).skip(a + 1) {
            let d = segment_distance(points[v as usize], pa, pb);
            if d > best.0 {
                best = (d, k);
            }
        }
        if best.0 > tolerance {
            retained[best.1] = true;
            stack.push((a, best.1));
            stack.push((best.1, b));
        }
    }
    for (k, &v) in arc.iter().enumerate() {
        if !retained[k] {
            keep[v as usize] = false;
        }
    }
}

fn sq(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).powi(2) + (a.y - b.y).powi(2)
}

/// Distance from `p` to segment `a`–`b`.
fn segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    sq(p, Coord { x: a.x + t * dx, y: a.y + t * dy }).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn douglas_peucker_drops_vertices_within_the_tolerance_only() {
        let points = vec![
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 1.0, y: 0.3 },
            Coord { x: 2.0, y: -0.2 },
            Coord { x: 3.0, y: 5.0 },
            Coord { x: 4.0, y: 0.0 },
        ];
        let mut keep = vec![true; 5];
        simplify_arc(&points, &[0, 1, 2, 3, 4], 1.0, &mut keep);
        assert_eq!(keep, vec![true, false, true, true, true]);
    }
}
