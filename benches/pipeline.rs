//! Criterion benchmarks of the graph, partition and tessellation stages on synthetic cities of
//! 10k and 100k buildings (made once by `examples/synth_city.rs` into target/bench-data).
//!
//! Run: `cargo bench --bench pipeline` (add `-- 10000` to run only the 10k cities).

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use wangge::read::{read_inputs, Inputs};
use wangge::{distance, graph, model, partition, tessellate, PartitionConfig};

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

fn stages(c: &mut Criterion) {
    let config = PartitionConfig::default();
    for n in [10_000usize, 100_000] {
        let dir = city(n);
        let inputs = Inputs {
            buildings: dir.join("buildings.geojson"),
            territory: Some(dir.join("territory.geojson")),
            barriers: vec![dir.join("barriers.geojson")],
            ..Inputs::default()
        };
        let layers = read_inputs(&inputs, &model::input_columns(&config)).unwrap();
        let m = model::build_model(&layers, &config).unwrap();
        let mut group = c.benchmark_group(format!("{n}_buildings"));
        group.sample_size(10);
        group.bench_function("graph", |bch| bch.iter(|| graph::build(&m, &config).unwrap()));
        let graphed = graph::build(&m, &config).unwrap();
        let walks = distance::walks(&m, &graphed.graph, &config);
        group.bench_function("partition", |bch| bch.iter(|| partition::divide(&graphed.graph, &walks.metric, &m, &config, &|_| {}).unwrap()));
        let division = partition::divide(&graphed.graph, &walks.metric, &m, &config, &|_| {}).unwrap();
        group.bench_function("tessellate", |bch| bch.iter(|| tessellate::tile(&graphed.mesh, &graphed.cells, &division, &m, &config)));
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
