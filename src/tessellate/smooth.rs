//! Smoothing of grid boundaries at the triangle level, outside footprints (which keep their
//! grid): a triangle that shares two of its edges with one other grid is a tooth, and joins that
//! grid; a triangle that is its grid's only one at a vertex where it is sharper than
//! [`TIP_DEG`] is the tip of a sliver, and joins the grid beside it. Either has at most one
//! neighbour in its own grid, so moving it never cuts a grid in two.

use crate::graph::{Mesh, NONE};

/// Rounds of smoothing (each may expose new teeth or tips behind the ones removed).
const ROUNDS: usize = 12;
/// A grid's corner sharper than this (degrees), made of one triangle, is a sliver's tip.
pub const TIP_DEG: f64 = 15.0;

/// Moves every tooth triangle of `label` to the label it shares two edges with (not across a
/// barrier), when `allowed(t, new_label)`; triangle by triangle in order, round after round.
pub fn smooth_teeth(mesh: &Mesh, label: &mut [u32], allowed: &dyn Fn(usize, u32) -> bool) {
    let at_vertex = triangles_at_vertices(mesh);
    let mut sharp = SharpCorners::new(mesh);
    // A round visits, in index order, the triangles whose surroundings changed since their last
    // visit (all in the first round): the others would decide as they did, so the rounds move
    // the same triangles as rounds over every triangle would.
    let words = mesh.len().div_ceil(64);
    let mut due = vec![!0u64; words];
    if mesh.len() % 64 != 0 {
        due[words - 1] = (1u64 << (mesh.len() % 64)) - 1;
    }
    for _ in 0..ROUNDS {
        let mut next = vec![0u64; words];
        let mut changed = false;
        for w in 0..words {
            let mut bits = due[w];
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                let t = 64 * w + b;
                if let Some(h) = new_label(mesh, t, label, &at_vertex, &mut sharp) {
                    if allowed(t, h) {
                        label[t] = h;
                        changed = true;
                        // Triangles sharing a vertex with t see the change: later ones this
                        // round, earlier ones (and t) in the next.
                        for &v in &mesh.triangles[t] {
                            for &a in at_vertex.of(v as usize) {
                                let a = a as usize;
                                if a > t {
                                    due[a / 64] |= 1 << (a % 64);
                                } else {
                                    next[a / 64] |= 1 << (a % 64);
                                }
                            }
                        }
                    }
                }
                let higher = if b == 63 { 0 } else { !0u64 << (b + 1) };
                bits = due[w] & higher;
            }
        }
        if !changed {
            break;
        }
        due = next;
    }
}

/// The label triangle `t` should take as a tooth or a sliver's tip, if it is one.
fn new_label(mesh: &Mesh, t: usize, label: &[u32], at_vertex: &Incidence, sharp: &mut SharpCorners) -> Option<u32> {
    let own = label[t];
    if own == NONE || mesh.footprint_owner[t] != NONE {
        return None;
    }
    let mut other = [NONE; 3];
    for i in 0..3 {
        let nb = mesh.neighbours[t][i];
        if nb != NONE && !mesh.is_barrier(t, i) {
            other[i] = label[nb as usize];
        }
    }
    // Only a triangle on a grid boundary can be a tooth or a tip (most are not).
    if !other.iter().any(|&h| h != NONE && h != own) {
        return None;
    }
    let tooth = (0..3).find_map(|i| {
        let h = other[i];
        (h != NONE && h != own && other.iter().filter(|&&x| x == h).count() >= 2).then_some(h)
    });
    tooth.or_else(|| tip_target(mesh, t, own, &other, label, at_vertex, sharp.of(t)))
}

/// When triangle `t` (of label `own`) is the tip of a sliver: the label across the edge, at its
/// sharpest corner, of the neighbour that is not `own` (the longer edge's when both qualify).
/// `sharp`: bit `c` set when corner `c` of `t` is sharper than [`TIP_DEG`].
fn tip_target(mesh: &Mesh, t: usize, own: u32, other: &[u32; 3], label: &[u32], at_vertex: &Incidence, sharp: u8) -> Option<u32> {
    let tri = mesh.triangles[t];
    for c in 0..3 {
        let v = tri[c] as usize;
        if sharp & (1 << c) == 0 {
            continue;
        }
        // The two edges at corner c: edge c (v → a) and edge c+2 (b → v).
        let (e1, e2) = (c, (c + 2) % 3);
        if other[e1] == own || other[e2] == own {
            continue;
        }
        if at_vertex.of(v).iter().any(|&s| s as usize != t && label[s as usize] == own) {
            continue;
        }
        let len = |e: usize| {
            let (x, y) = mesh.edge(t, e);
            crate::geom::dist(x, y)
        };
        let choice = [e1, e2].into_iter().filter(|&e| other[e] != NONE).max_by(|&x, &y| len(x).total_cmp(&len(y)).then(y.cmp(&x)));
        if let Some(e) = choice {
            return Some(other[e]);
        }
    }
    None
}

/// Which corners of each triangle are sharper than [`TIP_DEG`], measured when first asked.
struct SharpCorners<'a> {
    mesh: &'a Mesh,
    /// Bit `c`: corner `c` is sharp; [`SharpCorners::UNKNOWN`]: not measured yet.
    bits: Vec<u8>,
}

impl<'a> SharpCorners<'a> {
    const UNKNOWN: u8 = 0x80;

    fn new(mesh: &'a Mesh) -> SharpCorners<'a> {
        SharpCorners { mesh, bits: vec![Self::UNKNOWN; mesh.len()] }
    }

    fn of(&mut self, t: usize) -> u8 {
        if self.bits[t] == Self::UNKNOWN {
            let (mesh, limit) = (self.mesh, TIP_DEG.to_radians());
            let tri = mesh.triangles[t];
            let mut bits = 0;
            for c in 0..3 {
                let (p, a, b) = (mesh.points[tri[c] as usize], mesh.points[tri[(c + 1) % 3] as usize], mesh.points[tri[(c + 2) % 3] as usize]);
                let (ux, uy, wx, wy) = (a.x - p.x, a.y - p.y, b.x - p.x, b.y - p.y);
                if (ux * wy - uy * wx).abs().atan2(ux * wx + uy * wy) < limit {
                    bits |= 1 << c;
                }
            }
            self.bits[t] = bits;
        }
        self.bits[t]
    }
}

/// The triangles at each vertex (compressed rows).
struct Incidence {
    offsets: Vec<u32>,
    triangles: Vec<u32>,
}

impl Incidence {
    fn of(&self, v: usize) -> &[u32] {
        &self.triangles[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }
}

fn triangles_at_vertices(mesh: &Mesh) -> Incidence {
    let n = mesh.points.len();
    let mut count = vec![0u32; n + 1];
    for tri in &mesh.triangles {
        for &v in tri {
            count[v as usize + 1] += 1;
        }
    }
    for i in 0..n {
        count[i + 1] += count[i];
    }
    let mut fill = count.clone();
    let mut triangles = vec![0u32; mesh.triangles.len() * 3];
    for (t, tri) in mesh.triangles.iter().enumerate() {
        for &v in tri {
            triangles[fill[v as usize] as usize] = t as u32;
            fill[v as usize] += 1;
        }
    }
    Incidence { offsets: count, triangles }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Coord;

    /// Three triangles in a fan: the middle one, labelled 1 between two of 0... is not a tooth
    /// (one shared edge each side); a triangle whose two neighbours are both 0 joins 0.
    #[test]
    fn a_tooth_joins_the_grid_around_it() {
        // Square split into 4 triangles around its centre (vertex 4).
        let points = vec![Coord { x: 0.0, y: 0.0 }, Coord { x: 1.0, y: 0.0 }, Coord { x: 1.0, y: 1.0 }, Coord { x: 0.0, y: 1.0 }, Coord { x: 0.5, y: 0.5 }];
        let triangles = vec![[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]];
        // Edge i of triangle t goes from vertex i to i+1: the neighbours across edges 1 and 2.
        let neighbours = vec![[NONE, 1, 3], [NONE, 2, 0], [NONE, 3, 1], [NONE, 0, 2]];
        let mesh = Mesh { points, triangles, neighbours, barrier_edges: vec![0; 4], street_edges: vec![0; 4], footprint_owner: vec![NONE; 4], ..Default::default() };
        let mut label = vec![0, 1, 0, 0];
        smooth_teeth(&mesh, &mut label, &|_, _| true);
        assert_eq!(label, vec![0, 0, 0, 0]);
        let mut label = vec![0, 1, 1, 0];
        smooth_teeth(&mesh, &mut label, &|_, _| true);
        assert_eq!(label, vec![0, 1, 1, 0], "no triangle has two neighbours of the other grid");
        let mut footprint = mesh.clone();
        footprint.footprint_owner[1] = 7;
        let mut label = vec![0, 1, 0, 0];
        smooth_teeth(&footprint, &mut label, &|_, _| true);
        assert_eq!(label, vec![0, 1, 0, 0], "footprints keep their grid");
    }
}
