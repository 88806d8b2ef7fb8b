//! Buildings against a grid layer: buildings in no grid, claimed by several grids, or cut by a
//! grid boundary; and grids whose buildings hold households outside the bounds. Each building
//! counts for the grid holding its interior point (the first, by file order, when several do).

use geo::{Area, BooleanOps, BoundingRect, Contains, Coord, CoordinatePosition, Geometry, InteriorPoint, MultiPolygon, Point, Polygon};
use geo::coordinate_position::CoordPos;
use rayon::prelude::*;
use serde_json::{json, Value};

use super::layer::{projector_for, GridLayer};
use super::{AuditConfig, Problem, ProblemKind};
use crate::geom::BoxIndex;
use crate::error::{Error, FeatureFault, Result};
use crate::text;
use crate::read::Layer;

/// Columns to read from a buildings layer.
pub fn building_columns(config: &AuditConfig) -> Vec<String> {
    let mut c = vec![config.households.clone()];
    c.extend(config.building_id.clone());
    c
}

/// Share of a footprint below which a piece in a grid does not count (cut boundaries).
const SPLIT_SHARE: f64 = 0.01;

/// One building as the audit sees it.
struct Building {
    id: Value,
    households: f64,
    footprint: Geometry<f64>,
    point: Coord<f64>,
}

fn read_buildings(layer: &Layer, grids: &GridLayer, config: &AuditConfig) -> Result<Vec<Building>> {
    let proj = projector_for(layer, &grids.frame, config)?;
    let hh_col = layer.column_index(&config.households);
    let bounds_asked = config.min_households.is_some() || config.max_households.is_some();
    if bounds_asked && !layer.has_column(&config.households) {
        return Err(Error::layer(&layer.name, format!("has no '{}' column (columns: {})", config.households, layer.columns.join(", "))));
    }
    let id_col = config.building_id.as_ref().and_then(|c| layer.column_index(c));
    let mut out = Vec::with_capacity(layer.features.len());
    for f in &layer.features {
        let label = f.label();
        let err = |fault| Error::feature(&layer.name, &label, fault);
        let id = id_col.and_then(|c| f.attributes[c].clone()).or_else(|| f.id.as_ref().map(|i| i.to_json())).unwrap_or(Value::from(f.row));
        let households = match hh_col.and_then(|c| f.attributes[c].as_ref()) {
            None if bounds_asked => return Err(err(FeatureFault::MissingColumn { column: config.households.clone(), available: layer.columns.join(", ") })),
            None | Some(Value::Null) if !bounds_asked => 0.0,
            None => return Err(err(FeatureFault::NullValue { column: config.households.clone() })),
            Some(v) => crate::model::count_value(v, &config.households).map_err(err)?,
        };
        let geometry = f.geometry.as_ref().ok_or_else(|| err(FeatureFault::NullGeometry))?;
        let to_work = |c: Coord<f64>| proj.to_work(c);
        let footprint: Geometry<f64> = match geometry {
            Geometry::Point(p) => Geometry::Point(Point(to_work(p.0).map_err(|m| Error::layer(&layer.name, format!("building {label}: {m}")))?)),
            Geometry::Polygon(_) | Geometry::MultiPolygon(_) => {
                let g = geo::MapCoords::try_map_coords(geometry, to_work).map_err(|m| Error::layer(&layer.name, format!("building {label}: {m}")))?;
                g
            }
            other => {
                return Err(err(FeatureFault::WrongGeometryType { found: format!("{other:?}").split('(').next().unwrap_or("").into(), expected: "Polygon, MultiPolygon or Point".into() }))
            }
        };
        let point = footprint.interior_point().ok_or_else(|| err(FeatureFault::EmptyGeometry))?.0;
        out.push(Building { id, households, footprint, point });
    }
    Ok(out)
}

fn as_polygons(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(mp) => Some(mp.clone()),
        _ => None,
    }
}

/// What one building's test found: the grids holding its point, and its share in each grid it
/// touches.
struct Placement {
    hosts: Vec<usize>,
    shares: Vec<(usize, f64)>,
}

fn place(b: &Building, grids: &GridLayer, index: &BoxIndex) -> Placement {
    let mut cands: Vec<usize> = b.footprint.bounding_rect().map(|r| index.intersecting(r).collect()).unwrap_or_default();
    cands.sort_unstable();
    let hosts: Vec<usize> = cands.iter().copied().filter(|&g| grids.grids[g].shape.contains(&Point(b.point))).collect();
    let mut shares = Vec::new();
    if let Some(fp) = as_polygons(&b.footprint) {
        let area = fp.unsigned_area();
        // Fast path: one candidate holding every vertex.
        let vertices_in = |g: usize| {
            fp.0.iter().flat_map(|p: &Polygon<f64>| p.exterior().0.iter()).all(|c| grids.grids[g].shape.coordinate_position(c) != CoordPos::Outside)
        };
        if cands.len() == 1 && hosts.len() == 1 && vertices_in(cands[0]) {
            shares.push((cands[0], 1.0));
        } else if area > 0.0 {
            for &g in &cands {
                let a = fp.intersection(&grids.grids[g].shape).unsigned_area() / area;
                if a >= SPLIT_SHARE {
                    shares.push((g, a));
                }
            }
        }
    } else {
        shares.extend(hosts.iter().map(|&g| (g, 1.0)));
    }
    Placement { hosts, shares }
}

/// What [`check_buildings`] found.
#[derive(Debug)]
pub struct BuildingCheck {
    /// Unserved, multi-claimed and split buildings; grids outside the household bounds.
    pub problems: Vec<Problem>,
    /// The figures for the summary.
    pub figures: Value,
    /// Households and buildings of each grid (a building counts in the grid holding its point,
    /// or else the one holding most of its footprint).
    pub grid_loads: Vec<(f64, usize)>,
}

/// Building problems and household bounds.
pub fn check_buildings(layer: &Layer, grids: &GridLayer, config: &AuditConfig) -> Result<BuildingCheck> {
    let buildings = read_buildings(layer, grids, config)?;
    let index = BoxIndex::new(grids.grids.iter().map(|g| g.bbox));
    let placements: Vec<Placement> = buildings.par_iter().map(|b| place(b, grids, &index)).collect();
    let name = |g: usize| grids.grids[g].id.to_string();
    let mut problems = Vec::new();
    let mut load = vec![0.0; grids.grids.len()];
    let mut count = vec![0usize; grids.grids.len()];
    let (mut unserved, mut claimed, mut split) = (0, 0, 0);
    for (b, p) in buildings.iter().zip(&placements) {
        let problem = |kind, grid_ids: Vec<usize>, message: String| Problem {
            kind,
            grid_ids: grid_ids.iter().map(|&g| grids.grids[g].id.clone()).collect(),
            area_m2: b.footprint.unsigned_area(),
            message,
            building_id: Some(b.id.clone()),
            geometry: Some(b.footprint.clone()),
        };
        let shares_text = || p.shares.iter().map(|(g, s)| format!("{:.0}% in grid {}", 100.0 * s, name(*g))).collect::<Vec<_>>().join(", ");
        match p.hosts.len() {
            0 => {
                unserved += 1;
                let partly = if p.shares.is_empty() { String::new() } else { format!(" ({})", shares_text()) };
                problems.push(problem(
                    ProblemKind::UnservedBuilding,
                    p.shares.iter().map(|s| s.0).collect(),
                    format!("building {} ({} households) lies in no grid{partly}", b.id, text::count(b.households)),
                ));
            }
            1 => {}
            _ => {
                claimed += 1;
                problems.push(problem(
                    ProblemKind::MultiClaimedBuilding,
                    p.hosts.clone(),
                    format!(
                        "building {} ({} households) is claimed by grids {}",
                        b.id,
                        text::count(b.households),
                        p.hosts.iter().map(|&g| name(g)).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let partial = p.shares.iter().any(|(_, s)| *s < 1.0 - SPLIT_SHARE);
        if p.shares.len() >= 2 && partial && p.hosts.len() <= 1 {
            split += 1;
            problems.push(problem(ProblemKind::SplitBuilding, p.shares.iter().map(|s| s.0).collect(), format!("building {} is cut by a grid boundary: {}", b.id, shares_text())));
        }
        let home = p.hosts.first().copied().or_else(|| p.shares.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|s| s.0));
        if let Some(g) = home {
            load[g] += b.households;
            count[g] += 1;
        }
    }
    if config.min_households.is_some() || config.max_households.is_some() {
        let lo = config.min_households.unwrap_or(0.0);
        let hi = config.max_households.unwrap_or(f64::INFINITY);
        for (g, grid) in grids.grids.iter().enumerate() {
            if load[g] < lo - 1e-9 || load[g] > hi + 1e-9 {
                let bound = if load[g] < lo { format!("fewer than the minimum {}", text::count(lo)) } else { format!("more than the maximum {}", text::count(hi)) };
                problems.push(Problem {
                    kind: ProblemKind::HouseholdsOutOfBounds,
                    grid_ids: vec![grid.id.clone()],
                    area_m2: grid.shape.unsigned_area(),
                    message: format!("grid {} holds {} households in {} buildings, {bound}", grid.id, text::count(load[g]), count[g]),
                    building_id: None,
                    geometry: Some(grid.shape.clone().into()),
                });
            }
        }
    }
    let figures = json!({
        "buildings": buildings.len(),
        "households": buildings.iter().map(|b| b.households).sum::<f64>(),
        "unserved": unserved,
        "multi_claimed": claimed,
        "split": split,
        "households_per_grid": {"min": load.iter().copied().fold(f64::INFINITY, f64::min), "max": load.iter().copied().fold(0.0, f64::max)},
    });
    Ok(BuildingCheck { problems, figures, grid_loads: load.into_iter().zip(count).collect() })
}

/// Households of the buildings whose interior point lies in `area` (for repair decisions).
pub fn households_in(layer: &Layer, grids: &GridLayer, config: &AuditConfig) -> Result<Vec<(Coord<f64>, f64)>> {
    Ok(read_buildings(layer, grids, config)?.into_iter().map(|b| (b.point, b.households)).collect())
}
