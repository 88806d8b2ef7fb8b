//! The `wangge` command line: a thin layer over the library, run by the `wangge` binary and by
//! the Python package's `wangge` console script.
//!
//! Exit codes: 0 ok, 1 `check` found problems, 2 usage, 3 invalid input, 4 infeasible (output
//! written, violations listed), 5 I/O or other failure.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// A line on stderr; a closed or full stderr is ignored (never a panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use crate::audit::{AuditConfig, AuditInputs};
use crate::progress::Progress;
use crate::read::{read_layer, Format, Layer, ReadOptions};
use crate::write::write_partition_as;
use crate::batch::InputArgs;
use crate::config::PartitionConfig;
use crate::error::Error;
use crate::pipeline::partition_files;

#[derive(Parser)]
#[command(name = "wangge", version, about = "Divide a territory into balanced, contiguous, compact grids (网格)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Divide buildings into grids within household bounds and tile the territory with them.
    Partition(Box<PartitionArgs>),
    /// Audit a grid layer: overlaps, gaps, slivers, invalid geometries, grids in pieces and, with
    /// buildings, unserved, doubly claimed and split buildings and grids outside the bounds.
    /// Exit code 0 when clean (slivers tolerated), 1 when problems were found.
    Check(AuditArgs),
    /// Repair a grid layer: no gap and no overlap left, invalid geometries made valid, ids and
    /// attributes kept; writes OUT/grids.geojson and OUT/repair.json.
    Repair(AuditArgs),
    /// Run many partition jobs listed in a manifest (CSV, TOML or a folder of building files):
    /// each into its own folder, finished jobs skipped on a rerun, batch_summary.json/.csv;
    /// exit code of the worst job.
    Batch(BatchArgs),
    /// Describe a vector file as JSON: format, layers, features, CRS, bounds, geometry types,
    /// columns with their types.
    Info(InfoArgs),
    /// Write the HTML report of a partition's outputs: one self-contained file (opens offline)
    /// with the map of the grids coloured by load, tooltips, histograms, a sortable grid table,
    /// violations and warnings.
    Report(ReportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// The output of `wangge partition`: its directory, or its GeoPackage file.
    run: PathBuf,
    /// The HTML file to write. [default: RUN/report.html, or FILE.report.html beside a GeoPackage]
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Where the report of the run written to `run` goes by default.
fn default_report_path(run: &std::path::Path) -> PathBuf {
    if crate::write::is_single_gpkg(run) || run.is_file() {
        run.with_extension("report.html")
    } else {
        run.join("report.html")
    }
}

fn run_report(args: ReportArgs) -> Result<u8, Error> {
    let files = crate::write::html::RunFiles::find(&args.run)?;
    let html = args.output.clone().unwrap_or_else(|| default_report_path(&args.run));
    let grids = crate::write::html::write_report(&files, &html)?;
    say!("wangge report: {} grids → {}", grids, html.display());
    Ok(0)
}

#[derive(Args)]
struct InfoArgs {
    /// A GeoJSON, line-delimited GeoJSON, GeoPackage, Shapefile or FlatGeobuf file.
    file: PathBuf,
    #[command(flatten)]
    read: ReadOptions,
}

fn run_info(args: InfoArgs) -> Result<u8, Error> {
    let info = crate::read::describe(&args.file, &args.read)?;
    let text = serde_json::to_string_pretty(&info).map_err(|e| Error::Invariant { stage: "info", message: e.to_string() })?;
    print_stdout(&text)?;
    Ok(0)
}

#[derive(Args)]
struct AuditArgs {
    /// Grid polygons (any input format).
    grids: PathBuf,
    /// Territory the grids should tile (polygons). Default: gaps are the holes of the grids'
    /// union and notches open to its outer edge.
    #[arg(long)]
    territory: Option<PathBuf>,
    /// Buildings with households (polygons or points).
    #[arg(long)]
    buildings: Option<PathBuf>,
    /// Water (polygons; lines and points are skipped), repeatable: gaps inside it are not
    /// problems and repair leaves them (wangge partition leaves water out of the grids).
    #[arg(long = "water", value_name = "FILE")]
    water: Vec<PathBuf>,
    /// Output directory (check: issues.geojson, summary.json; repair: grids.<ext>, repair.json).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// `--json -`: write the summary and the issues as one JSON document on stdout (check).
    #[arg(long, value_name = "-")]
    json: Option<String>,
    #[command(flatten)]
    options: AuditConfig,
    /// Replace the files of a non-empty output directory.
    #[arg(long)]
    overwrite: bool,
    /// No messages on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Also write OUT_DIR/report.html (check): one self-contained page with the grids and
    /// every problem located on a map, listed with its message.
    #[arg(long)]
    report: bool,
    /// Format of the repaired grids (repair).
    #[arg(long, value_enum, default_value_t = Format::GeoJson, value_name = "FORMAT")]
    output_format: Format,
    /// How to read the grid file (`--layer` picks the grid layer of a GeoPackage).
    #[command(flatten)]
    read: ReadOptions,
    /// Layer of the buildings' GeoPackage (e.g. the same file as the grids). [default: the
    /// first feature table]
    #[arg(long, value_name = "LAYER")]
    buildings_layer: Option<String>,
}

impl AuditArgs {
    fn config(&self) -> Result<AuditConfig, Error> {
        self.options.validate()?;
        Ok(self.options.clone())
    }

    /// Reads the grid layer and the optional ones.
    fn layers(&self, config: &AuditConfig) -> Result<(Layer, Option<Layer>, Option<Layer>, Vec<Layer>), Error> {
        let cols = crate::audit::layer::grid_columns(config);
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        let grids = crate::read::read_layer_with(&self.grids, &refs, &self.read)?;
        let territory = self.territory.as_ref().map(|p| read_layer(p, &[])).transpose()?;
        let bcols = crate::audit::buildings::building_columns(config);
        let brefs: Vec<&str> = bcols.iter().map(String::as_str).collect();
        let building_options = ReadOptions { layer: self.buildings_layer.clone(), ..ReadOptions::default() };
        let buildings = self.buildings.as_ref().map(|p| crate::read::read_layer_with(p, &brefs, &building_options)).transpose()?;
        let water = self.water.iter().map(|p| read_layer(p, &[])).collect::<Result<Vec<_>, _>>()?;
        Ok((grids, territory, buildings, water))
    }
}

fn run_check(args: AuditArgs) -> Result<u8, Error> {
    let config = args.config()?;
    let to_stdout = match args.json.as_deref() {
        None => false,
        Some("-") => true,
        Some(other) => return Err(Error::BadOptionValue { option: crate::config::OptionName("json"), value: other.into(), expected: "'-' (stdout)" }),
    };
    if args.output_format != Format::GeoJson {
        return Err(Error::OptionOnlyWith { option: crate::config::OptionName("output_format"), with: "wangge repair (wangge check writes issues.geojson)".into() });
    }
    if !to_stdout && args.output.is_none() {
        return Err(Error::MissingArgument { command: "check", needs: "-o OUT_DIR or --json -" });
    }
    if args.report && args.output.is_none() {
        return Err(Error::MissingArgument { command: "check --report", needs: "-o OUT_DIR (the report is written there)" });
    }
    if let Some(o) = &args.output {
        crate::write::OutputDir::check(o, args.overwrite)?;
    }
    let (grids, territory, buildings, water) = args.layers(&config)?;
    let water: Vec<&Layer> = water.iter().collect();
    let audit = crate::audit::check(grids, AuditInputs { territory: territory.as_ref(), buildings: buildings.as_ref(), water: &water }, &config)?;
    if let Some(o) = &args.output {
        crate::audit::output::write_check(o, args.overwrite, &audit, args.report)?;
    }
    if to_stdout {
        let doc = crate::audit::output::check_document(&audit)?;
        print_stdout(&serde_json::to_string(&doc).map_err(|e| Error::Invariant { stage: "check", message: e.to_string() })?)?;
    }
    if !args.quiet {
        say!("wangge check: {}: {}", args.grids.display(), audit.summary["message"].as_str().unwrap_or(""));
        for p in audit.problems.iter().take(20) {
            say!("  [{}] {}", p.kind.as_str(), p.message);
        }
        if audit.problems.len() > 20 {
            say!("  ... and {} more", audit.problems.len() - 20);
        }
        if let (true, Some(o)) = (args.report, &args.output) {
            say!("wangge check: report → {}", o.join("report.html").display());
        }
    }
    Ok(if audit.clean() { 0 } else { 1 })
}

fn run_repair(args: AuditArgs) -> Result<u8, Error> {
    let config = args.config()?;
    let Some(out) = args.output.clone() else {
        return Err(Error::MissingArgument { command: "repair", needs: "-o OUT_DIR" });
    };
    if args.report {
        return Err(Error::OptionOnlyWith { option: crate::config::OptionName("report"), with: "wangge check (check the repaired grids with --report)".into() });
    }
    let format = args.output_format;
    crate::write::OutputDir::check(&out, args.overwrite)?;
    let (grids, territory, buildings, water) = args.layers(&config)?;
    let water: Vec<&Layer> = water.iter().collect();
    let repaired = crate::audit::repair::repair(grids, AuditInputs { territory: territory.as_ref(), buildings: buildings.as_ref(), water: &water }, &config)?;
    let warnings = crate::audit::output::write_repair_as(&out, args.overwrite, &repaired, format)?;
    if !args.quiet {
        for w in &warnings {
            say!("wangge: warning: {w}");
        }
        let r = &repaired.report;
        say!(
            "wangge repair: {} → {}: {} grids changed, {} overlaps resolved, {} gaps filled, {} made valid, {} removed",
            args.grids.display(),
            out.join(format!("grids.{}", crate::write::extension(format))).display(),
            r["grids_changed"], r["overlaps_resolved"], r["gaps_filled"], r["made_valid"], r["removed"]
        );
    }
    // What the repair could not resolve is never hidden, even with -q, and is not a success.
    if !repaired.unresolved.is_empty() {
        say!("wangge repair: {} problems remain unresolved (listed in {}):", repaired.unresolved.len(), out.join("repair.json").display());
        for u in repaired.unresolved.iter().take(20) {
            say!("  unresolved: {u}");
        }
        if repaired.unresolved.len() > 20 {
            say!("  ... and {} more", repaired.unresolved.len() - 20);
        }
        return Ok(1);
    }
    Ok(0)
}

#[derive(Args)]
struct PartitionArgs {
    /// Building footprints (Polygon, MultiPolygon or Point features; any input format).
    buildings: PathBuf,
    /// Output directory (buildings, grids, summary.json), refused when not empty unless
    /// --overwrite; or `FILE.gpkg`: one GeoPackage with the layers buildings, grids,
    /// micro_grids, building_parts and violations, and FILE.summary.json beside it.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    options: PartitionConfig,
    /// Worker threads. [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// How to read the buildings file.
    #[command(flatten)]
    read: ReadOptions,
    /// Replace the outputs of a non-empty output directory.
    #[arg(long)]
    overwrite: bool,
    /// No progress line on stderr (hidden anyway when not a terminal); warnings, misses and the
    /// closing lines are printed all the same.
    #[arg(short, long)]
    quiet: bool,
    /// Format of the building, grid and micro-grid layers (summary.json stays JSON).
    #[arg(long, value_enum, default_value_t = Format::GeoJson, value_name = "FORMAT")]
    output_format: Format,
    /// Also write the HTML report (OUT/report.html, or FILE.report.html beside a GeoPackage);
    /// see `wangge report`.
    #[arg(long)]
    report: bool,
}

impl PartitionArgs {
    /// The configuration: the --config file (or the defaults), overridden by every option given
    /// on the command line (`matches`: this subcommand's).
    fn config(&self, matches: &ArgMatches) -> Result<PartitionConfig, Error> {
        let given: Vec<String> = matches.ids().map(|id| id.as_str().to_string()).filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine)).collect();
        self.inputs.config(&self.options, &given)
    }
}

#[derive(Args)]
struct BatchArgs {
    /// The jobs: a CSV (a header, then one row per job: name, buildings, output and any
    /// `wangge partition` option by its long name, e.g. territory, barriers (several separated
    /// by ;), min-households, communities), a TOML file ([defaults] and [[jobs]] tables with
    /// the same keys), or a folder whose building files are one job each. Paths are relative to
    /// the manifest.
    manifest: PathBuf,
    /// Output directory: each job's outputs in OUT/NAME (unless the job names its output),
    /// batch_summary.json and batch_summary.csv.
    #[arg(short, long)]
    output: PathBuf,
    /// Jobs run at the same time (each job uses every thread).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Run every job again, even those finished before with the same options.
    #[arg(long)]
    force: bool,
    /// No line per job on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn run_batch(args: BatchArgs) -> Result<u8, Error> {
    let jobs = crate::batch::read_manifest(&args.manifest, &args.output)?;
    let quiet = args.quiet;
    let total = jobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let note = |r: &crate::batch::JobReport| {
        let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if quiet {
            return;
        }
        let figures = match (r.grids, r.grids_in_bounds, r.mean_walk_m) {
            (Some(g), Some(b), Some(w)) => format!("{g} grids, {b} in bounds, mean walk {w:.1} m"),
            _ => String::new(),
        };
        let error = r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        say!("wangge batch: [{k}/{total}] {} {} ({:.1} s) {figures}{error}", r.name, r.status, r.seconds);
    };
    let report = crate::batch::run_batch(&args.manifest, &jobs, &args.output, args.jobs, args.force, &note)?;
    if !quiet {
        let counts: Vec<String> = report.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        say!("wangge batch: {} jobs: {} in {:.1} s → {}", report.jobs.len(), counts.join(", "), report.seconds, args.output.join("batch_summary.json").display());
    }
    Ok(report.exit_code)
}

fn run_partition(args: PartitionArgs, matches: &ArgMatches) -> Result<u8, Error> {
    let started = std::time::Instant::now();
    let config = args.config(matches)?;
    let format = args.output_format;
    if let Some(t) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(t.max(1)).build_global().map_err(|e| Error::Threads { message: e.to_string() })?;
    }
    // `-o FILE.gpkg`: one GeoPackage (and FILE.summary.json); else a directory of layers.
    let single_gpkg = crate::write::is_single_gpkg(&args.output);
    if single_gpkg {
        if args.output_format != Format::GeoJson && args.output_format != Format::GeoPackage {
            return Err(Error::OptionOnlyWith { option: crate::config::OptionName("output_format"), with: "an output directory (-o FILE.gpkg writes one GeoPackage)".into() });
        }
        if !args.overwrite && args.output.exists() {
            return Err(Error::OutputNotEmpty { path: args.output.clone() });
        }
    } else {
        // Refuse a non-empty output directory before any work.
        crate::write::OutputDir::check(&args.output, args.overwrite)?;
    }
    let inputs = args.inputs.inputs(&args.buildings, &args.read);
    let mut progress = Progress::new(!args.quiet);
    let (result, layers) = partition_files(&inputs, &config, &mut progress)?;
    progress.stage("write", "writing outputs");
    let mut written = if single_gpkg {
        crate::write::write_partition_gpkg(&args.output, args.overwrite, &result, &layers.buildings)?
    } else {
        write_partition_as(&args.output, args.overwrite, &result, &layers.buildings, format)?
    };
    if args.report {
        progress.stage("write", "writing the HTML report");
        let html = default_report_path(&args.output);
        crate::write::html::write_report(&crate::write::html::RunFiles::find(&args.output)?, &html)?;
        written.files.push(html);
    }
    progress.done();
    // -q hides the progress line only: warnings, misses and the closing lines always go to stderr.
    for w in result.summary.warnings.iter().chain(&written.warnings) {
        say!("wangge: warning: {w}");
    }
    let s = &result.summary;
    say!("wangge: {} → {}: {}", args.buildings.display(), args.output.display(), s.message);
    const SHOWN: usize = 20;
    for v in result.violations.iter().take(SHOWN) {
        let note = if v.unavoidable { " (unavoidable)" } else { "" };
        say!("  grid {} [{}{note}]: {}", v.grid_id, v.kind, v.message);
    }
    if result.violations.len() > SHOWN {
        say!("  ... and {} more (see summary.json)", result.violations.len() - SHOWN);
    }
    for line in closing_lines(&result, &written.files, started.elapsed().as_secs_f64()) {
        say!("wangge: {line}");
    }
    Ok(if result.infeasible() { 4 } else { 0 })
}

/// The run in figures: grids in band, households min/median/max, the mean walk, the time, the
/// exit status when some grid misses a bound, and the files written.
fn closing_lines(result: &crate::report::Partitioned, files: &[PathBuf], seconds: f64) -> Vec<String> {
    let s = &result.summary;
    let mut households: Vec<f64> = result.grids.iter().map(|g| g.households).collect();
    households.sort_by(f64::total_cmp);
    let median = match households.len() {
        0 => None,
        n if n % 2 == 1 => Some(households[n / 2]),
        n => Some(0.5 * (households[n / 2 - 1] + households[n / 2])),
    };
    let [lo, hi] = s.households.bounds;
    let mut lines = Vec::new();
    if let (Some(min), Some(med), Some(max)) = (households.first(), median, households.last()) {
        lines.push(format!(
            "{} of {} grids within {}–{} households; households per grid min {} / median {} / max {}; mean walk {:.1} m",
            s.households.grids_in_bounds,
            s.grids,
            crate::text::count(lo),
            crate::text::count(hi),
            crate::text::count(*min),
            crate::text::count(med),
            crate::text::count(*max),
            s.objective.mean_walk_m
        ));
    }
    if !result.violations.is_empty() {
        lines.push(if result.infeasible() {
            "exit code 4: some grid misses a bound that a plan could meet (or --strict is on)".to_string()
        } else {
            "exit code 0: every miss is unavoidable and declared (--strict makes them fail)".to_string()
        });
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    lines.push(format!("done in {seconds:.1} s; wrote {}", names.join(", ")));
    lines
}

/// Runs the command line on `args` (the program name first) and returns the exit code: 0 ok,
/// 1 `check` found problems, 2 usage, 3 invalid input, 4 infeasible, 5 I/O or other failure.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return 2;
        }
    };
    let outcome = match cli.command {
        Command::Partition(args) => match matches.subcommand_matches("partition") {
            Some(m) => run_partition(*args, m),
            None => Err(Error::Invariant { stage: "cli", message: "the partition subcommand has no arguments".into() }),
        },
        Command::Check(args) => run_check(args),
        Command::Repair(args) => run_repair(args),
        Command::Info(args) => run_info(args),
        Command::Batch(args) => run_batch(args),
        Command::Report(args) => run_report(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            say!("wangge: error: {e}");
            e.exit_code()
        }
    }
}

/// Writes `text` and a newline on stdout. A closed pipe (`wangge info F | head`) ends the output
/// quietly; any other failure (a full disk) is an I/O error.
fn print_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io(std::path::Path::new("standard output"), "write", e)),
    }
}
