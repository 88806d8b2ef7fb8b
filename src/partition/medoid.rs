//! Weighted medoid: the member minimising the weighted walking distance to all members; with a
//! walking limit, among the members that keep everyone within it (else the one that comes
//! closest to doing so).

use super::region::LocalGraph;
use crate::geom::dist;

/// Parts larger than this try only the members nearest to the weighted mean as centres.
const EXACT_LIMIT: usize = 256;
/// Candidates tried for larger parts.
const CANDIDATES: usize = 64;

/// The weighted medoid of `members` (local indices, non-empty). Units without weight still
/// count a little, so a part without weight gets a geometric medoid.
pub fn weighted_medoid(g: &LocalGraph, members: &[u32], max_walk: Option<f64>) -> u32 {
    debug_assert!(!members.is_empty());
    if members.len() <= 2 && max_walk.is_none() {
        return *members.iter().max_by(|&&a, &&b| g.cost[a as usize].total_cmp(&g.cost[b as usize]).then(b.cmp(&a))).expect("members are not empty");
    }
    let w = |u: u32| g.cost[u as usize] + 1e-6;
    let candidates: Vec<u32> = if members.len() <= EXACT_LIMIT {
        members.to_vec()
    } else {
        let (mut x, mut y, mut s) = (0.0, 0.0, 0.0);
        for &u in members {
            x += w(u) * g.pos[u as usize].x;
            y += w(u) * g.pos[u as usize].y;
            s += w(u);
        }
        let mean = geo::Coord { x: x / s, y: y / s };
        let mut by_distance: Vec<(f64, u32)> = members.iter().map(|&u| (dist(g.pos[u as usize], mean), u)).collect();
        by_distance.select_nth_unstable_by(CANDIDATES, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        by_distance[..CANDIDATES].iter().map(|x| x.1).collect()
    };
    // Best by (walking-limit excess, cost, index).
    let mut best = (f64::INFINITY, f64::INFINITY, u32::MAX);
    for &c in &candidates {
        let (mut cost, mut far) = (0.0, 0.0f64);
        for &u in members {
            let d = g.d(u as usize, c as usize);
            cost += w(u) * d;
            far = far.max(d);
            if max_walk.is_none() && cost > best.1 {
                break;
            }
        }
        let excess = max_walk.map_or(0.0, |m| (far - m).max(0.0));
        if (excess, cost, c) < best {
            best = (excess, cost, c);
        }
    }
    best.2
}
