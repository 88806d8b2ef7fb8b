//! Grid workers: read from a CSV or GeoJSON file (or N identical ones), then matched to grids
//! (at most one grid per worker, each grid within its worker's capacity, near the worker's home
//! when locations are given) by an assignment model solved with good_lp + HiGHS.

use std::path::Path;

use geo::Coord;
use good_lp::{variable, Expression, ProblemVariables};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::{Deserialize, Serialize};

use crate::crs::{CrsSpec, WorkFrame};
use crate::config::PartitionConfig;
use crate::error::{Error, FeatureFault, Result};
use crate::geom::dist;
use crate::read::{read_layer, FeatureId};
use crate::solver::{self, SolveStatus, SolverOptions};

/// One grid worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worker {
    /// Worker id.
    pub id: String,
    /// Households the worker can serve.
    pub capacity: f64,
    /// Home or office (working metres), when known.
    #[serde(skip)]
    pub location: Option<Coord<f64>>,
    /// Kind (e.g. full-time, part-time), when given.
    pub kind: Option<String>,
}

/// The workers of a run: from a file, or `config.bounds.workers` identical ones of the worker
/// capacity (else the grid maximum); None without workers.
pub fn pool(path: Option<&Path>, config: &PartitionConfig, frame: &WorkFrame) -> Result<Option<Vec<Worker>>> {
    let b = &config.bounds;
    Ok(match (path, b.workers) {
        (Some(path), _) => Some(read_workers(path, frame)?),
        (None, Some(n)) => Some(identical(n, b.worker_capacity.unwrap_or(b.max_households))),
        (None, None) => None,
    })
}

/// The configuration capped by the workers: no more grids than workers, and no grid above the
/// largest capacity (nor below the minimum).
pub fn capped(config: &PartitionConfig, workers: Option<&[Worker]>) -> PartitionConfig {
    let mut c = config.clone();
    if let Some(ws) = workers {
        let biggest = ws.iter().map(|w| w.capacity).fold(0.0, f64::max);
        c.bounds.workers = Some(ws.len());
        c.bounds.worker_capacity = Some(c.bounds.worker_capacity.map_or(biggest, |x| x.min(biggest)).max(c.bounds.min_households));
    }
    c
}

/// `n` identical workers without location.
pub fn identical(n: usize, capacity: f64) -> Vec<Worker> {
    (1..=n).map(|i| Worker { id: format!("W{i}"), capacity, location: None, kind: None }).collect()
}

/// Reads workers from a CSV file (columns `id`, `capacity`, optional `kind`, optional location
/// as `x`,`y` in the buildings' CRS or `lon`,`lat`) or a GeoJSON file (Point features with
/// properties `id`, `capacity`, `kind`).
pub fn read_workers(path: &Path, frame: &WorkFrame) -> Result<Vec<Worker>> {
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let workers = match ext.as_str() {
        "csv" => read_csv(path, &name, frame)?,
        "geojson" | "json" => read_geojson(path, &name, frame)?,
        _ if !path.exists() => return Err(Error::layer(&name, "--workers is neither a number of workers nor an existing file (.csv or .geojson)")),
        other => return Err(Error::layer(&name, format!("workers file must be .csv or .geojson, not '.{other}'"))),
    };
    if workers.is_empty() {
        return Err(Error::layer(&name, "lists no worker"));
    }
    let mut ids: Vec<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::feature(&name, w[0], FeatureFault::DuplicateId { id: w[0].to_string(), first_row: 0 }));
    }
    Ok(workers)
}

fn capacity_of(text: &str, name: &str, row: &str) -> Result<f64> {
    let c: f64 = text.trim().parse().map_err(|_| {
        Error::feature(name, row, FeatureFault::NonNumeric { column: "capacity".into(), value: text.to_string() })
    })?;
    if !(c.is_finite() && c > 0.0) {
        return Err(Error::feature(name, row, FeatureFault::NegativeOrNonFinite { column: "capacity".into(), value: c }));
    }
    Ok(c)
}

fn read_csv(path: &Path, name: &str, frame: &WorkFrame) -> Result<Vec<Worker>> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(|e| Error::layer(name, e.to_string()))?;
    let headers: Vec<String> = reader.headers().map_err(|e| Error::layer(name, e.to_string()))?.iter().map(|h| h.to_ascii_lowercase()).collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let id_col = col("id");
    let cap_col = col("capacity").ok_or_else(|| Error::layer(name, format!("has no 'capacity' column (columns: {})", headers.join(", "))))?;
    let kind_col = col("kind");
    let (xy, ll) = ((col("x"), col("y")), (col("lon"), col("lat")));
    let proj_xy = if xy.0.is_some() && xy.1.is_some() { Some(frame.projector(name)?) } else { None };
    let proj_ll = if ll.0.is_some() && ll.1.is_some() { Some(frame.projector_from(&CrsSpec::Crs84, name)?) } else { None };
    let mut out = Vec::new();
    for (r, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::layer(name, e.to_string()))?;
        let id = id_col.and_then(|c| record.get(c)).filter(|s| !s.is_empty()).map(String::from).unwrap_or_else(|| format!("W{}", r + 1));
        let capacity = capacity_of(record.get(cap_col).unwrap_or(""), name, &id)?;
        let kind = kind_col.and_then(|c| record.get(c)).filter(|s| !s.is_empty()).map(String::from);
        let coords = |cols: (Option<usize>, Option<usize>)| -> Result<Option<Coord<f64>>> {
            let (Some(a), Some(b)) = cols else { return Ok(None) };
            let (sa, sb) = (record.get(a).unwrap_or(""), record.get(b).unwrap_or(""));
            if sa.is_empty() && sb.is_empty() {
                return Ok(None);
            }
            let (x, y) = (sa.parse::<f64>(), sb.parse::<f64>());
            match (x, y) {
                (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => Ok(Some(Coord { x, y })),
                _ => Err(Error::feature(name, &id, FeatureFault::NonFiniteCoordinate { x: f64::NAN, y: f64::NAN })),
            }
        };
        let location = match (coords(xy)?, coords(ll)?) {
            (Some(c), _) => Some(proj_xy.as_ref().expect("x,y columns").to_work(c).map_err(|m| Error::layer(name, m))?),
            (None, Some(c)) => Some(proj_ll.as_ref().expect("lon,lat columns").to_work(c).map_err(|m| Error::layer(name, m))?),
            _ => None,
        };
        out.push(Worker { id, capacity, location, kind });
    }
    Ok(out)
}

fn read_geojson(path: &Path, name: &str, frame: &WorkFrame) -> Result<Vec<Worker>> {
    let layer = read_layer(path, &["id", "capacity", "kind"])?;
    let spec = layer.crs.clone().unwrap_or(CrsSpec::Crs84);
    let proj = frame.projector_from(&spec, name)?;
    let mut out = Vec::new();
    for f in &layer.features {
        let label = f.label();
        let id = match (&f.attributes[0], &f.id) {
            (Some(v), _) => FeatureId::from_json(v).map(|i| i.to_string()).unwrap_or(label.clone()),
            (None, Some(i)) => i.to_string(),
            (None, None) => format!("W{}", f.row + 1),
        };
        let capacity = match &f.attributes[1] {
            Some(serde_json::Value::Number(n)) => capacity_of(&n.to_string(), name, &id)?,
            Some(serde_json::Value::String(s)) => capacity_of(s, name, &id)?,
            _ => return Err(Error::feature(name, &id, FeatureFault::MissingColumn { column: "capacity".into(), available: layer.columns.join(", ") })),
        };
        let kind = f.attributes[2].as_ref().and_then(|v| v.as_str()).map(String::from);
        let location = match &f.geometry {
            Some(geo::Geometry::Point(p)) => Some(proj.to_work(p.0).map_err(|m| Error::layer(name, m))?),
            None => None,
            Some(_) => {
                return Err(Error::feature(name, &id, FeatureFault::WrongGeometryType { found: "non-point".into(), expected: "Point".into() }))
            }
        };
        out.push(Worker { id, capacity, location, kind });
    }
    Ok(out)
}

/// The matching of workers to grids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Staffing {
    /// Worker index of each grid (None: no worker).
    #[serde(skip)]
    pub worker_of_grid: Vec<Option<usize>>,
    /// Workers available.
    pub available: usize,
    /// Grids given a worker.
    pub assigned: usize,
    /// Ids of workers left without a grid.
    pub unassigned_workers: Vec<String>,
    /// Grid indices left without a worker.
    #[serde(skip)]
    pub grids_without_worker: Vec<usize>,
    /// Workers still needed (one per grid without a worker), with the capacity each needs.
    pub additional_workers_needed: usize,
    /// Largest household count among the grids without a worker.
    pub largest_unstaffed_grid: Option<f64>,
    /// Total distance (m) from workers' homes to their grids' centres, where known.
    pub home_distance_m: f64,
    /// How the matching was found.
    pub method: String,
}

/// Candidate workers per grid when workers have locations.
const NEAREST_WORKERS: usize = 40;

/// Matches workers to grids (`households[g]`, centre `centres[g]`): as many grids as possible
/// get a worker whose capacity holds them; among such matchings, the one with the shortest
/// home-to-centre distances (when locations are known).
pub fn staff(workers: &[Worker], households: &[f64], centres: &[Coord<f64>], options: &SolverOptions) -> Result<Staffing> {
    let k = households.len();
    let located = workers.iter().any(|w| w.location.is_some());
    let (worker_of_grid, method) = if !located {
        (best_fit(workers, households), "best fit by capacity (no locations)".to_string())
    } else {
        (matched(workers, households, centres, options)?, "assignment model (good_lp + HiGHS): most grids staffed, then shortest home distances".to_string())
    };
    let mut used = vec![false; workers.len()];
    let mut home = 0.0;
    for (g, w) in worker_of_grid.iter().enumerate() {
        if let Some(w) = *w {
            used[w] = true;
            if let Some(l) = workers[w].location {
                home += dist(l, centres[g]);
            }
        }
    }
    let grids_without_worker: Vec<usize> = (0..k).filter(|&g| worker_of_grid[g].is_none()).collect();
    Ok(Staffing {
        available: workers.len(),
        assigned: k - grids_without_worker.len(),
        unassigned_workers: workers.iter().zip(&used).filter(|(_, &u)| !u).map(|(w, _)| w.id.clone()).collect(),
        additional_workers_needed: grids_without_worker.len(),
        largest_unstaffed_grid: grids_without_worker.iter().map(|&g| households[g]).fold(None, |a, h| Some(a.map_or(h, |x: f64| x.max(h)))),
        grids_without_worker,
        worker_of_grid,
        home_distance_m: home,
        method,
    })
}

/// Without locations: the heaviest grid first takes the smallest worker that can hold it
/// (this staffs as many grids as possible).
fn best_fit(workers: &[Worker], households: &[f64]) -> Vec<Option<usize>> {
    let mut free: Vec<usize> = (0..workers.len()).collect();
    free.sort_by(|&a, &b| workers[a].capacity.total_cmp(&workers[b].capacity).then(a.cmp(&b)));
    let mut order: Vec<usize> = (0..households.len()).collect();
    order.sort_by(|&a, &b| households[b].total_cmp(&households[a]).then(a.cmp(&b)));
    let mut out = vec![None; households.len()];
    for g in order {
        if let Some(pos) = free.iter().position(|&w| workers[w].capacity >= households[g] - 1e-9) {
            out[g] = Some(free.remove(pos));
        }
    }
    out
}

/// With locations: an assignment model over each grid's nearest workers that can hold it (and
/// every worker able to hold it when too few are near).
fn matched(workers: &[Worker], households: &[f64], centres: &[Coord<f64>], options: &SolverOptions) -> Result<Vec<Option<usize>>> {
    let k = households.len();
    let far = 1e7;
    let pos = |w: &Worker, g: usize| w.location.unwrap_or(centres[g]);
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        workers.iter().enumerate().filter_map(|(i, w)| w.location.map(|l| GeomWithData::new([l.x, l.y], i))).collect(),
    );
    let unlocated: Vec<usize> = (0..workers.len()).filter(|&i| workers[i].location.is_none()).collect();
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for g in 0..k {
        let fits = |w: usize| workers[w].capacity >= households[g] - 1e-9;
        let mut cands: Vec<usize> = tree.nearest_neighbor_iter(&[centres[g].x, centres[g].y]).map(|x| x.data).filter(|&w| fits(w)).take(NEAREST_WORKERS).collect();
        cands.extend(unlocated.iter().copied().filter(|&w| fits(w)));
        for w in cands {
            pairs.push((g, w, if workers[w].location.is_some() { dist(pos(&workers[w], g), centres[g]) } else { far / 10.0 }));
        }
    }
    let mut vars = ProblemVariables::new();
    let z: Vec<good_lp::Variable> = pairs.iter().map(|_| vars.add(variable().binary())).collect();
    // Each staffed grid is worth more than any distance.
    let reward = far * 10.0;
    let mut objective = Expression::default();
    let mut per_grid = vec![Expression::default(); k];
    let mut per_worker = vec![Expression::default(); workers.len()];
    for (p, &(g, w, d)) in pairs.iter().enumerate() {
        objective.add_mul(d - reward, z[p]);
        per_grid[g].add_mul(1.0, z[p]);
        per_worker[w].add_mul(1.0, z[p]);
    }
    let mut rows = Vec::new();
    for e in per_grid.into_iter().chain(per_worker) {
        rows.push(e.leq(1.0));
    }
    let solved = solver::solve(vars, objective, rows, None, options)?;
    if solved.status == SolveStatus::NoSolution || solved.values.is_empty() {
        return Ok(best_fit(workers, households));
    }
    let mut out = vec![None; k];
    for (p, &(g, w, _)) in pairs.iter().enumerate() {
        if solved.values[p] > 0.5 {
            out[g] = Some(w);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_fit_staffs_as_many_as_possible() {
        let workers = vec![
            Worker { id: "a".into(), capacity: 500.0, location: None, kind: None },
            Worker { id: "b".into(), capacity: 300.0, location: None, kind: Some("part-time".into()) },
        ];
        let s = staff(&workers, &[450.0, 280.0, 200.0], &[Coord::zero(); 3], &SolverOptions::default()).unwrap();
        assert_eq!(s.worker_of_grid, vec![Some(0), Some(1), None]);
        assert_eq!(s.additional_workers_needed, 1);
        assert_eq!(s.largest_unstaffed_grid, Some(200.0));
        assert!(s.unassigned_workers.is_empty());
    }

    #[test]
    fn located_workers_go_near_home() {
        let w = |id: &str, x: f64| Worker { id: id.into(), capacity: 500.0, location: Some(Coord { x, y: 0.0 }), kind: None };
        let workers = vec![w("east", 1000.0), w("west", 0.0), w("spare", 5000.0)];
        let centres = [Coord { x: 10.0, y: 0.0 }, Coord { x: 990.0, y: 0.0 }];
        let s = staff(&workers, &[400.0, 400.0], &centres, &SolverOptions::default()).unwrap();
        assert_eq!(s.worker_of_grid, vec![Some(1), Some(0)]);
        assert_eq!(s.unassigned_workers, vec!["spare".to_string()]);
        assert!((s.home_distance_m - 20.0).abs() < 1e-6);
    }
}
