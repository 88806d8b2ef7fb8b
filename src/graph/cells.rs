//! Cells: every domain triangle is given to the nearest unit (a building, or buildings tied
//! together) by a multi-source shortest-path sweep that never crosses a barrier; areas cut off
//! from every building (water between barrier banks) are then shared out across the barriers.
//! Each unit's cell is one edge-connected piece of the mesh.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap as HashMap;

use super::mesh::{Mesh, NONE};
use crate::geom::{dist, OrdF64};
use crate::pieces::pieces;

/// Buildings grouped into units and the mesh triangles labelled by unit.
#[derive(Debug, Clone)]
pub struct Cells {
    /// Unit of each building.
    pub unit_of_building: Vec<u32>,
    /// Buildings of each unit, ascending; units are numbered by their lowest building.
    pub unit_buildings: Vec<Vec<u32>>,
    /// Unit owning each triangle, or [`NONE`] for domain parts no building can claim.
    pub unit_of_triangle: Vec<u32>,
    /// True for triangles reached from their unit without crossing a barrier.
    pub walkable: Vec<bool>,
    /// True for open land: triangles of blocks without buildings, reached across streets (not
    /// barriers); the tessellation gives each such block whole to one grid.
    pub open_land: Vec<bool>,
    /// Remarks for the summary (footprint parts given away, unclaimed areas).
    pub warnings: Vec<String>,
    /// Area (m²) of the domain that no building could claim.
    pub unclaimed_area: f64,
}

/// Union-find over building indices.
struct UnionFind(Vec<u32>);

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let p = self.0[x as usize];
            self.0[x as usize] = self.0[p as usize];
            x = p;
        }
        x
    }
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// Groups buildings into units and labels every triangle of `mesh` with its unit.
/// `labels` names buildings in messages.
pub fn build_cells(mesh: &Mesh, n_buildings: usize, labels: &dyn Fn(u32) -> String) -> Cells {
    let mut uf = UnionFind((0..n_buildings as u32).collect());
    for &(a, b) in &mesh.tied {
        uf.union(a, b);
    }
    let mut unit_of_building = vec![NONE; n_buildings];
    let mut unit_buildings: Vec<Vec<u32>> = Vec::new();
    let mut root_unit: HashMap<u32, u32> = HashMap::default();
    for b in 0..n_buildings as u32 {
        let r = uf.find(b);
        let u = *root_unit.entry(r).or_insert_with(|| {
            unit_buildings.push(Vec::new());
            (unit_buildings.len() - 1) as u32
        });
        unit_of_building[b as usize] = u;
        unit_buildings[u as usize].push(b);
    }

    let n = mesh.len();
    let centroids: Vec<_> = (0..n).map(|t| mesh.centroid(t)).collect();
    let mut label = vec![NONE; n];
    let mut dist_to = vec![f64::INFINITY; n];
    let mut heap = BinaryHeap::new();
    let mut seeded = vec![false; n];
    for t in 0..n {
        let b = mesh.footprint_owner[t];
        if b != NONE {
            label[t] = unit_of_building[b as usize];
            dist_to[t] = 0.0;
            seeded[t] = true;
        }
    }
    // Phase 1: never cross a barrier or a street (cells stop at streets).
    sweep_blocks(mesh, &centroids, &mut label, &mut dist_to);
    crate::progress::trace("cells: blocks swept");
    let in_block: Vec<bool> = label.iter().map(|&l| l != NONE).collect();
    // Phase 2: blocks without buildings (parks, squares, the strip between two carriageways)
    // are reached across streets: open land, still walkable.
    push_frontier(mesh, &in_block, &dist_to, &mut heap);
    sweep(mesh, &centroids, &mut heap, &mut label, &mut dist_to, &|t| !in_block[t], Crossing::Streets);
    let walkable: Vec<bool> = label.iter().map(|&l| l != NONE).collect();
    let open_land: Vec<bool> = (0..n).map(|t| walkable[t] && !in_block[t]).collect();
    // Phase 3: areas cut off from every building (e.g. a river between two barrier banks) are
    // shared out from their labelled neighbours, across barriers.
    push_frontier(mesh, &walkable, &dist_to, &mut heap);
    sweep(mesh, &centroids, &mut heap, &mut label, &mut dist_to, &|t| !walkable[t], Crossing::Everything);
    crate::progress::trace("cells: open land swept");

    let mut warnings = Vec::new();
    make_cells_connected(mesh, &mut label, &seeded, &unit_buildings, labels, &mut warnings);
    crate::progress::trace("cells: connected");

    let unclaimed_area: f64 = (0..n).filter(|&t| label[t] == NONE).map(|t| mesh.area(t)).sum();
    if unclaimed_area >= 0.5 {
        warnings.push(format!(
            "{unclaimed_area:.0} m² of the territory hold no building and touch none (a separate part of the territory?): \
             they are left out of every grid"
        ));
    }
    Cells { unit_of_building, unit_buildings, unit_of_triangle: label, walkable, open_land, warnings, unclaimed_area }
}

/// Phase 1 of the sweep, block by block: a block (triangles joined by edges that are neither
/// street nor barrier, either way) is swept on its own, blocks in parallel. The result is that
/// of one sweep over the whole mesh: no path of phase 1 leaves a block, and within a block the
/// triangles are settled in the same order of (distance, triangle).
fn sweep_blocks(mesh: &Mesh, centroids: &[geo::Coord<f64>], label: &mut [u32], dist_to: &mut [f64]) {
    use rayon::prelude::*;
    let n = mesh.len();
    let open = |t: usize, i: usize| mesh.neighbours[t][i] != NONE && !mesh.is_barrier(t, i) && !mesh.is_street(t, i);
    let (_, blocks) = pieces(
        n,
        |_| true,
        |t, visit| {
            for i in 0..3 {
                let nb = mesh.neighbours[t][i];
                if nb == NONE {
                    continue;
                }
                let back = mesh.neighbours[nb as usize].iter().position(|&x| x == t as u32);
                if open(t, i) || back.is_some_and(|j| open(nb as usize, j)) {
                    visit(nb as usize);
                }
            }
        },
    );
    // Position of each triangle in its block.
    let mut slot = vec![0u32; n];
    for members in &blocks {
        for (k, &t) in members.iter().enumerate() {
            slot[t as usize] = k as u32;
        }
    }
    let (label_in, dist_in) = (&*label, &*dist_to);
    let swept: Vec<Option<(Vec<u32>, Vec<f64>)>> = blocks
        .par_iter()
        .map(|members| {
            if members.iter().all(|&t| label_in[t as usize] == NONE) {
                return None;
            }
            let mut lab: Vec<u32> = members.iter().map(|&t| label_in[t as usize]).collect();
            let mut dis: Vec<f64> = members.iter().map(|&t| dist_in[t as usize]).collect();
            let mut heap: BinaryHeap<Reverse<(OrdF64, u32)>> =
                members.iter().filter(|&&t| label_in[t as usize] != NONE).map(|&t| Reverse((OrdF64(dist_in[t as usize]), t))).collect();
            while let Some(Reverse((OrdF64(d), t))) = heap.pop() {
                let (t, k) = (t as usize, slot[t as usize] as usize);
                if d > dis[k] {
                    continue;
                }
                for i in 0..3 {
                    if !open(t, i) {
                        continue;
                    }
                    let nb = mesh.neighbours[t][i] as usize;
                    let kn = slot[nb] as usize;
                    let nd = d + dist(centroids[t], centroids[nb]);
                    if nd < dis[kn] {
                        dis[kn] = nd;
                        lab[kn] = lab[k];
                        heap.push(Reverse((OrdF64(nd), nb as u32)));
                    }
                }
            }
            Some((lab, dis))
        })
        .collect();
    for (members, result) in blocks.iter().zip(swept) {
        if let Some((lab, dis)) = result {
            for ((&t, l), d) in members.iter().zip(lab).zip(dis) {
                label[t as usize] = l;
                dist_to[t as usize] = d;
            }
        }
    }
}

/// Pushes the triangles of `reached` that border an unreached one, at their distance.
fn push_frontier(mesh: &Mesh, reached: &[bool], dist_to: &[f64], heap: &mut BinaryHeap<Reverse<(OrdF64, u32)>>) {
    for t in 0..mesh.len() {
        if reached[t] && mesh.neighbours[t].iter().any(|&nb| nb != NONE && !reached[nb as usize]) {
            heap.push(Reverse((OrdF64(dist_to[t]), t as u32)));
        }
    }
}

/// Which edges a sweep may cross.
#[derive(Clone, Copy, PartialEq)]
enum Crossing {
    /// Streets, not barriers.
    Streets,
    /// Streets and barriers.
    Everything,
}

/// Multi-source Dijkstra over triangle centroids. `may_enter(t)` filters the triangles that may
/// be relabelled; `crossing` says which constraint edges may be crossed.
fn sweep(
    mesh: &Mesh,
    centroids: &[geo::Coord<f64>],
    heap: &mut BinaryHeap<Reverse<(OrdF64, u32)>>,
    label: &mut [u32],
    dist_to: &mut [f64],
    may_enter: &dyn Fn(usize) -> bool,
    crossing: Crossing,
) {
    while let Some(Reverse((OrdF64(d), t))) = heap.pop() {
        let t = t as usize;
        if d > dist_to[t] {
            continue;
        }
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            let blocked = match crossing {
                Crossing::Streets => mesh.is_barrier(t, i),
                Crossing::Everything => mesh.is_fence(t, i),
            };
            if nb == NONE || blocked {
                continue;
            }
            let nb = nb as usize;
            if !may_enter(nb) {
                continue;
            }
            let nd = d + dist(centroids[t], centroids[nb]);
            if nd < dist_to[nb] {
                dist_to[nb] = nd;
                label[nb] = label[t];
                heap.push(Reverse((OrdF64(nd), nb as u32)));
            }
        }
    }
}

/// Gives every piece of a cell that is cut off from the cell's main piece to the neighbouring
/// cell it shares the longest boundary with, until every cell is one piece.
pub(crate) fn make_cells_connected(
    mesh: &Mesh,
    label: &mut [u32],
    seeded: &[bool],
    unit_buildings: &[Vec<u32>],
    labels: &dyn Fn(u32) -> String,
    warnings: &mut Vec<String>,
) {
    for _round in 0..8 {
        // Pieces of the cells in more than one piece (cells are searched in parallel), in the
        // order of their lowest triangle: (label, triangles, seeded area).
        let pieces = split_cells(mesh, label, seeded);
        if pieces.is_empty() {
            return;
        }
        // Main piece of each label: most seeded area, then most triangles, then first found.
        let mut main: HashMap<u32, u32> = HashMap::default();
        for (id, (l, members, sa)) in pieces.iter().enumerate() {
            let better = match main.get(l) {
                None => true,
                Some(&m) => {
                    let (_, mm, msa) = &pieces[m as usize];
                    (*sa, members.len()) > (*msa, mm.len())
                }
            };
            if better {
                main.insert(*l, id as u32);
            }
        }
        // Triangles outside every main piece (they may change label).
        let mut stray = vec![false; mesh.len()];
        for (id, (l, members, _)) in pieces.iter().enumerate() {
            if main[l] != id as u32 {
                for &t in members {
                    stray[t as usize] = true;
                }
            }
        }
        let mut changed = false;
        for (id, (l, members, sa)) in pieces.iter().enumerate() {
            if main[l] == id as u32 {
                continue;
            }
            // Longest shared boundary with another label's main piece.
            let mut shared: HashMap<u32, f64> = HashMap::default();
            for &t in members {
                let t = t as usize;
                for i in 0..3 {
                    let nb = mesh.neighbours[t][i];
                    if nb == NONE || mesh.is_fence(t, i) {
                        continue;
                    }
                    let nl = label[nb as usize];
                    if nl != NONE && nl != *l && !stray[nb as usize] {
                        let (a, b) = mesh.edge(t, i);
                        *shared.entry(nl).or_insert(0.0) += dist(a, b);
                    }
                }
            }
            let Some((&to, _)) = shared.iter().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0))) else { continue };
            if *sa > 0.0 {
                let from_b = labels(unit_buildings[*l as usize][0]);
                let to_b = labels(unit_buildings[to as usize][0]);
                warnings.push(format!(
                    "building {from_b}: a separate part of its footprint ({sa:.0} m²) lies in the cell of building {to_b}"
                ));
            }
            for &t in members {
                label[t as usize] = to;
            }
            changed = true;
        }
        if !changed {
            return;
        }
    }
}

/// The pieces (triangles of one label joined through edges) of every label in more than one
/// piece, in the order of their lowest triangle, each with its triangles in breadth-first order
/// from the lowest and its seeded area.
fn split_cells(mesh: &Mesh, label: &[u32], seeded: &[bool]) -> Vec<(u32, Vec<u32>, f64)> {
    use rayon::prelude::*;
    // Triangles of each label, ascending (a counting sort).
    let n_labels = label.iter().filter(|&&l| l != NONE).map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut start = vec![0u32; n_labels + 1];
    for &l in label {
        if l != NONE {
            start[l as usize + 1] += 1;
        }
    }
    for i in 0..n_labels {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut of_label = vec![0u32; start[n_labels] as usize];
    for (t, &l) in label.iter().enumerate() {
        if l != NONE {
            of_label[fill[l as usize] as usize] = t as u32;
            fill[l as usize] += 1;
        }
    }
    let mut split: Vec<(u32, Vec<u32>, f64)> = (0..n_labels)
        .into_par_iter()
        .with_min_len(256)
        .flat_map_iter(|l| {
            let own = &of_label[start[l] as usize..start[l + 1] as usize];
            let mut seen = vec![false; own.len()];
            let mut found: Vec<(u32, Vec<u32>, f64)> = Vec::new();
            for first in 0..own.len() {
                if seen[first] {
                    continue;
                }
                seen[first] = true;
                let mut members = vec![own[first]];
                let mut k = 0;
                while k < members.len() {
                    let t = members[k] as usize;
                    k += 1;
                    for &nb in &mesh.neighbours[t] {
                        if nb != NONE && label[nb as usize] == l as u32 {
                            if let Ok(j) = own.binary_search(&nb) {
                                if !seen[j] {
                                    seen[j] = true;
                                    members.push(nb);
                                }
                            }
                        }
                    }
                }
                let seeded_area = members.iter().filter(|&&t| seeded[t as usize]).map(|&t| mesh.area(t as usize)).sum();
                found.push((l as u32, members, seeded_area));
                if found.len() == 1 && found[0].1.len() == own.len() {
                    return Vec::new().into_iter();
                }
            }
            found.into_iter()
        })
        .collect();
    split.sort_by_key(|(_, members, _)| members[0]);
    split
}
