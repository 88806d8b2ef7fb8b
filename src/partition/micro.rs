//! Micro-grids (微网格): each grid divided again into connected micro-grids within the micro
//! bounds, by the same partitioner on the grid's own units, so every micro-grid nests in exactly
//! one grid. A building with more households than the micro maximum is a micro-grid of its own.
//! Walks inside a grid are straight lines times the detour factor (micro-grids are a few
//! buildings; the network table is not consulted).

use rayon::prelude::*;

use super::{partition, Plan, ViolationKind};
use crate::config::{Bounds, MicroGrids, PartitionConfig, SolverConfig};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::graph::UnitGraph;

/// One micro-grid.
#[derive(Debug, Clone)]
pub struct MicroGrid {
    /// Index of its grid in [`Plan::grids`].
    pub grid: u32,
    /// Its units (global indices, ascending).
    pub units: Vec<u32>,
    /// Its households.
    pub households: f64,
    /// Its centre unit (global index).
    pub centre: u32,
}

/// A micro-grid outside the micro bounds, and why.
#[derive(Debug, Clone)]
pub struct MicroViolation {
    /// Index into [`MicroPlan::micro_grids`].
    pub micro: usize,
    /// Kind.
    pub kind: ViolationKind,
    /// Explanation.
    pub message: String,
}

/// The micro-grids of a plan.
#[derive(Debug, Clone)]
pub struct MicroPlan {
    /// Micro-grid of each unit (index into `micro_grids`).
    pub micro_of_unit: Vec<u32>,
    /// Micro-grids, grid by grid.
    pub micro_grids: Vec<MicroGrid>,
    /// Micro-grids outside the micro bounds.
    pub violations: Vec<MicroViolation>,
}

/// The configuration of the division of one grid: the micro bounds, no fixed count, no workers,
/// no walking limit, no exact solving or bound, straight walks.
fn micro_config(config: &PartitionConfig, lo: f64, hi: f64) -> PartitionConfig {
    PartitionConfig {
        bounds: Bounds { min_households: lo, max_households: hi, contiguity: config.bounds.contiguity, ..Bounds::default() },
        solver: SolverConfig { exact: false, polish: false, lp_bound: false, lower_bound: false, ..config.solver.clone() },
        micro: MicroGrids { micro_min: None, micro_max: None, ..config.micro.clone() },
        ..config.clone()
    }
}

/// Divides every grid of `plan` into micro-grids of `lo..=hi` households.
pub fn divide_grids(graph: &UnitGraph, plan: &Plan, config: &PartitionConfig, lo: f64, hi: f64, name: &(dyn Fn(u32) -> String + Sync)) -> Result<MicroPlan> {
    let sub_config = micro_config(config, lo, hi);
    sub_config.validate()?;
    let metric = Metric::Straight { detour: config.walking.detour_factor };
    let divided: Vec<Result<Plan>> = plan
        .grids
        .par_iter()
        .map(|grid| {
            let sub = graph.induced(&grid.units);
            let global = &grid.units;
            let sub_name = |u: u32| name(global[u as usize]);
            partition(&sub, &metric, &sub_config, &sub_name)
        })
        .collect();
    let mut micro_of_unit = vec![u32::MAX; graph.len()];
    let mut micro_grids = Vec::new();
    let mut violations = Vec::new();
    for (g, (grid, sub)) in plan.grids.iter().zip(divided).enumerate() {
        let sub = sub?;
        let first = micro_grids.len();
        for m in &sub.grids {
            let units: Vec<u32> = m.units.iter().map(|&u| grid.units[u as usize]).collect();
            for &u in &units {
                micro_of_unit[u as usize] = micro_grids.len() as u32;
            }
            micro_grids.push(MicroGrid { grid: g as u32, units, households: m.households, centre: grid.units[m.centre as usize] });
        }
        for v in sub.violations {
            violations.push(MicroViolation { micro: first + v.grid, kind: v.kind, message: v.message });
        }
    }
    if let Some(u) = micro_of_unit.iter().position(|&m| m == u32::MAX) {
        return Err(Error::Invariant { stage: "micro-grids", message: format!("unit {u} is in no micro-grid") });
    }
    for (i, m) in micro_grids.iter().enumerate() {
        if m.units.iter().any(|&u| plan.grid_of_unit[u as usize] != m.grid) {
            return Err(Error::Invariant { stage: "micro-grids", message: format!("micro-grid {i} leaves its grid {}", m.grid) });
        }
    }
    Ok(MicroPlan { micro_of_unit, micro_grids, violations })
}
