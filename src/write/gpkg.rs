//! GeoPackage output (OGC GeoPackage 1.2, SQLite written by path): one feature table per file
//! with `gpkg_spatial_ref_sys` (the mandatory -1/0/4326 rows plus the layer's CRS, with its WKT
//! from PROJ), `gpkg_contents`, `gpkg_geometry_columns`, and geometries as GeoPackage blobs
//! ('GP' header with srs_id and envelope, then little-endian WKB). All rows go in one
//! transaction.
//!
//! GCJ-02 and BD-09, which have no EPSG code, get srs_id 990002 / 990009 with organization
//! `wangge` and a WGS84-datum geographic WKT named after them; the reader maps them back.

use std::path::Path;

use geo::{BoundingRect, Geometry};
use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use serde_json::Value;

use super::{unique_names, Cell, ColumnKind, OutputLayer, Written};
use crate::crs::{crs_wkt, identify_epsg, CrsSpec, WktFlavour};
use crate::error::{Error, Result};
use crate::offset::OffsetCrs;

const WGS84_WKT: &str = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],AUTHORITY[\"EPSG\",\"4326\"]]";

/// srs_id of the GCJ-02 rows written by wangge (organization `wangge`).
pub const GCJ02_SRS_ID: i64 = 990002;
/// srs_id of the BD-09 rows written by wangge (organization `wangge`).
pub const BD09_SRS_ID: i64 = 990009;
/// srs_id of a CRS given by a definition PROJ cannot tie to an EPSG code.
const CUSTOM_SRS_ID: i64 = 100000;

/// One row of `gpkg_spatial_ref_sys`.
struct SrsRow {
    name: String,
    id: i64,
    org: String,
    code: i64,
    definition: String,
    description: String,
}

fn srs_row(crs: Option<&CrsSpec>, path: &str) -> Result<SrsRow> {
    let crs_err = |c: &CrsSpec, m: String| Error::Crs { path: path.into(), crs: c.to_string(), message: m };
    let epsg = |code: u32, c: &CrsSpec| -> Result<SrsRow> {
        let definition = crs_wkt(&CrsSpec::Epsg(code), WktFlavour::Ogc1).map_err(|m| crs_err(c, m))?;
        let name = crate::crs::wkt_name(&definition).unwrap_or("").to_string();
        Ok(SrsRow { name, id: code as i64, org: "EPSG".into(), code: code as i64, definition, description: String::new() })
    };
    match crs {
        None => Ok(SrsRow { name: "Undefined cartesian SRS".into(), id: -1, org: "NONE".into(), code: -1, definition: "undefined".into(), description: "undefined cartesian coordinate reference system".into() }),
        Some(CrsSpec::Crs84) | Some(CrsSpec::Epsg(4326)) => Ok(wgs84_row()),
        Some(c @ CrsSpec::Epsg(code)) => epsg(*code, c),
        Some(c @ CrsSpec::Offset(o)) => {
            let id = match o {
                OffsetCrs::Gcj02 => GCJ02_SRS_ID,
                OffsetCrs::Bd09 => BD09_SRS_ID,
            };
            Ok(SrsRow {
                name: o.name().into(),
                id,
                org: "wangge".into(),
                code: id,
                definition: crs_wkt(c, WktFlavour::Ogc1).map_err(|m| crs_err(c, m))?,
                description: format!("{}: WGS84 longitude, latitude shifted by the public {} algorithm", o.name(), o.name()),
            })
        }
        Some(c @ CrsSpec::Definition(d)) => match identify_epsg(d) {
            Some(code) => epsg(code, c),
            None => {
                let definition = crs_wkt(c, WktFlavour::Ogc1).unwrap_or_else(|_| d.clone());
                let name = crate::crs::wkt_name(&definition).unwrap_or("custom").to_string();
                Ok(SrsRow { name, id: CUSTOM_SRS_ID, org: "NONE".into(), code: CUSTOM_SRS_ID, definition, description: String::new() })
            }
        },
    }
}

fn wgs84_row() -> SrsRow {
    SrsRow { name: "WGS 84 geodetic".into(), id: 4326, org: "EPSG".into(), code: 4326, definition: WGS84_WKT.into(), description: "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid".into() }
}

/// Encodes a geometry as a GeoPackage blob: 'GP', version 0, flags (little endian, xy envelope
/// except for points, empty bit), srs_id, envelope (minx, maxx, miny, maxy), WKB.
pub fn encode_blob(g: &Geometry<f64>, srs_id: i32) -> std::result::Result<Vec<u8>, String> {
    let g = super::simple_geometry(g);
    let bbox = if matches!(*g, Geometry::Point(_)) { None } else { g.bounding_rect() };
    let empty = g.bounding_rect().is_none();
    let mut flags = 0b0000_0001u8; // little endian
    if bbox.is_some() {
        flags |= 1 << 1;
    }
    if empty {
        flags |= 1 << 4;
    }
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(b"GP");
    b.push(0);
    b.push(flags);
    b.extend_from_slice(&srs_id.to_le_bytes());
    if let Some(r) = bbox {
        for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    wkb::writer::write_geometry(&mut b, &*g, &wkb::writer::WriteOptions { endianness: wkb::Endianness::LittleEndian }).map_err(|e| format!("cannot encode the geometry as WKB: {e}"))?;
    Ok(b)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Writes `layer` as a GeoPackage at `path` (replacing a file there), table named after the
/// layer. Integer feature ids that are unique become the fids; other ids are kept in an `id`
/// text column.
pub fn write_gpkg(path: &Path, layer: &OutputLayer) -> Result<Written> {
    write_gpkg_layers(path, &[layer])
}

/// Writes `layers` as the feature tables of one GeoPackage at `path` (replaced when it exists),
/// each with its own name, CRS and columns.
pub fn write_gpkg_layers(path: &Path, layers: &[&OutputLayer]) -> Result<Written> {
    let name = path.display().to_string();
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, "replace", e))?;
    }
    let sql_err = |e: rusqlite::Error| Error::layer(&name, format!("GeoPackage: {e}"));
    let mut written = Written { files: vec![path.to_path_buf()], ..Written::default() };
    let mut db = Connection::open(path).map_err(&sql_err)?;
    db.execute_batch(
        "PRAGMA application_id = 1196444487;
         PRAGMA user_version = 10200;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
         CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT uk_gc_table_name UNIQUE (table_name), CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));",
    )
    .map_err(&sql_err)?;
    let tx = db.transaction().map_err(&sql_err)?;
    let mut srs_ids: Vec<i32> = Vec::new();
    let mut rows = vec![
        SrsRow { name: "Undefined cartesian SRS".into(), id: -1, org: "NONE".into(), code: -1, definition: "undefined".into(), description: "undefined cartesian coordinate reference system".into() },
        SrsRow { name: "Undefined geographic SRS".into(), id: 0, org: "NONE".into(), code: 0, definition: "undefined".into(), description: "undefined geographic coordinate reference system".into() },
        wgs84_row(),
    ];
    for layer in layers {
        let srs = srs_row(layer.crs.as_ref(), &name)?;
        srs_ids.push(srs.id as i32);
        if !rows.iter().any(|r| r.id == srs.id) {
            rows.push(srs);
        }
    }
    for r in &rows {
        tx.execute(
            "INSERT INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, definition, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![r.name, r.id, r.org, r.code, r.definition, r.description],
        )
        .map_err(&sql_err)?;
    }
    for (layer, &srs_id) in layers.iter().zip(&srs_ids) {
        write_table(&tx, layer, srs_id, &name, &mut written)?;
    }
    tx.commit().map_err(&sql_err)?;
    db.close().map_err(|(_, e)| sql_err(e))?;
    Ok(written)
}

/// Adds `layer` as a feature table (its contents and geometry column rows, the table, the rows).
fn write_table(tx: &rusqlite::Transaction, layer: &OutputLayer, srs_id: i32, name: &str, written: &mut Written) -> Result<()> {
    let sql_err = |e: rusqlite::Error| Error::layer(name, format!("GeoPackage: {e}"));
    let columns = layer.columns();
    // Feature ids: unique integers become fids; others go to a text column.
    let int_ids: Option<Vec<i64>> = layer.features.iter().map(|f| f.id.as_ref().and_then(Value::as_i64)).collect();
    let fids: Option<Vec<i64>> = int_ids.filter(|ids| {
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        ids.iter().all(|i| seen.insert(*i))
    });
    let keep_ids = fids.is_none() && layer.features.iter().any(|f| f.id.is_some());
    // Column names: distinct ignoring case, and distinct from the fid and geometry columns.
    let lower: Vec<String> = columns.iter().map(|c| c.name.to_ascii_lowercase()).collect();
    let free = |options: &[&'static str]| options.iter().copied().find(|o| !lower.iter().any(|l| l == o)).unwrap_or(options[options.len() - 1]);
    let fid_col = free(&["fid", "ogc_fid", "wangge_fid"]);
    let geom_col = free(&["geom", "geometry", "wangge_geom"]);
    let mut names_in: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    if keep_ids {
        names_in.push("id");
    }
    let (names, renamed) = unique_names(&names_in, None, &[fid_col, geom_col]);
    let shown = if layer.name.is_empty() { name.to_string() } else { format!("{name} (layer {})", layer.name) };
    if keep_ids {
        let id_col = names.last().cloned().unwrap_or_default();
        written.warnings.push(format!("{shown}: feature ids are not unique integers: kept in column '{id_col}'"));
    }
    // The id column is not a property: its name is reported by the warning above.
    let synthetic = if keep_ids { names.last().cloned() } else { None };
    written.renamed.extend(renamed.into_iter().filter(|(_, to)| Some(to) != synthetic.as_ref()));
    let mut kinds: Vec<&str> = layer.features.iter().filter_map(|f| f.geometry.as_ref()).map(super::simple_type_name).collect();
    kinds.sort_unstable();
    kinds.dedup();
    // gpkg_geometry_columns writes the simple-features names in capitals.
    let geometry_type = match kinds.as_slice() {
        [one] => one.to_uppercase(),
        _ => "GEOMETRY".to_string(),
    };
    let (minx, miny, maxx, maxy) = match layer.bounds() {
        Some(b) => (Some(b.min().x), Some(b.min().y), Some(b.max().x), Some(b.max().y)),
        None => (None, None, None, None),
    };
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id) VALUES (?1, 'features', ?1, '', ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![layer.name, minx, miny, maxx, maxy, srs_id],
    )
    .map_err(&sql_err)?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) VALUES (?1, ?2, ?3, ?4, 0, 0)",
        rusqlite::params![layer.name, geom_col, geometry_type, srs_id],
    )
    .map_err(&sql_err)?;
    let mut defs = vec![format!("{} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", quote(fid_col)), format!("{} {geometry_type}", quote(geom_col))];
    for (i, n) in names.iter().enumerate() {
        let t = match columns.get(i).map(|c| c.kind) {
            Some(ColumnKind::Integer) => "INTEGER",
            Some(ColumnKind::Real) => "REAL",
            Some(ColumnKind::Bool) => "BOOLEAN",
            _ => "TEXT",
        };
        defs.push(format!("{} {t}", quote(n)));
    }
    tx.execute_batch(&format!("CREATE TABLE {} ({});", quote(&layer.name), defs.join(", "))).map_err(&sql_err)?;
    let placeholders: Vec<String> = (1..=names.len() + 2).map(|i| format!("?{i}")).collect();
    let cols: Vec<String> = [fid_col, geom_col].iter().map(|c| quote(c)).chain(names.iter().map(|n| quote(n))).collect();
    let mut insert = tx.prepare(&format!("INSERT INTO {} ({}) VALUES ({})", quote(&layer.name), cols.join(", "), placeholders.join(", "))).map_err(&sql_err)?;
    let mut values: Vec<Sql> = Vec::with_capacity(names.len() + 2);
    for (row, f) in layer.features.iter().enumerate() {
        values.clear();
        values.push(Sql::Integer(fids.as_ref().map(|ids| ids[row]).unwrap_or(row as i64 + 1)));
        values.push(match &f.geometry {
            None => Sql::Null,
            Some(g) => Sql::Blob(encode_blob(g, srs_id).map_err(|m| Error::feature(name, f.label(row), crate::error::FeatureFault::MalformedGeometry { message: m }))?),
        });
        for c in &columns {
            values.push(match c.cell(f) {
                Cell::Null => Sql::Null,
                Cell::Int(i) => Sql::Integer(i),
                Cell::Real(r) => Sql::Real(r),
                Cell::Bool(b) => Sql::Integer(b as i64),
                Cell::Text(t) => Sql::Text(t),
            });
        }
        if keep_ids {
            values.push(match &f.id {
                None => Sql::Null,
                Some(Value::String(s)) => Sql::Text(s.clone()),
                Some(v) => Sql::Text(v.to_string()),
            });
        }
        insert.execute(rusqlite::params_from_iter(values.iter())).map_err(&sql_err)?;
    }
    Ok(())
}
