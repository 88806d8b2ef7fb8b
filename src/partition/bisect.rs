//! Initial division by recursive bisection. A connected set that must become `k` grids is cut
//! into two connected sides that will become ⌊k/2⌋ and ⌈k/2⌉ grids, the first side's households
//! within the range that keeps both sides feasible. Candidate cuts come from sweeps along
//! several directions (a side grown in order of projection), from edge cuts of random
//! geometric spanning trees, and, for small sets, from enumerating every split. The most
//! compact candidate whose sides can themselves be cut again (checked a few levels ahead on
//! small sets) wins; parts are connected by construction.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use geo::Coord;

use super::region::{Band, LocalGraph};
use crate::geom::{dist, OrdF64};
use crate::distance::Metric;
use crate::rng::Rng;

/// Sweep directions tried per cut (evenly spread over 180°, starting at the principal axis).
const DIRECTIONS: usize = 4;
/// Cut positions tried per sweep.
const TRIES_PER_SWEEP: usize = 3;
/// Sets up to this size also try spanning-tree cuts.
const TREE_MAX: usize = 200;
/// Random spanning trees tried per cut.
const TREES: usize = 8;
/// Sets up to this size (with one grid per side) are split by enumerating every subset.
const ENUMERATE_MAX: usize = 16;
/// Sets up to this size check that the sides can be cut again.
const LOOKAHEAD_MAX: usize = 80;
/// Valid cuts checked ahead per set.
const LOOKAHEAD_TRIES: usize = 8;
/// Levels of look-ahead.
const LOOKAHEAD_DEPTH: usize = 2;
/// Sets at least this large are split in parallel.
const PARALLEL_MIN: usize = 4096;

/// Result of the recursive bisection.
#[derive(Debug, Clone)]
pub struct Bisection {
    /// Part (0..parts) of each local unit.
    pub part_of: Vec<u32>,
    /// Number of parts produced (k, or fewer when a set could not be cut).
    pub parts: usize,
    /// False when some cut had no position keeping both sides feasible.
    pub clean: bool,
}

/// A connected set of units with its own compact adjacency (indices into `ids`).
#[derive(Clone)]
pub struct Sub {
    ids: Vec<u32>,
    w: Vec<f64>,
    pos: Vec<Coord<f64>>,
    off: Vec<u32>,
    tgt: Vec<u32>,
    /// Shared boundary length of each adjacency (parallel to `tgt`; empty when unknown).
    shared: Vec<f64>,
    /// Its part off the streets (parallel to `tgt`; empty when unknown).
    off_street: Vec<f64>,
    /// True when some adjacency runs along a street (cuts are then steered onto streets).
    streets: bool,
    /// Network walking distances, when the region has them (cuts are then scored by walks).
    network: Option<Arc<NetworkScore>>,
}

/// What scoring a cut by network walks needs: the metric and the unit-graph index of each local unit.
struct NetworkScore {
    metric: Metric,
    global: Vec<u32>,
}

impl Sub {
    /// The whole local graph.
    pub fn root(g: &LocalGraph) -> Sub {
        let network = match &g.metric {
            Metric::Network { .. } => Some(Arc::new(NetworkScore { metric: g.metric.clone(), global: g.global.clone() })),
            Metric::Straight { .. } => None,
        };
        let streets = g.shared.len() == g.targets.len() && g.off_street.len() == g.targets.len() && g.shared.iter().zip(&g.off_street).any(|(s, o)| o + 1e-9 < *s);
        let (shared, off_street) = if streets { (g.shared.clone(), g.off_street.clone()) } else { (Vec::new(), Vec::new()) };
        Sub { ids: (0..g.len() as u32).collect(), w: g.weight.clone(), pos: g.pos.clone(), off: g.offsets.clone(), tgt: g.targets.clone(), shared, off_street, streets, network }
    }

    /// The subgraph of `g` induced by `members` (local indices).
    pub fn of(g: &LocalGraph, members: &[u32]) -> Sub {
        let mut keep = vec![false; g.len()];
        for &u in members {
            keep[u as usize] = true;
        }
        Sub::root(g).child(&keep, true)
    }

    /// Local ids of the members.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn total(&self) -> f64 {
        self.w.iter().sum()
    }

    fn nb(&self, u: usize) -> &[u32] {
        &self.tgt[self.off[u] as usize..self.off[u + 1] as usize]
    }

    /// The induced subset of members with `keep[u] == side`.
    fn child(&self, keep: &[bool], side: bool) -> Sub {
        let mut map = vec![u32::MAX; self.len()];
        let mut c = Sub {
            ids: Vec::new(),
            w: Vec::new(),
            pos: Vec::new(),
            off: vec![0],
            tgt: Vec::new(),
            shared: Vec::new(),
            off_street: Vec::new(),
            streets: self.streets,
            network: self.network.clone(),
        };
        for u in 0..self.len() {
            if keep[u] == side {
                map[u] = c.ids.len() as u32;
                c.ids.push(self.ids[u]);
                c.w.push(self.w[u]);
                c.pos.push(self.pos[u]);
            }
        }
        for (u, &k) in keep.iter().enumerate().take(self.len()) {
            if k == side {
                let start = self.off[u] as usize;
                for (e, &v) in self.nb(u).iter().enumerate() {
                    if map[v as usize] != u32::MAX {
                        c.tgt.push(map[v as usize]);
                        if self.streets {
                            c.shared.push(self.shared[start + e]);
                            c.off_street.push(self.off_street[start + e]);
                        }
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
    let seed = rng.next_u64();
    let (parts, clean) = divide(Sub::root(g), k.max(1), band, seed);
    let mut part_of = vec![0u32; g.len()];
    for (p, members) in parts.iter().enumerate() {
        for &u in members {
            part_of[u as usize] = p as u32;
        }
    }
    Bisection { part_of, parts: parts.len(), clean }
}

/// Divides a connected set into `k` connected parts (lists of local ids). The flag is false when
/// some part could not be kept within the band.
pub fn divide(sub: Sub, k: usize, band: Band, seed: u64) -> (Vec<Vec<u32>>, bool) {
    if k <= 1 || sub.len() <= 1 {
        let ok = k <= 1 && band.holds(sub.total());
        return (vec![sub.ids], ok);
    }
    let k1 = k / 2;
    let k2 = k - k1;
    let mut rng = Rng::new(seed, (sub.ids[0] as u64) << 20 | k as u64);
    let Some(cut) = best_cut(&sub, k1, k2, band, &mut rng, LOOKAHEAD_DEPTH) else {
        return (vec![sub.ids], false);
    };
    let left = sub.child(&cut.side, true);
    let right = sub.child(&cut.side, false);
    let big = sub.len() >= PARALLEL_MIN;
    drop(sub);
    let ((mut a, ca), (b, cb)) = if big {
        rayon::join(|| divide(left, k1, band, seed), || divide(right, k2, band, seed))
    } else {
        (divide(left, k1, band, seed), divide(right, k2, band, seed))
    };
    a.extend(b);
    (a, cut.violation == 0.0 && ca && cb)
}

/// A candidate cut: `side[u]` true for the first side (k1 grids).
struct Cut {
    side: Vec<bool>,
    violation: f64,
    score: f64,
}

/// The range of households the first side may hold.
fn side_range(total: f64, k1: usize, k2: usize, band: Band) -> (f64, f64) {
    ((k1 as f64 * band.lo).max(total - k2 as f64 * band.hi), (k1 as f64 * band.hi).min(total - k2 as f64 * band.lo))
}

fn violation_of(w1: f64, lo: f64, hi: f64) -> f64 {
    if w1 < lo - Band::EPS {
        lo - w1
    } else if w1 > hi + Band::EPS {
        w1 - hi
    } else {
        0.0
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
    let start = (0..n).min_by(|&a, &b| t[a].total_cmp(&t[b]).then(a.cmp(&b))).expect("a side to sweep has units");
    let mut queued = vec![false; n];
    let mut heap = BinaryHeap::new();
    let mut order = Vec::with_capacity(n);
    queued[start] = true;
    heap.push(Reverse((OrdF64(t[start]), start as u32)));
    while let Some(Reverse((_, u))) = heap.pop() {
        order.push(u);
        for &v in sub.nb(u as usize) {
            if !queued[v as usize] {
                queued[v as usize] = true;
                heap.push(Reverse((OrdF64(t[v as usize]), v)));
            }
        }
    }
    order
}

/// How compact the two sides of a cut are (lower is better): their weighted inertia, or with a
/// network, the weighted walk of each side to the member nearest its centroid (so that a cut
/// along a river with one bridge beats a more compact one across it).
fn cut_score(sub: &Sub, side: &[bool]) -> f64 {
    let base = match &sub.network {
        None => inertia(sub, side, true) + inertia(sub, side, false),
        Some(net) => network_walk(sub, net, side, true) + network_walk(sub, net, side, false),
    };
    base * (1.0 + OFF_STREET_CUT_PENALTY * off_street_share(sub, side))
}

/// With streets, a cut that runs wholly off the streets scores this much worse (relative) than
/// one wholly along them.
const OFF_STREET_CUT_PENALTY: f64 = 1.0;

/// The share of a cut's boundary length that runs off the streets (0 without streets).
fn off_street_share(sub: &Sub, side: &[bool]) -> f64 {
    if !sub.streets {
        return 0.0;
    }
    let (mut all, mut off) = (0.0, 0.0);
    for u in 0..sub.len() {
        let start = sub.off[u] as usize;
        for (e, &v) in sub.nb(u).iter().enumerate() {
            if (v as usize) > u && side[u] != side[v as usize] {
                all += sub.shared[start + e];
                off += sub.off_street[start + e];
            }
        }
    }
    if all > 0.0 {
        off / all
    } else {
        0.0
    }
}

/// Weighted network walk of the units with `side[u] == s` to the one nearest their centroid.
fn network_walk(sub: &Sub, net: &NetworkScore, side: &[bool], s: bool) -> f64 {
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for u in (0..sub.len()).filter(|&u| side[u] == s) {
        let w = sub.w[u] + 1e-3;
        sw += w;
        sx += w * sub.pos[u].x;
        sy += w * sub.pos[u].y;
    }
    if sw == 0.0 {
        return 0.0;
    }
    let c = Coord { x: sx / sw, y: sy / sw };
    let Some(centre) = (0..sub.len()).filter(|&u| side[u] == s).min_by(|&a, &b| dist(sub.pos[a], c).total_cmp(&dist(sub.pos[b], c)).then(a.cmp(&b))) else {
        return 0.0;
    };
    let gc = net.global[sub.ids[centre] as usize];
    (0..sub.len())
        .filter(|&u| side[u] == s)
        .map(|u| (sub.w[u] + 1e-3) * net.metric.between(net.global[sub.ids[u] as usize], gc, sub.pos[u], sub.pos[centre]))
        .sum()
}

/// Weighted inertia (sum of w·squared distance to the weighted mean) of the units with `side[u] == s`.
fn inertia(sub: &Sub, side: &[bool], s: bool) -> f64 {
    let (mut sw, mut sx, mut sy, mut sq) = (0.0, 0.0, 0.0, 0.0);
    let o = sub.pos[0];
    for (u, &su) in side.iter().enumerate().take(sub.len()) {
        if su == s {
            let w = sub.w[u] + 1e-3;
            let p = Coord { x: sub.pos[u].x - o.x, y: sub.pos[u].y - o.y };
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

/// For each position `j` of `order`, whether the units `order[j..]` are connected: the units
/// are added from the end with a union-find that counts the pieces. One pass for a whole
/// sweep, where a flood fill per candidate position would cost a pass each.
fn connected_suffixes(sub: &Sub, order: &[u32]) -> Vec<bool> {
    let n = sub.len();
    let mut at = vec![u32::MAX; n];
    for (i, &u) in order.iter().enumerate() {
        at[u as usize] = i as u32;
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn root(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    }
    let mut pieces = 0usize;
    let mut connected = vec![false; order.len() + 1];
    for i in (0..order.len()).rev() {
        let u = order[i];
        pieces += 1;
        for &v in sub.nb(u as usize) {
            if at[v as usize] as usize > i && at[v as usize] != u32::MAX {
                let (a, b) = (root(&mut parent, u), root(&mut parent, v));
                if a != b {
                    parent[a.max(b) as usize] = a.min(b);
                    pieces -= 1;
                }
            }
        }
        connected[i] = pieces == 1;
    }
    connected
}

/// Side 1 = `order[..j]` (the remainder being connected).
fn prefix_cut(sub: &Sub, order: &[u32], j: usize) -> (Vec<bool>, f64) {
    let mut side = vec![false; sub.len()];
    let mut w1 = 0.0;
    for &u in &order[..j] {
        side[u as usize] = true;
        w1 += sub.w[u as usize];
    }
    (side, w1)
}

/// Side 1 = `order[..j]` plus every piece of the remainder cut off from its heaviest piece.
fn close_cut(sub: &Sub, order: &[u32], j: usize) -> (Vec<bool>, f64) {
    let n = sub.len();
    let mut side = vec![false; n];
    let mut w1 = 0.0;
    for &u in &order[..j] {
        side[u as usize] = true;
        w1 += sub.w[u as usize];
    }
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
            .expect("more than one piece");
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

/// Candidate cuts from sweeps along several directions.
fn sweep_cuts(sub: &Sub, range: (f64, f64), ideal: f64, jitter: f64, out: &mut Vec<Cut>) {
    let n = sub.len();
    let theta0 = principal_angle(sub) + jitter * std::f64::consts::PI / DIRECTIONS as f64 * 0.5;
    for d in 0..DIRECTIONS {
        let a = theta0 + d as f64 * std::f64::consts::PI / DIRECTIONS as f64;
        for sign in [1.0, -1.0] {
            let dir = Coord { x: sign * a.cos(), y: sign * a.sin() };
            let order = sweep_order(sub, dir);
            if order.len() < n {
                return; // not connected
            }
            let mut prefix = Vec::with_capacity(n + 1);
            prefix.push(0.0);
            for &u in &order {
                prefix.push(prefix.last().copied().unwrap_or(0.0) + sub.w[u as usize]);
            }
            // The positions nearest the range and the ideal load, best first (only the first
            // few are tried: select them, then sort those).
            let key = |x: usize| (violation_of(prefix[x], range.0, range.1), (prefix[x] - ideal).abs(), x);
            let order_by = |x: &usize, y: &usize| key(*x).partial_cmp(&key(*y)).unwrap_or(std::cmp::Ordering::Equal);
            let mut cands: Vec<usize> = (1..n).collect();
            let wanted = TRIES_PER_SWEEP * 2;
            if cands.len() > wanted {
                cands.select_nth_unstable_by(wanted, order_by);
                cands.truncate(wanted);
            }
            cands.sort_by(order_by);
            let mut valid = 0;
            let whole_rest = connected_suffixes(sub, &order);
            for &j in cands.iter().take(TRIES_PER_SWEEP * 2) {
                // A connected remainder needs no flood fill: side 1 is the prefix.
                let (side, w1) = if whole_rest[j] { prefix_cut(sub, &order, j) } else { close_cut(sub, &order, j) };
                if side.iter().all(|&s| s) {
                    continue;
                }
                let v = violation_of(w1, range.0, range.1);
                let score = cut_score(sub, &side);
                out.push(Cut { side, violation: v, score });
                if v == 0.0 {
                    valid += 1;
                    if valid >= TRIES_PER_SWEEP {
                        break;
                    }
                }
            }
        }
    }
}

/// Candidate cuts from the edges of random geometric spanning trees (both sides connected).
fn tree_cuts(sub: &Sub, range: (f64, f64), rng: &mut Rng, out: &mut Vec<Cut>) {
    let n = sub.len();
    let total = sub.total();
    for _ in 0..TREES {
        // Prim's algorithm on distances scaled by random factors.
        let mut parent = vec![u32::MAX; n];
        let mut in_tree = vec![false; n];
        let mut best = vec![f64::INFINITY; n];
        let mut heap = BinaryHeap::new();
        let root = rng.below(n);
        best[root] = 0.0;
        heap.push(Reverse((OrdF64(0.0), root as u32)));
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse((_, u))) = heap.pop() {
            let u = u as usize;
            if in_tree[u] {
                continue;
            }
            in_tree[u] = true;
            order.push(u);
            for &v in sub.nb(u) {
                let v = v as usize;
                if in_tree[v] {
                    continue;
                }
                let key = dist(sub.pos[u], sub.pos[v]).max(1e-3) * (1.0 + rng.next_f64());
                if key < best[v] {
                    best[v] = key;
                    parent[v] = u as u32;
                    heap.push(Reverse((OrdF64(key), v as u32)));
                }
            }
        }
        if order.len() < n {
            return;
        }
        // Subtree weights, children after parents in `order`.
        let mut sw = sub.w.clone();
        for &u in order.iter().rev() {
            if parent[u] != u32::MAX {
                sw[parent[u] as usize] += sw[u];
            }
        }
        for &c in &order[1..] {
            let inside = violation_of(sw[c], range.0, range.1) == 0.0;
            let outside = violation_of(total - sw[c], range.0, range.1) == 0.0;
            if !inside && !outside {
                continue;
            }
            // Mark the subtree of c.
            let mut side = vec![false; n];
            side[c] = true;
            for &u in &order {
                if parent[u] != u32::MAX && side[parent[u] as usize] {
                    side[u] = true;
                }
            }
            if !inside {
                for s in side.iter_mut() {
                    *s = !*s;
                }
            }
            let score = cut_score(sub, &side);
            out.push(Cut { side, violation: 0.0, score });
        }
    }
}

/// Every split of a small set into two connected sides within `range` and the band. Subsets are
/// bit masks: loads come from two tables of half-mask sums and connectivity from a flood fill
/// over neighbour masks, so only the valid cuts allocate.
fn enumerated_cuts(sub: &Sub, range: (f64, f64), out: &mut Vec<Cut>) {
    let n = sub.len();
    debug_assert!(n <= ENUMERATE_MAX);
    let total = sub.total();
    let neighbours: Vec<u32> = (0..n).map(|u| sub.nb(u).iter().fold(0u32, |m, &v| m | (1 << v))).collect();
    // Loads of every half mask: the low `half` units and the rest.
    let half = n.min(8);
    let sums = |first: usize, count: usize| -> Vec<f64> {
        let mut s = vec![0.0; 1 << count];
        for m in 1..s.len() {
            let low = m.trailing_zeros() as usize;
            s[m] = s[m & (m - 1)] + sub.w[first + low];
        }
        s
    };
    let (low_sums, high_sums) = (sums(0, half), sums(half, n - half));
    let connected = |mask: u32| -> bool {
        let mut reached = mask & mask.wrapping_neg();
        loop {
            let mut next = reached;
            let mut rest = reached;
            while rest != 0 {
                next |= neighbours[rest.trailing_zeros() as usize];
                rest &= rest - 1;
            }
            next &= mask;
            if next == reached {
                return reached == mask;
            }
            reached = next;
        }
    };
    let all = (1u32 << n) - 1;
    for mask in 1u32..all {
        let w1 = low_sums[(mask & ((1 << half) - 1)) as usize] + high_sums[(mask >> half) as usize];
        if violation_of(w1, range.0, range.1) > 0.0 || violation_of(total - w1, total - range.1, total - range.0) > 0.0 {
            continue;
        }
        if connected(mask) && connected(all & !mask) {
            let side: Vec<bool> = (0..n).map(|u| mask & (1 << u) != 0).collect();
            let score = cut_score(sub, &side);
            out.push(Cut { side, violation: 0.0, score });
        }
    }
}

/// How far a cut leaves the sides' mean load from the parent's (relative to the band's width),
/// counting only sides that will be cut again: 0 (balanced) to 3 (far off).
fn balance_tier(sub: &Sub, cut: &Cut, k1: usize, k2: usize, band: Band) -> u8 {
    let total = sub.total();
    let mean = total / (k1 + k2) as f64;
    let w1: f64 = (0..sub.len()).filter(|&u| cut.side[u]).map(|u| sub.w[u]).sum();
    let width = (band.hi - band.lo).max(1e-9);
    let mut dev: f64 = 0.0;
    if k1 >= 2 {
        dev = dev.max((w1 / k1 as f64 - mean).abs() / width);
    }
    if k2 >= 2 {
        dev = dev.max(((total - w1) / k2 as f64 - mean).abs() / width);
    }
    match dev {
        d if d <= 0.05 => 0,
        d if d <= 0.15 => 1,
        d if d <= 0.3 => 2,
        _ => 3,
    }
}

/// Orders cuts: least violation, then best balance, then most compact.
fn rank(sub: &Sub, cuts: &mut [Cut], k1: usize, k2: usize, band: Band) {
    let mut keyed: Vec<(f64, u8, f64, usize)> =
        cuts.iter().enumerate().map(|(i, c)| (c.violation, balance_tier(sub, c, k1, k2, band), c.score, i)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.total_cmp(&b.2)).then(a.3.cmp(&b.3)));
    let order: Vec<usize> = keyed.iter().map(|k| k.3).collect();
    let mut taken: Vec<Option<Cut>> = cuts.iter_mut().map(|c| Some(Cut { side: std::mem::take(&mut c.side), violation: c.violation, score: c.score })).collect();
    for (slot, i) in order.into_iter().enumerate() {
        cuts[slot] = taken[i].take().expect("each cut once");
    }
}

/// True when `sub` can be divided into `k` parts within the band, looking `depth` cuts ahead.
fn splittable(sub: &Sub, k: usize, band: Band, rng: &mut Rng, depth: usize) -> bool {
    let total = sub.total();
    if k == 1 {
        return band.holds(total);
    }
    if total < k as f64 * band.lo - Band::EPS || total > k as f64 * band.hi + Band::EPS || sub.len() < k {
        return false;
    }
    if depth == 0 || sub.len() > LOOKAHEAD_MAX {
        return true;
    }
    best_cut(sub, k / 2, k - k / 2, band, rng, depth - 1).is_some_and(|c| c.violation == 0.0)
}

/// The first valid cut (in rank order) whose sides can be cut further, among at most
/// `LOOKAHEAD_TRIES`; None when there is none.
fn first_promising(sub: &Sub, cuts: &[Cut], k1: usize, k2: usize, band: Band, rng: &mut Rng, depth: usize) -> Option<usize> {
    let check_ahead = depth > 0 && sub.len() <= LOOKAHEAD_MAX && (k1 > 1 || k2 > 1);
    for (i, c) in cuts.iter().enumerate().take_while(|(_, c)| c.violation == 0.0) {
        if !check_ahead {
            return Some(i);
        }
        if i >= LOOKAHEAD_TRIES {
            break;
        }
        let left = sub.child(&c.side, true);
        let right = sub.child(&c.side, false);
        if splittable(&left, k1, band, rng, depth) && splittable(&right, k2, band, rng, depth) {
            return Some(i);
        }
    }
    None
}

/// The best cut of `sub` for k1 and k2 grids. Sweeps come first; spanning trees and (for
/// small sets) enumeration are tried only when no sweep cut is valid with sides that can be
/// cut further. Falls back to the best-ranked cut (possibly infeasible).
fn best_cut(sub: &Sub, k1: usize, k2: usize, band: Band, rng: &mut Rng, depth: usize) -> Option<Cut> {
    let total = sub.total();
    let range = side_range(total, k1, k2, band);
    let feasible = range.0 <= range.1 + Band::EPS;
    let mean_ideal = total * k1 as f64 / (k1 + k2) as f64;
    let ideal = if feasible { mean_ideal.clamp(range.0, range.1) } else { mean_ideal };
    let mut cuts = Vec::new();
    sweep_cuts(sub, range, ideal, rng.next_f64(), &mut cuts);
    rank(sub, &mut cuts, k1, k2, band);
    if let Some(i) = first_promising(sub, &cuts, k1, k2, band, rng, depth) {
        return Some(cuts.swap_remove(i));
    }
    if feasible && sub.len() <= TREE_MAX {
        let mut more = Vec::new();
        if k1 == 1 && k2 == 1 && sub.len() <= ENUMERATE_MAX {
            enumerated_cuts(sub, range, &mut more);
        } else {
            tree_cuts(sub, range, rng, &mut more);
        }
        rank(sub, &mut more, k1, k2, band);
        if let Some(i) = first_promising(sub, &more, k1, k2, band, rng, depth) {
            return Some(more.swap_remove(i));
        }
        cuts.extend(more);
        rank(sub, &mut cuts, k1, k2, band);
    }
    cuts.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random planar-ish graph: units on a jittered lattice with some lattice edges removed.
    fn random_sub(seed: u64, side: usize) -> Sub {
        let mut rng = Rng::new(seed, 0);
        let n = side * side;
        let mut adjacency = vec![Vec::new(); n];
        for i in 0..side {
            for j in 0..side {
                let u = i * side + j;
                if j + 1 < side && rng.next_f64() < 0.7 {
                    adjacency[u].push((u + 1) as u32);
                    adjacency[u + 1].push(u as u32);
                }
                if i + 1 < side && rng.next_f64() < 0.7 {
                    adjacency[u].push((u + side) as u32);
                    adjacency[u + side].push(u as u32);
                }
            }
        }
        let mut off = vec![0u32];
        let mut tgt = Vec::new();
        for a in &adjacency {
            tgt.extend(a);
            off.push(tgt.len() as u32);
        }
        Sub {
            ids: (0..n as u32).collect(),
            w: (0..n).map(|_| 1.0 + rng.next_f64()).collect(),
            pos: (0..n).map(|u| Coord { x: (u % side) as f64 + rng.next_f64() * 0.3, y: (u / side) as f64 + rng.next_f64() * 0.3 }).collect(),
            off,
            tgt,
            shared: Vec::new(),
            off_street: Vec::new(),
            streets: false,
            network: None,
        }
    }

    #[test]
    fn connected_suffixes_agree_with_a_flood_fill_of_each_remainder() {
        for seed in 0..40 {
            let sub = random_sub(seed, 9);
            // A sweep needs a connected set: take the piece of unit 0, as a child.
            let mut keep = vec![false; sub.len()];
            let mut stack = vec![0usize];
            keep[0] = true;
            while let Some(u) = stack.pop() {
                for &v in sub.nb(u) {
                    if !keep[v as usize] {
                        keep[v as usize] = true;
                        stack.push(v as usize);
                    }
                }
            }
            let sub = sub.child(&keep, true);
            if sub.len() < 3 {
                continue;
            }
            let order = sweep_order(&sub, Coord { x: 0.6, y: 0.8 });
            assert_eq!(order.len(), sub.len());
            let connected = connected_suffixes(&sub, &order);
            for j in 1..sub.len() {
                let (closed, w_closed) = close_cut(&sub, &order, j);
                let (prefix, w_prefix) = prefix_cut(&sub, &order, j);
                assert_eq!(connected[j], closed == prefix, "seed {seed}, position {j}");
                if connected[j] {
                    assert_eq!(w_closed.to_bits(), w_prefix.to_bits());
                }
            }
        }
    }
}
