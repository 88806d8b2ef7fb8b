//! The input files of a partition run and reading them all: buildings, territory, barriers,
//! network, streets, compounds, households table, population zones, existing grids (the workers file is read by
//! [`crate::workers`], once the working frame is known).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{read_attribute_table, read_layer, read_layer_with, Layer, ReadOptions};
use crate::error::Result;

/// The files of a partition run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inputs {
    /// Building footprints.
    pub buildings: PathBuf,
    /// Territory the grids must tile (default: derived from the buildings).
    pub territory: Option<PathBuf>,
    /// Barrier layers (lines or polygons).
    pub barriers: Vec<PathBuf>,
    /// Walkable network (lines), for network walking distances.
    pub network: Option<PathBuf>,
    /// Street layers (lines): preferred grid boundaries.
    #[serde(default)]
    pub streets: Vec<PathBuf>,
    /// Compound layers (polygons: residential compounds, 小区): kept whole where the bounds allow.
    #[serde(default)]
    pub compounds: Vec<PathBuf>,
    /// Workers file (CSV or GeoJSON).
    pub workers: Option<PathBuf>,
    /// Households table (CSV/TSV, or any vector file's attributes) joined on `join_on`.
    pub households_table: Option<PathBuf>,
    /// Zones with population totals, shared among the buildings inside them.
    pub population_zones: Option<PathBuf>,
    /// Existing grid polygons to re-divide from.
    pub existing: Option<PathBuf>,
    /// Community polygons (社区) the grids nest in.
    #[serde(default)]
    pub communities: Option<PathBuf>,
    /// How to read the buildings (format override, layer, text encoding).
    #[serde(skip)]
    pub read: ReadOptions,
}

/// The columns to keep from each input layer.
#[derive(Debug, Clone, Default)]
pub struct InputColumns {
    /// Of the buildings.
    pub buildings: Vec<String>,
    /// Of the network (the filter's column).
    pub network: Vec<String>,
    /// Of the streets (the filter's column).
    pub streets: Vec<String>,
    /// Of the households table.
    pub households_table: Vec<String>,
    /// Of the population zones.
    pub population_zones: Vec<String>,
    /// Of the existing grid polygons.
    pub existing: Vec<String>,
    /// Of the communities (code and name).
    pub communities: Vec<String>,
}

/// The input layers of a partition run.
#[derive(Debug, Clone)]
pub struct InputLayers {
    /// Buildings.
    pub buildings: Layer,
    /// Territory, if given.
    pub territory: Option<Layer>,
    /// Barrier layers.
    pub barriers: Vec<Layer>,
    /// Walkable network, if given.
    pub network: Option<Layer>,
    /// Street layers.
    pub streets: Vec<Layer>,
    /// Compound layers.
    pub compounds: Vec<Layer>,
    /// Workers file (CSV or GeoJSON), if given.
    pub workers: Option<PathBuf>,
    /// Households table, if given.
    pub households_table: Option<Layer>,
    /// Zones with population totals, if given.
    pub population_zones: Option<Layer>,
    /// Existing grid polygons, if given.
    pub existing: Option<Layer>,
    /// Community polygons, if given.
    pub communities: Option<Layer>,
}

impl InputLayers {
    /// Only buildings (the other layers absent).
    pub fn buildings(buildings: Layer) -> InputLayers {
        InputLayers { buildings, territory: None, barriers: Vec::new(), network: None, streets: Vec::new(), compounds: Vec::new(), workers: None, households_table: None, population_zones: None, existing: None, communities: None }
    }
}

/// Read stage: every input file of `inputs`, keeping `columns` of each.
pub fn read_inputs(inputs: &Inputs, columns: &InputColumns) -> Result<InputLayers> {
    let read = |path: &PathBuf, cols: &[String]| {
        let r: Vec<&str> = cols.iter().map(String::as_str).collect();
        read_layer(path, &r)
    };
    let building_cols: Vec<&str> = columns.buildings.iter().map(String::as_str).collect();
    let buildings = read_layer_with(&inputs.buildings, &building_cols, &inputs.read)?;
    let territory = inputs.territory.as_ref().map(|p| read(p, &[])).transpose()?;
    let barriers = inputs.barriers.iter().map(|p| read(p, &[])).collect::<Result<Vec<_>>>()?;
    let network = inputs.network.as_ref().map(|p| read(p, &columns.network)).transpose()?;
    let streets = inputs.streets.iter().map(|p| read(p, &columns.streets)).collect::<Result<Vec<_>>>()?;
    let compounds = inputs.compounds.iter().map(|p| read(p, &[])).collect::<Result<Vec<_>>>()?;
    // The table's encoding is detected on its own (UTF-8, else GB18030): it need not be the buildings'.
    let table_cols: Vec<&str> = columns.households_table.iter().map(String::as_str).collect();
    let households_table = inputs.households_table.as_ref().map(|p| read_attribute_table(p, &table_cols, &ReadOptions::default())).transpose()?;
    let population_zones = inputs.population_zones.as_ref().map(|p| read(p, &columns.population_zones)).transpose()?;
    let existing = inputs.existing.as_ref().map(|p| read(p, &columns.existing)).transpose()?;
    let communities = inputs.communities.as_ref().map(|p| read(p, &columns.communities)).transpose()?;
    Ok(InputLayers { buildings, territory, barriers, network, streets, compounds, workers: inputs.workers.clone(), households_table, population_zones, existing, communities })
}
