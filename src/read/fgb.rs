//! FlatGeobuf: features in file order, typed properties, the CRS from the header.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use flatgeobuf::{FallibleStreamingIterator, FgbReader};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};
use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::crs::CrsSpec;
use crate::error::{Error, FeatureFault, Result};

/// Collects the wanted properties of one feature as JSON values.
struct Collect {
    out: serde_json::Map<String, Value>,
}

impl PropertyProcessor for Collect {
    fn property(&mut self, _i: usize, name: &str, value: &ColumnValue) -> geozero::error::Result<bool> {
        {
            let v = match value {
                ColumnValue::Byte(v) => Some(Value::from(*v)),
                ColumnValue::UByte(v) => Some(Value::from(*v)),
                ColumnValue::Bool(v) => Some(Value::from(*v)),
                ColumnValue::Short(v) => Some(Value::from(*v)),
                ColumnValue::UShort(v) => Some(Value::from(*v)),
                ColumnValue::Int(v) => Some(Value::from(*v)),
                ColumnValue::UInt(v) => Some(Value::from(*v)),
                ColumnValue::Long(v) => Some(Value::from(*v)),
                ColumnValue::ULong(v) => Some(Value::from(*v)),
                ColumnValue::Float(v) => serde_json::Number::from_f64(*v as f64).map(Value::Number),
                ColumnValue::Double(v) => serde_json::Number::from_f64(*v).map(Value::Number),
                ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => Some(Value::from(s.to_string())),
                ColumnValue::Binary(_) => None,
            };
            self.out.insert(name.to_string(), v.unwrap_or(Value::Null));
        }
        Ok(false)
    }
}

/// Reads a FlatGeobuf file.
pub fn read_fgb(path: &Path, columns: &[&str]) -> Result<Layer> {
    let name = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| Error::layer(&name, format!("FlatGeobuf: {e}"));
    let mut file = BufReader::new(File::open(path).map_err(|e| Error::io(path, "read", e))?);
    let reader = FgbReader::open(&mut file).map_err(|e| err(&e))?;
    let header = reader.header();
    let all: Vec<String> = header.columns().map(|cs| cs.iter().map(|c| c.name().to_string()).collect()).unwrap_or_default();
    let crs = header.crs().and_then(|c| {
        if c.code() > 0 && c.org().is_none_or(|o| o.eq_ignore_ascii_case("EPSG")) {
            Some(CrsSpec::Epsg(c.code() as u32))
        } else if let Some(o) = c.name().and_then(crate::offset::OffsetCrs::parse) {
            // GCJ-02 / BD-09 as wangge writes them (by name, on the WGS84 datum).
            Some(CrsSpec::Offset(o))
        } else {
            c.wkt().map(crate::crs::crs_from_wkt)
        }
    });
    let mut iter = reader.select_all().map_err(|e| err(&e))?;
    let mut features = Vec::new();
    while let Some(f) = iter.next().map_err(|e| err(&e))? {
        let row = features.len();
        let geometry = match f.geometry() {
            None => None,
            // A feature written without geometry (null shape) has an empty one.
            Some(g) if g.xy().is_none_or(|xy| xy.is_empty()) && g.parts().is_none_or(|p| p.is_empty()) => None,
            Some(_) => Some(f.to_geo().map_err(|e| Error::feature(&name, row.to_string(), FeatureFault::MalformedGeometry { message: e.to_string() }))?),
        };
        let mut c = Collect { out: serde_json::Map::new() };
        f.process_properties(&mut c).map_err(|e| err(&e))?;
        let attributes = columns.iter().map(|k| c.out.get(*k).filter(|v| !v.is_null()).cloned()).collect();
        features.push(InputFeature { row, id: Some(FeatureId::Number(row as i64)), geometry, attributes, properties: Some(c.out) });
    }
    Ok(Layer { name, crs, features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: all, source_text: None })
}
