//! Tessellate stage: grid polygons as the union of their units' cells. Boundaries are traced
//! along mesh edges shared by triangles of different grids, so neighbouring grids share their
//! boundary vertex for vertex: no gap, no overlap, by construction.

pub mod locked;
pub mod open_land;
pub mod simplify;
pub mod smooth;
pub mod spikes;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use rayon::prelude::*;

use self::locked::{settle_locked_triangles, settle_micro_triangles, LockedFit};
use self::open_land::give_open_land;
use crate::config::PartitionConfig;
use crate::graph::{Cells, Mesh, NONE};
use crate::model::Model;
use crate::partition::micro::MicroPlan;
use crate::partition::Division;

/// What the tessellate stage produces.
#[derive(Debug)]
pub struct Tiling {
    /// Grid of each mesh triangle (`NONE`: claimed by no grid).
    pub grid_of_triangle: Vec<u32>,
    /// The polygon of each grid of the plan, in working metres.
    pub shapes: Vec<GridShape>,
    /// For each locked shape of the model, the plan grid that keeps it (None: not kept).
    pub locked_grids: Vec<Option<u32>>,
    /// How traced rings fit the locked polygons as given.
    pub fit: LockedFit,
    /// Area of the triangles that belong to a grid (m²).
    pub tiled_area: f64,
    /// Remarks for the user.
    pub warnings: Vec<String>,
    /// Tolerance (m) the shared boundaries were simplified with.
    pub simplify_m: f64,
    /// True when water was kept in the grids (`--include-water`).
    pub include_water: bool,
}

/// Tessellate stage: the polygon of every grid, traced from the triangles of its units' cells;
/// locked grids of an existing polygon layer keep their polygon and the others are fitted to it.
pub fn tile(mesh: &Mesh, cells: &Cells, division: &Division, model: &Model, config: &PartitionConfig) -> Tiling {
    let locked_shapes = model.locked_shapes();
    crate::progress::trace("tessellate: start");
    let mut grid_of_triangle = grid_of_triangles(cells, &division.plan.grid_of_unit);
    // Triangles stay in their community: land moves only to a grid of the same community.
    let nesting = CommunityOf::new(model, cells, division);
    let allowed = |t: usize, g: u32| nesting.allows(t, g);
    give_open_land(mesh, cells, &mut grid_of_triangle, &allowed);
    crate::progress::trace("tessellate: open land");
    if !config.graph.include_water {
        open_land::give_across_barriers(mesh, cells, &mut grid_of_triangle, &allowed);
    }
    crate::progress::trace("tessellate: across barriers");
    smooth::smooth_teeth(mesh, &mut grid_of_triangle, &allowed);
    crate::progress::trace("tessellate: smooth");
    let locked_grids: Vec<Option<u32>> =
        locked_shapes.iter().map(|l| division.homes.as_ref().and_then(|h| h.iter().position(|&x| x == Some(l.grid)).map(|g| g as u32))).collect();
    let locked_pairs: Vec<(u32, &MultiPolygon<f64>)> = locked_shapes.iter().zip(&locked_grids).filter_map(|(l, g)| g.map(|g| (g, &l.working))).collect();
    settle_locked_triangles(mesh, &mut grid_of_triangle, &locked_pairs);
    let fit = LockedFit::new(locked_shapes.iter().zip(&locked_grids).filter(|(_, g)| g.is_some()).map(|(l, _)| (&l.working, l.vertices.as_slice())));
    let is_locked = |g: u32| locked_grids.contains(&Some(g));
    crate::progress::trace("tessellate: locked");
    let keep = simplify::kept_vertices(mesh, &grid_of_triangle, config.graph.simplify_m, &is_locked);
    crate::progress::trace("tessellate: simplify");
    let mut shapes = dissolve_simplified(mesh, &grid_of_triangle, division.plan.grids.len(), keep).0;
    crate::progress::trace("tessellate: dissolve");
    clean_shapes(&mut shapes, &fit);
    crate::progress::trace("tessellate: clean");
    let mut warnings = Vec::new();
    if locked_shapes.iter().any(|l| l.vertices.is_empty()) {
        warnings.push("the --existing layer is not in the buildings' CRS: locked grid polygons are traced again (following the given rings) instead of being copied as given".into());
    }
    let tiled_area = (0..mesh.len()).filter(|&t| grid_of_triangle[t] != NONE).map(|t| mesh.area(t)).sum();
    Tiling { grid_of_triangle, shapes, locked_grids, fit, tiled_area, warnings, simplify_m: config.graph.simplify_m, include_water: config.graph.include_water }
}

/// The community of each triangle (of the unit whose cell holds it) and of each grid, when the
/// run is nested in communities.
struct CommunityOf {
    triangle: Vec<u32>,
    grid: Vec<u32>,
}

impl CommunityOf {
    fn new(model: &Model, cells: &Cells, division: &Division) -> CommunityOf {
        if !model.communities.is_nested() {
            return CommunityOf { triangle: Vec::new(), grid: Vec::new() };
        }
        let of_unit = |u: u32| cells.unit_buildings[u as usize].first().map_or(NONE, |&b| model.buildings[b as usize].community);
        let triangle = cells.unit_of_triangle.iter().map(|&u| if u == NONE { NONE } else { of_unit(u) }).collect();
        let grid = division.plan.grids.iter().map(|g| g.units.first().map_or(NONE, |&u| of_unit(u))).collect();
        CommunityOf { triangle, grid }
    }

    /// True when triangle `t` may go to grid `g`.
    fn allows(&self, t: usize, g: u32) -> bool {
        self.triangle.is_empty() || self.triangle[t] == NONE || self.grid.get(g as usize).is_none_or(|&c| c == self.triangle[t])
    }
}

/// Traced shapes made final: the mesh's vertices along locked edges removed (see
/// [`LockedFit::clean`]) and zero-width spikes cut.
fn clean_shapes(shapes: &mut [GridShape], fit: &LockedFit) {
    for shape in shapes.iter_mut() {
        fit.clean(&mut shape.polygons);
        spikes::remove_spikes(&mut shape.polygons);
    }
}

/// The polygons of the micro-grids, from the same triangles as their grids' (so they nest
/// exactly and together make up each grid). The grids' polygons are traced again with the
/// vertices the micro-grids' simplification keeps, so that grid and micro-grid boundaries agree.
pub fn tile_micro(mesh: &Mesh, cells: &Cells, micro: &MicroPlan, tiling: &mut Tiling) -> Vec<GridShape> {
    let mut micro_of_triangle = grid_of_triangles(cells, &micro.micro_of_unit);
    let grid_of_micro: Vec<u32> = micro.micro_grids.iter().map(|m| m.grid).collect();
    // Open land and locked polygons as the grids have them.
    let grid_of = |t: usize| tiling.grid_of_triangle[t];
    give_open_land(mesh, cells, &mut micro_of_triangle, &|t, m| grid_of_micro[m as usize] == grid_of(t));
    if !tiling.include_water {
        open_land::give_across_barriers(mesh, cells, &mut micro_of_triangle, &|t, m| grid_of_micro[m as usize] == grid_of(t));
    }
    settle_micro_triangles(mesh, &mut micro_of_triangle, &tiling.grid_of_triangle, &grid_of_micro);
    smooth::smooth_teeth(mesh, &mut micro_of_triangle, &|t, m| grid_of_micro[m as usize] == grid_of(t));
    settle_micro_triangles(mesh, &mut micro_of_triangle, &tiling.grid_of_triangle, &grid_of_micro);
    let locked: Vec<u32> = tiling.locked_grids.iter().flatten().copied().collect();
    let is_locked = |m: u32| locked.contains(&grid_of_micro[m as usize]);
    let keep = simplify::kept_vertices(mesh, &micro_of_triangle, tiling.simplify_m, &is_locked);
    let (mut shapes, keep) = dissolve_simplified(mesh, &micro_of_triangle, micro.micro_grids.len(), keep);
    clean_shapes(&mut shapes, &tiling.fit);
    let mut grids = dissolve(mesh, &tiling.grid_of_triangle, tiling.shapes.len(), Some(&keep));
    clean_shapes(&mut grids, &tiling.fit);
    tiling.shapes = grids;
    shapes
}

/// The polygon of one grid.
#[derive(Debug, Clone)]
pub struct GridShape {
    /// Polygons in working metres: one for a connected grid.
    pub polygons: MultiPolygon<f64>,
    /// Area in m².
    pub area: f64,
}

/// Grid of each triangle (`NONE` for unclaimed triangles).
pub fn grid_of_triangles(cells: &Cells, grid_of_unit: &[u32]) -> Vec<u32> {
    cells
        .unit_of_triangle
        .iter()
        .map(|&u| if u == NONE { NONE } else { grid_of_unit[u as usize] })
        .collect()
}

/// [`dissolve`] with the vertices `keep` flags; a polygon the simplification made invalid (a
/// ring crossing itself or a neighbour's) is traced again with all its vertices, and so are its
/// neighbours along the arcs it takes back. Returns the shapes and the vertices kept.
pub fn dissolve_simplified(mesh: &Mesh, labels: &[u32], n: usize, mut keep: Vec<bool>) -> (Vec<GridShape>, Vec<bool>) {
    use geo::Validation;
    let mut shapes = dissolve(mesh, labels, n, Some(&keep));
    for _ in 0..3 {
        let invalid: Vec<bool> = shapes.par_iter().map(|s| !s.polygons.is_valid()).collect();
        if !invalid.iter().any(|&b| b) {
            break;
        }
        let mut changed = false;
        for (t, &l) in labels.iter().enumerate() {
            if l != NONE && invalid[l as usize] {
                for &v in &mesh.triangles[t] {
                    changed |= !keep[v as usize];
                    keep[v as usize] = true;
                }
            }
        }
        if !changed {
            break;
        }
        shapes = dissolve(mesh, labels, n, Some(&keep));
    }
    (shapes, keep)
}

/// Polygons of `n_grids` grids from the mesh, given the grid of each triangle; rings keep the
/// mesh vertices flagged in `keep` (all when None).
pub fn dissolve(mesh: &Mesh, grid_of_triangle: &[u32], n_grids: usize, keep: Option<&[bool]>) -> Vec<GridShape> {
    let mut area = vec![0.0; n_grids];
    // Directed boundary edges (grid, from, to), interior on the left.
    let mut edges: Vec<(u32, u32, u32)> = Vec::new();
    for t in 0..mesh.len() {
        let g = grid_of_triangle[t];
        if g == NONE {
            continue;
        }
        area[g as usize] += mesh.area(t);
        let tri = mesh.triangles[t];
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb == NONE || grid_of_triangle[nb as usize] != g {
                edges.push((g, tri[i], tri[(i + 1) % 3]));
            }
        }
    }
    edges.par_sort_unstable();
    // The edges of each grid, traced in parallel.
    let mut runs: Vec<(u32, usize, usize)> = Vec::new();
    let mut start = 0;
    while start < edges.len() {
        let g = edges[start].0;
        let mut end = start;
        while end < edges.len() && edges[end].0 == g {
            end += 1;
        }
        runs.push((g, start, end));
        start = end;
    }
    let traced: Vec<(u32, MultiPolygon<f64>)> = runs.par_iter().map(|&(g, start, end)| (g, trace(&mesh.points, &edges[start..end], keep))).collect();
    let mut shapes: Vec<GridShape> = area.into_iter().map(|a| GridShape { polygons: MultiPolygon(Vec::new()), area: a }).collect();
    for (g, polygons) in traced {
        let shape = &mut shapes[g as usize];
        if keep.is_some() {
            // Simplified rings: the area of the polygons as drawn (shared arcs move area
            // between neighbours only, so the total stays the tiled area).
            shape.area = geo::Area::unsigned_area(&polygons);
        }
        shape.polygons = polygons;
    }
    shapes
}

/// Counter-clockwise angle from direction `a` to direction `b`, in (0, 2π].
fn ccw_angle(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let ang = (a.x * b.y - a.y * b.x).atan2(a.x * b.x + a.y * b.y);
    if ang <= 0.0 {
        ang + 2.0 * std::f64::consts::PI
    } else {
        ang
    }
}

/// Traces the rings of one grid from its boundary edges (sorted by start vertex) and groups them
/// into polygons. At a vertex where the boundary touches itself, the ring follows the same
/// outside sector, so shells and holes come out as simple rings (touching at most at points).
fn trace(points: &[Coord<f64>], edges: &[(u32, u32, u32)], keep: Option<&[bool]>) -> MultiPolygon<f64> {
    let mut used = vec![false; edges.len()];
    let outgoing = |v: u32| {
        let lo = edges.partition_point(|e| e.1 < v);
        let hi = edges.partition_point(|e| e.1 <= v);
        lo..hi
    };
    let mut shells: Vec<(LineString<f64>, f64)> = Vec::new();
    let mut holes: Vec<(LineString<f64>, f64)> = Vec::new();
    for first in 0..edges.len() {
        if used[first] {
            continue;
        }
        let mut ring_vertices = vec![edges[first].1];
        let mut cur = first;
        loop {
            used[cur] = true;
            let (_, from, to) = edges[cur];
            ring_vertices.push(to);
            let range = outgoing(to);
            let next = if range.len() == 1 {
                range.start
            } else {
                let p = points[to as usize];
                let back = Coord { x: points[from as usize].x - p.x, y: points[from as usize].y - p.y };
                range
                    .min_by(|&a, &b| {
                        let da = points[edges[a].2 as usize];
                        let db = points[edges[b].2 as usize];
                        ccw_angle(back, Coord { x: da.x - p.x, y: da.y - p.y })
                            .total_cmp(&ccw_angle(back, Coord { x: db.x - p.x, y: db.y - p.y }))
                    })
                    .expect("a boundary vertex has an outgoing edge")
            };
            if used[next] {
                break;
            }
            cur = next;
        }
        let ring = ring_points(points, &ring_vertices, keep);
        let signed = signed_area(&ring);
        let ls = LineString(ring);
        if signed > 0.0 {
            shells.push((ls, signed));
        } else {
            holes.push((ls, -signed));
        }
    }
    if shells.len() <= 1 {
        let holes: Vec<LineString<f64>> = holes.into_iter().map(|(h, _)| h).collect();
        return MultiPolygon(shells.into_iter().map(|(s, _)| Polygon::new(s, holes.clone())).collect());
    }
    // Several pieces (a grid that is not connected): give each hole to the smallest shell around it.
    use geo::Intersects;
    let polys: Vec<Polygon<f64>> = shells.iter().map(|(s, _)| Polygon::new(s.clone(), vec![])).collect();
    let mut inner: Vec<Vec<LineString<f64>>> = vec![Vec::new(); shells.len()];
    for (h, _) in holes {
        let probe = geo::Point(h.0[0]);
        let owner = (0..shells.len())
            .filter(|&i| polys[i].intersects(&probe))
            .min_by(|&a, &b| shells[a].1.total_cmp(&shells[b].1))
            .unwrap_or(0);
        inner[owner].push(h);
    }
    MultiPolygon(shells.into_iter().zip(inner).map(|((s, _), hs)| Polygon::new(s, hs)).collect())
}

/// The points of a closed ring of vertex indices, without the vertices `keep` drops (unless
/// fewer than three would be left).
fn ring_points(points: &[Coord<f64>], ring: &[u32], keep: Option<&[bool]>) -> Vec<Coord<f64>> {
    let all = || ring.iter().map(|&v| points[v as usize]).collect();
    let Some(keep) = keep else { return all() };
    let open = &ring[..ring.len() - 1];
    let Some(start) = open.iter().position(|&v| keep[v as usize]) else { return all() };
    let mut out: Vec<Coord<f64>> = open[start..].iter().chain(&open[..start]).filter(|&&v| keep[v as usize]).map(|&v| points[v as usize]).collect();
    if out.len() < 3 {
        return all();
    }
    out.push(out[0]);
    out
}

/// Shoelace signed area of a closed ring (positive when counter-clockwise).
pub fn signed_area(ring: &[Coord<f64>]) -> f64 {
    let o = ring[0];
    let mut s = 0.0;
    for w in ring.windows(2) {
        s += (w[0].x - o.x) * (w[1].y - o.y) - (w[1].x - o.x) * (w[0].y - o.y);
    }
    0.5 * s
}
