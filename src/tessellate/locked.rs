//! Locked grids keep their input polygon: the triangles inside it go to the locked grid, and
//! the rings of the other grids meet it at its own vertices, so the grids still tile.

use rustc_hash::FxHashMap as HashMap;

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Line};
use rstar::{RTree, AABB};

use crate::geom::PolygonIndex;
use crate::graph::{Mesh, NONE};

/// Distance (working metres) within which a traced vertex lies on a locked polygon's edge.
const ON_EDGE_M: f64 = crate::graph::mesh::SNAP_M;
/// Distance (working metres) by which a junction on a locked edge is moved into the locked
/// polygon: the neighbouring grids then overlap it by slivers of 0.1 mm instead of leaving
/// gaps of rounding size, which overlay tools (GEOS) turn into spurious holes.
const JUNCTION_INSET_M: f64 = 1e-4;

type Key = (u64, u64);

fn key(c: Coord<f64>) -> Key {
    (c.x.to_bits(), c.y.to_bits())
}

/// A locked polygon edge: its end points as given (output CRS) and which side is inside.
#[derive(Debug, Clone, Copy)]
struct Edge {
    from: Coord<f64>,
    to: Coord<f64>,
    left_is_inside: bool,
    /// The edge in working metres.
    work: (Coord<f64>, Coord<f64>),
}

/// Gives the triangles inside each locked polygon to its grid, and the triangles a locked grid
/// holds outside its polygon to a neighbouring grid (the first neighbour in edge order that may
/// take it, sweep after sweep). `locked` pairs a grid index with its polygon (working metres).
pub fn settle_locked_triangles(mesh: &Mesh, grid_of_triangle: &mut [u32], locked: &[(u32, &MultiPolygon<f64>)]) {
    if locked.is_empty() {
        return;
    }
    let indexes: Vec<(u32, PolygonIndex, geo::Rect<f64>)> = locked
        .iter()
        .filter_map(|(g, mp)| geo::BoundingRect::bounding_rect(*mp).map(|r| (*g, PolygonIndex::new(mp), r)))
        .collect();
    let is_locked = |g: u32| locked.iter().any(|(l, _)| *l == g);
    let mut inside = vec![false; mesh.len()];
    for t in 0..mesh.len() {
        if grid_of_triangle[t] == NONE {
            continue;
        }
        let c = mesh.centroid(t);
        for (g, index, r) in &indexes {
            if c.x >= r.min().x && c.x <= r.max().x && c.y >= r.min().y && c.y <= r.max().y && index.contains(c) {
                grid_of_triangle[t] = *g;
                inside[t] = true;
                break;
            }
        }
    }
    let wrong: Vec<usize> = (0..mesh.len()).filter(|&t| !inside[t] && grid_of_triangle[t] != NONE && is_locked(grid_of_triangle[t])).collect();
    relabel(mesh, grid_of_triangle, wrong, &|_, g| !is_locked(g));
    // Cells of other grids cut by a locked polygon may leave pieces with no building beside
    // it: each such piece, but a grid's largest, goes to a neighbouring grid.
    let labels = grid_of_triangle.to_vec();
    let (_, pieces) = crate::pieces::pieces(
        mesh.len(),
        |t| labels[t] != NONE && !is_locked(labels[t]),
        |t, visit| {
            for &nb in &mesh.neighbours[t] {
                if nb != NONE && labels[nb as usize] == labels[t] {
                    visit(nb as usize);
                }
            }
        },
    );
    let area = |p: &Vec<u32>| p.iter().map(|&t| mesh.area(t as usize)).sum::<f64>();
    let mut largest: HashMap<u32, (f64, usize)> = HashMap::default();
    for (i, p) in pieces.iter().enumerate() {
        let e = largest.entry(labels[p[0] as usize]).or_insert((-1.0, i));
        if area(p) > e.0 {
            *e = (area(p), i);
        }
    }
    let stray: Vec<usize> = pieces
        .iter()
        .enumerate()
        .filter(|(i, p)| largest[&labels[p[0] as usize]].1 != *i && p.iter().all(|&t| mesh.footprint_owner[t as usize] == NONE))
        .flat_map(|(_, p)| p.iter().map(|&t| t as usize))
        .collect();
    relabel(mesh, grid_of_triangle, stray.clone(), &|t, g| g != labels[t] && !is_locked(g));
    // A stray piece bordered by nothing but a locked grid (a sliver between a locked edge and
    // the territory's edge) goes to the locked grid: it lies outside the grids written.
    let still: Vec<usize> = stray.into_iter().filter(|&t| grid_of_triangle[t] == labels[t]).collect();
    relabel(mesh, grid_of_triangle, still, &|t, g| g != labels[t]);
}

/// Gives each micro-grid triangle whose micro-grid is not in the triangle's grid (after
/// [`settle_locked_triangles`]) the micro-grid of a neighbouring triangle that is.
pub fn settle_micro_triangles(mesh: &Mesh, micro_of_triangle: &mut [u32], grid_of_triangle: &[u32], grid_of_micro: &[u32]) {
    let wrong: Vec<usize> = (0..mesh.len()).filter(|&t| micro_of_triangle[t] != NONE && grid_of_micro[micro_of_triangle[t] as usize] != grid_of_triangle[t]).collect();
    relabel(mesh, micro_of_triangle, wrong, &|t, m| grid_of_micro[m as usize] == grid_of_triangle[t]);
}

/// Relabels the `wrong` triangles, sweep after sweep, each with the label of its first
/// neighbour (in edge order) whose label it `may_take`; triangles no sweep reaches keep theirs.
fn relabel(mesh: &Mesh, labels: &mut [u32], mut wrong: Vec<usize>, may_take: &dyn Fn(usize, u32) -> bool) {
    let mut bad = vec![false; labels.len()];
    for &t in &wrong {
        bad[t] = true;
    }
    while !wrong.is_empty() {
        let mut left = Vec::new();
        let mut taken: Vec<(usize, u32)> = Vec::new();
        for &t in &wrong {
            let take = mesh.neighbours[t]
                .iter()
                .filter(|&&nb| nb != NONE && !bad[nb as usize])
                .map(|&nb| labels[nb as usize])
                .find(|&l| l != NONE && may_take(t, l));
            match take {
                Some(l) => taken.push((t, l)),
                None => left.push(t),
            }
        }
        if taken.is_empty() {
            break;
        }
        for (t, l) in taken {
            labels[t] = l;
            bad[t] = false;
        }
        wrong = left;
    }
}

/// Fits traced rings to the locked polygons given with their vertices in the output CRS.
#[derive(Debug, Default)]
pub struct LockedFit {
    /// Locked polygon vertices: working position → position as given.
    vertices: HashMap<Key, Coord<f64>>,
    /// Locked polygon edges (working metres) with their edge as given.
    edges: RTree<GeomWithData<Line<[f64; 2]>, Edge>>,
    /// Traced vertices where a boundary between two other grids meets a locked edge, with
    /// that edge (filled by [`LockedFit::clean`], read by [`LockedFit::to_given`]).
    junctions: std::cell::RefCell<HashMap<Key, Edge>>,
}

impl LockedFit {
    /// The fit for locked polygons (working metres) with each vertex's working and given
    /// position.
    pub fn new<'a>(polygons: impl IntoIterator<Item = (&'a MultiPolygon<f64>, &'a [(Coord<f64>, Coord<f64>)])>) -> LockedFit {
        let mut vertices = HashMap::default();
        let mut edges = Vec::new();
        for (mp, pairs) in polygons {
            let given: HashMap<Key, Coord<f64>> = pairs.iter().map(|(w, g)| (key(*w), *g)).collect();
            if given.is_empty() {
                continue;
            }
            for p in &mp.0 {
                for (k, ring) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
                    let ccw = crate::tessellate::signed_area(&ring.0) > 0.0;
                    // Exterior counter-clockwise or hole clockwise: the polygon is on the left.
                    let left_is_inside = (k == 0) == ccw;
                    for w in ring.0.windows(2) {
                        let (Some(&a), Some(&b)) = (given.get(&key(w[0])), given.get(&key(w[1]))) else { continue };
                        vertices.insert(key(w[0]), a);
                        vertices.insert(key(w[1]), b);
                        if w[0] != w[1] {
                            edges.push(GeomWithData::new(Line::new([w[0].x, w[0].y], [w[1].x, w[1].y]), Edge { from: a, to: b, left_is_inside, work: (w[0], w[1]) }));
                        }
                    }
                }
            }
        }
        LockedFit { vertices, edges: RTree::bulk_load(edges), junctions: Default::default() }
    }

    /// True when there is nothing to fit.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// The locked edge `c` lies on (not at one of its vertices), if any.
    fn edge_at(&self, c: Coord<f64>) -> Option<Edge> {
        let env = AABB::from_corners([c.x - ON_EDGE_M, c.y - ON_EDGE_M], [c.x + ON_EDGE_M, c.y + ON_EDGE_M]);
        self.edges
            .locate_in_envelope_intersecting(&env)
            .find(|e| rstar::PointDistance::distance_2(e.geom(), &[c.x, c.y]) <= ON_EDGE_M * ON_EDGE_M)
            .map(|e| e.data)
    }

    fn on_boundary(&self, c: Coord<f64>) -> bool {
        self.vertices.contains_key(&key(c)) || self.edge_at(c).is_some()
    }

    /// Removes from `mp`'s rings the vertices the mesh added along locked edges, and records
    /// the vertices where another boundary meets a locked edge (see [`LockedFit::to_given`]).
    pub fn clean(&self, mp: &mut MultiPolygon<f64>) {
        if self.is_empty() {
            return;
        }
        let clean_ring = |ring: &LineString<f64>| -> LineString<f64> {
            let pts = &ring.0[..ring.0.len().saturating_sub(1)];
            let n = pts.len();
            if n < 4 {
                return ring.clone();
            }
            let mid = |a: Coord<f64>, b: Coord<f64>| Coord { x: 0.5 * (a.x + b.x), y: 0.5 * (a.y + b.y) };
            let mut kept: Vec<Coord<f64>> = Vec::with_capacity(n);
            for i in 0..n {
                let (prev, c, next) = (pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n]);
                if self.vertices.contains_key(&key(c)) {
                    kept.push(c);
                    continue;
                }
                let Some(edge) = self.edge_at(c) else {
                    kept.push(c);
                    continue;
                };
                let along = self.on_boundary(prev) && self.on_boundary(next) && self.edge_at(mid(prev, c)).is_some() && self.edge_at(mid(c, next)).is_some();
                if !along {
                    self.junctions.borrow_mut().insert(key(c), edge);
                    kept.push(c);
                }
            }
            if kept.len() < 3 {
                return ring.clone();
            }
            kept.push(kept[0]);
            LineString(kept)
        };
        let polygons: Vec<Polygon<f64>> =
            mp.0.iter().map(|p| Polygon::new(clean_ring(p.exterior()), p.interiors().iter().map(clean_ring).collect())).collect();
        *mp = MultiPolygon(polygons);
    }

    /// Where junction `c` (working metres) goes: [`JUNCTION_INSET_M`] into the locked polygon
    /// across the edge it lies on; other vertices stay.
    pub fn inset(&self, c: Coord<f64>) -> Coord<f64> {
        let Some(edge) = self.junctions.borrow().get(&key(c)).copied() else { return c };
        let (a, b) = edge.work;
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 {
            return c;
        }
        // Never further than a tenth of the way to the edge's ends, so the ring cannot fold.
        let to_end = crate::geom::dist(c, a).min(crate::geom::dist(c, b));
        if to_end <= 10.0 * ON_EDGE_M {
            return c;
        }
        let d = JUNCTION_INSET_M.min(0.1 * to_end);
        let side = if edge.left_is_inside { 1.0 } else { -1.0 };
        Coord { x: c.x - dy / len * side * d, y: c.y + dx / len * side * d }
    }

    /// The position as given of a locked polygon vertex, if `c` (working metres) is one.
    pub fn given(&self, c: Coord<f64>) -> Option<Coord<f64>> {
        self.vertices.get(&key(c)).copied()
    }

    /// `converted` (the output-CRS position of working vertex `c`, after [`LockedFit::inset`])
    /// moved, should it still lie outside the edge it is a junction of, onto the edge's inner
    /// side by the smallest steps that make it so: the neighbouring grids may overlap the
    /// locked polygon by a sliver but never leave a gap beside it.
    pub fn to_given(&self, c: Coord<f64>, converted: Coord<f64>) -> Coord<f64> {
        let Some(edge) = self.junctions.borrow().get(&key(c)).copied() else { return converted };
        let inside = |p: Coord<f64>| {
            let o = RobustKernel::orient2d(edge.from, edge.to, p);
            matches!(o, Orientation::Collinear) || matches!(o, Orientation::CounterClockwise) == edge.left_is_inside
        };
        if inside(converted) {
            return converted;
        }
        let (dx, dy) = (edge.to.x - edge.from.x, edge.to.y - edge.from.y);
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 {
            return converted;
        }
        let side = if edge.left_is_inside { 1.0 } else { -1.0 };
        let (nx, ny) = (-dy / len * side, dx / len * side);
        let scale = converted.x.abs().max(converted.y.abs()).max(1.0) * f64::EPSILON;
        let mut step = scale;
        for _ in 0..60 {
            let p = Coord { x: converted.x + nx * step, y: converted.y + ny * step };
            if inside(p) {
                return p;
            }
            step *= 2.0;
        }
        converted
    }
}
