//! Stable re-division: an existing division is kept wherever it holds, and repaired where it
//! does not, moving few households. Locked grids are left exactly as they are; a building
//! above the maximum becomes a grid of its own; pieces of a grid cut off from the rest and
//! buildings in no grid join a neighbouring grid; then every area gets the number of grids its
//! households call for (the heaviest grid is split, the lightest merged into a neighbour) and
//! grids out of bounds are repaired by ejection chains before any merge-and-divide. With
//! `stability` below 1 a compactness search follows in which leaving one's grid costs walking
//! metres per household (none at 0).

use super::bisect::{divide, Sub};
use super::improve::{improve_near_home, Home};
use super::medoid::weighted_medoid;
use super::region::{Band, LocalGraph, Parts, Rules};
use super::repair::repair_stable;
use super::{partition, Grid, Plan, Violation, ViolationKind};
use crate::text;
use crate::config::{Bounds, MicroGrids, PartitionConfig};
use crate::distance::Metric;
use crate::error::Result;
use crate::graph::{UnitGraph, NONE};
use crate::model::Model;
use crate::read::FeatureId as GridId;
use crate::rng::Rng;

/// Rounds of the balance repair.
const REPAIR_ROUNDS: usize = 40;
/// Rounds of local re-division followed by repair.
const LOCAL_ROUNDS: usize = 8;

/// Divides the parts out of band and their neighbouring parts again, afresh, and gives each new
/// part the home of the old part it shares most households with (largest overlaps first, one to
/// one); the rest are new parts. Returns false when nothing is out of band.
#[allow(clippy::too_many_arguments)]
fn redivide_locally(
    graph: &UnitGraph,
    g: &LocalGraph,
    area: &[u32],
    parts: &mut Parts,
    part_home: &mut Vec<Option<u32>>,
    band: Band,
    config: &PartitionConfig,
    name: &(dyn Fn(u32) -> String + Sync),
) -> Result<bool> {
    let k = parts.len();
    let bad: Vec<usize> = (0..k).filter(|&p| !band.holds(parts.load[p])).collect();
    if bad.is_empty() {
        return Ok(false);
    }
    let mut in_region = vec![false; k];
    for &p in &bad {
        in_region[p] = true;
    }
    for u in 0..g.len() {
        if bad.binary_search(&(parts.part_of[u] as usize)).is_ok() {
            for &v in g.neighbours(u) {
                in_region[parts.part_of[v as usize] as usize] = true;
            }
        }
    }
    let local_units: Vec<u32> = (0..g.len() as u32).filter(|&u| in_region[parts.part_of[u as usize] as usize]).collect();
    let globals: Vec<u32> = local_units.iter().map(|&u| area[u as usize]).collect();
    let sub = graph.induced(&globals);
    let sub_config = fresh_config(config);
    let fresh = partition(&sub, &Metric::Straight { detour: config.walking.detour_factor }, &sub_config, &|u| name(globals[u as usize]))?;
    // Overlaps (households) between fresh grids and old parts.
    let mut overlap: std::collections::BTreeMap<(u32, u32), f64> = std::collections::BTreeMap::new();
    for (i, &u) in local_units.iter().enumerate() {
        *overlap.entry((fresh.grid_of_unit[i], parts.part_of[u as usize])).or_default() += g.weight[u as usize];
    }
    let mut pairs: Vec<((u32, u32), f64)> = overlap.into_iter().collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut new_of_fresh: Vec<Option<u32>> = vec![None; fresh.grids.len()];
    let mut taken = vec![false; k];
    for ((f, old), _) in pairs {
        if new_of_fresh[f as usize].is_none() && !taken[old as usize] {
            new_of_fresh[f as usize] = Some(old);
            taken[old as usize] = true;
        }
    }
    // Old region parts left without a fresh grid disappear; fresh grids left without an old
    // part are new. Labels are compacted, keeping the order of the surviving old parts.
    let mut part_of = parts.part_of.clone();
    let mut homes: Vec<Option<u32>> = part_home.clone();
    for f in 0..fresh.grids.len() {
        if new_of_fresh[f].is_none() {
            new_of_fresh[f] = Some(homes.len() as u32);
            homes.push(None);
            taken.push(true);
        }
    }
    for (i, &u) in local_units.iter().enumerate() {
        part_of[u as usize] = new_of_fresh[fresh.grid_of_unit[i] as usize].expect("every fresh grid placed");
    }
    let alive: Vec<bool> = (0..homes.len()).map(|p| p >= k || !in_region[p] || taken[p]).collect();
    let mut index = vec![u32::MAX; homes.len()];
    let mut kept_homes = Vec::new();
    for p in 0..homes.len() {
        if alive[p] {
            index[p] = kept_homes.len() as u32;
            kept_homes.push(homes[p]);
        }
    }
    let part_of: Vec<u32> = part_of.iter().map(|&p| index[p as usize]).collect();
    *part_home = kept_homes;
    *parts = Parts::from_labels(g, part_of, part_home.len());
    Ok(true)
}

/// Splits part `p` into as many connected parts as its households need (at least two): the
/// heaviest keeps the part's index and home, the others are new parts without a home.
fn split_part(g: &LocalGraph, parts: &mut Parts, part_home: &mut Vec<Option<u32>>, p: usize, band: Band, rng: &mut Rng) -> bool {
    let members = parts.members(p);
    if members.len() < 2 {
        return false;
    }
    let m = ((parts.load[p] / band.hi) - 1e-9).ceil().max(2.0) as usize;
    let m = m.min(members.len());
    let (pieces, _) = divide(Sub::of(g, &members), m, band, rng.next_u64());
    if pieces.iter().filter(|x| !x.is_empty()).count() < 2 {
        return false;
    }
    let w = |h: &Vec<u32>| h.iter().map(|&u| g.weight[u as usize]).sum::<f64>();
    let keep = (0..pieces.len()).max_by(|&a, &b| w(&pieces[a]).total_cmp(&w(&pieces[b])).then(b.cmp(&a))).expect("a piece");
    let mut part_of = parts.part_of.clone();
    let mut k = parts.len();
    for (i, piece) in pieces.iter().enumerate() {
        if i == keep || piece.is_empty() {
            continue;
        }
        for &u in piece {
            part_of[u as usize] = k as u32;
        }
        part_home.push(None);
        k += 1;
    }
    *parts = Parts::from_labels(g, part_of, k);
    true
}

/// Merges part `p` into its lightest neighbouring part; the last part takes `p`'s index.
fn merge_part(g: &LocalGraph, parts: &mut Parts, part_home: &mut Vec<Option<u32>>, p: usize) -> bool {
    let mut neighbours: Vec<u32> = parts.members(p).iter().flat_map(|&u| g.neighbours(u as usize).iter().map(|&v| parts.part_of[v as usize])).filter(|&q| q as usize != p).collect();
    neighbours.sort_unstable();
    neighbours.dedup();
    let Some(&q) = neighbours.iter().min_by(|&&a, &&b| parts.load[a as usize].total_cmp(&parts.load[b as usize]).then(a.cmp(&b))) else { return false };
    let last = parts.len() as u32 - 1;
    let q = if q == last { p as u32 } else { q };
    let part_of: Vec<u32> = parts.part_of.iter().map(|&x| if x == p as u32 { q } else { x }).map(|x| if x == last { p as u32 } else { x }).collect();
    // Careful with homes: p's is dropped, the last part's moves to index p, q keeps its own.
    let merged_into_last = q == p as u32;
    if merged_into_last {
        // q was the last part: it now sits at index p with its own home.
        part_home[p] = part_home[last as usize];
    } else {
        part_home.swap(p, last as usize);
    }
    part_home.pop();
    *parts = Parts::from_labels(g, part_of, parts.len() - 1);
    true
}

/// The division to start from, on units.
#[derive(Debug, Clone)]
pub struct Existing {
    /// Existing grid (index into `locked`) of each unit; None: in no grid (e.g. new housing).
    pub grid_of_unit: Vec<Option<u32>>,
    /// Whether each existing grid is locked (kept exactly).
    pub locked: Vec<bool>,
}

/// A re-divided plan and where each of its grids comes from.
#[derive(Debug, Clone)]
pub struct StablePlan {
    /// The plan.
    pub plan: Plan,
    /// Existing grid each plan grid continues (None: a new grid).
    pub home: Vec<Option<u32>>,
    /// What was done, in words (for the summary).
    pub notes: Vec<String>,
}

/// Re-divides `graph` starting from `existing`; `stability` in [0, 1] weighs keeping households
/// in their grid against shorter walks (1: only what the bounds require moves).
pub fn redivide(graph: &UnitGraph, metric: &Metric, config: &PartitionConfig, existing: &Existing, stability: f64, name: &(dyn Fn(u32) -> String + Sync)) -> Result<StablePlan> {
    let n = graph.len();
    let (lo, hi) = (config.bounds.min_households, config.bounds.upper_bound());
    let band = Band { lo, hi };
    let n_existing = existing.locked.len();
    let mut notes = Vec::new();
    let mut label: Vec<u32> = existing.grid_of_unit.iter().map(|g| g.unwrap_or(NONE)).collect();
    let locked = |l: u32| l != NONE && existing.locked[l as usize];
    let oversize: Vec<bool> = (0..n).map(|u| !locked(label[u]) && graph.units[u].households > hi + Band::EPS).collect();
    let free: Vec<bool> = (0..n).map(|u| !locked(label[u]) && !oversize[u]).collect();

    // Oversize units leave their grid (which keeps its id when something else remains in it).
    let oversize_home: Vec<u32> = (0..n).map(|u| if oversize[u] { label[u] } else { NONE }).collect();
    for u in 0..n {
        if oversize[u] {
            label[u] = NONE;
        }
    }
    // Pieces of an unlocked grid cut off from its largest piece lose their label.
    let (piece_of, pieces) = crate::pieces::pieces(n, |u| free[u] && label[u] != NONE, |u, visit| {
        for &v in graph.neighbours(u) {
            if free[v as usize] && label[v as usize] == label[u] {
                visit(v as usize);
            }
        }
    });
    let mut main_piece = vec![NONE; n_existing];
    let load = |members: &[u32]| members.iter().map(|&u| graph.units[u as usize].households).sum::<f64>();
    for (i, members) in pieces.iter().enumerate() {
        let l = label[members[0] as usize] as usize;
        if main_piece[l] == NONE || load(members) > load(&pieces[main_piece[l] as usize]) {
            main_piece[l] = i as u32;
        }
    }
    let mut detached = 0usize;
    for u in 0..n {
        if free[u] && label[u] != NONE && main_piece[label[u] as usize] != piece_of[u] {
            label[u] = NONE;
            detached += 1;
        }
    }
    if detached > 0 {
        notes.push(format!("{detached} building unit(s) cut off from the rest of their grid joined a neighbouring grid"));
    }
    // Units in no grid join the grid of a neighbour, breadth first (new housing, gaps).
    let mut queue: std::collections::VecDeque<u32> = (0..n as u32).filter(|&u| free[u as usize] && label[u as usize] != NONE).collect();
    let unassigned_before = (0..n).filter(|&u| free[u] && label[u] == NONE).count();
    while let Some(u) = queue.pop_front() {
        for &v in graph.neighbours(u as usize) {
            if free[v as usize] && label[v as usize] == NONE {
                label[v as usize] = label[u as usize];
                queue.push_back(v);
            }
        }
    }
    let unassigned_after = (0..n).filter(|&u| free[u] && label[u] == NONE).count();
    if unassigned_before > unassigned_after + detached {
        notes.push(format!("{} building unit(s) in no existing grid joined a neighbouring grid", unassigned_before - detached - unassigned_after));
    }

    let mut grids: Vec<Grid> = Vec::new();
    let mut home: Vec<Option<u32>> = Vec::new();
    let mut violations: Vec<Violation> = Vec::new();
    let mut grid_of_unit = vec![NONE; n];
    let push_grid = |grids: &mut Vec<Grid>, home: &mut Vec<Option<u32>>, grid_of_unit: &mut Vec<u32>, units: Vec<u32>, centre: u32, h: Option<u32>| {
        let households = units.iter().map(|&u| graph.units[u as usize].households).sum();
        for &u in &units {
            grid_of_unit[u as usize] = grids.len() as u32;
        }
        grids.push(Grid { units, households, centre });
        home.push(h);
    };
    // Locked grids, exactly as they were.
    let mut locked_units: Vec<Vec<u32>> = vec![Vec::new(); n_existing];
    for u in 0..n {
        if locked(label[u]) {
            locked_units[label[u] as usize].push(u as u32);
        }
    }
    for (l, units) in locked_units.into_iter().enumerate() {
        if units.is_empty() {
            continue;
        }
        let sub = graph.induced(&units);
        let (_, pieces) = sub.components();
        if pieces > 1 {
            return Err(crate::error::Error::LockedGridInPieces { grid: l, first_building: name(units[0]), pieces });
        }
        let g = LocalGraph::induced(graph, &units, metric);
        let centre = units[weighted_medoid(&g, &(0..units.len() as u32).collect::<Vec<_>>(), None) as usize];
        let gi = grids.len();
        push_grid(&mut grids, &mut home, &mut grid_of_unit, units, centre, Some(l as u32));
        if !band.holds(grids[gi].households) {
            violations.push(Violation {
                grid: gi,
                kind: ViolationKind::Unbalanced,
                message: format!("locked grid holds {} households, outside {lo}–{hi}; it was kept as it is", text::count(grids[gi].households)),
            });
        }
    }
    // Oversize units: a grid each; the existing id stays with them when their grid has nothing else left.
    for u in 0..n {
        if oversize[u] {
            let l = oversize_home[u];
            let keeps = l != NONE && !label.iter().enumerate().any(|(v, &x)| x == l && free[v]) && !home.contains(&Some(l));
            let gi = grids.len();
            push_grid(&mut grids, &mut home, &mut grid_of_unit, vec![u as u32], u as u32, keeps.then_some(l));
            violations.push(Violation {
                grid: gi,
                kind: ViolationKind::OversizeBuilding,
                message: format!("building {} alone holds {} households, more than the maximum {hi}: it forms its own grid", name(u as u32), text::count(graph.units[u].households)),
            });
        }
    }

    // Areas: connected sets of free units.
    let (_, areas) = crate::pieces::pieces(n, |u| free[u], |u, visit| {
        for &v in graph.neighbours(u) {
            if free[v as usize] {
                visit(v as usize);
            }
        }
    });
    let mut rng = Rng::new(config.search.seed, 0x5AB1E);
    let rules = Rules { band, contiguity: true, max_walk: config.bounds.max_walk_m };
    let (mut split, mut merged, mut local) = (0usize, 0usize, 0usize);
    for area in &areas {
        let total: f64 = area.iter().map(|&u| graph.units[u as usize].households).sum();
        let mut labels: Vec<u32> = area.iter().map(|&u| label[u as usize]).filter(|&l| l != NONE).collect();
        labels.sort_unstable();
        labels.dedup();
        if labels.is_empty() {
            // No existing grid here: a fresh division of the area.
            let sub = graph.induced(area);
            let fresh = partition(&sub, &Metric::Straight { detour: config.walking.detour_factor }, &fresh_config(config), &|u| name(area[u as usize]))?;
            let base = grids.len();
            for g in fresh.grids {
                let units: Vec<u32> = g.units.iter().map(|&u| area[u as usize]).collect();
                push_grid(&mut grids, &mut home, &mut grid_of_unit, units, area[g.centre as usize], None);
            }
            for v in fresh.violations {
                violations.push(Violation { grid: base + v.grid, ..v });
            }
            notes.push(format!("an area of {} households outside every existing grid was divided afresh", text::count(total)));
            continue;
        }
        let g = LocalGraph::induced(graph, area, metric);
        let part_of: Vec<u32> = area.iter().map(|&u| labels.binary_search(&label[u as usize]).expect("label of the area") as u32).collect();
        let mut parts = Parts::from_labels(&g, part_of, labels.len());
        let mut part_home: Vec<Option<u32>> = labels.iter().map(|&l| Some(l)).collect();
        // The number of grids the households call for, then moves; a grid still over the
        // maximum is split and one still under the minimum merged, and moves are tried again.
        let k_min = ((total / hi) - 1e-9).ceil().max(1.0) as usize;
        let k_max = if lo > 0.0 { ((total / lo) + 1e-9).floor() as usize } else { usize::MAX };
        while parts.len() < k_min && k_min <= k_max {
            let p = (0..parts.len()).max_by(|&a, &b| parts.load[a].total_cmp(&parts.load[b]).then(b.cmp(&a))).expect("a part");
            if !split_part(&g, &mut parts, &mut part_home, p, band, &mut rng) {
                break;
            }
            split += 1;
        }
        while parts.len() > k_max.max(1) {
            let p = (0..parts.len()).min_by(|&a, &b| parts.load[a].total_cmp(&parts.load[b]).then(a.cmp(&b))).expect("a part");
            if !merge_part(&g, &mut parts, &mut part_home, p) {
                break;
            }
            merged += 1;
        }
        for round in 0..LOCAL_ROUNDS {
            // Moves first only where grids are a little out of band; a grid far out of band
            // (a quarter of the band's width) is divided again with its neighbours at once.
            let far = (0..parts.len()).any(|p| band.excess(parts.load[p]) > 0.25 * (hi - lo).max(1.0));
            if (round > 0 || !far) && repair_stable(&g, &mut parts, band, REPAIR_ROUNDS, &mut rng) {
                break;
            }
            let before = parts.len();
            if !redivide_locally(graph, &g, area, &mut parts, &mut part_home, band, config, name)? {
                break;
            }
            local += 1;
            split += parts.len().saturating_sub(before);
            merged += before.saturating_sub(parts.len());
        }
        if stability < 1.0 {
            let home_part: Vec<u32> = (0..g.len()).map(|u| part_home.iter().position(|&h| h == Some(label[area[u] as usize])).map_or(u32::MAX, |p| p as u32)).collect();
            let mean_walk = parts.cost(&g) / g.cost.iter().sum::<f64>().max(1e-9);
            let penalty = if stability <= 0.0 { 0.0 } else { mean_walk * stability / (1.0 - stability) };
            improve_near_home(&g, &mut parts, &rules, config.search.improve_passes, &mut rng, Some(Home { part: &home_part, penalty }));
        }
        let members = parts.all_members();
        for (p, m) in members.into_iter().enumerate() {
            if m.is_empty() {
                continue;
            }
            let units: Vec<u32> = m.iter().map(|&u| area[u as usize]).collect();
            let centre = area[parts.centre[p] as usize];
            let gi = grids.len();
            push_grid(&mut grids, &mut home, &mut grid_of_unit, units, centre, part_home[p]);
            if !band.holds(parts.load[p]) {
                violations.push(Violation {
                    grid: gi,
                    kind: ViolationKind::Unbalanced,
                    message: format!(
                        "holds {} households, outside {lo}–{hi}: moving buildings between neighbouring grids of this area of {} households could not bring it within the bounds",
                        text::count(parts.load[p]),
                        text::count(total)
                    ),
                });
            }
        }
    }
    if local > 0 {
        notes.push(format!(
            "{local} group(s) of grids that moves alone could not balance were divided again with their neighbours; the new grids took the ids of the old ones they share most households with"
        ));
    }
    if split > 0 {
        notes.push(format!("{split} grid(s) more than before where households grew"));
    }
    if merged > 0 {
        notes.push(format!("{merged} grid(s) fewer than before where households shrank"));
    }
    violations.sort_by_key(|v| v.grid);
    let (_, components) = graph.components();
    let regions_objective = 0.0;
    let plan = Plan {
        grid_of_unit,
        grids_wanted: grids.len(),
        grids,
        violations,
        components,
        regions: areas.len(),
        regions_bound: None,
        regions_objective,
        exact: Vec::new(),
        exact_skipped: 0,
        effort: config.search.effort.unwrap_or(1.0),
        exact_work: (0, 0),
    };
    Ok(StablePlan { plan, home, notes })
}

/// The existing division seen from the units: each unit takes the existing grid holding most of
/// its households (a unit holding a building of a locked grid follows that grid); which grids
/// are locked.
pub fn existing_of_units(graph: &UnitGraph, model: &Model, ids: &[GridId], locked_ids: &[GridId]) -> Existing {
    let locked: Vec<bool> = ids.iter().map(|id| locked_ids.iter().any(|l| l.same(id))).collect();
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
            let locked_first = |t: &(u32, f64)| locked[t.0 as usize];
            tally.iter().max_by(|a, b| locked_first(a).cmp(&locked_first(b)).then(a.1.total_cmp(&b.1)).then(b.0.cmp(&a.0))).map(|t| t.0)
        })
        .collect();
    Existing { grid_of_unit, locked }
}

/// The configuration of an area divided afresh inside a re-division: no fixed number of grids,
/// no workers cap, no micro-grids.
fn fresh_config(config: &PartitionConfig) -> PartitionConfig {
    PartitionConfig {
        bounds: Bounds { grids: None, workers: None, ..config.bounds.clone() },
        micro: MicroGrids { micro_min: None, micro_max: None, ..config.micro.clone() },
        ..config.clone()
    }
}
