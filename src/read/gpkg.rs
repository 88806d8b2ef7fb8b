//! GeoPackage (SQLite, bundled): the first feature table (or a named one), geometries from the
//! GeoPackage blob (header + WKB), the CRS from `gpkg_spatial_ref_sys`.

use std::path::Path;

use geo_traits::to_geo::ToGeoGeometry;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::crs::CrsSpec;
use crate::offset::OffsetCrs;
use crate::error::{Error, FeatureFault, Result};

/// Decodes a GeoPackage geometry blob (None for an empty geometry).
pub fn decode_blob(blob: &[u8]) -> std::result::Result<Option<geo::Geometry<f64>>, String> {
    if blob.len() < 8 || &blob[0..2] != b"GP" {
        return Err("not a GeoPackage geometry blob (no 'GP' magic)".into());
    }
    let flags = blob[3];
    if flags & 0b1_0000 != 0 {
        return Ok(None);
    }
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        e => return Err(format!("invalid envelope code {e}")),
    };
    let start = 8 + envelope;
    if blob.len() <= start {
        return Err("geometry blob shorter than its header".into());
    }
    let wkb = wkb::reader::read_wkb(&blob[start..]).map_err(|e| format!("invalid WKB: {e}"))?;
    wkb.try_to_geometry().map(Some).ok_or_else(|| "unsupported WKB geometry".into())
}

fn sql_err(name: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::layer(name, format!("GeoPackage: {e}"))
}

/// Reads the feature table `layer` (default: the first in `gpkg_geometry_columns`).
pub fn read_gpkg(path: &Path, columns: &[&str], layer: Option<&str>) -> Result<Layer> {
    let name = path.display().to_string();
    let err = sql_err(&name);
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(&err)?;
    let tables: Vec<(String, String, i64)> = db
        .prepare("SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns ORDER BY table_name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(|e| Error::layer(&name, format!("not a GeoPackage with feature tables ({e})")))?;
    let (table, geom_col, srs_id) = match layer {
        Some(l) => tables.iter().find(|t| t.0 == l).cloned().ok_or_else(|| {
            Error::layer(&name, format!("has no layer '{l}' (layers: {})", tables.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(", ")))
        })?,
        None => tables.first().cloned().ok_or_else(|| Error::layer(&name, "has no feature table"))?,
    };
    let crs = db
        .query_row("SELECT organization, organization_coordsys_id, definition, srs_name FROM gpkg_spatial_ref_sys WHERE srs_id = ?1", [srs_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
        })
        .ok()
        .and_then(|(org, code, def, srs_name)| {
            if org.eq_ignore_ascii_case("EPSG") && code > 0 {
                Some(CrsSpec::Epsg(code as u32))
            } else if let Some(o) = srs_name.as_deref().filter(|_| org.eq_ignore_ascii_case("wangge")).and_then(OffsetCrs::parse) {
                // GCJ-02 / BD-09 as wangge writes them.
                Some(CrsSpec::Offset(o))
            } else if def.trim().is_empty() || def.trim() == "undefined" {
                None
            } else {
                Some(crate::crs::crs_from_wkt(&def))
            }
        });
    let info: Vec<(String, bool, String)> = db
        .prepare(&format!("PRAGMA table_info(\"{}\")", table.replace('"', "\"\"")))
        .and_then(|mut s| s.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)? > 0, r.get::<_, Option<String>>(2)?.unwrap_or_default())))?.collect())
        .map_err(&err)?;
    let fid_col = info.iter().find(|(_, pk, _)| *pk).map(|(n, _, _)| n.clone());
    let attr_info: Vec<&(String, bool, String)> = info.iter().filter(|(n, pk, _)| !pk && *n != geom_col).collect();
    let attr_cols: Vec<String> = attr_info.iter().map(|(n, _, _)| n.clone()).collect();
    // BOOLEAN columns hold 0/1: read them as booleans.
    let boolean: Vec<bool> = attr_info.iter().map(|(_, _, t)| t.eq_ignore_ascii_case("BOOLEAN")).collect();
    let wanted: Vec<Option<usize>> = columns.iter().map(|c| attr_cols.iter().position(|a| a == c)).collect();
    let select: Vec<String> = std::iter::once(fid_col.clone().unwrap_or_else(|| "rowid".into()))
        .chain(std::iter::once(geom_col.clone()))
        .chain(attr_cols.iter().cloned())
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    let sql = format!("SELECT {} FROM \"{}\"", select.join(", "), table.replace('"', "\"\""));
    let mut stmt = db.prepare(&sql).map_err(&err)?;
    let mut rows = stmt.query([]).map_err(&err)?;
    let mut features = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let row = features.len();
        let fid: i64 = r.get(0).map_err(&err)?;
        let geometry = match r.get_ref(1).map_err(&err)? {
            ValueRef::Null => None,
            ValueRef::Blob(b) => decode_blob(b).map_err(|m| Error::feature(&name, fid.to_string(), FeatureFault::MalformedGeometry { message: m }))?,
            _ => return Err(Error::feature(&name, fid.to_string(), FeatureFault::MalformedGeometry { message: "geometry column holds no blob".into() })),
        };
        let value = |i: usize| -> Result<Option<Value>> {
            Ok(match r.get_ref(2 + i).map_err(&err)? {
                ValueRef::Null => None,
                ValueRef::Integer(v) if boolean[i] => Some(Value::from(v != 0)),
                ValueRef::Integer(v) => Some(Value::from(v)),
                ValueRef::Real(v) => Some(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)),
                ValueRef::Text(t) => Some(Value::from(String::from_utf8_lossy(t).into_owned())),
                ValueRef::Blob(_) => None,
            })
        };
        let mut properties = serde_json::Map::new();
        for (i, c) in attr_cols.iter().enumerate() {
            properties.insert(c.clone(), value(i)?.unwrap_or(Value::Null));
        }
        let attributes = wanted.iter().map(|w| w.and_then(|i| properties.get(&attr_cols[i]).filter(|v| !v.is_null()).cloned())).collect();
        features.push(InputFeature { row, id: Some(FeatureId::Number(fid)), geometry, attributes, properties: Some(properties) });
    }
    Ok(Layer { name: name.clone(), crs, features, requested: columns.iter().map(|c| c.to_string()).collect(), columns: attr_cols, source_text: None })
}

/// Feature tables of a GeoPackage: (name, features, srs id).
pub fn gpkg_layers(path: &Path) -> Result<Vec<(String, i64, i64)>> {
    let name = path.display().to_string();
    let err = sql_err(&name);
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&err)?;
    let tables: Vec<(String, i64)> = db
        .prepare("SELECT table_name, srs_id FROM gpkg_geometry_columns ORDER BY table_name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(&err)?;
    tables
        .into_iter()
        .map(|(t, srs)| {
            let n: i64 = db.query_row(&format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")), [], |r| r.get(0)).map_err(&err)?;
            Ok((t, n, srs))
        })
        .collect()
}
