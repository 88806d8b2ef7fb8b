//! Exact division of a region by MILP (good_lp + HiGHS): the capacitated p-median model with
//! household bounds, walking limit and contiguity. Contiguity is imposed lazily: solve, find the
//! pieces of each grid cut off from its centre, add the separator inequalities that forbid them
//! (if unit i joins centre j, some unit around i's piece must too), and solve again, until every
//! grid is connected. The last solve's bound is a proven lower bound on the connected optimum.

use rustc_hash::FxHashMap as HashMap;
use std::time::Instant;

use good_lp::{variable, Constraint, Expression, ProblemVariables, Variable};

use super::region::{Band, LocalGraph, Parts};
use crate::error::Result;
use crate::solver::{self, SolveStatus, SolverOptions};

/// Units above which `--exact` leaves a region to the heuristic (the model has n² variables).
pub const EXACT_REGION_MAX: usize = 600;

/// Models up to this many pairs get the single-unit separator inequalities from the start.
const SINGLETON_CUTS_MAX_PAIRS: usize = 200_000;

/// What the exact solve proved.
#[derive(Debug, Clone)]
pub struct MilpOutcome {
    /// The best connected division found (labels 0..k), None when none was found.
    pub part_of: Option<Vec<u32>>,
    /// Centre of each part (local units), aligned with the labels.
    pub centres: Vec<u32>,
    /// Objective of that division.
    pub objective: Option<f64>,
    /// Proven lower bound on the optimum (connected, within bounds).
    pub bound: Option<f64>,
    /// Optimal: the division is proven optimal; TimeLimit: gap open; Infeasible: no division exists.
    pub status: SolveStatus,
    /// Solve-and-cut rounds.
    pub rounds: usize,
    /// Separator inequalities added.
    pub cuts: usize,
}

/// Which centres each unit may be assigned to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Candidates {
    /// Every unit: the exact model.
    All,
    /// The given number of nearest units (and the unit's centre in the start division): a
    /// restricted model for the matheuristic.
    Nearest(usize),
}

/// Solves the region for `k` parts within `band`. With `contiguity` false it is the plain
/// capacitated p-median problem. `start` (a feasible division) warm-starts the solver.
pub fn solve_exact(
    g: &LocalGraph,
    k: usize,
    band: Band,
    contiguity: bool,
    max_walk: Option<f64>,
    start: Option<&Parts>,
    options: &SolverOptions,
) -> Result<MilpOutcome> {
    solve_model(g, k, band, contiguity, max_walk, start, Candidates::All, options)
}

/// [`solve_exact`] with a choice of candidate centres.
#[allow(clippy::too_many_arguments)]
pub fn solve_model(
    g: &LocalGraph,
    k: usize,
    band: Band,
    contiguity: bool,
    max_walk: Option<f64>,
    start: Option<&Parts>,
    candidates: Candidates,
    options: &SolverOptions,
) -> Result<MilpOutcome> {
    let n = g.len();
    let t0 = Instant::now();
    // Candidate assignments: (unit, centre) pairs within the walking limit.
    let within = |i: usize, j: usize| i == j || max_walk.is_none_or(|m| g.d(i, j) <= m + 1e-9);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    match candidates {
        Candidates::All => {
            for i in 0..n {
                for j in 0..n {
                    if within(i, j) {
                        pairs.push((i as u32, j as u32));
                    }
                }
            }
        }
        Candidates::Nearest(m) => {
            let tree = g.position_tree();
            for i in 0..n {
                let mut js: Vec<u32> = tree.nearest_neighbor_iter(&[g.pos[i].x, g.pos[i].y]).take(m).map(|x| x.data).collect();
                js.push(i as u32);
                if let Some(p) = start {
                    js.push(p.centre[p.part_of[i] as usize]);
                }
                js.sort_unstable();
                js.dedup();
                pairs.extend(js.into_iter().filter(|&j| within(i, j as usize)).map(|j| (i as u32, j)));
            }
        }
    }
    // The restricted model keeps grids connected by construction: a unit may join centre j only
    // if a neighbour nearer to j along the graph joins it too (shortest-path contiguity), so no
    // cut rounds are needed. The exact model uses separator cuts, which exclude nothing connected.
    let shortest_path = contiguity && matches!(candidates, Candidates::Nearest(_));
    let mut sp_rows: Vec<(usize, Vec<(u32, u32)>)> = Vec::new(); // (pair of x_ij, pairs x_vj on the right)
    if shortest_path {
        let sp = graph_distances_to_centres(g, &pairs);
        let has: rustc_hash::FxHashSet<(u32, u32)> = pairs.iter().copied().collect();
        let mut keep = Vec::with_capacity(pairs.len());
        for &(i, j) in &pairs {
            if i == j {
                keep.push((i, j));
                continue;
            }
            let here = sp.get(&(i, j)).copied().unwrap_or(f64::INFINITY);
            let closer: Vec<(u32, u32)> = g
                .neighbours(i as usize)
                .iter()
                .filter(|&&v| has.contains(&(v, j)) && sp.get(&(v, j)).is_some_and(|&dv| dv < here))
                .map(|&v| (v, j))
                .collect();
            if !closer.is_empty() {
                keep.push((i, j));
                sp_rows.push((keep.len() - 1, closer));
            }
        }
        pairs = keep;
    }
    let index: HashMap<(u32, u32), usize> = pairs.iter().enumerate().map(|(p, &ij)| (ij, p)).collect();
    let mut pairs_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &(i, j) in &pairs {
        pairs_of[i as usize].push(j);
    }
    // Rows Σ coef·x_(i,j) <= 0.
    let mut cuts: Vec<Vec<(u32, u32, f64)>> =
        if contiguity && !shortest_path && pairs.len() <= SINGLETON_CUTS_MAX_PAIRS { singleton_separators(g, &pairs) } else { Vec::new() };
    let mut best: Option<(f64, Vec<u32>, Vec<u32>)> = start.and_then(|p| feasible_start(g, p, band, max_walk, contiguity));
    let mut rounds = 0;
    loop {
        rounds += 1;
        let remaining = options.time_limit_s - t0.elapsed().as_secs_f64();
        if remaining <= 0.5 {
            let objective = best.as_ref().map(|b| b.0);
            return Ok(outcome(best, objective, None, SolveStatus::TimeLimit, rounds - 1, cuts.len()));
        }
        let model = Model { g, pairs: &pairs, index: &index, band, k, cuts: &cuts, sp_rows: &sp_rows };
        let (vars, objective, rows) = model.build(false);
        let warm: Option<Vec<f64>> = best.as_ref().map(|(_, part_of, centres)| {
            let mut v = vec![0.0; pairs.len()];
            for i in 0..n {
                let j = centres[part_of[i] as usize];
                if let Some(&p) = index.get(&(i as u32, j)) {
                    v[p] = 1.0;
                }
            }
            v
        });
        let opts = SolverOptions { time_limit_s: remaining, ..*options };
        let solved = solver::solve(vars, objective, rows, warm.as_deref(), &opts)?;
        if solved.status == SolveStatus::Infeasible {
            return Ok(outcome(None, None, None, SolveStatus::Infeasible, rounds, cuts.len()));
        }
        if solved.values.is_empty() {
            let objective = best.as_ref().map(|b| b.0);
            return Ok(outcome(best, objective, solved.bound, SolveStatus::TimeLimit, rounds, cuts.len()));
        }
        // Read the division.
        let mut centre_of = vec![u32::MAX; n];
        for (p, &(i, j)) in pairs.iter().enumerate() {
            if solved.values[p] > 0.5 {
                centre_of[i as usize] = j;
            }
        }
        let mut centres: Vec<u32> = centre_of.iter().copied().filter(|&c| c != u32::MAX).collect();
        centres.sort_unstable();
        centres.dedup();
        let label: HashMap<u32, u32> = centres.iter().enumerate().map(|(l, &c)| (c, l as u32)).collect();
        let part_of: Vec<u32> = centre_of.iter().map(|c| label[c]).collect();
        let value = solved.objective.unwrap_or(f64::INFINITY);
        let new_cuts = if contiguity { separators(g, &centre_of, &pairs_of) } else { Vec::new() };
        if new_cuts.is_empty() {
            // Connected: optimal if the solver proved it, else the best so far with its bound.
            if best.as_ref().is_none_or(|b| value < b.0 - 1e-9) {
                best = Some((value, part_of, centres));
            }
            let objective = best.as_ref().map(|b| b.0);
            return Ok(outcome(best, objective, solved.bound, solved.status, rounds, cuts.len()));
        }
        cuts.extend(new_cuts);
        if solved.status != SolveStatus::Optimal {
            // Out of time before the cut model was solved: the bound still holds.
            let objective = best.as_ref().map(|b| b.0);
            return Ok(outcome(best, objective, solved.bound, SolveStatus::TimeLimit, rounds, cuts.len()));
        }
    }
}

/// The p-median model with bounds over given pairs, plus contiguity rows.
struct Model<'a> {
    g: &'a LocalGraph,
    pairs: &'a [(u32, u32)],
    index: &'a HashMap<(u32, u32), usize>,
    band: Band,
    k: usize,
    cuts: &'a [Vec<(u32, u32, f64)>],
    sp_rows: &'a [(usize, Vec<(u32, u32)>)],
}

impl Model<'_> {
    /// Variables (x of each pair, in order; binary unless `relax`), objective and rows.
    fn build(&self, relax: bool) -> (ProblemVariables, Expression, Vec<Constraint>) {
        let (g, pairs, index, band) = (self.g, self.pairs, self.index, self.band);
        let n = g.len();
        let mut vars = ProblemVariables::new();
        let x: Vec<Variable> =
            pairs.iter().map(|_| if relax { vars.add(variable().min(0.0).max(1.0)) } else { vars.add(variable().binary()) }).collect();
        let mut objective = Expression::default();
        for (p, &(i, j)) in pairs.iter().enumerate() {
            let c = g.cost[i as usize] * g.d(i as usize, j as usize);
            if c != 0.0 {
                objective.add_mul(c, x[p]);
            }
        }
        let mut rows: Vec<Constraint> = Vec::new();
        let mut assign: Vec<Expression> = vec![Expression::default(); n];
        let mut load: Vec<Expression> = vec![Expression::default(); n];
        for (p, &(i, j)) in pairs.iter().enumerate() {
            assign[i as usize].add_mul(1.0, x[p]);
            load[j as usize].add_mul(g.weight[i as usize], x[p]);
            if i != j {
                rows.push((Expression::from(x[p]) - x[index[&(j, j)]]).leq(0.0));
            }
        }
        for a in assign {
            rows.push(a.eq(1.0));
        }
        let mut centres = Expression::default();
        for (j, l) in load.into_iter().enumerate() {
            let y = x[index[&(j as u32, j as u32)]];
            centres.add_mul(1.0, y);
            rows.push((l.clone() - band.hi * y).leq(0.0));
            rows.push((l - band.lo * y).geq(0.0));
        }
        rows.push(centres.eq(self.k as f64));
        for cut in self.cuts {
            let mut e = Expression::default();
            for &(i, j, coef) in cut {
                if let Some(&p) = index.get(&(i, j)) {
                    e.add_mul(coef, x[p]);
                }
            }
            rows.push(e.leq(0.0));
        }
        for (p, closer) in self.sp_rows {
            let mut e = Expression::from(x[*p]);
            for ij in closer {
                if let Some(&q) = index.get(ij) {
                    e.add_mul(-1.0, x[q]);
                }
            }
            rows.push(e.leq(0.0));
        }
        (vars, objective, rows)
    }
}

/// Pairs up to which [`lp_bound`] solves the LP relaxation.
pub const LP_MAX_PAIRS: usize = 250_000;

/// The LP relaxation of the exact model (single-unit separator inequalities included when
/// `contiguity`): a proven lower bound on the region's objective for `k` grids. None when the
/// model is too large or the LP did not finish.
pub fn lp_bound(g: &LocalGraph, k: usize, band: Band, contiguity: bool, max_walk: Option<f64>, options: &SolverOptions) -> Result<Option<f64>> {
    let n = g.len();
    if n * n > LP_MAX_PAIRS {
        return Ok(None);
    }
    let mut pairs = Vec::new();
    for i in 0..n {
        for j in 0..n {
            if i == j || max_walk.is_none_or(|m| g.d(i, j) <= m + 1e-9) {
                pairs.push((i as u32, j as u32));
            }
        }
    }
    let index: HashMap<(u32, u32), usize> = pairs.iter().enumerate().map(|(p, &ij)| (ij, p)).collect();
    let cuts = if contiguity { singleton_separators(g, &pairs) } else { Vec::new() };
    let model = Model { g, pairs: &pairs, index: &index, band, k, cuts: &cuts, sp_rows: &[] };
    let (vars, objective, rows) = model.build(true);
    let solved = solver::solve(vars, objective, rows, None, options)?;
    Ok(match solved.status {
        SolveStatus::Optimal => solved.objective,
        _ => None,
    })
}

fn outcome(best: Option<(f64, Vec<u32>, Vec<u32>)>, objective: Option<f64>, bound: Option<f64>, status: SolveStatus, rounds: usize, cuts: usize) -> MilpOutcome {
    let (part_of, centres) = match best {
        Some((_, p, c)) => (Some(p), c),
        None => (None, Vec::new()),
    };
    // The bound never exceeds a known solution.
    let bound = match (bound, objective) {
        (Some(b), Some(o)) => Some(b.min(o)),
        (b, _) => b,
    };
    let status = if status == SolveStatus::Optimal && part_of.is_none() { SolveStatus::NoSolution } else { status };
    MilpOutcome { part_of, centres, objective, bound, status, rounds, cuts }
}

/// A heuristic division as a warm start (objective, labels, centres), when it is feasible.
fn feasible_start(g: &LocalGraph, parts: &Parts, band: Band, max_walk: Option<f64>, contiguity: bool) -> Option<(f64, Vec<u32>, Vec<u32>)> {
    if (0..parts.len()).any(|p| !band.holds(parts.load[p])) || (contiguity && !parts.all_connected(g)) {
        return None;
    }
    if let Some(m) = max_walk {
        if (0..g.len()).any(|u| g.d(u, parts.centre[parts.part_of[u] as usize] as usize) > m + 1e-9) {
            return None;
        }
    }
    Some((parts.cost(g), parts.part_of.clone(), parts.centre.clone()))
}

/// Graph distances (edge length = distance between unit positions) from each candidate centre
/// to its candidate units and their neighbours, by Dijkstra bounded at three times the farthest
/// candidate's straight-line distance.
fn graph_distances_to_centres(g: &LocalGraph, pairs: &[(u32, u32)]) -> HashMap<(u32, u32), f64> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut reach: HashMap<u32, f64> = HashMap::default();
    for &(i, j) in pairs {
        let d = crate::geom::dist(g.pos[i as usize], g.pos[j as usize]);
        let e = reach.entry(j).or_insert(0.0);
        *e = e.max(d);
    }
    let mut centres: Vec<(u32, f64)> = reach.into_iter().collect();
    centres.sort_unstable_by_key(|c| c.0);
    let mut out = HashMap::default();
    let mut dist_to: HashMap<u32, f64> = HashMap::default();
    for (j, r) in centres {
        let limit = 3.0 * r + 1e-6;
        dist_to.clear();
        let mut heap = BinaryHeap::new();
        dist_to.insert(j, 0.0);
        heap.push(Reverse((crate::geom::OrdF64(0.0), j)));
        while let Some(Reverse((crate::geom::OrdF64(d), u))) = heap.pop() {
            if dist_to.get(&u).is_some_and(|&x| d > x) {
                continue;
            }
            for &v in g.neighbours(u as usize) {
                let nd = d + crate::geom::dist(g.pos[u as usize], g.pos[v as usize]);
                if nd <= limit && dist_to.get(&v).is_none_or(|&x| nd < x) {
                    dist_to.insert(v, nd);
                    heap.push(Reverse((crate::geom::OrdF64(nd), v)));
                }
            }
        }
        for (&u, &d) in &dist_to {
            out.insert((u, j), d);
        }
    }
    out
}

/// Separator inequalities for every piece of a grid cut off from its centre: for each unit i of
/// the piece S (grid of centre j), x_ij − Σ_{v next to S, v ∉ S} x_vj ≤ 0.
/// The inequality holds for every centre outside the piece (any path from the piece to it
/// crosses the piece's boundary), so it is added for all of them at once.
fn separators(g: &LocalGraph, centre_of: &[u32], pairs_of: &[Vec<u32>]) -> Vec<Vec<(u32, u32, f64)>> {
    let n = g.len();
    let (_, pieces) = crate::pieces::pieces(
        n,
        |_| true,
        |u, visit| {
            for &v in g.neighbours(u) {
                if centre_of[v as usize] == centre_of[u] {
                    visit(v as usize);
                }
            }
        },
    );
    let mut cuts = Vec::new();
    for piece in pieces {
        let j = centre_of[piece[0] as usize];
        if piece.contains(&j) {
            continue;
        }
        let mut inside = vec![false; n];
        for &u in &piece {
            inside[u as usize] = true;
        }
        let mut around: Vec<u32> = piece.iter().flat_map(|&u| g.neighbours(u as usize).iter().copied()).filter(|&v| !inside[v as usize]).collect();
        around.sort_unstable();
        around.dedup();
        for &i in &piece {
            for &c in &pairs_of[i as usize] {
                if inside[c as usize] || around.contains(&c) {
                    continue;
                }
                let mut row = vec![(i, c, 1.0)];
                row.extend(around.iter().map(|&v| (v, c, -1.0)));
                cuts.push(row);
            }
        }
        let _ = j;
    }
    cuts
}

/// The separator inequalities of single units, added before the first solve: a unit joins a
/// centre that is not its neighbour only if one of its neighbours does.
fn singleton_separators(g: &LocalGraph, pairs: &[(u32, u32)]) -> Vec<Vec<(u32, u32, f64)>> {
    pairs
        .iter()
        .filter(|&&(i, j)| i != j && !g.neighbours(i as usize).contains(&j))
        .map(|&(i, j)| {
            let mut row = vec![(i, j, 1.0)];
            row.extend(g.neighbours(i as usize).iter().map(|&v| (v, j, -1.0)));
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::Metric;
    use crate::graph::{Unit, UnitGraph};
    use geo::Coord;

    /// A grid graph of w × h units of weight `wt`, 10 m apart.
    fn lattice(w: usize, h: usize, wt: &dyn Fn(usize) -> f64) -> LocalGraph {
        let units: Vec<Unit> = (0..w * h)
            .map(|i| Unit { buildings: vec![i as u32], households: wt(i), cost_weight: wt(i), position: Coord { x: (i % w) as f64 * 10.0, y: (i / w) as f64 * 10.0 }, block: crate::graph::NONE })
            .collect();
        let mut edges = Vec::new();
        for i in 0..w * h {
            if i % w + 1 < w {
                edges.push((i as u32, i as u32 + 1));
            }
            if i + w < w * h {
                edges.push((i as u32, (i + w) as u32));
            }
        }
        let g = UnitGraph::from_edges(units, &edges);
        LocalGraph::induced(&g, &(0..(w * h) as u32).collect::<Vec<_>>(), &Metric::default())
    }

    #[test]
    fn proves_optimal_connected_division() {
        let g = lattice(6, 4, &|i| 10.0 + (i % 5) as f64 * 7.0);
        let total: f64 = g.weight.iter().sum();
        let band = Band { lo: total / 3.0 - 40.0, hi: total / 3.0 + 40.0 };
        let out = solve_exact(&g, 3, band, true, None, None, &SolverOptions::default()).unwrap();
        assert_eq!(out.status, SolveStatus::Optimal);
        let part_of = out.part_of.unwrap();
        let parts = Parts::from_labels(&g, part_of, 3);
        assert!(parts.all_connected(&g));
        assert!((0..3).all(|p| band.holds(parts.load[p])));
        // The proven optimum is no worse than the bound and equals the reported objective.
        let obj = out.objective.unwrap();
        assert!(out.bound.unwrap() <= obj + 1e-6);
        let recomputed: f64 = (0..g.len()).map(|u| g.cost[u] * g.d(u, out.centres[parts.part_of[u] as usize] as usize)).sum();
        assert!((recomputed - obj).abs() < 1e-6 * obj.max(1.0), "{recomputed} vs {obj}");
    }

    #[test]
    fn contiguity_costs_something_on_a_dumbbell() {
        // Two heavy blobs joined by a light path: without contiguity a grid may take both ends.
        let g = lattice(7, 1, &|i| [100.0, 100.0, 1.0, 1.0, 1.0, 100.0, 100.0][i]);
        let band = Band { lo: 0.0, hi: 202.0 };
        let free = solve_exact(&g, 2, band, false, None, None, &SolverOptions::default()).unwrap();
        let tied = solve_exact(&g, 2, band, true, None, None, &SolverOptions::default()).unwrap();
        assert_eq!(tied.status, SolveStatus::Optimal);
        assert!(tied.objective.unwrap() >= free.objective.unwrap() - 1e-9);
        let parts = Parts::from_labels(&g, tied.part_of.unwrap(), 2);
        assert!(parts.all_connected(&g));
    }

    #[test]
    fn infeasible_is_proven() {
        let g = lattice(3, 1, &|i| [400.0, 50.0, 400.0][i]);
        let out = solve_exact(&g, 2, Band { lo: 300.0, hi: 500.0 }, true, None, None, &SolverOptions::default()).unwrap();
        // {400,50} + {400} is fine; with hi 420 it is not.
        assert_eq!(out.status, SolveStatus::Optimal);
        let out = solve_exact(&g, 2, Band { lo: 300.0, hi: 420.0 }, true, None, None, &SolverOptions::default()).unwrap();
        assert_eq!(out.status, SolveStatus::Infeasible);
    }

    #[test]
    fn walking_limit_is_respected() {
        let g = lattice(8, 1, &|_| 10.0);
        let out = solve_exact(&g, 2, Band { lo: 0.0, hi: 80.0 }, true, Some(25.0), None, &SolverOptions::default()).unwrap();
        let parts = Parts::from_labels(&g, out.part_of.unwrap(), 2);
        for u in 0..g.len() {
            assert!(g.d(u, out.centres[parts.part_of[u] as usize] as usize) <= 25.0 + 1e-9);
        }
        // 8 units 10 m apart cannot all be within 15 m of one of 2 centres.
        let out = solve_exact(&g, 2, Band { lo: 0.0, hi: 80.0 }, true, Some(15.0), None, &SolverOptions::default()).unwrap();
        assert_eq!(out.status, SolveStatus::Infeasible);
    }
}
