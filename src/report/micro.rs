//! The micro-grids of the result: numbered in reading order inside each grid (`GRID-SEQ`),
//! listed grid by grid, with their figures, violations and polygons in the input CRS.

use super::numbering::Numbering;
use super::project::BackProjection;
use super::MicroGridReport;
use crate::error::Result;
use crate::graph::UnitGraph;
use crate::model::split::SplitReport;
use crate::model::Model;
use crate::partition::micro::MicroPlan;
use crate::partition::ViolationKind;
use crate::tessellate::GridShape;

/// The micro-grids, grid by grid, and the micro-grid (index into them) of each model building.
#[derive(Debug, Clone, Default)]
pub struct MicroGrids {
    /// Micro-grids in output order.
    pub reports: Vec<MicroGridReport>,
    /// Micro-grid of each model building (empty without micro-grids).
    pub of_building: Vec<u32>,
}

/// Everything [`micro_reports`] reads.
pub struct MicroInputs<'a> {
    /// The model.
    pub model: &'a Model,
    /// The unit graph.
    pub graph: &'a UnitGraph,
    /// The micro-grids found.
    pub micro: &'a MicroPlan,
    /// Their polygons (working metres).
    pub shapes: &'a [GridShape],
    /// The polygons of their grids (working metres), by plan grid.
    pub grid_shapes: &'a [GridShape],
    /// How the grids are numbered.
    pub numbering: &'a Numbering,
    /// Split buildings (to explain oversize parts).
    pub split: &'a SplitReport,
}

/// Reports of the micro-grids, numbered in reading order inside each grid, polygons converted
/// by `back`.
pub fn micro_reports(input: &MicroInputs, back: &mut BackProjection) -> Result<MicroGrids> {
    let (model, graph, micro) = (input.model, input.graph, input.micro);
    let mut reports = Vec::with_capacity(micro.micro_grids.len());
    for (m, mg) in micro.micro_grids.iter().enumerate() {
        let bs: Vec<u32> = mg.units.iter().flat_map(|&u| graph.units[u as usize].buildings.iter().copied()).collect();
        let population = model.population_column.as_ref().map(|_| bs.iter().filter_map(|&b| model.buildings[b as usize].population).sum::<f64>());
        let vs: Vec<&crate::partition::micro::MicroViolation> = micro.violations.iter().filter(|v| v.micro == m).collect();
        reports.push(MicroGridReport {
            id: String::new(),
            grid_id: input.numbering.id_of[mg.grid as usize].clone(),
            seq: 0,
            households: mg.households,
            population,
            buildings: crate::model::split::count_rows(&model.buildings, bs.iter().copied()),
            area_m2: input.shapes[m].area,
            polygon: back.polygons(&input.shapes[m].polygons)?,
            violations: vs.iter().map(|v| v.kind).collect(),
            messages: vs
                .iter()
                .map(|v| match v.kind {
                    ViolationKind::OversizeBuilding => input.split.explain(&v.message, bs.iter().map(|&b| &model.buildings[b as usize])),
                    _ => v.message.clone(),
                })
                .collect(),
        });
    }
    // Number micro-grids in reading order inside each grid; list them grid by grid.
    let top = input.numbering.top;
    let centre = |m: usize| model.buildings[graph.units[micro.micro_grids[m].centre as usize].buildings[0] as usize].anchor;
    let mut rank: Vec<usize> = (0..reports.len()).collect();
    rank.sort_by(|&a, &b| {
        let (ga, gb) = (&reports[a].grid_id, &reports[b].grid_id);
        let band = (input.grid_shapes[micro.micro_grids[a].grid as usize].area / 4.0).sqrt().max(1.0);
        let (pa, pb) = (centre(a), centre(b));
        ga.cmp(gb).then(((top - pa.y) / band).floor().total_cmp(&((top - pb.y) / band).floor())).then(pa.x.total_cmp(&pb.x)).then(a.cmp(&b))
    });
    let mut new_index = vec![0u32; reports.len()];
    let mut seq = 0;
    for (i, &m) in rank.iter().enumerate() {
        seq = if i > 0 && reports[rank[i - 1]].grid_id == reports[m].grid_id { seq + 1 } else { 1 };
        reports[m].seq = seq;
        reports[m].id = format!("{}-{seq}", reports[m].grid_id);
        new_index[m] = i as u32;
    }
    let mut by_rank: Vec<Option<MicroGridReport>> = reports.into_iter().map(Some).collect();
    let ordered: Vec<MicroGridReport> = rank.iter().filter_map(|&m| by_rank[m].take()).collect();
    let mut of_building = vec![0u32; model.buildings.len()];
    for (u, &m) in micro.micro_of_unit.iter().enumerate() {
        for &b in &graph.units[u].buildings {
            of_building[b as usize] = new_index[m as usize];
        }
    }
    Ok(MicroGrids { reports: ordered, of_building })
}
