//! Report stage: the result of a run in the user's terms. Grids numbered in reading order (or
//! keeping their existing ids), their figures and polygons back in the input CRS, micro-grids,
//! workers, violations with their reasons, the parts of split buildings, what a re-division
//! changed, and the typed summary ([`summary::Summary`], summary.json). The writers and the
//! Python bindings read [`Partitioned`].

pub mod grids;
pub mod micro;
pub mod numbering;
pub mod parts;
pub mod project;
pub mod redivision;
pub mod staffing;
pub mod summary;
pub mod violations;
pub mod walks;

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::ShapeDefect;
use crate::config::PartitionConfig;
use crate::distance::Walks;
use crate::error::Result;
use crate::graph::Graphed;
use crate::model::split::SplitReport;
use crate::model::Model;
use crate::partition::micro::MicroPlan;
use crate::partition::{Division, ViolationKind};
use crate::progress::Progress;
use crate::read::{FeatureId, InputLayers, Inputs};
use crate::tessellate::{GridShape, Tiling};
use crate::workers::Worker;

use self::grids::{GridInputs, Membership};
use self::micro::{MicroGrids, MicroInputs};
use self::project::BackProjection;
use self::summary::SummaryInputs;
use self::violations::ViolationInputs;

pub use self::numbering::Codes;
pub use self::parts::SplitOutcome;
pub use self::summary::Summary;

/// The products of the stages before the report.
pub struct Stages<'a> {
    /// The input layers.
    pub layers: &'a InputLayers,
    /// The input files, when read from files (recorded in the summary).
    pub inputs: Option<Inputs>,
    /// The configuration in force (after the workers cap).
    pub config: &'a PartitionConfig,
    /// The model (with split buildings replaced by their parts).
    pub model: Model,
    /// The workers, when given.
    pub workers: Option<Vec<Worker>>,
    /// What the split of oversize buildings did.
    pub split: SplitReport,
    /// The mesh, the cells and the unit graph.
    pub graphed: Graphed,
    /// The walking metric.
    pub walks: Walks,
    /// The division.
    pub division: Division,
    /// Its polygons.
    pub tiling: Tiling,
    /// Polygon defects found by the check.
    pub defects: Vec<(usize, ShapeDefect)>,
    /// The micro-grids and their polygons, when micro bounds are set.
    pub micro: Option<(MicroPlan, Vec<GridShape>)>,
}

/// Report stage: grids numbered, their figures and polygons in the input CRS, micro-grids,
/// workers, split parts, violations and the summary (with the time of every stage so far).
pub fn report(s: Stages, progress: &mut Progress) -> Result<Partitioned> {
    let (model, plan, config) = (&s.model, &s.division.plan, s.config);
    let members = Membership::new(plan, &s.graphed.graph, model.buildings.len());
    let numbering = numbering::number_grids(model, &s.graphed.graph, &s.division, s.tiling.tiled_area);
    let walks = walks::walk_figures(model, &s.graphed, &s.walks.metric, &members, &numbering.centre_building);
    let mut back = BackProjection::new(model, &s.layers.buildings.name, &s.tiling.fit)?;
    let grid_inputs = GridInputs { model, plan, tiling: &s.tiling, numbering: &numbering, members: &members, walks: &walks, existing: s.layers.existing.as_ref() };
    let mut grids = grids::grid_reports(&grid_inputs, &mut back)?;
    let micro = match &s.micro {
        None => MicroGrids::default(),
        Some((plan, shapes)) => {
            let inputs = MicroInputs { model, graph: &s.graphed.graph, micro: plan, shapes, grid_shapes: &s.tiling.shapes, numbering: &numbering, split: &s.split };
            micro::micro_reports(&inputs, &mut back)?
        }
    };
    let staffing = s.workers.as_deref().map(|ws| staffing::staff_grids(ws, &mut grids, model, &numbering, plan.grids_wanted, config)).transpose()?;
    let outcome = SplitOutcome::new(s.split, model, &members, &numbering, &micro, &mut back)?;
    let violation_inputs = ViolationInputs {
        model,
        plan,
        members: &members,
        numbering: &numbering,
        defects: &s.defects,
        split: &outcome.report,
        grids: &grids,
        staffing: s.workers.as_deref().zip(staffing.as_ref().map(|st| &st.0)),
    };
    let violations = violations::violation_reports(&violation_inputs, config);
    let mut warnings: Vec<String> = [&model.warnings, &outcome.report.warnings, &s.graphed.warnings, &s.walks.warnings, &s.division.notes, &s.tiling.warnings]
        .into_iter()
        .flatten()
        .chain(staffing.iter().filter_map(|st| st.1.as_ref()))
        .cloned()
        .collect();
    if plan.time_limit_reached {
        warnings.push(format!(
            "the search reached its time limit ({} s, --time-limit): the plan is the best found by then (every grid is divided; \
             some optional improvement was skipped) and may differ between runs",
            config.solver.time_limit_s
        ));
    }
    let summary = Summary::new(SummaryInputs {
        config,
        input: s.inputs.clone(),
        model,
        input_buildings: s.layers.buildings.features.len(),
        graphed: &s.graphed,
        division: &s.division,
        grids: &grids,
        violations: &violations,
        micro: &micro,
        walks: &walks,
        metric: s.walks.metric.describe(),
        network: s.walks.network.clone(),
        workers: staffing.map(|st| st.0),
        split: outcome.summary_if_any(&grids),
        redivision: model.sources.existing.as_ref().map(|_| redivision::redivision_summary(model, &members.building_grid, &numbering.id_of)),
        warnings: &warnings,
        tiled_area: s.tiling.tiled_area,
        timings: &progress.timings(),
    });
    let rows = s.layers.buildings.features.len();
    let position: std::collections::HashMap<&GridId, usize> = grids.iter().enumerate().map(|(i, g)| (&g.id, i)).collect();
    let mut grid_violations = vec![Vec::new(); grids.len()];
    for v in &violations {
        if let Some(&i) = position.get(&v.grid_id) {
            grid_violations[i].push(v.kind);
        }
    }
    let mut grid_micro_grids = if micro.reports.is_empty() { Vec::new() } else { vec![0; grids.len()] };
    for m in &micro.reports {
        if let Some(&i) = position.get(&m.grid_id) {
            grid_micro_grids[i] += 1;
        }
    }
    drop(position);
    let codes = match &numbering.nested {
        Some(per) => {
            let community_number: Vec<(&str, u32)> = numbering.order.iter().map(|&g| (model.communities.list[per[g].0 as usize].code.as_str(), per[g].1)).collect();
            let mut counts = vec![0u32; model.communities.list.len()];
            per.iter().for_each(|&(c, _)| counts[c as usize] += 1);
            Codes::nested(config.micro.code_prefix.clone(), &grids, &community_number, numbering::nested_width(&counts), &micro.reports)
        }
        None => Codes::new(config.micro.code_prefix.clone(), &grids, &micro.reports),
    };
    let per_row = |value: &dyn Fn(usize) -> u32| crate::model::split::per_row(&model.buildings, rows, value);
    Ok(Partitioned {
        building_grid: per_row(&|b| numbering.rank_of[members.building_grid[b] as usize]),
        building_index: crate::model::split::first_part_of_rows(&model.buildings, rows),
        building_micro: if micro.of_building.is_empty() { Vec::new() } else { per_row(&|b| micro.of_building[b]) },
        households_column: config.columns.households.clone(),
        codes,
        grid_violations,
        grid_micro_grids,
        micro_grids: micro.reports,
        grids,
        violations,
        split: outcome,
        warnings,
        summary,
        model: s.model,
    })
}

/// A grid's id: a number, or text when an existing division's ids are text.
pub type GridId = FeatureId;

/// One grid of the result.
#[derive(Debug, Clone)]
pub struct GridReport {
    /// Grid id: 1, 2, ... in reading order (north to south, west to east); in a re-division
    /// the existing id (a number or text, as read) or a new one after them.
    pub id: GridId,
    /// Households.
    pub households: f64,
    /// Population (when the buildings have it).
    pub population: Option<f64>,
    /// Number of buildings.
    pub buildings: usize,
    /// Area of the grid polygon (m²).
    pub area_m2: f64,
    /// Household-weighted mean walk to the centre building (m).
    pub mean_walk_m: f64,
    /// Longest walk of a building to the centre building (m).
    pub max_walk_m: f64,
    /// Id of the centre building.
    pub center_id: FeatureId,
    /// Row of the centre building in the input.
    pub center_row: usize,
    /// Polygon in the input CRS.
    pub polygon: MultiPolygon<f64>,
    /// Worker assigned to the grid (id, kind), when workers are given.
    pub worker: Option<(String, Option<String>)>,
    /// For a locked grid of an `--existing` polygon layer in the buildings' CRS: its geometry as
    /// given, written back unchanged (`polygon` then holds the same polygons).
    pub given_geometry: Option<GivenGeometry>,
    /// Code of its community, in a run nested in communities.
    pub community: Option<String>,
}

/// A geometry as read from an input layer, to be written back unchanged.
#[derive(Debug, Clone)]
pub struct GivenGeometry {
    /// The geometry as read.
    pub geometry: geo::Geometry<f64>,
    /// Its GeoJSON text as read (GeoJSON input), written byte for byte.
    pub text: Option<String>,
}

/// One micro-grid of the result.
#[derive(Debug, Clone)]
pub struct MicroGridReport {
    /// Id encoding the nesting: `GRID-SEQ` (e.g. `12-3`), numbered in reading order in the grid.
    pub id: String,
    /// Id of its grid.
    pub grid_id: GridId,
    /// Sequence number inside its grid (1, 2, ...).
    pub seq: u32,
    /// Households.
    pub households: f64,
    /// Population (when the buildings have it).
    pub population: Option<f64>,
    /// Number of buildings.
    pub buildings: usize,
    /// Area of the polygon (m²).
    pub area_m2: f64,
    /// Polygon in the input CRS (inside its grid's polygon; together they make it up).
    pub polygon: MultiPolygon<f64>,
    /// Violation kinds (e.g. `oversize_building` for a building above the micro maximum).
    pub violations: Vec<ViolationKind>,
    /// Explanations of the violations.
    pub messages: Vec<String>,
}

/// A grid that misses a bound or a check, with its reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViolationReport {
    /// Grid id.
    pub grid_id: GridId,
    /// What is missed.
    pub kind: ViolationKind,
    /// Explanation naming buildings and counts.
    pub message: String,
    /// Households of the grid.
    pub households: f64,
    /// Ids of the grid's buildings (at most 50; a split building once).
    pub buildings: Vec<FeatureId>,
    /// True when no plan can avoid this miss (see [`crate::partition::Violation::unavoidable`]).
    #[serde(default)]
    pub unavoidable: bool,
}

/// Everything a partition run produces.
#[derive(Debug)]
pub struct Partitioned {
    /// The model the run worked on.
    pub model: Model,
    /// Index into `grids` of each building (file order; a split building: the grid holding most
    /// of its households, ties to the lower id).
    pub building_grid: Vec<u32>,
    /// Index into `model.buildings` of each building (file order; a split building's first part).
    pub building_index: Vec<u32>,
    /// Name of the household column (written on buildings whose households were derived).
    pub households_column: String,
    /// How grid and micro-grid codes are written, when a code prefix is configured.
    pub codes: Codes,
    /// Grids in id order.
    pub grids: Vec<GridReport>,
    /// Grids that miss a bound.
    pub violations: Vec<ViolationReport>,
    /// Micro-grids, grid by grid (empty unless micro bounds are set).
    pub micro_grids: Vec<MicroGridReport>,
    /// Index into `micro_grids` of each building (file order; empty without micro-grids).
    pub building_micro: Vec<u32>,
    /// Buildings split by units or floors, their parts and grids.
    pub split: SplitOutcome,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// The summary (summary.json).
    pub summary: Summary,
    /// Violation kinds of each grid (same order as `grids`).
    pub grid_violations: Vec<Vec<ViolationKind>>,
    /// Number of micro-grids of each grid (same order as `grids`; empty without micro-grids).
    pub grid_micro_grids: Vec<usize>,
}

impl Partitioned {
    /// True when some grid misses a bound that a plan could meet, or any bound with `--strict`
    /// (exit code 4 in the CLI); unavoidable misses alone are declared, not failures.
    pub fn infeasible(&self) -> bool {
        self.summary.status == summary::Status::Infeasible
    }

    /// The code of grid `grid_id`, when a code prefix is configured (see [`Codes`]).
    pub fn grid_code(&self, grid_id: &GridId) -> Option<String> {
        self.codes.grid(grid_id)
    }

    /// The code of a micro-grid: its grid's code and its number in the grid.
    pub fn micro_code(&self, micro: &MicroGridReport) -> Option<String> {
        self.codes.micro(&micro.grid_id, micro.seq)
    }

    /// Properties the outputs add to the building in file row `row` besides `grid_id`: its grid
    /// code and micro-grid (when configured), the grids of a split building, its grid before a
    /// re-division (`previous_grid_id`), and the household and population counts a households
    /// table or zones gave it.
    pub fn building_extra_properties(&self, row: usize) -> Vec<(String, Value)> {
        let s = &self.model.sources;
        let mut out = Vec::new();
        let grid_id = &self.grids[self.building_grid[row] as usize].id;
        if let Some(code) = self.grid_code(grid_id) {
            out.push(("grid_code".into(), json!(code)));
        }
        out.extend(self.split_properties(row));
        if let Some(&m) = self.building_micro.get(row) {
            let micro = &self.micro_grids[m as usize];
            out.push(("micro_grid_id".into(), json!(micro.id)));
            if let Some(code) = self.micro_code(micro) {
                out.push(("micro_code".into(), json!(code)));
            }
        }
        if let Some(existing) = self.model.existing_ids() {
            // The grid the building was in before a re-division (null for new housing).
            let before = self.model.buildings[self.building_index[row] as usize].existing_grid;
            out.push(("previous_grid_id".into(), before.map_or(Value::Null, |g| existing[g as usize].to_json())));
        }
        if s.households_derived {
            out.push((self.households_column.clone(), json!(self.row_households(row))));
        }
        if let (true, Some(c)) = (s.population_derived, &self.model.population_column) {
            out.push((c.clone(), json!(self.row_population(row))));
        }
        out
    }

    /// Households of the input building in file row `row` (a split building: all its parts).
    pub fn row_households(&self, row: usize) -> f64 {
        match self.split.split_of_row.get(&row) {
            Some(&s) => self.split.report.buildings[s as usize].households,
            None => self.model.buildings[self.building_index[row] as usize].households,
        }
    }

    /// Population of the input building in file row `row`, when known.
    pub fn row_population(&self, row: usize) -> Option<f64> {
        match self.split.split_of_row.get(&row) {
            Some(&s) => self.split.report.buildings[s as usize].population,
            None => self.model.buildings[self.building_index[row] as usize].population,
        }
    }

    /// Properties a split building in file row `row` gets in the outputs: `grid_ids` (its
    /// grids, e.g. `12,13`) and `units_by_grid` (its parts per grid, e.g. `12:U1-2;13:U3-4`);
    /// none for a building left whole.
    pub fn split_properties(&self, row: usize) -> Vec<(String, Value)> {
        let Some(&s) = self.split.split_of_row.get(&row) else { return Vec::new() };
        let by_grid = self.split.parts_by_grid(s);
        let ids: Vec<String> = by_grid.keys().map(|&g| self.grids[g as usize].id.to_string()).collect();
        let parts: Vec<String> = by_grid.iter().map(|(&g, labels)| format!("{}:{}", self.grids[g as usize].id, labels.join(","))).collect();
        vec![("grid_ids".into(), Value::from(ids.join(","))), ("units_by_grid".into(), Value::from(parts.join(";")))]
    }
}

#[cfg(test)]
mod tests {
    use crate::partition::ViolationKind;

    #[test]
    fn violation_kind_names_are_the_serialized_ones() {
        for k in [ViolationKind::OversizeBuilding, ViolationKind::LongWalk, ViolationKind::BuildingOutsidePolygon, ViolationKind::Unstaffed] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(k.to_string(), k.as_str());
        }
    }
}
