//! Workers to grids: each grid of the result gets a worker whose capacity holds it, near home
//! when homes are known (see [`crate::workers::staff`]).

use geo::Coord;

use super::numbering::Numbering;
use super::GridReport;
use crate::config::PartitionConfig;
use crate::error::Result;
use crate::model::Model;
use crate::solver::SolverOptions;
use crate::workers::{self, Staffing, Worker};

/// Staffs `grids` (in id order) with `workers`; `grids_wanted` is how many grids the bounds
/// called for before any cap by the number of workers. Returns the staffing and a warning for
/// workers left without a grid.
pub fn staff_grids(workers: &[Worker], grids: &mut [GridReport], model: &Model, numbering: &Numbering, grids_wanted: usize, config: &PartitionConfig) -> Result<(Staffing, Option<String>)> {
    let households: Vec<f64> = grids.iter().map(|g| g.households).collect();
    let centres: Vec<Coord<f64>> = numbering.order.iter().map(|&g| model.buildings[numbering.centre_building[g] as usize].anchor).collect();
    let options = SolverOptions { mip_gap: 1e-6, ..SolverOptions::of(&config.solver, None) };
    let mut s = workers::staff(workers, &households, &centres, &options)?;
    // When the workers capped the number of grids, the shortfall is what the bounds wanted.
    s.additional_workers_needed = s.additional_workers_needed.max(grids_wanted.saturating_sub(workers.len()));
    for (g, w) in s.worker_of_grid.iter().enumerate() {
        grids[g].worker = w.map(|w| (workers[w].id.clone(), workers[w].kind.clone()));
    }
    let warning = (!s.unassigned_workers.is_empty())
        .then(|| format!("{} worker(s) have no grid: {}", s.unassigned_workers.len(), s.unassigned_workers.iter().take(20).cloned().collect::<Vec<_>>().join(", ")));
    Ok((s, warning))
}
