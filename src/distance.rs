//! Walking distance between units: straight line times a detour factor, or shortest paths over
//! a walkable network (see [`crate::network`]) where one is given.

use std::sync::Arc;

use geo::Coord;

use crate::config::PartitionConfig;
use crate::geom::dist;
use crate::graph::UnitGraph;
use crate::model::Model;
use crate::network::NetworkTable;

/// What the distance stage produces.
#[derive(Debug, Clone)]
pub struct Walks {
    /// How walks between units are measured.
    pub metric: Metric,
    /// The network, described for the summary (None without one).
    pub network: Option<String>,
    /// Remarks for the user (buildings that cannot reach the network).
    pub warnings: Vec<String>,
}

/// Distance stage: the walking metric between the units of `graph`.
pub fn walks(model: &Model, graph: &UnitGraph, config: &PartitionConfig) -> Walks {
    let positions: Vec<Coord<f64>> = graph.units.iter().map(|u| u.position).collect();
    let w = &config.walking;
    let radius = w.network_radius_m.max(config.bounds.max_walk_m.unwrap_or(0.0));
    let (metric, unreachable, network) = walking_metric(model.network.as_deref(), &positions, w.detour_factor, radius, w.network_max_access_m);
    let mut warnings = Vec::new();
    if !unreachable.is_empty() {
        let ids = crate::text::first_of(unreachable.iter().map(|&u| &model.buildings[graph.units[u as usize].buildings[0] as usize].id), unreachable.len(), 10, ", ");
        warnings.push(format!(
            "{} building(s) lie more than {} m from every walkable line and cannot reach the network ({ids}); \
             their walks are the straight line times {}",
            unreachable.len(),
            w.network_max_access_m,
            w.detour_factor
        ));
    }
    Walks { metric, network, warnings }
}

/// How walking distance is measured.
#[derive(Debug, Clone)]
pub enum Metric {
    /// Straight-line distance times `detour` (1.3 by default: streets are not straight).
    Straight {
        /// Detour factor (≥ 1).
        detour: f64,
    },
    /// Network distance from a precomputed table; pairs beyond the table's reach fall back to
    /// the straight line times `detour`.
    Network {
        /// Unit-to-unit network distances within the table's radius.
        table: Arc<NetworkTable>,
        /// Factor for pairs the table does not hold.
        detour: f64,
    },
}

impl Default for Metric {
    fn default() -> Self {
        Metric::Straight { detour: 1.0 }
    }
}

impl Metric {
    /// Walking distance between units `a` and `b` (indices into the unit graph) at positions
    /// `pa` and `pb` (working metres).
    #[inline]
    pub fn between(&self, a: u32, b: u32, pa: Coord<f64>, pb: Coord<f64>) -> f64 {
        match self {
            Metric::Straight { detour } => detour * dist(pa, pb),
            Metric::Network { table, detour } => {
                if a == b {
                    0.0
                } else {
                    table.get(a, b).unwrap_or_else(|| detour * dist(pa, pb).max(table.radius()))
                }
            }
        }
    }

    /// Short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Metric::Straight { detour } => format!("straight line × {detour}"),
            Metric::Network { table, .. } => format!("network shortest paths (within {:.0} m)", table.radius()),
        }
    }
}

/// The walking metric of a run: over the network when lines are given, else the straight line
/// times the detour factor. Also returns the units that cannot reach the network (they walk
/// the straight line to it) and a description of the network.
pub fn walking_metric(
    network: Option<&[geo::LineString<f64>]>,
    positions: &[Coord<f64>],
    detour: f64,
    radius: f64,
    max_access: f64,
) -> (Metric, Vec<u32>, Option<String>) {
    let Some(lines) = network else { return (Metric::Straight { detour }, Vec::new(), None) };
    let net = crate::network::RoadNetwork::build(lines);
    let attached: Vec<Option<crate::network::Attachment>> = positions.iter().map(|&c| net.attach(c, max_access)).collect();
    let unreachable: Vec<u32> = (0..positions.len() as u32).filter(|&u| attached[u as usize].is_none()).collect();
    let table = NetworkTable::compute(&net, &attached, radius);
    let about = format!(
        "{} walkable edges, {:.1} km; {} unit pairs within {radius:.0} m",
        net.edge_count(),
        net.length() / 1000.0,
        table.len()
    );
    (Metric::Network { table: Arc::new(table), detour }, unreachable, Some(about))
}
