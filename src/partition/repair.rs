//! Balance repair: brings parts back within their band without ever disconnecting one. A part
//! out of band first tries a single unit move with a neighbour; then it is merged with one to
//! three neighbouring parts and the union is divided afresh (by the bisection, which on such
//! small sets searches thoroughly); last, households are passed along a chain of parts (an
//! ejection chain) to the nearest part with room.

use std::collections::VecDeque;

use super::bisect::{divide, Sub};
use super::exact::{self, Exact};
use super::medoid::weighted_medoid;
use super::region::{Band, LocalGraph, Parts};
use crate::rng::Rng;

/// Largest number of parts merged and divided again.
const MERGE_MAX: usize = 5;
/// Merged groups up to this many units are divided exactly.
const GROUP_EXACT_MAX: usize = 18;
/// Work budget of the exact division of a merged group.
const GROUP_BUDGET: usize = 100_000;
/// Groups tried per part and group size.
const GROUPS_PER_SIZE: usize = 6;

/// Tries to bring every part within `band`; returns true when it succeeded.
pub fn repair(g: &LocalGraph, parts: &mut Parts, band: Band, max_rounds: usize, rng: &mut Rng) -> bool {
    repair_with(g, parts, band, max_rounds, rng, false)
}

/// [`repair`] for a re-division that should move few households: ejection chains (which move
/// single units along a path of parts) are tried before merging and dividing parts afresh.
pub fn repair_stable(g: &LocalGraph, parts: &mut Parts, band: Band, max_rounds: usize, rng: &mut Rng) -> bool {
    repair_with(g, parts, band, max_rounds, rng, true)
}

fn repair_with(g: &LocalGraph, parts: &mut Parts, band: Band, max_rounds: usize, rng: &mut Rng, chains_first: bool) -> bool {
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
            let fixed = direct_move(g, parts, band, p, &mut mark, &mut stack)
                || if chains_first {
                    chain(g, parts, band, p, &mut mark, &mut stack) || merge_and_divide(g, parts, band, p, rng, true)
                } else {
                    merge_and_divide(g, parts, band, p, rng, false) || chain(g, parts, band, p, &mut mark, &mut stack)
                };
            if fixed {
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    (0..parts.len()).all(|p| band.holds(parts.load[p]))
}

/// One move between `p` and a neighbouring part that lowers the total excess of the two.
fn direct_move(g: &LocalGraph, parts: &mut Parts, band: Band, p: usize, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> bool {
    let over = parts.load[p] > band.hi;
    // (gain, distance change, unit, to)
    let mut best: Option<(f64, f64, usize, u32)> = None;
    // Overloaded: units of p leave. Underloaded: units next to p join it.
    let members = parts.members(p);
    for (u, from, to) in crossing_units(g, parts, &members, p, over) {
        let w = g.weight[u];
        let before = band.excess(parts.load[from]) + band.excess(parts.load[to]);
        let after = band.excess(parts.load[from] - w) + band.excess(parts.load[to] + w);
        let gain = before - after;
        if gain <= Band::EPS || parts.size[from] <= 1 {
            continue;
        }
        let dd = g.d(u, parts.centre[to] as usize) - g.d(u, parts.centre[from] as usize);
        let better = match best {
            None => true,
            Some((bg, bd, _, _)) => gain > bg + Band::EPS || (gain >= bg - Band::EPS && dd < bd),
        };
        if better && parts.stays_connected_without(g, u, mark, stack) {
            best = Some((gain, dd, u, to as u32));
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

/// Units crossing the boundary of part `a` (whose units are `members`): with `leaving`, units
/// of `a` next to another part; otherwise units of other parts next to `a`. Returned as
/// (unit, giving part, taking part), sorted.
fn crossing_units(g: &LocalGraph, parts: &Parts, members: &[u32], a: usize, leaving: bool) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for &u in members {
        for &v in g.neighbours(u as usize) {
            let b = parts.part_of[v as usize] as usize;
            if b != a {
                out.push(if leaving { (u as usize, a, b) } else { (v as usize, b, a) });
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Search limits of the ejection chains.
const CHAIN_DEPTH: usize = 12;
const CHAIN_STATES: usize = 20_000;

/// A state of the chain search: part `part` whose load is off by `delta` (received minus given).
struct ChainState {
    part: u32,
    delta: f64,
    depth: usize,
    /// (previous state, unit moved, from part, to part); None for the start.
    via: Option<(usize, u32, u32, u32)>,
}

/// Moves households along a chain of parts, like an augmenting path: an overloaded part gives a
/// unit to a neighbour, which, if now overloaded, gives one on, until a part can take it (an
/// underloaded part pulls the other way). Breadth-first over (part, load change) finds the
/// shortest such chain; it is applied only if every part stays connected and the total excess
/// drops, else undone.
fn chain(g: &LocalGraph, parts: &mut Parts, band: Band, p: usize, mark: &mut Vec<bool>, stack: &mut Vec<u32>) -> bool {
    let push = parts.load[p] > band.hi;
    let in_band = |x: f64| band.holds(x);
    let members = parts.all_members();
    let mut states = vec![ChainState { part: p as u32, delta: 0.0, depth: 0, via: None }];
    let mut seen: rustc_hash::FxHashSet<(u32, i64)> = rustc_hash::FxHashSet::default();
    seen.insert((p as u32, 0));
    let mut queue = VecDeque::from([0usize]);
    let mut found = None;
    let on_path = |states: &Vec<ChainState>, mut s: usize, part: u32| loop {
        if states[s].part == part {
            return true;
        }
        match states[s].via {
            Some((prev, ..)) => s = prev,
            None => return false,
        }
    };
    'bfs: while let Some(si) = queue.pop_front() {
        if states.len() > CHAIN_STATES {
            break;
        }
        let (a, delta, depth) = (states[si].part as usize, states[si].delta, states[si].depth);
        if depth >= CHAIN_DEPTH {
            continue;
        }
        let moves = crossing_units(g, parts, &members[a], a, push);
        for (u, giver, taker) in moves {
            let other = if push { taker } else { giver };
            if on_path(&states, si, other as u32) {
                continue;
            }
            let w = g.weight[u];
            let (here, there) = if push {
                (parts.load[a] + delta - w, parts.load[taker] + w)
            } else {
                (parts.load[a] + delta + w, parts.load[giver] - w)
            };
            if !in_band(here) || parts.size[giver] <= 1 || !parts.stays_connected_without(g, u, mark, stack) {
                continue;
            }
            let next = states.len();
            let next_delta = if push { w } else { -w };
            states.push(ChainState { part: other as u32, delta: next_delta, depth: depth + 1, via: Some((si, u as u32, giver as u32, taker as u32)) });
            if in_band(there) {
                found = Some(next);
                break 'bfs;
            }
            let pushing_on = if push { there > band.hi } else { there < band.lo };
            if pushing_on && seen.insert((other as u32, (next_delta * 1000.0).round() as i64)) {
                queue.push_back(next);
            }
        }
    }
    let Some(end) = found else { return false };
    // The moves from the start to `end`.
    let mut moves = Vec::new();
    let mut s = end;
    while let Some((prev, u, giver, taker)) = states[s].via {
        moves.push((u as usize, giver, taker));
        s = prev;
    }
    moves.reverse();
    let touched: Vec<u32> = moves.iter().flat_map(|&(_, a, b)| [a, b]).collect();
    let before: f64 = touched.iter().map(|&q| band.excess(parts.load[q as usize])).sum::<f64>();
    for &(u, _, taker) in &moves {
        parts.assign(g, u, taker);
    }
    let after: f64 = touched.iter().map(|&q| band.excess(parts.load[q as usize])).sum::<f64>();
    let connected = touched.iter().all(|&q| part_connected(g, parts, q));
    if connected && after < before - Band::EPS {
        return true;
    }
    for &(u, giver, _) in moves.iter().rev() {
        parts.assign(g, u, giver);
    }
    false
}

/// True when part `q` is connected (full search).
fn part_connected(g: &LocalGraph, parts: &Parts, q: u32) -> bool {
    let Some(start) = parts.part_of.iter().position(|&x| x == q) else { return true };
    let mut seen = vec![false; g.len()];
    let mut stack = vec![start];
    seen[start] = true;
    let mut count = 1;
    while let Some(u) = stack.pop() {
        for &v in g.neighbours(u) {
            let v = v as usize;
            if !seen[v] && parts.part_of[v] == q {
                seen[v] = true;
                count += 1;
                stack.push(v);
            }
        }
    }
    count == parts.size[q as usize] as usize
}

/// Adjacency between parts (sorted, without duplicates).
fn part_adjacency(g: &LocalGraph, parts: &Parts) -> Vec<Vec<u32>> {
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); parts.len()];
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
    adj
}

/// Merges part `p` with neighbouring parts and divides the union again; keeps the result when
/// the group's total excess drops.
fn merge_and_divide(g: &LocalGraph, parts: &mut Parts, band: Band, p: usize, rng: &mut Rng, keep_labels: bool) -> bool {
    let adj = part_adjacency(g, parts);
    let members = parts.all_members();
    for m in 2..=MERGE_MAX {
        for group in groups(&adj, p, m, parts, band) {
            let load: f64 = group.iter().map(|&q| parts.load[q as usize]).sum();
            if load < m as f64 * band.lo - Band::EPS || load > m as f64 * band.hi + Band::EPS {
                continue;
            }
            let before: f64 = group.iter().map(|&q| band.excess(parts.load[q as usize])).sum();
            let units: Vec<u32> = group.iter().flat_map(|&q| members[q as usize].iter().copied()).collect();
            let pieces = if units.len() <= GROUP_EXACT_MAX {
                // Small enough to search every division of the group.
                let sub = LocalGraph::restricted(g, &units);
                match exact::solve(&sub, m, band, None, GROUP_BUDGET) {
                    Exact::Found(part_of) => {
                        let mut pieces = vec![Vec::new(); m];
                        for (i, &q) in part_of.iter().enumerate() {
                            pieces[q as usize].push(units[i]);
                        }
                        pieces
                    }
                    _ => continue,
                }
            } else {
                divide(Sub::of(g, &units), m, band, rng.next_u64()).0
            };
            if pieces.len() != m {
                continue;
            }
            let after: f64 = pieces.iter().map(|piece| band.excess(piece.iter().map(|&u| g.weight[u as usize]).sum())).sum();
            if after < before - Band::EPS {
                // For a stable re-division each piece takes the label of the part it shares the
                // most households with, so grid ids follow their households.
                let group: Vec<u32> = if keep_labels { labels_by_overlap(g, parts, &group, &pieces) } else { group };
                for (&q, piece) in group.iter().zip(&pieces) {
                    for &u in piece {
                        parts.assign(g, u as usize, q);
                    }
                }
                for (&q, piece) in group.iter().zip(&pieces) {
                    parts.centre[q as usize] = weighted_medoid(g, piece, None);
                }
                return true;
            }
        }
    }
    false
}

/// The labels of `group` reordered so that piece `i` gets the part it shares most households
/// with (largest overlaps first, one to one).
fn labels_by_overlap(g: &LocalGraph, parts: &Parts, group: &[u32], pieces: &[Vec<u32>]) -> Vec<u32> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        for (j, &q) in group.iter().enumerate() {
            let w: f64 = piece.iter().filter(|&&u| parts.part_of[u as usize] == q).map(|&u| g.weight[u as usize]).sum();
            pairs.push((w, i, j));
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut label: Vec<Option<u32>> = vec![None; pieces.len()];
    let mut used = vec![false; group.len()];
    for (_, i, j) in pairs {
        if label[i].is_none() && !used[j] {
            label[i] = Some(group[j]);
            used[j] = true;
        }
    }
    label.into_iter().map(|l| l.expect("as many pieces as parts")).collect()
}

/// Connected groups of `m` parts containing `p`, neighbours with the most room (or surplus) first.
fn groups(adj: &[Vec<u32>], p: usize, m: usize, parts: &Parts, band: Band) -> Vec<Vec<u32>> {
    let over = parts.load[p] > band.hi;
    let slack = |q: u32| if over { band.hi - parts.load[q as usize] } else { parts.load[q as usize] - band.lo };
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut frontier: Vec<Vec<u32>> = vec![vec![p as u32]];
    for _ in 1..m {
        let mut next: Vec<Vec<u32>> = Vec::new();
        for grp in &frontier {
            let mut cands: Vec<u32> = grp.iter().flat_map(|&q| adj[q as usize].iter().copied()).filter(|q| !grp.contains(q)).collect();
            cands.sort_unstable();
            cands.dedup();
            cands.sort_by(|&a, &b| slack(b).total_cmp(&slack(a)).then(a.cmp(&b)));
            for c in cands.into_iter().take(GROUPS_PER_SIZE) {
                let mut ng = grp.clone();
                ng.push(c);
                let mut key = ng.clone();
                key.sort_unstable();
                if !next.iter().any(|x| {
                    let mut k = x.clone();
                    k.sort_unstable();
                    k == key
                }) {
                    next.push(ng);
                }
            }
        }
        next.truncate(GROUPS_PER_SIZE);
        frontier = next;
    }
    out.extend(frontier);
    out
}

/// Steps of the plateau search per unit of the region, and at most.
const WALK_STEPS_PER_UNIT: usize = 40;
const WALK_STEPS_MAX: usize = 20_000;

/// Last resort: a randomised walk over moves and swaps between neighbouring parts around the
/// parts out of band, accepting every step that does not raise their excess (so it can cross
/// plateaus) and now and then reshaping in-band neighbours to open new options. Keeps the best
/// division seen.
pub fn plateau_search(g: &LocalGraph, parts: &mut Parts, band: Band, rng: &mut Rng) -> bool {
    let excess_total = |parts: &Parts| -> f64 { (0..parts.len()).map(|p| band.excess(parts.load[p])).sum() };
    let mut best = excess_total(parts);
    if best == 0.0 {
        return true;
    }
    let mut best_parts = parts.part_of.clone();
    let mut members = parts.all_members();
    let neighbours_of = |members: &[Vec<u32>], parts: &Parts, a: usize| -> Vec<usize> {
        let mut out: Vec<usize> = members[a]
            .iter()
            .flat_map(|&u| g.neighbours(u as usize).iter().map(|&v| parts.part_of[v as usize] as usize))
            .filter(|&b| b != a)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    };
    let border = |members: &[Vec<u32>], parts: &Parts, a: usize, b: usize| -> Vec<usize> {
        members[a]
            .iter()
            .map(|&u| u as usize)
            .filter(|&u| g.neighbours(u).iter().any(|&v| parts.part_of[v as usize] as usize == b))
            .collect()
    };
    let relabel = |members: &mut [Vec<u32>], parts: &mut Parts, u: usize, to: usize| {
        let from = parts.part_of[u] as usize;
        members[from].retain(|&x| x as usize != u);
        members[to].push(u as u32);
        parts.assign(g, u, to as u32);
    };
    let steps = (WALK_STEPS_PER_UNIT * g.len()).min(WALK_STEPS_MAX);
    for _ in 0..steps {
        let violators: Vec<usize> = (0..parts.len()).filter(|&p| !band.holds(parts.load[p])).collect();
        if violators.is_empty() {
            break;
        }
        let mut p = violators[rng.below(violators.len())];
        let around = neighbours_of(&members, parts, p);
        if around.is_empty() {
            continue;
        }
        let mut q = around[rng.below(around.len())];
        // Now and then reshape the neighbourhood instead: a pair of parts next to p.
        if rng.next_f64() < 0.3 {
            let further = neighbours_of(&members, parts, q);
            if !further.is_empty() {
                p = q;
                q = further[rng.below(further.len())];
            }
        }
        let before = band.excess(parts.load[p]) + band.excess(parts.load[q]);
        let (pq, qp) = (border(&members, parts, p, q), border(&members, parts, q, p));
        let mut options: Vec<(f64, Option<usize>, Option<usize>)> = Vec::new();
        for &u in &pq {
            let d = band.excess(parts.load[p] - g.weight[u]) + band.excess(parts.load[q] + g.weight[u]) - before;
            options.push((d, Some(u), None));
        }
        for &v in &qp {
            let d = band.excess(parts.load[p] + g.weight[v]) + band.excess(parts.load[q] - g.weight[v]) - before;
            options.push((d, None, Some(v)));
        }
        for &u in &pq {
            for &v in &qp {
                let dw = g.weight[v] - g.weight[u];
                let d = band.excess(parts.load[p] + dw) + band.excess(parts.load[q] - dw) - before;
                options.push((d, Some(u), Some(v)));
            }
        }
        options.retain(|o| o.0 <= Band::EPS);
        if options.is_empty() {
            continue;
        }
        let least = options.iter().map(|o| o.0).fold(f64::INFINITY, f64::min);
        let pick: Vec<&(f64, Option<usize>, Option<usize>)> =
            options.iter().filter(|o| o.0 <= least + Band::EPS || rng.next_f64() < 0.2).collect();
        let &(_, u, v) = pick[rng.below(pick.len())];
        if let Some(u) = u {
            relabel(&mut members, parts, u, q);
        }
        if let Some(v) = v {
            relabel(&mut members, parts, v, p);
        }
        let ok = parts.size[p] > 0 && parts.size[q] > 0 && part_connected(g, parts, p as u32) && part_connected(g, parts, q as u32);
        if !ok {
            if let Some(v) = v {
                relabel(&mut members, parts, v, q);
            }
            if let Some(u) = u {
                relabel(&mut members, parts, u, p);
            }
            continue;
        }
        let now = excess_total(parts);
        if now < best - Band::EPS {
            best = now;
            best_parts.clone_from(&parts.part_of);
            if best == 0.0 {
                break;
            }
        }
    }
    if parts.part_of != best_parts {
        *parts = Parts::from_labels(g, best_parts, parts.len());
    }
    best == 0.0
}
