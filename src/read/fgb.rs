//! FlatGeobuf: features in file order, typed properties, the CRS from the header.

use std::path::Path;

use flatgeobuf::{ColumnType, FallibleStreamingIterator, FgbReader};
use geozero::ToGeo;
use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::crs::CrsSpec;
use crate::error::{Error, FeatureFault, Result};

/// Decodes one feature's property buffer (column index, then the value in the column's type)
/// with every length checked: the `flatgeobuf` crate's own decoder indexes past the buffer on
/// a corrupt length and panics. Strings, JSON and dates must be UTF-8; binary values are null.
fn decode_properties(bytes: &[u8], columns: &[(String, ColumnType)]) -> std::result::Result<serde_json::Map<String, Value>, String> {
    let mut out = serde_json::Map::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let end = at.checked_add(n).filter(|&e| e <= bytes.len()).ok_or_else(|| format!("a property value runs past the end of its buffer ({n} bytes at {at} of {})", bytes.len()))?;
        let v = &bytes[*at..end];
        *at = end;
        Ok(v)
    };
    let n = |b: &[u8]| -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        a
    };
    // A trailing byte after the last value is tolerated (some writers leave one).
    while at + 1 < bytes.len() {
        let c = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
        at += 2;
        let (name, kind) = columns.get(c).ok_or_else(|| format!("a property names column {c} of {}", columns.len()))?;
        let v = match *kind {
            ColumnType::Byte => Value::from(take(&mut at, 1)?[0] as i8),
            ColumnType::UByte => Value::from(take(&mut at, 1)?[0]),
            ColumnType::Bool => Value::from(take(&mut at, 1)?[0] != 0),
            ColumnType::Short => Value::from(i16::from_le_bytes([take(&mut at, 2)?[0], bytes[at - 1]])),
            ColumnType::UShort => Value::from(u16::from_le_bytes([take(&mut at, 2)?[0], bytes[at - 1]])),
            ColumnType::Int => Value::from(i32::from_le_bytes(n(take(&mut at, 4)?)[..4].try_into().unwrap_or([0; 4]))),
            ColumnType::UInt => Value::from(u32::from_le_bytes(n(take(&mut at, 4)?)[..4].try_into().unwrap_or([0; 4]))),
            ColumnType::Long => Value::from(i64::from_le_bytes(n(take(&mut at, 8)?))),
            ColumnType::ULong => Value::from(u64::from_le_bytes(n(take(&mut at, 8)?))),
            ColumnType::Float => serde_json::Number::from_f64(f32::from_le_bytes(n(take(&mut at, 4)?)[..4].try_into().unwrap_or([0; 4])) as f64).map_or(Value::Null, Value::Number),
            ColumnType::Double => serde_json::Number::from_f64(f64::from_le_bytes(n(take(&mut at, 8)?))).map_or(Value::Null, Value::Number),
            ColumnType::String | ColumnType::Json | ColumnType::DateTime | ColumnType::Binary => {
                let len = u32::from_le_bytes(n(take(&mut at, 4)?)[..4].try_into().unwrap_or([0; 4])) as usize;
                let raw = take(&mut at, len)?;
                if *kind == ColumnType::Binary {
                    Value::Null
                } else {
                    Value::from(std::str::from_utf8(raw).map_err(|_| format!("column '{name}' holds text that is not UTF-8"))?)
                }
            }
            other => return Err(format!("column '{name}' has an unknown type code {}", other.0)),
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// Checks the layout of a FlatGeobuf file before its features are decoded (the `flatgeobuf`
/// crate sizes its buffers from the lengths it reads, and asserts on a bad index node size):
/// the index fits in the file and every feature's length prefix stays within it. Returns the
/// feature count the header declares (0: unknown).
fn check_layout(bytes: &[u8], features: u64, node_size: u16) -> std::result::Result<u64, String> {
    let header = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64;
    let len = bytes.len() as u64;
    // A feature takes at least 8 bytes (its length and a table); the index node at least 40.
    if features > len / 8 {
        return Err(format!("its header declares {features} features, more than its {len} bytes can hold: the file is corrupt"));
    }
    let index = if node_size > 0 && features > 0 {
        if node_size < 2 {
            return Err(format!("its header declares an index node size of {node_size} (at least 2): the file is corrupt"));
        }
        let (mut n, mut nodes) = (features, features);
        while n > 1 {
            n = n.div_ceil(node_size as u64);
            nodes += n;
        }
        nodes * 40
    } else {
        0
    };
    let mut at = 12 + header + index;
    if at > len {
        return Err(format!("the file ends inside its header or spatial index ({len} bytes, {at} expected): it is truncated"));
    }
    let mut count = 0u64;
    while at < len {
        if at + 4 > len {
            return Err(format!("feature {count} is cut off: the file is truncated"));
        }
        let i = at as usize;
        let size = u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as u64;
        if at + 4 + size > len {
            return Err(format!("feature {count} declares {size} bytes, beyond the end of the file: it is truncated or corrupt"));
        }
        at += 4 + size;
        count += 1;
    }
    if features > 0 && count != features {
        return Err(format!("its header declares {features} features but the file holds {count}: it is truncated or corrupt"));
    }
    Ok(features)
}

/// Checks one geometry's arrays before it is decoded (the decoder indexes them without
/// checking): an even number of xy values, z/m arrays as long as the points, ring ends that
/// ascend within the points, parts checked alike (8 levels at most).
fn check_geometry(g: &flatgeobuf::Geometry, depth: usize) -> std::result::Result<(), String> {
    if depth > 8 {
        return Err("geometry parts nested more than 8 deep".into());
    }
    let xy = g.xy().map(|v| v.len()).unwrap_or(0);
    if xy % 2 != 0 {
        return Err(format!("{xy} xy values (an odd number)"));
    }
    let points = xy / 2;
    for (what, len) in [("z", g.z().map(|v| v.len())), ("m", g.m().map(|v| v.len())), ("t", g.t().map(|v| v.len())), ("tm", g.tm().map(|v| v.len()))] {
        if let Some(len) = len.filter(|&l| l < points) {
            return Err(format!("{len} {what} values for {points} points"));
        }
    }
    if let Some(ends) = g.ends() {
        let mut previous = 0u32;
        for end in ends.iter() {
            if end < previous || end as usize > points {
                return Err(format!("a ring or part ends at point {end}, outside its {points} points or before the previous end"));
            }
            previous = end;
        }
    }
    if let Some(parts) = g.parts() {
        for part in parts.iter() {
            check_geometry(&part, depth + 1)?;
        }
    }
    Ok(())
}

/// Reads a FlatGeobuf file.
pub fn read_fgb(path: &Path, columns: &[&str]) -> Result<Layer> {
    let name = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| Error::layer(&name, format!("FlatGeobuf: {e}"));
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let reader = FgbReader::open(std::io::Cursor::new(bytes.as_slice())).map_err(|e| err(&e))?;
    let header = reader.header();
    let declared = check_layout(&bytes, header.features_count(), header.index_node_size()).map_err(|m| Error::layer(&name, m))?;
    let typed: Vec<(String, ColumnType)> = header.columns().map(|cs| cs.iter().map(|c| (c.name().to_string(), c.type_())).collect()).unwrap_or_default();
    let all: Vec<String> = typed.iter().map(|(n, _)| n.clone()).collect();
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
            Some(g) => {
                let malformed = |message: String| Error::feature(&name, row.to_string(), FeatureFault::MalformedGeometry { message });
                check_geometry(&g, 0).map_err(malformed)?;
                Some(f.to_geo().map_err(|e| malformed(e.to_string()))?)
            }
        };
        let bytes = f.fbs_feature().properties().map(|p| p.bytes()).unwrap_or(&[]);
        let properties = decode_properties(bytes, &typed).map_err(|m| Error::feature(&name, row.to_string(), FeatureFault::CorruptAttributes { message: m }))?;
        let attributes = columns.iter().map(|k| properties.get(*k).filter(|v| !v.is_null()).cloned()).collect();
        features.push(InputFeature { row, id: Some(FeatureId::Number(row as i64)), geometry, attributes, properties: Some(properties) });
    }
    if declared > 0 && features.len() as u64 != declared {
        return Err(Error::layer(&name, format!("its header declares {declared} features but {} were read: the file is truncated or corrupt", features.len())));
    }
    Ok(Layer { name, crs, features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: all, source_text: None })
}
