//! The grids of the result: members, figures and polygons in the input CRS, in id order;
//! locked grids of an existing polygon layer keep their geometry as given.

use geo::{Area, MultiPolygon};

use super::numbering::Numbering;
use super::project::BackProjection;
use super::walks::WalkFigures;
use super::{GivenGeometry, GridReport};
use crate::error::Result;
use crate::graph::UnitGraph;
use crate::model::Model;
use crate::partition::Plan;
use crate::read::Layer;
use crate::tessellate::Tiling;

/// Which buildings each grid of a plan holds.
#[derive(Debug, Clone)]
pub struct Membership {
    /// Plan grid of each model building.
    pub building_grid: Vec<u32>,
    /// Model buildings of each plan grid, ascending.
    pub grid_buildings: Vec<Vec<u32>>,
}

impl Membership {
    /// The members of the grids of `plan`.
    pub fn new(plan: &Plan, graph: &UnitGraph, n_buildings: usize) -> Membership {
        let building_grid = plan.grid_of_buildings(graph, n_buildings);
        let mut grid_buildings: Vec<Vec<u32>> = vec![Vec::new(); plan.grids.len()];
        for (b, &g) in building_grid.iter().enumerate() {
            grid_buildings[g as usize].push(b as u32);
        }
        Membership { building_grid, grid_buildings }
    }
}

/// Everything [`grid_reports`] reads.
pub struct GridInputs<'a> {
    /// The model.
    pub model: &'a Model,
    /// The plan.
    pub plan: &'a Plan,
    /// Its polygons.
    pub tiling: &'a Tiling,
    /// Its numbering.
    pub numbering: &'a Numbering,
    /// Its members.
    pub members: &'a Membership,
    /// Its walks.
    pub walks: &'a WalkFigures,
    /// The existing grid layer, when re-dividing from polygons (locked grids' geometry).
    pub existing: Option<&'a Layer>,
}

/// One report per grid, in id order, with polygons converted by `back`.
pub fn grid_reports(input: &GridInputs, back: &mut BackProjection) -> Result<Vec<GridReport>> {
    let (model, plan, numbering, members) = (input.model, input.plan, input.numbering, input.members);
    let mut given = given_geometries(input);
    let mut by_index: Vec<Option<GridReport>> = Vec::with_capacity(plan.grids.len());
    for (g, given) in given.iter_mut().enumerate() {
        let shape = &input.tiling.shapes[g];
        let (polygon, area_m2, given_geometry) = match given.take() {
            Some((gg, area)) => {
                let polygon = match &gg.geometry {
                    geo::Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                    geo::Geometry::MultiPolygon(mp) => mp.clone(),
                    _ => back.polygons(&shape.polygons)?,
                };
                (polygon, area, Some(gg))
            }
            None => (back.polygons(&shape.polygons)?, shape.area, None),
        };
        let bs = &members.grid_buildings[g];
        let population = model.population_column.as_ref().map(|_| bs.iter().filter_map(|&b| model.buildings[b as usize].population).sum::<f64>());
        let centre = &model.buildings[numbering.centre_building[g] as usize];
        by_index.push(Some(GridReport {
            id: numbering.id_of[g].clone(),
            households: plan.grids[g].households,
            population,
            buildings: crate::model::split::count_rows(&model.buildings, bs.iter().copied()),
            area_m2,
            mean_walk_m: input.walks.per_grid[g].1,
            max_walk_m: input.walks.per_grid[g].2,
            center_id: centre.id.clone(),
            center_row: centre.row,
            polygon,
            worker: None,
            given_geometry,
            community: numbering.nested.as_ref().map(|per| model.communities.list[per[g].0 as usize].code.clone()),
        }));
    }
    Ok(numbering.order.iter().filter_map(|&g| by_index[g].take()).collect())
}

/// The geometry as given (and its area in working metres) of each plan grid that keeps a
/// locked polygon of an existing layer in the buildings' CRS.
fn given_geometries(input: &GridInputs) -> Vec<Option<(GivenGeometry, f64)>> {
    let mut given: Vec<Option<(GivenGeometry, f64)>> = vec![None; input.plan.grids.len()];
    let Some(layer) = input.existing else { return given };
    for (l, g) in input.model.locked_shapes().iter().zip(&input.tiling.locked_grids) {
        let (Some(g), false) = (g, l.vertices.is_empty()) else { continue };
        let f = &layer.features[l.feature];
        let Some(geometry) = f.geometry.clone() else { continue };
        let text = layer.source_text.as_ref().and_then(|t| t.spans[l.feature].geometry.clone().map(|r| t.text[r].to_string()));
        given[*g as usize] = Some((GivenGeometry { geometry, text }, l.working.unsigned_area()));
    }
    given
}
