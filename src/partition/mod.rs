//! Partition stage: units → grids that are connected, within the household bounds, and compact.
//!
//! The unit graph falls apart into components (cut off by barriers or distance). A unit with
//! more households than the maximum is a grid of its own; the rest of each component is split
//! into regions, each divided into its number of grids by recursive bisection, repaired where a
//! bound is missed, and improved by local search. Every grid that misses a bound is reported
//! with the reason.

pub mod bisect;
pub mod bound;
pub mod count;
pub mod deadline;
pub mod exact;
pub mod improve;
pub mod medoid;
pub mod micro;
pub mod recombine;
pub mod milp;
pub mod region;
pub mod repair;
pub mod stable;
pub mod whole_blocks;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::count::{choose_counts, count_range, RegionCount};
use self::deadline::Deadline;
use self::region::{Band, LocalGraph, Parts, Rules};
use crate::config::PartitionConfig;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::solver::{SolveStatus, SolverOptions};
use crate::distance::Metric;
use crate::graph::{UnitGraph, NONE};
use crate::pieces::pieces;
use crate::rng::Rng;
use crate::text;

/// Why a grid misses a bound or a check. The partition stage finds the first five; the check
/// stage adds polygon defects and the staffing adds grids left without a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ViolationKind {
    /// One building holds more households than the maximum.
    OversizeBuilding,
    /// An area cut off from the rest (by barriers or distance) holds fewer households than the minimum.
    IsolatedArea,
    /// An area's households fit no whole number of grids within the bounds.
    InfeasibleArea,
    /// The bounds could be met by households alone, but no connected division meeting them was found.
    Unbalanced,
    /// Some building of the grid walks farther than the maximum walk to the grid's centre.
    LongWalk,
    /// The grid's polygon has no area.
    PolygonEmpty,
    /// The grid's polygon is in several pieces.
    PolygonPieces,
    /// A building lies outside its grid's polygon.
    BuildingOutsidePolygon,
    /// No worker is left for the grid.
    Unstaffed,
}

impl ViolationKind {
    /// The kind as written in the outputs (`oversize_building`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A grid that misses a bound, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// Index of the grid in [`Plan::grids`].
    pub grid: usize,
    /// Kind of violation.
    pub kind: ViolationKind,
    /// Explanation naming buildings and counts.
    pub message: String,
    /// True when no plan can avoid the miss, whatever the division: a building above the
    /// maximum, an area cut off from the rest below the minimum, an area no whole number of
    /// grids fits within the bounds or that an exact search proved indivisible. False for a
    /// miss the search did not avoid or that a chosen number of grids or workers causes.
    pub unavoidable: bool,
}

/// One grid of the plan.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Units of the grid (ascending).
    pub units: Vec<u32>,
    /// Households of the grid.
    pub households: f64,
    /// The unit at the grid's centre (its weighted medoid).
    pub centre: u32,
}

/// The result of the partition stage.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Grid of each unit (index into `grids`).
    pub grid_of_unit: Vec<u32>,
    /// The grids.
    pub grids: Vec<Grid>,
    /// Grids that miss a bound.
    pub violations: Vec<Violation>,
    /// Connected components of the unit graph.
    pub components: usize,
    /// Regions divided (components minus oversize units).
    pub regions: usize,
    /// Sum of the regions' proven lower bounds (their objective for their numbers of grids),
    /// when every region has one.
    pub regions_bound: Option<f64>,
    /// Sum of the regions' objectives (the part of the objective that `regions_bound` bounds).
    pub regions_objective: f64,
    /// Regions solved by the exact MILP, by outcome (optimal, time limit, ...).
    pub exact: Vec<(SolveStatus, usize)>,
    /// Regions too large for the exact MILP (left to the heuristic).
    pub exact_skipped: usize,
    /// Search effort used (see the configuration).
    pub effort: f64,
    /// Solve-and-cut rounds and separator cuts of the exact MILP, over all regions.
    pub exact_work: (usize, usize),
    /// Grids the household bounds call for, before any cap by the number of workers.
    pub grids_wanted: usize,
    /// True when the time limit stopped some optional phase of the search (the plan is the
    /// best found by then and may differ between runs).
    pub time_limit_reached: bool,
}

impl Plan {
    /// The grid (index into `grids`) of each of the `n_buildings` buildings of the units.
    pub fn grid_of_buildings(&self, graph: &UnitGraph, n_buildings: usize) -> Vec<u32> {
        let mut out = vec![NONE; n_buildings];
        for (u, unit) in graph.units.iter().enumerate() {
            for &b in &unit.buildings {
                out[b as usize] = self.grid_of_unit[u];
            }
        }
        out
    }
}

/// What the partition stage produces.
#[derive(Debug, Clone)]
pub struct Division {
    /// The plan.
    pub plan: Plan,
    /// In a re-division, the existing grid (index into the model's existing ids) each grid of
    /// the plan continues (None: a new grid); None for a fresh division.
    pub homes: Option<Vec<Option<u32>>>,
    /// What a re-division did, in words.
    pub notes: Vec<String>,
}

/// Partition stage: a fresh division of the unit graph, or, when the model holds an existing
/// division, a stable re-division of it. `step` reports progress as in
/// [`partition_with_progress`].
pub fn divide(graph: &UnitGraph, metric: &Metric, model: &Model, config: &PartitionConfig, step: &(dyn Fn(Option<usize>) + Sync)) -> Result<Division> {
    let name = |u: u32| graph.unit_name(u, &model.buildings);
    let Some(ids) = model.existing_ids() else {
        return Ok(Division { plan: partition_with_progress(graph, metric, config, &name, step)?, homes: None, notes: Vec::new() });
    };
    let existing = stable::existing_of_units(graph, model, ids, &config.redivision.locked);
    let stable = stable::redivide(graph, metric, config, &existing, config.redivision.stability, &name)?;
    if let Some(l) = (0..ids.len()).find(|&l| existing.locked[l] && !stable.home.contains(&Some(l as u32))) {
        return Err(Error::LockedGridEmpty { id: ids[l].to_string() });
    }
    Ok(Division { plan: stable.plan, homes: Some(stable.home), notes: stable.notes })
}

/// What a region is and how many grids it gets.
struct RegionTask {
    units: Vec<u32>,
    count: RegionCount,
    range: (usize, usize),
}

/// Divides the unit graph into grids. `name(u)` names a unit's buildings in messages.
pub fn partition(graph: &UnitGraph, metric: &Metric, config: &PartitionConfig, name: &(dyn Fn(u32) -> String + Sync)) -> Result<Plan> {
    partition_with_progress(graph, metric, config, name, &|_| {})
}

/// [`partition`], reporting progress: `step(Some(total))` announces the number of grids to
/// make, then `step(None)` follows each grid made (from any thread; a region's grids are
/// counted when the region is divided).
pub fn partition_with_progress(
    graph: &UnitGraph,
    metric: &Metric,
    config: &PartitionConfig,
    name: &(dyn Fn(u32) -> String + Sync),
    step: &(dyn Fn(Option<usize>) + Sync),
) -> Result<Plan> {
    let (lo, hi) = (config.bounds.min_households, config.bounds.upper_bound());
    let (_, n_comp) = graph.components();
    let oversize: Vec<bool> = graph.units.iter().map(|u| u.households > hi + Band::EPS).collect();
    let Fixed { mut grids, mut grid_of_unit, regions } = fixed_grids(graph, &oversize, lo);
    let n_fixed = grids.len();
    let Tasks { tasks, limited_by_workers, grids_wanted } = region_tasks(graph, config, regions, n_fixed);

    let effort = config.search.effort.unwrap_or_else(|| default_effort(graph.len()));
    let config = &config.with_boundary_weight_for(config.search.boundary_weight.is_none() && graph.has_boundary_along_streets());
    let deadline = Deadline::after(config.solver.time_limit_s);
    let solved = solve_regions(graph, metric, &tasks, config, effort, &deadline, step)?;
    let n_regions = tasks.len();
    let totals = RegionTotals::of(&solved, config);
    let wording = Wording { lo, hi, limited_by_workers, name };
    let mut violations = Vec::new();
    for (task, result) in tasks.iter().zip(solved) {
        let base = place_region(&result, &mut grids, &mut grid_of_unit);
        violations.extend(region_violations(task, &result, base, config.bounds.max_walk_m, &wording));
    }
    violations.extend(fixed_violations(graph, &grids[..n_fixed], &oversize, &wording));
    violations.sort_by_key(|v| v.grid);
    Ok(Plan {
        grid_of_unit,
        grids,
        violations,
        components: n_comp,
        regions: n_regions,
        regions_bound: totals.bound,
        regions_objective: totals.objective,
        exact: totals.exact,
        exact_skipped: totals.exact_skipped,
        exact_work: totals.exact_work,
        effort,
        grids_wanted,
        time_limit_reached: deadline.reached(),
    })
}

/// The search effort when none is given: full (1) up to 20,000 units, then falling with the
/// square of the size ((20,000 / n)²: 0.04 at 100,000 units), so that the optional phases
/// cost about as much per unit at every size and large cities stay fast.
pub fn default_effort(units: usize) -> f64 {
    let r = (20_000.0 / units.max(1) as f64).min(1.0);
    r * r
}

/// The grids made before any region is divided, and the regions left to divide.
struct Fixed {
    /// Grids of the oversize units (with the small pieces they host), then lone small pieces.
    grids: Vec<Grid>,
    /// Grid of each unit, [`NONE`] for the units of the regions.
    grid_of_unit: Vec<u32>,
    /// Units of each region.
    regions: Vec<Vec<u32>>,
}

/// Oversize units get a grid each; pieces of the other units below `lo` join a neighbouring oversize grid or stand alone; the rest are regions.
fn fixed_grids(graph: &UnitGraph, oversize: &[bool], lo: f64) -> Fixed {
    let n = graph.len();
    // Pieces: connected sets of non-oversize units.
    let (_, pieces) = pieces(
        n,
        |u| !oversize[u],
        |u, visit| {
            for &v in graph.neighbours(u) {
                if !oversize[v as usize] {
                    visit(v as usize);
                }
            }
        },
    );

    let mut grids: Vec<Grid> = Vec::new();
    let mut grid_of_unit = vec![NONE; n];
    // Oversize units: a grid each.
    let mut oversize_grid = vec![NONE; n];
    for u in 0..n {
        if oversize[u] {
            oversize_grid[u] = grids.len() as u32;
            grid_of_unit[u] = grids.len() as u32;
            grids.push(Grid { units: vec![u as u32], households: graph.units[u].households, centre: u as u32 });
        }
    }
    // Small pieces join a neighbouring oversize grid, or stand alone; the rest are regions.
    let mut regions = Vec::new();
    for members in pieces {
        let total: f64 = members.iter().map(|&u| graph.units[u as usize].households).sum();
        if total >= lo - Band::EPS {
            regions.push(members);
            continue;
        }
        let host = members
            .iter()
            .flat_map(|&u| graph.neighbours(u as usize).iter().copied())
            .filter(|&v| oversize[v as usize])
            .min_by(|&a, &b| graph.units[a as usize].households.total_cmp(&graph.units[b as usize].households).then(a.cmp(&b)));
        let g = match host {
            Some(h) => oversize_grid[h as usize] as usize,
            None => {
                grids.push(Grid { units: Vec::new(), households: 0.0, centre: members[0] });
                grids.len() - 1
            }
        };
        for &u in &members {
            grid_of_unit[u as usize] = g as u32;
            grids[g].units.push(u);
            grids[g].households += graph.units[u as usize].households;
        }
    }
    Fixed { grids, grid_of_unit, regions }
}

/// The regions with their numbers of grids.
struct Tasks {
    /// One task per region.
    tasks: Vec<RegionTask>,
    /// True when the number of workers capped the numbers of grids.
    limited_by_workers: bool,
    /// Grids the household bounds call for, before any cap by the number of workers.
    grids_wanted: usize,
}

/// Chooses the number of grids of each region, given the `n_fixed` grids made already and the workers.
fn region_tasks(graph: &UnitGraph, config: &PartitionConfig, regions: Vec<Vec<u32>>, n_fixed: usize) -> Tasks {
    let (lo, hi) = (config.bounds.min_households, config.bounds.upper_bound());
    let totals: Vec<f64> = regions.iter().map(|m| m.iter().map(|&u| graph.units[u as usize].households).sum()).collect();
    let sizes: Vec<usize> = regions.iter().map(|m| m.len()).collect();
    let fixed_total = config.bounds.grids.map(|k| k.saturating_sub(n_fixed));
    let mut counts = choose_counts(&totals, &sizes, lo, hi, config.bounds.target(), fixed_total);
    let mut limited_by_workers = false;
    let grids_wanted = counts.iter().map(|c| c.k).sum::<usize>() + n_fixed;
    // No more grids than workers: share the workers out when the bounds ask for more grids.
    if let Some(w) = config.bounds.workers {
        if fixed_total.is_none() && counts.iter().map(|c| c.k).sum::<usize>() + n_fixed > w {
            counts = choose_counts(&totals, &sizes, lo, hi, config.bounds.target(), Some(w.saturating_sub(n_fixed)));
            limited_by_workers = true;
        }
    }
    let tasks: Vec<RegionTask> = regions
        .into_iter()
        .zip(counts)
        .zip(totals.iter().zip(&sizes))
        .map(|((units, count), (&t, &s))| RegionTask { units, count, range: count_range(t, s, lo, hi) })
        .collect();
    Tasks { tasks, limited_by_workers, grids_wanted }
}

/// Solves the regions in parallel: `step(Some(total grids))` first, `step(None)` for each grid of each region divided.
fn solve_regions(
    graph: &UnitGraph,
    metric: &Metric,
    tasks: &[RegionTask],
    config: &PartitionConfig,
    effort: f64,
    deadline: &Deadline,
    step: &(dyn Fn(Option<usize>) + Sync),
) -> Result<Vec<RegionResult>> {
    step(Some(tasks.iter().map(|t| t.count.k).sum()));
    // Largest regions first, so that no large one starts last and runs alone; each region's
    // random stream is its own index, so the order changes nothing in the results.
    let mut by_size: Vec<usize> = (0..tasks.len()).collect();
    by_size.sort_by_key(|&r| (std::cmp::Reverse(tasks[r].units.len()), r));
    let solved: Vec<(usize, Result<RegionResult>)> = by_size
        .par_iter()
        .with_max_len(1)
        .map(|&r| (r, &tasks[r]))
        .map(|(r, task)| {
            let t0 = std::time::Instant::now();
            let solved = solve_region(graph, metric, task, config, r as u64, effort, deadline);
            if std::env::var_os("WANGGE_TRACE_REGIONS").is_some() {
                eprintln!("region {r}: {} units, {} grids, {:.3} s", task.units.len(), task.count.k, t0.elapsed().as_secs_f64());
            }
            for _ in 0..task.count.k {
                step(None);
            }
            (r, solved)
        })
        .collect();
    let mut in_order: Vec<Option<Result<RegionResult>>> = (0..tasks.len()).map(|_| None).collect();
    for (r, result) in solved {
        in_order[r] = Some(result);
    }
    in_order.into_iter().map(|r| r.unwrap_or_else(|| Err(Error::Invariant { stage: "partition", message: "a region was not solved".into() }))).collect::<Result<_>>()
}

/// What the plan tells of the regions' solves, over all regions.
struct RegionTotals {
    /// Sum of the regions' lower bounds, when every region has one.
    bound: Option<f64>,
    /// Sum of the regions' objectives.
    objective: f64,
    /// Regions solved by the exact MILP, by outcome.
    exact: Vec<(SolveStatus, usize)>,
    /// Solve-and-cut rounds and separator cuts of the exact MILP.
    exact_work: (usize, usize),
    /// Regions too large for the exact MILP.
    exact_skipped: usize,
}

impl RegionTotals {
    /// Sums up the regions' results.
    fn of(solved: &[RegionResult], config: &PartitionConfig) -> RegionTotals {
        let bound: Option<f64> = solved.iter().map(|r| r.bound).sum();
        let objective: f64 = solved.iter().map(|r| r.parts.cost(&r.graph)).sum();
        let mut exact: Vec<(SolveStatus, usize)> = Vec::new();
        for r in solved {
            if let Some(s) = r.exact {
                match exact.iter_mut().find(|(k, _)| *k == s) {
                    Some(e) => e.1 += 1,
                    None => exact.push((s, 1)),
                }
            }
        }
        let exact_work = solved.iter().fold((0, 0), |acc, r| (acc.0 + r.exact_work.0, acc.1 + r.exact_work.1));
        let exact_skipped = if config.solver.exact { solved.iter().filter(|r| r.exact.is_none()).count() } else { 0 };
        RegionTotals { bound, objective, exact, exact_work, exact_skipped }
    }
}

/// Adds the grids of a solved region to the plan; returns the index of its first grid.
fn place_region(result: &RegionResult, grids: &mut Vec<Grid>, grid_of_unit: &mut [u32]) -> usize {
    let RegionResult { graph: g, parts, .. } = result;
    let base = grids.len();
    for p in 0..parts.len() {
        grids.push(Grid { units: Vec::new(), households: parts.load[p], centre: g.global[parts.centre[p] as usize] });
    }
    for (lu, &p) in parts.part_of.iter().enumerate() {
        let gu = g.global[lu];
        grid_of_unit[gu as usize] = (base + p as usize) as u32;
        grids[base + p as usize].units.push(gu);
    }
    base
}

/// What the messages of violations need to know.
struct Wording<'a> {
    /// Household minimum.
    lo: f64,
    /// Household maximum in force.
    hi: f64,
    /// True when the number of workers capped the numbers of grids.
    limited_by_workers: bool,
    /// Names a unit's buildings.
    name: &'a (dyn Fn(u32) -> String + Sync),
}

/// The violations of a solved region whose grids start at `base`: grids out of band, then walks longer than `max_walk`.
fn region_violations(task: &RegionTask, result: &RegionResult, base: usize, max_walk: Option<f64>, wording: &Wording) -> Vec<Violation> {
    let (lo, hi, name) = (wording.lo, wording.hi, wording.name);
    let RegionResult { graph: g, parts, status, .. } = result;
    let mut violations = Vec::new();
    let total = g.total();
    for p in 0..parts.len() {
        let load = parts.load[p];
        if load >= lo - Band::EPS && load <= hi + Band::EPS {
            continue;
        }
        let (kind, message, unavoidable) = out_of_band(task, *status, total, load, wording);
        violations.push(Violation { grid: base + p, kind, message, unavoidable });
    }
    if let Some(limit) = max_walk {
        for (p, u, d) in long_walks(g, parts, limit) {
            violations.push(Violation {
                grid: base + p,
                kind: ViolationKind::LongWalk,
                message: format!(
                    "building {} walks {:.0} m to the grid's centre (building {}), more than the maximum walk of {} m; \
                     no division of this area into connected grids within the bounds keeping every walk within it was found",
                    name(g.global[u]),
                    d,
                    name(g.global[parts.centre[p] as usize]),
                    text::count(limit)
                ),
                unavoidable: false,
            });
        }
    }
    violations
}

/// Why a grid of `load` households in a region of `total` households misses the band, in words,
/// and whether any plan could avoid it.
fn out_of_band(task: &RegionTask, status: RegionStatus, total: f64, load: f64, wording: &Wording) -> (ViolationKind, String, bool) {
    let (lo, hi, name) = (wording.lo, wording.hi, wording.name);
    if !task.count.feasible && task.range.0 > task.range.1 {
        (
            ViolationKind::InfeasibleArea,
            format!(
                "an area of {} buildings and {} households (cut off from the rest, starting at building {}) \
                 fits no whole number of grids of {lo}–{hi} households; it was divided into {} grids of about {:.0}, \
                 this one holds {}",
                task.units.len(), text::count(total), name(task.units[0]), task.count.k, total / task.count.k as f64, text::count(load)
            ),
            true,
        )
    } else if !task.count.feasible {
        (
            ViolationKind::InfeasibleArea,
            format!(
                "{} gives this area of {} households {} grids (about {:.0} each), outside {lo}–{hi}; this one holds {}",
                if wording.limited_by_workers { "the number of workers" } else { "the fixed number of grids" },
                text::count(total),
                task.count.k,
                total / task.count.k as f64,
                text::count(load)
            ),
            false,
        )
    } else if status == RegionStatus::ProvenInfeasible {
        (
            ViolationKind::InfeasibleArea,
            format!(
                "holds {} households, outside {lo}–{hi}: an exact search proved that this area of {} buildings and {} \
                 households (starting at building {}) has no division into connected grids within the bounds",
                text::count(load), task.units.len(), text::count(total), name(task.units[0])
            ),
            true,
        )
    } else {
        (
            ViolationKind::Unbalanced,
            format!(
                "holds {} households, outside {lo}–{hi}: no connected division of this area of {} households into {} grids \
                 within the bounds was found (buildings are too lumpy or too weakly connected)",
                text::count(load), text::count(total), task.count.k
            ),
            false,
        )
    }
}

/// The violations of the grids made before the regions (`fixed`, the plan's first grids): oversize units and isolated areas.
fn fixed_violations(graph: &UnitGraph, fixed: &[Grid], oversize: &[bool], wording: &Wording) -> Vec<Violation> {
    let (lo, hi, name) = (wording.lo, wording.hi, wording.name);
    let mut violations = Vec::new();
    for (gi, grid) in fixed.iter().enumerate() {
        if grid.units.is_empty() {
            continue;
        }
        if oversize[grid.units[0] as usize] {
            let extra = grid.units.len() - 1;
            let also = if extra > 0 {
                format!(" (with {extra} more units cut off from everything else but through it)")
            } else {
                String::new()
            };
            violations.push(Violation {
                grid: gi,
                kind: ViolationKind::OversizeBuilding,
                message: format!(
                    "{} {} households, more than the maximum {hi}: it forms its own grid{also}",
                    if graph.units[grid.units[0] as usize].buildings.len() > 1 {
                        format!("buildings {} overlap (their footprints share ground) and together hold", name(grid.units[0]))
                    } else {
                        format!("building {} alone holds", name(grid.units[0]))
                    },
                    text::count(graph.units[grid.units[0] as usize].households)
                ),
                unavoidable: true,
            });
        } else if grid.households < lo - Band::EPS {
            violations.push(Violation {
                grid: gi,
                kind: ViolationKind::IsolatedArea,
                message: format!(
                    "buildings {} ({} households) are cut off from the rest by barriers or distance and hold fewer \
                     than the minimum {lo}: they form a grid of their own",
                    text::first_of(grid.units.iter().map(|&u| name(u)), grid.units.len(), 5, ", "),
                    text::count(grid.households)
                ),
                unavoidable: true,
            });
        }
    }
    violations
}


/// How a region's division relates to its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegionStatus {
    /// Every grid within the band.
    Balanced,
    /// The exact search proved that no division within the bounds exists.
    ProvenInfeasible,
    /// Some grid misses the band and infeasibility is not proven.
    NotFound,
}

/// Restarts of the bisection (with other sweep angles) when the bounds are missed.
const RESTARTS: usize = 2;

/// What became of one region.
pub struct RegionResult {
    /// The region's graph.
    pub graph: LocalGraph,
    /// Its division.
    pub parts: Parts,
    /// How the division relates to the bounds.
    status: RegionStatus,
    /// Proven lower bound on the region's objective (for its number of grids), when computed.
    pub bound: Option<f64>,
    /// Outcome of the exact MILP, when it ran.
    pub exact: Option<SolveStatus>,
    /// Solve-and-cut rounds and separator cuts of the exact MILP.
    pub exact_work: (usize, usize),
}

/// Divides one region: bisection and repair; when the bounds are missed, the exact search on
/// small regions (which also proves infeasibility), else neighbouring counts, restarts and a
/// plateau walk; then local search for compactness; then, with `exact`, the MILP (warm-started
/// from the heuristic), else the Lagrangian lower bound.
fn solve_region(graph: &UnitGraph, metric: &Metric, task: &RegionTask, config: &PartitionConfig, stream: u64, effort: f64, deadline: &Deadline) -> Result<RegionResult> {
    let g = LocalGraph::induced(graph, &task.units, metric);
    let mut rng = Rng::new(config.search.seed, stream);
    let band = task.count.band;
    let rules = Rules { band, contiguity: config.bounds.contiguity, max_walk: config.bounds.max_walk_m, boundary_weight: 0.0 };
    let search = RegionSearch { g: &g, task, config, band, rules, effort, deadline };
    let (mut parts, mut status) = search.balance(&mut rng);
    search.polish_local(&mut parts, &mut rng);
    if status == RegionStatus::Balanced {
        search.more_starts(&mut parts, &mut rng);
    }
    if let Some(limit) = config.bounds.max_walk_m {
        search.hold_max_walk(&mut parts, &mut status, limit, &mut rng);
    }
    if !config.solver.exact && config.solver.polish && status == RegionStatus::Balanced && g.len() > 2 && g.len() <= POLISH_MAX_UNITS && !deadline.passed() {
        search.milp_polish(&mut parts)?;
    }
    // Resolved by `partition_with_progress` for the whole graph.
    let boundary_weight = config.search.boundary_weight.unwrap_or(0.0);
    if !config.solver.exact && boundary_weight > 0.0 && !deadline.passed() {
        // Boundaries onto streets and blocks kept whole, at a bounded cost in walks.
        let rules = Rules { boundary_weight, ..search.rules };
        improve::improve(&g, &mut parts, &rules, config.search.improve_passes, &mut rng);
        if whole_blocks::keep_blocks_whole(&g, &mut parts, &rules, config.search.improve_passes) > 0 {
            improve::improve(&g, &mut parts, &rules, config.search.improve_passes, &mut rng);
        }
    }
    let proof = if config.solver.exact && g.len() <= milp::EXACT_REGION_MAX && !deadline.passed() {
        search.exact_milp(&mut parts, &mut status)?
    } else if config.solver.lower_bound && effort >= 0.5 && !deadline.passed() {
        Proof { bound: Some(search.lower_bound(&parts)?), exact: None, exact_work: (0, 0) }
    } else {
        Proof { bound: None, exact: None, exact_work: (0, 0) }
    };
    Ok(RegionResult { graph: g, parts, status, bound: proof.bound, exact: proof.exact, exact_work: proof.exact_work })
}

/// One region being divided, and what steers its search.
struct RegionSearch<'a> {
    /// The region's graph.
    g: &'a LocalGraph,
    /// The region and its number of grids.
    task: &'a RegionTask,
    /// The configuration.
    config: &'a PartitionConfig,
    /// The household band of its grids.
    band: Band,
    /// What the local search must keep.
    rules: Rules,
    /// Search effort.
    effort: f64,
    /// The end of the time budget.
    deadline: &'a Deadline,
}

/// What the exact search of a small region found.
enum ExactSearch {
    /// A division within the band.
    Found(Parts),
    /// Proof that no division within the bounds exists.
    Infeasible,
    /// Neither (the budget ran out, or the count was not free to choose).
    Unknown,
}

/// What the exact MILP or the lower bounds proved of a region.
struct Proof {
    /// Lower bound on the region's objective.
    bound: Option<f64>,
    /// Outcome of the exact MILP, when it ran.
    exact: Option<SolveStatus>,
    /// Solve-and-cut rounds and separator cuts of the exact MILP.
    exact_work: (usize, usize),
}

impl RegionSearch<'_> {
    /// The settings of a MILP/LP solve: the configuration's, limited to the time that remains.
    fn solver_options(&self, max_nodes: Option<usize>) -> SolverOptions {
        let options = SolverOptions::of(&self.config.solver, max_nodes);
        SolverOptions { time_limit_s: options.time_limit_s.min(self.deadline.remaining_s()).max(0.01), ..options }
    }

    /// Bisection into `k` parts, repaired when it misses the band: (excess over the band, division).
    fn attempt(&self, k: usize, rng: &mut Rng) -> (f64, Parts) {
        let (g, band) = (self.g, self.band);
        let cut = bisect::bisect(g, k, band, rng);
        let mut parts = Parts::from_labels(g, cut.part_of, cut.parts);
        if !cut.clean || (0..parts.len()).any(|p| !band.holds(parts.load[p])) {
            repair::repair(g, &mut parts, band, REPAIR_ROUNDS, rng);
        }
        ((0..parts.len()).map(|p| band.excess(parts.load[p])).sum(), parts)
    }

    /// A first division, balanced if possible: an attempt, then the exact search (small regions) or other counts and restarts, then a plateau walk.
    fn balance(&self, rng: &mut Rng) -> (Parts, RegionStatus) {
        let (mut excess, mut parts) = self.attempt(self.task.count.k, rng);
        let mut status = if excess == 0.0 { RegionStatus::Balanced } else { RegionStatus::NotFound };
        if status == RegionStatus::NotFound && self.g.len() <= exact::EXACT_MAX_UNITS {
            match self.exact_search() {
                ExactSearch::Found(p) => {
                    parts = p;
                    excess = 0.0;
                    status = RegionStatus::Balanced;
                }
                ExactSearch::Infeasible => status = RegionStatus::ProvenInfeasible,
                ExactSearch::Unknown => {}
            }
        }
        if status == RegionStatus::NotFound {
            for k in self.retry_counts() {
                let (e, p) = self.attempt(k, rng);
                if e < excess - Band::EPS {
                    excess = e;
                    parts = p;
                }
                if excess == 0.0 {
                    status = RegionStatus::Balanced;
                    break;
                }
            }
        }
        if status == RegionStatus::NotFound && repair::plateau_search(self.g, &mut parts, self.band, rng) {
            status = RegionStatus::Balanced;
        }
        (parts, status)
    }

    /// Small regions: searches every division, for every count the households allow.
    fn exact_search(&self) -> ExactSearch {
        let (g, task) = (self.g, self.task);
        let (a, b) = task.range;
        let all: Vec<usize> = if task.count.feasible { (a..=b).collect() } else { vec![task.count.k] };
        let mut proven = task.count.feasible;
        for k in all {
            match exact::solve(g, k, self.band, self.config.bounds.max_walk_m, exact::REGION_BUDGET) {
                exact::Exact::Found(part_of) => return ExactSearch::Found(Parts::from_labels(g, part_of, k)),
                exact::Exact::Infeasible => {}
                exact::Exact::Unknown => proven = false,
            }
        }
        if proven {
            ExactSearch::Infeasible
        } else {
            ExactSearch::Unknown
        }
    }

    /// Counts to try after a missed attempt: the chosen count's feasible neighbours (unless the number of grids is fixed), then it [`RESTARTS`] times.
    fn retry_counts(&self) -> Vec<usize> {
        let task = self.task;
        let mut tries = Vec::new();
        if task.count.feasible && self.config.bounds.grids.is_none() {
            let (a, b) = task.range;
            for k in [task.count.k.checked_sub(1), Some(task.count.k + 1)].into_iter().flatten() {
                if k >= a && k <= b {
                    tries.push(k);
                }
            }
        }
        tries.extend(std::iter::repeat_n(task.count.k, RESTARTS));
        tries
    }

    /// Local search for compactness: moves, recombination of neighbouring parts, and moves again when recombination changed something.
    fn polish_local(&self, parts: &mut Parts, rng: &mut Rng) {
        let (g, config, effort) = (self.g, self.config, self.effort);
        improve::improve(g, parts, &self.rules, config.search.improve_passes, rng);
        if self.deadline.passed() {
            return;
        }
        let passes = ((config.search.improve_passes as f64 * effort).ceil() as usize).max(1);
        if recombine::recombine_all(g, parts, &self.rules, passes, effort >= 0.5, rng) > 0 {
            improve::improve(g, parts, &self.rules, config.search.improve_passes, rng);
        }
    }

    /// Small regions: further starts from other sweep angles; the best balanced division is kept.
    fn more_starts(&self, parts: &mut Parts, rng: &mut Rng) {
        let g = self.g;
        let starts = ((MULTISTART_UNITS / g.len().max(1)).min(MULTISTART_MAX) as f64 * self.effort) as usize;
        for _ in 0..starts {
            if self.deadline.passed() {
                break;
            }
            let (e, mut p) = self.attempt(parts.len(), rng);
            if e > 0.0 {
                continue;
            }
            self.polish_local(&mut p, rng);
            if p.cost(g) < parts.cost(g) - 1e-9 {
                *parts = p;
            }
        }
    }

    /// Tries more grids while some walk exceeds `limit`, keeping the first balanced division within it (else the one with the fewest long walks).
    fn hold_max_walk(&self, parts: &mut Parts, status: &mut RegionStatus, limit: f64, rng: &mut Rng) {
        // The maximum walk may need more grids than the households do.
        let g = self.g;
        let mut overruns = long_walks(g, parts, limit).len();
        if overruns > 0 && self.config.bounds.grids.is_none() {
            let top = self.task.range.1.min(parts.len() + MAX_WALK_EXTRA_GRIDS);
            for k in parts.len() + 1..=top {
                let (e, mut p) = self.attempt(k, rng);
                if e > 0.0 {
                    continue;
                }
                self.polish_local(&mut p, rng);
                let o = long_walks(g, &p, limit).len();
                if o < overruns || *status != RegionStatus::Balanced {
                    overruns = o;
                    *parts = p;
                    *status = RegionStatus::Balanced;
                }
                if overruns == 0 {
                    break;
                }
            }
        }
    }

    /// Matheuristic: the MILP restricted to nearby centres, warm-started, with a deterministic work limit; its division replaces a costlier one.
    fn milp_polish(&self, parts: &mut Parts) -> Result<()> {
        let (g, config) = (self.g, self.config);
        let options = self.solver_options(Some(POLISH_NODES));
        let out = milp::solve_model(g, parts.len(), self.band, config.bounds.contiguity, config.bounds.max_walk_m, Some(&*parts), milp::Candidates::Nearest(POLISH_CANDIDATES), &options)?;
        if let (Some(part_of), Some(o)) = (&out.part_of, out.objective) {
            if o < parts.cost(g) - 1e-9 {
                let k = parts.len();
                let mut p = Parts::from_labels(g, part_of.clone(), k);
                p.centre = out.centres.clone();
                *parts = p;
            }
        }
        Ok(())
    }

    /// The exact MILP, warm-started: its division replaces a costlier or unbalanced one, and it may prove infeasibility; returns its bound.
    fn exact_milp(&self, parts: &mut Parts, status: &mut RegionStatus) -> Result<Proof> {
        let (g, config) = (self.g, self.config);
        let options = self.solver_options(None);
        let k = parts.len();
        let out = milp::solve_exact(g, k, self.band, config.bounds.contiguity, config.bounds.max_walk_m, Some(&*parts), &options)?;
        match (&out.part_of, out.status) {
            (Some(part_of), _) => {
                let better = out.objective.is_some_and(|o| *status != RegionStatus::Balanced || o < parts.cost(g) - 1e-9);
                if better {
                    let mut p = Parts::from_labels(g, part_of.clone(), k);
                    p.centre = out.centres.clone();
                    *parts = p;
                    *status = RegionStatus::Balanced;
                }
            }
            (None, SolveStatus::Infeasible) if self.task.count.feasible => *status = RegionStatus::ProvenInfeasible,
            _ => {}
        }
        Ok(Proof { bound: out.bound, exact: Some(out.status), exact_work: (out.rounds, out.cuts) })
    }

    /// The Lagrangian lower bound, raised to the LP bound with `lp_bound`.
    fn lower_bound(&self, parts: &Parts) -> Result<f64> {
        let (g, config) = (self.g, self.config);
        let iterations = ((bound::ITERATIONS as f64 * self.effort) as usize).max(100);
        let lag = bound::lagrangian_bound(g, parts.len(), self.band, config.bounds.max_walk_m, parts, iterations);
        let lp = if config.solver.lp_bound {
            let options = self.solver_options(None);
            milp::lp_bound(g, parts.len(), self.band, config.bounds.contiguity, config.bounds.max_walk_m, &options)?
        } else {
            None
        };
        Ok(lp.map_or(lag, |l| l.max(lag)))
    }
}

/// Regions up to this many units are polished by the restricted MILP.
const POLISH_MAX_UNITS: usize = 300;
/// Candidate centres per unit in the polishing MILP.
const POLISH_CANDIDATES: usize = 16;
/// Branch-and-bound nodes of a polishing solve.
const POLISH_NODES: usize = 300;

/// A region gets about this many units' worth of extra starts (so small regions get many)...
const MULTISTART_UNITS: usize = 4000;
/// ...and at most this many.
const MULTISTART_MAX: usize = 16;

/// Grids beyond the chosen count tried to bring every walk within the maximum.
const MAX_WALK_EXTRA_GRIDS: usize = 8;

/// Units walking farther than `limit` to their part's centre: (part, unit, walk), the longest
/// walk of each part only, parts in order.
fn long_walks(g: &LocalGraph, parts: &Parts, limit: f64) -> Vec<(usize, usize, f64)> {
    let mut worst: Vec<Option<(usize, f64)>> = vec![None; parts.len()];
    for (u, &p) in parts.part_of.iter().enumerate() {
        let d = g.d(u, parts.centre[p as usize] as usize);
        if d > limit + 1e-9 && worst[p as usize].is_none_or(|(_, w)| d > w) {
            worst[p as usize] = Some((u, d));
        }
    }
    worst.into_iter().enumerate().filter_map(|(p, w)| w.map(|(u, d)| (p, u, d))).collect()
}

/// Rounds of balance repair after a bisection.
const REPAIR_ROUNDS: usize = 24;

/// Walks of every grid: (household-weighted sum, household-weighted mean, maximum), where
/// `walk(b, c)` is the walk from building b to the centre building c of its grid and
/// `households(b)` the weight.
pub fn walk_stats(
    grids_buildings: &[Vec<u32>],
    centre_building: &[u32],
    walk: &(dyn Fn(u32, u32) -> f64 + Sync),
    households: &(dyn Fn(u32) -> f64 + Sync),
) -> Vec<(f64, f64, f64)> {
    grids_buildings
        .par_iter()
        .zip(centre_building)
        .map(|(bs, &c)| {
            let (mut sum, mut w, mut max) = (0.0, 0.0, 0.0f64);
            for &b in bs {
                let d = walk(b, c);
                sum += households(b) * d;
                w += households(b);
                max = max.max(d);
            }
            (sum, if w > 0.0 { sum / w } else { 0.0 }, max)
        })
        .collect()
}
