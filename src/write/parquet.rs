//! GeoParquet output (1.1): typed columns (Int64, Float64, Boolean, UTF-8; JSON values as
//! text), the geometry as WKB in a `geometry` column, and the `geo` metadata with the encoding,
//! the geometry types, the bounding box and the CRS as PROJJSON (omitted for OGC:CRS84, the
//! GeoParquet default). Snappy-compressed, row groups of 65,536 features: what geopandas reads
//! and writes by default.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use geo::BoundingRect;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

use super::{ids_as_column, Cell, Column, ColumnKind, OutputLayer, Written};
use crate::crs::CrsSpec;
use crate::error::{Error, FeatureFault, Result};

/// Features per row group (and per batch handed to the writer).
const ROW_GROUP: usize = 65_536;

/// The name of the geometry column written (`geometry_1`, ... when a property has that name).
fn geometry_name(columns: &[Column]) -> String {
    let mut name = "geometry".to_string();
    let mut k = 0;
    while columns.iter().any(|c| c.name == name) {
        k += 1;
        name = format!("geometry_{k}");
    }
    name
}


/// The `geo` metadata of `layer` (`geometry`: the name of the geometry column).
fn geo_metadata(layer: &OutputLayer, geometry: &str, name: &str) -> Result<String> {
    let mut types: Vec<&str> = layer.features.iter().filter_map(|f| f.geometry.as_ref()).map(super::simple_type_name).collect();
    types.sort_unstable();
    types.dedup();
    let bbox = crate::geom::union_of_rects(layer.features.iter().filter_map(|f| f.geometry.as_ref()).filter_map(|g| g.bounding_rect()));
    let mut column = json!({"encoding": "WKB", "geometry_types": types});
    if let Some(r) = bbox {
        column["bbox"] = json!([r.min().x, r.min().y, r.max().x, r.max().y]);
    }
    match &layer.crs {
        Some(CrsSpec::Crs84) => {}
        None => column["crs"] = Value::Null,
        Some(c) => {
            let projjson = crate::crs::crs_projjson(c).map_err(|m| Error::Crs { path: name.to_string(), crs: c.to_string(), message: m })?;
            column["crs"] = serde_json::from_str(&projjson).map_err(|e| Error::Crs { path: name.to_string(), crs: c.to_string(), message: format!("PROJJSON: {e}") })?;
        }
    }
    let mut columns = serde_json::Map::new();
    columns.insert(geometry.to_string(), column);
    Ok(json!({"version": "1.1.0", "primary_column": geometry, "columns": columns}).to_string())
}

/// Writes `layer` as GeoParquet at `path` (replacing a file there). Feature ids that are not
/// already a column are kept in an `id` column.
pub fn write_parquet(path: &Path, layer: &OutputLayer) -> Result<Written> {
    let name = path.display().to_string();
    let with_ids = ids_as_column(layer);
    let layer = with_ids.as_ref().unwrap_or(layer);
    let columns = layer.columns();
    let geometry = geometry_name(&columns);
    let data_type = |k: ColumnKind| match k {
        ColumnKind::Integer => DataType::Int64,
        ColumnKind::Real => DataType::Float64,
        ColumnKind::Bool => DataType::Boolean,
        ColumnKind::Text | ColumnKind::Json => DataType::Utf8,
    };
    let mut fields: Vec<Field> = columns.iter().map(|c| Field::new(&c.name, data_type(c.kind), true)).collect();
    fields.push(Field::new(&geometry, DataType::Binary, true));
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_key_value_metadata(Some(vec![KeyValue::new("geo".to_string(), geo_metadata(layer, &geometry, &name)?)]))
        .build();
    let io = |e: &dyn std::fmt::Display| Error::io(path, "write", std::io::Error::other(e.to_string()));
    let file = File::create(path).map_err(|e| Error::io(path, "write", e))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| io(&e))?;
    for (chunk, features) in layer.features.chunks(ROW_GROUP).enumerate() {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 1);
        for c in &columns {
            let cells = features.iter().map(|f| c.cell(f));
            let array: ArrayRef = match c.kind {
                ColumnKind::Integer => {
                    let mut b = Int64Builder::with_capacity(features.len());
                    cells.for_each(|cell| b.append_option(if let Cell::Int(x) = cell { Some(x) } else { None }));
                    Arc::new(b.finish())
                }
                ColumnKind::Real => {
                    let mut b = Float64Builder::with_capacity(features.len());
                    cells.for_each(|cell| {
                        b.append_option(match cell {
                            Cell::Real(x) => Some(x),
                            Cell::Int(x) => Some(x as f64),
                            _ => None,
                        })
                    });
                    Arc::new(b.finish())
                }
                ColumnKind::Bool => {
                    let mut b = BooleanBuilder::with_capacity(features.len());
                    cells.for_each(|cell| b.append_option(if let Cell::Bool(x) = cell { Some(x) } else { None }));
                    Arc::new(b.finish())
                }
                ColumnKind::Text | ColumnKind::Json => {
                    let mut b = StringBuilder::with_capacity(features.len(), 16 * features.len());
                    cells.for_each(|cell| match cell {
                        Cell::Null => b.append_null(),
                        Cell::Text(t) => b.append_value(t),
                        Cell::Int(x) => b.append_value(x.to_string()),
                        Cell::Real(x) => b.append_value(x.to_string()),
                        Cell::Bool(x) => b.append_value(x.to_string()),
                    });
                    Arc::new(b.finish())
                }
            };
            arrays.push(array);
        }
        let mut wkb = BinaryBuilder::with_capacity(features.len(), 256 * features.len());
        let mut buf = Vec::with_capacity(256);
        for (k, f) in features.iter().enumerate() {
            match &f.geometry {
                None => wkb.append_null(),
                Some(g) => {
                    buf.clear();
                    let g = super::simple_geometry(g);
                    wkb::writer::write_geometry(&mut buf, &*g, &wkb::writer::WriteOptions { endianness: wkb::Endianness::LittleEndian }).map_err(|e| {
                        Error::feature(&name, f.label(chunk * ROW_GROUP + k), FeatureFault::MalformedGeometry { message: format!("cannot encode the geometry as WKB: {e}") })
                    })?;
                    wkb.append_value(&buf);
                }
            }
        }
        arrays.push(Arc::new(wkb.finish()));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| Error::Invariant { stage: "write", message: format!("GeoParquet batch: {e}") })?;
        writer.write(&batch).map_err(|e| io(&e))?;
    }
    let file = writer.into_inner().map_err(|e| io(&e))?;
    file.sync_all().map_err(|e| Error::io(path, "write", e))?;
    Ok(Written { files: vec![path.to_path_buf()], renamed: Vec::new(), warnings: Vec::new() })
}
