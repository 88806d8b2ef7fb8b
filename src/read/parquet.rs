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
    check_pages(path, &name)?;
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

/// Checks the pages of every column chunk before the arrow reader decodes them (the `parquet`
/// crate asserts on some inconsistencies and would panic): a dictionary-encoded page needs a
/// dictionary page before it, and a byte-stream-split page needs whole values for the
/// values it declares.
fn check_pages(path: &Path, name: &str) -> Result<()> {
    use parquet::basic::{Encoding, Type as Physical};
    use parquet::column::page::Page;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let corrupt = |what: String| Error::layer(name, format!("Parquet: corrupt file: {what}"));
    let file = File::open(path).map_err(|e| Error::io(path, "read", e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| corrupt(e.to_string()))?;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| corrupt(e.to_string()))?;
        for c in 0..group.num_columns() {
            let descr = group.metadata().column(c).column_descr_ptr();
            let column = descr.path().string();
            let mut pages = group.get_column_page_reader(c).map_err(|e| corrupt(e.to_string()))?;
            let mut dictionary = false;
            while let Some(page) = pages.get_next_page().map_err(|e| corrupt(format!("column '{column}' of row group {g}: {e}")))? {
                let (encoding, values, non_null, levels_known) = match &page {
                    Page::DictionaryPage { .. } => {
                        dictionary = true;
                        continue;
                    }
                    Page::DataPageV2 { buf, num_values, encoding, num_nulls, def_levels_byte_len, rep_levels_byte_len, .. } => {
                        let levels = *def_levels_byte_len as usize + *rep_levels_byte_len as usize;
                        let Some(values) = buf.len().checked_sub(levels) else {
                            return Err(corrupt(format!("column '{column}' of row group {g} has a page whose levels ({levels} bytes) overrun its {} bytes", buf.len())));
                        };
                        (*encoding, Some(values), num_values.saturating_sub(*num_nulls) as usize, true)
                    }
                    Page::DataPage { buf, num_values, encoding, def_level_encoding, rep_level_encoding, .. } => {
                        // Version 1 levels (RLE) are each prefixed by their length in 4 bytes.
                        let mut at = Some(0usize);
                        for (present, level_encoding) in [(descr.max_rep_level() > 0, rep_level_encoding), (descr.max_def_level() > 0, def_level_encoding)] {
                            if present {
                                at = at.filter(|_| *level_encoding == Encoding::RLE).and_then(|a| {
                                    let length = u32::from_le_bytes(buf.get(a..a + 4)?.try_into().ok()?) as usize;
                                    a.checked_add(4 + length)
                                });
                            }
                        }
                        let plain = descr.max_def_level() == 0 && descr.max_rep_level() == 0;
                        (*encoding, at.and_then(|a| buf.len().checked_sub(a)), *num_values as usize, plain)
                    }
                };
                if matches!(encoding, Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY) && !dictionary {
                    return Err(corrupt(format!("column '{column}' of row group {g} has a dictionary-encoded page but no dictionary")));
                }
                if encoding == Encoding::BYTE_STREAM_SPLIT {
                    let size = match descr.physical_type() {
                        Physical::INT32 | Physical::FLOAT => 4,
                        Physical::INT64 | Physical::DOUBLE => 8,
                        Physical::FIXED_LEN_BYTE_ARRAY => descr.type_length().max(0) as usize,
                        _ => 0,
                    };
                    // `values` is None when the levels cannot be measured here: left to the decoder.
                    let whole = values.is_none_or(|v| size > 0 && v % size == 0 && (!levels_known || v / size >= non_null));
                    if !whole {
                        return Err(corrupt(format!("column '{column}' of row group {g} has a byte-stream-split page whose values do not fill whole {size}-byte values")));
                    }
                }
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
        wkb_extent(bytes, 0, 0).map_err(|m| fault(format!("invalid WKB: {m}")))?;
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

/// Where the WKB geometry starting at `at` ends, after checking that every count it declares
/// fits in the bytes (the `wkb` crate trusts them and panics on a short buffer). ISO (Z/M as
/// +1000s) and EWKB (flag bits, optional SRID) headers; collections nested at most 32 deep.
fn wkb_extent(b: &[u8], at: usize, depth: usize) -> std::result::Result<usize, String> {
    if depth > 32 {
        return Err("geometries nested more than 32 deep".into());
    }
    let order = *b.get(at).ok_or("the bytes end before a geometry")?;
    if order > 1 {
        return Err(format!("byte order {order} at byte {at} (0 or 1)"));
    }
    let u32_at = |i: usize| -> std::result::Result<u32, String> {
        let w: [u8; 4] = b.get(i..i + 4).and_then(|s| s.try_into().ok()).ok_or_else(|| format!("the bytes end at {} inside a count at byte {i}", b.len()))?;
        Ok(if order == 1 { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
    };
    let code = u32_at(at + 1)?;
    let mut next = at + 5;
    let (z, m) = (code & 0x8000_0000 != 0 || matches!((code & 0x0FFF_FFFF) / 1000, 1 | 3), code & 0x4000_0000 != 0 || matches!((code & 0x0FFF_FFFF) / 1000, 2 | 3));
    if code & 0x2000_0000 != 0 {
        next += 4; // EWKB SRID
    }
    let coordinate = 8 * (2 + z as usize + m as usize);
    let need = |from: usize, count: u64, size: usize| -> std::result::Result<usize, String> {
        let end = (count as u128) * (size as u128) + from as u128;
        if end > b.len() as u128 {
            Err(format!("{count} items of {size} bytes declared at byte {from}, beyond the {} bytes", b.len()))
        } else {
            Ok(end as usize)
        }
    };
    match (code & 0x0FFF_FFFF) % 1000 {
        1 => need(next, 1, coordinate),
        2 => need(next + 4, u32_at(next)? as u64, coordinate),
        3 => {
            let rings = u32_at(next)?;
            next += 4;
            for _ in 0..rings {
                next = need(next + 4, u32_at(next)? as u64, coordinate)?;
            }
            Ok(next)
        }
        kind @ 4..=7 => {
            let parts = u32_at(next)?;
            next += 4;
            // Each part takes at least its 5-byte header: a count beyond that is refused at once.
            need(next, parts as u64, 5)?;
            for _ in 0..parts {
                // The parts of a multi-geometry are of its single type, in its dimensions (the
                // `wkb` crate reads them so).
                let part_order = *b.get(next).ok_or("the bytes end before a geometry")?;
                let part: [u8; 4] = b.get(next + 1..next + 5).and_then(|s| s.try_into().ok()).ok_or("the bytes end inside a geometry type")?;
                let part = if part_order == 1 { u32::from_le_bytes(part) } else { u32::from_be_bytes(part) };
                let part_kind = (part & 0x0FFF_FFFF) % 1000;
                let part_dims = (part & 0xC000_0000, (part & 0x0FFF_FFFF) / 1000);
                if kind < 7 && (part_kind != kind - 3 || part_dims != (code & 0xC000_0000, (code & 0x0FFF_FFFF) / 1000)) {
                    return Err(format!("a part of type code {part} at byte {next} in a multi-geometry of type code {code}"));
                }
                next = wkb_extent(b, next, depth + 1)?;
            }
            Ok(next)
        }
        other => Err(format!("geometry type code {other} at byte {at}")),
    }
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

#[cfg(test)]
mod tests {
    use super::wkb_extent;

    fn point(x: f64, y: f64) -> Vec<u8> {
        [vec![1u8], 1u32.to_le_bytes().to_vec(), x.to_le_bytes().to_vec(), y.to_le_bytes().to_vec()].concat()
    }

    fn polygon() -> Vec<u8> {
        let ring: Vec<(f64, f64)> = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)];
        let mut b = vec![1u8];
        b.extend(3u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend((ring.len() as u32).to_le_bytes());
        for (x, y) in ring {
            b.extend(x.to_le_bytes());
            b.extend(y.to_le_bytes());
        }
        b
    }

    fn multi(kind: u32, parts: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend(kind.to_le_bytes());
        b.extend((parts.len() as u32).to_le_bytes());
        parts.iter().for_each(|p| b.extend(p));
        b
    }

    #[test]
    fn wkb_extent_accepts_whole_geometries_and_refuses_short_or_mixed_ones() {
        let mp = multi(6, &[polygon(), polygon()]);
        assert_eq!(wkb_extent(&mp, 0, 0), Ok(mp.len()));
        assert_eq!(wkb_extent(&point(1.0, 2.0), 0, 0), Ok(21));
        // Every truncation is refused, never read past the end.
        for cut in 0..mp.len() {
            assert!(wkb_extent(&mp[..cut], 0, 0).is_err(), "cut at {cut}");
        }
        // A count far beyond the bytes.
        let mut huge = polygon();
        huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(wkb_extent(&huge, 0, 0).is_err());
        // A multipoint holding a polygon, and one holding a 3D point.
        assert!(wkb_extent(&multi(4, &[polygon()]), 0, 0).is_err());
        let mut z = point(1.0, 2.0);
        z[1..5].copy_from_slice(&1001u32.to_le_bytes());
        z.extend(3.0f64.to_le_bytes());
        assert!(wkb_extent(&multi(4, &[z.clone()]), 0, 0).is_err());
        assert_eq!(wkb_extent(&multi(1004, &[z.clone()]), 0, 0), Ok(9 + z.len()));
        // A collection may mix types.
        let gc = multi(7, &[point(0.0, 0.0), polygon()]);
        assert_eq!(wkb_extent(&gc, 0, 0), Ok(gc.len()));
        // Nesting beyond 32 collections.
        let mut deep = point(0.0, 0.0);
        for _ in 0..40 {
            deep = multi(7, &[deep]);
        }
        assert!(wkb_extent(&deep, 0, 0).unwrap_err().contains("nested"));
    }
}
