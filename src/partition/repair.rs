//! Balance repair: moves units across part boundaries until every part is within its band,
//! never disconnecting a part. A part that cannot fix itself with its direct neighbours passes
//! households along a chain of parts (an ejection chain) to the nearest part with room.

use std::collections::VecDeque;

use super::region::{Band, LocalGraph, Parts};
use crate::geom::dist;

/// Tries to bring every part within `band`; returns true when it succeeded.
pub fn repair(g: &LocalGraph, parts: &mut Parts, band: Band, max_rounds: usize) -> bool {
    let mut mark = vec![false; g.len()];
    let mut stack = Vec::new();
    for _ in 0..max_rounds {
        let mut violators: Vec<usize> = (0..parts.len()).filter(|&p| !band.holds(parts.load[p])).collect();
        if violators.is_empty() {
            return true;
        }
        violators.sort_by(|&a, &b| band.excess(parts.load[b]).total_cmp(&band.excess(parts.load[a])).then(a.cmp(&b)));
        let mut progress = false;
        for p in violators {
            if band.holds(parts.load[p]) {
                continue;
            }
            if direct_move(g, parts, band, p, &mut mark, &mut stack) || chain(g, parts, band, p, &mut mark, &mut stack) {
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    (0..parts.len()).all(|p| band.holds(parts.load[p]))
}

fn total_excess(parts: &Parts, band: Band, ps: &[usize]) -> f64 {
    ps.iter().map(|&p| band.excess(parts.load[p])).sum()
}

/// One move between `p` and a neighbouring part that lowers the total excess of the two.
fn direct_move(g: &LocalGraph, parts: &mut Parts, band: Band, p: usize, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> bool {
    let over = parts.load[p] > band.hi;
    // (gain, distance change, unit, to)
    let mut best: Option<(f64, f64, usize, u32)> = None;
    for u in 0..g.len() {
        let pu = parts.part_of[u] as usize;
        // Overloaded: units of p leave. Underloaded: units next to p join it.
        let (from, to_candidates): (usize, Vec<u32>) = if over {
            if pu != p {
                continue;
            }
            (p, g.neighbours(u).iter().map(|&v| parts.part_of[v as usize]).filter(|&q| q as usize != p).collect())
        } else {
            if pu == p || !g.neighbours(u).iter().any(|&v| parts.part_of[v as usize] as usize == p) {
                continue;
            }
            (pu, vec![p as u32])
        };
        for to in to_candidates {
            let w = g.weight[u];
            let before = band.excess(parts.load[from]) + band.excess(parts.load[to as usize]);
            let after = band.excess(parts.load[from] - w) + band.excess(parts.load[to as usize] + w);
            let gain = before - after;
            if gain <= Band::EPS || parts.size[from] <= 1 {
                continue;
            }
            let dd = dist(g.pos[u], g.pos[parts.centre[to as usize] as usize]) - dist(g.pos[u], g.pos[parts.centre[from] as usize]);
            let better = match best {
                None => true,
                Some((bg, bd, _, _)) => gain > bg + Band::EPS || (gain >= bg - Band::EPS && dd < bd),
            };
            if better && parts.stays_connected_without(g, u, mark, stack) {
                best = Some((gain, dd, u, to));
            }
        }
    }
    match best {
        Some((_, _, u, to)) => {
            parts.assign(g, u, to);
            true
        }
        None => false,
    }
}

/// The unit of `a` next to `b` that `a` can give up (staying connected) whose weight best fits
/// `want` households.
fn unit_to_give(g: &LocalGraph, parts: &Parts, a: usize, b: usize, want: f64, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> Option<usize> {
    if parts.size[a] <= 1 {
        return None;
    }
    let mut cands: Vec<(f64, usize)> = (0..g.len())
        .filter(|&u| parts.part_of[u] as usize == a && g.neighbours(u).iter().any(|&v| parts.part_of[v as usize] as usize == b))
        .map(|u| ((g.weight[u] - want).abs(), u))
        .collect();
    cands.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    cands.into_iter().map(|(_, u)| u).find(|&u| parts.stays_connected_without(g, u, mark, stack))
}

/// Moves households along the shortest chain of parts between `p` and the nearest part that can
/// take (or give) them. Undone when it does not lower the total excess.
fn chain(g: &LocalGraph, parts: &mut Parts, band: Band, p: usize, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> bool {
    let over = parts.load[p] > band.hi;
    let k = parts.len();
    // Part adjacency.
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); k];
    for u in 0..g.len() {
        let a = parts.part_of[u];
        for &v in g.neighbours(u) {
            let b = parts.part_of[v as usize];
            if a != b {
                adj[a as usize].push(b);
            }
        }
    }
    for l in &mut adj {
        l.sort_unstable();
        l.dedup();
    }
    // Breadth-first search to the nearest part with room (over) or surplus (under).
    let mut prev = vec![u32::MAX; k];
    let mut queue = VecDeque::new();
    prev[p] = p as u32;
    queue.push_back(p);
    let mut end = None;
    while let Some(a) = queue.pop_front() {
        if a != p {
            let room = if over { band.hi - parts.load[a] } else { parts.load[a] - band.lo };
            if room > Band::EPS {
                end = Some(a);
                break;
            }
        }
        for &b in &adj[a] {
            if prev[b as usize] == u32::MAX {
                prev[b as usize] = a as u32;
                queue.push_back(b as usize);
            }
        }
    }
    let Some(end) = end else { return false };
    let mut path = vec![end];
    while *path.last().unwrap() != p {
        path.push(prev[*path.last().unwrap()] as usize);
    }
    path.reverse(); // p ... end
    if !over {
        path.reverse(); // households flow from end ... to p
    }
    let before = total_excess(parts, band, &path);
    let mut done: Vec<(usize, u32)> = Vec::new(); // (unit, previous part)
    let mut want = if over { parts.load[p] - band.hi } else { band.lo - parts.load[p] };
    for w in path.windows(2) {
        let (a, b) = (w[0], w[1]);
        let Some(u) = unit_to_give(g, parts, a, b, want, mark, stack) else { break };
        done.push((u, a as u32));
        parts.assign(g, u, b as u32);
        want = g.weight[u];
    }
    if total_excess(parts, band, &path) < before - Band::EPS {
        return true;
    }
    for (u, from) in done.into_iter().rev() {
        parts.assign(g, u, from);
    }
    false
}
