//! Write stage: buildings.geojson (every input feature with its properties and `grid_id`),
//! grids.geojson and summary.json. Files are written to temporary names and renamed together
//! at the end, so a failed run leaves no half-written file and replaces nothing.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use geo::{LineString, MultiPolygon};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::pipeline::Partitioned;
use crate::read::Layer;

/// An output directory checked for overwriting, with files staged under temporary names.
pub struct OutputDir {
    dir: PathBuf,
    staged: Vec<(PathBuf, PathBuf)>,
}

impl OutputDir {
    /// Creates `dir` if needed; refuses a non-empty directory unless `overwrite`.
    pub fn prepare(dir: &Path, overwrite: bool) -> Result<OutputDir> {
        if dir.exists() {
            if !dir.is_dir() {
                return Err(Error::io(dir, "create output directory", std::io::Error::other("exists and is not a directory")));
            }
            let non_empty = fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))?.next().is_some();
            if non_empty && !overwrite {
                return Err(Error::OutputNotEmpty { path: dir.to_path_buf() });
            }
        } else {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create output directory", e))?;
        }
        Ok(OutputDir { dir: dir.to_path_buf(), staged: Vec::new() })
    }

    /// Writes `name` under a temporary name with `fill`; it appears under its name on commit.
    pub fn stage(&mut self, name: &str, fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
        let final_path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = (|| {
            let file = File::create(&tmp)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            fill(&mut w)?;
            w.flush()?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(final_path, "write", e));
        }
        self.staged.push((tmp, final_path));
        Ok(())
    }

    /// Renames every staged file to its final name.
    pub fn commit(mut self) -> Result<()> {
        for (tmp, path) in std::mem::take(&mut self.staged) {
            fs::rename(&tmp, &path).map_err(|e| Error::io(&path, "rename", e))?;
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Writes the three output files of a partition run.
pub fn write_partition(dir: &Path, overwrite: bool, result: &Partitioned, buildings: &Layer) -> Result<()> {
    let mut out = OutputDir::prepare(dir, overwrite)?;
    let crs_member = result.model.frame.source.geojson_member();
    out.stage("buildings.geojson", |w| write_buildings(w, result, buildings, crs_member.as_ref()))?;
    out.stage("grids.geojson", |w| write_grids(w, result, crs_member.as_ref()))?;
    out.stage("summary.json", |w| {
        serde_json::to_writer_pretty(&mut *w, &result.summary)?;
        w.write_all(b"\n")
    })?;
    out.commit()
}

fn header(w: &mut impl Write, name: &str, crs: Option<&Value>) -> std::io::Result<()> {
    write!(w, "{{\"type\":\"FeatureCollection\",\"name\":{}", Value::from(name))?;
    if let Some(c) = crs {
        write!(w, ",\"crs\":{c}")?;
    }
    w.write_all(b",\"features\":[\n")
}

fn write_buildings(w: &mut impl Write, result: &Partitioned, layer: &Layer, crs: Option<&Value>) -> std::io::Result<()> {
    header(w, "buildings", crs)?;
    for (i, f) in layer.features.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let grid_id = result.grids[result.building_grid[i] as usize].id;
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
                        map.insert("grid_id".into(), Value::from(grid_id));
                        serde_json::to_writer(&mut *w, &map)?;
                    }
                    None => {
                        let mut map: serde_json::Map<String, Value> = extra.into_iter().collect();
                        map.insert("grid_id".into(), Value::from(grid_id));
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
                props.insert("grid_id".into(), Value::from(grid_id));
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

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The properties of grid `i` as written in grids.geojson.
pub fn grid_properties(result: &Partitioned, i: usize) -> Value {
    let mut v = plain_grid_properties(result, i);
    if let Some(code) = result.grid_code(result.grids[i].id) {
        v["grid_code"] = Value::from(code);
    }
    if !result.micro_grids.is_empty() {
        v["micro_grids"] = Value::from(result.micro_grids.iter().filter(|m| m.grid_id == result.grids[i].id).count());
    }
    v
}

fn plain_grid_properties(result: &Partitioned, i: usize) -> Value {
    let g = &result.grids[i];
    let kinds: Vec<&str> = result.violations.iter().filter(|v| v.grid_id == g.id).map(|v| v.kind.as_str()).collect();
    serde_json::json!({
        "grid_id": g.id,
        "households": g.households,
        "population": g.population,
        "buildings": g.buildings,
        "area_m2": round(g.area_m2, 2),
        "mean_walk_m": round(g.mean_walk_m, 2),
        "max_walk_m": round(g.max_walk_m, 2),
        "center_id": g.center_id.to_json(),
        "violations": kinds,
        "worker_id": g.worker.as_ref().map(|w| w.0.clone()),
        "worker_kind": g.worker.as_ref().and_then(|w| w.1.clone()),
    })
}

fn write_grids(w: &mut impl Write, result: &Partitioned, crs: Option<&Value>) -> std::io::Result<()> {
    header(w, "grids", crs)?;
    for (i, g) in result.grids.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let props = grid_properties(result, i);
        write!(w, "{{\"type\":\"Feature\",\"id\":{},\"properties\":{props},\"geometry\":", g.id)?;
        if g.polygon.0.is_empty() {
            w.write_all(b"null")?;
        } else {
            write_multipolygon(w, &g.polygon)?;
        }
        w.write_all(b"}")?;
    }
    w.write_all(b"\n]}\n")
}
