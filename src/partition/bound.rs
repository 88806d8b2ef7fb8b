//! A proven lower bound on the objective of a region, for regions too large for the MILP: the
//! Lagrangian relaxation of the capacitated p-median problem (assignment constraints relaxed,
//! each centre's assignment a fractional knapsack under the upper bound), maximised by
//! subgradient steps. With the knapsacks fractional it approaches the bound of the model's LP
//! relaxation; dropping contiguity and the lower bound only weakens it, so every value it
//! reports is a valid lower bound for the region's number of grids.


use super::region::{Band, LocalGraph, Parts};
use crate::distance::Metric;

/// Subgradient iterations at full effort.
pub const ITERATIONS: usize = 300;

/// Lower bound on Σ cost_i · walk(i, centre) over every division of the region into `k` parts
/// within `band`'s upper bound and the walking limit. `start` (a feasible division) gives the
/// upper bound that steers the step sizes and the starting multipliers.
pub fn lagrangian_bound(g: &LocalGraph, k: usize, band: Band, max_walk: Option<f64>, start: &Parts, iterations: usize) -> f64 {
    let n = g.len();
    if n == 0 || k == 0 {
        return 0.0;
    }
    let upper = start.cost(g);
    if upper <= 0.0 {
        return 0.0;
    }
    // Walks are at least the straight line times this (the network is never shorter than the line).
    let ratio = match &g.metric {
        Metric::Straight { detour } => *detour,
        Metric::Network { .. } => 1.0,
    };
    let tree = g.position_tree();
    // Multipliers start at each unit's walk cost in the start division.
    let mut lambda: Vec<f64> = (0..n).map(|u| g.cost[u] * g.d(u, start.centre[start.part_of[u] as usize] as usize)).collect();
    let mut best = f64::NEG_INFINITY;
    let mut theta = 1.0;
    let mut stall = 0;
    let mut lists: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for _ in 0..iterations.max(1) {
        for l in lists.iter_mut() {
            l.clear();
        }
        // Negative reduced costs r_ij = c_i d_ij − λ_i, found by radius queries.
        for (i, &l) in lambda.iter().enumerate().take(n) {
            let c = g.cost[i];
            if c <= 0.0 || l <= 0.0 {
                continue;
            }
            let reach = l / (c * ratio);
            let reach = max_walk.map_or(reach, |m| reach.min(m / ratio));
            let p = [g.pos[i].x, g.pos[i].y];
            for hit in tree.locate_within_distance(p, reach * reach) {
                let j = hit.data as usize;
                let d = g.d(i, j);
                if max_walk.is_some_and(|m| d > m + 1e-9) {
                    continue;
                }
                let r = c * d - l;
                if r < 0.0 {
                    lists[j].push((i as u32, r));
                }
            }
        }
        // Each centre's fractional knapsack under the upper bound.
        let mut rho = vec![0.0; n];
        let mut take: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for j in 0..n {
            let list = &mut lists[j];
            if list.is_empty() {
                continue;
            }
            list.sort_by(|a, b| {
                let (wa, wb) = (g.weight[a.0 as usize], g.weight[b.0 as usize]);
                let ka = if wa > 0.0 { a.1 / wa } else { f64::NEG_INFINITY };
                let kb = if wb > 0.0 { b.1 / wb } else { f64::NEG_INFINITY };
                ka.total_cmp(&kb).then(a.0.cmp(&b.0))
            });
            let mut room = band.hi;
            for &(i, r) in list.iter() {
                let w = g.weight[i as usize];
                let f = if w <= 0.0 { 1.0 } else if room <= 0.0 { 0.0 } else { (room / w).min(1.0) };
                if f <= 0.0 {
                    break;
                }
                room -= f * w;
                rho[j] += f * r;
                take[j].push((i, f));
            }
        }
        // The k most negative centres.
        let mut order: Vec<usize> = (0..n).collect();
        order.select_nth_unstable_by(k.min(n) - 1, |&a, &b| rho[a].total_cmp(&rho[b]).then(a.cmp(&b)));
        let chosen = &order[..k.min(n)];
        let value: f64 = lambda.iter().sum::<f64>() + chosen.iter().map(|&j| rho[j]).sum::<f64>();
        let improved = value > best && (best.is_infinite() || value - best > 1e-9 * best.abs().max(1.0));
        best = best.max(value);
        if improved {
            stall = 0;
        } else {
            stall += 1;
            if stall >= 15 {
                theta /= 2.0;
                stall = 0;
            }
        }
        if upper - best <= 1e-6 * upper || theta < 1e-4 {
            break;
        }
        // Subgradient of the relaxed assignments.
        let mut grad = vec![1.0; n];
        for &j in chosen {
            for &(i, f) in &take[j] {
                grad[i as usize] -= f;
            }
        }
        for (i, gr) in grad.iter_mut().enumerate() {
            if g.cost[i] <= 0.0 {
                *gr = 0.0; // units without weight are left out of the relaxation
            }
        }
        let norm: f64 = grad.iter().map(|x| x * x).sum();
        if norm <= 1e-12 {
            break;
        }
        let step = theta * (upper - value).max(1e-9 * upper) / norm;
        for i in 0..n {
            lambda[i] += step * grad[i];
        }
    }
    best.max(0.0).min(upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Unit, UnitGraph};
    use crate::partition::milp::solve_exact;
    use crate::solver::{SolveStatus, SolverOptions};
    use geo::Coord;

    #[test]
    fn below_the_exact_optimum_and_close_to_it() {
        let mut seed = 5u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let (w, h) = (8, 6);
        let units: Vec<Unit> = (0..w * h)
            .map(|i| {
                let hh = (10.0 + 40.0 * rnd()).round();
                Unit { buildings: vec![i as u32], households: hh, cost_weight: hh, position: Coord { x: (i % w) as f64 * 20.0 + 5.0 * rnd(), y: (i / w) as f64 * 20.0 + 5.0 * rnd() }, block: crate::graph::NONE }
            })
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
        let ug = UnitGraph::from_edges(units, &edges);
        let g = LocalGraph::induced(&ug, &(0..(w * h) as u32).collect::<Vec<_>>(), &Metric::Straight { detour: 1.3 });
        let total = g.total();
        let band = Band { lo: total / 6.0 - 60.0, hi: total / 6.0 + 60.0 };
        let exact = solve_exact(&g, 6, band, true, None, None, &SolverOptions::default()).unwrap();
        assert_eq!(exact.status, SolveStatus::Optimal);
        let parts = Parts::from_labels(&g, exact.part_of.unwrap(), 6);
        let bound = lagrangian_bound(&g, 6, band, None, &parts, ITERATIONS);
        let opt = exact.objective.unwrap();
        assert!(bound <= opt + 1e-6, "bound {bound} above the optimum {opt}");
        assert!(bound >= 0.8 * opt, "bound {bound} too weak against {opt}");
    }
}
