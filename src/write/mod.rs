//! Write stage: buildings (every input feature with its properties and `grid_id`), grids,
//! micro-grids and parts of split buildings when there are any, and summary.json, as GeoJSON, line-delimited GeoJSON, GeoPackage, Shapefile or FlatGeobuf.
//!
//! Files are staged in a hidden sub-directory of the output directory and renamed into place
//! together on [`OutputDir::commit`] (a file they replace is set aside first and put back if a
//! rename fails), so a failed run leaves no half-written file and replaces nothing.
//!
//! Every format but the GeoJSON fast path goes through one format-neutral [`OutputLayer`]:
//! features with an id, a JSON property map and a `geo` geometry; column types are inferred over
//! all features by [`OutputLayer::columns`].

pub mod fgb;
pub mod geojson;
pub mod gpkg;
pub mod html;
pub mod parquet;
pub mod parts;
pub mod shp;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use geo::{BoundingRect, Geometry, Rect};
use serde_json::{Map, Value};

use crate::crs::CrsSpec;
use crate::error::{Error, Result};
use crate::report::Partitioned;
use crate::read::{Format, Layer};

/// One feature of an [`OutputLayer`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFeature {
    /// The feature's id (a JSON integer or string), when it has one.
    pub id: Option<Value>,
    /// Properties in column order; `null` values are written as nulls.
    pub properties: Map<String, Value>,
    /// Geometry in the layer's CRS; None for a null geometry.
    pub geometry: Option<Geometry<f64>>,
}

/// A layer to write, independent of the format.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLayer {
    /// Layer (table) name, e.g. `buildings`.
    pub name: String,
    /// CRS of the coordinates; None when unknown.
    pub crs: Option<CrsSpec>,
    /// Features in order.
    pub features: Vec<OutputFeature>,
}

/// The type of a column, inferred from its non-null values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Whole numbers that fit an i64.
    Integer,
    /// Numbers with a fraction (or integers mixed with them, or beyond i64).
    Real,
    /// Text; also the type of a column whose values mix kinds (written as their JSON text) or
    /// that holds only nulls.
    Text,
    /// true / false.
    Bool,
    /// JSON arrays or objects, written as JSON text.
    Json,
}

/// A column of an [`OutputLayer`]: its property name and inferred type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Property name as in the features.
    pub name: String,
    /// Inferred type.
    pub kind: ColumnKind,
}

/// One value of a column, converted to the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null (or absent).
    Null,
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// Text (JSON text for JSON and mixed columns).
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Column {
    /// The value of this column in `feature`, converted to the column's type.
    pub fn cell(&self, feature: &OutputFeature) -> Cell {
        let v = match feature.properties.get(&self.name) {
            None | Some(Value::Null) => return Cell::Null,
            Some(v) => v,
        };
        match (self.kind, v) {
            (ColumnKind::Integer, Value::Number(n)) if n.is_i64() => Cell::Int(n.as_i64().unwrap_or_default()),
            (ColumnKind::Real, Value::Number(n)) => Cell::Real(n.as_f64().unwrap_or(f64::NAN)),
            (ColumnKind::Bool, Value::Bool(b)) => Cell::Bool(*b),
            (_, Value::String(s)) => Cell::Text(s.clone()),
            (_, other) => Cell::Text(other.to_string()),
        }
    }
}

impl OutputFeature {
    /// How to name this feature (at position `row`) in a message: see [`crate::read::feature_label`].
    pub fn label(&self, row: usize) -> String {
        let id = self.id.as_ref().map(|v| match v {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        });
        crate::read::feature_label(row, id)
    }
}

impl OutputLayer {
    /// The columns of the layer in order of first appearance, each typed from all its non-null
    /// values: integers; reals (integers mixed with reals too); booleans; text; JSON for arrays
    /// and objects; text for other mixes and for columns holding only nulls.
    pub fn columns(&self) -> Vec<Column> {
        let mut names: Vec<&String> = Vec::new();
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        // Bits: 1 integer, 2 real, 4 bool, 8 text, 16 json.
        let mut kinds: Vec<u8> = Vec::new();
        for f in &self.features {
            for (k, v) in &f.properties {
                let i = *seen.entry(k.as_str()).or_insert_with(|| {
                    names.push(k);
                    kinds.push(0);
                    names.len() - 1
                });
                kinds[i] |= match v {
                    Value::Null => 0,
                    Value::Number(n) if n.is_i64() => 1,
                    Value::Number(_) => 2,
                    Value::Bool(_) => 4,
                    Value::String(_) => 8,
                    Value::Array(_) | Value::Object(_) => 16,
                };
            }
        }
        names
            .into_iter()
            .zip(kinds)
            .map(|(name, bits)| Column {
                name: name.clone(),
                kind: match bits {
                    1 => ColumnKind::Integer,
                    2 | 3 => ColumnKind::Real,
                    4 => ColumnKind::Bool,
                    16 => ColumnKind::Json,
                    _ => ColumnKind::Text,
                },
            })
            .collect()
    }

    /// Bounding box of every geometry, None when there is none.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        crate::geom::union_of_rects(self.features.iter().filter_map(|f| f.geometry.as_ref()).filter_map(|g| g.bounding_rect()))
    }
}

/// What writing a layer produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// Every file written (a Shapefile is several).
    pub files: Vec<PathBuf>,
    /// Columns written under another name (Shapefile field names are at most 10 bytes;
    /// GeoPackage names must differ in more than case): (property name, column name).
    pub renamed: Vec<(String, String)>,
    /// Other things the caller should tell the user (text truncated, ids not kept, ...).
    pub warnings: Vec<String>,
}

/// The file extension of a format (`geojson`, `geojsonl`, `gpkg`, `shp`, `fgb`, `parquet`).
pub fn extension(format: Format) -> &'static str {
    match format {
        Format::GeoJson => "geojson",
        Format::GeoJsonSeq => "geojsonl",
        Format::GeoPackage => "gpkg",
        Format::Shapefile => "shp",
        Format::FlatGeobuf => "fgb",
        Format::GeoParquet => "parquet",
    }
}

/// Writes `layer` to `path` in `format`, creating or replacing the file (and, for a Shapefile,
/// its .shx/.dbf/.prj/.cpg companions). Errors name the file and the fault.
pub fn write_layer(path: &Path, format: Format, layer: &OutputLayer) -> Result<Written> {
    match format {
        Format::GeoJson | Format::GeoJsonSeq => {
            let mut warnings = Vec::new();
            let result = (|| {
                let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
                if format == Format::GeoJson {
                    geojson::write_collection(&mut w, layer)?;
                } else {
                    warnings.extend(geojson::seq_warning(path, layer));
                    geojson::write_seq(&mut w, layer)?;
                }
                w.flush()?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()
            })();
            result.map_err(|e| Error::io(path, "write", e))?;
            Ok(Written { files: vec![path.to_path_buf()], renamed: Vec::new(), warnings })
        }
        Format::GeoPackage => gpkg::write_gpkg(path, layer),
        Format::Shapefile => shp::write_shapefile(path, layer),
        Format::FlatGeobuf => fgb::write_fgb(path, layer),
        Format::GeoParquet => parquet::write_parquet(path, layer),
    }
}

/// For formats without feature ids (Shapefile, FlatGeobuf): a copy of `layer` with the ids in a
/// first column `id` (`feature_id` when `id` is taken), or None when no feature has an id or a
/// column already holds every feature's id (e.g. `grid_id` of the grids).
pub fn ids_as_column(layer: &OutputLayer) -> Option<OutputLayer> {
    if layer.features.iter().all(|f| f.id.is_none()) {
        return None;
    }
    let columns = layer.columns();
    let same = |c: &Column| layer.features.iter().all(|f| f.id.is_some() && f.properties.get(&c.name) == f.id.as_ref());
    if columns.iter().any(same) {
        return None;
    }
    let taken = columns.iter().any(|c| c.name.eq_ignore_ascii_case("id"));
    let key = if taken { "feature_id" } else { "id" };
    let features = layer
        .features
        .iter()
        .map(|f| {
            let mut properties = Map::with_capacity(f.properties.len() + 1);
            properties.insert(key.to_string(), f.id.clone().unwrap_or(Value::Null));
            properties.extend(f.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
            OutputFeature { id: f.id.clone(), properties, geometry: f.geometry.clone() }
        })
        .collect();
    Some(OutputLayer { name: layer.name.clone(), crs: layer.crs.clone(), features })
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn cut_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The simple-features type name of a geometry (`Polygon` for a Rect or Triangle), as
/// GeoParquet's `geometry_types`, GeoPackage (in capitals) and messages write it.
pub(crate) fn simple_type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) | Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Rect, Triangle and Line as the simple-features types the formats have (WKB, FlatGeobuf).
pub(crate) fn simple_geometry(g: &Geometry<f64>) -> std::borrow::Cow<'_, Geometry<f64>> {
    use std::borrow::Cow;
    match g {
        Geometry::Rect(r) => Cow::Owned(Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => Cow::Owned(Geometry::Polygon(t.to_polygon())),
        Geometry::Line(l) => Cow::Owned(Geometry::LineString(geo::LineString(vec![l.start, l.end]))),
        other => Cow::Borrowed(other),
    }
}

/// Names made unique for a format: at most `max_bytes` bytes (cut on a character boundary),
/// and distinct ignoring ASCII case, by replacing the end with `_1`, `_2`, ... Returns the new
/// names in order and the (old, new) pairs that changed.
pub fn unique_names(names: &[&str], max_bytes: Option<usize>, taken: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
    let max = max_bytes.unwrap_or(usize::MAX);
    let mut used: std::collections::HashSet<String> = taken.iter().map(|t| t.to_ascii_lowercase()).collect();
    let mut out = Vec::with_capacity(names.len());
    let mut renamed = Vec::new();
    for &name in names {
        let base = if name.is_empty() { "field" } else { name };
        let mut candidate = cut_to_bytes(base, max).to_string();
        let mut n = 1;
        while used.contains(&candidate.to_ascii_lowercase()) {
            let suffix = format!("_{n}");
            candidate = format!("{}{suffix}", cut_to_bytes(base, max.saturating_sub(suffix.len())));
            n += 1;
        }
        used.insert(candidate.to_ascii_lowercase());
        if candidate != name {
            renamed.push((name.to_string(), candidate.clone()));
        }
        out.push(candidate);
    }
    (out, renamed)
}

/// An output directory checked for overwriting, with files staged in a hidden sub-directory.
pub struct OutputDir {
    dir: PathBuf,
    staging: Option<PathBuf>,
    staged: Vec<(PathBuf, PathBuf)>,
    warnings: Vec<String>,
}

impl OutputDir {
    /// Refuses what [`OutputDir::prepare`] would refuse (a file in the way, a non-empty
    /// directory without `overwrite`) without creating anything: called before the inputs are
    /// read, so that a failed run leaves no empty directory behind.
    pub fn check(dir: &Path, overwrite: bool) -> Result<()> {
        if dir.exists() {
            if !dir.is_dir() {
                return Err(Error::io(dir, "create output directory", std::io::Error::other("exists and is not a directory")));
            }
            let non_empty = fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))?.next().is_some();
            if non_empty && !overwrite {
                return Err(Error::OutputNotEmpty { path: dir.to_path_buf() });
            }
        }
        Ok(())
    }

    /// Creates `dir` if needed; refuses a non-empty directory unless `overwrite`.
    pub fn prepare(dir: &Path, overwrite: bool) -> Result<OutputDir> {
        OutputDir::check(dir, overwrite)?;
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create output directory", e))?;
        }
        Ok(OutputDir { dir: dir.to_path_buf(), staging: None, staged: Vec::new(), warnings: Vec::new() })
    }

    /// The hidden staging directory, created on first use.
    fn staging(&mut self) -> Result<PathBuf> {
        if let Some(s) = &self.staging {
            return Ok(s.clone());
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let s = self.dir.join(format!(".wangge-staging-{}-{nanos}", std::process::id()));
        fs::create_dir(&s).map_err(|e| Error::io(&s, "create staging directory", e))?;
        self.staging = Some(s.clone());
        Ok(s)
    }

    /// Writes `name` in the staging directory with `fill`; it appears under its name on commit.
    pub fn stage(&mut self, name: &str, fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
        let final_path = self.dir.join(name);
        let tmp = self.staging()?.join(name);
        let result = (|| {
            let file = File::create(&tmp)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            fill(&mut w)?;
            w.flush()?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(final_path, "write", e));
        }
        self.staged.push((tmp, final_path));
        Ok(())
    }

    /// Writes `layer` as `stem.<ext>` in `format` (every file of it) in the staging directory;
    /// the files appear under their names on commit. Renames and warnings are kept for
    /// [`OutputDir::warnings`] and returned.
    pub fn stage_layer(&mut self, stem: &str, format: Format, layer: &OutputLayer) -> Result<Written> {
        let staging = self.staging()?;
        let name = format!("{stem}.{}", extension(format));
        let written = write_layer(&staging.join(&name), format, layer).map_err(|e| relocate(e, &staging, &self.dir))?;
        for f in &written.files {
            let file_name = f.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            self.staged.push((f.clone(), self.dir.join(file_name)));
        }
        let shown = self.dir.join(&name).display().to_string();
        for (from, to) in &written.renamed {
            self.warnings.push(format!("{shown}: column '{from}' written as '{to}'"));
        }
        self.warnings.extend(written.warnings.iter().cloned());
        Ok(written)
    }

    /// The final paths of the files staged so far.
    pub fn files(&self) -> Vec<PathBuf> {
        self.staged.iter().map(|(_, path)| path.clone()).collect()
    }

    /// What the staged layers reported (renamed columns, truncated text, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Renames every staged file to its final name. A file already there is set aside first;
    /// if any rename fails, the files placed so far are removed and the old ones put back.
    pub fn commit(mut self) -> Result<()> {
        let staged = std::mem::take(&mut self.staged);
        if staged.is_empty() {
            return Ok(());
        }
        let aside = self.staging()?.join(".replaced");
        fs::create_dir(&aside).map_err(|e| Error::io(&aside, "create staging directory", e))?;
        let mut placed: Vec<&PathBuf> = Vec::new();
        let mut set_aside: Vec<(PathBuf, &PathBuf)> = Vec::new();
        let mut failure = None;
        for (tmp, path) in &staged {
            if path.exists() {
                let keep = aside.join(path.file_name().unwrap_or_default());
                if let Err(e) = fs::rename(path, &keep) {
                    failure = Some(Error::io(path, "set aside", e));
                    break;
                }
                set_aside.push((keep, path));
            }
            if let Err(e) = fs::rename(tmp, path) {
                failure = Some(Error::io(path, "rename", e));
                break;
            }
            placed.push(path);
        }
        if let Some(e) = failure {
            for p in placed {
                let _ = fs::remove_file(p);
            }
            let mut restored = true;
            for (keep, path) in set_aside {
                restored &= fs::rename(keep, path).is_ok();
            }
            if !restored {
                // Keep the staging directory: it holds the files that could not be put back.
                self.staging = None;
            }
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if let Some(s) = &self.staging {
            let _ = fs::remove_dir_all(s);
        }
    }
}

/// An error about a file in the staging directory, reported under the file's final path.
fn relocate(e: Error, staging: &Path, dir: &Path) -> Error {
    let fix = |s: String| s.replace(&staging.display().to_string(), &dir.display().to_string());
    match e {
        Error::Io { path, action, source } => Error::Io { path: dir.join(path.file_name().unwrap_or_default()), action, source },
        Error::InvalidFeature { path, feature, fault } => Error::InvalidFeature { path: fix(path), feature, fault },
        Error::InvalidLayer { path, message } => Error::InvalidLayer { path: fix(path), message: fix(message) },
        Error::Crs { path, crs, message } => Error::Crs { path: fix(path), crs, message },
        other => other,
    }
}

/// Writes `buildings.<ext>` and `grids.<ext>` in `format` (and `micro_grids.<ext>`,
/// `building_parts.<ext>` when there are any), and summary.json. Returns the
/// warnings to show (renamed columns, truncated text).
pub fn write_partition_as(dir: &Path, overwrite: bool, result: &Partitioned, buildings: &Layer, format: Format) -> Result<WrittenOutputs> {
    let mut out = OutputDir::prepare(dir, overwrite)?;
    if format == Format::GeoJson {
        let crs_member = result.model.frame.source.geojson_member();
        out.stage("buildings.geojson", |w| geojson::write_buildings(w, result, buildings, crs_member.as_ref()))?;
        out.stage("grids.geojson", |w| geojson::write_grids(w, result, crs_member.as_ref()))?;
    } else {
        out.stage_layer("buildings", format, &buildings_layer(result, buildings)?)?;
        out.stage_layer("grids", format, &grids_layer(result))?;
    }
    if !result.micro_grids.is_empty() {
        out.stage_layer("micro_grids", format, &micro_grids_layer(result))?;
    }
    if !result.split.parts.is_empty() {
        out.stage_layer("building_parts", format, &parts::parts_layer(result))?;
    }
    out.stage("summary.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &result.summary)?;
        w.write_all(b"\n")
    })?;
    let warnings = out.warnings().to_vec();
    let files = out.files();
    out.commit()?;
    if overwrite {
        remove_stale_outputs(dir, &files);
    }
    Ok(WrittenOutputs { warnings, files })
}

/// After an `--overwrite` run: removes the layers an earlier run wrote that this one did not
/// (micro-grids, building parts in any output format, the HTML report), so that the directory
/// holds one run's outputs. Building and grid layers are never removed (an input may share
/// their names).
fn remove_stale_outputs(dir: &Path, written: &[PathBuf]) {
    const STEMS: [&str; 2] = ["micro_grids", "building_parts"];
    const EXTENSIONS: [&str; 10] = ["geojson", "geojsonl", "gpkg", "fgb", "shp", "shx", "dbf", "prj", "cpg", "qix"];
    let mut stale: Vec<PathBuf> = STEMS.iter().flat_map(|stem| EXTENSIONS.iter().map(move |ext| dir.join(format!("{stem}.{ext}")))).collect();
    stale.push(dir.join("report.html"));
    for p in stale {
        if p.is_file() && !written.contains(&p) {
            let _ = fs::remove_file(&p);
        }
    }
}

/// True when `output` names one GeoPackage file (`-o result.gpkg`) rather than a directory.
pub fn is_single_gpkg(output: &Path) -> bool {
    output.extension().is_some_and(|e| e.eq_ignore_ascii_case("gpkg")) && !output.is_dir()
}

/// Writes the outputs of a run into one GeoPackage `file` with the layers buildings, grids,
/// micro_grids and building_parts (when there are any) and violations (each with its grid's
/// polygon), and the summary beside it as `FILE.summary.json`. Both are written under temporary
/// names and renamed at the end; an existing file is refused unless `overwrite`.
pub fn write_partition_gpkg(file: &Path, overwrite: bool, result: &Partitioned, buildings: &Layer) -> Result<WrittenOutputs> {
    let summary_path = file.with_extension("summary.json");
    if !overwrite {
        for p in [file, summary_path.as_path()] {
            if p.exists() {
                return Err(Error::OutputNotEmpty { path: p.to_path_buf() });
            }
        }
    }
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create output directory", e))?;
    }
    let tmp = |p: &Path| {
        let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(format!(".wangge-{}.tmp", std::process::id()));
        p.with_file_name(name)
    };
    let (file_tmp, summary_tmp) = (tmp(file), tmp(&summary_path));
    let outcome = (|| -> Result<Vec<String>> {
        let mut layers = vec![buildings_layer(result, buildings)?, grids_layer(result)];
        if !result.micro_grids.is_empty() {
            layers.push(micro_grids_layer(result));
        }
        if !result.split.parts.is_empty() {
            layers.push(parts::parts_layer(result));
        }
        layers.push(violations_layer(result));
        let refs: Vec<&OutputLayer> = layers.iter().collect();
        let written = gpkg::write_gpkg_layers(&file_tmp, &refs).map_err(|e| match relocate(e, &file_tmp, file) {
            Error::Io { action, source, .. } => Error::Io { path: file.to_path_buf(), action, source },
            other => other,
        })?;
        let text = serde_json::to_vec_pretty(&result.summary).map_err(|e| Error::Invariant { stage: "write", message: e.to_string() })?;
        fs::write(&summary_tmp, [text.as_slice(), b"\n"].concat()).map_err(|e| Error::io(&summary_path, "write", e))?;
        let mut warnings: Vec<String> = written.renamed.iter().map(|(from, to)| format!("{}: column '{from}' written as '{to}'", file.display())).collect();
        warnings.extend(written.warnings);
        Ok(warnings)
    })();
    let warnings = match outcome {
        Ok(w) => w,
        Err(e) => {
            let _ = fs::remove_file(&file_tmp);
            let _ = fs::remove_file(&summary_tmp);
            return Err(e);
        }
    };
    fs::rename(&file_tmp, file).map_err(|e| Error::io(file, "rename into place", e))?;
    fs::rename(&summary_tmp, &summary_path).map_err(|e| Error::io(&summary_path, "rename into place", e))?;
    Ok(WrittenOutputs { warnings, files: vec![file.to_path_buf(), summary_path] })
}

/// A grid polygon as written: none when empty, a Polygon for one piece, else a MultiPolygon.
fn polygon_geometry(polygon: &geo::MultiPolygon<f64>) -> Option<Geometry<f64>> {
    match polygon.0.as_slice() {
        [] => None,
        [one] => Some(Geometry::Polygon(one.clone())),
        _ => Some(Geometry::MultiPolygon(polygon.clone())),
    }
}

/// One feature per violation: its grid's polygon, the grid id, kind, message, households and
/// whether it is unavoidable.
pub fn violations_layer(result: &Partitioned) -> OutputLayer {
    let index: std::collections::HashMap<&crate::report::GridId, usize> = result.grids.iter().enumerate().map(|(i, g)| (&g.id, i)).collect();
    let features = result
        .violations
        .iter()
        .map(|v| {
            let geometry = index.get(&v.grid_id).and_then(|&i| polygon_geometry(&result.grids[i].polygon));
            let mut properties = Map::new();
            properties.insert("grid_id".into(), v.grid_id.to_json());
            properties.insert("kind".into(), Value::String(v.kind.as_str().to_string()));
            properties.insert("unavoidable".into(), Value::Bool(v.unavoidable));
            properties.insert("households".into(), serde_json::json!(v.households));
            properties.insert("message".into(), Value::String(v.message.clone()));
            OutputFeature { id: None, properties, geometry }
        })
        .collect();
    OutputLayer { name: "violations".into(), crs: Some(result.model.frame.source.clone()), features }
}

/// What writing the outputs of a run did.
#[derive(Debug, Clone, Default)]
pub struct WrittenOutputs {
    /// What the writers reported (renamed columns, truncated text, ...).
    pub warnings: Vec<String>,
    /// The files written, in order.
    pub files: Vec<PathBuf>,
}

/// The properties and id of input feature `i`: from the original text for GeoJSON inputs,
/// else from the properties read.
pub fn input_feature_parts(layer: &Layer, i: usize) -> Result<(Option<Value>, Map<String, Value>)> {
    let f = &layer.features[i];
    match &layer.source_text {
        Some(src) => {
            let s = &src.spans[i];
            let parse = |r: &std::ops::Range<usize>| -> Result<Value> {
                serde_json::from_str(&src.text[r.clone()]).map_err(|e| Error::Parse { path: layer.name.clone(), message: e.to_string() })
            };
            let id = s.id.as_ref().map(parse).transpose()?.filter(|v| !v.is_null());
            let props = match s.properties.as_ref().map(parse).transpose()? {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            Ok((id, props))
        }
        None => Ok((f.id.as_ref().map(|id| id.to_json()), f.properties.clone().unwrap_or_default())),
    }
}

/// The buildings as an output layer: every input property plus `grid_id`, in the input CRS.
pub fn buildings_layer(result: &Partitioned, layer: &Layer) -> Result<OutputLayer> {
    let mut features = Vec::with_capacity(layer.features.len());
    for (i, f) in layer.features.iter().enumerate() {
        let (id, mut properties) = input_feature_parts(layer, i)?;
        properties.extend(result.building_extra_properties(i));
        properties.insert("grid_id".into(), result.grids[result.building_grid[i] as usize].id.to_json());
        features.push(OutputFeature { id, properties, geometry: f.geometry.clone() });
    }
    Ok(OutputLayer { name: "buildings".into(), crs: Some(result.model.frame.source.clone()), features })
}

/// The grids as an output layer (properties of [`grid_properties`]), in the input CRS.
pub fn grids_layer(result: &Partitioned) -> OutputLayer {
    let features = result
        .grids
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let properties = match grid_properties(result, i) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let geometry = match &g.given_geometry {
                Some(given) => Some(given.geometry.clone()),
                None => polygon_geometry(&g.polygon),
            };
            OutputFeature { id: Some(g.id.to_json()), properties, geometry }
        })
        .collect();
    OutputLayer { name: "grids".into(), crs: Some(result.model.frame.source.clone()), features }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The properties of grid `i` as written in the grids layer.
pub fn grid_properties(result: &Partitioned, i: usize) -> Value {
    let mut v = plain_grid_properties(result, i);
    if let Some(code) = result.grid_code(&result.grids[i].id) {
        v["grid_code"] = Value::from(code);
    }
    if let Some(&count) = result.grid_micro_grids.get(i) {
        v["micro_grids"] = Value::from(count);
    }
    if let Some(c) = &result.grids[i].community {
        v["community"] = Value::from(c.clone());
    }
    v
}

/// The micro-grids as an output layer (`micro_grid_id` = `GRID-SEQ`, `grid_id`, `seq`, counts,
/// area, violation kinds and, with a code prefix, `micro_code`), in the input CRS.
pub fn micro_grids_layer(result: &Partitioned) -> OutputLayer {
    let features = result
        .micro_grids
        .iter()
        .map(|m| {
            let mut properties = Map::new();
            properties.insert("micro_grid_id".into(), Value::from(m.id.clone()));
            properties.insert("grid_id".into(), m.grid_id.to_json());
            properties.insert("seq".into(), Value::from(m.seq));
            if let Some(code) = result.micro_code(m) {
                properties.insert("micro_code".into(), Value::from(code));
            }
            properties.insert("households".into(), Value::from(m.households));
            properties.insert("population".into(), m.population.map_or(Value::Null, Value::from));
            properties.insert("buildings".into(), Value::from(m.buildings));
            properties.insert("area_m2".into(), Value::from(round(m.area_m2, 2)));
            properties.insert("violations".into(), Value::from(m.violations.iter().map(|k| k.as_str()).collect::<Vec<_>>()));
            let geometry = match m.polygon.0.len() {
                0 => None,
                1 => Some(Geometry::Polygon(m.polygon.0[0].clone())),
                _ => Some(Geometry::MultiPolygon(m.polygon.clone())),
            };
            OutputFeature { id: Some(Value::from(m.id.clone())), properties, geometry }
        })
        .collect();
    OutputLayer { name: "micro_grids".into(), crs: Some(result.model.frame.source.clone()), features }
}

fn plain_grid_properties(result: &Partitioned, i: usize) -> Value {
    let g = &result.grids[i];
    let kinds: Vec<&str> = result.grid_violations[i].iter().map(|k| k.as_str()).collect();
    serde_json::json!({
        "grid_id": g.id,
        "households": g.households,
        "population": g.population,
        "buildings": g.buildings,
        "area_m2": round(g.area_m2, 2),
        "mean_walk_m": round(g.mean_walk_m, 2),
        "max_walk_m": round(g.max_walk_m, 2),
        "center_id": g.center_id.to_json(),
        "violations": kinds,
        "worker_id": g.worker.as_ref().map(|w| w.0.clone()),
        "worker_kind": g.worker.as_ref().and_then(|w| w.1.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_and_made_unique() {
        let (names, renamed) = unique_names(&["mean_walk_m", "mean_walk_s", "max_walk_m", "MAX_WALK_M", "名称很长的字段"], Some(10), &[]);
        assert_eq!(names, vec!["mean_walk_", "mean_wal_1", "max_walk_m", "MAX_WALK_1", "名称很"]);
        assert_eq!(renamed.len(), 4);
        assert!(names.iter().all(|n| n.len() <= 10));
    }

    #[test]
    fn column_types_are_inferred() {
        let f = |v: Value| OutputFeature { id: None, properties: v.as_object().unwrap().clone(), geometry: None };
        let layer = OutputLayer {
            name: "t".into(),
            crs: None,
            features: vec![
                f(serde_json::json!({"a": 1, "b": 1, "c": "x", "d": null, "e": [1], "f": true, "g": 1})),
                f(serde_json::json!({"a": 2, "b": 2.5, "c": null, "d": null, "e": {"k": 1}, "f": false, "g": "x"})),
            ],
        };
        let kinds: Vec<(String, ColumnKind)> = layer.columns().into_iter().map(|c| (c.name, c.kind)).collect();
        use ColumnKind::*;
        assert_eq!(kinds, vec![("a".into(), Integer), ("b".into(), Real), ("c".into(), Text), ("d".into(), Text), ("e".into(), Json), ("f".into(), Bool), ("g".into(), Text)]);
    }
}
