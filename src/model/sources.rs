//! Households and population from elsewhere than the buildings' own columns: a households table
//! joined on a key ([`super::household_table`]) and zone totals shared by floor area
//! ([`super::zones`]). Replaces the values of the buildings and reports what was done.

use geo::Coord;

use super::values::{floor_areas, BuildingValues};
use super::layers::Frames;
use super::{household_table, zones, Footprint, SourceReports};
use crate::config::{ObjectiveWeight, OptionName, PartitionConfig};
use crate::error::{Error, Result};
use crate::read::{InputLayers, Layer};

/// The buildings (file order) the sources are shared among.
pub(super) struct Sharing<'a> {
    /// Their footprints (working metres).
    pub footprints: &'a [Footprint],
    /// Their anchors (working metres).
    pub anchors: &'a [Coord<f64>],
}

/// Applies the households table and the zones of `layers` to `values`, returning their
/// reports (none when neither is given).
pub(super) fn apply(layers: &InputLayers, config: &PartitionConfig, frames: &Frames, at: &Sharing, values: &mut BuildingValues, warnings: &mut Vec<String>) -> Result<SourceReports> {
    let mut reports = SourceReports::default();
    if layers.households_table.is_none() && layers.population_zones.is_none() {
        return Ok(reports);
    }
    let buildings = &layers.buildings;
    let floor_area = floor_areas(buildings, at.footprints, &values.ids, config, warnings)?;
    let ids: Vec<String> = values.ids.iter().map(|i| i.to_string()).collect();
    if let Some(table) = &layers.households_table {
        join_table(buildings, table, config, &floor_area, &ids, values, &mut reports, warnings)?;
    }
    if let Some(layer) = &layers.population_zones {
        let zone_list = zones::read_zones(layer, frames, config)?;
        let c = &config.sources;
        let report = zones::ZoneReport {
            zones_file: layer.name.clone(),
            zones: zone_list.len(),
            population_column: c.zone_population.clone().unwrap_or_default(),
            households_from: match (&c.zone_households, c.persons_per_household, layers.households_table.is_some()) {
                (_, _, true) => "the households table".into(),
                (Some(col), _, _) => format!("zone column '{col}', shared by floor area"),
                (None, Some(p), _) => format!("zone population / {p} persons per household, shared by floor area"),
                (None, None, _) => format!("the buildings' '{}' column", config.columns.households),
            },
            floors: config.columns.floors.as_ref().map_or_else(|| "1 floor each".into(), |f| format!("column '{f}'")),
            point_buildings: at.footprints.iter().filter(|f| matches!(f, Footprint::Point(_))).count(),
            ..Default::default()
        };
        let d = zones::distribute(&zone_list, at.anchors, &floor_area, &ids, c.persons_per_household, report);
        warnings.extend(d.report.warnings());
        values.population = Some(d.population.into_iter().map(Some).collect());
        values.population_column = Some(config.columns.population.clone().unwrap_or_else(|| "population".into()));
        reports.population_derived = true;
        if let (Some(hh), false) = (d.households, layers.households_table.is_some()) {
            values.households = hh;
            reports.households_derived = true;
        }
        reports.population_zones = Some(d.report);
    }
    if reports.households_derived && config.walking.objective_weight == ObjectiveWeight::Households {
        values.cost_weight = values.households.clone();
    }
    Ok(reports)
}

/// Joins the households table on the configured key.
#[allow(clippy::too_many_arguments)]
fn join_table(buildings: &Layer, table: &Layer, config: &PartitionConfig, floor_area: &[f64], ids: &[String], values: &mut BuildingValues, reports: &mut SourceReports, warnings: &mut Vec<String>) -> Result<()> {
    let key = config.sources.join_on.clone().ok_or(Error::OptionNeeds { option: OptionName("households_table"), needs: OptionName("join_on").to_string() })?;
    let Some(idx) = buildings.column_index(&key.buildings).filter(|_| buildings.has_column(&key.buildings)) else {
        return Err(Error::layer(&buildings.name, format!("has no '{}' column to join the households table on (columns: {})", key.buildings, buildings.columns.join(", "))));
    };
    let keys: Vec<Option<String>> = buildings.features.iter().map(|f| f.attributes[idx].as_ref().and_then(household_table::key_text)).collect();
    let pop_col = config.columns.population.clone().unwrap_or_else(|| "population".into());
    let joined = household_table::join_households(table, &key, &config.columns.households, &pop_col, &keys, ids, floor_area)?;
    warnings.extend(joined.report.warnings());
    values.households = joined.households;
    if let Some(p) = joined.population {
        values.population = Some(p.into_iter().map(Some).collect());
        values.population_column.get_or_insert(pop_col);
        reports.population_derived = true;
    }
    reports.households_derived = true;
    reports.households_table = Some(joined.report);
    Ok(())
}
