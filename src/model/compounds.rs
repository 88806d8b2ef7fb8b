//! Residential compounds (小区): polygons whose outlines are preferred grid boundaries, and the
//! compound each building belongs to.

use geo::{Area, BoundingRect, Contains, Coord, LineString, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::layers::{collect_polygons, layer_polygons, Frames};
use super::Building;
use crate::error::Result;
use crate::read::Layer;

/// Marks a building in no compound.
pub const NO_COMPOUND: u32 = u32::MAX;

/// The compounds of a run (none when no compound layer is given).
#[derive(Debug, Clone, Default)]
pub struct Compounds {
    /// Compound polygons in working metres.
    pub polygons: Vec<Polygon<f64>>,
    /// The compound of each building ([`NO_COMPOUND`] for none): the smallest compound
    /// holding the building's anchor.
    pub of_building: Vec<u32>,
}

impl Compounds {
    /// The rings of every compound, as lines for the mesh (preferred boundaries, like streets).
    pub fn outlines(&self) -> Vec<LineString<f64>> {
        self.polygons.iter().flat_map(|p| std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned())).collect()
    }

    /// Compounds holding at least one building.
    pub fn with_buildings(&self) -> usize {
        let mut used: Vec<u32> = self.of_building.iter().copied().filter(|&c| c != NO_COMPOUND).collect();
        used.sort_unstable();
        used.dedup();
        used.len()
    }
}

/// The compounds of `layers` and the compound of each of `buildings`. Features without a
/// polygon are skipped with a warning.
pub fn compounds(layers: &[Layer], frames: &Frames, buildings: &[Building], warnings: &mut Vec<String>) -> Result<Compounds> {
    if layers.is_empty() {
        return Ok(Compounds::default());
    }
    let polygons = layer_polygons(layers, frames)?;
    for layer in layers {
        let without = layer.features.iter().filter(|f| !f.geometry.as_ref().is_some_and(has_polygon)).count();
        if without > 0 {
            warnings.push(format!("{}: {without} feature(s) without a polygon ignored: compounds are polygons", layer.name));
        }
    }
    let of_building = compound_of_points(&polygons, &buildings.iter().map(|b| b.anchor).collect::<Vec<_>>());
    Ok(Compounds { polygons, of_building })
}

/// True when a geometry has a polygon part.
fn has_polygon(g: &geo::Geometry<f64>) -> bool {
    let mut polygons = Vec::new();
    collect_polygons(g, &mut polygons);
    !polygons.is_empty()
}

/// For each point, the smallest polygon (by area, then by index) that contains it, or
/// [`NO_COMPOUND`].
pub fn compound_of_points(polygons: &[Polygon<f64>], points: &[Coord<f64>]) -> Vec<u32> {
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
                .unwrap_or(NO_COMPOUND)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn a_point_belongs_to_the_smallest_compound_holding_it() {
        let big = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 100.0)];
        let small = polygon![(x: 10.0, y: 10.0), (x: 30.0, y: 10.0), (x: 30.0, y: 30.0), (x: 10.0, y: 30.0)];
        let polygons = vec![big, small];
        let points = [Coord { x: 20.0, y: 20.0 }, Coord { x: 50.0, y: 50.0 }, Coord { x: 150.0, y: 50.0 }];
        assert_eq!(compound_of_points(&polygons, &points), vec![1, 0, NO_COMPOUND]);
    }
}
