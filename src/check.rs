//! Check stage: the invariants of a plan and its polygons, verified independently of the code
//! that made them. Breaking a partition invariant is a bug and stops the run; polygon defects
//! are reported with the grid they concern.

use geo::{Contains, Coord, Intersects, Point};
use rayon::prelude::*;

use crate::config::PartitionConfig;
use crate::error::{Error, Result};
use crate::graph::{UnitGraph, NONE};
use crate::model::Model;
use crate::partition::region::Band;
use crate::partition::Plan;
use crate::tessellate::{GridShape, Tiling};

/// Check stage: the partition invariants of `plan` ([`check_plan`]; a broken one stops the run)
/// and the defects of its polygons ([`check_shapes`]), as (grid index, defect) pairs.
pub fn check(graph: &UnitGraph, plan: &Plan, tiling: &Tiling, model: &Model, config: &PartitionConfig) -> Result<Vec<(usize, ShapeDefect)>> {
    check_plan(graph, plan, config.bounds.min_households, config.bounds.upper_bound(), config.bounds.contiguity)?;
    let building_grid = plan.grid_of_buildings(graph, model.buildings.len());
    let anchors: Vec<Coord<f64>> = model.buildings.iter().map(|b| b.anchor).collect();
    check_shapes(&tiling.shapes, tiling.tiled_area, &building_grid, &anchors)
}

/// Every unit in exactly one grid, grid lists consistent, every grid connected in the unit
/// graph (when `contiguity`), and every grid outside [lo, hi] declared as a violation.
pub fn check_plan(graph: &UnitGraph, plan: &Plan, lo: f64, hi: f64, contiguity: bool) -> Result<()> {
    let fail = |message: String| Err(Error::Invariant { stage: "partition", message });
    let n = graph.len();
    if plan.grid_of_unit.len() != n {
        return fail(format!("{} units but {} assignments", n, plan.grid_of_unit.len()));
    }
    let mut seen = vec![0u32; n];
    for (gi, grid) in plan.grids.iter().enumerate() {
        if grid.units.is_empty() {
            return fail(format!("grid {gi} is empty"));
        }
        let mut load = 0.0;
        for &u in &grid.units {
            seen[u as usize] += 1;
            if plan.grid_of_unit[u as usize] != gi as u32 {
                return fail(format!("unit {u} listed in grid {gi} but assigned to {}", plan.grid_of_unit[u as usize]));
            }
            load += graph.units[u as usize].households;
        }
        if (load - grid.households).abs() > 1e-6 * load.max(1.0) {
            return fail(format!("grid {gi} reports {} households but holds {load}", grid.households));
        }
        if contiguity && !grid_connected(graph, &grid.units, &plan.grid_of_unit, gi as u32) {
            return fail(format!("grid {gi} is not connected"));
        }
        let declared = plan.violations.iter().any(|v| v.grid == gi);
        if !declared && (load < lo - Band::EPS || load > hi + Band::EPS) {
            return fail(format!("grid {gi} holds {load} households, outside [{lo}, {hi}], undeclared"));
        }
    }
    if let Some(u) = seen.iter().position(|&c| c != 1) {
        return fail(format!("unit {u} is in {} grids", seen[u]));
    }
    Ok(())
}

fn grid_connected(graph: &UnitGraph, units: &[u32], grid_of_unit: &[u32], g: u32) -> bool {
    let mut reached = std::collections::HashSet::with_capacity(units.len());
    let mut stack = vec![units[0]];
    reached.insert(units[0]);
    while let Some(u) = stack.pop() {
        for &v in graph.neighbours(u as usize) {
            if grid_of_unit[v as usize] == g && reached.insert(v) {
                stack.push(v);
            }
        }
    }
    reached.len() == units.len()
}

/// A defect of the grid polygons.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeDefect {
    /// The grid's polygon is empty.
    Empty,
    /// The grid's polygon has several pieces.
    Pieces(usize),
    /// A building's interior point lies outside its grid's polygon.
    BuildingOutside(u32),
}

/// Polygon checks: one piece per grid, the areas add up to the tiled area, and every building's
/// interior point lies in its grid. Returns (grid index, defect) pairs.
pub fn check_shapes(
    shapes: &[GridShape],
    tiled_area: f64,
    building_grid: &[u32],
    anchors: &[Coord<f64>],
) -> Result<Vec<(usize, ShapeDefect)>> {
    let mut defects = Vec::new();
    let mut total = 0.0;
    for (g, s) in shapes.iter().enumerate() {
        total += s.area;
        match s.polygons.0.len() {
            0 => defects.push((g, ShapeDefect::Empty)),
            1 => {}
            k => defects.push((g, ShapeDefect::Pieces(k))),
        }
    }
    if (total - tiled_area).abs() > 1e-6 * tiled_area.max(1.0) {
        return Err(Error::Invariant {
            stage: "tessellate",
            message: format!("grid areas add up to {total:.3} m² but the tiled area is {tiled_area:.3} m²"),
        });
    }
    let outside: Vec<(usize, ShapeDefect)> = (0..anchors.len())
        .into_par_iter()
        .filter_map(|b| {
            let g = building_grid[b];
            if g == NONE {
                return None;
            }
            let poly = &shapes[g as usize].polygons;
            let p = Point(anchors[b]);
            (!poly.contains(&p) && !poly.intersects(&p)).then_some((g as usize, ShapeDefect::BuildingOutside(b as u32)))
        })
        .collect();
    defects.extend(outside);
    Ok(defects)
}
