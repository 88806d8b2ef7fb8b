//! Many partition jobs in one command (`wangge batch`): a manifest lists the jobs (a CSV or TOML
//! file with one row or table per job, or a folder whose building files are one job each); each
//! job runs as `wangge partition` would, into its own output directory; a job finished with the
//! same options is skipped on a rerun, a failed or half-finished one is run again; every job's
//! outcome goes to `batch_summary.json` and `batch_summary.csv`, and the exit code is the worst
//! job's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, FromArgMatches, Parser};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::PartitionConfig;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::read::{Format, Inputs, ReadOptions};

/// The input files of a partition run besides the buildings, as command-line options (shared
/// by `wangge partition` and the jobs of `wangge batch`).
#[derive(Debug, Clone, Default, Args)]
pub struct InputArgs {
    /// Territory the grids must tile (polygons). [default: the buildings' convex hull, buffered]
    #[arg(long)]
    pub territory: Option<PathBuf>,
    /// Barriers no grid may cross (lines or polygons: rivers, railways, arterials; point
    /// features are ignored with a warning). Repeatable.
    #[arg(long = "barriers", value_name = "FILE")]
    pub barriers: Vec<PathBuf>,
    /// Walkable lines: walks become shortest paths over them.
    #[arg(long, value_name = "FILE")]
    pub network: Option<PathBuf>,
    /// Streets (lines): grid boundaries follow them where the bounds allow, cells stop at them,
    /// and the blocks they enclose are split only when they must be (see --streets-filter,
    /// --boundary-weight). Repeatable.
    #[arg(long = "streets", value_name = "FILE")]
    pub streets: Vec<PathBuf>,
    /// Residential compounds (小区, polygons): their outlines are preferred grid boundaries like
    /// streets, a compound is split only when the bounds need it, and the summary counts the
    /// compounds split. Repeatable.
    #[arg(long = "compounds", value_name = "FILE")]
    pub compounds: Vec<PathBuf>,
    /// Grid workers: a number, or a CSV (id,capacity[,kind][,x,y | lon,lat]) or GeoJSON points
    /// (id, capacity, kind).
    #[arg(long, value_name = "N|FILE")]
    pub workers: Option<String>,
    /// Households from a separate table (CSV/TSV in UTF-8 or GBK, or any vector file), joined
    /// on --join-on; summed per key, or one row per household when it has no household column.
    #[arg(long, value_name = "FILE")]
    pub households_table: Option<PathBuf>,
    /// Zones (polygons) with population totals, shared among the buildings inside each zone by
    /// floor area (footprint area × floors), each zone keeping its total exactly.
    #[arg(long, value_name = "FILE")]
    pub population_zones: Option<PathBuf>,
    /// Re-divide from these existing grid polygons: grids keep their ids, only grids out of
    /// bounds or in pieces change, moving few households (see --stability).
    #[arg(long, value_name = "FILE")]
    pub existing: Option<PathBuf>,
    /// Communities (社区, polygons with a code and a name column: --community-code,
    /// --community-name): each is divided on its own, no grid crosses a community boundary, and
    /// grid ids are CODE-001, ... (see also --by).
    #[arg(long, value_name = "FILE")]
    pub communities: Option<PathBuf>,
    /// Configuration (JSON: field names as in summary.json's config; a summary.json itself
    /// works); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl InputArgs {
    /// The input files of a run on `buildings`.
    pub fn inputs(&self, buildings: &Path, read: &ReadOptions) -> Inputs {
        let workers = self.workers.as_ref().filter(|w| w.trim().parse::<usize>().is_err()).map(PathBuf::from);
        Inputs {
            buildings: buildings.to_path_buf(),
            territory: self.territory.clone(),
            barriers: self.barriers.clone(),
            network: self.network.clone(),
            streets: self.streets.clone(),
            compounds: self.compounds.clone(),
            workers,
            households_table: self.households_table.clone(),
            population_zones: self.population_zones.clone(),
            existing: self.existing.clone(),
            communities: self.communities.clone(),
            read: read.clone(),
        }
    }

    /// The configuration: the --config file (or the defaults), overridden by the options given
    /// on the command line (`given`: their field names), with `--workers N`.
    pub fn config(&self, options: &PartitionConfig, given: &[String]) -> Result<PartitionConfig> {
        let mut c = match &self.config {
            None => options.clone(),
            Some(path) => PartitionConfig::from_file(path)?.overridden_by(options, given)?,
        };
        if let Some(n) = self.workers.as_ref().and_then(|w| w.trim().parse::<usize>().ok()) {
            c.bounds.workers = Some(n);
        }
        c.validate()?;
        Ok(c)
    }
}

/// The options of one job, parsed as `wangge partition` parses its own.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, name = "job")]
struct JobArgs {
    buildings: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    options: PartitionConfig,
    #[command(flatten)]
    read: ReadOptions,
    #[arg(long, value_enum, default_value_t = Format::GeoJson)]
    output_format: Format,
}

/// One job of a manifest: its name, output directory and the `wangge partition` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Name (unique in the manifest; the output directory's name by default).
    pub name: String,
    /// Output directory.
    pub output: PathBuf,
    /// Arguments of `wangge partition` (buildings first; `-o` and `--overwrite` added).
    pub args: Vec<String>,
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// Job name.
    pub name: String,
    /// `ok`, `unavoidable_misses` (outputs written, every miss unavoidable and declared),
    /// `infeasible` (outputs written, violations listed), `failed` or `skipped` (finished before
    /// with the same options).
    pub status: String,
    /// Exit code `wangge partition` would give (of the earlier run for a skipped job).
    pub exit_code: u8,
    /// Output directory.
    pub output: PathBuf,
    /// Grids, when written.
    pub grids: Option<usize>,
    /// Grids within the bounds.
    pub grids_in_bounds: Option<usize>,
    /// Households.
    pub households: Option<f64>,
    /// Household-weighted mean walk (m).
    pub mean_walk_m: Option<f64>,
    /// Violations.
    pub violations: Option<usize>,
    /// Wall time (s) of the run.
    pub seconds: f64,
    /// The error, for a failed job.
    pub error: Option<String>,
}

/// The outcome of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    /// The manifest.
    pub manifest: PathBuf,
    /// Jobs in manifest order.
    pub jobs: Vec<JobReport>,
    /// Jobs by status.
    pub counts: BTreeMap<String, usize>,
    /// The worst job's exit code (failures before infeasible before ok).
    pub exit_code: u8,
    /// Wall time (s) of the batch.
    pub seconds: f64,
}

/// Reads a manifest: a CSV file (a header row, then one row per job), a TOML file (an optional
/// `[defaults]` table and `[[jobs]]` tables) or a folder (each building file a job). Columns or
/// keys are `name`, `buildings`, `output` and `wangge partition` options by their long name
/// (`min-households` or `min_households`); a repeatable option takes several values (`;` in a
/// CSV cell, an array in TOML), a flag takes true or false. Paths are relative to the manifest's
/// folder; outputs default to `OUT/NAME`.
pub fn read_manifest(manifest: &Path, out: &Path) -> Result<Vec<Job>> {
    let rows = if manifest.is_dir() {
        folder_rows(manifest)?
    } else {
        let text = std::fs::read_to_string(manifest).map_err(|e| Error::io(manifest, "read", e))?;
        let text = text.trim_start_matches('\u{feff}');
        match manifest.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("toml") => toml_rows(text, manifest)?,
            _ => csv_rows(text, manifest)?,
        }
    };
    let base = if manifest.is_dir() { manifest.to_path_buf() } else { manifest.parent().map(Path::to_path_buf).unwrap_or_default() };
    let mut jobs = Vec::with_capacity(rows.len());
    let mut names = std::collections::HashSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let job = job_of(row, i, &base, out, manifest)?;
        if !names.insert(job.name.clone()) {
            return Err(bad_manifest(manifest, format!("job {} repeats the name '{}'", i + 1, job.name)));
        }
        jobs.push(job);
    }
    if jobs.is_empty() {
        return Err(bad_manifest(manifest, "lists no job".into()));
    }
    Ok(jobs)
}

/// One job's keys and values as read: (key, values), in order.
type Row = Vec<(String, Vec<Value>)>;

/// A manifest value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Flag(bool),
}

fn bad_manifest(path: &Path, message: String) -> Error {
    Error::ConfigFile { path: path.to_path_buf(), message }
}

/// Options whose values are files (resolved against the manifest's folder).
const PATH_OPTIONS: &[&str] = &["buildings", "output", "territory", "barriers", "network", "streets", "compounds", "households-table", "population-zones", "existing", "communities", "config", "workers"];

fn folder_rows(dir: &Path) -> Result<Vec<Row>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, "list", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && Format::of_path(p).is_some())
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            vec![("name".to_string(), vec![Value::Text(name)]), ("buildings".to_string(), vec![Value::Text(p.to_string_lossy().to_string())])]
        })
        .collect())
}

fn csv_rows(text: &str, path: &Path) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().map_err(|e| bad_manifest(path, e.to_string()))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad_manifest(path, format!("row {}: {e}", i + 2)))?;
        let row: Row = header
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| {
                let values = match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" => vec![Value::Flag(true)],
                    "false" | "no" => vec![Value::Flag(false)],
                    _ => v.split(';').map(|s| Value::Text(s.trim().to_string())).filter(|s| *s != Value::Text(String::new())).collect(),
                };
                (k.clone(), values)
            })
            .collect();
        rows.push(row);
    }
    Ok(rows)
}

fn toml_rows(text: &str, path: &Path) -> Result<Vec<Row>> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| bad_manifest(path, e.to_string()))?;
    let values = |key: &str, v: &toml::Value| -> Result<Vec<Value>> {
        let one = |v: &toml::Value| -> Result<Value> {
            Ok(match v {
                toml::Value::String(s) => Value::Text(s.clone()),
                toml::Value::Integer(i) => Value::Text(i.to_string()),
                toml::Value::Float(f) => Value::Text(f.to_string()),
                toml::Value::Boolean(b) => Value::Flag(*b),
                other => return Err(bad_manifest(path, format!("'{key}': {other} is not a text, number or boolean"))),
            })
        };
        match v {
            toml::Value::Array(items) => items.iter().map(one).collect(),
            other => Ok(vec![one(other)?]),
        }
    };
    let table_row = |t: &toml::Table| -> Result<Row> { t.iter().map(|(k, v)| Ok((k.clone(), values(k, v)?))).collect() };
    let defaults = match doc.get("defaults") {
        Some(toml::Value::Table(t)) => table_row(t)?,
        Some(_) => return Err(bad_manifest(path, "'defaults' must be a table".into())),
        None => Vec::new(),
    };
    let Some(toml::Value::Array(jobs)) = doc.get("jobs") else {
        return Err(bad_manifest(path, "has no [[jobs]] tables".into()));
    };
    let unknown: Vec<&String> = doc.keys().filter(|k| *k != "defaults" && *k != "jobs").collect();
    if !unknown.is_empty() {
        return Err(bad_manifest(path, format!("unknown top-level key(s) {unknown:?}: expected [defaults] and [[jobs]]")));
    }
    jobs.iter()
        .enumerate()
        .map(|(i, j)| {
            let toml::Value::Table(t) = j else { return Err(bad_manifest(path, format!("jobs[{i}] is not a table"))) };
            let own = table_row(t)?;
            let mut row: Row = defaults.iter().filter(|(k, _)| !own.iter().any(|(o, _)| o == k)).cloned().collect();
            row.extend(own);
            Ok(row)
        })
        .collect()
}

/// The job of one manifest row.
fn job_of(row: Row, index: usize, base: &Path, out: &Path, manifest: &Path) -> Result<Job> {
    let resolve = |v: &str| -> String {
        let p = Path::new(v);
        if p.is_absolute() { p.to_path_buf() } else { base.join(p) }.to_string_lossy().to_string()
    };
    let mut name = None;
    let mut buildings = None;
    let mut output = None;
    let mut options: Vec<String> = Vec::new();
    for (key, values) in row {
        let flag = key.trim().trim_start_matches("--").replace('_', "-");
        let text = |v: &Value| match v {
            Value::Text(t) => Ok(t.clone()),
            Value::Flag(_) => Err(bad_manifest(manifest, format!("job {}: '{key}' takes a value, not true/false", index + 1))),
        };
        match flag.as_str() {
            "name" => name = values.first().map(text).transpose()?,
            "buildings" => buildings = values.first().map(text).transpose()?.map(|v| resolve(&v)),
            "output" => output = values.first().map(text).transpose()?.map(|v| resolve(&v)),
            "o" | "overwrite" | "quiet" | "q" | "threads" => {
                return Err(bad_manifest(manifest, format!("job {}: '{key}' is set by wangge batch, not by the manifest", index + 1)));
            }
            _ => {
                for v in &values {
                    match v {
                        Value::Flag(true) => options.push(format!("--{flag}")),
                        Value::Flag(false) => {}
                        Value::Text(t) => {
                            let numeric_workers = flag == "workers" && t.trim().parse::<usize>().is_ok();
                            let value = if PATH_OPTIONS.contains(&flag.as_str()) && !numeric_workers { resolve(t) } else { t.clone() };
                            options.push(format!("--{flag}={value}"));
                        }
                    }
                }
            }
        }
    }
    let buildings = buildings.ok_or_else(|| bad_manifest(manifest, format!("job {} has no buildings", index + 1)))?;
    let name = name.unwrap_or_else(|| Path::new(&buildings).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| format!("job{}", index + 1)));
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(bad_manifest(manifest, format!("job {}: the name '{name}' cannot name a folder", index + 1)));
    }
    let output = output.map(PathBuf::from).unwrap_or_else(|| out.join(&name));
    let mut args = vec![buildings];
    args.extend(options);
    Ok(Job { name, output, args })
}

/// What a finished job left behind, to skip it on a rerun.
#[derive(Debug, Serialize, Deserialize)]
struct Done {
    /// The job's arguments and the wangge version that ran it.
    signature: Vec<String>,
    /// Its report.
    report: JobReport,
}

/// Where the record of a finished job is kept.
fn done_path(out: &Path, job: &Job) -> PathBuf {
    out.join(".wangge-batch").join(format!("{}.json", job.name))
}

fn signature(job: &Job) -> Vec<String> {
    let mut s = vec![crate::VERSION.to_string(), job.output.to_string_lossy().to_string()];
    s.extend(job.args.iter().cloned());
    s
}

/// Runs the jobs (`parallel` at a time), skipping those finished before with the same arguments
/// unless `force`; writes `OUT/batch_summary.json` and `.csv`. `note` hears each job's report.
pub fn run_batch(manifest: &Path, jobs: &[Job], out: &Path, parallel: usize, force: bool, note: &(dyn Fn(&JobReport) + Sync)) -> Result<BatchReport> {
    std::fs::create_dir_all(out.join(".wangge-batch")).map_err(|e| Error::io(out, "create output directory", e))?;
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(parallel.max(1)).build().map_err(|e| Error::Threads { message: e.to_string() })?;
    let reports: Vec<JobReport> = pool.install(|| {
        jobs.par_iter()
            .with_max_len(1)
            .map(|job| {
                let report = run_or_skip(job, out, force);
                note(&report);
                report
            })
            .collect()
    });
    let mut counts = BTreeMap::new();
    for r in &reports {
        *counts.entry(r.status.clone()).or_insert(0) += 1;
    }
    let report = BatchReport { manifest: manifest.to_path_buf(), exit_code: worst(reports.iter().map(|r| r.exit_code)), jobs: reports, counts, seconds: t0.elapsed().as_secs_f64() };
    write_batch_summary(out, &report)?;
    Ok(report)
}

/// The worst of exit codes: a failure (2, 3, 5, the highest) before infeasible (4) before ok.
pub fn worst(codes: impl Iterator<Item = u8>) -> u8 {
    codes.fold(0, |w, c| {
        let rank = |c: u8| match c {
            0 => (0, 0),
            4 => (1, 4),
            other => (2, other),
        };
        if rank(c) > rank(w) {
            c
        } else {
            w
        }
    })
}

/// Runs one job of a batch whose outputs are under `out`, or skips it when it was finished
/// before with the same arguments (unless `force`); never fails: a failure is in the report.
pub fn run_or_skip(job: &Job, out: &Path, force: bool) -> JobReport {
    let _ = std::fs::create_dir_all(out.join(".wangge-batch"));
    let done = done_path(out, job);
    if !force {
        let earlier = std::fs::read_to_string(&done).ok().and_then(|t| serde_json::from_str::<Done>(&t).ok());
        if let Some(d) = earlier.filter(|d| d.signature == signature(job) && job.output.join("summary.json").is_file()) {
            return JobReport { status: "skipped".into(), ..d.report };
        }
    }
    let _ = std::fs::remove_file(&done);
    let t0 = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_job(job)));
    let seconds = t0.elapsed().as_secs_f64();
    let mut report = match outcome {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => failed(job, e.exit_code(), e.to_string()),
        Err(_) => failed(job, 5, "internal error (a panic): please report it".into()),
    };
    report.seconds = seconds;
    if report.status != "failed" {
        let record = Done { signature: signature(job), report: report.clone() };
        if let Ok(text) = serde_json::to_string_pretty(&record) {
            let _ = std::fs::write(&done, text);
        }
    }
    report
}

fn failed(job: &Job, exit_code: u8, error: String) -> JobReport {
    JobReport {
        name: job.name.clone(),
        status: "failed".into(),
        exit_code,
        output: job.output.clone(),
        grids: None,
        grids_in_bounds: None,
        households: None,
        mean_walk_m: None,
        violations: None,
        seconds: 0.0,
        error: Some(error),
    }
}

/// Runs one job as `wangge partition` would (replacing its earlier outputs).
fn run_job(job: &Job) -> Result<JobReport> {
    let mut argv = job.args.clone();
    argv.push(format!("--output={}", job.output.display()));
    let command = <JobArgs as clap::CommandFactory>::command();
    let matches = command.try_get_matches_from(&argv).map_err(|e| Error::ConfigFile { path: PathBuf::from(&job.name), message: e.to_string().trim().to_string() })?;
    let args = JobArgs::from_arg_matches(&matches).map_err(|e| Error::ConfigFile { path: PathBuf::from(&job.name), message: e.to_string() })?;
    let given: Vec<String> = matches.ids().map(|id| id.as_str().to_string()).filter(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)).collect();
    let config = args.inputs.config(&args.options, &given)?;
    let inputs = args.inputs.inputs(&args.buildings, &args.read);
    let mut progress = Progress::new(false);
    let (result, layers) = crate::pipeline::partition_files(&inputs, &config, &mut progress)?;
    // The output folder is made only once the inputs are read and divided.
    crate::write::OutputDir::prepare(&args.output, true)?;
    crate::write::write_partition_as(&args.output, true, &result, &layers.buildings, args.output_format)?;
    let s = &result.summary;
    let code = if result.infeasible() { 4 } else { 0 };
    Ok(JobReport {
        name: job.name.clone(),
        status: serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_else(|| "ok".into()),
        exit_code: code,
        output: job.output.clone(),
        grids: Some(s.grids),
        grids_in_bounds: Some(s.households.grids_in_bounds),
        households: Some(s.households.total),
        mean_walk_m: Some(s.objective.mean_walk_m),
        violations: Some(s.violations.len()),
        seconds: 0.0,
        error: None,
    })
}

/// Writes `batch_summary.json` and `batch_summary.csv` (one row per job) into `out`.
fn write_batch_summary(out: &Path, report: &BatchReport) -> Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(|e| Error::Invariant { stage: "batch", message: e.to_string() })?;
    let path = out.join("batch_summary.json");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, "write", e))?;
    let path = out.join("batch_summary.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| Error::io(&path, "write", std::io::Error::other(e.to_string())))?;
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_default();
    let mut rows = vec![vec!["name", "status", "exit_code", "grids", "grids_in_bounds", "households", "mean_walk_m", "violations", "seconds", "output", "error"].into_iter().map(String::from).collect::<Vec<_>>()];
    for j in &report.jobs {
        rows.push(vec![
            j.name.clone(),
            j.status.clone(),
            j.exit_code.to_string(),
            j.grids.map(|g| g.to_string()).unwrap_or_default(),
            j.grids_in_bounds.map(|g| g.to_string()).unwrap_or_default(),
            fmt(j.households),
            fmt(j.mean_walk_m),
            j.violations.map(|v| v.to_string()).unwrap_or_default(),
            format!("{:.2}", j.seconds),
            j.output.to_string_lossy().to_string(),
            j.error.clone().unwrap_or_default(),
        ]);
    }
    for r in rows {
        w.write_record(&r).map_err(|e| Error::io(&path, "write", std::io::Error::other(e.to_string())))?;
    }
    w.flush().map_err(|e| Error::io(&path, "write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_code_wins() {
        assert_eq!(worst([0, 4, 0].into_iter()), 4);
        assert_eq!(worst([4, 3, 0].into_iter()), 3);
        assert_eq!(worst([5, 3, 4].into_iter()), 5);
        assert_eq!(worst([0, 0].into_iter()), 0);
    }

    #[test]
    fn csv_and_toml_manifests_give_the_same_jobs() {
        let dir = std::env::temp_dir().join(format!("wangge-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("jobs.csv");
        std::fs::write(&csv, "name,buildings,barriers,min-households,exact\na,a.geojson,r1.geojson;r2.geojson,250,true\nb,b.geojson,,,false\n").unwrap();
        let toml = dir.join("jobs.toml");
        std::fs::write(&toml, "[defaults]\nmin_households = 250\n\n[[jobs]]\nname = \"a\"\nbuildings = \"a.geojson\"\nbarriers = [\"r1.geojson\", \"r2.geojson\"]\nexact = true\n\n[[jobs]]\nname = \"b\"\nbuildings = \"b.geojson\"\nmin_households = 300\n").unwrap();
        let out = dir.join("out");
        let from_csv = read_manifest(&csv, &out).unwrap();
        let from_toml = read_manifest(&toml, &out).unwrap();
        let path = |f: &str| dir.join(f).to_string_lossy().to_string();
        assert_eq!(from_csv[0].args, vec![path("a.geojson"), format!("--barriers={}", path("r1.geojson")), format!("--barriers={}", path("r2.geojson")), "--min-households=250".into(), "--exact".into()]);
        assert_eq!(from_csv[0].output, out.join("a"));
        assert_eq!(from_csv[1].args, vec![path("b.geojson")]);
        assert_eq!(from_toml[1].args, vec![path("b.geojson"), "--min-households=300".into()], "a job's own value beats the default");
        let mut t0 = from_toml[0].args.clone();
        let mut c0 = from_csv[0].args.clone();
        t0.sort();
        c0.sort();
        assert_eq!(t0, c0);
        std::fs::write(&csv, "name,buildings\na,a.geojson\na,b.geojson\n").unwrap();
        assert!(read_manifest(&csv, &out).unwrap_err().to_string().contains("repeats the name"));
        std::fs::write(&csv, "name,buildings,threads\na,a.geojson,2\n").unwrap();
        assert!(read_manifest(&csv, &out).unwrap_err().to_string().contains("set by wangge batch"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
