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
    /// Straight-line distances are multiplied by this to estimate walking. Default 1.3.
    pub detour_factor: f64,
    /// What each building's walk is weighted by: `households` (default), `buildings` (one walk
    /// per building) or the name of a numeric column.
    pub objective_weight: String,
    /// Every building within this walk (m) of its grid's service point (hard). Default none.
    pub max_walk_m: Option<f64>,
    /// Walkable features of the network layer, `COLUMN=V1,V2` or `COLUMN!=V1,V2`. Default: all.
    pub network_filter: Option<String>,
    /// Network distances are computed up to this walk (m); farther pairs use the straight line
    /// times the detour factor. Default 1500 (or the max walk, when larger).
    pub network_radius_m: f64,
    /// A building farther than this (m) from every walkable line cannot reach the network.
    /// Default 250.
    pub network_max_access_m: f64,
    /// Keep grids connected. Off: the plain capacitated p-median problem. Default true.
    pub contiguity: bool,
    /// Solve each area exactly with the MILP (small instances). Default false.
    pub exact: bool,
    /// Search effort from 0 (fastest) to 1 (most thorough: restarts, recombination, bound
    /// iterations). Default: 1 up to 20,000 buildings, then shrinking with size.
    pub effort: Option<f64>,
    /// Compute the LP relaxation bound (with single-unit contiguity inequalities) on areas of
    /// up to 500 units, where it is stronger than the Lagrangian bound but slower. Default false.
    pub lp_bound: bool,
    /// Polish regions of up to 300 units with the MILP restricted to nearby centres (a
    /// deterministic work limit bounds each solve). Default false.
    pub polish: bool,
    /// Compute a proven lower bound (Lagrangian, as strong as the LP relaxation) for the
    /// heuristic's plan and report the gap. Default true.
    pub lower_bound: bool,
    /// Time limit (s) of each MILP/LP solve. Default 60.
    pub time_limit_s: f64,
    /// Relative MIP gap at which a MILP solve stops. Default 0.0001.
    pub mip_gap: f64,
    /// Threads of the MILP/LP solver. Default: 1 (results then do not depend on the machine).
    pub solver_threads: usize,
    /// Number of grid workers available (at most one grid each). Default: no limit.
    pub workers: Option<usize>,
    /// Households one worker can serve; lowers the grid maximum to it. Default: none.
    pub worker_capacity: Option<f64>,
    /// Join key of `--households-table`: `COLUMN` (same name in buildings and table) or
    /// `BUILDINGS_COLUMN=TABLE_COLUMN`. Required with a households table. Default none.
    pub join_on: Option<String>,
    /// Population column of `--population-zones` (required with zones). Default none.
    pub zone_population: Option<String>,
    /// Household column of `--population-zones`, when the zones also give household totals.
    /// Default none.
    pub zone_households: Option<String>,
    /// Floors column of the buildings: zone totals are shared by footprint area × floors.
    /// Default: 1 floor each.
    pub floors: Option<String>,
    /// Units column (单元, stairwells) of the buildings: a building above the grid maximum (the
    /// micro maximum with micro-grids) is split into one part per unit, else into bands of
    /// floors from `floors` (see `model::split`). Default none.
    pub units: Option<String>,
    /// Persons per household: zone households = zone population / this, when the zones give no
    /// household column. Default none (households then come from the buildings).
    pub persons_per_household: Option<f64>,
    /// Lowest households of a micro-grid; with `micro_max`, every grid is divided into
    /// connected micro-grids nested in it. Default none (no micro-grids).
    pub micro_min: Option<f64>,
    /// Highest households of a micro-grid (a building above it is a micro-grid of its own).
    /// Default none.
    pub micro_max: Option<f64>,
    /// Prefix of the grid codes (`grid_code` = prefix + 3-digit grid number, micro-grids add
    /// 2 digits), e.g. an administrative + street + community code. Default none (no codes).
    pub code_prefix: Option<String>,
    /// Column of the buildings holding their current grid id, to re-divide from. Default none.
    pub existing_column: Option<String>,
    /// Id column of the `--existing` grid polygons. Default `grid_id` when present, else the
    /// feature id, else the row number from 1.
    pub existing_id: Option<String>,
    /// From 1 (only what the bounds require moves) to 0 (walks count, moves are free): how
    /// much a re-division keeps households in their grid. Default 1.
    pub stability: f64,
    /// Existing grids kept exactly as they are (same buildings, same id, and with `--existing`
    /// polygons the same polygon), by id: numbers or text (7 matches "7"). Default none.
    pub locked: Vec<crate::read::FeatureId>,
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
            detour_factor: 1.3,
            objective_weight: "households".into(),
            max_walk_m: None,
            network_filter: None,
            network_radius_m: 1500.0,
            network_max_access_m: 250.0,
            contiguity: true,
            exact: false,
            lower_bound: true,
            polish: false,
            effort: None,
            lp_bound: false,
            time_limit_s: 60.0,
            mip_gap: 1e-4,
            solver_threads: 1,
            workers: None,
            worker_capacity: None,
            join_on: None,
            zone_population: None,
            zone_households: None,
            floors: None,
            units: None,
            persons_per_household: None,
            micro_min: None,
            micro_max: None,
            code_prefix: None,
            existing_column: None,
            existing_id: None,
            stability: 1.0,
            locked: Vec::new(),
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
        if !(self.detour_factor.is_finite() && self.detour_factor >= 1.0) {
            return bad(format!("--detour-factor must be >= 1, got {}", self.detour_factor));
        }
        if let Some(m) = self.max_walk_m {
            if !(m.is_finite() && m > 0.0) {
                return bad(format!("--max-walk must be > 0 metres, got {m}"));
            }
        }
        if !(self.network_radius_m.is_finite() && self.network_radius_m > 0.0) {
            return bad(format!("--network-radius-m must be > 0, got {}", self.network_radius_m));
        }
        if !(self.time_limit_s.is_finite() && self.time_limit_s > 0.0) {
            return bad(format!("--time-limit must be > 0 seconds, got {}", self.time_limit_s));
        }
        if !(self.mip_gap.is_finite() && (0.0..1.0).contains(&self.mip_gap)) {
            return bad(format!("--mip-gap must lie in [0, 1), got {}", self.mip_gap));
        }
        if let Some(e) = self.effort {
            if !(0.0..=1.0).contains(&e) {
                return bad(format!("--effort must lie in [0, 1], got {e}"));
            }
        }
        if self.solver_threads == 0 {
            return bad("--solver-threads must be at least 1".into());
        }
        if self.workers == Some(0) {
            return bad("--workers must be at least 1".into());
        }
        if let Some(c) = self.worker_capacity {
            if !(c.is_finite() && c > 0.0) {
                return bad(format!("--worker-capacity must be > 0 households, got {c}"));
            }
        }
        if let Some(c) = self.worker_capacity {
            if c < self.min_households {
                return bad(format!("--worker-capacity ({c}) is below --min-households ({})", self.min_households));
            }
        }
        if let Some(p) = self.persons_per_household {
            if !(p.is_finite() && p > 0.0) {
                return bad(format!("--persons-per-household must be > 0, got {p}"));
            }
        }
        match (self.micro_min, self.micro_max) {
            (None, None) => {}
            (Some(lo), Some(hi)) => {
                if !(lo.is_finite() && lo >= 0.0 && hi.is_finite() && hi > 0.0 && lo <= hi) {
                    return bad(format!("--micro-min and --micro-max must satisfy 0 <= min <= max, got {lo} and {hi}"));
                }
                if hi > self.upper_bound() {
                    return bad(format!("--micro-max ({hi}) is above the grid maximum ({})", self.upper_bound()));
                }
            }
            _ => return bad("--micro-min and --micro-max go together".into()),
        }
        if !(0.0..=1.0).contains(&self.stability) {
            return bad(format!("--stability must lie in [0, 1], got {}", self.stability));
        }
        if let Some(j) = &self.join_on {
            crate::model::household_table::JoinKey::parse(j)?;
        }
        if self.objective_weight.trim().is_empty() {
            return bad("--objective-weight must be households, buildings or a column name".into());
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

    /// The grid maximum in force: the bound, lowered to a worker's capacity.
    pub fn upper_bound(&self) -> f64 {
        match self.worker_capacity {
            Some(c) => self.max_households.min(c),
            None => self.max_households,
        }
    }

    /// The objective weight as a column name, when it is one.
    pub fn weight_column(&self) -> Option<&str> {
        match self.objective_weight.as_str() {
            "households" | "buildings" => None,
            c => Some(c),
        }
    }
}
