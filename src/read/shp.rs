//! Shapefile (.shp + .dbf, with .prj for the CRS and .cpg for the text encoding; without .cpg
//! the dBase language driver decides, GBK for the Chinese code pages, else UTF-8).

use std::path::Path;

use dbase::FieldValue;
use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::error::{Error, FeatureFault, Result};

/// The text encoding of a shapefile's attributes: from `--encoding`, the .cpg file, or the
/// language driver byte of the .dbf header.
pub fn encoding_of(path: &Path, explicit: Option<&str>) -> Result<&'static encoding_rs::Encoding> {
    let name = path.display().to_string();
    let label = match explicit {
        Some(e) => Some(e.to_string()),
        None => std::fs::read_to_string(path.with_extension("cpg")).ok().map(|s| s.trim().to_string()),
    };
    if let Some(l) = label {
        let l = match l.as_str() {
            "936" | "CP936" | "cp936" => "gbk".to_string(),
            "65001" => "utf-8".to_string(),
            _ => l,
        };
        return encoding_rs::Encoding::for_label(l.as_bytes()).ok_or_else(|| Error::layer(&name, format!("unknown text encoding '{l}' (.cpg or --encoding)")));
    }
    let header = std::fs::read(path.with_extension("dbf")).ok().and_then(|b| b.get(29).copied());
    Ok(match header {
        Some(0x4D) | Some(0x7A) => encoding_rs::GBK,
        _ => encoding_rs::UTF_8,
    })
}

fn json_of(v: &FieldValue) -> Option<Value> {
    match v {
        FieldValue::Character(s) => s.as_ref().map(|s| Value::from(s.trim_end().to_string())),
        FieldValue::Numeric(Some(n)) if n.fract() == 0.0 && n.abs() < 9e15 => Some(Value::from(*n as i64)),
        FieldValue::Numeric(n) => n.and_then(serde_json::Number::from_f64).map(Value::Number),
        FieldValue::Float(n) => n.and_then(|f| serde_json::Number::from_f64(f as f64)).map(Value::Number),
        FieldValue::Integer(i) => Some(Value::from(*i)),
        FieldValue::Double(d) | FieldValue::Currency(d) => serde_json::Number::from_f64(*d).map(Value::Number),
        FieldValue::Logical(b) => b.map(Value::from),
        FieldValue::Memo(s) => Some(Value::from(s.clone())),
        FieldValue::Date(d) => d.map(|d| Value::from(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))),
        FieldValue::DateTime(_) => None,
    }
}

/// Field names as written in the .dbf header, decoded with the layer's encoding (dBase readers
/// decode names as ASCII, which garbles Chinese names).
fn field_names(dbf: &Path, enc: &'static encoding_rs::Encoding) -> Option<Vec<String>> {
    let bytes = std::fs::read(dbf).ok()?;
    let mut names = Vec::new();
    let mut at = 32;
    while at + 32 <= bytes.len() && bytes[at] != 0x0D {
        let raw = &bytes[at..at + 11];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(11);
        names.push(enc.decode_without_bom_handling(&raw[..end]).0.trim().to_string());
        at += 32;
    }
    Some(names)
}

/// Reads a shapefile's shapes and attributes.
pub fn read_shapefile(path: &Path, columns: &[&str], encoding: Option<&str>) -> Result<Layer> {
    let name = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| Error::layer(&name, format!("shapefile: {e}"));
    let enc = encoding_of(path, encoding)?;
    let shapes = shapefile::ShapeReader::from_path(path).map_err(|e| err(&e))?;
    let dbf = dbase::Reader::from_path_with_encoding(path.with_extension("dbf"), dbase::encoding::EncodingRs::from(enc)).map_err(|e| err(&e))?;
    let raw_names: Vec<String> = dbf.fields().iter().map(|f| f.name().to_string()).collect();
    let all: Vec<String> = field_names(&path.with_extension("dbf"), enc).filter(|n| n.len() == raw_names.len()).unwrap_or_else(|| raw_names.clone());
    // The .prj: GCJ-02/BD-09 by name, else the EPSG code PROJ identifies, else the WKT.
    let crs = std::fs::read_to_string(path.with_extension("prj")).ok().filter(|s| !s.trim().is_empty()).map(|wkt| crate::crs::crs_from_wkt(&wkt));
    let mut reader = shapefile::Reader::new(shapes, dbf);
    let mut features = Vec::new();
    for (row, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(|e| err(&e))?;
        let geometry = match shape {
            shapefile::Shape::NullShape => None,
            s => Some(geo::Geometry::<f64>::try_from(s).map_err(|e| Error::feature(&name, row.to_string(), FeatureFault::MalformedGeometry { message: format!("{e:?}") }))?),
        };
        let properties: serde_json::Map<String, Value> =
            all.iter().zip(&raw_names).map(|(c, raw)| (c.clone(), record.get(raw).and_then(json_of).unwrap_or(Value::Null))).collect();
        let attributes = columns.iter().map(|c| properties.get(*c).filter(|v| !v.is_null()).cloned()).collect();
        features.push(InputFeature { row, id: Some(FeatureId::Number(row as i64)), geometry, attributes, properties: Some(properties) });
    }
    Ok(Layer { name, crs, features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: all, source_text: None })
}
