//! Repair of a grid layer: invalid geometries made valid without losing area; each overlap
//! given to one of its grids (the one keeping household bounds when buildings are given, else
//! the one whose remaining shape shares the longer boundary with it; a grid lying inside
//! another is cut out of it; an exact duplicate is removed); each gap given to a bordering
//! grid (bounds, else the longest shared boundary). Grids untouched keep their geometry as
//! written.

use geo::{Area, BooleanOps, BoundingRect, Contains, Coord, MultiPolygon, Point, Polygon};
use serde::Serialize;
use serde_json::{json, Value};

use super::gaps::{gap_pieces, GapPiece};
use super::layer::{load_grids, GridLayer, GridShape};
use super::overlaps::overlapping_pairs;
use super::shared::{segments, shared_length, significant};
use super::{buildings, AuditConfig, AuditInputs};
use crate::error::{Error, Result};
use crate::geom::SegmentIndex;
use crate::read::Layer;

/// One change made by the repair.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// `made_valid`, `overlap`, `gap`, `detached_piece` or `removed`.
    pub kind: &'static str,
    /// Area moved (m²).
    pub area_m2: f64,
    /// Grids that lost the ground (overlaps) or the grid removed.
    pub from: Vec<Value>,
    /// Grid that got the ground.
    pub to: Option<Value>,
    /// Why this grid.
    pub reason: String,
}

/// A repaired layer.
#[derive(Debug)]
pub struct Repaired {
    /// The grids with their new shapes.
    pub grids: GridLayer,
    /// True for grids whose geometry changed (written anew).
    pub changed: Vec<bool>,
    /// True for grids removed (exact duplicates).
    pub removed: Vec<bool>,
    /// What moved where.
    pub moves: Vec<Move>,
    /// What the repair could not resolve: gaps no grid borders, detached pieces no other grid
    /// borders, grids without a polygon (null, points, lines), and any problem a check of the
    /// repaired shapes still finds. Empty when the repaired layer is clean.
    pub unresolved: Vec<String>,
    /// The report (repair.json).
    pub report: Value,
}

/// Household bookkeeping when buildings are given: each building's interior point and count.
struct Loads {
    points: Vec<(Coord<f64>, f64)>,
    lo: f64,
    hi: f64,
}

impl Loads {
    fn within(&self, shape: &MultiPolygon<f64>) -> f64 {
        let Some(r) = shape.bounding_rect() else { return 0.0 };
        self.points
            .iter()
            .filter(|(c, _)| c.x >= r.min().x && c.x <= r.max().x && c.y >= r.min().y && c.y <= r.max().y && shape.contains(&Point(*c)))
            .map(|(_, h)| h)
            .sum()
    }

    fn excess(&self, load: f64) -> f64 {
        (self.lo - load).max(0.0) + (load - self.hi).max(0.0)
    }
}

fn shared_with(piece: &MultiPolygon<f64>, shape: &MultiPolygon<f64>) -> f64 {
    if shape.0.is_empty() {
        return 0.0;
    }
    let index = SegmentIndex::new(segments(shape));
    piece.0.iter().map(|p| shared_length(p, &index)).sum()
}

/// Repairs a grid layer (see the module documentation).
pub fn repair(grids: Layer, inputs: AuditInputs, config: &AuditConfig) -> Result<Repaired> {
    config.validate()?;
    let (layer, found) = load_grids(grids, config)?;
    if layer.grids.iter().all(|g| g.shape.0.is_empty()) {
        return Err(Error::layer(&layer.name, format!("has no polygon to repair ({}): a grid layer holds Polygon or MultiPolygon features", geometry_census(&layer.layer))));
    }
    let territory = inputs.territory.map(|t| super::layer::territory_shape(t, &layer.frame, config)).transpose()?;
    let water = super::layer::water_shape(inputs.water, &layer.frame, config)?;
    let n = layer.grids.len();
    // A grid without any polygon cannot be repaired: it is written as it was and reported.
    let shapeless: Vec<bool> = layer.grids.iter().map(|g| g.shape.0.is_empty()).collect();
    let changed: Vec<bool> = layer.grids.iter().zip(&shapeless).map(|(g, s)| g.made_valid && !s).collect();
    let removed = vec![false; n];
    let mut moves = Vec::new();
    let mut unresolved = Vec::new();
    let shapeless_ids: Vec<&Value> = layer.grids.iter().zip(&shapeless).filter(|(_, s)| **s).map(|(g, _)| &g.id).collect();
    let repaired_ids: Vec<&Value> = layer.grids.iter().zip(&shapeless).filter(|(_, s)| !**s).map(|(g, _)| &g.id).collect();
    for p in &found {
        let id = p.grid_ids.first();
        if id.is_some_and(|id| shapeless_ids.contains(&id) && !repaired_ids.contains(&id)) {
            continue;
        }
        moves.push(Move { kind: "made_valid", area_m2: 0.0, from: p.grid_ids.clone(), to: None, reason: p.message.clone() });
    }
    for (g, f) in layer.grids.iter().zip(&layer.layer.features).filter(|(g, _)| g.shape.0.is_empty()) {
        let what = match &f.geometry {
            None => "a null geometry".to_string(),
            Some(geom) => format!("a {} geometry", crate::write::simple_type_name(geom)),
        };
        unresolved.push(format!("grid {} (feature {}) has {what} with no usable polygon: it cannot be repaired and is written as it was", g.id, f.label()));
    }
    let loads = match inputs.buildings {
        Some(b) if config.min_households.is_some() || config.max_households.is_some() => Some(Loads {
            points: buildings::households_in(b, &layer, config)?,
            lo: config.min_households.unwrap_or(0.0),
            hi: config.max_households.unwrap_or(f64::INFINITY),
        }),
        _ => None,
    };
    let load: Vec<f64> = match &loads {
        Some(l) => layer.grids.iter().map(|g| l.within(&g.shape)).collect(),
        None => vec![0.0; n],
    };
    let mut work = Work { layer, changed, removed, moves, loads, load, unresolved };
    work.resolve_overlaps();
    work.fill_gaps(territory.as_ref(), config.edge_gap_width_m, &water, config);
    work.move_detached_pieces();
    let remaining = recheck(&work.layer.grids, &work.removed, territory.as_ref(), &water, config);
    Ok(work.finish(remaining))
}

/// "6 Point, 1 null": the geometry types of a layer's features, for messages.
fn geometry_census(layer: &Layer) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in &layer.features {
        let name = f.geometry.as_ref().map(crate::write::simple_type_name).unwrap_or("null");
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.iter().map(|(n, c)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
}

/// The problems a check of the repaired shapes still finds (overlaps and gaps above the
/// tolerance, outside water; invalid shapes), as messages: the repair checks its own result.
fn recheck(grids: &[GridShape], removed: &[bool], territory: Option<&MultiPolygon<f64>>, water: &MultiPolygon<f64>, config: &AuditConfig) -> Vec<String> {
    let kept: Vec<GridShape> = grids.iter().zip(removed).filter(|(_, r)| !**r).map(|(g, _)| g.clone()).collect();
    let mut problems = super::overlaps::find_overlaps(&kept, config.tolerance_m2);
    problems.extend(super::gaps::find_gaps(&kept, territory, config).into_iter().filter(|p| !super::gaps::in_water(p, water, config)));
    let mut out: Vec<String> = problems.iter().filter(|p| !p.kind.is_sliver()).map(|p| format!("after the repair: {}", p.message)).collect();
    for g in &kept {
        if let Some(e) = g.shape.0.iter().flat_map(geo::Validation::validation_errors).next() {
            out.push(format!("after the repair: grid {} is still invalid: {e}", g.id));
        }
    }
    out
}

/// A repair under way.
struct Work {
    /// The grids with their current shapes.
    layer: GridLayer,
    /// True for grids whose geometry changed.
    changed: Vec<bool>,
    /// True for grids removed (exact duplicates).
    removed: Vec<bool>,
    /// What moved where, so far.
    moves: Vec<Move>,
    /// Household bookkeeping when buildings and bounds are given.
    loads: Option<Loads>,
    /// Households of each grid (zero without `loads`).
    load: Vec<f64>,
    /// What could not be resolved, so far.
    unresolved: Vec<String>,
}

impl Work {
    /// Resolves the overlaps pair by pair on the current shapes (an exact duplicate is removed), then updates the bounding boxes.
    fn resolve_overlaps(&mut self) {
        for (i, j, _) in overlapping_pairs(&self.layer.grids) {
            if self.removed[i] || self.removed[j] {
                continue;
            }
            let grids = &self.layer.grids;
            let x = significant(grids[i].shape.intersection(&grids[j].shape));
            if x.0.is_empty() {
                continue;
            }
            let area = x.unsigned_area();
            let rest_i = significant(grids[i].shape.difference(&x));
            let rest_j = significant(grids[j].shape.difference(&x));
            if rest_i.0.is_empty() && rest_j.0.is_empty() {
                self.removed[j] = true;
                self.moves.push(Move {
                    kind: "removed",
                    area_m2: area,
                    from: vec![grids[j].id.clone()],
                    to: Some(grids[i].id.clone()),
                    reason: format!("grid {} duplicates grid {} (the first in the file is kept)", grids[j].id, grids[i].id),
                });
                continue;
            }
            let (winner, loser, reason) = self.overlap_winner(i, j, &x, &rest_i, &rest_j);
            if let Some(l) = &self.loads {
                self.load[loser] -= l.within(&x);
            }
            self.layer.grids[loser].shape = if loser == i { rest_i } else { rest_j };
            self.changed[loser] = true;
            self.moves.push(Move { kind: "overlap", area_m2: area, from: vec![self.layer.grids[loser].id.clone()], to: Some(self.layer.grids[winner].id.clone()), reason });
        }
        for (g, r) in self.removed.iter().enumerate() {
            if *r {
                self.layer.grids[g].shape = MultiPolygon(vec![]);
                self.layer.grids[g].bbox = None;
            }
        }
        for g in self.layer.grids.iter_mut() {
            g.bbox = g.shape.bounding_rect();
        }
    }

    /// (winner, loser, why) for the overlap `x` of grids `i` and `j`, whose rests `rest_i` and `rest_j` are not both empty.
    fn overlap_winner(&self, i: usize, j: usize, x: &MultiPolygon<f64>, rest_i: &MultiPolygon<f64>, rest_j: &MultiPolygon<f64>) -> (usize, usize, String) {
        // A grid lying inside the other is cut out of it; else the grid keeping household bounds
        // better wins, else the one whose rest shares the longer boundary with the overlap.
        let grids = &self.layer.grids;
        if rest_j.0.is_empty() {
            (j, i, format!("grid {} lies inside grid {}: cut out of it", grids[j].id, grids[i].id))
        } else if rest_i.0.is_empty() {
            (i, j, format!("grid {} lies inside grid {}: cut out of it", grids[i].id, grids[j].id))
        } else {
            let (li, lj) = (shared_with(x, rest_i), shared_with(x, rest_j));
            let by_length = if li >= lj { (i, j) } else { (j, i) };
            match self.overlap_by_households(i, j, x) {
                Some(c) => c,
                None => (by_length.0, by_length.1, format!("longest shared boundary ({:.1} m against {:.1} m)", li.max(lj), li.min(lj))),
            }
        }
    }

    /// (winner, loser, why) when household bounds tell grids `i` and `j` apart for their overlap `x`.
    fn overlap_by_households(&self, i: usize, j: usize, x: &MultiPolygon<f64>) -> Option<(usize, usize, String)> {
        let l = self.loads.as_ref()?;
        let load = &self.load;
        let hx = l.within(x);
        // The loser loses the households of the overlap.
        let cost = |w: usize, o: usize| l.excess(load[w]) + l.excess(load[o] - hx);
        let (ci, cj) = (cost(i, j), cost(j, i));
        if (ci - cj).abs() > 1e-9 {
            let (w, o) = if ci < cj { (i, j) } else { (j, i) };
            Some((w, o, format!("keeps household bounds better ({} households in the overlap)", crate::text::count(hx))))
        } else {
            None
        }
    }

    /// Gives each gap to one bordering grid ([`Work::gap_winner`]); a gap no grid borders is
    /// left as it is, and so is water (a gap that lies in `water`).
    fn fill_gaps(&mut self, territory: Option<&MultiPolygon<f64>>, edge_gap_width_m: f64, water: &MultiPolygon<f64>, config: &AuditConfig) {
        let n = self.layer.grids.len();
        let pieces = gap_pieces(&self.layer.grids, territory, edge_gap_width_m);
        let mut gained: Vec<Vec<Polygon<f64>>> = vec![Vec::new(); n];
        for piece in pieces {
            let area = piece.shape.unsigned_area();
            if super::gaps::shape_in_water(&MultiPolygon(vec![piece.shape.clone()]), water, config) {
                continue;
            }
            if piece.borders.is_empty() {
                // Left as it is; the check of the repaired shapes reports it.
                continue;
            }
            let (w, reason) = self.gap_winner(&piece);
            self.moves.push(Move { kind: "gap", area_m2: area, from: vec![], to: Some(self.layer.grids[w].id.clone()), reason });
            gained[w].push(piece.shape);
        }
        for (g, extra) in gained.into_iter().enumerate() {
            if extra.is_empty() {
                continue;
            }
            let mut all = self.layer.grids[g].shape.0.clone();
            all.extend(extra);
            self.layer.grids[g].shape = geo::unary_union(all.iter());
            self.layer.grids[g].bbox = self.layer.grids[g].shape.bounding_rect();
            self.changed[g] = true;
        }
    }

    /// The grid a gap goes to, and why: the bordering grid whose household bounds suffer least, then the longest shared boundary.
    fn gap_winner(&mut self, piece: &GapPiece) -> (usize, String) {
        match &self.loads {
            Some(l) if piece.borders.len() > 1 => {
                let load = &self.load;
                let hx = l.within(&MultiPolygon(vec![piece.shape.clone()]));
                let best = piece
                    .borders
                    .iter()
                    .min_by(|a, b| (l.excess(load[a.0] + hx) - l.excess(load[a.0])).total_cmp(&(l.excess(load[b.0] + hx) - l.excess(load[b.0]))).then(b.1.total_cmp(&a.1)))
                    .expect("borders");
                self.load[best.0] += hx;
                (best.0, format!("keeps household bounds, then longest shared boundary ({:.1} m)", best.1))
            }
            _ => (piece.borders[0].0, format!("longest shared boundary ({:.1} m)", piece.borders[0].1)),
        }
    }

    /// Detached pieces of a grid go to the neighbour sharing the longest boundary with them; a piece bordering none stays.
    fn move_detached_pieces(&mut self) {
        let n = self.layer.grids.len();
        for g in 0..n {
            if self.removed[g] || self.layer.grids[g].shape.0.len() < 2 {
                continue;
            }
            let parts = super::gaps::parts(&self.layer.grids[g].shape);
            if parts.len() < 2 {
                continue;
            }
            let mut kept = parts[0].clone();
            for piece in &parts[1..] {
                let area = piece.unsigned_area();
                match self.detached_piece_host(g, piece) {
                    Some((o, l)) => self.give_detached_piece(g, o, l, piece, area),
                    None => {
                        kept.0.extend(piece.0.iter().cloned());
                        self.unresolved.push(format!("grid {} keeps a detached piece of {area:.1} m² that borders no other grid", self.layer.grids[g].id));
                    }
                }
            }
            if self.changed[g] {
                self.layer.grids[g].shape = kept;
                self.layer.grids[g].bbox = self.layer.grids[g].shape.bounding_rect();
            }
        }
    }

    /// The grid other than `g` sharing the longest boundary with `piece`, and that length.
    fn detached_piece_host(&self, g: usize, piece: &MultiPolygon<f64>) -> Option<(usize, f64)> {
        let grids = &self.layer.grids;
        (0..grids.len())
            .filter(|&o| o != g && !self.removed[o])
            .filter(|&o| grids[o].bbox.zip(piece.bounding_rect()).is_some_and(|(a, b)| geo::Intersects::intersects(&a, &b)))
            .map(|o| (o, shared_with(piece, &grids[o].shape)))
            .filter(|(_, l)| *l > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Moves the detached `piece` (of `area` m²) of grid `g` to grid `o`, which shares `l` m of boundary with it.
    fn give_detached_piece(&mut self, g: usize, o: usize, l: f64, piece: &MultiPolygon<f64>, area: f64) {
        let mut all = self.layer.grids[o].shape.0.clone();
        all.extend(piece.0.iter().cloned());
        self.layer.grids[o].shape = geo::unary_union(all.iter());
        self.layer.grids[o].bbox = self.layer.grids[o].shape.bounding_rect();
        self.changed[o] = true;
        self.changed[g] = true;
        if let Some(ld) = &self.loads {
            let h = ld.within(piece);
            self.load[o] += h;
            self.load[g] -= h;
        }
        self.moves.push(Move {
            kind: "detached_piece",
            area_m2: area,
            from: vec![self.layer.grids[g].id.clone()],
            to: Some(self.layer.grids[o].id.clone()),
            reason: format!("a detached piece of grid {} goes to the grid around it (shared boundary {l:.1} m)", self.layer.grids[g].id),
        });
    }

    /// The repaired layer, with its report (repair.json); `remaining`: what a check of the
    /// repaired shapes still finds.
    fn finish(self, remaining: Vec<String>) -> Repaired {
        let Work { layer, changed, removed, moves, mut unresolved, .. } = self;
        unresolved.extend(remaining);
        let n = layer.grids.len();
        let moved = |k: &str| moves.iter().filter(|m| m.kind == k).count();
        let report = json!({
            "wangge_version": crate::VERSION,
            "layer": layer.name,
            "grids_in": n,
            "grids_out": n - removed.iter().filter(|r| **r).count(),
            "grids_changed": changed.iter().zip(&removed).filter(|(c, r)| **c && !**r).count(),
            "made_valid": moved("made_valid"),
            "overlaps_resolved": moved("overlap"),
            "gaps_filled": moved("gap"),
            "removed": moved("removed"),
            "detached_pieces_moved": moved("detached_piece"),
            "clean": unresolved.is_empty(),
            "unresolved": unresolved,
            "moves": moves,
        });
        Repaired { grids: layer, changed, removed, moves, unresolved, report }
    }
}
