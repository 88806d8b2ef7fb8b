//! A region: one connected piece of the unit graph to be divided into a given number of grids,
//! with the bounds its grids must respect, and the state of its division (the parts).

use geo::Coord;

use crate::distance::Metric;
use crate::graph::UnitGraph;

/// Household bounds of the grids of one region (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Lowest load allowed.
    pub lo: f64,
    /// Highest load allowed.
    pub hi: f64,
}

impl Band {
    /// Tolerance for comparisons of sums of counts.
    pub const EPS: f64 = 1e-7;

    /// How far `load` lies outside the band (0 inside).
    #[inline]
    pub fn excess(&self, load: f64) -> f64 {
        if load < self.lo - Self::EPS {
            self.lo - load
        } else if load > self.hi + Self::EPS {
            load - self.hi
        } else {
            0.0
        }
    }

    /// True when `load` lies in the band.
    #[inline]
    pub fn holds(&self, load: f64) -> bool {
        self.excess(load) == 0.0
    }
}

/// The rules every division of a region must keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Household bounds.
    pub band: Band,
    /// Grids must be connected.
    pub contiguity: bool,
    /// Every unit within this walk of its grid's centre, when set.
    pub max_walk: Option<f64>,
    /// Cost per metre of grid boundary off the streets, in the objective's walk units (0: the
    /// local search minimises walks only).
    pub boundary_weight: f64,
}

/// The subgraph of a region with local indices `0..n`.
#[derive(Debug, Clone)]
pub struct LocalGraph {
    /// Unit index in the whole [`UnitGraph`] of each local unit.
    pub global: Vec<u32>,
    /// Households of each local unit (its load).
    pub weight: Vec<f64>,
    /// Objective weight of each local unit's walk.
    pub cost: Vec<f64>,
    /// How walking distance is measured.
    pub metric: Metric,
    /// Position of each local unit (working metres).
    pub pos: Vec<Coord<f64>>,
    /// CSR offsets.
    pub offsets: Vec<u32>,
    /// CSR neighbours (local indices).
    pub targets: Vec<u32>,
    /// Length (m) of each adjacency's shared boundary off the streets (parallel to `targets`;
    /// empty when unknown).
    pub off_street: Vec<f64>,
    /// Length (m) of each adjacency's shared boundary (parallel to `targets`; empty when unknown).
    pub shared: Vec<f64>,
    /// Block of each local unit ([`crate::graph::NONE`] when unknown).
    pub block: Vec<u32>,
}

impl LocalGraph {
    /// An R-tree of the local units' positions (data: local index), for candidate centres.
    pub fn position_tree(&self) -> rstar::RTree<rstar::primitives::GeomWithData<[f64; 2], u32>> {
        rstar::RTree::bulk_load(self.pos.iter().enumerate().map(|(u, p)| rstar::primitives::GeomWithData::new([p.x, p.y], u as u32)).collect())
    }

    /// The subgraph of `graph` induced by `units` (global indices, any order).
    pub fn induced(graph: &UnitGraph, units: &[u32], metric: &Metric) -> LocalGraph {
        let mut local = std::collections::HashMap::with_capacity(units.len());
        for (i, &u) in units.iter().enumerate() {
            local.insert(u, i as u32);
        }
        let mut offsets = Vec::with_capacity(units.len() + 1);
        let mut targets = Vec::new();
        let mut off_street = Vec::new();
        let mut shared = Vec::new();
        offsets.push(0);
        for &u in units {
            let start = graph.offsets[u as usize] as usize;
            for (k, &v) in graph.neighbours(u as usize).iter().enumerate() {
                if let Some(&lv) = local.get(&v) {
                    targets.push(lv);
                    off_street.push(graph.off_street.get(start + k).copied().unwrap_or(0.0));
                    shared.push(graph.shared_length.get(start + k).copied().unwrap_or(0.0));
                }
            }
            offsets.push(targets.len() as u32);
        }
        LocalGraph {
            global: units.to_vec(),
            weight: units.iter().map(|&u| graph.units[u as usize].households).collect(),
            cost: units.iter().map(|&u| graph.units[u as usize].cost_weight).collect(),
            metric: metric.clone(),
            pos: units.iter().map(|&u| graph.units[u as usize].position).collect(),
            offsets,
            targets,
            off_street,
            shared,
            block: units.iter().map(|&u| graph.units[u as usize].block).collect(),
        }
    }

    /// The subgraph induced by `members` (local indices of `self`); local index i of the
    /// result is `members[i]` of `self`.
    pub fn restricted(&self, members: &[u32]) -> LocalGraph {
        let mut local = vec![u32::MAX; self.len()];
        for (i, &u) in members.iter().enumerate() {
            local[u as usize] = i as u32;
        }
        let mut offsets = Vec::with_capacity(members.len() + 1);
        let mut targets = Vec::new();
        let mut off_street = Vec::new();
        let mut shared = Vec::new();
        offsets.push(0);
        for &u in members {
            let start = self.offsets[u as usize] as usize;
            for (k, &v) in self.neighbours(u as usize).iter().enumerate() {
                if local[v as usize] != u32::MAX {
                    targets.push(local[v as usize]);
                    off_street.push(self.off_street.get(start + k).copied().unwrap_or(0.0));
                    shared.push(self.shared.get(start + k).copied().unwrap_or(0.0));
                }
            }
            offsets.push(targets.len() as u32);
        }
        LocalGraph {
            global: members.iter().map(|&u| self.global[u as usize]).collect(),
            weight: members.iter().map(|&u| self.weight[u as usize]).collect(),
            cost: members.iter().map(|&u| self.cost[u as usize]).collect(),
            metric: self.metric.clone(),
            pos: members.iter().map(|&u| self.pos[u as usize]).collect(),
            offsets,
            targets,
            off_street,
            shared,
            block: members.iter().map(|&u| self.block[u as usize]).collect(),
        }
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    /// Length of boundary off the streets between unit `u` and its neighbours in each part:
    /// (with part `p`, with part `q`).
    pub fn off_street_with(&self, u: usize, part_of: &[u32], p: u32, q: u32) -> (f64, f64) {
        let (a, b) = (self.offsets[u] as usize, self.offsets[u + 1] as usize);
        let (mut with_p, mut with_q) = (0.0, 0.0);
        for k in a..b {
            let part = part_of[self.targets[k] as usize];
            let len = self.off_street.get(k).copied().unwrap_or(0.0);
            if part == p {
                with_p += len;
            } else if part == q {
                with_q += len;
            }
        }
        (with_p, with_q)
    }

    /// Walking distance between local units `a` and `b`.
    #[inline]
    pub fn d(&self, a: usize, b: usize) -> f64 {
        self.metric.between(self.global[a], self.global[b], self.pos[a], self.pos[b])
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }

    /// Neighbours of local unit `u`.
    #[inline]
    pub fn neighbours(&self, u: usize) -> &[u32] {
        &self.targets[self.offsets[u] as usize..self.offsets[u + 1] as usize]
    }

    /// Total households.
    pub fn total(&self) -> f64 {
        self.weight.iter().sum()
    }
}

/// A division of a region into parts.
#[derive(Debug, Clone)]
pub struct Parts {
    /// Part of each local unit.
    pub part_of: Vec<u32>,
    /// Households of each part.
    pub load: Vec<f64>,
    /// Number of units of each part.
    pub size: Vec<u32>,
    /// Centre (a local unit, the weighted medoid) of each part.
    pub centre: Vec<u32>,
}

impl Parts {
    /// Parts from a labelling (labels must be `0..k`).
    pub fn from_labels(g: &LocalGraph, part_of: Vec<u32>, k: usize) -> Parts {
        let mut load = vec![0.0; k];
        let mut size = vec![0u32; k];
        for (u, &p) in part_of.iter().enumerate() {
            load[p as usize] += g.weight[u];
            size[p as usize] += 1;
        }
        let mut parts = Parts { part_of, load, size, centre: vec![0; k] };
        for (p, members) in parts.all_members().iter().enumerate() {
            if !members.is_empty() {
                parts.centre[p] = super::medoid::weighted_medoid(g, members, None);
            }
        }
        parts
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.load.len()
    }

    /// True when there is no part.
    pub fn is_empty(&self) -> bool {
        self.load.is_empty()
    }

    /// Units of part `p` (ascending).
    pub fn members(&self, p: usize) -> Vec<u32> {
        self.part_of.iter().enumerate().filter(|(_, &q)| q as usize == p).map(|(u, _)| u as u32).collect()
    }

    /// Units of every part, in one pass.
    pub fn all_members(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.len()];
        for (u, &p) in self.part_of.iter().enumerate() {
            out[p as usize].push(u as u32);
        }
        out
    }

    /// Moves unit `u` to part `to`.
    pub fn assign(&mut self, g: &LocalGraph, u: usize, to: u32) {
        let from = self.part_of[u] as usize;
        self.load[from] -= g.weight[u];
        self.size[from] -= 1;
        self.load[to as usize] += g.weight[u];
        self.size[to as usize] += 1;
        self.part_of[u] = to;
    }

    /// Household-weighted distance of every unit to its part's centre.
    pub fn cost(&self, g: &LocalGraph) -> f64 {
        (0..g.len()).map(|u| g.cost[u] * g.d(u, self.centre[self.part_of[u] as usize] as usize)).sum()
    }

    /// True when part `p` stays connected once unit `u` (one of its members) leaves it.
    /// Parts are connected before every move, so it suffices that the members next to `u` still
    /// reach each other; the search stops as soon as they do. `mark` must be all-false on entry
    /// and is left all-false.
    pub fn stays_connected_without(&self, g: &LocalGraph, u: usize, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> bool {
        let p = self.part_of[u];
        if self.size[p as usize] <= 2 {
            return true;
        }
        let mut near: Vec<u32> = g.neighbours(u).iter().copied().filter(|&v| self.part_of[v as usize] == p).collect();
        near.sort_unstable();
        near.dedup();
        match near.len() {
            0 => return false,
            1 => return true,
            _ => {}
        }
        if mark.len() < g.len() {
            mark.resize(g.len(), false);
        }
        let mut visited = Vec::with_capacity(16);
        stack.clear();
        let start = near[0];
        mark[start as usize] = true;
        visited.push(start);
        stack.push(start);
        let mut found = 1;
        'search: while let Some(x) = stack.pop() {
            for &v in g.neighbours(x as usize) {
                let vi = v as usize;
                if vi != u && !mark[vi] && self.part_of[vi] == p {
                    mark[vi] = true;
                    visited.push(v);
                    stack.push(v);
                    if near.binary_search(&v).is_ok() {
                        found += 1;
                        if found == near.len() {
                            break 'search;
                        }
                    }
                }
            }
        }
        for v in visited {
            mark[v as usize] = false;
        }
        found == near.len()
    }

    /// True when every part is connected (a full check, for invariants and tests).
    pub fn all_connected(&self, g: &LocalGraph) -> bool {
        let members = self.all_members();
        let mut seen = vec![false; g.len()];
        members.iter().enumerate().all(|(p, m)| {
            if m.len() <= 1 {
                return true;
            }
            let mut stack = vec![m[0]];
            seen[m[0] as usize] = true;
            let mut count = 1;
            while let Some(x) = stack.pop() {
                for &v in g.neighbours(x as usize) {
                    if !seen[v as usize] && self.part_of[v as usize] as usize == p {
                        seen[v as usize] = true;
                        count += 1;
                        stack.push(v);
                    }
                }
            }
            count == m.len()
        })
    }
}
