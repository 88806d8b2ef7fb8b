//! Configuration of a partition run: a serde struct whose defaults are the documented ones.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything that steers `wangge partition`. Field defaults are given in each doc line and by
/// [`PartitionConfig::default`]; a JSON or TOML file with a subset of fields deserializes with
/// the rest left at their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartitionConfig {
    /// Property holding each building's household count. Default `"households"`.
    pub households: String,
    /// Property holding each building's population. Default: `"population"` when the layer has it.
    pub population: Option<String>,
    /// Property holding each building's id. Default: the feature id, else the row number.
    pub id: Option<String>,
    /// CRS of the buildings (and of layers without their own), overriding what the file says,
    /// e.g. `"EPSG:4547"`. Default: read from the file (GeoJSON: lon/lat unless a `crs` member).
    pub crs: Option<String>,
    /// Lowest number of households a grid may hold. Default 300.
    pub min_households: f64,
    /// Highest number of households a grid may hold. Default 500.
    pub max_households: f64,
    /// Households per grid to aim for when choosing the number of grids.
    /// Default: the middle of the bounds.
    pub target_households: Option<f64>,
    /// Fixed number of grids for the whole territory, instead of choosing it from the bounds.
    pub grids: Option<usize>,
    /// Buildings whose footprints are farther apart than this (metres) are never neighbours,
    /// even when their cells touch. Default 500.
    pub max_edge_m: f64,
    /// Buffer (metres) around the buildings' convex hull when no territory is given. Default 30.
    pub territory_buffer_m: f64,
    /// Seed of every random choice; the same seed gives the same grids. Default 0.
    pub seed: u64,
    /// Passes of the compactness local search (0 disables it). Default 60.
    pub improve_passes: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig {
            households: "households".into(),
            population: None,
            id: None,
            crs: None,
            min_households: 300.0,
            max_households: 500.0,
            target_households: None,
            grids: None,
            max_edge_m: 500.0,
            territory_buffer_m: 30.0,
            seed: 0,
            improve_passes: 60,
        }
    }
}

impl PartitionConfig {
    /// Checks ranges and consistency, with a message naming the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if !(self.min_households.is_finite() && self.min_households >= 0.0) {
            return bad(format!("--min-households must be a number >= 0, got {}", self.min_households));
        }
        if !(self.max_households.is_finite() && self.max_households > 0.0) {
            return bad(format!("--max-households must be a number > 0, got {}", self.max_households));
        }
        if self.min_households > self.max_households {
            return bad(format!(
                "--min-households ({}) is above --max-households ({})",
                self.min_households, self.max_households
            ));
        }
        if let Some(t) = self.target_households {
            if !(t >= self.min_households && t <= self.max_households) {
                return bad(format!(
                    "--target-households ({t}) must lie within [{}, {}]",
                    self.min_households, self.max_households
                ));
            }
        }
        if self.grids == Some(0) {
            return bad("--grids must be at least 1".into());
        }
        if !(self.max_edge_m.is_finite() && self.max_edge_m > 0.0) {
            return bad(format!("--max-edge-m must be > 0, got {}", self.max_edge_m));
        }
        if !(self.territory_buffer_m.is_finite() && self.territory_buffer_m >= 0.0) {
            return bad(format!("--territory-buffer-m must be >= 0, got {}", self.territory_buffer_m));
        }
        if self.households.trim().is_empty() {
            return bad("--households must name a property".into());
        }
        Ok(())
    }

    /// Households per grid aimed at: the target, else the middle of the bounds.
    pub fn target(&self) -> f64 {
        self.target_households.unwrap_or(0.5 * (self.min_households + self.max_households))
    }
}
