//! Walking network: roads and paths become a graph; each unit is attached to its nearest edge
//! (R-tree); bounded multi-source shortest paths from every unit (in parallel) give the
//! unit-to-unit network distances within a radius.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use geo::{Coord, LineString};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree};

use crate::geom::{dist, OrdF64};

/// A walking graph: nodes, edges with their lengths, and an R-tree of the edges.
pub struct RoadNetwork {
    nodes: Vec<Coord<f64>>,
    edges: Vec<(u32, u32, f64)>,
    offsets: Vec<u32>,
    adjacent: Vec<(u32, f64, u32)>, // (neighbour node, length, edge)
    tree: RTree<GeomWithData<Line<[f64; 2]>, u32>>,
}

/// Where a unit joins the network: a point on edge `edge` at fraction `t` from its first node,
/// `access` metres from the unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attachment {
    /// Edge index.
    pub edge: u32,
    /// Fraction along the edge from its first node.
    pub t: f64,
    /// Straight-line distance from the unit to the edge.
    pub access: f64,
}

/// Nodes closer than this (m) are merged; line ends this close to another line join it.
const SNAP_M: f64 = 1.0;

impl RoadNetwork {
    /// Builds the graph. Vertices within a centimetre are one node; a line's end near another
    /// line (a T-junction drawn without a shared vertex) is joined to it.
    pub fn build(lines: &[LineString<f64>]) -> RoadNetwork {
        let key = |c: Coord<f64>| ((c.x * 100.0).round() as i64, (c.y * 100.0).round() as i64);
        let mut index: HashMap<(i64, i64), u32> = HashMap::new();
        let mut nodes: Vec<Coord<f64>> = Vec::new();
        let mut node = |c: Coord<f64>, nodes: &mut Vec<Coord<f64>>| -> u32 {
            *index.entry(key(c)).or_insert_with(|| {
                nodes.push(c);
                (nodes.len() - 1) as u32
            })
        };
        let mut segs: Vec<(u32, u32)> = Vec::new();
        let mut ends: Vec<u32> = Vec::new();
        for l in lines {
            let ids: Vec<u32> = l.0.iter().map(|&c| node(c, &mut nodes)).collect();
            for w in ids.windows(2) {
                if w[0] != w[1] {
                    segs.push((w[0].min(w[1]), w[0].max(w[1])));
                }
            }
            if let (Some(&a), Some(&b)) = (ids.first(), ids.last()) {
                ends.push(a);
                ends.push(b);
            }
        }
        segs.sort_unstable();
        segs.dedup();
        // Join dangling ends that stop on another segment.
        let seg_tree: RTree<GeomWithData<Line<[f64; 2]>, u32>> = RTree::bulk_load(
            segs.iter()
                .enumerate()
                .map(|(i, &(a, b))| GeomWithData::new(Line::new(p(nodes[a as usize]), p(nodes[b as usize])), i as u32))
                .collect(),
        );
        let mut splits: HashMap<u32, Vec<u32>> = HashMap::new();
        ends.sort_unstable();
        ends.dedup();
        for &e in &ends {
            let c = p(nodes[e as usize]);
            for s in seg_tree.locate_within_distance(c, SNAP_M * SNAP_M) {
                let (a, b) = segs[s.data as usize];
                if a != e && b != e {
                    splits.entry(s.data).or_default().push(e);
                }
            }
        }
        let mut edges: Vec<(u32, u32, f64)> = Vec::with_capacity(segs.len());
        for (i, &(a, b)) in segs.iter().enumerate() {
            let mut chain = vec![a];
            if let Some(mid) = splits.get(&(i as u32)) {
                let (pa, pb) = (nodes[a as usize], nodes[b as usize]);
                let mut mid = mid.clone();
                let along = |n: u32| {
                    let c = nodes[n as usize];
                    (c.x - pa.x) * (pb.x - pa.x) + (c.y - pa.y) * (pb.y - pa.y)
                };
                mid.sort_by(|&x, &y| along(x).total_cmp(&along(y)).then(x.cmp(&y)));
                mid.dedup();
                chain.extend(mid);
            }
            chain.push(b);
            for w in chain.windows(2) {
                if w[0] != w[1] {
                    edges.push((w[0], w[1], dist(nodes[w[0] as usize], nodes[w[1] as usize])));
                }
            }
        }
        let mut deg = vec![0u32; nodes.len() + 1];
        for &(a, b, _) in &edges {
            deg[a as usize + 1] += 1;
            deg[b as usize + 1] += 1;
        }
        for i in 1..deg.len() {
            deg[i] += deg[i - 1];
        }
        let offsets = deg.clone();
        let mut fill = deg;
        let mut adjacent = vec![(0u32, 0.0f64, 0u32); edges.len() * 2];
        for (ei, &(a, b, len)) in edges.iter().enumerate() {
            adjacent[fill[a as usize] as usize] = (b, len, ei as u32);
            fill[a as usize] += 1;
            adjacent[fill[b as usize] as usize] = (a, len, ei as u32);
            fill[b as usize] += 1;
        }
        let tree = RTree::bulk_load(
            edges
                .iter()
                .enumerate()
                .map(|(i, &(a, b, _))| GeomWithData::new(Line::new(p(nodes[a as usize]), p(nodes[b as usize])), i as u32))
                .collect(),
        );
        RoadNetwork { nodes, edges, offsets, adjacent, tree }
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Total length of the edges (m).
    pub fn length(&self) -> f64 {
        self.edges.iter().map(|e| e.2).sum()
    }

    /// The nearest edge of `c`, when it lies within `max_access` metres.
    pub fn attach(&self, c: Coord<f64>, max_access: f64) -> Option<Attachment> {
        let nearest = self.tree.nearest_neighbor(&p(c))?;
        let d2 = nearest.distance_2(&p(c));
        if d2.sqrt() > max_access {
            return None;
        }
        let (a, b, _) = self.edges[nearest.data as usize];
        let (pa, pb) = (self.nodes[a as usize], self.nodes[b as usize]);
        let (dx, dy) = (pb.x - pa.x, pb.y - pa.y);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 { (((c.x - pa.x) * dx + (c.y - pa.y) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        Some(Attachment { edge: nearest.data, t, access: d2.sqrt() })
    }

    /// Shortest distances from an attachment to every node within `limit` metres of it.
    fn reach(&self, from: &Attachment, limit: f64, dist_to: &mut HashMap<u32, f64>) {
        dist_to.clear();
        let (a, b, len) = self.edges[from.edge as usize];
        let mut heap = BinaryHeap::new();
        for (n, d) in [(a, from.t * len), (b, (1.0 - from.t) * len)] {
            if d <= limit && dist_to.get(&n).is_none_or(|&x| d < x) {
                dist_to.insert(n, d);
                heap.push(Reverse((OrdF64(d), n)));
            }
        }
        while let Some(Reverse((OrdF64(d), n))) = heap.pop() {
            if dist_to.get(&n).is_some_and(|&x| d > x) {
                continue;
            }
            let (s, e) = (self.offsets[n as usize] as usize, self.offsets[n as usize + 1] as usize);
            for &(m, l, _) in &self.adjacent[s..e] {
                let nd = d + l;
                if nd <= limit && dist_to.get(&m).is_none_or(|&x| nd < x) {
                    dist_to.insert(m, nd);
                    heap.push(Reverse((OrdF64(nd), m)));
                }
            }
        }
    }
}

fn p(c: Coord<f64>) -> [f64; 2] {
    [c.x, c.y]
}

/// Network distances between units, for pairs within `radius` metres of walking.
#[derive(Debug, Clone)]
pub struct NetworkTable {
    radius: f64,
    rows: Vec<Vec<(u32, f32)>>,
}

impl NetworkTable {
    /// Distance from unit `a` to unit `b`, when within the radius.
    #[inline]
    pub fn get(&self, a: u32, b: u32) -> Option<f64> {
        let row = &self.rows[a as usize];
        row.binary_search_by_key(&b, |x| x.0).ok().map(|i| row[i].1 as f64)
    }

    /// The radius of the table.
    pub fn radius(&self) -> f64 {
        self.radius
    }

    /// Pairs stored.
    pub fn len(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// True when no pair is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Computes the table for units attached as given (None: cannot reach the network), walking
    /// at most `radius` metres (access walks included). Runs in parallel, one search per unit.
    pub fn compute(net: &RoadNetwork, attached: &[Option<Attachment>], radius: f64) -> NetworkTable {
        // Units attached to each edge.
        let mut on_edge: HashMap<u32, Vec<u32>> = HashMap::new();
        for (u, a) in attached.iter().enumerate() {
            if let Some(a) = a {
                on_edge.entry(a.edge).or_default().push(u as u32);
            }
        }
        let rows: Vec<Vec<(u32, f32)>> = (0..attached.len())
            .into_par_iter()
            .map_init(HashMap::new, |reached, u| {
                let Some(from) = attached[u] else { return Vec::new() };
                let budget = radius - from.access;
                if budget < 0.0 {
                    return Vec::new();
                }
                net.reach(&from, budget, reached);
                let mut best: HashMap<u32, f64> = HashMap::new();
                let mut offer = |v: u32, d: f64| {
                    if d <= radius {
                        let e = best.entry(v).or_insert(f64::INFINITY);
                        if d < *e {
                            *e = d;
                        }
                    }
                };
                // Units on the same edge: straight along it.
                let (_, _, len) = net.edges[from.edge as usize];
                for &v in on_edge.get(&from.edge).map(Vec::as_slice).unwrap_or(&[]) {
                    let to = attached[v as usize].expect("units listed on an edge are attached to it");
                    offer(v, from.access + (from.t - to.t).abs() * len + to.access);
                }
                // Units on edges with a reached end.
                for (&n, &dn) in reached.iter() {
                    let (s, e) = (net.offsets[n as usize] as usize, net.offsets[n as usize + 1] as usize);
                    for &(_, l, edge) in &net.adjacent[s..e] {
                        let (ea, _, _) = net.edges[edge as usize];
                        for &v in on_edge.get(&edge).map(Vec::as_slice).unwrap_or(&[]) {
                            let to = attached[v as usize].expect("units listed on an edge are attached to it");
                            let along = if ea == n { to.t * l } else { (1.0 - to.t) * l };
                            offer(v, from.access + dn + along + to.access);
                        }
                    }
                }
                best.remove(&(u as u32));
                let mut row: Vec<(u32, f32)> = best.into_iter().map(|(v, d)| (v, d as f32)).collect();
                row.sort_unstable_by_key(|x| x.0);
                row
            })
            .collect();
        NetworkTable { radius, rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pts: &[(f64, f64)]) -> LineString<f64> {
        LineString(pts.iter().map(|&(x, y)| Coord { x, y }).collect())
    }

    #[test]
    fn distances_follow_the_streets() {
        // An L-shaped street: (0,0)-(100,0)-(100,100); a T-junction drawn without a shared vertex.
        let net = RoadNetwork::build(&[ls(&[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)]), ls(&[(50.0, 50.0), (50.0, 0.2)])]);
        let units = [Coord { x: 0.0, y: 10.0 }, Coord { x: 110.0, y: 100.0 }, Coord { x: 55.0, y: 60.0 }, Coord { x: 900.0, y: 900.0 }];
        let attached: Vec<Option<Attachment>> = units.iter().map(|&c| net.attach(c, 50.0)).collect();
        assert!(attached[3].is_none(), "far unit cannot reach the network");
        let table = NetworkTable::compute(&net, &attached, 1000.0);
        // 10 (access) + 100 + 100 + 10 (access) = 220, not the straight 148.7.
        assert!((table.get(0, 1).unwrap() - 220.0).abs() < 0.1, "{:?}", table.get(0, 1));
        // Through the T-junction: 9.96 (access) + 50.0 (to the junction) + 49.8 (up the stub)
        // + 11.18 (from the stub's end at (50, 50) to (55, 60)).
        let d = table.get(0, 2).unwrap();
        assert!((d - 120.94).abs() < 0.05, "{d}");
        assert_eq!(table.get(0, 3), None);
        let small = NetworkTable::compute(&net, &attached, 150.0);
        assert_eq!(small.get(0, 1), None, "beyond the radius");
    }
}
