//! Python bindings (feature `python`, built by maturin as `wangge._wangge`): layers cross the
//! boundary as WKB arrays plus one JSON document of attribute rows; the work runs on a Rust
//! thread with the GIL released while the calling thread watches for Ctrl-C and reports
//! progress; every [`Error`] variant becomes a Python exception class.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use geo::Geometry;
use geo_traits::to_geo::ToGeoGeometry;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

use crate::audit::{self, AuditConfig, AuditInputs};
use crate::crs::CrsSpec;
use crate::error::Error;
use crate::pipeline::partition_layers;
use crate::progress::{Progress, Watch};
use crate::read::{FeatureId, InputFeature, InputLayers, Layer};
use crate::config::PartitionConfig;

create_exception!(_wangge, WanggeError, PyException, "Base class of every wangge error.");
create_exception!(_wangge, InvalidInputError, WanggeError, "A layer, feature or value of the input is unusable.");
create_exception!(_wangge, ParseError, InvalidInputError, "A file is not valid GeoJSON (or its format's structure).");
create_exception!(_wangge, InvalidFeatureError, InvalidInputError, "One feature of an input layer is unusable (the message names the layer, the feature and the fault).");
create_exception!(_wangge, InvalidLayerError, InvalidInputError, "A whole input layer is unusable (wrong structure, empty, a column missing).");
create_exception!(_wangge, CrsError, InvalidInputError, "A coordinate system is unknown or does not fit the coordinates.");
create_exception!(_wangge, ConfigError, WanggeError, "An option is out of range or inconsistent.");
create_exception!(_wangge, OptionOutOfRangeError, ConfigError, "An option's value lies outside its range.");
create_exception!(_wangge, OptionsInconsistentError, ConfigError, "Two options' values contradict each other.");
create_exception!(_wangge, OptionNeedsError, ConfigError, "An option needs another option or input that was not given.");
create_exception!(_wangge, OptionOnlyWithError, ConfigError, "An option was given without the input or option it applies to.");
create_exception!(_wangge, OptionsExclusiveError, ConfigError, "Two options that exclude each other were both given.");
create_exception!(_wangge, BadOptionValueError, ConfigError, "An option's text cannot be read.");
create_exception!(_wangge, MissingArgumentError, ConfigError, "A command was called without an argument it needs.");
create_exception!(_wangge, ConfigFileError, ConfigError, "A configuration (file or recorded in a summary) is unusable.");
create_exception!(_wangge, LockedGridUnknownError, ConfigError, "A locked grid id that the existing division does not have.");
create_exception!(_wangge, LockedGridEmptyError, ConfigError, "A locked grid left without buildings of its own.");
create_exception!(_wangge, LockedGridInPiecesError, ConfigError, "A locked grid that falls apart in the adjacency graph.");
create_exception!(_wangge, OutputNotEmptyError, ConfigError, "The output directory holds files and overwriting was not allowed.");
create_exception!(_wangge, InfeasibleError, WanggeError, "Some grid misses a bound (raised only when asked to be strict).");
create_exception!(_wangge, IOFailure, WanggeError, "A file could not be read or written.");
create_exception!(_wangge, ThreadsError, WanggeError, "The worker threads could not be started.");
create_exception!(_wangge, SolverError, WanggeError, "The MILP/LP solver (HiGHS) refused a model or failed while solving.");
create_exception!(_wangge, TriangulationError, WanggeError, "The triangulation of the territory failed on degenerate input.");
create_exception!(_wangge, InternalError, WanggeError, "An internal invariant broke: a bug in wangge.");

/// The Python exception of each error variant (one class per variant; Ctrl-C is
/// KeyboardInterrupt).
fn to_py(e: Error) -> PyErr {
    let m = e.to_string();
    match e {
        Error::Io { .. } => IOFailure::new_err(m),
        Error::Parse { .. } => ParseError::new_err(m),
        Error::InvalidFeature { .. } => InvalidFeatureError::new_err(m),
        Error::InvalidLayer { .. } => InvalidLayerError::new_err(m),
        Error::Crs { .. } => CrsError::new_err(m),
        Error::OptionOutOfRange { .. } => OptionOutOfRangeError::new_err(m),
        Error::OptionsInconsistent { .. } => OptionsInconsistentError::new_err(m),
        Error::OptionNeeds { .. } => OptionNeedsError::new_err(m),
        Error::OptionOnlyWith { .. } => OptionOnlyWithError::new_err(m),
        Error::OptionsExclusive { .. } => OptionsExclusiveError::new_err(m),
        Error::BadOptionValue { .. } => BadOptionValueError::new_err(m),
        Error::MissingArgument { .. } => MissingArgumentError::new_err(m),
        Error::ConfigFile { .. } => ConfigFileError::new_err(m),
        Error::LockedGridUnknown { .. } => LockedGridUnknownError::new_err(m),
        Error::LockedGridEmpty { .. } => LockedGridEmptyError::new_err(m),
        Error::LockedGridInPieces { .. } => LockedGridInPiecesError::new_err(m),
        Error::OutputNotEmpty { .. } => OutputNotEmptyError::new_err(m),
        Error::Threads { .. } => ThreadsError::new_err(m),
        Error::Solver { .. } => SolverError::new_err(m),
        Error::Triangulation { .. } => TriangulationError::new_err(m),
        Error::Interrupted => PyKeyboardInterrupt::new_err(m),
        Error::Invariant { .. } => InternalError::new_err(m),
    }
}

/// A layer handed over from Python: name, WKB geometries (None for a missing geometry), CRS,
/// column names, rows of values as one JSON array of arrays, feature ids as a JSON array.
type LayerArg = (String, Vec<Option<Vec<u8>>>, Option<String>, Vec<String>, String, Option<String>);

fn parse_layer(arg: LayerArg) -> Result<Layer, Error> {
    let (name, wkbs, crs, columns, rows_json, ids_json) = arg;
    let rows: Vec<Vec<Value>> = serde_json::from_str(&rows_json).map_err(|e| Error::InvalidLayer { path: name.clone(), message: format!("attribute rows: {e}") })?;
    let ids: Option<Vec<Value>> = ids_json.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| Error::InvalidLayer { path: name.clone(), message: format!("index: {e}") })?;
    if rows.len() != wkbs.len() && !columns.is_empty() {
        return Err(Error::InvalidLayer { path: name, message: format!("{} geometries but {} attribute rows", wkbs.len(), rows.len()) });
    }
    let mut features = Vec::with_capacity(wkbs.len());
    for (row, w) in wkbs.into_iter().enumerate() {
        let id = match ids.as_ref().map(|v| &v[row]) {
            Some(v) => Some(FeatureId::from_json(v).map_err(|m| Error::InvalidLayer { path: name.clone(), message: format!("row {row}: index value {m}") })?),
            None => None,
        };
        let geometry = match w {
            None => None,
            Some(bytes) => {
                let parsed = wkb::reader::read_wkb(&bytes).map_err(|e| Error::InvalidLayer { path: name.clone(), message: format!("row {row}: invalid WKB: {e}") })?;
                Some(parsed.try_to_geometry().ok_or_else(|| Error::InvalidLayer { path: name.clone(), message: format!("row {row}: unsupported WKB geometry") })?)
            }
        };
        let attributes = rows.get(row).map(|r| r.iter().map(|v| (!v.is_null()).then(|| v.clone())).collect()).unwrap_or_else(|| vec![None; columns.len()]);
        features.push(InputFeature { row, id, geometry, attributes, properties: None });
    }
    Ok(Layer { name, crs: crs.map(|c| CrsSpec::parse(&c)), features, requested: columns.clone(), columns, source_text: None })
}

/// The layer with every column of `columns` requested (absent ones read as missing values).
fn with_columns(mut layer: Layer, columns: &[String]) -> Layer {
    for c in columns {
        if !layer.requested.contains(c) {
            layer.requested.push(c.clone());
            layer.features.iter_mut().for_each(|f| f.attributes.push(None));
        }
    }
    layer
}

fn to_wkb(py: Python<'_>, g: &Geometry<f64>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::new();
    wkb::writer::write_geometry(&mut buf, g, &wkb::writer::WriteOptions { endianness: wkb::Endianness::LittleEndian })
        .map_err(|e| InternalError::new_err(format!("WKB writing failed: {e}")))?;
    Ok(PyBytes::new(py, &buf).unbind())
}

/// Runs `work` on its own thread with the GIL released; Ctrl-C cancels it (KeyboardInterrupt);
/// `progress(stage, done, total)` is called about every 0.2 s when given.
fn run_watched<T: Send + 'static>(py: Python<'_>, progress: Option<Bound<'_, PyAny>>, work: impl FnOnce(Arc<Watch>) -> Result<T, Error> + Send + 'static) -> PyResult<T> {
    let watch = Arc::new(Watch::default());
    let (tx, rx) = channel();
    let rx = std::sync::Mutex::new(rx);
    let w = watch.clone();
    std::thread::Builder::new()
        .name("wangge".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(w))).unwrap_or_else(|p| {
                let what = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                Err(Error::Invariant { stage: "python", message: format!("panic: {what}") })
            });
            let _ = tx.send(outcome);
        })
        .map_err(|e| InternalError::new_err(format!("cannot start a thread: {e}")))?;
    loop {
        match py.detach(|| rx.lock().map_err(|_| RecvTimeoutError::Disconnected).and_then(|r| r.recv_timeout(Duration::from_millis(200)))) {
            Ok(r) => return r.map_err(to_py),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    watch.cancel.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                if let Some(cb) = &progress {
                    let stage = watch.stage.lock().map(|s| s.clone()).unwrap_or_default();
                    cb.call1((stage, watch.done.load(Ordering::Relaxed), watch.total.load(Ordering::Relaxed)))?;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err(InternalError::new_err("the worker thread stopped without a result")),
        }
    }
}

/// Micro-grids handed back: micro-grid id of each building, polygons as WKB, properties JSON.
type MicroOutput = (Vec<String>, Vec<Py<PyBytes>>, String);

/// What `partition` returns: grid ids of the buildings, grid polygons (WKB), grid properties
/// (JSON), summary (JSON), households and population of each building, micro-grids if any.
/// Grid ids of the buildings: whole numbers, or text when an existing division's ids are text.
#[derive(IntoPyObject)]
enum Labels {
    Numbers(Vec<i64>),
    Texts(Vec<String>),
}

type PartitionOutput = (Labels, Vec<Py<PyBytes>>, String, String, Vec<f64>, Vec<Option<f64>>, Option<MicroOutput>);

/// Partitions buildings. Returns (grid id of each building, grid polygons as WKB in the input
/// CRS, grid properties as a JSON array, summary JSON).
#[pyfunction]
#[pyo3(signature = (buildings, config_json, territory=None, barriers=Vec::new(), network=None, workers_path=None, households_table=None, population_zones=None, households_table_path=None, population_zones_path=None, existing=None, progress=None, streets=Vec::new(), compounds=Vec::new(), communities=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn partition(
    py: Python<'_>,
    buildings: LayerArg,
    config_json: &str,
    territory: Option<LayerArg>,
    barriers: Vec<LayerArg>,
    network: Option<LayerArg>,
    workers_path: Option<String>,
    households_table: Option<LayerArg>,
    population_zones: Option<LayerArg>,
    households_table_path: Option<String>,
    population_zones_path: Option<String>,
    existing: Option<LayerArg>,
    progress: Option<Bound<'_, PyAny>>,
    streets: Vec<LayerArg>,
    compounds: Vec<LayerArg>,
    communities: Option<LayerArg>,
) -> PyResult<PartitionOutput> {
    let config = PartitionConfig::from_json(config_json, std::path::Path::new("configuration")).map_err(to_py)?;
    let result = run_watched(py, progress, move |watch| {
        config.validate()?;
        let columns = crate::model::input_columns(&config);
        let households_table = match (households_table, households_table_path) {
            (Some(t), _) => Some(with_columns(parse_layer(t)?, &columns.households_table)),
            (None, Some(p)) => {
                let refs: Vec<&str> = columns.households_table.iter().map(String::as_str).collect();
                Some(crate::read::read_attribute_table(std::path::Path::new(&p), &refs, &Default::default())?)
            }
            (None, None) => None,
        };
        let population_zones = match (population_zones, population_zones_path) {
            (Some(z), _) => Some(with_columns(parse_layer(z)?, &columns.population_zones)),
            (None, Some(p)) => {
                let refs: Vec<&str> = columns.population_zones.iter().map(String::as_str).collect();
                Some(crate::read::read_layer(std::path::Path::new(&p), &refs)?)
            }
            (None, None) => None,
        };
        let layers = InputLayers {
            buildings: with_columns(parse_layer(buildings)?, &columns.buildings),
            territory: territory.map(parse_layer).transpose()?,
            barriers: barriers.into_iter().map(parse_layer).collect::<Result<Vec<_>, _>>()?,
            network: network.map(parse_layer).transpose()?,
            streets: streets.into_iter().map(parse_layer).collect::<Result<Vec<_>, _>>()?,
            compounds: compounds.into_iter().map(parse_layer).collect::<Result<Vec<_>, _>>()?,
            workers: workers_path.map(std::path::PathBuf::from),
            households_table,
            population_zones,
            existing: existing.map(parse_layer).transpose()?.map(|l| with_columns(l, &columns.existing)),
            communities: communities.map(parse_layer).transpose()?.map(|l| with_columns(l, &columns.communities)),
        };
        let mut progress = Progress::watched(watch);
        let r = partition_layers(&layers, &config, None, &mut progress)?;
        let props: Vec<Value> = (0..r.grids.len()).map(|i| crate::write::grid_properties(&r, i)).collect();
        let micro_props: Vec<Value> = crate::write::micro_grids_layer(&r).features.into_iter().map(|f| Value::Object(f.properties)).collect();
        Ok((r, props, micro_props))
    })?;
    let (r, props, micro_props) = result;
    let ids = r.building_grid.iter().map(|&g| &r.grids[g as usize].id);
    let labels = match ids.clone().map(|id| if let crate::read::FeatureId::Number(n) = id { Some(*n) } else { None }).collect::<Option<Vec<i64>>>() {
        Some(numbers) => Labels::Numbers(numbers),
        None => Labels::Texts(ids.map(|id| id.to_string()).collect()),
    };
    let polygons = r.grids.iter().map(|g| to_wkb(py, &Geometry::MultiPolygon(g.polygon.clone()))).collect::<PyResult<Vec<_>>>()?;
    let households: Vec<f64> = (0..r.building_grid.len()).map(|row| r.row_households(row)).collect();
    let population: Vec<Option<f64>> = (0..r.building_grid.len()).map(|row| r.row_population(row)).collect();
    let micro = if r.micro_grids.is_empty() {
        None
    } else {
        let ids: Vec<String> = r.building_micro.iter().map(|&m| r.micro_grids[m as usize].id.clone()).collect();
        let polys = r.micro_grids.iter().map(|m| to_wkb(py, &Geometry::MultiPolygon(m.polygon.clone()))).collect::<PyResult<Vec<_>>>()?;
        Some((ids, polys, Value::Array(micro_props).to_string()))
    };
    let summary = serde_json::to_string(&r.summary).map_err(|e| InternalError::new_err(format!("summary: {e}")))?;
    Ok((labels, polygons, Value::Array(props).to_string(), summary, households, population, micro))
}

fn audit_config(config_json: &str) -> PyResult<AuditConfig> {
    serde_json::from_str(config_json).map_err(|e| ConfigFileError::new_err(format!("invalid configuration: {e}")))
}

/// Checks a grid layer. Returns (summary JSON, problem properties as a JSON array, problem
/// geometries as WKB in the input CRS, None where a problem has no geometry).
#[pyfunction]
#[pyo3(signature = (grids, config_json, territory=None, buildings=None, water=Vec::new()))]
#[allow(clippy::type_complexity)]
fn check(py: Python<'_>, grids: LayerArg, config_json: &str, territory: Option<LayerArg>, buildings: Option<LayerArg>, water: Vec<LayerArg>) -> PyResult<(String, String, Vec<Option<Py<PyBytes>>>)> {
    let config = audit_config(config_json)?;
    let (summary, props, geoms) = run_watched(py, None, move |_| {
        let g = parse_layer(grids)?;
        let t = territory.map(parse_layer).transpose()?;
        let b = buildings.map(parse_layer).transpose()?;
        let w: Vec<crate::read::Layer> = water.into_iter().map(parse_layer).collect::<Result<Vec<_>, _>>()?;
        let w: Vec<&crate::read::Layer> = w.iter().collect();
        let a = audit::check(g, AuditInputs { territory: t.as_ref(), buildings: b.as_ref(), water: &w }, &config)?;
        let props: Vec<Value> = a
            .problems
            .iter()
            .map(|p| serde_json::json!({"kind": p.kind.as_str(), "grid_ids": p.grid_ids, "area_m2": p.area_m2, "building_id": p.building_id, "message": p.message}))
            .collect();
        let geoms = a.problems.iter().map(|p| p.geometry.as_ref().map(|g| audit::output::to_source(g, &a.grids.frame, &a.grids.name)).transpose()).collect::<Result<Vec<_>, _>>()?;
        Ok((a.summary.to_string(), Value::Array(props).to_string(), geoms))
    })?;
    let wkbs = geoms.iter().map(|g| g.as_ref().map(|g| to_wkb(py, g)).transpose()).collect::<PyResult<Vec<_>>>()?;
    Ok((summary, props, wkbs))
}

/// Repairs a grid layer. Returns (changed flags, removed flags, new geometries as WKB in the
/// input CRS for changed grids, report JSON).
#[pyfunction]
#[pyo3(signature = (grids, config_json, territory=None, buildings=None, water=Vec::new()))]
#[allow(clippy::type_complexity)]
fn repair(py: Python<'_>, grids: LayerArg, config_json: &str, territory: Option<LayerArg>, buildings: Option<LayerArg>, water: Vec<LayerArg>) -> PyResult<(Vec<bool>, Vec<bool>, Vec<Option<Py<PyBytes>>>, String)> {
    let config = audit_config(config_json)?;
    let (changed, removed, geoms, report) = run_watched(py, None, move |_| {
        let g = parse_layer(grids)?;
        let t = territory.map(parse_layer).transpose()?;
        let b = buildings.map(parse_layer).transpose()?;
        let w: Vec<crate::read::Layer> = water.into_iter().map(parse_layer).collect::<Result<Vec<_>, _>>()?;
        let w: Vec<&crate::read::Layer> = w.iter().collect();
        let r = audit::repair::repair(g, AuditInputs { territory: t.as_ref(), buildings: b.as_ref(), water: &w }, &config)?;
        let mut geoms = Vec::with_capacity(r.grids.grids.len());
        for (i, grid) in r.grids.grids.iter().enumerate() {
            geoms.push(if r.changed[i] && !r.removed[i] {
                let shape = if grid.shape.0.len() == 1 { Geometry::Polygon(grid.shape.0[0].clone()) } else { Geometry::MultiPolygon(grid.shape.clone()) };
                Some(audit::output::to_source(&shape, &r.grids.frame, &r.grids.name)?)
            } else {
                None
            });
        }
        Ok((r.changed.clone(), r.removed.clone(), geoms, r.report.to_string()))
    })?;
    let wkbs = geoms.iter().map(|g| g.as_ref().map(|g| to_wkb(py, g)).transpose()).collect::<PyResult<Vec<_>>>()?;
    Ok((changed, removed, wkbs, report))
}

/// Runs the jobs of a batch manifest (see `wangge batch`); returns the batch report as JSON.
#[pyfunction]
#[pyo3(signature = (manifest, output, jobs=1, force=false, progress=None))]
fn batch(py: Python<'_>, manifest: String, output: String, jobs: usize, force: bool, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    let report = run_watched(py, progress, move |watch| {
        let (manifest, output) = (std::path::PathBuf::from(manifest), std::path::PathBuf::from(output));
        let list = crate::batch::read_manifest(&manifest, &output)?;
        watch.total.store(list.len(), Ordering::Relaxed);
        *watch.stage.lock().map_err(|_| Error::Invariant { stage: "python", message: "progress lock".into() })? = "batch".into();
        let note = |_: &crate::batch::JobReport| {
            watch.done.fetch_add(1, Ordering::Relaxed);
        };
        crate::batch::run_batch(&manifest, &list, &output, jobs, force, &note)
    })?;
    serde_json::to_string(&report).map_err(|e| InternalError::new_err(format!("batch report: {e}")))
}

/// The jobs of a batch manifest whose outputs go under `output`, as JSON (a list of
/// {name, output, args}).
#[pyfunction]
fn batch_jobs(manifest: String, output: String) -> PyResult<String> {
    let jobs = crate::batch::read_manifest(std::path::Path::new(&manifest), std::path::Path::new(&output)).map_err(to_py)?;
    serde_json::to_string(&jobs).map_err(|e| InternalError::new_err(format!("jobs: {e}")))
}

/// Runs one job (JSON, as listed by `batch_jobs`) of a batch under `output`, or skips it when
/// it was finished before with the same options (unless `force`); returns its report as JSON.
#[pyfunction]
#[pyo3(signature = (job_json, output, force=false))]
fn batch_run_job(py: Python<'_>, job_json: String, output: String, force: bool) -> PyResult<String> {
    let job: crate::batch::Job = serde_json::from_str(&job_json).map_err(|e| ConfigError::new_err(format!("job: {e}")))?;
    let report = run_watched(py, None, move |_| Ok(crate::batch::run_or_skip(&job, std::path::Path::new(&output), force)))?;
    serde_json::to_string(&report).map_err(|e| InternalError::new_err(format!("job report: {e}")))
}

/// The default configuration of `partition` and of `check`/`repair`, as JSON (the Python
/// package reads its defaults from here, so both front ends agree).
#[pyfunction]
fn defaults() -> (String, String) {
    (serde_json::to_string(&PartitionConfig::default()).unwrap_or_default(), serde_json::to_string(&AuditConfig::default()).unwrap_or_default())
}

/// Runs the `wangge` command line on `argv` (the program name first) with the GIL released,
/// its messages named as on the command line; returns the exit code (the console script).
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> u8 {
    crate::config::use_command_line_names();
    py.detach(|| crate::cli::run(argv))
}

/// The extension module.
#[pymodule]
fn _wangge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", crate::VERSION)?;
    m.add_function(wrap_pyfunction!(partition, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(repair, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(batch, m)?)?;
    m.add_function(wrap_pyfunction!(batch_jobs, m)?)?;
    m.add_function(wrap_pyfunction!(batch_run_job, m)?)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    crate::config::use_python_names();
    let py = m.py();
    macro_rules! add {
        ($($class:ident),* $(,)?) => { $( m.add(stringify!($class), py.get_type::<$class>())?; )* };
    }
    add!(
        WanggeError, InvalidInputError, ParseError, InvalidFeatureError, InvalidLayerError, CrsError, ConfigError, OptionOutOfRangeError,
        OptionsInconsistentError, OptionNeedsError, OptionOnlyWithError, OptionsExclusiveError, BadOptionValueError, MissingArgumentError,
        ConfigFileError, LockedGridUnknownError, LockedGridEmptyError, LockedGridInPiecesError, OutputNotEmptyError, InfeasibleError,
        IOFailure, ThreadsError, SolverError, TriangulationError, InternalError,
    );
    Ok(())
}
