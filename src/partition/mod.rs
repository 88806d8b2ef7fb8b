//! Partition stage: units → grids that are connected, within the household bounds, and compact.
//!
//! The unit graph falls apart into components (cut off by barriers or distance). A unit with
//! more households than the maximum is a grid of its own; the rest of each component is split
//! into regions, each divided into its number of grids by recursive bisection, repaired where a
//! bound is missed, and improved by local search. Every grid that misses a bound is reported
//! with the reason.

pub mod bisect;
pub mod count;
pub mod exact;
pub mod improve;
pub mod medoid;
pub mod region;
pub mod repair;

use rayon::prelude::*;
use serde::Serialize;

use self::count::{choose_counts, count_range, RegionCount};
use self::region::{Band, LocalGraph, Parts};
use crate::config::PartitionConfig;
use crate::distance::Metric;
use crate::graph::{UnitGraph, NONE};
use crate::pieces::pieces;
use crate::rng::Rng;

/// Why a grid misses the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// One building holds more households than the maximum.
    OversizeBuilding,
    /// An area cut off from the rest (by barriers or distance) holds fewer households than the minimum.
    IsolatedArea,
    /// An area's households fit no whole number of grids within the bounds.
    InfeasibleArea,
    /// The bounds could be met by households alone, but no connected division meeting them was found.
    Unbalanced,
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
}

/// What a region is and how many grids it gets.
struct RegionTask {
    units: Vec<u32>,
    count: RegionCount,
    range: (usize, usize),
}

/// Divides the unit graph into grids. `name(u)` names a unit's buildings in messages.
pub fn partition(graph: &UnitGraph, metric: &Metric, config: &PartitionConfig, name: &(dyn Fn(u32) -> String + Sync)) -> Plan {
    partition_with_progress(graph, metric, config, name, &|_| {})
}

/// [`partition`], reporting progress: `step(Some(total))` announces the number of regions,
/// then `step(None)` follows each region divided (from any thread).
pub fn partition_with_progress(
    graph: &UnitGraph,
    metric: &Metric,
    config: &PartitionConfig,
    name: &(dyn Fn(u32) -> String + Sync),
    step: &(dyn Fn(Option<usize>) + Sync),
) -> Plan {
    let (lo, hi) = (config.min_households, config.upper_bound());
    let n = graph.len();
    let (_, n_comp) = graph.components();
    let oversize: Vec<bool> = graph.units.iter().map(|u| u.households > hi + Band::EPS).collect();

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
    let mut violations = Vec::new();
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
    let mut tasks = Vec::new();
    for members in pieces {
        let total: f64 = members.iter().map(|&u| graph.units[u as usize].households).sum();
        if total >= lo - Band::EPS {
            tasks.push(members);
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

    let n_fixed = grids.len();
    let totals: Vec<f64> = tasks.iter().map(|m| m.iter().map(|&u| graph.units[u as usize].households).sum()).collect();
    let sizes: Vec<usize> = tasks.iter().map(|m| m.len()).collect();
    let fixed_total = config.grids.map(|k| k.saturating_sub(grids.len()));
    let counts = choose_counts(&totals, &sizes, lo, hi, config.target(), fixed_total);
    let tasks: Vec<RegionTask> = tasks
        .into_iter()
        .zip(counts)
        .zip(totals.iter().zip(&sizes))
        .map(|((units, count), (&t, &s))| RegionTask { units, count, range: count_range(t, s, lo, hi) })
        .collect();

    step(Some(tasks.len()));
    let solved: Vec<(LocalGraph, Parts, RegionStatus)> = tasks
        .par_iter()
        .enumerate()
        .map(|(r, task)| {
            let solved = solve_region(graph, metric, task, config, r as u64);
            step(None);
            solved
        })
        .collect();
    let n_regions = tasks.len();
    for (task, (g, parts, status)) in tasks.iter().zip(solved) {
        let base = grids.len();
        for p in 0..parts.len() {
            grids.push(Grid { units: Vec::new(), households: parts.load[p], centre: g.global[parts.centre[p] as usize] });
        }
        for (lu, &p) in parts.part_of.iter().enumerate() {
            let gu = g.global[lu];
            grid_of_unit[gu as usize] = (base + p as usize) as u32;
            grids[base + p as usize].units.push(gu);
        }
        let total = g.total();
        for p in 0..parts.len() {
            let load = parts.load[p];
            if load >= lo - Band::EPS && load <= hi + Band::EPS {
                continue;
            }
            let (kind, message) = if !task.count.feasible && task.range.0 > task.range.1 {
                (
                    ViolationKind::InfeasibleArea,
                    format!(
                        "an area of {} buildings and {} households (cut off from the rest, starting at building {}) \
                         fits no whole number of grids of {lo}–{hi} households; it was divided into {} grids of about {:.0}, \
                         this one holds {}",
                        task.units.len(), fmt_count(total), name(task.units[0]), task.count.k, total / task.count.k as f64, fmt_count(load)
                    ),
                )
            } else if !task.count.feasible {
                (
                    ViolationKind::InfeasibleArea,
                    format!(
                        "the fixed number of grids gives this area of {} households {} grids (about {:.0} each), outside {lo}–{hi}; \
                         this one holds {}",
                        fmt_count(total), task.count.k, total / task.count.k as f64, fmt_count(load)
                    ),
                )
            } else if status == RegionStatus::ProvenInfeasible {
                (
                    ViolationKind::InfeasibleArea,
                    format!(
                        "holds {} households, outside {lo}–{hi}: an exact search proved that this area of {} buildings and {} \
                         households (starting at building {}) has no division into connected grids within the bounds",
                        fmt_count(load), task.units.len(), fmt_count(total), name(task.units[0])
                    ),
                )
            } else {
                (
                    ViolationKind::Unbalanced,
                    format!(
                        "holds {} households, outside {lo}–{hi}: no connected division of this area of {} households into {} grids \
                         within the bounds was found (buildings are too lumpy or too weakly connected)",
                        fmt_count(load), fmt_count(total), task.count.k
                    ),
                )
            };
            violations.push(Violation { grid: base + p, kind, message });
        }
    }
    // Oversize and isolated grids.
    for (gi, grid) in grids.iter().enumerate().take(n_fixed) {
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
                    fmt_count(graph.units[grid.units[0] as usize].households)
                ),
            });
        } else if grid.households < lo - Band::EPS {
            let first: Vec<String> = grid.units.iter().take(5).map(|&u| name(u)).collect();
            let more = if grid.units.len() > 5 { format!(" and {} more", grid.units.len() - 5) } else { String::new() };
            violations.push(Violation {
                grid: gi,
                kind: ViolationKind::IsolatedArea,
                message: format!(
                    "buildings {}{more} ({} households) are cut off from the rest by barriers or distance and hold fewer \
                     than the minimum {lo}: they form a grid of their own",
                    first.join(", "),
                    fmt_count(grid.households)
                ),
            });
        }
    }
    violations.sort_by_key(|v| v.grid);
    Plan { grid_of_unit, grids, violations, components: n_comp, regions: n_regions }
}

/// A count for messages: integers without decimals.
pub fn fmt_count(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
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

/// Divides one region: bisection and repair; when the bounds are missed, the exact search on
/// small regions (which also proves infeasibility), else neighbouring counts, restarts and a
/// plateau walk; then local search for compactness.
fn solve_region(graph: &UnitGraph, metric: &Metric, task: &RegionTask, config: &PartitionConfig, stream: u64) -> (LocalGraph, Parts, RegionStatus) {
    let g = LocalGraph::induced(graph, &task.units, metric);
    let mut rng = Rng::new(config.seed, stream);
    let band = task.count.band;
    // Counts to try: the chosen one, then its neighbours within the feasible range.
    let mut counts = vec![task.count.k];
    if task.count.feasible && config.grids.is_none() {
        let (a, b) = task.range;
        for k in [task.count.k.checked_sub(1), Some(task.count.k + 1)].into_iter().flatten() {
            if k >= a && k <= b {
                counts.push(k);
            }
        }
    }
    let attempt = |k: usize, rng: &mut Rng| -> (f64, Parts) {
        let cut = bisect::bisect(&g, k, band, rng);
        let mut parts = Parts::from_labels(&g, cut.part_of, cut.parts);
        if !cut.clean || (0..parts.len()).any(|p| !band.holds(parts.load[p])) {
            repair::repair(&g, &mut parts, band, REPAIR_ROUNDS, rng);
        }
        ((0..parts.len()).map(|p| band.excess(parts.load[p])).sum(), parts)
    };
    let (mut excess, mut parts) = attempt(task.count.k, &mut rng);
    let mut status = if excess == 0.0 { RegionStatus::Balanced } else { RegionStatus::NotFound };
    if status == RegionStatus::NotFound && g.len() <= exact::EXACT_MAX_UNITS {
        // Small: search every division, for every count the households allow.
        let (a, b) = task.range;
        let all: Vec<usize> = if task.count.feasible { (a..=b).collect() } else { vec![task.count.k] };
        let mut proven = task.count.feasible;
        for k in all {
            match exact::solve(&g, k, band, exact::REGION_BUDGET) {
                exact::Exact::Found(part_of) => {
                    parts = Parts::from_labels(&g, part_of, k);
                    excess = 0.0;
                    status = RegionStatus::Balanced;
                    break;
                }
                exact::Exact::Infeasible => {}
                exact::Exact::Unknown => proven = false,
            }
        }
        if status != RegionStatus::Balanced && proven {
            status = RegionStatus::ProvenInfeasible;
        }
    }
    if status == RegionStatus::NotFound {
        let mut tries: Vec<usize> = counts[1..].to_vec();
        tries.extend(std::iter::repeat_n(task.count.k, RESTARTS));
        for k in tries {
            let (e, p) = attempt(k, &mut rng);
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
    if status == RegionStatus::NotFound && repair::plateau_search(&g, &mut parts, band, &mut rng) {
        status = RegionStatus::Balanced;
    }
    improve::improve(&g, &mut parts, band, config.improve_passes, &mut rng);
    (g, parts, status)
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
