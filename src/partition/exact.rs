//! Exact division of small regions: enumerates every connected set of units within the band and
//! finds, by dynamic programming over subsets, the most compact division into `k` such sets, or
//! proves that none exists. Used when the heuristic misses a bound on a region this small.

use rustc_hash::FxHashMap as HashMap;

use super::region::{Band, LocalGraph};

/// Largest region solved exactly.
pub const EXACT_MAX_UNITS: usize = 24;
/// Work budget (connected sets enumerated plus subproblems solved) of a region solved exactly.
pub const REGION_BUDGET: usize = 4_000_000;

/// Outcome of the exact search.
#[derive(Debug, Clone, PartialEq)]
pub enum Exact {
    /// The most compact division: part of each unit.
    Found(Vec<u32>),
    /// No division into `k` connected parts within the band exists.
    Infeasible,
    /// The region is too large or the search ran out of budget.
    Unknown,
}

/// Solves the region exactly for `k` parts (every unit within `max_walk` of its part's centre,
/// when given), giving up (Unknown) after `budget` steps.
pub fn solve(g: &LocalGraph, k: usize, band: Band, max_walk: Option<f64>, budget: usize) -> Exact {
    let n = g.len();
    if n > EXACT_MAX_UNITS || n == 0 || k == 0 {
        return Exact::Unknown;
    }
    let mut nb = vec![0u32; n];
    for (u, mask) in nb.iter_mut().enumerate() {
        for &v in g.neighbours(u) {
            *mask |= 1 << v;
        }
    }
    let d: Vec<Vec<f64>> = (0..n).map(|a| (0..n).map(|b| g.d(a, b)).collect()).collect();
    // Connected sets in band, grouped by their lowest unit; their costs are computed when a
    // division uses them.
    let mut by_low: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut work = 0usize;
    for v in 0..n {
        let mut stack: Vec<(u32, u32, f64)> = vec![(1 << v, nb[v] & !((1u32 << (v + 1)) - 1), g.weight[v])];
        // (set, candidates, weight); candidates are neighbours above v not yet decided.
        let mut excluded_stack: Vec<u32> = vec![0];
        while let Some((set, cand, w)) = stack.pop() {
            let excluded = excluded_stack.pop().unwrap_or(0);
            work += 1;
            if work > budget {
                return Exact::Unknown;
            }
            if band.holds(w) {
                by_low[v].push(set);
            }
            let mut cand_left = cand & !excluded;
            let mut excl = excluded;
            while cand_left != 0 {
                let c = cand_left.trailing_zeros() as usize;
                cand_left &= cand_left - 1;
                let nw = w + g.weight[c];
                if nw <= band.hi + Band::EPS {
                    let above = !((1u32 << (v + 1)) - 1);
                    let ncand = (cand_left | (nb[c] & above)) & !set & !(1 << c) & !excl;
                    stack.push((set | 1 << c, ncand, nw));
                    excluded_stack.push(excl);
                }
                excl |= 1 << c;
            }
        }
    }
    let mut sets = Sets::new(by_low, g, d, max_walk);
    let full: u32 = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    let mut memo: HashMap<(u32, u8), Option<(f64, u32)>> = HashMap::default();
    let best = dp(full, k as u8, &mut sets, &mut memo, &mut work, budget);
    if work > budget {
        return Exact::Unknown;
    }
    match best {
        None => Exact::Infeasible,
        Some(_) => {
            let mut part_of = vec![0u32; n];
            let (mut rem, mut left, mut p) = (full, k as u8, 0u32);
            while rem != 0 {
                // The last part is what remains; the others are in the memo.
                let set = if left == 1 {
                    rem
                } else {
                    match memo.get(&(rem, left)) {
                        Some(Some((_, set))) => *set,
                        _ => return Exact::Unknown,
                    }
                };
                for (u, slot) in part_of.iter_mut().enumerate() {
                    if set & (1 << u) != 0 {
                        *slot = p;
                    }
                }
                rem &= !set;
                left = left.saturating_sub(1);
                p += 1;
            }
            Exact::Found(part_of)
        }
    }
}

/// The connected sets within the band, grouped by their lowest unit, with their costs
/// computed on first use.
struct Sets<'a> {
    /// Sets by lowest unit, in the order of enumeration.
    by_low: Vec<Vec<u32>>,
    /// Cost of each set of `by_low` (NaN until computed; infinite when no member can serve as centre).
    cost: Vec<Vec<f64>>,
    /// The sets of `by_low` sorted, with their index there, to find the set that is all that remains.
    sorted: Vec<Vec<(u32, u32)>>,
    /// The region.
    g: &'a LocalGraph,
    /// Distances between its units.
    d: Vec<Vec<f64>>,
    /// Walking limit, if any.
    max_walk: Option<f64>,
}

impl<'a> Sets<'a> {
    fn new(by_low: Vec<Vec<u32>>, g: &'a LocalGraph, d: Vec<Vec<f64>>, max_walk: Option<f64>) -> Sets<'a> {
        let cost = by_low.iter().map(|s| vec![f64::NAN; s.len()]).collect();
        let sorted = by_low
            .iter()
            .map(|s| {
                let mut v: Vec<(u32, u32)> = s.iter().enumerate().map(|(i, &set)| (set, i as u32)).collect();
                v.sort_unstable();
                v
            })
            .collect();
        Sets { by_low, cost, sorted, g, d, max_walk }
    }

    /// Cost of set `i` of those with lowest unit `low`.
    fn cost(&mut self, low: usize, i: usize) -> f64 {
        let c = self.cost[low][i];
        if !c.is_nan() {
            return c;
        }
        let c = medoid_cost(self.by_low[low][i], self.g, &self.d, self.max_walk);
        self.cost[low][i] = c;
        c
    }

    /// Cost of `set` as one part: None when it is not a connected set within the band that some member can serve.
    fn cost_of(&mut self, set: u32) -> Option<f64> {
        let low = set.trailing_zeros() as usize;
        let i = self.sorted[low].binary_search_by_key(&set, |&(s, _)| s).ok()?;
        let c = self.cost(low, self.sorted[low][i].1 as usize);
        c.is_finite().then_some(c)
    }
}

/// Cost of the set around its best centre (one keeping every member within `max_walk`);
/// infinite when no member can serve as centre.
fn medoid_cost(set: u32, g: &LocalGraph, d: &[Vec<f64>], max_walk: Option<f64>) -> f64 {
    let mut best = f64::INFINITY;
    let mut centres = set;
    while centres != 0 {
        let c = centres.trailing_zeros() as usize;
        centres &= centres - 1;
        let mut members = set;
        let mut within = true;
        let mut sum = 0.0;
        while members != 0 {
            let u = members.trailing_zeros() as usize;
            members &= members - 1;
            if max_walk.is_some_and(|m| d[u][c] > m + 1e-9) {
                within = false;
                break;
            }
            sum += g.cost[u] * d[u][c];
        }
        if within {
            best = best.min(sum);
        }
    }
    best
}

/// Cheapest division of `rem` into `left` parts: (cost, first part chosen).
fn dp(rem: u32, left: u8, sets: &mut Sets, memo: &mut HashMap<(u32, u8), Option<(f64, u32)>>, work: &mut usize, budget: usize) -> Option<f64> {
    if rem == 0 {
        return (left == 0).then_some(0.0);
    }
    if left == 0 {
        return None;
    }
    if left == 1 {
        return sets.cost_of(rem);
    }
    if let Some(r) = memo.get(&(rem, left)) {
        return r.map(|x| x.0);
    }
    *work += 1;
    if *work > budget {
        return None;
    }
    let low = rem.trailing_zeros() as usize;
    let mut best: Option<(f64, u32)> = None;
    for i in 0..sets.by_low[low].len() {
        let set = sets.by_low[low][i];
        if set & rem != set {
            continue;
        }
        if let Some(rest) = dp(rem & !set, left - 1, sets, memo, work, budget) {
            let cost = sets.cost(low, i);
            if !cost.is_finite() {
                continue;
            }
            let total = cost + rest;
            if best.is_none_or(|(b, _)| total < b) {
                best = Some((total, set));
            }
        }
    }
    memo.insert((rem, left), best);
    best.map(|x| x.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Unit, UnitGraph};
    use geo::Coord;

    fn path(weights: &[f64]) -> LocalGraph {
        let units: Vec<Unit> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| Unit { buildings: vec![i as u32], households: w, cost_weight: w, position: Coord { x: i as f64 * 10.0, y: 0.0 }, block: crate::graph::NONE })
            .collect();
        let edges: Vec<(u32, u32)> = (1..weights.len() as u32).map(|i| (i - 1, i)).collect();
        let g = UnitGraph::from_edges(units, &edges);
        LocalGraph::induced(&g, &(0..weights.len() as u32).collect::<Vec<_>>(), &crate::distance::Metric::default())
    }

    #[test]
    fn finds_the_only_division_of_a_path() {
        // 200 | 150 150 | 250 100 ... on a path, bounds 300–500.
        let g = path(&[200.0, 150.0, 150.0, 250.0, 100.0]);
        let band = Band { lo: 300.0, hi: 500.0 };
        match solve(&g, 2, band, None, REGION_BUDGET) {
            Exact::Found(p) => {
                let mut loads = [0.0; 2];
                for (u, &q) in p.iter().enumerate() {
                    loads[q as usize] += g.weight[u];
                }
                assert!(loads.iter().all(|&l| band.holds(l)), "{loads:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn proves_infeasibility() {
        // A path 400 - 50 - 400: any 2-division leaves 400 alone next to 450, or 400 and 50.
        let g = path(&[400.0, 50.0, 400.0, 290.0]);
        let band = Band { lo: 300.0, hi: 500.0 };
        // total 1140: 3 parts need 290 alone (< 300) → infeasible; 2 parts: {400,50}=450 + {400,290}=690 ✗,
        // {400} + {50,400,290}=740 ✗, {400,50,400} ✗ → infeasible.
        assert_eq!(solve(&g, 2, band, None, REGION_BUDGET), Exact::Infeasible);
        assert_eq!(solve(&g, 3, band, None, REGION_BUDGET), Exact::Infeasible);
    }
}
