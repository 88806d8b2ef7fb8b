//! Cells midway between buildings: every open triangle whose corners are nearer to different
//! units' footprints is cut where the two footprints are equally near, so cell boundaries run
//! midway between footprints (a Voronoi diagram of the footprints, limited by barriers and
//! streets) instead of along whole triangles.
//!
//! Each corner of a triangle takes, of the units whose cells meet at that vertex on its side of
//! every barrier and street, the one whose footprint is nearest. An edge whose ends take
//! different units is cut at the point where the two distances are equal (regula falsi on the
//! exact distances); the triangle is then cut into pieces of one unit each. Neighbouring
//! triangles cut their shared edge at the same new vertex, so the refined mesh is conforming
//! and the grids traced from it still tile with no gap and no overlap.


use geo::{Coord, Distance, Euclidean, Point, Polygon};
use rayon::prelude::*;

use super::cells::{make_cells_connected, Cells};
use super::mesh::{footprint_polygons, Mesh, NONE};
use crate::model::Building;

/// Cut points closer than this fraction of the edge to an end are moved to this fraction, so
/// that no piece degenerates.
const END_MARGIN: f64 = 1e-3;
/// Regula-falsi steps per cut edge.
const STEPS: usize = 2;

/// A corner of a triangle: `3 * triangle + corner`.
type Corner = usize;

/// Refines `mesh` and `cells` so that cells meet midway between footprints. `frozen(t, i)` marks
/// edges that must not be cut (guide rings of locked grids); barrier and street edges are never
/// cut. `labels` names buildings in messages.
pub fn split_at_midlines(coarse: Mesh, cells: Cells, buildings: &[Building], frozen: &(dyn Fn(&Mesh, usize, usize) -> bool + Sync), labels: &dyn Fn(u32) -> String) -> (Mesh, Cells) {
    let mesh = &coarse;
    let fixed = |t: usize, i: usize| mesh.is_barrier(t, i) || mesh.is_street(t, i) || frozen(mesh, t, i);
    let label = &cells.unit_of_triangle;
    let open = |t: usize| mesh.footprint_owner[t] == NONE && label[t] != NONE;
    let footprints = UnitFootprints::new(&cells, buildings);
    let corner_unit = corner_units(mesh, label, &fixed, &footprints);
    crate::progress::trace("midlines: corner units");

    // Cut points of edges: made by the first triangle (in index order) along the edge that
    // cuts it, and found by the other through its neighbour's matching edge. The points are
    // computed in parallel and numbered in the order of their edges.
    let wants_cut = |t: usize, i: usize| -> Option<(u32, u32)> {
        let (ua, ub) = (corner_unit[3 * t + i], corner_unit[3 * t + (i + 1) % 3]);
        let nb = mesh.neighbours[t][i];
        let skip = ua == ub || ua == NONE || ub == NONE || fixed(t, i) || (nb != NONE && !open(nb as usize));
        (!skip).then_some((ua, ub))
    };
    let twin = |t: usize, i: usize| -> Option<(usize, usize)> {
        let nb = mesh.neighbours[t][i];
        if nb == NONE || nb as usize >= t {
            return None;
        }
        let nb = nb as usize;
        let (va, vb) = (mesh.triangles[t][i], mesh.triangles[t][(i + 1) % 3]);
        (0..3).find(|&j| mesh.triangles[nb][j] == vb && mesh.triangles[nb][(j + 1) % 3] == va).map(|j| (nb, j))
    };
    let mut cuts: Vec<[u32; 3]> = vec![[NONE; 3]; mesh.len()];
    // Edges whose point a triangle makes: those whose earlier twin does not cut them.
    let made: Vec<(u32, u8, u32, u32)> = (0..mesh.len())
        .into_par_iter()
        .with_min_len(1 << 12)
        .flat_map_iter(|t| {
            let own = open(t);
            (0..3).filter_map(move |i| {
                let (ua, ub) = if own { wants_cut(t, i)? } else { return None };
                let earlier = twin(t, i).is_some_and(|(nb, j)| open(nb) && wants_cut(nb, j).is_some());
                (!earlier).then_some((t as u32, i as u8, ua, ub))
            })
        })
        .collect();
    let made_points: Vec<Coord<f64>> = made
        .par_iter()
        .with_min_len(1 << 10)
        .map(|&(t, i, ua, ub)| {
            let (t, i) = (t as usize, i as usize);
            // From the end with the lower coordinates, so that the point does not depend on
            // how the vertices happen to be numbered.
            let (pa, pb) = mesh.edge(t, i);
            if (pa.x, pa.y) <= (pb.x, pb.y) {
                cut_point(&footprints, pa, pb, ua, ub)
            } else {
                cut_point(&footprints, pb, pa, ub, ua)
            }
        })
        .collect();
    drop(footprints);
    let mut points = mesh.points.clone();
    for (&(t, i, _, _), p) in made.iter().zip(made_points) {
        cuts[t as usize][i as usize] = points.len() as u32;
        points.push(p);
    }
    drop(made);
    for t in 0..mesh.len() {
        if !open(t) {
            continue;
        }
        for i in 0..3 {
            if cuts[t][i] == NONE && wants_cut(t, i).is_some() {
                if let Some((nb, j)) = twin(t, i) {
                    cuts[t][i] = cuts[nb][j];
                }
            }
        }
    }
    crate::progress::trace("midlines: cut points");
    let mut out = Refined::default();
    for t in 0..mesh.len() {
        let pieces = if open(t) { pieces_of(mesh, t, label[t], &corner_unit, &cuts[t], &mut points) } else { Vec::new() };
        if pieces.is_empty() {
            out.push(t, mesh.triangles[t], [Some(0), Some(1), Some(2)], label[t]);
        } else {
            for (tri, on_edge, unit) in pieces {
                out.push(t, tri, on_edge, unit);
            }
        }
    }
    crate::progress::trace("midlines: pieces");
    drop((cuts, corner_unit));
    out.finish(coarse, cells, points, labels)
}

/// The footprint polygons of each unit, for exact distances.
struct UnitFootprints(Vec<Vec<Polygon<f64>>>);

impl UnitFootprints {
    fn new(cells: &Cells, buildings: &[Building]) -> UnitFootprints {
        UnitFootprints(cells.unit_buildings.iter().map(|bs| bs.iter().flat_map(|&b| footprint_polygons(&buildings[b as usize])).collect()).collect())
    }

    /// Distance from `p` to the footprint of unit `u` (0 inside).
    fn distance(&self, u: u32, p: Coord<f64>) -> f64 {
        let pt = Point(p);
        self.0[u as usize].iter().map(|poly| Euclidean.distance(&pt, poly)).fold(f64::INFINITY, f64::min)
    }
}

/// The unit of every corner: the nearest, by footprint distance, of the units whose triangles
/// meet at the corner's vertex without crossing a fixed edge (ties to the lower unit).
fn corner_units(mesh: &Mesh, label: &[u32], fixed: &(dyn Fn(usize, usize) -> bool + Sync), footprints: &UnitFootprints) -> Vec<u32> {
    let n = mesh.len();
    let mut parent: Vec<u32> = (0..3 * n as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let p = parent[x as usize];
            parent[x as usize] = parent[p as usize];
            x = p;
        }
        x
    }
    let mut union = |a: Corner, b: Corner| {
        let (ra, rb) = (find(&mut parent, a as u32), find(&mut parent, b as u32));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    };
    for t in 0..n {
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb == NONE || (nb as usize) < t || fixed(t, i) {
                continue;
            }
            let nb = nb as usize;
            let (va, vb) = (mesh.triangles[t][i], mesh.triangles[t][(i + 1) % 3]);
            let Some(j) = (0..3).find(|&j| mesh.triangles[nb][j] == vb && mesh.triangles[nb][(j + 1) % 3] == va) else { continue };
            union(3 * t + i, 3 * nb + (j + 1) % 3);
            union(3 * t + (i + 1) % 3, 3 * nb + j);
        }
    }
    // Groups of corners (all at one vertex), numbered densely: a group's root is its lowest
    // corner, so it is met first.
    let mut group = vec![NONE; 3 * n];
    let mut groups = 0u32;
    for c in 0..3 * n {
        let root = find(&mut parent, c as u32) as usize;
        if root == c {
            group[c] = groups;
            groups += 1;
        } else {
            group[c] = group[root];
        }
    }
    drop(parent);
    // The candidate units of each group: the first one met, and whether there are others.
    let mut first = vec![NONE; groups as usize];
    let mut several = vec![false; groups as usize];
    for c in 0..3 * n {
        let (l, g) = (label[c / 3], group[c] as usize);
        if l == NONE {
            continue;
        }
        if first[g] == NONE {
            first[g] = l;
        } else if first[g] != l {
            several[g] = true;
        }
    }
    // Of several candidates, the nearest (ties to the lower unit): each (group, unit) pair once,
    // measured in parallel.
    let mut pairs: Vec<(u32, u32, u32)> = (0..3 * n)
        .filter_map(|c| {
            let (l, g) = (label[c / 3], group[c]);
            (l != NONE && several[g as usize]).then(|| (g, l, mesh.triangles[c / 3][c % 3]))
        })
        .collect();
    pairs.par_sort_unstable_by_key(|&(g, l, _)| (g, l));
    pairs.dedup_by_key(|&mut (g, l, _)| (g, l));
    let measured: Vec<f64> = pairs.par_iter().with_min_len(1 << 10).map(|&(_, l, v)| footprints.distance(l, mesh.points[v as usize])).collect();
    let mut nearest = vec![(f64::INFINITY, NONE); groups as usize];
    for (&(g, l, _), &d) in pairs.iter().zip(&measured) {
        let best = &mut nearest[g as usize];
        if d < best.0 || (d == best.0 && l < best.1) {
            *best = (d, l);
        }
    }
    (0..3 * n)
        .map(|c| {
            let g = group[c] as usize;
            if several[g] {
                nearest[g].1
            } else {
                first[g]
            }
        })
        .collect()
}

/// The point of segment `a`–`b` equally near to the footprints of `ua` (nearer at `a`) and `ub`.
fn cut_point(footprints: &UnitFootprints, a: Coord<f64>, b: Coord<f64>, ua: u32, ub: u32) -> Coord<f64> {
    let f = |s: f64| {
        let p = Coord { x: a.x + s * (b.x - a.x), y: a.y + s * (b.y - a.y) };
        footprints.distance(ua, p) - footprints.distance(ub, p)
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    let (mut flo, mut fhi) = (f(0.0), f(1.0));
    let mut s = 0.5;
    if flo <= 0.0 && fhi >= 0.0 && flo < fhi {
        for step in 0..=STEPS {
            s = lo + flo * (hi - lo) / (flo - fhi);
            if step == STEPS {
                break;
            }
            let fs = f(s);
            if fs < 0.0 {
                (lo, flo) = (s, fs);
            } else if fs > 0.0 {
                (hi, fhi) = (s, fs);
            } else {
                break;
            }
        }
    }
    let s = s.clamp(END_MARGIN, 1.0 - END_MARGIN);
    Coord { x: a.x + s * (b.x - a.x), y: a.y + s * (b.y - a.y) }
}

/// A piece of a cut triangle: its vertices (counter-clockwise), the original edge each of its
/// edges lies on (None: inside the triangle), and its unit.
type Piece = ([u32; 3], [Option<u8>; 3], u32);

/// The pieces of open triangle `t` (empty when it stays whole with its own unit).
fn pieces_of(mesh: &Mesh, t: usize, cell: u32, corner_unit: &[u32], cut: &[u32; 3], points: &mut Vec<Coord<f64>>) -> Vec<Piece> {
    let tri = mesh.triangles[t];
    let own = |i: usize| corner_unit[3 * t + i];
    let n_cuts = cut.iter().filter(|&&c| c != NONE).count();
    if n_cuts == 0 {
        let u = own(0);
        if own(1) == u && own(2) == u {
            // Whole, perhaps with another unit than its cell's.
            return vec![(tri, [Some(0), Some(1), Some(2)], u)];
        }
        return Vec::new();
    }
    // Two cuts and an uncut edge whose ends agree: three triangles.
    if n_cuts == 2 {
        let i = (0..3).find(|&i| cut[i] == NONE).unwrap_or(0);
        let (j, k) = ((i + 1) % 3, (i + 2) % 3);
        if own(i) == own(j) {
            let (a, b, c) = (tri[i], tri[j], tri[k]);
            let (p, q) = (cut[j], cut[k]); // p on b–c, q on c–a
            return vec![
                ([a, b, p], [Some(i as u8), Some(j as u8), None], own(i)),
                ([a, p, q], [None, None, Some(k as u8)], own(i)),
                ([q, p, c], [None, Some(j as u8), Some(k as u8)], own(k)),
            ];
        }
    }
    // General case: a fan from a middle point, each boundary segment giving its unit.
    let mut cut_points: Vec<Coord<f64>> = cut.iter().filter(|&&c| c != NONE).map(|&c| points[c as usize]).collect();
    cut_points.sort_by(|a, b| (a.x, a.y).partial_cmp(&(b.x, b.y)).unwrap_or(std::cmp::Ordering::Equal));
    let middle = if cut_points.len() >= 2 {
        let k = cut_points.len() as f64;
        Coord { x: cut_points.iter().map(|c| c.x).sum::<f64>() / k, y: cut_points.iter().map(|c| c.y).sum::<f64>() / k }
    } else {
        mesh.centroid(t)
    };
    points.push(middle);
    let m = (points.len() - 1) as u32;
    let mut out = Vec::with_capacity(6);
    for i in 0..3 {
        let j = (i + 1) % 3;
        let e = Some(i as u8);
        if cut[i] == NONE {
            // An uncut edge with ends of two units (a fixed edge): the cell's unit when it is
            // one of them, else the lower.
            let u = if own(i) == own(j) || own(i) == cell { own(i) } else if own(j) == cell { own(j) } else { own(i).min(own(j)) };
            out.push(([m, tri[i], tri[j]], [None, e, None], u));
        } else {
            out.push(([m, tri[i], cut[i]], [None, e, None], own(i)));
            out.push(([m, cut[i], tri[j]], [None, e, None], own(j)));
        }
    }
    out
}

/// The refined mesh as it is built: triangles, their parent and which parent edge each edge is on.
#[derive(Default)]
struct Refined {
    triangles: Vec<[u32; 3]>,
    parent: Vec<u32>,
    on_edge: Vec<[Option<u8>; 3]>,
    unit: Vec<u32>,
}

impl Refined {
    fn push(&mut self, parent: usize, tri: [u32; 3], on_edge: [Option<u8>; 3], unit: u32) {
        self.triangles.push(tri);
        self.parent.push(parent as u32);
        self.on_edge.push(on_edge);
        self.unit.push(unit);
    }

    /// The mesh and cells of the refined triangles: neighbours matched by their shared edges,
    /// edge bits inherited from the parent edge, cells made connected again.
    fn finish(self, coarse: Mesh, cells: Cells, points: Vec<Coord<f64>>, labels: &dyn Fn(u32) -> String) -> (Mesh, Cells) {
        let mesh = &coarse;
        let n = self.triangles.len();
        // The pieces of each parent triangle are consecutive.
        let mut first_piece = vec![0u32; mesh.len() + 1];
        for &p in &self.parent {
            first_piece[p as usize + 1] += 1;
        }
        for p in 0..mesh.len() {
            first_piece[p + 1] += first_piece[p];
        }
        let pieces = |p: usize| first_piece[p] as usize..first_piece[p + 1] as usize;
        // The piece holding edge a → b among the pieces of parent `p` (the last one, as a map
        // from edges would keep).
        let holding = |p: usize, a: u32, b: u32| -> u32 {
            pieces(p).rev().find(|&r| (0..3).any(|j| self.triangles[r][j] == a && self.triangles[r][(j + 1) % 3] == b)).map_or(NONE, |r| r as u32)
        };
        let mut neighbours = Vec::with_capacity(n);
        let mut barrier_edges = Vec::with_capacity(n);
        let mut street_edges = Vec::with_capacity(n);
        let mut fence_edges = Vec::new();
        let mut footprint_owner = Vec::with_capacity(n);
        for (t, tri) in self.triangles.iter().enumerate() {
            let p = self.parent[t] as usize;
            let mut nb = [NONE; 3];
            let (mut bar, mut street, mut fence) = (0u8, 0u8, 0u8);
            for i in 0..3 {
                // Across a parent edge: a piece of the parent's neighbour; inside: a sibling.
                let across = match self.on_edge[t][i] {
                    Some(e) => mesh.neighbours[p][e as usize],
                    None => p as u32,
                };
                nb[i] = if across == NONE { NONE } else { holding(across as usize, tri[(i + 1) % 3], tri[i]) };
                if let Some(e) = self.on_edge[t][i] {
                    if mesh.is_barrier(p, e as usize) {
                        bar |= 1 << i;
                    }
                    if mesh.is_street(p, e as usize) {
                        street |= 1 << i;
                    }
                    if mesh.is_fence(p, e as usize) {
                        fence |= 1 << i;
                    }
                }
            }
            neighbours.push(nb);
            barrier_edges.push(bar);
            street_edges.push(street);
            if !mesh.fence_edges.is_empty() {
                fence_edges.push(fence);
            }
            footprint_owner.push(mesh.footprint_owner[p]);
        }
        let refined = Mesh {
            points,
            triangles: self.triangles,
            neighbours,
            barrier_edges,
            street_edges,
            fence_edges,
            footprint_owner,
            tied: Vec::new(),
            outside_triangles: mesh.outside_triangles,
            water_area: mesh.water_area,
            refined: mesh.refined,
        };
        crate::progress::trace("midlines: refined mesh");
        drop(self.on_edge);
        // The coarse mesh is not needed any more: free it before the cells are made connected.
        let refined = Mesh { tied: coarse.tied, ..refined };
        let mut unit = self.unit;
        let walkable: Vec<bool> = self.parent.iter().map(|&p| cells.walkable[p as usize]).collect();
        let open_land: Vec<bool> = self.parent.iter().map(|&p| cells.open_land[p as usize]).collect();
        drop(self.parent);
        let seeded: Vec<bool> = refined.footprint_owner.iter().map(|&o| o != NONE).collect();
        let mut warnings = Vec::new();
        let Cells { unit_of_building, unit_buildings, warnings: cell_warnings, unclaimed_area, .. } = cells;
        make_cells_connected(&refined, &mut unit, &seeded, &unit_buildings, labels, &mut warnings);
        let cells = Cells { unit_of_building, unit_buildings, unit_of_triangle: unit, walkable, open_land, warnings: cell_warnings, unclaimed_area };
        (refined, cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::cells::build_cells;
    use crate::graph::mesh::build_mesh;
    use crate::model::{Footprint, Territory};
    use geo::{MultiPolygon, Rect};

    fn building(row: usize, x: f64, y: f64) -> Building {
        let r = Rect::new(Coord { x, y }, Coord { x: x + 10.0, y: y + 10.0 }).to_polygon();
        Building {
            row,
            id: crate::read::FeatureId::Number(row as i64),
            households: 10.0,
            population: None,
            cost_weight: 10.0,
            footprint: Footprint::Polygons(MultiPolygon(vec![r])),
            anchor: Coord { x: x + 5.0, y: y + 5.0 },
            existing_grid: None,
            part: None,
            community: crate::model::communities::NO_COMMUNITY,
        }
    }

    /// Two buildings whose facing walls are at x = 10 and x = 50: the boundary between their
    /// cells runs along x = 30.
    #[test]
    fn cells_meet_midway_between_footprints() {
        let buildings = vec![building(0, 0.0, 0.0), building(1, 50.0, 0.0)];
        let area = MultiPolygon(vec![Rect::new(Coord { x: -20.0, y: -20.0 }, Coord { x: 80.0, y: 30.0 }).to_polygon()]);
        let territory = Territory { area, derived: false, water: MultiPolygon(vec![]) };
        let mesh = build_mesh(&buildings, &territory, &[], &[], &[], &MultiPolygon(vec![])).unwrap();
        let label = |b: u32| b.to_string();
        let cells = build_cells(&mesh, 2, &label);
        let (fine, fine_cells) = split_at_midlines(mesh.clone(), cells.clone(), &buildings, &|_, _, _| false, &label);
        // Area of each cell; the triangles of unit 0 lie left of x = 30 (within rounding).
        let mut area = [0.0; 2];
        for t in 0..fine.len() {
            let u = fine_cells.unit_of_triangle[t];
            area[u as usize] += fine.area(t);
            let c = fine.centroid(t);
            if u == 0 {
                assert!(c.x < 30.5, "triangle of unit 0 at {c:?}");
            } else {
                assert!(c.x > 29.5, "triangle of unit 1 at {c:?}");
            }
        }
        let total: f64 = (0..mesh.len()).map(|t| mesh.area(t)).sum();
        assert!((area[0] + area[1] - total).abs() < 1e-6, "the refined mesh covers the same area");
        assert!((area[0] - 50.0 * 50.0).abs() < 60.0, "unit 0's cell is [-20, 30] × [-20, 30]: {}", area[0]);
        // Conforming: every interior edge has a neighbour that shares it back.
        for t in 0..fine.len() {
            for i in 0..3 {
                let nb = fine.neighbours[t][i];
                if nb != NONE {
                    assert!(fine.neighbours[nb as usize].contains(&(t as u32)));
                }
            }
        }
    }
}
