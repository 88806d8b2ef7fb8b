//! Read stage: input files → [`Layer`]s (geometries in the file's CRS, the asked-for columns,
//! and, for GeoJSON, the original text so outputs can keep every property untouched).

mod geojson;

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

impl FeatureId {
    /// The id as a JSON value (number or string).
    pub fn to_json(&self) -> Value {
        match self {
            FeatureId::Number(n) => Value::from(*n),
            FeatureId::Text(s) => Value::from(s.clone()),
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
}

impl InputFeature {
    /// How to name this feature in a message: its id, else `#row`.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => id.to_string(),
            None => format!("#{}", self.row),
        }
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
        let mut acc: Option<Rect<f64>> = None;
        for g in self.features.iter().filter_map(|f| f.geometry.as_ref()) {
            if let Some(r) = g.bounding_rect() {
                acc = Some(match acc {
                    None => r,
                    Some(a) => Rect::new(
                        geo::Coord { x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y) },
                        geo::Coord { x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y) },
                    ),
                });
            }
        }
        acc
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

/// Reads a layer from `path`, keeping the values of `columns`. The format follows the extension
/// (`.geojson`, `.json`).
pub fn read_layer(path: &Path, columns: &[&str]) -> Result<Layer> {
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "geojson" | "json" => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                Error::layer(&name, format!("not UTF-8 text (byte {}): GeoJSON must be UTF-8", e.utf8_error().valid_up_to()))
            })?;
            parse_geojson(text, &name, columns)
        }
        "" => Err(Error::layer(&name, "has no extension; expected .geojson or .json")),
        other => Err(Error::layer(
            &name,
            format!("unsupported format '.{other}'; this version reads GeoJSON (.geojson, .json)"),
        )),
    }
}
