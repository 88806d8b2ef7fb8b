//! GeoParquet (`.parquet`): the primary geometry column as WKB, the CRS from the `geo` metadata
//! (PROJJSON; absent means OGC:CRS84), every other column as typed values. A Parquet file
//! without `geo` metadata reads as a table (no geometry), for attribute joins.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use geo::Geometry;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use serde_json::{Map, Value};

use super::{FeatureId, InputFeature, Layer};
use crate::crs::CrsSpec;
use crate::error::{Error, FeatureFault, Result};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 65_536;

/// The geometry column of a GeoParquet file and its CRS, from the `geo` metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoColumn {
    /// Name of the primary geometry column.
    pub name: String,
    /// Its CRS (None when the metadata declares it unknown with `"crs": null`).
    pub crs: Option<CrsSpec>,
}

/// Reads the `geo` metadata (GeoParquet 1.x): the primary column, its encoding (WKB only) and
/// its CRS. `Ok(None)` when there is no `geo` metadata.
pub fn geo_column(geo: Option<&str>, name: &str) -> Result<Option<GeoColumn>> {
    let Some(text) = geo else { return Ok(None) };
    let meta: Value = serde_json::from_str(text).map_err(|e| Error::layer(name, format!("GeoParquet: the 'geo' metadata is not JSON: {e}")))?;
    let primary = meta.get("primary_column").and_then(Value::as_str).ok_or_else(|| Error::layer(name, "GeoParquet: the 'geo' metadata names no primary_column"))?;
    let column = meta.get("columns").and_then(|c| c.get(primary)).cloned().unwrap_or(Value::Null);
    let encoding = column.get("encoding").and_then(Value::as_str).unwrap_or("WKB");
    if !encoding.eq_ignore_ascii_case("WKB") {
        return Err(Error::layer(
            name,
            format!("GeoParquet: geometry column '{primary}' is encoded as '{encoding}' (GeoArrow); only WKB is read: write it with geometry_encoding='WKB' (the geopandas default)"),
        ));
    }
    let crs = match column.get("crs") {
        None => Some(CrsSpec::Crs84),
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(CrsSpec::parse(s)),
        Some(projjson) => Some(crate::crs::crs_from_projjson(projjson)),
    };
    Ok(Some(GeoColumn { name: primary.to_string(), crs }))
}

/// Reads a GeoParquet file, keeping the values of `columns`.
pub fn read_parquet(path: &Path, columns: &[&str]) -> Result<Layer> {
    let name = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| Error::layer(&name, format!("Parquet: {e}"));
    let file = File::open(path).map_err(|e| Error::io(path, "read", e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, "read", e))?.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    check_column_chunks(builder.metadata(), file_len, &name)?;
    let geo_text = builder.metadata().file_metadata().key_value_metadata().and_then(|kv| kv.iter().find(|k| k.key == "geo")).and_then(|k| k.value.clone());
    let geo = geo_column(geo_text.as_deref(), &name)?;
    let schema = builder.schema().clone();
    let all: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| geo.as_ref().is_none_or(|g| &g.name != n) && !n.starts_with("__index_level_"))
        .collect();
    let geometry_index = match &geo {
        Some(g) => Some(schema.index_of(&g.name).map_err(|_| Error::layer(&name, format!("GeoParquet: the geometry column '{}' named by the 'geo' metadata is missing", g.name)))?),
        None => None,
    };
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| err(&e))?;
    let mut features: Vec<InputFeature> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        let first = features.len();
        let geometries = match geometry_index {
            Some(i) => wkb_column(batch.column(i), first, &name)?,
            None => vec![None; batch.num_rows()],
        };
        let mut props: Vec<Map<String, Value>> = vec![Map::new(); batch.num_rows()];
        for column in &all {
            let Some(array) = batch.column_by_name(column) else { continue };
            let values = column_values(array).map_err(|e| Error::layer(&name, format!("Parquet: column '{column}': {e}")))?;
            for (p, v) in props.iter_mut().zip(values) {
                p.insert(column.clone(), v);
            }
        }
        for (k, (geometry, properties)) in geometries.into_iter().zip(props).enumerate() {
            let attributes = columns.iter().map(|c| properties.get(*c).filter(|v| !v.is_null()).cloned()).collect();
            let row = first + k;
            features.push(InputFeature { row, id: Some(FeatureId::Number(row as i64)), geometry, attributes, properties: Some(properties) });
        }
    }
    Ok(Layer { name, crs: geo.and_then(|g| g.crs), features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: all, source_text: None })
}

/// Checks that every column chunk the footer declares lies inside the file, before the
/// `parquet` crate reads it (it asserts on a negative offset or length, and would panic).
fn check_column_chunks(metadata: &ParquetMetaData, file_len: u64, name: &str) -> Result<()> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        if group.num_rows() < 0 {
            return Err(Error::layer(name, format!("Parquet: corrupt file: row group {g} declares {} rows", group.num_rows())));
        }
        for column in group.columns() {
            let start = column.dictionary_page_offset().unwrap_or_else(|| column.data_page_offset());
            let length = column.compressed_size();
            let inside = start >= 0 && length >= 0 && (start as u64).checked_add(length as u64).is_some_and(|end| end <= file_len);
            if !inside {
                return Err(Error::layer(
                    name,
                    format!(
                        "Parquet: corrupt file: column '{}' of row group {g} is declared at bytes {start}..+{length}, outside the file's {file_len} bytes",
                        column.column_path()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The geometries of a WKB column (binary, large binary or binary view); a null or empty value
/// is a null geometry. `first` is the file row of the batch's first row, for messages.
fn wkb_column(array: &ArrayRef, first: usize, name: &str) -> Result<Vec<Option<Geometry<f64>>>> {
    let decode = |row: usize, bytes: Option<&[u8]>| -> Result<Option<Geometry<f64>>> {
        let Some(bytes) = bytes.filter(|b| !b.is_empty()) else { return Ok(None) };
        let fault = |message: String| Error::feature(name, format!("{}", first + row), FeatureFault::MalformedGeometry { message });
        let parsed = wkb::reader::read_wkb(bytes).map_err(|e| fault(format!("invalid WKB: {e}")))?;
        geo_traits::to_geo::ToGeoGeometry::try_to_geometry(&parsed).map(Some).ok_or_else(|| fault("unsupported WKB geometry".into()))
    };
    let values: Vec<Option<&[u8]>> = match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        other => return Err(Error::layer(name, format!("GeoParquet: the geometry column holds {other}, not WKB bytes"))),
    };
    values.into_iter().enumerate().map(|(row, b)| decode(row, b)).collect()
}

/// The values of one column as JSON: booleans, integers, finite numbers (NaN is null), text;
/// other types (dates, times, decimals, lists) as their display text.
fn column_values(array: &ArrayRef) -> std::result::Result<Vec<Value>, arrow_schema::ArrowError> {
    use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
    use arrow_cast::cast;
    let n = array.len();
    let values: Vec<Value> = match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => array.as_boolean().iter().map(|v| v.map_or(Value::Null, Value::from)).collect(),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
            let a = cast(array, &DataType::Int64)?;
            a.as_primitive::<Int64Type>().iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        DataType::UInt64 => array.as_primitive::<UInt64Type>().iter().map(|v| v.map_or(Value::Null, Value::from)).collect(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => {
            let a = cast(array, &DataType::Float64)?;
            a.as_primitive::<Float64Type>().iter().map(|v| v.and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let a = cast(array, &DataType::Utf8)?;
            a.as_string::<i32>().iter().map(|v| v.map_or(Value::Null, Value::from)).collect()
        }
        _ => {
            let f = arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &arrow_cast::display::FormatOptions::default())?;
            (0..n).map(|i| if array.is_null(i) { Value::Null } else { Value::from(f.value(i).to_string()) }).collect()
        }
    };
    Ok(values)
}
