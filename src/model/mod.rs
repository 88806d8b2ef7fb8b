//! Model stage: input layers → validated buildings, territory and barriers in the metric
//! working frame. Every bad value is refused here with the file, the feature and the fault.
//! Households and population may come from the buildings, from a separate table
//! ([`household_table`]) or from totals per zone ([`zones`]).

pub mod apportion;
pub mod communities;
pub mod compounds;
pub mod existing;
mod footprint;
pub mod household_table;
pub mod layers;
mod sources;
pub mod split;
mod values;
pub mod zones;

pub use footprint::{anchor_of, buildings_bounds, canonical_order};
pub use layers::{derived_territory, Frames};
pub use values::{count_value, number_value};

use geo::{Coord, LineString, MultiPolygon};

use self::values::BuildingValues;
use crate::config::{OptionName, PartitionConfig};
use crate::crs::WorkFrame;
use crate::error::{Error, Result};
use crate::read::{FeatureId, InputColumns, InputLayers};

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
    /// Its community (an index into [`Model::communities`]), [`communities::NO_COMMUNITY`] when
    /// the run is not nested in communities.
    pub community: u32,
}

/// The area the grids must tile, in working metres.
#[derive(Debug, Clone)]
pub struct Territory {
    /// Polygons of the territory.
    pub area: MultiPolygon<f64>,
    /// True when derived from the buildings (no `--territory` given).
    pub derived: bool,
    /// Water (the polygons of the barrier layers) left out of the grids; empty with
    /// `--include-water`.
    pub water: MultiPolygon<f64>,
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
    /// Street lines (after the streets filter): preferred grid boundaries.
    pub streets: Vec<LineString<f64>>,
    /// Residential compounds: their outlines are preferred boundaries like streets.
    pub compounds: compounds::Compounds,
    /// Communities the grids nest in (none when not given).
    pub communities: communities::Communities,
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
        streets: config.graph.streets_filter.iter().map(|f| f.column.clone()).collect(),
        households_table: table_columns(config),
        population_zones: zone_columns(config),
        existing: existing_columns(config),
        communities: vec![config.nesting.code_column().to_string(), config.nesting.name_column().to_string()],
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
    if let Some(by) = &config.nesting.by {
        cols.push(by.clone());
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
    config.validate()?;
    check_source_options(layers, config)?;
    let buildings = &layers.buildings;
    if buildings.features.is_empty() {
        return Err(Error::layer(&buildings.name, "has no features"));
    }
    let frames = Frames::of_buildings(buildings, config)?;
    crate::progress::trace("model: frames");
    let mut warnings = Vec::new();
    let households_elsewhere = layers.households_table.is_some()
        || (layers.population_zones.is_some() && (config.sources.zone_households.is_some() || config.sources.persons_per_household.is_some()));
    let mut values = BuildingValues::extract(buildings, config, households_elsewhere)?;
    crate::progress::trace("model: values");
    let footprints = footprint::footprints(buildings, &frames.frame, &values.ids, config.columns.fix_geometry, &mut warnings)?;
    crate::progress::trace("model: footprints");
    let anchors: Vec<Coord<f64>> = footprints.iter().map(anchor_of).collect();
    let mut reports = sources::apply(layers, config, &frames, &sources::Sharing { footprints: &footprints, anchors: &anchors }, &mut values, &mut warnings)?;
    let placed = existing::Placed { layer: buildings, footprints: &footprints, anchors: &anchors, ids: &values.ids };
    let existing_grid = existing::existing_division(&placed, layers.existing.as_ref(), &frames, config)?;
    if let Some(e) = &existing_grid {
        warnings.extend(e.report.warnings());
        reports.existing = Some(e.report.clone());
    }
    let population_column = values.population_column.clone();
    let mut out = values.into_buildings(buildings, footprints, anchors, existing_grid.as_ref());
    if out.iter().all(|b| b.households == 0.0) {
        let source = if households_elsewhere { "after joining the households table or zones".to_string() } else { format!("in column '{}'", config.columns.households) };
        return Err(Error::layer(&buildings.name, format!("all {} buildings hold 0 households {source}: nothing to divide (the wrong column? name it with --households)", out.len())));
    }
    crate::progress::trace("model: sources");
    footprint::canonical_order(&mut out, &frames.frame, &buildings.name)?;
    crate::progress::trace("model: canonical order");
    let mut territory = layers::territory(layers.territory.as_ref(), &out, &frames, config, &mut warnings)?;
    if !config.graph.include_water {
        territory.water = layers::water_polygons(&layers.barriers, &frames)?;
    }
    let barriers = layers::barrier_lines(&layers.barriers, &frames, &mut warnings)?;
    let network = layers::network_lines(layers.network.as_ref(), &frames, config, &mut warnings)?;
    let streets = layers::street_lines(&layers.streets, &frames, config, &mut warnings)?;
    let compounds = compounds::compounds(&layers.compounds, &frames, &out, &mut warnings)?;
    let communities = communities::communities(layers, &frames, config, &mut out, &mut warnings)?;
    if let (true, Some(union)) = (territory.derived, &communities.union) {
        if !communities.list.iter().any(|c| c.outside) {
            // Without a territory, communities that hold every building are the territory.
            territory.area = union.clone();
        }
    }
    crate::progress::trace("model: layers");
    Ok(Model { frame: frames.frame, buildings: out, territory, barriers, network, streets, compounds, communities, population_column, sources: reports, warnings })
}
