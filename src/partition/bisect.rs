//! Initial division by recursive bisection. A set that must become `k` grids is cut into two
//! connected sides that will become ⌊k/2⌋ and ⌈k/2⌉ grids, with the first side's households in the
//! range that keeps both sides feasible. Cuts are swept along several directions (growing a
//! connected side in order of projection) and the most compact valid cut wins, so the parts
//! are connected by construction and within bounds whenever every cut found a valid position.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo::Coord;

use super::region::{Band, LocalGraph};
use crate::rng::Rng;

/// Sweep directions tried per cut (evenly spread over 180°, starting at the principal axis).
const DIRECTIONS: usize = 4;
/// Cut positions tried per sweep when the remainder is not connected.
const TRIES_PER_SWEEP: usize = 12;
/// Sets at least this large are split in parallel.
const PARALLEL_MIN: usize = 4096;

/// Result of the recursive bisection.
#[derive(Debug, Clone)]
pub struct Bisection {
    /// Part (0..k) of each local unit.
    pub part_of: Vec<u32>,
    /// Number of parts produced (k, or fewer when a set could not be cut).
    pub parts: usize,
    /// False when some cut had no position keeping both sides feasible.
    pub clean: bool,
}

/// A connected set of units with its own compact adjacency (indices into `ids`).
struct Sub {
    ids: Vec<u32>,
    w: Vec<f64>,
    pos: Vec<Coord<f64>>,
    off: Vec<u32>,
    tgt: Vec<u32>,
}

impl Sub {
    fn root(g: &LocalGraph) -> Sub {
        Sub {
            ids: (0..g.len() as u32).collect(),
            w: g.weight.clone(),
            pos: g.pos.clone(),
            off: g.offsets.clone(),
            tgt: g.targets.clone(),
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn nb(&self, u: usize) -> &[u32] {
        &self.tgt[self.off[u] as usize..self.off[u + 1] as usize]
    }

    /// The induced subset of members with `keep[u] == side`.
    fn child(&self, keep: &[bool], side: bool) -> Sub {
        let mut map = vec![u32::MAX; self.len()];
        let mut c = Sub { ids: Vec::new(), w: Vec::new(), pos: Vec::new(), off: vec![0], tgt: Vec::new() };
        for u in 0..self.len() {
            if keep[u] == side {
                map[u] = c.ids.len() as u32;
                c.ids.push(self.ids[u]);
                c.w.push(self.w[u]);
                c.pos.push(self.pos[u]);
            }
        }
        for u in 0..self.len() {
            if keep[u] == side {
                for &v in self.nb(u) {
                    if map[v as usize] != u32::MAX {
                        c.tgt.push(map[v as usize]);
                    }
                }
                c.off.push(c.tgt.len() as u32);
            }
        }
        c
    }
}

/// Divides the whole of `g` (connected) into `k` parts within `band`.
pub fn bisect(g: &LocalGraph, k: usize, band: Band, rng: &mut Rng) -> Bisection {
    let jitter = rng.next_f64();
    let root = Sub::root(g);
    let (parts, clean) = split_recursive(root, k.max(1), band, jitter);
    let mut part_of = vec![0u32; g.len()];
    for (p, members) in parts.iter().enumerate() {
        for &u in members {
            part_of[u as usize] = p as u32;
        }
    }
    Bisection { part_of, parts: parts.len(), clean }
}

fn split_recursive(sub: Sub, k: usize, band: Band, jitter: f64) -> (Vec<Vec<u32>>, bool) {
    if k <= 1 || sub.len() <= 1 {
        return (vec![sub.ids], k <= 1);
    }
    let k1 = k / 2;
    let k2 = k - k1;
    let Some((side, clean)) = best_cut(&sub, k1, k2, band, jitter) else {
        return (vec![sub.ids], false);
    };
    let left = sub.child(&side, true);
    let right = sub.child(&side, false);
    let big = sub.len() >= PARALLEL_MIN;
    drop(sub);
    let ((mut a, ca), (b, cb)) = if big {
        rayon::join(|| split_recursive(left, k1, band, jitter), || split_recursive(right, k2, band, jitter))
    } else {
        (split_recursive(left, k1, band, jitter), split_recursive(right, k2, band, jitter))
    };
    a.extend(b);
    (a, clean && ca && cb)
}

#[derive(PartialEq, PartialOrd)]
struct Key(f64);
impl Eq for Key {}
impl Ord for Key {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// The angle of the weighted principal axis of the set.
fn principal_angle(sub: &Sub) -> f64 {
    let (mut sw, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (p, &w) in sub.pos.iter().zip(&sub.w) {
        let w = w + 1e-3;
        sw += w;
        mx += w * p.x;
        my += w * p.y;
    }
    mx /= sw;
    my /= sw;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (p, &w) in sub.pos.iter().zip(&sub.w) {
        let w = w + 1e-3;
        let (dx, dy) = (p.x - mx, p.y - my);
        sxx += w * dx * dx;
        syy += w * dy * dy;
        sxy += w * dx * dy;
    }
    0.5 * (2.0 * sxy).atan2(sxx - syy)
}

/// Order in which a connected side grows from the lowest projection on `dir`.
fn sweep_order(sub: &Sub, dir: Coord<f64>) -> Vec<u32> {
    let n = sub.len();
    let t: Vec<f64> = sub.pos.iter().map(|p| p.x * dir.x + p.y * dir.y).collect();
    let start = (0..n).min_by(|&a, &b| t[a].total_cmp(&t[b]).then(a.cmp(&b))).unwrap();
    let mut queued = vec![false; n];
    let mut heap = BinaryHeap::new();
    let mut order = Vec::with_capacity(n);
    queued[start] = true;
    heap.push(Reverse((Key(t[start]), start as u32)));
    while let Some(Reverse((_, u))) = heap.pop() {
        order.push(u);
        for &v in sub.nb(u as usize) {
            if !queued[v as usize] {
                queued[v as usize] = true;
                heap.push(Reverse((Key(t[v as usize]), v)));
            }
        }
    }
    order
}

/// Weighted inertia (sum of w·squared distance to the weighted mean) of the units with `side[u] == s`.
fn inertia(sub: &Sub, side: &[bool], s: bool) -> f64 {
    let (mut sw, mut sx, mut sy, mut sq) = (0.0, 0.0, 0.0, 0.0);
    for u in 0..sub.len() {
        if side[u] == s {
            let w = sub.w[u] + 1e-3;
            let p = sub.pos[u];
            sw += w;
            sx += w * p.x;
            sy += w * p.y;
            sq += w * (p.x * p.x + p.y * p.y);
        }
    }
    if sw == 0.0 {
        0.0
    } else {
        sq - (sx * sx + sy * sy) / sw
    }
}

/// Side 1 = `order[..j]` plus every piece of the remainder cut off from its heaviest piece.
/// Returns the side mask and side 1's households.
fn close_cut(sub: &Sub, order: &[u32], j: usize) -> (Vec<bool>, f64) {
    let n = sub.len();
    let mut side = vec![false; n];
    let mut w1 = 0.0;
    for &u in &order[..j] {
        side[u as usize] = true;
        w1 += sub.w[u as usize];
    }
    // Pieces of the remainder.
    let mut piece = vec![u32::MAX; n];
    let mut pieces: Vec<(f64, Vec<u32>)> = Vec::new();
    for &s in &order[j..] {
        if piece[s as usize] != u32::MAX {
            continue;
        }
        let id = pieces.len() as u32;
        let mut members = vec![s];
        piece[s as usize] = id;
        let mut k = 0;
        let mut w = 0.0;
        while k < members.len() {
            let u = members[k] as usize;
            k += 1;
            w += sub.w[u];
            for &v in sub.nb(u) {
                if !side[v as usize] && piece[v as usize] == u32::MAX {
                    piece[v as usize] = id;
                    members.push(v);
                }
            }
        }
        pieces.push((w, members));
    }
    if pieces.len() > 1 {
        let keep = (0..pieces.len())
            .max_by(|&a, &b| pieces[a].0.total_cmp(&pieces[b].0).then(pieces[a].1.len().cmp(&pieces[b].1.len())).then(b.cmp(&a)))
            .unwrap();
        for (i, (w, members)) in pieces.iter().enumerate() {
            if i != keep {
                w1 += w;
                for &u in members {
                    side[u as usize] = true;
                }
            }
        }
    }
    (side, w1)
}

/// The most compact cut of `sub` into sides for k1 and k2 grids. The flag is false when no cut
/// keeps both sides feasible (the least infeasible one is returned then).
fn best_cut(sub: &Sub, k1: usize, k2: usize, band: Band, jitter: f64) -> Option<(Vec<bool>, bool)> {
    let n = sub.len();
    let total: f64 = sub.w.iter().sum();
    let k = (k1 + k2) as f64;
    let lo = (k1 as f64 * band.lo).max(total - k2 as f64 * band.hi);
    let hi = (k1 as f64 * band.hi).min(total - k2 as f64 * band.lo);
    let feasible = lo <= hi + Band::EPS;
    let ideal = if feasible { (total * k1 as f64 / k).clamp(lo, hi) } else { total * k1 as f64 / k };
    let violation = |w1: f64| if w1 < lo - Band::EPS { lo - w1 } else if w1 > hi + Band::EPS { w1 - hi } else { 0.0 };

    let theta0 = principal_angle(sub) + jitter * std::f64::consts::PI / DIRECTIONS as f64 * 0.5;
    // (violation, score, side)
    let mut best: Option<(f64, f64, Vec<bool>)> = None;
    for d in 0..DIRECTIONS {
        let a = theta0 + d as f64 * std::f64::consts::PI / DIRECTIONS as f64;
        for sign in [1.0, -1.0] {
            let dir = Coord { x: sign * a.cos(), y: sign * a.sin() };
            let order = sweep_order(sub, dir);
            if order.len() < n {
                return None; // not connected: cannot happen for a region
            }
            let mut prefix = Vec::with_capacity(n + 1);
            prefix.push(0.0);
            for &u in &order {
                prefix.push(prefix.last().unwrap() + sub.w[u as usize]);
            }
            // Cut positions 1..n-1 ordered by closeness to the ideal (in range first).
            let mut cands: Vec<usize> = (1..n).collect();
            cands.sort_by(|&x, &y| {
                (violation(prefix[x]), (prefix[x] - ideal).abs(), x)
                    .partial_cmp(&(violation(prefix[y]), (prefix[y] - ideal).abs(), y))
                    .unwrap()
            });
            for &j in cands.iter().take(TRIES_PER_SWEEP) {
                let (side, w1) = close_cut(sub, &order, j);
                if side.iter().all(|&s| s) {
                    continue;
                }
                let v = violation(w1);
                let score = inertia(sub, &side, true) + inertia(sub, &side, false);
                let better = match &best {
                    None => true,
                    Some((bv, bs, _)) => v < *bv - Band::EPS || (v <= *bv + Band::EPS && score < *bs),
                };
                if better {
                    best = Some((v, score, side));
                }
                if v == 0.0 {
                    break; // the closest valid position of this sweep
                }
            }
        }
    }
    best.map(|(v, _, side)| (side, feasible && v == 0.0))
}
