//! ESRI Shapefile output, written directly from the specification: `.shp` and `.shx` (one
//! geometry type per file: Point, MultiPoint, PolyLine or Polygon with outer rings clockwise and
//! holes counter-clockwise; null geometries as null shapes), `.dbf` (dBase III, UTF-8 text with
//! a `.cpg` saying so), and `.prj` (ESRI WKT from PROJ; GCJ-02/BD-09 as a WGS84-datum GEOGCS
//! named after them, which the reader recognises).
//!
//! dBase limits: field names of at most 10 bytes (cut and made unique; the renames are
//! reported), text of at most 254 bytes (cut on a character boundary, with a warning), numbers
//! written in decimal with enough digits to read back the same f64. An empty text reads back as
//! null.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use geo::{BoundingRect, Coord, Geometry, LineString, Polygon};

use super::{unique_names, Cell, Column, ColumnKind, OutputLayer, Written};
use crate::crs::{crs_wkt, WktFlavour};
use crate::error::{Error, FeatureFault, Result};

/// Shape types of the files written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShapeKind {
    Null = 0,
    Point = 1,
    PolyLine = 3,
    Polygon = 5,
    MultiPoint = 8,
}

impl ShapeKind {
    fn name(self) -> &'static str {
        match self {
            ShapeKind::Null => "null",
            ShapeKind::Point => "Point",
            ShapeKind::PolyLine => "LineString or MultiLineString",
            ShapeKind::Polygon => "Polygon or MultiPolygon",
            ShapeKind::MultiPoint => "MultiPoint",
        }
    }
}


fn kind_of(g: &Geometry<f64>) -> Option<ShapeKind> {
    Some(match g {
        Geometry::Point(_) => ShapeKind::Point,
        Geometry::MultiPoint(_) => ShapeKind::MultiPoint,
        Geometry::Line(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => ShapeKind::PolyLine,
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) | Geometry::MultiPolygon(_) => ShapeKind::Polygon,
        Geometry::GeometryCollection(_) => return None,
    })
}

/// The one shape type of the layer; an error names the first feature that does not fit.
fn layer_kind(path: &str, layer: &OutputLayer) -> Result<ShapeKind> {
    let mut first: Option<(ShapeKind, String)> = None;
    let has_multipoint = layer.features.iter().any(|f| matches!(f.geometry, Some(Geometry::MultiPoint(_))));
    for (row, f) in layer.features.iter().enumerate() {
        let Some(g) = &f.geometry else { continue };
        let wrong = |expected: String| Error::feature(path, f.label(row), FeatureFault::WrongGeometryType { found: super::simple_type_name(g).into(), expected });
        let Some(mut k) = kind_of(g) else {
            return Err(wrong("a single geometry type (a Shapefile cannot hold a GeometryCollection)".into()));
        };
        if k == ShapeKind::Point && has_multipoint {
            k = ShapeKind::MultiPoint;
        }
        if let Some((k0, label0)) = &first {
            if *k0 != k {
                return Err(wrong(format!(
                    "{} like feature {label0}: a Shapefile holds one geometry type; write points and polygons to separate files, or use gpkg, fgb or geojson",
                    k0.name()
                )));
            }
        } else {
            first = Some((k, f.label(row)));
        }
    }
    Ok(first.map(|f| f.0).unwrap_or(ShapeKind::Null))
}

/// Twice the signed area of a ring (positive when counter-clockwise).
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum()
}

/// The points of a ring, closed, turned clockwise (`clockwise`) or counter-clockwise.
fn oriented(ring: &LineString<f64>, clockwise: bool) -> Vec<Coord<f64>> {
    let mut pts = ring.0.clone();
    if pts.first() != pts.last() {
        if let Some(&p) = pts.first() {
            pts.push(p);
        }
    }
    if (signed_area2(&pts) < 0.0) != clockwise {
        pts.reverse();
    }
    pts
}

/// The parts (rings or lines) of a geometry as written in a PolyLine/Polygon record.
fn parts(g: &Geometry<f64>) -> Vec<Vec<Coord<f64>>> {
    let poly = |p: &Polygon<f64>, out: &mut Vec<Vec<Coord<f64>>>| {
        if p.exterior().0.is_empty() {
            return;
        }
        out.push(oriented(p.exterior(), true));
        for h in p.interiors() {
            out.push(oriented(h, false));
        }
    };
    let mut out = Vec::new();
    match g {
        Geometry::Polygon(p) => poly(p, &mut out),
        Geometry::Rect(r) => poly(&r.to_polygon(), &mut out),
        Geometry::Triangle(t) => poly(&t.to_polygon(), &mut out),
        Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| poly(p, &mut out)),
        Geometry::Line(l) => out.push(vec![l.start, l.end]),
        Geometry::LineString(l) => out.push(l.0.clone()),
        Geometry::MultiLineString(ml) => out.extend(ml.0.iter().map(|l| l.0.clone())),
        _ => {}
    }
    out.retain(|p| !p.is_empty());
    out
}

/// One record's content (shape type and body), little endian as the format wants.
fn record(kind: ShapeKind, g: Option<&Geometry<f64>>) -> Vec<u8> {
    let mut b = Vec::new();
    let empty = || (ShapeKind::Null as i32).to_le_bytes().to_vec();
    let Some(g) = g else { return empty() };
    let bbox = |b: &mut Vec<u8>| {
        let r = g.bounding_rect();
        let (x0, y0, x1, y1) = r.map(|r| (r.min().x, r.min().y, r.max().x, r.max().y)).unwrap_or_default();
        for v in [x0, y0, x1, y1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    };
    match kind {
        ShapeKind::Null => return empty(),
        ShapeKind::Point => {
            let Geometry::Point(p) = g else { return empty() };
            b.extend_from_slice(&(kind as i32).to_le_bytes());
            b.extend_from_slice(&p.x().to_le_bytes());
            b.extend_from_slice(&p.y().to_le_bytes());
        }
        ShapeKind::MultiPoint => {
            let pts: Vec<Coord<f64>> = match g {
                Geometry::Point(p) => vec![p.0],
                Geometry::MultiPoint(mp) => mp.0.iter().map(|p| p.0).collect(),
                _ => Vec::new(),
            };
            if pts.is_empty() {
                return empty();
            }
            b.extend_from_slice(&(kind as i32).to_le_bytes());
            bbox(&mut b);
            b.extend_from_slice(&(pts.len() as i32).to_le_bytes());
            for c in pts {
                b.extend_from_slice(&c.x.to_le_bytes());
                b.extend_from_slice(&c.y.to_le_bytes());
            }
        }
        ShapeKind::PolyLine | ShapeKind::Polygon => {
            let parts = parts(g);
            if parts.is_empty() {
                return empty();
            }
            b.extend_from_slice(&(kind as i32).to_le_bytes());
            bbox(&mut b);
            let n: usize = parts.iter().map(Vec::len).sum();
            b.extend_from_slice(&(parts.len() as i32).to_le_bytes());
            b.extend_from_slice(&(n as i32).to_le_bytes());
            let mut start = 0i32;
            for p in &parts {
                b.extend_from_slice(&start.to_le_bytes());
                start += p.len() as i32;
            }
            for p in &parts {
                for c in p {
                    b.extend_from_slice(&c.x.to_le_bytes());
                    b.extend_from_slice(&c.y.to_le_bytes());
                }
            }
        }
    }
    b
}

/// The 100-byte header of .shp and .shx.
fn main_header(kind: ShapeKind, words: usize, bounds: Option<geo::Rect<f64>>) -> Vec<u8> {
    let mut h = Vec::with_capacity(100);
    h.extend_from_slice(&9994i32.to_be_bytes());
    h.extend_from_slice(&[0u8; 20]);
    h.extend_from_slice(&(words as i32).to_be_bytes());
    h.extend_from_slice(&1000i32.to_le_bytes());
    h.extend_from_slice(&(kind as i32).to_le_bytes());
    let (x0, y0, x1, y1) = bounds.map(|r| (r.min().x, r.min().y, r.max().x, r.max().y)).unwrap_or_default();
    for v in [x0, y0, x1, y1, 0.0, 0.0, 0.0, 0.0] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// A dBase field being written.
struct Field {
    name: String,
    kind: u8,
    width: usize,
    decimals: usize,
}


/// Digits after the decimal point of the shortest text of `x` that reads back as `x`.
fn decimals_of(x: f64) -> usize {
    let s = format!("{x}");
    s.find('.').map(|i| s.len() - i - 1).unwrap_or(0)
}

/// Today as dBase's YY MM DD (years since 1900).
fn today() -> [u8; 3] {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    [(y - 1900).clamp(0, 255) as u8, m as u8, d as u8]
}

/// Writes `layer` as a Shapefile at `path` (.shp) with its .shx, .dbf, .prj (when the CRS is
/// known) and .cpg. Returns the files, the renamed fields and the warnings (text cut).
pub fn write_shapefile(path: &Path, layer: &OutputLayer) -> Result<Written> {
    let name = path.display().to_string();
    let with_ids = super::ids_as_column(layer);
    let layer = with_ids.as_ref().unwrap_or(layer);
    let kind = layer_kind(&name, layer)?;
    let columns = layer.columns();
    let names_in: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let (names, renamed) = unique_names(&names_in, Some(10), &[]);
    if columns.len() > 255 {
        return Err(Error::layer(&name, format!("{} columns: a .dbf holds at most 255", columns.len())));
    }
    let mut warnings = Vec::new();

    // Field definitions from the values.
    let cells: Vec<Vec<Cell>> = layer.features.iter().map(|f| columns.iter().map(|c| c.cell(f)).collect()).collect();
    let mut fields: Vec<Field> = Vec::with_capacity(columns.len());
    for (j, c) in columns.iter().enumerate() {
        let (f, cut_values) = field_of(c, names[j].clone(), &cells, j);
        if cut_values > 0 {
            warnings.push(format!("{name}: {cut_values} values of '{}' cut to 254 bytes (the dBase limit)", c.name));
        }
        fields.push(f);
    }
    let record_len: usize = 1 + fields.iter().map(|f| f.width).sum::<usize>();
    if record_len > 65_535 {
        return Err(Error::layer(&name, format!("records of {record_len} bytes: a .dbf record holds at most 65535")));
    }

    let shp_path = path.with_extension("shp");
    let shx_path = path.with_extension("shx");
    let dbf_path = path.with_extension("dbf");
    let cpg_path = path.with_extension("cpg");
    let prj_path = path.with_extension("prj");
    write_shp_shx(&shp_path, &shx_path, layer, kind, &name)?;
    write_dbf(&dbf_path, layer.features.len(), &fields, &cells, record_len)?;

    std::fs::write(&cpg_path, "UTF-8").map_err(io(&cpg_path))?;
    let mut files = vec![shp_path, shx_path, dbf_path, cpg_path];
    if let Some(crs) = &layer.crs {
        let wkt = crs_wkt(crs, WktFlavour::Esri).map_err(|m| Error::Crs { path: name.clone(), crs: crs.to_string(), message: m })?;
        std::fs::write(&prj_path, wkt).map_err(io(&prj_path))?;
        files.push(prj_path);
    }
    Ok(Written { files, renamed, warnings })
}

/// Turns an I/O error on writing `p` into the crate's error.
fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p, "write", e)
}

/// The dBase field `name` for column `c` (column `j` of `cells`) sized to its values, with the number of text values to cut to 254 bytes.
fn field_of(c: &Column, name: String, cells: &[Vec<Cell>], j: usize) -> (Field, usize) {
    let mut f = Field { name, kind: b'C', width: 1, decimals: 0 };
    let mut cut_values = 0;
    match c.kind {
        ColumnKind::Integer => {
            f.kind = b'N';
            for row in cells {
                if let Cell::Int(i) = row[j] {
                    f.width = f.width.max(i.to_string().len());
                }
            }
        }
        ColumnKind::Real => {
            f.kind = b'N';
            let mut int_width = 1;
            for row in cells {
                if let Cell::Real(x) = row[j] {
                    f.decimals = f.decimals.max(decimals_of(x));
                    int_width = int_width.max(format!("{:.0}", x.trunc()).len());
                }
            }
            f.decimals = f.decimals.min(60);
            f.width = (int_width + 1 + f.decimals).min(254);
            if f.width <= f.decimals + 1 {
                f.decimals = f.width.saturating_sub(2);
            }
        }
        ColumnKind::Bool => f.kind = b'L',
        ColumnKind::Text | ColumnKind::Json => {
            for row in cells {
                if let Cell::Text(t) = &row[j] {
                    if t.len() > 254 {
                        cut_values += 1;
                    }
                    f.width = f.width.max(super::cut_to_bytes(t, 254).len());
                }
            }
        }
    }
    (f, cut_values)
}

/// Writes the .shp and .shx files: one record of shape type `kind` per feature, and their index (`name` names the layer in errors).
fn write_shp_shx(shp_path: &Path, shx_path: &Path, layer: &OutputLayer, kind: ShapeKind, name: &str) -> Result<()> {
    let bounds = layer.bounds();
    let records: Vec<Vec<u8>> = layer.features.iter().map(|f| record(kind, f.geometry.as_ref())).collect();
    let shp_words = 50 + records.iter().map(|r| 4 + r.len() / 2).sum::<usize>();
    if shp_words > i32::MAX as usize {
        return Err(Error::layer(name, "more than 4 GB of shapes: a .shp holds at most 2 GB words"));
    }
    let mut shp = BufWriter::with_capacity(1 << 20, File::create(shp_path).map_err(io(shp_path))?);
    let mut shx = BufWriter::new(File::create(shx_path).map_err(io(shx_path))?);
    shp.write_all(&main_header(kind, shp_words, bounds)).map_err(io(shp_path))?;
    shx.write_all(&main_header(kind, 50 + 4 * records.len(), bounds)).map_err(io(shx_path))?;
    let mut offset = 50usize;
    for (i, r) in records.iter().enumerate() {
        let words = r.len() / 2;
        shp.write_all(&((i + 1) as i32).to_be_bytes()).map_err(io(shp_path))?;
        shp.write_all(&(words as i32).to_be_bytes()).map_err(io(shp_path))?;
        shp.write_all(r).map_err(io(shp_path))?;
        shx.write_all(&(offset as i32).to_be_bytes()).map_err(io(shx_path))?;
        shx.write_all(&(words as i32).to_be_bytes()).map_err(io(shx_path))?;
        offset += 4 + words;
    }
    shp.into_inner().map_err(|e| Error::io(shp_path, "write", e.into_error()))?.sync_all().map_err(io(shp_path))?;
    shx.into_inner().map_err(|e| Error::io(shx_path, "write", e.into_error()))?.sync_all().map_err(io(shx_path))?;
    Ok(())
}

/// The .dbf header of `n_records` records of `record_len` bytes with `fields`.
fn dbf_header(n_records: usize, fields: &[Field], record_len: usize) -> Vec<u8> {
    let header_len = 32 + 32 * fields.len() + 1;
    let mut h = Vec::with_capacity(header_len);
    h.push(0x03);
    h.extend_from_slice(&today());
    h.extend_from_slice(&(n_records as u32).to_le_bytes());
    h.extend_from_slice(&(header_len as u16).to_le_bytes());
    h.extend_from_slice(&(record_len as u16).to_le_bytes());
    h.extend_from_slice(&[0u8; 20]);
    for f in fields {
        let mut n = [0u8; 11];
        n[..f.name.len()].copy_from_slice(f.name.as_bytes());
        h.extend_from_slice(&n);
        h.push(f.kind);
        h.extend_from_slice(&[0u8; 4]);
        h.push(f.width as u8);
        h.push(f.decimals as u8);
        h.extend_from_slice(&[0u8; 14]);
    }
    h.push(0x0D);
    h
}

/// The text of a value in field `f` (before it is cut to the field's width).
fn dbf_text(f: &Field, cell: &Cell) -> String {
    match cell {
        Cell::Null => match f.kind {
            b'L' => "?".into(),
            _ => String::new(),
        },
        Cell::Int(i) => i.to_string(),
        Cell::Real(x) => {
            let s = format!("{x:.prec$}", prec = f.decimals);
            if s.len() > f.width {
                format!("{x:e}")
            } else {
                s
            }
        }
        Cell::Bool(b) => if *b { "T" } else { "F" }.into(),
        Cell::Text(t) => super::cut_to_bytes(t, f.width).to_string(),
    }
}

/// Writes the .dbf file: the header, one record per row of `cells` (numbers right-aligned, the rest left-aligned), the end mark.
fn write_dbf(dbf_path: &Path, n_records: usize, fields: &[Field], cells: &[Vec<Cell>], record_len: usize) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(dbf_path).map_err(io(dbf_path))?);
    w.write_all(&dbf_header(n_records, fields, record_len)).map_err(io(dbf_path))?;
    let mut rec: Vec<u8> = Vec::with_capacity(record_len);
    for row in cells {
        rec.clear();
        rec.push(b' ');
        for (f, cell) in fields.iter().zip(row) {
            let text = dbf_text(f, cell);
            let bytes = super::cut_to_bytes(&text, f.width).as_bytes();
            let pad = f.width - bytes.len();
            if f.kind == b'N' {
                rec.extend(std::iter::repeat_n(b' ', pad));
                rec.extend_from_slice(bytes);
            } else {
                rec.extend_from_slice(bytes);
                rec.extend(std::iter::repeat_n(b' ', pad));
            }
        }
        w.write_all(&rec).map_err(io(dbf_path))?;
    }
    w.write_all(&[0x1A]).map_err(io(dbf_path))?;
    w.into_inner().map_err(|e| Error::io(dbf_path, "write", e.into_error()))?.sync_all().map_err(io(dbf_path))?;
    Ok(())
}
