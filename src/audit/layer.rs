//! Reads a grid layer into valid shapes in working metres, with one id per grid, reporting
//! every invalid geometry on the way (see [`super::validity`]).

use geo::{BoundingRect, MultiPolygon, Rect};
use rayon::prelude::*;
use serde_json::Value;

use super::validity::{self, Checked};
use super::{AuditConfig, Problem};
use crate::crs::PROJ_JOB_LEN;
use crate::crs::{self, CrsSpec, Projector, WorkFrame};
use crate::error::{Error, Result};
use crate::read::Layer;

/// One grid of the layer.
#[derive(Debug, Clone)]
pub struct GridShape {
    /// Position of the feature in the file.
    pub row: usize,
    /// The grid's id (from the id column, the feature id or the row number).
    pub id: Value,
    /// Valid shape in working metres (empty when the geometry had no usable area).
    pub shape: MultiPolygon<f64>,
    /// True when the geometry had to be made valid.
    pub made_valid: bool,
    /// Bounding box of `shape`.
    pub bbox: Option<Rect<f64>>,
}

/// A grid layer ready for the audit.
#[derive(Debug)]
pub struct GridLayer {
    /// File name, for messages.
    pub name: String,
    /// Working frame (metres) and the input CRS.
    pub frame: WorkFrame,
    /// Grids in file order.
    pub grids: Vec<GridShape>,
    /// The layer as read (kept to write the repaired layer).
    pub layer: Layer,
}

/// Columns to read from a grid layer.
pub fn grid_columns(config: &AuditConfig) -> Vec<String> {
    vec![config.id.clone().unwrap_or_else(|| "grid_id".into())]
}

/// Builds the working frame of a layer: its CRS (or the override), metres.
pub fn frame_of(layer: &Layer, config: &AuditConfig) -> Result<WorkFrame> {
    let source = config.crs.as_deref().map(CrsSpec::parse).or_else(|| layer.crs.clone()).unwrap_or(CrsSpec::Crs84);
    let kind = crs::classify(&source, &layer.name)?;
    let bounds = layer.bounds().ok_or_else(|| Error::layer(&layer.name, "no feature has a geometry"))?;
    crs::check_plausible(&kind, &source, bounds, &layer.name)?;
    WorkFrame::native(source, &kind, bounds, &layer.name)
}

/// A projector from another layer into the frame (the override CRS applies to every layer).
pub fn projector_for(layer: &Layer, frame: &WorkFrame, config: &AuditConfig) -> Result<Projector> {
    if config.crs.is_some() {
        return frame.projector(&layer.name);
    }
    frame.projector_from(layer.crs.as_ref().unwrap_or(&CrsSpec::Crs84), &layer.name)
}

/// Reads the grids: ids, validity problems, valid shapes.
pub fn load_grids(layer: Layer, config: &AuditConfig) -> Result<(GridLayer, Vec<Problem>)> {
    if layer.features.is_empty() {
        return Err(Error::layer(&layer.name, "has no features"));
    }
    let frame = frame_of(&layer, config)?;
    let id_col = config.id.clone().unwrap_or_else(|| "grid_id".into());
    if config.id.is_some() && !layer.has_column(&id_col) {
        return Err(Error::layer(&layer.name, format!("has no '{id_col}' column (columns: {})", layer.columns.join(", "))));
    }
    let col = layer.column_index(&id_col);
    let ids: Vec<Value> = layer
        .features
        .iter()
        .map(|f| match (col.and_then(|c| f.attributes[c].clone()), &f.id) {
            (Some(v), _) if !v.is_null() => v,
            (_, Some(id)) => id.to_json(),
            _ => Value::from(f.row + 1),
        })
        .collect();
    let name = layer.name.clone();
    let raw = |row: usize| -> Option<&str> {
        let src = layer.source_text.as_ref()?;
        src.spans[row].geometry.as_ref().map(|r| &src.text[r.clone()])
    };
    let checked: Vec<Result<Checked>> = layer
        .features
        .par_iter()
        // Few, long jobs: each makes its own PROJ object, which is costly to create.
        .with_min_len(PROJ_JOB_LEN)
        .map_init(
            || frame.projector(&name),
            |proj, f| {
                let proj = proj.as_ref().map_err(|e| Error::layer(&name, e.to_string()))?;
                Ok(validity::check_feature(f.geometry.as_ref(), raw(f.row), proj, &ids[f.row]))
            },
        )
        .collect();
    let mut grids = Vec::with_capacity(layer.features.len());
    let mut problems = Vec::new();
    for (f, c) in layer.features.iter().zip(checked) {
        let c = c?;
        problems.extend(c.problems);
        let bbox = c.shape.bounding_rect();
        grids.push(GridShape { row: f.row, id: ids[f.row].clone(), shape: c.shape, made_valid: c.made_valid, bbox });
    }
    Ok((GridLayer { name, frame, grids, layer }, problems))
}

/// The polygons of water layers (rivers, lakes; lines and points are skipped) in working
/// metres: areas the grids may leave out.
pub fn water_shape(layers: &[&Layer], frame: &WorkFrame, config: &AuditConfig) -> Result<MultiPolygon<f64>> {
    let mut parts = Vec::new();
    for layer in layers {
        let proj = projector_for(layer, frame, config)?;
        for f in &layer.features {
            let polygonal = matches!(f.geometry, Some(geo::Geometry::Polygon(_)) | Some(geo::Geometry::MultiPolygon(_)));
            if polygonal {
                parts.extend(validity::check_feature(f.geometry.as_ref(), None, &proj, &Value::from(f.row + 1)).shape.0);
            }
        }
    }
    Ok(geo::unary_union(parts.iter()))
}

/// The territory as one valid shape in working metres; its own invalid geometries are an error.
pub fn territory_shape(layer: &Layer, frame: &WorkFrame, config: &AuditConfig) -> Result<MultiPolygon<f64>> {
    let proj = projector_for(layer, frame, config)?;
    let mut parts = Vec::new();
    for f in &layer.features {
        let c = validity::check_feature(f.geometry.as_ref(), None, &proj, &Value::from(f.row + 1));
        if let Some(p) = c.problems.iter().find(|p| c.shape.0.is_empty() && !p.message.is_empty()) {
            return Err(Error::layer(&layer.name, format!("territory feature {}: {}", f.label(), p.message)));
        }
        parts.extend(c.shape.0);
    }
    if parts.is_empty() {
        return Err(Error::layer(&layer.name, "territory has no polygon"));
    }
    Ok(geo::unary_union(parts.iter()))
}
