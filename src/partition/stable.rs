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
    for slot in new_of_fresh.iter_mut().take(fresh.grids.len()) {
        if slot.is_none() {
            *slot = Some(homes.len() as u32);
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
    let (lo, hi) = (config.bounds.min_households, config.bounds.upper_bound());
    let band = Band { lo, hi };
    let mut notes = Vec::new();
    let start = starting_labels(graph, existing, hi, &mut notes);
    let mut made = Made { grids: Vec::new(), home: Vec::new(), grid_of_unit: vec![NONE; graph.len()], violations: Vec::new() };
    add_locked_grids(&mut made, graph, metric, existing, &start.label, band, name)?;
    add_oversize_grids(&mut made, graph, &start, hi, name);

    let areas = free_areas(graph, &start.free);
    let mut rng = Rng::new(config.search.seed, 0x5AB1E);
    let rules = Rules { band, contiguity: true, max_walk: config.bounds.max_walk_m, boundary_weight: 0.0 };
    let work = AreaWork { graph, metric, config, band, rules, stability, label: &start.label, name };
    let mut tally = Tally::default();
    for area in &areas {
        work.redivide_area(&mut made, area, &mut rng, &mut tally, &mut notes)?;
    }
    tally.note(&mut notes);
    let Made { grids, home, grid_of_unit, mut violations } = made;
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
        time_limit_reached: false,
    };
    Ok(StablePlan { plan, home, notes })
}

impl Existing {
    /// True when `l` is an existing grid (not [`NONE`]) that is locked.
    fn is_locked(&self, l: u32) -> bool {
        l != NONE && self.locked[l as usize]
    }
}

/// The existing division made ready for the re-division.
struct Start {
    /// Existing grid of each unit, [`NONE`] for none.
    label: Vec<u32>,
    /// Units above the maximum outside locked grids.
    oversize: Vec<bool>,
    /// Units neither in a locked grid nor oversize.
    free: Vec<bool>,
    /// Existing grid each oversize unit was in ([`NONE`] for the other units).
    oversize_home: Vec<u32>,
}

/// The existing grid of each unit, cleaned up: oversize units out, cut-off pieces detached, units in no grid joined to a neighbour.
fn starting_labels(graph: &UnitGraph, existing: &Existing, hi: f64, notes: &mut Vec<String>) -> Start {
    let n = graph.len();
    let mut label: Vec<u32> = existing.grid_of_unit.iter().map(|g| g.unwrap_or(NONE)).collect();
    let oversize: Vec<bool> = (0..n).map(|u| !existing.is_locked(label[u]) && graph.units[u].households > hi + Band::EPS).collect();
    let free: Vec<bool> = (0..n).map(|u| !existing.is_locked(label[u]) && !oversize[u]).collect();

    // Oversize units leave their grid (which keeps its id when something else remains in it).
    let oversize_home: Vec<u32> = (0..n).map(|u| if oversize[u] { label[u] } else { NONE }).collect();
    for u in 0..n {
        if oversize[u] {
            label[u] = NONE;
        }
    }
    let detached = detach_pieces(graph, &free, &mut label, existing.locked.len());
    if detached > 0 {
        notes.push(format!("{detached} building unit(s) cut off from the rest of their grid joined a neighbouring grid"));
    }
    let unassigned_before = (0..n).filter(|&u| free[u] && label[u] == NONE).count();
    join_neighbouring_grids(graph, &free, &mut label);
    let unassigned_after = (0..n).filter(|&u| free[u] && label[u] == NONE).count();
    if unassigned_before > unassigned_after + detached {
        notes.push(format!("{} building unit(s) in no existing grid joined a neighbouring grid", unassigned_before - detached - unassigned_after));
    }
    Start { label, oversize, free, oversize_home }
}

/// Pieces of an unlocked grid cut off from its largest piece lose their label; returns how many units did.
fn detach_pieces(graph: &UnitGraph, free: &[bool], label: &mut [u32], n_existing: usize) -> usize {
    let n = graph.len();
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
    detached
}

/// Units in no grid join the grid of a neighbour, breadth first (new housing, gaps).
fn join_neighbouring_grids(graph: &UnitGraph, free: &[bool], label: &mut [u32]) {
    let n = graph.len();
    let mut queue: std::collections::VecDeque<u32> = (0..n as u32).filter(|&u| free[u as usize] && label[u as usize] != NONE).collect();
    while let Some(u) = queue.pop_front() {
        for &v in graph.neighbours(u as usize) {
            if free[v as usize] && label[v as usize] == NONE {
                label[v as usize] = label[u as usize];
                queue.push_back(v);
            }
        }
    }
}

/// The grids of the re-divided plan, as they are made.
struct Made {
    /// The grids.
    grids: Vec<Grid>,
    /// Existing grid each grid continues (None: a new grid).
    home: Vec<Option<u32>>,
    /// Grid of each unit.
    grid_of_unit: Vec<u32>,
    /// Grids that miss a bound.
    violations: Vec<Violation>,
}

impl Made {
    /// Adds a grid of `units` around `centre` continuing existing grid `home`; returns its index.
    fn push(&mut self, graph: &UnitGraph, units: Vec<u32>, centre: u32, home: Option<u32>) -> usize {
        let households = units.iter().map(|&u| graph.units[u as usize].households).sum();
        for &u in &units {
            self.grid_of_unit[u as usize] = self.grids.len() as u32;
        }
        self.grids.push(Grid { units, households, centre });
        self.home.push(home);
        self.grids.len() - 1
    }
}

/// Adds the locked grids, exactly as they were; an error when one is in pieces.
fn add_locked_grids(made: &mut Made, graph: &UnitGraph, metric: &Metric, existing: &Existing, label: &[u32], band: Band, name: &(dyn Fn(u32) -> String + Sync)) -> Result<()> {
    let (lo, hi) = (band.lo, band.hi);
    let mut locked_units: Vec<Vec<u32>> = vec![Vec::new(); existing.locked.len()];
    for u in 0..graph.len() {
        if existing.is_locked(label[u]) {
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
        let gi = made.push(graph, units, centre, Some(l as u32));
        if !band.holds(made.grids[gi].households) {
            made.violations.push(Violation {
                grid: gi,
                kind: ViolationKind::Unbalanced,
                message: format!("locked grid holds {} households, outside {lo}–{hi}; it was kept as it is", text::count(made.grids[gi].households)),
                unavoidable: false,
            });
        }
    }
    Ok(())
}

/// Oversize units: a grid each; the existing id stays with them when their grid has nothing else left.
fn add_oversize_grids(made: &mut Made, graph: &UnitGraph, start: &Start, hi: f64, name: &(dyn Fn(u32) -> String + Sync)) {
    let Start { label, oversize, free, oversize_home } = start;
    for u in 0..graph.len() {
        if oversize[u] {
            let l = oversize_home[u];
            let keeps = l != NONE && !label.iter().enumerate().any(|(v, &x)| x == l && free[v]) && !made.home.contains(&Some(l));
            let gi = made.push(graph, vec![u as u32], u as u32, keeps.then_some(l));
            made.violations.push(Violation {
                grid: gi,
                kind: ViolationKind::OversizeBuilding,
                message: format!("building {} alone holds {} households, more than the maximum {hi}: it forms its own grid", name(u as u32), text::count(graph.units[u].households)),
                unavoidable: true,
            });
        }
    }
}

/// Areas: connected sets of free units.
fn free_areas(graph: &UnitGraph, free: &[bool]) -> Vec<Vec<u32>> {
    let (_, areas) = crate::pieces::pieces(graph.len(), |u| free[u], |u, visit| {
        for &v in graph.neighbours(u) {
            if free[v as usize] {
                visit(v as usize);
            }
        }
    });
    areas
}

/// Grids split, merged and divided again with their neighbours, over all areas.
#[derive(Default)]
struct Tally {
    split: usize,
    merged: usize,
    local: usize,
}

impl Tally {
    /// Adds the notes saying what was done.
    fn note(&self, notes: &mut Vec<String>) {
        let Tally { split, merged, local } = *self;
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
    }
}

/// What the re-division of the areas needs.
struct AreaWork<'a> {
    graph: &'a UnitGraph,
    metric: &'a Metric,
    config: &'a PartitionConfig,
    band: Band,
    rules: Rules,
    stability: f64,
    /// Existing grid of each unit (see [`starting_labels`]).
    label: &'a [u32],
    name: &'a (dyn Fn(u32) -> String + Sync),
}

/// An area with existing grids, being re-divided.
struct Area<'a> {
    /// Its units (global indices).
    units: &'a [u32],
    /// Its graph.
    g: LocalGraph,
    /// Its division.
    parts: Parts,
    /// Existing grid each part continues (None: a new part).
    part_home: Vec<Option<u32>>,
    /// Its households.
    total: f64,
}

impl AreaWork<'_> {
    /// Re-divides one area and adds its grids: afresh when no existing grid lies in it, else from its existing grids.
    fn redivide_area(&self, made: &mut Made, units: &[u32], rng: &mut Rng, tally: &mut Tally, notes: &mut Vec<String>) -> Result<()> {
        let total: f64 = units.iter().map(|&u| self.graph.units[u as usize].households).sum();
        let mut labels: Vec<u32> = units.iter().map(|&u| self.label[u as usize]).filter(|&l| l != NONE).collect();
        labels.sort_unstable();
        labels.dedup();
        if labels.is_empty() {
            return self.divide_afresh(made, units, total, notes);
        }
        let g = LocalGraph::induced(self.graph, units, self.metric);
        let part_of: Vec<u32> = units.iter().map(|&u| labels.binary_search(&self.label[u as usize]).expect("label of the area") as u32).collect();
        let parts = Parts::from_labels(&g, part_of, labels.len());
        let part_home: Vec<Option<u32>> = labels.iter().map(|&l| Some(l)).collect();
        let mut area = Area { units, g, parts, part_home, total };
        // The number of grids the households call for, then moves; a grid still over the
        // maximum is split and one still under the minimum merged, and moves are tried again.
        self.fit_count(&mut area, rng, tally);
        self.balance(&mut area, rng, tally)?;
        if self.stability < 1.0 {
            self.keep_near_home(&mut area, rng);
        }
        self.add_area_grids(made, &area);
        Ok(())
    }

    /// No existing grid here: a fresh division of the area.
    fn divide_afresh(&self, made: &mut Made, units: &[u32], total: f64, notes: &mut Vec<String>) -> Result<()> {
        let (config, name) = (self.config, self.name);
        let sub = self.graph.induced(units);
        let fresh = partition(&sub, &Metric::Straight { detour: config.walking.detour_factor }, &fresh_config(config), &|u| name(units[u as usize]))?;
        let base = made.grids.len();
        for g in fresh.grids {
            let grid_units: Vec<u32> = g.units.iter().map(|&u| units[u as usize]).collect();
            made.push(self.graph, grid_units, units[g.centre as usize], None);
        }
        for v in fresh.violations {
            made.violations.push(Violation { grid: base + v.grid, ..v });
        }
        notes.push(format!("an area of {} households outside every existing grid was divided afresh", text::count(total)));
        Ok(())
    }

    /// Splits the heaviest part while the area has too few grids for its households, merges the lightest while it has too many.
    fn fit_count(&self, area: &mut Area, rng: &mut Rng, tally: &mut Tally) {
        let (lo, hi) = (self.band.lo, self.band.hi);
        let total = area.total;
        let k_min = ((total / hi) - 1e-9).ceil().max(1.0) as usize;
        let k_max = if lo > 0.0 { ((total / lo) + 1e-9).floor() as usize } else { usize::MAX };
        while area.parts.len() < k_min && k_min <= k_max {
            let parts = &area.parts;
            let p = (0..parts.len()).max_by(|&a, &b| parts.load[a].total_cmp(&parts.load[b]).then(b.cmp(&a))).expect("a part");
            if !split_part(&area.g, &mut area.parts, &mut area.part_home, p, self.band, rng) {
                break;
            }
            tally.split += 1;
        }
        while area.parts.len() > k_max.max(1) {
            let parts = &area.parts;
            let p = (0..parts.len()).min_by(|&a, &b| parts.load[a].total_cmp(&parts.load[b]).then(a.cmp(&b))).expect("a part");
            if !merge_part(&area.g, &mut area.parts, &mut area.part_home, p) {
                break;
            }
            tally.merged += 1;
        }
    }

    /// Moves, and where moves fail a local re-division before moves again, for up to [`LOCAL_ROUNDS`] rounds.
    fn balance(&self, area: &mut Area, rng: &mut Rng, tally: &mut Tally) -> Result<()> {
        let (band, lo, hi) = (self.band, self.band.lo, self.band.hi);
        for round in 0..LOCAL_ROUNDS {
            // Moves first only where grids are a little out of band; a grid far out of band
            // (a quarter of the band's width) is divided again with its neighbours at once.
            let far = (0..area.parts.len()).any(|p| band.excess(area.parts.load[p]) > 0.25 * (hi - lo).max(1.0));
            if (round > 0 || !far) && repair_stable(&area.g, &mut area.parts, band, REPAIR_ROUNDS, rng) {
                break;
            }
            let before = area.parts.len();
            if !redivide_locally(self.graph, &area.g, area.units, &mut area.parts, &mut area.part_home, band, self.config, self.name)? {
                break;
            }
            tally.local += 1;
            tally.split += area.parts.len().saturating_sub(before);
            tally.merged += before.saturating_sub(area.parts.len());
        }
        Ok(())
    }

    /// A compactness search in which leaving one's grid costs walking metres per household (none at stability 0).
    fn keep_near_home(&self, area: &mut Area, rng: &mut Rng) {
        let (g, stability) = (&area.g, self.stability);
        let home_part: Vec<u32> = (0..g.len()).map(|u| area.part_home.iter().position(|&h| h == Some(self.label[area.units[u] as usize])).map_or(u32::MAX, |p| p as u32)).collect();
        let mean_walk = area.parts.cost(g) / g.cost.iter().sum::<f64>().max(1e-9);
        let penalty = if stability <= 0.0 { 0.0 } else { mean_walk * stability / (1.0 - stability) };
        improve_near_home(g, &mut area.parts, &self.rules, self.config.search.improve_passes, rng, Some(Home { part: &home_part, penalty }));
    }

    /// Adds the area's grids (its non-empty parts), each out of band with a violation.
    fn add_area_grids(&self, made: &mut Made, area: &Area) {
        let (lo, hi) = (self.band.lo, self.band.hi);
        let Area { units: area_units, parts, part_home, total, .. } = area;
        let members = parts.all_members();
        // An area that is a whole component of the graph (cut off by barriers or distance) and
        // holds fewer households than the minimum cannot be helped: its one grid is declared.
        let inside: std::collections::HashSet<u32> = area_units.iter().copied().collect();
        let cut_off = area_units.iter().all(|&u| self.graph.neighbours(u as usize).iter().all(|v| inside.contains(v)));
        let one_part = members.iter().filter(|m| !m.is_empty()).count() == 1;
        for (p, m) in members.into_iter().enumerate() {
            if m.is_empty() {
                continue;
            }
            let units: Vec<u32> = m.iter().map(|&u| area_units[u as usize]).collect();
            let centre = area_units[parts.centre[p] as usize];
            let gi = made.push(self.graph, units.clone(), centre, part_home[p]);
            if cut_off && one_part && parts.load[p] < lo - Band::EPS {
                made.violations.push(Violation {
                    grid: gi,
                    kind: ViolationKind::IsolatedArea,
                    message: format!(
                        "buildings {} ({} households) are cut off from the rest by barriers or distance and hold fewer \
                         than the minimum {lo}: they form a grid of their own",
                        text::first_of(units.iter().map(|&u| (self.name)(u)), units.len(), 5, ", "),
                        text::count(parts.load[p])
                    ),
                    unavoidable: true,
                });
            } else if !self.band.holds(parts.load[p]) {
                made.violations.push(Violation {
                    grid: gi,
                    kind: ViolationKind::Unbalanced,
                    message: format!(
                        "holds {} households, outside {lo}–{hi}: moving buildings between neighbouring grids of this area of {} households could not bring it within the bounds",
                        text::count(parts.load[p]),
                        text::count(*total)
                    ),
                    unavoidable: false,
                });
            }
        }
    }
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
