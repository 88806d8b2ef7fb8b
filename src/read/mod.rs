//! Read stage: input files → [`Layer`]s (geometries in the file's CRS, the asked-for columns,
//! and, for GeoJSON, the original text so outputs can keep every property untouched).

pub mod fgb;
mod geojson;
pub mod gpkg;
pub mod inputs;
pub mod parquet;
pub mod shp;
pub mod table;

pub use inputs::{read_inputs, InputColumns, InputLayers, Inputs};

use std::ops::Range;
use std::path::Path;

use geo::{BoundingRect, Geometry, Rect};
use serde_json::Value;

use crate::crs::CrsSpec;
use crate::error::{Error, Result};

pub use self::geojson::parse_geojson;

/// The id a feature carries in its file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureId {
    /// A numeric id (integers only; other numbers are kept as text).
    Number(i64),
    /// A string id.
    Text(String),
}

impl std::fmt::Display for FeatureId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureId::Number(n) => write!(f, "{n}"),
            FeatureId::Text(s) => write!(f, "{s}"),
        }
    }
}

impl serde::Serialize for FeatureId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            FeatureId::Number(n) => s.serialize_i64(*n),
            FeatureId::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> serde::Deserialize<'de> for FeatureId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<FeatureId, D::Error> {
        let v = Value::deserialize(d)?;
        FeatureId::grid_id(&v).map_err(serde::de::Error::custom)
    }
}

impl FeatureId {
    /// The id as a JSON value (number or string).
    pub fn to_json(&self) -> Value {
        match self {
            FeatureId::Number(n) => Value::from(*n),
            FeatureId::Text(s) => Value::from(s.clone()),
        }
    }

    /// Reads a grid id from a JSON value: an integer (also written as a whole float, as some
    /// formats store them) or non-blank text, kept as given; other values are refused.
    pub fn grid_id(v: &Value) -> std::result::Result<FeatureId, String> {
        match v {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(FeatureId::Number(i)),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(FeatureId::Number(f as i64)),
                _ => Err(format!("grid id {n} is not a whole number")),
            },
            Value::String(s) if !s.trim().is_empty() => Ok(FeatureId::Text(s.clone())),
            Value::String(_) => Err("grid id is blank".into()),
            other => Err(format!("grid id {other} is neither a whole number nor text")),
        }
    }

    /// True when both ids read the same (the number 7 and the text "7" match): how ids given on
    /// the command line or in a config are matched to ids read from a file.
    pub fn same(&self, other: &FeatureId) -> bool {
        match (self, other) {
            (FeatureId::Number(a), FeatureId::Number(b)) => a == b,
            (FeatureId::Text(a), FeatureId::Text(b)) => a == b,
            _ => self.to_string() == other.to_string(),
        }
    }

    /// Reads an id from a JSON value: integers and strings; other values are refused.
    pub fn from_json(v: &Value) -> std::result::Result<FeatureId, String> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(FeatureId::Number(i)),
                None => Ok(FeatureId::Text(n.to_string())),
            },
            Value::String(s) if !s.is_empty() => Ok(FeatureId::Text(s.clone())),
            Value::String(_) => Err("empty string".into()),
            Value::Null => Err("null".into()),
            other => Err(format!("{other} is neither a number nor a string")),
        }
    }
}

/// One feature of an input layer.
#[derive(Debug, Clone)]
pub struct InputFeature {
    /// Zero-based position in the file.
    pub row: usize,
    /// The feature's own id (GeoJSON `id` member), when present.
    pub id: Option<FeatureId>,
    /// Geometry in the layer's CRS; None when the feature has a null geometry.
    pub geometry: Option<Geometry<f64>>,
    /// Values of the columns asked for when reading, in that order; None when absent.
    pub attributes: Vec<Option<Value>>,
    /// Every property, for formats whose original text is not kept (written back to outputs).
    pub properties: Option<serde_json::Map<String, Value>>,
}

impl InputFeature {
    /// How to name this feature in a message, the same everywhere: its 0-based position in the
    /// file, and its id when it has one that differs (`7`, `7 (id 1007)`, `3 (id T)`); a row of
    /// a text table by its line (`line 3`), as the table reader names it.
    pub fn label(&self) -> String {
        match &self.id {
            Some(FeatureId::Text(t)) if t.starts_with("line ") => t.clone(),
            id => feature_label(self.row, id.as_ref().map(|id| id.to_string())),
        }
    }
}

/// A feature named in a message: its 0-based position in the file, then its id when it has one
/// that is not that same number (`7`, `7 (id 1007)`, `3 (id T)`). Every message uses this form.
pub fn feature_label(row: usize, id: Option<String>) -> String {
    match id {
        Some(id) if id != row.to_string() => format!("{row} (id {id})"),
        _ => row.to_string(),
    }
}

/// Byte ranges of one feature's members in the original GeoJSON text.
#[derive(Debug, Clone)]
pub struct FeatureSpans {
    /// The `id` member's value.
    pub id: Option<Range<usize>>,
    /// The `properties` member's value.
    pub properties: Option<Range<usize>>,
    /// The `geometry` member's value.
    pub geometry: Option<Range<usize>>,
    /// Whether the properties already hold a key that outputs add (e.g. `grid_id`).
    pub has_reserved_key: bool,
}

/// The original text of a GeoJSON layer, kept to write features back unchanged.
#[derive(Debug, Clone)]
pub struct GeoJsonText {
    /// Whole file.
    pub text: String,
    /// One entry per feature, in file order.
    pub spans: Vec<FeatureSpans>,
}

/// A layer read from a file (or built in memory by the Python bindings).
#[derive(Debug, Clone)]
pub struct Layer {
    /// File path or layer name, used in every message about this layer.
    pub name: String,
    /// CRS declared by the file; None when it declares none (GeoJSON: lon/lat).
    pub crs: Option<CrsSpec>,
    /// Features in file order.
    pub features: Vec<InputFeature>,
    /// Names of the columns asked for, in the order of [`InputFeature::attributes`].
    pub requested: Vec<String>,
    /// Every property name seen in the layer, in order of first appearance.
    pub columns: Vec<String>,
    /// Original text, for GeoJSON inputs.
    pub source_text: Option<GeoJsonText>,
}

impl Layer {
    /// Bounding box of every geometry, None for a layer without geometry.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        crate::geom::union_of_rects(self.features.iter().filter_map(|f| f.geometry.as_ref()).filter_map(|g| g.bounding_rect()))
    }

    /// Index of a requested column in [`InputFeature::attributes`].
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.requested.iter().position(|c| c == name)
    }

    /// True when some feature has this property.
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }
}

/// Keys that outputs add to every building's properties.
pub const RESERVED_KEYS: &[&str] = &["grid_id"];

/// A vector file format (named on the command line by `--format` / `--output-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// GeoJSON FeatureCollection (`.geojson`, `.json`).
    #[value(name = "geojson", alias = "json")]
    GeoJson,
    /// Line-delimited GeoJSON, one feature per line (`.geojsonl`, `.geojsons`, `.ndjson`, `.jsonl`).
    #[value(name = "geojsonseq", aliases = ["geojsonl", "geojsons", "ndjson", "jsonl"])]
    GeoJsonSeq,
    /// GeoPackage (`.gpkg`).
    #[value(name = "gpkg", alias = "geopackage")]
    GeoPackage,
    /// ESRI Shapefile (`.shp` with `.dbf`, `.prj`, `.cpg`).
    #[value(name = "shp", aliases = ["shapefile", "esri shapefile"])]
    Shapefile,
    /// FlatGeobuf (`.fgb`).
    #[value(name = "fgb", alias = "flatgeobuf")]
    FlatGeobuf,
    /// GeoParquet (`.parquet`, `.geoparquet`): WKB geometries, CRS as PROJJSON.
    #[value(name = "parquet", aliases = ["geoparquet", "pq"])]
    GeoParquet,
}

impl Format {
    /// The format named `text` (`geojson`, `geojsonseq`, `gpkg`, `shp`, `fgb`, `parquet` or an alias such
    /// as an extension), in any case.
    pub fn parse(text: &str) -> Option<Format> {
        <Format as clap::ValueEnum>::from_str(text.trim(), true).ok()
    }

    /// The format of a file by its extension.
    pub fn of_path(path: &Path) -> Option<Format> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        Format::parse(&ext)
    }
}

/// How to read a layer beyond its path (the command line's `--format`, `--layer`, `--encoding`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ReadOptions {
    /// Format, overriding the extension.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Layer of a GeoPackage. [default: the first feature table]
    #[arg(long)]
    pub layer: Option<String>,
    /// Text encoding of Shapefile attributes, overriding the .cpg file (e.g. GBK, GB18030).
    #[arg(long)]
    pub encoding: Option<String>,
}

/// Reads a layer from `path`, keeping the values of `columns`; the format follows the extension.
pub fn read_layer(path: &Path, columns: &[&str]) -> Result<Layer> {
    read_layer_with(path, columns, &ReadOptions::default())
}

/// The text of a GeoJSON file: UTF-8, a leading byte-order mark dropped (some Windows tools
/// write one; JSON parsers refuse it).
fn utf8_text(path: &Path, name: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let mut text = String::from_utf8(bytes).map_err(|e| Error::layer(name, format!("not UTF-8 text (byte {}): GeoJSON must be UTF-8", e.utf8_error().valid_up_to())))?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Reads a layer with explicit options (format, layer, encoding).
pub fn read_layer_with(path: &Path, columns: &[&str], options: &ReadOptions) -> Result<Layer> {
    let name = path.display().to_string();
    if !path.exists() {
        return Err(Error::io(path, "read", std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")));
    }
    let format = options.format.or_else(|| Format::of_path(path)).ok_or_else(|| {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        Error::layer(&name, format!("unknown format '.{ext}': use .geojson, .geojsonl, .gpkg, .shp, .fgb or .parquet, or --format"))
    })?;
    contain_decoder_panics(&name, format, || match format {
        Format::GeoJson => parse_geojson(utf8_text(path, &name)?, &name, columns),
        Format::GeoJsonSeq => geojson::parse_geojson_seq(&utf8_text(path, &name)?, &name, columns),
        Format::GeoPackage => gpkg::read_gpkg(path, columns, options.layer.as_deref()),
        Format::Shapefile => shp::read_shapefile(path, columns, options.encoding.as_deref()),
        Format::FlatGeobuf => fgb::read_fgb(path, columns),
        Format::GeoParquet => parquet::read_parquet(path, columns),
    })
}

thread_local! {
    /// True while a decoder runs under [`contain_decoder_panics`] on this thread.
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The message a contained decoder failure carries (the fuzz tests count them by it).
pub const DECODER_FAILED: &str = "the decoder failed on it";

/// Runs a reader whose decoders (parquet, arrow, flatbuffers, WKB, dBase ...) are third-party
/// code: a panic inside one on a corrupt file becomes an error naming the file, never a crash
/// or a backtrace. The panic hook stays silent for such panics only; every other panic is
/// reported as before. (Faults found this way are then checked for before decoding, as the
/// .shp records and FlatGeobuf properties are.)
fn contain_decoder_panics<T>(name: &str, format: Format, read: impl FnOnce() -> Result<T>) -> Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(|d| d.get()) {
                previous(info);
            }
        }));
    });
    let outer = DECODING.with(|d| d.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    DECODING.with(|d| d.set(outer));
    result.unwrap_or_else(|payload| {
        let what = payload.downcast_ref::<String>().cloned().or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
        let format = <Format as clap::ValueEnum>::to_possible_value(&format).map(|v| v.get_name().to_string()).unwrap_or_default();
        Err(Error::layer(name, format!("the file is corrupt: {DECODER_FAILED} ({format}: {what})")))
    })
}

/// Reads an attribute table: a delimited text file (`.csv`, `.tsv`, `.txt`), or any vector file
/// whose geometries are then ignored.
pub fn read_attribute_table(path: &Path, columns: &[&str], options: &ReadOptions) -> Result<Layer> {
    if !path.exists() {
        return Err(Error::io(path, "read", std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")));
    }
    if options.format.is_none() && table::is_table_path(path) {
        return table::read_table(path, columns, options.encoding.as_deref());
    }
    read_layer_with(path, columns, options)
}

/// A description of a vector file (`wangge info`): format, layers, feature count, CRS, bounds,
/// geometry types and columns with their types (inferred from the values).
pub fn describe(path: &Path, options: &ReadOptions) -> Result<Value> {
    let format = options.format.or_else(|| Format::of_path(path));
    let first = read_layer_with(path, &[], options)?;
    let names: Vec<&str> = first.columns.iter().map(String::as_str).collect();
    let layer = read_layer_with(path, &names, options)?;
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for f in &layer.features {
        let k = match &f.geometry {
            None => "null",
            Some(Geometry::Point(_)) => "Point",
            Some(Geometry::MultiPoint(_)) => "MultiPoint",
            Some(Geometry::LineString(_)) | Some(Geometry::Line(_)) => "LineString",
            Some(Geometry::MultiLineString(_)) => "MultiLineString",
            Some(Geometry::Polygon(_)) | Some(Geometry::Rect(_)) | Some(Geometry::Triangle(_)) => "Polygon",
            Some(Geometry::MultiPolygon(_)) => "MultiPolygon",
            Some(Geometry::GeometryCollection(_)) => "GeometryCollection",
        };
        *kinds.entry(k).or_insert(0) += 1;
    }
    let columns: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut seen: Vec<&str> = layer
                .features
                .iter()
                .filter_map(|f| f.attributes[i].as_ref())
                .map(|v| match v {
                    Value::Bool(_) => "boolean",
                    Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    _ => "json",
                })
                .collect();
            seen.sort_unstable();
            seen.dedup();
            let t = match seen.as_slice() {
                [] => "null",
                [one] => one,
                ["integer", "number"] => "number",
                _ => "mixed",
            };
            serde_json::json!({"name": name, "type": t})
        })
        .collect();
    let layers: Value = match format {
        Some(Format::GeoPackage) => gpkg::gpkg_layers(path)?.into_iter().map(|(n, c, s)| serde_json::json!({"name": n, "features": c, "srs_id": s})).collect(),
        _ => Value::Null,
    };
    let b = layer.bounds();
    Ok(serde_json::json!({
        "file": layer.name,
        "format": format,
        "layers": layers,
        "features": layer.features.len(),
        "crs": layer.crs.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "OGC:CRS84 (GeoJSON default: longitude, latitude)".into()),
        "bounds": b.map(|r| vec![r.min().x, r.min().y, r.max().x, r.max().y]),
        "geometry_types": kinds,
        "columns": columns,
    }))
}
