//! Whole blocks: moves a block fragment (the units of one part in one block, connected within
//! the block) to a neighbouring part, or swaps it with a fragment of that part, when that lowers
//! the local search's objective (weighted walks plus the boundary off the streets) and keeps
//! every rule. Single-unit moves cannot take a split block back whole: the first unit to move
//! opens more boundary than it closes. Fragments are taken in a fixed order (no randomness), and
//! each accepted move lowers the objective, so the search ends.

use rustc_hash::FxHashMap as HashMap;

use super::medoid::weighted_medoid;
use super::region::{Band, LocalGraph, Parts, Rules};
use crate::graph::NONE;
use crate::pieces::pieces;

/// Fragments of more units than this are not moved (the move would be a re-division).
const MAX_FRAGMENT_UNITS: usize = 400;

/// A fragment: units of one part, connected within one block.
struct Fragment {
    units: Vec<u32>,
    part: u32,
    weight: f64,
}

/// Runs up to `passes` passes of fragment moves and swaps; returns the number made. Needs the
/// blocks of the units (`g.block`) and a boundary weight; otherwise does nothing.
pub fn keep_blocks_whole(g: &LocalGraph, parts: &mut Parts, rules: &Rules, passes: usize) -> usize {
    let n = g.len();
    let k = parts.len();
    if k < 2 || g.block.len() != n || rules.boundary_weight <= 0.0 {
        return 0;
    }
    let mean_w = (g.cost.iter().sum::<f64>() / n.max(1) as f64).max(1e-3);
    let search = Search { g, rules, eps_w: 1e-3 * mean_w };
    let mut members = parts.all_members();
    let mut s = Scratch { new_part: vec![u32::MAX; n], seen: vec![false; n], stack: Vec::new() };
    let mut made = 0;
    for _ in 0..passes {
        let fragments = fragments(g, parts);
        let mut by_part: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (f, fr) in fragments.iter().enumerate() {
            by_part[fr.part as usize].push(f as u32);
        }
        let mut pieces_in_block: HashMap<u32, u32> = HashMap::default();
        for fr in &fragments {
            *pieces_in_block.entry(g.block[fr.units[0] as usize]).or_default() += 1;
        }
        // Fragments of split blocks, lightest first.
        let split = |fr: &Fragment| pieces_in_block[&g.block[fr.units[0] as usize]] > 1;
        let mut order: Vec<u32> = (0..fragments.len() as u32).filter(|&f| split(&fragments[f as usize])).collect();
        order.sort_by(|&a, &b| fragments[a as usize].weight.total_cmp(&fragments[b as usize].weight).then(a.cmp(&b)));
        let mut touched = vec![false; k];
        let mut moved = 0;
        for &f in &order {
            let fr = &fragments[f as usize];
            let p = fr.part as usize;
            if touched[p] || fr.units.len() > MAX_FRAGMENT_UNITS || fr.units.contains(&parts.centre[p]) {
                continue;
            }
            let carried = with_stranded(g, parts, &members[p], &fr.units, &mut s);
            if carried.len() > MAX_FRAGMENT_UNITS {
                continue;
            }
            let Some(best) = search.best_exchange(parts, fr, &carried, &fragments, &by_part, &touched, &mut s) else { continue };
            let q = best.to as usize;
            for &u in &carried {
                parts.assign(g, u as usize, q as u32);
            }
            let back: &[u32] = best.back.map_or(&[], |b| &fragments[b as usize].units);
            for &u in back {
                parts.assign(g, u as usize, p as u32);
            }
            for (part, coming) in [(p, back), (q, &carried[..])] {
                members[part].retain(|&u| parts.part_of[u as usize] as usize == part);
                members[part].extend_from_slice(coming);
                members[part].sort_unstable();
                parts.centre[part] = weighted_medoid(g, &members[part], rules.max_walk);
                touched[part] = true;
            }
            moved += 1;
        }
        made += moved;
        if moved == 0 {
            break;
        }
    }
    made
}

/// The units of `fragment` and those of its part that only reach the part's centre through
/// it: they go where the fragment goes, or would be cut off. Ascending.
fn with_stranded(g: &LocalGraph, parts: &Parts, members: &[u32], fragment: &[u32], s: &mut Scratch) -> Vec<u32> {
    let p = parts.part_of[fragment[0] as usize];
    for &u in fragment {
        s.new_part[u as usize] = u32::MAX - 1;
    }
    let new_part = &s.new_part;
    let visited = flood(g, parts.centre[p as usize], &mut s.seen, &mut s.stack, |v| new_part[v] == u32::MAX && parts.part_of[v] == p);
    let carried: Vec<u32> = members.iter().copied().filter(|&u| !s.seen[u as usize]).collect();
    for v in visited {
        s.seen[v as usize] = false;
    }
    for &u in fragment {
        s.new_part[u as usize] = u32::MAX;
    }
    carried
}

/// Fragments of every block: pieces of units linked by adjacencies within one block and one
/// part. Units without a block belong to none.
fn fragments(g: &LocalGraph, parts: &Parts) -> Vec<Fragment> {
    let (_, all) = pieces(
        g.len(),
        |u| g.block[u] != NONE,
        |u, visit| {
            for &v in g.neighbours(u) {
                let v = v as usize;
                if g.block[v] == g.block[u] && parts.part_of[v] == parts.part_of[u] {
                    visit(v);
                }
            }
        },
    );
    all.into_iter()
        .map(|units| {
            let weight = units.iter().map(|&u| g.weight[u as usize]).sum();
            Fragment { part: parts.part_of[units[0] as usize], units, weight }
        })
        .collect()
}

/// Buffers reused across evaluations.
struct Scratch {
    /// Tentative part of each unit of the move being evaluated (`u32::MAX`: unchanged).
    new_part: Vec<u32>,
    seen: Vec<bool>,
    stack: Vec<u32>,
}

/// The best improving exchange found for one fragment.
struct Exchange {
    /// Part the fragment goes to.
    to: u32,
    /// Fragment of that part coming back in exchange, if any.
    back: Option<u32>,
}

/// What every evaluation needs.
struct Search<'a> {
    g: &'a LocalGraph,
    rules: &'a Rules,
    /// Walk weight every unit gets on top of its own, as in the unit moves.
    eps_w: f64,
}

/// Units going from one part to another.
struct Group<'a> {
    units: &'a [u32],
    from: u32,
    to: u32,
}

impl Search<'_> {
    /// The best exchange for fragment `fr` (moving with `carried`, the fragment and the units
    /// that depend on it): a move to a neighbouring part, or a swap with one of that part's
    /// fragments next to `fr`'s part; None when no exchange lowers the objective.
    #[allow(clippy::too_many_arguments)]
    fn best_exchange(&self, parts: &Parts, fr: &Fragment, carried: &[u32], fragments: &[Fragment], by_part: &[Vec<u32>], touched: &[bool], s: &mut Scratch) -> Option<Exchange> {
        let g = self.g;
        let p = fr.part;
        let weight: f64 = carried.iter().map(|&u| g.weight[u as usize]).sum();
        let mut targets: Vec<u32> = fr.units.iter().flat_map(|&u| g.neighbours(u as usize).iter().map(|&v| parts.part_of[v as usize])).filter(|&q| q != p).collect();
        targets.sort_unstable();
        targets.dedup();
        let band = self.rules.band;
        let mut best: Option<(f64, Exchange)> = None;
        let mut consider = |delta: Option<f64>, ex: Exchange| {
            if let Some(delta) = delta.filter(|&d| d < -1e-9) {
                if best.as_ref().is_none_or(|(bd, _)| delta < *bd) {
                    best = Some((delta, ex));
                }
            }
        };
        for &q in &targets {
            if touched[q as usize] {
                continue;
            }
            let (lp, lq) = (parts.load[p as usize], parts.load[q as usize]);
            let out = Group { units: carried, from: p, to: q };
            if fits(band, lp, lp - weight) && fits(band, lq, lq + weight) {
                consider(self.evaluate(parts, &[out], s), Exchange { to: q, back: None });
            }
            for &b in &by_part[q as usize] {
                let back = &fragments[b as usize];
                let (np, nq) = (lp - weight + back.weight, lq + weight - back.weight);
                if back.units.len() > MAX_FRAGMENT_UNITS || !fits(band, lp, np) || !fits(band, lq, nq) || back.units.contains(&parts.centre[q as usize]) {
                    continue;
                }
                let next_to_p = back.units.iter().any(|&u| g.neighbours(u as usize).iter().any(|&v| parts.part_of[v as usize] == p));
                if next_to_p {
                    let out = Group { units: carried, from: p, to: q };
                    let swap = [out, Group { units: &back.units, from: q, to: p }];
                    consider(self.evaluate(parts, &swap, s), Exchange { to: q, back: Some(b) });
                }
            }
        }
        best.map(|(_, ex)| ex)
    }

    /// Change of the objective when each group goes to its part, at the current centres; None
    /// when a rule would break (the walking limit, or a part left disconnected).
    fn evaluate(&self, parts: &Parts, groups: &[Group], s: &mut Scratch) -> Option<f64> {
        let g = self.g;
        for m in groups {
            for &u in m.units {
                s.new_part[u as usize] = m.to;
            }
        }
        let part = |s: &Scratch, v: usize| if s.new_part[v] != u32::MAX { s.new_part[v] } else { parts.part_of[v] };
        let mut delta = 0.0;
        let mut allowed = true;
        'units: for m in groups {
            let (c_old, c_new) = (parts.centre[m.from as usize] as usize, parts.centre[m.to as usize] as usize);
            for &u in m.units {
                let u = u as usize;
                let (d_old, d_new) = (g.d(u, c_old), g.d(u, c_new));
                if self.rules.max_walk.is_some_and(|limit| d_new > limit + 1e-9 && d_new >= d_old) {
                    allowed = false;
                    break 'units;
                }
                delta += (g.cost[u] + self.eps_w) * (d_new - d_old);
                for e in g.offsets[u] as usize..g.offsets[u + 1] as usize {
                    let v = g.targets[e] as usize;
                    if s.new_part[v] != u32::MAX && v < u {
                        continue; // both ends move: counted once, from the lower end
                    }
                    let off = g.off_street.get(e).copied().unwrap_or(0.0);
                    let was = parts.part_of[u] != parts.part_of[v];
                    let now = part(s, u) != part(s, v);
                    delta += self.rules.boundary_weight * off * (now as i32 - was as i32) as f64;
                }
            }
        }
        if allowed && self.rules.contiguity {
            let mut changed: Vec<u32> = groups.iter().flat_map(|m| [m.from, m.to]).collect();
            changed.sort_unstable();
            changed.dedup();
            allowed = changed.iter().all(|&q| {
                let coming: usize = groups.iter().filter(|m| m.to == q).map(|m| m.units.len()).sum();
                let leaving: usize = groups.iter().filter(|m| m.from == q).map(|m| m.units.len()).sum();
                connected_after(g, parts, q, parts.size[q as usize] as usize + coming - leaving, s)
            });
        }
        for m in groups {
            for &u in m.units {
                s.new_part[u as usize] = u32::MAX;
            }
        }
        allowed.then_some(delta)
    }
}

/// True when the `expected` units that part `q` holds after the tentative move (`s.new_part`)
/// are connected. Its centre stays in it (moved fragments never hold a centre), so the search
/// starts there.
fn connected_after(g: &LocalGraph, parts: &Parts, q: u32, expected: usize, s: &mut Scratch) -> bool {
    let new_part = &s.new_part;
    let in_q = |v: usize| if new_part[v] != u32::MAX { new_part[v] == q } else { parts.part_of[v] == q };
    let start = parts.centre[q as usize];
    if !in_q(start as usize) {
        return false;
    }
    let visited = flood(g, start, &mut s.seen, &mut s.stack, in_q);
    let reached = visited.len();
    for v in visited {
        s.seen[v as usize] = false;
    }
    reached == expected
}

/// Units reached from `start` through adjacencies to units that `admits` accepts, `start`
/// first; they are left marked in `seen` (the caller clears them).
fn flood(g: &LocalGraph, start: u32, seen: &mut [bool], stack: &mut Vec<u32>, admits: impl Fn(usize) -> bool) -> Vec<u32> {
    let mut visited = vec![start];
    seen[start as usize] = true;
    stack.clear();
    stack.push(start);
    while let Some(x) = stack.pop() {
        for &v in g.neighbours(x as usize) {
            if !seen[v as usize] && admits(v as usize) {
                seen[v as usize] = true;
                visited.push(v);
                stack.push(v);
            }
        }
    }
    visited
}

/// True when a part's load going from `old` to `new` keeps the band's rule: a part may lose
/// households down to the lower bound and gain them up to the upper one.
fn fits(band: Band, old: f64, new: f64) -> bool {
    if new > old {
        new <= band.hi + Band::EPS
    } else {
        new >= band.lo - Band::EPS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::Metric;
    use crate::graph::{Unit, UnitGraph};
    use geo::Coord;

    /// A `w`×`h` lattice of units 10 m apart with 40 households each; `block(x, y)` numbers
    /// the blocks; boundaries between blocks run on streets (no length off the streets).
    fn town(w: usize, h: usize, block: impl Fn(usize, usize) -> u32) -> LocalGraph {
        let units = (0..w * h)
            .map(|i| Unit { buildings: vec![i as u32], households: 40.0, cost_weight: 40.0, position: Coord { x: (i % w) as f64 * 10.0, y: (i / w) as f64 * 10.0 }, block: block(i % w, i / w) })
            .collect();
        let mut edges = Vec::new();
        for i in 0..w * h {
            if i % w + 1 < w {
                edges.push((i as u32, i as u32 + 1));
            }
            if i / w + 1 < h {
                edges.push((i as u32, (i + w) as u32));
            }
        }
        let mut g = LocalGraph::induced(&UnitGraph::from_edges(units, &edges), &(0..(w * h) as u32).collect::<Vec<_>>(), &Metric::default());
        for u in 0..g.len() {
            for e in g.offsets[u] as usize..g.offsets[u + 1] as usize {
                if g.block[u] != g.block[g.targets[e] as usize] {
                    g.off_street[e] = 0.0;
                }
            }
        }
        g
    }

    fn parts_of(g: &LocalGraph, w: usize, part: impl Fn(usize, usize) -> u32) -> Parts {
        Parts::from_labels(g, (0..g.len()).map(|i| part(i % w, i / w)).collect(), 2)
    }

    /// Walks plus `weight` per metre of boundary off the streets.
    fn objective(g: &LocalGraph, parts: &Parts, weight: f64) -> f64 {
        let mut off = 0.0;
        for u in 0..g.len() {
            for e in g.offsets[u] as usize..g.offsets[u + 1] as usize {
                let v = g.targets[e] as usize;
                if u < v && parts.part_of[u] != parts.part_of[v] {
                    off += g.off_street[e];
                }
            }
        }
        parts.cost(g) + weight * off
    }

    fn blocks_split(g: &LocalGraph, parts: &Parts) -> usize {
        let mut seen: HashMap<u32, u32> = HashMap::default();
        let mut split = std::collections::BTreeSet::new();
        for u in 0..g.len() {
            if *seen.entry(g.block[u]).or_insert(parts.part_of[u]) != parts.part_of[u] {
                split.insert(g.block[u]);
            }
        }
        split.len()
    }

    /// Every rule and the contract: bounds held, parts connected, objective not higher.
    fn assert_rules(g: &LocalGraph, parts: &Parts, rules: &Rules, before: f64) {
        assert!(parts.load.iter().all(|&l| rules.band.holds(l)), "loads {:?}", parts.load);
        assert!(parts.all_connected(g));
        assert!(objective(g, parts, rules.boundary_weight) < before, "objective rose");
        let fresh = Parts::from_labels(g, parts.part_of.clone(), parts.len());
        assert_eq!(fresh.load, parts.load);
        assert_eq!(fresh.size, parts.size);
    }

    fn rules(lo: f64, hi: f64) -> Rules {
        Rules { band: Band { lo, hi }, contiguity: true, max_walk: None, boundary_weight: 50.0 }
    }

    #[test]
    fn a_fragment_across_the_street_joins_the_rest_of_its_block() {
        // Blocks: x < 4 and x ≥ 4. Part 0 holds its block and the first column of the other.
        let g = town(8, 2, |x, _| (x >= 4) as u32);
        let mut parts = parts_of(&g, 8, |x, _| (x > 4) as u32);
        let rules = rules(300.0, 500.0);
        let before = objective(&g, &parts, rules.boundary_weight);
        assert_eq!(blocks_split(&g, &parts), 1);
        assert!(keep_blocks_whole(&g, &mut parts, &rules, 10) > 0);
        assert_eq!(blocks_split(&g, &parts), 0);
        assert_rules(&g, &parts, &rules, before);
    }

    #[test]
    fn fragments_are_swapped_when_a_move_alone_would_break_the_bounds() {
        // 8×3, blocks x < 4 and x ≥ 4; part 1 holds (3,0) of the first block, part 0 holds
        // (4,2) of the second; bounds 480–480 allow no single move.
        let g = town(8, 3, |x, _| (x >= 4) as u32);
        let mut parts = parts_of(&g, 8, |x, y| match (x, y) {
            (3, 0) => 1,
            (4, 2) => 0,
            _ => (x >= 4) as u32,
        });
        let rules = rules(480.0, 480.0);
        let before = objective(&g, &parts, rules.boundary_weight);
        assert!(parts.all_connected(&g));
        assert_eq!(blocks_split(&g, &parts), 2);
        assert_eq!(keep_blocks_whole(&g, &mut parts, &rules, 10), 1);
        assert_eq!(blocks_split(&g, &parts), 0);
        assert_rules(&g, &parts, &rules, before);
    }

    #[test]
    fn units_reached_only_through_the_fragment_go_with_it() {
        // Blocks x < 4, x ≥ 4, and (5,1) a block of its own, which part 0 reaches only through
        // its fragment of the second block, (4,0) and (4,1).
        let g = town(8, 2, |x, y| if (x, y) == (5, 1) { 2 } else { (x >= 4) as u32 });
        let mut parts = parts_of(&g, 8, |x, y| (x > 4 && (x, y) != (5, 1)) as u32);
        let rules = rules(300.0, 500.0);
        let before = objective(&g, &parts, rules.boundary_weight);
        assert!(parts.all_connected(&g));
        assert!(keep_blocks_whole(&g, &mut parts, &rules, 10) > 0);
        assert_eq!(blocks_split(&g, &parts), 0);
        assert_eq!(parts.part_of[8 + 5], parts.part_of[8 + 4], "the unit of its own block followed the fragment");
        assert_rules(&g, &parts, &rules, before);
    }

    #[test]
    fn without_blocks_or_weight_nothing_moves() {
        let g = town(8, 2, |_, _| NONE);
        let mut parts = parts_of(&g, 8, |x, _| (x > 4) as u32);
        assert_eq!(keep_blocks_whole(&g, &mut parts, &rules(300.0, 500.0), 10), 0);
        let g = town(8, 2, |x, _| (x >= 4) as u32);
        assert_eq!(keep_blocks_whole(&g, &mut parts, &Rules { boundary_weight: 0.0, ..rules(300.0, 500.0) }, 10), 0);
    }
}
