//! The partition pipeline: read → model → graph → partition → tessellate → check, returning
//! everything the writers and the Python bindings need.

use std::path::PathBuf;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::Serialize;
use serde_json::{json, Value};

use crate::check::{check_plan, check_shapes, ShapeDefect};
use crate::config::PartitionConfig;
use crate::error::{Error, Result};
use crate::graph::{build_cells, build_mesh, build_unit_graph, NONE};
use crate::model::{build_model, building_columns, Model};
use crate::distance::walking_metric;
use crate::workers::{self, read_workers, Worker};
use crate::partition::{fmt_count, partition_with_progress, walk_stats};
use crate::progress::Progress;
use crate::read::{read_layer, FeatureId, Layer};
use crate::solver::SolverOptions;
use crate::tessellate::locked::{settle_locked_triangles, settle_micro_triangles, LockedFit};
use crate::tessellate::{dissolve, grid_of_triangles};

/// The files of a partition run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inputs {
    /// Building footprints.
    pub buildings: PathBuf,
    /// Territory the grids must tile (default: derived from the buildings).
    pub territory: Option<PathBuf>,
    /// Barrier layers (lines or polygons).
    pub barriers: Vec<PathBuf>,
    /// Walkable network (lines), for network walking distances.
    pub network: Option<PathBuf>,
    /// Workers file (CSV or GeoJSON).
    pub workers: Option<PathBuf>,
    /// Households table (CSV/TSV, or any vector file's attributes) joined on `join_on`.
    pub households_table: Option<PathBuf>,
    /// Zones with population totals, shared among the buildings inside them.
    pub population_zones: Option<PathBuf>,
    /// Existing grid polygons to re-divide from.
    pub existing: Option<PathBuf>,
    /// How to read the buildings (format override, layer, text encoding).
    #[serde(skip)]
    pub read: crate::read::ReadOptions,
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
    /// Household-weighted mean straight-line distance to the centre building (m).
    pub mean_walk_m: f64,
    /// Largest distance of a building to the centre building (m).
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
    pub violations: Vec<String>,
    /// Explanations of the violations.
    pub messages: Vec<String>,
}

/// A grid that misses a bound, with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationReport {
    /// Grid id.
    pub grid_id: GridId,
    /// Kind (`oversize_building`, `isolated_area`, `infeasible_area`, `unbalanced`, `polygon_pieces`, ...).
    pub kind: String,
    /// Explanation.
    pub message: String,
    /// Households of the grid.
    pub households: f64,
    /// Ids of the grid's buildings (at most 50).
    pub buildings: Vec<Value>,
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
    /// Prefix of the grid codes, when configured.
    pub code_prefix: Option<String>,
    /// Grids in id order.
    pub grids: Vec<GridReport>,
    /// Grids that miss a bound.
    pub violations: Vec<ViolationReport>,
    /// Micro-grids, grid by grid (empty unless micro bounds are set).
    pub micro_grids: Vec<MicroGridReport>,
    /// Index into `micro_grids` of each building (file order; empty without micro-grids).
    pub building_micro: Vec<u32>,
    /// Buildings split by units or floors, their parts and grids.
    pub split: crate::model::split::SplitOutcome,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// The summary (summary.json).
    pub summary: Value,
}

impl Partitioned {
    /// True when some grid misses a bound (exit code 4 in the CLI).
    pub fn infeasible(&self) -> bool {
        !self.violations.is_empty()
    }

    /// The code of grid `grid_id`, with a code prefix: the prefix and the grid number in 3
    /// digits (more when some id needs them); a text id follows the prefix as it is.
    pub fn grid_code(&self, grid_id: &GridId) -> Option<String> {
        let widest = self.grids.iter().filter_map(|g| if let GridId::Number(n) = g.id { Some(n) } else { None }).max().unwrap_or(0);
        let width = digits(widest).max(3);
        self.code_prefix.as_ref().map(|p| match grid_id {
            GridId::Number(n) => format!("{p}{n:0width$}"),
            GridId::Text(t) => format!("{p}{t}"),
        })
    }

    /// The code of a micro-grid: its grid's code and its 2-digit number in the grid (all codes
    /// of a run have the same width: more digits when some grid id or number needs them).
    pub fn micro_code(&self, micro: &MicroGridReport) -> Option<String> {
        let width = digits(self.micro_grids.iter().map(|m| m.seq as i64).max().unwrap_or(0)).max(2);
        self.grid_code(&micro.grid_id).map(|c| format!("{c}{:0width$}", micro.seq))
    }

    /// Properties the outputs add to the building in file row `row` besides `grid_id`: its grid
    /// code and micro-grid (when configured), and the household and population counts a
    /// households table or zones gave it.
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
        if !(s.households_derived || s.population_derived) {
            return out;
        }
        if s.households_derived {
            out.push((self.households_column.clone(), json!(self.row_households(row))));
        }
        if let (true, Some(c)) = (s.population_derived, &self.model.population_column) {
            out.push((c.clone(), json!(self.row_population(row))));
        }
        out
    }
}

/// Reads the input files and runs the pipeline.
pub fn partition_files(inputs: &Inputs, config: &PartitionConfig, progress: &mut Progress) -> Result<(Partitioned, Layer)> {
    config.validate()?;
    progress.stage("read", "reading inputs");
    let cols = building_columns(config);
    let col_refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let buildings = crate::read::read_layer_with(&inputs.buildings, &col_refs, &inputs.read)?;
    let territory = inputs.territory.as_ref().map(|p| read_layer(p, &[])).transpose()?;
    let barriers = inputs.barriers.iter().map(|p| read_layer(p, &[])).collect::<Result<Vec<_>>>()?;
    let filter = config.walking.network_filter.as_ref();
    let filter_cols: Vec<&str> = filter.iter().map(|f| f.column.as_str()).collect();
    let network = inputs.network.as_ref().map(|p| read_layer(p, &filter_cols)).transpose()?;
    let table_cols = crate::model::table_columns(config);
    let table_refs: Vec<&str> = table_cols.iter().map(String::as_str).collect();
    // The table's encoding is detected on its own (UTF-8, else GB18030): it need not be the buildings'.
    let table_options = crate::read::ReadOptions::default();
    let table = inputs.households_table.as_ref().map(|p| crate::read::read_attribute_table(p, &table_refs, &table_options)).transpose()?;
    let zone_cols = crate::model::zone_columns(config);
    let zone_refs: Vec<&str> = zone_cols.iter().map(String::as_str).collect();
    let zones = inputs.population_zones.as_ref().map(|p| read_layer(p, &zone_refs)).transpose()?;
    let existing_cols = crate::model::existing_columns(config);
    let existing_refs: Vec<&str> = existing_cols.iter().map(String::as_str).collect();
    let existing = inputs.existing.as_ref().map(|p| read_layer(p, &existing_refs)).transpose()?;
    let input_info = serde_json::to_value(inputs).unwrap_or(Value::Null);
    let layers = Layers {
        households_table: table.as_ref(),
        population_zones: zones.as_ref(),
        existing: existing.as_ref(),
        buildings: &buildings,
        territory: territory.as_ref(),
        barriers: &barriers,
        network: network.as_ref(),
        workers: inputs.workers.as_deref(),
    };
    let result = partition_layers(&layers, config, input_info, progress)?;
    Ok((result, buildings))
}

/// The input layers of a run.
#[derive(Clone, Copy)]
pub struct Layers<'a> {
    /// Buildings (read with [`building_columns`]).
    pub buildings: &'a Layer,
    /// Territory, if given.
    pub territory: Option<&'a Layer>,
    /// Barrier layers.
    pub barriers: &'a [Layer],
    /// Walkable network, if given (read with the filter column).
    pub network: Option<&'a Layer>,
    /// Workers file (CSV or GeoJSON), if given.
    pub workers: Option<&'a std::path::Path>,
    /// Households table, if given (read with [`crate::model::table_columns`]).
    pub households_table: Option<&'a Layer>,
    /// Zones with population totals, if given (read with [`crate::model::zone_columns`]).
    pub population_zones: Option<&'a Layer>,
    /// Existing grid polygons, if given (read with [`crate::model::existing_columns`]).
    pub existing: Option<&'a Layer>,
}

/// Runs the pipeline on layers already read. `input_info` is echoed in the summary.
pub fn partition_layers(layers: &Layers, config: &PartitionConfig, input_info: Value, progress: &mut Progress) -> Result<Partitioned> {
    let buildings = layers.buildings;
    progress.stage("model", "checking buildings and coordinate systems");
    progress.checkpoint()?;
    let sources = crate::model::HouseholdSources { table: layers.households_table, zones: layers.population_zones, existing: layers.existing };
    let mut model = build_model(buildings, layers.territory, layers.barriers, layers.network, sources, config)?;
    let mut warnings = model.warnings.clone();
    // Workers: from a file, or N identical ones; they cap the number of grids and their size.
    let workers: Option<Vec<Worker>> = match (layers.workers, config.bounds.workers) {
        (Some(path), _) => Some(read_workers(path, &model.frame)?),
        (None, Some(n)) => Some(workers::identical(n, config.bounds.worker_capacity.unwrap_or(config.bounds.max_households))),
        (None, None) => None,
    };
    let config = &match &workers {
        None => config.clone(),
        Some(ws) => {
            let biggest = ws.iter().map(|w| w.capacity).fold(0.0, f64::max);
            let mut c = config.clone();
            c.bounds.workers = Some(ws.len());
            c.bounds.worker_capacity = Some(c.bounds.worker_capacity.map_or(biggest, |x| x.min(biggest)).max(c.bounds.min_households));
            c
        }
    };
    // Buildings above the maximum split by units or floors, with the bounds in force.
    let split_report = crate::model::split::split_oversize(&mut model, buildings, config)?;
    warnings.extend(split_report.warnings.iter().cloned());

    progress.stage("graph", "triangulating the territory and building the adjacency graph");
    progress.checkpoint()?;
    // The mesh follows the rings of locked grid polygons, so those can be kept exactly.
    let locked_shapes: &[crate::model::existing::LockedShape] = model.sources.existing.as_ref().map_or(&[], |e| e.locked_shapes.as_slice());
    let guides = MultiPolygon(locked_shapes.iter().flat_map(|l| l.working.0.iter().cloned()).collect());
    let mesh = build_mesh(&model.buildings, &model.territory, &model.barriers, &guides)?;
    if !mesh.refined {
        warnings.push("the mesh could not be refined: grid boundaries run from building corner to building corner".into());
    }
    let label = |b: u32| model.buildings[b as usize].name();
    let cells = build_cells(&mesh, model.buildings.len(), &label);
    warnings.extend(cells.warnings.iter().cloned());
    let graph = build_unit_graph(&model, &mesh, &cells, config.graph.max_edge_m);
    let positions: Vec<Coord<f64>> = graph.units.iter().map(|u| u.position).collect();
    let radius = config.walking.network_radius_m.max(config.bounds.max_walk_m.unwrap_or(0.0));
    let (metric, unreachable, network_about) =
        walking_metric(model.network.as_deref(), &positions, config.walking.detour_factor, radius, config.walking.network_max_access_m);
    if !unreachable.is_empty() {
        let ids: Vec<String> = unreachable.iter().take(10).map(|&u| model.buildings[graph.units[u as usize].buildings[0] as usize].id.to_string()).collect();
        let more = if unreachable.len() > 10 { format!(" and {} more", unreachable.len() - 10) } else { String::new() };
        warnings.push(format!(
            "{} building(s) lie more than {} m from every walkable line and cannot reach the network ({}{more}); \
             their walks are the straight line times {}",
            unreachable.len(), config.walking.network_max_access_m, ids.join(", "), config.walking.detour_factor
        ));
    }

    progress.stage("partition", "dividing into grids");
    progress.checkpoint()?;
    // Names a unit in messages: its building's id, or the ids of its overlapping buildings.
    let unit_name = |u: u32| {
        let bs = &graph.units[u as usize].buildings;
        let ids: Vec<String> = bs.iter().take(6).map(|&b| model.buildings[b as usize].name()).collect();
        let more = if bs.len() > 6 { format!(" and {} more", bs.len() - 6) } else { String::new() };
        format!("{}{more}", ids.join("+"))
    };
    // Existing grid ids, when re-dividing: each unit takes the grid holding most of its households.
    let existing_ids: Option<&[GridId]> = model.sources.existing.as_ref().map(|e| e.ids.as_slice());
    let (plan, homes, redivision_notes) = match existing_ids {
        None => {
            let progress = &*progress;
            let plan = partition_with_progress(&graph, &metric, config, &unit_name, &|s| match s {
                Some(total) => progress.set_steps(total),
                None => progress.step(),
            })?;
            (plan, None, Vec::new())
        }
        Some(ids) => {
            let locked: Vec<bool> = ids.iter().map(|id| config.redivision.locked.iter().any(|l| l.same(id))).collect();
            let grid_of_unit = graph
                .units
                .iter()
                .map(|unit| {
                    let mut tally: Vec<(u32, f64)> = Vec::new();
                    for &b in &unit.buildings {
                        let bd = &model.buildings[b as usize];
                        if let Some(g) = bd.existing_grid {
                            match tally.iter_mut().find(|t| t.0 == g) {
                                Some(t) => t.1 += bd.households,
                                None => tally.push((g, bd.households)),
                            }
                        }
                    }
                    // A unit holding a building of a locked grid follows that grid.
                    let locked_first = |t: &(u32, f64)| locked[t.0 as usize];
                    tally.iter().max_by(|a, b| locked_first(a).cmp(&locked_first(b)).then(a.1.total_cmp(&b.1)).then(b.0.cmp(&a.0))).map(|t| t.0)
                })
                .collect();
            let existing = crate::partition::stable::Existing { grid_of_unit, locked: locked.clone() };
            let stable = crate::partition::stable::redivide(&graph, &metric, config, &existing, config.redivision.stability, &unit_name)?;
            if let Some(l) = (0..ids.len()).find(|&l| locked[l] && !stable.home.contains(&Some(l as u32))) {
                return Err(Error::LockedGridEmpty { id: ids[l].to_string() });
            }
            (stable.plan, Some(stable.home), stable.notes)
        }
    };
    warnings.extend(redivision_notes.iter().cloned());

    progress.stage("tessellate", "tracing grid polygons");
    progress.checkpoint()?;
    let mut tri_grid = grid_of_triangles(&cells, &plan.grid_of_unit);
    // Locked grids with a polygon: plan grid of each, and the fit of the other grids to them.
    let locked_grid_of_shape: Vec<Option<u32>> =
        locked_shapes.iter().map(|l| homes.as_ref().and_then(|h| h.iter().position(|&x| x == Some(l.grid)).map(|g| g as u32))).collect();
    let locked_pairs: Vec<(u32, &MultiPolygon<f64>)> = locked_shapes.iter().zip(&locked_grid_of_shape).filter_map(|(l, g)| g.map(|g| (g, &l.working))).collect();
    settle_locked_triangles(&mesh, &mut tri_grid, &locked_pairs);
    let locked_fit = LockedFit::new(locked_shapes.iter().zip(&locked_grid_of_shape).filter(|(_, g)| g.is_some()).map(|(l, _)| (&l.working, l.vertices.as_slice())));
    let mut shapes = dissolve(&mesh, &tri_grid, plan.grids.len());
    for shape in shapes.iter_mut() {
        locked_fit.clean(&mut shape.polygons);
    }
    if locked_shapes.iter().any(|l| l.vertices.is_empty()) {
        warnings.push("the --existing layer is not in the buildings' CRS: locked grid polygons are traced again (following the given rings) instead of being copied as given".into());
    }

    progress.stage("check", "checking invariants");
    progress.checkpoint()?;
    check_plan(&graph, &plan, config.bounds.min_households, config.bounds.upper_bound(), config.bounds.contiguity)?;
    let n_b = model.buildings.len();
    let mut building_grid_raw = vec![NONE; n_b];
    for (u, unit) in graph.units.iter().enumerate() {
        for &b in &unit.buildings {
            building_grid_raw[b as usize] = plan.grid_of_unit[u];
        }
    }
    let tiled_area: f64 = (0..mesh.len()).filter(|&t| tri_grid[t] != NONE).map(|t| mesh.area(t)).sum();
    let anchors: Vec<Coord<f64>> = model.buildings.iter().map(|b| b.anchor).collect();
    let defects = check_shapes(&shapes, tiled_area, &building_grid_raw, &anchors)?;

    // Grid ids in reading order of their centres: bands north to south, west to east inside a band.
    let n_g = plan.grids.len();
    let centre_building: Vec<u32> = plan
        .grids
        .iter()
        .map(|g| {
            let bs = &graph.units[g.centre as usize].buildings;
            *bs.iter()
                .max_by(|&&a, &&b| model.buildings[a as usize].households.total_cmp(&model.buildings[b as usize].households).then(b.cmp(&a)))
                .unwrap()
        })
        .collect();
    let band = (tiled_area / n_g.max(1) as f64).sqrt().max(1.0);
    let top = anchors.iter().map(|a| a.y).fold(f64::NEG_INFINITY, f64::max);
    let mut order: Vec<usize> = (0..n_g).collect();
    order.sort_by(|&a, &b| {
        let pa = anchors[centre_building[a] as usize];
        let pb = anchors[centre_building[b] as usize];
        let ra = ((top - pa.y) / band).floor() as i64;
        let rb = ((top - pb.y) / band).floor() as i64;
        ra.cmp(&rb).then(pa.x.total_cmp(&pb.x)).then(a.cmp(&b))
    });
    let mut id_of = vec![GridId::Number(0); n_g];
    match (&homes, existing_ids) {
        (Some(homes), Some(ids)) => {
            // Existing grids keep their id; new grids get ids after the existing ones, in
            // reading order; grids are listed by id.
            let mut fresh = crate::model::existing::new_grid_ids(ids, homes.iter().filter(|h| h.is_none()).count()).into_iter();
            for &g in &order {
                id_of[g] = match homes[g] {
                    Some(i) => ids[i as usize].clone(),
                    None => fresh.next().expect("one new id per new grid"),
                };
            }
            order.sort_by(|&a, &b| id_of[a].cmp(&id_of[b]));
        }
        _ => {
            for (rank, &g) in order.iter().enumerate() {
                id_of[g] = GridId::Number(rank as i64 + 1);
            }
        }
    }

    let mut grid_buildings: Vec<Vec<u32>> = vec![Vec::new(); n_g];
    for (b, &g) in building_grid_raw.iter().enumerate() {
        grid_buildings[g as usize].push(b as u32);
    }
    let unit_of_building = &cells.unit_of_building;
    let walks = walk_stats(
        &grid_buildings,
        &centre_building,
        &|b, c| {
            let (ub, uc) = (unit_of_building[b as usize], unit_of_building[c as usize]);
            metric.between(ub, uc, positions[ub as usize], positions[uc as usize])
        },
        &|b| model.buildings[b as usize].households,
    );

    // The objective: each building's walk to its grid's centre, weighted as configured; and the
    // household-weighted straight-line walk, comparable across tools.
    let (mut objective, mut straight, mut hh_total) = (0.0, 0.0, 0.0);
    for (g, bs) in grid_buildings.iter().enumerate() {
        let c = centre_building[g];
        let (uc, pc) = (unit_of_building[c as usize], anchors[c as usize]);
        for &b in bs {
            let ub = unit_of_building[b as usize];
            let bd = &model.buildings[b as usize];
            objective += bd.cost_weight * metric.between(ub, uc, positions[ub as usize], positions[uc as usize]);
            straight += bd.households * crate::geom::dist(anchors[b as usize], pc);
            hh_total += bd.households;
        }
    }
    let gap = plan.regions_bound.map(|b| if plan.regions_objective > 0.0 { ((plan.regions_objective - b) / plan.regions_objective).max(0.0) } else { 0.0 });
    let exact: serde_json::Map<String, Value> = plan
        .exact
        .iter()
        .map(|(s, n)| (serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(), json!(n)))
        .collect();
    let solution = json!({
        "mode": if config.solver.exact { "exact" } else { "heuristic" },
        "contiguity": config.bounds.contiguity,
        "regions_objective": plan.regions_objective,
        "lower_bound": plan.regions_bound,
        "gap": gap,
        "bound_method": if homes.is_some() {
            "none (a re-division keeps the existing grids; no bound is computed)"
        } else if config.solver.exact {
            "MILP dual bound (HiGHS)"
        } else if !config.solver.lower_bound {
            "none (--no-lower-bound)"
        } else if plan.effort < 0.5 {
            "skipped at this size for speed (--effort 1 computes it)"
        } else if config.solver.lp_bound {
            "LP relaxation with single-unit contiguity inequalities (areas up to 500 units), else Lagrangian relaxation"
        } else {
            "Lagrangian relaxation of the capacitated p-median model"
        },
        "effort": plan.effort,
        "bound_scope": "the objective of the divided regions, for their numbers of grids (grids fixed by oversize buildings or cut-off areas are left out)",
        "exact_regions": exact,
        "exact_skipped_regions": plan.exact_skipped,
        "exact_rounds": plan.exact_work.0,
        "exact_cuts": plan.exact_work.1,
    });
    let walking = Walking {
        metric: metric.describe(),
        network: network_about,
        objective,
        mean_straight_m: if hh_total > 0.0 { straight / hh_total } else { 0.0 },
        solution,
    };

    let projector = model.frame.projector(&buildings.name)?;
    let mut vertex_cache: std::collections::HashMap<(u64, u64), Coord<f64>> = std::collections::HashMap::new();
    let mut to_source = |c: Coord<f64>| -> Result<Coord<f64>> {
        let key = (c.x.to_bits(), c.y.to_bits());
        if let Some(v) = vertex_cache.get(&key) {
            return Ok(*v);
        }
        // A locked polygon's vertex goes back to its position as given.
        if let Some(v) = locked_fit.given(c) {
            vertex_cache.insert(key, v);
            return Ok(v);
        }
        let v = projector.to_source(locked_fit.inset(c)).map_err(|m| Error::Crs {
            path: buildings.name.clone(),
            crs: model.frame.source.to_string(),
            message: format!("cannot convert a grid vertex back: {m}"),
        })?;
        let v = locked_fit.to_given(c, v);
        vertex_cache.insert(key, v);
        Ok(v)
    };
    let mut convert_ring = |ring: &LineString<f64>| -> Result<LineString<f64>> {
        Ok(LineString(ring.0.iter().map(|&c| to_source(c)).collect::<Result<Vec<_>>>()?))
    };
    // A traced shape (working metres) back in the input CRS.
    let mut convert_polygons = |mp: &MultiPolygon<f64>| -> Result<MultiPolygon<f64>> {
        let mut out = Vec::with_capacity(mp.0.len());
        for p in &mp.0 {
            let ext = convert_ring(p.exterior())?;
            let holes = p.interiors().iter().map(&mut convert_ring).collect::<Result<Vec<_>>>()?;
            out.push(Polygon::new(ext, holes));
        }
        Ok(MultiPolygon(out))
    };
    // Locked grids' geometry as given, by plan grid.
    let mut given: Vec<Option<(GivenGeometry, f64)>> = vec![None; n_g];
    if let Some(layer) = layers.existing {
        for (l, g) in locked_shapes.iter().zip(&locked_grid_of_shape) {
            let (Some(g), false) = (g, l.vertices.is_empty()) else { continue };
            let f = &layer.features[l.feature];
            let Some(geometry) = f.geometry.clone() else { continue };
            let text = layer.source_text.as_ref().and_then(|t| t.spans[l.feature].geometry.clone().map(|r| t.text[r].to_string()));
            given[*g as usize] = Some((GivenGeometry { geometry, text }, geo::Area::unsigned_area(&l.working)));
        }
    }
    let mut grids_by_index: Vec<Option<GridReport>> = vec![None; n_g];
    for g in 0..n_g {
        let (polygon, area_m2, given_geometry) = match given[g].take() {
            Some((gg, area)) => {
                let polygon = match &gg.geometry {
                    geo::Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                    geo::Geometry::MultiPolygon(mp) => mp.clone(),
                    _ => convert_polygons(&shapes[g].polygons)?,
                };
                (polygon, area, Some(gg))
            }
            None => (convert_polygons(&shapes[g].polygons)?, shapes[g].area, None),
        };
        let population = model.population_column.as_ref().map(|_| {
            grid_buildings[g].iter().filter_map(|&b| model.buildings[b as usize].population).sum::<f64>()
        });
        let c = centre_building[g] as usize;
        grids_by_index[g] = Some(GridReport {
            id: id_of[g].clone(),
            households: plan.grids[g].households,
            population,
            buildings: crate::model::split::count_rows(&model.buildings, grid_buildings[g].iter().copied()),
            area_m2,
            mean_walk_m: walks[g].1,
            max_walk_m: walks[g].2,
            center_id: model.buildings[c].id.clone(),
            center_row: model.buildings[c].row,
            polygon,
            worker: None,
            given_geometry,
        });
    }
    let mut grids: Vec<GridReport> = order.iter().map(|&g| grids_by_index[g].take().expect("each grid once")).collect();
    let (micro_grids, micro_of_building) = match (config.micro.micro_min, config.micro.micro_max) {
        (Some(lo), Some(hi)) => {
            progress.stage("micro-grids", "dividing grids into micro-grids");
            progress.checkpoint()?;
            let micro = crate::partition::micro::divide_grids(&graph, &plan, config, lo, hi, &unit_name)?;
            let mut tri_micro = grid_of_triangles(&cells, &micro.micro_of_unit);
            if !locked_pairs.is_empty() {
                let grid_of_micro: Vec<u32> = micro.micro_grids.iter().map(|m| m.grid).collect();
                settle_micro_triangles(&mesh, &mut tri_micro, &tri_grid, &grid_of_micro);
            }
            let mut micro_shapes = dissolve(&mesh, &tri_micro, micro.micro_grids.len());
            for shape in micro_shapes.iter_mut() {
                locked_fit.clean(&mut shape.polygons);
            }
            let mut reports = Vec::with_capacity(micro.micro_grids.len());
            for (m, mg) in micro.micro_grids.iter().enumerate() {
                let polygon = convert_polygons(&micro_shapes[m].polygons)?;
                let bs: Vec<u32> = mg.units.iter().flat_map(|&u| graph.units[u as usize].buildings.iter().copied()).collect();
                let population = model.population_column.as_ref().map(|_| bs.iter().filter_map(|&b| model.buildings[b as usize].population).sum::<f64>());
                let vs: Vec<&crate::partition::micro::MicroViolation> = micro.violations.iter().filter(|v| v.micro == m).collect();
                reports.push(MicroGridReport {
                    id: String::new(),
                    grid_id: id_of[mg.grid as usize].clone(),
                    seq: 0,
                    households: mg.households,
                    population,
                    buildings: crate::model::split::count_rows(&model.buildings, bs.iter().copied()),
                    area_m2: micro_shapes[m].area,
                    polygon,
                    violations: vs.iter().map(|v| serde_json::to_value(v.kind).ok().and_then(|k| k.as_str().map(String::from)).unwrap_or_default()).collect(),
                    messages: vs
                        .iter()
                        .map(|v| match v.kind {
                            crate::partition::ViolationKind::OversizeBuilding => split_report.explain(&v.message, bs.iter().map(|&b| &model.buildings[b as usize])),
                            _ => v.message.clone(),
                        })
                        .collect(),
                });
            }
            // Number micro-grids in reading order inside each grid; list them grid by grid.
            let centre = |m: usize| model.buildings[graph.units[micro.micro_grids[m].centre as usize].buildings[0] as usize].anchor;
            let mut rank: Vec<usize> = (0..reports.len()).collect();
            rank.sort_by(|&a, &b| {
                let (ga, gb) = (&reports[a].grid_id, &reports[b].grid_id);
                let band = (shapes[micro.micro_grids[a].grid as usize].area / 4.0).sqrt().max(1.0);
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
            let ordered: Vec<MicroGridReport> = rank.iter().map(|&m| by_rank[m].take().expect("each micro-grid once")).collect();
            let mut micro_of_building = vec![0u32; model.buildings.len()];
            for (u, &m) in micro.micro_of_unit.iter().enumerate() {
                for &b in &graph.units[u].buildings {
                    micro_of_building[b as usize] = new_index[m as usize];
                }
            }
            (ordered, micro_of_building)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let building_micro = if micro_of_building.is_empty() { Vec::new() } else { crate::model::split::per_row(&model.buildings, buildings.features.len(), |b| micro_of_building[b]) };

    // Workers to grids.
    let staffing = match &workers {
        None => None,
        Some(ws) => {
            let households: Vec<f64> = grids.iter().map(|g| g.households).collect();
            let centres: Vec<Coord<f64>> = order.iter().map(|&g| anchors[centre_building[g] as usize]).collect();
            let options = SolverOptions { time_limit_s: config.solver.time_limit_s, mip_gap: 1e-6, threads: config.solver.solver_threads, max_nodes: None };
            let mut s = workers::staff(ws, &households, &centres, &options)?;
            // When the workers capped the number of grids, the shortfall is what the bounds wanted.
            s.additional_workers_needed = s.additional_workers_needed.max(plan.grids_wanted.saturating_sub(ws.len()));
            for (g, w) in s.worker_of_grid.iter().enumerate() {
                grids[g].worker = w.map(|w| (ws[w].id.clone(), ws[w].kind.clone()));
            }
            if !s.unassigned_workers.is_empty() {
                warnings.push(format!("{} worker(s) have no grid: {}", s.unassigned_workers.len(), s.unassigned_workers.iter().take(20).cloned().collect::<Vec<_>>().join(", ")));
            }
            Some(s)
        }
    };
    let mut rank_of: Vec<u32> = vec![0; n_g];
    for (r, &g) in order.iter().enumerate() {
        rank_of[g] = r as u32;
    }
    let redivision = model.sources.existing.as_ref().map(|_| redivision_summary(&model, &building_grid_raw, &id_of));
    // Back to file order (the model holds the buildings in canonical order; parts of a split
    // building share its row).
    let n_rows = buildings.features.len();
    let building_grid = crate::model::split::per_row(&model.buildings, n_rows, |b| rank_of[building_grid_raw[b] as usize]);
    let grid_of_building: Vec<u32> = building_grid_raw.iter().map(|&g| rank_of[g as usize]).collect();
    let split = crate::model::split::SplitOutcome::new(split_report, &model, &grid_of_building, (!micro_of_building.is_empty()).then_some(micro_of_building.as_slice()), &mut convert_polygons)?;
    let mut building_index: Vec<u32> = vec![0; n_rows];
    for (b, bd) in model.buildings.iter().enumerate().rev() {
        building_index[bd.row] = b as u32;
    }

    let ids_of = |g: usize| -> Vec<Value> {
        // Parts of a split building name it once.
        let mut ids: Vec<Value> = grid_buildings[g].iter().map(|&b| model.buildings[b as usize].id.to_json()).collect();
        ids.dedup();
        ids.truncate(50);
        ids
    };
    let mut violations: Vec<ViolationReport> = plan
        .violations
        .iter()
        .map(|v| ViolationReport {
            grid_id: id_of[v.grid].clone(),
            kind: serde_json::to_value(v.kind).ok().and_then(|k| k.as_str().map(String::from)).unwrap_or_default(),
            message: match v.kind {
                crate::partition::ViolationKind::OversizeBuilding => split.report.explain(&v.message, grid_buildings[v.grid].iter().map(|&b| &model.buildings[b as usize])),
                _ => v.message.clone(),
            },
            households: plan.grids[v.grid].households,
            buildings: ids_of(v.grid),
        })
        .collect();
    for (g, d) in defects.iter().filter(|(_, d)| config.bounds.contiguity || !matches!(d, ShapeDefect::Pieces(_))) {
        let (kind, message) = match d {
            ShapeDefect::Empty => ("polygon_empty", "the grid has no polygon area".to_string()),
            ShapeDefect::Pieces(k) => ("polygon_pieces", format!("the grid polygon has {k} pieces")),
            ShapeDefect::BuildingOutside(b) => (
                "building_outside_polygon",
                format!("building {} lies outside its grid polygon", model.buildings[*b as usize].id),
            ),
        };
        violations.push(ViolationReport {
            grid_id: id_of[*g].clone(),
            kind: kind.into(),
            message,
            households: plan.grids[*g].households,
            buildings: ids_of(*g),
        });
    }
    if let (Some(s), Some(ws)) = (&staffing, &workers) {
        let biggest = ws.iter().map(|w| w.capacity).fold(0.0, f64::max);
        for &g in &s.grids_without_worker {
            let grid = &grids[g];
            violations.push(ViolationReport {
                grid_id: grid.id.clone(),
                kind: "unstaffed".into(),
                message: format!(
                    "no worker is left for this grid of {} households ({} workers, capacities up to {}): {} more worker(s) needed",
                    fmt_count(grid.households),
                    ws.len(),
                    fmt_count(biggest),
                    s.additional_workers_needed
                ),
                households: grid.households,
                buildings: grid_buildings[order[g]].iter().take(50).map(|&b| model.buildings[b as usize].id.to_json()).collect(),
            });
        }
    }
    violations.sort_by(|a, b| a.grid_id.cmp(&b.grid_id));

    let timings = progress.timings();
    let summary = summary_json(SummaryParts {
        config,
        input_info,
        model: &model,
        grids: &grids,
        violations: &violations,
        warnings: &warnings,
        graph_units: graph.len(),
        graph_edges: graph.targets.len() / 2,
        dropped_long: graph.dropped_long,
        components: plan.components,
        regions: plan.regions,
        triangles: mesh.len(),
        tiled_area,
        unclaimed_area: cells.unclaimed_area,
        timings: &timings,
        walking,
        workers: staffing.as_ref().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
        micro_grids: &micro_grids,
        redivision,
        split: (!split.report.buildings.is_empty() || !split.report.not_split.is_empty()).then(|| split.summary(|g| json!(grids[g as usize].id))),
        input_buildings: buildings.features.len(),
    });
    let households_column = config.columns.households.clone();
    let code_prefix = config.micro.code_prefix.clone();
    Ok(Partitioned { model, building_grid, building_index, households_column, code_prefix, grids, violations, micro_grids, building_micro, split, warnings, summary })
}

/// Number of decimal digits of `x` (and its sign).
fn digits(x: i64) -> usize {
    x.to_string().len()
}

/// What a re-division changed: households and buildings moved, per grid and in all.
fn redivision_summary(model: &Model, building_grid_raw: &[u32], id_of: &[GridId]) -> Value {
    use std::collections::BTreeMap;
    let existing_ids: &[GridId] = model.sources.existing.as_ref().map_or(&[], |e| e.ids.as_slice());
    // grid id → (households now, households in, households out, buildings in, buildings out, existed)
    let mut per: BTreeMap<&GridId, [f64; 6]> = BTreeMap::new();
    let (mut moved, mut moved_buildings, mut with_grid, mut new_hh) = (0.0, 0usize, 0.0, 0.0);
    for (b, bd) in model.buildings.iter().enumerate() {
        let now = &id_of[building_grid_raw[b] as usize];
        per.entry(now).or_default()[0] += bd.households;
        match bd.existing_grid {
            None => new_hh += bd.households,
            Some(before) => {
                let before = &existing_ids[before as usize];
                with_grid += bd.households;
                per.entry(before).or_default()[5] = 1.0;
                if before != now {
                    moved += bd.households;
                    moved_buildings += 1;
                    let e = per.entry(now).or_default();
                    e[1] += bd.households;
                    e[3] += 1.0;
                    let e = per.entry(before).or_default();
                    e[2] += bd.households;
                    e[4] += 1.0;
                }
            }
        }
    }
    let mut changed = Vec::new();
    let (mut unchanged, mut new_grids, mut removed) = (0usize, 0usize, 0usize);
    let finals: std::collections::HashSet<&GridId> = id_of.iter().collect();
    for (id, v) in &per {
        let status = match (v[5] > 0.0, finals.contains(id)) {
            (true, false) => {
                removed += 1;
                "removed"
            }
            (false, _) => {
                new_grids += 1;
                "new"
            }
            (true, true) if v[1] == 0.0 && v[2] == 0.0 && v[3] == 0.0 && v[4] == 0.0 => {
                unchanged += 1;
                continue;
            }
            _ => "changed",
        };
        changed.push(json!({"grid_id": id, "status": status, "households": v[0], "households_in": v[1], "households_out": v[2], "buildings_in": v[3], "buildings_out": v[4]}));
    }
    json!({
        "households_moved": moved,
        "buildings_moved": moved_buildings,
        "share_of_households_moved": if with_grid > 0.0 { moved / with_grid } else { 0.0 },
        "households_without_existing_grid": new_hh,
        "grids_unchanged": unchanged,
        "grids_changed": changed.iter().filter(|c| c["status"] == "changed").count(),
        "grids_new": new_grids,
        "grids_removed": removed,
        "changes": changed,
    })
}

/// Walking figures of a plan.
struct Walking {
    solution: Value,
    metric: String,
    network: Option<String>,
    objective: f64,
    mean_straight_m: f64,
}

struct SummaryParts<'a> {
    split: Option<Value>,
    input_buildings: usize,
    redivision: Option<Value>,
    micro_grids: &'a [MicroGridReport],
    workers: Option<Value>,
    walking: Walking,
    config: &'a PartitionConfig,
    input_info: Value,
    model: &'a Model,
    grids: &'a [GridReport],
    violations: &'a [ViolationReport],
    warnings: &'a [String],
    graph_units: usize,
    graph_edges: usize,
    dropped_long: usize,
    components: usize,
    regions: usize,
    triangles: usize,
    tiled_area: f64,
    unclaimed_area: f64,
    timings: &'a [(&'static str, f64)],
}

fn summary_json(p: SummaryParts) -> Value {
    let hh: Vec<f64> = p.grids.iter().map(|g| g.households).collect();
    let total: f64 = hh.iter().sum();
    let (lo, hi) = (p.config.bounds.min_households, p.config.bounds.upper_bound());
    let min = hh.iter().copied().fold(f64::INFINITY, f64::min);
    let max = hh.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let in_bounds = hh.iter().filter(|&&h| h >= lo - 1e-9 && h <= hi + 1e-9).count();
    let weighted: f64 = p.grids.iter().map(|g| g.mean_walk_m * g.households).sum();
    let worst = p.grids.iter().map(|g| g.max_walk_m).fold(0.0, f64::max);
    let population = p.model.population_column.as_ref().map(|c| {
        json!({"column": c, "total": p.grids.iter().filter_map(|g| g.population).sum::<f64>()})
    });
    let micro = match (p.config.micro.micro_min, p.config.micro.micro_max) {
        (Some(mlo), Some(mhi)) => {
            let hh: Vec<f64> = p.micro_grids.iter().map(|m| m.households).collect();
            let violations: Vec<Value> = p
                .micro_grids
                .iter()
                .flat_map(|m| m.violations.iter().zip(&m.messages).map(move |(k, msg)| json!({"micro_grid_id": m.id, "kind": k, "message": msg, "households": m.households})))
                .collect();
            json!({
                "count": p.micro_grids.len(),
                "bounds": [mlo, mhi],
                "in_bounds": hh.iter().filter(|&&h| h >= mlo - 1e-9 && h <= mhi + 1e-9).count(),
                "min": hh.iter().copied().fold(f64::INFINITY, f64::min),
                "max": hh.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                "violations": violations,
            })
        }
        _ => Value::Null,
    };
    let timings: serde_json::Map<String, Value> = p.timings.iter().map(|(k, v)| (k.to_string(), json!((v * 1000.0).round() / 1000.0))).collect();
    json!({
        "wangge_version": env!("CARGO_PKG_VERSION"),
        "status": if p.violations.is_empty() { "ok" } else { "infeasible" },
        "input": p.input_info,
        "crs": {"input": p.model.frame.source.to_string(), "working": p.model.frame.work_crs_name()},
        "config": p.config,
        "buildings": p.input_buildings,
        "split_buildings": p.split,
        "grids": p.grids.len(),
        "households": {
            "total": total,
            "min": if p.grids.is_empty() { Value::Null } else { json!(min) },
            "max": if p.grids.is_empty() { Value::Null } else { json!(max) },
            "mean": if p.grids.is_empty() { Value::Null } else { json!(total / p.grids.len() as f64) },
            "bounds": [lo, hi],
            "grids_in_bounds": in_bounds,
        },
        "population": population,
        "households_table": p.model.sources.households_table,
        "population_zones": p.model.sources.population_zones,
        "objective": {
            "description": format!("sum over buildings of ({}) × walk to the grid's centre building", p.config.walking.objective_weight),
            "walk": p.walking.metric,
            "value": p.walking.objective,
            "mean_walk_m": if total > 0.0 { weighted / total } else { 0.0 },
            "max_walk_m": worst,
            "mean_straight_m": p.walking.mean_straight_m,
        },
        "network": p.walking.network,
        "solution": p.walking.solution,
        "workers": p.workers,
        "violations": p.violations,
        "micro_grids": micro,
        "existing": p.model.sources.existing,
        "redivision": p.redivision,
        "warnings": p.warnings,
        "graph": {
            "units": p.graph_units,
            "edges": p.graph_edges,
            "dropped_long_edges": p.dropped_long,
            "components": p.components,
            "regions": p.regions,
            "triangles": p.triangles,
        },
        "territory": {
            "derived": p.model.territory.derived,
            "tiled_area_m2": p.tiled_area,
            "unclaimed_area_m2": p.unclaimed_area,
        },
        "timings_s": timings,
        "message": if p.violations.is_empty() {
            format!("{} grids, all within {}–{} households", p.grids.len(), fmt_count(lo), fmt_count(hi))
        } else {
            format!("{} grids; {} miss a bound or check (see violations)", p.grids.len(), p.violations.len())
        },
    })
}
