//! The domain mesh: a constrained Delaunay triangulation (`spade`) whose constraint edges are the
//! territory boundary, every footprint ring and every barrier line; each triangle knows whether it
//! lies in the domain, which footprint holds it, and which of its edges lie on a barrier.

use rustc_hash::FxHashMap as HashMap;

use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Polygon, Rect};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use spade::handles::FixedVertexHandle;
use spade::{AngleLimit, ConstrainedDelaunayTriangulation, Point2, RefinementParameters, PositionInTriangulation, Triangulation};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::geom::{clip_segment, BoxIndex, PolygonIndex, SegmentIndex};
use crate::pieces::pieces;
use crate::model::{Building, Footprint, Territory};

/// Marks "no triangle" / "no building" in index arrays.
pub const NONE: u32 = u32::MAX;

/// Half side (metres) of the small square standing in for a building given as a point.
const POINT_HALF_SIDE: f64 = 0.25;
/// Overlaps of footprints larger than this (m²) tie the buildings into one unit.
const OVERLAP_AREA: f64 = 1.0;
/// Smallest angle the mesh refinement aims for (degrees).
const REFINE_ANGLE_DEG: f64 = 20.0;
/// Triangles smaller than this (m²) are not refined.
const REFINE_MIN_AREA: f64 = 2.0;
/// Distance (m) within which constraint vertices are merged and a vertex splits a constraint
/// passing by it, when the constraints must be noded before triangulating.
const NODE_TOLERANCE_M: f64 = 1e-3;

/// Distance (m) within which a vertex is moved onto a guide (locked grid) vertex.
pub const SNAP_M: f64 = 1e-5;
/// A point this close (m) to water counts as water (see `Locator::in_water`).
const WATER_SLIVER_M: f64 = 0.5;
/// Distance (m) within which a constraint edge is taken to lie on a barrier.
const ON_BARRIER_TOL: f64 = 1e-4;

/// Triangles of the domain (territory ∪ footprints), with their neighbourhood and labels.
#[derive(Debug, Clone, Default)]
pub struct Mesh {
    /// Vertex positions (working metres).
    pub points: Vec<Coord<f64>>,
    /// Vertex indices of each triangle, counter-clockwise.
    pub triangles: Vec<[u32; 3]>,
    /// Triangle across edge `i` (from vertex `i` to vertex `i+1`), [`NONE`] on the domain boundary.
    pub neighbours: Vec<[u32; 3]>,
    /// Bit `i` set when edge `i` lies on a barrier.
    pub barrier_edges: Vec<u8>,
    /// Bit `i` set when edge `i` lies on a street (a preferred grid boundary, not a barrier).
    pub street_edges: Vec<u8>,
    /// Bit `i` set when edge `i` lies on a fence: a community boundary, a barrier that not even
    /// land cut off from every building is shared across (empty when there is none).
    pub fence_edges: Vec<u8>,
    /// Building whose footprint holds the triangle (lowest index when footprints overlap), or [`NONE`].
    pub footprint_owner: Vec<u32>,
    /// Pairs of buildings that must share a grid: overlapping footprints, or a building whose
    /// interior point lies in another's part of the mesh.
    pub tied: Vec<(u32, u32)>,
    /// Triangles of the convex hull left outside the domain (for reports).
    pub outside_triangles: usize,
    /// Area (m²) of the territory left out of the domain because it is water.
    pub water_area: f64,
    /// False when the mesh could not be refined (cell boundaries then run corner to corner).
    pub refined: bool,
}

impl Mesh {
    /// Area of triangle `t`.
    pub fn area(&self, t: usize) -> f64 {
        let [a, b, c] = self.triangles[t].map(|v| self.points[v as usize]);
        0.5 * ((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y)).abs()
    }

    /// Centroid of triangle `t` (the same whichever vertex the triangle starts at).
    pub fn centroid(&self, t: usize) -> Coord<f64> {
        centroid_of(self.triangles[t].map(|v| self.points[v as usize]))
    }

    /// End points of edge `i` of triangle `t`.
    pub fn edge(&self, t: usize, i: usize) -> (Coord<f64>, Coord<f64>) {
        let tri = self.triangles[t];
        (self.points[tri[i] as usize], self.points[tri[(i + 1) % 3] as usize])
    }

    /// True when edge `i` of triangle `t` lies on a barrier.
    pub fn is_barrier(&self, t: usize, i: usize) -> bool {
        self.barrier_edges[t] & (1 << i) != 0
    }

    /// True when edge `i` of triangle `t` lies on a fence (a community boundary).
    pub fn is_fence(&self, t: usize, i: usize) -> bool {
        self.fence_edges.get(t).is_some_and(|bits| bits & (1 << i) != 0)
    }

    /// True when edge `i` of triangle `t` lies on a street.
    pub fn is_street(&self, t: usize, i: usize) -> bool {
        self.street_edges[t] & (1 << i) != 0
    }

    /// Number of domain triangles.
    pub fn len(&self) -> usize {
        self.triangles.len()
    }

    /// True when the mesh has no triangle.
    pub fn is_empty(&self) -> bool {
        self.triangles.is_empty()
    }
}

/// The centroid of three points, summed in coordinate order so that it does not depend on the
/// order the triangle lists them in (classification must not depend on vertex numbering).
fn centroid_of(mut p: [Coord<f64>; 3]) -> Coord<f64> {
    p.sort_by(|a, b| (a.x, a.y).partial_cmp(&(b.x, b.y)).unwrap_or(std::cmp::Ordering::Equal));
    Coord { x: (p[0].x + p[1].x + p[2].x) / 3.0, y: (p[0].y + p[1].y + p[2].y) / 3.0 }
}

/// Collects vertices (deduplicated exactly) and constraint edges.
#[derive(Default)]
struct Constraints {
    vertices: Vec<Point2<f64>>,
    index: HashMap<(u64, u64), usize>,
    edges: Vec<[usize; 2]>,
    /// Vertices other vertices snap to (those of the guides).
    snap: RTree<GeomWithData<[f64; 2], usize>>,
}

impl Constraints {
    fn vertex(&mut self, c: Coord<f64>) -> usize {
        if let Some(v) = self.snap.nearest_neighbor(&[c.x, c.y]) {
            if rstar::PointDistance::distance_2(v.geom(), &[c.x, c.y]) <= SNAP_M * SNAP_M {
                return v.data;
            }
        }
        let key = (c.x.to_bits(), c.y.to_bits());
        let n = self.vertices.len();
        *self.index.entry(key).or_insert_with(|| {
            self.vertices.push(Point2::new(c.x, c.y));
            n
        })
    }

    fn segment(&mut self, a: Coord<f64>, b: Coord<f64>) {
        let (i, j) = (self.vertex(a), self.vertex(b));
        if i != j {
            self.edges.push(if i < j { [i, j] } else { [j, i] });
        }
    }

    fn ring(&mut self, ring: &LineString<f64>) {
        for w in ring.0.windows(2) {
            self.segment(w[0], w[1]);
        }
    }
}

/// The polygons standing for a building's footprint (a point becomes a small square).
pub fn footprint_polygons(b: &Building) -> Vec<Polygon<f64>> {
    match &b.footprint {
        Footprint::Polygons(mp) => mp.0.clone(),
        Footprint::Point(c) => {
            let h = POINT_HALF_SIDE;
            vec![Rect::new(Coord { x: c.x - h, y: c.y - h }, Coord { x: c.x + h, y: c.y + h }).to_polygon()]
        }
    }
}

/// Runs `f`, turning a panic into None without printing it.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
    std::panic::set_hook(hook);
    r
}

/// The constrained Delaunay triangulation of `vertices` with constraint `edges` (crossing edges
/// are split at their crossings), refined with Steiner points when `refine`: well-shaped
/// triangles make the cells follow the middle lines between buildings instead of jumping from
/// corner to corner.
fn triangulate(vertices: Vec<Point2<f64>>, edges: Vec<[usize; 2]>, refine: bool) -> Result<ConstrainedDelaunayTriangulation<Point2<f64>>> {
    let mut conflicts = Vec::new();
    let mut cdt: ConstrainedDelaunayTriangulation<Point2<f64>> =
        ConstrainedDelaunayTriangulation::try_bulk_load_cdt(vertices, edges, |e| conflicts.push(e))
            .map_err(|e| Error::Triangulation { message: format!("{e:?}") })?;
    // Crossing constraints (a barrier across a footprint, overlapping footprints): insert them
    // one by one, splitting at the crossings.
    for [a, b] in conflicts {
        cdt.add_constraint_and_split(FixedVertexHandle::from_index(a), FixedVertexHandle::from_index(b), |p| p);
    }
    crate::progress::trace("mesh: bulk load");
    if refine {
        let budget = 3 * cdt.num_vertices();
        cdt.refine(
            RefinementParameters::new()
                .with_angle_limit(AngleLimit::from_deg(REFINE_ANGLE_DEG))
                .with_min_required_area(REFINE_MIN_AREA)
                .with_max_additional_vertices(budget),
        );
    }
    Ok(cdt)
}

/// Triangulates the domain and labels its triangles. `guides` (the polygons of locked grids)
/// belong to the domain and the triangles follow their rings, each lying wholly inside or
/// outside them; other vertices within [`SNAP_M`] of a guide vertex are moved onto it. The
/// territory's water is left out of the domain (but for footprints and guides); barrier and
/// street lines are constraint edges, marked on the triangles.
///
/// `fences` (community boundaries) are barriers too, marked apart (see [`Mesh::fence_edges`]).
pub fn build_mesh(buildings: &[Building], territory: &Territory, barriers: &[LineString<f64>], fences: &[LineString<f64>], streets: &[LineString<f64>], guides: &MultiPolygon<f64>) -> Result<Mesh> {
    let footprints: Vec<Vec<Polygon<f64>>> = buildings.iter().map(footprint_polygons).collect();
    let mut cons = guide_constraints(guides);
    add_territory_edges(&mut cons, territory, guides);
    let first_footprint_vertex = cons.vertices.len();
    add_footprint_rings(&mut cons, &footprints);
    let footprint_vertices = first_footprint_vertex..cons.vertices.len();
    let clip = barrier_clip(territory, &footprints);
    let mut barrier_segments = add_barriers(&mut cons, barriers, clip);
    let fence_segments = add_barriers(&mut cons, fences, clip);
    barrier_segments.extend(fence_segments.iter().copied());
    let street_segments = add_streets(&mut cons, streets, clip);
    cons.edges.sort_unstable();
    cons.edges.dedup();

    let vertices = std::mem::take(&mut cons.vertices);
    let edges = std::mem::take(&mut cons.edges);
    crate::progress::trace("mesh: constraints");
    // Lines (territory, barriers, community boundaries, streets) are noded with each other and
    // with the walls near them: a community boundary drawn along a street centre line a hair
    // off it would otherwise meet it at a tiny angle, and the refinement would spend its whole
    // budget splitting there (grid rings of tens of thousands of vertices µm apart).
    let lines: Vec<bool> = edges.iter().map(|e| !(footprint_vertices.contains(&e[0]) && footprint_vertices.contains(&e[1]))).collect();
    let (vertices, edges) = super::noding::node_near(&vertices, &edges, &lines, NODE_TOLERANCE_M);
    crate::progress::trace("mesh: lines noded");
    let (cdt, refined) = triangulate_or_unrefined(vertices, edges)?;
    crate::progress::trace("mesh: triangulated");
    if cdt.num_inner_faces() == 0 {
        return Err(Error::layer("buildings", "all buildings and the territory lie on one line: nothing to divide"));
    }

    let hull = Hull::of(&cdt);
    crate::progress::trace("mesh: hull");
    let regions = hull.regions();
    let mut labels = classify_regions(&hull, &regions, &footprints, territory, guides);
    crate::progress::trace("mesh: classified");
    tie_displaced_anchors(&cdt, &hull, buildings, &mut labels);
    crate::progress::trace("mesh: anchors");
    let barrier_bits = hull.barrier_bits(barrier_segments);
    let street_bits = hull.barrier_bits(street_segments);
    let fence_bits = if fence_segments.is_empty() { Vec::new() } else { hull.barrier_bits(fence_segments) };
    crate::progress::trace("mesh: barrier bits");
    let mesh = keep_domain(hull, labels, barrier_bits, street_bits, fence_bits, refined);
    crate::progress::trace("mesh: kept");
    Ok(mesh)
}

/// Constraints holding the guides' rings, with the guide vertices as the snap targets.
fn guide_constraints(guides: &MultiPolygon<f64>) -> Constraints {
    let mut cons = Constraints::default();
    for p in &guides.0 {
        cons.ring(p.exterior());
        for h in p.interiors() {
            cons.ring(h);
        }
    }
    cons.snap = RTree::bulk_load(cons.vertices.iter().enumerate().map(|(i, v)| GeomWithData::new([v.x, v.y], i)).collect());
    cons
}

/// Adds the territory's edges, leaving out the parts that run along a guide ring (`cons` must hold the guides only).
fn add_territory_edges(cons: &mut Constraints, territory: &Territory, guides: &MultiPolygon<f64>) {
    // Territory edges running along a guide ring (within SNAP_M) are left out: the guide
    // already bounds the domain there, and two nearly equal edges would leave slivers.
    let guide_edges = SegmentIndex::new(
        guides.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1]))),
    );
    let on_guide = |c: Coord<f64>| guide_edges.near(c, SNAP_M);
    let guide_vertices: Vec<Coord<f64>> = cons.vertices.iter().map(|v| Coord { x: v.x, y: v.y }).collect();
    for p in &territory.area.0 {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for w in ring.0.windows(2) {
                let stops = guide_stops(&cons.snap, &guide_vertices, w[0], w[1], !guides.0.is_empty());
                for s in stops.windows(2) {
                    let (p0, p1) = (s[0].1, s[1].1);
                    let mid = Coord { x: 0.5 * (p0.x + p1.x), y: 0.5 * (p0.y + p1.y) };
                    if !(on_guide(p0) && on_guide(p1) && on_guide(mid)) {
                        cons.segment(p0, p1);
                    }
                }
            }
        }
    }
}

/// Where edge `a`–`b` is split: its ends and the guide vertices on it (when `has_guides`), as (position along it, point) in order.
fn guide_stops(snap: &RTree<GeomWithData<[f64; 2], usize>>, guide_vertices: &[Coord<f64>], a: Coord<f64>, b: Coord<f64>, has_guides: bool) -> Vec<(f64, Coord<f64>)> {
    // Split the edge at the guide vertices on it, so that the parts along a guide
    // can be told from the rest.
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let mut stops: Vec<(f64, Coord<f64>)> = vec![(0.0, a), (1.0, b)];
    if len2 > 0.0 && has_guides {
        let env = rstar::AABB::from_corners([a.x.min(b.x) - SNAP_M, a.y.min(b.y) - SNAP_M], [a.x.max(b.x) + SNAP_M, a.y.max(b.y) + SNAP_M]);
        for v in snap.locate_in_envelope(&env) {
            let c = guide_vertices[v.data];
            let t = ((c.x - a.x) * dx + (c.y - a.y) * dy) / len2;
            let foot = Coord { x: a.x + t * dx, y: a.y + t * dy };
            if t > 0.0 && t < 1.0 && crate::geom::dist(foot, c) <= SNAP_M {
                stops.push((t, c));
            }
        }
        stops.sort_by(|x, y| x.0.total_cmp(&y.0));
    }
    stops
}

/// Adds every ring of every footprint.
fn add_footprint_rings(cons: &mut Constraints, footprints: &[Vec<Polygon<f64>>]) {
    for polys in footprints {
        for p in polys {
            cons.ring(p.exterior());
            for h in p.interiors() {
                cons.ring(h);
            }
        }
    }
}

/// The rectangle barriers are clipped to: the bounding box of the territory and the footprints, plus a margin.
fn barrier_clip(territory: &Territory, footprints: &[Vec<Polygon<f64>>]) -> Rect<f64> {
    // Barriers only matter inside the domain.
    let mut bbox = territory.area.bounding_rect().unwrap_or(Rect::new(Coord::zero(), Coord::zero()));
    for polys in footprints {
        for p in polys {
            if let Some(r) = p.bounding_rect() {
                bbox = Rect::new(
                    Coord { x: bbox.min().x.min(r.min().x), y: bbox.min().y.min(r.min().y) },
                    Coord { x: bbox.max().x.max(r.max().x), y: bbox.max().y.max(r.max().y) },
                );
            }
        }
    }
    let margin = 1.0 + 0.01 * bbox.width().max(bbox.height());
    Rect::new(
        Coord { x: bbox.min().x - margin, y: bbox.min().y - margin },
        Coord { x: bbox.max().x + margin, y: bbox.max().y + margin },
    )
}

/// Adds the barrier segments clipped to `clip`, and returns them.
fn add_barriers(cons: &mut Constraints, barriers: &[LineString<f64>], clip: Rect<f64>) -> Vec<(Coord<f64>, Coord<f64>)> {
    let mut barrier_segments = Vec::new();
    for l in barriers {
        for w in l.0.windows(2) {
            if let Some((a, b)) = clip_segment(w[0], w[1], &clip) {
                cons.segment(a, b);
                barrier_segments.push((a, b));
            }
        }
    }
    barrier_segments
}

/// Adds the street segments clipped to `clip`, leaving out the parts that run along a constraint
/// already there (a barrier, the territory boundary, a wall, another street: overlapping
/// constraints would stop the triangulation), and returns the clipped segments.
fn add_streets(cons: &mut Constraints, streets: &[LineString<f64>], clip: Rect<f64>) -> Vec<(Coord<f64>, Coord<f64>)> {
    if streets.is_empty() {
        return Vec::new();
    }
    let at = |i: usize| Coord { x: cons.vertices[i].x, y: cons.vertices[i].y };
    let mut existing = SegmentIndex::new(cons.edges.iter().map(|&[i, j]| (at(i), at(j))));
    let mut segments = Vec::new();
    let mut pieces = Vec::new();
    for l in streets {
        for w in l.0.windows(2) {
            if let Some((a, b)) = clip_segment(w[0], w[1], &clip) {
                segments.push((a, b));
                for (p, q) in existing.uncovered(a, b, ON_BARRIER_TOL) {
                    pieces.push((p, q));
                    existing.insert(p, q);
                }
            }
        }
    }
    // A street ending on another constraint (the territory's edge, a wall) splits that
    // constraint there: the triangulation library stops on a vertex lying inside a constraint.
    let ends: Vec<Coord<f64>> = pieces.iter().flat_map(|&(p, q)| [p, q]).collect();
    split_constraints_at(cons, &ends);
    for (p, q) in pieces {
        cons.segment(p, q);
    }
    segments
}

/// Splits every constraint edge that passes within [`ON_BARRIER_TOL`] of one of `points` (not
/// at its ends) at that point.
fn split_constraints_at(cons: &mut Constraints, points: &[Coord<f64>]) {
    let at = |cons: &Constraints, i: usize| Coord { x: cons.vertices[i].x, y: cons.vertices[i].y };
    let tree = RTree::bulk_load(points.iter().enumerate().map(|(k, p)| GeomWithData::new([p.x, p.y], k)).collect::<Vec<_>>());
    let edges = std::mem::take(&mut cons.edges);
    for [i, j] in edges {
        let (a, b) = (at(cons, i), at(cons, j));
        let env = rstar::AABB::from_corners([a.x.min(b.x) - ON_BARRIER_TOL, a.y.min(b.y) - ON_BARRIER_TOL], [a.x.max(b.x) + ON_BARRIER_TOL, a.y.max(b.y) + ON_BARRIER_TOL]);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        let mut stops: Vec<(f64, Coord<f64>)> = tree
            .locate_in_envelope(&env)
            .map(|g| Coord { x: g.geom()[0], y: g.geom()[1] })
            .filter_map(|p| {
                let t = ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2.max(1e-300);
                let foot = Coord { x: a.x + t * dx, y: a.y + t * dy };
                (t > 1e-9 && t < 1.0 - 1e-9 && crate::geom::dist(foot, p) <= ON_BARRIER_TOL && p != a && p != b).then_some((t, p))
            })
            .collect();
        if stops.is_empty() {
            cons.edges.push([i, j]);
            continue;
        }
        stops.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut prev = a;
        for (_, p) in stops.into_iter().chain(std::iter::once((1.0, b))) {
            cons.segment(prev, p);
            prev = p;
        }
    }
}

/// [`triangulate`] with refinement (and true), or without it (and false) should the library fail on the refinement.
fn triangulate_or_unrefined(vertices: Vec<Point2<f64>>, edges: Vec<[usize; 2]>) -> Result<(ConstrainedDelaunayTriangulation<Point2<f64>>, bool)> {
    // Refinement is a refinement only: should the triangulation library fail on it (it has been
    // seen to on rare degenerate input), triangulate again without it.
    if let Some(Ok(cdt)) = quietly(|| triangulate(vertices.clone(), edges.clone(), true)) {
        return Ok((cdt, true));
    }
    // Nearly coincident walls (a locked ring along a footprint, two walls a hair apart) can
    // stop it: node every constraint (shared vertices wherever they meet), then try again.
    let (vertices, edges) = super::noding::node(&vertices, &edges, NODE_TOLERANCE_M);
    if let Some(Ok(cdt)) = quietly(|| triangulate(vertices.clone(), edges.clone(), true)) {
        return Ok((cdt, true));
    }
    match quietly(|| triangulate(vertices, edges, false)) {
        Some(r) => Ok((r?, false)),
        None => Err(Error::Triangulation { message: "the triangulation library stopped on this input, with and without refinement".into() }),
    }
}

/// Every triangle of the convex hull (inner face `f` of the triangulation is triangle `f - 1`).
struct Hull {
    /// Vertex positions.
    points: Vec<Coord<f64>>,
    /// Vertex indices of each triangle.
    tri: Vec<[u32; 3]>,
    /// Triangle across edge `i`, [`NONE`] on the hull.
    nb: Vec<[u32; 3]>,
    /// Bit `i` set when edge `i` is a constraint edge.
    constraint: Vec<u8>,
    /// Triangle of each inner face of the triangulation (face `f` is entry `f - 1`).
    face_index: Vec<u32>,
}

impl Hull {
    /// Extracts the triangles, their neighbours and their constraint edges from `cdt`, with
    /// vertices and triangles in the order of a Hilbert curve through the domain, so that
    /// neighbours lie near each other in memory (the sweeps over millions of triangles are bound
    /// by memory access; refinement appends its vertices and faces wherever they fall). Ties keep
    /// the triangulation's order, so the order is deterministic.
    fn of(cdt: &ConstrainedDelaunayTriangulation<Point2<f64>>) -> Hull {
        let raw_points: Vec<Coord<f64>> = cdt.vertices().map(|v| Coord { x: v.position().x, y: v.position().y }).collect();
        let curve = HilbertCurve::over(&raw_points);
        let mut point_order: Vec<(u32, u32)> = raw_points.iter().enumerate().map(|(v, &p)| (curve.key(p), v as u32)).collect();
        point_order.par_sort_unstable();
        let mut new_point = vec![NONE; raw_points.len()];
        for (i, &(_, v)) in point_order.iter().enumerate() {
            new_point[v as usize] = i as u32;
        }
        let points: Vec<Coord<f64>> = point_order.iter().map(|&(_, v)| raw_points[v as usize]).collect();
        drop(raw_points);

        let n_faces = cdt.num_all_faces() - 1; // inner faces are 1..=n
        let mut raw_tri = vec![[0u32; 3]; n_faces];
        let mut raw_nb = vec![[NONE; 3]; n_faces];
        let mut raw_constraint = vec![0u8; n_faces];
        for face in cdt.inner_faces() {
            let t = face.fix().index() - 1;
            for (i, e) in face.adjacent_edges().iter().enumerate() {
                raw_tri[t][i] = new_point[e.from().fix().index()];
                if let Some(other) = e.rev().face().as_inner() {
                    raw_nb[t][i] = (other.fix().index() - 1) as u32;
                }
                if e.as_undirected().is_constraint_edge() {
                    raw_constraint[t] |= 1 << i;
                }
            }
        }
        let mut face_order: Vec<(u32, u32)> =
            raw_tri.par_iter().enumerate().map(|(t, tri)| (curve.key(centroid_of(tri.map(|v| points[v as usize]))), t as u32)).collect();
        face_order.par_sort_unstable();
        let mut face_index = vec![NONE; n_faces];
        for (i, &(_, t)) in face_order.iter().enumerate() {
            face_index[t as usize] = i as u32;
        }
        let tri: Vec<[u32; 3]> = face_order.par_iter().map(|&(_, t)| raw_tri[t as usize]).collect();
        let nb: Vec<[u32; 3]> = face_order.par_iter().map(|&(_, t)| raw_nb[t as usize].map(|o| if o == NONE { NONE } else { face_index[o as usize] })).collect();
        let constraint: Vec<u8> = face_order.par_iter().map(|&(_, t)| raw_constraint[t as usize]).collect();
        Hull { points, tri, nb, constraint, face_index }
    }

    /// Number of triangles.
    fn len(&self) -> usize {
        self.tri.len()
    }

    /// Regions: sets of triangles connected without crossing a constraint edge.
    fn regions(&self) -> Vec<Vec<u32>> {
        // Each lies wholly inside or outside the territory and each footprint, so one sample point
        // classifies it.
        let (_, regions) = pieces(
            self.len(),
            |_| true,
            |t, visit| {
                for i in 0..3 {
                    let nb = self.nb[t][i];
                    if nb != NONE && self.constraint[t] & (1 << i) == 0 {
                        visit(nb as usize);
                    }
                }
            },
        );
        regions
    }

    /// Area of triangle `t`.
    fn area(&self, t: usize) -> f64 {
        let [a, b, c] = self.tri[t].map(|v| self.points[v as usize]);
        0.5 * ((b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y)).abs()
    }

    /// Centroid of triangle `t` (the same whichever vertex the triangle starts at).
    fn centroid(&self, t: usize) -> Coord<f64> {
        centroid_of(self.tri[t].map(|v| self.points[v as usize]))
    }

    /// Bit `i` of triangle `t` set when its edge `i` is a constraint edge lying on a barrier.
    fn barrier_bits(&self, barrier_segments: Vec<(Coord<f64>, Coord<f64>)>) -> Vec<u8> {
        let barrier_index = SegmentIndex::new(barrier_segments);
        let mut barrier_bits = vec![0u8; self.len()];
        if !barrier_index.is_empty() {
            barrier_bits.par_iter_mut().enumerate().with_min_len(1 << 14).for_each(|(t, bits)| {
                for i in 0..3 {
                    if self.constraint[t] & (1 << i) != 0 {
                        let a = self.points[self.tri[t][i] as usize];
                        let b = self.points[self.tri[t][(i + 1) % 3] as usize];
                        let mid = Coord { x: 0.5 * (a.x + b.x), y: 0.5 * (a.y + b.y) };
                        if barrier_index.near(mid, ON_BARRIER_TOL) {
                            *bits |= 1 << i;
                        }
                    }
                }
            });
        }
        barrier_bits
    }
}

/// Point tests against the domain's area (territory less water, and guides) and the footprints.
struct Locator<'a> {
    territory: PolygonIndex,
    water: PolygonIndex,
    /// The water's rings, for land slivers between water polygons.
    water_edges: SegmentIndex,
    has_water: bool,
    guides: PolygonIndex,
    has_guides: bool,
    footprints: &'a [Vec<Polygon<f64>>],
    /// Building of each footprint polygon in `footprint_boxes`.
    owners: Vec<u32>,
    footprint_boxes: BoxIndex,
}

impl<'a> Locator<'a> {
    /// Indexes the territory, the guides and the footprints' bounding boxes.
    fn new(territory: &Territory, guides: &MultiPolygon<f64>, footprints: &'a [Vec<Polygon<f64>>]) -> Locator<'a> {
        let (owners, boxes): (Vec<u32>, Vec<_>) = footprints.iter().enumerate().flat_map(|(b, polys)| polys.iter().map(move |p| (b as u32, p.bounding_rect()))).unzip();
        let footprint_boxes = BoxIndex::new(boxes);
        let water_edges = SegmentIndex::new(
            territory.water.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1]))),
        );
        Locator { territory: PolygonIndex::new(&territory.area), water: PolygonIndex::new(&territory.water), water_edges, has_water: !territory.water.0.is_empty(), guides: PolygonIndex::new(guides), has_guides: !guides.0.is_empty(), footprints, owners, footprint_boxes }
    }

    /// True when `c` lies in the territory (not in its water) or a guide.
    fn in_area(&self, c: Coord<f64>) -> bool {
        (self.territory.contains(c) && !self.in_water(c)) || (self.has_guides && self.guides.contains(c))
    }

    /// True when `c` lies in the territory's water.
    fn in_water(&self, c: Coord<f64>) -> bool {
        self.has_water && self.water.contains(c)
    }

    /// True when `c` lies within [`WATER_SLIVER_M`] of the water's edge.
    fn near_water(&self, c: Coord<f64>) -> bool {
        self.has_water && self.water_edges.near(c, WATER_SLIVER_M)
    }

    /// The buildings whose footprint holds `c`, ascending.
    fn containing(&self, c: Coord<f64>) -> Vec<u32> {
        let mut out: Vec<u32> =
            self.footprint_boxes.at(c).map(|i| self.owners[i]).filter(|&b| self.footprints[b as usize].iter().any(|p| p.contains(&c))).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The labels of the hull's triangles.
struct Labels {
    /// Whether each triangle lies in the domain.
    in_domain: Vec<bool>,
    /// Building holding each triangle (lowest index), or [`NONE`].
    owner: Vec<u32>,
    /// Pairs of buildings that must share a grid.
    tied: Vec<(u32, u32)>,
    /// Buildings whose footprint overlaps another's (ascending, each once).
    overlapping: Vec<u32>,
    /// Area of the territory's water left out of the domain.
    water_area: f64,
}

/// Up to `k` triangles of `members`, largest first, ties broken by centroid position (so the
/// choice does not depend on how the triangulation numbered them).
fn largest_triangles(hull: &Hull, members: &[u32], k: usize) -> Vec<usize> {
    let key = |t: usize| {
        let c = hull.centroid(t);
        (hull.area(t), c.x, c.y)
    };
    let mut best: Vec<(f64, f64, f64, usize)> = Vec::with_capacity(k + 1);
    for &t in members {
        let t = t as usize;
        let (a, x, y) = key(t);
        best.push((a, x, y, t));
        best.sort_by(|p, q| q.0.total_cmp(&p.0).then(p.1.total_cmp(&q.1)).then(p.2.total_cmp(&q.2)));
        best.truncate(k);
    }
    best.into_iter().map(|b| b.3).collect()
}

/// Labels the triangles region by region from one sample point each, tying buildings that overlap by more than [`OVERLAP_AREA`].
fn classify_regions(hull: &Hull, regions: &[Vec<u32>], footprints: &[Vec<Polygon<f64>>], territory: &Territory, guides: &MultiPolygon<f64>) -> Labels {
    let n_faces = hull.len();
    let locator = Locator::new(territory, guides, footprints);
    let mut in_domain = vec![false; n_faces];
    let mut owner = vec![NONE; n_faces];
    let mut tied = Vec::new();
    let mut overlapping = Vec::new();
    let mut water_area = 0.0;
    let mut note_water = |t: usize, inside: bool| {
        if !inside {
            let c = hull.centroid(t);
            if (locator.in_water(c) || locator.near_water(c)) && locator.territory.contains(c) {
                water_area += hull.area(t);
            }
        }
    };
    for members in regions {
        // The largest triangles (ties by position), whatever the numbering: the sample and the probes.
        let ranked = largest_triangles(hull, members, 4);
        let sample = ranked[0];
        let c = hull.centroid(sample);
        let holders = locator.containing(c);
        let in_territory = locator.in_area(c);
        let inside = !holders.is_empty() || in_territory;
        let first = holders.first().copied().unwrap_or(NONE);
        // A region should lie wholly in or out of the territory; check a few more triangles and
        // classify one by one if the boundary failed to close it.
        let probes: Vec<u32> = ranked[1..].iter().map(|&t| t as u32).collect();
        if holders.is_empty() && probes.iter().any(|&t| locator.in_area(hull.centroid(t as usize)) != in_territory) {
            for &t in members {
                in_domain[t as usize] = locator.in_area(hull.centroid(t as usize));
                note_water(t as usize, in_domain[t as usize]);
            }
            continue;
        }
        if holders.len() > 1 {
            overlapping.extend(holders.iter().copied());
            let area: f64 = members.iter().map(|&t| hull.area(t as usize)).sum();
            if area > OVERLAP_AREA {
                for &h in &holders[1..] {
                    tied.push((first, h));
                }
            }
        }
        if !inside && (locator.in_water(c) || locator.near_water(c)) {
            members.iter().for_each(|&t| note_water(t as usize, false));
        }
        for &t in members {
            in_domain[t as usize] = inside;
            owner[t as usize] = first;
        }
    }
    // Hairline slivers of land between water polygons (cut at tile edges) are water: every
    // triangle outside the footprints whose centroid lies within WATER_SLIVER_M of the water.
    if locator.has_water {
        for t in 0..n_faces {
            if in_domain[t] && owner[t] == NONE {
                let c = hull.centroid(t);
                if locator.near_water(c) && !(locator.has_guides && locator.guides.contains(c)) {
                    in_domain[t] = false;
                    water_area += hull.area(t);
                }
            }
        }
    }
    overlapping.sort_unstable();
    overlapping.dedup();
    Labels { in_domain, owner, tied, overlapping, water_area }
}

/// Ties each overlapping building whose interior point lies in another building's part of the mesh to that building.
fn tie_displaced_anchors(cdt: &ConstrainedDelaunayTriangulation<Point2<f64>>, hull: &Hull, buildings: &[Building], labels: &mut Labels) {
    // A building that overlaps others must hold its own interior point, else it shares a grid
    // with the building whose part of the mesh holds it.
    for &b in &labels.overlapping {
        let a = buildings[b as usize].anchor;
        let face = match cdt.locate(Point2::new(a.x, a.y)) {
            PositionInTriangulation::OnFace(f) => Some(f.index() - 1),
            PositionInTriangulation::OnEdge(e) => cdt.directed_edge(e).face().as_inner().map(|f| f.fix().index() - 1),
            PositionInTriangulation::OnVertex(v) => {
                cdt.vertex(v).out_edges().find_map(|e| e.face().as_inner()).map(|f| f.fix().index() - 1)
            }
            _ => None,
        };
        if let Some(t) = face.map(|f| hull.face_index[f] as usize) {
            if labels.owner[t] != NONE && labels.owner[t] != b {
                labels.tied.push((labels.owner[t], b));
            }
        }
    }
}

/// The mesh of the domain triangles only, renumbered in order.
fn keep_domain(hull: Hull, labels: Labels, barrier_bits: Vec<u8>, street_bits: Vec<u8>, fence_bits: Vec<u8>, refined: bool) -> Mesh {
    let n_faces = hull.len();
    let Labels { in_domain, owner, tied, water_area, .. } = labels;
    let Hull { points, tri: all_tri, nb: all_nb, .. } = hull;
    let mut new_index = vec![NONE; n_faces];
    let mut kept = 0u32;
    for t in 0..n_faces {
        if in_domain[t] {
            new_index[t] = kept;
            kept += 1;
        }
    }
    let mut mesh = Mesh { points, outside_triangles: n_faces - kept as usize, tied, refined, water_area, ..Default::default() };
    mesh.triangles.reserve(kept as usize);
    for t in 0..n_faces {
        if !in_domain[t] {
            continue;
        }
        mesh.triangles.push(all_tri[t]);
        mesh.neighbours.push(all_nb[t].map(|nb| if nb == NONE { NONE } else { new_index[nb as usize] }));
        mesh.barrier_edges.push(barrier_bits[t]);
        mesh.street_edges.push(street_bits[t]);
        if let Some(&bits) = fence_bits.get(t) {
            mesh.fence_edges.push(bits);
        }
        mesh.footprint_owner.push(owner[t]);
    }
    mesh
}

/// Positions along a Hilbert curve over the bounding box of a point set (a 2¹⁶ × 2¹⁶ grid).
struct HilbertCurve {
    min: Coord<f64>,
    scale: f64,
}

impl HilbertCurve {
    const SIDE: u32 = 1 << 16;

    fn over(points: &[Coord<f64>]) -> HilbertCurve {
        let (mut min, mut max) = (Coord { x: f64::INFINITY, y: f64::INFINITY }, Coord { x: f64::NEG_INFINITY, y: f64::NEG_INFINITY });
        for p in points {
            min = Coord { x: min.x.min(p.x), y: min.y.min(p.y) };
            max = Coord { x: max.x.max(p.x), y: max.y.max(p.y) };
        }
        let extent = (max.x - min.x).max(max.y - min.y);
        let scale = if extent > 0.0 && extent.is_finite() { (Self::SIDE - 1) as f64 / extent } else { 0.0 };
        HilbertCurve { min: if min.x.is_finite() { min } else { Coord::zero() }, scale }
    }

    /// The position of `p` along the curve.
    fn key(&self, p: Coord<f64>) -> u32 {
        let cell = |v: f64, lo: f64| (((v - lo) * self.scale).max(0.0) as u32).min(Self::SIDE - 1);
        let (mut x, mut y) = (cell(p.x, self.min.x), cell(p.y, self.min.y));
        let mut d: u32 = 0;
        let mut s = Self::SIDE / 2;
        while s > 0 {
            let rx = u32::from(x & s > 0);
            let ry = u32::from(y & s > 0);
            d = d.wrapping_add(s.wrapping_mul(s).wrapping_mul((3 * rx) ^ ry));
            if ry == 0 {
                if rx == 1 {
                    x = Self::SIDE - 1 - x;
                    y = Self::SIDE - 1 - y;
                }
                std::mem::swap(&mut x, &mut y);
            }
            s /= 2;
        }
        d
    }
}
