//! GeoJSON reader: FeatureCollection, single Feature or bare geometry, with the legacy `crs`
//! member. Features are parsed in parallel; the text is kept for faithful rewriting.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{FeatureId, FeatureSpans, GeoJsonText, InputFeature, Layer, RESERVED_KEYS};
use crate::crs::CrsSpec;
use crate::error::{Error, FeatureFault, Result};

#[derive(Deserialize)]
struct TopLevel<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(borrow, default)]
    crs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    features: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct FeatureParts<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
    #[serde(borrow, default)]
    geometry: Option<&'a RawValue>,
}

/// Features of one chunk with their spans, and the property names first seen in it.
type ParsedChunk = (Vec<(InputFeature, FeatureSpans)>, Vec<String>);

/// Parses line-delimited GeoJSON (one Feature per line; RFC 8142 record separators allowed).
pub fn parse_geojson_seq(text: &str, name: &str, columns: &[&str]) -> Result<Layer> {
    let mut joined = String::with_capacity(text.len() + 64);
    joined.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
    let mut first = true;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_matches(|c: char| c == '\u{1e}' || c.is_whitespace());
        if line.is_empty() {
            continue;
        }
        // Each line is checked on its own, so a fault is reported at its line of the file.
        if let Err(e) = serde_json::from_str::<&RawValue>(line) {
            return Err(Error::Parse { path: name.into(), message: format!("line {}: {e}", number + 1).replace(" at line 1 column ", " at column ") });
        }
        if !first {
            joined.push(',');
        }
        first = false;
        joined.push_str(line);
    }
    joined.push_str("]}");
    parse_geojson(joined, name, columns)
}

/// Parses GeoJSON `text` (named `name` in messages), keeping the values of `columns`.
pub fn parse_geojson(text: String, name: &str, columns: &[&str]) -> Result<Layer> {
    let parse_err = |e: serde_json::Error| Error::Parse { path: name.into(), message: e.to_string() };
    if text.trim().is_empty() {
        return Err(Error::layer(name, format!("is empty ({} bytes, no GeoJSON object)", text.len())));
    }
    let top: TopLevel = serde_json::from_str(&text).map_err(parse_err)?;
    let crs = match top.crs {
        None => None,
        Some(raw) => {
            let v: Value = serde_json::from_str(raw.get()).map_err(parse_err)?;
            if v.is_null() {
                None
            } else {
                Some(CrsSpec::from_geojson_member(&v, name)?)
            }
        }
    };
    let kind = top.kind.as_deref().unwrap_or("");
    let raws: Vec<&RawValue> = match (kind, top.features) {
        ("FeatureCollection", Some(f)) => f,
        ("FeatureCollection", None) => {
            return Err(Error::layer(name, "FeatureCollection without a 'features' array"))
        }
        ("Feature", _) => vec![serde_json::from_str::<&RawValue>(&text).map_err(parse_err)?],
        ("Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon"
        | "GeometryCollection", _) => Vec::new(),
        ("", _) if text.trim_start().starts_with('[') => {
            return Err(Error::layer(name, "is a JSON array, not a GeoJSON object (a FeatureCollection, a Feature or a geometry)"))
        }
        ("", _) => return Err(Error::layer(name, "has no 'type' member: not a GeoJSON object (a FeatureCollection, a Feature or a geometry)")),
        (other, _) => {
            return Err(Error::layer(
                name,
                format!("top-level type is '{other}'; expected FeatureCollection, Feature or a geometry"),
            ))
        }
    };
    let base = text.as_ptr() as usize;
    let span = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - base;
        start..start + raw.get().len()
    };

    if raws.is_empty() && kind != "FeatureCollection" {
        // A bare geometry: one feature, no properties.
        let geometry = Some(parse_geometry(&text).map_err(|m| {
            Error::feature(name, "#0", FeatureFault::MalformedGeometry { message: m })
        })?);
        let feature = InputFeature { row: 0, id: None, geometry, attributes: vec![None; columns.len()], properties: None };
        let spans = vec![FeatureSpans { id: None, properties: None, geometry: Some(0..text.len()), has_reserved_key: false }];
        return Ok(Layer {
            name: name.into(),
            crs,
            features: vec![feature],
            requested: columns.iter().map(|c| c.to_string()).collect(),
            columns: Vec::new(),
            source_text: Some(GeoJsonText { text, spans }),
        });
    }

    const CHUNK: usize = 2048;
    let chunks: Vec<Result<ParsedChunk>> = raws
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(ci, chunk)| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut keys = Vec::new();
            let mut seen = HashSet::new();
            for (k, raw) in chunk.iter().enumerate() {
                let row = ci * CHUNK + k;
                out.push(parse_feature(raw, row, name, columns, &span, &mut keys, &mut seen)?);
            }
            Ok((out, keys))
        })
        .collect();

    let mut features = Vec::with_capacity(raws.len());
    let mut spans = Vec::with_capacity(raws.len());
    let mut all_columns: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for chunk in chunks {
        let (parsed, keys) = chunk?;
        for (f, s) in parsed {
            features.push(f);
            spans.push(s);
        }
        for k in keys {
            if seen.insert(k.clone()) {
                all_columns.push(k);
            }
        }
    }
    Ok(Layer {
        name: name.into(),
        crs,
        features,
        requested: columns.iter().map(|c| c.to_string()).collect(),
        columns: all_columns,
        source_text: Some(GeoJsonText { text, spans }),
    })
}

fn parse_feature(
    raw: &RawValue,
    row: usize,
    name: &str,
    columns: &[&str],
    span: &impl Fn(&RawValue) -> std::ops::Range<usize>,
    keys: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<(InputFeature, FeatureSpans)> {
    let label = row.to_string();
    let parts: FeatureParts = serde_json::from_str(raw.get()).map_err(|e| Error::Parse {
        path: name.into(),
        message: format!("feature {label}: {e}"),
    })?;
    if parts.kind.as_deref() != Some("Feature") {
        return Err(Error::Parse {
            path: name.into(),
            message: format!("feature {label}: 'type' is {:?}, expected \"Feature\"", parts.kind),
        });
    }
    let id = match parts.id {
        None => None,
        Some(r) => {
            let v: Value = serde_json::from_str(r.get()).map_err(|e| Error::Parse { path: name.into(), message: e.to_string() })?;
            if v.is_null() {
                None
            } else {
                Some(FeatureId::from_json(&v).map_err(|m| Error::feature(name, &label, FeatureFault::BadId { message: m }))?)
            }
        }
    };
    let label = super::feature_label(row, id.as_ref().map(|i| i.to_string()));
    let mut attributes = vec![None; columns.len()];
    let mut has_reserved_key = false;
    let mut properties = None;
    if let Some(p) = parts.properties {
        if p.get() != "null" {
            let entries = PropertiesSeed
                .deserialize(&mut serde_json::Deserializer::from_str(p.get()))
                .map_err(|e| Error::Parse { path: name.into(), message: format!("feature {label}: properties: {e}") })?;
            for (key, value) in entries {
                if RESERVED_KEYS.contains(&key.as_ref()) {
                    has_reserved_key = true;
                }
                if let Some(i) = columns.iter().position(|c| *c == key.as_ref()) {
                    let v: Value = serde_json::from_str(value.get())
                        .map_err(|e| Error::Parse { path: name.into(), message: e.to_string() })?;
                    attributes[i] = Some(v);
                }
                if !seen.contains(key.as_ref()) {
                    seen.insert(key.to_string());
                    keys.push(key.to_string());
                }
            }
            properties = Some(span(p));
        }
    }
    let (geometry, geometry_span) = match parts.geometry {
        Some(g) if g.get() != "null" => {
            let geom = parse_geometry(g.get())
                .map_err(|m| Error::feature(name, &label, FeatureFault::MalformedGeometry { message: m }))?;
            (Some(geom), Some(span(g)))
        }
        _ => (None, None),
    };
    Ok((
        InputFeature { row, id, geometry, attributes, properties: None },
        FeatureSpans { id: parts.id.map(span), properties, geometry: geometry_span, has_reserved_key },
    ))
}

/// Reads a properties object as (key, raw value) pairs without copying the values.
struct PropertiesSeed;

impl<'de> DeserializeSeed<'de> for PropertiesSeed {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of properties")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: &'de RawValue = map.next_value()?;
            out.push((key, value));
        }
        Ok(out)
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// A GeoJSON position: x and y; a third (z) or further values are ignored.
struct Position(Coord<f64>);

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Position;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a position [x, y]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Position, A::Error> {
                let x: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let y: f64 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Position(Coord { x, y }))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct GeometryParts<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow, default)]
    coordinates: Option<&'a RawValue>,
    #[serde(borrow, default)]
    geometries: Option<Vec<&'a RawValue>>,
}

fn line(points: Vec<Position>) -> LineString<f64> {
    LineString(points.into_iter().map(|p| p.0).collect())
}

fn polygon(rings: Vec<Vec<Position>>) -> std::result::Result<Polygon<f64>, String> {
    // A polygon without rings is the empty polygon (later stages say what they make of it).
    let mut rings = rings.into_iter();
    let exterior = rings.next().unwrap_or_default();
    Ok(Polygon::new(line(exterior), rings.map(line).collect()))
}

/// Parses one GeoJSON geometry object into a `geo` geometry (messages say what is wrong).
pub(crate) fn parse_geometry(text: &str) -> std::result::Result<Geometry<f64>, String> {
    let parts: GeometryParts = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let coords = || parts.coordinates.map(|c| c.get()).ok_or_else(|| format!("{} without 'coordinates'", parts.kind));
    let de = |e: serde_json::Error| format!("{} coordinates: {e}", parts.kind);
    Ok(match parts.kind.as_str() {
        "Point" => Geometry::Point(Point(serde_json::from_str::<Position>(coords()?).map_err(de)?.0)),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            serde_json::from_str::<Vec<Position>>(coords()?).map_err(de)?.into_iter().map(|p| Point(p.0)).collect(),
        )),
        "LineString" => Geometry::LineString(line(serde_json::from_str(coords()?).map_err(de)?)),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            serde_json::from_str::<Vec<Vec<Position>>>(coords()?).map_err(de)?.into_iter().map(line).collect(),
        )),
        "Polygon" => Geometry::Polygon(polygon(serde_json::from_str(coords()?).map_err(de)?)?),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            serde_json::from_str::<Vec<Vec<Vec<Position>>>>(coords()?)
                .map_err(de)?
                .into_iter()
                .map(polygon)
                .collect::<std::result::Result<_, _>>()?,
        )),
        "GeometryCollection" => {
            let members = parts.geometries.ok_or("GeometryCollection without 'geometries'")?;
            Geometry::GeometryCollection(geo::GeometryCollection(
                members.iter().map(|m| parse_geometry(m.get())).collect::<std::result::Result<_, _>>()?,
            ))
        }
        other => return Err(format!("unknown geometry type '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_collection_with_legacy_crs_and_keeps_spans() {
        let text = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4547"}},
          "features":[
            {"type":"Feature","id":7,"properties":{"households":12,"name":"A\"b","grid_id":3},"geometry":{"type":"Point","coordinates":[1,2,3]}},
            {"type":"Feature","properties":null,"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}
          ]}"#;
        let layer = parse_geojson(text.to_string(), "t.geojson", &["households", "missing"]).unwrap();
        assert_eq!(layer.crs, Some(CrsSpec::Epsg(4547)));
        assert_eq!(layer.features.len(), 2);
        assert_eq!(layer.features[0].id, Some(FeatureId::Number(7)));
        assert_eq!(layer.features[0].attributes, vec![Some(Value::from(12)), None]);
        assert_eq!(layer.columns, vec!["households", "name", "grid_id"]);
        let src = layer.source_text.as_ref().unwrap();
        assert!(src.spans[0].has_reserved_key);
        assert_eq!(&src.text[src.spans[0].geometry.clone().unwrap()], r#"{"type":"Point","coordinates":[1,2,3]}"#);
        assert!(src.spans[1].properties.is_none());
        assert!(matches!(layer.features[1].geometry, Some(Geometry::Polygon(_))));
    }

    #[test]
    fn syntax_errors_name_the_file_and_position() {
        let err = parse_geojson("{\"type\":\"FeatureCollection\",\"features\":[{]}".into(), "bad.geojson", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("bad.geojson: "), "{msg}");
        assert!(msg.contains("column"), "{msg}");
    }

    #[test]
    fn bad_geometry_names_the_feature() {
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"b1","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1]]]}}]}"#;
        let msg = parse_geojson(text.into(), "x.geojson", &[]).unwrap_err().to_string();
        assert!(msg.contains("x.geojson: feature 0 (id b1)"), "{msg}");
    }
}
