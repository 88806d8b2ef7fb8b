//! FlatGeobuf output with the `flatgeobuf` crate's writer: typed columns (Long, Double,
//! String, Bool, Json), the CRS (EPSG code with its WKT; GCJ-02/BD-09 by name with a WGS84-datum
//! WKT) and a packed Hilbert R-tree index (features are then stored in index order, as GDAL
//! does; without an index when some geometry is null, which the index cannot hold).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::Geometry;
use geozero::{ColumnValue, FeatureProcessor, GeozeroDatasource, GeozeroGeometry};

use super::{ids_as_column, Cell, ColumnKind, OutputLayer, Written};
use crate::crs::{crs_wkt, identify_epsg, CrsSpec, WktFlavour};
use crate::error::{Error, FeatureFault, Result};

/// One feature handed to the writer: its geometry (if any) and its non-null values.
struct Feature<'a> {
    geometry: Option<&'a Geometry<f64>>,
    values: Vec<(usize, &'a str, Cell)>,
}

impl GeozeroDatasource for Feature<'_> {
    fn process<P: FeatureProcessor>(&mut self, p: &mut P) -> geozero::error::Result<()> {
        if let Some(g) = self.geometry {
            g.process_geom(p)?;
        }
        for (i, name, cell) in &self.values {
            let v = match cell {
                Cell::Null => continue,
                Cell::Int(x) => ColumnValue::Long(*x),
                Cell::Real(x) => ColumnValue::Double(*x),
                Cell::Bool(b) => ColumnValue::Bool(*b),
                Cell::Text(t) => ColumnValue::String(t),
            };
            p.property(*i, name, &v)?;
        }
        Ok(())
    }
}

fn geometry_type(g: &Geometry<f64>) -> GeometryType {
    match g {
        Geometry::Point(_) => GeometryType::Point,
        Geometry::Line(_) | Geometry::LineString(_) => GeometryType::LineString,
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => GeometryType::Polygon,
        Geometry::MultiPoint(_) => GeometryType::MultiPoint,
        Geometry::MultiLineString(_) => GeometryType::MultiLineString,
        Geometry::MultiPolygon(_) => GeometryType::MultiPolygon,
        Geometry::GeometryCollection(_) => GeometryType::GeometryCollection,
    }
}


/// Writes `layer` as FlatGeobuf at `path` (replacing a file there). Feature ids that are not
/// already a column are kept in an `id` column.
pub fn write_fgb(path: &Path, layer: &OutputLayer) -> Result<Written> {
    let name = path.display().to_string();
    let err = |e: &dyn std::fmt::Display| Error::layer(&name, format!("FlatGeobuf: {e}"));
    let with_ids = ids_as_column(layer);
    let layer = with_ids.as_ref().unwrap_or(layer);
    let columns = layer.columns();

    let mut types: Vec<GeometryType> = layer.features.iter().filter_map(|f| f.geometry.as_ref()).map(geometry_type).collect();
    types.sort_unstable_by_key(|t| t.0);
    types.dedup();
    let dataset_type = match types.as_slice() {
        [one] => *one,
        _ => GeometryType::Unknown,
    };
    let any_null = layer.features.iter().any(|f| f.geometry.is_none());

    // The CRS: an EPSG code (with its WKT), or a name and WKT.
    let (code, crs_name, wkt): (i32, Option<String>, Option<String>) = match &layer.crs {
        None => (0, None, None),
        Some(CrsSpec::Crs84) | Some(CrsSpec::Epsg(4326)) => (4326, None, crs_wkt(&CrsSpec::Epsg(4326), WktFlavour::Ogc1).ok()),
        Some(c @ CrsSpec::Epsg(e)) => (*e as i32, None, Some(crs_wkt(c, WktFlavour::Ogc1).map_err(|m| Error::Crs { path: name.clone(), crs: c.to_string(), message: m })?)),
        Some(c @ CrsSpec::Offset(o)) => (0, Some(o.name().to_string()), crs_wkt(c, WktFlavour::Ogc1).ok()),
        Some(c @ CrsSpec::Definition(d)) => match identify_epsg(d) {
            Some(e) => (e as i32, None, crs_wkt(&CrsSpec::Epsg(e), WktFlavour::Ogc1).ok()),
            None => (0, crate::crs::wkt_name(d).map(str::to_string), Some(crs_wkt(c, WktFlavour::Ogc1).unwrap_or_else(|_| d.clone()))),
        },
    };
    let options = FgbWriterOptions {
        write_index: !any_null && !layer.features.is_empty(),
        detect_type: false,
        promote_to_multi: false,
        crs: FgbCrs {
            org: if code > 0 { Some("EPSG") } else { None },
            code,
            name: crs_name.as_deref(),
            description: crs_name.as_deref(),
            wkt: wkt.as_deref(),
            code_string: None,
        },
        ..Default::default()
    };
    let mut fgb = FgbWriter::create_with_options(&layer.name, dataset_type, options).map_err(|e| err(&e))?;
    for c in &columns {
        let t = match c.kind {
            ColumnKind::Integer => ColumnType::Long,
            ColumnKind::Real => ColumnType::Double,
            ColumnKind::Bool => ColumnType::Bool,
            ColumnKind::Text => ColumnType::String,
            ColumnKind::Json => ColumnType::Json,
        };
        fgb.add_column(&c.name, t, |_, col| col.nullable = true);
    }
    for (row, f) in layer.features.iter().enumerate() {
        let g = f.geometry.as_ref().map(super::simple_geometry);
        let values = columns.iter().enumerate().map(|(i, c)| (i, c.name.as_str(), c.cell(f))).collect();
        fgb.add_feature(Feature { geometry: g.as_deref(), values })
            .map_err(|e| Error::feature(&name, f.label(row), FeatureFault::MalformedGeometry { message: format!("FlatGeobuf: {e}") }))?;
    }
    let result = (|| -> std::result::Result<(), String> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(|e| e.to_string())?);
        fgb.write(&mut w).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())?;
        w.into_inner().map_err(|e| e.to_string())?.sync_all().map_err(|e| e.to_string())
    })();
    result.map_err(|m| Error::io(path, "write", std::io::Error::other(m)))?;
    Ok(Written { files: vec![path.to_path_buf()], renamed: Vec::new(), warnings: Vec::new() })
}
