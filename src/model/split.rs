//! Oversize buildings split into parts by units (单元) or bands of floors, each part a strip of the footprint, before the graph is built.
//!
//! A building holding more households than the grid maximum (the micro-grid maximum when
//! micro-grids are on) is replaced in the model by parts:
//!
//! * with a units column (`--units`) and 2 or more units: one part per unit; when a unit still
//!   holds more than the maximum and the building has 2 or more floors (`--floors`), each unit
//!   is cut again into bands of floors as below;
//! * else, with 2 or more floors: `m = min(floors, ceil(households / target))` bands of
//!   contiguous floors (target: the middle of the bounds in force, so each band holds at most
//!   the target), the floors shared as evenly as possible, lower bands taking the extra floor;
//! * else the building stays whole: it becomes a grid of its own, declared `oversize_building`
//!   with the reason it was not split (no column, no value, one unit and one floor, a point).
//!
//! Households and population are shared among the parts in proportion to their units × floors
//! in whole numbers by the largest remainder ([`super::apportion`]), so the totals are kept
//! exactly. Each part gets a strip of the footprint cut across its long axis (the long side of
//! its minimum rotated rectangle: the units of a slab block stand side by side along it), the
//! strip's share of the footprint area being the part's share of the households; floor bands,
//! which stand on top of each other, get strips too as their stand-ins on the ground. The parts
//! are then ordinary buildings for the mesh, the cells, the graph and the tessellation, so each
//! part's strip lies inside its grid's polygon. A part keeps its input building's row and id.

use std::collections::HashMap;

use geo::{Area, BooleanOps, Coord, MinimumRotatedRect, MultiPolygon, Polygon};
use serde_json::Value;

use super::apportion::apportion;
use super::{anchor_of, Building, Footprint, Model};
use crate::config::PartitionConfig;
use crate::error::{Error, FeatureFault, Result};
use crate::read::{FeatureId, Layer};

/// Most units a building may declare (a larger value is refused as a data error).
pub const MAX_UNITS: u32 = 100;
/// Most floors a building may declare to be split by floors.
pub const MAX_FLOORS: u32 = 200;

/// What part of its input building a model building is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartOf {
    /// Index of the split building in [`SplitReport::buildings`].
    pub split: u32,
    /// Position of the part along the building's long axis (0, 1, ...).
    pub index: u32,
    /// The unit it is (1-based), when split by units.
    pub unit: Option<u32>,
    /// The first and last floor of its band (1-based), when split by floors.
    pub floors: Option<(u32, u32)>,
}

impl PartOf {
    /// Its descriptor: `U3` (unit 3), `F1-15` (floors 1 to 15) or `U3/F1-15`.
    pub fn label(&self) -> String {
        describe(self.unit.map(|u| (u, u)), self.floors)
    }
}

/// `U1-2`, `F1-15`, `U3/F1-15`: a range of units and / or floors.
pub(crate) fn describe(units: Option<(u32, u32)>, floors: Option<(u32, u32)>) -> String {
    let range = |prefix: &str, (a, b): (u32, u32)| if a == b { format!("{prefix}{a}") } else { format!("{prefix}{a}-{b}") };
    match (units, floors) {
        (Some(u), Some(f)) => format!("{}/{}", range("U", u), range("F", f)),
        (Some(u), None) => range("U", u),
        (None, Some(f)) => range("F", f),
        (None, None) => String::new(),
    }
}

impl Building {
    /// How to name the building in messages: its id, and its part descriptor for a part
    /// (`T1 [U2]`).
    pub fn name(&self) -> String {
        match &self.part {
            None => self.id.to_string(),
            Some(p) => format!("{} [{}]", self.id, p.label()),
        }
    }
}

/// How a building was split (written as `units`, `floors`, `units and floors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
pub enum SplitRule {
    /// One part per unit.
    #[serde(rename = "units")]
    #[strum(serialize = "units")]
    Units,
    /// Bands of contiguous floors.
    #[serde(rename = "floors")]
    #[strum(serialize = "floors")]
    Floors,
    /// One part per unit, each unit cut again into bands of floors.
    #[serde(rename = "units and floors")]
    #[strum(serialize = "units and floors")]
    UnitsAndFloors,
}

impl SplitRule {
    /// The rule as written in summary.json.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An input building that was split.
#[derive(Debug, Clone)]
pub struct SplitBuilding {
    /// Zero-based row in the buildings file.
    pub row: usize,
    /// Its id.
    pub id: FeatureId,
    /// Its households (the parts add up to them exactly).
    pub households: f64,
    /// Its population, when known (the parts add up to it exactly).
    pub population: Option<f64>,
    /// How it was split.
    pub rule: SplitRule,
    /// Its units, when the units column gave them.
    pub units: Option<u32>,
    /// Its floors, when the floors column gave them.
    pub floors: Option<u32>,
    /// Number of parts.
    pub parts: usize,
}

/// An oversize building left whole, and why.
#[derive(Debug, Clone)]
pub struct NotSplit {
    /// Zero-based row in the buildings file.
    pub row: usize,
    /// Its id.
    pub id: FeatureId,
    /// Its households.
    pub households: f64,
    /// Why it could not be split.
    pub reason: String,
}

/// What the split did.
#[derive(Debug, Clone, Default)]
pub struct SplitReport {
    /// Households above which a building is split.
    pub threshold: f64,
    /// Households a floor band aims at (at most).
    pub target: f64,
    /// Buildings split, in model order.
    pub buildings: Vec<SplitBuilding>,
    /// Oversize buildings left whole.
    pub not_split: Vec<NotSplit>,
    /// Non-fatal remarks (what was split, unusable floor values).
    pub warnings: Vec<String>,
}

impl SplitReport {
    /// The rule, in words, for summary.json.
    pub fn rule_text(&self) -> String {
        format!(
            "a building above {} households is split: one part per unit (units column), a unit still above it into bands of floors; \
             else into min(floors, ceil(households / {})) bands of contiguous floors (floors column); households and population \
             are shared by units × floors in whole numbers (largest remainder); each part is a strip of the footprint across its \
             long axis, with the part's share of the area",
            crate::text::count(self.threshold),
            crate::text::count(self.target)
        )
    }

    /// `message` of an `oversize_building` violation with the reason its building was not
    /// split, or the part it is; `buildings` are the buildings of the violating grid.
    pub fn explain<'a>(&self, message: &str, buildings: impl IntoIterator<Item = &'a Building>) -> String {
        let mut notes: Vec<String> = Vec::new();
        for b in buildings {
            let note = match &b.part {
                Some(p) => {
                    let s = &self.buildings[p.split as usize];
                    format!("part {} of building {} (split by {} into {} parts) still holds more than the maximum", p.label(), s.id, s.rule.as_str(), s.parts)
                }
                None => match self.not_split.iter().find(|n| n.row == b.row) {
                    Some(n) => format!("building {} was not split: {}", n.id, n.reason),
                    None => continue,
                },
            };
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        if notes.is_empty() {
            message.to_string()
        } else {
            format!("{message}; {}", notes.join("; "))
        }
    }
}

/// Households above which a building is split: the micro maximum with micro-grids, else the
/// grid maximum in force. And the households a floor band aims at: the middle of those bounds.
pub fn limits(config: &PartitionConfig) -> (f64, f64) {
    match (config.micro.micro_min, config.micro.micro_max) {
        (Some(lo), Some(hi)) => {
            let hi = hi.min(config.bounds.upper_bound());
            (hi, (0.5 * (lo + hi)).min(hi))
        }
        _ => (config.bounds.upper_bound(), config.bounds.target().min(config.bounds.upper_bound())),
    }
}

/// A units or floors value: None when absent or empty, else a whole number from 1 to `max`.
fn part_count(v: Option<&Value>, column: &str, max: u32) -> std::result::Result<Option<u32>, FeatureFault> {
    let bad = |value: String, reason: String| FeatureFault::BadPartCount { column: column.into(), value, reason };
    let x = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(v) => super::values::number_value(v, column)?,
    };
    let text = v.map(Value::to_string).unwrap_or_default();
    if !x.is_finite() || x.fract() != 0.0 || x < 1.0 {
        return Err(bad(text, format!("expected a whole number from 1 to {max}")));
    }
    if x > max as f64 {
        return Err(bad(text, format!("more than {max} is not a plausible count; expected a whole number from 1 to {max}")));
    }
    Ok(Some(x as u32))
}

/// One part before it becomes a building: its descriptor and its weight (units × floors).
struct Plan {
    unit: Option<u32>,
    floors: Option<(u32, u32)>,
    weight: f64,
}

/// The floors `1..=floors` in `m` contiguous bands, lower bands taking the extra floor.
fn floor_bands(floors: u32, m: u32) -> Vec<(u32, u32)> {
    let sizes = apportion(floors as f64, &vec![1.0; m as usize]);
    let mut out = Vec::with_capacity(m as usize);
    let mut first = 1;
    for s in sizes {
        let s = s as u32;
        out.push((first, first + s - 1));
        first += s;
    }
    out
}

/// Replaces every building of `model` above the limit by its parts (in its place, so the
/// canonical order is kept), reading units and floors from `layer` (the buildings layer the
/// model was built from, read with [`super::building_columns`]). Units values are checked on
/// every building; a floors value that cannot split an oversize building leaves it whole with
/// a warning in the report.
pub fn split_oversize(model: &mut Model, layer: &Layer, config: &PartitionConfig) -> Result<SplitReport> {
    let (threshold, target) = limits(config);
    let mut report = SplitReport { threshold, target, ..Default::default() };
    let column = |name: &Option<String>, option: &str| -> Result<Option<(String, usize)>> {
        match name {
            None => Ok(None),
            Some(c) => {
                if !layer.has_column(c) {
                    return Err(Error::layer(&layer.name, format!("has no '{c}' column for {option} (columns: {})", layer.columns.join(", "))));
                }
                Ok(Some((c.clone(), layer.column_index(c).expect("column requested"))))
            }
        }
    };
    let units_col = column(&config.columns.units, "--units")?;
    let floors_col = column(&config.columns.floors, "--floors")?;
    let value_of = |row: usize, col: &Option<(String, usize)>| -> Option<Value> {
        col.as_ref().and_then(|(_, i)| layer.features.get(row).and_then(|f| f.attributes.get(*i).cloned().flatten()))
    };
    // Units values are checked everywhere: a bad value is a data error wherever it is.
    let mut units: HashMap<usize, u32> = HashMap::new();
    if let Some((name, _)) = &units_col {
        for b in &model.buildings {
            let v = value_of(b.row, &units_col);
            if let Some(u) = part_count(v.as_ref(), name, MAX_UNITS).map_err(|fault| Error::feature(&layer.name, crate::read::feature_label(b.row, Some(b.id.to_string())), fault))? {
                units.insert(b.row, u);
            }
        }
    }
    if !model.buildings.iter().any(|b| b.households > threshold + 1e-7) {
        return Ok(report);
    }
    let old = std::mem::take(&mut model.buildings);
    let mut out = Vec::with_capacity(old.len());
    for b in old {
        if b.households <= threshold + 1e-7 {
            out.push(b);
            continue;
        }
        let floors = match &floors_col {
            None => None,
            Some((name, _)) => match part_count(value_of(b.row, &floors_col).as_ref(), name, MAX_FLOORS) {
                Ok(f) => f,
                Err(fault) => {
                    report.warnings.push(format!("{}: feature {}: {fault}; the building is not split by floors", layer.name, b.id));
                    None
                }
            },
        };
        let u = units.get(&b.row).copied();
        let Footprint::Polygons(mp) = &b.footprint else {
            leave(&mut report, &mut out, b, "it is given as a point: a footprint polygon is needed to cut it into parts".into());
            continue;
        };
        let (rule, plans) = match (u, floors) {
            (Some(k), f) if k >= 2 => {
                let per_unit = b.households / k as f64;
                match f {
                    Some(f) if f >= 2 && per_unit > threshold + 1e-7 => {
                        let m = f.min((per_unit / target).ceil() as u32).max(2);
                        let bands = floor_bands(f, m);
                        let plans: Vec<Plan> = (1..=k)
                            .flat_map(|unit| bands.iter().map(move |&(a, z)| Plan { unit: Some(unit), floors: Some((a, z)), weight: (z - a + 1) as f64 }))
                            .collect();
                        (SplitRule::UnitsAndFloors, plans)
                    }
                    _ => (SplitRule::Units, (1..=k).map(|unit| Plan { unit: Some(unit), floors: None, weight: 1.0 }).collect::<Vec<_>>()),
                }
            }
            (_, Some(f)) if f >= 2 => {
                let m = f.min((b.households / target).ceil() as u32).max(2);
                (SplitRule::Floors, floor_bands(f, m).into_iter().map(|(a, z)| Plan { unit: None, floors: Some((a, z)), weight: (z - a + 1) as f64 }).collect())
            }
            _ => {
                let reason = match (&units_col, &floors_col, u, floors) {
                    (None, None, _, _) => "no units or floors column was given (--units, --floors)".to_string(),
                    (_, _, None, None) => format!(
                        "it has no {} value",
                        [units_col.as_ref().map(|c| format!("'{}'", c.0)), floors_col.as_ref().map(|c| format!("'{}'", c.0))].into_iter().flatten().collect::<Vec<_>>().join(" or ")
                    ),
                    (_, _, u, f) => {
                        let mut what = Vec::new();
                        if let Some(u) = u {
                            what.push(format!("{u} unit"));
                        }
                        if let Some(f) = f {
                            what.push(format!("{f} floor"));
                        }
                        format!("it has a single unit and no more than one floor to split by ({})", what.join(", "))
                    }
                };
                leave(&mut report, &mut out, b, reason);
                continue;
            }
        };
        let weights: Vec<f64> = plans.iter().map(|p| p.weight).collect();
        let Some(strips) = strips(mp, &weights) else {
            leave(&mut report, &mut out, b, format!("its footprint could not be cut into {} strips of positive area", plans.len()));
            continue;
        };
        let households = apportion(b.households, &weights);
        let population = b.population.map(|p| apportion(p, &weights));
        let same_weight = b.cost_weight == b.households;
        let weight_sum: f64 = weights.iter().sum();
        let split = report.buildings.len() as u32;
        report.buildings.push(SplitBuilding {
            row: b.row,
            id: b.id.clone(),
            households: b.households,
            population: b.population,
            rule,
            units: u,
            floors,
            parts: plans.len(),
        });
        for (i, (plan, strip)) in plans.iter().zip(strips).enumerate() {
            let footprint = Footprint::Polygons(strip);
            out.push(Building {
                row: b.row,
                id: b.id.clone(),
                households: households[i],
                population: population.as_ref().map(|p| p[i]),
                cost_weight: if same_weight { households[i] } else { b.cost_weight * plan.weight / weight_sum },
                anchor: anchor_of(&footprint),
                footprint,
                existing_grid: b.existing_grid,
                part: Some(PartOf { split, index: i as u32, unit: plan.unit, floors: plan.floors }),
                community: b.community,
            });
        }
    }
    model.buildings = out;
    if !report.buildings.is_empty() {
        let parts: usize = report.buildings.iter().map(|b| b.parts).sum();
        let note = format!("{} building(s) above {} households split into {parts} parts by units or floors (see split_buildings)", report.buildings.len(), crate::text::count(threshold));
        report.warnings.insert(0, note);
    }
    Ok(report)
}

/// Keeps oversize building `b` whole, noting why.
fn leave(report: &mut SplitReport, out: &mut Vec<Building>, b: Building, reason: String) {
    report.not_split.push(NotSplit { row: b.row, id: b.id.clone(), households: b.households, reason });
    out.push(b);
}

/// The footprint cut across its long axis into strips whose areas are in proportion to
/// `weights`, in order along the axis; None when a strip would be empty. Vertices the strips
/// share along a cut are made identical, so neighbouring strips meet exactly.
pub fn strips(mp: &MultiPolygon<f64>, weights: &[f64]) -> Option<Vec<MultiPolygon<f64>>> {
    let total = mp.unsigned_area();
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || !(total > 0.0 && sum > 0.0) {
        return None;
    }
    let rect = mp.minimum_rotated_rect()?;
    let c = &rect.exterior().0;
    let (e0, e1) = (c[1] - c[0], c[2] - c[1]);
    let long = if e0.x.hypot(e0.y) >= e1.x.hypot(e1.y) { e0 } else { e1 };
    let len = long.x.hypot(long.y);
    if len <= 0.0 {
        return None;
    }
    let u = Coord { x: long.x / len, y: long.y / len };
    let v = Coord { x: -u.y, y: u.x };
    let origin = c[0];
    let (mut tmin, mut tmax, mut smin, mut smax) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for p in mp.0.iter().flat_map(|p| p.exterior().0.iter()) {
        let d = *p - origin;
        let (t, s) = (d.x * u.x + d.y * u.y, d.x * v.x + d.y * v.y);
        tmin = tmin.min(t);
        tmax = tmax.max(t);
        smin = smin.min(s);
        smax = smax.max(s);
    }
    let margin = 1.0 + 0.01 * ((tmax - tmin) + (smax - smin));
    let at = |t: f64, s: f64| Coord { x: origin.x + u.x * t + v.x * s, y: origin.y + u.y * t + v.y * s };
    let band = |t0: f64, t1: f64| {
        let (s0, s1) = (smin - margin, smax + margin);
        MultiPolygon(vec![Polygon::new(vec![at(t0, s0), at(t1, s0), at(t1, s1), at(t0, s1), at(t0, s0)].into(), Vec::new())])
    };
    let below = |t: f64| mp.intersection(&band(tmin - margin, t)).unsigned_area();
    let mut cuts = vec![tmin - margin];
    let mut acc = 0.0;
    for w in &weights[..weights.len() - 1] {
        acc += w / sum;
        let goal = acc * total;
        let (mut lo, mut hi) = (tmin, tmax);
        for _ in 0..100 {
            if hi - lo <= 1e-7 * (tmax - tmin).max(1e-3) {
                break;
            }
            let mid = 0.5 * (lo + hi);
            if below(mid) < goal {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        cuts.push(0.5 * (lo + hi));
    }
    cuts.push(tmax + margin);
    let tiny = 1e-9 * total.max(1.0);
    let mut out = Vec::with_capacity(weights.len());
    for w in cuts.windows(2) {
        if w[1] <= w[0] {
            return None;
        }
        let piece = mp.intersection(&band(w[0], w[1]));
        let kept = MultiPolygon(piece.0.into_iter().filter(|p| p.unsigned_area() > tiny).collect());
        if kept.0.is_empty() {
            return None;
        }
        out.push(kept);
    }
    snap_shared(&mut out, 1e-6 * (1.0 + (tmax - tmin).abs() + (smax - smin).abs()));
    Some(out)
}

/// Makes vertices of different strips closer than `eps` identical (the first one seen wins).
fn snap_shared(strips: &mut [MultiPolygon<f64>], eps: f64) {
    let key = |c: Coord<f64>| ((c.x / eps).floor() as i64, (c.y / eps).floor() as i64);
    let mut seen: HashMap<(i64, i64), Vec<Coord<f64>>> = HashMap::new();
    for mp in strips.iter_mut() {
        let mut fix = |c: &mut Coord<f64>| {
            let (kx, ky) = key(*c);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    if let Some(list) = seen.get(&(kx + dx, ky + dy)) {
                        if let Some(q) = list.iter().find(|q| (q.x - c.x).hypot(q.y - c.y) < eps) {
                            *c = *q;
                            return;
                        }
                    }
                }
            }
            seen.entry((kx, ky)).or_default().push(*c);
        };
        for p in mp.0.iter_mut() {
            p.exterior_mut(|r| r.0.iter_mut().for_each(&mut fix));
            p.interiors_mut(|rs| rs.iter_mut().for_each(|r| r.0.iter_mut().for_each(&mut fix)));
        }
    }
}

/// For each input row, the value (a grid or micro-grid index, ordered like their ids) of the
/// model building on it; for a split building, the value holding most of its households (ties:
/// the lowest value).
pub fn per_row(buildings: &[Building], rows: usize, value: impl Fn(usize) -> u32) -> Vec<u32> {
    let mut tally: Vec<Vec<(u32, f64)>> = vec![Vec::new(); rows];
    for (b, bd) in buildings.iter().enumerate() {
        let v = value(b);
        let t = &mut tally[bd.row];
        match t.iter_mut().find(|x| x.0 == v) {
            Some(x) => x.1 += bd.households,
            None => t.push((v, bd.households)),
        }
    }
    tally
        .into_iter()
        .map(|t| t.iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))).map(|x| x.0).unwrap_or(0))
        .collect()
}

/// The first model building (a split building's first part) of each of the `rows` input rows.
pub fn first_part_of_rows(buildings: &[Building], rows: usize) -> Vec<u32> {
    let mut out: Vec<u32> = vec![0; rows];
    for (b, bd) in buildings.iter().enumerate().rev() {
        out[bd.row] = b as u32;
    }
    out
}

/// Number of distinct input buildings among model buildings `bs` (parts of one count once).
pub fn count_rows(buildings: &[Building], bs: impl IntoIterator<Item = u32>) -> usize {
    let mut rows: Vec<usize> = bs.into_iter().map(|b| buildings[b as usize].row).collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use geo::{Rect, Relate};

    fn slab() -> MultiPolygon<f64> {
        // A slab 80 m × 15 m turned by 30°.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let r = |x: f64, y: f64| Coord { x: 100.0 + x * c - y * s, y: 50.0 + x * s + y * c };
        MultiPolygon(vec![Polygon::new(vec![r(0.0, 0.0), r(80.0, 0.0), r(80.0, 15.0), r(0.0, 15.0), r(0.0, 0.0)].into(), Vec::new())])
    }

    #[test]
    fn strips_share_the_area_by_weight_and_tile_the_footprint() {
        let mp = slab();
        let weights = [1.0, 1.0, 2.0, 1.0];
        let s = strips(&mp, &weights).expect("cut");
        assert_eq!(s.len(), 4);
        let total = mp.unsigned_area();
        for (piece, w) in s.iter().zip(weights) {
            assert!((piece.unsigned_area() - total * w / 5.0).abs() < 1e-3 * total, "{} vs {}", piece.unsigned_area(), total * w / 5.0);
            // Cut across the long axis: each strip spans the full 15 m width, so it is one piece.
            assert_eq!(piece.0.len(), 1);
        }
        // No overlap between strips, and together they make up the footprint.
        for i in 0..s.len() {
            for j in i + 1..s.len() {
                assert!(s[i].intersection(&s[j]).unsigned_area() < 1e-6, "strips {i} and {j} overlap");
            }
        }
        let union = s.iter().skip(1).fold(s[0].clone(), |acc, p| acc.union(p));
        assert!(mp.difference(&union).unsigned_area() < 1e-6 * total);
        // Neighbouring strips meet along a common edge with identical vertices.
        for i in 0..s.len() - 1 {
            let a: Vec<Coord<f64>> = s[i].0[0].exterior().0.clone();
            let shared = s[i + 1].0[0].exterior().0.iter().filter(|c| a.contains(c)).count();
            assert!(shared >= 2, "strips {i} and {} share {shared} vertices", i + 1);
            assert!(s[i].relate(&s[i + 1]).is_touches());
        }
    }

    #[test]
    fn a_footprint_in_two_distant_pieces_cannot_give_an_empty_strip() {
        let a = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 10.0, y: 10.0 }).to_polygon();
        let b = Rect::new(Coord { x: 90.0, y: 0.0 }, Coord { x: 100.0, y: 10.0 }).to_polygon();
        let s = strips(&MultiPolygon(vec![a, b]), &[1.0, 1.0, 1.0]).expect("cut by area, never empty");
        assert!(s.iter().all(|p| p.unsigned_area() > 60.0));
    }

    #[test]
    fn floors_are_shared_into_contiguous_bands() {
        assert_eq!(floor_bands(32, 3), vec![(1, 11), (12, 22), (23, 32)]);
        assert_eq!(floor_bands(2, 2), vec![(1, 1), (2, 2)]);
    }

    #[test]
    fn counts_must_be_whole_and_plausible() {
        assert_eq!(part_count(Some(&json!(4)), "units", MAX_UNITS), Ok(Some(4)));
        assert_eq!(part_count(Some(&json!(" 6 ")), "units", MAX_UNITS), Ok(Some(6)));
        assert_eq!(part_count(Some(&json!("")), "units", MAX_UNITS), Ok(None));
        assert_eq!(part_count(None, "units", MAX_UNITS), Ok(None));
        for bad in [json!(0), json!(-2), json!(2.5), json!(500), json!("four")] {
            let e = part_count(Some(&bad), "units", MAX_UNITS).unwrap_err().to_string();
            assert!(e.contains("'units'") && e.contains(&bad.to_string().trim_matches('"').to_string()), "{e}");
        }
    }

}
