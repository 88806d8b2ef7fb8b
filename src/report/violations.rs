//! The violations of the result: grids that miss a bound (from the partition), polygon defects
//! (from the check) and grids left without a worker, each with its reason, in grid id order.

use super::grids::Membership;
use super::numbering::Numbering;
use super::{GridReport, ViolationReport};
use crate::check::ShapeDefect;
use crate::config::PartitionConfig;
use crate::model::split::SplitReport;
use crate::model::Model;
use crate::partition::{Plan, ViolationKind};
use crate::read::FeatureId;
use crate::text::count;
use crate::workers::{Staffing, Worker};

/// Building ids listed per violation at most.
const LISTED: usize = 50;

/// Everything [`violation_reports`] reads.
pub struct ViolationInputs<'a> {
    /// The model.
    pub model: &'a Model,
    /// The plan.
    pub plan: &'a Plan,
    /// Its members.
    pub members: &'a Membership,
    /// Its numbering.
    pub numbering: &'a Numbering,
    /// Polygon defects found by the check, by plan grid.
    pub defects: &'a [(usize, ShapeDefect)],
    /// Split buildings (to explain oversize ones).
    pub split: &'a SplitReport,
    /// The grids, in id order.
    pub grids: &'a [GridReport],
    /// The workers and their staffing, when workers are given.
    pub staffing: Option<(&'a [Worker], &'a Staffing)>,
}

/// Every violation, sorted by grid id.
pub fn violation_reports(input: &ViolationInputs, config: &PartitionConfig) -> Vec<ViolationReport> {
    let (model, plan, id_of) = (input.model, input.plan, &input.numbering.id_of);
    let ids_of = |g: usize| -> Vec<FeatureId> {
        // Parts of a split building name it once.
        let mut ids: Vec<FeatureId> = input.members.grid_buildings[g].iter().map(|&b| model.buildings[b as usize].id.clone()).collect();
        ids.dedup();
        ids.truncate(LISTED);
        ids
    };
    let mut out: Vec<ViolationReport> = plan
        .violations
        .iter()
        .map(|v| ViolationReport {
            grid_id: id_of[v.grid].clone(),
            kind: v.kind,
            message: match v.kind {
                ViolationKind::OversizeBuilding => input.split.explain(&v.message, input.members.grid_buildings[v.grid].iter().map(|&b| &model.buildings[b as usize])),
                _ => v.message.clone(),
            },
            households: plan.grids[v.grid].households,
            buildings: ids_of(v.grid),
            unavoidable: v.unavoidable,
        })
        .collect();
    for (g, d) in input.defects.iter().filter(|(_, d)| config.bounds.contiguity || !matches!(d, ShapeDefect::Pieces(_))) {
        let (kind, message) = match d {
            ShapeDefect::Empty => (ViolationKind::PolygonEmpty, "the grid has no polygon area".to_string()),
            ShapeDefect::Pieces(k) => (ViolationKind::PolygonPieces, format!("the grid polygon has {k} pieces")),
            ShapeDefect::BuildingOutside(b) => (ViolationKind::BuildingOutsidePolygon, format!("building {} lies outside its grid polygon", model.buildings[*b as usize].id)),
        };
        out.push(ViolationReport { grid_id: id_of[*g].clone(), kind, message, households: plan.grids[*g].households, buildings: ids_of(*g), unavoidable: false });
    }
    if let Some((workers, s)) = input.staffing {
        let biggest = workers.iter().map(|w| w.capacity).fold(0.0, f64::max);
        for &g in &s.grids_without_worker {
            let grid = &input.grids[g];
            out.push(ViolationReport {
                grid_id: grid.id.clone(),
                kind: ViolationKind::Unstaffed,
                message: format!(
                    "no worker is left for this grid of {} households ({} workers, capacities up to {}): {} more worker(s) needed",
                    count(grid.households),
                    workers.len(),
                    count(biggest),
                    s.additional_workers_needed
                ),
                households: grid.households,
                buildings: input.members.grid_buildings[input.numbering.order[g]].iter().take(LISTED).map(|&b| model.buildings[b as usize].id.clone()).collect(),
                unavoidable: false,
            });
        }
    }
    out.sort_by(|a, b| a.grid_id.cmp(&b.grid_id));
    out
}
