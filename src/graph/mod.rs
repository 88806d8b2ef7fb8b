//! Graph stage: buildings → units (buildings that must share a grid) and the adjacency between
//! them. Two units are neighbours when their cells of the domain mesh share a boundary that is
//! not a barrier, and their footprints are no farther apart than `max_edge_m`. Cells stop at
//! streets and meet midway between footprints; the blocks (enclosures of streets, barriers and
//! the territory boundary) are numbered.

pub mod blocks;
pub mod cells;
pub mod mesh;
pub mod midlines;
mod noding;

use rustc_hash::FxHashMap as HashMap;

use geo::{Coord, Distance, Euclidean, MultiPolygon};
use rayon::prelude::*;

pub use self::blocks::{blocks_of, Blocks};
pub use self::cells::{build_cells, Cells};
pub use self::mesh::{build_mesh, footprint_polygons, Mesh, NONE};
use crate::config::PartitionConfig;
use crate::error::{Error, Result};
use crate::geom::dist;
use crate::model::{Building, Model};

/// What the graph stage produces: the mesh, the cells of the units and their adjacency graph.
pub struct Graphed {
    /// The constrained triangulation of the territory and the footprints.
    pub mesh: Mesh,
    /// Units and the cell (triangles) of each.
    pub cells: Cells,
    /// The units and their adjacency.
    pub graph: UnitGraph,
    /// The blocks of the territory and the block of each unit.
    pub blocks: Blocks,
    /// Remarks for the user (mesh not refined, cells shared out, ...).
    pub warnings: Vec<String>,
}

/// Graph stage: the mesh of the territory and the footprints (following the rings of locked
/// grid polygons, so they can be kept exactly), the cells and the unit graph.
pub fn build(model: &Model, config: &PartitionConfig) -> Result<Graphed> {
    let guides = MultiPolygon(model.locked_shapes().iter().flat_map(|l| l.working.0.iter().cloned()).collect());
    let mut warnings = Vec::new();
    // Streets and compound outlines: preferred boundaries.
    let preferred: Vec<geo::LineString<f64>> = model.streets.iter().cloned().chain(model.compounds.outlines()).collect();
    let mut streets: &[geo::LineString<f64>] = &preferred;
    // Community boundaries are fences: barriers that nothing is shared across.
    let (barriers, fences) = (&model.barriers, &model.communities.boundaries);
    crate::progress::trace("graph: start");
    let mut coarse = match build_mesh(&model.buildings, &model.territory, barriers, fences, streets, &guides) {
        Err(Error::Triangulation { message }) if !streets.is_empty() => {
            // Streets are a preference: rather than no grids, grids without them.
            warnings.push(format!("the triangulation failed with the streets and compound outlines ({message}): the grids were drawn without them"));
            streets = &[];
            build_mesh(&model.buildings, &model.territory, barriers, fences, streets, &guides)?
        }
        other => other?,
    };
    crate::progress::trace("graph: mesh");
    let label = |b: u32| model.buildings[b as usize].name();
    let mut coarse_cells = build_cells(&coarse, model.buildings.len(), &label);
    crate::progress::trace("graph: cells");
    if let Some(territory) = ponds_kept(model, &coarse, &coarse_cells) {
        // Land no building reaches inside small water bodies (an island in a pond): the pond
        // stays in the grids, so that the island is not a hole in them.
        coarse = build_mesh(&model.buildings, &territory, barriers, fences, streets, &guides)?;
        coarse_cells = build_cells(&coarse, model.buildings.len(), &label);
    }
    if !coarse.refined {
        warnings.push("the mesh could not be refined: grid boundaries run from building corner to building corner".into());
    }
    warnings.extend(coarse_cells.warnings.iter().cloned());
    let (mesh, cells) = {
        let on_guide = guide_edges(&guides);
        midlines::split_at_midlines(coarse, coarse_cells, &model.buildings, &on_guide, &label)
    };
    crate::progress::trace("graph: midlines");
    let blocks = blocks_of(&mesh, &cells);
    crate::progress::trace("graph: blocks");
    let graph = build_unit_graph(model, &mesh, &cells, &blocks, config.graph.max_edge_m);
    crate::progress::trace("graph: unit graph");
    warnings.extend(mixed_communities(model, &graph));
    Ok(Graphed { mesh, cells, graph, blocks, warnings })
}

/// Remarks on units whose buildings lie in different communities (overlapping footprints tie
/// them): such a unit goes with the community of its first building.
fn mixed_communities(model: &Model, graph: &UnitGraph) -> Vec<String> {
    if !model.communities.is_nested() {
        return Vec::new();
    }
    let mixed: Vec<String> = graph
        .units
        .iter()
        .filter(|u| u.buildings.iter().any(|&b| model.buildings[b as usize].community != model.buildings[u.buildings[0] as usize].community))
        .map(|u| u.buildings.iter().map(|&b| model.buildings[b as usize].name()).collect::<Vec<_>>().join("+"))
        .collect();
    if mixed.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} group(s) of overlapping buildings span two communities and were kept with the community of their first building: {}",
        mixed.len(),
        crate::text::first_of(mixed.iter().cloned(), mixed.len(), 10, ", ")
    )]
}

/// Water bodies smaller than this (m²) that hold land no building reaches stay in the grids.
const POND_MAX_M2: f64 = 100_000.0;

/// The territory with the small water bodies next to unreachable land kept in (None when there
/// is no such land).
fn ponds_kept(model: &Model, mesh: &Mesh, cells: &Cells) -> Option<crate::model::Territory> {
    use geo::Area;
    let water = &model.territory.water;
    if water.0.is_empty() || cells.unclaimed_area <= 0.0 {
        return None;
    }
    // An island: unreached land inside a water polygon's outer ring (in one of its holes).
    let islands: Vec<geo::Point<f64>> = (0..mesh.len()).filter(|&t| cells.unit_of_triangle[t] == NONE).map(|t| geo::Point(mesh.centroid(t))).collect();
    let near = |p: &geo::Polygon<f64>| {
        let shell = geo::Polygon::new(p.exterior().clone(), vec![]);
        !p.interiors().is_empty() && islands.iter().any(|q| geo::Contains::contains(&shell, q))
    };
    let (kept, left_out): (Vec<_>, Vec<_>) = water.0.iter().cloned().partition(|p| p.unsigned_area() < POND_MAX_M2 && near(p));
    if kept.is_empty() {
        return None;
    }
    Some(crate::model::Territory { water: MultiPolygon(left_out), ..model.territory.clone() })
}

/// Marks the mesh edges that lie on a guide ring (a locked grid's polygon), which the midline
/// split must not cut.
fn guide_edges(guides: &MultiPolygon<f64>) -> impl Fn(&Mesh, usize, usize) -> bool + Sync {
    let index = (!guides.0.is_empty()).then(|| {
        crate::geom::SegmentIndex::new(
            guides.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1]))),
        )
    });
    move |mesh: &Mesh, t: usize, i: usize| {
        let Some(index) = &index else { return false };
        let (a, b) = mesh.edge(t, i);
        index.near(Coord { x: 0.5 * (a.x + b.x), y: 0.5 * (a.y + b.y) }, 1e-4)
    }
}

/// A group of buildings that always share a grid (normally one building).
#[derive(Debug, Clone)]
pub struct Unit {
    /// Building indices, ascending.
    pub buildings: Vec<u32>,
    /// Households of all its buildings (the load a grid carries).
    pub households: f64,
    /// Weight of its walks in the objective (households, buildings or a column; see the config).
    pub cost_weight: f64,
    /// Household-weighted mean of the buildings' interior points (working metres).
    pub position: Coord<f64>,
    /// Block (enclosure of streets, compound outlines, barriers and the territory boundary)
    /// holding the unit, as numbered by [`Blocks`]; [`NONE`] when unknown.
    pub block: u32,
}

/// Units and their adjacency (compressed sparse rows, neighbours ascending).
#[derive(Debug, Clone)]
pub struct UnitGraph {
    /// The units.
    pub units: Vec<Unit>,
    /// Row offsets into `targets` (length `units.len() + 1`).
    pub offsets: Vec<u32>,
    /// Neighbour unit of each adjacency.
    pub targets: Vec<u32>,
    /// Length (m) of the boundary shared by the two cells.
    pub shared_length: Vec<f64>,
    /// Length (m) of that boundary that does not run along a street.
    pub off_street: Vec<f64>,
    /// Cell contacts dropped because the footprints were farther apart than `max_edge_m`.
    pub dropped_long: usize,
}

impl UnitGraph {
    /// Names unit `u` in messages: its building's id, or the ids of its overlapping buildings
    /// (`A+B+C`).
    pub fn unit_name(&self, u: u32, buildings: &[Building]) -> String {
        let bs = &self.units[u as usize].buildings;
        crate::text::first_of(bs.iter().map(|&b| buildings[b as usize].name()), bs.len(), 6, "+")
    }

    /// Neighbours of unit `u`.
    #[inline]
    pub fn neighbours(&self, u: usize) -> &[u32] {
        &self.targets[self.offsets[u] as usize..self.offsets[u + 1] as usize]
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when some shared boundary runs along a street or compound outline (at least 1 cm).
    pub fn has_boundary_along_streets(&self) -> bool {
        self.shared_length.iter().zip(&self.off_street).any(|(shared, off)| shared - off >= 0.01)
    }

    /// True when there is no unit.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Connected component of each unit, numbered in order of their lowest unit.
    pub fn components(&self) -> (Vec<u32>, usize) {
        let (comp, all) = crate::pieces::pieces(self.len(), |_| true, |u, visit| {
            for &v in self.neighbours(u) {
                visit(v as usize);
            }
        });
        (comp, all.len())
    }

    /// Builds a graph from explicit units and undirected edges (used by tests and benches).
    pub fn from_edges(units: Vec<Unit>, edges: &[(u32, u32)]) -> UnitGraph {
        let mut map: HashMap<(u32, u32), (f64, f64)> = HashMap::default();
        for &(a, b) in edges {
            if a != b {
                map.insert((a.min(b), a.max(b)), (1.0, 1.0));
            }
        }
        Self::from_pairs(units, map, 0)
    }

    /// The subgraph induced by `units` (distinct global indices, any order): unit `i` of the result is
    /// `units[i]`; adjacencies between kept units and their shared lengths are kept.
    pub fn induced(&self, units: &[u32]) -> UnitGraph {
        let local: HashMap<u32, u32> = units.iter().enumerate().map(|(i, &u)| (u, i as u32)).collect();
        let mut pairs = HashMap::default();
        for (i, &u) in units.iter().enumerate() {
            let (a, b) = (self.offsets[u as usize] as usize, self.offsets[u as usize + 1] as usize);
            for k in a..b {
                if let Some(&j) = local.get(&self.targets[k]) {
                    if (i as u32) < j {
                        pairs.insert((i as u32, j), (self.shared_length[k], self.off_street[k]));
                    }
                }
            }
        }
        Self::from_pairs(units.iter().map(|&u| self.units[u as usize].clone()).collect(), pairs, 0)
    }

    fn from_pairs(units: Vec<Unit>, pairs: HashMap<(u32, u32), (f64, f64)>, dropped_long: usize) -> UnitGraph {
        let n = units.len();
        let mut adj: Vec<Vec<(u32, (f64, f64))>> = vec![Vec::new(); n];
        for (&(a, b), &len) in &pairs {
            adj[a as usize].push((b, len));
            adj[b as usize].push((a, len));
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut targets = Vec::new();
        let mut shared_length = Vec::new();
        let mut off_street = Vec::new();
        offsets.push(0);
        for list in &mut adj {
            list.sort_by_key(|x| x.0);
            for &(v, (l, off)) in list.iter() {
                targets.push(v);
                shared_length.push(l);
                off_street.push(off);
            }
            offsets.push(targets.len() as u32);
        }
        UnitGraph { units, offsets, targets, shared_length, off_street, dropped_long }
    }
}

/// Builds the unit graph from the labelled mesh.
pub fn build_unit_graph(model: &Model, mesh: &Mesh, cells: &Cells, blocks: &Blocks, max_edge_m: f64) -> UnitGraph {
    let units: Vec<Unit> = cells
        .unit_buildings
        .iter()
        .enumerate()
        .map(|(u, bs)| {
            let households: f64 = bs.iter().map(|&b| model.buildings[b as usize].households).sum();
            let (mut x, mut y, mut w) = (0.0, 0.0, 0.0);
            for &b in bs {
                let bd = &model.buildings[b as usize];
                let wt = bd.households + 1e-3;
                x += wt * bd.anchor.x;
                y += wt * bd.anchor.y;
                w += wt;
            }
            let cost_weight: f64 = bs.iter().map(|&b| model.buildings[b as usize].cost_weight).sum();
            Unit { buildings: bs.clone(), households, cost_weight, position: Coord { x: x / w, y: y / w }, block: blocks.block_of_unit[u] }
        })
        .collect();

    let label = &cells.unit_of_triangle;
    let mut micro_pairs: HashMap<(u32, u32), (i64, i64)> = HashMap::default();
    for t in 0..mesh.len() {
        for i in 0..3 {
            let nb = mesh.neighbours[t][i];
            if nb == NONE || (nb as usize) < t || mesh.is_barrier(t, i) {
                continue;
            }
            let (a, b) = (label[t], label[nb as usize]);
            if a == b || a == NONE || b == NONE || !cells.walkable[t] || !cells.walkable[nb as usize] {
                continue;
            }
            // Summed in whole micrometres: the same total in any triangle order (the boundary
            // term must not depend on how the triangulation numbered the triangles).
            let (p, q) = mesh.edge(t, i);
            let len = (dist(p, q) * 1e6).round() as i64;
            let entry = micro_pairs.entry((a.min(b), a.max(b))).or_insert((0, 0));
            entry.0 += len;
            if !mesh.is_street(t, i) {
                entry.1 += len;
            }
        }
    }
    // Totals in whole centimetres: coordinates that differ in the last digits (another CRS or
    // format of the same data) give the same lengths, so the boundary term decides alike.
    let cm = |micro: i64| ((micro as f64) * 1e-4).round() * 1e-2;
    let mut pairs: HashMap<(u32, u32), (f64, f64)> = micro_pairs.into_iter().map(|(k, (l, o))| (k, (cm(l), cm(o)))).collect();
    // Drop contacts between footprints farther apart than max_edge_m.
    let far: Vec<(u32, u32)> = pairs
        .keys()
        .filter(|&&(a, b)| dist(units[a as usize].position, units[b as usize].position) > max_edge_m)
        .copied()
        .collect();
    let footprint = |u: u32| -> MultiPolygon<f64> {
        MultiPolygon(units[u as usize].buildings.iter().flat_map(|&b| footprint_polygons(&model.buildings[b as usize])).collect())
    };
    let too_far: Vec<(u32, u32)> = far
        .par_iter()
        .filter(|&&(a, b)| Euclidean.distance(&footprint(a), &footprint(b)) > max_edge_m)
        .copied()
        .collect();
    for k in &too_far {
        pairs.remove(k);
    }
    // Communities are divided on their own: no edge between two of them.
    if model.communities.is_nested() {
        let community = |u: u32| model.buildings[units[u as usize].buildings[0] as usize].community;
        pairs.retain(|&(a, b), _| community(a) == community(b));
    }
    drop_point_contacts(&mut pairs, units.len());
    UnitGraph::from_pairs(units, pairs, too_far.len())
}

/// Cells that touch over less than this (m) are not adjacent: where four or more cells meet
/// at one point (buildings on a lattice, cocircular corners), which pairs share a sliver of
/// boundary depends on how the triangulation happened to number its triangles, and a grid
/// joined only there would be a polygon pinched to a point. (Kept small: contacts of a few
/// decimetres between terraced buildings at block corners are real.)
pub const MIN_CONTACT_M: f64 = 0.05;

/// Removes the contacts shorter than [`MIN_CONTACT_M`], except a unit's longest contact when all
/// of its contacts are that short (it keeps a neighbour).
fn drop_point_contacts(pairs: &mut HashMap<(u32, u32), (f64, f64)>, n_units: usize) {
    let mut has_long = vec![false; n_units];
    for (&(a, b), &(len, _)) in pairs.iter() {
        if len >= MIN_CONTACT_M {
            has_long[a as usize] = true;
            has_long[b as usize] = true;
        }
    }
    // For each unit with only short contacts, its longest one (ties to the lower neighbour).
    let mut keep: HashMap<u32, ((u32, u32), f64)> = HashMap::default();
    for (&(a, b), &(len, _)) in pairs.iter() {
        for u in [a, b] {
            if !has_long[u as usize] {
                let e = keep.entry(u).or_insert(((a, b), len));
                if len > e.1 || (len == e.1 && (a, b) < e.0) {
                    *e = ((a, b), len);
                }
            }
        }
    }
    let kept: rustc_hash::FxHashSet<(u32, u32)> = keep.values().map(|(k, _)| *k).collect();
    pairs.retain(|k, (len, _)| *len >= MIN_CONTACT_M || kept.contains(k));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_contacts_are_dropped_unless_a_unit_would_lose_its_last_neighbour() {
        // Units 0-3 on a 2 × 2 lattice: sides 10 m, diagonals a sliver; unit 4 touches units 2
        // and 3 only by slivers (1 and 2 cm): it keeps the longer one.
        let mut pairs: HashMap<(u32, u32), (f64, f64)> = HashMap::default();
        for (k, len) in [((0, 1), 10.0), ((0, 2), 10.0), ((1, 3), 10.0), ((2, 3), 10.0), ((0, 3), 1e-5), ((1, 2), 0.03), ((2, 4), 0.01), ((3, 4), 0.02)] {
            pairs.insert(k, (len, len));
        }
        drop_point_contacts(&mut pairs, 5);
        let mut kept: Vec<(u32, u32)> = pairs.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)]);
    }
}
