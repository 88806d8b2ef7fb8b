//! The `building_parts` layer: one feature per part of a building split by units or floors.

use geo::Geometry;
use serde_json::{Map, Value};

use super::{OutputFeature, OutputLayer};
use crate::report::Partitioned;

/// The parts of split buildings as an output layer, in the input CRS: the part's strip of the
/// footprint, with `part_id` (`BUILDING:PART`, e.g. `T1:U2`), `building_id`, `part` (`U2`,
/// `F1-15`, `U2/F1-15`), `part_index` (position along the building's long axis), households,
/// population, `grid_id` and, with micro-grids, `micro_grid_id`. Empty when nothing was split.
pub fn parts_layer(result: &Partitioned) -> OutputLayer {
    let features = result
        .split
        .parts
        .iter()
        .map(|p| {
            let part_id = format!("{}:{}", p.id, p.label);
            let mut properties = Map::new();
            properties.insert("part_id".into(), Value::from(part_id.clone()));
            properties.insert("building_id".into(), p.id.to_json());
            properties.insert("part".into(), Value::from(p.label.clone()));
            properties.insert("part_index".into(), Value::from(p.index));
            properties.insert("households".into(), Value::from(p.households));
            properties.insert("population".into(), p.population.map_or(Value::Null, Value::from));
            properties.insert("grid_id".into(), serde_json::json!(result.grids[p.grid as usize].id));
            if let Some(m) = p.micro {
                properties.insert("micro_grid_id".into(), Value::from(result.micro_grids[m as usize].id.clone()));
            }
            let geometry = match p.polygon.0.len() {
                0 => None,
                1 => Some(Geometry::Polygon(p.polygon.0[0].clone())),
                _ => Some(Geometry::MultiPolygon(p.polygon.clone())),
            };
            OutputFeature { id: Some(Value::from(part_id)), properties, geometry }
        })
        .collect();
    OutputLayer { name: "building_parts".into(), crs: Some(result.model.frame.source.clone()), features }
}
