//! Population given only as totals per zone (a community, a census tract): each zone's total is
//! shared among the buildings inside it by floor area (footprint area × floors), in whole
//! persons when the total is whole, so every zone keeps its total exactly. Households likewise,
//! from a zone household column or from the population and a number of persons per household.

use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Point};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::apportion::apportion;
use super::layers::Frames;
use super::values::count_value;
use crate::config::{OptionName, PartitionConfig};
use crate::error::{Error, FeatureFault, Result};
use crate::read::Layer;

/// How many buildings outside every zone are listed by id in the report (all are counted).
pub const LISTED: usize = 1000;

/// One zone in working metres with its totals.
#[derive(Debug, Clone)]
pub struct Zone {
    /// How the zone is named in reports (its id, else `#row`).
    pub label: String,
    /// Its polygons.
    pub area: MultiPolygon<f64>,
    /// Population total.
    pub population: f64,
    /// Household total, when the zone layer has a household column.
    pub households: Option<f64>,
}

/// A zone that holds no building: its totals could not be placed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmptyZone {
    /// The zone.
    pub zone: String,
    /// Its population.
    pub population: f64,
    /// Its households, when known.
    pub households: Option<f64>,
}

/// What the distribution did, for summary.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ZoneReport {
    /// The zone file.
    pub zones_file: String,
    /// Number of zones.
    pub zones: usize,
    /// Zone population column.
    pub population_column: String,
    /// Where building households came from: a zone column, population / persons per household,
    /// or the buildings' own column.
    pub households_from: String,
    /// Floors column of the buildings, or "1 floor each".
    pub floors: String,
    /// Sum of the zones' populations.
    pub population_total: f64,
    /// Population placed on buildings (the total less the empty zones').
    pub population_placed: f64,
    /// Households placed on buildings from the zones (None when they came from the buildings).
    pub households_placed: Option<f64>,
    /// Zones without any building.
    pub empty_zones: Vec<EmptyZone>,
    /// Buildings outside every zone (population 0).
    pub buildings_outside: usize,
    /// Ids of the first such buildings (at most [`LISTED`]).
    pub buildings_outside_ids: Vec<String>,
    /// Buildings inside several (overlapping) zones, given to the first in file order.
    pub buildings_in_several_zones: usize,
    /// Buildings given as points, weighted by the median footprint area times their floors.
    pub point_buildings: usize,
}

/// Population and households per building (file order) and the report.
#[derive(Debug, Clone)]
pub struct ZoneDistribution {
    /// Population of each building (0 outside every zone).
    pub population: Vec<f64>,
    /// Households of each building, when the zones give them.
    pub households: Option<Vec<f64>>,
    /// The report.
    pub report: ZoneReport,
}

/// Households of a zone: its own column, else population / `persons_per_household` rounded.
fn zone_households(z: &Zone, persons_per_household: Option<f64>) -> Option<f64> {
    z.households.or_else(|| persons_per_household.map(|p| (z.population / p).round()))
}

/// Shares each zone's totals among the buildings whose `anchors` lie in it, by `floor_area`.
/// `report` comes in with the descriptive fields filled; counts are filled here.
pub fn distribute(zones: &[Zone], anchors: &[Coord<f64>], floor_area: &[f64], building_ids: &[String], persons_per_household: Option<f64>, mut report: ZoneReport) -> ZoneDistribution {
    let index = crate::geom::BoxIndex::new(zones.iter().map(|z| z.area.bounding_rect()));
    // Zone of each building: the first zone (file order) containing its anchor; and how many.
    let found: Vec<(Option<usize>, usize)> = anchors
        .par_iter()
        .map(|a| {
            let mut hits: Vec<usize> = index
                .at(*a)
                .filter(|&z| zones[z].area.intersects(&Point(*a)))
                .collect();
            hits.sort_unstable();
            (hits.first().copied(), hits.len())
        })
        .collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); zones.len()];
    for (b, (z, hits)) in found.iter().enumerate() {
        match z {
            Some(z) => members[*z].push(b),
            None => {
                report.buildings_outside += 1;
                if report.buildings_outside_ids.len() < LISTED {
                    report.buildings_outside_ids.push(building_ids[b].clone());
                }
            }
        }
        if *hits > 1 {
            report.buildings_in_several_zones += 1;
        }
    }
    let gives_households = zones.iter().any(|z| zone_households(z, persons_per_household).is_some());
    let mut population = vec![0.0; anchors.len()];
    let mut households = vec![0.0; anchors.len()];
    for (z, bs) in zones.iter().zip(&members) {
        let hh = zone_households(z, persons_per_household);
        report.population_total += z.population;
        if bs.is_empty() {
            report.empty_zones.push(EmptyZone { zone: z.label.clone(), population: z.population, households: hh });
            continue;
        }
        let weights: Vec<f64> = bs.iter().map(|&b| floor_area[b]).collect();
        for (&b, p) in bs.iter().zip(apportion(z.population, &weights)) {
            population[b] = p;
        }
        report.population_placed += z.population;
        if let Some(hh) = hh {
            for (&b, h) in bs.iter().zip(apportion(hh, &weights)) {
                households[b] = h;
            }
            *report.households_placed.get_or_insert(0.0) += hh;
        }
    }
    ZoneDistribution { population, households: gives_households.then_some(households), report }
}

impl ZoneReport {
    /// One-line warnings for empty zones, buildings outside every zone and overlapping zones.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.empty_zones.is_empty() {
            let lost: f64 = self.empty_zones.iter().map(|z| z.population).sum();
            out.push(format!(
                "{}: {} zone(s) hold no building, so their population of {lost} is not placed: {}",
                self.zones_file,
                self.empty_zones.len(),
                crate::text::first_of(self.empty_zones.iter().map(|z| &z.zone), self.empty_zones.len(), 10, ", ")
            ));
        }
        if self.buildings_outside > 0 {
            out.push(format!(
                "{} building(s) lie outside every zone of {} and get no population: {}",
                self.buildings_outside,
                self.zones_file,
                crate::text::first_of(&self.buildings_outside_ids, self.buildings_outside, 10, ", ")
            ));
        }
        if self.buildings_in_several_zones > 0 {
            out.push(format!(
                "{}: zones overlap; {} building(s) lie in several and were given to the first in file order",
                self.zones_file, self.buildings_in_several_zones
            ));
        }
        out
    }
}

/// The zones of `--population-zones` in working metres, with their totals.
pub(super) fn read_zones(layer: &Layer, frames: &Frames, config: &PartitionConfig) -> Result<Vec<Zone>> {
    let pop_col = config.sources.zone_population.clone().unwrap_or_default();
    let polygons = frames.feature_polygons(layer, "zone")?;
    let available = || layer.columns.join(", ");
    if !layer.has_column(&pop_col) {
        return Err(Error::layer(&layer.name, format!("has no '{pop_col}' column for {} (columns: {})", OptionName("zone_population"), available())));
    }
    if let Some(c) = &config.sources.zone_households {
        if !layer.has_column(c) {
            return Err(Error::layer(&layer.name, format!("has no '{c}' column for {} (columns: {})", OptionName("zone_households"), available())));
        }
    }
    // Zones without a polygon are kept (empty) so their totals are reported as not placed.
    let mut by_feature: Vec<Option<MultiPolygon<f64>>> = vec![None; layer.features.len()];
    for (i, area) in polygons {
        by_feature[i] = Some(area);
    }
    let mut out = Vec::with_capacity(by_feature.len());
    for (i, area) in by_feature.into_iter().enumerate() {
        let area = area.unwrap_or_else(|| MultiPolygon(Vec::new()));
        let f = &layer.features[i];
        let value = |col: &str| -> Result<f64> {
            let idx = layer.column_index(col).expect("zone column requested");
            match &f.attributes[idx] {
                None => Err(Error::feature(&layer.name, f.label(), FeatureFault::MissingColumn { column: col.into(), available: available() })),
                Some(v) => count_value(v, col).map_err(|fault| Error::feature(&layer.name, f.label(), fault)),
            }
        };
        let population = value(&pop_col)?;
        let households = config.sources.zone_households.as_deref().map(value).transpose()?;
        out.push(Zone { label: f.id.as_ref().map_or_else(|| f.row.to_string(), |id| id.to_string()), area, population, households });
    }
    if out.is_empty() {
        return Err(Error::layer(&layer.name, "has no zone polygon"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(x0: f64, y0: f64, s: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![(x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s)]])
    }

    fn blank(zones: usize) -> ZoneReport {
        ZoneReport { zones_file: "z".into(), zones, population_column: "pop".into(), ..Default::default() }
    }

    #[test]
    fn keeps_each_zone_total_and_reports_the_rest() {
        let zones = vec![
            Zone { label: "A".into(), area: square(0.0, 0.0, 100.0), population: 1001.0, households: None },
            Zone { label: "B".into(), area: square(100.0, 0.0, 100.0), population: 50.0, households: None },
            Zone { label: "C".into(), area: square(500.0, 0.0, 10.0), population: 7.0, households: None },
        ];
        let anchors = vec![Coord { x: 10.0, y: 10.0 }, Coord { x: 50.0, y: 50.0 }, Coord { x: 150.0, y: 50.0 }, Coord { x: 900.0, y: 0.0 }, Coord { x: 20.0, y: 80.0 }];
        let area = vec![100.0, 300.0, 5.0, 10.0, 0.0];
        let ids: Vec<String> = (0..5).map(|i| format!("b{i}")).collect();
        let d = distribute(&zones, &anchors, &area, &ids, Some(2.5), blank(3));
        assert_eq!(d.population[0] + d.population[1] + d.population[4], 1001.0);
        assert_eq!(d.population[4], 0.0);
        assert!(d.population[1] > 2.9 * d.population[0]);
        assert_eq!(d.population[2], 50.0);
        assert_eq!(d.population[3], 0.0);
        let hh = d.households.unwrap();
        assert_eq!(hh[0] + hh[1] + hh[4], (1001.0f64 / 2.5).round());
        assert_eq!(hh[2], 20.0);
        assert_eq!(d.report.empty_zones.len(), 1);
        assert_eq!(d.report.empty_zones[0].zone, "C");
        assert_eq!(d.report.buildings_outside_ids, vec!["b3".to_string()]);
        assert_eq!(d.report.population_placed, 1051.0);
        assert_eq!(d.report.population_total, 1058.0);
    }

    #[test]
    fn overlapping_zones_give_a_building_to_the_first() {
        let zones = vec![
            Zone { label: "A".into(), area: square(0.0, 0.0, 100.0), population: 10.0, households: Some(4.0) },
            Zone { label: "B".into(), area: square(50.0, 0.0, 100.0), population: 20.0, households: Some(8.0) },
        ];
        let anchors = vec![Coord { x: 60.0, y: 10.0 }, Coord { x: 120.0, y: 10.0 }];
        let d = distribute(&zones, &anchors, &[1.0, 1.0], &["x".into(), "y".into()], None, blank(2));
        assert_eq!(d.population, vec![10.0, 20.0]);
        assert_eq!(d.households.unwrap(), vec![4.0, 8.0]);
        assert_eq!(d.report.buildings_in_several_zones, 1);
    }
}
