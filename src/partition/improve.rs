//! Compactness local search: alternately re-centre every part on its weighted medoid and move
//! boundary units to the neighbouring part whose centre is nearer, as long as both parts stay
//! within the band and the giving part stays connected. Each accepted move lowers the
//! household-weighted walking distance, so the search ends; bounds and connectivity hold
//! after every step.

use super::medoid::weighted_medoid;
use super::region::{Band, LocalGraph, Parts};
use crate::rng::Rng;

/// Runs up to `passes` passes; returns the number of moves made.
pub fn improve(g: &LocalGraph, parts: &mut Parts, band: Band, passes: usize, rng: &mut Rng) -> usize {
    let n = g.len();
    let k = parts.len();
    if k < 2 || n < 3 {
        return 0;
    }
    // Units without households still follow geometry a little.
    let mean_w = (g.cost.iter().sum::<f64>() / n as f64).max(1e-3);
    let eps_w = 1e-3 * mean_w;
    let mut mark = vec![false; n];
    let mut stack = Vec::new();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut dirty = vec![true; k];
    let mut moves = 0;
    for _ in 0..passes {
        // Re-centre the parts that changed.
        let members = parts.all_members();
        for p in 0..k {
            if dirty[p] && !members[p].is_empty() {
                parts.centre[p] = weighted_medoid(g, &members[p]);
            }
        }
        let was_dirty = std::mem::replace(&mut dirty, vec![false; k]);
        rng.shuffle(&mut order);
        let mut moved = 0;
        for &u in &order {
            let u = u as usize;
            let p = parts.part_of[u] as usize;
            if parts.centre[p] as usize == u || parts.size[p] <= 1 {
                continue;
            }
            let w = g.weight[u];
            if parts.load[p] - w < band.lo - Band::EPS {
                continue;
            }
            // Only parts touched last pass (or next to them) can offer new moves.
            let mut touched = was_dirty[p];
            let d_here = g.d(u, parts.centre[p] as usize);
            let mut best: Option<(f64, u32)> = None;
            for &v in g.neighbours(u) {
                let q = parts.part_of[v as usize];
                if q as usize == p {
                    continue;
                }
                touched |= was_dirty[q as usize];
                if parts.load[q as usize] + w > band.hi + Band::EPS {
                    continue;
                }
                let delta = (g.cost[u] + eps_w) * (g.d(u, parts.centre[q as usize] as usize) - d_here);
                if delta < -1e-9 && best.is_none_or(|(bd, bq)| delta < bd || (delta == bd && q < bq)) {
                    best = Some((delta, q));
                }
            }
            let Some((_, q)) = best else { continue };
            if !touched {
                continue;
            }
            if !parts.stays_connected_without(g, u, &mut mark, &mut stack) {
                continue;
            }
            parts.assign(g, u, q);
            dirty[p] = true;
            dirty[q as usize] = true;
            moved += 1;
        }
        moves += moved;
        if moved == 0 {
            break;
        }
    }
    // Final centres.
    let members = parts.all_members();
    for p in 0..k {
        if !members[p].is_empty() {
            parts.centre[p] = weighted_medoid(g, &members[p]);
        }
    }
    moves
}
