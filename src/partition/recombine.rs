//! Recombination: two neighbouring grids are merged and divided again in the best possible way
//! (exhaustively, by the exact subset search), keeping bounds, contiguity and the walking limit.
//! A pass over all neighbouring pairs is repeated while it improves; each accepted change lowers
//! the objective, so it ends.

use super::exact::{self, Exact};
use super::medoid::weighted_medoid;
use super::region::{LocalGraph, Parts, Rules};
use crate::rng::Rng;

/// Work budget of one pair's exact division.
const PAIR_BUDGET: usize = 200_000;
/// Pairs of up to this many units are divided again (the subset search stays cheap).
const PAIR_MAX_UNITS: usize = 16;

/// Cost of part `members` around its best centre.
fn part_cost(g: &LocalGraph, members: &[u32], rules: &Rules) -> (f64, u32) {
    let c = weighted_medoid(g, members, rules.max_walk);
    (members.iter().map(|&u| g.cost[u as usize] * g.d(u as usize, c as usize)).sum(), c)
}

/// Runs up to `passes` passes over the neighbouring pairs; returns the improvements made.
pub fn recombine(g: &LocalGraph, parts: &mut Parts, rules: &Rules, passes: usize, rng: &mut Rng) -> usize {
    if !rules.contiguity || parts.len() < 2 {
        return 0;
    }
    let mut improvements = 0;
    // Pairs whose last exact division found nothing better are skipped until one side changes.
    let mut stale: rustc_hash::FxHashSet<(u32, u32)> = rustc_hash::FxHashSet::default();
    for _ in 0..passes {
        let mut members = parts.all_members();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for u in 0..g.len() {
            let a = parts.part_of[u];
            for &v in g.neighbours(u) {
                let b = parts.part_of[v as usize];
                if a < b {
                    pairs.push((a, b));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        rng.shuffle(&mut pairs);
        let mut changed = 0;
        for (a, b) in pairs {
            if stale.contains(&(a, b)) {
                continue;
            }
            let (ma, mb) = (&members[a as usize], &members[b as usize]);
            if ma.len() + mb.len() > PAIR_MAX_UNITS {
                continue;
            }
            let units: Vec<u32> = ma.iter().chain(mb.iter()).copied().collect();
            let now = part_cost(g, ma, rules).0 + part_cost(g, mb, rules).0;
            let sub = g.restricted(&units);
            let Exact::Found(split) = exact::solve(&sub, 2, rules.band, rules.max_walk, PAIR_BUDGET) else {
                stale.insert((a, b));
                continue;
            };
            let new_a: Vec<u32> = units.iter().zip(&split).filter(|(_, &s)| s == 0).map(|(&u, _)| u).collect();
            let new_b: Vec<u32> = units.iter().zip(&split).filter(|(_, &s)| s == 1).map(|(&u, _)| u).collect();
            let (ca, cen_a) = part_cost(g, &new_a, rules);
            let (cb, cen_b) = part_cost(g, &new_b, rules);
            if ca + cb < now - 1e-9 * now.max(1.0) {
                for &u in &new_a {
                    parts.assign(g, u as usize, a);
                }
                for &u in &new_b {
                    parts.assign(g, u as usize, b);
                }
                parts.centre[a as usize] = cen_a;
                parts.centre[b as usize] = cen_b;
                members[a as usize] = new_a;
                members[b as usize] = new_b;
                stale.retain(|&(x, y)| x != a && y != a && x != b && y != b);
                changed += 1;
            } else {
                stale.insert((a, b));
            }
        }
        improvements += changed;
        if changed == 0 {
            break;
        }
    }
    improvements
}

/// Pairs until they stop improving, then a pass of triples; again while the triples improve.
pub fn recombine_all(g: &LocalGraph, parts: &mut Parts, rules: &Rules, passes: usize, with_triples: bool, rng: &mut Rng) -> usize {
    if !rules.contiguity || parts.len() < 2 {
        return 0;
    }
    let mut total = 0;
    for _ in 0..passes.max(1) {
        total += recombine(g, parts, rules, passes, rng);
        if !with_triples {
            break;
        }
        let t = triples(g, parts, rules, rng);
        total += t;
        if t == 0 {
            break;
        }
    }
    total
}

/// Units of three neighbouring grids at most, for the triple recombination.
const TRIPLE_MAX_UNITS: usize = 15;

/// One pass over connected triples of grids, each divided again exactly into three.
fn triples(g: &LocalGraph, parts: &mut Parts, rules: &Rules, rng: &mut Rng) -> usize {
    let k = parts.len();
    let mut members = parts.all_members();
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
    let mut triples: Vec<[u32; 3]> = Vec::new();
    for a in 0..k as u32 {
        for &b in &adj[a as usize] {
            if b <= a {
                continue;
            }
            let mut third: Vec<u32> = adj[a as usize].iter().chain(adj[b as usize].iter()).copied().filter(|&c| c > b).collect();
            third.sort_unstable();
            third.dedup();
            for c in third {
                triples.push([a, b, c]);
            }
        }
    }
    rng.shuffle(&mut triples);
    let mut changed = 0;
    let mut touched = vec![false; k];
    for t in triples {
        if t.iter().any(|&p| touched[p as usize]) {
            continue;
        }
        let units: Vec<u32> = t.iter().flat_map(|&p| members[p as usize].iter().copied()).collect();
        if units.len() > TRIPLE_MAX_UNITS {
            continue;
        }
        let now: f64 = t.iter().map(|&p| part_cost(g, &members[p as usize], rules).0).sum();
        let sub = g.restricted(&units);
        let Exact::Found(split) = exact::solve(&sub, 3, rules.band, rules.max_walk, PAIR_BUDGET) else { continue };
        let new: Vec<Vec<u32>> = (0..3).map(|s| units.iter().zip(&split).filter(|(_, &x)| x == s as u32).map(|(&u, _)| u).collect()).collect();
        let costs: Vec<(f64, u32)> = new.iter().map(|m| part_cost(g, m, rules)).collect();
        if costs.iter().map(|c| c.0).sum::<f64>() < now - 1e-9 * now.max(1.0) {
            for (i, &p) in t.iter().enumerate() {
                for &u in &new[i] {
                    parts.assign(g, u as usize, p);
                }
                parts.centre[p as usize] = costs[i].1;
                members[p as usize] = new[i].clone();
                touched[p as usize] = true;
            }
            changed += 1;
        }
    }
    changed
}
