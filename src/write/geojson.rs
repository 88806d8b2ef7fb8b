//! GeoJSON output: the fast path of a partition run (GeoJSON inputs are copied from their
//! original text, byte for byte, with `grid_id` added), and any [`OutputLayer`] as a
//! FeatureCollection or as line-delimited GeoJSON (one feature per line).

use std::io::Write;
use std::path::Path;

use geo::{LineString, MultiPolygon};
use serde_json::Value;

use super::{grid_properties, OutputFeature, OutputLayer};
use crate::report::Partitioned;
use crate::read::Layer;

fn header(w: &mut impl Write, name: &str, crs: Option<&Value>) -> std::io::Result<()> {
    write!(w, "{{\"type\":\"FeatureCollection\",\"name\":{}", Value::from(name))?;
    if let Some(c) = crs {
        write!(w, ",\"crs\":{c}")?;
    }
    w.write_all(b",\"features\":[\n")
}

/// Writes buildings.geojson: each input feature as written (GeoJSON inputs: the original text
/// of its id, properties and geometry, byte for byte) with `grid_id` added.
pub fn write_buildings(w: &mut impl Write, result: &Partitioned, layer: &Layer, crs: Option<&Value>) -> std::io::Result<()> {
    header(w, "buildings", crs)?;
    for (i, f) in layer.features.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let grid_id = result.grids[result.building_grid[i] as usize].id.to_json();
        w.write_all(b"{\"type\":\"Feature\"")?;
        match &layer.source_text {
            Some(src) => {
                let s = &src.spans[i];
                if let Some(r) = &s.id {
                    write!(w, ",\"id\":{}", &src.text[r.clone()])?;
                }
                w.write_all(b",\"properties\":")?;
                let extra = result.building_extra_properties(i);
                match &s.properties {
                    None if extra.is_empty() => write!(w, "{{\"grid_id\":{grid_id}}}")?,
                    Some(r) if s.has_reserved_key || !extra.is_empty() => {
                        let mut map: serde_json::Map<String, Value> =
                            serde_json::from_str(&src.text[r.clone()]).map_err(std::io::Error::other)?;
                        map.extend(extra);
                        map.insert("grid_id".into(), grid_id.clone());
                        serde_json::to_writer(&mut *w, &map)?;
                    }
                    None => {
                        let mut map: serde_json::Map<String, Value> = extra.into_iter().collect();
                        map.insert("grid_id".into(), grid_id.clone());
                        serde_json::to_writer(&mut *w, &map)?;
                    }
                    Some(r) => {
                        let text = src.text[r.clone()].trim_end();
                        let body = text.strip_suffix('}').unwrap_or(text);
                        let empty = body.trim_start().strip_prefix('{').is_some_and(|b| b.trim().is_empty());
                        w.write_all(body.as_bytes())?;
                        write!(w, "{}\"grid_id\":{grid_id}}}", if empty { "" } else { "," })?;
                    }
                }
                w.write_all(b",\"geometry\":")?;
                match &s.geometry {
                    Some(r) => w.write_all(src.text[r.clone()].as_bytes())?,
                    None => w.write_all(b"null")?,
                }
            }
            None => {
                if let Some(id) = &f.id {
                    write!(w, ",\"id\":{}", id.to_json())?;
                }
                let mut props = f.properties.clone().unwrap_or_default();
                props.extend(result.building_extra_properties(i));
                props.insert("grid_id".into(), grid_id.clone());
                w.write_all(b",\"properties\":")?;
                serde_json::to_writer(&mut *w, &props)?;
                w.write_all(b",\"geometry\":")?;
                match &f.geometry {
                    Some(g) => serde_json::to_writer(&mut *w, &geojson::Geometry::from(g))?,
                    None => w.write_all(b"null")?,
                }
            }
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"\n]}\n")
}

fn write_ring(w: &mut impl Write, ring: &LineString<f64>) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, c) in ring.0.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "[{},{}]", c.x, c.y)?;
    }
    w.write_all(b"]")
}

fn write_multipolygon(w: &mut impl Write, mp: &MultiPolygon<f64>) -> std::io::Result<()> {
    let write_poly = |w: &mut dyn Write, p: &geo::Polygon<f64>| -> std::io::Result<()> {
        let mut w = w;
        w.write_all(b"[")?;
        write_ring(&mut w, p.exterior())?;
        for h in p.interiors() {
            w.write_all(b",")?;
            write_ring(&mut w, h)?;
        }
        w.write_all(b"]")
    };
    if mp.0.len() == 1 {
        w.write_all(b"{\"type\":\"Polygon\",\"coordinates\":")?;
        write_poly(w, &mp.0[0])?;
    } else {
        w.write_all(b"{\"type\":\"MultiPolygon\",\"coordinates\":[")?;
        for (i, p) in mp.0.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write_poly(w, p)?;
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"}")
}

/// Writes grids.geojson: one feature per grid with [`grid_properties`].
pub fn write_grids(w: &mut impl Write, result: &Partitioned, crs: Option<&Value>) -> std::io::Result<()> {
    header(w, "grids", crs)?;
    for (i, g) in result.grids.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let props = grid_properties(result, i);
        write!(w, "{{\"type\":\"Feature\",\"id\":{},\"properties\":{props},\"geometry\":", g.id.to_json())?;
        if let Some(given) = &g.given_geometry {
            // A locked grid: its geometry as given, byte for byte when read from GeoJSON.
            match &given.text {
                Some(text) => w.write_all(text.as_bytes())?,
                None => serde_json::to_writer(&mut *w, &geojson::Geometry::from(&given.geometry))?,
            }
        } else if g.polygon.0.is_empty() {
            w.write_all(b"null")?;
        } else {
            write_multipolygon(w, &g.polygon)?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"\n]}\n")
}


fn write_feature(w: &mut impl Write, f: &OutputFeature) -> std::io::Result<()> {
    w.write_all(b"{\"type\":\"Feature\"")?;
    if let Some(id) = &f.id {
        write!(w, ",\"id\":{id}")?;
    }
    w.write_all(b",\"properties\":")?;
    serde_json::to_writer(&mut *w, &f.properties)?;
    w.write_all(b",\"geometry\":")?;
    match &f.geometry {
        Some(g) => serde_json::to_writer(&mut *w, &geojson::Geometry::from(g))?,
        None => w.write_all(b"null")?,
    }
    w.write_all(b"}")
}

/// Writes `layer` as a GeoJSON FeatureCollection (with the legacy `crs` member unless the CRS
/// is WGS84 longitude, latitude).
pub fn write_collection(w: &mut impl Write, layer: &OutputLayer) -> std::io::Result<()> {
    let member = layer.crs.as_ref().and_then(|c| c.geojson_member());
    header(w, &layer.name, member.as_ref())?;
    for (i, f) in layer.features.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        write_feature(w, f)?;
    }
    w.write_all(b"\n]}\n")
}

/// Writes `layer` as line-delimited GeoJSON: one Feature per line, no record separator (the
/// form GDAL's GeoJSONSeq driver and `wangge` read).
pub fn write_seq(w: &mut impl Write, layer: &OutputLayer) -> std::io::Result<()> {
    for f in &layer.features {
        write_feature(w, f)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Line-delimited GeoJSON cannot name a CRS: the warning to give when `layer`'s coordinates are
/// not WGS84 longitude, latitude.
pub fn seq_warning(path: &Path, layer: &OutputLayer) -> Option<String> {
    match &layer.crs {
        Some(c) if !c.is_wgs84_lonlat() => Some(format!(
            "{}: line-delimited GeoJSON cannot record a CRS; the coordinates are in {c}: read the file back with --crs {}",
            path.display(),
            match c {
                crate::crs::CrsSpec::Offset(o) => o.name().to_ascii_lowercase().replace('-', ""),
                other => other.to_string(),
            }
        )),
        _ => None,
    }
}
