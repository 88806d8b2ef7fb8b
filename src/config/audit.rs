//! Options of `wangge check` and `wangge repair`.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::OptionName;
use crate::error::{Error, Result};

/// Options of `wangge check` and `wangge repair`; defaults in the `Default` impl (shown by
/// `--help`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Grid id column. [default: grid_id when present, else the feature id, else the row number
    /// from 1]
    #[arg(long)]
    pub id: Option<String>,
    /// CRS of the layers, overriding the files (e.g. EPSG:4547). [default: from the files;
    /// GeoJSON without a crs member is lon/lat]
    #[arg(long)]
    pub crs: Option<String>,
    /// Gaps and overlaps below this area (m²) are slivers: reported apart, and they do not make
    /// the layer unclean.
    #[arg(long, default_value_t = AuditConfig::default().tolerance_m2)]
    pub tolerance_m2: f64,
    /// Without a territory, gaps open to the outer edge are found up to this width (m): the
    /// union of the grids is closed by half of it.
    #[arg(long, default_value_t = AuditConfig::default().edge_gap_width_m)]
    pub edge_gap_width_m: f64,
    /// Household column of the buildings.
    #[arg(long, default_value_t = AuditConfig::default().households)]
    pub households: String,
    /// Id column of the buildings. [default: the feature id, else the row number]
    #[arg(long)]
    pub building_id: Option<String>,
    /// Lowest households a grid may hold (checked with --buildings). [default: not checked]
    #[arg(long)]
    pub min_households: Option<f64>,
    /// Highest households a grid may hold (checked with --buildings). [default: not checked]
    #[arg(long)]
    pub max_households: Option<f64>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            id: None,
            crs: None,
            tolerance_m2: 1.0,
            edge_gap_width_m: 20.0,
            households: "households".into(),
            building_id: None,
            min_households: None,
            max_households: None,
        }
    }
}

impl AuditConfig {
    /// Checks ranges, naming the option.
    pub fn validate(&self) -> Result<()> {
        let range = |name: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(Error::OptionOutOfRange { option: OptionName(name), expected: ">= 0".into(), value: value.to_string() })
            }
        };
        range("tolerance_m2", self.tolerance_m2)?;
        range("edge_gap_width_m", self.edge_gap_width_m)?;
        if let (Some(a), Some(b)) = (self.min_households, self.max_households) {
            if a > b {
                return Err(Error::OptionsInconsistent { option: OptionName("min_households"), value: a, relation: "is above", other: OptionName("max_households"), other_value: b });
            }
        }
        Ok(())
    }
}
