//! Open land: a block without buildings (a park, a square, the strip between two carriageways)
//! goes whole to the neighbouring grid it shares the longest boundary with, instead of being
//! shared out among the cells around it, unless that would cut a grid in two.

use rustc_hash::FxHashMap as HashMap;

use crate::geom::dist;
use crate::graph::{Cells, Mesh, NONE};

/// Relabels every piece of open land (see [`Cells::open_land`]; connected without crossing a
/// street or a barrier) with the label, among those `allowed` for it, that it shares the longest
/// boundary with (ties to the lower label). `allowed(t, l)`: may the piece holding triangle `t`
/// take label `l`. A piece whose move would leave a label in more pieces than before keeps its
/// labels.
pub fn give_open_land(mesh: &Mesh, cells: &Cells, label: &mut [u32], allowed: &dyn Fn(usize, u32) -> bool) {
    give_pieces(mesh, &|t| cells.open_land[t], false, label, allowed);
}

/// Land and water reached only across barriers (a pond kept because an island in it holds no
/// building): each piece, connected across barriers, goes whole to one neighbouring grid.
pub fn give_across_barriers(mesh: &Mesh, cells: &Cells, label: &mut [u32], allowed: &dyn Fn(usize, u32) -> bool) {
    let before: Vec<u32> = label.to_vec();
    give_pieces(mesh, &|t| !cells.walkable[t] && before[t] != NONE, true, label, allowed);
}

/// [`give_open_land`] for the pieces of the triangles `open` marks, connected across barriers
/// when `cross_barriers`. Pieces are taken in order of their lowest triangle; each goes to the
/// first label, by longest shared boundary, whose taking it leaves every label that gives up
/// triangles in no more pieces than before (and not empty).
fn give_pieces(mesh: &Mesh, open: &dyn Fn(usize) -> bool, cross_barriers: bool, label: &mut [u32], allowed: &dyn Fn(usize, u32) -> bool) {
    let (_, pieces) = crate::pieces::pieces(mesh.len(), open, |t, visit| {
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            let crossable = if cross_barriers { !mesh.is_fence(t, i) } else { !mesh.is_barrier(t, i) };
            if nb != NONE && crossable && !mesh.is_street(t, i) && open(nb as usize) {
                visit(nb as usize);
            }
        }
    });
    if pieces.is_empty() {
        return;
    }
    let mut in_piece = vec![u32::MAX; mesh.len()];
    for (k, piece) in pieces.iter().enumerate() {
        piece.iter().for_each(|&t| in_piece[t as usize] = k as u32);
    }
    // The triangles of each label (entries go stale when a triangle moves; counting checks).
    let mut members: HashMap<u32, Vec<u32>> = HashMap::default();
    for (t, &l) in label.iter().enumerate() {
        if l != NONE {
            members.entry(l).or_default().push(t as u32);
        }
    }
    let mut counter = PieceCounter { seen: vec![0; mesh.len()], stamp: 0, stack: Vec::new() };
    for (k, piece) in pieces.iter().enumerate() {
        if !cross_barriers && mean_width(mesh, piece, &in_piece, k as u32) < STRIP_WIDTH_M {
            // A strip (between two carriageways, along a river bank): its cells meet midway.
            continue;
        }
        let mut shared: HashMap<u32, f64> = HashMap::default();
        for &t in piece {
            let t = t as usize;
            for i in 0..3 {
                let nb = mesh.neighbours[t][i];
                if nb == NONE || open(nb as usize) {
                    continue;
                }
                let l = label[nb as usize];
                if l != NONE && allowed(t, l) {
                    let (a, b) = mesh.edge(t, i);
                    *shared.entry(l).or_insert(0.0) += dist(a, b);
                }
            }
        }
        let mut candidates: Vec<(u32, f64)> = shared.into_iter().collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let old: Vec<u32> = piece.iter().map(|&t| label[t as usize]).collect();
        for &(to, _) in &candidates {
            if old.iter().all(|&l| l == to) {
                break;
            }
            if !piece.iter().all(|&t| allowed(t as usize, to)) {
                continue;
            }
            let mut losing: Vec<u32> = old.iter().copied().filter(|&l| l != NONE && l != to).collect();
            losing.sort_unstable();
            losing.dedup();
            let before: Vec<usize> = losing.iter().map(|l| counter.count(mesh, label, &members[l], *l)).collect();
            for &t in piece {
                label[t as usize] = to;
            }
            let keeps = losing.iter().zip(&before).all(|(l, &b)| {
                let after = counter.count(mesh, label, &members[l], *l);
                after >= 1 && after <= b
            });
            if keeps {
                members.entry(to).or_default().extend_from_slice(piece);
                break;
            }
            for (&t, &l) in piece.iter().zip(&old) {
                label[t as usize] = l;
            }
        }
    }
}

/// Counts the edge-connected pieces of one label, reusing its buffers between calls.
struct PieceCounter {
    seen: Vec<u32>,
    stamp: u32,
    stack: Vec<usize>,
}

impl PieceCounter {
    /// The number of pieces of label `l` among the triangles `members` (those still labelled `l`).
    fn count(&mut self, mesh: &Mesh, label: &[u32], members: &[u32], l: u32) -> usize {
        self.stamp += 1;
        let mut pieces = 0;
        for &start in members {
            let start = start as usize;
            if label[start] != l || self.seen[start] == self.stamp {
                continue;
            }
            pieces += 1;
            self.seen[start] = self.stamp;
            self.stack.push(start);
            while let Some(t) = self.stack.pop() {
                for &nb in &mesh.neighbours[t] {
                    if nb != NONE && label[nb as usize] == l && self.seen[nb as usize] != self.stamp {
                        self.seen[nb as usize] = self.stamp;
                        self.stack.push(nb as usize);
                    }
                }
            }
        }
        pieces
    }
}

/// Open land narrower than this on average (m) is a strip, shared out among the cells around it.
const STRIP_WIDTH_M: f64 = 25.0;

/// Mean width of a piece: twice its area over its perimeter (the width of a long strip).
fn mean_width(mesh: &Mesh, piece: &[u32], in_piece: &[u32], k: u32) -> f64 {
    let (mut area, mut perimeter) = (0.0, 0.0);
    for &t in piece {
        let t = t as usize;
        area += mesh.area(t);
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb == NONE || in_piece[nb as usize] != k {
                let (a, b) = mesh.edge(t, i);
                perimeter += dist(a, b);
            }
        }
    }
    2.0 * area / perimeter.max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Coord;

    /// Two rows of rectangles (columns at x = 0, 1, 4, 5, 8, 9 hundred metres; rows 100 m high),
    /// each rectangle two triangles; neighbours found by shared edges.
    fn two_rows() -> Mesh {
        let xs = [0.0, 100.0, 400.0, 500.0, 800.0, 900.0];
        let points: Vec<Coord<f64>> = (0..3).flat_map(|r| xs.iter().map(move |&x| Coord { x, y: 100.0 * r as f64 })).collect();
        let mut triangles = Vec::new();
        for r in 0..2 {
            for j in 0..5 {
                let (a, b, c, d) = (r * 6 + j, r * 6 + j + 1, (r + 1) * 6 + j + 1, (r + 1) * 6 + j);
                triangles.push([a, b, c]);
                triangles.push([a, c, d]);
            }
        }
        let neighbours: Vec<[u32; 3]> = triangles
            .iter()
            .map(|t| {
                let mut n = [NONE; 3];
                for (i, slot) in n.iter_mut().enumerate() {
                    let (p, q) = (t[i], t[(i + 1) % 3]);
                    if let Some(o) = triangles.iter().position(|u| u != t && u.contains(&p) && u.contains(&q)) {
                        *slot = o as u32;
                    }
                }
                n
            })
            .collect();
        let n = triangles.len();
        Mesh { points, triangles, neighbours, barrier_edges: vec![0; n], street_edges: vec![0; n], footprint_owner: vec![NONE; n], ..Default::default() }
    }

    /// Triangles of the rectangle in row `r`, column `j`.
    fn rect(r: usize, j: usize) -> [usize; 2] {
        [2 * (r * 5 + j), 2 * (r * 5 + j) + 1]
    }

    #[test]
    fn a_piece_goes_whole_to_the_longest_neighbour_that_keeps_every_grid_whole() {
        let mesh = two_rows();
        // Top row: grid 0. Bottom row: grid 1 at columns 0 to 3, grid 2 at column 4; columns 1
        // and 3 are open land.
        let mut label = vec![0u32; mesh.len()];
        for j in 0..4 {
            rect(0, j).iter().for_each(|&t| label[t] = 1);
        }
        rect(0, 4).iter().for_each(|&t| label[t] = 2);
        let open: Vec<bool> = (0..mesh.len()).map(|t| rect(0, 1).contains(&t) || rect(0, 3).contains(&t)).collect();
        give_pieces(&mesh, &|t| open[t], false, &mut label, &|_, _| true);
        // Column 1 would go to grid 0 (300 m shared against 200 m), but grid 1 would fall in two:
        // it stays with grid 1. Column 3 goes to grid 0; grid 1 stays whole without it.
        assert!(rect(0, 1).iter().all(|&t| label[t] == 1));
        assert!(rect(0, 3).iter().all(|&t| label[t] == 0));
        // A label it may not take is passed over.
        let mut label2 = vec![0u32; mesh.len()];
        for j in 0..4 {
            rect(0, j).iter().for_each(|&t| label2[t] = 1);
        }
        rect(0, 4).iter().for_each(|&t| label2[t] = 2);
        give_pieces(&mesh, &|t| open[t], false, &mut label2, &|_, l| l != 0);
        assert!(rect(0, 3).iter().all(|&t| label2[t] == 1), "grid 0 is not allowed; grid 1 (100 m) already has it");
    }
}
