//! Configuration of a partition run: serde structs grouped by concern, each field's default in
//! the group's `Default` impl, from which the command line is derived (clap `Args`; the help
//! shows the defaults) and which the Python package takes under the same names.
//!
//! A configuration serializes flat (one JSON object, field names as keys: the `config` member
//! of summary.json), so a recorded configuration can be passed back with `--config` or as
//! keyword arguments in Python.

mod audit;
mod values;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::read::FeatureId;
pub use audit::AuditConfig;
pub use values::{FeatureFilter, JoinKey, ObjectiveWeight};

/// Everything that steers `wangge partition`, grouped by concern. A JSON object with a subset of
/// the (flat) field names deserializes with the rest left at their defaults; unknown names are
/// refused.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Args)]
#[serde(try_from = "FlatConfig")]
pub struct PartitionConfig {
    /// Columns of the buildings and their coordinate system.
    #[serde(flatten)]
    #[command(flatten)]
    pub columns: Columns,
    /// Household bounds, the number of grids, workers.
    #[serde(flatten)]
    #[command(flatten)]
    pub bounds: Bounds,
    /// How walks are measured and weighted.
    #[serde(flatten)]
    #[command(flatten)]
    pub walking: Walking,
    /// Neighbourhood graph and derived territory.
    #[serde(flatten)]
    #[command(flatten)]
    pub graph: GraphOptions,
    /// The heuristic search.
    #[serde(flatten)]
    #[command(flatten)]
    pub search: Search,
    /// Exact solves, polishing, bounds and the MILP/LP solver.
    #[serde(flatten)]
    #[command(flatten)]
    pub solver: SolverConfig,
    /// Households and population from a table or zones.
    #[serde(flatten)]
    #[command(flatten)]
    pub sources: Sources,
    /// Re-division of an existing division.
    #[serde(flatten)]
    #[command(flatten)]
    pub redivision: Redivision,
    /// Micro-grids and grid codes.
    #[serde(flatten)]
    #[command(flatten)]
    pub micro: MicroGrids,
    /// Communities the grids nest in.
    #[serde(flatten)]
    #[command(flatten)]
    pub nesting: Nesting,
}

/// Columns of the buildings layer and its coordinate system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Columns {
    /// Household column (numbers, or text holding a number; >= 0).
    #[arg(long, default_value_t = Columns::default().households)]
    pub households: String,
    /// Population column, summed per grid. [default: population, when present]
    #[arg(long)]
    pub population: Option<String>,
    /// Building id column, used in outputs and messages; must be unique. [default: the feature
    /// id, else the row number]
    #[arg(long)]
    pub id: Option<String>,
    /// CRS of the inputs, overriding the files, e.g. EPSG:4547, gcj02, bd09. [default: from the
    /// file; GeoJSON without a crs member is lon/lat]
    #[arg(long)]
    pub crs: Option<String>,
    /// Floors column of the buildings: zone totals are shared by footprint area × floors; a
    /// building above the maximum without units is split into bands of floors. [default: 1
    /// floor each]
    #[arg(long, value_name = "COLUMN")]
    pub floors: Option<String>,
    /// Units (单元, stairwells) column of the buildings: a building above the grid maximum (the
    /// micro maximum with micro-grids) is split into one part per unit (else, with --floors,
    /// into bands of floors); OUT/building_parts.<ext> lists the parts and their grids.
    #[arg(long, value_name = "COLUMN")]
    pub units: Option<String>,
    /// Repair invalid building footprints (rings that cross, holes outside their outer ring) by
    /// the odd-even rule, with a warning each, instead of refusing the file (exit 3).
    #[arg(long)]
    pub fix_geometry: bool,
}

impl Default for Columns {
    fn default() -> Self {
        Columns { households: "households".into(), population: None, id: None, crs: None, floors: None, units: None, fix_geometry: false }
    }
}

/// Household bounds of a grid, the number of grids, the longest walk and the workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Bounds {
    /// Lowest number of households in a grid.
    #[arg(long, default_value_t = Bounds::default().min_households)]
    pub min_households: f64,
    /// Highest number of households in a grid.
    #[arg(long, default_value_t = Bounds::default().max_households)]
    pub max_households: f64,
    /// Households per grid aimed at when choosing the number of grids. [default: middle of the
    /// bounds]
    #[arg(long)]
    pub target_households: Option<f64>,
    /// Fixed number of grids for the whole territory. [default: chosen from the bounds]
    #[arg(long)]
    pub grids: Option<usize>,
    /// Hard: every building within this walk (m) of its grid's centre; more grids are tried
    /// when needed, otherwise each breach is a long_walk violation.
    #[arg(long = "max-walk", value_name = "METRES")]
    pub max_walk_m: Option<f64>,
    /// Keep grids connected. Off: the plain capacitated p-median problem.
    #[arg(long = "no-contiguity", action = ArgAction::SetFalse, help = "Allow grids in several pieces: the plain capacitated p-median problem")]
    pub contiguity: bool,
    /// Number of grid workers available (at most one grid each). On the command line:
    /// `--workers N` (or a workers file). [default: no limit]
    #[arg(skip)]
    pub workers: Option<usize>,
    /// Households one worker serves (with --workers N); lowers the grid maximum to it.
    #[arg(long)]
    pub worker_capacity: Option<f64>,
    /// Any miss of a bound fails the run (exit code 4, status `infeasible`), even one no plan
    /// can avoid (a building above the maximum, an isolated area below the minimum), which by
    /// default is declared in the violations with exit code 0.
    #[arg(long)]
    pub strict: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            min_households: 300.0,
            max_households: 500.0,
            target_households: None,
            grids: None,
            max_walk_m: None,
            contiguity: true,
            workers: None,
            worker_capacity: None,
            strict: false,
        }
    }
}

impl Bounds {
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
}

/// How walks are measured (straight line × detour, or over a walkable network) and weighted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Walking {
    /// Straight-line distance × this estimates a walk (without a network).
    #[arg(long, default_value_t = Walking::default().detour_factor)]
    pub detour_factor: f64,
    /// Weight of each building's walk in the objective: households, buildings, or a numeric
    /// column.
    #[arg(long, default_value_t = Walking::default().objective_weight)]
    pub objective_weight: ObjectiveWeight,
    /// Walkable features of the network, e.g. kind=path,minor_road or kind!=motorway. [default:
    /// all lines]
    #[arg(long, value_name = "EXPR")]
    pub network_filter: Option<FeatureFilter>,
    /// Network distances are computed up to this walk (m); farther pairs use the straight line
    /// times the detour factor (the maximum walk, when larger).
    #[arg(long, default_value_t = Walking::default().network_radius_m)]
    pub network_radius_m: f64,
    /// A building farther than this (m) from every walkable line cannot reach the network and
    /// walks the straight line.
    #[arg(long, default_value_t = Walking::default().network_max_access_m)]
    pub network_max_access_m: f64,
}

impl Default for Walking {
    fn default() -> Self {
        Walking { detour_factor: 1.3, objective_weight: ObjectiveWeight::Households, network_filter: None, network_radius_m: 1500.0, network_max_access_m: 250.0 }
    }
}

/// The neighbourhood graph of the buildings and the territory derived when none is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct GraphOptions {
    /// Footprints farther apart than this (m) are never neighbours, even when their cells touch.
    #[arg(long, default_value_t = GraphOptions::default().max_edge_m)]
    pub max_edge_m: f64,
    /// Buffer (m) of the buildings' convex hull when no territory is given.
    #[arg(long, default_value_t = GraphOptions::default().territory_buffer_m)]
    pub territory_buffer_m: f64,
    /// Street features to use, e.g. kind=major_road,minor_road or kind!=path. [default: all]
    #[arg(long, value_name = "COLUMN=V1,V2|COLUMN!=V1,V2")]
    pub streets_filter: Option<FeatureFilter>,
    /// Keep water (polygon barriers) in the grids, as before 0.14; by default it is left out
    /// and reported as uncovered area.
    #[arg(long)]
    pub include_water: bool,
    /// Tolerance (m) of the simplification of shared grid boundaries (0: none); each shared
    /// boundary is simplified once, so grids still tile.
    #[arg(long, default_value_t = GraphOptions::default().simplify_m)]
    pub simplify_m: f64,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions { max_edge_m: 500.0, territory_buffer_m: 30.0, streets_filter: None, include_water: false, simplify_m: 1.0 }
    }
}

/// The heuristic search: seed, effort, local search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Search {
    /// Seed of every random choice; the same seed (any thread count) gives the same grids.
    #[arg(long, default_value_t = Search::default().seed)]
    pub seed: u64,
    /// Passes of the compactness local search (0 disables it).
    #[arg(long, default_value_t = Search::default().improve_passes)]
    pub improve_passes: usize,
    /// Search effort from 0 (fastest) to 1 (restarts, recombination of neighbouring grids, the
    /// lower bound). [default: 1 up to 20,000 buildings, then (20,000/n)², e.g. 0.04 at 100,000]
    #[arg(long)]
    pub effort: Option<f64>,
    /// Cost of one metre of grid boundary that does not run along a street, in the objective's
    /// walk units (household-metres with the default weight): higher values keep blocks whole
    /// and move boundaries onto streets at the price of longer walks (0: walks only). Without
    /// streets every metre of boundary counts. [default: 100 when streets or compound outlines
    /// run along the buildings' cells, else 25]
    #[arg(long)]
    pub boundary_weight: Option<f64>,
}

impl Default for Search {
    fn default() -> Self {
        Search { seed: 0, improve_passes: 60, effort: None, boundary_weight: None }
    }
}

impl Search {
    /// Default boundary weight when streets or compound outlines run along the cells: boundary
    /// off them is what planners avoid.
    pub const BOUNDARY_WEIGHT_WITH_STREETS: f64 = 100.0;
    /// Default boundary weight without streets, where every metre of boundary counts: a light
    /// preference for short boundaries that costs little walking.
    pub const BOUNDARY_WEIGHT_WITHOUT_STREETS: f64 = 25.0;

    /// The boundary weight in force: the one given, else the default for a graph with or
    /// without boundary along streets.
    pub fn boundary_weight_for(&self, along_streets: bool) -> f64 {
        self.boundary_weight.unwrap_or(if along_streets { Self::BOUNDARY_WEIGHT_WITH_STREETS } else { Self::BOUNDARY_WEIGHT_WITHOUT_STREETS })
    }
}

/// Exact solves, MILP polishing, lower bounds and the settings of every MILP/LP solve (HiGHS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct SolverConfig {
    /// Solve each area with the exact MILP (contiguity by separator cuts) to proven optimality
    /// within the time limit; for up to a few hundred buildings.
    #[arg(long)]
    pub exact: bool,
    /// Improve areas of up to 300 buildings with the MILP restricted to each building's 16
    /// nearest centres, warm-started from the heuristic (a deterministic work limit bounds each
    /// solve).
    #[arg(long)]
    pub polish: bool,
    /// Also bound areas of up to 500 units by the LP relaxation with single-unit contiguity
    /// inequalities (stronger than the Lagrangian bound, slower).
    #[arg(long)]
    pub lp_bound: bool,
    /// Compute a proven lower bound (Lagrangian) of the heuristic's plan and report the gap.
    #[arg(long = "no-lower-bound", action = ArgAction::SetFalse, help = "Skip the lower bound and the gap (faster)")]
    pub lower_bound: bool,
    /// Time budget (s) of the whole search: the division itself always completes, the optional
    /// phases (recombination, restarts, boundary search, MILPs, the lower bound) stop when it is
    /// spent and the best plan so far is returned (summary: solution.time_limit_reached); every
    /// MILP/LP solve gets what remains.
    #[arg(long = "time-limit", value_name = "SECONDS", default_value_t = SolverConfig::default().time_limit_s)]
    pub time_limit_s: f64,
    /// Relative MIP gap at which a MILP solve stops.
    #[arg(long, default_value_t = SolverConfig::default().mip_gap)]
    pub mip_gap: f64,
    /// Threads of the MILP/LP solver (1: results do not depend on the machine).
    #[arg(long, default_value_t = SolverConfig::default().solver_threads)]
    pub solver_threads: usize,
}

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig { exact: false, polish: false, lp_bound: false, lower_bound: true, time_limit_s: 60.0, mip_gap: 1e-4, solver_threads: 1 }
    }
}

/// Households and population from a households table or from zone totals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Sources {
    /// Join key of --households-table: COLUMN (in both) or BUILDINGS_COLUMN=TABLE_COLUMN
    /// (required with a table).
    #[arg(long, value_name = "COLUMN")]
    pub join_on: Option<JoinKey>,
    /// Population column of --population-zones (required with zones).
    #[arg(long, value_name = "COLUMN")]
    pub zone_population: Option<String>,
    /// Household column of --population-zones, when the zones give household totals too.
    #[arg(long, value_name = "COLUMN")]
    pub zone_households: Option<String>,
    /// Zone households = zone population / this, when the zones have no household column.
    #[arg(long)]
    pub persons_per_household: Option<f64>,
}

/// Re-division of an existing division: where it comes from, how much may move, what is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Redivision {
    /// Re-divide from the grid ids in this column of the buildings (instead of --existing).
    #[arg(long, value_name = "COLUMN")]
    pub existing_column: Option<String>,
    /// Id column of the --existing polygons. [default: grid_id when present, else the feature
    /// id, else the row number from 1]
    #[arg(long, value_name = "COLUMN")]
    pub existing_id: Option<String>,
    /// 1: move only what the bounds require; below 1 a move that shortens walks is allowed when
    /// it saves more than S/(1-S) × the mean walk per household (0: freely).
    #[arg(long, default_value_t = Redivision::default().stability)]
    pub stability: f64,
    /// Existing grids kept exactly as they are (same buildings, same id, same polygon when
    /// --existing polygons are given), e.g. 3,17 or G-03,G-17; numbers and text match (7 and "7").
    #[arg(long, value_delimiter = ',', value_name = "IDS", value_parser = locked_id)]
    pub locked: Vec<FeatureId>,
}

impl Default for Redivision {
    fn default() -> Self {
        Redivision { existing_column: None, existing_id: None, stability: 1.0, locked: Vec::new() }
    }
}

/// A locked grid id typed on the command line: text, matched to numbers and text alike.
fn locked_id(text: &str) -> std::result::Result<FeatureId, String> {
    Ok(FeatureId::Text(text.trim().to_string()))
}

/// Micro-grids inside every grid, and grid codes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct MicroGrids {
    /// Lowest households of a micro-grid: with --micro-max, every grid is divided into connected
    /// micro-grids nested in it (OUT/micro_grids.<ext>; buildings get micro_grid_id).
    #[arg(long)]
    pub micro_min: Option<f64>,
    /// Highest households of a micro-grid (a building above it is a micro-grid of its own).
    #[arg(long)]
    pub micro_max: Option<f64>,
    /// Prefix of grid codes: grid_code = prefix + 3-digit grid number (micro-grids add 2
    /// digits), e.g. an administrative + street + community code.
    #[arg(long)]
    pub code_prefix: Option<String>,
}

/// Communities (社区) the grids nest in: given as polygons (`--communities FILE`, with a code and
/// a name column) or as a column of the buildings (`--by`). Each community is divided on its
/// own: no grid crosses a community boundary, grid ids are `CODE-NNN` and codes
/// `[prefix]CODE` + 3 digits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Args)]
#[serde(default)]
pub struct Nesting {
    /// Community column of the buildings: each distinct value is a community, divided on its
    /// own (grid ids CODE-001, ...). Buildings without a value form the community `none`.
    #[arg(long, value_name = "COLUMN")]
    pub by: Option<String>,
    /// Code column of the --communities polygons. [default: code]
    #[arg(long, value_name = "COLUMN")]
    pub community_code: Option<String>,
    /// Name column of the --communities polygons. [default: name, when present]
    #[arg(long, value_name = "COLUMN")]
    pub community_name: Option<String>,
}

impl Nesting {
    /// Default code column of a communities layer.
    pub const CODE_COLUMN: &'static str = "code";
    /// Default name column of a communities layer.
    pub const NAME_COLUMN: &'static str = "name";

    /// The code column of the communities layer in force.
    pub fn code_column(&self) -> &str {
        self.community_code.as_deref().unwrap_or(Self::CODE_COLUMN)
    }

    /// The name column of the communities layer in force.
    pub fn name_column(&self) -> &str {
        self.community_name.as_deref().unwrap_or(Self::NAME_COLUMN)
    }
}

/// The flat form a configuration is read from: every group's fields, plus whatever is left
/// (unknown names, refused).
#[derive(Deserialize)]
struct FlatConfig {
    #[serde(flatten)]
    columns: Columns,
    #[serde(flatten)]
    bounds: Bounds,
    #[serde(flatten)]
    walking: Walking,
    #[serde(flatten)]
    graph: GraphOptions,
    #[serde(flatten)]
    search: Search,
    #[serde(flatten)]
    solver: SolverConfig,
    #[serde(flatten)]
    sources: Sources,
    #[serde(flatten)]
    redivision: Redivision,
    #[serde(flatten)]
    micro: MicroGrids,
    #[serde(flatten)]
    nesting: Nesting,
    /// Names no group took.
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

impl TryFrom<FlatConfig> for PartitionConfig {
    type Error = String;
    fn try_from(f: FlatConfig) -> std::result::Result<Self, String> {
        if !f.unknown.is_empty() {
            let names: Vec<&str> = f.unknown.keys().map(String::as_str).collect();
            return Err(format!("unknown field(s) {}; the fields are those of summary.json's config: {}", names.join(", "), PartitionConfig::field_names().join(", ")));
        }
        Ok(PartitionConfig {
            columns: f.columns,
            bounds: f.bounds,
            walking: f.walking,
            graph: f.graph,
            search: f.search,
            solver: f.solver,
            sources: f.sources,
            redivision: f.redivision,
            micro: f.micro,
            nesting: f.nesting,
        })
    }
}

impl PartitionConfig {
    /// This configuration with the boundary weight resolved (the given weight, else the default
    /// for a unit graph with or without boundary `along_streets`).
    pub fn with_boundary_weight_for(&self, along_streets: bool) -> PartitionConfig {
        if self.search.boundary_weight.is_some() {
            return self.clone();
        }
        let weight = self.search.boundary_weight_for(along_streets);
        PartitionConfig { search: Search { boundary_weight: Some(weight), ..self.search.clone() }, ..self.clone() }
    }

    /// The names of every field, in order (the keys of its JSON form).
    pub fn field_names() -> Vec<String> {
        match serde_json::to_value(PartitionConfig::default()) {
            Ok(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Reads a configuration from JSON text: a configuration object, or a whole summary.json
    /// (its `config` member is taken). `path` names the source in messages.
    pub fn from_json(text: &str, path: &Path) -> Result<PartitionConfig> {
        let bad = |message: String| Error::ConfigFile { path: path.to_path_buf(), message };
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        PartitionConfig::from_value(value, path)
    }

    /// Reads a configuration from TOML text with the same keys as the JSON form.
    pub fn from_toml(text: &str, path: &Path) -> Result<PartitionConfig> {
        let value: Value = toml::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| Error::ConfigFile { path: path.to_path_buf(), message: format!("not valid TOML: {}", e.to_string().trim()) })?;
        PartitionConfig::from_value(value, path)
    }

    /// A configuration from its JSON value (or a whole summary.json's).
    fn from_value(mut value: Value, path: &Path) -> Result<PartitionConfig> {
        let bad = |message: String| Error::ConfigFile { path: path.to_path_buf(), message };
        // A summary.json records the wangge version beside its config.
        if value.get("wangge_version").is_some() && value.get("config").is_some_and(Value::is_object) {
            value = value["config"].take();
        }
        serde_json::from_value(value.clone()).map_err(|e| {
            // serde names the type but not the key: find the key whose value alone fails.
            let culprit = value.as_object().and_then(|given| {
                given.iter().find(|(key, v)| {
                    let Ok(Value::Object(mut one)) = serde_json::to_value(PartitionConfig::default()) else { return false };
                    one.insert((*key).clone(), (*v).clone());
                    serde_json::from_value::<PartitionConfig>(Value::Object(one)).is_err()
                })
            });
            match culprit {
                Some((key, v)) => bad(format!("'{key}' = {v}: {e}")),
                None => bad(e.to_string()),
            }
        })
    }

    /// Reads a configuration file: TOML for a `.toml` file, else JSON
    /// ([`PartitionConfig::from_json`]).
    pub fn from_file(path: &Path) -> Result<PartitionConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "read", e))?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
            PartitionConfig::from_toml(&text, path)
        } else {
            PartitionConfig::from_json(&text, path)
        }
    }

    /// The configuration with the fields named in `given` taken from `other` (how flags given
    /// on the command line override a configuration file).
    pub fn overridden_by(&self, other: &PartitionConfig, given: &[String]) -> Result<PartitionConfig> {
        let (Ok(Value::Object(mut base)), Ok(Value::Object(over))) = (serde_json::to_value(self), serde_json::to_value(other)) else {
            return Err(Error::Invariant { stage: "config", message: "a configuration is not a JSON object".into() });
        };
        for name in given {
            if let Some(v) = over.get(name) {
                base.insert(name.clone(), v.clone());
            }
        }
        serde_json::from_value(Value::Object(base)).map_err(|e| Error::Invariant { stage: "config", message: e.to_string() })
    }

    /// Checks ranges and consistency, naming the option.
    pub fn validate(&self) -> Result<()> {
        let b = &self.bounds;
        let range = |name: &'static str, value: f64, ok: bool, expected: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::OptionOutOfRange { option: OptionName(name), expected: expected.to_string(), value: value.to_string() })
            }
        };
        range("min_households", b.min_households, b.min_households.is_finite() && b.min_households >= 0.0, "a number >= 0")?;
        range("max_households", b.max_households, b.max_households.is_finite() && b.max_households > 0.0, "a number > 0")?;
        if b.min_households > b.max_households {
            return Err(Error::OptionsInconsistent { option: OptionName("min_households"), value: b.min_households, relation: "is above", other: OptionName("max_households"), other_value: b.max_households });
        }
        if let Some(t) = b.target_households {
            range("target_households", t, t >= b.min_households && t <= b.max_households, &format!("within [{}, {}]", b.min_households, b.max_households))?;
        }
        if b.grids == Some(0) {
            range("grids", 0.0, false, "at least 1")?;
        }
        if let Some(m) = b.max_walk_m {
            range("max_walk_m", m, m.is_finite() && m > 0.0, "> 0 metres")?;
        }
        if b.workers == Some(0) {
            range("workers", 0.0, false, "at least 1")?;
        }
        if let Some(c) = b.worker_capacity {
            range("worker_capacity", c, c.is_finite() && c > 0.0, "> 0 households")?;
            if c < b.min_households {
                return Err(Error::OptionsInconsistent { option: OptionName("worker_capacity"), value: c, relation: "is below", other: OptionName("min_households"), other_value: b.min_households });
            }
        }
        let g = &self.graph;
        range("max_edge_m", g.max_edge_m, g.max_edge_m.is_finite() && g.max_edge_m > 0.0, "> 0")?;
        range("territory_buffer_m", g.territory_buffer_m, g.territory_buffer_m.is_finite() && g.territory_buffer_m >= 0.0, ">= 0")?;
        range("simplify_m", g.simplify_m, g.simplify_m.is_finite() && (0.0..=100.0).contains(&g.simplify_m), "from 0 to 100")?;
        if let Some(bw) = self.search.boundary_weight {
            range("boundary_weight", bw, bw.is_finite() && bw >= 0.0, ">= 0")?;
        }
        let w = &self.walking;
        range("detour_factor", w.detour_factor, w.detour_factor.is_finite() && w.detour_factor >= 1.0, ">= 1")?;
        range("network_radius_m", w.network_radius_m, w.network_radius_m.is_finite() && w.network_radius_m > 0.0, "> 0")?;
        range("network_max_access_m", w.network_max_access_m, w.network_max_access_m.is_finite() && w.network_max_access_m >= 0.0, ">= 0")?;
        let s = &self.solver;
        range("time_limit_s", s.time_limit_s, s.time_limit_s.is_finite() && s.time_limit_s > 0.0, "> 0 seconds")?;
        range("mip_gap", s.mip_gap, s.mip_gap.is_finite() && (0.0..1.0).contains(&s.mip_gap), "in [0, 1)")?;
        if s.solver_threads == 0 {
            range("solver_threads", 0.0, false, "at least 1")?;
        }
        if let Some(e) = self.search.effort {
            range("effort", e, (0.0..=1.0).contains(&e), "in [0, 1]")?;
        }
        if let Some(p) = self.sources.persons_per_household {
            range("persons_per_household", p, p.is_finite() && p > 0.0, "> 0")?;
        }
        match (self.micro.micro_min, self.micro.micro_max) {
            (None, None) => {}
            (Some(lo), Some(hi)) => {
                range("micro_min", lo, lo.is_finite() && lo >= 0.0, ">= 0")?;
                range("micro_max", hi, hi.is_finite() && hi > 0.0, "> 0")?;
                if lo > hi {
                    return Err(Error::OptionsInconsistent { option: OptionName("micro_min"), value: lo, relation: "is above", other: OptionName("micro_max"), other_value: hi });
                }
                if hi > b.upper_bound() {
                    let other = if b.upper_bound() < b.max_households { "worker_capacity" } else { "max_households" };
                    return Err(Error::OptionsInconsistent { option: OptionName("micro_max"), value: hi, relation: "is above the grid maximum", other: OptionName(other), other_value: b.upper_bound() });
                }
            }
            (Some(_), None) => return Err(Error::OptionNeeds { option: OptionName("micro_min"), needs: OptionName("micro_max").to_string() }),
            (None, Some(_)) => return Err(Error::OptionNeeds { option: OptionName("micro_max"), needs: OptionName("micro_min").to_string() }),
        }
        let r = &self.redivision;
        range("stability", r.stability, (0.0..=1.0).contains(&r.stability), "in [0, 1]")?;
        if self.columns.households.trim().is_empty() {
            return Err(Error::BadOptionValue { option: OptionName("households"), value: self.columns.households.clone(), expected: "the name of a property" });
        }
        Ok(())
    }
}

/// Names options in messages as the user's front end spells them: `--min-households` on the
/// command line, `min_households` in Python (see [`use_python_names`]).
static PYTHON_NAMES: AtomicBool = AtomicBool::new(false);

/// From now on, options are named as Python arguments in messages (the Python module calls it
/// when it is loaded).
pub fn use_python_names() {
    PYTHON_NAMES.store(true, Ordering::Relaxed);
}

/// From now on, options are named as command-line flags in messages (the default; the Python
/// console script calls it before running the command line).
pub fn use_command_line_names() {
    PYTHON_NAMES.store(false, Ordering::Relaxed);
}

/// An option, by its field name (`min_households`), shown as the front end spells it: the
/// command-line flag (`--min-households`; `--max-walk` for `max_walk_m`) or the Python argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionName(pub &'static str);

impl std::fmt::Display for OptionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if PYTHON_NAMES.load(Ordering::Relaxed) {
            return f.write_str(self.0);
        }
        let command = PartitionConfig::augment_args(AuditConfig::augment_args(clap::Command::new("wangge")));
        let long = command.get_arguments().find(|a| a.get_id() == self.0).and_then(|a| a.get_long()).map(str::to_string);
        match long {
            Some(long) => write!(f, "--{long}"),
            None => write!(f, "--{}", self.0.replace('_', "-")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_weight_defaults_by_streets_and_a_given_one_wins() {
        let c = PartitionConfig::default();
        assert_eq!(c.with_boundary_weight_for(true).search.boundary_weight, Some(Search::BOUNDARY_WEIGHT_WITH_STREETS));
        assert_eq!(c.with_boundary_weight_for(false).search.boundary_weight, Some(Search::BOUNDARY_WEIGHT_WITHOUT_STREETS));
        let given = PartitionConfig { search: Search { boundary_weight: Some(7.0), ..Search::default() }, ..c };
        assert_eq!(given.with_boundary_weight_for(true).search.boundary_weight, Some(7.0));
        assert_eq!(given.with_boundary_weight_for(false).search.boundary_weight, Some(7.0));
    }

    #[test]
    fn the_json_form_is_flat_and_reads_back() {
        let mut c = PartitionConfig::default();
        c.bounds.max_households = 450.0;
        c.walking.network_filter = Some("kind=path".parse().unwrap());
        c.redivision.locked = vec![FeatureId::Number(3), FeatureId::Text("G-07".into())];
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["max_households"], 450.0);
        assert_eq!(v["network_filter"], "kind=path");
        assert_eq!(v["locked"], serde_json::json!([3, "G-07"]));
        let back: PartitionConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn missing_fields_take_their_defaults_and_unknown_ones_are_refused() {
        let c: PartitionConfig = serde_json::from_str(r#"{"seed": 7, "min_households": 200}"#).unwrap();
        assert_eq!((c.search.seed, c.bounds.min_households, c.bounds.max_households), (7, 200.0, 500.0));
        let e = serde_json::from_str::<PartitionConfig>(r#"{"seeds": 7}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field(s) seeds") && e.contains("min_households"), "{e}");
    }

    #[test]
    fn a_summary_gives_back_its_config() {
        let c = PartitionConfig { search: Search { seed: 5, ..Search::default() }, ..PartitionConfig::default() };
        let summary = serde_json::json!({"wangge_version": "0", "config": c}).to_string();
        assert_eq!(PartitionConfig::from_json(&summary, Path::new("summary.json")).unwrap(), c);
        let e = PartitionConfig::from_json("{\"seed\": -1}", Path::new("c.json")).unwrap_err().to_string();
        assert!(e.starts_with("c.json:"), "{e}");
    }

    #[test]
    fn flags_override_a_configuration() {
        let file = PartitionConfig { search: Search { seed: 5, improve_passes: 3, ..Search::default() }, ..PartitionConfig::default() };
        let cli = PartitionConfig { search: Search { seed: 9, ..Search::default() }, ..PartitionConfig::default() };
        let merged = file.overridden_by(&cli, &["seed".into()]).unwrap();
        assert_eq!((merged.search.seed, merged.search.improve_passes), (9, 3));
    }

    #[test]
    fn validation_names_the_option_and_the_value() {
        let mut c = PartitionConfig::default();
        c.bounds.min_households = 600.0;
        assert_eq!(c.validate().unwrap_err().to_string(), "invalid configuration: --min-households (600) is above --max-households (500)");
        let mut c = PartitionConfig::default();
        c.walking.detour_factor = 0.5;
        assert_eq!(c.validate().unwrap_err().to_string(), "invalid configuration: --detour-factor must be >= 1, got 0.5");
        let mut c = PartitionConfig::default();
        c.bounds.max_walk_m = Some(-1.0);
        assert!(c.validate().unwrap_err().to_string().contains("--max-walk must be > 0 metres, got -1"));
        let mut c = PartitionConfig::default();
        c.micro.micro_min = Some(10.0);
        assert!(c.validate().unwrap_err().to_string().contains("--micro-min needs --micro-max"));
        assert!(PartitionConfig::default().validate().is_ok());
    }
}
