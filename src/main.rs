//! The `wangge` command line: a thin layer over the library.
//!
//! Exit codes: 0 ok, 1 `check` found problems, 2 usage, 3 invalid input, 4 infeasible (output
//! written, violations listed), 5 I/O or other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use wangge::progress::Progress;
use wangge::write::write_partition_as;
use wangge::audit::{AuditConfig, AuditInputs};
use wangge::read::{read_layer, Format, Layer, ReadOptions};
use wangge::{partition_files, Error, Inputs, PartitionConfig};

#[derive(Parser)]
#[command(name = "wangge", version, about = "Divide a territory into balanced, contiguous, compact grids (网格)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Divide buildings into grids within household bounds and tile the territory with them.
    Partition(PartitionArgs),
    /// Audit a grid layer: overlaps, gaps, slivers, invalid geometries, grids in pieces and, with
    /// buildings, unserved, doubly claimed and split buildings and grids outside the bounds.
    /// Exit code 0 when clean (slivers tolerated), 1 when problems were found.
    Check(AuditArgs),
    /// Repair a grid layer: no gap and no overlap left, invalid geometries made valid, ids and
    /// attributes kept; writes OUT/grids.geojson and OUT/repair.json.
    Repair(AuditArgs),
    /// Describe a vector file as JSON: format, layers, features, CRS, bounds, geometry types,
    /// columns with their types.
    Info(InfoArgs),
}

#[derive(Args)]
struct InfoArgs {
    /// A GeoJSON, line-delimited GeoJSON, GeoPackage, Shapefile or FlatGeobuf file.
    file: PathBuf,
    #[command(flatten)]
    read: ReadArgs,
}

/// How to read an input file beyond its path (shared by `info` and `partition`).
#[derive(Args)]
struct ReadArgs {
    /// Format, overriding the extension: geojson, geojsonseq, gpkg, shp, fgb.
    #[arg(long)]
    format: Option<String>,
    /// Layer of a GeoPackage. [default: the first feature table]
    #[arg(long)]
    layer: Option<String>,
    /// Text encoding of Shapefile attributes, overriding the .cpg file (e.g. GBK, GB18030).
    #[arg(long)]
    encoding: Option<String>,
}

impl ReadArgs {
    fn options(&self) -> Result<ReadOptions, Error> {
        let format = match self.format.as_deref() {
            None => None,
            Some(f) => Some(Format::parse(f).ok_or_else(|| Error::Config(format!("--format: unknown format '{f}' (geojson, geojsonseq, gpkg, shp, fgb)")))?),
        };
        Ok(ReadOptions { format, layer: self.layer.clone(), encoding: self.encoding.clone() })
    }
}

/// The format named by `--output-format`.
fn output_format(text: &str) -> Result<Format, Error> {
    Format::parse(text).ok_or_else(|| Error::Config(format!("--output-format: unknown format '{text}' (geojson, geojsonseq, gpkg, shp, fgb)")))
}

fn run_info(args: InfoArgs) -> Result<ExitCode, Error> {
    let options = args.read.options()?;
    let info = wangge::read::describe(&args.file, &options)?;
    println!("{}", serde_json::to_string_pretty(&info).map_err(|e| Error::Config(e.to_string()))?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct AuditArgs {
    /// Grid polygons (GeoJSON).
    grids: PathBuf,
    /// Territory the grids should tile (polygons). Default: gaps are the holes of the grids'
    /// union and notches open to its outer edge.
    #[arg(long)]
    territory: Option<PathBuf>,
    /// Buildings with households (GeoJSON polygons or points).
    #[arg(long)]
    buildings: Option<PathBuf>,
    /// Output directory (check: issues.geojson, summary.json; repair: grids.geojson, repair.json).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// `--json -`: write the summary and the issues as one JSON document on stdout (check).
    #[arg(long, value_name = "-")]
    json: Option<String>,
    /// Grid id column. [default: grid_id when present, else the feature id, else the row number]
    #[arg(long)]
    id: Option<String>,
    /// CRS of the layers, overriding the files (e.g. EPSG:4547).
    #[arg(long)]
    crs: Option<String>,
    /// Gaps and overlaps below this area (m²) are slivers, reported apart. [default: 1]
    #[arg(long)]
    tolerance_m2: Option<f64>,
    /// Without a territory, gaps open to the outer edge are found up to this width (m). [default: 20]
    #[arg(long)]
    edge_gap_width_m: Option<f64>,
    /// Household column of the buildings. [default: households]
    #[arg(long)]
    households: Option<String>,
    /// Id column of the buildings. [default: the feature id, else the row number]
    #[arg(long)]
    building_id: Option<String>,
    /// Lowest households a grid may hold (with --buildings).
    #[arg(long)]
    min_households: Option<f64>,
    /// Highest households a grid may hold (with --buildings).
    #[arg(long)]
    max_households: Option<f64>,
    /// Replace the files of a non-empty output directory.
    #[arg(long)]
    overwrite: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Format of the repaired grids (repair): geojson, geojsonseq, gpkg, shp or fgb.
    #[arg(long, default_value = "geojson", value_name = "FORMAT")]
    output_format: String,
}

impl AuditArgs {
    fn config(&self) -> Result<AuditConfig, Error> {
        let mut c = AuditConfig { id: self.id.clone(), crs: self.crs.clone(), building_id: self.building_id.clone(), ..AuditConfig::default() };
        if let Some(t) = self.tolerance_m2 {
            c.tolerance_m2 = t;
        }
        if let Some(w) = self.edge_gap_width_m {
            c.edge_gap_width_m = w;
        }
        if let Some(h) = &self.households {
            c.households = h.clone();
        }
        c.min_households = self.min_households;
        c.max_households = self.max_households;
        c.validate()?;
        Ok(c)
    }

    /// Reads the grid layer and the optional ones.
    fn layers(&self, config: &AuditConfig) -> Result<(Layer, Option<Layer>, Option<Layer>), Error> {
        let cols = wangge::audit::layer::grid_columns(config);
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        let grids = read_layer(&self.grids, &refs)?;
        let territory = self.territory.as_ref().map(|p| read_layer(p, &[])).transpose()?;
        let bcols = wangge::audit::buildings::building_columns(config);
        let brefs: Vec<&str> = bcols.iter().map(String::as_str).collect();
        let buildings = self.buildings.as_ref().map(|p| read_layer(p, &brefs)).transpose()?;
        Ok((grids, territory, buildings))
    }
}

fn run_check(args: AuditArgs) -> Result<ExitCode, Error> {
    let config = args.config()?;
    let to_stdout = match args.json.as_deref() {
        None => false,
        Some("-") => true,
        Some(other) => return Err(Error::Config(format!("--json takes '-' (stdout), got '{other}'"))),
    };
    if output_format(&args.output_format)? != Format::GeoJson {
        return Err(Error::Config("wangge check writes issues.geojson: --output-format is for repair".into()));
    }
    if !to_stdout && args.output.is_none() {
        return Err(Error::Config("wangge check needs -o OUT_DIR or --json -".into()));
    }
    if let Some(o) = &args.output {
        wangge::write::OutputDir::prepare(o, args.overwrite)?;
    }
    let (grids, territory, buildings) = args.layers(&config)?;
    let audit = wangge::audit::check(grids, AuditInputs { territory: territory.as_ref(), buildings: buildings.as_ref() }, &config)?;
    if let Some(o) = &args.output {
        wangge::audit::output::write_check(o, args.overwrite, &audit)?;
    }
    if to_stdout {
        let doc = wangge::audit::output::check_document(&audit)?;
        println!("{}", serde_json::to_string(&doc).map_err(|e| Error::Config(e.to_string()))?);
    }
    if !args.quiet {
        eprintln!("wangge check: {}: {}", args.grids.display(), audit.summary["message"].as_str().unwrap_or(""));
        for p in audit.problems.iter().take(20) {
            eprintln!("  [{}] {}", p.kind.as_str(), p.message);
        }
        if audit.problems.len() > 20 {
            eprintln!("  ... and {} more", audit.problems.len() - 20);
        }
    }
    Ok(if audit.clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn run_repair(args: AuditArgs) -> Result<ExitCode, Error> {
    let config = args.config()?;
    let Some(out) = args.output.clone() else {
        return Err(Error::Config("wangge repair needs -o OUT_DIR".into()));
    };
    let format = output_format(&args.output_format)?;
    wangge::write::OutputDir::prepare(&out, args.overwrite)?;
    let (grids, territory, buildings) = args.layers(&config)?;
    let repaired = wangge::audit::repair::repair(grids, AuditInputs { territory: territory.as_ref(), buildings: buildings.as_ref() }, &config)?;
    let warnings = wangge::audit::output::write_repair_as(&out, args.overwrite, &repaired, format)?;
    if !args.quiet {
        for w in &warnings {
            eprintln!("wangge: warning: {w}");
        }
        let r = &repaired.report;
        eprintln!(
            "wangge repair: {} → {}: {} grids changed, {} overlaps resolved, {} gaps filled, {} made valid, {} removed",
            args.grids.display(),
            out.join(format!("grids.{}", wangge::write::extension(format))).display(),
            r["grids_changed"], r["overlaps_resolved"], r["gaps_filled"], r["made_valid"], r["removed"]
        );
        for u in &repaired.unresolved {
            eprintln!("  unresolved: {u}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
struct PartitionArgs {
    /// Building footprints (GeoJSON: Polygon, MultiPolygon or Point features).
    buildings: PathBuf,
    /// Output directory (buildings.geojson, grids.geojson, summary.json).
    #[arg(short, long)]
    output: PathBuf,
    /// Territory the grids must tile (polygons). Default: the buildings' convex hull, buffered.
    #[arg(long)]
    territory: Option<PathBuf>,
    /// Barriers no grid may cross (lines or polygons: rivers, railways, arterials). Repeatable.
    #[arg(long = "barriers", value_name = "FILE")]
    barriers: Vec<PathBuf>,
    /// JSON file with configuration fields (see the README); flags given here override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Household column. [default: households]
    #[arg(long)]
    households: Option<String>,
    /// Population column. [default: population, when present]
    #[arg(long)]
    population: Option<String>,
    /// Id column. [default: the feature id, else the row number]
    #[arg(long)]
    id: Option<String>,
    /// CRS of the inputs, overriding the files (e.g. EPSG:4547).
    #[arg(long)]
    crs: Option<String>,
    /// Lowest number of households in a grid. [default: 300]
    #[arg(long)]
    min_households: Option<f64>,
    /// Highest number of households in a grid. [default: 500]
    #[arg(long)]
    max_households: Option<f64>,
    /// Households per grid to aim for. [default: middle of the bounds]
    #[arg(long)]
    target_households: Option<f64>,
    /// Fixed number of grids (instead of choosing it from the bounds).
    #[arg(long)]
    grids: Option<usize>,
    /// Footprints farther apart than this (metres) are never neighbours. [default: 500]
    #[arg(long)]
    max_edge_m: Option<f64>,
    /// Buffer around the buildings' hull when no territory is given (metres). [default: 30]
    #[arg(long)]
    territory_buffer_m: Option<f64>,
    /// Seed of every random choice. [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// Passes of the compactness local search (0 disables it). [default: 60]
    #[arg(long)]
    improve_passes: Option<usize>,
    /// Walkable network (lines) for network walking distances.
    #[arg(long)]
    network: Option<PathBuf>,
    /// Walkable features of the network, e.g. `kind=path,minor_road` (or `kind!=rail`). [default: all]
    #[arg(long)]
    network_filter: Option<String>,
    /// Network distances are computed up to this walk (m). [default: 1500]
    #[arg(long)]
    network_radius_m: Option<f64>,
    /// Straight-line distance × this estimates a walk. [default: 1.3]
    #[arg(long)]
    detour_factor: Option<f64>,
    /// Weight of each building's walk: households, buildings, or a column. [default: households]
    #[arg(long)]
    objective_weight: Option<String>,
    /// Every building within this walk (m) of its grid's service point.
    #[arg(long = "max-walk", value_name = "METRES")]
    max_walk_m: Option<f64>,
    /// Solve exactly (MILP with contiguity; small instances), proving optimality within the time limit.
    #[arg(long)]
    exact: bool,
    /// Bound the objective by the LP relaxation (stronger, slower) instead of the Lagrangian one.
    #[arg(long)]
    lp_bound: bool,
    /// Search effort from 0 (fastest) to 1 (most thorough). [default: 1 up to 20,000 buildings, less beyond]
    #[arg(long)]
    effort: Option<f64>,
    /// Polish small areas with the MILP restricted to nearby centres (slower, more compact).
    #[arg(long)]
    polish: bool,
    /// Allow grids in several pieces: the plain capacitated p-median problem.
    #[arg(long)]
    no_contiguity: bool,
    /// Time limit of each MILP/LP solve (s). [default: 60]
    #[arg(long = "time-limit", value_name = "SECONDS")]
    time_limit_s: Option<f64>,
    /// Relative MIP gap at which a solve stops. [default: 0.0001]
    #[arg(long)]
    mip_gap: Option<f64>,
    /// Threads of the MILP/LP solver. [default: 1]
    #[arg(long)]
    solver_threads: Option<usize>,
    /// Grid workers: a number, or a CSV/GeoJSON file (id, capacity, optional location and kind).
    #[arg(long, value_name = "N|FILE")]
    workers: Option<String>,
    /// Households one worker can serve (with --workers N); lowers the grid maximum.
    #[arg(long)]
    worker_capacity: Option<f64>,
    /// Households from a separate table (CSV/TSV in UTF-8 or GBK, or any vector file), joined
    /// on --join-on; summed per key, or one row per household when it has no household column.
    #[arg(long, value_name = "FILE")]
    households_table: Option<PathBuf>,
    /// Join key of --households-table: COLUMN (in both) or BUILDINGS_COLUMN=TABLE_COLUMN.
    #[arg(long, value_name = "COLUMN")]
    join_on: Option<String>,
    /// Zones (polygons) with population totals, shared among the buildings inside each zone by
    /// floor area (footprint area × floors), each zone keeping its total exactly.
    #[arg(long, value_name = "FILE")]
    population_zones: Option<PathBuf>,
    /// Population column of --population-zones.
    #[arg(long, value_name = "COLUMN")]
    zone_population: Option<String>,
    /// Household column of --population-zones, when the zones give household totals too.
    #[arg(long, value_name = "COLUMN")]
    zone_households: Option<String>,
    /// Floors column of the buildings (floor area = footprint area × floors; a building above the
    /// maximum without units is split into bands of floors). [default: 1 floor]
    #[arg(long, value_name = "COLUMN")]
    floors: Option<String>,
    /// Units (单元, stairwells) column of the buildings: a building above the grid maximum (the
    /// micro maximum with micro-grids) is split into one part per unit (else, with --floors,
    /// into bands of floors); OUT/building_parts.<ext> lists the parts and their grids.
    #[arg(long, value_name = "COLUMN")]
    units: Option<String>,
    /// Zone households = zone population / this, when the zones have no household column.
    #[arg(long)]
    persons_per_household: Option<f64>,
    /// Lowest households of a micro-grid: with --micro-max, every grid is divided into connected
    /// micro-grids nested in it (OUT/micro_grids.geojson; buildings get micro_grid_id).
    #[arg(long)]
    micro_min: Option<f64>,
    /// Highest households of a micro-grid (a building above it is a micro-grid of its own).
    #[arg(long)]
    micro_max: Option<f64>,
    /// Prefix of grid codes: grid_code = prefix + 3-digit grid number (micro-grids add 2 digits).
    #[arg(long)]
    code_prefix: Option<String>,
    /// Re-divide from these existing grid polygons: grids keep their ids, only grids out of
    /// bounds or in pieces change, moving few households (see --stability).
    #[arg(long, value_name = "FILE")]
    existing: Option<PathBuf>,
    /// Re-divide from the grid ids in this column of the buildings (instead of --existing).
    #[arg(long, value_name = "COLUMN")]
    existing_column: Option<String>,
    /// Id column of the --existing polygons. [default: grid_id, else the feature id]
    #[arg(long, value_name = "COLUMN")]
    existing_id: Option<String>,
    /// 1: move only what the bounds require; towards 0: moves that shorten walks are allowed,
    /// each costing walk per household. [default: 1]
    #[arg(long)]
    stability: Option<f64>,
    /// Existing grids kept exactly as they are (same buildings, same id, same polygon when
    /// --existing polygons are given), e.g. 3,17 or G-03,G-17.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    locked: Vec<String>,
    /// Worker threads. [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// How to read the buildings file.
    #[command(flatten)]
    read: ReadArgs,
    /// Replace the files of a non-empty output directory.
    #[arg(long)]
    overwrite: bool,
    /// No progress output.
    #[arg(short, long)]
    quiet: bool,
    /// Format of buildings.<ext> and grids.<ext>: geojson, geojsonseq, gpkg, shp or fgb
    /// (summary.json stays JSON).
    #[arg(long, default_value = "geojson", value_name = "FORMAT")]
    output_format: String,
}

impl PartitionArgs {
    fn config(&self) -> Result<PartitionConfig, Error> {
        let mut c = match &self.config {
            None => PartitionConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.clone(), action: "read", source: e })?;
                serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            }
        };
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                }
            };
            (opt $field:ident) => {
                if let Some(v) = &self.$field {
                    c.$field = Some(v.clone());
                }
            };
        }
        set!(households);
        set!(opt population);
        set!(opt id);
        set!(opt crs);
        set!(min_households);
        set!(max_households);
        set!(opt target_households);
        set!(opt grids);
        set!(max_edge_m);
        set!(territory_buffer_m);
        set!(seed);
        set!(improve_passes);
        set!(opt network_filter);
        set!(network_radius_m);
        set!(detour_factor);
        set!(objective_weight);
        set!(opt max_walk_m);
        set!(time_limit_s);
        set!(mip_gap);
        set!(solver_threads);
        set!(opt worker_capacity);
        set!(opt effort);
        set!(opt join_on);
        set!(opt zone_population);
        set!(opt zone_households);
        set!(opt floors);
        set!(opt units);
        set!(opt persons_per_household);
        set!(opt micro_min);
        set!(opt micro_max);
        set!(opt code_prefix);
        set!(opt existing_column);
        set!(opt existing_id);
        set!(stability);
        if !self.locked.is_empty() {
            c.locked = self.locked.iter().map(|l| wangge::read::FeatureId::Text(l.trim().to_string())).collect();
        }
        if self.exact {
            c.exact = true;
        }
        if self.polish {
            c.polish = true;
        }
        if self.lp_bound {
            c.lp_bound = true;
        }
        if self.no_contiguity {
            c.contiguity = false;
        }
        if let Some(w) = &self.workers {
            if let Ok(n) = w.trim().parse::<usize>() {
                c.workers = Some(n);
            }
        }
        c.validate()?;
        Ok(c)
    }
}

fn run_partition(args: PartitionArgs) -> Result<ExitCode, Error> {
    let config = args.config()?;
    let format = output_format(&args.output_format)?;
    if let Some(t) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build_global()
            .map_err(|e| Error::Config(format!("--threads: {e}")))?;
    }
    // Refuse a non-empty output directory before any work.
    wangge::write::OutputDir::prepare(&args.output, args.overwrite)?;
    let workers_file = args.workers.as_ref().filter(|w| w.trim().parse::<usize>().is_err()).map(PathBuf::from);
    let inputs = Inputs {
        buildings: args.buildings.clone(),
        territory: args.territory.clone(),
        barriers: args.barriers.clone(),
        network: args.network.clone(),
        workers: workers_file,
        households_table: args.households_table.clone(),
        population_zones: args.population_zones.clone(),
        existing: args.existing.clone(),
        read: args.read.options()?,
    };
    let mut progress = Progress::new(!args.quiet);
    let (result, layer) = partition_files(&inputs, &config, &mut progress)?;
    progress.stage("write", "writing outputs");
    let warnings = write_partition_as(&args.output, args.overwrite, &result, &layer, format)?;
    progress.done();
    if !args.quiet {
        for w in &warnings {
            eprintln!("wangge: warning: {w}");
        }
    }
    if !args.quiet {
        let s = &result.summary;
        eprintln!(
            "wangge: {} → {}: {}",
            args.buildings.display(),
            args.output.display(),
            s["message"].as_str().unwrap_or("")
        );
        const SHOWN: usize = 20;
        for v in result.violations.iter().take(SHOWN) {
            eprintln!("  grid {} [{}]: {}", v.grid_id, v.kind, v.message);
        }
        if result.violations.len() > SHOWN {
            eprintln!("  ... and {} more (see summary.json)", result.violations.len() - SHOWN);
        }
    }
    Ok(if result.infeasible() { ExitCode::from(4) } else { ExitCode::SUCCESS })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Partition(args) => run_partition(args),
        Command::Check(args) => run_check(args),
        Command::Repair(args) => run_repair(args),
        Command::Info(args) => run_info(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wangge: error: {e}");
            ExitCode::from(match &e {
                Error::Config(_) | Error::OutputNotEmpty { .. } => 2,
                e if e.is_input_error() => 3,
                _ => 5,
            })
        }
    }
}
