//! Shapefile (.shp + .dbf, with .prj for the CRS and .cpg for the text encoding; without .cpg
//! the dBase language driver decides, GBK for the Chinese code pages, else UTF-8).

use std::path::Path;

use dbase::FieldValue;
use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::error::{Error, FeatureFault, Result};

/// The text encoding of a shapefile's attributes: from `--encoding`, the .cpg file, or the
/// language driver byte of the .dbf header (`dbf`: the .dbf file's bytes).
pub fn encoding_of(path: &Path, explicit: Option<&str>, dbf: &[u8]) -> Result<&'static encoding_rs::Encoding> {
    let name = path.display().to_string();
    let label = match explicit {
        Some(e) => Some(e.to_string()),
        None => sibling(path, "cpg").and_then(|p| std::fs::read_to_string(p).ok()).map(|s| s.trim().to_string()),
    };
    if let Some(l) = label {
        let l = match l.as_str() {
            "936" | "CP936" | "cp936" => "gbk".to_string(),
            "65001" => "utf-8".to_string(),
            _ => l,
        };
        return encoding_rs::Encoding::for_label(l.as_bytes()).ok_or_else(|| Error::layer(&name, format!("unknown text encoding '{l}' (.cpg or --encoding)")));
    }
    Ok(match dbf.get(29).copied() {
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
fn field_names(bytes: &[u8], enc: &'static encoding_rs::Encoding) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 32;
    while at + 32 <= bytes.len() && bytes[at] != 0x0D {
        let raw = &bytes[at..at + 11];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(11);
        names.push(enc.decode_without_bom_handling(&raw[..end]).0.trim().to_string());
        at += 32;
    }
    names
}

/// The file beside `path` with extension `ext`, in any letter case (`B.DBF` beside `b.shp`).
fn sibling(path: &Path, ext: &str) -> Option<std::path::PathBuf> {
    let exact = path.with_extension(ext);
    if exact.is_file() {
        return Some(exact);
    }
    let stem = path.file_stem()?.to_string_lossy().to_lowercase();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_stem().is_some_and(|s| s.to_string_lossy().to_lowercase() == stem)
                && p.extension().is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(ext))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// A .shp fault in the user's words.
fn shp_fault(e: &shapefile::Error) -> String {
    match e {
        shapefile::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "the file ends inside a shape record: it is truncated".into(),
        shapefile::Error::IoError(io) => io.to_string(),
        shapefile::Error::InvalidFileCode(c) => format!("not a shapefile (its file code is {c}, a .shp starts with 9994)"),
        shapefile::Error::InvalidShapeType(c) => format!("shape type code {c} is not one of the ESRI shape types: the file is corrupt"),
        shapefile::Error::InvalidShapeRecordSize => "a shape record has an impossible size: the file is corrupt".into(),
        shapefile::Error::DbaseError(d) => dbf_fault(d),
        shapefile::Error::MissingDbf => "its .dbf (the attributes) is missing".into(),
        other => other.to_string(),
    }
}

/// A .dbf fault in the user's words, with the record (0-based) and field when known.
fn dbf_fault(e: &dbase::Error) -> String {
    use dbase::ErrorKind as K;
    let what = match e.kind() {
        K::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "the file ends early: it is truncated".to_string(),
        K::IoError(io) => io.to_string(),
        K::ParseFloatError(_) | K::ParseIntError(_) => "a number field holds text that is not a number".into(),
        K::InvalidFieldType(c) => format!("field type code '{}' is not a dBase field type: the file is not a dBase table or is corrupt", c.escape_default()),
        K::MissingMemoFile | K::ErrorOpeningMemoFile(_) => "it has memo fields but their .dbt/.fpt file is missing or unreadable".into(),
        K::UnsupportedCodePage(_) => "its code page is not supported (give --encoding)".into(),
        K::StringDecodeError(_) => "a text field is not in the file's encoding (give --encoding, e.g. gbk)".into(),
        K::Message(m) => m.clone(),
        _ => "the table is corrupt".into(),
    };
    match e.field() {
        Some(f) => format!("record {}, field '{}': {what}", e.record_num(), f.name()),
        None if e.record_num() > 0 => format!("record {}: {what}", e.record_num()),
        None => what,
    }
}

/// The dBase header's record count and the deletion flag of each record, after checking
/// that the file holds every record its header declares.
fn dbf_records(dbf: &Path, bytes: &[u8]) -> Result<Vec<bool>> {
    let name = dbf.display().to_string();
    if bytes.len() < 32 {
        return Err(Error::layer(&name, format!("not a dBase table: {} bytes, shorter than its 32-byte header", bytes.len())));
    }
    const VERSIONS: [u8; 14] = [0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0xCB, 0xF5, 0xFB];
    if !VERSIONS.contains(&bytes[0]) {
        return Err(Error::layer(&name, format!("not a dBase table: its first byte is 0x{:02X}, no dBase version", bytes[0])));
    }
    let records = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let record_len = u16::from_le_bytes([bytes[10], bytes[11]]) as usize;
    if header_len < 33 || header_len > bytes.len() || record_len == 0 {
        return Err(Error::layer(&name, format!("not a dBase table: its header claims {header_len} bytes and records of {record_len} bytes in a file of {} bytes", bytes.len())));
    }
    check_fields(bytes, header_len, record_len).map_err(|m| Error::layer(&name, m))?;
    let needed = records.saturating_mul(record_len).saturating_add(header_len);
    if bytes.len() < needed {
        let whole = bytes.len().saturating_sub(header_len) / record_len;
        return Err(Error::layer(
            &name,
            format!("is truncated: its header declares {records} records of {record_len} bytes ({needed} bytes in all) but the file has {} bytes ({whole} whole records)", bytes.len()),
        ));
    }
    Ok((0..records).map(|i| bytes[header_len + i * record_len] == b'*').collect())
}

/// Checks the field descriptors of a .dbf header before the `dbase` crate reads records with
/// them (it slices each field by its declared length and would index out of range): each
/// binary field is as long as its type, the fields fit in a record, and a Visual FoxPro header
/// holds its 263-byte backlink.
fn check_fields(bytes: &[u8], header_len: usize, record_len: usize) -> std::result::Result<(), String> {
    if matches!(bytes[0], 0x30..=0x32) && header_len < 32 + 1 + 263 {
        return Err(format!("not a dBase table: a Visual FoxPro header of {header_len} bytes cannot hold its 263-byte backlink"));
    }
    let mut used = 1; // the deletion flag
    let mut at = 32;
    while at + 32 <= header_len && bytes[at] != 0x0D {
        let kind = bytes[at + 11];
        let length = bytes[at + 16] as usize;
        let least = match kind {
            b'L' => 1,
            b'I' | b'M' | b'G' | b'P' => 4,
            b'B' | b'Y' | b'T' | b'@' | b'O' => 8,
            _ => 0,
        };
        if length < least {
            let raw = &bytes[at..at + 11];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(11);
            return Err(format!(
                "field {} ('{}', type '{}') is {length} bytes long, shorter than its type's {least}: the table is corrupt",
                (at - 32) / 32,
                String::from_utf8_lossy(&raw[..end]).escape_default(),
                (kind as char).escape_default()
            ));
        }
        used += length;
        at += 32;
    }
    if used > record_len {
        return Err(format!("its fields take {used} bytes but its records are {record_len} bytes long: the table is corrupt"));
    }
    Ok(())
}

/// Checks the records of a .shp before the `shapefile` crate reads them: that crate trusts the
/// counts it reads and would allocate gigabytes for a corrupt point count, or index a part out
/// of range. Every record must lie within the file, have a known shape type, and hold the parts
/// and points it declares. Returns the number of records.
fn check_shp(bytes: &[u8]) -> std::result::Result<usize, String> {
    let be = |at: usize| i32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as i64;
    let le = |at: usize| i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as i64;
    if bytes.len() < 100 {
        return Err(format!("not a shapefile: {} bytes, shorter than its 100-byte header", bytes.len()));
    }
    if be(0) != 9994 {
        return Err(format!("not a shapefile (its file code is {}, a .shp starts with 9994)", be(0)));
    }
    let declared = be(24) * 2;
    if declared < 100 || declared as u64 > bytes.len() as u64 {
        return Err(format!("its header declares {declared} bytes but the file has {}: it is truncated or corrupt", bytes.len()));
    }
    let end = declared as usize;
    let (mut at, mut records) = (100usize, 0usize);
    while at < end {
        if at + 8 > end {
            return Err(format!("shape record {records} is cut off at byte {at}: the file is truncated"));
        }
        let len = be(at + 4) * 2;
        if len < 4 || (at + 8) as i64 + len > end as i64 {
            return Err(format!("shape record {records} at byte {at} declares {len} bytes, beyond the end of the file: it is truncated or corrupt"));
        }
        let c = at + 8;
        let len = len as usize;
        let fits = |need: i64| need <= len as i64;
        let kind = le(c);
        let ok = match kind {
            0 => true,
            1 => fits(20),
            11 | 21 => fits(28),
            8 | 18 | 28 => {
                let n = if fits(40) { le(c + 36) } else { -1 };
                let extra = if kind == 8 { 0 } else { 16 + 8 * n };
                (0..=100_000_000).contains(&n) && fits(40 + 16 * n + extra)
            }
            3 | 5 | 13 | 15 | 23 | 25 | 31 => {
                let (parts, n) = if fits(44) { (le(c + 36), le(c + 40)) } else { (-1, -1) };
                let types = if kind == 31 { 4 * parts } else { 0 };
                let extra = match kind {
                    3 | 5 => 0,
                    23 | 25 => 16 + 8 * n,
                    _ => 16 + 8 * n, // Z values; the optional M values may follow
                };
                let sized = (0..=100_000_000).contains(&parts) && (0..=100_000_000).contains(&n) && fits(44 + 4 * parts + types + 16 * n + extra);
                // Part starts ascend from 0 and stay within the points.
                sized && {
                    let starts: Vec<i64> = (0..parts as usize).map(|p| le(c + 44 + 4 * p)).collect();
                    starts.first().is_none_or(|&s| s == 0) && starts.windows(2).all(|w| w[0] <= w[1]) && starts.last().is_none_or(|&s| s <= n)
                }
            }
            other => return Err(format!("shape record {records} has shape type code {other}, not an ESRI shape type: the file is corrupt")),
        };
        if !ok {
            return Err(format!("shape record {records} (type {kind}) declares more parts or points than its {len} bytes hold, or parts out of order: the file is corrupt"));
        }
        at = c + len;
        records += 1;
    }
    Ok(records)
}

/// Reads a shapefile's shapes and attributes. Records the .dbf marks as deleted are skipped
/// with their shapes, as GIS software does.
pub fn read_shapefile(path: &Path, columns: &[&str], encoding: Option<&str>) -> Result<Layer> {
    let name = path.display().to_string();
    let err = |e: &shapefile::Error| Error::layer(&name, shp_fault(e));
    let Some(dbf_path) = sibling(path, "dbf") else {
        return Err(Error::layer(&name, format!("its .dbf (the attributes) is missing: a shapefile needs {} beside it", path.with_extension("dbf").display())));
    };
    let dbf_name = dbf_path.display().to_string();
    let shp_bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    check_shp(&shp_bytes).map_err(|m| Error::layer(&name, m))?;
    // Read in file order; the .shx (an index of the same records) is not needed.
    let mut shapes = shapefile::ShapeReader::new(std::io::Cursor::new(shp_bytes)).map_err(|e| err(&e))?;
    let bytes = std::fs::read(&dbf_path).map_err(|e| Error::layer(&dbf_name, e.to_string()))?;
    let enc = encoding_of(path, encoding, &bytes)?;
    let deleted = dbf_records(&dbf_path, &bytes)?;
    let decoded_names = field_names(&bytes, enc);
    let mut dbf = dbase::Reader::new_with_encoding(std::io::Cursor::new(bytes), dbase::encoding::EncodingRs::from(enc)).map_err(|e| Error::layer(&dbf_name, dbf_fault(&e)))?;
    let raw_names: Vec<String> = dbf.fields().iter().map(|f| f.name().to_string()).collect();
    let all: Vec<String> = Some(decoded_names).filter(|n| n.len() == raw_names.len()).unwrap_or_else(|| raw_names.clone());
    // The .prj: GCJ-02/BD-09 by name, else the EPSG code PROJ identifies, else the WKT.
    let crs = sibling(path, "prj").and_then(|p| std::fs::read_to_string(p).ok()).filter(|s| !s.trim().is_empty()).map(|wkt| crate::crs::crs_from_wkt(&wkt));
    let shapes: Vec<shapefile::Shape> = shapes.iter_shapes().collect::<std::result::Result<_, _>>().map_err(|e| err(&e))?;
    if shapes.len() != deleted.len() {
        return Err(Error::layer(
            &name,
            format!("has {} shapes but {dbf_name} has {} records: the two files do not belong together, or one is truncated", shapes.len(), deleted.len()),
        ));
    }
    let mut records = dbf.iter_records();
    let mut features = Vec::new();
    for (shape, _) in shapes.into_iter().zip(&deleted).filter(|(_, d)| !**d) {
        let row = features.len();
        let record = match records.next() {
            Some(r) => r.map_err(|e| Error::layer(&dbf_name, dbf_fault(&e)))?,
            None => return Err(Error::layer(&dbf_name, format!("record {row} cannot be read: the table is corrupt"))),
        };
        let geometry = match shape {
            shapefile::Shape::NullShape => None,
            s => Some(geo::Geometry::<f64>::try_from(s).map_err(|e| Error::feature(&name, row.to_string(), FeatureFault::MalformedGeometry { message: e.to_string() }))?),
        };
        let properties: serde_json::Map<String, Value> =
            all.iter().zip(&raw_names).map(|(c, raw)| (c.clone(), record.get(raw).and_then(json_of).unwrap_or(Value::Null))).collect();
        let attributes = columns.iter().map(|c| properties.get(*c).filter(|v| !v.is_null()).cloned()).collect();
        features.push(InputFeature { row, id: Some(FeatureId::Number(row as i64)), geometry, attributes, properties: Some(properties) });
    }
    Ok(Layer { name, crs, features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: all, source_text: None })
}
