//! Criterion benchmarks of the graph, partition and tessellation stages on synthetic cities of
//! 10k and 100k buildings (made once by `examples/synth_city.rs` into target/bench-data).
//!
//! Run: `cargo bench --bench pipeline` (add `-- 10000` to run only the 10k cities).

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use wangge::distance::Metric;
use wangge::graph::{build_cells, build_mesh, build_unit_graph};
use wangge::model::{build_model, building_columns, Model};
use wangge::partition::partition;
use wangge::read::read_layer;
use wangge::tessellate::{dissolve, grid_of_triangles};
use wangge::PartitionConfig;

/// Generates (once) and returns the directory of a synthetic city of `n` buildings.
fn city(n: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target").join("bench-data").join(format!("synth_{n}"));
    if !dir.join("buildings.geojson").exists() {
        let status = Command::new(env!("CARGO"))
            .args(["run", "--release", "--quiet", "--example", "synth_city", "--", "--buildings", &n.to_string(), "--seed", "1", "--out"])
            .arg(&dir)
            .current_dir(root)
            .status()
            .expect("run the synthetic city generator");
        assert!(status.success(), "generator failed");
    }
    dir
}

fn model(dir: &Path, config: &PartitionConfig) -> Model {
    let cols = building_columns(config);
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let b = read_layer(&dir.join("buildings.geojson"), &refs).unwrap();
    let t = read_layer(&dir.join("territory.geojson"), &[]).unwrap();
    let bar = read_layer(&dir.join("barriers.geojson"), &[]).unwrap();
    build_model(&b, Some(&t), &[bar], None, Default::default(), config).unwrap()
}

fn stages(c: &mut Criterion) {
    let config = PartitionConfig::default();
    for n in [10_000usize, 100_000] {
        let m = model(&city(n), &config);
        let label = |b: u32| b.to_string();
        let mut group = c.benchmark_group(format!("{n}_buildings"));
        group.sample_size(10);
        group.bench_function("graph", |bch| {
            bch.iter(|| {
                let mesh = build_mesh(&m.buildings, &m.territory, &m.barriers, &geo::MultiPolygon(Vec::new())).unwrap();
                let cells = build_cells(&mesh, m.buildings.len(), &label);
                build_unit_graph(&m, &mesh, &cells, config.graph.max_edge_m)
            })
        });
        let mesh = build_mesh(&m.buildings, &m.territory, &m.barriers, &geo::MultiPolygon(Vec::new())).unwrap();
        let cells = build_cells(&mesh, m.buildings.len(), &label);
        let graph = build_unit_graph(&m, &mesh, &cells, config.graph.max_edge_m);
        let name = |u: u32| u.to_string();
        let metric = Metric::Straight { detour: config.walking.detour_factor };
        group.bench_function("partition", |bch| bch.iter(|| partition(&graph, &metric, &config, &name).unwrap()));
        let plan = partition(&graph, &metric, &config, &name).unwrap();
        group.bench_function("tessellate", |bch| {
            bch.iter(|| {
                let tri = grid_of_triangles(&cells, &plan.grid_of_unit);
                dissolve(&mesh, &tri, plan.grids.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
