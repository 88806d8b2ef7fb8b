//! Model stage: input layers → validated buildings, territory and barriers in the metric
//! working frame. Every bad value is refused here with the file, the feature and the fault.
//! Households and population may come from the buildings, from a separate table
//! ([`household_table`]) or from totals per zone ([`zones`]).

pub mod apportion;
pub mod existing;
pub mod household_table;
pub mod split;
pub mod zones;

use std::collections::HashMap;

use geo::{Area, BoundingRect, ConvexHull, Coord, Geometry, InteriorPoint, LineString, MultiPoint, MultiPolygon, Point, Polygon, Rect};
use rayon::prelude::*;
use serde_json::Value;

use crate::config::PartitionConfig;
use crate::crs::PROJ_JOB_LEN;
use crate::crs::{self, CrsKind, CrsSpec, Projector, WorkFrame};
use crate::error::{Error, FeatureFault, Result};
use crate::config::{ObjectiveWeight, OptionName};
use crate::network::walkable_lines;
use crate::read::{FeatureId, InputColumns, InputFeature, InputLayers, Layer};

/// A building's footprint in working metres.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    /// One or more polygons (a building mapped in several parts is one MultiPolygon).
    Polygons(MultiPolygon<f64>),
    /// A building given only as a point.
    Point(Coord<f64>),
}

/// One building: the unit that grids are made of.
#[derive(Debug, Clone)]
pub struct Building {
    /// Zero-based row in the buildings file.
    pub row: usize,
    /// Id from `--id`, the feature id, or the row number.
    pub id: FeatureId,
    /// Household count (the load of a grid).
    pub households: f64,
    /// Population, when the layer has it.
    pub population: Option<f64>,
    /// Weight of its walk in the objective: households, 1, or a column (see the config).
    pub cost_weight: f64,
    /// Footprint in working metres.
    pub footprint: Footprint,
    /// A point inside the footprint (working metres): where the building is for distances.
    pub anchor: Coord<f64>,
    /// Its grid in the existing division, when re-dividing: an index into the existing grid
    /// ids (`sources.existing.ids`).
    pub existing_grid: Option<u32>,
    /// When it is a part of an input building split by units or floors ([`split`]).
    pub part: Option<split::PartOf>,
}

/// The area the grids must tile, in working metres.
#[derive(Debug, Clone)]
pub struct Territory {
    /// Polygons of the territory.
    pub area: MultiPolygon<f64>,
    /// True when derived from the buildings (no `--territory` given).
    pub derived: bool,
}

/// The data a partition run works on.
#[derive(Debug, Clone)]
pub struct Model {
    /// Metric working frame (and the input CRS outputs go back to).
    pub frame: WorkFrame,
    /// Buildings in file order.
    pub buildings: Vec<Building>,
    /// Territory to tile.
    pub territory: Territory,
    /// Barrier lines (polygon barriers contribute their rings) that no grid may cross.
    pub barriers: Vec<LineString<f64>>,
    /// Walkable lines, when a network is given.
    pub network: Option<Vec<LineString<f64>>>,
    /// Name of the population column used, if any.
    pub population_column: Option<String>,
    /// Where households and population came from when not (only) from the buildings' columns.
    pub sources: SourceReports,
    /// Non-fatal remarks about the input (kept in the summary).
    pub warnings: Vec<String>,
}

impl Model {
    /// The polygons of the locked grids of an existing polygon layer (none otherwise).
    pub fn locked_shapes(&self) -> &[existing::LockedShape] {
        self.sources.existing.as_ref().map_or(&[], |e| e.locked_shapes.as_slice())
    }

    /// The ids of the existing division's grids, when re-dividing.
    pub fn existing_ids(&self) -> Option<&[FeatureId]> {
        self.sources.existing.as_ref().map(|e| e.ids.as_slice())
    }
}

/// The columns to keep from each input layer for `config`.
pub fn input_columns(config: &PartitionConfig) -> InputColumns {
    InputColumns {
        buildings: building_columns(config),
        network: config.walking.network_filter.iter().map(|f| f.column.clone()).collect(),
        households_table: table_columns(config),
        population_zones: zone_columns(config),
        existing: existing_columns(config),
    }
}

/// Columns to read from an existing grid layer: its id column.
pub fn existing_columns(config: &PartitionConfig) -> Vec<String> {
    vec![config.redivision.existing_id.clone().unwrap_or_else(|| "grid_id".into())]
}

/// What the households table and the zones did (None when not given), and which building
/// counts they set, so outputs can write those counts on each building.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceReports {
    /// The households table join.
    pub households_table: Option<household_table::JoinReport>,
    /// The zone distribution.
    pub population_zones: Option<zones::ZoneReport>,
    /// The existing division, when re-dividing.
    pub existing: Option<existing::ExistingReport>,
    /// True when building households were set by the table or the zones.
    #[serde(skip)]
    pub households_derived: bool,
    /// True when building population was set by the table or the zones.
    #[serde(skip)]
    pub population_derived: bool,
}

/// Columns to read from the buildings layer for `config`.
pub fn building_columns(config: &PartitionConfig) -> Vec<String> {
    let mut cols = vec![config.columns.households.clone()];
    cols.push(config.columns.population.clone().unwrap_or_else(|| "population".into()));
    if let Some(id) = &config.columns.id {
        cols.push(id.clone());
    }
    if let Some(w) = config.walking.objective_weight.column() {
        cols.push(w.to_string());
    }
    if let Some(key) = &config.sources.join_on {
        cols.push(key.buildings.clone());
    }
    if let Some(f) = &config.columns.floors {
        cols.push(f.clone());
    }
    if let Some(u) = &config.columns.units {
        cols.push(u.clone());
    }
    if let Some(e) = &config.redivision.existing_column {
        cols.push(e.clone());
    }
    cols
}

/// Columns to read from a households table for `config`: key, households, population.
pub fn table_columns(config: &PartitionConfig) -> Vec<String> {
    let key = config.sources.join_on.as_ref().map(|k| k.table.clone()).unwrap_or_default();
    vec![key, config.columns.households.clone(), config.columns.population.clone().unwrap_or_else(|| "population".into())]
}

/// Columns to read from a zones layer for `config`: population, then households when given.
pub fn zone_columns(config: &PartitionConfig) -> Vec<String> {
    config.sources.zone_population.iter().chain(config.sources.zone_households.iter()).cloned().collect()
}

/// Refuses options of a households table or zones given without the layer, and the reverse.
fn check_source_options(sources: &InputLayers, config: &PartitionConfig) -> Result<()> {
    let needs = |option: &'static str, needs: String| Err(Error::OptionNeeds { option: OptionName(option), needs });
    let only_with = |option: &'static str, with: &'static str| Err(Error::OptionOnlyWith { option: OptionName(option), with: OptionName(with).to_string() });
    match (sources.households_table.is_some(), config.sources.join_on.is_some()) {
        (true, false) => return needs("households_table", format!("{} COLUMN (or BUILDINGS_COLUMN=TABLE_COLUMN)", OptionName("join_on"))),
        (false, true) => return only_with("join_on", "households_table"),
        _ => {}
    }
    if sources.population_zones.is_some() && config.sources.zone_population.is_none() {
        return needs("population_zones", format!("{} COLUMN", OptionName("zone_population")));
    }
    if sources.population_zones.is_none() {
        if config.sources.zone_population.is_some() {
            return only_with("zone_population", "population_zones");
        }
        if config.sources.zone_households.is_some() {
            return only_with("zone_households", "population_zones");
        }
        if config.sources.persons_per_household.is_some() {
            return only_with("persons_per_household", "population_zones");
        }
    }
    Ok(())
}

/// Model stage: the model from the input layers (the buildings read with [`building_columns`],
/// the others with [`input_columns`]).
pub fn build_model(layers: &InputLayers, config: &PartitionConfig) -> Result<Model> {
    let (buildings, territory, barriers, network) = (&layers.buildings, layers.territory.as_ref(), &layers.barriers, layers.network.as_ref());
    config.validate()?;
    check_source_options(layers, config)?;
    if buildings.features.is_empty() {
        return Err(Error::layer(&buildings.name, "has no features"));
    }
    let mut warnings = Vec::new();
    let user_crs = config.columns.crs.as_deref().map(CrsSpec::parse);
    let source = user_crs.clone().or_else(|| buildings.crs.clone()).unwrap_or(CrsSpec::Crs84);
    let kind = crs::classify(&source, &buildings.name)?;
    let bounds = buildings
        .bounds()
        .ok_or_else(|| Error::layer(&buildings.name, "no feature has a geometry"))?;
    crs::check_plausible(&kind, &source, bounds, &buildings.name)?;
    let frame = WorkFrame::new(source.clone(), &kind, bounds, &buildings.name)?;

    let households_elsewhere = layers.households_table.is_some()
        || (layers.population_zones.is_some() && (config.sources.zone_households.is_some() || config.sources.persons_per_household.is_some()));
    let mut values = BuildingValues::extract(buildings, config, households_elsewhere)?;
    let name = buildings.name.as_str();
    let converted: Vec<Result<(Footprint, Option<String>)>> = buildings
        .features
        .par_iter()
        // Few, long jobs: each makes its own PROJ object, which is costly to create.
        .with_min_len(PROJ_JOB_LEN)
        .map_init(
            || frame.projector(name),
            |proj, f| {
                let proj = proj.as_ref().map_err(clone_err)?;
                footprint(f, proj, name, &values.ids[f.row])
            },
        )
        .collect();
    let mut footprints = Vec::with_capacity(converted.len());
    for r in converted {
        let (footprint, warning) = r?;
        warnings.extend(warning);
        footprints.push(footprint);
    }
    let anchors: Vec<Coord<f64>> = footprints.iter().map(anchor_of).collect();
    let mut reports = SourceReports::default();
    if layers.households_table.is_some() || layers.population_zones.is_some() {
        let floor_area = floor_areas(buildings, &footprints, &values.ids, config, &mut warnings)?;
        let ids: Vec<String> = values.ids.iter().map(|i| i.to_string()).collect();
        if let Some(table) = &layers.households_table {
            let key = config.sources.join_on.clone().ok_or(Error::OptionNeeds { option: OptionName("households_table"), needs: OptionName("join_on").to_string() })?;
            if !buildings.has_column(&key.buildings) {
                return Err(Error::layer(&buildings.name, format!("has no '{}' column to join the households table on (columns: {})", key.buildings, buildings.columns.join(", "))));
            }
            let idx = buildings.column_index(&key.buildings).expect("join column requested");
            let keys: Vec<Option<String>> = buildings.features.iter().map(|f| f.attributes[idx].as_ref().and_then(household_table::key_text)).collect();
            let pop_col = config.columns.population.clone().unwrap_or_else(|| "population".into());
            let joined = household_table::join_households(table, &key, &config.columns.households, &pop_col, &keys, &ids, &floor_area)?;
            warnings.extend(joined.report.warnings());
            values.households = joined.households;
            if let Some(p) = joined.population {
                values.population = Some(p.into_iter().map(Some).collect());
                values.population_column.get_or_insert(pop_col);
                reports.population_derived = true;
            }
            reports.households_derived = true;
            reports.households_table = Some(joined.report);
        }
        if let Some(layer) = &layers.population_zones {
            let zone_list = read_zones(layer, &frame, &source, user_crs.is_some(), config)?;
            let report = zones::ZoneReport {
                zones_file: layer.name.clone(),
                zones: zone_list.len(),
                population_column: config.sources.zone_population.clone().unwrap_or_default(),
                households_from: match (&config.sources.zone_households, config.sources.persons_per_household, layers.households_table.is_some()) {
                    (_, _, true) => "the households table".into(),
                    (Some(c), _, _) => format!("zone column '{c}', shared by floor area"),
                    (None, Some(p), _) => format!("zone population / {p} persons per household, shared by floor area"),
                    (None, None, _) => format!("the buildings' '{}' column", config.columns.households),
                },
                floors: config.columns.floors.as_ref().map_or_else(|| "1 floor each".into(), |f| format!("column '{f}'")),
                point_buildings: footprints.iter().filter(|f| matches!(f, Footprint::Point(_))).count(),
                ..Default::default()
            };
            let d = zones::distribute(&zone_list, &anchors, &floor_area, &ids, config.sources.persons_per_household, report);
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
    }
    let existing_grid = existing_division(buildings, &footprints, &anchors, &values.ids, layers.existing.as_ref(), &frame, &source, user_crs.is_some(), config)?;
    if let Some(e) = &existing_grid {
        warnings.extend((e.report.buildings_without_grid > 0).then(|| format!("{} building(s) are in no existing grid and join a neighbouring grid", e.report.buildings_without_grid)));
        warnings.extend((e.report.ambiguous_buildings > 0).then(|| format!("{} building(s) lie in several existing grids (overlaps) and were given to the one covering most of their footprint", e.report.ambiguous_buildings)));
        reports.existing = Some(e.report.clone());
    }
    let mut out = Vec::with_capacity(buildings.features.len());
    for ((f, footprint), anchor) in buildings.features.iter().zip(footprints).zip(anchors) {
        out.push(Building {
            row: f.row,
            id: values.ids[f.row].clone(),
            households: values.households[f.row],
            population: values.population.as_ref().map(|p| p[f.row]).unwrap_or(None),
            cost_weight: values.cost_weight[f.row],
            footprint,
            anchor,
            existing_grid: existing_grid.as_ref().and_then(|e| e.grid_of_building[f.row]),
            part: None,
        });
    }

    canonical_order(&mut out, &frame, name)?;

    let territory = match territory {
        Some(layer) => Territory { area: territory_polygons(layer, &frame, &source, user_crs.is_some())?, derived: false },
        None => Territory { area: derived_territory(&out, config.graph.territory_buffer_m), derived: true },
    };
    if !territory.derived {
        let index = crate::geom::PolygonIndex::new(&territory.area);
        let outside: Vec<String> = out.iter().filter(|b| !index.contains(b.anchor)).map(|b| b.id.to_string()).collect();
        if !outside.is_empty() {
            let more = if outside.len() > 10 { format!(" and {} more", outside.len() - 10) } else { String::new() };
            warnings.push(format!(
                "{} building(s) lie outside the territory ({}{more}); their footprints are added to the tiled area",
                outside.len(),
                outside.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut lines = Vec::new();
    for layer in barriers {
        let (l, points) = layer_lines(layer, &frame, &source, user_crs.is_some())?;
        lines.extend(l.into_iter().map(|x| x.1));
        if points > 0 {
            warnings.push(format!("{}: {points} point feature(s) ignored: a barrier must be a line or a polygon", layer.name));
        }
    }
    let network = match network {
        None => None,
        Some(layer) => {
            let filter = config.walking.network_filter.as_ref();
            if let Some(f) = &filter {
                if !layer.has_column(&f.column) {
                    return Err(Error::layer(&layer.name, format!("has no '{}' column for --network-filter", f.column)));
                }
            }
            let (l, points) = layer_lines(layer, &frame, &source, user_crs.is_some())?;
            if points > 0 {
                warnings.push(format!("{}: {points} point feature(s) ignored: the network is made of lines", layer.name));
            }
            let kept = walkable_lines(layer, l, filter);
            if kept.is_empty() {
                return Err(Error::layer(&layer.name, "no walkable line is left after the filter"));
            }
            Some(kept)
        }
    };
    Ok(Model {
        frame,
        buildings: out,
        territory,
        barriers: lines,
        network,
        population_column: values.population_column,
        sources: reports,
        warnings,
    })
}

fn clone_err(e: &Error) -> Error {
    match e {
        Error::Crs { path, crs, message } => Error::Crs { path: path.clone(), crs: crs.clone(), message: message.clone() },
        other => Error::Invariant { stage: "model", message: other.to_string() },
    }
}

/// Household, population and id values of every building, validated.
struct BuildingValues {
    households: Vec<f64>,
    population: Option<Vec<Option<f64>>>,
    population_column: Option<String>,
    ids: Vec<FeatureId>,
    cost_weight: Vec<f64>,
}

impl BuildingValues {
    /// Reads the values; with `households_elsewhere` (a table or zones give them) the household
    /// column is not required and missing values count 0 until replaced.
    fn extract(layer: &Layer, config: &PartitionConfig, households_elsewhere: bool) -> Result<BuildingValues> {
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
                return Err(Error::feature(name, format!("#{}", f.row), FeatureFault::DuplicateId { id: id.to_string(), first_row: first }));
            }
            first_row.insert(id.clone(), f.row);
            let label = id.to_string();
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
}

/// A count (households, population): a number, or text holding one; finite and >= 0.
fn count_value(v: &Value, column: &str) -> std::result::Result<f64, FeatureFault> {
    let x = match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| FeatureFault::NonNumeric {
            column: column.into(),
            value: v.to_string(),
        })?,
        Value::Null => return Err(FeatureFault::NullValue { column: column.into() }),
        other => return Err(FeatureFault::NonNumeric { column: column.into(), value: other.to_string() }),
    };
    if !x.is_finite() || x < 0.0 {
        return Err(FeatureFault::NegativeOrNonFinite { column: column.into(), value: x });
    }
    Ok(x)
}

/// Floor area of each building (file order): footprint area × floors (the floors column, 1 when
/// not given or empty). Points take the median footprint area of the polygon buildings (1 m²
/// when there is none).
fn floor_areas(layer: &Layer, footprints: &[Footprint], ids: &[FeatureId], config: &PartitionConfig, warnings: &mut Vec<String>) -> Result<Vec<f64>> {
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
                Some(v) => count_value(v, col).map_err(|fault| Error::feature(&layer.name, id.to_string(), fault))?,
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

/// Each building's existing grid: from the existing grid column or the existing polygon layer.
#[allow(clippy::too_many_arguments)]
fn existing_division(
    layer: &Layer,
    footprints: &[Footprint],
    anchors: &[Coord<f64>],
    ids: &[FeatureId],
    polygons: Option<&Layer>,
    frame: &WorkFrame,
    buildings_crs: &CrsSpec,
    user_crs: bool,
    config: &PartitionConfig,
) -> Result<Option<existing::ExistingGrids>> {
    let mut report = existing::ExistingReport { locked: config.redivision.locked.clone(), ..Default::default() };
    let grid_of_building: Vec<Option<u32>> = match (&config.redivision.existing_column, polygons) {
        (None, None) => {
            let division = || format!("an existing division ({} or {})", OptionName("existing"), OptionName("existing_column"));
            if config.redivision.stability != 1.0 {
                return Err(Error::OptionNeeds { option: OptionName("stability"), needs: division() });
            }
            if !config.redivision.locked.is_empty() {
                return Err(Error::OptionNeeds { option: OptionName("locked"), needs: division() });
            }
            return Ok(None);
        }
        (Some(_), Some(_)) => return Err(Error::OptionsExclusive { first: OptionName("existing"), second: OptionName("existing_column") }),
        (Some(col), None) => {
            if !layer.has_column(col) {
                return Err(Error::layer(&layer.name, format!("has no '{col}' column for --existing-column (columns: {})", layer.columns.join(", "))));
            }
            report.source = format!("column '{col}' of the buildings");
            let idx = layer.column_index(col).expect("existing column requested");
            let ids_of_building = layer
                .features
                .iter()
                .zip(ids)
                .map(|(f, id)| match &f.attributes[idx] {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                    Some(v) => FeatureId::grid_id(v).map(Some).map_err(|m| Error::feature(&layer.name, id.to_string(), FeatureFault::BadId { message: format!("'{col}': {m}") })),
                })
                .collect::<Result<Vec<Option<FeatureId>>>>()?;
            let mut distinct: Vec<FeatureId> = ids_of_building.iter().flatten().cloned().collect();
            distinct.sort();
            distinct.dedup();
            report.ids = distinct;
            ids_of_building.iter().map(|g| g.as_ref().map(|g| report.ids.binary_search(g).expect("a listed id") as u32)).collect()
        }
        (None, Some(grid_layer)) => {
            let col = config.redivision.existing_id.clone().unwrap_or_else(|| "grid_id".into());
            let idx = grid_layer.column_index(&col).expect("existing id column requested");
            let has_col = grid_layer.has_column(&col);
            if config.redivision.existing_id.is_some() && !has_col {
                return Err(Error::layer(&grid_layer.name, format!("has no '{col}' column for --existing-id (columns: {})", grid_layer.columns.join(", "))));
            }
            // One id source for the whole layer: the id column, else feature ids, else row + 1.
            let use_feature_ids = !has_col && grid_layer.features.iter().all(|f| f.id.is_some());
            let mut grids = Vec::new();
            let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
            let polygon_features = feature_polygons(grid_layer, frame, buildings_crs, user_crs, "existing grid")?;
            for (i, mp) in polygon_features.iter().cloned() {
                let f = &grid_layer.features[i];
                let value = match (has_col, use_feature_ids) {
                    (true, _) => f.attributes[idx].clone().ok_or_else(|| {
                        Error::feature(&grid_layer.name, f.label(), FeatureFault::MissingColumn { column: col.clone(), available: grid_layer.columns.join(", ") })
                    })?,
                    (false, true) => f.id.as_ref().expect("every feature has an id").to_json(),
                    (false, false) => Value::from(f.row as u64 + 1),
                };
                let id = FeatureId::grid_id(&value).map_err(|m| Error::feature(&grid_layer.name, f.label(), FeatureFault::BadId { message: m }))?;
                if let Some(first) = seen.insert(id.to_string(), f.label()) {
                    return Err(Error::feature(&grid_layer.name, f.label(), FeatureFault::BadId { message: format!("grid id {id} is also the id of feature {first}") }));
                }
                grids.push((id, mp));
            }
            let mut ids: Vec<FeatureId> = grids.iter().map(|g| g.0.clone()).collect();
            ids.sort();
            report.ids = ids;
            let grids: Vec<(u32, MultiPolygon<f64>)> = grids.into_iter().map(|(id, mp)| (report.ids.binary_search(&id).expect("a listed id") as u32, mp)).collect();
            // Locked grids keep their polygon: remember it with its vertices as given.
            let same_crs = !config.redivision.locked.is_empty() && layer_crs(grid_layer, buildings_crs, user_crs)? == *buildings_crs;
            let proj = if same_crs { Some(layer_projector(grid_layer, frame, buildings_crs, user_crs)?) } else { None };
            for ((feature, _), (grid, working)) in polygon_features.iter().zip(&grids) {
                if !config.redivision.locked.iter().any(|l| l.same(&report.ids[*grid as usize])) {
                    continue;
                }
                let f = &grid_layer.features[*feature];
                let err = |fault| Error::feature(&grid_layer.name, f.label(), fault);
                let mut vertices = Vec::new();
                if let Some(proj) = &proj {
                    let mut rings = Vec::new();
                    let mut points = Vec::new();
                    if let Some(g) = &f.geometry {
                        collect_parts(g, &mut rings, &mut points).ok();
                    }
                    for c in rings.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.iter()) {
                        vertices.push((to_work(*c, proj, &err)?, *c));
                    }
                }
                report.locked_shapes.push(existing::LockedShape { grid: *grid, feature: *feature, working: working.clone(), vertices });
            }
            report.source = format!(
                "grid polygons of {} (id: {})",
                grid_layer.name,
                if has_col { format!("column '{col}'") } else if use_feature_ids { "feature id".into() } else { "row number from 1".into() }
            );
            let (assigned, ambiguous) = existing::assign_to_polygons(&grids, anchors, footprints);
            report.ambiguous_buildings = ambiguous;
            assigned
        }
    };
    report.grids = report.ids.len();
    report.buildings_without_grid = grid_of_building.iter().filter(|g| g.is_none()).count();
    if let Some(l) = config.redivision.locked.iter().find(|l| !report.ids.iter().any(|i| i.same(l))) {
        return Err(Error::LockedGridUnknown { id: l.to_string(), grids: report.ids.len() });
    }
    Ok(Some(existing::ExistingGrids { grid_of_building, report }))
}

/// The zones of `--population-zones` in working metres, with their totals.
fn read_zones(layer: &Layer, frame: &WorkFrame, buildings_crs: &CrsSpec, user_crs: bool, config: &PartitionConfig) -> Result<Vec<zones::Zone>> {
    let pop_col = config.sources.zone_population.clone().unwrap_or_default();
    let polygons = feature_polygons(layer, frame, buildings_crs, user_crs, "zone")?;
    let available = || layer.columns.join(", ");
    if !layer.has_column(&pop_col) {
        return Err(Error::layer(&layer.name, format!("has no '{pop_col}' column for --zone-population (columns: {})", available())));
    }
    if let Some(c) = &config.sources.zone_households {
        if !layer.has_column(c) {
            return Err(Error::layer(&layer.name, format!("has no '{c}' column for --zone-households (columns: {})", available())));
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
        out.push(zones::Zone { label: f.label(), area, population, households });
    }
    if out.is_empty() {
        return Err(Error::layer(&layer.name, "has no zone polygon"));
    }
    Ok(out)
}

/// Puts the buildings in an order that does not depend on the file: by the longitude and
/// latitude of their anchors (to 1e-7°, about 1 cm), then households, then file row. The same
/// buildings read from any format or CRS are then divided identically.
fn canonical_order(buildings: &mut Vec<Building>, frame: &WorkFrame, name: &str) -> Result<()> {
    let keys: Vec<(i64, i64)> = buildings
        .par_iter()
        // Few, long jobs: each makes its own PROJ object, which is costly to create.
        .with_min_len(PROJ_JOB_LEN)
        .map_init(
            || frame.lonlat_projector(name),
            |proj, b| {
                let ll = proj.as_ref().ok().and_then(|p| p.to_lonlat(b.anchor).ok()).unwrap_or(b.anchor);
                ((ll.y * 1e7).round() as i64, (ll.x * 1e7).round() as i64)
            },
        )
        .collect();
    let mut order: Vec<usize> = (0..buildings.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(buildings[a].households.total_cmp(&buildings[b].households)).then(a.cmp(&b)));
    let mut taken: Vec<Option<Building>> = std::mem::take(buildings).into_iter().map(Some).collect();
    *buildings = order.into_iter().map(|i| taken[i].take().expect("each building once")).collect();
    Ok(())
}

/// Converts one building geometry to a working-frame footprint, refusing what cannot be used.
fn footprint(f: &InputFeature, proj: &Projector, layer: &str, id: &FeatureId) -> Result<(Footprint, Option<String>)> {
    let err = |fault| Error::feature(layer, id.to_string(), fault);
    let geom = f.geometry.as_ref().ok_or_else(|| err(FeatureFault::EmptyGeometry))?;
    let mut polygons = Vec::new();
    let mut points = Vec::new();
    collect_parts(geom, &mut polygons, &mut points).map_err(|found| {
        err(FeatureFault::WrongGeometryType { found, expected: "Polygon, MultiPolygon or Point".into() })
    })?;
    if !polygons.is_empty() && !points.is_empty() {
        return Err(err(FeatureFault::WrongGeometryType {
            found: "GeometryCollection of polygons and points".into(),
            expected: "Polygon, MultiPolygon or Point".into(),
        }));
    }
    if polygons.is_empty() {
        return match points.as_slice() {
            [] => Err(err(FeatureFault::EmptyGeometry)),
            [p] => Ok((Footprint::Point(to_work(*p, proj, &err)?), None)),
            _ => Err(err(FeatureFault::WrongGeometryType { found: "MultiPoint of several points".into(), expected: "Polygon, MultiPolygon or Point".into() })),
        };
    }
    let mut out = Vec::with_capacity(polygons.len());
    for poly in polygons {
        let exterior = ring_to_work(poly.exterior(), proj, &err)?;
        let Some(exterior) = exterior else { continue };
        let mut holes = Vec::new();
        for h in poly.interiors() {
            if let Some(h) = ring_to_work(h, proj, &err)? {
                holes.push(h);
            }
        }
        out.push(Polygon::new(exterior, holes));
    }
    if out.is_empty() {
        return Err(err(FeatureFault::EmptyGeometry));
    }
    let mp = MultiPolygon(out);
    if mp.unsigned_area() <= 1e-6 {
        // Every ring is flat: keep the building as a point.
        let c = mp.bounding_rect().map(|r| r.center()).unwrap_or_default();
        return Ok((Footprint::Point(c), Some(format!("building {id}: footprint has no area; used as a point"))));
    }
    Ok((Footprint::Polygons(mp), None))
}

/// Splits a geometry into polygons and points; Err(type name) for lines.
fn collect_parts(g: &Geometry<f64>, polygons: &mut Vec<Polygon<f64>>, points: &mut Vec<Coord<f64>>) -> std::result::Result<(), String> {
    match g {
        Geometry::Polygon(p) => polygons.push(p.clone()),
        Geometry::MultiPolygon(mp) => polygons.extend(mp.0.iter().cloned()),
        Geometry::Point(p) => points.push(p.0),
        Geometry::MultiPoint(mp) => points.extend(mp.0.iter().map(|p| p.0)),
        Geometry::GeometryCollection(gc) => {
            for m in &gc.0 {
                collect_parts(m, polygons, points)?;
            }
        }
        Geometry::LineString(_) | Geometry::Line(_) => return Err("LineString".into()),
        Geometry::MultiLineString(_) => return Err("MultiLineString".into()),
        Geometry::Rect(r) => polygons.push(r.to_polygon()),
        Geometry::Triangle(t) => polygons.push(t.to_polygon()),
    }
    Ok(())
}

fn to_work(c: Coord<f64>, proj: &Projector, err: &impl Fn(FeatureFault) -> Error) -> Result<Coord<f64>> {
    if !(c.x.is_finite() && c.y.is_finite()) {
        return Err(err(FeatureFault::NonFiniteCoordinate { x: c.x, y: c.y }));
    }
    proj.to_work(c).map_err(|m| err(FeatureFault::MalformedGeometry { message: m }))
}

/// A ring in working metres without repeated points; None for an empty ring.
fn ring_to_work(ring: &LineString<f64>, proj: &Projector, err: &impl Fn(FeatureFault) -> Error) -> Result<Option<LineString<f64>>> {
    if ring.0.is_empty() {
        return Ok(None);
    }
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let w = to_work(*c, proj, err)?;
        if pts.last() != Some(&w) {
            pts.push(w);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return Err(err(FeatureFault::DegenerateRing { points: pts.len() }));
    }
    pts.push(pts[0]);
    Ok(Some(LineString(pts)))
}

/// A point inside the footprint: the interior point of its largest polygon.
pub fn anchor_of(f: &Footprint) -> Coord<f64> {
    match f {
        Footprint::Point(c) => *c,
        Footprint::Polygons(mp) => {
            let largest = mp
                .0
                .iter()
                .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
                .expect("non-empty multipolygon");
            largest
                .interior_point()
                .map(|p| p.0)
                .or_else(|| largest.bounding_rect().map(|r| r.center()))
                .unwrap_or_default()
        }
    }
}

/// The buildings' convex hull grown by `buffer` metres (a 32-gon approximates the round corners).
pub fn derived_territory(buildings: &[Building], buffer: f64) -> MultiPolygon<f64> {
    let mut pts = Vec::new();
    for b in buildings {
        match &b.footprint {
            Footprint::Point(c) => pts.push(*c),
            Footprint::Polygons(mp) => pts.extend(mp.0.iter().flat_map(|p| p.exterior().0.iter().copied())),
        }
    }
    let hull = MultiPoint(pts.iter().map(|c| Point(*c)).collect()).convex_hull();
    if buffer <= 0.0 && hull.unsigned_area() > 0.0 {
        return MultiPolygon(vec![hull]);
    }
    let r = buffer.max(1.0);
    const SIDES: usize = 32;
    // Circumscribe the circle so the buffer is at least `r` everywhere.
    let rr = r / (std::f64::consts::PI / SIDES as f64).cos();
    let grown: Vec<Point<f64>> = hull
        .exterior()
        .0
        .iter()
        .flat_map(|c| {
            (0..SIDES).map(move |k| {
                let a = 2.0 * std::f64::consts::PI * k as f64 / SIDES as f64;
                Point::new(c.x + rr * a.cos(), c.y + rr * a.sin())
            })
        })
        .collect();
    MultiPolygon(vec![MultiPoint(grown).convex_hull()])
}

/// The CRS of an auxiliary layer: its own, or (when it declares none) the buildings' CRS if its
/// coordinates fit it, else lon/lat.
fn layer_crs(layer: &Layer, buildings_crs: &CrsSpec, user_crs: bool) -> Result<CrsSpec> {
    if let Some(c) = &layer.crs {
        if !user_crs {
            return Ok(c.clone());
        }
    }
    let Some(bounds) = layer.bounds() else { return Ok(buildings_crs.clone()) };
    let kind = crs::classify(buildings_crs, &layer.name)?;
    if crs::check_plausible(&kind, buildings_crs, bounds, &layer.name).is_ok() {
        return Ok(buildings_crs.clone());
    }
    if layer.crs.is_none() {
        crs::check_plausible(&CrsKind::Geographic, &CrsSpec::Crs84, bounds, &layer.name)?;
        return Ok(CrsSpec::Crs84);
    }
    Err(Error::Crs {
        path: layer.name.clone(),
        crs: buildings_crs.to_string(),
        message: "the layer's coordinates do not fit the buildings' coordinate system".into(),
    })
}

fn layer_projector(layer: &Layer, frame: &WorkFrame, buildings_crs: &CrsSpec, user_crs: bool) -> Result<Projector> {
    let spec = layer_crs(layer, buildings_crs, user_crs)?;
    if let Some(bounds) = layer.bounds() {
        let kind = crs::classify(&spec, &layer.name)?;
        crs::check_plausible(&kind, &spec, bounds, &layer.name)?;
    }
    frame.projector_from(&spec, &layer.name)
}

fn territory_polygons(layer: &Layer, frame: &WorkFrame, buildings_crs: &CrsSpec, user_crs: bool) -> Result<MultiPolygon<f64>> {
    let out: Vec<Polygon<f64>> = feature_polygons(layer, frame, buildings_crs, user_crs, "territory")?.into_iter().flat_map(|(_, mp)| mp.0).collect();
    if out.is_empty() {
        return Err(Error::layer(&layer.name, "territory has no polygon"));
    }
    Ok(MultiPolygon(out))
}

/// The polygons of each feature with a geometry, in working metres, with the feature's index;
/// `what` names the layer's role in messages.
fn feature_polygons(layer: &Layer, frame: &WorkFrame, buildings_crs: &CrsSpec, user_crs: bool, what: &str) -> Result<Vec<(usize, MultiPolygon<f64>)>> {
    let proj = layer_projector(layer, frame, buildings_crs, user_crs)?;
    let mut out = Vec::new();
    for (i, f) in layer.features.iter().enumerate() {
        let err = |fault| Error::feature(&layer.name, f.label(), fault);
        let Some(g) = &f.geometry else { continue };
        let mut polygons = Vec::new();
        let mut points = Vec::new();
        collect_parts(g, &mut polygons, &mut points).map_err(|found| {
            err(FeatureFault::WrongGeometryType { found, expected: format!("Polygon or MultiPolygon ({what})") })
        })?;
        if !points.is_empty() {
            return Err(err(FeatureFault::WrongGeometryType { found: "Point".into(), expected: format!("Polygon or MultiPolygon ({what})") }));
        }
        let mut parts = Vec::new();
        for p in polygons {
            let Some(ext) = ring_to_work(p.exterior(), &proj, &err)? else { continue };
            let mut holes = Vec::new();
            for h in p.interiors() {
                holes.extend(ring_to_work(h, &proj, &err)?);
            }
            parts.push(Polygon::new(ext, holes));
        }
        if !parts.is_empty() {
            out.push((i, MultiPolygon(parts)));
        }
    }
    Ok(out)
}

/// The lines of a layer (polygons give their rings) in working metres, each with its feature's
/// row, and the number of point features skipped.
fn layer_lines(layer: &Layer, frame: &WorkFrame, buildings_crs: &CrsSpec, user_crs: bool) -> Result<(Vec<(usize, LineString<f64>)>, usize)> {
    let proj = layer_projector(layer, frame, buildings_crs, user_crs)?;
    let mut out = Vec::new();
    let mut points = 0;
    for f in &layer.features {
        let err = |fault| Error::feature(&layer.name, f.label(), fault);
        let Some(g) = &f.geometry else { continue };
        if matches!(g, Geometry::Point(_) | Geometry::MultiPoint(_)) {
            points += 1;
            continue;
        }
        let mut lines: Vec<&LineString<f64>> = Vec::new();
        collect_lines(g, &mut lines).map_err(|found| {
            err(FeatureFault::WrongGeometryType { found, expected: "LineString, MultiLineString, Polygon or MultiPolygon".into() })
        })?;
        for l in lines {
            let mut pts: Vec<Coord<f64>> = Vec::with_capacity(l.0.len());
            for c in &l.0 {
                let w = to_work(*c, &proj, &err)?;
                if pts.last() != Some(&w) {
                    pts.push(w);
                }
            }
            if pts.len() >= 2 {
                out.push((f.row, LineString(pts)));
            }
        }
    }
    Ok((out, points))
}

fn collect_lines<'a>(g: &'a Geometry<f64>, out: &mut Vec<&'a LineString<f64>>) -> std::result::Result<(), String> {
    match g {
        Geometry::LineString(l) => out.push(l),
        Geometry::MultiLineString(ml) => out.extend(ml.0.iter()),
        Geometry::Polygon(p) => {
            out.push(p.exterior());
            out.extend(p.interiors().iter());
        }
        Geometry::MultiPolygon(mp) => {
            for p in &mp.0 {
                out.push(p.exterior());
                out.extend(p.interiors().iter());
            }
        }
        Geometry::GeometryCollection(gc) => {
            for m in &gc.0 {
                collect_lines(m, out)?;
            }
        }
        Geometry::Point(_) | Geometry::MultiPoint(_) => {}
        Geometry::Line(l) => return Err(format!("Line {l:?}")),
        Geometry::Rect(_) | Geometry::Triangle(_) => return Err("unsupported geometry".into()),
    }
    Ok(())
}

/// Bounding box of all building footprints (working metres).
pub fn buildings_bounds(buildings: &[Building]) -> Option<Rect<f64>> {
    let it = buildings.iter().map(|b| match &b.footprint {
        Footprint::Point(c) => Rect::new(*c, *c),
        Footprint::Polygons(mp) => mp.bounding_rect().unwrap_or(Rect::new(b.anchor, b.anchor)),
    });
    crate::geom::union_of_rects(it)
}
