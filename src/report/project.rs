//! Traced polygons back in the input CRS: every vertex converted once (neighbouring grids share
//! theirs, so they stay identical), locked polygons' vertices back to their position as given.

use std::collections::HashMap;

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::crs::Projector;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tessellate::locked::LockedFit;

/// Converts polygons from working metres to the input CRS.
pub struct BackProjection<'a> {
    projector: Projector,
    fit: &'a LockedFit,
    cache: HashMap<(u64, u64), Coord<f64>>,
    layer: &'a str,
    crs: String,
}

impl<'a> BackProjection<'a> {
    /// The conversion for the model's input CRS; `layer` names the buildings in messages.
    pub fn new(model: &Model, layer: &'a str, fit: &'a LockedFit) -> Result<BackProjection<'a>> {
        Ok(BackProjection { projector: model.frame.projector(layer)?, fit, cache: HashMap::new(), layer, crs: model.frame.source.to_string() })
    }

    /// One vertex in the input CRS.
    pub fn vertex(&mut self, c: Coord<f64>) -> Result<Coord<f64>> {
        let key = (c.x.to_bits(), c.y.to_bits());
        if let Some(v) = self.cache.get(&key) {
            return Ok(*v);
        }
        // A locked polygon's vertex goes back to its position as given.
        let v = match self.fit.given(c) {
            Some(v) => v,
            None => {
                let v = self.projector.to_source(self.fit.inset(c)).map_err(|m| Error::Crs {
                    path: self.layer.to_string(),
                    crs: self.crs.clone(),
                    message: format!("cannot convert a grid vertex back: {m}"),
                })?;
                self.fit.to_given(c, v)
            }
        };
        self.cache.insert(key, v);
        Ok(v)
    }

    /// A ring in the input CRS.
    pub fn ring(&mut self, ring: &LineString<f64>) -> Result<LineString<f64>> {
        Ok(LineString(ring.0.iter().map(|&c| self.vertex(c)).collect::<Result<Vec<_>>>()?))
    }

    /// Polygons in the input CRS.
    pub fn polygons(&mut self, mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>> {
        let mut out = Vec::with_capacity(mp.0.len());
        for p in &mp.0 {
            let exterior = self.ring(p.exterior())?;
            let holes = p.interiors().iter().map(|h| self.ring(h)).collect::<Result<Vec<_>>>()?;
            out.push(Polygon::new(exterior, holes));
        }
        Ok(MultiPolygon(out))
    }
}
