//! Open land: a block without buildings (a park, a square, the strip between two carriageways)
//! goes whole to the neighbouring grid it shares the longest boundary with, instead of being
//! shared out among the cells around it, unless that would cut a grid in two.

use std::collections::HashMap;

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
/// when `cross_barriers`.
fn give_pieces(mesh: &Mesh, open: &dyn Fn(usize) -> bool, cross_barriers: bool, label: &mut [u32], allowed: &dyn Fn(usize, u32) -> bool) {
    let (_, pieces) = crate::pieces::pieces(mesh.len(), open, |t, visit| {
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb != NONE && (cross_barriers || !mesh.is_barrier(t, i)) && !mesh.is_street(t, i) && open(nb as usize) {
                visit(nb as usize);
            }
        }
    });
    if pieces.is_empty() {
        return;
    }
    let before = label.to_vec();
    let pieces_before = pieces_per_label(mesh, &before);
    let mut moved: Vec<usize> = Vec::new();
    let mut in_piece = vec![u32::MAX; mesh.len()];
    for (k, piece) in pieces.iter().enumerate() {
        piece.iter().for_each(|&t| in_piece[t as usize] = k as u32);
    }
    for (k, piece) in pieces.iter().enumerate() {
        if !cross_barriers && mean_width(mesh, piece, &in_piece, k as u32) < STRIP_WIDTH_M {
            // A strip (between two carriageways, along a river bank): its cells meet midway.
            continue;
        }
        let mut shared: HashMap<u32, f64> = HashMap::new();
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
        let Some((&to, _)) = shared.iter().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0))) else { continue };
        if piece.iter().all(|&t| label[t as usize] == to) {
            continue;
        }
        for &t in piece {
            label[t as usize] = to;
        }
        moved.push(k);
    }
    // Undo the moves that cut a label into more pieces, until none does.
    for _ in 0..4 {
        let now = pieces_per_label(mesh, label);
        let worse: Vec<u32> = now.iter().filter(|(l, &c)| c > pieces_before.get(l).copied().unwrap_or(0)).map(|(&l, _)| l).collect();
        if worse.is_empty() {
            return;
        }
        let mut undone = false;
        moved.retain(|&k| {
            let piece = &pieces[k];
            let involved = piece.iter().any(|&t| worse.contains(&before[t as usize]) || worse.contains(&label[t as usize]));
            if involved {
                for &t in piece {
                    label[t as usize] = before[t as usize];
                }
                undone = true;
            }
            !involved
        });
        if !undone {
            return;
        }
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

/// The number of edge-connected pieces of each label.
fn pieces_per_label(mesh: &Mesh, label: &[u32]) -> HashMap<u32, usize> {
    let (_, pieces) = crate::pieces::pieces(mesh.len(), |t| label[t] != NONE, |t, visit| {
        for &nb in &mesh.neighbours[t] {
            if nb != NONE && label[nb as usize] == label[t] {
                visit(nb as usize);
            }
        }
    });
    let mut count = HashMap::new();
    for p in &pieces {
        *count.entry(label[p[0] as usize]).or_insert(0) += 1;
    }
    count
}
