//! The values of every building: id (unique), households, population and the weight of its
//! walk, each checked (finite, >= 0) with the file, the feature and the column named; floor
//! areas for sharing zone and table totals.

use std::collections::HashMap;

use geo::{Area, Coord};
use serde_json::Value;

use super::existing::ExistingGrids;
use super::{Building, Footprint};
use crate::config::{ObjectiveWeight, PartitionConfig};
use crate::error::{Error, FeatureFault, Result};
use crate::read::{FeatureId, Layer};

/// Household, population and id values of every building, validated.
pub(super) struct BuildingValues {
    pub(super) households: Vec<f64>,
    pub(super) population: Option<Vec<Option<f64>>>,
    pub(super) population_column: Option<String>,
    pub(super) ids: Vec<FeatureId>,
    pub(super) cost_weight: Vec<f64>,
}

impl BuildingValues {
    /// Reads the values; with `households_elsewhere` (a table or zones give them) the household
    /// column is not required and missing values count 0 until replaced.
    pub(super) fn extract(layer: &Layer, config: &PartitionConfig, households_elsewhere: bool) -> Result<BuildingValues> {
        let name = &layer.name;
        let available = || {
            if layer.columns.is_empty() {
                "none".to_string()
            } else {
                layer.columns.join(", ")
            }
        };
        let hh_col = &config.columns.households;
        let hh_idx = layer.column_index(hh_col).expect("households column requested");
        let pop_col = config.columns.population.clone().unwrap_or_else(|| "population".into());
        let pop_idx = layer.column_index(&pop_col).expect("population column requested");
        let use_population = config.columns.population.is_some() || layer.has_column(&pop_col);
        if config.columns.population.is_some() && !layer.has_column(&pop_col) {
            return Err(Error::layer(name, format!("has no '{pop_col}' column (columns: {})", available())));
        }
        let mut households = Vec::with_capacity(layer.features.len());
        let mut population = Vec::with_capacity(layer.features.len());
        let mut ids = Vec::with_capacity(layer.features.len());
        let mut first_row: HashMap<FeatureId, usize> = HashMap::with_capacity(layer.features.len());
        let weight_idx = config.walking.objective_weight.column().map(|c| {
            (c.to_string(), layer.column_index(c).expect("weight column requested"))
        });
        if let Some((c, _)) = &weight_idx {
            if !layer.has_column(c) {
                return Err(Error::layer(name, format!("has no '{c}' column for --objective-weight (columns: {})", available())));
            }
        }
        let mut cost_weight = Vec::with_capacity(layer.features.len());
        for f in &layer.features {
            let id = match &config.columns.id {
                Some(col) => {
                    let idx = layer.column_index(col).expect("id column requested");
                    match &f.attributes[idx] {
                        None => {
                            return Err(Error::feature(name, f.label(), FeatureFault::MissingColumn {
                                column: col.clone(),
                                available: available(),
                            }))
                        }
                        Some(v) => FeatureId::from_json(v)
                            .map_err(|m| Error::feature(name, f.label(), FeatureFault::BadId { message: format!("'{col}' is {m}") }))?,
                    }
                }
                None => f.id.clone().unwrap_or(FeatureId::Number(f.row as i64)),
            };
            if let Some(&first) = first_row.get(&id) {
                return Err(Error::feature(name, f.label(), FeatureFault::DuplicateId { id: id.to_string(), first_row: first }));
            }
            first_row.insert(id.clone(), f.row);
            let label = crate::read::feature_label(f.row, Some(id.to_string()));
            let hh = match &f.attributes[hh_idx] {
                _ if households_elsewhere => 0.0,
                None => {
                    return Err(Error::feature(name, &label, FeatureFault::MissingColumn { column: hh_col.clone(), available: available() }))
                }
                Some(v) => count_value(v, hh_col).map_err(|fault| Error::feature(name, &label, fault))?,
            };
            let pop = if use_population {
                match &f.attributes[pop_idx] {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(count_value(v, &pop_col).map_err(|fault| Error::feature(name, &label, fault))?),
                }
            } else {
                None
            };
            let weight = match (&weight_idx, &config.walking.objective_weight) {
                (Some((col, i)), _) => match &f.attributes[*i] {
                    None => return Err(Error::feature(name, &label, FeatureFault::MissingColumn { column: col.clone(), available: available() })),
                    Some(v) => count_value(v, col).map_err(|fault| Error::feature(name, &label, fault))?,
                },
                (None, ObjectiveWeight::Buildings) => 1.0,
                (None, _) => hh,
            };
            households.push(hh);
            population.push(pop);
            ids.push(id);
            cost_weight.push(weight);
        }
        Ok(BuildingValues {
            households,
            population: use_population.then_some(population),
            population_column: use_population.then_some(pop_col),
            ids,
            cost_weight,
        })
    }

    /// The buildings (file order) with these values, their footprints, anchors and existing
    /// grids.
    pub(super) fn into_buildings(self, layer: &Layer, footprints: Vec<Footprint>, anchors: Vec<Coord<f64>>, existing: Option<&ExistingGrids>) -> Vec<Building> {
        let mut out = Vec::with_capacity(layer.features.len());
        for ((f, footprint), anchor) in layer.features.iter().zip(footprints).zip(anchors) {
            out.push(Building {
                row: f.row,
                id: self.ids[f.row].clone(),
                households: self.households[f.row],
                population: self.population.as_ref().map(|p| p[f.row]).unwrap_or(None),
                cost_weight: self.cost_weight[f.row],
                footprint,
                anchor,
                existing_grid: existing.and_then(|e| e.grid_of_building[f.row]),
                part: None,
                community: super::communities::NO_COMMUNITY,
            });
        }
        out
    }
}

/// The number in an attribute value of `column`: a JSON number, or text holding one (spaces
/// around it are ignored); null and other values are refused.
pub fn number_value(v: &Value, column: &str) -> std::result::Result<f64, FeatureFault> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| FeatureFault::NonNumeric { column: column.into(), value: v.to_string() }),
        Value::Null => Err(FeatureFault::NullValue { column: column.into() }),
        other => Err(FeatureFault::NonNumeric { column: column.into(), value: other.to_string() }),
    }
}

/// A count (households, population): a number, or text holding one; finite and >= 0.
pub fn count_value(v: &Value, column: &str) -> std::result::Result<f64, FeatureFault> {
    let x = number_value(v, column)?;
    if !x.is_finite() || x < 0.0 {
        return Err(FeatureFault::NegativeOrNonFinite { column: column.into(), value: x });
    }
    if x > MAX_COUNT {
        return Err(FeatureFault::CountTooLarge { column: column.into(), value: x, max: MAX_COUNT });
    }
    Ok(x)
}

/// The largest count one feature may hold (households, population, a zone's total): a billion,
/// so that any sum over a city stays exact in f64 and prints as a whole number.
pub const MAX_COUNT: f64 = 1e9;

/// Floor area of each building (file order): footprint area × floors (the floors column, 1 when
/// not given or empty). Points take the median footprint area of the polygon buildings (1 m²
/// when there is none).
pub(super) fn floor_areas(layer: &Layer, footprints: &[Footprint], ids: &[FeatureId], config: &PartitionConfig, warnings: &mut Vec<String>) -> Result<Vec<f64>> {
    let mut areas: Vec<f64> = footprints.iter().filter_map(|f| match f { Footprint::Polygons(mp) => Some(mp.unsigned_area()), Footprint::Point(_) => None }).collect();
    areas.sort_by(f64::total_cmp);
    let median = if areas.is_empty() { 1.0 } else { areas[areas.len() / 2] };
    let floors_idx = match &config.columns.floors {
        None => None,
        Some(col) => {
            if !layer.has_column(col) {
                return Err(Error::layer(&layer.name, format!("has no '{col}' column for --floors (columns: {})", layer.columns.join(", "))));
            }
            Some((col, layer.column_index(col).expect("floors column requested")))
        }
    };
    let mut missing = 0usize;
    let mut out = Vec::with_capacity(footprints.len());
    for ((f, fp), id) in layer.features.iter().zip(footprints).zip(ids) {
        let floors = match floors_idx {
            None => 1.0,
            Some((col, i)) => match &f.attributes[i] {
                None | Some(Value::Null) => {
                    missing += 1;
                    1.0
                }
                Some(Value::String(s)) if s.trim().is_empty() => {
                    missing += 1;
                    1.0
                }
                Some(v) => count_value(v, col).map_err(|fault| Error::feature(&layer.name, crate::read::feature_label(f.row, Some(id.to_string())), fault))?,
            },
        };
        let area = match fp {
            Footprint::Polygons(mp) => mp.unsigned_area(),
            Footprint::Point(_) => median,
        };
        out.push(area * floors);
    }
    if missing > 0 {
        warnings.push(format!("{missing} building(s) have no '{}' value and count as 1 floor", config.columns.floors.as_deref().unwrap_or_default()));
    }
    Ok(out)
}
