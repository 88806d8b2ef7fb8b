//! summary.json: a typed, documented record of a run: the inputs and the configuration (which
//! can be passed back with `--config`), the grids' households and walks, the bound and the gap,
//! workers, violations, micro-grids, the re-division, warnings, graph and territory figures and
//! the time of each stage.

use serde::{Deserialize, Serialize};

use super::micro::MicroGrids;
use super::parts::SplitSummary;
use super::redivision::RedivisionSummary;
use super::walks::WalkFigures;
use super::{GridReport, ViolationReport};
use crate::config::PartitionConfig;
use crate::graph::Graphed;
use crate::model::existing::ExistingReport;
use crate::model::household_table::JoinReport;
use crate::model::zones::ZoneReport;
use crate::model::Model;
use crate::partition::{Division, ViolationKind};
use crate::read::Inputs;
use crate::solver::SolveStatus;
use crate::text::count;
use crate::workers::Staffing;

/// Everything summary.json holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Version of wangge that wrote it.
    pub wangge_version: String,
    /// `ok` when every grid meets every bound and check; `unavoidable_misses` when every miss is
    /// one no plan can avoid (oversize buildings, isolated areas, areas no whole number of grids
    /// fits, grids beyond the workers) and `--strict` is off; else `infeasible`.
    pub status: Status,
    /// The input files (None when the layers were handed over in memory, as from Python).
    pub input: Option<Inputs>,
    /// The input CRS and the working frame.
    pub crs: CrsSummary,
    /// The configuration in force (after the workers cap), flat: it can be passed back.
    pub config: PartitionConfig,
    /// Input building features.
    pub buildings: usize,
    /// Buildings split by units or floors, when any building is above the maximum.
    pub split_buildings: Option<SplitSummary>,
    /// Number of grids.
    pub grids: usize,
    /// Households per grid.
    pub households: HouseholdSummary,
    /// Population, when the buildings have it.
    pub population: Option<PopulationSummary>,
    /// The households table join, when one was given.
    pub households_table: Option<JoinReport>,
    /// The distribution of zone totals, when zones were given.
    pub population_zones: Option<ZoneReport>,
    /// The objective and the walks.
    pub objective: ObjectiveSummary,
    /// The walkable network, described, when one was given.
    pub network: Option<String>,
    /// How the plan was found, its lower bound and gap.
    pub solution: SolutionSummary,
    /// The matching of workers to grids, when workers were given.
    pub workers: Option<Staffing>,
    /// Grids that miss a bound or a check, with the reason.
    pub violations: Vec<ViolationReport>,
    /// Micro-grids, when micro bounds were given.
    pub micro_grids: Option<MicroSummary>,
    /// The existing division, when re-dividing.
    pub existing: Option<ExistingReport>,
    /// What a re-division changed.
    pub redivision: Option<RedivisionSummary>,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// Size of the mesh and the unit graph.
    pub graph: GraphSummary,
    /// The territory tiled.
    pub territory: TerritorySummary,
    /// The communities the grids nest in, one row each, when the run is nested.
    #[serde(default)]
    pub communities: Option<CommunitiesSummary>,
    /// Seconds spent in each stage, in order.
    pub timings_s: Timings,
    /// One line for the user.
    pub message: String,
}

/// The communities of a nested run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommunitiesSummary {
    /// Where they came from: `polygons` (--communities) or `column` (--by).
    pub source: String,
    /// Number of communities (the buildings in no community count as one, `none`).
    pub count: usize,
    /// Communities whose grids all hold their bounds.
    pub balanced: usize,
    /// One row per community, by code.
    pub rows: Vec<CommunityRow>,
}

/// One community's division.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommunityRow {
    /// Community code (grid ids are CODE-NNN).
    pub code: String,
    /// Community name, when given.
    pub name: Option<String>,
    /// Input buildings in it.
    pub buildings: usize,
    /// Its households.
    pub households: f64,
    /// Its grids.
    pub grids: usize,
    /// Its grids within the bounds.
    pub grids_in_bounds: usize,
    /// Fewest households of a grid.
    pub min_households: Option<f64>,
    /// Most households of a grid.
    pub max_households: Option<f64>,
    /// Household-weighted mean walk (m).
    pub mean_walk_m: Option<f64>,
    /// Its violations.
    pub violations: usize,
    /// Its polygon's area (m²), when given as a polygon.
    pub area_m2: Option<f64>,
    /// `ok` (every grid in bounds), `violations` (see the violations of its grids) or
    /// `no_buildings` (no grid).
    pub status: String,
}

impl CommunitiesSummary {
    /// The rows of the communities of `model`, from the grids and violations of the run.
    pub fn new(model: &Model, grids: &[GridReport], violations: &[ViolationReport], lo: f64, hi: f64) -> Option<CommunitiesSummary> {
        let communities = &model.communities;
        if !communities.is_nested() {
            return None;
        }
        let index: std::collections::HashMap<&str, usize> = communities.list.iter().enumerate().map(|(i, c)| (c.code.as_str(), i)).collect();
        let n = communities.list.len();
        let mut buildings = vec![0usize; n];
        for b in &model.buildings {
            if b.part.as_ref().is_none_or(|p| p.index == 0) && (b.community as usize) < n {
                buildings[b.community as usize] += 1;
            }
        }
        let mut per: Vec<Vec<&GridReport>> = vec![Vec::new(); n];
        let mut community_of_grid: std::collections::HashMap<&crate::report::GridId, usize> = std::collections::HashMap::new();
        for g in grids {
            if let Some(&c) = g.community.as_deref().and_then(|code| index.get(code)) {
                per[c].push(g);
                community_of_grid.insert(&g.id, c);
            }
        }
        let mut violation_count = vec![0usize; n];
        for v in violations {
            if let Some(&c) = community_of_grid.get(&v.grid_id) {
                violation_count[c] += 1;
            }
        }
        let rows: Vec<CommunityRow> = communities
            .list
            .iter()
            .enumerate()
            .map(|(c, community)| {
                let gs = &per[c];
                let households: f64 = gs.iter().map(|g| g.households).sum();
                let walked: f64 = gs.iter().map(|g| g.mean_walk_m * g.households).sum();
                let status = if gs.is_empty() {
                    "no_buildings"
                } else if violation_count[c] > 0 {
                    "violations"
                } else {
                    "ok"
                };
                CommunityRow {
                    code: community.code.clone(),
                    name: community.name.clone(),
                    buildings: buildings[c],
                    households,
                    grids: gs.len(),
                    grids_in_bounds: gs.iter().filter(|g| g.households >= lo - 1e-9 && g.households <= hi + 1e-9).count(),
                    min_households: gs.iter().map(|g| g.households).reduce(f64::min),
                    max_households: gs.iter().map(|g| g.households).reduce(f64::max),
                    mean_walk_m: (households > 0.0).then(|| walked / households),
                    violations: violation_count[c],
                    area_m2: community.area_m2,
                    status: status.into(),
                }
            })
            .collect();
        Some(CommunitiesSummary { source: communities.source.into(), count: rows.len(), balanced: rows.iter().filter(|r| r.status == "ok").count(), rows })
    }
}

/// Whether every grid meets every bound and check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every grid within the bounds, every check passed.
    Ok,
    /// Every miss is unavoidable and declared with its reason (see the violations).
    UnavoidableMisses,
    /// Some grid misses a bound or a check that a plan could meet (see the violations).
    Infeasible,
}

/// The coordinate systems of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrsSummary {
    /// The CRS of the input (and of every output).
    pub input: String,
    /// The metric frame the work was done in.
    pub working: String,
}

/// Households per grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdSummary {
    /// All households.
    pub total: f64,
    /// Fewest in a grid (None without grids).
    pub min: Option<f64>,
    /// Most in a grid.
    pub max: Option<f64>,
    /// Mean per grid.
    pub mean: Option<f64>,
    /// The bounds in force: minimum, maximum (lowered to a worker's capacity).
    pub bounds: [f64; 2],
    /// Grids within the bounds.
    pub grids_in_bounds: usize,
}

/// Population of the grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSummary {
    /// The population column.
    pub column: String,
    /// All population.
    pub total: f64,
}

/// The objective and the walks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSummary {
    /// What is minimised, in words.
    pub description: String,
    /// How walks are measured.
    pub walk: String,
    /// Its value.
    pub value: f64,
    /// Household-weighted mean walk to the grid's centre building (m).
    pub mean_walk_m: f64,
    /// Longest walk of any building to its grid's centre building (m).
    pub max_walk_m: f64,
    /// Household-weighted mean straight-line distance to the centre building (m): comparable
    /// across tools.
    pub mean_straight_m: f64,
}

/// How the plan was found, its lower bound and its gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolutionSummary {
    /// `heuristic` or `exact`.
    pub mode: SolutionMode,
    /// Whether grids had to be connected.
    pub contiguity: bool,
    /// Objective of the divided regions (what the bound bounds).
    pub regions_objective: f64,
    /// Proven lower bound of `regions_objective`, when computed for every region.
    pub lower_bound: Option<f64>,
    /// Relative gap between the objective and the bound.
    pub gap: Option<f64>,
    /// How the bound was found (or why there is none).
    pub bound_method: String,
    /// Search effort used.
    pub effort: f64,
    /// What the bound covers.
    pub bound_scope: String,
    /// Regions solved by the exact MILP, by outcome.
    #[serde(with = "pairs")]
    pub exact_regions: Vec<(SolveStatus, usize)>,
    /// Regions too large for the exact MILP.
    pub exact_skipped_regions: usize,
    /// Solve-and-cut rounds of the exact MILP.
    pub exact_rounds: usize,
    /// Separator cuts of the exact MILP.
    pub exact_cuts: usize,
    /// The search's time budget in seconds (`--time-limit`).
    pub time_limit_s: f64,
    /// True when the time budget stopped some optional phase of the search: the plan is the
    /// best found by then and may differ between runs.
    pub time_limit_reached: bool,
}

/// How a plan was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolutionMode {
    /// The heuristic search (with optional MILP polishing).
    Heuristic,
    /// The exact MILP on every region small enough.
    Exact,
}

/// Micro-grids of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroSummary {
    /// Number of micro-grids.
    pub count: usize,
    /// The micro bounds.
    pub bounds: [f64; 2],
    /// Micro-grids within them.
    pub in_bounds: usize,
    /// Fewest households in a micro-grid.
    pub min: f64,
    /// Most households in a micro-grid.
    pub max: f64,
    /// Micro-grids that miss a bound.
    pub violations: Vec<MicroViolationSummary>,
}

/// A micro-grid that misses a bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroViolationSummary {
    /// The micro-grid.
    pub micro_grid_id: String,
    /// What it misses.
    pub kind: ViolationKind,
    /// Why.
    pub message: String,
    /// Its households.
    pub households: f64,
}

/// Size of the mesh and the unit graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphSummary {
    /// Units (buildings, or overlapping buildings tied together).
    pub units: usize,
    /// Adjacencies between units.
    pub edges: usize,
    /// Adjacencies dropped as longer than the maximum edge.
    pub dropped_long_edges: usize,
    /// Connected components.
    pub components: usize,
    /// Regions divided.
    pub regions: usize,
    /// Triangles of the mesh.
    pub triangles: usize,
}

/// The territory tiled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerritorySummary {
    /// True when derived from the buildings (no territory given).
    pub derived: bool,
    /// Area the grids tile (m²).
    pub tiled_area_m2: f64,
    /// Area no building's cell reaches (m²).
    pub unclaimed_area_m2: f64,
    /// Area of the territory left out of the grids, by kind (m²).
    #[serde(default)]
    pub uncovered_m2: UncoveredArea,
    /// The blocks that streets, compound outlines, barriers and the territory boundary cut the
    /// territory into.
    #[serde(default)]
    pub blocks: BlockSummary,
    /// The residential compounds given (`--compounds`) and how many the grids split.
    #[serde(default)]
    pub compounds: CompoundSummary,
}

/// Residential compounds and how many the grids split (all zero without `--compounds`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompoundSummary {
    /// Compound polygons given.
    pub count: usize,
    /// Compounds holding buildings.
    pub with_buildings: usize,
    /// Compounds with buildings in more than one grid.
    pub split: usize,
}

/// Area of the territory no grid covers, by kind (m²).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UncoveredArea {
    /// Water (polygon barriers), left out unless `--include-water`.
    pub water: f64,
    /// Land no building's cell reaches (a separate part of the territory without buildings).
    pub unclaimed_land: f64,
}

/// Blocks (enclosures of streets, barriers and the territory boundary) and how many the grids split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockSummary {
    /// Blocks in all, empty ones included.
    pub count: usize,
    /// Blocks holding buildings.
    pub with_buildings: usize,
    /// Blocks with buildings in more than one grid.
    pub split: usize,
    /// Street lines given (after the filter).
    pub street_lines: usize,
}

/// Seconds per stage, in the order the stages ran (written as a JSON object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings(#[serde(with = "pairs")] pub Vec<(String, f64)>);

/// What [`Summary::new`] is made from.
pub struct SummaryInputs<'a> {
    /// The configuration in force.
    pub config: &'a PartitionConfig,
    /// The input files, when read from files.
    pub input: Option<Inputs>,
    /// The model.
    pub model: &'a Model,
    /// Input building features.
    pub input_buildings: usize,
    /// The graph stage.
    pub graphed: &'a Graphed,
    /// The division.
    pub division: &'a Division,
    /// The grids, in id order.
    pub grids: &'a [GridReport],
    /// The violations.
    pub violations: &'a [ViolationReport],
    /// The micro-grids.
    pub micro: &'a MicroGrids,
    /// The walks.
    pub walks: &'a WalkFigures,
    /// How walks are measured, and the network.
    pub metric: String,
    /// The network described.
    pub network: Option<String>,
    /// The workers' staffing.
    pub workers: Option<Staffing>,
    /// The split buildings.
    pub split: Option<SplitSummary>,
    /// The re-division.
    pub redivision: Option<RedivisionSummary>,
    /// The remarks.
    pub warnings: &'a [String],
    /// Area tiled.
    pub tiled_area: f64,
    /// Stage times.
    pub timings: &'a [(&'static str, f64)],
}

impl Summary {
    /// The summary of a run.
    pub fn new(p: SummaryInputs) -> Summary {
        let config = p.config;
        let hh: Vec<f64> = p.grids.iter().map(|g| g.households).collect();
        let total: f64 = hh.iter().sum();
        let (lo, hi) = (config.bounds.min_households, config.bounds.upper_bound());
        let in_band = |h: f64, lo: f64, hi: f64| h >= lo - 1e-9 && h <= hi + 1e-9;
        let some_grids = !p.grids.is_empty();
        let weighted: f64 = p.grids.iter().map(|g| g.mean_walk_m * g.households).sum();
        let ok = p.violations.is_empty();
        Summary {
            wangge_version: crate::VERSION.to_string(),
            status: if ok {
                Status::Ok
            } else if !config.bounds.strict && p.violations.iter().all(|v| v.unavoidable) {
                Status::UnavoidableMisses
            } else {
                Status::Infeasible
            },
            input: p.input,
            crs: CrsSummary { input: p.model.frame.source.to_string(), working: p.model.frame.work_crs_name() },
            config: config.clone(),
            buildings: p.input_buildings,
            split_buildings: p.split,
            grids: p.grids.len(),
            households: HouseholdSummary {
                total,
                min: some_grids.then(|| hh.iter().copied().fold(f64::INFINITY, f64::min)),
                max: some_grids.then(|| hh.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                mean: some_grids.then(|| total / p.grids.len() as f64),
                bounds: [lo, hi],
                grids_in_bounds: hh.iter().filter(|&&h| in_band(h, lo, hi)).count(),
            },
            population: p.model.population_column.as_ref().map(|c| PopulationSummary { column: c.clone(), total: p.grids.iter().filter_map(|g| g.population).sum() }),
            households_table: p.model.sources.households_table.clone(),
            population_zones: p.model.sources.population_zones.clone(),
            objective: ObjectiveSummary {
                description: format!("sum over buildings of ({}) × walk to the grid's centre building", config.walking.objective_weight),
                walk: p.metric,
                value: p.walks.objective,
                mean_walk_m: if total > 0.0 { weighted / total } else { 0.0 },
                max_walk_m: p.grids.iter().map(|g| g.max_walk_m).fold(0.0, f64::max),
                mean_straight_m: p.walks.mean_straight_m,
            },
            network: p.network,
            solution: SolutionSummary::new(p.division, config),
            workers: p.workers,
            violations: p.violations.to_vec(),
            micro_grids: MicroSummary::new(p.micro, config),
            existing: p.model.sources.existing.clone(),
            redivision: p.redivision,
            warnings: p.warnings.to_vec(),
            graph: GraphSummary {
                units: p.graphed.graph.len(),
                edges: p.graphed.graph.targets.len() / 2,
                dropped_long_edges: p.graphed.graph.dropped_long,
                components: p.division.plan.components,
                regions: p.division.plan.regions,
                triangles: p.graphed.mesh.len(),
            },
            territory: TerritorySummary {
                derived: p.model.territory.derived,
                tiled_area_m2: p.tiled_area,
                unclaimed_area_m2: p.graphed.cells.unclaimed_area,
                uncovered_m2: UncoveredArea { water: p.graphed.mesh.water_area.round(), unclaimed_land: p.graphed.cells.unclaimed_area.round() },
                blocks: BlockSummary {
                    count: p.graphed.blocks.count,
                    with_buildings: p.graphed.blocks.with_buildings,
                    split: crate::graph::blocks::blocks_split(&p.graphed.blocks, &p.division.plan.grid_of_unit),
                    street_lines: p.model.streets.len(),
                },
                compounds: CompoundSummary {
                    count: p.model.compounds.polygons.len(),
                    with_buildings: p.model.compounds.with_buildings(),
                    split: crate::graph::blocks::groups_split(&p.model.compounds.of_building, &p.division.plan.grid_of_buildings(&p.graphed.graph, p.model.buildings.len())),
                },
            },
            communities: CommunitiesSummary::new(p.model, p.grids, p.violations, lo, hi),
            timings_s: Timings(p.timings.iter().map(|(k, v)| (k.to_string(), (v * 1000.0).round() / 1000.0)).collect()),
            message: if ok {
                format!("{} grids, all within {}–{} households", p.grids.len(), count(lo), count(hi))
            } else {
                let unavoidable = p.violations.iter().filter(|v| v.unavoidable).count();
                let avoidable = p.violations.len() - unavoidable;
                match (avoidable, unavoidable) {
                    (0, u) => format!("{} grids; {u} unavoidable {} (see violations)", p.grids.len(), if u == 1 { "miss" } else { "misses" }),
                    (a, 0) => format!("{} grids; {a} {} a bound or check (see violations)", p.grids.len(), if a == 1 { "misses" } else { "miss" }),
                    (a, u) => format!("{} grids; {a} {} a bound or check, {u} unavoidable (see violations)", p.grids.len(), if a == 1 { "misses" } else { "miss" }),
                }
            },
        }
    }
}

impl SolutionSummary {
    /// How `division` was found, with its bound and gap.
    pub fn new(division: &Division, config: &PartitionConfig) -> SolutionSummary {
        let plan = &division.plan;
        let gap = plan.regions_bound.map(|b| if plan.regions_objective > 0.0 { ((plan.regions_objective - b) / plan.regions_objective).max(0.0) } else { 0.0 });
        let bound_method = if division.homes.is_some() {
            "none (a re-division keeps the existing grids; no bound is computed)"
        } else if config.solver.exact {
            "MILP dual bound (HiGHS)"
        } else if !config.solver.lower_bound {
            "none (--no-lower-bound)"
        } else if plan.time_limit_reached && plan.regions_bound.is_none() {
            "none: the time limit was reached first (a larger --time-limit computes it)"
        } else if plan.effort < 0.5 {
            "skipped at this size for speed (--effort 1 computes it)"
        } else if config.solver.lp_bound {
            "LP relaxation with single-unit contiguity inequalities (areas up to 500 units), else Lagrangian relaxation"
        } else {
            "Lagrangian relaxation of the capacitated p-median model"
        };
        SolutionSummary {
            mode: if config.solver.exact { SolutionMode::Exact } else { SolutionMode::Heuristic },
            contiguity: config.bounds.contiguity,
            regions_objective: plan.regions_objective,
            lower_bound: plan.regions_bound,
            gap,
            bound_method: bound_method.into(),
            effort: plan.effort,
            bound_scope: "the objective of the divided regions, for their numbers of grids (grids fixed by oversize buildings or cut-off areas are left out)".into(),
            exact_regions: plan.exact.clone(),
            exact_skipped_regions: plan.exact_skipped,
            exact_rounds: plan.exact_work.0,
            exact_cuts: plan.exact_work.1,
            time_limit_s: config.solver.time_limit_s,
            time_limit_reached: plan.time_limit_reached,
        }
    }
}

impl MicroSummary {
    /// The micro-grids' figures, when micro bounds are configured.
    pub fn new(micro: &MicroGrids, config: &PartitionConfig) -> Option<MicroSummary> {
        let (Some(lo), Some(hi)) = (config.micro.micro_min, config.micro.micro_max) else { return None };
        let hh: Vec<f64> = micro.reports.iter().map(|m| m.households).collect();
        let violations = micro
            .reports
            .iter()
            .flat_map(|m| m.violations.iter().zip(&m.messages).map(move |(&kind, message)| MicroViolationSummary { micro_grid_id: m.id.clone(), kind, message: message.clone(), households: m.households }))
            .collect();
        Some(MicroSummary {
            count: micro.reports.len(),
            bounds: [lo, hi],
            in_bounds: hh.iter().filter(|&&h| h >= lo - 1e-9 && h <= hi + 1e-9).count(),
            min: hh.iter().copied().fold(f64::INFINITY, f64::min),
            max: hh.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            violations,
        })
    }
}

/// (key, value) pairs written as a JSON object in their order.
mod pairs {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde::ser::{SerializeMap, Serializer};
    use serde::Serialize;

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(pairs: &[(K, V)], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, K: Deserialize<'de>, V: Deserialize<'de>>(d: D) -> Result<Vec<(K, V)>, D::Error> {
        struct Pairs<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Pairs<K, V> {
            type Value = Vec<(K, V)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Pairs(std::marker::PhantomData))
    }
}
