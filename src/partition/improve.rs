//! Compactness local search: alternately re-centre every part on its weighted medoid and move
//! units to the part whose centre is nearer, as long as both parts stay within the band, the
//! giving part stays connected (when contiguity is required) and the walk stays within the limit.
//! With contiguity, units move to neighbouring parts; without, to any of the nearest centres.
//! Each accepted move lowers the weighted walking distance (plus, with a boundary weight, the
//! cost of grid boundary off the streets), so the search ends; every rule holds after every step.

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::medoid::weighted_medoid;
use super::region::{Band, LocalGraph, Parts, Rules};
use crate::rng::Rng;

/// Centres considered per unit when contiguity is not required.
const NEAREST_CENTRES: usize = 8;

/// The part each unit belonged to before a re-division, and what leaving it costs: a move away
/// from the home part costs `penalty` metres of walk per household, a move back earns it.
#[derive(Debug, Clone, Copy)]
pub struct Home<'a> {
    /// Home part of each unit (`u32::MAX`: none).
    pub part: &'a [u32],
    /// Metres of walk per household a move away from home must save.
    pub penalty: f64,
}

/// Runs up to `passes` passes; returns the number of moves made.
pub fn improve(g: &LocalGraph, parts: &mut Parts, rules: &Rules, passes: usize, rng: &mut Rng) -> usize {
    improve_near_home(g, parts, rules, passes, rng, None)
}

/// [`improve`] with a stability term: moves away from each unit's home part cost `home.penalty`
/// per household.
pub fn improve_near_home(g: &LocalGraph, parts: &mut Parts, rules: &Rules, passes: usize, rng: &mut Rng, home: Option<Home>) -> usize {
    let n = g.len();
    let k = parts.len();
    if k < 2 || n < 3 {
        recentre(g, parts, rules, &vec![true; k]);
        return 0;
    }
    let band = rules.band;
    // Units without weight still follow geometry a little.
    let mean_w = (g.cost.iter().sum::<f64>() / n as f64).max(1e-3);
    let eps_w = 1e-3 * mean_w;
    let mut mark = vec![false; n];
    let mut stack = Vec::new();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut dirty = vec![true; k];
    let mut moves = 0;
    let mut candidates: Vec<u32> = Vec::new();
    for _ in 0..passes {
        recentre(g, parts, rules, &dirty);
        let was_dirty = std::mem::replace(&mut dirty, vec![false; k]);
        let centres_tree = (!rules.contiguity).then(|| {
            RTree::bulk_load((0..k).map(|p| {
                let c = parts.centre[p] as usize;
                GeomWithData::new([g.pos[c].x, g.pos[c].y], p as u32)
            }).collect::<Vec<_>>())
        });
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
            candidates.clear();
            match &centres_tree {
                None => candidates.extend(g.neighbours(u).iter().map(|&v| parts.part_of[v as usize])),
                Some(tree) => candidates.extend(tree.nearest_neighbor_iter(&[g.pos[u].x, g.pos[u].y]).take(NEAREST_CENTRES).map(|c| c.data)),
            }
            candidates.sort_unstable();
            candidates.dedup();
            // Only parts touched last pass (or next to them) can offer new moves.
            let mut touched = was_dirty[p];
            let d_here = g.d(u, parts.centre[p] as usize);
            let mut best: Option<(f64, u32)> = None;
            for &q in &candidates {
                if q as usize == p {
                    continue;
                }
                touched |= was_dirty[q as usize];
                if parts.load[q as usize] + w > band.hi + Band::EPS {
                    continue;
                }
                let d_there = g.d(u, parts.centre[q as usize] as usize);
                if rules.max_walk.is_some_and(|m| d_there > m + 1e-9 && d_there >= d_here) {
                    continue;
                }
                let mut delta = (g.cost[u] + eps_w) * (d_there - d_here);
                if rules.boundary_weight > 0.0 {
                    // Moving u makes its boundary with p a grid boundary and removes the one with q.
                    let (with_p, with_q) = g.off_street_with(u, &parts.part_of, p as u32, q);
                    delta += rules.boundary_weight * (with_p - with_q);
                }
                if let Some(h) = home {
                    let away = |part: usize| if h.part[u] != part as u32 { 1.0 } else { 0.0 };
                    delta += h.penalty * g.weight[u] * (away(q as usize) - away(p));
                }
                if delta < -1e-9 && best.is_none_or(|(bd, bq)| delta < bd || (delta == bd && q < bq)) {
                    best = Some((delta, q));
                }
            }
            let Some((_, q)) = best else { continue };
            if !touched {
                continue;
            }
            if rules.contiguity && !parts.stays_connected_without(g, u, &mut mark, &mut stack) {
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
    recentre(g, parts, rules, &vec![true; k]);
    moves
}

/// Re-centres the flagged parts on their weighted medoid (keeping every member within the
/// walking limit when it can).
fn recentre(g: &LocalGraph, parts: &mut Parts, rules: &Rules, which: &[bool]) {
    let members = parts.all_members();
    for (p, m) in members.iter().enumerate() {
        if which[p] && !m.is_empty() {
            parts.centre[p] = weighted_medoid(g, m, rules.max_walk);
        }
    }
}
