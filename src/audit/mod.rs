//! Audit of an existing grid layer (`wangge check`) and its repair (`wangge repair`): overlaps,
//! gaps (inside the union and open to the outer edge), slivers, invalid geometries, grids in
//! pieces, and with buildings: unserved, doubly claimed and split buildings, grids outside the
//! household bounds.
//!
//! Stages: [`layer`] reads and validates the grids ([`validity`]) into valid shapes in working
//! metres; [`overlaps`], [`gaps`] and [`buildings`] each find one family of problems;
//! [`repair`] gives every overlap and gap to one grid; [`output`] writes the files.

pub mod buildings;
pub mod gaps;
pub mod layer;
pub mod output;
pub mod overlaps;
pub mod repair;
pub mod shared;
pub mod validity;

use std::time::Instant;

use geo::{Geometry, MultiPolygon};
use serde::Serialize;
use serde_json::{json, Value};

pub use crate::config::AuditConfig;
use crate::error::Result;
use crate::read::Layer;

pub use layer::{load_grids, GridLayer, GridShape};

/// The kinds of problem a grid layer can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ProblemKind {
    /// A geometry that is empty, not a polygon, unclosed, self-intersecting or otherwise invalid.
    InvalidGeometry,
    /// Two grids claim the same ground (at least the tolerance).
    Overlap,
    /// Two grids claim a sliver of ground below the tolerance.
    OverlapSliver,
    /// Ground of the territory (or a hole in the union, or a notch open to the outer edge)
    /// that no grid covers (at least the tolerance).
    Gap,
    /// An uncovered sliver below the tolerance.
    GapSliver,
    /// A grid in several pieces.
    Multipart,
    /// A building in no grid.
    UnservedBuilding,
    /// A building claimed by two or more grids.
    MultiClaimedBuilding,
    /// A building cut by a grid boundary.
    SplitBuilding,
    /// A grid whose buildings hold fewer or more households than the bounds.
    HouseholdsOutOfBounds,
}

impl ProblemKind {
    /// Slivers are reported but tolerated.
    pub fn is_sliver(self) -> bool {
        matches!(self, ProblemKind::OverlapSliver | ProblemKind::GapSliver)
    }

    /// The kind as written in the outputs (`invalid_geometry`, `overlap`, ...).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One problem found in a grid layer.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// Ids of the grids concerned (empty for a gap no grid borders).
    pub grid_ids: Vec<Value>,
    /// Area of the problem in m² (0 for a location).
    pub area_m2: f64,
    /// Explanation with the values.
    pub message: String,
    /// Id of the building concerned, for building problems.
    pub building_id: Option<Value>,
    /// Where (working metres): the overlap, the gap, the building, the faulty vertex.
    pub geometry: Option<Geometry<f64>>,
}

/// Optional layers of an audit.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditInputs<'a> {
    /// The territory the grids should tile.
    pub territory: Option<&'a Layer>,
    /// Buildings with households.
    pub buildings: Option<&'a Layer>,
    /// Water (polygon layers): gaps inside it are not problems (wangge leaves water out).
    pub water: &'a [&'a Layer],
}

/// The outcome of `wangge check`.
#[derive(Debug)]
pub struct Audit {
    /// The grids as read and made valid.
    pub grids: GridLayer,
    /// Territory in working metres, when given.
    pub territory: Option<MultiPolygon<f64>>,
    /// Every problem, in a stable order (kind, then grid ids, then position).
    pub problems: Vec<Problem>,
    /// summary.json.
    pub summary: Value,
    /// Households and buildings of each grid (in `grids` order), when buildings were given.
    pub grid_loads: Option<Vec<(f64, usize)>>,
    /// The household bounds checked (minimum, maximum), when given.
    pub household_bounds: (Option<f64>, Option<f64>),
}

impl Audit {
    /// True when no problem other than slivers was found (exit code 0 of `wangge check`).
    pub fn clean(&self) -> bool {
        self.problems.iter().all(|p| p.kind.is_sliver())
    }
}

/// Checks a grid layer read with [`crate::read::read_layer`] (columns: see [`layer::grid_columns`]).
pub fn check(grids: Layer, inputs: AuditInputs, config: &AuditConfig) -> Result<Audit> {
    config.validate()?;
    let start = Instant::now();
    let (grids, mut problems) = load_grids(grids, config)?;
    let t_load = start.elapsed().as_secs_f64();
    let territory = inputs.territory.map(|t| layer::territory_shape(t, &grids.frame, config)).transpose()?;
    let t0 = Instant::now();
    problems.extend(overlaps::find_overlaps(&grids.grids, config.tolerance_m2));
    let t_overlaps = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let water = layer::water_shape(inputs.water, &grids.frame, config)?;
    problems.extend(gaps::find_gaps(&grids.grids, territory.as_ref(), config).into_iter().filter(|p| !gaps::in_water(p, &water, config)));
    let t_gaps = t0.elapsed().as_secs_f64();
    problems.extend(gaps::find_multipart(&grids.grids));
    let t0 = Instant::now();
    let mut building_figures = Value::Null;
    let mut grid_loads = None;
    if let Some(b) = inputs.buildings {
        let found = buildings::check_buildings(b, &grids, config)?;
        problems.extend(found.problems);
        building_figures = found.figures;
        grid_loads = Some(found.grid_loads);
    }
    let t_buildings = t0.elapsed().as_secs_f64();
    sort_problems(&mut problems);
    let summary = summary(&grids, &problems, config, inputs, building_figures, json!({
        "load": round3(t_load), "overlaps": round3(t_overlaps), "gaps": round3(t_gaps), "buildings": round3(t_buildings),
        "total": round3(start.elapsed().as_secs_f64()),
    }));
    Ok(Audit { grids, territory, problems, summary, grid_loads, household_bounds: (config.min_households, config.max_households) })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Orders problems by kind, grid ids, building id, then position, so outputs are stable.
pub fn sort_problems(problems: &mut [Problem]) {
    let key = |p: &Problem| {
        let pos = p.geometry.as_ref().and_then(geo::BoundingRect::bounding_rect).map(|r| (r.min().x, r.min().y)).unwrap_or((0.0, 0.0));
        (p.kind, p.grid_ids.iter().map(id_key).collect::<Vec<_>>(), p.building_id.as_ref().map(id_key), pos)
    };
    problems.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.cmp(&kb.1)).then(ka.2.cmp(&kb.2)).then(ka.3 .0.total_cmp(&kb.3 .0)).then(ka.3 .1.total_cmp(&kb.3 .1))
    });
}

/// Sort key of an id: numbers in numeric order (zero-padded), before text.
fn id_key(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("0{:020.6}", x + 1e12),
        None => format!("1{}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string())),
    }
}

fn summary(grids: &GridLayer, problems: &[Problem], config: &AuditConfig, inputs: AuditInputs, buildings: Value, timings: Value) -> Value {
    let mut counts = serde_json::Map::new();
    let mut areas = serde_json::Map::new();
    for p in problems {
        let k = p.kind.as_str();
        *counts.entry(k).or_insert(json!(0)) = json!(counts.get(k).and_then(Value::as_u64).unwrap_or(0) + 1);
        let a = areas.get(k).and_then(Value::as_f64).unwrap_or(0.0) + p.area_m2;
        areas.insert(k.into(), json!(a));
    }
    let clean = problems.iter().all(|p| p.kind.is_sliver());
    json!({
        "wangge_version": crate::VERSION,
        "layer": grids.name,
        "grids": grids.grids.len(),
        "crs": {"input": grids.frame.source.to_string(), "working": grids.frame.work_crs_name()},
        "territory": inputs.territory.map(|t| t.name.clone()),
        "buildings": inputs.buildings.map(|b| b.name.clone()),
        "clean": clean,
        "problems": problems.len(),
        "counts": counts,
        "area_m2": areas,
        "building_figures": buildings,
        "config": config,
        "timings_s": timings,
        "message": if clean {
            format!("{} grids: no gap, overlap or other problem above the tolerance of {} m²", grids.grids.len(), config.tolerance_m2)
        } else {
            format!("{} grids: {} problems found (see issues)", grids.grids.len(), problems.iter().filter(|p| !p.kind.is_sliver()).count())
        },
    })
}

#[cfg(test)]
mod tests {
    use super::ProblemKind;

    #[test]
    fn kind_names_are_the_serialized_ones() {
        for k in [ProblemKind::InvalidGeometry, ProblemKind::OverlapSliver, ProblemKind::MultiClaimedBuilding, ProblemKind::HouseholdsOutOfBounds] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ProblemKind::HouseholdsOutOfBounds.as_str(), "households_out_of_bounds");
    }
}
