//! Walks of the result: each grid's household-weighted mean and longest walk to its centre
//! building, the objective (walks weighted as configured), and the household-weighted
//! straight-line walk that compares with other tools.

use geo::Coord;

use super::grids::Membership;
use crate::distance::Metric;
use crate::graph::Graphed;
use crate::model::Model;
use crate::partition::walk_stats;

/// The walk figures of a plan.
#[derive(Debug, Clone)]
pub struct WalkFigures {
    /// Per plan grid: (household-weighted sum, household-weighted mean, longest walk) in metres.
    pub per_grid: Vec<(f64, f64, f64)>,
    /// Sum over buildings of their weight × walk to their grid's centre building.
    pub objective: f64,
    /// Household-weighted mean straight-line distance to the centre building (m).
    pub mean_straight_m: f64,
}

/// The walks of every building to its grid's centre building (`centre_building`, per plan grid).
pub fn walk_figures(model: &Model, graphed: &Graphed, metric: &Metric, members: &Membership, centre_building: &[u32]) -> WalkFigures {
    let unit_of_building = &graphed.cells.unit_of_building;
    let positions: Vec<Coord<f64>> = graphed.graph.units.iter().map(|u| u.position).collect();
    let walk = |b: u32, c: u32| {
        let (ub, uc) = (unit_of_building[b as usize], unit_of_building[c as usize]);
        metric.between(ub, uc, positions[ub as usize], positions[uc as usize])
    };
    let per_grid = walk_stats(&members.grid_buildings, centre_building, &walk, &|b| model.buildings[b as usize].households);
    let (mut objective, mut straight, mut households) = (0.0, 0.0, 0.0);
    for (g, bs) in members.grid_buildings.iter().enumerate() {
        let c = centre_building[g];
        let centre = model.buildings[c as usize].anchor;
        for &b in bs {
            let bd = &model.buildings[b as usize];
            objective += bd.cost_weight * walk(b, c);
            straight += bd.households * crate::geom::dist(bd.anchor, centre);
            households += bd.households;
        }
    }
    WalkFigures { per_grid, objective, mean_straight_m: if households > 0.0 { straight / households } else { 0.0 } }
}
