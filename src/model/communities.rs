//! Communities (社区) the grids nest in: polygons with a code and a name column
//! (`--communities`), or a column of the buildings (`--by`). Each building gets its community;
//! the community polygons' rings become barriers of the mesh, so cells and grid polygons stop at
//! them, and the graph keeps no edge between two communities, so every community is divided on
//! its own.

use geo::{Area, BoundingRect, Contains, Coord, LineString, MultiPolygon, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::Serialize;
use serde_json::Value;

use super::layers::Frames;
use super::Building;
use crate::config::{OptionName, PartitionConfig};
use crate::error::{Error, FeatureFault, Result};
use crate::read::{InputLayers, Layer};

/// Marks a building of a run not nested in communities.
pub const NO_COMMUNITY: u32 = u32::MAX;

/// Code of the community that gathers the buildings in no community (outside every polygon, or
/// without a value in the `--by` column).
pub const OUTSIDE_CODE: &str = "none";

/// The communities of a run (empty when the run is not nested).
#[derive(Debug, Clone, Default)]
pub struct Communities {
    /// The communities that hold buildings or polygons, by code; the buildings in none come
    /// last, as the community [`OUTSIDE_CODE`].
    pub list: Vec<Community>,
    /// Rings of the community polygons (working metres): barriers of the mesh.
    pub boundaries: Vec<LineString<f64>>,
    /// Where the communities came from: `polygons` or `column`.
    pub source: &'static str,
    /// The union of the community polygons (working metres): the territory when none is given
    /// and every building lies in a community.
    pub union: Option<MultiPolygon<f64>>,
}

/// One community.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Community {
    /// Its code (the `--community-code` column, or the `--by` value as text).
    pub code: String,
    /// Its name, when the layer has a name column.
    pub name: Option<String>,
    /// Its area (m²), when given as a polygon.
    pub area_m2: Option<f64>,
    /// True for the community of the buildings in no community.
    pub outside: bool,
}

impl Communities {
    /// True when the run is nested in communities.
    pub fn is_nested(&self) -> bool {
        !self.list.is_empty()
    }
}

/// The communities of the run, with the community of each of `buildings` set; empty unless
/// `--communities` or `--by` is given. Buildings in no community are gathered in the community
/// [`OUTSIDE_CODE`], with a warning.
pub fn communities(layers: &InputLayers, frames: &Frames, config: &PartitionConfig, buildings: &mut [Building], warnings: &mut Vec<String>) -> Result<Communities> {
    let nesting = &config.nesting;
    match (&layers.communities, &nesting.by) {
        (Some(_), Some(_)) => Err(Error::OptionsExclusive { first: OptionName("communities"), second: OptionName("by") }),
        (None, None) => {
            for (option, given) in [("community_code", nesting.community_code.is_some()), ("community_name", nesting.community_name.is_some())] {
                if given {
                    return Err(Error::OptionOnlyWith { option: OptionName(option), with: OptionName("communities").to_string() });
                }
            }
            Ok(Communities::default())
        }
        (Some(layer), None) => from_polygons(layer, frames, config, buildings, warnings),
        (None, Some(column)) => from_column(&layers.buildings, column, buildings, warnings),
    }
}

/// Communities from a polygon layer: a building belongs to the smallest community polygon
/// holding its anchor.
fn from_polygons(layer: &Layer, frames: &Frames, config: &PartitionConfig, buildings: &mut [Building], warnings: &mut Vec<String>) -> Result<Communities> {
    let (code_col, name_col) = (config.nesting.code_column(), config.nesting.name_column());
    let code_index = layer.column_index(code_col).filter(|_| layer.columns.iter().any(|c| c == code_col)).ok_or_else(|| {
        Error::layer(&layer.name, format!("has no '{code_col}' column for the community codes (columns: {}); name it with --community-code", layer.columns.join(", ")))
    })?;
    let name_index = layer.column_index(name_col).filter(|_| layer.columns.iter().any(|c| c == name_col));
    if config.nesting.community_name.is_some() && name_index.is_none() {
        return Err(Error::layer(&layer.name, format!("has no '{name_col}' column for the community names (columns: {})", layer.columns.join(", "))));
    }
    let polygons = frames.feature_polygons(layer, "community")?;
    if polygons.is_empty() {
        return Err(Error::layer(&layer.name, "has no community polygon"));
    }
    // Features of one code are one community (a community mapped in several parts).
    let mut by_code: std::collections::BTreeMap<String, (Option<String>, Vec<geo::Polygon<f64>>)> = std::collections::BTreeMap::new();
    for (i, parts) in polygons {
        let f = &layer.features[i];
        let code = match f.attributes.get(code_index).cloned().flatten() {
            Some(v) => text_of(&v).ok_or_else(|| Error::feature(&layer.name, f.label(), FeatureFault::NonNumeric { column: code_col.into(), value: v.to_string() }))?,
            None => return Err(Error::feature(&layer.name, f.label(), FeatureFault::NullValue { column: code_col.into() })),
        };
        if code.is_empty() {
            return Err(Error::feature(&layer.name, f.label(), FeatureFault::NullValue { column: code_col.into() }));
        }
        if code == OUTSIDE_CODE {
            return Err(Error::feature(&layer.name, f.label(), FeatureFault::BadId { message: format!("the community code '{OUTSIDE_CODE}' is kept for buildings in no community") }));
        }
        let name = name_index.and_then(|n| f.attributes.get(n).cloned().flatten()).and_then(|v| text_of(&v));
        let entry = by_code.entry(code).or_insert((None, Vec::new()));
        if entry.0.is_none() {
            entry.0 = name;
        }
        entry.1.extend(parts.0);
    }
    let mut list: Vec<Community> = Vec::new();
    let mut owner: Vec<u32> = Vec::new();
    let mut parts: Vec<geo::Polygon<f64>> = Vec::new();
    let mut boundaries = Vec::new();
    for (code, (name, polys)) in by_code {
        let c = list.len() as u32;
        let area = MultiPolygon(polys.clone()).unsigned_area();
        for p in polys {
            boundaries.push(p.exterior().clone());
            boundaries.extend(p.interiors().iter().cloned());
            owner.push(c);
            parts.push(p);
        }
        list.push(Community { code, name, area_m2: Some(area), outside: false });
    }
    let union = geo::unary_union(parts.iter());
    let anchors: Vec<Coord<f64>> = buildings.iter().map(|b| b.anchor).collect();
    let part_of = smallest_holding(&parts, &anchors);
    let mut outside = 0usize;
    let outside_index = list.len() as u32;
    for (b, p) in buildings.iter_mut().zip(part_of) {
        b.community = if p == NO_COMMUNITY {
            outside += 1;
            outside_index
        } else {
            owner[p as usize]
        };
    }
    if outside > 0 {
        warnings.push(format!(
            "{}: {outside} building(s) lie in no community polygon: they are divided apart, as the community '{OUTSIDE_CODE}'",
            layer.name
        ));
        list.push(Community { code: OUTSIDE_CODE.into(), name: Some("(outside every community)".into()), area_m2: None, outside: true });
    }
    let empty: Vec<&str> = {
        let mut used = vec![false; list.len()];
        buildings.iter().for_each(|b| used[b.community as usize] = true);
        list.iter().zip(&used).filter(|(_, &u)| !u).map(|(c, _)| c.code.as_str()).collect()
    };
    if !empty.is_empty() {
        warnings.push(format!("{}: {} communit(ies) hold no building and get no grid: {}", layer.name, empty.len(), crate::text::first_of(empty.iter().map(|s| s.to_string()), empty.len(), 10, ", ")));
    }
    Ok(Communities { list, boundaries, source: "polygons", union: Some(union) })
}

/// Communities from a column of the buildings: each distinct value (as text) is one.
fn from_column(layer: &Layer, column: &str, buildings: &mut [Building], warnings: &mut Vec<String>) -> Result<Communities> {
    let index = layer.column_index(column).filter(|_| layer.columns.iter().any(|c| c == column)).ok_or_else(|| {
        Error::layer(&layer.name, format!("has no '{column}' column for --by (columns: {})", layer.columns.join(", ")))
    })?;
    let code_of_row = |row: usize| -> Result<Option<String>> {
        let f = &layer.features[row];
        match f.attributes.get(index).cloned().flatten() {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match text_of(&v) {
                Some(t) if t.is_empty() => Ok(None),
                Some(t) => Ok(Some(t)),
                None => Err(Error::feature(&layer.name, f.label(), FeatureFault::NonNumeric { column: column.into(), value: v.to_string() })),
            },
        }
    };
    let mut codes: Vec<Option<String>> = Vec::with_capacity(buildings.len());
    for b in buildings.iter() {
        codes.push(code_of_row(b.row)?);
    }
    let mut distinct: Vec<String> = codes.iter().flatten().cloned().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.iter().any(|c| c == OUTSIDE_CODE) {
        return Err(Error::layer(&layer.name, format!("column '{column}' holds the value '{OUTSIDE_CODE}', which is kept for buildings without a community")));
    }
    let mut list: Vec<Community> = distinct.iter().map(|c| Community { code: c.clone(), name: None, area_m2: None, outside: false }).collect();
    let outside_index = list.len() as u32;
    let mut outside = 0usize;
    for (b, code) in buildings.iter_mut().zip(&codes) {
        b.community = match code {
            Some(c) => distinct.binary_search(c).map(|i| i as u32).unwrap_or(outside_index),
            None => {
                outside += 1;
                outside_index
            }
        };
    }
    if outside > 0 {
        warnings.push(format!("{}: {outside} building(s) have no '{column}' value: they are divided apart, as the community '{OUTSIDE_CODE}'", layer.name));
        list.push(Community { code: OUTSIDE_CODE.into(), name: Some(format!("(no {column})")), area_m2: None, outside: true });
    }
    Ok(Communities { list, boundaries: Vec::new(), source: "column", union: None })
}

/// A code or name as text: strings as they are, whole numbers without a fraction, other numbers
/// as written; None for arrays, objects and booleans.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        }),
        _ => None,
    }
}

/// For each point, the smallest polygon (by area, then index) holding it, or [`NO_COMMUNITY`].
fn smallest_holding(polygons: &[geo::Polygon<f64>], points: &[Coord<f64>]) -> Vec<u32> {
    let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, u32>> = polygons
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.bounding_rect().map(|r| GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i as u32)))
        .collect();
    let areas: Vec<f64> = polygons.iter().map(|p| p.unsigned_area()).collect();
    let tree = RTree::bulk_load(boxes);
    points
        .iter()
        .map(|&c| {
            tree.locate_in_envelope_intersecting(&AABB::from_point([c.x, c.y]))
                .map(|r| r.data)
                .filter(|&i| polygons[i as usize].contains(&Point(c)))
                .min_by(|&a, &b| areas[a as usize].total_cmp(&areas[b as usize]).then(a.cmp(&b)))
                .unwrap_or(NO_COMMUNITY)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn codes_read_as_text() {
        assert_eq!(text_of(&serde_json::json!(310104001)).as_deref(), Some("310104001"));
        assert_eq!(text_of(&serde_json::json!(310104001.0)).as_deref(), Some("310104001"));
        assert_eq!(text_of(&serde_json::json!(" A-1 ")).as_deref(), Some("A-1"));
        assert_eq!(text_of(&serde_json::json!(2.5)).as_deref(), Some("2.5"));
        assert_eq!(text_of(&serde_json::json!(true)), None);
    }

    #[test]
    fn a_point_belongs_to_the_smallest_polygon_holding_it() {
        let big = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)];
        let small = polygon![(x: 10.0, y: 10.0), (x: 30.0, y: 10.0), (x: 30.0, y: 30.0), (x: 10.0, y: 30.0)];
        let points = [Coord { x: 20.0, y: 20.0 }, Coord { x: 50.0, y: 50.0 }, Coord { x: 150.0, y: 50.0 }];
        assert_eq!(smallest_holding(&[big, small], &points), vec![1, 0, NO_COMMUNITY]);
    }
}
