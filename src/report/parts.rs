//! The split of oversize buildings seen in the result: each part with its grid and micro-grid
//! and its strip in the input CRS, the grids of each split building, and the `split_buildings`
//! section of summary.json.

use std::collections::{BTreeMap, HashMap};

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};

use super::grids::Membership;
use super::micro::MicroGrids;
use super::numbering::Numbering;
use super::project::BackProjection;
use super::GridId;
use crate::error::Result;
use crate::model::split::{describe, SplitReport, SplitRule};
use crate::model::{Footprint, Model};
use crate::read::FeatureId;

/// One part of a split building in the outputs.
#[derive(Debug, Clone)]
pub struct PartReport {
    /// Index of the part in the model's buildings.
    pub building: u32,
    /// Index of its building in [`SplitReport::buildings`].
    pub split: u32,
    /// Zero-based row of its building in the buildings file.
    pub row: usize,
    /// Id of its building.
    pub id: FeatureId,
    /// Descriptor (`U2`, `F1-15`, `U2/F1-15`).
    pub label: String,
    /// Position along the building's long axis (0, 1, ...).
    pub index: u32,
    /// Households.
    pub households: f64,
    /// Population, when known.
    pub population: Option<f64>,
    /// Index of its grid in the run's grids (in id order).
    pub grid: u32,
    /// Index of its micro-grid in the run's micro-grids, when micro-grids are on.
    pub micro: Option<u32>,
    /// Its strip of the footprint in the input CRS.
    pub polygon: MultiPolygon<f64>,
}

/// The split, mapped onto the outputs: parts with their grids, and the split building of each
/// affected row.
#[derive(Debug, Clone, Default)]
pub struct SplitOutcome {
    /// What the split did.
    pub report: SplitReport,
    /// Parts of every split building, building by building, in order along its axis.
    pub parts: Vec<PartReport>,
    /// Index into `report.buildings` of each split row.
    pub split_of_row: HashMap<usize, u32>,
}

impl SplitOutcome {
    /// Maps the parts of `model` to their grids (in id order) and micro-grids, with their
    /// strips converted to the input CRS by `back`.
    pub fn new(report: SplitReport, model: &Model, members: &Membership, numbering: &Numbering, micro: &MicroGrids, back: &mut BackProjection) -> Result<SplitOutcome> {
        let grid_of_building: Vec<u32> = members.building_grid.iter().map(|&g| numbering.rank_of[g as usize]).collect();
        let micro_of_building = (!micro.of_building.is_empty()).then_some(micro.of_building.as_slice());
        let mut parts = Vec::new();
        for (b, bd) in model.buildings.iter().enumerate() {
            let (Some(p), Footprint::Polygons(mp)) = (&bd.part, &bd.footprint) else { continue };
            parts.push(PartReport {
                building: b as u32,
                split: p.split,
                row: bd.row,
                id: bd.id.clone(),
                label: p.label(),
                index: p.index,
                households: bd.households,
                population: bd.population,
                grid: grid_of_building[b],
                micro: micro_of_building.map(|m| m[b]),
                polygon: back.polygons(mp)?,
            });
        }
        parts.sort_by_key(|p| (p.split, p.index));
        let split_of_row = report.buildings.iter().enumerate().map(|(i, s)| (s.row, i as u32)).collect();
        Ok(SplitOutcome { report, parts, split_of_row })
    }

    /// The `split_buildings` section of summary.json, when some building was above the
    /// maximum; `grids` in id order.
    pub fn summary_if_any(&self, grids: &[super::GridReport]) -> Option<SplitSummary> {
        (!self.report.buildings.is_empty() || !self.report.not_split.is_empty()).then(|| self.summary(|g| grids[g as usize].id.clone()))
    }

    /// The parts of split building `split`, in order along its axis.
    pub fn parts_of(&self, split: u32) -> &[PartReport] {
        let start = self.parts.partition_point(|p| p.split < split);
        let end = self.parts.partition_point(|p| p.split <= split);
        &self.parts[start..end]
    }

    /// For split building `split`: its grids (indices, ascending) and, per grid, its parts
    /// with consecutive ones merged (`U1-2`, `F1-30`).
    pub fn parts_by_grid(&self, split: u32) -> BTreeMap<u32, Vec<String>> {
        let mut by_grid: BTreeMap<u32, Vec<&PartReport>> = BTreeMap::new();
        for p in self.parts_of(split) {
            by_grid.entry(p.grid).or_default().push(p);
        }
        by_grid.into_iter().map(|(g, ps)| (g, merged_labels(&ps))).collect()
    }

    /// The `split_buildings` section of summary.json; `grid_id` gives the id of a grid (by
    /// index in id order).
    pub fn summary(&self, grid_id: impl Fn(u32) -> GridId) -> SplitSummary {
        let buildings = self
            .report
            .buildings
            .iter()
            .enumerate()
            .map(|(i, s)| SplitBuildingSummary {
                id: s.id.clone(),
                households: s.households,
                population: s.population,
                rule: s.rule,
                units: s.units,
                floors: s.floors,
                grid_ids: self.parts_by_grid(i as u32).keys().map(|&g| grid_id(g)).collect(),
                parts: self.parts_of(i as u32).iter().map(|p| PartSummary { part: p.label.clone(), households: p.households, population: p.population, grid_id: grid_id(p.grid) }).collect(),
            })
            .collect();
        SplitSummary {
            count: self.report.buildings.len(),
            parts: self.parts.len(),
            threshold: self.report.threshold,
            rule: self.report.rule_text(),
            buildings,
            not_split: self.report.not_split.iter().map(|n| NotSplitSummary { id: n.id.clone(), households: n.households, reason: n.reason.clone() }).collect(),
        }
    }
}

/// The `split_buildings` section of summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Buildings split.
    pub count: usize,
    /// Parts they were split into.
    pub parts: usize,
    /// Households above which a building is split.
    pub threshold: f64,
    /// The rule, in words.
    pub rule: String,
    /// Each split building.
    pub buildings: Vec<SplitBuildingSummary>,
    /// Oversize buildings left whole, and why.
    pub not_split: Vec<NotSplitSummary>,
}

/// One split building in summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitBuildingSummary {
    /// Its id.
    pub id: FeatureId,
    /// Its households.
    pub households: f64,
    /// Its population, when known.
    pub population: Option<f64>,
    /// How it was split.
    pub rule: SplitRule,
    /// Its units, when given.
    pub units: Option<u32>,
    /// Its floors, when given.
    pub floors: Option<u32>,
    /// The grids its parts are in.
    pub grid_ids: Vec<GridId>,
    /// Its parts.
    pub parts: Vec<PartSummary>,
}

/// One part in summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartSummary {
    /// Descriptor (`U2`, `F1-15`).
    pub part: String,
    /// Households.
    pub households: f64,
    /// Population, when known.
    pub population: Option<f64>,
    /// Its grid.
    pub grid_id: GridId,
}

/// An oversize building left whole in summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotSplitSummary {
    /// Its id.
    pub id: FeatureId,
    /// Its households.
    pub households: f64,
    /// Why it was not split.
    pub reason: String,
}

/// Labels of parts in axis order, consecutive whole units (`U1`, `U2` → `U1-2`) and consecutive
/// floor bands of one unit (`F1-15`, `F16-30` → `F1-30`) merged.
fn merged_labels(parts: &[&PartReport]) -> Vec<String> {
    // (units, floors) ranges of the parts, built from their descriptors' numbers.
    type Span = Option<(u32, u32)>;
    let mut runs: Vec<(Span, Span)> = Vec::new();
    for p in parts {
        let (unit, floors) = parse_label(&p.label);
        let next = (unit.map(|u| (u, u)), floors);
        if let Some(last) = runs.last_mut() {
            match (last.0, last.1, next.0, next.1) {
                (Some((a, z)), None, Some((b, _)), None) if b == z + 1 => {
                    last.0 = Some((a, b));
                    continue;
                }
                (u0, Some((fa, fz)), u1, Some((fb, fy))) if u0 == u1 && fb == fz + 1 => {
                    last.1 = Some((fa, fy));
                    continue;
                }
                _ => {}
            }
        }
        runs.push(next);
    }
    runs.into_iter().map(|(u, f)| describe(u, f)).collect()
}

/// The unit and floor band of a descriptor made by [`PartOf::label`].
fn parse_label(label: &str) -> (Option<u32>, Option<(u32, u32)>) {
    let mut unit = None;
    let mut floors = None;
    for piece in label.split('/') {
        if let Some(u) = piece.strip_prefix('U') {
            unit = u.parse().ok();
        } else if let Some(f) = piece.strip_prefix('F') {
            let mut it = f.split('-').filter_map(|x| x.parse::<u32>().ok());
            let a = it.next().unwrap_or(0);
            floors = Some((a, it.next().unwrap_or(a)));
        }
    }
    (unit, floors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::split::PartOf;

    #[test]
    fn consecutive_parts_are_merged_in_labels() {
        let part = |unit: Option<u32>, floors: Option<(u32, u32)>| PartOf { split: 0, index: 0, unit, floors }.label();
        assert_eq!(part(Some(3), None), "U3");
        assert_eq!(part(None, Some((1, 15))), "F1-15");
        assert_eq!(part(Some(2), Some((16, 30))), "U2/F16-30");
        let mk = |label: &str| PartReport {
            building: 0,
            split: 0,
            row: 0,
            id: FeatureId::Number(1),
            label: label.into(),
            index: 0,
            households: 0.0,
            population: None,
            grid: 0,
            micro: None,
            polygon: MultiPolygon(Vec::new()),
        };
        let ps = [mk("U1"), mk("U2"), mk("U4"), mk("U5/F1-5"), mk("U5/F6-10"), mk("U6/F1-5")];
        let refs: Vec<&PartReport> = ps.iter().collect();
        assert_eq!(merged_labels(&refs), vec!["U1-2", "U4", "U5/F1-10", "U6/F1-5"]);
    }
}
